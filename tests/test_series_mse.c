/* SPDX-License-Identifier: MIT */
/*
** The fused squared error of a Legendre series (tg_legendre_series_mse,
** tg_legendre_series_mse_points; kernel legsse): loss and gradients (to coef,
** x, y, w) equal to the same loss composed of the ops one by one to 1e-12,
** for one series, batched series with own and shared points, with and
** without weights, SUM, MEAN and NONE, degrees on both kernel paths (the P
** table up to 64 coefficients, Clenshaw beyond), lengths around the block
** and chunk sizes; points read in place through strides; gradcheck and
** gradgradcheck; the same bits on 1 and 2 threads; no system allocation per
** steady step; every documented error.
*/
#include "support.h"
#include "kernels/parallel.h"   /* tg__par_set_min_work: threads even for small tests */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RTOL 1e-12

static tg_tensor *leaf(int ndim, const int64_t *shape, double phase, double scale)
{
    tg_tensor *t = tg_zeros(ndim, shape);
    for (int64_t i = 0; i < tg_numel(t); i++) tg_data(t)[i] = scale * sin(phase + 0.77 * (double)i);
    assert_status(TG_OK, tg_set_requires_grad(t, true));
    return t;
}

/* x on [-1.3, 2.1] (mapped onto [-1, 1]) */
static tg_tensor *points(int ndim, const int64_t *shape)
{
    tg_tensor *t = tg_zeros(ndim, shape);
    const int64_t n = tg_numel(t);
    for (int64_t i = 0; i < n; i++)
        tg_data(t)[i] = -1.3 + 3.4 * (double)((i * 7919) % (n > 0 ? n : 1)) / (double)(n > 1 ? n - 1 : 1);
    assert_status(TG_OK, tg_set_requires_grad(t, true));
    return t;
}

static const double A = 2.0 / 3.4, B = (-2.1 + 1.3) / 3.4;

/* the loss of the ops one by one */
static tg_tensor *composed(tg_tensor *c, tg_tensor *x, tg_tensor *y, tg_tensor *w, tg_reduction red)
{
    tg_tensor *d = tg_sub(tg_legendre_series(c, x, A, B), y);
    tg_tensor *sq = tg_pow(w ? tg_mul(w, d) : d, 2.0);
    return red == TG_REDUCTION_SUM ? tg_sum(sq) : red == TG_REDUCTION_MEAN ? tg_mean(sq) : sq;
}

static double max_abs(const tg_tensor *t)
{
    double m = 0;
    for (int64_t i = 0; i < tg_numel(t); i++) m = fmax(m, fabs(tg_data((tg_tensor *)t)[i]));
    return m;
}

/* value and every gradient of fused and composed to 1e-12 relative to the largest
** entry, or absolute below 1: the fused pass sums P_j by Bonnet where the series
** op runs Clenshaw, so a small residual of O(1) terms (a loss of 3e-4 at one
** point, 64 coefficients) differs by a few ulps of the terms, not of itself. */
static void compare(const char *what, tg_tensor *fused, tg_tensor *ref, int n, tg_tensor *const *in)
{
    tg_tensor *gf[4] = {0}, *gr[4] = {0};
    assert_non_null(fused);
    assert_non_null(ref);
    assert_allclose(what, tg_numel(ref), tg_data(fused), tg_data(ref), RTOL, RTOL * fmax(max_abs(ref), 1.0));
    tg_tensor *seed_f = tg_numel(fused) == 1 ? NULL : tg_full(tg_ndim(fused), tg_shape(fused), 1.0);
    tg_tensor *seed_r = tg_numel(ref) == 1 ? NULL : tg_full(tg_ndim(ref), tg_shape(ref), 1.0);
    assert_status(TG_OK, tg_autograd_grad(1, &fused, seed_f ? &seed_f : NULL, n, in, gf, NULL));
    assert_status(TG_OK, tg_autograd_grad(1, &ref, seed_r ? &seed_r : NULL, n, in, gr, NULL));
    for (int i = 0; i < n; i++) {
        char name[128];
        snprintf(name, sizeof name, "%s d input %d", what, i);
        assert_non_null(gf[i]);
        assert_allclose(name, tg_numel(gr[i]), tg_data(gf[i]), tg_data(gr[i]), RTOL, RTOL * fmax(max_abs(gr[i]), 1.0));
    }
}

static void check_case(const char *what, int64_t nb, int64_t n, int64_t k, bool shared, bool weighted)
{
    tg_scope_begin();
    tg_tensor *c = nb ? leaf(2, (int64_t[]){nb, k}, 0.3, 1.0) : leaf(1, &k, 0.3, 1.0);
    tg_tensor *x = nb && !shared ? points(2, (int64_t[]){nb, n}) : points(1, &n);
    int64_t ys[2] = {nb, n};
    tg_tensor *y = nb ? leaf(2, ys, 1.1, 0.5) : leaf(1, &n, 1.1, 0.5);
    tg_tensor *w = !weighted ? NULL : nb ? leaf(2, ys, 0.4, 1.0) : leaf(1, &n, 0.4, 1.0);
    tg_tensor *in[4] = {c, x, y, w};
    static const tg_reduction reds[3] = {TG_REDUCTION_SUM, TG_REDUCTION_MEAN, TG_REDUCTION_NONE};
    for (int r = 0; r < 3; r++) {
        char name[160];
        snprintf(name, sizeof name, "%s nb %lld n %lld k %lld%s red %d", what, (long long)nb, (long long)n,
                 (long long)k, weighted ? " weighted" : "", r);
        compare(name, tg_legendre_series_mse(c, x, y, w, A, B, reds[r]), composed(c, x, y, w, reds[r]),
                weighted ? 4 : 3, in);
    }
    /* only coef requires grad: the backward is the gradient the forward's pass summed */
    tg_tensor *xd = tg_detach(x), *yd = tg_detach(y), *wd = w ? tg_detach(w) : NULL;
    for (int r = 0; r < 2; r++)
        compare(what, tg_legendre_series_mse(c, xd, yd, wd, A, B, reds[r]), composed(c, xd, yd, wd, reds[r]), 1, &c);
    tg_scope_end();
}

static void test_fused_loss_equals_the_ops_one_by_one(void **state)
{
    (void)state;
    static const int64_t ks[] = {1, 2, 4, 11, 64, 65, 90};
    static const int64_t ns[] = {1, 7, 64, 65, 4097, 9000};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++)
        for (size_t j = 0; j < sizeof ns / sizeof ns[0]; j++) {
            check_case("one series", 0, ns[j], ks[i], false, j % 2 == 1);
            if (ns[j] <= 4097) {
                check_case("own points", 3, ns[j], ks[i], false, j % 2 == 0);
                check_case("shared points", 2, ns[j], ks[i], true, j % 2 == 1);
            }
        }
}

/* interleaved rows [x, y, w] as a C-order [N, 3] array */
static void fill_rows(int64_t n, double *rows)
{
    for (int64_t i = 0; i < n; i++) {
        rows[3 * i] = -1.3 + 3.4 * (double)((i * 7919) % n) / (double)(n > 1 ? n - 1 : 1);
        rows[3 * i + 1] = 0.5 * sin(1.1 + 0.77 * (double)i);
        rows[3 * i + 2] = sin(0.4 + 0.77 * (double)i);
    }
}

static void test_points_read_in_place_equal_the_ops_one_by_one(void **state)
{
    (void)state;
    static const int64_t ks[] = {1, 3, 11, 70};
    static const int64_t ns[] = {1, 9, 64, 4096, 4097, 10000};
    double *rows = malloc(3 * 10000 * sizeof *rows);
    assert_non_null(rows);
    for (size_t a = 0; a < sizeof ks / sizeof ks[0]; a++)
        for (size_t b = 0; b < sizeof ns / sizeof ns[0]; b++)
            for (int weighted = 0; weighted < 2; weighted++) {
                const int64_t n = ns[b], k = ks[a];
                fill_rows(n, rows);
                tg_scope_begin();
                tg_tensor *c = leaf(1, &k, 0.3, 1.0), *x = tg_zeros(1, &n), *y = tg_zeros(1, &n), *w = tg_zeros(1, &n);
                for (int64_t i = 0; i < n; i++) {
                    tg_data(x)[i] = rows[3 * i];
                    tg_data(y)[i] = rows[3 * i + 1];
                    tg_data(w)[i] = rows[3 * i + 2];
                }
                tg_points pts = {.x = rows, .y = rows + 1, .w = weighted ? rows + 2 : NULL, .n = n,
                                 .x_stride = 3, .y_stride = 3, .w_stride = 3};
                for (int r = 0; r < 2; r++) {
                    tg_reduction red = r ? TG_REDUCTION_MEAN : TG_REDUCTION_SUM;
                    char name[128];
                    snprintf(name, sizeof name, "points n %lld k %lld%s red %d", (long long)n, (long long)k,
                             weighted ? " weighted" : "", r);
                    compare(name, tg_legendre_series_mse_points(c, &pts, A, B, red),
                            composed(c, x, y, weighted ? w : NULL, red), 1, &c);
                }
                tg_scope_end();
            }
    free(rows);
}

/* ------------------------------------------------------- gradcheck */

static tg_tensor *apply_mse(tg_tensor *const *in, void *user)
{
    return tg_legendre_series_mse(in[0], in[1], in[2], *(bool *)user ? in[3] : NULL, A, B, TG_REDUCTION_SUM);
}

static tg_tensor *apply_points(tg_tensor *const *in, void *user)
{
    return tg_legendre_series_mse_points(in[0], user, A, B, TG_REDUCTION_MEAN);
}

static void test_fused_loss_passes_gradcheck_and_gradgradcheck(void **state)
{
    (void)state;
    tg_scope_begin();
    for (int64_t k = 1; k <= 5; k += 2)
        for (int weighted = 0; weighted < 2; weighted++) {
            bool wflag = weighted;
            tgt_check_grads("one series", apply_mse, 3 + weighted,
                            (tg_tensor *[]){leaf(1, &k, 0.3, 1.0), points(1, (int64_t[]){6}),
                                            leaf(1, (int64_t[]){6}, 1.1, 0.5), leaf(1, (int64_t[]){6}, 0.4, 1.0)},
                            &wflag);
            tgt_check_grads("shared points", apply_mse, 3 + weighted,
                            (tg_tensor *[]){leaf(2, (int64_t[]){2, k}, 0.3, 1.0), points(1, (int64_t[]){5}),
                                            leaf(2, (int64_t[]){2, 5}, 1.1, 0.5),
                                            leaf(2, (int64_t[]){2, 5}, 0.4, 1.0)},
                            &wflag);
            tgt_check_grads("own points", apply_mse, 3 + weighted,
                            (tg_tensor *[]){leaf(2, (int64_t[]){2, k}, 0.3, 1.0), points(2, (int64_t[]){2, 4}),
                                            leaf(2, (int64_t[]){2, 4}, 1.1, 0.5),
                                            leaf(2, (int64_t[]){2, 4}, 0.4, 1.0)},
                            &wflag);
        }
    double rows[3 * 40];
    fill_rows(40, rows);
    tg_points pts = {.x = rows, .y = rows + 1, .w = rows + 2, .n = 40, .x_stride = 3, .y_stride = 3, .w_stride = 3};
    int64_t k = 6;
    tgt_check_grads("points", apply_points, 1, (tg_tensor *[]){leaf(1, &k, 0.3, 1.0)}, &pts);
    tg_scope_end();
}

/* ------------------------------------------------------- threads, allocations */

static void step_bits(tg_tensor *c, const tg_points *pts, tg_tensor *x, tg_tensor *y, double *out)
{
    tg_scope_begin();
    tg_zero_grad(c);
    tg_tensor *l = tg_legendre_series_mse_points(c, pts, A, B, TG_REDUCTION_MEAN);
    assert_status(TG_OK, tg_backward(l, NULL));
    out[0] = tg_item(l);
    memcpy(out + 1, tg_data(tg_grad(c)), (size_t)tg_numel(c) * sizeof *out);
    tg_zero_grad(c);
    l = tg_legendre_series_mse(c, x, y, NULL, A, B, TG_REDUCTION_SUM);
    assert_status(TG_OK, tg_backward(l, NULL));
    out[1 + tg_numel(c)] = tg_item(l);
    memcpy(out + 2 + tg_numel(c), tg_data(tg_grad(c)), (size_t)tg_numel(c) * sizeof *out);
    tg_scope_end();
}

static void test_same_bits_on_one_and_two_threads(void **state)
{
    (void)state;
    const int threads0 = tg_get_num_threads();
    const int64_t old = tg__par_set_min_work(1);   /* threads even at this size */
    const int64_t n = 3 * 4096 + 17, k = 11;
    double *rows = malloc((size_t)(3 * n) * sizeof *rows), one[2 + 2 * 11], two[2 + 2 * 11];
    assert_non_null(rows);
    fill_rows(n, rows);
    tg_points pts = {.x = rows, .y = rows + 1, .n = n, .x_stride = 3, .y_stride = 3};
    tg_tensor *c = leaf(1, &k, 0.3, 1.0), *x = tg_zeros(1, &n), *y = tg_zeros(1, &n);
    for (int64_t i = 0; i < n; i++) {
        tg_data(x)[i] = rows[3 * i];
        tg_data(y)[i] = rows[3 * i + 1];
    }
    tg_set_num_threads(1);
    step_bits(c, &pts, x, y, one);
    tg_set_num_threads(2);
    step_bits(c, &pts, x, y, two);
    assert_memory_equal(one, two, sizeof one);
    tg_set_num_threads(threads0);
    tg__par_set_min_work(old);
    tg_free(c);
    tg_free(x);
    tg_free(y);
    free(rows);
}

static void test_steady_step_allocates_nothing_from_the_system(void **state)
{
    (void)state;
    const int64_t n = 5000, k = 9;
    double *rows = malloc((size_t)(3 * n) * sizeof *rows), v[2 + 2 * 9];
    assert_non_null(rows);
    fill_rows(n, rows);
    tg_points pts = {.x = rows, .y = rows + 1, .w = rows + 2, .n = n, .x_stride = 3, .y_stride = 3, .w_stride = 3};
    tg_tensor *c = leaf(1, &k, 0.3, 1.0), *x = tg_zeros(1, &n), *y = tg_zeros(1, &n);
    for (int i = 0; i < 5; i++) step_bits(c, &pts, x, y, v);   /* warm: the pools fill */
    tg_memory_stats before, after;
    tg_get_memory_stats(&before);
    for (int i = 0; i < 50; i++) step_bits(c, &pts, x, y, v);
    tg_get_memory_stats(&after);
    assert_int_equal(after.system_allocations, before.system_allocations);
    assert_int_equal(after.live_blocks, before.live_blocks);
    tg_free(c);
    tg_free(x);
    tg_free(y);
    free(rows);
}

/* ------------------------------------------------------- errors */

static void expect_error(tg_tensor *t, tg_status st, const char *needle)
{
    assert_null(t);
    assert_int_equal(tg_last_status(), st);
    if (!strstr(tg_last_error(), needle))
        fail_msg("message '%s' lacks '%s'", tg_last_error(), needle);
    tg_clear_error();
}

static void test_fused_loss_rejects_every_documented_error(void **state)
{
    (void)state;
    tg_scope_begin();
    int64_t k = 3, n = 5;
    tg_tensor *c = tg_zeros(1, &k), *x = tg_zeros(1, &n), *y = tg_zeros(1, &n), *y4 = tg_zeros(1, (int64_t[]){4});
    tg_tensor *cb = tg_zeros(2, (int64_t[]){2, 3});
    expect_error(tg_legendre_series_mse(c, x, y4, NULL, A, B, TG_REDUCTION_SUM), TG_ERR_SHAPE,
                 "tg_legendre_series_mse: y is [4]");
    expect_error(tg_legendre_series_mse(c, x, y, y4, A, B, TG_REDUCTION_SUM), TG_ERR_SHAPE, "w is [4]");
    expect_error(tg_legendre_series_mse(cb, x, y, NULL, A, B, TG_REDUCTION_SUM), TG_ERR_SHAPE, "y is [5]");
    expect_error(tg_legendre_series_mse(c, x, y, NULL, A, B, (tg_reduction)7), TG_ERR_ARG, "reduction 7");
    expect_error(tg_legendre_series_mse(c, x, y, NULL, NAN, B, TG_REDUCTION_SUM), TG_ERR_ARG, "must be finite");
    expect_error(tg_legendre_series_mse(c, x, NULL, NULL, A, B, TG_REDUCTION_SUM), TG_ERR_ARG, "y");
    double rows[10] = {0};
    tg_points pts = {.x = rows, .y = rows + 1, .n = 5, .x_stride = 2, .y_stride = 2};
    expect_error(tg_legendre_series_mse_points(c, NULL, A, B, TG_REDUCTION_SUM), TG_ERR_ARG, "pts is NULL");
    expect_error(tg_legendre_series_mse_points(c, &(tg_points){.x = rows, .n = 5}, A, B, TG_REDUCTION_SUM),
                 TG_ERR_ARG, "pts->y is NULL");
    expect_error(tg_legendre_series_mse_points(c, &(tg_points){.x = rows, .y = rows, .n = -1}, A, B,
                                               TG_REDUCTION_SUM), TG_ERR_ARG, "must be >= 0");
    expect_error(tg_legendre_series_mse_points(cb, &pts, A, B, TG_REDUCTION_SUM), TG_ERR_SHAPE, "coef is [2,3]");
    expect_error(tg_legendre_series_mse_points(c, &pts, A, B, TG_REDUCTION_NONE), TG_ERR_ARG, "reduction 2");
    tg_scope_end();
}

int main(void)
{
    tgt_warm_scopes();
    const struct CMUnitTest tests[] = {
        tgt_test(test_fused_loss_equals_the_ops_one_by_one),
        tgt_test(test_points_read_in_place_equal_the_ops_one_by_one),
        tgt_test(test_fused_loss_passes_gradcheck_and_gradgradcheck),
        tgt_test(test_same_bits_on_one_and_two_threads),
        tgt_test(test_steady_step_allocates_nothing_from_the_system),
        tgt_test(test_fused_loss_rejects_every_documented_error),
    };
    return cmocka_run_group_tests_name("series_mse", tests, NULL, NULL);
}
