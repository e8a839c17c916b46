/* SPDX-License-Identifier: MIT */
/*
** The limit the engine is measured against: the tutorial step's forward,
** loss and backward as one C loop, one pass over the points.  This file alone
** is built with -O3 -march=native -ffp-contract=fast when the compiler takes
** them (bench/CMakeLists.txt), and keeps eight accumulators per sum so the
** compiler can vectorize without reassociating: the best a compiler does with
** the step written by hand.
*/
#include "suite.h"

#ifndef TG_BENCH_FUSED_FLAGS
#define TG_BENCH_FUSED_FLAGS "default"
#endif

enum { LANES = 8 };

const char *suite_fused_flags(void) { return TG_BENCH_FUSED_FLAGS; }

/* One point into lane j of the five sums. */
static inline void point(double a, double b, double c, double d, double xi, double yi,
                         double acc[5][LANES], int j)
{
    double u = c + d * xi, p3 = 0.5 * (5 * u * u * u - 3 * u);
    double r = a + b * p3 - yi, g = 2 * r, gu = g * b * 1.5 * (5 * u * u - 1);
    acc[0][j] += r * r;
    acc[1][j] += g;
    acc[2][j] += g * p3;
    acc[3][j] += gu;
    acc[4][j] += gu * xi;
}

/* The five sums over points [lo, hi). */
static void fused_range(int64_t lo, int64_t hi, const double *x, const double *y, const double p[4],
                        double out[5])
{
    const double a = p[0], b = p[1], c = p[2], d = p[3];
    double acc[5][LANES] = {{0}};
    int64_t i = lo;
    for (; i + LANES <= hi; i += LANES)
        for (int j = 0; j < LANES; j++)
            point(a, b, c, d, x[i + j], y[i + j], acc, j);
    for (int j = 0; i + j < hi; j++)
        point(a, b, c, d, x[i + j], y[i + j], acc, j);
    for (int k = 0; k < 5; k++) {
        double s = 0;
        for (int j = 0; j < LANES; j++)
            s += acc[k][j];
        out[k] = s;
    }
}

enum { MAX_THREADS = 64 };

/* How many threads share n points: 1 for one (or too few points to split). */
static int slices(int64_t n, int threads)
{
    threads = threads < MAX_THREADS ? threads : MAX_THREADS;
    return threads <= 1 || n < 1024 * threads ? 1 : threads;
}

/* A step's arrays and parameters, and the span kernels (NULL: the fused loop). */
typedef struct step_ctx {
    const double *x, *y, *p;
    suite_span_fwd *fwd;
    suite_span_bwd *bwd;
    int64_t block;
} step_ctx;

static void blocked_range(int64_t lo, int64_t hi, int64_t block, const double *x, const double *y,
                          const double p[4], suite_span_fwd *fwd, suite_span_bwd *bwd, double out[5]);

/* The step over threads > 1 slices: thread t sums the t-th contiguous slice
** and the slices' sums are added in order. */
static void run_slices(int64_t n, int threads, const step_ctx *c, double out[5])
{
    double part[MAX_THREADS][5];
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static, 1)
#endif
    for (int t = 0; t < threads; t++) {
        int64_t lo = n / threads * t, hi = t == threads - 1 ? n : n / threads * (t + 1);
        if (c->fwd)
            blocked_range(lo, hi, c->block, c->x, c->y, c->p, c->fwd, c->bwd, part[t]);
        else
            fused_range(lo, hi, c->x, c->y, c->p, part[t]);
    }
    for (int k = 0; k < 5; k++) {
        out[k] = 0;
        for (int t = 0; t < threads; t++)
            out[k] += part[t][k];
    }
}

/* x, y [n]; p = {a, b, c, d}:
**   u = c + d x, p3 = (5u^3 - 3u) / 2, r = a + b p3 - y, loss = sum r^2
**   g = 2r: ga = sum g, gb = sum g p3, gc = sum g b P3'(u), gd = sum g b P3'(u) x
** threads > 1 (and OpenMP): run_slices. */
void suite_fused_step(int64_t n, const double *x, const double *y, const double p[4], int threads,
                      double out[5])
{
    if ((threads = slices(n, threads)) == 1) {
        fused_range(0, n, x, y, p, out);
        return;
    }
    run_slices(n, threads, &(step_ctx){.x = x, .y = y, .p = p}, out);
}

/* The loss and the sums for a and b over a block, P3's output gradient g b
** into gq.  The sums are reassociated by OpenMP's simd reduction (the
** vector lanes), as a hand-vectorized loop would. */
static void loss_block(int64_t nb, double a, double b, const double *restrict q, const double *restrict y,
                       double *restrict gq, double acc[5])
{
    double s0 = 0, s1 = 0, s2 = 0;
#ifdef _OPENMP
#pragma omp simd reduction(+ : s0, s1, s2)
#endif
    for (int64_t j = 0; j < nb; j++) {
        double r = a + b * q[j] - y[j], g = 2 * r;
        s0 += r * r, s1 += g, s2 += g * q[j];
        gq[j] = g * b;
    }
    acc[0] += s0, acc[1] += s1, acc[2] += s2;
}

/* The sums for c and d over a block from P3's input gradient gu. */
static void grad_block(int64_t nb, const double *restrict gu, const double *restrict x, double acc[5])
{
    double s3 = 0, s4 = 0;
#ifdef _OPENMP
#pragma omp simd reduction(+ : s3, s4)
#endif
    for (int64_t j = 0; j < nb; j++)
        s3 += gu[j], s4 += gu[j] * x[j];
    acc[3] += s3, acc[4] += s4;
}

/* The five sums over points [lo, hi) with P3 through the span kernels, block
** by block. */
static void blocked_range(int64_t lo, int64_t hi, int64_t block, const double *x, const double *y,
                          const double p[4], suite_span_fwd *fwd, suite_span_bwd *bwd, double out[5])
{
    enum { MAX_BLOCK = 512 };
    const double a = p[0], b = p[1], c = p[2], d = p[3];
    double ub[MAX_BLOCK], qb[MAX_BLOCK], gq[MAX_BLOCK], gu[MAX_BLOCK];
    double acc[5] = {0};
    const double *in[1] = {ub};
    double *gin[1] = {gu};
    for (int64_t i0 = lo; i0 < hi; i0 += block) {
        int64_t nb = hi - i0 < block ? hi - i0 : block;
        for (int64_t j = 0; j < nb; j++)
            ub[j] = c + d * x[i0 + j];
        fwd(nb, in, qb);
        loss_block(nb, a, b, qb, y + i0, gq, acc);
        bwd(nb, in, qb, gq, gin);
        grad_block(nb, gu, x + i0, acc);
    }
    for (int k = 0; k < 5; k++)
        out[k] = acc[k];
}

void suite_span_blocked_step(int64_t n, const double *x, const double *y, const double p[4], int threads,
                             suite_span_fwd *fwd, suite_span_bwd *bwd, double out[5])
{
    int64_t block = n >= (int64_t)1 << 21 ? 256 : 512;
    if ((threads = slices(n, threads)) == 1) {
        blocked_range(0, n, block, x, y, p, fwd, bwd, out);
        return;
    }
    run_slices(n, threads, &(step_ctx){.x = x, .y = y, .p = p, .fwd = fwd, .bwd = bwd, .block = block}, out);
}
