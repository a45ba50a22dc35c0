/* quant.c - requantization, quantize/dequantize, quantized transport of float32 vectors, and
 * the SGD and Reptile updates of int8 weights. Formulas are stated in tinyreptile.h and
 * mirrored by tinyreptile_ref/quant.py; the integer arithmetic lives in tr_quant.h. */
#include <stddef.h>

#include "tr_quant.h"

/* 127 * s is finite for every float32 s <= this value, and infinite for the next one up. */
#define TR__TRANSPORT_MAX_SCALE 0x1.020406p+121f
#define TR__F32_MIN_SUBNORMAL 0x1p-149f

/* round(v) half away from zero (TfLiteRound), saturated to [-1024, 1024]; NaN gives 0.
 * For |v| <= 1024 the truncation (int32_t)v is defined and v - t is exact. */
static int32_t tr__round_sat(float v)
{
    if (!(v == v)) {
        return 0;
    }
    if (v >= 1024.0f) {
        return 1024;
    }
    if (v <= -1024.0f) {
        return -1024;
    }
    int32_t t = (int32_t)v;
    float f = v - (float)t;
    if (f >= 0.5f) {
        return t + 1;
    }
    if (f <= -0.5f) {
        return t - 1;
    }
    return t;
}

/* clamp(round(x / scale) + zero_point, lo, 127); lo is -128, or -127 for the symmetric code. */
static int8_t tr__quantize_one(float x, float scale, int32_t zero_point, int32_t lo)
{
    int32_t r = tr__round_sat(x / scale) + zero_point;
    return (int8_t)(r < lo ? lo : (r > 127 ? 127 : r));
}

static int tr__finite(float v)
{
    return v == v && v - v == 0.0f;
}

tr_status tr_multiply_by_quantized_multiplier_s32(int32_t *y, const int32_t *x,
                                                  const int32_t *multiplier, const int32_t *shift,
                                                  int32_t n, int32_t C)
{
    int32_t total;
    if (!tr__mul_ok(&total, n, C)) {
        return TR_ERR_SHAPE;
    }
    if (C > 0 && (!multiplier || !shift)) {
        return TR_ERR_NULL;
    }
    for (int32_t c = 0; c < C; c++) {
        if (!tr__shift_ok(shift[c])) {
            return TR_ERR_PARAM;
        }
    }
    if (total == 0) {
        return TR_OK;
    }
    if (!y || !x) {
        return TR_ERR_NULL;
    }
    for (int32_t j = 0; j < n; j++) {
        const int32_t *xj = x + (size_t)j * (size_t)C; /* [C] */
        for (int32_t c = 0; c < C; c++) {
            if (!tr__lshift_fits(xj[c], shift[c])) {
                return TR_ERR_OVERFLOW;
            }
        }
    }
    for (int32_t j = 0; j < n; j++) {
        const int32_t *xj = x + (size_t)j * (size_t)C; /* [C] */
        int32_t *yj = y + (size_t)j * (size_t)C;       /* [C] */
        for (int32_t c = 0; c < C; c++) {
            yj[c] = tr__mbqm(xj[c], multiplier[c], shift[c]);
        }
    }
    return TR_OK;
}

tr_status tr_quantize_s8(int8_t *q, const float *x, int32_t n, float scale, int32_t zero_point)
{
    if (n < 0) {
        return TR_ERR_SHAPE;
    }
    if (!tr__finite(scale) || !(scale > 0.0f) || zero_point < -128 || zero_point > 127) {
        return TR_ERR_PARAM;
    }
    if (n > 0 && (!q || !x)) {
        return TR_ERR_NULL;
    }
    for (int32_t j = 0; j < n; j++) {
        q[j] = tr__quantize_one(x[j], scale, zero_point, -128);
    }
    return TR_OK;
}

tr_status tr_dequantize_s8(float *x, const int8_t *q, int32_t n, float scale, int32_t zero_point)
{
    if (n < 0) {
        return TR_ERR_SHAPE;
    }
    if (!tr__finite(scale) || zero_point < -128 || zero_point > 127) {
        return TR_ERR_PARAM;
    }
    if (n > 0 && (!q || !x)) {
        return TR_ERR_NULL;
    }
    for (int32_t j = 0; j < n; j++) {
        x[j] = scale * (float)((int32_t)q[j] - zero_point);
    }
    return TR_OK;
}

tr_status tr_transport_quantize_s8(int8_t *q, float *scale, const float *x, int32_t n,
                                   int32_t chunk)
{
    if (n < 0) {
        return TR_ERR_SHAPE;
    }
    if (chunk < 1) {
        return TR_ERR_PARAM;
    }
    if (n == 0) {
        return TR_OK;
    }
    if (!q || !scale || !x) {
        return TR_ERR_NULL;
    }
    for (int32_t j = 0; j < n; j++) {
        if (!tr__finite(x[j])) {
            return TR_ERR_PARAM;
        }
    }
    for (int32_t c = 0, j0 = 0; j0 < n; c++) {
        int32_t j1 = n - j0 > chunk ? j0 + chunk : n; /* this chunk: [j0, j1) */
        float m = 0.0f;
        for (int32_t j = j0; j < j1; j++) {
            float a = x[j] < 0.0f ? -x[j] : x[j];
            if (a > m) {
                m = a;
            }
        }
        float s = m / 127.0f;
        if (m > 0.0f && s == 0.0f) {
            s = TR__F32_MIN_SUBNORMAL;
        }
        if (s > TR__TRANSPORT_MAX_SCALE) {
            s = TR__TRANSPORT_MAX_SCALE;
        }
        scale[c] = s;
        for (int32_t j = j0; j < j1; j++) {
            q[j] = m > 0.0f ? tr__quantize_one(x[j], s, 0, -127) : 0;
        }
        j0 = j1;
    }
    return TR_OK;
}

tr_status tr_transport_dequantize_s8(float *x, const int8_t *q, const float *scale, int32_t n,
                                     int32_t chunk)
{
    if (n < 0) {
        return TR_ERR_SHAPE;
    }
    if (chunk < 1) {
        return TR_ERR_PARAM;
    }
    if (n > 0 && (!x || !q || !scale)) {
        return TR_ERR_NULL;
    }
    for (int32_t c = 0, j0 = 0; j0 < n; c++) {
        int32_t j1 = n - j0 > chunk ? j0 + chunk : n;
        float s = scale[c];
        for (int32_t j = j0; j < j1; j++) {
            x[j] = s * (float)q[j];
        }
        j0 = j1;
    }
    return TR_OK;
}

static int8_t tr__sat8(int64_t v)
{
    return (int8_t)(v < -128 ? -128 : (v > 127 ? 127 : v));
}

tr_status tr_sgd_step_s8(int8_t *theta, const int32_t *g, int32_t n, int32_t multiplier,
                         int32_t shift)
{
    if (n < 0) {
        return TR_ERR_SHAPE;
    }
    if (!tr__shift_ok(shift)) {
        return TR_ERR_PARAM;
    }
    if (n > 0 && (!theta || !g)) {
        return TR_ERR_NULL;
    }
    for (int32_t j = 0; j < n; j++) {
        if (!tr__lshift_fits(g[j], shift)) {
            return TR_ERR_OVERFLOW;
        }
    }
    for (int32_t j = 0; j < n; j++) {
        int32_t step = tr__mbqm(g[j], multiplier, shift);
        theta[j] = tr__sat8((int64_t)theta[j] - step);
    }
    return TR_OK;
}

tr_status tr_reptile_interpolate_s8(int8_t *theta, const int8_t *phi, int32_t n,
                                    int32_t multiplier, int32_t shift)
{
    if (n < 0) {
        return TR_ERR_SHAPE;
    }
    if (!tr__shift_ok(shift)) {
        return TR_ERR_PARAM;
    }
    if (n > 0 && (!theta || !phi)) {
        return TR_ERR_NULL;
    }
    for (int32_t j = 0; j < n; j++) {
        if (!tr__lshift_fits((int32_t)phi[j] - theta[j], shift)) {
            return TR_ERR_OVERFLOW;
        }
    }
    for (int32_t j = 0; j < n; j++) {
        int32_t step = tr__mbqm((int32_t)phi[j] - theta[j], multiplier, shift);
        theta[j] = tr__sat8((int64_t)theta[j] + step);
    }
    return TR_OK;
}
