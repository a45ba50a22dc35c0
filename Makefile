# tinyreptile_ref - `make help` lists the targets.
#
# Every C build obeys the numerics contract: -std=c99 -ffp-contract=off, warnings as errors,
# never -ffast-math, -Ofast or -march=native.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
CC     ?= cc
BUILD  ?= build

WARN          := -Wall -Wextra -Wpedantic -Wmissing-prototypes -Werror
CONTRACT      := -std=c99 -ffp-contract=off
HOST_CFLAGS   := $(CONTRACT) $(WARN) -O2
SAN_CFLAGS    := $(CONTRACT) $(WARN) -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LIB_SRCS      := $(sort $(wildcard csrc/*.c))
LIB_HDRS      := $(wildcard csrc/*.h)

ifeq ($(V),1)
Q :=
else
Q := @
endif

.DEFAULT_GOAL := help
.PHONY: help venv build test test-py test-c test-mcu bench demo clean

include mk/mcu.mk

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

# The virtual environment is created, and the package installed with its test extras, when
# missing or when setup.py or the C sources changed since the last install.
$(VENV)/.installed: setup.py $(LIB_SRCS) $(LIB_HDRS) tinyreptile_ref/_build.py
	$(Q)test -x $(PY) || $(PYTHON) -m venv $(VENV) || { \
	  echo "error: '$(PYTHON) -m venv' failed; on Debian: apt-get install -y python3-venv"; exit 1; }
	$(Q)$(PY) -m pip install -q --upgrade pip setuptools wheel cffi
	$(Q)$(PY) -m pip install -q -e '.[test]'
	$(Q)touch $@

venv: $(VENV)/.installed ## Create the virtual environment and install the package

build: $(VENV)/.installed ## Build the C extension (into the virtual environment's editable install)

test: test-c test-py test-mcu ## Run every test: C sanitizer checks, Python tests, MCU builds under QEMU

test-py: $(VENV)/.installed
	$(Q)$(PY) -m pytest -q tests

# The kernels under AddressSanitizer and UndefinedBehaviorSanitizer, driven by a C program.
$(BUILD)/host/kernel_check_asan: tests/c/kernel_check.c $(LIB_SRCS) $(LIB_HDRS)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(SAN_CFLAGS) -Icsrc tests/c/kernel_check.c $(LIB_SRCS) -o $@

test-c: $(BUILD)/host/kernel_check_asan ## Run the C kernel checks under ASan + UBSan
	$(Q)ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $<

# The MCU targets: toolchain (installed when missing), exit-status/crash/hang/no-FMA self-test.
test-mcu: mcu-toolchain ## MCU self-test under QEMU (Cortex-M4F and Cortex-M3)
	$(Q)$(MAKE) --no-print-directory mcu-selftest

bench: $(VENV)/.installed ## Time the C kernels against their NumPy twins
	$(Q)$(PY) -m tinyreptile_ref.bench

# The demo's extras (scikit-learn, matplotlib, tqdm) on top of the installed package.
$(VENV)/.installed-demo: $(VENV)/.installed
	$(Q)$(PY) -m pip install -q -e '.[test,demo]'
	$(Q)touch $@

DEMO_OUT ?= out/demo

demo: $(VENV)/.installed-demo ## The main job: TinyReptile, Reptile, FedAvg on sine (C backend); table, JSON, PNG in out/demo
	$(Q)$(PY) -m tinyreptile_ref demo --out $(DEMO_OUT)

clean: ## Remove build products (keeps the virtual environment)
	$(Q)rm -rf $(BUILD) tinyreptile_ref/_tinyreptile_c.* *.egg-info
