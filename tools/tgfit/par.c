/* SPDX-License-Identifier: MIT */
/*
** tgfit's parallel layer.  Built with TGFIT_MPI (CMake found MPI), it runs on
** MPI when the process was started by an MPI launcher (mpirun / mpiexec set
** OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK) and every collective goes
** through tensorgrad_mpi; otherwise it is one process and every call here is
** the identity.  No other tgfit file sees MPI.  Rows are split in whole
** blocks (block_rows), and the least squares is one QR tree over the ranks'
** parts, so results are the same bit for bit on any number of ranks.
*/
#include "tgfit.h"

#include <stdlib.h>
#include <string.h>

/* Rank r of K gets the whole blocks [r L / K, (r + 1) L / K) of the L blocks
** of TGFIT_BLOCK points (the last one may be short): every rank owns whole
** subtrees of the reductions, so their results do not depend on K. */
static void block_rows(const par *p, int64_t n, int64_t *begin, int64_t *end)
{
    int64_t leaves = (n + TGFIT_BLOCK - 1) / TGFIT_BLOCK;
    *begin = leaves * p->rank / p->size * TGFIT_BLOCK;
    *end = leaves * (p->rank + 1) / p->size * TGFIT_BLOCK;
    if (*begin > n)
        *begin = n;
    if (*end > n)
        *end = n;
}

#ifdef TGFIT_MPI
#include <tensorgrad_mpi.h>

static bool launched_by_mpi(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

int par_init(int *argc, char ***argv, par *p)
{
    p->rank = 0;
    p->size = 1;
    p->mpi = launched_by_mpi();
    if (!p->mpi)
        return 0;
    if (MPI_Init(argc, argv) != MPI_SUCCESS)
        return tgfit_fail("MPI_Init failed");
    MPI_Comm_rank(MPI_COMM_WORLD, &p->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &p->size);
    return 0;
}

void par_finalize(const par *p)
{
    if (p->mpi)
        MPI_Finalize();
}

#define MPI_OR_FAIL(call) \
    do { if ((call) != TG_OK) return tgfit_fail("%s", tg_last_error()); } while (0)

void par_rows(const par *p, int64_t n, int64_t *begin, int64_t *end)
{
    block_rows(p, n, begin, end);
}

int par_sum(const par *p, double *buf, int64_t n)
{
    if (p->mpi)
        MPI_OR_FAIL(tg_mpi_sum(buf, n, MPI_COMM_WORLD));
    return 0;
}

int par_grads(const par *p, const tg_params *params, double *extra, int64_t n_extra)
{
    if (p->mpi)
        MPI_OR_FAIL(tg_mpi_allreduce_grads(params, extra, n_extra, MPI_COMM_WORLD));
    return 0;
}

int par_minmax(const par *p, double *lo, double *hi)
{
    if (p->mpi)
        MPI_OR_FAIL(tg_mpi_minmax(lo, hi, MPI_COMM_WORLD));
    return 0;
}

int par_gather(const par *p, const double *mine, int64_t n_mine, double **all, int64_t *n_all)
{
    if (p->mpi) {
        MPI_OR_FAIL(tg_mpi_gather(mine, n_mine, all, n_all, 0, MPI_COMM_WORLD));
        return 0;
    }
    *n_all = n_mine;
    *all = malloc((size_t)(n_mine ? n_mine : 1) * sizeof **all);
    if (!*all)
        return tgfit_fail("out of memory");
    if (n_mine)
        memcpy(*all, mine, (size_t)n_mine * sizeof **all);
    return 0;
}

int par_lstsq(const par *p, const tg_points *pts, int degree, double alpha, double beta,
              const tg_lstsq_opts *opts, tg_lstsq_result *res)
{
    tg_lstsq_part *mine = NULL, *all = NULL;
    memset(res, 0, sizeof *res);
    tg_status s = tg_legendre_lstsq_part(pts, degree, alpha, beta, opts, &mine);
    if (p->mpi) {                      /* collective: entered even after a local failure */
        tg_status m = tg_mpi_lstsq_merge(s == TG_OK ? mine : NULL, &all, MPI_COMM_WORLD);
        if (s == TG_OK)
            s = m;
    }
    if (s == TG_OK)
        s = tg_lstsq_part_solve(p->mpi ? all : mine, opts, res);
    tg_lstsq_part_free(mine);
    tg_lstsq_part_free(all);
    return s == TG_OK ? 0 : -1;
}

int par_allgather(const par *p, const double *mine, int64_t n_mine, double **all, int64_t *n_all)
{
    if (p->mpi) {
        MPI_OR_FAIL(tg_mpi_allgather(mine, n_mine, all, n_all, MPI_COMM_WORLD));
        return 0;
    }
    return par_gather(p, mine, n_mine, all, n_all);
}

bool par_failed(const par *p, bool failed_here, bool *report)
{
    *report = failed_here;
    if (!p->mpi)
        return failed_here;
    double *flags = calloc((size_t)p->size, sizeof *flags);
    if (!flags)
        return true;                              /* this rank then exits; mpirun ends the rest */
    flags[p->rank] = failed_here;
    bool any = false, lower = false;
    if (tg_mpi_sum(flags, p->size, MPI_COMM_WORLD) != TG_OK)
        any = true;
    for (int r = 0; r < p->size; r++) {
        if (flags[r] != 0 && r < p->rank)
            lower = true;
        any = any || flags[r] != 0;
    }
    free(flags);
    *report = failed_here && !lower;
    return any;
}

#else /* one process */

int par_init(int *argc, char ***argv, par *p)
{
    (void)argc;
    (void)argv;
    p->rank = 0;
    p->size = 1;
    p->mpi = false;
    return 0;
}

void par_finalize(const par *p) { (void)p; }

void par_rows(const par *p, int64_t n, int64_t *begin, int64_t *end)
{
    block_rows(p, n, begin, end);
}

int par_sum(const par *p, double *buf, int64_t n)
{
    (void)p;
    (void)buf;
    (void)n;
    return 0;
}

int par_grads(const par *p, const tg_params *params, double *extra, int64_t n_extra)
{
    (void)p;
    (void)params;
    (void)extra;
    (void)n_extra;
    return 0;
}

int par_minmax(const par *p, double *lo, double *hi)
{
    (void)p;
    (void)lo;
    (void)hi;
    return 0;
}

int par_gather(const par *p, const double *mine, int64_t n_mine, double **all, int64_t *n_all)
{
    (void)p;
    *n_all = n_mine;
    *all = malloc((size_t)(n_mine ? n_mine : 1) * sizeof **all);
    if (!*all)
        return tgfit_fail("out of memory");
    if (n_mine)
        memcpy(*all, mine, (size_t)n_mine * sizeof **all);
    return 0;
}

int par_lstsq(const par *p, const tg_points *pts, int degree, double alpha, double beta,
              const tg_lstsq_opts *opts, tg_lstsq_result *res)
{
    (void)p;
    tg_lstsq_part *mine = NULL;
    memset(res, 0, sizeof *res);
    tg_status s = tg_legendre_lstsq_part(pts, degree, alpha, beta, opts, &mine);
    if (s == TG_OK)
        s = tg_lstsq_part_solve(mine, opts, res);
    tg_lstsq_part_free(mine);
    return s == TG_OK ? 0 : -1;
}

int par_allgather(const par *p, const double *mine, int64_t n_mine, double **all, int64_t *n_all)
{
    return par_gather(p, mine, n_mine, all, n_all);
}

bool par_failed(const par *p, bool failed_here, bool *report)
{
    (void)p;
    *report = failed_here;
    return failed_here;
}

#endif
