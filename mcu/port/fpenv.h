/*
 * mcu/port/fpenv.h - the floating-point environment check of the tinyreptile_ref port.
 *
 * The numerics contract (README) needs IEEE float32 with round to nearest even, gradual
 * underflow (no flush-to-zero) and NaN propagation (no default-NaN mode). SDK start-up code
 * sometimes sets flush-to-zero or default NaN, and then subnormal results become 0 and the
 * bits differ from the host's. The port reads the FPU's control register before main():
 *
 *   Arm, hard-float builds (__ARM_FP):  FPSCR.FZ (bit 24), FPSCR.DN (bit 25) and
 *                                       FPSCR.RMode (bits 23:22) must be 0
 *   RISC-V with F (__riscv_flen):       fcsr.frm (bits 7:5) must be 0 (round to nearest,
 *                                       ties to even); RISC-V F has no flush-to-zero mode,
 *                                       and its NaN results are always the canonical NaN,
 *                                       which the contract accepts (all NaNs compare equal)
 *   soft float:                         nothing to check (libgcc's routines are IEEE)
 *
 * and refuses to run otherwise: "tr_port: FATAL floating-point environment: ..." on stderr
 * and exit status TR_PORT_EXIT_FPENV (71). Applications that use their own start-up code call
 * tr_port_fpenv_problem() themselves (mcu/firmware/tinyreptile_fw.c does).
 *
 * Test hooks (compile flags of the port):
 *   -DTR_PORT_TEST_FPENV=VALUE   start-up ORs VALUE into FPSCR (Arm) or writes it to frm
 *                                (RISC-V) before the check, as a faulty SDK would
 *   -DTR_PORT_NO_FPENV_CHECK     start-up skips its check (so the application's runs)
 */
#ifndef TR_PORT_FPENV_H
#define TR_PORT_FPENV_H

#define TR_PORT_EXIT_FPENV 71

/* NULL when the environment is the contract's, else what is wrong, e.g.
 * "FPSCR=0x01000000: FZ (flush-to-zero) is set". */
const char *tr_port_fpenv_problem(void);

/* Apply TR_PORT_TEST_FPENV (a no-op without it). */
void tr_port_fpenv_test_set(void);

/* Print why and exit with TR_PORT_EXIT_FPENV (the port's start-up code implements it). */
void tr_port_fpenv_refuse(const char *why) __attribute__((noreturn));

#endif /* TR_PORT_FPENV_H */
