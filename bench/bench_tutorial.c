/* SPDX-License-Identifier: MIT */
/*
** Benchmark: one training step of the tutorial fit y = a + b * P3(c + d x)
** (forward, loss, backward, update) at several batch sizes, three ways:
**   user      P3 as a user tg_function (the tutorial's way)
**   builtin   the fused built-in tg_legendre(x, 3)
**   fused     one hand-written C loop doing forward and backward in one pass,
**             the physical limit the engine is measured against
**   captured  the builtin and the user step captured once with tg_graph_capture
**             and replayed (the user P3 Function is called as an opaque block)
** and the cost of dispatching a one-element user Function forward + backward.
** Every path's loss and gradients are checked against the others before
** anything is timed.  Times are ratios within one run (machines are noisy).
**
** For N >= 10^6 it also measures the captured builtin replay's peak resident
** memory above the idle process, against the bytes of x and y.
**
** usage: bench_tutorial [N ...]     (default: 2000 100000)
*/
#define _POSIX_C_SOURCE 200809L   /* clock_gettime */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <tensorgrad.h>
#include "p3.h"
#include "bench_clock.h"


/* ------------------------------------------------------------ the paths */

typedef struct problem {
    int64_t n;
    tg_tensor *x, *y, *p[4];
    double *xd, *yd;
    tg_params *params;
    /* captured paths: graphs with lr 1 (verification: the update is the
    ** gradient) and lr 1e-12 (timing), for the builtin and the user step */
    tg_graph *unit[2], *timed[2];
} problem;

enum { USER, BUILTIN, FUSED, CAPTURED_BUILTIN, CAPTURED_USER, N_PATHS };
static const char *const path_name[N_PATHS] = {"user P3 Function", "builtin tg_legendre", "hand-fused loop",
                                               "captured builtin", "captured user P3"};

/* One step; writes the loss and the four gradients; applies the update when lr != 0. */
static int step_engine(problem *pb, int path, double lr, double *loss_out, double *grad_out)
{
    double out[5];
    int ok = p3_eager_step(pb->p, pb->x, pb->y, path == USER ? &p3_fn : NULL, lr, out);
    if (ok) {
        *loss_out = out[0];
        for (int i = 0; i < 4; i++)
            grad_out[i] = out[1 + i];
    }
    return ok;
}

/* forward and backward of the whole step in one pass over the points */
static int step_fused(problem *pb, double lr, double *loss_out, double *grad_out)
{
    double a = tg_data(pb->p[0])[0], b = tg_data(pb->p[1])[0];
    double c = tg_data(pb->p[2])[0], d = tg_data(pb->p[3])[0];
    double loss = 0, ga = 0, gb = 0, gc = 0, gd = 0;
    const double *x = pb->xd, *y = pb->yd;
    for (int64_t i = 0; i < pb->n; i++) {
        double u = c + d * x[i], p3 = 0.5 * (5 * u * u * u - 3 * u);
        double r = a + b * p3 - y[i], g = 2 * r, gu = g * b * 1.5 * (5 * u * u - 1);
        loss += r * r;
        ga += g;
        gb += g * p3;
        gc += gu;
        gd += gu * x[i];
    }
    double grads[4] = {ga, gb, gc, gd};
    *loss_out = loss;
    for (int i = 0; i < 4; i++) {
        grad_out[i] = grads[i];
        tg_data(pb->p[i])[0] -= lr * grads[i];
    }
    return 1;
}

typedef struct capture_arg { problem *pb; int path; } capture_arg;

/* the step's loss as step_engine builds it, for tg_graph_capture */
static tg_tensor *step_loss(void *user)
{
    const capture_arg *ca = user;
    return p3_step_loss(ca->pb->p, ca->pb->x, ca->pb->y, ca->path == USER ? &p3_fn : NULL);
}

/* A replay; lr 0 (verification) replays the lr-1 graph, reads the gradients
** off the update and restores the parameters. */
static int step_captured(problem *pb, int path, double lr, double *loss, double *grad)
{
    int k = path == CAPTURED_BUILTIN ? 0 : 1;
    double before[4], glr = lr == 0.0 ? 1.0 : 1e-12;
    for (int i = 0; i < 4; i++)
        before[i] = tg_data(pb->p[i])[0];
    if (tg_graph_replay(lr == 0.0 ? pb->unit[k] : pb->timed[k], loss) != TG_OK)
        return 0;
    for (int i = 0; i < 4; i++) {
        grad[i] = (before[i] - tg_data(pb->p[i])[0]) / glr;
        if (lr == 0.0)
            tg_data(pb->p[i])[0] = before[i];
    }
    return 1;
}

static int capture(problem *pb)
{
    pb->params = tg_params_new();
    for (int i = 0; i < 4 && pb->params; i++)
        if (tg_params_add(pb->params, (const char *[]){"a", "b", "c", "d"}[i], pb->p[i]) != TG_OK)
            return 0;
    for (int k = 0; k < 2; k++) {
        capture_arg ca = {pb, k == 0 ? BUILTIN : USER};
        pb->unit[k] = tg_graph_capture(step_loss, &ca, pb->params, 1.0);
        pb->timed[k] = tg_graph_capture(step_loss, &ca, pb->params, 1e-12);
        if (!pb->unit[k] || !pb->timed[k]) {
            fprintf(stderr, "capture failed: %s\n", tg_last_error());
            return 0;
        }
    }
    return 1;
}

static int run_step(problem *pb, int path, double lr, double *loss, double *grad)
{
    if (path == CAPTURED_BUILTIN || path == CAPTURED_USER)
        return step_captured(pb, path, lr, loss, grad);
    return path == FUSED ? step_fused(pb, lr, loss, grad) : step_engine(pb, path, lr, loss, grad);
}

static void reset(problem *pb)
{
    const double init[4] = {0.0, -1.0, 0.0, 0.3};
    for (int i = 0; i < 4; i++)
        tg_data(pb->p[i])[0] = init[i];
}

/* Every path must give the same loss and gradients before anything is timed. */
static int verify(problem *pb)
{
    double loss[N_PATHS], grad[N_PATHS][4];
    for (int path = 0; path < N_PATHS; path++) {
        reset(pb);
        if (!run_step(pb, path, 0.0, &loss[path], grad[path])) {
            fprintf(stderr, "%s failed: %s\n", path_name[path], tg_last_error());
            return 0;
        }
    }
    for (int path = 1; path < N_PATHS; path++) {
        double scale = fabs(grad[0][1]) + fabs(grad[0][3]);
        if (path >= CAPTURED_BUILTIN)   /* gradients read off an lr-1 update of O(1) parameters */
            scale += 1e6;
        int bad = fabs(loss[path] - loss[0]) > 1e-10 * fabs(loss[0]);
        for (int i = 0; i < 4; i++)
            bad |= fabs(grad[path][i] - grad[0][i]) > 1e-10 * scale;
        if (bad) {
            fprintf(stderr, "N=%lld: %s disagrees with %s: loss %.17g vs %.17g\n", (long long)pb->n,
                    path_name[path], path_name[0], loss[path], loss[0]);
            return 0;
        }
    }
    return 1;
}

static long minor_faults(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

/* Heap allocations and page faults per step in steady state (after one step). */
static void count_per_step(problem *pb, int path, double *allocs, double *faults)
{
    double loss, grad[4];
    tg_memory_stats m0, m1;
    reset(pb);
    run_step(pb, path, 1e-12, &loss, grad);
    long f0 = minor_faults();
    tg_get_memory_stats(&m0);
    for (int r = 0; r < 10; r++)
        run_step(pb, path, 1e-12, &loss, grad);
    tg_get_memory_stats(&m1);
    *allocs = (double)(m1.system_allocations - m0.system_allocations) / 10;
    *faults = (double)(minor_faults() - f0) / 10;
}

/* Seconds per step, best of 5 batches of at least 0.05 s each. */
static double time_path(problem *pb, int path)
{
    double loss, grad[4], best = INFINITY;
    int reps = 1;
    for (int batch = 0; batch < 5; batch++) {
        double t0, dt;
        for (;;) {
            reset(pb);
            t0 = bench_now();
            for (int r = 0; r < reps; r++)
                run_step(pb, path, 1e-12, &loss, grad);
            dt = bench_now() - t0;
            if (dt >= 0.05 || reps > (1 << 24))
                break;
            reps *= 2;
        }
        if (dt / reps < best)
            best = dt / reps;
    }
    return best;
}

static int bench_n(int64_t n)
{
    problem pb = {.n = n};
    pb.x = tg_linspace(-3.14159265358979323846, 3.14159265358979323846, n);
    pb.y = tg_sin(pb.x);
    if (!pb.x || !pb.y)
        return 0;
    pb.xd = tg_data(pb.x);
    pb.yd = tg_data(pb.y);
    for (int i = 0; i < 4; i++) {
        pb.p[i] = tg_scalar(0.0);
        tg_set_requires_grad(pb.p[i], true);
    }
    int ok = capture(&pb) && verify(&pb);
    if (ok) {
        double t[N_PATHS];
        for (int path = 0; path < N_PATHS; path++)
            t[path] = time_path(&pb, path);
        for (int path = 0; path < N_PATHS; path++) {
            double allocs, faults;
            count_per_step(&pb, path, &allocs, &faults);
            printf("| %-20s | %10lld | %12.2f | %10.3f | %8.1fx | %7.1f | %7.1f |\n", path_name[path],
                   (long long)n, t[path] * 1e6, t[path] * 1e9 / (double)n, t[path] / t[FUSED], allocs,
                   faults);
        }
    }
    for (int k = 0; k < 2; k++) {
        tg_graph_free(pb.unit[k]);
        tg_graph_free(pb.timed[k]);
    }
    tg_params_free(pb.params);
    for (int i = 0; i < 4; i++)
        tg_free(pb.p[i]);
    tg_free(pb.x);
    tg_free(pb.y);
    return ok;
}

/* ----------------------------------------------------------- peak memory */

/* A line of /proc/self/status in kB ("VmRSS", "VmHWM"); -1 when unreadable. */
static long status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t k = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, k) == 0 && line[k] == ':')
            v = strtol(line + k + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

/* Peak resident memory of captured builtin replays above the idle process
** (before x and y exist), against the bytes of x and y.  The capture's eager
** step is not counted: the peak is reset (/proc/self/clear_refs) after it. */
static int bench_memory(int64_t n)
{
    tg_release_memory();
    long idle = status_kb("VmRSS");
    problem pb = {.n = n};
    pb.x = tg_linspace(-3.14159265358979323846, 3.14159265358979323846, n);
    pb.y = tg_sin(pb.x);
    for (int i = 0; i < 4; i++) {
        pb.p[i] = tg_scalar(0.0);
        tg_set_requires_grad(pb.p[i], true);
    }
    reset(&pb);
    pb.params = tg_params_new();
    for (int i = 0; i < 4; i++)
        tg_params_add(pb.params, (const char *[]){"a", "b", "c", "d"}[i], pb.p[i]);
    capture_arg ca = {&pb, BUILTIN};
    tg_graph *g = tg_graph_capture(step_loss, &ca, pb.params, 1e-12);
    int ok = g != NULL;
    tg_release_memory();
    FILE *f = fopen("/proc/self/clear_refs", "w");
    ok = ok && f && fputs("5", f) >= 0;
    if (f)
        fclose(f);
    double loss;
    for (int r = 0; ok && r < 5; r++)
        ok = tg_graph_replay(g, &loss) == TG_OK;
    long peak = status_kb("VmHWM");
    if (ok && idle > 0 && peak > 0) {
        double xy = 2.0 * (double)n * sizeof(double);
        printf("\ncaptured builtin replay at N=%lld (%s): peak RSS above idle %.1f MB, x and y %.1f MB: "
               "%.3fx\n", (long long)n, tg_graph_executor(g), (double)(peak - idle) / 1024.0, xy / 1048576.0,
               (double)(peak - idle) * 1024.0 / xy);
    } else {
        fprintf(stderr, "peak memory not measured: %s\n", g ? "no /proc/self/clear_refs" : tg_last_error());
    }
    tg_graph_free(g);
    tg_params_free(pb.params);
    for (int i = 0; i < 4; i++)
        tg_free(pb.p[i]);
    tg_free(pb.x);
    tg_free(pb.y);
    return ok;
}

/* ------------------------------------------------------------- dispatch */

static tg_status id_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    (void)ctx;
    out[0] = tg_scalar(tg_data(in[0])[0] * 2.0);
    return out[0] ? TG_OK : tg_last_status();
}
static tg_status id_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    (void)ctx;
    gin[0] = tg_scalar(tg_data(g[0])[0] * 2.0);
    return gin[0] ? TG_OK : tg_last_status();
}
static const tg_function twice_fn = {.name = "twice", .n_inputs = 1, .n_outputs = 1,
                                     .forward = id_forward, .backward = id_backward};

static int bench_dispatch(void)
{
    tg_tensor *x = tg_scalar(1.0);
    tg_set_requires_grad(x, true);
    int ok = 1, reps = 200000;
    double t0 = bench_now();
    for (int r = 0; r < reps && ok; r++) {
        tg_scope_begin();
        ok = tg_backward(tg_apply1(&twice_fn, &x), NULL) == TG_OK;
        tg_scope_end();
    }
    double dt = (bench_now() - t0) / reps;
    ok = ok && tg_item(tg_grad(x)) == 2.0 * reps;   /* every backward accumulated */
    if (ok)
        printf("\nuser Function apply + backward on one element: %.0f ns\n", dt * 1e9);
    else
        fprintf(stderr, "dispatch benchmark failed: %s\n", tg_last_error());
    tg_free(x);
    return ok;
}

int main(int argc, char **argv)
{
    int64_t sizes[16] = {2000, 100000};
    int n_sizes = 2;
    if (argc > 1) {
        n_sizes = 0;
        for (int i = 1; i < argc && n_sizes < 16; i++)
            sizes[n_sizes++] = strtoll(argv[i], NULL, 10);
    }
    printf("| %-20s | %10s | %12s | %10s | %9s | %7s | %7s |\n", "tutorial step", "N", "us/step",
           "ns/point", "vs fused", "allocs", "faults");
    printf("|----------------------|------------|--------------|------------|-----------|---------|---------|\n");
    for (int i = 0; i < n_sizes; i++)
        if (sizes[i] < 1 || !bench_n(sizes[i]))
            return 1;
    for (int i = 0; i < n_sizes; i++)
        if (sizes[i] >= 1000000 && !bench_memory(sizes[i]))
            return 1;
    return bench_dispatch() ? 0 : 1;
}
