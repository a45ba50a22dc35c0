"""Argument checks shared by the NumPy twins and the C wrappers, so that both backends
accept the same inputs and raise the same exceptions, each naming the argument."""
import math

import numpy as np

from ..errors import DTypeError, LayoutError, ParameterError, ShapeError

F32 = np.dtype(np.float32)
I32 = np.dtype(np.int32)
I8 = np.dtype(np.int8)
INT32_MAX = 2**31 - 1


def array(name, a, dtype, ndim):
    """Check that `a` is an ndarray of `dtype` with `ndim` dimensions (None: any), C-contiguous.

    The common case is one combined test, since these checks run on every kernel call."""
    if (type(a) is not np.ndarray or a.dtype != dtype or (ndim is not None and a.ndim != ndim)
            or not a.flags.c_contiguous):
        _explain(name, a, dtype, ndim)
    return a


def _explain(name, a, dtype, ndim):
    if not isinstance(a, np.ndarray):
        raise DTypeError(f"{name}: expected a numpy.ndarray of {dtype}, got {type(a).__name__}")
    if a.dtype != dtype:
        raise DTypeError(f"{name}: dtype must be {dtype}, got {a.dtype}")
    if ndim is not None and a.ndim != ndim:
        raise ShapeError(f"{name}: expected {ndim} dimension(s), got shape {a.shape}")
    if not a.flags.c_contiguous:
        raise LayoutError(f"{name}: must be C-contiguous (numpy.ascontiguousarray makes a copy that is)")
    raise DTypeError(f"{name}: expected a numpy.ndarray, got {type(a).__name__}")


def f32(name, a, ndim=None):
    return array(name, a, F32, ndim)


def writeable(name, a):
    if not a.flags.writeable:
        raise LayoutError(f"{name}: is updated in place, so it must be writeable")
    return a


def same_shape(name_a, a, name_b, b):
    if a.shape != b.shape:
        raise ShapeError(f"{name_b}: shape {b.shape} does not match {name_a} shape {a.shape}")


def dim(name, value, expected, what):
    if value != expected:
        raise ShapeError(f"{name}: {what} is {value}, expected {expected}")


def sizes(*named):
    """Check each (name, shape): every size, and every product the C side forms from left to
    right, fits in int32 (tr__mul_ok / tr__mul3_ok check a*b and then a*b*c, so a zero last
    size does not excuse the others)."""
    for name, shape in named:
        n = 1
        for s in shape:
            n *= s
            if s > INT32_MAX or n > INT32_MAX:
                raise ShapeError(f"{name}: shape {tuple(shape)} exceeds the kernels' int32 size "
                                 f"limit {INT32_MAX}")


def int_param(name, value, lo, hi=INT32_MAX):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ParameterError(f"{name}: expected an integer, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise ParameterError(f"{name}: {value} is outside [{lo}, {hi}]")
    return int(value)


def float_param(name, value):
    """A finite scalar, rounded once (to nearest even) to float32, as the C side receives it."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ParameterError(f"{name}: expected a real number, got {type(value).__name__}")
    v = np.float32(value)
    if not math.isfinite(float(value)) or not np.isfinite(v):
        raise ParameterError(f"{name}: {value!r} is not finite in float32")
    return v
