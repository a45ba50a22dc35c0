"""The generator's random source: SplitMix64 (Steele, Lea, Flood 2014), vectorised.

NumPy's Generator methods may change their streams between NumPy versions (NEP 19), so the
vectors never use them: every random value is built from SplitMix64 words with integer
arithmetic and bit manipulation, and is therefore the same under any NumPy or Python version.
SplitMix64 is counter based (word k = mix(seed + k*gamma)), so a whole array is drawn at once.
"""
import hashlib

import numpy as np

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def stream_seed(seed, name):
    """A 64-bit seed for the stream called `name` (one per kernel), so that adding or changing
    one kernel's cases never changes another kernel's values."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{name}".encode()).digest()[:8], "little")


class SplitMix64:
    def __init__(self, seed):
        self.seed = np.uint64(seed & (2**64 - 1))
        self.count = 0

    def u64(self, n):
        """The next n words, as a uint64 array (wrapping arithmetic, as in the C original)."""
        k = np.arange(self.count + 1, self.count + n + 1, dtype=np.uint64)
        self.count += n
        z = self.seed + k * _GAMMA
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))

    def u32(self, n):
        return (self.u64(n) >> np.uint64(32)).astype(np.uint32)

    def ints(self, shape, lo, hi, dtype=np.int32):
        """Integers in [lo, hi], each from one word (the modulo bias is below 2**-30)."""
        n = int(np.prod(shape, dtype=np.int64))
        span = np.uint64(hi - lo + 1)
        v = (self.u64(n) % span).astype(np.int64) + lo
        return v.astype(dtype).reshape(shape)

    def f32(self, shape, emin=-3, emax=1, signed=True):
        """float32 values with a uniformly drawn exponent in [emin, emax] (unbiased, normal
        numbers only), 23 random mantissa bits and a random sign: magnitudes in
        [2**emin, 2**(emax+1)), every mantissa bit exercised."""
        if not -126 <= emin <= emax <= 127:
            raise ValueError("exponent range outside the normal float32 range")
        n = int(np.prod(shape, dtype=np.int64))
        w = self.u64(n)
        mant = (w & np.uint64(0x7FFFFF)).astype(np.uint32)
        e = ((w >> np.uint64(23)) % np.uint64(emax - emin + 1)).astype(np.int64) + emin + 127
        sign = ((w >> np.uint64(63)).astype(np.uint32) << np.uint32(31)) if signed else np.uint32(0)
        bits = sign | (e.astype(np.uint32) << np.uint32(23)) | mant
        return bits.view(np.float32).reshape(shape)

    def pick(self, shape, values):
        """An array of `shape` whose elements are drawn from the float32 `values`."""
        values = np.asarray(values, np.float32)
        idx = self.ints(shape, 0, len(values) - 1, np.int64)
        return values[idx]

    def mask(self, shape, one_in):
        """A boolean array, each element True with probability 1/one_in."""
        return self.ints(shape, 0, one_in - 1, np.int64) == 0
