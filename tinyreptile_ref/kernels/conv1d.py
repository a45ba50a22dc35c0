"""NumPy twin of csrc/conv1d.c: channels-last 1-D convolution, float32, forward and backward.

Layouts: x [B, L, C_in], w [C_out, K, C_in], bias [C_out], y [B, L_out, C_out].
With p(t, k) = t*stride + k*dilation - pad_before, a tap (t, k) is valid when 0 <= p(t, k) < L;
taps in the padding are skipped (not multiplied by zero), exactly as the C kernels do.

Every sum runs over its reduction axes in Python loops, in the order tinyreptile.h states,
and is vectorised only across independent outputs; each product is rounded to float32
before it is added (the C kernels are built without fused multiply-add).
"""
import numpy as np

from . import _checks as ck
from ..errors import ParameterError, ShapeError

F32 = np.float32

#: The padding modes and the codes the C kernels take (TR_PAD_VALID, TR_PAD_SAME).
PADDINGS = {"valid": 0, "same": 1}


def _padding_code(padding):
    if not isinstance(padding, str) or padding not in PADDINGS:
        raise ParameterError(f"padding: {padding!r} is not one of 'valid', 'same'")
    return PADDINGS[padding]


def geometry(L, K, stride, dilation, padding, L_name="x"):
    """(L_out, pad_before) by TFLite's rule, after the C kernels' int32 range checks.

    Mirrors tr__out_len in csrc/conv1d.c (used by the float32 and the int8 conv1d);
    `L_name` is the argument a size error names."""
    span = (K - 1) * dilation + 1
    if span > ck.INT32_MAX:
        raise ShapeError(f"dilation: the kernel span (K-1)*dilation + 1 = {span} exceeds the "
                         f"int32 limit {ck.INT32_MAX}")
    if padding == "valid":
        return ((L - span) // stride + 1 if L >= span else 0), 0
    n = -(-L // stride)  # ceil(L / stride)
    reach = (n - 1) * stride + span
    if reach > ck.INT32_MAX:
        raise ShapeError(f"{L_name}: with padding 'same' the padded length (L_out-1)*stride + "
                         f"span = {reach} exceeds the int32 limit {ck.INT32_MAX}")
    return n, max(reach - L, 0) // 2


def check_conv1d_out_len(L, K, stride, dilation, padding):
    """Check the arguments of conv1d_out_len; returns (L, K, stride, dilation, padding code,
    L_out, pad_before)."""
    L = ck.int_param("L", L, 0)
    K = ck.int_param("K", K, 1)
    stride = ck.int_param("stride", stride, 1)
    dilation = ck.int_param("dilation", dilation, 1)
    code = _padding_code(padding)
    L_out, pad = geometry(L, K, stride, dilation, padding, "L")
    return L, K, stride, dilation, code, L_out, pad


def check_conv1d(x, w, bias=ck.ABSENT, dy=ck.ABSENT, stride=1, dilation=1, padding="valid"):
    """Check the arguments of the conv1d kernels (bias and dy when given: None is refused as
    any non-array is); returns
    (B, L, C_in, C_out, K, stride, dilation, padding code, L_out, pad_before)."""
    ck.f32("x", x, 3)
    ck.f32("w", w, 3)
    B, L, C_in = x.shape
    C_out, K, wci = w.shape
    if wci != C_in:
        raise ShapeError(f"w: shape {w.shape} has {wci} input channels, x shape {x.shape} has {C_in}")
    if K < 1:
        raise ShapeError(f"w: shape {w.shape} has kernel size {K}, expected at least 1")
    if bias is not ck.ABSENT:
        ck.f32("bias", bias, 1)
        if bias.shape[0] != C_out:
            raise ShapeError(f"bias: length {bias.shape[0]}, expected {C_out} = w.shape[0]")
    stride = ck.int_param("stride", stride, 1)
    dilation = ck.int_param("dilation", dilation, 1)
    code = _padding_code(padding)
    ck.sizes(("x", x.shape))
    ck.sizes(("w", w.shape))
    L_out, pad = geometry(L, K, stride, dilation, padding, "x")
    ck.sizes(("y", (B, L_out, C_out)))
    if dy is not ck.ABSENT:
        ck.f32("dy", dy, 3)
        if dy.shape != (B, L_out, C_out):
            raise ShapeError(f"dy: shape {dy.shape}, expected {(B, L_out, C_out)} = "
                             f"(B, L_out, C_out)")
    return B, L, C_in, C_out, K, stride, dilation, code, L_out, pad


def taps(base, step, n, L):
    """The range (lo, hi) of j in [0, n) with 0 <= base + j*step < L; lo == hi when empty.
    Mirrors tr__taps in csrc/conv1d.c; the int8 conv1d uses it too."""
    lo = 0 if base >= 0 else -(base // step)  # ceil(-base / step)
    hi = 0 if base > L - 1 else (L - 1 - base) // step + 1
    hi = min(hi, n)
    return min(lo, hi), hi


def tap_windows(xs, ys, K, stride, dilation, pad):
    """For each tap k ascending that reaches the input: (k, xk, yk), views of the input-side
    rows xs[:, p(t, k), :] [B, n, .] and the output-side rows ys[:, t, :] [B, n, .] for the n
    outputs t = t0 .. t1-1 whose tap k is not padding (p(t, k) = t*stride + k*dilation - pad).
    The f32 and int8 forward passes and the f32 dx loop walk the taps through it."""
    L, L_out = xs.shape[1], ys.shape[1]
    for k in range(K):
        t0, t1 = taps(k * dilation - pad, stride, L_out, L)
        if t0 == t1:
            continue
        p0 = t0 * stride + k * dilation - pad
        yield k, xs[:, p0:p0 + (t1 - t0 - 1) * stride + 1:stride, :], ys[:, t0:t1, :]


def conv1d_out_len(L, K, stride=1, dilation=1, padding="valid"):
    """(L_out, pad_before) of a conv1d over length L with kernel size K, TFLite's rule.

    With the span S = (K-1)*dilation + 1:
      valid: L_out = (L - S) // stride + 1 if L >= S else 0, pad_before = 0
      same:  L_out = ceil(L / stride), pad_before = max((L_out-1)*stride + S - L, 0) // 2
    """
    return check_conv1d_out_len(L, K, stride, dilation, padding)[5:]


def conv1d_forward_f32(x, w, bias, stride=1, dilation=1, padding="valid"):
    """y[B, L_out, C_out] from x[B, L, C_in], w[C_out, K, C_in], bias[C_out].

    y[b, t, co] = bias[co] + sum over k ascending, then ci ascending, of
                  w[co, k, ci]*x[b, p(t, k), ci]   (valid taps only; float32).
    """
    B, L, C_in, C_out, K, stride, dilation, _, L_out, pad = check_conv1d(
        x, w, bias, ck.ABSENT, stride, dilation, padding)
    y = np.empty((B, L_out, C_out), F32)
    y[...] = bias
    for k, xk, yk in tap_windows(x, y, K, stride, dilation, pad):  # yk: a view of y
        for ci in range(C_in):
            yk += w[None, None, :, k, ci] * xk[:, :, ci, None]
    return y


def conv1d_backward_f32(dy, x, w, stride=1, dilation=1, padding="valid"):
    """(dx[B, L, C_in], dw[C_out, K, C_in], db[C_out]) from dy[B, L_out, C_out], x, w.

    dx[b, l, ci]  = 0 + sum over k ascending (the t with p(t, k) = l, if any), then co
                    ascending, of w[co, k, ci]*dy[b, t, co]
    dw[co, k, ci] = 0 + sum over b ascending, then t ascending (valid taps only), of
                    dy[b, t, co]*x[b, p(t, k), ci]
    db[co]        = 0 + sum over b ascending, then t ascending, of dy[b, t, co]
    """
    B, L, C_in, C_out, K, stride, dilation, _, L_out, pad = check_conv1d(
        x, w, ck.ABSENT, dy, stride, dilation, padding)
    dx = np.zeros((B, L, C_in), F32)
    for k, dxk, dyk in tap_windows(dx, dy, K, stride, dilation, pad):  # dxk: a view of dx
        for co in range(C_out):
            dxk += w[None, None, co, k, :] * dyk[:, :, co, None]
    dw = np.zeros((C_out, K, C_in), F32)
    db = np.zeros(C_out, F32)
    for b in range(B):
        for t in range(L_out):
            g = dy[b, t, :]                                          # [C_out]
            k0, k1 = taps(t * stride - pad, dilation, K, L)
            if k0 < k1:
                p0 = t * stride + k0 * dilation - pad
                xt = x[b, p0:p0 + (k1 - k0 - 1) * dilation + 1:dilation, :]  # [k1-k0, C_in]
                dw[:, k0:k1, :] += g[:, None, None] * xt[None, :, :]
            db += g
    return dx, dw, db
