"""The cases: one generator function per kernel, each producing its expected outputs with the
NumPy twins (never with C).

A generator is registered with @generator("<kernel>") and receives a Gen: g.rng is the
kernel's own SplitMix64 stream, g.case(...) records one case. Adding a kernel to the vectors
means writing one such function here and one handler in csrc/runner/tv_handlers.c.

Blob names are the C argument names; inputs are listed in call order. An in-place kernel has
an input and an expected blob of the same name (theta). The C runner passes sizes and scalar
parameters from `params` under the C parameter names.
"""
import numpy as np

from .. import numpy_backend as nb
from ..errors import AccumulatorOverflowError, ParameterError, ShapeError
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
