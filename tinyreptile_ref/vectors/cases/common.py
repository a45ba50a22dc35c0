"""What every case generator shares: the registry, the Gen that records cases, status mapping,
special values and small array builders."""
import numpy as np

from ...errors import AccumulatorOverflowError, ParameterError, ShapeError
from ..format import STATUS, Case
from ..rng import SplitMix64, stream_seed

F32 = np.float32

#: kernel -> generator function, in registration order (the manifest's order).
GENERATORS = {}


def generator(kernel):
    def register(fn):
        if kernel in GENERATORS:
            raise ValueError(f"two generators for {kernel}")
        GENERATORS[kernel] = fn
        return fn
    return register


class Gen:
    def __init__(self, kernel, seed):
        self.kernel = kernel
        self.rng = SplitMix64(stream_seed(seed, kernel))
        self.cases = []

    def case(self, slug, comment, flags, params, inputs, expected, status="TR_OK"):
        """Record a case. inputs/expected: dicts name -> array, in C argument order."""
        c = Case(self.kernel, slug, params, comment, flags, STATUS[status])
        for name, a in inputs.items():
            c.add("input", name, a)
        for name, a in expected.items():
            c.add("expected", name, a)
        self.cases.append(c)
        return c


def status_of(fn, *args):
    """Call a twin; return (result, status name). The twin's checked preconditions map to the
    status the C kernel returns for the same violation."""
    try:
        return fn(*args), "TR_OK"
    except AccumulatorOverflowError:
        return None, "TR_ERR_OVERFLOW"
    except ParameterError:
        return None, "TR_ERR_PARAM"
    except ShapeError:
        return None, "TR_ERR_SHAPE"


def bitsf(*bits):
    """float32 array from raw bit patterns."""
    return np.array(bits, np.uint32).view(F32)


def a32(values, shape=None):
    a = np.array(values, F32)
    return a if shape is None else a.reshape(shape)


MAX = float(np.finfo(F32).max)
TINY = float(np.finfo(F32).smallest_subnormal)     # 2**-149
MIN_NORMAL = float(np.finfo(F32).smallest_normal)   # 2**-126
INF, NAN = float("inf"), float("nan")
#: values that kernels most often get wrong; drawn into arrays by the "specials" cases.
SPECIALS = (0.0, -0.0, 1.0, -1.0, TINY, -TINY, MIN_NORMAL, float(bitsf(0x007FFFFF)[0]),
            MAX, -MAX, 1e30, -1e30, INF, -INF, NAN, float(bitsf(0xFFC00001)[0]))


def sprinkle(g, a, values=SPECIALS, one_in=3):
    """A copy of `a` with about one element in `one_in` replaced by one of `values`."""
    a = a.copy()
    m = g.rng.mask(a.shape, one_in)
    a[m] = g.rng.pick(a.shape, values)[m]
    return a


# ------------------------------------------------- quantization and int8 kernels

I32MIN, I32MAX = -(2**31), 2**31 - 1


def i32(values, shape=None):
    a = np.array(values, np.int32)
    return a if shape is None else a.reshape(shape)


def s8(values, shape=None):
    a = np.array(values, np.int8)
    return a if shape is None else a.reshape(shape)
