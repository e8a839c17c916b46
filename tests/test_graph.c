/* SPDX-License-Identifier: MIT */
/*
** Captured graphs (src/graph): a replayed training step against the eager
** step it was captured from, over 100 steps, with the built-in tg_legendre,
** with a user P3 Function whose backward is raw loops (called as an opaque
** block) or tensorgrad ops (replayed as ops), compiled and interpreted; new
** data written into x and y between replays; no allocation per replay; the
** capture's errors; a failing compiler falling back to the interpreter.
*/
#define _POSIX_C_SOURCE 200809L   /* setenv */
#include "support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const tg_function p3_ops = {.name = "P3ops", .n_inputs = 1, .n_outputs = 1,
                                   .forward = tgt_p3_forward, .backward = tgt_p3_backward_ops};

enum { BUILTIN, USER_RAW, USER_OPS, MSE_RELU };

/* TG_GRAPH_INTERPRET set for the whole run (read in main): no compiled executor to expect */
static bool interpreter_forced;

typedef struct problem {
    int kind;
    int64_t n;
    tg_tensor *x, *y, *p[4];
    tg_params *params;
} problem;

static tg_tensor *loss_of(void *user)
{
    problem *pb = user;
    tg_tensor **p = pb->p;
    if (pb->kind == MSE_RELU) {   /* mean((relu(a x + b) * c + d - y)^2) */
        tg_tensor *h = tg_relu(tg_add(tg_mul(p[0], pb->x), p[1]));
        return tg_mse_loss(tg_add(tg_mul(h, p[2]), p[3]), pb->y, TG_REDUCTION_MEAN);
    }
    tg_tensor *u = tg_add(p[2], tg_mul(p[3], pb->x));
    tg_tensor *q = pb->kind == BUILTIN ? tg_legendre(u, 3) : tg_apply1(pb->kind == USER_RAW ? &tgt_p3_raw : &p3_ops, &u);
    return tg_sum(tg_pow(tg_sub(tg_add(p[0], tg_mul(p[1], q)), pb->y), 2.0));
}

static void make_problem(problem *pb, int kind, int64_t n)
{
    static const double init[4] = {0.0, -1.0, 0.0, 0.3}, init_mse[4] = {0.7, 0.1, 0.9, -0.2};
    pb->kind = kind;
    pb->n = n;
    pb->x = tg_linspace(-M_PI, M_PI, n);
    pb->y = tg_sin(pb->x);
    pb->params = tg_params_new();
    assert_non_null(pb->y);
    for (int i = 0; i < 4; i++) {
        pb->p[i] = tg_scalar(kind == MSE_RELU ? init_mse[i] : init[i]);
        tg_set_requires_grad(pb->p[i], true);
        char name[2] = {(char)('a' + i), 0};
        assert_status(TG_OK, tg_params_add(pb->params, name, pb->p[i]));
    }
}

static void free_problem(problem *pb)
{
    for (int i = 0; i < 4; i++)
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
    for (int i = 0; i < 4; i++) {
        tg_data(pb->p[i])[0] -= lr * tg_item(tg_grad(pb->p[i]));
        tg_zero_grad(pb->p[i]);
    }
    tg_scope_end();
    return l;
}

/* rtol relative, and 1e-12 absolute: parameters are O(1) and some stay near 0 */
static void expect_close(const char *what, int step, double got, double want, double rtol)
{
    if (fabs(got - want) > rtol * fabs(want) + 1e-12)
        fail_msg("%s at step %d: replay %.17g, eager %.17g (relative error %.3g)", what, step, got, want,
                 fabs(got - want) / fabs(want));
}

/* 100 replays against 100 eager steps from the same start. */
static void compare(int kind, int64_t n, const char *executor, double lr)
{
    problem e, c;
    make_problem(&e, kind, n);
    make_problem(&c, kind, n);
    tg_graph *g = tg_graph_capture(loss_of, &c, c.params, lr);
    if (!g)
        fail_msg("capture failed: %s", tg_last_error());
    if (strcmp(executor, "compiled") != 0 || !interpreter_forced)
        assert_string_equal(tg_graph_executor(g), executor);
    for (int i = 0; i < 4; i++)   /* the capture does not update */
        assert_true(tg_data(c.p[i])[0] == tg_data(e.p[i])[0]);
    for (int t = 0; t < 100; t++) {
        double le = eager_step(&e, lr), lc = NAN;
        assert_status(TG_OK, tg_graph_replay(g, &lc));
        expect_close("loss", t, lc, le, 1e-11);
        for (int i = 0; i < 4; i++)
            expect_close("parameter", t, tg_data(c.p[i])[0], tg_data(e.p[i])[0], 1e-11);
    }
    tg_graph_free(g);
    free_problem(&e);
    free_problem(&c);
}

static void force_interpreter(bool on)
{
    if (on)
        setenv("TG_GRAPH_INTERPRET", "1", 1);
    else
        unsetenv("TG_GRAPH_INTERPRET");
}

static void test_graph_replay_equals_eager_builtin_compiled(void **state)
{
    (void)state;
    compare(BUILTIN, 2000, "compiled", 5e-6);
    compare(BUILTIN, 5003, "compiled", 2e-6);   /* three blocks, the last partial */
}

static void test_graph_replay_equals_eager_builtin_interpreted(void **state)
{
    (void)state;
    force_interpreter(true);
    compare(BUILTIN, 2000, "interpreted", 5e-6);
    compare(BUILTIN, 5003, "interpreted", 2e-6);
    force_interpreter(false);
}

static void test_graph_replay_equals_eager_user_function(void **state)
{
    (void)state;
    compare(USER_RAW, 2000, "compiled", 5e-6);
    compare(USER_OPS, 2000, "compiled", 5e-6);
    force_interpreter(true);
    compare(USER_RAW, 5003, "interpreted", 2e-6);
    compare(USER_OPS, 5003, "interpreted", 2e-6);
    force_interpreter(false);
}

static void test_graph_replay_equals_eager_mean_loss_with_relu(void **state)
{
    (void)state;
    compare(MSE_RELU, 3000, "compiled", 1e-2);
    force_interpreter(true);
    compare(MSE_RELU, 3000, "interpreted", 1e-2);
    force_interpreter(false);
}

/* New x and y written into the captured tensors are what the replay reads. */
/* sum(P_deg(a x) * w): the loss and, through a replay with lr = 1, the
** gradient of a (derivative order 1), replayed against eager for degrees 0
** to 7, which the compiled code writes as polynomials (up to 4) or as the
** recurrence (above). */
typedef struct leg_problem { tg_tensor *x, *w, *a; int deg; } leg_problem;
static tg_tensor *leg_loss(void *user)
{
    leg_problem *lp = user;
    return tg_sum(tg_mul(tg_legendre(tg_mul(lp->a, lp->x), lp->deg), lp->w));
}

static void test_graph_replay_every_legendre_degree(void **state)
{
    (void)state;
    int64_t n = 1000;
    leg_problem lp = {tg_linspace(-1.3, 1.2, n), tgt_make(1, &n, tgt_signed0, false), tg_scalar(0.9), 0};
    tg_set_requires_grad(lp.a, true);
    tg_params *ps = tg_params_new();
    assert_status(TG_OK, tg_params_add(ps, "a", lp.a));
    for (lp.deg = 0; lp.deg <= 7; lp.deg++) {
        tg_scope_begin();
        tg_tensor *l = leg_loss(&lp);
        assert_status(TG_OK, tg_backward(l, NULL));
        double want[2] = {tg_item(l), tg_item(tg_grad(lp.a))}, got[2];
        tg_zero_grad(lp.a);
        tg_scope_end();
        tg_graph *g = tg_graph_capture(leg_loss, &lp, ps, 1.0);
        assert_non_null(g);
        if (!interpreter_forced)
            assert_string_equal(tg_graph_executor(g), "compiled");
        assert_status(TG_OK, tg_graph_replay(g, &got[0]));
        got[1] = 0.9 - tg_data(lp.a)[0];
        tg_data(lp.a)[0] = 0.9;
        tg_graph_free(g);
        print_message("degree %d: loss %.17g gradient %.17g\n", lp.deg, got[0], got[1]);
        assert_allclose("loss", 1, &got[0], &want[0], 1e-12, 1e-12);
        assert_allclose("gradient", 1, &got[1], &want[1], 1e-12, 1e-12);
    }
    tg_params_free(ps);
    tg_free(lp.a);
    tg_free(lp.w);
    tg_free(lp.x);
}

static void thread_case(int kind)
{
    problem c;
    make_problem(&c, kind, 100003);
    tgt_expect_replay_thread_invariant(loss_of, &c, c.params, c.p, 4);
    free_problem(&c);
}

/* Blocks split over threads, each block's sums in its own slot: a replay at
** N = 100,003 (49 blocks, the last partial) gives the same bits at 1, 2 and
** 3 threads, compiled and interpreted, for sum and mean losses. */
static void test_graph_replay_same_bits_at_any_thread_count(void **state)
{
    (void)state;
    tgt_each_executor(thread_case, (const int[]){BUILTIN, MSE_RELU}, 2);
}

static void test_graph_replay_reads_new_data(void **state)
{
    (void)state;
    problem e, c;
    make_problem(&e, BUILTIN, 3000);
    make_problem(&c, BUILTIN, 3000);
    tg_graph *g = tg_graph_capture(loss_of, &c, c.params, 1e-5);
    assert_non_null(g);
    for (int t = 0; t < 20; t++) {
        for (int64_t i = 0; i < 3000; i++) {
            double x = -1.0 + 2.0 * (double)((i * 7919 + t * 104729) % 3000) / 3000.0;
            tg_data(e.x)[i] = tg_data(c.x)[i] = x;
            tg_data(e.y)[i] = tg_data(c.y)[i] = cos(x * (1 + t));
        }
        double le = eager_step(&e, 1e-5), lc;
        assert_status(TG_OK, tg_graph_replay(g, &lc));
        expect_close("loss", t, lc, le, 1e-11);
        for (int i = 0; i < 4; i++)
            expect_close("parameter", t, tg_data(c.p[i])[0], tg_data(e.p[i])[0], 1e-11);
    }
    tg_graph_free(g);
    free_problem(&e);
    free_problem(&c);
}

static void no_allocation_per_replay(int kind)
{
    problem c;
    make_problem(&c, kind, 4000);
    tg_graph *g = tg_graph_capture(loss_of, &c, c.params, 1e-6);
    assert_non_null(g);
    double loss;
    assert_status(TG_OK, tg_graph_replay(g, &loss));
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

static void test_graph_replay_makes_no_allocation(void **state)
{
    (void)state;
    no_allocation_per_replay(BUILTIN);
    no_allocation_per_replay(USER_RAW);
    force_interpreter(true);
    no_allocation_per_replay(BUILTIN);
    force_interpreter(false);
}

static tg_tensor *loss_not_scalar(void *user)
{
    problem *pb = user;
    return tg_mul(pb->p[0], pb->x);
}
static tg_tensor *loss_skips_d(void *user)
{
    problem *pb = user;
    return tg_sum(tg_mul(tg_add(pb->p[0], tg_mul(pb->p[1], pb->x)), pb->p[2]));
}
static tg_tensor *loss_zero_power_of_d(void *user)   /* d is read, its gradient is zeros no op makes */
{
    problem *pb = user;
    return tg_sum(tg_mul(tg_add(pb->p[0], tg_mul(pb->p[1], pb->x)), tg_mul(pb->p[2], tg_pow(pb->p[3], 0.0))));
}
static tg_tensor *loss_discards_d(void *user)   /* d is read by an op the loss does not use */
{
    problem *pb = user;
    tg_tensor *unused = tg_mul(pb->p[3], pb->x);
    return unused ? loss_skips_d(user) : NULL;
}
static tg_tensor *loss_fails(void *user)
{
    problem *pb = user;
    return tg_add(pb->x, tg_zeros(1, (const int64_t[]){3}));
}

static void expect_capture_error(tg_tensor *(*fn)(void *), problem *pb, const tg_params *params,
                                 tg_status want, const char *text)
{
    tg_clear_error();
    tg_graph *g = tg_graph_capture(fn, pb, params, 1e-3);
    assert_null(g);
    assert_int_equal(tg_last_status(), want);
    if (!strstr(tg_last_error(), text))
        fail_msg("message '%s' lacks '%s'", tg_last_error(), text);
}

static void test_graph_capture_rejects_bad_steps(void **state)
{
    (void)state;
    problem c;
    make_problem(&c, BUILTIN, 100);
    expect_capture_error(loss_not_scalar, &c, c.params, TG_ERR_SHAPE, "the loss has shape [100]");
    expect_capture_error(loss_skips_d, &c, c.params, TG_ERR_ARG, "parameter 'd' (index 3) is not reached");
    expect_capture_error(loss_discards_d, &c, c.params, TG_ERR_ARG, "parameter 'd' (index 3) is not reached");
    expect_capture_error(loss_zero_power_of_d, &c, c.params, TG_ERR_ARG,
                         "parameter 'd' (index 3) gets a constant gradient that no op makes");
    expect_capture_error(loss_fails, &c, c.params, TG_ERR_SHAPE, "loss_fn returned NULL");
    expect_capture_error(NULL, &c, c.params, TG_ERR_ARG, "loss_fn is NULL");
    expect_capture_error(loss_of, &c, NULL, TG_ERR_ARG, "params is NULL");
    tg_params *empty = tg_params_new();
    expect_capture_error(loss_of, &c, empty, TG_ERR_ARG, "params is empty");
    tg_params_free(empty);
    assert_status(TG_ERR_ARG, tg_graph_replay(NULL, NULL));
    assert_null(tg_graph_executor(NULL));
    tg_graph_free(NULL);
    for (int i = 0; i < 4; i++)   /* nothing was updated */
        assert_true(tg_data(c.p[i])[0] == (i == 1 ? -1.0 : i == 3 ? 0.3 : 0.0));
    free_problem(&c);
}

static void test_graph_failing_compiler_falls_back_to_interpreter(void **state)
{
    (void)state;
    const char *old = getenv("TG_CC");   /* TG_CC wins over CC (src/graph/toolchain.c) */
    char *saved = old ? strdup(old) : NULL;
    setenv("TG_CC", "/bin/false", 1);
    compare(BUILTIN, 2500, "interpreted", 5e-6);
    if (saved)
        setenv("TG_CC", saved, 1);
    else
        unsetenv("TG_CC");
    free(saved);
}

int main(void)
{
    interpreter_forced = getenv("TG_GRAPH_INTERPRET") != NULL;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_graph_replay_equals_eager_builtin_compiled),
        cmocka_unit_test(test_graph_replay_equals_eager_builtin_interpreted),
        cmocka_unit_test(test_graph_replay_equals_eager_user_function),
        cmocka_unit_test(test_graph_replay_equals_eager_mean_loss_with_relu),
        cmocka_unit_test(test_graph_replay_every_legendre_degree),
        cmocka_unit_test(test_graph_replay_same_bits_at_any_thread_count),
        cmocka_unit_test(test_graph_replay_reads_new_data),
        cmocka_unit_test(test_graph_replay_makes_no_allocation),
        cmocka_unit_test(test_graph_capture_rejects_bad_steps),
        cmocka_unit_test(test_graph_failing_compiler_falls_back_to_interpreter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
