# mk/mcu.mk - cross-build and QEMU runs for the tinyreptile_ref MCU targets.
#
# Included by the top-level Makefile (paths are relative to the repository
# root, where make runs); also usable alone: make -f mk/mcu.mk mcu-demos
#
# Targets (MCU_TARGETS):
#   m4f  Cortex-M4F, hard float (FPv4-SP), QEMU machine mps2-an386
#   m3   Cortex-M3, soft float,            QEMU machine mps2-an385
#
# Define a program, built for every target (or only those in TARGETS):
#   $(call mcu_program,NAME,SOURCES[,TARGETS])
# gives build/mcu/<target>/NAME.elf (plus a .map), objects under
# build/mcu/<target>/obj/<source path>.o, and a phony mcu-run-<target>-NAME
# that runs it with mcu/run-qemu.sh. SOURCES are .c files relative to the
# repository root; mcu/port/startup.c and mcu/port/stackmark.c are always added.
# MCU_KERNEL_SRCS lists the kernel sources (csrc/*.c).
#
# Other targets: mcu-toolchain (check / install the toolchain), mcu-demos,
# mcu-check-fma, mcu-selftest, mcu-clean. V=1 shows full commands.

MCU_MK_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)
MCU_MK := $(lastword $(MAKEFILE_LIST))

V ?= 0
ifeq ($(V),1)
Q :=
else
Q := @
endif

CROSS ?= arm-none-eabi-
MCU_CC ?= $(CROSS)gcc
MCU_OBJDUMP ?= $(CROSS)objdump
QEMU_ARM ?= qemu-system-arm
MCU_APT_PACKAGES := gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm

MCU_BUILD ?= build/mcu
MCU_TIMEOUT ?= 60

# ---- compiler flags ------------------------------------------------------
# Bit-exactness: ISO C99 and no contraction of a*b+c into a fused
# multiply-add (-std=c99 alone already implies -ffp-contract=off in GCC;
# it is spelled out so that a change of -std cannot silently enable it).
# Never the fast-math, reassociating or host-tuned options (refused below).
MCU_OPT ?= -O2
MCU_STD_FLAGS := -std=c99 -ffp-contract=off
MCU_WARN_FLAGS := -Wall -Wextra -Wpedantic -Wmissing-prototypes -Werror
MCU_EXTRA_CFLAGS ?=
MCU_COMMON_CFLAGS = $(MCU_STD_FLAGS) $(MCU_WARN_FLAGS) $(MCU_OPT) -g $(MCU_EXTRA_CFLAGS)

MCU_ARCH_M4F := -mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard
MCU_ARCH_M3 := -mcpu=cortex-m3 -mthumb -mfloat-abi=soft

MCU_CFLAGS_M4F = $(MCU_ARCH_M4F) $(MCU_COMMON_CFLAGS)
MCU_CFLAGS_M3 = $(MCU_ARCH_M3) $(MCU_COMMON_CFLAGS)
MCU_CPPFLAGS ?= -Icsrc -Imcu/port -Imcu/firmware

# ---- linker flags --------------------------------------------------------
# Own start-up (mcu/port/startup.c) instead of newlib's crt0; newlib libc plus
# libgloss semihosting system calls (rdimon).
MCU_LDSCRIPT := mcu/port/mps2.ld
# MCU_STACK_SIZE (bytes, multiple of 8) overrides mps2.ld's 64 KiB stack.
MCU_STACK_SIZE ?=
mcu_comma := ,
MCU_LDFLAGS = -T $(MCU_LDSCRIPT) -nostartfiles --specs=rdimon.specs -Wl,--gc-sections \
  $(if $(MCU_STACK_SIZE),-Wl$(mcu_comma)--defsym=__stack_size__=$(MCU_STACK_SIZE))
# No -lm: the kernels use no libm, and linking without it proves that.
MCU_LDLIBS ?=

MCU_PORT_SRCS := mcu/port/startup.c mcu/port/stackmark.c
MCU_KERNEL_SRCS := $(wildcard csrc/*.c)

# ---- targets -------------------------------------------------------------
MCU_TARGETS := m4f m3
MCU_MACHINE_m4f := mps2-an386
MCU_MACHINE_m3 := mps2-an385
MCU_CFLAGS_m4f = $(MCU_CFLAGS_M4F)
MCU_CFLAGS_m3 = $(MCU_CFLAGS_M3)

MCU_FORBIDDEN_FLAGS := -ffast-math -Ofast -march=native -funsafe-math-optimizations -ffp-contract=fast
$(foreach t,$(MCU_TARGETS),$(if $(filter $(MCU_FORBIDDEN_FLAGS),$(MCU_CFLAGS_$(t))),\
  $(error mk/mcu.mk: forbidden flag in MCU_CFLAGS_$(t): $(filter $(MCU_FORBIDDEN_FLAGS),$(MCU_CFLAGS_$(t))))))

# Quiet-mode progress line: $(call mcu_say,TAG,FILE)
mcu_say = $(if $(Q),printf '  %-9s %s\n' '$(1)' '$(2)';)

# Object path of source $(2) for target $(1).
mcu_obj = $(patsubst %.c,$(MCU_BUILD)/$(1)/obj/%.o,$(2))

define mcu_target_rules
$(MCU_BUILD)/$(1)/obj/%.o: %.c $(MCU_MK)
	@mkdir -p $$(@D)
	$$(Q)$$(call mcu_say,CC $(1),$$<)$$(MCU_CC) $$(MCU_CFLAGS_$(1)) $$(MCU_CPPFLAGS) -MMD -MP -c $$< -o $$@
endef
$(foreach t,$(MCU_TARGETS),$(eval $(call mcu_target_rules,$(t))))

# $(call mcu_program_one,TARGET,NAME,SOURCES)
define mcu_program_one
MCU_OBJS_$(1) += $(call mcu_obj,$(1),$(sort $(3) $(MCU_PORT_SRCS)))
MCU_ELFS += $(MCU_BUILD)/$(1)/$(2).elf

$(MCU_BUILD)/$(1)/$(2).elf: $(call mcu_obj,$(1),$(sort $(3) $(MCU_PORT_SRCS))) $(MCU_LDSCRIPT)
	@mkdir -p $$(@D)
	$$(Q)$$(call mcu_say,LD $(1),$$@)$$(MCU_CC) $$(MCU_CFLAGS_$(1)) $$(filter %.o,$$^) $$(MCU_LDFLAGS) -Wl,-Map,$$(@:.elf=.map) $$(MCU_LDLIBS) -o $$@

.PHONY: mcu-run-$(1)-$(2)
mcu-run-$(1)-$(2): $(MCU_BUILD)/$(1)/$(2).elf
	$$(Q)mcu/tools/run-qemu.sh $(MCU_MACHINE_$(1)) $$< $$(MCU_TIMEOUT)

-include $(patsubst %.o,%.d,$(call mcu_obj,$(1),$(3) $(MCU_PORT_SRCS)))
endef

# $(call mcu_program,NAME,SOURCES[,TARGETS])
mcu_program = $(foreach t,$(or $(3),$(MCU_TARGETS)),$(eval $(call mcu_program_one,$(t),$(1),$(2))))

# ---- demo programs (used by mcu/selftest/selftest.sh) -----------------------------
MCU_DEMOS := hello fail crash hang overflow
$(foreach d,$(MCU_DEMOS),$(call mcu_program,$(d),mcu/selftest/$(d).c))
MCU_DEMO_ELFS := $(foreach t,$(MCU_TARGETS),$(foreach d,$(MCU_DEMOS),$(MCU_BUILD)/$(t)/$(d).elf))

.PHONY: mcu-demos mcu-check-fma mcu-selftest mcu-clean mcu-toolchain

mcu-demos: $(MCU_DEMO_ELFS)

# Every project object built for the hard-float target must be free of
# fused multiply-add instructions (library code is not checked).
mcu-check-fma: $(MCU_OBJS_m4f)
	$(Q)CROSS=$(CROSS) mcu/tools/check-no-fma.sh $(sort $(MCU_OBJS_m4f)) >/dev/null

mcu-selftest:
	$(Q)CROSS=$(CROSS) QEMU=$(QEMU_ARM) mcu/selftest/selftest.sh

mcu-clean:
	$(Q)rm -rf $(MCU_BUILD)

# Check for the cross compiler, newlib (both multilibs) and QEMU with the
# MPS2 machines; install the Debian packages when missing and root.
mcu-toolchain:
	$(Q)check() { \
	  missing=; \
	  command -v $(MCU_CC) >/dev/null 2>&1 || missing="$$missing $(MCU_CC)"; \
	  command -v $(MCU_OBJDUMP) >/dev/null 2>&1 || missing="$$missing $(MCU_OBJDUMP)"; \
	  if command -v $(MCU_CC) >/dev/null 2>&1; then \
	    for arch in "$(MCU_ARCH_M4F)" "$(MCU_ARCH_M3)"; do \
	      lib=$$($(MCU_CC) $$arch -print-file-name=librdimon.a); \
	      [ -f "$$lib" ] || { missing="$$missing newlib($$arch)"; break; }; \
	    done; \
	  fi; \
	  if command -v $(QEMU_ARM) >/dev/null 2>&1; then \
	    machines=$$($(QEMU_ARM) -machine help 2>/dev/null); \
	    for m in $(MCU_MACHINE_m4f) $(MCU_MACHINE_m3); do \
	      printf '%s\n' "$$machines" | grep -q "^$$m " || missing="$$missing $(QEMU_ARM):$$m"; \
	    done; \
	  else missing="$$missing $(QEMU_ARM)"; fi; \
	}; \
	check; \
	if [ -z "$$missing" ]; then \
	  echo "mcu-toolchain: OK: $$($(MCU_CC) --version | head -n 1); $$($(QEMU_ARM) --version | head -n 1)"; \
	  exit 0; \
	fi; \
	echo "mcu-toolchain: missing:$$missing"; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "mcu-toolchain: as root, run: apt-get update && apt-get install -y $(MCU_APT_PACKAGES)" >&2; \
	  exit 1; \
	fi; \
	echo "mcu-toolchain: apt-get update && apt-get install -y $(MCU_APT_PACKAGES)"; \
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $(MCU_APT_PACKAGES); \
	check; \
	if [ -n "$$missing" ]; then echo "mcu-toolchain: still missing after install:$$missing" >&2; exit 1; fi; \
	echo "mcu-toolchain: installed"

# Leave the including Makefile's default goal alone; alone, build the demos.
ifeq ($(firstword $(MAKEFILE_LIST)),$(MCU_MK))
.DEFAULT_GOAL := mcu-demos
else
.DEFAULT_GOAL := $(MCU_MK_SAVED_DEFAULT_GOAL)
endif
