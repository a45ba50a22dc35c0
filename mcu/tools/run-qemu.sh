#!/usr/bin/env bash
# mcu/tools/run-qemu.sh MACHINE ELF [TIMEOUT_SECONDS]
#
# Runs a tinyreptile_ref MCU image (linked with mcu/port/startup.c, mcu/port/mps2.ld
# and --specs=rdimon.specs) under QEMU with semihosting, and exits with the
# program's own exit status:
#
#   0..255  main()'s return value / exit() status (semihosting
#           SYS_EXIT_EXTENDED); a HardFault or other fault exits with 70
#           after printing "tr_port: FATAL ..." on stderr
#   124     the program did not finish within TIMEOUT_SECONDS (default 60,
#           or $TR_QEMU_TIMEOUT); a message on stderr says so
#   125     usage error, or QEMU is missing
#
# MACHINE is a QEMU machine of mk/boards.mk (mps2-an385, mps2-an386, mps2-an500,
# mps2-an505, mps3-an547, virt) or a board name from there (m0, m3, m4f, m7, m33,
# m55, rv32imac, rv32imafc): the table gives the QEMU binary (qemu-system-arm or
# qemu-system-riscv32) and the machine, so a new board needs no change here.
# RISC-V "virt" runs with -bios none (QEMU starts the hart at the image).
# The program's semihosting stdout/stderr go to this script's stdout/stderr.
# QEMU's stdin is /dev/null, so the script never waits on a terminal.
# Set QEMU (Arm) or QEMU_RISCV (RISC-V) to use another QEMU binary.
set -eu

prog=${0##*/}
boards=$(dirname "$0")/../../mk/boards.mk

# The rows of mk/boards.mk as "board qemu machine" lines.
table() {
    sed -n 's/^\$(call mcu_board, *\([^,]*\),[^,]*, *\([^,]*\), *\([^,]*\),.*/\1 \2 \3/p' "$boards" |
        tr -s ' '
}

usage() {
    echo "usage: $prog MACHINE ELF [TIMEOUT_SECONDS]" >&2
    echo "  MACHINE: a QEMU machine or a board of mk/boards.mk:" >&2
    table | awk '{ printf "    %-10s %-20s %s\n", $1, $2, $3 }' >&2
    exit 125
}

if [ "$#" -lt 2 ] || [ "$#" -gt 3 ]; then usage; fi
machine=$1
elf=$2
limit=${3:-${TR_QEMU_TIMEOUT:-60}}

if [ ! -f "$boards" ]; then
    echo "$prog: $boards: no such file (the board table)" >&2
    exit 125
fi
row=$(table | awk -v m="$machine" '$1 == m { print; exit }')
[ -n "$row" ] || row=$(table | awk -v m="$machine" '$3 == m { print; exit }')
if [ -z "$row" ]; then echo "$prog: unknown machine '$machine'" >&2; usage; fi
set -- $row
machine=$3
extra=
case $2 in
    qemu-system-arm) QEMU=${QEMU:-qemu-system-arm} ;;
    qemu-system-riscv32) QEMU=${QEMU_RISCV:-qemu-system-riscv32}; extra="-bios none" ;;
    *) QEMU=$2 ;;
esac
case $limit in
    '' | *[!0-9]*) echo "$prog: TIMEOUT_SECONDS must be a positive integer, got '$limit'" >&2; usage ;;
esac
[ "$limit" -gt 0 ] || usage
if [ ! -f "$elf" ]; then
    echo "$prog: $elf: no such file" >&2
    exit 125
fi
if ! command -v "$QEMU" >/dev/null 2>&1; then
    echo "$prog: $QEMU not found (make mcu-toolchain)" >&2
    exit 125
fi
if ! command -v timeout >/dev/null 2>&1; then
    echo "$prog: timeout(1) from coreutils not found" >&2
    exit 125
fi

# timeout: SIGTERM after $limit s, SIGKILL 5 s later if QEMU ignores it.
set +e
timeout --kill-after=5 "$limit" \
    "$QEMU" -M "$machine" $extra \
    -display none -monitor none -serial stdio \
    -semihosting-config enable=on,target=native \
    -kernel "$elf" </dev/null
status=$?
set -e

# 124: timed out (SIGTERM); 137: timed out and had to be killed (SIGKILL).
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    echo "$prog: TIMEOUT: $elf on $machine did not finish within ${limit}s (hang?)" >&2
    exit 124
fi
if [ "$status" -ge 128 ]; then
    echo "$prog: $QEMU died with status $status (signal $((status - 128))) running $elf" >&2
fi
exit "$status"
