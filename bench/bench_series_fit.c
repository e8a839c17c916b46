/* SPDX-License-Identifier: MIT */
/*
** Benchmark: tgfit's Adam step on a Legendre series (degree 10 by default,
** 10^7 points) against a hand-fused one-pass step written for the bench
** (series_fit_fused.c), on 1 and 2 threads.  tgfit's step is its own code
** (tools/tgfit/fit.c through fit_stepper, linked from tgfit_core): the
** trainer, the closure over TGFIT_BLOCK blocks, the fixed sum tree and
** tensorgrad's Adam, on data laid out as tgfit maps a [N, 2] .npy (x and y
** interleaved, stride 2).  Before anything is timed, the loss and gradient
** of tgfit's step are checked against the hand-fused pass at the same
** coefficients to 1e-10 (relative to the largest), and tgfit's loss and
** gradient bits are checked equal on 1 and 2 threads.  Each time is the best
** of STEPS steps; the hand-fused step includes the same Adam update.
** Runs itself again with OMP_WAIT_POLICY=passive when unset (a spinning
** OpenMP wait costs time slices on a loaded machine: docs/scale.md).
**
** usage: bench_series_fit [N [DEGREE [STEPS]]]   (default: 10000000 10 5)
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "series_fit_fused.h"
#include "tgfit.h"
#include "bench_clock.h"

static void die(const char *what)
{
    fprintf(stderr, "bench_series_fit: %s: %s\n", what, tgfit_error()[0] ? tgfit_error() : tg_last_error());
    exit(1);
}

/* PyTorch's Adam at its defaults, as tg_adam: one step of c from g. */
typedef struct adam { double m[SERIES_FUSED_MAXK], v[SERIES_FUSED_MAXK]; long t; } adam;
static void adam_step(adam *a, int k, double lr, double *c, const double *g)
{
    a->t++;
    const double b1 = 1 - pow(0.9, (double)a->t), b2 = 1 - pow(0.999, (double)a->t);
    for (int j = 0; j < k; j++) {
        a->m[j] = 0.9 * a->m[j] + 0.1 * g[j];
        a->v[j] = 0.999 * a->v[j] + 0.001 * g[j] * g[j];
        c[j] -= lr * (a->m[j] / b1) / (sqrt(a->v[j] / b2) + 1e-8);
    }
}

typedef struct bench {
    options o;
    par p;
    dataset d;
    int k;
} bench;

/* One tgfit step at `threads`; *loss its loss, c / g the values it started from and their gradient. */
static void tgfit_step(fit_stepper *s, int k, double *loss, double *c, double *g)
{
    double before[SERIES_FUSED_MAXK];
    fit_stepper_state(s, before, NULL);
    if (fit_stepper_step(s, loss) != 0) die("tgfit step");
    fit_stepper_state(s, c, g);
    memcpy(c, before, (size_t)k * sizeof *c);
}

/* tgfit's loss and gradient against the hand-fused pass at the values of its third step. */
static void check(bench *b, int threads, double *loss_bits, double *grad_bits)
{
    fit_run r;
    tg_set_num_threads(threads);
    fit_stepper *s = fit_stepper_new(&b->o, &b->p, &b->d, &r);
    if (!s) die("fit_stepper_new");
    double loss = 0, c[SERIES_FUSED_MAXK], g[SERIES_FUSED_MAXK], fl, fg[SERIES_FUSED_MAXK];
    for (int i = 0; i < 3; i++) tgfit_step(s, b->k, &loss, c, g);
    if (series_fused_pass(b->d.x, b->d.y, b->d.stride, b->d.n, b->k, c, r.alpha, r.beta, threads, &fl, fg) != 0)
        die("hand-fused pass");
    double scale = 0;
    for (int j = 0; j < b->k; j++) scale = fmax(scale, fabs(fg[j]));
    if (!(fabs(loss - fl) <= 1e-10 * fabs(fl))) {
        fprintf(stderr, "bench_series_fit: %d threads: tgfit's loss %.17g, hand-fused %.17g\n", threads, loss, fl);
        exit(1);
    }
    for (int j = 0; j < b->k; j++)
        if (!(fabs(g[j] - fg[j]) <= 1e-10 * scale)) {
            fprintf(stderr, "bench_series_fit: %d threads: grad[%d] tgfit %.17g, hand-fused %.17g\n", threads, j,
                    g[j], fg[j]);
            exit(1);
        }
    if (loss_bits && memcmp(loss_bits, &loss, sizeof loss) == 0 && memcmp(grad_bits, g, (size_t)b->k * 8) == 0)
        printf("check    %d threads: loss and gradient bit-identical to 1 thread's; agree with the hand-fused "
               "pass to 1e-10\n", threads);
    else if (loss_bits && threads > 1) {
        fprintf(stderr, "bench_series_fit: tgfit's step on %d threads differs from 1 thread's in its bits\n",
                threads);
        exit(1);
    } else if (grad_bits) {
        memcpy(loss_bits, &loss, sizeof loss);
        memcpy(grad_bits, g, (size_t)b->k * sizeof *g);
        printf("check    %d thread:  loss %.6e and gradient agree with the hand-fused pass to 1e-10\n", threads,
               loss);
    }
    fit_stepper_free(s);
    fit_run_free(&r);
}

static void bench_threads(bench *b, int threads, int steps)
{
    fit_run r;
    tg_set_num_threads(threads);
    fit_stepper *s = fit_stepper_new(&b->o, &b->p, &b->d, &r);
    if (!s) die("fit_stepper_new");
    double loss, best_tg = INFINITY, best_fused = INFINITY, c[SERIES_FUSED_MAXK] = {0}, g[SERIES_FUSED_MAXK], fl;
    adam a;
    memset(&a, 0, sizeof a);
    if (fit_stepper_step(s, &loss) != 0) die("tgfit step");   /* warm: scopes and pools fill */
    series_fused_pass(b->d.x, b->d.y, b->d.stride, b->d.n, b->k, c, r.alpha, r.beta, threads, &fl, g);
    adam_step(&a, b->k, r.lr, c, g);
    for (int i = 0; i < steps; i++) {
        double t0 = bench_now();
        if (fit_stepper_step(s, &loss) != 0) die("tgfit step");
        double t1 = bench_now();
        series_fused_pass(b->d.x, b->d.y, b->d.stride, b->d.n, b->k, c, r.alpha, r.beta, threads, &fl, g);
        adam_step(&a, b->k, r.lr, c, g);
        double t2 = bench_now();
        best_tg = fmin(best_tg, t1 - t0);
        best_fused = fmin(best_fused, t2 - t1);
    }
    if (!(fabs(loss - fl) <= 1e-6 * fabs(fl)))   /* both ran the same Adam from zero: same trajectory */
        fprintf(stderr, "bench_series_fit: note: after %d steps tgfit's loss %.17g, hand-fused %.17g\n", steps + 1,
                loss, fl);
    printf("tgfit Adam step  degree %d  N %lld  %d thread%s   tgfit %9.3f ms   hand-fused %9.3f ms   ratio %.2f\n",
           b->k - 1, (long long)b->d.n, threads, threads > 1 ? "s" : " ", 1e3 * best_tg, 1e3 * best_fused,
           best_tg / best_fused);
    fit_stepper_free(s);
    fit_run_free(&r);
}

int main(int argc, char **argv)
{
    if (!getenv("OMP_WAIT_POLICY")) {
        setenv("OMP_WAIT_POLICY", "passive", 1);
        execvp(argv[0], argv);
        perror("bench_series_fit: exec");
        return 1;
    }
    const int64_t n = argc > 1 ? atoll(argv[1]) : 10000000;
    const int degree = argc > 2 ? atoi(argv[2]) : 10, steps = argc > 3 ? atoi(argv[3]) : 5;
    if (n < 1 || degree < 0 || degree + 1 > SERIES_FUSED_MAXK || steps < 1) {
        fprintf(stderr, "usage: bench_series_fit [N [DEGREE [STEPS]]]  (DEGREE < %d)\n", SERIES_FUSED_MAXK);
        return 2;
    }
    double *xy = malloc((size_t)(2 * n) * sizeof *xy);
    if (!xy) return fprintf(stderr, "bench_series_fit: out of memory\n"), 1;
    uint64_t st = 0x9e3779b97f4a7c15u;
    for (int64_t i = 0; i < n; i++) {   /* x on [-2, 3], a quartic plus a little noise, as gen_points' poly */
        st = st * 6364136223846793005u + 1442695040888963407u;
        const double x = -2.0 + 5.0 * (double)i / (double)(n > 1 ? n - 1 : 1);
        const double noise = ((double)(st >> 11) * 0x1.0p-53 - 0.5) * 0.02;
        xy[2 * i] = x;
        xy[2 * i + 1] = 0.5 - x + 0.25 * x * x * x - 0.05 * x * x * x * x + noise;
    }
    bench b;
    memset(&b, 0, sizeof b);
    b.o = (options){.data = "bench", .xcol = "x", .ycol = "y", .model = MODEL_LEGENDRE, .optimizer = OPT_ADAM,
                    .degree = degree, .steps = steps + 1, .no_lstsq = true, .quiet = true};
    b.p = (par){.rank = 0, .size = 1, .mpi = false};
    b.d = (dataset){.n_total = n, .begin = 0, .n = n, .x = xy, .y = xy + 1, .stride = 2, .xlo = -2.0, .xhi = 3.0};
    b.k = degree + 1;
    double loss_bits, grad_bits[SERIES_FUSED_MAXK];
    check(&b, 1, &loss_bits, grad_bits);
    check(&b, 2, &loss_bits, grad_bits);
    bench_threads(&b, 1, steps);
    bench_threads(&b, 2, steps);
    free(xy);
    return 0;
}
