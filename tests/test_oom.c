/* SPDX-License-Identifier: MIT */
/*
** Allocation-failure injection, as SQLite tests it: an allocation failure is
** walked through allocation 1, 2, 3, ... of an operation, failing once and
** failing for good.  Every run must end with TG_ERR_NOMEM reported, nothing
** leaked (live block count unchanged), parameters and gradients as they were,
** and the library usable: the same operation succeeds once allocation works.
*/
#define _POSIX_C_SOURCE 200809L   /* setenv */
#include "support.h"
#include "core/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct fit {
    tg_tensor *x, *y, *p[4];
} fit;

/* forward: y = (5x^3 - 3x) / 2  =>  dx = dy * (7.5 x^2 - 1.5) */
static tg_status p3_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    out[0] = tg_affine(tg_sub(tg_affine(tg_pow(in[0], 3.0), 5.0, 0.0), tg_affine(in[0], 3.0, 0.0)), 0.5, 0.0);
    return out[0] ? tg_save_for_backward(ctx, 1, in) : tg_last_status();
}
static tg_status p3_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    tg_tensor *x = tg_saved_tensor(ctx, 0);
    gin[0] = tg_mul(g[0], tg_affine(tg_mul(x, x), 7.5, -1.5));
    return gin[0] ? TG_OK : tg_last_status();
}
static const tg_function p3 = {.name = "P3", .n_inputs = 1, .n_outputs = 1,
                               .forward = p3_forward, .backward = p3_backward};

/* (a) one training step: forward, loss, backward, update, zero_grad */
static tg_status train_step(void *self)
{
    fit *f = self;
    tg_scope_begin();
    tg_tensor *u = tg_add(f->p[2], tg_mul(f->p[3], f->x));
    tg_tensor *pred = tg_add(f->p[0], tg_mul(f->p[1], tg_apply1(&p3, &u)));
    tg_tensor *loss = tg_sum(tg_pow(tg_sub(pred, f->y), 2.0));
    tg_status st = loss ? tg_backward(loss, NULL) : tg_last_status();
    for (int i = 0; i < 4 && st == TG_OK; i++) {
        tg_data(f->p[i])[0] -= 1e-6 * tg_item(tg_grad(f->p[i]));
        tg_zero_grad(f->p[i]);
    }
    tg_scope_end();
    return st;
}

/* (b) a double backward: d2/dx2 of sum(x^3 * legendre(x, 4)) */
static tg_status double_backward(void *self)
{
    fit *f = self;
    tg_scope_begin();
    tg_tensor *y = tg_sum(tg_mul(tg_pow(f->x, 3.0), tg_legendre(f->x, 4))), *g = NULL, *g2 = NULL;
    tg_backward_opts create = {.create_graph = true};
    tg_status st = y ? tg_autograd_grad(1, &y, NULL, 1, &f->x, &g, &create) : tg_last_status();
    tg_tensor *gs = st == TG_OK ? tg_sum(g) : NULL;
    if (st == TG_OK)
        st = gs ? tg_autograd_grad(1, &gs, NULL, 1, &f->x, &g2, NULL) : tg_last_status();
    tg_scope_end();
    return st;
}

/* (c) a custom Function applied and backward, accumulating into the leaf */
static tg_status custom_apply_backward(void *self)
{
    fit *f = self;
    tg_scope_begin();
    tg_tensor *y = tg_apply1(&p3, &f->x);
    tg_status st = y ? tg_backward(tg_sum(y), NULL) : tg_last_status();
    tg_scope_end();
    return st;
}

/* (e) an elementwise span Function (tgt_scaled_span: x a) of x and the 0-d
** parameter a: the broadcast, its output, the gradients and the sum back to a */
static tg_status span_apply_backward(void *self)
{
    fit *f = self;
    tg_scope_begin();
    tg_tensor *y = tg_apply1(&tgt_scaled_span, (tg_tensor *[]){f->x, f->p[0]});
    tg_status st = y ? tg_backward(tg_sum(y), NULL) : tg_last_status();
    tg_scope_end();
    return st;
}

/* (d) graph capture and replay of the tutorial step (interpreted: the walk
** counts the library's own allocations, not the system compiler's) */
static tg_tensor *graph_loss(void *self)
{
    fit *f = self;
    tg_tensor *pred = tg_add(f->p[0], tg_mul(f->p[1], tg_legendre(tg_add(f->p[2], tg_mul(f->p[3], f->x)), 3)));
    return tg_sum(tg_pow(tg_sub(pred, f->y), 2.0));
}

/* the same step with the span Function scaled(u, b) in place of b * P3(u):
** a kernel call inside the fused pass, one input a broadcast parameter */
static tg_tensor *span_graph_loss(void *self)
{
    fit *f = self;
    tg_tensor *u = tg_add(f->p[2], tg_mul(f->p[3], f->x));
    tg_tensor *pred = tg_add(f->p[0], tg_apply1(&tgt_scaled_span, (tg_tensor *[]){u, f->p[1]}));
    return tg_sum(tg_pow(tg_sub(pred, f->y), 2.0));
}

static tg_tensor *(*capture_loss)(void *) = graph_loss;   /* the step capture_replay captures */

static tg_status capture_replay(void *self)
{
    fit *f = self;
    tg_params *ps = tg_params_new();
    if (!ps)
        return tg_last_status();
    tg_status st = TG_OK;
    const char *names[4] = {"a", "b", "c", "d"};
    for (int i = 0; i < 4 && st == TG_OK; i++)
        st = tg_params_add(ps, names[i], f->p[i]);
    tg_graph *g = st == TG_OK ? tg_graph_capture(capture_loss, f, ps, 1e-6) : NULL;
    if (st == TG_OK && !g)
        st = tg_last_status();
    double loss;
    for (int r = 0; r < 2 && st == TG_OK; r++)
        st = tg_graph_replay(g, &loss);
    tg_graph_free(g);
    tg_params_free(ps);
    return st;
}

/* (e) the streaming least squares in two parts: part, pack, unpack, solve */
static tg_status streaming_lstsq(void *self)
{
    fit *f = self;
    const int64_t n = tg_numel(f->x), cut = TG_LSTSQ_BLOCK;
    tg_points lo = {.x = tg_data(f->x), .y = tg_data(f->y), .n = cut};
    tg_points hi = {.x = tg_data(f->x) + cut, .y = tg_data(f->y) + cut, .n = n - cut, .first = cut};
    tg_lstsq_part *a = NULL, *b = NULL, *all = NULL;
    double *buf = NULL;
    tg_lstsq_result r;
    memset(&r, 0, sizeof r);
    tg_status st = tg_legendre_lstsq_part(&lo, 7, 0.3, 0.0, NULL, &a);
    if (st == TG_OK)
        st = tg_legendre_lstsq_part(&hi, 7, 0.3, 0.0, NULL, &b);
    if (st == TG_OK) {
        int64_t sa = tg_lstsq_part_size(a), sb = tg_lstsq_part_size(b);
        buf = malloc((size_t)(sa + sb) * sizeof *buf);
        tg_lstsq_part_pack(a, buf);
        tg_lstsq_part_pack(b, buf + sa);
        st = tg_lstsq_part_unpack(buf, sa + sb, &all);
    }
    if (st == TG_OK)
        st = tg_lstsq_part_solve(all, NULL, &r);
    if (st == TG_OK && (r.rank != 8 || !isfinite(r.coef[7])))
        st = TG_ERR_NUMERIC;
    tg_lstsq_result_free(&r);
    tg_lstsq_part_free(a);
    tg_lstsq_part_free(b);
    tg_lstsq_part_free(all);
    free(buf);
    return st;
}

static void snapshot(const fit *f, double *out)
{
    for (int i = 0; i < 4; i++)
        out[i] = tg_data(f->p[i])[0];
    tg_tensor *g = tg_grad(f->x);
    out[4] = g ? tg_data(g)[0] : NAN;
    out[5] = g ? tg_data(g)[1999] : NAN;
}

static int64_t live_after_release(void)
{
    tg_release_memory();
    return tg__alloc_live();
}

/* Walks the failure through every allocation of op; returns how many points. */
static int64_t walk(const char *what, tg_status (*op)(void *), fit *f, bool forever)
{
    assert_status(TG_OK, op(f));   /* warm up: scopes and the pool reach steady state */
    for (int64_t k = 1;; k++) {
        double before[6], after[6];
        snapshot(f, before);
        int64_t live = live_after_release();
        tg_clear_error();
        tg__alloc_fail_at(k, forever);
        tg_status st = op(f);
        int64_t injected = tg__alloc_failures();
        tg__alloc_fail_at(0, false);
        if (injected == 0) {   /* the operation needs fewer than k allocations */
            assert_status(TG_OK, st);
            return k - 1;
        }
        if (st != TG_ERR_NOMEM && tg_last_status() != TG_ERR_NOMEM)
            fail_msg("%s: failure at allocation %lld (%s) gave %s: %s", what, (long long)k,
                     forever ? "forever" : "once", tg_status_str(st), tg_last_error());
        if (live_after_release() != live)
            fail_msg("%s: failure at allocation %lld (%s) leaked %lld blocks", what, (long long)k,
                     forever ? "forever" : "once", (long long)(live_after_release() - live));
        snapshot(f, after);
        if (st != TG_OK && memcmp(before, after, sizeof before) != 0)
            fail_msg("%s: failure at allocation %lld changed parameters or gradients", what, (long long)k);
        tg_clear_error();
        assert_status(TG_OK, op(f));   /* usable again */
    }
}

static fit *make_fit(void)
{
    static fit f;
    f.x = tg_linspace(-M_PI, M_PI, 2000);
    f.y = tg_sin(f.x);
    const double init[4] = {0.0, -1.0, 0.0, 0.3};
    for (int i = 0; i < 4; i++) {
        f.p[i] = tg_scalar(init[i]);
        tg_set_requires_grad(f.p[i], true);
    }
    tg_set_requires_grad(f.x, true);
    return &f;
}

static void free_fit(fit *f)
{
    for (int i = 0; i < 4; i++)
        tg_free(f->p[i]);
    tg_free(f->x);
    tg_free(f->y);
}

static void check_walk(const char *what, tg_status (*op)(void *))
{
    fit *f = make_fit();
    int64_t once = walk(what, op, f, false), forever = walk(what, op, f, true);
    print_message("%s: %lld allocation points walked, failing once and for good\n", what, (long long)once);
    assert_true(once > 10);
    assert_int_equal(once, forever);
    free_fit(f);
}

static void test_training_step_survives_every_allocation_failure(void **state)
{
    (void)state;
    check_walk("training step", train_step);
}

static void test_double_backward_survives_every_allocation_failure(void **state)
{
    (void)state;
    check_walk("double backward", double_backward);
}

static void test_custom_function_survives_every_allocation_failure(void **state)
{
    (void)state;
    check_walk("custom Function", custom_apply_backward);
}

static void test_span_function_survives_every_allocation_failure(void **state)
{
    (void)state;
    check_walk("span Function", span_apply_backward);
}

static void test_graph_capture_and_replay_survive_every_allocation_failure(void **state)
{
    (void)state;
    setenv("TG_GRAPH_INTERPRET", "1", 1);
    check_walk("graph capture + replay", capture_replay);
    capture_loss = span_graph_loss;
    check_walk("graph capture + replay with a span Function", capture_replay);
    capture_loss = graph_loss;
    unsetenv("TG_GRAPH_INTERPRET");
}

static void test_streaming_lstsq_survives_every_allocation_failure(void **state)
{
    (void)state;
    check_walk("streaming least squares", streaming_lstsq);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_training_step_survives_every_allocation_failure),
        cmocka_unit_test(test_double_backward_survives_every_allocation_failure),
        cmocka_unit_test(test_custom_function_survives_every_allocation_failure),
        cmocka_unit_test(test_span_function_survives_every_allocation_failure),
        cmocka_unit_test(test_graph_capture_and_replay_survive_every_allocation_failure),
        cmocka_unit_test(test_streaming_lstsq_survives_every_allocation_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
