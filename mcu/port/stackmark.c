/*
 * mcu/port/stackmark.c - stack painting and high-water mark, see stackmark.h.
 * Arm: __stack_start__ / __stack_end__ from the linker script (mcu/port/mps2.ld and the other
 * memory maps); RISC-V: picolibc.ld's stack [__heap_end, __stack) (mcu/port/riscv-virt.ld).
 */
#include "stackmark.h"

#include <stdint.h>

#if (defined(__arm__) && defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M') || \
    (defined(__riscv) && !defined(__linux__))

#if defined(__riscv)
extern uint32_t __heap_end[];
extern uint32_t __stack[];
#define __stack_start__ __heap_end
#define __stack_end__ __stack
#else
extern uint32_t __stack_start__[];
extern uint32_t __stack_end__[];
#endif

/* Words just below the caller's SP left unpainted, as a safety margin. */
#define TR_PORT_STACK_MARGIN_WORDS 16u

void tr_port_stack_paint(void)
{
    volatile uint32_t *p = __stack_start__;
    uint32_t *sp;

#if defined(__riscv)
    __asm__ volatile("mv %0, sp" : "=r"(sp));
#else
    __asm__ volatile("mov %0, sp" : "=r"(sp));
#endif
    /* This function's own frame lies at or above sp; stay below it. */
    sp -= TR_PORT_STACK_MARGIN_WORDS;
    while ((uintptr_t)p < (uintptr_t)sp)
        *p++ = TR_PORT_STACK_PATTERN;
}

size_t tr_port_stack_used(void)
{
    const volatile uint32_t *p = __stack_start__;

    while ((uintptr_t)p < (uintptr_t)__stack_end__ &&
           *p == TR_PORT_STACK_PATTERN)
        ++p;
    return (size_t)((uintptr_t)__stack_end__ - (uintptr_t)p);
}

size_t tr_port_stack_size(void)
{
    return (size_t)((uintptr_t)__stack_end__ - (uintptr_t)__stack_start__);
}

#else /* not an M-profile or bare-metal RISC-V build: no stack region to measure */

void tr_port_stack_paint(void)
{
}

size_t tr_port_stack_used(void)
{
    return 0u;
}

size_t tr_port_stack_size(void)
{
    return 0u;
}

#endif
