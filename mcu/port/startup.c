/*
 * mcu/port/startup.c - bare-metal start-up for the tinyreptile_ref Arm boards (mk/boards.mk):
 * ARMv6-M (Cortex-M0), ARMv7-M (M3, M4F, M7) and ARMv8-M (M33, M55), soft and hard float.
 * The assembly is Thumb-1 (ARMv6-M) so that one file serves every M-profile core.
 *
 * Linked with mcu/port/mps2.ld, -nostartfiles and --specs=rdimon.specs: newlib's
 * C library plus libgloss' semihosting system calls, but this file instead
 * of newlib's crt0. It provides:
 *
 *   - the vector table (section .vectors, placed at address 0);
 *   - Reset_Handler: loads MSP = __stack_end__, enables the FPU (CP10/CP11
 *     full access) before any floating-point instruction when the build has
 *     an FPU (__ARM_FP), copies .data if its load and run addresses differ,
 *     zeroes .bss, opens the semihosting stdio handles, runs constructors,
 *     calls main() and passes its return value to exit(), so QEMU exits
 *     with the program's status (semihosting SYS_EXIT_EXTENDED);
 *   - a guard below the main stack, so that a stack overflow faults: the stack limit
 *     register MSPLIM on ARMv8-M, an MPU region over the 1 MiB below the stack on ARMv7-M
 *     and on ARMv6-M parts with an MPU (the M3 core that runs the M0 image has one);
 *   - on hard-float builds, the floating-point environment check (mcu/port/fpenv.h):
 *     FPSCR must hold round to nearest, no flush-to-zero and no default NaN, else the
 *     program does not run: a message on stderr and exit status TR_PORT_EXIT_FPENV (71);
 *   - a handler for every fault and unexpected exception that switches to
 *     its own small stack, prints the exception number, stacked PC/LR and
 *     fault status registers on the semihosting console (stderr), and
 *     exits with TR_PORT_EXIT_FAULT (70): a crash never looks like a pass;
 *   - _sbrk for malloc, bounded by [__heap_start__, __heap_end__) from the
 *     linker script rather than by the current stack pointer.
 *
 * Integer division by zero is made to trap (CCR.DIV_0_TRP, ARMv7-M and ARMv8-M; ARMv6-M
 * has no divide instruction) so that it faults as it does on the host instead of silently
 * yielding 0.
 */

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fpenv.h"

#define TR_PORT_EXIT_FAULT 70u

/* ARMv6-M (Cortex-M0/M0+/M1): no VTOR write, no CCR.DIV_0_TRP, no fault status registers. */
#if defined(__ARM_ARCH_6M__)
#define TR_PORT_V6M 1
#else
#define TR_PORT_V6M 0
#endif
/* ARMv8-M (Cortex-M23/M33/M55...): the stack limit register MSPLIM (mainline). */
#if defined(__ARM_ARCH_8M_MAIN__) || defined(__ARM_ARCH_8_1M_MAIN__)
#define TR_PORT_V8M_MAIN 1
#else
#define TR_PORT_V8M_MAIN 0
#endif

/* System control block registers (ARMv7-M). */
#define TR_SCB_VTOR  (*(volatile uint32_t *)0xE000ED08u)
#define TR_SCB_CCR   (*(volatile uint32_t *)0xE000ED14u)
#define TR_SCB_CFSR  (*(volatile uint32_t *)0xE000ED28u)
#define TR_SCB_HFSR  (*(volatile uint32_t *)0xE000ED2Cu)
#define TR_SCB_MMFAR (*(volatile uint32_t *)0xE000ED34u)
#define TR_SCB_BFAR  (*(volatile uint32_t *)0xE000ED38u)
#define TR_SCB_CCR_DIV_0_TRP (1u << 4)
#define TR_SCB_CFSR_MSTKERR  (1u << 4)
#define TR_SCB_CFSR_MMARVALID (1u << 7)
#define TR_SCB_CFSR_STKERR   (1u << 12)
#define TR_SCB_CFSR_STKOF    (1u << 20) /* ARMv8-M: stack limit (MSPLIM) violated */

/* PMSAv7 MPU (Cortex-M3/M4/M7 models; PMSAv6 on ARMv6-M has the same registers). */
#define TR_MPU_TYPE (*(volatile uint32_t *)0xE000ED90u)
#define TR_MPU_CTRL (*(volatile uint32_t *)0xE000ED94u)
#define TR_MPU_RNR  (*(volatile uint32_t *)0xE000ED98u)
#define TR_MPU_RBAR (*(volatile uint32_t *)0xE000ED9Cu)
#define TR_MPU_RASR (*(volatile uint32_t *)0xE000EDA0u)
#define TR_MPU_CTRL_ENABLE     (1u << 0)
#define TR_MPU_CTRL_PRIVDEFENA (1u << 2)
#define TR_MPU_RASR_ENABLE     (1u << 0)
#define TR_MPU_RASR_SIZE(log2) ((uint32_t)((log2) - 1) << 1)
#define TR_MPU_RASR_XN         (1u << 28) /* AP = 0b000: no access */

/*
 * Stack guard: the main stack sits at the bottom of RAM (0x20000000 in
 * mcu/port/mps2.ld). In QEMU's MPS2 map the memory below it is a "reserved"
 * hole that reads as zero and ignores writes, so an overflow would go
 * unnoticed; one MPU region makes the 1 MiB below the stack (the linker
 * scripts align the stack to 1 MiB) inaccessible and an overflow faults
 * instead. ARMv8-M uses MSPLIM.
 */
#define TR_STACK_GUARD_LOG2 20
#define TR_STACK_GUARD_BASE ((uint32_t)(uintptr_t)__stack_start__ - (1u << TR_STACK_GUARD_LOG2))

/* Semihosting operations and reason codes. */
#define TR_SH_SYS_WRITE0        0x04u
#define TR_SH_SYS_EXIT          0x18u
#define TR_SH_SYS_EXIT_EXTENDED 0x20u
#define TR_SH_ADP_APPLICATION_EXIT 0x20026u
#define TR_SH_ADP_RUNTIME_ERROR    0x20023u

#define TR_PORT_NUM_IRQ 32

typedef void (*tr_port_handler)(void);

/* Symbols from the linker script (mcu/port/mps2.ld and the other memory maps). */
extern uint32_t __stack_start__[];
extern uint32_t __stack_end__[];
extern uint32_t __data_start__[];
extern uint32_t __data_end__[];
extern uint32_t __data_load__[];
extern uint32_t __bss_start__[];
extern uint32_t __bss_end__[];
extern char __heap_start__[];
extern char __heap_end__[];

/* libgloss (librdimon): opens the semihosting stdin/stdout/stderr. */
extern void initialise_monitor_handles(void);

/* newlib: runs .preinit_array, _init, .init_array. */
extern void __libc_init_array(void);

/* The program. */
extern int main(void);

/* Defined here; prototypes for -Wmissing-prototypes. */
void Reset_Handler(void) __attribute__((naked, noreturn));
void tr_port_fault_entry(void) __attribute__((naked));
void tr_port_start(void) __attribute__((noreturn, noinline, used));
void tr_port_fault(const uint32_t *frame, uint32_t exc_return)
    __attribute__((noreturn, used));
void *_sbrk(ptrdiff_t incr);
void _init(void);
/* Stack for the fault handler, which may be entered with MSP unusable. */
extern uint64_t tr_port_fault_stack[64];
uint64_t tr_port_fault_stack[64];
void _fini(void);

/* Exception handlers: weak aliases so that a program can supply its own. */
void NMI_Handler(void) __attribute__((weak, alias("tr_port_fault_entry")));
void HardFault_Handler(void) __attribute__((weak, alias("tr_port_fault_entry")));
void MemManage_Handler(void) __attribute__((weak, alias("tr_port_fault_entry")));
void BusFault_Handler(void) __attribute__((weak, alias("tr_port_fault_entry")));
void UsageFault_Handler(void) __attribute__((weak, alias("tr_port_fault_entry")));
void SVC_Handler(void) __attribute__((weak, alias("tr_port_fault_entry")));
void DebugMon_Handler(void) __attribute__((weak, alias("tr_port_fault_entry")));
void PendSV_Handler(void) __attribute__((weak, alias("tr_port_fault_entry")));
void SysTick_Handler(void) __attribute__((weak, alias("tr_port_fault_entry")));
void Default_Handler(void) __attribute__((weak, alias("tr_port_fault_entry")));

struct tr_port_vector_table {
    uint32_t *initial_sp;
    tr_port_handler handler[15 + TR_PORT_NUM_IRQ];
};

/* At address 0: initial MSP, then exceptions 1..15, then external IRQs. */
static const struct tr_port_vector_table tr_port_vectors
    __attribute__((section(".vectors"), used, aligned(256))) = {
    __stack_end__,
    {
        Reset_Handler,      /*  1 Reset */
        NMI_Handler,        /*  2 NMI */
        HardFault_Handler,  /*  3 HardFault */
        MemManage_Handler,  /*  4 MemManage */
        BusFault_Handler,   /*  5 BusFault */
        UsageFault_Handler, /*  6 UsageFault */
        0, 0, 0, 0,         /*  7..10 reserved */
        SVC_Handler,        /* 11 SVCall */
        DebugMon_Handler,   /* 12 DebugMonitor */
        0,                  /* 13 reserved */
        PendSV_Handler,     /* 14 PendSV */
        SysTick_Handler,    /* 15 SysTick */
        /* 16.. external interrupts */
        Default_Handler, Default_Handler, Default_Handler, Default_Handler,
        Default_Handler, Default_Handler, Default_Handler, Default_Handler,
        Default_Handler, Default_Handler, Default_Handler, Default_Handler,
        Default_Handler, Default_Handler, Default_Handler, Default_Handler,
        Default_Handler, Default_Handler, Default_Handler, Default_Handler,
        Default_Handler, Default_Handler, Default_Handler, Default_Handler,
        Default_Handler, Default_Handler, Default_Handler, Default_Handler,
        Default_Handler, Default_Handler, Default_Handler, Default_Handler
    }
};

/*
 * Reset: no C until the stack is set and, on FPU builds, CP10/CP11 are
 * enabled (CPACR bits 20..23 at 0xE000ED88, then DSB/ISB), because the
 * compiler may use floating-point registers anywhere in C code (on the
 * Cortex-M55 CP10/CP11 also enable MVE). Thumb-1 only, with the constants
 * in a literal pool after the code, so it assembles for ARMv6-M too.
 */
void Reset_Handler(void)
{
    __asm__ volatile(
        "ldr  r0, 1f\n\t"
        "mov  sp, r0\n\t"
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
        "ldr  r0, 2f\n\t"
        "ldr  r1, [r0]\n\t"
        "ldr  r2, 3f\n\t"
        "orrs r1, r2\n\t"
        "str  r1, [r0]\n\t"
        "dsb\n\t"
        "isb\n\t"
#endif
        "bl   tr_port_start\n\t"
        ".balign 4\n"
        "1: .word __stack_end__\n"
        "2: .word 0xE000ED88\n"
        "3: .word 0x00F00000\n\t");
}

/*
 * crti.o/crtn.o are not linked (-nostartfiles); newlib's
 * __libc_init_array / __libc_fini_array still call _init / _fini around
 * the .init_array / .fini_array walks. C needs nothing there.
 */
void _init(void)
{
}

void _fini(void)
{
}

void tr_port_start(void)
{
    uint32_t *src;
    uint32_t *dst;

#if !TR_PORT_V6M
    TR_SCB_VTOR = (uint32_t)(uintptr_t)&tr_port_vectors;
    TR_SCB_CCR |= TR_SCB_CCR_DIV_0_TRP;
#endif

#if TR_PORT_V8M_MAIN
    /* Stack overflow guard: the stack limit register (UsageFault STKOF below it). */
    __asm__ volatile("msr msplim, %0" ::"r"(__stack_start__) : "memory");
#else
    /* Stack overflow guard below the stack, when there is an MPU (MPU_TYPE.DREGION);
     * default map for everything else. */
    if (((TR_MPU_TYPE >> 8) & 0xFFu) != 0u) {
        TR_MPU_RNR = 0u;
        TR_MPU_RBAR = TR_STACK_GUARD_BASE;
        TR_MPU_RASR = TR_MPU_RASR_XN | TR_MPU_RASR_SIZE(TR_STACK_GUARD_LOG2) |
                      TR_MPU_RASR_ENABLE;
        TR_MPU_CTRL = TR_MPU_CTRL_PRIVDEFENA | TR_MPU_CTRL_ENABLE;
        __asm__ volatile("dsb\n\tisb" ::: "memory");
    }
#endif

    if ((uintptr_t)__data_load__ != (uintptr_t)__data_start__) {
        for (src = __data_load__, dst = __data_start__; dst < __data_end__;)
            *dst++ = *src++;
    }
    for (dst = __bss_start__; dst < __bss_end__;)
        *dst++ = 0u;

    initialise_monitor_handles();

    /* The floating-point environment the numerics contract needs (fpenv.h). */
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

    /* Constructors; newlib registers __libc_fini_array with atexit. */
    __libc_init_array();

    exit(main());
}

void *_sbrk(ptrdiff_t incr)
{
    static char *heap_brk = __heap_start__;
    char *prev = heap_brk;

    if (incr > __heap_end__ - heap_brk || incr < __heap_start__ - heap_brk) {
        errno = ENOMEM;
        return (void *)-1;
    }
    heap_brk += incr;
    return prev;
}

/* ---- fatal exceptions ------------------------------------------------ */

static uint32_t tr_port_semihost(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;

    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static char *tr_port_put_str(char *p, const char *s)
{
    while (*s != '\0')
        *p++ = *s++;
    return p;
}

static char *tr_port_put_hex(char *p, const char *label, uint32_t v)
{
    int shift;

    p = tr_port_put_str(p, label);
    *p++ = '0';
    *p++ = 'x';
    for (shift = 28; shift >= 0; shift -= 4)
        *p++ = "0123456789abcdef"[(v >> shift) & 0xFu];
    return p;
}

/*
 * Entry for every fault / unexpected exception: pass the stacked exception
 * frame (from MSP or PSP, per EXC_RETURN bit 2) and EXC_RETURN itself, and
 * continue on tr_port_fault_stack, since MSP may point into the guard
 * after a stack overflow. The program's stack is left as it was.
 */
void tr_port_fault_entry(void)
{
    __asm__ volatile(
        "mov   r1, lr\n\t"
        "movs  r0, #4\n\t"
        "tst   r0, r1\n\t"
        "bne   1f\n\t"
        "mrs   r0, msp\n\t"
        "b     2f\n"
        "1:    mrs r0, psp\n"
        "2:    ldr r2, 3f\n\t"
        "mov   sp, r2\n\t"
        "bl    tr_port_fault\n\t"
        ".balign 4\n"
        "3: .word tr_port_fault_stack + 512\n\t");
}

/* Refuse to run (fpenv.h): the reason on stderr, then exit TR_PORT_EXIT_FPENV. */
void tr_port_fpenv_refuse(const char *why)
{
    static uint32_t block[2];

    (void)tr_port_semihost(TR_SH_SYS_WRITE0, "tr_port: FATAL floating-point environment: ");
    (void)tr_port_semihost(TR_SH_SYS_WRITE0, why);
    (void)tr_port_semihost(TR_SH_SYS_WRITE0,
                           "\ntr_port: the numerics contract needs round to nearest, no "
                           "flush-to-zero, no default NaN; refusing to run\n");
    block[0] = TR_SH_ADP_APPLICATION_EXIT;
    block[1] = TR_PORT_EXIT_FPENV;
    (void)tr_port_semihost(TR_SH_SYS_EXIT_EXTENDED, block);
    (void)tr_port_semihost(TR_SH_SYS_EXIT, (const void *)TR_SH_ADP_RUNTIME_ERROR);
    for (;;) {
    }
}

void tr_port_fault(const uint32_t *frame, uint32_t exc_return)
{
    static const char *const names[16] = {
        "thread", "reset", "NMI", "HardFault", "MemManage", "BusFault",
        "UsageFault", "reserved", "reserved", "reserved", "reserved",
        "SVCall", "DebugMonitor", "reserved", "PendSV", "SysTick"
    };
    static char msg[256];
    static uint32_t block[2];
    uint32_t ipsr;
#if TR_PORT_V6M
    const uint32_t cfsr = 0u; /* no configurable fault status on ARMv6-M */
#else
    uint32_t cfsr = TR_SCB_CFSR;
#endif
    char *p = msg;

    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    ipsr &= 0x1FFu;

    p = tr_port_put_str(p, "\ntr_port: FATAL ");
    p = tr_port_put_str(p, ipsr < 16u ? names[ipsr] : "unexpected IRQ");
    p = tr_port_put_hex(p, " exception=", ipsr);
    /* The frame is only trusted if it lies inside the stack region. */
    if ((uintptr_t)frame >= (uintptr_t)__stack_start__ &&
        (uintptr_t)(frame + 8) <= (uintptr_t)__stack_end__) {
        p = tr_port_put_hex(p, " pc=", frame[6]);
        p = tr_port_put_hex(p, " lr=", frame[5]);
    } else {
        p = tr_port_put_hex(p, " bad-sp=", (uint32_t)(uintptr_t)frame);
    }
    p = tr_port_put_hex(p, " exc_return=", exc_return);
    if ((uintptr_t)frame < (uintptr_t)__stack_start__ ||
        (cfsr & (TR_SCB_CFSR_MSTKERR | TR_SCB_CFSR_STKERR | TR_SCB_CFSR_STKOF)) != 0u ||
        (!TR_PORT_V6M && (cfsr & TR_SCB_CFSR_MMARVALID) != 0u &&
         TR_SCB_MMFAR - TR_STACK_GUARD_BASE < (1u << TR_STACK_GUARD_LOG2)))
        p = tr_port_put_str(p, "\ntr_port: stack overflow (main stack exhausted)");
#if !TR_PORT_V6M
    p = tr_port_put_hex(p, "\ntr_port: cfsr=", cfsr);
    p = tr_port_put_hex(p, " hfsr=", TR_SCB_HFSR);
    p = tr_port_put_hex(p, " mmfar=", TR_SCB_MMFAR);
    p = tr_port_put_hex(p, " bfar=", TR_SCB_BFAR);
#endif
    p = tr_port_put_str(p, "\n");
    *p = '\0';
    (void)tr_port_semihost(TR_SH_SYS_WRITE0, msg);

    block[0] = TR_SH_ADP_APPLICATION_EXIT;
    block[1] = TR_PORT_EXIT_FAULT;
    (void)tr_port_semihost(TR_SH_SYS_EXIT_EXTENDED, block);
    /* Without the extension a plain run-time-error exit still fails. */
    (void)tr_port_semihost(TR_SH_SYS_EXIT, (const void *)TR_SH_ADP_RUNTIME_ERROR);
    for (;;) {
    }
}
