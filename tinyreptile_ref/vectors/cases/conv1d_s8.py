"""Golden-vector cases for csrc/conv1d_s8.c: conv1d_forward_s8."""
import numpy as np

from ...backend import numpy_backend as nb
from ...kernels.quant import activation_range, quantize_multiplier
from .common import I32MAX, generator, i32, s8, status_of
from .conv1d import _conv_geometries
from .dense_s8 import _layer_quant


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
