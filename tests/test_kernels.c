/* SPDX-License-Identifier: MIT */
/*
** Tests for src/kernels: every fast kernel table against the reference, bit
** for bit, at awkward lengths, unaligned pointers, in place and with scalar
** operands; and the reference itself against straightforward math (C
** operators, libm, a long double sum, explicit Legendre polynomials).
** Outputs carry a guard tail so a kernel that writes past n is caught even
** without AddressSanitizer.
*/
#define _POSIX_C_SOURCE 200112L

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "support.h"   /* tgt_uniform */

/* ---------------------------------------------------------------- helpers */

static const int64_t lengths[] = {0, 1, 7, 8, 9, 1023};
#define N_LENGTHS ((int)(sizeof lengths / sizeof lengths[0]))

static const char *const binop_names[TG__N_BINOPS] = {"add", "sub", "mul", "div", "pow"};
static const char *const unop_names[TG__N_UNOPS] = {"neg",  "exp",  "log",  "sin", "cos", "tanh",
                                                    "sqrt", "relu", "step", "abs", "sign"};

#define GUARD 16
static const uint64_t canary_bits = 0x7ff4deadbeef1234u;   /* a NaN nothing computes */

/* n doubles at p = mem + offset (mem 64-byte aligned), then guard doubles of
** canary; the allocation ends there, so ASan sees any access beyond. */
typedef struct span {
    double *mem, *p;
    int64_t n, guard;
} span;

static span span_new(int64_t n, int offset, int64_t guard)
{
    span s = {NULL, NULL, n, guard};
    void *mem = NULL;
    size_t bytes = (size_t)(n + offset + guard + 1) * sizeof(double);
    assert_int_equal(posix_memalign(&mem, 64, bytes), 0);
    s.mem = mem;
    s.p = s.mem + offset;
    for (int64_t i = 0; i < guard; i++) memcpy(&s.p[n + i], &canary_bits, sizeof(double));
    return s;
}

static void span_free(span *s) { free(s->mem); }

static void check_guard(const span *s, const char *what)
{
    for (int64_t i = 0; i < s->guard; i++) {
        if (memcmp(&s->p[s->n + i], &canary_bits, sizeof(double)) != 0) {
            print_error("%s: wrote past n = %lld at n + %lld\n", what, (long long)s->n,
                        (long long)i);
            fail();
        }
    }
}

static uint64_t rng_state;


/* uniform in [lo, hi), and with specials every 29th element from index 3 */
static void fill(double *x, int64_t n, uint64_t seed, double lo, double hi, int specials)
{
    const uint64_t snan_bits = 0x7ff0000000000001u;
    double snan;
    memcpy(&snan, &snan_bits, sizeof snan);
    const double special[] = {0.0,    -0.0,   INFINITY, -INFINITY, NAN, -NAN,
                              1e-310, -1e-310, 1e300,   -1e300,    snan};
    const int n_special = (int)(sizeof special / sizeof special[0]);
    rng_state = seed;
    for (int64_t i = 0; i < n; i++) {
        x[i] = tgt_uniform(&rng_state, lo, hi);
        if (specials && i % 29 == 3) x[i] = special[(i / 29) % n_special];
    }
}

static int same_double(double a, double b)
{
    if (isnan(a) && isnan(b)) return 1;   /* NaN payloads may differ */
    return memcmp(&a, &b, sizeof a) == 0;
}

/* number of i with got[i] not bit-identical to want[i]; prints the first few */
static int64_t count_different(const char *what, const double *got, const double *want,
                               int64_t n)
{
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        if (same_double(got[i], want[i])) continue;
        if (bad++ < 5)
            print_error("%s: [%lld] got %.17g (%a) want %.17g (%a) error %.3g\n", what,
                        (long long)i, got[i], got[i], want[i], want[i], got[i] - want[i]);
    }
    return bad;
}

/* number of i with |got - want| > atol + rtol |want|; prints the first few */
static int64_t count_not_close(const char *what, const double *got, const double *want,
                               int64_t n, double rtol, double atol)
{
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        const double err = fabs(got[i] - want[i]);
        if (err <= atol + rtol * fabs(want[i])) continue;
        if (bad++ < 5)
            print_error("%s: [%lld] got %.17g want %.17g error %.3g\n", what, (long long)i,
                        got[i], want[i], err);
    }
    return bad;
}

static const tg__kernels *reference_table(void)
{
    const tg__kernels *const *all = tg__kern_all();
    for (int i = 0; all[i] != NULL; i++)
        if (strcmp(all[i]->name, "reference") == 0) return all[i];
    fail_msg("tg__kern_all() has no reference table");
    return NULL;
}

/* ---------------------------------------------------------------- dispatch */

/* Must run before anything else calls tg__kern(): the choice is made once. */
static void test_kern_honours_tg_kernels_environment(void **state)
{
    (void)state;
    assert_int_equal(setenv("TG_KERNELS", "reference", 1), 0);
    const tg__kernels *k = tg__kern();
    assert_non_null(k);
    assert_string_equal(k->name, "reference");
    assert_ptr_equal(tg__kern(), k);
    assert_ptr_equal(k, reference_table());
}

static void test_kern_all_lists_every_table_this_cpu_runs(void **state)
{
    (void)state;
    const tg__kernels *const *all = tg__kern_all();
    int n = 0, has_avx2 = 0, has_avx512 = 0;
    for (; all[n] != NULL; n++) {
        const tg__kernels *k = all[n];
        assert_non_null(k->name);
        for (int j = 0; j < n; j++) assert_string_not_equal(all[j]->name, k->name);
        for (int op = 0; op < TG__N_BINOPS; op++) assert_non_null(k->binary[op]);
        for (int op = 0; op < TG__N_UNOPS; op++) assert_non_null(k->unary[op]);
        for (int op = 0; op < TG__N_UNOPS; op++) assert_non_null(unop_names[op]);   /* named here too */
        assert_non_null(k->pow);
        assert_non_null(k->affine);
        assert_non_null(k->acc);
        assert_non_null(k->sum);
        assert_non_null(k->legendre);
        has_avx2 |= strcmp(k->name, "avx2") == 0;
        has_avx512 |= strcmp(k->name, "avx512") == 0;
    }
    assert_true(n >= 1 && n <= 3);
    assert_non_null(reference_table());
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) assert_true(has_avx2);
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl"))
        assert_true(has_avx512);
#endif
    (void)has_avx2;
    (void)has_avx512;
}

/* ---------------------------------------------------------------- fast == reference */

static void test_binary_fast_equals_reference_at_awkward_lengths(void **state)
{
    (void)state;
    const tg__kernels *ref = reference_table(), *const *all = tg__kern_all();
    const int64_t incs[4][2] = {{1, 1}, {1, 0}, {0, 1}, {0, 0}};
    char what[160];
    for (int t = 0; all[t] != NULL; t++) {
        if (all[t] == ref) continue;
        for (int li = 0; li < N_LENGTHS; li++)
            for (int off = 0; off <= 1; off++)
                for (int ic = 0; ic < 4; ic++)
                    for (int op = 0; op < TG__N_BINOPS; op++) {
                        const int64_t n = lengths[li], incx = incs[ic][0], incy = incs[ic][1];
                        span x = span_new(n, off, 0), y = span_new(n, off, 0);
                        span got = span_new(n, off, GUARD), want = span_new(n, off, GUARD);
                        fill(x.p, n, 11 + (uint64_t)n, -4, 4, 1);
                        fill(y.p, n, 23 + (uint64_t)n, -4, 4, 1);
                        snprintf(what, sizeof what, "%s %s n=%lld offset=%d incx=%lld incy=%lld",
                                 all[t]->name, binop_names[op], (long long)n, off,
                                 (long long)incx, (long long)incy);
                        ref->binary[op](n, x.p, incx, y.p, incy, want.p);
                        all[t]->binary[op](n, x.p, incx, y.p, incy, got.p);
                        assert_int_equal(count_different(what, got.p, want.p, n), 0);
                        check_guard(&got, what);
                        span_free(&x), span_free(&y), span_free(&got), span_free(&want);
                    }
    }
}

/* z == x and z == y, with the other operand a span or a scalar */
static void test_binary_fast_equals_reference_in_place(void **state)
{
    (void)state;
    const tg__kernels *ref = reference_table(), *const *all = tg__kern_all();
    char what[160];
    for (int t = 0; all[t] != NULL; t++) {
        if (all[t] == ref) continue;
        for (int li = 0; li < N_LENGTHS; li++)
            for (int side = 0; side <= 1; side++)
                for (int other_inc = 0; other_inc <= 1; other_inc++)
                    for (int op = 0; op < TG__N_BINOPS; op++) {
                        const int64_t n = lengths[li];
                        span a = span_new(n, 1, 0), b = span_new(n, 1, 0);
                        span got = span_new(n, 1, GUARD), want = span_new(n, 1, GUARD);
                        fill(a.p, n, 31 + (uint64_t)n, -4, 4, 1);
                        fill(b.p, n, 37 + (uint64_t)n, -4, 4, 1);
                        snprintf(what, sizeof what, "%s %s n=%lld z==%s other inc=%d",
                                 all[t]->name, binop_names[op], (long long)n,
                                 side ? "y" : "x", other_inc);
                        memcpy(want.p, a.p, (size_t)n * sizeof(double));
                        memcpy(got.p, a.p, (size_t)n * sizeof(double));
                        if (side == 0) {
                            ref->binary[op](n, want.p, 1, b.p, other_inc, want.p);
                            all[t]->binary[op](n, got.p, 1, b.p, other_inc, got.p);
                        } else {
                            ref->binary[op](n, b.p, other_inc, want.p, 1, want.p);
                            all[t]->binary[op](n, b.p, other_inc, got.p, 1, got.p);
                        }
                        assert_int_equal(count_different(what, got.p, want.p, n), 0);
                        check_guard(&got, what);
                        span_free(&a), span_free(&b), span_free(&got), span_free(&want);
                    }
    }
}

static void test_unary_fast_equals_reference_at_awkward_lengths_and_in_place(void **state)
{
    (void)state;
    const tg__kernels *ref = reference_table(), *const *all = tg__kern_all();
    char what[160];
    for (int t = 0; all[t] != NULL; t++) {
        if (all[t] == ref) continue;
        for (int li = 0; li < N_LENGTHS; li++)
            for (int off = 0; off <= 1; off++)
                for (int op = 0; op < TG__N_UNOPS; op++) {
                    const int64_t n = lengths[li];
                    span x = span_new(n, off, 0);
                    span got = span_new(n, off, GUARD), want = span_new(n, off, GUARD);
                    fill(x.p, n, 41 + (uint64_t)n, -20, 20, 1);
                    snprintf(what, sizeof what, "%s %s n=%lld offset=%d", all[t]->name,
                             unop_names[op], (long long)n, off);
                    ref->unary[op](n, x.p, want.p);
                    all[t]->unary[op](n, x.p, got.p);
                    assert_int_equal(count_different(what, got.p, want.p, n), 0);
                    check_guard(&got, what);

                    snprintf(what, sizeof what, "%s %s n=%lld offset=%d in place",
                             all[t]->name, unop_names[op], (long long)n, off);
                    memcpy(got.p, x.p, (size_t)n * sizeof(double));
                    all[t]->unary[op](n, got.p, got.p);
                    assert_int_equal(count_different(what, got.p, want.p, n), 0);
                    check_guard(&got, what);
                    span_free(&x), span_free(&got), span_free(&want);
                }
    }
}

static void test_pow_affine_acc_fast_equal_reference_at_awkward_lengths(void **state)
{
    (void)state;
    const tg__kernels *ref = reference_table(), *const *all = tg__kern_all();
    const double ps[] = {2.0, 3.0, 0.5, 1.0, 0.0, -1.0, 2.5};
    char what[160];
    for (int t = 0; all[t] != NULL; t++) {
        if (all[t] == ref) continue;
        for (int li = 0; li < N_LENGTHS; li++)
            for (int off = 0; off <= 1; off++) {
                const int64_t n = lengths[li];
                span x = span_new(n, off, 0), y = span_new(n, off, 0);
                span got = span_new(n, off, GUARD), want = span_new(n, off, GUARD);
                fill(x.p, n, 53 + (uint64_t)n, -3, 3, 1);
                fill(y.p, n, 59 + (uint64_t)n, -3, 3, 1);
                for (int pi = 0; pi < (int)(sizeof ps / sizeof ps[0]); pi++) {
                    snprintf(what, sizeof what, "%s pow p=%g n=%lld offset=%d", all[t]->name,
                             ps[pi], (long long)n, off);
                    ref->pow(n, x.p, ps[pi], want.p);
                    all[t]->pow(n, x.p, ps[pi], got.p);
                    assert_int_equal(count_different(what, got.p, want.p, n), 0);
                    memcpy(got.p, x.p, (size_t)n * sizeof(double));
                    all[t]->pow(n, got.p, ps[pi], got.p);
                    assert_int_equal(count_different(what, got.p, want.p, n), 0);
                    check_guard(&got, what);
                }

                snprintf(what, sizeof what, "%s affine n=%lld offset=%d", all[t]->name,
                         (long long)n, off);
                ref->affine(n, x.p, 1.0 - 0x1p-30, -0.75, want.p);
                all[t]->affine(n, x.p, 1.0 - 0x1p-30, -0.75, got.p);
                assert_int_equal(count_different(what, got.p, want.p, n), 0);
                memcpy(got.p, x.p, (size_t)n * sizeof(double));
                all[t]->affine(n, got.p, 1.0 - 0x1p-30, -0.75, got.p);
                assert_int_equal(count_different(what, got.p, want.p, n), 0);
                check_guard(&got, what);

                snprintf(what, sizeof what, "%s acc n=%lld offset=%d", all[t]->name,
                         (long long)n, off);
                memcpy(want.p, y.p, (size_t)n * sizeof(double));
                memcpy(got.p, y.p, (size_t)n * sizeof(double));
                ref->acc(n, x.p, want.p);
                all[t]->acc(n, x.p, got.p);
                assert_int_equal(count_different(what, got.p, want.p, n), 0);
                check_guard(&got, what);
                span_free(&x), span_free(&y), span_free(&got), span_free(&want);
            }
    }
}

static const int64_t sum_lengths[] = {0,    1,    7,    8,    9,     1023,  4095,
                                      4096, 4097, 5000, 9000, 12289, 40961};

static void test_sum_fast_equals_reference_at_awkward_lengths(void **state)
{
    (void)state;
    const tg__kernels *ref = reference_table(), *const *all = tg__kern_all();
    char what[160];
    for (int t = 0; all[t] != NULL; t++) {
        if (all[t] == ref) continue;
        for (int li = 0; li < (int)(sizeof sum_lengths / sizeof sum_lengths[0]); li++)
            for (int off = 0; off <= 1; off++)
                for (int specials = 0; specials <= 1; specials++) {
                    const int64_t n = sum_lengths[li];
                    span x = span_new(n, off, 0);
                    /* values of mixed sign and magnitude so the order shows */
                    fill(x.p, n, 61 + (uint64_t)n, -1, 1, 0);
                    for (int64_t i = 0; i < n; i += 3) x.p[i] *= 1e8;
                    if (specials && n > 0) x.p[n / 2] = INFINITY;
                    snprintf(what, sizeof what, "%s sum n=%lld offset=%d inf=%d",
                             all[t]->name, (long long)n, off, specials);
                    const double want = ref->sum(n, x.p), got = all[t]->sum(n, x.p);
                    assert_int_equal(count_different(what, &got, &want, 1), 0);
                    span_free(&x);
                }
    }
}

/* One block's sum as kernels.h specifies it: element i into lane i % 16 in
** increasing i, lane j + lane j + 8, then ((l0+l1)+(l2+l3)) + ((l4+l5)+(l6+l7)). */
static double block_sum_model(int64_t n, const double *x, const double *y)
{
    double lane[16] = {0.0}, l[8];
    for (int64_t i = 0; i < n; i++) {
        const double v = y ? x[i] * y[i] : x[i];
        lane[i % 16] += v;
    }
    for (int j = 0; j < 8; j++)
        l[j] = lane[j] + lane[j + 8];
    return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

/* Every table's sum and dot within one block give the specified order's
** bits, one element (its own short path) included, signed zeros, infinities,
** NaN and subnormals too. */
static void test_sum_and_dot_within_a_block_follow_the_lane_order(void **state)
{
    (void)state;
    const tg__kernels *const *all = tg__kern_all();
    const double special[] = {-0.0, 0.0, 1.5, -2.25e300, INFINITY, -INFINITY, NAN, 4e-320, -3.0};
    const int64_t ns[] = {1, 2, 15, 16, 17, 33, 4096};
    char what[160];
    for (int t = 0; all[t] != NULL; t++)
        for (size_t c = 0; c < sizeof ns / sizeof ns[0]; c++)
            for (size_t s = 0; s < sizeof special / sizeof special[0]; s++) {
                const int64_t n = ns[c];
                span x = span_new(n, 1, 0), y = span_new(n, 0, 0);
                fill(x.p, n, 71 + (uint64_t)n, -1, 1, 0);
                fill(y.p, n, 73 + (uint64_t)n, -1, 1, 0);
                x.p[0] = special[s];
                y.p[n - 1] = special[(s + 3) % (sizeof special / sizeof special[0])];
                double got = all[t]->sum(n, x.p), want = block_sum_model(n, x.p, NULL);
                snprintf(what, sizeof what, "%s sum n=%lld special %zu", all[t]->name, (long long)n, s);
                assert_int_equal(count_different(what, &got, &want, 1), 0);
                got = all[t]->dot(n, x.p, y.p), want = block_sum_model(n, x.p, y.p);
                snprintf(what, sizeof what, "%s dot n=%lld special %zu", all[t]->name, (long long)n, s);
                assert_int_equal(count_different(what, &got, &want, 1), 0);
                span_free(&x), span_free(&y);
            }
}

/* (deg, k) pairs: values, derivatives, the deg <= 1 starts, k > deg */
static const int leg_cases[][2] = {{0, 0}, {1, 0}, {1, 1}, {2, 1}, {5, 2},
                                   {17, 0}, {30, 3}, {64, 1}, {3, 5}};

static void test_legendre_fast_equals_reference_at_awkward_lengths(void **state)
{
    (void)state;
    const tg__kernels *ref = reference_table(), *const *all = tg__kern_all();
    const int64_t leg_lengths[] = {0, 1, 7, 8, 9, 63, 64, 65, 1023};
    char what[160];
    for (int t = 0; all[t] != NULL; t++) {
        if (all[t] == ref) continue;
        for (int li = 0; li < (int)(sizeof leg_lengths / sizeof leg_lengths[0]); li++)
            for (int off = 0; off <= 1; off++)
                for (int c = 0; c < (int)(sizeof leg_cases / sizeof leg_cases[0]); c++) {
                    const int64_t n = leg_lengths[li];
                    const int deg = leg_cases[c][0], k = leg_cases[c][1];
                    span x = span_new(n, off, 0), scratch = span_new(tg__legendre_scratch(k), 0, 0);
                    span got = span_new(n, off, GUARD), want = span_new(n, off, GUARD);
                    fill(x.p, n, 71 + (uint64_t)n, -1, 1, 0);
                    snprintf(what, sizeof what, "%s legendre deg=%d k=%d n=%lld offset=%d",
                             all[t]->name, deg, k, (long long)n, off);
                    ref->legendre(n, x.p, deg, k, want.p, scratch.p);
                    all[t]->legendre(n, x.p, deg, k, got.p, scratch.p);
                    assert_int_equal(count_different(what, got.p, want.p, n), 0);
                    check_guard(&got, what);

                    snprintf(what, sizeof what, "%s legendre deg=%d k=%d n=%lld offset=%d in place",
                             all[t]->name, deg, k, (long long)n, off);
                    memcpy(got.p, x.p, (size_t)n * sizeof(double));
                    all[t]->legendre(n, got.p, deg, k, got.p, scratch.p);
                    assert_int_equal(count_different(what, got.p, want.p, n), 0);
                    check_guard(&got, what);
                    span_free(&x), span_free(&scratch), span_free(&got), span_free(&want);
                }
    }
}

/* ---------------------------------------------------------------- reference == math */

static double apply_binop(int op, double a, double b)
{
    switch (op) {
    case TG__ADD: return a + b;
    case TG__SUB: return a - b;
    case TG__MUL: return a * b;
    case TG__POW: return pow(a, b);
    default: return a / b;
    }
}

static void test_binary_reference_equals_c_operators(void **state)
{
    (void)state;
    const tg__kernels *ref = reference_table();
    const int64_t n = 1023;
    span x = span_new(n, 1, 0), y = span_new(n, 1, 0), z = span_new(n, 1, GUARD);
    span want = span_new(n, 0, 0);
    fill(x.p, n, 101, -4, 4, 1);
    fill(y.p, n, 103, -4, 4, 1);
    char what[96];
    for (int op = 0; op < TG__N_BINOPS; op++)
        for (int incx = 0; incx <= 1; incx++)
            for (int incy = 0; incy <= 1; incy++) {
                for (int64_t i = 0; i < n; i++)
                    want.p[i] = apply_binop(op, x.p[i * incx], y.p[i * incy]);
                ref->binary[op](n, x.p, incx, y.p, incy, z.p);
                snprintf(what, sizeof what, "reference %s incx=%d incy=%d", binop_names[op],
                         incx, incy);
                assert_int_equal(count_different(what, z.p, want.p, n), 0);
                check_guard(&z, what);
            }
    span_free(&x), span_free(&y), span_free(&z), span_free(&want);
}

static double apply_unop(int op, double v)
{
    switch (op) {
    case TG__NEG: return -v;
    case TG__EXP: return exp(v);
    case TG__LOG: return log(v);
    case TG__SIN: return sin(v);
    case TG__COS: return cos(v);
    case TG__TANH: return tanh(v);
    case TG__SQRT: return sqrt(v);
    case TG__RELU: return isnan(v) ? v : v > 0 ? v : 0.0;
    case TG__STEP: return v <= 0 ? 0.0 : 1.0;   /* NaN passes, as PyTorch's threshold_backward */
    case TG__ABS: return fabs(v);
    case TG__SIGN: return v > 0 ? 1.0 : v < 0 ? -1.0 : 0.0;
    default: fail_msg("unary op %d has no reference in apply_unop", op); return NAN;
    }
}

static void test_unary_reference_equals_libm(void **state)
{
    (void)state;
    const tg__kernels *ref = reference_table();
    const int64_t n = 1023;
    span x = span_new(n, 1, 0), z = span_new(n, 1, GUARD), want = span_new(n, 0, 0);
    fill(x.p, n, 107, -20, 20, 1);
    for (int op = 0; op < TG__N_UNOPS; op++) {
        for (int64_t i = 0; i < n; i++) want.p[i] = apply_unop(op, x.p[i]);
        ref->unary[op](n, x.p, z.p);
        assert_int_equal(count_different(unop_names[op], z.p, want.p, n), 0);
        check_guard(&z, unop_names[op]);
    }
    span_free(&x), span_free(&z), span_free(&want);
}

static void test_relu_keeps_nan_and_gives_positive_zero_for_negative_zero(void **state)
{
    (void)state;
    const double x[6] = {NAN, -0.0, 0.0, -1.5, 2.5, -INFINITY};
    const tg__kernels *const *all = tg__kern_all();
    for (int t = 0; all[t] != NULL; t++) {
        double relu[6], step[6];
        all[t]->unary[TG__RELU](6, x, relu);
        all[t]->unary[TG__STEP](6, x, step);
        assert_true(isnan(relu[0]));
        for (int i = 1; i < 4; i++) assert_true(relu[i] == 0.0 && !signbit(relu[i]));
        assert_true(relu[4] == 2.5 && relu[5] == 0.0 && !signbit(relu[5]));
        const double step_want[6] = {1.0, 0.0, 0.0, 0.0, 1.0, 0.0};   /* NaN: 1, so dy passes */
        assert_int_equal(count_different(all[t]->name, step, step_want, 6), 0);
    }
}

static void test_abs_and_sign_at_zero_nan_and_infinity(void **state)
{
    (void)state;
    const double x[7] = {NAN, -0.0, 0.0, -1.5, 2.5, -INFINITY, INFINITY};
    const tg__kernels *const *all = tg__kern_all();
    for (int t = 0; all[t] != NULL; t++) {
        double a[7], s[7];
        all[t]->unary[TG__ABS](7, x, a);
        all[t]->unary[TG__SIGN](7, x, s);
        assert_true(isnan(a[0]));
        assert_true(a[1] == 0.0 && !signbit(a[1]) && a[2] == 0.0 && !signbit(a[2]));
        assert_true(a[3] == 1.5 && a[4] == 2.5 && a[5] == INFINITY && a[6] == INFINITY);
        const double sign_want[7] = {0.0, 0.0, 0.0, -1.0, 1.0, -1.0, 1.0};   /* sign(0) = 0, as PyTorch */
        assert_int_equal(count_different(all[t]->name, s, sign_want, 7), 0);
    }
}

/* PyTorch's CPU pow computes these exponents directly, not through pow() */
static double pytorch_pow(double x, double p)
{
    if (p == 2.0)
        return x * x;
    if (p == 3.0)
        return x * x * x;
    if (p == 1.0)
        return x;
    if (p == 0.5)
        return sqrt(x);
    if (p == -0.5)
        return 1.0 / sqrt(x);
    if (p == -1.0)
        return 1.0 / x;
    if (p == -2.0)
        return 1.0 / (x * x);
    return pow(x, p);
}

static void test_pow_reference_follows_pytorch_at_special_exponents(void **state)
{
    (void)state;
    const tg__kernels *ref = reference_table();
    const double ps[] = {2.0, 3.0, 0.5, 1.0, 0.0, -1.0, -0.5, -2.0, 2.5};
    const int64_t n = 4000;
    span x = span_new(n, 1, 0), z = span_new(n, 1, GUARD), want = span_new(n, 0, 0);
    fill(x.p, n, 109, -3, 3, 1);
    /* x*x is a rounding midpoint here, where glibc's pow(x, 2) and x*x differ:
    ** PyTorch (and so tensorgrad) gives x*x */
    for (int64_t i = 0; i < 64; i++) x.p[i] = ldexp((double)((1 << 27) - 1 - 97 * i), -26);
    char what[64];
    for (int pi = 0; pi < (int)(sizeof ps / sizeof ps[0]); pi++) {
        volatile double p = ps[pi];
        for (int64_t i = 0; i < n; i++) want.p[i] = pytorch_pow(x.p[i], p);
        ref->pow(n, x.p, ps[pi], z.p);
        snprintf(what, sizeof what, "reference pow p=%g", ps[pi]);
        assert_int_equal(count_different(what, z.p, want.p, n), 0);
        check_guard(&z, what);
    }
    span_free(&x), span_free(&z), span_free(&want);
}

static void test_affine_and_acc_reference_round_each_operation(void **state)
{
    (void)state;
    /* x*s = 1 - 2^-60 rounds to 1, so x*s + t is 0; an FMA would give -2^-60 */
    const double x[3] = {1.0 + 0x1p-30, 2.0, -0.0};
    double z[3];
    const tg__kernels *const *all = tg__kern_all();
    for (int t = 0; all[t] != NULL; t++) {
        all[t]->affine(1, x, 1.0 - 0x1p-30, -1.0, z);
        const double zero = 0.0;
        assert_int_equal(count_different(all[t]->name, z, &zero, 1), 0);
        all[t]->affine(3, x, 0.5, 0.25, z);
        const double want[3] = {(1.0 + 0x1p-30) * 0.5 + 0.25, 1.25, 0.25};
        assert_int_equal(count_different(all[t]->name, z, want, 3), 0);
        double y[3] = {1.0, -2.0, 0.0};
        all[t]->acc(3, x, y);
        const double acc_want[3] = {2.0 + 0x1p-30, 0.0, 0.0};
        assert_int_equal(count_different(all[t]->name, y, acc_want, 3), 0);
    }
}

static void test_sum_reference_matches_long_double_sum(void **state)
{
    (void)state;
    const tg__kernels *ref = reference_table();
    char what[64];
    for (int li = 0; li < (int)(sizeof sum_lengths / sizeof sum_lengths[0]); li++)
        for (int mixed = 0; mixed <= 1; mixed++) {
            const int64_t n = sum_lengths[li];
            span x = span_new(n, 1, 0);
            fill(x.p, n, 113 + (uint64_t)n, mixed ? -1.0 : 0.0, 1.0, 0);
            long double exact = 0.0L, magnitude = 0.0L;
            for (int64_t i = 0; i < n; i++) {
                exact += x.p[i];
                magnitude += fabs(x.p[i]);
            }
            const double got = ref->sum(n, x.p), want = (double)exact;
            snprintf(what, sizeof what, "reference sum n=%lld mixed=%d", (long long)n, mixed);
            /* relative to sum |x|: a cancelling sum has no relative bound */
            assert_int_equal(count_not_close(what, &got, &want, 1, 0.0,
                                             1e-12 * (double)magnitude),
                             0);
            if (n == 0) assert_true(got == 0.0 && !signbit(got));
            span_free(&x);
        }
}

/* d^k/dx^k P_deg(x) from the explicit polynomials, deg 0..5, k 0..2 */
static double legendre_explicit(int deg, int k, double x)
{
    const double x2 = x * x, x3 = x2 * x;
    switch (deg * 3 + k) {
    case 0 * 3 + 0: return 1.0;
    case 1 * 3 + 0: return x;
    case 1 * 3 + 1: return 1.0;
    case 2 * 3 + 0: return 0.5 * (3 * x2 - 1);
    case 2 * 3 + 1: return 3 * x;
    case 2 * 3 + 2: return 3.0;
    case 3 * 3 + 0: return 0.5 * (5 * x3 - 3 * x);
    case 3 * 3 + 1: return 1.5 * (5 * x2 - 1);
    case 3 * 3 + 2: return 15 * x;
    case 4 * 3 + 0: return (35 * x2 * x2 - 30 * x2 + 3) / 8;
    case 4 * 3 + 1: return (140 * x3 - 60 * x) / 8;
    case 4 * 3 + 2: return (420 * x2 - 60) / 8;
    case 5 * 3 + 0: return (63 * x3 * x2 - 70 * x3 + 15 * x) / 8;
    case 5 * 3 + 1: return (315 * x2 * x2 - 210 * x2 + 15) / 8;
    case 5 * 3 + 2: return (1260 * x3 - 420 * x) / 8;
    default: return 0.0;   /* k > deg */
    }
}

static void test_legendre_reference_matches_explicit_polynomials(void **state)
{
    (void)state;
    const tg__kernels *ref = reference_table();
    const int64_t n = 200;   /* crosses the TG__LEG_BLOCK boundaries */
    span x = span_new(n, 1, 0), y = span_new(n, 1, GUARD), want = span_new(n, 0, 0);
    span scratch = span_new(tg__legendre_scratch(2), 0, 0);
    fill(x.p, n, 127, -1, 1, 0);
    x.p[0] = -1.0, x.p[1] = 1.0, x.p[2] = 0.0;
    char what[64];
    for (int deg = 0; deg <= 5; deg++)
        for (int k = 0; k <= 2; k++) {
            for (int64_t i = 0; i < n; i++) want.p[i] = legendre_explicit(deg, k, x.p[i]);
            ref->legendre(n, x.p, deg, k, y.p, scratch.p);
            snprintf(what, sizeof what, "reference legendre deg=%d k=%d", deg, k);
            assert_int_equal(count_not_close(what, y.p, want.p, n, 1e-13, 1e-13), 0);
            check_guard(&y, what);
        }
    span_free(&x), span_free(&y), span_free(&want), span_free(&scratch);
}

/* P_n(1) = 1, P_n(-1) = (-1)^n, P_n'(1) = n(n+1)/2, P_n''(1) = (n-1)n(n+1)(n+2)/8,
** all exact in the recurrence (integers below 2^53) */
static void test_legendre_at_endpoints_matches_closed_forms_up_to_deg_64(void **state)
{
    (void)state;
    const double x[4] = {1.0, -1.0, 1.0, -1.0};
    double y[4], scratch[3 * 3 * TG__LEG_BLOCK];
    const tg__kernels *const *all = tg__kern_all();
    char what[96];
    for (int t = 0; all[t] != NULL; t++)
        for (int deg = 0; deg <= 64; deg++) {
            const double nn = deg, sgn = deg % 2 ? -1.0 : 1.0;
            const double d1 = nn * (nn + 1) / 2, d2 = (nn - 1) * nn * (nn + 1) * (nn + 2) / 8;
            const double want[3][4] = {{1.0, sgn, 1.0, sgn},
                                       {d1, -sgn * d1 + 0.0, d1, -sgn * d1 + 0.0},
                                       {deg >= 2 ? d2 : 0.0, deg >= 2 ? sgn * d2 : 0.0,
                                        deg >= 2 ? d2 : 0.0, deg >= 2 ? sgn * d2 : 0.0}};
            for (int k = 0; k <= 2; k++) {
                all[t]->legendre(4, x, deg, k, y, scratch);
                snprintf(what, sizeof what, "%s legendre deg=%d k=%d at +-1", all[t]->name,
                         deg, k);
                assert_int_equal(count_different(what, y, want[k], 4), 0);
            }
        }
}

static void test_legendre_derivative_above_degree_is_zero(void **state)
{
    (void)state;
    const int cases[][2] = {{0, 1}, {1, 2}, {3, 4}, {5, 9}, {2, 3}};
    const tg__kernels *const *all = tg__kern_all();
    const int64_t n = 70;
    span x = span_new(n, 1, 0), y = span_new(n, 1, GUARD), want = span_new(n, 0, 0);
    fill(x.p, n, 131, -1, 1, 0);
    char what[96];
    for (int t = 0; all[t] != NULL; t++)
        for (int c = 0; c < (int)(sizeof cases / sizeof cases[0]); c++) {
            const int deg = cases[c][0], k = cases[c][1];
            span scratch = span_new(tg__legendre_scratch(k), 0, 0);
            for (int64_t i = 0; i < n; i++) y.p[i] = 42.0, want.p[i] = 0.0;
            all[t]->legendre(n, x.p, deg, k, y.p, scratch.p);
            snprintf(what, sizeof what, "%s legendre deg=%d k=%d", all[t]->name, deg, k);
            assert_int_equal(count_different(what, y.p, want.p, n), 0);
            check_guard(&y, what);
            span_free(&scratch);
        }
    span_free(&x), span_free(&y), span_free(&want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* first: the kernel choice is made once, on the first tg__kern() */
        cmocka_unit_test(test_kern_honours_tg_kernels_environment),
        cmocka_unit_test(test_kern_all_lists_every_table_this_cpu_runs),
        cmocka_unit_test(test_binary_fast_equals_reference_at_awkward_lengths),
        cmocka_unit_test(test_binary_fast_equals_reference_in_place),
        cmocka_unit_test(test_unary_fast_equals_reference_at_awkward_lengths_and_in_place),
        cmocka_unit_test(test_pow_affine_acc_fast_equal_reference_at_awkward_lengths),
        cmocka_unit_test(test_sum_fast_equals_reference_at_awkward_lengths),
        cmocka_unit_test(test_sum_and_dot_within_a_block_follow_the_lane_order),
        cmocka_unit_test(test_legendre_fast_equals_reference_at_awkward_lengths),
        cmocka_unit_test(test_binary_reference_equals_c_operators),
        cmocka_unit_test(test_unary_reference_equals_libm),
        cmocka_unit_test(test_abs_and_sign_at_zero_nan_and_infinity),
        cmocka_unit_test(test_relu_keeps_nan_and_gives_positive_zero_for_negative_zero),
        cmocka_unit_test(test_pow_reference_follows_pytorch_at_special_exponents),
        cmocka_unit_test(test_affine_and_acc_reference_round_each_operation),
        cmocka_unit_test(test_sum_reference_matches_long_double_sum),
        cmocka_unit_test(test_legendre_reference_matches_explicit_polynomials),
        cmocka_unit_test(test_legendre_at_endpoints_matches_closed_forms_up_to_deg_64),
        cmocka_unit_test(test_legendre_derivative_above_degree_is_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
