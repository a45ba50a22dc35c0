"""`make bench`: time per call of each C kernel through Python, of its NumPy twin, and of the
plain NumPy/BLAS expression (fast, not bit-exact, shown for reference), at the sizes of the
paper's models. Speed is measured here, never in tests.

python -m tinyreptile_ref.tools.bench [--quick]
"""
import argparse
import json
import time

import numpy as np

from ..backend import get_backend

F32 = np.float32


def per_call_us(fn, min_time=0.2, repeats=5):
    """Best of `repeats` timings, each long enough to last `min_time` seconds, in µs per call."""
    fn()
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min_time / 4:
            break
        n *= 4
    n = max(1, int(n * (min_time / max(dt, 1e-9))))
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n)
    return best * 1e6


def dense_cases(rng):
    B, I, O = 1, 64, 64
    x = rng.standard_normal((B, I)).astype(F32)
    w = rng.standard_normal((O, I)).astype(F32)
    b = rng.standard_normal(O).astype(F32)
    dy = rng.standard_normal((B, O)).astype(F32)

    def kernel(be):
        return lambda: (be.dense_forward_f32(x, w, b), be.dense_backward_f32(dy, x, w))

    def blas():
        return (x @ w.T + b, (dy @ w, dy.T @ x, dy.sum(0)))

    return "dense 64x64, batch 1, forward + backward", kernel, blas


def conv1d_cases(rng):
    B, L, C_in, C_out, K = 1, 49, 10, 16, 3
    x = rng.standard_normal((B, L, C_in)).astype(F32)
    w = rng.standard_normal((C_out, K, C_in)).astype(F32)
    b = rng.standard_normal(C_out).astype(F32)
    dy = rng.standard_normal((B, L, C_out)).astype(F32)

    def kernel(be):
        return lambda: (be.conv1d_forward_f32(x, w, b, 1, 1, "same"),
                        be.conv1d_backward_f32(dy, x, w, 1, 1, "same"))

    def blas():  # im2col + matmul, 'same' padding of one step each side
        xp = np.zeros((B, L + 2, C_in), F32)
        xp[:, 1:-1] = x
        cols = np.stack([xp[:, k:k + L] for k in range(K)], axis=2).reshape(B * L, K * C_in)
        y = cols @ w.reshape(C_out, -1).T + b
        d2 = dy.reshape(B * L, C_out)
        return y, (d2 @ w.reshape(C_out, -1), d2.T @ cols, d2.sum(0))

    return "conv1d 49x10 -> 16, K=3 same, batch 1, fwd + bwd", kernel, blas


def dense_s8_cases(rng):
    from ..kernels.quant import output_multiplier
    x = rng.integers(-128, 128, (1, 64), dtype=np.int8)
    w = rng.integers(-127, 128, (64, 64), dtype=np.int8)
    b = rng.integers(-20000, 20000, 64).astype(np.int32)
    m, s = output_multiplier(0.05, rng.uniform(0.001, 0.02, 64).astype(F32), 0.08)
    xs, ws = x.astype(np.int32) + 128, w.astype(np.int32)

    def kernel(be):
        return lambda: be.dense_forward_s8(x, w, b, m, s, -128, 0, 3)

    def blas():  # the int32 accumulators only: no requantization
        return xs @ ws.T + b

    return "dense_s8 64x64, batch 1, per-channel", kernel, blas


def conv1d_s8_cases(rng):
    from ..kernels.quant import output_multiplier
    x = rng.integers(-128, 128, (1, 49, 10), dtype=np.int8)
    w = rng.integers(-127, 128, (16, 3, 10), dtype=np.int8)
    b = rng.integers(-20000, 20000, 16).astype(np.int32)
    m, s = output_multiplier(0.05, rng.uniform(0.001, 0.02, 16).astype(F32), 0.08)
    xp = np.zeros((1, 51, 10), np.int32)
    xp[:, 1:50] = x.astype(np.int32) + 128
    w2 = w.reshape(16, 30).astype(np.int32)

    def kernel(be):
        return lambda: be.conv1d_forward_s8(x, w, b, m, s, 1, 1, "same", -128, 3)

    def blas():  # im2col and one int32 matmul, no requantization
        cols = np.lib.stride_tricks.sliding_window_view(xp, 3, axis=1)  # [1, 49, 10, 3]
        return cols.transpose(0, 1, 3, 2).reshape(49, 30) @ w2.T + b

    return "conv1d_s8 B=1 L=49 C_in=10 C_out=16 K=3 same", kernel, blas


CASES = [dense_cases, conv1d_cases, dense_s8_cases, conv1d_s8_cases]


def run(min_time=0.2):
    rng = np.random.default_rng(0)
    c, n = get_backend("c"), get_backend("numpy")
    rows = []
    for make in CASES:
        name, kernel, blas = make(rng)
        t_c = per_call_us(kernel(c), min_time)
        t_n = per_call_us(kernel(n), min_time)
        t_b = per_call_us(blas, min_time)
        rows.append({"case": name, "c_us": t_c, "numpy_twin_us": t_n, "numpy_blas_us": t_b,
                     "twin_over_c": t_n / t_c, "blas_over_c": t_b / t_c})
    return rows


def print_table(rows):
    print(f"{'kernel (time per call through Python)':50s} {'C':>9s} {'twin':>10s} {'BLAS':>9s} "
          f"{'twin/C':>7s} {'BLAS/C':>7s}")
    for r in rows:
        print(f"{r['case']:50s} {r['c_us']:7.1f}us {r['numpy_twin_us']:8.1f}us "
              f"{r['numpy_blas_us']:7.1f}us {r['twin_over_c']:6.1f}x {r['blas_over_c']:6.2f}x")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tinyreptile_ref.tools.bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="shorter timings (less stable)")
    ap.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    ap.add_argument("--kernels-only", action="store_true",
                    help="skip the whole-algorithm timings (about a minute)")
    args = ap.parse_args(argv)
    rows = run(0.05 if args.quick else 0.2)
    print_table(rows)
    out = {"kernels": rows}
    if not args.kernels_only:
        from .bench_algo import bench_algorithms, print_algorithms
        print()
        out["algorithms"] = bench_algorithms(quick=args.quick)
        print_algorithms(out["algorithms"])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
