/*
 * tv.h - the golden-vector runner: replays vectors/ through the C kernels and compares
 * every output bit for bit (all NaNs equal; integers exactly).
 *
 * C99, no Python. Three ways to feed it the same cases:
 *   files     tv_main_files.c reads vectors/manifest.json and the blob files with stdio
 *             (on a host, or on an MCU through semihosting: newlib's rdimon opens host files);
 *   embedded  tv_main_embedded.c runs the cases compiled into the image as const arrays
 *             (python -m tinyreptile_ref.vectors embed writes that source), for boards with
 *             no file system;
 * and both end in tv_run_case() below, which loads each blob into a typed arena (checking its
 * size and sha256), calls the kernel's handler (tv_handlers.c) and compares.
 *
 * Output: one line per failure, a table of passed/failed per kernel, then exactly
 * "N passed, N failed"; the exit status is non-zero on any failure, or when no case ran.
 *
 * Adding a kernel: one handler function in tv_handlers.c and one row in its table.
 */
#ifndef TV_H
#define TV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TV_MAX_NDIM 4

/* Capacity of one case: parameters and blobs (inputs plus expected outputs). */
#ifndef TV_MAX_PARAMS
#define TV_MAX_PARAMS 16
#endif
#ifndef TV_MAX_BLOBS
#define TV_MAX_BLOBS 24
#endif

/* The arenas hold one case's blobs plus its outputs and scratch; one per element type, so
 * every buffer is an object of its own type (no aliasing tricks). The defaults fit every case
 * of vectors/ with room to spare and fit the 4 MiB RAM of the MPS2 boards; a smaller board can
 * lower them (a case that does not fit fails with a message saying how much it needs). */
#ifndef TV_ARENA_F32
#define TV_ARENA_F32 (160 * 1024) /* float32 elements: 640 KiB */
#endif
#ifndef TV_ARENA_S32
#define TV_ARENA_S32 (32 * 1024) /* int32 elements: 128 KiB */
#endif
#ifndef TV_ARENA_S16
#define TV_ARENA_S16 (8 * 1024) /* int16 elements: 16 KiB */
#endif
#ifndef TV_ARENA_BYTES
#define TV_ARENA_BYTES (600 * 1024) /* int8/uint8 elements: 600 KiB */
#endif

typedef enum { TV_F32 = 0, TV_S8, TV_U8, TV_S16, TV_S32, TV_NDTYPES } tv_dtype;
typedef enum { TV_INPUT = 0, TV_EXPECTED = 1 } tv_role;

typedef struct {
    const char *name;
    const char *str; /* the value of a string parameter, or NULL for an integer one */
    int32_t value;   /* the value of an integer parameter */
} tv_param;

typedef struct {
    const char *name;
    tv_role role;
    tv_dtype dtype;
    int32_t ndim;
    int32_t shape[TV_MAX_NDIM];
    const char *file;          /* path relative to the manifest's directory */
    const char *sha256;        /* 64 lower-case hex digits of the blob's bytes */
    const unsigned char *data; /* embedded cases: the bytes (little-endian); else NULL */
} tv_blob;

typedef struct {
    const char *id;     /* "<kernel>/<nnn>-<slug>" */
    const char *kernel; /* the handler to run */
    const char *comment;
    int32_t status; /* the tr_status the kernel must return */
    int32_t nparams;
    const tv_param *params;
    int32_t nblobs;
    const tv_blob *blobs;
} tv_case;

/* Loads blob b's nbytes bytes into dst. Returns 0, or non-zero after writing a message. */
typedef int (*tv_load_fn)(void *env, const tv_blob *b, void *dst, size_t nbytes,
                          char *msg, size_t msglen);

/* ------------------------------------------------------------ running and reporting */

typedef struct {
    char kernel[48];
    int32_t passed, failed;
} tv_kernel_stats;

#ifndef TV_MAX_KERNELS
#define TV_MAX_KERNELS 64
#endif

typedef struct {
    int verbose; /* 1: a line for every case, not only failures */
    int32_t passed, failed;
    int32_t nkernels;
    tv_kernel_stats kernels[TV_MAX_KERNELS];
} tv_report;

void tv_report_init(tv_report *r, int verbose);
/* Runs one case; returns 1 when it passed. Never stops at a failure. */
int tv_run_case(tv_report *r, const tv_case *c, tv_load_fn load, void *env);
/* Counts a failure that is not a case's (an unreadable manifest, say), with its message. */
void tv_report_error(tv_report *r, const char *what, const char *msg);
/* Prints the per-kernel table and the final "N passed, N failed"; returns the exit status. */
int tv_report_finish(tv_report *r);
/* 1 when this machine stores integers little-endian, as the blobs are. */
int tv_little_endian(void);

/* ---------------------------------------------------------------- feeding cases */

/* Files (tv_files.c): runs every case of the manifest at `path`, reading blob files relative
 * to its directory. A manifest that cannot be read to its end counts as a failure. */
void tv_run_manifest(tv_report *r, const char *path);
/* The same from an open stream (the fuzz harness feeds it from memory): blob files are read
 * relative to `dir` ("" or ending in '/'); `path` names the manifest in messages. A blob file
 * must be a relative path with no ".." component (it never leaves `dir`). */
void tv_run_manifest_stream(tv_report *r, FILE *f, const char *dir, const char *path);

/* Embedded (the source `python -m tinyreptile_ref.vectors embed` writes): the cases as const
 * data, blobs in tv_blob.data; tv_load_embedded copies them into the arena. */
extern const tv_case tv_embedded_cases[];
extern const int32_t tv_embedded_case_count;
extern const char tv_embedded_origin[];
int tv_load_embedded(void *env, const tv_blob *b, void *dst, size_t nbytes, char *msg,
                     size_t msglen);

/* ------------------------------------------------------------------ handler API */

typedef struct tv_ctx tv_ctx;
typedef void (*tv_handler)(tv_ctx *t);

typedef struct {
    const char *kernel;
    tv_handler run;
} tv_handler_entry;

extern const tv_handler_entry tv_handlers[];
extern const int32_t tv_handler_count;

/* Parameters; a missing or mistyped one fails the case (and returns 0). */
int32_t tv_int(tv_ctx *t, const char *name);
float tv_f32(tv_ctx *t, const char *name); /* a "f32:0x........" parameter */
const char *tv_str(tv_ctx *t, const char *name);

/* a*b (and a*b*c) when all are >= 0 and the product fits int32, else -1. */
int32_t tv_mul(int32_t a, int32_t b);
int32_t tv_mul3(int32_t a, int32_t b, int32_t c);

/* The arena copy of input blob `name`, writable (in-place kernels update it). `count` is the
 * number of elements the kernel will touch, from the parameters; the blob must hold exactly
 * that many, whatever status the case expects (a negative count, tv_mul's -1 for a product
 * that overflows, fails the case). Call every accessor and read every parameter before the
 * tv_ok() check that guards the kernel call: a parameter or input blob the handler never asks
 * for fails the case after the handler returns. */
float *tv_in_f32(tv_ctx *t, const char *name, int32_t count);
int8_t *tv_in_s8(tv_ctx *t, const char *name, int32_t count);
uint8_t *tv_in_u8(tv_ctx *t, const char *name, int32_t count);
int16_t *tv_in_s16(tv_ctx *t, const char *name, int32_t count);
int32_t *tv_in_s32(tv_ctx *t, const char *name, int32_t count);

/* A fresh buffer for output `name`, shaped like its expected blob and filled with the bitwise
 * complement of the expected bytes, so an element the kernel fails to write never matches.
 * A case expecting an error status may omit the expected blob: the buffer then has `count`
 * elements (none when count < 0: the kernel must refuse such parameters before writing). */
float *tv_out_f32(tv_ctx *t, const char *name, int32_t count);
int8_t *tv_out_s8(tv_ctx *t, const char *name, int32_t count);
uint8_t *tv_out_u8(tv_ctx *t, const char *name, int32_t count);
int16_t *tv_out_s16(tv_ctx *t, const char *name, int32_t count);
int32_t *tv_out_s32(tv_ctx *t, const char *name, int32_t count);

/* 1 when the case has a blob `name` in `role` (optional outputs: pass NULL when absent). */
int tv_has(tv_ctx *t, const char *name, tv_role role);

/* Scratch for intermediate values (multi-step cases); uninitialised contents. */
float *tv_scratch_f32(tv_ctx *t, int32_t count);
int32_t *tv_scratch_s32(tv_ctx *t, int32_t count);
int8_t *tv_scratch_s8(tv_ctx *t, int32_t count);

/* The kernel's status: must equal the case's expected status. Call exactly once per kernel
 * call the case makes (a multi-step case calls it after every kernel). */
void tv_status(tv_ctx *t, int status);
/* Compares `got` (the same element type and count as expected blob `name`) bit for bit.
 * Every expected blob must be checked exactly once, or the case fails. */
void tv_check(tv_ctx *t, const char *name, const void *got);
/* Compares `got` with `count` elements of expected blob `name` starting at element `offset`
 * (a multi-step case checks its trajectory step by step); counts as checked when the last
 * element has been compared. */
void tv_check_part(tv_ctx *t, const char *name, const void *got, int32_t offset, int32_t count);
/* Fails the case with a message (printf-style, short). */
void tv_fail(tv_ctx *t, const char *fmt, ...);
/* 1 while the case has not failed: handlers stop calling kernels once it has. */
int tv_ok(tv_ctx *t);
/* The case's expected status. */
int32_t tv_expected_status(tv_ctx *t);

/* SHA-256 of n bytes, as 64 lower-case hex digits plus NUL. */
void tv_sha256_hex(const void *data, size_t n, char out[65]);

#endif /* TV_H */
