/* SPDX-License-Identifier: MIT */
/*
** The hand-fused one-pass Legendre-series step bench_series_fit measures
** tgfit's Adam step against, written for the bench and built with the
** compiler's best flags and OpenMP.  One pass over the points: per block of
** 64 points in L1, P_0..P_D by Bonnet's recurrence across the block's lanes
** (kept for the block), the series s = sum c_j P_j, the residual r = s - y,
** r^2 into the loss and r P_j into the gradient sums, each sum in 8 lanes
** (point i into lane i % 8) so that the compiler vectorizes it.  The points are split
** into chunks of fixed boundaries, chunk sums added in chunk order, so the
** answer does not depend on the number of threads.  Scaled as tgfit's mean
** squared error: loss = sum r^2 / N, grad_j = 2 sum r P_j / N.
*/
#include "series_fit_fused.h"

#include <stdlib.h>

#define L 64
#define CHUNK 4096

static void chunk_sums(const double *x, const double *y, int64_t stride, int64_t i0, int64_t i1, int ncoef,
                       const double *c, double alpha, double beta, double *part)
{
    double p[SERIES_FUSED_MAXK][L], s[L], r[L], acc[SERIES_FUSED_MAXK + 1][8] = {{0}};
    double ca[SERIES_FUSED_MAXK], cb[SERIES_FUSED_MAXK];
    for (int j = 1; j + 1 < ncoef; j++) {
        ca[j] = (2.0 * j + 1.0) / (j + 1.0);
        cb[j] = (double)j / (j + 1.0);
    }
    for (int64_t b0 = i0; b0 < i1; b0 += L) {
        const int m = i1 - b0 < L ? (int)(i1 - b0) : L;
        for (int i = m; i < L; i++) p[0][i] = p[1][i] = s[i] = 0.0;   /* lanes past m stay zero */
        for (int i = 0; i < m; i++) {
            const double t = alpha * x[(b0 + i) * stride] + beta;
            p[0][i] = 1.0;
            if (ncoef > 1) p[1][i] = t;
            s[i] = c[0] + (ncoef > 1 ? c[1] * t : 0.0);
        }
        for (int j = 1; j + 1 < ncoef; j++) {
            const double a = ca[j], b = cb[j], cj = c[j + 1];
            for (int i = 0; i < L; i++) {   /* every lane: zeros past m */
                const double t = p[1][i];
                p[j + 1][i] = a * t * p[j][i] - b * p[j - 1][i];
                s[i] += cj * p[j + 1][i];
            }
        }
        for (int i = 0; i < m; i++) r[i] = s[i] - y[(b0 + i) * stride];
        for (int i = m; i < L; i++) r[i] = 0.0;    /* a short last block adds zeros */
        for (int i = 0; i < L; i += 8)
            for (int l = 0; l < 8; l++) acc[0][l] += r[i + l] * r[i + l];
        for (int j = 0; j < ncoef; j++)
            for (int i = 0; i < L; i += 8)
                for (int l = 0; l < 8; l++) acc[j + 1][l] += r[i + l] * p[j][i + l];
    }
    for (int j = 0; j <= ncoef; j++) {
        const double *a = acc[j];
        part[j] = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    }
}

int series_fused_pass(const double *x, const double *y, int64_t stride, int64_t n, int ncoef, const double *c,
                      double alpha, double beta, int threads, double *loss, double *grad)
{
    if (ncoef < 1 || ncoef > SERIES_FUSED_MAXK || n < 1)
        return -1;
    const int64_t chunks = (n + CHUNK - 1) / CHUNK, q = ncoef + 1;
    double *part = malloc((size_t)(chunks * q) * sizeof *part);
    if (!part)
        return -1;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t u = 0; u < chunks; u++) {
        const int64_t i0 = u * CHUNK, i1 = i0 + CHUNK < n ? i0 + CHUNK : n;
        chunk_sums(x, y, stride, i0, i1, ncoef, c, alpha, beta, part + u * q);
    }
    (void)threads;
    double sums[SERIES_FUSED_MAXK + 1] = {0};
    for (int64_t u = 0; u < chunks; u++)
        for (int64_t j = 0; j < q; j++) sums[j] += part[u * q + j];
    free(part);
    *loss = sums[0] / (double)n;
    for (int j = 0; j < ncoef; j++) grad[j] = 2.0 * sums[j + 1] / (double)n;
    return 0;
}
