/*
 * mcu/firmware/device_fw.h - a TinyReptile device on a link: the device client of csrc/client.c
 * (wire protocol v1, docs/protocol.md) with the device's model, buffers and own data source, and
 * the link port it runs on (mcu/port/link_uart.c on the MCU, mcu/port/link_host.c on a host).
 * The model and the buffers come from a generated source (mcu/tools/device_gen.py).
 */
#ifndef TR_DEVICE_FW_H
#define TR_DEVICE_FW_H

#include <stdint.h>

#include "tinyreptile.h"

/* The device image: its model, the buffers sized for it, its data source (the task). */
typedef struct {
    const char *task;        /* "sine" */
    tr_model model;
    float *params;           /* [n_params] */
    float *arena;            /* [arena_bytes / 4] */
    int32_t arena_bytes;
    float *x;                /* [max_k][input size] */
    float *target;           /* [max_k][output size] (mse), else NULL */
    int32_t *labels;         /* [max_k] (softmax cross-entropy), else NULL */
    int32_t *order;          /* [max_epochs][max_k] */
    float *losses;           /* [max_steps] */
    int32_t max_k, max_epochs, max_steps;
    uint32_t caps;           /* TR_CAP_* */
    const void *task_data;   /* the data source's own constants (digits: tr_dev_digits), or NULL */
    /* the device's own samples (tr_client_port.samples); ctx is this image */
    int32_t (*samples)(void *ctx, float *x, float *target, int32_t *labels, int32_t *order,
                       uint64_t seed, uint32_t device_id, uint32_t round, int32_t k,
                       int32_t epochs);
} tr_dev_image;

extern const tr_dev_image tr_dev;

/* The digits device's images in flash: its training pool, class by class (the seed's split),
 * pixels 0..16 (the image's value is pixel / 16), 8 rows x 8 columns each. */
typedef struct {
    const uint8_t *pixels;       /* [n_images][64] */
    int32_t pool_start[10];      /* first image of class c */
    int32_t pool_size[10];       /* images of class c */
    int32_t ways;                /* classes per task */
} tr_dev_digits;

/* The data sources (mcu/firmware/device_data.c). */
int32_t tr_dev_samples_digits(void *ctx, float *x, float *target, int32_t *labels,
                              int32_t *order, uint64_t seed, uint32_t device_id, uint32_t round,
                              int32_t k, int32_t epochs);
int32_t tr_dev_samples_sine(void *ctx, float *x, float *target, int32_t *labels, int32_t *order,
                            uint64_t seed, uint32_t device_id, uint32_t round, int32_t k,
                            int32_t epochs);

/* The link port. tr_link_open fills the device id and the boot value (from the emulator's
 * command line or the host process's environment) and returns 0.
 * tr_link_read blocks until at least one byte arrived and returns how many (at most cap), or
 * a negative number when the link is closed; tr_link_write sends n bytes, 0 on success. */
typedef struct {
    uint32_t device_id;
    uint32_t boot;
} tr_link_args;

int32_t tr_link_open(tr_link_args *args);
int32_t tr_link_read(uint8_t *buf, int32_t cap);
int32_t tr_link_write(void *ctx, const uint8_t *data, int32_t n);
void tr_link_close(int32_t status);
/* One line on the device's console (never the link): a trained round's id, status, stack. */
void tr_link_log(uint32_t round_id, int32_t status, uint32_t stack_used);

#endif /* TR_DEVICE_FW_H */
