"""Golden-vector cases for csrc/rng.c: rng_uniform_f32 after rng_key (the counter-based
generator's key hash, its 64-bit mixing and the float32 conversion, on every target).

The 64-bit coordinates travel as int32 blobs of little-endian 32-bit halves (lo, hi)."""
import numpy as np

from ...backend import numpy_backend as nb
from ..format import f32_param
from .common import F32, INF, NAN, TINY, generator


def _halves(values):
    """int32 [2 * len(values)]: each uint64 as its low and high 32-bit halves."""
    u = np.array([int(v) & (2**64 - 1) for v in values], np.uint64)
    return u.view(np.uint32).view(np.int32).copy()


@generator("rng_uniform_f32")
def gen_rng_uniform_f32(g):
    r = g.rng

    def case(slug, comment, flags, coords, j0, n, lo, hi, status="TR_OK"):
        key = nb.rng_key(*coords)
        inputs = dict(coords=_halves(coords), j0=_halves([j0]))
        if status == "TR_OK":
            out = nb.rng_uniform_f32(key, j0, n, lo, hi)
        else:
            out = np.zeros(n, F32)  # untouched: the runner zero-fills it first
        g.case(slug, comment, flags, dict(n=n, lo=f32_param(lo), hi=f32_param(hi)), inputs,
               dict(key=_halves([key]), out=out), status)

    big = [int(v) for v in r.u64(4)]
    case("sine-x", "the sine task's x ~ U(-5, 5): seed 0, data stream 3, device 17, round 5",
         ["basic"], (0, 3, 17, 5), 0, 64, -5.0, 5.0)
    case("wide-coords", "random 64-bit coordinates and a counter near 2^64", ["basic", "huge"],
         big, 2**64 - 20, 40, 0.1, 5.0)
    case("empty", "n = 0: only the key", ["empty"], (1, 2, 3, 4), 0, 0, 0.0, 1.0)
    case("signed-zero", "lo = hi = -0: every draw is -0", ["signed zero"], (5, 0, 0, 0), 0, 8,
         -0.0, -0.0)
    case("subnormal", "lo = 0, hi = 16 * 2^-149: subnormal results", ["subnormal"],
         (6, 1, 2, 3), 0, 32, 0.0, 16 * TINY)
    case("nan-lo", "lo = NaN: TR_ERR_PARAM", ["nan", "status"], (7, 0, 0, 0), 0, 4, NAN, 1.0,
         "TR_ERR_PARAM")
    case("inf-hi", "hi = inf: TR_ERR_PARAM", ["inf", "status"], (7, 0, 0, 0), 0, 4, 0.0, INF,
         "TR_ERR_PARAM")
    case("reversed", "lo > hi: TR_ERR_PARAM", ["status"], (7, 0, 0, 0), 0, 4, 2.0, 1.0,
         "TR_ERR_PARAM")
