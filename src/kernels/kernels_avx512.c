/* SPDX-License-Identifier: MIT */
/*
** The AVX-512 kernel table ("avx512"): kernels_impl.inc auto-vectorized for
** 512-bit registers.  CMake compiles this file with -mavx512f -mavx512dq
** -mavx512vl -mavx2 -mfma on x86_64 only; dispatch.c picks it when the CPU has
** all of those.  -std=c11 keeps FMA contraction off, so the results equal the
** reference bit for bit.
*/
#if !defined(__AVX512F__) || !defined(__AVX512DQ__) || !defined(__AVX512VL__)
#error "kernels_avx512.c must be compiled with -mavx512f -mavx512dq -mavx512vl -mavx2 -mfma"
#endif
/* vectorize at -O2 too (RelWithDebInfo), and prefer full 512-bit
** vectors (GCC defaults to 256 bits on most -mtune targets).
** sqrt stays scalar: -fmath-errno cannot be lifted per file. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize", "vect-cost-model=dynamic", "fp-contract=off")
#pragma GCC target("prefer-vector-width=512")
#endif
#define TG_KSUFFIX avx512
#define TG_KTABLE_NAME "avx512"
#include "kernels/kernels_impl.inc"
