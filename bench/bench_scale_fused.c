/* SPDX-License-Identifier: MIT */
/*
** The limit bench/bench_scale.py measures tgfit's Adam step against: one
** hand-fused pass over a float64 .npy [N, 2] per step, written for the bench.
** Per point: P_0..P_D by Bonnet's recurrence, the residual r = sum c_j P_j - y,
** and r P_j added into the gradient; then Adam (PyTorch's defaults, lr as
** given).  OpenMP splits the points; each thread sums into its own gradient.
**   bench_scale_fused FILE.npy DEGREE STEPS LR  ->  prints seconds per step
**   and the final loss, which the bench checks against tgfit's.
** Its data is read in place (mmap), as tgfit reads it.
*/
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "bench_clock.h"

#define MAXK 64

/* sum over points of r^2 into *loss and r P_j into g[j]; t = alpha x + beta.
** Chunks of L points: the recurrence runs across the chunk's lanes (vectorized),
** once for the value and once for the gradient, the chunk staying in L1. */
#define L 64
static void pass(const double *xy, long n, int k, const double *c, double alpha, double beta, double *g,
                 double *loss)
{
    double l = 0, gs[MAXK] = {0};
#pragma omp parallel for reduction(+ : l) reduction(+ : gs[:MAXK]) schedule(static)
    for (long i0 = 0; i0 < n; i0 += L) {
        int m = n - i0 < L ? (int)(n - i0) : L;
        double t[L], p0[L], p1[L], p2[L], s[L], r[L];
        for (int i = 0; i < m; i++) {
            t[i] = alpha * xy[2 * (i0 + i)] + beta;
            p0[i] = 1.0;
            p1[i] = t[i];
            s[i] = c[0] + c[1] * t[i];
        }
        for (int j = 1; j + 1 < k; j++) {
            const double a = (2.0 * j + 1) / (j + 1), b = (double)j / (j + 1), cj = c[j + 1];
            for (int i = 0; i < m; i++) {
                p2[i] = a * t[i] * p1[i] - b * p0[i];
                s[i] += cj * p2[i];
                p0[i] = p1[i];
                p1[i] = p2[i];
            }
        }
        double g0 = 0, g1 = 0;
        for (int i = 0; i < m; i++) {
            r[i] = s[i] - xy[2 * (i0 + i) + 1];
            l += r[i] * r[i];
            p0[i] = 1.0;
            p1[i] = t[i];
            g0 += r[i];
            g1 += r[i] * t[i];
        }
        gs[0] += g0;
        gs[1] += g1;
        for (int j = 1; j + 1 < k; j++) {
            const double a = (2.0 * j + 1) / (j + 1), b = (double)j / (j + 1);
            double acc = 0;
            for (int i = 0; i < m; i++) {
                p2[i] = a * t[i] * p1[i] - b * p0[i];
                acc += r[i] * p2[i];
                p0[i] = p1[i];
                p1[i] = p2[i];
            }
            gs[j + 1] += acc;
        }
    }
    for (int j = 0; j < k; j++)
        g[j] = 2.0 * gs[j] / (double)n;
    *loss = l / (double)n;
}

int main(int argc, char **argv)
{
    if (argc != 5)
        return fprintf(stderr, "usage: %s FILE.npy DEGREE STEPS LR\n", argv[0]), 2;
    int k = atoi(argv[2]) + 1;
    long steps = atol(argv[3]);
    double lr = atof(argv[4]);
    if (k < 2 || k > MAXK)
        return fprintf(stderr, "degree 1 to %d\n", MAXK - 1), 2;
    int fd = open(argv[1], O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0)
        return perror(argv[1]), 1;
    const unsigned char *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED)
        return perror("mmap"), 1;
    size_t hlen = (size_t)m[8] | (size_t)m[9] << 8, off = 10 + hlen;   /* version 1.0 header */
    const double *xy = (const double *)(const void *)(m + off);
    long n = (long)(((size_t)sb.st_size - off) / 16);
    double lo = INFINITY, hi = -INFINITY;
    for (long i = 0; i < n; i++) {
        lo = fmin(lo, xy[2 * i]);
        hi = fmax(hi, xy[2 * i]);
    }
    double alpha = 2.0 / (hi - lo), beta = (-hi - lo) / (hi - lo);
    double c[MAXK] = {0}, g[MAXK], mo[MAXK] = {0}, v[MAXK] = {0}, loss = 0;
    double t0 = bench_now();
    for (long s = 1; s <= steps; s++) {
        pass(xy, n, k, c, alpha, beta, g, &loss);
        double b1 = 1 - pow(0.9, (double)s), b2 = 1 - pow(0.999, (double)s);
        for (int j = 0; j < k; j++) {
            mo[j] = 0.9 * mo[j] + 0.1 * g[j];
            v[j] = 0.999 * v[j] + 0.001 * g[j] * g[j];
            c[j] -= lr * (mo[j] / b1) / (sqrt(v[j] / b2) + 1e-8);
        }
    }
    double per_step = (bench_now() - t0) / (double)steps;
    pass(xy, n, k, c, alpha, beta, g, &loss);
    printf("{\"seconds_per_step\": %.6g, \"loss\": %.17g, \"points\": %ld}\n", per_step, loss, n);
    return 0;
}
