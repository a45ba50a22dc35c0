/*
 * tr_quant.h - the integer arithmetic shared by the int8 kernels (quant.c, dense_s8.c,
 * conv1d_s8.c); not part of the public API. Mirrored by tinyreptile_ref/quant.py.
 *
 * The three functions of TFLite's double-rounding requantization are transcribed from their
 * published sources, with two changes that keep every operation defined in C99 without
 * changing any result where the original is defined:
 *   - gemmlowp's SaturatingRoundingDoublingHighMul (fixedpoint/fixedpoint.h): verbatim;
 *   - gemmlowp's RoundingDivideByPOT: the arithmetic right shift of a negative value is
 *     implementation-defined in C99, so tr__asr computes the same floor(x / 2^e) from a
 *     non-negative operand;
 *   - TFLite's MultiplyByQuantizedMultiplier (tensorflow/lite/kernels/internal/common.cc,
 *     the double-rounding branch): x * (1 << left_shift) is formed in 64 bits; the callers
 *     have checked that it fits in int32 (tr__lshift_fits), which TFLite merely assumes.
 */
#ifndef TR_QUANT_H
#define TR_QUANT_H

#include <stdint.h>

#include "tr_internal.h"

#define TR__SHIFT_MIN (-31) /* RoundingDivideByPOT takes exponents up to 31 */
#define TR__SHIFT_MAX 30    /* 1 << left_shift must fit in int32 */

/* floor(x / 2^e) for 0 <= e <= 31: an arithmetic right shift, formed from a non-negative
 * operand (-1 - x >= 0 when x < 0, and cannot overflow, even for INT32_MIN). */
static inline int32_t tr__asr(int32_t x, int32_t e)
{
    return x >= 0 ? (int32_t)(x >> e) : (int32_t)(-1 - ((-1 - x) >> e));
}

/* gemmlowp SaturatingRoundingDoublingHighMul(a, b), int32: a*b / 2^31 rounded to nearest,
 * ties toward +inf (the nudge is 2^30 for a*b >= 0 and 1 - 2^30 below, followed by C's
 * truncating division); INT32_MIN * INT32_MIN, the one overflow, saturates to INT32_MAX. */
static inline int32_t tr__srdhm(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    int64_t ab = (int64_t)a * (int64_t)b;
    int64_t nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* gemmlowp RoundingDivideByPOT(x, e), 0 <= e <= 31: x / 2^e rounded to nearest, ties away
 * from zero. mask = 2^e - 1, remainder = x & mask, threshold = (mask >> 1) + (x < 0),
 * result = floor(x / 2^e) + (remainder > threshold). */
static inline int32_t tr__rdbpot(int32_t x, int32_t e)
{
    uint32_t mask = (uint32_t)(((uint64_t)1 << e) - 1u);
    uint32_t remainder = (uint32_t)x & mask;
    uint32_t threshold = (mask >> 1) + (x < 0 ? 1u : 0u);
    return tr__asr(x, e) + (remainder > threshold ? 1 : 0);
}

/* 1 when x * 2^max(shift, 0) fits in int32, the precondition of tr__mbqm. */
static inline int tr__lshift_fits(int32_t x, int32_t shift)
{
    if (shift <= 0) {
        return 1;
    }
    int64_t v = (int64_t)x * ((int64_t)1 << shift);
    return v >= INT32_MIN && v <= INT32_MAX;
}

/* TFLite MultiplyByQuantizedMultiplier(x, multiplier, shift), double rounding.
 * shift in [TR__SHIFT_MIN, TR__SHIFT_MAX]; x * 2^max(shift, 0) fits in int32. */
static inline int32_t tr__mbqm(int32_t x, int32_t multiplier, int32_t shift)
{
    int32_t left = shift > 0 ? shift : 0;
    int32_t right = shift > 0 ? 0 : -shift;
    int32_t xs = (int32_t)((int64_t)x * ((int64_t)1 << left));
    return tr__rdbpot(tr__srdhm(xs, multiplier), right);
}

/* The output stage of an int8 layer: clamp(MBQM(acc) + zero_point, lo, hi), the sum formed
 * in 64 bits (TFLite adds in int32, which cannot differ where TFLite's sum does not overflow). */
static inline int8_t tr__output_s8(int32_t acc, int32_t multiplier, int32_t shift,
                                   int32_t zero_point, int32_t lo, int32_t hi)
{
    int64_t v = (int64_t)tr__mbqm(acc, multiplier, shift) + zero_point;
    if (v < lo) {
        v = lo;
    }
    if (v > hi) {
        v = hi;
    }
    return (int8_t)v;
}

/* max |q - zero_point| over int8 q: the range of one offset operand. */
static inline int32_t tr__offset_range(int32_t zero_point)
{
    return zero_point >= 0 ? 128 + zero_point : 127 - zero_point;
}

/* 1 when (depth * rx * rw + |bias|) * 2^max(shift, 0) <= INT32_MAX: no partial sum of the
 * accumulator, nor the accumulator shifted left inside MBQM, can leave int32.
 * depth >= 0, 0 <= rx, rw <= 256: the product is below 2^47, exact in int64. */
static inline int tr__acc_fits(int32_t depth, int32_t rx, int32_t rw, int32_t bias, int32_t shift)
{
    int64_t bound = (int64_t)depth * rx * rw + (bias < 0 ? -(int64_t)bias : (int64_t)bias);
    int32_t left = shift > 0 ? shift : 0;
    return bound <= ((int64_t)INT32_MAX >> left);
}

/* The checks every int8 layer makes of its scalar parameters. */
static inline int tr__s8_params_ok(int32_t x_zp, int32_t w_zp, int32_t y_zp, int32_t lo, int32_t hi)
{
    return x_zp >= -128 && x_zp <= 127 && w_zp >= -128 && w_zp <= 127 && y_zp >= -128 &&
           y_zp <= 127 && lo >= -128 && hi <= 127 && lo <= hi;
}

static inline int tr__shift_ok(int32_t shift)
{
    return shift >= TR__SHIFT_MIN && shift <= TR__SHIFT_MAX;
}

/* The per-channel checks of an int8 layer with n_mult (1 or O) multipliers: every shift in
 * range (TR_ERR_PARAM) and every accumulator bound within int32 (TR_ERR_OVERFLOW). */
static inline tr_status tr__s8_channels_ok(const int32_t *bias, const int32_t *shift,
                                           int32_t O, int32_t n_mult, int32_t depth,
                                           int32_t rx, int32_t rw)
{
    for (int32_t c = 0; c < n_mult; c++) {
        if (!tr__shift_ok(shift[c])) {
            return TR_ERR_PARAM;
        }
    }
    for (int32_t o = 0; o < O; o++) {
        if (!tr__acc_fits(depth, rx, rw, bias[o], shift[n_mult == 1 ? 0 : o])) {
            return TR_ERR_OVERFLOW;
        }
    }
    return TR_OK;
}

#endif /* TR_QUANT_H */
