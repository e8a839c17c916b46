/* SPDX-License-Identifier: MIT */
/*
** The thread count of the process and the one OpenMP parallel region every
** kernel goes through (parallel.h).  The count is an atomic int read by every
** kernel call; 0 means the default: the OpenMP default (OMP_NUM_THREADS,
** else the number of cores), read once on first use.  Without OpenMP the
** kernels' count is always 1 and the default (the number of cores) serves
** only BLAS.
*/
#define _POSIX_C_SOURCE 200809L   /* sysconf */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "kernels/parallel.h"

#ifdef _OPENMP
#include <omp.h>
#endif

static atomic_int threads;            /* 0: the default */
static _Atomic int64_t min_work = TG__PAR_MIN_WORK;
static int default_threads = 1;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void find_default(void)
{
#ifdef _OPENMP
    default_threads = omp_get_max_threads();
#else
    default_threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
#endif
    if (default_threads < 1) default_threads = 1;
}

int tg__par_available(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

int tg__par_default_threads(void)
{
    pthread_once(&default_once, find_default);
    return default_threads;
}

int tg__par_threads(void)
{
    if (!tg__par_available()) return 1;
    int n = atomic_load_explicit(&threads, memory_order_relaxed);
    return n > 0 ? n : tg__par_default_threads();
}

void tg__par_set_threads(int n)
{
    atomic_store_explicit(&threads, n > 0 ? n : 0, memory_order_relaxed);
}

int64_t tg__par_set_min_work(int64_t work)
{
    return atomic_exchange(&min_work, work >= 0 ? work : TG__PAR_MIN_WORK);
}

int tg__par_team(int64_t work)
{
    const int64_t least = atomic_load_explicit(&min_work, memory_order_relaxed);
    if (work < least || work <= 0) return 1;
    int team = tg__par_threads();
    if (team <= 1) return 1;
#ifdef _OPENMP
    if (omp_in_parallel()) return 1;
#endif
    const int64_t most = least >= 2 ? work / (least / 2) : team;
    return most < team ? (int)most : team;
}

/* thread t of nt: [lo, hi) of n, cut at multiples of align */
static void slice(int64_t n, int64_t align, int t, int nt, int64_t *lo, int64_t *hi)
{
    const int64_t units = (n + align - 1) / align;
    const int64_t u0 = units * t / nt, u1 = units * (t + 1) / nt;
    *lo = u0 * align < n ? u0 * align : n;
    *hi = u1 * align < n ? u1 * align : n;
}

int tg__par_worker(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

void tg__par_run(int team, int64_t n, int64_t align, tg__par_fn fn, void *ctx)
{
    if (n <= 0) return;
    if (align < 1) align = 1;
#ifdef _OPENMP
    if (team > 1) {
#pragma omp parallel num_threads(team)
        {
            int64_t lo, hi;
            slice(n, align, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);
            if (lo < hi) fn(ctx, lo, hi);
        }
        return;
    }
#else
    (void)team;
    (void)slice;
#endif
    fn(ctx, 0, n);
}
