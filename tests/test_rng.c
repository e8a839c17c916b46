/* SPDX-License-Identifier: MIT */
/*
** The random number generator: the C stream against its Python twin
** (tests/reference/tg_rng.py, through tests/data/rng.txt) bit for bit, the
** documented pairing of normal values in tensor fills, statistical sanity of
** 1e5 draws, determinism per seed, randint's range and the argument errors.
*/
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <threads.h>

#define RNG "rng.txt"
#define N_SEEDS 4

/* ----------------------------------------------------------- helpers */

static uint64_t seed_of(int i)
{
    char key[64];
    double hi, lo;
    snprintf(key, sizeof key, "seed%d.seed.hi", i);
    assert_int_equal(tgt_ref(RNG, key, &hi, 1), 1);
    snprintf(key, sizeof key, "seed%d.seed.lo", i);
    assert_int_equal(tgt_ref(RNG, key, &lo, 1), 1);
    return ((uint64_t)hi << 32) | (uint64_t)lo;
}

/* Reads n uint64 values stored as key.hi / key.lo. */
static void ref_words(const char *key, uint64_t *out, int n)
{
    char k[80];
    double hi[16], lo[16];
    snprintf(k, sizeof k, "%s.hi", key);
    assert_int_equal(tgt_ref(RNG, k, hi, 16), n);
    snprintf(k, sizeof k, "%s.lo", key);
    assert_int_equal(tgt_ref(RNG, k, lo, 16), n);
    for (int i = 0; i < n; i++)
        out[i] = ((uint64_t)hi[i] << 32) | (uint64_t)lo[i];
}

static void assert_words_equal(const char *what, const uint64_t *got, const uint64_t *want, int n)
{
    for (int i = 0; i < n; i++)
        if (got[i] != want[i])
            fail_msg("%s[%d]: 0x%016llx, the Python twin has 0x%016llx", what, i,
                     (unsigned long long)got[i], (unsigned long long)want[i]);
}

/* Bit-exact: the same libm computes both sides. */
static void assert_same_doubles(const char *what, int64_t n, const double *got, const char *key)
{
    double want[32];
    assert_true(n <= 32);
    assert_int_equal(tgt_ref(RNG, key, want, 32), n);
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&got[i], &want[i], sizeof(double)) != 0)
            fail_msg("%s[%lld]: %.17g, the Python twin has %.17g", what, (long long)i, got[i], want[i]);
}

/* ----------------------------------------------------------- against the twin */

static void test_seed_fills_state_with_splitmix64_as_the_python_twin(void **state)
{
    (void)state;
    char key[64];
    for (int i = 0; i < N_SEEDS; i++) {
        tg_rng r;
        uint64_t want[4];
        tg_rng_seed(&r, seed_of(i));
        snprintf(key, sizeof key, "seed%d.state", i);
        ref_words(key, want, 4);
        assert_words_equal(key, r.s, want, 4);
    }
}

static void test_next_uniform_normal_and_randint_streams_match_the_python_twin(void **state)
{
    (void)state;
    char key[64];
    for (int i = 0; i < N_SEEDS; i++) {
        tg_rng r;
        uint64_t got[8], want[8];
        double v[20];
        tg_rng_seed(&r, seed_of(i));
        for (int k = 0; k < 8; k++)
            got[k] = tg_rng_next(&r);
        snprintf(key, sizeof key, "seed%d.next", i);
        ref_words(key, want, 8);
        assert_words_equal(key, got, want, 8);
        for (int k = 0; k < 8; k++)
            v[k] = tg_rng_uniform(&r);
        snprintf(key, sizeof key, "seed%d.uniform", i);
        assert_same_doubles(key, 8, v, key);
        for (int k = 0; k < 8; k++)
            v[k] = tg_rng_normal(&r);
        snprintf(key, sizeof key, "seed%d.normal", i);
        assert_same_doubles(key, 8, v, key);
        for (int k = 0; k < 20; k++)
            v[k] = (double)tg_rng_randint(&r, -3, 10);
        snprintf(key, sizeof key, "seed%d.randint", i);
        assert_same_doubles(key, 20, v, key);
    }
}

static void test_tensor_fills_draw_from_the_default_generator_as_the_python_twin(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_manual_seed(5);
    tg_tensor *u = tg_rand(2, (int64_t[]){2, 3});
    tg_tensor *n7 = tg_randn(1, (int64_t[]){7});
    tg_tensor *n4 = tg_randn(2, (int64_t[]){2, 2});
    tg_tensor *lh = tg_rand_uniform(1, (int64_t[]){4}, -2.0, 3.0);
    assert_true(u && n7 && n4 && lh);
    assert_int_equal(tg_ndim(u), 2);
    assert_int_equal(tg_shape(u)[1], 3);
    assert_false(tg_requires_grad(u));
    assert_same_doubles("tg_rand", 6, tg_data(u), "fill.rand");
    assert_same_doubles("tg_randn [7]", 7, tg_data(n7), "fill.randn7");
    assert_same_doubles("tg_randn [2,2]", 4, tg_data(n4), "fill.randn4");
    assert_same_doubles("tg_rand_uniform", 4, tg_data(lh), "fill.uniform");
    tg_scope_end();
}

/* A fill pairs (cos, sin) of one draw; tg_rng_normal returns a draw's cosine. */
static void test_randn_fill_pairs_cosine_and_sine_of_one_draw(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_rng r;
    tg_rng_seed(&r, 99);
    double u1 = tg_rng_uniform(&r), u2 = tg_rng_uniform(&r), u3 = tg_rng_uniform(&r), u4 = tg_rng_uniform(&r);
    double r1 = sqrt(-2.0 * log(1.0 - u1)), r2 = sqrt(-2.0 * log(1.0 - u3));
    double want[3] = {r1 * cos(2.0 * M_PI * u2), r1 * sin(2.0 * M_PI * u2), r2 * cos(2.0 * M_PI * u4)};
    tg_rng_seed(tg_default_rng(), 99);   /* the default generator is a borrowed tg_rng */
    tg_tensor *t = tg_randn(1, (int64_t[]){3});
    assert_non_null(t);
    assert_allclose("tg_randn pairs", 3, tg_data(t), want, 0.0, 0.0);
    tg_rng_seed(&r, 99);
    double one = tg_rng_normal(&r);
    assert_allclose("tg_rng_normal", 1, &one, want, 0.0, 0.0);
    /* one call consumes exactly one draw (two uniforms) */
    tg_rng s;
    tg_rng_seed(&s, 99);
    tg_rng_uniform(&s), tg_rng_uniform(&s);
    assert_true(tg_rng_next(&r) == tg_rng_next(&s));
    tg_scope_end();
}

/* ----------------------------------------------------------- statistics */

static void test_uniform_lies_in_zero_one_with_mean_half_and_variance_one_twelfth(void **state)
{
    (void)state;
    tg_rng r;
    tg_rng_seed(&r, 2024);
    const int n = 100000;
    double sum = 0, sq = 0, lo = 1, hi = 0;
    for (int i = 0; i < n; i++) {
        double u = tg_rng_uniform(&r);
        assert_true(u >= 0.0 && u < 1.0);
        sum += u, sq += u * u;
        lo = u < lo ? u : lo, hi = u > hi ? u : hi;
    }
    double mean = sum / n, var = sq / n - mean * mean;
    /* standard errors: 0.29 / sqrt(n) = 9e-4 for the mean, 2.7e-4 for the variance */
    if (fabs(mean - 0.5) > 5e-3 || fabs(var - 1.0 / 12) > 2e-3 || lo > 1e-3 || hi < 1 - 1e-3)
        fail_msg("uniform: mean %g var %g min %g max %g", mean, var, lo, hi);
}

static void test_normal_has_mean_zero_variance_one_and_normal_tails(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_manual_seed(7);
    const int64_t n = 100000;
    tg_tensor *t = tg_randn(1, &n);
    assert_non_null(t);
    const double *x = tg_data(t);
    double sum = 0, sq = 0, quart = 0;
    int64_t beyond2 = 0;
    for (int64_t i = 0; i < n; i++) {
        assert_true(isfinite(x[i]));
        sum += x[i], sq += x[i] * x[i], quart += x[i] * x[i] * x[i] * x[i];
        beyond2 += fabs(x[i]) > 2.0;
    }
    double mean = sum / (double)n, var = sq / (double)n - mean * mean, kurt = quart / (double)n;
    double tail = (double)beyond2 / (double)n;   /* 0.0455 for a normal */
    /* standard errors: 3.2e-3 (mean), 4.5e-3 (var), 0.03 (4th moment, 3), 6.6e-4 (tail) */
    if (fabs(mean) > 0.02 || fabs(var - 1.0) > 0.025 || fabs(kurt - 3.0) > 0.15 || fabs(tail - 0.0455) > 0.004)
        fail_msg("randn: mean %g var %g E[x^4] %g P(|x|>2) %g", mean, var, kurt, tail);
    tg_scope_end();
}

static void test_rand_uniform_stays_in_lo_hi(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_manual_seed(1);
    const int64_t n = 10000;
    tg_tensor *t = tg_rand_uniform(1, &n, -0.25, 0.75);
    assert_non_null(t);
    for (int64_t i = 0; i < n; i++)
        if (!(tg_data(t)[i] >= -0.25 && tg_data(t)[i] < 0.75))
            fail_msg("element %lld is %.17g", (long long)i, tg_data(t)[i]);
    tg_scope_end();
}

/* ----------------------------------------------------------- determinism, randint */

static void test_same_seed_gives_same_stream_and_other_seeds_differ(void **state)
{
    (void)state;
    tg_rng a, b, c;
    tg_rng_seed(&a, 123);
    tg_rng_seed(&b, 123);
    tg_rng_seed(&c, 124);
    int same_c = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = tg_rng_next(&a), y = tg_rng_next(&b), z = tg_rng_next(&c);
        assert_true(x == y);
        same_c += x == z;
    }
    assert_int_equal(same_c, 0);
    /* a copy forks the stream */
    tg_rng fork = a;
    for (int i = 0; i < 10; i++)
        assert_true(tg_rng_next(&fork) == tg_rng_next(&a));
}

static void test_manual_seed_restarts_the_default_stream_and_returns_it(void **state)
{
    (void)state;
    tg_rng *d = tg_manual_seed(31);
    assert_ptr_equal(d, tg_default_rng());
    uint64_t first = tg_rng_next(tg_default_rng());
    tg_rng_next(d);
    assert_ptr_equal(tg_manual_seed(31), d);
    assert_true(tg_rng_next(d) == first);
    tg_rng r;
    tg_rng_seed(&r, 31);
    assert_true(tg_rng_next(&r) == first);
}

static int first_default_draw(void *out)
{
    *(uint64_t *)out = tg_rng_next(tg_default_rng());
    return 0;
}

static void test_default_generator_is_per_thread_and_starts_at_seed_zero(void **state)
{
    (void)state;
    uint64_t want[8], got = 0;
    ref_words("seed0.next", want, 8);
    tg_manual_seed(77);
    tg_rng mine = *tg_default_rng();
    thrd_t th;
    assert_int_equal(thrd_create(&th, first_default_draw, &got), thrd_success);
    assert_int_equal(thrd_join(th, NULL), thrd_success);
    assert_words_equal("a new thread's first draw", &got, want, 1);
    assert_memory_equal(&mine, tg_default_rng(), sizeof mine);   /* ours untouched */
}

static void test_randint_stays_in_range_and_hits_every_value(void **state)
{
    (void)state;
    tg_rng r;
    tg_rng_seed(&r, 5);
    int hits[13] = {0};
    for (int i = 0; i < 13000; i++) {
        int64_t v = tg_rng_randint(&r, -3, 10);
        assert_true(v >= -3 && v < 10);
        hits[v + 3]++;
    }
    for (int k = 0; k < 13; k++)
        if (hits[k] < 800 || hits[k] > 1200)
            fail_msg("randint(-3, 10): value %d drawn %d times of 13000", k - 3, hits[k]);
    assert_int_equal(tg_rng_randint(&r, 4, 5), 4);
    /* a span wider than INT64_MAX */
    for (int i = 0; i < 100; i++) {
        int64_t v = tg_rng_randint(&r, INT64_MIN, INT64_MAX);
        assert_true(v < INT64_MAX);
    }
}

static void test_randint_rejects_empty_range_without_drawing(void **state)
{
    (void)state;
    tg_rng r, s;
    tg_rng_seed(&r, 8);
    s = r;
    tg_clear_error();
    assert_int_equal(tg_rng_randint(&r, 5, 5), 5);
    assert_int_equal(tg_last_status(), TG_ERR_ARG);
    assert_non_null(strstr(tg_last_error(), "tg_rng_randint"));
    assert_non_null(strstr(tg_last_error(), "[5, 5)"));
    assert_int_equal(tg_rng_randint(&r, 7, 2), 7);
    assert_true(tg_rng_next(&r) == tg_rng_next(&s));
    tg_clear_error();
}

static void test_null_generator_is_an_argument_error(void **state)
{
    (void)state;
    tg_clear_error();
    assert_true(tg_rng_next(NULL) == 0);
    assert_int_equal(tg_last_status(), TG_ERR_ARG);
    assert_non_null(strstr(tg_last_error(), "tg_rng_next"));
    tg_clear_error();
    assert_true(isnan(tg_rng_uniform(NULL)));
    assert_non_null(strstr(tg_last_error(), "tg_rng_uniform"));
    tg_clear_error();
    assert_true(isnan(tg_rng_normal(NULL)));
    assert_non_null(strstr(tg_last_error(), "tg_rng_normal"));
    tg_clear_error();
    tg_rng_seed(NULL, 1);
    assert_int_equal(tg_last_status(), TG_ERR_ARG);
    tg_clear_error();
}

static void test_fills_reject_bad_shapes_like_tg_zeros_without_drawing(void **state)
{
    (void)state;
    tg_manual_seed(4);
    tg_rng before = *tg_default_rng();
    tg_clear_error();
    assert_null(tg_randn(1, (int64_t[]){-1}));
    assert_int_equal(tg_last_status(), TG_ERR_ARG);
    assert_non_null(strstr(tg_last_error(), "tg_randn"));
    assert_null(tg_rand(9, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1}));
    assert_non_null(strstr(tg_last_error(), "tg_rand"));
    assert_null(tg_rand_uniform(1, NULL, 0, 1));
    assert_non_null(strstr(tg_last_error(), "tg_rand_uniform"));
    assert_memory_equal(&before, tg_default_rng(), sizeof before);
    tg_clear_error();
    /* empty and 0-d fills */
    tg_scope_begin();
    tg_tensor *e = tg_randn(1, (int64_t[]){0}), *s = tg_rand(0, NULL);
    assert_true(e && s);
    assert_int_equal(tg_numel(e), 0);
    assert_true(tg_data(s)[0] >= 0 && tg_data(s)[0] < 1);
    tg_scope_end();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_fills_state_with_splitmix64_as_the_python_twin),
        cmocka_unit_test(test_next_uniform_normal_and_randint_streams_match_the_python_twin),
        cmocka_unit_test(test_tensor_fills_draw_from_the_default_generator_as_the_python_twin),
        cmocka_unit_test(test_randn_fill_pairs_cosine_and_sine_of_one_draw),
        cmocka_unit_test(test_uniform_lies_in_zero_one_with_mean_half_and_variance_one_twelfth),
        cmocka_unit_test(test_normal_has_mean_zero_variance_one_and_normal_tails),
        cmocka_unit_test(test_rand_uniform_stays_in_lo_hi),
        cmocka_unit_test(test_same_seed_gives_same_stream_and_other_seeds_differ),
        cmocka_unit_test(test_manual_seed_restarts_the_default_stream_and_returns_it),
        cmocka_unit_test(test_default_generator_is_per_thread_and_starts_at_seed_zero),
        cmocka_unit_test(test_randint_stays_in_range_and_hits_every_value),
        cmocka_unit_test(test_randint_rejects_empty_range_without_drawing),
        cmocka_unit_test(test_null_generator_is_an_argument_error),
        cmocka_unit_test(test_fills_reject_bad_shapes_like_tg_zeros_without_drawing),
    };
    return cmocka_run_group_tests_name("rng", tests, NULL, NULL);
}
