"""conv1d, float32: the C kernels equal their NumPy twins bit for bit, the output length
follows TFLite's rule, and the twin is checked against float64 mathematics."""
import inspect

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinyreptile_ref import ShapeError
from tinyreptile_ref.testing import assert_bits_equal, dims, f32_arrays, finite_f32_arrays, floats32

f = np.float32
INT32_MAX = 2**31 - 1
BIG = 2.0**24  # the first float32 whose successor is BIG + 2


def brute_out_len(L, K, stride, dilation, padding):
    """(L_out, pad_before, pad_after) by search, not by formula: an output t is a window of K
    taps t*stride + k*dilation (k < K) in the padded input; 'valid' keeps the windows that fit
    in L, 'same' makes one output per stride step of the input and pads as little as needed
    for the last window to fit, the smaller half before."""
    last_tap = (K - 1) * dilation
    if padding == "valid":
        L_out = 0
        while L_out * stride + last_tap <= L - 1:
            L_out += 1
        return L_out, 0, 0
    L_out = 0
    while L_out * stride < L:  # outputs start at 0, stride, 2*stride, ... inside [0, L)
        L_out += 1
    total = 0
    while (L_out - 1) * stride + last_tap > L - 1 + total:
        total += 1
    before = total // 2
    return L_out, before, total - before


def edgy_f32_arrays(shape):
    """float32 arrays with the edge values, and with infinities and NaNs more often than
    floats32 alone draws them (a tap multiplied in where it should be skipped shows as NaN)."""
    special = st.sampled_from([np.inf, -np.inf, np.nan])
    return f32_arrays(shape, elements=st.one_of(floats32(), floats32(), special))


@st.composite
def conv_inputs(draw, arrays=edgy_f32_arrays, max_dim=9, max_len=12):
    B = draw(dims(0, 3))
    L = draw(dims(0, max_len))
    C_in, C_out = draw(dims(0, max_dim)), draw(dims(0, max_dim))
    K = draw(st.integers(1, 4))
    stride, dilation = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    padding = draw(st.sampled_from(["valid", "same"]))
    L_out = brute_out_len(L, K, stride, dilation, padding)[0]
    x = draw(arrays((B, L, C_in)))
    w = draw(arrays((C_out, K, C_in)))
    bias = draw(arrays((C_out,)))
    dy = draw(arrays((B, L_out, C_out)))
    return x, w, bias, dy, dict(stride=stride, dilation=dilation, padding=padding)


def forward64(x, w, bias, stride, dilation, padding):
    """The convolution in float64 from an explicitly zero-padded copy of x and np.einsum."""
    B, L, C_in = x.shape
    C_out, K, _ = w.shape
    L_out, before, after = brute_out_len(L, K, stride, dilation, padding)
    xp = np.zeros((B, before + L + after, C_in))
    xp[:, before:before + L, :] = x
    taps = np.arange(L_out)[:, None] * stride + np.arange(K)[None, :] * dilation  # [L_out, K]
    windows = xp[:, taps, :]                                                       # [B, L_out, K, C_in]
    return (np.asarray(bias, np.float64)[None, None, :]
            + np.einsum("btkc,okc->bto", windows, np.asarray(w, np.float64))), windows


# ------------------------------------------------------------------ C against the twin


@given(conv_inputs())
def test_conv1d_forward_c_matches_numpy_twin_bitwise(cb, npb, case):
    x, w, bias, _, p = case
    assert_bits_equal(cb.conv1d_forward_f32(x, w, bias, **p), npb.conv1d_forward_f32(x, w, bias, **p), "y")


@given(conv_inputs())
def test_conv1d_backward_c_matches_numpy_twin_bitwise(cb, npb, case):
    x, w, _, dy, p = case
    for name, c, n in zip(("dx", "dw", "db"), cb.conv1d_backward_f32(dy, x, w, **p),
                          npb.conv1d_backward_f32(dy, x, w, **p)):
        assert_bits_equal(c, n, name)


@given(st.integers(1, 2), st.integers(30, 70), st.integers(1, 17), st.integers(1, 21),
       st.integers(1, 7), st.integers(1, 3), st.integers(1, 3), st.sampled_from(["valid", "same"]),
       st.data())
def test_conv1d_c_matches_numpy_twin_at_model_sizes(cb, npb, B, L, C_in, C_out, K, stride,
                                                   dilation, padding, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    p = dict(stride=stride, dilation=dilation, padding=padding)
    L_out = npb.conv1d_out_len(L, K, **p)[0]
    x = rng.standard_normal((B, L, C_in)).astype(f)
    w = rng.standard_normal((C_out, K, C_in)).astype(f)
    bias = rng.standard_normal(C_out).astype(f)
    dy = rng.standard_normal((B, L_out, C_out)).astype(f)
    assert_bits_equal(cb.conv1d_forward_f32(x, w, bias, **p), npb.conv1d_forward_f32(x, w, bias, **p), "y")
    for name, c, n in zip(("dx", "dw", "db"), cb.conv1d_backward_f32(dy, x, w, **p),
                          npb.conv1d_backward_f32(dy, x, w, **p)):
        assert_bits_equal(c, n, name)


def test_conv1d_out_len_has_the_same_signature_in_both_backends(cb, npb):
    assert inspect.signature(cb.conv1d_out_len) == inspect.signature(npb.conv1d_out_len)


# ------------------------------------------------------------------ output length


@given(st.integers(0, 60), st.integers(1, 6), st.integers(1, 7), st.integers(1, 7),
       st.sampled_from(["valid", "same"]))
def test_conv1d_out_len_matches_a_brute_force_search_in_both_backends(cb, npb, L, K, stride,
                                                                      dilation, padding):
    L_out, before, _ = brute_out_len(L, K, stride, dilation, padding)
    assert npb.conv1d_out_len(L, K, stride, dilation, padding) == (L_out, before)
    assert cb.conv1d_out_len(L, K, stride, dilation, padding) == (L_out, before)


def test_conv1d_out_len_follows_tflite_on_known_cases(backend):
    # TFLite: same -> ceil(L/stride), pad total (L_out-1)*stride + S - L, smaller half first.
    assert backend.conv1d_out_len(49, 3, 1, 1, "same") == (49, 1)
    assert backend.conv1d_out_len(49, 3, 1, 1, "valid") == (47, 0)
    assert backend.conv1d_out_len(10, 4, 1, 1, "same") == (10, 1)   # total 3: 1 before, 2 after
    assert backend.conv1d_out_len(10, 3, 2, 1, "same") == (5, 0)    # total 1: 0 before
    assert backend.conv1d_out_len(2, 3, 1, 1, "valid") == (0, 0)    # input shorter than the kernel
    assert backend.conv1d_out_len(0, 3, 2, 1, "same") == (0, 0)


@given(st.integers(0, INT32_MAX), st.integers(1, 2**16), st.integers(1, INT32_MAX),
       st.integers(1, INT32_MAX), st.sampled_from(["valid", "same"]))
def test_conv1d_out_len_agrees_at_the_int32_limits(cb, npb, L, K, stride, dilation, padding):
    span = (K - 1) * dilation + 1
    results = []
    for be in (npb, cb):
        try:
            results.append(be.conv1d_out_len(L, K, stride, dilation, padding))
        except ShapeError as e:
            results.append(str(e))
    assert results[0] == results[1]
    n = -(-L // stride)
    if span > INT32_MAX:
        assert isinstance(results[0], str) and results[0].startswith("dilation: ")
    elif padding == "valid":
        assert results[0] == ((L - span) // stride + 1 if L >= span else 0, 0)
    elif (n - 1) * stride + span > INT32_MAX:
        assert isinstance(results[0], str) and results[0].startswith("L: ")
    else:
        assert results[0] == (n, max((n - 1) * stride + span - L, 0) // 2)


# ------------------------------------------------------------------ the twin against mathematics


@given(conv_inputs(arrays=finite_f32_arrays, max_dim=7))
def test_conv1d_forward_matches_float64_formula_within_error_bound(npb, case):
    x, w, bias, _, p = case
    y = npb.conv1d_forward_f32(x, w, bias, **p).astype(np.float64)
    exact, windows = forward64(x, w, bias, **p)
    # Recursive summation of at most K*C_in rounded products onto the bias:
    # |error| <= (K*C_in + 1) * u * (|bias| + sum |w x|), u = 2**-24 (Higham, Accuracy and
    # Stability, 3.1), plus a floor for subnormal products.
    scale = (np.abs(bias.astype(np.float64))[None, None, :]
             + np.einsum("btkc,okc->bto", np.abs(windows), np.abs(w.astype(np.float64))))
    bound = (w.shape[1] * w.shape[2] + 1) * 2.0**-24 * scale * 1.0001 + 2.0**-140
    assert y.shape == exact.shape
    assert np.all(np.abs(y - exact) <= bound)


def central_differences(loss, params, which, h=1e-4):
    """d loss / d params[which] by float64 central differences, element by element."""
    fd = np.zeros_like(params[which])
    for idx in np.ndindex(fd.shape):
        plus, minus = [a.copy() for a in params], [a.copy() for a in params]
        plus[which][idx] += h
        minus[which][idx] -= h
        fd[idx] = (loss(*plus) - loss(*minus)) / (2 * h)
    return fd


@given(conv_inputs(arrays=lambda s: finite_f32_arrays(s, 2.0), max_dim=4, max_len=8))
def test_conv1d_backward_matches_finite_differences(npb, case):
    x, w, bias, dy, p = case
    grads = npb.conv1d_backward_f32(dy, x, w, **p)
    params = [a.astype(np.float64) for a in (x, w, bias)]
    dy64 = dy.astype(np.float64)

    def loss(x_, w_, b_):  # L = sum of dy * y, in float64
        return float(np.sum(dy64 * forward64(x_, w_, b_, **p)[0]))

    def loss_abs(x_, w_, b_):  # the same with |dy|, |x|, |w|: its gradient is sum |term|
        return float(np.sum(np.abs(dy64) * forward64(x_, w_, b_, **p)[0]))

    # Each gradient element is a float32 sum of at most n rounded products (n = K*C_out for
    # dx, B*L_out for dw and db): |error| <= (n+1) * u * sum |term|, u = 2**-24; sum |term| is
    # the finite-difference gradient of loss_abs at |x|, |w|, |bias|. L is bilinear, so the
    # central differences are exact but for float64 rounding, allowed for by the 1e-7.
    B, L_out, C_out = dy.shape
    n = max(w.shape[1] * C_out, B * L_out)
    abs_params = [np.abs(a) for a in params]
    for which, grad in enumerate(grads):
        fd = central_differences(loss, params, which)
        scale = central_differences(loss_abs, abs_params, which)
        bound = (n + 1) * 2.0**-24 * scale * 1.0001 + 1e-7 * (1 + scale)
        err = np.abs(grad.astype(np.float64) - fd)
        assert np.all(err <= bound), (("dx", "dw", "db")[which], float(np.max(err - bound)))


# ------------------------------------------------------------------ padding and order


def test_conv1d_skips_padded_taps_instead_of_multiplying_by_zero(backend):
    # L = 1, K = 3, 'same': pad 1 before and 1 after, so taps 0 and 2 only ever meet padding.
    # Infinite weights there would give 0*inf = NaN if padding were multiplied in.
    x = np.array([[[2.0, -1.0]]], f)                                    # [1, 1, 2]
    w = np.full((3, 3, 2), np.inf, f)
    w[:, 1, :] = [[1.0, 1.0], [0.5, 0.0], [-1.0, 3.0]]
    bias = np.array([0.25, 0.0, 1.0], f)
    y = backend.conv1d_forward_f32(x, w, bias, padding="same")
    assert_bits_equal(y, np.array([[[1.25, 1.0, -4.0]]], f))
    # Backward: dy = inf at the one output; the padded taps' weight gradients stay +0.
    dy = np.full((1, 1, 3), np.inf, f)
    dx, dw, db = backend.conv1d_backward_f32(dy, x, np.ones((3, 3, 2), f), padding="same")
    assert_bits_equal(dw[:, [0, 2], :], np.zeros((3, 2, 2), f), "dw at padded taps")
    assert np.all(np.isinf(dw[:, 1, :]))


def test_conv1d_output_is_exactly_the_bias_when_every_tap_is_padding(backend):
    # K = 2, dilation 100, L = 1, 'same': total pad 100, taps at -50 and 50, both outside.
    # -0 stays -0 (adding a zero product would turn it into +0) and inf weights do not matter.
    x = np.ones((2, 1, 3), f)
    w = np.full((2, 2, 3), np.inf, f)
    bias = np.array([-0.0, 7.0], f)
    y = backend.conv1d_forward_f32(x, w, bias, dilation=100, padding="same")
    assert_bits_equal(y, np.tile(bias, (2, 1, 1)))
    dx, dw, db = backend.conv1d_backward_f32(np.ones((2, 1, 2), f), x, w, dilation=100, padding="same")
    assert_bits_equal(dx, np.zeros_like(x), "dx")
    assert_bits_equal(dw, np.zeros_like(w), "dw")
    assert_bits_equal(db, np.full(2, 2.0, f), "db")


def test_conv1d_forward_follows_k_then_ci_order(backend):
    # One output, K = 2, C_in = 2, x = 1. With big = 2**24, big + 1 rounds (to even) to big.
    # k-major order: big + 1 - big + 1 = 1; ci-major (k inner): big - big + 1 + 1 = 2.
    x = np.ones((1, 2, 2), f)
    w = np.array([[[BIG, 1.0], [-BIG, 1.0]]], f)
    assert backend.conv1d_forward_f32(x, w, np.zeros(1, f))[0, 0, 0] == 1.0
    w2 = np.array([[[BIG, -BIG], [1.0, 1.0]]], f)
    assert backend.conv1d_forward_f32(x, w2, np.zeros(1, f))[0, 0, 0] == 2.0


def test_conv1d_backward_dx_follows_k_then_co_order(backend):
    # 'valid', L = 3, K = 2, C_out = 2, C_in = 1, dy = 1: l = 1 is tap k = 0 of t = 1 and
    # tap k = 1 of t = 0. Its terms in the stated order (k, then co) are
    # w[0][0], w[1][0], w[0][1], w[1][1] = big, 1, -big, 1  ->  ((big + 1) - big) + 1 = 1;
    # co-major order gives big - big + 1 + 1 = 2, and t-major order gives 2 as well.
    w = np.array([[[BIG], [-BIG]], [[1.0], [1.0]]], f)
    dx = backend.conv1d_backward_f32(np.ones((1, 2, 2), f), np.ones((1, 3, 1), f), w)[0]
    assert dx[0, 1, 0] == 1.0


def test_conv1d_backward_dw_and_db_follow_b_then_t_order(backend):
    # B = 2, L = 2, K = 1, one channel, x = 1: dw and db sum dy[b][t] over b, then t:
    # big + 1 - big + 1 = 1; t-major order would give big - big + 1 + 1 = 2.
    dy = np.array([[[BIG], [1.0]], [[-BIG], [1.0]]], f)
    _, dw, db = backend.conv1d_backward_f32(dy, np.ones((2, 2, 1), f), np.ones((1, 1, 1), f))
    assert dw[0, 0, 0] == 1.0 and db[0] == 1.0


def test_conv1d_backward_overwrites_instead_of_accumulating(backend, rng):
    x = rng.standard_normal((2, 9, 3)).astype(f)
    w = rng.standard_normal((5, 3, 3)).astype(f)
    dy = rng.standard_normal((2, 5, 5)).astype(f)
    first = backend.conv1d_backward_f32(dy, x, w, stride=2, padding="same")
    second = backend.conv1d_backward_f32(dy, x, w, stride=2, padding="same")
    for a, b in zip(first, second):
        assert_bits_equal(a, b)


def test_conv1d_with_zero_input_channels_gives_the_bias(backend):
    x = np.zeros((2, 5, 0), f)
    w = np.zeros((3, 2, 0), f)
    bias = np.array([1.5, -0.0, np.inf], f)
    y = backend.conv1d_forward_f32(x, w, bias, stride=2, padding="same")
    assert_bits_equal(y, np.tile(bias, (2, 3, 1)))


# ------------------------------------------------------------------ the C entry points directly


def test_c_conv1d_backward_without_dx_gives_the_same_dw_and_db(cb, rng):
    lib, ffi = cb.lib, cb.ffi
    x = rng.standard_normal((2, 11, 3)).astype(f)
    w = rng.standard_normal((6, 3, 3)).astype(f)
    dy = rng.standard_normal((2, 6, 6)).astype(f)
    _, dw_ref, db_ref = cb.conv1d_backward_f32(dy, x, w, stride=2, dilation=2, padding="same")
    dw, db = np.empty_like(dw_ref), np.empty_like(db_ref)
    buf = lambda a: ffi.from_buffer("float[]", a)  # noqa: E731
    status = lib.tr_conv1d_backward_f32(ffi.NULL, buf(dw), buf(db), buf(dy), buf(x), buf(w),
                                        2, 11, 3, 6, 3, 2, 2, lib.TR_PAD_SAME)
    assert status == lib.TR_OK
    assert_bits_equal(dw, dw_ref, "dw")
    assert_bits_equal(db, db_ref, "db")


@pytest.mark.parametrize("args,status", [
    ((10, 0, 1, 1, 0), "TR_ERR_PARAM"),              # K = 0
    ((10, 3, 0, 1, 0), "TR_ERR_PARAM"),              # stride 0
    ((10, 3, 1, -2, 0), "TR_ERR_PARAM"),             # negative dilation
    ((10, 3, 1, 1, 2), "TR_ERR_PARAM"),              # no such padding mode
    ((-1, 3, 1, 1, 0), "TR_ERR_SHAPE"),              # negative length
    ((10, 3, 1, 2**30, 0), "TR_ERR_SHAPE"),          # span 2**31 + 1
    ((INT32_MAX, 2, 1, 2**30, 1), "TR_ERR_SHAPE"),   # padded length beyond int32
    ((INT32_MAX, 1, 1, 1, 1), "TR_OK"),
])
def test_c_conv1d_out_len_returns_status_codes(cb, args, status):
    lib, ffi = cb.lib, cb.ffi
    out = ffi.new("int32_t[2]")
    assert lib.tr_conv1d_out_len(out, out + 1, *args) == getattr(lib, status)
    assert lib.tr_conv1d_out_len(ffi.NULL, out + 1, 5, 1, 1, 1, 0) == lib.TR_ERR_NULL


def test_c_conv1d_kernels_check_size_products(cb):
    lib, ffi = cb.lib, cb.ffi
    v = ffi.from_buffer("float[]", np.zeros(8, f))
    # B*L*C_in, C_out*K*C_in and B*L_out*C_out each beyond int32
    assert lib.tr_conv1d_forward_f32(v, v, v, v, 2**16, 2**16, 1, 1, 1, 1, 1, 0) == lib.TR_ERR_SHAPE
    assert lib.tr_conv1d_forward_f32(v, v, v, v, 1, 1, 2**16, 2**16, 1, 1, 1, 0) == lib.TR_ERR_SHAPE
    assert lib.tr_conv1d_backward_f32(v, v, v, v, v, v, 2**16, 2**14, 1, 2**16, 1, 1, 1,
                                      0) == lib.TR_ERR_SHAPE
    # a zero size does not excuse an overflowing partial product (B*L here)
    assert lib.tr_conv1d_forward_f32(v, v, v, v, 2**16, 2**16, 0, 1, 1, 1, 1, 0) == lib.TR_ERR_SHAPE
    assert lib.tr_conv1d_forward_f32(ffi.NULL, v, v, v, 1, 1, 1, 1, 1, 1, 1, 0) == lib.TR_ERR_NULL
    null = ffi.NULL
    assert lib.tr_conv1d_forward_f32(null, null, null, null, 0, 5, 5, 5, 3, 1, 1, 1) == lib.TR_OK
