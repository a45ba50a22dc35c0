/*
 * tr_internal.h - helpers shared by the kernel sources; not part of the public API.
 * Private names carry the double prefix tr__.
 */
#ifndef TR_INTERNAL_H
#define TR_INTERNAL_H

#include "tr_contract.h" /* first: the contract holds whatever the flags */

#include <stdint.h>
#include <string.h>

#include "tinyreptile.h"

/* SIMD across independent outputs: TR_SIMD 1 (the default) uses SSE2 on x86-64 / SSE2 x86
 * and NEON on AArch64 where available; 0 keeps the scalar loops, the reference. Both give the
 * same bits (each output's reduction order is unchanged). AArch32 NEON flushes subnormals to
 * zero and is never used. */
#ifndef TR_SIMD
#define TR_SIMD 1
#endif
#if TR_SIMD && defined(__SSE2__)
#define TR_SIMD_SSE2 1
#else
#define TR_SIMD_SSE2 0
#endif
#if TR_SIMD && defined(__aarch64__) && defined(__ARM_NEON)
#define TR_SIMD_NEON64 1
#else
#define TR_SIMD_NEON64 0
#endif

/* Four float32 lanes, one rounding per lane and operation, the scalar unit's IEEE results
 * (SSE2 and AArch64 NEON both keep subnormals and round to nearest even; no fused forms). */
#if TR_SIMD_SSE2
#include <emmintrin.h>
typedef __m128 tr__v4;
#define tr__v4_load(p) _mm_loadu_ps(p)
#define tr__v4_store(p, v) _mm_storeu_ps((p), (v))
#define tr__v4_set1(a) _mm_set1_ps(a)
#define tr__v4_setr(a, b, c, d) _mm_setr_ps((a), (b), (c), (d))
#define tr__v4_add(a, b) _mm_add_ps((a), (b))
#define tr__v4_mul(a, b) _mm_mul_ps((a), (b))
#define tr__v4_transpose(r0, r1, r2, r3) _MM_TRANSPOSE4_PS(r0, r1, r2, r3)
#define tr__v4_sub(a, b) _mm_sub_ps((a), (b))
#elif TR_SIMD_NEON64
#include <arm_neon.h>
typedef float32x4_t tr__v4;
#define tr__v4_load(p) vld1q_f32(p)
#define tr__v4_store(p, v) vst1q_f32((p), (v))
#define tr__v4_set1(a) vdupq_n_f32(a)
#define tr__v4_add(a, b) vaddq_f32((a), (b))
#define tr__v4_mul(a, b) vmulq_f32((a), (b))
#define tr__v4_sub(a, b) vsubq_f32((a), (b))
static inline tr__v4 tr__v4_setr(float a, float b, float c, float d)
{
    float t[4] = {a, b, c, d};
    return vld1q_f32(t);
}
#define tr__v4_transpose(r0, r1, r2, r3)                                                     \
    do {                                                                                     \
        float32x4_t t0_ = vtrn1q_f32(r0, r1), t1_ = vtrn2q_f32(r0, r1);                      \
        float32x4_t t2_ = vtrn1q_f32(r2, r3), t3_ = vtrn2q_f32(r2, r3);                      \
        r0 = vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(t0_),                    \
                                              vreinterpretq_f64_f32(t2_)));                  \
        r1 = vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(t1_),                    \
                                              vreinterpretq_f64_f32(t3_)));                  \
        r2 = vreinterpretq_f32_f64(vtrn2q_f64(vreinterpretq_f64_f32(t0_),                    \
                                              vreinterpretq_f64_f32(t2_)));                  \
        r3 = vreinterpretq_f32_f64(vtrn2q_f64(vreinterpretq_f64_f32(t1_),                    \
                                              vreinterpretq_f64_f32(t3_)));                  \
    } while (0)
#endif


#if TR_SIMD_SSE2 || TR_SIMD_NEON64
/* acc[lane] += w_lane[i]*x[i] for i in [0, I), i ascending, the four rows w0, w0 + stride,
 * w0 + 2 stride, w0 + 3 stride (lanes 0..3): one multiply and one add per lane and input, as
 * the scalar loops of dense and conv1d. */
static inline tr__v4 tr__dot4(tr__v4 acc, const float *w0, size_t stride, const float *x,
                              int32_t I)
{
    const float *w1 = w0 + stride, *w2 = w1 + stride, *w3 = w2 + stride;
    int32_t i = 0;
    for (; i + 4 <= I; i += 4) {
        tr__v4 r0 = tr__v4_load(w0 + i), r1 = tr__v4_load(w1 + i);
        tr__v4 r2 = tr__v4_load(w2 + i), r3 = tr__v4_load(w3 + i);
        tr__v4_transpose(r0, r1, r2, r3); /* r_j = (w0[i+j], w1[i+j], w2[i+j], w3[i+j]) */
        acc = tr__v4_add(acc, tr__v4_mul(r0, tr__v4_set1(x[i])));
        acc = tr__v4_add(acc, tr__v4_mul(r1, tr__v4_set1(x[i + 1])));
        acc = tr__v4_add(acc, tr__v4_mul(r2, tr__v4_set1(x[i + 2])));
        acc = tr__v4_add(acc, tr__v4_mul(r3, tr__v4_set1(x[i + 3])));
    }
    for (; i < I; i++) {
        acc = tr__v4_add(acc, tr__v4_mul(tr__v4_setr(w0[i], w1[i], w2[i], w3[i]),
                                         tr__v4_set1(x[i])));
    }
    return acc;
}

#endif

/* Returns 1 and stores a*b in *out when a >= 0, b >= 0 and a*b <= INT32_MAX; else 0. */
static inline int tr__mul_ok(int32_t *out, int32_t a, int32_t b)
{
    if (a < 0 || b < 0) {
        return 0;
    }
    if (a != 0 && b > INT32_MAX / a) {
        return 0;
    }
    *out = a * b;
    return 1;
}

/* Returns 1 and stores a*b*c in *out when all are >= 0 and every partial product fits. */
static inline int tr__mul3_ok(int32_t *out, int32_t a, int32_t b, int32_t c)
{
    int32_t ab;
    return tr__mul_ok(&ab, a, b) && tr__mul_ok(out, ab, c);
}

/* ---- elementwise math, float32 (mathf.c) ---- */

/* The raw bits of a float and back; memcpy is the punning C99 defines (compilers turn it
 * into a register move). */
static inline uint32_t tr__f32_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static inline float tr__f32_from_bits(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* The range [*lo, *hi) of j in [0, n) with 0 <= base + j*step < L (empty: *lo == *hi): the
 * valid taps of a conv1d output row, or the rows that one tap reaches. step >= 1, n >= 0,
 * L >= 0, and -2^31 < base < 2^31 (base is t*stride - pad or k*dilation - pad, whose parts the
 * geometry checks keep in [0, 2^31)). Both dividends then lie in [0, 2^32), so 32-bit unsigned
 * division is exact: one UDIV on Cortex-M3/M4 instead of a 64-bit libgcc call. */
static inline void tr__taps(int32_t *lo, int32_t *hi, int64_t base, int32_t step, int32_t n,
                            int32_t L)
{
    uint32_t a = 0, b = 0;
    if (base < 0) {
        a = (uint32_t)(-base + (int64_t)step - 1) / (uint32_t)step;
    }
    if (base <= (int64_t)L - 1) {
        b = (uint32_t)((int64_t)L - 1 - base) / (uint32_t)step + 1u;
    }
    if (b > (uint32_t)n) {
        b = (uint32_t)n;
    }
    if (a > b) {
        a = b;
    }
    *lo = (int32_t)a;
    *hi = (int32_t)b;
}

/* The library's scalar exp, log and tanh: + - * / and bit manipulation only, every float
 * operation in a fixed order (mirrored by tinyreptile_ref/mathf.py). Algorithms, special
 * values and accuracy are documented in mathf.c. */
float tr__expf(float x);
float tr__logf(float x);
float tr__tanhf(float x);
float tr__sinf(float x);

/* Counter-based random numbers (rng.c): bits j of the stream under key. */
uint64_t tr__rng_bits(uint64_t key, uint64_t j);

/* Per-row loss terms (loss.c), shared by the loss kernels and the model runtime so that a batch
 * processed one sample at a time gives the batched kernel's bits. */
void tr__mse_terms(float *acc, float *dpred, const float *pred, const float *target, int32_t n,
                   float scale);
void tr__softmax_xent_row(float *acc, float *g, const float *z, int32_t label, int32_t C,
                          float fB);

/* Cortex-M55 and other Armv8.1-M parts with MVE floating point (Helium): MVE's vector float
 * instructions always flush subnormals to zero and return the default NaN, whatever FPSCR.FZ
 * and FPSCR.DN say (the Armv8.1-M pseudocode runs them with StandardFPSCRValue()); only the
 * scalar FPU honours FPSCR. GCC's vectoriser turns the four-accumulator loops of the float
 * kernels into such instructions at -O2 and -O3, which changes bits on subnormal products and
 * 0*inf. So every file of the float library keeps its loops away from the vectoriser when the
 * target has MVE floating point; other targets (and the int8 files, which do not include this
 * header) keep their vectorisation. The pragma applies to the functions that follow it, and
 * this header is included before any of them. */
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 2) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-tree-vectorize")
#elif defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 2) && defined(__clang__)
#pragma clang attribute push(__attribute__((target("no-mve.fp"))), apply_to = function)
#endif

#endif /* TR_INTERNAL_H */
