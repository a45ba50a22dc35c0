/* client.c - the device client of the wire protocol, version 1 (docs/protocol.md): CRC-32,
 * COBS framing, the streaming decoder, the model fingerprint, and the client that validates
 * every message, receives theta in chunks (float32 or the chunked int8 transport), runs the
 * device round with the model runtime and sends phi back. C99, no malloc, no globals: every
 * buffer is the caller's (tr_client, tr_client_config), the link is the port's callbacks.
 * tinyreptile_ref/runtime/client.py is the Python twin: the same bytes for the same input. */
#include <stddef.h>
#include <string.h>

#include "tr_internal.h"

/* The library's version, sent in HELLO (major, minor, patch: tinyreptile_ref/_version.py). */
#define TR__LIB_MAJOR 0u
#define TR__LIB_MINOR 1u
#define TR__LIB_PATCH 0u

/* Wire error codes (ERROR messages), docs/protocol.md. */
enum { TR__E_LENGTH = 1, TR__E_TYPE = 2, TR__E_FINGERPRINT = 3, TR__E_UNSUPPORTED = 4,
       TR__E_RANGE = 5, TR__E_VALUE = 6 };

/* Payload sizes. */
enum { TR__HELLO_LEN = 35, TR__ROUND_LEN = 35, TR__CHUNK_HDR = 9, TR__COMMIT_LEN = 5,
       TR__RESULT_HDR = 9, TR__DONE_LEN = 7, TR__ERROR_LEN = 11, TR__BITMAP_HDR = 7 };

/* ---------------------------------------------------------------- bytes, little-endian */

static void tr__put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)((v >> 8) & 0xFFu);
}

static void tr__put32(uint8_t *p, uint32_t v)
{
    tr__put16(p, v & 0xFFFFu);
    tr__put16(p + 2, v >> 16);
}

static uint32_t tr__get16(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
}

static uint32_t tr__get32(const uint8_t *p)
{
    return tr__get16(p) | (tr__get16(p + 2) << 16);
}

static int tr__finite_bits(uint32_t u)
{
    return (u & 0x7F800000u) != 0x7F800000u;
}

/* ---------------------------------------------------------------------------- CRC-32 */

/* Reflected CRC-32, polynomial 0xEDB88320, four bits at a time (a 16-entry table). */
static uint32_t tr__crc32_update(uint32_t crc, const uint8_t *data, int32_t n)
{
    static const uint32_t nib[16] = {
        0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u,
        0x4DB26158u, 0x5005713Cu, 0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
        0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu};
    int32_t j;
    for (j = 0; j < n; j++) {
        crc ^= data[j];
        crc = (crc >> 4) ^ nib[crc & 0xFu];
        crc = (crc >> 4) ^ nib[crc & 0xFu];
    }
    return crc;
}

tr_status tr_proto_crc32(uint32_t *crc, const uint8_t *data, int32_t n)
{
    if (crc == NULL || (data == NULL && n > 0)) {
        return TR_ERR_NULL;
    }
    if (n < 0) {
        return TR_ERR_SHAPE;
    }
    *crc = tr__crc32_update(0xFFFFFFFFu, data, n) ^ 0xFFFFFFFFu;
    return TR_OK;
}

/* ---------------------------------------------------------------------------- framing */

/* COBS: the body is cut after every zero byte and after every 254 non-zero bytes; each piece
 * is written as a code byte (1 + its non-zero bytes) and those bytes, the zero dropped. A piece
 * of 254 non-zero bytes (code 0xFF) carries no zero after it. */
tr_status tr_proto_frame_encode(uint8_t *wire, int32_t *wire_len, const uint8_t *payload,
                                int32_t n, int32_t cap)
{
    uint8_t crc_le[4];
    uint32_t crc;
    int32_t total, j, out = 1, code_at = 0;
    uint8_t code = 1;
    if (wire == NULL || wire_len == NULL || payload == NULL) {
        return TR_ERR_NULL;
    }
    if (n < 1 || n > TR_PROTO_MAX_PAYLOAD) {
        return TR_ERR_PARAM;
    }
    total = n + 4;
    if (cap < total + total / 254 + 2) {
        return TR_ERR_BUFFER;
    }
    crc = tr__crc32_update(0xFFFFFFFFu, payload, n) ^ 0xFFFFFFFFu;
    tr__put32(crc_le, crc);
    for (j = 0; j < total; j++) {
        uint8_t b = j < n ? payload[j] : crc_le[j - n];
        if (b == 0) {
            wire[code_at] = code;
            code_at = out++;
            code = 1;
        } else {
            wire[out++] = b;
            code++;
            if (code == 0xFF) {
                wire[code_at] = code;
                code_at = out++;
                code = 1;
            }
        }
    }
    wire[code_at] = code;
    wire[out++] = 0;
    *wire_len = out;
    return TR_OK;
}

tr_status tr_proto_frame_decode(uint8_t *payload, int32_t *payload_len, const uint8_t *wire,
                                int32_t n, int32_t cap)
{
    int32_t i = 0, out = 0;
    uint32_t crc;
    if (payload == NULL || payload_len == NULL || (wire == NULL && n > 0)) {
        return TR_ERR_NULL;
    }
    if (cap < TR_PROTO_MAX_PAYLOAD + 4) {
        return TR_ERR_BUFFER;
    }
    *payload_len = 0;
    if (n < 0) {
        return TR_ERR_SHAPE;
    }
    while (i < n) {
        int32_t code = wire[i], j;
        if (code == 0 || i + code > n) {
            return TR_ERR_FRAME;
        }
        for (j = 1; j < code; j++) {
            if (wire[i + j] == 0 || out >= TR_PROTO_MAX_PAYLOAD + 4) {
                return TR_ERR_FRAME;
            }
            payload[out++] = wire[i + j];
        }
        i += code;
        if (code != 0xFF && i < n) {
            if (out >= TR_PROTO_MAX_PAYLOAD + 4) {
                return TR_ERR_FRAME;
            }
            payload[out++] = 0;
        }
    }
    if (out < 5) {
        return TR_ERR_FRAME;
    }
    crc = tr__crc32_update(0xFFFFFFFFu, payload, out - 4) ^ 0xFFFFFFFFu;
    if (crc != tr__get32(payload + out - 4)) {
        return TR_ERR_FRAME;
    }
    *payload_len = out - 4;
    return TR_OK;
}

tr_status tr_proto_decoder_init(tr_proto_decoder *d)
{
    if (d == NULL) {
        return TR_ERR_NULL;
    }
    memset(d, 0, sizeof *d);
    return TR_OK;
}

tr_status tr_proto_decoder_push(tr_proto_decoder *d, uint8_t *payload, int32_t *payload_len,
                                int32_t *used, const uint8_t *data, int32_t n, int32_t cap)
{
    int32_t j;
    if (d == NULL || payload == NULL || payload_len == NULL || used == NULL ||
        (data == NULL && n > 0)) {
        return TR_ERR_NULL;
    }
    if (n < 0) {
        return TR_ERR_SHAPE;
    }
    if (cap < TR_PROTO_MAX_PAYLOAD + 4) {
        return TR_ERR_BUFFER;
    }
    *payload_len = 0;
    for (j = 0; j < n; j++) {
        uint8_t b = data[j];
        if (b != 0) {
            if (d->skipping) {
                continue;
            }
            if (d->len >= TR_PROTO_MAX_WIRE - 1) {
                d->skipping = 1; /* too long for any frame: drop up to the next delimiter */
                d->bad++;
                d->len = 0;
                continue;
            }
            d->wire[d->len++] = b;
            continue;
        }
        /* a delimiter */
        if (d->skipping || d->len == 0) {
            d->skipping = 0;
            d->len = 0;
            continue;
        }
        if (tr_proto_frame_decode(payload, payload_len, d->wire, d->len, cap) == TR_OK) {
            d->len = 0;
            d->frames++;
            *used = j + 1;
            return TR_OK;
        }
        d->bad++;
        d->len = 0;
        *payload_len = 0;
    }
    *used = n;
    return TR_OK;
}

/* ------------------------------------------------------------------------ fingerprint */

tr_status tr_model_fingerprint(uint32_t *fingerprint, const tr_model *model)
{
    uint32_t crc = 0xFFFFFFFFu;
    uint8_t b[4];
    int32_t i;
    tr_status st;
    if (fingerprint == NULL) {
        return TR_ERR_NULL;
    }
    st = tr_model_check(model);
    if (st != TR_OK) {
        return st;
    }
    for (i = 0; i < model->n_layers; i++) {
        const tr_layer *l = &model->layers[i];
        int par = l->kind == TR_LAYER_DENSE || l->kind == TR_LAYER_CONV1D;
        int conv = l->kind == TR_LAYER_CONV1D;
        int32_t f[12];
        int32_t q;
        f[0] = l->kind;
        f[1] = l->in_rank;
        f[2] = l->in_dim[0];
        f[3] = l->in_dim[1];
        f[4] = l->out_rank;
        f[5] = l->out_dim[0];
        f[6] = l->out_dim[1];
        f[7] = par ? l->w_off : 0;
        f[8] = par ? l->b_off : 0;
        f[9] = conv ? l->kernel_size : 0;
        f[10] = conv ? l->stride : 0;
        f[11] = conv ? l->dilation : 0;
        for (q = 0; q < 12; q++) {
            tr__put32(b, (uint32_t)f[q]);
            crc = tr__crc32_update(crc, b, 4);
        }
        tr__put32(b, (uint32_t)(conv ? l->padding : 0));
        crc = tr__crc32_update(crc, b, 4);
    }
    tr__put32(b, (uint32_t)model->n_layers);
    crc = tr__crc32_update(crc, b, 4);
    tr__put32(b, (uint32_t)model->n_params);
    crc = tr__crc32_update(crc, b, 4);
    tr__put32(b, (uint32_t)model->loss);
    crc = tr__crc32_update(crc, b, 4);
    *fingerprint = crc ^ 0xFFFFFFFFu;
    return TR_OK;
}

/* ----------------------------------------------------------------------------- client */

static int32_t tr__tensor_n(int32_t rank, const int32_t dim[2])
{
    return rank == 2 ? dim[0] * dim[1] : dim[0];
}

static tr_status tr__send(tr_client *c, int32_t n)
{
    int32_t len;
    tr_status st = tr_proto_frame_encode(c->wire, &len, c->tx, n, TR_PROTO_MAX_WIRE);
    if (st != TR_OK) {
        return st;
    }
    return c->port.write(c->port.ctx, c->wire, len) == 0 ? TR_OK : TR_ERR_BUFFER;
}

static tr_status tr__send_hello(tr_client *c)
{
    uint8_t *p = c->tx;
    p[0] = TR_MSG_HELLO;
    tr__put16(p + 1, TR_PROTO_VERSION);
    p[3] = (uint8_t)TR__LIB_MAJOR;
    p[4] = (uint8_t)TR__LIB_MINOR;
    p[5] = (uint8_t)TR__LIB_PATCH;
    tr__put32(p + 6, c->cfg.device_id);
    tr__put32(p + 10, c->cfg.boot);
    tr__put32(p + 14, c->fingerprint);
    tr__put32(p + 18, (uint32_t)c->cfg.model->n_params);
    tr__put32(p + 22, (uint32_t)c->cfg.arena_bytes);
    p[26] = (uint8_t)c->cfg.caps;
    tr__put16(p + 27, TR_PROTO_MAX_PAYLOAD);
    tr__put16(p + 29, (uint32_t)c->cfg.max_k);
    tr__put16(p + 31, (uint32_t)c->cfg.max_epochs);
    tr__put16(p + 33, (uint32_t)c->cfg.max_steps);
    return tr__send(c, TR__HELLO_LEN);
}

static tr_status tr__send_error(tr_client *c, uint32_t round_id, uint32_t code, uint32_t detail)
{
    c->rejected++;
    c->tx[0] = TR_MSG_ERROR;
    tr__put32(c->tx + 1, round_id);
    tr__put16(c->tx + 5, code);
    tr__put32(c->tx + 7, detail);
    return tr__send(c, TR__ERROR_LEN);
}

tr_status tr_client_init(tr_client *c, const tr_client_config *cfg, const tr_client_port *port)
{
    const tr_model *m;
    int32_t need;
    tr_status st;
    if (c == NULL || cfg == NULL || port == NULL || cfg->model == NULL || port->write == NULL ||
        port->samples == NULL || cfg->params == NULL || cfg->arena == NULL || cfg->x == NULL ||
        cfg->losses == NULL) {
        return TR_ERR_NULL;
    }
    m = cfg->model;
    memset(c, 0, sizeof *c);
    st = tr_model_fingerprint(&c->fingerprint, m);
    if (st != TR_OK) {
        return st;
    }
    if ((m->loss == TR_LOSS_MSE && cfg->target == NULL) ||
        (m->loss == TR_LOSS_SOFTMAX_XENT && cfg->labels == NULL)) {
        return TR_ERR_NULL;
    }
    if ((cfg->caps & ~(uint32_t)(TR_CAP_F32 | TR_CAP_S8 | TR_CAP_TINYREPTILE | TR_CAP_BATCHED)) ||
        !(cfg->caps & (TR_CAP_F32 | TR_CAP_S8)) ||
        !(cfg->caps & (TR_CAP_TINYREPTILE | TR_CAP_BATCHED))) {
        return TR_ERR_PARAM;
    }
    if (cfg->max_k < 1 || cfg->max_k > 0xFFFF || cfg->max_steps < 1 ||
        cfg->max_steps > (TR_PROTO_MAX_PAYLOAD - TR__RESULT_HDR) / 4 || cfg->max_epochs < 0 ||
        cfg->max_epochs > 0xFFFF || m->n_params > (int32_t)TR_PROTO_CHUNK_MAX * TR_PROTO_MAX_CHUNKS ||
        cfg->arena_bytes < 0) {
        return TR_ERR_PARAM;
    }
    if ((cfg->caps & TR_CAP_TINYREPTILE) && cfg->max_steps < cfg->max_k) {
        return TR_ERR_PARAM;
    }
    if (((uintptr_t)cfg->arena & 3u) != 0) {
        return TR_ERR_BUFFER;
    }
    if (cfg->caps & TR_CAP_TINYREPTILE) {
        st = tr_model_arena_size(&need, m, 1, 1, TR_TRAIN_FUSED);
        if (st != TR_OK) {
            return st;
        }
        if (need > cfg->arena_bytes) {
            return TR_ERR_BUFFER;
        }
    }
    if (cfg->caps & TR_CAP_BATCHED) {
        if (cfg->order == NULL) {
            return TR_ERR_NULL;
        }
        if (cfg->max_epochs < 1) {
            return TR_ERR_PARAM;
        }
        st = tr_model_arena_size(&need, m, 1, cfg->max_k, TR_TRAIN_ACCUM);
        if (st != TR_OK) {
            return st;
        }
        if (need > cfg->arena_bytes) {
            return TR_ERR_BUFFER;
        }
    }
    c->cfg = *cfg;
    c->port = *port;
    c->in_n = tr__tensor_n(m->layers[0].in_rank, m->layers[0].in_dim);
    c->out_n = tr__tensor_n(m->layers[m->n_layers - 1].out_rank, m->layers[m->n_layers - 1].out_dim);
    tr_proto_decoder_init(&c->dec);
    c->state = TR_CLIENT_IDLE;
    return tr__send_hello(c);
}

/* Values in chunk i and their first index. */
static int32_t tr__chunk_count(const tr_client *c, int32_t i)
{
    int32_t off = i * c->chunk, n = c->cfg.model->n_params;
    return n - off < c->chunk ? n - off : c->chunk;
}

static int32_t tr__chunk_bytes(const tr_client *c, int32_t count)
{
    return TR__CHUNK_HDR + (c->transport == TR_TRANSPORT_S8 ? 4 + count : 4 * count);
}

static tr_status tr__on_round(tr_client *c, const uint8_t *p, int32_t n)
{
    uint32_t round_id, fp;
    int32_t algo, transport, chunk, k, epochs, batch, steps, n_chunks;
    uint32_t lr_bits;
    if (n != TR__ROUND_LEN) {
        return tr__send_error(c, 0, TR__E_LENGTH, (uint32_t)n);
    }
    round_id = tr__get32(p + 1);
    fp = tr__get32(p + 17);
    algo = p[21];
    transport = p[22];
    chunk = (int32_t)tr__get16(p + 23);
    k = (int32_t)tr__get16(p + 25);
    epochs = (int32_t)tr__get16(p + 27);
    batch = (int32_t)tr__get16(p + 29);
    lr_bits = tr__get32(p + 31);
    c->state = TR_CLIENT_IDLE; /* a new ROUND abandons whatever was in progress */
    if (fp != c->fingerprint) {
        return tr__send_error(c, round_id, TR__E_FINGERPRINT, c->fingerprint);
    }
    if ((algo == TR_ALGO_TINYREPTILE && !(c->cfg.caps & TR_CAP_TINYREPTILE)) ||
        (algo == TR_ALGO_BATCHED && !(c->cfg.caps & TR_CAP_BATCHED)) || algo > TR_ALGO_BATCHED ||
        (transport == TR_TRANSPORT_F32 && !(c->cfg.caps & TR_CAP_F32)) ||
        (transport == TR_TRANSPORT_S8 && !(c->cfg.caps & TR_CAP_S8)) ||
        transport > TR_TRANSPORT_S8) {
        return tr__send_error(c, round_id, TR__E_UNSUPPORTED, (uint32_t)(algo << 8 | transport));
    }
    if (chunk < 1 || chunk > TR_PROTO_CHUNK_MAX || k < 1 || k > c->cfg.max_k) {
        return tr__send_error(c, round_id, TR__E_RANGE, 1);
    }
    n_chunks = (c->cfg.model->n_params + chunk - 1) / chunk;
    if (n_chunks > TR_PROTO_MAX_CHUNKS) {
        return tr__send_error(c, round_id, TR__E_RANGE, 2);
    }
    if (algo == TR_ALGO_TINYREPTILE) {
        steps = k;
    } else {
        if (epochs < 1 || epochs > c->cfg.max_epochs || batch < 1 || batch > k) {
            return tr__send_error(c, round_id, TR__E_RANGE, 3);
        }
        steps = epochs * ((k + batch - 1) / batch);
    }
    if (steps > c->cfg.max_steps) {
        return tr__send_error(c, round_id, TR__E_RANGE, 4);
    }
    if (!tr__finite_bits(lr_bits) || (lr_bits & 0x80000000u) != 0) {
        return tr__send_error(c, round_id, TR__E_RANGE, 5);
    }
    c->round_id = round_id;
    c->round = tr__get32(p + 5);
    c->seed = (uint64_t)tr__get32(p + 9) | ((uint64_t)tr__get32(p + 13) << 32);
    c->algo = algo;
    c->transport = transport;
    c->chunk = chunk;
    c->n_chunks = n_chunks;
    c->k = k;
    c->epochs = algo == TR_ALGO_TINYREPTILE ? 0 : epochs;
    c->batch = algo == TR_ALGO_TINYREPTILE ? 1 : batch;
    c->lr_bits = lr_bits;
    c->n_losses = steps;
    memset(c->have, 0, sizeof c->have);
    c->state = TR_CLIENT_RECEIVING;
    return TR_OK;
}

static tr_status tr__on_theta(tr_client *c, const uint8_t *p, int32_t n)
{
    int32_t index, count, off, j;
    float *dst;
    if (n < TR__CHUNK_HDR) {
        return tr__send_error(c, 0, TR__E_LENGTH, (uint32_t)n);
    }
    if (c->state != TR_CLIENT_RECEIVING || tr__get32(p + 1) != c->round_id) {
        return TR_OK; /* for no round in progress: stale, ignored */
    }
    index = (int32_t)tr__get16(p + 5);
    count = (int32_t)tr__get16(p + 7);
    if (index >= c->n_chunks || count != tr__chunk_count(c, index) ||
        n != tr__chunk_bytes(c, count)) {
        c->state = TR_CLIENT_IDLE;
        return tr__send_error(c, c->round_id, TR__E_LENGTH, (uint32_t)index);
    }
    off = index * c->chunk;
    dst = c->cfg.params + off;
    if (c->transport == TR_TRANSPORT_F32) {
        for (j = 0; j < count; j++) {
            if (!tr__finite_bits(tr__get32(p + TR__CHUNK_HDR + 4 * j))) {
                c->state = TR_CLIENT_IDLE;
                return tr__send_error(c, c->round_id, TR__E_VALUE, (uint32_t)(off + j));
            }
        }
        for (j = 0; j < count; j++) {
            dst[j] = tr__f32_from_bits(tr__get32(p + TR__CHUNK_HDR + 4 * j));
        }
    } else {
        uint32_t sb = tr__get32(p + TR__CHUNK_HDR);
        float scale = tr__f32_from_bits(sb);
        const int8_t *q = (const int8_t *)(p + TR__CHUNK_HDR + 4);
        if (!tr__finite_bits(sb) || (sb & 0x80000000u) != 0) {
            c->state = TR_CLIENT_IDLE;
            return tr__send_error(c, c->round_id, TR__E_VALUE, (uint32_t)off);
        }
        for (j = 0; j < count; j++) {
            if (q[j] == -128) {
                c->state = TR_CLIENT_IDLE;
                return tr__send_error(c, c->round_id, TR__E_VALUE, (uint32_t)(off + j));
            }
        }
        tr_transport_dequantize_s8(dst, q, &scale, count, count);
    }
    c->have[index >> 3] = (uint8_t)(c->have[index >> 3] | (1u << (index & 7)));
    return TR_OK;
}

static tr_status tr__send_phi(tr_client *c, int32_t index)
{
    int32_t count = tr__chunk_count(c, index), off = index * c->chunk, j;
    uint8_t *p = c->tx;
    const float *src = c->cfg.params + off;
    p[0] = TR_MSG_PHI;
    tr__put32(p + 1, c->round_id);
    tr__put16(p + 5, (uint32_t)index);
    tr__put16(p + 7, (uint32_t)count);
    if (c->transport == TR_TRANSPORT_F32) {
        for (j = 0; j < count; j++) {
            tr__put32(p + TR__CHUNK_HDR + 4 * j, tr__f32_bits(src[j]));
        }
    } else {
        float scale;
        tr_status st = tr_transport_quantize_s8((int8_t *)(p + TR__CHUNK_HDR + 4), &scale, src,
                                                count, count);
        if (st != TR_OK) {
            return st; /* phi was checked finite before; not reached */
        }
        tr__put32(p + TR__CHUNK_HDR, tr__f32_bits(scale));
    }
    return tr__send(c, tr__chunk_bytes(c, count));
}

static tr_status tr__send_done(tr_client *c)
{
    c->tx[0] = TR_MSG_DONE;
    tr__put32(c->tx + 1, c->round_id);
    tr__put16(c->tx + 5, c->status == TR_OK ? (uint32_t)c->n_chunks : 0u);
    return tr__send(c, TR__DONE_LEN);
}

/* RESULT, every PHI chunk (or those marked in `want`), DONE. */
static tr_status tr__send_result(tr_client *c, const uint8_t *want)
{
    int32_t n_losses = c->status == TR_OK ? c->n_losses : 0, i;
    uint8_t *p = c->tx;
    tr_status st;
    if (want == NULL) {
        p[0] = TR_MSG_RESULT;
        tr__put32(p + 1, c->round_id);
        tr__put16(p + 5, (uint32_t)(uint16_t)(int16_t)c->status);
        tr__put16(p + 7, (uint32_t)n_losses);
        for (i = 0; i < n_losses; i++) {
            tr__put32(p + TR__RESULT_HDR + 4 * i, tr__f32_bits(c->cfg.losses[i]));
        }
        st = tr__send(c, TR__RESULT_HDR + 4 * n_losses);
        if (st != TR_OK) {
            return st;
        }
    }
    if (c->status == TR_OK) {
        for (i = 0; i < c->n_chunks; i++) {
            if (want != NULL && !(want[i >> 3] & (1u << (i & 7)))) {
                continue;
            }
            st = tr__send_phi(c, i);
            if (st != TR_OK) {
                return st;
            }
        }
    }
    return tr__send_done(c);
}

static void tr__train(tr_client *c)
{
    const tr_client_config *g = &c->cfg;
    float lr = tr__f32_from_bits(c->lr_bits);
    int32_t j, P = g->model->n_params;
    tr_status st;
    if (g->model->loss == TR_LOSS_MSE) {
        memset(g->target, 0, sizeof(float) * (size_t)c->k * (size_t)c->out_n);
    } else {
        memset(g->labels, 0, sizeof(int32_t) * (size_t)c->k);
    }
    if (c->port.samples(c->port.ctx, g->x, g->target, g->labels,
                        c->algo == TR_ALGO_BATCHED ? g->order : NULL, c->seed, g->device_id,
                        c->round, c->k, c->epochs) != 0) {
        c->status = TR_RESULT_SAMPLES;
        return;
    }
    if (c->algo == TR_ALGO_TINYREPTILE) {
        st = tr_tinyreptile_device_round_f32(g->params, g->losses, g->arena, g->params, g->x,
                                             g->target, g->labels, g->model, c->k,
                                             g->arena_bytes, lr, TR_TRAIN_FUSED);
    } else {
        st = tr_reptile_device_round_f32(g->params, g->losses, g->arena, g->params, g->x,
                                         g->target, g->labels, g->order, g->model, c->k,
                                         c->epochs, c->batch, g->arena_bytes, lr);
    }
    c->status = st;
    if (st != TR_OK) {
        return;
    }
    for (j = 0; j < P; j++) {
        if (!tr__finite_bits(tr__f32_bits(g->params[j]))) {
            c->status = TR_RESULT_NONFINITE;
            return;
        }
    }
}

static tr_status tr__on_commit(tr_client *c, const uint8_t *p, int32_t n)
{
    int32_t i, missing = 0;
    if (n != TR__COMMIT_LEN) {
        return tr__send_error(c, 0, TR__E_LENGTH, (uint32_t)n);
    }
    if (tr__get32(p + 1) != c->round_id || c->state == TR_CLIENT_IDLE) {
        return TR_OK;
    }
    if (c->state == TR_CLIENT_SENT) {
        return tr__send_result(c, NULL); /* the server lost the result: send it again */
    }
    for (i = 0; i < c->n_chunks; i++) {
        if (!(c->have[i >> 3] & (1u << (i & 7)))) {
            missing++;
        }
    }
    if (missing > 0) {
        uint8_t *q = c->tx;
        int32_t nb = (c->n_chunks + 7) / 8;
        q[0] = TR_MSG_NACK;
        tr__put32(q + 1, c->round_id);
        tr__put16(q + 5, (uint32_t)c->n_chunks);
        for (i = 0; i < nb; i++) {
            q[TR__BITMAP_HDR + i] = (uint8_t)~c->have[i];
        }
        if (c->n_chunks % 8) {
            q[TR__BITMAP_HDR + nb - 1] &= (uint8_t)((1u << (c->n_chunks % 8)) - 1u);
        }
        return tr__send(c, TR__BITMAP_HDR + nb);
    }
    tr__train(c);
    c->state = TR_CLIENT_SENT;
    c->rounds_done++;
    return tr__send_result(c, NULL);
}

static tr_status tr__on_resend(tr_client *c, const uint8_t *p, int32_t n)
{
    if (n < TR__BITMAP_HDR) {
        return tr__send_error(c, 0, TR__E_LENGTH, (uint32_t)n);
    }
    if (c->state != TR_CLIENT_SENT || tr__get32(p + 1) != c->round_id) {
        return TR_OK;
    }
    if ((int32_t)tr__get16(p + 5) != c->n_chunks || n != TR__BITMAP_HDR + (c->n_chunks + 7) / 8) {
        return tr__send_error(c, c->round_id, TR__E_LENGTH, (uint32_t)n);
    }
    return tr__send_result(c, p + TR__BITMAP_HDR);
}

static tr_status tr__handle(tr_client *c, const uint8_t *p, int32_t n)
{
    switch (p[0]) {
    case TR_MSG_WHO:
        if (n != 1) {
            return tr__send_error(c, 0, TR__E_LENGTH, (uint32_t)n);
        }
        c->state = TR_CLIENT_IDLE;
        return tr__send_hello(c);
    case TR_MSG_ROUND:
        return tr__on_round(c, p, n);
    case TR_MSG_THETA:
        return tr__on_theta(c, p, n);
    case TR_MSG_COMMIT:
        return tr__on_commit(c, p, n);
    case TR_MSG_RESEND:
        return tr__on_resend(c, p, n);
    default:
        return tr__send_error(c, 0, TR__E_TYPE, p[0]);
    }
}

tr_status tr_client_feed(tr_client *c, const uint8_t *data, int32_t n)
{
    if (c == NULL || (data == NULL && n > 0)) {
        return TR_ERR_NULL;
    }
    if (n < 0) {
        return TR_ERR_SHAPE;
    }
    while (n > 0) {
        int32_t len, used;
        tr_status st = tr_proto_decoder_push(&c->dec, c->rx, &len, &used, data, n,
                                             (int32_t)sizeof c->rx);
        if (st != TR_OK) {
            return st;
        }
        data += used;
        n -= used;
        if (len > 0) {
            st = tr__handle(c, c->rx, len);
            if (st != TR_OK) {
                return st;
            }
        }
    }
    return TR_OK;
}
