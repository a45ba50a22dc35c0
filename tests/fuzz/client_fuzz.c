/*
 * tests/fuzz/client_fuzz.c - libFuzzer on the device client (csrc/client.c): every input goes
 * to a fresh client as bytes from the link, and to the one-frame decoder. Whatever the input,
 * the client must not crash, read or write out of bounds (ASan), hit undefined behaviour
 * (UBSan), or send a frame that does not decode; a round it trains is on a tiny model.
 *
 * Input: every zero-delimited piece after byte 0 also goes to tr_proto_frame_decode alone.
 * Byte 0 picks the mode. Even: the rest is raw link bytes. Odd: the rest is a list of
 * payloads, each [length byte][payload], which the harness frames with a valid CRC (so the
 * fuzzer reaches the message handlers, not only the CRC check); with bit 1 of byte 0 set, a
 * ROUND payload gets the client's model fingerprint (so rounds are accepted and trained).
 *
 *   clang -std=c99 -fsanitize=fuzzer,address,undefined -Icsrc tests/fuzz/client_fuzz.c csrc/ *.c
 */
#include <stdlib.h>
#include <string.h>

#include "tinyreptile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 1-4-1 with tanh, mse: 13 parameters. */
static const tr_layer fz_layers[3] = {
    {TR_LAYER_DENSE, 1, {1, 1}, 1, {4, 1}, 0, 4, 0, 0, 0, 0},
    {TR_LAYER_TANH, 1, {4, 1}, 1, {4, 1}, 0, 0, 0, 0, 0, 0},
    {TR_LAYER_DENSE, 1, {4, 1}, 1, {1, 1}, 8, 12, 0, 0, 0, 0},
};
static const tr_model fz_model = {fz_layers, 3, 13, TR_LOSS_MSE};

static int32_t fz_write(void *ctx, const uint8_t *wire, int32_t n)
{
    static uint8_t payload[TR_PROTO_MAX_PAYLOAD + 4];
    int32_t len;
    (void)ctx;
    /* every frame the client sends is one whole, valid frame */
    if (n < 2 || wire[n - 1] != 0 || memchr(wire, 0, (size_t)(n - 1)) != NULL ||
        tr_proto_frame_decode(payload, &len, wire, n - 1, (int32_t)sizeof payload) != TR_OK ||
        len < 1) {
        abort();
    }
    return 0;
}

static int32_t fz_samples(void *ctx, float *x, float *target, int32_t *labels, int32_t *order,
                          uint64_t seed, uint32_t device_id, uint32_t round, int32_t k,
                          int32_t epochs)
{
    int32_t j, e;
    (void)ctx;
    (void)labels;
    (void)device_id;
    for (j = 0; j < k; j++) {
        x[j] = (float)((seed + round + (uint64_t)j) % 11u) - 5.0f;
        target[j] = 0.5f * x[j];
    }
    for (e = 0; order != NULL && e < epochs; e++) {
        for (j = 0; j < k; j++) {
            order[e * k + j] = (j + e) % k;
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tr_client client;
    static float params[13], x[16], target[16], losses[64], arena[512];
    static int32_t order[64];
    static uint8_t payload[TR_PROTO_MAX_PAYLOAD + 4], wire[TR_PROTO_MAX_WIRE];
    tr_client_config cfg;
    tr_client_port port = {NULL, fz_write, fz_samples};
    int32_t len;

    memset(&cfg, 0, sizeof cfg);
    cfg.model = &fz_model;
    cfg.device_id = 7;
    cfg.boot = 1;
    cfg.caps = TR_CAP_F32 | TR_CAP_S8 | TR_CAP_TINYREPTILE | TR_CAP_BATCHED;
    cfg.params = params;
    cfg.arena = arena;
    cfg.arena_bytes = (int32_t)sizeof arena;
    cfg.x = x;
    cfg.target = target;
    cfg.order = order;
    cfg.losses = losses;
    cfg.max_k = 16;
    cfg.max_epochs = 4;
    cfg.max_steps = 64;
    if (tr_client_init(&client, &cfg, &port) != TR_OK) {
        abort();
    }
    if (size == 0) {
        return 0;
    }
    {
        /* the one-frame decoder on every zero-delimited piece, as a receiver would cut them */
        size_t i = 1, start = 1;
        for (; i <= size; i++) {
            if (i == size || data[i] == 0) {
                if (i - start <= (size_t)TR_PROTO_MAX_WIRE) {
                    (void)tr_proto_frame_decode(payload, &len, data + start, (int32_t)(i - start),
                                                (int32_t)sizeof payload);
                }
                start = i + 1;
            }
        }
    }
    if ((data[0] & 1u) == 0) {
        if (tr_client_feed(&client, data + 1, (int32_t)(size - 1)) != TR_OK) {
            abort();
        }
        return 0;
    }
    {
        size_t i = 1;
        while (i < size) {
            size_t n = data[i++];
            if (n == 0 || i + n > size) {
                break;
            }
            memcpy(payload, data + i, n);
            if ((data[0] & 2u) && payload[0] == TR_MSG_ROUND && n >= 21) {
                payload[17] = (uint8_t)(client.fingerprint & 0xFFu);
                payload[18] = (uint8_t)((client.fingerprint >> 8) & 0xFFu);
                payload[19] = (uint8_t)((client.fingerprint >> 16) & 0xFFu);
                payload[20] = (uint8_t)(client.fingerprint >> 24);
            }
            i += n;
            if (tr_proto_frame_encode(wire, &len, payload, (int32_t)n, (int32_t)sizeof wire) != TR_OK ||
                tr_client_feed(&client, wire, len) != TR_OK) {
                abort();
            }
        }
    }
    return 0;
}
