/*
 * mcu/selftest/crash.c - executes a permanently undefined instruction (UDF), which
 * raises a UsageFault escalated to HardFault (on RISC-V: unimp, an illegal-instruction
 * exception); the port (mcu/port/startup.c, startup_riscv.c) must turn that into exit 70.
 */
#include <stdio.h>

int main(void)
{
    printf("crash: executing udf\n");
    fflush(stdout);
#if defined(__arm__)
    __asm__ volatile("udf #0" ::: "memory");
#elif defined(__riscv)
    __asm__ volatile("unimp" ::: "memory"); /* illegal instruction, mcu/port/startup_riscv.c */
#endif
    printf("crash: still alive after udf\n");
    return 0;
}
