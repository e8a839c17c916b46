/* SPDX-License-Identifier: MIT */
/*
** Elementwise user Functions given as span kernels (forward_span /
** backward_span): the library broadcasts, allocates, saves, reduces
** gradients to broadcast inputs and splits large tensors over threads.  They
** must agree with the same Function written with forward / backward
** callbacks, with finite differences, and across thread counts bit for bit,
** and refuse what they cannot do (double backward, bad vtables) by name.
*/
#include "support.h"

#include <math.h>
#include <string.h>

/* out = x * y + sin(x): two inputs, the output used by nothing */
static void fma_sin_forward(int64_t n, const double *const *in, double *out)
{
    for (int64_t j = 0; j < n; j++)
        out[j] = in[0][j] * in[1][j] + sin(in[0][j]);
}
static void fma_sin_backward(int64_t n, const double *const *in, const double *out, const double *g,
                             double *const *gin)
{
    (void)out;
    for (int64_t j = 0; j < n; j++) {
        if (gin[0])
            gin[0][j] = g[j] * (in[1][j] + cos(in[0][j]));
        if (gin[1])
            gin[1][j] = g[j] * in[0][j];
    }
}
static const tg_function fma_sin = {.name = "fma_sin", .n_inputs = 2, .n_outputs = 1,
                                    .forward_span = fma_sin_forward, .backward_span = fma_sin_backward};

/* the same with callbacks, made of tensorgrad ops */
static tg_status fma_sin_ops_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    out[0] = tg_add(tg_mul(in[0], in[1]), tg_sin(in[0]));
    return out[0] ? tg_save_for_backward(ctx, 2, in) : tg_last_status();
}
static tg_status fma_sin_ops_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    tg_tensor *x = tg_saved_tensor(ctx, 0), *y = tg_saved_tensor(ctx, 1);
    if (tg_needs_input_grad(ctx, 0))
        gin[0] = tg_sum_to(tg_mul(g[0], tg_add(y, tg_cos(x))), tg_ndim(x), tg_shape(x));
    if (tg_needs_input_grad(ctx, 1))
        gin[1] = tg_sum_to(tg_mul(g[0], x), tg_ndim(y), tg_shape(y));
    return tg_last_status();
}
static const tg_function fma_sin_ops = {.name = "fma_sin_ops", .n_inputs = 2, .n_outputs = 1,
                                        .forward = fma_sin_ops_forward, .backward = fma_sin_ops_backward};

/* out = exp(x), backward from the output */
static void exp_forward(int64_t n, const double *const *in, double *out)
{
    for (int64_t j = 0; j < n; j++)
        out[j] = exp(in[0][j]);
}
static void exp_backward(int64_t n, const double *const *in, const double *out, const double *g,
                         double *const *gin)
{
    (void)in;
    for (int64_t j = 0; j < n; j++)
        gin[0][j] = g[j] * out[j];
}
static const tg_function span_exp = {.name = "span_exp", .n_inputs = 1, .n_outputs = 1,
                                     .forward_span = exp_forward, .backward_span = exp_backward};
static const tg_function span_exp_no_backward = {.name = "span_exp_no_backward", .n_inputs = 1,
                                                 .n_outputs = 1, .forward_span = exp_forward};

static tg_tensor *apply_fn(tg_tensor *const *in, void *user)
{
    return tg_apply1((const tg_function *)user, in);
}

/* The span and callback forms: same values and gradients for the shape pair. */
static void check_against_ops(int nda, const int64_t *sa, int ndb, const int64_t *sb)
{
    tg_scope_begin();
    tg_tensor *in[2] = {tgt_make(nda, sa, tgt_signed0, true), tgt_make(ndb, sb, tgt_signed1, true)};
    tg_tensor *ys = tg_apply1(&fma_sin, in);
    assert_non_null(ys);
    tg_tensor *w = tgt_make(tg_ndim(ys), tg_shape(ys), tgt_positive0, false);
    assert_status(TG_OK, tg_backward(tg_sum(tg_mul(ys, w)), NULL));
    tg_tensor *gs[2] = {tg_affine(tg_grad(in[0]), 1.0, 0.0), tg_affine(tg_grad(in[1]), 1.0, 0.0)};   /* copies */
    tg_zero_grad(in[0]);
    tg_zero_grad(in[1]);
    tg_tensor *yo = tg_apply1(&fma_sin_ops, in);
    assert_status(TG_OK, tg_backward(tg_sum(tg_mul(yo, w)), NULL));
    assert_int_equal(tg_ndim(ys), tg_ndim(yo));
    assert_memory_equal(tg_shape(ys), tg_shape(yo), (size_t)tg_ndim(ys) * sizeof(int64_t));
    assert_allclose("forward", tg_numel(ys), tg_data(ys), tg_data(yo), 1e-15, 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(tg_numel(gs[i]), tg_numel(in[i]));
        assert_allclose("gradient", tg_numel(gs[i]), tg_data(gs[i]), tg_data(tg_grad(in[i])), 1e-14, 1e-15);
    }
    assert_status(TG_OK, tg_gradcheck(apply_fn, 2, in, (void *)&fma_sin, 1e-6, 1e-7, 1e-6));
    tg_scope_end();
}

static void test_same_shape_matches_callback_form(void **state)
{
    (void)state;
    check_against_ops(1, (int64_t[]){7}, 1, (int64_t[]){7});
    check_against_ops(2, (int64_t[]){3, 4}, 2, (int64_t[]){3, 4});
}

static void test_broadcast_matches_callback_form(void **state)
{
    (void)state;
    check_against_ops(1, (int64_t[]){9}, 0, NULL);                     /* a 0-d operand */
    check_against_ops(0, NULL, 1, (int64_t[]){9});
    check_against_ops(2, (int64_t[]){3, 1}, 2, (int64_t[]){1, 4});     /* both broadcast */
    check_against_ops(1, (int64_t[]){4}, 3, (int64_t[]){2, 3, 4});
}

static void test_backward_reads_the_output(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = tgt_make(1, (int64_t[]){5}, tgt_signed0, true);
    assert_status(TG_OK, tg_gradcheck(apply_fn, 1, &x, (void *)&span_exp, 1e-6, 1e-8, 1e-6));
    assert_status(TG_OK, tg_backward(tg_sum(tg_apply1(&span_exp, &x)), NULL));
    for (int64_t j = 0; j < 5; j++)
        assert_allclose("exp'", 1, &tg_data(tg_grad(x))[j], (double[]){exp(tgt_signed0(j))}, 1e-15, 0);
    tg_scope_end();
}

static void test_only_wanted_gradients_are_computed(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = tgt_make(1, (int64_t[]){6}, tgt_signed0, true);
    tg_tensor *y = tgt_make(1, (int64_t[]){6}, tgt_signed1, false);
    assert_status(TG_OK, tg_backward(tg_sum(tg_apply1(&fma_sin, (tg_tensor *[]){x, y})), NULL));
    assert_non_null(tg_grad(x));
    assert_null(tg_grad(y));
    /* no input requires grad: no graph at all */
    tg_tensor *z = tg_apply1(&fma_sin, (tg_tensor *[]){y, y});
    assert_non_null(z);
    assert_false(tg_requires_grad(z));
    tg_scope_end();
}

static void test_empty_and_large_tensors(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *e = tg_zeros(1, (int64_t[]){0});
    tg_set_requires_grad(e, true);
    tg_tensor *ye = tg_apply1(&span_exp, &e);
    assert_non_null(ye);
    assert_int_equal(tg_numel(ye), 0);
    assert_status(TG_OK, tg_backward(tg_sum(ye), NULL));
    /* large enough to be split over threads: equal, bit for bit, at 1, 2 and 3 */
    int64_t n = 300001;
    tg_tensor *x = tgt_make(1, &n, tgt_signed0, true), *ref = NULL, *gref = NULL;
    int prev = tg_get_num_threads();
    for (int threads = 1; threads <= 3; threads++) {
        tg_set_num_threads(threads);
        tg_zero_grad(x);
        tg_tensor *y = tg_apply1(&span_exp, &x);
        assert_status(TG_OK, tg_backward(tg_sum(y), NULL));
        if (!ref) {
            ref = y, gref = tg_affine(tg_grad(x), 1.0, 0.0);
            for (int64_t j = 0; j < n; j += 9973)
                assert_allclose("exp", 1, &tg_data(y)[j], (double[]){exp(tgt_signed0(j))}, 0, 0);
        } else {
            assert_memory_equal(tg_data(y), tg_data(ref), (size_t)n * sizeof(double));
            assert_memory_equal(tg_data(tg_grad(x)), tg_data(gref), (size_t)n * sizeof(double));
        }
    }
    tg_set_num_threads(prev);
    tg_scope_end();
}

static void test_double_backward_is_refused_by_name(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = tgt_make(1, (int64_t[]){4}, tgt_signed0, true), *g, *g2;
    tg_tensor *y = tg_sum(tg_apply1(&span_exp, &x));
    tg_backward_opts create = {.create_graph = true};
    assert_status(TG_OK, tg_autograd_grad(1, &y, NULL, 1, &x, &g, &create));
    assert_allclose("exp' under create_graph", 1, tg_data(g), (double[]){exp(tgt_signed0(0))}, 1e-15, 0);
    tg_tensor *gs = tg_sum(g);
    assert_status(TG_ERR_STATE, tg_autograd_grad(1, &gs, NULL, 1, &x, &g2, NULL));
    assert_error(TG_ERR_STATE, "span_exp", "once_differentiable");
    tg_scope_end();
}

static void test_bad_vtables_and_shapes_are_refused(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = tgt_make(1, (int64_t[]){3}, tgt_signed0, true);
    tg_tensor *y = tgt_make(1, (int64_t[]){4}, tgt_signed1, true);
    assert_null(tg_apply1(&fma_sin, (tg_tensor *[]){x, y}));
    assert_error(TG_ERR_SHAPE, "fma_sin", "[3]", "[4]");
    tg_function both = span_exp;
    both.forward = fma_sin_ops_forward;
    assert_null(tg_apply1(&both, &x));
    assert_error(TG_ERR_ARG, "span_exp", "span kernels");
    tg_function two = span_exp;
    two.n_outputs = 2;
    tg_tensor *out[2];
    assert_status(TG_ERR_ARG, tg_apply(&two, &x, out));
    assert_error(TG_ERR_ARG, "span_exp", "one output");
    tg_tensor *z = tg_sum(tg_apply1(&span_exp_no_backward, &x));
    assert_non_null(z);
    assert_status(TG_ERR_STATE, tg_backward(z, NULL));
    assert_error(TG_ERR_STATE, "span_exp_no_backward", "no backward");
    assert_null(tg_grad(x));
    tg_scope_end();
}

static void test_empty_leaves_data_for_the_caller(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *t = tg_empty(2, (int64_t[]){2, 3});
    assert_non_null(t);
    assert_int_equal(tg_numel(t), 6);
    assert_false(tg_requires_grad(t));
    assert_null(tg_empty(1, (int64_t[]){-1}));
    assert_error(TG_ERR_ARG, "tg_empty");
    assert_null(tg_empty(9, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1}));
    assert_error(TG_ERR_ARG, "tg_empty");
    tg_scope_end();
}

int main(void)
{
    tgt_warm_scopes();
    const struct CMUnitTest tests[] = {
        tgt_test(test_same_shape_matches_callback_form),
        tgt_test(test_broadcast_matches_callback_form),
        tgt_test(test_backward_reads_the_output),
        tgt_test(test_only_wanted_gradients_are_computed),
        tgt_test(test_empty_and_large_tensors),
        tgt_test(test_double_backward_is_refused_by_name),
        tgt_test(test_bad_vtables_and_shapes_are_refused),
        tgt_test(test_empty_leaves_data_for_the_caller),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
