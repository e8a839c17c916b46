/* SPDX-License-Identifier: MIT */
/*
** Anomaly mode and numerical hygiene: off by default (IEEE results flow
** through), on it names the Function and the place of the first NaN or
** infinity in a forward or a backward, and a failed backward leaves the
** gradients as they were.
*/
#include "support.h"

#include <math.h>
#include <string.h>

static void test_anomaly_is_off_by_default_and_ieee_flows(void **state)
{
    (void)state;
    tg_scope_begin();
    assert_false(tg_is_anomaly_enabled());
    tg_tensor *y = tg_log(tg_from_array(1, (int64_t[]){3}, (double[]){-1.0, 0.0, 1.0}));
    assert_non_null(y);
    assert_true(isnan(tg_data(y)[0]) && isinf(tg_data(y)[1]) && tg_data(y)[2] == 0.0);
    tg_scope_end();
}

static void test_anomaly_names_forward_nan(void **state)
{
    (void)state;
    tg_scope_begin();
    bool prev = tg_set_anomaly(true);
    assert_false(prev);
    tg_clear_error();
    tg_tensor *x = tg_from_array(2, (int64_t[]){1, 3}, (double[]){1.0, -2.0, 3.0});
    assert_null(tg_sqrt(x));
    assert_error(TG_ERR_NUMERIC, "forward of 'tg_sqrt' produced NaN in output 0 element 1 (inputs [1,3])");
    assert_non_null(tg_exp(x));   /* finite results pass */
    tg_set_anomaly(false);
    tg_scope_end();
}

static void test_anomaly_names_backward_infinity_and_keeps_grads(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = tg_from_array(1, (int64_t[]){2}, (double[]){0.0, 4.0});
    tg_set_requires_grad(x, true);
    tg_tensor *loss = tg_sum(tg_sqrt(x));   /* d sqrt / dx at 0 is infinite */
    tg_set_anomaly(true);
    tg_clear_error();
    tg_backward_opts keep = {.retain_graph = true};
    assert_status(TG_ERR_NUMERIC, tg_backward(loss, &keep));
    assert_error(TG_ERR_NUMERIC, "backward of 'tg_sqrt' produced infinity in grad_inputs 0 element 0");
    assert_null(tg_grad(x));
    tg_set_anomaly(false);
    assert_status(TG_OK, tg_backward(loss, NULL));   /* off: IEEE, as PyTorch */
    assert_true(isinf(tg_data(tg_grad(x))[0]) && tg_data(tg_grad(x))[1] == 0.25);
    tg_scope_end();
}

static tg_status nan_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    (void)ctx;
    gin[0] = tg_affine(g[0], NAN, 0.0);
    return gin[0] ? TG_OK : tg_last_status();
}
static tg_status copy_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    (void)ctx;
    out[0] = tg_affine(in[0], 1.0, 0.0);
    return out[0] ? TG_OK : tg_last_status();
}
static const tg_function broken = {.name = "broken_user_fn", .n_inputs = 1, .n_outputs = 1,
                                   .forward = copy_forward, .backward = nan_backward};

static void test_anomaly_names_user_function(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = tg_full(2, (int64_t[]){2, 2}, 1.0);
    tg_set_requires_grad(x, true);
    tg_set_anomaly(true);
    tg_clear_error();
    assert_status(TG_ERR_NUMERIC, tg_backward(tg_sum(tg_apply1(&broken, &x)), NULL));
    assert_error(TG_ERR_NUMERIC, "backward of 'broken_user_fn'", "[2,2]");
    tg_set_anomaly(false);
    tg_scope_end();
}

static void test_ieee_hygiene_matches_numpy(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *neg = tg_full(1, (int64_t[]){1}, -8.0), *zero = tg_zeros(1, (int64_t[]){1});
    assert_true(isnan(tg_item(tg_pow(neg, 1.0 / 3.0))));     /* negative base, non-integer exponent */
    assert_true(tg_item(tg_pow(neg, 3.0)) == -512.0);
    assert_true(isnan(tg_item(tg_log(neg))) && isnan(tg_item(tg_sqrt(neg))));
    assert_true(isinf(tg_item(tg_div(tg_full(1, (int64_t[]){1}, 1.0), zero))));
    assert_true(isnan(tg_item(tg_div(zero, zero))));
    tg_scope_end();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_anomaly_is_off_by_default_and_ieee_flows),
        cmocka_unit_test(test_anomaly_names_forward_nan),
        cmocka_unit_test(test_anomaly_names_backward_infinity_and_keeps_grads),
        cmocka_unit_test(test_anomaly_names_user_function),
        cmocka_unit_test(test_ieee_hygiene_matches_numpy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
