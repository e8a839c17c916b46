/* SPDX-License-Identifier: MIT */
/*
** Double backward that cannot be silently wrong: the engine knows whether a
** saved tensor is an input, an output or an intermediate, refuses to
** differentiate through an intermediate that carries no graph, and guards the
** gradients of once-differentiable Functions.  The safe forms agree with
** finite differences to second order.
*/
#include "support.h"
#include "autograd/graph.h"

#include <math.h>
#include <string.h>

static tg_tensor *leaf_points(void)
{
    tg_tensor *x = tg_linspace(-1.2, 0.9, 5);
    tg_set_requires_grad(x, true);
    return x;
}

/* forward: y = (e^x - e^-x) / 2 with e = exp(x) saved  =>  dx = dy * (e + 1/e) / 2 */
static tg_tensor *sinh_from(tg_tensor *e)
{
    return tg_affine(tg_sub(e, tg_pow(e, -1.0)), 0.5, 0.0);
}
static tg_status sinh_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    tg_tensor *e = tg_saved_tensor(ctx, 0);
    gin[0] = e ? tg_mul(g[0], tg_affine(tg_add(e, tg_pow(e, -1.0)), 0.5, 0.0)) : NULL;
    return gin[0] ? TG_OK : tg_last_status();
}
/* the intermediate computed with recording off: no graph behind it */
static tg_status sinh_once_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    tg_tensor *e = tg_exp(in[0]);
    out[0] = sinh_from(e);
    return out[0] ? tg_save_for_backward(ctx, 1, &e) : tg_last_status();
}
/* the same, computed with recording on: the engine can differentiate it */
static tg_status sinh_safe_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    bool prev = tg_set_grad_enabled(true);
    tg_tensor *e = tg_exp(in[0]);
    tg_set_grad_enabled(prev);
    out[0] = sinh_from(e);
    return out[0] ? tg_save_for_backward(ctx, 1, &e) : tg_last_status();
}
static const tg_function sinh_safe = {.name = "sinh_safe", .n_inputs = 1, .n_outputs = 1,
                                      .forward = sinh_safe_forward, .backward = sinh_backward};
static const tg_function sinh_once = {.name = "sinh_once", .n_inputs = 1, .n_outputs = 1,
                                      .forward = sinh_once_forward, .backward = sinh_backward,
                                      .once_differentiable = true};

static tg_tensor *apply_fn(tg_tensor *const *in, void *user)
{
    return tg_apply1((const tg_function *)user, in);
}

/* PyTorch's double-backward tutorial, "saving intermediate results", written
** naively: e^x and e^-x made with recording off and saved; the backward has no
** NULL check.  forward: y = (e^x - e^-x) / 2  =>  dx = dy * (e^x + e^-x) / 2 */
static tg_status sinh_naive_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    tg_tensor *saved[2] = {tg_exp(in[0]), tg_exp(tg_neg(in[0]))};
    out[0] = tg_affine(tg_sub(saved[0], saved[1]), 0.5, 0.0);
    return out[0] ? tg_save_for_backward(ctx, 2, saved) : tg_last_status();
}
static tg_status sinh_naive_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    gin[0] = tg_mul(g[0], tg_affine(tg_add(tg_saved_tensor(ctx, 0), tg_saved_tensor(ctx, 1)), 0.5, 0.0));
    return TG_OK;
}
static const tg_function sinh_naive = {.name = "sinh_naive", .n_inputs = 1, .n_outputs = 1,
                                       .forward = sinh_naive_forward, .backward = sinh_naive_backward};

/* The careful form of the tutorial: the intermediates are outputs too, so a
** double backward reaches x through them.
** forward: y = (e^x - e^-x) / 2, u = e^x, v = e^-x
**   =>  dx = dy * (u + v) / 2 + du * u - dv * v */
static tg_status sinh_careful_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    out[1] = tg_exp(in[0]);
    out[2] = tg_exp(tg_neg(in[0]));
    out[0] = tg_affine(tg_sub(out[1], out[2]), 0.5, 0.0);
    return out[0] ? tg_save_for_backward(ctx, 2, &out[1]) : tg_last_status();
}
static tg_status sinh_careful_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    tg_tensor *u = tg_saved_tensor(ctx, 0), *v = tg_saved_tensor(ctx, 1);
    tg_tensor *d = tg_mul(g[0], tg_affine(tg_add(u, v), 0.5, 0.0));
    d = tg_add(d, tg_sub(tg_mul(g[1], u), tg_mul(g[2], v)));
    gin[0] = d;
    return d ? TG_OK : tg_last_status();
}
static const tg_function sinh_careful = {.name = "sinh_careful", .n_inputs = 1, .n_outputs = 3,
                                         .forward = sinh_careful_forward,
                                         .backward = sinh_careful_backward};

static tg_tensor *apply_careful(tg_tensor *const *in, void *user)
{
    tg_tensor *out[3];
    (void)user;
    return tg_apply(&sinh_careful, in, out) == TG_OK ? out[0] : NULL;
}

static void test_naive_saved_intermediates_first_derivative_right_second_refused(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = leaf_points(), *g = NULL, *g2 = NULL;
    tg_backward_opts create = {.create_graph = true};
    tg_tensor *y = tg_sum(tg_apply1(&sinh_naive, &x));
    assert_status(TG_OK, tg_autograd_grad(1, &y, NULL, 1, &x, &g, &create));
    for (int64_t i = 0; i < 5; i++)
        assert_allclose("sinh' with the intermediates as constants", 1, &tg_data(g)[i],
                        (double[]){cosh(tg_data(x)[i])}, 1e-14, 0);
    tg_tensor *gs = tg_sum(g);
    assert_status(TG_ERR_STATE, tg_autograd_grad(1, &gs, NULL, 1, &x, &g2, NULL));
    assert_error(TG_ERR_STATE, "sinh_naive", "slot", "as an output");
    assert_null(g2);
    void *fn = (void *)&sinh_naive;
    assert_status(TG_OK, tg_gradcheck(apply_fn, 1, &x, fn, 1e-6, 1e-8, 1e-6));
    assert_status(TG_ERR_STATE, tg_gradgradcheck(apply_fn, 1, &x, fn, 1e-6, 1e-8, 1e-6));
    assert_error(TG_ERR_STATE, "sinh_naive");
    /* the first-order backward into x itself is right too */
    assert_status(TG_OK, tg_backward(tg_sum(tg_apply1(&sinh_naive, &x)), &create));
    assert_allclose("sinh' by tg_backward", 1, tg_data(tg_grad(x)), (double[]){cosh(-1.2)}, 1e-14, 0);
    tg_scope_end();
}

static void test_careful_intermediates_as_outputs_double_backward_is_right(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = leaf_points(), *g = NULL, *g2 = NULL;
    assert_status(TG_OK, tg_gradcheck(apply_careful, 1, &x, NULL, 1e-6, 1e-8, 1e-6));
    assert_status(TG_OK, tg_gradgradcheck(apply_careful, 1, &x, NULL, 1e-6, 1e-8, 1e-6));
    tg_backward_opts create = {.create_graph = true};
    tg_tensor *y = tg_sum(apply_careful(&x, NULL));
    assert_status(TG_OK, tg_autograd_grad(1, &y, NULL, 1, &x, &g, &create));
    tg_tensor *gs = tg_sum(g);
    assert_status(TG_OK, tg_autograd_grad(1, &gs, NULL, 1, &x, &g2, NULL));
    for (int64_t i = 0; i < 5; i++) {
        double xi = tg_data(x)[i];
        assert_allclose("sinh'", 1, &tg_data(g)[i], (double[]){cosh(xi)}, 1e-14, 0);
        assert_allclose("sinh''", 1, &tg_data(g2)[i], (double[]){sinh(xi)}, 1e-13, 1e-15);
    }
    tg_scope_end();
}

/* forward: y = x  =>  dx = dy, written with an op that fails, returning TG_OK anyway */
static tg_status broken_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    (void)ctx;
    out[0] = tg_affine(in[0], 1.0, 0.0);
    return out[0] ? TG_OK : tg_last_status();
}
static tg_status broken_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    (void)ctx;
    gin[0] = tg_add(g[0], tg_zeros(1, (int64_t[]){2}));   /* [5] + [2]: TG_ERR_SHAPE, NULL */
    return TG_OK;
}
static const tg_function broken = {.name = "broken", .n_inputs = 1, .n_outputs = 1,
                                   .forward = broken_forward, .backward = broken_backward};

static void test_op_failing_inside_backward_fails_the_whole_backward(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = leaf_points(), *g = (tg_tensor *)&g;
    tg_tensor *y = tg_sum(tg_apply1(&broken, &x));
    assert_status(TG_ERR_SHAPE, tg_autograd_grad(1, &y, NULL, 1, &x, &g, &(tg_backward_opts){.retain_graph = true}));
    assert_error(TG_ERR_SHAPE, "tg_autograd_grad", "broken", "tg_add");
    assert_status(TG_ERR_SHAPE, tg_backward(y, NULL));
    assert_error(TG_ERR_SHAPE, "tg_backward", "broken");
    assert_null(tg_grad(x));
    tg_scope_end();
}

static void test_saved_intermediate_with_graph_double_backward_is_right(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = leaf_points();
    void *fn = (void *)&sinh_safe;
    assert_status(TG_OK, tg_gradcheck(apply_fn, 1, &x, fn, 1e-6, 1e-8, 1e-6));
    assert_status(TG_OK, tg_gradgradcheck(apply_fn, 1, &x, fn, 1e-6, 1e-8, 1e-6));
    tg_tensor *y = tg_sum(tg_apply1(&sinh_safe, &x)), *g, *g2;
    tg_backward_opts create = {.create_graph = true};
    assert_status(TG_OK, tg_autograd_grad(1, &y, NULL, 1, &x, &g, &create));
    tg_tensor *gs = tg_sum(g);
    assert_status(TG_OK, tg_autograd_grad(1, &gs, NULL, 1, &x, &g2, NULL));
    for (int64_t i = 0; i < 5; i++) {
        double xi = tg_data(x)[i], want[2] = {cosh(xi), sinh(xi)};
        assert_allclose("sinh'", 1, &tg_data(g)[i], &want[0], 1e-14, 0);
        assert_allclose("sinh''", 1, &tg_data(g2)[i], &want[1], 1e-13, 1e-15);
    }
    tg_scope_end();
}

static void test_once_differentiable_first_order_works_second_is_refused(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = leaf_points();
    void *fn = (void *)&sinh_once;
    assert_status(TG_OK, tg_gradcheck(apply_fn, 1, &x, fn, 1e-6, 1e-8, 1e-6));
    tg_tensor *y = tg_sum(tg_apply1(&sinh_once, &x)), *g, *g2;
    tg_backward_opts create = {.create_graph = true};
    assert_status(TG_OK, tg_autograd_grad(1, &y, NULL, 1, &x, &g, &create));
    assert_allclose("sinh' under create_graph", 1, tg_data(g), (double[]){cosh(-1.2)}, 1e-14, 0);
    assert_true(tg_requires_grad(g));   /* guarded, not a silent constant */
    tg_tensor *gs = tg_sum(g);
    assert_status(TG_ERR_STATE, tg_autograd_grad(1, &gs, NULL, 1, &x, &g2, NULL));
    assert_error(TG_ERR_STATE, "sinh_once");
    assert_status(TG_ERR_STATE, tg_gradgradcheck(apply_fn, 1, &x, fn, 1e-6, 1e-8, 1e-6));
    assert_error(TG_ERR_STATE, "once_differentiable");
    tg_scope_end();
}

/* forward: y = x^2 saving its input  =>  dx = dy * 2x */
static tg_status square_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    out[0] = tg_mul(in[0], in[0]);
    return out[0] ? tg_save_for_backward(ctx, 1, in) : tg_last_status();
}
static tg_status square_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    gin[0] = tg_mul(g[0], tg_affine(tg_saved_tensor(ctx, 0), 2.0, 0.0));
    return gin[0] ? TG_OK : tg_last_status();
}
static const tg_function square = {.name = "square", .n_inputs = 1, .n_outputs = 1,
                                   .forward = square_forward, .backward = square_backward};

/* forward: y = exp(x) saving its output  =>  dx = dy * y */
static tg_status exp_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    out[0] = tg_exp(in[0]);
    return out[0] ? tg_save_for_backward(ctx, 1, out) : tg_last_status();
}
static tg_status exp_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    gin[0] = tg_mul(g[0], tg_saved_tensor(ctx, 0));
    return gin[0] ? TG_OK : tg_last_status();
}
static const tg_function my_exp = {.name = "my_exp", .n_inputs = 1, .n_outputs = 1,
                                   .forward = exp_forward, .backward = exp_backward};

static void test_saved_inputs_and_outputs_are_safe_to_double_backward(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = leaf_points();
    assert_status(TG_OK, tg_gradgradcheck(apply_fn, 1, &x, (void *)&square, 1e-6, 1e-8, 1e-6));
    assert_status(TG_OK, tg_gradgradcheck(apply_fn, 1, &x, (void *)&my_exp, 1e-6, 1e-8, 1e-6));
    tg_scope_end();
}

/* Two gradients of x, through sin and through cos, are summed by the
** executor with the op the ops layer installed (tg_add), and under
** create_graph the sum is differentiable: d/dx sum(sin x cos x) = cos 2x,
** and its derivative -2 sin 2x. */
static void test_gradient_sum_of_two_paths_is_differentiable(void **state)
{
    (void)state;
    assert_ptr_equal(tg__grad_add, tg_add);
    tg_scope_begin();
    tg_tensor *x = leaf_points(), *g, *g2;
    tg_tensor *y = tg_sum(tg_mul(tg_sin(x), tg_cos(x)));
    tg_backward_opts create = {.create_graph = true};
    assert_status(TG_OK, tg_autograd_grad(1, &y, NULL, 1, &x, &g, &create));
    assert_true(tg_requires_grad(g));
    tg_tensor *gs = tg_sum(g);
    assert_status(TG_OK, tg_autograd_grad(1, &gs, NULL, 1, &x, &g2, NULL));
    for (int64_t i = 0; i < 5; i++) {
        double xi = tg_data(x)[i], want[2] = {cos(2 * xi), -2 * sin(2 * xi)};
        assert_allclose("first", 1, &tg_data(g)[i], &want[0], 1e-14, 1e-15);
        assert_allclose("second", 1, &tg_data(g2)[i], &want[1], 1e-14, 1e-15);
    }
    tg_scope_end();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_naive_saved_intermediates_first_derivative_right_second_refused),
        cmocka_unit_test(test_careful_intermediates_as_outputs_double_backward_is_right),
        cmocka_unit_test(test_op_failing_inside_backward_fails_the_whole_backward),
        cmocka_unit_test(test_saved_intermediate_with_graph_double_backward_is_right),
        cmocka_unit_test(test_once_differentiable_first_order_works_second_is_refused),
        cmocka_unit_test(test_saved_inputs_and_outputs_are_safe_to_double_backward),
        cmocka_unit_test(test_gradient_sum_of_two_paths_is_differentiable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
