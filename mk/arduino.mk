# mk/arduino.mk - the PlatformIO and Arduino libraries, checked offline.
#
#   make arduino-test  assemble the Arduino library (arduino/make_library.py) and compile it with
#                      its example sketch by Debian's arduino-builder for the Uno (arduino-core-avr),
#                      with every warning on; a warning in the library's sources fails
#                      then runs the sketch on an emulated Uno (qemu-system-avr) and compares the
#                      losses it prints with the NumPy twin's, bit for bit
#   make pio-test      pio pkg pack (PlatformIO from PyPI into the virtual environment) and check
#                      that the tarball holds every csrc/ source and the version of the package
#
# Debian's arduino-core-avr 1.8.7 with gcc-avr 5.4 does not compile its own WString.cpp:
# GCC 5's <float.h> defines DECIMAL_DIG for C99 only, not for C++11 (GCC 6 does). The one flag
# ARDUINO_WORKAROUND defines it for C++ as the compiler's own __DECIMAL_DIG__.

ARDUINO_BUILDER  ?= arduino-builder
ARDUINO_HARDWARE ?= /usr/share/arduino/hardware
ARDUINO_FQBN     ?= arduino:avr:uno
ARDUINO_APT      := arduino-builder arduino-core-avr qemu-system-misc
QEMU_AVR         ?= qemu-system-avr
ARDUINO_BUILD    := $(BUILD)/arduino
ARDUINO_WORKAROUND := -prefs=compiler.cpp.extra_flags=-DDECIMAL_DIG=__DECIMAL_DIG__
ARDUINO_SKETCH   := TinyReptileAdapt
PIO_BUILD        := $(BUILD)/pio

.PHONY: arduino-toolchain arduino-test pio-test

arduino-toolchain:
	$(Q)if command -v $(ARDUINO_BUILDER) >/dev/null 2>&1 && [ -f $(ARDUINO_HARDWARE)/arduino/avr/platform.txt ] \
	  && command -v $(QEMU_AVR) >/dev/null 2>&1; then \
	  echo "arduino-toolchain: OK: $(ARDUINO_BUILDER), $(ARDUINO_HARDWARE)/arduino/avr, $(QEMU_AVR)"; exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "arduino-toolchain: as root, run: apt-get update && apt-get install -y $(ARDUINO_APT)" >&2; exit 1; fi; \
	echo "arduino-toolchain: apt-get update && apt-get install -y $(ARDUINO_APT)"; \
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y $(ARDUINO_APT)

arduino-test: arduino-toolchain $(VENV)/.installed ## Arduino library: compile it and its sketch with arduino-builder (Uno), run the sketch under qemu-system-avr against the NumPy twin
	$(Q)rm -rf $(ARDUINO_BUILD) && mkdir -p $(ARDUINO_BUILD)/libraries $(ARDUINO_BUILD)/out
	$(Q)python3 arduino/make_library.py $(ARDUINO_BUILD)/libraries --zip
	@echo "== arduino-builder $(ARDUINO_FQBN): the library and examples/$(ARDUINO_SKETCH)"
	$(Q)$(ARDUINO_BUILDER) -compile -warnings all -hardware $(ARDUINO_HARDWARE) \
	  -hardware /usr/share/arduino-builder -tools /usr/bin -libraries $(ARDUINO_BUILD)/libraries \
	  -fqbn $(ARDUINO_FQBN) -build-path $(abspath $(ARDUINO_BUILD)/out) $(ARDUINO_WORKAROUND) \
	  $(ARDUINO_BUILD)/libraries/tinyreptile/examples/$(ARDUINO_SKETCH)/$(ARDUINO_SKETCH).ino \
	  >$(ARDUINO_BUILD)/build.log 2>&1 || { cat $(ARDUINO_BUILD)/build.log; exit 1; }
	$(Q)if grep -E 'libraries/tinyreptile/.*(warning|error)' $(ARDUINO_BUILD)/build.log; then \
	  echo "arduino-test: the library compiles with warnings" >&2; exit 1; fi
	$(Q)n=$$(ls $(ARDUINO_BUILD)/out/libraries/tinyreptile/*.c.o | wc -l); \
	  want=$$(ls csrc/*.c | wc -l); \
	  [ "$$n" = "$$want" ] || { echo "arduino-test: $$n library objects, csrc/ has $$want sources" >&2; exit 1; }; \
	  echo "  $$n library objects, $$(grep -h 'Sketch uses' $(ARDUINO_BUILD)/build.log)"
	$(Q)test -s $(ARDUINO_BUILD)/out/$(ARDUINO_SKETCH).ino.hex
	@echo "== $(ARDUINO_SKETCH) on an emulated Uno ($(QEMU_AVR) -M uno), against the NumPy twin"
	$(Q)$(QEMU_AVR) -M uno -bios $(ARDUINO_BUILD)/out/$(ARDUINO_SKETCH).ino.elf -nographic \
	  -serial stdio -monitor none </dev/null >$(ARDUINO_BUILD)/serial.txt 2>/dev/null & pid=$$!; \
	  for i in $$(seq 200); do grep -q '^done' $(ARDUINO_BUILD)/serial.txt && break; sleep 0.1; done; \
	  kill $$pid; wait $$pid 2>/dev/null; grep -E '^pass (0|19) ' $(ARDUINO_BUILD)/serial.txt || true
	$(Q)TR_AVR_SERIAL=$(ARDUINO_BUILD)/serial.txt $(PY) -m pytest -q -p no:cacheprovider \
	  tests/test_library_manifests.py -k emulated_uno

$(VENV)/.installed-pio: $(VENV)/.installed
	$(Q)$(PY) -m pip install -q platformio
	$(Q)touch $@

# PLATFORMIO_CORE_DIR in the build tree: nothing is written to the home directory. No
# `license` field in library.json: offline, pio pkg pack refuses one ("Could not load SPDX
# licenses for validation", it downloads the SPDX list); the LICENSE file travels instead.
pio-test: $(VENV)/.installed-pio ## pio pkg pack library.json (offline) and check the tarball's sources and version
	$(Q)rm -rf $(PIO_BUILD) && mkdir -p $(PIO_BUILD)/pack
	@echo "== pio pkg pack (library.json)"
	$(Q)cd $(PIO_BUILD)/pack && PLATFORMIO_CORE_DIR=$(abspath $(PIO_BUILD)/core) \
	  PLATFORMIO_SETTING_ENABLE_TELEMETRY=no PLATFORMIO_SETTING_CHECK_PLATFORMIO_INTERVAL=3650 \
	  $(abspath $(VENV))/bin/pio pkg pack $(CURDIR) >../pack.log 2>&1 || { cat ../pack.log; exit 1; }
	$(Q)TR_PIO_TARBALL=$(PIO_BUILD)/pack/tinyreptile-$(TR_VERSION).tar.gz \
	  $(PY) -m pytest -q -p no:cacheprovider tests/test_library_manifests.py -k tarball
