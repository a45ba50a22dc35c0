/* loss.c - losses with their gradients, float32: mean squared error and softmax
 * cross-entropy with integer labels. Formulas and reduction orders are stated in
 * tinyreptile.h and mirrored by tinyreptile_ref/loss.py. */
#include <stddef.h>

#include "tr_internal.h"

/* The terms of the mse accumulator for n values, added to *acc in index order;
 * dpred[j] = d*scale (dpred may be NULL). Shared with the model runtime, which feeds a batch
 * to it one sample at a time with the whole batch's scale. */
void tr__mse_terms(float *acc, float *dpred, const float *pred, const float *target, int32_t n,
                   float scale)
{
    float a = *acc;
    for (int32_t j = 0; j < n; j++) {
        float d = pred[j] - target[j];
        a += d * d;
        if (dpred) {
            dpred[j] = d * scale;
        }
    }
    *acc = a;
}

/* Row z [C] of a softmax cross-entropy over fB rows (label already checked): adds the row's
 * loss to *acc and writes g [C] = (softmax - one-hot)/fB (g may be NULL). Shared with the
 * model runtime. */
void tr__softmax_xent_row(float *acc, float *g, const float *z, int32_t label, int32_t C,
                          float fB)
{
    float m = z[0];
    for (int32_t c = 1; c < C; c++) {
        if (z[c] > m) {
            m = z[c];
        }
    }
    float s = 0.0f;
    for (int32_t c = 0; c < C; c++) {
        s += tr__expf(z[c] - m);
    }
    float loss_b = tr__logf(s) - (z[label] - m);
    *acc += loss_b;
    if (g) {
        for (int32_t c = 0; c < C; c++) {
            float p = tr__expf(z[c] - m) / s;
            if (c == label) {
                p = p - 1.0f;
            }
            g[c] = p / fB;
        }
    }
}

tr_status tr_mse_loss_f32(float *loss, float *dpred, const float *pred, const float *target,
                          int32_t n)
{
    if (n < 0) {
        return TR_ERR_SHAPE;
    }
    if (!loss || (n > 0 && (!pred || !target))) {
        return TR_ERR_NULL;
    }
    if (n == 0) {
        *loss = 0.0f;
        return TR_OK;
    }
    float fn = (float)n;
    float scale = 2.0f / fn;
    float acc = 0.0f;
    tr__mse_terms(&acc, dpred, pred, target, n, scale);
    *loss = acc / fn;
    return TR_OK;
}

tr_status tr_softmax_xent_loss_f32(float *loss, float *dlogits, const float *logits,
                                   const int32_t *labels, int32_t B, int32_t C)
{
    int32_t BC;
    if (!tr__mul_ok(&BC, B, C)) {
        return TR_ERR_SHAPE;
    }
    if (!loss || (B > 0 && !labels) || (BC > 0 && !logits)) {
        return TR_ERR_NULL;
    }
    for (int32_t b = 0; b < B; b++) {
        if (labels[b] < 0 || labels[b] >= C) {
            return TR_ERR_LABEL;
        }
    }
    if (B == 0) {
        *loss = 0.0f;
        return TR_OK;
    }
    float fB = (float)B;
    float acc = 0.0f;
    for (int32_t b = 0; b < B; b++) {
        tr__softmax_xent_row(&acc, dlogits ? dlogits + (size_t)b * (size_t)C : NULL,
                             logits + (size_t)b * (size_t)C, labels[b], C, fB);
    }
    *loss = acc / fB;
    return TR_OK;
}
