/* SPDX-License-Identifier: MIT */
/*
** Benchmark: reductions over a dimension inside the engine.  A softmax built
** from ops, then a loss against fixed targets, with its two parameters
** updated by SGD:
**   plain   z = x * w + b, p = exp(z) / sum_dim(exp(z), -1, keep)
**   stable  the same with z - amax(z, -1, keep) (a user's stable softmax)
**   loss    mean(p * y); x, y of [B, C], w and b of [C] (their gradients
**           sums over the batch dim)
** each run three ways:
**   eager     op by op
**   lazy      tg_set_lazy(true): the same loop, one cached plan a step
**   captured  tg_graph_capture / tg_graph_replay
** The three losses after 5 steps from the same start are checked against
** each other (1e-12 relative) before anything is timed.  Each time is the
** best of 5 batches, per step.
**
** usage: bench_rowred [B C ...]   (default: 512 256 4096 1024)
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
    fprintf(stderr, "bench_rowred: %s: %s\n", what, tg_last_error());
    exit(1);
}

typedef struct fit {
    bool stable;
    tg_tensor *x, *y, *w, *b;
    tg_params *params;
    tg_optim *sgd;
} fit;

static tg_tensor *loss_of(void *user)
{
    const fit *f = user;
    tg_tensor *z = tg_add(tg_mul(f->x, f->w), f->b);
    if (f->stable)
        z = tg_sub(z, tg_amax(z, -1, true));
    tg_tensor *e = tg_exp(z);
    return tg_mean(tg_mul(tg_div(e, tg_sum_dim(e, -1, true)), f->y));
}

static void make_fit(fit *f, int64_t B, int64_t C, bool stable)
{
    int64_t s[2] = {B, C}, c[1] = {C};
    *f = (fit){.stable = stable, .x = tg_zeros(2, s), .y = tg_zeros(2, s), .w = tg_zeros(1, c),
               .b = tg_zeros(1, c), .params = tg_params_new()};
    if (!f->x || !f->y || !f->w || !f->b || !f->params)
        die("tensors");
    for (int64_t i = 0; i < B * C; i++)
        tg_data(f->x)[i] = sin(1e-3 * (double)i), tg_data(f->y)[i] = cos(0.37 * (double)i);
    for (int64_t i = 0; i < C; i++)
        tg_data(f->w)[i] = 1.0 + 0.1 * sin((double)i), tg_data(f->b)[i] = 0.01 * (double)i;
    if (tg_set_requires_grad(f->w, true) != TG_OK || tg_set_requires_grad(f->b, true) != TG_OK ||
        tg_params_add(f->params, "w", f->w) != TG_OK || tg_params_add(f->params, "b", f->b) != TG_OK)
        die("parameters");
    tg_sgd_opts o = tg_sgd_defaults(1e-1);
    if (!(f->sgd = tg_sgd_new(f->params, &o)))
        die("tg_sgd_new");
}

static void free_fit(fit *f)
{
    tg_optim_free(f->sgd);
    tg_params_free(f->params);
    tg_free(f->x), tg_free(f->y), tg_free(f->w), tg_free(f->b);
}

/* One step of the loop a user writes (lazy or eager, as the thread is); the loss. */
static double loop_step(fit *f)
{
    tg_scope_begin();
    tg_optim_zero_grad(f->sgd);
    tg_tensor *l = loss_of(f);
    if (!l || tg_backward(l, NULL) != TG_OK || tg_optim_step(f->sgd) != TG_OK)
        die("step");
    double v = tg_item(l);
    tg_scope_end();
    return v;
}

enum { EAGER, LAZY, CAPTURED, N_WAYS };
static const char *const way_name[N_WAYS] = {"eager", "lazy", "captured"};

/* Seconds per step, best of 5 batches of `reps`, after `check` steps whose
** last loss goes to *loss. */
static double time_way(int way, int64_t B, int64_t C, bool stable, int check, int reps, double *loss)
{
    fit f;
    make_fit(&f, B, C, stable);
    bool was = tg_set_lazy(way == LAZY);
    tg_graph *g = NULL;
    if (way == CAPTURED && !(g = tg_graph_capture(loss_of, &f, f.params, 1e-1)))
        die("tg_graph_capture");
    for (int t = 0; t < check; t++)
        if (g ? tg_graph_replay(g, loss) != TG_OK : !isfinite(*loss = loop_step(&f)))
            die("check steps");
    double best = INFINITY, sink = 0.0;
    for (int batch = 0; batch < 5; batch++) {
        double t0 = bench_now();
        for (int r = 0; r < reps; r++)
            if (g ? tg_graph_replay(g, &sink) != TG_OK : !isfinite(sink = loop_step(&f)))
                die("timed steps");
        double dt = (bench_now() - t0) / reps;
        best = dt < best ? dt : best;
    }
    tg_graph_free(g);
    tg_set_lazy(was);
    free_fit(&f);
    return best;
}

int main(int argc, char **argv)
{
    int64_t dflt[4] = {512, 256, 4096, 1024}, sizes[64];
    int n = argc > 1 ? argc - 1 : 4;
    if (n % 2 || n > 64) {
        fprintf(stderr, "usage: bench_rowred [B C ...]\n");
        return 2;
    }
    for (int i = 0; i < n; i++)
        sizes[i] = argc > 1 ? strtoll(argv[i + 1], NULL, 10) : dflt[i];
    printf("| softmax step | B x C | eager | lazy | captured | lazy / eager | captured / eager |\n"
           "|---|---:|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < n; i += 2) {
        int64_t B = sizes[i], C = sizes[i + 1];
        int reps = B * C >= 1000000 ? 3 : 20;
        for (int stable = 0; stable < 2; stable++) {
            double t[N_WAYS], l[N_WAYS];
            for (int w = 0; w < N_WAYS; w++)
                t[w] = time_way(w, B, C, stable, 5, reps, &l[w]);
            /* the captured loss is the replay's fifth (before its update) and the
            ** loops' is their fifth: the same step */
            for (int w = 1; w < N_WAYS; w++)
                if (!(fabs(l[w] - l[EAGER]) <= 1e-12 * fabs(l[EAGER]) + 1e-300)) {
                    fprintf(stderr, "bench_rowred: %s loss %.17g, eager %.17g\n", way_name[w], l[w], l[EAGER]);
                    return 1;
                }
            printf("| %s | %lld x %lld | %.3f ms | %.3f ms | %.3f ms | %.2fx | %.2fx |\n",
                   stable ? "stable (amax)" : "plain", (long long)B, (long long)C, t[EAGER] * 1e3, t[LAZY] * 1e3,
                   t[CAPTURED] * 1e3, t[LAZY] / t[EAGER], t[CAPTURED] / t[EAGER]);
        }
    }
    return 0;
}
