/* SPDX-License-Identifier: MIT */
/*
** The reference kernel table ("reference"): kernels_impl.inc compiled for the
** baseline ISA.  Every other table must match it bit for bit; it is also the
** table used on CPUs (or architectures) without AVX2.
*/
#define TG_KSUFFIX ref
#define TG_KTABLE_NAME "reference"
#include "kernels/kernels_impl.inc"
