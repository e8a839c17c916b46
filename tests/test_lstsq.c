/* SPDX-License-Identifier: MIT */
/*
** The streaming least squares (tg_legendre_lstsq_points, its parts and the
** fixed QR tree): against LAPACK's dgelsd on the whole design matrix and
** exact rational answers at condition numbers up to 1e12, at the block
** boundaries, rank-deficient designs, bit-identity over part splits, thread
** counts and strides, weights, the covariance, interruption and errors.
*/
#include "support.h"
#include "core/internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define B TG_LSTSQ_BLOCK

static void fill(int64_t n, double *x, double *y, uint64_t seed)
{
    uint64_t s = seed;
    for (int64_t i = 0; i < n; i++) {
        x[i] = tgt_uniform(&s, -2.0, 3.0);
        y[i] = sin(2.0 * x[i]) + 0.1 * tgt_uniform(&s, -1.0, 1.0);
    }
}

/* The min-norm solution by dgelsd on the whole weighted design; cond from its singular values. */
static void reference(int64_t n, const double *x, const double *y, const double *w, int degree, double alpha,
                      double beta, double *coef, double *cond, int64_t *rank)
{
    const int64_t k = degree + 1, m = n > k ? n : k;
    double *a = calloc((size_t)(m * k), sizeof *a), *b = calloc((size_t)m, sizeof *b), *s = calloc((size_t)k, sizeof *s);
    tg_scope_begin();
    tg_tensor *v = tg_legendre_vander(tg_from_array(1, &n, x), degree, alpha, beta);
    for (int64_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        for (int64_t j = 0; j < k; j++)
            a[i * k + j] = wi * tg_data(v)[i * k + j];
        b[i] = wi * y[i];
    }
    tg_scope_end();
    assert_int_equal(tg__dgelsd("test", m, k, a, b, s, DBL_EPSILON * (double)(n > 1 ? n : 1), rank), TG_OK);
    memcpy(coef, b, (size_t)k * sizeof *coef);
    *cond = s[0] / s[k - 1];
    free(a);
    free(b);
    free(s);
}

static tg_lstsq_result fit(int64_t n, const double *x, const double *y, const double *w, int degree, double alpha,
                           double beta)
{
    tg_points pts = {.x = x, .y = y, .w = w, .n = n};
    tg_lstsq_result r;
    assert_int_equal(tg_legendre_lstsq_points(&pts, degree, alpha, beta, NULL, &r), TG_OK);
    return r;
}

static double max_abs(int64_t n, const double *v)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++)
        m = fmax(m, fabs(v[i]));
    return m;
}

/* ------------------------------------------------------------ accuracy */

/* A line through symmetric dyadic points: c0 = mean(y), c1 = sum(t y) / sum(t^2), exactly. */
static void test_lstsq_gives_the_exact_rational_answer_of_a_line(void **state)
{
    (void)state;
    enum { N = 2 * B + 3 };
    static double x[N], y[N];
    double sy = 0, sty = 0, stt = 0;
    for (int64_t i = 0; i < N; i++) {
        x[i] = (double)(i - N / 2) / 1024.0;         /* symmetric, exact */
        y[i] = (double)((i * 7919) % 61) - 30.0;      /* small integers */
        sy += y[i];
        sty += x[i] * y[i];                          /* exact: integers over 2^10 */
        stt += x[i] * x[i];
    }
    double want[2] = {sy / N, sty / stt};
    tg_lstsq_result r = fit(N, x, y, NULL, 1, 1.0, 0.0);
    assert_allclose("line", 2, r.coef, want, 4 * DBL_EPSILON, 4 * DBL_EPSILON);
    assert_int_equal(r.rank, 2);
    assert_false(r.rank_deficient);
    tg_lstsq_result_free(&r);
}

/* Points in [0, h] of a degree-d design on [-1, 1]: the condition number grows
** as h shrinks, to 1e12.  The solution stays within cond * eps of dgelsd's,
** the reported condition number equals dgelsd's, and consistent data (an exact
** series) is recovered to cond * eps. */
static void test_lstsq_matches_dgelsd_up_to_condition_1e12(void **state)
{
    (void)state;
    enum { N = 3 * B + 17 };
    static double x[N], y[N], yc[N];
    const double hs[] = {2.0, 0.5, 0.2, 0.1, 0.06};
    const int degree = 6;
    double want[7] = {1, -0.5, 0.25, 2, -1, 0.125, 3}, worst = 0;
    for (size_t c = 0; c < sizeof hs / sizeof hs[0]; c++) {
        uint64_t s = 11;
        for (int64_t i = 0; i < N; i++) {
            x[i] = -1.0 + hs[c] * (double)i / (N - 1);
            y[i] = cos(3 * x[i]) + 1e-3 * tgt_uniform(&s, -1, 1);
        }
        tg_scope_begin();
        int64_t n = N, k = 7;
        memcpy(yc, tg_data(tg_legendre_series(tg_from_array(1, &k, want), tg_from_array(1, &n, x), 1.0, 0.0)),
               sizeof yc);
        tg_scope_end();
        double ref[7], cond;
        int64_t rank;
        reference(N, x, y, NULL, degree, 1.0, 0.0, ref, &cond, &rank);
        tg_lstsq_result r = fit(N, x, y, NULL, degree, 1.0, 0.0), e = fit(N, x, yc, NULL, degree, 1.0, 0.0);
        print_message("h = %g: cond %.3g (dgelsd %.3g)\n", hs[c], r.cond, cond);
        assert_allclose("cond", 1, &r.cond, &cond, 1e-6 + 100 * cond * DBL_EPSILON, 0);
        double tol = 50 * cond * DBL_EPSILON;
        assert_allclose("against dgelsd", 7, r.coef, ref, 0, tol * max_abs(7, ref));
        /* the exact series through its rounded values: within the perturbation bound, and as close to
        ** it as dgelsd gets (both backward stable) */
        double refe[7], conde;
        reference(N, x, yc, NULL, degree, 1.0, 0.0, refe, &conde, &rank);
        assert_allclose("exact series", 7, e.coef, want, 0, 10 * tol * max_abs(7, want));
        assert_allclose("exact series against dgelsd", 7, e.coef, refe, 0, tol * max_abs(7, want));
        worst = fmax(worst, cond);
        tg_lstsq_result_free(&r);
        tg_lstsq_result_free(&e);
    }
    assert_true(worst > 1e12);
}

/* ------------------------------------------------------------ blocks */

static void test_lstsq_is_right_at_every_block_boundary(void **state)
{
    (void)state;
    const int64_t ns[] = {1, 2, 7, B - 1, B, B + 1, 2 * B - 1, 2 * B, 2 * B + 1, 5 * B + 3};
    double *x = malloc(6 * B * sizeof *x), *y = malloc(6 * B * sizeof *y);
    fill(6 * B, x, y, 5);
    for (size_t c = 0; c < sizeof ns / sizeof ns[0]; c++) {
        int degree = ns[c] > 5 ? 5 : (int)ns[c] - 1;
        double ref[6], cond;
        int64_t rank;
        reference(ns[c], x, y, NULL, degree, 0.4, -0.2, ref, &cond, &rank);
        tg_lstsq_result r = fit(ns[c], x, y, NULL, degree, 0.4, -0.2);
        assert_int_equal(r.n, ns[c]);
        assert_int_equal(r.rank, degree + 1);
        assert_allclose("coefficients", degree + 1, r.coef, ref, 1e-11, 1e-12);
        tg_lstsq_result_free(&r);
    }
    free(x);
    free(y);
}

static void test_lstsq_of_no_points_is_the_zero_series_with_a_warning(void **state)
{
    (void)state;
    tg_lstsq_result r = fit(0, NULL, NULL, NULL, 3, 1.0, 0.0);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.rank, 0);
    assert_true(r.rank_deficient);
    assert_non_null(strstr(r.warning, "rank 0 < 4"));
    for (int j = 0; j < 4; j++)
        assert_true(r.coef[j] == 0.0);
    tg_lstsq_result_free(&r);
}

/* ------------------------------------------------------------ rank deficiency */

static void test_lstsq_rank_deficient_gives_the_minimum_norm_solution(void **state)
{
    (void)state;
    enum { N = B + 5 };
    static double x[N], y[N];
    for (int64_t i = 0; i < N; i++) {
        x[i] = i % 2 ? 0.25 : -0.5;                 /* two distinct points: rank 2 of 5 */
        y[i] = i % 2 ? 1.0 : 3.0;
    }
    double ref[5], cond;
    int64_t rank;
    reference(N, x, y, NULL, 4, 1.0, 0.0, ref, &cond, &rank);
    assert_int_equal(rank, 2);
    tg_lstsq_result r = fit(N, x, y, NULL, 4, 1.0, 0.0);
    assert_int_equal(r.rank, 2);
    assert_true(r.rank_deficient);
    assert_non_null(strstr(r.warning, "minimum-norm"));
    assert_allclose("min-norm coefficients", 5, r.coef, ref, 1e-10, 1e-12);
    tg_lstsq_result_free(&r);
    /* fewer points than coefficients */
    r = fit(3, x, y, NULL, 6, 1.0, 0.0);
    assert_int_equal(r.rank, 2);
    assert_true(r.rank_deficient);
    assert_true(isinf(r.cov[0]));
    tg_lstsq_result_free(&r);
    /* the old entry point still calls it an error */
    tg_scope_begin();
    int64_t n = N;
    tg_tensor *coef;
    assert_int_equal(tg_legendre_lstsq(tg_from_array(1, &n, x), tg_from_array(1, &n, y), 4, 1.0, 0.0, &coef, NULL),
                     TG_ERR_NUMERIC);
    assert_non_null(strstr(tg_last_error(), "rank 2 < 5"));
    tg_scope_end();
}

/* ------------------------------------------------------------ bit-identity */

static tg_lstsq_part *part_of(const double *x, const double *y, int64_t first, int64_t n, int degree)
{
    tg_points pts = {.x = x + first, .y = y + first, .n = n, .first = first};
    tg_lstsq_part *p = NULL;
    assert_int_equal(tg_legendre_lstsq_part(&pts, degree, 0.4, -0.2, NULL, &p), TG_OK);
    return p;
}

/* Solve the parts of [0, n) split at the given block boundaries. */
static tg_lstsq_result split_fit(const double *x, const double *y, int64_t n, const int64_t *cuts, int ncut,
                                 int degree)
{
    double *buf = NULL;
    int64_t len = 0;
    for (int c = 0; c <= ncut; c++) {
        int64_t lo = c ? cuts[c - 1] : 0, hi = c < ncut ? cuts[c] : n;
        tg_lstsq_part *p = part_of(x, y, lo, hi - lo, degree);
        int64_t sz = tg_lstsq_part_size(p);
        buf = realloc(buf, (size_t)(len + sz) * sizeof *buf);
        tg_lstsq_part_pack(p, buf + len);
        len += sz;
        tg_lstsq_part_free(p);
    }
    tg_lstsq_part *all = NULL;
    assert_int_equal(tg_lstsq_part_unpack(buf, len, &all), TG_OK);
    tg_lstsq_result r;
    assert_int_equal(tg_lstsq_part_solve(all, NULL, &r), TG_OK);
    tg_lstsq_part_free(all);
    free(buf);
    return r;
}

static void assert_same_bits(const tg_lstsq_result *a, const tg_lstsq_result *b)
{
    int k = a->ncoef;
    assert_int_equal(k, b->ncoef);
    assert_memory_equal(a->coef, b->coef, (size_t)k * sizeof(double));
    assert_memory_equal(a->cov, b->cov, (size_t)(k * k) * sizeof(double));
    assert_memory_equal(&a->cond, &b->cond, sizeof(double));
    assert_memory_equal(&a->rss, &b->rss, sizeof(double));
}

static void test_lstsq_is_bit_identical_over_any_split_and_thread_count(void **state)
{
    (void)state;
    const int64_t n = 37 * B + 100;
    double *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    fill(n, x, y, 9);
    tg_set_num_threads(1);
    tg_lstsq_result one = fit(n, x, y, NULL, 12, 0.4, -0.2);
    const int64_t c2[] = {19 * B}, c3[] = {B, 13 * B}, c7[] = {3 * B, 5 * B, 6 * B, 11 * B, 24 * B, 37 * B};
    tg_lstsq_result r;
r = split_fit(x, y, n, c2, 1, 12); assert_same_bits(&one, &r); tg_lstsq_result_free(&r);
r = split_fit(x, y, n, c3, 2, 12); assert_same_bits(&one, &r); tg_lstsq_result_free(&r);
r = split_fit(x, y, n, c7, 6, 12); assert_same_bits(&one, &r); tg_lstsq_result_free(&r);
    tg_set_num_threads(2);
r = fit(n, x, y, NULL, 12, 0.4, -0.2); assert_same_bits(&one, &r); tg_lstsq_result_free(&r);
r = split_fit(x, y, n, c3, 2, 12); assert_same_bits(&one, &r); tg_lstsq_result_free(&r);
    tg_set_num_threads(0);
    /* interleaved [n, 2] equals separate columns */
    double *xy = malloc((size_t)(2 * n) * sizeof *xy);
    for (int64_t i = 0; i < n; i++) {
        xy[2 * i] = x[i];
        xy[2 * i + 1] = y[i];
    }
    tg_points pts = {.x = xy, .y = xy + 1, .n = n, .x_stride = 2, .y_stride = 2};
    assert_int_equal(tg_legendre_lstsq_points(&pts, 12, 0.4, -0.2, NULL, &r), TG_OK);
    assert_same_bits(&one, &r);
    tg_lstsq_result_free(&r);
    tg_lstsq_result_free(&one);
    free(xy);
    free(x);
    free(y);
}

/* ------------------------------------------------------------ weights, covariance */

static void test_lstsq_weights_match_dgelsd_on_the_scaled_rows(void **state)
{
    (void)state;
    enum { N = 2 * B + 9 };
    static double x[N], y[N], w[N];
    fill(N, x, y, 3);
    uint64_t s = 4;
    for (int64_t i = 0; i < N; i++)
        w[i] = tgt_uniform(&s, 0.1, 3.0);
    double ref[5], cond;
    int64_t rank;
    reference(N, x, y, w, 4, 0.4, -0.2, ref, &cond, &rank);
    tg_lstsq_result r = fit(N, x, y, w, 4, 0.4, -0.2);
    assert_allclose("weighted", 5, r.coef, ref, 1e-11, 1e-13);
    tg_lstsq_result_free(&r);
}

/* cov = rss / (N - K) (V^T V)^-1, as scipy's curve_fit, by Gauss-Jordan here. */
static void test_lstsq_covariance_is_curve_fits(void **state)
{
    (void)state;
    enum { N = 500, K = 4 };
    static double x[N], y[N];
    fill(N, x, y, 8);
    tg_lstsq_result r = fit(N, x, y, NULL, K - 1, 0.4, -0.2);
    double g[K][2 * K] = {{0}}, rss = 0;
    tg_scope_begin();
    int64_t n = N, k = K;
    const double *v = tg_data(tg_legendre_vander(tg_from_array(1, &n, x), K - 1, 0.4, -0.2));
    const double *pred = tg_data(tg_legendre_series(tg_from_array(1, &k, r.coef), tg_from_array(1, &n, x), 0.4, -0.2));
    for (int i = 0; i < N; i++) {
        rss += (pred[i] - y[i]) * (pred[i] - y[i]);
        for (int a = 0; a < K; a++)
            for (int b = 0; b < K; b++)
                g[a][b] += v[i * K + a] * v[i * K + b];
    }
    tg_scope_end();
    for (int a = 0; a < K; a++)
        g[a][K + a] = 1;
    for (int c = 0; c < K; c++) {                /* SPD: no pivoting needed */
        double p = g[c][c];
        for (int j = 0; j < 2 * K; j++)
            g[c][j] /= p;
        for (int i = 0; i < K; i++) {
            if (i == c)
                continue;
            double f = g[i][c];
            for (int j = 0; j < 2 * K; j++)
                g[i][j] -= f * g[c][j];
        }
    }
    double want[K * K], se[K];
    for (int a = 0; a < K; a++)
        for (int b = 0; b < K; b++)
            want[a * K + b] = rss / (N - K) * g[a][K + b];
    for (int a = 0; a < K; a++)
        se[a] = sqrt(want[a * K + a]);
    assert_allclose("rss", 1, &r.rss, &rss, 1e-10, 0);
    assert_allclose("cov", K * K, r.cov, want, 1e-9, 1e-15);
    assert_allclose("se", K, r.se, se, 1e-9, 0);
    tg_lstsq_result_free(&r);
}

/* ------------------------------------------------------------ stop, errors */

static void test_lstsq_stops_when_the_flag_is_set(void **state)
{
    (void)state;
    double x[B + 1] = {0}, y[B + 1] = {0};
    volatile sig_atomic_t stop = 1;
    tg_lstsq_opts o = {.stop = &stop};
    tg_points pts = {.x = x, .y = y, .n = B + 1};
    tg_lstsq_result r;
    assert_int_equal(tg_legendre_lstsq_points(&pts, 2, 1.0, 0.0, &o, &r), TG_ERR_STATE);
    assert_non_null(strstr(tg_last_error(), "interrupted"));
    assert_null(r.coef);
    stop = 0;
    assert_int_equal(tg_legendre_lstsq_points(&pts, 2, 1.0, 0.0, &o, &r), TG_OK);
    tg_lstsq_result_free(&r);
}

static void test_lstsq_parts_reject_every_documented_error(void **state)
{
    (void)state;
    double x[2 * B], y[2 * B];
    fill(2 * B, x, y, 1);
    tg_lstsq_part *p = NULL;
    tg_points pts = {.x = x, .y = y, .n = 10, .first = 5};
    assert_int_equal(tg_legendre_lstsq_part(&pts, 2, 1.0, 0.0, NULL, &p), TG_ERR_ARG);
    assert_non_null(strstr(tg_last_error(), "multiple of TG_LSTSQ_BLOCK"));
    pts.first = 0;
    assert_int_equal(tg_legendre_lstsq_part(&pts, -1, 1.0, 0.0, NULL, &p), TG_ERR_ARG);
    assert_int_equal(tg_legendre_lstsq_part(&pts, 2, INFINITY, 0.0, NULL, &p), TG_ERR_ARG);
    assert_int_equal(tg_legendre_lstsq_part(NULL, 2, 1.0, 0.0, NULL, &p), TG_ERR_ARG);
    pts.y = NULL;
    assert_int_equal(tg_legendre_lstsq_part(&pts, 2, 1.0, 0.0, NULL, &p), TG_ERR_ARG);
    pts.y = y;
    y[B + 3] = NAN;
    pts.n = 2 * B;
    assert_int_equal(tg_legendre_lstsq_part(&pts, 2, 1.0, 0.0, NULL, &p), TG_ERR_ARG);
    assert_non_null(strstr(tg_last_error(), "y[1027] is nan"));
    y[B + 3] = 0;
    assert_null(p);
    /* two parts holding one block; a missing block; a bad buffer */
    tg_lstsq_part *a = part_of(x, y, 0, B, 2);
    int64_t sz = tg_lstsq_part_size(a);
    double *buf = malloc((size_t)(2 * sz) * sizeof *buf);
    tg_lstsq_part_pack(a, buf);
    tg_lstsq_part_pack(a, buf + sz);
    tg_lstsq_result r;
    assert_int_equal(tg_lstsq_part_unpack(buf, 2 * sz, &p), TG_OK);
    assert_int_equal(tg_lstsq_part_solve(p, NULL, &r), TG_ERR_ARG);
    assert_non_null(strstr(tg_last_error(), "two parts hold block 0"));
    tg_lstsq_part_free(p);
    tg_lstsq_part *c = part_of(x, y, B, B, 2);
    sz = tg_lstsq_part_size(c);
    tg_lstsq_part_pack(c, buf);
    assert_int_equal(tg_lstsq_part_unpack(buf, sz, &p), TG_OK);
    assert_int_equal(tg_lstsq_part_solve(p, NULL, &r), TG_ERR_ARG);
    assert_non_null(strstr(tg_last_error(), "block 0 (points from 0) is in no part"));
    tg_lstsq_part_free(p);
    buf[0] = 1.5;
    assert_int_equal(tg_lstsq_part_unpack(buf, sz, &p), TG_ERR_ARG);
    assert_int_equal(tg_lstsq_part_unpack(buf, sz - 1, &p), TG_ERR_ARG);
    assert_null(p);
    tg_lstsq_part_free(a);
    tg_lstsq_part_free(c);
    free(buf);
}

int main(void)
{
#define T(f) cmocka_unit_test(f)
    const struct CMUnitTest tests[] = {
        T(test_lstsq_gives_the_exact_rational_answer_of_a_line),
        T(test_lstsq_matches_dgelsd_up_to_condition_1e12),
        T(test_lstsq_is_right_at_every_block_boundary),
        T(test_lstsq_of_no_points_is_the_zero_series_with_a_warning),
        T(test_lstsq_rank_deficient_gives_the_minimum_norm_solution),
        T(test_lstsq_is_bit_identical_over_any_split_and_thread_count),
        T(test_lstsq_weights_match_dgelsd_on_the_scaled_rows),
        T(test_lstsq_covariance_is_curve_fits),
        T(test_lstsq_stops_when_the_flag_is_set),
        T(test_lstsq_parts_reject_every_documented_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
