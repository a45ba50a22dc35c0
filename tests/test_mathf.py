"""The library's own exp, log, tanh and sin (csrc/mathf.c and its twin kernels/mathf.py).

C equals the twin bit for bit (hypothesis, and a dense sweep of bit patterns); the twin is
measured against float64 mathematics in ulps over a strided sweep of all float32 values.
Stated accuracy bounds, asserted below (measured exhaustively over all 2^32 inputs on the
host when the kernels were written: exp 0.94, log 0.86, tanh 1.04 ulp):
    exp < 1 ulp,   log < 1 ulp,   tanh < 1.1 ulp,   sin < 1 ulp for |x| < 6400
(sin measured over all float32 below 6400 when written: 0.88 ulp).
An ulp is the spacing of float32 at the exact result (2^-149 for subnormal results).
"""
import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinyreptile_ref.testing import EDGE_F32, assert_bits_equal, bits, f32_arrays

F32 = np.float32
ULP_BOUND = {"exp_f32": 1.0, "log_f32": 1.0, "tanh_f32": 1.1, "sin_f32": 1.0}
REFERENCE = {"exp_f32": np.exp, "log_f32": np.log, "tanh_f32": np.tanh, "sin_f32": np.sin}
#: the domain over which the bound is stated (sin: |x| < 6400, see mathf.c)
DOMAIN = {"sin_f32": lambda x: np.abs(x) < 6400}
NAMES = sorted(ULP_BOUND)


def patterns(stride, offset=0):
    """Every stride-th uint32 bit pattern from offset on, as float32 (all signs, NaNs, infs)."""
    return np.arange(offset, 2**32, stride, dtype=np.uint64).astype(np.uint32).view(F32)


def ulp_errors(y, x, reference):
    """|y - f(x)| in ulps of float32 at f(x) (float64 reference); inf where y is non-finite
    but f(x) is not (after rounding to float32) or vice versa, or NaN-ness differs."""
    with np.errstate(all="ignore"):
        ref = reference(x.astype(np.float64))
        ref32 = ref.astype(F32)
        _, ex = np.frexp(ref)  # |ref| = m * 2^ex with m in [0.5, 1); ex = 0 for ref = 0
        ulp = np.where(ref == 0.0, 2.0**-149, np.ldexp(1.0, np.maximum(ex - 1, -126) - 23))
        err = np.abs(y.astype(np.float64) - ref) / ulp
    special = ~np.isfinite(ref32) | ~np.isfinite(y)
    agree = bits(y) == bits(ref32)
    err[special] = np.where(agree[special], 0.0, np.inf)
    return err


@pytest.mark.parametrize("name", NAMES)
@given(shape=st.lists(st.integers(0, 5), min_size=0, max_size=3).map(tuple), data=st.data())
def test_c_matches_numpy_twin_bitwise(cb, npb, name, shape, data):
    x = data.draw(f32_arrays(shape))
    y = getattr(cb, name)(x)
    assert y.shape == x.shape and y.dtype == F32
    assert_bits_equal(y, getattr(npb, name)(x), name)


@pytest.mark.parametrize("name", NAMES)
def test_c_matches_numpy_twin_on_a_dense_sweep_of_bit_patterns(cb, npb, name):
    # every 4099th pattern (about a million values: both signs, every exponent, NaNs, infs),
    # plus the neighbourhoods of every branch threshold
    x = np.concatenate([patterns(4099), _thresholds()])
    assert_bits_equal(getattr(cb, name)(x), getattr(npb, name)(x), name)


def _thresholds():
    edges = [88.72283172607422, -104.0, 0.75, 10.0, 1.0, 0.0, 2.0**-126, 2.0**-149,
             float(np.finfo(F32).max), 0.34657359, 0.70710677, 1.4142135,
             6400.0, 2.0**-12, 12.566371, 0.7853982, 2.3561945, 3.1415927, 6.2831855]
    u = np.array(edges, F32).view(np.uint32).astype(np.int64)
    near = (u[:, None] + np.arange(-300, 301)[None, :]).ravel()
    near = near[(near >= 0) & (near < 2**31)].astype(np.uint32)
    pos = near.view(F32)
    return np.concatenate([pos, -pos, np.array(EDGE_F32, F32)])


@pytest.mark.parametrize("name", NAMES)
def test_accuracy_over_all_float32_in_a_stride_is_within_the_stated_ulp_bound(npb, name):
    fn, reference = getattr(npb, name), REFERENCE[name]
    # every 257th bit pattern (about 16.7 million values: both signs, every binade, the
    # subnormals, the specials) and the neighbourhoods of every branch threshold
    x = np.concatenate([patterns(257), _thresholds()])
    if name in DOMAIN:
        x = x[DOMAIN[name](x)]
    err = ulp_errors(fn(x), x, reference)
    j = int(np.argmax(err))
    assert err[j] < ULP_BOUND[name], f"{name}: {err[j]} ulp at x = {x[j]!r}"


def test_ulp_measure_detects_an_error_of_one_ulp():
    # the measure itself: one ulp off gives 1, correct rounding gives at most 1/2
    x = np.array([1.0, 0.5, -3.0, -100.0, 80.0], F32)
    exact = np.exp(x.astype(np.float64)).astype(F32)
    assert np.all(ulp_errors(exact, x, np.exp) <= 0.5)
    off = np.nextafter(exact, np.float32(np.inf))
    err = ulp_errors(off, x, np.exp)
    assert np.all((err > 0.5) & (err < 1.5))
    assert ulp_errors(np.array([np.inf], F32), np.array([1.0], F32), np.exp)[0] == np.inf


@pytest.mark.parametrize("x,expect", [
    (0.0, 1.0), (-0.0, 1.0), (-np.inf, 0.0), (np.inf, np.inf), (-104.5, 0.0), (-1000.0, 0.0),
    (88.72283935546875, np.inf), (1000.0, np.inf), (np.nan, np.nan),
    (1e-30, 1.0), (-1e-30, 1.0), (-103.972084045410156, 0.0),  # exp < 2^-150: rounds to 0
    (-103.27893066, 2.0**-149),  # log(2^-149): the smallest subnormal
])
def test_exp_special_values_are_exact(backend, x, expect):
    assert_bits_equal(backend.exp_f32(np.array([x], F32)), np.array([expect], F32))


def test_exp_stays_finite_up_to_the_last_float_below_overflow(backend):
    x = np.array([88.72283172607422], F32)
    y = backend.exp_f32(x)[0]
    assert np.isfinite(y) and y > F32(3.4e38)


def test_exp_of_integers_is_within_the_bound_from_subnormal_to_huge_results(npb):
    # exp(k) for integers: results across the whole exponent range, subnormal to huge
    x = np.arange(-103, 89, dtype=F32)
    err = ulp_errors(npb.exp_f32(x), x, np.exp)
    assert err.max() < ULP_BOUND["exp_f32"]


@pytest.mark.parametrize("x,expect", [
    (1.0, 0.0), (0.0, -np.inf), (-0.0, -np.inf), (-1.0, np.nan), (-np.inf, np.nan),
    (-1e-45, np.nan), (np.inf, np.inf), (np.nan, np.nan),
])
def test_log_special_values_are_exact(backend, x, expect):
    assert_bits_equal(backend.log_f32(np.array([x], F32)), np.array([expect], F32))


def test_log_of_powers_of_two_is_k_ln2_within_bound_including_subnormals(npb):
    k = np.arange(-149, 128)
    x = np.ldexp(1.0, k).astype(F32)
    assert np.all(np.ldexp(1.0, k) == x.astype(np.float64))  # exact powers of two
    y = npb.log_f32(x).astype(np.float64)
    exact = k * math.log(2.0)
    ulp = np.spacing(np.abs(exact).astype(F32)).astype(np.float64)
    assert np.all(np.abs(y - exact) <= ULP_BOUND["log_f32"] * np.maximum(ulp, 2.0**-149))
    assert y[149] == 0.0  # log(1)


@pytest.mark.parametrize("x,expect", [
    (0.0, 0.0), (-0.0, -0.0), (np.inf, 1.0), (-np.inf, -1.0), (10.0, 1.0), (-10.0, -1.0),
    (1e30, 1.0), (-3e38, -1.0), (1e-45, 1e-45), (-1e-45, -1e-45), (1e-30, 1e-30),
    (np.nan, np.nan),
])
def test_tanh_special_values_are_exact(backend, x, expect):
    assert_bits_equal(backend.tanh_f32(np.array([x], F32)), np.array([expect], F32))


def test_tanh_is_odd_bit_for_bit(npb):
    x = patterns(4099)
    x = x[~np.isnan(x)]
    assert_bits_equal(npb.tanh_f32(-x), -npb.tanh_f32(x))


def test_tanh_is_bounded_by_one_and_saturates_from_ten(npb):
    x = patterns(1021)
    y = npb.tanh_f32(x)
    finite = ~np.isnan(x)
    assert np.all(np.abs(y[finite]) <= 1.0)
    assert np.all(np.abs(y[np.abs(x) >= 10.0]) == 1.0)


def test_outputs_keep_the_input_shape_including_empty_and_zero_dimensional(backend):
    for shape in [(), (0,), (2, 0, 3), (2, 3, 4)]:
        x = np.full(shape, 0.5, F32)
        for name in NAMES:
            y = getattr(backend, name)(x)
            assert type(y) is np.ndarray and y.shape == shape and y.dtype == F32


def test_numpy_twin_raises_no_floating_point_warnings_on_special_inputs(npb):
    x = np.concatenate([np.array(EDGE_F32, F32), np.array([np.nan, np.inf, -np.inf], F32),
                        patterns(65537)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in NAMES:
            getattr(npb, name)(x)


def test_sin_is_within_one_ulp_on_a_dense_grid_of_the_sine_task_range(npb):
    # the sine task evaluates sin(x + p) with x in [-5, 5], p in [0, 2 pi]
    x = np.linspace(-5.0, 5.0 + 2 * math.pi, 4_000_001).astype(F32)
    err = ulp_errors(npb.sin_f32(x), x, np.sin)
    j = int(np.argmax(err))
    assert err[j] < 1.0, f"{err[j]} ulp at x = {x[j]!r}"


@pytest.mark.parametrize("x,expect", [
    (0.0, 0.0), (-0.0, -0.0), (np.inf, np.nan), (-np.inf, np.nan), (np.nan, np.nan),
    (1e-45, 1e-45), (-1e-45, -1e-45), (1e-30, 1e-30), (2.0**-13, 2.0**-13),
])
def test_sin_special_values_are_exact(backend, x, expect):
    assert_bits_equal(backend.sin_f32(np.array([x], F32)), np.array([expect], F32))


def test_sin_is_odd_bit_for_bit_and_bounded_by_one(npb):
    x = patterns(4099)
    x = x[np.isfinite(x)]
    y = npb.sin_f32(x)
    assert_bits_equal(npb.sin_f32(-x), -y)
    assert np.all(np.abs(y) <= 1.0)


def test_sin_of_huge_arguments_is_sin_of_the_exact_remainder_mod_2pi_f(npb):
    # beyond 6400 the documented rule: sin(x mod 2pi_f); the remainder is exact in float64
    # (fmod is exact) and representable in float32
    two_pi_f = float(F32(2 * math.pi))
    x = patterns(65537)
    x = x[np.isfinite(x) & (np.abs(x) >= 6400)]
    r = np.array([math.fmod(float(v), two_pi_f) for v in x])
    assert np.array_equal(r.astype(F32).astype(np.float64), r)
    assert_bits_equal(npb.sin_f32(x), npb.sin_f32(r.astype(F32)))
