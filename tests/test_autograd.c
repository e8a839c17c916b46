/* SPDX-License-Identifier: MIT */
/*
** The graph executor and the user-Function path: accumulation, retained and
** freed graphs, create_graph, no-grad mode, needs_input_grad, saved inputs and
** outputs, multi-output Functions, the errors tg_apply and tg_backward
** document, and memory that stays flat over a training loop.
*/
#include "support.h"
#include "core/internal.h"

#include <math.h>
#include <string.h>

static tg_tensor *leaf(int ndim, const int64_t *shape, double start, double step)
{
    tg_tensor *t = tg_zeros(ndim, shape);
    for (int64_t i = 0; i < tg_numel(t); i++)
        tg_data(t)[i] = start + step * (double)i;
    tg_set_requires_grad(t, true);
    return t;
}

/* ---------------------------------------------------------- executor */

static void test_gradients_accumulate_until_zero_grad(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = leaf(0, NULL, 3.0, 0);
    for (int i = 0; i < 2; i++)
        assert_status(TG_OK, tg_backward(tg_mul(x, x), NULL));
    assert_true(tg_item(tg_grad(x)) == 12.0);   /* 2 * (2x) */
    tg_zero_grad(x);
    assert_null(tg_grad(x));
    tg_scope_end();
}

static void test_broadcast_gradient_has_input_shape(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *a = leaf(2, (int64_t[]){2, 3}, 1.0, 1.0), *b = leaf(1, (int64_t[]){3}, 0.5, 0.25);
    assert_status(TG_OK, tg_backward(tg_sum(tg_mul(a, b)), NULL));
    tg_tensor *gb = tg_grad(b);
    assert_int_equal(tg_ndim(gb), 1);
    assert_int_equal(tg_shape(gb)[0], 3);
    double expect[3] = {1 + 4, 2 + 5, 3 + 6};
    assert_allclose("grad b", 3, tg_data(gb), expect, 0, 0);
    tg_scope_end();
}

static void test_second_backward_without_retain_is_state_error(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = leaf(1, (int64_t[]){4}, 0.5, 0.1);
    tg_tensor *loss = tg_sum(tg_exp(x));
    assert_status(TG_OK, tg_backward(loss, NULL));
    assert_status(TG_ERR_STATE, tg_backward(loss, NULL));
    assert_error(TG_ERR_STATE, "retain_graph");
    tg_scope_end();
}

static void test_retained_graph_walks_twice(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = leaf(1, (int64_t[]){4}, 0.5, 0.1);
    tg_tensor *loss = tg_sum(tg_exp(x));
    tg_backward_opts keep = {.retain_graph = true};
    assert_status(TG_OK, tg_backward(loss, &keep));
    assert_status(TG_OK, tg_backward(loss, NULL));
    for (int i = 0; i < 4; i++)
        assert_allclose("2 exp(x)", 1, &tg_data(tg_grad(x))[i], (double[]){2 * exp(0.5 + 0.1 * i)}, 1e-15, 0);
    tg_scope_end();
}

static void test_backward_errors(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *c = tg_scalar(1.0);
    assert_status(TG_ERR_STATE, tg_backward(tg_exp(c), NULL));
    assert_error(TG_ERR_STATE, "tg_backward");
    assert_status(TG_ERR_ARG, tg_backward(NULL, NULL));
    assert_error(TG_ERR_ARG, "tg_backward");
    tg_tensor *x = leaf(1, (int64_t[]){3}, 1.0, 1.0);
    tg_tensor *y = tg_exp(x);
    assert_status(TG_ERR_SHAPE, tg_backward(y, NULL));
    assert_error(TG_ERR_SHAPE, "[3]");
    tg_backward_opts wrong = {.grad = tg_zeros(1, (int64_t[]){2})};
    assert_status(TG_ERR_SHAPE, tg_backward(y, &wrong));
    assert_error(TG_ERR_SHAPE, "[2]");
    tg_backward_opts right = {.grad = tg_full(1, (int64_t[]){3}, 2.0)};
    assert_status(TG_OK, tg_backward(y, &right));
    assert_allclose("2 exp(x)", 1, tg_data(tg_grad(x)), (double[]){2 * exp(1.0)}, 1e-15, 0);
    tg_scope_end();
}

static void test_no_grad_mode_records_nothing(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = leaf(0, NULL, 2.0, 0);
    assert_true(tg_is_grad_enabled());
    bool prev = tg_set_grad_enabled(false);
    assert_true(prev);
    tg_tensor *y = tg_mul(x, x);
    assert_false(tg_requires_grad(y));
    assert_true(tg_set_grad_enabled(prev) == false);
    assert_true(tg_requires_grad(tg_mul(x, x)));
    tg_scope_end();
}

static void test_requires_grad_only_on_leaves(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = leaf(0, NULL, 2.0, 0);
    assert_int_equal(tg_set_requires_grad(tg_exp(x), false), TG_ERR_STATE);
    assert_error(TG_ERR_STATE, "tg_set_requires_grad");
    assert_int_equal(tg_set_requires_grad(NULL, true), TG_ERR_ARG);
    assert_error(TG_ERR_ARG, "tg_set_requires_grad");
    tg_scope_end();
}

static void test_autograd_grad_leaves_tg_grad_alone(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = leaf(0, NULL, 2.0, 0), *unused = leaf(0, NULL, 5.0, 0);
    tg_tensor *y = tg_pow(x, 3.0), *g[2];
    tg_backward_opts create = {.create_graph = true};
    assert_status(TG_OK, tg_autograd_grad(1, &y, NULL, 2, (tg_tensor *[]){x, unused}, g, &create));
    assert_null(tg_grad(x));
    assert_true(tg_item(g[0]) == 12.0);   /* 3x^2 */
    assert_true(tg_item(g[1]) == 0.0);    /* y does not depend on it */
    tg_tensor *g2;
    assert_status(TG_OK, tg_autograd_grad(1, &g[0], NULL, 1, &x, &g2, NULL));
    assert_true(tg_item(g2) == 12.0);     /* 6x */
    tg_scope_end();
}

static void test_create_graph_gives_differentiable_leaf_grads(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = leaf(0, NULL, 1.5, 0);
    tg_backward_opts create = {.create_graph = true};
    assert_status(TG_OK, tg_backward(tg_mul(tg_sin(x), x), &create));
    tg_tensor *g = tg_grad(x);   /* d/dx = cos(x) x + sin(x), with its graph */
    assert_true(tg_requires_grad(g));
    tg_tensor *g2;
    assert_status(TG_OK, tg_autograd_grad(1, &g, NULL, 1, &x, &g2, NULL));
    double expect = -sin(1.5) * 1.5 + 2 * cos(1.5);
    assert_allclose("d2/dx2 x sin x", 1, tg_data(g2), &expect, 1e-14, 0);
    tg_zero_grad(x);   /* the grad's graph holds no cycle through x: LeakSanitizer checks */
    tg_scope_end();
}

static void test_deep_chain_does_not_recurse(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = leaf(0, NULL, 1.0, 0), *y = x;
    for (int i = 0; i < 200000; i++)
        y = tg_affine(y, 1.0, 0.0);
    assert_status(TG_OK, tg_backward(y, NULL));
    assert_true(tg_item(tg_grad(x)) == 1.0);
    tg_scope_end();
}

/* ---------------------------------------------------- user Functions */

static int backward_calls, asked_for[2];

/* forward: z = x * y^2  =>  dx = dz * y^2, dy = dz * 2 x y */
static tg_status xy2_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    out[0] = tg_mul(in[0], tg_mul(in[1], in[1]));
    return out[0] ? tg_save_for_backward(ctx, 2, in) : tg_last_status();
}
static tg_status xy2_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    tg_tensor *x = tg_saved_tensor(ctx, 0), *y = tg_saved_tensor(ctx, 1);
    backward_calls++;
    for (int i = 0; i < 2; i++)
        asked_for[i] += tg_needs_input_grad(ctx, i);
    if (tg_needs_input_grad(ctx, 0))
        gin[0] = tg_mul(g[0], tg_mul(y, y));
    if (tg_needs_input_grad(ctx, 1))
        gin[1] = tg_mul(g[0], tg_affine(tg_mul(x, y), 2.0, 0.0));
    return TG_OK;
}
static const tg_function xy2 = {.name = "xy2", .n_inputs = 2, .n_outputs = 1,
                                .forward = xy2_forward, .backward = xy2_backward};

static tg_tensor *apply_xy2(tg_tensor *const *in, void *user)
{
    (void)user;
    return tg_apply1(&xy2, in);
}

static void test_user_function_two_inputs_and_needs_input_grad(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = leaf(1, (int64_t[]){3}, 1.0, 0.5), *y = tg_full(1, (int64_t[]){3}, 2.0);
    backward_calls = asked_for[0] = asked_for[1] = 0;
    assert_status(TG_OK, tg_backward(tg_sum(apply_xy2((tg_tensor *[]){x, y}, NULL)), NULL));
    assert_int_equal(backward_calls, 1);
    assert_int_equal(asked_for[0], 1);
    assert_int_equal(asked_for[1], 0);    /* y does not require grad */
    assert_null(tg_grad(y));
    for (int i = 0; i < 3; i++)
        assert_true(tg_data(tg_grad(x))[i] == 4.0);
    tg_set_requires_grad(y, true);
    assert_status(TG_OK, tg_gradcheck(apply_xy2, 2, (tg_tensor *[]){x, y}, NULL, 1e-6, 1e-8, 1e-6));
    assert_status(TG_OK, tg_gradgradcheck(apply_xy2, 2, (tg_tensor *[]){x, y}, NULL, 1e-6, 1e-7, 1e-5));
    tg_scope_end();
}

/* forward: y = exp(x), saving its output  =>  dx = dy * y */
static tg_status myexp_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    out[0] = tg_exp(in[0]);
    return out[0] ? tg_save_for_backward(ctx, 1, out) : tg_last_status();
}
static tg_status myexp_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    gin[0] = tg_mul(g[0], tg_saved_tensor(ctx, 0));
    return gin[0] ? TG_OK : tg_last_status();
}
static const tg_function myexp = {.name = "myexp", .n_inputs = 1, .n_outputs = 1,
                                  .forward = myexp_forward, .backward = myexp_backward};

static tg_tensor *apply_myexp(tg_tensor *const *in, void *user)
{
    (void)user;
    return tg_apply1(&myexp, in);
}

static void test_user_function_saving_output_double_backward(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = leaf(2, (int64_t[]){2, 2}, -0.5, 0.4);
    assert_status(TG_OK, tg_gradcheck(apply_myexp, 1, &x, NULL, 1e-6, 1e-8, 1e-6));
    assert_status(TG_OK, tg_gradgradcheck(apply_myexp, 1, &x, NULL, 1e-6, 1e-8, 1e-6));
    tg_scope_end();
}

/* forward: raw loop; backward: raw loop that does not record (once differentiable) */
static tg_status raw_cube_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    out[0] = tg_zeros(tg_ndim(in[0]), tg_shape(in[0]));
    for (int64_t i = 0; out[0] && i < tg_numel(in[0]); i++)
        tg_data(out[0])[i] = pow(tg_data(in[0])[i], 3);
    return out[0] ? tg_save_for_backward(ctx, 1, in) : tg_last_status();
}
static tg_status raw_cube_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    tg_tensor *x = tg_saved_tensor(ctx, 0);
    gin[0] = tg_zeros(tg_ndim(x), tg_shape(x));
    for (int64_t i = 0; gin[0] && i < tg_numel(x); i++)
        tg_data(gin[0])[i] = tg_data(g[0])[i] * 3 * tg_data(x)[i] * tg_data(x)[i];
    return gin[0] ? TG_OK : tg_last_status();
}
static const tg_function raw_cube = {.name = "raw_cube", .n_inputs = 1, .n_outputs = 1,
                                     .forward = raw_cube_forward, .backward = raw_cube_backward};

static tg_tensor *apply_raw_cube(tg_tensor *const *in, void *user)
{
    (void)user;
    return tg_apply1(&raw_cube, in);
}

static void test_gradgradcheck_catches_non_differentiable_backward(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = leaf(1, (int64_t[]){3}, 0.5, 0.25);
    assert_status(TG_OK, tg_gradcheck(apply_raw_cube, 1, &x, NULL, 1e-6, 1e-8, 1e-6));
    assert_status(TG_ERR_NUMERIC, tg_gradgradcheck(apply_raw_cube, 1, &x, NULL, 1e-6, 1e-8, 1e-6));
    assert_error(TG_ERR_NUMERIC, "tg_gradgradcheck");
    tg_scope_end();
}

/* backward off by a factor: gradcheck must notice */
static tg_status wrong_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    tg_tensor *x = tg_saved_tensor(ctx, 0);
    gin[0] = tg_mul(g[0], tg_affine(tg_mul(x, x), 3.3, 0.0));
    return TG_OK;
}
static const tg_function wrong_cube = {.name = "wrong_cube", .n_inputs = 1, .n_outputs = 1,
                                       .forward = raw_cube_forward, .backward = wrong_backward};
static tg_tensor *apply_wrong_cube(tg_tensor *const *in, void *user)
{
    (void)user;
    return tg_apply1(&wrong_cube, in);
}

static void test_gradcheck_catches_wrong_backward(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = leaf(1, (int64_t[]){3}, 0.5, 0.25);
    assert_status(TG_ERR_NUMERIC, tg_gradcheck(apply_wrong_cube, 1, &x, NULL, 1e-6, 1e-8, 1e-6));
    assert_error(TG_ERR_NUMERIC, "input 0");
    assert_status(TG_ERR_ARG, tg_gradcheck(apply_wrong_cube, 1, &x, NULL, 0.0, 1e-8, 1e-6));
    assert_error(TG_ERR_ARG, "eps");
    tg_tensor *c = tg_scalar(1.0);
    assert_status(TG_ERR_ARG, tg_gradcheck(apply_wrong_cube, 1, &c, NULL, 1e-6, 1e-8, 1e-6));
    assert_error(TG_ERR_ARG, "no input requires grad");
    tg_scope_end();
}

/* two outputs: (sin x, cos x) */
static tg_status sincos_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    out[0] = tg_sin(in[0]);
    out[1] = tg_cos(in[0]);
    return tg_save_for_backward(ctx, 1, in);
}
static tg_status sincos_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    tg_tensor *x = tg_saved_tensor(ctx, 0);
    gin[0] = tg_sub(tg_mul(g[0], tg_cos(x)), tg_mul(g[1], tg_sin(x)));
    return gin[0] ? TG_OK : tg_last_status();
}
static const tg_function sincos = {.name = "sincos", .n_inputs = 1, .n_outputs = 2,
                                   .forward = sincos_forward, .backward = sincos_backward};

static void test_unused_output_gets_zero_gradient(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = leaf(0, NULL, 0.7, 0), *out[2];
    assert_status(TG_OK, tg_apply(&sincos, &x, out));
    assert_status(TG_OK, tg_backward(out[1], NULL));   /* only cos is used */
    assert_allclose("d cos", 1, tg_data(tg_grad(x)), (double[]){-sin(0.7)}, 1e-15, 0);
    assert_null(tg_apply1(&sincos, &x));
    assert_error(TG_ERR_ARG, "tg_apply1");
    tg_scope_end();
}

/* identity that returns its input and passes the gradient straight through */
static tg_status ident_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    (void)ctx;
    out[0] = in[0];
    return TG_OK;
}
static tg_status ident_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    (void)ctx;
    gin[0] = g[0];
    return TG_OK;
}
static const tg_function ident = {.name = "ident", .n_inputs = 1, .n_outputs = 1,
                                  .forward = ident_forward, .backward = ident_backward};

static void test_forward_returning_its_input_gets_a_view(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = leaf(1, (int64_t[]){2}, 1.0, 1.0);
    tg_tensor *y = tg_apply1(&ident, &x);
    assert_non_null(y);
    assert_true(y != x);
    assert_true(tg_data(y) == tg_data(x));
    assert_status(TG_OK, tg_backward(tg_sum(y), NULL));
    assert_true(tg_data(tg_grad(x))[1] == 1.0);
    tg_scope_end();
}

static tg_status bad_shape_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    (void)ctx;
    (void)g;
    gin[0] = tg_zeros(1, (int64_t[]){5});
    return TG_OK;
}
static const tg_function bad_shape = {.name = "bad_shape", .n_inputs = 1, .n_outputs = 1,
                                      .forward = ident_forward, .backward = bad_shape_backward};

static tg_status null_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    (void)ctx;
    (void)in;
    (void)out;
    return TG_OK;
}
static const tg_function null_output = {.name = "null_output", .n_inputs = 1, .n_outputs = 1,
                                        .forward = null_forward};

static tg_status failing_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    (void)ctx;
    out[0] = tg_exp(in[0]);   /* made, then the forward fails: the engine frees it */
    return tg_set_error(TG_ERR_NUMERIC, "failing: refused");
}
static const tg_function failing = {.name = "failing", .n_inputs = 1, .n_outputs = 1,
                                    .forward = failing_forward};

static tg_status save_late(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    (void)gin;
    tg_save_for_backward(ctx, 1, g);
    return tg_last_status();
}
static const tg_function saves_in_backward = {.name = "saves_in_backward", .n_inputs = 1, .n_outputs = 1,
                                              .forward = ident_forward, .backward = save_late};

static void test_apply_and_backward_errors_name_the_function(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = leaf(1, (int64_t[]){2}, 1.0, 1.0), *out[1];
    assert_status(TG_ERR_SHAPE, tg_backward(tg_sum(tg_apply1(&bad_shape, &x)), NULL));
    assert_error(TG_ERR_SHAPE, "bad_shape");
    assert_null(tg_grad(x));   /* a failed backward adds nothing */
    assert_null(tg_apply1(&null_output, &x));
    assert_error(TG_ERR_ARG, "null_output");
    assert_status(TG_ERR_NUMERIC, tg_apply(&failing, &x, out));
    assert_null(out[0]);
    assert_error(TG_ERR_NUMERIC, "refused");
    assert_status(TG_ERR_STATE, tg_backward(tg_sum(tg_apply1(&saves_in_backward, &x)), NULL));
    assert_error(TG_ERR_STATE, "outside forward");
    assert_null(tg_apply1(&ident, (tg_tensor *[]){NULL}));
    assert_error(TG_ERR_ARG, "input 0");
    assert_null(tg_apply1(NULL, &x));
    assert_error(TG_ERR_ARG, "tg_apply");
    tg_function no_inputs = ident;
    no_inputs.n_inputs = 0;
    assert_status(TG_ERR_ARG, tg_apply(&no_inputs, &x, out));
    assert_error(TG_ERR_ARG, "ident");
    assert_null(tg_saved_tensor(NULL, 0));
    assert_error(TG_ERR_ARG, "tg_saved_tensor");
    assert_int_equal(tg_save_for_backward(NULL, 0, NULL), TG_ERR_ARG);
    assert_error(TG_ERR_ARG, "tg_save_for_backward");
    tg_scope_end();
}

static tg_status peek_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    out[0] = tg_exp(in[0]);
    return tg_save_for_backward(ctx, 1, in);
}
static tg_status peek_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    assert_null(tg_saved_tensor(ctx, 3));
    assert_error(TG_ERR_ARG, "index 3");
    gin[0] = tg_mul(g[0], tg_exp(tg_saved_tensor(ctx, 0)));
    return TG_OK;
}
static const tg_function peek = {.name = "peek", .n_inputs = 1, .n_outputs = 1,
                                 .forward = peek_forward, .backward = peek_backward};

static void test_saved_tensor_index_out_of_range(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = leaf(0, NULL, 1.0, 0);
    assert_status(TG_OK, tg_backward(tg_apply1(&peek, &x), NULL));
    assert_allclose("exp'", 1, tg_data(tg_grad(x)), (double[]){exp(1.0)}, 1e-15, 0);
    tg_scope_end();
}

/* ------------------------------------------------------------ memory */

static double train_step(tg_tensor *const *p, tg_tensor *x, tg_tensor *y)
{
    tg_scope_begin();
    tg_tensor *pred = tg_add(p[0], tg_mul(p[1], tg_legendre(tg_add(p[2], tg_mul(p[3], x)), 3)));
    tg_tensor *loss = tg_sum(tg_pow(tg_sub(pred, y), 2.0));
    double l = tg_item(loss);
    assert_status(TG_OK, tg_backward(loss, NULL));
    for (int i = 0; i < 4; i++) {
        tg_data(p[i])[0] -= 5e-6 * tg_item(tg_grad(p[i]));
        tg_zero_grad(p[i]);
    }
    tg_scope_end();
    return l;
}

static void test_training_loop_in_scopes_holds_flat_memory_and_allocates_nothing(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = tg_linspace(-M_PI, M_PI, 2000), *y = tg_sin(x);
    tg_tensor *p[4] = {leaf(0, NULL, 0, 0), leaf(0, NULL, -1, 0), leaf(0, NULL, 0, 0), leaf(0, NULL, 0.3, 0)};
    train_step(p, x, y);
    int64_t after_first = tg__alloc_live(), calls = tg__alloc_system_calls();
    double first = 0, last = 0;
    for (int t = 1; t < 2000; t++) {
        last = train_step(p, x, y);
        if (t == 1)
            first = last;
        assert_int_equal(tg__alloc_live(), after_first);
        assert_int_equal(tg__alloc_system_calls(), calls);   /* zero allocations per step */
    }
    assert_true(last < first);
    tg_scope_end();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradients_accumulate_until_zero_grad),
        cmocka_unit_test(test_broadcast_gradient_has_input_shape),
        cmocka_unit_test(test_second_backward_without_retain_is_state_error),
        cmocka_unit_test(test_retained_graph_walks_twice),
        cmocka_unit_test(test_backward_errors),
        cmocka_unit_test(test_no_grad_mode_records_nothing),
        cmocka_unit_test(test_requires_grad_only_on_leaves),
        cmocka_unit_test(test_autograd_grad_leaves_tg_grad_alone),
        cmocka_unit_test(test_create_graph_gives_differentiable_leaf_grads),
        cmocka_unit_test(test_deep_chain_does_not_recurse),
        cmocka_unit_test(test_user_function_two_inputs_and_needs_input_grad),
        cmocka_unit_test(test_user_function_saving_output_double_backward),
        cmocka_unit_test(test_gradgradcheck_catches_non_differentiable_backward),
        cmocka_unit_test(test_gradcheck_catches_wrong_backward),
        cmocka_unit_test(test_unused_output_gets_zero_gradient),
        cmocka_unit_test(test_forward_returning_its_input_gets_a_view),
        cmocka_unit_test(test_apply_and_backward_errors_name_the_function),
        cmocka_unit_test(test_saved_tensor_index_out_of_range),
        cmocka_unit_test(test_training_loop_in_scopes_holds_flat_memory_and_allocates_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
