/*
** The one file that talks to cblas.  Every call is validated here first:
** OpenBLAS reports bad arguments by printing to stdout and returning, which a
** library linked into other programs must never do.  BLAS calls are made on
** the calling thread, never inside one of the kernels' parallel regions, and
** BLAS gets the same thread count as the kernels (tg__blas_set_threads), so the
** two never run more threads than tg_get_num_threads() at once.
*/
#include "core/internal.h"

#include <cblas.h>
#include <limits.h>

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
    cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
    return TG_OK;
}

void tg__blas_set_threads(int n)
{
    openblas_set_num_threads(n > 0 ? n : 1);
}
