/* SPDX-License-Identifier: MIT */
/*
** libtensorgrad_blasenv.so: a library with no API, listed first among
** libtensorgrad.so's DT_NEEDED entries and linked with -z initfirst
** (DF_1_INITFIRST), so glibc runs its constructor before any other library's
** initializer, libc's and libopenblas's included, at start-up and in a
** dlopen alike.  (Its place in DT_NEEDED alone is not enough: LD_DEBUG=files
** shows glibc 2.36 initializing it after libopenblas and liblapacke.)
** OpenBLAS's constructor starts its worker threads, each of which maps a
** 128 MB buffer at once; under an address-space limit a buffer that does not
** fit is retried for ever, and exit then hangs joining that worker
** (docs/hardening.md).  So when a limit is set and the environment does not
** choose OpenBLAS's thread count, the constructor makes OPENBLAS_NUM_THREADS
** the number of threads that fit, by the rule src/blas.c applies to every
** call (room.h).  The variable stays in the environment, as if the user had
** set it: children inherit it, and they inherit the limit too.
*/
#include "room.h"

__attribute__((constructor)) static void blas_threads_under_limit(int argc, char **argv, char **envp)
{
    tg__blas_env_apply(argc, argv, envp);
}
