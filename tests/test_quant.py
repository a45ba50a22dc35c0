"""quant: requantization, quantize/dequantize, transport, int8 SGD and Reptile. The C kernels
equal their NumPy twins bit for bit; the twins are checked against exact rational arithmetic
(fractions.Fraction) implementing the published rounding rules independently."""
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinyreptile_ref import AccumulatorOverflowError
from tinyreptile_ref.kernels.quant import (
    INT32_MAX,
    INT32_MIN,
    activation_range,
    multiply_by_quantized_multiplier,
    output_multiplier,
    quantize_multiplier,
)
from tinyreptile_ref.testing import assert_bits_equal, f32_arrays, floats32

F32 = np.float32


# ------------------------------------------------ exact references of the published rules

def ref_srdhm(a, b):
    """SaturatingRoundingDoublingHighMul: a*b/2^31 to nearest, ties toward +inf; saturates."""
    if a == b == INT32_MIN:
        return INT32_MAX
    return math.floor(Fraction(a * b, 2**31) + Fraction(1, 2))


def ref_rdbpot(x, e):
    """RoundingDivideByPOT: x/2^e to nearest, ties away from zero."""
    q = Fraction(x, 2**e)
    r = math.floor(abs(q) + Fraction(1, 2))
    return r if q >= 0 else -r


def ref_mbqm(x, m, s):
    """MultiplyByQuantizedMultiplier, double rounding."""
    return ref_rdbpot(ref_srdhm(x * 2 ** max(s, 0), m), max(-s, 0))


def ref_round_half_away(q):
    r = math.floor(abs(q) + Fraction(1, 2))
    return r if q >= 0 else -r


def ref_quantize_multiplier(real):
    """QuantizeMultiplier from its definition, in exact rationals: real = q * 2^e with
    1/2 <= |q| < 1; q_fixed = round(q * 2^31) half away; carry; flush below 2^-31."""
    if real == 0:
        return 0, 0
    r = Fraction(real)
    e = 0
    while abs(r) >= 1:
        r /= 2
        e += 1
    while abs(r) < Fraction(1, 2):
        r *= 2
        e -= 1
    q = ref_round_half_away(r * 2**31)
    if q == 2**31:
        q, e = 2**30, e + 1
    if e < -31:
        return 0, 0
    return q, e


EDGE_I32 = [INT32_MIN, INT32_MIN + 1, -(2**30), -3, -2, -1, 0, 1, 2, 3, 2**30, INT32_MAX - 1,
            INT32_MAX]
int32s = st.one_of(st.sampled_from(EDGE_I32), st.integers(INT32_MIN, INT32_MAX),
                   st.integers(-300, 300),
                   # odd multiples of a power of two: exact halves at some rounding step
                   st.builds(lambda k, p: max(INT32_MIN, min(INT32_MAX, (2 * k + 1) << p)),
                             st.integers(-1000, 1000), st.integers(0, 30)))
multipliers = st.one_of(st.sampled_from([INT32_MIN, INT32_MAX, 2**30, -(2**30), 1, -1, 0]),
                        st.integers(INT32_MIN, INT32_MAX),
                        st.builds(lambda p, sg: sg * 2**p, st.integers(0, 30), st.sampled_from([1, -1])))
shifts = st.integers(-31, 30)


def fits(x, s):
    return INT32_MIN <= x * 2 ** max(s, 0) <= INT32_MAX


# ------------------------------------------------------------------------ requantization

@given(int32s, multipliers, shifts)
def test_mbqm_twin_matches_exact_rational_rounding(x, m, s):
    if not fits(x, s):
        x = x >> 31  # -1 or 0: fits every shift
    got = int(multiply_by_quantized_multiplier(np.int64(x), m, s))
    assert got == ref_mbqm(x, m, s)


def test_mbqm_every_shift_from_minus_31_to_30_against_exact_rationals(cb, npb):
    xs = [x for x in EDGE_I32 + [5, -5, 7, -7, 12345, -12345, 2**20 + 2**19, -(2**20 + 2**19)]]
    ms = [INT32_MIN, INT32_MAX, 2**30, -(2**30), 1518500250, -1518500250, 1]
    for s in range(-31, 31):
        x = np.array([[v] for v in xs if fits(v, s)], np.int32).repeat(len(ms), axis=1)
        mult = np.array(ms, np.int32)
        shift = np.full(len(ms), s, np.int32)
        yc = cb.multiply_by_quantized_multiplier_s32(x, mult, shift)
        yn = npb.multiply_by_quantized_multiplier_s32(x, mult, shift)
        assert_bits_equal(yc, yn, f"shift {s}")
        expect = np.array([[ref_mbqm(int(v), m, s) for m in ms] for v in x[:, 0]], np.int64)
        assert np.array_equal(yn.astype(np.int64), expect), s


@st.composite
def mbqm_cases(draw):
    C = draw(st.integers(1, 5))
    n = draw(st.integers(0, 6))
    mult = np.array(draw(st.lists(multipliers, min_size=C, max_size=C)), np.int32)
    shift = np.array(draw(st.lists(shifts, min_size=C, max_size=C)), np.int32)
    x = np.array([[draw(int32s) for _ in range(C)] for _ in range(n)], np.int32).reshape(n, C)
    ok = np.vectorize(fits, otypes=[bool])(x.astype(np.int64), shift[None, :].astype(np.int64))
    x = np.where(ok, x, x >> 31).astype(np.int32)
    return x, mult, shift


@given(mbqm_cases())
def test_mbqm_c_matches_numpy_twin_bitwise_per_channel_mixed_signs(cb, npb, case):
    x, mult, shift = case
    assert_bits_equal(cb.multiply_by_quantized_multiplier_s32(x, mult, shift),
                      npb.multiply_by_quantized_multiplier_s32(x, mult, shift))


def test_doubling_high_mul_saturates_int32_min_squared(backend):
    x = np.array([INT32_MIN, INT32_MIN, INT32_MIN + 1, INT32_MAX], np.int32)
    m = np.full(1, INT32_MIN, np.int32)
    y = backend.multiply_by_quantized_multiplier_s32(x, m, np.zeros(1, np.int32))
    # (-2^31)(-2^31)/2^31 = 2^31 does not fit: saturates; the others are exact (+-(2^31 - 1))
    assert y.tolist() == [INT32_MAX, INT32_MAX, INT32_MAX, -INT32_MAX]


def test_ties_follow_the_two_published_rules_not_one_rounding(backend):
    # multiplier 2^30 is one half: x*2^30/2^31 = x/2 is a tie for odd x.
    half = np.full(1, 2**30, np.int32)
    x = np.array([1, -1, 3, -3, 5, -5], np.int32)
    # shift 0: SaturatingRoundingDoublingHighMul alone, ties toward +inf
    assert backend.multiply_by_quantized_multiplier_s32(x, half, np.zeros(1, np.int32)).tolist() \
        == [1, 0, 2, -1, 3, -2]
    # shift -1: x/4 rounded twice: 5/2 -> 3 (toward +inf), 3/2 -> 2 (away from zero), where
    # one rounding of 5/4 would give 1; -1/2 -> 0; -3/2 -> -1, -1/2 -> -1 (away from zero).
    assert backend.multiply_by_quantized_multiplier_s32(x, half, np.full(1, -1, np.int32)).tolist() \
        == [1, 0, 1, -1, 2, -1]


def test_left_shift_that_leaves_int32_is_refused(backend):
    m = np.full(1, 2**30, np.int32)
    s = np.ones(1, np.int32)
    assert backend.multiply_by_quantized_multiplier_s32(
        np.array([2**30 - 1, -(2**30)], np.int32), m, s).tolist() == [2**30 - 1, -(2**30)]
    with pytest.raises(AccumulatorOverflowError, match="^x: "):
        backend.multiply_by_quantized_multiplier_s32(np.array([0, 2**30], np.int32), m, s)


def test_c_refuses_a_left_shift_overflow_with_a_status(cb):
    lib, ffi = cb.lib, cb.ffi
    x = np.array([2**30], np.int32)
    m = np.array([2**30], np.int32)
    s = np.array([1], np.int32)
    y = np.zeros(1, np.int32)
    p = lambda a: ffi.from_buffer("int32_t[]", a)  # noqa: E731
    assert lib.tr_multiply_by_quantized_multiplier_s32(p(y), p(x), p(m), p(s), 1, 1) == lib.TR_ERR_OVERFLOW
    s[0] = 31
    assert lib.tr_multiply_by_quantized_multiplier_s32(p(y), p(x), p(m), p(s), 1, 1) == lib.TR_ERR_PARAM


# ----------------------------------------------------------------- quantize_multiplier

reals = st.one_of(
    st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False),
    st.floats(min_value=2.0**-40, max_value=4.0).map(lambda v: v * 2.0 ** -20),
    st.builds(lambda k, e: (k + 0.5) * 2.0**-31 * 2.0**e, st.integers(2**30, 2**31 - 1),
              st.integers(-40, 40)))  # exact ties of q * 2^31


@given(reals)
def test_quantize_multiplier_matches_its_exact_definition(real):
    assert quantize_multiplier(real) == ref_quantize_multiplier(real)


def test_quantize_multiplier_rounds_ties_away_from_zero_carries_and_flushes():
    assert quantize_multiplier(0.5 + 2.0**-32) == (2**30 + 1, 0)     # Python round() gives 2^30
    assert quantize_multiplier(-(0.5 + 2.0**-32)) == (-(2**30 + 1), 0)
    assert quantize_multiplier(0.5 + 3 * 2.0**-32) == (2**30 + 2, 0)
    assert quantize_multiplier(1.0 - 2.0**-40) == (2**30, 1)           # q*2^31 rounds to 2^31
    assert quantize_multiplier(1.0) == (2**30, 1)
    assert quantize_multiplier(2.0**-32) == (2**30, -31)
    assert quantize_multiplier(2.0**-33) == (0, 0)                      # shift -32: flushed
    assert quantize_multiplier(0.0) == (0, 0)


@given(st.floats(min_value=2.0**-31, max_value=2.0**29))
def test_quantize_multiplier_represents_the_real_within_half_a_unit(real):
    m, s = quantize_multiplier(real)
    assert 2**30 <= m < 2**31 and -31 <= s <= 30
    assert abs(Fraction(m) * Fraction(2) ** s / 2**31 - Fraction(real)) <= Fraction(2) ** (s - 32)


def test_output_multiplier_is_tflites_double_product_per_channel():
    m, s = output_multiplier(F32(0.02), np.array([0.001, 0.5], F32), F32(0.1))
    for c, w in enumerate((0.001, 0.5)):
        real = float(F32(0.02)) * float(F32(w)) / float(F32(0.1))
        assert (int(m[c]), int(s[c])) == quantize_multiplier(real)


def test_activation_range_follows_tflite():
    assert activation_range("none", 0.1, 3) == (-128, 127)
    assert activation_range("relu", 0.1, 3) == (3, 127)
    assert activation_range("relu6", 6 / 255, -128) == (-128, 127)
    assert activation_range("relu6", 0.1, -20) == (-20, 40)


# ---------------------------------------------------------------- quantize, dequantize

scales = st.one_of(st.sampled_from([1.0, 0.5, 0.25, 2.0**-10, 2.0**-126, 2.0**-149, 8.0]),
                   st.floats(2.0**-20, 100.0, width=32), floats32(min_value=2.0**-125, max_value=2.0**126,
                                                              allow_nan=False, allow_infinity=False,
                                                              allow_subnormal=False))
zero_points = st.integers(-128, 127)


def expected_quantize(x, scale, zp):
    out = []
    for v in x.ravel():
        if np.isnan(v):
            r = 0
        elif np.isinf(v):
            r = 10**6 if v > 0 else -(10**6)
        else:
            q = F32(np.float64(v) / np.float64(scale))  # correctly rounded float32 quotient
            r = 10**6 * int(np.sign(q)) if np.isinf(q) else ref_round_half_away(Fraction(float(q)))
        out.append(min(max(r + zp, -128), 127))
    return np.array(out, np.int8).reshape(x.shape)


@given(f32_arrays(st.tuples(st.integers(0, 4), st.integers(0, 9))), scales, zero_points)
def test_quantize_c_matches_twin_and_the_rounding_rule(cb, npb, x, scale, zp):
    qc = cb.quantize_s8(x, scale, zp)
    qn = npb.quantize_s8(x, scale, zp)
    assert_bits_equal(qc, qn)
    assert np.array_equal(qn, expected_quantize(x, F32(scale), zp))


@given(st.lists(st.integers(-400, 400), min_size=1, max_size=20), st.integers(-12, 4), zero_points)
def test_quantize_ties_round_away_from_zero(cb, npb, halves, p, zp):
    scale = 2.0**p                                 # power of two: x / scale is exact
    x = (np.array(halves, np.float64) / 2 * scale).astype(F32)
    expect = [min(max(ref_round_half_away(Fraction(h, 2)) + zp, -128), 127) for h in halves]
    for be in (cb, npb):
        assert be.quantize_s8(x, scale, zp).tolist() == expect


@given(hnp.arrays(np.int8, st.integers(0, 30)), scales, zero_points)
def test_dequantize_c_matches_twin_and_is_one_rounded_product(cb, npb, q, scale, zp):
    xc = cb.dequantize_s8(q, scale, zp)
    assert_bits_equal(xc, npb.dequantize_s8(q, scale, zp))
    exact = (np.float64(F32(scale)) * (q.astype(np.float64) - zp)).astype(F32)  # exact, rounded once
    assert_bits_equal(xc, exact)


# -------------------------------------------------------------------------- transport

def transport_bound(s):
    s = np.float64(s)
    return s * (0.5 + 255 * 2.0**-24) + 2.0**-143


@given(f32_arrays(st.integers(0, 70), allow_nan=False, allow_infinity=False),
       st.integers(1, 80))
def test_transport_c_matches_twin_and_round_trip_stays_within_the_bound(cb, npb, x, chunk):
    qc, sc = cb.transport_quantize_s8(x, chunk)
    qn, sn = npb.transport_quantize_s8(x, chunk)
    assert_bits_equal(qc, qn, "q")
    assert_bits_equal(sc, sn, "scale")
    assert qn.min(initial=0) >= -127
    back = cb.transport_dequantize_s8(qc, sc, chunk)
    assert_bits_equal(back, npb.transport_dequantize_s8(qn, sn, chunk))
    assert np.all(np.isfinite(back))
    s_each = np.repeat(sn, chunk)[:x.shape[0]]
    err = np.abs(x.astype(np.float64) - back.astype(np.float64))
    assert np.all(err <= transport_bound(s_each))
    # the scale is the documented one: m / 127 rounded, except the two clamps
    for c, s in enumerate(sn):
        m = np.abs(x[c * chunk:(c + 1) * chunk]).max()
        if 2.0**-100 < m < 1e37:
            assert s == F32(np.float64(m) / 127)


def test_transport_bound_is_reached_to_within_a_hair(npb):
    # values half a step apart from the grid hit the half-step term of the bound
    s = 2.0**-7
    x = np.array([127 * s] + [(k + 0.5) * s for k in range(-100, 100, 7)], F32)
    q, sc = npb.transport_quantize_s8(x, x.size)
    err = np.abs(x.astype(np.float64) - npb.transport_dequantize_s8(q, sc, x.size))
    assert sc[0] == F32(s)
    assert err.max() == s / 2


def test_transport_extremes_stay_finite_and_zero_chunks_have_scale_zero(backend):
    big = np.finfo(F32).max
    x = np.array([big, -big, 0.0, 0.0, 1e-45, -1e-45, 3e-45, 0.0], F32)
    q, s = backend.transport_quantize_s8(x, 2)
    back = backend.transport_dequantize_s8(q, s, 2)
    assert np.all(np.isfinite(back))
    assert s[1] == 0 and q[2] == q[3] == 0
    assert np.all(np.abs(x.astype(np.float64) - back) <= transport_bound(np.repeat(s, 2)))
    assert back[4] == x[4] and back[5] == x[5]    # a subnormal chunk travels exactly


# ----------------------------------------------------------------- int8 SGD and Reptile

@st.composite
def sgd_cases(draw):
    n = draw(st.integers(0, 30))
    theta = draw(hnp.arrays(np.int8, n))
    g = np.array(draw(st.lists(int32s, min_size=n, max_size=n)), np.int32)
    m, s = draw(multipliers), draw(shifts)
    g = np.where([fits(int(v), s) for v in g], g, g >> 31).astype(np.int32) if n else g
    return theta, g, m, s


@given(sgd_cases())
def test_sgd_step_s8_c_matches_twin_and_formula(cb, npb, case):
    theta, g, m, s = case
    tc, tn = theta.copy(), theta.copy()
    assert cb.sgd_step_s8(tc, g, m, s) is None
    npb.sgd_step_s8(tn, g, m, s)
    assert_bits_equal(tc, tn)
    expect = [min(max(int(t) - ref_mbqm(int(v), m, s), -128), 127) for t, v in zip(theta, g)]
    assert tn.tolist() == expect


def test_sgd_step_s8_saturates_at_both_ends(backend):
    theta = np.array([120, -120, 0], np.int8)
    g = np.array([-1000, 1000, 5], np.int32)
    m, s = quantize_multiplier(0.5)
    backend.sgd_step_s8(theta, g, m, s)
    assert theta.tolist() == [127, -128, -3]        # 0 - 2.5 rounded toward +inf


@st.composite
def reptile_cases(draw):
    n = draw(st.integers(0, 30))
    return (draw(hnp.arrays(np.int8, n)), draw(hnp.arrays(np.int8, n)),
            draw(st.one_of(st.floats(0, 1), st.sampled_from([0.0, 0.5, 1.0, 0.25, 0.1]))))


@given(reptile_cases())
def test_reptile_s8_c_matches_twin_and_stays_between_theta_and_phi(cb, npb, case):
    theta, phi, eps = case
    m, s = quantize_multiplier(eps)
    tc, tn = theta.copy(), theta.copy()
    cb.reptile_interpolate_s8(tc, phi, m, s)
    npb.reptile_interpolate_s8(tn, phi, m, s)
    assert_bits_equal(tc, tn)
    expect = [int(t) + ref_mbqm(int(p) - int(t), m, s) for t, p in zip(theta, phi)]
    assert tn.tolist() == expect                    # no saturation needed for eps in [0, 1]
    lo, hi = np.minimum(theta, phi), np.maximum(theta, phi)
    assert np.all((tn >= lo) & (tn <= hi))
    # within one step of the real interpolation
    real = theta.astype(np.float64) + eps * (phi.astype(np.float64) - theta)
    assert np.all(np.abs(tn - real) <= 1)


def test_reptile_s8_with_eps_one_lands_on_phi_and_zero_keeps_theta(backend):
    theta = np.array([-128, 5, 127, 0], np.int8)
    phi = np.array([127, -7, -128, 0], np.int8)
    t = theta.copy()
    backend.reptile_interpolate_s8(t, phi, *quantize_multiplier(0.0))
    assert np.array_equal(t, theta)
    backend.reptile_interpolate_s8(t, phi, *quantize_multiplier(1.0))
    assert np.array_equal(t, phi)


def test_reptile_s8_extrapolation_saturates(backend):
    theta = np.array([0, 0], np.int8)
    phi = np.array([100, -100], np.int8)
    backend.reptile_interpolate_s8(theta, phi, *quantize_multiplier(2.0))
    assert theta.tolist() == [127, -128]
