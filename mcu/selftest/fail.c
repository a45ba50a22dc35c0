/* mcu/selftest/fail.c - exits with status 3: proves exit status propagation. */
#include <stdio.h>

int main(void)
{
    printf("fail: returning 3\n");
    return 3;
}
