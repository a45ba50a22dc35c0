# Speed without changing bits: the SIMD paths against the scalar reference, the no-FMA check
# of the x86 builds, and the benchmarks (make bench).
#
# simd-test runs every golden vector through (1) a host build with TR_SIMD=0 (the scalar
# reference loops), (2) an AArch64 build (NEON paths) under qemu-user when the cross compiler
# and qemu-aarch64 are present (else it says so and skips that part), and checks that no x86
# build (gcc and clang, -O3, baseline and -march=x86-64-v3) contains a fused multiply-add.
.PHONY: simd-test simd-check-fma

A64_CC   ?= aarch64-linux-gnu-gcc
A64_EXEC ?= qemu-aarch64 -L /usr/aarch64-linux-gnu

$(BUILD)/host/tv_runner_files_scalar: $(RUNNER_FILES) $(RUNNER_DEPS)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) -DTR_SIMD=0 -Icsrc -Itests/runner $(RUNNER_FILES) $(LIB_SRCS) -o $@

$(BUILD)/a64/tv_runner_files: $(RUNNER_FILES) $(RUNNER_DEPS)
	$(Q)mkdir -p $(@D)
	$(Q)$(A64_CC) $(CONTRACT) $(WARN) -O3 -Icsrc -Itests/runner $(RUNNER_FILES) $(LIB_SRCS) -o $@

simd-check-fma:
	@echo "== no fused multiply-add in the x86 builds (gcc, clang; -O3, baseline and x86-64-v3)"
	$(Q)mkdir -p $(BUILD)/fma
	$(Q)for cc in gcc clang; do command -v $$cc >/dev/null || continue; \
	  for arch in "" "-march=x86-64-v3"; do \
	    for f in $(LIB_SRCS); do \
	      $$cc $(CONTRACT) $(WARN) -O3 $$arch -Icsrc -c $$f -o $(BUILD)/fma/o.o || exit 1; \
	      if objdump -d $(BUILD)/fma/o.o | grep -qE 'vfn?m(add|sub)'; then \
	        echo "FAIL: $$cc $$arch $$f contains a fused multiply-add"; exit 1; fi; \
	    done; echo "   $$cc -O3 $${arch:-baseline}: none"; \
	  done; \
	done

simd-test: $(BUILD)/host/tv_runner_files_scalar simd-check-fma ## The SIMD paths against the scalar reference: vectors with TR_SIMD=0, on AArch64 (NEON) under qemu-user, and no FMA in the x86 builds
	@echo "== host, scalar reference loops (TR_SIMD=0), vectors read from files"
	$(Q)$(BUILD)/host/tv_runner_files_scalar $(VECTORS_DIR)/manifest.json | tail -1
	$(Q)if command -v $(A64_CC) >/dev/null && command -v $(firstword $(A64_EXEC)) >/dev/null; then \
	  $(MAKE) --no-print-directory $(BUILD)/a64/tv_runner_files && \
	  echo "== AArch64 (NEON), qemu-user, vectors read from files" && \
	  $(A64_EXEC) $(BUILD)/a64/tv_runner_files $(VECTORS_DIR)/manifest.json | tail -1; \
	else echo "== AArch64 skipped: $(A64_CC) or $(firstword $(A64_EXEC)) missing (apt-get install gcc-aarch64-linux-gnu qemu-user)"; fi

# Ray for tests/test_sweep.py's run on a local Ray instance (pyproject's `ray` extra). Installed
# into the virtual environment before the Python tests; where it cannot be installed, this says
# so loudly and the Ray test is skipped with its reason in pytest's summary.
$(VENV)/.installed-ray: $(VENV)/.installed pyproject.toml
	$(Q)if $(PY) -m pip install -q -e '.[test,ray]' >$(VENV)/ray-install.log 2>&1; then \
	  touch $@; \
	else \
	  echo "WARNING: Ray (pyproject extra 'ray') could not be installed" \
	       "(see $(VENV)/ray-install.log): the sweep's Ray test will be SKIPPED"; \
	fi

test-py: $(VENV)/.installed-ray
