"""Golden-vector cases for csrc/mathf.c: exp_f32, log_f32, tanh_f32, sin_f32."""
import numpy as np

from ...backend import numpy_backend as nb
from .common import F32, INF, MAX, MIN_NORMAL, NAN, TINY, a32, bitsf, generator


LN_MAX = float(np.log(np.float64(MAX)))  # 88.72283...


def _around(values, ulps=2):
    """float32 values within `ulps` units in the last place of each of `values`."""
    out = []
    for v in values:
        b = int(np.array(np.float32(v)).view(np.uint32))
        out.extend(range(b - ulps, b + ulps + 1))
    return np.array(out, np.uint32).view(F32)


def _elementwise(g, twin, x_name="x", y_name="y"):
    def case(slug, comment, flags, x):
        x = a32(x)
        g.case(slug, comment, flags, dict(n=int(x.size)), {x_name: x}, {y_name: twin(x)})
    return case


@generator("exp_f32")
def gen_exp_f32(g):
    r = g.rng
    case = _elementwise(g, nb.exp_f32)
    case("random", "random x in [-16, 16]", ["basic"], r.f32((256,), -6, 3))
    case("wide", "x across the whole useful range [-104, 89]", ["basic"], r.f32((256,), -6, 6) * F32(0.7))
    case("empty", "n = 0", ["empty"], [])
    case("specials", "exp(+-0) = 1, exp(-inf) = +0, exp(inf) = inf, NaN -> NaN",
         ["signed zero", "inf", "nan"], [0.0, -0.0, INF, -INF, NAN, float(bitsf(0xFFC00001)[0])])
    case("overflow-edge", "around ln(FLT_MAX) = 88.72: the last finite results and inf",
         ["overflow", "inf", "huge"], _around([LN_MAX, 88.7, 89.0, 1e30, MAX], 3))
    case("subnormal-results", "x in [-103.98, -87.33]: results subnormal, then +0",
         ["subnormal"], np.concatenate([_around([-87.33654, -103.27893, -103.97208, -104.0], 3),
                                        np.linspace(-104, -87, 41, dtype=np.float32)]))
    case("tiny-x", "|x| below 2**-24: exp(x) rounds to 1 or its neighbours", ["subnormal"],
         [TINY, -TINY, 1e-8, -1e-8, 2.0**-25, -(2.0**-25), 2.0**-23, -(2.0**-24)])
    case("integers", "small integers and halves", ["basic"], np.arange(-20, 21, 0.5, dtype=np.float32))


@generator("log_f32")
def gen_log_f32(g):
    r = g.rng
    case = _elementwise(g, nb.log_f32)
    case("random", "random positive x, magnitudes 2**-20 .. 2**20", ["basic"],
         r.f32((256,), -20, 20, signed=False))
    case("empty", "n = 0", ["empty"], [])
    case("specials", "log(1) = +0, log(+-0) = -inf, log(inf) = inf, negatives and NaN -> NaN",
         ["signed zero", "inf", "nan"], [1.0, 0.0, -0.0, INF, -INF, -1.0, NAN, -TINY])
    case("near-one", "x within a few ulps of 1: cancellation", ["cancellation"], _around([1.0], 16))
    case("subnormal", "subnormal x down to 2**-149", ["subnormal"],
         [TINY, 2 * TINY, 3 * TINY, float(bitsf(0x007FFFFF)[0]), MIN_NORMAL, 1e-40])
    case("huge", "x up to FLT_MAX", ["huge"], _around([MAX, 1e38, 2.0**127], 2)[:-2])
    case("powers-of-two", "exact powers of two: log = k*ln2", ["basic"],
         np.array([2.0**k for k in range(-149, 128, 7)], np.float32))


@generator("tanh_f32")
def gen_tanh_f32(g):
    r = g.rng
    case = _elementwise(g, nb.tanh_f32)
    case("random", "random x, magnitudes 2**-6 .. 2**4", ["basic"], r.f32((256,), -6, 3))
    case("empty", "n = 0", ["empty"], [])
    case("specials", "tanh(+-0) = +-0, tanh(+-inf) = +-1, NaN -> NaN",
         ["signed zero", "inf", "nan"], [0.0, -0.0, INF, -INF, NAN])
    case("saturation", "x where tanh rounds to +-1", ["saturates", "huge"],
         np.concatenate([np.linspace(7, 10, 25, dtype=np.float32), -np.linspace(7, 10, 25, dtype=np.float32),
                         a32([MAX, -MAX, 1e30])]))
    case("small", "small and subnormal x: tanh(x) = x", ["subnormal"],
         [TINY, -TINY, 1e-30, -1e-30, 2.0**-12, -(2.0**-12), 1e-4, 0.01])
    case("branch-edges", "around 0.55 and other thresholds of the algorithm", ["basic"],
         _around([0.5, 0.55, 0.625, 1.0, 2.0, 4.0, 9.0], 2))


@generator("sin_f32")
def gen_sin_f32(g):
    r = g.rng
    case = _elementwise(g, nb.sin_f32)
    case("task-range", "256 x evenly over [-5, 5 + 2 pi], the sine task's arguments", ["basic"],
         np.linspace(-5.0, 11.283185, 256, dtype=np.float32))
    case("random", "random x, magnitudes 2**-6 .. 2**12", ["basic"], r.f32((256,), -6, 12))
    case("empty", "n = 0", ["empty"], [])
    case("specials", "sin(+-0) = +-0, sin(+-inf) = NaN, NaN -> NaN",
         ["signed zero", "inf", "nan"], [0.0, -0.0, INF, -INF, NAN])
    case("small", "|x| < 2**-12 and subnormal x: sin(x) = x", ["subnormal"],
         [TINY, -TINY, 1e-30, -1e-30, 2.0**-13, -(2.0**-13), 1e-4, 2.0**-12])
    case("near-multiples-of-pi-2", "x near k pi/2: cancellation in the reduction",
         ["cancellation"], _around([1.5707964, 3.1415927, 4.712389, 6.2831855, 9.424778,
                                    3216.991, 6396.6, -3.1415927], 3))
    case("huge", "|x| >= 6400: sin(x mod 2pi_f), up to FLT_MAX", ["huge"],
         _around([6400.0, 1e5, 1e10, 1e30, MAX, -1e20], 1))
