/*
 * mcu/firmware/device_data.c - the devices' own data: each device draws its samples on the
 * device, with the library's counter-based generator (csrc/rng.c) and its own sin (mathf.c),
 * keyed by (seed, device id, round), so the simulation (tinyreptile_ref/federated/tasks.py)
 * computes the same bits and nothing but theta, phi and control crosses the link.
 *
 * Sine (tasks.Sine, algorithms.device_task / device_rng), all float32:
 *   task of device d: stream (seed, KEY_DEVICE_TASK = 2, d, 0):
 *       A = uniform(0.1, 5) (draw 0), p = uniform(0, 2pi_f) (draw 1), 2pi_f = 0x1.921fb6p+2;
 *   samples of round r: stream (seed, KEY_DEVICE_DATA = 3, d, r):
 *       x[j] = uniform(-5, 5) (draw j, j < k), target[j] = A * sin(x[j] + p);
 *   batched Reptile's visiting order: epoch e is a Fisher-Yates permutation of 0..k-1 from
 *       draws k + e*(k-1) on (tr_rng_permutation_i32), as rng.permutation(k) per epoch.
 *
 * Digits (tasks.Digits, DigitsTask), the device's training pool in flash (tr_dev_digits):
 *   task of device d: stream (seed, KEY_DEVICE_TASK, d, 0): `ways` distinct classes of 10
 *       (tr_rng_distinct_i32 from draw 0); label j means class classes[j];
 *   samples of round r: stream (seed, KEY_DEVICE_DATA, d, r): labels[j] = below(ways) (draw j),
 *       then image w_j = below(pool size of the label's class) (draw k + j) of that class's
 *       pool; x[j] = its pixels / 16;
 *   batched order: permutations from draw 2k on, k - 1 draws each.
 */
#include <stddef.h>

#include "device_fw.h"

enum { TR_DEV_KEY_DEVICE_TASK = 2, TR_DEV_KEY_DEVICE_DATA = 3 };

int32_t tr_dev_samples_sine(void *ctx, float *x, float *target, int32_t *labels, int32_t *order,
                            uint64_t seed, uint32_t device_id, uint32_t round, int32_t k,
                            int32_t epochs)
{
    uint64_t task_key, data_key;
    float ap[2];
    int32_t j, e;
    (void)ctx;
    (void)labels;
    if (tr_rng_key(&task_key, seed, TR_DEV_KEY_DEVICE_TASK, device_id, 0) != TR_OK ||
        tr_rng_uniform_f32(&ap[0], task_key, 0, 1, 0x1.99999ap-4f, 5.0f) != TR_OK ||
        tr_rng_uniform_f32(&ap[1], task_key, 1, 1, 0.0f, 0x1.921fb6p+2f) != TR_OK ||
        tr_rng_key(&data_key, seed, TR_DEV_KEY_DEVICE_DATA, device_id, round) != TR_OK ||
        tr_rng_uniform_f32(x, data_key, 0, k, -5.0f, 5.0f) != TR_OK) {
        return -1;
    }
    for (j = 0; j < k; j++) {
        target[j] = x[j] + ap[1];
    }
    if (tr_sin_f32(target, target, k) != TR_OK) {
        return -1;
    }
    for (j = 0; j < k; j++) {
        target[j] = ap[0] * target[j];
    }
    for (e = 0; order != NULL && e < epochs; e++) {
        if (tr_rng_permutation_i32(order + e * k, data_key, (uint64_t)k + (uint64_t)e * (uint64_t)(k - 1), k) != TR_OK) {
            return -1;
        }
    }
    return 0;
}

int32_t tr_dev_samples_digits(void *ctx, float *x, float *target, int32_t *labels,
                              int32_t *order, uint64_t seed, uint32_t device_id, uint32_t round,
                              int32_t k, int32_t epochs)
{
    const tr_dev_image *d = (const tr_dev_image *)ctx;
    const tr_dev_digits *g = (const tr_dev_digits *)d->task_data;
    uint64_t task_key, data_key;
    int32_t classes[10];
    int32_t j, i, e;
    (void)target;
    if (g == NULL || g->ways < 1 || g->ways > 10 ||
        tr_rng_key(&task_key, seed, TR_DEV_KEY_DEVICE_TASK, device_id, 0) != TR_OK ||
        tr_rng_distinct_i32(classes, NULL, task_key, 0, g->ways, 10) != TR_OK ||
        tr_rng_key(&data_key, seed, TR_DEV_KEY_DEVICE_DATA, device_id, round) != TR_OK ||
        tr_rng_below_i32(labels, data_key, 0, k, g->ways) != TR_OK) {
        return -1;
    }
    for (j = 0; j < k; j++) {
        int32_t c = classes[labels[j]], w;
        const uint8_t *px;
        if (g->pool_size[c] < 1 ||
            tr_rng_below_i32(&w, data_key, (uint64_t)k + (uint64_t)j, 1, g->pool_size[c]) != TR_OK) {
            return -1;
        }
        px = g->pixels + 64 * (g->pool_start[c] + w);
        for (i = 0; i < 64; i++) {
            x[64 * j + i] = (float)px[i] / 16.0f;
        }
    }
    for (e = 0; order != NULL && e < epochs; e++) {
        if (tr_rng_permutation_i32(order + e * k, data_key,
                                   2u * (uint64_t)k + (uint64_t)e * (uint64_t)(k - 1), k) != TR_OK) {
            return -1;
        }
    }
    return 0;
}
