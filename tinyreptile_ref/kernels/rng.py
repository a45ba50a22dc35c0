"""NumPy twin of csrc/rng.c: counter-based random numbers, every draw a pure function of
(seed, stream, device, round, index).

    F(v)          = mix(v + GAMMA)          (SplitMix64's output function, Stafford's mix 13)
    key           = F(F(F(F(seed) ^ stream) ^ device) ^ round)
    bits(key, j)  = F(key + j*GAMMA)        the (j+1)-th output of SplitMix64 seeded with key
    uniform(j)    = lo + (hi - lo) * ((bits >> 40) * 2^-24)     float32, in [lo, hi]
    below(j, n)   = ((bits >> 32) * n) >> 32                    in [0, n)

All arithmetic is modulo 2^64 on uint64 arrays (NumPy's array integer arithmetic wraps), the
float operations are float32, one rounding each, in the C order. `Stream` is a cursor over one
stream for the tasks: each call takes the next draws, from index 0 on.
"""
import numpy as np

from . import _checks as ck
from ..errors import ParameterError

F32 = np.float32
U64 = np.uint64
MASK = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15
M1 = 0xBF58476D1CE4E5B9
M2 = 0x94D049BB133111EB
TWO_M24 = F32(2.0**-24)


def _mix(z):
    """SplitMix64's output function of uint64 array z (+ GAMMA already added)."""
    z = (z ^ (z >> U64(30))) * U64(M1)
    z = (z ^ (z >> U64(27))) * U64(M2)
    return z ^ (z >> U64(31))


def _splitmix_int(v):
    """F(v) of one Python int (exact, modulo 2^64)."""
    z = (v + GAMMA) & MASK
    z = ((z ^ (z >> 30)) * M1) & MASK
    z = ((z ^ (z >> 27)) * M2) & MASK
    return z ^ (z >> 31)


def _u64(name, v):
    return ck.int_param(name, v, 0, MASK)


def rng_key(seed, stream, device, round):
    """The 64-bit key (a Python int) of the stream (seed, stream, device, round)."""
    seed, stream, device, round = check_key(seed, stream, device, round)
    return _splitmix_int(_splitmix_int(_splitmix_int(_splitmix_int(seed) ^ stream) ^ device)
                         ^ round)


def _bits(key, j):
    """bits(key, j) for a uint64 array of indices j."""
    with np.errstate(over="ignore"):
        return _mix(U64(key) + j * U64(GAMMA) + U64(GAMMA))


def _indices(j0, n):
    return U64(j0) + np.arange(n, dtype=U64)


def check_key(seed, stream, device, round):
    return tuple(_u64(n, v) for n, v in (("seed", seed), ("stream", stream),
                                          ("device", device), ("round", round)))


def check_draw(key, j0, n):
    key = _u64("key", key)
    j0 = _u64("j0", j0)
    n = ck.int_param("n", n, 0)
    return key, j0, n


def rng_bits_u64(key, j0, n):
    """Draws j0 .. j0+n-1 of the stream `key`: uint64 [n]."""
    key, j0, n = check_draw(key, j0, n)
    return _bits(key, _indices(j0, n))


def _uniform(b, lo, hi):
    u = (b >> U64(40)).astype(np.uint32).astype(F32) * TWO_M24
    return lo + (hi - lo) * u


def check_uniform(key, j0, n, lo, hi):
    key, j0, n = check_draw(key, j0, n)
    lo, hi = F32(ck.float_param("lo", lo)), F32(ck.float_param("hi", hi))
    if not lo <= hi:
        raise ParameterError(f"lo: {lo!r} is above hi {hi!r}")
    return key, j0, n, lo, hi


def rng_uniform_f32(key, j0, n, lo, hi):
    """float32 [n]: lo + (hi - lo)*u with u = (bits >> 40)*2^-24; lo <= hi finite."""
    key, j0, n, lo, hi = check_uniform(key, j0, n, lo, hi)
    return _uniform(_bits(key, _indices(j0, n)), lo, hi)


def _below(b, bound):
    """((b >> 32) * bound) >> 32 for uint64 b and bound (scalar or array) in [1, 2^31)."""
    return (((b >> U64(32)) * np.asarray(bound, U64)) >> U64(32)).astype(np.int32)


def _check_bound(name, bound):
    bound = ck.int_param(name, bound, 1)
    if bound > 2**31 - 1:
        raise ParameterError(f"{name}: {bound} does not fit int32")
    return bound


def check_below(key, j0, n, bound):
    key, j0, n = check_draw(key, j0, n)
    return key, j0, n, _check_bound("bound", bound)


def check_distinct(key, j0, m, bound):
    key, j0, m = check_draw(key, j0, m)
    bound = _check_bound("bound", bound)
    if m > bound:
        raise ParameterError(f"m: {m} distinct values exceed the bound {bound}")
    return key, j0, m, bound


def rng_below_i32(key, j0, n, bound):
    """int32 [n] in [0, bound): ((bits >> 32) * bound) >> 32."""
    key, j0, n, bound = check_below(key, j0, n, bound)
    return _below(_bits(key, _indices(j0, n)), bound)


def rng_distinct_i32(key, j0, m, bound):
    """(int32 [m] of distinct values in [0, bound), draws used): draws j0, j0+1, ... each
    rejected if already taken (the C loop, draw by draw)."""
    key, j0, m, bound = check_distinct(key, j0, m, bound)
    out, j = [], j0
    while len(out) < m:
        batch = _below(_bits(key, _indices(j, 2 * (m - len(out)))), bound)
        for v in batch:
            j += 1
            if int(v) not in out:
                out.append(int(v))
                if len(out) == m:
                    break
    return np.asarray(out, np.int32), j - j0


def rng_permutation_i32(key, j0, n):
    """int32 [n]: Fisher-Yates on 0..n-1, for i = n-1 down to 1 swapping out[i] with
    out[below(j0 + n-1-i, i+1)]; uses n - 1 draws."""
    key, j0, n = check_draw(key, j0, n)
    out = np.arange(n, dtype=np.int32)
    if n < 2:
        return out
    i = np.arange(n - 1, 0, -1)
    q = _below(_bits(key, _indices(j0, n - 1)), i + 1)
    for a, b in zip(i.tolist(), q.tolist()):
        out[a], out[b] = out[b], out[a]
    return out


class Stream:
    """A cursor over the stream (seed, stream, device, round): each call takes the next draws
    (from index 0 on), so a task's draws are a fixed function of the stream's coordinates."""

    def __init__(self, seed, stream, device=0, round=0):
        self.key = rng_key(seed, stream, device, round)
        self.j = 0

    def _take(self, n):
        j, self.j = self.j, self.j + n
        return _bits(self.key, _indices(j, n))

    def uniform(self, lo, hi, size=None):
        """float32 of shape `size` (an int or a tuple) in [lo, hi] (lo, hi rounded to float32);
        a float32 scalar if size is None."""
        n = 1 if size is None else int(np.prod(size))
        u = _uniform(self._take(n), F32(lo), F32(hi))
        return u[0] if size is None else u.reshape(size)

    def integers(self, bound, size=None):
        """int32 [size] in [0, bound) (an int or an array of bounds); an int if size is None."""
        v = _below(self._take(1 if size is None else size), bound)
        return int(v[0]) if size is None else v

    def choice(self, a, size, replace=False):
        """`size` distinct values of range(a) (an int) or elements of the array a, in draw
        order; only without replacement."""
        if replace:
            raise ParameterError("replace: only drawing without replacement is supported")
        if isinstance(a, (int, np.integer)):
            return self.distinct(size, int(a))
        a = np.asarray(a)
        return a[self.distinct(size, len(a))]

    def distinct(self, m, bound):
        out, used = rng_distinct_i32(self.key, self.j, m, bound)
        self.j += used
        return out

    def permutation(self, n):
        out = rng_permutation_i32(self.key, self.j, n)
        self.j += max(n - 1, 0)
        return out
