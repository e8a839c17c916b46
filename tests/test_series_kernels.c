/* SPDX-License-Identifier: MIT */
/*
** Tests for the Legendre-series kernels of src/kernels (legseries, legproject,
** legvander): every fast table against the reference bit for bit at point
** counts 0, 1, 7, 8, 9 and 1023, unaligned pointers, one series and batches
** with their own or shared points, derivative orders 0 to 3; and the
** reference against a plain long double evaluation of the same sums.
** Outputs carry a guard tail so a kernel writing past its end is caught even
** without AddressSanitizer.
*/
#define _POSIX_C_SOURCE 200112L

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "support.h"   /* tgt_uniform */

static const int64_t lengths[] = {0, 1, 7, 8, 9, 1023};
#define N_LENGTHS ((int)(sizeof lengths / sizeof lengths[0]))
static const int64_t ncoefs[] = {1, 2, 5, 33};
#define N_NCOEFS ((int)(sizeof ncoefs / sizeof ncoefs[0]))

#define GUARD 16
static const uint64_t canary_bits = 0x7ff4deadbeef1234u;   /* a NaN nothing computes */

/* n doubles at p = mem + offset (mem 64-byte aligned), then GUARD canaries. */
typedef struct span {
    double *mem, *p;
    int64_t n;
} span;

static span span_new(int64_t n, int offset)
{
    span s = {NULL, NULL, n};
    void *mem = NULL;
    assert_int_equal(posix_memalign(&mem, 64, (size_t)(n + offset + GUARD + 1) * sizeof(double)), 0);
    s.mem = mem;
    s.p = s.mem + offset;
    for (int64_t i = 0; i < n + GUARD; i++) memcpy(&s.p[i], &canary_bits, sizeof(double));
    return s;
}

static void check_guard(const span *s, const char *what)
{
    for (int64_t i = 0; i < GUARD; i++)
        if (memcmp(&s->p[s->n + i], &canary_bits, sizeof(double)) != 0)
            fail_msg("%s: wrote past n = %lld at n + %lld", what, (long long)s->n, (long long)i);
}

static uint64_t rng_state;

static void fill(span *s, uint64_t seed, double lo, double hi)
{
    rng_state = seed;
    for (int64_t i = 0; i < s->n; i++) s->p[i] = tgt_uniform(&rng_state, lo, hi);
}

static const tg__kernels *reference_table(void)
{
    for (const tg__kernels *const *k = tg__kern_all(); *k; k++)
        if (strcmp((*k)->name, "reference") == 0) return *k;
    fail_msg("tg__kern_all() has no reference table");
    return NULL;
}

static void assert_bits_equal(const char *what, const char *table, int64_t n, const double *got,
                              const double *want)
{
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&got[i], &want[i], sizeof(double)) != 0)
            fail_msg("%s: table %s differs from the reference at [%lld]: %.17g vs %.17g", what, table,
                     (long long)i, got[i], want[i]);
}

/* The problem of one case: nb series of n points, ncoef coefficients; x
** shared (stride 0) or per series (stride n). */
typedef struct problem {
    int64_t nb, n, ncoef, x_stride;
    int k, offset;
    span coef, x, g;
} problem;

static problem problem_new(int64_t nb, int64_t n, int64_t ncoef, bool shared, int k, int offset)
{
    problem p = {nb, n, ncoef, shared ? 0 : n, k, offset, {0}, {0}, {0}};
    p.coef = span_new(nb * ncoef, offset);
    p.x = span_new(shared ? n : nb * n, offset);
    p.g = span_new(nb * n, offset);
    fill(&p.coef, 11 + (uint64_t)n, -1.0, 1.0);
    fill(&p.x, 23 + (uint64_t)n, -1.3, 1.7);   /* points inside and outside the unit interval */
    fill(&p.g, 37 + (uint64_t)n, -1.0, 1.0);
    return p;
}

static void problem_free(problem *p)
{
    free(p->coef.mem);
    free(p->x.mem);
    free(p->g.mem);
}

static const double alpha = 0.8125, beta = 0.0625;

static void run_series(const tg__kernels *kt, const problem *p, span *y)
{
    double *scratch = malloc((size_t)tg__legseries_scratch(p->k) * sizeof(double));
    assert_non_null(scratch);
    kt->legseries(p->nb, p->n, p->ncoef, p->coef.p, p->x.p, p->x_stride, alpha, beta, p->k, y->p, scratch);
    free(scratch);
}

static void run_project(const tg__kernels *kt, const problem *p, span *out)
{
    double *scratch = malloc((size_t)tg__legproject_scratch(p->k, p->ncoef) * sizeof(double));
    assert_non_null(scratch);
    kt->legproject(p->nb, p->n, p->ncoef, p->g.p, p->x.p, p->x_stride, alpha, beta, p->k, out->p, scratch);
    free(scratch);
}

/* Every table, lengths, shared / own points, orders, unaligned by 0 or 1. */
static void test_legseries_and_legproject_fast_tables_equal_reference_bit_for_bit(void **state)
{
    (void)state;
    const tg__kernels *ref = reference_table();
    for (const tg__kernels *const *kt = tg__kern_all(); *kt; kt++)
        for (int li = 0; li < N_LENGTHS; li++)
            for (int ci = 0; ci < N_NCOEFS; ci++)
                for (int k = 0; k <= 3; k++)
                    for (int shared = 0; shared <= 1; shared++)
                        for (int offset = 0; offset <= 1; offset++) {
                            int64_t nb = 3, n = lengths[li], ncoef = ncoefs[ci];
                            problem p = problem_new(nb, n, ncoef, shared, k, offset);
                            span y = span_new(nb * n, offset), yr = span_new(nb * n, 0);
                            span z = span_new(nb * ncoef, offset), zr = span_new(nb * ncoef, 0);
                            char what[160];
                            snprintf(what, sizeof what, "n=%lld ncoef=%lld k=%d shared=%d offset=%d",
                                     (long long)n, (long long)ncoef, k, shared, offset);
                            run_series(ref, &p, &yr);
                            run_series(*kt, &p, &y);
                            check_guard(&y, what);
                            assert_bits_equal(what, (*kt)->name, nb * n, y.p, yr.p);
                            run_project(ref, &p, &zr);
                            run_project(*kt, &p, &z);
                            check_guard(&z, what);
                            assert_bits_equal(what, (*kt)->name, nb * ncoef, z.p, zr.p);
                            free(y.mem); free(yr.mem); free(z.mem); free(zr.mem);
                            problem_free(&p);
                        }
}

static void test_legvander_fast_tables_equal_reference_bit_for_bit(void **state)
{
    (void)state;
    const tg__kernels *ref = reference_table();
    double scratch[4 * TG__LEG_BLOCK];
    for (const tg__kernels *const *kt = tg__kern_all(); *kt; kt++)
        for (int li = 0; li < N_LENGTHS; li++)
            for (int ci = 0; ci < N_NCOEFS; ci++)
                for (int offset = 0; offset <= 1; offset++) {
                    int64_t n = lengths[li], ncoef = ncoefs[ci];
                    span x = span_new(n, offset), v = span_new(n * ncoef, offset), vr = span_new(n * ncoef, 0);
                    fill(&x, 5 + (uint64_t)n, -1.3, 1.7);
                    ref->legvander(n, ncoef, x.p, alpha, beta, vr.p, scratch);
                    (*kt)->legvander(n, ncoef, x.p, alpha, beta, v.p, scratch);
                    check_guard(&v, "legvander");
                    assert_bits_equal("legvander", (*kt)->name, n * ncoef, v.p, vr.p);
                    free(x.mem); free(v.mem); free(vr.mem);
                }
}

/* ------------------------------------------ reference against plain math */

/* P_j^(i)(t) for j < ncoef, i <= k, by Bonnet in long double: p[j * (k+1) + i] */
static void plain_legendre(long double t, int64_t ncoef, int k, long double *p)
{
    const int64_t r = k + 1;
    for (int64_t j = 0; j < ncoef; j++)
        for (int i = 0; i <= k; i++) {
            long double v;
            if (j == 0) v = i == 0 ? 1.0L : 0.0L;
            else {
                long double m = (long double)(j - 1), cur = p[(j - 1) * r + i];
                long double curd = i > 0 ? p[(j - 1) * r + i - 1] : 0.0L;
                long double prev = j >= 2 ? p[(j - 2) * r + i] : 0.0L;
                v = ((2 * m + 1) * (t * cur + i * curd) - m * prev) / (m + 1);
            }
            p[j * r + i] = v;
        }
}

/* |y - plain| <= 1e-13 * (ncoef + k)^(k + 1) * sum |terms|: Clenshaw and Bonnet
** errors grow with the degree and each derivative order, never with the
** size of the terms that cancel beyond that. */
static void test_reference_kernels_agree_with_a_plain_long_double_evaluation(void **state)
{
    (void)state;
    const tg__kernels *ref = reference_table();
    for (int ci = 0; ci < N_NCOEFS; ci++)
        for (int k = 0; k <= 2; k++) {
            int64_t nb = 2, n = 77, ncoef = ncoefs[ci];
            problem p = problem_new(nb, n, ncoef, false, k, 0);
            span y = span_new(nb * n, 0), z = span_new(nb * ncoef, 0);
            run_series(ref, &p, &y);
            run_project(ref, &p, &z);
            long double *pl = malloc((size_t)(ncoef * (k + 1)) * sizeof(long double));
            long double *zsum = calloc((size_t)(nb * ncoef), sizeof(long double));
            long double *zabs = calloc((size_t)(nb * ncoef), sizeof(long double));
            assert_true(pl && zsum && zabs);
            double growth = 1e-13 * pow((double)(ncoef + k), k + 1);
            for (int64_t b = 0; b < nb; b++)
                for (int64_t i = 0; i < n; i++) {
                    double t = p.x.p[b * n + i] * alpha + beta;
                    plain_legendre(t, ncoef, k, pl);
                    long double s = 0, sabs = 0, gi = p.g.p[b * n + i];
                    for (int64_t j = 0; j < ncoef; j++) {
                        long double term = p.coef.p[b * ncoef + j] * pl[j * (k + 1) + k];
                        s += term;
                        sabs += fabsl(term);
                        zsum[b * ncoef + j] += gi * pl[j * (k + 1) + k];
                        zabs[b * ncoef + j] += fabsl(gi * pl[j * (k + 1) + k]);
                    }
                    double err = fabs(y.p[b * n + i] - (double)s);
                    if (!(err <= growth * (double)sabs + 1e-300))
                        fail_msg("legseries ncoef=%lld k=%d at t=%g: %.17g vs plain %.17Lg", (long long)ncoef, k,
                                 t, y.p[b * n + i], s);
                }
            for (int64_t j = 0; j < nb * ncoef; j++)
                if (!(fabs(z.p[j] - (double)zsum[j]) <= growth * (double)zabs[j] + 1e-300))
                    fail_msg("legproject ncoef=%lld k=%d at [%lld]: %.17g vs plain %.17Lg", (long long)ncoef, k,
                             (long long)j, z.p[j], zsum[j]);
            free(pl); free(zsum); free(zabs);
            free(y.mem); free(z.mem);
            problem_free(&p);
        }
}

/* Derivative orders above the degree give exact zeros; the legvander rows
** are the order-0 values legproject sums, and legseries of a unit vector. */
static void test_reference_kernels_are_consistent_with_each_other(void **state)
{
    (void)state;
    const tg__kernels *ref = reference_table();
    const int64_t n = 9, ncoef = 4;
    problem p = problem_new(1, n, ncoef, false, 4, 0);
    span y = span_new(n, 0);
    run_series(ref, &p, &y);
    for (int64_t i = 0; i < n; i++)
        assert_true(y.p[i] == 0.0);   /* the 4th derivative of a cubic */
    double v[9 * 4], unit[4], col[9], scratch[4 * TG__LEG_BLOCK];
    double *s2 = malloc((size_t)tg__legseries_scratch(0) * sizeof(double));
    assert_non_null(s2);
    ref->legvander(n, ncoef, p.x.p, alpha, beta, v, scratch);
    for (int64_t j = 0; j < ncoef; j++) {
        for (int64_t c = 0; c < ncoef; c++) unit[c] = c == j ? 1.0 : 0.0;
        ref->legseries(1, n, ncoef, unit, p.x.p, 0, alpha, beta, 0, col, s2);
        for (int64_t i = 0; i < n; i++)
            if (fabs(col[i] - v[i * ncoef + j]) > 1e-15)
                fail_msg("P_%lld at point %lld: legseries %.17g, legvander %.17g", (long long)j, (long long)i,
                         col[i], v[i * ncoef + j]);
    }
    free(s2);
    free(y.mem);
    problem_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_legseries_and_legproject_fast_tables_equal_reference_bit_for_bit),
        cmocka_unit_test(test_legvander_fast_tables_equal_reference_bit_for_bit),
        cmocka_unit_test(test_reference_kernels_agree_with_a_plain_long_double_evaluation),
        cmocka_unit_test(test_reference_kernels_are_consistent_with_each_other),
    };
    return cmocka_run_group_tests_name("series_kernels", tests, NULL, NULL);
}
