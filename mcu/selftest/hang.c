/* mcu/selftest/hang.c - never returns: mcu/tools/run-qemu.sh must time it out. */
#include <stdio.h>

int main(void)
{
    volatile unsigned long spin = 0;

    printf("hang: looping forever\n");
    fflush(stdout);
    for (;;)
        ++spin;
}
