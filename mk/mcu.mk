# mk/mcu.mk - cross-build and QEMU runs for the tinyreptile_ref MCU targets.
#
# Included by the top-level Makefile (paths are relative to the repository
# root, where make runs); also usable alone: make -f mk/mcu.mk mcu-demos
#
# Boards (targets): one row each in mk/boards.mk (MCU_BOARDS lists them all): Cortex-M0,
# M3, M4F, M7, M33, M55 under qemu-system-arm, RV32IMAC and RV32IMAFC under
# qemu-system-riscv32. MCU_TARGETS (m4f m3) is the default set of a program.
#   m4f  Cortex-M4F, hard float (FPv4-SP), QEMU machine mps2-an386
#   m3   Cortex-M3, soft float,            QEMU machine mps2-an385
#
# Define a program, built for the default targets (or for those in TARGETS, e.g.
# $(MCU_BOARDS)):
#   $(call mcu_program,NAME,SOURCES[,TARGETS])
# gives build/mcu/<target>/NAME.elf (plus a .map), objects under
# build/mcu/<target>/obj/<source path>.o, and a phony mcu-run-<target>-NAME
# that runs it with mcu/run-qemu.sh. SOURCES are .c files relative to the
# repository root; the board's port sources (MCU_PORT_SRCS_<board>: start-up,
# stack marker, floating-point environment check) are always added.
# MCU_KERNEL_SRCS lists the kernel sources (csrc/*.c).
#
# Other targets: mcu-toolchain (check / install the toolchains), mcu-demos,
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
CROSS_RISCV ?= riscv64-unknown-elf-
QEMU_RISCV ?= qemu-system-riscv32
MCU_APT_PACKAGES := gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm \
  gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf qemu-system-misc

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
# libgloss semihosting system calls (rdimon). MCU_LDSCRIPT and MCU_LDFLAGS are the
# MPS2 boards' (m3, m4f); the rules use each board's MCU_LDFLAGS_<board>.
MCU_LDSCRIPT := mcu/port/mps2.ld
# MCU_STACK_SIZE (bytes, multiple of 8) overrides mps2.ld's 64 KiB stack.
MCU_STACK_SIZE ?=
mcu_comma := ,
MCU_LDFLAGS = -T $(MCU_LDSCRIPT) -nostartfiles --specs=rdimon.specs -Wl,--gc-sections \
  $(if $(MCU_STACK_SIZE),-Wl$(mcu_comma)--defsym=__stack_size__=$(MCU_STACK_SIZE))
# No -lm: the kernels use no libm, and linking without it proves that.
MCU_LDLIBS ?=

MCU_PORT_SRCS := mcu/port/startup.c mcu/port/stackmark.c mcu/port/fpenv.c
MCU_PORT_SRCS_RISCV := mcu/port/startup_riscv.c mcu/port/stackmark.c mcu/port/fpenv.c
MCU_KERNEL_SRCS := $(wildcard csrc/*.c)

# ---- boards (mk/boards.mk) -----------------------------------------------
# $(call mcu_board,BOARD,CORE,QEMU,MACHINE,PORT,LIBC,LDSCRIPT,FLAGS): one row.
# picolibc's semihosting crt0 passes QEMU's kernel path as argv[1]; the runner's
# TV_MAIN_ARGV=0 makes it ignore its arguments (tests/runner/tv_main_files.c).
MCU_LDFLAGS_newlib-rdimon = -nostartfiles --specs=rdimon.specs
MCU_LDFLAGS_picolibc-semihost = --oslib=semihost --crt0=semihost
MCU_LIBC_CFLAGS_newlib-rdimon :=
MCU_LIBC_CFLAGS_picolibc-semihost := --specs=picolibc.specs -DTV_MAIN_ARGV=0
MCU_CROSS_arm = $(CROSS)
MCU_CROSS_riscv = $(CROSS_RISCV)
MCU_PORTSRC_arm = $(MCU_PORT_SRCS)
MCU_PORTSRC_riscv = $(MCU_PORT_SRCS_RISCV)
define mcu_board_row
MCU_BOARDS += $(1)
MCU_CORE_$(1) := $(2)
MCU_QEMU_$(1) := $(3)
MCU_MACHINE_$(1) := $(4)
MCU_PORT_$(1) := $(5)
MCU_LIBC_$(1) := $(6)
MCU_LDSCRIPT_$(1) := $(7)
MCU_ARCH_$(1) := $(8)
MCU_CC_$(1) = $$(MCU_CROSS_$(5))gcc
MCU_OBJDUMP_$(1) = $$(MCU_CROSS_$(5))objdump
MCU_PORT_SRCS_$(1) = $$(MCU_PORTSRC_$(5))
MCU_CFLAGS_$(1) = $$(MCU_COMMON_CFLAGS) $(8) $$(MCU_LIBC_CFLAGS_$(6))
MCU_LDFLAGS_$(1) = -T $(7) $$(MCU_LDFLAGS_$(6)) -Wl,--gc-sections \
  $$(if $$(MCU_STACK_SIZE),-Wl$$(mcu_comma)--defsym=__stack_size__=$$(MCU_STACK_SIZE))
endef
mcu_board = $(eval $(call mcu_board_row,$(strip $(1)),$(strip $(2)),$(strip $(3)),$(strip $(4)),$(strip $(5)),$(strip $(6)),$(strip $(7)),$(strip $(8))))
MCU_BOARDS :=
include $(dir $(MCU_MK))boards.mk

# ---- targets -------------------------------------------------------------
# The default targets of a program (the first two boards the project had).
MCU_TARGETS := m4f m3
# Boards with a hardware FPU (the no-FMA check must find no fused operation in them).
MCU_HARDFLOAT_BOARDS := $(foreach b,$(MCU_BOARDS),$(if $(filter -mfloat-abi=hard -mabi=ilp32f -mabi=ilp32d,$(MCU_ARCH_$(b))),$(b)))

MCU_FORBIDDEN_FLAGS := -ffast-math -Ofast -march=native -funsafe-math-optimizations -ffp-contract=fast
$(foreach t,$(MCU_BOARDS),$(if $(filter $(MCU_FORBIDDEN_FLAGS),$(MCU_CFLAGS_$(t))),\
  $(error mk/mcu.mk: forbidden flag in MCU_CFLAGS_$(t): $(filter $(MCU_FORBIDDEN_FLAGS),$(MCU_CFLAGS_$(t))))))

# Quiet-mode progress line: $(call mcu_say,TAG,FILE)
mcu_say = $(if $(Q),printf '  %-9s %s\n' '$(1)' '$(2)';)

# Object path of source $(2) for target $(1).
mcu_obj = $(patsubst %.c,$(MCU_BUILD)/$(1)/obj/%.o,$(2))

define mcu_target_rules
$(MCU_BUILD)/$(1)/obj/%.o: %.c $(MCU_MK) $(dir $(MCU_MK))boards.mk
	@mkdir -p $$(@D)
	$$(Q)$$(call mcu_say,CC $(1),$$<)$$(MCU_CC_$(1)) $$(MCU_CFLAGS_$(1)) $$(MCU_CPPFLAGS) -MMD -MP -c $$< -o $$@
endef
$(foreach t,$(MCU_BOARDS),$(eval $(call mcu_target_rules,$(t))))

# $(call mcu_program_one,TARGET,NAME,SOURCES)
define mcu_program_one
MCU_OBJS_$(1) += $(call mcu_obj,$(1),$(sort $(3) $(MCU_PORT_SRCS_$(1))))
MCU_ELFS += $(MCU_BUILD)/$(1)/$(2).elf

$(MCU_BUILD)/$(1)/$(2).elf: $(call mcu_obj,$(1),$(sort $(3) $(MCU_PORT_SRCS_$(1)))) $(MCU_LDSCRIPT_$(1))
	@mkdir -p $$(@D)
	$$(Q)$$(call mcu_say,LD $(1),$$@)$$(MCU_CC_$(1)) $$(MCU_CFLAGS_$(1)) $$(filter %.o,$$^) $$(MCU_LDFLAGS_$(1)) -Wl,-Map,$$(@:.elf=.map) $$(MCU_LDLIBS) -o $$@

.PHONY: mcu-run-$(1)-$(2)
mcu-run-$(1)-$(2): $(MCU_BUILD)/$(1)/$(2).elf
	$$(Q)mcu/tools/run-qemu.sh $(MCU_MACHINE_$(1)) $$< $$(MCU_TIMEOUT)

-include $(patsubst %.o,%.d,$(call mcu_obj,$(1),$(3) $(MCU_PORT_SRCS_$(1))))
endef

# $(call mcu_program,NAME,SOURCES[,TARGETS])
mcu_program = $(foreach t,$(or $(3),$(MCU_TARGETS)),$(eval $(call mcu_program_one,$(t),$(1),$(2))))

# ---- demo programs (used by mcu/selftest/selftest.sh) -----------------------------
MCU_DEMOS := hello fail fail1 crash hang overflow
$(foreach d,$(MCU_DEMOS),$(call mcu_program,$(d),mcu/selftest/$(d).c,$(MCU_BOARDS)))
MCU_DEMO_ELFS := $(foreach t,$(MCU_BOARDS),$(foreach d,$(MCU_DEMOS),$(MCU_BUILD)/$(t)/$(d).elf))

.PHONY: mcu-demos mcu-check-fma mcu-selftest mcu-clean mcu-toolchain

mcu-demos: $(MCU_DEMO_ELFS)

# Every project object built for a hard-float board must be free of fused
# multiply-add instructions (library code is not checked); the check reads each
# object's ISA (Arm or RISC-V) from its ELF header.
# An including Makefile adds the objects of the programs it defines the same way
# (mcu-check-fma: $(foreach b,$(MCU_HARDFLOAT_BOARDS),$(MCU_OBJS_$(b)))).
mcu-check-fma: $(foreach b,$(MCU_HARDFLOAT_BOARDS),$(MCU_OBJS_$(b)))
	$(Q)CROSS=$(CROSS) CROSS_RISCV=$(CROSS_RISCV) mcu/tools/check-no-fma.sh $(sort $(filter %.o,$^)) >/dev/null

mcu-selftest:
	$(Q)CROSS=$(CROSS) CROSS_RISCV=$(CROSS_RISCV) QEMU=$(QEMU_ARM) QEMU_RISCV=$(QEMU_RISCV) mcu/selftest/selftest.sh

mcu-clean:
	$(Q)rm -rf $(MCU_BUILD)

# Check, for every board of mk/boards.mk, its cross compiler and objdump, its C
# library (newlib's librdimon for the board's multilib, or picolibc's specs) and
# its QEMU binary with the board's machine; install the Debian packages when
# something is missing and we are root, otherwise print the command and fail.
MCU_TOOLCHAIN_ROWS = $(foreach b,$(MCU_BOARDS),'$(MCU_CC_$(b))|$(MCU_OBJDUMP_$(b))|$(MCU_LIBC_$(b))|$(MCU_QEMU_$(b))|$(MCU_MACHINE_$(b))|$(MCU_ARCH_$(b))')
mcu-toolchain:
	$(Q)check() { \
	  missing=; \
	  for row in $(MCU_TOOLCHAIN_ROWS); do \
	    ifs=$$IFS; IFS='|'; set -- $$row; IFS=$$ifs; \
	    cc=$$1; objdump=$$2; libc=$$3; qemu=$$4; machine=$$5; arch=$$6; \
	    command -v $$cc >/dev/null 2>&1 || { missing="$$missing $$cc"; continue; }; \
	    command -v $$objdump >/dev/null 2>&1 || missing="$$missing $$objdump"; \
	    case $$libc in \
	      newlib-rdimon) lib=$$($$cc $$arch -print-file-name=librdimon.a); \
	        [ -f "$$lib" ] || missing="$$missing newlib($$arch)";; \
	      picolibc-semihost) lib=$$($$cc -print-file-name=picolibc.specs); \
	        [ -f "$$lib" ] || missing="$$missing picolibc($$cc)";; \
	    esac; \
	    if command -v $$qemu >/dev/null 2>&1; then \
	      $$qemu -machine help 2>/dev/null | grep -q "^$$machine " || missing="$$missing $$qemu:$$machine"; \
	    else missing="$$missing $$qemu"; fi; \
	  done; \
	  missing=$$(printf '%s\n' $$missing | sort -u | tr '\n' ' '); \
	}; \
	check; \
	if [ -z "$$(echo $$missing)" ]; then \
	  echo "mcu-toolchain: OK: $(words $(MCU_BOARDS)) boards; $$($(MCU_CC) --version | head -n 1); $$($(CROSS_RISCV)gcc --version | head -n 1); $$($(QEMU_ARM) --version | head -n 1)"; \
	  exit 0; \
	fi; \
	echo "mcu-toolchain: missing: $$missing"; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "mcu-toolchain: as root, run: apt-get update && apt-get install -y $(MCU_APT_PACKAGES)" >&2; \
	  exit 1; \
	fi; \
	echo "mcu-toolchain: apt-get update && apt-get install -y $(MCU_APT_PACKAGES)"; \
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y $(MCU_APT_PACKAGES); \
	check; \
	if [ -n "$$(echo $$missing)" ]; then echo "mcu-toolchain: still missing after install: $$missing" >&2; exit 1; fi; \
	echo "mcu-toolchain: installed"

# Leave the including Makefile's default goal alone; alone, build the demos.
ifeq ($(firstword $(MAKEFILE_LIST)),$(MCU_MK))
.DEFAULT_GOAL := mcu-demos
else
.DEFAULT_GOAL := $(MCU_MK_SAVED_DEFAULT_GOAL)
endif
