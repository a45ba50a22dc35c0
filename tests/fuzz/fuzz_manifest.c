/*
 * fuzz_manifest.c - libFuzzer harness for the golden-vector runner's manifest and blob
 * parsing (tests/runner/tv_files.c) and its case validation (tests/runner/tv_core.c).
 *
 * Each input is a manifest's text; it is read from memory by tv_run_manifest_stream(), with
 * blob files taken from the vectors directory (TV_FUZZ_VECTORS in the environment, else the
 * directory compiled in), so a mutated case pairs real blobs (their sha256 matches) with any
 * shapes, dtypes, parameters and statuses. Every case that survives parsing and validation runs
 * its kernel: under AddressSanitizer (each arena buffer has its own redzone) and
 * UndefinedBehaviorSanitizer, any read or write outside a buffer is a crash the fuzzer reports.
 *
 * Built and run by mk/fuzz.mk (make fuzz; make fuzz-test for the short run in make test).
 */
#define _POSIX_C_SOURCE 200809L /* fmemopen */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tv.h"

#ifndef TV_FUZZ_DIR
#define TV_FUZZ_DIR "vectors/"
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char vectors_dir[512] = TV_FUZZ_DIR;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = getenv("TV_FUZZ_VECTORS");
    (void)argc;
    (void)argv;
    if (dir && dir[0]) {
        size_t n = strlen(dir);
        if (n + 2 > sizeof vectors_dir) {
            fprintf(stderr, "fuzz_manifest: TV_FUZZ_VECTORS is too long\n");
            exit(2);
        }
        memcpy(vectors_dir, dir, n + 1);
        if (dir[n - 1] != '/') {
            vectors_dir[n] = '/';
            vectors_dir[n + 1] = '\0';
        }
    }
    /* The runner prints a line per failing case: silent unless asked (TV_FUZZ_VERBOSE=1). */
    if (!getenv("TV_FUZZ_VERBOSE") && !freopen("/dev/null", "w", stdout)) {
        fprintf(stderr, "fuzz_manifest: cannot silence stdout\n");
        exit(2);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tv_report r;
    if (size == 0) {
        return 0; /* fmemopen refuses an empty buffer */
    }
    FILE *f = fmemopen((void *)(uintptr_t)data, size, "rb");
    if (!f) {
        return 0;
    }
    tv_report_init(&r, 0);
    tv_run_manifest_stream(&r, f, vectors_dir, "fuzz-input");
    fclose(f);
    return 0;
}
