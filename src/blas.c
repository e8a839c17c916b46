/* SPDX-License-Identifier: MIT */
/*
** The one file that talks to cblas.  Every call is validated here first:
** OpenBLAS reports bad arguments by printing to stdout and returning, which a
** library linked into other programs must never do.  BLAS calls are made on
** the calling thread, never inside one of the kernels' parallel regions, and
** BLAS gets the same thread count as the kernels (tg__blas_set_threads), so the
** two never run more threads than tg_get_num_threads() at once.
**
** Under an address-space limit (RLIMIT_AS, or RLIMIT_DATA) OpenBLAS must
** never be the one to find the limit: when its blas_memory_alloc cannot map a
** thread's buffer it retries for ever (Debian's 0.3.21: tg_matmul 300 x 300
** spun under ulimit -v 150000).  So while a limit is set, calls go one at a
** time (tg__blas_enter / tg__blas_leave) and the first call on each thread
** count first checks that the buffers fit in what the limit leaves, then
** makes OpenBLAS allocate them with a small product that uses every thread;
** OpenBLAS keeps them for the process, so later calls allocate nothing.
** When n buffers do not fit but one does, the call runs on one thread; when
** none fits the caller gets TG_ERR_NOMEM.
*/
#define _POSIX_C_SOURCE 200809L
#include "core/internal.h"
#include "blasenv/room.h"

#include <cblas.h>
#include <limits.h>
#include <pthread.h>

static bool fits(int64_t v) { return v >= 0 && v <= INT_MAX; }

tg_status tg__dgemm(const char *fn, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                    double alpha, const double *a, int64_t lda, const double *b, int64_t ldb,
                    double beta, double *c, int64_t ldc)
{
    int64_t a_cols = trans_a ? m : k, b_cols = trans_b ? k : n;
    if (!fits(m) || !fits(n) || !fits(k) || !fits(lda) || !fits(ldb) || !fits(ldc))
        return tg__error(TG_ERR_ARG, "%s: matrix sizes m=%lld n=%lld k=%lld exceed BLAS's int range", fn,
                         (long long)m, (long long)n, (long long)k);
    /* An empty A or B has leading dimension 0 ([2,0] x [0,3]): check only
    ** what is touched.  An empty C is nothing to do. */
    bool ld_ok = ldc >= (n > 1 ? n : 1) &&
                 (k == 0 || (lda >= (a_cols > 1 ? a_cols : 1) && ldb >= (b_cols > 1 ? b_cols : 1)));
    if (m == 0 || n == 0)
        return TG_OK;
    if (!ld_ok)
        return tg__error(TG_ERR_ARG, "%s: leading dimensions lda=%lld ldb=%lld ldc=%lld too small", fn,
                         (long long)lda, (long long)ldb, (long long)ldc);
    if (k == 0) {   /* an empty product: C = beta * C, without asking BLAS */
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++)
                c[i * ldc + j] = beta == 0 ? 0.0 : beta * c[i * ldc + j];
        return TG_OK;
    }
    if (!a || !b || !c)
        return tg__error(TG_ERR_ARG, "%s: NULL matrix pointer", fn);
    bool held;
    tg_status st = tg__blas_enter(fn, &held);
    if (st != TG_OK)
        return st;
    cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
    tg__blas_leave(held);
    return TG_OK;
}

/* ------------------------------------------------------ address-space limits */

static pthread_mutex_t limit_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int blas_threads = 1;      /* as set by tg__blas_set_threads */
static int workers_ready;                 /* OpenBLAS threads with a buffer; under limit_lock */
static _Thread_local bool self_ready;     /* this thread's own buffer exists */

/* Makes OpenBLAS take a buffer on this thread and on n - 1 workers: a
** product big enough for OpenBLAS to split it n ways. */
static bool warm_up(int n)
{
    int dim = 128 * n > 1024 ? 1024 : 128 * n;
    size_t bytes = (size_t)dim * (size_t)dim * sizeof(double);
    double *a = tg__malloc(bytes), *c = tg__malloc(bytes);
    if (a && c) {
        for (size_t i = 0; i < (size_t)dim * (size_t)dim; i++)
            a[i] = 1.0;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, dim, dim, dim, 1.0, a, dim, a, dim, 0.0, c, dim);
    }
    tg__free(a), tg__free(c);
    return a && c;
}

tg_status tg__blas_enter(const char *fn, bool *held)
{
    *held = false;
    if (tg__blas_room() == INT64_MAX)
        return TG_OK;
    pthread_mutex_lock(&limit_lock);
    *held = true;
    int n = blas_threads;
    int64_t room = tg__blas_room();
    /* A thread other than main counts as a whole worker (its buffer and the
    ** arena its first allocations make): with its buffer alone (130 MB) a
    ** product under a limit 200 MB above the process hung in OpenBLAS's
    ** retry loop (test_limits, a clean CI run). */
    int64_t need = tg__blas_need(n, self_ready, workers_ready);
    if (need > room) {
        need = tg__blas_need(1, self_ready, workers_ready);
        n = 1;   /* one thread: the caller's buffer only */
    }
    if (need > room) {
        pthread_mutex_unlock(&limit_lock);
        *held = false;
        return tg__error(TG_ERR_NOMEM, "%s: the address-space limit leaves %lld MB, BLAS needs %lld MB", fn,
                         (long long)(room > 0 ? room >> 20 : 0), (long long)(need >> 20));
    }
    openblas_set_num_threads(n);   /* under a limit the count is set per call, never restored */
    if (need > 0) {
        if (!warm_up(n)) {
            pthread_mutex_unlock(&limit_lock);
            *held = false;
            return tg__error(TG_ERR_NOMEM, "%s: out of memory preparing BLAS under the address-space limit", fn);
        }
        self_ready = true;
        workers_ready = n - 1 > workers_ready ? n - 1 : workers_ready;
    }
    return TG_OK;
}

void tg__blas_leave(bool held)
{
    if (held)
        pthread_mutex_unlock(&limit_lock);
}

void tg__blas_set_threads(int n)
{
    blas_threads = n > 0 ? n : 1;
    if (tg__blas_room() == INT64_MAX)   /* under a limit tg__blas_enter sets it, once the threads fit */
        openblas_set_num_threads(n > 0 ? n : 1);
}
