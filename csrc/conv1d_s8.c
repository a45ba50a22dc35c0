/* conv1d_s8.c - channels-last 1-D convolution, int8, forward (TFLite's ConvPerChannel,
 * reference/integer_ops/conv.h, with height 1). Formulas in tinyreptile.h; mirrored by
 * tinyreptile_ref/conv1d_s8.py.
 *
 * Taps in the padding are skipped, which is what padding with the input zero point gives
 * (x - x_zero_point = 0 there) and what TFLite does ("zero padding by omitting the areas
 * outside the image"). For one output row t the valid taps form one range [k0, k1). */
#include <stddef.h>

#include "tr_quant.h"

tr_status tr_conv1d_forward_s8(int8_t *y, const int8_t *x, const int8_t *w, const int32_t *bias,
                               const int32_t *multiplier, const int32_t *shift,
                               int32_t B, int32_t L, int32_t C_in, int32_t C_out, int32_t K,
                               int32_t n_mult, int32_t stride, int32_t dilation, int32_t padding,
                               int32_t x_zero_point, int32_t y_zero_point,
                               int32_t act_min, int32_t act_max)
{
    int32_t n, L_out, pad, depth;
    if (!tr__mul3_ok(&n, B, L, C_in) || !tr__mul3_ok(&n, C_out, K, C_in) || n_mult < 0) {
        return TR_ERR_SHAPE;
    }
    if ((n_mult != 1 && n_mult != C_out) ||
        !tr__s8_params_ok(x_zero_point, 0, y_zero_point, act_min, act_max)) {
        return TR_ERR_PARAM;
    }
    tr_status st = tr_conv1d_out_len(&L_out, &pad, L, K, stride, dilation, padding);
    if (st != TR_OK) {
        return st;
    }
    if (!tr__mul3_ok(&n, B, L_out, C_out) || !tr__mul_ok(&depth, K, C_in)) {
        return TR_ERR_SHAPE;
    }
    if (C_out == 0) {
        return TR_OK;
    }
    if (!bias || !multiplier || !shift) {
        return TR_ERR_NULL;
    }
    st = tr__s8_channels_ok(bias, shift, C_out, n_mult, depth, tr__offset_range(x_zero_point),
                            tr__offset_range(0));
    if (st != TR_OK) {
        return st;
    }
    if (B == 0 || L_out == 0) {
        return TR_OK;
    }
    if (!y || (C_in > 0 && (!x || !w))) {
        return TR_ERR_NULL;
    }
    for (int32_t b = 0; b < B; b++) {
        const int8_t *xb = x + (size_t)b * (size_t)L * (size_t)C_in; /* [L][C_in] */
        for (int32_t t = 0; t < L_out; t++) {
            /* valid taps k in [k0, k1): 0 <= t*stride + k*dilation - pad < L */
            int64_t base = (int64_t)t * stride - pad;
            int32_t k0, k1;
            tr__taps(&k0, &k1, base, dilation, K, L);
            int8_t *yt = y + ((size_t)b * (size_t)L_out + (size_t)t) * (size_t)C_out; /* [C_out] */
            for (int32_t co = 0; co < C_out; co++) {
                const int8_t *wco = w + (size_t)co * (size_t)K * (size_t)C_in; /* [K][C_in] */
                int32_t acc = 0;
                for (int32_t k = k0; k < k1; k++) {
                    const int8_t *xp = xb + (size_t)(base + k * dilation) * (size_t)C_in; /* [C_in] */
                    const int8_t *wk = wco + (size_t)k * (size_t)C_in;                  /* [C_in] */
                    for (int32_t ci = 0; ci < C_in; ci++) {
                        acc += (int32_t)wk[ci] * ((int32_t)xp[ci] - x_zero_point);
                    }
                }
                acc += bias[co];
                int32_t c = n_mult == 1 ? 0 : co;
                yt[co] = tr__output_s8(acc, multiplier[c], shift[c], y_zero_point, act_min,
                                       act_max);
            }
        }
    }
    return TR_OK;
}
