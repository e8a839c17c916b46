/* SPDX-License-Identifier: MIT */
/*
** The AVX2 kernel table ("avx2"): kernels_impl.inc auto-vectorized for 256-bit
** registers.  CMake compiles this file with -mavx2 -mfma on x86_64 only;
** dispatch.c picks it when the CPU has AVX2 and FMA.  -std=c11 keeps FMA
** contraction off, so the results equal the reference bit for bit.
*/
#if !defined(__AVX2__) || !defined(__FMA__)
#error "kernels_avx2.c must be compiled with -mavx2 -mfma"
#endif
/* vectorize at -O2 too (RelWithDebInfo).
** sqrt stays scalar: -fmath-errno cannot be lifted per file. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize", "vect-cost-model=dynamic", "fp-contract=off")
#endif
#define TG_KSUFFIX avx2
#define TG_KTABLE_NAME "avx2"
#include "kernels/kernels_impl.inc"
