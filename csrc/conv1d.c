/* conv1d.c - channels-last 1-D convolution, float32, forward and backward.
 * Reduction orders are stated in tinyreptile.h and mirrored by tinyreptile_ref/conv1d.py.
 *
 * Taps that fall into the padding are skipped, never multiplied by zero: 0*inf would be NaN
 * and -0 + 0 would be +0, so skipping is what the documented sums say. For one output row t
 * the valid taps k form one range [k0, k1), and for one tap k the valid rows t form one
 * range [t0, t1) (tr__taps); the loops run over those ranges only, so no index is ever
 * formed outside its buffer. With dilation 1 the valid taps of a row are contiguous in both
 * x and w, and are handled as one run of (k1 - k0)*C_in values in the same order. */
#include <stddef.h>

#include "tr_internal.h"

static tr_status tr__out_len(int32_t *L_out, int32_t *pad_before, int32_t L, int32_t K,
                             int32_t stride, int32_t dilation, int32_t padding)
{
    int32_t span, n, reach, total;
    if (K < 1 || stride < 1 || dilation < 1 ||
        (padding != TR_PAD_VALID && padding != TR_PAD_SAME)) {
        return TR_ERR_PARAM;
    }
    if (L < 0) {
        return TR_ERR_SHAPE;
    }
    /* S = (K-1)*dilation + 1 */
    if (!tr__mul_ok(&span, K - 1, dilation) || span == INT32_MAX) {
        return TR_ERR_SHAPE;
    }
    span += 1;
    if (padding == TR_PAD_VALID) {
        *L_out = L >= span ? (L - span) / stride + 1 : 0;
        *pad_before = 0;
        return TR_OK;
    }
    n = L / stride + (L % stride != 0); /* ceil(L / stride) without overflow */
    if (n == 0) {
        reach = span - stride; /* (L_out-1)*stride + S with L_out = 0; both terms are >= 1 */
    } else {
        int32_t last = (n - 1) * stride; /* < L, so it fits */
        if (span > INT32_MAX - last) {
            return TR_ERR_SHAPE;
        }
        reach = last + span;
    }
    total = reach - L;
    if (total < 0) {
        total = 0;
    }
    *L_out = n;
    *pad_before = total / 2;
    return TR_OK;
}

tr_status tr_conv1d_out_len(int32_t *L_out, int32_t *pad_before, int32_t L, int32_t K,
                            int32_t stride, int32_t dilation, int32_t padding)
{
    int32_t n, pad;
    tr_status st = tr__out_len(&n, &pad, L, K, stride, dilation, padding);
    if (st != TR_OK) {
        return st;
    }
    if (!L_out || !pad_before) {
        return TR_ERR_NULL;
    }
    *L_out = n;
    *pad_before = pad;
    return TR_OK;
}

/* Checks every size and parameter, and every product of sizes the kernels form. */
static tr_status tr__conv1d_geometry(int32_t *L_out, int32_t *pad, int32_t B, int32_t L,
                                     int32_t C_in, int32_t C_out, int32_t K, int32_t stride,
                                     int32_t dilation, int32_t padding)
{
    int32_t n;
    tr_status st = tr__out_len(L_out, pad, L, K, stride, dilation, padding);
    if (st != TR_OK) {
        return st;
    }
    if (!tr__mul3_ok(&n, B, L, C_in) || !tr__mul3_ok(&n, C_out, K, C_in) ||
        !tr__mul3_ok(&n, B, *L_out, C_out)) {
        return TR_ERR_SHAPE;
    }
    return TR_OK;
}

tr_status tr_conv1d_forward_f32(float *y, const float *x, const float *w, const float *bias,
                                int32_t B, int32_t L, int32_t C_in, int32_t C_out, int32_t K,
                                int32_t stride, int32_t dilation, int32_t padding)
{
    int32_t L_out, pad;
    tr_status st = tr__conv1d_geometry(&L_out, &pad, B, L, C_in, C_out, K, stride, dilation,
                                       padding);
    if (st != TR_OK) {
        return st;
    }
    if (B == 0 || L_out == 0 || C_out == 0) {
        return TR_OK;
    }
    if (!y || !bias || (C_in > 0 && (!x || !w))) {
        return TR_ERR_NULL;
    }
    const size_t wco = (size_t)K * (size_t)C_in;           /* w[co] -> w[co+1] */
    const size_t xk = (size_t)dilation * (size_t)C_in;     /* x row of tap k -> tap k+1 */
    for (int32_t b = 0; b < B; b++) {
        for (int32_t t = 0; t < L_out; t++) {
            float *yt = y + ((size_t)b * (size_t)L_out + (size_t)t) * (size_t)C_out; /* [C_out] */
            int32_t k0, k1, runs, len;
            tr__taps(&k0, &k1, (int64_t)t * stride - pad, dilation, K, L);
            if (C_in == 0) {
                k1 = k0;
            }
            /* `runs` stretches of `len` values each: one per valid tap, or one for all of
             * them when dilation is 1 (then they are adjacent in x and in w). */
            runs = dilation == 1 ? (k1 > k0) : k1 - k0;
            len = dilation == 1 ? (k1 - k0) * C_in : C_in;
            const float *xt = NULL; /* [runs][len] with row step xk: x[b][p(t,k0)] */
            if (runs > 0) {
                xt = x + ((size_t)b * (size_t)L + (size_t)(t * stride + k0 * dilation - pad)) *
                             (size_t)C_in;
            }
            int32_t co = 0;
#if TR_SIMD_SSE2 || TR_SIMD_NEON64
            /* SIMD across four outputs (tr__dot4), each lane's sum over k, then ci, ascending */
            for (; co + 4 <= C_out; co += 4) {
                tr__v4 acc = tr__v4_load(bias + co);
                for (int32_t r = 0; r < runs; r++) {
                    acc = tr__dot4(acc, w + (size_t)co * wco + (size_t)(k0 + r) * (size_t)C_in, wco,
                                   xt + (size_t)r * xk, len);
                }
                tr__v4_store(yt + co, acc);
            }
#endif
            /* Four outputs at a time, each with its own accumulator running over k, then ci,
             * ascending: the same order as one output at a time. */
            for (; co + 4 <= C_out; co += 4) {
                float a0 = bias[co], a1 = bias[co + 1], a2 = bias[co + 2], a3 = bias[co + 3];
                for (int32_t r = 0; r < runs; r++) {
                    const float *xr = xt + (size_t)r * xk;                           /* [len] */
                    const float *w0 = w + (size_t)co * wco + (size_t)(k0 + r) * (size_t)C_in;
                    const float *w1 = w0 + wco, *w2 = w1 + wco, *w3 = w2 + wco;      /* [len] */
                    for (int32_t i = 0; i < len; i++) {
                        float xi = xr[i];
                        a0 += w0[i] * xi;
                        a1 += w1[i] * xi;
                        a2 += w2[i] * xi;
                        a3 += w3[i] * xi;
                    }
                }
                yt[co] = a0;
                yt[co + 1] = a1;
                yt[co + 2] = a2;
                yt[co + 3] = a3;
            }
            for (; co < C_out; co++) {
                float acc = bias[co];
                for (int32_t r = 0; r < runs; r++) {
                    const float *xr = xt + (size_t)r * xk;                           /* [len] */
                    const float *wr = w + (size_t)co * wco + (size_t)(k0 + r) * (size_t)C_in;
                    for (int32_t i = 0; i < len; i++) {
                        acc += wr[i] * xr[i];
                    }
                }
                yt[co] = acc;
            }
        }
    }
    return TR_OK;
}

tr_status tr_conv1d_backward_f32(float *dx, float *dw, float *db, const float *dy,
                                 const float *x, const float *w,
                                 int32_t B, int32_t L, int32_t C_in, int32_t C_out, int32_t K,
                                 int32_t stride, int32_t dilation, int32_t padding)
{
    int32_t L_out, pad;
    tr_status st = tr__conv1d_geometry(&L_out, &pad, B, L, C_in, C_out, K, stride, dilation,
                                       padding);
    if (st != TR_OK) {
        return st;
    }
    /* Whether any product dy*w or dy*x is formed at all. */
    const int work = B > 0 && L_out > 0 && C_out > 0 && C_in > 0;
    if ((C_out > 0 && !db) || (C_out > 0 && C_in > 0 && !dw) ||
        (B > 0 && L_out > 0 && C_out > 0 && !dy) || (work && !x) || (work && dx && !w)) {
        return TR_ERR_NULL;
    }
    const size_t wco = (size_t)K * (size_t)C_in; /* w[co] -> w[co+1], likewise dw */
    const size_t xk = (size_t)dilation * (size_t)C_in;

    /* dx[b][l][ci]: k ascending, then co ascending. For one k, distinct t reach distinct l,
     * so accumulating in dx in the loop order b, k, t, co adds each element's terms in that
     * order. Four co at a time keep the partial sum in a register; same order. */
    if (dx) {
        const int32_t n = B * L * C_in; /* checked to fit */
        for (int32_t j = 0; j < n; j++) {
            dx[j] = 0.0f;
        }
        for (int32_t b = 0; work && b < B; b++) {
            for (int32_t k = 0; k < K; k++) {
                int32_t t0, t1;
                tr__taps(&t0, &t1, (int64_t)k * dilation - pad, stride, L_out, L);
                const float *wk = w + (size_t)k * (size_t)C_in; /* w[0][k], [C_in] */
                for (int32_t t = t0; t < t1; t++) {
                    int32_t l = t * stride + k * dilation - pad;
                    float *dxl = dx + ((size_t)b * (size_t)L + (size_t)l) * (size_t)C_in;
                    const float *dyt = dy + ((size_t)b * (size_t)L_out + (size_t)t) *
                                                (size_t)C_out;                   /* [C_out] */
                    int32_t co = 0;
                    for (; co + 4 <= C_out; co += 4) {
                        const float g0 = dyt[co], g1 = dyt[co + 1], g2 = dyt[co + 2],
                                    g3 = dyt[co + 3];
                        const float *w0 = wk + (size_t)co * wco;                 /* [C_in] */
                        const float *w1 = w0 + wco, *w2 = w1 + wco, *w3 = w2 + wco;
                        for (int32_t ci = 0; ci < C_in; ci++) {
                            float a = dxl[ci];
                            a += w0[ci] * g0;
                            a += w1[ci] * g1;
                            a += w2[ci] * g2;
                            a += w3[ci] * g3;
                            dxl[ci] = a;
                        }
                    }
                    for (; co < C_out; co++) {
                        const float g = dyt[co];
                        const float *wr = wk + (size_t)co * wco;                 /* [C_in] */
                        for (int32_t ci = 0; ci < C_in; ci++) {
                            dxl[ci] += wr[ci] * g;
                        }
                    }
                }
            }
        }
    }

    /* dw[co][k][ci] and db[co]: b ascending, then t ascending; accumulated in place in the
     * loop order b, t, co, k, ci. */
    {
        const int32_t n = C_out * K * C_in; /* checked to fit */
        for (int32_t j = 0; j < n; j++) {
            dw[j] = 0.0f;
        }
        for (int32_t co = 0; co < C_out; co++) {
            db[co] = 0.0f;
        }
    }
    if (C_out == 0) {
        return TR_OK;
    }
    for (int32_t b = 0; b < B; b++) {
        for (int32_t t = 0; t < L_out; t++) {
            const float *dyt = dy + ((size_t)b * (size_t)L_out + (size_t)t) * (size_t)C_out;
            int32_t k0, k1, runs, len;
            tr__taps(&k0, &k1, (int64_t)t * stride - pad, dilation, K, L);
            if (C_in == 0) {
                k1 = k0;
            }
            runs = dilation == 1 ? (k1 > k0) : k1 - k0;
            len = dilation == 1 ? (k1 - k0) * C_in : C_in;
            const float *xt = NULL; /* [runs][len] with row step xk: x[b][p(t,k0)] */
            if (runs > 0) {
                xt = x + ((size_t)b * (size_t)L + (size_t)(t * stride + k0 * dilation - pad)) *
                             (size_t)C_in;
            }
            for (int32_t co = 0; co < C_out; co++) {
                const float g = dyt[co];
                db[co] += g;
                for (int32_t r = 0; r < runs; r++) {
                    const float *xr = xt + (size_t)r * xk;                           /* [len] */
                    float *dwr = dw + (size_t)co * wco + (size_t)(k0 + r) * (size_t)C_in;
                    for (int32_t i = 0; i < len; i++) {
                        dwr[i] += g * xr[i];
                    }
                }
            }
        }
    }
    return TR_OK;
}
