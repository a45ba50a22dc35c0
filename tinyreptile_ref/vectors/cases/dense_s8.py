"""Golden-vector cases for csrc/dense_s8.c: dense_forward_s8."""
import numpy as np

from ...backend import numpy_backend as nb
from ...kernels.quant import activation_range, output_multiplier, quantize_multiplier
from .common import I32MAX, generator, i32, s8, status_of


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
