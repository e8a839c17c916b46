/* SPDX-License-Identifier: MIT */
/*
** The engine's contract with the ops (src/core/opdesc.h, src/graph): every
** built-in op the fuser reads carries a descriptor in its tg_function, found
** here through the node an apply records; a pointwise descriptor's point and
** block functions give the eager forward's bits at every length (0, 1, 7, 8,
** 9, 1023, unaligned, a scalar operand); the reductions and views say what
** they are; the ops the fuser must call opaque have none.  Also the layering
** that replaced direct calls: the apply hook is set only while
** tg_graph_capture records, a replayed opaque backward fails through the
** executor's one backward call with its message, and the core broadcast
** copies span Functions use give tg_expand's and tg_sum_to's bits.  And a
** step captured with an optimizer (tg_graph_capture_optim: SGD with Nesterov
** momentum, Adam, AdamW, centered RMSprop) replayed 30 times against the eager
** loop, with no system allocation per steady replay; its argument errors.
** And a rebuilt step with another learning rate compiles nothing new (the
** rate is an argument of the compiled passes, not a literal).
*/
#include "support.h"
#include "core/internal.h"
#include "core/opdesc.h"
#include "autograd/graph.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int64_t lengths[] = {0, 1, 7, 8, 9, 1023};

/* The descriptor of the Function that made t (t recorded: an input requires grad). */
static const tg__opdesc *desc_of(const tg_tensor *t)
{
    assert_non_null(t);
    assert_non_null(t->node);
    assert_int_equal(tg_realize((tg_tensor *)t), TG_OK);   /* lazy mode: the values, read directly below */
    return t->node->fn->desc;
}

static tg_tensor *leaf(int64_t n, double (*gen)(int64_t))
{
    return tgt_make(1, &n, gen, true);
}

static void expect_same_bits(const char *what, int64_t n, const double *got, const double *want)
{
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&got[i], &want[i], sizeof(double)) != 0 && !(isnan(got[i]) && isnan(want[i])))
            fail_msg("%s at %lld of %lld: %.17g, eager %.17g", what, (long long)i, (long long)n, got[i], want[i]);
}

typedef tg_tensor *(*unary_op)(tg_tensor *);
typedef tg_tensor *(*binary_op)(tg_tensor *, tg_tensor *);

/* desc's block over x (offset by one double: unaligned) and point at each
** element against the eager output y. */
static void check_unary_desc(const char *what, const tg__opdesc *d, const void *args, const tg_tensor *x,
                             const tg_tensor *y)
{
    assert_non_null(d);
    assert_int_equal(d->kind, TG__OPK_POINT);
    assert_non_null(d->point);
    assert_non_null(d->block);
    assert_true(d->expr != NULL || d->emit != NULL);
    int64_t n = x->numel, scratch_n = d->scratch ? d->scratch(args) : 1;
    double *scratch = test_malloc((size_t)scratch_n * sizeof(double));
    double *in = test_malloc((size_t)(n + 1) * sizeof(double)), *out = test_malloc((size_t)(n + 1) * sizeof(double));
    memcpy(in + 1, x->data, (size_t)n * sizeof(double));
    const double *xs[1] = {in + 1};
    int64_t inc[1] = {1};
    d->block(n, xs, inc, args, out + 1, scratch);
    expect_same_bits(what, n, out + 1, y->data);
    for (int64_t i = 0; i < n; i++)
        out[i] = d->point(&x->data[i], args, scratch);
    expect_same_bits(what, n, out, y->data);
    test_free(in);
    test_free(out);
    test_free(scratch);
}

static void test_engine_unary_descriptors_give_eager_bits(void **state)
{
    (void)state;
    static const struct { const char *name; unary_op op; } ops[] = {
        {"neg", tg_neg}, {"exp", tg_exp}, {"log", tg_log}, {"sin", tg_sin},
        {"cos", tg_cos}, {"tanh", tg_tanh}, {"sqrt", tg_sqrt}, {"relu", tg_relu}, {"abs", tg_abs}};
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
        for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++) {
            tg_scope_begin();
            tg_tensor *x = leaf(lengths[l], k < 7 ? tgt_positive0 : tgt_signed0), *y = ops[k].op(x);
            check_unary_desc(ops[k].name, desc_of(y), NULL, x, y);
            tg_scope_end();
        }
}

static void test_engine_pow_affine_legendre_descriptors_give_eager_bits(void **state)
{
    (void)state;
    static const double powers[] = {2.0, 3.0, 1.0, 0.5, -0.5, -1.0, -2.0, 1.7, 0.0};
    for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++) {
        tg_scope_begin();
        tg_tensor *x = leaf(lengths[l], tgt_positive0), *s = leaf(lengths[l], tgt_signed0);
        for (size_t p = 0; p < sizeof powers / sizeof powers[0]; p++) {
            tg_tensor *y = tg_pow(x, powers[p]);
            check_unary_desc("pow", desc_of(y), &powers[p], x, y);
        }
        double st[2] = {-1.25, 0.375};
        tg_tensor *a = tg_affine(s, st[0], st[1]);
        check_unary_desc("affine", desc_of(a), st, s, a);
        for (int deg = 0; deg <= 9; deg++) {
            int nk[2] = {deg, 0};   /* tg_legendre's argument block: degree, derivative order */
            tg_tensor *y = tg_legendre(s, deg);
            check_unary_desc("legendre", desc_of(y), nk, s, y);
        }
        tg_scope_end();
    }
}

static void test_engine_binary_descriptors_give_eager_bits_with_scalar_operands(void **state)
{
    (void)state;
    static const struct { const char *name; binary_op op; } ops[] = {
        {"add", tg_add}, {"sub", tg_sub}, {"mul", tg_mul}, {"div", tg_div}};
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
        for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++) {
            tg_scope_begin();
            int64_t n = lengths[l];
            tg_tensor *a = leaf(n, tgt_signed0), *b = leaf(n, tgt_positive0), *c = tg_scalar(0.625);
            tg_tensor *yab = ops[k].op(a, b), *yac = ops[k].op(a, c), *yca = ops[k].op(c, a);
            const tg__opdesc *d = desc_of(yab);
            assert_non_null(d);
            assert_int_equal(d->kind, TG__OPK_POINT);
            assert_ptr_equal(d, desc_of(yac));
            double *out = test_malloc((size_t)(n + 1) * sizeof(double));
            const double *x[2] = {a->data, b->data};
            int64_t inc[2] = {1, 1};
            d->block(n, x, inc, NULL, out, NULL);
            expect_same_bits(ops[k].name, n, out, yab->data);
            x[1] = c->data, inc[1] = 0;
            d->block(n, x, inc, NULL, out, NULL);
            expect_same_bits(ops[k].name, n, out, yac->data);
            x[0] = c->data, inc[0] = 0, x[1] = a->data, inc[1] = 1;
            d->block(n, x, inc, NULL, out, NULL);
            expect_same_bits(ops[k].name, n, out, yca->data);
            for (int64_t i = 0; i < n; i++) {
                double ab[2] = {a->data[i], b->data[i]};
                out[i] = d->point(ab, NULL, NULL);
            }
            expect_same_bits(ops[k].name, n, out, yab->data);
            test_free(out);
            tg_scope_end();
        }
}

static void test_engine_reductions_and_views_say_what_they_are(void **state)
{
    (void)state;
    tg_scope_begin();
    int64_t shape[2] = {3, 4}, one[2] = {1, 4}, flat = 12;
    tg_tensor *x = tgt_make(2, shape, tgt_signed0, true);
    tg_tensor *row = tgt_make(2, one, tgt_signed1, true);
    assert_int_equal(desc_of(tg_sum(x))->kind, TG__OPK_SUM);
    assert_int_equal(desc_of(tg_mean(x))->kind, TG__OPK_MEAN);
    assert_int_equal(desc_of(tg_sum_to(x, 2, one))->kind, TG__OPK_SUM);
    assert_ptr_equal(desc_of(tg_sum_to(x, 2, one)), &tg__sum_to_desc);
    assert_int_equal(desc_of(tg_expand(row, 2, shape))->kind, TG__OPK_EXPAND);
    assert_int_equal(desc_of(tg_reshape(x, 1, &flat))->kind, TG__OPK_VIEW);
    tg_scope_end();
}

/* Ops that are not pointwise: the capture calls them opaque. */
static void test_engine_opaque_ops_have_no_descriptor(void **state)
{
    (void)state;
    tg_scope_begin();
    int64_t sq[2] = {3, 3};
    tg_tensor *m = tgt_make(2, sq, tgt_signed1, true);
    assert_null(desc_of(tg_matmul(m, m)));
    assert_null(desc_of(tg_select(m, 0, 1)));
    tg_scope_end();
}

/* relu's and abs's backwards under create_graph multiply by a mask made by an
** op of its own with a descriptor (on x detached: the gradient stays without
** a graph, as test_hygiene wants), which the capture records on x's data. */
typedef struct mask_probe { const char *want; bool seen; } mask_probe;
static _Thread_local mask_probe *probe;
static void see_apply(const tg_function *fn, tg_tensor *const *inputs, tg_tensor *const *outputs,
                      const void *args, size_t args_size)
{
    (void)inputs, (void)outputs, (void)args, (void)args_size;
    if (fn->name && strcmp(fn->name, probe->want) == 0 && fn->desc && fn->desc->kind == TG__OPK_POINT)
        probe->seen = true;
}

static void test_engine_relu_and_abs_backwards_apply_fusable_masks(void **state)
{
    (void)state;
    unary_op ops[2] = {tg_relu, tg_abs};
    const char *names[2] = {"tg_relu_mask", "tg_abs_mask"};
    for (int k = 0; k < 2; k++) {
        tg_scope_begin();
        mask_probe mp = {names[k], false};
        tg_tensor *x = leaf(9, tgt_signed0), *y = tg_sum(ops[k](x)), *gx = NULL;
        tg_backward_opts o = {.create_graph = true};
        probe = &mp;
        tg__apply_hook = see_apply;
        tg_status st = tg_autograd_grad(1, &y, NULL, 1, &x, &gx, &o);
        tg__apply_hook = NULL;
        assert_status(TG_OK, st);
        assert_true(mp.seen);
        assert_false(tg_requires_grad(gx));
        for (int64_t i = 0; i < 9; i++) {
            double v = tgt_signed0(i), want = k == 0 ? (v > 0) : (v > 0) - (v < 0);
            assert_true(tg_data(gx)[i] == want);
        }
        tg_scope_end();
    }
}

/* ------------------------------------------------------------ layering */

typedef struct hook_probe { tg_tensor *p, *x; bool hook_seen; } hook_probe;

static tg_tensor *probe_loss(void *user)
{
    hook_probe *h = user;
    h->hook_seen = tg__apply_hook != NULL;
    return tg_sum(tg_pow(tg_mul(h->p, h->x), 2.0));
}

static void test_engine_apply_hook_set_only_while_capturing(void **state)
{
    (void)state;
    hook_probe h = {tg_scalar(0.5), tg_linspace(-1.0, 1.0, 64), false};
    tg_set_requires_grad(h.p, true);
    tg_params *ps = tg_params_new();
    assert_status(TG_OK, tg_params_add(ps, "p", h.p));
    assert_null(tg__apply_hook);
    tg_graph *g = tg_graph_capture(probe_loss, &h, ps, 0.1);
    assert_non_null(g);
    assert_true(h.hook_seen);
    assert_null(tg__apply_hook);
    double loss = 0;
    assert_status(TG_OK, tg_graph_replay(g, &loss));
    assert_true(loss > 0);
    tg_graph_free(g);
    tg_params_free(ps);
    tg_free(h.p);
    tg_free(h.x);
}

/* forward: y = 2x  =>  dx = 2 dy, failing from its second call without a message */
static int backward_calls;
static tg_status twice_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    (void)ctx;
    return (out[0] = tg_affine(in[0], 2.0, 0.0)) ? TG_OK : tg_last_status();
}
static tg_status twice_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    (void)ctx;
    if (++backward_calls > 1)
        return TG_ERR_NUMERIC;
    tg_tensor *d = tg_zeros(tg_ndim(g[0]), tg_shape(g[0]));   /* raw loops: called opaque */
    for (int64_t i = 0; d && i < tg_numel(d); i++)
        tg_data(d)[i] = 2.0 * tg_data(g[0])[i];
    return (gin[0] = d) ? TG_OK : tg_last_status();
}
static const tg_function twice_fn = {.name = "Twice", .n_inputs = 1, .n_outputs = 1,
                                     .forward = twice_forward, .backward = twice_backward};

static tg_tensor *twice_loss(void *user)
{
    hook_probe *h = user;
    tg_tensor *u = tg_mul(h->p, h->x);
    return tg_sum(tg_apply1(&twice_fn, &u));
}

static void test_engine_replayed_backward_failure_names_the_function(void **state)
{
    (void)state;
    hook_probe h = {tg_scalar(0.5), tg_linspace(-1.0, 1.0, 64), false};
    tg_set_requires_grad(h.p, true);
    tg_params *ps = tg_params_new();
    assert_status(TG_OK, tg_params_add(ps, "p", h.p));
    backward_calls = 0;
    tg_graph *g = tg_graph_capture(twice_loss, &h, ps, 0.1);
    assert_non_null(g);
    assert_int_equal(backward_calls, 1);
    tg_clear_error();
    assert_status(TG_ERR_NUMERIC, tg_graph_replay(g, NULL));
    assert_non_null(strstr(tg_last_error(), "tg_graph_replay: backward of 'Twice' failed"));
    tg_graph_free(g);
    tg_params_free(ps);
    tg_free(h.p);
    tg_free(h.x);
}

static void test_engine_core_broadcast_copies_give_expand_and_sum_to_bits(void **state)
{
    (void)state;
    static const int64_t big[3] = {4, 3, 5};
    static const int64_t smalls[][3] = {{1, 3, 1}, {4, 1, 5}, {1, 1, 1}, {4, 3, 1}, {4, 3, 5}};
    for (size_t k = 0; k < sizeof smalls / sizeof smalls[0]; k++) {
        tg_scope_begin();
        tg_tensor *s = tgt_make(3, smalls[k], tgt_signed0, false), *b = tgt_make(3, big, tgt_signed1, false);
        tg_tensor *e = tg_expand(s, 3, big), *e2 = tg__expand_now("tg_expand", s, 3, big);
        tg_tensor *r = tg_sum_to(b, 3, smalls[k]), *r2 = tg__sum_to_now("tg_sum_to", b, 3, smalls[k]);
        assert_non_null(e2);
        assert_non_null(r2);
        assert_int_equal(tg_realize(e), TG_OK);   /* lazy mode: the values, read directly below */
        expect_same_bits("expand", e->numel, e2->data, e->data);
        expect_same_bits("sum_to", r->numel, r2->data, r->data);
        tg_scope_end();
    }
    tg_scope_begin();
    int64_t bad[1] = {7};
    assert_null(tg__expand_now("tg_expand", tg_zeros(1, (int64_t[]){3}), 1, bad));
    assert_int_equal(tg_last_status(), TG_ERR_SHAPE);
    assert_non_null(strstr(tg_last_error(), "tg_expand: cannot expand [3] to [7]"));
    tg_scope_end();
}


/* ------------------------------------------------ captured steps, any optimizer */

enum { SGD_MOMENTUM, ADAM, ADAMW, RMSPROP, N_KINDS };

/* loss = sum((w * P3(c + d x) + b - y)^2): w a vector (an elementwise
** gradient, stored by its pass), b, c, d scalars. */
typedef struct fit { int64_t n; tg_tensor *x, *y, *w, *b, *c, *d; tg_params *params; } fit;

static tg_tensor *fit_loss(void *user)
{
    fit *f = user;
    tg_tensor *q = tg_legendre(tg_add(f->c, tg_mul(f->d, f->x)), 3);
    return tg_sum(tg_pow(tg_sub(tg_add(tg_mul(f->w, q), f->b), f->y), 2.0));
}

static void make_fit(fit *f, int64_t n)
{
    f->n = n;
    f->x = tg_linspace(-1.0, 1.0, n);
    f->y = tg_sin(f->x);
    f->w = tg_full(1, &n, 0.5);
    f->b = tg_scalar(0.1), f->c = tg_scalar(0.0), f->d = tg_scalar(0.8);
    f->params = tg_params_new();
    tg_tensor *ps[4] = {f->w, f->b, f->c, f->d};
    const char *names[4] = {"w", "b", "c", "d"};
    for (int i = 0; i < 4; i++) {
        tg_set_requires_grad(ps[i], true);
        assert_status(TG_OK, tg_params_add(f->params, names[i], ps[i]));
    }
}

static void free_fit(fit *f)
{
    tg_free(f->x), tg_free(f->y), tg_free(f->w), tg_free(f->b), tg_free(f->c), tg_free(f->d);
    tg_params_free(f->params);
}

static tg_optim *make_optim(int kind, const tg_params *params)
{
    if (kind == SGD_MOMENTUM) {
        tg_sgd_opts o = tg_sgd_defaults(1e-3);
        o.momentum = 0.9, o.nesterov = true;
        return tg_sgd_new(params, &o);
    }
    if (kind == RMSPROP) {
        tg_rmsprop_opts o = tg_rmsprop_defaults();
        o.lr = 1e-3, o.momentum = 0.5, o.centered = true;
        return tg_rmsprop_new(params, &o);
    }
    tg_adam_opts o = kind == ADAM ? tg_adam_defaults() : tg_adamw_defaults();
    o.lr = 1e-2;
    return kind == ADAM ? tg_adam_new(params, &o) : tg_adamw_new(params, &o);
}

static void expect_near(const char *what, int kind, int step, double got, double want)
{
    if (fabs(got - want) > 1e-10 * fabs(want) + 1e-13)
        fail_msg("optimizer %d, %s at step %d: replay %.17g, eager %.17g", kind, what, step, got, want);
}

static void test_engine_captured_step_with_any_optimizer_equals_eager(void **state)
{
    (void)state;
    for (int kind = 0; kind < N_KINDS; kind++) {
        fit e, c;
        make_fit(&e, 3001);
        make_fit(&c, 3001);
        tg_optim *oe = make_optim(kind, e.params), *oc = make_optim(kind, c.params);
        assert_non_null(oe);
        assert_non_null(oc);
        tg_graph *g = tg_graph_capture_optim(fit_loss, &c, c.params, oc);
        if (!g)
            fail_msg("capture failed: %s", tg_last_error());
        const char *forced = getenv("TG_GRAPH_INTERPRET");
        assert_string_equal(tg_graph_executor(g), forced && strcmp(forced, "0") ? "interpreted" : "compiled");
        for (int t = 0; t < 30; t++) {
            tg_scope_begin();
            tg_optim_zero_grad(oe);
            tg_tensor *l = fit_loss(&e);
            assert_status(TG_OK, tg_backward(l, NULL));
            double le = tg_item(l), lc = NAN;
            assert_status(TG_OK, tg_optim_step(oe));
            tg_scope_end();
            assert_status(TG_OK, tg_graph_replay(g, &lc));
            expect_near("loss", kind, t, lc, le);
            expect_near("b", kind, t, tg_item(c.b), tg_item(e.b));
            expect_near("c", kind, t, tg_item(c.c), tg_item(e.c));
            expect_near("d", kind, t, tg_item(c.d), tg_item(e.d));
            for (int64_t i = 0; i < e.n; i += 97)
                expect_near("w", kind, t, tg_data(c.w)[i], tg_data(e.w)[i]);
        }
        tg_memory_stats m0, m1;   /* steady state: nothing from the system */
        tg_get_memory_stats(&m0);
        for (int t = 0; t < 5; t++)
            assert_status(TG_OK, tg_graph_replay(g, NULL));
        tg_get_memory_stats(&m1);
        assert_int_equal(m1.system_allocations, m0.system_allocations);
        tg_graph_free(g);
        tg_optim_free(oe), tg_optim_free(oc);
        free_fit(&e), free_fit(&c);
    }
}

static void test_engine_capture_optim_rejects_bad_optimizers(void **state)
{
    (void)state;
    fit f, other;
    make_fit(&f, 64);
    make_fit(&other, 64);
    tg_lbfgs_opts lo = tg_lbfgs_defaults();
    tg_optim *lbfgs = tg_lbfgs_new(f.params, &lo), *wrong = make_optim(ADAM, other.params);
    struct { tg_optim *opt; const char *text; } cases[] = {
        {NULL, "tg_graph_capture_optim: opt is NULL"},
        {lbfgs, "steps only through a closure"},
        {wrong, "tg_graph_capture_optim: opt was made for other parameters than params"}};
    for (int k = 0; k < 3; k++) {
        tg_clear_error();
        assert_null(tg_graph_capture_optim(fit_loss, &f, f.params, cases[k].opt));
        assert_int_equal(tg_last_status(), TG_ERR_ARG);
        if (!strstr(tg_last_error(), cases[k].text))
            fail_msg("message '%s' lacks '%s'", tg_last_error(), cases[k].text);
    }
    tg_clear_error();
    tg_optim *right = make_optim(ADAM, f.params);
    assert_null(tg_graph_capture_optim(NULL, &f, f.params, right));
    assert_non_null(strstr(tg_last_error(), "tg_graph_capture_optim: loss_fn is NULL"));
    tg_optim_free(lbfgs), tg_optim_free(wrong), tg_optim_free(right);
    free_fit(&f), free_fit(&other);
}

/* ------------------------------------------------ one kernel for every lr */

/* The learning rate is an argument of the compiled passes, not a literal:
** a second capture of the same step with another lr compiles nothing new. */
static void test_engine_second_capture_with_another_lr_hits_the_kernel_cache(void **state)
{
    (void)state;
    const char *forced = getenv("TG_GRAPH_INTERPRET");
    if (forced && strcmp(forced, "0") != 0)
        skip();
    tgt_cache cache;
    tgt_private_cache_begin(&cache);
    fit f1, f2;   /* two sets of tensors: the second graph is rebuilt, not reused */
    make_fit(&f1, 2000);
    make_fit(&f2, 2000);
    tg_graph *g1 = tg_graph_capture(fit_loss, &f1, f1.params, 1e-4);
    assert_non_null(g1);
    assert_string_equal(tg_graph_executor(g1), "compiled");
    int after_first = tgt_kernels_in(&cache);
    assert_true(after_first >= 1);
    tg_graph *g2 = tg_graph_capture(fit_loss, &f2, f2.params, 3e-4);
    assert_non_null(g2);
    assert_string_equal(tg_graph_executor(g2), "compiled");
    assert_int_equal(tgt_kernels_in(&cache), after_first);
    double b0 = tg_item(f1.b), l1, l2;   /* each graph steps with its own rate */
    assert_status(TG_OK, tg_graph_replay(g1, &l1));
    assert_status(TG_OK, tg_graph_replay(g2, &l2));
    double step1 = tg_item(f1.b) - b0, step2 = tg_item(f2.b) - b0;
    assert_true(l1 == l2);
    assert_true(step1 != 0.0);
    assert_true(fabs(step2 - 3.0 * step1) <= 1e-9 * fabs(step2));
    tg_graph_free(g1);
    tg_graph_free(g2);
    free_fit(&f1);
    free_fit(&f2);
    tgt_private_cache_end(&cache);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_engine_unary_descriptors_give_eager_bits),
        cmocka_unit_test(test_engine_pow_affine_legendre_descriptors_give_eager_bits),
        cmocka_unit_test(test_engine_binary_descriptors_give_eager_bits_with_scalar_operands),
        cmocka_unit_test(test_engine_reductions_and_views_say_what_they_are),
        cmocka_unit_test(test_engine_opaque_ops_have_no_descriptor),
        cmocka_unit_test(test_engine_relu_and_abs_backwards_apply_fusable_masks),
        cmocka_unit_test(test_engine_apply_hook_set_only_while_capturing),
        cmocka_unit_test(test_engine_replayed_backward_failure_names_the_function),
        cmocka_unit_test(test_engine_core_broadcast_copies_give_expand_and_sum_to_bits),
        cmocka_unit_test(test_engine_captured_step_with_any_optimizer_equals_eager),
        cmocka_unit_test(test_engine_capture_optim_rejects_bad_optimizers),
        cmocka_unit_test(test_engine_second_capture_with_another_lr_hits_the_kernel_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
