/*
 * tests/c/client_test_data.c - a fixed data source for the protocol tests' host device (the
 * client against its Python twin, tests/test_client.py): samples that depend on
 * (seed, device, round, j) by a formula the test repeats in Python, so the tests exercise the
 * protocol and the runtime without the tasks' generators.
 *   v = (seed + 31*device + 7*round + 3*j) mod 101 (integer),
 *   x[j] = (float)v / 10 - 5,  target[j] = (float)((v * 13) mod 17) / 4 - 2,
 *   labels[j] = v mod (output size), order[e][j] = (j + e + round) mod k.
 */
#include <stddef.h>

#include "device_fw.h"

int32_t tr_dev_samples_test(void *ctx, float *x, float *target, int32_t *labels, int32_t *order,
                            uint64_t seed, uint32_t device_id, uint32_t round, int32_t k,
                            int32_t epochs);

int32_t tr_dev_samples_test(void *ctx, float *x, float *target, int32_t *labels, int32_t *order,
                            uint64_t seed, uint32_t device_id, uint32_t round, int32_t k,
                            int32_t epochs)
{
    const tr_dev_image *d = (const tr_dev_image *)ctx;
    const tr_layer *first = &d->model.layers[0], *last = &d->model.layers[d->model.n_layers - 1];
    int32_t in_n = first->in_dim[0] * first->in_dim[1];
    int32_t out_n = last->out_dim[0] * last->out_dim[1];
    int32_t j, i, e;
    for (j = 0; j < k; j++) {
        uint32_t v = (uint32_t)((seed % 101u + 31u * (device_id % 101u) + 7u * (round % 101u) +
                                 3u * (uint32_t)j) % 101u);
        for (i = 0; i < in_n; i++) {
            x[j * in_n + i] = (float)v / 10.0f - 5.0f;
        }
        if (target != NULL) {
            for (i = 0; i < out_n; i++) {
                target[j * out_n + i] = (float)((v * 13u) % 17u) / 4.0f - 2.0f;
            }
        } else {
            labels[j] = (int32_t)(v % (uint32_t)out_n);
        }
    }
    for (e = 0; order != NULL && e < epochs; e++) {
        for (j = 0; j < k; j++) {
            order[e * k + j] = (int32_t)(((uint32_t)j + (uint32_t)e + round % (uint32_t)k) % (uint32_t)k);
        }
    }
    return 0;
}
