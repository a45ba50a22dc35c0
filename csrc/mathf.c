/* mathf.c - the library's own exp, log, tanh and sin in float32, without libm.
 *
 * Built from + - * / (each rounded to float32, to nearest even, no fused multiply-add) and
 * integer operations on the bits of floats. Every float operation below is written in the
 * order it is evaluated, one rounding each; tinyreptile_ref/mathf.py performs the same
 * operations in the same order on float32 arrays, so both give the same bits for every input.
 * Rounding to an integer uses the 1.5*2^23 trick: for |v| < 2^22, (v + 0x1.8p23f) - 0x1.8p23f
 * is v rounded to the nearest integer, ties to even (the sum's ulp is 1).
 *
 * Accuracy against the exact function, measured exhaustively over all 2^32 inputs on the
 * host against double-precision libm (tests/test_mathf.py re-measures every 257th pattern):
 *   exp: max 0.94 ulp     log: max 0.86 ulp     tanh: max 1.05 ulp
 * and for sin, over |x| < 6400 (tests/test_mathf.py: a 4-million-point grid over [-5, 5 + 2 pi], the
 * range of the sine task, and every 257th pattern below 6400; all float32 below 6400 when
 * written): max 0.88 ulp.
 * an ulp being the float32 spacing at the exact result (2^-149 for subnormal results).
 * Special values (overflow to +inf, gradual underflow, infinities, NaN, signed zeros) are
 * those of C99 Annex F; floating-point exception flags are not part of the contract.
 */
#include "tr_internal.h"

/* ---------------------------------------------------------------------------------- exp */

#define TR__EXP_MAX 0x1.62e42ep6f      /* 88.7228317: the largest x whose exp is finite */
#define TR__EXP_MIN (-104.0f)          /* exp(x) < 2^-150 below: the result rounds to +0 */
#define TR__ROUND_MAGIC 0x1.8p23f      /* 1.5*2^23 */
#define TR__INV_LN2 0x1.715476p0f      /* 1/ln 2 rounded */
#define TR__LN2_HI 0x1.62e3p-1f        /* ln 2 to 17 bits: k*LN2_HI is exact for |k| <= 184 */
#define TR__LN2_LO 0x1.2fefa4p-17f     /* ln 2 - LN2_HI, rounded */
/* Taylor coefficients 1/j!, j = 2..7, rounded to float32: truncation after r^7 costs at most
 * 0.35^8/8! < 0.09 ulp for |r| <= ln(2)/2. */
#define TR__E2 0x1p-1f
#define TR__E3 0x1.555556p-3f
#define TR__E4 0x1.555556p-5f
#define TR__E5 0x1.111112p-7f
#define TR__E6 0x1.6c16c2p-10f
#define TR__E7 0x1.a01a02p-13f

/* 2^e for -126 <= e <= 127, built in the exponent field. */
static float tr__pow2(int32_t e)
{
    return tr__f32_from_bits((uint32_t)(e + 127) << 23);
}

/* exp(x):
 *   NaN -> NaN (x + x); x > TR__EXP_MAX (incl. +inf) -> +inf; x < -104 (incl. -inf) -> +0.
 *   Otherwise, with every line one rounding (or exact where noted):
 *     kf = (x*INV_LN2 + 0x1.8p23) - 0x1.8p23     x/ln2 rounded to an integer, in [-150, 128]
 *     hi = x - kf*LN2_HI                          the product is exact, and so is the
 *                                                 difference for k != 0 (Sterbenz)
 *     lo = kf*LN2_LO
 *     r  = hi - lo                                x - k ln 2, |r| <= 0.3466 + 2^-9
 *     c  = (hi - r) - lo                          the rounding error of r (Fast2Sum)
 *     p  = E2 + r*(E3 + r*(E4 + r*(E5 + r*(E6 + r*E7))))    Horner, innermost first
 *     q  = (r*r)*p
 *     y  = 1 + (r + (q + c))                      exp(r), in [0.70, 1.42]
 *     k1 = floor(k/2), k2 = k - k1                both in [-75, 64]
 *     result = (y * 2^k1) * 2^k2                  the first product is exact and normal, the
 *                                                 second rounds once (also to a subnormal)
 * exp(±0) = 1 exactly. */
float tr__expf(float x)
{
    uint32_t ix = tr__f32_bits(x);
    if ((ix & 0x7fffffffu) > 0x7f800000u) {
        return x + x;
    }
    if (x > TR__EXP_MAX) {
        return tr__f32_from_bits(0x7f800000u);
    }
    if (x < TR__EXP_MIN) {
        return 0.0f;
    }
    float kf = x * TR__INV_LN2;
    kf = kf + TR__ROUND_MAGIC;
    kf = kf - TR__ROUND_MAGIC;
    int32_t k = (int32_t)kf; /* exact: kf is an integer in [-150, 128] */
    float hi = x - kf * TR__LN2_HI;
    float lo = kf * TR__LN2_LO;
    float r = hi - lo;
    float c = (hi - r) - lo;
    float p = TR__E6 + r * TR__E7;
    p = TR__E5 + r * p;
    p = TR__E4 + r * p;
    p = TR__E3 + r * p;
    p = TR__E2 + r * p;
    float q = (r * r) * p;
    float y = 1.0f + (r + (q + c));
    int32_t k1 = (k + 200) / 2 - 100; /* floor(k/2): k + 200 > 0, so / is floor division */
    int32_t k2 = k - k1;
    y = y * tr__pow2(k1);
    return y * tr__pow2(k2);
}

/* ---------------------------------------------------------------------------------- log */

#define TR__SQRT_HALF_BITS 0x3f3504f3u /* sqrt(1/2) rounded: the lower end of m's range */
/* Taylor coefficients 2/(2j+1), j = 1..4, of R(z) = (log((1+s)/(1-s)) - 2s)/s, z = s^2,
 * rounded to float32: truncation after z^4 costs at most 2/11 z^4 < 2^-33 relative for
 * |s| <= 3 - 2 sqrt(2) = 0.1716. */
#define TR__L1 0x1.555556p-1f
#define TR__L2 0x1.99999ap-2f
#define TR__L3 0x1.24924ap-2f
#define TR__L4 0x1.c71c72p-3f

/* log(x):
 *   NaN -> NaN (x + x); ±0 -> -inf; x < 0 (incl. -inf) -> NaN; +inf -> +inf.
 *   Subnormal x is first multiplied by 2^25 (exact), with k = -25.
 *   Bits: x = 2^k' * m with m in [sqrt(1/2), sqrt(2)) found by integer arithmetic on the
 *   bits (k += k'). Then, each line one rounding:
 *     f    = m - 1                              exact (Sterbenz)
 *     s    = f / (2 + f)                        (2 + f rounded first)
 *     z    = s*s
 *     R    = z*(L1 + z*(L2 + z*(L3 + z*L4)))    Horner, innermost first
 *     hfsq = (0.5*f)*f
 *     dk   = (float)k                           exact, |k| <= 149
 *     t    = s*(hfsq + R)
 *     t    = t + dk*LN2_LO
 *     t    = t - hfsq
 *     t    = t + f
 *     result = t + dk*LN2_HI                    dk*LN2_HI exact
 *   which is k ln 2 + log(m), log(1+f) = f - hfsq + s*(hfsq + R) being an identity.
 * log(1) = +0 exactly. */
float tr__logf(float x)
{
    uint32_t ix = tr__f32_bits(x);
    int32_t k = 0;
    if ((ix & 0x7fffffffu) > 0x7f800000u) {
        return x + x;
    }
    if ((ix & 0x7fffffffu) == 0u) {
        return tr__f32_from_bits(0xff800000u);
    }
    if (ix >> 31) {
        return tr__f32_from_bits(0x7fc00000u);
    }
    if (ix == 0x7f800000u) {
        return x;
    }
    if (ix < 0x00800000u) {
        x = x * 0x1p25f;
        ix = tr__f32_bits(x);
        k = -25;
    }
    ix = ix + (0x3f800000u - TR__SQRT_HALF_BITS);
    k = k + (int32_t)(ix >> 23) - 127;
    ix = (ix & 0x007fffffu) + TR__SQRT_HALF_BITS;
    float m = tr__f32_from_bits(ix);
    float f = m - 1.0f;
    float s = f / (2.0f + f);
    float z = s * s;
    float R = TR__L3 + z * TR__L4;
    R = TR__L2 + z * R;
    R = TR__L1 + z * R;
    R = z * R;
    float hfsq = (0.5f * f) * f;
    float dk = (float)k;
    float t = s * (hfsq + R);
    t = t + dk * TR__LN2_LO;
    t = t - hfsq;
    t = t + f;
    return t + dk * TR__LN2_HI;
}

/* --------------------------------------------------------------------------------- tanh */

#define TR__TANH_POLY_BITS 0x3f400000u /* 0.75: below, the odd polynomial */
#define TR__TANH_ONE_BITS 0x41200000u  /* 10: from here on tanh rounds to 1 */
/* tanh(a) = a + a^3 P(a^2) on [0, 0.75], P of degree 5: fitted for minimal relative error
 * (iteratively reweighted least squares in double precision), then rounded to float32; the
 * rounded polynomial's own error is below 0.13 ulp. */
#define TR__T1 (-0x1.55554ap-2f)
#define TR__T2 0x1.110db8p-3f
#define TR__T3 (-0x1.b97d3cp-5f)
#define TR__T4 0x1.5f785ap-6f
#define TR__T5 (-0x1.f5d36cp-8f)
#define TR__T6 0x1.c753c4p-10f

/* tanh(x) = sign(x) * t(|x|), the sign bit of x copied onto t (so tanh(-0) = -0):
 *   NaN -> NaN (x + x).
 *   a = |x| >= 10 (incl. inf):  t = 1
 *   0.75 <= a < 10:             e = exp(a + a)   (tr__expf; a + a is exact)
 *                               t = 1 - 2/(e + 1)   (e + 1, then 2/., then 1 - .; the last
 *                               is exact since 2/(e + 1) < 1/2: no cancellation)
 *   a < 0.75:                   z = a*a
 *                               p = T1 + z*(T2 + z*(T3 + z*(T4 + z*(T5 + z*T6))))   Horner
 *                               t = a + a*(z*p)   (the correction is below a/4, no
 *                               cancellation; subnormal a gives t = a) */
float tr__tanhf(float x)
{
    uint32_t ix = tr__f32_bits(x);
    uint32_t sign = ix & 0x80000000u;
    uint32_t ia = ix & 0x7fffffffu;
    float a = tr__f32_from_bits(ia);
    float t;
    if (ia > 0x7f800000u) {
        return x + x;
    }
    if (ia >= TR__TANH_ONE_BITS) {
        t = 1.0f;
    } else if (ia >= TR__TANH_POLY_BITS) {
        float e = tr__expf(a + a);
        t = 1.0f - 2.0f / (e + 1.0f);
    } else {
        float z = a * a;
        float p = TR__T5 + z * TR__T6;
        p = TR__T4 + z * p;
        p = TR__T3 + z * p;
        p = TR__T2 + z * p;
        p = TR__T1 + z * p;
        t = a + a * (z * p);
    }
    return tr__f32_from_bits(tr__f32_bits(t) | sign);
}

/* ---------------------------------------------------------------------------------- sin */

#define TR__SIN_TINY_BITS 0x39800000u  /* 2^-12: below, sin(x) rounds to x */
#define TR__SIN_BIG_BITS 0x45c80000u   /* 6400: from here on, x is first reduced mod 2pi_f */
#define TR__TWO_OVER_PI 0x1.45f306p-1f
/* pi/2 = P1 + P2 + P3 + P4 (+ 8.3e-20): P1, P2, P3 have at most 11 significant bits, so
 * k*P1, k*P2, k*P3 are exact for the integers |k| <= 4074 that |x| < 6400 gives. */
#define TR__PIO2_1 0x1.92p0f
#define TR__PIO2_2 0x1.fb4p-12f
#define TR__PIO2_3 0x1.444p-24f
#define TR__PIO2_4 0x1.68c234p-39f
#define TR__TWO_PI_MANT 0xc90fdbu      /* 2pi rounded to float32 (0x1.921fb6p2): mantissa */
#define TR__TWO_PI_EXP 129u            /* and biased exponent */
#define TR__SPLIT 0x1.002p12f          /* 4097, Veltkamp's splitter for 24-bit significands */
/* Taylor coefficients (-1)^j/(2j+1)! and (-1)^j/(2j)!, rounded to float32; truncation after
 * r^9 (sin) and r^10 (cos) costs below 0.06 ulp for |r| <= pi/4. */
#define TR__S1 (-0x1.555556p-3f)
#define TR__S2 0x1.111112p-7f
#define TR__S3 (-0x1.a01a02p-13f)
#define TR__S4 0x1.71de3ap-19f
#define TR__C1 0x1.555556p-5f
#define TR__C2 (-0x1.6c16c2p-10f)
#define TR__C3 0x1.a01a02p-16f
#define TR__C4 (-0x1.27e4fcp-22f)

/* x mod 2pi_f, exactly (2pi_f = 2pi rounded to float32), for finite |x| >= 6400: the integer
 * remainder of the significands, one exponent step at a time; the sign is x's. */
static float tr__fmod_2pi(uint32_t ix)
{
    uint32_t sign = ix & 0x80000000u;
    uint32_t e = (ix >> 23) & 0xffu;
    uint32_t mx = (ix & 0x7fffffu) | 0x800000u;
    for (; e > TR__TWO_PI_EXP; e--) {
        if (mx >= TR__TWO_PI_MANT) {
            mx -= TR__TWO_PI_MANT;
        }
        mx <<= 1;
    }
    if (mx >= TR__TWO_PI_MANT) {
        mx -= TR__TWO_PI_MANT;
    }
    if (mx == 0u) {
        return tr__f32_from_bits(sign);
    }
    while (mx < 0x800000u) {
        mx <<= 1;
        e--;
    }
    return tr__f32_from_bits(sign | (e << 23) | (mx & 0x7fffffu));
}

/* sin(x):
 *   NaN -> NaN and ±inf -> NaN (x - x); |x| < 2^-12 (incl. ±0, subnormals) -> x.
 *   |x| >= 6400: x is replaced by x mod 2pi_f (exact, tr__fmod_2pi); the result is then
 *   sin(x mod 2pi_f), which departs from sin(x) by about |x|*1.7e-7/(2pi) (2pi_f != 2pi):
 *   finite and in [-1, 1], but accurate only below 6400.
 *   Then, each line one rounding (or exact where noted):
 *     kf = (x*TWO_OVER_PI + 0x1.8p23) - 0x1.8p23   x/(pi/2) to an integer, |k| <= 4074
 *     a  = x - kf*P1                                exact (product exact; Sterbenz)
 *     a  = a - kf*P2                                exact (both multiples of 2^-24, |a| < 2)
 *     s  = a - kf*P3; e = TwoSum error of it        (bb = s - a; e = (a - (s - bb)) + (-(kf*P3) - bb))
 *     e  = e - kf*P4
 *     r  = s + e;  rl = e - (r - s)                 x - k pi/2 = r + rl, |r| <= pi/4 + 2^-20
 *     z  = r*r
 *   sin part (k even):  p = S1 + z*(S2 + z*(S3 + z*S4))       Horner, innermost first
 *                       sin = r + (((r*z)*p) + rl)
 *   cos part (k odd):   rh = (r*4097) - ((r*4097) - r); rt = r - rh      Veltkamp split
 *                       ze = ((rh*rh - z) + (rh*rt + rh*rt)) + rt*rt     z's rounding error
 *                       hz = 0.5*z;  w = 1 - hz
 *                       q  = C1 + z*(C2 + z*(C3 + z*C4))
 *                       cos = w + (((1 - w) - hz) + (((z*z)*q) - ((0.5*ze) + r*rl)))
 *   result: k mod 4 = 0: sin, 1: cos, 2: -sin, 3: -cos. */
float tr__sinf(float x)
{
    uint32_t ix = tr__f32_bits(x);
    uint32_t ia = ix & 0x7fffffffu;
    if (ia >= 0x7f800000u) {
        return x - x;
    }
    if (ia >= TR__SIN_BIG_BITS) {
        x = tr__fmod_2pi(ix);
        ia = tr__f32_bits(x) & 0x7fffffffu;
    }
    if (ia < TR__SIN_TINY_BITS) {
        return x;
    }
    float kf = x * TR__TWO_OVER_PI;
    kf = kf + TR__ROUND_MAGIC;
    kf = kf - TR__ROUND_MAGIC;
    uint32_t quadrant = (uint32_t)(int32_t)kf & 3u; /* kf is an integer, |kf| <= 4074 */
    float a = x - kf * TR__PIO2_1;
    a = a - kf * TR__PIO2_2;
    float c3 = kf * TR__PIO2_3;
    float s = a - c3;
    float bb = s - a;
    float e = (a - (s - bb)) + (-c3 - bb);
    e = e - kf * TR__PIO2_4;
    float r = s + e;
    float rl = e - (r - s);
    float z = r * r;
    float y;
    if ((quadrant & 1u) == 0u) {
        float p = TR__S3 + z * TR__S4;
        p = TR__S2 + z * p;
        p = TR__S1 + z * p;
        y = r + (((r * z) * p) + rl);
    } else {
        float sp = r * TR__SPLIT;
        float rh = sp - (sp - r);
        float rt = r - rh;
        float ze = ((rh * rh - z) + (rh * rt + rh * rt)) + rt * rt;
        float hz = 0.5f * z;
        float w = 1.0f - hz;
        float q = TR__C3 + z * TR__C4;
        q = TR__C2 + z * q;
        q = TR__C1 + z * q;
        y = w + (((1.0f - w) - hz) + (((z * z) * q) - ((0.5f * ze) + r * rl)));
    }
    return (quadrant & 2u) ? -y : y;
}

/* ------------------------------------------------------------------------ array kernels */

tr_status tr_exp_f32(float *y, const float *x, int32_t n)
{
    if (n < 0) {
        return TR_ERR_SHAPE;
    }
    if (n > 0 && (!y || !x)) {
        return TR_ERR_NULL;
    }
    for (int32_t j = 0; j < n; j++) {
        y[j] = tr__expf(x[j]);
    }
    return TR_OK;
}

tr_status tr_log_f32(float *y, const float *x, int32_t n)
{
    if (n < 0) {
        return TR_ERR_SHAPE;
    }
    if (n > 0 && (!y || !x)) {
        return TR_ERR_NULL;
    }
    for (int32_t j = 0; j < n; j++) {
        y[j] = tr__logf(x[j]);
    }
    return TR_OK;
}

#if TR_SIMD_SSE2
#include <emmintrin.h>

/* tr__tanhf on four lanes (SSE2): every branch computed on every lane (lanes a branch does not
 * own see a harmless argument, 1 for the exp branch, 0 for the polynomial), then the owning
 * branch's bits selected, as mathf.py does with np.where; each lane's float operations are
 * tr__tanhf's (and tr__expf's for a + a in [1.5, 20), where expf's range checks never fire). */
static __m128 tr__sel(__m128 mask, __m128 a, __m128 b)
{
    return _mm_or_ps(_mm_and_ps(mask, a), _mm_andnot_ps(mask, b));
}

static __m128 tr__tanh4(__m128 x)
{
    const __m128i ix = _mm_castps_si128(x);
    const __m128i ia = _mm_and_si128(ix, _mm_set1_epi32(0x7fffffff));
    const __m128i sign = _mm_and_si128(ix, _mm_set1_epi32((int32_t)0x80000000u));
    const __m128 a = _mm_castsi128_ps(ia);
    const __m128 one = _mm_set1_ps(1.0f);
    const __m128 is_nan = _mm_castsi128_ps(_mm_cmpgt_epi32(ia, _mm_set1_epi32(0x7f800000)));
    const __m128 sat = _mm_castsi128_ps(_mm_cmpgt_epi32(ia, _mm_set1_epi32((int32_t)TR__TANH_ONE_BITS - 1)));
    const __m128 ge_poly = _mm_castsi128_ps(_mm_cmpgt_epi32(ia, _mm_set1_epi32((int32_t)TR__TANH_POLY_BITS - 1)));
    const __m128 mid = _mm_andnot_ps(sat, ge_poly);
    /* exp(am + am) on the mid lanes */
    __m128 v = tr__sel(mid, a, one);
    v = _mm_add_ps(v, v);
    __m128 kf = _mm_mul_ps(v, _mm_set1_ps(TR__INV_LN2));
    kf = _mm_add_ps(kf, _mm_set1_ps(TR__ROUND_MAGIC));
    kf = _mm_sub_ps(kf, _mm_set1_ps(TR__ROUND_MAGIC));
    __m128i k = _mm_cvttps_epi32(kf);
    __m128 hi = _mm_sub_ps(v, _mm_mul_ps(kf, _mm_set1_ps(TR__LN2_HI)));
    __m128 lo = _mm_mul_ps(kf, _mm_set1_ps(TR__LN2_LO));
    __m128 r = _mm_sub_ps(hi, lo);
    __m128 c = _mm_sub_ps(_mm_sub_ps(hi, r), lo);
    __m128 p = _mm_add_ps(_mm_set1_ps(TR__E6), _mm_mul_ps(r, _mm_set1_ps(TR__E7)));
    p = _mm_add_ps(_mm_set1_ps(TR__E5), _mm_mul_ps(r, p));
    p = _mm_add_ps(_mm_set1_ps(TR__E4), _mm_mul_ps(r, p));
    p = _mm_add_ps(_mm_set1_ps(TR__E3), _mm_mul_ps(r, p));
    p = _mm_add_ps(_mm_set1_ps(TR__E2), _mm_mul_ps(r, p));
    __m128 q = _mm_mul_ps(_mm_mul_ps(r, r), p);
    __m128 e = _mm_add_ps(one, _mm_add_ps(r, _mm_add_ps(q, c)));
    __m128i k1 = _mm_sub_epi32(_mm_srai_epi32(_mm_add_epi32(k, _mm_set1_epi32(200)), 1),
                               _mm_set1_epi32(100));
    __m128i k2 = _mm_sub_epi32(k, k1);
    e = _mm_mul_ps(e, _mm_castsi128_ps(_mm_slli_epi32(_mm_add_epi32(k1, _mm_set1_epi32(127)), 23)));
    e = _mm_mul_ps(e, _mm_castsi128_ps(_mm_slli_epi32(_mm_add_epi32(k2, _mm_set1_epi32(127)), 23)));
    __m128 t_mid = _mm_sub_ps(one, _mm_div_ps(_mm_set1_ps(2.0f), _mm_add_ps(e, one)));
    /* the polynomial on the small lanes */
    __m128 ap = _mm_andnot_ps(_mm_or_ps(ge_poly, is_nan), a);
    __m128 z = _mm_mul_ps(ap, ap);
    __m128 t = _mm_add_ps(_mm_set1_ps(TR__T5), _mm_mul_ps(z, _mm_set1_ps(TR__T6)));
    t = _mm_add_ps(_mm_set1_ps(TR__T4), _mm_mul_ps(z, t));
    t = _mm_add_ps(_mm_set1_ps(TR__T3), _mm_mul_ps(z, t));
    t = _mm_add_ps(_mm_set1_ps(TR__T2), _mm_mul_ps(z, t));
    t = _mm_add_ps(_mm_set1_ps(TR__T1), _mm_mul_ps(z, t));
    __m128 t_poly = _mm_add_ps(ap, _mm_mul_ps(ap, _mm_mul_ps(z, t)));
    __m128 res = tr__sel(sat, one, tr__sel(mid, t_mid, t_poly));
    res = _mm_or_ps(res, _mm_castsi128_ps(sign));
    return tr__sel(is_nan, _mm_add_ps(x, x), res);
}
#endif

tr_status tr_tanh_f32(float *y, const float *x, int32_t n)
{
    if (n < 0) {
        return TR_ERR_SHAPE;
    }
    if (n > 0 && (!y || !x)) {
        return TR_ERR_NULL;
    }
    int32_t j0 = 0;
#if TR_SIMD_SSE2
    for (; j0 + 4 <= n; j0 += 4) {
        _mm_storeu_ps(y + j0, tr__tanh4(_mm_loadu_ps(x + j0)));
    }
#endif
    for (int32_t j = j0; j < n; j++) {
        y[j] = tr__tanhf(x[j]);
    }
    return TR_OK;
}

tr_status tr_sin_f32(float *y, const float *x, int32_t n)
{
    if (n < 0) {
        return TR_ERR_SHAPE;
    }
    if (n > 0 && (!y || !x)) {
        return TR_ERR_NULL;
    }
    for (int32_t j = 0; j < n; j++) {
        y[j] = tr__sinf(x[j]);
    }
    return TR_OK;
}
