"""NumPy twin of csrc/dense.c: fully connected layer, float32, forward and backward.

Every sum runs over its reduction axis in a Python loop, in the order tinyreptile.h states,
and is vectorised only across independent outputs; each product is rounded to float32
before it is added, as the C kernel (built without fused multiply-add) does.
"""
import numpy as np

from . import _checks as ck

F32 = np.float32


def check_dense(x, w, bias=ck.ABSENT, dy=ck.ABSENT):
    """Check the arguments of the dense kernels (bias and dy when given: None is refused as
    any non-array is); returns (B, I, O)."""
    ck.f32("x", x, 2)
    ck.f32("w", w, 2)
    B, I = x.shape
    O, wi = w.shape
    if wi != I:
        raise ck.ShapeError(f"w: shape {w.shape} has {wi} inputs, x shape {x.shape} has {I}")
    if bias is not ck.ABSENT:
        ck.f32("bias", bias, 1)
        if bias.shape[0] != O:
            raise ck.ShapeError(f"bias: length {bias.shape[0]}, expected {O} = w.shape[0]")
    if dy is not ck.ABSENT:
        ck.f32("dy", dy, 2)
        if dy.shape != (B, O):
            raise ck.ShapeError(f"dy: shape {dy.shape}, expected {(B, O)} = (x.shape[0], w.shape[0])")
    if B * I > ck.INT32_MAX or O * I > ck.INT32_MAX or B * O > ck.INT32_MAX or max(B, I, O) > ck.INT32_MAX:
        ck.sizes(("x", x.shape), ("w", w.shape), ("y", (B, O)))
    return B, I, O


def dense_forward_f32(x, w, bias):
    """y[B, O] from x[B, I], w[O, I], bias[O].

    y[b, o] = bias[o] + w[o, 0]*x[b, 0] + w[o, 1]*x[b, 1] + ...   (i ascending, float32).
    """
    B, I, O = check_dense(x, w, bias)
    y = np.empty((B, O), F32)
    y[...] = bias[None, :]
    for i in range(I):
        y += x[:, i, None] * w[None, :, i]
    return y


def dense_backward_f32(dy, x, w):
    """(dx[B, I], dw[O, I], db[O]) from dy[B, O], x[B, I], w[O, I]; gradients are fresh arrays.

    dx[b, i] = 0 + sum over o ascending of dy[b, o]*w[o, i]
    dw[o, i] = 0 + sum over b ascending of dy[b, o]*x[b, i]
    db[o]    = 0 + sum over b ascending of dy[b, o]
    """
    B, I, O = check_dense(x, w, dy=dy)
    dx = np.zeros((B, I), F32)
    for o in range(O):
        dx += dy[:, o, None] * w[None, o, :]
    dw = np.zeros((O, I), F32)
    db = np.zeros(O, F32)
    for b in range(B):
        dw += dy[b, :, None] * x[b, None, :]
        db += dy[b, :]
    return dx, dw, db
