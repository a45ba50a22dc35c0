"""NumPy twin of csrc/activation.c: elementwise activations, float32, forward and backward.

Every function takes arrays of any shape (C-contiguous float32) and works elementwise; the
formulas are those of tinyreptile.h, each operation rounded once to float32.
"""
import numpy as np

from . import _checks as ck
from .mathf import _tanhf

F32 = np.float32
ZERO = F32(0.0)
ONE = F32(1.0)


def check_activation(first_name, first, second_name=None, second=None):
    """Check the arguments of an activation kernel; returns the element count."""
    ck.f32(first_name, first)
    if second_name is not None:
        ck.f32(second_name, second)
        ck.same_shape(first_name, first, second_name, second)
    ck.sizes((first_name, first.shape))
    return first.size


def relu_forward_f32(x):
    """y = x < 0 ? +0 : x, elementwise (NaN and -0 pass through unchanged); y has x's shape."""
    check_activation("x", x)
    return np.where(x < ZERO, ZERO, x)


def relu_backward_f32(dy, x):
    """dx = x > 0 ? dy : +0, elementwise (x is the forward input); dx has dy's shape."""
    check_activation("dy", dy, "x", x)
    with np.errstate(invalid="ignore"):
        return np.where(x > ZERO, dy, ZERO)


def tanh_forward_f32(x):
    """y = tanh(x), elementwise, with the library's own tanh (mathf.tanh_f32)."""
    n = check_activation("x", x)
    with np.errstate(all="ignore"):
        return _tanhf(x.reshape(n)).reshape(x.shape)


def tanh_backward_f32(dy, y):
    """dx = dy * (1 - y*y), elementwise (y is the forward output): y*y, then 1 - ., then dy * .,
    each rounded to float32."""
    n = check_activation("dy", dy, "y", y)
    with np.errstate(all="ignore"):
        yf = y.reshape(n)  # 1-D views: 0-d operands would give NumPy scalars, not arrays
        yy = yf * yf
        u = ONE - yy
        return (dy.reshape(n) * u).reshape(dy.shape)
