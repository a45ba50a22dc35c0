"""Golden-vector cases for csrc/optim.c: sgd_step_f32, reptile_interpolate_f32."""
from ...backend import numpy_backend as nb
from ..format import f32_param
from .common import F32, INF, MAX, NAN, TINY, a32, generator, sprinkle


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
