/* SPDX-License-Identifier: MIT */
/*
** The built-in ops, one by one: forward values and first-order gradients
** against PyTorch (every case of tests/data/ops.txt, one test each),
** tg_gradcheck and tg_gradgradcheck on small inputs and broadcast shapes, the
** errors each op documents, PyTorch's conventions at the edges (kinks, domain
** edges, IEEE infinities and NaNs, empty tensors) and deterministic sums.
** Every test runs in a scope, and the teardown checks that the library's live
** allocation count is back where it started.
*/
#include "support.h"
#include "core/internal.h"   /* tg__alloc_live, tg__scope_end_to: leak and scope checks */

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define OPS "ops.txt"

/* Tolerances: TGT_REF_* and TGT_GC_* of tests/support/support.h. */

/* --------------------------------------------------------------- helpers */

typedef struct dims { int n; int64_t s[4]; } dims;

static const char *dims_str(char *buf, size_t size, dims d)
{
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < d.n && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%" PRId64, i ? "," : "", d.s[i]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
    return buf;
}

static double positive1(int64_t k) { return 1.5 + tgt_signed1(k); }
/* multiples of 1/8 in [-5/8, 5/8]: sums of a few of them are exact */
static double dyadic(int64_t k) { return (double)((k * 7) % 11 - 5) / 8.0; }

/* A tensor of shape d filled with gen(k), k row-major; a leaf requiring grad when grad. */
static tg_tensor *make(dims d, double (*gen)(int64_t), bool grad) { return tgt_make(d.n, d.s, gen, grad); }

static tg_tensor *vec(int64_t n, const double *v, bool grad)
{
    tg_tensor *t = tg_from_array(1, &n, v);
    if (!t)
        fail_msg("tg_from_array: %s", tg_last_error());
    if (grad)
        assert_status(TG_OK, tg_set_requires_grad(t, true));
    return t;
}

static void assert_shape(const char *what, const tg_tensor *t, dims want)
{
    if (!t)
        fail_msg("%s: NULL tensor: %s", what, tg_last_error());
    bool same = tg_ndim(t) == want.n;
    for (int i = 0; same && i < want.n; i++)
        same = tg_shape(t)[i] == want.s[i];
    if (!same) {
        char b1[80], b2[80];
        dims got = {tg_ndim(t), {0}};
        for (int i = 0; i < got.n && i < 4; i++)
            got.s[i] = tg_shape(t)[i];
        fail_msg("%s: shape %s (%d-d), expected %s", what, dims_str(b1, sizeof b1, got), tg_ndim(t),
                 dims_str(b2, sizeof b2, want));
    }
}

static bool same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

/* ------------------------------------------- PyTorch reference (ops.txt) */

static tg_tensor *c_add(tg_tensor *const *in, const double *args) { (void)args; return tg_add(in[0], in[1]); }
static tg_tensor *c_sub(tg_tensor *const *in, const double *args) { (void)args; return tg_sub(in[0], in[1]); }
static tg_tensor *c_mul(tg_tensor *const *in, const double *args) { (void)args; return tg_mul(in[0], in[1]); }
static tg_tensor *c_div(tg_tensor *const *in, const double *args) { (void)args; return tg_div(in[0], in[1]); }
static tg_tensor *c_neg(tg_tensor *const *in, const double *args) { (void)args; return tg_neg(in[0]); }
static tg_tensor *c_exp(tg_tensor *const *in, const double *args) { (void)args; return tg_exp(in[0]); }
static tg_tensor *c_log(tg_tensor *const *in, const double *args) { (void)args; return tg_log(in[0]); }
static tg_tensor *c_sin(tg_tensor *const *in, const double *args) { (void)args; return tg_sin(in[0]); }
static tg_tensor *c_cos(tg_tensor *const *in, const double *args) { (void)args; return tg_cos(in[0]); }
static tg_tensor *c_tanh(tg_tensor *const *in, const double *args) { (void)args; return tg_tanh(in[0]); }
static tg_tensor *c_sqrt(tg_tensor *const *in, const double *args) { (void)args; return tg_sqrt(in[0]); }
static tg_tensor *c_relu(tg_tensor *const *in, const double *args) { (void)args; return tg_relu(in[0]); }
static tg_tensor *c_pow(tg_tensor *const *in, const double *args) { return tg_pow(in[0], args[0]); }
static tg_tensor *c_sum(tg_tensor *const *in, const double *args) { (void)args; return tg_sum(in[0]); }
static tg_tensor *c_mean(tg_tensor *const *in, const double *args) { (void)args; return tg_mean(in[0]); }
static tg_tensor *c_matmul(tg_tensor *const *in, const double *args) { (void)args; return tg_matmul(in[0], in[1]); }
static tg_tensor *c_transpose(tg_tensor *const *in, const double *args) { (void)args; return tg_transpose(in[0]); }

static tg_tensor *c_sum_dim(tg_tensor *const *in, const double *args)
{
    return tg_sum_dim(in[0], (int)args[0], args[1] != 0.0);
}

static tg_tensor *c_reshape(tg_tensor *const *in, const double *args)
{
    return tg_reshape(in[0], 2, (int64_t[]){(int64_t)args[0], (int64_t)args[1]});
}

/* sum((a + b * P3(c + d x) - y)^2), the tutorial's loss (inputs a b c d x y) */
static tg_tensor *c_tutorial_step(tg_tensor *const *in, const double *args)
{
    (void)args;
    tg_tensor *pred = tg_add(in[0], tg_mul(in[1], tg_legendre(tg_add(in[2], tg_mul(in[3], in[4])), 3)));
    return tg_sum(tg_pow(tg_sub(pred, in[5]), 2.0));
}

/* name in ops.txt, inputs, the call, how many NAME.args it reads */
#define RC(name, n, fn, n_args) {OPS, name, n, fn, .n_file_args = n_args}
static const tgt_ref_case ref_cases[] = {
    RC("add_bcast_row", 2, c_add, 0), RC("add_outer", 2, c_add, 0), RC("add_scalar", 2, c_add, 0),
    RC("sub_bcast_row", 2, c_sub, 0), RC("sub_outer", 2, c_sub, 0), RC("sub_scalar", 2, c_sub, 0),
    RC("mul_bcast_row", 2, c_mul, 0), RC("mul_outer", 2, c_mul, 0), RC("mul_scalar", 2, c_mul, 0),
    RC("div_bcast_row", 2, c_div, 0), RC("div_outer", 2, c_div, 0), RC("div_scalar", 2, c_div, 0),
    RC("neg", 1, c_neg, 0), RC("exp", 1, c_exp, 0), RC("log", 1, c_log, 0), RC("sin", 1, c_sin, 0),
    RC("cos", 1, c_cos, 0), RC("tanh", 1, c_tanh, 0), RC("sqrt", 1, c_sqrt, 0), RC("relu", 1, c_relu, 0),
    RC("pow_2", 1, c_pow, 1), RC("pow_3", 1, c_pow, 1), RC("pow_0_5", 1, c_pow, 1),
    RC("pow_m1_5", 1, c_pow, 1), RC("pow_2_7", 1, c_pow, 1),
    RC("sum", 1, c_sum, 0), RC("mean", 1, c_mean, 0),
    RC("sum_dim0", 1, c_sum_dim, 2), RC("sum_dim0_keep", 1, c_sum_dim, 2),
    RC("sum_dim1", 1, c_sum_dim, 2), RC("sum_dim1_keep", 1, c_sum_dim, 2),
    RC("sum_dimm1", 1, c_sum_dim, 2), RC("sum_dimm1_keep", 1, c_sum_dim, 2),
    RC("matmul", 2, c_matmul, 0), RC("transpose", 1, c_transpose, 0), RC("reshape", 1, c_reshape, 2),
    RC("tutorial_step", 6, c_tutorial_step, 0),
};
#define N_REF_CASES (sizeof ref_cases / sizeof ref_cases[0])

/* The table above names every case the reference script wrote: a case added
** to make_reference.py without a line here fails this test. */
static void test_reference_table_covers_every_case_in_ops_txt(void **state)
{
    (void)state;
    FILE *fp = fopen(TG_TEST_DATA "/" OPS, "r");
    assert_non_null(fp);
    char line[1 << 14];
    int found = 0;
    while (fgets(line, sizeof line, fp)) {
        char *tail = strstr(line, ".out.shape");
        if (line[0] == '#' || !tail)
            continue;
        *tail = '\0';
        bool listed = false;
        for (size_t i = 0; i < N_REF_CASES && !listed; i++)
            listed = strcmp(ref_cases[i].name, line) == 0;
        if (!listed) {
            fclose(fp);
            fail_msg("ops.txt case '%s' is not in ref_cases", line);
        }
        found++;
    }
    fclose(fp);
    assert_int_equal(found, N_REF_CASES);
}

/* ------------------------------------------------ gradcheck, gradgradcheck */

typedef struct binary_op { const char *name; tg_tensor *(*fn)(tg_tensor *, tg_tensor *); } binary_op;
static binary_op binary_ops[] = {
    {"tg_add", tg_add}, {"tg_sub", tg_sub}, {"tg_mul", tg_mul}, {"tg_div", tg_div},
};

static tg_tensor *apply_binary(tg_tensor *const *in, void *user)
{
    const binary_op *op = user;
    return op->fn(in[0], in[1]);
}

/* a op b for broadcast layouts; the divisor is kept in [0.5, 2.5]. */
static void test_binary_ops_pass_gradcheck_on_broadcast_shapes(void **state)
{
    (void)state;
    static const struct { dims a, b, out; } layouts[] = {
        {{2, {2, 3}}, {2, {2, 3}}, {2, {2, 3}}},
        {{2, {2, 3}}, {1, {3}}, {2, {2, 3}}},
        {{1, {3}}, {2, {2, 3}}, {2, {2, 3}}},
        {{2, {4, 1}}, {2, {1, 5}}, {2, {4, 5}}},
        {{2, {2, 3}}, {0, {0}}, {2, {2, 3}}},
        {{0, {0}}, {2, {2, 3}}, {2, {2, 3}}},
        {{3, {3, 1, 2}}, {2, {4, 1}}, {3, {3, 4, 2}}},
        {{0, {0}}, {0, {0}}, {0, {0}}},
    };
    for (size_t o = 0; o < sizeof binary_ops / sizeof binary_ops[0]; o++) {
        binary_op *op = &binary_ops[o];
        for (size_t l = 0; l < sizeof layouts / sizeof layouts[0]; l++) {
            tg_scope_begin();
            char what[160], b1[40], b2[40];
            snprintf(what, sizeof what, "%s(%s, %s)", op->name, dims_str(b1, sizeof b1, layouts[l].a),
                     dims_str(b2, sizeof b2, layouts[l].b));
            tg_tensor *in[2] = {make(layouts[l].a, tgt_signed0, true),
                                make(layouts[l].b, op->fn == tg_div ? positive1 : tgt_signed1, true)};
            assert_shape(what, op->fn(in[0], in[1]), layouts[l].out);
            tgt_check_grads(what, apply_binary, 2, in, op);
            tg_scope_end();
        }
    }
}

static void test_binary_ops_pass_gradcheck_with_one_input_requiring_grad(void **state)
{
    (void)state;
    for (size_t o = 0; o < sizeof binary_ops / sizeof binary_ops[0]; o++) {
        binary_op *op = &binary_ops[o];
        for (int which = 0; which < 2; which++) {
            tg_scope_begin();
            char what[80];
            snprintf(what, sizeof what, "%s with only input %d requiring grad", op->name, which);
            tg_tensor *in[2] = {make((dims){2, {4, 1}}, tgt_signed0, which == 0),
                                make((dims){1, {3}}, op->fn == tg_div ? positive1 : tgt_signed1, which == 1)};
            tgt_check_grads(what, apply_binary, 2, in, op);
            tg_tensor *other = in[1 - which];
            assert_status(TG_OK, tg_backward(tg_sum(op->fn(in[0], in[1])), NULL));
            assert_non_null(tg_grad(in[which]));
            assert_null(tg_grad(other));
            tg_scope_end();
        }
    }
}

typedef struct unary_op {
    const char *name;
    tg_tensor *(*fn)(tg_tensor *);
    double (*gen)(int64_t);   /* inputs inside the domain, away from kinks */
} unary_op;
static unary_op unary_ops[] = {
    {"tg_neg", tg_neg, tgt_signed0},   {"tg_exp", tg_exp, tgt_signed0},   {"tg_log", tg_log, tgt_positive0},
    {"tg_sin", tg_sin, tgt_signed0},   {"tg_cos", tg_cos, tgt_signed0},   {"tg_tanh", tg_tanh, tgt_signed0},
    {"tg_sqrt", tg_sqrt, tgt_positive0}, {"tg_relu", tg_relu, tgt_signed0},   /* |sin(1 + 0.7k)| > 0.02 */
};
#define N_UNARY (sizeof unary_ops / sizeof unary_ops[0])

static tg_tensor *apply_unary(tg_tensor *const *in, void *user)
{
    const unary_op *op = user;
    return op->fn(in[0]);
}

static void test_unary_ops_pass_gradcheck(void **state)
{
    (void)state;
    static const dims shapes[] = {{2, {2, 3}}, {0, {0}}, {3, {2, 1, 3}}};
    for (size_t o = 0; o < N_UNARY; o++) {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            tg_scope_begin();
            char what[80], b[40];
            snprintf(what, sizeof what, "%s(%s)", unary_ops[o].name, dims_str(b, sizeof b, shapes[s]));
            tg_tensor *x = make(shapes[s], unary_ops[o].gen, true);
            assert_shape(what, unary_ops[o].fn(x), shapes[s]);
            tgt_check_grads(what, apply_unary, 1, &x, &unary_ops[o]);
            tg_scope_end();
        }
    }
}

static tg_tensor *apply_pow(tg_tensor *const *in, void *user) { return tg_pow(in[0], *(const double *)user); }

static void test_pow_passes_gradcheck_for_integer_fractional_zero_and_negative_exponents(void **state)
{
    (void)state;
    double exponents[] = {0.0, 1.0, 2.0, 3.0, 0.5, -1.0, -1.5, 2.7};
    for (size_t i = 0; i < sizeof exponents / sizeof exponents[0]; i++) {
        tg_scope_begin();
        char what[40];
        snprintf(what, sizeof what, "tg_pow(x, %g)", exponents[i]);
        tg_tensor *x = make((dims){2, {2, 3}}, tgt_positive0, true);
        tgt_check_grads(what, apply_pow, 1, &x, &exponents[i]);
        tg_scope_end();
    }
}

static void test_pow_with_integer_exponent_accepts_negative_base(void **state)
{
    (void)state;
    tg_scope_begin();
    double p = 3.0;
    tg_tensor *x = make((dims){1, {5}}, tgt_signed0, true);   /* has negatives */
    tg_data(x)[1] = -1.25;
    tgt_check_grads("tg_pow(x, 3) with negative x", apply_pow, 1, &x, &p);
    tg_tensor *y = tg_pow(x, 3.0);
    assert_non_null(y);
    assert_true(tg_data(y)[1] == -1.953125);   /* (-1.25)^3, exact */
    tg_scope_end();
}

static tg_tensor *apply_affine(tg_tensor *const *in, void *user)
{
    const double *st = user;
    return tg_affine(in[0], st[0], st[1]);
}

static void test_affine_is_x_times_s_plus_t_and_passes_gradcheck(void **state)
{
    (void)state;
    tg_scope_begin();
    double st[2] = {-2.5, 0.75};
    tg_tensor *x = make((dims){2, {3, 4}}, tgt_signed0, true);
    tg_tensor *y = tg_affine(x, st[0], st[1]);
    assert_shape("affine", y, (dims){2, {3, 4}});
    double want[12];
    for (int k = 0; k < 12; k++)
        want[k] = tgt_signed0(k) * st[0] + st[1];
    /* one rounding (fused) or two: within an ulp or so of the largest term */
    assert_allclose("affine", 12, tg_data(y), want, 0, 4e-16 * 3.25);
    assert_status(TG_OK, tg_backward(tg_sum(y), NULL));
    for (int k = 0; k < 12; k++)
        assert_true(tg_data(tg_grad(x))[k] == st[0]);
    tgt_check_grads("tg_affine", apply_affine, 1, &x, st);
    tg_scope_end();
}

static tg_tensor *apply_sum(tg_tensor *const *in, void *user) { (void)user; return tg_sum(in[0]); }
static tg_tensor *apply_mean(tg_tensor *const *in, void *user) { (void)user; return tg_mean(in[0]); }

static void test_sum_and_mean_pass_gradcheck(void **state)
{
    (void)state;
    static const dims shapes[] = {{0, {0}}, {1, {5}}, {3, {2, 3, 2}}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        tg_scope_begin();
        tg_tensor *x = make(shapes[s], tgt_signed0, true);
        assert_shape("sum", tg_sum(x), (dims){0, {0}});
        assert_shape("mean", tg_mean(x), (dims){0, {0}});
        tgt_check_grads("tg_sum", apply_sum, 1, &x, NULL);
        tgt_check_grads("tg_mean", apply_mean, 1, &x, NULL);
        tg_scope_end();
    }
}

typedef struct dim_arg { int dim; bool keepdim; } dim_arg;

static tg_tensor *apply_sum_dim(tg_tensor *const *in, void *user)
{
    const dim_arg *d = user;
    return tg_sum_dim(in[0], d->dim, d->keepdim);
}

static void test_sum_dim_passes_gradcheck_for_every_dim_keepdim_and_negative_dims(void **state)
{
    (void)state;
    const dims x_shape = {3, {2, 3, 4}};
    for (int dim = -3; dim < 3; dim++) {
        for (int keep = 0; keep < 2; keep++) {
            tg_scope_begin();
            int d = dim < 0 ? dim + 3 : dim;
            dims want = {keep ? 3 : 2, {0}};
            for (int i = 0, j = 0; i < 3; i++) {
                if (i != d)
                    want.s[j++] = x_shape.s[i];
                else if (keep)
                    want.s[j++] = 1;
            }
            char what[64];
            snprintf(what, sizeof what, "tg_sum_dim(x [2,3,4], %d, %s)", dim, keep ? "true" : "false");
            dim_arg arg = {dim, keep};
            tg_tensor *x = make(x_shape, tgt_signed0, true);
            assert_shape(what, tg_sum_dim(x, dim, keep), want);
            tgt_check_grads(what, apply_sum_dim, 1, &x, &arg);
            tg_scope_end();
        }
    }
}

static void test_sum_dim_with_negative_dim_equals_positive_dim(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = make((dims){3, {2, 3, 4}}, tgt_signed0, false);
    for (int dim = 0; dim < 3; dim++) {
        tg_tensor *a = tg_sum_dim(x, dim, true), *b = tg_sum_dim(x, dim - 3, true);
        assert_non_null(a);
        assert_non_null(b);
        assert_int_equal(tg_numel(a), tg_numel(b));
        assert_memory_equal(tg_data(a), tg_data(b), (size_t)tg_numel(a) * sizeof(double));
    }
    tg_scope_end();
}

typedef struct shape_pair { dims big, small; } shape_pair;
static const shape_pair broadcast_pairs[] = {
    {{2, {2, 3}}, {1, {3}}},       {{2, {2, 3}}, {2, {2, 1}}}, {{3, {2, 3, 4}}, {2, {3, 1}}},
    {{3, {2, 3, 4}}, {3, {1, 1, 4}}}, {{2, {2, 2}}, {0, {0}}},  {{3, {3, 1, 2}}, {2, {1, 2}}},
    {{2, {4, 5}}, {2, {4, 5}}},
};
#define N_PAIRS (sizeof broadcast_pairs / sizeof broadcast_pairs[0])

static tg_tensor *apply_expand(tg_tensor *const *in, void *user)
{
    const dims *d = user;
    return tg_expand(in[0], d->n, d->s);
}

static tg_tensor *apply_sum_to(tg_tensor *const *in, void *user)
{
    const dims *d = user;
    return tg_sum_to(in[0], d->n, d->s);
}

static void test_expand_and_sum_to_pass_gradcheck(void **state)
{
    (void)state;
    for (size_t p = 0; p < N_PAIRS; p++) {
        tg_scope_begin();
        shape_pair sp = broadcast_pairs[p];
        char what[120], b1[40], b2[40];
        dims_str(b1, sizeof b1, sp.small);
        dims_str(b2, sizeof b2, sp.big);
        tg_tensor *small = make(sp.small, tgt_signed0, true), *big = make(sp.big, tgt_signed1, true);
        snprintf(what, sizeof what, "tg_expand(%s -> %s)", b1, b2);
        assert_shape(what, tg_expand(small, sp.big.n, sp.big.s), sp.big);
        tgt_check_grads(what, apply_expand, 1, &small, &sp.big);
        snprintf(what, sizeof what, "tg_sum_to(%s -> %s)", b2, b1);
        assert_shape(what, tg_sum_to(big, sp.small.n, sp.small.s), sp.small);
        tgt_check_grads(what, apply_sum_to, 1, &big, &sp.small);
        tg_scope_end();
    }
}

/* expand copies: every element of the result is the broadcast source element;
** sum_to(expand(x, S), shape(x)) is x times the repeat count; and sum_to is
** the adjoint of expand: <expand(x), y> = <x, sum_to(y)>.  Multiples of 1/8
** keep every sum exact, so equality is exact. */
static void test_expand_and_sum_to_round_trip(void **state)
{
    (void)state;
    for (size_t p = 0; p < N_PAIRS; p++) {
        tg_scope_begin();
        shape_pair sp = broadcast_pairs[p];
        tg_tensor *x = make(sp.small, dyadic, false), *y = make(sp.big, dyadic, false);
        tg_tensor *e = tg_expand(x, sp.big.n, sp.big.s);
        assert_shape("expand", e, sp.big);
        int64_t ratio = tg_numel(e) / tg_numel(x), idx[4] = {0};
        for (int64_t k = 0; k < tg_numel(e); k++) {   /* walk e's index, find x's element */
            int64_t src = 0, stride = 1;
            for (int d = sp.big.n - 1; d >= 0; d--) {
                int ds = d - (sp.big.n - sp.small.n);
                if (ds >= 0 && sp.small.s[ds] != 1)
                    src += idx[d] * stride;
                if (ds >= 0)
                    stride *= sp.small.s[ds];
            }
            if (tg_data(e)[k] != tg_data(x)[src])
                fail_msg("pair %zu: expand element %" PRId64 " is %g, source %" PRId64 " is %g", p, k,
                         tg_data(e)[k], src, tg_data(x)[src]);
            for (int d = sp.big.n - 1; d >= 0 && ++idx[d] == sp.big.s[d]; d--)
                idx[d] = 0;
        }
        tg_tensor *back = tg_sum_to(e, sp.small.n, sp.small.s);
        assert_shape("sum_to(expand)", back, sp.small);
        for (int64_t k = 0; k < tg_numel(x); k++)
            assert_true(tg_data(back)[k] == (double)ratio * tg_data(x)[k]);
        double lhs = tg_item(tg_sum(tg_mul(e, y)));
        double rhs = tg_item(tg_sum(tg_mul(x, tg_sum_to(y, sp.small.n, sp.small.s))));
        assert_true(lhs == rhs);
        tg_scope_end();
    }
}

static tg_tensor *apply_matmul(tg_tensor *const *in, void *user) { (void)user; return tg_matmul(in[0], in[1]); }

static void test_matmul_passes_gradcheck_with_both_or_one_input_requiring_grad(void **state)
{
    (void)state;
    static const struct { dims a, b; } sizes[] = {
        {{2, {3, 4}}, {2, {4, 2}}}, {{2, {1, 3}}, {2, {3, 1}}}, {{2, {2, 1}}, {2, {1, 3}}},
    };
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        for (int mask = 1; mask <= 3; mask++) {   /* bit 0: a requires grad, bit 1: b */
            tg_scope_begin();
            char what[120], b1[40], b2[40];
            snprintf(what, sizeof what, "tg_matmul(%s%s, %s%s)", dims_str(b1, sizeof b1, sizes[s].a),
                     mask & 1 ? " grad" : "", dims_str(b2, sizeof b2, sizes[s].b), mask & 2 ? " grad" : "");
            tg_tensor *in[2] = {make(sizes[s].a, tgt_signed0, mask & 1), make(sizes[s].b, tgt_signed1, mask & 2)};
            assert_shape(what, tg_matmul(in[0], in[1]), (dims){2, {sizes[s].a.s[0], sizes[s].b.s[1]}});
            tgt_check_grads(what, apply_matmul, 2, in, NULL);
            tg_scope_end();
        }
    }
}

static tg_tensor *apply_reshape(tg_tensor *const *in, void *user)
{
    const dims *d = user;
    return tg_reshape(in[0], d->n, d->s);
}

static void test_reshape_infers_minus_one_shares_storage_and_passes_gradcheck(void **state)
{
    (void)state;
    static const struct { dims from, to, want; } cases[] = {
        {{2, {3, 4}}, {2, {2, 6}}, {2, {2, 6}}},     {{2, {3, 4}}, {2, {-1, 3}}, {2, {4, 3}}},
        {{2, {3, 4}}, {3, {2, -1, 3}}, {3, {2, 2, 3}}}, {{0, {0}}, {1, {1}}, {1, {1}}},
        {{1, {1}}, {0, {0}}, {0, {0}}},               {{2, {2, 3}}, {1, {-1}}, {1, {6}}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        tg_scope_begin();
        char what[120], b1[40], b2[40];
        snprintf(what, sizeof what, "tg_reshape(%s -> %s)", dims_str(b1, sizeof b1, cases[c].from),
                 dims_str(b2, sizeof b2, cases[c].to));
        tg_tensor *x = make(cases[c].from, tgt_signed0, true);
        tg_tensor *y = tg_reshape(x, cases[c].to.n, cases[c].to.s);
        assert_shape(what, y, cases[c].want);
        assert_ptr_equal(tg_data(y), tg_data(x));
        dims to = cases[c].to;
        tgt_check_grads(what, apply_reshape, 1, &x, &to);
        tg_scope_end();
    }
}

static tg_tensor *apply_transpose(tg_tensor *const *in, void *user) { (void)user; return tg_transpose(in[0]); }

static void test_transpose_swaps_rows_and_columns_and_passes_gradcheck(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = make((dims){2, {3, 37}}, tgt_signed0, true);   /* crosses the 32-wide blocks */
    tg_tensor *y = tg_transpose(x);
    assert_shape("transpose", y, (dims){2, {37, 3}});
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 37; j++)
            assert_true(tg_data(y)[j * 3 + i] == tg_data(x)[i * 37 + j]);
    tg_tensor *small = make((dims){2, {2, 3}}, tgt_signed0, true);
    tgt_check_grads("tg_transpose", apply_transpose, 1, &small, NULL);
    tg_scope_end();
}

/* ----------------------------------------------------------------- errors */

static void test_binary_ops_reject_shapes_that_do_not_broadcast(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *a = make((dims){2, {2, 3}}, tgt_positive0, false), *b = make((dims){1, {2}}, positive1, false);
    tg_tensor *c = make((dims){3, {4, 3, 2}}, positive1, false);
    for (size_t o = 0; o < sizeof binary_ops / sizeof binary_ops[0]; o++) {
        tg_clear_error();
        assert_null(binary_ops[o].fn(a, b));
        assert_error(TG_ERR_SHAPE, binary_ops[o].name, "[2,3]", "[2]");
        assert_null(binary_ops[o].fn(c, a));   /* trailing dims 2 vs 3 */
        assert_error(TG_ERR_SHAPE, binary_ops[o].name, "[4,3,2]", "[2,3]");
    }
    tg_scope_end();
}

static void test_matmul_rejects_inner_dim_mismatch(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *a = make((dims){2, {2, 3}}, tgt_signed0, true);
    assert_null(tg_matmul(a, a));
    assert_error(TG_ERR_SHAPE, "tg_matmul", "[2,3]");
    tg_tensor *b = make((dims){2, {4, 2}}, tgt_signed1, false);
    assert_null(tg_matmul(a, b));
    assert_error(TG_ERR_SHAPE, "tg_matmul", "[2,3]", "[4,2]");
    tg_scope_end();
}

static void test_matmul_rejects_0d_operands_and_mismatched_vectors(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *m = make((dims){2, {3, 3}}, tgt_signed0, false), *v = make((dims){1, {2}}, tgt_signed1, false);
    tg_tensor *s = make((dims){0, {0}}, tgt_signed1, false), *t = make((dims){3, {2, 2, 3}}, tgt_signed1, false);
    assert_null(tg_matmul(v, m));
    assert_error(TG_ERR_SHAPE, "tg_matmul", "[2]", "[3,3]");
    assert_null(tg_matmul(m, v));
    assert_error(TG_ERR_SHAPE, "tg_matmul", "[3,3]", "[2]");
    assert_null(tg_matmul(s, m));
    assert_error(TG_ERR_SHAPE, "tg_matmul", "[]");
    assert_null(tg_matmul(t, t));
    assert_error(TG_ERR_SHAPE, "tg_matmul", "[2,2,3]");
    assert_null(tg_matmul(t, make((dims){3, {3, 3, 1}}, tgt_signed1, false)));   /* batch 2 vs 3 */
    assert_error(TG_ERR_SHAPE, "tg_matmul");
    tg_scope_end();
}

static void test_sum_dim_rejects_dim_out_of_range(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = make((dims){2, {2, 3}}, tgt_signed0, true), *s = make((dims){0, {0}}, tgt_signed0, false);
    assert_null(tg_sum_dim(x, 2, false));
    assert_error(TG_ERR_ARG, "tg_sum_dim", "dim 2", "2-d");
    assert_null(tg_sum_dim(x, -3, true));
    assert_error(TG_ERR_ARG, "tg_sum_dim", "dim -3", "2-d");
    assert_null(tg_sum_dim(s, 1, false));   /* 0 and -1 are a 0-d tensor's dims (PyTorch) */
    assert_error(TG_ERR_ARG, "tg_sum_dim", "dim 1", "0-d");
    tg_scope_end();
}

static void test_sum_to_rejects_shape_it_does_not_broadcast_from(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = make((dims){2, {2, 3}}, tgt_signed0, true);
    assert_null(tg_sum_to(x, 1, (int64_t[]){4}));
    assert_error(TG_ERR_SHAPE, "tg_sum_to", "[2,3]", "[4]");
    assert_null(tg_sum_to(x, 2, (int64_t[]){3, 3}));
    assert_error(TG_ERR_SHAPE, "tg_sum_to", "[2,3]", "[3,3]");
    assert_null(tg_sum_to(x, 3, (int64_t[]){1, 2, 3}));   /* more dims than x: not a reduction */
    assert_error(TG_ERR_SHAPE, "tg_sum_to", "[2,3]", "[1,2,3]");
    tg_scope_end();
}

static void test_expand_rejects_incompatible_shape(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = make((dims){2, {2, 3}}, tgt_signed0, true);
    assert_null(tg_expand(x, 2, (int64_t[]){2, 4}));
    assert_error(TG_ERR_SHAPE, "tg_expand", "[2,3]", "[2,4]");
    assert_null(tg_expand(x, 1, (int64_t[]){3}));   /* fewer dims than x */
    assert_error(TG_ERR_SHAPE, "tg_expand", "[2,3]", "[3]");
    assert_null(tg_expand(x, 3, (int64_t[]){2, 3, 3}));
    assert_error(TG_ERR_SHAPE, "tg_expand", "[2,3]", "[2,3,3]");
    tg_scope_end();
}

static void test_shape_arguments_reject_bad_ndim_null_shape_and_negative_sizes(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = make((dims){2, {2, 3}}, tgt_signed0, false);
    int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 2, 3};
    assert_null(tg_expand(x, 9, nine));
    assert_error(TG_ERR_ARG, "tg_expand", "ndim is 9");
    assert_null(tg_expand(x, 2, NULL));
    assert_error(TG_ERR_ARG, "tg_expand", "NULL");
    assert_null(tg_expand(x, 2, (int64_t[]){-2, 3}));
    assert_error(TG_ERR_ARG, "tg_expand", "-2");
    assert_null(tg_sum_to(x, -1, (int64_t[]){3}));
    assert_error(TG_ERR_ARG, "tg_sum_to", "ndim is -1");
    assert_null(tg_sum_to(x, 1, NULL));
    assert_error(TG_ERR_ARG, "tg_sum_to", "NULL");
    assert_null(tg_sum_to(x, 1, (int64_t[]){-3}));
    assert_error(TG_ERR_ARG, "tg_sum_to", "-3");
    assert_null(tg_reshape(x, 9, nine));
    assert_error(TG_ERR_ARG, "tg_reshape", "ndim is 9");
    assert_null(tg_reshape(x, 2, NULL));
    assert_error(TG_ERR_ARG, "tg_reshape", "NULL");
    assert_null(tg_reshape(x, 2, (int64_t[]){-2, 3}));
    assert_error(TG_ERR_ARG, "tg_reshape", "-2");
    tg_scope_end();
}

static void test_reshape_rejects_element_count_mismatch(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = make((dims){2, {2, 3}}, tgt_signed0, true);
    assert_null(tg_reshape(x, 1, (int64_t[]){4}));
    assert_error(TG_ERR_SHAPE, "tg_reshape", "[2,3]", "[4]");
    assert_null(tg_reshape(x, 2, (int64_t[]){-1, 4}));   /* 6 is not a multiple of 4 */
    assert_error(TG_ERR_SHAPE, "tg_reshape", "[2,3]", "[-1,4]");
    assert_null(tg_reshape(x, 0, NULL));
    assert_error(TG_ERR_SHAPE, "tg_reshape", "[2,3]", "[]");
    tg_tensor *empty = make((dims){2, {2, 0}}, tgt_signed0, false);
    assert_null(tg_reshape(empty, 2, (int64_t[]){-1, 0}));   /* -1 could be anything */
    assert_error(TG_ERR_SHAPE, "tg_reshape", "[2,0]", "[-1,0]");
    assert_null(tg_reshape(x, 2, (int64_t[]){-1, -1}));      /* only one may be inferred */
    assert_error(TG_ERR_ARG, "tg_reshape", "-1");
    tg_scope_end();
}

static void test_transpose_rejects_tensors_that_are_not_2d(void **state)
{
    (void)state;
    tg_scope_begin();
    assert_null(tg_transpose(make((dims){1, {3}}, tgt_signed0, true)));
    assert_error(TG_ERR_SHAPE, "tg_transpose", "[3]", "2-d");
    assert_null(tg_transpose(make((dims){3, {2, 2, 2}}, tgt_signed0, false)));
    assert_error(TG_ERR_SHAPE, "tg_transpose", "[2,2,2]");
    assert_null(tg_transpose(make((dims){0, {0}}, tgt_signed0, false)));
    assert_error(TG_ERR_SHAPE, "tg_transpose", "[]");
    tg_scope_end();
}

/* Every op, by index, on operands a and b (b used by the binary ones); with
** a = b = a [2,2] tensor every call is valid. */
static const char *const op_names[] = {
    "tg_add", "tg_sub", "tg_mul", "tg_div", "tg_neg", "tg_exp", "tg_log", "tg_sin",
    "tg_cos", "tg_tanh", "tg_sqrt", "tg_relu", "tg_pow", "tg_affine", "tg_sum", "tg_mean",
    "tg_sum_dim", "tg_sum_to", "tg_expand", "tg_matmul", "tg_reshape", "tg_transpose",
};
#define N_OPS (sizeof op_names / sizeof op_names[0])

static tg_tensor *call_op(size_t i, tg_tensor *a, tg_tensor *b)
{
    switch (i) {
    case 0: return tg_add(a, b);
    case 1: return tg_sub(a, b);
    case 2: return tg_mul(a, b);
    case 3: return tg_div(a, b);
    case 4: return tg_neg(a);
    case 5: return tg_exp(a);
    case 6: return tg_log(a);
    case 7: return tg_sin(a);
    case 8: return tg_cos(a);
    case 9: return tg_tanh(a);
    case 10: return tg_sqrt(a);
    case 11: return tg_relu(a);
    case 12: return tg_pow(a, 2.0);
    case 13: return tg_affine(a, 2.0, 1.0);
    case 14: return tg_sum(a);
    case 15: return tg_mean(a);
    case 16: return tg_sum_dim(a, 0, false);
    case 17: return tg_sum_to(a, 1, (int64_t[]){1});
    case 18: return tg_expand(a, 3, (int64_t[]){2, 2, 2});
    case 19: return tg_matmul(a, b);
    case 20: return tg_reshape(a, 1, (int64_t[]){-1});
    case 21: return tg_transpose(a);
    }
    fail_msg("no op %zu", i);
    return NULL;
}

static bool is_binary(size_t i) { return i < 4 || i == 19; }

static void test_null_operand_without_recorded_error_is_arg_error_naming_the_op(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = make((dims){2, {2, 2}}, tgt_positive0, false);
    for (size_t i = 0; i < N_OPS; i++) {
        tg_clear_error();
        if (!call_op(i, x, x))
            fail_msg("%s on valid operands failed: %s", op_names[i], tg_last_error());
        for (int which = 0; which < (is_binary(i) ? 2 : 1); which++) {
            assert_null(call_op(i, which == 0 ? NULL : x, which == 1 ? NULL : x));
            if (tg_last_status() != TG_ERR_ARG || !strstr(tg_last_error(), op_names[i]))
                fail_msg("%s with operand %d NULL recorded %s '%s', expected %s naming %s", op_names[i], which,
                         tg_status_str(tg_last_status()), tg_last_error(), tg_status_str(TG_ERR_ARG),
                         op_names[i]);
            tg_clear_error();
        }
    }
    tg_scope_end();
}

static void test_null_operand_keeps_the_earlier_error(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = make((dims){2, {2, 2}}, tgt_positive0, false);
    for (size_t i = 0; i < N_OPS; i++) {
        for (int which = 0; which < (is_binary(i) ? 2 : 1); which++) {
            tg_set_error(TG_ERR_IO, "earlier failure %zu", i);
            char before[64];
            snprintf(before, sizeof before, "earlier failure %zu", i);
            assert_null(call_op(i, which == 0 ? NULL : x, which == 1 ? NULL : x));
            if (tg_last_status() != TG_ERR_IO || strcmp(tg_last_error(), before) != 0)
                fail_msg("%s with operand %d NULL replaced the earlier error by %s '%s'", op_names[i], which,
                         tg_status_str(tg_last_status()), tg_last_error());
        }
    }
    tg_clear_error();
    tg_scope_end();
}

static void test_error_of_inner_call_propagates_through_outer_ops(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *a = make((dims){2, {2, 3}}, tgt_signed0, true), *bad = make((dims){1, {4}}, tgt_signed1, false);
    assert_null(tg_sum(tg_transpose(tg_exp(tg_add(a, bad)))));
    assert_error(TG_ERR_SHAPE, "tg_add", "[2,3]", "[4]");
    assert_null(tg_sum_dim(tg_reshape(tg_matmul(a, a), 1, (int64_t[]){-1}), 0, false));
    assert_error(TG_ERR_SHAPE, "tg_matmul", "[2,3]");
    tg_scope_end();
}

/* -------------------------------------------------- PyTorch conventions */

static void test_relu_gradient_is_zero_at_exactly_zero(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = vec(5, (double[]){-1.0, -0.0, 0.0, 1e-300, 2.0}, true);
    tg_tensor *y = tg_relu(x);
    assert_non_null(y);
    assert_allclose("relu", 5, tg_data(y), ((double[]){0, 0, 0, 1e-300, 2.0}), 0, 0);
    assert_status(TG_OK, tg_backward(tg_sum(y), NULL));
    assert_allclose("relu'", 5, tg_data(tg_grad(x)), ((double[]){0, 0, 0, 1, 1}), 0, 0);
    tg_scope_end();
}

static void test_relu_gradient_at_nan_passes_dy_as_pytorch(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = vec(3, (double[]){NAN, -1.0, 3.0}, true);
    tg_tensor *y = tg_relu(x);
    assert_non_null(y);
    assert_true(isnan(tg_data(y)[0]));
    assert_status(TG_OK, tg_backward(tg_sum(tg_affine(y, 2.0, 0.0)), NULL));
    /* torch.relu(nan).backward(2.0) gives 2: nan <= 0 is false in threshold_backward */
    assert_allclose("relu' at NaN", 3, tg_data(tg_grad(x)), ((double[]){2.0, 0.0, 2.0}), 0, 0);
    tg_scope_end();
}

static void test_sqrt_gradient_keeps_the_sign_of_zero(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = vec(3, (double[]){-0.0, 0.0, 4.0}, true);
    assert_status(TG_OK, tg_backward(tg_sum(tg_sqrt(x)), NULL));
    const double *g = tg_data(tg_grad(x));
    assert_true(g[0] == -INFINITY);   /* torch.sqrt'(-0.0) = -inf */
    assert_true(g[1] == INFINITY);
    assert_true(g[2] == 0.25);
    tg_scope_end();
}

static void test_sum_dim_of_a_0d_tensor_at_dim_0_or_minus_1_is_the_tensor(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = tg_scalar(2.5);
    tg_set_requires_grad(x, true);
    for (int dim = -1; dim <= 0; dim++)
        for (int keep = 0; keep < 2; keep++) {
            tg_tensor *s = tg_sum_dim(x, dim, keep);
            assert_non_null(s);
            assert_int_equal(tg_ndim(s), 0);
            assert_true(tg_item(s) == 2.5);
            assert_status(TG_OK, tg_backward(s, NULL));
        }
    assert_true(tg_item(tg_grad(x)) == 4.0);
    assert_null(tg_sum_dim(x, 1, false));
    assert_error(TG_ERR_ARG, "tg_sum_dim", "dim 1", "0-d");
    assert_null(tg_sum_dim(x, -2, false));
    assert_error(TG_ERR_ARG, "tg_sum_dim", "dim -2");
    tg_scope_end();
}

static void test_log_and_sqrt_outside_their_domain_are_nan(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = vec(4, (double[]){-1.0, -1e-300, 0.0, 4.0}, true);
    tg_tensor *l = tg_log(x), *s = tg_sqrt(x);
    assert_non_null(l);
    assert_non_null(s);
    assert_true(isnan(tg_data(l)[0]) && isnan(tg_data(l)[1]));
    assert_true(tg_data(l)[2] == -INFINITY);
    assert_true(tg_data(l)[3] == log(4.0));
    assert_true(isnan(tg_data(s)[0]) && isnan(tg_data(s)[1]));
    assert_true(tg_data(s)[2] == 0.0 && tg_data(s)[3] == 2.0);
    /* PyTorch's gradients at 0: d log = 1/0 = inf, d sqrt = 1/(2*0) = inf */
    tg_tensor *g[2];
    assert_status(TG_OK, tg_autograd_grad(2, (tg_tensor *[]){tg_sum(l), tg_sum(s)}, NULL, 1, &x, g, NULL));
    assert_true(isnan(tg_data(g[0])[0]));
    assert_true(tg_data(g[0])[2] == INFINITY);
    assert_true(tg_data(g[0])[3] == 0.25 + 0.25);   /* 1/x + 1/(2 sqrt x) at 4 */
    assert_true(isnan(tg_data(g[0])[1]));
    tg_scope_end();
}

static void test_division_by_zero_is_ieee_infinity_or_nan(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *a = vec(4, (double[]){1.0, -1.0, 0.0, 3.0}, true);
    tg_tensor *b = vec(4, (double[]){0.0, 0.0, 0.0, -0.0}, false);
    tg_tensor *q = tg_div(a, b);
    assert_non_null(q);
    assert_true(tg_data(q)[0] == INFINITY);
    assert_true(tg_data(q)[1] == -INFINITY);
    assert_true(isnan(tg_data(q)[2]));
    assert_true(tg_data(q)[3] == -INFINITY);
    assert_status(TG_OK, tg_backward(tg_sum(q), NULL));   /* da = 1/b */
    assert_true(tg_data(tg_grad(a))[0] == INFINITY && tg_data(tg_grad(a))[3] == -INFINITY);
    tg_scope_end();
}

static void test_pow_of_negative_base_with_non_integer_exponent_is_nan(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = vec(3, (double[]){-2.0, -0.5, 4.0}, false);
    for (int i = 0; i < 3; i++) {
        double p = (double[]){0.5, 2.7, -1.5}[i];
        tg_tensor *y = tg_pow(x, p);
        assert_non_null(y);
        assert_true(isnan(tg_data(y)[0]) && isnan(tg_data(y)[1]));
        assert_true(tg_data(y)[2] == pow(4.0, p));
    }
    tg_tensor *sq = tg_pow(x, 2.0), *inv = tg_pow(x, -1.0);
    assert_allclose("x^2", 3, tg_data(sq), ((double[]){4.0, 0.25, 16.0}), 0, 0);
    assert_allclose("x^-1", 3, tg_data(inv), ((double[]){-0.5, -2.0, 0.25}), 0, 0);
    tg_tensor *zero = tg_pow(tg_scalar(0.0), -1.0);
    assert_true(tg_item(zero) == INFINITY);
    tg_scope_end();
}

/* Every elementwise op keeps an empty shape; backward gives empty gradients. */
static void test_empty_tensors_flow_through_elementwise_ops(void **state)
{
    (void)state;
    static const dims shapes[] = {{1, {0}}, {2, {2, 0}}};
    for (size_t s = 0; s < 2; s++) {
        tg_scope_begin();
        dims d = shapes[s];
        tg_tensor *x = make(d, tgt_signed0, true);
        char what[64], b[40];
        dims_str(b, sizeof b, d);
        for (size_t o = 0; o < N_UNARY; o++) {
            snprintf(what, sizeof what, "%s(%s)", unary_ops[o].name, b);
            assert_shape(what, unary_ops[o].fn(x), d);
        }
        assert_shape("pow", tg_pow(x, 2.5), d);
        assert_shape("affine", tg_affine(x, 2.0, 1.0), d);
        tg_tensor *others[] = {make(d, tgt_signed1, false), make((dims){1, {0}}, tgt_signed1, false),
                               tg_scalar(2.0), make((dims){1, {1}}, tgt_signed1, false)};
        for (size_t o = 0; o < sizeof binary_ops / sizeof binary_ops[0]; o++) {
            for (size_t k = 0; k < 4; k++) {
                snprintf(what, sizeof what, "%s(%s, other %zu)", binary_ops[o].name, b, k);
                assert_shape(what, binary_ops[o].fn(x, others[k]), d);
                assert_shape(what, binary_ops[o].fn(others[k], x), d);
            }
        }
        tg_tensor *loss = tg_sum(tg_mul(tg_exp(x), tg_sin(tg_div(x, others[2]))));
        assert_non_null(loss);
        assert_true(same_bits(tg_item(loss), 0.0));
        assert_status(TG_OK, tg_backward(loss, NULL));
        assert_shape("grad", tg_grad(x), d);
        tg_scope_end();
    }
}

static void test_sum_of_empty_is_zero_and_mean_of_empty_is_nan(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *e1 = make((dims){1, {0}}, tgt_signed0, true), *e2 = make((dims){2, {2, 0}}, tgt_signed0, true);
    assert_true(same_bits(tg_item(tg_sum(e1)), 0.0));
    assert_true(same_bits(tg_item(tg_sum(e2)), 0.0));
    assert_true(isnan(tg_item(tg_mean(e1))));
    assert_true(isnan(tg_item(tg_mean(e2))));
    tg_tensor *rows = tg_sum_dim(e2, 1, false), *cols = tg_sum_dim(e2, 0, true);
    tg_tensor *rows_kept = tg_sum_dim(e2, -1, true);
    assert_shape("sum_dim([2,0], 1)", rows, (dims){1, {2}});
    assert_true(same_bits(tg_data(rows)[0], 0.0) && same_bits(tg_data(rows)[1], 0.0));
    assert_shape("sum_dim([2,0], 0, keepdim)", cols, (dims){2, {1, 0}});
    assert_shape("sum_to([2,0] -> [2,1])", tg_sum_to(e2, 2, (int64_t[]){2, 1}), (dims){2, {2, 1}});
    assert_shape("sum_dim([2,0], -1, keepdim)", rows_kept, (dims){2, {2, 1}});
    assert_shape("expand([2,1] -> [2,0])", tg_expand(rows_kept, 2, (int64_t[]){2, 0}), (dims){2, {2, 0}});
    assert_status(TG_OK, tg_backward(tg_add(tg_sum(e2), tg_sum(rows)), NULL));
    assert_shape("grad", tg_grad(e2), (dims){2, {2, 0}});
    assert_status(TG_OK, tg_backward(tg_mean(e1), NULL));
    assert_shape("grad of mean", tg_grad(e1), (dims){1, {0}});
    tg_scope_end();
}

static void test_matmul_of_empty_matrices_gives_zeros_or_empty_results(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *a = make((dims){2, {2, 0}}, tgt_signed0, true), *b = make((dims){2, {0, 3}}, tgt_signed1, true);
    tg_tensor *c = tg_matmul(a, b);
    assert_shape("[2,0] x [0,3]", c, (dims){2, {2, 3}});
    for (int k = 0; k < 6; k++)
        assert_true(same_bits(tg_data(c)[k], 0.0));
    assert_status(TG_OK, tg_backward(tg_sum(c), NULL));
    assert_shape("grad a", tg_grad(a), (dims){2, {2, 0}});
    assert_shape("grad b", tg_grad(b), (dims){2, {0, 3}});
    tg_tensor *m = make((dims){2, {2, 3}}, tgt_signed0, true), *n = make((dims){2, {3, 0}}, tgt_signed1, true);
    tg_tensor *rows0 = make((dims){2, {0, 2}}, tgt_signed1, true);
    assert_shape("[2,3] x [3,0]", tg_matmul(m, n), (dims){2, {2, 0}});
    assert_shape("[0,2] x [2,3]", tg_matmul(rows0, m), (dims){2, {0, 3}});
    assert_status(TG_OK, tg_backward(tg_add(tg_sum(tg_matmul(m, n)), tg_sum(tg_matmul(rows0, m))), NULL));
    assert_shape("grad [2,3]", tg_grad(m), (dims){2, {2, 3}});
    for (int k = 0; k < 6; k++)
        assert_true(same_bits(tg_data(tg_grad(m))[k], 0.0));
    assert_shape("grad [3,0]", tg_grad(n), (dims){2, {3, 0}});
    assert_shape("grad [0,2]", tg_grad(rows0), (dims){2, {0, 2}});
    tg_scope_end();
}

/* ------------------------------------------------------------ determinism */

/* Values spanning 14 orders of magnitude with both signs: any change in the
** order of additions changes the rounded result. */
static double spread(int64_t k)
{
    return sin(0.37 * (double)k) * pow(10.0, (double)(k % 15) - 7.0);
}

static void test_sum_is_deterministic_and_accurate(void **state)
{
    (void)state;
    tg_scope_begin();
    const int64_t n = 100000;
    tg_tensor *x = make((dims){1, {n}}, spread, false);
    double first = tg_item(tg_sum(x)), second = tg_item(tg_sum(x));
    assert_true(same_bits(first, second));
    tg_tensor *copy = tg_from_array(1, &n, tg_data(x));
    assert_true(same_bits(tg_item(tg_sum(copy)), first));
    tg_tensor *as_matrix = tg_reshape(copy, 2, (int64_t[]){400, 250});
    assert_true(same_bits(tg_item(tg_sum(as_matrix)), first));
    double s = 0, c = 0;   /* Neumaier's compensated sum as the accurate value */
    for (int64_t k = 0; k < n; k++) {
        double v = tg_data(x)[k], t = s + v;
        c += fabs(s) >= fabs(v) ? (s - t) + v : (v - t) + s;
        s = t;
    }
    double abs_sum = 0;
    for (int64_t k = 0; k < n; k++)
        abs_sum += fabs(tg_data(x)[k]);
    /* pairwise/blocked summation: error <= ~(log2 n + block) u sum|x| */
    assert_allclose("sum", 1, &first, (double[]){s + c}, 0, 1e-13 * abs_sum);
    tg_scope_end();
}

static void test_sum_dim_rows_equal_tg_sum_of_each_row_bit_for_bit(void **state)
{
    (void)state;
    tg_scope_begin();
    const int64_t rows = 7, cols = 14321;   /* rows longer than a summation block */
    tg_tensor *x = make((dims){2, {rows, cols}}, spread, false);
    tg_tensor *last = tg_sum_dim(x, -1, false), *kept = tg_sum_dim(x, 1, true);
    assert_shape("sum_dim(x, -1)", last, (dims){1, {rows}});
    assert_shape("sum_dim(x, 1, keepdim)", kept, (dims){2, {rows, 1}});
    for (int64_t r = 0; r < rows; r++) {
        double want = tg_item(tg_sum(tg_from_array(1, &cols, tg_data(x) + r * cols)));
        if (!same_bits(tg_data(last)[r], want) || !same_bits(tg_data(kept)[r], want))
            fail_msg("row %" PRId64 ": sum_dim %.17g / %.17g, tg_sum %.17g", r, tg_data(last)[r],
                     tg_data(kept)[r], want);
    }
    tg_tensor *again = tg_sum_dim(x, -1, false);
    assert_memory_equal(tg_data(again), tg_data(last), (size_t)rows * sizeof(double));
    tg_scope_end();
}

/* ------------------------------------------------------------------ main */

#define T(name) tgt_test(name)

int main(void)
{
    /* Ended scopes are kept for reuse (src/core/scope.c), so the first time a
    ** nesting depth is reached costs blocks that stay: reach every depth the
    ** tests use (gradgradcheck nests deepest) before counting. */
    tgt_warm_scopes();

    static struct CMUnitTest ref_tests[N_REF_CASES];
    static tgt_test_name ref_names[N_REF_CASES];
    tgt_ref_tests(N_REF_CASES, ref_cases, ref_tests, ref_names);
    const struct CMUnitTest tests[] = {
        T(test_reference_table_covers_every_case_in_ops_txt),
        T(test_binary_ops_pass_gradcheck_on_broadcast_shapes),
        T(test_binary_ops_pass_gradcheck_with_one_input_requiring_grad),
        T(test_unary_ops_pass_gradcheck),
        T(test_pow_passes_gradcheck_for_integer_fractional_zero_and_negative_exponents),
        T(test_pow_with_integer_exponent_accepts_negative_base),
        T(test_affine_is_x_times_s_plus_t_and_passes_gradcheck),
        T(test_sum_and_mean_pass_gradcheck),
        T(test_sum_dim_passes_gradcheck_for_every_dim_keepdim_and_negative_dims),
        T(test_sum_dim_with_negative_dim_equals_positive_dim),
        T(test_expand_and_sum_to_pass_gradcheck),
        T(test_expand_and_sum_to_round_trip),
        T(test_matmul_passes_gradcheck_with_both_or_one_input_requiring_grad),
        T(test_reshape_infers_minus_one_shares_storage_and_passes_gradcheck),
        T(test_transpose_swaps_rows_and_columns_and_passes_gradcheck),
        T(test_binary_ops_reject_shapes_that_do_not_broadcast),
        T(test_matmul_rejects_inner_dim_mismatch),
        T(test_matmul_rejects_0d_operands_and_mismatched_vectors),
        T(test_sum_dim_rejects_dim_out_of_range),
        T(test_sum_to_rejects_shape_it_does_not_broadcast_from),
        T(test_expand_rejects_incompatible_shape),
        T(test_shape_arguments_reject_bad_ndim_null_shape_and_negative_sizes),
        T(test_reshape_rejects_element_count_mismatch),
        T(test_transpose_rejects_tensors_that_are_not_2d),
        T(test_null_operand_without_recorded_error_is_arg_error_naming_the_op),
        T(test_null_operand_keeps_the_earlier_error),
        T(test_error_of_inner_call_propagates_through_outer_ops),
        T(test_relu_gradient_is_zero_at_exactly_zero),
        T(test_log_and_sqrt_outside_their_domain_are_nan),
        T(test_relu_gradient_at_nan_passes_dy_as_pytorch),
        T(test_sqrt_gradient_keeps_the_sign_of_zero),
        T(test_sum_dim_of_a_0d_tensor_at_dim_0_or_minus_1_is_the_tensor),
        T(test_division_by_zero_is_ieee_infinity_or_nan),
        T(test_pow_of_negative_base_with_non_integer_exponent_is_nan),
        T(test_empty_tensors_flow_through_elementwise_ops),
        T(test_sum_of_empty_is_zero_and_mean_of_empty_is_nan),
        T(test_matmul_of_empty_matrices_gives_zeros_or_empty_results),
        T(test_sum_is_deterministic_and_accurate),
        T(test_sum_dim_rows_equal_tg_sum_of_each_row_bit_for_bit),
    };
    int failed = cmocka_run_group_tests_name("ops.txt reference", ref_tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("ops", tests, NULL, NULL);
    return failed;
}
