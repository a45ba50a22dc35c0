/* dense.c - fully connected layer, float32, forward and backward.
 * Reduction orders are stated in tinyreptile.h and mirrored by tinyreptile_ref/dense.py. */
#include <stddef.h>

#include "tr_internal.h"

/* SIMD across independent outputs (TR_SIMD, see tr_internal.h): four outputs per vector
 * register, each lane one output's accumulator, so every output's sum still runs over i
 * ascending with one rounding per product and per addition -- the scalar loop's bits. The
 * rows of w are loaded four inputs at a time and transposed in registers. SSE2 (x86-64's
 * baseline) and AArch64 NEON honour IEEE subnormals and round to nearest like the scalar
 * unit; AArch32 NEON flushes subnormals and is never used. The tr__v4 operations are in
 * tr_internal.h. */
#if TR_SIMD_SSE2 || TR_SIMD_NEON64
/* Eight outputs: two independent accumulators (their add chains overlap). */
static inline void tr__dot8(float *y, const float *w0, const float *bias, const float *x,
                            int32_t I)
{
    const float *w4 = w0 + (size_t)4 * (size_t)I;
    const float *w1 = w0 + I, *w2 = w1 + I, *w3 = w2 + I;
    const float *w5 = w4 + I, *w6 = w5 + I, *w7 = w6 + I;
    tr__v4 a = tr__v4_load(bias), b = tr__v4_load(bias + 4);
    int32_t i = 0;
    for (; i + 4 <= I; i += 4) {
        tr__v4 r0 = tr__v4_load(w0 + i), r1 = tr__v4_load(w1 + i);
        tr__v4 r2 = tr__v4_load(w2 + i), r3 = tr__v4_load(w3 + i);
        tr__v4 s0 = tr__v4_load(w4 + i), s1 = tr__v4_load(w5 + i);
        tr__v4 s2 = tr__v4_load(w6 + i), s3 = tr__v4_load(w7 + i);
        tr__v4_transpose(r0, r1, r2, r3);
        tr__v4_transpose(s0, s1, s2, s3);
        tr__v4 x0 = tr__v4_set1(x[i]), x1 = tr__v4_set1(x[i + 1]);
        tr__v4 x2 = tr__v4_set1(x[i + 2]), x3 = tr__v4_set1(x[i + 3]);
        a = tr__v4_add(a, tr__v4_mul(r0, x0));
        b = tr__v4_add(b, tr__v4_mul(s0, x0));
        a = tr__v4_add(a, tr__v4_mul(r1, x1));
        b = tr__v4_add(b, tr__v4_mul(s1, x1));
        a = tr__v4_add(a, tr__v4_mul(r2, x2));
        b = tr__v4_add(b, tr__v4_mul(s2, x2));
        a = tr__v4_add(a, tr__v4_mul(r3, x3));
        b = tr__v4_add(b, tr__v4_mul(s3, x3));
    }
    for (; i < I; i++) {
        tr__v4 xi = tr__v4_set1(x[i]);
        a = tr__v4_add(a, tr__v4_mul(tr__v4_setr(w0[i], w1[i], w2[i], w3[i]), xi));
        b = tr__v4_add(b, tr__v4_mul(tr__v4_setr(w4[i], w5[i], w6[i], w7[i]), xi));
    }
    tr__v4_store(y, a);
    tr__v4_store(y + 4, b);
}
#endif

static int tr__dense_sizes_ok(int32_t B, int32_t I, int32_t O)
{
    int32_t n;
    return tr__mul_ok(&n, B, I) && tr__mul_ok(&n, O, I) && tr__mul_ok(&n, B, O);
}

tr_status tr_dense_forward_f32(float *y, const float *x, const float *w, const float *bias,
                               int32_t B, int32_t I, int32_t O)
{
    if (!tr__dense_sizes_ok(B, I, O)) {
        return TR_ERR_SHAPE;
    }
    if (B == 0 || O == 0) {
        return TR_OK;
    }
    if (!y || !bias || (I > 0 && (!x || !w))) {
        return TR_ERR_NULL;
    }
    for (int32_t b = 0; b < B; b++) {
        const float *xb = x + (size_t)b * (size_t)I; /* [I] */
        float *yb = y + (size_t)b * (size_t)O;       /* [O] */
        int32_t o = 0;
#if TR_SIMD_SSE2 || TR_SIMD_NEON64
        for (; o + 8 <= O; o += 8) {
            tr__dot8(yb + o, w + (size_t)o * (size_t)I, bias + o, xb, I);
        }
        for (; o + 4 <= O; o += 4) {
            tr__v4_store(yb + o, tr__dot4(tr__v4_load(bias + o), w + (size_t)o * (size_t)I,
                                          (size_t)I, xb, I));
        }
#endif
        /* Four outputs at a time: four independent accumulators hide the add latency;
         * each output's own sum still runs over i ascending. */
        for (; o + 4 <= O; o += 4) {
            const float *w0 = w + (size_t)o * (size_t)I; /* [4][I] */
            float a0 = bias[o], a1 = bias[o + 1], a2 = bias[o + 2], a3 = bias[o + 3];
            for (int32_t i = 0; i < I; i++) {
                float xi = xb[i];
                a0 += w0[i] * xi;
                a1 += w0[I + i] * xi;
                a2 += w0[2 * I + i] * xi;
                a3 += w0[3 * I + i] * xi;
            }
            yb[o] = a0;
            yb[o + 1] = a1;
            yb[o + 2] = a2;
            yb[o + 3] = a3;
        }
        for (; o < O; o++) {
            const float *wo = w + (size_t)o * (size_t)I; /* [I] */
            float acc = bias[o];
            for (int32_t i = 0; i < I; i++) {
                acc += wo[i] * xb[i];
            }
            yb[o] = acc;
        }
    }
    return TR_OK;
}

tr_status tr_dense_backward_f32(float *dx, float *dw, float *db, const float *dy,
                                const float *x, const float *w,
                                int32_t B, int32_t I, int32_t O)
{
    if (!tr__dense_sizes_ok(B, I, O)) {
        return TR_ERR_SHAPE;
    }
    if ((O > 0 && !db) || (O > 0 && I > 0 && !dw) || (B > 0 && I > 0 && O > 0 && dx && !w) ||
        (B > 0 && O > 0 && !dy) || (B > 0 && I > 0 && O > 0 && !x)) {
        return TR_ERR_NULL;
    }
    /* dx[b][i]: o ascending. Accumulating in dx row by row keeps that order per element
     * and lets the inner loop run over contiguous rows of w. */
    if (dx) {
        for (int32_t b = 0; b < B; b++) {
            float *dxb = dx + (size_t)b * (size_t)I;             /* [I] */
            for (int32_t i = 0; i < I; i++) {
                dxb[i] = 0.0f;
            }
            for (int32_t o = 0; o < O; o++) {
                float g = dy[(size_t)b * (size_t)O + (size_t)o];
                const float *wo = w + (size_t)o * (size_t)I;      /* [I] */
                for (int32_t i = 0; i < I; i++) {
                    dxb[i] += g * wo[i];
                }
            }
        }
    }
    /* dw[o][i] and db[o]: b ascending, accumulated in place the same way. */
    for (int32_t o = 0; o < O; o++) {
        float *dwo = dw + (size_t)o * (size_t)I;                  /* [I] */
        for (int32_t i = 0; i < I; i++) {
            dwo[i] = 0.0f;
        }
        db[o] = 0.0f;
    }
    for (int32_t b = 0; b < B; b++) {
        const float *xb = x + (size_t)b * (size_t)I;              /* [I] */
        for (int32_t o = 0; o < O; o++) {
            float g = dy[(size_t)b * (size_t)O + (size_t)o];
            float *dwo = dw + (size_t)o * (size_t)I;              /* [I] */
            for (int32_t i = 0; i < I; i++) {
                dwo[i] += g * xb[i];
            }
            db[o] += g;
        }
    }
    return TR_OK;
}
