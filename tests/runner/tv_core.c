/*
 * tv_core.c - loads a case's blobs into typed arenas, runs its handler, compares bit for bit,
 * and keeps the per-kernel tally. Shared by every way of feeding cases (files, embedded).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tinyreptile.h"
#include "tv.h"

/* Under AddressSanitizer every arena buffer is its own object: the arenas are poisoned at the
 * start of each case, each allocation unpoisons exactly its elements and leaves a poisoned gap
 * (TV_REDZONE elements, 8-byte aligned) before the next, so a kernel that reads or writes one
 * element past a buffer is caught even inside an arena. Other builds pack buffers tightly. */
#if defined(__SANITIZE_ADDRESS__)
#define TV_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TV_ASAN 1
#endif
#endif
#ifdef TV_ASAN
#include <sanitizer/asan_interface.h>
#define TV_REDZONE 16
#else
#define TV_REDZONE 0
#define ASAN_POISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#endif

/* One arena per element type: every buffer a kernel sees is an object of its own type. */
static float arena_f32[TV_ARENA_F32];
static int32_t arena_s32[TV_ARENA_S32];
static int16_t arena_s16[TV_ARENA_S16];
static unsigned char arena_bytes[TV_ARENA_BYTES]; /* int8 and uint8 (character types) */

static const char *const dtype_names[TV_NDTYPES] = {"f32", "s8", "u8", "s16", "s32"};
static const size_t dtype_sizes[TV_NDTYPES] = {4, 1, 1, 2, 4};

struct tv_ctx {
    const tv_case *c;
    void *data[TV_MAX_BLOBS];      /* the arena copy of each blob */
    int32_t count[TV_MAX_BLOBS];   /* its number of elements */
    int32_t checked[TV_MAX_BLOBS]; /* expected blobs: elements compared so far */
    int32_t top[TV_NDTYPES];       /* arena use, in elements (int8 and uint8 share one) */
    int32_t nstatus;               /* calls of tv_status */
    unsigned char used_param[TV_MAX_PARAMS]; /* parameters the handler asked for */
    unsigned char used_blob[TV_MAX_BLOBS];   /* blobs the handler asked for */
    int failed;
    char msg[640];
};

int tv_little_endian(void)
{
    const uint32_t one = 1;
    unsigned char b[4];
    memcpy(b, &one, 4);
    return b[0] == 1;
}

void tv_fail(tv_ctx *t, const char *fmt, ...)
{
    if (t->failed) {
        return; /* the first failure is the one worth reading */
    }
    t->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->msg, sizeof t->msg, fmt, ap);
    va_end(ap);
}

int tv_ok(tv_ctx *t)
{
    return !t->failed;
}

int32_t tv_expected_status(tv_ctx *t)
{
    return t->c->status;
}

int32_t tv_mul(int32_t a, int32_t b)
{
    if (a < 0 || b < 0 || (a != 0 && b > INT32_MAX / a)) {
        return -1;
    }
    return a * b;
}

int32_t tv_mul3(int32_t a, int32_t b, int32_t c)
{
    int32_t ab = tv_mul(a, b);
    return ab < 0 ? -1 : tv_mul(ab, c);
}

/* ---------------------------------------------------------------------- arenas */

static int arena_slot(tv_dtype d)
{
    return d == TV_U8 ? TV_S8 : (int)d;
}

static void *arena_base(tv_dtype d)
{
    switch (d) {
    case TV_F32:
        return arena_f32;
    case TV_S32:
        return arena_s32;
    case TV_S16:
        return arena_s16;
    default:
        return arena_bytes;
    }
}

/* A new case: every arena buffer of the previous one is gone (poisoned under ASan). */
static void arenas_reset(tv_ctx *t)
{
    (void)t;
    ASAN_POISON_MEMORY_REGION(arena_f32, sizeof arena_f32);
    ASAN_POISON_MEMORY_REGION(arena_s32, sizeof arena_s32);
    ASAN_POISON_MEMORY_REGION(arena_s16, sizeof arena_s16);
    ASAN_POISON_MEMORY_REGION(arena_bytes, sizeof arena_bytes);
}

static void *arena_alloc(tv_ctx *t, tv_dtype d, int32_t count)
{
    static const int32_t caps[TV_NDTYPES] = {TV_ARENA_F32, TV_ARENA_BYTES, TV_ARENA_BYTES,
                                             TV_ARENA_S16, TV_ARENA_S32};
    static const char *const macros[TV_NDTYPES] = {"TV_ARENA_F32", "TV_ARENA_BYTES",
                                                   "TV_ARENA_BYTES", "TV_ARENA_S16",
                                                   "TV_ARENA_S32"};
    int s = arena_slot(d);
    const int32_t w = (int32_t)dtype_sizes[d];
    const int32_t align = TV_REDZONE ? 8 / w : 1; /* elements */
    int32_t at = t->top[s];
    if (count < 0) {
        tv_fail(t, "a %s buffer: the parameters give a negative or int32-overflowing size",
                dtype_names[d]);
        return NULL;
    }
    if (TV_REDZONE && at > 0) {
        at += TV_REDZONE / w; /* the gap after the previous buffer */
        at += (align - at % align) % align;
    }
    if (at > caps[d] || count > caps[d] - at) {
        tv_fail(t, "the %s arena is too small: this case needs more than %ld + %ld elements "
                   "(compile with a larger -D%s=...)",
                dtype_names[d], (long)at, (long)count, macros[d]);
        return NULL;
    }
    t->top[s] = at + (count > 0 ? count : 1); /* an empty buffer still has its own address */
    unsigned char *p = (unsigned char *)arena_base(d) + (size_t)at * (size_t)w;
    ASAN_UNPOISON_MEMORY_REGION(p, (size_t)count * (size_t)w);
    return p;
}

static int find_blob(const tv_ctx *t, const char *name, tv_role role)
{
    for (int32_t j = 0; j < t->c->nblobs; j++) {
        if (t->c->blobs[j].role == role && strcmp(t->c->blobs[j].name, name) == 0) {
            return (int)j;
        }
    }
    return -1;
}

int tv_has(tv_ctx *t, const char *name, tv_role role)
{
    return find_blob(t, name, role) >= 0;
}

/* ------------------------------------------------------------------ parameters */

static const tv_param *find_param(tv_ctx *t, const char *name)
{
    for (int32_t j = 0; j < t->c->nparams; j++) {
        if (strcmp(t->c->params[j].name, name) == 0) {
            t->used_param[j] = 1;
            return &t->c->params[j];
        }
    }
    tv_fail(t, "missing parameter '%s'", name);
    return NULL;
}

int32_t tv_int(tv_ctx *t, const char *name)
{
    const tv_param *p = find_param(t, name);
    if (p && p->str) {
        tv_fail(t, "parameter '%s' is a string, expected an integer", name);
        return 0;
    }
    return p ? p->value : 0;
}

const char *tv_str(tv_ctx *t, const char *name)
{
    const tv_param *p = find_param(t, name);
    if (p && !p->str) {
        tv_fail(t, "parameter '%s' is an integer, expected a string", name);
        return "";
    }
    return p ? p->str : "";
}

float tv_f32(tv_ctx *t, const char *name)
{
    const char *s = tv_str(t, name);
    uint32_t bits = 0;
    float f = 0.0f;
    int ok = strncmp(s, "f32:0x", 6) == 0 && strlen(s) == 14;
    for (int k = 6; ok && k < 14; k++) {
        char ch = s[k];
        uint32_t v = (ch >= '0' && ch <= '9') ? (uint32_t)(ch - '0')
                     : (ch >= 'a' && ch <= 'f') ? (uint32_t)(ch - 'a' + 10) : 16u;
        ok = v < 16u;
        bits = (bits << 4) | (v & 15u);
    }
    if (!ok) {
        tv_fail(t, "parameter '%s' = \"%s\" is not 'f32:0x' + 8 hex digits", name, s);
        return 0.0f;
    }
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* ------------------------------------------------------------- inputs, outputs */

/* Every buffer a kernel sees holds exactly the elements its parameters imply, whatever status
 * the case expects: a kernel that reads or writes what its parameters say never leaves it. */
static void *get_input(tv_ctx *t, const char *name, tv_dtype d, int32_t count)
{
    int j = find_blob(t, name, TV_INPUT);
    if (j < 0) {
        tv_fail(t, "missing input blob '%s'", name);
        return NULL;
    }
    t->used_blob[j] = 1;
    if (t->c->blobs[j].dtype != d) {
        tv_fail(t, "input blob '%s' has dtype %s, the kernel takes %s", name,
                dtype_names[t->c->blobs[j].dtype], dtype_names[d]);
        return NULL;
    }
    if (count < 0) {
        tv_fail(t, "input blob '%s': the parameters give a negative or int32-overflowing size",
                name);
        return NULL;
    }
    if (count != t->count[j]) {
        tv_fail(t, "input blob '%s' has %ld elements, the parameters say %ld", name,
                (long)t->count[j], (long)count);
        return NULL;
    }
    return t->data[j];
}

static void *get_output(tv_ctx *t, const char *name, tv_dtype d, int32_t count)
{
    int j = find_blob(t, name, TV_EXPECTED);
    if (j < 0) {
        if (t->c->status != TR_OK) {
            /* The kernel must refuse before writing: no expectation. Parameters that give no
             * valid size get an empty buffer (the kernel must refuse them). */
            return arena_alloc(t, d, count < 0 ? 0 : count);
        }
        tv_fail(t, "missing expected blob '%s'", name);
        return NULL;
    }
    t->used_blob[j] = 1;
    if (t->c->blobs[j].dtype != d) {
        tv_fail(t, "expected blob '%s' has dtype %s, the kernel writes %s", name,
                dtype_names[t->c->blobs[j].dtype], dtype_names[d]);
        return NULL;
    }
    if (count < 0) {
        tv_fail(t, "expected blob '%s': the parameters give a negative or int32-overflowing size",
                name);
        return NULL;
    }
    if (count != t->count[j]) {
        tv_fail(t, "expected blob '%s' has %ld elements, the parameters say %ld", name,
                (long)t->count[j], (long)count);
        return NULL;
    }
    unsigned char *p = arena_alloc(t, d, count);
    if (p) {
        const unsigned char *e = t->data[j];
        size_t n = (size_t)count * dtype_sizes[d];
        for (size_t k = 0; k < n; k++) {
            p[k] = (unsigned char)~e[k];
        }
    }
    return p;
}

/* The typed accessors declared in tv.h: one row per element type. */
#define TV_ACCESSORS(sfx, type, dtype)                                      \
    type *tv_in_##sfx(tv_ctx *t, const char *name, int32_t count)           \
    {                                                                       \
        return get_input(t, name, dtype, count);                            \
    }                                                                       \
    type *tv_out_##sfx(tv_ctx *t, const char *name, int32_t count)          \
    {                                                                       \
        return get_output(t, name, dtype, count);                           \
    }
TV_ACCESSORS(f32, float, TV_F32)
TV_ACCESSORS(s8, int8_t, TV_S8)
TV_ACCESSORS(u8, uint8_t, TV_U8)
TV_ACCESSORS(s16, int16_t, TV_S16)
TV_ACCESSORS(s32, int32_t, TV_S32)

float *tv_scratch_f32(tv_ctx *t, int32_t count)
{
    return arena_alloc(t, TV_F32, count);
}
int32_t *tv_scratch_s32(tv_ctx *t, int32_t count)
{
    return arena_alloc(t, TV_S32, count);
}
int8_t *tv_scratch_s8(tv_ctx *t, int32_t count)
{
    return arena_alloc(t, TV_S8, count);
}

/* --------------------------------------------------------------- comparisons */

void tv_status(tv_ctx *t, int status)
{
    t->nstatus++;
    if (status != t->c->status) {
        tv_fail(t, "status %d (%s), expected %ld (%s)", status, tr_status_str(status),
                (long)t->c->status, tr_status_str((int)t->c->status));
    }
}

static uint32_t load_u32(const unsigned char *p)
{
    uint32_t u;
    memcpy(&u, p, 4);
    return u;
}

static int is_nan_bits(uint32_t u)
{
    return (u & 0x7F800000u) == 0x7F800000u && (u & 0x007FFFFFu) != 0;
}

static long load_int(const unsigned char *p, tv_dtype d)
{
    switch (d) {
    case TV_S8:
        return (long)(signed char)p[0];
    case TV_U8:
        return (long)p[0];
    case TV_S16: {
        int16_t v;
        memcpy(&v, p, 2);
        return (long)v;
    }
    default: {
        int32_t v;
        memcpy(&v, p, 4);
        return (long)v;
    }
    }
}

/* ------------------------------------------------------------------ comparing */

/* The signed ulp distance got - expected of two float32 bit patterns: each mapped to a
 * monotone integer line (negative values mirrored below +0, so +0 and -0 are both 0 and 0 ulp
 * apart; the infinities one step beyond the largest finite values); 0 when both are NaN;
 * no distance (returns 0) when only one is NaN. The rule of tinyreptile_ref/tools/xcheck.py. */
static long long ordinal_f32(uint32_t u)
{
    return u < 0x80000000u ? (long long)u : -(long long)(u - 0x80000000u);
}

static int ulp_f32(long long *d, uint32_t got, uint32_t expected)
{
    if (is_nan_bits(got) || is_nan_bits(expected)) {
        *d = 0;
        return is_nan_bits(got) && is_nan_bits(expected);
    }
    *d = ordinal_f32(got) - ordinal_f32(expected);
    return 1;
}

static float f32_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* snprintf at *len into buf[cap], saturating. */
static void put(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (*len + 1 >= cap) {
        return;
    }
    va_start(ap, fmt);
    n = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n > 0) {
        *len += (size_t)n < cap - *len ? (size_t)n : cap - *len - 1;
    }
}

/* A model case's parameter layout: the "layers" input ([n_layers][13], tr_layer rows) and
 * the "n_params" parameter; 0 when the case has none. */
static int param_layout(const tv_ctx *t, const int32_t **rows, int32_t *nl, int32_t *P)
{
    int j = find_blob(t, "layers", TV_INPUT);
    *P = 0;
    for (int32_t i = 0; i < t->c->nparams; i++) {
        if (strcmp(t->c->params[i].name, "n_params") == 0 && t->c->params[i].str == NULL) {
            *P = t->c->params[i].value;
        }
    }
    if (j < 0 || *P < 1 || t->c->blobs[j].dtype != TV_S32 || t->count[j] % 13 != 0 ||
        t->data[j] == NULL) {
        return 0;
    }
    *rows = (const int32_t *)t->data[j];
    *nl = t->count[j] / 13;
    return 1;
}

static const char *const kind_names[] = {"dense", "conv1d", "relu", "tanh", "flatten"};

/* Which tensor parameter p belongs to: its layer, w (0) or b (1), and the element's index in
 * that tensor; -1 when no layer owns p. */
static int32_t param_owner(const int32_t *rows, int32_t nl, int32_t p, int *is_b, int32_t *at)
{
    for (int32_t i = 0; i < nl; i++) {
        const int32_t *r = rows + 13 * i;
        int32_t nw, nb;
        if (r[0] == 0) {
            nw = r[5] * r[2]; /* dense: w [O][I] */
            nb = r[5];
        } else if (r[0] == 1) {
            nw = r[6] * r[9] * r[3]; /* conv1d: w [C_out][K][C_in] */
            nb = r[6];
        } else {
            continue;
        }
        if (p >= r[7] && p < r[7] + nw) {
            *is_b = 0;
            *at = p - r[7];
            return i;
        }
        if (p >= r[8] && p < r[8] + nb) {
            *is_b = 1;
            *at = p - r[8];
            return i;
        }
    }
    return -1;
}

/* "layer 2 (dense) w[1][41] ([o][i])" for parameter p. */
static void name_param(char *buf, size_t cap, size_t *len, const int32_t *rows, int32_t nl,
                       int32_t p)
{
    int is_b;
    int32_t at, i = param_owner(rows, nl, p, &is_b, &at);
    const int32_t *r;
    if (i < 0) {
        put(buf, cap, len, "parameter %ld (no layer owns it)", (long)p);
        return;
    }
    r = rows + 13 * i;
    put(buf, cap, len, "layer %ld (%s) ", (long)i, kind_names[r[0]]);
    if (is_b) {
        put(buf, cap, len, "b[%ld] ([%s])", (long)at, r[0] == 0 ? "o" : "co");
    } else if (r[0] == 0) {
        put(buf, cap, len, "w[%ld][%ld] ([o][i])", (long)(at / r[2]), (long)(at % r[2]));
    } else {
        const int32_t K = r[9], C = r[3];
        put(buf, cap, len, "w[%ld][%ld][%ld] ([co][k][ci])", (long)(at / (K * C)),
            (long)(at / C % K), (long)(at % C));
    }
}

/* "[1][2]": flat element e of a blob in its shape. */
static void name_index(char *buf, size_t cap, size_t *len, const tv_blob *b, int32_t e)
{
    int32_t idx[TV_MAX_NDIM];
    if (b->ndim < 1) {
        put(buf, cap, len, "[%ld]", (long)e);
        return;
    }
    for (int32_t d = b->ndim - 1; d >= 0; d--) {
        int32_t n = b->shape[d] > 0 ? b->shape[d] : 1;
        idx[d] = e % n;
        e /= n;
    }
    for (int32_t d = 0; d < b->ndim; d++) {
        put(buf, cap, len, "[%ld]", (long)idx[d]);
    }
}

static int differs(tv_dtype d, const unsigned char *a, const unsigned char *e, size_t w)
{
    if (d == TV_F32) {
        uint32_t ua = load_u32(a), ue = load_u32(e);
        return !(ua == ue || (is_nan_bits(ua) && is_nan_bits(ue)));
    }
    return memcmp(a, e, w) != 0;
}

void tv_check_part(tv_ctx *t, const char *name, const void *got, int32_t offset, int32_t count)
{
    int j = find_blob(t, name, TV_EXPECTED);
    if (j < 0) {
        if (t->c->status == TR_OK) {
            tv_fail(t, "missing expected blob '%s'", name);
        }
        return;
    }
    if (t->failed) {
        return;
    }
    if (got == NULL || offset != t->checked[j] || count < 0 || count > t->count[j] - offset) {
        tv_fail(t, "handler compares '%s' elements [%ld, +%ld) out of order or range (bug)",
                name, (long)offset, (long)count);
        return;
    }
    const tv_blob *b = &t->c->blobs[j];
    tv_dtype d = b->dtype;
    size_t w = dtype_sizes[d];
    const unsigned char *a = got, *e = (const unsigned char *)t->data[j] + (size_t)offset * w;
    int32_t ndiff = 0, first = -1;
    long long worst = 0;
    for (int32_t k = 0; k < count; k++) {
        if (differs(d, a + (size_t)k * w, e + (size_t)k * w, w)) {
            long long u;
            if (ndiff++ == 0) {
                first = k;
            }
            if (d == TV_F32 &&
                ulp_f32(&u, load_u32(a + (size_t)k * 4), load_u32(e + (size_t)k * 4))) {
                u = u < 0 ? -u : u;
                worst = u > worst ? u : worst;
            }
        }
    }
    t->checked[j] += count;
    if (!ndiff) {
        return;
    }
    {
        char m[sizeof t->msg];
        size_t len = 0;
        const int32_t *rows;
        int32_t nl, P;
        const int32_t g = offset + first; /* the element in the blob */
        const unsigned char *pa = a + (size_t)first * w, *pe = e + (size_t)first * w;
        const int params = d == TV_F32 && param_layout(t, &rows, &nl, &P) && b->ndim >= 1 &&
                           b->shape[b->ndim - 1] == P;
        put(m, sizeof m, &len, "%s: %ld of %ld values differ", name, (long)ndiff, (long)count);
        if (params) {
            /* per tensor: layer i's w and b, counted over the compared range */
            put(m, sizeof m, &len, " (");
            for (int32_t i = 0, listed = 0; i < nl; i++) {
                for (int pb = 0; pb < 2; pb++) {
                    int32_t n = 0, tot = 0;
                    for (int32_t k = 0; k < count; k++) {
                        int is_b;
                        int32_t at;
                        if (param_owner(rows, nl, (offset + k) % P, &is_b, &at) == i &&
                            is_b == pb) {
                            tot++;
                            n += differs(d, a + (size_t)k * w, e + (size_t)k * w, w);
                        }
                    }
                    if (n) {
                        put(m, sizeof m, &len, "%slayer %ld %s %ld of %ld", listed++ ? ", " : "",
                            (long)i, pb ? "b" : "w", (long)n, (long)tot);
                    }
                }
            }
            put(m, sizeof m, &len, "); first: ");
            if (b->ndim >= 2 || count < t->count[j]) {
                put(m, sizeof m, &len, "step %ld, ", (long)(g / P));
            }
            name_param(m, sizeof m, &len, rows, nl, g % P);
            put(m, sizeof m, &len, " = %s[%ld]", name, (long)g);
        } else {
            put(m, sizeof m, &len, "; first at %s", name);
            name_index(m, sizeof m, &len, b, g);
        }
        if (d == TV_F32) {
            long long u;
            uint32_t ua = load_u32(pa), ue = load_u32(pe);
            put(m, sizeof m, &len, ": got 0x%08lx (%.9g), expected 0x%08lx (%.9g)",
                (unsigned long)ua, (double)f32_of(ua), (unsigned long)ue, (double)f32_of(ue));
            if (ulp_f32(&u, ua, ue)) {
                put(m, sizeof m, &len, ", %+lld ulp; largest |ulp| %lld", u, worst);
            } else {
                put(m, sizeof m, &len, ", NaN against a number (no ulp distance)");
            }
        } else {
            put(m, sizeof m, &len, ": got %ld, expected %ld", load_int(pa, d), load_int(pe, d));
        }
        tv_fail(t, "%s", m);
    }
}

void tv_check(tv_ctx *t, const char *name, const void *got)
{
    int j = find_blob(t, name, TV_EXPECTED);
    tv_check_part(t, name, got, 0, j < 0 ? 0 : t->count[j]);
}

/* ------------------------------------------------------------------ one case */

static tv_handler find_handler(const char *kernel)
{
    for (int32_t k = 0; k < tv_handler_count; k++) {
        if (strcmp(tv_handlers[k].kernel, kernel) == 0) {
            return tv_handlers[k].run;
        }
    }
    return NULL;
}

static int32_t blob_count(const tv_blob *b)
{
    int32_t n = 1;
    if (b->ndim < 0 || b->ndim > TV_MAX_NDIM) {
        return -1;
    }
    for (int32_t k = 0; k < b->ndim; k++) {
        n = tv_mul(n, b->shape[k]);
        if (n < 0) {
            return -1;
        }
    }
    return n;
}

static void load_blobs(tv_ctx *t, tv_load_fn load, void *env)
{
    char why[200];
    char hex[65];
    if (t->c->nblobs > TV_MAX_BLOBS) {
        tv_fail(t, "%ld blobs, more than TV_MAX_BLOBS = %d", (long)t->c->nblobs, TV_MAX_BLOBS);
        return;
    }
    for (int32_t j = 0; j < t->c->nblobs && !t->failed; j++) {
        const tv_blob *b = &t->c->blobs[j];
        int32_t n = blob_count(b);
        if (n < 0 || (unsigned)b->dtype >= (unsigned)TV_NDTYPES) {
            tv_fail(t, "blob '%s': bad shape or dtype", b->name);
            return;
        }
        for (int32_t i = 0; i < j; i++) {
            if (t->c->blobs[i].role == b->role && strcmp(t->c->blobs[i].name, b->name) == 0) {
                tv_fail(t, "two %s blobs named '%s'", b->role == TV_INPUT ? "input" : "expected",
                        b->name);
                return;
            }
        }
        unsigned char *p = arena_alloc(t, b->dtype, n);
        if (!p) {
            return;
        }
        size_t nbytes = (size_t)n * dtype_sizes[b->dtype];
        why[0] = '\0';
        if (load(env, b, p, nbytes, why, sizeof why) != 0) {
            tv_fail(t, "blob '%s': %s", b->name, why);
            return;
        }
        tv_sha256_hex(p, nbytes, hex);
        if (strcmp(hex, b->sha256) != 0) {
            tv_fail(t, "blob '%s' (%s): sha256 %s does not match the manifest's %s", b->name,
                    b->file ? b->file : "embedded", hex, b->sha256);
            return;
        }
        t->data[j] = p;
        t->count[j] = n;
        t->checked[j] = 0;
    }
}

static tv_kernel_stats *stats_for(tv_report *r, const char *kernel)
{
    for (int32_t k = 0; k < r->nkernels; k++) {
        if (strncmp(r->kernels[k].kernel, kernel, sizeof r->kernels[k].kernel - 1) == 0) {
            return &r->kernels[k];
        }
    }
    if (r->nkernels == TV_MAX_KERNELS) {
        return &r->kernels[TV_MAX_KERNELS - 1]; /* lumped into the last row */
    }
    tv_kernel_stats *s = &r->kernels[r->nkernels++];
    strncpy(s->kernel, kernel, sizeof s->kernel - 1);
    s->kernel[sizeof s->kernel - 1] = '\0';
    s->passed = s->failed = 0;
    return s;
}

void tv_report_init(tv_report *r, int verbose)
{
    memset(r, 0, sizeof *r);
    r->verbose = verbose;
}

/* The case's structure, before any blob is loaded: counts within the runner's capacity,
 * every name present, parameter names unique. */
static void validate_case(tv_ctx *t)
{
    const tv_case *c = t->c;
    if (c->nparams < 0 || c->nparams > TV_MAX_PARAMS || (c->nparams > 0 && !c->params)) {
        tv_fail(t, "%ld parameters: outside [0, TV_MAX_PARAMS = %d]", (long)c->nparams,
                TV_MAX_PARAMS);
        return;
    }
    if (c->nblobs < 0 || c->nblobs > TV_MAX_BLOBS || (c->nblobs > 0 && !c->blobs)) {
        tv_fail(t, "%ld blobs: outside [0, TV_MAX_BLOBS = %d]", (long)c->nblobs, TV_MAX_BLOBS);
        return;
    }
    for (int32_t j = 0; j < c->nparams; j++) {
        if (!c->params[j].name) {
            tv_fail(t, "a parameter without a name");
            return;
        }
        for (int32_t i = 0; i < j; i++) {
            if (strcmp(c->params[i].name, c->params[j].name) == 0) {
                tv_fail(t, "two parameters named '%s'", c->params[j].name);
                return;
            }
        }
    }
    for (int32_t j = 0; j < c->nblobs; j++) {
        if (!c->blobs[j].name || !c->blobs[j].sha256 ||
            (c->blobs[j].role != TV_INPUT && c->blobs[j].role != TV_EXPECTED)) {
            tv_fail(t, "blob %ld lacks a name, a role or a sha256", (long)j);
            return;
        }
    }
}

/* After the handler: a parameter or input blob it never asked for is a malformed case (a
 * misspelt name would otherwise go unnoticed). */
static void check_all_used(tv_ctx *t)
{
    for (int32_t j = 0; j < t->c->nparams && !t->failed; j++) {
        if (!t->used_param[j]) {
            tv_fail(t, "parameter '%s' is not one of the kernel's", t->c->params[j].name);
        }
    }
    for (int32_t j = 0; j < t->c->nblobs && !t->failed; j++) {
        if (t->c->blobs[j].role == TV_INPUT && !t->used_blob[j]) {
            tv_fail(t, "input blob '%s' is not one of the kernel's", t->c->blobs[j].name);
        }
    }
}

int tv_run_case(tv_report *r, const tv_case *c, tv_load_fn load, void *env)
{
    static tv_ctx ctx; /* large-ish; one case at a time */
    tv_ctx *t = &ctx;
    memset(t, 0, sizeof *t);
    t->c = c;
    arenas_reset(t);
    tv_handler run = find_handler(c->kernel);
    if (!run) {
        tv_fail(t, "this runner has no handler for kernel '%s'", c->kernel);
    }
    if (!t->failed) {
        validate_case(t);
    }
    if (!t->failed) {
        load_blobs(t, load, env);
    }
    if (!t->failed) {
        run(t);
    }
    if (!t->failed) {
        check_all_used(t);
    }
    if (!t->failed && t->nstatus == 0) {
        tv_fail(t, "the handler never reported the kernel's status (handler bug)");
    }
    for (int32_t j = 0; j < c->nblobs && !t->failed; j++) {
        if (c->blobs[j].role == TV_EXPECTED && t->checked[j] != t->count[j]) {
            tv_fail(t, "expected blob '%s' was not compared (handler bug)", c->blobs[j].name);
        }
    }
    tv_kernel_stats *s = stats_for(r, c->kernel);
    if (t->failed) {
        r->failed++;
        s->failed++;
        printf("FAIL %s: %s\n", c->id, t->msg);
        if (c->comment && c->comment[0]) {
            printf("     (%s)\n", c->comment);
        }
    } else {
        r->passed++;
        s->passed++;
        if (r->verbose) {
            printf("ok   %s\n", c->id);
        }
    }
    fflush(stdout);
    return !t->failed;
}

void tv_report_error(tv_report *r, const char *what, const char *msg)
{
    r->failed++;
    printf("FAIL %s: %s\n", what, msg);
}

int tv_report_finish(tv_report *r)
{
    printf("%-38s %7s %7s\n", "kernel", "passed", "failed");
    for (int32_t k = 0; k < r->nkernels; k++) {
        printf("%-38s %7ld %7ld\n", r->kernels[k].kernel, (long)r->kernels[k].passed,
               (long)r->kernels[k].failed);
    }
    if (r->passed + r->failed == 0) {
        tv_report_error(r, "runner", "no case ran");
    }
    printf("%ld passed, %ld failed\n", (long)r->passed, (long)r->failed);
    fflush(stdout);
    return r->failed == 0 ? 0 : 1;
}
