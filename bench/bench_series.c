/* SPDX-License-Identifier: MIT */
/*
** Benchmark: the Legendre-series fit step (forward, squared-error loss,
** backward to the coefficients) of tg_legendre_series.
**   step       one series of degree 8 / 32 / 200 at N points, against a
**              hand-fused C loop (Clenshaw forward, Bonnet backward, one pass
**              per point): the limit the engine is measured against
**   batched    B series of N points (default 10,000 x 2,000, degree 8, shared
**              x) in one call, against a loop of B single-series calls
** Every path's gradients are checked against the other's before anything is
** timed (the batched and looped gradients bit for bit).  Each time is the
** best of several runs.
**
** usage: bench_series [N_step [B N_batch]]   (default: 1000000 10000 2000)
*/
#define _POSIX_C_SOURCE 200809L   /* clock_gettime */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <tensorgrad.h>
#include "bench_clock.h"

static void die(const char *what)
{
    fprintf(stderr, "bench_series: %s: %s\n", what, tg_last_error());
    exit(1);
}

/* ------------------------------------------------------------ one series */

/* loss = sum((series(coef, x) - target)^2); the gradient lands in tg_grad(coef). */
static void library_step(tg_tensor *coef, tg_tensor *x, tg_tensor *target, double alpha, double beta)
{
    tg_scope_begin();
    tg_zero_grad(coef);
    tg_tensor *loss = tg_sum(tg_pow(tg_sub(tg_legendre_series(coef, x, alpha, beta), target), 2.0));
    if (!loss || tg_backward(loss, NULL) != TG_OK) die("library step");
    tg_scope_end();
}

/* The same step as one C loop: Clenshaw for y, then Bonnet for dcoef, with
** the recurrence constants tabulated once (no division in the loop). */
static void fused_step(int64_t n, int64_t ncoef, const double *c, const double *x, const double *target,
                       double alpha, double beta, double *dc, double *tab)
{
    double *ca = tab, *cb = tab + ncoef, *ba = tab + 2 * ncoef, *bb = tab + 3 * ncoef;
    for (int64_t j = 0; j < ncoef; j++) {
        ca[j] = (2.0 * j + 1.0) / (j + 1.0);     /* Clenshaw: b_j = ca t b_{j+1} + cb b_{j+2} + c_j */
        cb[j] = -(j + 1.0) / (j + 2.0);
        ba[j] = (2.0 * j + 1.0) / (j + 1.0);     /* Bonnet: P_{j+1} = ba t P_j - bb P_{j-1} */
        bb[j] = j / (j + 1.0);
    }
    memset(dc, 0, (size_t)ncoef * sizeof(double));
    for (int64_t i = 0; i < n; i++) {
        const double t = x[i] * alpha + beta;
        double b1 = 0, b2 = 0;
        for (int64_t j = ncoef - 1; j >= 0; j--) {
            double b0 = ca[j] * t * b1 + cb[j] * b2 + c[j];
            b2 = b1;
            b1 = b0;
        }
        const double r = 2.0 * (b1 - target[i]);
        double p0 = 0.0, p1 = 1.0;
        for (int64_t j = 0; j < ncoef; j++) {
            dc[j] += r * p1;
            const double p2 = ba[j] * t * p1 - bb[j] * p0;
            p0 = p1;
            p1 = p2;
        }
    }
}

static void bench_step(int64_t n, int degree)
{
    const int64_t ncoef = degree + 1;
    double alpha, beta;
    if (tg_legendre_range_map(0.0, 10.0, &alpha, &beta) != TG_OK) die("range map");
    tg_tensor *x = tg_linspace(0.0, 10.0, n), *target = tg_sin(x), *coef = tg_zeros(1, &ncoef);
    for (int64_t j = 0; j < ncoef; j++) tg_data(coef)[j] = 1.0 / (1.0 + j);
    tg_set_requires_grad(coef, true);
    double *dc = malloc((size_t)ncoef * sizeof(double)), *tab = malloc((size_t)(4 * ncoef) * sizeof(double));
    library_step(coef, x, target, alpha, beta);
    fused_step(n, ncoef, tg_data(coef), tg_data(x), tg_data(target), alpha, beta, dc, tab);
    double scale = 0;
    for (int64_t j = 0; j < ncoef; j++) scale = fmax(scale, fabs(dc[j]));
    for (int64_t j = 0; j < ncoef; j++)
        if (!(fabs(tg_data(tg_grad(coef))[j] - dc[j]) <= 1e-9 * scale)) {
            fprintf(stderr, "bench_series: degree %d dcoef[%lld]: library %.17g, fused %.17g\n", degree,
                    (long long)j, tg_data(tg_grad(coef))[j], dc[j]);
            exit(1);
        }
    double best_lib = INFINITY, best_fused = INFINITY;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = bench_now();
        library_step(coef, x, target, alpha, beta);
        double t1 = bench_now();
        fused_step(n, ncoef, tg_data(coef), tg_data(x), tg_data(target), alpha, beta, dc, tab);
        double t2 = bench_now();
        best_lib = fmin(best_lib, t1 - t0);
        best_fused = fmin(best_fused, t2 - t1);
    }
    printf("step     degree %3d  N %9lld   library %9.3f ms (%6.1f Mpt/s)   hand-fused %9.3f ms (%6.1f Mpt/s)"
           "   ratio %.2f\n", degree, (long long)n, 1e3 * best_lib, 1e-6 * n / best_lib, 1e3 * best_fused,
           1e-6 * n / best_fused, best_lib / best_fused);
    free(dc);
    free(tab);
    tg_free(x);
    tg_free(target);
    tg_free(coef);
}

/* ------------------------------------------------------------ batched */

static void batched_step(tg_tensor *coef, tg_tensor *x, tg_tensor *target, double alpha, double beta)
{
    tg_scope_begin();
    tg_zero_grad(coef);
    tg_tensor *loss = tg_sum(tg_pow(tg_sub(tg_legendre_series(coef, x, alpha, beta), target), 2.0));
    if (!loss || tg_backward(loss, NULL) != TG_OK) die("batched step");
    tg_scope_end();
}

/* B single-series steps; series b's gradient is copied to dc[b, :]. */
static void looped_step(int64_t nb, int64_t n, int64_t ncoef, const double *c, tg_tensor *x, const double *target,
                        double alpha, double beta, double *dc)
{
    for (int64_t b = 0; b < nb; b++) {
        tg_scope_begin();
        tg_tensor *cb = tg_from_array(1, &ncoef, c + b * ncoef), *tb = tg_from_array(1, &n, target + b * n);
        tg_set_requires_grad(cb, true);
        tg_tensor *loss = tg_sum(tg_pow(tg_sub(tg_legendre_series(cb, x, alpha, beta), tb), 2.0));
        if (!loss || tg_backward(loss, NULL) != TG_OK) die("looped step");
        memcpy(dc + b * ncoef, tg_data(tg_grad(cb)), (size_t)ncoef * sizeof(double));
        tg_scope_end();
    }
}

static void bench_batched(int64_t nb, int64_t n, int degree)
{
    const int64_t ncoef = degree + 1;
    double alpha, beta;
    if (tg_legendre_range_map(-1.0, 3.0, &alpha, &beta) != TG_OK) die("range map");
    tg_tensor *x = tg_linspace(-1.0, 3.0, n), *coef = tg_zeros(2, (int64_t[]){nb, ncoef});
    tg_tensor *target = tg_zeros(2, (int64_t[]){nb, n});
    if (!x || !coef || !target) die("allocation");
    for (int64_t i = 0; i < nb * ncoef; i++) tg_data(coef)[i] = sin(0.1 * (double)i);
    for (int64_t b = 0; b < nb; b++)
        for (int64_t i = 0; i < n; i++) tg_data(target)[b * n + i] = cos(0.001 * (double)b * tg_data(x)[i]);
    tg_set_requires_grad(coef, true);
    double *dc = malloc((size_t)(nb * ncoef) * sizeof(double));
    batched_step(coef, x, target, alpha, beta);
    looped_step(nb, n, ncoef, tg_data(coef), x, tg_data(target), alpha, beta, dc);
    if (memcmp(dc, tg_data(tg_grad(coef)), (size_t)(nb * ncoef) * sizeof(double)) != 0) {
        fprintf(stderr, "bench_series: batched and looped gradients differ\n");
        exit(1);
    }
    double best_batch = INFINITY, best_loop = INFINITY;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = bench_now();
        batched_step(coef, x, target, alpha, beta);
        double t1 = bench_now();
        looped_step(nb, n, ncoef, tg_data(coef), x, tg_data(target), alpha, beta, dc);
        double t2 = bench_now();
        best_batch = fmin(best_batch, t1 - t0);
        best_loop = fmin(best_loop, t2 - t1);
    }
    printf("batched  degree %3d  %lld x %lld   one call %9.3f ms (%6.1f Mpt/s)   loop of single calls %9.3f ms"
           " (%6.1f Mpt/s)   speed-up %.2f\n", degree, (long long)nb, (long long)n, 1e3 * best_batch,
           1e-6 * (double)(nb * n) / best_batch, 1e3 * best_loop, 1e-6 * (double)(nb * n) / best_loop,
           best_loop / best_batch);
    free(dc);
    tg_free(x);
    tg_free(coef);
    tg_free(target);
}

int main(int argc, char **argv)
{
    int64_t n_step = argc > 1 ? atoll(argv[1]) : 1000000;
    int64_t nb = argc > 2 ? atoll(argv[2]) : 10000, n_batch = argc > 3 ? atoll(argv[3]) : 2000;
    if (n_step < 1 || nb < 1 || n_batch < 1) {
        fprintf(stderr, "usage: bench_series [N_step [B N_batch]]\n");
        return 2;
    }
    static const int degrees[] = {8, 32, 200};
    for (int i = 0; i < 3; i++) bench_step(n_step, degrees[i]);
    bench_batched(nb, n_batch, 8);
    return 0;
}
