"""Golden-vector cases for csrc/quant.c: requantization, quantize/dequantize, transport, int8 SGD and Reptile."""
import numpy as np

from ...backend import numpy_backend as nb
from ...kernels.quant import TRANSPORT_MAX_SCALE, quantize_multiplier
from ..format import f32_param
from .common import I32MAX, I32MIN, INF, MAX, NAN, TINY, a32, generator, i32, s8, sprinkle, status_of


@generator("multiply_by_quantized_multiplier_s32")
def gen_multiply_by_quantized_multiplier_s32(g):
    r = g.rng

    def case(slug, comment, flags, x, multiplier, shift):
        x = i32(x)
        multiplier, shift = i32(multiplier), i32(shift)
        C = multiplier.shape[0]
        x = x.reshape(-1, C)
        y, status = status_of(nb.multiply_by_quantized_multiplier_s32, x, multiplier, shift)
        g.case(slug, comment, flags + (["status"] if y is None else []),
               dict(n=int(x.shape[0]), C=C), dict(x=x, multiplier=multiplier, shift=shift),
               {} if y is None else dict(y=y), status)

    m_half = quantize_multiplier(0.5)
    case("per-tensor", "random accumulators, a multiplier from quantize_multiplier(0.0123)",
         ["basic"], r.ints((40,), -2**24, 2**24), *map(lambda v: [v], quantize_multiplier(0.0123)))
    mults = [quantize_multiplier(v) for v in (0.9, 3e-3, 1.7, 2.5e-6, 0.25)]
    case("per-channel", "five channels, multipliers from five scales", ["basic"],
         r.ints((8, 5), -2**20, 2**20), [m for m, _ in mults], [s for _, s in mults])
    case("empty", "n = 0", ["empty"], i32([]), [m_half[0]], [m_half[1]])
    case("high-mul-ties", "x*M/2**31 exactly halfway: SaturatingRoundingDoublingHighMul rounds "
         "ties toward +inf (0.5 -> 1, -0.5 -> 0, 1.5 -> 2, -1.5 -> -1)", ["tie"],
         [1, -1, 3, -3, 5, -5], [2**30], [0])
    case("divide-ties", "h / 2**rs exactly halfway: RoundingDivideByPOT rounds ties away from "
         "zero (h = x/2 exactly: 3 -> 2, -3 -> -2, 1 -> 1, -1 -> -1)", ["tie"], [6, -6, 2, -2, 10, -10], [2**30], [-1])
    case("saturating-square", "INT32_MIN * INT32_MIN saturates to INT32_MAX", ["saturates"],
         [I32MIN, I32MIN + 1, I32MAX, 0], [I32MIN], [0])
    case("negative-multiplier", "negative multipliers (negative reals), as TFLite allows", ["basic"],
         r.ints((6,), -2**30, 2**30), [-(2**30) - 12345], [-3])
    case("shift-extremes", "shift 30 with the values that still fit, shift -31", ["max size"],
         [-2, -1, 0, 1], [2**30 + 7], [30])
    case("shift-min", "shift -31 shifts out almost everything", ["basic"],
         [I32MIN, I32MAX, -(2**30), 2**30, 12345], [I32MAX], [-31])
    case("left-shift-overflow", "2 * 2**30 leaves int32: TR_ERR_OVERFLOW before any write",
         ["overflow"], [1, 2, 0], [2**30], [30])
    case("shift-out-of-range", "shift 31 is outside [-31, 30]: TR_ERR_PARAM", [], [1], [2**30], [31])


@generator("quantize_s8")
def gen_quantize_s8(g):
    r = g.rng

    def case(slug, comment, flags, x, scale, zp):
        x = a32(x)
        g.case(slug, comment, flags, dict(n=int(x.shape[0]), scale=f32_param(scale), zero_point=zp),
               dict(x=x), dict(q=nb.quantize_s8(x, scale, zp)))

    case("random", "random values, scale 0.05, zero point -3", ["basic"], r.f32((64,), -6, 3), 0.05, -3)
    case("empty", "n = 0", ["empty"], [], 0.1, 0)
    case("ties", "x / scale exactly halfway: rounds away from zero", ["tie"],
         [0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 126.5, -127.5], 1.0, 0)
    case("saturates", "values beyond the int8 range, +-inf and huge clamp to -128 / 127",
         ["saturates", "inf", "huge"], [200.0, -200.0, INF, -INF, 3e38, -3e38, 127.49, -128.5], 1.0, 0)
    case("nan", "NaN quantizes to the zero point", ["nan"], [NAN, -NAN, 1.0], 0.5, 17)
    case("zero-points", "zero point 127: every non-negative value saturates", ["saturates"],
         r.f32((16,), -4, 2), 0.25, 127)
    case("zero-point-min", "zero point -128", ["saturates"], r.f32((16,), -4, 2), 0.25, -128)
    case("subnormal", "subnormal x, and a subnormal scale that makes x / scale huge",
         ["subnormal", "signed zero"], [TINY, -TINY, 1e-39, -0.0, 0.0, 2e-45], 1e-44, 0)
    case("specials", "values sprinkled with +-0, subnormals, FLT_MAX, +-inf and NaNs",
         ["inf", "nan", "subnormal", "signed zero", "huge"], sprinkle(g, r.f32((48,), -4, 4)), 0.125, 5)


@generator("dequantize_s8")
def gen_dequantize_s8(g):
    r = g.rng

    def case(slug, comment, flags, q, scale, zp):
        q = s8(q)
        g.case(slug, comment, flags, dict(n=int(q.shape[0]), scale=f32_param(scale), zero_point=zp),
               dict(q=q), dict(x=nb.dequantize_s8(q, scale, zp)))

    case("random", "random q, scale 0.05, zero point -3", ["basic"], r.ints((64,), -128, 127, np.int8), 0.05, -3)
    case("empty", "n = 0", ["empty"], [], 0.1, 0)
    case("range", "every q with zero point 127 and -128: q - zp spans -255 .. 255", ["max size"],
         np.arange(-128, 128), 0.0078125, 127)
    case("range-zp-min", "every q, zero point -128", ["max size"], np.arange(-128, 128), 0.3, -128)
    case("overflow", "scale near FLT_MAX: products overflow to inf", ["overflow", "inf", "huge"],
         [-128, -1, 0, 1, 127], 3e38, 0)
    case("subnormal", "a subnormal scale: subnormal results and -0.0", ["subnormal", "signed zero"],
         [-128, -1, 0, 1, 127], 1e-42, 0)
    case("negative-scale", "a negative scale (finite: allowed)", ["signed zero"], [-5, 0, 5], -0.5, 0)


@generator("transport_quantize_s8")
def gen_transport_quantize_s8(g):
    r = g.rng

    def case(slug, comment, flags, x, chunk):
        x = a32(x)
        res, status = status_of(nb.transport_quantize_s8, x, chunk)
        expected = {} if res is None else dict(q=res[0], scale=res[1])
        g.case(slug, comment, flags + (["status"] if res is None else []),
               dict(n=int(x.shape[0]), chunk=chunk), dict(x=x), expected, status)

    case("random", "random values, chunks of 16 (the last one shorter)", ["basic"], r.f32((100,), -8, 3), 16)
    case("one-chunk", "chunk >= n: one scale", ["basic"], r.f32((33,)), 64)
    case("chunk-one", "chunk = 1: every value its own scale (q is +-127 or 0)", ["basic", "signed zero"],
         a32([3.0, -0.0, 0.0, -7.5, 1e-3]), 1)
    case("empty", "n = 0: no scale", ["empty"], [], 8)
    case("zero-chunk", "an all-zero chunk: scale 0, q 0", ["signed zero"], [0.0, -0.0, 0.0, 0.0, 1.0, -2.0], 4)
    case("ties", "x / s exactly halfway: rounds away from zero", ["tie"],
         [127.0, 0.5, -0.5, 1.5, -2.5, 63.5], 8)
    case("subnormal", "a subnormal maximum: m / 127 underflows and is raised to 2**-149",
         ["subnormal"], [TINY, -TINY, 0.0, 5 * TINY, 100 * TINY, -126 * TINY], 3)
    case("huge", "values near FLT_MAX: the scale is lowered so that 127*s stays finite",
         ["huge", "saturates"], [MAX, -MAX, 1e38, 3e30], 4)
    case("specials", "random chunks of assorted magnitudes", ["basic"], r.f32((64,), -40, 40), 8)
    case("not-finite", "an infinite value: TR_ERR_PARAM, nothing written", ["inf"], [1.0, INF, 2.0], 2)
    case("nan", "a NaN: TR_ERR_PARAM", ["nan"], [1.0, NAN], 2)
    case("chunk-zero", "chunk = 0: TR_ERR_PARAM", [], [1.0, 2.0], 0)


@generator("transport_dequantize_s8")
def gen_transport_dequantize_s8(g):
    r = g.rng

    def case(slug, comment, flags, q, scale, chunk):
        q, scale = s8(q), a32(scale)
        g.case(slug, comment, flags, dict(n=int(q.shape[0]), chunk=chunk), dict(q=q, scale=scale),
               dict(x=nb.transport_dequantize_s8(q, scale, chunk)))

    x = r.f32((100,), -8, 3)
    q, s = nb.transport_quantize_s8(x, 16)
    case("round-trip", "the output of transport_quantize_s8 on 100 random values", ["basic"], q, s, 16)
    case("empty", "n = 0", ["empty"], [], [], 4)
    case("last-chunk", "a shorter last chunk", ["basic"], r.ints((7,), -127, 127, np.int8), r.f32((3,), -10, -2), 3)
    case("extremes", "scales near FLT_MAX and subnormal; q = +-127, 0 and -128",
         ["huge", "subnormal", "overflow", "inf", "signed zero"],
         [127, -127, -128, 0, 127, -127, 1, 0], [float(TRANSPORT_MAX_SCALE), 3e38, TINY, 0.0], 2)


@generator("sgd_step_s8")
def gen_sgd_step_s8(g):
    r = g.rng

    def case(slug, comment, flags, theta, gr, real=None, mult=None):
        theta, gr = s8(theta), i32(gr)
        multiplier, shift = quantize_multiplier(real) if mult is None else mult
        out = theta.copy()
        res, status = status_of(nb.sgd_step_s8, out, gr, multiplier, shift)
        g.case(slug, comment, flags + (["status"] if status != "TR_OK" else []),
               dict(n=int(theta.shape[0]), multiplier=multiplier, shift=shift),
               dict(theta=theta, g=gr), {} if status != "TR_OK" else dict(theta=out), status)

    case("random", "lr*s_g/s_w = 0.0007", ["basic"], r.ints((64,), -100, 100, np.int8),
         r.ints((64,), -20000, 20000), 0.0007)
    case("empty", "n = 0", ["empty"], [], [], 0.01)
    case("saturates", "steps that push theta past -128 / 127 clamp", ["saturates"],
         [120, -120, 127, -128, 0], [-4000, 4000, -1, 1, 0], 0.01)
    case("ties", "MBQM steps that land halfway: ties away from zero", ["tie"],
         [0, 0, 0, 0], [1, -1, 3, -3], 0.5)
    case("left-shift", "a multiplier above 1 (shift > 0)", ["basic"], r.ints((16,), -50, 50, np.int8),
         r.ints((16,), -100, 100), 3.0)
    case("left-shift-overflow", "g * 2**shift leaves int32: TR_ERR_OVERFLOW, theta untouched",
         ["overflow"], [1, 2], [2**29, 1], 4.0)


@generator("reptile_interpolate_s8")
def gen_reptile_interpolate_s8(g):
    r = g.rng

    def case(slug, comment, flags, theta, phi, eps):
        theta, phi = s8(theta), s8(phi)
        multiplier, shift = quantize_multiplier(eps)
        out = theta.copy()
        nb.reptile_interpolate_s8(out, phi, multiplier, shift)
        g.case(slug, comment, flags, dict(n=int(theta.shape[0]), multiplier=multiplier, shift=shift),
               dict(theta=theta, phi=phi), dict(theta=out))

    t, p = r.ints((64,), -128, 127, np.int8), r.ints((64,), -128, 127, np.int8)
    case("random", "eps = 0.1", ["basic"], t, p, 0.1)
    case("empty", "n = 0", ["empty"], [], [], 0.5)
    case("eps-one", "eps = 1 gives phi exactly", ["identity"], t, p, 1.0)
    case("eps-zero", "eps = 0 gives theta", ["identity"], t, p, 0.0)
    case("extremes", "phi - theta = +-255 at the ends of the range", ["max size"],
         [-128, 127, -128, 127], [127, -128, -128, 127], 0.75)
    case("ties", "eps = 0.5 on odd differences: ties away from zero", ["tie"],
         [0, 0, 0, 0, -128], [1, -1, 3, -3, 127], 0.5)
    case("eps-above-one", "eps = 2 overshoots: clamps to -128 / 127", ["saturates"],
         [0, 0, 100, -100], [100, -100, 127, -128], 2.0)
