/*
 * tr_contract.h - the numerics contract, held by the library's own sources.
 *
 * Included first by every library source (through tr_internal.h, and by status.c), so that
 * the bits do not depend on the flags of the project the sources are dropped into:
 *
 *   - no contraction of a*b + c into a fused multiply-add: GCC in its GNU modes (-std=gnu11,
 *     the default of Arduino and most IDEs) and clang in every mode contract unless told not
 *     to, on every target with an FMA instruction (x86-64-v3, AArch64, RISC-V F, Cortex-M4F).
 *     clang honours the ISO C pragma (but not under an explicit -ffp-contract=fast, which
 *     disregards pragmas by definition); GCC ignores the ISO pragma but honours the optimize
 *     pragma for every function that follows, even under -ffp-contract=fast.
 *   - builds that cannot give the reference bits stop here with an #error saying what to
 *     change: float arithmetic evaluated in a wider format (FLT_EVAL_METHOD other than 0,
 *     e.g. x87), and -ffast-math / -Ofast / -ffinite-math-only.
 *
 * What stays the user's job (no macro reveals it): no clang -ffp-contract=fast, no
 * -fassociative-math or
 * -freciprocal-math on their own, no flush-to-zero of subnormals (FPSCR.FZ on Arm, MXCSR
 * FTZ/DAZ on x86; -ffast-math links code that sets it), round to nearest even left as set.
 * Not part of the public API: tinyreptile.h does not include it.
 */
#ifndef TR_CONTRACT_H
#define TR_CONTRACT_H

#include <float.h>

#if defined(__FAST_MATH__)
#error "tinyreptile: built with -ffast-math or -Ofast: these reassociate sums and drop IEEE semantics, so the results cannot match the reference bits; remove the option for the tinyreptile sources (use -O2 or -Os)"
#endif

#if defined(__FINITE_MATH_ONLY__) && __FINITE_MATH_ONLY__
#error "tinyreptile: built with -ffinite-math-only: the kernels must see infinities and NaNs as IEEE defines them; remove the option for the tinyreptile sources"
#endif

/* 0: float evaluated as float. 16 (ISO/IEC TS 18661-3, GCC's GNU modes on targets with
 * _Float16 arithmetic) also evaluates float as float. Anything else (1, 2: x87; -1) does not. */
#if !defined(FLT_EVAL_METHOD) || (FLT_EVAL_METHOD != 0 && FLT_EVAL_METHOD != 16)
#error "tinyreptile: FLT_EVAL_METHOD is not 0: float arithmetic is evaluated in a wider format (x87), which gives other bits than the reference; on 32-bit x86 compile with -msse2 -mfpmath=sse (or for x86-64)"
#endif

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#endif /* TR_CONTRACT_H */
