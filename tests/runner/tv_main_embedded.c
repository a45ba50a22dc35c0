/*
 * tv_main_embedded.c - the runner fed from cases compiled into the image (no file system):
 * link with the source that `python -m tinyreptile_ref.vectors embed` writes.
 *
 *   host:  tv_runner_embedded [-v]        MCU: main(void)
 */
#include <stdio.h>
#include <string.h>

#include "tv.h"

/* TV_MAIN_ARGV: 1 = main(argc, argv) reads "-v" and a manifest path from its arguments (hosted
 * C libraries); 0 = main(void), arguments ignored. The default is 0 on bare-metal Arm and
 * RISC-V (no __linux__): start-up code there passes nothing, or, like picolibc's semihosting
 * crt0 under QEMU, passes QEMU's command line, whose argv[1] is the kernel image's path and not
 * a manifest. Set -DTV_MAIN_ARGV=0 or 1 to choose. */
#ifndef TV_MAIN_ARGV
#if (defined(__arm__) || defined(__riscv)) && !defined(__linux__)
#define TV_MAIN_ARGV 0
#else
#define TV_MAIN_ARGV 1
#endif
#endif

int tv_load_embedded(void *env, const tv_blob *b, void *dst, size_t nbytes, char *msg,
                     size_t msglen)
{
    (void)env;
    if (nbytes == 0) {
        return 0;
    }
    if (!b->data) {
        snprintf(msg, msglen, "no embedded data");
        return 1;
    }
    memcpy(dst, b->data, nbytes);
    return 0;
}

static int run(int verbose)
{
    tv_report r;
    tv_report_init(&r, verbose);
    if (!tv_little_endian()) {
        tv_report_error(&r, "runner", "this machine is big-endian; the blobs are little-endian");
        return tv_report_finish(&r);
    }
    printf("vectors: embedded (%s)\n", tv_embedded_origin);
    for (int32_t k = 0; k < tv_embedded_case_count; k++) {
        tv_run_case(&r, &tv_embedded_cases[k], tv_load_embedded, NULL);
    }
    return tv_report_finish(&r);
}

#if TV_MAIN_ARGV
int main(int argc, char **argv)
{
    int verbose = 0;
    for (int k = 1; k < argc; k++) {
        if (!strcmp(argv[k], "-v")) {
            verbose = 1;
        } else {
            fprintf(stderr, "usage: %s [-v]\n", argv[0]);
            return 2;
        }
    }
    return run(verbose);
}
#else
int main(void)
{
    return run(0);
}
#endif
