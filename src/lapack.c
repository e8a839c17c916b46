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
    bool held;
    tg_status st = tg__blas_enter(fn, &held);
    if (st != TG_OK)
        return st;
    lapack_int info = LAPACKE_dgelsd(LAPACK_ROW_MAJOR, (lapack_int)m, (lapack_int)n, 1, a, (lapack_int)n, b, 1,
                                     s, rcond, &rk);
    tg__blas_leave(held);
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
