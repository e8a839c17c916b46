/* SPDX-License-Identifier: MIT */
/*
** Tests for the unrecorded backward paths of src/ops: a backward run without
** create_graph computes its gradients with the kernels directly (fill, dot,
** powgrad, sums to broadcast shapes) instead of applying ops.  Under
** create_graph the same backwards still apply the ops, so the two runs of one
** graph must give the same gradients bit for bit, through every broadcast
** pattern; the new kernels must match their reference table and the
** kernel chains they replace bit for bit, at awkward lengths, unaligned, and
** on 1, 2 and 3 threads; double backward must stay right; nothing may leak.
*/
#define _POSIX_C_SOURCE 200112L

#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/parallel.h"

/* ---------------------------------------------------------------- helpers */

static const int64_t lengths[] = {0, 1, 7, 8, 9, 1023};
#define N_LENGTHS ((int)(sizeof lengths / sizeof lengths[0]))

static bool same_bits(double a, double b)
{
    if (isnan(a) && isnan(b))
        return true;   /* NaN payloads may differ */
    return memcmp(&a, &b, sizeof a) == 0;
}

/* fails on the first element of got not bit-identical to want */
static void assert_same_bits(const char *what, int64_t n, const double *got, const double *want)
{
    for (int64_t i = 0; i < n; i++) {
        if (!same_bits(got[i], want[i]))
            fail_msg("%s: [%lld] got %.17g (%a), want %.17g (%a)", what, (long long)i, got[i], got[i],
                     want[i], want[i]);
    }
}

static uint64_t rng_state;

/* uniform in [lo, hi), with signed zeros, infinities and NaN sprinkled in when specials */
static void fill_values(double *x, int64_t n, uint64_t seed, double lo, double hi, bool specials)
{
    const double special[] = {0.0, -0.0, INFINITY, -INFINITY, NAN, 1e-310, -1e300};
    rng_state = seed;
    for (int64_t i = 0; i < n; i++) {
        x[i] = tgt_uniform(&rng_state, lo, hi);
        if (specials && i % 31 == 5)
            x[i] = special[(i / 31) % 7];
    }
}

/* n doubles at an odd offset from a 64-byte boundary (unaligned for any vector) */
typedef struct buf { double *mem, *p; } buf;

static buf buf_new(int64_t n)
{
    buf b = {NULL, NULL};
    void *mem = NULL;
    assert_int_equal(posix_memalign(&mem, 64, (size_t)(n + 2) * sizeof(double)), 0);
    b.mem = mem;
    b.p = b.mem + 1;
    return b;
}

static const tg__kernels *reference_table(void)
{
    const tg__kernels *const *all = tg__kern_all();
    for (int i = 0; all[i]; i++)
        if (strcmp(all[i]->name, "reference") == 0)
            return all[i];
    fail_msg("no reference kernel table");
    return NULL;
}

/* ------------------------------------------------------------- kernels */

static void test_fill_dot_powgrad_match_the_reference_at_awkward_lengths_unaligned(void **state)
{
    (void)state;
    const tg__kernels *ref = reference_table(), *const *all = tg__kern_all();
    const double ps[] = {2.0, 3.0, 1.0, 0.5, -0.5, -1.0, -2.0, 2.5, 1.5, 3.0 / 7.0};
    for (int t = 0; all[t]; t++) {
        const tg__kernels *k = all[t];
        for (int l = 0; l < N_LENGTHS; l++) {
            int64_t n = lengths[l];
            buf x = buf_new(n), y = buf_new(n), z = buf_new(n), w = buf_new(n);
            fill_values(x.p, n, 11 + (uint64_t)n, -3.0, 3.0, true);
            fill_values(y.p, n, 17 + (uint64_t)n, -2.0, 2.0, true);
            k->fill(n, -1.25, z.p);
            ref->fill(n, -1.25, w.p);
            assert_same_bits(k->name, n, z.p, w.p);
            double d = k->dot(n, x.p, y.p), dr = ref->dot(n, x.p, y.p);
            assert_same_bits(k->name, 1, &d, &dr);
            for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
                for (int64_t gs = 0; gs <= 1; gs++) {   /* one g for all, then g per point */
                    k->powgrad(n, y.p, gs, x.p, ps[i], z.p);
                    ref->powgrad(n, y.p, gs, x.p, ps[i], w.p);
                    assert_same_bits(k->name, n, z.p, w.p);
                }
            }
            free(x.mem), free(y.mem), free(z.mem), free(w.mem);
        }
    }
}

static void test_dot_is_bit_for_bit_the_sum_of_the_mul_kernel(void **state)
{
    (void)state;
    const int64_t sizes[] = {0, 1, 7, 8, 9, 1023, 4096, 4097, 3 * 4096 + 5, 70 * 4096 + 3};
    const tg__kernels *const *all = tg__kern_all();
    for (int t = 0; all[t]; t++) {
        const tg__kernels *k = all[t];
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            int64_t n = sizes[s];
            buf x = buf_new(n), y = buf_new(n), prod = buf_new(n);
            fill_values(x.p, n, 3 + (uint64_t)n, -1.0, 1.0, n < 5000);
            fill_values(y.p, n, 5 + (uint64_t)n, -1e3, 1e3, false);
            k->binary[TG__MUL](n, x.p, 1, y.p, 1, prod.p);
            double want = k->sum(n, prod.p), got = k->dot(n, x.p, y.p);
            assert_same_bits(k->name, 1, &got, &want);
            free(x.mem), free(y.mem), free(prod.mem);
        }
    }
}

static void test_powgrad_is_bit_for_bit_the_pow_affine_mul_chain(void **state)
{
    (void)state;
    const double ps[] = {2.0, 3.0, 4.0, 1.0, 0.5, -0.5, -1.0, -2.0, 2.5, -1.5, 1e-3};
    const tg__kernels *k = tg__kern();
    int64_t n = 1023;
    buf x = buf_new(n), g = buf_new(n), t = buf_new(n), want = buf_new(n), got = buf_new(n);
    fill_values(x.p, n, 7, -4.0, 4.0, true);
    fill_values(g.p, n, 9, -2.0, 2.0, true);
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        k->pow(n, x.p, ps[i] - 1.0, t.p);   /* the op-based backward: g * affine(pow(x, p-1), p, 0) */
        k->affine(n, t.p, ps[i], 0.0, t.p);
        k->binary[TG__MUL](n, g.p, 1, t.p, 1, want.p);
        k->powgrad(n, g.p, 1, x.p, ps[i], got.p);
        assert_same_bits("powgrad", n, got.p, want.p);
        memcpy(got.p, g.p, (size_t)n * sizeof(double));   /* in place over g */
        k->powgrad(n, got.p, 1, x.p, ps[i], got.p);
        assert_same_bits("powgrad in place", n, got.p, want.p);
        k->binary[TG__MUL](n, &g.p[5], 0, t.p, 1, want.p);   /* one g for every point */
        k->powgrad(n, &g.p[5], 0, x.p, ps[i], got.p);
        assert_same_bits("powgrad, one g", n, got.p, want.p);
    }
    free(x.mem), free(g.mem), free(t.mem), free(want.mem), free(got.mem);
}

static void test_new_kernels_bit_identical_on_1_2_3_threads(void **state)
{
    (void)state;
    const int64_t sizes[] = {0, 1, 9, 65, 4097, 9 * 4096 + 1};
    const tg__kernels *k = tg__kern();
    tg__par_set_min_work(1);   /* split everything, even one element */
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int64_t n = sizes[s];
        buf x = buf_new(n), y = buf_new(n), z1 = buf_new(n), zt = buf_new(n), f1 = buf_new(n), ft = buf_new(n);
        buf u1 = buf_new(n);
        fill_values(x.p, n, 21, -2.0, 2.0, true);
        fill_values(y.p, n, 23, -2.0, 2.0, false);
        tg_set_num_threads(1);
        double d1 = k->dot(n, x.p, y.p);
        k->powgrad(n, y.p, 1, x.p, 2.0, z1.p);
        k->powgrad(n, &y.p[n / 2], 0, x.p, 2.0, u1.p);
        k->fill(n, 0.5, f1.p);
        for (int threads = 2; threads <= 3; threads++) {
            tg_set_num_threads(threads);
            double dt = k->dot(n, x.p, y.p);
            assert_same_bits("dot", 1, &dt, &d1);
            k->powgrad(n, y.p, 1, x.p, 2.0, zt.p);
            assert_same_bits("powgrad", n, zt.p, z1.p);
            k->powgrad(n, &y.p[n / 2], 0, x.p, 2.0, zt.p);
            assert_same_bits("powgrad, one g", n, zt.p, u1.p);
            k->fill(n, 0.5, ft.p);
            assert_same_bits("fill", n, ft.p, f1.p);
        }
        free(x.mem), free(y.mem), free(z1.mem), free(zt.mem), free(f1.mem), free(ft.mem), free(u1.mem);
    }
    tg__par_set_min_work(-1);
    tg_set_num_threads(0);
}

/* ------------------------------------------------- plain == op-based */

/* Gradients of loss with respect to inputs twice over the same graph: plain
** (the unrecorded paths) and under create_graph (the op-based paths); they
** must agree bit for bit. */
static void assert_paths_agree(const char *what, tg_tensor *loss, int n, tg_tensor *const *inputs)
{
    tg_tensor *plain[8], *ops[8];
    assert_non_null(loss);
    assert_status(TG_OK, tg_autograd_grad(1, &loss, NULL, n, inputs, plain,
                                          &(tg_backward_opts){.retain_graph = true}));
    assert_status(TG_OK, tg_autograd_grad(1, &loss, NULL, n, inputs, ops,
                                          &(tg_backward_opts){.create_graph = true}));
    for (int i = 0; i < n; i++) {
        char name[128];
        snprintf(name, sizeof name, "%s: grad %d", what, i);
        assert_int_equal(tg_numel(plain[i]), tg_numel(inputs[i]));
        assert_int_equal(tg_ndim(plain[i]), tg_ndim(inputs[i]));
        assert_same_bits(name, tg_numel(plain[i]), tg_data(plain[i]), tg_data(ops[i]));
    }
}

/* sum(out * w), w a fixed pattern of out's shape, so every gradient varies */
static tg_tensor *weighted(tg_tensor *out)
{
    assert_non_null(out);
    return tg_sum(tg_mul(out, tgt_make(tg_ndim(out), tg_shape(out), tgt_signed1, false)));
}

typedef struct shape { int ndim; int64_t d[4]; } shape;

static const struct { shape a, b; } pairs[] = {
    {{1, {5}}, {0, {0}}},          {{0, {0}}, {1, {5}}},          {{2, {3, 1}}, {2, {1, 4}}},
    {{2, {2, 3}}, {1, {3}}},       {{2, {4, 1}}, {0, {0}}},       {{2, {4, 1}}, {1, {1}}},
    {{0, {0}}, {0, {0}}},          {{1, {7000}}, {0, {0}}},       {{2, {5000, 1}}, {0, {0}}},
    {{1, {1}}, {1, {6}}},          {{3, {2, 3, 4}}, {2, {3, 1}}}, {{1, {9}}, {1, {9}}},
    {{2, {1, 1}}, {2, {3, 2}}},    {{1, {0}}, {0, {0}}},
};

static void test_binary_backwards_agree_with_the_op_paths_through_broadcasts(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof pairs / sizeof pairs[0]; c++) {
        for (int op = 0; op < 5; op++) {
            tg_scope_begin();
            tg_tensor *in[2] = {tgt_make(pairs[c].a.ndim, pairs[c].a.d, op == 4 ? tgt_positive0 : tgt_signed0, true),
                                tgt_make(pairs[c].b.ndim, pairs[c].b.d, tgt_signed1, true)};
            tg_tensor *out = op == 0 ? tg_add(in[0], in[1]) : op == 1 ? tg_sub(in[0], in[1])
                           : op == 2 ? tg_mul(in[0], in[1]) : op == 3 ? tg_div(in[0], in[1])
                           : tg_pow_tensor(in[0], in[1]);
            char what[64];
            snprintf(what, sizeof what, "pair %zu op %d", c, op);
            assert_paths_agree(what, weighted(out), 2, in);
            assert_paths_agree(what, tg_sum(out), 2, in);   /* a uniform gradient */
            tg_scope_end();
        }
    }
}

static void test_mul_by_a_constant_agrees_when_only_one_side_needs_grad(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof pairs / sizeof pairs[0]; c++) {
        tg_scope_begin();
        tg_tensor *a = tgt_make(pairs[c].a.ndim, pairs[c].a.d, tgt_signed0, true);
        tg_tensor *b = tgt_make(pairs[c].b.ndim, pairs[c].b.d, tgt_signed1, false);
        assert_paths_agree("a * const", weighted(tg_mul(a, b)), 1, &a);
        assert_paths_agree("const * a", tg_sum(tg_mul(b, a)), 1, &a);
        tg_scope_end();
    }
}

static void test_unary_pow_affine_backwards_agree_with_the_op_paths(void **state)
{
    (void)state;
    tg_tensor *(*const unary[])(tg_tensor *) = {tg_neg, tg_exp, tg_log, tg_sin, tg_cos,
                                                tg_tanh, tg_sqrt, tg_relu, tg_abs};
    const double ps[] = {2.0, 3.0, 1.0, 0.5, -0.5, -1.0, -2.0, 2.5, 0.0};
    const int64_t shapes[][2] = {{1023, 1}, {3, 4}};
    for (int s = 0; s < 2; s++) {
        for (int pos = 0; pos < 2; pos++) {
            tg_scope_begin();
            tg_tensor *x = tgt_make(2, shapes[s], pos ? tgt_positive0 : tgt_signed0, true);
            for (size_t u = 0; u < sizeof unary / sizeof unary[0]; u++)
                if (pos || (unary[u] != tg_log && unary[u] != tg_sqrt))
                    assert_paths_agree("unary", weighted(unary[u](x)), 1, &x);
            for (size_t p = 0; p < sizeof ps / sizeof ps[0]; p++) {
                assert_paths_agree("pow", weighted(tg_pow(x, ps[p])), 1, &x);
                assert_paths_agree("pow, uniform", tg_sum(tg_pow(x, ps[p])), 1, &x);
            }
            assert_paths_agree("affine", weighted(tg_affine(x, -1.5, 0.25)), 1, &x);
            tg_scope_end();
        }
    }
}

static void test_reduce_and_shape_backwards_agree_with_the_op_paths(void **state)
{
    (void)state;
    tg_scope_begin();
    int64_t s34[2] = {3, 4}, s14[2] = {1, 4}, s31[2] = {3, 1}, s234[3] = {2, 3, 4}, s11[2] = {1, 1};
    int64_t s12[1] = {12}, s51[2] = {5000, 1}, s9k[1] = {9000};
    tg_tensor *x = tgt_make(2, s34, tgt_signed0, true);
    tg_tensor *tall = tgt_make(2, s51, tgt_signed0, true), *big = tgt_make(1, s9k, tgt_signed1, true);
    tg_tensor *col = tgt_make(2, s31, tgt_signed1, true), *sc = tgt_make(0, NULL, tgt_signed1, true);
    assert_paths_agree("sum", weighted(tg_sum(x)), 1, &x);
    assert_paths_agree("mean", weighted(tg_mean(x)), 1, &x);
    assert_paths_agree("mean, big", tg_mean(tg_mul(big, big)), 1, &big);
    assert_paths_agree("sum_to [1,4]", weighted(tg_sum_to(x, 2, s14)), 1, &x);
    assert_paths_agree("sum_to [3,1]", weighted(tg_sum_to(x, 2, s31)), 1, &x);
    assert_paths_agree("sum_to []", weighted(tg_sum_to(x, 0, NULL)), 1, &x);
    assert_paths_agree("sum_to [1,1]", weighted(tg_sum_to(x, 2, s11)), 1, &x);
    assert_paths_agree("sum_to [5000,1] -> []", weighted(tg_sum_to(tall, 0, NULL)), 1, &tall);
    assert_paths_agree("sum_to big -> []", weighted(tg_sum_to(big, 0, NULL)), 1, &big);
    assert_paths_agree("expand", weighted(tg_expand(col, 3, s234)), 1, &col);
    assert_paths_agree("expand 0-d", weighted(tg_expand(sc, 3, s234)), 1, &sc);
    assert_paths_agree("reshape", weighted(tg_reshape(x, 1, s12)), 1, &x);
    assert_paths_agree("select", weighted(tg_select(x, 1, 2)), 1, &x);
    assert_paths_agree("sum_dim", weighted(tg_sum_dim(x, 0, false)), 1, &x);
    tg_scope_end();
}

static tg_tensor *p3(tg_tensor *u)   /* (5u^3 - 3u) / 2 from ops */
{
    return tg_affine(tg_sub(tg_mul(tg_scalar(5.0), tg_pow(u, 3.0)), tg_mul(tg_scalar(3.0), u)), 0.5, 0.0);
}

static void test_tutorial_step_agrees_with_the_op_paths_at_any_n(void **state)
{
    (void)state;
    const int64_t ns[] = {1, 7, 2000, 9000};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        for (int builtin = 0; builtin < 2; builtin++) {
            tg_scope_begin();
            tg_tensor *x = tg_linspace(-3.14159, 3.14159, ns[i]), *y = tg_sin(x), *p[4];
            for (int k = 0; k < 4; k++) {
                p[k] = tg_scalar(k == 1 ? -1.0 : k == 3 ? 0.3 : 0.01 * k);
                tg_set_requires_grad(p[k], true);
            }
            tg_tensor *u = tg_add(p[2], tg_mul(p[3], x));
            tg_tensor *q = builtin ? tg_legendre(u, 3) : p3(u);
            tg_tensor *loss = tg_sum(tg_pow(tg_sub(tg_add(p[0], tg_mul(p[1], q)), y), 2.0));
            assert_paths_agree("tutorial step", loss, 4, p);
            tg_scope_end();
        }
    }
}

/* ---------------------------------------------------------- semantics */

static void test_plain_backward_gives_exact_simple_gradients(void **state)
{
    (void)state;
    tg_scope_begin();
    int64_t n = 5;
    double xs[5] = {1.0, -2.0, 0.5, 3.0, -0.25};
    tg_tensor *x = tg_from_array(1, &n, xs), *a = tg_scalar(2.0), *b = tg_scalar(-3.0);
    tg_set_requires_grad(x, true);
    tg_set_requires_grad(a, true);
    tg_set_requires_grad(b, true);
    /* loss = sum((a x - b)^2): da = sum(2 (a x - b) x), db = -sum(2 (a x - b)), dx = 2 (a x - b) a */
    assert_status(TG_OK, tg_backward(tg_sum(tg_pow(tg_sub(tg_mul(a, x), b), 2.0)), NULL));
    double da = 0.0, db = 0.0;
    for (int i = 0; i < 5; i++) {
        double r = 2.0 * xs[i] + 3.0, dx = 2.0 * r * 2.0;
        assert_allclose("dx", 1, &tg_data(tg_grad(x))[i], &dx, 0.0, 0.0);
        da += 2.0 * r * xs[i];
        db -= 2.0 * r;
    }
    assert_allclose("da", 1, tg_data(tg_grad(a)), &da, 1e-15, 0.0);
    assert_allclose("db", 1, tg_data(tg_grad(b)), &db, 1e-15, 0.0);
    assert_int_equal(tg_ndim(tg_grad(a)), 0);
    tg_scope_end();
}

static void test_gradients_accumulate_over_two_plain_backwards(void **state)
{
    (void)state;
    tg_scope_begin();
    int64_t s31[2] = {3, 1}, s14[2] = {1, 4};
    tg_tensor *a = tgt_make(2, s31, tgt_signed0, true), *b = tgt_make(2, s14, tgt_signed1, true);
    for (int r = 0; r < 2; r++)
        assert_status(TG_OK, tg_backward(weighted(tg_mul(a, b)), NULL));
    tg_tensor *in[2] = {a, b}, *g[2];
    assert_status(TG_OK, tg_autograd_grad(1, (tg_tensor *[]){weighted(tg_mul(a, b))}, NULL, 2, in, g, NULL));
    for (int i = 0; i < 2; i++) {
        tg_tensor *twice = tg_mul(g[i], tg_scalar(2.0));
        assert_same_bits("accumulated", tg_numel(twice), tg_data(tg_grad(in[i])), tg_data(twice));
    }
    tg_scope_end();
}

/* ------------------------------------------------- uniform gradients */

/* A user Function that reads its gradient element by element: y = 3 x */
static tg_tensor *tripled(tg_tensor *x)
{
    tg_tensor *y = tg_empty(tg_ndim(x), tg_shape(x));
    for (int64_t i = 0; y && i < tg_numel(x); i++)
        tg_data(y)[i] = 3.0 * tg_data(x)[i];
    return y;
}
static tg_status triple_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    (void)ctx;
    return (out[0] = tripled(in[0])) ? TG_OK : tg_last_status();
}
static tg_status triple_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    (void)ctx;
    return (gin[0] = tripled(g[0])) ? TG_OK : tg_last_status();
}
static const tg_function triple = {.name = "triple", .n_inputs = 1, .n_outputs = 1,
                                   .forward = triple_forward, .backward = triple_backward};

static void assert_all(const char *what, tg_tensor *t, int64_t n, double want)
{
    assert_non_null(t);
    assert_int_equal(tg_numel(t), n);
    for (int64_t i = 0; i < n; i++)
        if (!same_bits(tg_data(t)[i], want))
            fail_msg("%s: [%lld] is %.17g, want %.17g", what, (long long)i, tg_data(t)[i], want);
}

/* A sum's or mean's gradient is kept as its one value inside the backward
** (tg_pow's backward reads it so); everything else that meets it, and every
** gradient the user is given, sees every element: leaves, tg_autograd_grad,
** a user Function, a second gradient arriving at the same place, the
** in-place accumulation into an existing .grad, anomaly mode. */
static void test_uniform_gradients_are_spread_wherever_they_leave_the_backward(void **state)
{
    (void)state;
    const int64_t ns[] = {1, 9, 127, 128, 5000};   /* written out below 128 elements, uniform from there */
    for (size_t c = 0; c < sizeof ns / sizeof ns[0]; c++) {
        int64_t n = ns[c];
        tg_scope_begin();
        tg_tensor *x = tg_full(1, &n, 0.5), *g;
        tg_set_requires_grad(x, true);
        assert_status(TG_OK, tg_backward(tg_sum(x), NULL));   /* straight to the leaf */
        assert_all("sum -> leaf", tg_grad(x), n, 1.0);
        assert_status(TG_OK, tg_backward(tg_sum(x), NULL));   /* added in place into .grad */
        assert_all("sum -> leaf, twice", tg_grad(x), n, 2.0);
        assert_status(TG_OK, tg_backward(tg_mean(x), NULL));
        assert_all("mean -> leaf, added", tg_grad(x), n, 2.0 + 1.0 / (double)n);
        tg_zero_grad(x);
        tg_tensor *two = tg_add(tg_sum(x), tg_sum(tg_pow(x, 2.0)));   /* both into x's slot */
        assert_status(TG_OK, tg_backward(two, NULL));
        assert_all("sum + sum(x^2)", tg_grad(x), n, 2.0);
        tg_tensor *sum = tg_sum(x);
        assert_status(TG_OK, tg_autograd_grad(1, &sum, NULL, 1, &x, &g, NULL));
        assert_all("tg_autograd_grad", g, n, 1.0);
        tg_tensor *t = tg_apply1(&triple, &x);
        tg_tensor *u = tg_sum(t);
        assert_status(TG_OK, tg_autograd_grad(1, &u, NULL, 1, &t, &g, &(tg_backward_opts){.retain_graph = true}));
        assert_all("tg_autograd_grad of a non-leaf", g, n, 1.0);
        assert_status(TG_OK, tg_autograd_grad(1, &u, NULL, 1, &x, &g, NULL));
        assert_all("a user Function", g, n, 3.0);
        tg_tensor *p = tg_sum(tg_pow(tg_apply1(&triple, &x), 2.0));   /* pow takes it, triple gets pow's */
        assert_status(TG_OK, tg_autograd_grad(1, &p, NULL, 1, &x, &g, NULL));
        assert_all("pow then a user Function", g, n, 9.0);
        tg_scope_end();
    }
}

static void test_anomaly_sees_a_uniform_gradient(void **state)
{
    (void)state;
    tg_scope_begin();
    int64_t n = 1000;   /* uniform from 128 elements */
    tg_tensor *x = tg_full(1, &n, 2.0), *seed = tg_scalar(NAN);
    tg_set_requires_grad(x, true);
    tg_tensor *loss = tg_sum(tg_pow(x, 2.0));
    bool prev = tg_set_anomaly(true);
    assert_status(TG_ERR_NUMERIC, tg_backward(loss, &(tg_backward_opts){.grad = seed, .retain_graph = true}));
    assert_error(TG_ERR_NUMERIC, "backward of 'tg_sum' produced NaN in grad_inputs 0 element 0");
    assert_null(tg_grad(x));
    tg_set_anomaly(prev);
    assert_status(TG_OK, tg_backward(loss, NULL));
    assert_all("after anomaly", tg_grad(x), n, 4.0);
    tg_scope_end();
}

/* forward: f = sum(x^3 * c + x / s), c a scalar leaf, s a column */
static tg_tensor *cubic(tg_tensor *const *in, void *user)
{
    (void)user;
    return tg_sum(tg_add(tg_mul(tg_pow(in[0], 3.0), in[1]), tg_div(in[0], in[2])));
}

static void test_double_backward_still_differentiates_the_backward(void **state)
{
    (void)state;
    tg_scope_begin();
    int64_t s34[2] = {3, 4}, s31[2] = {3, 1};
    tg_tensor *in[3] = {tgt_make(2, s34, tgt_signed0, true), tgt_make(0, NULL, tgt_positive0, true),
                        tgt_make(2, s31, tgt_positive0, true)};
    assert_status(TG_OK, tg_gradgradcheck(cubic, 3, in, NULL, 1e-6, 1e-5, 1e-4));
    /* d/dx sum(dloss/dx) for loss = sum(x^3 c): sum(6 x c) over x, exactly by hand */
    tg_tensor *x = in[0], *c = in[1], *g;
    tg_tensor *loss = tg_sum(tg_mul(tg_pow(x, 3.0), c));
    assert_status(TG_OK, tg_autograd_grad(1, &loss, NULL, 1, &x, &g, &(tg_backward_opts){.create_graph = true}));
    assert_true(tg_requires_grad(g));
    assert_status(TG_OK, tg_backward(tg_sum(g), NULL));
    for (int64_t i = 0; i < 12; i++) {
        double want = 6.0 * tg_data(x)[i] * tg_item(c);
        assert_allclose("d2 loss / dx2", 1, &tg_data(tg_grad(x))[i], &want, 1e-14, 1e-15);
    }
    tg_scope_end();
}

int main(void)
{
    tgt_warm_scopes();
    const struct CMUnitTest tests[] = {
        tgt_test(test_fill_dot_powgrad_match_the_reference_at_awkward_lengths_unaligned),
        tgt_test(test_dot_is_bit_for_bit_the_sum_of_the_mul_kernel),
        tgt_test(test_powgrad_is_bit_for_bit_the_pow_affine_mul_chain),
        tgt_test(test_new_kernels_bit_identical_on_1_2_3_threads),
        tgt_test(test_binary_backwards_agree_with_the_op_paths_through_broadcasts),
        tgt_test(test_mul_by_a_constant_agrees_when_only_one_side_needs_grad),
        tgt_test(test_unary_pow_affine_backwards_agree_with_the_op_paths),
        tgt_test(test_reduce_and_shape_backwards_agree_with_the_op_paths),
        tgt_test(test_tutorial_step_agrees_with_the_op_paths_at_any_n),
        tgt_test(test_plain_backward_gives_exact_simple_gradients),
        tgt_test(test_gradients_accumulate_over_two_plain_backwards),
        tgt_test(test_uniform_gradients_are_spread_wherever_they_leave_the_backward),
        tgt_test(test_anomaly_sees_a_uniform_gradient),
        tgt_test(test_double_backward_still_differentiates_the_backward),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
