/*
 * mcu/port/stackmark.c - stack painting and high-water mark, see stackmark.h.
 * Uses __stack_start__ / __stack_end__ from mcu/mps2.ld.
 */
#include "stackmark.h"

#include <stdint.h>

#if defined(__arm__) && defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M'

extern uint32_t __stack_start__[];
extern uint32_t __stack_end__[];

/* Words just below the caller's SP left unpainted, as a safety margin. */
#define TR_PORT_STACK_MARGIN_WORDS 16u

void tr_port_stack_paint(void)
{
    volatile uint32_t *p = __stack_start__;
    uint32_t *sp;

    __asm__ volatile("mov %0, sp" : "=r"(sp));
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

#else /* not an M-profile build: no stack region to measure */

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
