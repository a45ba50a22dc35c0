"""SGD step and Reptile interpolation over a flat float32 buffer."""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tinyreptile_ref.testing import assert_bits_equal, f32_arrays, floats32

finite_scalar = floats32(allow_nan=False, allow_infinity=False)


@st.composite
def pairs(draw):
    n = draw(st.integers(0, 40))
    return draw(f32_arrays((n,))), draw(f32_arrays((n,)))


@given(pairs(), finite_scalar)
def test_sgd_step_c_matches_numpy_twin_bitwise(cb, npb, ab, lr):
    theta, g = ab
    t_c, t_n = theta.copy(), theta.copy()
    assert cb.sgd_step_f32(t_c, g, lr) is None
    npb.sgd_step_f32(t_n, g, lr)
    assert_bits_equal(t_c, t_n, "theta")


@given(pairs(), finite_scalar)
def test_reptile_interpolate_c_matches_numpy_twin_bitwise(cb, npb, ab, eps):
    theta, phi = ab
    t_c, t_n = theta.copy(), theta.copy()
    cb.reptile_interpolate_f32(t_c, phi, eps)
    npb.reptile_interpolate_f32(t_n, phi, eps)
    assert_bits_equal(t_c, t_n, "theta")


@given(st.integers(0, 30).flatmap(lambda n: st.tuples(
    f32_arrays((n,), allow_nan=False, allow_infinity=False, min_value=-1e3, max_value=1e3),
    f32_arrays((n,), allow_nan=False, allow_infinity=False, min_value=-1e3, max_value=1e3))),
    st.floats(-10, 10, width=32))
def test_sgd_step_is_two_correctly_rounded_operations(npb, ab, lr):
    theta, g = ab
    out = theta.copy()
    npb.sgd_step_f32(out, g, lr)
    # Independent formula: exact product and difference in float64 (exact for float32 inputs
    # of this range: 48-bit products), each rounded once to float32.
    step = (np.float64(lr) * g.astype(np.float64)).astype(np.float32)
    expect = (theta.astype(np.float64) - step.astype(np.float64)).astype(np.float32)
    assert_bits_equal(out, expect)


@given(st.integers(0, 30).flatmap(lambda n: st.tuples(
    f32_arrays((n,), allow_nan=False, allow_infinity=False, min_value=-1e3, max_value=1e3),
    f32_arrays((n,), allow_nan=False, allow_infinity=False, min_value=-1e3, max_value=1e3))),
    st.floats(0, 1, width=32))
def test_reptile_interpolate_matches_the_documented_rounding(npb, ab, eps):
    theta, phi = ab
    out = theta.copy()
    npb.reptile_interpolate_f32(out, phi, eps)
    d = (phi.astype(np.float64) - theta.astype(np.float64)).astype(np.float32)
    step = (np.float64(eps) * d.astype(np.float64)).astype(np.float32)
    expect = (theta.astype(np.float64) + step.astype(np.float64)).astype(np.float32)
    assert_bits_equal(out, expect)
    # and the result lies between theta and phi up to rounding: d and theta + eps*d are each
    # rounded at the scale of max(|theta|, |phi|), so with eps = 1 the result need not land
    # exactly on phi; one ulp of that scale bounds the excursion.
    lo, hi = np.minimum(theta, phi), np.maximum(theta, phi)
    ulp = np.spacing(np.maximum(np.abs(theta), np.abs(phi)))
    assert np.all((out >= lo - ulp) & (out <= hi + ulp))


def test_reptile_with_eps_one_lands_on_phi_and_zero_keeps_theta(backend):
    theta = np.array([1.0, -2.0, 3.5], np.float32)
    phi = np.array([0.5, 4.0, 3.5], np.float32)
    t = theta.copy()
    backend.reptile_interpolate_f32(t, phi, 0.0)
    assert_bits_equal(t, theta)
    backend.reptile_interpolate_f32(t, phi, 1.0)
    assert_bits_equal(t, phi)
