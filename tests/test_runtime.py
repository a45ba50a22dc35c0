"""The model runtime (csrc/model.c and its NumPy twin in tinyreptile_ref/runtime/model.py): the fused
batch-1 step gives the bits of forward -> backward into a gradient buffer -> SGD, gradient
accumulation gives the bits of the batched kernels, C equals the twin, both equal the kernels
called one by one, whole device rounds equal their steps, and the memory plans agree."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinyreptile_ref import ParameterError, ShapeError, get_backend
from tinyreptile_ref.runtime.model import Conv1d, Dense, Flatten, Model, ReLU, Tanh
from tinyreptile_ref.testing import assert_bits_equal, floats32

F32 = np.float32
MODES = ("fused", "grad", "accum")
BACKENDS = ("numpy", "c")


def sine_model(h=64):
    return Model((1,), [Dense(h), Tanh(), Dense(h), Tanh(), Dense(1)], loss="mse")


def conv_model(ways=5, filters=16):
    return Model((8, 8), [Conv1d(filters, 3), ReLU(), Conv1d(filters, 3), ReLU(), Flatten(),
                          Dense(ways)], loss="softmax_xent")


def mixed_model():
    return Model((9, 3), [Conv1d(4, 3, stride=2, padding="same"), Tanh(),
                          Conv1d(5, 2, dilation=2), Flatten(), Dense(3), ReLU(), Dense(2)],
                 loss="mse")


def data(model, rng, n, scale=1.0):
    x = rng.uniform(-scale, scale, (n,) + model.input_shape).astype(F32)
    if model.loss == "mse":
        return x, rng.uniform(-scale, scale, (n,) + model.output_shape).astype(F32)
    return x, rng.integers(0, model.output_shape[0], n).astype(np.int32)


def kernel_step(npb, model, theta, x, y, lr):
    """An independent reference: one SGD step with the kernels called one by one (forward,
    loss, backward into a gradient buffer, SGD), written out here. Returns the loss."""
    views, grad = model.views(theta), np.zeros(model.n_params, F32)
    gviews = model.views(grad)
    acts, a = [], x
    for L, p in zip(model.layers, views):
        if L.kind == "dense":
            a = npb.dense_forward_f32(a, p[0], p[1])
        elif L.kind == "conv1d":
            a = npb.conv1d_forward_f32(a, p[0], p[1], L.stride, L.dilation, L.padding)
        elif L.kind == "tanh":
            a = npb.tanh_forward_f32(a)
        elif L.kind == "relu":
            a = npb.relu_forward_f32(a)
        else:
            a = a.reshape(a.shape[0], -1)
        acts.append(a)
    loss, d = (npb.mse_loss_f32(a, y) if model.loss == "mse" else npb.softmax_xent_loss_f32(a, y))
    for i in range(len(model.layers) - 1, model.first_param_layer - 1, -1):
        L = model.layers[i]
        xin = acts[i - 1] if i > 0 else x
        if L.kind == "dense":
            d, gviews[i][0][...], gviews[i][1][...] = npb.dense_backward_f32(d, xin, views[i][0])
        elif L.kind == "conv1d":
            d, gviews[i][0][...], gviews[i][1][...] = npb.conv1d_backward_f32(
                d, xin, views[i][0], L.stride, L.dilation, L.padding)
        elif L.kind == "tanh":
            d = npb.tanh_backward_f32(d, acts[i])
        elif L.kind == "relu":
            d = npb.relu_backward_f32(d, acts[i])
        else:
            d = d.reshape((d.shape[0],) + L.in_shape)
    npb.sgd_step_f32(theta, grad, lr)
    return loss


def numpy_steps(npb, model, theta, batches, lr):
    """The reference: kernel_step once per batch, from a copy of theta."""
    theta = theta.copy()
    losses = [kernel_step(npb, model, theta, x, y, lr) for x, y in batches]
    return theta, np.asarray(losses, F32)


# ---------------------------------------------------------------------- random models

@st.composite
def models(draw):
    """Small sequential models the runtime accepts: conv1d stacks (any geometry) with at most
    one activation per parametric layer, flatten, dense layers, either loss."""
    layers = []
    if draw(st.booleans()):
        L, C = draw(st.integers(1, 7)), draw(st.integers(1, 3))
        shape = (L, C)
        for _ in range(draw(st.integers(1, 2))):
            K, s, d = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
            pad = draw(st.sampled_from(["valid", "same"]))
            span = (K - 1) * d + 1
            if pad == "valid" and L < span:
                pad = "same"
            L = -(-L // s) if pad == "same" else (L - span) // s + 1
            layers.append(Conv1d(draw(st.integers(1, 4)), K, s, d, pad))
            act = draw(st.sampled_from([None, ReLU(), Tanh()]))
            if act is not None:
                layers.append(act)
        if draw(st.booleans()):
            layers.append(Flatten())
        dense_ok = isinstance(layers[-1], Flatten)
    else:
        shape = (draw(st.integers(1, 5)),)
        dense_ok = True
    if dense_ok:
        for _ in range(draw(st.integers(1 if not layers else 0, 3))):
            layers.append(Dense(draw(st.integers(1, 6))))
            act = draw(st.sampled_from([None, ReLU(), Tanh()]))
            if act is not None:
                layers.append(act)
    loss = "mse"
    if dense_ok and isinstance(layers[-1], Dense) or (dense_ok and len(layers) > 1
                                                       and isinstance(layers[-2], Dense)):
        loss = draw(st.sampled_from(["mse", "softmax_xent"]))
    return Model(shape, layers, loss=loss)


@st.composite
def model_and_batch(draw, max_batch=4, edges=False):
    model = draw(models())
    B = draw(st.integers(1, max_batch))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    theta = model.init(rng)
    x, y = data(model, rng, B)
    if edges:  # a few edge values (signed zeros, subnormals, huge, inf, nan) in theta and x
        for a in (theta, x.reshape(-1)):
            for _ in range(draw(st.integers(0, 3))):
                a[draw(st.integers(0, a.size - 1))] = draw(floats32())
    lr = draw(st.sampled_from([0.0, 0.01, 0.5, 3.0]))
    return model, theta, x, y, F32(lr)


# ------------------------------------------------------------------------- the steps

@pytest.mark.parametrize("name", BACKENDS)
@given(model_and_batch(max_batch=1, edges=True))
def test_fused_step_gives_the_bits_of_backward_then_sgd(name, npb, case):
    backend = get_backend(name)
    model, theta, x, y, lr = case
    fused = theta.copy()
    loss_f = backend.model_train_step_f32(fused, x, y, model, lr, "fused")
    loss_b, grad = backend.model_backward_f32(theta, x, y, model)
    unfused = theta.copy()
    backend.sgd_step_f32(unfused, grad, lr)
    assert_bits_equal(fused, unfused, "fused vs backward + SGD")
    assert_bits_equal(np.float32(loss_f), np.float32(loss_b), "loss")
    ref, ref_loss = numpy_steps(npb, model, theta, [(x, y)], lr)
    assert_bits_equal(fused, ref, "fused vs the kernels one by one")
    assert_bits_equal(np.float32(loss_f), ref_loss[0], "loss vs the kernels one by one")


@pytest.mark.parametrize("name", BACKENDS)
@given(model_and_batch(max_batch=5, edges=True))
def test_gradient_accumulation_gives_the_bits_of_the_batched_kernels(name, npb, case):
    backend = get_backend(name)
    model, theta, x, y, lr = case
    out = {}
    for mode in ("grad", "accum"):
        t = theta.copy()
        out[mode] = (t, backend.model_train_step_f32(t, x, y, model, lr, mode))
    assert_bits_equal(out["accum"][0], out["grad"][0], "accum vs grad")
    assert_bits_equal(np.float32(out["accum"][1]), np.float32(out["grad"][1]), "loss")
    ref, ref_loss = numpy_steps(npb, model, theta, [(x, y)], lr)
    assert_bits_equal(out["grad"][0], ref, "grad vs the kernels one by one")
    assert_bits_equal(np.float32(out["grad"][1]), ref_loss[0], "loss vs the kernels one by one")


@given(model_and_batch(max_batch=4, edges=True))
def test_the_c_runtime_equals_its_numpy_twin(cb, npb, case):
    model, theta, x, y, lr = case
    assert_bits_equal(cb.model_forward_f32(theta, x, model), npb.model_forward_f32(theta, x, model),
                      "forward")
    (lc, gc), (ln, gn) = (be.model_backward_f32(theta, x, y, model) for be in (cb, npb))
    assert_bits_equal(gc, gn, "grad")
    assert_bits_equal(np.float32(lc), np.float32(ln), "loss")
    for mode in ("fused", "grad", "accum") if x.shape[0] == 1 else ("grad", "accum"):
        tc, tn = theta.copy(), theta.copy()
        lc = cb.model_train_step_f32(tc, x, y, model, lr, mode)
        ln = npb.model_train_step_f32(tn, x, y, model, lr, mode)
        assert_bits_equal(tc, tn, mode)
        assert_bits_equal(np.float32(lc), np.float32(ln), mode + " loss")
    (pc, lc), (pn, ln) = (be.tinyreptile_device_round_f32(theta, x, y, model, lr)
                          for be in (cb, npb))
    assert_bits_equal(pc, pn, "TinyReptile round")
    assert_bits_equal(lc, ln, "TinyReptile round losses")
    k = x.shape[0]
    order = np.array([np.arange(k)[::-1], np.arange(k)], np.int32)
    (pc, lc), (pn, ln) = (be.reptile_device_round_f32(theta, x, y, order, model, 2, 2, lr)
                          for be in (cb, npb))
    assert_bits_equal(pc, pn, "Reptile round")
    assert_bits_equal(lc, ln, "Reptile round losses")


def test_an_empty_batch_gives_a_zero_gradient_and_leaves_theta_alone(backend):
    model = mixed_model()
    theta = model.init(np.random.default_rng(3))
    x = np.zeros((0,) + model.input_shape, F32)
    y = np.zeros((0,) + model.output_shape, F32)
    loss, grad = backend.model_backward_f32(theta, x, y, model)
    assert loss == 0 and grad.shape == theta.shape and not grad.any()
    for mode in ("grad", "accum"):
        t = theta.copy()
        assert backend.model_train_step_f32(t, x, y, model, 0.5, mode) == 0
        assert_bits_equal(t, theta, mode)


def test_fused_step_keeps_the_sign_of_a_negative_zero_weight_as_sgd_does(backend):
    """The update of w[o][0] with x = -0 is w - lr*(0 + dy[o]*x): the sum starts at +0 as the
    kernel's does, so the gradient is +0 and w = -0 stays -0. Subtracting lr*dy[o]*x directly
    would give -0 - (-0) = +0 wherever dy[o] > 0."""
    model = sine_model(8)
    theta = model.init(np.random.default_rng(4))
    (w0, _), *_ = model.views(theta)
    w0[...] = -0.0
    x = np.array([[-0.0]], F32)
    y = np.array([[5.0]], F32)
    out = {}
    for mode in MODES:
        t = theta.copy()
        backend.model_train_step_f32(t, x, y, model, 0.1, mode)
        out[mode] = t
    assert_bits_equal(out["fused"], out["grad"], "fused vs grad")
    assert_bits_equal(out["accum"], out["grad"], "accum vs grad")
    (w0_after, _), *_ = model.views(out["fused"])
    assert (w0_after.view(np.uint32) == 0x80000000).all()
    # and the case does exercise it: dy for the first layer has both signs
    _, grad = backend.model_backward_f32(theta, x, y, model)
    (_, b0), *_ = model.views(grad)
    assert (b0 > 0).any() and (b0 < 0).any()


def test_updating_a_layer_before_its_dx_would_change_the_bits(backend, npb):
    """The equivalence tests can fail: a step that updates each layer's weights before it
    computes dx (dx with the new weights) gives other bits on the sine model."""
    model = sine_model()
    theta = model.init(np.random.default_rng(5))
    x, y, lr = np.array([[1.5]], F32), np.array([[2.0]], F32), F32(0.02)
    views = model.views(theta)
    acts, a = [], x
    for L, p in zip(model.layers, views):
        a = npb.dense_forward_f32(a, p[0], p[1]) if L.kind == "dense" else npb.tanh_forward_f32(a)
        acts.append(a)
    _, d = npb.mse_loss_f32(a, y)
    wrong = theta.copy()
    wviews = model.views(wrong)
    for i in range(len(model.layers) - 1, -1, -1):
        if model.layers[i].kind == "dense":
            xin = acts[i - 1] if i > 0 else x
            _, dw, db = npb.dense_backward_f32(d, xin, wviews[i][0])
            wviews[i][0][...] -= lr * dw
            wviews[i][1][...] -= lr * db
            d, _, _ = npb.dense_backward_f32(d, xin, wviews[i][0])  # dx with the new weights
        else:
            d = npb.tanh_backward_f32(d, acts[i])
    fused = theta.copy()
    backend.model_train_step_f32(fused, x, y, model, lr, "fused")
    ref, _ = numpy_steps(npb, model, theta, [(x, y)], lr)
    assert_bits_equal(fused, ref)
    assert (wrong.view(np.uint32) != fused.view(np.uint32)).any()


# ------------------------------------------------------------------------ device rounds

@pytest.mark.parametrize("model", [sine_model(), conv_model(), mixed_model()],
                         ids=["sine", "conv", "mixed"])
def test_tinyreptile_round_is_k_batch_1_steps_in_either_mode(backend, npb, model):
    rng = np.random.default_rng(6)
    theta = model.init(rng)
    x, y = data(model, rng, 7)
    ref, ref_losses = numpy_steps(npb, model, theta, [(x[j:j + 1], y[j:j + 1]) for j in range(7)],
                                  0.05)
    keep = theta.copy()
    for mode in MODES:
        phi, losses = backend.tinyreptile_device_round_f32(theta, x, y, model, 0.05, mode)
        assert_bits_equal(phi, ref, mode)
        assert_bits_equal(losses, ref_losses, mode + " losses")
    assert_bits_equal(theta, keep, "theta is not touched")


@pytest.mark.parametrize("k,epochs,batch", [(7, 2, 3), (5, 1, 5), (4, 3, 1), (3, 2, 8),
                                            (6, 0, 2)])
@pytest.mark.parametrize("model", [sine_model(16), conv_model(3, 4)], ids=["sine", "conv"])
def test_reptile_round_is_minibatch_sgd_in_the_given_order(backend, npb, model, k, epochs, batch):
    rng = np.random.default_rng(7)
    theta = model.init(rng)
    x, y = data(model, rng, k)
    order = np.array([rng.permutation(k) for _ in range(epochs)], np.int32).reshape(epochs, k)
    batches = [(x[idx], y[idx]) for e in range(epochs)
               for idx in (order[e, s:s + batch] for s in range(0, k, batch))]
    ref, ref_losses = numpy_steps(npb, model, theta, batches, 0.05)
    phi, losses = backend.reptile_device_round_f32(theta, x, y, order, model, epochs, batch, 0.05)
    assert_bits_equal(phi, ref)
    assert_bits_equal(losses, ref_losses, "losses")


# -------------------------------------------------------------------------- memory plan

@pytest.mark.parametrize("model", [sine_model(), conv_model(), mixed_model()],
                         ids=["sine", "conv", "mixed"])
@pytest.mark.parametrize("batch,stored", [(1, 1), (10, 50), (3, 3), (2, 7)])
@pytest.mark.parametrize("mode", MODES)
def test_the_c_memory_plan_is_the_models(cb, model, batch, stored, mode):
    if mode == "fused" and batch != 1:
        with pytest.raises(ParameterError, match="^mode: "):
            cb.model_memory_plan(model, batch, stored, mode)
        return
    assert cb.model_memory_plan(model, batch, stored, mode) == \
        model.memory_plan(batch, stored, mode)


def test_sine_memory_plans_of_the_three_modes_match_hand_computed_bytes():
    m = sine_model()
    # theta 4353 floats; kept activations 64 + 64 + 1 floats per sample; deltas 64 + 64;
    # a sample is x and y, 8 bytes.
    fused = m.memory_plan(1, 1, "fused")
    assert (fused.grads, fused.activations, fused.deltas, fused.samples) == (0, 516, 512, 8)
    assert fused.arena == 1036 and fused.ram == 17412 + 1036
    grad = m.memory_plan(1, 1, "grad")
    assert grad.ram - fused.ram == 4 * m.n_params  # the gradient buffer, nothing else
    accum = m.memory_plan(10, 50, "accum")
    assert (accum.grads, accum.activations, accum.deltas, accum.samples) == (17412, 516, 512, 400)
    assert m.memory_plan(10, 50, "grad").activations == 5160


def test_layer_table_rows_follow_the_model():
    rows = conv_model().layer_table()
    # kind, in_rank, in_dim, out_rank, out_dim, w_off, b_off, K, stride, dilation, padding
    assert rows.tolist() == [
        [1, 2, 8, 8, 2, 6, 16, 0, 384, 3, 1, 1, 0],
        [2, 2, 6, 16, 2, 6, 16, 0, 0, 0, 0, 0, 0],
        [1, 2, 6, 16, 2, 4, 16, 400, 400 + 768, 3, 1, 1, 0],
        [2, 2, 4, 16, 2, 4, 16, 0, 0, 0, 0, 0, 0],
        [4, 2, 4, 16, 1, 64, 1, 0, 0, 0, 0, 0, 0],
        [0, 1, 64, 1, 1, 5, 1, 1184, 1184 + 320, 0, 0, 0, 0]]
    assert rows.dtype == np.int32


# ----------------------------------------------------------------------------- the table

@pytest.mark.parametrize("layers", [
    [Tanh(), Dense(2)],                                   # an activation on the input
    [Dense(3), Tanh(), ReLU(), Dense(1)],                 # two on one buffer
    [Conv1d(2, 1), ReLU(), Flatten(), Tanh(), Dense(1)],  # flatten does not free it
    [Flatten()],                                          # no parametric layer
], ids=["input", "two", "flatten", "none"])
def test_tables_the_runtime_cannot_run_are_refused_by_both_sides(cb, layers):
    shape = (3, 2) if isinstance(layers[0], Conv1d) else (3,)
    with pytest.raises(ParameterError, match=r"^layers"):
        Model(shape, layers)
    # the C check refuses the same table: the model without the offending rows, which both
    # sides accept, with them put back (an activation row copies its input's shape)
    if layers == [Flatten()]:
        rows, n_params = [[4, 1, 3, 1, 1, 3, 1, 0, 0, 0, 0, 0, 0]], 0
    else:
        ok = Model(shape, [L for L in layers if L.kind not in ("relu", "tanh")])
        rows, n_params = ok.layer_table().tolist(), ok.n_params
        for i, L in enumerate(layers):
            if L.kind in ("relu", "tanh"):
                prev = rows[i - 1][4:7] if i > 0 else [len(shape), shape[0],
                                                       shape[1] if len(shape) == 2 else 1]
                rows.insert(i, [2 if L.kind == "relu" else 3, *prev, *prev, 0, 0, 0, 0, 0, 0])
    table = np.asarray(rows, np.int32)
    lay = cb.ffi.new("tr_layer[]", len(table))
    cb.ffi.memmove(lay, table.tobytes(), table.nbytes)
    m = cb.ffi.new("tr_model *", {"layers": lay, "n_layers": len(table),
                                   "n_params": n_params,
                                   "loss": 0})
    assert cb.lib.tr_model_check(m) == cb.lib.TR_ERR_MODEL


def test_model_shapes_are_checked_before_anything_runs(backend):
    m = sine_model(4)
    theta = m.init(np.random.default_rng(0))
    x, y = np.zeros((2, 1), F32), np.zeros((2, 1), F32)
    with pytest.raises(ShapeError, match="^theta: "):
        backend.model_train_step_f32(theta[:-1].copy(), x, y, m, 0.1, "grad")
    with pytest.raises(ShapeError, match="^x: "):
        backend.model_forward_f32(theta, np.zeros((2, 2), F32), m)
    with pytest.raises(ParameterError, match="^mode: "):
        backend.model_train_step_f32(theta, x, y, m, 0.1, "fused")
    c = conv_model(3, 2)
    with pytest.raises(ParameterError, match="^target: "):
        backend.model_backward_f32(c.init(np.random.default_rng(0)), np.zeros((1, 8, 8), F32),
                                   np.array([3], np.int32), c)


def test_the_runtime_computes_mse_with_the_loss_kernels_own_terms(monkeypatch):
    """The accum mode's per-sample mse (tr__mse_sample's twin) is loss.mse_terms itself,
    not a copy: a change to the kernel's formula reaches the runtime."""
    from tinyreptile_ref.kernels import loss as lossmod
    npb = get_backend("numpy")
    model = Model((2,), [Dense(3), Tanh(), Dense(2)])
    theta = model.init(np.random.default_rng(1))
    x = np.linspace(-1, 1, 8, dtype=np.float32).reshape(4, 2)
    y = np.linspace(1, -1, 8, dtype=np.float32).reshape(4, 2)
    calls = []
    real = lossmod.mse_terms

    def spy(acc, pred, target, scale):
        calls.append(pred.shape)
        return real(acc, pred, target, scale)

    monkeypatch.setattr(lossmod, "mse_terms", spy)
    npb.model_train_step_f32(theta.copy(), x, y, model, 0.1, "accum")
    assert calls == [(2,)] * 4  # once per sample, with the batch's scale
    monkeypatch.setattr(lossmod, "mse_terms", lambda acc, p, t, s: (acc, (p - t) * 0))
    loss = npb.model_train_step_f32(theta.copy(), x, y, model, 0.1, "accum")
    assert loss == 0  # the sabotaged formula is the one the runtime used


def test_the_c_runtimes_int32_limits_are_named_shape_errors_on_both_backends():
    """Checked in Python before C is called: the parameters' bytes of a plan, and a call's
    arena (here: one sample's activations fit, two samples' do not)."""
    big = Model((1,), [Dense(2**28)])  # 2**29 parameters: 2**31 bytes
    long_in = Model((2**22, 1), [Conv1d(64, 1)])  # 2**28 activations per sample, 128 params
    theta = np.zeros(long_in.n_params, np.float32)
    x = np.zeros((2, 2**22, 1), np.float32)
    errors = []
    for be in (get_backend("numpy"), get_backend("c")):
        with pytest.raises(ShapeError, match=r"^model: 536870912 parameters") as a:
            be.model_memory_plan(big)
        with pytest.raises(ShapeError, match=r"^x: the arena for batch 2") as b:
            be.model_forward_f32(theta, x, long_in)
        errors.append((str(a.value), str(b.value)))
    assert errors[0] == errors[1]
    with pytest.raises(ShapeError, match=r"^layers\[0\]: dense 1 -> 2147483647"):
        Model((1,), [Dense(2**31 - 1)])
