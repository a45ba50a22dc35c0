"""dense, float32: the C kernel equals its NumPy twin bit for bit, and the twin is checked
against float64 mathematics."""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tinyreptile_ref.testing import assert_bits_equal, dims, f32_arrays, finite_f32_arrays


@st.composite
def dense_inputs(draw, arrays=f32_arrays, max_dim=9):
    B, I, O = draw(dims(0, max_dim)), draw(dims(0, max_dim)), draw(dims(0, max_dim))
    x = draw(arrays((B, I)))
    w = draw(arrays((O, I)))
    bias = draw(arrays((O,)))
    dy = draw(arrays((B, O)))
    return x, w, bias, dy


@given(dense_inputs())
def test_dense_forward_c_matches_numpy_twin_bitwise(cb, npb, case):
    x, w, bias, _ = case
    assert_bits_equal(cb.dense_forward_f32(x, w, bias), npb.dense_forward_f32(x, w, bias), "y")


@given(dense_inputs())
def test_dense_backward_c_matches_numpy_twin_bitwise(cb, npb, case):
    x, w, _, dy = case
    for name, c, n in zip(("dx", "dw", "db"), cb.dense_backward_f32(dy, x, w),
                          npb.dense_backward_f32(dy, x, w)):
        assert_bits_equal(c, n, name)


@given(st.integers(1, 3), st.integers(60, 70), st.integers(60, 70), st.data())
def test_dense_c_matches_numpy_twin_at_model_sizes(cb, npb, B, I, O, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((B, I)).astype(np.float32)
    w = rng.standard_normal((O, I)).astype(np.float32)
    bias = rng.standard_normal(O).astype(np.float32)
    dy = rng.standard_normal((B, O)).astype(np.float32)
    assert_bits_equal(cb.dense_forward_f32(x, w, bias), npb.dense_forward_f32(x, w, bias), "y")
    for c, n in zip(cb.dense_backward_f32(dy, x, w), npb.dense_backward_f32(dy, x, w)):
        assert_bits_equal(c, n)


def test_dense_forward_follows_the_stated_order_not_another(npb):
    # 1e8 + 1 - 1e8: left to right in float32 gives 0 (1e8 + 1 rounds to 1e8), while any
    # pairwise or BLAS order that adds 1 last gives 1. The documented order starts at bias.
    x = np.array([[1.0, 1.0, 1.0]], np.float32)
    w = np.array([[1e8, 1.0, -1e8]], np.float32)
    bias = np.zeros(1, np.float32)
    assert npb.dense_forward_f32(x, w, bias)[0, 0] == 0.0
    w2 = np.array([[1e8, -1e8, 1.0]], np.float32)
    assert npb.dense_forward_f32(x, w2, bias)[0, 0] == 1.0


@given(dense_inputs(arrays=finite_f32_arrays, max_dim=12))
def test_dense_forward_matches_float64_formula_within_error_bound(npb, case):
    x, w, bias, _ = case
    y = npb.dense_forward_f32(x, w, bias).astype(np.float64)
    x64, w64, b64 = x.astype(np.float64), w.astype(np.float64), bias.astype(np.float64)
    exact = b64[None, :] + x64 @ w64.T
    # Recursive summation of I rounded products: |error| <= (I+1) * u * (|bias| + sum |w x|),
    # u = 2**-24 (Higham, Accuracy and Stability, 3.1), plus a subnormal floor.
    scale = np.abs(b64)[None, :] + np.abs(x64) @ np.abs(w64).T
    bound = (x.shape[1] + 1) * 2.0**-24 * scale * 1.0001 + 2.0**-140
    assert np.all(np.abs(y - exact) <= bound)


@given(dense_inputs(arrays=lambda s: finite_f32_arrays(s, 2.0), max_dim=6))
def test_dense_backward_matches_finite_differences(npb, case):
    x, w, bias, dy = case
    dx, dw, db = npb.dense_backward_f32(dy, x, w)
    x64, w64, b64, dy64 = (a.astype(np.float64) for a in (x, w, bias, dy))

    def loss(x_, w_, b_):  # L = sum over b, o of dy[b, o] * y[b, o], in float64
        return float(np.sum(dy64 * (b_[None, :] + x_ @ w_.T)))

    h = 1e-4
    for arr, grad, args in ((x64, dx, 0), (w64, dw, 1), (b64, db, 2)):
        fd = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            plus, minus = [a.copy() for a in (x64, w64, b64)], [a.copy() for a in (x64, w64, b64)]
            plus[args][idx] += h
            minus[args][idx] -= h
            fd[idx] = (loss(*plus) - loss(*minus)) / (2 * h)
        assert np.allclose(grad.astype(np.float64), fd, rtol=1e-4, atol=1e-4 * (1 + np.abs(fd).max(initial=0)))


def test_dense_backward_overwrites_instead_of_accumulating(cb, npb):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3)).astype(np.float32)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    dy = rng.standard_normal((2, 4)).astype(np.float32)
    for be in (cb, npb):
        first = be.dense_backward_f32(dy, x, w)
        second = be.dense_backward_f32(dy, x, w)
        for a, b in zip(first, second):
            assert_bits_equal(a, b)


def test_dense_with_zero_inputs_gives_the_bias(cb, npb):
    x = np.zeros((3, 0), np.float32)
    w = np.zeros((2, 0), np.float32)
    bias = np.array([1.5, -0.0], np.float32)
    for be in (cb, npb):
        y = be.dense_forward_f32(x, w, bias)
        assert_bits_equal(y, np.tile(bias, (3, 1)))
