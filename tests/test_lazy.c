/* SPDX-License-Identifier: MIT */
/*
** Lazy mode (tg_set_lazy, tg_is_lazy, tg_realize, TG_LAZY; autograd/lazy.c):
** the mode is per thread and returns the previous one; values wait until a
** realization point (observed through the one documented difference, a write
** through an old pointer) and every realization point computes them:
** tg_item, tg_realize, tg_data, tg_scope_end, an op run at once, a raw-loop
** Function's forward, tg_backward; tg_data completes the ops reading its
** tensor before handing out the pointer; argument errors come at apply, with
** eager's messages; results are eager's bits; double backward works with
** pending constants in the graph; no allocation from the system per steady
** lazy step; an allocation failure walked through a lazy step is reported
** and leaks nothing.
*/
#define _POSIX_C_SOURCE 200809L
#include "support.h"
#include "core/internal.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static bool pending(void) { return tg__lazy_flush != NULL; }

static void *mode_of_new_thread(void *out)
{
    *(bool *)out = tg_is_lazy();
    return NULL;
}

static bool env_default(void)
{
    const char *e = getenv("TG_LAZY");
    return e && e[0] && strcmp(e, "0") != 0;
}

static void test_lazy_mode_is_per_thread_and_returns_the_previous(void **state)
{
    (void)state;
    bool start = tg_is_lazy();
    assert_true(start == env_default());
    assert_true(tg_set_lazy(!start) == start);
    assert_true(tg_is_lazy() == !start);
    bool other = !env_default();
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, mode_of_new_thread, &other), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_true(other == env_default());   /* a new thread starts from the default */
    assert_true(tg_set_lazy(start) == !start);
    assert_status(TG_ERR_ARG, tg_realize(NULL));
}

/* x: n points of linspace, no gradient */
static void test_lazy_values_wait_for_a_realization_point(void **state)
{
    (void)state;
    bool prev = tg_set_lazy(true);
    tg_scope_begin();
    tg_tensor *x = tg_linspace(-1.0, 1.0, 5);
    double *old = tg_data(x);
    tg_tensor *y = tg_exp(x);
    assert_non_null(y);
    assert_true(pending());
    old[0] = 0.0;   /* the documented difference: the pending exp reads it */
    assert_status(TG_OK, tg_realize(y));
    assert_false(pending());
    assert_true(tg_data(y)[0] == 1.0);
    assert_true(tg_data(y)[1] == exp(-0.5));
    tg_scope_end();
    tg_set_lazy(false);
    tg_scope_begin();   /* eager: the same write changes nothing applied */
    x = tg_linspace(-1.0, 1.0, 5);
    old = tg_data(x);
    y = tg_exp(x);
    old[0] = 0.0;
    assert_true(tg_data(y)[0] == exp(-1.0));
    tg_scope_end();
    tg_set_lazy(prev);
}

static void test_lazy_tg_data_completes_the_ops_reading_its_tensor(void **state)
{
    (void)state;
    bool prev = tg_set_lazy(true);
    tg_scope_begin();
    tg_tensor *x = tg_linspace(-1.0, 1.0, 5);
    tg_tensor *y = tg_mul(tg_exp(x), x);
    assert_true(pending());
    double *p = tg_data(x);
    assert_false(pending());
    p[0] = 100.0;
    assert_true(tg_data(y)[0] == exp(-1.0) * -1.0);
    tg_scope_end();
    tg_set_lazy(prev);
}

/* the raw-loop forward with the derivative as ops (tests/support) */
static const tg_function p3_raw = {.name = "P3raw", .n_inputs = 1, .n_outputs = 1,
                                   .forward = tgt_p3_forward, .backward = tgt_p3_backward_ops};

typedef void (*realizer)(tg_tensor *);
static void by_item(tg_tensor *t) { (void)tg_item(tg_sum(t)); }
static void by_realize(tg_tensor *t) { assert_status(TG_OK, tg_realize(t)); }
static void by_data(tg_tensor *t) { assert_non_null(tg_data(t)); }
static void by_op_run_now(tg_tensor *t) { assert_non_null(tg_matmul(t, t)); }   /* no descriptor: runs now */
static void by_raw_loop_function(tg_tensor *t) { assert_non_null(tg_apply1(&p3_raw, &t)); }
static void by_free(tg_tensor *t) { tg_free(t); }
static void by_backward(tg_tensor *t)
{
    (void)t;
    tg_tensor *p = tg_scalar(2.0);
    tg_set_requires_grad(p, true);
    assert_status(TG_OK, tg_backward(tg_mul(p, p), NULL));
}

static void test_lazy_every_realization_point_computes_the_pending_ops(void **state)
{
    (void)state;
    static const realizer points[] = {by_item, by_realize, by_data, by_op_run_now, by_raw_loop_function,
                                      by_free, by_backward};
    bool prev = tg_set_lazy(true);
    for (size_t k = 0; k < sizeof points / sizeof points[0]; k++) {
        tg_scope_begin();
        tg_tensor *x = tg_linspace(0.0, 1.0, 9), *y = tg_affine(tg_exp(x), 2.0, 1.0);
        assert_true(pending());
        points[k](y);
        if (pending())
            fail_msg("realization point %zu left ops pending", k);
        tg_scope_end();
    }
    tg_scope_begin();   /* the end of a scope */
    tg_tensor *x = tg_linspace(0.0, 1.0, 9);
    assert_non_null(tg_sin(x));
    assert_true(pending());
    tg_scope_end();
    assert_false(pending());
    tg_set_lazy(prev);
}

/* Shapes are fixed at apply: asking a pending result its shape or whether it
** requires grad computes nothing (a step that does stays fusable), and a freed
** tensor is still refused with eager's error. */
static void test_lazy_shape_queries_compute_nothing(void **state)
{
    (void)state;
    bool prev = tg_set_lazy(true);
    tg_scope_begin();
    tg_tensor *x = tg_linspace(0.0, 1.0, 12), *p = tg_scalar(2.0);
    assert_status(TG_OK, tg_set_requires_grad(p, true));
    tg_tensor *y = tg_reshape(tg_mul(tg_exp(x), p), 2, (int64_t[]){3, 4});
    assert_non_null(y);
    assert_true(pending());
    assert_int_equal(tg_ndim(y), 2);
    assert_int_equal(tg_shape(y)[0], 3);
    assert_int_equal(tg_shape(y)[1], 4);
    assert_int_equal(tg_numel(y), 12);
    assert_true(tg_requires_grad(y));
    assert_true(pending());   /* none of them computed anything */
    assert_true(tg_item(tg_sum(y)) > 0.0);
    assert_false(pending());
    tg_tensor *z = tg_exp(x);
    tg_free(z);   /* a realization point, then freed */
    tg_clear_error();
    assert_int_equal(tg_numel(z), -1);
    assert_int_equal(tg_last_status(), TG_ERR_STATE);
    tg_clear_error();
    assert_int_equal(tg_ndim(NULL), -1);
    assert_int_equal(tg_last_status(), TG_ERR_ARG);
    tg_clear_error();
    tg_scope_end();
    tg_set_lazy(prev);
}

static void test_lazy_argument_errors_come_at_apply_with_eager_messages(void **state)
{
    (void)state;
    char eager_msg[256];
    for (int lazy = 0; lazy < 2; lazy++) {
        bool prev = tg_set_lazy(lazy);
        tg_scope_begin();
        tg_tensor *a = tg_zeros(1, (int64_t[]){2}), *b = tg_zeros(1, (int64_t[]){3});
        tg_clear_error();
        assert_null(tg_add(tg_exp(a), b));
        assert_int_equal(tg_last_status(), TG_ERR_SHAPE);
        assert_non_null(strstr(tg_last_error(), "tg_add: shapes [2] and [3] do not broadcast"));
        if (!lazy)
            snprintf(eager_msg, sizeof eager_msg, "%s", tg_last_error());
        else
            assert_string_equal(tg_last_error(), eager_msg);
        tg_clear_error();
        assert_null(tg_legendre(a, -1));
        assert_int_equal(tg_last_status(), TG_ERR_ARG);
        tg_clear_error();
        assert_null(tg_exp(NULL));
        assert_int_equal(tg_last_status(), TG_ERR_ARG);
        tg_scope_end();
        tg_set_lazy(prev);
    }
}

/* A chain of every deferred op, with scalar operands, a raw-loop Function in
** the middle and a Legendre derivative; n points. */
static tg_tensor *chain(int64_t n)
{
    tg_tensor *x = tg_linspace(-0.9, 0.8, n), *s = tg_scalar(0.75), *t = tg_scalar(-1.5);
    tg_tensor *u = tg_affine(tg_mul(x, s), 1.1, 0.05);
    tg_tensor *v = tg_add(tg_div(tg_sin(u), t), tg_sub(tg_cos(u), tg_exp(tg_neg(x))));
    tg_tensor *w = tg_apply1(&p3_raw, &v);
    tg_tensor *q = tg_mul(tg_legendre(tg_tanh(w), 7), tg_sqrt(tg_abs(v)));
    tg_tensor *r = tg_add(tg_pow(tg_relu(q), 3.0), tg_log(tg_affine(tg_pow(x, 2.0), 1.0, 1.0)));
    return tg_div(s, tg_affine(r, 1.0, 2.0));
}

static void test_lazy_results_are_eager_bits(void **state)
{
    (void)state;
    static const int64_t sizes[] = {1, 7, 2048, 2049, 5003};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int64_t n = sizes[k];
        tg_scope_begin();
        bool prev = tg_set_lazy(false);
        tg_tensor *e = chain(n);
        tg_set_lazy(true);
        tg_tensor *l = chain(n);
        assert_true(pending());
        const double *ed = tg_data(e), *ld = tg_data(l);
        for (int64_t i = 0; i < n; i++)
            if (memcmp(&ed[i], &ld[i], sizeof(double)) != 0)
                fail_msg("n = %lld, element %lld: lazy %.17g, eager %.17g", (long long)n, (long long)i, ld[i], ed[i]);
        tg_set_lazy(prev);
        tg_scope_end();
    }
}

/* loss = sum(P3raw(a * exp(x) + b)^2) with exp(x) pending: first and second
** derivatives in a and b as eager mode's, and gradgradcheck. */
static tg_tensor *mixed(tg_tensor *const *in, void *user)
{
    tg_tensor *c = tg_exp(user);   /* a constant of the graph, deferred */
    tg_tensor *u = tg_add(tg_mul(in[0], c), in[1]);
    return tg_sum(tg_pow(tg_apply1(&p3_raw, &u), 2.0));
}

static void test_lazy_double_backward_through_pending_constants(void **state)
{
    (void)state;
    double got[2][4];
    for (int lazy = 0; lazy < 2; lazy++) {
        bool prev = tg_set_lazy(lazy);
        tg_scope_begin();
        tg_tensor *x = tg_linspace(-1.0, 1.0, 300), *p[2] = {tg_scalar(0.3), tg_scalar(-0.2)}, *g[2], *h[2];
        for (int i = 0; i < 2; i++)
            tg_set_requires_grad(p[i], true);
        tg_backward_opts create = {.create_graph = true};
        tg_tensor *loss = mixed(p, x);
        assert_status(TG_OK, tg_autograd_grad(1, &loss, NULL, 2, p, g, &create));
        tg_tensor *gs = tg_add(g[0], g[1]);
        assert_status(TG_OK, tg_autograd_grad(1, &gs, NULL, 2, p, h, NULL));
        got[lazy][0] = tg_item(g[0]), got[lazy][1] = tg_item(g[1]);
        got[lazy][2] = tg_item(h[0]), got[lazy][3] = tg_item(h[1]);
        assert_status(TG_OK, tg_gradgradcheck(mixed, 2, p, x, 1e-6, 1e-7, 1e-5));
        tg_scope_end();
        tg_set_lazy(prev);
    }
    for (int k = 0; k < 4; k++)
        if (got[1][k] != got[0][k])
            fail_msg("derivative %d: lazy %.17g, eager %.17g", k, got[1][k], got[0][k]);
}

/* One lazy step: a pending chain over the points, then its sum read. */
static tg_status lazy_step(void *user)
{
    double *out = user;
    tg_scope_begin();
    tg_tensor *y = chain(3000);
    tg_tensor *s = y ? tg_sum(y) : NULL;
    tg_status st = s ? TG_OK : tg_last_status();
    if (s)
        *out = tg_item(s);
    tg_scope_end();
    return st;
}

static void test_lazy_steady_step_allocates_nothing_from_the_system(void **state)
{
    (void)state;
    bool prev = tg_set_lazy(true);
    double v;
    for (int t = 0; t < 3; t++)
        assert_status(TG_OK, lazy_step(&v));
    tg_memory_stats m0, m1;
    tg_get_memory_stats(&m0);
    for (int t = 0; t < 10; t++)
        assert_status(TG_OK, lazy_step(&v));
    tg_get_memory_stats(&m1);
    assert_int_equal(m1.system_allocations, m0.system_allocations);
    tg_set_lazy(prev);
}

static void test_lazy_step_survives_every_allocation_failure(void **state)
{
    (void)state;
    bool prev = tg_set_lazy(true);
    double want, got;
    assert_status(TG_OK, lazy_step(&want));
    for (int forever = 0; forever < 2; forever++)
        for (int64_t k = 1;; k++) {
            tg_release_memory();
            int64_t live = tg__alloc_live();
            tg_clear_error();
            tg__alloc_fail_at(k, forever);
            tg_status st = lazy_step(&got);
            int64_t injected = tg__alloc_failures();
            tg__alloc_fail_at(0, false);
            assert_false(pending());
            if (injected == 0) {
                assert_status(TG_OK, st);
                break;
            }
            /* a failure where lazy mode reserves room runs the op at once: the step then succeeds */
            if (st == TG_OK && got != want)
                fail_msg("failure at allocation %lld: the step gave %.17g, not %.17g", (long long)k, got, want);
            if (st != TG_OK && st != TG_ERR_NOMEM)
                fail_msg("failure at allocation %lld gave %s: %s", (long long)k, tg_status_str(st), tg_last_error());
            tg_release_memory();
            if (tg__alloc_live() != live)
                fail_msg("failure at allocation %lld leaked %lld blocks", (long long)k,
                         (long long)(tg__alloc_live() - live));
            tg_clear_error();
            assert_status(TG_OK, lazy_step(&got));
            assert_true(got == want);
        }
    tg_set_lazy(prev);
}

/* A recorded op that needs a gradient saves what its backward reads when it
** is computed.  If that runs out of memory, the call that realized it still
** succeeds (its values are computed), and the backward through the op fails
** up front with TG_ERR_NOMEM naming it, depositing nothing. */
static void test_lazy_failed_save_fails_its_backward_naming_the_op(void **state)
{
    (void)state;
    bool prev = tg_set_lazy(true);
    tg_scope_begin();
    tg_tensor *x = tg_linspace(0.5, 1.5, 8);
    assert_status(TG_OK, tg_set_requires_grad(x, true));
    tg_tensor *y = tg_sin(x);
    assert_true(pending());
    tg__alloc_fail_at(1, false);
    const double *v = tg_data(y);   /* computes y; saving x for its backward fails */
    int64_t injected = tg__alloc_failures();
    tg__alloc_fail_at(0, false);
    assert_int_equal(injected, 1);
    assert_non_null(v);
    assert_true(v[0] == sin(0.5));
    tg_clear_error();
    tg_tensor *s = tg_sum(y);
    assert_status(TG_ERR_NOMEM, tg_backward(s, NULL));
    if (!strstr(tg_last_error(), "'tg_sin'") || !strstr(tg_last_error(), "out of memory"))
        fail_msg("the message does not name the op: %s", tg_last_error());
    assert_null(tg_grad(x));
    tg_scope_end();
    tg_set_lazy(prev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lazy_mode_is_per_thread_and_returns_the_previous),
        cmocka_unit_test(test_lazy_values_wait_for_a_realization_point),
        cmocka_unit_test(test_lazy_tg_data_completes_the_ops_reading_its_tensor),
        cmocka_unit_test(test_lazy_every_realization_point_computes_the_pending_ops),
        cmocka_unit_test(test_lazy_shape_queries_compute_nothing),
        cmocka_unit_test(test_lazy_argument_errors_come_at_apply_with_eager_messages),
        cmocka_unit_test(test_lazy_results_are_eager_bits),
        cmocka_unit_test(test_lazy_double_backward_through_pending_constants),
        cmocka_unit_test(test_lazy_steady_step_allocates_nothing_from_the_system),
        cmocka_unit_test(test_lazy_step_survives_every_allocation_failure),
        cmocka_unit_test(test_lazy_failed_save_fails_its_backward_naming_the_op),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
