# mk/cmake.mk - the CMake package (CMakeLists.txt, cmake/): host and Cortex-M4F builds with
# their CTest runs, the consumer project through find_package / add_subdirectory /
# FetchContent, and the example firmware examples/adapt (an exported model adapted on the
# emulated MCU). Included by the top-level Makefile; paths are relative to the repository root.
#
#   make cmake-test      everything below (part of make test)
#   make cmake-host      configure, build, ctest on the host
#   make cmake-m4f       the same for Cortex-M4F, ctest running every vector under QEMU
#   make cmake-consumer  install to a fresh prefix, build and run tests/cmake/consumer three ways
#   make example-adapt   train briefly, export the model, build examples/adapt for Cortex-M4F
#                        against the installed package, run it under QEMU, compare with the host

CMAKE       ?= cmake
CTEST       ?= ctest
CMAKE_BUILD := $(BUILD)/cmake
CMAKE_TYPE  ?= RelWithDebInfo
CMAKE_M4F_TOOLCHAIN := cmake/arm-none-eabi-cortex-m4f.cmake
CMAKE_GEN   := -G "Unix Makefiles"
TR_VERSION   = $(shell sed -n 's/^__version__ = "\(.*\)"$$/\1/p' tinyreptile_ref/_version.py)

.PHONY: cmake-toolchain cmake-test cmake-host cmake-m4f cmake-consumer example-adapt cmake-refuse

# CMake >= 3.16 from Debian when missing (as root; otherwise the command is printed).
cmake-toolchain:
	$(Q)if command -v $(CMAKE) >/dev/null 2>&1 && command -v $(CTEST) >/dev/null 2>&1; then \
	  echo "cmake-toolchain: OK: $$($(CMAKE) --version | head -n 1)"; exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "cmake-toolchain: cmake missing; as root, run: apt-get update && apt-get install -y cmake" >&2; exit 1; fi; \
	echo "cmake-toolchain: apt-get update && apt-get install -y cmake"; \
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y cmake

cmake-test: cmake-host cmake-m4f cmake-consumer example-adapt cmake-refuse ## CMake package: ctest on the host and on Cortex-M4F (QEMU), a find_package consumer, the examples/adapt firmware

# $(call cmake_ctest,NAME,EXTRA CONFIGURE ARGS): configure + build + ctest in $(CMAKE_BUILD)/NAME
cmake_ctest = \
	echo "== cmake $(1): configure, build, ctest"; \
	$(CMAKE) -S . -B $(CMAKE_BUILD)/$(1) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=$(CMAKE_TYPE) \
	  -DTINYREPTILE_BUILD_TESTS=ON $(2) >$(CMAKE_BUILD)/$(1).configure.log 2>&1 \
	  || { cat $(CMAKE_BUILD)/$(1).configure.log; exit 1; }; \
	$(CMAKE) --build $(CMAKE_BUILD)/$(1) -j 2 $(if $(Q),>$(CMAKE_BUILD)/$(1).build.log 2>&1 \
	  || { cat $(CMAKE_BUILD)/$(1).build.log; exit 1; }); \
	status=0; $(CTEST) --test-dir $(CMAKE_BUILD)/$(1) -V >$(CMAKE_BUILD)/$(1).ctest.log 2>&1 || status=$$?; \
	if [ "$(V)" = 1 ] || [ $$status != 0 ]; then cat $(CMAKE_BUILD)/$(1).ctest.log; \
	else grep -E 'Test command|[0-9]+ passed, [0-9]+ failed$$|tests passed' $(CMAKE_BUILD)/$(1).ctest.log; fi; \
	exit $$status

cmake-host: cmake-toolchain
	$(Q)mkdir -p $(CMAKE_BUILD)
	$(Q)$(call cmake_ctest,host,)

cmake-m4f: cmake-toolchain mcu-toolchain
	$(Q)mkdir -p $(CMAKE_BUILD)
	$(Q)$(call cmake_ctest,m4f,-DCMAKE_TOOLCHAIN_FILE=$(CMAKE_M4F_TOOLCHAIN))

# Install the host build to a fresh prefix; the consumer finds it with find_package (and must
# see the version of tinyreptile_ref/_version.py), then uses the source tree directly.
cmake-consumer: cmake-host
	$(Q)rm -rf $(CMAKE_BUILD)/prefix-host $(CMAKE_BUILD)/consumer-*
	$(Q)$(CMAKE) --install $(CMAKE_BUILD)/host --prefix $(CMAKE_BUILD)/prefix-host >/dev/null
	$(Q)for via in find_package add_subdirectory fetchcontent; do \
	  echo "== cmake consumer through $$via"; \
	  d=$(CMAKE_BUILD)/consumer-$$via; \
	  $(CMAKE) -S tests/cmake/consumer -B $$d $(CMAKE_GEN) -DTR_VIA=$$via \
	    -DCMAKE_PREFIX_PATH=$(abspath $(CMAKE_BUILD)/prefix-host) -DTR_SOURCE_DIR=$(CURDIR) \
	    -DTR_EXPECT_VERSION=$(TR_VERSION) >$$d.log 2>&1 || { cat $$d.log; exit 1; }; \
	  grep -- '-- tinyreptile ' $$d.log; \
	  $(CMAKE) --build $$d >>$$d.log 2>&1 || { cat $$d.log; exit 1; }; \
	  $$d/consumer || exit 1; \
	done

# examples/adapt: a short TinyReptile run on sine, its export, a new task's samples and the
# host's losses (NumPy twin); the firmware built against the installed package for the host
# and for Cortex-M4F, run (the latter under QEMU), and its printed losses compared bit for bit.
ADAPT_DIR    := $(CMAKE_BUILD)/adapt
ADAPT_ROUNDS ?= 3000

example-adapt: cmake-host cmake-m4f $(VENV)/.installed
	$(Q)rm -rf $(ADAPT_DIR) && mkdir -p $(ADAPT_DIR)/gen
	@echo "== examples/adapt: train (sine, tinyreptile, $(ADAPT_ROUNDS) rounds), export-model, prepare"
	$(Q)$(PY) -m tinyreptile_ref train --task sine --algo tinyreptile --rounds $(ADAPT_ROUNDS) \
	  --eval-tasks 5 --curve-points 0 --quiet --out $(ADAPT_DIR)/run
	$(Q)$(PY) -m tinyreptile_ref export-model $(ADAPT_DIR)/run --out $(ADAPT_DIR)/gen/model.h
	$(Q)$(PY) examples/adapt/adapt_task.py prepare $(ADAPT_DIR)/run --out $(ADAPT_DIR)/gen
	$(Q)for t in host m4f; do \
	  echo "== examples/adapt on $$t, through find_package"; \
	  $(CMAKE) --install $(CMAKE_BUILD)/$$t --prefix $(ADAPT_DIR)/prefix-$$t >/dev/null || exit 1; \
	  tc=; [ $$t = m4f ] && tc=-DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/$(CMAKE_M4F_TOOLCHAIN); \
	  $(CMAKE) -S examples/adapt -B $(ADAPT_DIR)/build-$$t $(CMAKE_GEN) $$tc \
	    -DCMAKE_BUILD_TYPE=$(CMAKE_TYPE) -DCMAKE_PREFIX_PATH=$(abspath $(ADAPT_DIR)/prefix-$$t) \
	    -DADAPT_GEN_DIR=$(abspath $(ADAPT_DIR)/gen) >$(ADAPT_DIR)/$$t.log 2>&1 \
	    && $(CMAKE) --build $(ADAPT_DIR)/build-$$t >>$(ADAPT_DIR)/$$t.log 2>&1 \
	    || { cat $(ADAPT_DIR)/$$t.log; exit 1; }; \
	  $(CTEST) --test-dir $(ADAPT_DIR)/build-$$t -V >$(ADAPT_DIR)/$$t.out 2>&1 \
	    || { cat $(ADAPT_DIR)/$$t.out; exit 1; }; \
	  grep -E 'Test command|loss (before|after)' $(ADAPT_DIR)/$$t.out; \
	  $(PY) examples/adapt/adapt_task.py check $(ADAPT_DIR)/gen/expected.txt $(ADAPT_DIR)/$$t.out || exit 1; \
	done

# A flag set that cannot be bit-exact is refused when configuring, with the reason.
cmake-refuse: cmake-toolchain
	@echo "== cmake refuses CMAKE_C_FLAGS=-ffast-math when configuring"
	$(Q)mkdir -p $(CMAKE_BUILD) && rm -rf $(CMAKE_BUILD)/refuse
	$(Q)if $(CMAKE) -S . -B $(CMAKE_BUILD)/refuse -DCMAKE_C_FLAGS=-ffast-math >$(CMAKE_BUILD)/refuse.log 2>&1; then \
	  echo "cmake-refuse: -ffast-math was accepted" >&2; exit 1; fi; \
	  grep -q -- 'contains -ffast-math' $(CMAKE_BUILD)/refuse.log || { cat $(CMAKE_BUILD)/refuse.log; exit 1; }
