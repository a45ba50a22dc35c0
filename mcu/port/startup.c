/*
 * mcu/port/startup.c - bare-metal start-up for the tinyreptile_ref MCU targets
 * (QEMU mps2-an386 Cortex-M4F hard float, mps2-an385 Cortex-M3 soft float).
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
 *   - an MPU guard below the main stack, so that a stack overflow faults;
 *   - a handler for every fault and unexpected exception that switches to
 *     its own small stack, prints the exception number, stacked PC/LR and
 *     fault status registers on the semihosting console (stderr), and
 *     exits with TR_PORT_EXIT_FAULT (70): a crash never looks like a pass;
 *   - _sbrk for malloc, bounded by [__heap_start__, __heap_end__) from the
 *     linker script rather than by the current stack pointer.
 *
 * Integer division by zero is made to trap (CCR.DIV_0_TRP) so that it
 * faults as it does on the host instead of silently yielding 0.
 */

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define TR_PORT_EXIT_FAULT 70u

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

/* PMSAv7 MPU (present on both the Cortex-M3 and the Cortex-M4 models). */
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
 * Stack guard: the main stack sits at the bottom of RAM (0x20000000, see
 * mcu/port/mps2.ld). In QEMU's MPS2 map the 256 MiB below it are a "reserved"
 * hole that reads as zero and ignores writes, so an overflow would go
 * unnoticed; one MPU region makes [0x10000000, 0x20000000) inaccessible
 * and an overflow faults instead.
 */
#define TR_STACK_GUARD_BASE 0x10000000u
#define TR_STACK_GUARD_LOG2 28

/* Semihosting operations and reason codes. */
#define TR_SH_SYS_WRITE0        0x04u
#define TR_SH_SYS_EXIT          0x18u
#define TR_SH_SYS_EXIT_EXTENDED 0x20u
#define TR_SH_ADP_APPLICATION_EXIT 0x20026u
#define TR_SH_ADP_RUNTIME_ERROR    0x20023u

#define TR_PORT_NUM_IRQ 32

typedef void (*tr_port_handler)(void);

/* Symbols from mcu/mps2.ld. */
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
 * compiler may use floating-point registers anywhere in C code.
 */
void Reset_Handler(void)
{
    __asm__ volatile(
        "movw r0, #:lower16:__stack_end__\n\t"
        "movt r0, #:upper16:__stack_end__\n\t"
        "mov  sp, r0\n\t"
#if defined(__ARM_FP)
        "movw r0, #0xED88\n\t"
        "movt r0, #0xE000\n\t"
        "ldr  r1, [r0]\n\t"
        "orr  r1, r1, #(0xF << 20)\n\t"
        "str  r1, [r0]\n\t"
        "dsb\n\t"
        "isb\n\t"
#endif
        "b    tr_port_start\n\t");
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

    TR_SCB_VTOR = (uint32_t)(uintptr_t)&tr_port_vectors;
    TR_SCB_CCR |= TR_SCB_CCR_DIV_0_TRP;

    /* Stack overflow guard below RAM; default map for everything else. */
    TR_MPU_RNR = 0u;
    TR_MPU_RBAR = TR_STACK_GUARD_BASE;
    TR_MPU_RASR = TR_MPU_RASR_XN | TR_MPU_RASR_SIZE(TR_STACK_GUARD_LOG2) |
                  TR_MPU_RASR_ENABLE;
    TR_MPU_CTRL = TR_MPU_CTRL_PRIVDEFENA | TR_MPU_CTRL_ENABLE;
    __asm__ volatile("dsb\n\tisb" ::: "memory");

    if ((uintptr_t)__data_load__ != (uintptr_t)__data_start__) {
        for (src = __data_load__, dst = __data_start__; dst < __data_end__;)
            *dst++ = *src++;
    }
    for (dst = __bss_start__; dst < __bss_end__;)
        *dst++ = 0u;

    initialise_monitor_handles();

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
        "tst   lr, #4\n\t"
        "ite   eq\n\t"
        "mrseq r0, msp\n\t"
        "mrsne r0, psp\n\t"
        "mov   r1, lr\n\t"
        "movw  r2, #:lower16:tr_port_fault_stack + 512\n\t"
        "movt  r2, #:upper16:tr_port_fault_stack + 512\n\t"
        "mov   sp, r2\n\t"
        "b     tr_port_fault\n\t");
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
    uint32_t cfsr = TR_SCB_CFSR;
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
        (cfsr & (TR_SCB_CFSR_MSTKERR | TR_SCB_CFSR_STKERR)) != 0u ||
        ((cfsr & TR_SCB_CFSR_MMARVALID) != 0u &&
         TR_SCB_MMFAR - TR_STACK_GUARD_BASE < (1u << TR_STACK_GUARD_LOG2)))
        p = tr_port_put_str(p, "\ntr_port: stack overflow (main stack exhausted)");
    p = tr_port_put_hex(p, "\ntr_port: cfsr=", cfsr);
    p = tr_port_put_hex(p, " hfsr=", TR_SCB_HFSR);
    p = tr_port_put_hex(p, " mmfar=", TR_SCB_MMFAR);
    p = tr_port_put_hex(p, " bfar=", TR_SCB_BFAR);
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
