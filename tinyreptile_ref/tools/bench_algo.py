"""Whole-algorithm timings for `make bench` (speed is measured here, never in tests):

- rounds/s of TinyReptile, Reptile and FedAvg on sine, on the C backend (whole blocks of
  rounds in one call, tr_sine_run_rounds_f32) and the NumPy backend (the readable Python
  loop; the same bits), and TinyReptile through the command line (`train`, training only);
- where a C round's time goes: µs per round inside the C call and outside it (Python);
- the kernels' GMAC/s (device multiply-accumulates per round over the time inside C) next
  to this machine's floors, measured by a tiny C loop compiled here: independent scalar
  multiply-add chains (no FMA, not vectorised), and the same with SSE2 vectors;
- a plain NumPy/BLAS TinyReptile loop (bench_blas.py; fast and NOT bit-exact), for reference.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

from ..backend import get_backend
from ..federated import algorithms as fl
from ..federated import tasks as tk
from .bench_blas import tinyreptile_blas

FLOOR_C = r"""
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <time.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
int main(void)
{
    volatile float seed = 1.0f;
    const long N = 20000000;
    float a[16], b = seed * 0.999f, c = seed * 1e-3f, sum = 0.0f;
    for (int i = 0; i < 16; i++) a[i] = seed * (1.0f + 1e-3f * (float)i);
    double t0 = now();
    for (long n = 0; n < N; n++)
        for (int i = 0; i < 16; i++) a[i] = a[i] * b + c;
    double ts = now() - t0;
    for (int i = 0; i < 16; i++) sum += a[i];
    double gs = 16.0 * (double)N / ts / 1e9, gv = 0.0;
#if defined(__SSE2__)
    __m128 v[16], vb = _mm_set1_ps(b), vc = _mm_set1_ps(c);
    for (int i = 0; i < 16; i++) v[i] = _mm_set1_ps(seed + 1e-3f * (float)i);
    t0 = now();
    for (long n = 0; n < N; n++)
        for (int i = 0; i < 16; i++) v[i] = _mm_add_ps(_mm_mul_ps(v[i], vb), vc);
    double tv = now() - t0;
    float o[4];
    for (int i = 0; i < 16; i++) { _mm_storeu_ps(o, v[i]); sum += o[0] + o[3]; }
    gv = 64.0 * (double)N / tv / 1e9;
#endif
    printf("{\"scalar_gmacs\": %.3f, \"simd_gmacs\": %.3f, \"check\": %g}\n", gs, gv, (double)sum);
    return 0;
}
"""


def floors():
    """(scalar, SSE2) GMAC/s of independent multiply-add chains on this machine, or None."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        return None
    with tempfile.TemporaryDirectory() as d:
        src, exe = os.path.join(d, "floor.c"), os.path.join(d, "floor")
        with open(src, "w") as f:
            f.write(FLOOR_C)
        r = subprocess.run([cc, "-std=c99", "-O2", "-ffp-contract=off", "-fno-tree-vectorize",
                            src, "-o", exe], capture_output=True, text=True)
        if r.returncode != 0:
            return None
        return json.loads(subprocess.run([exe], capture_output=True, text=True, check=True).stdout)


def _train(algo, backend, rounds, seed=0, threads=1):
    fam = tk.family("sine", seed)
    cfg = tk.config("sine", algo, rounds=rounds)
    model = fam.model()
    be = get_backend(backend)
    inside = [0.0]
    real = getattr(be, "run_sine_rounds", None)
    if real is not None:
        def timed(*a):
            t = time.perf_counter()
            try:
                return real(*a)
            finally:
                inside[0] += time.perf_counter() - t
        be.run_sine_rounds = timed
    try:
        t0 = time.perf_counter()
        fl.train(model, be, fam, cfg, seed, threads=threads)
        dt = time.perf_counter() - t0
    finally:
        if real is not None:
            be.run_sine_rounds = real
    return rounds / dt, dt, inside[0], fl.costs(model, cfg)["macs_per_round_all_devices"]


def _cli_rounds_per_s(rounds):
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([sys.executable, "-m", "tinyreptile_ref", "train", "--task", "sine",
                        "--algo", "tinyreptile", "--backend", "c", "--rounds", str(rounds),
                        "--eval-tasks", "1", "--curve-points", "1", "--quiet", "--out", d],
                       check=True, capture_output=True)
        with open(os.path.join(d, "results.json")) as f:
            return rounds / json.load(f)["wall_time_s"]


def bench_algorithms(quick=False):
    """Rows of {"case", "value", "unit", ...}."""
    rows = []
    sizes = {"tinyreptile": (20000, 20), "reptile": (2000, 8), "fedavg": (400, 2)}
    if quick:
        sizes = {a: (max(c // 5, 20), max(n // 2, 1)) for a, (c, n) in sizes.items()}
    c_rps = {}
    for algo, (n_c, n_np) in sizes.items():
        rps, dt, inside, macs = _train(algo, "c", n_c)
        c_rps[algo] = rps
        np_rps = _train(algo, "numpy", n_np)[0]
        rows += [
            {"case": f"{algo} on sine, C backend (blocks of rounds in one call)", "value": rps,
             "unit": "rounds/s", "rounds": n_c},
            {"case": f"{algo} on sine, NumPy backend (Python loop, same bits)", "value": np_rps,
             "unit": "rounds/s", "rounds": n_np},
            {"case": f"{algo}: µs per round inside C", "value": 1e6 * inside / n_c, "unit": "µs"},
            {"case": f"{algo}: µs per round outside C (Python)", "value": 1e6 * (dt - inside) / n_c,
             "unit": "µs"},
            {"case": f"{algo}: kernels, device MACs / time inside C",
             "value": macs * n_c / inside / 1e9, "unit": "GMAC/s", "macs_per_round": macs},
        ]
    n = 3000 if quick else 30000
    rows.append({"case": "TinyReptile through the command line (train, C, 1 thread)",
                 "value": _cli_rounds_per_s(n), "unit": "rounds/s", "rounds": n,
                 "target": 45000})
    f = floors()
    if f:
        rows += [{"case": "floor: scalar multiply-add chains (no FMA), this machine",
                  "value": f["scalar_gmacs"], "unit": "GMAC/s"},
                 {"case": "floor: SSE2 multiply-add chains (no FMA), this machine",
                  "value": f["simd_gmacs"], "unit": "GMAC/s"}]
    nb = 300 if quick else 2000
    _, dt = tinyreptile_blas(nb)
    rows.append({"case": "plain NumPy/BLAS TinyReptile loop (NOT bit-exact, reference)",
                 "value": nb / dt, "unit": "rounds/s", "rounds": nb})
    rows.append({"case": "TinyReptile, C over plain NumPy/BLAS",
                 "value": c_rps["tinyreptile"] / (nb / dt), "unit": "x"})
    return rows


def print_algorithms(rows):
    print(f"{'whole algorithm (sine)':64s} {'value':>12s}")
    for r in rows:
        print(f"{r['case']:64s} {r['value']:10.1f} {r['unit']}")


if __name__ == "__main__":
    print_algorithms(bench_algorithms())
