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
    TR_ERR_BUFFER = -6,   /* a caller-provided buffer or arena is too small or misaligned */
    TR_ERR_MODEL = -7,    /* a model's layer table is inconsistent (model runtime) */
    TR_ERR_FRAME = -8,    /* a wire frame is malformed: COBS, CRC or length (client.c) */
    TR_ERR_PROTO = -9     /* a protocol message is invalid or unexpected (client.c) */
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

/* The library's own exp, log and tanh (no libm), elementwise over n values; y may alias x.
 * Their algorithms, exact operation order and special values are documented in mathf.c.
 * Error against the exact function over all float32: exp and log < 1 ulp, tanh < 1.1 ulp.
 * x [n], y [n]. */
tr_status tr_exp_f32(float *y, const float *x, int32_t n);
tr_status tr_log_f32(float *y, const float *x, int32_t n);
tr_status tr_tanh_f32(float *y, const float *x, int32_t n);
/* The library's own sin, elementwise; y may alias x. Error below 1 ulp for |x| <= 6400;
 * beyond, sin(x mod 2pi_f) with 2pi_f = 2pi rounded to float32 (finite, in [-1, 1]).
 * sin(±0) = ±0, sin(±inf) = NaN, NaN -> NaN. x [n], y [n]. */
tr_status tr_sin_f32(float *y, const float *x, int32_t n);

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

/* ---- quantization and int8 kernels ---- */

/* Conventions, TFLite's integer scheme (the README's "int8 rules" state them in full):
 *   real = scale * (q - zero_point); int8 tensors, int32 bias, int32 accumulators.
 *   A real multiplier travels as (multiplier, shift), real ~ multiplier * 2^shift / 2^31,
 *   made on the host by tinyreptile_ref.quant.quantize_multiplier (TFLite's QuantizeMultiplier).
 *   shift lies in [-31, 30]; zero points and activation bounds in [-128, 127], act_min <=
 *   act_max; anything else is TR_ERR_PARAM.
 *
 * MBQM(x, M, shift) is TFLite's double-rounding MultiplyByQuantizedMultiplier:
 *   ls = max(shift, 0), rs = max(-shift, 0),
 *   h = SaturatingRoundingDoublingHighMul(x * 2^ls, M)
 *     = INT32_MAX if x * 2^ls == M == INT32_MIN, else x*2^ls*M / 2^31 rounded, ties toward +inf,
 *   MBQM = RoundingDivideByPOT(h, rs) = h / 2^rs rounded, ties away from zero.
 * x * 2^ls must fit in int32: a kernel checks this (TR_ERR_OVERFLOW) before it writes anything.
 * The output stage of the int8 layers is
 *   y = clamp(MBQM(acc, M, shift) + y_zero_point, act_min, act_max)   (the sum in 64 bits). */

/* y[j][c] = MBQM(x[j][c], multiplier[c], shift[c]).
 * x [n][C], multiplier [C], shift [C], y [n][C]; C = 1 is per-tensor. */
tr_status tr_multiply_by_quantized_multiplier_s32(int32_t *y, const int32_t *x,
                                                  const int32_t *multiplier, const int32_t *shift,
                                                  int32_t n, int32_t C);

/* q[j] = clamp(round(x[j] / scale) + zero_point, -128, 127)   (TFLite's AffineQuantize):
 *   x[j] / scale is one float32 division, round is half away from zero (TfLiteRound);
 *   NaN quantizes to zero_point, +-inf saturate. scale finite and > 0. x [n], q [n]. */
tr_status tr_quantize_s8(int8_t *q, const float *x, int32_t n, float scale, int32_t zero_point);

/* x[j] = scale * (float)(q[j] - zero_point), one float32 product (TFLite's Dequantize).
 * scale finite. q [n], x [n]. */
tr_status tr_dequantize_s8(float *x, const int8_t *q, int32_t n, float scale, int32_t zero_point);

/* Quantized transport of a flat float32 vector: symmetric int8, one scale per chunk of
 * `chunk` values (the last chunk may be shorter; chunk >= n is one scale for all). Chunk c:
 *   m = max |x[j]| over the chunk;  s = m / 127 (one float32 division), raised to 2^-149 if
 *   it underflowed to 0 with m > 0, lowered to 0x1.020406p+121 if above (so 127*s is finite);
 *   scale[c] = s;  q[j] = 0 if m == 0, else clamp(round(x[j] / s), -127, 127), round as in
 *   tr_quantize_s8 (the code is symmetric: -128 never occurs).
 * Every x[j] finite (else TR_ERR_PARAM, nothing written); chunk >= 1 (else TR_ERR_PARAM).
 * x [n], q [n], scale [ceil(n / chunk)]. */
tr_status tr_transport_quantize_s8(int8_t *q, float *scale, const float *x, int32_t n,
                                   int32_t chunk);

/* x'[j] = scale[j / chunk] * (float)q[j], one float32 product. After tr_transport_quantize_s8,
 *   |x[j] - x'[j]| <= s * (1/2 + 255 * 2^-24) + 2^-143   (s the chunk's scale)
 * (half a step for the rounding, 2^-24-relative terms for the division and the product,
 * the absolute term for subnormal scales). q [n], scale [ceil(n / chunk)], x [n]. */
tr_status tr_transport_dequantize_s8(float *x, const int8_t *q, const float *scale, int32_t n,
                                     int32_t chunk);

/* SGD on int8 weights, in place, with a fixed-point learning rate:
 *   theta[j] = clamp(theta[j] - MBQM(g[j], multiplier, shift), -128, 127)
 * where g is an int32 gradient of scale s_g, theta has scale s_w, and
 * (multiplier, shift) = quantize_multiplier(lr * s_g / s_w). theta [n], g [n]. */
tr_status tr_sgd_step_s8(int8_t *theta, const int32_t *g, int32_t n, int32_t multiplier,
                         int32_t shift);

/* Reptile interpolation on int8 weights (theta and phi share scale and zero point), in place:
 *   theta[j] = clamp(theta[j] + MBQM(phi[j] - theta[j], multiplier, shift), -128, 127)
 * with (multiplier, shift) = quantize_multiplier(eps). For 0 <= eps <= 1 the result lies
 * between theta[j] and phi[j] (never saturates); eps = 1 gives phi, eps = 0 theta. */
tr_status tr_reptile_interpolate_s8(int8_t *theta, const int8_t *phi, int32_t n,
                                    int32_t multiplier, int32_t shift);

/* Fully connected, int8 (TFLite's FullyConnected / FullyConnectedPerChannel):
 *   acc = 0 + (w[o][0]-w_zp)*(x[b][0]-x_zp) + (w[o][1]-w_zp)*(x[b][1]-x_zp) + ... (i ascending)
 *         + bias[o];   int32, exact
 *   y[b][o] = clamp(MBQM(acc, multiplier[c], shift[c]) + y_zp, act_min, act_max),
 *   c = o if n_mult == O (per channel), c = 0 if n_mult == 1 (per tensor).
 * w_zero_point must be 0 unless n_mult == 1 (per-channel weights are symmetric).
 * Overflow precondition, per output o (else TR_ERR_OVERFLOW): with R(zp) = max(127-zp, 128+zp),
 *   (I * R(x_zp) * R(w_zp) + |bias[o]|) * 2^max(shift[c], 0) <= INT32_MAX.
 * x [B][I], w [O][I], bias [O], multiplier [n_mult], shift [n_mult], y [B][O]. */
tr_status tr_dense_forward_s8(int8_t *y, const int8_t *x, const int8_t *w, const int32_t *bias,
                              const int32_t *multiplier, const int32_t *shift,
                              int32_t B, int32_t I, int32_t O, int32_t n_mult,
                              int32_t x_zero_point, int32_t w_zero_point, int32_t y_zero_point,
                              int32_t act_min, int32_t act_max);

/* Channels-last 1-D convolution, int8 (TFLite's ConvPerChannel with height 1), symmetric
 * weights. Geometry as conv1d float32: padding 0 = valid, 1 = same (TR_PAD_VALID/TR_PAD_SAME);
 * S = (K-1)*dilation + 1; valid: L_out = L >= S ? (L-S)/stride + 1 : 0, pad_before = 0;
 * same: L_out = ceil(L/stride), pad_before = max((L_out-1)*stride + S - L, 0) / 2.
 * With p(t,k) = t*stride + k*dilation - pad_before:
 *   acc = 0 + sum over k ascending, then ci ascending, of w[co][k][ci]*(x[b][p(t,k)][ci]-x_zp)
 *         (taps with p(t,k) outside [0, L) skipped: TFLite's padding with the zero point)
 *         + bias[co];   int32, exact
 *   y[b][t][co] = clamp(MBQM(acc, multiplier[c], shift[c]) + y_zp, act_min, act_max),
 *   c = co if n_mult == C_out, c = 0 if n_mult == 1.
 * K, stride, dilation >= 1 (else TR_ERR_PARAM). Overflow precondition, per co:
 *   (K * C_in * R(x_zp) * 128 + |bias[co]|) * 2^max(shift[c], 0) <= INT32_MAX.
 * x [B][L][C_in], w [C_out][K][C_in], bias [C_out], multiplier, shift [n_mult],
 * y [B][L_out][C_out]. */
tr_status tr_conv1d_forward_s8(int8_t *y, const int8_t *x, const int8_t *w, const int32_t *bias,
                               const int32_t *multiplier, const int32_t *shift,
                               int32_t B, int32_t L, int32_t C_in, int32_t C_out, int32_t K,
                               int32_t n_mult, int32_t stride, int32_t dilation, int32_t padding,
                               int32_t x_zero_point, int32_t y_zero_point,
                               int32_t act_min, int32_t act_max);
/* ---- model runtime, float32 ---- */

/* A sequential model trained on the device: a layer table, one flat parameter buffer theta,
 * and one caller-provided arena (no malloc) whose size tr_model_arena_size() returns.
 * tinyreptile_ref/runtime/model.py is the NumPy twin: the same table rules, parameter layout,
 * memory plan and step order.
 *
 * Layer kinds and losses, codes in model.py's KINDS and LOSSES order. */
enum { TR_LAYER_DENSE = 0, TR_LAYER_CONV1D = 1, TR_LAYER_RELU = 2, TR_LAYER_TANH = 3,
       TR_LAYER_FLATTEN = 4 };
enum { TR_LOSS_MSE = 0, TR_LOSS_SOFTMAX_XENT = 1 };

/* Training modes: what the arena holds besides activations and deltas.
 *   FUSED  batch 1, no gradient buffer: each parametric layer's weights are updated in place
 *          during backward, right after that layer's dx was computed with the old weights;
 *   GRAD   a gradient buffer [n_params]; forward, backward and SGD over the whole batch at
 *          once (activations and deltas for `batch` samples);
 *   ACCUM  a gradient buffer; the batch's gradient is accumulated one sample at a time, so
 *          activations and deltas are those of one sample (batched Reptile on a device).
 * All three give the same bits for the same samples (FUSED only at batch 1). */
enum { TR_TRAIN_FUSED = 0, TR_TRAIN_GRAD = 1, TR_TRAIN_ACCUM = 2 };

/* One row of the layer table. A tensor per sample has rank 1, [dim[0]] with dim[1] = 1, or
 * rank 2, [dim[0]][dim[1]] = [length][channels] (channels-last).
 *   dense    input rank 1 [I], output rank 1 [O]; w [O][I] at theta + w_off, bias [O] at b_off;
 *   conv1d   input rank 2 [L][C_in], output rank 2 [L_out][C_out] with L_out >= 1 by
 *            tr_conv1d_out_len(L, kernel_size, stride, dilation, padding);
 *            w [C_out][kernel_size][C_in] at w_off, bias [C_out] at b_off;
 *   relu, tanh   output = input; each must follow a dense or conv1d layer with only flatten
 *            layers in between (they work in place on that layer's output, and their backward
 *            reads their own output y: relu' > 0 exactly when y > 0, tanh' = 1 - y*y);
 *   flatten  output rank 1 [size of the input]: a reshape.
 * Parameter layout (model.py's): parametric layers own theta in table order, each its weight
 * then its bias, without gaps, from offset 0 to n_params. Fields a kind does not use (w_off,
 * b_off and the conv1d geometry of other kinds) are ignored. */
typedef struct {
    int32_t kind;
    int32_t in_rank;
    int32_t in_dim[2];
    int32_t out_rank;
    int32_t out_dim[2];
    int32_t w_off;
    int32_t b_off;
    int32_t kernel_size;
    int32_t stride;
    int32_t dilation;
    int32_t padding;
} tr_layer;

/* A model: layers[n_layers] chained (each layer's input shape is the previous one's output
 * shape), at least one dense or conv1d layer, n_params parameters, a loss:
 *   TR_LOSS_MSE           targets float32 of the output's shape;
 *   TR_LOSS_SOFTMAX_XENT  int32 labels in [0, classes), the output rank 1 [classes]. */
typedef struct {
    const tr_layer *layers;
    int32_t n_layers;
    int32_t n_params;
    int32_t loss;
} tr_model;

/* Checks a model's table: TR_OK, TR_ERR_NULL (model or layers NULL), TR_ERR_SHAPE (a size or
 * a product of sizes, per sample, exceeds int32), TR_ERR_MODEL (anything else). Every other
 * model function runs this check first, so a bad table gives a status, never a crash. */
tr_status tr_model_check(const tr_model *model);

/* Bytes a device needs for one training step of `batch` samples in `mode`, with `stored`
 * samples held in the arena (0: the caller holds the samples). With per-sample sizes of the
 * model and Bact = batch for GRAD, 1 for FUSED and ACCUM:
 *   params       4*n_params: theta, the caller's buffer (not in the arena);
 *   grads        4*n_params for GRAD and ACCUM, 0 for FUSED;
 *   activations  4*Bact*(sum of the output sizes of the dense and conv1d layers): each is
 *                kept for backward; relu and tanh work in place on it, flatten aliases it;
 *   deltas       dpred, then the dx of every parametric layer after the first (from the last
 *                one down) alternate between two buffers, each as large as the largest tensor
 *                it holds: 4*Bact*(max over the even-numbered + max over the odd-numbered);
 *   samples      stored*(4*input size + target: 4*output size for mse, 4 for a label);
 *   arena        grads + activations + deltas + samples: the arena's size.
 * The arena is laid out in that order: activations, delta buffer 0, delta buffer 1, grads,
 * samples. FUSED needs batch == 1 (else TR_ERR_PARAM); batch >= 0, stored >= 0; every byte
 * count must fit int32 (else TR_ERR_SHAPE). */
typedef struct {
    int32_t params;
    int32_t grads;
    int32_t activations;
    int32_t deltas;
    int32_t samples;
    int32_t arena;
} tr_memory_plan;

tr_status tr_model_memory_plan(tr_memory_plan *plan, const tr_model *model, int32_t batch,
                               int32_t stored, int32_t mode);
tr_status tr_model_arena_size(int32_t *bytes, const tr_model *model, int32_t batch,
                              int32_t stored, int32_t mode);

/* Arguments shared by the functions below:
 *   arena        caller memory of arena_bytes bytes, 4-byte aligned, used as float storage
 *                (declare it float, or malloc it); misaligned or smaller than the function
 *                needs: TR_ERR_BUFFER. Its contents on entry do not matter.
 *   theta        the flat parameter buffer [n_params];
 *   x            [B][input size], row-major per the input shape;
 *   target       mse: [B][output size] (labels unused, may be NULL);
 *   labels       softmax cross-entropy: [B] (target unused, may be NULL); a label outside
 *                [0, classes) gives TR_ERR_LABEL before anything is written.
 *
 * Forward: y [B][output size] = the model's output. The arena needs the activations part of
 * the GRAD plan for batch B (tr_model_arena_size(B, 0, TR_TRAIN_GRAD) is enough). */
tr_status tr_model_forward_f32(float *y, void *arena, const float *theta, const float *x,
                               const tr_model *model, int32_t B, int32_t arena_bytes);

/* Forward, loss and backward over a batch of B samples; the gradient overwrites grad
 * [n_params] (every entry is written) and *loss is the batch's mean loss. The arena needs the
 * activations and deltas of the GRAD plan for batch B (tr_model_arena_size(B, 0,
 * TR_TRAIN_GRAD) is enough). Step order (also of the training steps below):
 *   1. forward, layer by layer: dense/conv1d write their output into their activation
 *      buffer; relu/tanh work in place on it; flatten is a reshape;
 *   2. loss and dpred with tr_mse_loss_f32 / tr_softmax_xent_loss_f32 (mean over the batch)
 *      into delta buffer 0;
 *   3. from the last layer down to the first parametric one: dense/conv1d compute
 *      (dx, dw, db) with tr_dense_backward_f32 / tr_conv1d_backward_f32 from (dy, their input,
 *      their weights), dw and db overwriting their slices of grad and dx going to the other
 *      delta buffer (not computed for the first parametric layer); relu/tanh map dy to dx in
 *      place from their output (tr_relu_backward_f32 with y for x, tr_tanh_backward_f32). */
tr_status tr_model_backward_f32(float *grad, float *loss, void *arena, const float *theta,
                                const float *x, const float *target, const int32_t *labels,
                                const tr_model *model, int32_t B, int32_t arena_bytes);

/* One SGD training step on B samples, theta updated in place; *loss (may be NULL) gets the
 * loss before the step. Whatever the mode, every parameter ends as
 *   theta[j] = theta[j] - lr*g[j]   (product rounded, then subtracted; tr_sgd_step_f32)
 * with g[j] the value tr_model_backward_f32 gives, bit for bit:
 *   GRAD   tr_model_backward_f32 into the arena's gradient buffer, then tr_sgd_step_f32;
 *   ACCUM  the gradient buffer is zeroed, then for b ascending, sample b's forward and
 *          backward add its terms to it (dw[o][i] += dy[o]*x[i], ...), so every element's
 *          sum runs over b ascending, then the kernels' own order within a sample, as in the
 *          batched kernels; the loss uses the batch's scale (2/(float)(B*output size) for
 *          mse, 1/(float)B for softmax) and one accumulator over the batch; then SGD;
 *   FUSED  (B == 1, no gradient buffer) backward as in tr_model_backward_f32, except that a
 *          parametric layer, once its dx has been computed with its old weights, updates its
 *          own weights in place: g = 0 + (the same terms in the same order as the kernel's
 *          dw/db, accumulated in a register), then theta - lr*g. Nothing reads a layer's
 *          weights after its update within the step (forward is over and the layers below do
 *          not read them), so every dx, every g and every update is the same float operation
 *          on the same operands as in GRAD.
 * The arena must hold the plan of (B, stored 0, mode) (FUSED: B == 1, else TR_ERR_PARAM). */
tr_status tr_model_train_step_f32(float *theta, float *loss, void *arena, const float *x,
                                  const float *target, const int32_t *labels,
                                  const tr_model *model, int32_t B, int32_t arena_bytes,
                                  float lr, int32_t mode);

/* TinyReptile, the device's side of a round: phi = theta, then for j = 0, 1, ..., k-1 sample j
 * (x[j], target[j] or labels[j]) is copied into the arena's one-sample buffer (as a device
 * would receive it) and one training step of batch 1 is taken on it (tr_model_train_step_f32
 * in `mode`, TR_TRAIN_FUSED or TR_TRAIN_GRAD: the same bits). phi [n_params] may be theta
 * itself (trained in place). losses [k] (may be NULL) gets each step's loss. Arena:
 * tr_model_arena_size(1, 1, mode). Labels are checked before phi is written. k >= 0 (else
 * TR_ERR_SHAPE); k = 0 is an empty round: phi = theta. */
tr_status tr_tinyreptile_device_round_f32(float *phi, float *losses, void *arena,
                                          const float *theta, const float *x,
                                          const float *target, const int32_t *labels,
                                          const tr_model *model, int32_t k,
                                          int32_t arena_bytes, float lr, int32_t mode);

/* Batched Reptile (and FedAvg), the device's side: phi = theta; the k samples are copied into
 * the arena's sample store; then for each epoch e ascending, the store is visited in the
 * order order[e][0..k-1] (each in [0, k), else TR_ERR_PARAM), in mini-batches of `batch`
 * consecutive entries (the last one smaller when batch does not divide k), one ACCUM training
 * step per mini-batch (the same bits as GRAD on the gathered mini-batch). phi may be theta.
 * losses [epochs * ceil(k / batch)] (may be NULL). Arena: tr_model_arena_size(batch, k,
 * TR_TRAIN_ACCUM). k >= 0, epochs >= 0, batch >= 1 (else TR_ERR_PARAM); k = 0 or epochs = 0
 * is an empty round: phi = theta, no loss written. */
tr_status tr_reptile_device_round_f32(float *phi, float *losses, void *arena,
                                      const float *theta, const float *x, const float *target,
                                      const int32_t *labels, const int32_t *order,
                                      const tr_model *model, int32_t k, int32_t epochs,
                                      int32_t batch, int32_t arena_bytes, float lr);

/* ---- trace of a device round, float32 ----
 *
 * What a traced round computed, record by record, through a caller-supplied hook (the
 * library itself writes nothing anywhere; without a hook nothing is recorded and nothing is
 * spent but a test per record). docs/trace-format.md is the file format built on these
 * records and tinyreptile_ref/runtime/model.py's tinyreptile_device_round_f32(trace=...) the
 * NumPy twin that makes the same records from the same inputs. Per step j, in this order:
 *   OUT  layer i's output [out shape] after layer i, for i ascending (forward);
 *   LOSS the step's loss [1] (layer -1);
 *   DOUT d loss / d (layer i's output) [out shape], for i descending from the last layer
 *        down to the first parametric one (backward; for relu/tanh before their backward);
 *   W, B a parametric layer's updated weight ([O][I] dense, [C_out][K][C_in] conv1d) and
 *        bias [O] / [C_out]: FUSED right after the layer's own update (between the DOUT
 *        records), GRAD after the SGD step (after every DOUT), for the parametric layers in
 *        descending order. Both modes give the same records, with the same bits, in these
 *        two orders. */
enum { TR_TRACE_OUT = 0, TR_TRACE_LOSS = 1, TR_TRACE_DOUT = 2, TR_TRACE_W = 3,
       TR_TRACE_B = 4 };

/* One record: data [n] = [dim[0]]...[dim[rank-1]] row-major, valid during the call only. */
typedef struct {
    int32_t step;   /* the training step within the round, from 0 */
    int32_t layer;  /* index in the layer table; -1 for the loss */
    int32_t tensor; /* TR_TRACE_OUT, ... */
    int32_t rank;   /* 1 to 3; unused dims are 1 */
    int32_t dim[3];
    int32_t n;      /* dim[0]*dim[1]*dim[2] */
    const float *data;
} tr_trace_record;

/* The hook: fn(ctx, record) for every record; fn NULL records nothing. */
typedef struct {
    void (*fn)(void *ctx, const tr_trace_record *record);
    void *ctx;
} tr_trace;

/* tr_tinyreptile_device_round_f32 with a trace (NULL: none, the same function). Modes FUSED
 * and GRAD; TR_TRAIN_ACCUM with a trace gives TR_ERR_PARAM. */
tr_status tr_tinyreptile_device_round_traced_f32(float *phi, float *losses, void *arena,
                                                 const float *theta, const float *x,
                                                 const float *target, const int32_t *labels,
                                                 const tr_model *model, int32_t k,
                                                 int32_t arena_bytes, float lr, int32_t mode,
                                                 const tr_trace *trace);

/* ------------------------------------------------- counter-based random numbers */

/* Every draw is a pure function of (seed, stream, device, round, index); rng.c gives the
 * hash. tr_rng_key names a stream; draw j of it is tr_rng_bits_u64's out[j - j0].
 * uniform: out[i] = lo + (hi - lo)*u_i, u = (bits >> 40)*2^-24 (float32, in [lo, hi];
 * lo <= hi finite, else TR_ERR_PARAM). below: out[i] = ((bits >> 32)*bound) >> 32 in
 * [0, bound), bound >= 1. distinct: m different values in [0, bound) (m <= bound), draws
 * j0, j0+1, ... each rejected if already taken; *used (may be NULL) = draws consumed.
 * permutation: Fisher-Yates on 0..n-1: for i = n-1 down to 1, swap out[i] and
 * out[below(j0 + n-1-i, i+1)]; n - 1 draws. */
tr_status tr_rng_key(uint64_t *key, uint64_t seed, uint64_t stream, uint64_t device,
                     uint64_t round);
tr_status tr_rng_bits_u64(uint64_t *out, uint64_t key, uint64_t j0, int32_t n);
tr_status tr_rng_uniform_f32(float *out, uint64_t key, uint64_t j0, int32_t n, float lo,
                             float hi);
tr_status tr_rng_below_i32(int32_t *out, uint64_t key, uint64_t j0, int32_t n, int32_t bound);
tr_status tr_rng_distinct_i32(int32_t *out, uint64_t *used, uint64_t key, uint64_t j0,
                              int32_t m, int32_t bound);
tr_status tr_rng_permutation_i32(int32_t *out, uint64_t key, uint64_t j0, int32_t n);

/* ---- device client: the wire protocol, version 1 (docs/protocol.md; client.c) ---- */

/* Protocol constants. A frame's payload is at most TR_PROTO_MAX_PAYLOAD bytes; on the wire it
 * travels as COBS(payload, CRC-32 of the payload little-endian) followed by one 0x00, at most
 * TR_PROTO_MAX_WIRE bytes. A THETA or PHI chunk holds at most TR_PROTO_CHUNK_MAX values. */
enum { TR_PROTO_VERSION = 1, TR_PROTO_MAX_PAYLOAD = 1040, TR_PROTO_MAX_WIRE = 1050,
       TR_PROTO_CHUNK_MAX = 256, TR_PROTO_MAX_CHUNKS = 1024 };

/* Message types (the first payload byte). */
enum { TR_MSG_HELLO = 0x01, TR_MSG_WHO = 0x02, TR_MSG_ROUND = 0x10, TR_MSG_THETA = 0x11,
       TR_MSG_COMMIT = 0x12, TR_MSG_RESEND = 0x13, TR_MSG_NACK = 0x20, TR_MSG_RESULT = 0x21,
       TR_MSG_PHI = 0x22, TR_MSG_DONE = 0x23, TR_MSG_ERROR = 0x7F };

/* Transports of theta and phi, algorithms, capability bits (HELLO), result statuses beyond the
 * runtime's tr_status codes. */
enum { TR_TRANSPORT_F32 = 0, TR_TRANSPORT_S8 = 1 };
enum { TR_ALGO_TINYREPTILE = 0, TR_ALGO_BATCHED = 1 };
enum { TR_CAP_F32 = 1, TR_CAP_S8 = 2, TR_CAP_TINYREPTILE = 4, TR_CAP_BATCHED = 8 };
enum { TR_RESULT_NONFINITE = -100, TR_RESULT_SAMPLES = -101 };

/* CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, initial value and final xor
 * 0xFFFFFFFF: zlib's crc32) of n bytes; n >= 0. */
tr_status tr_proto_crc32(uint32_t *crc, const uint8_t *data, int32_t n);

/* One frame on the wire: wire = COBS(payload || crc32(payload) as 4 bytes little-endian) || 0x00.
 * 1 <= n <= TR_PROTO_MAX_PAYLOAD (else TR_ERR_PARAM); cap >= the encoded size (at most
 * (n + 4) + floor((n + 4) / 254) + 2 <= TR_PROTO_MAX_WIRE; else TR_ERR_BUFFER). */
tr_status tr_proto_frame_encode(uint8_t *wire, int32_t *wire_len, const uint8_t *payload,
                                int32_t n, int32_t cap);

/* The inverse of one frame, without its 0x00 delimiter: wire [n] -> payload [*payload_len].
 * TR_ERR_FRAME when the COBS code bytes are inconsistent, a zero byte occurs, the decoded
 * body is shorter than 5 bytes or longer than TR_PROTO_MAX_PAYLOAD + 4, or the CRC differs;
 * cap >= TR_PROTO_MAX_PAYLOAD + 4 (else TR_ERR_BUFFER). Nothing is trusted before it is
 * checked against these bounds. */
tr_status tr_proto_frame_decode(uint8_t *payload, int32_t *payload_len, const uint8_t *wire,
                                int32_t n, int32_t cap);

/* The model fingerprint both sides must agree on: CRC-32 of the layer table in canonical form
 * (per layer the 13 int32 values of tr_layer in declaration order, fields the kind does not
 * use written as 0), then n_layers, n_params and loss, every int32 little-endian. The table
 * must pass tr_model_check. */
tr_status tr_model_fingerprint(uint32_t *fingerprint, const tr_model *model);

/* ------------------------------------------ whole federated runs on the sine task */

/* R rounds r = r0 .. r0+R-1 of TinyReptile, Reptile or FedAvg on the sine task in one call,
 * the same bits as the Python loop of tinyreptile_ref/federated/algorithms.py (federated.c
 * gives the order): each round the server picks meta_batch distinct devices (TinyReptile:
 * one) from its counter-based draws; each device draws its task and its k samples (and its
 * shuffles) and runs tr_tinyreptile_device_round_f32 (fused) or tr_reptile_device_round_f32
 * from theta; their phi are averaged in device order (running mean, as the server's); then
 * theta += eps[i]*(mean - theta) (FedAvg: theta = mean). Buffers: theta [n_params] in/out,
 * losses [R][M][steps] (tr_sine_run_steps), phi and mu [n_params], x and y [k], order
 * [epochs][k] (may be NULL for TinyReptile), ids [M], arena of arena_bytes (the device
 * round's plan), eps [R]. */
enum { TR_RUN_TINYREPTILE = 0, TR_RUN_REPTILE = 1, TR_RUN_FEDAVG = 2 };
typedef struct {
    uint64_t seed;
    int32_t algo;
    int32_t k;
    int32_t epochs;
    int32_t batch;
    int32_t meta_batch;
    int32_t devices;
    float lr;
} tr_sine_run;
tr_status tr_sine_run_steps(int32_t *steps, const tr_sine_run *cfg);
/* One device's part of round r (its data and its round, as above): phi [n_params], losses
 * [steps], x, y [k], order [epochs][k] (may be NULL for TinyReptile), dev in [0, devices).
 * Independent devices of a round may run in parallel threads, each with its own buffers. */
tr_status tr_sine_device_round_f32(float *phi, float *losses, float *x, float *y,
                                   int32_t *order, void *arena, const float *theta,
                                   const tr_model *model, const tr_sine_run *cfg, int32_t dev,
                                   int32_t r, int32_t arena_bytes);
tr_status tr_sine_run_rounds_f32(float *theta, float *losses, float *phi, float *mu, float *x,
                                 float *y, int32_t *order, int32_t *ids, void *arena,
                                 const tr_model *model, const tr_sine_run *cfg,
                                 const float *eps, int32_t r0, int32_t R, int32_t arena_bytes);

/* TR_CDEF_END */

/* ---- device client: the streaming decoder and the client (outside the cffi block: the
 * Python twin, tinyreptile_ref/runtime/client.py, has its own classes) ---- */

/* A streaming frame decoder: bytes in, whole payloads out. It collects bytes up to a 0x00;
 * more than TR_PROTO_MAX_WIRE bytes without a delimiter make it discard everything up to the
 * next 0x00 (resynchronisation after garbage or a lost delimiter); a frame that does not
 * decode is counted in `bad` and dropped. */
typedef struct {
    uint8_t wire[TR_PROTO_MAX_WIRE];
    int32_t len;       /* bytes collected of the current frame */
    int32_t skipping;  /* 1: discarding up to the next 0x00 */
    uint32_t frames;   /* payloads delivered */
    uint32_t bad;      /* frames dropped (COBS, CRC, length) */
} tr_proto_decoder;

tr_status tr_proto_decoder_init(tr_proto_decoder *d);

/* Feeds data[0 .. n) until one payload is complete. *used = bytes consumed; *payload_len = the
 * payload's length when one is complete (then it is in payload[cap]), else 0. Call again with
 * the rest. */
tr_status tr_proto_decoder_push(tr_proto_decoder *d, uint8_t *payload, int32_t *payload_len,
                                int32_t *used, const uint8_t *data, int32_t n, int32_t cap);

/* The port: how the client reaches the link and the device's own data. Callbacks return 0 on
 * success.
 *   write    send n bytes on the link (blocking until accepted);
 *   samples  the device's own k samples of round `round`, drawn on the device from its sensor or
 *            its generator keyed by (seed, device_id, round): x [k][input size], and target
 *            [k][output size] (mse) or labels [k] (softmax cross-entropy); order [epochs][k]
 *            (NULL for TinyReptile) the visiting order of batched Reptile. */
typedef struct {
    void *ctx;
    int32_t (*write)(void *ctx, const uint8_t *data, int32_t n);
    int32_t (*samples)(void *ctx, float *x, float *target, int32_t *labels, int32_t *order,
                       uint64_t seed, uint32_t device_id, uint32_t round, int32_t k,
                       int32_t epochs);
} tr_client_port;

/* What a device brings: its model, its buffers (all caller-provided, 4-byte aligned), its id. */
typedef struct {
    const tr_model *model;
    uint32_t device_id;
    uint32_t boot;          /* changes on every reset (a boot counter or nonce): HELLO carries it */
    uint32_t caps;          /* TR_CAP_* bits the device offers */
    float *params;          /* [n_params]: theta arrives here, is trained in place into phi */
    void *arena;            /* arena_bytes: the runtime's arena */
    int32_t arena_bytes;
    float *x;               /* [max_k][input size] */
    float *target;          /* [max_k][output size] (mse), else NULL */
    int32_t *labels;        /* [max_k] (softmax cross-entropy), else NULL */
    int32_t *order;         /* [max_epochs][max_k] for TR_CAP_BATCHED, else NULL */
    float *losses;          /* [max_steps] */
    int32_t max_k, max_epochs, max_steps;
} tr_client_config;

/* Client states. */
enum { TR_CLIENT_IDLE = 0, TR_CLIENT_RECEIVING = 1, TR_CLIENT_SENT = 2 };

typedef struct {
    tr_client_config cfg;
    tr_client_port port;
    tr_proto_decoder dec;
    uint32_t fingerprint;
    int32_t in_n, out_n;
    int32_t state;
    /* the current round (from ROUND) */
    uint32_t round_id, round, lr_bits;
    uint64_t seed;
    int32_t algo, transport, chunk, n_chunks, k, epochs, batch, n_losses, status;
    uint8_t have[TR_PROTO_MAX_CHUNKS / 8];   /* theta chunks received, one bit each */
    uint8_t rx[TR_PROTO_MAX_PAYLOAD + 4];    /* the payload being handled */
    uint8_t tx[TR_PROTO_MAX_PAYLOAD];        /* the payload being sent */
    uint8_t wire[TR_PROTO_MAX_WIRE];         /* its frame */
    uint32_t rounds_done, rejected;          /* counters */
} tr_client;

/* Checks the configuration (model, buffers large enough for every capability offered: the
 * arena for tr_tinyreptile_device_round_f32 in the fused mode and, with TR_CAP_BATCHED, for
 * tr_reptile_device_round_f32 at max_k stored samples and any batch <= max_k), computes the
 * fingerprint and sends HELLO. */
tr_status tr_client_init(tr_client *c, const tr_client_config *cfg, const tr_client_port *port);

/* Feeds bytes received from the link; every complete frame is validated and answered
 * (docs/protocol.md, "Device behaviour"). Returns TR_OK, or TR_ERR_BUFFER/TR_ERR_PARAM when the
 * port's write failed; malformed input is never an error of this call (it is counted, answered
 * with ERROR or ignored, as the protocol says). */
tr_status tr_client_feed(tr_client *c, const uint8_t *data, int32_t n);

#ifdef __cplusplus
}
#endif

#endif /* TINYREPTILE_H */
