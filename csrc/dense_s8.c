/* dense_s8.c - fully connected layer, int8, forward (TFLite's FullyConnected and
 * FullyConnectedPerChannel, reference/integer_ops/fully_connected.h). Formulas in
 * tinyreptile.h; mirrored by tinyreptile_ref/dense_s8.py.
 *
 * TFLite passes offsets (input_offset = -x_zero_point, weights_offset = -w_zero_point,
 * output_offset = +y_zero_point); this kernel takes the zero points themselves. */
#include <stddef.h>

#include "tr_quant.h"

tr_status tr_dense_forward_s8(int8_t *y, const int8_t *x, const int8_t *w, const int32_t *bias,
                              const int32_t *multiplier, const int32_t *shift,
                              int32_t B, int32_t I, int32_t O, int32_t n_mult,
                              int32_t x_zero_point, int32_t w_zero_point, int32_t y_zero_point,
                              int32_t act_min, int32_t act_max)
{
    int32_t n;
    if (!tr__mul_ok(&n, B, I) || !tr__mul_ok(&n, O, I) || !tr__mul_ok(&n, B, O) || n_mult < 0) {
        return TR_ERR_SHAPE;
    }
    if ((n_mult != 1 && n_mult != O) ||
        !tr__s8_params_ok(x_zero_point, w_zero_point, y_zero_point, act_min, act_max) ||
        (w_zero_point != 0 && n_mult != 1)) {
        return TR_ERR_PARAM;
    }
    if (O == 0) {
        return TR_OK;
    }
    if (!bias || !multiplier || !shift) {
        return TR_ERR_NULL;
    }
    tr_status st = tr__s8_channels_ok(bias, shift, O, n_mult, I, tr__offset_range(x_zero_point),
                                      tr__offset_range(w_zero_point));
    if (st != TR_OK) {
        return st;
    }
    if (B == 0) {
        return TR_OK;
    }
    if (!y || (I > 0 && (!x || !w))) {
        return TR_ERR_NULL;
    }
    for (int32_t b = 0; b < B; b++) {
        const int8_t *xb = x + (size_t)b * (size_t)I; /* [I] */
        int8_t *yb = y + (size_t)b * (size_t)O;       /* [O] */
        for (int32_t o = 0; o < O; o++) {
            const int8_t *wo = w + (size_t)o * (size_t)I; /* [I] */
            int32_t acc = 0;
            for (int32_t i = 0; i < I; i++) {
                acc += ((int32_t)wo[i] - w_zero_point) * ((int32_t)xb[i] - x_zero_point);
            }
            acc += bias[o];
            int32_t c = n_mult == 1 ? 0 : o;
            yb[o] = tr__output_s8(acc, multiplier[c], shift[c], y_zero_point, act_min, act_max);
        }
    }
    return TR_OK;
}
