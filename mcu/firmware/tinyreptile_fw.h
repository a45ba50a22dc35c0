/*
 * mcu/firmware/tinyreptile_fw.h - one federated run for the TinyReptile firmware image
 * (mcu/firmware/tinyreptile_fw.c): the model, R rounds of device data, the server's steps and the
 * buffers, all fixed at build time by a generated source (mcu/tools/fw_data.py writes it from the
 * golden vectors' multi-round cases).
 */
#ifndef TR_FW_H
#define TR_FW_H

#include <stdint.h>

#include "tinyreptile.h"

typedef struct {
    const char *name;        /* e.g. "sine-tinyreptile-fused" */
    tr_model model;
    int32_t mode;            /* TR_TRAIN_FUSED or _GRAD: TinyReptile; TR_TRAIN_ACCUM: Reptile */
    int32_t rounds;          /* R */
    int32_t k;               /* samples per round */
    int32_t epochs, batch;   /* Reptile's local training (unused by TinyReptile) */
    float lr;                /* the devices' learning rate */
    const float *theta0;     /* [n_params]: the server's initial theta */
    const float *x;          /* [R][k][input size]: round r's device samples */
    const float *target;     /* [R][k][output size] (mse), else NULL */
    const int32_t *labels;   /* [R][k] (softmax cross-entropy), else NULL */
    const int32_t *order;    /* [R][epochs][k] Reptile's visiting order, else NULL */
    const float *eps;        /* [R]: the server's interpolation step of each round */
    const char *expected;    /* SHA-256 (hex) of the final theta's bytes, from the vectors */
    /* RAM: the server's theta (not the device's), the device's parameter buffer and arena */
    float *server_theta;     /* [n_params] */
    float *phi;              /* [n_params] */
    float *arena;            /* [arena_bytes / 4] */
    int32_t arena_bytes;
} tr_fw_run;

extern const tr_fw_run tr_fw;

#endif /* TR_FW_H */
