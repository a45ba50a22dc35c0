/*
 * tv_handlers.c - one handler per kernel: take the case's parameters and blobs (names as in
 * the C prototypes, see tinyreptile_ref/vectors/cases/), call the kernel, report its status,
 * compare its outputs. Adding a kernel: one function here and one row in tv_handlers[].
 *
 * A handler stops calling kernels once the case has failed (tv_ok), e.g. on a missing blob.
 */
#include <stddef.h>
#include <string.h>

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
    int32_t L = tv_int(t, "L"), K = tv_int(t, "K"), stride = tv_int(t, "stride");
    int32_t dilation = tv_int(t, "dilation"), padding = tv_int(t, "padding");
    int32_t *L_out = tv_out_s32(t, "L_out", 1);
    int32_t *pad_before = tv_out_s32(t, "pad_before", 1);
    if (!tv_ok(t)) {
        return;
    }
    tv_status(t, tr_conv1d_out_len(L_out, pad_before, L, K, stride, dilation, padding));
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

/* ----------------------------------------------------- elementwise math, float32 */

typedef tr_status (*tv_unary_f32)(float *y, const float *x, int32_t n);

/* y = f(x) elementwise, blobs named in_name -> out_name. */
static void run_unary_f32(tv_ctx *t, tv_unary_f32 f, const char *in_name, const char *out_name)
{
    int32_t n = tv_int(t, "n");
    const float *x = tv_in_f32(t, in_name, n); /* [n] */
    float *y = tv_out_f32(t, out_name, n);     /* [n] */
    if (!tv_ok(t)) {
        return;
    }
    tv_status(t, f(y, x, n));
    tv_check(t, out_name, y);
}

/* dx = f(dy, other) elementwise. */
typedef tr_status (*tv_binary_f32)(float *dx, const float *dy, const float *other, int32_t n);

static void run_backward_f32(tv_ctx *t, tv_binary_f32 f, const char *other_name)
{
    int32_t n = tv_int(t, "n");
    const float *dy = tv_in_f32(t, "dy", n);             /* [n] */
    const float *other = tv_in_f32(t, other_name, n);    /* [n] */
    float *dx = tv_out_f32(t, "dx", n);                  /* [n] */
    if (!tv_ok(t)) {
        return;
    }
    tv_status(t, f(dx, dy, other, n));
    tv_check(t, "dx", dx);
}

static void run_exp_f32(tv_ctx *t)
{
    run_unary_f32(t, tr_exp_f32, "x", "y");
}

static void run_log_f32(tv_ctx *t)
{
    run_unary_f32(t, tr_log_f32, "x", "y");
}

static void run_tanh_f32(tv_ctx *t)
{
    run_unary_f32(t, tr_tanh_f32, "x", "y");
}

static void run_sin_f32(tv_ctx *t)
{
    run_unary_f32(t, tr_sin_f32, "x", "y");
}

/* ---------------------------------------------- counter-based random numbers */

static uint64_t tv__u64(const int32_t *halves)
{
    return (uint64_t)(uint32_t)halves[0] | ((uint64_t)(uint32_t)halves[1] << 32);
}

/* coords: seed, stream, device, round as int32 (lo, hi) halves; key: the same spelling. */
static void run_rng_uniform_f32(tv_ctx *t)
{
    int32_t n = tv_int(t, "n");
    float lo = tv_f32(t, "lo"), hi = tv_f32(t, "hi");
    const int32_t *c = tv_in_s32(t, "coords", 8); /* [4][2] */
    const int32_t *j0 = tv_in_s32(t, "j0", 2);    /* [2] */
    int32_t *key = tv_out_s32(t, "key", 2);       /* [2] */
    float *out = tv_out_f32(t, "out", n);         /* [n] */
    if (!tv_ok(t)) {
        return;
    }
    memset(out, 0, (size_t)n * sizeof *out); /* an error must leave it untouched */
    uint64_t k = 0;
    tr_status st = tr_rng_key(&k, tv__u64(c), tv__u64(c + 2), tv__u64(c + 4), tv__u64(c + 6));
    key[0] = (int32_t)(uint32_t)k;
    key[1] = (int32_t)(uint32_t)(k >> 32);
    if (st == TR_OK) {
        st = tr_rng_uniform_f32(out, k, tv__u64(j0), n, lo, hi);
    }
    tv_status(t, st);
    tv_check(t, "key", key);
    tv_check(t, "out", out);
}

/* ---------------------------------------------------------- activations, float32 */

static void run_relu_forward_f32(tv_ctx *t)
{
    run_unary_f32(t, tr_relu_forward_f32, "x", "y");
}

static void run_relu_backward_f32(tv_ctx *t)
{
    run_backward_f32(t, tr_relu_backward_f32, "x");
}

static void run_tanh_forward_f32(tv_ctx *t)
{
    run_unary_f32(t, tr_tanh_forward_f32, "x", "y");
}

static void run_tanh_backward_f32(tv_ctx *t)
{
    run_backward_f32(t, tr_tanh_backward_f32, "y");
}

/* --------------------------------------------------------------- losses, float32 */

static void run_mse_loss_f32(tv_ctx *t)
{
    int32_t n = tv_int(t, "n");
    const float *pred = tv_in_f32(t, "pred", n);      /* [n] */
    const float *target = tv_in_f32(t, "target", n);  /* [n] */
    float *loss = tv_out_f32(t, "loss", 1);           /* [] */
    int want = tv_has(t, "dpred", TV_EXPECTED);
    float *dpred = want ? tv_out_f32(t, "dpred", n) : NULL; /* [n], optional */
    if (!tv_ok(t)) {
        return;
    }
    tv_status(t, tr_mse_loss_f32(loss, dpred, pred, target, n));
    tv_check(t, "loss", loss);
    if (want) {
        tv_check(t, "dpred", dpred);
    }
}

static void run_softmax_xent_loss_f32(tv_ctx *t)
{
    int32_t B = tv_int(t, "B"), C = tv_int(t, "C");
    const float *logits = tv_in_f32(t, "logits", tv_mul(B, C));  /* [B][C] */
    const int32_t *labels = tv_in_s32(t, "labels", B);           /* [B] */
    float *loss = tv_out_f32(t, "loss", 1);                      /* [] */
    int want = tv_has(t, "dlogits", TV_EXPECTED) || tv_expected_status(t) != TR_OK;
    float *dlogits = want ? tv_out_f32(t, "dlogits", tv_mul(B, C)) : NULL; /* [B][C], optional */
    if (!tv_ok(t)) {
        return;
    }
    tv_status(t, tr_softmax_xent_loss_f32(loss, dlogits, logits, labels, B, C));
    tv_check(t, "loss", loss);
    if (want) {
        tv_check(t, "dlogits", dlogits);
    }
}

/* -------------------------------------------------------- optimisation, float32 */

/* SGD and Reptile interpolation share one form: theta [n] updated in place from another
 * vector [n] and a float32 scalar. */
typedef tr_status (*tv_update_f32)(float *theta, const float *other, float scalar, int32_t n);

static void run_update_f32(tv_ctx *t, const char *other_name, const char *scalar_name,
                           tv_update_f32 update)
{
    int32_t n = tv_int(t, "n");
    float scalar = tv_f32(t, scalar_name);
    float *theta = tv_in_f32(t, "theta", n);          /* [n], updated in place */
    const float *other = tv_in_f32(t, other_name, n); /* [n] */
    if (!tv_ok(t)) {
        return;
    }
    tv_status(t, update(theta, other, scalar, n));
    tv_check(t, "theta", theta);
}

static void run_sgd_step_f32(tv_ctx *t)
{
    run_update_f32(t, "g", "lr", tr_sgd_step_f32);
}

static void run_reptile_interpolate_f32(tv_ctx *t)
{
    run_update_f32(t, "phi", "eps", tr_reptile_interpolate_f32);
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
    int32_t multiplier = tv_int(t, "multiplier"), shift = tv_int(t, "shift");
    int8_t *theta = tv_in_s8(t, "theta", n);     /* [n], updated in place */
    const int32_t *g = tv_in_s32(t, "g", n);     /* [n] */
    if (!tv_ok(t)) {
        return;
    }
    tv_status(t, tr_sgd_step_s8(theta, g, n, multiplier, shift));
    tv_check(t, "theta", theta);
}

static void run_reptile_interpolate_s8(tv_ctx *t)
{
    int32_t n = tv_int(t, "n");
    int32_t multiplier = tv_int(t, "multiplier"), shift = tv_int(t, "shift");
    int8_t *theta = tv_in_s8(t, "theta", n);     /* [n], updated in place */
    const int8_t *phi = tv_in_s8(t, "phi", n);   /* [n] */
    if (!tv_ok(t)) {
        return;
    }
    tv_status(t, tr_reptile_interpolate_s8(theta, phi, n, multiplier, shift));
    tv_check(t, "theta", theta);
}

static void run_dense_forward_s8(tv_ctx *t)
{
    int32_t B = tv_int(t, "B"), I = tv_int(t, "I"), O = tv_int(t, "O");
    int32_t n_mult = tv_int(t, "n_mult");
    int32_t x_zp = tv_int(t, "x_zero_point"), w_zp = tv_int(t, "w_zero_point");
    int32_t y_zp = tv_int(t, "y_zero_point");
    int32_t act_min = tv_int(t, "act_min"), act_max = tv_int(t, "act_max");
    const int8_t *x = tv_in_s8(t, "x", tv_mul(B, I));                 /* [B][I] */
    const int8_t *w = tv_in_s8(t, "w", tv_mul(O, I));                 /* [O][I] */
    const int32_t *bias = tv_in_s32(t, "bias", O);                    /* [O] */
    const int32_t *multiplier = tv_in_s32(t, "multiplier", n_mult);   /* [n_mult] */
    const int32_t *shift = tv_in_s32(t, "shift", n_mult);             /* [n_mult] */
    int8_t *y = tv_out_s8(t, "y", tv_mul(B, O));                      /* [B][O] */
    if (!tv_ok(t)) {
        return;
    }
    tv_status(t, tr_dense_forward_s8(y, x, w, bias, multiplier, shift, B, I, O, n_mult, x_zp,
                                     w_zp, y_zp, act_min, act_max));
    tv_check(t, "y", y);
}

static void run_conv1d_forward_s8(tv_ctx *t)
{
    int32_t B = tv_int(t, "B"), L = tv_int(t, "L"), C_in = tv_int(t, "C_in");
    int32_t C_out = tv_int(t, "C_out"), K = tv_int(t, "K"), n_mult = tv_int(t, "n_mult");
    int32_t stride = tv_int(t, "stride"), dilation = tv_int(t, "dilation");
    int32_t padding = tv_int(t, "padding");
    int32_t x_zp = tv_int(t, "x_zero_point"), y_zp = tv_int(t, "y_zero_point");
    int32_t act_min = tv_int(t, "act_min"), act_max = tv_int(t, "act_max");
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
                                      n_mult, stride, dilation, padding, x_zp, y_zp, act_min,
                                      act_max));
    tv_check(t, "y", y);
}

/* ------------------------------------------------------- multi-step sequences, float32 */

/* TinyReptile on one device over several rounds, with the kernels only (see
 * tinyreptile_ref/vectors/cases/sequences.py, gen_reptile_mlp_f32): per round phi = theta, `steps` SGD
 * steps of dense -> activation -> dense -> loss and back, then Reptile interpolation.
 * Flat parameters [P] = w1 [H][I], b1 [H], w2 [O][H], b2 [O]. Every kernel's status is checked;
 * the loss and phi after every step and theta after every round are compared. */
static void run_reptile_mlp_f32(tv_ctx *t)
{
    int32_t B = tv_int(t, "B"), I = tv_int(t, "I"), H = tv_int(t, "H"), O = tv_int(t, "O");
    int32_t steps = tv_int(t, "steps"), rounds = tv_int(t, "rounds");
    float lr = tv_f32(t, "lr"), eps = tv_f32(t, "eps");
    const char *act = tv_str(t, "activation"), *loss_name = tv_str(t, "loss");
    int tanh_act = strcmp(act, "tanh") == 0, mse = strcmp(loss_name, "mse") == 0;
    if (!tanh_act && strcmp(act, "relu") != 0) {
        tv_fail(t, "activation \"%s\" is not tanh or relu", act);
    }
    if (!mse && strcmp(loss_name, "softmax_xent") != 0) {
        tv_fail(t, "loss \"%s\" is not mse or softmax_xent", loss_name);
    }
    int32_t nw1 = tv_mul(H, I), nw2 = tv_mul(O, H), n_steps = tv_mul(rounds, steps);
    int32_t P = -1; /* H*I + H + O*H + O, when it fits */
    if (nw1 >= 0 && nw2 >= 0 && H >= 0 && O >= 0 && nw1 <= INT32_MAX - H &&
        nw1 + H <= INT32_MAX - nw2 && nw1 + H + nw2 <= INT32_MAX - O) {
        P = nw1 + H + nw2 + O;
    }
    if (P < 0) {
        tv_fail(t, "the parameter count H*I + H + O*H + O does not fit int32");
        return;
    }
    float *theta = tv_in_f32(t, "theta", P);                              /* [P] */
    const float *x = tv_in_f32(t, "x", tv_mul3(n_steps, B, I));           /* [rounds][steps][B][I] */
    const float *target = mse ? tv_in_f32(t, "target", tv_mul3(n_steps, B, O)) : NULL;
    const int32_t *labels = mse ? NULL : tv_in_s32(t, "target", tv_mul(n_steps, B));
    float *phi = tv_scratch_f32(t, P), *grad = tv_scratch_f32(t, P);      /* [P] */
    float *hpre = tv_scratch_f32(t, tv_mul(B, H)), *h = tv_scratch_f32(t, tv_mul(B, H));
    float *dh = tv_scratch_f32(t, tv_mul(B, H)), *dhpre = tv_scratch_f32(t, tv_mul(B, H));
    float *y = tv_scratch_f32(t, tv_mul(B, O)), *dy = tv_scratch_f32(t, tv_mul(B, O));
    float *loss = tv_scratch_f32(t, 1);
    if (!tv_ok(t)) {
        return;
    }
    float *w1 = phi, *b1 = phi + nw1, *w2 = b1 + H, *b2 = w2 + nw2;
    float *dw1 = grad, *db1 = grad + nw1, *dw2 = db1 + H, *db2 = dw2 + nw2;
    for (int32_t r = 0; r < rounds && tv_ok(t); r++) {
        for (int32_t j = 0; j < P; j++) {
            phi[j] = theta[j];
        }
        for (int32_t s = 0; s < steps && tv_ok(t); s++) {
            int32_t k = r * steps + s;
            const float *xs = x + (size_t)k * (size_t)B * (size_t)I;       /* [B][I] */
            tv_status(t, tr_dense_forward_f32(hpre, xs, w1, b1, B, I, H));
            tv_status(t, tanh_act ? tr_tanh_forward_f32(h, hpre, tv_mul(B, H))
                                  : tr_relu_forward_f32(h, hpre, tv_mul(B, H)));
            tv_status(t, tr_dense_forward_f32(y, h, w2, b2, B, H, O));
            tv_status(t, mse ? tr_mse_loss_f32(loss, dy, y, target + (size_t)k * (size_t)B * (size_t)O,
                                               tv_mul(B, O))
                             : tr_softmax_xent_loss_f32(loss, dy, y, labels + (size_t)k * (size_t)B, B, O));
            tv_status(t, tr_dense_backward_f32(dh, dw2, db2, dy, h, w2, B, H, O));
            tv_status(t, tanh_act ? tr_tanh_backward_f32(dhpre, dh, h, tv_mul(B, H))
                                  : tr_relu_backward_f32(dhpre, dh, hpre, tv_mul(B, H)));
            tv_status(t, tr_dense_backward_f32(NULL, dw1, db1, dhpre, xs, w1, B, I, H));
            tv_status(t, tr_sgd_step_f32(phi, grad, lr, P));
            tv_check_part(t, "loss", loss, k, 1);
            tv_check_part(t, "phi", phi, k * P, P);
        }
        tv_status(t, tr_reptile_interpolate_f32(theta, phi, eps, P));
        tv_check_part(t, "theta", theta, r * P, P);
    }
}

/* ------------------------------------------------------------ model runtime, float32 */

/* Layers a model case may have (the runner keeps its table on the stack). */
#define TV_MAX_LAYERS 16

/* What a model case describes: the table (from the int32 blob "layers" [n_layers][13], the
 * fields of tr_layer in order), the model, and its per-sample input and output sizes. */
typedef struct {
    tr_layer layers[TV_MAX_LAYERS];
    tr_model m;
    int32_t in_n, out_n;
    int mse;
} tv_model_case;

/* Fills mc from the case; returns 0 (the case failed) when the blobs or parameters do not
 * make a table. The table itself is not checked: that is the runtime's job. */
static int tv_model(tv_ctx *t, tv_model_case *mc)
{
    int32_t n = tv_int(t, "n_layers");
    const char *loss = tv_str(t, "loss");
    if (!tv_ok(t)) {
        return 0;
    }
    if (n < 1 || n > TV_MAX_LAYERS) {
        tv_fail(t, "n_layers %ld is outside [1, %d]", (long)n, TV_MAX_LAYERS);
        return 0;
    }
    mc->mse = strcmp(loss, "mse") == 0;
    if (!mc->mse && strcmp(loss, "softmax_xent") != 0) {
        tv_fail(t, "loss \"%s\" is not mse or softmax_xent", loss);
        return 0;
    }
    const int32_t *rows = tv_in_s32(t, "layers", tv_mul(n, 13)); /* [n][13] */
    if (!tv_ok(t)) {
        return 0;
    }
    if (sizeof(tr_layer) != 13 * sizeof(int32_t)) {
        tv_fail(t, "tr_layer is not 13 int32 fields on this compiler");
        return 0;
    }
    for (int32_t i = 0; i < n; i++) {
        memcpy(&mc->layers[i], rows + 13 * i, sizeof(tr_layer));
    }
    mc->m.layers = mc->layers;
    mc->m.n_layers = n;
    mc->m.n_params = tv_int(t, "n_params");
    mc->m.loss = mc->mse ? TR_LOSS_MSE : TR_LOSS_SOFTMAX_XENT;
    mc->in_n = tv_mul(mc->layers[0].in_dim[0], mc->layers[0].in_dim[1]);
    mc->out_n = tv_mul(mc->layers[n - 1].out_dim[0], mc->layers[n - 1].out_dim[1]);
    return tv_ok(t);
}

static int32_t tv_mode(tv_ctx *t)
{
    const char *mode = tv_str(t, "mode");
    if (!tv_ok(t)) {
        return -1;
    }
    if (strcmp(mode, "fused") == 0) {
        return TR_TRAIN_FUSED;
    }
    if (strcmp(mode, "grad") == 0) {
        return TR_TRAIN_GRAD;
    }
    if (strcmp(mode, "accum") == 0) {
        return TR_TRAIN_ACCUM;
    }
    tv_fail(t, "mode \"%s\" is not fused, grad or accum", mode);
    return -1;
}

/* The arena for (batch, stored, mode), tr_model_arena_size bytes; when the plan itself is
 * refused (a status case), a small one, so that the call under test reports the status. */
static float *tv_arena(tv_ctx *t, const tv_model_case *mc, int32_t batch, int32_t stored,
                       int32_t mode, int32_t *bytes)
{
    if (tr_model_arena_size(bytes, &mc->m, batch, stored, mode) != TR_OK) {
        *bytes = 64;
    }
    return tv_scratch_f32(t, *bytes / 4);
}

/* The samples' targets: float32 [count][out_n] for mse, int32 labels [count] otherwise. */
static void tv_targets(tv_ctx *t, const tv_model_case *mc, int32_t count, const float **target,
                       const int32_t **labels)
{
    *target = mc->mse ? tv_in_f32(t, "target", tv_mul(count, mc->out_n)) : NULL;
    *labels = mc->mse ? NULL : tv_in_s32(t, "labels", count);
}

static void run_model_forward_f32(tv_ctx *t)
{
    tv_model_case mc;
    int32_t B = tv_int(t, "B"), bytes = 0;
    if (!tv_model(t, &mc)) {
        return;
    }
    const float *theta = tv_in_f32(t, "theta", mc.m.n_params);        /* [n_params] */
    const float *x = tv_in_f32(t, "x", tv_mul(B, mc.in_n));            /* [B][in] */
    float *y = tv_out_f32(t, "y", tv_mul(B, mc.out_n));                /* [B][out] */
    float *arena = tv_arena(t, &mc, B, 0, TR_TRAIN_GRAD, &bytes);
    if (!tv_ok(t)) {
        return;
    }
    tv_status(t, tr_model_forward_f32(y, arena, theta, x, &mc.m, B, bytes));
    tv_check(t, "y", y);
}

static void run_model_backward_f32(tv_ctx *t)
{
    tv_model_case mc;
    int32_t B = tv_int(t, "B"), bytes = 0;
    const float *target;
    const int32_t *labels;
    if (!tv_model(t, &mc)) {
        return;
    }
    const float *theta = tv_in_f32(t, "theta", mc.m.n_params);
    const float *x = tv_in_f32(t, "x", tv_mul(B, mc.in_n));
    tv_targets(t, &mc, B, &target, &labels);
    float *grad = tv_out_f32(t, "grad", mc.m.n_params);
    float *loss = tv_out_f32(t, "loss", 1);
    float *arena = tv_arena(t, &mc, B, 0, TR_TRAIN_GRAD, &bytes);
    if (!tv_ok(t)) {
        return;
    }
    tv_status(t, tr_model_backward_f32(grad, loss, arena, theta, x, target, labels, &mc.m, B,
                                       bytes));
    tv_check(t, "grad", grad);
    tv_check(t, "loss", loss);
}

static void run_model_train_step_f32(tv_ctx *t)
{
    tv_model_case mc;
    int32_t B = tv_int(t, "B"), mode = tv_mode(t), bytes = 0;
    float lr = tv_f32(t, "lr");
    const float *target;
    const int32_t *labels;
    if (!tv_model(t, &mc)) {
        return;
    }
    float *theta = tv_in_f32(t, "theta", mc.m.n_params); /* updated in place */
    const float *x = tv_in_f32(t, "x", tv_mul(B, mc.in_n));
    tv_targets(t, &mc, B, &target, &labels);
    float *loss = tv_out_f32(t, "loss", 1);
    float *arena = tv_arena(t, &mc, B, 0, mode, &bytes);
    if (!tv_ok(t)) {
        return;
    }
    tv_status(t, tr_model_train_step_f32(theta, loss, arena, x, target, labels, &mc.m, B, bytes,
                                         lr, mode));
    tv_check(t, "theta", theta);
    tv_check(t, "loss", loss);
}

static void run_tinyreptile_device_round_f32(tv_ctx *t)
{
    tv_model_case mc;
    int32_t k = tv_int(t, "k"), mode = tv_mode(t), bytes = 0;
    float lr = tv_f32(t, "lr");
    const float *target;
    const int32_t *labels;
    if (!tv_model(t, &mc)) {
        return;
    }
    const float *theta = tv_in_f32(t, "theta", mc.m.n_params);
    const float *x = tv_in_f32(t, "x", tv_mul(k, mc.in_n));           /* [k][in] */
    tv_targets(t, &mc, k, &target, &labels);
    float *phi = tv_out_f32(t, "phi", mc.m.n_params);
    float *losses = tv_out_f32(t, "losses", k);
    float *arena = tv_arena(t, &mc, 1, 1, mode, &bytes);
    if (!tv_ok(t)) {
        return;
    }
    tv_status(t, tr_tinyreptile_device_round_f32(phi, losses, arena, theta, x, target, labels,
                                                 &mc.m, k, bytes, lr, mode));
    tv_check(t, "phi", phi);
    tv_check(t, "losses", losses);
}

static void run_reptile_device_round_f32(tv_ctx *t)
{
    tv_model_case mc;
    int32_t k = tv_int(t, "k"), epochs = tv_int(t, "epochs"), batch = tv_int(t, "batch");
    int32_t bytes = 0, steps = batch > 0 ? tv_mul(epochs, k / batch + (k % batch != 0)) : -1;
    float lr = tv_f32(t, "lr");
    const float *target;
    const int32_t *labels;
    if (!tv_model(t, &mc)) {
        return;
    }
    const float *theta = tv_in_f32(t, "theta", mc.m.n_params);
    const float *x = tv_in_f32(t, "x", tv_mul(k, mc.in_n));
    tv_targets(t, &mc, k, &target, &labels);
    const int32_t *order = tv_in_s32(t, "order", tv_mul(epochs, k));   /* [epochs][k] */
    float *phi = tv_out_f32(t, "phi", mc.m.n_params);
    float *losses = tv_out_f32(t, "losses", steps);
    float *arena = tv_arena(t, &mc, batch, k, TR_TRAIN_ACCUM, &bytes);
    if (!tv_ok(t)) {
        return;
    }
    tv_status(t, tr_reptile_device_round_f32(phi, losses, arena, theta, x, target, labels, order,
                                             &mc.m, k, epochs, batch, bytes, lr));
    tv_check(t, "phi", phi);
    tv_check(t, "losses", losses);
}

/* Whole federated runs (tinyreptile_ref/vectors/cases/model.py, _rounds): each round the device
 * trains phi from theta (TinyReptile: tr_tinyreptile_device_round_f32, fused; Reptile:
 * tr_reptile_device_round_f32), then the server sets theta = theta + eps[r]*(phi - theta)
 * with tr_reptile_interpolate_f32. Every round's losses and the final theta are compared. */
static void run_rounds(tv_ctx *t, int reptile)
{
    tv_model_case mc;
    int32_t R = tv_int(t, "rounds"), k = tv_int(t, "k"), bytes = 0;
    int32_t epochs = reptile ? tv_int(t, "epochs") : 0, batch = reptile ? tv_int(t, "batch") : 1;
    int32_t per_round = reptile ? (batch > 0 ? tv_mul(epochs, k / batch + (k % batch != 0)) : -1)
                                : k; /* losses per round */
    float lr = tv_f32(t, "lr");
    const float *target;
    const int32_t *labels;
    if (!tv_model(t, &mc)) {
        return;
    }
    const int32_t P = mc.m.n_params, Rk = tv_mul(R, k);
    float *theta = tv_in_f32(t, "theta", P);                            /* updated in place */
    const float *x = tv_in_f32(t, "x", tv_mul(Rk, mc.in_n));            /* [R][k][in] */
    tv_targets(t, &mc, Rk, &target, &labels);
    const float *eps = tv_in_f32(t, "eps", R);                          /* [R] */
    const int32_t *order = reptile ? tv_in_s32(t, "order", tv_mul3(R, epochs, k)) : NULL;
    float *phi = tv_scratch_f32(t, P);
    float *losses = tv_scratch_f32(t, per_round);
    float *arena = reptile ? tv_arena(t, &mc, batch, k, TR_TRAIN_ACCUM, &bytes)
                           : tv_arena(t, &mc, 1, 1, TR_TRAIN_FUSED, &bytes);
    if (!tv_ok(t)) {
        return;
    }
    for (int32_t r = 0; r < R && tv_ok(t); r++) {
        const size_t j0 = (size_t)r * (size_t)k;
        const float *xr = x + j0 * (size_t)mc.in_n;
        const float *tr = target ? target + j0 * (size_t)mc.out_n : NULL;
        const int32_t *lab = labels ? labels + j0 : NULL;
        if (reptile) {
            tv_status(t, tr_reptile_device_round_f32(phi, losses, arena, theta, xr, tr, lab,
                                                     order + j0 * (size_t)epochs, &mc.m, k,
                                                     epochs, batch, bytes, lr));
        } else {
            tv_status(t, tr_tinyreptile_device_round_f32(phi, losses, arena, theta, xr, tr,
                                                         lab, &mc.m, k, bytes, lr,
                                                         TR_TRAIN_FUSED));
        }
        tv_check_part(t, "losses", losses, r * per_round, per_round);
        tv_status(t, tr_reptile_interpolate_f32(theta, phi, eps[r], P));
    }
    tv_check(t, "theta", theta);
}

static void run_tinyreptile_rounds_f32(tv_ctx *t)
{
    run_rounds(t, 0);
}

static void run_reptile_rounds_f32(tv_ctx *t)
{
    run_rounds(t, 1);
}

/* ------------------------------------------------------------------------ table */

const tv_handler_entry tv_handlers[] = {
    {"dense_forward_f32", run_dense_forward_f32},
    {"dense_backward_f32", run_dense_backward_f32},
    {"conv1d_out_len", run_conv1d_out_len},
    {"conv1d_forward_f32", run_conv1d_forward_f32},
    {"conv1d_backward_f32", run_conv1d_backward_f32},
    {"exp_f32", run_exp_f32},
    {"log_f32", run_log_f32},
    {"tanh_f32", run_tanh_f32},
    {"sin_f32", run_sin_f32},
    {"rng_uniform_f32", run_rng_uniform_f32},
    {"relu_forward_f32", run_relu_forward_f32},
    {"relu_backward_f32", run_relu_backward_f32},
    {"tanh_forward_f32", run_tanh_forward_f32},
    {"tanh_backward_f32", run_tanh_backward_f32},
    {"mse_loss_f32", run_mse_loss_f32},
    {"softmax_xent_loss_f32", run_softmax_xent_loss_f32},
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
    {"reptile_mlp_f32", run_reptile_mlp_f32},
    {"model_forward_f32", run_model_forward_f32},
    {"model_backward_f32", run_model_backward_f32},
    {"model_train_step_f32", run_model_train_step_f32},
    {"tinyreptile_device_round_f32", run_tinyreptile_device_round_f32},
    {"reptile_device_round_f32", run_reptile_device_round_f32},
    {"tinyreptile_rounds_f32", run_tinyreptile_rounds_f32},
    {"reptile_rounds_f32", run_reptile_rounds_f32},
};
const int32_t tv_handler_count = (int32_t)(sizeof tv_handlers / sizeof tv_handlers[0]);
