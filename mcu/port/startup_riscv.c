/*
 * mcu/port/startup_riscv.c - the RISC-V part of the tinyreptile_ref port (boards rv32imac and
 * rv32imafc in mk/boards.mk: QEMU riscv32 "virt", machine mode, picolibc).
 *
 * picolibc's semihosting crt0 (--crt0=semihost) is the start-up code: it sets the stack and
 * gp, copies .data, zeroes .bss, enables the FPU (mstatus.FS) on F builds, runs the
 * constructors and calls main(argc, argv) with QEMU's command line (argv[1] is the kernel
 * path, which the runner ignores: TV_MAIN_ARGV=0), and exit() ends QEMU through
 * semihosting with main's status. This file adds, as a constructor that runs before main:
 *
 *   - the floating-point environment check (fpenv.h): fcsr.frm must be round to nearest,
 *     else "tr_port: FATAL floating-point environment: ..." and exit status 71;
 *   - a stack guard: one locked PMP region (which binds machine mode too) makes the 4 KiB
 *     below the stack (mcu/port/riscv-virt.ld: [__heap_end, __stack)) inaccessible, so an
 *     overflow faults instead of running into the heap and .bss;
 *   - stdout and stderr on QEMU's stdout and stderr (picolibc's send both to stderr);
 *   - its own trap handler, on a private stack: every exception or interrupt prints
 *     "tr_port: FATAL <cause> mcause=... mepc=... mtval=..." (and "tr_port: stack overflow"
 *     when the fault address is in the guard) on stderr and exits with status 70, as the Arm
 *     port does (picolibc's own handler would exit 1, a runner failure's status).
 */
#include <semihost.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "fpenv.h"

/*
 * stdout and stderr as two semihosting files, as newlib's rdimon has them on Arm: ":tt"
 * opened for writing is the debugger's (QEMU's) stdout, opened for appending its stderr.
 * picolibc's own streams (libsemihost's iob.c, which these definitions replace) write both
 * with SYS_WRITEC to QEMU's stderr, so a program's output could not be told from its
 * errors. Opened on first use; characters are written one semihosting call each.
 */
static int tr_port_out_fd = -1;
static int tr_port_err_fd = -1;

static int tr_port_tt_put(int *fd, int mode, char c)
{
    if (*fd < 0)
        *fd = sys_semihost_open(":tt", mode);
    if (*fd < 0)
        return EOF;
    return sys_semihost_write(*fd, &c, 1) == 0 ? (unsigned char)c : EOF;
}

static int tr_port_out_put(char c, FILE *f)
{
    (void)f;
    return tr_port_tt_put(&tr_port_out_fd, SH_OPEN_W, c);
}

static int tr_port_err_put(char c, FILE *f)
{
    (void)f;
    return tr_port_tt_put(&tr_port_err_fd, SH_OPEN_A, c);
}

static int tr_port_no_get(FILE *f)
{
    (void)f;
    return EOF;
}

static FILE tr_port_stdout = FDEV_SETUP_STREAM(tr_port_out_put, NULL, NULL, _FDEV_SETUP_WRITE);
static FILE tr_port_stderr = FDEV_SETUP_STREAM(tr_port_err_put, NULL, NULL, _FDEV_SETUP_WRITE);
static FILE tr_port_stdin = FDEV_SETUP_STREAM(NULL, tr_port_no_get, NULL, _FDEV_SETUP_READ);
FILE *const stdout = &tr_port_stdout;
FILE *const stderr = &tr_port_stderr;
FILE *const stdin = &tr_port_stdin;

#define TR_PORT_EXIT_FAULT 70
#define TR_PORT_GUARD_BYTES 4096u

/* picolibc.ld: the stack is [__heap_end, __stack). */
extern char __heap_end[];
extern char __stack[];

void tr_port_trap_entry(void) __attribute__((naked, aligned(4)));
void tr_port_trap(uint32_t mcause, uint32_t mepc, uint32_t mtval) __attribute__((noreturn, used));
void tr_port_init(void) __attribute__((constructor(101)));

extern uint32_t tr_port_trap_stack[512];
uint32_t tr_port_trap_stack[512];

void tr_port_trap_entry(void)
{
    __asm__ volatile(".option push\n\t"
                     ".option arch, +zicsr\n\t"
                     "la   sp, tr_port_trap_stack + 2048\n\t"
                     "csrr a0, mcause\n\t"
                     "csrr a1, mepc\n\t"
                     "csrr a2, mtval\n\t"
                     "call tr_port_trap\n\t"
                     ".option pop\n\t");
}

void tr_port_trap(uint32_t mcause, uint32_t mepc, uint32_t mtval)
{
    static const char *const names[16] = {
        "instruction address misaligned", "instruction access fault", "illegal instruction",
        "breakpoint", "load address misaligned", "load access fault",
        "store address misaligned", "store access fault", "ecall from U-mode",
        "ecall from S-mode", "reserved", "ecall from M-mode", "instruction page fault",
        "load page fault", "reserved", "store page fault"};
    const uint32_t guard = (uint32_t)(uintptr_t)__heap_end - TR_PORT_GUARD_BYTES;
    const int irq = (mcause & 0x80000000u) != 0u;

    fprintf(stderr, "\ntr_port: FATAL %s mcause=0x%08lx mepc=0x%08lx mtval=0x%08lx\n",
            irq ? "unexpected interrupt" : (mcause < 16u ? names[mcause] : "exception"),
            (unsigned long)mcause, (unsigned long)mepc, (unsigned long)mtval);
    if (!irq && (mcause == 5u || mcause == 7u) && mtval - guard < TR_PORT_GUARD_BYTES)
        fprintf(stderr, "tr_port: stack overflow (main stack exhausted)\n");
    _exit(TR_PORT_EXIT_FAULT);
}

void tr_port_fpenv_refuse(const char *why)
{
    fprintf(stderr,
            "tr_port: FATAL floating-point environment: %s\n"
            "tr_port: the numerics contract needs round to nearest, no flush-to-zero, no "
            "default NaN; refusing to run\n",
            why);
    _exit(TR_PORT_EXIT_FPENV);
}

void tr_port_init(void)
{
    const uint32_t guard = (uint32_t)(uintptr_t)__heap_end - TR_PORT_GUARD_BYTES;
    /* NAPOT: base | (size/2 - 1), in units of 4 bytes; pmpcfg0 entry 0 = L | NAPOT, no RWX. */
    const uint32_t pmpaddr = (guard >> 2) | ((TR_PORT_GUARD_BYTES / 2u - 1u) >> 2);
    const uint32_t pmpcfg = 0x80u | 0x18u;

    __asm__ volatile(".option push\n\t"
                     ".option arch, +zicsr\n\t"
                     "csrw mtvec, %0\n\t"
                     "csrw pmpaddr0, %1\n\t"
                     "csrw pmpcfg0, %2\n\t"
                     ".option pop\n\t" ::"r"(&tr_port_trap_entry),
                     "r"(pmpaddr), "r"(pmpcfg)
                     : "memory");

#if defined(TR_PORT_TEST_FPENV)
    tr_port_fpenv_test_set();
#endif
#if !defined(TR_PORT_NO_FPENV_CHECK)
    {
        const char *why = tr_port_fpenv_problem();
        if (why != NULL)
            tr_port_fpenv_refuse(why);
    }
#endif
}
