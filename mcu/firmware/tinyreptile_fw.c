/*
 * mcu/firmware/tinyreptile_fw.c - federated meta-learning on the device: R rounds of TinyReptile (or of
 * batched Reptile) from golden-vector data, then the SHA-256 of the final theta.
 *
 * Each round: the server's theta goes to the device's one parameter buffer (the radio), the
 * device trains it in place with tr_tinyreptile_device_round_f32 (k samples streamed, one
 * fused or gradient-buffer SGD step each) or tr_reptile_device_round_f32 (k samples stored,
 * epochs of mini-batches, gradient accumulation), and the server interpolates,
 * theta <- theta + eps_r (phi - theta) with tr_reptile_interpolate_f32. The samples stand for
 * the device's sensor: they are const data in flash, and the device copies each into its
 * arena (one sample for TinyReptile, the k stored samples for Reptile).
 *
 * Output (semihosting stdout), one "key: value" per line:
 *   run, rounds, samples_in_ram, batch, params_bytes, arena_bytes, stack_baseline, stack_used,
 *   theta_sha256, expected_sha256, result
 * stack_used is the high-water mark (mcu/port/stackmark.h) from reset through the training
 * rounds, measured before anything is printed; stack_baseline the same with no training.
 * Exit status 0 when the digest equals the expected one, 1 when not, 2 on a status error,
 * 71 (TR_PORT_EXIT_FPENV) when the FPU is not in the contract's mode (mcu/port/fpenv.h).
 * The same source builds on the host (stack figures 0).
 */
#include <stdio.h>
#include <string.h>

#include "fpenv.h"
#include "stackmark.h"
#include "tinyreptile_fw.h"
#include "tv.h"

static int fail(const char *what, int st)
{
    printf("result: %s failed: status %d: %s\n", what, st, tr_status_str(st));
    return 2;
}

int main(void)
{
    const tr_fw_run *c = &tr_fw;
    const tr_model *m = &c->model;
    const int32_t P = m->n_params;
    const tr_layer *first = &m->layers[0], *last = &m->layers[m->n_layers - 1];
    const int32_t in_n = first->in_dim[0] * first->in_dim[1];
    const int32_t out_n = last->out_dim[0] * last->out_dim[1];
    int32_t need = -1;
    size_t baseline, used;
    char digest[65];
    int st;
    const char *fpenv = tr_port_fpenv_problem();

    /* The numerics contract needs round to nearest, no flush-to-zero, no default NaN
     * (mcu/port/fpenv.h); the port's start-up checks too, an SDK's may not. */
    if (fpenv != NULL) {
        printf("result: refused: floating-point environment: %s\n", fpenv);
        return TR_PORT_EXIT_FPENV;
    }
    st = tr_model_arena_size(&need, m, c->mode == TR_TRAIN_ACCUM ? c->batch : 1,
                             c->mode == TR_TRAIN_ACCUM ? c->k : 1, c->mode);
    if (st != TR_OK) {
        return fail("tr_model_arena_size", st);
    }
    if (need != c->arena_bytes) {
        printf("result: the arena has %ld bytes, the plan needs %ld\n", (long)c->arena_bytes,
               (long)need);
        return 2;
    }
    memcpy(c->server_theta, c->theta0, (size_t)P * sizeof(float));

    tr_port_stack_paint();
    baseline = tr_port_stack_used();
    tr_port_stack_paint();
    for (int32_t r = 0; r < c->rounds; r++) {
        const size_t j0 = (size_t)r * (size_t)c->k; /* round r's first sample */
        const float *x = c->x + j0 * (size_t)in_n;
        const float *target = c->target ? c->target + j0 * (size_t)out_n : NULL;
        const int32_t *labels = c->labels ? c->labels + j0 : NULL;
        memcpy(c->phi, c->server_theta, (size_t)P * sizeof(float)); /* theta down */
        if (c->mode == TR_TRAIN_ACCUM) {
            const int32_t *order = c->order + (size_t)r * (size_t)c->epochs * (size_t)c->k;
            st = tr_reptile_device_round_f32(c->phi, NULL, c->arena, c->phi, x, target, labels,
                                             order, m, c->k, c->epochs, c->batch,
                                             c->arena_bytes, c->lr);
        } else {
            st = tr_tinyreptile_device_round_f32(c->phi, NULL, c->arena, c->phi, x, target,
                                                 labels, m, c->k, c->arena_bytes, c->lr,
                                                 c->mode);
        }
        if (st != TR_OK) {
            return fail("device round", st);
        }
        st = tr_reptile_interpolate_f32(c->server_theta, c->phi, c->eps[r], P); /* phi up */
        if (st != TR_OK) {
            return fail("tr_reptile_interpolate_f32", st);
        }
    }
    used = tr_port_stack_used();

    tv_sha256_hex(c->server_theta, (size_t)P * sizeof(float), digest);
    printf("run: %s\n", c->name);
    printf("rounds: %ld\n", (long)c->rounds);
    printf("samples_in_ram: %ld\n", (long)(c->mode == TR_TRAIN_ACCUM ? c->k : 1));
    printf("batch: %ld\n", (long)(c->mode == TR_TRAIN_ACCUM ? c->batch : 1));
    printf("params_bytes: %ld\n", (long)P * 4);
    printf("arena_bytes: %ld\n", (long)c->arena_bytes);
    printf("stack_baseline: %lu\n", (unsigned long)baseline);
    printf("stack_used: %lu\n", (unsigned long)used);
    printf("theta_sha256: %s\n", digest);
    printf("expected_sha256: %s\n", c->expected);
    if (strcmp(digest, c->expected) != 0) {
        printf("result: MISMATCH\n");
        return 1;
    }
    printf("result: ok\n");
    return 0;
}
