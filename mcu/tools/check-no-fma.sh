#!/usr/bin/env bash
# mcu/tools/check-no-fma.sh OBJ_OR_ELF...
#
# Disassembles each object or ELF with $(CROSS)objdump -d and fails if any
# fused multiply-add instruction (vfma, vfms, vfnma, vfnms, in any form or
# condition) appears. Fused operations round once instead of twice, so they
# break bit-exactness against the NumPy twin; every build must use
# -ffp-contract=off.
#
# Exit status: 0 none found, 1 found (each one is named with its function
# and address), 2 usage error or objdump failure.
set -eu

CROSS=${CROSS:-arm-none-eabi-}
OBJDUMP=${OBJDUMP:-${CROSS}objdump}
prog=${0##*/}

if [ "$#" -eq 0 ]; then
    echo "usage: $prog OBJ_OR_ELF..." >&2
    exit 2
fi
if ! command -v "$OBJDUMP" >/dev/null 2>&1; then
    echo "$prog: $OBJDUMP not found (make mcu-toolchain)" >&2
    exit 2
fi

status=0
for f in "$@"; do
    if [ ! -f "$f" ]; then
        echo "$prog: $f: no such file" >&2
        exit 2
    fi
    if ! dis=$("$OBJDUMP" -d --no-show-raw-insn "$f" 2>&1); then
        printf '%s\n' "$dis" >&2
        echo "$prog: $OBJDUMP failed on $f" >&2
        exit 2
    fi
    # objdump -d lines: "<hex addr> <func>:" starts a function;
    # "  addr:<TAB>mnemonic<TAB>operands" is an instruction.
    hits=$(printf '%s\n' "$dis" | awk '
        /^[0-9a-f]+ <.*>:$/ {
            fn = $2; sub(/^</, "", fn); sub(/>:$/, "", fn); next
        }
        /^ *[0-9a-f]+:\t/ {
            n = split($0, col, "\t")
            if (n < 2) next
            mn = col[2]; sub(/[ \t].*$/, "", mn)
            if (mn ~ /^vfn?m[as]/) {
                addr = col[1]; sub(/^ */, "", addr); sub(/:$/, "", addr)
                ops = (n >= 3) ? col[3] : ""
                printf "function %s, 0x%s: %s %s\n", fn, addr, mn, ops
            }
        }')
    if [ -n "$hits" ]; then
        printf '%s\n' "$hits" | while IFS= read -r line; do
            printf 'FMA: %s: %s\n' "$f" "$line"
        done
        echo "$prog: FAIL: $f contains fused multiply-add instructions (build with -ffp-contract=off)" >&2
        status=1
    else
        echo "$prog: OK: no fused multiply-add in $f"
    fi
done
exit "$status"
