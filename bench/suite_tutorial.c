/* SPDX-License-Identifier: MIT */
/*
** The tutorial step y = a + b * P3(c + d x), loss sum((y - target)^2),
** backward and the parameter update, timed one way per call of tut_run (which
** bench_suite.c makes in a fresh child process, so peaks do not mix):
**   fused      suite_fused_step, the hand-fused loop (the limit)
**   user       P3 as a user tg_function with forward / backward (the
**              tutorial's way), eager
**   span       P3 as a user tg_function with span kernels, eager
**   builtin    tg_legendre(u, 3), eager
**   captured   either step captured once with tg_graph_capture and replayed
**              (the hook at the end of this file; absent until the graph API is)
**   kernels    the span step's kernel calls alone, as the eager step makes
**              them, on buffers of their own: the floor of op-by-op execution
**   ops        P3 as a user tg_function written in tensorgrad ops with
**              tg_scalar constants (p3_ops_fn), eager
**   lazy       the ops, span and tg_legendre steps with tg_set_lazy(true)
**              around the step (issue 14's engine)
**   blocked    the span P3's own kernels called from a hand-written blocked
**              pass (suite_span_blocked_step): what a lazy span step would
**              cost with nothing of tensorgrad around the calls
** Every eager path sets eager mode around its step and every lazy path lazy
** mode, so the rows mean what they say under TG_LAZY=1 too.  Each path's
** loss and gradients from the initial parameters are checked against the
** hand-fused loop's to 1e-10 relative before anything is timed; the kernel
** calls must also give the eager span step's bits exactly, and a lazy step
** its eager step's results to 1e-12 relative (issue 14's promise).
*/
#define _POSIX_C_SOURCE 200809L
#include "suite.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tensorgrad.h>

#include "kernels/kernels.h"
#include "p3.h"

const char *const suite_path_name[N_PATHS] = {
    [PATH_FUSED] = "hand-fused C loop",
    [PATH_USER] = "user P3 Function, eager",
    [PATH_SPAN] = "user P3 span Function, eager",
    [PATH_BUILTIN] = "tg_legendre, eager",
    [PATH_USER_CAPTURED] = "user P3 Function, captured",
    [PATH_SPAN_CAPTURED] = "user P3 span Function, captured",
    [PATH_BUILTIN_CAPTURED] = "tg_legendre, captured",
    [PATH_SPAN_KERNELS] = "user P3 span Function, eager: its kernel calls alone",
    [PATH_OPS] = "user P3 in ops, eager",
    [PATH_OPS_LAZY] = "user P3 in ops, lazy",
    [PATH_SPAN_LAZY] = "user P3 span Function, lazy",
    [PATH_BUILTIN_LAZY] = "tg_legendre, lazy",
    [PATH_SPAN_BLOCKED] = "user P3 span kernels in a hand-written blocked pass",
    [PATH_TORCH] = "PyTorch eager, custom Function",
    [PATH_NUMPY] = "NumPy, gradients by hand",
};

static const double init[4] = {0.0, -1.0, 0.0, 0.3};


/* ------------------------------------------------------------- problem */

typedef struct problem {
    int64_t n;
    int threads;          /* the fused loop's */
    tg_tensor *x, *y, *p[4];
    void *captured;       /* the captured step (TG_BENCH_HAVE_GRAPH), else NULL */
    double *kbuf;         /* the kernel-calls path: one array per array the eager step writes,
                          ** each at a cache line like the library's tensor data */
} problem;

static void reset(problem *pb)
{
    for (int i = 0; i < 4; i++)
        tg_data(pb->p[i])[0] = init[i];
}

/* The user Function of a path, or NULL for tg_legendre. */
static const tg_function *path_fn(int path)
{
    switch (path) {
    case PATH_USER:
    case PATH_USER_CAPTURED: return &p3_fn;
    case PATH_SPAN:
    case PATH_SPAN_CAPTURED:
    case PATH_SPAN_LAZY: return &p3_span_fn;
    case PATH_OPS:
    case PATH_OPS_LAZY: return &p3_ops_fn;
    default: return NULL;
    }
}

bool tut_path_lazy(int path) { return path == PATH_OPS_LAZY || path == PATH_SPAN_LAZY || path == PATH_BUILTIN_LAZY; }

int tut_eager_of(int path)
{
    return path == PATH_OPS_LAZY ? PATH_OPS : path == PATH_SPAN_LAZY ? PATH_SPAN
                                          : path == PATH_BUILTIN_LAZY ? PATH_BUILTIN
                                                                      : -1;
}

/* The step op by op in the given mode (eager or lazy, this thread's mode put
** back after): out = {loss, ga, gb, gc, gd}; the update p -= lr * grad. */
static int step_eager(problem *pb, const tg_function *fn, bool lazy, double lr, double out[5])
{
    bool was = tg_set_lazy(lazy);
    int ok = p3_eager_step(pb->p, pb->x, pb->y, fn, lr, out);
    tg_set_lazy(was);
    return ok;
}

static int step_fused(problem *pb, double lr, double out[5])
{
    double p[4];
    for (int i = 0; i < 4; i++)
        p[i] = tg_data(pb->p[i])[0];
    suite_fused_step(pb->n, tg_data(pb->x), tg_data(pb->y), p, pb->threads, out);
    for (int i = 0; i < 4; i++)
        tg_data(pb->p[i])[0] -= lr * out[1 + i];
    return 1;
}

/* The arrays the eager span step writes, in the order it writes them, and
** the doubles from one to the next (whole cache lines). */
enum { K_T, K_U, K_Q, K_V, K_W, K_R, K_S, K_GR, K_GQ, K_GU, K_ARRAYS };
static size_t k_stride(int64_t n) { return ((size_t)n + 7) & ~(size_t)7; }

/* What the eager span step runs, kernel call for kernel call, with nothing
** around the calls: the forward's eight ops (d x, c + ., P3, b ., a + ., . - y,
** .^2, sum), then the backward's passes as tensorgrad's unrecorded backward
** makes them (pow's in one pass reading sum's gradient as its one value,
** each one-element operand's gradient as 0 + sum or 0 + dot, b's product
** for P3's gradient, P3'), then the update.  Same kernels, same operands,
** same order: the eager step's bits, which verify() checks. */
static int step_kernels(problem *pb, double lr, double out[5])
{
    const tg__kernels *k = tg__kern();
    int64_t n = pb->n;
    double *b[K_ARRAYS], p[4];
    const double *x = tg_data(pb->x), *y = tg_data(pb->y);
    for (int i = 0; i < K_ARRAYS; i++)
        b[i] = pb->kbuf + (size_t)i * k_stride(n);
    for (int i = 0; i < 4; i++)
        p[i] = tg_data(pb->p[i])[0];
    const double *u[1] = {b[K_U]};
    double *gu[1] = {b[K_GU]};
    k->binary[TG__MUL](n, &p[3], 0, x, 1, b[K_T]);
    k->binary[TG__ADD](n, &p[2], 0, b[K_T], 1, b[K_U]);
    p3_span_forward(n, u, b[K_Q]);
    k->binary[TG__MUL](n, &p[1], 0, b[K_Q], 1, b[K_V]);
    k->binary[TG__ADD](n, &p[0], 0, b[K_V], 1, b[K_W]);
    k->binary[TG__SUB](n, b[K_W], 1, y, 1, b[K_R]);
    k->pow(n, b[K_R], 2.0, b[K_S]);
    out[0] = k->sum(n, b[K_S]);
    const double seed = 1.0;
    k->powgrad(n, &seed, 0, b[K_R], 2.0, b[K_GR]);
    out[1] = 0.0 + k->sum(n, b[K_GR]);
    out[2] = 0.0 + k->dot(n, b[K_GR], b[K_Q]);
    k->binary[TG__MUL](n, b[K_GR], 1, &p[1], 0, b[K_GQ]);
    p3_span_backward(n, u, b[K_Q], b[K_GQ], gu);
    out[3] = 0.0 + k->sum(n, b[K_GU]);
    out[4] = 0.0 + k->dot(n, b[K_GU], x);
    for (int i = 0; i < 4; i++)
        tg_data(pb->p[i])[0] -= lr * out[1 + i];
    return 1;
}

static int step_blocked(problem *pb, double lr, double out[5])
{
    double p[4];
    for (int i = 0; i < 4; i++)
        p[i] = tg_data(pb->p[i])[0];
    suite_span_blocked_step(pb->n, tg_data(pb->x), tg_data(pb->y), p, pb->threads, p3_span_forward,
                            p3_span_backward, out);
    for (int i = 0; i < 4; i++)
        tg_data(pb->p[i])[0] -= lr * out[1 + i];
    return 1;
}

static int captured_prepare(problem *pb, const tg_function *fn);
static int step_captured(problem *pb, double lr, double out[5]);
static const char *captured_executor(problem *pb);
static void captured_free(problem *pb);

static int run_step(problem *pb, int path, double lr, double out[5])
{
    switch (path) {
    case PATH_FUSED: return step_fused(pb, lr, out);
    case PATH_USER:
    case PATH_SPAN:
    case PATH_BUILTIN:
    case PATH_OPS:
    case PATH_OPS_LAZY:
    case PATH_SPAN_LAZY:
    case PATH_BUILTIN_LAZY: return step_eager(pb, path_fn(path), tut_path_lazy(path), lr, out);
    case PATH_SPAN_KERNELS: return step_kernels(pb, lr, out);
    case PATH_SPAN_BLOCKED: return step_blocked(pb, lr, out);
    default: return step_captured(pb, lr, out);
    }
}

/* ------------------------------------------------------------- measure */

/* The path's first step against the hand-fused loop's, from the same start. */
static int verify(problem *pb, const tut_config *cfg, double *loss, char *err, size_t err_size)
{
    double want[5], got[5];
    reset(pb);
    step_fused(pb, 0.0, want);
    want[0] *= 1 + cfg->perturb;
    reset(pb);
    if (!run_step(pb, cfg->path, 0.0, got)) {
        snprintf(err, err_size, "%s failed: %s", suite_path_name[cfg->path], tg_last_error());
        return 1;
    }
    *loss = got[0];
    double scale = fabs(want[2]) + fabs(want[4]);   /* gradients that do not cancel */
    for (int k = 0; k < 5; k++) {
        double tol = 1e-10 * (k == 0 ? fabs(want[0]) : scale);
        if (!(fabs(got[k] - want[k]) <= tol)) {
            snprintf(err, err_size, "N=%lld: %s disagrees with the hand-fused loop: %s %.17g vs %.17g",
                     (long long)pb->n, suite_path_name[cfg->path], k == 0 ? "loss" : "gradient",
                     got[k], want[k]);
            return 1;
        }
    }
    if (cfg->path == PATH_SPAN_KERNELS) {   /* the same calls as the eager span step: its bits */
        reset(pb);
        if (!step_eager(pb, &p3_span_fn, false, 0.0, want)) {
            snprintf(err, err_size, "%s failed: %s", suite_path_name[PATH_SPAN], tg_last_error());
            return 1;
        }
        for (int k = 0; k < 5; k++)
            if (memcmp(&got[k], &want[k], sizeof got[k]) != 0) {
                snprintf(err, err_size, "N=%lld: %s: output %d is %.17g, the eager span step's %.17g",
                         (long long)pb->n, suite_path_name[cfg->path], k, got[k], want[k]);
                return 1;
            }
    }
    if (tut_path_lazy(cfg->path)) {   /* lazy gives eager's results (issue 14: 1e-12 relative) */
        int eager = tut_eager_of(cfg->path);
        reset(pb);
        if (!run_step(pb, eager, 0.0, want)) {
            snprintf(err, err_size, "%s failed: %s", suite_path_name[eager], tg_last_error());
            return 1;
        }
        scale = fabs(want[2]) + fabs(want[4]);
        for (int k = 0; k < 5; k++)
            if (!(fabs(got[k] - want[k]) <= 1e-12 * (k == 0 ? fabs(want[0]) : scale))) {
                snprintf(err, err_size, "N=%lld: %s disagrees with %s: %s %.17g vs %.17g", (long long)pb->n,
                         suite_path_name[cfg->path], suite_path_name[eager], k == 0 ? "loss" : "gradient",
                         got[k], want[k]);
                return 1;
            }
    }
    return 0;
}

/* One batch of reps steps of path from the initial parameters: seconds, 0 on failure. */
static double batch_of(problem *pb, int path, long reps)
{
    double step[5], t0 = suite_now();
    reset(pb);
    for (long r = 0; r < reps; r++)
        if (!run_step(pb, path, 1e-12, step))
            return 0;
    return fmax(suite_now() - t0, 1e-9);
}

/* Repetitions for a batch of at least min_batch seconds, from a timed one. */
static long calibrate(long reps, double dt, double min_batch)
{
    return dt >= min_batch ? reps : reps * (long)ceil(1.2 * min_batch / dt);
}

/* Best of the batches after one untimed step; allocations and faults counted
** over the last batch (steady state).  The peak resident size is reset after
** the untimed step and the library's cache released, so a captured graph's
** peak is its replay's, not its capture's (which runs the step eagerly).
** Every batch of a library path is followed by one of the hand-fused loop
** over the same x and y, so the path and the limit it is compared with see
** the same load on a shared machine: "vs fused" is the ratio of the two
** bests of one process, not of two processes minutes apart. */
static int time_path(problem *pb, const tut_config *cfg, tut_result *out)
{
    double step[5], best = INFINITY, fused_best = INFINITY, eager_best = INFINITY;
    long reps = 1, fused_reps = 1, eager_reps = 1;
    bool pair = cfg->path != PATH_FUSED;
    int eager = tut_eager_of(cfg->path);   /* a lazy row is also paired with its eager step */
    if (!run_step(pb, cfg->path, 1e-12, step))   /* warm: pools filled, the timed graph captured */
        return 1;
    if (pair)
        fused_reps = calibrate(1, batch_of(pb, PATH_FUSED, 1), cfg->timing.min_batch);
    if (eager >= 0) {
        double dt = batch_of(pb, eager, 1);
        if (dt == 0)
            return 1;
        eager_reps = calibrate(1, dt, cfg->timing.min_batch);
    }
    tg_release_memory();   /* the peak is the timed steps' own, not the capture's or the check's */
    suite_reset_peak();
    for (int batch = 0; batch < cfg->timing.batches; batch++) {
        tg_memory_stats m0, m1;
        long f0 = suite_minor_faults();
        tg_get_memory_stats(&m0);
        double dt = batch_of(pb, cfg->path, reps);
        if (dt == 0)
            return 1;
        tg_get_memory_stats(&m1);
        out->faults = (double)(suite_minor_faults() - f0) / (double)reps;
        out->allocs = (double)(m1.system_allocations - m0.system_allocations) / (double)reps;
        if (batch == 0 && dt < cfg->timing.min_batch) {   /* calibrate, then start over */
            reps = calibrate(reps, dt, cfg->timing.min_batch);
            batch = -1;
            continue;
        }
        best = fmin(best, dt / (double)reps);
        if (pair)
            fused_best = fmin(fused_best, batch_of(pb, PATH_FUSED, fused_reps) / (double)fused_reps);
        if (eager >= 0) {
            double de = batch_of(pb, eager, eager_reps);
            if (de == 0)
                return 1;
            eager_best = fmin(eager_best, de / (double)eager_reps);
        }
    }
    out->seconds = best;
    out->fused_seconds = pair ? fused_best : NAN;
    out->eager_seconds = eager >= 0 ? eager_best : NAN;
    return 0;
}

/* The library's and the loop's code and thread pool in use before the idle
** size is read: a small eager step and a small fused one. */
static void warm_up(int threads)
{
    problem pb = {.n = 4096, .threads = threads};
    double out[5];
    pb.x = tg_linspace(-1, 1, pb.n);
    pb.y = tg_sin(pb.x);
    for (int i = 0; i < 4; i++)
        if ((pb.p[i] = tg_scalar(0.0)))
            tg_set_requires_grad(pb.p[i], true);
    if (pb.x && pb.y && pb.p[0] && pb.p[1] && pb.p[2] && pb.p[3]) {
        reset(&pb);
        step_eager(&pb, NULL, false, 0.0, out);
        step_fused(&pb, 0.0, out);
    }
    for (int i = 0; i < 4; i++)
        tg_free(pb.p[i]);
    tg_free(pb.x);
    tg_free(pb.y);
}

int tut_run(const tut_config *cfg, tut_result *out, char *err, size_t err_size)
{
    problem pb = {.n = cfg->n, .threads = cfg->threads > 0 ? cfg->threads : 1};
    int rc = 1;
#if TG_BENCH_HAVE_THREADS
    if (cfg->threads > 0)
        tg_set_num_threads(cfg->threads);
#endif
    warm_up(pb.threads);
    double idle = suite_reset_peak();
    pb.x = tg_linspace(-3.14159265358979323846, 3.14159265358979323846, cfg->n);
    pb.y = tg_sin(pb.x);
    for (int i = 0; i < 4; i++)
        if ((pb.p[i] = tg_scalar(0.0)))
            tg_set_requires_grad(pb.p[i], true);
    if (!pb.x || !pb.y || !pb.p[0] || !pb.p[1] || !pb.p[2] || !pb.p[3]) {
        snprintf(err, err_size, "setup: %s", tg_last_error());
        goto cleanup;
    }
    if (cfg->path == PATH_SPAN_KERNELS &&
        !(pb.kbuf = aligned_alloc(64, (size_t)K_ARRAYS * k_stride(cfg->n) * sizeof(double)))) {
        snprintf(err, err_size, "setup: out of memory for the kernel calls' arrays");
        goto cleanup;
    }
    if (cfg->path >= PATH_USER_CAPTURED && cfg->path <= PATH_BUILTIN_CAPTURED &&
        captured_prepare(&pb, path_fn(cfg->path))) {
        snprintf(err, err_size, "%s: capture failed: %s", suite_path_name[cfg->path], tg_last_error());
        goto cleanup;
    }
    if (verify(&pb, cfg, &out->loss, err, err_size))
        goto cleanup;
    if (time_path(&pb, cfg, out)) {
        snprintf(err, err_size, "%s failed while timed: %s", suite_path_name[cfg->path], tg_last_error());
        goto cleanup;
    }
    out->peak_bytes = suite_peak_bytes() - idle;
    snprintf(out->executor, sizeof out->executor, "%s", captured_executor(&pb));
    if (cfg->path == PATH_FUSED)
        out->allocs = 0;   /* the loop allocates nothing (and the counter sees only the library) */
    rc = 0;
cleanup:
    captured_free(&pb);
    free(pb.kbuf);
    for (int i = 0; i < 4; i++)
        tg_free(pb.p[i]);
    tg_free(pb.x);
    tg_free(pb.y);
    return rc;
}

/* ------------------------------------------------------ captured replay
**
** The captured rows use the graph-capture API (tg_graph_capture /
** tg_graph_replay); bench/CMakeLists.txt defines TG_BENCH_HAVE_GRAPH when
** include/tensorgrad.h declares it, and without it these rows are reported as
** not in this build.  The replay reports the loss but not the gradients, so
** the check replays a graph captured with lr = 1 once and reads each gradient
** back as p - p_after; the timed graph has the usual tiny lr. */

bool tut_path_available(int path)
{
    if (path >= PATH_USER_CAPTURED && path <= PATH_BUILTIN_CAPTURED)
        return TG_BENCH_HAVE_GRAPH;
    return path >= 0 && path < PATH_TORCH;
}

#if TG_BENCH_HAVE_GRAPH
typedef struct captured {
    tg_params *params;
    tg_graph *graph;
    const tg_function *fn;   /* the user P3, or NULL: tg_legendre */
    problem *pb;
} captured;

/* The step's loss, as step_eager builds it. */
static tg_tensor *captured_loss(void *arg)
{
    captured *c = arg;
    return p3_step_loss(c->pb->p, c->pb->x, c->pb->y, c->fn);
}

static int captured_prepare(problem *pb, const tg_function *fn)
{
    static const char *const names[4] = {"a", "b", "c", "d"};
    captured *c = calloc(1, sizeof *c);
    if (!c)
        return 1;
    *c = (captured){.params = tg_params_new(), .fn = fn, .pb = pb};
    pb->captured = c;
    for (int i = 0; i < 4 && c->params; i++)
        if (tg_params_add(c->params, names[i], pb->p[i]) != TG_OK)
            return 1;
    return c->params ? 0 : 1;
}

/* lr = 0 (the check): a graph with lr = 1, replayed once, the gradients read
** back from the update and the parameters restored.  Otherwise the timed
** graph (captured on first use with the lr of the timing). */
static int step_captured(problem *pb, double lr, double out[5])
{
    captured *c = pb->captured;
    if (lr == 0) {
        double before[4];
        tg_graph *g = tg_graph_capture(captured_loss, c, c->params, 1.0);
        for (int i = 0; i < 4; i++)
            before[i] = tg_data(pb->p[i])[0];
        int ok = g && tg_graph_replay(g, &out[0]) == TG_OK;
        for (int i = 0; i < 4; i++) {
            out[1 + i] = before[i] - tg_data(pb->p[i])[0];
            tg_data(pb->p[i])[0] = before[i];
        }
        tg_graph_free(g);
        return ok;
    }
    if (!c->graph && !(c->graph = tg_graph_capture(captured_loss, c, c->params, lr)))
        return 0;
    return tg_graph_replay(c->graph, &out[0]) == TG_OK;
}

static const char *captured_executor(problem *pb)
{
    captured *c = pb->captured;
    return c && c->graph ? tg_graph_executor(c->graph) : "";
}

static void captured_free(problem *pb)
{
    captured *c = pb->captured;
    if (c) {
        tg_graph_free(c->graph);
        tg_params_free(c->params);
        free(c);
    }
    pb->captured = NULL;
}
#else
static int captured_prepare(problem *pb, const tg_function *fn)
{
    (void)pb;
    (void)fn;
    return 1;
}

static int step_captured(problem *pb, double lr, double out[5])
{
    (void)pb;
    (void)lr;
    (void)out;
    return 0;
}

static const char *captured_executor(problem *pb)
{
    (void)pb;
    return "";
}

static void captured_free(problem *pb)
{
    pb->captured = NULL;
}
#endif
