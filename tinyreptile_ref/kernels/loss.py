"""NumPy twin of csrc/loss.c: losses with their gradients, float32.

The sums run in Python loops over the reduction axis in the order tinyreptile.h states
(vectorised only across independent rows), each operation rounded once to float32; exp and
log are the library's own (tinyreptile_ref.mathf), as in the C kernels.
"""
import numpy as np

from . import _checks as ck
from ..errors import ParameterError, ShapeError
from .mathf import _expf, _logf

F32 = np.float32
ZERO = F32(0.0)
ONE = F32(1.0)
TWO = F32(2.0)


def check_mse(pred, target):
    """Check the arguments of mse_loss_f32; returns the element count."""
    ck.f32("pred", pred)
    ck.f32("target", target)
    ck.same_shape("pred", pred, "target", target)
    ck.sizes(("pred", pred.shape))
    return pred.size


def check_softmax_xent(logits, labels):
    """Check the arguments of softmax_xent_loss_f32; returns (B, C)."""
    ck.f32("logits", logits, 2)
    ck.array("labels", labels, ck.I32, 1)
    B, C = logits.shape
    if labels.shape[0] != B:
        raise ShapeError(f"labels: length {labels.shape[0]}, expected {B} = logits.shape[0]")
    ck.sizes(("logits", logits.shape))
    if B:
        bad = np.flatnonzero((labels < 0) | (labels >= C))
        if bad.size:
            j = int(bad[0])
            raise ParameterError(f"labels: labels[{j}] = {int(labels[j])} is outside [0, {C})")
    return B, C


def mse_terms(acc, pred, target, scale):
    """(acc, dpred): the mse accumulator's terms for flat pred, target [n] added to the float32
    acc in index order, and dpred = d*scale with d = pred - target (tr__mse_terms in
    csrc/loss.c, which the model runtime feeds one sample at a time with the batch's scale).

      d[j] = pred[j] - target[j];  acc = acc + d[j]*d[j]  (j ascending);  dpred[j] = d[j]*scale
    """
    d = pred - target
    sq = d * d
    for j in range(d.shape[0]):
        acc = acc + sq[j]
    return acc, d * scale


def mse_loss_f32(pred, target):
    """(loss, dpred): mean squared error of pred against target (any shape, equal shapes).

    With d = pred - target (flattened, j ascending):
      loss = (0 + d[0]*d[0] + d[1]*d[1] + ...) / float32(n)    (np.float32; +0 when n == 0)
      dpred = d * (2 / float32(n))                            (the factor rounded once)
    """
    n = check_mse(pred, target)
    with np.errstate(all="ignore"):
        if n == 0:
            return ZERO, np.empty(pred.shape, F32)
        fn = F32(n)
        scale = TWO / fn
        # 1-D views, so a 0-d pred still gives an array
        acc, dpred = mse_terms(ZERO, pred.reshape(n), target.reshape(n), scale)
        return acc / fn, dpred.reshape(pred.shape)


def softmax_xent_loss_f32(logits, labels):
    """(loss, dlogits): softmax cross-entropy of logits[B, C] against int32 labels[B] in [0, C),
    mean over the batch; loss is an np.float32, dlogits has logits' shape.

    Per row b: m = running maximum over c ascending (replaced only when z[b, c] > m),
    s = 0 + exp(z[b, 0] - m) + exp(z[b, 1] - m) + ... (c ascending),
    loss_b = log(s) - (z[b, label] - m); loss = (0 + loss_0 + loss_1 + ... (b ascending)) / B;
    dlogits[b, c] = (exp(z[b, c] - m) / s - [c == label]) / B.
    Huge finite logits stay finite (z - m <= 0, s >= 1); a -inf logit has probability 0; a +inf
    logit, a row of only -inf or a NaN makes that row NaN. B == 0 gives loss +0.
    """
    B, C = check_softmax_xent(logits, labels)
    if B == 0:
        return ZERO, np.empty((0, C), F32)
    with np.errstate(all="ignore"):
        m = logits[:, 0].copy()
        for c in range(1, C):
            zc = logits[:, c]
            m = np.where(zc > m, zc, m)
        shifted = logits - m[:, None]
        e = _expf(shifted.reshape(B * C)).reshape(B, C)
        s = np.zeros(B, F32)
        for c in range(C):
            s = s + e[:, c]
        rows = np.arange(B)
        z_label = logits[rows, labels]
        loss_b = _logf(s) - (z_label - m)
        acc = ZERO
        for b in range(B):
            acc = acc + loss_b[b]
        fB = F32(B)
        p = e / s[:, None]
        p[rows, labels] = p[rows, labels] - ONE
        return acc / fB, p / fB
