/* activation.c - elementwise activations, float32, forward and backward: ReLU and tanh.
 * Formulas are stated in tinyreptile.h and mirrored by tinyreptile_ref/activation.py. */
#include "tr_internal.h"

tr_status tr_relu_forward_f32(float *y, const float *x, int32_t n)
{
    if (n < 0) {
        return TR_ERR_SHAPE;
    }
    if (n > 0 && (!y || !x)) {
        return TR_ERR_NULL;
    }
    for (int32_t j = 0; j < n; j++) {
        float v = x[j];
        y[j] = v < 0.0f ? 0.0f : v;
    }
    return TR_OK;
}

tr_status tr_relu_backward_f32(float *dx, const float *dy, const float *x, int32_t n)
{
    if (n < 0) {
        return TR_ERR_SHAPE;
    }
    if (n > 0 && (!dx || !dy || !x)) {
        return TR_ERR_NULL;
    }
    for (int32_t j = 0; j < n; j++) {
        float g = dy[j];
        dx[j] = x[j] > 0.0f ? g : 0.0f;
    }
    return TR_OK;
}

tr_status tr_tanh_forward_f32(float *y, const float *x, int32_t n)
{
    return tr_tanh_f32(y, x, n); /* the activation is mathf.c's tanh, elementwise */
}

tr_status tr_tanh_backward_f32(float *dx, const float *dy, const float *y, int32_t n)
{
    if (n < 0) {
        return TR_ERR_SHAPE;
    }
    if (n > 0 && (!dx || !dy || !y)) {
        return TR_ERR_NULL;
    }
    for (int32_t j = 0; j < n; j++) {
        float yy = y[j] * y[j];
        float u = 1.0f - yy;
        dx[j] = dy[j] * u;
    }
    return TR_OK;
}
