/*
 * tinyreptile.h - the TinyReptile reference kernel library, float32 and int8.
 *
 * C99, no malloc, no libm, no globals, no printf. Every kernel returns a tr_status
 * (TR_OK = 0, errors negative; tr_status_str() names them). Inputs are const; outputs
 * come first in every argument list (llm.c's order), then inputs, then sizes, then
 * parameters. Sizes are int32_t and may be 0 (an empty tensor) but not negative, and
 * every product of sizes a kernel forms must fit in int32_t.
 *
 * Numerics contract: IEEE float32, round to nearest even, no fused multiply-add
 * (compile with -std=c99 -ffp-contract=off; never -ffast-math). Each kernel's comment
 * states the one reduction order that its NumPy twin in tinyreptile_ref/ follows too, so
 * both give the same bits. All layouts are row-major (C order).
 *
 * The lines between TR_CDEF_BEGIN and TR_CDEF_END are also the cffi declarations of the
 * Python binding: keep them free of preprocessor directives.
 */
#ifndef TINYREPTILE_H
#define TINYREPTILE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* TR_CDEF_BEGIN */

typedef enum {
    TR_OK = 0,
    TR_ERR_NULL = -1,     /* a required pointer is NULL */
    TR_ERR_SHAPE = -2,    /* a size is negative, or a product of sizes exceeds INT32_MAX */
    TR_ERR_PARAM = -3,    /* stride, dilation, padding mode or another parameter out of range */
    TR_ERR_LABEL = -4,    /* a class label outside [0, classes) */
    TR_ERR_OVERFLOW = -5, /* an int32 accumulator could overflow: a precondition is violated */
    TR_ERR_BUFFER = -6    /* a caller-provided buffer or arena is too small */
} tr_status;

/* A constant, human-readable description of a status code; never NULL. */
const char *tr_status_str(int status);

/* ---------------------------------------------------------------- dense, float32 */

/* y[b][o] = bias[o] + w[o][0]*x[b][0] + w[o][1]*x[b][1] + ... (i ascending)
 *   the accumulator starts at bias[o]; each product is rounded, then added.
 * x [B][I], w [O][I], bias [O], y [B][O]. */
tr_status tr_dense_forward_f32(float *y, const float *x, const float *w, const float *bias,
                               int32_t B, int32_t I, int32_t O);

/* Gradients overwrite their buffers (they do not accumulate).
 * dx[b][i] = 0 + dy[b][0]*w[0][i] + dy[b][1]*w[1][i] + ...   (o ascending)
 * dw[o][i] = 0 + dy[0][o]*x[0][i] + dy[1][o]*x[1][i] + ...   (b ascending)
 * db[o]    = 0 + dy[0][o] + dy[1][o] + ...                   (b ascending)
 * dy [B][O], x [B][I], w [O][I]; dx [B][I] (may be NULL: not computed), dw [O][I], db [O]. */
tr_status tr_dense_backward_f32(float *dx, float *dw, float *db, const float *dy,
                                const float *x, const float *w,
                                int32_t B, int32_t I, int32_t O);

/* --------------------------------------------------------------- conv1d, float32 */

/* ----------------------------------------------------- elementwise math, float32 */

/* The library's own exp, log and tanh (no libm), elementwise over n values; y may alias x.
 * Their algorithms, exact operation order and special values are documented in mathf.c.
 * Error against the exact function over all float32: exp and log < 1 ulp, tanh < 1.1 ulp.
 * x [n], y [n]. */
tr_status tr_exp_f32(float *y, const float *x, int32_t n);
tr_status tr_log_f32(float *y, const float *x, int32_t n);
tr_status tr_tanh_f32(float *y, const float *x, int32_t n);

/* ---------------------------------------------------------- activations, float32 */

/* Elementwise over n values; x, y, dy, dx [n] (any tensor shape, flattened).
 * y = x < 0 ? +0 : x   (NaN and -0 pass through unchanged); y may alias x. */
tr_status tr_relu_forward_f32(float *y, const float *x, int32_t n);
/* dx = x > 0 ? dy : +0   (x is the forward input; NaN x gives +0); dx may alias dy. */
tr_status tr_relu_backward_f32(float *dx, const float *dy, const float *x, int32_t n);
/* y = tanh(x) with the library's own tanh (mathf.c); y may alias x. */
tr_status tr_tanh_forward_f32(float *y, const float *x, int32_t n);
/* dx = dy * (1 - y*y)   (y is the forward output; rounded after *, -, *); dx may alias dy. */
tr_status tr_tanh_backward_f32(float *dx, const float *dy, const float *y, int32_t n);

/* --------------------------------------------------------------- losses, float32 */

/* Mean squared error over n values, d[j] = pred[j] - target[j]:
 *   loss = (0 + d[0]*d[0] + d[1]*d[1] + ... (j ascending)) / (float)n
 *   dpred[j] = d[j] * (2.0f / (float)n)   (2/n rounded once to float32 while n <= 2^24)
 * pred, target, dpred [n] (any tensor shape, flattened). n == 0 gives loss +0 and no
 * gradient. dpred may be NULL (loss only). */
tr_status tr_mse_loss_f32(float *loss, float *dpred, const float *pred, const float *target,
                          int32_t n);

/* Softmax cross-entropy with integer labels, mean over the batch. For each row b:
 *   m = z[b][0], then for c ascending from 1: m = z[b][c] if z[b][c] > m,
 *   s = 0 + exp(z[b][0]-m) + exp(z[b][1]-m) + ... (c ascending), exp and log are mathf.c's,
 *   loss_b = log(s) - (z[b][label[b]] - m)
 *   loss = (0 + loss_0 + loss_1 + ... (b ascending)) / (float)B
 *   dlogits[b][c] = (exp(z[b][c]-m) / s - (c == label[b] ? 1 : 0)) / (float)B
 *     (the subtraction only for c == label[b]; each operation rounded once)
 * logits [B][C], labels [B] in [0, C), dlogits [B][C] (may be NULL). B == 0 gives loss +0.
 * Every label is checked before anything is written: one outside [0, C) (so any label when
 * C == 0) gives TR_ERR_LABEL with loss and dlogits untouched. Since z - m <= 0, exp never
 * overflows and s >= 1: huge finite logits give finite results; a -inf logit has
 * probability 0, while a +inf logit, a row of only -inf or a NaN makes that row NaN. */
tr_status tr_softmax_xent_loss_f32(float *loss, float *dlogits, const float *logits,
                                   const int32_t *labels, int32_t B, int32_t C);

/* -------------------------------------------------------- optimisation, float32 */

/* One SGD step over a flat parameter buffer, in place: theta[j] = theta[j] - lr*g[j]
 * (the product is rounded, then subtracted). */
tr_status tr_sgd_step_f32(float *theta, const float *g, float lr, int32_t n);

/* Reptile interpolation over a flat parameter buffer, in place:
 *   d = phi[j] - theta[j]; theta[j] = theta[j] + eps*d   (each operation rounded). */
tr_status tr_reptile_interpolate_f32(float *theta, const float *phi, float eps, int32_t n);

/* TR_CDEF_END */

#ifdef __cplusplus
}
#endif

#endif /* TINYREPTILE_H */
