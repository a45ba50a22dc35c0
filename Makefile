# tinyreptile_ref - `make help` lists the targets.
#
# Every C build obeys the numerics contract: -std=c99 -ffp-contract=off, warnings as errors,
# never the fast-math, reassociating or host-tuned (native arch) options.

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
.PHONY: help venv build test test-py test-c bench demo clean
.PHONY: vectors vectors-check vectors-test mcu-test mcu-vectors size

include mk/mcu.mk
include mk/cmake.mk
include mk/arduino.mk
include mk/tflite.mk

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

# The virtual environment is created, and the package installed with its test extras, when
# missing or when setup.py or the C sources changed since the last install.
$(VENV)/.installed: setup.py pyproject.toml $(LIB_SRCS) $(LIB_HDRS) tinyreptile_ref/backend/_build.py
	$(Q)test -x $(PY) || $(PYTHON) -m venv $(VENV) || { \
	  echo "error: '$(PYTHON) -m venv' failed; on Debian: apt-get install -y python3-venv"; exit 1; }
	$(Q)$(PY) -m pip install -q --upgrade pip setuptools wheel cffi
	$(Q)$(PY) -m pip install -q -e '.[test]'
	$(Q)touch $@

venv: $(VENV)/.installed ## Create the virtual environment and install the package

build: $(VENV)/.installed ## Build the C extension (into the virtual environment's editable install)

test: test-c vectors-test test-py mcu-test cmake-test arduino-test pio-test fuzz-test flags-test dist-test rig-test simd-test flower-test ## Run every test: C checks, vectors on the host, fuzzing, pytest, MCUs under QEMU, the packages (README: targets)

test-py: $(VENV)/.installed
	$(Q)$(PY) -m pytest -q tests

# The kernels under AddressSanitizer and UndefinedBehaviorSanitizer, driven by a C program.
$(BUILD)/host/kernel_check_asan: tests/c/kernel_check.c $(LIB_SRCS) $(LIB_HDRS)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(SAN_CFLAGS) -Icsrc tests/c/kernel_check.c $(LIB_SRCS) -o $@

test-c: $(BUILD)/host/kernel_check_asan ## Run the C kernel checks under ASan + UBSan
	$(Q)ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $<

# ---- golden vectors ----------------------------------------------------------------------
# vectors/ holds the cases (manifest.json + raw blobs), computed by the NumPy twins. The C
# runner (tests/runner/) replays them through the kernels two ways: reading the files, and
# from a generated C source with the blobs as const arrays (the way MCU images carry them).
# VEC_PY runs the generator/embedder; VEC_PY=python3 VEC_PY_DEP= skips the virtual environment.
VECTORS_DIR  ?= vectors
VEC_PY       ?= $(PY)
VEC_PY_DEP   ?= $(VENV)/.installed
RUNNER_CORE  := tests/runner/tv_core.c tests/runner/tv_sha256.c tests/runner/tv_handlers.c
RUNNER_HDRS  := $(wildcard tests/runner/*.h)
RUNNER_FILES := $(RUNNER_CORE) tests/runner/tv_files.c tests/runner/tv_main_files.c
RUNNER_EMBED := $(RUNNER_CORE) tests/runner/tv_main_embedded.c $(BUILD)/vectors/tv_embedded.c
RUNNER_DEPS  := $(LIB_SRCS) $(LIB_HDRS) $(RUNNER_HDRS)
VEC_SRCS     := $(wildcard tinyreptile_ref/vectors/*.py tinyreptile_ref/vectors/cases/*.py)

vectors: $(VEC_PY_DEP) ## Regenerate vectors/ from the NumPy twins (deterministic)
	$(Q)$(VEC_PY) -m tinyreptile_ref.vectors generate --out $(VECTORS_DIR)

vectors-check: $(VEC_PY_DEP) ## Validate vectors/: schema, files, sha256
	$(Q)$(VEC_PY) -m tinyreptile_ref.vectors check $(VECTORS_DIR)

$(BUILD)/vectors/tv_embedded.c: $(VECTORS_DIR)/manifest.json $(VEC_SRCS) $(VEC_PY_DEP)
	$(Q)$(VEC_PY) -m tinyreptile_ref.vectors embed $(VECTORS_DIR) --out $@ >/dev/null

$(BUILD)/host/tv_runner_files: $(RUNNER_FILES) $(RUNNER_DEPS)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) -Icsrc -Itests/runner $(RUNNER_FILES) $(LIB_SRCS) -o $@

$(BUILD)/host/tv_runner_files_asan: $(RUNNER_FILES) $(RUNNER_DEPS)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(SAN_CFLAGS) -Icsrc -Itests/runner $(RUNNER_FILES) $(LIB_SRCS) -o $@

$(BUILD)/host/tv_runner_embedded: $(RUNNER_EMBED) $(RUNNER_DEPS)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) -Icsrc -Itests/runner $(RUNNER_EMBED) $(LIB_SRCS) -o $@

RUN_SAN := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

vectors-test: $(BUILD)/host/tv_runner_files $(BUILD)/host/tv_runner_files_asan $(BUILD)/host/tv_runner_embedded ## Run every vector on the host: from files (also under ASan+UBSan) and embedded
	@echo "== host, vectors read from files"
	$(Q)$(BUILD)/host/tv_runner_files $(VECTORS_DIR)/manifest.json
	@echo "== host, vectors read from files, ASan + UBSan"
	$(Q)$(RUN_SAN) $(BUILD)/host/tv_runner_files_asan $(VECTORS_DIR)/manifest.json
	@echo "== host, vectors embedded as const arrays"
	$(Q)$(BUILD)/host/tv_runner_embedded

# Every vector on every board of mk/boards.mk under QEMU: embedded in the image, and read from
# vectors/ through semihosting (QEMU runs in the repository root). Built by mk/mcu.mk's
# mcu_program with the boards' flags; run-qemu.sh fails on a non-zero status, a fault or a
# timeout. MCU_VEC_BOARDS=m4f runs one board.
MCU_CPPFLAGS += -Itests/runner
MCU_VEC_BOARDS ?= $(MCU_BOARDS)
$(call mcu_program,tv_runner_embedded,$(RUNNER_CORE) tests/runner/tv_main_embedded.c $(BUILD)/vectors/tv_embedded.c $(MCU_KERNEL_SRCS),$(MCU_BOARDS))
$(call mcu_program,tv_runner_files,$(RUNNER_FILES) $(MCU_KERNEL_SRCS),$(MCU_BOARDS))
MCU_VEC_ELFS := $(foreach t,$(MCU_VEC_BOARDS),$(MCU_BUILD)/$(t)/tv_runner_embedded.elf $(MCU_BUILD)/$(t)/tv_runner_files.elf)

mcu-test: mcu-toolchain ## Every vector on every board of mk/boards.mk under QEMU (embedded and semihosted), the no-FMA check, the port self-test (exit status, crash, hang, FPU environment), the TinyReptile firmware
	$(Q)$(MAKE) --no-print-directory mcu-selftest mcu-vectors device-test

mcu-vectors: $(MCU_VEC_ELFS) mcu-check-fma
	@echo "== no fused multiply-add in any object of a hard-float board (mcu/tools/check-no-fma.sh): $(MCU_HARDFLOAT_BOARDS)"
	$(Q)for t in $(MCU_VEC_BOARDS); do \
	  for mode in embedded files; do \
	    echo "== $$t, vectors $$mode"; \
	    s=$$(date +%s); \
	    out=$$(mcu/tools/run-qemu.sh $$t $(MCU_BUILD)/$$t/tv_runner_$$mode.elf $(MCU_TIMEOUT) 2>&1); rc=$$?; \
	    if [ $$rc -ne 0 ]; then printf '%s\n' "$$out"; echo "FAIL: $$t vectors $$mode (exit $$rc)"; exit 1; fi; \
	    echo "   $$(printf '%s\n' "$$out" | tail -n 1) ($$(( $$(date +%s) - s )) s)"; \
	  done; \
	done

# The TinyReptile firmware variants and the measured device memory (device-test, device-size).
include mk/device.mk
# Devices in the loop: the device client as host process and firmware, its fuzzer, the rig.
include mk/device_rig.mk
include mk/flower.mk

# libFuzzer on the vector runner (fuzz, fuzz-test).
include mk/fuzz.mk

# The no-FMA check covers every object of the hard-float boards that run (MCU_VEC_BOARDS).
mcu-check-fma: $(sort $(foreach b,$(filter $(MCU_VEC_BOARDS),$(MCU_HARDFLOAT_BOARDS)),$(MCU_OBJS_$(b))))

# The numerics contract under the user's own flags (csrc/tr_contract.h).
include mk/flags.mk

# The Python distributions: sdist and wheel (make dist, dist-test).
include mk/package.mk

# The traced device round and the planted wrong builds for xcheck (tests/test_xcheck.py).
include mk/xcheck.mk

# Speed: the SIMD paths against the scalar reference (simd-test), make bench.
include mk/perf.mk

# Flash and worst-case stack per kernel on Cortex-M4F at -Os and -O2 (markdown table).
size: mcu-toolchain ## Flash and worst-case stack of each kernel on Cortex-M4F (-Os, -O2), then the measured device memory of TinyReptile and Reptile
	$(Q)$(PYTHON) mcu/tools/size.py --cc $(MCU_CC) --out $(BUILD)/size --markdown $(BUILD)/size/size.md
	$(Q)echo
	$(Q)$(MAKE) --no-print-directory device-size

bench: $(VENV)/.installed ## Time the C kernels against their NumPy twins, and whole TinyReptile rounds on both backends
	$(Q)$(PY) -m tinyreptile_ref.tools.bench

# The demo's extras (scikit-learn, matplotlib, tqdm) on top of the installed package.
$(VENV)/.installed-demo: $(VENV)/.installed
	$(Q)$(PY) -m pip install -q -e '.[test,demo]'
	$(Q)touch $@

DEMO_OUT ?= out/demo

demo: $(VENV)/.installed-demo ## The main job: TinyReptile, Reptile, FedAvg on sine (C backend); table, JSON, PNG in out/demo
	$(Q)$(PY) -m tinyreptile_ref demo --out $(DEMO_OUT)

clean: ## Remove build products (keeps the virtual environment)
	$(Q)rm -rf $(BUILD) tinyreptile_ref/backend/_tinyreptile_c.* *.egg-info
