/* SPDX-License-Identifier: MIT */
/* The hand-fused Legendre-series step of bench_series_fit (series_fit_fused.c). */
#ifndef SERIES_FIT_FUSED_H
#define SERIES_FIT_FUSED_H

#include <stdint.h>

#define SERIES_FUSED_MAXK 64

/* Points i < n at x[i * stride], y[i * stride]; t = alpha x + beta.  *loss =
** mean (sum c_j P_j(t) - y)^2 and grad[j] its derivative in c_j, on `threads`
** OpenMP threads; the same bits for any thread count.  -1 for ncoef outside
** 1..SERIES_FUSED_MAXK, n < 1 or no memory. */
int series_fused_pass(const double *x, const double *y, int64_t stride, int64_t n, int ncoef, const double *c,
                      double alpha, double beta, int threads, double *loss, double *grad);

#endif
