/* SPDX-License-Identifier: MIT */
/*
** Optimizer updates joined to a captured step (tg_graph_capture_optim): each
** elementwise optimizer's update is described once in its src/optim file and
** run by both tg_optim_step and the plan (inside the last fused pass for a
** parameter of N points, after the reductions for one-element parameters and
** for a gradient an opaque call makes).  For every kind and its options (SGD
** plain / momentum with dampening / Nesterov with weight decay / maximize,
** Adam, AdamW with amsgrad, RMSprop plain and centered with momentum,
** Adagrad, NAdam), some with a learning-rate schedule, 20 replays against the
** same eager loop: the parameters, the loss and every tg_grad bit for bit
** with the interpreter, to 1e-12 compiled; the optimizer's own update given
** the replay's gradients bit for bit with the interpreter; no system
** allocation in any replay (after the first with an opaque call, whose
** outputs the storage pool makes once); a replay that fails in an opaque
** call leaves the parameters and the optimizer (step counts, state) as they
** were.
*/
#define _XOPEN_SOURCE 700   /* setenv */
#include "support.h"
#include "core/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    SGD_PLAIN, SGD_MOMENTUM, SGD_NESTEROV_WD, SGD_MAXIMIZE, ADAM, ADAMW_AMSGRAD, RMSPROP, RMSPROP_CENTERED,
    ADAGRAD, NADAM, N_CASES
};
static const char *const case_name[N_CASES] = {
    "SGD", "SGD momentum, dampening, step schedule", "SGD Nesterov, weight decay", "SGD maximize, weight decay",
    "Adam, cosine schedule", "AdamW amsgrad", "RMSprop", "RMSprop centered, momentum, weight decay",
    "Adagrad, lr_decay, initial accumulator", "NAdam, weight decay, step schedule"};

static tg_optim *make_optim(int c, const tg_params *params)
{
    switch (c) {
    case SGD_PLAIN: {
        tg_sgd_opts o = tg_sgd_defaults(1e-2);
        return tg_sgd_new(params, &o);
    }
    case SGD_MOMENTUM: {
        tg_sgd_opts o = tg_sgd_defaults(1e-3);
        o.momentum = 0.9, o.dampening = 0.1;
        return tg_sgd_new(params, &o);
    }
    case SGD_NESTEROV_WD: {
        tg_sgd_opts o = tg_sgd_defaults(1e-3);
        o.momentum = 0.8, o.nesterov = true, o.weight_decay = 1e-2;
        return tg_sgd_new(params, &o);
    }
    case SGD_MAXIMIZE: {   /* maximizes the negated loss */
        tg_sgd_opts o = tg_sgd_defaults(5e-4);
        o.maximize = true, o.weight_decay = 1e-3;
        return tg_sgd_new(params, &o);
    }
    case ADAM: {
        tg_adam_opts o = tg_adam_defaults();
        o.lr = 1e-2;
        return tg_adam_new(params, &o);
    }
    case ADAMW_AMSGRAD: {
        tg_adam_opts o = tg_adamw_defaults();
        o.lr = 1e-2, o.amsgrad = true;
        return tg_adamw_new(params, &o);
    }
    case RMSPROP: {
        tg_rmsprop_opts o = tg_rmsprop_defaults();
        o.lr = 1e-3;
        return tg_rmsprop_new(params, &o);
    }
    case RMSPROP_CENTERED: {
        tg_rmsprop_opts o = tg_rmsprop_defaults();
        o.lr = 1e-3, o.centered = true, o.momentum = 0.5, o.weight_decay = 1e-2;
        return tg_rmsprop_new(params, &o);
    }
    case ADAGRAD: {
        tg_adagrad_opts o = tg_adagrad_defaults();
        o.lr = 5e-2, o.lr_decay = 1e-2, o.initial_accumulator_value = 0.1;
        return tg_adagrad_new(params, &o);
    }
    default: {
        tg_nadam_opts o = tg_nadam_defaults();
        o.weight_decay = 1e-2;
        return tg_nadam_new(params, &o);
    }
    }
}

/* The schedule the case steps after every update (both loops alike), or NULL. */
static tg_lr_schedule *make_schedule(int c, tg_optim *o)
{
    if (c == SGD_MOMENTUM)
        return tg_step_lr_new(o, 3, 0.5);
    if (c == ADAM)
        return tg_cosine_lr_new(o, 7, 1e-4);
    if (c == NADAM)
        return tg_step_lr_new(o, 5, 0.7);
    return NULL;
}

/* loss = mean((w * P3(c + d x) + b - y)^2), negated for the maximizing case:
** w a vector of N points (its gradient elementwise in the last pass), b, c,
** d one element each (gradients from reductions).  With `opaque`, plus
** mean((X v - z)^2) for a [3, 1] v through tg_matmul, a Function the plan
** calls on whole tensors: v's gradient is an opaque backward's buffer. */
typedef struct fit {
    int64_t n;
    bool negate, opaque;
    tg_tensor *x, *y, *w, *b, *c, *d, *X, *z, *v;
    tg_params *params;
} fit;

static tg_tensor *fit_loss(void *user)
{
    fit *f = user;
    tg_tensor *q = tg_legendre(tg_add(f->c, tg_mul(f->d, f->x)), 3);
    tg_tensor *l = tg_mean(tg_pow(tg_sub(tg_add(tg_mul(f->w, q), f->b), f->y), 2.0));
    if (f->opaque)
        l = tg_add(l, tg_mean(tg_pow(tg_sub(tg_matmul(f->X, f->v), f->z), 2.0)));
    return f->negate ? tg_neg(l) : l;
}

static double gen_w(int64_t i) { return 0.5 + 0.25 * sin(0.37 * (double)i); }
static double gen_X(int64_t i) { return cos(0.11 * (double)i + 0.3); }
static double gen_z(int64_t i) { return 0.2 * sin(0.05 * (double)i); }
static double gen_v(int64_t i) { return 0.1 * (double)(i + 1); }

static void make_fit(fit *f, int64_t n, bool negate, bool opaque)
{
    *f = (fit){.n = n, .negate = negate, .opaque = opaque};
    f->x = tg_linspace(-1.0, 1.0, n);
    f->y = tg_sin(f->x);
    f->w = tgt_make(1, &n, gen_w, true);
    f->b = tg_scalar(0.1), f->c = tg_scalar(0.05), f->d = tg_scalar(0.8);
    f->params = tg_params_new();
    tg_tensor *ps[4] = {f->w, f->b, f->c, f->d};
    const char *names[4] = {"w", "b", "c", "d"};
    for (int i = 0; i < 4; i++) {
        tg_set_requires_grad(ps[i], true);
        assert_status(TG_OK, tg_params_add(f->params, names[i], ps[i]));
    }
    if (opaque) {
        int64_t xs[2] = {n, 3}, zs[2] = {n, 1}, vs[2] = {3, 1};
        f->X = tgt_make(2, xs, gen_X, false);
        f->z = tgt_make(2, zs, gen_z, false);
        f->v = tgt_make(2, vs, gen_v, true);
        assert_status(TG_OK, tg_params_add(f->params, "v", f->v));
    }
}

static void free_fit(fit *f)
{
    tg_free(f->x), tg_free(f->y), tg_free(f->w), tg_free(f->b), tg_free(f->c), tg_free(f->d);
    tg_free(f->X), tg_free(f->z), tg_free(f->v);
    tg_params_free(f->params);
}

static void expect_equal(const char *what, const char *name, int step, int64_t n, const double *got,
                         const double *want, double tol)
{
    for (int64_t i = 0; i < n; i++) {
        bool ok = tol == 0 ? memcmp(&got[i], &want[i], sizeof(double)) == 0
                           : fabs(got[i] - want[i]) <= tol * fabs(want[i]) + tol * 1e-3;
        if (!ok)
            fail_msg("%s, %s at step %d, element %lld of %lld: replay %.17g, eager %.17g", name, what, step,
                     (long long)i, (long long)n, got[i], want[i]);
    }
}

/* Every parameter and its tg_grad of the captured fit c against the eager fit e. */
static void expect_fits_equal(const fit *c, const fit *e, const char *name, int step, double tol)
{
    for (int i = 0; i < tg_params_count(c->params); i++) {
        tg_tensor *pc = tg_params_get(c->params, i), *pe = tg_params_get(e->params, i);
        char what[64];
        snprintf(what, sizeof what, "parameter %s", tg_params_name(c->params, i));
        expect_equal(what, name, step, tg_numel(pc), tg_data(pc), tg_data(pe), tol);
        snprintf(what, sizeof what, "tg_grad of %s", tg_params_name(c->params, i));
        assert_non_null(tg_grad(pc));
        expect_equal(what, name, step, tg_numel(pc), tg_data(tg_grad(pc)), tg_data(tg_grad(pe)), tol);
    }
}

/* One eager step of fit e: zero_grad, loss, backward, step, schedule; eager
** mode whatever the thread's default (TG_LAZY=1 would fuse it). */
static double eager_step(fit *e, tg_optim *o, tg_lr_schedule *s)
{
    bool lazy = tg_set_lazy(false);
    tg_scope_begin();
    tg_optim_zero_grad(o);
    tg_tensor *l = fit_loss(e);
    assert_status(TG_OK, tg_backward(l, NULL));
    double loss = tg_item(l);
    assert_status(TG_OK, tg_optim_step(o));
    tg_scope_end();
    if (s)
        assert_status(TG_OK, tg_lr_schedule_step(s));
    tg_set_lazy(lazy);
    return loss;
}

static int64_t n_points = 1000;
static bool with_opaque;

/* 20 replays of case c against the eager loop, under the executor the
** environment picks (tgt_each_executor). */
static void replay_case(int c)
{
    const char *name = case_name[c];
    fit e, f;
    make_fit(&e, n_points, c == SGD_MAXIMIZE, with_opaque);
    make_fit(&f, n_points, c == SGD_MAXIMIZE, with_opaque);
    tg_optim *oe = make_optim(c, e.params), *oc = make_optim(c, f.params);
    assert_non_null(oe);
    assert_non_null(oc);
    tg_lr_schedule *se = make_schedule(c, oe), *sc = make_schedule(c, oc);
    tg_graph *g = tg_graph_capture_optim(fit_loss, &f, f.params, oc);
    if (!g)
        fail_msg("%s: capture failed: %s", name, tg_last_error());
    bool compiled = strcmp(tg_graph_executor(g), "compiled") == 0;
    double tol = compiled ? 1e-12 : 0;
    for (int t = 0; t < 20; t++) {
        double le = eager_step(&e, oe, se), lc = NAN;
        tg_memory_stats m0, m1;
        tg_get_memory_stats(&m0);
        assert_status(TG_OK, tg_graph_replay(g, &lc));
        tg_get_memory_stats(&m1);
        /* an opaque call's outputs come from the storage pool, which grows on its first use */
        if (m1.system_allocations != m0.system_allocations && !(with_opaque && t == 0))
            fail_msg("%s: replay %d made %lld system allocations", name, t,
                     (long long)(m1.system_allocations - m0.system_allocations));
        if (sc)
            assert_status(TG_OK, tg_lr_schedule_step(sc));
        expect_equal("loss", name, t, 1, &lc, &le, tol);
        expect_fits_equal(&f, &e, name, t, tol);
        assert_true(tg_optim_lr(oc) == tg_optim_lr(oe));
    }
    tg_graph_free(g);
    tg_lr_schedule_free(se), tg_lr_schedule_free(sc);
    tg_optim_free(oe), tg_optim_free(oc);
    free_fit(&e), free_fit(&f);
}

static const int all_cases[N_CASES] = {SGD_PLAIN, SGD_MOMENTUM, SGD_NESTEROV_WD, SGD_MAXIMIZE, ADAM,
                                       ADAMW_AMSGRAD, RMSPROP, RMSPROP_CENTERED, ADAGRAD, NADAM};

static void test_optim_fused_replay_equals_eager_loop(void **state)
{
    (void)state;
    n_points = 1000, with_opaque = false;
    tgt_each_executor(replay_case, all_cases, N_CASES);
}

static void test_optim_fused_replay_with_opaque_gradient_equals_eager_loop(void **state)
{
    (void)state;
    n_points = 1000, with_opaque = true;
    tgt_each_executor(replay_case, all_cases, N_CASES);
}

/* The update alone: an eager optimizer given the replay's gradients lands on
** the replay's parameters bit for bit with the interpreter, to 1e-12
** compiled (the compiled update is the same operations, but -march=native
** lets the compiler contract p + (-lr) * d into one rounding).  Several
** blocks of points (N = 5003). */
static void update_alone_case(int c)
{
    const char *name = case_name[c];
    fit e, f;
    make_fit(&e, 5003, c == SGD_MAXIMIZE, false);
    make_fit(&f, 5003, c == SGD_MAXIMIZE, false);
    tg_optim *oe = make_optim(c, e.params), *oc = make_optim(c, f.params);
    tg_lr_schedule *se = make_schedule(c, oe), *sc = make_schedule(c, oc);
    tg_graph *g = tg_graph_capture_optim(fit_loss, &f, f.params, oc);
    if (!g)
        fail_msg("%s: capture failed: %s", name, tg_last_error());
    double tol = strcmp(tg_graph_executor(g), "compiled") == 0 ? 1e-12 : 0;
    bool lazy = tg_set_lazy(false);   /* e's tg_grad tensors, overwritten below */
    tg_scope_begin();
    assert_status(TG_OK, tg_backward(fit_loss(&e), NULL));
    tg_scope_end();
    tg_set_lazy(lazy);
    for (int t = 0; t < 20; t++) {
        assert_status(TG_OK, tg_graph_replay(g, NULL));
        for (int i = 0; i < tg_params_count(f.params); i++) {   /* the replay's gradients, eagerly */
            tg_tensor *ge = tg_grad(tg_params_get(e.params, i)), *gc = tg_grad(tg_params_get(f.params, i));
            assert_non_null(gc);
            memcpy(tg_data(ge), tg_data(gc), (size_t)tg_numel(gc) * sizeof(double));
        }
        assert_status(TG_OK, tg_optim_step(oe));
        if (se) {
            assert_status(TG_OK, tg_lr_schedule_step(se));
            assert_status(TG_OK, tg_lr_schedule_step(sc));
        }
        expect_fits_equal(&f, &e, name, t, tol);
    }
    tg_graph_free(g);
    tg_lr_schedule_free(se), tg_lr_schedule_free(sc);
    tg_optim_free(oe), tg_optim_free(oc);
    free_fit(&e), free_fit(&f);
}

static void test_optim_fused_update_is_the_eager_update_bit_for_bit(void **state)
{
    (void)state;
    tgt_each_executor(update_alone_case, all_cases, N_CASES);
}

/* ----------------------------------------- a failed replay changes nothing */

static bool fail_forward;

/* the tutorial's raw-loop P3, failing on demand: an opaque call of the plan */
static tg_status failing_p3_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    return fail_forward ? TG_ERR_ARG : tgt_p3_forward(ctx, in, out);
}

static const tg_function failing_p3 = {.name = "failing_p3", .n_inputs = 1, .n_outputs = 1,
                                       .forward = failing_p3_forward, .backward = tgt_p3_backward_raw};

static tg_tensor *failing_loss(void *user)
{
    fit *f = user;
    tg_tensor *u = tg_add(f->c, tg_mul(f->d, f->x));
    tg_tensor *q = u ? tg_apply1(&failing_p3, &u) : NULL;
    return tg_mean(tg_pow(tg_sub(tg_add(tg_mul(f->w, q), f->b), f->y), 2.0));
}

/* Two graphs of the same step, one failing at replays 3 and 4: the failed
** replays leave the parameters as they were, and afterwards the two
** trajectories are the same bits (the optimizer's step counts, state and
** schedule untouched by the failures). */
static void failed_replay_case(int c)
{
    const char *name = case_name[c];
    fit a, b;
    make_fit(&a, 700, c == SGD_MAXIMIZE, false);
    make_fit(&b, 700, c == SGD_MAXIMIZE, false);
    tg_optim *oa = make_optim(c, a.params), *ob = make_optim(c, b.params);
    tg_lr_schedule *sa = make_schedule(c, oa), *sb = make_schedule(c, ob);
    tg_graph *ga = tg_graph_capture_optim(failing_loss, &a, a.params, oa);
    tg_graph *gb = tg_graph_capture_optim(failing_loss, &b, b.params, ob);
    if (!ga || !gb)
        fail_msg("%s: capture failed: %s", name, tg_last_error());
    double *before = malloc((size_t)a.n * sizeof(double));
    assert_non_null(before);
    for (int t = 0, tb = 0; t < 12; t++) {
        if (t == 3 || t == 4) {
            memcpy(before, tg_data(b.w), (size_t)b.n * sizeof(double));
            double bb = tg_item(b.b);
            fail_forward = true;
            tg_status st = tg_graph_replay(gb, NULL);
            fail_forward = false;
            assert_int_not_equal(st, TG_OK);
            expect_equal("w after a failed replay", name, t, b.n, tg_data(b.w), before, 0);
            expect_equal("b after a failed replay", name, t, 1, (double[]){tg_item(b.b)}, &bb, 0);
            continue;
        }
        assert_status(TG_OK, tg_graph_replay(ga, NULL));
        assert_status(TG_OK, tg_graph_replay(gb, NULL));
        if (sa) {
            assert_status(TG_OK, tg_lr_schedule_step(sa));
            assert_status(TG_OK, tg_lr_schedule_step(sb));
        }
        expect_fits_equal(&b, &a, name, tb++, 0);
    }
    free(before);
    tg_graph_free(ga), tg_graph_free(gb);
    tg_lr_schedule_free(sa), tg_lr_schedule_free(sb);
    tg_optim_free(oa), tg_optim_free(ob);
    free_fit(&a), free_fit(&b);
}

static void test_optim_fused_failed_replay_leaves_params_and_optimizer_unchanged(void **state)
{
    (void)state;
    tgt_each_executor(failed_replay_case, all_cases, N_CASES);
    tg_clear_error();
}

/* ------------------------------- an update before a later read of its param */

typedef struct two { int64_t n; tg_tensor *x, *y, *w1, *w2; tg_params *params; } two;

/* loss = mean((w1 - y)^2) + mean(w2 (S(x) + w1)): w1's gradient, 2 (w1 - y) / N
** + w2 / N, needs no span call; w2's, (S(x) + w1) / N, reads w1 after the
** call.  The update of w1 must wait until w2's gradient has read it. */
static tg_tensor *two_loss(void *user)
{
    two *f = user;
    tg_tensor *s = tg_apply1(&tgt_p3_span, &f->x);   /* span calls split a compiled pass into loops */
    return tg_add(tg_mean(tg_pow(tg_sub(f->w1, f->y), 2.0)), tg_mean(tg_mul(f->w2, tg_add(s, f->w1))));
}

static void make_two(two *f, int64_t n)
{
    f->n = n;
    f->x = tg_linspace(-1.0, 1.0, n);
    f->y = tg_cos(f->x);
    f->w1 = tgt_make(1, &n, gen_w, true);
    f->w2 = tgt_make(1, &n, gen_X, true);
    f->params = tg_params_new();
    assert_status(TG_OK, tg_params_add(f->params, "w1", f->w1));
    assert_status(TG_OK, tg_params_add(f->params, "w2", f->w2));
}

static void free_two(two *f)
{
    tg_free(f->x), tg_free(f->y), tg_free(f->w1), tg_free(f->w2);
    tg_params_free(f->params);
}

static void read_after_update_case(int c)
{
    const char *name = case_name[c];
    two e, f;
    make_two(&e, 3000);
    make_two(&f, 3000);
    tg_optim *oe = make_optim(c, e.params), *oc = make_optim(c, f.params);
    tg_graph *g = tg_graph_capture_optim(two_loss, &f, f.params, oc);
    if (!g)
        fail_msg("%s: capture failed: %s", name, tg_last_error());
    double tol = strcmp(tg_graph_executor(g), "compiled") == 0 ? 1e-12 : 0;
    for (int t = 0; t < 5; t++) {
        bool lazy = tg_set_lazy(false);
        tg_scope_begin();
        tg_optim_zero_grad(oe);
        assert_status(TG_OK, tg_backward(two_loss(&e), NULL));
        assert_status(TG_OK, tg_optim_step(oe));
        tg_scope_end();
        tg_set_lazy(lazy);
        assert_status(TG_OK, tg_graph_replay(g, NULL));
        expect_equal("w1", name, t, e.n, tg_data(f.w1), tg_data(e.w1), tol);
        expect_equal("w2", name, t, e.n, tg_data(f.w2), tg_data(e.w2), tol);
    }
    tg_graph_free(g);
    tg_optim_free(oe), tg_optim_free(oc);
    free_two(&e), free_two(&f);
}

static void test_optim_fused_update_waits_for_every_read_of_its_param(void **state)
{
    (void)state;
    static const int cases[] = {SGD_PLAIN, ADAM};
    tgt_each_executor(read_after_update_case, cases, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_optim_fused_replay_equals_eager_loop),
        cmocka_unit_test(test_optim_fused_replay_with_opaque_gradient_equals_eager_loop),
        cmocka_unit_test(test_optim_fused_update_is_the_eager_update_bit_for_bit),
        cmocka_unit_test(test_optim_fused_failed_replay_leaves_params_and_optimizer_unchanged),
        cmocka_unit_test(test_optim_fused_update_waits_for_every_read_of_its_param),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
