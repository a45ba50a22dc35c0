/*
 * mcu/selftest/overflow.c - recurses until the main stack is exhausted. The MPU
 * guard below RAM (mcu/port/startup.c) must turn this into a fault and a
 * non-zero exit status, with "stack overflow" in the report.
 */
#include <stdio.h>

static int recurse(volatile int *parent, int depth)
{
    volatile int frame[64];

    frame[0] = depth;
    frame[1] = parent != NULL ? parent[0] : 0;
    if (depth == 0)
        return frame[1];
    return recurse(frame, depth - 1) + frame[1]; /* not a tail call */
}

int main(void)
{
    printf("overflow: recursing\n");
    fflush(stdout);
    (void)recurse(NULL, 1000000);
    printf("overflow: survived 1000000 frames, the stack guard did not fire\n");
    return 1;
}
