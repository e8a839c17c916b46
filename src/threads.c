/* SPDX-License-Identifier: MIT */
/*
** The public thread count: tg_set_num_threads / tg_get_num_threads over the
** kernels' count (src/kernels/parallel.c), with OpenBLAS kept at the same
** count (src/blas.c) so that BLAS and the kernels together never use more
** threads than asked for.  Above both (kernels, BLAS), so it stands beside
** blas.c rather than in core.
*/
#include "core/internal.h"
#include "kernels/parallel.h"

#define TG_MAX_THREADS 1024

int tg_set_num_threads(int n)
{
    if (n > TG_MAX_THREADS) {
        tg__error(TG_ERR_ARG, "tg_set_num_threads: n is %d, at most %d", n, TG_MAX_THREADS);
        return -1;
    }
    const int previous = tg__par_threads();
    tg__par_set_threads(n);
    tg__blas_set_threads(n > 0 ? n : tg__par_default_threads());
    return previous;
}

int tg_get_num_threads(void) { return tg__par_threads(); }
