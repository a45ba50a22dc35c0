"""Whole-algorithm timings for `make bench`: TinyReptile rounds per second on sine with the C
and the NumPy backend (the same bits, so the same work), and the time of the Reptile sine
schedule (30,000 rounds of 50 samples, mini-batches of 10, one epoch) on the C backend.

    from .bench_algo import bench_algorithms, print_algorithms
    print_algorithms(bench_algorithms())

Only training is timed (no evaluation); device choice, data generation and the server's
interpolation are included, as they are part of a round. A device's round is one call of the
backend's runtime (tinyreptile_device_round_f32: on the C backend one call into C for its k
fused steps). The reference point: a plain PyTorch loop of the same one-sample SGD steps on
1-64-64-1 runs about 235 rounds/s on this kind of machine; the C backend aims at 10x that.
"""
import time

from ..federated import algorithms as fl
from ..backend import get_backend
from ..federated import tasks as tk


def _rounds_per_s(algo, backend, rounds, seed=0):
    fam = tk.family("sine", seed)
    cfg = tk.config("sine", algo, rounds=rounds)
    model = fam.model()
    be = get_backend(backend)
    t0 = time.perf_counter()
    fl.train(model, be, fam, cfg, seed)
    dt = time.perf_counter() - t0
    return rounds / dt, dt


def bench_algorithms(quick=False):
    """Rows of {"case", "value", "unit", ...}: TinyReptile rounds/s (C, NumPy, their ratio)
    and the Reptile 30,000-round schedule time on C (measured in full unless `quick`, which
    extrapolates from 2,000 rounds and says so)."""
    n_c, n_np = (300, 10) if quick else (2000, 40)
    c_rps, _ = _rounds_per_s("tinyreptile", "c", n_c)
    np_rps, _ = _rounds_per_s("tinyreptile", "numpy", n_np)
    k = tk.DEFAULTS[("sine", "tinyreptile")]["k"]
    rows = [
        {"case": f"TinyReptile on sine, C backend (k={k} batch-1 steps/round)",
         "value": c_rps, "unit": "rounds/s", "rounds": n_c},
        {"case": f"TinyReptile on sine, NumPy backend (k={k} batch-1 steps/round)",
         "value": np_rps, "unit": "rounds/s", "rounds": n_np},
        {"case": "TinyReptile on sine, C over NumPy", "value": c_rps / np_rps, "unit": "x"},
    ]
    full = tk.DEFAULTS[("sine", "reptile")]["rounds"]
    n = 2000 if quick else full
    rps, dt = _rounds_per_s("reptile", "c", n)
    rows.append({"case": f"Reptile sine schedule, {full} rounds, C backend"
                         + ("" if n == full else f" (extrapolated from {n})"),
                 "value": dt * full / n, "unit": "s", "rounds": n})
    return rows


def print_algorithms(rows):
    print(f"{'whole algorithm (one runtime call per device round)':62s} {'value':>12s}")
    for r in rows:
        print(f"{r['case']:62s} {r['value']:10.1f} {r['unit']}")


if __name__ == "__main__":
    print_algorithms(bench_algorithms())
