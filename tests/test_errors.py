"""Bad input gets a project exception that names the argument, from both backends alike,
and never reaches C."""
import numpy as np
import pytest

from tinyreptile_ref import (AccumulatorOverflowError, DTypeError, LayoutError, ParameterError,
                             ShapeError, TinyReptileError)

f = np.float32
X = np.ones((2, 3), f)
W = np.ones((4, 3), f)
Bv = np.ones(4, f)
DY = np.ones((2, 4), f)
T = np.ones(5, f)
CX = np.ones((2, 7, 3), f)      # conv1d x [B, L, C_in]
CW = np.ones((4, 3, 3), f)      # conv1d w [C_out, K, C_in]
CB = np.ones(4, f)
CDY = np.ones((2, 5, 4), f)     # dy of 'valid', stride 1: L_out = 5
Z = np.ones((2, 3), f)
LAB = np.array([0, 2], np.int32)

# (kernel, args, exception type, the argument the message must name)
BAD_CALLS = [
    ("dense_forward_f32", (X.astype(np.float64), W, Bv), DTypeError, "x"),
    ("dense_forward_f32", (X.tolist(), W, Bv), DTypeError, "x"),
    ("dense_forward_f32", (X, np.ones((4, 2), f), Bv), ShapeError, "w"),
    ("dense_forward_f32", (X, W, np.ones(3, f)), ShapeError, "bias"),
    ("dense_forward_f32", (X, np.asfortranarray(np.ones((4, 3), f)), Bv), LayoutError, "w"),
    ("dense_forward_f32", (np.ones((2, 6), f)[:, ::2], W, Bv), LayoutError, "x"),
    ("dense_forward_f32", (np.ones(3, f), W, Bv), ShapeError, "x"),
    ("dense_backward_f32", (np.ones((2, 5), f), X, W), ShapeError, "dy"),
    ("dense_backward_f32", (DY.astype(np.float16), X, W), DTypeError, "dy"),
    ("conv1d_forward_f32", (CX, CW, CB, 0), ParameterError, "stride"),
    ("conv1d_forward_f32", (CX, CW, CB, 1, -1), ParameterError, "dilation"),
    ("conv1d_forward_f32", (CX, CW, CB, 1, 1, "full"), ParameterError, "padding"),
    ("conv1d_forward_f32", (CX, CW, CB, 1, 1, 1), ParameterError, "padding"),
    ("conv1d_forward_f32", (CX, CW, CB, 1.0), ParameterError, "stride"),
    ("conv1d_forward_f32", (CX, CW, CB, 2**31), ParameterError, "stride"),
    ("conv1d_forward_f32", (CX, np.ones((4, 3, 2), f), CB), ShapeError, "w"),
    ("conv1d_forward_f32", (CX, np.ones((4, 0, 3), f), CB), ShapeError, "w"),
    ("conv1d_forward_f32", (CX, CW, np.ones(3, f)), ShapeError, "bias"),
    ("conv1d_forward_f32", (CX.astype(np.float64), CW, CB), DTypeError, "x"),
    ("conv1d_forward_f32", (CX, CW.astype(np.int8), CB), DTypeError, "w"),
    ("conv1d_forward_f32", (CX, np.ones((4, 3, 6), f)[:, :, ::2], CB), LayoutError, "w"),
    ("conv1d_forward_f32", (np.asfortranarray(CX), CW, CB), LayoutError, "x"),
    ("conv1d_forward_f32", (CX[0], CW, CB), ShapeError, "x"),
    ("conv1d_forward_f32", (CX, CW, CB, 1, 2**30), ShapeError, "dilation"),
    ("conv1d_forward_f32", (np.ones((2**16, 2**16, 0), f), np.ones((4, 3, 0), f), CB), ShapeError, "x"),
    ("conv1d_backward_f32", (np.ones((2, 7, 4), f), CX, CW), ShapeError, "dy"),
    ("conv1d_backward_f32", (CDY, CX, CW, 1, 1, "same"), ShapeError, "dy"),
    ("conv1d_backward_f32", (CDY.astype(np.float16), CX, CW), DTypeError, "dy"),
    ("conv1d_backward_f32", (CDY[:, ::-1], CX, CW), LayoutError, "dy"),
    ("conv1d_backward_f32", (CDY, CX, CW, 1, 0), ParameterError, "dilation"),
    ("conv1d_out_len", (-1, 3), ParameterError, "L"),
    ("conv1d_out_len", (7, 0), ParameterError, "K"),
    ("conv1d_out_len", (7, 3, 0), ParameterError, "stride"),
    ("conv1d_out_len", (7, 3, 1, 1, "SAME"), ParameterError, "padding"),
    ("conv1d_out_len", (7, 3, 1, 2**30), ShapeError, "dilation"),
    ("conv1d_out_len", (2**31 - 1, 2, 1, 2**30, "same"), ShapeError, "L"),
    ("sgd_step_f32", (T.copy(), np.ones(4, f), 0.1), ShapeError, "g"),
    ("sgd_step_f32", (T.copy(), T, float("nan")), ParameterError, "lr"),
    ("sgd_step_f32", (T.copy(), T, 1e39), ParameterError, "lr"),
    ("sgd_step_f32", (T.copy(), T, "0.1"), ParameterError, "lr"),
    ("sgd_step_f32", (np.ones((5, 1), f), T, 0.1), ShapeError, "theta"),
    ("reptile_interpolate_f32", (T.copy(), T.astype(np.int32), 0.5), DTypeError, "phi"),
    ("reptile_interpolate_f32", (T.copy(), T, float("inf")), ParameterError, "eps"),
    ("exp_f32", (T.astype(np.float64),), DTypeError, "x"),
    ("log_f32", ([1.0, 2.0],), DTypeError, "x"),
    ("tanh_f32", (np.asfortranarray(np.ones((3, 2), f)),), LayoutError, "x"),
    ("exp_f32", (np.ones(10, f)[::2],), LayoutError, "x"),
    ("relu_forward_f32", (T.astype(np.int32),), DTypeError, "x"),
    ("relu_backward_f32", (T, np.ones(4, f)), ShapeError, "x"),
    ("relu_backward_f32", (T.astype(np.float16), T), DTypeError, "dy"),
    ("tanh_forward_f32", (np.ones((4, 6), f)[:, ::3],), LayoutError, "x"),
    ("tanh_backward_f32", (T, np.ones((5, 1), f)), ShapeError, "y"),
    ("tanh_backward_f32", (T, T.astype(np.float64)), DTypeError, "y"),
    ("mse_loss_f32", (T, np.ones(4, f)), ShapeError, "target"),
    ("mse_loss_f32", (T.astype(np.float64), T), DTypeError, "pred"),
    ("mse_loss_f32", (T, T.tolist()), DTypeError, "target"),
    ("softmax_xent_loss_f32", (Z, np.array([0, 3], np.int32)), ParameterError, "labels"),
    ("softmax_xent_loss_f32", (Z, np.array([-1, 0], np.int32)), ParameterError, "labels"),
    ("softmax_xent_loss_f32", (np.ones((2, 0), f), np.array([0, 0], np.int32)), ParameterError, "labels"),
    ("softmax_xent_loss_f32", (Z, LAB.astype(np.int64)), DTypeError, "labels"),
    ("softmax_xent_loss_f32", (Z, np.array([0, 1, 2], np.int32)), ShapeError, "labels"),
    ("softmax_xent_loss_f32", (Z, LAB.reshape(2, 1)), ShapeError, "labels"),
    ("softmax_xent_loss_f32", (np.ones(3, f), LAB), ShapeError, "logits"),
    ("softmax_xent_loss_f32", (Z.astype(np.float64), LAB), DTypeError, "logits"),
    ("softmax_xent_loss_f32", (Z, [0, 2]), DTypeError, "labels"),
]


# int8 kernels
i8, i32 = np.int8, np.int32
XQ = np.zeros((2, 3), i8)
WQ = np.zeros((4, 3), i8)
BQ = np.zeros(4, i32)
M1 = np.full(1, 2**30, i32)
S1 = np.full(1, -3, i32)
XC = np.zeros((1, 5, 3), i8)
WC = np.zeros((4, 2, 3), i8)
Q5 = np.zeros(5, i8)
G5 = np.zeros(5, i32)
BAD_CALLS += [
    ("multiply_by_quantized_multiplier_s32", (G5.astype(np.int64), M1, S1), DTypeError, "x"),
    ("multiply_by_quantized_multiplier_s32", (G5, M1, np.full(1, 31, i32)), ParameterError, "shift"),
    ("multiply_by_quantized_multiplier_s32", (G5, M1, np.full(1, -32, i32)), ParameterError, "shift"),
    ("multiply_by_quantized_multiplier_s32", (G5, np.full(2, 1, i32), S1), ShapeError, "shift"),
    ("multiply_by_quantized_multiplier_s32", (G5, np.full(3, 1, i32), np.zeros(3, i32)), ShapeError, "x"),
    ("multiply_by_quantized_multiplier_s32", (np.full(2, 2**30, i32), M1, np.ones(1, i32)),
     AccumulatorOverflowError, "x"),
    ("quantize_s8", (T, 0.0, 0), ParameterError, "scale"),
    ("quantize_s8", (T, -1.0, 0), ParameterError, "scale"),
    ("quantize_s8", (T, float("nan"), 0), ParameterError, "scale"),
    ("quantize_s8", (T, 0.1, 128), ParameterError, "zero_point"),
    ("quantize_s8", (T.astype(np.float64), 0.1, 0), DTypeError, "x"),
    ("dequantize_s8", (Q5.astype(np.uint8), 0.1, 0), DTypeError, "q"),
    ("dequantize_s8", (Q5, float("inf"), 0), ParameterError, "scale"),
    ("dequantize_s8", (Q5, 0.1, -129), ParameterError, "zero_point"),
    ("transport_quantize_s8", (T, 0), ParameterError, "chunk"),
    ("transport_quantize_s8", (np.array([1.0, np.inf], f), 4), ParameterError, "x"),
    ("transport_quantize_s8", (np.array([np.nan], f), 4), ParameterError, "x"),
    ("transport_quantize_s8", (np.ones((2, 2), f), 4), ShapeError, "x"),
    ("transport_dequantize_s8", (Q5, np.ones(1, f), 2), ShapeError, "scale"),
    ("transport_dequantize_s8", (Q5, np.ones(3, np.float64), 2), DTypeError, "scale"),
    ("sgd_step_s8", (Q5.copy(), np.zeros(4, i32), 2**30, -3), ShapeError, "g"),
    ("sgd_step_s8", (Q5.copy(), G5.astype(i8), 2**30, -3), DTypeError, "g"),
    ("sgd_step_s8", (Q5.copy(), G5, 2**31, -3), ParameterError, "multiplier"),
    ("sgd_step_s8", (Q5.copy(), G5, 2**30, 31), ParameterError, "shift"),
    ("sgd_step_s8", (Q5.copy(), np.full(5, 2**29, i32), 2**30, 2), AccumulatorOverflowError, "g"),
    ("sgd_step_s8", (G5.copy(), G5, 2**30, 0), DTypeError, "theta"),
    ("reptile_interpolate_s8", (Q5.copy(), G5, 2**30, 0), DTypeError, "phi"),
    ("reptile_interpolate_s8", (Q5.copy(), Q5, 1.5, 0), ParameterError, "multiplier"),
    ("reptile_interpolate_s8", (Q5.copy(), np.full(5, 100, i8), 2**30, 30),
     AccumulatorOverflowError, "phi"),
    ("dense_forward_s8", (XQ.astype(np.uint8), WQ, BQ, M1, S1), DTypeError, "x"),
    ("dense_forward_s8", (XQ, np.zeros((4, 2), i8), BQ, M1, S1), ShapeError, "w"),
    ("dense_forward_s8", (XQ, WQ, BQ.astype(np.int64), M1, S1), DTypeError, "bias"),
    ("dense_forward_s8", (XQ, WQ, np.zeros(3, i32), M1, S1), ShapeError, "bias"),
    ("dense_forward_s8", (XQ, WQ, BQ, np.ones(2, i32), np.zeros(2, i32)), ShapeError, "multiplier"),
    ("dense_forward_s8", (XQ, WQ, BQ, np.ones(4, i32), np.zeros(3, i32)), ShapeError, "shift"),
    ("dense_forward_s8", (XQ, WQ, BQ, M1, np.full(1, 31, i32)), ParameterError, "shift"),
    ("dense_forward_s8", (XQ, WQ, BQ, M1, S1, 128), ParameterError, "x_zero_point"),
    ("dense_forward_s8", (XQ, WQ, BQ, M1, S1, 0, -129), ParameterError, "w_zero_point"),
    ("dense_forward_s8", (XQ, WQ, BQ, np.ones(4, i32), np.zeros(4, i32), 0, 3), ParameterError,
     "w_zero_point"),
    ("dense_forward_s8", (XQ, WQ, BQ, M1, S1, 0, 0, 200), ParameterError, "y_zero_point"),
    ("dense_forward_s8", (XQ, WQ, BQ, M1, S1, 0, 0, 0, 5, 4), ParameterError, "act_max"),
    ("dense_forward_s8", (XQ, WQ, BQ, M1, S1, 0, 0, 0, -129, 4), ParameterError, "act_min"),
    ("dense_forward_s8", (XQ, WQ, np.full(4, 2**30, i32), M1, np.full(1, 2, i32)),
     AccumulatorOverflowError, "w"),
    ("dense_forward_s8", (np.zeros((2, 6), i8)[:, ::2], WQ, BQ, M1, S1), LayoutError, "x"),
    ("conv1d_forward_s8", (XC.astype(np.int16), WC, BQ, M1, S1), DTypeError, "x"),
    ("conv1d_forward_s8", (XC, np.zeros((4, 2, 2), i8), BQ, M1, S1), ShapeError, "w"),
    ("conv1d_forward_s8", (XC, np.zeros((4, 0, 3), i8), BQ, M1, S1), ShapeError, "w"),
    ("conv1d_forward_s8", (XC, WC, np.zeros(5, i32), M1, S1), ShapeError, "bias"),
    ("conv1d_forward_s8", (XC, WC, BQ, M1, S1, 0), ParameterError, "stride"),
    ("conv1d_forward_s8", (XC, WC, BQ, M1, S1, 1, 0), ParameterError, "dilation"),
    ("conv1d_forward_s8", (XC, WC, BQ, M1, S1, 1, 1, "full"), ParameterError, "padding"),
    ("conv1d_forward_s8", (XC, WC, BQ, M1, S1, 1, 1, "same", -200), ParameterError, "x_zero_point"),
    ("conv1d_forward_s8", (XC, WC, BQ, M1, S1, 1, 1, "same", 0, 0, 10, 9), ParameterError, "act_max"),
    ("conv1d_forward_s8", (XC, WC, BQ, M1, np.full(1, -40, i32)), ParameterError, "shift"),
    ("conv1d_forward_s8", (XC, WC, BQ, M1, S1, 1, 2**31 - 1), ShapeError, "dilation"),
    ("conv1d_forward_s8", (XC, WC, np.full(4, 2**31 - 1, i32), M1, S1), AccumulatorOverflowError, "w"),
]


def _readonly(n=5):
    t = np.ones(n, f)
    t.flags.writeable = False
    return t


BAD_CALLS.append(("sgd_step_f32", (_readonly(), T, 0.1), LayoutError, "theta"))
_ro8 = np.zeros(5, np.int8)
_ro8.flags.writeable = False
BAD_CALLS.append(("reptile_interpolate_s8", (_ro8, Q5, 2**30, 0), LayoutError, "theta"))


# the model runtime: a small sine model and a small conv1d classifier
from tinyreptile_ref.runtime.model import Conv1d, Dense, Flatten, Model, ReLU, Tanh  # noqa: E402

SM = Model((1,), [Dense(3), Tanh(), Dense(1)])
CM = Model((4, 2), [Conv1d(2, 3), ReLU(), Flatten(), Dense(3)], loss="softmax_xent")
STH = np.zeros(SM.n_params, f)
CTH = np.zeros(CM.n_params, f)
SX, SY = np.ones((2, 1), f), np.ones((2, 1), f)
CX1, CY1 = np.ones((1, 4, 2), f), np.array([1], np.int32)
ORD = np.array([[1, 0]], np.int32)
BAD_CALLS += [
    ("model_forward_f32", (STH.astype(np.float64), SX, SM), DTypeError, "theta"),
    ("model_forward_f32", (STH[:-1], SX, SM), ShapeError, "theta"),
    ("model_forward_f32", (STH, np.ones((2, 2), f), SM), ShapeError, "x"),
    ("model_forward_f32", (STH, SX, "sine"), ParameterError, "model"),
    ("model_backward_f32", (STH, SX, SY[:1], SM), ShapeError, "target"),
    ("model_backward_f32", (CTH, CX1, np.array([3], np.int32), CM), ParameterError, "target"),
    ("model_backward_f32", (CTH, CX1, CY1.astype(np.int64), CM), DTypeError, "target"),
    ("model_train_step_f32", (STH.copy(), SX, SY, SM, 0.1, "fast"), ParameterError, "mode"),
    ("model_train_step_f32", (STH.copy(), SX, SY, SM, 0.1, "fused"), ParameterError, "mode"),
    ("model_train_step_f32", (STH.copy(), SX, SY, SM, float("inf"), "grad"), ParameterError, "lr"),
    ("model_train_step_f32", (_readonly(SM.n_params), SX, SY, SM, 0.1, "grad"), LayoutError, "theta"),
    ("tinyreptile_device_round_f32", (STH, SX, SY, SM, 0.1, "accumulate"), ParameterError, "mode"),
    ("tinyreptile_device_round_f32", (CTH, CX1, np.array([-1], np.int32), CM, 0.1), ParameterError,
     "target"),
    ("reptile_device_round_f32", (STH, SX, SY, np.array([[1, 2]], np.int32), SM, 1, 2, 0.1),
     ParameterError, "order"),
    ("reptile_device_round_f32", (STH, SX, SY, ORD.T.copy(), SM, 1, 2, 0.1), ShapeError, "order"),
    ("reptile_device_round_f32", (STH, SX, SY, ORD.astype(np.int64), SM, 1, 2, 0.1), DTypeError,
     "order"),
    ("reptile_device_round_f32", (STH, SX, SY, ORD, SM, 1, 0, 0.1), ParameterError, "batch"),
    ("reptile_device_round_f32", (STH, SX, SY, ORD, SM, -1, 2, 0.1), ParameterError, "epochs"),
]


@pytest.mark.parametrize("kernel,args,exc,arg", BAD_CALLS, ids=[f"{k}-{a}-{e.__name__}" for k, _, e, a in BAD_CALLS])
def test_bad_input_raises_a_project_exception_naming_the_argument(backend, kernel, args, exc, arg):
    with pytest.raises(exc, match=rf"^{arg}: ") as info:
        getattr(backend, kernel)(*args)
    assert isinstance(info.value, TinyReptileError)


@pytest.mark.parametrize("kernel,args,exc,arg", BAD_CALLS, ids=[f"{k}-{a}" for k, _, e, a in BAD_CALLS])
def test_both_backends_give_the_same_message(cb, npb, kernel, args, exc, arg):
    messages = []
    for be in (cb, npb):
        with pytest.raises(exc) as info:
            getattr(be, kernel)(*args)
        messages.append(str(info.value))
    assert messages[0] == messages[1]


def test_in_place_update_leaves_theta_untouched_when_refused(backend):
    theta = np.arange(5, dtype=f)
    before = theta.copy()
    with pytest.raises(ShapeError):
        backend.sgd_step_f32(theta, np.ones(4, f), 0.1)
    assert np.array_equal(theta, before)


def test_refused_int8_update_leaves_theta_untouched(backend):
    theta = np.arange(5, dtype=np.int8)
    g = np.array([0, 0, 0, 0, 2**29], np.int32)     # the last one overflows the left shift
    with pytest.raises(AccumulatorOverflowError):
        backend.sgd_step_s8(theta, g, 2**30, 2)
    assert theta.tolist() == [0, 1, 2, 3, 4]


def test_a_size_beyond_int32_is_refused_even_when_the_array_is_empty(backend):
    # A zero-size array may still carry a size that the C side cannot represent.
    x = np.ones((2**31, 0), f)
    with pytest.raises(ShapeError, match=r"^x: "):
        backend.dense_forward_f32(x, np.ones((3, 0), f), np.ones(3, f))
