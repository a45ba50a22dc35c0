"""Argument checks shared by the NumPy twins and the C wrappers, so that both backends
accept the same inputs and raise the same exceptions, each naming the argument."""
import math

import numpy as np

from ..errors import DTypeError, LayoutError, ParameterError, ShapeError

F32 = np.dtype(np.float32)
I32 = np.dtype(np.int32)
I8 = np.dtype(np.int8)
INT32_MAX = 2**31 - 1

#: The default of an array argument a check may go without (dense's bias in backward, ...):
#: a sentinel, not None, so that None passed for an array is refused like any other non-array.
ABSENT = object()


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


def disjoint(name, a, other_name, other, what="is updated in place"):
    """Refuse `a` when its memory overlaps `other`'s (`other` being written while `a` is read).

    Both arrays have passed array(), so each is C-contiguous and occupies exactly the bytes
    between its first and its last element: np.may_share_memory (a bounds test) is then exact
    and O(1), and no overlap it reports is a false alarm. An overlapping view would give
    backend-dependent bits (NumPy evaluates the right-hand side first, C element by element)."""
    if a.size and other.size and np.may_share_memory(a, other):
        raise LayoutError(f"{name}: shares memory with {other_name}, which {what} "
                          f"(pass a copy)")


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
