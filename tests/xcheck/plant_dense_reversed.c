/* tests/xcheck/plant_dense_reversed.c - a planted fault for xcheck's tests: the dense forward
 * summing over i DESCENDING (the contract says ascending). Linked with csrc/dense.c compiled
 * with -Dtr_dense_forward_f32=tr__plant_unused_dense_forward_f32, so callers land here. */
#include <stddef.h>

#include "tinyreptile.h"

tr_status tr_dense_forward_f32(float *y, const float *x, const float *w, const float *bias,
                               int32_t B, int32_t I, int32_t O)
{
    if (B < 0 || I < 0 || O < 0) {
        return TR_ERR_SHAPE;
    }
    for (int32_t b = 0; b < B; b++) {
        for (int32_t o = 0; o < O; o++) {
            const float *wo = w + (size_t)o * (size_t)I;
            float acc = bias[o];
            for (int32_t i = I - 1; i >= 0; i--) {
                acc += wo[i] * x[(size_t)b * (size_t)I + (size_t)i];
            }
            y[(size_t)b * (size_t)O + (size_t)o] = acc;
        }
    }
    return TR_OK;
}
