/*
 * mcu/port/link_host.c - the device link on a host: stdin and stdout of a process (pipes from
 * the server), POSIX read/write. The device id and boot value come from the environment,
 * TR_DEVICE_ID and TR_DEVICE_BOOT (decimal). A start-up failure is printed on stderr.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "device_fw.h"

static int32_t tr__env_u32(const char *name, uint32_t *out)
{
    const char *s = getenv(name);
    char *end;
    unsigned long v;
    if (s == NULL || *s == '\0') {
        return -1;
    }
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > 0xFFFFFFFFul) {
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

int32_t tr_link_open(tr_link_args *args)
{
    args->boot = 0;
    if (tr__env_u32("TR_DEVICE_ID", &args->device_id) != 0) {
        fprintf(stderr, "device: TR_DEVICE_ID must be set to a decimal device id\n");
        return -1;
    }
    if (getenv("TR_DEVICE_BOOT") != NULL && tr__env_u32("TR_DEVICE_BOOT", &args->boot) != 0) {
        fprintf(stderr, "device: TR_DEVICE_BOOT must be a decimal number\n");
        return -1;
    }
    return 0;
}

int32_t tr_link_read(uint8_t *buf, int32_t cap)
{
    for (;;) {
        ssize_t n = read(0, buf, (size_t)cap);
        if (n > 0) {
            return (int32_t)n;
        }
        if (n == 0 || errno != EINTR) {
            return -1;
        }
    }
}

int32_t tr_link_write(void *ctx, const uint8_t *data, int32_t n)
{
    (void)ctx;
    while (n > 0) {
        ssize_t w = write(1, data, (size_t)n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        data += w;
        n -= (int32_t)w;
    }
    return 0;
}

void tr_link_close(int32_t status)
{
    if (status != TR_OK) {
        fprintf(stderr, "device: status %d: %s\n", (int)status, tr_status_str(status));
    }
}

void tr_link_log(uint32_t round_id, int32_t status, uint32_t stack_used)
{
    fprintf(stderr, "round_id %lu status %ld stack_used %lu\n", (unsigned long)round_id,
            (long)status, (unsigned long)stack_used);
}
