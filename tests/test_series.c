/* SPDX-License-Identifier: MIT */
/*
** Legendre series, batched fits and exact least squares (tg_legendre_series,
** tg_legendre_range_map, tg_legendre_vander, tg_legendre_lstsq): values and
** gradients against numpy.polynomial.legendre (tests/data/series.txt, written
** by tests/reference/make_series_reference.py) for degrees 0, 1, 3, 8, 32 and
** 200; gradcheck and gradgradcheck for coef and x, one series and batched with
** own or shared points; batched calls equal to per-series calls bit for bit;
** the tutorial's P3 as a series; least-squares coefficients and condition
** numbers against numpy.linalg; and every documented error.
*/
#include "support.h"
#include "core/internal.h"   /* tg__alloc_live, tg__scope_end_to: leak and scope checks */

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define SER "series.txt"

static const int degrees[] = {0, 1, 3, 8, 32, 200};
#define N_DEGREES ((int)(sizeof degrees / sizeof degrees[0]))

static double ref1(const char *key)
{
    double v = NAN;
    assert_int_equal(tgt_ref(SER, key, &v, 1), 1);
    return v;
}

static void ref_map(double *alpha, double *beta)
{
    *alpha = ref1("range.alpha");
    *beta = ref1("range.beta");
}

static double abs_sum(const tg_tensor *t)
{
    double s = 0;
    for (int64_t i = 0; i < tg_numel(t); i++) s += fabs(tg_data((tg_tensor *)t)[i]);
    return s;
}

static bool bits_equal(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

/* ------------------------------------------------------------- range map */

static void test_range_map_equals_numpy_mapparms_bit_for_bit(void **state)
{
    (void)state;
    double alpha, beta;
    assert_status(TG_OK, tg_legendre_range_map(ref1("range.lo"), ref1("range.hi"), &alpha, &beta));
    assert_true(bits_equal(alpha, ref1("range.alpha")));
    assert_true(bits_equal(beta, ref1("range.beta")));
    assert_true(fabs(alpha * ref1("range.lo") + beta + 1.0) <= 2 * DBL_EPSILON);
    assert_true(fabs(alpha * ref1("range.hi") + beta - 1.0) <= 2 * DBL_EPSILON);
    assert_status(TG_OK, tg_legendre_range_map(1.0, 10.0, &alpha, &beta));
    assert_true(bits_equal(alpha, ref1("fit.alpha")));
    assert_true(bits_equal(beta, ref1("fit.beta")));
}

static void test_range_map_rejects_empty_reversed_and_non_finite_ranges(void **state)
{
    (void)state;
    static const double bad[][2] = {{1, 1}, {2, 1}, {NAN, 1}, {0, INFINITY}, {-INFINITY, 0},
                                    {-DBL_MAX, DBL_MAX}, {0, 4.9e-324}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double alpha = 7, beta = 7;
        assert_status(TG_ERR_ARG, tg_legendre_range_map(bad[i][0], bad[i][1], &alpha, &beta));
        assert_error(TG_ERR_ARG, "tg_legendre_range_map", "lo < hi");
        assert_true(alpha == 1.0 && beta == 0.0);
    }
    double alpha = 7;
    assert_status(TG_ERR_ARG, tg_legendre_range_map(0, 1, &alpha, NULL));
    assert_error(TG_ERR_ARG, "tg_legendre_range_map", "beta is NULL");
    assert_true(alpha == 1.0);
    assert_status(TG_ERR_ARG, tg_legendre_range_map(0, 1, NULL, &alpha));
    assert_error(TG_ERR_ARG, "tg_legendre_range_map", "alpha is NULL");
}

/* ------------------------------------------------------- against numpy */

/* Values: |y - legval| <= 1e-15 (d + 1) sum |c| (both are Clenshaw-type sums
** of terms bounded by |c_j| on [-1, 1]: each step adds a few ulps of that
** bound).  Gradients: dcoef sums |g| |P_j| <= sum |g|, scaled the same way;
** dx involves P_j' up to d (d + 1) / 2, so its bound carries that factor. */
static void test_series_values_and_gradients_match_numpy_for_degrees_0_to_200(void **state)
{
    (void)state;
    double alpha, beta;
    ref_map(&alpha, &beta);
    for (int di = 0; di < N_DEGREES; di++) {
        tg_scope_begin();
        int d = degrees[di];
        char key[64], what[64];
        snprintf(key, sizeof key, "d%d.coef", d);
        tg_tensor *coef = tgt_ref_tensor(SER, key), *x = tgt_ref_tensor(SER, "x");
        snprintf(key, sizeof key, "d%d.g", d);
        tg_tensor *g = tgt_ref_tensor(SER, key);
        assert_status(TG_OK, tg_set_requires_grad(coef, true));
        assert_status(TG_OK, tg_set_requires_grad(x, true));
        tg_tensor *y = tg_legendre_series(coef, x, alpha, beta);
        if (!y) fail_msg("tg_legendre_series at degree %d: %s", d, tg_last_error());
        double c_sum = abs_sum(coef), g_sum = abs_sum(g), tol = 1e-15 * (d + 1);
        snprintf(key, sizeof key, "d%d.y", d);
        snprintf(what, sizeof what, "y at degree %d", d);
        tgt_assert_tensor_close(what, y, SER, key, 0, tol * c_sum);
        assert_status(TG_OK, tg_backward(tg_sum(tg_mul(y, g)), NULL));
        snprintf(key, sizeof key, "d%d.dcoef", d);
        snprintf(what, sizeof what, "dcoef at degree %d", d);
        tgt_assert_tensor_close(what, tg_grad(coef), SER, key, 0, tol * g_sum);
        snprintf(key, sizeof key, "d%d.dx", d);
        snprintf(what, sizeof what, "dx at degree %d", d);
        tgt_assert_tensor_close(what, tg_grad(x), SER, key, 0, tol * alpha * c_sum * (d * (d + 1) / 2 + 1));
        tg_scope_end();
    }
}

static void test_vander_matches_numpy_legvander_and_the_series(void **state)
{
    (void)state;
    double alpha, beta;
    ref_map(&alpha, &beta);
    static const int vd[] = {0, 3, 32};
    for (size_t i = 0; i < sizeof vd / sizeof vd[0]; i++) {
        tg_scope_begin();
        char key[32];
        snprintf(key, sizeof key, "vander%d", vd[i]);
        tg_tensor *x = tgt_ref_tensor(SER, "x"), *v = tg_legendre_vander(x, vd[i], alpha, beta);
        tgt_assert_tensor_close(key, v, SER, key, 0, 1e-15 * (vd[i] + 1));
        snprintf(key, sizeof key, "d%d.coef", vd[i]);
        tg_tensor *coef = tgt_ref_tensor(SER, key);
        tg_tensor *vc = tg_reshape(tg_matmul(v, tg_reshape(coef, 2, (int64_t[]){-1, 1})), 1, (int64_t[]){-1});
        tg_tensor *y = tg_legendre_series(coef, x, alpha, beta);
        assert_non_null(vc);
        assert_non_null(y);
        assert_allclose("V coef against the series", tg_numel(y), tg_data(vc), tg_data(y), 0,
                        1e-15 * (vd[i] + 1) * abs_sum(coef));
        tg_scope_end();
    }
}

static void test_batched_series_match_numpy_with_own_and_shared_points(void **state)
{
    (void)state;
    double alpha, beta;
    ref_map(&alpha, &beta);
    tg_scope_begin();
    tg_tensor *coef = tgt_ref_tensor(SER, "batch.coef");
    tg_tensor *own = tg_legendre_series(coef, tgt_ref_tensor(SER, "batch.x"), alpha, beta);
    tg_tensor *shared = tg_legendre_series(coef, tgt_ref_tensor(SER, "batch.xs"), alpha, beta);
    tgt_assert_tensor_close("own points", own, SER, "batch.y", 0, 1e-14);
    tgt_assert_tensor_close("shared points", shared, SER, "batch.ys", 0, 1e-14);
    tg_scope_end();
}

/* The tutorial's P3 is the series with coefficients [0, 0, 0, 1]. */
static void test_p3_as_a_series_equals_tg_legendre(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = tg_linspace(-1.2, 1.2, 241), *x2 = tg_linspace(-1.2, 1.2, 241);
    tg_tensor *coef = tg_from_array(1, (int64_t[]){4}, (double[]){0, 0, 0, 1});
    assert_status(TG_OK, tg_set_requires_grad(x, true));
    assert_status(TG_OK, tg_set_requires_grad(x2, true));
    tg_tensor *s = tg_legendre_series(coef, x, 1.0, 0.0), *p = tg_legendre(x2, 3);
    assert_non_null(s);
    assert_allclose("P3 series vs tg_legendre", 241, tg_data(s), tg_data(p), 4 * DBL_EPSILON, 4 * DBL_EPSILON);
    assert_status(TG_OK, tg_backward(tg_sum(s), NULL));
    assert_status(TG_OK, tg_backward(tg_sum(p), NULL));
    assert_allclose("P3' series vs tg_legendre", 241, tg_data(tg_grad(x)), tg_data(tg_grad(x2)), 4 * DBL_EPSILON,
                    8 * DBL_EPSILON);
    tg_scope_end();
}

/* ---------------------------------------------------------- gradcheck */

typedef struct map { double alpha, beta; } map;

static tg_tensor *apply_series(tg_tensor *const *in, void *user)
{
    const map *m = user;
    return tg_legendre_series(in[0], in[1], m->alpha, m->beta);
}

static tg_tensor *apply_vander(tg_tensor *const *in, void *user)
{
    const map *m = user;
    return tg_legendre_vander(in[0], 5, m->alpha, m->beta);
}

static tg_tensor *leaf(int ndim, const int64_t *shape, double phase, double scale)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    tg_tensor *t = tg_zeros(ndim, shape);
    for (int64_t i = 0; i < n; i++) tg_data(t)[i] = scale * sin(phase + 0.77 * (double)i);
    assert_status(TG_OK, tg_set_requires_grad(t, true));
    return t;
}

static void check_grads(const char *what, int d, tg_tensor *coef, tg_tensor *x, const map *m)
{
    char name[96];
    snprintf(name, sizeof name, "%s degree %d", what, d);
    tgt_check_grads_scaled(name, apply_series, 2, (tg_tensor *[]){coef, x}, (void *)m, d < 1 ? 1.0 : (double)d * d);
}

/* Points mapped into (-1, 1) by alpha = 0.45, beta = 0.1 from x in (-2, 2). */
static void test_series_passes_gradcheck_and_gradgradcheck(void **state)
{
    (void)state;
    static const int gd[] = {0, 1, 3, 8};
    const map m = {0.45, 0.1};
    for (size_t i = 0; i < sizeof gd / sizeof gd[0]; i++) {
        tg_scope_begin();
        int64_t k = gd[i] + 1;
        check_grads("one series", gd[i], leaf(1, &k, 0.3, 1.0), leaf(1, (int64_t[]){5}, 1.1, 1.9), &m);
        check_grads("own points", gd[i], leaf(2, (int64_t[]){2, k}, 0.5, 1.0),
                    leaf(2, (int64_t[]){2, 4}, 0.2, 1.9), &m);
        check_grads("shared points", gd[i], leaf(2, (int64_t[]){3, k}, 0.9, 1.0),
                    leaf(1, (int64_t[]){4}, 2.1, 1.9), &m);
        tg_scope_end();
    }
}

static void test_vander_passes_gradcheck_and_gradgradcheck(void **state)
{
    (void)state;
    tg_scope_begin();
    const map m = {0.45, 0.1};
    tg_tensor *x = leaf(1, (int64_t[]){6}, 0.4, 1.9);
    if (tg_gradcheck(apply_vander, 1, &x, (void *)&m, 1e-6, 1e-7, 1e-6) != TG_OK)
        fail_msg("gradcheck vander: %s", tg_last_error());
    if (tg_gradgradcheck(apply_vander, 1, &x, (void *)&m, 1e-6, 1e-6, 1e-5) != TG_OK)
        fail_msg("gradgradcheck vander: %s", tg_last_error());
    tg_scope_end();
}

/* Third derivative through nested create_graph: d^3/dx^3 of sum_j c_j P_j(x)
** for a cubic is c_3 * 15 everywhere (P_3''' = 15). */
static void test_series_third_derivative_by_nested_create_graph(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *coef = tg_from_array(1, (int64_t[]){4}, (double[]){0.3, -0.2, 0.7, 0.5});
    tg_tensor *x = leaf(1, (int64_t[]){5}, 0.1, 0.9), *ones = tg_full(1, (int64_t[]){5}, 1.0);
    tg_tensor *d = tg_legendre_series(coef, x, 1.0, 0.0);
    tg_backward_opts create = {.create_graph = true};
    for (int k = 0; k < 3; k++) {
        tg_tensor *next;
        assert_status(TG_OK, tg_autograd_grad(1, &d, &ones, 1, &x, &next, &create));
        d = next;
    }
    for (int i = 0; i < 5; i++)
        if (fabs(tg_data(d)[i] - 7.5) > 1e-13) fail_msg("third derivative at %d: %.17g, expected 7.5", i, tg_data(d)[i]);
    tg_scope_end();
}

/* --------------------------------------------- batched against per series */

/* One call over B series equals B calls bit for bit: forward, d coef, and d x
** for own points; a shared x's gradient is the sum of the per-series ones. */
static void check_batched_equals_single(bool shared)
{
    const int64_t nb = 6, ncoef = 10, n = 131;
    const double alpha = 0.37, beta = -0.05;
    tg_scope_begin();
    tg_tensor *coef = leaf(2, (int64_t[]){nb, ncoef}, 0.2, 1.0);
    tg_tensor *x = shared ? leaf(1, &n, 0.6, 2.5) : leaf(2, (int64_t[]){nb, n}, 0.6, 2.5);
    tg_tensor *w = tg_zeros(2, (int64_t[]){nb, n});
    for (int64_t i = 0; i < nb * n; i++) tg_data(w)[i] = cos(0.3 * (double)i);
    tg_tensor *y = tg_legendre_series(coef, x, alpha, beta);
    assert_non_null(y);
    assert_status(TG_OK, tg_backward(tg_sum(tg_mul(y, w)), NULL));
    double *dx_sum = calloc((size_t)n, sizeof(double));
    assert_non_null(dx_sum);
    for (int64_t b = 0; b < nb; b++) {
        tg_scope_begin();
        tg_tensor *cb = tg_from_array(1, &ncoef, tg_data(coef) + b * ncoef);
        tg_tensor *xb = tg_from_array(1, &n, tg_data(x) + (shared ? 0 : b * n));
        tg_tensor *wb = tg_from_array(1, &n, tg_data(w) + b * n);
        assert_status(TG_OK, tg_set_requires_grad(cb, true));
        assert_status(TG_OK, tg_set_requires_grad(xb, true));
        tg_tensor *yb = tg_legendre_series(cb, xb, alpha, beta);
        assert_status(TG_OK, tg_backward(tg_sum(tg_mul(yb, wb)), NULL));
        for (int64_t i = 0; i < n; i++) {
            if (!bits_equal(tg_data(yb)[i], tg_data(y)[b * n + i]) ||
                (!shared && !bits_equal(tg_data(tg_grad(xb))[i], tg_data(tg_grad(x))[b * n + i])))
                fail_msg("series %" PRId64 " point %" PRId64 ": batched y %.17g dx %.17g, alone %.17g / %.17g", b,
                         i, tg_data(y)[b * n + i], tg_data(tg_grad(x))[shared ? i : b * n + i], tg_data(yb)[i],
                         tg_data(tg_grad(xb))[i]);
            dx_sum[i] += tg_data(tg_grad(xb))[i];
        }
        for (int64_t j = 0; j < ncoef; j++)
            if (!bits_equal(tg_data(tg_grad(cb))[j], tg_data(tg_grad(coef))[b * ncoef + j]))
                fail_msg("series %" PRId64 " dcoef[%" PRId64 "]: batched %.17g, alone %.17g", b, j,
                         tg_data(tg_grad(coef))[b * ncoef + j], tg_data(tg_grad(cb))[j]);
        tg_scope_end();
    }
    if (shared)
        assert_allclose("shared dx against the sum of per-series dx", n, tg_data(tg_grad(x)), dx_sum, 1e-13,
                        1e-13);
    free(dx_sum);
    tg_scope_end();
}

static void test_batched_call_equals_per_series_calls_bit_for_bit(void **state)
{
    (void)state;
    check_batched_equals_single(false);
    check_batched_equals_single(true);
}

/* ----------------------------------------------------------- least squares */

static void test_lstsq_matches_numpy_coefficients_and_condition_number(void **state)
{
    (void)state;
    static const int fd[] = {3, 8, 32};
    for (size_t i = 0; i < sizeof fd / sizeof fd[0]; i++) {
        tg_scope_begin();
        char key[32];
        double alpha, beta, cond = 0, want_cond;
        tg_tensor *x = tgt_ref_tensor(SER, "fit.x"), *y = tgt_ref_tensor(SER, "fit.y"), *coef = NULL;
        assert_status(TG_OK, tg_legendre_range_map(1.0, 10.0, &alpha, &beta));
        assert_status(TG_OK, tg_legendre_lstsq(x, y, fd[i], alpha, beta, &coef, &cond));
        snprintf(key, sizeof key, "fit.d%d.coef", fd[i]);
        tg_tensor *want = tgt_ref_tensor(SER, key);
        double cmax = 0;
        for (int64_t j = 0; j < tg_numel(want); j++) cmax = fmax(cmax, fabs(tg_data(want)[j]));
        tgt_assert_tensor_close(key, coef, SER, key, 1e-10, 1e-10 * cmax);
        assert_false(tg_requires_grad(coef));
        snprintf(key, sizeof key, "fit.d%d.cond", fd[i]);
        want_cond = ref1(key);
        if (!(fabs(cond - want_cond) <= 1e-10 * want_cond))
            fail_msg("degree %d: condition number %.17g, numpy %.17g", fd[i], cond, want_cond);
        assert_true(cond >= 1.0);
        assert_status(TG_OK, tg_legendre_lstsq(x, y, fd[i], alpha, beta, &coef, NULL));   /* cond optional */
        tg_scope_end();
    }
}

/* Exact data of a cubic is recovered to rounding. */
static void test_lstsq_recovers_an_exact_series(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = tg_linspace(-3, 5, 50), *want = tg_from_array(1, (int64_t[]){4}, (double[]){0.5, -1, 2, 0.25});
    double alpha, beta, cond;
    assert_status(TG_OK, tg_legendre_range_map(-3, 5, &alpha, &beta));
    tg_tensor *y = tg_legendre_series(want, x, alpha, beta), *coef;
    assert_status(TG_OK, tg_legendre_lstsq(x, y, 3, alpha, beta, &coef, &cond));
    assert_allclose("recovered coefficients", 4, tg_data(coef), tg_data(want), 0, 1e-14);
    tg_scope_end();
}

/* ------------------------------------------------------------------ errors */

static void test_series_rejects_mismatched_shapes_and_empty_coefficients(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *c1 = tg_zeros(1, (int64_t[]){3}), *c2 = tg_zeros(2, (int64_t[]){2, 3});
    tg_tensor *x1 = tg_zeros(1, (int64_t[]){4}), *x2 = tg_zeros(2, (int64_t[]){2, 4});
    tg_tensor *x3 = tg_zeros(2, (int64_t[]){3, 4}), *s = tg_scalar(1), *c3 = tg_zeros(3, (int64_t[]){1, 2, 3});
    tg_tensor *c0 = tg_zeros(1, (int64_t[]){0}), *cb0 = tg_zeros(2, (int64_t[]){2, 0});
    assert_null(tg_legendre_series(c2, x3, 1, 0));
    assert_error(TG_ERR_SHAPE, "[2,3]", "[3,4]");
    assert_null(tg_legendre_series(c1, x2, 1, 0));
    assert_error(TG_ERR_SHAPE, "tg_legendre_series: coef is [3]", "[2,4]");
    assert_null(tg_legendre_series(s, x1, 1, 0));
    assert_error(TG_ERR_SHAPE, "coef is []", "[4]");
    assert_null(tg_legendre_series(c3, x1, 1, 0));
    assert_error(TG_ERR_SHAPE, "[1,2,3]", "[4]");
    assert_null(tg_legendre_series(c1, s, 1, 0));
    assert_error(TG_ERR_SHAPE, "x is []", "expected");
    assert_null(tg_legendre_series(c0, x1, 1, 0));
    assert_error(TG_ERR_SHAPE, "[0]", "at least one coefficient");
    assert_null(tg_legendre_series(cb0, x2, 1, 0));
    assert_error(TG_ERR_SHAPE, "[2,0]", "at least one coefficient");
    assert_non_null(tg_legendre_series(c2, tg_zeros(1, (int64_t[]){0}), 1, 0));   /* no points: fine */
    tg_scope_end();
}

static void test_series_rejects_null_and_non_finite_maps(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *c = tg_zeros(1, (int64_t[]){3}), *x = tg_zeros(1, (int64_t[]){4});
    tg_clear_error();
    assert_null(tg_legendre_series(NULL, x, 1, 0));
    assert_error(TG_ERR_ARG, "tg_legendre_series", "coef");
    assert_null(tg_legendre_series(c, NULL, 1, 0));
    assert_error(TG_ERR_ARG, "tg_legendre_series", "x");
    tg_set_error(TG_ERR_SHAPE, "earlier failure");
    assert_null(tg_legendre_series(c, NULL, 1, 0));
    assert_error(TG_ERR_SHAPE, "earlier", "failure");
    assert_null(tg_legendre_series(c, x, NAN, 0));
    assert_error(TG_ERR_ARG, "tg_legendre_series", "finite");
    assert_null(tg_legendre_series(c, x, 1, INFINITY));
    assert_error(TG_ERR_ARG, "tg_legendre_series", "inf");
    tg_scope_end();
}

static void test_vander_rejects_negative_degree_bad_shape_null_and_non_finite_map(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = tg_zeros(1, (int64_t[]){4});
    assert_null(tg_legendre_vander(x, -1, 1, 0));
    assert_error(TG_ERR_ARG, "tg_legendre_vander", "-1");
    assert_null(tg_legendre_vander(tg_zeros(2, (int64_t[]){2, 2}), 3, 1, 0));
    assert_error(TG_ERR_SHAPE, "tg_legendre_vander", "[2,2]");
    assert_null(tg_legendre_vander(x, 3, NAN, 0));
    assert_error(TG_ERR_ARG, "tg_legendre_vander", "finite");
    tg_clear_error();
    assert_null(tg_legendre_vander(NULL, 3, 1, 0));
    assert_error(TG_ERR_ARG, "tg_legendre_vander", "NULL");
    tg_tensor *v = tg_legendre_vander(tg_zeros(1, (int64_t[]){0}), 2, 1, 0);
    assert_non_null(v);
    assert_int_equal(tg_shape(v)[0], 0);
    assert_int_equal(tg_shape(v)[1], 3);
    tg_scope_end();
}

static void expect_lstsq_error(tg_status want, tg_tensor *x, tg_tensor *y, int degree, double alpha,
                               const char *n1, const char *n2)
{
    tg_tensor *coef = (tg_tensor *)&coef;   /* any non-NULL value: must come back NULL */
    double cond = 1;
    assert_status(want, tg_legendre_lstsq(x, y, degree, alpha, 0, &coef, &cond));
    assert_null(coef);
    assert_true(isnan(cond));
    assert_error(want, n1, n2);
}

static void test_lstsq_rejects_every_documented_error(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = tg_linspace(-1, 1, 10), *y = tg_linspace(0, 1, 10), *coef;
    expect_lstsq_error(TG_ERR_ARG, x, y, -1, 1, "tg_legendre_lstsq", "-1");
    expect_lstsq_error(TG_ERR_SHAPE, x, tg_linspace(0, 1, 9), 2, 1, "[10]", "[9]");
    expect_lstsq_error(TG_ERR_SHAPE, tg_zeros(2, (int64_t[]){2, 5}), y, 2, 1, "[2,5]", "[10]");
    expect_lstsq_error(TG_ERR_ARG, x, y, 2, NAN, "tg_legendre_lstsq", "finite");
    tg_tensor *ybad = tg_linspace(0, 1, 10);
    tg_data(ybad)[4] = NAN;
    expect_lstsq_error(TG_ERR_ARG, x, ybad, 2, 1, "y[4]", "nan");
    tg_tensor *xbad = tg_linspace(0, 1, 10);
    tg_data(xbad)[7] = -INFINITY;
    expect_lstsq_error(TG_ERR_ARG, xbad, y, 2, 1, "x[7]", "inf");
    expect_lstsq_error(TG_ERR_NUMERIC, x, y, 10, 1, "10 points", "11 coefficients");
    tg_clear_error();
    expect_lstsq_error(TG_ERR_ARG, NULL, y, 2, 1, "tg_legendre_lstsq", "x");
    assert_status(TG_ERR_ARG, tg_legendre_lstsq(x, y, 2, 1, 0, NULL, NULL));
    assert_error(TG_ERR_ARG, "tg_legendre_lstsq", "coef is NULL");
    /* every point the same: rank 1, reported with an infinite or huge condition number */
    tg_tensor *same = tg_full(1, (int64_t[]){10}, 0.25);
    double cond = 0;
    coef = x;
    assert_status(TG_ERR_NUMERIC, tg_legendre_lstsq(same, y, 2, 1, 0, &coef, &cond));
    assert_null(coef);
    assert_true(cond > 1e15);
    assert_error(TG_ERR_NUMERIC, "rank 1 < 3", "condition number");
    tg_scope_end();
}

/* ------------------------------------------------------------------ main */

#define T(name) tgt_test(name)

int main(void)
{
    tgt_warm_scopes();

    const struct CMUnitTest tests[] = {
        T(test_range_map_equals_numpy_mapparms_bit_for_bit),
        T(test_range_map_rejects_empty_reversed_and_non_finite_ranges),
        T(test_series_values_and_gradients_match_numpy_for_degrees_0_to_200),
        T(test_vander_matches_numpy_legvander_and_the_series),
        T(test_batched_series_match_numpy_with_own_and_shared_points),
        T(test_p3_as_a_series_equals_tg_legendre),
        T(test_series_passes_gradcheck_and_gradgradcheck),
        T(test_vander_passes_gradcheck_and_gradgradcheck),
        T(test_series_third_derivative_by_nested_create_graph),
        T(test_batched_call_equals_per_series_calls_bit_for_bit),
        T(test_lstsq_matches_numpy_coefficients_and_condition_number),
        T(test_lstsq_recovers_an_exact_series),
        T(test_series_rejects_mismatched_shapes_and_empty_coefficients),
        T(test_series_rejects_null_and_non_finite_maps),
        T(test_vander_rejects_negative_degree_bad_shape_null_and_non_finite_map),
        T(test_lstsq_rejects_every_documented_error),
    };
    return cmocka_run_group_tests_name("series", tests, NULL, NULL);
}
