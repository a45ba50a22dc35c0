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
# MACHINE is mps2-an386 (Cortex-M4F, hard float) or mps2-an385 (Cortex-M3,
# soft float); the target names m4f and m3 are accepted as aliases.
# The program's semihosting stdout/stderr go to this script's stdout/stderr.
# QEMU's stdin is /dev/null, so the script never waits on a terminal.
# Set QEMU to use another qemu-system-arm binary.
set -eu

prog=${0##*/}
QEMU=${QEMU:-qemu-system-arm}

usage() {
    echo "usage: $prog MACHINE ELF [TIMEOUT_SECONDS]" >&2
    echo "  MACHINE: mps2-an386 (or m4f) | mps2-an385 (or m3)" >&2
    exit 125
}

if [ "$#" -lt 2 ] || [ "$#" -gt 3 ]; then usage; fi
machine=$1
elf=$2
limit=${3:-${TR_QEMU_TIMEOUT:-60}}

case $machine in
    m4f) machine=mps2-an386 ;;
    m3) machine=mps2-an385 ;;
    mps2-an385 | mps2-an386) ;;
    *) echo "$prog: unknown machine '$machine'" >&2; usage ;;
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
    "$QEMU" -M "$machine" \
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
