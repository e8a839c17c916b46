/* SPDX-License-Identifier: MIT */
/*
** tensorgrad_mpi: data-parallel training over MPI, an optional part of
** tensorgrad (built when CMake finds MPI; link tensorgrad::tensorgrad_mpi).
**
** Each rank holds its own contiguous slice of the data (tg_mpi_rows), computes
** the loss and gradients of its slice, and tg_mpi_allreduce_grads combines
** the gradients of every parameter, plus a few caller values such as the
** loss, in ONE collective of ONE flat buffer per step.
**
** REPRODUCIBILITY
**
** MPI_Allreduce with MPI_SUM may add the ranks' contributions in any order and
** grouping, which differs between implementations, algorithms and numbers of
** ranks, so floating-point results would too.  Every sum here is instead one
** MPI_Allgather of the ranks' vectors followed by the same left-to-right sum
** in rank order, ((v_0 + v_1) + v_2) + ..., computed on every rank: all ranks
** hold bit-identical results, the same on every run, and the only difference
** from one process summing all the points is where the partial sums of the
** points are split (floating-point summation order, about n * eps relative).
** The gathered buffer is n * size doubles: meant for parameter-sized vectors
** (thousands of values), not for data.
**
** ERRORS AND THREADS
**
** Functions return a tg_status and record a message (tg_last_error) naming the
** function and the MPI error.  They are collective: every rank of comm must
** call them in the same order with the same n.  MPI must be initialized; the
** calls use comm from the calling thread only.
*/
#ifndef TENSORGRAD_MPI_H
#define TENSORGRAD_MPI_H

#include <mpi.h>
#include <tensorgrad.h>

#ifdef __cplusplus
extern "C" {
#endif

/* buf[0..n) <- the sum over the ranks of comm of their buf[0..n), added in
** rank order (see REPRODUCIBILITY); identical on every rank.  n >= 0 and at
** most INT_MAX / size (TG_ERR_ARG); TG_ERR_NOMEM; TG_ERR_STATE when MPI fails. */
tg_status tg_mpi_sum(double *buf, int64_t n, MPI_Comm comm);

/* Replaces the gradient of every parameter of p (tg_grad, in list order) and
** extra[0..n_extra) by their sums over the ranks, with one tg_mpi_sum of one
** flat buffer.  Every parameter must have a gradient (TG_ERR_STATE naming it
** otherwise; nothing is changed then), and every rank must pass lists of the
** same shapes.  Define the loss as a sum over all points (divided, if wanted,
** by the global point count), so that the summed gradients are the gradients
** of the global loss; pass the rank's partial loss in extra to get the global
** one.  extra may be NULL when n_extra is 0. */
tg_status tg_mpi_allreduce_grads(const tg_params *p, double *extra, int64_t n_extra, MPI_Comm comm);

/* The contiguous block of rows [*begin, *end) that this rank owns out of n:
** the first n % size ranks get one row more than the others.  Not collective. */
tg_status tg_mpi_rows(int64_t n, MPI_Comm comm, int64_t *begin, int64_t *end);

/* *lo <- the minimum of *lo over the ranks, *hi <- the maximum of *hi (NaN
** ignored; a rank without data passes +inf / -inf).  Exact, so order-free. */
tg_status tg_mpi_minmax(double *lo, double *hi, MPI_Comm comm);

/* Concatenates the ranks' mine[0..n_mine) in rank order at root: there *all
** receives a malloc'd array (free it with free; NULL when the total is 0) and
** *n_all its length; elsewhere *all is NULL and *n_all 0.  Totals above
** INT_MAX doubles are TG_ERR_ARG.  For small results (a plot's sample). */
tg_status tg_mpi_gather(const double *mine, int64_t n_mine, double **all, int64_t *n_all,
                        int root, MPI_Comm comm);

/* Least squares of a Legendre series over data spread across the ranks: the
** coefficients c [degree + 1] minimizing sum over all ranks' points of
** (sum_j c_j P_j(alpha x + beta) - y)^2.  The ranks' points are taken in rank
** order; when every rank starts at a multiple of TG_LSTSQ_BLOCK (give each rank
** whole blocks), each computes its part of the fixed QR tree
** (tg_legendre_lstsq_part), the parts are exchanged (tg_mpi_lstsq_merge) and
** every rank solves the same tree: the result is bit-identical to
** tg_legendre_lstsq on all the points in one process, for any rank count.
** Other splits gather all points on every rank first (correct, but memory
** O(N)).  *cond receives the 2-norm condition number of the global design.
** x, y 1-d of one length on each rank (may be 0).  *coef is a new tensor of
** the current scope, the same on every rank.  Errors as tg_legendre_lstsq:
** TG_ERR_NUMERIC when the global matrix is rank-deficient. */
tg_status tg_mpi_legendre_lstsq(tg_tensor *x, tg_tensor *y, int degree, double alpha, double beta,
                                tg_tensor **coef, double *cond, MPI_Comm comm);

/* Concatenates every rank's mine[0..n_mine) in rank order on every rank: *all
** a malloc'd array (free it with free; NULL when the total is 0), *n_all its
** length.  Totals above INT_MAX doubles are TG_ERR_ARG. */
tg_status tg_mpi_allgather(const double *mine, int64_t n_mine, double **all, int64_t *n_all, MPI_Comm comm);

/* Collective: every rank's part of a streaming least-squares tree merged into
** one new part *all on every rank (tg_lstsq_part_free), ready for
** tg_lstsq_part_solve.  A rank passing mine NULL (it failed) makes every rank
** return TG_ERR_STATE; overlapping parts are TG_ERR_ARG at the solve. */
tg_status tg_mpi_lstsq_merge(const tg_lstsq_part *mine, tg_lstsq_part **all, MPI_Comm comm);

#ifdef __cplusplus
}
#endif

#endif /* TENSORGRAD_MPI_H */
