/* SPDX-License-Identifier: MIT */
/*
** Benchmark: what an optimizer's separate update costs in a lazy step, and
** what joining it to the plan saves.  Two fits updated by Adam:
**   scalars  the tutorial's: loss = mean((a + b P3(c + d x) - y)^2), four
**            one-element parameters
**   vector   loss = mean((w P3(c + d x) + b - y)^2), w of N points (its
**            gradient and its update elementwise over the points)
** each run two ways:
**   lazy      tg_set_lazy(true): zero_grad, the loss, tg_backward (one cached
**             plan that adds the gradients to tg_grad), then tg_optim_step,
**             timed apart: the separate update's share of the step
**   captured  tg_graph_capture_optim: the update inside the plan's last pass
** The two trajectories are checked against each other (10 steps from the
** same start, 1e-9 relative) before anything is timed.  Each time is the best
** of 5 batches (3 at N >= 10^6), per step.
**
** usage: bench_optim_fused [N ...]   (default: 2000 10000000)
*/
#define _POSIX_C_SOURCE 200809L   /* clock_gettime */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <tensorgrad.h>
#include "bench_clock.h"

static void die(const char *what)
{
    fprintf(stderr, "bench_optim_fused: %s: %s\n", what, tg_last_error());
    exit(1);
}

enum { SCALARS, VECTOR };

typedef struct fit {
    int kind;
    int64_t n;
    tg_tensor *x, *y, *w, *p[4];   /* scalars: p = a, b, c, d; vector: w and p = b, c, d */
    tg_params *params;
    tg_optim *adam;
} fit;

static tg_tensor *loss_of(void *user)
{
    fit *f = user;
    if (f->kind == SCALARS) {
        tg_tensor *q = tg_legendre(tg_add(f->p[2], tg_mul(f->p[3], f->x)), 3);
        return tg_mean(tg_pow(tg_sub(tg_add(f->p[0], tg_mul(f->p[1], q)), f->y), 2.0));
    }
    tg_tensor *q = tg_legendre(tg_add(f->p[1], tg_mul(f->p[2], f->x)), 3);
    return tg_mean(tg_pow(tg_sub(tg_add(tg_mul(f->w, q), f->p[0]), f->y), 2.0));
}

static void add_param(fit *f, const char *name, tg_tensor *t)
{
    if (!t || tg_set_requires_grad(t, true) != TG_OK || tg_params_add(f->params, name, t) != TG_OK)
        die("parameters");
}

static void make_fit(fit *f, int kind, int64_t n)
{
    static const double init[4] = {0.1, -1.0, 0.2, 0.3};   /* no gradient starts at 0 */
    *f = (fit){.kind = kind, .n = n};
    f->x = tg_linspace(-3.0, 3.0, n);
    f->y = tg_sin(f->x);
    f->params = tg_params_new();
    if (!f->x || !f->y || !f->params)
        die("data");
    if (kind == VECTOR)
        add_param(f, "w", f->w = tg_full(1, &n, -1.0));
    for (int i = 0; i < (kind == SCALARS ? 4 : 3); i++) {
        char name[2] = {(char)('a' + i), 0};
        add_param(f, name, f->p[i] = tg_scalar(init[kind == SCALARS ? i : i + 1]));
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
    tg_free(f->w), tg_free(f->x), tg_free(f->y);
    tg_params_free(f->params);
}

/* One lazy step; *update gets the seconds tg_optim_step took. */
static void lazy_step(fit *f, double *update)
{
    tg_scope_begin();
    tg_optim_zero_grad(f->adam);
    tg_tensor *l = loss_of(f);
    if (!l || tg_backward(l, NULL) != TG_OK)
        die("lazy backward");
    double t0 = bench_now();
    if (tg_optim_step(f->adam) != TG_OK)
        die("tg_optim_step");
    *update = bench_now() - t0;
    tg_scope_end();
}

static void check(int kind, int64_t n)
{
    fit e, c;
    make_fit(&e, kind, n);
    make_fit(&c, kind, n);
    tg_graph *g = tg_graph_capture_optim(loss_of, &c, c.params, c.adam);
    if (!g)
        die("tg_graph_capture_optim");
    double u;
    for (int t = 0; t < 10; t++) {
        lazy_step(&e, &u);
        if (tg_graph_replay(g, NULL) != TG_OK)
            die("replay");
    }
    for (int i = 0; i < tg_params_count(e.params); i++) {
        tg_tensor *a = tg_params_get(e.params, i), *b = tg_params_get(c.params, i);
        for (int64_t j = 0; j < tg_numel(a); j += 1 + tg_numel(a) / 1000) {
            double x = tg_data(a)[j], y = tg_data(b)[j];
            if (!(fabs(x - y) <= 1e-9 * fabs(x) + 1e-12)) {
                fprintf(stderr, "bench_optim_fused: N = %lld, %s[%lld]: lazy %.17g, captured %.17g\n",
                        (long long)n, tg_params_name(e.params, i), (long long)j, x, y);
                exit(1);
            }
        }
    }
    tg_graph_free(g);
    free_fit(&e), free_fit(&c);
}

/* Best batch, seconds per step: *step the whole step, *update its
** tg_optim_step (lazy) */
static void time_steps(int kind, int64_t n, bool captured, double *step, double *update)
{
    fit f;
    make_fit(&f, kind, n);
    tg_graph *g = captured ? tg_graph_capture_optim(loss_of, &f, f.params, f.adam) : NULL;
    if (captured && !g)
        die("capture");
    int steps = n < 1000000 ? 300 : 3, runs = n < 1000000 ? 5 : 3;
    *step = *update = INFINITY;
    for (int run = 0; run < runs; run++) {
        double t0 = bench_now(), up = 0, u = 0;
        for (int t = 0; t < steps; t++) {
            if (captured) {
                if (tg_graph_replay(g, NULL) != TG_OK)
                    die("replay");
            } else {
                lazy_step(&f, &u);
                up += u;
            }
        }
        double dt = (bench_now() - t0) / steps;
        if (dt < *step)
            *step = dt, *update = up / steps;
    }
    tg_graph_free(g);
    free_fit(&f);
}

int main(int argc, char **argv)
{
    int64_t sizes[8] = {2000, 10000000};
    int n_sizes = argc > 1 ? argc - 1 : 2;
    for (int i = 0; i < n_sizes && i < 8 && argc > 1; i++)
        sizes[i] = atoll(argv[i + 1]);
    tg_set_lazy(true);
    printf("Adam steps, per step (best batch); lazy: tg_backward's plan, then tg_optim_step apart\n");
    for (int k = 0; k < n_sizes && k < 8; k++)
        for (int kind = SCALARS; kind <= VECTOR; kind++) {
            int64_t n = sizes[k];
            check(kind, n);
            double tl, ul, tc, uc;
            time_steps(kind, n, false, &tl, &ul);
            time_steps(kind, n, true, &tc, &uc);
            printf("N = %8lld %-7s lazy %10.2f us (tg_optim_step %9.2f us, %4.1f%%)  captured %10.2f us (%.2fx lazy)\n",
                   (long long)n, kind == SCALARS ? "scalars" : "vector", tl * 1e6, ul * 1e6, 100 * ul / tl,
                   tc * 1e6, tc / tl);
        }
    return 0;
}
