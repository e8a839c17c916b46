/* SPDX-License-Identifier: MIT */
/*
** The PyTorch-parity ops of issue 17: torch.matmul's cases, permute, squeeze,
** cat, stack, narrow, the reductions over one dim, sigmoid, softmax,
** log_softmax, clamp, maximum, minimum, where, cross_entropy, and
** tg_retain_grad.  Every case of tests/data/parity.txt (written by
** tests/reference/make_parity_reference.py) against PyTorch's values and
** gradients, then each op through tg_gradcheck and tg_gradgradcheck at
** tie-free inputs of the same shapes, then the behaviours the data cannot
** show (views, ties, errors; a backward failing after other branches ran
** leaves every leaf and retained gradient as it was).  Each test checks that
** it left no block allocated.
*/
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define DATA "parity.txt"

#define F(name, expr) static tg_tensor *name(tg_tensor *const *in, const double *args) \
    { (void)args; return (expr); }

F(c_matmul, tg_matmul(in[0], in[1]))
F(c_permute, tg_permute(in[0], (const int[]){2, 0, 1}))
F(c_permute_neg, tg_permute(in[0], (const int[]){-1, -3, -2}))
F(c_permute_0d, tg_permute(in[0], (const int[]){0}))
F(c_squeeze, tg_squeeze(in[0], (int)args[0]))
F(c_cat3, tg_cat(3, in, (int)args[0]))
F(c_cat2, tg_cat(2, in, (int)args[0]))
F(c_stack3, tg_stack(3, in, (int)args[0]))
F(c_stack2, tg_stack(2, in, (int)args[0]))
F(c_narrow, tg_narrow(in[0], (int)args[0], (int64_t)args[1], (int64_t)args[2]))
F(c_mean_dim, tg_mean_dim(in[0], (int)args[0], args[1] != 0))
F(c_amax, tg_amax(in[0], (int)args[0], args[1] != 0))
F(c_amin, tg_amin(in[0], (int)args[0], args[1] != 0))
F(c_var, tg_var(in[0], (int)args[0], (int)args[1], args[2] != 0))
F(c_logsumexp, tg_logsumexp(in[0], (int)args[0], args[1] != 0))
F(c_sigmoid, tg_sigmoid(in[0]))
F(c_softmax, tg_softmax(in[0], (int)args[0]))
F(c_log_softmax, tg_log_softmax(in[0], (int)args[0]))
F(c_clamp, tg_clamp(in[0], args[0], args[1]))
F(c_maximum, tg_maximum(in[0], in[1]))
F(c_minimum, tg_minimum(in[0], in[1]))
F(c_where, tg_where(in[0], in[1], in[2]))
F(c_cross_entropy, tg_cross_entropy(in[0], in[1], (tg_reduction)args[0]))

#define R(name, n, fn, ...) {DATA, name, n, fn, {__VA_ARGS__}, 0, 0}
#define RM(name, n, fn, mask, ...) {DATA, name, n, fn, {__VA_ARGS__}, mask, 0}

static const tgt_ref_case cases[] = {
    R("matmul_vv", 2, c_matmul, 0), R("matmul_mv", 2, c_matmul, 0), R("matmul_vm", 2, c_matmul, 0),
    R("matmul_mm", 2, c_matmul, 0), R("matmul_bcast", 2, c_matmul, 0), R("matmul_bv", 2, c_matmul, 0),
    R("matmul_vb", 2, c_matmul, 0), R("matmul_empty", 2, c_matmul, 0),
    R("permute", 1, c_permute, 0), R("permute_neg", 1, c_permute_neg, 0),
    R("permute_0d", 1, c_permute_0d, 0),
    R("squeeze", 1, c_squeeze, 1), R("squeeze_neg", 1, c_squeeze, -2), R("squeeze_noop", 1, c_squeeze, 0),
    R("squeeze_0d", 1, c_squeeze, 0),
    R("cat", 3, c_cat3, 0), R("cat_neg", 2, c_cat2, -1),
    R("stack", 3, c_stack3, 1), R("stack_neg", 2, c_stack2, -1), R("stack_0d", 2, c_stack2, 0),
    R("narrow", 1, c_narrow, 0, 1, 2), R("narrow_neg", 1, c_narrow, -1, -2, 2),
    R("narrow_empty", 1, c_narrow, 1, 3, 0),
    R("mean_dim", 1, c_mean_dim, 1, 0), R("mean_dim_neg_keep", 1, c_mean_dim, -2, 1),
    R("mean_dim_0d", 1, c_mean_dim, 0, 0), R("mean_dim_empty", 1, c_mean_dim, 1, 0),
    R("amax_ties", 1, c_amax, 1, 0), R("amax_neg_keep", 1, c_amax, -2, 1), R("amax_0d", 1, c_amax, 0, 0),
    R("amin_ties", 1, c_amin, 1, 0), R("amin_neg_keep", 1, c_amin, -1, 1),
    R("amax_empty", 1, c_amax, 1, 0), R("amin_0d", 1, c_amin, -1, 0),
    R("var", 1, c_var, 1, 1, 0), R("var_corr0_neg_keep", 1, c_var, -2, 0, 1), R("var_0d", 1, c_var, 0, 0, 0),
    R("logsumexp", 1, c_logsumexp, 1, 0), R("logsumexp_neg_keep", 1, c_logsumexp, -2, 1),
    R("logsumexp_0d", 1, c_logsumexp, 0, 0), R("logsumexp_empty", 1, c_logsumexp, 1, 0),
    R("sigmoid", 1, c_sigmoid, 0), R("sigmoid_0d", 1, c_sigmoid, 0), R("sigmoid_empty", 1, c_sigmoid, 0),
    R("softmax", 1, c_softmax, 1), R("softmax_neg", 1, c_softmax, -2), R("softmax_0d", 1, c_softmax, 0),
    R("softmax_empty", 1, c_softmax, 1), R("log_softmax_empty", 1, c_log_softmax, 1),
    R("log_softmax", 1, c_log_softmax, 1), R("log_softmax_neg", 1, c_log_softmax, -2),
    R("log_softmax_0d", 1, c_log_softmax, 0),
    R("clamp", 1, c_clamp, -0.5, 0.5), R("clamp_0d", 1, c_clamp, -0.5, 0.5),
    R("clamp_empty", 1, c_clamp, -0.5, 0.5),
    R("maximum_ties", 2, c_maximum, 0), R("maximum_0d", 2, c_maximum, 0),
    R("minimum_ties", 2, c_minimum, 0), R("minimum_empty", 2, c_minimum, 0),
    R("maximum_bcast_short_first", 2, c_maximum, 0), R("minimum_0d", 2, c_minimum, 0),
    RM("where", 3, c_where, 1u, 0), RM("where_0d", 3, c_where, 1u, 0),
    RM("where_bcast_short_first", 3, c_where, 1u, 0),
    RM("cross_entropy_mean", 2, c_cross_entropy, 2u, TG_REDUCTION_MEAN),
    RM("cross_entropy_sum", 2, c_cross_entropy, 2u, TG_REDUCTION_SUM),
    RM("cross_entropy_none", 2, c_cross_entropy, 2u, TG_REDUCTION_NONE),
    RM("cross_entropy_empty_sum", 2, c_cross_entropy, 2u, TG_REDUCTION_SUM),
};
#define N_CASES (sizeof cases / sizeof cases[0])

/* ------------------------------------------- gradcheck and gradgradcheck */

static tg_tensor *apply_case(tg_tensor *const *in, void *user)
{
    const tgt_ref_case *c = user;
    return c->fn(in, c->args);
}

static double gen_for(int i, int64_t k)
{
    return i == 0 ? tgt_signed0(k) : i == 1 ? tgt_signed1(k) : tgt_positive0(k);
}
static double gen0(int64_t k) { return gen_for(0, k); }
static double gen1(int64_t k) { return gen_for(1, k); }
static double gen2(int64_t k) { return gen_for(2, k); }

/* Each case at inputs of its reference shapes filled with tie-free values
** (the inputs without gradient keep the reference's: a condition, class indices). */
static void run_grad_case(void **state)
{
    const tgt_ref_case *c = *state;
    double (*const gens[3])(int64_t) = {gen0, gen1, gen2};
    tg_tensor *in[3];
    tg_scope_begin();
    for (int i = 0; i < c->n_inputs; i++) {
        tg_tensor *r = tgt_ref_input(DATA, c->name, i);
        if (c->no_grad >> i & 1u) {
            in[i] = tg_detach(r);
        } else {
            in[i] = tgt_make(tg_ndim(r), tg_shape(r), gens[i], true);
            if (c->fn == c_sigmoid)   /* the reference's spread, tie-free already */
                memcpy(tg_data(in[i]), tg_data(r), (size_t)tg_numel(r) * sizeof(double));
        }
    }
    tgt_check_grads(c->name, apply_case, c->n_inputs, in, (void *)c);
    tg_scope_end();
}

/* ------------------------------------------------------------ behaviours */

static void test_squeeze_is_a_view_and_permute_round_trips(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = tgt_make(3, (int64_t[]){2, 1, 3}, tgt_signed0, false);
    tg_tensor *s = tg_squeeze(x, 1);
    assert_int_equal(tg_ndim(s), 2);
    assert_ptr_equal(tg_data(s), tg_data(x));
    tg_tensor *y = tgt_make(4, (int64_t[]){2, 3, 4, 5}, tgt_signed0, false);
    tg_tensor *p = tg_permute(tg_permute(y, (const int[]){3, 1, 0, 2}), (const int[]){2, 1, 3, 0});
    assert_allclose("permute round trip", 120, tg_data(p), tg_data(y), 0, 0);
    tg_scope_end();
}

static void test_cat_of_more_than_16_tensors_equals_stacked_rows(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *parts[40];
    for (int i = 0; i < 40; i++) {
        parts[i] = tg_full(2, (int64_t[]){1, 2}, (double)i);
        tg_set_requires_grad(parts[i], true);
    }
    tg_tensor *c = tg_cat(40, parts, 0);
    assert_non_null(c);
    assert_int_equal(tg_shape(c)[0], 40);
    for (int i = 0; i < 40; i++)
        assert_true(tg_data(c)[2 * i] == i && tg_data(c)[2 * i + 1] == i);
    tg_tensor *w = tg_linspace(0, 79, 80);
    assert_status(TG_OK, tg_backward(tg_sum(tg_mul(tg_reshape(c, 1, (int64_t[]){80}), w)), NULL));
    assert_true(tg_data(tg_grad(parts[17]))[1] == 35.0);
    tg_tensor *s = tg_stack(40, parts, 1);
    assert_non_null(s);
    assert_int_equal(tg_ndim(s), 3);
    assert_int_equal(tg_shape(s)[1], 40);
    tg_scope_end();
}

static void test_amax_splits_the_gradient_evenly_among_ties(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = tg_from_array(1, (int64_t[]){4}, (double[]){3.0, 1.0, 3.0, 3.0});
    tg_set_requires_grad(x, true);
    assert_status(TG_OK, tg_backward(tg_amax(x, 0, false), NULL));
    const double third = 1.0 / 3.0;
    assert_allclose("amax ties", 4, tg_data(tg_grad(x)), ((double[]){third, 0, third, third}), 0, 0);
    tg_tensor *a = tg_scalar(2.0), *b = tg_scalar(2.0);
    tg_set_requires_grad(a, true);
    tg_set_requires_grad(b, true);
    assert_status(TG_OK, tg_backward(tg_maximum(a, b), NULL));
    assert_true(tg_item(tg_grad(a)) == 0.5 && tg_item(tg_grad(b)) == 0.5);
    tg_scope_end();
}

static void test_softmax_and_logsumexp_are_stable_at_large_values(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = tg_from_array(1, (int64_t[]){3}, (double[]){1000.0, 1000.0, -INFINITY});
    tg_tensor *s = tg_softmax(x, 0), *l = tg_logsumexp(x, 0, false), *g = tg_sigmoid(tg_scalar(-800.0));
    assert_allclose("softmax", 3, tg_data(s), ((double[]){0.5, 0.5, 0.0}), 1e-15, 0);
    assert_allclose("logsumexp", 1, tg_data(l), ((double[]){1000.0 + log(2.0)}), 1e-15, 0);
    assert_true(tg_item(g) >= 0.0 && tg_item(g) < 1e-300);
    tg_scope_end();
}

/* where, maximum and minimum broadcast with the shorter operand first too
** (the shape so far was once overwritten while read), values and gradients
** as with the operands expanded by hand. */
static void test_broadcasting_ops_take_the_shorter_operand_first(void **state)
{
    (void)state;
    tg_scope_begin();
    int64_t big[2] = {2, 3};
    tg_tensor *row = tgt_make(1, (int64_t[]){3}, tgt_signed0, true), *m = tgt_make(2, big, tgt_signed1, true);
    tg_tensor *cond = tg_from_array(1, (int64_t[]){3}, (double[]){1, 0, 1});
    tg_tensor *got[3] = {tg_where(cond, row, m), tg_maximum(row, m), tg_minimum(row, m)};
    tg_tensor *er = tg_expand(row, 2, big), *ec = tg_expand(cond, 2, big);
    tg_tensor *want[3] = {tg_where(ec, er, m), tg_maximum(er, m), tg_minimum(er, m)};
    tg_backward_opts keep = {.retain_graph = true};   /* er's graph serves the three */
    for (int k = 0; k < 3; k++) {
        assert_non_null(got[k]);
        assert_int_equal(tg_ndim(got[k]), 2);
        assert_allclose("value", 6, tg_data(got[k]), tg_data(want[k]), 0, 0);
        tg_tensor *gg[2], *gw[2];
        assert_status(TG_OK, tg_autograd_grad(1, (tg_tensor *[]){tg_sum(tg_mul(got[k], m))}, NULL, 2,
                                              (tg_tensor *[]){row, m}, gg, NULL));
        assert_status(TG_OK, tg_autograd_grad(1, (tg_tensor *[]){tg_sum(tg_mul(want[k], m))}, NULL, 2,
                                              (tg_tensor *[]){row, m}, gw, &keep));
        assert_allclose("row's gradient", 3, tg_data(gg[0]), tg_data(gw[0]), 0, 0);
        assert_allclose("m's gradient", 6, tg_data(gg[1]), tg_data(gw[1]), 0, 0);
    }
    tg_scope_end();
}

static void test_retain_grad_keeps_a_non_leaf_gradient(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = tgt_make(1, (int64_t[]){3}, tgt_signed0, true);
    tg_tensor *h = tg_mul(x, x);                       /* h = x^2, dL/dh = 3 */
    assert_status(TG_OK, tg_retain_grad(h));
    assert_status(TG_OK, tg_retain_grad(h));           /* twice is once */
    tg_tensor *loss = tg_sum(tg_affine(h, 3.0, 0.0));
    assert_status(TG_OK, tg_backward(loss, &(tg_backward_opts){.retain_graph = true}));
    assert_allclose("h.grad", 3, tg_data(tg_grad(h)), ((double[]){3, 3, 3}), 0, 0);
    assert_status(TG_OK, tg_backward(loss, NULL));     /* accumulated as a leaf's */
    assert_allclose("h.grad twice", 3, tg_data(tg_grad(h)), ((double[]){6, 6, 6}), 0, 0);
    for (int i = 0; i < 3; i++)
        assert_true(tg_data(tg_grad(x))[i] == 12.0 * tgt_signed0(i));
    assert_status(TG_OK, tg_retain_grad(x));           /* a leaf: nothing to do */
    assert_status(TG_ERR_STATE, tg_retain_grad(tg_scalar(1.0)));
    assert_error(TG_ERR_STATE, "tg_retain_grad", "does not require grad");
    tg_scope_end();
}

/* ------------------------------------------- a failing backward changes nothing */

/* forward: y = 2x  =>  dx = 2 dy.  Its backward fails on demand: FAIL_STATUS
** returns a status and no message, FAIL_INNER returns TG_OK and a NULL
** gradient after an op inside it failed. */
enum { FAIL_NONE, FAIL_STATUS, FAIL_INNER };
static int flaky_mode;
static tg_status flaky_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    (void)ctx;
    return (out[0] = tg_affine(in[0], 2.0, 0.0)) ? TG_OK : tg_last_status();
}
static tg_status flaky_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    (void)ctx;
    if (flaky_mode == FAIL_STATUS)
        return TG_ERR_NUMERIC;
    if (flaky_mode == FAIL_INNER) {   /* [3] . [5]: refused */
        gin[0] = tg_matmul(g[0], tg_zeros(1, (int64_t[]){5}));
        return TG_OK;
    }
    return (gin[0] = tg_affine(g[0], 2.0, 0.0)) ? TG_OK : tg_last_status();
}
static const tg_function flaky_fn = {.name = "Flaky", .n_inputs = 1, .n_outputs = 1,
                                     .forward = flaky_forward, .backward = flaky_backward};

/* loss = sum(Flaky(w)) + sum(3 h) with h = x * x retained.  The walk runs
** the second term's branch first: h's gradient is complete and x's reached
** before Flaky's backward runs. */
typedef struct flaky_graph { tg_tensor *x, *w, *h, *loss; } flaky_graph;

static flaky_graph flaky_graph_new(void)
{
    flaky_graph f = {tgt_make(1, (int64_t[]){3}, tgt_signed0, true), tgt_make(1, (int64_t[]){3}, tgt_signed1, true),
                     NULL, NULL};
    f.h = tg_mul(f.x, f.x);
    assert_status(TG_OK, tg_retain_grad(f.h));
    f.loss = tg_add(tg_sum(tg_apply1(&flaky_fn, &f.w)), tg_sum(tg_affine(f.h, 3.0, 0.0)));
    assert_non_null(f.loss);
    return f;
}

/* The three gradients (NULL: none) as they are now, into 9 doubles and 3 pointers. */
static void grads_now(const flaky_graph *f, double *v, tg_tensor **t)
{
    tg_tensor *const ts[3] = {f->x, f->w, f->h};
    for (int i = 0; i < 3; i++) {
        t[i] = tg_grad(ts[i]);
        for (int j = 0; j < 3; j++)
            v[3 * i + j] = t[i] ? tg_data(t[i])[j] : NAN;
    }
    tg_clear_error();   /* tg_grad of none sets no error, but be sure */
}

static void expect_grads_unchanged(const flaky_graph *f, const double *v0, tg_tensor *const *t0)
{
    double v[9];
    tg_tensor *t[3];
    grads_now(f, v, t);
    for (int i = 0; i < 3; i++) {
        assert_ptr_equal(t[i], t0[i]);
        if (t[i])
            assert_memory_equal(&v[3 * i], &v0[3 * i], 3 * sizeof(double));
    }
}

/* Each failure mode, after a first backward (accumulating) and on a fresh
** graph (no gradient yet), with and without create_graph. */
static void test_failing_backward_leaves_leaf_and_retained_grads_unchanged(void **state)
{
    (void)state;
    for (int create = 0; create < 2; create++)
        for (int mode = FAIL_STATUS; mode <= FAIL_INNER; mode++)
            for (int warm = 0; warm < 2; warm++) {
                tg_scope_begin();
                tg_backward_opts o = {.retain_graph = true, .create_graph = create};
                flaky_graph f = flaky_graph_new();
                flaky_mode = FAIL_NONE;
                if (warm)
                    assert_status(TG_OK, tg_backward(f.loss, &o));
                double v0[9];
                tg_tensor *t0[3];
                grads_now(&f, v0, t0);
                flaky_mode = mode;
                tg_status st = tg_backward(f.loss, &o);
                if (mode == FAIL_STATUS) {
                    assert_status(TG_ERR_NUMERIC, st);
                    assert_error(TG_ERR_NUMERIC, "tg_backward: backward of 'Flaky' failed");
                } else {
                    assert_status(TG_ERR_SHAPE, st);
                    assert_error(TG_ERR_SHAPE, "tg_backward: backward of 'Flaky' returned TG_OK after an error",
                                 "tg_matmul");
                }
                expect_grads_unchanged(&f, v0, t0);
                flaky_mode = FAIL_NONE;   /* then a backward that succeeds adds exactly one more */
                assert_status(TG_OK, tg_backward(f.loss, &o));
                for (int j = 0; j < 3; j++) {
                    double x = tgt_signed0(j), n = warm ? 2.0 : 1.0;
                    assert_true(tg_data(tg_grad(f.x))[j] == n * 6.0 * x);
                    assert_true(tg_data(tg_grad(f.w))[j] == n * 2.0);
                    assert_true(tg_data(tg_grad(f.h))[j] == n * 3.0);
                }
                tg_scope_end();
            }
}

/* A training step with a retained gradient, once warm: nothing from the
** system, and the gradients right (the retained one fresh each step, x's
** accumulated in place). */
static void test_steady_step_with_retained_grad_allocates_nothing(void **state)
{
    (void)state;
    tg_tensor *x = tgt_make(1, (int64_t[]){64}, tgt_signed0, true);
    tg_memory_stats before = {0}, after;
    for (int i = 0; i < 1010; i++) {
        if (i == 10) {
            tg_zero_grad(x);
            tg_get_memory_stats(&before);
        }
        tg_scope_begin();
        tg_tensor *h = tg_mul(x, x);
        assert_status(TG_OK, tg_retain_grad(h));
        assert_status(TG_OK, tg_backward(tg_sum(tg_affine(h, 3.0, 0.0)), NULL));
        assert_true(tg_data(tg_grad(h))[5] == 3.0);
        tg_scope_end();
    }
    tg_get_memory_stats(&after);
    assert_int_equal(after.system_allocations, before.system_allocations);
    double want[64];
    for (int j = 0; j < 64; j++)
        want[j] = 1000.0 * 6.0 * tgt_signed0(j);
    assert_allclose("x.grad after 1000 steps", 64, tg_data(tg_grad(x)), want, 1e-12, 0);
    tg_free(x);
}

static void test_cross_entropy_rejects_bad_targets(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *logits = tgt_make(2, (int64_t[]){2, 3}, tgt_signed0, true);
    assert_null(tg_cross_entropy(logits, tg_from_array(1, (int64_t[]){2}, (double[]){0, 3}), TG_REDUCTION_MEAN));
    assert_error(TG_ERR_ARG, "tg_cross_entropy", "target[1] is 3");
    assert_null(tg_cross_entropy(logits, tg_from_array(1, (int64_t[]){2}, (double[]){0.5, 1}), TG_REDUCTION_MEAN));
    assert_error(TG_ERR_ARG, "tg_cross_entropy", "target[0] is 0.5");
    assert_null(tg_cross_entropy(logits, tg_zeros(1, (int64_t[]){3}), TG_REDUCTION_SUM));
    assert_error(TG_ERR_SHAPE, "tg_cross_entropy", "[2,3]", "[3]");
    tg_scope_end();
}

static void test_case_table_covers_every_case_in_parity_txt(void **state)
{
    (void)state;
    double count = 0;
    assert_int_equal(tgt_ref(DATA, "cases.count", &count, 1), 1);
    if (count != (double)N_CASES)
        fail_msg("parity.txt holds %g cases, the table names %zu", count, N_CASES);
}

int main(void)
{
    static struct CMUnitTest tests[2 * N_CASES + 16];
    static char names[2 * N_CASES][96];
    size_t n = 0;
    for (size_t i = 0; i < 2 * N_CASES; i++, n++) {
        const tgt_ref_case *c = &cases[i % N_CASES];
        snprintf(names[i], sizeof names[i], "%s_%s", c->name, i < N_CASES ? "matches_pytorch" : "gradgradcheck");
        tests[n] = (struct CMUnitTest){.name = names[i], .test_func = i < N_CASES ? tgt_run_ref_case : run_grad_case,
                                       .setup_func = tgt_record_live, .teardown_func = tgt_check_live,
                                       .initial_state = (void *)c};
    }
    const struct CMUnitTest more[] = {
        tgt_test(test_case_table_covers_every_case_in_parity_txt),
        tgt_test(test_squeeze_is_a_view_and_permute_round_trips),
        tgt_test(test_cat_of_more_than_16_tensors_equals_stacked_rows),
        tgt_test(test_amax_splits_the_gradient_evenly_among_ties),
        tgt_test(test_softmax_and_logsumexp_are_stable_at_large_values),
        tgt_test(test_broadcasting_ops_take_the_shorter_operand_first),
        tgt_test(test_retain_grad_keeps_a_non_leaf_gradient),
        tgt_test(test_failing_backward_leaves_leaf_and_retained_grads_unchanged),
        tgt_test(test_steady_step_with_retained_grad_allocates_nothing),
        tgt_test(test_cross_entropy_rejects_bad_targets),
    };
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
        tests[n++] = more[i];
    tgt_warm_scopes();
    return _cmocka_run_group_tests("test_parity", tests, n, NULL, NULL);
}
