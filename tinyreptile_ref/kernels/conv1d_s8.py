"""NumPy twin of csrc/conv1d_s8.c: channels-last 1-D convolution, int8, forward (TFLite's
ConvPerChannel with height 1; symmetric weights, per-tensor or per-channel multipliers).

Layouts: x [B, L, C_in], w [C_out, K, C_in], bias [C_out], y [B, L_out, C_out]. With
p(t, k) = t*stride + k*dilation - pad_before, tap (t, k) is valid when 0 <= p(t, k) < L; taps
in the padding are skipped, which is padding with the input zero point, TFLite's behaviour.
The sum runs over k ascending, then ci ascending, in Python loops, vectorised across the
independent outputs [B, t, C_out]; integer sums are exact.
"""
import numpy as np

from . import _checks as ck
from .conv1d import PADDINGS, geometry, tap_windows
from .dense_s8 import check_channels, check_s8_params
from ..errors import ParameterError, ShapeError
from .quant import offset_range, output_stage_s8

def check_conv1d_s8(x, w, bias, multiplier, shift, stride, dilation, padding, x_zero_point,
                    y_zero_point, act_min, act_max):
    """Check the arguments of conv1d_forward_s8; returns (B, L, C_in, C_out, K, n_mult, stride,
    dilation, padding code, L_out, pad_before, x_zp, y_zp, act_min, act_max)."""
    ck.array("x", x, ck.I8, 3)
    ck.array("w", w, ck.I8, 3)
    B, L, C_in = x.shape
    C_out, K, wci = w.shape
    if wci != C_in:
        raise ShapeError(f"w: shape {w.shape} has {wci} input channels, x shape {x.shape} has {C_in}")
    if K < 1:
        raise ShapeError(f"w: shape {w.shape} has kernel size {K}, expected at least 1")
    ck.sizes(("x", x.shape))
    ck.sizes(("w", w.shape))
    stride = ck.int_param("stride", stride, 1)
    dilation = ck.int_param("dilation", dilation, 1)
    if not isinstance(padding, str) or padding not in PADDINGS:
        raise ParameterError(f"padding: {padding!r} is not one of 'valid', 'same'")
    x_zp, _, y_zp, lo, hi = check_s8_params(x_zero_point, 0, y_zero_point, act_min, act_max)
    L_out, pad = geometry(L, K, stride, dilation, padding)
    ck.sizes(("y", (B, L_out, C_out)))
    n_mult = check_channels(bias, multiplier, shift, C_out, K * C_in, offset_range(x_zp),
                            offset_range(0), "w")
    return (B, L, C_in, C_out, K, n_mult, stride, dilation, PADDINGS[padding], L_out, pad,
            x_zp, y_zp, lo, hi)


def conv1d_forward_s8(x, w, bias, multiplier, shift, stride=1, dilation=1, padding="valid",
                      x_zero_point=0, y_zero_point=0, act_min=-128, act_max=127):
    """y[B, L_out, C_out] int8 from x[B, L, C_in] int8, w[C_out, K, C_in] int8 (symmetric),
    bias[C_out] int32, multiplier and shift int32 [1 or C_out].

    acc[b, t, co] = 0 + sum over k ascending, then ci ascending (valid taps only), of
                    w[co, k, ci]*(x[b, p(t, k), ci] - x_zp), then + bias[co]
    y[b, t, co] = clamp(MBQM(acc, multiplier[c], shift[c]) + y_zp, act_min, act_max)
    """
    (B, L, C_in, C_out, K, n_mult, stride, dilation, _, L_out, pad, x_zp, y_zp, lo,
     hi) = check_conv1d_s8(x, w, bias, multiplier, shift, stride, dilation, padding,
                           x_zero_point, y_zero_point, act_min, act_max)
    xs = x.astype(np.int64) - x_zp     # [B, L, C_in]
    w64 = w.astype(np.int64)           # [C_out, K, C_in]
    acc = np.zeros((B, L_out, C_out), np.int64)
    for k, xk, ak in tap_windows(xs, acc, K, stride, dilation, pad):  # ak: a view of acc
        for ci in range(C_in):
            ak += w64[None, None, :, k, ci] * xk[:, :, ci, None]
    acc += bias[None, None, :]
    return output_stage_s8(acc, multiplier[None, None, :], shift[None, None, :], y_zp, lo, hi)
