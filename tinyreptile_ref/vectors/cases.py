"""The cases: one generator function per kernel, each producing its expected outputs with the
NumPy twins (never with C).

A generator is registered with @generator("<kernel>") and receives a Gen: g.rng is the
kernel's own SplitMix64 stream, g.case(...) records one case. Adding a kernel to the vectors
means writing one such function here and one handler in tests/runner/tv_handlers.c.

Blob names are the C argument names; inputs are listed in call order. An in-place kernel has
an input and an expected blob of the same name (theta). The C runner passes sizes and scalar
parameters from `params` under the C parameter names.
"""
import numpy as np

from .. import model as mt
from .. import numpy_backend as nb
from ..errors import AccumulatorOverflowError, ParameterError, ShapeError
from ..quant import TRANSPORT_MAX_SCALE, activation_range, output_multiplier, quantize_multiplier
from .format import STATUS, Case, f32_param
from .rng import SplitMix64, stream_seed

F32 = np.float32

#: kernel -> generator function, in registration order (the manifest's order).
GENERATORS = {}


def generator(kernel):
    def register(fn):
        if kernel in GENERATORS:
            raise ValueError(f"two generators for {kernel}")
        GENERATORS[kernel] = fn
        return fn
    return register


class Gen:
    def __init__(self, kernel, seed):
        self.kernel = kernel
        self.rng = SplitMix64(stream_seed(seed, kernel))
        self.cases = []

    def case(self, slug, comment, flags, params, inputs, expected, status="TR_OK"):
        """Record a case. inputs/expected: dicts name -> array, in C argument order."""
        c = Case(self.kernel, slug, params, comment, flags, STATUS[status])
        for name, a in inputs.items():
            c.add("input", name, a)
        for name, a in expected.items():
            c.add("expected", name, a)
        self.cases.append(c)
        return c


def status_of(fn, *args):
    """Call a twin; return (result, status name). The twin's checked preconditions map to the
    status the C kernel returns for the same violation."""
    try:
        return fn(*args), "TR_OK"
    except AccumulatorOverflowError:
        return None, "TR_ERR_OVERFLOW"
    except ParameterError:
        return None, "TR_ERR_PARAM"
    except ShapeError:
        return None, "TR_ERR_SHAPE"


def bitsf(*bits):
    """float32 array from raw bit patterns."""
    return np.array(bits, np.uint32).view(F32)


def a32(values, shape=None):
    a = np.array(values, F32)
    return a if shape is None else a.reshape(shape)


MAX = float(np.finfo(F32).max)
TINY = float(np.finfo(F32).smallest_subnormal)     # 2**-149
MIN_NORMAL = float(np.finfo(F32).smallest_normal)   # 2**-126
INF, NAN = float("inf"), float("nan")
#: values that kernels most often get wrong; drawn into arrays by the "specials" cases.
SPECIALS = (0.0, -0.0, 1.0, -1.0, TINY, -TINY, MIN_NORMAL, float(bitsf(0x007FFFFF)[0]),
            MAX, -MAX, 1e30, -1e30, INF, -INF, NAN, float(bitsf(0xFFC00001)[0]))


def sprinkle(g, a, values=SPECIALS, one_in=3):
    """A copy of `a` with about one element in `one_in` replaced by one of `values`."""
    a = a.copy()
    m = g.rng.mask(a.shape, one_in)
    a[m] = g.rng.pick(a.shape, values)[m]
    return a


# ---------------------------------------------------------------- dense, float32

def _dense_random(g, B, I, O, **kw):
    return g.rng.f32((B, I), **kw), g.rng.f32((O, I), **kw), g.rng.f32((O,), **kw)


@generator("dense_forward_f32")
def gen_dense_forward_f32(g):
    def case(slug, comment, flags, x, w, bias):
        B, I = x.shape
        O = w.shape[0]
        g.case(slug, comment, flags, dict(B=B, I=I, O=O), dict(x=x, w=w, bias=bias),
               dict(y=nb.dense_forward_f32(x, w, bias)))

    case("one-element", "B = I = O = 1: y = bias + w*x", ["one element"], *_dense_random(g, 1, 1, 1))
    for O in range(1, 10):
        case(f"outputs-{O}", f"O = {O}: the four-wide unrolled outputs plus a remainder of {O % 4}",
             ["basic", "unrolled path"], *_dense_random(g, 2, 5, O))
    for B, I, O in ((3, 7, 6), (4, 16, 12), (1, 33, 17)):
        case(f"random-{B}x{I}x{O}", "random inputs, magnitudes 2**-3 .. 2**2", ["basic"],
             *_dense_random(g, B, I, O))
    for B, I, O in ((1, 64, 64), (2, 40, 33)):
        case(f"model-{B}x{I}x{O}", "a layer of the paper's model size", ["model size"],
             *_dense_random(g, B, I, O))
    for B, I, O in ((0, 3, 4), (2, 3, 0), (0, 0, 0)):
        case(f"empty-{B}x{I}x{O}", "a zero size: nothing to compute", ["empty"],
             *_dense_random(g, B, I, O))
    x, w, _ = _dense_random(g, 3, 0, 5)
    case("no-inputs", "I = 0: every row of y is bias, including -0.0 and a NaN", ["empty", "signed zero", "nan"],
         x, w, a32([1.5, -0.0, 0.0, NAN, -3.0]))
    case("tie-on-accumulate", "bias + w*x lands exactly halfway: 1 + 2**-24 rounds to 1 (even), "
         "(1 + 2**-23) + 2**-24 rounds up to 1 + 2**-22", ["tie"],
         a32([[2.0**-24]]), a32([[1.0], [1.0]]), a32([1.0, 1.0 + 2.0**-23]))
    case("tie-in-product", "(1 + 2**-12)**2 = 1 + 2**-11 + 2**-24 is a tie when rounded, "
         "before the add: a fused multiply-add would keep the 2**-24", ["tie"],
         a32([[1.0 + 2.0**-12, 1.0]]), a32([[1.0 + 2.0**-12, -(1.0 + 2.0**-11)]]), a32([0.0]))
    case("order", "1e8 + 1 - 1e8 summed over i ascending from bias 0 gives 0; "
         "another order (pairwise, BLAS) gives 1", ["order", "cancellation"],
         a32([[1.0, 1.0, 1.0]]), a32([[1e8, 1.0, -1e8]]), a32([0.0]))
    case("signed-zero", "-0 + 0*1 = +0 and -0 + (-0)*1 = -0 in round to nearest even",
         ["signed zero"], a32([[1.0]]), a32([[0.0], [-0.0], [0.0], [-0.0]]), a32([-0.0, -0.0, 0.0, 0.0]))
    x, w, b = _dense_random(g, 2, 6, 5, emin=-75, emax=-60)
    case("subnormal-products", "inputs near 2**-70: products and sums are subnormal or flush "
         "towards zero; no flush-to-zero allowed", ["subnormal"], x, w, b * F32(2.0**-50))
    case("subnormal-inputs", "subnormal x, w and bias", ["subnormal"],
         g.rng.f32((2, 4), -126, -126) * F32(2.0**-10), g.rng.f32((5, 4), 0, 3),
         bitsf(1, 0x80000001, 0x007FFFFF, 0x00400000, 0x80000010))
    case("overflow", "products and sums beyond FLT_MAX become inf; inf - inf becomes NaN",
         ["overflow", "inf", "nan"], a32([[2.0, 3e38]]),
         a32([[3e38, 0.0], [3e38, 1.0], [-3e38, 1.0], [1.0, 3e38]]), a32([0.0, 3e38, -3e38, -1.0]))
    x, w, b = _dense_random(g, 3, 6, 7)
    case("specials", "inputs sprinkled with +-0, subnormals, FLT_MAX, +-inf and NaNs",
         ["inf", "nan", "subnormal", "signed zero", "huge"], sprinkle(g, x), sprinkle(g, w), sprinkle(g, b))
    case("wide-exponents", "magnitudes 2**-40 .. 2**40: sums absorb small terms",
         ["huge"], *_dense_random(g, 3, 9, 5, emin=-40, emax=40))


@generator("dense_backward_f32")
def gen_dense_backward_f32(g):
    def case(slug, comment, flags, dy, x, w, with_dx=True):
        B, I = x.shape
        O = w.shape[0]
        dx, dw, db = nb.dense_backward_f32(dy, x, w)
        expected = dict(dx=dx, dw=dw, db=db) if with_dx else dict(dw=dw, db=db)
        g.case(slug, comment + ("" if with_dx else "; no dx blob: the runner passes dx = NULL"),
               flags, dict(B=B, I=I, O=O), dict(dy=dy, x=x, w=w), expected)

    def rnd(B, I, O, **kw):
        return g.rng.f32((B, O), **kw), g.rng.f32((B, I), **kw), g.rng.f32((O, I), **kw)

    case("one-element", "B = I = O = 1", ["one element"], *rnd(1, 1, 1))
    for B, I, O in ((2, 3, 4), (3, 5, 7), (4, 9, 8), (5, 2, 3), (1, 6, 5)):
        case(f"random-{B}x{I}x{O}", "random inputs, magnitudes 2**-3 .. 2**2", ["basic"], *rnd(B, I, O))
    case("no-dx", "dx not requested (the first layer of a model)", ["basic"], *rnd(3, 4, 5), with_dx=False)
    case("model-2x64x64", "a layer of the paper's model size", ["model size"], *rnd(2, 64, 64))
    case("empty-batch", "B = 0: dw and db are all +0", ["empty"], *rnd(0, 3, 4))
    case("no-inputs", "I = 0: db = sum over b of dy; dx and dw are empty", ["empty"], *rnd(3, 0, 4))
    case("no-outputs", "O = 0: dx is all +0", ["empty"], *rnd(3, 4, 0))
    case("zero-start", "sums start at +0, not at the first term: -0 terms give +0",
         ["signed zero"], a32([[-0.0, -0.0]]), a32([[1.0]]), a32([[-0.0], [0.0]]))
    case("order", "db = 1e8 + 1 - 1e8 over b ascending is 0; dw and dx alike", ["order", "cancellation"],
         a32([[1e8], [1.0], [-1e8]]), a32([[1.0], [1.0], [1.0]]), a32([[1.0]]))
    case("tie", "dw = 0 + (1+2**-12)**2: the product is a rounding tie", ["tie"],
         a32([[1.0 + 2.0**-12]]), a32([[1.0 + 2.0**-12]]), a32([[1.0 + 2.0**-23]]))
    case("subnormal", "gradients in the subnormal range", ["subnormal"], *rnd(3, 4, 5, emin=-75, emax=-62))
    case("overflow", "gradients beyond FLT_MAX become inf, inf - inf NaN", ["overflow", "inf", "nan"],
         a32([[3e38, -3e38], [3e38, 3e38]]), a32([[2.0], [2.0]]), a32([[2.0], [1.0]]))
    dy, x, w = rnd(4, 5, 6)
    case("specials", "inputs sprinkled with +-0, subnormals, FLT_MAX, +-inf and NaNs",
         ["inf", "nan", "subnormal", "signed zero", "huge"], sprinkle(g, dy), sprinkle(g, x), sprinkle(g, w))
    case("wide-exponents", "magnitudes 2**-40 .. 2**40", ["huge"], *rnd(3, 7, 6, emin=-40, emax=40))


# --------------------------------------------------------------- conv1d, float32

def _conv_geometries():
    # (B, L, C_in, C_out, K, stride, dilation, padding, slug, flags)
    return [
        (1, 1, 1, 1, 1, 1, 1, "valid", "one-element", ["one element"]),
        (2, 9, 3, 4, 3, 1, 1, "valid", "valid-k3", ["basic"]),
        (2, 9, 3, 5, 3, 1, 1, "same", "same-k3", ["basic"]),
        (1, 10, 2, 3, 4, 1, 1, "same", "same-even-k", ["basic"]),
        (2, 11, 2, 3, 3, 2, 1, "valid", "stride-2", ["basic"]),
        (2, 11, 2, 3, 3, 3, 1, "same", "same-stride-3", ["basic"]),
        (1, 13, 2, 2, 3, 1, 2, "valid", "dilation-2", ["basic"]),
        (1, 13, 2, 2, 3, 2, 3, "same", "same-dilation-3-stride-2", ["basic"]),
        (1, 4, 2, 3, 7, 1, 1, "same", "kernel-wider-than-input", ["basic"]),
        (1, 3, 2, 2, 5, 1, 1, "valid", "valid-too-short", ["empty"]),
        (0, 5, 2, 3, 3, 1, 1, "same", "empty-batch", ["empty"]),
        (2, 0, 2, 3, 3, 1, 1, "same", "empty-length", ["empty"]),
        (1, 6, 0, 3, 2, 1, 1, "valid", "no-input-channels", ["empty"]),
        (1, 64, 8, 16, 5, 1, 1, "same", "model-64x8x16", ["model size"]),
    ]


@generator("conv1d_forward_f32")
def gen_conv1d_forward_f32(g):
    r = g.rng
    pad = {"valid": 0, "same": 1}

    def case(slug, comment, flags, x, w, bias, stride, dilation, padding):
        B, L, C_in = x.shape
        C_out, K, _ = w.shape
        y = nb.conv1d_forward_f32(x, w, bias, stride, dilation, padding)
        g.case(slug, comment, flags,
               dict(B=B, L=L, C_in=C_in, C_out=C_out, K=K, stride=stride, dilation=dilation,
                    padding=pad[padding]),
               dict(x=x, w=w, bias=bias), dict(y=y))

    for B, L, ci, co, K, s, d, p, slug, flags in _conv_geometries():
        case(slug, f"B={B} L={L} C_in={ci} C_out={co} K={K} stride={s} dilation={d} padding {p}",
             flags, r.f32((B, L, ci)), r.f32((co, K, ci)), r.f32((co,)), s, d, p)
    case("order", "1e8 + 1 - 1e8 over k ascending, then ci: 0", ["order", "cancellation"],
         a32([[[1.0], [1.0], [1.0]]]), a32([[[1e8], [1.0], [-1e8]]]), a32([0.0]), 1, 1, "valid")
    case("signed-zero-padding", "-0 bias and taps in the padding: skipped, never 0*x added",
         ["signed zero"], a32([[[INF], [1.0]]]), a32([[[-0.0], [-0.0], [-0.0]]]), a32([-0.0]), 1, 1, "same")
    x, w, b = r.f32((2, 7, 3)), r.f32((4, 3, 3)), r.f32((4,))
    case("specials", "inputs sprinkled with +-0, subnormals, FLT_MAX, +-inf and NaNs",
         ["inf", "nan", "subnormal", "signed zero", "huge"], sprinkle(g, x), sprinkle(g, w), sprinkle(g, b), 1, 1, "same")
    case("subnormal", "products in the subnormal range", ["subnormal"],
         r.f32((1, 6, 2), -75, -62), r.f32((3, 2, 2), -75, -62), r.f32((3,), -130 + 4, -126), 1, 1, "valid")
    case("tie", "0 + (1+2**-12)**2 rounds a tie to even", ["tie"],
         a32([[[1.0 + 2.0**-12]]]), a32([[[1.0 + 2.0**-12]]]), a32([0.0]), 1, 1, "valid")


@generator("conv1d_backward_f32")
def gen_conv1d_backward_f32(g):
    r = g.rng
    pad = {"valid": 0, "same": 1}

    def case(slug, comment, flags, dy, x, w, stride, dilation, padding, with_dx=True):
        B, L, C_in = x.shape
        C_out, K, _ = w.shape
        dx, dw, db = nb.conv1d_backward_f32(dy, x, w, stride, dilation, padding)
        expected = dict(dx=dx, dw=dw, db=db) if with_dx else dict(dw=dw, db=db)
        g.case(slug, comment + ("" if with_dx else "; no dx blob: the runner passes dx = NULL"), flags,
               dict(B=B, L=L, C_in=C_in, C_out=C_out, K=K, stride=stride, dilation=dilation,
                    padding=pad[padding]),
               dict(dy=dy, x=x, w=w), expected)

    for B, L, ci, co, K, s, d, p, slug, flags in _conv_geometries():
        L_out, _ = nb.conv1d_out_len(L, K, s, d, p)
        case(slug, f"B={B} L={L} C_in={ci} C_out={co} K={K} stride={s} dilation={d} padding {p}",
             flags, r.f32((B, L_out, co)), r.f32((B, L, ci)), r.f32((co, K, ci)), s, d, p)
    case("no-dx", "dx not requested", ["basic"], r.f32((2, 5, 3)), r.f32((2, 5, 2)), r.f32((3, 3, 2)), 1, 1, "same", with_dx=False)
    dy, x, w = r.f32((2, 7, 4)), r.f32((2, 7, 3)), r.f32((4, 3, 3))
    case("specials", "inputs sprinkled with +-0, subnormals, FLT_MAX, +-inf and NaNs",
         ["inf", "nan", "subnormal", "signed zero", "huge"], sprinkle(g, dy), sprinkle(g, x), sprinkle(g, w), 1, 1, "same")
    case("zero-start", "sums start at +0: all -0 terms give +0", ["signed zero"],
         a32([[[-0.0], [-0.0]]]), a32([[[1.0], [1.0]]]), a32([[[-0.0]]]), 1, 1, "valid")


@generator("conv1d_out_len")
def gen_conv1d_out_len(g):
    """Geometry only: L_out and pad_before by TFLite's rule, and the statuses of bad ones."""
    code = {"valid": 0, "same": 1, "causal": 2}  # "causal": not a mode (TR_ERR_PARAM)
    I32MAX = 2**31 - 1
    rows = [  # L, K, stride, dilation, padding, slug, flags, comment
        (10, 3, 1, 1, "valid", "valid", ["basic"], "L - S + 1"),
        (10, 3, 1, 1, "same", "same", ["basic"], "ceil(L / stride), padding split evenly"),
        (10, 4, 1, 1, "same", "same-even-k", ["basic"], "odd total padding: the smaller half before"),
        (11, 3, 3, 2, "same", "same-strided-dilated", ["basic"], "stride 3, dilation 2"),
        (2, 5, 1, 1, "valid", "valid-too-short", ["empty"], "L < S gives L_out = 0"),
        (0, 3, 2, 1, "same", "same-empty", ["empty"], "L = 0 gives L_out = 0"),
        (I32MAX, 1, 1, 1, "valid", "max-length", ["max size"], "the largest L"),
        (I32MAX - 1, 2, 1, 1, "same", "max-same", ["max size"], "(L_out-1)*stride + S = INT32_MAX exactly"),
        (I32MAX, 2, 1, 1, "same", "same-overflow", ["status", "overflow"], "(L_out-1)*stride + S exceeds int32"),
        (5, 3, 1, 2**30, "valid", "span-overflow", ["status", "overflow"], "(K-1)*dilation + 1 exceeds int32"),
        (5, 0, 1, 1, "valid", "k-zero", ["status"], "K = 0"),
        (5, 3, 0, 1, "same", "stride-zero", ["status"], "stride = 0"),
        (5, 3, 1, 0, "same", "dilation-zero", ["status"], "dilation = 0"),
        (5, 3, 1, 1, "causal", "bad-padding", ["status"], "padding code 2 is not a mode"),
    ]
    for L, K, stride, dilation, padding, slug, flags, comment in rows:
        res, status = status_of(nb.conv1d_out_len, L, K, stride, dilation, padding)
        expected = {} if res is None else dict(L_out=np.array(res[0], np.int32),
                                                pad_before=np.array(res[1], np.int32))
        g.case(slug, comment, flags, dict(L=L, K=K, stride=stride, dilation=dilation,
                                          padding=code[padding]), {}, expected, status)


# ----------------------------------------------------- elementwise math, float32

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


# ---------------------------------------------------------- activations, float32

@generator("relu_forward_f32")
def gen_relu_forward_f32(g):
    r = g.rng
    case = _elementwise(g, nb.relu_forward_f32)
    case("random", "random x", ["basic"], r.f32((64,)))
    case("empty", "n = 0", ["empty"], [])
    case("specials", "-0 and NaN pass through; negatives (and -inf) give +0",
         ["signed zero", "nan", "inf", "subnormal"], [-0.0, 0.0, NAN, -NAN, -INF, INF, -TINY, TINY, -MAX, MAX])


@generator("relu_backward_f32")
def gen_relu_backward_f32(g):
    r = g.rng

    def case(slug, comment, flags, dy, x):
        dy, x = a32(dy), a32(x)
        g.case(slug, comment, flags, dict(n=int(x.size)), dict(dy=dy, x=x),
               dict(dx=nb.relu_backward_f32(dy, x)))

    case("random", "random dy and x", ["basic"], r.f32((64,)), r.f32((64,)))
    case("empty", "n = 0", ["empty"], [], [])
    case("specials", "x <= 0, -0 and NaN pass +0; x > 0 passes dy (also NaN and inf dy)",
         ["signed zero", "nan", "inf", "subnormal"],
         [1.0, 2.0, 3.0, NAN, INF, -0.0, 5.0, 6.0], [-0.0, 0.0, NAN, 1.0, TINY, 1.0, -TINY, INF])


@generator("tanh_forward_f32")
def gen_tanh_forward_f32(g):
    r = g.rng
    case = _elementwise(g, nb.tanh_forward_f32)
    case("random", "random x", ["basic"], r.f32((64,)))
    case("empty", "n = 0", ["empty"], [])
    case("specials", "+-0, +-inf, NaN, subnormals and saturation", ["signed zero", "nan", "inf", "subnormal", "saturates"],
         [0.0, -0.0, INF, -INF, NAN, TINY, -TINY, 12.0, -12.0])


@generator("tanh_backward_f32")
def gen_tanh_backward_f32(g):
    r = g.rng

    def case(slug, comment, flags, dy, y):
        dy, y = a32(dy), a32(y)
        g.case(slug, comment, flags, dict(n=int(y.size)), dict(dy=dy, y=y),
               dict(dx=nb.tanh_backward_f32(dy, y)))

    case("random", "random dy, y = tanh of random x", ["basic"], r.f32((64,)), nb.tanh_f32(r.f32((64,))))
    case("empty", "n = 0", ["empty"], [], [])
    case("specials", "y = +-1 gives +-0; NaN and inf dy; y*y rounding near 1; subnormal dy",
         ["signed zero", "nan", "inf", "cancellation", "subnormal"],
         [1.0, -1.0, NAN, INF, 2.0, 3.0, -0.0, TINY, -1e-40], [1.0, -1.0, 0.5, 0.5, NAN, float(_around([1.0], 1)[0]), 0.0, 0.25, 0.0])


# --------------------------------------------------------------- losses, float32

@generator("mse_loss_f32")
def gen_mse_loss_f32(g):
    r = g.rng

    def case(slug, comment, flags, pred, target, with_grad=True):
        pred, target = a32(pred), a32(target)
        loss, dpred = nb.mse_loss_f32(pred, target)
        expected = dict(loss=np.array(loss, F32))
        if with_grad:
            expected["dpred"] = dpred
        g.case(slug, comment + ("" if with_grad else "; no dpred blob: the runner passes NULL"),
               flags, dict(n=int(pred.size)), dict(pred=pred, target=target), expected)

    case("one-element", "n = 1", ["one element"], r.f32((1,)), r.f32((1,)))
    case("random", "n = 40", ["basic"], r.f32((40,)), r.f32((40,)))
    case("loss-only", "n = 17", ["basic"], r.f32((17,)), r.f32((17,)), with_grad=False)
    case("long", "n = 3000: the sum of squares over j ascending drifts from any other order",
         ["order", "model size"], r.f32((3000,), -2, 4), r.f32((3000,), -2, 4))
    case("empty", "n = 0: loss +0", ["empty"], [], [])
    case("order", "1e8**2 + 1 - ... : squares of mixed magnitudes in order", ["order"],
         [1e4, 1.0, 1e-4, 3.0], [0.0, 0.0, 0.0, 0.0])
    case("overflow", "d*d overflows to inf; inf - inf gives NaN", ["overflow", "inf", "nan"],
         [3e20, INF, INF, 1.0], [-3e20, INF, 0.0, NAN])
    case("subnormal", "differences whose squares underflow", ["subnormal", "signed zero"],
         [1e-20, -1e-25, TINY, -0.0], [0.0, 0.0, 0.0, 0.0])


@generator("softmax_xent_loss_f32")
def gen_softmax_xent_loss_f32(g):
    r = g.rng

    def case(slug, comment, flags, logits, labels, with_grad=True):
        logits, labels = a32(logits), np.array(labels, np.int32)
        B, C = logits.shape
        try:
            loss, dlogits = nb.softmax_xent_loss_f32(logits, labels)
            status = "TR_OK"
        except ParameterError:   # a label outside [0, C): the C kernel says TR_ERR_LABEL
            status = "TR_ERR_LABEL"
        expected = {}
        if status == "TR_OK":
            expected["loss"] = np.array(loss, F32)
            if with_grad:
                expected["dlogits"] = dlogits
        g.case(slug, comment + ("" if with_grad else "; no dlogits blob: the runner passes NULL"),
               flags + (["status"] if status != "TR_OK" else []), dict(B=B, C=C),
               dict(logits=logits, labels=labels), expected, status)

    case("one-element", "B = 1, C = 1: loss 0", ["one element"], r.f32((1, 1)), [0])
    case("random", "B = 8, C = 5", ["basic"], r.f32((8, 5), -2, 2), r.ints((8,), 0, 4))
    case("loss-only", "B = 4, C = 3", ["basic"], r.f32((4, 3)), r.ints((4,), 0, 2), with_grad=False)
    case("classes-10", "B = 16, C = 10 (the paper's classifier head)", ["model size"],
         r.f32((16, 10), -4, 3), r.ints((16,), 0, 9))
    case("empty-batch", "B = 0: loss +0", ["empty"], np.zeros((0, 4), F32), [])
    case("huge-logits", "logits near FLT_MAX stay finite (z - m <= 0)", ["huge"],
         [[MAX, -MAX, 0.0], [3e38, 3e38, -3e38]], [1, 0])
    case("ties-in-max", "equal maxima: the first one is m", ["tie"], [[2.0, 2.0, 2.0], [-1.0, 5.0, 5.0]], [2, 1])
    case("infinite-logits", "a -inf logit has probability 0; +inf or all -inf makes the row NaN",
         ["inf", "nan"], [[-INF, 1.0, 2.0], [INF, 1.0, 0.0], [-INF, -INF, -INF]], [1, 0, 2])
    case("nan-logit", "a NaN logit makes its row NaN", ["nan"], [[NAN, 1.0], [0.5, 0.25]], [1, 0])
    case("tiny-logits", "subnormal and signed-zero logits: probabilities 1/C up to rounding",
         ["subnormal", "signed zero"], [[TINY, -0.0, 0.0], [-TINY, 1e-40, -0.0]], [0, 2])
    case("bad-label", "a label outside [0, C): TR_ERR_LABEL, nothing written", [], [[1.0, 2.0], [3.0, 4.0]], [0, 2])
    case("negative-label", "label -1: TR_ERR_LABEL", [], [[1.0, 2.0]], [-1])


# ---------------------------------------------------------- optimisation, float32

def _update_cases(g, twin, other, scalar):
    """Shared cases of the two in-place updates theta <- f(theta, other, scalar)."""
    def case(slug, comment, flags, theta, o, s):
        out = theta.copy()
        twin(out, o, s)
        g.case(slug, comment, flags, {"n": int(theta.shape[0]), scalar: f32_param(s)},
               {"theta": theta, other: o}, dict(theta=out))

    r = g.rng
    case("empty", "n = 0", ["empty"], a32([]), a32([]), 0.5)
    case("one-element", "n = 1", ["one element"], r.f32((1,)), r.f32((1,)), 0.25)
    for n, s in ((7, 0.1), (64, 0.01), (1000, 0.003), (4096, 0.3)):
        case(f"random-{n}", f"random values, {scalar} = {s} (rounded to float32)",
             ["basic"] + (["model size"] if n >= 1000 else []), r.f32((n,)), r.f32((n,)), s)
    return case


@generator("sgd_step_f32")
def gen_sgd_step_f32(g):
    r = g.rng
    case = _update_cases(g, nb.sgd_step_f32, "g", "lr")
    case("lr-zero", "lr = 0: theta unchanged except where g is inf or NaN (0*inf = NaN)",
         ["identity", "nan", "inf"], r.f32((9,)), a32([1, -1, 0, -0.0, INF, -INF, NAN, MAX, TINY]), 0.0)
    case("lr-negative", "lr < 0 (gradient ascent)", ["basic"], r.f32((16,)), r.f32((16,)), -0.5)
    case("lr-subnormal", "a subnormal lr: the steps underflow", ["subnormal"], r.f32((16,)), r.f32((16,)), 1e-40)
    case("lr-huge", "lr = 1e30: steps overflow to inf, theta to -inf/+inf", ["overflow", "inf", "huge"],
         r.f32((16,)), r.f32((16,), emin=5, emax=12), 1e30)
    case("ties", "theta - lr*g lands halfway between floats; round to nearest even",
         ["tie"], a32([1.0, 1.0 + 2.0**-23, 1.0, -1.0, 3.0]),
         a32([2.0**-25, -(2.0**-24), -(2.0**-23), 2.0**-24, 2.0**-23]), 1.0)
    case("signed-zero", "-0 - 0 = -0; +0 - 0 = +0; -0 - (-0) = +0", ["signed zero"],
         a32([-0.0, 0.0, -0.0, 0.0]), a32([0.0, 0.0, -0.0, -0.0]), 1.0)
    case("subnormal", "theta and g subnormal", ["subnormal"],
         r.f32((12,), -126, -126) * F32(2.0**-12), r.f32((12,), -126, -120), 0.5)
    case("specials", "theta and g sprinkled with +-0, subnormals, FLT_MAX, +-inf and NaNs",
         ["inf", "nan", "subnormal", "signed zero", "huge"], sprinkle(g, r.f32((64,))), sprinkle(g, r.f32((64,))), 0.25)


@generator("reptile_interpolate_f32")
def gen_reptile_interpolate_f32(g):
    r = g.rng
    case = _update_cases(g, nb.reptile_interpolate_f32, "phi", "eps")
    case("eps-zero", "eps = 0: theta unchanged unless phi - theta is inf or NaN",
         ["identity", "nan", "inf"], a32([1, 2, 3, INF, 5, NAN]), a32([4, -5, 3, INF, -INF, 7]), 0.0)
    case("eps-one", "eps = 1: theta + (phi - theta) is phi only up to rounding",
         ["cancellation"], r.f32((32,), -20, 20), r.f32((32,), -20, 20), 1.0)
    case("eps-tiny", "a subnormal eps", ["subnormal"], r.f32((16,)), r.f32((16,)), 1e-41)
    case("far-apart", "phi - theta overflows to inf: theta becomes inf or NaN",
         ["overflow", "inf", "nan", "huge"], a32([3e38, -3e38, 3e38, MAX]), a32([-3e38, 3e38, 3e38, -MAX]), 0.5)
    case("ties", "theta + eps*d lands halfway between floats; round to nearest even", ["tie"],
         a32([1.0, 1.0 + 2.0**-23, 1.0]), a32([1.0 + 2.0**-23, 1.0 + 2.0**-22, 1.0 - 2.0**-23]), 0.5)
    case("signed-zero", "-0 + eps*(phi - -0): zero differences keep or lose the sign",
         ["signed zero"], a32([-0.0, -0.0, 0.0, -0.0]), a32([-0.0, 0.0, -0.0, 1.0]), 0.5)
    case("subnormal", "theta and phi subnormal", ["subnormal"],
         r.f32((12,), -126, -126) * F32(2.0**-12), r.f32((12,), -126, -126) * F32(2.0**-5), 0.3)
    case("specials", "theta and phi sprinkled with +-0, subnormals, FLT_MAX, +-inf and NaNs",
         ["inf", "nan", "subnormal", "signed zero", "huge"], sprinkle(g, r.f32((64,))), sprinkle(g, r.f32((64,))), 0.1)


# ------------------------------------------------- quantization and int8 kernels

I32MIN, I32MAX = -(2**31), 2**31 - 1


def i32(values, shape=None):
    a = np.array(values, np.int32)
    return a if shape is None else a.reshape(shape)


def s8(values, shape=None):
    a = np.array(values, np.int8)
    return a if shape is None else a.reshape(shape)


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


def _layer_quant(r, C, per_channel, x_scale=0.02, y_scale=0.05):
    """(multiplier, shift) of a layer from TFLite's rule, per tensor or per output channel."""
    w_scale = (np.float32(0.004) * (np.float32(1) + r.f32((C,), -4, -2, signed=False))
               if per_channel else np.float32(0.006))
    return output_multiplier(x_scale, w_scale, y_scale)


@generator("dense_forward_s8")
def gen_dense_forward_s8(g):
    r = g.rng

    def case(slug, comment, flags, x, w, bias, mult, x_zp=0, w_zp=0, y_zp=0, act=(-128, 127)):
        x, w, bias = s8(x), s8(w), i32(bias)
        multiplier, shift = i32(mult[0]), i32(mult[1])
        B, I = x.shape
        O = w.shape[0]
        y, status = status_of(nb.dense_forward_s8, x, w, bias, multiplier, shift, x_zp, w_zp,
                              y_zp, act[0], act[1])
        g.case(slug, comment, flags + (["status"] if y is None else []),
               dict(B=B, I=I, O=O, n_mult=int(multiplier.shape[0]), x_zero_point=x_zp,
                    w_zero_point=w_zp, y_zero_point=y_zp, act_min=act[0], act_max=act[1]),
               dict(x=x, w=w, bias=bias, multiplier=multiplier, shift=shift),
               {} if y is None else dict(y=y), status)

    def rnd(B, I, O):
        return (r.ints((B, I), -128, 127, np.int8), r.ints((O, I), -127, 127, np.int8),
                r.ints((O,), -5000, 5000))

    case("one-element", "B = I = O = 1", ["one element"], *rnd(1, 1, 1), _layer_quant(r, 1, False))
    for O in (1, 3, 4, 5, 8, 9):
        case(f"per-channel-{O}", f"per-channel multipliers, O = {O}", ["basic", "unrolled path"],
             *rnd(2, 7, O), _layer_quant(r, O, True), x_zp=-5, y_zp=3)
    case("per-tensor", "one multiplier, weight zero point 3", ["basic"], *rnd(3, 9, 6),
         _layer_quant(r, 1, False), x_zp=10, w_zp=3, y_zp=-7)
    case("model-1x64x64", "a layer of the paper's model size", ["model size"], *rnd(1, 64, 64),
         _layer_quant(r, 64, True), x_zp=-128, y_zp=-128)
    case("empty-batch", "B = 0", ["empty"], *rnd(0, 4, 3), _layer_quant(r, 3, True))
    case("no-inputs", "I = 0: acc = bias", ["empty"], *rnd(2, 0, 3), _layer_quant(r, 3, True), y_zp=1)
    case("no-outputs", "O = 0", ["empty"], *rnd(2, 4, 0), _layer_quant(r, 1, False))
    y_scale = 0.05
    for act in ("relu", "relu6"):
        case(f"activation-{act}", f"{act}: the output clamps at TFLite's activation range",
             ["saturates"], *rnd(4, 8, 5), _layer_quant(r, 5, True, y_scale=y_scale), x_zp=2, y_zp=-20,
             act=activation_range(act, y_scale, -20))
    case("saturates", "a large multiplier: most outputs clamp to -128 / 127", ["saturates"],
         *rnd(2, 16, 4), ([quantize_multiplier(0.5)[0]], [quantize_multiplier(0.5)[1]]))
    case("zero-points-extreme", "x_zp = 127, w_zp = -128, y_zp = 127", ["saturates"],
         *rnd(2, 5, 3), _layer_quant(r, 1, False), x_zp=127, w_zp=-128, y_zp=127)
    # The overflow precondition at its boundary: depth 131071 with |x - x_zp| = |w| = 128 and
    # bias 16383 makes the accumulator exactly INT32_MAX; bias 16384 must be refused.
    I = (2**31 - 1) // (128 * 128)
    xm, wm = np.full((1, I), -128, np.int8), np.full((1, I), -128, np.int8)
    m = quantize_multiplier(2.0**-24)
    case("max-depth", f"I = {I}, every product 128*128, bias {I32MAX - I * 16384}: the "
         "accumulator reaches INT32_MAX exactly", ["max depth", "max size"], xm, wm,
         [I32MAX - I * 16384], ([m[0]], [m[1]]))
    case("max-depth-overflow", "the same with bias one larger: the precondition fails, "
         "TR_ERR_OVERFLOW", ["max depth", "overflow"], xm, wm, [I32MAX - I * 16384 + 1], ([m[0]], [m[1]]))
    case("shifted-overflow", "a left shift of 2 lowers the bound fourfold: TR_ERR_OVERFLOW",
         ["overflow"], np.full((1, 40000), 1, np.int8), np.full((1, 40000), 1, np.int8), [0], ([2**30], [2]))
    case("asymmetric-per-channel", "a weight zero point with per-channel multipliers: TR_ERR_PARAM",
         [], *rnd(1, 3, 2), _layer_quant(r, 2, True), w_zp=1)
    case("activation-inverted", "act_min > act_max: TR_ERR_PARAM", [], *rnd(1, 3, 2),
         _layer_quant(r, 1, False), act=(10, -10))
    case("shift-out-of-range", "shift 31: TR_ERR_PARAM", [], *rnd(1, 3, 2), ([2**30], [31]))


@generator("conv1d_forward_s8")
def gen_conv1d_forward_s8(g):
    r = g.rng
    pad = {"valid": 0, "same": 1}

    def case(slug, comment, flags, x, w, bias, mult, stride=1, dilation=1, padding="valid",
             x_zp=0, y_zp=0, act=(-128, 127)):
        x, w, bias = s8(x), s8(w), i32(bias)
        multiplier, shift = i32(mult[0]), i32(mult[1])
        B, L, C_in = x.shape
        C_out, K, _ = w.shape
        y, status = status_of(nb.conv1d_forward_s8, x, w, bias, multiplier, shift, stride,
                              dilation, padding, x_zp, y_zp, act[0], act[1])
        g.case(slug, comment, flags + (["status"] if y is None else []),
               dict(B=B, L=L, C_in=C_in, C_out=C_out, K=K, n_mult=int(multiplier.shape[0]),
                    stride=stride, dilation=dilation, padding=pad[padding], x_zero_point=x_zp,
                    y_zero_point=y_zp, act_min=act[0], act_max=act[1]),
               dict(x=x, w=w, bias=bias, multiplier=multiplier, shift=shift),
               {} if y is None else dict(y=y), status)

    for B, L, ci, co, K, s, d, p, slug, flags in _conv_geometries():
        per_channel = co % 2 == 1
        case(slug, f"B={B} L={L} C_in={ci} C_out={co} K={K} stride={s} dilation={d} padding {p}, "
             + ("per-channel" if per_channel else "per-tensor"), flags,
             r.ints((B, L, ci), -128, 127, np.int8), r.ints((co, K, ci), -127, 127, np.int8),
             r.ints((co,), -3000, 3000), _layer_quant(r, co if per_channel else 1, per_channel),
             s, d, p, x_zp=-3, y_zp=5)
    case("same-zero-point-padding", "padding taps are skipped: the same as padding with the "
         "input zero point 100", ["basic"], r.ints((1, 5, 2), -128, 127, np.int8),
         r.ints((3, 5, 2), -127, 127, np.int8), r.ints((3,), -100, 100), _layer_quant(r, 3, True),
         padding="same", x_zp=100, y_zp=0)
    case("activation-relu", "relu range clamps", ["saturates"], r.ints((2, 9, 3), -128, 127, np.int8),
         r.ints((4, 3, 3), -127, 127, np.int8), r.ints((4,), -100, 100), _layer_quant(r, 4, True),
         padding="same", y_zp=-10, act=activation_range("relu", 0.05, -10))
    # The overflow bound at its edge: K*C_in = 65793 taps of (127 - (-128)) * -128 = -32640 and
    # bias -127 give -INT32_MAX; bias -128 must be refused.
    depth = (2**31 - 1) // (255 * 128)
    xm = np.full((1, 1, depth), 127, np.int8)
    wm = np.full((1, 1, depth), -128, np.int8)
    m = quantize_multiplier(2.0**-24)
    case("max-depth", f"K*C_in = {depth}, |x - x_zp| = 255, |w| = 128: the accumulator "
         "reaches -INT32_MAX exactly", ["max depth", "max size"], xm, wm,
         [-(I32MAX - depth * 255 * 128)], ([m[0]], [m[1]]), x_zp=-128)
    case("max-depth-overflow", "the same with |bias| one larger: TR_ERR_OVERFLOW",
         ["max depth", "overflow"], xm, wm, [-(I32MAX - depth * 255 * 128) - 1], ([m[0]], [m[1]]), x_zp=-128)
    case("stride-zero", "stride 0: TR_ERR_PARAM", [], r.ints((1, 4, 1), -128, 127, np.int8),
         r.ints((1, 2, 1), -127, 127, np.int8), [0], ([2**30], [-3]), stride=0)


# ------------------------------------------------------- multi-step sequences, float32

def _mlp_views(theta, I, H, O):
    """w1 [H, I], b1 [H], w2 [O, H], b2 [O]: views into the flat parameter buffer, in that
    order (the layout the runner's handler uses)."""
    sizes = (H * I, H, O * H, O)
    ends = np.cumsum(sizes)
    w1, b1, w2, b2 = (theta[e - s:e] for s, e in zip(sizes, ends))
    return w1.reshape(H, I), b1, w2.reshape(O, H), b2


def _mlp_inner_step(phi, x, target, I, H, O, activation, loss, lr):
    """One SGD step of a two-layer perceptron on (x, target), in place on phi; returns the loss.
    dense -> activation -> dense -> loss; backward in reverse; phi -= lr * grad (one flat SGD)."""
    w1, b1, w2, b2 = _mlp_views(phi, I, H, O)
    hpre = nb.dense_forward_f32(x, w1, b1)                       # [B, H]
    h = nb.tanh_forward_f32(hpre) if activation == "tanh" else nb.relu_forward_f32(hpre)
    y = nb.dense_forward_f32(h, w2, b2)                          # [B, O]
    if loss == "mse":
        value, dy = nb.mse_loss_f32(y, target)
    else:
        value, dy = nb.softmax_xent_loss_f32(y, target)
    dh, dw2, db2 = nb.dense_backward_f32(dy, h, w2)
    dhpre = nb.tanh_backward_f32(dh, h) if activation == "tanh" else nb.relu_backward_f32(dh, hpre)
    _, dw1, db1 = nb.dense_backward_f32(dhpre, x, w1)            # dx of the first layer: unused
    grad = np.concatenate([dw1.ravel(), db1, dw2.ravel(), db2])
    nb.sgd_step_f32(phi, grad, lr)
    return np.float32(value)


@generator("reptile_mlp_f32")
def gen_reptile_mlp_f32(g):
    """TinyReptile on one device, end to end: for each round, phi = theta, `steps` SGD steps of
    a two-layer perceptron on that round's task, then theta = theta + eps*(phi - theta).
    Expected: the loss and phi after every inner step and theta after every round, so that
    drift is caught at the step where it starts."""
    r = g.rng

    def case(slug, comment, flags, B, I, H, O, steps, rounds, lr, eps, activation, loss):
        P = H * I + H + O * H + O
        theta0 = r.f32((P,), -5, -1)
        x = r.f32((rounds, steps, B, I), -2, 1)
        if loss == "mse":
            # A task per round: t = a*x + c*x*x*x (float32, exact-rounding operations only).
            a = r.f32((rounds, 1, 1, 1), -1, 0)
            c = r.f32((rounds, 1, 1, 1), -5, -3)
            target = a * x + c * (x * x * x)
            target = np.ascontiguousarray(target[..., :O] if O <= I else np.repeat(target[..., :1], O, -1))
        else:
            target = r.ints((rounds, steps, B), 0, O - 1)
        theta = theta0.copy()
        losses, phis, thetas = [], [], []
        for k in range(rounds):
            phi = theta.copy()
            for s in range(steps):
                losses.append(_mlp_inner_step(phi, x[k, s], target[k, s], I, H, O, activation, loss, lr))
                phis.append(phi.copy())
            nb.reptile_interpolate_f32(theta, phi, eps)
            thetas.append(theta.copy())
        g.case(slug, comment, flags + ["multi-step"],
               dict(B=B, I=I, H=H, O=O, steps=steps, rounds=rounds, lr=f32_param(lr),
                    eps=f32_param(eps), activation=activation, loss=loss),
               dict(theta=theta0, x=x, target=target),
               dict(loss=np.array(losses, F32), phi=np.array(phis, F32),
                    theta=np.array(thetas, F32)))

    case("sine-tanh-mse", "regression, 1-16-1 tanh MLP, MSE, 3 rounds of 4 SGD steps",
         ["basic"], 5, 1, 16, 1, 4, 3, 0.02, 0.5, "tanh", "mse")
    case("classify-relu-xent", "classification, 6-12-4 ReLU MLP, softmax cross-entropy, "
         "3 rounds of 3 SGD steps", ["basic"], 8, 6, 12, 4, 3, 3, 0.1, 0.3, "relu", "softmax_xent")
    case("long-run", "drift: 1-32-1 tanh MLP, MSE, 8 rounds of 5 SGD steps (40 updates)",
         ["model size"], 4, 1, 32, 1, 5, 8, 0.01, 0.25, "tanh", "mse")
    case("paper-head", "10-class head on 24 features, ReLU, 4 rounds of 4 steps",
         ["model size"], 10, 24, 32, 10, 4, 4, 0.05, 0.5, "relu", "softmax_xent")


# ------------------------------------------------------------ model runtime, float32

def _models():
    """The runtime's vector models: the paper's sine model 1-64-64-1, a small 1-8-8-1 one for
    edge cases, the digits-sized conv1d classifier, and a mixed one (stride, dilation, same
    padding, tanh after conv1d, ReLU after dense)."""
    from ..model import Conv1d, Dense, Flatten, Model, ReLU, Tanh
    return {
        "sine": Model((1,), [Dense(64), Tanh(), Dense(64), Tanh(), Dense(1)], loss="mse"),
        "small": Model((1,), [Dense(8), Tanh(), Dense(8), Tanh(), Dense(1)], loss="mse"),
        "conv": Model((8, 8), [Conv1d(16, 3), ReLU(), Conv1d(16, 3), ReLU(), Flatten(),
                               Dense(5)], loss="softmax_xent"),
        "mixed": Model((9, 3), [Conv1d(4, 3, stride=2, padding="same"), Tanh(),
                                Conv1d(5, 2, dilation=2), Flatten(), Dense(3), ReLU(),
                                Dense(2)], loss="mse"),
    }


def _uniform(r, n, lo, hi):
    """n float64 values in [lo, hi) from SplitMix64 words (53 random bits each)."""
    u = (r.u64(n) >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return lo + (hi - lo) * u


def _init_theta(r, model):
    """model.init's rule (U(-1/sqrt(fan_in), 1/sqrt(fan_in)), float64, rounded once) with
    SplitMix64 uniforms instead of NumPy's."""
    theta = np.empty(model.n_params, F32)
    for L in model.layers:
        if L.has_params:
            b = 1.0 / np.sqrt(float(np.prod(L.w_shape[1:])))
            theta[L.w_off:L.w_off + L.n_params] = _uniform(r, L.n_params, -b, b)
    return theta


def _samples(r, model, n, task=None):
    """n samples: sine (x ~ U(-5, 5), y = A sin(x + p) in float64 with math.sin, rounded once;
    A, p the task's) or otherwise x ~ U(-1, 1) [U(0, 1) for images] with float32 targets or
    int32 labels."""
    import math
    if model.input_shape == (1,) and task is not None:
        a, p = task
        x = _uniform(r, n, -5.0, 5.0).astype(F32).reshape(n, 1)
        y = np.array([[a * math.sin(float(v) + p)] for v in x[:, 0]], F32).reshape(n, 1)
        return x, y
    lo = 0.0 if model.input_shape == (8, 8) else -1.0
    x = _uniform(r, n * int(np.prod(model.input_shape)), lo, 1.0).astype(F32)
    x = x.reshape((n,) + model.input_shape)
    if model.loss == "softmax_xent":
        return x, r.ints((n,), 0, model.output_shape[0] - 1)
    return x, _uniform(r, n * int(np.prod(model.output_shape)), -1.0, 1.0).astype(F32).reshape(
        (n,) + model.output_shape)


def _sine_task(r):
    return float(_uniform(r, 1, 0.1, 5.0)[0]), float(_uniform(r, 1, 0.0, 2 * np.pi)[0])


def _order(r, epochs, k):
    """epochs permutations of range(k): the ranks of fresh SplitMix64 words."""
    return np.array([np.argsort(r.u64(k), kind="stable") for _ in range(epochs)],
                    np.int32).reshape(epochs, k)


def _model_params(model, **kw):
    return dict(n_layers=len(model.layers), n_params=model.n_params, loss=model.loss, **kw)


def _target_blob(model, y):
    return {"target": y} if model.loss == "mse" else {"labels": y}


def _bad_table():
    """(model, rows) with a table the runtime refuses (TR_ERR_MODEL) for one reason only: a
    tanh on the input [8], before any dense layer (it would have no buffer to work in)."""
    from ..model import Dense, Model, Tanh
    model = Model((8,), [Dense(8), Tanh(), Dense(1)], loss="mse")
    rows = model.layer_table()
    tanh = rows[1:2].copy()  # [8] -> [8]
    return model, np.concatenate([tanh, rows])


def _specials(g, model, theta, x):
    """theta and x with about one element in eight replaced by a special value (nan, inf,
    signed zeros, subnormals, huge)."""
    return sprinkle(g, theta, one_in=8), sprinkle(g, x, one_in=4)


@generator("model_forward_f32")
def gen_model_forward_f32(g):
    M = _models()

    def case(slug, comment, flags, model, theta, x, status="TR_OK"):
        y = mt.model_forward_f32(theta, x, model) if status == "TR_OK" else None
        g.case(slug, comment, flags, _model_params(model, B=x.shape[0]),
               dict(layers=model.layer_table(), theta=theta, x=x),
               {} if y is None else dict(y=y), status)

    for name, B in (("sine", 5), ("conv", 2), ("mixed", 3)):
        m = M[name]
        case(f"{name}-batch-{B}", f"the {name} model, a batch of {B}", ["basic", "model size"],
             m, _init_theta(g.rng, m), _samples(g.rng, m, B, _sine_task(g.rng))[0])
    m = M["mixed"]
    theta, x = _specials(g, m, _init_theta(g.rng, m), _samples(g.rng, m, 4)[0])
    case("mixed-specials", "special values in theta and x: they propagate as the kernels say",
         ["nan", "inf", "subnormal", "signed zero", "huge"], m, theta, x)
    case("empty", "a batch of 0: nothing to compute", ["empty"], m, _init_theta(g.rng, m),
         np.zeros((0,) + m.input_shape, F32))
    bm, rows = _bad_table()
    g.case("bad-table", "tanh on the input (no buffer to work in place on): TR_ERR_MODEL",
           ["status"], dict(n_layers=len(rows), n_params=bm.n_params, loss=bm.loss, B=1),
           dict(layers=rows, theta=_init_theta(g.rng, bm), x=np.ones((1, 8), F32)), {},
           "TR_ERR_MODEL")


@generator("model_backward_f32")
def gen_model_backward_f32(g):
    M = _models()

    def case(slug, comment, flags, model, theta, x, y, status="TR_OK"):
        out = {}
        if status == "TR_OK":
            loss, grad = mt.model_backward_f32(theta, x, y, model)
            out = dict(grad=grad, loss=np.array([loss], F32))
        g.case(slug, comment, flags, _model_params(model, B=x.shape[0]),
               dict(layers=model.layer_table(), theta=theta, x=x, **_target_blob(model, y)), out,
               status)

    for name, B in (("sine", 3), ("conv", 2), ("mixed", 3)):
        m = M[name]
        case(f"{name}-batch-{B}", f"the {name} model: gradient of the batch's mean loss",
             ["basic", "model size"], m, _init_theta(g.rng, m),
             *_samples(g.rng, m, B, _sine_task(g.rng)))
    m = M["mixed"]
    x, y = _samples(g.rng, m, 3)
    theta, x = _specials(g, m, _init_theta(g.rng, m), x)
    case("mixed-specials", "special values in theta and x", ["nan", "inf", "subnormal",
         "signed zero", "huge"], m, theta, x, y)
    case("empty", "a batch of 0: zero gradient, loss +0", ["empty"], m, _init_theta(g.rng, m),
         np.zeros((0,) + m.input_shape, F32), np.zeros((0,) + m.output_shape, F32))
    c = M["conv"]
    x, _ = _samples(g.rng, c, 2)
    case("label-out-of-range", "label 5 of 5 classes: TR_ERR_LABEL", ["status"], c,
         _init_theta(g.rng, c), x, np.array([1, 5], np.int32), "TR_ERR_LABEL")


def _signed_zero_case(g, model):
    """theta with the first layer's weights -0, x = -0: w - lr*(0 + dy*x) keeps -0."""
    theta = _init_theta(g.rng, model)
    (w0, _), *_ = model.views(theta)
    w0[...] = -0.0
    return theta, np.array([[-0.0]], F32), np.array([[3.0]], F32)


@generator("model_train_step_f32")
def gen_model_train_step_f32(g):
    M = _models()

    def case(slug, comment, flags, model, theta, x, y, lr, mode, status="TR_OK"):
        out = {}
        if status == "TR_OK":
            after = theta.copy()
            loss = mt.model_train_step_f32(after, x, y, model, lr, mode)
            out = dict(theta=after, loss=np.array([loss], F32))
        g.case(slug, comment, flags,
               _model_params(model, B=x.shape[0], lr=f32_param(lr), mode=mode),
               dict(layers=model.layer_table(), theta=theta, x=x, **_target_blob(model, y)), out,
               status)

    task = _sine_task(g.rng)
    sine = M["sine"]
    case("sine-fused", "one fused batch-1 step of the sine model (no gradient buffer)",
         ["basic", "model size"], sine, _init_theta(g.rng, sine), *_samples(g.rng, sine, 1, task),
         0.02, "fused")
    for mode, B in (("fused", 1), ("grad", 4), ("accum", 4)):
        for name in ("small", "conv", "mixed"):
            m = M[name]
            case(f"{name}-{mode}-{B}", f"the {name} model, mode {mode}, a batch of {B}",
                 ["basic"], m, _init_theta(g.rng, m), *_samples(g.rng, m, B, task), 0.1, mode)
    m = M["mixed"]
    for mode, B in (("fused", 1), ("grad", 3), ("accum", 3)):
        x, y = _samples(g.rng, m, B)
        theta, x = _specials(g, m, _init_theta(g.rng, m), x)
        case(f"specials-{mode}", f"special values in theta and x, mode {mode}",
             ["nan", "inf", "subnormal", "signed zero", "huge"], m, theta, x, y, 0.1, mode)
    for mode in ("fused", "grad", "accum"):
        case(f"signed-zero-{mode}", "weights -0 and x = -0: the gradient 0 + dy*x is +0, so "
             "the weights stay -0", ["signed zero"], M["small"], *_signed_zero_case(g, M["small"]),
             0.1, mode)
    for mode in ("grad", "accum"):
        case(f"empty-{mode}", "a batch of 0: zero gradient, theta unchanged", ["empty"], m,
             _init_theta(g.rng, m), np.zeros((0,) + m.input_shape, F32),
             np.zeros((0,) + m.output_shape, F32), 0.1, mode)
    sm = M["small"]
    case("fused-batch-2", "the fused step takes one sample: TR_ERR_PARAM", ["status"], sm,
         _init_theta(g.rng, sm), *_samples(g.rng, sm, 2, task), 0.1, "fused", "TR_ERR_PARAM")


@generator("tinyreptile_device_round_f32")
def gen_tinyreptile_device_round_f32(g):
    M = _models()

    def case(slug, comment, flags, model, theta, x, y, lr, mode, status="TR_OK"):
        out = {}
        if status == "TR_OK":
            phi, losses = mt.tinyreptile_device_round_f32(theta, x, y, model, lr, mode)
            out = dict(phi=phi, losses=losses)
        g.case(slug, comment, flags,
               _model_params(model, k=x.shape[0], lr=f32_param(lr), mode=mode),
               dict(layers=model.layer_table(), theta=theta, x=x, **_target_blob(model, y)), out,
               status)

    sine, small, conv, m = M["sine"], M["small"], M["conv"], M["mixed"]
    case("sine-k10", "TinyReptile's device on the sine model: 10 streamed samples, fused steps "
         "(lr 0.02, the sine defaults)", ["basic", "model size"], sine, _init_theta(g.rng, sine),
         *_samples(g.rng, sine, 10, _sine_task(g.rng)), 0.02, "fused")
    for mode in ("fused", "grad", "accum"):
        case(f"small-{mode}", f"1-8-8-1, 6 samples, mode {mode} (the same bits in every mode)",
             ["basic"], small, _init_theta(g.rng, small),
             *_samples(g.rng, small, 6, _sine_task(g.rng)), 0.05, mode)
    case("conv-k5", "the conv1d classifier, 5 streamed samples", ["basic", "model size"], conv,
         _init_theta(g.rng, conv), *_samples(g.rng, conv, 5), 0.05, "fused")
    x, y = _samples(g.rng, m, 3)
    theta, x = _specials(g, m, _init_theta(g.rng, m), x)
    case("mixed-specials", "special values in theta and x", ["nan", "inf", "subnormal",
         "signed zero", "huge"], m, theta, x, y, 0.1, "fused")
    case("signed-zero", "weights -0, x = -0", ["signed zero"], small,
         *_signed_zero_case(g, small), 0.1, "fused")
    case("empty", "k = 0: phi = theta", ["empty"], m, _init_theta(g.rng, m),
         np.zeros((0,) + m.input_shape, F32), np.zeros((0,) + m.output_shape, F32), 0.1, "fused")
    x, _ = _samples(g.rng, conv, 3)
    case("label-out-of-range", "a label of -1: TR_ERR_LABEL before phi is written", ["status"],
         conv, _init_theta(g.rng, conv), x, np.array([0, -1, 2], np.int32), 0.05, "fused",
         "TR_ERR_LABEL")


@generator("reptile_device_round_f32")
def gen_reptile_device_round_f32(g):
    M = _models()

    def case(slug, comment, flags, model, theta, x, y, order, epochs, batch, lr,
             status="TR_OK"):
        out = {}
        if status == "TR_OK":
            phi, losses = mt.reptile_device_round_f32(theta, x, y, order, model, epochs, batch,
                                                      lr)
            out = dict(phi=phi, losses=losses)
        g.case(slug, comment, flags,
               _model_params(model, k=x.shape[0], epochs=epochs, batch=batch, lr=f32_param(lr)),
               dict(layers=model.layer_table(), theta=theta, x=x, **_target_blob(model, y),
                    order=order), out, status)

    sine, small, conv, m = M["sine"], M["small"], M["conv"], M["mixed"]
    case("sine-k50-b10", "Reptile's device on the sine model: 50 stored samples, one epoch "
         "of mini-batches of 10 (the sine defaults)", ["basic", "model size"], sine,
         _init_theta(g.rng, sine), *_samples(g.rng, sine, 50, _sine_task(g.rng)),
         _order(g.rng, 1, 50), 1, 10, 0.02)
    case("small-k7-e2-b3", "7 samples, 2 epochs, mini-batches of 3, 3, 1", ["basic"], small,
         _init_theta(g.rng, small), *_samples(g.rng, small, 7, _sine_task(g.rng)),
         _order(g.rng, 2, 7), 2, 3, 0.05)
    case("conv-k6-e2-b4", "the conv1d classifier, 6 samples, 2 epochs of batches of 4, 2",
         ["basic", "model size"], conv, _init_theta(g.rng, conv), *_samples(g.rng, conv, 6),
         _order(g.rng, 2, 6), 2, 4, 0.05)
    x, y = _samples(g.rng, m, 4)
    theta, x = _specials(g, m, _init_theta(g.rng, m), x)
    case("mixed-specials", "special values in theta and x", ["nan", "inf", "subnormal",
         "signed zero", "huge"], m, theta, x, y, _order(g.rng, 1, 4), 1, 3, 0.1)
    case("empty", "k = 0 stored samples: phi = theta", ["empty"], m, _init_theta(g.rng, m),
         np.zeros((0,) + m.input_shape, F32), np.zeros((0,) + m.output_shape, F32),
         np.zeros((1, 0), np.int32), 1, 2, 0.1)
    x, y = _samples(g.rng, small, 3)
    case("order-out-of-range", "an order entry of 3 for k = 3: TR_ERR_PARAM", ["status"], small,
         _init_theta(g.rng, small), x, y, np.array([[0, 3, 1]], np.int32), 1, 2, 0.1,
         "TR_ERR_PARAM")


def _rounds(g, model, rounds, k, lr, eps0, algo, epochs=1, batch=1):
    """A federated run of `rounds` rounds, server and device: each round phi = the device's
    round from theta (TinyReptile: k streamed fused steps; Reptile: epochs of mini-batches
    over k stored samples), then theta = theta + eps_r*(phi - theta), with eps_r annealed
    linearly from eps0 towards 0 (federated.Config's rule) and rounded once to float32.
    Sine devices draw a task (amplitude, phase) each round. Returns inputs and expected."""
    theta0 = _init_theta(g.rng, model)
    xs, ys, orders = [], [], []
    for _ in range(rounds):
        x, y = _samples(g.rng, model, k, _sine_task(g.rng))
        xs.append(x)
        ys.append(y)
        if algo == "reptile":
            orders.append(_order(g.rng, epochs, k))
    eps = np.array([eps0 + (0.0 - eps0) * (r / rounds) for r in range(rounds)], F32)
    theta = theta0.copy()
    losses = []
    for r in range(rounds):
        if algo == "reptile":
            phi, lo = mt.reptile_device_round_f32(theta, xs[r], ys[r], orders[r], model, epochs,
                                                  batch, lr)
        else:
            phi, lo = mt.tinyreptile_device_round_f32(theta, xs[r], ys[r], model, lr, "fused")
        losses.append(lo)
        nb.reptile_interpolate_f32(theta, phi, eps[r])
    inputs = dict(layers=model.layer_table(), theta=theta0, x=np.stack(xs),
                  **_target_blob(model, np.stack(ys)), eps=eps)
    if orders:
        inputs["order"] = np.stack(orders)
    return inputs, dict(losses=np.stack(losses), theta=theta)


@generator("tinyreptile_rounds_f32")
def gen_tinyreptile_rounds_f32(g):
    """Whole TinyReptile runs, server and device: R rounds of tr_tinyreptile_device_round_f32
    (fused) and tr_reptile_interpolate_f32. Expected: every step's loss and the final theta.
    The sine case is the run the firmware image (mcu/tinyreptile_fw.c) replays."""
    M = _models()
    for slug, comment, name, rounds, k, lr, eps0 in (
            ("sine-r100-k10", "sine, 100 rounds of 10 streamed samples, lr 0.02, eps 0.1 -> 0",
             "sine", 100, 10, 0.02, 0.1),
            ("conv-r6-k10", "conv1d classifier, 6 rounds of 10 samples, lr 0.05, eps 1 -> 0",
             "conv", 6, 10, 0.05, 1.0)):
        model = M[name]
        inputs, expected = _rounds(g, model, rounds, k, F32(lr), eps0, "tinyreptile")
        g.case(slug, comment, ["multi-step", "model size"],
               _model_params(model, rounds=rounds, k=k, lr=f32_param(lr)), inputs, expected)


@generator("reptile_rounds_f32")
def gen_reptile_rounds_f32(g):
    """Whole batched-Reptile runs, server and device: R rounds of tr_reptile_device_round_f32
    and tr_reptile_interpolate_f32. Expected: every mini-batch's loss and the final theta."""
    M = _models()
    for slug, comment, name, rounds, k, epochs, batch, lr, eps0 in (
            ("sine-r20-k50-b10", "sine, 20 rounds of 50 stored samples, batches of 10, "
             "lr 0.02, eps 0.1 -> 0", "sine", 20, 50, 1, 10, 0.02, 0.1),
            ("conv-r3-k10-e2-b5", "conv1d classifier, 3 rounds of 10 samples, 2 epochs of "
             "batches of 5, lr 0.05, eps 1 -> 0", "conv", 3, 10, 2, 5, 0.05, 1.0)):
        model = M[name]
        inputs, expected = _rounds(g, model, rounds, k, F32(lr), eps0, "reptile", epochs, batch)
        g.case(slug, comment, ["multi-step", "model size"],
               _model_params(model, rounds=rounds, k=k, epochs=epochs, batch=batch,
                             lr=f32_param(lr)), inputs, expected)


def generate_cases(seed):
    """Every case of every registered kernel, in registration order."""
    out = []
    for kernel, fn in GENERATORS.items():
        g = Gen(kernel, seed)
        with np.errstate(all="ignore"):  # overflow, inf - inf and 0*inf are cases on purpose
            fn(g)
        if not g.cases:
            raise RuntimeError(f"generator for {kernel} produced no case")
        out.extend(g.cases)
    return out
