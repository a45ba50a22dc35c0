"""Golden-vector cases for csrc/loss.c: mse_loss_f32, softmax_xent_loss_f32."""
import numpy as np

from ...backend import numpy_backend as nb
from ...errors import ParameterError
from .common import F32, INF, MAX, NAN, TINY, a32, generator


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
