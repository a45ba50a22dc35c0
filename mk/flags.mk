# mk/flags.mk - the numerics contract under the user's own flags (csrc/tr_contract.h).
#
# The golden-vector runner (files mode) is built WITHOUT -ffp-contract=off, in GNU mode and
# for FMA-capable targets, the way an Arduino or IDE project compiles dropped-in sources, and
# must pass every vector; builds that cannot be bit-exact (x87 evaluation, -ffast-math,
# -ffinite-math-only) must stop at compile time with tr_contract.h's message, for every
# library source. Included by the top-level Makefile (needs WARN, LIB_SRCS, RUNNER_FILES,
# RUNNER_DEPS, VECTORS_DIR, MCU_* from mk/mcu.mk).
#
#   make flags-test       every combination below (part of make test)
#   make flags-toolchain  check / install clang, the AArch64, i686 and RISC-V cross compilers, qemu-user

FLAGS_BUILD   ?= $(BUILD)/flags
FLAGS_GCC     ?= gcc
FLAGS_CLANG   ?= clang
AARCH64_CC    ?= aarch64-linux-gnu-gcc
AARCH64_SYSROOT ?= /usr/aarch64-linux-gnu
QEMU_AARCH64  ?= qemu-aarch64
RISCV_CC      ?= riscv64-unknown-elf-gcc
RISCV_OBJDUMP ?= riscv64-unknown-elf-objdump
QEMU_RISCV32  ?= qemu-system-riscv32
I686_CC       ?= i686-linux-gnu-gcc
I686_SYSROOT  ?= /usr/i686-linux-gnu
QEMU_I386     ?= qemu-i386
# gcc-i686-linux-gnu rather than gcc-multilib, which conflicts with the AArch64 cross compiler.
FLAGS_APT_PACKAGES := clang gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-i686-linux-gnu libc6-dev-i386-cross qemu-user qemu-system-misc gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf

FLAGS_SRCS := $(RUNNER_FILES) $(LIB_SRCS)
flags_comma := ,
FLAGS_INC  := -Icsrc -Itests/runner
FLAGS_X86  := -O2 -march=x86-64-v3

# Host runners: name, compiler, flags (none of them -ffp-contract=off).
FLAGS_HOST_gcc-gnu11      := $(FLAGS_GCC) -std=gnu11 $(FLAGS_X86)
FLAGS_HOST_gcc-c99-fast   := $(FLAGS_GCC) -std=c99 -ffp-contract=fast $(FLAGS_X86)
FLAGS_HOST_clang-default  := $(FLAGS_CLANG) $(FLAGS_X86)
FLAGS_HOST_clang-c99      := $(FLAGS_CLANG) -std=c99 $(FLAGS_X86)
FLAGS_HOSTS := gcc-gnu11 gcc-c99-fast clang-default clang-c99

define flags_host_rule
$(FLAGS_BUILD)/tv_runner_$(1): $(FLAGS_SRCS) $(RUNNER_DEPS) mk/flags.mk
	@mkdir -p $$(@D)
	$$(Q)$$(FLAGS_HOST_$(1)) $$(WARN) $$(FLAGS_INC) $$(FLAGS_SRCS) -o $$@
endef
$(foreach h,$(FLAGS_HOSTS),$(eval $(call flags_host_rule,$(h))))

$(FLAGS_BUILD)/tv_runner_aarch64-gnu11: $(FLAGS_SRCS) $(RUNNER_DEPS) mk/flags.mk
	@mkdir -p $(@D)
	$(Q)$(AARCH64_CC) -std=gnu11 -O2 $(WARN) $(FLAGS_INC) $(FLAGS_SRCS) -o $@

# 32-bit x86 with SSE arithmetic: FLT_EVAL_METHOD 0, accepted and bit-exact (the x87 default is refused).
$(FLAGS_BUILD)/tv_runner_i686-sse: $(FLAGS_SRCS) $(RUNNER_DEPS) mk/flags.mk
	@mkdir -p $(@D)
	$(Q)$(I686_CC) -std=gnu11 -O2 -msse2 -mfpmath=sse $(WARN) $(FLAGS_INC) $(FLAGS_SRCS) -o $@

# RV32F (rv32imafc/ilp32f) on QEMU's virt machine, picolibc with semihosting (files, exit status,
# and the command line QEMU's -append passes as argv).
FLAGS_RISCV_LDFLAGS := --specs=picolibc.specs --oslib=semihost --crt0=semihost \
  -Wl,--defsym=__flash=0x80000000 -Wl,--defsym=__flash_size=0x400000 \
  -Wl,--defsym=__ram=0x80400000 -Wl,--defsym=__ram_size=0x4000000 -Wl,--defsym=__stack_size=0x40000
$(FLAGS_BUILD)/tv_runner_rv32-gnu11.elf: $(FLAGS_SRCS) $(RUNNER_DEPS) mk/flags.mk
	@mkdir -p $(@D)
	$(Q)$(RISCV_CC) -march=rv32imafc -mabi=ilp32f -std=gnu11 -O2 $(WARN) $(FLAGS_INC) $(FLAGS_SRCS) \
	  $(FLAGS_RISCV_LDFLAGS) -o $@

$(FLAGS_BUILD)/tv_runner_m4f-gnu11-Os.elf: $(FLAGS_SRCS) $(MCU_PORT_SRCS) $(RUNNER_DEPS) $(MCU_LDSCRIPT) mk/flags.mk
	@mkdir -p $(@D)
	$(Q)$(MCU_CC) $(MCU_ARCH_M4F) -std=gnu11 -Os $(WARN) $(MCU_CPPFLAGS) -Itests/runner \
	  $(FLAGS_SRCS) $(MCU_PORT_SRCS) $(MCU_LDFLAGS) -o $@

# $(call flags_run,NAME,LABEL,COMMAND): run a runner, show its closing line, fail on its failure.
flags_run = printf '  %-48s ' '$(2)'; $(3) > $(FLAGS_BUILD)/$(1).log 2>&1; \
  rc=$$?; tail -n 1 $(FLAGS_BUILD)/$(1).log; \
  [ $$rc -eq 0 ] || { echo "flags-test: FAILED: $(2) (log: $(FLAGS_BUILD)/$(1).log)"; exit 1; }

FLAGS_RUNNERS := $(foreach h,$(FLAGS_HOSTS),$(FLAGS_BUILD)/tv_runner_$(h)) \
  $(FLAGS_BUILD)/tv_runner_aarch64-gnu11 $(FLAGS_BUILD)/tv_runner_i686-sse \
  $(FLAGS_BUILD)/tv_runner_rv32-gnu11.elf \
  $(FLAGS_BUILD)/tv_runner_m4f-gnu11-Os.elf

.PHONY: flags-test flags-run flags-riscv flags-refuse flags-toolchain

flags-test: flags-toolchain mcu-toolchain ## The contract under the user's flags: runner without -ffp-contract=off (gcc/clang x86-64-v3, AArch64, i686 SSE, RV32F, Cortex-M4F), RISC-V objdump, #error on x87 and -ffast-math
	$(Q)$(MAKE) --no-print-directory flags-run flags-riscv flags-refuse

flags-run: $(FLAGS_RUNNERS) $(VECTORS_DIR)/manifest.json
	@echo "== the golden vectors without -ffp-contract=off (files mode)"
	$(Q)if grep -qw fma /proc/cpuinfo && grep -qw avx2 /proc/cpuinfo; then \
	  $(call flags_run,gcc-gnu11,gcc -std=gnu11 -O2 -march=x86-64-v3,$(FLAGS_BUILD)/tv_runner_gcc-gnu11 $(VECTORS_DIR)/manifest.json) && \
	  $(call flags_run,gcc-c99-fast,gcc -std=c99 -ffp-contract=fast -O2 -march=x86-64-v3,$(FLAGS_BUILD)/tv_runner_gcc-c99-fast $(VECTORS_DIR)/manifest.json) && \
	  $(call flags_run,clang-default,clang -O2 -march=x86-64-v3,$(FLAGS_BUILD)/tv_runner_clang-default $(VECTORS_DIR)/manifest.json) && \
	  $(call flags_run,clang-c99,clang -std=c99 -O2 -march=x86-64-v3,$(FLAGS_BUILD)/tv_runner_clang-c99 $(VECTORS_DIR)/manifest.json); \
	else echo "  x86-64-v3 runners built but not run: this CPU has no FMA/AVX2"; fi
	$(Q)$(call flags_run,aarch64-gnu11,aarch64 gcc -std=gnu11 -O2 (qemu-user),$(QEMU_AARCH64) -L $(AARCH64_SYSROOT) $(FLAGS_BUILD)/tv_runner_aarch64-gnu11 $(VECTORS_DIR)/manifest.json)
	$(Q)$(call flags_run,i686-sse,i686 gcc -std=gnu11 -O2 -msse2 -mfpmath=sse,$(QEMU_I386) -L $(I686_SYSROOT) $(FLAGS_BUILD)/tv_runner_i686-sse $(VECTORS_DIR)/manifest.json)
	$(Q)$(call flags_run,rv32-gnu11,rv32imafc gcc -std=gnu11 -O2 (QEMU virt),timeout 300 $(QEMU_RISCV32) -machine virt -bios none -nographic -monitor none -serial none -semihosting-config enable=on$(flags_comma)target=native -kernel $(FLAGS_BUILD)/tv_runner_rv32-gnu11.elf -append $(VECTORS_DIR)/manifest.json </dev/null)
	$(Q)$(call flags_run,m4f-gnu11-Os,cortex-m4f gcc -std=gnu11 -Os (mps2-an386),mcu/tools/run-qemu.sh mps2-an386 $(FLAGS_BUILD)/tv_runner_m4f-gnu11-Os.elf $(MCU_TIMEOUT))

# RISC-V (RV32F and RV64GC): compiled in GNU mode, no fused instruction in any library object
# (RV32F also runs the vectors above).
FLAGS_RISCV_ARCHS := rv32imafc:ilp32f rv64gc:lp64d
flags-riscv:
	@echo "== RISC-V, -std=gnu11 -O2: fmadd/fmsub/fnmadd/fnmsub in the library objects"
	$(Q)mkdir -p $(FLAGS_BUILD)/riscv
	$(Q)for a in $(FLAGS_RISCV_ARCHS); do \
	  arch=$${a%%:*}; abi=$${a##*:}; n=0; \
	  for s in $(LIB_SRCS); do \
	    o=$(FLAGS_BUILD)/riscv/$$arch-$$(basename $$s .c).o; \
	    $(RISCV_CC) --specs=picolibc.specs -march=$$arch -mabi=$$abi -std=gnu11 -O2 $(WARN) -Icsrc -c $$s -o $$o || exit 1; \
	    c=$$($(RISCV_OBJDUMP) -d $$o | grep -cE '[[:space:]]f(n)?m(add|sub)\.[sdh][[:space:]]'); \
	    [ $$c -eq 0 ] || echo "  $$s: $$c fused multiply-add instructions"; \
	    n=$$((n + c)); \
	  done; \
	  printf '  %-48s %d fused instructions\n' "$$arch/$$abi" $$n; \
	  [ $$n -eq 0 ] || { echo "flags-test: FAILED: fused multiply-add on $$arch"; exit 1; }; \
	done

# $(call flags_refuse,LABEL,COMPILER AND FLAGS,EXPECTED MESSAGE): every library source must
# fail to compile, with the message. A control build with the fixed flags must succeed.
flags_refuse = printf '  %-48s ' '$(1)'; \
  for s in $(LIB_SRCS); do \
    if out=$$($(2) -Icsrc -fsyntax-only $$s 2>&1); then echo "compiled: $$s"; exit 1; fi; \
    printf '%s\n' "$$out" | grep -q '$(3)' || { echo "$$s failed without the message:"; printf '%s\n' "$$out" | head -n 5; exit 1; }; \
  done; echo "refused, every source: $(3)"

flags-refuse:
	@echo "== builds that cannot be bit-exact stop with tr_contract.h's #error"
	$(Q)$(call flags_refuse,i686 gcc -std=gnu11 -O2 (x87),$(I686_CC) -std=gnu11 -O2,FLT_EVAL_METHOD is not 0)
	$(Q)$(call flags_refuse,clang --target=i386-linux-gnu -mfpmath=387,$(FLAGS_CLANG) --target=i386-linux-gnu -mfpmath=387,FLT_EVAL_METHOD is not 0)
	$(Q)$(call flags_refuse,gcc -O2 -ffast-math,$(FLAGS_GCC) -std=gnu11 -O2 -ffast-math,built with -ffast-math or -Ofast)
	$(Q)$(call flags_refuse,clang -Ofast,$(FLAGS_CLANG) -Ofast,built with -ffast-math or -Ofast)
	$(Q)$(call flags_refuse,gcc -ffinite-math-only,$(FLAGS_GCC) -O2 -ffinite-math-only,built with -ffinite-math-only)
	$(Q)printf '  %-48s ' 'gcc -m32 -mfpmath=387 (tr_contract.h alone)'; \
	  if out=$$(echo '#include "tr_contract.h"' | $(FLAGS_GCC) -m32 -mfpmath=387 -Icsrc -fsyntax-only -x c - 2>&1); then echo compiled; exit 1; fi; \
	  printf '%s\n' "$$out" | grep -q 'FLT_EVAL_METHOD is not 0' || { printf '%s\n' "$$out"; exit 1; }; echo "refused: FLT_EVAL_METHOD is not 0"
	$(Q)printf '  %-48s ' 'control: -m32 -msse2 -mfpmath=sse (alone)'; \
	  echo '#include "tr_contract.h"' | $(FLAGS_GCC) -m32 -msse2 -mfpmath=sse $(WARN) -Icsrc -fsyntax-only -x c - && \
	  echo '#include "tr_contract.h"' | $(FLAGS_CLANG) --target=i386-linux-gnu -msse2 -mfpmath=sse $(WARN) -Icsrc -fsyntax-only -x c - && echo "accepted (gcc, clang)"

flags-toolchain:
	$(Q)check() { \
	  missing=; \
	  for c in $(FLAGS_GCC) $(FLAGS_CLANG) $(AARCH64_CC) $(QEMU_AARCH64) $(I686_CC) $(QEMU_I386) $(QEMU_RISCV32) $(RISCV_CC) $(RISCV_OBJDUMP); do \
	    command -v $$c >/dev/null 2>&1 || missing="$$missing $$c"; \
	  done; \
	  echo '#include <stdint.h>' | $(RISCV_CC) --specs=picolibc.specs -fsyntax-only -x c - >/dev/null 2>&1 || \
	    missing="$$missing picolibc-riscv64-unknown-elf"; \
	}; \
	check; [ -z "$$missing" ] && exit 0; \
	echo "flags-toolchain: missing:$$missing"; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "flags-toolchain: as root, run: apt-get update && apt-get install -y $(FLAGS_APT_PACKAGES)" >&2; exit 1; \
	fi; \
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $(FLAGS_APT_PACKAGES); \
	check; [ -z "$$missing" ] || { echo "flags-toolchain: still missing:$$missing" >&2; exit 1; }
