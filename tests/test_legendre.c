/* SPDX-License-Identifier: MIT */
/*
** tg_legendre: P_n and its first two derivatives for n = 0..64 against exact
** values (tests/data/legendre.txt, exact rational arithmetic rounded once),
** the derivatives taken through tg_backward and tg_autograd_grad with
** create_graph; gradcheck and gradgradcheck; the n < 0 and NULL errors; and a
** batch computed in one call agreeing bit for bit with one call per point.
*/
#include "support.h"
#include "core/internal.h"   /* tg__alloc_live, tg__scope_end_to: leak and scope checks */

#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define LEG "legendre.txt"
#define N_MAX 64
#define N_X 43   /* -1.05, the 41 points -1, -0.95, ..., 1, and 1.05 */

/* Tolerance for a value v of P_n^(k) at the grid point x:
**
**     |v - exact| <= 1e-12 |exact| + (n + 1) DBL_EPSILON M,
**
** where M is the largest |exact value| of that function (same n and k) over
** the region of x: over [-1, 1], or over the two points +-1.05.  Bonnet's
** recurrence and its differentiated form are forward-stable: each of the n
** steps adds a rounding error of a few ulps of the largest term, and the
** errors do not grow (Gautschi), so the absolute error is a modest multiple of
** n u M.  The relative term cannot serve alone: inside [-1, 1] the values
** cross zero (P_n(0) = 0 exactly for odd n) and their relative error there is
** unbounded.  The regions are kept apart because |P_64(1.05)| ~ 6e7 would
** make an absolute tolerance scaled by it meaningless for |P| <= 1 inside;
** outside, P_n and its derivatives have no zeros and grow monotonically, so
** the bound is in effect relative.  Measured (n = 0..64, all three orders):
** worst |error| / M = 9.4e-16 inside and 2.5e-15 outside, against the allowed
** (n + 1) DBL_EPSILON = 1.4e-14 at n = 64. */
#define LEG_RTOL 1e-12

static double xs[N_X];

static void load_grid(void)
{
    assert_int_equal(tgt_ref(LEG, "x", xs, N_X), N_X);
}

static bool inside(double x) { return fabs(x) <= 1.0; }

/* Compares got[0..N_X) with the key's exact values under the tolerance above. */
static void assert_legendre_close(const char *key, int n, const double *got)
{
    double want[N_X], scale_in = 0, scale_out = 0;
    assert_int_equal(tgt_ref(LEG, key, want, N_X), N_X);
    for (int i = 0; i < N_X; i++) {
        double *scale = inside(xs[i]) ? &scale_in : &scale_out;
        *scale = fmax(*scale, fabs(want[i]));
    }
    for (int i = 0; i < N_X; i++) {
        double atol = (n + 1) * DBL_EPSILON * (inside(xs[i]) ? scale_in : scale_out);
        double err = fabs(got[i] - want[i]), allowed = LEG_RTOL * fabs(want[i]) + atol;
        if (!(err <= allowed))
            fail_msg("%s at x = %g (index %d): got %.17g, exact %.17g, error %.3g > allowed %.3g", key, xs[i],
                     i, got[i], want[i], err, allowed);
    }
}

static tg_tensor *grid(bool requires_grad)
{
    tg_tensor *x = tgt_ref_tensor(LEG, "x");
    assert_int_equal(tg_numel(x), N_X);
    if (requires_grad)
        assert_status(TG_OK, tg_set_requires_grad(x, true));
    return x;
}

/* ------------------------------------------------- against exact values */

static void test_legendre_values_match_exact_for_n_0_to_64(void **state)
{
    (void)state;
    load_grid();
    for (int n = 0; n <= N_MAX; n++) {
        tg_scope_begin();
        char key[16];
        snprintf(key, sizeof key, "P%d", n);
        tg_tensor *y = tg_legendre(grid(false), n);
        if (!y)
            fail_msg("tg_legendre(x, %d): %s", n, tg_last_error());
        assert_int_equal(tg_ndim(y), 1);
        assert_int_equal(tg_shape(y)[0], N_X);
        assert_legendre_close(key, n, tg_data(y));
        tg_scope_end();
    }
}

static void test_legendre_first_derivative_by_backward_matches_exact(void **state)
{
    (void)state;
    load_grid();
    for (int n = 0; n <= N_MAX; n++) {
        tg_scope_begin();
        char key[16];
        snprintf(key, sizeof key, "dP%d", n);
        tg_tensor *x = grid(true);
        assert_status(TG_OK, tg_backward(tg_sum(tg_legendre(x, n)), NULL));   /* elementwise: grad = P_n' */
        assert_non_null(tg_grad(x));
        assert_legendre_close(key, n, tg_data(tg_grad(x)));
        tg_scope_end();
    }
}

static void test_legendre_second_derivative_by_create_graph_matches_exact(void **state)
{
    (void)state;
    load_grid();
    for (int n = 0; n <= N_MAX; n++) {
        tg_scope_begin();
        char key[16];
        tg_tensor *x = grid(true), *y = tg_legendre(x, n), *ones = tg_full(1, (int64_t[]){N_X}, 1.0);
        tg_tensor *d1, *d2;
        tg_backward_opts create = {.create_graph = true};
        assert_status(TG_OK, tg_autograd_grad(1, &y, &ones, 1, &x, &d1, &create));
        assert_true(tg_requires_grad(d1));
        snprintf(key, sizeof key, "dP%d", n);
        assert_legendre_close(key, n, tg_data(d1));
        assert_status(TG_OK, tg_autograd_grad(1, &d1, &ones, 1, &x, &d2, NULL));
        snprintf(key, sizeof key, "d2P%d", n);
        assert_legendre_close(key, n, tg_data(d2));
        assert_null(tg_grad(x));   /* tg_autograd_grad accumulates nothing */
        tg_scope_end();
    }
}

/* d^k/dx^k P_n through k nested create_graph passes: the n-th derivative is
** the constant (2n)! / (2^n n!), every higher one is zero. */
static void test_legendre_nth_derivative_is_constant_and_higher_ones_vanish(void **state)
{
    (void)state;
    for (int n = 0; n <= 5; n++) {
        tg_scope_begin();
        double lead = 1;   /* (2n)! / (2^n n!) = 1 * 3 * 5 * ... * (2n - 1) */
        for (int j = 1; j <= n; j++)
            lead *= 2 * j - 1;
        tg_tensor *x = tg_linspace(-0.9, 0.9, 5);
        assert_status(TG_OK, tg_set_requires_grad(x, true));
        tg_tensor *d = tg_legendre(x, n), *ones = tg_full(1, (int64_t[]){5}, 1.0);
        tg_backward_opts create = {.create_graph = true};
        for (int k = 1; k <= n + 1; k++) {
            tg_tensor *next;
            assert_status(TG_OK, tg_autograd_grad(1, &d, &ones, 1, &x, &next, &create));
            d = next;
            if (k < n)
                continue;
            for (int i = 0; i < 5; i++)
                if (tg_data(d)[i] != (k == n ? lead : 0.0))
                    fail_msg("d^%d/dx^%d P_%d at point %d is %.17g, expected %g", k, k, n, i, tg_data(d)[i],
                             k == n ? lead : 0.0);
        }
        tg_scope_end();
    }
}

/* ---------------------------------------------------------- gradcheck */

static tg_tensor *apply_legendre(tg_tensor *const *in, void *user)
{
    return tg_legendre(in[0], *(const int *)user);
}

/* Points inside (-1, 1) and not symmetric, so odd and even n are both seen.
** Finite-difference error grows with the derivatives (|P_64'''| reaches ~1e6
** on these points): tolerances scale with n^2, still far below any error of
** a wrong formula (which is of the size of the derivative itself). */
static void test_legendre_passes_gradcheck_and_gradgradcheck(void **state)
{
    (void)state;
    static int degrees[] = {0, 1, 2, 3, 10, 64};
    for (size_t d = 0; d < sizeof degrees / sizeof degrees[0]; d++) {
        tg_scope_begin();
        int n = degrees[d];
        double scale = n < 1 ? 1.0 : (double)n * n;
        tg_tensor *x = tg_from_array(1, (int64_t[]){7}, (double[]){-0.83, -0.51, -0.27, 0.05, 0.33, 0.62, 0.88});
        assert_status(TG_OK, tg_set_requires_grad(x, true));
        tg_status st = tg_gradcheck(apply_legendre, 1, &x, &degrees[d], 1e-6, 1e-8 * scale, 1e-6);
        if (st != TG_OK)
            fail_msg("tg_gradcheck of P_%d: %s", n, tg_last_error());
        st = tg_gradgradcheck(apply_legendre, 1, &x, &degrees[d], 1e-6, 1e-7 * scale, 1e-5);
        if (st != TG_OK)
            fail_msg("tg_gradgradcheck of P_%d: %s", n, tg_last_error());
        tg_scope_end();
    }
}

/* ------------------------------------------------------------ errors */

static void test_legendre_rejects_negative_n(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = tg_linspace(-0.5, 0.5, 3);
    assert_status(TG_OK, tg_set_requires_grad(x, true));
    assert_null(tg_legendre(x, -1));
    assert_error(TG_ERR_ARG, "tg_legendre", "-1");
    assert_null(tg_legendre(x, INT_MIN));
    assert_error(TG_ERR_ARG, "tg_legendre", "-2147483648");
    tg_scope_end();
}

static void test_legendre_of_null_is_arg_error_or_keeps_the_earlier_one(void **state)
{
    (void)state;
    tg_clear_error();
    assert_null(tg_legendre(NULL, 3));
    assert_error(TG_ERR_ARG, "tg_legendre", "NULL");
    tg_set_error(TG_ERR_SHAPE, "earlier failure");
    assert_null(tg_legendre(NULL, 3));
    assert_int_equal(tg_last_status(), TG_ERR_SHAPE);
    assert_string_equal(tg_last_error(), "earlier failure");
    tg_clear_error();
}

/* ------------------------------------------------- batch vs point by point */

/* Points are independent in the kernel, so blocking (64 points a block, a
** short last block here: 2000 = 31 * 64 + 16) and vectorization must not
** change a single bit, neither for P_n nor for its derivative. */
static void test_legendre_batch_equals_one_call_per_point_bit_for_bit(void **state)
{
    (void)state;
    static const int degrees[] = {0, 1, 2, 3, 10, 63, 64};
    const int64_t n_pts = 2000;
    for (size_t d = 0; d < sizeof degrees / sizeof degrees[0]; d++) {
        tg_scope_begin();
        int n = degrees[d];
        tg_tensor *x = tg_linspace(-1.05, 1.05, n_pts);
        assert_status(TG_OK, tg_set_requires_grad(x, true));
        tg_tensor *y = tg_legendre(x, n);
        assert_non_null(y);
        assert_status(TG_OK, tg_backward(tg_sum(y), NULL));
        const double *batch = tg_data(y), *batch_grad = tg_data(tg_grad(x));
        for (int64_t i = 0; i < n_pts; i++) {
            tg_scope_begin();
            tg_tensor *xi = tg_scalar(tg_data(x)[i]);
            assert_status(TG_OK, tg_set_requires_grad(xi, true));
            tg_tensor *yi = tg_legendre(xi, n);
            assert_non_null(yi);
            assert_status(TG_OK, tg_backward(yi, NULL));
            double v = tg_item(yi), g = tg_item(tg_grad(xi));
            if (memcmp(&v, &batch[i], sizeof v) != 0 || memcmp(&g, &batch_grad[i], sizeof g) != 0)
                fail_msg("P_%d at x[%" PRId64 "] = %.17g: batch %.17g / %.17g, alone %.17g / %.17g", n, i,
                         tg_data(x)[i], batch[i], batch_grad[i], v, g);
            tg_scope_end();
        }
        tg_scope_end();
    }
}

/* ------------------------------------------------------------------ main */

#define T(name) tgt_test(name)

int main(void)
{
    /* Ended scopes are kept for reuse (src/core/scope.c), so the first time a
    ** nesting depth is reached costs blocks that stay: reach every depth the
    ** tests use (nested create_graph passes nest deepest) before counting. */
    tgt_warm_scopes();

    const struct CMUnitTest tests[] = {
        T(test_legendre_values_match_exact_for_n_0_to_64),
        T(test_legendre_first_derivative_by_backward_matches_exact),
        T(test_legendre_second_derivative_by_create_graph_matches_exact),
        T(test_legendre_nth_derivative_is_constant_and_higher_ones_vanish),
        T(test_legendre_passes_gradcheck_and_gradgradcheck),
        T(test_legendre_rejects_negative_n),
        T(test_legendre_of_null_is_arg_error_or_keeps_the_earlier_one),
        T(test_legendre_batch_equals_one_call_per_point_bit_for_bit),
    };
    return cmocka_run_group_tests_name("legendre", tests, NULL, NULL);
}
