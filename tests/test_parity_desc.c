/* SPDX-License-Identifier: MIT */
/*
** The fusion descriptors of issue 17's pointwise ops (sigmoid, clamp, maximum,
** minimum, where, and the masks and tie weights their backwards apply): each
** descriptor's point, block and C expression give the eager forward's bits
** at lengths 0, 1, 7, 8, 9 and 1023, on unaligned data, with every operand in
** turn a scalar, at NaN, infinities, signed zeros, ties and sigmoid's
** overflow range.  The expression is compiled as the code generator compiles
** a pass (tg__toolchain_load, the same flags).  Then a captured step of these
** ops, replayed several times while the parameters move across clamp's bounds
** and the maximum's switch points, against the eager loop, compiled and
** interpreted (TG_GRAPH_INTERPRET=1), with the ops fused into passes.  The
** ops without a descriptor (the layout copies,
** matmul, cross_entropy) are listed in docs/ops.md with the reason.
*/
#define _POSIX_C_SOURCE 200809L   /* setenv */
#include "support.h"
#include "autograd/graph.h"
#include "core/opdesc.h"
#include "graph/capture.h"
#include "graph/toolchain.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int64_t lengths[] = {0, 1, 7, 8, 9, 1023};

/* Values with the edge cases in every input, and ties between inputs 0 and 1
** (i is the input, j the element). */
static double edge_value(int i, int64_t j)
{
    static const double sp[] = {NAN, INFINITY, -INFINITY, -0.0, 0.0, 0.5, -0.5, 800.0, -800.0,
                                1e-300, -745.5, 710.0, 0.25, 1.0};
    if (i == 1 && j % 5 == 0)
        return edge_value(0, j);   /* a tie */
    int64_t k = (j * (2 * i + 3) + 5 * i) % 31;
    return k < 14 ? sp[k] : 30.0 * sin(0.37 * (double)j + i);
}

static void expect_same_bits(const char *what, int64_t n, const double *got, const double *want)
{
    for (int64_t j = 0; j < n; j++)
        if (memcmp(&got[j], &want[j], sizeof(double)) != 0 && !(isnan(got[j]) && isnan(want[j])))
            fail_msg("%s at %lld of %lld: %.17g, eager %.17g", what, (long long)j, (long long)n, got[j], want[j]);
}

/* ------------------------------------------------- the compiled expression */

typedef void expr_fn(int64_t n, const double *const *x, const int64_t *inc, double *y);

/* d->expr as a loop over n points, compiled as a pass is: %i reads input i,
** %aK is the K-th double argument as an exact literal. */
static expr_fn *compile_expr(const tg__opdesc *d, const void *args, void **dl)
{
    char src[2048], b[40];
    int len = snprintf(src, sizeof src, "#include <math.h>\n#include <stdint.h>\n"
                                        "void tgt_expr(int64_t n, const double *const *x, const int64_t *inc, double *y)\n"
                                        "{\n    for (int64_t j = 0; j < n; j++)\n        y[j] = ");
    for (const char *p = d->expr; *p; p++) {
        if (p[0] == '%' && p[1] >= '0' && p[1] <= '9') {
            len += snprintf(src + len, sizeof src - (size_t)len, "x[%c][j * inc[%c]]", p[1], p[1]);
            p++;
        } else if (p[0] == '%' && p[1] == 'a' && p[2] >= '0' && p[2] <= '9') {
            len += snprintf(src + len, sizeof src - (size_t)len, "%s",
                            tg__c_double(b, ((const double *)args)[p[2] - '0']));
            p += 2;
        } else {
            src[len++] = *p;
        }
        assert_true(len < (int)sizeof src - 64);
    }
    len += snprintf(src + len, sizeof src - (size_t)len, ";\n}\n");
    *dl = tg__toolchain_load(src, (size_t)len);
    if (!*dl)
        fail_msg("the system compiler did not build the expression %s", d->expr);
    expr_fn *f;
    *(void **)&f = dlsym(*dl, "tgt_expr");
    assert_non_null(f);
    return f;
}

/* ------------------------------------------- point, block, expr == eager */

/* d (the descriptor of the op that made y from in[0..n_in) with args)
** through its block (inputs one double off: unaligned; a one-element input of
** a longer y at inc 0), its point and its compiled expression, against y's
** eager bits. */
static void check_desc_of(const char *what, const tg__opdesc *d, const void *args, int n_in, tg_tensor *const *in,
                          const tg_tensor *y)
{
    if (!d || d->kind != TG__OPK_POINT || !d->point || !d->block || !d->expr)
        fail_msg("%s: no pointwise descriptor with point, block and expr", what);
    int64_t n = y->numel, inc[3];
    double *buf[3], *out = test_malloc((size_t)(n + 1) * sizeof(double));
    const double *x[3];
    for (int i = 0; i < n_in; i++) {
        const tg_tensor *t = in[i];
        assert_true(t->numel == n || t->numel == 1);
        inc[i] = t->numel == 1 ? 0 : 1;
        buf[i] = test_malloc((size_t)(t->numel + 1) * sizeof(double));
        memcpy(buf[i] + 1, t->data, (size_t)t->numel * sizeof(double));
        x[i] = buf[i] + 1;
    }
    char label[96];
    snprintf(label, sizeof label, "%s block, n = %lld", what, (long long)n);
    d->block(n, x, inc, args, out + 1, NULL);
    expect_same_bits(label, n, out + 1, y->data);
    for (int64_t j = 0; j < n; j++) {
        double v[3];
        for (int i = 0; i < n_in; i++)
            v[i] = x[i][j * inc[i]];
        out[j] = d->point(v, args, NULL);
    }
    snprintf(label, sizeof label, "%s point, n = %lld", what, (long long)n);
    expect_same_bits(label, n, out, y->data);
    void *dl;
    expr_fn *f = compile_expr(d, args, &dl);
    memset(out, 0, (size_t)(n + 1) * sizeof(double));
    f(n, x, inc, out + 1);
    snprintf(label, sizeof label, "%s expr, n = %lld", what, (long long)n);
    expect_same_bits(label, n, out + 1, y->data);
    tg__toolchain_unload(dl);
    for (int i = 0; i < n_in; i++)
        test_free(buf[i]);
    test_free(out);
}

/* y's own descriptor (y recorded from in[0..n_in)), as check_desc_of. */
static void check_desc(const char *what, const tg_tensor *y, int n_in, tg_tensor *const *in)
{
    assert_non_null(y);
    assert_non_null(y->node);
    assert_int_equal(y->node->n_inputs, n_in);
    check_desc_of(what, y->node->fn->desc, y->node->args, n_in, in, y);
}

/* An input of n edge values (input i's), requiring grad when asked. */
static tg_tensor *edge_input(int i, int64_t n, bool grad)
{
    tg_tensor *t = tg_zeros(1, &n);
    for (int64_t j = 0; j < n; j++)
        tg_data(t)[j] = edge_value(i, j);
    if (grad)
        tg_set_requires_grad(t, true);
    return t;
}

static tg_tensor *scalar_input(double v)
{
    tg_tensor *t = tg_scalar(v);
    tg_set_requires_grad(t, true);
    return t;
}

static void test_sigmoid_and_clamp_descriptors_give_eager_bits(void **state)
{
    (void)state;
    static const double bounds[][2] = {{-0.5, 0.75}, {0.0, 0.0}, {-INFINITY, 2.0}, {-1.0, INFINITY}, {-0.0, 0.0}};
    for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++) {
        tg_scope_begin();
        tg_tensor *a = edge_input(0, lengths[l], true);
        check_desc("sigmoid", tg_sigmoid(a), 1, &a);
        for (size_t k = 0; k < sizeof bounds / sizeof bounds[0]; k++)
            check_desc("clamp", tg_clamp(a, bounds[k][0], bounds[k][1]), 1, &a);
        tg_scope_end();
    }
}

/* maximum and minimum with both operands vectors, then each in turn a scalar
** (0.25, NaN, -0.0); where the same over its three operands. */
static void test_maximum_minimum_where_descriptors_give_eager_bits(void **state)
{
    (void)state;
    static const double scalars[] = {0.25, NAN, -0.0, 0.0};
    for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++)
        for (size_t s = 0; s < sizeof scalars / sizeof scalars[0]; s++)
            for (int scalar_at = -1; scalar_at < 3; scalar_at++) {
                tg_scope_begin();
                int64_t n = lengths[l];
                tg_tensor *in[3];
                for (int i = 0; i < 3; i++)   /* tg_where detaches its condition */
                    in[i] = i == scalar_at ? scalar_input(scalars[s]) : edge_input(i, n, true);
                check_desc("maximum", tg_maximum(in[0], in[1]), 2, in);
                check_desc("minimum", tg_minimum(in[0], in[1]), 2, in);
                check_desc("where", tg_where(in[0], in[1], in[2]), 3, in);
                tg_scope_end();
            }
}

/* The masks and tie weights clamp's, maximum's and minimum's backwards apply
** (ops of their own), seen through the apply hook and checked as above. */
static int masks_seen;
static void check_mask_apply(const tg_function *fn, tg_tensor *const *inputs, tg_tensor *const *outputs,
                             const void *args, size_t args_size)
{
    (void)args_size;
    static const char *const names[] = {"tg_clamp_mask", "tg_maximum_weight", "tg_minimum_weight"};
    for (int k = 0; k < 3; k++)
        if (strcmp(fn->name, names[k]) == 0) {
            check_desc_of(names[k], fn->desc, args, fn->n_inputs, inputs, outputs[0]);
            masks_seen++;
        }
}

/* a failure inside the hook jumps out of the backward: the hook goes with the test */
static int drop_hook_and_check_live(void **state)
{
    tg__apply_hook = NULL;
    return tgt_check_live(state);
}

static void test_backward_masks_and_tie_weights_have_descriptors_giving_eager_bits(void **state)
{
    (void)state;
    for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++)
        for (int create = 0; create < 2; create++) {
            tg_scope_begin();
            int64_t n = lengths[l];
            tg_tensor *a = edge_input(0, n, true), *b = edge_input(1, n, true), *s = scalar_input(0.5);
            tg_tensor *loss = tg_add(tg_add(tg_sum(tg_clamp(a, -0.5, 0.75)), tg_sum(tg_maximum(a, b))),
                                     tg_add(tg_sum(tg_minimum(a, s)), tg_sum(tg_maximum(s, b))));
            tg_backward_opts o = {.create_graph = create};
            masks_seen = 0;
            tg__apply_hook = check_mask_apply;
            tg_status st = tg_backward(loss, &o);
            tg__apply_hook = NULL;
            assert_status(TG_OK, st);
            assert_int_equal(masks_seen, 7);   /* clamp's mask, two weights per pair op */
            tg_scope_end();
        }
}

/* ----------------------------------------------- captured step == eager loop */

enum { STEPS = 6 };

/* STEPS of the eager loop (loss, backward, p -= lr * grad for each
** parameter), then from the same start STEPS replays of the captured step,
** loss and parameters compared after each; batch(user, t) (or NULL) writes
** step t's data into the step's input tensors first; check(g) looks at the
** plan. */
static void expect_replays_equal_eager_loop(tg_tensor *(*loss_fn)(void *), void *user, const tg_params *ps,
                                            double lr, void (*batch)(void *, int), void (*check)(const tg_graph *))
{
    int np = tg_params_count(ps);
    int64_t total = 0;
    for (int i = 0; i < np; i++)
        total += tg_numel(tg_params_get(ps, i));
    double *start = test_malloc((size_t)total * sizeof(double)), want_loss[STEPS];
    double *want = test_malloc((size_t)(STEPS * total) * sizeof(double)), *got = test_malloc((size_t)total * sizeof(double));
    for (int i = 0, o = 0; i < np; o += (int)tg_numel(tg_params_get(ps, i)), i++)
        memcpy(start + o, tg_data(tg_params_get(ps, i)), (size_t)tg_numel(tg_params_get(ps, i)) * sizeof(double));
    for (int t = 0; t < STEPS; t++) {
        if (batch)
            batch(user, t);
        tg_scope_begin();
        tg_tensor *loss = loss_fn(user);
        want_loss[t] = tg_item(loss);
        assert_status(TG_OK, tg_backward(loss, NULL));
        for (int i = 0, o = 0; i < np; i++) {
            tg_tensor *p = tg_params_get(ps, i);
            for (int64_t j = 0; j < tg_numel(p); j++, o++)
                want[t * total + o] = tg_data(p)[j] -= lr * tg_data(tg_grad(p))[j];
            tg_zero_grad(p);
        }
        tg_scope_end();
    }
    for (int i = 0, o = 0; i < np; o += (int)tg_numel(tg_params_get(ps, i)), i++)
        memcpy(tg_data(tg_params_get(ps, i)), start + o, (size_t)tg_numel(tg_params_get(ps, i)) * sizeof(double));
    if (batch)
        batch(user, 0);
    tg_graph *g = tg_graph_capture(loss_fn, user, ps, lr);
    if (!g)
        fail_msg("tg_graph_capture: %s", tg_last_error());
    const char *e = getenv("TG_GRAPH_INTERPRET");
    assert_true(g->compiled == (tg__graph_writable(g) && !(e && *e && strcmp(e, "0") != 0)));
    check(g);
    for (int t = 0; t < STEPS; t++) {
        double loss;
        if (batch)
            batch(user, t);
        assert_status(TG_OK, tg_graph_replay(g, &loss));
        for (int i = 0, o = 0; i < np; o += (int)tg_numel(tg_params_get(ps, i)), i++)
            memcpy(got + o, tg_data(tg_params_get(ps, i)), (size_t)tg_numel(tg_params_get(ps, i)) * sizeof(double));
        char what[64];
        snprintf(what, sizeof what, "step %d (%s)", t, g->compiled ? "compiled" : "interpreted");
        assert_allclose(what, 1, &loss, &want_loss[t], 1e-12, 1e-13);
        assert_allclose(what, total, got, want + t * total, 1e-12, 1e-13);
    }
    tg_graph_free(g);
    test_free(start);
    test_free(want);
    test_free(got);
}

typedef struct step { tg_tensor *x, *c, *w, *s; tg_params *params; } step;

static tg_tensor *pointwise_loss(void *user)
{
    const step *f = user;
    tg_tensor *u = tg_mul(f->x, f->w);
    tg_tensor *s = tg_affine(f->s, 1e-3, 1.0);   /* s's gradient near w's */
    tg_tensor *h = tg_sigmoid(tg_mul(u, s));
    tg_tensor *k = tg_where(f->c, tg_maximum(h, tg_clamp(u, -0.3, 0.3)), tg_minimum(h, tg_scalar(0.6)));
    tg_tensor *m = tg_minimum(tg_maximum(u, tg_affine(s, 1.0, -1.0)), tg_clamp(f->w, -0.5, 0.5));
    return tg_add(tg_sum(tg_mul(k, k)), tg_sum(tg_mul(m, u)));
}

/* Every op of issue 17 in the step, and the masks and weights of their
** backwards, is fused: a descriptor record run point by point, never opaque. */
static void expect_pointwise_fused(const tg_graph *g)
{
    static const char *const names[] = {"tg_sigmoid", "tg_clamp", "tg_maximum", "tg_minimum", "tg_where",
                                        "tg_clamp_mask", "tg_maximum_weight", "tg_minimum_weight"};
    for (int k = 0; k < 8; k++) {
        int seen = 0;
        for (int i = 0; i < g->n_rec; i++) {
            const tg__grec *r = &g->rec[i];
            if (!r->needed || !r->fn || strcmp(r->fn->name, names[k]) != 0)
                continue;
            if (r->type != REC_OP || (r->run != R_ELEM && r->run != R_SCALAR))
                fail_msg("record %d ('%s') is not fused (type %d, run %d)", i, names[k], r->type, r->run);
            seen++;
        }
        if (!seen)
            fail_msg("no record of '%s' in the captured step", names[k]);
    }
}

static void pointwise_step_case(int kind)
{
    (void)kind;
    tg_scope_begin();
    int64_t n = 3000;
    step f = {tgt_make(1, &n, tgt_signed0, false), tgt_make(1, &n, tgt_signed1, false),
              tgt_make(1, &n, tgt_signed1, true), tg_scalar(0.3), tg_params_new()};
    for (int64_t j = 0; j < n; j++)
        tg_data(f.c)[j] = tg_data(f.c)[j] > 0;
    tg_set_requires_grad(f.s, true);
    assert_status(TG_OK, tg_params_add(f.params, "w", f.w));
    assert_status(TG_OK, tg_params_add(f.params, "s", f.s));
    double *w0 = test_malloc((size_t)n * sizeof(double)), lr = 0.5;
    memcpy(w0, tg_data(f.w), (size_t)n * sizeof(double));
    expect_replays_equal_eager_loop(pointwise_loss, &f, f.params, lr, NULL, expect_pointwise_fused);
    int64_t crossed = 0;   /* clamp(w)'s mask entries the steps changed: the masks had to follow */
    for (int64_t j = 0; j < n; j++)
        crossed += (fabs(w0[j]) <= 0.5) != (fabs(tg_data(f.w)[j]) <= 0.5);
    assert_true(crossed > 10);
    tg_params_free(f.params);
    test_free(w0);
    tg_scope_end();
}

static void test_captured_step_with_pointwise_ops_equals_eager_loop(void **state)
{
    (void)state;
    static const int kinds[] = {0};
    tgt_each_executor(pointwise_step_case, kinds, 1);
}

/* The ops without a descriptor (docs/ops.md) in a captured step: called
** opaque, their backwards too (raw-loop constants inside), so replays follow
** the parameters as the eager loop does, and the data: each step writes a new
** batch into x and target (the last one 1000 times larger, where a stale
** logsumexp shift would overflow), which cross_entropy's one-hot mask and
** logsumexp's shift, ops of their own, are rebuilt from. */
typedef struct cls { tg_tensor *x, *target, *w; tg_params *params; } cls;

static void next_batch(void *user, int t)
{
    cls *f = user;
    for (int64_t j = 0; j < tg_numel(f->x); j++)
        tg_data(f->x)[j] = (t == STEPS - 1 ? 1000.0 : 1.0) * tgt_signed0(j + 3 * t);
    for (int64_t b = 0; b < 5; b++)
        tg_data(f->target)[b] = (double)((b * 7 + t) % 3);
}

static tg_tensor *opaque_loss(void *user)
{
    const cls *f = user;
    tg_tensor *logits = tg_matmul(f->x, f->w);                               /* [5,3] */
    tg_tensor *both = tg_cat(2, (tg_tensor *[]){logits, tg_permute(tg_permute(logits, (const int[]){1, 0}),
                                                                   (const int[]){1, 0})}, 0);   /* [10,3] */
    tg_tensor *part = tg_narrow(both, 0, 3, 5);
    tg_tensor *terms[6] = {tg_cross_entropy(logits, f->target, TG_REDUCTION_MEAN),
                           tg_mean(tg_amax(part, 1, false)), tg_sum(tg_amin(logits, -1, true)),
                           tg_sum(tg_mul(tg_log_softmax(logits, 0), tg_softmax(part, 1))),
                           tg_sum(tg_var(tg_stack(2, (tg_tensor *[]){logits, part}, 0), 1, 1, false)),
                           tg_sum(tg_logsumexp(tg_squeeze(tg_mean_dim(both, 0, true), 0), 0, false))};
    tg_tensor *loss = terms[0];
    for (int i = 1; i < 6; i++)
        loss = tg_add(loss, terms[i]);
    return loss;
}

/* the layout copies, the one-hot mask and matmul are called whole; amax and
** amin (descriptors since the engine's row reductions) run inside the plan,
** their tie masks too, and so do softmax, log_softmax and logsumexp (made of
** amax, the shift and fused ops) */
static void expect_opaque(const tg_graph *g)
{
    static const char *const names[] = {"tg_matmul", "tg_cat", "tg_permute", "tg_narrow", "tg_cross_entropy_one_hot",
                                        "tg_logsumexp_shift", "tg_amax", "tg_amin", "tg_amax_ties"};
    for (int k = 0; k < 9; k++) {
        int seen = 0;
        for (int i = 0; i < g->n_rec; i++)
            if (g->rec[i].needed && g->rec[i].fn && strcmp(g->rec[i].fn->name, names[k]) == 0) {
                if (k < 5)
                    assert_int_equal(g->rec[i].run, R_OPAQUE);
                else
                    assert_int_not_equal(g->rec[i].run, R_OPAQUE);
                seen++;
            }
        if (!seen)
            fail_msg("no record of '%s' in the captured step", names[k]);
    }
}

static void opaque_step_case(int kind)
{
    (void)kind;
    tg_scope_begin();
    cls f = {tgt_make(2, (int64_t[]){5, 4}, tgt_signed0, false), tg_from_array(1, (int64_t[]){5}, (double[]){0, 2, 1, 1, 0}),
             tgt_make(2, (int64_t[]){4, 3}, tgt_signed1, true), tg_params_new()};
    assert_status(TG_OK, tg_params_add(f.params, "w", f.w));
    expect_replays_equal_eager_loop(opaque_loss, &f, f.params, 0.3, next_batch, expect_opaque);
    tg_params_free(f.params);
    tg_scope_end();
}

static void test_captured_step_with_the_other_ops_equals_eager_loop(void **state)
{
    (void)state;
    static const int kinds[] = {0};
    tgt_each_executor(opaque_step_case, kinds, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        tgt_test(test_sigmoid_and_clamp_descriptors_give_eager_bits),
        tgt_test(test_maximum_minimum_where_descriptors_give_eager_bits),
        cmocka_unit_test_setup_teardown(test_backward_masks_and_tie_weights_have_descriptors_giving_eager_bits,
                                        tgt_record_live, drop_hook_and_check_live),
        tgt_test(test_captured_step_with_pointwise_ops_equals_eager_loop),
        tgt_test(test_captured_step_with_the_other_ops_equals_eager_loop),
    };
    tgt_warm_scopes();
    return cmocka_run_group_tests_name("test_parity_desc", tests, NULL, NULL);
}
