/* SPDX-License-Identifier: MIT */
/*
** The static library's counterpart of libtensorgrad_blasenv.so (shim.c): an
** executable's .preinit_array runs before every shared library's
** initializer, libopenblas's included, so a program linked with
** libtensorgrad.a (the examples, tests, benchmarks, tgfit) gets
** OPENBLAS_NUM_THREADS set to the threads that fit under an address-space
** limit before OpenBLAS starts them (room.h, tg__blas_env_apply).  Nothing
** calls this entry, so the static target's link options (and tensorgrad.pc's
** Libs.private) name tg__blas_preinit with --undefined to make the linker take
** this object.  Only in libtensorgrad.a: a shared object may not have a
** .preinit_array.
*/
#include "room.h"

void tg__blas_preinit(int argc, char **argv, char **envp);

void tg__blas_preinit(int argc, char **argv, char **envp) { tg__blas_env_apply(argc, argv, envp); }

__attribute__((section(".preinit_array"), used)) static void (*const preinit)(int, char **, char **) =
    tg__blas_preinit;
