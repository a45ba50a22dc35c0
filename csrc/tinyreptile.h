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

/* Padding modes of conv1d. */
enum { TR_PAD_VALID = 0, TR_PAD_SAME = 1 };

/* Output length and leading padding of a conv1d, TFLite's rule. With the effective kernel
 * span S = (K-1)*dilation + 1:
 *   valid: L_out = L >= S ? (L - S) / stride + 1 : 0, pad_before = 0;
 *   same:  L_out = ceil(L / stride), total = max((L_out-1)*stride + S - L, 0),
 *          pad_before = total / 2 (the smaller half before).
 * K >= 1, stride >= 1, dilation >= 1, padding TR_PAD_VALID or TR_PAD_SAME (else TR_ERR_PARAM);
 * S, and for same (L_out-1)*stride + S, must fit in int32_t (else TR_ERR_SHAPE). */
tr_status tr_conv1d_out_len(int32_t *L_out, int32_t *pad_before, int32_t L, int32_t K,
                            int32_t stride, int32_t dilation, int32_t padding);

/* Channels-last 1-D convolution (cross-correlation). With p(t,k) = t*stride + k*dilation - pad_before:
 * y[b][t][co] = bias[co] + sum over k ascending, then ci ascending, of w[co][k][ci]*x[b][p(t,k)][ci],
 *   taps with p(t,k) outside [0, L) are skipped (they contribute nothing, as zero padding would).
 * x [B][L][C_in], w [C_out][K][C_in], bias [C_out], y [B][L_out][C_out]. */
tr_status tr_conv1d_forward_f32(float *y, const float *x, const float *w, const float *bias,
                                int32_t B, int32_t L, int32_t C_in, int32_t C_out, int32_t K,
                                int32_t stride, int32_t dilation, int32_t padding);

/* Gradients overwrite their buffers.
 * dx[b][l][ci] = 0 + sum over k ascending (t with p(t,k) = l, if any), then co ascending,
 *                of w[co][k][ci]*dy[b][t][co]
 * dw[co][k][ci] = 0 + sum over b ascending, then t ascending (taps inside [0, L) only),
 *                of dy[b][t][co]*x[b][p(t,k)][ci]
 * db[co] = 0 + sum over b ascending, then t ascending, of dy[b][t][co]
 * dy [B][L_out][C_out]; dx [B][L][C_in] (may be NULL), dw [C_out][K][C_in], db [C_out]. */
tr_status tr_conv1d_backward_f32(float *dx, float *dw, float *db, const float *dy,
                                 const float *x, const float *w,
                                 int32_t B, int32_t L, int32_t C_in, int32_t C_out, int32_t K,
                                 int32_t stride, int32_t dilation, int32_t padding);

/* ----------------------------------------------------- elementwise math, float32 */

/* ---------------------------------------------------------- activations, float32 */

/* --------------------------------------------------------------- losses, float32 */

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
