/*
 * mcu/selftest/crash.c - executes a permanently undefined instruction (UDF), which
 * raises a UsageFault escalated to HardFault; mcu/port/startup.c must turn that
 * into a non-zero exit status.
 */
#include <stdio.h>

int main(void)
{
    printf("crash: executing udf\n");
    fflush(stdout);
#if defined(__arm__)
    __asm__ volatile("udf #0" ::: "memory");
#endif
    printf("crash: still alive after udf\n");
    return 0;
}
