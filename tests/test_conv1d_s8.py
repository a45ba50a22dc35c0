"""conv1d_s8: the C kernel equals its NumPy twin bit for bit; its geometry is TFLite's; padded
taps act as padding with the input zero point; and against an independent float64 formula
(written from the definition, not from the kernel) and against the float32 conv1d kernel on
dequantized values, it is within one output step."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinyreptile_ref import AccumulatorOverflowError
from tinyreptile_ref.kernels.quant import INT32_MAX, output_multiplier
from tinyreptile_ref.testing import assert_bits_equal

F32 = np.float32
i8 = st.integers(-128, 127)


@st.composite
def conv_s8_inputs(draw):
    B, L = draw(st.integers(0, 2)), draw(st.integers(0, 13))
    C_in, C_out, K = draw(st.integers(0, 4)), draw(st.integers(0, 5)), draw(st.integers(1, 4))
    stride, dilation = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    padding = draw(st.sampled_from(["valid", "same"]))
    n = C_out if (draw(st.booleans()) and C_out > 1) else 1
    x = draw(hnp.arrays(np.int8, (B, L, C_in)))
    w = draw(hnp.arrays(np.int8, (C_out, K, C_in)))
    x_zp, y_zp = draw(i8), draw(i8)
    bias = np.array(draw(st.lists(st.integers(-(2**20), 2**20), min_size=C_out, max_size=C_out)),
                    np.int32)
    rx = 128 + x_zp if x_zp >= 0 else 127 - x_zp
    bound = K * C_in * rx * 128 + 2**20
    max_left = max(0, (INT32_MAX // bound).bit_length() - 1)
    shift = np.array(draw(st.lists(st.integers(-31, min(30, max_left)), min_size=n, max_size=n)),
                     np.int32)
    mult = np.array(draw(st.lists(st.one_of(st.integers(-(2**31), 2**31 - 1),
                                            st.integers(2**30, 2**31 - 1)),
                                  min_size=n, max_size=n)), np.int32)
    lo = draw(i8)
    hi = draw(st.integers(lo, 127))
    return x, w, bias, mult, shift, stride, dilation, padding, x_zp, y_zp, lo, hi


@given(conv_s8_inputs())
def test_conv1d_s8_c_matches_numpy_twin_bitwise(cb, npb, case):
    assert_bits_equal(cb.conv1d_forward_s8(*case), npb.conv1d_forward_s8(*case), "y")


@given(st.data())
def test_conv1d_s8_c_matches_numpy_twin_at_model_sizes(cb, npb, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = rng.integers(-128, 128, (1, 49, 10), dtype=np.int8)
    w = rng.integers(-127, 128, (16, 3, 10), dtype=np.int8)
    bias = rng.integers(-20000, 20000, 16).astype(np.int32)
    m, s = output_multiplier(0.05, rng.uniform(0.001, 0.02, 16), 0.05)
    for padding in ("same", "valid"):
        args = (x, w, bias, m, s, data.draw(st.integers(1, 3)), data.draw(st.integers(1, 2)),
                padding, -128, -5, -5, 127)
        assert_bits_equal(cb.conv1d_forward_s8(*args), npb.conv1d_forward_s8(*args))


def tflite_geometry(L, K, stride, dilation, padding):
    """TFLite's output size and padding, from the formula (ceil as an exact rational)."""
    span = (K - 1) * dilation + 1
    if padding == "valid":
        return (math.ceil((L - span + 1) / stride) if L >= span else 0), 0
    L_out = math.ceil(L / stride)
    total = max((L_out - 1) * stride + span - L, 0)
    return L_out, total // 2


@given(st.integers(0, 40), st.integers(1, 6), st.integers(1, 4), st.integers(1, 4),
       st.sampled_from(["valid", "same"]))
def test_conv1d_s8_output_length_is_tflites(npb, L, K, stride, dilation, padding):
    x = np.zeros((1, L, 1), np.int8)
    w = np.zeros((1, K, 1), np.int8)
    one = np.ones(1, np.int32)
    y = npb.conv1d_forward_s8(x, w, np.zeros(1, np.int32), one, one * 0, stride, dilation, padding)
    assert y.shape[1] == tflite_geometry(L, K, stride, dilation, padding)[0]
    # and it is the float32 conv1d's geometry (one shared helper)
    assert (y.shape[1],) + (tflite_geometry(L, K, stride, dilation, padding)[1],) == \
        tuple(npb.conv1d_out_len(L, K, stride, dilation, padding))


@given(conv_s8_inputs())
def test_conv1d_s8_same_equals_valid_on_input_padded_with_the_zero_point(cb, case):
    x, w, bias, m, s, stride, dilation, padding, x_zp, y_zp, lo, hi = case
    B, L, C_in = x.shape
    K = w.shape[1]
    L_out, before = tflite_geometry(L, K, stride, dilation, "same")
    if L == 0:
        return
    total = max((L_out - 1) * stride + (K - 1) * dilation + 1 - L, 0)
    xp = np.full((B, L + total, C_in), x_zp, np.int8)
    xp[:, before:before + L] = x
    same = cb.conv1d_forward_s8(x, w, bias, m, s, stride, dilation, "same", x_zp, y_zp, lo, hi)
    valid = cb.conv1d_forward_s8(xp, w, bias, m, s, stride, dilation, "valid", x_zp, y_zp, lo, hi)
    assert_bits_equal(same, valid)


def _random_layer(data, B, L, C_in, C_out, K, per_channel):
    """A random int8 conv1d layer and input, with an output scale that keeps most results in
    range: (x, w, bias, x_scale, x_zp, w_scale, y_scale, y_zp, multiplier, shift)."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x_scale, x_zp = F32(rng.uniform(0.01, 0.1)), int(rng.integers(-128, 128))
    y_zp = int(rng.integers(-128, 128))
    w_scale = rng.uniform(0.001, 0.02, C_out if per_channel else 1).astype(F32)
    x = rng.integers(-128, 128, (B, L, C_in), dtype=np.int8)
    w = rng.integers(-127, 128, (C_out, K, C_in), dtype=np.int8)
    bias = rng.integers(-3000, 3000, C_out).astype(np.int32)
    y_scale = F32(x_scale * w_scale.max() * 64 * np.sqrt(K * C_in) / 127)
    m, s = output_multiplier(x_scale, w_scale, y_scale)
    return x, w, bias, x_scale, x_zp, w_scale, y_scale, y_zp, m, s


@given(st.integers(1, 2), st.integers(1, 30), st.integers(1, 6), st.integers(1, 8),
       st.integers(1, 5), st.integers(1, 3), st.integers(1, 3), st.sampled_from(["valid", "same"]),
       st.booleans(), st.data())
def test_conv1d_s8_is_within_one_step_of_an_independent_float64_formula(
        npb, B, L, C_in, C_out, K, stride, dilation, padding, per_channel, data):
    x, w, bias, x_scale, x_zp, w_scale, y_scale, y_zp, m, s = _random_layer(
        data, B, L, C_in, C_out, K, per_channel)
    lo, hi = (y_zp, 127) if data.draw(st.booleans()) else (-128, 127)   # ReLU or none
    yq = npb.conv1d_forward_s8(x, w, bias, m, s, stride, dilation, padding, x_zp, y_zp, lo, hi)
    L_out, before = tflite_geometry(L, K, stride, dilation, padding)
    assert yq.shape == (B, L_out, C_out)
    ws = np.broadcast_to(w_scale, (C_out,)).astype(np.float64)
    xs = np.float64(x_scale)
    for b in range(B):
        for t in range(L_out):
            for co in range(C_out):
                real = xs * ws[co] * float(bias[co])             # the bias, dequantized
                for k in range(K):
                    p = t * stride + k * dilation - before
                    if 0 <= p < L:                               # zero padding in real terms
                        for ci in range(C_in):
                            real += (xs * (int(x[b, p, ci]) - x_zp)) * (ws[co] * int(w[co, k, ci]))
                ideal = min(max(real / np.float64(y_scale) + y_zp, lo), hi)
                assert abs(int(yq[b, t, co]) - ideal) < 1 + 1e-9, (b, t, co)


def test_conv1d_s8_accumulator_precondition_counts_kernel_times_channels(backend):
    # depth K*C_in = 3 * 22016 = 66048; R(x_zp=-128) = 255, |w| <= 128: 66048*255*128 > 2^31 - 1
    w = np.zeros((1, 3, 22016), np.int8)
    x = np.zeros((1, 3, 22016), np.int8)
    b, m, s = np.zeros(1, np.int32), np.array([2**30], np.int32), np.array([0], np.int32)
    with pytest.raises(AccumulatorOverflowError, match="^w: "):
        backend.conv1d_forward_s8(x, w, b, m, s, x_zero_point=-128)
    # 65793 * 255 * 128 = 2147483520 fits: K*C_in = 3 * 21931
    x, w = np.zeros((1, 3, 21931), np.int8), np.zeros((1, 3, 21931), np.int8)
    y = backend.conv1d_forward_s8(x, w, b, m, s, x_zero_point=-128)
    assert y.shape == (1, 1, 1)


@given(st.integers(1, 2), st.integers(1, 30), st.integers(1, 6), st.integers(1, 8),
       st.integers(1, 5), st.integers(1, 3), st.integers(1, 3), st.sampled_from(["valid", "same"]),
       st.booleans(), st.data())
def test_conv1d_s8_is_within_one_step_of_the_float32_kernel_on_dequantized_values(
        npb, B, L, C_in, C_out, K, stride, dilation, padding, per_channel, data):
    x, w, bias, x_scale, x_zp, w_scale, y_scale, y_zp, m, s = _random_layer(
        data, B, L, C_in, C_out, K, per_channel)
    yq = npb.conv1d_forward_s8(x, w, bias, m, s, stride, dilation, padding, x_zp, y_zp)
    ws = np.broadcast_to(w_scale, (C_out,))
    xf = npb.dequantize_s8(x, x_scale, x_zp)
    wf = (ws[:, None, None] * w.astype(F32)).astype(F32)
    bf = ((x_scale * ws).astype(F32) * bias.astype(F32)).astype(F32)
    yf = npb.conv1d_forward_f32(xf, wf, bf, stride, dilation, padding).astype(np.float64)
    # the float32 kernel's error (recursive summation over at most K*C_in products, each
    # from dequantized operands) in output steps: a bound on sum |terms| is |b| + K*C_in*max
    terms = np.abs(bf.astype(np.float64)) + K * C_in * np.abs(xf).max() * np.abs(wf).max()
    f32_err = (K * C_in + 5) * 2.0**-24 * terms / np.float64(y_scale)
    ideal = np.clip(yf / np.float64(y_scale) + y_zp, -128, 127)
    assert yq.shape == yf.shape
    assert np.all(np.abs(yq.astype(np.float64) - ideal) <= 1 + f32_err[None, None, :])
