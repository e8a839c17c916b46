/* SPDX-License-Identifier: MIT */
/*
** Benchmark: one training step of the tutorial's fit (loss = sum((a + b P3(c +
** d x) - y)^2), P3 by tg_legendre) updated by Adam, three ways:
**   eager      zero_grad, the loss, tg_backward and tg_optim_step, op by op
**   captured   tg_graph_capture_optim with the same Adam: the forward,
**              backward and Adam's update replayed as fused passes
**   sgd graph  tg_graph_capture (the update fused as p -= lr * grad), for
**              the cost of the optimizer's own step beside a fused update
** The eager and captured Adam trajectories are checked against each other
** (20 steps from the same start, 1e-9 relative) before anything is timed.
** Each time is the best of 5 runs of a batch of steps, per step.  Then a
** chain of 9 pointwise ops without gradients, eager against lazy mode (the
** results checked bit for bit first), at N = 1 (dispatch alone) and each N.
**
** usage: bench_engine [N ...]   (default: 2000 1000000)
*/
#define _POSIX_C_SOURCE 200809L   /* clock_gettime */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <tensorgrad.h>
#include "bench_clock.h"

#ifndef M_PI   /* strict C11 math.h leaves it out */
#define M_PI 3.14159265358979323846
#endif

static void die(const char *what)
{
    fprintf(stderr, "bench_engine: %s: %s\n", what, tg_last_error());
    exit(1);
}

typedef struct fit { tg_tensor *x, *y, *p[4]; tg_params *params; tg_optim *adam; } fit;

static tg_tensor *loss_of(void *user)
{
    fit *f = user;
    tg_tensor *q = tg_legendre(tg_add(f->p[2], tg_mul(f->p[3], f->x)), 3);
    return tg_sum(tg_pow(tg_sub(tg_add(f->p[0], tg_mul(f->p[1], q)), f->y), 2.0));
}

static void make_fit(fit *f, int64_t n)
{
    static const double init[4] = {0.1, -1.0, 0.2, 0.3};   /* no gradient starts at 0 (Adam would step on its rounding) */
    f->x = tg_linspace(-M_PI, M_PI, n);
    f->y = tg_sin(f->x);
    f->params = tg_params_new();
    for (int i = 0; i < 4; i++) {
        char name[2] = {(char)('a' + i), 0};
        f->p[i] = tg_scalar(init[i]);
        if (!f->p[i] || tg_set_requires_grad(f->p[i], true) != TG_OK ||
            tg_params_add(f->params, name, f->p[i]) != TG_OK)
            die("parameters");
    }
    tg_adam_opts o = tg_adam_defaults();
    o.lr = 1e-3;
    if (!(f->adam = tg_adam_new(f->params, &o)))
        die("tg_adam_new");
}

static void free_fit(fit *f)
{
    tg_optim_free(f->adam);
    for (int i = 0; i < 4; i++)
        tg_free(f->p[i]);
    tg_free(f->x), tg_free(f->y);
    tg_params_free(f->params);
}

static void eager_step(fit *f)
{
    tg_scope_begin();
    tg_optim_zero_grad(f->adam);
    tg_tensor *l = loss_of(f);
    if (!l || tg_backward(l, NULL) != TG_OK || tg_optim_step(f->adam) != TG_OK)
        die("eager step");
    tg_scope_end();
}

static void check(int64_t n)
{
    fit e, c;
    make_fit(&e, n);
    make_fit(&c, n);
    tg_graph *g = tg_graph_capture_optim(loss_of, &c, c.params, c.adam);
    if (!g)
        die("tg_graph_capture_optim");
    for (int t = 0; t < 20; t++) {
        eager_step(&e);
        if (tg_graph_replay(g, NULL) != TG_OK)
            die("replay");
    }
    for (int i = 0; i < 4; i++) {
        double a = tg_item(e.p[i]), b = tg_item(c.p[i]);
        if (!(fabs(a - b) <= 1e-9 * fabs(a) + 1e-12)) {
            fprintf(stderr, "bench_engine: N = %lld, parameter %d: eager %.17g, captured %.17g\n",
                    (long long)n, i, a, b);
            exit(1);
        }
    }
    tg_graph_free(g);
    free_fit(&e);
    free_fit(&c);
}

enum { EAGER, CAPTURED, SGD_GRAPH };

/* Best of 5 batches of `steps` steps, seconds per step. */
static double time_steps(int how, int64_t n, int steps)
{
    fit f;
    make_fit(&f, n);
    tg_graph *g = how == CAPTURED ? tg_graph_capture_optim(loss_of, &f, f.params, f.adam)
                  : how == SGD_GRAPH ? tg_graph_capture(loss_of, &f, f.params, 1e-7) : NULL;
    if (how != EAGER && !g)
        die("capture");
    double best = INFINITY;
    for (int run = 0; run < 5; run++) {
        double t0 = bench_now();
        for (int t = 0; t < steps; t++)
            if (how == EAGER)
                eager_step(&f);
            else if (tg_graph_replay(g, NULL) != TG_OK)
                die("replay");
        double dt = (bench_now() - t0) / steps;
        best = dt < best ? dt : best;
    }
    tg_graph_free(g);
    free_fit(&f);
    return best;
}

/* ------------------------------------------------ lazy against eager */

/* A chain of pointwise ops without gradients on x (n points): 9 applies. */
static tg_tensor *chain(tg_tensor *x)
{
    tg_tensor *u = tg_affine(x, 0.5, 0.25);
    tg_tensor *v = tg_mul(tg_sin(u), tg_exp(tg_neg(u)));
    return tg_add(tg_legendre(u, 5), tg_pow(tg_sub(v, x), 2.0));
}

/* Seconds per chain, read back by tg_data (best of 5 batches). */
static double time_chain(bool lazy, tg_tensor *x, int reps)
{
    bool prev = tg_set_lazy(lazy);
    double best = INFINITY, sink = 0;
    for (int run = 0; run < 5; run++) {
        double t0 = bench_now();
        for (int r = 0; r < reps; r++) {
            tg_scope_begin();
            tg_tensor *y = chain(x);
            if (!y)
                die("chain");
            sink += tg_data(y)[0];
            tg_scope_end();
        }
        double dt = (bench_now() - t0) / reps;
        best = dt < best ? dt : best;
    }
    tg_set_lazy(prev);
    return sink == sink ? best : INFINITY;   /* keeps the reads */
}

static void lazy_rows(int64_t n)
{
    tg_tensor *x = tg_linspace(-0.9, 0.9, n);
    tg_scope_begin();
    bool prev = tg_set_lazy(false);
    tg_tensor *e = chain(x);
    tg_set_lazy(true);
    tg_tensor *l = chain(x);
    for (int64_t i = 0; i < n; i++)   /* the same bits, or nothing is timed */
        if (memcmp(&tg_data(e)[i], &tg_data(l)[i], sizeof(double)) != 0) {
            fprintf(stderr, "bench_engine: lazy chain differs from eager at %lld of %lld\n", (long long)i,
                    (long long)n);
            exit(1);
        }
    tg_set_lazy(prev);
    tg_scope_end();
    int reps = n <= 4096 ? 2000 : 20;
    double te = time_chain(false, x, reps), tl = time_chain(true, x, reps);
    printf("N = %8lld  no-grad chain of 9 ops: eager %9.2f us  lazy %9.2f us (%.2fx)\n", (long long)n, te * 1e6,
           tl * 1e6, tl / te);
    tg_free(x);
}

int main(int argc, char **argv)
{
    int64_t sizes[8] = {2000, 1000000};
    int n_sizes = argc > 1 ? argc - 1 : 2;
    for (int i = 0; i < n_sizes && i < 8 && argc > 1; i++)
        sizes[i] = atoll(argv[i + 1]);
    printf("tutorial fit, Adam: per step (best of 5), ratios to the eager step\n");
    for (int k = 0; k < n_sizes && k < 8; k++) {
        int64_t n = sizes[k];
        int steps = n <= 100000 ? 400 : 10;
        check(n);
        double te = time_steps(EAGER, n, steps), tc = time_steps(CAPTURED, n, steps);
        double ts = time_steps(SGD_GRAPH, n, steps);
        printf("N = %8lld  eager Adam %9.2f us  captured Adam %9.2f us (%.2fx)  captured SGD %9.2f us (%.2fx)\n",
               (long long)n, te * 1e6, tc * 1e6, tc / te, ts * 1e6, ts / te);
    }
    printf("lazy mode against eager (bits checked equal first), ratios to eager\n");
    lazy_rows(1);
    for (int k = 0; k < n_sizes && k < 8; k++)
        lazy_rows(sizes[k]);
    return 0;
}
