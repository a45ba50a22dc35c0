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
