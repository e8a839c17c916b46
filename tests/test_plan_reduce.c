/* SPDX-License-Identifier: MIT */
/*
** Reductions to a shape other than one element inside the engine's plans
** (src/graph/plan.c): sums over a dim or a group of adjacent dims (sum_dim,
** mean_dim, the sum_to of a broadcast's gradient) computed by a pass of
** their own whose tasks own whole output rows, and read back by later
** elementwise work through an index map (a smaller buffer broadcast).  Each
** step here is captured (tg_graph_capture) and replayed against the eager
** loop to 1e-12, compiled and interpreted; its plan has no opaque record;
** and its replays give the same bits at 1 and 2 threads (teams forced at
** small sizes).  Shapes: the last dim (rows shorter and longer than a
** block), the first and a middle dim (inner runs shorter and longer than a
** block), several adjacent dims, negative dims, keepdim true and false, 0-d
** and empty tensors, a bias broadcast over a batch.
*/
#include "support.h"
#include "graph/capture.h"
#include "kernels/parallel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { STEPS = 4, MAX_P = 4 };

typedef struct step {
    tg_tensor *x, *y;          /* data */
    tg_tensor *p[MAX_P];       /* parameters */
    int np;
    tg_params *params;
    int dim;                   /* the case's reduction dim (mean_loss: C) */
} step;

static int64_t total_numel(const step *f)
{
    int64_t n = 0;
    for (int i = 0; i < f->np; i++)
        n += tg_numel(f->p[i]);
    return n;
}

static void save(const step *f, double *to)
{
    for (int i = 0; i < f->np; i++, to += tg_numel(f->p[i - 1]))
        memcpy(to, tg_data(f->p[i]), (size_t)tg_numel(f->p[i]) * sizeof(double));
}

static void load(const step *f, const double *from)
{
    for (int i = 0; i < f->np; i++, from += tg_numel(f->p[i - 1]))
        memcpy(tg_data(f->p[i]), from, (size_t)tg_numel(f->p[i]) * sizeof(double));
}

/* Every record of the plan runs inside it: none called opaque, and the
** reductions to a shape are row reductions. */
static void expect_fused(const tg_graph *g, int want_rowred)
{
    int rowred = 0;
    for (int k = 0; k < g->n_rec; k++) {
        const tg__grec *r = &g->rec[k];
        if (r->needed && r->run == R_OPAQUE && getenv("TGT_DUMP"))
            for (int i = 0; i < r->n_in; i++)
                fprintf(stderr, "in %d: value %d kind %d numel %lld meta ndim %d\n", i, r->in[i],
                        g->val[tg__graph_root(g, r->in[i])].kind, (long long)g->val[tg__graph_root(g, r->in[i])].numel,
                        r->in_meta[i].ndim);
        if (r->needed && r->run == R_OPAQUE)
            fail_msg("record %d ('%s') is opaque", k, r->fn && r->fn->name ? r->fn->name : "?");
        rowred += r->needed && r->run == R_ROWRED;
    }
    assert_int_equal(tg__graph_opaque_count(g), 0);
    if (rowred < want_rowred && getenv("TGT_DUMP"))
        for (int k = 0; k < g->n_rec; k++)
            fprintf(stderr, "rec %d %s type %d run %d needed %d out numel %lld\n", k,
                    g->rec[k].fn && g->rec[k].fn->name ? g->rec[k].fn->name : "?", g->rec[k].type, g->rec[k].run,
                    g->rec[k].needed, (long long)g->val[g->rec[k].out[0]].numel);
    if (rowred < want_rowred)
        fail_msg("%d row reductions in the plan, expected at least %d", rowred, want_rowred);
    /* a value a row reduction's pass and another pass need is computed once:
    ** stored by the first, read back by the other */
    for (int i = 0; i < g->n_pass; i++)
        for (int j = i + 1; j < g->n_pass; j++)
            for (int a = 0; (g->pass[i].rowred >= 0 || g->pass[j].rowred >= 0) && a < g->pass[i].n_elem; a++)
                for (int b = 0; b < g->pass[j].n_elem; b++)
                    if (g->pass[i].elem[a] == g->pass[j].elem[b])
                        fail_msg("value %d is computed by pass %d and again by pass %d", g->pass[i].elem[a], i, j);
}

/* STEPS of the eager loop, then the captured step's STEPS replays from the
** same start, each loss and parameter to 1e-12; then one replay at 1 and at
** 2 threads from the same start gives the same bits. */
static void expect_step(tg_tensor *(*loss_fn)(void *), step *f, double lr, int want_rowred, bool reads_extreme)
{
    int64_t total = total_numel(f);
    double *start = test_malloc((size_t)(total + 1) * sizeof(double));
    double *want = test_malloc((size_t)(STEPS * total + 1) * sizeof(double));
    double *got = test_malloc((size_t)(total + 1) * sizeof(double)), want_loss[STEPS];
    save(f, start);
    for (int t = 0; t < STEPS; t++) {
        tg_scope_begin();
        tg_tensor *loss = loss_fn(f);
        assert_non_null(loss);
        want_loss[t] = tg_item(loss);
        assert_status(TG_OK, tg_backward(loss, NULL));
        for (int i = 0; i < f->np; i++) {
            double *d = tg_data(f->p[i]);
            const double *gr = tg_data(tg_grad(f->p[i]));
            for (int64_t j = 0; j < tg_numel(f->p[i]); j++)
                d[j] -= lr * gr[j];
            tg_zero_grad(f->p[i]);
        }
        save(f, want + t * total);
        tg_scope_end();
    }
    load(f, start);
    int threads = tg_get_num_threads();
    tg_set_num_threads(2);
    int64_t min_work = tg__par_set_min_work(64);
    tg_graph *g = tg_graph_capture(loss_fn, f, f->params, lr);
    if (!g)
        fail_msg("tg_graph_capture: %s", tg_last_error());
    expect_fused(g, want_rowred);
    const char *e = getenv("TG_GRAPH_INTERPRET");
    bool interpret = e && *e && strcmp(e, "0") != 0;
    assert_true(g->compiled == (tg__graph_writable(g) && !interpret));
    if (!interpret && !reads_extreme && !g->compiled) {   /* every pass is written */
        bool any_pass = false;
        for (int s = 0; s < g->n_step; s++)
            any_pass = any_pass || g->step[s].kind == S_PASS;
        assert_false(any_pass);
    }
    for (int t = 0; t < STEPS; t++) {
        double loss;
        assert_status(TG_OK, tg_graph_replay(g, &loss));
        save(f, got);
        char what[64];
        snprintf(what, sizeof what, "replay %d (%s)", t, tg_graph_executor(g));
        assert_allclose(what, 1, &loss, &want_loss[t], 1e-12, 1e-13);
        assert_allclose(what, total, got, want + t * total, 1e-12, 1e-13);
    }
    double loss1, loss2;   /* threads: the same bits */
    tg_set_num_threads(1);
    load(f, start);
    assert_status(TG_OK, tg_graph_replay(g, &loss1));
    save(f, want);
    tg_set_num_threads(2);
    load(f, start);
    assert_status(TG_OK, tg_graph_replay(g, &loss2));
    save(f, got);
    assert_memory_equal(&loss1, &loss2, sizeof loss1);
    assert_memory_equal(got, want, (size_t)total * sizeof(double));
    tg_graph_free(g);
    tg__par_set_min_work(min_work);
    tg_set_num_threads(threads);
    load(f, start);
    test_free(start);
    test_free(want);
    test_free(got);
}

void tg__lazy_step_stats(unsigned long *hits, unsigned long *misses);   /* graph/lazystep.c */

/* The same step as a user's loop in lazy mode (tg_backward on the pending
** loss runs it as one cached plan): STEPS steps at 2 threads, then again at
** 1 and at 2 from the same start.  Each loss and parameter equals the eager
** loop's to 1e-12; the first step misses the plan cache and every other
** hits; the plan has no opaque record and has its row reductions; the runs
** of hits alone give the same bits at 1 and 2 threads. */
static void expect_lazy_step(tg_tensor *(*loss_fn)(void *), step *f, double lr, int want_rowred)
{
    int64_t total = total_numel(f);
    double *start = test_malloc((size_t)(total + 1) * sizeof(double));
    double *want = test_malloc((size_t)(STEPS * total + 1) * sizeof(double));
    double *got = test_malloc((size_t)(3 * STEPS * total + 1) * sizeof(double));
    double want_loss[STEPS], got_loss[3][STEPS];
    save(f, start);
    bool lazy = tg_set_lazy(false);
    for (int t = 0; t < STEPS; t++) {
        tg_scope_begin();
        tg_tensor *loss = loss_fn(f);
        want_loss[t] = tg_item(loss);
        assert_status(TG_OK, tg_backward(loss, NULL));
        for (int i = 0; i < f->np; i++) {
            for (int64_t j = 0; j < tg_numel(f->p[i]); j++)
                tg_data(f->p[i])[j] -= lr * tg_data(tg_grad(f->p[i]))[j];
            tg_zero_grad(f->p[i]);
        }
        save(f, want + t * total);
        tg_scope_end();
    }
    int threads = tg_get_num_threads();
    int64_t min_work = tg__par_set_min_work(64);
    tg_release_memory();   /* no cached plan of an earlier case */
    for (int run = 0; run < 3; run++) {
        load(f, start);
        tg_set_num_threads(run == 1 ? 1 : 2);
        tg_set_lazy(true);
        unsigned long h0, m0, h1, m1;
        tg__lazy_step_stats(&h0, &m0);
        for (int t = 0; t < STEPS; t++) {
            tg_scope_begin();
            tg_tensor *loss = loss_fn(f);
            assert_non_null(loss);
            assert_status(TG_OK, tg_backward(loss, NULL));
            got_loss[run][t] = tg_item(loss);
            for (int i = 0; i < f->np; i++) {
                double *d = tg_data(f->p[i]);
                const double *gr = tg_data(tg_grad(f->p[i]));
                for (int64_t j = 0; j < tg_numel(f->p[i]); j++)
                    d[j] -= lr * gr[j];
                tg_zero_grad(f->p[i]);
            }
            save(f, got + (run * STEPS + t) * total);
            tg_scope_end();
            char what[64];
            snprintf(what, sizeof what, "lazy step %d (run %d)", t, run);
            assert_allclose(what, 1, &got_loss[run][t], &want_loss[t], 1e-12, 1e-13);
            assert_allclose(what, total, got + (run * STEPS + t) * total, want + t * total, 1e-12, 1e-13);
        }
        tg_set_lazy(false);
        tg__lazy_step_stats(&h1, &m1);
        if (m1 - m0 != (run == 0 ? 1u : 0u) || h1 - h0 != (run == 0 ? STEPS - 1u : (unsigned)STEPS))
            fail_msg("run %d: %lu plan misses and %lu hits over %d steps", run, m1 - m0, h1 - h0, STEPS);
        if (run == 0) {
            int opaque, rowred;
            tg__graph_last_plan(&opaque, &rowred);
            assert_int_equal(opaque, 0);
            if (rowred < want_rowred)
                fail_msg("%d row reductions in the lazy plan, expected at least %d", rowred, want_rowred);
        }
    }
    assert_memory_equal(got_loss[1], got_loss[2], sizeof got_loss[1]);   /* 1 thread, then 2 */
    assert_memory_equal(got + STEPS * total, got + 2 * STEPS * total, (size_t)(STEPS * total) * sizeof(double));
    tg_set_lazy(lazy);
    tg_set_num_threads(threads);
    tg__par_set_min_work(min_work);
    load(f, start);
    test_free(start);
    test_free(want);
    test_free(got);
}

/* Both checks of a step (captured, then lazy), then f's parameters freed. */
static void expect_steps(tg_tensor *(*loss_fn)(void *), step *f, double lr, int want_rowred, bool reads_extreme)
{
    expect_step(loss_fn, f, lr, want_rowred, reads_extreme);
    expect_lazy_step(loss_fn, f, lr, want_rowred);
    tg_params_free(f->params);
}

static double gen_x(int64_t k) { return tgt_signed0(k); }
static double gen_y(int64_t k) { return 0.5 * tgt_signed1(k); }
static double gen_p(int64_t k) { return 0.3 + 0.2 * tgt_signed1(3 * k + 1); }

static void make_step(step *f, int ndim, const int64_t *shape, int np, const int *pnd, const int64_t (*pshape)[4])
{
    memset(f, 0, sizeof *f);
    f->x = tgt_make(ndim, shape, gen_x, false);
    f->y = tgt_make(ndim, shape, gen_y, false);
    f->params = tg_params_new();
    f->np = np;
    for (int i = 0; i < np; i++) {
        f->p[i] = tgt_make(pnd[i], pshape[i], gen_p, true);
        char name[8] = {'p', (char)('0' + i), 0};
        assert_status(TG_OK, tg_params_add(f->params, name, f->p[i]));
    }
}

/* ------------------------------------------------------ the bias gradient */

/* z = x * a + b with a, b of [C] broadcast over [B, C]: their gradients are
** sums over the batch (sum_to [B, C] -> [C]), the loss a mean */
static tg_tensor *bias_loss(void *user)
{
    const step *f = user;
    tg_tensor *d = tg_sub(tg_add(tg_mul(f->x, f->p[0]), f->p[1]), f->y);
    return tg_mean(tg_mul(d, d));
}

static void bias_case(int kind)
{
    static const int64_t shapes[][2] = {{37, 53}, {300, 70}, {3, 5000}, {2000, 3}};
    for (int s = 0; s < 4; s++) {
        tg_scope_begin();
        step f;
        const int64_t c = shapes[s][1], ps[2][4] = {{c}, {c}};
        make_step(&f, 2, shapes[s], 2, (const int[]){1, 1}, ps);
        (void)kind;
        expect_steps(bias_loss, &f, 0.1, 2, false);
        tg_scope_end();
    }
}

static void test_bias_gradient_over_a_batch_is_fused(void **state)
{
    (void)state;
    tgt_each_executor(bias_case, (const int[]){0}, 1);
}

/* ---------------------------------------------- softmax built from ops */

/* p = e / sum_dim(e, dim, keep), e = exp(x * w): a softmax along dim, its
** loss against soft targets y; w of x's shape */
static tg_tensor *softmax_loss(void *user)
{
    const step *f = user;
    tg_tensor *e = tg_exp(tg_mul(f->x, f->p[0]));
    tg_tensor *p = tg_div(e, tg_sum_dim(e, f->dim, true));
    tg_tensor *q = tg_sum_dim(tg_mul(p, f->y), f->dim, false);   /* keepdim false: a view */
    return tg_sum(tg_mul(q, q));
}

static void softmax_case(int kind)
{
    (void)kind;
    static const struct { int ndim; int64_t shape[3]; int dim; } cases[] = {
        {2, {37, 53}, -1}, {2, {37, 53}, 0}, {2, {4, 3000}, 1}, {2, {3000, 4}, -2},
        {3, {5, 7, 11}, 1}, {3, {5, 7, 11}, -3}, {3, {2, 3, 2500}, 1}, {1, {100}, 0}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        tg_scope_begin();
        step f;
        int64_t ps[1][4];
        memcpy(ps[0], cases[c].shape, sizeof cases[c].shape);
        make_step(&f, cases[c].ndim, cases[c].shape, 1, (const int[]){cases[c].ndim}, (const int64_t(*)[4])ps);
        f.dim = cases[c].dim;
        expect_steps(softmax_loss, &f, 0.05, cases[c].ndim > 1 ? 2 : 0, false);
        tg_scope_end();
    }
}

static void test_softmax_from_sum_dim_is_fused(void **state)
{
    (void)state;
    tgt_each_executor(softmax_case, (const int[]){0}, 1);
}

/* The stable softmax of a user: m = amax(z, dim, keep), e = exp(z - m),
** p = e / sum_dim(e), with amin beside it (keepdim false); z = x * s0 + y *
** s1 with 0-d parameters, x in steps of 1/4 and s1 = 0 at first, so rows
** have tied extremes: the gradient is split among them (PyTorch's rule);
** later steps break the ties, and each replay recomputes the mask */
static double gen_ties(int64_t k) { return floor(4.0 * tgt_signed0(k)) / 4.0; }

static tg_tensor *stable_softmax_loss(void *user)
{
    const step *f = user;
    tg_tensor *z = tg_add(tg_mul(f->x, f->p[0]), tg_mul(f->y, f->p[1]));
    tg_tensor *m = tg_amax(z, f->dim, true);
    tg_tensor *e = tg_exp(tg_sub(z, m));
    tg_tensor *p = tg_div(e, tg_sum_dim(e, f->dim, true));
    tg_tensor *lo = tg_amin(z, f->dim, false);
    return tg_add(tg_sum(tg_mul(p, f->x)), tg_sum(tg_mul(lo, lo)));
}

static void stable_softmax_case(int kind)
{
    (void)kind;
    static const struct { int ndim; int64_t shape[3]; int dim; } cases[] = {
        {2, {37, 53}, -1}, {2, {37, 53}, 0}, {2, {4, 3000}, 1}, {2, {3000, 4}, -2},
        {3, {5, 7, 11}, 1}, {3, {2, 3, 2500}, -2}, {1, {100}, 0}, {0, {0}, -1}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        tg_scope_begin();
        step f;
        const int64_t ps[2][4] = {{0}, {0}};
        make_step(&f, cases[c].ndim, cases[c].shape, 2, (const int[]){0, 0}, ps);
        for (int64_t j = 0; j < tg_numel(f.x); j++)
            tg_data(f.x)[j] = gen_ties(j);
        tg_data(f.p[1])[0] = 0.0;   /* z = x * p0 at the first step: x's ties */
        f.dim = cases[c].dim;
        expect_steps(stable_softmax_loss, &f, 0.05, cases[c].ndim > 1 ? 4 : 0, true);
        tg_scope_end();
    }
}

static void test_stable_softmax_from_amax_is_fused(void **state)
{
    (void)state;
    tgt_each_executor(stable_softmax_case, (const int[]){0}, 1);
}

/* ------------------------------------------------------- mean_dim losses */

/* means over a middle dim (kept and dropped), a negative dim, the sum over
** two adjacent dims (sum_to [A, B, C] -> [C]) and a variance (tg_var: sub,
** mean_dim, mul, sum_dim, div) */
static tg_tensor *mean_loss(void *user)
{
    const step *f = user;
    tg_tensor *z = tg_add(tg_mul(f->x, f->p[0]), f->p[1]);        /* [A,B,C] * [A,B,C] + [B,C] */
    tg_tensor *m1 = tg_mean_dim(z, 1, false);                     /* [A, C] */
    tg_tensor *m2 = tg_mean_dim(tg_mul(z, z), -1, true);          /* [A, B, 1] */
    tg_tensor *m3 = tg_sum_to(tg_mul(z, f->y), 1, (const int64_t[]){f->dim});   /* [C] (no tg_shape: it realizes) */
    tg_tensor *v = tg_var(z, -2, 0, false);                         /* [A, C], a composition */
    return tg_add(tg_add(tg_sum(tg_mul(m1, m1)), tg_mean(m2)), tg_add(tg_sum(tg_mul(m3, m3)), tg_sum(v)));
}

static void mean_case(int kind)
{
    (void)kind;
    static const int64_t shapes[][3] = {{4, 6, 9}, {3, 700, 5}, {2, 3, 3000}, {1, 1, 5}};
    for (int s = 0; s < 4; s++) {
        tg_scope_begin();
        step f;
        const int64_t ps[2][4] = {{shapes[s][0], shapes[s][1], shapes[s][2]}, {shapes[s][1], shapes[s][2]}};
        make_step(&f, 3, shapes[s], 2, (const int[]){3, 2}, ps);
        f.dim = (int)shapes[s][2];
        expect_steps(mean_loss, &f, 0.02, shapes[s][1] > 1 ? 3 : 0, false);
        tg_scope_end();
    }
}

static void test_mean_dim_losses_are_fused(void **state)
{
    (void)state;
    tgt_each_executor(mean_case, (const int[]){0}, 1);
}

/* --------------------------------------------------- 0-d and empty shapes */

/* a 0-d parameter summed over dim 0 and -1 (PyTorch: itself), and an empty
** batch: sum_dim over a dim of size 0 gives zeros of the other dims */
static tg_tensor *edge_loss(void *user)
{
    const step *f = user;
    tg_tensor *s = tg_sum_dim(tg_mul(f->p[0], f->p[0]), 0, false);
    tg_tensor *m = tg_mean_dim(tg_mul(f->p[0], tg_scalar(3.0)), -1, true);
    tg_tensor *e = tg_sum_dim(tg_add(f->x, f->p[1]), 0, false);   /* [0, C] + [C] -> [C], zeros */
    return tg_add(tg_add(s, m), tg_sum(tg_mul(tg_add(e, f->p[1]), f->p[1])));
}

static void edge_case(int kind)
{
    (void)kind;
    tg_scope_begin();
    step f;
    const int64_t shape[2] = {0, 7}, ps[2][4] = {{0}, {7}};
    make_step(&f, 2, shape, 2, (const int[]){0, 1}, ps);
    expect_steps(edge_loss, &f, 0.1, 1, false);
    tg_scope_end();
}

static void test_zero_d_and_empty_shapes(void **state)
{
    (void)state;
    tgt_each_executor(edge_case, (const int[]){0}, 1);
}

int main(void)
{
    tgt_warm_scopes();
    const struct CMUnitTest tests[] = {
        tgt_test(test_bias_gradient_over_a_batch_is_fused),
        tgt_test(test_softmax_from_sum_dim_is_fused),
        tgt_test(test_stable_softmax_from_amax_is_fused),
        tgt_test(test_mean_dim_losses_are_fused),
        tgt_test(test_zero_d_and_empty_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
