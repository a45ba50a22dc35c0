"""The C backend: the kernels of csrc/ through cffi, with the NumPy twins' exact signatures.

Each wrapper runs the twin's own argument checks, allocates the outputs, passes every array
with ffi.from_buffer (no copies) and turns a non-zero status into an exception whose message
comes from tr_status_str().
"""
import numpy as np

from . import _checks as ck
from .activation import check_activation
from .dense import check_dense
from .errors import AccumulatorOverflowError, KernelError
from .loss import check_mse, check_softmax_xent
from .mathf import check_mathf
from .optim import check_update

try:
    from ._tinyreptile_c import ffi, lib
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        "tinyreptile_ref's C extension is not built; run `make build` (or `pip install .`)"
    ) from exc

F32 = np.float32


def _buf(a, _from_buffer=ffi.from_buffer):
    """A float* to the array's own memory (no copy); the checks ran before."""
    return _from_buffer("float[]", a)


def _buf_i32(a, _from_buffer=ffi.from_buffer):
    """An int32_t* to the array's own memory (no copy); the checks ran before."""
    return _from_buffer("int32_t[]", a)


def status_str(status):
    """The C library's own description of a status code."""
    return ffi.string(lib.tr_status_str(status)).decode()


def _check(kernel, status):
    if status != 0:
        if status == lib.TR_ERR_OVERFLOW:
            raise AccumulatorOverflowError(f"{kernel}: {status_str(status)}")
        raise KernelError(kernel, status, status_str(status))


def dense_forward_f32(x, w, bias):
    B, I, O = check_dense(x, w, bias)
    y = np.empty((B, O), F32)
    _check("tr_dense_forward_f32",
           lib.tr_dense_forward_f32(_buf(y), _buf(x), _buf(w), _buf(bias), B, I, O))
    return y


def dense_backward_f32(dy, x, w):
    B, I, O = check_dense(x, w, None, dy)
    dx = np.empty((B, I), F32)
    dw = np.empty((O, I), F32)
    db = np.empty(O, F32)
    _check("tr_dense_backward_f32",
           lib.tr_dense_backward_f32(_buf(dx), _buf(dw), _buf(db), _buf(dy), _buf(x), _buf(w),
                                     B, I, O))
    return dx, dw, db


def sgd_step_f32(theta, g, lr):
    check_update(theta, g, "g")
    lr = ck.float_param("lr", lr)
    _check("tr_sgd_step_f32", lib.tr_sgd_step_f32(_buf(theta), _buf(g), lr, theta.shape[0]))


def reptile_interpolate_f32(theta, phi, eps):
    check_update(theta, phi, "phi")
    eps = ck.float_param("eps", eps)
    _check("tr_reptile_interpolate_f32",
           lib.tr_reptile_interpolate_f32(_buf(theta), _buf(phi), eps, theta.shape[0]))


def _elementwise(kernel, fn, x):
    n = check_mathf(x)
    y = np.empty(x.shape, F32)
    _check(kernel, fn(_buf(y), _buf(x), n))
    return y


def exp_f32(x):
    return _elementwise("tr_exp_f32", lib.tr_exp_f32, x)


def log_f32(x):
    return _elementwise("tr_log_f32", lib.tr_log_f32, x)


def tanh_f32(x):
    return _elementwise("tr_tanh_f32", lib.tr_tanh_f32, x)


def relu_forward_f32(x):
    n = check_activation("x", x)
    y = np.empty(x.shape, F32)
    _check("tr_relu_forward_f32", lib.tr_relu_forward_f32(_buf(y), _buf(x), n))
    return y


def relu_backward_f32(dy, x):
    n = check_activation("dy", dy, "x", x)
    dx = np.empty(dy.shape, F32)
    _check("tr_relu_backward_f32", lib.tr_relu_backward_f32(_buf(dx), _buf(dy), _buf(x), n))
    return dx


def tanh_forward_f32(x):
    n = check_activation("x", x)
    y = np.empty(x.shape, F32)
    _check("tr_tanh_forward_f32", lib.tr_tanh_forward_f32(_buf(y), _buf(x), n))
    return y


def tanh_backward_f32(dy, y):
    n = check_activation("dy", dy, "y", y)
    dx = np.empty(dy.shape, F32)
    _check("tr_tanh_backward_f32", lib.tr_tanh_backward_f32(_buf(dx), _buf(dy), _buf(y), n))
    return dx


def mse_loss_f32(pred, target):
    n = check_mse(pred, target)
    loss = np.empty(1, F32)
    dpred = np.empty(pred.shape, F32)
    _check("tr_mse_loss_f32",
           lib.tr_mse_loss_f32(_buf(loss), _buf(dpred), _buf(pred), _buf(target), n))
    return loss[0], dpred


def softmax_xent_loss_f32(logits, labels):
    B, C = check_softmax_xent(logits, labels)
    loss = np.empty(1, F32)
    dlogits = np.empty((B, C), F32)
    _check("tr_softmax_xent_loss_f32",
           lib.tr_softmax_xent_loss_f32(_buf(loss), _buf(dlogits), _buf(logits),
                                        _buf_i32(labels), B, C))
    return loss[0], dlogits
