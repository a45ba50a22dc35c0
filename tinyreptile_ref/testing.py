"""Property-test kernels against this reference (README: "Property-test your own kernel").

  assert_same_bits(actual, expected)   bitwise, NaN-aware; names the multi-index, both values
                                       in hex and decimal, and the signed ulp distance
  kernel_args(name)                    complete, shape-consistent argument sets for a kernel
                                       (every kernel of the library, KERNELS), reaching the
                                       edges: empty, one element, sizes through every unrolled
                                       path, +-0, subnormals, huge values, inf/NaN where the
                                       kernel defines a result, int8 saturation, exact
                                       requantization ties
  floats32(), f32_arrays(), special_f32_arrays()   float32 values and arrays with edge mixes
  scales(), zero_points(), multipliers_shifts(), activation_ranges()   quantization parameters

Needs hypothesis (the `test` extra): pip install 'tinyreptile_ref[test]'.

The NaN rule: every NaN equals every NaN (sign and payload are not compared); otherwise the
bits must be equal, so -0 differs from +0. The ulp distance is tools/xcheck.py's: actual minus
expected on the monotone integer line of float32 bit patterns (+0 and -0 both at 0, the
infinities one step beyond the largest finite value); a NaN against a number has none.
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


def _ordinal(u):
    u = int(u)
    return u if u < 0x80000000 else -(u - 0x80000000)


def ulp_distance(actual, expected):
    """Signed ulp distance of two float32 values (module docstring); None for NaN vs number."""
    a, e = F32(actual), F32(expected)
    if np.isnan(a) or np.isnan(e):
        return 0 if np.isnan(a) and np.isnan(e) else None
    return _ordinal(np.array(a).view(np.uint32)) - _ordinal(np.array(e).view(np.uint32))


def _value(v):
    if isinstance(v, (np.floating, float)):
        return f"0x{int(np.array(v, F32).view(np.uint32)):08x} ({float(v):.9g})"
    return f"{int(v)} (0x{int(v) & 0xFFFFFFFF:x})"


def assert_same_bits(actual, expected, name="array"):
    """Assert two arrays are equal bit for bit (float32: the NaN rule; integers: exactly).

    The failure message gives how many values differ, the first one's multi-index, both
    values in hex and decimal, and (float32) the signed ulp distance and the largest one."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} != {expected.shape}"
    assert actual.dtype == expected.dtype, f"{name}: dtype {actual.dtype} != {expected.dtype}"
    if actual.dtype == F32:
        diff = bits(actual) != bits(expected)
    else:
        diff = actual != expected
    n = int(np.count_nonzero(diff))
    if not n:
        return
    idx = tuple(int(v) for v in np.argwhere(diff)[0])
    a, e = actual[idx], expected[idx]
    where = "".join(f"[{v}]" for v in idx)
    msg = (f"{name}: {n} of {actual.size} values differ; first at {name}{where}: "
           f"got {_value(a)}, expected {_value(e)}")
    if actual.dtype == F32:
        u = ulp_distance(a, e)
        ulps = [ulp_distance(x, y) for x, y in zip(actual[diff], expected[diff])]
        ulps = [abs(v) for v in ulps if v is not None]
        msg += (f", {u:+d} ulp" if u is not None else ", NaN against a number (no ulp distance)")
        if ulps:
            msg += f"; largest |ulp| {max(ulps)}"
    else:
        msg += f", difference {int(a) - int(e):+d}"
    raise AssertionError(msg)


def assert_bits_equal(actual, expected, name="array"):
    """assert_same_bits under its earlier name."""
    assert_same_bits(actual, expected, name)


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


def special_f32_arrays(shape, specials=0.3, allow_nan=True, allow_infinity=True):
    """float32 arrays of `shape` where about a fraction `specials` of the values are edges:
    +-0, the smallest and largest subnormals, the smallest normal, +-max, and (when allowed)
    +-inf and NaN; the rest ordinary values in [-4, 4]."""
    edge = list(EDGE_F32)
    if allow_infinity:
        edge += [float("inf"), float("-inf")]
    if allow_nan:
        edge += [float("nan")]
    weight = max(1, int(round(10 * specials)))
    ordinary = st.floats(-4.0, 4.0, width=32)
    elements = st.one_of(*([st.sampled_from(edge)] * weight + [ordinary] * (10 - weight)))
    return hnp.arrays(F32, shape, elements=elements)


# ------------------------------------------------------------ quantization parameters

def scales(min_value=2.0 ** -20, max_value=2.0 ** 20):
    """Positive float32 quantization scales, including powers of two (exact) and the bounds."""
    return st.one_of(
        st.floats(min_value, max_value, width=32, exclude_min=False),
        st.integers(int(np.log2(min_value)), int(np.log2(max_value))).map(lambda e: 2.0 ** e),
        st.sampled_from([min_value, max_value, 1.0 / 127, 1.0 / 255]))


def zero_points(lo=-128, hi=127):
    """int8 zero points, with weight on 0 and the ends."""
    return st.one_of(st.sampled_from([0, lo, hi]), st.integers(lo, hi))


def multipliers_shifts(n=None, positive_shift=True):
    """(multiplier, shift) of a quantized multiplier as TFLite makes them: multiplier in
    [2**30, 2**31 - 1] (or 0), shift in [-31, 30] (<= 0 unless positive_shift), drawn both from
    quantize_multiplier(real) and raw, with 2**30 (exact halves: requantization ties) and
    2**31 - 1 (the largest) weighted. With n: int32 arrays [n] of each (per channel)."""
    from .kernels.quant import SHIFT_MIN, quantize_multiplier
    hi_shift = 30 if positive_shift else 0
    raw = st.tuples(st.one_of(st.sampled_from([1 << 30, (1 << 31) - 1, 0]),
                              st.integers(1 << 30, (1 << 31) - 1)),
                    st.integers(SHIFT_MIN, hi_shift))

    def from_real(r):
        m, s = quantize_multiplier(r)
        return (m, max(SHIFT_MIN, min(hi_shift, s)))
    real = st.floats(2.0 ** -31, 2.0 ** 20 if positive_shift else 0.99).map(from_real)
    one = st.one_of(raw, real)
    if n is None:
        return one
    return st.lists(one, min_size=n, max_size=n).map(
        lambda ps: (np.array([p[0] for p in ps], np.int32), np.array([p[1] for p in ps], np.int32)))


def activation_ranges():
    """(act_min, act_max) with -128 <= act_min <= act_max <= 127: the full range, relu-like
    [zp, 127], relu6-like, a single value, and arbitrary ones."""
    pair = st.tuples(st.integers(-128, 127), st.integers(-128, 127)).map(lambda p: tuple(sorted(p)))
    return st.one_of(st.just((-128, 127)), st.integers(-128, 127).map(lambda z: (z, 127)),
                     st.integers(-128, 127).map(lambda v: (v, v)), pair)


def int8_arrays(shape, lo=-128, hi=127):
    """int8 arrays with weight on the ends (saturation) and 0."""
    return hnp.arrays(np.int8, shape, elements=st.one_of(st.sampled_from([lo, hi, 0, lo + 1]),
                                                         st.integers(lo, hi)))


# ------------------------------------------------------------ kernel argument sets

#: Output counts reaching every unrolled path of the kernels (four outputs at a time plus
#: remainders 0..3, eight-wide SIMD plus remainders): 0, 1 and up to two full groups of 8.
SIZES = st.one_of(st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 17]), st.integers(0, 17))
SMALL = st.integers(0, 5)


def _f32(shape, specials):
    return special_f32_arrays(shape, 0.3) if specials else \
        hnp.arrays(F32, shape, elements=st.floats(-4.0, 4.0, width=32))


@st.composite
def _dense_forward_f32(draw, specials):
    B, I, O = draw(SMALL), draw(SIZES), draw(SIZES)
    return (draw(_f32((B, I), specials)), draw(_f32((O, I), specials)),
            draw(_f32((O,), specials))), {}


@st.composite
def _dense_backward_f32(draw, specials):
    B, I, O = draw(SMALL), draw(SIZES), draw(SIZES)
    return (draw(_f32((B, O), specials)), draw(_f32((B, I), specials)),
            draw(_f32((O, I), specials))), {}


@st.composite
def _conv_geometry(draw):
    K, s, d = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    padding = draw(st.sampled_from(["valid", "same"]))
    span = (K - 1) * d + 1
    L = draw(st.integers(span if padding == "valid" else 1, span + 8))
    return L, K, s, d, padding


@st.composite
def _conv1d_forward_f32(draw, specials):
    B, C_in, C_out = draw(SMALL), draw(st.integers(1, 9)), draw(st.integers(1, 9))
    L, K, s, d, padding = draw(_conv_geometry())
    return (draw(_f32((B, L, C_in), specials)), draw(_f32((C_out, K, C_in), specials)),
            draw(_f32((C_out,), specials))), dict(stride=s, dilation=d, padding=padding)


@st.composite
def _conv1d_backward_f32(draw, specials):
    from .kernels.conv1d import conv1d_out_len
    B, C_in, C_out = draw(SMALL), draw(st.integers(1, 9)), draw(st.integers(1, 9))
    L, K, s, d, padding = draw(_conv_geometry())
    L_out = conv1d_out_len(L, K, s, d, padding)[0]
    return (draw(_f32((B, L_out, C_out), specials)), draw(_f32((B, L, C_in), specials)),
            draw(_f32((C_out, K, C_in), specials))), dict(stride=s, dilation=d, padding=padding)


@st.composite
def _elementwise(draw, specials, n_arrays):
    n = draw(SIZES)
    return tuple(draw(_f32((n,), specials)) for _ in range(n_arrays)), {}


@st.composite
def _mse_loss_f32(draw, specials):
    B, n = draw(SMALL), draw(SIZES)
    return (draw(_f32((B, n), specials)), draw(_f32((B, n), specials))), {}


@st.composite
def _softmax_xent_loss_f32(draw, specials):
    B, C = draw(SMALL), draw(st.integers(1, 17))
    labels = draw(hnp.arrays(np.int32, (B,), elements=st.integers(0, C - 1)))
    return (draw(_f32((B, C), specials)), labels), {}


@st.composite
def _sgd_step_f32(draw, specials):
    n = draw(SIZES)
    lr = draw(floats32() if specials else st.floats(0.0, 1.0, width=32))
    return (draw(_f32((n,), specials)), draw(_f32((n,), specials)), lr), {}


@st.composite
def _mbqm(draw, specials):
    n, C = draw(SMALL), draw(st.integers(1, 9))
    m, sh = draw(multipliers_shifts(C, positive_shift=False))
    big = st.sampled_from([-(2 ** 31), 2 ** 31 - 1, 0, 1, -1])
    # odd x with multiplier 2**30 halves exactly: a tie in the doubling high multiply
    odd = st.integers(-1000, 1000).map(lambda k: 2 * k + 1)
    anything = st.integers(-(2 ** 31), 2 ** 31 - 1)
    x = draw(hnp.arrays(np.int32, (n, C), elements=st.one_of(big, anything, odd)))
    return (x, m, sh), {}


@st.composite
def _quantize_s8(draw, specials):
    n = draw(SIZES)
    scale, zp = draw(scales()), draw(zero_points())
    # values on exact ties: (k + 1/2) * scale for power-of-two scales
    x = draw(special_f32_arrays((n,), 0.3) if specials else
             hnp.arrays(F32, (n,), elements=st.one_of(
                 st.floats(-300.0, 300.0, width=32),
                 st.integers(-200, 200).map(lambda k: float(F32((k + 0.5) * scale))))))
    return (x, F32(scale), zp), {}


@st.composite
def _dequantize_s8(draw, specials):
    n = draw(SIZES)
    return (draw(int8_arrays((n,))), F32(draw(scales())), draw(zero_points())), {}


@st.composite
def _transport_quantize_s8(draw, specials):
    n = draw(SIZES)
    x = draw(special_f32_arrays((n,), 0.3, allow_nan=False, allow_infinity=False) if specials
             else _f32((n,), False))
    return (x, draw(st.integers(1, 9))), {}


@st.composite
def _transport_dequantize_s8(draw, specials):
    n, chunk = draw(SIZES), draw(st.integers(1, 9))
    nc = -(-n // chunk)
    s = draw(hnp.arrays(F32, (nc,), elements=st.floats(0.0, float(F32(1e30)), width=32)))
    return (draw(int8_arrays((n,))), s, chunk), {}


@st.composite
def _int8_update(draw, specials, other):
    n = draw(SIZES)
    m, sh = draw(multipliers_shifts(positive_shift=False))
    o = draw(int8_arrays((n,)) if other == "s8" else
             hnp.arrays(np.int32, (n,), elements=st.integers(-(2 ** 31), 2 ** 31 - 1)))
    return (draw(int8_arrays((n,))), o, m, sh), {}


def _s8_output_kwargs(draw, n_mult, w_zp):
    m, sh = draw(multipliers_shifts(n_mult, positive_shift=False))
    lo, hi = draw(activation_ranges())
    kw = dict(x_zero_point=draw(zero_points()), y_zero_point=draw(zero_points()), act_min=lo,
              act_max=hi)
    if w_zp:
        kw["w_zero_point"] = draw(zero_points())
    return m, sh, kw


@st.composite
def _dense_forward_s8(draw, specials):
    B, I, O = draw(SMALL), draw(SIZES), draw(SIZES)
    n_mult = draw(st.sampled_from([1, max(O, 1)])) if O else 1
    m, sh, kw = _s8_output_kwargs(draw, n_mult, True)
    bias = draw(hnp.arrays(np.int32, (O,), elements=st.integers(-(2 ** 20), 2 ** 20)))
    return (draw(int8_arrays((B, I))), draw(int8_arrays((O, I))), bias, m, sh), kw


@st.composite
def _conv1d_forward_s8(draw, specials):
    B, C_in, C_out = draw(SMALL), draw(st.integers(1, 9)), draw(st.integers(1, 9))
    L, K, s, d, padding = draw(_conv_geometry())
    n_mult = draw(st.sampled_from([1, C_out]))
    m, sh, kw = _s8_output_kwargs(draw, n_mult, False)
    bias = draw(hnp.arrays(np.int32, (C_out,), elements=st.integers(-(2 ** 20), 2 ** 20)))
    kw.update(stride=s, dilation=d, padding=padding)
    return (draw(int8_arrays((B, L, C_in))), draw(int8_arrays((C_out, K, C_in), -127)), bias,
            m, sh), kw


_KERNELS = {
    "dense_forward_f32": _dense_forward_f32,
    "dense_backward_f32": _dense_backward_f32,
    "conv1d_forward_f32": _conv1d_forward_f32,
    "conv1d_backward_f32": _conv1d_backward_f32,
    "relu_forward_f32": lambda sp: _elementwise(sp, 1),
    "relu_backward_f32": lambda sp: _elementwise(sp, 2),
    "tanh_forward_f32": lambda sp: _elementwise(sp, 1),
    "tanh_backward_f32": lambda sp: _elementwise(sp, 2),
    "exp_f32": lambda sp: _elementwise(sp, 1),
    "log_f32": lambda sp: _elementwise(sp, 1),
    "tanh_f32": lambda sp: _elementwise(sp, 1),
    "mse_loss_f32": _mse_loss_f32,
    "softmax_xent_loss_f32": _softmax_xent_loss_f32,
    "sgd_step_f32": _sgd_step_f32,
    "reptile_interpolate_f32": _sgd_step_f32,  # (theta, phi, eps): the same shapes
    "multiply_by_quantized_multiplier_s32": _mbqm,
    "quantize_s8": _quantize_s8,
    "dequantize_s8": _dequantize_s8,
    "transport_quantize_s8": _transport_quantize_s8,
    "transport_dequantize_s8": _transport_dequantize_s8,
    "sgd_step_s8": lambda sp: _int8_update(sp, "s32"),
    "reptile_interpolate_s8": lambda sp: _int8_update(sp, "s8"),
    "dense_forward_s8": _dense_forward_s8,
    "conv1d_forward_s8": _conv1d_forward_s8,
}

#: The kernels kernel_args draws for (the names of the backends' functions).
KERNELS = tuple(_KERNELS)


def kernel_args(name, specials=True):
    """A strategy of (args, kwargs) for kernel `name` (KERNELS) in its twin's argument order,
    shape-consistent and inside the kernel's domain, so `getattr(backend, name)(*args,
    **kwargs)` runs (or raises the library's own error for an int8 accumulator that would
    overflow, identically on both backends). specials=False keeps float32 values ordinary
    ([-4, 4], no inf/NaN/subnormals), for kernels that define no result for specials."""
    if name not in _KERNELS:
        raise ValueError(f"name: {name!r} is not one of {', '.join(KERNELS)}")
    return _KERNELS[name](specials)
