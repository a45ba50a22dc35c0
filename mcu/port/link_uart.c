/*
 * mcu/port/link_uart.c - the device link on the MPS2 boards (QEMU mps2-an386 / mps2-an385):
 * UART0 of the CMSDK APB UART (0x40004000), polled; QEMU connects it to the chardev given by
 * -serial (stdio, a pipe or a socket). The device id and boot value come from the command line
 * (semihosting SYS_GET_CMDLINE; QEMU's -append "device=N boot=M"). A start-up failure is
 * printed on the semihosting console.
 *
 * Waiting for a byte sleeps (WFI) instead of spinning, so an emulated device idles without
 * burning a host core: interrupts stay masked (PRIMASK), the UART's receive interrupt is
 * enabled in the NVIC only so that its pending state wakes WFI; no handler ever runs.
 */
#include <stdio.h>
#include <string.h>

#include "device_fw.h"

#define TR_UART0_BASE 0x40004000u
#define TR_UART_DATA  (*(volatile uint32_t *)(TR_UART0_BASE + 0x00u))
#define TR_UART_STATE (*(volatile uint32_t *)(TR_UART0_BASE + 0x04u))
#define TR_UART_CTRL  (*(volatile uint32_t *)(TR_UART0_BASE + 0x08u))
#define TR_UART_INTCLEAR (*(volatile uint32_t *)(TR_UART0_BASE + 0x0Cu))
#define TR_UART_BAUDDIV (*(volatile uint32_t *)(TR_UART0_BASE + 0x10u))
#define TR_UART_CTRL_RXIRQEN 8u
#define TR_UART_INT_RX 2u
/* NVIC: UART0's receive interrupt is IRQ 0 on the MPS2 boards. */
#define TR_NVIC_ISER0 (*(volatile uint32_t *)0xE000E100u)
#define TR_NVIC_ICPR0 (*(volatile uint32_t *)0xE000E280u)
#define TR_UART0_RX_IRQ 0u
#define TR_UART_STATE_TXFULL 1u
#define TR_UART_STATE_RXFULL 2u
#define TR_UART_CTRL_TXEN 1u
#define TR_UART_CTRL_RXEN 2u

#define TR_SH_SYS_GET_CMDLINE 0x15u

static uint32_t tr__semihost(uint32_t op, void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

/* The decimal number after `key` in s (0 if absent); returns -1 if malformed. */
static int32_t tr__arg(const char *s, const char *key, uint32_t *out)
{
    const char *p = strstr(s, key);
    uint32_t v = 0;
    int digits = 0;
    *out = 0;
    if (p == NULL) {
        return 0;
    }
    for (p += strlen(key); *p >= '0' && *p <= '9'; p++, digits++) {
        if (v > 429496729u) {
            return -1;
        }
        v = v * 10u + (uint32_t)(*p - '0');
    }
    *out = v;
    return digits > 0 ? 0 : -1;
}

int32_t tr_link_open(tr_link_args *args)
{
    static char line[128];
    struct { char *buf; uint32_t len; } block = {line, sizeof line - 1};
    memset(line, 0, sizeof line);
    if (tr__semihost(TR_SH_SYS_GET_CMDLINE, &block) != 0) {
        line[0] = '\0';
    }
    if (tr__arg(line, "device=", &args->device_id) != 0 || tr__arg(line, "boot=", &args->boot) != 0) {
        printf("device: bad command line '%s' (want device=N boot=M)\n", line);
        return -1;
    }
    __asm__ volatile("cpsid i" ::: "memory");
    TR_UART_BAUDDIV = 16u;
    TR_UART_CTRL = TR_UART_CTRL_TXEN | TR_UART_CTRL_RXEN | TR_UART_CTRL_RXIRQEN;
    TR_NVIC_ISER0 = 1u << TR_UART0_RX_IRQ;
    return 0;
}

int32_t tr_link_read(uint8_t *buf, int32_t cap)
{
    int32_t n = 0;
    while (!(TR_UART_STATE & TR_UART_STATE_RXFULL)) {
        __asm__ volatile("wfi" ::: "memory");
    }
    while (n < cap && (TR_UART_STATE & TR_UART_STATE_RXFULL)) {
        buf[n++] = (uint8_t)TR_UART_DATA;
        TR_UART_INTCLEAR = TR_UART_INT_RX;
        TR_NVIC_ICPR0 = 1u << TR_UART0_RX_IRQ;
    }
    return n;
}

int32_t tr_link_write(void *ctx, const uint8_t *data, int32_t n)
{
    int32_t j;
    (void)ctx;
    for (j = 0; j < n; j++) {
        while (TR_UART_STATE & TR_UART_STATE_TXFULL) {
        }
        TR_UART_DATA = data[j];
    }
    return 0;
}

void tr_link_close(int32_t status)
{
    if (status != TR_OK) {
        printf("device: status %d: %s\n", (int)status, tr_status_str(status));
    }
}

void tr_link_log(uint32_t round_id, int32_t status, uint32_t stack_used)
{
    fprintf(stdout, "round_id %lu status %ld stack_used %lu\n", (unsigned long)round_id,
            (long)status, (unsigned long)stack_used);
    fflush(stdout);
}
