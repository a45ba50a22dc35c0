"""The C backend: the kernels of csrc/ through cffi, with the NumPy twins' exact signatures.

Each wrapper runs the twin's own argument checks, allocates the outputs, passes every array
with ffi.from_buffer (no copies) and turns a non-zero status into an exception whose message
comes from tr_status_str().
"""
import threading
import weakref

import numpy as np

from ..kernels import _checks as ck
from ..kernels import conv1d_s8 as _conv1d_s8
from ..kernels import dense_s8 as _dense_s8
from ..kernels import quant
from ..kernels import rng as _rng
from ..kernels.conv1d import check_conv1d, check_conv1d_out_len
from ..kernels.activation import check_activation
from ..kernels.dense import check_dense
from ..errors import AccumulatorOverflowError, KernelError
from ..kernels.loss import check_mse, check_softmax_xent
from ..kernels.mathf import check_mathf
from ..runtime.model import (LOSSES, MODES, MemoryPlan, check_call_arena, check_mode,
                             check_model, check_model_call, check_order, check_trace_mode)
from ..kernels.optim import check_update

try:
    from ._tinyreptile_c import ffi, lib
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        "tinyreptile_ref's C extension is not built; run `make build` (or `pip install .`)"
    ) from exc

F32 = np.float32
TRAIN_GRAD, TRAIN_ACCUM = MODES.index("grad"), MODES.index("accum")


def _buf(a, _from_buffer=ffi.from_buffer):
    """A float* to the array's own memory (no copy); the checks ran before."""
    return _from_buffer("float[]", a)


def _i8(a, _from_buffer=ffi.from_buffer):
    """An int8_t* to the array's own memory (no copy)."""
    return _from_buffer("int8_t[]", a)


def _i32(a, _from_buffer=ffi.from_buffer):
    """An int32_t* to the array's own memory (no copy)."""
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
    B, I, O = check_dense(x, w, dy=dy)
    dx = np.empty((B, I), F32)
    dw = np.empty((O, I), F32)
    db = np.empty(O, F32)
    _check("tr_dense_backward_f32",
           lib.tr_dense_backward_f32(_buf(dx), _buf(dw), _buf(db), _buf(dy), _buf(x), _buf(w),
                                     B, I, O))
    return dx, dw, db


def conv1d_out_len(L, K, stride=1, dilation=1, padding="valid"):
    L, K, stride, dilation, code, _, _ = check_conv1d_out_len(L, K, stride, dilation, padding)
    out = ffi.new("int32_t[2]")
    _check("tr_conv1d_out_len",
           lib.tr_conv1d_out_len(out, out + 1, L, K, stride, dilation, code))
    return int(out[0]), int(out[1])


def conv1d_forward_f32(x, w, bias, stride=1, dilation=1, padding="valid"):
    B, L, C_in, C_out, K, stride, dilation, code, L_out, _ = check_conv1d(
        x, w, bias, ck.ABSENT, stride, dilation, padding)
    y = np.empty((B, L_out, C_out), F32)
    _check("tr_conv1d_forward_f32",
           lib.tr_conv1d_forward_f32(_buf(y), _buf(x), _buf(w), _buf(bias),
                                     B, L, C_in, C_out, K, stride, dilation, code))
    return y


def conv1d_backward_f32(dy, x, w, stride=1, dilation=1, padding="valid"):
    B, L, C_in, C_out, K, stride, dilation, code, _, _ = check_conv1d(
        x, w, ck.ABSENT, dy, stride, dilation, padding)
    dx = np.empty((B, L, C_in), F32)
    dw = np.empty((C_out, K, C_in), F32)
    db = np.empty(C_out, F32)
    _check("tr_conv1d_backward_f32",
           lib.tr_conv1d_backward_f32(_buf(dx), _buf(dw), _buf(db), _buf(dy), _buf(x), _buf(w),
                                      B, L, C_in, C_out, K, stride, dilation, code))
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


# ------------------------------------------------------ quantization and int8 kernels

def multiply_by_quantized_multiplier_s32(x, multiplier, shift):
    n, C = quant.check_mbqm(x, multiplier, shift)
    y = np.empty(x.shape, np.int32)
    _check("tr_multiply_by_quantized_multiplier_s32",
           lib.tr_multiply_by_quantized_multiplier_s32(_i32(y), _i32(x), _i32(multiplier),
                                                       _i32(shift), n, C))
    return y


def quantize_s8(x, scale, zero_point):
    scale, zero_point = quant.check_quantize(x, scale, zero_point)
    q = np.empty(x.shape, np.int8)
    _check("tr_quantize_s8", lib.tr_quantize_s8(_i8(q), _buf(x), x.size, scale, zero_point))
    return q


def dequantize_s8(q, scale, zero_point):
    scale, zero_point = quant.check_dequantize(q, scale, zero_point)
    x = np.empty(q.shape, F32)
    _check("tr_dequantize_s8", lib.tr_dequantize_s8(_buf(x), _i8(q), q.size, scale, zero_point))
    return x


def transport_quantize_s8(x, chunk):
    chunk = quant.check_transport_quantize(x, chunk)
    n = x.shape[0]
    q = np.empty(n, np.int8)
    scale = np.empty(quant.n_chunks(n, chunk), F32)
    _check("tr_transport_quantize_s8",
           lib.tr_transport_quantize_s8(_i8(q), _buf(scale), _buf(x), n, chunk))
    return q, scale


def transport_dequantize_s8(q, scale, chunk):
    chunk = quant.check_transport_dequantize(q, scale, chunk)
    x = np.empty(q.shape[0], F32)
    _check("tr_transport_dequantize_s8",
           lib.tr_transport_dequantize_s8(_buf(x), _i8(q), _buf(scale), q.shape[0], chunk))
    return x


def sgd_step_s8(theta, g, multiplier, shift):
    multiplier, shift = quant.check_sgd_s8(theta, g, multiplier, shift)
    _check("tr_sgd_step_s8",
           lib.tr_sgd_step_s8(_i8(theta), _i32(g), theta.shape[0], multiplier, shift))


def reptile_interpolate_s8(theta, phi, multiplier, shift):
    multiplier, shift = quant.check_reptile_s8(theta, phi, multiplier, shift)
    _check("tr_reptile_interpolate_s8",
           lib.tr_reptile_interpolate_s8(_i8(theta), _i8(phi), theta.shape[0], multiplier, shift))


def dense_forward_s8(x, w, bias, multiplier, shift, x_zero_point=0, w_zero_point=0,
                     y_zero_point=0, act_min=-128, act_max=127):
    B, I, O, n_mult, x_zp, w_zp, y_zp, lo, hi = _dense_s8.check_dense_s8(
        x, w, bias, multiplier, shift, x_zero_point, w_zero_point, y_zero_point, act_min, act_max)
    y = np.empty((B, O), np.int8)
    _check("tr_dense_forward_s8",
           lib.tr_dense_forward_s8(_i8(y), _i8(x), _i8(w), _i32(bias), _i32(multiplier),
                                   _i32(shift), B, I, O, n_mult, x_zp, w_zp, y_zp, lo, hi))
    return y


def conv1d_forward_s8(x, w, bias, multiplier, shift, stride=1, dilation=1, padding="valid",
                      x_zero_point=0, y_zero_point=0, act_min=-128, act_max=127):
    (B, L, C_in, C_out, K, n_mult, stride, dilation, code, L_out, _, x_zp, y_zp, lo,
     hi) = _conv1d_s8.check_conv1d_s8(x, w, bias, multiplier, shift, stride, dilation,
                                      padding, x_zero_point, y_zero_point, act_min, act_max)
    y = np.empty((B, L_out, C_out), np.int8)
    _check("tr_conv1d_forward_s8",
           lib.tr_conv1d_forward_s8(_i8(y), _i8(x), _i8(w), _i32(bias), _i32(multiplier),
                                    _i32(shift), B, L, C_in, C_out, K, n_mult, stride, dilation,
                                    code, x_zp, y_zp, lo, hi))
    return y


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


def sin_f32(x):
    return _elementwise("tr_sin_f32", lib.tr_sin_f32, x)


# ------------------------------------------------------ counter-based random numbers

def rng_key(seed, stream, device, round):
    args = _rng.check_key(seed, stream, device, round)
    key = ffi.new("uint64_t *")
    _check("tr_rng_key", lib.tr_rng_key(key, *args))
    return int(key[0])


def rng_bits_u64(key, j0, n):
    key, j0, n = _rng.check_draw(key, j0, n)
    out = np.empty(n, np.uint64)
    _check("tr_rng_bits_u64",
           lib.tr_rng_bits_u64(ffi.from_buffer("uint64_t[]", out), key, j0, n))
    return out


def rng_uniform_f32(key, j0, n, lo, hi):
    key, j0, n, lo, hi = _rng.check_uniform(key, j0, n, lo, hi)
    out = np.empty(n, F32)
    _check("tr_rng_uniform_f32", lib.tr_rng_uniform_f32(_buf(out), key, j0, n, lo, hi))
    return out


def rng_below_i32(key, j0, n, bound):
    key, j0, n, bound = _rng.check_below(key, j0, n, bound)
    out = np.empty(n, np.int32)
    _check("tr_rng_below_i32", lib.tr_rng_below_i32(_i32(out), key, j0, n, bound))
    return out


def rng_distinct_i32(key, j0, m, bound):
    key, j0, m, bound = _rng.check_distinct(key, j0, m, bound)
    out = np.empty(m, np.int32)
    used = ffi.new("uint64_t *")
    _check("tr_rng_distinct_i32", lib.tr_rng_distinct_i32(_i32(out), used, key, j0, m, bound))
    return out, int(used[0])


def rng_permutation_i32(key, j0, n):
    key, j0, n = _rng.check_draw(key, j0, n)
    out = np.empty(n, np.int32)
    _check("tr_rng_permutation_i32", lib.tr_rng_permutation_i32(_i32(out), key, j0, n))
    return out


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
                                        _i32(labels), B, C))
    return loss[0], dlogits


# ---------------------------------------------------------------- model runtime, float32

class _CModel:
    """A model's tr_model and tr_layer table in C memory, and its arenas by plan."""

    def __init__(self, model):
        table = model.layer_table()
        self.layers = ffi.new("tr_layer[]", len(table))
        ffi.memmove(self.layers, table.tobytes(), table.nbytes)
        self.m = ffi.new("tr_model *", {"layers": self.layers, "n_layers": len(table),
                                         "n_params": model.n_params,
                                         "loss": LOSSES.index(model.loss)})
        _check("tr_model_check", lib.tr_model_check(self.m))
        self.arenas = {}

    def arena(self, batch, stored, mode):
        """(arena, bytes): a float32 array of tr_model_arena_size(batch, stored, mode) bytes,
        made once per plan and reused."""
        key = (threading.get_ident(), batch, stored, mode)  # one per thread: calls may overlap
        a = self.arenas.get(key)
        if a is None:
            n = ffi.new("int32_t *")
            _check("tr_model_arena_size", lib.tr_model_arena_size(n, self.m, batch, stored, mode))
            buf = np.empty(max(n[0] // 4, 1), F32)
            a = self.arenas[key] = (_buf(buf), n[0], buf)
        return a


_CMODELS = weakref.WeakKeyDictionary()


def _cmodel(model):
    c = _CMODELS.get(model)
    if c is None:
        c = _CMODELS[model] = _CModel(model)
    return c


def _targets(model, target):
    """(float *target, int32_t *labels) for the model's loss."""
    if model.loss == "mse":
        return _buf(target), ffi.NULL
    return ffi.NULL, _i32(target)


def model_forward_f32(theta, x, model):
    B = check_model_call(model, theta, x)
    check_call_arena(model, "x", B, 0, "grad")
    c = _cmodel(model)
    arena, nbytes, _ = c.arena(B, 0, TRAIN_GRAD)
    y = np.empty((B,) + model.output_shape, F32)
    _check("tr_model_forward_f32",
           lib.tr_model_forward_f32(_buf(y), arena, _buf(theta), _buf(x), c.m, B, nbytes))
    return y


def model_backward_f32(theta, x, target, model):
    B = check_model_call(model, theta, x, target)
    check_call_arena(model, "x", B, 0, "grad")
    c = _cmodel(model)
    arena, nbytes, _ = c.arena(B, 0, TRAIN_GRAD)
    grad = np.empty(model.n_params, F32)
    loss = np.empty(1, F32)
    t, lab = _targets(model, target)
    _check("tr_model_backward_f32",
           lib.tr_model_backward_f32(_buf(grad), _buf(loss), arena, _buf(theta), _buf(x), t, lab,
                                     c.m, B, nbytes))
    return loss[0], grad


def model_train_step_f32(theta, x, target, model, lr, mode="fused"):
    B = check_model_call(model, theta, x, target, writeable=True, trains=True)
    lr = ck.float_param("lr", lr)
    code = check_mode(mode, B)
    check_call_arena(model, "x", B, 0, mode)
    c = _cmodel(model)
    arena, nbytes, _ = c.arena(B, 0, code)
    loss = np.empty(1, F32)
    t, lab = _targets(model, target)
    _check("tr_model_train_step_f32",
           lib.tr_model_train_step_f32(_buf(theta), _buf(loss), arena, _buf(x), t, lab, c.m, B,
                                       nbytes, lr, code))
    return loss[0]


def tinyreptile_device_round_f32(theta, x, target, model, lr, mode="fused", trace=None):
    k = check_model_call(model, theta, x, target, trains=True)
    lr = ck.float_param("lr", lr)
    code = check_mode(mode, 1)
    check_call_arena(model, "model", 1, 1, mode)
    check_trace_mode(mode, trace)
    c = _cmodel(model)
    arena, nbytes, _ = c.arena(1, 1, code)
    phi = np.empty(model.n_params, F32)
    losses = np.empty(k, F32)
    t, lab = _targets(model, target)
    if trace is None:
        _check("tr_tinyreptile_device_round_f32",
               lib.tr_tinyreptile_device_round_f32(_buf(phi), _buf(losses), arena, _buf(theta),
                                                   _buf(x), t, lab, c.m, k, nbytes, lr, code))
        return phi, losses
    errors = []

    def on_record(ctx, r):
        if errors:
            return
        try:
            shape = tuple(r.dim[j] for j in range(r.rank))
            a = np.frombuffer(ffi.buffer(r.data, 4 * r.n), F32).reshape(shape).copy()
            trace(r.step, r.layer, r.tensor, a)
        except BaseException as e:  # re-raised once the C call has returned
            errors.append(e)

    cb = ffi.callback("void(void *, const tr_trace_record *)", on_record)
    hook = ffi.new("tr_trace *", {"fn": cb, "ctx": ffi.NULL})
    st = lib.tr_tinyreptile_device_round_traced_f32(_buf(phi), _buf(losses), arena, _buf(theta),
                                                    _buf(x), t, lab, c.m, k, nbytes, lr, code,
                                                    hook)
    if errors:
        raise errors[0]
    _check("tr_tinyreptile_device_round_traced_f32", st)
    return phi, losses


def reptile_device_round_f32(theta, x, target, order, model, epochs, batch, lr):
    k = check_model_call(model, theta, x, target, trains=True)
    epochs = ck.int_param("epochs", epochs, 0)
    batch = ck.int_param("batch", batch, 1)
    lr = ck.float_param("lr", lr)
    check_order(order, epochs, k)
    check_call_arena(model, "x", batch, k, "accum")
    c = _cmodel(model)
    arena, nbytes, _ = c.arena(batch, k, TRAIN_ACCUM)
    phi = np.empty(model.n_params, F32)
    losses = np.empty(epochs * -(-k // batch), F32)
    t, lab = _targets(model, target)
    _check("tr_reptile_device_round_f32",
           lib.tr_reptile_device_round_f32(_buf(phi), _buf(losses), arena, _buf(theta), _buf(x),
                                           t, lab, _i32(order), c.m, k, epochs, batch, nbytes,
                                           lr))
    return phi, losses


# ------------------------------------------------- whole federated runs, sine task

_ALGOS = ("tinyreptile", "reptile", "fedavg")


def _sine_cfg(model, theta, algo, k, epochs, batch, meta_batch, devices, lr, seed):
    """The checked arguments of the sine runs: (tr_sine_run *, steps, M, arena, bytes)."""
    check_model_call(model, theta, np.zeros((1,) + model.input_shape, F32), writeable=True)
    if algo not in _ALGOS:
        raise ck.ParameterError(f"algo: {algo!r} is not one of {', '.join(_ALGOS)}")
    if model.input_shape != (1,) or model.output_shape != (1,) or model.loss != "mse":
        raise ck.ParameterError("model: the sine task needs a 1-input, 1-output MSE model")
    cfg = ffi.new("tr_sine_run *", {
        "seed": ck.int_param("seed", seed, 0, 2**64 - 1), "algo": _ALGOS.index(algo),
        "k": ck.int_param("k", k, 1), "epochs": ck.int_param("epochs", epochs, 1),
        "batch": ck.int_param("batch", batch, 1),
        "meta_batch": ck.int_param("meta_batch", meta_batch, 1),
        "devices": ck.int_param("devices", devices, 1), "lr": ck.float_param("lr", lr)})
    steps = ffi.new("int32_t *")
    _check("tr_sine_run_steps", lib.tr_sine_run_steps(steps, cfg))
    M = 1 if algo == "tinyreptile" else meta_batch
    if M > devices:
        raise ck.ParameterError(f"meta_batch: {M} devices per round exceed the population "
                                f"of {devices}")
    c = _cmodel(model)
    if algo == "tinyreptile":
        arena, nbytes, _ = c.arena(1, 1, MODES.index("fused"))
    else:
        arena, nbytes, _ = c.arena(min(batch, k), k, TRAIN_ACCUM)
    return cfg, steps[0], M, arena, nbytes, c


def run_sine_rounds(theta, model, algo, k, epochs, batch, meta_batch, devices, lr, seed,
                        r0, eps):
    """Rounds r0 .. r0+len(eps)-1 of `algo` on the sine task in one C call
    (tr_sine_run_rounds_f32), updating theta [n_params] in place; returns the devices' step
    losses [R, M, steps] float32. The same bits as federated.algorithms.train's Python loop
    with the sine family."""
    cfg, steps, M, arena, nbytes, c = _sine_cfg(model, theta, algo, k, epochs, batch,
                                                meta_batch, devices, lr, seed)
    eps = np.ascontiguousarray(eps, F32)
    R = eps.shape[0]
    r0 = ck.int_param("r0", r0, 0)
    P = model.n_params
    losses = np.empty((R, M, steps), F32)
    phi, mu = np.empty(P, F32), np.empty(P, F32)
    x, y = np.empty(k, F32), np.empty(k, F32)
    order = np.empty(epochs * k, np.int32)
    ids = np.empty(M, np.int32)
    _check("tr_sine_run_rounds_f32",
           lib.tr_sine_run_rounds_f32(_buf(theta), _buf(losses), _buf(phi), _buf(mu), _buf(x),
                                      _buf(y), _i32(order), _i32(ids), arena, c.m, cfg,
                                      _buf(eps), r0, R, nbytes))
    return losses


def run_sine_device(theta, model, algo, k, epochs, batch, meta_batch, devices, lr, seed,
                          dev, r):
    """Device `dev`'s part of round r on the sine task (tr_sine_device_round_f32): its data
    and its round from theta; returns (phi, losses). Thread-safe (the GIL is released during
    the call and every thread has its own arena)."""
    cfg, steps, _, arena, nbytes, c = _sine_cfg(model, np.asarray(theta), algo, k, epochs,
                                                batch, meta_batch, devices, lr, seed)
    phi, losses = np.empty(model.n_params, F32), np.empty(steps, F32)
    x, y = np.empty(k, F32), np.empty(k, F32)
    order = np.empty(epochs * k, np.int32)
    _check("tr_sine_device_round_f32",
           lib.tr_sine_device_round_f32(_buf(phi), _buf(losses), _buf(x), _buf(y), _i32(order),
                                        arena, _buf(theta), c.m, cfg,
                                        ck.int_param("dev", dev, 0), ck.int_param("r", r, 0),
                                        nbytes))
    return phi, losses


def model_memory_plan(model, batch=1, stored=None, mode="grad"):
    """The C runtime's tr_model_memory_plan as a MemoryPlan (model.memory_plan's twin)."""
    ref = check_model(model).memory_plan(batch, stored, mode)  # the argument checks
    p = ffi.new("tr_memory_plan *")
    _check("tr_model_memory_plan",
           lib.tr_model_memory_plan(p, _cmodel(model).m, ref.batch, ref.stored,
                                    MODES.index(mode)))
    return MemoryPlan(batch=ref.batch, stored=ref.stored, params=p.params, grads=p.grads,
                      activations=p.activations, deltas=p.deltas, samples=p.samples,
                      flash=4 * model.n_params, mode=mode)
