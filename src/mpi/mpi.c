/* SPDX-License-Identifier: MIT */
/*
** tensorgrad_mpi: rank-ordered sums, gradient exchange, row partitions and a
** distributed Legendre least squares over MPI.  Built as its own library when
** CMake finds MPI, on top of the public API only (tensorgrad.h), so the main
** library never depends on MPI.  See include/tensorgrad_mpi.h for why every
** sum is an MPI_Allgather followed by a sum in rank order.
*/
#include "tensorgrad_mpi.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static tg_status mpi_failed(const char *fn, const char *call, int rc)
{
    char text[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(rc, text, &len);
    return tg_set_error(TG_ERR_STATE, "%s: %s failed: %s", fn, call, text);
}

static tg_status comm_size(const char *fn, MPI_Comm comm, int *size, int *rank)
{
    int rc = MPI_Comm_size(comm, size);
    if (rc == MPI_SUCCESS && rank)
        rc = MPI_Comm_rank(comm, rank);
    return rc == MPI_SUCCESS ? TG_OK : mpi_failed(fn, "MPI_Comm_size", rc);
}

tg_status tg_mpi_sum(double *buf, int64_t n, MPI_Comm comm)
{
    int size;
    tg_status s = comm_size("tg_mpi_sum", comm, &size, NULL);
    if (s != TG_OK)
        return s;
    if (n < 0 || (n > 0 && !buf) || n > INT_MAX / size)
        return tg_set_error(TG_ERR_ARG, "tg_mpi_sum: n = %lld with %d ranks (buf %s)",
                            (long long)n, size, buf ? "given" : "NULL");
    if (n == 0)
        return TG_OK;
    double *all = malloc((size_t)n * (size_t)size * sizeof *all);
    if (!all)
        return tg_set_error(TG_ERR_NOMEM, "tg_mpi_sum: no memory for %d x %lld doubles", size, (long long)n);
    int rc = MPI_Allgather(buf, (int)n, MPI_DOUBLE, all, (int)n, MPI_DOUBLE, comm);
    if (rc != MPI_SUCCESS) {
        free(all);
        return mpi_failed("tg_mpi_sum", "MPI_Allgather", rc);
    }
    for (int64_t j = 0; j < n; j++) {
        double acc = all[j];
        for (int r = 1; r < size; r++)
            acc += all[(int64_t)r * n + j];
        buf[j] = acc;
    }
    free(all);
    return TG_OK;
}

tg_status tg_mpi_allreduce_grads(const tg_params *p, double *extra, int64_t n_extra, MPI_Comm comm)
{
    int count = tg_params_count(p);
    if (!p || count < 0 || n_extra < 0 || (n_extra > 0 && !extra))
        return tg_set_error(TG_ERR_ARG, "tg_mpi_allreduce_grads: %s", !p ? "params is NULL" : "bad extra");
    int64_t total = n_extra;
    for (int i = 0; i < count; i++) {
        tg_tensor *g = tg_grad(tg_params_get(p, i));
        if (!g)
            return tg_set_error(TG_ERR_STATE, "tg_mpi_allreduce_grads: parameter '%s' has no gradient",
                                tg_params_name(p, i));
        total += tg_numel(g);
    }
    double *flat = malloc((size_t)(total ? total : 1) * sizeof *flat), *at = flat;
    if (!flat)
        return tg_set_error(TG_ERR_NOMEM, "tg_mpi_allreduce_grads: no memory for %lld doubles",
                            (long long)total);
    for (int i = 0; i < count; i++) {
        tg_tensor *g = tg_grad(tg_params_get(p, i));
        memcpy(at, tg_data(g), (size_t)tg_numel(g) * sizeof *at);
        at += tg_numel(g);
    }
    if (n_extra)
        memcpy(at, extra, (size_t)n_extra * sizeof *at);
    tg_status s = tg_mpi_sum(flat, total, comm);
    if (s == TG_OK) {
        at = flat;
        for (int i = 0; i < count; i++) {
            tg_tensor *g = tg_grad(tg_params_get(p, i));
            memcpy(tg_data(g), at, (size_t)tg_numel(g) * sizeof *at);
            at += tg_numel(g);
        }
        if (n_extra)
            memcpy(extra, at, (size_t)n_extra * sizeof *at);
    }
    free(flat);
    return s;
}

tg_status tg_mpi_rows(int64_t n, MPI_Comm comm, int64_t *begin, int64_t *end)
{
    int size, rank;
    tg_status s = comm_size("tg_mpi_rows", comm, &size, &rank);
    if (s != TG_OK)
        return s;
    if (n < 0 || !begin || !end)
        return tg_set_error(TG_ERR_ARG, "tg_mpi_rows: n = %lld, begin %s, end %s", (long long)n,
                            begin ? "given" : "NULL", end ? "given" : "NULL");
    int64_t base = n / size, rest = n % size;
    *begin = rank * base + (rank < rest ? rank : rest);
    *end = *begin + base + (rank < rest ? 1 : 0);
    return TG_OK;
}

tg_status tg_mpi_minmax(double *lo, double *hi, MPI_Comm comm)
{
    if (!lo || !hi)
        return tg_set_error(TG_ERR_ARG, "tg_mpi_minmax: %s is NULL", !lo ? "lo" : "hi");
    double v[2] = { isnan(*lo) ? INFINITY : -*lo, isnan(*hi) ? -INFINITY : *hi }, r[2];
    int rc = MPI_Allreduce(v, r, 2, MPI_DOUBLE, MPI_MAX, comm);
    if (rc != MPI_SUCCESS)
        return mpi_failed("tg_mpi_minmax", "MPI_Allreduce", rc);
    *lo = -r[0];
    *hi = r[1];
    return TG_OK;
}

tg_status tg_mpi_gather(const double *mine, int64_t n_mine, double **all, int64_t *n_all,
                        int root, MPI_Comm comm)
{
    int size, rank, rc;
    tg_status s = comm_size("tg_mpi_gather", comm, &size, &rank);
    if (s != TG_OK)
        return s;
    if (!all || !n_all || n_mine < 0 || n_mine > INT_MAX || (n_mine > 0 && !mine))
        return tg_set_error(TG_ERR_ARG, "tg_mpi_gather: bad arguments (n_mine %lld)", (long long)n_mine);
    *all = NULL;
    *n_all = 0;
    int mine_n = (int)n_mine, *counts = calloc((size_t)size * 2, sizeof *counts);
    if (!counts)
        return tg_set_error(TG_ERR_NOMEM, "tg_mpi_gather: no memory");
    rc = MPI_Gather(&mine_n, 1, MPI_INT, counts, 1, MPI_INT, root, comm);
    int64_t total = 0;
    for (int r = 0; rc == MPI_SUCCESS && rank == root && r < size; r++) {
        counts[size + r] = (int)total;
        total += counts[r];
    }
    double *out = NULL;
    if (rc != MPI_SUCCESS) {
        s = mpi_failed("tg_mpi_gather", "MPI_Gather", rc);
    } else if (total > INT_MAX) {
        s = tg_set_error(TG_ERR_ARG, "tg_mpi_gather: %lld doubles in all", (long long)total);
    } else if (rank == root && !(out = malloc((size_t)(total ? total : 1) * sizeof *out))) {
        s = tg_set_error(TG_ERR_NOMEM, "tg_mpi_gather: no memory for %lld doubles", (long long)total);
    }
    /* every rank enters the Gatherv, even after a local failure, so none hangs */
    rc = MPI_Gatherv(mine, mine_n, MPI_DOUBLE, out, counts, counts + size, MPI_DOUBLE, root, comm);
    if (s == TG_OK && rc != MPI_SUCCESS)
        s = mpi_failed("tg_mpi_gather", "MPI_Gatherv", rc);
    free(counts);
    if (s != TG_OK || total == 0) {
        free(out);
        return s;
    }
    *all = out;
    *n_all = total;
    return TG_OK;
}

tg_status tg_mpi_allgather(const double *mine, int64_t n_mine, double **all, int64_t *n_all, MPI_Comm comm)
{
    static const char fn[] = "tg_mpi_allgather";
    int size, rc;
    tg_status s = comm_size(fn, comm, &size, NULL);
    if (s != TG_OK)
        return s;
    if (!all || !n_all || n_mine < 0 || n_mine > INT_MAX || (n_mine > 0 && !mine))
        return tg_set_error(TG_ERR_ARG, "%s: bad arguments (n_mine %lld)", fn, (long long)n_mine);
    *all = NULL;
    *n_all = 0;
    int mine_n = (int)n_mine, *counts = calloc((size_t)size * 2, sizeof *counts);
    if (!counts)
        return tg_set_error(TG_ERR_NOMEM, "%s: no memory", fn);
    rc = MPI_Allgather(&mine_n, 1, MPI_INT, counts, 1, MPI_INT, comm);
    int64_t total = 0;
    for (int r = 0; rc == MPI_SUCCESS && r < size; r++) {
        counts[size + r] = total <= INT_MAX ? (int)total : 0;
        total += counts[r];
    }
    double *out = NULL;
    if (rc != MPI_SUCCESS)
        s = mpi_failed(fn, "MPI_Allgather", rc);
    else if (total > INT_MAX)
        s = tg_set_error(TG_ERR_ARG, "%s: %lld doubles in all", fn, (long long)total);
    else if (!(out = malloc((size_t)(total ? total : 1) * sizeof *out)))
        s = tg_set_error(TG_ERR_NOMEM, "%s: no memory for %lld doubles", fn, (long long)total);
    if (s != TG_OK) {            /* the same on every rank: counts are known everywhere */
        free(counts);
        free(out);
        return s;
    }
    rc = MPI_Allgatherv(mine, mine_n, MPI_DOUBLE, out, counts, counts + size, MPI_DOUBLE, comm);
    free(counts);
    if (rc != MPI_SUCCESS) {
        free(out);
        return mpi_failed(fn, "MPI_Allgatherv", rc);
    }
    *all = out;
    *n_all = total;
    return TG_OK;
}

tg_status tg_mpi_lstsq_merge(const tg_lstsq_part *mine, tg_lstsq_part **all, MPI_Comm comm)
{
    static const char fn[] = "tg_mpi_lstsq_merge";
    if (!all)
        return tg_set_error(TG_ERR_ARG, "%s: all is NULL", fn);
    *all = NULL;
    int64_t n = mine ? tg_lstsq_part_size(mine) : 0, n_all = 0;
    double *buf = malloc((size_t)(n ? n : 1) * sizeof *buf), *every = NULL;
    bool failed_here = !buf;
    if (buf)
        tg_lstsq_part_pack(mine, buf);
    /* a rank without a part (a local failure) sends nothing; merge then fails everywhere */
    tg_status s = tg_mpi_allgather(buf, failed_here ? 0 : n, &every, &n_all, comm);
    double flag = failed_here || !mine ? 1.0 : 0.0;
    if (s == TG_OK)
        s = tg_mpi_sum(&flag, 1, comm);
    if (s == TG_OK && flag != 0.0)
        s = tg_set_error(TG_ERR_STATE, "%s: %s", fn, failed_here || !mine ? "no part on this rank"
                                                                          : "another rank has no part");
    if (s == TG_OK)
        s = tg_lstsq_part_unpack(every, n_all, all);
    free(buf);
    free(every);
    return s;
}

/* The global index of this rank's first point (the ranks' points in rank order). */
static tg_status first_point(const char *fn, int64_t n, MPI_Comm comm, int64_t *first, int64_t *total)
{
    long long mine = n, before = 0, all = 0;
    int rank, rc = MPI_Comm_rank(comm, &rank);
    if (rc == MPI_SUCCESS)
        rc = MPI_Exscan(&mine, &before, 1, MPI_LONG_LONG, MPI_SUM, comm);
    if (rc == MPI_SUCCESS)
        rc = MPI_Allreduce(&mine, &all, 1, MPI_LONG_LONG, MPI_SUM, comm);
    if (rc != MPI_SUCCESS)
        return mpi_failed(fn, "MPI_Exscan", rc);
    *first = rank == 0 ? 0 : before;           /* MPI_Exscan leaves rank 0's undefined */
    *total = all;
    return TG_OK;
}

/* Every rank's x and y (all points, in rank order), for splits not at block boundaries. */
static tg_status gather_points(const double *x, const double *y, int64_t n, double **ax, double **ay, int64_t *na,
                               MPI_Comm comm)
{
    int64_t ny;
    tg_status s = tg_mpi_allgather(x, n, ax, na, comm);
    if (s == TG_OK)
        s = tg_mpi_allgather(y, n, ay, &ny, comm);
    return s;
}

tg_status tg_mpi_legendre_lstsq(tg_tensor *x, tg_tensor *y, int degree, double alpha, double beta,
                                tg_tensor **coef, double *cond, MPI_Comm comm)
{
    static const char fn[] = "tg_mpi_legendre_lstsq";
    double cond_dummy;
    if (!cond)
        cond = &cond_dummy;
    *cond = NAN;
    if (!coef)
        return tg_set_error(TG_ERR_ARG, "%s: coef is NULL", fn);
    *coef = NULL;
    if (degree < 0 || degree > 100000)
        return tg_set_error(TG_ERR_ARG, "%s: degree %d", fn, degree);
    if (tg_ndim(x) != 1 || tg_ndim(y) != 1 || tg_numel(x) != tg_numel(y))
        return tg_set_error(TG_ERR_SHAPE, "%s: x and y must be 1-d of one length", fn);
    int64_t n = tg_numel(x), first = 0, total = 0, n_all = 0;
    tg_status s = first_point(fn, n, comm, &first, &total);
    double aligned = first % TG_LSTSQ_BLOCK == 0 ? 1.0 : 0.0, *ax = NULL, *ay = NULL;
    if (s == TG_OK)
        s = tg_mpi_sum(&aligned, 1, comm);
    int size = 1;
    MPI_Comm_size(comm, &size);
    tg_lstsq_part *mine = NULL, *all = NULL;
    tg_lstsq_result res;
    memset(&res, 0, sizeof res);
    if (s == TG_OK && aligned == size) {         /* every rank owns whole blocks: one tree over the ranks */
        tg_points pts = {.x = tg_data(x), .y = tg_data(y), .n = n, .first = first};
        tg_status local = tg_legendre_lstsq_part(&pts, degree, alpha, beta, NULL, &mine);
        s = tg_mpi_lstsq_merge(local == TG_OK ? mine : NULL, &all, comm);
        if (local != TG_OK)
            s = local;
        if (s == TG_OK)
            s = tg_lstsq_part_solve(all, NULL, &res);
    } else if (s == TG_OK && (s = gather_points(tg_data(x), tg_data(y), n, &ax, &ay, &n_all, comm)) == TG_OK) {
        tg_points pts = {.x = ax, .y = ay, .n = n_all};
        s = tg_legendre_lstsq_points(&pts, degree, alpha, beta, NULL, &res);
    }
    if (s == TG_OK) {
        *cond = res.cond;
        if (res.rank_deficient)
            s = tg_set_error(TG_ERR_NUMERIC, "%s: rank-deficient design: %s", fn, res.warning);
    }
    int64_t k = (int64_t)degree + 1;
    if (s == TG_OK && !(*coef = tg_from_array(1, &k, res.coef)))
        s = tg_last_status();
    tg_lstsq_result_free(&res);
    tg_lstsq_part_free(mine);
    tg_lstsq_part_free(all);
    free(ax);
    free(ay);
    return s;
}
