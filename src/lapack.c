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
    /* row-major: a is m x n with lda = n; b is max(m, n) x 1 with ldb = 1 */
    lapack_int rk = 0;
    lapack_int info = LAPACKE_dgelsd(LAPACK_ROW_MAJOR, (lapack_int)m, (lapack_int)n, 1, a, (lapack_int)n, b, 1,
                                     s, rcond, &rk);
    if (info == LAPACK_WORK_MEMORY_ERROR || info == LAPACK_TRANSPOSE_MEMORY_ERROR)
        return tg__error(TG_ERR_NOMEM, "%s: dgelsd could not allocate its workspace", fn);
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
    lapack_int info = LAPACKE_dtpqrt_work(LAPACK_COL_MAJOR, (lapack_int)m, (lapack_int)n, (lapack_int)l,
                                          (lapack_int)nb, a, (lapack_int)lda, b, (lapack_int)ldb, t,
                                          (lapack_int)nb, work);
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
    info = LAPACKE_dgesvd_work(LAPACK_COL_MAJOR, 'A', 'A', k, k, a, k, s, u, k, vt, k, work, lwork);
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
    lapack_int info = LAPACKE_dgeqrt_work(LAPACK_COL_MAJOR, (lapack_int)m, (lapack_int)n, (lapack_int)nb, a,
                                          (lapack_int)lda, t, (lapack_int)nb, work);
    if (info != 0)
        return tg__error(TG_ERR_ARG, "%s: dgeqrt rejected argument %d", fn, (int)-info);
    return TG_OK;
}
