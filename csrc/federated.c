/* federated.c - whole federated runs on the sine task in one call: R rounds of device
 * selection, the devices' data, their rounds and the server's aggregation.
 *
 * The reference is the readable Python loop of tinyreptile_ref/federated/algorithms.py (with
 * tasks.py's sine family); this file performs the same draws (rng.c), the same float32
 * operations and the same kernel calls in the same order, so theta has the same bits (tested
 * for every algorithm). Stream numbers are algorithms.py's KEY_* values. */
#include "tr_internal.h"

#define TR__KEY_SERVER 1u
#define TR__KEY_DEVICE_TASK 2u
#define TR__KEY_DEVICE_DATA 3u
#define TR__TWO_PI_F 0x1.921fb6p2f /* 2pi rounded to float32: the phase range's end */

static float tr__uniform(uint64_t key, uint64_t j, float lo, float hi)
{
    float u = (float)(uint32_t)(tr__rng_bits(key, j) >> 40) * 0x1p-24f;
    return lo + (hi - lo) * u;
}

/* Draws j0.. of `key`, as tr_rng_below_i32 (bound >= 1). */
static int32_t tr__below(uint64_t key, uint64_t j, int32_t bound)
{
    return (int32_t)(((tr__rng_bits(key, j) >> 32) * (uint64_t)bound) >> 32);
}

/* Device `dev`'s data in round r: x[j] = U(-5, 5) (draw j), y[j] = A*sin(x[j] + p) with the
 * device's task A = U(0.1, 5), p = U(0, 2pi_f) (draws 0 and 1 of its task stream); for the
 * batched algorithms, epoch e's shuffle is the permutation at draw k + e*(k - 1). */
static void tr__sine_device_data(float *x, float *y, int32_t *order, uint64_t seed,
                                 int32_t dev, int32_t r, int32_t k, int32_t epochs)
{
    uint64_t tkey, dkey;
    (void)tr_rng_key(&tkey, seed, TR__KEY_DEVICE_TASK, (uint64_t)dev, 0u);
    (void)tr_rng_key(&dkey, seed, TR__KEY_DEVICE_DATA, (uint64_t)dev, (uint64_t)r);
    float a = tr__uniform(tkey, 0u, 0.1f, 5.0f);
    float p = tr__uniform(tkey, 1u, 0.0f, TR__TWO_PI_F);
    for (int32_t j = 0; j < k; j++) {
        x[j] = tr__uniform(dkey, (uint64_t)j, -5.0f, 5.0f);
        y[j] = a * tr__sinf(x[j] + p);
    }
    for (int32_t e = 0; e < epochs && order; e++) {
        (void)tr_rng_permutation_i32(order + (size_t)e * (size_t)k, dkey,
                                     (uint64_t)k + (uint64_t)e * (uint64_t)(k - 1), k);
    }
}

tr_status tr_sine_run_steps(int32_t *steps, const tr_sine_run *cfg)
{
    if (!steps || !cfg) {
        return TR_ERR_NULL;
    }
    if (cfg->algo < 0 || cfg->algo > 2 || cfg->k < 1 || cfg->epochs < 1 || cfg->batch < 1
        || cfg->meta_batch < 1 || cfg->devices < 1) {
        return TR_ERR_PARAM;
    }
    if (cfg->algo == TR_RUN_TINYREPTILE) {
        *steps = cfg->k;
        return TR_OK;
    }
    int32_t b = cfg->batch < cfg->k ? cfg->batch : cfg->k;
    int32_t per_epoch = cfg->k / b + (cfg->k % b != 0);
    if (!tr__mul_ok(steps, cfg->epochs, per_epoch)) {
        return TR_ERR_PARAM;
    }
    return TR_OK;
}

tr_status tr_sine_device_round_f32(float *phi, float *losses, float *x, float *y,
                                   int32_t *order, void *arena, const float *theta,
                                   const tr_model *model, const tr_sine_run *cfg, int32_t dev,
                                   int32_t r, int32_t arena_bytes)
{
    int32_t steps = 0;
    tr_status st = tr_sine_run_steps(&steps, cfg);
    if (st != TR_OK) {
        return st;
    }
    if (dev < 0 || dev >= cfg->devices || r < 0) {
        return TR_ERR_PARAM;
    }
    if (!phi || !losses || !x || !y || !arena || !theta || !model
        || (cfg->algo != TR_RUN_TINYREPTILE && !order)) {
        return TR_ERR_NULL;
    }
    int32_t batch = cfg->batch < cfg->k ? cfg->batch : cfg->k;
    tr__sine_device_data(x, y, order, cfg->seed, dev, r, cfg->k,
                         cfg->algo == TR_RUN_TINYREPTILE ? 0 : cfg->epochs);
    if (cfg->algo == TR_RUN_TINYREPTILE) {
        return tr_tinyreptile_device_round_f32(phi, losses, arena, theta, x, y, NULL, model,
                                               cfg->k, arena_bytes, cfg->lr, TR_TRAIN_FUSED);
    }
    return tr_reptile_device_round_f32(phi, losses, arena, theta, x, y, NULL, order, model,
                                       cfg->k, cfg->epochs, batch, arena_bytes, cfg->lr);
}

tr_status tr_sine_run_rounds_f32(float *theta, float *losses, float *phi, float *mu, float *x,
                                 float *y, int32_t *order, int32_t *ids, void *arena,
                                 const tr_model *model, const tr_sine_run *cfg,
                                 const float *eps, int32_t r0, int32_t R, int32_t arena_bytes)
{
    int32_t steps = 0;
    tr_status st = tr_sine_run_steps(&steps, cfg);
    if (st != TR_OK) {
        return st;
    }
    if (R < 0 || r0 < 0 || r0 > INT32_MAX - R) {
        return TR_ERR_PARAM;
    }
    if (!theta || !losses || !phi || !mu || !x || !y || !ids || !arena || !model || !eps
        || (cfg->algo != TR_RUN_TINYREPTILE && !order)) {
        return TR_ERR_NULL;
    }
    int32_t M = cfg->algo == TR_RUN_TINYREPTILE ? 1 : cfg->meta_batch;
    if (M > cfg->devices) {
        return TR_ERR_PARAM;
    }
    size_t P = (size_t)(model->n_params > 0 ? model->n_params : 0);
    for (int32_t i = 0; i < R; i++) {
        int32_t r = r0 + i;
        uint64_t skey;
        (void)tr_rng_key(&skey, cfg->seed, TR__KEY_SERVER, 0u, (uint64_t)r);
        if (M == 1) {
            ids[0] = tr__below(skey, 0u, cfg->devices);
        } else {
            (void)tr_rng_distinct_i32(ids, NULL, skey, 0u, M, cfg->devices);
        }
        for (int32_t m = 0; m < M; m++) {
            float *out = m == 0 ? mu : phi; /* device 0 starts the running mean */
            float *lo = losses + ((size_t)i * (size_t)M + (size_t)m) * (size_t)steps;
            st = tr_sine_device_round_f32(out, lo, x, y, order, arena, theta, model, cfg, ids[m],
                                          r, arena_bytes);
            if (st != TR_OK) {
                return st;
            }
            if (m > 0) { /* mu += (1/(m+1)) (phi - mu) with 1/(m+1) rounded to float32: the
                            * float32 division equals the server's float32(1.0/(m+1)) from
                            * float64, since 1/n is never that close to a float32 tie for
                            * n < 2^28 (and M <= devices keeps n small) */
                (void)tr_reptile_interpolate_f32(mu, phi, 1.0f / (float)(m + 1), (int32_t)P);
            }
        }
        if (cfg->algo == TR_RUN_FEDAVG) {
            memcpy(theta, mu, P * sizeof *theta);
        } else {
            (void)tr_reptile_interpolate_f32(theta, mu, eps[i], (int32_t)P);
        }
    }
    return TR_OK;
}
