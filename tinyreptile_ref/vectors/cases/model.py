"""Golden-vector cases for csrc/model.c: the model runtime, device rounds and whole federated runs."""
import numpy as np

from ...backend import numpy_backend as nb
from ...federated import algorithms as fl
from ...runtime import model as mt
from ..format import f32_param
from ..rng import SplitMix64
from .common import F32, generator, sprinkle


def _models():
    """The runtime's vector models: the paper's sine model 1-64-64-1, a small 1-8-8-1 one for
    edge cases, the digits-sized conv1d classifier, and a mixed one (stride, dilation, same
    padding, tanh after conv1d, ReLU after dense)."""
    from ...runtime.model import Conv1d, Dense, Flatten, Model, ReLU, Tanh
    return {
        "sine": Model((1,), [Dense(64), Tanh(), Dense(64), Tanh(), Dense(1)], loss="mse"),
        "small": Model((1,), [Dense(8), Tanh(), Dense(8), Tanh(), Dense(1)], loss="mse"),
        "conv": Model((8, 8), [Conv1d(16, 3), ReLU(), Conv1d(16, 3), ReLU(), Flatten(),
                               Dense(5)], loss="softmax_xent"),
        "mixed": Model((9, 3), [Conv1d(4, 3, stride=2, padding="same"), Tanh(),
                                Conv1d(5, 2, dilation=2), Flatten(), Dense(3), ReLU(),
                                Dense(2)], loss="mse"),
    }


def _uniform(r, n, lo, hi):
    """n float64 values in [lo, hi) from SplitMix64 words (53 random bits each)."""
    u = (r.u64(n) >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return lo + (hi - lo) * u


def _init_theta(r, model):
    """model.init's rule (U(-1/sqrt(fan_in), 1/sqrt(fan_in)), float64, rounded once) with
    SplitMix64 uniforms instead of NumPy's."""
    theta = np.empty(model.n_params, F32)
    for L in model.layers:
        if L.has_params:
            b = 1.0 / np.sqrt(float(np.prod(L.w_shape[1:])))
            theta[L.w_off:L.w_off + L.n_params] = _uniform(r, L.n_params, -b, b)
    return theta


def _samples(r, model, n, task=None):
    """n samples: sine (x ~ U(-5, 5), y = A * sin_f32(x + p) in float32 with the library's sin;
    A, p the task's) or otherwise x ~ U(-1, 1) [U(0, 1) for images] with float32 targets or
    int32 labels."""
    if model.input_shape == (1,) and task is not None:
        a, p = task
        x = _uniform(r, n, -5.0, 5.0).astype(F32).reshape(n, 1)
        y = F32(a) * nb.sin_f32(x + F32(p))
        return x, y
    lo = 0.0 if model.input_shape == (8, 8) else -1.0
    x = _uniform(r, n * int(np.prod(model.input_shape)), lo, 1.0).astype(F32)
    x = x.reshape((n,) + model.input_shape)
    if model.loss == "softmax_xent":
        return x, r.ints((n,), 0, model.output_shape[0] - 1)
    return x, _uniform(r, n * int(np.prod(model.output_shape)), -1.0, 1.0).astype(F32).reshape(
        (n,) + model.output_shape)


def _sine_task(r):
    return float(_uniform(r, 1, 0.1, 5.0)[0]), float(_uniform(r, 1, 0.0, 2 * np.pi)[0])


def _order(r, epochs, k):
    """epochs permutations of range(k): the ranks of fresh SplitMix64 words."""
    return np.array([np.argsort(r.u64(k), kind="stable") for _ in range(epochs)],
                    np.int32).reshape(epochs, k)


def _model_params(model, **kw):
    return dict(n_layers=len(model.layers), n_params=model.n_params, loss=model.loss, **kw)


def _target_blob(model, y):
    return {"target": y} if model.loss == "mse" else {"labels": y}


def _bad_table():
    """(model, rows) with a table the runtime refuses (TR_ERR_MODEL) for one reason only: a
    tanh on the input [8], before any dense layer (it would have no buffer to work in)."""
    from ...runtime.model import Dense, Model, Tanh
    model = Model((8,), [Dense(8), Tanh(), Dense(1)], loss="mse")
    rows = model.layer_table()
    tanh = rows[1:2].copy()  # [8] -> [8]
    return model, np.concatenate([tanh, rows])


def _specials(g, model, theta, x):
    """theta and x with about one element in eight replaced by a special value (nan, inf,
    signed zeros, subnormals, huge)."""
    return sprinkle(g, theta, one_in=8), sprinkle(g, x, one_in=4)


@generator("model_forward_f32")
def gen_model_forward_f32(g):
    M = _models()

    def case(slug, comment, flags, model, theta, x, status="TR_OK"):
        y = mt.model_forward_f32(theta, x, model) if status == "TR_OK" else None
        g.case(slug, comment, flags, _model_params(model, B=x.shape[0]),
               dict(layers=model.layer_table(), theta=theta, x=x),
               {} if y is None else dict(y=y), status)

    for name, B in (("sine", 5), ("conv", 2), ("mixed", 3)):
        m = M[name]
        case(f"{name}-batch-{B}", f"the {name} model, a batch of {B}", ["basic", "model size"],
             m, _init_theta(g.rng, m), _samples(g.rng, m, B, _sine_task(g.rng))[0])
    m = M["mixed"]
    theta, x = _specials(g, m, _init_theta(g.rng, m), _samples(g.rng, m, 4)[0])
    case("mixed-specials", "special values in theta and x: they propagate as the kernels say",
         ["nan", "inf", "subnormal", "signed zero", "huge"], m, theta, x)
    case("empty", "a batch of 0: nothing to compute", ["empty"], m, _init_theta(g.rng, m),
         np.zeros((0,) + m.input_shape, F32))
    bm, rows = _bad_table()
    g.case("bad-table", "tanh on the input (no buffer to work in place on): TR_ERR_MODEL",
           ["status"], dict(n_layers=len(rows), n_params=bm.n_params, loss=bm.loss, B=1),
           dict(layers=rows, theta=_init_theta(g.rng, bm), x=np.ones((1, 8), F32)), {},
           "TR_ERR_MODEL")


@generator("model_backward_f32")
def gen_model_backward_f32(g):
    M = _models()

    def case(slug, comment, flags, model, theta, x, y, status="TR_OK"):
        out = {}
        if status == "TR_OK":
            loss, grad = mt.model_backward_f32(theta, x, y, model)
            out = dict(grad=grad, loss=np.array([loss], F32))
        g.case(slug, comment, flags, _model_params(model, B=x.shape[0]),
               dict(layers=model.layer_table(), theta=theta, x=x, **_target_blob(model, y)), out,
               status)

    for name, B in (("sine", 3), ("conv", 2), ("mixed", 3)):
        m = M[name]
        case(f"{name}-batch-{B}", f"the {name} model: gradient of the batch's mean loss",
             ["basic", "model size"], m, _init_theta(g.rng, m),
             *_samples(g.rng, m, B, _sine_task(g.rng)))
    m = M["mixed"]
    x, y = _samples(g.rng, m, 3)
    theta, x = _specials(g, m, _init_theta(g.rng, m), x)
    case("mixed-specials", "special values in theta and x", ["nan", "inf", "subnormal",
         "signed zero", "huge"], m, theta, x, y)
    case("empty", "a batch of 0: zero gradient, loss +0", ["empty"], m, _init_theta(g.rng, m),
         np.zeros((0,) + m.input_shape, F32), np.zeros((0,) + m.output_shape, F32))
    c = M["conv"]
    x, _ = _samples(g.rng, c, 2)
    case("label-out-of-range", "label 5 of 5 classes: TR_ERR_LABEL", ["status"], c,
         _init_theta(g.rng, c), x, np.array([1, 5], np.int32), "TR_ERR_LABEL")


def _signed_zero_case(g, model):
    """theta with the first layer's weights -0, x = -0: w - lr*(0 + dy*x) keeps -0."""
    theta = _init_theta(g.rng, model)
    (w0, _), *_ = model.views(theta)
    w0[...] = -0.0
    return theta, np.array([[-0.0]], F32), np.array([[3.0]], F32)


@generator("model_train_step_f32")
def gen_model_train_step_f32(g):
    M = _models()

    def case(slug, comment, flags, model, theta, x, y, lr, mode, status="TR_OK"):
        out = {}
        if status == "TR_OK":
            after = theta.copy()
            loss = mt.model_train_step_f32(after, x, y, model, lr, mode)
            out = dict(theta=after, loss=np.array([loss], F32))
        g.case(slug, comment, flags,
               _model_params(model, B=x.shape[0], lr=f32_param(lr), mode=mode),
               dict(layers=model.layer_table(), theta=theta, x=x, **_target_blob(model, y)), out,
               status)

    task = _sine_task(g.rng)
    sine = M["sine"]
    case("sine-fused", "one fused batch-1 step of the sine model (no gradient buffer)",
         ["basic", "model size"], sine, _init_theta(g.rng, sine), *_samples(g.rng, sine, 1, task),
         0.02, "fused")
    for mode, B in (("fused", 1), ("grad", 4), ("accum", 4)):
        for name in ("small", "conv", "mixed"):
            m = M[name]
            case(f"{name}-{mode}-{B}", f"the {name} model, mode {mode}, a batch of {B}",
                 ["basic"], m, _init_theta(g.rng, m), *_samples(g.rng, m, B, task), 0.1, mode)
    m = M["mixed"]
    for mode, B in (("fused", 1), ("grad", 3), ("accum", 3)):
        x, y = _samples(g.rng, m, B)
        theta, x = _specials(g, m, _init_theta(g.rng, m), x)
        case(f"specials-{mode}", f"special values in theta and x, mode {mode}",
             ["nan", "inf", "subnormal", "signed zero", "huge"], m, theta, x, y, 0.1, mode)
    for mode in ("fused", "grad", "accum"):
        case(f"signed-zero-{mode}", "weights -0 and x = -0: the gradient 0 + dy*x is +0, so "
             "the weights stay -0", ["signed zero"], M["small"], *_signed_zero_case(g, M["small"]),
             0.1, mode)
    for mode in ("grad", "accum"):
        case(f"empty-{mode}", "a batch of 0: zero gradient, theta unchanged", ["empty"], m,
             _init_theta(g.rng, m), np.zeros((0,) + m.input_shape, F32),
             np.zeros((0,) + m.output_shape, F32), 0.1, mode)
    sm = M["small"]
    case("fused-batch-2", "the fused step takes one sample: TR_ERR_PARAM", ["status"], sm,
         _init_theta(g.rng, sm), *_samples(g.rng, sm, 2, task), 0.1, "fused", "TR_ERR_PARAM")


@generator("tinyreptile_device_round_f32")
def gen_tinyreptile_device_round_f32(g):
    M = _models()

    def case(slug, comment, flags, model, theta, x, y, lr, mode, status="TR_OK"):
        out = {}
        if status == "TR_OK":
            phi, losses = mt.tinyreptile_device_round_f32(theta, x, y, model, lr, mode)
            out = dict(phi=phi, losses=losses)
        g.case(slug, comment, flags,
               _model_params(model, k=x.shape[0], lr=f32_param(lr), mode=mode),
               dict(layers=model.layer_table(), theta=theta, x=x, **_target_blob(model, y)), out,
               status)

    sine, small, conv, m = M["sine"], M["small"], M["conv"], M["mixed"]
    case("sine-k10", "TinyReptile's device on the sine model: 10 streamed samples, fused steps "
         "(lr 0.02, the sine defaults)", ["basic", "model size"], sine, _init_theta(g.rng, sine),
         *_samples(g.rng, sine, 10, _sine_task(g.rng)), 0.02, "fused")
    for mode in ("fused", "grad", "accum"):
        case(f"small-{mode}", f"1-8-8-1, 6 samples, mode {mode} (the same bits in every mode)",
             ["basic"], small, _init_theta(g.rng, small),
             *_samples(g.rng, small, 6, _sine_task(g.rng)), 0.05, mode)
    case("conv-k5", "the conv1d classifier, 5 streamed samples", ["basic", "model size"], conv,
         _init_theta(g.rng, conv), *_samples(g.rng, conv, 5), 0.05, "fused")
    x, y = _samples(g.rng, m, 3)
    theta, x = _specials(g, m, _init_theta(g.rng, m), x)
    case("mixed-specials", "special values in theta and x", ["nan", "inf", "subnormal",
         "signed zero", "huge"], m, theta, x, y, 0.1, "fused")
    case("signed-zero", "weights -0, x = -0", ["signed zero"], small,
         *_signed_zero_case(g, small), 0.1, "fused")
    case("empty", "k = 0: phi = theta", ["empty"], m, _init_theta(g.rng, m),
         np.zeros((0,) + m.input_shape, F32), np.zeros((0,) + m.output_shape, F32), 0.1, "fused")
    x, _ = _samples(g.rng, conv, 3)
    case("label-out-of-range", "a label of -1: TR_ERR_LABEL before phi is written", ["status"],
         conv, _init_theta(g.rng, conv), x, np.array([0, -1, 2], np.int32), 0.05, "fused",
         "TR_ERR_LABEL")


@generator("reptile_device_round_f32")
def gen_reptile_device_round_f32(g):
    M = _models()

    def case(slug, comment, flags, model, theta, x, y, order, epochs, batch, lr,
             status="TR_OK"):
        out = {}
        if status == "TR_OK":
            phi, losses = mt.reptile_device_round_f32(theta, x, y, order, model, epochs, batch,
                                                      lr)
            out = dict(phi=phi, losses=losses)
        g.case(slug, comment, flags,
               _model_params(model, k=x.shape[0], epochs=epochs, batch=batch, lr=f32_param(lr)),
               dict(layers=model.layer_table(), theta=theta, x=x, **_target_blob(model, y),
                    order=order), out, status)

    sine, small, conv, m = M["sine"], M["small"], M["conv"], M["mixed"]
    case("sine-k50-b10", "Reptile's device on the sine model: 50 stored samples, one epoch "
         "of mini-batches of 10 (the sine defaults)", ["basic", "model size"], sine,
         _init_theta(g.rng, sine), *_samples(g.rng, sine, 50, _sine_task(g.rng)),
         _order(g.rng, 1, 50), 1, 10, 0.02)
    case("small-k7-e2-b3", "7 samples, 2 epochs, mini-batches of 3, 3, 1", ["basic"], small,
         _init_theta(g.rng, small), *_samples(g.rng, small, 7, _sine_task(g.rng)),
         _order(g.rng, 2, 7), 2, 3, 0.05)
    case("conv-k6-e2-b4", "the conv1d classifier, 6 samples, 2 epochs of batches of 4, 2",
         ["basic", "model size"], conv, _init_theta(g.rng, conv), *_samples(g.rng, conv, 6),
         _order(g.rng, 2, 6), 2, 4, 0.05)
    x, y = _samples(g.rng, m, 4)
    theta, x = _specials(g, m, _init_theta(g.rng, m), x)
    case("mixed-specials", "special values in theta and x", ["nan", "inf", "subnormal",
         "signed zero", "huge"], m, theta, x, y, _order(g.rng, 1, 4), 1, 3, 0.1)
    case("empty", "k = 0 stored samples: phi = theta", ["empty"], m, _init_theta(g.rng, m),
         np.zeros((0,) + m.input_shape, F32), np.zeros((0,) + m.output_shape, F32),
         np.zeros((1, 0), np.int32), 1, 2, 0.1)
    x, y = _samples(g.rng, small, 3)
    case("order-out-of-range", "an order entry of 3 for k = 3: TR_ERR_PARAM", ["status"], small,
         _init_theta(g.rng, small), x, y, np.array([[0, 3, 1]], np.int32), 1, 2, 0.1,
         "TR_ERR_PARAM")


def _rounds(g, model, rounds, k, lr, eps0, algo, epochs=1, batch=1):
    """A federated run of `rounds` rounds, server and device: each round phi = the device's
    round from theta (TinyReptile: k streamed fused steps; Reptile: epochs of mini-batches
    over k stored samples), then theta = theta + eps_r*(phi - theta), with eps_r annealed
    linearly from eps0 towards 0 (federated.algorithms.annealed_eps, Config's rule) and rounded once to float32.
    Sine devices draw a task (amplitude, phase) each round. Returns inputs and expected."""
    theta0 = _init_theta(g.rng, model)
    xs, ys, orders = [], [], []
    for _ in range(rounds):
        x, y = _samples(g.rng, model, k, _sine_task(g.rng))
        xs.append(x)
        ys.append(y)
        if algo == "reptile":
            orders.append(_order(g.rng, epochs, k))
    eps = np.array([fl.annealed_eps(eps0, 0.0, r, rounds) for r in range(rounds)], F32)
    theta = theta0.copy()
    losses = []
    for r in range(rounds):
        if algo == "reptile":
            phi, lo = mt.reptile_device_round_f32(theta, xs[r], ys[r], orders[r], model, epochs,
                                                  batch, lr)
        else:
            phi, lo = mt.tinyreptile_device_round_f32(theta, xs[r], ys[r], model, lr, "fused")
        losses.append(lo)
        nb.reptile_interpolate_f32(theta, phi, eps[r])
    inputs = dict(layers=model.layer_table(), theta=theta0, x=np.stack(xs),
                  **_target_blob(model, np.stack(ys)), eps=eps)
    if orders:
        inputs["order"] = np.stack(orders)
    return inputs, dict(losses=np.stack(losses), theta=theta)


@generator("tinyreptile_rounds_f32")
def gen_tinyreptile_rounds_f32(g):
    """Whole TinyReptile runs, server and device: R rounds of tr_tinyreptile_device_round_f32
    (fused) and tr_reptile_interpolate_f32. Expected: every step's loss and the final theta.
    The sine case is the run the firmware image (mcu/firmware/tinyreptile_fw.c) replays."""
    M = _models()
    for slug, comment, name, rounds, k, lr, eps0 in (
            ("sine-r100-k10", "sine, 100 rounds of 10 streamed samples, lr 0.02, eps 0.1 -> 0",
             "sine", 100, 10, 0.02, 0.1),
            ("conv-r6-k10", "conv1d classifier, 6 rounds of 10 samples, lr 0.05, eps 1 -> 0",
             "conv", 6, 10, 0.05, 1.0)):
        model = M[name]
        inputs, expected = _rounds(g, model, rounds, k, F32(lr), eps0, "tinyreptile")
        g.case(slug, comment, ["multi-step", "model size"],
               _model_params(model, rounds=rounds, k=k, lr=f32_param(lr)), inputs, expected)


@generator("reptile_rounds_f32")
def gen_reptile_rounds_f32(g):
    """Whole batched-Reptile runs, server and device: R rounds of tr_reptile_device_round_f32
    and tr_reptile_interpolate_f32. Expected: every mini-batch's loss and the final theta."""
    M = _models()
    for slug, comment, name, rounds, k, epochs, batch, lr, eps0 in (
            ("sine-r20-k50-b10", "sine, 20 rounds of 50 stored samples, batches of 10, "
             "lr 0.02, eps 0.1 -> 0", "sine", 20, 50, 1, 10, 0.02, 0.1),
            ("conv-r3-k10-e2-b5", "conv1d classifier, 3 rounds of 10 samples, 2 epochs of "
             "batches of 5, lr 0.05, eps 1 -> 0", "conv", 3, 10, 2, 5, 0.05, 1.0)):
        model = M[name]
        inputs, expected = _rounds(g, model, rounds, k, F32(lr), eps0, "reptile", epochs, batch)
        g.case(slug, comment, ["multi-step", "model size"],
               _model_params(model, rounds=rounds, k=k, epochs=epochs, batch=batch,
                             lr=f32_param(lr)), inputs, expected)
