/* SPDX-License-Identifier: MIT */
/*
** Numerical gradient checks, as torch.autograd.gradcheck / gradgradcheck: the
** analytic Jacobian (one tg_autograd_grad per output element) against central
** finite differences.  Built on the public API only; autograd layer.
*/
#include "graph.h"

#include <math.h>
#include <string.h>

#define MAX_CHECK_INPUTS (2 * TG_MAX_FN_ARITY)

/* A function of many inputs with many outputs; returns the output count or -1. */
typedef int (*multi_fn)(void *self, tg_tensor *const *inputs, tg_tensor **outs);

typedef struct checker {
    const char *fname;
    multi_fn f;
    void *self;
    int n_inputs;
    tg_tensor *const *inputs;
    double eps, atol, rtol;
} checker;

static int eval(const checker *c, tg_tensor **outs)
{
    int n = c->f(c->self, c->inputs, outs);
    tg__lazy_sync();   /* the outputs' values are read, and the inputs written, directly */
    if (n < 0 && tg_last_status() == TG_OK)
        tg__error(TG_ERR_ARG, "%s: the function returned NULL", c->fname);
    return n;
}

/* Numeric column: d(all outputs)/d(input i, element e), concatenated. */
static tg_status numeric_column(const checker *c, int i, int64_t e, double *col, int64_t total)
{
    double *x = c->inputs[i]->data, orig = x[e];
    tg_tensor *outs[MAX_CHECK_INPUTS];
    double *plus = col;
    for (int side = 0; side < 2; side++) {
        x[e] = side == 0 ? orig + c->eps : orig - c->eps;
        tg_scope_begin();
        int n = eval(c, outs);
        int64_t off = 0;
        for (int k = 0; k < n; k++) {
            for (int64_t j = 0; j < outs[k]->numel && off + j < total; j++)
                plus[off + j] = side == 0 ? outs[k]->data[j]
                                          : (plus[off + j] - outs[k]->data[j]) / (2 * c->eps);
            off += outs[k]->numel;
        }
        tg_scope_end();
        if (n < 0) {
            x[e] = orig;
            return tg_last_status();
        }
    }
    x[e] = orig;
    return TG_OK;
}

static tg_status mismatch(const checker *c, int i, int64_t e, int64_t j, double a, double nu)
{
    return tg__error(TG_ERR_NUMERIC,
                     "%s: gradient mismatch for input %d element %lld, output element %lld: "
                     "analytic %.17g, numeric %.17g (error %.3g, allowed %.3g)",
                     c->fname, i, (long long)e, (long long)j, a, nu, fabs(a - nu),
                     c->atol + c->rtol * fabs(nu));
}

/* Analytic rows, output element by output element: jac[i] is
** numel(input i) x total, column j = d(output element j)/d(input i). */
static tg_status analytic(const checker *c, tg_tensor **outs, int n_outs, int64_t total, double **jac)
{
    tg_tensor *wrt[MAX_CHECK_INPUTS], *g[MAX_CHECK_INPUTS];
    int idx[MAX_CHECK_INPUTS], n_wrt = 0;
    for (int i = 0; i < c->n_inputs; i++)
        if (c->inputs[i]->requires_grad)
            idx[n_wrt] = i, wrt[n_wrt++] = c->inputs[i];
    int64_t j0 = 0;
    for (int k = 0; k < n_outs; j0 += outs[k]->numel, k++) {
        if (!outs[k]->requires_grad)
            continue;   /* a constant output: its Jacobian rows are zero */
        for (int64_t j = 0; j < outs[k]->numel; j++) {
            tg_scope_begin();
            tg_tensor *go = tg_zeros(outs[k]->ndim, outs[k]->shape);
            tg_backward_opts o = {.retain_graph = true};
            tg_status st = go ? TG_OK : tg_last_status();
            if (go) {
                go->data[j] = 1.0;
                st = tg_autograd_grad(1, &outs[k], &go, n_wrt, wrt, g, &o);
            }
            for (int w = 0; st == TG_OK && w < n_wrt; w++)
                for (int64_t e = 0; e < wrt[w]->numel; e++)
                    jac[idx[w]][e * total + j0 + j] = g[w]->data[e];
            tg_scope_end();
            if (st != TG_OK)
                return st;
        }
    }
    return TG_OK;
}

static tg_status compare(const checker *c, double **jac, int64_t total)
{
    double *col = tg__malloc((size_t)(total ? total : 1) * sizeof(double));
    if (!col)
        return tg__error(TG_ERR_NOMEM, "%s: out of memory", c->fname);
    tg_status st = TG_OK;
    for (int i = 0; i < c->n_inputs && st == TG_OK; i++) {
        if (!c->inputs[i]->requires_grad)
            continue;
        for (int64_t e = 0; e < c->inputs[i]->numel && st == TG_OK; e++) {
            st = numeric_column(c, i, e, col, total);
            for (int64_t j = 0; j < total && st == TG_OK; j++) {
                double a = jac[i][e * total + j], nu = col[j];
                if (!(fabs(a - nu) <= c->atol + c->rtol * fabs(nu)))
                    st = mismatch(c, i, e, j, a, nu);
            }
        }
    }
    tg__free(col);
    return st;
}

static tg_status check_args(const char *fname, int n_inputs, tg_tensor *const *inputs, double eps,
                            double atol, double rtol)
{
    if (n_inputs < 1 || n_inputs > TG_MAX_FN_ARITY || !inputs)
        return tg__error(TG_ERR_ARG, "%s: n_inputs is %d, must be 1..%d with inputs non-NULL", fname,
                         n_inputs, TG_MAX_FN_ARITY);
    if (!(eps > 0) || !(atol >= 0) || !(rtol >= 0))
        return tg__error(TG_ERR_ARG, "%s: eps %g must be > 0, atol %g and rtol %g >= 0", fname, eps,
                         atol, rtol);
    bool any = false;
    for (int i = 0; i < n_inputs; i++) {
        tg_status st = tg__check_live(fname, "an input", inputs[i]);
        if (st != TG_OK)
            return st;
        if (inputs[i]->requires_grad && !tg__is_leaf(inputs[i]))
            return tg__error(TG_ERR_ARG, "%s: input %d is not a leaf", fname, i);
        any = any || inputs[i]->requires_grad;
    }
    if (!any)
        return tg__error(TG_ERR_ARG, "%s: no input requires grad", fname);
    return TG_OK;
}

static tg_status run_check(const checker *c)
{
    double *jac[MAX_CHECK_INPUTS] = {0};
    tg_tensor *outs[MAX_CHECK_INPUTS];
    tg_status st = TG_OK;
    int depth = tg__scope_depth();
    tg_scope_begin();
    int n_outs = eval(c, outs);
    int64_t total = 0;
    if (n_outs < 0)
        st = tg_last_status();
    for (int k = 0; k < n_outs; k++)
        total += outs[k]->numel;
    for (int i = 0; st == TG_OK && i < c->n_inputs; i++) {
        if (!c->inputs[i]->requires_grad)
            continue;
        size_t cells = (size_t)(c->inputs[i]->numel * total);
        if (!(jac[i] = tg__calloc(cells ? cells : 1, sizeof(double))))
            st = tg__error(TG_ERR_NOMEM, "%s: out of memory for the Jacobian", c->fname);
    }
    if (st == TG_OK)
        st = analytic(c, outs, n_outs, total, jac);
    tg__scope_end_to(depth);
    if (st == TG_OK)
        st = compare(c, jac, total);
    for (int i = 0; i < c->n_inputs; i++)
        tg__free(jac[i]);
    return st;
}

/* ------------------------------------------------------------ gradcheck */

typedef struct single { tg_fn f; void *user; } single;

static int eval_single(void *self, tg_tensor *const *inputs, tg_tensor **outs)
{
    single *s = self;
    outs[0] = s->f(inputs, s->user);
    return outs[0] ? 1 : -1;
}

tg_status tg_gradcheck(tg_fn f, int n_inputs, tg_tensor *const *inputs, void *user, double eps,
                       double atol, double rtol)
{
    if (!f)
        return tg__error(TG_ERR_ARG, "tg_gradcheck: f is NULL");
    tg_status st = check_args("tg_gradcheck", n_inputs, inputs, eps, atol, rtol);
    if (st != TG_OK)
        return st;
    single s = {f, user};
    checker c = {"tg_gradcheck", eval_single, &s, n_inputs, inputs, eps, atol, rtol};
    return run_check(&c);
}

/* -------------------------------------------------------- gradgradcheck */

typedef struct dual {
    tg_fn f;
    void *user;
    int n_inputs;              /* of f; the last input of the check is grad_output */
} dual;

/* The first derivatives of f, weighted by grad_output, with their graph. */
static int eval_grads(void *self, tg_tensor *const *inputs, tg_tensor **outs)
{
    dual *d = self;
    tg_tensor *y = d->f(inputs, d->user);
    if (!y)
        return -1;
    tg_tensor *wrt[TG_MAX_FN_ARITY];
    int n_wrt = 0;
    for (int i = 0; i < d->n_inputs; i++)
        if (inputs[i]->requires_grad)
            wrt[n_wrt++] = inputs[i];
    if (!y->requires_grad) {   /* f does not depend on its inputs: zero gradients */
        for (int w = 0; w < n_wrt; w++)
            if (!(outs[w] = tg_zeros(wrt[w]->ndim, wrt[w]->shape)))
                return -1;
        return n_wrt;
    }
    tg_backward_opts o = {.create_graph = true};
    tg_tensor *go = inputs[d->n_inputs];
    if (!tg__same_shape(go, y)) {
        tg__error(TG_ERR_SHAPE, "tg_gradgradcheck: f's output changed shape between calls");
        return -1;
    }
    return tg_autograd_grad(1, &y, &go, n_wrt, wrt, outs, &o) == TG_OK ? n_wrt : -1;
}

tg_status tg_gradgradcheck(tg_fn f, int n_inputs, tg_tensor *const *inputs, void *user, double eps,
                           double atol, double rtol)
{
    const char *fname = "tg_gradgradcheck";
    if (!f)
        return tg__error(TG_ERR_ARG, "%s: f is NULL", fname);
    tg_status st = check_args(fname, n_inputs, inputs, eps, atol, rtol);
    if (st != TG_OK)
        return st;
    int depth = tg__scope_depth();
    tg_scope_begin();
    tg_tensor *all[TG_MAX_FN_ARITY + 1];
    memcpy(all, inputs, (size_t)n_inputs * sizeof *all);
    bool prev = tg_set_grad_enabled(false);
    tg_tensor *y = f(inputs, user);
    tg_set_grad_enabled(prev);
    tg_tensor *go = y ? tg_zeros(y->ndim, y->shape) : NULL;
    if (!go) {
        st = tg_last_status() != TG_OK ? tg_last_status()
                                       : tg__error(TG_ERR_ARG, "%s: f returned NULL", fname);
    } else {
        uint64_t s = 0x9E3779B97F4A7C15u;   /* fixed pseudo-random weights in [-1, 1) */
        for (int64_t j = 0; j < go->numel; j++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            go->data[j] = (double)(s >> 11) / 4503599627370496.0 - 1.0;
        }
        tg_set_requires_grad(go, true);
        all[n_inputs] = go;
        dual d = {f, user, n_inputs};
        checker c = {fname, eval_grads, &d, n_inputs + 1, all, eps, atol, rtol};
        st = run_check(&c);
    }
    tg__scope_end_to(depth);
    return st;
}
