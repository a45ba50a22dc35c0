"""Golden-vector cases for csrc/conv1d.c: conv1d_forward_f32, conv1d_backward_f32, conv1d_out_len."""
import numpy as np

from ...backend import numpy_backend as nb
from .common import I32MAX, INF, a32, generator, sprinkle, status_of


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
