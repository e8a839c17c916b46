/* SPDX-License-Identifier: MIT */
/*
** The tutorial's numbers: y = a + b * P3(c + d x) fitted to sin(x) on 2000
** points, against PyTorch's float64 run (tests/data/tutorial.txt).  Once with
** P3 as a user Function, as the tutorial writes it, and once with the
** built-in fused tg_legendre; both must agree with PyTorch to 1e-9.
*/
#include "support.h"

#include <math.h>

/* forward: y = (5x^3 - 3x) / 2  =>  dx = dy * 1.5 (5x^2 - 1) (tests/support) */
static const tg_function p3_fn = {.name = "LegendrePolynomial3", .n_inputs = 1, .n_outputs = 1,
                                  .forward = tgt_p3_forward, .backward = tgt_p3_backward_ops};

static tg_tensor *p3_user(tg_tensor *x) { return tg_apply1(&p3_fn, &x); }
static tg_tensor *p3_builtin(tg_tensor *x) { return tg_legendre(x, 3); }

typedef tg_tensor *(*p3_impl)(tg_tensor *x);

static void run_tutorial(p3_impl p3)
{
    double steps[20], losses[20], loss0, grad0[4], seen[20];
    assert_int_equal(tgt_ref("tutorial.txt", "steps", steps, 20), 20);
    assert_int_equal(tgt_ref("tutorial.txt", "loss", losses, 20), 20);
    assert_int_equal(tgt_ref("tutorial.txt", "loss_0", &loss0, 1), 1);
    assert_int_equal(tgt_ref("tutorial.txt", "grad_0", grad0, 4), 4);
    tg_scope_begin();
    tg_tensor *x = tg_linspace(-M_PI, M_PI, 2000), *y = tg_sin(x), *p[4];
    const double init[4] = {0.0, -1.0, 0.0, 0.3};
    for (int i = 0; i < 4; i++) {
        p[i] = tg_scalar(init[i]);
        tg_set_requires_grad(p[i], true);
    }
    int k = 0;
    for (int t = 0; t < 2000; t++) {
        tg_scope_begin();
        tg_tensor *pred = tg_add(p[0], tg_mul(p[1], p3(tg_add(p[2], tg_mul(p[3], x)))));
        tg_tensor *loss = tg_sum(tg_pow(tg_sub(pred, y), 2.0));
        assert_non_null(loss);
        if (t == 0)
            assert_allclose("loss at 0", 1, tg_data(loss), &loss0, 1e-13, 0);
        if (t % 100 == 99)
            seen[k++] = tg_item(loss);
        assert_status(TG_OK, tg_backward(loss, NULL));
        if (t == 0) {   /* a and c gradients are rounding noise around 0 in both engines */
            for (int i = 0; i < 4; i++)
                assert_allclose("grad at 0", 1, tg_data(tg_grad(p[i])), &grad0[i], 1e-12, 1e-9);
        }
        for (int i = 0; i < 4; i++) {
            tg_data(p[i])[0] -= 5e-6 * tg_item(tg_grad(p[i]));
            tg_zero_grad(p[i]);
        }
        tg_scope_end();
    }
    assert_int_equal(k, 20);
    assert_allclose("loss every 100 steps", 20, seen, losses, 1e-9, 0);
    double b, d;
    tgt_ref("tutorial.txt", "b", &b, 1);
    tgt_ref("tutorial.txt", "d", &d, 1);
    assert_allclose("b", 1, tg_data(p[1]), &b, 1e-9, 0);
    assert_allclose("d", 1, tg_data(p[3]), &d, 1e-9, 0);
    assert_true(fabs(tg_item(p[0])) < 1e-12 && fabs(tg_item(p[2])) < 1e-12);
    tg_scope_end();
}

static void test_tutorial_with_user_p3_matches_pytorch(void **state)
{
    (void)state;
    run_tutorial(p3_user);
}

static void test_tutorial_with_builtin_legendre_matches_pytorch(void **state)
{
    (void)state;
    run_tutorial(p3_builtin);
}

static tg_tensor *apply_p3(tg_tensor *const *in, void *user)
{
    (void)user;
    return p3_user(in[0]);
}

static void test_user_p3_first_and_second_derivatives(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = tg_linspace(-0.9, 0.8, 7);
    tg_set_requires_grad(x, true);
    assert_status(TG_OK, tg_gradcheck(apply_p3, 1, &x, NULL, 1e-6, 1e-8, 1e-6));
    assert_status(TG_OK, tg_gradgradcheck(apply_p3, 1, &x, NULL, 1e-6, 1e-8, 1e-6));
    tg_scope_end();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tutorial_with_user_p3_matches_pytorch),
        cmocka_unit_test(test_tutorial_with_builtin_legendre_matches_pytorch),
        cmocka_unit_test(test_user_p3_first_and_second_derivatives),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
