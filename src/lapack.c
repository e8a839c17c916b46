/* SPDX-License-Identifier: MIT */
/*
** The one file that talks to LAPACK (through LAPACKE, Debian's liblapacke).
** Like src/blas.c for cblas, every argument is validated here before the
** call, and LAPACK's info is turned into a tg_status with a message: a
** library must not let LAPACK's xerbla print, nor trust an unconverged result.
** Ops (src/ops/series.c) reach it only through the tg__ declarations in
** core/internal.h.
*/
#include "core/internal.h"

#include <lapacke.h>
#include <math.h>
#include <stdint.h>

static bool fits(int64_t v) { return v >= 1 && v <= INT32_MAX; }

tg_status tg__dgelsd(const char *fn, int64_t m, int64_t n, double *a, double *b, double *s, double rcond,
                     int64_t *rank)
{
    if (!fits(m) || !fits(n))
        return tg__error(TG_ERR_ARG, "%s: a least-squares problem of %lld x %lld is outside LAPACK's range "
                         "(1 to 2^31-1 each)", fn, (long long)m, (long long)n);
    if (!a || !b || !s || !rank)
        return tg__error(TG_ERR_ARG, "%s: NULL array given to dgelsd", fn);
    if (!(rcond >= 0) || !isfinite(rcond))
        return tg__error(TG_ERR_ARG, "%s: rcond is %g, must be finite and >= 0", fn, rcond);
    for (int64_t i = 0; i < m * n; i++)
        if (!isfinite(a[i]))
            return tg__error(TG_ERR_ARG, "%s: design matrix entry %lld is %g", fn, (long long)i, a[i]);
    for (int64_t i = 0; i < m; i++)
        if (!isfinite(b[i]))
            return tg__error(TG_ERR_ARG, "%s: right-hand side entry %lld is %g", fn, (long long)i, b[i]);
    /* LAPACKE's row-major driver would allocate a transpose and the workspace
    ** itself and print to stderr when it cannot: the column-major copy of a
    ** and the workspace (sizes from a query) are allocated here instead.
    ** b is max(m, n) x 1 either way (ldb = max(m, n)). */
    lapack_int lm = (lapack_int)m, ln = (lapack_int)n, ldb = lm > ln ? lm : ln, rk = 0, iq = 0;
    double wq = 0;
    lapack_int info = LAPACKE_dgelsd_work(LAPACK_COL_MAJOR, lm, ln, 1, a, lm, b, ldb, s, rcond, &rk, &wq, -1, &iq);
    if (info < 0)
        return tg__error(TG_ERR_ARG, "%s: dgelsd's workspace query rejected argument %d", fn, (int)-info);
    size_t nw = (size_t)wq + 1, ni = (size_t)(iq > 1 ? iq : 1);
    if ((uint64_t)m > SIZE_MAX / sizeof(double) / (uint64_t)n || nw > SIZE_MAX / sizeof(double))
        return tg__error(TG_ERR_NOMEM, "%s: a %lld x %lld least-squares problem does not fit in memory", fn,
                         (long long)m, (long long)n);
    double *at = tg__malloc((size_t)m * (size_t)n * sizeof(double)), *work = tg__malloc(nw * sizeof(double));
    lapack_int *iwork = tg__malloc(ni * sizeof(lapack_int));
    bool held = false;
    tg_status st = at && work && iwork ? tg__blas_enter(fn, &held)
                                       : tg__error(TG_ERR_NOMEM, "%s: out of memory for dgelsd's workspace "
                                                   "(%lld x %lld)", fn, (long long)m, (long long)n);
    if (st == TG_OK) {
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++)
                at[j * m + i] = a[i * n + j];
        info = LAPACKE_dgelsd_work(LAPACK_COL_MAJOR, lm, ln, 1, at, lm, b, ldb, s, rcond, &rk, work,
                                   (lapack_int)nw, iwork);
        tg__blas_leave(held);
    }
    tg__free(at), tg__free(work), tg__free(iwork);
    if (st != TG_OK)
        return st;
    if (info < 0)
        return tg__error(TG_ERR_ARG, "%s: dgelsd rejected argument %d", fn, (int)-info);
    if (info > 0)
        return tg__error(TG_ERR_NUMERIC, "%s: dgelsd's SVD did not converge (%d off-diagonal elements)", fn,
                         (int)info);
    *rank = rk;
    return TG_OK;
}

/* ---------------------------------------------------------------- TSQR */

/* forward: [A; B] = Q [R; 0], A [n, n] upper triangular, B [m, n] with its last
** l rows upper trapezoidal (l = 0: rectangular, l = m = n: triangular); both
** column-major.  R overwrites A, B's reflectors overwrite B.  t and work hold
** nb * n doubles each.  No allocation (the _work entry, column-major). */
tg_status tg__dtpqrt(const char *fn, int64_t m, int64_t n, int64_t l, int64_t nb, double *a, int64_t lda,
                     double *b, int64_t ldb, double *t, double *work)
{
    if (m < 0 || n < 1 || l < 0 || l > m || l > n || nb < 1 || nb > n || m > INT32_MAX || n > INT32_MAX ||
        lda < n || ldb < (m > 1 ? m : 1) || lda > INT32_MAX || ldb > INT32_MAX)
        return tg__error(TG_ERR_ARG, "%s: dtpqrt of m = %lld, n = %lld, l = %lld, nb = %lld is out of range", fn,
                         (long long)m, (long long)n, (long long)l, (long long)nb);
    if (!a || !b || !t || !work)
        return tg__error(TG_ERR_ARG, "%s: NULL array given to dtpqrt", fn);
    if (m == 0)
        return TG_OK;
    bool held;
    tg_status held_st = tg__blas_enter(fn, &held);   /* under a memory limit: OpenBLAS's buffers first */
    if (held_st != TG_OK)
        return held_st;
    lapack_int info = LAPACKE_dtpqrt_work(LAPACK_COL_MAJOR, (lapack_int)m, (lapack_int)n, (lapack_int)l,
                                          (lapack_int)nb, a, (lapack_int)lda, b, (lapack_int)ldb, t,
                                          (lapack_int)nb, work);
    tg__blas_leave(held);
    if (info != 0)
        return tg__error(TG_ERR_ARG, "%s: dtpqrt rejected argument %d", fn, (int)-info);
    return TG_OK;
}

/* The SVD a = U diag(s) V^T of a column-major [n, n] (overwritten): u and vt
** column-major [n, n], s decreasing.  dgesvd (one-sided Jacobi is not in
** LAPACKE); TG_ERR_NUMERIC when it does not converge, TG_ERR_NOMEM. */
tg_status tg__dgesvd(const char *fn, int64_t n, double *a, double *s, double *u, double *vt)
{
    if (!fits(n))
        return tg__error(TG_ERR_ARG, "%s: an SVD of %lld x %lld is outside LAPACK's range", fn, (long long)n,
                         (long long)n);
    if (!a || !s || !u || !vt)
        return tg__error(TG_ERR_ARG, "%s: NULL array given to dgesvd", fn);
    for (int64_t i = 0; i < n * n; i++)
        if (!isfinite(a[i]))
            return tg__error(TG_ERR_NUMERIC, "%s: the triangular factor's entry %lld is %g", fn, (long long)i,
                             a[i]);
    lapack_int k = (lapack_int)n;
    double query = 0.0;
    lapack_int info = LAPACKE_dgesvd_work(LAPACK_COL_MAJOR, 'A', 'A', k, k, a, k, s, u, k, vt, k, &query, -1);
    if (info != 0)
        return tg__error(TG_ERR_ARG, "%s: dgesvd's workspace query failed (%d)", fn, (int)info);
    lapack_int lwork = (lapack_int)query;
    double *work = tg__malloc((size_t)(lwork > 1 ? lwork : 1) * sizeof *work);
    if (!work)
        return tg__error(TG_ERR_NOMEM, "%s: out of memory for dgesvd's workspace (%d doubles)", fn, (int)lwork);
    bool held;
    tg_status held_st = tg__blas_enter(fn, &held);   /* under a memory limit: OpenBLAS's buffers first */
    if (held_st != TG_OK) {
        tg__free(work);
        return held_st;
    }
    info = LAPACKE_dgesvd_work(LAPACK_COL_MAJOR, 'A', 'A', k, k, a, k, s, u, k, vt, k, work, lwork);
    tg__blas_leave(held);
    tg__free(work);
    if (info < 0)
        return tg__error(TG_ERR_ARG, "%s: dgesvd rejected argument %d", fn, (int)-info);
    if (info > 0)
        return tg__error(TG_ERR_NUMERIC, "%s: dgesvd did not converge (%d superdiagonals)", fn, (int)info);
    return TG_OK;
}

/* forward: A = Q R, A [m, n] column-major, m >= n: R overwrites A's upper
** triangle (the reflectors below it).  t and work hold nb * n doubles each. */
tg_status tg__dgeqrt(const char *fn, int64_t m, int64_t n, int64_t nb, double *a, int64_t lda, double *t,
                     double *work)
{
    if (!fits(m) || !fits(n) || m < n || nb < 1 || nb > n || lda < m || lda > INT32_MAX)
        return tg__error(TG_ERR_ARG, "%s: dgeqrt of m = %lld, n = %lld, nb = %lld is out of range", fn,
                         (long long)m, (long long)n, (long long)nb);
    if (!a || !t || !work)
        return tg__error(TG_ERR_ARG, "%s: NULL array given to dgeqrt", fn);
    bool held;
    tg_status held_st = tg__blas_enter(fn, &held);   /* under a memory limit: OpenBLAS's buffers first */
    if (held_st != TG_OK)
        return held_st;
    lapack_int info = LAPACKE_dgeqrt_work(LAPACK_COL_MAJOR, (lapack_int)m, (lapack_int)n, (lapack_int)nb, a,
                                          (lapack_int)lda, t, (lapack_int)nb, work);
    tg__blas_leave(held);
    if (info != 0)
        return tg__error(TG_ERR_ARG, "%s: dgeqrt rejected argument %d", fn, (int)-info);
    return TG_OK;
}
