/* dense.c - fully connected layer, float32, forward and backward.
 * Reduction orders are stated in tinyreptile.h and mirrored by tinyreptile_ref/dense.py. */
#include <stddef.h>

#include "tr_internal.h"

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
