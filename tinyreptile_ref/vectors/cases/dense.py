"""Golden-vector cases for csrc/dense.c: dense_forward_f32, dense_backward_f32."""
from ...backend import numpy_backend as nb
from .common import F32, NAN, a32, bitsf, generator, sprinkle


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
