/* SPDX-License-Identifier: MIT */
/*
** Benchmark: threads.  Two tables:
**   threshold   kernels (add, acc, sum, exp, legendre P3) at sizes around the
**               threshold, on 1 thread and forced onto 2 (threshold lowered
**               to 0): where a parallel region starts to pay.  This is how
**               TG__PAR_MIN_WORK in src/kernels/parallel.h was chosen.
**   step        the eager tutorial step y = a + b P3(c + d x) (forward, sum of
**               squares, backward, update) at N = 10^7 with 1 and 2 threads,
**               P3 by the built-in tg_legendre and by a user Function whose
**               loops are its own (single-threaded) code.
** Results are verified first: every kernel bit-identical on 1 and 2 threads,
** and the step's loss and gradients bit-identical on 1 and 2 threads.  Each
** time is the best of several batches: run it on a quiet machine.
**
** usage: bench_threads [N]     (default 10000000)
*/
#define _POSIX_C_SOURCE 200809L   /* clock_gettime */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <tensorgrad.h>

#include "kernels/kernels.h"
#include "kernels/parallel.h"
#include "p3.h"
#include "bench_clock.h"

/* ------------------------------------------------------------ threshold */

enum { K_ADD, K_ACC, K_SUM, K_EXP, K_LEG, N_K };
static const char *const kname[N_K] = {"add", "acc", "sum", "exp", "legendre P3"};

static double sink;

static void run_kernel(int k, int64_t n, const double *x, const double *y, double *z, double *scratch)
{
    const tg__kernels *kt = tg__kern();
    switch (k) {
    case K_ADD: kt->binary[TG__ADD](n, x, 1, y, 1, z); break;
    case K_ACC: kt->acc(n, x, z); break;
    case K_SUM: sink += kt->sum(n, x); break;
    case K_EXP: kt->unary[TG__EXP](n, x, z); break;
    default: kt->legendre(n, x, 3, 0, z, scratch); break;
    }
}

/* seconds per call, best of 7 batches of >= 2 ms */
static double time_kernel(int k, int64_t n, const double *x, const double *y, double *z, double *scratch)
{
    double best = INFINITY;
    for (int batch = 0; batch < 7; batch++) {
        int reps = 1;
        double dt;
        for (;;) {
            double t0 = bench_now();
            for (int r = 0; r < reps; r++) run_kernel(k, n, x, y, z, scratch);
            dt = bench_now() - t0;
            if (dt >= 2e-3) break;
            reps *= 2;
        }
        if (dt / reps < best) best = dt / reps;
    }
    return best;
}

static int bench_threshold(void)
{
    const int64_t nmax = (int64_t)1 << 18;
    double *x = malloc((size_t)nmax * sizeof *x), *y = malloc((size_t)nmax * sizeof *y);
    double *z1 = malloc((size_t)nmax * sizeof *z1), *z2 = malloc((size_t)nmax * sizeof *z2);
    double *scratch = malloc((size_t)tg__legendre_scratch(0) * sizeof *scratch);
    int ok = x && y && z1 && z2 && scratch;
    for (int64_t i = 0; ok && i < nmax; i++) {
        x[i] = sin((double)i);
        y[i] = cos((double)i);
    }
    printf("kernel threshold (table %s): us per call, 1 thread vs 2 threads forced\n", tg__kern()->name);
    printf("| %-12s | %8s | %10s | %10s | %7s |\n", "kernel", "n", "1 thread", "2 threads", "speedup");
    printf("|--------------|----------|------------|------------|---------|\n");
    for (int k = 0; ok && k < N_K; k++) {
        for (int64_t n = 1024; ok && n <= nmax; n *= 2) {
            double t[2];
            tg__par_set_min_work(0);
            for (int nt = 1; nt <= 2; nt++) {   /* one call each, compared before timing */
                double *z = nt == 1 ? z1 : z2;
                tg_set_num_threads(nt);
                memset(z, 0, (size_t)n * sizeof *z);
                sink = 0;
                run_kernel(k, n, x, y, z, scratch);
                if (k == K_SUM) z[0] = sink;
            }
            if (memcmp(z1, z2, (size_t)n * sizeof *z1) != 0) {
                fprintf(stderr, "%s at n = %lld: 2 threads differ from 1\n", kname[k], (long long)n);
                ok = 0;
            }
            for (int nt = 1; nt <= 2; nt++) {
                tg_set_num_threads(nt);
                t[nt - 1] = time_kernel(k, n, x, y, nt == 1 ? z1 : z2, scratch);
            }
            printf("| %-12s | %8lld | %10.2f | %10.2f | %6.2fx |\n", kname[k], (long long)n, t[0] * 1e6,
                   t[1] * 1e6, t[0] / t[1]);
        }
    }
    tg__par_set_min_work(-1);
    tg_set_num_threads(0);
    free(x), free(y), free(z1), free(z2), free(scratch);
    return ok;
}

/* ------------------------------------------------------------ the step */


typedef struct problem { tg_tensor *x, *y, *p[4]; } problem;

static int step(problem *pb, int user, double lr, double out[5])
{
    return p3_eager_step(pb->p, pb->x, pb->y, user ? &p3_fn : NULL, lr, out);
}

static void reset(problem *pb)
{
    const double init[4] = {0.0, -1.0, 0.0, 0.3};
    for (int i = 0; i < 4; i++) tg_data(pb->p[i])[0] = init[i];
}

/* seconds per step, best of 5 after one warm-up step */
static double time_step(problem *pb, int user)
{
    double out[5], best = INFINITY;
    reset(pb);
    step(pb, user, 0.0, out);
    for (int r = 0; r < 5; r++) {
        double t0 = bench_now();
        step(pb, user, 0.0, out);
        double dt = bench_now() - t0;
        if (dt < best) best = dt;
    }
    return best;
}

static int bench_step(int64_t n)
{
    problem pb;
    pb.x = tg_linspace(-3.14159265358979323846, 3.14159265358979323846, n);
    pb.y = tg_sin(pb.x);
    for (int i = 0; i < 4; i++) {
        pb.p[i] = tg_scalar(0.0);
        tg_set_requires_grad(pb.p[i], true);
    }
    int ok = pb.x && pb.y;
    printf("\neager tutorial step at N = %lld (best of 5 steps each)\n", (long long)n);
    printf("| %-20s | %12s | %12s | %8s |\n", "P3", "1 thread ms", "2 threads ms", "speedup");
    printf("|----------------------|--------------|--------------|----------|\n");
    for (int user = 0; ok && user <= 1; user++) {
        double res[2][5], t[2];
        for (int nt = 1; ok && nt <= 2; nt++) {
            tg_set_num_threads(nt);
            reset(&pb);
            ok = step(&pb, user, 0.0, res[nt - 1]);
        }
        if (ok && memcmp(res[0], res[1], sizeof res[0]) != 0) {
            fprintf(stderr, "step (%s): loss or gradients differ between 1 and 2 threads\n",
                    user ? "user" : "builtin");
            ok = 0;
        }
        for (int nt = 1; ok && nt <= 2; nt++) {
            tg_set_num_threads(nt);
            t[nt - 1] = time_step(&pb, user);
        }
        if (ok)
            printf("| %-20s | %12.1f | %12.1f | %7.2fx |\n", user ? "user P3 Function" : "builtin tg_legendre",
                   t[0] * 1e3, t[1] * 1e3, t[0] / t[1]);
    }
    if (!ok) fprintf(stderr, "step failed: %s\n", tg_last_error());
    tg_set_num_threads(0);
    for (int i = 0; i < 4; i++) tg_free(pb.p[i]);
    tg_free(pb.x);
    tg_free(pb.y);
    return ok;
}

int main(int argc, char **argv)
{
    int64_t n = argc > 1 ? strtoll(argv[1], NULL, 10) : 10000000;
    if (n < 1) return 1;
    printf("threads: default %d (%s)\n\n", tg_get_num_threads(),
           tg__par_available() ? "OpenMP" : "built without OpenMP: every row runs on 1 thread");
    if (!bench_threshold()) return 1;
    return bench_step(n) ? 0 : 1;
}
