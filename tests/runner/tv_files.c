/*
 * tv_files.c - feeds the runner from vectors/manifest.json and the blob files through stdio:
 * on a host, or on an MCU through semihosting (newlib's rdimon turns fopen/fread into host
 * file access).
 *
 * The manifest is read with a small streaming JSON reader: one case at a time into a fixed
 * buffer, so memory use does not grow with the number of cases and no malloc is needed. It
 * accepts any JSON layout (keys in any order, any white space) of the manifest schema, with
 * two rules of its own: "schema_version" must come before "cases", and integers must fit int32.
 * Unknown keys are skipped. A truncated or malformed manifest is a failure, never a pass.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tv.h"

#ifndef TV_POOL_BYTES
#define TV_POOL_BYTES 8192 /* strings of one case: id, names, paths, checksums, comment */
#endif
#ifndef TV_PATH_MAX
#define TV_PATH_MAX 512
#endif

typedef struct {
    FILE *f;
    int c; /* the lookahead character; EOF at the end */
    long line;
    int err;
    char msg[200];
} jr;

static void adv(jr *j)
{
    if (j->c == '\n') {
        j->line++;
    }
    j->c = getc(j->f);
}

static void jerr(jr *j, const char *fmt, ...)
{
    if (j->err) {
        return;
    }
    j->err = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->msg, sizeof j->msg, fmt, ap);
    va_end(ap);
}

static void ws(jr *j)
{
    while (j->c == ' ' || j->c == '\t' || j->c == '\n' || j->c == '\r') {
        adv(j);
    }
}

static int accept(jr *j, int ch)
{
    ws(j);
    if (!j->err && j->c == ch) {
        adv(j);
        return 1;
    }
    return 0;
}

static void expect(jr *j, int ch)
{
    if (!accept(j, ch)) {
        jerr(j, "expected '%c'", ch);
    }
}

static int hexval(int ch)
{
    return (ch >= '0' && ch <= '9') ? ch - '0'
           : (ch >= 'a' && ch <= 'f') ? ch - 'a' + 10
           : (ch >= 'A' && ch <= 'F') ? ch - 'A' + 10 : -1;
}

/* Reads a JSON string into buf[cap] (cap 0: discard it). Too long: an error, or cut short
 * when `truncate`. Non-ASCII \u escapes become '?' (the manifest is ASCII). */
static void str(jr *j, char *buf, size_t cap, int truncate)
{
    size_t n = 0;
    ws(j);
    if (j->err) {
        return;
    }
    if (j->c != '"') {
        jerr(j, "expected a string");
        return;
    }
    adv(j);
    for (;;) {
        int ch = j->c;
        if (ch == EOF || ch == '\n') {
            jerr(j, "unterminated string");
            break;
        }
        adv(j);
        if (ch == '"') {
            break;
        }
        if (ch == '\\') {
            int e = j->c;
            adv(j);
            switch (e) {
            case '"': case '\\': case '/': ch = e; break;
            case 'b': ch = '\b'; break;
            case 'f': ch = '\f'; break;
            case 'n': ch = '\n'; break;
            case 'r': ch = '\r'; break;
            case 't': ch = '\t'; break;
            case 'u': {
                int code = 0;
                for (int k = 0; k < 4; k++) {
                    int v = hexval(j->c);
                    if (v < 0) {
                        jerr(j, "bad \\u escape");
                        return;
                    }
                    code = code * 16 + v;
                    adv(j);
                }
                ch = (code > 0 && code < 0x80) ? code : '?';
                break;
            }
            default:
                jerr(j, "bad escape '\\%c'", e);
                return;
            }
        }
        if (cap) {
            if (n + 1 < cap) {
                buf[n++] = (char)ch;
            } else if (!truncate) {
                jerr(j, "string longer than %lu characters", (unsigned long)(cap - 1));
                break;
            }
        }
    }
    if (cap) {
        buf[n] = '\0';
    }
}

/* An integer that fits int32. */
static int32_t num(jr *j)
{
    long long v = 0;
    int neg = 0, digits = 0;
    ws(j);
    if (j->c == '-') {
        neg = 1;
        adv(j);
    }
    while (j->c >= '0' && j->c <= '9') {
        v = v * 10 + (j->c - '0');
        digits++;
        if (v > 2147483648LL) {
            jerr(j, "integer out of int32 range");
            return 0;
        }
        adv(j);
    }
    if (!digits || j->c == '.' || j->c == 'e' || j->c == 'E') {
        jerr(j, "expected an integer");
        return 0;
    }
    v = neg ? -v : v;
    if (v > 2147483647LL) {
        jerr(j, "integer out of int32 range");
        return 0;
    }
    return (int32_t)v;
}

static void skip_value(jr *j, int depth)
{
    ws(j);
    if (j->err) {
        return;
    }
    if (depth > 32) {
        jerr(j, "nested too deeply");
        return;
    }
    if (j->c == '"') {
        str(j, NULL, 0, 0);
    } else if (j->c == '{') {
        adv(j);
        if (accept(j, '}')) {
            return;
        }
        do {
            str(j, NULL, 0, 0);
            expect(j, ':');
            skip_value(j, depth + 1);
        } while (!j->err && accept(j, ','));
        expect(j, '}');
    } else if (j->c == '[') {
        adv(j);
        if (accept(j, ']')) {
            return;
        }
        do {
            skip_value(j, depth + 1);
        } while (!j->err && accept(j, ','));
        expect(j, ']');
    } else if (j->c == '-' || (j->c >= '0' && j->c <= '9')) {
        while (j->c == '-' || j->c == '+' || j->c == '.' || j->c == 'e' || j->c == 'E' ||
               (j->c >= '0' && j->c <= '9')) {
            adv(j);
        }
    } else if (j->c >= 'a' && j->c <= 'z') { /* true, false, null */
        char word[8];
        int n = 0;
        while (j->c >= 'a' && j->c <= 'z' && n < 7) {
            word[n++] = (char)j->c;
            adv(j);
        }
        word[n] = '\0';
        if (strcmp(word, "true") && strcmp(word, "false") && strcmp(word, "null")) {
            jerr(j, "unexpected '%s'", word);
        }
    } else {
        jerr(j, "unexpected character '%c'", j->c);
    }
}

/* ------------------------------------------------------------------- one case */

typedef struct {
    tv_case c;
    tv_param params[TV_MAX_PARAMS];
    tv_blob blobs[TV_MAX_BLOBS];
    char pool[TV_POOL_BYTES];
    size_t used;
} case_buf;

static const char *pool_str(jr *j, case_buf *cb, int truncate)
{
    char *p = cb->pool + cb->used;
    size_t room = sizeof cb->pool - cb->used;
    if (room < 2) {
        jerr(j, "case strings exceed TV_POOL_BYTES = %d", TV_POOL_BYTES);
        return "";
    }
    str(j, p, room, truncate);
    if (j->err) {
        return "";
    }
    cb->used += strlen(p) + 1;
    return p;
}

static void read_blob(jr *j, case_buf *cb, tv_blob *b)
{
    static const char *const dtypes[TV_NDTYPES] = {"f32", "s8", "u8", "s16", "s32"};
    char key[32], word[16];
    unsigned seen = 0;
    expect(j, '{');
    do {
        str(j, key, sizeof key, 1);
        expect(j, ':');
        if (j->err) {
            return;
        }
        if (!strcmp(key, "name")) {
            b->name = pool_str(j, cb, 0);
            seen |= 1u;
        } else if (!strcmp(key, "role")) {
            str(j, word, sizeof word, 1);
            if (!strcmp(word, "input")) {
                b->role = TV_INPUT;
            } else if (!strcmp(word, "expected")) {
                b->role = TV_EXPECTED;
            } else {
                jerr(j, "unknown blob role \"%s\"", word);
            }
            seen |= 2u;
        } else if (!strcmp(key, "dtype")) {
            str(j, word, sizeof word, 1);
            int d = 0;
            while (d < TV_NDTYPES && strcmp(word, dtypes[d])) {
                d++;
            }
            if (d == TV_NDTYPES) {
                jerr(j, "unknown dtype \"%s\"", word);
            }
            b->dtype = (tv_dtype)d;
            seen |= 4u;
        } else if (!strcmp(key, "shape")) {
            expect(j, '[');
            b->ndim = 0;
            if (!accept(j, ']')) {
                do {
                    if (b->ndim == TV_MAX_NDIM) {
                        jerr(j, "more than %d dimensions", TV_MAX_NDIM);
                        return;
                    }
                    b->shape[b->ndim++] = num(j);
                } while (!j->err && accept(j, ','));
                expect(j, ']');
            }
            seen |= 8u;
        } else if (!strcmp(key, "file")) {
            b->file = pool_str(j, cb, 0);
            seen |= 16u;
        } else if (!strcmp(key, "sha256")) {
            b->sha256 = pool_str(j, cb, 0);
            seen |= 32u;
        } else {
            skip_value(j, 1);
        }
    } while (!j->err && accept(j, ','));
    expect(j, '}');
    if (!j->err && seen != 63u) {
        jerr(j, "a blob lacks name, role, dtype, shape, file or sha256");
    }
}

static void read_case(jr *j, case_buf *cb)
{
    char key[32];
    unsigned seen = 0;
    memset(&cb->c, 0, sizeof cb->c);
    cb->used = 0;
    cb->c.comment = "";
    expect(j, '{');
    do {
        str(j, key, sizeof key, 1);
        expect(j, ':');
        if (j->err) {
            return;
        }
        if (!strcmp(key, "id")) {
            cb->c.id = pool_str(j, cb, 0);
            seen |= 1u;
        } else if (!strcmp(key, "kernel")) {
            cb->c.kernel = pool_str(j, cb, 0);
            seen |= 2u;
        } else if (!strcmp(key, "status")) {
            cb->c.status = num(j);
            seen |= 4u;
        } else if (!strcmp(key, "comment")) {
            cb->c.comment = pool_str(j, cb, 1);
        } else if (!strcmp(key, "params")) {
            expect(j, '{');
            cb->c.nparams = 0;
            if (!accept(j, '}')) {
                do {
                    if (cb->c.nparams == TV_MAX_PARAMS) {
                        jerr(j, "more than TV_MAX_PARAMS = %d parameters", TV_MAX_PARAMS);
                        return;
                    }
                    tv_param *p = &cb->params[cb->c.nparams++];
                    p->name = pool_str(j, cb, 0);
                    expect(j, ':');
                    ws(j);
                    if (j->c == '"') {
                        p->str = pool_str(j, cb, 0);
                        p->value = 0;
                    } else {
                        p->str = NULL;
                        p->value = num(j);
                    }
                } while (!j->err && accept(j, ','));
                expect(j, '}');
            }
            cb->c.params = cb->params;
            seen |= 8u;
        } else if (!strcmp(key, "blobs")) {
            expect(j, '[');
            cb->c.nblobs = 0;
            if (!accept(j, ']')) {
                do {
                    if (cb->c.nblobs == TV_MAX_BLOBS) {
                        jerr(j, "more than TV_MAX_BLOBS = %d blobs", TV_MAX_BLOBS);
                        return;
                    }
                    tv_blob *b = &cb->blobs[cb->c.nblobs++];
                    memset(b, 0, sizeof *b);
                    read_blob(j, cb, b);
                } while (!j->err && accept(j, ','));
                expect(j, ']');
            }
            cb->c.blobs = cb->blobs;
            seen |= 16u;
        } else {
            skip_value(j, 1);
        }
    } while (!j->err && accept(j, ','));
    expect(j, '}');
    if (!j->err && seen != 31u) {
        jerr(j, "a case lacks id, kernel, status, params or blobs");
    }
}

/* ------------------------------------------------------------- blob loading */

typedef struct {
    char dir[TV_PATH_MAX]; /* the manifest's directory, with a trailing '/', or "" */
} file_env;

/* 1 when `file` names a path below the manifest's directory: not empty, not absolute, no ".."
 * component, no backslash or drive colon (a manifest never reaches outside its directory). */
static int relative_inside(const char *file)
{
    const char *p = file;
    if (!file[0] || file[0] == '/' || strchr(file, '\\') || strchr(file, ':')) {
        return 0;
    }
    while (*p) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 0 || (n == 2 && p[0] == '.' && p[1] == '.')) {
            return 0;
        }
        p += n;
        if (*p == '/') {
            p++;
            if (!*p) {
                return 0; /* a trailing slash names a directory */
            }
        }
    }
    return 1;
}

static int load_file(void *env, const tv_blob *b, void *dst, size_t nbytes, char *msg, size_t msglen)
{
    const file_env *fe = env;
    char path[TV_PATH_MAX];
    if (!b->file || !relative_inside(b->file)) {
        snprintf(msg, msglen, "file \"%s\" is not a relative path inside the manifest's "
                              "directory", b->file ? b->file : "");
        return 1;
    }
    if (strlen(fe->dir) + strlen(b->file) + 1 > sizeof path) {
        snprintf(msg, msglen, "path too long");
        return 1;
    }
    strcpy(path, fe->dir);
    strcat(path, b->file);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(msg, msglen, "cannot open %s", path);
        return 1;
    }
    size_t got = nbytes ? fread(dst, 1, nbytes, f) : 0;
    int extra = getc(f) != EOF;
    fclose(f);
    if (got != nbytes || extra) {
        snprintf(msg, msglen, "%s has %s bytes than its shape needs (%lu)", path,
                 extra ? "more" : "fewer", (unsigned long)nbytes);
        return 1;
    }
    return 0;
}

void tv_run_manifest(tv_report *r, const char *path)
{
    static char dir[TV_PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (size_t)(slash - path) + 1 : 0;
    if (dlen >= sizeof dir) {
        tv_report_error(r, path, "path too long");
        return;
    }
    memcpy(dir, path, dlen);
    dir[dlen] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f) {
        tv_report_error(r, path, "cannot open the manifest");
        return;
    }
    tv_run_manifest_stream(r, f, dir, path);
    fclose(f);
}

void tv_run_manifest_stream(tv_report *r, FILE *f, const char *dir, const char *path)
{
    static case_buf cb;
    static file_env fe;
    static jr j;
    char key[32], gname[64] = "?", gversion[32] = "?";
    int32_t schema = -1, case_count = -1, ran = 0;

    if (strlen(dir) >= sizeof fe.dir) {
        tv_report_error(r, path, "path too long");
        return;
    }
    strcpy(fe.dir, dir);
    memset(&j, 0, sizeof j);
    j.line = 1;
    j.f = f;
    j.c = getc(j.f);
    expect(&j, '{');
    do {
        str(&j, key, sizeof key, 1);
        expect(&j, ':');
        if (j.err) {
            break;
        }
        if (!strcmp(key, "schema_version")) {
            schema = num(&j);
            if (!j.err && schema != 1) {
                jerr(&j, "schema_version %ld: this runner reads version 1", (long)schema);
            }
        } else if (!strcmp(key, "generator")) {
            expect(&j, '{');
            if (!accept(&j, '}')) {
                do {
                    str(&j, key, sizeof key, 1);
                    expect(&j, ':');
                    if (!strcmp(key, "name")) {
                        str(&j, gname, sizeof gname, 1);
                    } else if (!strcmp(key, "version")) {
                        str(&j, gversion, sizeof gversion, 1);
                    } else {
                        skip_value(&j, 1);
                    }
                } while (!j.err && accept(&j, ','));
                expect(&j, '}');
            }
        } else if (!strcmp(key, "case_count")) {
            case_count = num(&j);
        } else if (!strcmp(key, "cases")) {
            if (schema != 1) {
                jerr(&j, "\"cases\" before \"schema_version\"");
                break;
            }
            printf("vectors: %s (generator %s %s)\n", path, gname, gversion);
            expect(&j, '[');
            if (!accept(&j, ']')) {
                do {
                    read_case(&j, &cb);
                    if (j.err) {
                        break;
                    }
                    tv_run_case(r, &cb.c, load_file, &fe);
                    ran++;
                } while (accept(&j, ','));
                expect(&j, ']');
            }
        } else {
            skip_value(&j, 1);
        }
    } while (!j.err && accept(&j, ','));
    expect(&j, '}');
    ws(&j);
    if (!j.err && j.c != EOF) {
        jerr(&j, "text after the end of the manifest");
    }
    if (!j.err && schema != 1) {
        jerr(&j, "no schema_version");
    }
    if (!j.err && case_count != ran) {
        jerr(&j, "case_count says %ld cases, the manifest holds %ld", (long)case_count, (long)ran);
    }
    if (j.err) {
        char where[TV_PATH_MAX + 32];
        snprintf(where, sizeof where, "%s:%ld", path, j.line);
        tv_report_error(r, where, j.msg);
    }
}
