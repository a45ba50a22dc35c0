/*
 * mcu/port/stackmark.h - stack high-water mark for the tinyreptile_ref MCU port.
 *
 * tr_port_stack_paint() fills the unused part of the main stack (from
 * __stack_start__ up to just below the caller's stack pointer) with a
 * pattern; tr_port_stack_used() later scans for the lowest word that no
 * longer holds the pattern and returns the bytes of stack used since
 * reset, i.e. __stack_end__ minus that address.
 *
 * Typical use:
 *     tr_port_stack_paint();
 *     run_kernel();
 *     printf("stack: %lu bytes\n", (unsigned long)tr_port_stack_used());
 *
 * The result includes the frames of the caller of tr_port_stack_paint()
 * and everything above it (start-up code, main). Measure the cost of one
 * call by taking a baseline first: paint, call nothing, read; then paint,
 * call the kernel, read; the difference is the kernel's own depth.
 *
 * On builds other than an ARM M-profile (e.g. the host), paint does
 * nothing and used returns 0.
 */
#ifndef TR_PORT_STACKMARK_H
#define TR_PORT_STACKMARK_H

#include <stddef.h>

#define TR_PORT_STACK_PATTERN 0xC5A5C5A5u

void tr_port_stack_paint(void);
size_t tr_port_stack_used(void);
size_t tr_port_stack_size(void);

#endif /* TR_PORT_STACKMARK_H */
