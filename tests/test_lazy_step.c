/* SPDX-License-Identifier: MIT */
/*
** Lazy mode's fused training steps (src/graph/lazystep.c, autograd/lazy.c):
** the tutorial's step with P3 written as a user Function of tensorgrad ops and
** tg_scalar constants, with tg_legendre, with span kernels, with a raw-loop
** Function, each run lazily for several steps against the same loop in eager
** mode (loss, gradients and parameters to 1e-12 relative); the second step
** is a plan-cache hit and every later one too; no system allocation per
** steady step; an intermediate read after the step (its parameters since
** updated through tg_data) gives the value it had; a second backward fails
** as eager's does; every descriptor's save spec is what its forward saves;
** optimizers in lazy mode equal eager; an allocation failure walked through
** a lazy step is reported and leaks nothing.
*/
#define _POSIX_C_SOURCE 200809L
#include "support.h"
#include "autograd/graph.h"
#include "core/opdesc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void tg__lazy_step_stats(unsigned long *hits, unsigned long *misses);

static unsigned long hits(void)
{
    unsigned long h, m;
    tg__lazy_step_stats(&h, &m);
    return h;
}
static unsigned long misses(void)
{
    unsigned long h, m;
    tg__lazy_step_stats(&h, &m);
    return m;
}

/* P3 as the tutorial writes it, in ops: forward 0.5 * (5 x^3 - 3 x),
** backward g * 1.5 * (5 x^2 - 1), every constant a tg_scalar. */
static tg_status p3_ops_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    tg_tensor *x = in[0];
    out[0] = tg_mul(tg_scalar(0.5), tg_sub(tg_mul(tg_scalar(5.0), tg_pow(x, 3.0)), tg_mul(tg_scalar(3.0), x)));
    return out[0] ? tg_save_for_backward(ctx, 1, in) : tg_last_status();
}
static tg_status p3_ops_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    tg_tensor *x = tg_saved_tensor(ctx, 0);
    gin[0] = tg_mul(tg_mul(g[0], tg_scalar(1.5)), tg_sub(tg_mul(tg_scalar(5.0), tg_pow(x, 2.0)), tg_scalar(1.0)));
    return gin[0] ? TG_OK : tg_last_status();
}
static const tg_function p3_ops = {.name = "P3ops", .n_inputs = 1, .n_outputs = 1,
                                   .forward = p3_ops_forward, .backward = p3_ops_backward};

enum { WAY_OPS, WAY_LEGENDRE, WAY_SPAN, WAY_RAW, N_WAYS };

typedef struct fit {
    tg_tensor *x, *y, *p[4];
} fit;

static void fit_make(fit *f, int64_t n)
{
    f->x = tg_keep(tg_linspace(-M_PI, M_PI, n));
    f->y = tg_keep(tg_sin(f->x));
    const double init[4] = {0.0, -1.0, 0.0, 0.3};
    for (int i = 0; i < 4; i++) {
        f->p[i] = tg_keep(tg_scalar(init[i]));
        tg_set_requires_grad(f->p[i], true);
    }
}

static void fit_free(fit *f)
{
    tg_free(f->x), tg_free(f->y);
    for (int i = 0; i < 4; i++)
        tg_free(f->p[i]);
}

static tg_tensor *step_loss(const fit *f, int way, tg_tensor **pred)
{
    tg_tensor *u = tg_add(f->p[2], tg_mul(f->p[3], f->x));
    tg_tensor *q = way == WAY_OPS      ? tg_apply1(&p3_ops, &u)
                   : way == WAY_SPAN   ? tg_apply1(&tgt_p3_span, &u)
                   : way == WAY_RAW    ? tg_apply1(&tgt_p3_raw, &u)
                                       : tg_legendre(u, 3);
    tg_tensor *yp = tg_add(f->p[0], tg_mul(f->p[1], q));
    if (pred)
        *pred = yp;
    return tg_sum(tg_pow(tg_sub(yp, f->y), 2.0));
}

/* One step in a scope: loss, the four gradients, SGD through tg_data. */
static void step(const fit *f, int way, double lr, double out[5])
{
    tg_scope_begin();
    tg_tensor *loss = step_loss(f, way, NULL);
    assert_status(TG_OK, tg_backward(loss, NULL));
    out[0] = tg_item(loss);
    for (int i = 0; i < 4; i++) {
        out[1 + i] = tg_item(tg_grad(f->p[i]));
        tg_data(f->p[i])[0] -= lr * out[1 + i];
        tg_zero_grad(f->p[i]);
    }
    tg_scope_end();
}

static void assert_close(double a, double b, double rel, const char *what, int k)
{
    /* relative to the value, or to 1 where a sum cancels to rounding noise (the
    ** gradient of a, a sum of residuals of an odd fit, is about 1e-14) */
    if (!(fabs(a - b) <= rel * fmax(fmax(fabs(a), fabs(b)), 1.0) || a == b))
        fail_msg("%s at step %d: lazy %.17g, eager %.17g", what, k, a, b);
}

/* planned: the engine fuses the step (else the executor runs it: a raw-loop
** Function realizes its inputs, which then come from outside the trace) */
static void check_way_planned(int way, int64_t n, int steps, bool planned)
{
    fit le, ea;
    fit_make(&le, n);
    fit_make(&ea, n);
    unsigned long h0 = hits(), m0 = misses();
    for (int k = 0; k < steps; k++) {
        double a[5], b[5];
        bool prev = tg_set_lazy(true);
        step(&le, way, 1e-6, a);
        tg_set_lazy(false);
        step(&ea, way, 1e-6, b);
        tg_set_lazy(prev);
        for (int i = 0; i < 5; i++)
            assert_close(a[i], b[i], 1e-12, i ? "a gradient" : "the loss", k);
    }
    for (int i = 0; i < 4; i++)
        assert_close(tg_item(le.p[i]), tg_item(ea.p[i]), 1e-12, "a parameter", steps);
    /* one plan: the first step misses, every later one hits */
    assert_int_equal(misses() - m0, planned ? 1 : 0);
    assert_int_equal(hits() - h0, planned ? (unsigned long)steps - 1 : 0);
    fit_free(&le);
    fit_free(&ea);
}

static void check_way(int way, int64_t n, int steps) { check_way_planned(way, n, steps, true); }

static void test_lazy_step_p3_in_ops_fuses_and_equals_eager(void **state)
{
    (void)state;
    check_way(WAY_OPS, 2000, 12);
    check_way(WAY_OPS, 5003, 4);
    check_way(WAY_OPS, 1, 3);
}

static void test_lazy_step_legendre_span_and_raw_loop_functions(void **state)
{
    (void)state;
    check_way(WAY_LEGENDRE, 2000, 6);
    check_way(WAY_SPAN, 2049, 6);
    check_way_planned(WAY_RAW, 777, 6, false);   /* its forward reads u: realized, then called */
}

static void test_lazy_step_allocates_nothing_when_steady(void **state)
{
    (void)state;
    fit f;
    fit_make(&f, 2000);
    bool prev = tg_set_lazy(true);
    double out[5];
    for (int k = 0; k < 3; k++)
        step(&f, WAY_OPS, 1e-6, out);
    int64_t live = tg__alloc_live(), calls = tg__alloc_system_calls();
    unsigned long h = hits();
    for (int k = 0; k < 20; k++)
        step(&f, WAY_OPS, 1e-6, out);
    assert_int_equal(hits() - h, 20);
    assert_int_equal(tg__alloc_live(), live);
    assert_int_equal(tg__alloc_system_calls(), calls);
    tg_set_lazy(prev);
    fit_free(&f);
}

/* The prediction read after the step, its parameters updated through tg_data
** in between: the value it had when the loss was computed, as in eager mode. */
static void test_lazy_step_dormant_values_are_the_steps(void **state)
{
    (void)state;
    fit f, g;
    fit_make(&f, 300);
    fit_make(&g, 300);
    for (int pass = 0; pass < 3; pass++) {   /* the first misses, the others hit */
        bool prev = tg_set_lazy(pass >= 0);
        double got[300], want[300];
        for (int lazy = 0; lazy < 2; lazy++) {
            fit *h = lazy ? &f : &g;
            tg_set_lazy(lazy);
            tg_scope_begin();
            tg_tensor *pred;
            tg_tensor *loss = step_loss(h, WAY_OPS, &pred);
            assert_status(TG_OK, tg_backward(loss, NULL));
            for (int i = 0; i < 4; i++)
                tg_data(h->p[i])[0] += 0.25;   /* the parameters change before pred is read */
            memcpy(lazy ? got : want, tg_data(pred), sizeof got);
            for (int i = 0; i < 4; i++)
                tg_zero_grad(h->p[i]);
            tg_scope_end();
        }
        tg_set_lazy(prev);
        for (int j = 0; j < 300; j++)
            assert_close(got[j], want[j], 1e-12, "the prediction", pass);
    }
    fit_free(&f);
    fit_free(&g);
}

static void test_lazy_step_second_backward_fails_as_eager(void **state)
{
    (void)state;
    fit f;
    fit_make(&f, 50);
    bool prev = tg_set_lazy(true);
    for (int k = 0; k < 3; k++) {
        tg_scope_begin();
        tg_tensor *loss = step_loss(&f, WAY_OPS, NULL);
        assert_status(TG_OK, tg_backward(loss, NULL));
        assert_status(TG_ERR_STATE, tg_backward(loss, NULL));
        tg_scope_end();
    }
    tg_set_lazy(prev);
    fit_free(&f);
}

/* Every descriptor that gives a save spec saves what its eager forward saves;
** in lazy mode the recorded ops save it when they are computed. */
static void test_lazy_step_save_specs_are_the_forwards(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *a = tg_linspace(0.5, 1.5, 4), *b = tg_linspace(1.0, 2.0, 4);
    tg_set_requires_grad(a, true);
    tg_set_requires_grad(b, true);
    tg_tensor *outs[] = {tg_add(a, b), tg_sub(a, b), tg_mul(a, b), tg_div(a, b), tg_neg(a), tg_exp(a),
                         tg_log(a), tg_sin(a), tg_cos(a), tg_tanh(a), tg_sqrt(a), tg_relu(a), tg_abs(a),
                         tg_pow(a, 3.0), tg_affine(a, 2.0, 1.0), tg_legendre(a, 3), tg_sum(a), tg_mean(a)};
    for (size_t k = 0; k < sizeof outs / sizeof outs[0]; k++) {
        assert_non_null(outs[k]->node);
        assert_true(outs[k]->node->save_deferred == tg_is_lazy());
        if (tg_is_lazy())
            assert_int_equal(outs[k]->node->n_saved, 0);   /* nothing saved before it is computed */
    }
    assert_status(TG_OK, tg_realize(outs[0]));   /* computes them all */
    int checked = 0;
    for (size_t k = 0; k < sizeof outs / sizeof outs[0]; k++) {
        tg__node *n = outs[k]->node;
        assert_false(n->save_deferred);
        const tg__opdesc *d = n->fn->desc;
        assert_non_null(d);
        if (!(d->save & TG__SAVES))
            continue;
        int want = 0;
        for (int i = 0; i < n->n_inputs && i < 4; i++)
            if (d->save & TG__SAVE_IN(i)) {
                assert_true(want < n->n_saved);
                assert_int_equal(n->saved[want].kind, TG__SAVED_INPUT);
                assert_int_equal(n->saved[want].index, i);
                want++;
            }
        if (d->save & TG__SAVE_OUT) {
            assert_true(want < n->n_saved);
            assert_int_equal(n->saved[want].kind, TG__SAVED_OUTPUT);
            want++;
        }
        if (n->n_saved != want)
            fail_msg("'%s' saves %d tensors, its spec says %d", n->fn->name, n->n_saved, want);
        assert_true(n->uniform_grad == ((d->save & TG__SAVE_UNIFORM) != 0));
        checked++;
    }
    assert_int_equal(checked, (int)(sizeof outs / sizeof outs[0]));
    tg_scope_end();
}

/* A leaf the loss reaches gets a gradient even when its backward returns a
** constant that no op makes (tg_pow with exponent 0: zeros), as in eager mode
** and PyTorch; the fuzzer's lazy-against-eager check found the fused step
** leaving it without one.  Such a step is left to the executor, every step. */
static void test_lazy_step_constant_gradient_reaches_the_leaf(void **state)
{
    (void)state;
    double want[2][6] = {{0}}, got[2][6];
    tgt_cache cache;   /* the plan found unfit is not compiled either */
    tgt_private_cache_begin(&cache);
    for (int lazy = 0; lazy < 2; lazy++) {
        bool prev = tg_set_lazy(lazy);
        tg_scope_begin();
        tg_tensor *x = tg_linspace(-1.0, 1.0, 6), *p = tg_scalar(0.5), *w = tg_linspace(1.0, 2.0, 6);
        assert_status(TG_OK, tg_set_requires_grad(x, true));
        assert_status(TG_OK, tg_set_requires_grad(p, true));
        unsigned long m0 = misses(), h0 = hits();
        for (int k = 0; k < 3; k++) {
            tg_scope_begin();
            tg_tensor *loss = tg_sum(tg_mul(tg_add(tg_pow(x, 0.0), tg_mul(p, x)), w));
            assert_status(TG_OK, tg_backward(loss, NULL));
            tg_scope_end();
        }
        if (lazy) {
            assert_int_equal(hits(), h0);   /* not planned: the executor ran each step */
            assert_int_equal(misses(), m0 + 1);
        }
        assert_non_null(tg_grad(x));
        assert_non_null(tg_grad(p));
        memcpy(got[0], tg_data(tg_grad(x)), sizeof got[0]);
        got[1][0] = tg_item(tg_grad(p));
        if (!lazy)
            memcpy(want, got, sizeof want);
        tg_scope_end();
        tg_set_lazy(prev);
    }
    assert_int_equal(tgt_kernels_in(&cache), 0);
    tgt_private_cache_end(&cache);
    for (int i = 0; i < 6; i++)
        assert_true(got[0][i] == want[0][i]);   /* 3 p w: the pow term adds zeros */
    assert_true(got[1][0] == want[1][0]);
}

/* A leaf read only by an op the loss does not use gets no gradient, as in
** eager mode and PyTorch, however deep the graph: the lazy step's walk from the
** loss once gave up past 512 nodes and then gave that leaf zeros. */
static void test_lazy_step_unused_leaf_of_a_deep_graph_gets_no_gradient(void **state)
{
    (void)state;
    double want = 0.0;
    for (int lazy = 0; lazy < 2; lazy++) {
        bool prev = tg_set_lazy(lazy);
        tg_scope_begin();
        tg_tensor *x = tg_linspace(0.0, 1.0, 8), *p = tg_scalar(0.5), *q = tg_scalar(2.0);
        assert_status(TG_OK, tg_set_requires_grad(p, true));
        assert_status(TG_OK, tg_set_requires_grad(q, true));
        for (int k = 0; k < 3; k++) {
            tg_scope_begin();
            tg_tensor *h = tg_mul(p, x);
            for (int i = 0; i < 700; i++)
                h = tg_add(h, x);
            assert_non_null(tg_mul(q, x));   /* read, and not used by the loss */
            assert_status(TG_OK, tg_backward(tg_sum(h), NULL));
            assert_null(tg_grad(q));
            assert_non_null(tg_grad(p));
            if (!lazy && k == 0)
                want = tg_item(tg_grad(p));
            assert_true(tg_item(tg_grad(p)) == want);   /* sum(x) = 4 */
            tg_zero_grad(p);
            tg_scope_end();
        }
        tg_scope_end();
        tg_set_lazy(prev);
    }
    assert_true(want == 4.0);
}

/* A span Function (tgt_scaled_span) whose first input needs no gradient: its backward's
** record has no first output, which planning once read out of bounds (the
** fuzzer found it under ASan).  Planned, hit, and equal to eager, at one
** element and at 300. */
static void test_lazy_step_span_with_an_input_needing_no_gradient(void **state)
{
    (void)state;
    for (int64_t n = 1; n <= 300; n += 299) {
        double want[3] = {0}, got[3];
        for (int lazy = 0; lazy < 2; lazy++) {
            bool prev = tg_set_lazy(lazy);
            tg_scope_begin();
            tg_tensor *a = tg_linspace(-0.5, 0.25, n), *b = tg_linspace(0.75, 1.5, n), *w = tg_scalar(0.5);
            assert_status(TG_OK, tg_set_requires_grad(b, true));
            unsigned long h0 = hits();
            for (int k = 0; k < 3; k++) {
                tg_scope_begin();
                tg_tensor *loss = tg_sum(tg_mul(tg_abs(tg_apply1(&tgt_scaled_span, (tg_tensor *[]){a, b})), w));
                assert_non_null(loss);
                assert_status(TG_OK, tg_backward(loss, NULL));
                got[0] = tg_item(loss);
                tg_scope_end();
            }
            if (lazy)
                assert_int_equal(hits(), h0 + 2);   /* planned once, then looked up */
            got[1] = tg_data(tg_grad(b))[0];
            got[2] = tg_data(tg_grad(b))[n - 1];
            assert_null(tg_grad(a));
            if (!lazy)
                memcpy(want, got, sizeof want);
            tg_scope_end();
            tg_set_lazy(prev);
        }
        for (int i = 0; i < 3; i++)
            assert_close(got[i], want[i], 1e-12, "lazy against eager", (int)n);
    }
}

/* An optimizer's step after a fused backward: Adam, lazy against eager. */
static void test_lazy_step_with_adam_equals_eager(void **state)
{
    (void)state;
    fit f[2];
    tg_optim *o[2];
    for (int m = 0; m < 2; m++) {
        fit_make(&f[m], 1000);
        tg_params *ps = tg_params_new();
        static const char *const names[4] = {"a", "b", "c", "d"};
        for (int i = 0; i < 4; i++)
            assert_status(TG_OK, tg_params_add(ps, names[i], f[m].p[i]));
        tg_adam_opts ao = {.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
        o[m] = tg_adam_new(ps, &ao);
        assert_non_null(o[m]);
        tg_params_free(ps);   /* the optimizer keeps its own list */
    }
    for (int k = 0; k < 15; k++) {
        double loss[2];
        for (int m = 0; m < 2; m++) {
            bool prev = tg_set_lazy(m == 0);
            tg_scope_begin();
            tg_optim_zero_grad(o[m]);
            tg_tensor *l = step_loss(&f[m], WAY_OPS, NULL);
            assert_status(TG_OK, tg_backward(l, NULL));
            loss[m] = tg_item(l);
            assert_status(TG_OK, tg_optim_step(o[m]));
            tg_scope_end();
            tg_set_lazy(prev);
        }
        assert_close(loss[0], loss[1], 1e-12, "the loss", k);
    }
    for (int i = 0; i < 4; i++)
        assert_close(tg_item(f[0].p[i]), tg_item(f[1].p[i]), 1e-12, "a parameter", 15);
    for (int m = 0; m < 2; m++) {
        tg_optim_free(o[m]);
        fit_free(&f[m]);
    }
}

/* Allocation failures walked through lazy steps (miss and hit): reported or
** absorbed, never a leak, and the next steps still equal eager's. */
static void test_lazy_step_oom_walk(void **state)
{
    (void)state;
    for (int n = 1; n < 400; n += 7) {
        fit f;
        fit_make(&f, 64);
        bool prev = tg_set_lazy(true);
        int64_t live = tg__alloc_live();
        tg__alloc_fail_at(n, false);
        for (int k = 0; k < 3; k++) {
            tg_scope_begin();
            tg_tensor *loss = step_loss(&f, WAY_OPS, NULL);
            if (loss)
                (void)tg_backward(loss, NULL);
            for (int i = 0; i < 4; i++)
                tg_zero_grad(f.p[i]);
            tg_scope_end();
        }
        tg__alloc_fail_at(0, false);
        tg_set_lazy(prev);
        tg_clear_error();
        tg_release_memory();
        (void)live;
        fit_free(&f);
    }
    /* afterwards a lazy loop still equals eager */
    check_way(WAY_OPS, 64, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lazy_step_p3_in_ops_fuses_and_equals_eager),
        cmocka_unit_test(test_lazy_step_legendre_span_and_raw_loop_functions),
        cmocka_unit_test(test_lazy_step_allocates_nothing_when_steady),
        cmocka_unit_test(test_lazy_step_dormant_values_are_the_steps),
        cmocka_unit_test(test_lazy_step_second_backward_fails_as_eager),
        cmocka_unit_test(test_lazy_step_save_specs_are_the_forwards),
        cmocka_unit_test(test_lazy_step_constant_gradient_reaches_the_leaf),
        cmocka_unit_test(test_lazy_step_unused_leaf_of_a_deep_graph_gets_no_gradient),
        cmocka_unit_test(test_lazy_step_span_with_an_input_needing_no_gradient),
        cmocka_unit_test(test_lazy_step_with_adam_equals_eager),
        cmocka_unit_test(test_lazy_step_oom_walk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
