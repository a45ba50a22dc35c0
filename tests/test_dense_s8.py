"""dense_s8: the C kernel equals its NumPy twin bit for bit, the accumulator precondition is
exact at its boundary, and on dequantized values the kernel agrees with the float32 dense
kernel to within one output quantization step."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinyreptile_ref import AccumulatorOverflowError
from tinyreptile_ref.kernels.quant import INT32_MAX, output_multiplier
from tinyreptile_ref.testing import assert_bits_equal, dims

F32 = np.float32
i8 = st.integers(-128, 127)


@st.composite
def dense_s8_inputs(draw, max_dim=9):
    B, I, O = draw(dims(0, max_dim)), draw(dims(0, max_dim)), draw(dims(0, max_dim))
    per_channel = draw(st.booleans()) and O > 1
    n = O if per_channel else 1
    x = draw(hnp.arrays(np.int8, (B, I)))
    w = draw(hnp.arrays(np.int8, (O, I)))
    x_zp, y_zp = draw(i8), draw(i8)
    w_zp = 0 if per_channel else draw(st.one_of(st.just(0), i8))
    # every shift whose left part keeps the accumulator bound inside int32
    rx = 128 + x_zp if x_zp >= 0 else 127 - x_zp
    rw = 128 + w_zp if w_zp >= 0 else 127 - w_zp
    bias = np.array(draw(st.lists(st.integers(-(2**20), 2**20), min_size=O, max_size=O)), np.int32)
    bound = I * rx * rw + 2**20
    max_left = max(0, (INT32_MAX // max(bound, 1)).bit_length() - 1)
    shift = np.array(draw(st.lists(st.integers(-31, min(30, max_left)), min_size=n, max_size=n)),
                     np.int32)
    mult = np.array(draw(st.lists(st.one_of(st.integers(-(2**31), 2**31 - 1),
                                            st.integers(2**30, 2**31 - 1),
                                            st.sampled_from([2**30, -(2**31), 2**31 - 1])),
                                  min_size=n, max_size=n)), np.int32)
    lo = draw(i8)
    hi = draw(st.integers(lo, 127))
    return x, w, bias, mult, shift, x_zp, w_zp, y_zp, lo, hi


@given(dense_s8_inputs())
def test_dense_s8_c_matches_numpy_twin_bitwise(cb, npb, case):
    assert_bits_equal(cb.dense_forward_s8(*case), npb.dense_forward_s8(*case), "y")


@given(st.integers(1, 3), st.data())
def test_dense_s8_c_matches_numpy_twin_at_model_sizes(cb, npb, B, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = rng.integers(-128, 128, (B, 64), dtype=np.int8)
    w = rng.integers(-127, 128, (64, 64), dtype=np.int8)
    bias = rng.integers(-20000, 20000, 64).astype(np.int32)
    m, s = output_multiplier(0.05, rng.uniform(0.001, 0.02, 64), 0.08)
    args = (x, w, bias, m, s, -3, 0, 7, -128, 127)
    assert_bits_equal(cb.dense_forward_s8(*args), npb.dense_forward_s8(*args))


def test_dense_s8_saturates_at_both_ends_and_clamps_to_the_activation(backend):
    x = np.full((1, 4), 127, np.int8)
    w = np.array([[127] * 4, [-128] * 4, [1, -1, 0, 0]], np.int8)
    bias = np.zeros(3, np.int32)
    m, s = output_multiplier(1.0, 1.0, 1.0)
    assert backend.dense_forward_s8(x, w, bias, m, s).tolist() == [[127, -128, 0]]
    assert backend.dense_forward_s8(x, w, bias, m, s, 0, 0, 5, -10, 20).tolist() == [[20, -10, 5]]


def test_dense_s8_accumulator_precondition_is_exact_at_its_boundary(cb, npb):
    # R(-128) = 255 for input and weights: 33025 * 255 * 255 = 2147450625 <= INT32_MAX - 33022
    I = 33025
    x = np.full((1, I), 127, np.int8)
    w = np.full((1, I), 127, np.int8)
    m, s = np.array([2**30], np.int32), np.array([-30], np.int32)
    ok = np.array([INT32_MAX - I * 255 * 255], np.int32)
    for be in (cb, npb):
        y = be.dense_forward_s8(x, w, ok, m, s, -128, -128, 0)
        # acc = INT32_MAX: (2^31 - 1) * 2^30 / 2^31 = 2^30 - 1/2 -> 2^30 (tie toward +inf),
        # then / 2^30 -> 1
        assert y.tolist() == [[1]]
        with pytest.raises(AccumulatorOverflowError, match="^w: "):
            be.dense_forward_s8(x, w, ok + 1, m, s, -128, -128, 0)
        with pytest.raises(AccumulatorOverflowError, match="^w: "):
            be.dense_forward_s8(np.full((1, I + 1), 0, np.int8), np.full((1, I + 1), 0, np.int8),
                                np.zeros(1, np.int32), m, s, -128, -128, 0)
        with pytest.raises(AccumulatorOverflowError):  # a left shift doubles the bound
            be.dense_forward_s8(x[:, :2], w[:, :2], np.array([2**30], np.int32), m,
                                np.array([1], np.int32))


def test_dense_s8_c_returns_the_overflow_status(cb):
    lib, ffi = cb.lib, cb.ffi
    I = 33026
    x = np.zeros(I, np.int8)
    y = np.zeros(1, np.int8)
    b, m, s = np.zeros(1, np.int32), np.array([2**30], np.int32), np.array([-3], np.int32)
    i8p = lambda a: ffi.from_buffer("int8_t[]", a)     # noqa: E731
    i32p = lambda a: ffi.from_buffer("int32_t[]", a)   # noqa: E731
    st_ = lib.tr_dense_forward_s8(i8p(y), i8p(x), i8p(x), i32p(b), i32p(m), i32p(s), 1, I, 1, 1,
                                  -128, -128, 0, -128, 127)
    assert st_ == lib.TR_ERR_OVERFLOW
    st_ = lib.tr_dense_forward_s8(i8p(y), i8p(x), i8p(x), i32p(b), i32p(m), i32p(s), 1, I - 1, 1, 1,
                                  -128, -128, 0, -128, 127)
    assert st_ == lib.TR_OK


@given(st.integers(1, 3), st.integers(1, 40), st.integers(1, 12), st.booleans(), st.data())
def test_dense_s8_is_within_one_step_of_the_float32_kernel_on_dequantized_values(
        cb, npb, B, I, O, per_channel, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x_scale, x_zp = F32(rng.uniform(0.01, 0.1)), int(rng.integers(-128, 128))
    y_zp = int(rng.integers(-128, 128))
    w_scale = rng.uniform(0.001, 0.02, O if per_channel else 1).astype(F32)
    w_zp = 0 if per_channel else int(rng.integers(-20, 21))
    x = rng.integers(-128, 128, (B, I), dtype=np.int8)
    w = rng.integers(-127, 128, (O, I), dtype=np.int8)
    bias = rng.integers(-3000, 3000, O).astype(np.int32)
    # an output scale that spreads the outputs over the int8 range
    y_scale = F32(x_scale * w_scale.max() * 64 * np.sqrt(I) / 127)
    m, s = output_multiplier(x_scale, w_scale, y_scale)
    lo, hi = -128, 127
    yq = cb.dense_forward_s8(x, w, bias, m, s, x_zp, w_zp, y_zp, lo, hi)
    ws = np.broadcast_to(w_scale, (O,))
    xf = npb.dequantize_s8(x, x_scale, x_zp)
    wf = (ws[:, None] * (w.astype(np.int32) - w_zp).astype(F32)).astype(F32)
    bf = ((x_scale * ws).astype(F32) * bias.astype(F32)).astype(F32)
    yf = npb.dense_forward_f32(xf, wf, bf).astype(np.float64)
    # the float32 kernel's own error (recursive summation, Higham 3.1) in output steps
    terms = np.abs(bf.astype(np.float64))[None, :] + np.abs(xf.astype(np.float64)) @ np.abs(wf.astype(np.float64)).T
    f32_err = (I + 5) * 2.0**-24 * terms / np.float64(y_scale)  # + dequantization
    ideal = np.clip(yf / np.float64(y_scale) + y_zp, lo, hi)
    assert np.all(np.abs(yq.astype(np.float64) - ideal) <= 1 + f32_err)
