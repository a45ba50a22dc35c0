# mk/xcheck.mk - the traced device round (mcu/firmware/trace_fw.c) and the planted wrong builds
# that xcheck's tests diagnose (tests/test_xcheck.py). Included by the top-level Makefile after
# mk/mcu.mk.
#
#   build/xcheck/trace_host     the traced round on the host, the numerics contract's flags
#   build/xcheck/trace_fma      the same built by clang with contraction on (-ffp-contract=fast
#                               -march=x86-64-v3: FMA), x86-64 hosts only. GCC cannot make this
#                               build any more: csrc/tr_contract.h's optimize pragma holds even
#                               under -ffp-contract=fast; clang's explicit option overrides the
#                               ISO pragma, so it stays the user's job (and xcheck's to catch)
#   build/xcheck/trace_tanhf    the tanh activation on libm's tanhf (tests/xcheck/plant_tanhf.c)
#   build/xcheck/trace_expf     the softmax loss on libm's expf (csrc/loss.c with -Dtr__expf=expf)
#   build/xcheck/trace_rev      the dense forward summing in reverse (tests/xcheck/plant_dense_reversed.c)
#   build/mcu/m4f/trace_fw.elf     the traced round on Cortex-M4F (job and trace over semihosting)
#   build/mcu/m4f/trace_fw_fz.elf  the same with start-up code that sets FPSCR.FZ (tests/xcheck/plant_fz.c)

XCHECK_BUILD := $(BUILD)/xcheck
XCHECK_SRC := mcu/firmware/trace_fw.c
XCHECK_HOST := $(XCHECK_BUILD)/trace_host $(XCHECK_BUILD)/trace_tanhf $(XCHECK_BUILD)/trace_expf \
               $(XCHECK_BUILD)/trace_rev
ifeq ($(shell uname -m),x86_64)
XCHECK_HOST += $(XCHECK_BUILD)/trace_fma
endif
XCHECK_ELFS := $(MCU_BUILD)/m4f/trace_fw.elf $(MCU_BUILD)/m4f/trace_fw_fz.elf

$(call mcu_program,trace_fw,$(XCHECK_SRC) $(MCU_KERNEL_SRCS),m4f)
$(call mcu_program,trace_fw_fz,tests/xcheck/plant_fz.c $(MCU_KERNEL_SRCS),m4f)
$(MCU_BUILD)/m4f/obj/tests/xcheck/plant_fz.o: $(XCHECK_SRC)

$(XCHECK_BUILD)/trace_host: $(XCHECK_SRC) $(LIB_SRCS) $(LIB_HDRS)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) -Icsrc $(XCHECK_SRC) $(LIB_SRCS) -o $@

# Planted: contraction on (the numerics contract forbids it; this build exists to be caught).
# clang comes with flags-toolchain (mk/flags.mk).
XCHECK_FMA_CC ?= $(FLAGS_CLANG)
$(XCHECK_BUILD)/trace_fma: $(XCHECK_SRC) $(LIB_SRCS) $(LIB_HDRS) | flags-toolchain
	$(Q)mkdir -p $(@D)
	$(Q)$(XCHECK_FMA_CC) -std=c99 -O2 -ffp-contract=fast -march=x86-64-v3 -Icsrc $(XCHECK_SRC) $(LIB_SRCS) -o $@

# Planted: one library file compiled with a rename, so the planted source takes its place.
# $(call xcheck_plant,NAME,FILE,-DRENAME,PLANT.c,LIBS)
define xcheck_plant
$(XCHECK_BUILD)/trace_$(1): $(XCHECK_SRC) $(LIB_SRCS) $(LIB_HDRS) $(4)
	$$(Q)mkdir -p $(XCHECK_BUILD)/obj_$(1)
	$$(Q)for f in $(LIB_SRCS); do \
	  case $$$$f in $(2)) d="$(3)";; *) d=;; esac; \
	  $(CC) $(HOST_CFLAGS) $$$$d -Icsrc -c $$$$f -o $(XCHECK_BUILD)/obj_$(1)/$$$$(basename $$$$f .c).o || exit 1; \
	done
	$$(Q)$(CC) $(HOST_CFLAGS) -Icsrc $(XCHECK_SRC) $(4) $(XCHECK_BUILD)/obj_$(1)/*.o $(5) -o $$@
endef
$(eval $(call xcheck_plant,tanhf,csrc/activation.c,-Dtr_tanh_f32=tr__plant_tanh_f32,tests/xcheck/plant_tanhf.c,-lm))
$(eval $(call xcheck_plant,expf,csrc/loss.c,-Dtr__expf=expf,,-lm))
$(eval $(call xcheck_plant,rev,csrc/dense.c,-Dtr_dense_forward_f32=tr__plant_unused_dense_forward_f32,tests/xcheck/plant_dense_reversed.c,))

.PHONY: xcheck-progs
xcheck-progs: mcu-toolchain $(XCHECK_HOST) $(XCHECK_ELFS) ## The traced round (host, Cortex-M4F) and the planted wrong builds xcheck's tests diagnose

# The Python tests (tests/test_xcheck.py) run these programs.
test-py: xcheck-progs
