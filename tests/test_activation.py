"""Activations, float32: the C kernels equal their NumPy twins bit for bit, and the twins are
checked against float64 mathematics (independent formulas and central finite differences)."""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tinyreptile_ref.testing import assert_bits_equal, f32_arrays, finite_f32_arrays

F32 = np.float32
shapes = st.lists(st.integers(0, 6), min_size=0, max_size=3).map(tuple)


@st.composite
def pairs(draw, arrays=f32_arrays):
    shape = draw(shapes)
    return draw(arrays(shape)), draw(arrays(shape))


@given(pairs())
def test_activations_c_match_numpy_twins_bitwise(cb, npb, ab):
    x, dy = ab
    for fwd in ("relu_forward_f32", "tanh_forward_f32"):
        y = getattr(cb, fwd)(x)
        assert y.shape == x.shape and y.dtype == F32
        assert_bits_equal(y, getattr(npb, fwd)(x), fwd)
    assert_bits_equal(cb.relu_backward_f32(dy, x), npb.relu_backward_f32(dy, x), "relu dx")
    assert_bits_equal(cb.tanh_backward_f32(dy, x), npb.tanh_backward_f32(dy, x), "tanh dx")


@given(st.integers(0, 2000).flatmap(lambda n: f32_arrays((n,))))
def test_activations_c_match_numpy_twins_on_long_vectors(cb, npb, x):
    assert_bits_equal(cb.tanh_forward_f32(x), npb.tanh_forward_f32(x))
    assert_bits_equal(cb.relu_forward_f32(x), npb.relu_forward_f32(x))


@given(f32_arrays(shapes))
def test_relu_forward_matches_the_independent_formula(npb, x):
    # y = x for x >= 0 (incl. -0, which compares equal to 0) and NaN, +0 for x < 0
    x64 = x.astype(np.float64)
    expect = np.where(np.isnan(x64) | (x64 >= 0), x64, 0.0).astype(F32)
    assert_bits_equal(npb.relu_forward_f32(x), expect)


def test_relu_passes_negative_zero_and_nan_and_zeroes_tiny_negatives(backend):
    x = np.array([-0.0, np.nan, -1e-45, -np.inf, np.inf, 0.0, 2.5], F32)
    assert_bits_equal(backend.relu_forward_f32(x),
                      np.array([-0.0, np.nan, 0.0, 0.0, np.inf, 0.0, 2.5], F32))
    dy = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], F32)
    # the gradient is taken as 0 at x = 0 (either zero) and where x is NaN
    assert_bits_equal(backend.relu_backward_f32(dy, x),
                      np.array([0.0, 0.0, 0.0, 0.0, 5.0, 0.0, 7.0], F32))


@given(pairs(arrays=lambda s: finite_f32_arrays(s, 3.0)))
def test_relu_backward_matches_finite_differences_away_from_zero(npb, ab):
    x, dy = ab
    h = 1e-3
    x64 = x.astype(np.float64)
    x64 = np.where(np.abs(x64) < 2 * h, 0.5, x64)  # the kink: no derivative there
    x = x64.astype(F32)
    relu = lambda v: np.maximum(v, 0.0)  # noqa: E731
    fd = dy.astype(np.float64) * (relu(x64 + h) - relu(x64 - h)) / (2 * h)
    assert np.allclose(npb.relu_backward_f32(dy, x), fd, rtol=1e-9, atol=1e-12)


@given(finite_f32_arrays(shapes, 12.0))
def test_tanh_forward_is_the_library_tanh_and_close_to_float64(npb, x):
    y = npb.tanh_forward_f32(x)
    assert_bits_equal(y, npb.tanh_f32(x))
    exact = np.tanh(x.astype(np.float64))
    # the library tanh's bound, 1.1 ulp of the result (2^-149 at zero)
    ulp = np.spacing(np.abs(exact).astype(F32)).astype(np.float64)
    assert np.all(np.abs(y - exact) <= 1.1 * np.maximum(ulp, 2.0**-149))


@given(pairs(arrays=lambda s: finite_f32_arrays(s, 4.0)))
def test_tanh_backward_matches_finite_differences(npb, ab):
    x, dy = ab
    y = npb.tanh_forward_f32(x)
    dx = npb.tanh_backward_f32(dy, y).astype(np.float64)
    x64, dy64 = x.astype(np.float64), dy.astype(np.float64)
    h = 1e-5
    fd = dy64 * (np.tanh(x64 + h) - np.tanh(x64 - h)) / (2 * h)
    # y carries ~1 ulp (<= 1.2e-7 absolute); 1 - y*y then has absolute error <= ~3e-7, times |dy|
    assert np.all(np.abs(dx - fd) <= 4e-7 * np.abs(dy64) + 1e-6 * np.abs(fd) + 1e-30)


@given(pairs())
def test_tanh_backward_is_three_correctly_rounded_operations(npb, ab):
    dy, y = ab
    # independent formula: each operation exact in float64 (24-bit inputs), then rounded
    with np.errstate(all="ignore"):
        yy = (y.astype(np.float64) * y.astype(np.float64)).astype(F32)
        u = (1.0 - yy.astype(np.float64)).astype(F32)
        expect = (dy.astype(np.float64) * u.astype(np.float64)).astype(F32)
    assert_bits_equal(npb.tanh_backward_f32(dy, y), expect)


def test_activations_return_arrays_of_the_input_shape_including_empty_and_scalar(backend):
    for shape in [(0,), (3, 0), (), (2, 1, 3)]:
        e = np.full(shape, 0.5, F32)
        for out in (backend.relu_forward_f32(e), backend.tanh_forward_f32(e),
                    backend.relu_backward_f32(e, e), backend.tanh_backward_f32(e, e)):
            assert type(out) is np.ndarray and out.shape == shape and out.dtype == F32
