"""Golden-vector cases for csrc/activation.c: ReLU and tanh, forward and backward."""
from ...backend import numpy_backend as nb
from .common import INF, MAX, NAN, TINY, a32, generator
from .mathf import _around, _elementwise


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
