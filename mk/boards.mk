# mk/boards.mk - the boards, as data: one row per board. Included by mk/mcu.mk; read by
# mcu/tools/run-qemu.sh too (it takes the QEMU binary and machine of a board from here).
#
# A row: $(call mcu_board,BOARD,CORE,QEMU,MACHINE,PORT,LIBC,LDSCRIPT,FLAGS)
#   BOARD     the target name: build/mcu/BOARD/, mcu-run-BOARD-NAME, MCU_MACHINE_BOARD
#   CORE      what it stands for (documentation, the README table)
#   QEMU      the QEMU binary that runs it
#   MACHINE   the QEMU machine (-M)
#   PORT      start-up variant: arm (mcu/port/startup.c: ARMv6-M, ARMv7-M and ARMv8-M paths)
#             or riscv (picolibc's semihosting crt0 + mcu/port/startup_riscv.c)
#   LIBC      newlib-rdimon (newlib + libgloss semihosting, own start-up, -nostartfiles) or
#             picolibc-semihost (picolibc, --oslib=semihost --crt0=semihost)
#   LDSCRIPT  the memory map (a linker script in mcu/port/)
#   FLAGS     CPU, FPU and ABI flags; every compile puts -std=c99 -ffp-contract=off, the
#             warnings and MCU_OPT (mk/mcu.mk) before them, so a row may set its own -O
# Make arguments keep their spaces: the columns are stripped where they are used.
#
# Adding a board is one row here (plus a linker script if its memory map is new).
#
# Notes on the rows:
#   m0    an ARMv6-M image (no divide, no FPU, Thumb-1 start-up); QEMU has no Cortex-M0 MPS2
#         board, so it runs on mps2-an385, whose Cortex-M3 executes the ARMv6-M subset.
#   m33   runs in the Secure state (AN505's IDAU: bit 28 set = Secure), code at 0x10000000.
#   m55   -mcpu=cortex-m55 enables MVE integer and floating point (Helium); the float
#         kernels keep their loops away from the vectoriser there (csrc/tr_internal.h);
#   m55o3 the same part built at -O3, where GCC vectorises most (the bits must hold there too).
#   rv32* qemu-system-riscv32 -M virt -bios none jumps to 0x80000000, where the image starts.

#                 board      core                              QEMU                 machine      port   libc               memory map                     flags
$(call mcu_board, m0,        Cortex-M0 (ARMv6-M on an M3 core), qemu-system-arm,     mps2-an385,  arm,   newlib-rdimon,     mcu/port/mps2.ld,              -mcpu=cortex-m0 -mthumb -mfloat-abi=soft)
$(call mcu_board, m3,        Cortex-M3 soft float,             qemu-system-arm,     mps2-an385,  arm,   newlib-rdimon,     mcu/port/mps2.ld,              -mcpu=cortex-m3 -mthumb -mfloat-abi=soft)
$(call mcu_board, m4f,       Cortex-M4F FPv4-SP,               qemu-system-arm,     mps2-an386,  arm,   newlib-rdimon,     mcu/port/mps2.ld,              -mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard)
$(call mcu_board, m7,        Cortex-M7 FPv5 double precision,  qemu-system-arm,     mps2-an500,  arm,   newlib-rdimon,     mcu/port/mps2.ld,              -mcpu=cortex-m7 -mthumb -mfpu=fpv5-d16 -mfloat-abi=hard)
$(call mcu_board, m33,       Cortex-M33 FPv5-SP (TrustZone),   qemu-system-arm,     mps2-an505,  arm,   newlib-rdimon,     mcu/port/an505.ld,             -mcpu=cortex-m33 -mthumb -mfpu=fpv5-sp-d16 -mfloat-abi=hard)
$(call mcu_board, m55,       Cortex-M55 Helium (MVE int+float), qemu-system-arm,    mps3-an547,  arm,   newlib-rdimon,     mcu/port/an547.ld,             -mcpu=cortex-m55 -mthumb -mfloat-abi=hard)
$(call mcu_board, m55o3,     Cortex-M55 Helium at -O3,          qemu-system-arm,    mps3-an547,  arm,   newlib-rdimon,     mcu/port/an547.ld,             -mcpu=cortex-m55 -mthumb -mfloat-abi=hard -O3)
$(call mcu_board, rv32imac,  RISC-V RV32IMAC soft float,       qemu-system-riscv32, virt,        riscv, picolibc-semihost, mcu/port/riscv-virt.ld,        -march=rv32imac -mabi=ilp32 -mcmodel=medany)
$(call mcu_board, rv32imafc, RISC-V RV32IMAFC hard float,      qemu-system-riscv32, virt,        riscv, picolibc-semihost, mcu/port/riscv-virt.ld,        -march=rv32imafc -mabi=ilp32f -mcmodel=medany)
