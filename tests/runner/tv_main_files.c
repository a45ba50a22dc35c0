/*
 * tv_main_files.c - the runner fed from files: vectors/manifest.json and its blobs.
 *
 *   host:  tv_runner_files [-v] [path/to/manifest.json]
 *   MCU:   main(void) (bare-metal start-up code passes no arguments) reads TV_MANIFEST
 *          through semihosting, relative to the directory QEMU or the debugger runs in.
 */
#include <stdio.h>
#include <string.h>

#include "tv.h"

#ifndef TV_MANIFEST
#define TV_MANIFEST "vectors/manifest.json"
#endif

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

static int run(int verbose, const char *manifest)
{
    tv_report r;
    tv_report_init(&r, verbose);
    if (!tv_little_endian()) {
        tv_report_error(&r, "runner", "this machine is big-endian; the blobs are little-endian");
        return tv_report_finish(&r);
    }
    tv_run_manifest(&r, manifest);
    return tv_report_finish(&r);
}

#if TV_MAIN_ARGV
int main(int argc, char **argv)
{
    int verbose = 0;
    const char *manifest = TV_MANIFEST;
    for (int k = 1; k < argc; k++) {
        if (!strcmp(argv[k], "-v")) {
            verbose = 1;
        } else if (argv[k][0] == '-') {
            fprintf(stderr, "usage: %s [-v] [manifest.json]\n", argv[0]);
            return 2;
        } else {
            manifest = argv[k];
        }
    }
    return run(verbose, manifest);
}
#else
int main(void)
{
    return run(0, TV_MANIFEST);
}
#endif
