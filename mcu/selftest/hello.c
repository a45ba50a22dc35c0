/*
 * mcu/selftest/hello.c - smoke test for the tinyreptile_ref MCU port.
 *
 * Prints, via semihosting printf, the IEEE-754 bits of a float32 dot
 * product and of a fused-multiply-add probe, then returns 0. The same file
 * builds natively on the host; mcu/selftest/selftest.sh checks that the "dot" and
 * "fma_probe" lines are identical on the host and on both MCU targets.
 *
 * fma_probe computes a*a - c with a = 1 + 2^-12 and c = fl(a*a) = 1 + 2^-11.
 * Rounded separately the product loses its 2^-24 term and the result is 0
 * (bits 0x00000000); a fused multiply-add keeps it (0x33800000).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "stackmark.h"

#define N 64

static uint32_t bits_of(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static float dot(const float *a, const float *b, int n)
{
    float acc = 0.0f;
    int i;
    for (i = 0; i < n; ++i)
        acc += a[i] * b[i];
    return acc;
}

static const char *target_name(void)
{
#if defined(__arm__) && defined(__ARM_FP)
    return "arm hard-float";
#elif defined(__arm__)
    return "arm soft-float";
#elif defined(__riscv) && defined(__riscv_flen)
    return "riscv hard-float";
#elif defined(__riscv)
    return "riscv soft-float";
#else
    return "host";
#endif
}

int main(void)
{
    static float a[N];
    static float b[N];
    volatile float va = 1.0f + 1.0f / 4096.0f;
    volatile float vc = 1.0f + 1.0f / 2048.0f;
    float fa;
    float d;
    float probe;
    int i;

    tr_port_stack_paint();

    for (i = 0; i < N; ++i) {
        a[i] = (float)(i + 1) / 7.0f;
        b[i] = 1.0f / (float)(2 * i + 3) - 0.25f;
    }
    d = dot(a, b, N);

    fa = va;
    probe = fa * fa - vc;

    printf("hello from %s\n", target_name());
    printf("dot bits=0x%08lx\n", (unsigned long)bits_of(d));
    printf("fma_probe bits=0x%08lx\n", (unsigned long)bits_of(probe));
    printf("dot %%.9g=%.9g\n", (double)d);
    printf("stack used=%lu bytes\n", (unsigned long)tr_port_stack_used());
    return 0;
}
