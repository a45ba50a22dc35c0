/*
 * mcu/port/fpenv.c - the floating-point environment check, see fpenv.h.
 */
#include "fpenv.h"

#include <stddef.h>
#include <stdint.h>

#if defined(__arm__) && defined(__ARM_FP)

#define TR_FPSCR_DN (1u << 25)
#define TR_FPSCR_FZ (1u << 24)
#define TR_FPSCR_RMODE (3u << 22)

static uint32_t fpscr_read(void)
{
    uint32_t v;
    __asm__ volatile("vmrs %0, fpscr" : "=r"(v));
    return v;
}

static char *put_hex(char *p, uint32_t v)
{
    int shift;
    *p++ = '0';
    *p++ = 'x';
    for (shift = 28; shift >= 0; shift -= 4)
        *p++ = "0123456789abcdef"[(v >> shift) & 0xFu];
    return p;
}

static char *put_str(char *p, const char *s)
{
    while (*s != '\0')
        *p++ = *s++;
    return p;
}

const char *tr_port_fpenv_problem(void)
{
    static const char *const rmode[4] = {"", "RMode=RP (toward +inf)", "RMode=RM (toward -inf)",
                                         "RMode=RZ (toward zero)"};
    static char msg[160];
    const uint32_t v = fpscr_read();
    char *p = msg;

    if ((v & (TR_FPSCR_DN | TR_FPSCR_FZ | TR_FPSCR_RMODE)) == 0u)
        return NULL;
    p = put_str(p, "FPSCR=");
    p = put_hex(p, v);
    p = put_str(p, ":");
    if ((v & TR_FPSCR_FZ) != 0u)
        p = put_str(p, " FZ (flush-to-zero) is set;");
    if ((v & TR_FPSCR_DN) != 0u)
        p = put_str(p, " DN (default NaN) is set;");
    if ((v & TR_FPSCR_RMODE) != 0u) {
        p = put_str(p, " ");
        p = put_str(p, rmode[(v & TR_FPSCR_RMODE) >> 22]);
        p = put_str(p, " is not round to nearest;");
    }
    *p = '\0';
    return msg;
}

void tr_port_fpenv_test_set(void)
{
#if defined(TR_PORT_TEST_FPENV)
    uint32_t v = fpscr_read() | (uint32_t)(TR_PORT_TEST_FPENV);
    __asm__ volatile("vmsr fpscr, %0" ::"r"(v) : "memory");
#endif
}

#elif defined(__riscv) && defined(__riscv_flen)

const char *tr_port_fpenv_problem(void)
{
    static const char *const frm[8] = {
        "",
        "fcsr=%: frm=RTZ (toward zero) is not round to nearest, ties to even",
        "fcsr=%: frm=RDN (toward -inf) is not round to nearest, ties to even",
        "fcsr=%: frm=RUP (toward +inf) is not round to nearest, ties to even",
        "fcsr=%: frm=RMM (nearest, ties away) is not round to nearest, ties to even",
        "fcsr=%: frm=5 (reserved) is not round to nearest, ties to even",
        "fcsr=%: frm=6 (reserved) is not round to nearest, ties to even",
        "fcsr=%: frm=7 (dynamic, reserved in fcsr) is not round to nearest, ties to even"};
    static char msg[96];
    uint32_t v;
    const char *s;
    char *p = msg;

    __asm__ volatile("frcsr %0" : "=r"(v));
    if (((v >> 5) & 7u) == 0u)
        return NULL;
    for (s = frm[(v >> 5) & 7u]; *s != '\0'; ++s) {
        if (*s == '%') {
            *p++ = '0';
            *p++ = 'x';
            *p++ = "0123456789abcdef"[(v >> 4) & 0xFu];
            *p++ = "0123456789abcdef"[v & 0xFu];
        } else {
            *p++ = *s;
        }
    }
    *p = '\0';
    return msg;
}

void tr_port_fpenv_test_set(void)
{
#if defined(TR_PORT_TEST_FPENV)
    uint32_t v = (uint32_t)(TR_PORT_TEST_FPENV);
    __asm__ volatile("fsrm %0" ::"r"(v) : "memory");
#endif
}

#else /* no hardware floating point: nothing to check */

const char *tr_port_fpenv_problem(void)
{
    return NULL;
}

void tr_port_fpenv_test_set(void)
{
}

#endif
