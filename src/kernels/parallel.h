/* SPDX-License-Identifier: MIT */
/*
** Threads for the kernels: how many threads a kernel call may use, and one
** function that runs a kernel's slices on them.  All of tensorgrad's OpenMP
** sits in parallel.c; the kernels stay plain C and call tg__par_run() with a
** callback that runs their serial loop on one slice.  A build without OpenMP
** (TG_OPENMP=OFF, the ThreadSanitizer build, a compiler without it) runs every
** slice on the calling thread.
**
** Results never depend on the number of threads: elementwise kernels compute
** each element alone, and every reduction is split only at boundaries that
** its fixed evaluation order already has (whole subtrees of the sum tree,
** whole series of legproject), then combined in that order.
*/
#ifndef TG_PARALLEL_H
#define TG_PARALLEL_H

#include <stdint.h>

/* Below this much work (about one element of a streaming kernel such as add,
** two loads and a store) a kernel call spawns nothing: a parallel region
** costs a few microseconds on idle cores, about what adding 2^15 doubles
** costs on one.  bench/bench_threads prints the crossover per kernel (its
** threshold table); the value is to be confirmed there on a quiet machine. */
#define TG__PAR_MIN_WORK ((int64_t)1 << 15)

/* Doubles of scratch a worker of the Legendre kernels keeps on its stack
** (32 KiB); a call needing more runs on one thread with the caller's scratch. */
#define TG__PAR_SCRATCH 4096

/* The process-wide thread count of the kernels (>= 1; always 1 without
** OpenMP), its default (the OpenMP default, else the number of cores) and
** the setter (n <= 0: back to the default); see tg_set_num_threads. */
int  tg__par_threads(void);
int  tg__par_default_threads(void);
void tg__par_set_threads(int n);
/* 1 when this build has OpenMP (threads can be used), else 0. */
int  tg__par_available(void);

/* Threads for a call doing `work` units: 1 below the threshold
** (TG__PAR_MIN_WORK), inside an OpenMP parallel region (no nesting) or
** without OpenMP; otherwise the thread count, lowered so that each thread
** gets at least half the threshold. */
int tg__par_team(int64_t work);

/* Sets the threshold of tg__par_team (work < 0: back to TG__PAR_MIN_WORK) and
** returns the previous one; for tests and bench/bench_threads, which measure
** where threads start to pay. */
int64_t tg__par_set_min_work(int64_t work);

/* Runs fn(ctx, lo, hi) over slices covering [0, n) exactly once, on `team`
** threads: thread t of nt gets units [t*u/nt, (t+1)*u/nt) of u = ceil(n /
** align) units of `align` elements (the last unit may be short).  team <= 1
** is one call fn(ctx, 0, n) on the calling thread.  fn must not fail. */
typedef void (*tg__par_fn)(void *ctx, int64_t lo, int64_t hi);
void tg__par_run(int team, int64_t n, int64_t align, tg__par_fn fn, void *ctx);

/* Inside fn of a tg__par_run: the calling thread's index in the team (0 ..
** team - 1), for callers that keep scratch per thread; 0 anywhere else. */
int tg__par_worker(void);

#endif /* TG_PARALLEL_H */
