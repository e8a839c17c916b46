/* SPDX-License-Identifier: MIT */
/*
** Captured graphs with user Functions given as span kernels (src/graph): the
** replayed step against the eager step with P3 as a span Function at sizes
** that cross block boundaries, compiled and interpreted; a span Function of
** two inputs, one of them a 0-d parameter (its gradient a block-partial sum);
** a broadcast the passes cannot fuse, called opaque; no buffer of the
** step's size made for the span output; no leaks.
*/
#define _POSIX_C_SOURCE 200809L   /* setenv */
#include "support.h"
#include "graph/capture.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* out = w x^2 + x (w broadcast) */
static void quad_fwd(int64_t n, const double *const *in, double *out)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = in[1][i] * in[0][i] * in[0][i] + in[0][i];
}
/* forward: y = w x^2 + x  =>  dx = dy (2 w x + 1), dw = dy x^2 (out is read: a NaN or
** infinity there would show) */
static void quad_bwd(int64_t n, const double *const *in, const double *out, const double *g, double *const *gin)
{
    for (int64_t i = 0; i < n; i++) {
        double x = in[0][i], w = in[1][i];
        if (gin[0])
            gin[0][i] = g[i] * (2 * w * x + 1) + 0 * (out[i] - (w * x * x + x));
        if (gin[1])
            gin[1][i] = g[i] * x * x;
    }
}
static const tg_function quad_span = {.name = "quad", .n_inputs = 2, .n_outputs = 1,
                                      .forward_span = quad_fwd, .backward_span = quad_bwd};

enum { P3, QUAD_0D, QUAD_OUTER };

static bool interpreter_forced;   /* TG_GRAPH_INTERPRET set for the whole run */
enum { NP = 5 };

typedef struct problem {
    int kind;
    int64_t n;
    tg_tensor *x, *y, *p[NP];
    tg_params *params;
} problem;

static tg_tensor *loss_of(void *user)
{
    problem *pb = user;
    tg_tensor **p = pb->p;
    tg_tensor *u = tg_add(p[2], tg_mul(p[3], pb->x)), *q;
    if (pb->kind == P3)
        q = tg_apply1(&tgt_p3_span, &u);
    else
        q = tg_apply1(&quad_span, (tg_tensor *[]){u, p[4]});
    return tg_sum(tg_pow(tg_sub(tg_add(p[0], tg_mul(p[1], q)), pb->y), 2.0));
}

/* QUAD_OUTER: x is [n, 1] and the quad weight [1, 3], so the span output is [n, 3]. */
static void make_problem(problem *pb, int kind, int64_t n)
{
    static const double init[NP] = {0.0, -1.0, 0.0, 0.3, 0.2};
    *pb = (problem){.kind = kind, .n = n, .params = tg_params_new()};
    pb->x = tg_linspace(-M_PI, M_PI, n);
    if (kind == QUAD_OUTER) {
        tg_tensor *flat = pb->x;
        pb->x = tg_reshape(flat, 2, (const int64_t[]){n, 1});
        tg_free(flat);
    }
    pb->y = tg_sin(pb->x);
    assert_non_null(pb->y);
    for (int i = 0; i < (kind == P3 ? 4 : NP); i++) {
        pb->p[i] = i == 4 && kind == QUAD_OUTER ? tg_full(2, (const int64_t[]){1, 3}, init[i]) : tg_scalar(init[i]);
        if (i == 4 && kind == QUAD_OUTER)
            tg_data(pb->p[i])[1] = -0.1, tg_data(pb->p[i])[2] = 0.05;
        tg_set_requires_grad(pb->p[i], true);
        char name[2] = {(char)('a' + i), 0};
        assert_status(TG_OK, tg_params_add(pb->params, name, pb->p[i]));
    }
}

static void free_problem(problem *pb)
{
    for (int i = 0; i < NP; i++)
        tg_free(pb->p[i]);
    tg_free(pb->x);
    tg_free(pb->y);
    tg_params_free(pb->params);
}

static double eager_step(problem *pb, double lr)
{
    tg_scope_begin();
    tg_tensor *loss = loss_of(pb);
    assert_non_null(loss);
    assert_status(TG_OK, tg_backward(loss, NULL));
    double l = tg_item(loss);
    for (int i = 0; i < NP && pb->p[i]; i++) {
        const double *gd = tg_data(tg_grad(pb->p[i]));
        for (int64_t j = 0; j < tg_numel(pb->p[i]); j++)
            tg_data(pb->p[i])[j] -= lr * gd[j];
        tg_zero_grad(pb->p[i]);
    }
    tg_scope_end();
    return l;
}

static void expect_close(const char *what, int64_t n, int step, double got, double want)
{
    if (fabs(got - want) > 1e-11 * fabs(want) + 1e-12)
        fail_msg("N=%lld: %s at step %d: replay %.17g, eager %.17g (relative error %.3g)", (long long)n, what,
                 step, got, want, fabs(got - want) / fabs(want));
}

/* No value of g owns a buffer (the span output lives in block arrays only). */
static void expect_no_buffers(const tg_graph *g)
{
    for (int v = 0; v < g->n_val; v++)
        if (g->val[v].own_buf)
            fail_msg("value %d owns a buffer of %lld elements", v, (long long)g->val[v].numel);
}

/* `steps` replays against as many eager steps from the same start. */
static void compare_steps(int kind, int64_t n, const char *executor, int steps)
{
    problem e, c;
    make_problem(&e, kind, n);
    make_problem(&c, kind, n);
    double lr = 0.01 / (double)n;
    tg_graph *g = tg_graph_capture(loss_of, &c, c.params, lr);
    if (!g)
        fail_msg("capture failed: %s", tg_last_error());
    if (executor)
        assert_string_equal(tg_graph_executor(g), interpreter_forced ? "interpreted" : executor);
    if (kind != QUAD_OUTER)
        expect_no_buffers(g);
    for (int t = 0; t < steps; t++) {
        double le = eager_step(&e, lr), lc = NAN;
        assert_status(TG_OK, tg_graph_replay(g, &lc));
        expect_close("loss", n, t, lc, le);
        for (int i = 0; i < NP && c.p[i]; i++)
            for (int64_t j = 0; j < tg_numel(c.p[i]); j++)
                expect_close("parameter", n, t, tg_data(c.p[i])[j], tg_data(e.p[i])[j]);
    }
    tg_graph_free(g);
    free_problem(&e);
    free_problem(&c);
}

static void compare(int kind, int64_t n, const char *executor)
{
    compare_steps(kind, n, executor, 20);
}

static void force_interpreter(bool on)
{
    if (on || interpreter_forced)
        setenv("TG_GRAPH_INTERPRET", "1", 1);
    else
        unsetenv("TG_GRAPH_INTERPRET");
}

static const int64_t sizes[] = {1, 7, 2000, 2049, 5000};

static void test_graph_span_p3_equals_eager_compiled(void **state)
{
    (void)state;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)   /* N = 1: scalar steps only */
        compare(P3, sizes[s], sizes[s] > 1 ? "compiled" : NULL);
}

static void test_graph_span_p3_equals_eager_interpreted(void **state)
{
    (void)state;
    force_interpreter(true);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        compare(P3, sizes[s], "interpreted");
    force_interpreter(false);
}

static void test_graph_span_two_inputs_one_0d_equals_eager(void **state)
{
    (void)state;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        compare(QUAD_0D, sizes[s], sizes[s] > 1 ? "compiled" : NULL);
    force_interpreter(true);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        compare(QUAD_0D, sizes[s], "interpreted");
    force_interpreter(false);
}

static void test_graph_span_outer_broadcast_runs_opaque(void **state)
{
    (void)state;
    compare(QUAD_OUTER, 2049, NULL);
    force_interpreter(true);
    compare(QUAD_OUTER, 7, "interpreted");
    force_interpreter(false);
}

static int64_t thread_n = 100003;

static void thread_case(int kind)
{
    problem c;
    make_problem(&c, kind, thread_n);
    int np = 0;
    while (np < NP && c.p[np])
        np++;
    tgt_expect_replay_thread_invariant(loss_of, &c, c.params, c.p, np);
    free_problem(&c);
}

/* The span kernels run on blocks split over threads: the same bits at 1, 2
** and 3 threads, compiled and interpreted (N = 100,003: 196 blocks of 512). */
static void test_graph_span_replay_same_bits_at_any_thread_count(void **state)
{
    (void)state;
    tgt_each_executor(thread_case, (const int[]){P3, QUAD_0D}, 2);
}

/* Past TG__GRAPH_STREAM_N points a span plan takes the streaming blocks:
** still eager's result, the same bits at any thread count, compiled and
** interpreted (N not a multiple of the block: a short last block). */
static void test_graph_span_streaming_blocks_equal_eager(void **state)
{
    (void)state;
    int64_t n = TG__GRAPH_STREAM_N + 77;
    problem c;
    make_problem(&c, P3, n);
    tg_graph *g = tg_graph_capture(loss_of, &c, c.params, 1e-6);
    assert_non_null(g);
    assert_int_equal(g->block, TG__GRAPH_STREAM_BLOCK);
    tg_graph_free(g);
    free_problem(&c);
    make_problem(&c, P3, TG__GRAPH_STREAM_N - 1);   /* one point fewer: the span blocks */
    assert_non_null(g = tg_graph_capture(loss_of, &c, c.params, 1e-6));
    assert_int_equal(g->block, TG__GRAPH_SPAN_BLOCK);
    tg_graph_free(g);
    free_problem(&c);
    compare_steps(P3, n, "compiled", 3);
    force_interpreter(true);
    compare_steps(P3, n, "interpreted", 2);
    force_interpreter(false);
    thread_n = n;
    tgt_each_executor(thread_case, (const int[]){P3}, 1);
    thread_n = 100003;
}

/* A span plan with a row reduction keeps 512-point blocks at any N: its rows
** longer than a block are summed in 512-point chunks, whole chunks per block.
** The row sums of P3(c + d x) over x [2048, 1025] (past TG__GRAPH_STREAM_N),
** fitted to rows of y: replays equal eager steps. */
typedef struct rowprob { tg_tensor *x, *y, *c, *d; tg_params *params; } rowprob;

static tg_tensor *row_loss(void *user)
{
    rowprob *rp = user;
    tg_tensor *u = tg_add(rp->c, tg_mul(rp->d, rp->x));
    tg_tensor *r = tg_sum_dim(tg_apply1(&tgt_p3_span, &u), 1, false);
    return tg_sum(tg_pow(tg_sub(r, rp->y), 2.0));
}

static void make_rowprob(rowprob *rp)
{
    int64_t n = 2048 * 1025;
    tg_tensor *flat = tg_linspace(-1.0, 1.0, n);
    rp->x = tg_reshape(flat, 2, (const int64_t[]){2048, 1025});
    tg_free(flat);
    rp->y = tg_linspace(-3.0, 3.0, 2048);
    rp->c = tg_scalar(0.1), rp->d = tg_scalar(0.7);
    rp->params = tg_params_new();
    tg_set_requires_grad(rp->c, true), tg_set_requires_grad(rp->d, true);
    assert_status(TG_OK, tg_params_add(rp->params, "c", rp->c));
    assert_status(TG_OK, tg_params_add(rp->params, "d", rp->d));
}

static void free_rowprob(rowprob *rp)
{
    tg_free(rp->x), tg_free(rp->y), tg_free(rp->c), tg_free(rp->d);
    tg_params_free(rp->params);
}

static void test_graph_span_row_reduction_keeps_span_blocks(void **state)
{
    (void)state;
    assert_true(2048 * 1025 >= TG__GRAPH_STREAM_N);
    rowprob e, c;
    make_rowprob(&e);
    make_rowprob(&c);
    double lr = 1e-9;
    tg_graph *g = tg_graph_capture(row_loss, &c, c.params, lr);
    if (!g)
        fail_msg("capture failed: %s", tg_last_error());
    assert_int_equal(g->block, TG__GRAPH_SPAN_BLOCK);
    for (int t = 0; t < 3; t++) {
        tg_scope_begin();
        tg_tensor *loss = row_loss(&e);
        assert_status(TG_OK, tg_backward(loss, NULL));
        double le = tg_item(loss), lc = NAN;
        tg_tensor *pe[2] = {e.c, e.d};
        for (int i = 0; i < 2; i++) {
            tg_data(pe[i])[0] -= lr * tg_item(tg_grad(pe[i]));
            tg_zero_grad(pe[i]);
        }
        tg_scope_end();
        assert_status(TG_OK, tg_graph_replay(g, &lc));
        expect_close("loss", 2048 * 1025, t, lc, le);
        expect_close("c", 2048 * 1025, t, tg_item(c.c), tg_item(e.c));
        expect_close("d", 2048 * 1025, t, tg_item(c.d), tg_item(e.d));
    }
    tg_graph_free(g);
    free_rowprob(&e);
    free_rowprob(&c);
}

static void test_graph_span_replay_makes_no_allocation(void **state)
{
    (void)state;
    problem c;
    make_problem(&c, QUAD_0D, 5000);
    tg_graph *g = tg_graph_capture(loss_of, &c, c.params, 1e-6);
    assert_non_null(g);
    double loss;
    assert_status(TG_OK, tg_graph_replay(g, &loss));
    tg_memory_stats m0, m1;
    tg_get_memory_stats(&m0);
    for (int t = 0; t < 10; t++)
        assert_status(TG_OK, tg_graph_replay(g, &loss));
    tg_get_memory_stats(&m1);
    assert_int_equal(m1.system_allocations, m0.system_allocations);
    tg_graph_free(g);
    free_problem(&c);
}

/* A capture reaches scope depths a plain test does not; the first visit to a
** depth keeps blocks for reuse, so one capture runs before the leak checks. */
static void warm_capture_scopes(void)
{
    problem c;
    make_problem(&c, QUAD_0D, 7);
    tg_graph_free(tg_graph_capture(loss_of, &c, c.params, 1e-3));
    free_problem(&c);
}

int main(void)
{
    const char *e = getenv("TG_GRAPH_INTERPRET");
    interpreter_forced = e && e[0] && strcmp(e, "0") != 0;
    tgt_warm_scopes();
    warm_capture_scopes();
    const struct CMUnitTest tests[] = {
        tgt_test(test_graph_span_p3_equals_eager_compiled),
        tgt_test(test_graph_span_p3_equals_eager_interpreted),
        tgt_test(test_graph_span_two_inputs_one_0d_equals_eager),
        tgt_test(test_graph_span_outer_broadcast_runs_opaque),
        tgt_test(test_graph_span_replay_same_bits_at_any_thread_count),
        tgt_test(test_graph_span_streaming_blocks_equal_eager),
        tgt_test(test_graph_span_row_reduction_keeps_span_blocks),
        tgt_test(test_graph_span_replay_makes_no_allocation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
