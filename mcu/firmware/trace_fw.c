/*
 * mcu/firmware/trace_fw.c - a traced TinyReptile device round: reads a job (the model table,
 * theta, the k samples, lr, mode, the trace mode), runs tr_tinyreptile_device_round_traced_f32
 * and writes every record the runtime reports to a trace file (docs/trace-format.md, version 1),
 * for `python -m tinyreptile_ref xcheck` to compare with the reference.
 *
 * Full mode writes each record's raw bits; compact mode writes only each record's FNV-1a
 * digest (for a thin link), except the one record the job names for drill-down, written in
 * full.
 *
 * On the host: trace_fw JOB TRACE. On the MCU (semihosting, QEMU in the repository root): the
 * paths TRACE_FW_JOB and TRACE_FW_OUT (compile-time macros). Exit status 0 when the round ran
 * (its status is the trace's end record), 2 when the job or the trace file is unusable.
 * Buffers are static and sized by TRACE_FW_POOL floats.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tinyreptile.h"

#ifndef TRACE_FW_JOB
#define TRACE_FW_JOB "build/xcheck/job.bin"
#endif
#ifndef TRACE_FW_OUT
#define TRACE_FW_OUT "build/xcheck/trace-mcu.bin"
#endif
/* Floats for theta, phi, the samples and the arena together: 512 KiB. */
#ifndef TRACE_FW_POOL
#define TRACE_FW_POOL (128 * 1024)
#endif
#define TRACE_FW_MAX_LAYERS 16
#define TRACE_FW_MAX_JOB (4 * TRACE_FW_POOL)

#define TRACE_MAGIC 0x43525454u /* "TTRC" */
#define JOB_MAGIC 0x424f4a54u   /* "TJOB" */
#define TRACE_VERSION 1u
#define TRACE_END 255

static float pool[TRACE_FW_POOL];
static unsigned char job[TRACE_FW_MAX_JOB];
static tr_layer layers[TRACE_FW_MAX_LAYERS];

typedef struct {
    FILE *f;
    int32_t compact;
    int32_t drill[3]; /* step, layer, tensor written in full in compact mode; step -1: none */
    int ok;
} trace_out;

static uint32_t fnv1a(const unsigned char *p, size_t n, uint32_t h)
{
    for (size_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * 16777619u;
    }
    return h;
}

/* Little-endian int32 words: the job and the trace are written by and for little-endian
 * machines (x86-64, Cortex-M). */
static void put_words(trace_out *t, const void *p, size_t n)
{
    if (t->ok && fwrite(p, 4, n, t->f) != n) {
        t->ok = 0;
    }
}

static void on_record(void *ctx, const tr_trace_record *r)
{
    trace_out *t = (trace_out *)ctx;
    const size_t n = (size_t)r->n;
    int32_t head[10];
    const int full = !t->compact || (r->step == t->drill[0] && r->layer == t->drill[1] &&
                                     r->tensor == t->drill[2]);
    head[0] = r->step;
    head[1] = r->layer;
    head[2] = r->tensor;
    head[3] = r->rank;
    head[4] = r->dim[0];
    head[5] = r->dim[1];
    head[6] = r->dim[2];
    head[7] = r->n;
    head[8] = (int32_t)fnv1a((const unsigned char *)r->data, 4 * n, 2166136261u);
    head[9] = full;
    put_words(t, head, 10);
    if (full) {
        put_words(t, r->data, n);
    }
}

static int bad(const char *what)
{
    fprintf(stderr, "trace_fw: %s\n", what);
    return 2;
}

static int run(const char *job_path, const char *out_path)
{
    FILE *f = fopen(job_path, "rb");
    size_t len;
    int32_t w[16];
    trace_out t;
    tr_model m;
    tr_trace hook;
    int32_t mode, k, nl, in_n, out_n, tgt_n, need, arena_bytes, st;
    float lr, *theta, *phi, *x, *target, *arena;
    const int32_t *labels = NULL;
    size_t off;
    if (!f) {
        return bad("cannot open the job");
    }
    len = fread(job, 1, sizeof job, f);
    fclose(f);
    if (len < 4 * 14) {
        return bad("job too short");
    }
    memcpy(w, job, 4 * 14);
    if ((uint32_t)w[0] != JOB_MAGIC || (uint32_t)w[1] != TRACE_VERSION) {
        return bad("not a version-1 job");
    }
    mode = w[2];
    k = w[3];
    memcpy(&lr, &w[4], 4);
    t.compact = w[5] & 1;
    t.drill[0] = w[6];
    t.drill[1] = w[7];
    t.drill[2] = w[8];
    nl = w[9];
    m.n_params = w[10];
    m.loss = w[11];
    if (nl < 1 || nl > TRACE_FW_MAX_LAYERS || m.n_params < 1 || k < 0 ||
        len < 4 * 14 + sizeof(tr_layer) * (size_t)nl) {
        return bad("job: bad model header");
    }
    off = 4 * 14;
    for (int32_t i = 0; i < nl; i++) {
        memcpy(&layers[i], job + off, sizeof(tr_layer));
        off += sizeof(tr_layer);
    }
    m.layers = layers;
    m.n_layers = nl;
    if (tr_model_check(&m) != TR_OK) {
        return bad("job: the model table fails tr_model_check");
    }
    in_n = layers[0].in_dim[0] * layers[0].in_dim[1];
    out_n = layers[nl - 1].out_dim[0] * layers[nl - 1].out_dim[1];
    tgt_n = m.loss == TR_LOSS_MSE ? out_n : 1;
    if (tr_model_arena_size(&arena_bytes, &m, 1, 1, mode) != TR_OK) {
        return bad("job: no arena size for this mode");
    }
    need = 2 * m.n_params + k * (in_n + tgt_n) + arena_bytes / 4;
    if (need > TRACE_FW_POOL || len < off + 4 * (size_t)(m.n_params + k * (in_n + tgt_n))) {
        return bad("job: larger than the pool, or truncated");
    }
    theta = pool;
    phi = theta + m.n_params;
    x = phi + m.n_params;
    target = x + (size_t)k * (size_t)in_n;
    arena = target + (size_t)k * (size_t)tgt_n;
    memcpy(theta, job + off, 4 * (size_t)m.n_params);
    off += 4 * (size_t)m.n_params;
    memcpy(x, job + off, 4 * (size_t)k * (size_t)(in_n + tgt_n));
    if (m.loss != TR_LOSS_MSE) {
        labels = (const int32_t *)(const void *)target;
    }

    t.f = fopen(out_path, "wb");
    t.ok = t.f != NULL;
    if (!t.ok) {
        return bad("cannot create the trace file");
    }
    w[0] = (int32_t)TRACE_MAGIC;
    w[1] = (int32_t)TRACE_VERSION;
    w[2] = t.compact;
    w[3] = (int32_t)len;
    put_words(&t, w, 4);
    if (t.ok && fwrite(job, 1, len, t.f) != len) {
        t.ok = 0;
    }
    for (size_t pad = len; pad % 4 != 0; pad++) {
        if (t.ok && fputc(0, t.f) == EOF) {
            t.ok = 0;
        }
    }
    hook.fn = on_record;
    hook.ctx = &t;
    st = tr_tinyreptile_device_round_traced_f32(phi, NULL, arena, theta, x, target, labels, &m,
                                                 k, arena_bytes, lr, mode, &hook);
    {
        int32_t end[10] = {st, 0, TRACE_END, 0, 0, 0, 0, 0, 0, 0};
        put_words(&t, end, 10);
    }
    if (fclose(t.f) != 0 || !t.ok) {
        return bad("writing the trace failed");
    }
    printf("trace_fw: status %d (%s), trace %s\n", (int)st, tr_status_str(st), out_path);
    return 0;
}

#if defined(__arm__)
int main(void)
{
    return run(TRACE_FW_JOB, TRACE_FW_OUT);
}
#else
int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: trace_fw JOB TRACE\n");
        return 2;
    }
    return run(argv[1], argv[2]);
}
#endif
