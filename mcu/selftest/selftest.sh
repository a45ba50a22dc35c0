#!/usr/bin/env bash
# mcu/selftest/selftest.sh - self-test of the tinyreptile_ref MCU build and QEMU
# plumbing, for both targets (m4f: mps2-an386 hard float, m3: mps2-an385
# soft float). Proves:
#   - exit status propagation (hello -> 0, fail -> 3);
#   - a HardFault exits non-zero (crash -> 70, with a FATAL report), and so
#     does a stack overflow (overflow -> 70, caught by the MPU guard);
#   - a hang is timed out (hang -> 124, with a TIMEOUT message);
#   - float32 results are bit-identical to the host build of the same C
#     (dot product bits), printf of floats works, no fused multiply-add at
#     run time (fma_probe bits 0);
#   - mcu/tools/check-no-fma.sh flags an M4F build without -ffp-contract=off and
#     passes the production build.
# Runs from any directory; needs make, the arm-none-eabi toolchain with
# newlib, and qemu-system-arm (make -f mk/mcu.mk mcu-toolchain).
# Ends with "selftest: N passed, N failed"; exit 1 if anything failed.
set -eu

cd "$(dirname "$0")/../.."

CROSS=${CROSS:-arm-none-eabi-}
QEMU=${QEMU:-qemu-system-arm}
MAKE=${MAKE:-make}
HOSTCC=${HOSTCC:-cc}
export CROSS QEMU

npass=0
nfail=0
pass() { npass=$((npass + 1)); echo "PASS: $*"; }
fail() { nfail=$((nfail + 1)); echo "FAIL: $*"; }

for tool in "${CROSS}gcc" "${CROSS}objdump" "$QEMU" "$MAKE"; do
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
if "$MAKE" -s -f mk/mcu.mk CROSS="$CROSS" mcu-demos >"$tmp/build.log" 2>&1; then
    pass "build demos for m4f and m3"
else
    cat "$tmp/build.log"
    fail "build demos for m4f and m3"
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

for t in m4f m3; do
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

    # crash: HardFault -> exit 70 with a FATAL report
    run "$t" crash
    if [ "$rc" -eq 70 ] && grep -q 'tr_port: FATAL HardFault' "$tmp/crash.$t.err"; then
        pass "$t crash (udf) -> HardFault -> exit 70"
    else
        fail "$t crash exit status $rc, expected 70 with a FATAL HardFault report"
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

# The fused build really computes differently: fma_probe keeps the 2^-24.
if "$MAKE" -s -f mk/mcu.mk CROSS="$CROSS" MCU_BUILD="$tmp/fused" \
    MCU_STD_FLAGS=-std=gnu99 "$tmp/fused/m4f/hello.elf" >"$tmp/fbuild.log" 2>&1 &&
    mcu/tools/run-qemu.sh m4f "$tmp/fused/m4f/hello.elf" 30 >"$tmp/fused.out" 2>&1 &&
    grep -qx 'fma_probe bits=0x33800000' "$tmp/fused.out"; then
    pass "fused M4F build gives fma_probe bits=0x33800000 at run time (the probe detects fusion)"
else
    fail "fused M4F build: expected fma_probe bits=0x33800000"
    cat "$tmp/fbuild.log" "$tmp/fused.out" 2>/dev/null || true
fi

# Every project object of the demos, via the Makefile target.
if "$MAKE" -s -f mk/mcu.mk CROSS="$CROSS" mcu-check-fma >"$tmp/fma.log" 2>&1; then
    pass "make mcu-check-fma: no fused multiply-add in the M4F demo objects"
else
    fail "make mcu-check-fma"
    cat "$tmp/fma.log"
fi

echo "selftest: $npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
