"""Tasks: sine-wave regression (the Reptile paper's toy problem) and few-shot classification
of scikit-learn's bundled 8x8 digits with a conv1d model; their default hyper-parameters; the
evaluation protocol; and `run`, which trains one algorithm on one task and measures it.

Sine (Nichol, Achiam, Schulman 2018, section 4 and their published script): a task is
y = A sin(x + p), A ~ U(0.1, 5), p ~ U(0, 2π), x ~ U(-5, 5). Model 1-64-64-1 with tanh, MSE.
Evaluation on held-out tasks: 10 shots, 32 full-batch SGD steps at the inner learning rate,
then the MSE on a 50-point grid over [-5, 5] (before adaptation too).

Digits: the 1797 8x8 images of sklearn.datasets.load_digits (shipped inside scikit-learn;
nothing is downloaded), pixels / 16, each image read as 8 time steps (rows) x 8 channels
(columns). The samples of every class are split once, by the seed, into a training pool (the
devices') and a held-out pool (evaluation). A task is N-way: N classes drawn at random, and a
label assignment of its own (label j is the j-th drawn class), so no initialization can know
the labels without adapting. A device streams samples of its task from the training pool
(label uniform, image uniform within the class). Evaluation: an N-way k-shot support set and
a disjoint query set of held-out images per task; full-batch SGD on the support set; the
accuracy on the queries. Model: conv1d(16, 3) ReLU conv1d(16, 3) ReLU flatten dense(N).

Sine data are float32 throughout: A, p and x are counter-based uniforms (kernels/rng.py) and
y = A * sin(x + p) with the library's own sin (mathf.c's tr_sin_f32, twin mathf.sin_f32), two
roundings and sin's, so a device (or C) computes the same bits; digits are exact in float32.
`rng` below is a counter-based cursor (federated.algorithms.draws). No data passes through a
backend.
"""
import math
import time

import numpy as np

from . import algorithms as fl
from ..errors import ParameterError
from ..kernels.mathf import sin_f32
from ..runtime.model import Conv1d, Dense, Flatten, Model, ReLU, Tanh

F32 = np.float32
TASKS = ("sine", "digits")


# ------------------------------------------------------------------------------------ sine

TWO_PI = F32(2 * math.pi)  # the phase range's end, rounded to float32


class SineTask:
    """y = amplitude * sin(x + phase)."""

    def __init__(self, amplitude, phase):
        self.amplitude = F32(amplitude)
        self.phase = F32(phase)

    def f(self, x):
        """Targets [n, 1] float32 for inputs x [n, 1] float32: A * sin_f32(x + p), float32."""
        return self.amplitude * sin_f32(x.reshape(-1, 1) + self.phase)

    def sample(self, rng, n):
        """n samples: x ~ U(-5, 5) float32 (draws 0 .. n-1 of rng), x [n, 1] and y [n, 1]."""
        x = rng.uniform(-5.0, 5.0, n).astype(F32).reshape(n, 1)
        return x, self.f(x)


class Sine:
    """The sine-wave regression task family."""
    name = "sine"
    metric = "mse"
    GRID = np.linspace(-5.0, 5.0, 50).astype(F32).reshape(50, 1)

    def __init__(self, seed, shots=10, hidden=64):
        # `seed` is part of every family's signature; sine tasks need no fixed split
        self.shots = shots
        self.hidden = hidden

    def model(self):
        h = self.hidden
        return Model((1,), [Dense(h), Tanh(), Dense(h), Tanh(), Dense(1)], loss="mse")

    def device_task(self, rng):
        return SineTask(rng.uniform(0.1, 5.0), rng.uniform(0.0, TWO_PI))

    def eval_tasks(self, rng, n):
        """n held-out tasks: (support x, support y, query x, query y) with the 10-shot support
        drawn from the task and the query the 50-point grid."""
        out = []
        for _ in range(n):
            t = self.device_task(rng)
            xs, ys = t.sample(rng, self.shots)
            out.append((xs, ys, self.GRID, t.f(self.GRID)))
        return out

    def score(self, ws, x, y):
        return float(ws.loss(x, y))


# ---------------------------------------------------------------------------------- digits

def load_digits_f32():
    """(images [1797, 8, 8] float32 in [0, 1], labels [1797] int64) from scikit-learn."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError("the digits task needs scikit-learn: pip install "
                          "'tinyreptile_ref[tasks]'") from exc
    d = load_digits()
    return (d.images / 16.0).astype(F32), d.target.astype(np.int64)


class DigitsTask:
    """An N-way task on a pool of images: label j is class classes[j]."""

    def __init__(self, images, by_class, classes):
        self.images = images
        self.by_class = by_class  # class -> indices of its images in this pool
        self.classes = [int(c) for c in classes]

    def sample_indices(self, rng, n):
        """Image indices [n] and labels [n] int32: labels uniform over the N ways, images
        uniform within the label's class."""
        labels = rng.integers(len(self.classes), size=n)
        pools = [self.by_class[self.classes[j]] for j in labels]
        within = rng.integers(np.array([len(p) for p in pools], np.int64), size=n)
        idx = [p[w] for p, w in zip(pools, within)]
        return np.asarray(idx, np.int64), labels.astype(np.int32)

    def sample(self, rng, n):
        """n samples: x [n, 8, 8] float32, y [n] int32 (see sample_indices)."""
        idx, labels = self.sample_indices(rng, n)
        return self.images[idx], labels


class Digits:
    """Few-shot classification of the 8x8 digits, read as 8 steps x 8 channels."""
    name = "digits"
    metric = "accuracy"

    def __init__(self, seed, ways=5, shots=5, queries=10, holdout=0.5, filters=16):
        self.ways, self.shots, self.queries, self.filters = ways, shots, queries, filters
        images, labels = load_digits_f32()
        self.images = images
        rng = fl.stream(seed, fl.KEY_SPLIT)
        self.train, self.test = {}, {}
        for c in range(10):
            idx = rng.permutation(np.flatnonzero(labels == c))
            cut = int(round(len(idx) * (1.0 - holdout)))
            self.train[c], self.test[c] = idx[:cut], idx[cut:]
        need = shots + queries
        if min(len(v) for v in self.test.values()) < need:
            raise ParameterError(f"shots: {shots} shots + {queries} queries per class exceed "
                                 f"the held-out images of the smallest class")

    def model(self):
        f = self.filters
        return Model((8, 8), [Conv1d(f, 3), ReLU(), Conv1d(f, 3), ReLU(), Flatten(),
                              Dense(self.ways)], loss="softmax_xent")

    def device_task(self, rng):
        return DigitsTask(self.images, self.train, rng.choice(10, self.ways, replace=False))

    def eval_task_indices(self, rng, n):
        """n held-out tasks as image indices: (support idx, y, query idx, y) with `shots`
        support and `queries` query images per class, drawn without replacement from the
        held-out pool, in label order; the classes and their order are the task's own."""
        out = []
        for _ in range(n):
            classes = rng.choice(10, self.ways, replace=False)
            s_idx, s_y, q_idx, q_y = [], [], [], []
            for j, c in enumerate(classes):
                pick = rng.choice(self.test[int(c)], self.shots + self.queries, replace=False)
                s_idx.append(pick[:self.shots])
                q_idx.append(pick[self.shots:])
                s_y += [j] * self.shots
                q_y += [j] * self.queries
            out.append((np.concatenate(s_idx), np.asarray(s_y, np.int32),
                        np.concatenate(q_idx), np.asarray(q_y, np.int32)))
        return out

    def eval_tasks(self, rng, n):
        """n held-out tasks: (support x, y, query x, y); see eval_task_indices."""
        return [(self.images[si], sy, self.images[qi], qy)
                for si, sy, qi, qy in self.eval_task_indices(rng, n)]

    def score(self, ws, x, y):
        logits = ws.forward(x)
        return float(np.mean(np.argmax(logits, axis=1) == y))


def family(name, seed, **kw):
    if name == "sine":
        return Sine(seed, **kw)
    if name == "digits":
        return Digits(seed, **kw)
    raise ParameterError(f"task: {name!r} is not one of {', '.join(TASKS)}")


# ------------------------------------------------------------------------------ defaults

#: Default hyper-parameters per task and algorithm (see README / the report for why).
DEFAULTS = {
    ("sine", "reptile"): dict(rounds=30000, k=50, inner_lr=0.02, epochs=1, batch=10,
                              meta_batch=1, eps0=0.1),
    ("sine", "tinyreptile"): dict(rounds=30000, k=10, inner_lr=0.02, eps0=0.1),
    ("sine", "fedavg"): dict(rounds=6000, k=50, inner_lr=0.02, epochs=1, batch=10,
                             meta_batch=5),
    ("digits", "reptile"): dict(rounds=2000, k=25, inner_lr=0.1, epochs=2, batch=5,
                                meta_batch=1, eps0=0.3),
    ("digits", "tinyreptile"): dict(rounds=2000, k=25, inner_lr=0.1, eps0=0.3),
    ("digits", "fedavg"): dict(rounds=400, k=25, inner_lr=0.1, epochs=2, batch=5,
                               meta_batch=5),
}
#: Evaluation defaults per task: adaptation steps (full batch, at the inner learning rate).
#: Sine follows the Reptile paper (32); digits uses 10, where a learned initialization shows
#: (from the untrained init, 10 steps at lr 0.1 leave 5-way accuracy near chance).
EVAL_STEPS = {"sine": 32, "digits": 10}


def config(task, algo, **overrides):
    """The Config of `algo` on `task`: DEFAULTS with the given non-None overrides."""
    if (task, algo) not in DEFAULTS:
        if task not in TASKS:
            raise ParameterError(f"task: {task!r} is not one of {', '.join(TASKS)}")
        raise ParameterError(f"algo: {algo!r} is not one of {', '.join(fl.ALGOS)}")
    kw = dict(DEFAULTS[(task, algo)])
    kw.update({k: v for k, v in overrides.items() if v is not None})
    return fl.Config(algo=algo, **kw)


# ---------------------------------------------------------------------------- evaluation

def evaluate(fam, ws, theta, tasks, steps, lr):
    """Adapt θ to each task (full-batch SGD, `steps` steps at `lr`) and score it on the
    task's queries; returns per-task scores before and after adaptation."""
    before, after = [], []
    for xs, ys, xq, yq in tasks:
        ws.load(theta)
        before.append(fam.score(ws, xq, yq))
        ws.fit(xs, ys, steps, lr)
        after.append(fam.score(ws, xq, yq))
    return np.asarray(before), np.asarray(after)


def summary(values):
    """Mean, sample standard deviation and the 95 % half-width of the mean."""
    v = np.asarray(values, np.float64)
    sd = float(v.std(ddof=1)) if v.size > 1 else 0.0
    return {"mean": float(v.mean()), "std": sd, "ci95": 1.96 * sd / math.sqrt(max(v.size, 1)),
            "n": int(v.size)}


def run(task, algo, backend, seed, rounds=None, eval_tasks=100, curve_tasks=20, curve_points=20,
        eval_steps=None, progress=None, trainer=None, threads=1, **overrides):
    """Train `algo` on `task` with `backend` (a backend module) from `seed`; returns
    (θ, results dict). The evaluation tasks come from the seed, so every algorithm run with
    the same seed meets the same held-out tasks. `trainer` replaces algorithms.train (same
    signature): the rig's loop over devices on links (devices.Trainer)."""
    fam = family(task, seed)
    cfg = config(task, algo, rounds=rounds, **overrides)
    model = fam.model()
    fl.check_sizes(model, cfg)
    steps = EVAL_STEPS[task] if eval_steps is None else eval_steps
    held_out = fam.eval_tasks(fl.draws(seed, fl.KEY_EVAL), max(eval_tasks, curve_tasks))
    ews = model.workspace(backend)
    lr = cfg.inner_lr

    eval_time = [0.0]

    def curve(theta):
        t = time.perf_counter()
        b, a = evaluate(fam, ews, theta, held_out[:curve_tasks], steps, lr)
        eval_time[0] += time.perf_counter() - t
        return {"before": float(b.mean()), "after": float(a.mean())}

    every = max(1, cfg.rounds // curve_points) if curve_points else 0
    t0 = time.perf_counter()
    kw = dict(evaluate=curve if every else None, eval_every=every, progress=progress)
    theta, hist = (trainer(model, backend, fam, cfg, seed, **kw) if trainer else
                   fl.train(model, backend, fam, cfg, seed, threads=threads, **kw))
    wall = time.perf_counter() - t0 - eval_time[0]  # training only, the curve excluded
    theta0 = model.init(fl.stream(seed, fl.KEY_INIT))
    b0, a0 = evaluate(fam, ews, theta0, held_out[:eval_tasks], steps, lr)
    b1, a1 = evaluate(fam, ews, theta, held_out[:eval_tasks], steps, lr)
    results = {
        "task": task, "algo": algo, "seed": seed, "metric": fam.metric,
        "config": cfg.as_dict(),
        "model": {"layers": model.describe().splitlines(), "n_params": model.n_params},
        "eval": {"tasks": eval_tasks, "steps": steps, "lr": lr,
                 "shots": fam.shots, "trained": {"before": summary(b1), "after": summary(a1)},
                 "init": {"before": summary(b0), "after": summary(a0)}},
        "costs": fl.costs(model, cfg),
        "wall_time_s": wall,
        "history": hist,
    }
    return theta, results
