/* SPDX-License-Identifier: MIT */
/*
** Numerical hygiene: results outside an op's domain follow IEEE as NumPy does
** (NaN and infinities, no trap, no error), and gradients at the kinks of relu,
** abs and sqrt follow PyTorch's conventions: relu'(0) = 0, abs'(0) = sign(0)
** = 0, sqrt'(0) = inf.  Also tg_abs itself: values, first and second
** derivatives by gradcheck / gradgradcheck away from the kink.
*/
#include "support.h"

#include <math.h>

/* d sum(f(x)) / dx at the points xs, written to grad[n] */
static void grad_at(tg_tensor *(*f)(tg_tensor *), int n, const double *xs, double *grad)
{
    tg_scope_begin();
    tg_tensor *x = tg_from_array(1, (int64_t[]){n}, xs);
    assert_status(TG_OK, tg_set_requires_grad(x, true));
    tg_tensor *y = tg_sum(f(x));
    assert_non_null(y);
    assert_status(TG_OK, tg_backward(y, NULL));
    for (int i = 0; i < n; i++)
        grad[i] = tg_data(tg_grad(x))[i];
    tg_scope_end();
}

static void test_relu_gradient_is_zero_at_zero(void **state)
{
    (void)state;
    double g[4];
    grad_at(tg_relu, 4, (double[]){-1.0, 0.0, -0.0, 2.0}, g);
    assert_allclose("relu'", 4, g, ((double[]){0.0, 0.0, 0.0, 1.0}), 0.0, 0.0);
}

static void test_abs_gradient_is_sign_with_zero_at_zero(void **state)
{
    (void)state;
    double g[5];
    grad_at(tg_abs, 5, (double[]){-3.0, -0.0, 0.0, 1e-300, 2.0}, g);
    assert_allclose("abs'", 5, g, ((double[]){-1.0, 0.0, 0.0, 1.0, 1.0}), 0.0, 0.0);
}

static void test_sqrt_gradient_is_infinite_at_zero(void **state)
{
    (void)state;
    double g[2];
    grad_at(tg_sqrt, 2, (double[]){0.0, 4.0}, g);
    assert_true(g[0] == INFINITY);
    assert_true(g[1] == 0.25);
}

static void test_abs_values_keep_nan_and_clear_the_sign_of_zero(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *y = tg_abs(tg_from_array(1, (int64_t[]){5}, (double[]){-2.5, -0.0, NAN, -INFINITY, 3.0}));
    assert_non_null(y);
    const double *v = tg_data(y);
    assert_true(v[0] == 2.5 && v[1] == 0.0 && !signbit(v[1]) && isnan(v[2]) && v[3] == INFINITY && v[4] == 3.0);
    tg_scope_end();
}

static tg_tensor *abs_cubed(tg_tensor *const *in, void *user)
{
    (void)user;
    return tg_mul(tg_abs(in[0]), tg_pow(in[0], 2.0));   /* |x| x^2: a non-zero second derivative */
}

static void test_abs_passes_gradcheck_and_gradgradcheck_away_from_zero(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = tg_from_array(2, (int64_t[]){2, 3}, (double[]){-1.5, -0.3, 0.2, 0.7, 1.1, -2.0});
    assert_status(TG_OK, tg_set_requires_grad(x, true));
    assert_status(TG_OK, tg_gradcheck(abs_cubed, 1, &x, NULL, 1e-6, 1e-7, 1e-6));
    assert_status(TG_OK, tg_gradgradcheck(abs_cubed, 1, &x, NULL, 1e-6, 1e-7, 1e-6));
    tg_scope_end();
}

static void test_abs_second_derivative_is_zero_and_sign_is_constant(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = tg_from_array(1, (int64_t[]){3}, (double[]){-2.0, 0.0, 5.0});
    assert_status(TG_OK, tg_set_requires_grad(x, true));
    tg_tensor *y = tg_sum(tg_abs(x)), *g = NULL, *g2 = NULL;
    tg_backward_opts create = {.create_graph = true};
    assert_status(TG_OK, tg_autograd_grad(1, &y, NULL, 1, &x, &g, &create));
    assert_allclose("abs'", 3, tg_data(g), ((double[]){-1.0, 0.0, 1.0}), 0.0, 0.0);
    /* sign(x) is a constant factor, like relu's mask: the gradient has no graph, so
    ** differentiating it again is TG_ERR_STATE, and through x * |x| it contributes 0 */
    assert_false(tg_requires_grad(g));
    tg_tensor *h = NULL, *y2 = tg_sum(tg_mul(x, tg_abs(x)));
    assert_status(TG_OK, tg_autograd_grad(1, &y2, NULL, 1, &x, &h, &create));
    tg_tensor *hs = tg_sum(h);   /* d/dx (2|x|) = 2 sign(x) */
    assert_status(TG_OK, tg_autograd_grad(1, &hs, NULL, 1, &x, &g2, NULL));
    assert_allclose("(x|x|)''", 3, tg_data(g2), ((double[]){-2.0, 0.0, 2.0}), 0.0, 0.0);
    tg_scope_end();
}

static double item_of(tg_tensor *t)
{
    assert_non_null(t);
    return tg_item(t);
}

static void test_domain_errors_give_ieee_values_without_error(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_clear_error();
    tg_tensor *neg = tg_scalar(-8.0), *zero = tg_scalar(0.0), *one = tg_scalar(1.0);
    tg_tensor *negzero = tg_scalar(-0.0), *third = tg_scalar(1.0 / 3.0);
    /* negative base, non-integer exponent: NaN (also the direct sqrt path of p = 0.5) */
    assert_true(isnan(item_of(tg_pow(neg, 1.0 / 3.0))));
    assert_true(isnan(item_of(tg_pow(neg, 0.5))) && isnan(item_of(tg_pow(neg, -0.5))));
    assert_true(isnan(item_of(tg_pow_tensor(neg, third))));
    assert_true(item_of(tg_pow(neg, 3.0)) == -512.0 && item_of(tg_pow(neg, -1.0)) == -0.125);
    /* log and sqrt of negatives: NaN; log(0) = -inf; sqrt(-0.0) = -0.0 */
    assert_true(isnan(item_of(tg_log(neg))) && isnan(item_of(tg_sqrt(neg))));
    assert_true(item_of(tg_log(zero)) == -INFINITY);
    double sq = item_of(tg_sqrt(negzero));
    assert_true(sq == 0.0 && signbit(sq));
    /* division by zero: signed infinities; 0 / 0 NaN */
    assert_true(item_of(tg_div(one, zero)) == INFINITY);
    assert_true(item_of(tg_div(neg, zero)) == -INFINITY);
    assert_true(item_of(tg_div(one, negzero)) == -INFINITY);
    assert_true(isnan(item_of(tg_div(zero, zero))));
    assert_true(item_of(tg_pow(zero, -1.0)) == INFINITY);
    assert_int_equal(tg_last_status(), TG_OK);   /* none of these is an error */
    tg_scope_end();
}

static void test_division_by_zero_gradients_are_ieee(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *a = tg_scalar(1.0), *b = tg_scalar(0.0);
    tg_set_requires_grad(a, true);
    tg_set_requires_grad(b, true);
    assert_status(TG_OK, tg_backward(tg_div(a, b), NULL));
    assert_true(tg_item(tg_grad(a)) == INFINITY);       /* 1 / b */
    assert_true(tg_item(tg_grad(b)) == -INFINITY);      /* -a / b^2 */
    tg_scope_end();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relu_gradient_is_zero_at_zero),
        cmocka_unit_test(test_abs_gradient_is_sign_with_zero_at_zero),
        cmocka_unit_test(test_sqrt_gradient_is_infinite_at_zero),
        cmocka_unit_test(test_abs_values_keep_nan_and_clear_the_sign_of_zero),
        cmocka_unit_test(test_abs_passes_gradcheck_and_gradgradcheck_away_from_zero),
        cmocka_unit_test(test_abs_second_derivative_is_zero_and_sign_is_constant),
        cmocka_unit_test(test_domain_errors_give_ieee_values_without_error),
        cmocka_unit_test(test_division_by_zero_gradients_are_ieee),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
