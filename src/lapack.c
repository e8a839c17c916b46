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
