"""Tasks: data shapes, ranges and determinism, the held-out split, the evaluation protocol."""
import math

import numpy as np
import pytest

from tinyreptile_ref import ParameterError
from tinyreptile_ref.federated import algorithms as fl
from tinyreptile_ref.federated import tasks as tk
from tinyreptile_ref.kernels.mathf import sin_f32
from tinyreptile_ref.testing import assert_bits_equal

F32 = np.float32


# ------------------------------------------------------------------------------------ sine

def test_sine_samples_follow_the_reptile_setup():
    fam = tk.Sine(0)
    tasks = [fl.device_task(fam, 0, i) for i in range(200)]
    amps = np.array([t.amplitude for t in tasks])
    phases = np.array([t.phase for t in tasks])
    assert amps.min() >= 0.1 and amps.max() <= 5.0 and amps.max() - amps.min() > 4
    assert phases.min() >= 0 and phases.max() <= 2 * math.pi and phases.max() > 5.5
    t = tasks[0]
    x, y = t.sample(fl.device_rng(0, 0, 1), 500)
    assert x.shape == (500, 1) and y.shape == (500, 1) and x.dtype == F32 and y.dtype == F32
    assert x.min() >= -5 and x.max() <= 5 and x.min() < -4.9 and x.max() > 4.9
    # y = A sin(x + p) in float32 with the library's sin: the documented operations, and
    # within a few float32 roundings of the float64 formula
    assert_bits_equal(y, t.amplitude * sin_f32(x + t.phase))
    exact = float(t.amplitude) * np.sin(x.astype(np.float64) + float(t.phase))
    assert np.max(np.abs(y - exact)) <= 2**-20 * 5


def test_sine_data_depend_only_on_the_stream_coordinates():
    t = tk.SineTask(2.0, 1.0)
    a = t.sample(fl.device_rng(5, 1, 2), 10)
    b = t.sample(fl.device_rng(5, 1, 2), 10)
    c = t.sample(fl.device_rng(5, 1, 3), 10)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_sine_eval_tasks_have_10_shots_and_the_50_point_grid():
    held = tk.Sine(0).eval_tasks(fl.draws(0, fl.KEY_EVAL), 3)
    xs, ys, xq, yq = held[0]
    assert xs.shape == (10, 1) and ys.shape == (10, 1)
    assert xq.shape == (50, 1) and yq.shape == (50, 1)
    assert xq[0, 0] == -5 and xq[-1, 0] == 5 and np.all(np.diff(xq[:, 0]) > 0)
    again = tk.Sine(0).eval_tasks(fl.draws(0, fl.KEY_EVAL), 3)
    for a, b in zip(held, again):
        for u, v in zip(a, b):
            assert np.array_equal(u, v)
    assert not np.array_equal(held[0][3], held[1][3])


# ---------------------------------------------------------------------------------- digits

@pytest.fixture(scope="module")
def digits():
    pytest.importorskip("sklearn")
    return tk.Digits(0)


def test_digits_are_read_as_8_steps_by_8_channels(digits):
    from sklearn.datasets import load_digits
    d = load_digits()
    assert digits.images.shape == (1797, 8, 8) and digits.images.dtype == F32
    # x[t, c] is row t, column c of the image, pixel / 16 (exact in float32)
    assert np.array_equal(digits.images[17], (d.images[17] / 16).astype(F32))
    assert digits.images.min() == 0 and digits.images.max() == 1


def test_digits_split_is_disjoint_and_complete(digits):
    for c in range(10):
        tr, te = set(digits.train[c].tolist()), set(digits.test[c].tolist())
        assert not tr & te and len(te) >= 15
        assert abs(len(tr) - len(te)) <= 1
    all_idx = sorted(i for c in range(10) for i in list(digits.train[c]) + list(digits.test[c]))
    assert all_idx == list(range(1797))
    other = tk.Digits(1)
    assert not np.array_equal(other.test[0], digits.test[0])  # the split follows the seed


def test_digits_device_tasks_sample_their_own_classes_from_the_training_pool(digits):
    from sklearn.datasets import load_digits
    labels = load_digits().target
    task = digits.device_task(fl.draws(0, fl.KEY_DEVICE_TASK, 3))
    assert len(set(task.classes)) == 5
    idx, y = task.sample_indices(fl.device_rng(0, 3, 4), 200)
    assert y.shape == (200,) and y.dtype == np.int32 and set(y.tolist()) == set(range(5))
    train = {int(i) for c in range(10) for i in digits.train[c]}
    assert set(idx.tolist()) <= train
    assert np.array_equal(labels[idx], np.asarray(task.classes)[y])  # label j is class j
    x, y2 = task.sample(fl.device_rng(0, 3, 4), 200)
    assert x.shape == (200, 8, 8) and np.array_equal(x, digits.images[idx])
    assert np.array_equal(y, y2)


def test_digits_eval_tasks_hold_out_disjoint_support_and_query(digits):
    from sklearn.datasets import load_digits
    labels = load_digits().target
    held = digits.eval_task_indices(fl.draws(0, fl.KEY_EVAL), 20)
    test = {int(i) for c in range(10) for i in digits.test[c]}
    assignments = set()
    for si, sy, qi, qy in held:
        assert si.shape == (25,) and qi.shape == (50,)
        assert np.bincount(sy).tolist() == [5] * 5 and np.bincount(qy).tolist() == [10] * 5
        assert set(si.tolist()) <= test and set(qi.tolist()) <= test
        assert not set(si.tolist()) & set(qi.tolist())
        classes = labels[si[::5]]
        assert len(set(classes.tolist())) == 5
        assert np.array_equal(labels[si], classes[sy]) and np.array_equal(labels[qi], classes[qy])
        assignments.add(tuple(classes.tolist()))
    assert len(assignments) == 20  # every task draws its own classes and label order
    xs, ys, xq, yq = digits.eval_tasks(fl.draws(0, fl.KEY_EVAL), 1)[0]
    assert np.array_equal(xs, digits.images[held[0][0]]) and xq.shape == (50, 8, 8)


def test_digits_model_is_the_conv1d_model(digits):
    m = digits.model()
    assert [L.kind for L in m.layers] == ["conv1d", "relu", "conv1d", "relu", "flatten", "dense"]
    assert m.input_shape == (8, 8) and m.output_shape == (5,) and m.loss == "softmax_xent"


# ---------------------------------------------------------------- defaults and evaluation

def test_config_takes_defaults_and_overrides():
    cfg = tk.config("sine", "reptile")
    assert (cfg.rounds, cfg.k, cfg.batch, cfg.inner_lr, cfg.eps0) == (30000, 50, 10, 0.02, 0.1)
    cfg = tk.config("sine", "tinyreptile", rounds=7, k=None)
    assert cfg.rounds == 7 and cfg.k == tk.DEFAULTS[("sine", "tinyreptile")]["k"]
    with pytest.raises(ParameterError, match="^task: "):
        tk.config("mnist", "reptile")
    with pytest.raises(ParameterError, match="^algo: "):
        tk.config("sine", "maml")


def test_evaluate_scores_before_and_after_adaptation(cb):
    fam = tk.Sine(0)
    m = fam.model()
    theta = m.init(np.random.default_rng(0))
    held = fam.eval_tasks(fl.draws(0, fl.KEY_EVAL), 4)
    ws = m.workspace(cb)
    before, after = tk.evaluate(fam, ws, theta, held, steps=5, lr=0.02)
    xs, ys, xq, yq = held[2]
    ws.load(theta)
    assert before[2] == float(ws.loss(xq, yq))
    ws.fit(xs, ys, 5, 0.02)
    assert after[2] == float(ws.loss(xq, yq))
    _, none = tk.evaluate(fam, ws, theta, held, steps=0, lr=0.02)
    assert np.array_equal(none, before)


def test_summary_gives_mean_spread_and_interval():
    s = tk.summary([1.0, 2.0, 3.0, 4.0])
    assert s["mean"] == 2.5 and s["n"] == 4
    assert s["std"] == pytest.approx(np.sqrt(5 / 3))
    assert s["ci95"] == pytest.approx(1.96 * np.sqrt(5 / 3) / 2)


def test_digits_score_is_the_accuracy_of_the_argmax(cb, digits):
    m = digits.model()
    ws = m.workspace(cb, m.init(np.random.default_rng(0)))
    xs, ys, xq, yq = digits.eval_tasks(fl.draws(0, fl.KEY_EVAL), 1)[0]
    pred = np.argmax(ws.forward(xq), axis=1)
    assert digits.score(ws, xq, yq) == np.mean(pred == yq)
