#!/usr/bin/env bash
# mcu/selftest/selftest.sh - self-test of the tinyreptile_ref MCU build and QEMU
# plumbing, for every board of mk/boards.mk (BOARDS="m4f m3" for a subset). Proves:
#   - exit status propagation (hello -> 0, fail -> 3, fail1 -> 1: the golden-vector
#     runner's failure status must not turn into a pass);
#   - a HardFault exits non-zero (crash -> 70, with a FATAL report), and so
#     does a stack overflow (overflow -> 70, caught by the MPU guard);
#   - a hang is timed out (hang -> 124, with a TIMEOUT message);
#   - float32 results are bit-identical to the host build of the same C
#     (dot product bits), printf of floats works, no fused multiply-add at
#     run time (fma_probe bits 0);
#   - the floating-point environment check: on every hard-float board a build that sets
#     flush-to-zero before the check (-DTR_PORT_TEST_FPENV) is refused with exit 71 and
#     a message (on M4F also default NaN and round toward zero; on RISC-V frm=RTZ);
#   - mcu/tools/check-no-fma.sh flags a contracted build of every hard-float ISA (Arm
#     VFP, Arm MVE, RISC-V F) and passes the production builds.
# Runs from any directory; needs make, the arm-none-eabi toolchain with
# newlib, qemu-system-arm, and for the RISC-V boards riscv64-unknown-elf-gcc with
# picolibc and qemu-system-riscv32 (make -f mk/mcu.mk mcu-toolchain).
# Ends with "selftest: N passed, N failed"; exit 1 if anything failed.
set -eu

cd "$(dirname "$0")/../.."

CROSS=${CROSS:-arm-none-eabi-}
CROSS_RISCV=${CROSS_RISCV:-riscv64-unknown-elf-}
QEMU=${QEMU:-qemu-system-arm}
QEMU_RISCV=${QEMU_RISCV:-qemu-system-riscv32}
MAKE=${MAKE:-make}
HOSTCC=${HOSTCC:-cc}
export CROSS CROSS_RISCV QEMU QEMU_RISCV
# Every board of the table (mk/boards.mk), unless BOARDS names some.
all_boards=$(sed -n 's/^\$(call mcu_board, *\([^,]*\),.*/\1/p' mk/boards.mk | tr -d ' ')
BOARDS=${BOARDS:-$all_boards}
BOARDS=$(printf '%s ' $BOARDS)
[ -n "${BOARDS// /}" ] || { echo "selftest: no boards"; exit 1; }
row() { grep "^\$(call mcu_board, *$1," mk/boards.mk; }
hardfloat() { row "$1" | grep -qE -- '-mfloat-abi=hard|-mabi=ilp32[fd]'; }
isriscv() { row "$1" | grep -q 'riscv'; }

npass=0
nfail=0
pass() { npass=$((npass + 1)); echo "PASS: $*"; }
fail() { nfail=$((nfail + 1)); echo "FAIL: $*"; }

for tool in "${CROSS}gcc" "${CROSS}objdump" "${CROSS_RISCV}gcc" "${CROSS_RISCV}objdump" "$QEMU" "$QEMU_RISCV" "$MAKE"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "selftest: $tool not found; run: make -f mk/mcu.mk mcu-toolchain" >&2
        echo "selftest: 0 passed, 1 failed"
        exit 1
    fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tr-mcu-selftest.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# ---- build -----------------------------------------------------------------
demo_elfs=
for t in $BOARDS; do
    for d in hello fail fail1 crash hang overflow; do demo_elfs="$demo_elfs build/mcu/$t/$d.elf"; done
done
# shellcheck disable=SC2086
if "$MAKE" -s -f mk/mcu.mk CROSS="$CROSS" CROSS_RISCV="$CROSS_RISCV" $demo_elfs >"$tmp/build.log" 2>&1; then
    pass "build demos for $BOARDS"
else
    cat "$tmp/build.log"
    fail "build demos for $BOARDS"
    echo "selftest: $npass passed, $nfail failed"
    exit 1
fi

# ---- host reference ----------------------------------------------------------
ref_dot=
ref_fmt=
if command -v "$HOSTCC" >/dev/null 2>&1 &&
    "$HOSTCC" -std=c99 -ffp-contract=off -Wall -Wextra -Wpedantic \
        -Wmissing-prototypes -Werror -O2 -Imcu/port mcu/selftest/hello.c mcu/port/stackmark.c \
        -o "$tmp/hello-host" 2>"$tmp/host.log" &&
    "$tmp/hello-host" >"$tmp/host.out"; then
    ref_dot=$(grep '^dot bits=' "$tmp/host.out")
    ref_fmt=$(grep '^dot %.9g=' "$tmp/host.out")
    echo "host reference: $ref_dot, $ref_fmt"
else
    echo "note: no host C compiler ($HOSTCC); dot bits not compared with the host"
fi

# run TARGET NAME [TIMEOUT] -> sets rc; output in $tmp/NAME.TARGET.{out,err}
run() {
    local t=$1 name=$2 limit=${3:-30}
    set +e
    mcu/tools/run-qemu.sh "$t" "build/mcu/$t/$name.elf" "$limit" \
        >"$tmp/$name.$t.out" 2>"$tmp/$name.$t.err"
    rc=$?
    set -e
}

for t in $BOARDS; do
    # hello: exit 0, bit-exact dot product, unfused a*b-c, printf %g
    t0=$(now)
    run "$t" hello
    t1=$(now)
    out="$tmp/hello.$t.out"
    if [ "$rc" -eq 0 ]; then
        pass "$t hello exits 0 ($(elapsed "$t0" "$t1") s boot+run)"
    else
        fail "$t hello exit status $rc, expected 0"
        cat "$tmp/hello.$t.err"
    fi
    if [ -n "$ref_dot" ]; then
        if grep -qxF "$ref_dot" "$out"; then
            pass "$t hello $ref_dot matches the host bit for bit"
        else
            fail "$t hello: '$(grep '^dot bits=' "$out" || true)' differs from host '$ref_dot'"
        fi
        if grep -qxF "$ref_fmt" "$out"; then
            pass "$t printf of a float works: $ref_fmt"
        else
            fail "$t printf of a float: '$(grep '^dot %' "$out" || true)' differs from host '$ref_fmt'"
        fi
    fi
    if grep -qx 'fma_probe bits=0x00000000' "$out"; then
        pass "$t no fused multiply-add at run time (fma_probe bits=0x00000000)"
    else
        fail "$t fma_probe: '$(grep '^fma_probe' "$out" || true)', expected bits=0x00000000"
    fi
    used=$(sed -n 's/^stack used=\([0-9]*\) bytes$/\1/p' "$out")
    if [ -n "$used" ] && [ "$used" -gt 0 ] && [ "$used" -lt 65536 ]; then
        pass "$t stack high-water mark measured: $used bytes"
    else
        fail "$t stack high-water mark: '$used'"
    fi

    # fail: exit status 3 propagated
    run "$t" fail
    if [ "$rc" -eq 3 ]; then
        pass "$t fail exits 3"
    else
        fail "$t fail exit status $rc, expected 3"
    fi

    # fail1: exit status 1 (the runner's "a case failed") propagated, not turned into 0
    run "$t" fail1
    if [ "$rc" -eq 1 ] && grep -qx 'fail1: returning 1' "$tmp/fail1.$t.out"; then
        pass "$t fail1 exits 1"
    else
        fail "$t fail1 exit status $rc, expected 1"
    fi

    # crash: HardFault (RISC-V: illegal instruction) -> exit 70 with a FATAL report
    run "$t" crash
    if isriscv "$t"; then what='tr_port: FATAL illegal instruction'; else what='tr_port: FATAL HardFault'; fi
    if [ "$rc" -eq 70 ] && grep -q "$what" "$tmp/crash.$t.err"; then
        pass "$t crash (udf/unimp) -> ${what#tr_port: FATAL } -> exit 70"
    else
        fail "$t crash exit status $rc, expected 70 with a '$what' report"
        cat "$tmp/crash.$t.err"
    fi

    # overflow: stack exhausted -> MPU guard -> fault -> exit 70
    run "$t" overflow
    if [ "$rc" -eq 70 ] && grep -q 'tr_port: stack overflow' "$tmp/overflow.$t.err"; then
        pass "$t overflow (runaway recursion) -> stack guard fault -> exit 70"
    else
        fail "$t overflow exit status $rc, expected 70 with a stack overflow report"
        cat "$tmp/overflow.$t.err"
    fi

    # hang: timed out -> 124 with a message
    t0=$(now)
    run "$t" hang 2
    t1=$(now)
    if [ "$rc" -eq 124 ] && grep -q 'TIMEOUT' "$tmp/hang.$t.err"; then
        pass "$t hang -> timeout after $(elapsed "$t0" "$t1") s -> exit 124"
    else
        fail "$t hang exit status $rc, expected 124 with a TIMEOUT message"
        cat "$tmp/hang.$t.err"
    fi
done

# ---- floating-point environment check (mcu/port/fpenv.h) ---------------------------
# A build that sets the mode before the start-up check, as a faulty SDK would, must be
# refused with exit 71 and a message naming the bit, before main() runs.
# fpenv_case BOARD VALUE EXPECTED_TEXT
fpenv_case() {
    local t=$1 value=$2 text=$3 dir="$tmp/fpenv-$1-$2"
    if ! "$MAKE" -s -f mk/mcu.mk CROSS="$CROSS" CROSS_RISCV="$CROSS_RISCV" MCU_BUILD="$dir" \
        MCU_EXTRA_CFLAGS="-DTR_PORT_TEST_FPENV=$value" "$dir/$t/hello.elf" >"$tmp/fpenv.log" 2>&1; then
        fail "$t fpenv $value: build failed"
        cat "$tmp/fpenv.log"
        return
    fi
    set +e
    mcu/tools/run-qemu.sh "$t" "$dir/$t/hello.elf" 30 >"$tmp/fpenv.out" 2>"$tmp/fpenv.err"
    rc=$?
    set -e
    if [ "$rc" -eq 71 ] && grep -qF "$text" "$tmp/fpenv.err" &&
        grep -q 'tr_port: FATAL floating-point environment: ' "$tmp/fpenv.err" &&
        ! grep -q '^hello from' "$tmp/fpenv.out"; then
        pass "$t start-up refuses '$text' (TR_PORT_TEST_FPENV=$value) -> exit 71"
    else
        fail "$t fpenv $value: exit $rc, expected 71 with '$text' and main() not run"
        cat "$tmp/fpenv.out" "$tmp/fpenv.err"
    fi
}
for t in $BOARDS; do
    hardfloat "$t" || continue
    if isriscv "$t"; then
        fpenv_case "$t" 1 'frm=RTZ (toward zero) is not round to nearest'
    else
        fpenv_case "$t" 0x01000000 'FZ (flush-to-zero) is set'
        if [ "$t" = m4f ]; then
            fpenv_case "$t" 0x02000000 'DN (default NaN) is set'
            fpenv_case "$t" 0x00C00000 'RMode=RZ (toward zero) is not round to nearest'
        fi
    fi
done

# ---- fused multiply-add checker ------------------------------------------------
m4f="-mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard"
warn="-Wall -Wextra -Wpedantic -Wmissing-prototypes -Werror -O2"

# Production flags: must pass.
# shellcheck disable=SC2086
"${CROSS}gcc" $m4f -std=c99 -ffp-contract=off $warn -Imcu/port -c mcu/selftest/hello.c -o "$tmp/plain.o"
if mcu/tools/check-no-fma.sh "$tmp/plain.o" >"$tmp/fma.log" 2>&1; then
    pass "check-no-fma passes M4F hello.o built with -ffp-contract=off"
else
    fail "check-no-fma rejected the -ffp-contract=off build"
    cat "$tmp/fma.log"
fi

# Without -ffp-contract=off: GNU C mode contracts by default (ISO -std=c99
# alone would not), and an explicit -ffp-contract=fast does too.
for std in "-std=gnu99" "-std=c99 -ffp-contract=fast"; do
    # shellcheck disable=SC2086
    "${CROSS}gcc" $m4f $std $warn -Imcu/port -c mcu/selftest/hello.c -o "$tmp/fused.o"
    set +e
    mcu/tools/check-no-fma.sh "$tmp/fused.o" >"$tmp/fma.log" 2>&1
    rc=$?
    set -e
    if [ "$rc" -eq 1 ] && grep -q '^FMA: .*function .*: vf' "$tmp/fma.log"; then
        pass "check-no-fma flags M4F hello.o built with '$std': $(grep -m1 '^FMA:' "$tmp/fma.log" | sed 's/^FMA: [^:]*: //')"
    else
        fail "check-no-fma did not flag the '$std' build (exit $rc)"
        cat "$tmp/fma.log"
    fi
done

# The other hard-float ISAs: MVE's vector fused multiply-adds (vfma.f32 q, vfmas, written
# with the intrinsics, which -ffp-contract does not govern) and RISC-V F's fmadd/fnmsub
# (contracted by -std=gnu99). Each must be flagged, and the production build pass.
cat >"$tmp/mvefma.c" <<'EOF_MVE'
#include <arm_mve.h>
float32x4_t vv(float32x4_t a, float32x4_t b, float32x4_t c);
float32x4_t vs(float32x4_t a, float32x4_t b, float32_t c);
float32x4_t vv(float32x4_t a, float32x4_t b, float32x4_t c) { return vfmaq_f32(a, b, c); }
float32x4_t vs(float32x4_t a, float32x4_t b, float32_t c) { return vfmasq_n_f32(a, b, c); }
EOF_MVE
m55="-mcpu=cortex-m55 -mthumb -mfloat-abi=hard"
# shellcheck disable=SC2086
"${CROSS}gcc" $m55 -std=c99 -ffp-contract=off $warn -c "$tmp/mvefma.c" -o "$tmp/mve.o"
set +e
mcu/tools/check-no-fma.sh "$tmp/mve.o" >"$tmp/fma.log" 2>&1
rc=$?
set -e
if [ "$rc" -eq 1 ] && grep -q 'vfma.f32[[:space:]]*q' "$tmp/fma.log" && grep -q 'vfmas.f32' "$tmp/fma.log"; then
    pass "check-no-fma flags M55 MVE vector FMAs ($(grep -c '^FMA:' "$tmp/fma.log") found: vfma.f32 q, vfmas.f32)"
else
    fail "check-no-fma did not flag the MVE vfma/vfmas (exit $rc)"
    cat "$tmp/fma.log"
fi
# isa_case NAME "CC FLAGS" PATTERN: hello.c contracted (gnu99) must be flagged, with
# -ffp-contract=off it must pass.
isa_case() {
    local name=$1 cc=$2 pattern=$3 std want
    for std in "-std=gnu99" "-std=c99 -ffp-contract=off"; do
        # shellcheck disable=SC2086
        $cc $std $warn -Imcu/port -c mcu/selftest/hello.c -o "$tmp/isa.o"
        set +e
        mcu/tools/check-no-fma.sh "$tmp/isa.o" >"$tmp/fma.log" 2>&1
        rc=$?
        set -e
        case $std in *contract=off) want=0 ;; *) want=1 ;; esac
        if [ "$rc" -eq "$want" ] && { [ "$want" -eq 0 ] || grep -qE "^FMA: .*: $pattern" "$tmp/fma.log"; }; then
            if [ "$want" -eq 1 ]; then
                pass "check-no-fma flags $name hello.o built with '$std': $(grep -m1 '^FMA:' "$tmp/fma.log" | sed 's/^FMA: [^:]*: //')"
            else
                pass "check-no-fma passes $name hello.o built with '$std'"
            fi
        else
            fail "check-no-fma on $name hello.o built with '$std': exit $rc, expected $want"
            cat "$tmp/fma.log"
        fi
    done
}
isa_case M55 "${CROSS}gcc $m55" 'vfn?m[as]'
isa_case M7 "${CROSS}gcc -mcpu=cortex-m7 -mthumb -mfpu=fpv5-d16 -mfloat-abi=hard" 'vfn?m[as]'
isa_case RV32IMAFC "${CROSS_RISCV}gcc --specs=picolibc.specs -march=rv32imafc -mabi=ilp32f" 'f(n)?m(add|sub)\.s'

# The fused builds really compute differently: fma_probe keeps the 2^-24.
for t in m4f rv32imafc; do
    case " $BOARDS " in *" $t "*) ;; *) continue ;; esac
    if "$MAKE" -s -f mk/mcu.mk CROSS="$CROSS" CROSS_RISCV="$CROSS_RISCV" MCU_BUILD="$tmp/fused" \
        MCU_STD_FLAGS=-std=gnu99 "$tmp/fused/$t/hello.elf" >"$tmp/fbuild.log" 2>&1 &&
        mcu/tools/run-qemu.sh "$t" "$tmp/fused/$t/hello.elf" 30 >"$tmp/fused.out" 2>&1 &&
        grep -qx 'fma_probe bits=0x33800000' "$tmp/fused.out"; then
        pass "fused $t build gives fma_probe bits=0x33800000 at run time (the probe detects fusion)"
    else
        fail "fused $t build: expected fma_probe bits=0x33800000"
        cat "$tmp/fbuild.log" "$tmp/fused.out" 2>/dev/null || true
    fi
done

# Every project object of the demos, via the Makefile target.
if "$MAKE" -s -f mk/mcu.mk CROSS="$CROSS" CROSS_RISCV="$CROSS_RISCV" mcu-check-fma >"$tmp/fma.log" 2>&1; then
    pass "make mcu-check-fma: no fused multiply-add in the demo objects of the hard-float boards"
else
    fail "make mcu-check-fma"
    cat "$tmp/fma.log"
fi

echo "selftest: $npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
