"""NumPy twin of csrc/dense_s8.c: fully connected layer, int8, forward (TFLite's
FullyConnected with a weight zero point, and FullyConnectedPerChannel).

The sum runs over i ascending in a Python loop, vectorised across the independent outputs
[B, O]; integer sums are exact, and the overflow precondition guarantees that the C kernel's
int32 accumulator holds every partial sum the int64 one here holds.
"""
import numpy as np

from . import _checks as ck
from ..errors import AccumulatorOverflowError, ParameterError, ShapeError
from .quant import INT32_MAX, _check_shift, offset_range, output_stage_s8


def check_s8_params(x_zero_point, w_zero_point, y_zero_point, act_min, act_max):
    """The scalar parameters every int8 layer takes; returns them as Python ints."""
    x_zero_point = ck.int_param("x_zero_point", x_zero_point, -128, 127)
    w_zero_point = ck.int_param("w_zero_point", w_zero_point, -128, 127)
    y_zero_point = ck.int_param("y_zero_point", y_zero_point, -128, 127)
    act_min = ck.int_param("act_min", act_min, -128, 127)
    act_max = ck.int_param("act_max", act_max, -128, 127)
    if act_min > act_max:
        raise ParameterError(f"act_max: {act_max} is below act_min {act_min}")
    return x_zero_point, w_zero_point, y_zero_point, act_min, act_max


def check_channels(bias, multiplier, shift, O, depth, rx, rw, depth_name):
    """bias [O] int32, multiplier and shift int32 [1 or O]; every shift in [-31, 30]; and the
    accumulator bound (depth*rx*rw + |bias[o]|) * 2**max(shift, 0) <= INT32_MAX per output."""
    ck.array("bias", bias, ck.I32, 1)
    if bias.shape[0] != O:
        raise ShapeError(f"bias: length {bias.shape[0]}, expected {O} = number of outputs")
    ck.array("multiplier", multiplier, ck.I32, 1)
    ck.array("shift", shift, ck.I32, 1)
    n_mult = multiplier.shape[0]
    if n_mult not in (1, O):
        raise ShapeError(f"multiplier: length {n_mult}, expected 1 (per tensor) or {O} (per channel)")
    if shift.shape != multiplier.shape:
        raise ShapeError(f"shift: shape {shift.shape} does not match multiplier shape "
                         f"{multiplier.shape}")
    _check_shift("shift", shift)
    if O:
        left = np.maximum(np.broadcast_to(shift, (O,)).astype(np.int64), 0)
        bound = depth * rx * rw + np.abs(bias.astype(np.int64))
        bad = np.flatnonzero(bound > (INT32_MAX >> left))
        if bad.size:
            o = int(bad[0])
            raise AccumulatorOverflowError(
                f"{depth_name}: the int32 accumulator of output {o} could overflow: "
                f"(depth {depth} * {rx} * {rw} + |bias| {abs(int(bias[o]))}) * 2**{int(left[o])} "
                f"exceeds {INT32_MAX}")
    return n_mult


def check_dense_s8(x, w, bias, multiplier, shift, x_zero_point, w_zero_point, y_zero_point,
                   act_min, act_max):
    """Check the arguments of dense_forward_s8; returns (B, I, O, n_mult, x_zp, w_zp, y_zp,
    act_min, act_max)."""
    ck.array("x", x, ck.I8, 2)
    ck.array("w", w, ck.I8, 2)
    B, I = x.shape
    O, wi = w.shape
    if wi != I:
        raise ShapeError(f"w: shape {w.shape} has {wi} inputs, x shape {x.shape} has {I}")
    ck.sizes(("x", x.shape), ("w", w.shape), ("y", (B, O)))
    params = check_s8_params(x_zero_point, w_zero_point, y_zero_point, act_min, act_max)
    ck.array("multiplier", multiplier, ck.I32, 1)
    if params[1] != 0 and multiplier.shape[0] != 1:
        raise ParameterError(f"w_zero_point: {params[1]}, but per-channel weights are symmetric "
                             f"(zero point 0); a weight zero point needs one multiplier")
    n_mult = check_channels(bias, multiplier, shift, O, I, offset_range(params[0]),
                            offset_range(params[1]), "w")
    return (B, I, O, n_mult) + params


def dense_forward_s8(x, w, bias, multiplier, shift, x_zero_point=0, w_zero_point=0,
                     y_zero_point=0, act_min=-128, act_max=127):
    """y[B, O] int8 from x[B, I] int8, w[O, I] int8, bias[O] int32, multiplier and shift int32
    [1 or O] (per tensor or per output channel).

    acc[b, o] = 0 + sum over i ascending of (w[o, i] - w_zp)*(x[b, i] - x_zp), then + bias[o]
    y[b, o] = clamp(MBQM(acc, multiplier[c], shift[c]) + y_zp, act_min, act_max)
    (MBQM: TFLite's double-rounding MultiplyByQuantizedMultiplier; c = o or 0).
    """
    B, I, O, n_mult, x_zp, w_zp, y_zp, lo, hi = check_dense_s8(
        x, w, bias, multiplier, shift, x_zero_point, w_zero_point, y_zero_point, act_min, act_max)
    xs = x.astype(np.int64) - x_zp  # [B, I]
    ws = w.astype(np.int64) - w_zp  # [O, I]
    acc = np.zeros((B, O), np.int64)
    for i in range(I):
        acc += xs[:, i, None] * ws[None, :, i]
    acc += bias[None, :]
    return output_stage_s8(acc, multiplier[None, :], shift[None, :], y_zp, lo, hi)
