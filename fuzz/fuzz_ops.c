/* SPDX-License-Identifier: MIT */
/*
** libFuzzer target for programs of ops: the input bytes decode into 1 to 3
** leaf tensors (0 to 3 dimensions of size 0 to 4, values in [-4, 4)) and up
** to 10 steps, each a public op (elementwise, broadcasting binary ops,
** reductions, matmul, shape ops, Legendre polynomials and series) or a user
** Function (written in ops, as span kernels or as raw loops) on tensors
** already made, with random dims, shapes and exponents that may or may not
** fit.  Every op must succeed or fail with TG_ERR_ARG / TG_ERR_SHAPE and a
** message naming it; then the last result is differentiated: tg_autograd_grad
** (with or without create_graph, then a double backward) and tg_backward must
** agree and give each leaf a gradient of its shape.  When the program is
** small and stays away from kinks and domain edges (relu and abs at 0, log
** and sqrt near 0, division by small numbers, pow of non-positive bases) and
** its values stay moderate, tg_gradcheck (and for the smallest,
** tg_gradgradcheck) compare it with finite differences.  Then the program
** runs again in eager and in lazy mode (compare_modes): lazy must fail where
** eager fails with eager's message, and give eager's result and gradients to
** 1e-12, through tg_backward on a pending loss (the fused step) as through
** tg_autograd_grad.  Nothing may crash, trip a sanitizer or leak (the live
** block count is checked per input).
*/
#define _POSIX_C_SOURCE 200809L

#include "tensorgrad.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bench/p3.h"

#define MAX_LEAVES 3
#define MAX_STEPS 10
#define POOL (MAX_LEAVES + MAX_STEPS)

typedef enum op {
    OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_POW_TENSOR, OP_MATMUL, OP_SERIES, OP_MSE,   /* two operands */
    OP_NEG, OP_EXP, OP_LOG, OP_SIN, OP_COS, OP_TANH, OP_SQRT, OP_RELU, OP_ABS, OP_POW, OP_AFFINE,
    OP_SUM, OP_MEAN, OP_SUM_DIM, OP_SUM_TO, OP_EXPAND, OP_RESHAPE, OP_TRANSPOSE, OP_LEGENDRE,
    OP_UNSQUEEZE, OP_FLATTEN, OP_SELECT, OP_VANDER,
    OP_FN_P3_OPS, OP_FN_P3_SPAN, OP_FN_P3_RAW, OP_FN_MULP_OPS, OP_FN_MULP_SPAN,   /* user Functions */
    N_OPS
} op;

static const char *const op_names[N_OPS] = {
    "tg_add", "tg_sub", "tg_mul", "tg_div", "tg_pow_tensor", "tg_matmul", "tg_legendre_series",
    "tg_mse_loss", "tg_neg", "tg_exp", "tg_log", "tg_sin", "tg_cos", "tg_tanh", "tg_sqrt", "tg_relu",
    "tg_abs", "tg_pow", "tg_affine", "tg_sum", "tg_mean", "tg_sum_dim", "tg_sum_to", "tg_expand",
    "tg_reshape", "tg_transpose", "tg_legendre", "tg_unsqueeze", "tg_flatten", "tg_select",
    "tg_legendre_vander", "LegendrePolynomial3", "LegendrePolynomial3", "LegendrePolynomial3", "fuzz_mulp_ops",
    "fuzz_mulp_span"};

typedef struct step {
    op op;
    int a, b;               /* operands: slots of the pool */
    int i0, i1;             /* dims, degrees, an index, a reduction */
    bool flag;              /* keepdim */
    int ndim;               /* a shape argument */
    int64_t shape[4];
    double p, q;            /* exponent, scale and shift, alpha and beta */
} step;

typedef struct program {
    int n_leaves, n_steps;
    step steps[MAX_STEPS];
} program;

typedef struct bytes {
    const uint8_t *p;
    size_t n, at;
} bytes;

static unsigned next(bytes *b) { return b->at < b->n ? b->p[b->at++] : 0u; }

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_ops: %s (last error: %s)\n", what, tg_last_error());
        abort();
    }
}

static void decode_shape(bytes *b, int *ndim, int64_t *shape, bool allow_infer)
{
    unsigned h = next(b);
    *ndim = (int)(h % 4);
    for (int d = 0; d < *ndim; d++) {
        unsigned v = next(b) % 6;   /* 0..4, or 5: -1 (inferred by reshape, else invalid) */
        shape[d] = v == 5 ? (allow_infer ? -1 : 1) : (int64_t)v;
    }
}

static const double exponents[8] = {2.0, 3.0, 0.5, -0.5, -1.0, -2.0, 1.5, 0.0};

static step decode_step(bytes *b, int pool_size)
{
    step s = {0};
    s.op = (op)(next(b) % N_OPS);
    s.a = (int)(next(b) % (unsigned)pool_size);
    s.b = (int)(next(b) % (unsigned)pool_size);
    s.i0 = (int)(next(b) % 9) - 4;   /* -4..4: dims in and out of range */
    s.i1 = (int)(next(b) % 9) - 4;
    s.flag = next(b) & 1;
    decode_shape(b, &s.ndim, s.shape, s.op == OP_RESHAPE);
    unsigned e = next(b);
    s.p = exponents[e % 8];
    s.q = ((int)(e / 8) - 16) / 8.0;   /* -2..2 in steps of 1/8 */
    return s;
}

/* ------------------------------------------------------- user Functions
** The tutorial's P3 = (5x^3 - 3x) / 2 as the benchmarks write it
** (bench/p3.h: in tensorgrad ops, fused through by lazy mode; as span
** kernels, called inside fused passes; as raw loops, a realization point),
** and mulp(a, b) = a b + a, two inputs that broadcast, in ops and as span
** kernels.  The span and raw ones are once differentiable. */

static tg_status mulp_ops_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    out[0] = tg_add(tg_mul(in[0], in[1]), in[0]);
    return out[0] ? tg_save_for_backward(ctx, 2, in) : tg_last_status();
}

/* d/da = g (b + 1), d/db = g a, each summed back to its input's shape */
static tg_status mulp_ops_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    tg_tensor *a = tg_saved_tensor(ctx, 0), *b = tg_saved_tensor(ctx, 1);
    if (!a || !b)
        return tg_last_status();
    gin[0] = tg_sum_to(tg_mul(g[0], tg_add(b, tg_scalar(1.0))), tg_ndim(a), tg_shape(a));
    gin[1] = tg_sum_to(tg_mul(g[0], a), tg_ndim(b), tg_shape(b));
    return gin[0] && gin[1] ? TG_OK : tg_last_status();
}

static void mulp_span_forward(int64_t n, const double *const *in, double *out)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = in[0][i] * in[1][i] + in[0][i];
}

static void mulp_span_backward(int64_t n, const double *const *in, const double *out, const double *g,
                               double *const *gin)
{
    (void)out;
    for (int64_t i = 0; i < n; i++) {
        if (gin[0])
            gin[0][i] = g[i] * (in[1][i] + 1);
        if (gin[1])
            gin[1][i] = g[i] * in[0][i];
    }
}

static const tg_function mulp_ops_fn = {.name = "fuzz_mulp_ops", .n_inputs = 2, .n_outputs = 1,
                                        .forward = mulp_ops_forward, .backward = mulp_ops_backward};
static const tg_function mulp_span_fn = {.name = "fuzz_mulp_span", .n_inputs = 2, .n_outputs = 1,
                                         .forward_span = mulp_span_forward, .backward_span = mulp_span_backward};

/* One step on the pool; the new tensor or NULL with the error recorded. */
static tg_tensor *apply_step(const step *s, tg_tensor *const *pool)
{
    tg_tensor *a = pool[s->a], *b = pool[s->b];
    switch (s->op) {
    case OP_ADD: return tg_add(a, b);
    case OP_SUB: return tg_sub(a, b);
    case OP_MUL: return tg_mul(a, b);
    case OP_DIV: return tg_div(a, b);
    case OP_POW_TENSOR: return tg_pow_tensor(a, b);
    case OP_MATMUL: return tg_matmul(a, b);
    case OP_SERIES: return tg_legendre_series(a, b, s->q, s->p);
    case OP_MSE: return tg_mse_loss(a, b, (tg_reduction)((s->i0 + 4) % 3));
    case OP_NEG: return tg_neg(a);
    case OP_EXP: return tg_exp(a);
    case OP_LOG: return tg_log(a);
    case OP_SIN: return tg_sin(a);
    case OP_COS: return tg_cos(a);
    case OP_TANH: return tg_tanh(a);
    case OP_SQRT: return tg_sqrt(a);
    case OP_RELU: return tg_relu(a);
    case OP_ABS: return tg_abs(a);
    case OP_POW: return tg_pow(a, s->p);
    case OP_AFFINE: return tg_affine(a, s->q, s->p);
    case OP_SUM: return tg_sum(a);
    case OP_MEAN: return tg_mean(a);
    case OP_SUM_DIM: return tg_sum_dim(a, s->i0, s->flag);
    case OP_SUM_TO: return tg_sum_to(a, s->ndim, s->shape);
    case OP_EXPAND: return tg_expand(a, s->ndim, s->shape);
    case OP_RESHAPE: return tg_reshape(a, s->ndim, s->shape);
    case OP_TRANSPOSE: return tg_transpose(a);
    case OP_LEGENDRE: return tg_legendre(a, s->i0 + 1);   /* -3..5: negative is an error */
    case OP_UNSQUEEZE: return tg_unsqueeze(a, s->i0);
    case OP_FLATTEN: return tg_flatten(a, s->i0, s->i1);
    case OP_SELECT: return tg_select(a, s->i0, s->i1);
    case OP_VANDER: return tg_legendre_vander(a, s->i1 + 1, s->q, s->p);
    case OP_FN_P3_OPS: return tg_apply1(&p3_ops_fn, &a);
    case OP_FN_P3_SPAN: return tg_apply1(&p3_span_fn, &a);
    case OP_FN_P3_RAW: return tg_apply1(&p3_fn, &a);
    case OP_FN_MULP_OPS: return tg_apply1(&mulp_ops_fn, (tg_tensor *[]){a, b});
    case OP_FN_MULP_SPAN: return tg_apply1(&mulp_span_fn, (tg_tensor *[]){a, b});
    case N_OPS: break;
    }
    abort();
}

static tg_tensor *run_program(tg_tensor *const *leaves, void *user)
{
    const program *prog = user;
    tg_tensor *pool[POOL];
    for (int i = 0; i < prog->n_leaves; i++)
        pool[i] = leaves[i];
    for (int k = 0; k < prog->n_steps; k++)
        if (!(pool[prog->n_leaves + k] = apply_step(&prog->steps[k], pool)))
            return NULL;
    return pool[prog->n_leaves + prog->n_steps - 1];
}

static double min_abs(tg_tensor *t, bool signed_min)
{
    double m = INFINITY;
    for (int64_t i = 0; i < tg_numel(t); i++) {
        double v = signed_min ? tg_data(t)[i] : fabs(tg_data(t)[i]);
        m = v < m ? v : m;
    }
    return m;
}

/* False when finite differences are not meaningful around this step's
** operands: a kink or domain edge nearby, or values that are not moderate. */
static bool smooth_here(const step *s, tg_tensor *const *pool, tg_tensor *out)
{
    tg_tensor *a = pool[s->a], *b = pool[s->b];
    for (int64_t i = 0; i < tg_numel(out); i++)
        if (!(fabs(tg_data(out)[i]) < 1e3))
            return false;
    const double margin = 0.05;
    switch (s->op) {
    case OP_LOG: case OP_SQRT: return min_abs(a, true) > margin;
    case OP_RELU: case OP_ABS: return min_abs(a, false) > margin;
    case OP_DIV: return min_abs(b, false) > 0.2;
    case OP_POW_TENSOR:   /* and as PyTorch, base gradient 0 where the exponent is exactly 0 */
        return min_abs(a, true) > margin && min_abs(b, false) > margin;
    case OP_POW:
        if (s->p == 2.0 || s->p == 3.0 || s->p == 0.0)
            return true;
        return s->p == -1.0 || s->p == -2.0 ? min_abs(a, false) > 0.2 : min_abs(a, true) > margin;
    default: return true;
    }
}

static int64_t live_blocks(void)
{
    tg_memory_stats st;
    tg_release_memory();
    tg_get_memory_stats(&st);
    return st.live_blocks;
}

static bool same_values(tg_tensor *x, tg_tensor *y)
{
    if (tg_numel(x) != tg_numel(y) || tg_ndim(x) != tg_ndim(y))
        return false;
    for (int64_t i = 0; i < tg_numel(x); i++) {
        double u = tg_data(x)[i], v = tg_data(y)[i];
        if (!(u == v || (isnan(u) && isnan(v)) || fabs(u - v) <= 1e-12 * fabs(v)))
            return false;
    }
    return true;
}

static bool same_shape(tg_tensor *x, tg_tensor *y)
{
    if (tg_ndim(x) != tg_ndim(y))
        return false;
    for (int d = 0; d < tg_ndim(x); d++)
        if (tg_shape(x)[d] != tg_shape(y)[d])
            return false;
    return true;
}

static bool all_zero(tg_tensor *t)
{
    for (int64_t i = 0; i < tg_numel(t); i++)
        if (tg_data(t)[i] != 0.0)
            return false;
    return true;
}

/* Backward three ways on the program's result y. */
static void differentiate(bytes *in, tg_tensor *y, tg_tensor **leaves, int n_leaves, bool once)
{
    tg_tensor *w = tg_full(tg_ndim(y), tg_shape(y), 1.0), *grads[MAX_LEAVES];
    check(w != NULL, "grad_output");
    for (int64_t i = 0; i < tg_numel(w); i++)
        tg_data(w)[i] = 1.0 - 0.25 * (double)(i % 5);
    bool create = next(in) & 1;
    tg_backward_opts opts = {.create_graph = create, .retain_graph = true};
    tg_status st = tg_autograd_grad(1, &y, &w, n_leaves, leaves, grads, &opts);
    if (!tg_requires_grad(y)) {
        check(st == TG_ERR_STATE, "autograd_grad of a constant must be TG_ERR_STATE");
        tg_clear_error();
        return;
    }
    check(st == TG_OK, "tg_autograd_grad failed");
    for (int i = 0; i < n_leaves; i++)
        check(grads[i] && same_shape(grads[i], leaves[i]), "a gradient of the wrong shape");
    if (create) {
        tg_tensor *s = NULL;   /* double backward: d/dleaves of sum(g * g) over the gradients */
        for (int i = 0; i < n_leaves; i++)
            if (tg_requires_grad(grads[i])) {
                tg_tensor *t = tg_sum(tg_mul(grads[i], grads[i]));
                s = s ? tg_add(s, t) : t;
                check(s != NULL, "summing the gradients");
            }
        if (s) {
            tg_tensor *g2[MAX_LEAVES];
            tg_backward_opts keep = {.retain_graph = true};   /* y's graph is walked again below */
            tg_status st2 = tg_autograd_grad(1, &s, NULL, n_leaves, leaves, g2, &keep);
            if (once && st2 == TG_ERR_STATE) {   /* through a once-differentiable Function's gradient */
                check(strstr(tg_last_error(), "LegendrePolynomial3") || strstr(tg_last_error(), "fuzz_mulp_span"),
                      "the error does not name the Function");
                tg_clear_error();
            } else {
                check(st2 == TG_OK, "double backward failed");
                for (int i = 0; i < n_leaves; i++)
                    check(g2[i] && same_shape(g2[i], leaves[i]), "a second derivative of the wrong shape");
            }
        }
    }
    tg_backward_opts plain = {.grad = w};
    check(tg_backward(y, &plain) == TG_OK, "tg_backward failed");
    for (int i = 0; i < n_leaves; i++) {
        tg_tensor *acc = tg_grad(leaves[i]);
        if (acc)
            check(same_values(acc, grads[i]), "tg_backward and tg_autograd_grad disagree");
        else
            check(!tg_requires_grad(leaves[i]) || all_zero(grads[i]),
                  "a leaf that requires grad got a non-zero gradient but no tg_grad");
        tg_zero_grad(leaves[i]);
    }
}

/* Decodes the leaves into pool (prog->n_leaves set); their element count. */
static int64_t decode_leaves(bytes *in, program *prog, tg_tensor **pool, bool *any_grad)
{
    int64_t leaf_numel = 0;
    prog->n_leaves = 1 + (int)(next(in) % MAX_LEAVES);
    for (int i = 0; i < prog->n_leaves; i++) {
        int ndim;
        int64_t shape[4];
        decode_shape(in, &ndim, shape, false);
        check((pool[i] = tg_zeros(ndim, shape)) != NULL, "tg_zeros");
        for (int64_t e = 0; e < tg_numel(pool[i]); e++)
            tg_data(pool[i])[e] = ((double)next(in) - 128.0) / 32.0;
        bool rg = (next(in) & 3) != 0;
        check(tg_set_requires_grad(pool[i], rg) == TG_OK, "tg_set_requires_grad");
        *any_grad |= rg;
        leaf_numel += tg_numel(pool[i]);
    }
    return leaf_numel;
}

/* A scope opened and the leaves decoded into it; the number of steps to try. */
static int open_program(bytes *in, program *prog, tg_tensor **pool, bool *any_grad, int64_t *leaf_numel)
{
    tg_clear_error();
    tg_scope_begin();
    *leaf_numel = decode_leaves(in, prog, pool, any_grad);
    return (int)(next(in) % (MAX_STEPS + 1));
}

/* Decodes and applies the next step: its tensor, or NULL with the failure
** checked (a status of bad input, a message naming the op) and cleared. */
static tg_tensor *try_step(bytes *in, const program *prog, tg_tensor *const *pool, step *s)
{
    *s = decode_step(in, prog->n_leaves + prog->n_steps);
    tg_tensor *t = apply_step(s, pool);
    if (!t) {
        tg_status st = tg_last_status();
        check(st == TG_ERR_ARG || st == TG_ERR_SHAPE, "an op failed with an unexpected status");
        bool of_ops = s->op == OP_FN_P3_OPS || s->op == OP_FN_MULP_OPS;   /* fails in its op, named */
        if (!strstr(tg_last_error(), of_ops ? "tg_" : op_names[s->op])) {
            fprintf(stderr, "fuzz_ops: the message of a failed %s does not name it\n", op_names[s->op]);
            check(false, "message");
        }
        return NULL;
    }
    check(tg_last_status() == TG_OK, "an op succeeded but recorded an error");
    return t;
}

static void run_input(const uint8_t *data, size_t size)
{
    bytes in = {data, size, 0};
    program prog = {0};
    tg_tensor *pool[POOL];
    bool any_grad = false;
    int64_t leaf_numel;
    int n_try = open_program(&in, &prog, pool, &any_grad, &leaf_numel);
    bool smooth = true, once = false;
    for (int k = 0; k < n_try; k++) {
        step s;
        tg_tensor *t = try_step(&in, &prog, pool, &s);
        if (!t) {
            tg_clear_error();
            continue;
        }
        smooth = smooth && smooth_here(&s, pool, t);
        once = once || s.op == OP_FN_P3_SPAN || s.op == OP_FN_P3_RAW || s.op == OP_FN_MULP_SPAN;
        pool[prog.n_leaves + prog.n_steps] = t;
        prog.steps[prog.n_steps++] = s;
    }
    tg_tensor *y = pool[prog.n_leaves + prog.n_steps - 1];
    differentiate(&in, y, pool, prog.n_leaves, once);
    if (smooth && any_grad && prog.n_steps > 0 && tg_requires_grad(y) && leaf_numel <= 32 &&
        tg_numel(y) <= 32) {
        tg_status st = tg_gradcheck(run_program, prog.n_leaves, pool, &prog, 1e-6, 1e-5, 1e-4);
        check(st == TG_OK, "tg_gradcheck");
        if (!once && leaf_numel <= 12 && tg_numel(y) <= 12) {
            st = tg_gradgradcheck(run_program, prog.n_leaves, pool, &prog, 1e-6, 1e-5, 1e-4);
            check(st == TG_OK, "tg_gradgradcheck");
        }
    }
    tg_scope_end();
    check(tg_last_status() == TG_OK, "an error was left recorded");
}

/* ------------------------------------------------ lazy mode against eager */

/* A tensor's shape and values, copied out of the library (NULL v: none). */
typedef struct values {
    int ndim;
    int64_t shape[TG_MAX_DIMS], n;
    double *v;
} values;

/* What one mode made of an input: each tried step's status and message, the
** result, and the leaves' gradients from tg_autograd_grad and tg_backward. */
typedef struct outcome {
    int n_try;
    tg_status st[MAX_STEPS];
    char msg[MAX_STEPS][200];
    values y, grad[MAX_LEAVES], acc[MAX_LEAVES];
    tg_status after;   /* tg_autograd_grad after tg_backward freed the graph */
    char after_msg[200];
} outcome;

/* Reading t's data is a realization point: the caller decides when. */
static values copy_out(tg_tensor *t)
{
    values c = {0};
    if (!t)
        return c;
    c.ndim = tg_ndim(t);
    for (int d = 0; d < c.ndim; d++)
        c.shape[d] = tg_shape(t)[d];
    c.n = tg_numel(t);
    c.v = malloc((size_t)(c.n ? c.n : 1) * sizeof *c.v);
    check(c.v != NULL, "malloc");
    const double *p = tg_data(t);
    check(p != NULL || c.n == 0, "tg_data of a result");
    for (int64_t i = 0; i < c.n; i++)
        c.v[i] = p[i];
    return c;
}

static void outcome_free(outcome *o)
{
    free(o->y.v);
    for (int i = 0; i < MAX_LEAVES; i++)
        free(o->grad[i].v), free(o->acc[i].v);
}

/* The input's program in one mode, as a training step would use it: the
** steps applied, then a root (a scalar loss sum(y * w), or y itself with
** the weights w as its gradient) differentiated by tg_autograd_grad keeping
** the graph and then tg_backward, or by tg_backward first (on a pending
** loss in lazy mode, the fused step), after which tg_autograd_grad meets a
** freed graph.  No value is read before the backward. */
static void play(const uint8_t *data, size_t size, bool lazy, outcome *o)
{
    bool prev = tg_set_lazy(lazy);
    bytes in = {data, size, 0};
    program prog = {0};
    tg_tensor *pool[POOL];
    bool any_grad = false;
    int64_t leaf_numel;
    o->n_try = open_program(&in, &prog, pool, &any_grad, &leaf_numel);
    for (int k = 0; k < o->n_try; k++) {
        step s;
        tg_tensor *t = try_step(&in, &prog, pool, &s);
        o->st[k] = t ? TG_OK : tg_last_status();
        snprintf(o->msg[k], sizeof o->msg[k], "%s", t ? "" : tg_last_error());
        tg_clear_error();
        if (t) {
            pool[prog.n_leaves + prog.n_steps] = t;
            prog.steps[prog.n_steps++] = s;
        }
    }
    tg_tensor *y = pool[prog.n_leaves + prog.n_steps - 1];
    unsigned how = next(&in);
    if (tg_requires_grad(y)) {
        /* the weights made from an array: writing them through tg_data would
        ** compute the pending steps before the backward, and no step would fuse */
        int64_t n_w = tg_numel(y);
        double *wv = malloc((size_t)(n_w ? n_w : 1) * sizeof *wv);
        check(wv != NULL, "malloc");
        for (int64_t i = 0; i < n_w; i++)
            wv[i] = 1.0 - 0.25 * (double)(i % 5);
        tg_tensor *w = tg_from_array(tg_ndim(y), tg_shape(y), wv), *grads[MAX_LEAVES];
        free(wv);
        check(w != NULL, "weights");
        tg_tensor *root = y, *seed = w;
        if (how & 1) {   /* a loss, as a training step makes one */
            check((root = tg_sum(tg_mul(y, w))) != NULL, "the loss");
            seed = NULL;
        }
        tg_backward_opts keep = {.grad = seed, .retain_graph = true}, once = {.grad = seed};
        for (int i = 0; i < prog.n_leaves; i++)
            grads[i] = NULL;
        if (how & 2) {   /* tg_backward first, the graph freed: on a pending loss, the fused step */
            check(tg_backward(root, &once) == TG_OK, "tg_backward failed");
            o->after = tg_autograd_grad(1, &root, &seed, prog.n_leaves, pool, grads, &keep);
            snprintf(o->after_msg, sizeof o->after_msg, "%s", o->after == TG_OK ? "" : tg_last_error());
            tg_clear_error();
        } else {
            check(tg_autograd_grad(1, &root, &seed, prog.n_leaves, pool, grads, &keep) == TG_OK,
                  "tg_autograd_grad failed");
            check(tg_backward(root, &once) == TG_OK, "tg_backward failed");
        }
        for (int i = 0; i < prog.n_leaves; i++) {
            o->grad[i] = copy_out(grads[i]);
            o->acc[i] = copy_out(tg_grad(pool[i]));
        }
    }
    o->y = copy_out(y);
    tg_scope_end();
    check(tg_last_status() == TG_OK, "an error was left recorded");
    tg_set_lazy(prev);
}

static bool same_copy(const values *a, const values *b)
{
    if (!a->v || !b->v)
        return !a->v && !b->v;
    if (a->ndim != b->ndim || a->n != b->n)
        return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d])
            return false;
    for (int64_t i = 0; i < a->n; i++) {
        double u = a->v[i], v = b->v[i];
        if (!(u == v || (isnan(u) && isnan(v)) || fabs(u - v) <= 1e-12 * fabs(v)))
            return false;
    }
    return true;
}

/* Lazy mode must fail where eager fails, with eager's message, and give
** eager's values and gradients to 1e-12. */
static void compare_modes(const uint8_t *data, size_t size)
{
    outcome e = {0}, l = {0};
    play(data, size, false, &e);
    play(data, size, true, &l);
    check(e.n_try == l.n_try, "lazy and eager tried different steps");
    for (int k = 0; k < e.n_try; k++) {
        if (e.st[k] != l.st[k] || strcmp(e.msg[k], l.msg[k]) != 0) {
            fprintf(stderr, "fuzz_ops: step %d: eager %d '%s', lazy %d '%s'\n", k, e.st[k], e.msg[k], l.st[k],
                    l.msg[k]);
            check(false, "lazy and eager disagree on an apply-time error");
        }
    }
    if (e.after != l.after || strcmp(e.after_msg, l.after_msg) != 0) {
        fprintf(stderr, "fuzz_ops: after the backward: eager %d '%s', lazy %d '%s'\n", e.after, e.after_msg,
                l.after, l.after_msg);
        check(false, "lazy and eager disagree on a freed graph");
    }
    check(same_copy(&e.y, &l.y), "lazy and eager results differ");
    for (int i = 0; i < MAX_LEAVES; i++) {
        check(same_copy(&e.grad[i], &l.grad[i]), "lazy and eager tg_autograd_grad differ");
        check(same_copy(&e.acc[i], &l.acc[i]), "lazy and eager tg_backward differ");
    }
    outcome_free(&e);
    outcome_free(&l);
}

/* Runs the program twice: the first run may grow the library's caches (the
** scope stack, the backward's scratch), the second must leave the live block
** count where the first left it. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run_input(data, size);
    compare_modes(data, size);
    int64_t live = live_blocks();
    run_input(data, size);
    compare_modes(data, size);
    check(live_blocks() == live, "blocks leaked");
    return 0;
}
