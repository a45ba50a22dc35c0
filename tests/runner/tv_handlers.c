/*
 * tv_handlers.c - one handler per kernel: take the case's parameters and blobs (names as in
 * the C prototypes, see tinyreptile_ref/vectors/cases.py), call the kernel, report its status,
 * compare its outputs. Adding a kernel: one function here and one row in tv_handlers[].
 *
 * A handler stops calling kernels once the case has failed (tv_ok), e.g. on a missing blob.
 */
#include <stddef.h>

#include "tinyreptile.h"
#include "tv.h"

/* ---------------------------------------------------------------- dense, float32 */

static void run_dense_forward_f32(tv_ctx *t)
{
    int32_t B = tv_int(t, "B"), I = tv_int(t, "I"), O = tv_int(t, "O");
    const float *x = tv_in_f32(t, "x", tv_mul(B, I));     /* [B][I] */
    const float *w = tv_in_f32(t, "w", tv_mul(O, I));     /* [O][I] */
    const float *bias = tv_in_f32(t, "bias", O);          /* [O] */
    float *y = tv_out_f32(t, "y", tv_mul(B, O));          /* [B][O] */
    if (!tv_ok(t)) {
        return;
    }
    tv_status(t, tr_dense_forward_f32(y, x, w, bias, B, I, O));
    tv_check(t, "y", y);
}

static void run_dense_backward_f32(tv_ctx *t)
{
    int32_t B = tv_int(t, "B"), I = tv_int(t, "I"), O = tv_int(t, "O");
    const float *dy = tv_in_f32(t, "dy", tv_mul(B, O));  /* [B][O] */
    const float *x = tv_in_f32(t, "x", tv_mul(B, I));    /* [B][I] */
    const float *w = tv_in_f32(t, "w", tv_mul(O, I));    /* [O][I] */
    /* dx is optional: a case without an expected dx passes NULL (not computed). */
    int want_dx = tv_has(t, "dx", TV_EXPECTED);
    float *dx = want_dx ? tv_out_f32(t, "dx", tv_mul(B, I)) : NULL; /* [B][I] */
    float *dw = tv_out_f32(t, "dw", tv_mul(O, I));                 /* [O][I] */
    float *db = tv_out_f32(t, "db", O);                            /* [O] */
    if (!tv_ok(t)) {
        return;
    }
    tv_status(t, tr_dense_backward_f32(dx, dw, db, dy, x, w, B, I, O));
    if (want_dx) {
        tv_check(t, "dx", dx);
    }
    tv_check(t, "dw", dw);
    tv_check(t, "db", db);
}

/* --------------------------------------------------------------- conv1d, float32 */

/* The output length the parameters imply, from the library's own rule; -1 when invalid. */
static int32_t conv_out_len(int32_t L, int32_t K, int32_t stride, int32_t dilation, int32_t padding)
{
    int32_t L_out = -1, pad = 0;
    return tr_conv1d_out_len(&L_out, &pad, L, K, stride, dilation, padding) == TR_OK ? L_out : -1;
}

static void run_conv1d_out_len(tv_ctx *t)
{
    int32_t *L_out = tv_out_s32(t, "L_out", 1);
    int32_t *pad_before = tv_out_s32(t, "pad_before", 1);
    if (!tv_ok(t)) {
        return;
    }
    tv_status(t, tr_conv1d_out_len(L_out, pad_before, tv_int(t, "L"), tv_int(t, "K"),
                                   tv_int(t, "stride"), tv_int(t, "dilation"),
                                   tv_int(t, "padding")));
    tv_check(t, "L_out", L_out);
    tv_check(t, "pad_before", pad_before);
}

static void run_conv1d_forward_f32(tv_ctx *t)
{
    int32_t B = tv_int(t, "B"), L = tv_int(t, "L"), C_in = tv_int(t, "C_in");
    int32_t C_out = tv_int(t, "C_out"), K = tv_int(t, "K"), stride = tv_int(t, "stride");
    int32_t dilation = tv_int(t, "dilation"), padding = tv_int(t, "padding");
    int32_t L_out = conv_out_len(L, K, stride, dilation, padding);
    const float *x = tv_in_f32(t, "x", tv_mul3(B, L, C_in));           /* [B][L][C_in] */
    const float *w = tv_in_f32(t, "w", tv_mul3(C_out, K, C_in));       /* [C_out][K][C_in] */
    const float *bias = tv_in_f32(t, "bias", C_out);                   /* [C_out] */
    float *y = tv_out_f32(t, "y", tv_mul3(B, L_out, C_out));           /* [B][L_out][C_out] */
    if (!tv_ok(t)) {
        return;
    }
    tv_status(t, tr_conv1d_forward_f32(y, x, w, bias, B, L, C_in, C_out, K, stride, dilation, padding));
    tv_check(t, "y", y);
}

static void run_conv1d_backward_f32(tv_ctx *t)
{
    int32_t B = tv_int(t, "B"), L = tv_int(t, "L"), C_in = tv_int(t, "C_in");
    int32_t C_out = tv_int(t, "C_out"), K = tv_int(t, "K"), stride = tv_int(t, "stride");
    int32_t dilation = tv_int(t, "dilation"), padding = tv_int(t, "padding");
    int32_t L_out = conv_out_len(L, K, stride, dilation, padding);
    const float *dy = tv_in_f32(t, "dy", tv_mul3(B, L_out, C_out));    /* [B][L_out][C_out] */
    const float *x = tv_in_f32(t, "x", tv_mul3(B, L, C_in));           /* [B][L][C_in] */
    const float *w = tv_in_f32(t, "w", tv_mul3(C_out, K, C_in));       /* [C_out][K][C_in] */
    int want_dx = tv_has(t, "dx", TV_EXPECTED);
    float *dx = want_dx ? tv_out_f32(t, "dx", tv_mul3(B, L, C_in)) : NULL; /* [B][L][C_in] */
    float *dw = tv_out_f32(t, "dw", tv_mul3(C_out, K, C_in));              /* [C_out][K][C_in] */
    float *db = tv_out_f32(t, "db", C_out);                                /* [C_out] */
    if (!tv_ok(t)) {
        return;
    }
    tv_status(t, tr_conv1d_backward_f32(dx, dw, db, dy, x, w, B, L, C_in, C_out, K, stride,
                                        dilation, padding));
    if (want_dx) {
        tv_check(t, "dx", dx);
    }
    tv_check(t, "dw", dw);
    tv_check(t, "db", db);
}

/* -------------------------------------------------------- optimisation, float32 */

static void run_sgd_step_f32(tv_ctx *t)
{
    int32_t n = tv_int(t, "n");
    float lr = tv_f32(t, "lr");
    float *theta = tv_in_f32(t, "theta", n); /* [n], updated in place */
    const float *g = tv_in_f32(t, "g", n);   /* [n] */
    if (!tv_ok(t)) {
        return;
    }
    tv_status(t, tr_sgd_step_f32(theta, g, lr, n));
    tv_check(t, "theta", theta);
}

static void run_reptile_interpolate_f32(tv_ctx *t)
{
    int32_t n = tv_int(t, "n");
    float eps = tv_f32(t, "eps");
    float *theta = tv_in_f32(t, "theta", n); /* [n], updated in place */
    const float *phi = tv_in_f32(t, "phi", n); /* [n] */
    if (!tv_ok(t)) {
        return;
    }
    tv_status(t, tr_reptile_interpolate_f32(theta, phi, eps, n));
    tv_check(t, "theta", theta);
}

/* ------------------------------------------------------------------------ table */

const tv_handler_entry tv_handlers[] = {
    {"dense_forward_f32", run_dense_forward_f32},
    {"dense_backward_f32", run_dense_backward_f32},
    {"conv1d_out_len", run_conv1d_out_len},
    {"conv1d_forward_f32", run_conv1d_forward_f32},
    {"conv1d_backward_f32", run_conv1d_backward_f32},
    {"sgd_step_f32", run_sgd_step_f32},
    {"reptile_interpolate_f32", run_reptile_interpolate_f32},
};
const int32_t tv_handler_count = (int32_t)(sizeof tv_handlers / sizeof tv_handlers[0]);
