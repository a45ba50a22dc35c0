"""Federated meta-learning on the model: TinyReptile, Reptile (with an optional meta-batch)
and FedAvg, with the server side and the device side separated as in a deployment.

The server holds θ; each round it picks devices and sends them θ; a device sees only that θ
and its own samples, trains a copy of it into φ and sends φ back; the server aggregates:

  TinyReptile  one device per round; it streams k samples and takes one SGD step per sample
               (batch size 1, each sample used once) -> φ; θ <- θ + ε_r (φ - θ).
  Reptile      M devices per round (meta-batch, default 1); each stores its k samples and runs
               E epochs of mini-batch SGD (a fresh shuffle per epoch) -> φ_m;
               θ <- θ + ε_r (mean_m φ_m - θ).
  FedAvg       M devices per round, local training as Reptile's; θ <- mean_m φ_m.

ε_r anneals linearly from ε₀ (round 0) towards ε_end (default 0) over the run:
ε_r = ε₀ + (ε_end - ε₀) r / R, computed in float64 and rounded once to float32 by the kernel
(anneal="constant" keeps ε₀). The mean of M parameter vectors is a running mean in device
order with the interpolation kernel: μ₁ = φ₁, μ_m = μ_{m-1} + (1/m)(φ_m - μ_{m-1}).

Randomness: everything comes from one integer seed. The initial θ (and the digits' pool
split) come from numpy's SeedSequence streams (`stream`); every other draw is counter-based
(csrc/rng.c, twin kernels/rng.py): a pure function of (seed, stream, device, round, index),
taken by a `draws` cursor from index 0 on: the server's device choice in round r
(KEY_SERVER, device 0, round r), each device's task (KEY_DEVICE_TASK, device id, round 0),
each device's samples and shuffles in round r (KEY_DEVICE_DATA, device id, r) and the
held-out tasks (KEY_EVAL). A device can thus draw its own data, and a block of rounds can be
generated without Python per round. Data never passes through a backend, so the NumPy and
the C backend see the same samples and produce the same θ bit for bit.
"""
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np

from ..kernels import _checks as ck
from ..kernels.rng import Stream
from ..errors import ParameterError

F32 = np.float32

ALGOS = ("tinyreptile", "reptile", "fedavg")
#: the most rounds one call of a backend's whole-run entry point covers (progress granularity)
BLOCK_ROUNDS = 500
ANNEALS = ("linear", "constant")

# spawn keys of the random streams derived from the seed
KEY_INIT, KEY_SERVER, KEY_DEVICE_TASK, KEY_DEVICE_DATA, KEY_EVAL, KEY_SPLIT = range(6)


def stream(seed, *key):
    """The numpy Generator of the stream `key` (a tuple of ints) under `seed`."""
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=key))


def annealed_eps(eps0, eps_end, r, rounds, anneal="linear"):
    """The server's interpolation step in round r (0-based) of `rounds`, a Python float:
    eps0 + (eps_end - eps0) * (r / rounds) for "linear", eps0 for "constant". The one
    formula: Config.eps and the golden-vector generator both call it."""
    if anneal == "constant":
        return eps0
    return eps0 + (eps_end - eps0) * (r / rounds)


def draws(seed, key, device=0, round=0):
    """The counter-based draws of stream `key` of `device` in `round` under `seed` (a cursor
    with uniform, integers, choice, permutation; see kernels/rng.py)."""
    return Stream(seed, key, device, round)


@dataclass(frozen=True)
class Config:
    """Hyper-parameters of one federated run.

    k            samples a device uses in a round (TinyReptile: streamed one by one)
    inner_lr     the devices' SGD learning rate
    epochs       passes over the k stored samples (Reptile, FedAvg)
    batch        mini-batch size (Reptile, FedAvg; TinyReptile always uses 1)
    meta_batch   devices per round M (Reptile, FedAvg; TinyReptile always uses 1)
    eps0, eps_end, anneal   the server's interpolation step ε (not used by FedAvg)
    devices      size of the training population the server samples from
    """
    algo: str
    rounds: int
    k: int
    inner_lr: float
    epochs: int = 1
    batch: int = 10
    meta_batch: int = 1
    eps0: float = 1.0
    eps_end: float = 0.0
    anneal: str = "linear"
    devices: int = 10000

    def __post_init__(self):
        if self.algo not in ALGOS:
            raise ParameterError(f"algo: {self.algo!r} is not one of {', '.join(ALGOS)}")
        if self.anneal not in ANNEALS:
            raise ParameterError(f"anneal: {self.anneal!r} is not one of {', '.join(ANNEALS)}")
        ck.int_param("rounds", self.rounds, 1)
        ck.int_param("k", self.k, 1)
        ck.int_param("epochs", self.epochs, 1)
        ck.int_param("batch", self.batch, 1)
        ck.int_param("meta_batch", self.meta_batch, 1)
        ck.int_param("devices", self.devices, 1)
        for name in ("inner_lr", "eps0", "eps_end"):
            v = ck.float_param(name, getattr(self, name))
            if v < 0:
                raise ParameterError(f"{name}: {getattr(self, name)!r} is negative")
        if self.devices_per_round > self.devices:
            raise ParameterError(f"meta_batch: {self.meta_batch} devices per round exceed the "
                                 f"population of {self.devices}")

    @property
    def devices_per_round(self):
        return 1 if self.algo == "tinyreptile" else self.meta_batch

    @property
    def device_batch(self):
        """The batch size of the devices' SGD steps."""
        return 1 if self.algo == "tinyreptile" else min(self.batch, self.k)

    @property
    def steps_per_round(self):
        """SGD steps one device takes in a round."""
        if self.algo == "tinyreptile":
            return self.k
        return self.epochs * -(-self.k // self.device_batch)

    def eps(self, r):
        """The interpolation step of round r (0-based), a Python float (annealed_eps)."""
        return annealed_eps(self.eps0, self.eps_end, r, self.rounds, self.anneal)

    def eps_block(self, r0, r1):
        """float32 [r1 - r0]: eps(r) for r0 <= r < r1, each rounded once as the kernel
        rounds its argument (the same float64 operations as `eps`; FedAvg: zeros)."""
        if self.algo == "fedavg":
            return np.zeros(r1 - r0, F32)
        if self.anneal == "constant":
            return np.full(r1 - r0, self.eps0, F32)
        r = np.arange(r0, r1, dtype=np.int64)
        return (self.eps0 + (self.eps_end - self.eps0) * (r / self.rounds)).astype(F32)

    def as_dict(self):
        return asdict(self)


# --------------------------------------------------------------------------------- device

class Device:
    """One device. It knows its task (its data source) and nothing else; per round it gets θ,
    trains on samples of its own, and returns φ. `ws` is the device's RAM: a model Workspace
    whose backend runs the whole device round (on the C backend, one call into C)."""

    def __init__(self, device_id, task):
        self.id = device_id
        self.task = task

    def tinyreptile_round(self, ws, theta, k, lr, rng):
        """Stream k samples, one SGD step of batch size 1 on each, each used once -> φ
        (the runtime's fused step: no gradient buffer)."""
        x, y = self.task.sample(rng, k)  # drawn as a stream: sample j is x[j], y[j]
        return ws.be.tinyreptile_device_round_f32(theta, x, y, ws.model, lr, "fused")

    def batched_round(self, ws, theta, k, lr, epochs, batch, rng):
        """Store k samples; E epochs of mini-batch SGD, a fresh shuffle each epoch -> φ
        (the runtime's Reptile round: each mini-batch's gradient accumulated sample by
        sample, the same bits as one batched step)."""
        x, y = self.task.sample(rng, k)
        order = np.array([rng.permutation(k) for _ in range(epochs)], np.int32).reshape(epochs, k)
        return ws.be.reptile_device_round_f32(theta, x, y, order, ws.model, epochs, batch, lr)


# --------------------------------------------------------------------------------- server

class Server:
    """The server: holds θ, picks devices, aggregates their φ."""

    def __init__(self, backend, theta0, cfg, seed):
        self.be = backend
        self.theta = np.array(theta0, F32, copy=True)
        self.cfg = cfg
        self.seed = seed

    def select(self, r):
        """The ids of round r's devices, drawn uniformly without replacement (rejecting
        repeats), from the server's draws of round r."""
        m = self.cfg.devices_per_round
        rng = draws(self.seed, KEY_SERVER, 0, r)
        if m == 1:
            return [rng.integers(self.cfg.devices)]
        return [int(i) for i in rng.choice(self.cfg.devices, size=m, replace=False)]

    def mean(self, phis):
        """Running mean in device order with the interpolation kernel (see the module text)."""
        mu = phis[0].copy()
        for m in range(2, len(phis) + 1):
            self.be.reptile_interpolate_f32(mu, phis[m - 1], 1.0 / m)
        return mu

    def aggregate(self, r, phis):
        cfg = self.cfg
        if cfg.algo == "fedavg":
            self.theta = self.mean(phis)
            return
        target = phis[0] if len(phis) == 1 else self.mean(phis)
        self.be.reptile_interpolate_f32(self.theta, target, cfg.eps(r))


# ------------------------------------------------------------------------------ training

def device_rng(seed, device_id, r):
    """The draws of device `device_id`'s samples (and shuffles) in round r."""
    return draws(seed, KEY_DEVICE_DATA, device_id, r)


def device_task(family, seed, device_id):
    """Device `device_id`'s task: a function of the seed and the device id only."""
    return family.device_task(draws(seed, KEY_DEVICE_TASK, device_id))


def train(model, backend, family, cfg, seed, theta0=None, evaluate=None, eval_every=0,
          progress=None, threads=1):
    """Run cfg.rounds rounds of cfg.algo; returns (θ, history).

    family      the task family: family.device_task(rng) gives device i's task (an object
                with .sample(rng, n) -> (x, target))
    evaluate    optional callable(θ) -> dict of numbers, called at round 0, every
                `eval_every` rounds and after the last round (the learning curve)
    progress    optional callable(rounds_done) after every round (or block of rounds)
    threads     the devices of one round (Reptile's and FedAvg's meta-batch) train in this
                many threads; their φ are aggregated in device order, so θ does not depend on
                the thread count (the C backend releases the GIL during its calls)
    history     {"curve": [{"round": r, ...evaluate's numbers}], "device_loss": [mean loss of
                the devices' steps in each block of eval_every rounds]}
    """
    if theta0 is None:
        theta0 = model.init(stream(seed, KEY_INIT))
    server = Server(backend, theta0, cfg, seed)
    ws = model.workspace(backend)
    history = {"curve": [], "device_loss": []}
    block = []

    def record(r):
        if evaluate is not None:
            history["curve"].append({"round": r, **evaluate(server.theta)})
        if block:
            history["device_loss"].append({"round": r, "loss": float(np.mean(block))})
            block.clear()

    record(0)
    threads = ck.int_param("threads", threads, 1, 1024)
    sine_c = getattr(family, "name", None) == "sine" and hasattr(backend, "run_sine_rounds")
    parallel = threads > 1 and cfg.devices_per_round > 1
    if sine_c and not parallel:
        # the C backend: blocks of rounds in one call each, between evaluation points
        r = 0
        while r < cfg.rounds:
            end = min(cfg.rounds, r + BLOCK_ROUNDS)
            if eval_every:
                end = min(end, (r // eval_every + 1) * eval_every)
            losses = backend.run_sine_rounds(server.theta, model, cfg.algo, cfg.k,
                                                 cfg.epochs, cfg.device_batch,
                                                 cfg.devices_per_round, cfg.devices,
                                                 cfg.inner_lr, seed, r, cfg.eps_block(r, end))
            block.extend(np.mean(losses, axis=2, dtype=np.float64).ravel().tolist())
            r = end
            if progress is not None:
                progress(r)
            if eval_every and r % eval_every == 0 and r < cfg.rounds:
                record(r)
        record(cfg.rounds)
        return server.theta, history

    local = threading.local()

    def device_round(dev_id, r):
        """Device dev_id's φ and step losses in round r (from the server's current θ)."""
        if sine_c:  # data and round in one C call (the GIL released)
            return backend.run_sine_device(server.theta, model, cfg.algo, cfg.k,
                                                 cfg.epochs, cfg.device_batch,
                                                 cfg.devices_per_round, cfg.devices,
                                                 cfg.inner_lr, seed, dev_id, r)
        dws = getattr(local, "ws", None) or ws
        if threads > 1 and dws is ws:
            dws = local.ws = model.workspace(backend)
        dev = Device(dev_id, device_task(family, seed, dev_id))
        rng = device_rng(seed, dev_id, r)
        if cfg.algo == "tinyreptile":
            return dev.tinyreptile_round(dws, server.theta, cfg.k, cfg.inner_lr, rng)
        return dev.batched_round(dws, server.theta, cfg.k, cfg.inner_lr, cfg.epochs,
                                 cfg.device_batch, rng)

    pool = ThreadPoolExecutor(max_workers=threads) if parallel else None
    try:
        for r in range(cfg.rounds):
            ids = server.select(r)
            if pool is not None:
                results = list(pool.map(device_round, ids, [r] * len(ids)))
            else:
                results = [device_round(dev_id, r) for dev_id in ids]
            phis = [phi for phi, _ in results]  # in device order, whatever thread ran it
            block.extend(float(np.mean(losses, dtype=np.float64)) for _, losses in results)
            server.aggregate(r, phis)
            if progress is not None:
                progress(r + 1)
            if eval_every and (r + 1) % eval_every == 0 and r + 1 < cfg.rounds:
                record(r + 1)
    finally:
        if pool is not None:
            pool.shutdown()
    record(cfg.rounds)
    return server.theta, history


#: The most host memory one round's arrays may take: the C runtime's int32 byte limit, which
#: also bounds a device's arena (tr_model_arena_size).
ROUND_BYTES_MAX = ck.INT32_MAX


def check_sizes(model, cfg):
    """Refuse a configuration whose round cannot run, before anything is trained: the device
    arena at (device batch, stored samples) within the C runtime's int32 limits
    (model.memory_plan), and each of the round's host arrays within ROUND_BYTES_MAX bytes: a
    device's k samples, the M devices' φ the server averages, the population the server draws
    M devices from without replacement (NumPy's choice permutes all of it unless the
    population exceeds 10000 and M is at most a fiftieth of it)."""
    m = cfg.devices_per_round
    checks = (("k", cfg.k * model.sample_bytes(), f"{cfg.k} samples of a round"),
              ("meta_batch", cfg.devices_per_round * 4 * model.n_params,
               f"the {cfg.devices_per_round} devices' parameters of a round"),
              ("devices", 8 * cfg.devices if 1 < m and (cfg.devices <= 10000 or
                                                         m > cfg.devices // 50) else 0,
               f"drawing from {cfg.devices} devices"))
    for name, nbytes, what in checks:
        if nbytes > ROUND_BYTES_MAX:
            raise ParameterError(f"{name}: {what} take {nbytes} bytes of memory, more than "
                                 f"the limit {ROUND_BYTES_MAX}")
    if cfg.algo == "tinyreptile":
        model.memory_plan(batch=1, stored=1, mode="fused")
    else:
        model.memory_plan(batch=cfg.device_batch, stored=cfg.k, mode="accum")


def costs(model, cfg):
    """What one round costs: device RAM per training step (the memory plan of the way the
    runtime trains on the device: TinyReptile's fused batch-1 step, no gradient buffer;
    Reptile's and FedAvg's k stored samples with each mini-batch's gradient accumulated sample
    by sample), bytes sent (θ down and φ up, float32, per round and in total) and device
    multiply-accumulates."""
    if cfg.algo == "tinyreptile":
        plan = model.memory_plan(batch=1, stored=1, mode="fused")
        macs = cfg.k * model.step_macs(1)
    else:
        b = cfg.device_batch
        plan = model.memory_plan(batch=b, stored=cfg.k, mode="accum")
        full, rest = divmod(cfg.k, b)
        per_epoch = full * model.step_macs(b) + (model.step_macs(rest) if rest else 0)
        macs = cfg.epochs * per_epoch
    vec = 4 * model.n_params
    per_round = 2 * vec * cfg.devices_per_round
    return {"memory_plan": plan.as_dict(), "device_ram_bytes": plan.ram,
            "flash_bytes": plan.flash,
            "bytes_down_per_round": vec * cfg.devices_per_round,
            "bytes_up_per_round": vec * cfg.devices_per_round,
            "bytes_per_round": per_round, "bytes_total": per_round * cfg.rounds,
            "device_macs_per_round": macs,
            "macs_per_round_all_devices": macs * cfg.devices_per_round,
            "device_steps_per_round": cfg.steps_per_round,
            "device_rounds": cfg.rounds * cfg.devices_per_round}
