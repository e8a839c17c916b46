/*
** tensorgrad_mpi: rank-ordered sums, gradient exchange, row partitions and a
** distributed Legendre least squares over MPI.  Built as its own library when
** CMake finds MPI, on top of the public API only (tensorgrad.h), so the main
** library never depends on MPI.  See include/tensorgrad_mpi.h for why every
** sum is an MPI_Allgather followed by a sum in rank order.
*/
#include "tensorgrad_mpi.h"

#include <float.h>
#include <lapacke.h>
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

/* forward: c = argmin || V c - y ||, V = [P_j(alpha x_i + beta)] over all ranks.
** G = sum_r V_r^T V_r and b = sum_r V_r^T y_r through one tg_mpi_sum, then
** G = Q diag(w) Q^T and c = Q diag(1 / w) Q^T b. */
static tg_status solve_normal(double *g, const double *b, int k, double n_total, double *c, double *cond)
{
    double *w = malloc((size_t)k * sizeof *w);
    if (!w)
        return tg_set_error(TG_ERR_NOMEM, "tg_mpi_legendre_lstsq: no memory");
    lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', k, g, k, w);
    tg_status s = TG_OK;
    if (info != 0) {
        s = tg_set_error(TG_ERR_NUMERIC, "tg_mpi_legendre_lstsq: dsyevd failed (info %d)", (int)info);
        goto cleanup;
    }
    double s_min = sqrt(fmax(w[0], 0.0)), s_max = sqrt(fmax(w[k - 1], 0.0));
    *cond = s_max / s_min;
    if (n_total < k || !(s_min > n_total * DBL_EPSILON * s_max)) {
        s = tg_set_error(TG_ERR_NUMERIC, "tg_mpi_legendre_lstsq: rank-deficient design: %.0f points, "
                         "%d coefficients, singular values %g .. %g", n_total, k, s_min, s_max);
        goto cleanup;
    }
    for (int i = 0; i < k; i++)
        c[i] = 0.0;
    for (int j = 0; j < k; j++) {
        double proj = 0.0;
        for (int i = 0; i < k; i++)
            proj += g[(int64_t)i * k + j] * b[i];
        proj /= w[j];
        for (int i = 0; i < k; i++)
            c[i] += proj * g[(int64_t)i * k + j];
    }
cleanup:
    free(w);
    return s;
}

tg_status tg_mpi_legendre_lstsq(tg_tensor *x, tg_tensor *y, int degree, double alpha, double beta,
                                tg_tensor **coef, double *cond, MPI_Comm comm)
{
    double cond_dummy;
    if (!cond)
        cond = &cond_dummy;
    *cond = NAN;
    if (!coef)
        return tg_set_error(TG_ERR_ARG, "tg_mpi_legendre_lstsq: coef is NULL");
    *coef = NULL;
    if (degree < 0 || degree > 100000)
        return tg_set_error(TG_ERR_ARG, "tg_mpi_legendre_lstsq: degree %d", degree);
    if (tg_ndim(x) != 1 || tg_ndim(y) != 1 || tg_numel(x) != tg_numel(y))
        return tg_set_error(TG_ERR_SHAPE, "tg_mpi_legendre_lstsq: x and y must be 1-d of one length");
    int k = degree + 1;
    int64_t n = tg_numel(x), nbuf = (int64_t)k * k + k + 1;
    double *buf = malloc((size_t)nbuf * sizeof *buf);
    if (!buf)
        return tg_set_error(TG_ERR_NOMEM, "tg_mpi_legendre_lstsq: no memory");
    bool grad_was = tg_set_grad_enabled(false);
    tg_scope_begin();
    int64_t col[2] = { n, 1 };
    tg_tensor *vt = tg_transpose(tg_legendre_vander(x, degree, alpha, beta));
    tg_tensor *g = tg_matmul(vt, tg_legendre_vander(x, degree, alpha, beta));
    tg_tensor *b = tg_matmul(vt, tg_reshape(y, 2, col));
    tg_status s = g && b ? TG_OK : tg_last_status();
    if (s == TG_OK) {
        memcpy(buf, tg_data(g), (size_t)k * k * sizeof *buf);
        memcpy(buf + (int64_t)k * k, tg_data(b), (size_t)k * sizeof *buf);
    }
    buf[nbuf - 1] = s == TG_OK ? (double)n : NAN;     /* a failed rank fails them all */
    tg_status sum = tg_mpi_sum(buf, nbuf, comm);      /* collective: entered even after a failure */
    if (s == TG_OK && sum != TG_OK)
        s = sum;
    if (s == TG_OK && isnan(buf[nbuf - 1]))
        s = tg_set_error(TG_ERR_STATE, "tg_mpi_legendre_lstsq: another rank failed");
    tg_tensor *c = s == TG_OK ? tg_zeros(1, (int64_t[]){ k }) : NULL;
    if (s == TG_OK && !c)
        s = tg_last_status();
    if (s == TG_OK)
        s = solve_normal(buf, buf + (int64_t)k * k, k, buf[nbuf - 1], tg_data(c), cond);
    if (s == TG_OK)
        *coef = tg_keep(c);
    tg_scope_end();
    tg_set_grad_enabled(grad_was);
    free(buf);
    return s;
}
