/* SPDX-License-Identifier: MIT */
/*
** How much of OpenBLAS fits under an address-space limit: the one copy of
** the rule, read by src/blas.c (before every BLAS call under a limit), by
** libtensorgrad_blasenv.so's constructor (shim.c: before OpenBLAS's
** constructor in a program linked with libtensorgrad.so) and by the static
** library's .preinit_array entry (preinit.c: the same for a program linked
** with libtensorgrad.a).  libc only, and safe to call before libc's own
** initializer has run (no stdio, no locale): the shim's constructor and the
** .preinit_array entry run that early.
*/
#ifndef TG_BLASENV_ROOM_H
#define TG_BLASENV_ROOM_H

#include <stdbool.h>
#include <stdint.h>

/* Bytes the tighter of RLIMIT_AS and RLIMIT_DATA still allows (the limit
** minus what the process maps now, /proc/self/statm), less a slack for what
** a call needs besides OpenBLAS's buffers; INT64_MAX when neither limit is
** set, 0 when the size cannot be read (no room rather than risk the hang). */
int64_t tg__blas_room(void);

/* The address space OpenBLAS takes to run on n threads when this thread
** has (self_ready) or has not yet got its buffer and `workers_ready` of its
** worker threads have theirs: 210 MB per thread that has none yet (its
** 128 MB buffer, a glibc malloc arena, its stack). */
int64_t tg__blas_need(int n, bool self_ready, int workers_ready);

/* The most threads, at least 1 and at most `most`, that fit in `room` bytes
** when no thread has a buffer yet. */
int tg__blas_threads_that_fit(int64_t room, int most);

/* Before OpenBLAS's constructor runs: when an address-space limit is set
** and the environment does not choose OpenBLAS's thread count
** (OPENBLAS_NUM_THREADS, GOTO_NUM_THREADS, OMP_NUM_THREADS), sets
** OPENBLAS_NUM_THREADS to tg__blas_threads_that_fit.  argc, argv and envp
** are what an ELF initializer is given.  Once libc is initialized (a fully
** static program's .preinit_array, or a dlopen) the variable is put into
** environ.  Before libc's initializer has run (a dynamically linked
** program's start: the shim's DF_1_INITFIRST constructor, or the static
** library's .preinit_array entry), anything put into environ would be lost
** when libc sets environ to envp, so the program is executed again
** (/proc/self/exe, the same argv) with the variable added; when that exec
** fails, or the program is set-user-ID or started as an argument of ld.so,
** it runs on unchanged. */
void tg__blas_env_apply(int argc, char **argv, char **envp);

#endif
