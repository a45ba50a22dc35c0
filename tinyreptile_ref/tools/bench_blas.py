"""A plain NumPy/BLAS TinyReptile on sine, for reference in `make bench`: the same loop
(one device per round, k batch-1 SGD steps on the 1-64-64-1 tanh model, MSE, then
θ ← θ + ε_r(φ − θ)), written the way a NumPy user would, with `W @ x`, np.tanh and float64
task parameters. It is fast and NOT bit-exact (BLAS sums in its own order, NumPy's tanh is
the platform's): its θ differs from the reference implementation's. Never used for results.
"""
import time

import numpy as np

F32 = np.float32


def tinyreptile_blas(rounds, k=10, lr=0.02, eps0=0.1, hidden=64, seed=0):
    """Run `rounds` rounds; returns (θ as a list of arrays, seconds)."""
    rng = np.random.default_rng(seed)

    def init(o, i):
        b = 1.0 / np.sqrt(i)
        return rng.uniform(-b, b, (o, i)).astype(F32), rng.uniform(-b, b, o).astype(F32)

    W1, b1 = init(hidden, 1)
    W2, b2 = init(hidden, hidden)
    W3, b3 = init(1, hidden)
    theta = [W1, b1, W2, b2, W3, b3]
    lr = F32(lr)
    t0 = time.perf_counter()
    for r in range(rounds):
        amp, phase = rng.uniform(0.1, 5.0), rng.uniform(0, 2 * np.pi)
        xs = rng.uniform(-5, 5, k).astype(F32)
        ys = (amp * np.sin(xs + phase)).astype(F32)
        w1, c1, w2, c2, w3, c3 = (p.copy() for p in theta)
        for j in range(k):
            x = xs[j:j + 1]
            h1 = np.tanh(w1 @ x + c1)
            h2 = np.tanh(w2 @ h1 + c2)
            out = w3 @ h2 + c3
            d3 = F32(2) * (out - ys[j])
            d2 = (w3.T @ d3) * (F32(1) - h2 * h2)
            d1 = (w2.T @ d2) * (F32(1) - h1 * h1)
            w3 -= lr * np.outer(d3, h2)
            c3 -= lr * d3
            w2 -= lr * np.outer(d2, h1)
            c2 -= lr * d2
            w1 -= lr * np.outer(d1, x)
            c1 -= lr * d1
        eps = F32(eps0 * (1 - r / rounds))
        for p, q in zip(theta, (w1, c1, w2, c2, w3, c3)):
            p += eps * (q - p)
    return theta, time.perf_counter() - t0
