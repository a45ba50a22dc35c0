"""NumPy twin of csrc/mathf.c: the library's own exp, log, tanh and sin in float32.

Each function performs, elementwise on float32 arrays, the same float operations in the same
order as its C counterpart (every operation rounded once to float32; NumPy's float32 ufuncs
are correctly rounded and never fused), and the same integer operations on the bits
(.view(np.uint32) / .view(np.int32)). The C branches become np.where selections: every
branch is evaluated on every lane, but the lanes a branch does not own are first replaced by
a harmless value (so no stray inf/NaN arises), and the selection then keeps exactly the
owning branch's bits. The algorithms, constants and accuracy are documented in mathf.c;
the constants here are the same hexadecimal literals.
"""
import numpy as np

from . import _checks as ck

F32 = np.float32
U32 = np.uint32
I32 = np.int32


def _c(hexstr):
    """A float32 constant from its C99 hexadecimal literal (exact: every literal has <= 24 bits)."""
    v = F32(float.fromhex(hexstr))
    assert float(v) == float.fromhex(hexstr), hexstr
    return v


def _from_bits(u):
    return np.asarray(u, U32).view(F32)


ONE = F32(1.0)
TWO = F32(2.0)
HALF = F32(0.5)
ZERO = F32(0.0)
POS_INF = _from_bits(np.array(0x7F800000, U32))[()]
NEG_INF = _from_bits(np.array(0xFF800000, U32))[()]
QNAN = _from_bits(np.array(0x7FC00000, U32))[()]

# exp (see mathf.c)
EXP_MAX = _c("0x1.62e42ep6")
EXP_MIN = F32(-104.0)
ROUND_MAGIC = _c("0x1.8p23")
INV_LN2 = _c("0x1.715476p0")
LN2_HI = _c("0x1.62e3p-1")
LN2_LO = _c("0x1.2fefa4p-17")
E2, E3, E4, E5, E6, E7 = (_c(h) for h in ("0x1p-1", "0x1.555556p-3", "0x1.555556p-5",
                                          "0x1.111112p-7", "0x1.6c16c2p-10", "0x1.a01a02p-13"))

# log
SQRT_HALF_BITS = 0x3F3504F3
TWO_25 = _c("0x1p25")
L1, L2, L3, L4 = (_c(h) for h in ("0x1.555556p-1", "0x1.99999ap-2", "0x1.24924ap-2",
                                  "0x1.c71c72p-3"))

# tanh
TANH_POLY_BITS = 0x3F400000  # 0.75
TANH_ONE_BITS = 0x41200000   # 10
T1, T2, T3, T4, T5, T6 = (_c(h) for h in ("-0x1.55554ap-2", "0x1.110db8p-3", "-0x1.b97d3cp-5",
                                          "0x1.5f785ap-6", "-0x1.f5d36cp-8", "0x1.c753c4p-10"))

# sin
SIN_TINY_BITS = 0x39800000  # 2^-12
SIN_BIG_BITS = 0x45C80000   # 6400
TWO_OVER_PI = _c("0x1.45f306p-1")
PIO2_1, PIO2_2, PIO2_3, PIO2_4 = (_c(h) for h in ("0x1.92p0", "0x1.fb4p-12", "0x1.444p-24",
                                                  "0x1.68c234p-39"))
TWO_PI_MANT = 0xC90FDB
TWO_PI_EXP = 129
SPLIT = _c("0x1.002p12")
S1, S2, S3, S4 = (_c(h) for h in ("-0x1.555556p-3", "0x1.111112p-7", "-0x1.a01a02p-13",
                                  "0x1.71de3ap-19"))
C1, C2, C3, C4 = (_c(h) for h in ("0x1.555556p-5", "-0x1.6c16c2p-10", "0x1.a01a02p-16",
                                  "-0x1.27e4fcp-22"))


def _pow2(e):
    """2^e for int32 e in [-126, 127], built in the exponent field."""
    return ((e + 127).astype(U32) << U32(23)).view(F32)


def _expf(x):
    """exp of a 1-D float32 array: tr__expf lane by lane."""
    ix = x.view(U32)
    is_nan = (ix & U32(0x7FFFFFFF)) > U32(0x7F800000)
    over = x > EXP_MAX
    under = x < EXP_MIN
    xs = np.where(is_nan | over | under, ZERO, x)
    kf = xs * INV_LN2
    kf = kf + ROUND_MAGIC
    kf = kf - ROUND_MAGIC
    k = kf.astype(I32)
    hi = xs - kf * LN2_HI
    lo = kf * LN2_LO
    r = hi - lo
    c = (hi - r) - lo
    p = E6 + r * E7
    p = E5 + r * p
    p = E4 + r * p
    p = E3 + r * p
    p = E2 + r * p
    q = (r * r) * p
    y = ONE + (r + (q + c))
    k1 = (k + I32(200)) // I32(2) - I32(100)
    k2 = k - k1
    y = y * _pow2(k1)
    y = y * _pow2(k2)
    y = np.where(under, ZERO, y)
    y = np.where(over, POS_INF, y)
    return np.where(is_nan, x + x, y)


def _logf(x):
    """log of a 1-D float32 array: tr__logf lane by lane."""
    ix = x.view(U32)
    mag = ix & U32(0x7FFFFFFF)
    is_nan = mag > U32(0x7F800000)
    is_zero = mag == U32(0)
    negative = (ix >> U32(31)) != U32(0)
    pos_inf = ix == U32(0x7F800000)
    special = is_nan | is_zero | negative | pos_inf
    xs = np.where(special, ONE, x)
    sub = xs.view(U32) < U32(0x00800000)
    xs = np.where(sub, xs * TWO_25, xs)
    k = np.where(sub, I32(-25), I32(0))
    iy = xs.view(U32) + U32(0x3F800000 - SQRT_HALF_BITS)
    k = k + (iy >> U32(23)).astype(I32) - I32(127)
    m = ((iy & U32(0x007FFFFF)) + U32(SQRT_HALF_BITS)).view(F32)
    f = m - ONE
    s = f / (TWO + f)
    z = s * s
    R = L3 + z * L4
    R = L2 + z * R
    R = L1 + z * R
    R = z * R
    hfsq = (HALF * f) * f
    dk = k.astype(F32)
    t = s * (hfsq + R)
    t = t + dk * LN2_LO
    t = t - hfsq
    t = t + f
    y = t + dk * LN2_HI
    y = np.where(pos_inf, x, y)
    y = np.where(negative, QNAN, y)
    y = np.where(is_zero, NEG_INF, y)
    return np.where(is_nan, x + x, y)


def _tanhf(x):
    """tanh of a 1-D float32 array: tr__tanhf lane by lane."""
    ix = x.view(U32)
    sign = ix & U32(0x80000000)
    ia = ix & U32(0x7FFFFFFF)
    is_nan = ia > U32(0x7F800000)
    one = ia >= U32(TANH_ONE_BITS)
    mid = (ia >= U32(TANH_POLY_BITS)) & ~one
    a = ia.view(F32)
    # the exp branch on its lanes (others see a = 1), the polynomial on its lanes (others 0)
    am = np.where(mid, a, ONE)
    e = _expf(am + am)
    t_mid = ONE - TWO / (e + ONE)
    ap = np.where(mid | one | is_nan, ZERO, a)
    z = ap * ap
    p = T5 + z * T6
    p = T4 + z * p
    p = T3 + z * p
    p = T2 + z * p
    p = T1 + z * p
    t_poly = ap + ap * (z * p)
    t = np.where(one, ONE, np.where(mid, t_mid, t_poly))
    y = (t.view(U32) | sign).view(F32)
    return np.where(is_nan, x + x, y)


def _fmod_2pi(ix):
    """x mod 2pi_f exactly, from the bits ix (uint32) of finite |x| >= 6400: tr__fmod_2pi
    lane by lane (the significand remainder one exponent step at a time)."""
    sign = ix & U32(0x80000000)
    e = ((ix >> U32(23)) & U32(0xFF)).astype(np.int32)
    mx = (ix & U32(0x7FFFFF)) | U32(0x800000)
    my = U32(TWO_PI_MANT)
    for _ in range(255 - TWO_PI_EXP):
        step = e > TWO_PI_EXP
        if not step.any():
            break
        mx = np.where(step & (mx >= my), mx - my, mx)
        mx = np.where(step, mx << U32(1), mx)
        e = np.where(step, e - 1, e)
    mx = np.where(mx >= my, mx - my, mx)
    zero = mx == U32(0)
    for _ in range(24):
        low = ~zero & (mx < U32(0x800000))
        if not low.any():
            break
        mx = np.where(low, mx << U32(1), mx)
        e = np.where(low, e - 1, e)
    out = sign | (e.astype(U32) << U32(23)) | (mx & U32(0x7FFFFF))
    return np.where(zero, sign, out).view(F32)


def _sinf(x):
    """sin of a 1-D float32 array: tr__sinf lane by lane."""
    ix = x.view(U32)
    ia = ix & U32(0x7FFFFFFF)
    special = ia >= U32(0x7F800000)
    big = ~special & (ia >= U32(SIN_BIG_BITS))
    xr = x.copy()
    if big.any():
        xr[big] = _fmod_2pi(ix[big])
    ia = xr.view(U32) & U32(0x7FFFFFFF)
    tiny = ~special & (ia < U32(SIN_TINY_BITS))
    xs = np.where(special | tiny, ONE, xr)
    kf = xs * TWO_OVER_PI
    kf = kf + ROUND_MAGIC
    kf = kf - ROUND_MAGIC
    quadrant = kf.astype(I32).view(U32) & U32(3)
    a = xs - kf * PIO2_1
    a = a - kf * PIO2_2
    c3 = kf * PIO2_3
    s = a - c3
    bb = s - a
    e = (a - (s - bb)) + (-c3 - bb)
    e = e - kf * PIO2_4
    r = s + e
    rl = e - (r - s)
    z = r * r
    p = S3 + z * S4
    p = S2 + z * p
    p = S1 + z * p
    y_sin = r + (((r * z) * p) + rl)
    sp = r * SPLIT
    rh = sp - (sp - r)
    rt = r - rh
    ze = ((rh * rh - z) + (rh * rt + rh * rt)) + rt * rt
    hz = HALF * z
    w = ONE - hz
    q = C3 + z * C4
    q = C2 + z * q
    q = C1 + z * q
    y_cos = w + (((ONE - w) - hz) + (((z * z) * q) - ((HALF * ze) + r * rl)))
    y = np.where((quadrant & U32(1)) == U32(0), y_sin, y_cos)
    y = np.where((quadrant & U32(2)) != U32(0), -y, y)
    y = np.where(tiny, xr, y)
    return np.where(special, x - x, y)


def _elementwise(fn, x):
    n = check_mathf(x)
    flat = x.reshape(n)
    with np.errstate(all="ignore"):  # x + x of a NaN lane may raise 'invalid'; nothing else
        y = fn(flat)
    return y.reshape(x.shape)


def check_mathf(x):
    """Check the argument of the elementwise math kernels; returns the element count."""
    ck.f32("x", x)
    ck.sizes(("x", x.shape))
    return x.size


def exp_f32(x):
    """y = exp(x) elementwise, the library's own exp (mathf.c's tr__expf); any shape, float32.

    Error below 1 ulp over all float32; exp(x) = +inf above 88.7228317, +0 below -104."""
    return _elementwise(_expf, x)


def log_f32(x):
    """y = log(x) elementwise, the library's own log (mathf.c's tr__logf); any shape, float32.

    Error below 1 ulp over all float32; log(±0) = -inf, log(x < 0) = NaN, log(+inf) = +inf."""
    return _elementwise(_logf, x)


def tanh_f32(x):
    """y = tanh(x) elementwise, the library's own tanh (mathf.c's tr__tanhf); any shape, float32.

    Error below 1.1 ulp over all float32; odd (tanh(-0) = -0), exactly ±1 for |x| >= 10."""
    return _elementwise(_tanhf, x)


def sin_f32(x):
    """y = sin(x) elementwise, the library's own sin (mathf.c's tr__sinf); any shape, float32.

    Error below 1 ulp for |x| <= 6400 (beyond: sin(x mod 2pi_f), finite, in [-1, 1]);
    sin(±0) = ±0, sin(±inf) = NaN."""
    return _elementwise(_sinf, x)
