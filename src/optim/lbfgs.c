/* SPDX-License-Identifier: MIT */
/*
** L-BFGS as torch.optim.LBFGS (PyTorch 1.13, torch/optim/lbfgs.py), line by
** line: the parameters are one flat vector (their gradients gathered in list
** order, a missing gradient reading as zeros), the history of (y, s) pairs
** feeds the two-loop recursion, the first iteration ever steps
** min(1, 1 / |g|_1) * lr, and the optional strong-Wolfe line search brackets
** and zooms with cubic interpolation (_strong_wolfe, _cubic_interpolate) with
** PyTorch's constants c1 = 1e-4, c2 = 0.9, tolerance 1e-9 and 25 evaluations.
** Expressions keep Python's evaluation order; Python's min / max (first
** argument unless the second is strictly smaller / larger) are py_min / py_max.
** All state is global to the optimizer and persists across steps.
*/
#include "optim/optim.h"

#include <math.h>
#include <string.h>

#define LS_C1 1e-4
#define LS_C2 0.9
#define LS_TOLERANCE_CHANGE 1e-9
#define LS_MAX 25

typedef struct lbfgs {
    tg_optim base;
    tg_lbfgs_opts opts;          /* max_eval resolved */
    int64_t n;                   /* elements over all parameters */
    double *d, *flat_grad, *prev_flat_grad;
    double **old_dirs, **old_stps, *ro, *al;   /* history_size slots, oldest first */
    int n_old;
    double t, H_diag, prev_loss;
    int64_t n_iter, func_evals;
    double *y, *s;               /* the candidate history pair (swapped into a slot) */
    double *x_init, *g0, *g_new, *g_prev, *bracket_g[2];   /* line search */
} lbfgs;

typedef struct closure_ref {
    tg_closure fn;
    void *user;
} closure_ref;

tg_lbfgs_opts tg_lbfgs_defaults(void)
{
    return (tg_lbfgs_opts){.lr = 1, .max_iter = 20, .max_eval = 0, .tolerance_grad = 1e-7,
                           .tolerance_change = 1e-9, .history_size = 100, .strong_wolfe = false};
}

static double py_min(double a, double b) { return b < a ? b : a; }
static double py_max(double a, double b) { return b > a ? b : a; }

static double dot(int64_t n, const double *x, const double *y)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += x[i] * y[i];
    return s;
}

/* max |x[i] * s| */
static double abs_max(int64_t n, const double *x, double s)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++)
        m = py_max(m, fabs(x[i] * s));
    return m;
}

/* ---------------------------------------------- the flat parameter vector */

static void gather_flat_grad(const lbfgs *o, double *out)
{
    for (int i = 0; i < o->base.n; i++) {
        tg_tensor *p = o->base.params[i], *g = tg_grad(p);
        size_t bytes = (size_t)p->numel * sizeof(double);
        if (g)
            memcpy(out, g->data, bytes);
        else
            memset(out, 0, bytes);
        out += p->numel;
    }
}

/* p = p + step * update, per element (p.add_(update, alpha=step)) */
static void add_grad(const lbfgs *o, double step, const double *update)
{
    for (int i = 0; i < o->base.n; i++) {
        tg_tensor *p = o->base.params[i];
        for (int64_t j = 0; j < p->numel; j++)
            p->data[j] = p->data[j] + step * update[j];
        update += p->numel;
    }
}

/* to_flat: copy the parameters into x; else copy x into the parameters */
static void copy_params(const lbfgs *o, double *x, bool to_flat)
{
    for (int i = 0; i < o->base.n; i++) {
        tg_tensor *p = o->base.params[i];
        size_t bytes = (size_t)p->numel * sizeof(double);
        memcpy(to_flat ? x : p->data, to_flat ? p->data : x, bytes);
        x += p->numel;
    }
}

/* loss and flat gradient at x + t d; the parameters are x again afterwards */
static tg_status directional_evaluate(lbfgs *o, const closure_ref *c, double t, double *f, double *g)
{
    add_grad(o, t, o->d);
    tg_status st = tg__optim_eval("tg_optim_step_closure", c->fn, c->user, f);
    gather_flat_grad(o, g);
    copy_params(o, o->x_init, false);
    return st;
}

/* --------------------------------------------------- strong-Wolfe search */

static double cubic_interpolate(double x1, double f1, double g1, double x2, double f2, double g2,
                                const double *bounds)
{
    double xmin_bound = x1 <= x2 ? x1 : x2, xmax_bound = x1 <= x2 ? x2 : x1;
    if (bounds) {
        xmin_bound = bounds[0];
        xmax_bound = bounds[1];
    }
    double d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2);
    double d2_square = d1 * d1 - g1 * g2;
    if (!(d2_square >= 0))
        return (xmin_bound + xmax_bound) / 2.;
    double d2 = sqrt(d2_square), min_pos;
    if (x1 <= x2)
        min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2));
    else
        min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
    return py_min(py_max(min_pos, xmin_bound), xmax_bound);
}

typedef struct wolfe {
    double f, gtd;                  /* at t = 0 */
    double t, f_new, gtd_new;
    double b[2], bf[2], bgtd[2];    /* bracket: steps, losses, directional derivatives */
    int low, high, evals, ls_iter;
    bool done;
} wolfe;

static void bracket_set(lbfgs *o, wolfe *w, int k, double t, double f, const double *g, double gtd)
{
    w->b[k] = t;
    w->bf[k] = f;
    w->bgtd[k] = gtd;
    memcpy(o->bracket_g[k], g, (size_t)o->n * sizeof(double));
}

static tg_status wolfe_eval(lbfgs *o, const closure_ref *c, wolfe *w)
{
    tg_status st = directional_evaluate(o, c, w->t, &w->f_new, o->g_new);
    w->evals++;
    w->gtd_new = dot(o->n, o->g_new, o->d);
    return st;
}

/* The bracketing phase of _strong_wolfe: ends with a bracket [b0, b1] or a
** point satisfying the conditions (done, b0 = b1). */
static tg_status wolfe_bracket(lbfgs *o, const closure_ref *c, wolfe *w)
{
    double t_prev = 0, f_prev = w->f, gtd_prev = w->gtd;
    memcpy(o->g_prev, o->g0, (size_t)o->n * sizeof(double));
    tg_status st = wolfe_eval(o, c, w);
    while (st == TG_OK && w->ls_iter < LS_MAX) {
        bool armijo_fails = w->f_new > (w->f + LS_C1 * w->t * w->gtd) ||
                            (w->ls_iter > 1 && w->f_new >= f_prev);
        if (!armijo_fails && fabs(w->gtd_new) <= -LS_C2 * w->gtd) {
            bracket_set(o, w, 0, w->t, w->f_new, o->g_new, w->gtd_new);
            bracket_set(o, w, 1, w->t, w->f_new, o->g_new, w->gtd_new);
            w->done = true;
            return TG_OK;
        }
        if (armijo_fails || w->gtd_new >= 0) {
            bracket_set(o, w, 0, t_prev, f_prev, o->g_prev, gtd_prev);
            bracket_set(o, w, 1, w->t, w->f_new, o->g_new, w->gtd_new);
            return TG_OK;
        }
        double bounds[2] = {w->t + 0.01 * (w->t - t_prev), w->t * 10}, tmp = w->t;
        w->t = cubic_interpolate(t_prev, f_prev, gtd_prev, w->t, w->f_new, w->gtd_new, bounds);
        t_prev = tmp;
        f_prev = w->f_new;
        memcpy(o->g_prev, o->g_new, (size_t)o->n * sizeof(double));
        gtd_prev = w->gtd_new;
        st = wolfe_eval(o, c, w);
        w->ls_iter++;
    }
    if (st == TG_OK) {   /* reached LS_MAX evaluations */
        bracket_set(o, w, 0, 0, w->f, o->g0, w->gtd);
        bracket_set(o, w, 1, w->t, w->f_new, o->g_new, w->gtd_new);
    }
    return st;
}

/* The next trial step inside the bracket, kept 0.1 of its length away from
** its ends when the interpolation lands too close twice or outside. */
static double zoom_trial(const wolfe *w, bool *insuf_progress)
{
    double t = cubic_interpolate(w->b[0], w->bf[0], w->bgtd[0], w->b[1], w->bf[1], w->bgtd[1], NULL);
    double bmax = py_max(w->b[0], w->b[1]), bmin = py_min(w->b[0], w->b[1]);
    double eps = 0.1 * (bmax - bmin);
    if (py_min(bmax - t, t - bmin) < eps) {
        if (*insuf_progress || t >= bmax || t <= bmin) {
            t = fabs(t - bmax) < fabs(t - bmin) ? bmax - eps : bmin + eps;
            *insuf_progress = false;
        } else {
            *insuf_progress = true;
        }
    } else {
        *insuf_progress = false;
    }
    return t;
}

static void order_bracket(wolfe *w)
{
    w->low = w->bf[0] <= w->bf[1] ? 0 : 1;
    w->high = 1 - w->low;
}

/* The zoom phase of _strong_wolfe: shrinks the bracket until the strong
** Wolfe conditions hold, the bracket is tiny or the evaluations run out. */
static tg_status wolfe_zoom(lbfgs *o, const closure_ref *c, wolfe *w)
{
    bool insuf_progress = false;
    double d_norm = abs_max(o->n, o->d, 1.0);
    order_bracket(w);
    while (!w->done && w->ls_iter < LS_MAX) {
        if (fabs(w->b[1] - w->b[0]) * d_norm < LS_TOLERANCE_CHANGE)
            break;
        w->t = zoom_trial(w, &insuf_progress);
        tg_status st = wolfe_eval(o, c, w);
        if (st != TG_OK)
            return st;
        w->ls_iter++;
        int lo = w->low, hi = w->high;
        if (w->f_new > (w->f + LS_C1 * w->t * w->gtd) || w->f_new >= w->bf[lo]) {
            bracket_set(o, w, hi, w->t, w->f_new, o->g_new, w->gtd_new);
            order_bracket(w);
            continue;
        }
        if (fabs(w->gtd_new) <= -LS_C2 * w->gtd)
            w->done = true;
        else if (w->gtd_new * (w->b[hi] - w->b[lo]) >= 0)   /* old low becomes the high end */
            bracket_set(o, w, hi, w->b[lo], w->bf[lo], o->bracket_g[lo], w->bgtd[lo]);
        bracket_set(o, w, lo, w->t, w->f_new, o->g_new, w->gtd_new);
    }
    return TG_OK;
}

/* Searches along o->d from the current parameters (loss *loss, gradient
** o->flat_grad, slope gtd) starting at step *t; on success *t, *loss and
** o->flat_grad describe the chosen point.  The parameters are left unchanged. */
static tg_status strong_wolfe(lbfgs *o, const closure_ref *c, double gtd, double *loss, double *t,
                              int *evals)
{
    wolfe w = {.f = *loss, .gtd = gtd, .t = *t};
    copy_params(o, o->x_init, true);
    memcpy(o->g0, o->flat_grad, (size_t)o->n * sizeof(double));
    tg_status st = wolfe_bracket(o, c, &w);
    if (st == TG_OK)
        st = wolfe_zoom(o, c, &w);
    *evals = w.evals;
    if (st != TG_OK)
        return st;
    *t = w.b[w.low];
    *loss = w.bf[w.low];
    memcpy(o->flat_grad, o->bracket_g[w.low], (size_t)o->n * sizeof(double));
    return TG_OK;
}

/* ------------------------------------------------------------- the step */

/* Takes the pair (o->y, o->s) into the history, dropping the oldest when full. */
static tg_status push_history(lbfgs *o, double ys)
{
    int h = o->opts.history_size;
    if (o->n_old == h) {
        double *dir = o->old_dirs[0], *stp = o->old_stps[0];
        memmove(o->old_dirs, o->old_dirs + 1, (size_t)(h - 1) * sizeof(double *));
        memmove(o->old_stps, o->old_stps + 1, (size_t)(h - 1) * sizeof(double *));
        memmove(o->ro, o->ro + 1, (size_t)(h - 1) * sizeof(double));
        o->n_old--;
        o->old_dirs[o->n_old] = dir;
        o->old_stps[o->n_old] = stp;
    }
    int k = o->n_old;
    if (!o->old_dirs[k])
        o->old_dirs[k] = tg__malloc((size_t)o->n * sizeof(double) + 1);
    if (!o->old_stps[k])
        o->old_stps[k] = tg__malloc((size_t)o->n * sizeof(double) + 1);
    if (!o->old_dirs[k] || !o->old_stps[k])
        return tg__error(TG_ERR_NOMEM, "tg_optim_step_closure: out of memory for the L-BFGS history");
    double *dir = o->old_dirs[k], *stp = o->old_stps[k];
    o->old_dirs[k] = o->y;
    o->old_stps[k] = o->s;
    o->y = dir;
    o->s = stp;
    o->ro[k] = 1. / ys;
    o->n_old++;
    return TG_OK;
}

/* The L-BFGS direction d = -H g from the history updated with the last step. */
static tg_status lbfgs_direction(lbfgs *o)
{
    int64_t n = o->n;
    for (int64_t j = 0; j < n; j++) {
        o->y[j] = o->flat_grad[j] - o->prev_flat_grad[j];
        o->s[j] = o->d[j] * o->t;
    }
    double ys = dot(n, o->y, o->s);
    if (ys > 1e-10) {
        double yy = dot(n, o->y, o->y);
        tg_status st = push_history(o, ys);
        if (st != TG_OK)
            return st;
        o->H_diag = ys / yy;
    }
    double *q = o->d;   /* q and then r share d's buffer, as PyTorch's one-buffer loop */
    for (int64_t j = 0; j < n; j++)
        q[j] = -o->flat_grad[j];
    for (int i = o->n_old - 1; i >= 0; i--) {
        o->al[i] = dot(n, o->old_stps[i], q) * o->ro[i];
        for (int64_t j = 0; j < n; j++)
            q[j] = q[j] + -o->al[i] * o->old_dirs[i][j];
    }
    for (int64_t j = 0; j < n; j++)
        q[j] = q[j] * o->H_diag;
    for (int i = 0; i < o->n_old; i++) {
        double be_i = dot(n, o->old_dirs[i], q) * o->ro[i];
        for (int64_t j = 0; j < n; j++)
            q[j] = q[j] + (o->al[i] - be_i) * o->old_stps[i][j];
    }
    return TG_OK;
}

/* Moves along d by a fixed step or a line search; *evals counts the closure
** calls, *opt_cond reports a gradient below tolerance_grad. */
static tg_status lbfgs_move(lbfgs *o, const closure_ref *c, int n_iter, double gtd, double *loss,
                            int *evals, bool *opt_cond)
{
    const tg_lbfgs_opts *op = &o->opts;
    *evals = 0;
    if (op->strong_wolfe) {
        tg_status st = strong_wolfe(o, c, gtd, loss, &o->t, evals);
        if (st != TG_OK)
            return st;
        add_grad(o, o->t, o->d);
        *opt_cond = abs_max(o->n, o->flat_grad, 1.0) <= op->tolerance_grad;
        return TG_OK;
    }
    add_grad(o, o->t, o->d);
    if (n_iter == op->max_iter)   /* no re-evaluation after the last iteration */
        return TG_OK;
    tg_status st = tg__optim_eval("tg_optim_step_closure", c->fn, c->user, loss);
    gather_flat_grad(o, o->flat_grad);
    *opt_cond = abs_max(o->n, o->flat_grad, 1.0) <= op->tolerance_grad;
    *evals = 1;
    return st;
}

/* One iteration's direction and initial step; false when the slope along d
** is above -tolerance_change (no descent left). */
static tg_status lbfgs_prepare(lbfgs *o, double loss, bool *descent, double *gtd)
{
    o->n_iter++;
    if (o->n_iter == 1) {
        for (int64_t j = 0; j < o->n; j++)
            o->d[j] = -o->flat_grad[j];
        o->n_old = 0;
        o->H_diag = 1;
    } else {
        tg_status st = lbfgs_direction(o);
        if (st != TG_OK)
            return st;
    }
    memcpy(o->prev_flat_grad, o->flat_grad, (size_t)o->n * sizeof(double));
    o->prev_loss = loss;
    if (o->n_iter == 1) {
        double g1 = 0;
        for (int64_t j = 0; j < o->n; j++)
            g1 += fabs(o->flat_grad[j]);
        o->t = py_min(1., 1. / g1) * o->opts.lr;
    } else {
        o->t = o->opts.lr;
    }
    *gtd = dot(o->n, o->flat_grad, o->d);
    *descent = !(*gtd > -o->opts.tolerance_change);
    return TG_OK;
}

static tg_status lbfgs_step_closure(tg_optim *base, tg_closure fn, void *user, double *orig_loss)
{
    lbfgs *o = (lbfgs *)base;
    const tg_lbfgs_opts *op = &o->opts;
    closure_ref c = {fn, user};
    double loss;
    tg_status st = tg__optim_eval("tg_optim_step_closure", fn, user, &loss);
    if (st != TG_OK)
        return st;
    *orig_loss = loss;
    int current_evals = 1;
    o->func_evals++;
    gather_flat_grad(o, o->flat_grad);
    if (abs_max(o->n, o->flat_grad, 1.0) <= op->tolerance_grad)
        return TG_OK;
    for (int n_iter = 1; n_iter <= op->max_iter; n_iter++) {
        bool descent, opt_cond = false;
        double gtd;
        int evals;
        if ((st = lbfgs_prepare(o, loss, &descent, &gtd)) != TG_OK)
            return st;
        if (!descent)
            break;
        if ((st = lbfgs_move(o, &c, n_iter, gtd, &loss, &evals, &opt_cond)) != TG_OK)
            return st;
        current_evals += evals;
        o->func_evals += evals;
        if (n_iter == op->max_iter || current_evals >= op->max_eval || opt_cond ||
            abs_max(o->n, o->d, o->t) <= op->tolerance_change ||
            fabs(loss - o->prev_loss) < op->tolerance_change)
            break;
    }
    return TG_OK;
}

/* ------------------------------------------------------ create and free */

static void lbfgs_free_state(tg_optim *base)
{
    lbfgs *o = (lbfgs *)base;
    for (int i = 0; o->old_dirs && i < o->opts.history_size; i++) {
        tg__free(o->old_dirs[i]);
        tg__free(o->old_stps[i]);
    }
    double *vectors[] = {o->d, o->flat_grad, o->prev_flat_grad, o->y, o->s, o->x_init,
                         o->g0, o->g_new, o->g_prev, o->bracket_g[0], o->bracket_g[1],
                         o->ro, o->al};
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++)
        tg__free(vectors[i]);
    tg__free(o->old_dirs);
    tg__free(o->old_stps);
}

static const tg__optim_kind lbfgs_kind = {
    .name = "L-BFGS", .step_closure = lbfgs_step_closure, .free_state = lbfgs_free_state,
    .lr_offset = offsetof(lbfgs, opts.lr)};

static bool lbfgs_alloc(lbfgs *o)
{
    size_t bytes = (size_t)o->n * sizeof(double) + 1, h = (size_t)o->opts.history_size;
    double **vectors[] = {&o->d, &o->flat_grad, &o->prev_flat_grad, &o->y, &o->s, &o->x_init,
                          &o->g0, &o->g_new, &o->g_prev, &o->bracket_g[0], &o->bracket_g[1]};
    bool ok = true;
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++)
        ok = (*vectors[i] = tg__malloc(bytes)) != NULL && ok;
    o->old_dirs = tg__calloc(h, sizeof(double *));
    o->old_stps = tg__calloc(h, sizeof(double *));
    o->ro = tg__calloc(h, sizeof(double));
    o->al = tg__calloc(h, sizeof(double));
    return ok && o->old_dirs && o->old_stps && o->ro && o->al;
}

static bool lbfgs_check(const tg_lbfgs_opts *opts, const char *fn)
{
    return tg__optim_check(opts->lr >= 0, fn, "lr", opts->lr, ">= 0") &&
           tg__optim_check(opts->max_iter >= 1, fn, "max_iter", opts->max_iter, ">= 1") &&
           tg__optim_check(opts->max_eval >= 0, fn, "max_eval", opts->max_eval, ">= 0 (0: max_iter * 5 / 4)") &&
           tg__optim_check(opts->tolerance_grad >= 0, fn, "tolerance_grad", opts->tolerance_grad, ">= 0") &&
           tg__optim_check(opts->tolerance_change >= 0, fn, "tolerance_change", opts->tolerance_change, ">= 0") &&
           tg__optim_check(opts->history_size >= 1, fn, "history_size", opts->history_size, ">= 1");
}

tg_optim *tg_lbfgs_new(const tg_params *params, const tg_lbfgs_opts *opts)
{
    static const char fn[] = "tg_lbfgs_new";
    if (!opts) {
        tg__null_arg(fn, "opts");
        return NULL;
    }
    if (!lbfgs_check(opts, fn))
        return NULL;
    lbfgs *o = (lbfgs *)tg__optim_new(&lbfgs_kind, sizeof(lbfgs), params, fn);
    if (!o)
        return NULL;
    o->opts = *opts;
    if (o->opts.max_eval == 0)
        o->opts.max_eval = o->opts.max_iter * 5 / 4;
    for (int i = 0; i < o->base.n; i++)
        o->n += o->base.params[i]->numel;
    if (!lbfgs_alloc(o)) {
        tg_optim_free(&o->base);
        tg__error(TG_ERR_NOMEM, "%s: out of memory", fn);
        return NULL;
    }
    return &o->base;
}
