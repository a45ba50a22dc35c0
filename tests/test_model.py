"""The sequential model: parameter layout, memory plan and MAC counts against hand-computed
numbers, gradients against float64 finite differences, and the two backends bit for bit."""
import numpy as np
import pytest

from tinyreptile_ref import ParameterError, ShapeError, DTypeError
from tinyreptile_ref.runtime.model import Conv1d, Dense, Flatten, Model, ReLU, Tanh
from tinyreptile_ref.testing import assert_bits_equal

F32 = np.float32


def sine_model(h=64):
    return Model((1,), [Dense(h), Tanh(), Dense(h), Tanh(), Dense(1)], loss="mse")


def conv_model(ways=5):
    return Model((8, 8), [Conv1d(16, 3), ReLU(), Conv1d(16, 3), ReLU(), Flatten(), Dense(ways)],
                 loss="softmax_xent")


# ---------------------------------------------------------------- layout and memory plan

def test_parameters_lie_in_table_order_weight_then_bias():
    m = sine_model()
    rows = [(L.kind, L.w_off, L.w_shape, L.b_off, L.b_len) for L in m.layers if L.has_params]
    assert rows == [("dense", 0, (64, 1), 64, 64),
                    ("dense", 128, (64, 64), 4224, 64),
                    ("dense", 4288, (1, 64), 4352, 1)]
    assert m.n_params == 4353
    theta = np.arange(m.n_params, dtype=F32)
    (w0, b0), _, (w2, b2), _, (w4, b4) = m.views(theta)
    assert w2[1, 0] == 128 + 64 and b2[0] == 4224 and b4[0] == 4352
    assert np.shares_memory(w2, theta)


def test_sine_memory_plan_matches_hand_computed_bytes():
    m = sine_model()
    # P = (1*64+64) + (64*64+64) + (64*1+1) = 4353 floats = 17412 bytes.
    # kept activations per sample: dense outputs 64 + 64 + 1 = 129 floats (tanh in place).
    # deltas per sample: dpred (1) -> buffer 0, dx of dense 2 (64) -> buffer 1,
    #   dx of dense 1 (64) -> buffer 0: 64 + 64 = 128 floats.
    # one sample: x (1 float) + target (1 float) = 8 bytes.
    p = m.memory_plan(batch=1)
    assert (p.params, p.grads, p.activations, p.deltas, p.samples, p.flash) == \
        (17412, 17412, 516, 512, 8, 17412)
    assert p.ram == 17412 + 17412 + 516 + 512 + 8 == 35860
    # Reptile's device: batch 10 from 50 stored samples.
    p = m.memory_plan(batch=10, stored=50)
    assert (p.activations, p.deltas, p.samples) == (10 * 516, 10 * 512, 50 * 8)
    assert p.ram == 34824 + 5160 + 5120 + 400 == 45504


def test_conv_memory_plan_matches_hand_computed_bytes():
    m = conv_model()
    # conv1: [8, 8] -> [6, 16], w 16*3*8 + 16 = 400; conv2: [6, 16] -> [4, 16], w 16*3*16 + 16
    # = 784; dense: 64 -> 5, 64*5 + 5 = 325. P = 1509 floats = 6036 bytes.
    assert m.n_params == 1509
    # kept: 96 + 64 + 5 = 165 floats (ReLU in place, flatten an alias) = 660 bytes.
    # deltas: dlogits 5 (buffer 0), dense dx 64 (buffer 1), conv2 dx 96 (buffer 0); conv1's
    # dx is not needed: 96 + 64 = 160 floats = 640 bytes.
    # sample: 64 floats + one int32 label = 260 bytes.
    p = m.memory_plan(batch=1)
    assert (p.params, p.grads, p.activations, p.deltas, p.samples) == (6036, 6036, 660, 640, 260)
    assert p.ram == 13632
    p = m.memory_plan(batch=5, stored=25)
    assert p.ram == 12072 + 5 * 660 + 5 * 640 + 25 * 260


def test_a_single_layer_model_needs_one_delta_buffer():
    m = Model((3,), [Dense(2)], loss="mse")
    p = m.memory_plan(batch=4)
    assert p.deltas == 4 * 4 * 2          # dpred only: no dx is needed
    assert p.activations == 4 * 4 * 2
    assert p.samples == 4 * (4 * 3 + 4 * 2)


def test_memory_plan_refuses_a_batch_larger_than_the_store():
    with pytest.raises(ParameterError, match="^stored: "):
        sine_model().memory_plan(batch=10, stored=5)


def test_mac_counts_match_hand_computed_values():
    m = sine_model()
    # forward 64 + 4096 + 64 = 4224; dw 4224; dx 4096 + 64 (not the first layer); SGD 4353.
    assert m.step_macs(1) == 4224 + 4224 + 4160 + 4353
    assert m.step_macs(10) == 10 * (4224 + 4224 + 4160) + 4353
    c = conv_model()
    # conv1: 6 outputs * 3 taps * 8 * 16 = 2304; conv2: 4 * 3 * 16 * 16 = 3072; dense 320.
    assert [L.macs for L in c.layers] == [2304, 0, 3072, 0, 0, 320]
    # 'same' padding skips the taps in the padding: L=4, K=3 -> 4*3 - 2 edge taps = 10.
    s = Model((4, 1), [Conv1d(1, 3, padding="same")])
    assert s.layers[0].macs == 10 and s.layers[0].out_shape == (4, 1)


def test_model_refuses_layers_that_do_not_fit():
    with pytest.raises(ShapeError, match="Flatten"):
        Model((8, 8), [Conv1d(4, 3), Dense(2)])
    with pytest.raises(ShapeError, match=r"^layers\[0\]"):
        Model((8,), [Conv1d(4, 3)])
    with pytest.raises(ShapeError, match="no output"):
        Model((2, 1), [Conv1d(4, 3)])
    with pytest.raises(ParameterError, match="^loss: "):
        Model((1,), [Dense(1)], loss="hinge")
    with pytest.raises(ParameterError, match=r"^layers\[0\]"):
        Model((1,), ["dense"])
    with pytest.raises(ParameterError, match=r"^layers\[0\].padding"):
        Model((8, 1), [Conv1d(1, 3, padding="causal")])


def test_init_is_bounded_by_fan_in_and_deterministic():
    m = conv_model()
    t1 = m.init(np.random.default_rng(3))
    t2 = m.init(np.random.default_rng(3))
    assert_bits_equal(t1, t2)
    views = m.views(t1)
    for L, v in zip(m.layers, views):
        if v is None:
            continue
        bound = 1 / np.sqrt(np.prod(L.w_shape[1:]))
        assert np.abs(v[0]).max() <= bound and np.abs(v[1]).max() <= bound
        assert np.abs(v[0]).max() > 0.8 * bound  # spread over the interval, not a constant


# --------------------------------------------------------------------------- gradients

def _ref_loss(model, theta64, x, target):
    """The model's loss in float64, computed independently of the kernels."""
    a = x.astype(np.float64)
    for L in model.layers:
        if L.kind == "dense":
            w = theta64[L.w_off:L.w_off + np.prod(L.w_shape)].reshape(L.w_shape)
            b = theta64[L.b_off:L.b_off + L.b_len]
            a = a @ w.T + b
        elif L.kind == "conv1d":
            C_out, K, C_in = L.w_shape
            w = theta64[L.w_off:L.w_off + np.prod(L.w_shape)].reshape(L.w_shape)
            b = theta64[L.b_off:L.b_off + L.b_len]
            Lin, Lout = L.in_shape[0], L.out_shape[0]
            y = np.zeros((a.shape[0], Lout, C_out)) + b
            for t in range(Lout):
                for k in range(K):
                    p = t * L.stride + k * L.dilation - L.pad_before
                    if 0 <= p < Lin:
                        y[:, t, :] += a[:, p, :] @ w[:, k, :].T
            a = y
        elif L.kind == "relu":
            a = np.maximum(a, 0.0)
        elif L.kind == "tanh":
            a = np.tanh(a)
        else:
            a = a.reshape(a.shape[0], -1)
    if model.loss == "mse":
        return np.mean((a - target.astype(np.float64)) ** 2)
    z = a - a.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -np.mean(logp[np.arange(a.shape[0]), target])


@pytest.mark.parametrize("which", ["tanh-mse", "conv-relu-xent", "same-padding-stride"])
@pytest.mark.parametrize("batch", [1, 3])
def test_gradient_matches_float64_finite_differences(backend, which, batch):
    rng = np.random.default_rng(7)
    if which == "tanh-mse":
        m = Model((2,), [Dense(5), Tanh(), Dense(4), Tanh(), Dense(2)], loss="mse")
        x = rng.uniform(-1, 1, (batch, 2)).astype(F32)
        t = rng.uniform(-1, 1, (batch, 2)).astype(F32)
    elif which == "conv-relu-xent":
        m = Model((6, 3), [Conv1d(4, 3), ReLU(), Conv1d(3, 2, dilation=2), ReLU(), Flatten(),
                           Dense(3)], loss="softmax_xent")
        x = rng.uniform(-1, 1, (batch, 6, 3)).astype(F32)
        t = rng.integers(0, 3, batch).astype(np.int32)
    else:
        m = Model((7, 2), [Conv1d(3, 3, stride=2, padding="same"), Tanh(), Flatten(),
                           Dense(2)], loss="mse")
        x = rng.uniform(-1, 1, (batch, 7, 2)).astype(F32)
        t = rng.uniform(-1, 1, (batch, 2)).astype(F32)
    theta = m.init(rng)
    theta += rng.uniform(-0.1, 0.1, theta.shape).astype(F32)  # biases away from 0
    ws = m.workspace(backend, theta)
    loss = ws.loss_and_grad(x, t)
    th64 = theta.astype(np.float64)
    assert abs(float(loss) - _ref_loss(m, th64, x, t)) <= 1e-5 * (1 + abs(float(loss)))
    h = 1e-6
    fd = np.empty(m.n_params)
    for j in range(m.n_params):
        e = np.zeros(m.n_params)
        e[j] = h
        fd[j] = (_ref_loss(m, th64 + e, x, t) - _ref_loss(m, th64 - e, x, t)) / (2 * h)
    err = np.abs(ws.grad.astype(np.float64) - fd)
    assert np.all(err <= 1e-4 * np.abs(fd) + 2e-5), (err.max(), np.argmax(err))
    # A gradient entry that is really zero (a dead ReLU) must not be what makes this pass:
    assert np.abs(fd).max() > 1e-2


def test_relu_backward_from_the_output_equals_backward_from_the_input(backend):
    # The model (and a device working in place) passes ReLU's output to relu_backward.
    special = [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 3e38, -3e38]
    x = np.array(special * len(special), F32).reshape(-1, 11)
    dy = np.array([[v] * 11 for v in special], F32).reshape(-1, 11)
    y = backend.relu_forward_f32(x)
    assert_bits_equal(backend.relu_backward_f32(dy, y), backend.relu_backward_f32(dy, x))


# ------------------------------------------------------------------- training, backends

def _batch(m, rng, n):
    x = rng.uniform(-1, 1, (n,) + m.input_shape).astype(F32)
    if m.loss == "mse":
        return x, rng.uniform(-1, 1, (n,) + m.output_shape).astype(F32)
    return x, rng.integers(0, m.output_shape[0], n).astype(np.int32)


@pytest.mark.parametrize("make", [sine_model, conv_model], ids=["sine", "conv"])
@pytest.mark.parametrize("batch", [1, 4])
def test_backends_train_to_the_same_bits(cb, npb, make, batch):
    m = make()
    rng = np.random.default_rng(11)
    theta = m.init(rng)
    data = [_batch(m, rng, batch) for _ in range(3)]
    out = []
    for be in (cb, npb):
        ws = m.workspace(be, theta)
        losses = [ws.sgd_step(x, t, 0.05) for x, t in data]
        out.append((ws.theta.copy(), ws.grad.copy(), np.array(losses, F32), ws.forward(data[0][0])))
    for a, b in zip(*out):
        assert_bits_equal(a, b)
    assert not np.array_equal(out[0][0], theta)  # training moved the parameters


def test_sgd_step_is_gradient_then_update(backend):
    m = sine_model(8)
    rng = np.random.default_rng(5)
    theta = m.init(rng)
    x, t = _batch(m, rng, 3)
    ws = m.workspace(backend, theta)
    ws.loss_and_grad(x, t)
    expect = theta.copy()
    backend.sgd_step_f32(expect, ws.grad, 0.1)
    ws.load(theta)
    ws.sgd_step(x, t, 0.1)
    assert_bits_equal(ws.theta, expect)


def test_fit_reduces_the_loss_of_a_linear_regression(backend):
    m = Model((3,), [Dense(1)], loss="mse")
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, (20, 3)).astype(F32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]]) + 0.3).astype(F32)
    ws = m.workspace(backend, m.init(rng))
    losses = ws.fit(x, y, steps=300, lr=0.3)
    assert losses[-1] < 1e-3 * losses[0]
    w, b = m.views(ws.theta)[0]
    assert np.allclose(w, [[1.0, -2.0, 0.5]], atol=1e-2) and abs(b[0] - 0.3) < 1e-2


def test_fit_in_mini_batches_wraps_around_the_data(backend):
    m = Model((1,), [Dense(1)], loss="mse")
    x = np.arange(5, dtype=F32).reshape(5, 1)
    y = np.zeros((5, 1), F32)
    ws = m.workspace(backend, np.ones(2, F32))
    seen = []
    orig = ws.sgd_step
    ws.sgd_step = lambda xb, tb, lr: seen.append(xb[:, 0].tolist()) or orig(xb, tb, lr)
    ws.fit(x, y, steps=3, lr=0.0, batch=2)
    assert seen == [[0, 1], [2, 3], [4, 0]]


def test_workspace_checks_inputs_by_name(backend):
    m = conv_model()
    ws = m.workspace(backend)
    x = np.zeros((2, 8, 8), F32)
    with pytest.raises(ShapeError, match="^x: "):
        ws.forward(np.zeros((2, 8, 7), F32))
    with pytest.raises(DTypeError, match="^x: "):
        ws.forward(x.astype(np.float64))
    with pytest.raises(DTypeError, match="^target: "):
        ws.loss_and_grad(x, np.zeros(2, np.int64))
    with pytest.raises(ShapeError, match="^target: "):
        ws.loss_and_grad(x, np.zeros(3, np.int32))
    with pytest.raises(ShapeError, match="^theta: "):
        ws.load(np.zeros(5, F32))
    s = sine_model(4).workspace(backend)
    with pytest.raises(ShapeError, match="^target: "):
        s.loss_and_grad(np.zeros((2, 1), F32), np.zeros((2,), F32))


def test_conv1d_tap_count_equals_counting_every_tap():
    """The layer's MACs come from a per-k count (fast for long inputs); it equals the count
    of every (t, k) with a tap inside the input."""
    from tinyreptile_ref.kernels.conv1d import conv1d_out_len
    from tinyreptile_ref.runtime.model import _valid_taps
    rng = np.random.default_rng(3)
    checked = 0
    for _ in range(500):
        L, K = int(rng.integers(1, 40)), int(rng.integers(1, 12))
        s, d = int(rng.integers(1, 5)), int(rng.integers(1, 4))
        padding = ("valid", "same")[int(rng.integers(2))]
        if (K - 1) * d + 1 > L and padding == "valid":
            continue
        L_out, pad = conv1d_out_len(L, K, s, d, padding)
        every = sum(1 for t in range(L_out) for k in range(K) if 0 <= t * s + k * d - pad < L)
        assert _valid_taps(L, L_out, K, s, d, pad) == every, (L, K, s, d, padding)
        checked += 1
    assert checked > 300
