/*
 * kernel_check.c - drives every kernel of csrc/ over many shapes, including empty ones, and
 * the error paths, so that a build with -fsanitize=address,undefined sees every access.
 * Checks statuses and a few exact identities; the bitwise comparisons against the NumPy
 * reference are the Python tests' and the vector runner's job. Prints "N passed, N failed".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tinyreptile.h"

static int passed, failed;

#define CHECK(cond)                                                               \
    do {                                                                          \
        if (cond) {                                                               \
            passed++;                                                             \
        } else {                                                                  \
            failed++;                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                         \
    } while (0)

static uint32_t rng_state = 12345u;

static float rnd(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((int32_t)(rng_state >> 8) - (1 << 23)) / (float)(1 << 22);
}

/* Exactly-sized heap buffers, so that ASan catches any access past the end. */
static float *fbuf(int32_t n)
{
    float *p = malloc(n > 0 ? (size_t)n * sizeof(float) : 1);
    for (int32_t i = 0; i < n; i++) {
        p[i] = rnd();
    }
    return p;
}

static void check_dense(void)
{
    for (int32_t B = 0; B <= 3; B++) {
        for (int32_t I = 0; I <= 9; I++) {
            for (int32_t O = 0; O <= 9; O++) {
                float *x = fbuf(B * I), *w = fbuf(O * I), *bias = fbuf(O), *y = fbuf(B * O);
                float *dy = fbuf(B * O), *dx = fbuf(B * I), *dw = fbuf(O * I), *db = fbuf(O);
                CHECK(tr_dense_forward_f32(y, x, w, bias, B, I, O) == TR_OK);
                CHECK(tr_dense_backward_f32(dx, dw, db, dy, x, w, B, I, O) == TR_OK);
                CHECK(tr_dense_backward_f32(NULL, dw, db, dy, x, w, B, I, O) == TR_OK);
                if (B == 1 && I > 0 && O > 0) { /* one sample: dw is the outer product */
                    CHECK(dw[(O - 1) * I + (I - 1)] == dy[O - 1] * x[I - 1]);
                    CHECK(db[O - 1] == dy[O - 1]);
                }
                free(x); free(w); free(bias); free(y); free(dy); free(dx); free(dw); free(db);
            }
        }
    }
    float v[4] = {0};
    CHECK(tr_dense_forward_f32(NULL, v, v, v, 1, 1, 1) == TR_ERR_NULL);
    CHECK(tr_dense_forward_f32(v, v, v, v, -1, 1, 1) == TR_ERR_SHAPE);
    CHECK(tr_dense_forward_f32(v, v, v, v, 65536, 65536, 1) == TR_ERR_SHAPE);
    CHECK(tr_dense_backward_f32(v, NULL, v, v, v, v, 1, 1, 1) == TR_ERR_NULL);
    CHECK(tr_dense_forward_f32(NULL, NULL, NULL, NULL, 0, 5, 5) == TR_OK);
}

static float *fconst(int32_t n, float v)
{
    float *p = malloc(n > 0 ? (size_t)n * sizeof(float) : 1);
    for (int32_t i = 0; i < n; i++) {
        p[i] = v;
    }
    return p;
}

/* The number of valid taps (t, k) with t*stride + k*dilation - pad at position l (l >= 0),
 * or, for l < 0, in output row t = -1 - l; counted by brute force for the identities below. */
static int32_t conv_taps(int32_t l, int32_t L, int32_t L_out, int32_t K, int32_t s, int32_t d,
                         int32_t pad)
{
    int32_t n = 0;
    for (int32_t t = 0; t < L_out; t++) {
        for (int32_t k = 0; k < K; k++) {
            int64_t p = (int64_t)t * s + (int64_t)k * d - pad;
            if (p >= 0 && p < L && (l >= 0 ? p == l : t == -1 - l)) {
                n++;
            }
        }
    }
    return n;
}

/* One conv1d geometry, all buffers exactly sized: random data (for the sanitizers), then
 * all-ones data, where every result is a count of valid taps, exact in float32. */
static void conv1d_case(int32_t B, int32_t L, int32_t C_in, int32_t C_out, int32_t K, int32_t s,
                        int32_t d, int32_t padding)
{
    int32_t L_out = -1, pad = -1;
    CHECK(tr_conv1d_out_len(&L_out, &pad, L, K, s, d, padding) == TR_OK);
    const int32_t nx = B * L * C_in, nw = C_out * K * C_in, ny = B * L_out * C_out;
    float *x = fbuf(nx), *w = fbuf(nw), *bias = fbuf(C_out), *y = fbuf(ny), *dy = fbuf(ny);
    float *dx = fbuf(nx), *dw = fbuf(nw), *db = fbuf(C_out), *dw2 = fbuf(nw), *db2 = fbuf(C_out);
    CHECK(tr_conv1d_forward_f32(y, x, w, bias, B, L, C_in, C_out, K, s, d, padding) == TR_OK);
    CHECK(tr_conv1d_backward_f32(dx, dw, db, dy, x, w, B, L, C_in, C_out, K, s, d, padding) == TR_OK);
    CHECK(tr_conv1d_backward_f32(NULL, dw2, db2, dy, x, NULL, B, L, C_in, C_out, K, s, d,
                                 padding) == TR_OK);
    CHECK(nw == 0 || memcmp(dw, dw2, (size_t)nw * sizeof(float)) == 0);
    CHECK(C_out == 0 || memcmp(db, db2, (size_t)C_out * sizeof(float)) == 0);
    free(x); free(w); free(bias); free(dy);
    x = fconst(nx, 1.0f); w = fconst(nw, 1.0f); bias = fconst(C_out, 0.0f); dy = fconst(ny, 1.0f);
    CHECK(tr_conv1d_forward_f32(y, x, w, bias, B, L, C_in, C_out, K, s, d, padding) == TR_OK);
    CHECK(tr_conv1d_backward_f32(dx, dw, db, dy, x, w, B, L, C_in, C_out, K, s, d, padding) == TR_OK);
    int ok = 1;
    for (int32_t b = 0; b < B; b++) {
        for (int32_t t = 0; t < L_out; t++) {
            float want = (float)(conv_taps(-1 - t, L, L_out, K, s, d, pad) * C_in);
            for (int32_t co = 0; co < C_out; co++) {
                ok &= y[((size_t)b * L_out + t) * C_out + co] == want;
            }
        }
        for (int32_t l = 0; l < L; l++) {
            float want = (float)(conv_taps(l, L, L_out, K, s, d, pad) * C_out);
            for (int32_t ci = 0; ci < C_in; ci++) {
                ok &= dx[((size_t)b * L + l) * C_in + ci] == want;
            }
        }
    }
    for (int32_t k = 0; k < K; k++) {
        int32_t valid = 0; /* rows t where tap k is inside [0, L) */
        for (int32_t t = 0; t < L_out; t++) {
            int64_t p = (int64_t)t * s + (int64_t)k * d - pad;
            valid += p >= 0 && p < L;
        }
        for (int32_t co = 0; co < C_out; co++) {
            for (int32_t ci = 0; ci < C_in; ci++) {
                ok &= dw[((size_t)co * K + k) * C_in + ci] == (float)(B * valid);
            }
        }
    }
    for (int32_t co = 0; co < C_out; co++) {
        ok &= db[co] == (float)(B * L_out);
    }
    CHECK(ok);
    free(x); free(w); free(bias); free(y); free(dy);
    free(dx); free(dw); free(db); free(dw2); free(db2);
}

static void check_conv1d(void)
{
    static const int32_t c_in[] = {0, 1, 3, 5}, c_out[] = {0, 1, 4, 6};
    for (int32_t B = 0; B <= 2; B++)
        for (int32_t L = 0; L <= 9; L++)
            for (int32_t i = 0; i < 4; i++)
                for (int32_t o = 0; o < 4; o++)
                    for (int32_t K = 1; K <= 4; K++)
                        for (int32_t s = 1; s <= 3; s++)
                            for (int32_t d = 1; d <= 3; d++)
                                for (int32_t pm = TR_PAD_VALID; pm <= TR_PAD_SAME; pm++)
                                    conv1d_case(B, L, c_in[i], c_out[o], K, s, d, pm);
    /* Extreme but valid geometries: a span of 2**30 + 1 where only the centre tap meets the
     * input, every tap in the padding, a stride of INT32_MAX. */
    conv1d_case(2, 5, 3, 5, 3, 1, 1 << 29, TR_PAD_SAME);
    conv1d_case(2, 1, 3, 5, 2, 1, 100, TR_PAD_SAME);
    conv1d_case(1, 5, 2, 5, 1, INT32_MAX, 1, TR_PAD_SAME);
    conv1d_case(1, 5, 2, 5, 2, INT32_MAX, 4, TR_PAD_VALID);

    int32_t n = -1, pad = -1;
    CHECK(tr_conv1d_out_len(&n, &pad, 49, 3, 1, 1, TR_PAD_SAME) == TR_OK && n == 49 && pad == 1);
    CHECK(tr_conv1d_out_len(&n, &pad, 10, 4, 1, 1, TR_PAD_SAME) == TR_OK && n == 10 && pad == 1);
    CHECK(tr_conv1d_out_len(&n, &pad, 2, 3, 1, 1, TR_PAD_VALID) == TR_OK && n == 0 && pad == 0);
    CHECK(tr_conv1d_out_len(&n, &pad, INT32_MAX, 1, 1, 1, TR_PAD_SAME) == TR_OK && n == INT32_MAX);
    CHECK(tr_conv1d_out_len(NULL, &pad, 5, 1, 1, 1, TR_PAD_VALID) == TR_ERR_NULL);
    CHECK(tr_conv1d_out_len(&n, NULL, 5, 1, 1, 1, TR_PAD_VALID) == TR_ERR_NULL);
    CHECK(tr_conv1d_out_len(&n, &pad, 5, 0, 1, 1, TR_PAD_VALID) == TR_ERR_PARAM);
    CHECK(tr_conv1d_out_len(&n, &pad, 5, 1, 0, 1, TR_PAD_VALID) == TR_ERR_PARAM);
    CHECK(tr_conv1d_out_len(&n, &pad, 5, 1, 1, -1, TR_PAD_VALID) == TR_ERR_PARAM);
    CHECK(tr_conv1d_out_len(&n, &pad, 5, 1, 1, 1, 2) == TR_ERR_PARAM);
    CHECK(tr_conv1d_out_len(&n, &pad, 5, 1, 1, 1, -1) == TR_ERR_PARAM);
    CHECK(tr_conv1d_out_len(&n, &pad, -1, 1, 1, 1, TR_PAD_VALID) == TR_ERR_SHAPE);
    CHECK(tr_conv1d_out_len(&n, &pad, 5, 3, 1, 1 << 30, TR_PAD_VALID) == TR_ERR_SHAPE);
    CHECK(tr_conv1d_out_len(&n, &pad, 5, INT32_MAX, 1, INT32_MAX, TR_PAD_VALID) == TR_ERR_SHAPE);
    CHECK(tr_conv1d_out_len(&n, &pad, INT32_MAX, 2, 1, 1 << 30, TR_PAD_SAME) == TR_ERR_SHAPE);

    float v[8] = {0};
    CHECK(tr_conv1d_forward_f32(NULL, v, v, v, 1, 1, 1, 1, 1, 1, 1, TR_PAD_VALID) == TR_ERR_NULL);
    CHECK(tr_conv1d_forward_f32(v, NULL, v, v, 1, 1, 1, 1, 1, 1, 1, TR_PAD_VALID) == TR_ERR_NULL);
    CHECK(tr_conv1d_forward_f32(v, v, v, NULL, 1, 1, 1, 1, 1, 1, 1, TR_PAD_VALID) == TR_ERR_NULL);
    CHECK(tr_conv1d_forward_f32(NULL, NULL, NULL, NULL, 0, 5, 5, 5, 3, 1, 1, TR_PAD_SAME) == TR_OK);
    CHECK(tr_conv1d_forward_f32(v, v, v, v, -1, 1, 1, 1, 1, 1, 1, TR_PAD_VALID) == TR_ERR_SHAPE);
    CHECK(tr_conv1d_forward_f32(v, v, v, v, 1, 1, -1, 1, 1, 1, 1, TR_PAD_VALID) == TR_ERR_SHAPE);
    CHECK(tr_conv1d_forward_f32(v, v, v, v, 1, 1, 1, -1, 1, 1, 1, TR_PAD_VALID) == TR_ERR_SHAPE);
    CHECK(tr_conv1d_forward_f32(v, v, v, v, 1, 1, 1, 1, 0, 1, 1, TR_PAD_VALID) == TR_ERR_PARAM);
    CHECK(tr_conv1d_forward_f32(v, v, v, v, 1, 1, 1, 1, 1, 0, 1, TR_PAD_VALID) == TR_ERR_PARAM);
    CHECK(tr_conv1d_forward_f32(v, v, v, v, 1, 1, 1, 1, 1, 1, 0, TR_PAD_VALID) == TR_ERR_PARAM);
    CHECK(tr_conv1d_forward_f32(v, v, v, v, 1, 1, 1, 1, 1, 1, 1, 7) == TR_ERR_PARAM);
    CHECK(tr_conv1d_forward_f32(v, v, v, v, 65536, 65536, 1, 1, 1, 1, 1, TR_PAD_VALID) == TR_ERR_SHAPE);
    CHECK(tr_conv1d_forward_f32(v, v, v, v, 65536, 65536, 0, 1, 1, 1, 1, TR_PAD_VALID) == TR_ERR_SHAPE);
    CHECK(tr_conv1d_forward_f32(v, v, v, v, 1, 1, 65536, 65536, 1, 1, 1, TR_PAD_VALID) == TR_ERR_SHAPE);
    CHECK(tr_conv1d_forward_f32(v, v, v, v, 65536, 16384, 1, 65536, 1, 1, 1, TR_PAD_SAME) == TR_ERR_SHAPE);
    CHECK(tr_conv1d_forward_f32(v, v, v, v, 1, 5, 1, 1, 3, 1, 1 << 30, TR_PAD_VALID) == TR_ERR_SHAPE);
    CHECK(tr_conv1d_backward_f32(v, NULL, v, v, v, v, 1, 1, 1, 1, 1, 1, 1, TR_PAD_VALID) == TR_ERR_NULL);
    CHECK(tr_conv1d_backward_f32(v, v, NULL, v, v, v, 1, 1, 1, 1, 1, 1, 1, TR_PAD_VALID) == TR_ERR_NULL);
    CHECK(tr_conv1d_backward_f32(v, v, v, NULL, v, v, 1, 1, 1, 1, 1, 1, 1, TR_PAD_VALID) == TR_ERR_NULL);
    CHECK(tr_conv1d_backward_f32(v, v, v, v, NULL, v, 1, 1, 1, 1, 1, 1, 1, TR_PAD_VALID) == TR_ERR_NULL);
    CHECK(tr_conv1d_backward_f32(v, v, v, v, v, NULL, 1, 1, 1, 1, 1, 1, 1, TR_PAD_VALID) == TR_ERR_NULL);
    for (int i = 0; i < 8; i++) {
        v[i] = 9.0f;
    }
    /* C_out = 0: nothing but dx [1][4][2] is touched, and it is cleared */
    CHECK(tr_conv1d_backward_f32(v, NULL, NULL, NULL, NULL, NULL, 1, 4, 2, 0, 3, 1, 1,
                                 TR_PAD_SAME) == TR_OK);
    CHECK(v[0] == 0.0f && v[7] == 0.0f);
    /* C_in = 0: x and w are never read, so they may be NULL; y [1][3][2] is the bias */
    float bias2[2] = {1.5f, -2.0f};
    CHECK(tr_conv1d_forward_f32(v, NULL, NULL, bias2, 1, 3, 0, 2, 2, 1, 1, TR_PAD_SAME) == TR_OK);
    CHECK(v[0] == 1.5f && v[5] == -2.0f);
    CHECK(tr_conv1d_backward_f32(NULL, NULL, v, v, NULL, NULL, 1, 3, 0, 2, 2, 1, 1, TR_PAD_SAME) == TR_OK);
    CHECK(tr_conv1d_backward_f32(v, v, v, v, v, v, 1, 1, 1, 1, 1, 0, 1, TR_PAD_VALID) == TR_ERR_PARAM);
    CHECK(tr_conv1d_backward_f32(v, v, v, v, v, v, 1, 1, 1, 1, 1, 1, 1, -1) == TR_ERR_PARAM);
    CHECK(tr_conv1d_backward_f32(v, v, v, v, v, v, 1, 1, 65536, 65536, 1, 1, 1, TR_PAD_VALID) ==
          TR_ERR_SHAPE);
}

static void check_optim(void)
{
    for (int32_t n = 0; n <= 17; n++) {
        float *t = fbuf(n), *g = fbuf(n), *keep = fbuf(n);
        if (n > 0) {
            memcpy(keep, t, (size_t)n * sizeof(float));
        }
        CHECK(tr_sgd_step_f32(t, g, 0.0f, n) == TR_OK);
        CHECK(n == 0 || memcmp(t, keep, (size_t)n * sizeof(float)) == 0);
        CHECK(tr_reptile_interpolate_f32(t, g, 1.0f, n) == TR_OK);
        CHECK(n == 0 || memcmp(t, g, (size_t)n * sizeof(float)) == 0);
        free(t); free(g); free(keep);
    }
    float v[1] = {0};
    CHECK(tr_sgd_step_f32(NULL, v, 0.1f, 1) == TR_ERR_NULL);
    CHECK(tr_sgd_step_f32(v, v, 0.1f, -1) == TR_ERR_SHAPE);
    CHECK(tr_reptile_interpolate_f32(v, NULL, 0.1f, 1) == TR_ERR_NULL);
}

/* ------------------------------------------------------------------ int8 (quant.c, *_s8.c) */

static int8_t *i8buf(int32_t n)
{
    int8_t *p = malloc(n > 0 ? (size_t)n : 1);
    for (int32_t i = 0; i < n; i++) {
        rng_state = rng_state * 1664525u + 1013904223u;
        p[i] = (int8_t)((int32_t)(rng_state >> 24) - 128);
    }
    return p;
}

static int32_t *i32buf(int32_t n, int32_t lo, int32_t hi)
{
    int32_t *p = malloc(n > 0 ? (size_t)n * sizeof(int32_t) : 1);
    for (int32_t i = 0; i < n; i++) {
        rng_state = rng_state * 1664525u + 1013904223u;
        int64_t span = (int64_t)hi - lo + 1; /* up to 2^32 */
        p[i] = (int32_t)(lo + (int64_t)rng_state % span);
    }
    return p;
}

/* TFLite's output length (tinyreptile.h), written out again for sizing the buffers. */
static int32_t conv_out_len(int32_t L, int32_t K, int32_t stride, int32_t dilation, int32_t same)
{
    int32_t span = (K - 1) * dilation + 1;
    if (same) {
        return (L + stride - 1) / stride;
    }
    return L >= span ? (L - span) / stride + 1 : 0;
}

static void check_quant(void)
{
    /* requantization: every shift, the edges, and the one saturating product */
    const int32_t xs[] = {INT32_MIN, INT32_MIN + 1, -(1 << 30), -5, -1, 0, 1, 5, 1 << 30, INT32_MAX};
    const int32_t ms[] = {INT32_MIN, INT32_MAX, 1 << 30, -(1 << 30), 1518500250, 0};
    for (int32_t s = -31; s <= 30; s++) {
        for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
            int64_t shifted = (int64_t)xs[i] * ((int64_t)1 << (s > 0 ? s : 0));
            int fits = shifted >= INT32_MIN && shifted <= INT32_MAX;
            for (size_t j = 0; j < sizeof ms / sizeof ms[0]; j++) {
                int32_t y = 12345, sh = s;
                int st = tr_multiply_by_quantized_multiplier_s32(&y, &xs[i], &ms[j], &sh, 1, 1);
                CHECK(st == (fits ? TR_OK : TR_ERR_OVERFLOW));
                if (fits && ms[j] == 0) {
                    CHECK(y == 0);
                }
                if (fits && ms[j] == (1 << 30) && s == 1) {
                    CHECK(y == xs[i]); /* 2^30 * 2^1 / 2^31 = 1: exact */
                }
            }
        }
    }
    {
        int32_t x = INT32_MIN, m = INT32_MIN, s = 0, y = 0;
        CHECK(tr_multiply_by_quantized_multiplier_s32(&y, &x, &m, &s, 1, 1) == TR_OK);
        CHECK(y == INT32_MAX);
        s = 31;
        CHECK(tr_multiply_by_quantized_multiplier_s32(&y, &x, &m, &s, 1, 1) == TR_ERR_PARAM);
        s = -32;
        CHECK(tr_multiply_by_quantized_multiplier_s32(&y, &x, &m, &s, 1, 1) == TR_ERR_PARAM);
        s = 0;
        CHECK(tr_multiply_by_quantized_multiplier_s32(NULL, &x, &m, &s, 1, 1) == TR_ERR_NULL);
        CHECK(tr_multiply_by_quantized_multiplier_s32(&y, &x, &m, &s, -1, 1) == TR_ERR_SHAPE);
        CHECK(tr_multiply_by_quantized_multiplier_s32(NULL, NULL, &m, &s, 0, 1) == TR_OK);
    }
    for (int32_t n = 0; n <= 9; n++) {
        for (int32_t C = 0; C <= 4; C++) {
            int32_t *x = i32buf(n * C, -100000, 100000), *y = i32buf(n * C, 0, 0);
            int32_t *m = i32buf(C, INT32_MIN, INT32_MAX), *s = i32buf(C, -31, 10);
            CHECK(tr_multiply_by_quantized_multiplier_s32(y, x, m, s, n, C) == TR_OK);
            free(x); free(y); free(m); free(s);
        }
    }

    /* quantize / dequantize, incl. NaN, infinities, subnormals and huge values */
    for (int32_t n = 0; n <= 17; n++) {
        float *x = fbuf(n), *back = fbuf(n);
        int8_t *q = i8buf(n), *q2 = i8buf(n);
        if (n > 3) {
            x[0] = 0.0f / 0.0f * 0.0f;
            x[1] = 1.0f / 0.0f;
            x[2] = -1.0f / 0.0f;
            x[3] = 1e-45f;
        }
        CHECK(tr_quantize_s8(q, x, n, 0.0625f, -3) == TR_OK);
        CHECK(n <= 3 || (q[0] == -3 && q[1] == 127 && q[2] == -128 && q[3] == -3));
        CHECK(tr_dequantize_s8(back, q, n, 0.0625f, -3) == TR_OK);
        CHECK(tr_quantize_s8(q2, back, n, 0.0625f, -3) == TR_OK); /* power-of-two scale: exact */
        CHECK(n == 0 || memcmp(q, q2, (size_t)n) == 0);
        CHECK(tr_quantize_s8(q, x, n, 1e-45f, 127) == TR_OK);
        free(x); free(back); free(q); free(q2);
    }
    {
        float x = 1.0f, z = 0.0f;
        int8_t q = 0;
        CHECK(tr_quantize_s8(&q, &x, 1, 0.0f, 0) == TR_ERR_PARAM);
        CHECK(tr_quantize_s8(&q, &x, 1, -1.0f, 0) == TR_ERR_PARAM);
        CHECK(tr_quantize_s8(&q, &x, 1, 1.0f / z, 0) == TR_ERR_PARAM);
        CHECK(tr_quantize_s8(&q, &x, 1, 1.0f, 128) == TR_ERR_PARAM);
        CHECK(tr_quantize_s8(NULL, &x, 1, 1.0f, 0) == TR_ERR_NULL);
        CHECK(tr_quantize_s8(&q, &x, -1, 1.0f, 0) == TR_ERR_SHAPE);
        CHECK(tr_dequantize_s8(&x, &q, 1, 0.0f / z, 0) == TR_ERR_PARAM);
        CHECK(tr_dequantize_s8(&x, NULL, 1, 1.0f, 0) == TR_ERR_NULL);
    }

    /* transport: every chunk size, extremes, and the finite-input precondition */
    for (int32_t n = 0; n <= 40; n += 3) {
        for (int32_t chunk = 1; chunk <= 9; chunk += 2) {
            int32_t nc = (n + chunk - 1) / chunk;
            float *x = fbuf(n), *back = fbuf(n), *scale = fbuf(nc);
            int8_t *q = i8buf(n);
            if (n > 4) {
                x[0] = 3.4028235e38f;
                x[1] = -3.4028235e38f;
                x[2] = 1e-45f;
                x[4] = 0.0f;
            }
            CHECK(tr_transport_quantize_s8(q, scale, x, n, chunk) == TR_OK);
            CHECK(tr_transport_dequantize_s8(back, q, scale, n, chunk) == TR_OK);
            int ok = 1;
            for (int32_t j = 0; j < n; j++) {
                ok &= q[j] >= -127 && back[j] - back[j] == 0.0f;
            }
            CHECK(ok);
            if (n > 4) {
                x[3] = 0.0f / 0.0f * 0.0f;
                CHECK(tr_transport_quantize_s8(q, scale, x, n, chunk) == TR_ERR_PARAM);
            }
            free(x); free(back); free(scale); free(q);
        }
    }
    {
        float x = 1.0f, s = 0.0f;
        int8_t q = 0;
        CHECK(tr_transport_quantize_s8(&q, &s, &x, 1, 0) == TR_ERR_PARAM);
        CHECK(tr_transport_quantize_s8(&q, NULL, &x, 1, 1) == TR_ERR_NULL);
        CHECK(tr_transport_quantize_s8(&q, &s, &x, -1, 1) == TR_ERR_SHAPE);
        CHECK(tr_transport_dequantize_s8(&x, &q, NULL, 1, 1) == TR_ERR_NULL);
        CHECK(tr_transport_dequantize_s8(NULL, NULL, NULL, 0, 1) == TR_OK);
    }

    /* int8 SGD and Reptile */
    for (int32_t n = 0; n <= 17; n++) {
        int8_t *t = i8buf(n), *phi = i8buf(n), *keep = i8buf(n);
        int32_t *g = i32buf(n, -100000, 100000);
        if (n > 0) {
            memcpy(keep, t, (size_t)n);
        }
        CHECK(tr_sgd_step_s8(t, g, n, 0, 0) == TR_OK); /* learning rate 0 */
        CHECK(n == 0 || memcmp(t, keep, (size_t)n) == 0);
        CHECK(tr_sgd_step_s8(t, g, n, INT32_MIN, -3) == TR_OK);
        CHECK(tr_reptile_interpolate_s8(t, phi, n, 1 << 30, 1) == TR_OK); /* eps = 1 */
        CHECK(n == 0 || memcmp(t, phi, (size_t)n) == 0);
        if (n > 0) {
            memcpy(keep, t, (size_t)n);
            g[n - 1] = 1 << 29;
            CHECK(tr_sgd_step_s8(t, g, n, 1 << 30, 2) == TR_ERR_OVERFLOW);
            CHECK(memcmp(t, keep, (size_t)n) == 0); /* refused before writing */
        }
        free(t); free(phi); free(keep); free(g);
    }
    {
        int8_t t = 0, p = 100;
        int32_t g = 0;
        CHECK(tr_sgd_step_s8(&t, &g, 1, 1, 31) == TR_ERR_PARAM);
        CHECK(tr_sgd_step_s8(&t, NULL, 1, 1, 0) == TR_ERR_NULL);
        CHECK(tr_reptile_interpolate_s8(&t, &p, 1, 1 << 30, 30) == TR_ERR_OVERFLOW);
        CHECK(tr_reptile_interpolate_s8(&t, &p, -1, 1 << 30, 0) == TR_ERR_SHAPE);
    }
}

static void check_dense_s8(void)
{
    for (int32_t B = 0; B <= 3; B++) {
        for (int32_t I = 0; I <= 9; I++) {
            for (int32_t O = 0; O <= 9; O++) {
                for (int per_channel = 0; per_channel <= 1; per_channel++) {
                    int32_t n = per_channel ? O : 1;
                    int8_t *x = i8buf(B * I), *w = i8buf(O * I), *y = i8buf(B * O);
                    int32_t *bias = i32buf(O, -100000, 100000), *m = i32buf(n, INT32_MIN, INT32_MAX);
                    int32_t *s = i32buf(n, -31, 8);
                    CHECK(tr_dense_forward_s8(y, x, w, bias, m, s, B, I, O, n, -128,
                                              per_channel ? 0 : 127, 127, -128, 127) == TR_OK);
                    free(x); free(w); free(y); free(bias); free(m); free(s);
                }
            }
        }
    }
    /* the accumulator bound at its exact boundary: 33025 * 255 * 255 + 33022 = INT32_MAX */
    int32_t I = 33026;
    int8_t *x = i8buf(I), *w = i8buf(I), y = 0;
    int32_t bias = 33022, m = 1 << 30, s = -30;
    for (int32_t i = 0; i < I; i++) {
        x[i] = 127;
        w[i] = 127;
    }
    CHECK(tr_dense_forward_s8(&y, x, w, &bias, &m, &s, 1, I - 1, 1, 1, -128, -128, 0, -128, 127) == TR_OK);
    CHECK(y == 1);
    bias = 33023;
    CHECK(tr_dense_forward_s8(&y, x, w, &bias, &m, &s, 1, I - 1, 1, 1, -128, -128, 0, -128, 127) ==
          TR_ERR_OVERFLOW);
    bias = 0;
    CHECK(tr_dense_forward_s8(&y, x, w, &bias, &m, &s, 1, I, 1, 1, -128, -128, 0, -128, 127) ==
          TR_ERR_OVERFLOW);
    free(x); free(w);
    int8_t v[4] = {0};
    int32_t b4[4] = {0}, m4[4] = {1, 1, 1, 1}, s4[4] = {0};
    CHECK(tr_dense_forward_s8(NULL, v, v, b4, m4, s4, 1, 1, 1, 1, 0, 0, 0, -128, 127) == TR_ERR_NULL);
    CHECK(tr_dense_forward_s8(v, v, v, NULL, m4, s4, 1, 1, 1, 1, 0, 0, 0, -128, 127) == TR_ERR_NULL);
    CHECK(tr_dense_forward_s8(v, v, v, b4, m4, s4, -1, 1, 1, 1, 0, 0, 0, -128, 127) == TR_ERR_SHAPE);
    CHECK(tr_dense_forward_s8(v, v, v, b4, m4, s4, 65536, 65536, 1, 1, 0, 0, 0, -128, 127) == TR_ERR_SHAPE);
    CHECK(tr_dense_forward_s8(v, v, v, b4, m4, s4, 1, 1, 2, 3, 0, 0, 0, -128, 127) == TR_ERR_PARAM);
    CHECK(tr_dense_forward_s8(v, v, v, b4, m4, s4, 1, 1, 2, 2, 0, 1, 0, -128, 127) == TR_ERR_PARAM);
    CHECK(tr_dense_forward_s8(v, v, v, b4, m4, s4, 1, 1, 1, 1, 0, 0, 0, 5, 4) == TR_ERR_PARAM);
    CHECK(tr_dense_forward_s8(v, v, v, b4, m4, s4, 1, 1, 1, 1, 128, 0, 0, -128, 127) == TR_ERR_PARAM);
    s4[0] = 31;
    CHECK(tr_dense_forward_s8(v, v, v, b4, m4, s4, 1, 1, 1, 1, 0, 0, 0, -128, 127) == TR_ERR_PARAM);
    CHECK(tr_dense_forward_s8(NULL, NULL, NULL, NULL, NULL, NULL, 3, 3, 0, 1, 0, 0, 0, -128, 127) == TR_OK);
}

static void check_conv1d_s8(void)
{
    for (int32_t B = 0; B <= 2; B++) {
        for (int32_t L = 0; L <= 9; L++) {
            for (int32_t C_in = 0; C_in <= 3; C_in++) {
                for (int32_t C_out = 0; C_out <= 3; C_out++) {
                    for (int32_t K = 1; K <= 3; K++) {
                        for (int32_t stride = 1; stride <= 3; stride++) {
                            for (int32_t dil = 1; dil <= 2; dil++) {
                                for (int32_t same = 0; same <= 1; same++) {
                                    int32_t L_out = conv_out_len(L, K, stride, dil, same);
                                    int32_t n = (C_out > 1 && (L + K) % 2) ? C_out : 1;
                                    int8_t *x = i8buf(B * L * C_in), *w = i8buf(C_out * K * C_in);
                                    int8_t *y = i8buf(B * L_out * C_out);
                                    int32_t *bias = i32buf(C_out, -100000, 100000);
                                    int32_t *m = i32buf(n, INT32_MIN, INT32_MAX), *s = i32buf(n, -31, 8);
                                    CHECK(tr_conv1d_forward_s8(y, x, w, bias, m, s, B, L, C_in, C_out, K,
                                                               n, stride, dil, same, -7, 3, -128,
                                                               127) == TR_OK);
                                    free(x); free(w); free(y); free(bias); free(m); free(s);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    int8_t v[8] = {0};
    int32_t b4[4] = {0}, m4[4] = {1, 1, 1, 1}, s4[4] = {0};
    CHECK(tr_conv1d_forward_s8(v, v, v, b4, m4, s4, 1, 2, 1, 1, 0, 1, 1, 1, 0, 0, 0, -128, 127) == TR_ERR_PARAM);
    CHECK(tr_conv1d_forward_s8(v, v, v, b4, m4, s4, 1, 2, 1, 1, 1, 1, 0, 1, 0, 0, 0, -128, 127) == TR_ERR_PARAM);
    CHECK(tr_conv1d_forward_s8(v, v, v, b4, m4, s4, 1, 2, 1, 1, 1, 1, 1, 0, 0, 0, 0, -128, 127) == TR_ERR_PARAM);
    CHECK(tr_conv1d_forward_s8(v, v, v, b4, m4, s4, 1, 2, 1, 1, 1, 1, 1, 1, 2, 0, 0, -128, 127) == TR_ERR_PARAM);
    CHECK(tr_conv1d_forward_s8(v, v, v, b4, m4, s4, 1, 2, 1, 1, 2, 1, 1, INT32_MAX, 1, 0, 0, -128, 127) ==
          TR_ERR_SHAPE);
    CHECK(tr_conv1d_forward_s8(v, v, v, b4, m4, s4, 1, -2, 1, 1, 1, 1, 1, 1, 0, 0, 0, -128, 127) == TR_ERR_SHAPE);
    CHECK(tr_conv1d_forward_s8(NULL, v, v, b4, m4, s4, 1, 2, 1, 1, 1, 1, 1, 1, 0, 0, 0, -128, 127) == TR_ERR_NULL);
    CHECK(tr_conv1d_forward_s8(v, v, v, NULL, m4, s4, 1, 2, 1, 1, 1, 1, 1, 1, 0, 0, 0, -128, 127) == TR_ERR_NULL);
    b4[0] = INT32_MAX;
    CHECK(tr_conv1d_forward_s8(v, v, v, b4, m4, s4, 1, 2, 1, 1, 1, 1, 1, 1, 0, 0, 0, -128, 127) ==
          TR_ERR_OVERFLOW);
    b4[0] = 0;
    /* same padding over L = 0 gives L_out = 0 and touches nothing */
    CHECK(tr_conv1d_forward_s8(NULL, NULL, v, b4, m4, s4, 1, 0, 1, 1, 3, 1, 1, 1, 1, 0, 0, -128, 127) == TR_OK);
}

static float f32_from_bits(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static uint32_t bits_of(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static int is_nan(float x)
{
    return (bits_of(x) & 0x7fffffffu) > 0x7f800000u;
}

static void check_mathf(void)
{
    typedef tr_status (*unary)(float *, const float *, int32_t);
    const unary fns[3] = {tr_exp_f32, tr_log_f32, tr_tanh_f32};
    for (int f = 0; f < 3; f++) {
        for (int32_t n = 0; n <= 9; n++) {
            float *x = fbuf(n), *y = fbuf(n);
            CHECK(fns[f](y, x, n) == TR_OK);
            CHECK(fns[f](x, x, n) == TR_OK); /* in place */
            free(x); free(y);
        }
        float v[1] = {1.0f};
        CHECK(fns[f](NULL, v, 1) == TR_ERR_NULL);
        CHECK(fns[f](v, NULL, 1) == TR_ERR_NULL);
        CHECK(fns[f](v, v, -1) == TR_ERR_SHAPE);
        CHECK(fns[f](NULL, NULL, 0) == TR_OK);
    }
    /* special values, exact by IEEE 754 / C99 Annex F */
    const float inf = f32_from_bits(0x7f800000u), nan = f32_from_bits(0x7fc00000u);
    float in[8] = {0.0f, -0.0f, inf, -inf, nan, 1.0f, -1.0f, 100.0f};
    float out[8];
    CHECK(tr_exp_f32(out, in, 8) == TR_OK);
    CHECK(out[0] == 1.0f && out[1] == 1.0f && out[2] == inf && bits_of(out[3]) == 0u);
    CHECK(is_nan(out[4]) && out[7] == inf);
    CHECK(tr_log_f32(out, in, 8) == TR_OK);
    CHECK(out[0] == -inf && out[1] == -inf && out[2] == inf && is_nan(out[3]) && is_nan(out[4]));
    CHECK(bits_of(out[5]) == 0u && is_nan(out[6]));
    CHECK(tr_tanh_f32(out, in, 8) == TR_OK);
    CHECK(bits_of(out[0]) == 0u && bits_of(out[1]) == 0x80000000u && out[2] == 1.0f);
    CHECK(out[3] == -1.0f && is_nan(out[4]) && out[7] == 1.0f);
    /* every 65537th bit pattern through all three (the sanitizers watch the bit tricks) */
    float sweep[256];
    uint32_t u = 0u;
    int ok = 1;
    for (int round = 0; round < 256; round++) {
        for (int j = 0; j < 256; j++, u += 65537u) {
            sweep[j] = f32_from_bits(u);
        }
        float e[256], l[256], t[256];
        ok &= tr_exp_f32(e, sweep, 256) == TR_OK && tr_log_f32(l, sweep, 256) == TR_OK &&
              tr_tanh_f32(t, sweep, 256) == TR_OK;
        for (int j = 0; j < 256; j++) {
            ok &= is_nan(sweep[j]) || (!(e[j] < 0.0f) && !(t[j] > 1.0f) && !(t[j] < -1.0f));
        }
    }
    CHECK(ok);
}

static void check_activation(void)
{
    for (int32_t n = 0; n <= 9; n++) {
        float *x = fbuf(n), *y = fbuf(n), *dy = fbuf(n), *dx = fbuf(n);
        CHECK(tr_relu_forward_f32(y, x, n) == TR_OK);
        CHECK(tr_relu_backward_f32(dx, dy, x, n) == TR_OK);
        for (int32_t j = 0; j < n; j++) {
            CHECK(y[j] == (x[j] < 0.0f ? 0.0f : x[j]));
            CHECK(dx[j] == (x[j] > 0.0f ? dy[j] : 0.0f));
        }
        CHECK(tr_tanh_forward_f32(y, x, n) == TR_OK);
        CHECK(tr_tanh_backward_f32(dx, dy, y, n) == TR_OK);
        CHECK(tr_relu_forward_f32(x, x, n) == TR_OK);           /* in place */
        CHECK(tr_tanh_backward_f32(dy, dy, y, n) == TR_OK);      /* in place */
        free(x); free(y); free(dy); free(dx);
    }
    float v[1] = {0};
    CHECK(tr_relu_forward_f32(NULL, v, 1) == TR_ERR_NULL);
    CHECK(tr_relu_backward_f32(v, v, NULL, 1) == TR_ERR_NULL);
    CHECK(tr_tanh_forward_f32(v, NULL, 1) == TR_ERR_NULL);
    CHECK(tr_tanh_backward_f32(v, NULL, v, 1) == TR_ERR_NULL);
    CHECK(tr_relu_forward_f32(v, v, -1) == TR_ERR_SHAPE);
    CHECK(tr_tanh_backward_f32(v, v, v, -1) == TR_ERR_SHAPE);
    CHECK(tr_relu_backward_f32(NULL, NULL, NULL, 0) == TR_OK);
}

static void check_loss(void)
{
    for (int32_t n = 0; n <= 9; n++) {
        float *p = fbuf(n), *t = fbuf(n), *d = fbuf(n), loss = -1.0f;
        CHECK(tr_mse_loss_f32(&loss, d, p, t, n) == TR_OK);
        CHECK(loss >= 0.0f);
        CHECK(tr_mse_loss_f32(&loss, NULL, p, t, n) == TR_OK);
        CHECK(n > 0 || loss == 0.0f);
        if (n > 0) {
            CHECK(tr_mse_loss_f32(&loss, d, p, p, n) == TR_OK); /* pred == target */
            CHECK(loss == 0.0f && d[n - 1] == 0.0f);
        }
        free(p); free(t); free(d);
    }
    for (int32_t B = 0; B <= 4; B++) {
        for (int32_t C = 1; C <= 9; C++) {
            float *z = fbuf(B * C), *g = fbuf(B * C), loss = -1.0f;
            int32_t *lab = malloc(B > 0 ? (size_t)B * sizeof(int32_t) : 1);
            for (int32_t b = 0; b < B; b++) {
                lab[b] = (b * 7) % C;
            }
            CHECK(tr_softmax_xent_loss_f32(&loss, g, z, lab, B, C) == TR_OK);
            CHECK(loss >= 0.0f);
            CHECK(tr_softmax_xent_loss_f32(&loss, NULL, z, lab, B, C) == TR_OK);
            if (B > 0) { /* a gradient row sums to about 0: (sum of p - 1) / B */
                float s = 0.0f;
                for (int32_t c = 0; c < C; c++) {
                    s += g[c];
                }
                CHECK(s > -1e-5f && s < 1e-5f);
                /* a bad label anywhere: TR_ERR_LABEL, nothing written */
                float keep_loss = 123.0f;
                for (int32_t j = 0; j < B * C; j++) {
                    g[j] = 5.0f;
                }
                int32_t save = lab[B - 1];
                lab[B - 1] = C;
                CHECK(tr_softmax_xent_loss_f32(&keep_loss, g, z, lab, B, C) == TR_ERR_LABEL);
                lab[B - 1] = -1;
                CHECK(tr_softmax_xent_loss_f32(&keep_loss, g, z, lab, B, C) == TR_ERR_LABEL);
                lab[B - 1] = save;
                int untouched = keep_loss == 123.0f;
                for (int32_t j = 0; j < B * C; j++) {
                    untouched &= g[j] == 5.0f;
                }
                CHECK(untouched);
            }
            free(z); free(g); free(lab);
        }
    }
    float v[4] = {0}, loss = 0.0f;
    int32_t lab[2] = {0, 0};
    CHECK(tr_mse_loss_f32(NULL, v, v, v, 1) == TR_ERR_NULL);
    CHECK(tr_mse_loss_f32(&loss, v, NULL, v, 1) == TR_ERR_NULL);
    CHECK(tr_mse_loss_f32(&loss, v, v, v, -1) == TR_ERR_SHAPE);
    CHECK(tr_mse_loss_f32(&loss, NULL, NULL, NULL, 0) == TR_OK && loss == 0.0f);
    CHECK(tr_softmax_xent_loss_f32(NULL, v, v, lab, 1, 2) == TR_ERR_NULL);
    CHECK(tr_softmax_xent_loss_f32(&loss, v, v, NULL, 1, 2) == TR_ERR_NULL);
    CHECK(tr_softmax_xent_loss_f32(&loss, v, NULL, lab, 1, 2) == TR_ERR_NULL);
    CHECK(tr_softmax_xent_loss_f32(&loss, v, v, lab, -1, 2) == TR_ERR_SHAPE);
    CHECK(tr_softmax_xent_loss_f32(&loss, v, v, lab, 65536, 65536) == TR_ERR_SHAPE);
    CHECK(tr_softmax_xent_loss_f32(&loss, v, v, lab, 2, 0) == TR_ERR_LABEL); /* no class */
    loss = 1.0f;
    CHECK(tr_softmax_xent_loss_f32(&loss, NULL, NULL, NULL, 0, 5) == TR_OK && loss == 0.0f);
}

static void check_status(void)
{
    for (int s = -10; s <= 1; s++) {
        CHECK(tr_status_str(s) != NULL && strlen(tr_status_str(s)) > 0);
    }
    CHECK(strcmp(tr_status_str(TR_OK), "ok") == 0);
}

/* ---------------------------------------------------------------- model runtime */

/* A layer table under construction: rows appended with the parameter offsets of model.py. */
typedef struct {
    tr_layer l[16];
    int32_t n, off;
    int32_t rank, dim[2]; /* the current output shape */
} table;

static void t_start(table *t, int32_t rank, int32_t d0, int32_t d1)
{
    memset(t, 0, sizeof *t);
    t->rank = rank;
    t->dim[0] = d0;
    t->dim[1] = d1;
}

static tr_layer *t_row(table *t, int32_t kind)
{
    tr_layer *l = &t->l[t->n++];
    l->kind = kind;
    l->in_rank = l->out_rank = t->rank;
    l->in_dim[0] = l->out_dim[0] = t->dim[0];
    l->in_dim[1] = l->out_dim[1] = t->dim[1];
    return l;
}

static void t_dense(table *t, int32_t O)
{
    tr_layer *l = t_row(t, TR_LAYER_DENSE);
    l->out_dim[0] = O;
    l->w_off = t->off;
    l->b_off = t->off + O * l->in_dim[0];
    t->off = l->b_off + O;
    t->dim[0] = O;
}

static void t_conv(table *t, int32_t C_out, int32_t K, int32_t s, int32_t d, int32_t padding)
{
    tr_layer *l = t_row(t, TR_LAYER_CONV1D);
    int32_t L_out = 0, pad = 0;
    CHECK(tr_conv1d_out_len(&L_out, &pad, l->in_dim[0], K, s, d, padding) == TR_OK);
    l->out_dim[0] = L_out;
    l->out_dim[1] = C_out;
    l->kernel_size = K;
    l->stride = s;
    l->dilation = d;
    l->padding = padding;
    l->w_off = t->off;
    l->b_off = t->off + C_out * K * l->in_dim[1];
    t->off = l->b_off + C_out;
    t->dim[0] = L_out;
    t->dim[1] = C_out;
}

static void t_flatten(table *t)
{
    tr_layer *l = t_row(t, TR_LAYER_FLATTEN);
    l->out_rank = 1;
    l->out_dim[0] = t->dim[0] * t->dim[1];
    l->out_dim[1] = 1;
    t->rank = 1;
    t->dim[0] = l->out_dim[0];
    t->dim[1] = 1;
}

static tr_model t_model(const table *t, int32_t loss)
{
    tr_model m;
    m.layers = t->l;
    m.n_layers = t->n;
    m.n_params = t->off;
    m.loss = loss;
    return m;
}

/* The three test models: sine 1-8-8-1 tanh (small, for speed), the digits conv1d model and
 * a mixed one (strides, dilation, same padding, tanh after conv1d, relu after dense). */
static tr_model test_model(table *t, int which)
{
    if (which == 0) {
        t_start(t, 1, 1, 1);
        t_dense(t, 8); t_row(t, TR_LAYER_TANH); t_dense(t, 8); t_row(t, TR_LAYER_TANH);
        t_dense(t, 1);
        return t_model(t, TR_LOSS_MSE);
    }
    if (which == 1) {
        t_start(t, 2, 8, 8);
        t_conv(t, 4, 3, 1, 1, TR_PAD_VALID); t_row(t, TR_LAYER_RELU);
        t_conv(t, 4, 3, 1, 1, TR_PAD_VALID); t_row(t, TR_LAYER_RELU);
        t_flatten(t); t_dense(t, 5);
        return t_model(t, TR_LOSS_SOFTMAX_XENT);
    }
    t_start(t, 2, 9, 3);
    t_conv(t, 4, 3, 2, 1, TR_PAD_SAME); t_row(t, TR_LAYER_TANH);
    t_conv(t, 5, 2, 1, 2, TR_PAD_VALID); t_flatten(t); t_dense(t, 3);
    t_row(t, TR_LAYER_RELU); t_dense(t, 2);
    return t_model(t, TR_LOSS_MSE);
}

static void *arena_of(const tr_model *m, int32_t batch, int32_t stored, int32_t mode,
                      int32_t *bytes)
{
    *bytes = -1;
    CHECK(tr_model_arena_size(bytes, m, batch, stored, mode) == TR_OK);
    return malloc(*bytes > 0 ? (size_t)*bytes : 1);
}

/* k samples for model m: x [k][in], targets [k][out] or labels [k]. */
static void samples_of(const tr_model *m, int32_t k, float **x, float **y, int32_t **lab)
{
    const tr_layer *a = &m->layers[0], *z = &m->layers[m->n_layers - 1];
    int32_t in = a->in_dim[0] * a->in_dim[1], out = z->out_dim[0] * z->out_dim[1];
    *x = fbuf(k * in);
    *y = fbuf(k * out);
    *lab = malloc(k > 0 ? (size_t)k * sizeof(int32_t) : 1);
    for (int32_t j = 0; j < k; j++) {
        (*lab)[j] = (int32_t)((uint32_t)(j * 7 + 3) % (uint32_t)out);
    }
}

/* FUSED, GRAD and ACCUM give the same bits: rounds of k steps, and batched steps. */
static void model_modes(const tr_model *m)
{
    const int32_t k = 5, P = m->n_params;
    float *x, *y, *theta = fbuf(P), *phi[3], *losses[3];
    int32_t *lab, bytes;
    samples_of(m, k, &x, &y, &lab);
    for (int mode = 0; mode < 3; mode++) {
        void *a = arena_of(m, 1, 1, mode, &bytes);
        phi[mode] = fbuf(P);
        losses[mode] = fbuf(k);
        CHECK(tr_tinyreptile_device_round_f32(phi[mode], losses[mode], a, theta, x, y, lab, m, k,
                                              bytes, 0.05f, mode) == TR_OK);
        CHECK(tr_tinyreptile_device_round_f32(phi[mode], losses[mode], a, theta, x, y, lab, m, k,
                                              bytes - 1, 0.05f, mode) == TR_ERR_BUFFER);
        free(a);
    }
    CHECK(memcmp(phi[0], phi[1], (size_t)P * sizeof(float)) == 0);
    CHECK(memcmp(phi[0], phi[2], (size_t)P * sizeof(float)) == 0);
    CHECK(memcmp(losses[0], losses[1], (size_t)k * sizeof(float)) == 0);
    CHECK(memcmp(losses[0], losses[2], (size_t)k * sizeof(float)) == 0);
    CHECK(memcmp(phi[0], theta, (size_t)P * sizeof(float)) != 0);
    /* in place: phi == theta */
    memcpy(phi[1], theta, (size_t)P * sizeof(float));
    {
        void *a = arena_of(m, 1, 1, TR_TRAIN_FUSED, &bytes);
        CHECK(tr_tinyreptile_device_round_f32(phi[1], NULL, a, phi[1], x, y, lab, m, k, bytes,
                                              0.05f, TR_TRAIN_FUSED) == TR_OK);
        CHECK(memcmp(phi[0], phi[1], (size_t)P * sizeof(float)) == 0);
        free(a);
    }
    /* a batch of k: GRAD (kernels) and ACCUM (one sample at a time) */
    for (int mode = 1; mode < 3; mode++) {
        void *a = arena_of(m, k, 0, mode, &bytes);
        memcpy(phi[mode], theta, (size_t)P * sizeof(float));
        CHECK(tr_model_train_step_f32(phi[mode], losses[mode], a, x, y, lab, m, k, bytes, 0.5f,
                                      mode) == TR_OK);
        free(a);
    }
    CHECK(memcmp(phi[1], phi[2], (size_t)P * sizeof(float)) == 0);
    CHECK(memcmp(losses[1], losses[2], sizeof(float)) == 0);
    /* Reptile: 2 epochs of mini-batches of 2 over k = 5 stored samples, order reversed */
    {
        int32_t order[10];
        float *g = fbuf(P), *ys = fbuf(6), l; /* 2 epochs x ceil(5/2) losses */
        for (int32_t j = 0; j < 10; j++) {
            order[j] = j < 5 ? 4 - j : j - 5;
        }
        void *a = arena_of(m, 2, k, TR_TRAIN_ACCUM, &bytes);
        CHECK(tr_reptile_device_round_f32(phi[2], ys, a, theta, x, y, lab, order, m, k, 2, 2,
                                          bytes, 0.05f) == TR_OK);
        CHECK(tr_reptile_device_round_f32(phi[2], ys, a, theta, x, y, lab, order, m, k, 2, 2,
                                          bytes - 4, 0.05f) == TR_ERR_BUFFER);
        order[7] = 5;
        CHECK(tr_reptile_device_round_f32(phi[2], ys, a, theta, x, y, lab, order, m, k, 2, 2,
                                          bytes, 0.05f) == TR_ERR_PARAM);
        /* k as documented: k < 0 is TR_ERR_PARAM (as epochs < 0, batch < 1); k = 0 is an empty
         * round, phi = theta and no loss written (so does TinyReptile's, k < 0 TR_ERR_SHAPE) */
        CHECK(tr_reptile_device_round_f32(phi[2], ys, a, theta, x, y, lab, order, m, -1, 2, 2,
                                          bytes, 0.05f) == TR_ERR_PARAM);
        CHECK(tr_reptile_device_round_f32(phi[2], ys, a, theta, x, y, lab, order, m, INT32_MIN,
                                          2, 2, bytes, 0.05f) == TR_ERR_PARAM);
        ys[0] = 42.0f;
        CHECK(tr_reptile_device_round_f32(phi[2], ys, a, theta, NULL, NULL, NULL, NULL, m, 0, 2,
                                          2, bytes, 0.05f) == TR_OK);
        CHECK(memcmp(phi[2], theta, (size_t)P * sizeof(float)) == 0 && ys[0] == 42.0f);
        free(a);
        a = arena_of(m, 1, 1, TR_TRAIN_FUSED, &bytes);
        CHECK(tr_tinyreptile_device_round_f32(phi[2], ys, a, theta, x, y, lab, m, -1, bytes,
                                              0.05f, TR_TRAIN_FUSED) == TR_ERR_SHAPE);
        CHECK(tr_tinyreptile_device_round_f32(phi[2], ys, a, theta, NULL, NULL, NULL, m, 0, bytes,
                                              0.05f, TR_TRAIN_FUSED) == TR_OK);
        CHECK(memcmp(phi[2], theta, (size_t)P * sizeof(float)) == 0 && ys[0] == 42.0f);
        free(a);
        /* backward into a caller's gradient buffer, empty batch: zero gradient, loss +0 */
        a = arena_of(m, 0, 0, TR_TRAIN_GRAD, &bytes);
        CHECK(tr_model_backward_f32(g, &l, a, theta, NULL, NULL, NULL, m, 0, bytes) == TR_OK);
        CHECK(g[0] == 0.0f && g[P - 1] == 0.0f && l == 0.0f);
        free(a);
        free(g); free(ys);
    }
    for (int mode = 0; mode < 3; mode++) {
        free(phi[mode]); free(losses[mode]);
    }
    free(x); free(y); free(lab); free(theta);
}

/* Every call on a (possibly broken) table: a status, never a crash; when the table is valid
 * the arenas are exactly the planned size, so the sanitizers see every access. */
static void model_calls(const tr_model *m)
{
    tr_memory_plan plan;
    int32_t bytes;
    tr_status st = tr_model_check(m);
    CHECK(st == TR_OK || st == TR_ERR_MODEL || st == TR_ERR_SHAPE);
    CHECK(tr_model_memory_plan(&plan, m, 1, 1, TR_TRAIN_FUSED) == st);
    if (st != TR_OK) {
        float v[4] = {0};
        CHECK(tr_model_train_step_f32(v, v, v, v, v, NULL, m, 1, 16, 0.1f, TR_TRAIN_FUSED) == st);
        return;
    }
    /* the plan's parts add up, and the fused arena has no gradient buffer */
    CHECK(plan.grads == 0 && plan.arena == plan.activations + plan.deltas + plan.samples);
    {
        int32_t P = m->n_params, k = 3;
        float *x, *y, *theta = fbuf(P), *out, l;
        int32_t *lab;
        const tr_layer *z = &m->layers[m->n_layers - 1];
        samples_of(m, k, &x, &y, &lab);
        out = fbuf(k * z->out_dim[0] * z->out_dim[1]);
        void *a = arena_of(m, k, 0, TR_TRAIN_GRAD, &bytes);
        CHECK(tr_model_forward_f32(out, a, theta, x, m, k, bytes) == TR_OK);
        free(a);
        for (int mode = 0; mode < 3; mode++) {
            a = arena_of(m, 1, 1, mode, &bytes);
            CHECK(tr_tinyreptile_device_round_f32(theta, NULL, a, theta, x, y, lab, m, k, bytes,
                                                  0.01f, mode) == TR_OK);
            free(a);
        }
        a = arena_of(m, 2, k, TR_TRAIN_ACCUM, &bytes);
        {
            int32_t order[3] = {2, 0, 1};
            CHECK(tr_reptile_device_round_f32(theta, &l, a, theta, x, y, lab, order, m, k, 1, 3,
                                              bytes, 0.01f) == TR_OK);
        }
        free(a);
        free(x); free(y); free(lab); free(theta); free(out);
    }
}

static void check_model(void)
{
    table t;
    tr_model m;
    int32_t bytes;
    for (int which = 0; which < 3; which++) {
        m = test_model(&t, which);
        CHECK(tr_model_check(&m) == TR_OK);
        model_modes(&m);
        model_calls(&m);
    }
    /* the sine model 1-64-64-1: the memory plan's numbers (tinyreptile.h's rules) */
    {
        tr_memory_plan p;
        t_start(&t, 1, 1, 1);
        t_dense(&t, 64); t_row(&t, TR_LAYER_TANH); t_dense(&t, 64); t_row(&t, TR_LAYER_TANH);
        t_dense(&t, 1);
        m = t_model(&t, TR_LOSS_MSE);
        CHECK(m.n_params == 4353);
        CHECK(tr_model_memory_plan(&p, &m, 1, 1, TR_TRAIN_FUSED) == TR_OK);
        CHECK(p.params == 17412 && p.grads == 0 && p.activations == 4 * 129 &&
              p.deltas == 4 * 128 && p.samples == 8 && p.arena == 516 + 512 + 8);
        CHECK(tr_model_memory_plan(&p, &m, 10, 50, TR_TRAIN_GRAD) == TR_OK);
        CHECK(p.grads == 17412 && p.activations == 5160 && p.deltas == 5120 && p.samples == 400);
        CHECK(tr_model_memory_plan(&p, &m, 10, 50, TR_TRAIN_ACCUM) == TR_OK);
        CHECK(p.grads == 17412 && p.activations == 516 && p.deltas == 512 && p.samples == 400);
        CHECK(tr_model_memory_plan(&p, &m, 2, 1, TR_TRAIN_FUSED) == TR_ERR_PARAM);
        CHECK(tr_model_memory_plan(&p, &m, 1, 1, 3) == TR_ERR_PARAM);
        CHECK(tr_model_memory_plan(&p, &m, -1, 1, TR_TRAIN_GRAD) == TR_ERR_SHAPE);
        CHECK(tr_model_memory_plan(&p, &m, 1, -1, TR_TRAIN_GRAD) == TR_ERR_SHAPE);
        CHECK(tr_model_memory_plan(&p, &m, 1 << 22, 0, TR_TRAIN_GRAD) == TR_ERR_SHAPE);
        CHECK(tr_model_memory_plan(NULL, &m, 1, 1, TR_TRAIN_GRAD) == TR_ERR_NULL);
        CHECK(tr_model_arena_size(NULL, &m, 1, 1, TR_TRAIN_GRAD) == TR_ERR_NULL);
    }
    /* broken tables, one defect each */
    {
        tr_model b;
        m = test_model(&t, 2);
        CHECK(tr_model_check(NULL) == TR_ERR_NULL);
        b = m; b.layers = NULL; CHECK(tr_model_check(&b) == TR_ERR_NULL);
        b = m; b.n_layers = 0; CHECK(tr_model_check(&b) == TR_ERR_MODEL);
        b = m; b.n_params += 1; CHECK(tr_model_check(&b) == TR_ERR_MODEL);
        b = m; b.loss = 2; CHECK(tr_model_check(&b) == TR_ERR_MODEL);
        b = m; b.loss = TR_LOSS_SOFTMAX_XENT; CHECK(tr_model_check(&b) == TR_OK);
        b = m; b.n_layers = 2; b.n_params = t.l[0].b_off + 4; CHECK(tr_model_check(&b) == TR_OK);
        b = m; b.n_layers = 2; b.n_params = t.l[0].b_off + 4; b.loss = TR_LOSS_SOFTMAX_XENT;
        CHECK(tr_model_check(&b) == TR_ERR_MODEL); /* softmax needs a rank-1 output */
        const tr_layer keep = t.l[0];
        t.l[0].kind = 5; CHECK(tr_model_check(&m) == TR_ERR_MODEL); t.l[0] = keep;
        t.l[0].kind = -1; CHECK(tr_model_check(&m) == TR_ERR_MODEL); t.l[0] = keep;
        t.l[0].w_off = 1; CHECK(tr_model_check(&m) == TR_ERR_MODEL); t.l[0] = keep;
        t.l[0].b_off -= 1; CHECK(tr_model_check(&m) == TR_ERR_MODEL); t.l[0] = keep;
        t.l[0].out_dim[0] += 1; CHECK(tr_model_check(&m) == TR_ERR_MODEL); t.l[0] = keep;
        t.l[0].stride = 0; CHECK(tr_model_check(&m) == TR_ERR_MODEL); t.l[0] = keep;
        t.l[0].padding = 2; CHECK(tr_model_check(&m) == TR_ERR_MODEL); t.l[0] = keep;
        t.l[0].in_rank = 3; CHECK(tr_model_check(&m) == TR_ERR_MODEL); t.l[0] = keep;
        t.l[0].in_dim[0] = 0; CHECK(tr_model_check(&m) == TR_ERR_MODEL); t.l[0] = keep;
        t.l[0].kind = TR_LAYER_DENSE; CHECK(tr_model_check(&m) == TR_ERR_MODEL); t.l[0] = keep;
        t.l[0].in_dim[0] = 1 << 20; t.l[0].in_dim[1] = 1 << 12;
        CHECK(tr_model_check(&m) == TR_ERR_SHAPE); t.l[0] = keep;
        /* an activation on the input, and two activations on one buffer */
        const tr_layer keep1 = t.l[1];
        t.l[0] = t.l[1]; t.l[0].in_rank = 2; t.l[0].in_dim[0] = 9; t.l[0].in_dim[1] = 3;
        t.l[0].out_rank = 2; t.l[0].out_dim[0] = 9; t.l[0].out_dim[1] = 3;
        CHECK(tr_model_check(&m) == TR_ERR_MODEL); t.l[0] = keep;
        t.l[1].kind = TR_LAYER_FLATTEN; CHECK(tr_model_check(&m) == TR_ERR_MODEL); t.l[1] = keep1;
        t.l[2] = t.l[1]; CHECK(tr_model_check(&m) == TR_ERR_MODEL);
    }
    /* argument checks of the step functions */
    {
        m = test_model(&t, 1);
        float *x, *y, *theta = fbuf(m.n_params), *phi = fbuf(m.n_params);
        int32_t *lab;
        samples_of(&m, 2, &x, &y, &lab);
        void *a = arena_of(&m, 1, 1, TR_TRAIN_FUSED, &bytes);
        char *raw = (char *)a;
        memcpy(phi, theta, (size_t)m.n_params * sizeof(float));
        lab[1] = 5; /* classes = 5 */
        CHECK(tr_tinyreptile_device_round_f32(phi, NULL, a, theta, x, NULL, lab, &m, 2, bytes,
                                              0.1f, TR_TRAIN_FUSED) == TR_ERR_LABEL);
        lab[1] = -1;
        CHECK(tr_model_train_step_f32(phi, NULL, a, x, NULL, lab + 1, &m, 1, bytes, 0.1f,
                                      TR_TRAIN_FUSED) == TR_ERR_LABEL);
        CHECK(memcmp(phi, theta, (size_t)m.n_params * sizeof(float)) == 0);
        lab[1] = 4;
        CHECK(tr_tinyreptile_device_round_f32(phi, NULL, a, theta, x, NULL, NULL, &m, 2, bytes,
                                              0.1f, TR_TRAIN_FUSED) == TR_ERR_NULL);
        CHECK(tr_tinyreptile_device_round_f32(phi, NULL, NULL, theta, x, NULL, lab, &m, 2, bytes,
                                              0.1f, TR_TRAIN_FUSED) == TR_ERR_NULL);
        CHECK(tr_tinyreptile_device_round_f32(phi, NULL, a, theta, x, NULL, lab, &m, -1, bytes,
                                              0.1f, TR_TRAIN_FUSED) == TR_ERR_SHAPE);
        CHECK(tr_tinyreptile_device_round_f32(phi, NULL, a, theta, x, NULL, lab, &m, 2, bytes,
                                              0.1f, 7) == TR_ERR_PARAM);
        CHECK(tr_tinyreptile_device_round_f32(phi, NULL, a, theta, NULL, NULL, NULL, &m, 0, bytes,
                                              0.1f, TR_TRAIN_FUSED) == TR_OK);
        CHECK(memcmp(phi, theta, (size_t)m.n_params * sizeof(float)) == 0);
        CHECK(tr_model_train_step_f32(phi, NULL, a, x, NULL, lab, &m, 2, bytes, 0.1f,
                                      TR_TRAIN_FUSED) == TR_ERR_PARAM);
        /* a misaligned arena (one byte in, the same usable size) */
        free(a);
        raw = malloc((size_t)bytes + 1);
        CHECK(tr_model_train_step_f32(phi, NULL, raw + 1, x, NULL, lab, &m, 1, bytes, 0.1f,
                                      TR_TRAIN_FUSED) == TR_ERR_BUFFER);
        CHECK(tr_model_train_step_f32(phi, NULL, raw, x, NULL, lab, &m, 1, bytes, 0.1f,
                                      TR_TRAIN_FUSED) == TR_OK);
        CHECK(tr_model_forward_f32(NULL, raw, theta, x, &m, 1, bytes) == TR_ERR_NULL);
        CHECK(tr_model_forward_f32(NULL, NULL, NULL, NULL, &m, 0, 0) == TR_OK);
        CHECK(tr_model_backward_f32(phi, NULL, raw, theta, x, NULL, lab, &m, 1, bytes) ==
              TR_ERR_NULL);
        CHECK(tr_reptile_device_round_f32(phi, NULL, raw, theta, x, NULL, lab, NULL, &m, 2, 1, 0,
                                          bytes, 0.1f) == TR_ERR_PARAM);
        CHECK(tr_reptile_device_round_f32(phi, NULL, raw, theta, x, NULL, lab, NULL, &m, 2, 1, 1,
                                          bytes, 0.1f) == TR_ERR_NULL);
        free(raw); free(x); free(y); free(lab); free(theta); free(phi);
    }
    /* random damage to valid tables: a status or a run inside the planned arena */
    CHECK(sizeof(tr_layer) == 13 * sizeof(int32_t));
    for (int32_t trial = 0; trial < 3000; trial++) {
        m = test_model(&t, trial % 3);
        int32_t hits = 1 + (int32_t)(rng_state >> 29);
        for (int32_t h = 0; h < hits; h++) {
            int32_t fields[13]; /* tr_layer's int32 fields in order */
            rnd();
            tr_layer *l = &t.l[(rng_state >> 8) % (uint32_t)t.n];
            int32_t f = (int32_t)((rng_state >> 16) % 13u);
            rnd();
            int32_t v = (int32_t)(rng_state >> 20) % 13 - 2;
            memcpy(fields, l, sizeof fields);
            fields[f] = (rng_state & 1) ? v : fields[f] + (v > 5 ? 1 : -1);
            memcpy(l, fields, sizeof fields);
        }
        if (rng_state & 2) {
            m.n_layers = 1 + (int32_t)((rng_state >> 3) % (uint32_t)t.n);
        }
        model_calls(&m);
    }
}

int main(void)
{
    check_status();
    check_dense();
    check_conv1d();
    check_optim();
    check_quant();
    check_dense_s8();
    check_conv1d_s8();
    check_mathf();
    check_activation();
    check_loss();
    check_model();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
