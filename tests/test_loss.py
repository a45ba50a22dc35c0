"""Losses, float32: the C kernels equal their NumPy twins bit for bit, and the twins are
checked against float64 mathematics (independent formulas, finite differences, exact cases)."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinyreptile_ref.testing import assert_bits_equal, dims, f32_arrays, finite_f32_arrays

F32 = np.float32
U = 2.0**-24  # unit roundoff of float32
shapes = st.lists(st.integers(0, 6), min_size=0, max_size=3).map(tuple)


def assert_loss_equal(a, b):
    assert isinstance(a, np.float32) and isinstance(b, np.float32), (type(a), type(b))
    assert_bits_equal(np.array([a]), np.array([b]), "loss")


# ------------------------------------------------------------------------------------ mse

@st.composite
def mse_inputs(draw, arrays=f32_arrays):
    shape = draw(shapes)
    return draw(arrays(shape)), draw(arrays(shape))


@given(mse_inputs())
def test_mse_c_matches_numpy_twin_bitwise(cb, npb, case):
    pred, target = case
    (lc, gc), (ln, gn) = cb.mse_loss_f32(pred, target), npb.mse_loss_f32(pred, target)
    assert_loss_equal(lc, ln)
    assert gc.shape == pred.shape
    assert_bits_equal(gc, gn, "dpred")


@given(st.integers(0, 3000).flatmap(lambda n: st.tuples(
    finite_f32_arrays((n,), 100.0), finite_f32_arrays((n,), 100.0))))
def test_mse_c_matches_numpy_twin_on_long_vectors(cb, npb, case):
    pred, target = case
    (lc, gc), (ln, gn) = cb.mse_loss_f32(pred, target), npb.mse_loss_f32(pred, target)
    assert_loss_equal(lc, ln)
    assert_bits_equal(gc, gn, "dpred")


@given(mse_inputs(arrays=lambda s: finite_f32_arrays(s, 4.0)))
def test_mse_matches_float64_formula_within_error_bound(npb, case):
    pred, target = case
    loss, dpred = npb.mse_loss_f32(pred, target)
    d = pred.astype(np.float64) - target.astype(np.float64)
    n = d.size
    if n == 0:
        assert loss == 0.0 and dpred.shape == pred.shape
        return
    exact = float(np.sum(d * d)) / n
    # d rounded (u), squared (2u + u), n positive terms summed ((n-1)u), divided (u):
    # relative error <= (n + 4)u to first order; plus an underflow floor for tiny squares
    assert abs(float(loss) - exact) <= (n + 4) * U * 1.001 * exact + n * 2.0**-149
    # dpred = d*(2/n): d rounded, 2/n rounded, product rounded: 3u relative
    g = 2.0 * d / n
    assert np.all(np.abs(dpred - g) <= 3.001 * U * np.abs(g) + 2.0**-149)


@given(mse_inputs(arrays=lambda s: finite_f32_arrays(s, 2.0)))
def test_mse_gradient_matches_finite_differences(npb, case):
    pred, target = case
    if pred.size == 0:
        return
    _, dpred = npb.mse_loss_f32(pred, target)
    p64, t64 = pred.astype(np.float64).ravel(), target.astype(np.float64).ravel()
    loss = lambda p: float(np.mean((p - t64) ** 2))  # noqa: E731
    h = 1e-4
    fd = np.empty_like(p64)
    for j in range(p64.size):
        e = np.zeros_like(p64)
        e[j] = h
        fd[j] = (loss(p64 + e) - loss(p64 - e)) / (2 * h)
    assert np.allclose(dpred.ravel(), fd, rtol=1e-5, atol=1e-6)


def test_mse_exact_small_case(backend):
    pred = np.array([[1.0, 2.0], [0.5, -3.0]], F32)
    target = np.array([[0.0, 0.0], [0.5, -1.0]], F32)
    loss, dpred = backend.mse_loss_f32(pred, target)
    assert loss == F32(9.0 / 4)  # (1 + 4 + 0 + 4) / 4, exact
    assert_bits_equal(dpred, np.array([[0.5, 1.0], [0.0, -1.0]], F32))  # d * (2/4)


def test_mse_follows_the_stated_summation_order(backend):
    # squares 2^24, 1, 1: left to right, 2^24 + 1 rounds back to 2^24 (tie to even) twice,
    # while adding the two ones first would give 2^24 + 2
    pred = np.array([4096.0, 1.0, 1.0], F32)
    loss, _ = backend.mse_loss_f32(pred, np.zeros(3, F32))
    assert loss == F32(2.0**24) / F32(3)
    assert loss != F32(2.0**24 + 2) / F32(3)


def _mse_gradient_by_the_documented_operations(pred, target, n):
    """dpred[j] = d[j]*(2/n): d = pred - target, then the factor 2/n rounded once, then the
    product; each step a float32 scalar operation."""
    scale = F32(2.0) / F32(n)
    return np.array([(F32(p) - F32(t)) * scale for p, t in zip(pred, target)], F32)


REWRITES = {  # other rounding sequences for the same real number d*2/n
    "(d*2)/n": lambda d, n: (d * F32(2.0)) / F32(n),
    "2*(d/n)": lambda d, n: F32(2.0) * (d / F32(n)),
    "d/(n/2)": lambda d, n: d / (F32(n) / F32(2.0)),
    "(d+d)/n": lambda d, n: (d + d) / F32(n),
}


@pytest.mark.parametrize("n", [3, 5, 7, 10, 11, 13, 100, 1000])
def test_mse_gradient_is_exactly_its_documented_operations(backend, n):
    rng = np.random.default_rng(n)
    pred = rng.standard_normal(n).astype(F32)
    target = rng.standard_normal(n).astype(F32)
    _, dpred = backend.mse_loss_f32(pred, target)
    assert_bits_equal(dpred, _mse_gradient_by_the_documented_operations(pred, target, n))


def test_the_mse_gradient_inputs_tell_the_documented_sequence_from_its_rewrites():
    """The exact test above fails for each rewrite: on its inputs, every other rounding
    sequence differs from d*(2/n) in at least one element for some n."""
    for name, rewrite in REWRITES.items():
        differs = False
        for n in [3, 5, 7, 10, 11, 13, 100, 1000]:
            rng = np.random.default_rng(n)
            pred = rng.standard_normal(n).astype(F32)
            target = rng.standard_normal(n).astype(F32)
            ref = _mse_gradient_by_the_documented_operations(pred, target, n)
            alt = np.array([rewrite(F32(p) - F32(t), n) for p, t in zip(pred, target)], F32)
            differs |= ref.view(np.uint32).tolist() != alt.view(np.uint32).tolist()
        assert differs, name


def test_mse_gradient_is_an_array_of_pred_shape_even_for_a_scalar(backend):
    for shape in [(), (1,), (2, 3, 1)]:
        loss, dpred = backend.mse_loss_f32(np.full(shape, 3.0, F32), np.full(shape, 1.0, F32))
        assert loss == F32(4.0)
        assert type(dpred) is np.ndarray and dpred.shape == shape
        assert np.all(dpred == F32(4.0) / F32(dpred.size))


def test_mse_of_empty_arrays_is_zero(backend):
    loss, dpred = backend.mse_loss_f32(np.zeros((0, 3), F32), np.zeros((0, 3), F32))
    assert_loss_equal(loss, F32(0.0))
    assert dpred.shape == (0, 3) and dpred.dtype == F32


# ------------------------------------------------------------------- softmax cross-entropy

@st.composite
def xent_inputs(draw, arrays=f32_arrays, max_b=6, max_c=12):
    B, C = draw(dims(0, max_b)), draw(dims(1, max_c))
    logits = draw(arrays((B, C)))
    labels = np.array(draw(st.lists(st.integers(0, C - 1), min_size=B, max_size=B)), np.int32)
    return logits, labels


@given(xent_inputs())
def test_softmax_xent_c_matches_numpy_twin_bitwise(cb, npb, case):
    logits, labels = case
    lc, gc = cb.softmax_xent_loss_f32(logits, labels)
    ln, gn = npb.softmax_xent_loss_f32(logits, labels)
    assert_loss_equal(lc, ln)
    assert_bits_equal(gc, gn, "dlogits")


@given(xent_inputs(arrays=lambda s: finite_f32_arrays(s, 1e4), max_b=40, max_c=70))
def test_softmax_xent_c_matches_numpy_twin_at_model_sizes(cb, npb, case):
    logits, labels = case
    lc, gc = cb.softmax_xent_loss_f32(logits, labels)
    ln, gn = npb.softmax_xent_loss_f32(logits, labels)
    assert_loss_equal(lc, ln)
    assert_bits_equal(gc, gn, "dlogits")


def _xent64(z, labels):
    """Per-row loss and gradient in float64, by the log-sum-exp formula (numpy's exp/log)."""
    m = z.max(axis=1, keepdims=True)
    e = np.exp(z - m)
    s = e.sum(axis=1, keepdims=True)
    rows = np.arange(z.shape[0])
    loss_b = np.log(s[:, 0]) - (z[rows, labels] - m[:, 0])
    p = e / s
    p[rows, labels] -= 1.0
    return loss_b, p


@given(xent_inputs(arrays=lambda s: finite_f32_arrays(s, 30.0)))
def test_softmax_xent_matches_float64_formula_within_error_bound(npb, case):
    logits, labels = case
    B, C = logits.shape
    loss, dlogits = npb.softmax_xent_loss_f32(logits, labels)
    if B == 0:
        assert loss == 0.0 and dlogits.shape == (0, C)
        return
    z = logits.astype(np.float64)
    loss_b, p = _xent64(z, labels)
    exact = loss_b.mean()
    # per row: C exps of < 1 ulp and C - 1 additions give s to (2C + 1)u relative, so log(s)
    # to that absolute plus its own ulp; z - m rounded; then B additions and a division
    m = z.max(axis=1)
    lse = np.log(np.exp(z - m[:, None]).sum(axis=1))
    scale = np.abs(lse) + np.abs(z[np.arange(B), labels] - m)
    bound = ((2 * C + 4) + (B + 4) * (1.0 + scale.max())) * U * 1.01
    assert abs(float(loss) - exact) <= bound
    # dlogits: exp (< 1 ulp), s ((2C + 1)u), the division, the subtraction and the 1/B
    assert np.all(np.abs(dlogits - p / B) <= (2 * C + 8) * U / B * 1.01 + 2.0**-149)


@given(xent_inputs(arrays=lambda s: finite_f32_arrays(s, 3.0), max_b=4, max_c=6))
def test_softmax_xent_gradient_matches_finite_differences(npb, case):
    logits, labels = case
    B, C = logits.shape
    if B == 0:
        return
    _, dlogits = npb.softmax_xent_loss_f32(logits, labels)
    z = logits.astype(np.float64)
    loss = lambda zz: float(_xent64(zz, labels)[0].mean())  # noqa: E731
    h = 1e-5
    fd = np.empty_like(z)
    for idx in np.ndindex(z.shape):
        e = np.zeros_like(z)
        e[idx] = h
        fd[idx] = (loss(z + e) - loss(z - e)) / (2 * h)
    assert np.allclose(dlogits, fd, rtol=1e-5, atol=1e-6)


def test_softmax_xent_with_huge_logits_stays_finite_and_right(backend):
    big = float(np.finfo(F32).max)
    logits = np.array([[1e30, -1e30, 0.0], [big, big, -big], [-1e30, -1e30, -1e30]], F32)
    labels = np.array([1, 0, 2], np.int32)
    loss, dlogits = backend.softmax_xent_loss_f32(logits, labels)
    assert np.isfinite(loss) and np.all(np.isfinite(dlogits))
    # row 0: log(1) - (-1e30 - 1e30) = 2e30; row 1: log 2 - 0; row 2: log 3 - 0
    exact = (float(F32(2e30)) + math.log(2) + math.log(3)) / 3
    assert abs(float(loss) - exact) <= 4 * U * exact
    expect = np.array([[1.0, -1.0, 0.0], [0.5 - 1.0, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3 - 1.0]]) / 3
    assert np.allclose(dlogits, expect, rtol=4 * U, atol=0)


def test_softmax_xent_with_infinite_logits_follows_ieee(backend):
    inf = np.inf
    logits = np.array([[-inf, 0.0, 0.0], [inf, 0.0, 0.0], [-inf, -inf, -inf]], F32)
    labels = np.array([1, 1, 0], np.int32)
    loss, d = backend.softmax_xent_loss_f32(logits[:1], labels[:1])
    # a -inf logit has probability exactly 0: log(2) - 0, gradient (0, 1/2 - 1, 1/2)
    assert loss == backend.log_f32(np.array([2.0], F32))[0]
    assert_bits_equal(d, np.array([[0.0, -0.5, 0.5]], F32))
    for row in (1, 2):  # inf - inf = NaN: the row's loss and gradient are NaN
        loss, d = backend.softmax_xent_loss_f32(logits[row:row + 1], labels[row:row + 1])
        assert np.isnan(loss) and np.all(np.isnan(d))


def test_softmax_xent_exact_cases(backend):
    # one class: s = exp(0) = 1, loss log(1) - 0 = +0, gradient (1/1 - 1)/B = 0
    loss, d = backend.softmax_xent_loss_f32(np.array([[5.0], [-7.5]], F32), np.zeros(2, np.int32))
    assert_loss_equal(loss, F32(0.0))
    assert_bits_equal(d, np.zeros((2, 1), F32))
    # equal logits over 4 classes: s = 4 exactly, p = 1/4 exactly, loss = log_f32(4)
    z = np.full((2, 4), 3.25, F32)
    loss, d = backend.softmax_xent_loss_f32(z, np.array([3, 0], np.int32))
    log4 = backend.log_f32(np.array([4.0], F32))[0]
    assert loss == (log4 + log4) / F32(2)
    assert_bits_equal(d, np.array([[0.125, 0.125, 0.125, -0.375], [-0.375, 0.125, 0.125, 0.125]], F32))


def test_softmax_xent_of_an_empty_batch_is_zero(backend):
    loss, d = backend.softmax_xent_loss_f32(np.zeros((0, 5), F32), np.zeros(0, np.int32))
    assert_loss_equal(loss, F32(0.0))
    assert d.shape == (0, 5)


@pytest.mark.parametrize("labels,B,C", [([0, 3], 2, 3), ([-1, 0], 2, 3), ([2**31 - 1], 1, 3),
                                        ([0], 1, 0)])
def test_c_softmax_xent_refuses_bad_labels_before_writing_anything(cb, labels, B, C):
    ffi, lib = cb.ffi, cb.lib
    logits = np.ones((B, max(C, 1)), F32)
    lab = np.array(labels, np.int32)
    loss = np.full(1, 7.0, F32)
    dlogits = np.full((B, max(C, 1)), 7.0, F32)
    status = lib.tr_softmax_xent_loss_f32(ffi.from_buffer("float[]", loss),
                                          ffi.from_buffer("float[]", dlogits),
                                          ffi.from_buffer("float[]", logits),
                                          ffi.from_buffer("int32_t[]", lab), B, C)
    assert status == lib.TR_ERR_LABEL
    assert np.all(loss == 7.0) and np.all(dlogits == 7.0)


def test_c_losses_return_status_codes_for_null_and_negative_sizes(cb):
    ffi, lib = cb.ffi, cb.lib
    v = np.zeros(4, F32)
    p = ffi.from_buffer("float[]", v)
    lab = ffi.from_buffer("int32_t[]", np.zeros(2, np.int32))
    assert lib.tr_mse_loss_f32(ffi.NULL, p, p, p, 1) == lib.TR_ERR_NULL
    assert lib.tr_mse_loss_f32(p, p, p, ffi.NULL, 1) == lib.TR_ERR_NULL
    assert lib.tr_mse_loss_f32(p, p, p, p, -1) == lib.TR_ERR_SHAPE
    assert lib.tr_mse_loss_f32(p, ffi.NULL, p, p, 4) == lib.TR_OK  # loss only
    assert lib.tr_softmax_xent_loss_f32(ffi.NULL, p, p, lab, 1, 2) == lib.TR_ERR_NULL
    assert lib.tr_softmax_xent_loss_f32(p, p, p, ffi.NULL, 1, 2) == lib.TR_ERR_NULL
    assert lib.tr_softmax_xent_loss_f32(p, p, p, lab, -1, 2) == lib.TR_ERR_SHAPE
    assert lib.tr_softmax_xent_loss_f32(p, p, p, lab, 2**16, 2**16) == lib.TR_ERR_SHAPE
    assert lib.tr_softmax_xent_loss_f32(p, ffi.NULL, p, lab, 2, 2) == lib.TR_OK  # loss only
