/*
 * adapt.c - an exported initialization adapted to a new task on the device.
 *
 * model.h (python -m tinyreptile_ref export-model) holds the trained theta, the layer table
 * and the arena sizes; samples.h (adapt_task.py prepare) the new task: ADAPT_K support samples
 * streamed to the device and ADAPT_Q query points to measure it on. The device copies theta
 * to RAM, measures the query loss, runs ADAPT_PASSES TinyReptile device rounds over the
 * support samples (one fused SGD step per sample, tr_tinyreptile_device_round_f32, trained
 * in place), and measures the query loss again. It prints both losses with their bits; the
 * host computes the same numbers through the NumPy twin (adapt_task.py check).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "model.h"
#include "samples.h"
#include "tinyreptile.h"

static float theta[MODEL_N_PARAMS];                /* [n_params], trained in place */
static float train_arena[MODEL_ARENA_FUSED / 4];    /* tr_model_arena_size(1, 1, FUSED) */
static float forward_arena[MODEL_ARENA_FORWARD / 4]; /* tr_model_arena_size(1, 0, GRAD) */
static float pred[ADAPT_Q * MODEL_OUTPUT_SIZE];     /* [Q][output size] */
static float dpred[ADAPT_Q * MODEL_OUTPUT_SIZE];
static float step_losses[ADAPT_K];

static uint32_t bits(float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static int check(const char *what, tr_status s)
{
    if (s != TR_OK) {
        printf("adapt: %s: %s\n", what, tr_status_str(s));
        return 1;
    }
    return 0;
}

/* Mean squared error on the query points: the model's output for each point (one sample
 * at a time: outputs of a batch are independent), then tr_mse_loss_f32 over all of them. */
static int query_loss(float *loss)
{
    for (int32_t q = 0; q < ADAPT_Q; q++) {
        if (check("tr_model_forward_f32",
                  tr_model_forward_f32(&pred[q * MODEL_OUTPUT_SIZE], forward_arena, theta,
                                       &adapt_query_x.f[q * MODEL_INPUT_SIZE], &model, 1,
                                       (int32_t)sizeof forward_arena)))
            return 1;
    }
    return check("tr_mse_loss_f32", tr_mse_loss_f32(loss, dpred, pred, adapt_query_y.f,
                                                    ADAPT_Q * MODEL_OUTPUT_SIZE));
}

int main(void)
{
    float before, after;
    int32_t need;
    if (check("tr_model_arena_size", tr_model_arena_size(&need, &model, 1, 1, TR_TRAIN_FUSED)))
        return 1;
    if (need != MODEL_ARENA_FUSED) {
        printf("adapt: model.h says %d arena bytes, the library needs %ld\n", MODEL_ARENA_FUSED,
               (long)need);
        return 1;
    }
    memcpy(theta, model_theta.f, sizeof theta);
    if (query_loss(&before))
        return 1;
    for (int pass = 0; pass < ADAPT_PASSES; pass++) {
        if (check("tr_tinyreptile_device_round_f32",
                  tr_tinyreptile_device_round_f32(theta, step_losses, train_arena, theta,
                                                  adapt_support_x.f, adapt_support_y.f, NULL,
                                                  &model, ADAPT_K, (int32_t)sizeof train_arena,
                                                  ADAPT_LR, TR_TRAIN_FUSED)))
            return 1;
    }
    if (query_loss(&after))
        return 1;
    printf("adapt: %d parameters, %d support samples x %d passes (lr %.9g), %d query points\n",
           MODEL_N_PARAMS, ADAPT_K, ADAPT_PASSES, (double)ADAPT_LR, ADAPT_Q);
    printf("loss before: 0x%08lx %.9g\n", (unsigned long)bits(before), (double)before);
    printf("loss after:  0x%08lx %.9g\n", (unsigned long)bits(after), (double)after);
    return !(after < before);
}
