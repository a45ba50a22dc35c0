/* tests/xcheck/plant_fz.c - a planted fault for xcheck's tests: start-up code that sets
 * FPSCR.FZ (flush-to-zero), as some vendor SDKs do, before the traced firmware's main runs.
 * Cortex-M4F only. */
#include <stdint.h>

int trace_fw_main(void);
#define main trace_fw_main
#include "../../mcu/firmware/trace_fw.c"
#undef main

int main(void)
{
    uint32_t fpscr;
    __asm__ volatile("vmrs %0, fpscr" : "=r"(fpscr));
    fpscr |= 1u << 24; /* FZ */
    __asm__ volatile("vmsr fpscr, %0" : : "r"(fpscr));
    return trace_fw_main();
}
