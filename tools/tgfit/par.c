/*
** tgfit's parallel layer.  Built with TGFIT_MPI (CMake found MPI), it runs on
** MPI when the process was started by an MPI launcher (mpirun / mpiexec set
** OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK) and every collective goes
** through tensorgrad_mpi; otherwise it is one process and every call here is
** the identity.  No other tgfit file sees MPI.
*/
#include "tgfit.h"

#include <stdlib.h>
#include <string.h>

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
    *begin = 0;
    *end = n;
    if (p->mpi)
        tg_mpi_rows(n, MPI_COMM_WORLD, begin, end);
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

int par_lstsq(const par *p, tg_tensor *x, tg_tensor *y, int degree, double alpha, double beta,
              tg_tensor **coef, double *cond)
{
    tg_status s = p->mpi ? tg_mpi_legendre_lstsq(x, y, degree, alpha, beta, coef, cond, MPI_COMM_WORLD)
                         : tg_legendre_lstsq(x, y, degree, alpha, beta, coef, cond);
    return s == TG_OK ? 0 : -1;
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
    (void)p;
    *begin = 0;
    *end = n;
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

int par_lstsq(const par *p, tg_tensor *x, tg_tensor *y, int degree, double alpha, double beta,
              tg_tensor **coef, double *cond)
{
    (void)p;
    return tg_legendre_lstsq(x, y, degree, alpha, beta, coef, cond) == TG_OK ? 0 : -1;
}

bool par_failed(const par *p, bool failed_here, bool *report)
{
    (void)p;
    *report = failed_here;
    return failed_here;
}

#endif
