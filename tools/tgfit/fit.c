/* SPDX-License-Identifier: MIT */
/*
** tgfit's fitting: the two models, the loss, the training loop over
** tensorgrad's optimizers, and the least-squares reference.
**
** The loss is the mean squared error over the points of a step: all N points
** (full batch) or the B points of a minibatch, with weights w as numpy's
** (w (pred - y))^2.  Full batch streams the rank's rows in blocks of
** TGFIT_BLOCK points (a Legendre series reads them in place through
** tg_legendre_series_mse_points, one fused pass per block; p3 makes
** block-sized copies, never the whole column): each
** block's loss sum and gradient is one leaf of the fixed tree of tree.c, so
** every rank holds the same bits of the global loss and gradient, whatever
** the number of ranks or threads, and takes the same optimizer step.
** Minibatches are B indices drawn with replacement from one seeded stream
** that every rank draws identically; the ranks pool the drawn points (one
** exact sum) and each computes the whole minibatch's gradient.
*/
#include "tgfit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct trainer {
    const options *o;
    const par *p;
    const dataset *d;
    fit_run *r;
    tg_params *params;
    tg_tensor *coef;            /* legendre: [degree + 1] */
    tg_tensor *abcd[4];         /* p3: a, b, c, d, 0-d */
    int n_values;
    double *best, best_loss;
    tg_rng rng;
    bool stop;
    int failed;
    progress pg;                /* its loss is best_loss (full batch), as the result reports */
} trainer;

static tg_tensor *model(const trainer *t, tg_tensor *x)
{
    if (t->o->model == MODEL_LEGENDRE)
        return tg_legendre_series(t->coef, x, t->r->alpha, t->r->beta);
    tg_tensor *const *v = t->abcd;     /* a + b * P3(c + d x) */
    return tg_add(v[0], tg_mul(v[1], tg_legendre(tg_add(v[2], tg_mul(v[3], x)), 3)));
}

static void get_values(const trainer *t, double *out)
{
    if (t->o->model == MODEL_LEGENDRE)
        memcpy(out, tg_data(t->coef), (size_t)t->n_values * sizeof *out);
    else
        for (int i = 0; i < 4; i++)
            out[i] = tg_data(t->abcd[i])[0];
}

static void set_values(trainer *t, const double *v)
{
    if (t->o->model == MODEL_LEGENDRE)
        memcpy(tg_data(t->coef), v, (size_t)t->n_values * sizeof *v);
    else
        for (int i = 0; i < 4; i++)
            tg_data(t->abcd[i])[0] = v[i];
}

/* The step's loss with weights: sum (w (pred - y))^2 (numpy's w multiplies the
** residual).  A Legendre series is one fused Function (the series, the loss and
** its gradient in one pass over the block); p3 composes its ops. */
static tg_tensor *block_loss(const trainer *t, tg_tensor *x, tg_tensor *y, tg_tensor *w)
{
    if (t->o->model == MODEL_LEGENDRE)
        return tg_legendre_series_mse(t->coef, x, y, w, t->r->alpha, t->r->beta, TG_REDUCTION_SUM);
    tg_tensor *pred = model(t, x);
    if (w)
        return tg_mse_loss(tg_mul(pred, w), tg_mul(y, w), TG_REDUCTION_SUM);
    return tg_mse_loss(pred, y, TG_REDUCTION_SUM);
}

/* Points [lo, lo + m) of this rank as new tensors of the current scope (block-sized copies). */
static int block_tensors(const dataset *d, int64_t lo, int64_t m, tg_tensor **x, tg_tensor **y, tg_tensor **w)
{
    *x = tg_empty(1, &m);     /* every element written below */
    *y = tg_empty(1, &m);
    *w = d->w ? tg_empty(1, &m) : NULL;
    if (!*x || !*y || (d->w && !*w))
        return tgfit_fail("%s", tg_last_error());
    double *bx = tg_data(*x), *by = tg_data(*y), *bw = *w ? tg_data(*w) : NULL;
    for (int64_t i = 0; i < m; i++) {
        bx[i] = data_x(d, lo + i);
        by[i] = data_y(d, lo + i);
        if (bw)
            bw[i] = data_w(d, lo + i);
    }
    return 0;
}

/* v[0] = the loss sum of a block (the loss tensor made by block_loss, or
** NULL after an error), v[1 ..] its gradient (grad false: the loss only). */
static int block_eval(trainer *t, tg_tensor *loss, bool grad, double *v)
{
    if (!loss || (grad && tg_backward(loss, NULL) != TG_OK))
        return tgfit_fail("%s", tg_last_error());
    v[0] = tg_item(loss);
    for (int i = 0, at = 1; grad && i < tg_params_count(t->params); i++) {
        tg_tensor *g = tg_grad(tg_params_get(t->params, i));
        int64_t n = tg_numel(tg_params_get(t->params, i));
        for (int64_t j = 0; j < n; j++)
            v[at++] = g ? tg_data(g)[j] : 0.0;
    }
    return 0;
}

/* The sum over all ranks' points of the loss (and its gradient) through the
** fixed tree of TGFIT_BLOCK blocks: out[0] the loss sum, out[1 ..] the gradient. */
static int full_sums(trainer *t, bool grad, double *out)
{
    const dataset *d = t->d;
    int m = 1 + (grad ? t->n_values : 0);
    sumtree *tree = sumtree_new(m);
    double *v = malloc((size_t)m * sizeof *v);
    int rc = tree && v ? 0 : tgfit_fail("out of memory");
    bool was = tg_set_grad_enabled(grad);
    for (int64_t lo = 0; rc == 0 && lo < d->n; lo += TGFIT_BLOCK) {
        int64_t n = d->n - lo < TGFIT_BLOCK ? d->n - lo : TGFIT_BLOCK;
        tg_scope_begin();
        if (grad)
            tg_params_zero_grad(t->params);
        if (t->o->model == MODEL_LEGENDRE) {   /* the block read in place: one fused pass */
            tg_points pts = {.x = d->x + lo * d->stride, .y = d->y + lo * d->stride,
                             .w = d->w ? d->w + lo * d->stride : NULL, .n = n,
                             .x_stride = d->stride, .y_stride = d->stride, .w_stride = d->stride};
            rc = block_eval(t, tg_legendre_series_mse_points(t->coef, &pts, t->r->alpha, t->r->beta,
                                                             TG_REDUCTION_SUM), grad, v);
        } else {
            tg_tensor *x, *y, *w;
            rc = block_tensors(d, lo, n, &x, &y, &w);
            if (rc == 0)
                rc = block_eval(t, block_loss(t, x, y, w), grad, v);
        }
        tg_scope_end();
        if (rc == 0)
            rc = sumtree_push(tree, (d->begin + lo) / TGFIT_BLOCK, v);
    }
    tg_set_grad_enabled(was);
    bool report;
    if (par_failed(t->p, rc != 0, &report))
        rc = report ? TGFIT_FAIL_HERE : TGFIT_FAIL_QUIET;
    else
        rc = sumtree_total(t->p, tree, out);
    sumtree_free(tree);
    free(v);
    return rc;
}

/* Minibatch: B indices drawn from one seeded stream on every rank; each rank
** fills in the points it holds, one exact sum (one nonzero per slot) gives
** every rank the whole minibatch, and each computes the same gradient. */
static int minibatch_sums(trainer *t, double *out)
{
    const dataset *d = t->d;
    const int64_t b = t->o->batch;
    double *buf = calloc((size_t)(3 * b), sizeof *buf);
    if (!buf)
        return tgfit_fail("out of memory for a minibatch of %lld points", (long long)b);
    for (int64_t i = 0; i < b; i++) {
        int64_t g = tg_rng_randint(&t->rng, 0, d->n_total) - d->begin;
        if (g >= 0 && g < d->n) {
            buf[i] = data_x(d, g);
            buf[b + i] = data_y(d, g);
            buf[2 * b + i] = data_w(d, g);
        }
    }
    int rc = par_sum(t->p, buf, 3 * b);
    tg_scope_begin();
    tg_tensor *x = rc == 0 ? tg_from_array(1, &b, buf) : NULL, *y = x ? tg_from_array(1, &b, buf + b) : NULL;
    tg_tensor *w = y && d->w ? tg_from_array(1, &b, buf + 2 * b) : NULL;
    if (rc == 0 && (!x || !y || (d->w && !w)))
        rc = tgfit_fail("%s", tg_last_error());
    if (rc == 0) {
        tg_params_zero_grad(t->params);
        rc = block_eval(t, block_loss(t, x, y, w), true, out);
    }
    tg_scope_end();
    free(buf);
    return rc;
}

/* Every parameter gets a gradient tensor (a rank without points has none yet). */
static int ensure_grads(trainer *t)
{
    for (int i = 0; i < tg_params_count(t->params); i++) {
        tg_tensor *p = tg_params_get(t->params, i);
        if (tg_grad(p))
            continue;
        tg_scope_begin();
        tg_status s = tg_backward(tg_affine(tg_sum(p), 0.0, 0.0), NULL);
        tg_scope_end();
        if (s != TG_OK)
            return tgfit_fail("%s", tg_last_error());
    }
    return 0;
}

/* One evaluation of the global loss and its gradient (the optimizers' closure). */
static tg_tensor *closure(void *user)
{
    trainer *t = user;
    const double count = t->o->batch == 0 ? (double)t->d->n_total : (double)t->o->batch;
    double *sums = malloc((size_t)(1 + t->n_values) * sizeof *sums), stop = progress_interrupted() ? 1.0 : 0.0;
    int rc = sums ? 0 : tgfit_fail("out of memory");
    if (rc == 0)
        rc = t->o->batch == 0 ? full_sums(t, true, sums) : minibatch_sums(t, sums);
    if (rc == 0)
        rc = ensure_grads(t);
    if (rc == 0)
        rc = par_sum(t->p, &stop, 1);            /* exact: 0 / 1 flags */
    if (rc) {
        free(sums);
        t->failed = rc;
        return NULL;
    }
    for (int i = 0, at = 1; i < tg_params_count(t->params); i++) {
        tg_tensor *g = tg_grad(tg_params_get(t->params, i));
        for (int64_t j = 0; j < tg_numel(g); j++)
            tg_data(g)[j] = sums[at++] * (1.0 / count);
    }
    double loss = sums[0] * (1.0 / count);
    free(sums);
    t->r->evaluations++;
    t->r->points_done += count;
    t->stop = stop != 0.0;
    if (t->o->batch == 0 && isfinite(loss) && loss < t->best_loss) {
        t->best_loss = loss;
        get_values(t, t->best);
    }
    return tg_scalar(loss);
}

/* The MSE over all points at the current values, without a graph. */
static int full_loss(trainer *t, double *out)
{
    double sum;
    int rc = full_sums(t, false, &sum);
    if (rc == 0)
        *out = sum * (1.0 / (double)t->d->n_total);
    return rc;
}

static tg_optim *make_optimizer(const options *o, const tg_params *params, double *lr)
{
    switch (o->optimizer) {
    case OPT_SGD: {
        tg_sgd_opts so = tg_sgd_defaults(*lr = o->lr > 0 ? o->lr : 0.1);
        return tg_sgd_new(params, &so);
    }
    case OPT_LBFGS: {
        tg_lbfgs_opts lo = tg_lbfgs_defaults();
        lo.lr = *lr = o->lr > 0 ? o->lr : 1.0;
        lo.tolerance_grad = 1e-13;
        lo.tolerance_change = 1e-15;
        lo.strong_wolfe = true;
        return tg_lbfgs_new(params, &lo);
    }
    default: {
        tg_adam_opts ao = tg_adam_defaults();
        ao.lr = *lr = o->lr > 0 ? o->lr : 1e-2;
        return tg_adam_new(params, &ao);
    }
    }
}

static int trainer_init(trainer *t, const options *o, const par *p, const dataset *d, fit_run *r)
{
    memset(t, 0, sizeof *t);
    t->o = o;
    t->p = p;
    t->d = d;
    t->r = r;
    t->best_loss = INFINITY;
    tg_rng_seed(&t->rng, o->seed);
    t->params = tg_params_new();
    if (!t->params)
        return tgfit_fail("out of memory");
    tg_status s = TG_OK;
    if (o->model == MODEL_LEGENDRE) {
        int64_t k = (int64_t)o->degree + 1;
        t->n_values = (int)k;
        t->coef = tg_zeros(1, &k);
        s = t->coef ? tg_params_add(t->params, "coef", t->coef) : tg_last_status();
    } else {
        static const double init[4] = { 0.0, -1.0, 0.0, 0.3 };   /* the tutorial's start */
        static const char *const names[4] = { "a", "b", "c", "d" };
        t->n_values = 4;
        for (int i = 0; i < 4 && s == TG_OK; i++) {
            t->abcd[i] = tg_scalar(init[i]);
            s = t->abcd[i] ? tg_params_add(t->params, names[i], t->abcd[i]) : tg_last_status();
        }
    }
    for (int i = 0; s == TG_OK && i < tg_params_count(t->params); i++)
        s = tg_set_requires_grad(tg_params_get(t->params, i), true);
    t->best = calloc((size_t)t->n_values, sizeof *t->best);
    r->coef = calloc((size_t)t->n_values, sizeof *r->coef);
    r->n_coef = t->n_values;
    if (s != TG_OK || !t->best || !r->coef)
        return tgfit_fail("%s", s != TG_OK ? tg_last_error() : "out of memory");
    return 0;
}

static void trainer_free(trainer *t)
{
    tg_params_free(t->params);
    tg_free(t->coef);
    for (int i = 0; i < 4; i++)
        tg_free(t->abcd[i]);
    free(t->best);
}

/* The least-squares reference (and the solution for --optimizer lstsq). */
static int reference(trainer *t)
{
    const options *o = t->o;
    fit_run *r = t->r;
    int degree = o->model == MODEL_LEGENDRE ? o->degree : 3;
    double t0 = tgfit_now();
    r->lstsq_loss = r->cond = r->lstsq_rss = NAN;
    if (o->no_lstsq) {
        r->lstsq_note = "skipped (--no-lstsq)";
        return 0;
    }
    const dataset *d = t->d;
    tg_points pts = {.x = d->x, .y = d->y, .w = d->w, .n = d->n, .first = d->begin,
                     .x_stride = d->stride, .y_stride = d->stride, .w_stride = d->stride};
    tg_lstsq_opts lo = {.stop = progress_stop_flag()};
    tg_lstsq_result res;
    if (par_lstsq(t->p, &pts, degree, r->alpha, r->beta, &lo, &res)) {
        static char note[300];
        snprintf(note, sizeof note, "%s", tg_last_error());
        r->lstsq_note = note;
        r->lstsq_seconds = tgfit_now() - t0;
        tg_lstsq_result_free(&res);
        bool lowest;                              /* collective: every rank's par_lstsq failed alike */
        if (par_failed(t->p, progress_interrupted(), &lowest)) {
            r->interrupted = true;                /* SIGINT / SIGTERM stopped the streaming QR */
            r->lstsq_note = "interrupted before the least squares finished";
            return 0;
        }
        if (o->optimizer == OPT_LSTSQ)
            return tgfit_fail("least squares failed: %s", note);
        return 0;
    }
    r->n_lstsq = degree + 1;
    r->cond = res.cond;
    r->lstsq_rss = res.rss;
    r->lstsq_rank = res.rank;
    snprintf(r->lstsq_warning, sizeof r->lstsq_warning, "%s", res.rank_deficient ? res.warning : "");
    r->lstsq_coef = res.coef;                     /* malloc'd by the library: ours now */
    r->lstsq_cov = res.cov;
    r->lstsq_se = res.se;
    r->lstsq_seconds = tgfit_now() - t0;
    if (o->model != MODEL_LEGENDRE) {             /* the best cubic, as a Legendre series */
        trainer cubic = *t;
        options o3 = *o;
        o3.model = MODEL_LEGENDRE;
        o3.degree = 3;
        int64_t k = 4;
        cubic.o = &o3;
        cubic.coef = tg_from_array(1, &k, r->lstsq_coef);
        int rc = cubic.coef ? full_loss(&cubic, &r->lstsq_loss) : tgfit_fail("%s", tg_last_error());
        tg_free(cubic.coef);
        return rc;
    }
    set_values(t, r->lstsq_coef);
    int rc = full_loss(t, &r->lstsq_loss);
    memset(tg_data(t->coef), 0, (size_t)t->n_values * sizeof(double));
    return rc;
}

/* Appends the step's loss, the history growing by doubling (--steps may be
** far more than a run gets to before Ctrl-C: nothing is reserved for them). */
static int history_push(fit_run *r, int64_t *cap, double loss)
{
    if (r->n_hist == *cap) {
        int64_t grown = *cap ? *cap * 2 : 1024;
        double *h = realloc(r->loss_hist, (size_t)grown * sizeof *h);
        if (!h)
            return tgfit_fail("out of memory for the loss history of %lld steps", (long long)grown);
        r->loss_hist = h;
        *cap = grown;
    }
    r->loss_hist[r->n_hist++] = loss;
    return 0;
}

/* --tol: true once the loss has not improved on its best by more than tol
** (relative) for TOL_PATIENCE steps in a row.  Every rank sees the same losses. */
#define TOL_PATIENCE 10
static bool tol_reached(const options *o, double *best, int64_t *since, double loss)
{
    if (!(o->tol > 0))
        return false;
    if (loss < *best - o->tol * fabs(*best) || !isfinite(*best)) {
        *best = loss;
        *since = 0;
        return false;
    }
    if (loss < *best)
        *best = loss;
    return ++*since >= TOL_PATIENCE;
}

/* One optimizer step: the closure evaluates the loss and gradient of the step's points. */
static int one_step(trainer *t, tg_optim *opt, double *loss)
{
    tg_scope_begin();
    tg_status s = tg_optim_step_closure(opt, closure, t, loss);
    tg_scope_end();
    if (s != TG_OK || t->failed)
        return t->failed ? t->failed : tgfit_fail("%s", tg_last_error());
    return 0;
}

static int train(trainer *t)
{
    const options *o = t->o;
    fit_run *r = t->r;
    tg_optim *opt = make_optimizer(o, t->params, &r->lr);
    if (!opt)
        return tgfit_fail("%s", tg_last_error());
    progress *pg = &t->pg;
    int64_t cap = 0, tol_since = 0;
    double t0 = tgfit_now(), loss = NAN, tol_best = INFINITY;
    int rc = 0;
    for (int64_t step = 0; step < o->steps; step++) {
        if ((rc = one_step(t, opt, &loss)) != 0)
            break;
        if ((rc = history_push(r, &cap, loss)) != 0)
            break;
        r->steps_done = step + 1;
        progress_step(pg, step + 1, o->batch == 0 ? fmin(loss, t->best_loss) : loss, r->points_done);
        if (!isfinite(loss)) {
            r->diverged = true;
            break;
        }
        if (t->stop) {
            r->interrupted = true;
            break;
        }
        if (tol_reached(o, &tol_best, &tol_since, loss)) {
            r->converged = true;
            break;
        }
    }
    r->fit_seconds = tgfit_now() - t0;
    tg_optim_free(opt);
    return rc;
}

int fit_run_all(const options *o, const par *p, const dataset *d, fit_run *r)
{
    trainer t;
    memset(r, 0, sizeof *r);
    if (tg_legendre_range_map(d->xlo, d->xhi, &r->alpha, &r->beta) != TG_OK)
        return tgfit_fail("cannot map the range of x [%.17g, %.17g] onto [-1, 1]: the x values must differ",
                          d->xlo, d->xhi);
    int rc = trainer_init(&t, o, p, d, r);
    progress_begin(&t.pg, p->rank == 0 && !o->quiet, o->optimizer == OPT_LSTSQ ? 0 : o->steps);
    if (rc == 0)
        rc = reference(&t);
    if (rc == 0 && o->optimizer == OPT_LSTSQ) {
        if (r->lstsq_coef)                     /* NULL: a signal stopped the QR; the zero series stays */
            set_values(&t, r->lstsq_coef);
        r->lr = NAN;
        bool lowest;                           /* a signal after the QR: the solution is the best fit */
        r->interrupted = par_failed(p, progress_interrupted(), &lowest) || r->interrupted;
    } else if (rc == 0 && !r->interrupted) {
        rc = train(&t);
    }
    double final_loss = NAN;
    if (rc == 0 && (o->optimizer == OPT_LSTSQ || (r->interrupted && r->steps_done == 0)))
        final_loss = r->lstsq_loss;                /* no second pass over the data (NaN without a solution) */
    else if (rc == 0)
        rc = full_loss(&t, &final_loss);
    if (rc == 0) {
        /* full batch: the best values any evaluation saw, else the last ones */
        if (o->batch == 0 && t.best_loss < final_loss) {
            memcpy(r->coef, t.best, (size_t)t.n_values * sizeof *r->coef);
            r->loss = t.best_loss;
        } else {
            get_values(&t, r->coef);
            r->loss = final_loss;
        }
        progress_end(&t.pg, r->steps_done, r->loss, r->points_done);
    }
    trainer_free(&t);
    return rc;
}

struct fit_stepper {
    trainer t;
    tg_optim *opt;
};

fit_stepper *fit_stepper_new(const options *o, const par *p, const dataset *d, fit_run *r)
{
    fit_stepper *s = calloc(1, sizeof *s);
    if (!s) {
        tgfit_fail("out of memory");
        return NULL;
    }
    memset(r, 0, sizeof *r);
    int rc = tg_legendre_range_map(d->xlo, d->xhi, &r->alpha, &r->beta) == TG_OK
                 ? trainer_init(&s->t, o, p, d, r) : tgfit_fail("%s", tg_last_error());
    if (rc == 0 && !(s->opt = make_optimizer(o, s->t.params, &r->lr)))
        rc = tgfit_fail("%s", tg_last_error());
    if (rc != 0) {
        fit_stepper_free(s);
        return NULL;
    }
    return s;
}

int fit_stepper_step(fit_stepper *s, double *loss)
{
    return one_step(&s->t, s->opt, loss);
}

void fit_stepper_state(const fit_stepper *s, double *values, double *grad)
{
    get_values(&s->t, values);
    for (int i = 0, at = 0; grad && i < tg_params_count(s->t.params); i++) {
        tg_tensor *g = tg_grad(tg_params_get(s->t.params, i));
        for (int64_t j = 0; j < tg_numel(tg_params_get(s->t.params, i)); j++)
            grad[at++] = g ? tg_data(g)[j] : NAN;
    }
}

void fit_stepper_free(fit_stepper *s)
{
    if (!s)
        return;
    tg_optim_free(s->opt);
    trainer_free(&s->t);
    free(s);
}

int fit_predict(const options *o, const fit_run *r, const double *x, int64_t n, double *y)
{
    bool was = tg_set_grad_enabled(false);
    tg_scope_begin();
    tg_tensor *xt = tg_from_array(1, &n, x), *pred;
    if (o->model == MODEL_LEGENDRE) {
        int64_t k = r->n_coef;
        pred = tg_legendre_series(tg_from_array(1, &k, r->coef), xt, r->alpha, r->beta);
    } else {
        const double *v = r->coef;   /* a + b * P3(c + d x) */
        pred = tg_affine(tg_legendre(tg_affine(xt, v[3], v[2]), 3), v[1], v[0]);
    }
    if (pred)
        memcpy(y, tg_data(pred), (size_t)n * sizeof *y);
    tg_scope_end();
    tg_set_grad_enabled(was);
    return pred ? 0 : tgfit_fail("%s", tg_last_error());
}

void fit_run_free(fit_run *r)
{
    free(r->coef);
    free(r->lstsq_coef);
    free(r->lstsq_cov);
    free(r->lstsq_se);
    free(r->loss_hist);
    memset(r, 0, sizeof *r);
}
