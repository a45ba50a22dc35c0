"""NumPy twin of csrc/quant.c and csrc/tr_quant.h: TFLite's integer requantization,
quantize/dequantize, quantized transport of float32 vectors, and SGD and Reptile updates of
int8 weights; plus the host-side helpers that make the integer parameters
(quantize_multiplier, output_multiplier, activation_range).

Integer arithmetic runs in int64 NumPy arrays holding int32 values. C's `/` truncates toward
zero where NumPy's `//` floors, and C99 leaves `>>` of a negative value to the implementation;
so each step is written out below as C computes it, and the C side avoids the undefined and
implementation-defined forms (see csrc/tr_quant.h).

The published formulas these follow, by name:
  QuantizeMultiplier                  tensorflow/lite/kernels/internal/quantization_util.cc
  MultiplyByQuantizedMultiplier       tensorflow/lite/kernels/internal/common.cc (double rounding)
  SaturatingRoundingDoublingHighMul   gemmlowp fixedpoint/fixedpoint.h
  RoundingDivideByPOT                 gemmlowp fixedpoint/fixedpoint.h
  AffineQuantize, Dequantize          tensorflow/lite/kernels/internal/reference/{quantize,dequantize}.h
  PopulateConvolutionQuantizationParams, CalculateActivationRangeQuantized
                                      tensorflow/lite/kernels/kernel_util.cc
"""
import math

import numpy as np

from . import _checks as ck
from ..errors import AccumulatorOverflowError, ParameterError

F32 = np.float32
I64 = np.int64
INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
SHIFT_MIN, SHIFT_MAX = -31, 30  # RoundingDivideByPOT takes exponents <= 31; 1 << 30 fits int32

#: 127 * s is finite in float32 for every s up to this scale (and infinite just above).
TRANSPORT_MAX_SCALE = F32(float.fromhex("0x1.020406p+121"))
F32_MIN_SUBNORMAL = F32(float.fromhex("0x1p-149"))


# ---------------------------------------------------------------- host-side helpers

def _round_half_away(v):
    """A Python float rounded to the nearest integer, ties away from zero (C's round(), which
    TfLiteRound calls); exact for every double."""
    a = abs(v)
    r = math.floor(a)
    if a - r >= 0.5:  # a - r is exact: both lie in the same binade or r = 0
        r += 1
    return int(r) if v >= 0 else -int(r)


def quantize_multiplier(real):
    """(multiplier, shift) with real ~ multiplier * 2**shift / 2**31, exactly as TFLite's
    QuantizeMultiplier (double-rounding build) computes them:

      q, shift = frexp(real)                 (0.5 <= |q| < 1)
      q_fixed = round(q * 2**31)             half away from zero (TfLiteRound), exact in double
      if q_fixed == 2**31: q_fixed /= 2, shift += 1     (the carry)
      if shift < -31: shift = 0, q_fixed = 0             (flush to zero)
      real == 0 gives (0, 0).

    Negative reals give negative multipliers, as TFLite's function does; shifts above 30
    (|real| >= 2**30) are returned as computed and refused by the kernels.
    """
    if isinstance(real, bool) or not isinstance(real, (int, float, np.floating, np.integer)):
        raise ParameterError(f"real: expected a real number, got {type(real).__name__}")
    real = float(real)
    if not math.isfinite(real):
        raise ParameterError(f"real: {real!r} is not finite")
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = _round_half_away(q * 2.0**31)
    assert q_fixed <= 2**31
    if q_fixed == 2**31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift = 0
        q_fixed = 0
    return q_fixed, shift


def output_multiplier(x_scale, w_scale, y_scale):
    """Per-channel (multiplier[C], shift[C]) int32 arrays of a conv or dense layer, as TFLite's
    PopulateConvolutionQuantizationParams makes them: each scale is a float32, and
    effective = double(x_scale) * double(w_scale[c]) / double(y_scale) goes to
    quantize_multiplier. w_scale may be a scalar (per tensor: C = 1)."""
    xs = float(positive_scale("x_scale", x_scale))
    ys = float(positive_scale("y_scale", y_scale))
    try:
        ws = np.atleast_1d(np.asarray(w_scale, np.float64))
    except (TypeError, ValueError):
        ws = None
    if ws is None or ws.dtype.kind != "f" or ws.ndim != 1 or ws.size < 1:
        raise ParameterError(f"w_scale: expected a real number or a sequence of them, got "
                             f"{type(w_scale).__name__}")
    ws = ws.astype(F32)
    if not (np.isfinite(ws) & (ws >= 0)).all():
        raise ParameterError("w_scale: every scale must be finite and >= 0 in float32")
    pairs = [quantize_multiplier(xs * float(w) / ys) for w in ws]
    return (np.array([p[0] for p in pairs], np.int32), np.array([p[1] for p in pairs], np.int32))


def positive_scale(name, value):
    """A quantization scale: finite and > 0 in float32 (q = x / scale)."""
    v = ck.float_param(name, value)
    if not v > 0:
        raise ParameterError(f"{name}: {value!r} must be > 0")
    return v


def activation_range(activation, scale, zero_point):
    """(act_min, act_max) of an int8 output, TFLite's CalculateActivationRangeQuantized:
    'none' -> (-128, 127); 'relu' -> (max(-128, Q(0)), 127); 'relu6' -> (max(-128, Q(0)),
    min(127, Q(6))), with Q(f) = zero_point + round(f / scale) (float32 division, ties away
    from zero)."""
    scale = positive_scale("scale", scale)
    zero_point = ck.int_param("zero_point", zero_point, -128, 127)

    def q(f):
        return zero_point + int(_round_sat(np.array([F32(f) / scale], F32))[0])

    if activation == "none":
        return -128, 127
    if activation == "relu":
        return max(-128, q(0.0)), 127
    if activation == "relu6":
        return max(-128, q(0.0)), min(127, q(6.0))
    raise ParameterError(f"activation: {activation!r} is not one of 'none', 'relu', 'relu6'")


# ---------------------------------------------------- the integer arithmetic (tr_quant.h)

def saturating_rounding_doubling_high_mul(a, b):
    """gemmlowp's SaturatingRoundingDoublingHighMul on int32 values (int64 arrays):
    (a*b + nudge) / 2**31 with C's truncating division, nudge = 2**30 if a*b >= 0 else
    1 - 2**30 (ties toward +inf); INT32_MIN * INT32_MIN saturates to INT32_MAX."""
    a = np.asarray(a, I64)
    b = np.asarray(b, I64)
    ab = a * b                                   # |ab| <= 2**62: exact
    t = ab + np.where(ab >= 0, I64(1 << 30), I64(1 - (1 << 30)))
    q = np.where(t >= 0, t >> 31, -((-t) >> 31))  # t / 2**31 truncated toward zero, as C's `/`
    return np.where((a == INT32_MIN) & (b == INT32_MIN), I64(INT32_MAX), q)


def rounding_divide_by_pot(x, exponent):
    """gemmlowp's RoundingDivideByPOT on int32 values (int64 arrays), 0 <= exponent <= 31:
    mask = 2**e - 1, remainder = x & mask, threshold = (mask >> 1) + (x < 0),
    result = (x >> e) + (remainder > threshold)   (>> floors: an arithmetic shift)."""
    x = np.asarray(x, I64)
    e = np.asarray(exponent, I64)
    mask = (I64(1) << e) - 1
    remainder = x & mask       # the low bits of the two's complement: as (uint32)x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> e) + (remainder > threshold)


def multiply_by_quantized_multiplier(x, multiplier, shift):
    """TFLite's double-rounding MultiplyByQuantizedMultiplier on int32 values (int64 arrays,
    broadcast): RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x * 2**ls, M), rs),
    ls = max(shift, 0), rs = max(-shift, 0). Precondition (unchecked here): x * 2**ls fits
    in int32 and shift is in [-31, 30]."""
    x = np.asarray(x, I64)
    s = np.asarray(shift, I64)
    left = np.maximum(s, 0)
    right = np.maximum(-s, 0)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x << left, multiplier),
                                  right)


def output_stage_s8(acc, multiplier, shift, zero_point, act_min, act_max):
    """clamp(MBQM(acc) + zero_point, act_min, act_max) as int8 (the sum in int64, as the C side)."""
    v = multiply_by_quantized_multiplier(acc, multiplier, shift) + zero_point
    return np.clip(v, act_min, act_max).astype(np.int8)


def lshift_fits(x, shift):
    """Elementwise: x * 2**max(shift, 0) fits in int32 (the precondition of MBQM)."""
    v = np.asarray(x, I64) << np.maximum(np.asarray(shift, I64), 0)
    return (v >= INT32_MIN) & (v <= INT32_MAX)


def offset_range(zero_point):
    """max |q - zero_point| over int8 q."""
    return 128 + zero_point if zero_point >= 0 else 127 - zero_point


def _round_sat(v):
    """round(v) half away from zero for float32 v, saturated to [-1024, 1024], NaN -> 0:
    csrc/quant.c's tr__round_sat (truncate, then compare the exact remainder with 1/2)."""
    v = np.where(np.isnan(v), F32(0), v)
    v = np.clip(v, F32(-1024), F32(1024))
    t = v.astype(np.int32)           # truncation toward zero, as C's (int32_t)v
    f = v - t.astype(F32)            # exact for |v| <= 1024
    return t + (f >= F32(0.5)) - (f <= F32(-0.5))


def _quantize(x, scale, zero_point, lo):
    """clamp(round(x / scale) + zero_point, lo, 127) with one float32 division per value."""
    r = _round_sat(x / scale).astype(I64) + zero_point
    return np.clip(r, lo, 127).astype(np.int8)


def _check_shift(name, shift):
    bad = np.flatnonzero((shift < SHIFT_MIN) | (shift > SHIFT_MAX))
    if bad.size:
        raise ParameterError(f"{name}: {int(shift.ravel()[bad[0]])} at index {bad[0]} is outside "
                             f"[{SHIFT_MIN}, {SHIFT_MAX}]")


def _check_lshift(name, x, shift, what="value"):
    ok = lshift_fits(x, shift)
    if not ok.all():
        j = int(np.flatnonzero(~ok.ravel())[0])
        s = int(np.broadcast_to(shift, ok.shape).ravel()[j])
        raise AccumulatorOverflowError(
            f"{name}: {what} {int(np.ravel(x)[j])} at flat index {j} times 2**{s} (the left "
            f"shift of MultiplyByQuantizedMultiplier) leaves int32")


# ---------------------------------------------------------------------------- kernels

def check_mbqm(x, multiplier, shift):
    """Checks of multiply_by_quantized_multiplier_s32; returns (n, C)."""
    ck.array("x", x, ck.I32, None)
    ck.array("multiplier", multiplier, ck.I32, 1)
    ck.array("shift", shift, ck.I32, 1)
    C = multiplier.shape[0]
    if shift.shape != multiplier.shape:
        raise ck.ShapeError(f"shift: shape {shift.shape} does not match multiplier shape "
                            f"{multiplier.shape}")
    if C != 1 and (x.ndim == 0 or x.shape[-1] != C):
        raise ck.ShapeError(f"x: shape {x.shape}: the last axis must have {C} = len(multiplier) "
                            f"entries (or multiplier one entry)")
    if C == 0:
        raise ck.ShapeError("multiplier: needs at least one entry")
    ck.sizes(("x", x.shape))
    _check_shift("shift", shift)
    n = x.size // C
    _check_lshift("x", x.reshape(n, C), shift[None, :])
    return n, C


def multiply_by_quantized_multiplier_s32(x, multiplier, shift):
    """y = MBQM(x, multiplier[c], shift[c]) for x[..., C] int32 (c the last index; one
    multiplier applies to all of x). Returns int32 of x's shape.

    MBQM is TFLite's double-rounding MultiplyByQuantizedMultiplier: SaturatingRoundingDoubling-
    HighMul (ties toward +inf, INT32_MIN^2 saturates) then RoundingDivideByPOT (ties away from
    zero). x * 2**max(shift, 0) must fit in int32 (AccumulatorOverflowError)."""
    n, C = check_mbqm(x, multiplier, shift)
    xv = x.reshape(n, C)
    y = multiply_by_quantized_multiplier(xv, multiplier[None, :], shift[None, :])
    return y.astype(np.int32).reshape(x.shape)


def check_quantize(x, scale, zero_point):
    ck.f32("x", x)
    scale = positive_scale("scale", scale)
    zero_point = ck.int_param("zero_point", zero_point, -128, 127)
    ck.sizes(("x", x.shape))
    return scale, zero_point


def quantize_s8(x, scale, zero_point):
    """q = clamp(round(x / scale) + zero_point, -128, 127), int8 of x's shape (AffineQuantize):
    one float32 division, round half away from zero; NaN -> zero_point; +-inf saturate."""
    scale, zero_point = check_quantize(x, scale, zero_point)
    return _quantize(x, scale, zero_point, -128)


def check_dequantize(q, scale, zero_point):
    ck.array("q", q, ck.I8, None)
    scale = ck.float_param("scale", scale)
    zero_point = ck.int_param("zero_point", zero_point, -128, 127)
    ck.sizes(("q", q.shape))
    return scale, zero_point


def dequantize_s8(q, scale, zero_point):
    """x = scale * float32(q - zero_point), one float32 product per value (Dequantize)."""
    scale, zero_point = check_dequantize(q, scale, zero_point)
    return scale * (q.astype(np.int32) - zero_point).astype(F32)


def n_chunks(n, chunk):
    """The number of chunks (and scales) of a transported vector of n values."""
    return -(-n // chunk)


def check_transport_quantize(x, chunk):
    ck.f32("x", x, 1)
    chunk = ck.int_param("chunk", chunk, 1)
    ck.sizes(("x", x.shape))
    bad = np.flatnonzero(~np.isfinite(x))
    if bad.size:
        raise ParameterError(f"x: {x[bad[0]]!r} at index {bad[0]} is not finite; the transport "
                             f"carries finite values only")
    return chunk


def transport_quantize_s8(x, chunk):
    """(q[n] int8, scale[ceil(n / chunk)] float32) for a flat float32 x[n], symmetric, one
    scale per chunk: m = max |x| over the chunk, s = m / 127 (float32; raised to 2**-149 if it
    underflowed with m > 0, lowered to TRANSPORT_MAX_SCALE if above), q = 0 if m == 0 else
    clamp(round(x / s), -127, 127). Round trip: |x - x'| <= s*(1/2 + 255*2**-24) + 2**-143."""
    chunk = check_transport_quantize(x, chunk)
    n = x.shape[0]
    nc = n_chunks(n, chunk)
    padded = np.zeros(nc * chunk, F32)
    padded[:n] = np.abs(x)
    m = padded.reshape(nc, chunk).max(axis=1, initial=F32(0))  # a max: exact in any order
    s = m / F32(127)
    s = np.where((m > 0) & (s == 0), F32_MIN_SUBNORMAL, s)
    s = np.minimum(s, TRANSPORT_MAX_SCALE).astype(F32)
    s_each = np.repeat(s, chunk)[:n]
    q = _quantize(x, np.where(s_each > 0, s_each, F32(1)), 0, -127)
    q[s_each == 0] = 0
    return q, s


def check_transport_dequantize(q, scale, chunk):
    ck.array("q", q, ck.I8, 1)
    ck.f32("scale", scale, 1)
    chunk = ck.int_param("chunk", chunk, 1)
    ck.sizes(("q", q.shape))
    nc = n_chunks(q.shape[0], chunk)
    if scale.shape[0] != nc:
        raise ck.ShapeError(f"scale: length {scale.shape[0]}, expected {nc} = ceil(len(q) / chunk)")
    return chunk


def transport_dequantize_s8(q, scale, chunk):
    """x'[j] = scale[j // chunk] * float32(q[j]), one float32 product per value."""
    chunk = check_transport_dequantize(q, scale, chunk)
    return np.repeat(scale, chunk)[:q.shape[0]] * q.astype(F32)


def check_int8_update(theta, other, other_name, other_dtype, multiplier, shift):
    ck.array("theta", theta, ck.I8, 1)
    ck.writeable("theta", theta)
    ck.array(other_name, other, other_dtype, 1)
    ck.same_shape("theta", theta, other_name, other)
    ck.disjoint(other_name, other, "theta", theta)
    ck.sizes(("theta", theta.shape))
    multiplier = ck.int_param("multiplier", multiplier, INT32_MIN, INT32_MAX)
    shift = ck.int_param("shift", shift, SHIFT_MIN, SHIFT_MAX)
    return multiplier, shift


def check_sgd_s8(theta, g, multiplier, shift):
    multiplier, shift = check_int8_update(theta, g, "g", ck.I32, multiplier, shift)
    _check_lshift("g", g, shift)
    return multiplier, shift


def check_reptile_s8(theta, phi, multiplier, shift):
    multiplier, shift = check_int8_update(theta, phi, "phi", ck.I8, multiplier, shift)
    _check_lshift("phi", phi.astype(I64) - theta.astype(I64), shift, "difference phi - theta")
    return multiplier, shift


def sgd_step_s8(theta, g, multiplier, shift):
    """theta[j] = clamp(theta[j] - MBQM(g[j], multiplier, shift), -128, 127), in place.
    theta int8 [n] (scale s_w), g int32 [n] (scale s_g), (multiplier, shift) =
    quantize_multiplier(lr * s_g / s_w). g * 2**max(shift, 0) must fit int32. Returns None."""
    multiplier, shift = check_sgd_s8(theta, g, multiplier, shift)
    step = multiply_by_quantized_multiplier(g, multiplier, shift)
    theta[...] = np.clip(theta.astype(I64) - step, -128, 127)


def reptile_interpolate_s8(theta, phi, multiplier, shift):
    """theta[j] = clamp(theta[j] + MBQM(phi[j] - theta[j], multiplier, shift), -128, 127), in
    place; theta and phi int8 [n] of one scale and zero point, (multiplier, shift) =
    quantize_multiplier(eps). Returns None."""
    multiplier, shift = check_reptile_s8(theta, phi, multiplier, shift)
    d = phi.astype(I64) - theta.astype(I64)
    step = multiply_by_quantized_multiplier(d, multiplier, shift)
    theta[...] = np.clip(theta.astype(I64) + step, -128, 127)
