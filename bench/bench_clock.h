/* SPDX-License-Identifier: MIT */
/*
** The benchmark programs' clock: monotonic seconds.  Each program defines
** _POSIX_C_SOURCE (for clock_gettime) before its first include.
*/
#ifndef TG_BENCH_CLOCK_H
#define TG_BENCH_CLOCK_H

#include <time.h>

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif /* TG_BENCH_CLOCK_H */
