/* SPDX-License-Identifier: MIT */
/*
** Tests for the kernels on threads (src/kernels/parallel.c): every kernel of
** every table gives bit-identical results on 1, 2 and 3 threads, at sizes
** around and far above the threshold below which nothing is spawned, at odd
** sizes, in place and with a scalar operand aliasing the output; the same
** with the threshold lowered to 1, so that every awkward small size runs
** split too.  Then a whole tutorial training run (50 steps) is bit-identical
** on 1, 2 and 3 threads, and tg_set_num_threads checks its argument.  In a
** build without OpenMP the thread counts all mean 1 (the tests still run).
*/
#define _POSIX_C_SOURCE 200112L
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/parallel.h"

#define T TG__PAR_MIN_WORK
#define MAX_N (((int64_t)1 << 19) + 13)   /* 129 sum blocks: the parallel sum cuts at depth 6 */
#define MAX_SERIES_N (T + 1)

enum kind { BIN, BIN_ALIAS_SCALAR, UN, UN_INPLACE, POW, AFFINE, ACC, SUM, LEG, LEGSERIES, LEGPROJECT, LEGVANDER };

typedef struct kcase {
    const char *name;
    enum kind kind;
    int op, incx, incy;     /* BIN, UN */
    double p;               /* POW exponent */
    int deg, k;             /* LEG: degree and order; series: order k */
    int64_t nb, ncoef;      /* series */
    bool shared_x;          /* series: x_stride 0 */
} kcase;

static double *xs, *ys;     /* MAX_N * 3 inputs: x in [-1, 1], y in [0.5, 2] */

static int64_t out_len(const kcase *c, int64_t n)
{
    switch (c->kind) {
    case SUM: return 1;
    case LEGSERIES: return c->nb * n;
    case LEGPROJECT: return c->nb * c->ncoef;
    case LEGVANDER: return n * c->ncoef;
    default: return n;
    }
}

static int64_t scratch_len(const kcase *c)
{
    switch (c->kind) {
    case LEG: return tg__legendre_scratch(c->k);
    case LEGSERIES: return tg__legseries_scratch(c->k);
    case LEGPROJECT: return tg__legproject_scratch(c->k, c->ncoef);
    case LEGVANDER: return tg__legvander_scratch();
    default: return 1;
    }
}

static void run(const tg__kernels *kt, const kcase *c, int64_t n, double *out)
{
    double *scratch = malloc((size_t)scratch_len(c) * sizeof(double));
    const int64_t stride = c->shared_x ? 0 : n;
    assert_non_null(scratch);
    switch (c->kind) {
    case BIN: kt->binary[c->op](n, xs, c->incx, ys, c->incy, out); break;
    case BIN_ALIAS_SCALAR:   /* z[i] = x[i] op z[0]: the scalar read before any write */
        out[0] = ys[0];
        kt->binary[c->op](n, xs, 1, out, 0, out);
        break;
    case UN: kt->unary[c->op](n, xs, out); break;
    case UN_INPLACE:
        memcpy(out, xs, (size_t)n * sizeof(double));
        kt->unary[c->op](n, out, out);
        break;
    case POW: kt->pow(n, ys, c->p, out); break;
    case AFFINE: kt->affine(n, xs, 0.3, -0.7, out); break;
    case ACC:
        memcpy(out, ys, (size_t)n * sizeof(double));
        kt->acc(n, xs, out);
        break;
    case SUM: out[0] = kt->sum(n, xs); break;
    case LEG: kt->legendre(n, xs, c->deg, c->k, out, scratch); break;
    case LEGSERIES:
        kt->legseries(c->nb, n, c->ncoef, ys, xs, stride, 0.9, 0.05, c->k, out, scratch);
        break;
    case LEGPROJECT:
        kt->legproject(c->nb, n, c->ncoef, ys, xs, stride, 0.9, 0.05, c->k, out, scratch);
        break;
    case LEGVANDER: kt->legvander(n, c->ncoef, xs, 0.9, 0.05, out, scratch); break;
    }
    free(scratch);
}

static bool same_double(double a, double b)
{
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

/* The table this CPU uses at 1, 2 and 3 threads against the reference at 1
** thread (tests/test_kernels.c checks every table against the reference). */
static void check_case(const kcase *c, int64_t n)
{
    const int64_t len = out_len(c, n);
    double *want = malloc((size_t)(len + 1) * sizeof(double)), *got = malloc((size_t)(len + 1) * sizeof(double));
    assert_true(want && got);
    const tg__kernels *const *every = tg__kern_all(), *ref = NULL, *all[2] = {tg__kern(), NULL};
    for (int i = 0; every[i]; i++)
        if (strcmp(every[i]->name, "reference") == 0) ref = every[i];
    assert_non_null(ref);
    tg_set_num_threads(1);
    run(ref, c, n, want);
    for (int i = 0; all[i]; i++) {
        for (int threads = 1; threads <= 3; threads++) {
            tg_set_num_threads(threads);
            memset(got, 0xA5, (size_t)(len + 1) * sizeof(double));
            run(all[i], c, n, got);
            for (int64_t j = 0; j < len; j++) {
                if (!same_double(got[j], want[j]))
                    fail_msg("%s, table %s, %d threads, n = %lld: [%lld] is %a, on one thread %a", c->name,
                             all[i]->name, threads, (long long)n, (long long)j, got[j], want[j]);
            }
        }
    }
    tg_set_num_threads(0);
    free(want);
    free(got);
}

static kcase cases[128];
static int n_cases;

static void add_case(kcase c) { cases[n_cases++] = c; }

static int setup(void **state)
{
    (void)state;
    xs = malloc((size_t)(3 * MAX_N) * sizeof(double));
    ys = malloc((size_t)(3 * MAX_N) * sizeof(double));
    if (!xs || !ys) return -1;
    uint64_t s = 42;
    for (int64_t i = 0; i < 3 * MAX_N; i++) {
        s = s * 6364136223846793005u + 1442695040888963407u;
        const double u = (double)(s >> 11) * 0x1p-53;
        xs[i] = 2.0 * u - 1.0;
        ys[i] = 0.5 + 1.5 * u * u;
    }
    static const char *const bin_names[TG__N_BINOPS] = {"add", "sub", "mul", "div", "pow"};
    static const int incs[4][2] = {{1, 1}, {1, 0}, {0, 1}, {0, 0}};
    for (int op = 0; op < TG__N_BINOPS; op++) {
        for (int i = 0; i < 4; i++)
            add_case((kcase){.name = bin_names[op], .kind = BIN, .op = op, .incx = incs[i][0], .incy = incs[i][1]});
        add_case((kcase){.name = "binary, scalar operand aliasing z", .kind = BIN_ALIAS_SCALAR, .op = op});
    }
    for (int op = 0; op < TG__N_UNOPS; op++) {
        add_case((kcase){.name = "unary", .kind = UN, .op = op});
        add_case((kcase){.name = "unary in place", .kind = UN_INPLACE, .op = op});
    }
    static const double ps[] = {2.0, 3.0, 0.5, -1.0, 1.7};
    for (int i = 0; i < 5; i++) add_case((kcase){.name = "pow", .kind = POW, .p = ps[i]});
    add_case((kcase){.name = "affine", .kind = AFFINE});
    add_case((kcase){.name = "acc", .kind = ACC});
    add_case((kcase){.name = "sum", .kind = SUM});
    static const int legs[][2] = {{3, 0}, {3, 1}, {3, 2}, {0, 0}, {2, 5}, {30, 25}};   /* {30, 25}: serial, scratch */
    for (int i = 0; i < 6; i++) add_case((kcase){.name = "legendre", .kind = LEG, .deg = legs[i][0], .k = legs[i][1]});
    for (int nb = 1; nb <= 3; nb += 2) {
        for (int k = 0; k <= 1; k++) {
            for (int shared = 0; shared <= 1; shared++) {
                add_case((kcase){.name = "legseries", .kind = LEGSERIES, .nb = nb, .ncoef = 6, .k = k, .shared_x = shared});
                add_case((kcase){.name = "legproject", .kind = LEGPROJECT, .nb = nb, .ncoef = 6, .k = k, .shared_x = shared});
            }
        }
    }
    add_case((kcase){.name = "legproject, lanes beyond the per-thread scratch", .kind = LEGPROJECT, .nb = 3, .ncoef = 600});
    add_case((kcase){.name = "legvander", .kind = LEGVANDER, .ncoef = 5});
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(xs);
    free(ys);
    tg__par_set_min_work(-1);
    tg_set_num_threads(0);
    return 0;
}

static bool is_series(const kcase *c) { return c->kind >= LEGSERIES; }

static void test_kernels_bit_identical_on_1_2_3_threads_around_and_above_threshold(void **state)
{
    (void)state;
    const int64_t sizes[] = {T - 1, T + 1, 3 * T + 7, MAX_N};
    for (int i = 0; i < n_cases; i++) {
        const kcase *c = &cases[i];
        for (int s = 0; s < 4; s++) {
            if (is_series(c) && sizes[s] > MAX_SERIES_N) continue;
            if (((c->kind == LEGPROJECT && c->ncoef > 100) || (c->kind == LEG && c->deg > 10)) && sizes[s] > T + 1)
                continue;   /* the serial fallbacks: slow, and the same at any size */
            /* far above: the sum (cut at depth 6) and one of each other family */
            if (sizes[s] == MAX_N && c->kind != SUM && c->kind != ACC && !(c->kind == BIN && c->op == TG__MUL) &&
                !(c->kind == UN && c->op == TG__EXP) && !(c->kind == LEG && c->k == 1))
                continue;
            check_case(c, sizes[s]);
        }
    }
}

static void test_kernels_bit_identical_on_1_2_3_threads_at_odd_sizes_split_to_the_element(void **state)
{
    (void)state;
    const int64_t sizes[] = {0, 1, 7, 9, 65, 4097, 9 * 4096 + 1};
    tg__par_set_min_work(1);   /* everything is split, even one element */
    for (int i = 0; i < n_cases; i++)
        for (int s = 0; s < 7; s++)
            check_case(&cases[i], sizes[s]);
    tg__par_set_min_work(-1);
}

static void test_threshold_decides_the_team(void **state)
{
    (void)state;
    tg_set_num_threads(3);
    assert_int_equal(tg__par_team(T - 1), 1);           /* tiny calls spawn nothing */
    assert_int_equal(tg__par_team(0), 1);
    if (tg__par_available()) {
        assert_int_equal(tg__par_team(T), 2);           /* each thread gets at least T / 2 */
        assert_int_equal(tg__par_team(100 * T), 3);
        tg_set_num_threads(1);
        assert_int_equal(tg__par_team(100 * T), 1);
    } else {
        assert_int_equal(tg__par_team(100 * T), 1);
    }
    tg_set_num_threads(0);
}

/* The header's example: 50 steps of y = a + b P3(c + d x) fitted to sin(x);
** writes the final loss, the last gradients and the parameters. */
static void train(int threads, int64_t n, double out[9])
{
    assert_true(tg_set_num_threads(threads) >= 1);
    tg_scope_begin();
    tg_tensor *x = tg_linspace(-M_PI, M_PI, n), *y = tg_sin(x);
    tg_tensor *p[4] = {tg_scalar(0), tg_scalar(-1), tg_scalar(0), tg_scalar(0.3)};
    for (int i = 0; i < 4; i++)
        assert_status(TG_OK, tg_set_requires_grad(p[i], true));
    for (int t = 0; t < 50; t++) {
        tg_scope_begin();
        tg_tensor *pred = tg_add(p[0], tg_mul(p[1], tg_legendre(tg_add(p[2], tg_mul(p[3], x)), 3)));
        tg_tensor *loss = tg_sum(tg_pow(tg_sub(pred, y), 2.0));
        assert_non_null(loss);
        assert_status(TG_OK, tg_backward(loss, NULL));
        out[0] = tg_item(loss);
        for (int i = 0; i < 4; i++) {
            out[1 + i] = tg_item(tg_grad(p[i]));
            tg_data(p[i])[0] -= 1e-2 / (double)n * out[1 + i];
            tg_zero_grad(p[i]);
        }
        tg_scope_end();
    }
    for (int i = 0; i < 4; i++)
        out[5 + i] = tg_item(p[i]);
    tg_scope_end();
    tg_set_num_threads(0);
}

static void test_tutorial_training_bit_identical_on_1_2_3_threads(void **state)
{
    (void)state;
    const int64_t n = T + 7;
    double r[3][9];
    for (int t = 0; t < 3; t++)
        train(t + 1, n, r[t]);
    assert_true(isfinite(r[0][0]) && r[0][0] > 0);
    for (int t = 1; t < 3; t++) {
        for (int i = 0; i < 9; i++) {
            if (memcmp(&r[t][i], &r[0][i], sizeof(double)) != 0)
                fail_msg("%d threads: value %d (loss, 4 gradients, 4 parameters) is %.17g, on one thread %.17g",
                         t + 1, i, r[t][i], r[0][i]);
        }
    }
}

static void test_set_num_threads_validates_and_restores_the_default(void **state)
{
    (void)state;
    const int def = tg_get_num_threads();   /* nothing set yet: the default */
    const int avail = tg__par_available();
    assert_true(def >= 1);
    assert_int_equal(tg_set_num_threads(2), def);
    assert_int_equal(tg_get_num_threads(), avail ? 2 : 1);
    assert_int_equal(tg_set_num_threads(3), avail ? 2 : 1);
    assert_int_equal(tg_get_num_threads(), avail ? 3 : 1);
    tg_clear_error();
    assert_int_equal(tg_set_num_threads(1025), -1);
    assert_int_equal(tg_last_status(), TG_ERR_ARG);
    assert_non_null(strstr(tg_last_error(), "tg_set_num_threads: n is 1025"));
    assert_int_equal(tg_get_num_threads(), avail ? 3 : 1);   /* unchanged */
    tg_clear_error();
    assert_int_equal(tg_set_num_threads(0), avail ? 3 : 1);
    assert_int_equal(tg_get_num_threads(), def);
    tg_set_num_threads(1);
    assert_int_equal(tg_set_num_threads(-7), 1);
    assert_int_equal(tg_get_num_threads(), def);
    assert_int_equal(tg_last_status(), TG_OK);
    /* BLAS gets the same count and still multiplies right */
    tg_set_num_threads(2);
    tg_scope_begin();
    int64_t shape[2] = {64, 64};
    tg_tensor *a = tg_full(2, shape, 0.5), *m = tg_matmul(a, a);
    assert_non_null(m);
    for (int64_t i = 0; i < 64 * 64; i++)
        assert_true(tg_data(m)[i] == 16.0);
    tg_scope_end();
    tg_set_num_threads(0);
}

int main(int argc, char **argv)
{
    if (argc > 1) cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_num_threads_validates_and_restores_the_default),
        cmocka_unit_test(test_threshold_decides_the_team),
        cmocka_unit_test(test_kernels_bit_identical_on_1_2_3_threads_at_odd_sizes_split_to_the_element),
        cmocka_unit_test(test_kernels_bit_identical_on_1_2_3_threads_around_and_above_threshold),
        cmocka_unit_test(test_tutorial_training_bit_identical_on_1_2_3_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
