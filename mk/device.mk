# mk/device.mk - TinyReptile on the emulated MCU: the firmware variants of mcu/firmware/tinyreptile_fw.c
# and the measured device memory. Included by the top-level Makefile after mk/mcu.mk and the
# golden-vector variables (VECTORS_DIR, VEC_PY, VEC_PY_DEP).
#
#   make device-test   build every variant for every board of mk/boards.mk (DEVICE_BOARDS,
#                      default MCU_VEC_BOARDS) and run each under QEMU: it trains R rounds
#                      of a whole federated run from the vectors and must print the SHA-256
#                      of the final theta that the host computed (exit 0)
#   make device-size   the measured device memory table (RAM from the link map and the stack
#                      high-water mark, flash from the image), mcu/tools/devmem.py
#
# A variant is <model>-<algorithm>-<mode> (mcu/tools/fw_data.py VARIANTS): its generated source holds
# the run's data from the vectors and the buffers sized for it.

DEVICE_VARIANTS := sine-tinyreptile-fused sine-tinyreptile-grad sine-reptile-accum \
                   conv-tinyreptile-fused conv-tinyreptile-grad conv-reptile-accum
DEVICE_GEN := $(MCU_BUILD)/gen
DEVICE_ELFS := $(foreach v,$(DEVICE_VARIANTS),$(MCU_BUILD)/m4f/fw-$(v).elf)
DEVICE_BOARDS ?= $(or $(MCU_VEC_BOARDS),$(MCU_BOARDS))
DEVICE_ELFS_ALL := $(foreach b,$(DEVICE_BOARDS),$(foreach v,$(DEVICE_VARIANTS),$(MCU_BUILD)/$(b)/fw-$(v).elf))
DEVICE_OUT ?= $(BUILD)/device

DEVICE_SRCS := $(foreach v,$(DEVICE_VARIANTS),$(DEVICE_GEN)/fw_$(v).c)

# A static pattern rule: only these sources (an implicit rule must not reach for others).
$(DEVICE_SRCS): $(DEVICE_GEN)/fw_%.c: mcu/tools/fw_data.py $(VECTORS_DIR)/manifest.json tinyreptile_ref/runtime/model.py $(VEC_PY_DEP)
	@mkdir -p $(@D)
	$(Q)$(call mcu_say,GEN,$@)$(VEC_PY) mcu/tools/fw_data.py $* --vectors $(VECTORS_DIR) --out $@

$(foreach v,$(DEVICE_VARIANTS),$(call mcu_program,fw-$(v),mcu/firmware/tinyreptile_fw.c $(DEVICE_GEN)/fw_$(v).c tests/runner/tv_sha256.c $(MCU_KERNEL_SRCS),$(MCU_BOARDS)))

.PHONY: device-fw device-test device-size
.SECONDARY: $(DEVICE_SRCS)

# The no-FMA check covers the firmware objects too (their objects are in MCU_OBJS_<board>).
mcu-check-fma: $(DEVICE_ELFS)

device-fw: $(DEVICE_ELFS_ALL)

device-test: mcu-toolchain $(DEVICE_ELFS_ALL) ## TinyReptile firmware on every board under QEMU: R rounds from the vectors, theta's SHA-256 must be the host's
	$(Q)fails=0; for b in $(DEVICE_BOARDS); do \
	  echo "== TinyReptile firmware, $$b: whole runs from the vectors"; s=$$(date +%s); \
	  for v in $(DEVICE_VARIANTS); do \
	  out=$$(mcu/tools/run-qemu.sh $$b $(MCU_BUILD)/$$b/fw-$$v.elf $(MCU_TIMEOUT) 2>&1); rc=$$?; \
	  got=$$(printf '%s\n' "$$out" | sed -n 's/^theta_sha256: //p'); \
	  if [ $$rc -eq 0 ]; then echo "  ok    $$b fw-$$v  theta sha256 $$got"; \
	  else echo "  FAIL  $$b fw-$$v (exit $$rc)"; printf '%s\n' "$$out" | sed 's/^/        /'; fails=$$((fails+1)); fi; \
	  done; echo "   ($$b firmware: $$(( $$(date +%s) - s )) s)"; \
	done; echo "$$(( $(words $(DEVICE_BOARDS)) * $(words $(DEVICE_VARIANTS)) - fails )) passed, $$fails failed"; [ $$fails -eq 0 ]

device-size: mcu-toolchain $(DEVICE_ELFS) ## Measured device memory (RAM, stack, flash) of TinyReptile and Reptile on Cortex-M4F
	$(Q)mkdir -p $(DEVICE_OUT)
	$(Q)$(PYTHON) mcu/tools/devmem.py --build $(MCU_BUILD)/m4f --qemu-machine $(MCU_MACHINE_m4f) \
	  --json $(DEVICE_OUT)/devmem.json --markdown $(DEVICE_OUT)/devmem.md $(DEVICE_VARIANTS)

# The firmware's own floating-point environment check (mcu/port/fpenv.h), for start-up code
# that does not check: a build whose port start-up skips its check (TR_PORT_NO_FPENV_CHECK)
# and sets the mode before main (TR_PORT_TEST_FPENV: FZ on Arm, frm=RTZ on RISC-V) must
# refuse to train, print "result: refused: ..." and exit 71.
DEVICE_FPENV_BUILD := $(BUILD)/mcu-fpenv
DEVICE_FPENV_CASES := m4f:0x01000000:FZ rv32imafc:1:frm=RTZ
.PHONY: device-fpenv-test
device-fpenv-test: mcu-toolchain
	$(Q)for c in $(DEVICE_FPENV_CASES); do \
	  b=$${c%%:*}; rest=$${c#*:}; v=$${rest%%:*}; what=$${rest#*:}; \
	  elf=$(DEVICE_FPENV_BUILD)/$$b/fw-sine-tinyreptile-fused.elf; \
	  $(MAKE) -s --no-print-directory MCU_BUILD=$(DEVICE_FPENV_BUILD) \
	    MCU_EXTRA_CFLAGS="-DTR_PORT_NO_FPENV_CHECK -DTR_PORT_TEST_FPENV=$$v" $$elf >/dev/null || exit 1; \
	  out=$$(mcu/tools/run-qemu.sh $$b $$elf $(MCU_TIMEOUT) 2>&1); rc=$$?; \
	  if [ $$rc -eq 71 ] && printf '%s\n' "$$out" | grep -q "^result: refused: floating-point environment: .*$$what" && \
	     ! printf '%s\n' "$$out" | grep -q '^theta_sha256'; then \
	    echo "  ok    $$b firmware with $$what set: $$(printf '%s\n' "$$out" | grep '^result:') (exit 71)"; \
	  else echo "  FAIL  $$b firmware with $$what set: exit $$rc"; printf '%s\n' "$$out" | sed 's/^/        /'; exit 1; fi; \
	done

device-test: device-fpenv-test
