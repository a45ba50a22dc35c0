/* mcu/selftest/fail1.c - exits with status 1, the golden-vector runner's failure status:
 * proves that a runner failure propagates through the QEMU wrapper (not turned into 0). */
#include <stdio.h>

int main(void)
{
    printf("fail1: returning 1\n");
    return 1;
}
