/* optim.c - updates of a flat float32 parameter buffer: SGD and Reptile interpolation.
 * Mirrored by tinyreptile_ref/optim.py. */
#include "tr_internal.h"

tr_status tr_sgd_step_f32(float *theta, const float *g, float lr, int32_t n)
{
    if (n < 0) {
        return TR_ERR_SHAPE;
    }
    if (n > 0 && (!theta || !g)) {
        return TR_ERR_NULL;
    }
    for (int32_t j = 0; j < n; j++) {
        float step = lr * g[j];
        theta[j] = theta[j] - step;
    }
    return TR_OK;
}

tr_status tr_reptile_interpolate_f32(float *theta, const float *phi, float eps, int32_t n)
{
    if (n < 0) {
        return TR_ERR_SHAPE;
    }
    if (n > 0 && (!theta || !phi)) {
        return TR_ERR_NULL;
    }
    for (int32_t j = 0; j < n; j++) {
        float d = phi[j] - theta[j];
        float step = eps * d;
        theta[j] = theta[j] + step;
    }
    return TR_OK;
}
