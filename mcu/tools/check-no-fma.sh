#!/usr/bin/env bash
# mcu/tools/check-no-fma.sh OBJ_OR_ELF...
#
# Disassembles each object or ELF and fails if any fused multiply-add instruction appears.
# Fused operations round once instead of twice, so they break bit-exactness against the
# NumPy twin; every build must use -ffp-contract=off. The ISA comes from the ELF header
# (e_machine), so one call can mix boards:
#   Arm (EM_ARM, 40)      $(CROSS)objdump: vfma, vfms, vfnma, vfnms in any form, size or
#                         condition (VFP scalar, and MVE's vector forms vfma.f32 q, vfmas)
#   RISC-V (EM_RISCV, 243) $(CROSS_RISCV)objdump: fmadd, fmsub, fnmadd, fnmsub (.s .d .h .q)
#                         and the vector extension's vfmacc, vfnmacc, vfmsac, vfnmsac,
#                         vfmadd, vfnmadd, vfmsub, vfnmsub (and their widening vfw* forms)
#
# Exit status: 0 none found, 1 found (each one is named with its function
# and address), 2 usage error or objdump failure.
set -eu

CROSS=${CROSS:-arm-none-eabi-}
CROSS_RISCV=${CROSS_RISCV:-riscv64-unknown-elf-}
OBJDUMP_ARM=${OBJDUMP:-${CROSS}objdump}
OBJDUMP_RISCV=${OBJDUMP_RISCV:-${CROSS_RISCV}objdump}
prog=${0##*/}

if [ "$#" -eq 0 ]; then
    echo "usage: $prog OBJ_OR_ELF..." >&2
    exit 2
fi

status=0
for f in "$@"; do
    if [ ! -f "$f" ]; then
        echo "$prog: $f: no such file" >&2
        exit 2
    fi
    # A static library: check each member object (ar extracts any target's archive).
    if [ "$(head -c 7 "$f")" = '!<arch>' ]; then
        members=$(mktemp -d)
        abs=$(cd "$(dirname "$f")" && pwd)/$(basename "$f")
        if ! (cd "$members" && ar x "$abs") || [ -z "$(ls -A "$members")" ]; then
            rm -rf "$members"
            echo "$prog: $f: cannot extract the archive's members" >&2
            exit 2
        fi
        echo "$prog: $f: the archive's members:"
        rc=0
        "$0" "$members"/* || rc=$?
        rm -rf "$members"
        case $rc in
            0) ;;
            1) status=1 ;;
            *) exit 2 ;;
        esac
        continue
    fi
    # e_machine: 2 bytes, little-endian, at offset 18 of the ELF header.
    magic=$(od -An -c -N4 "$f" | tr -d ' ')
    mach=$(od -An -tu2 -j18 -N2 "$f" | tr -d ' ')
    if [ "$magic" != '177ELF' ]; then
        echo "$prog: $f: not an ELF file" >&2
        exit 2
    fi
    case $mach in
        40) OBJDUMP=$OBJDUMP_ARM; fused='^vfn?m[as]' ;;
        243) OBJDUMP=$OBJDUMP_RISCV; fused='^(f(n)?m(add|sub)\.|vfw?n?m(acc|sac|add|sub)\.)' ;;
        *) echo "$prog: $f: ELF machine $mach is neither Arm (40) nor RISC-V (243)" >&2; exit 2 ;;
    esac
    if ! command -v "$OBJDUMP" >/dev/null 2>&1; then
        echo "$prog: $OBJDUMP not found (make mcu-toolchain)" >&2
        exit 2
    fi
    # binutils decodes MVE's coprocessor-space encodings (vfmas among them) only when told
    # the architecture; objects with MVE (Tag_MVE_arch) are disassembled as Armv8.1-M.
    march=
    if [ "$mach" = 40 ] && "${OBJDUMP%objdump}readelf" -A "$f" 2>/dev/null | grep -q 'Tag_MVE_arch'; then
        march="-m armv8.1-m.main"
    fi
    # shellcheck disable=SC2086
    if ! dis=$("$OBJDUMP" -d $march --no-show-raw-insn "$f" 2>&1); then
        printf '%s\n' "$dis" >&2
        echo "$prog: $OBJDUMP failed on $f" >&2
        exit 2
    fi
    # objdump -d lines: "<hex addr> <func>:" starts a function;
    # "  addr:<TAB>mnemonic<TAB>operands" is an instruction.
    hits=$(printf '%s\n' "$dis" | awk -v fused="$fused" '
        /^[0-9a-f]+ <.*>:$/ {
            fn = $2; sub(/^</, "", fn); sub(/>:$/, "", fn); next
        }
        /^ *[0-9a-f]+:\t/ {
            n = split($0, col, "\t")
            if (n < 2) next
            mn = col[2]; sub(/[ \t].*$/, "", mn)
            if (mn ~ fused) {
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
