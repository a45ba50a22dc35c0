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

/* ------------------------------------------------- quantization and int8 kernels */

static void run_multiply_by_quantized_multiplier_s32(tv_ctx *t)
{
    int32_t n = tv_int(t, "n"), C = tv_int(t, "C");
    const int32_t *x = tv_in_s32(t, "x", tv_mul(n, C));         /* [n][C] */
    const int32_t *multiplier = tv_in_s32(t, "multiplier", C);  /* [C] */
    const int32_t *shift = tv_in_s32(t, "shift", C);            /* [C] */
    int32_t *y = tv_out_s32(t, "y", tv_mul(n, C));              /* [n][C] */
    if (!tv_ok(t)) {
        return;
    }
    tv_status(t, tr_multiply_by_quantized_multiplier_s32(y, x, multiplier, shift, n, C));
    tv_check(t, "y", y);
}

static void run_quantize_s8(tv_ctx *t)
{
    int32_t n = tv_int(t, "n"), zero_point = tv_int(t, "zero_point");
    float scale = tv_f32(t, "scale");
    const float *x = tv_in_f32(t, "x", n); /* [n] */
    int8_t *q = tv_out_s8(t, "q", n);      /* [n] */
    if (!tv_ok(t)) {
        return;
    }
    tv_status(t, tr_quantize_s8(q, x, n, scale, zero_point));
    tv_check(t, "q", q);
}

static void run_dequantize_s8(tv_ctx *t)
{
    int32_t n = tv_int(t, "n"), zero_point = tv_int(t, "zero_point");
    float scale = tv_f32(t, "scale");
    const int8_t *q = tv_in_s8(t, "q", n); /* [n] */
    float *x = tv_out_f32(t, "x", n);      /* [n] */
    if (!tv_ok(t)) {
        return;
    }
    tv_status(t, tr_dequantize_s8(x, q, n, scale, zero_point));
    tv_check(t, "x", x);
}

/* ceil(n / chunk), or -1 when chunk < 1. */
static int32_t n_chunks(int32_t n, int32_t chunk)
{
    return (chunk < 1 || n < 0) ? -1 : n / chunk + (n % chunk != 0);
}

static void run_transport_quantize_s8(tv_ctx *t)
{
    int32_t n = tv_int(t, "n"), chunk = tv_int(t, "chunk");
    const float *x = tv_in_f32(t, "x", n);                        /* [n] */
    int8_t *q = tv_out_s8(t, "q", n);                             /* [n] */
    float *scale = tv_out_f32(t, "scale", n_chunks(n, chunk));    /* [ceil(n / chunk)] */
    if (!tv_ok(t)) {
        return;
    }
    tv_status(t, tr_transport_quantize_s8(q, scale, x, n, chunk));
    tv_check(t, "q", q);
    tv_check(t, "scale", scale);
}

static void run_transport_dequantize_s8(tv_ctx *t)
{
    int32_t n = tv_int(t, "n"), chunk = tv_int(t, "chunk");
    const int8_t *q = tv_in_s8(t, "q", n);                             /* [n] */
    const float *scale = tv_in_f32(t, "scale", n_chunks(n, chunk));    /* [ceil(n / chunk)] */
    float *x = tv_out_f32(t, "x", n);                                  /* [n] */
    if (!tv_ok(t)) {
        return;
    }
    tv_status(t, tr_transport_dequantize_s8(x, q, scale, n, chunk));
    tv_check(t, "x", x);
}

static void run_sgd_step_s8(tv_ctx *t)
{
    int32_t n = tv_int(t, "n");
    int8_t *theta = tv_in_s8(t, "theta", n);     /* [n], updated in place */
    const int32_t *g = tv_in_s32(t, "g", n);     /* [n] */
    if (!tv_ok(t)) {
        return;
    }
    tv_status(t, tr_sgd_step_s8(theta, g, n, tv_int(t, "multiplier"), tv_int(t, "shift")));
    tv_check(t, "theta", theta);
}

static void run_reptile_interpolate_s8(tv_ctx *t)
{
    int32_t n = tv_int(t, "n");
    int8_t *theta = tv_in_s8(t, "theta", n);     /* [n], updated in place */
    const int8_t *phi = tv_in_s8(t, "phi", n);   /* [n] */
    if (!tv_ok(t)) {
        return;
    }
    tv_status(t, tr_reptile_interpolate_s8(theta, phi, n, tv_int(t, "multiplier"),
                                           tv_int(t, "shift")));
    tv_check(t, "theta", theta);
}

static void run_dense_forward_s8(tv_ctx *t)
{
    int32_t B = tv_int(t, "B"), I = tv_int(t, "I"), O = tv_int(t, "O");
    int32_t n_mult = tv_int(t, "n_mult");
    const int8_t *x = tv_in_s8(t, "x", tv_mul(B, I));                 /* [B][I] */
    const int8_t *w = tv_in_s8(t, "w", tv_mul(O, I));                 /* [O][I] */
    const int32_t *bias = tv_in_s32(t, "bias", O);                    /* [O] */
    const int32_t *multiplier = tv_in_s32(t, "multiplier", n_mult);   /* [n_mult] */
    const int32_t *shift = tv_in_s32(t, "shift", n_mult);             /* [n_mult] */
    int8_t *y = tv_out_s8(t, "y", tv_mul(B, O));                      /* [B][O] */
    if (!tv_ok(t)) {
        return;
    }
    tv_status(t, tr_dense_forward_s8(y, x, w, bias, multiplier, shift, B, I, O, n_mult,
                                     tv_int(t, "x_zero_point"), tv_int(t, "w_zero_point"),
                                     tv_int(t, "y_zero_point"), tv_int(t, "act_min"),
                                     tv_int(t, "act_max")));
    tv_check(t, "y", y);
}

static void run_conv1d_forward_s8(tv_ctx *t)
{
    int32_t B = tv_int(t, "B"), L = tv_int(t, "L"), C_in = tv_int(t, "C_in");
    int32_t C_out = tv_int(t, "C_out"), K = tv_int(t, "K"), n_mult = tv_int(t, "n_mult");
    int32_t stride = tv_int(t, "stride"), dilation = tv_int(t, "dilation");
    int32_t padding = tv_int(t, "padding");
    int32_t L_out = conv_out_len(L, K, stride, dilation, padding);
    const int8_t *x = tv_in_s8(t, "x", tv_mul3(B, L, C_in));           /* [B][L][C_in] */
    const int8_t *w = tv_in_s8(t, "w", tv_mul3(C_out, K, C_in));       /* [C_out][K][C_in] */
    const int32_t *bias = tv_in_s32(t, "bias", C_out);                 /* [C_out] */
    const int32_t *multiplier = tv_in_s32(t, "multiplier", n_mult);    /* [n_mult] */
    const int32_t *shift = tv_in_s32(t, "shift", n_mult);              /* [n_mult] */
    int8_t *y = tv_out_s8(t, "y", tv_mul3(B, L_out, C_out));           /* [B][L_out][C_out] */
    if (!tv_ok(t)) {
        return;
    }
    tv_status(t, tr_conv1d_forward_s8(y, x, w, bias, multiplier, shift, B, L, C_in, C_out, K,
                                      n_mult, stride, dilation, padding,
                                      tv_int(t, "x_zero_point"), tv_int(t, "y_zero_point"),
                                      tv_int(t, "act_min"), tv_int(t, "act_max")));
    tv_check(t, "y", y);
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
    {"multiply_by_quantized_multiplier_s32", run_multiply_by_quantized_multiplier_s32},
    {"quantize_s8", run_quantize_s8},
    {"dequantize_s8", run_dequantize_s8},
    {"transport_quantize_s8", run_transport_quantize_s8},
    {"transport_dequantize_s8", run_transport_dequantize_s8},
    {"sgd_step_s8", run_sgd_step_s8},
    {"reptile_interpolate_s8", run_reptile_interpolate_s8},
    {"dense_forward_s8", run_dense_forward_s8},
    {"conv1d_forward_s8", run_conv1d_forward_s8},
};
const int32_t tv_handler_count = (int32_t)(sizeof tv_handlers / sizeof tv_handlers[0]);
