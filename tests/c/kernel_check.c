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

int main(void)
{
    check_status();
    check_dense();
    check_optim();
    check_mathf();
    check_activation();
    check_loss();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
