/* SPDX-License-Identifier: MIT */
/*
** The shape ops of issue 3 and pow with a tensor exponent: unsqueeze, flatten
** (views), select (a copy whose backward scatters into zeros) and
** pow_tensor.  Values and first-order gradients against PyTorch (every case
** of tests/data/shape_ops.txt, written by tests/reference/make_nn_reference.py),
** tg_gradcheck and tg_gradgradcheck, storage sharing, and every documented
** error.  Each test checks that it left no block allocated.
*/
#include "support.h"
#include "core/internal.h"   /* tg__alloc_live, tg__scope_end_to: leak and scope checks */

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define DATA "shape_ops.txt"

/* Tolerances: TGT_REF_* and TGT_GC_* of tests/support/support.h. */

/* --------------------------------------------------------------- helpers */

static void assert_dims(const char *what, const tg_tensor *t, int n, const int64_t *want)
{
    if (!t)
        fail_msg("%s: NULL: %s", what, tg_last_error());
    if (tg_ndim(t) != n)
        fail_msg("%s: %d-d, expected %d-d", what, tg_ndim(t), n);
    for (int i = 0; i < n; i++)
        if (tg_shape(t)[i] != want[i])
            fail_msg("%s: dim %d is %" PRId64 ", expected %" PRId64, what, i, tg_shape(t)[i], want[i]);
}

/* ------------------------------------------- PyTorch reference (shape_ops.txt) */

/* a case's call: in[], args unused */
#define F(name, expr) static tg_tensor *name(tg_tensor *const *in, const double *args) \
    { (void)args; return (expr); }

F(c_powers, tg_pow_tensor(tg_unsqueeze(in[0], -1), in[1]))
F(c_pow, tg_pow_tensor(in[0], in[1]))
F(c_select_0_1, tg_select(in[0], 0, 1))
F(c_select_1_m1, tg_select(in[0], 1, -1))
F(c_select_2_2, tg_select(in[0], 2, 2))
F(c_select_m1_0, tg_select(in[0], -1, 0))
F(c_flatten_0_m1, tg_flatten(in[0], 0, -1))
F(c_flatten_1_2, tg_flatten(in[0], 1, 2))
F(c_flatten_0_1, tg_flatten(in[0], 0, 1))
F(c_flatten_1_1, tg_flatten(in[0], 1, 1))
F(c_flatten_m2_m1, tg_flatten(in[0], -2, -1))
F(c_unsqueeze_0, tg_unsqueeze(in[0], 0))
F(c_unsqueeze_1, tg_unsqueeze(in[0], 1))
F(c_unsqueeze_3, tg_unsqueeze(in[0], 3))
F(c_unsqueeze_m1, tg_unsqueeze(in[0], -1))
F(c_unsqueeze_m4, tg_unsqueeze(in[0], -4))

#define RC(name, n, fn) {DATA, name, n, fn, {0}, 0, 0}

static const tgt_ref_case ref_cases[] = {
    RC("powers", 2, c_powers),           RC("pow_bcast", 2, c_pow),
    RC("pow_zero", 2, c_pow),            RC("select_0_1", 1, c_select_0_1),
    RC("select_1_m1", 1, c_select_1_m1), RC("select_2_2", 1, c_select_2_2),
    RC("select_m1_0", 1, c_select_m1_0), RC("flatten_0_m1", 1, c_flatten_0_m1),
    RC("flatten_1_2", 1, c_flatten_1_2), RC("flatten_0_1", 1, c_flatten_0_1),
    RC("flatten_1_1", 1, c_flatten_1_1), RC("flatten_m2_m1", 1, c_flatten_m2_m1),
    RC("unsqueeze_0", 1, c_unsqueeze_0), RC("unsqueeze_1", 1, c_unsqueeze_1),
    RC("unsqueeze_3", 1, c_unsqueeze_3), RC("unsqueeze_m1", 1, c_unsqueeze_m1),
    RC("unsqueeze_m4", 1, c_unsqueeze_m4),
};
#define N_REF_CASES (sizeof ref_cases / sizeof ref_cases[0])

/* --------------------------------------------------------------- values, views */

static void test_unsqueeze_and_flatten_share_storage(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = tgt_make(3, (int64_t[]){2, 3, 4}, tgt_signed0, false);
    tg_tensor *u = tg_unsqueeze(x, 2), *f = tg_flatten(x, 0, 1);
    assert_dims("unsqueeze(x, 2)", u, 4, (int64_t[]){2, 3, 1, 4});
    assert_dims("flatten(x, 0, 1)", f, 2, (int64_t[]){6, 4});
    assert_ptr_equal(tg_data(u), tg_data(x));
    assert_ptr_equal(tg_data(f), tg_data(x));
    tg_data(x)[5] = 42.0;
    assert_true(tg_data(u)[5] == 42.0 && tg_data(f)[5] == 42.0);
    tg_scope_end();
}

static void test_flatten_of_0d_is_1_element_1d_and_unsqueeze_of_0d_is_1d(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *s = tg_scalar(2.5);
    tg_tensor *f = tg_flatten(s, 0, -1), *u = tg_unsqueeze(s, -1), *u0 = tg_unsqueeze(s, 0);
    assert_dims("flatten(0-d)", f, 1, (int64_t[]){1});
    assert_dims("unsqueeze(0-d, -1)", u, 1, (int64_t[]){1});
    assert_dims("unsqueeze(0-d, 0)", u0, 1, (int64_t[]){1});
    assert_true(tg_data(f)[0] == 2.5);
    tg_tensor *v = tgt_make(1, (int64_t[]){5}, tgt_signed0, false);
    assert_dims("flatten(1-d)", tg_flatten(v, 0, 0), 1, (int64_t[]){5});
    tg_tensor *e = tg_zeros(3, (int64_t[]){2, 0, 3});
    assert_dims("flatten(empty)", tg_flatten(e, 1, 2), 2, (int64_t[]){2, 0});
    tg_scope_end();
}

static void test_select_copies_the_slice_and_negative_index_counts_from_the_end(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = tgt_make(3, (int64_t[]){2, 3, 4}, tgt_signed0, false);
    tg_tensor *a = tg_select(x, 1, 2), *b = tg_select(x, -2, -1);
    assert_dims("select(x, 1, 2)", a, 2, (int64_t[]){2, 4});
    for (int64_t i = 0; i < 2; i++)
        for (int64_t k = 0; k < 4; k++) {
            assert_true(tg_data(a)[i * 4 + k] == tg_data(x)[i * 12 + 2 * 4 + k]);
            assert_true(tg_data(b)[i * 4 + k] == tg_data(a)[i * 4 + k]);
        }
    assert_ptr_not_equal(tg_data(a), tg_data(x));
    tg_tensor *v = tgt_make(1, (int64_t[]){3}, tgt_signed0, false);
    tg_tensor *s = tg_select(v, 0, 1);   /* a 1-d tensor selects to 0-d */
    assert_dims("select(v, 0, 1)", s, 0, NULL);
    assert_true(tg_item(s) == tgt_signed0(1));
    tg_scope_end();
}

/* torch.pow(Tensor, Tensor) is the plain pow: pow(x, 2) even where x*x would round otherwise */
static void test_pow_tensor_is_c_pow_bit_for_bit(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *a = tgt_make(2, (int64_t[]){3, 5}, tgt_positive0, false);
    tg_tensor *b = tgt_make(1, (int64_t[]){5}, tgt_signed1, false);
    tg_tensor *y = tg_pow_tensor(a, b), *y2 = tg_pow_tensor(a, tg_full(0, NULL, 2.0));
    assert_non_null(y);
    assert_non_null(y2);
    for (int64_t i = 0; i < 15; i++) {
        double want = pow(tg_data(a)[i], tg_data(b)[i % 5]), want2 = pow(tg_data(a)[i], 2.0);
        assert_memory_equal(&tg_data(y)[i], &want, sizeof want);
        assert_memory_equal(&tg_data(y2)[i], &want2, sizeof want2);
    }
    tg_scope_end();
}

/* --------------------------------------------------------------- gradcheck */

static tg_tensor *f_unsqueeze(tg_tensor *const *in, void *user) { return tg_unsqueeze(in[0], *(int *)user); }
static tg_tensor *f_flatten(tg_tensor *const *in, void *user)
{
    const int *se = user;
    return tg_flatten(in[0], se[0], se[1]);
}
static tg_tensor *f_select(tg_tensor *const *in, void *user)
{
    const int *di = user;
    return tg_select(in[0], di[0], di[1]);
}
/* select followed by a nonlinearity, so the second derivative is not zero */
static tg_tensor *f_select_sq(tg_tensor *const *in, void *user)
{
    tg_tensor *s = f_select(in, user);
    return tg_mul(s, tg_sin(s));
}
static tg_tensor *f_pow(tg_tensor *const *in, void *user) { (void)user; return tg_pow_tensor(in[0], in[1]); }
static tg_tensor *f_powers(tg_tensor *const *in, void *user)
{
    (void)user;
    return tg_pow_tensor(tg_unsqueeze(in[0], -1), in[1]);
}

static void test_unsqueeze_and_flatten_pass_gradcheck_and_gradgradcheck(void **state)
{
    (void)state;
    char what[64];
    tg_scope_begin();
    tg_tensor *x = tgt_make(3, (int64_t[]){2, 3, 2}, tgt_signed0, true);
    for (int d = -4; d <= 3; d++) {
        snprintf(what, sizeof what, "unsqueeze dim %d", d);
        tgt_check_grads(what, f_unsqueeze, 1, &x, &d);
    }
    int se[][2] = {{0, -1}, {1, 2}, {0, 1}, {-1, -1}};
    for (size_t i = 0; i < sizeof se / sizeof se[0]; i++) {
        snprintf(what, sizeof what, "flatten %d..%d", se[i][0], se[i][1]);
        tgt_check_grads(what, f_flatten, 1, &x, se[i]);
    }
    tg_scope_end();
}

static void test_select_passes_gradcheck_and_gradgradcheck_for_every_dim(void **state)
{
    (void)state;
    char what[64];
    tg_scope_begin();
    tg_tensor *x = tgt_make(3, (int64_t[]){2, 3, 2}, tgt_signed0, true);
    int di[][2] = {{0, 0}, {0, -1}, {1, 1}, {-2, 2}, {2, 0}, {-1, 1}};
    for (size_t i = 0; i < sizeof di / sizeof di[0]; i++) {
        snprintf(what, sizeof what, "select dim %d index %d", di[i][0], di[i][1]);
        tgt_check_grads(what, f_select, 1, &x, di[i]);
        tgt_check_grads(what, f_select_sq, 1, &x, di[i]);
    }
    tg_scope_end();
}

/* d/dx of select's gradient is select_backward's backward (select again) */
static void test_select_double_backward_goes_through_select_backward(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = tgt_make(2, (int64_t[]){3, 2}, tgt_signed0, true);
    tg_tensor *y = tg_select(x, 0, 1);
    tg_tensor *loss = tg_sum(tg_mul(tg_mul(y, y), y));        /* sum y^3 */
    tg_tensor *g;
    tg_backward_opts opts = {.create_graph = true};
    assert_status(TG_OK, tg_autograd_grad(1, &loss, NULL, 1, &x, &g, &opts));
    /* g = 3 y^2 in row 1, 0 elsewhere; d sum(g) / dx = 6 y in row 1 */
    tg_tensor *gg;
    tg_tensor *sg = tg_sum(g);
    assert_status(TG_OK, tg_autograd_grad(1, &sg, NULL, 1, &x, &gg, NULL));
    for (int64_t i = 0; i < 6; i++) {
        double xi = tg_data(x)[i], want_g = i / 2 == 1 ? 3 * xi * xi : 0.0, want_gg = i / 2 == 1 ? 6 * xi : 0.0;
        assert_allclose("first", 1, &tg_data(g)[i], &want_g, 1e-15, 0.0);
        assert_allclose("second", 1, &tg_data(gg)[i], &want_gg, 1e-15, 0.0);
    }
    tg_scope_end();
}

static void test_pow_tensor_passes_gradcheck_and_gradgradcheck_with_broadcasting(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *a = tgt_make(2, (int64_t[]){2, 3}, tgt_positive0, true);
    tg_tensor *b = tgt_make(1, (int64_t[]){3}, tgt_signed1, true);
    tgt_check_grads("pow_tensor [2,3] ** [3]", f_pow, 2, (tg_tensor *[]){a, b}, NULL);
    tg_tensor *col = tgt_make(2, (int64_t[]){2, 1}, tgt_positive0, true);
    tg_tensor *row = tgt_make(2, (int64_t[]){1, 3}, tgt_signed1, true);
    tgt_check_grads("pow_tensor [2,1] ** [1,3]", f_pow, 2, (tg_tensor *[]){col, row}, NULL);
    tg_tensor *s = tg_full(0, NULL, 1.7);
    assert_status(TG_OK, tg_set_requires_grad(s, true));
    tgt_check_grads("pow_tensor 0-d ** [3]", f_pow, 2, (tg_tensor *[]){s, b}, NULL);
    tg_scope_end();
}

/* the tutorial's x.unsqueeze(-1).pow(p): negative x with integer p (gradient for
** x only: d/dp needs log x) and positive x with both */
static void test_stacked_powers_pass_gradcheck_and_gradgradcheck(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = tgt_make(1, (int64_t[]){4}, tgt_signed0, true);
    tg_tensor *p = tg_from_array(1, (int64_t[]){3}, (double[]){1, 2, 3});
    tgt_check_grads("x.unsqueeze(-1).pow([1,2,3]), d/dx", f_powers, 2, (tg_tensor *[]){x, p}, NULL);
    tg_tensor *xp = tgt_make(1, (int64_t[]){4}, tgt_positive0, true);
    assert_status(TG_OK, tg_set_requires_grad(p, true));
    tgt_check_grads("x.unsqueeze(-1).pow([1,2,3]), x > 0, d/dx and d/dp", f_powers, 2,
                (tg_tensor *[]){xp, p}, NULL);
    tg_scope_end();
}

/* --------------------------------------------------------------- errors */

static void test_unsqueeze_rejects_dim_out_of_range_and_a_9th_dim(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = tg_zeros(2, (int64_t[]){2, 3});
    assert_null(tg_unsqueeze(x, 3));
    assert_error(TG_ERR_ARG, "tg_unsqueeze", "dim 3", "2-d", "-3..2");
    assert_null(tg_unsqueeze(x, -4));
    assert_error(TG_ERR_ARG, "tg_unsqueeze", "dim -4");
    tg_tensor *big = tg_zeros(8, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 2});
    assert_null(tg_unsqueeze(big, 0));
    assert_error(TG_ERR_ARG, "tg_unsqueeze", "8-d");
    assert_null(tg_unsqueeze(NULL, 0));
    assert_error(TG_ERR_ARG, "tg_unsqueeze", "NULL");
    tg_scope_end();
}

static void test_flatten_rejects_dims_out_of_range_and_start_after_end(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = tg_zeros(3, (int64_t[]){2, 3, 4});
    assert_null(tg_flatten(x, 0, 3));
    assert_error(TG_ERR_ARG, "tg_flatten", "end_dim 3", "3-d");
    assert_null(tg_flatten(x, -4, 1));
    assert_error(TG_ERR_ARG, "tg_flatten", "start_dim -4");
    assert_null(tg_flatten(x, 2, 1));
    assert_error(TG_ERR_ARG, "tg_flatten", "start_dim 2", "after end_dim 1");
    assert_null(tg_flatten(x, -1, 0));
    assert_error(TG_ERR_ARG, "tg_flatten", "start_dim -1");
    assert_null(tg_flatten(tg_scalar(1.0), 0, 1));
    assert_error(TG_ERR_ARG, "tg_flatten", "0-d");
    assert_null(tg_flatten(NULL, 0, 0));
    assert_error(TG_ERR_ARG, "tg_flatten", "NULL");
    tg_scope_end();
}

static void test_select_rejects_dim_and_index_out_of_range_and_0d(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = tg_zeros(2, (int64_t[]){2, 3});
    assert_null(tg_select(x, 2, 0));
    assert_error(TG_ERR_ARG, "tg_select", "dim 2", "2-d");
    assert_null(tg_select(x, -3, 0));
    assert_error(TG_ERR_ARG, "tg_select", "dim -3");
    assert_null(tg_select(x, 1, 3));
    assert_error(TG_ERR_ARG, "tg_select", "index 3", "size 3");
    assert_null(tg_select(x, 0, -3));
    assert_error(TG_ERR_ARG, "tg_select", "index -3", "size 2");
    assert_null(tg_select(tg_scalar(1.0), 0, 0));
    assert_error(TG_ERR_ARG, "tg_select", "0-d");
    assert_null(tg_select(tg_zeros(1, (int64_t[]){0}), 0, 0));
    assert_error(TG_ERR_ARG, "tg_select", "index 0", "size 0");
    assert_null(tg_select(NULL, 0, 0));
    assert_error(TG_ERR_ARG, "tg_select", "NULL");
    tg_scope_end();
}

static void test_pow_tensor_rejects_shapes_that_do_not_broadcast(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *a = tg_zeros(2, (int64_t[]){2, 3}), *b = tg_zeros(1, (int64_t[]){2});
    assert_null(tg_pow_tensor(a, b));
    assert_error(TG_ERR_SHAPE, "tg_pow_tensor", "[2,3]", "[2]");
    assert_null(tg_pow_tensor(a, NULL));
    assert_error(TG_ERR_ARG, "tg_pow_tensor", "NULL");
    tg_scope_end();
}

static void test_reference_table_covers_every_case_in_shape_ops_txt(void **state)
{
    (void)state;
    double count = 0;
    assert_int_equal(tgt_ref(DATA, "cases.count", &count, 1), 1);
    if (count != (double)N_REF_CASES)
        fail_msg("shape_ops.txt holds %g cases, the table names %zu", count, N_REF_CASES);
    for (size_t i = 0; i < N_REF_CASES; i++) {   /* a name missing from the file fails in tgt_ref */
        char key[128];
        snprintf(key, sizeof key, "%s.out.shape", ref_cases[i].name);
        tgt_ref(DATA, key, NULL, 0);
    }
}

/* --------------------------------------------------------------- main */

#define T(name) tgt_test(name)

int main(void)
{
    tgt_warm_scopes();

    static struct CMUnitTest ref_tests[N_REF_CASES];
    static tgt_test_name ref_names[N_REF_CASES];
    tgt_ref_tests(N_REF_CASES, ref_cases, ref_tests, ref_names);
    const struct CMUnitTest tests[] = {
        T(test_reference_table_covers_every_case_in_shape_ops_txt),
        T(test_unsqueeze_and_flatten_share_storage),
        T(test_flatten_of_0d_is_1_element_1d_and_unsqueeze_of_0d_is_1d),
        T(test_select_copies_the_slice_and_negative_index_counts_from_the_end),
        T(test_pow_tensor_is_c_pow_bit_for_bit),
        T(test_unsqueeze_and_flatten_pass_gradcheck_and_gradgradcheck),
        T(test_select_passes_gradcheck_and_gradgradcheck_for_every_dim),
        T(test_select_double_backward_goes_through_select_backward),
        T(test_pow_tensor_passes_gradcheck_and_gradgradcheck_with_broadcasting),
        T(test_stacked_powers_pass_gradcheck_and_gradgradcheck),
        T(test_unsqueeze_rejects_dim_out_of_range_and_a_9th_dim),
        T(test_flatten_rejects_dims_out_of_range_and_start_after_end),
        T(test_select_rejects_dim_and_index_out_of_range_and_0d),
        T(test_pow_tensor_rejects_shapes_that_do_not_broadcast),
    };
    int failed = cmocka_run_group_tests_name("shape_ops.txt reference", ref_tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("shape ops", tests, NULL, NULL);
    return failed;
}
