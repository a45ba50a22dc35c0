"""Tools for testing kernels against this reference: a NaN-aware bitwise comparison and
hypothesis strategies for float32 data with the edges that break kernels (signed zeros,
subnormals, huge magnitudes, infinities, NaNs).

Needs hypothesis (the `test` extra): pip install 'tinyreptile_ref[test]'.
"""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

F32 = np.float32

#: float32 values that kernels most often get wrong.
EDGE_F32 = (
    0.0, -0.0, 1.0, -1.0,
    float(np.finfo(F32).smallest_subnormal), -float(np.finfo(F32).smallest_subnormal),
    float(np.finfo(F32).smallest_normal), float(F32(1.1754942e-38)),  # largest subnormal
    float(np.finfo(F32).max), -float(np.finfo(F32).max),
    float(F32(1e30)), float(F32(-1e30)),
)


def bits(a):
    """The raw bit patterns of a float32 array, with every NaN mapped to one pattern."""
    a = np.asarray(a, dtype=F32)
    u = a.view(np.uint32).copy()
    u[np.isnan(a)] = 0x7FC00000
    return u


def assert_bits_equal(actual, expected, name="array"):
    """Assert two float32 arrays are equal bit for bit; all NaNs compare equal.

    On failure the message gives the first differing index and both values with their bits."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} != {expected.shape}"
    if actual.dtype != F32 or expected.dtype != F32:
        assert actual.dtype == expected.dtype, f"{name}: dtype {actual.dtype} != {expected.dtype}"
        diff = np.flatnonzero(actual.ravel() != expected.ravel())
        assert diff.size == 0, (f"{name}: {diff.size} values differ, first at flat index {diff[0]}: "
                                f"{actual.ravel()[diff[0]]} != {expected.ravel()[diff[0]]}")
        return
    ba, be = bits(actual).ravel(), bits(expected).ravel()
    diff = np.flatnonzero(ba != be)
    if diff.size:
        j = diff[0]
        raise AssertionError(
            f"{name}: {diff.size} of {ba.size} values differ; first at flat index {j}: "
            f"{actual.ravel()[j]!r} (0x{ba[j]:08x}) != {expected.ravel()[j]!r} (0x{be[j]:08x})")


def floats32(min_value=None, max_value=None, allow_nan=True, allow_infinity=True,
             allow_subnormal=True):
    """Any float32 (by default), drawn with extra weight on EDGE_F32 and on ordinary values."""
    everything = st.floats(min_value=min_value, max_value=max_value, allow_nan=allow_nan,
                           allow_infinity=allow_infinity, allow_subnormal=allow_subnormal,
                           width=32)
    ordinary = st.floats(-4.0, 4.0, width=32)
    if min_value is not None or max_value is not None:
        lo = -np.inf if min_value is None else min_value
        hi = np.inf if max_value is None else max_value
        ordinary = st.floats(max(lo, -4.0), min(hi, 4.0), width=32) if max(lo, -4.0) <= min(hi, 4.0) else everything
        edges = [e for e in EDGE_F32 if lo <= e <= hi]
    else:
        edges = list(EDGE_F32)
    if not allow_subnormal:
        edges = [e for e in edges if e == 0 or abs(e) >= float(np.finfo(F32).smallest_normal)]
    parts = [ordinary, everything]
    if edges:
        parts.append(st.sampled_from(edges))
    return st.one_of(*parts)


def f32_arrays(shape, elements=None, **float_kwargs):
    """C-contiguous float32 arrays of `shape` (a tuple or a strategy of tuples)."""
    if elements is None:
        elements = floats32(**float_kwargs)
    return hnp.arrays(F32, shape, elements=elements)


def finite_f32_arrays(shape, bound=4.0):
    """Finite float32 arrays with |values| <= bound (for checks against mathematics)."""
    return hnp.arrays(F32, shape, elements=st.floats(-bound, bound, width=32))


def dims(min_value=0, max_value=9):
    """A tensor size; the default range reaches zero-size, one element and the unrolled paths."""
    return st.integers(min_value, max_value)
