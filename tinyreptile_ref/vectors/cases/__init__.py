"""The cases: one generator function per kernel, each producing its expected outputs with the
NumPy twins (never with C).

A generator is registered with @generator("<kernel>") and receives a Gen: g.rng is the
kernel's own SplitMix64 stream, g.case(...) records one case. Adding a kernel to the vectors
means writing one such function in the module of its family (the stem of its csrc/ file)
and one handler in tests/runner/tv_handlers.c.

Blob names are the C argument names; inputs are listed in call order. An in-place kernel has
an input and an expected blob of the same name (theta). The C runner passes sizes and scalar
parameters from `params` under the C parameter names.
"""

import numpy as np

# Registration order is the manifest's order: the modules are imported in it.
from . import dense, conv1d, mathf, activation, loss, optim, quant, dense_s8, conv1d_s8, sequences, model, rng  # noqa: F401
from .common import GENERATORS, Gen


def generate_cases(seed):
    """Every case of every registered kernel, in registration order."""
    out = []
    for kernel, fn in GENERATORS.items():
        g = Gen(kernel, seed)
        with np.errstate(all="ignore"):  # overflow, inf - inf and 0*inf are cases on purpose
            fn(g)
        if not g.cases:
            raise RuntimeError(f"generator for {kernel} produced no case")
        out.extend(g.cases)
    return out
