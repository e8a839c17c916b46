/*
** tgfit's fitting: the two models, the loss, the training loop over
** tensorgrad's optimizers, and the least-squares reference.
**
** The loss is the mean squared error over the points of a step: all N points
** (full batch) or the B points of a minibatch.  Each rank computes
** sum over its points of (pred - y)^2, times 1 / count, and its gradient; one
** collective (par_grads) adds the ranks' gradients and losses in rank order,
** so every rank holds the gradient of the global loss and takes the same
** optimizer step.  Minibatches are B indices drawn with replacement from one
** seeded stream that every rank draws identically; a rank uses those in its
** own rows.  The result depends on the number of ranks only through where the
** sums over points are split.
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

/* This step's points on this rank (tensors of the current scope) and the global count. */
static int step_points(trainer *t, tg_tensor **x, tg_tensor **y, double *count)
{
    const dataset *d = t->d;
    if (t->o->batch == 0) {
        *x = d->x;
        *y = d->y;
        *count = (double)d->n_total;
        return 0;
    }
    int64_t m = 0, b = t->o->batch;
    *x = tg_zeros(1, &b);
    *y = tg_zeros(1, &b);
    if (!*x || !*y)
        return tgfit_fail("%s", tg_last_error());
    double *bx = tg_data(*x), *by = tg_data(*y);
    const double *dx = tg_data(d->x), *dy = tg_data(d->y);
    for (int64_t i = 0; i < b; i++) {
        int64_t g = tg_rng_randint(&t->rng, 0, d->n_total) - d->begin;
        if (g >= 0 && g < d->n) {
            bx[m] = dx[g];
            by[m++] = dy[g];
        }
    }
    *x = tg_from_array(1, &m, bx);
    *y = tg_from_array(1, &m, by);
    *count = (double)b;
    return *x && *y ? 0 : tgfit_fail("%s", tg_last_error());
}

/* One evaluation of the global loss and its gradient (the optimizers' closure). */
static tg_tensor *closure(void *user)
{
    trainer *t = user;
    tg_tensor *x = NULL, *y = NULL;
    double count = 1.0;
    tg_params_zero_grad(t->params);
    if (step_points(t, &x, &y, &count))
        goto failed;
    tg_tensor *loss = tg_affine(tg_mse_loss(model(t, x), y, TG_REDUCTION_SUM), 1.0 / count, 0.0);
    if (!loss || tg_backward(loss, NULL) != TG_OK) {
        tgfit_fail("%s", tg_last_error());
        goto failed;
    }
    double extra[2] = { tg_item(loss), progress_interrupted() ? 1.0 : 0.0 };
    if (par_grads(t->p, t->params, extra, 2))
        goto failed;
    t->r->evaluations++;
    t->r->points_done += count;
    t->stop = extra[1] != 0.0;
    if (t->o->batch == 0 && isfinite(extra[0]) && extra[0] < t->best_loss) {
        t->best_loss = extra[0];
        get_values(t, t->best);
    }
    return tg_scalar(extra[0]);
failed:
    t->failed = TGFIT_FAIL;
    return NULL;
}

/* The MSE over all points at the current values, without a graph. */
static int full_loss(trainer *t, double *out)
{
    bool was = tg_set_grad_enabled(false);
    tg_scope_begin();
    tg_tensor *sum = tg_mse_loss(model(t, t->d->x), t->d->y, TG_REDUCTION_SUM);
    double v = sum ? tg_item(sum) * (1.0 / (double)t->d->n_total) : NAN;
    tg_scope_end();
    tg_set_grad_enabled(was);
    if (!sum)
        return tgfit_fail("%s", tg_last_error());
    if (par_sum(t->p, &v, 1))
        return TGFIT_FAIL;
    *out = v;
    return 0;
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
    tg_tensor *c = NULL;
    r->lstsq_loss = r->cond = NAN;
    if (o->no_lstsq) {
        r->lstsq_note = "skipped (--no-lstsq)";
        return 0;
    }
    if (par_lstsq(t->p, t->d->x, t->d->y, degree, r->alpha, r->beta, &c, &r->cond)) {
        static char note[300];
        snprintf(note, sizeof note, "%s", tg_last_error());
        r->lstsq_note = note;
        r->lstsq_seconds = tgfit_now() - t0;
        if (o->optimizer == OPT_LSTSQ)
            return tgfit_fail("least squares failed: %s", note);
        return 0;
    }
    r->n_lstsq = degree + 1;
    r->lstsq_coef = malloc((size_t)r->n_lstsq * sizeof *r->lstsq_coef);
    if (!r->lstsq_coef) {
        tg_free(c);
        return tgfit_fail("out of memory");
    }
    memcpy(r->lstsq_coef, tg_data(c), (size_t)r->n_lstsq * sizeof *r->lstsq_coef);
    tg_free(c);
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

static int train(trainer *t)
{
    const options *o = t->o;
    fit_run *r = t->r;
    tg_optim *opt = make_optimizer(o, t->params, &r->lr);
    if (!opt)
        return tgfit_fail("%s", tg_last_error());
    progress *pg = &t->pg;
    int64_t cap = 0;
    double t0 = tgfit_now(), loss = NAN;
    int rc = 0;
    for (int64_t step = 0; step < o->steps; step++) {
        tg_scope_begin();
        tg_status s = tg_optim_step_closure(opt, closure, t, &loss);
        tg_scope_end();
        if (s != TG_OK || t->failed) {
            rc = t->failed ? t->failed : tgfit_fail("%s", tg_last_error());
            break;
        }
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
        set_values(&t, r->lstsq_coef);
        r->lr = NAN;
        bool lowest;                           /* a signal during least squares: the solution is the best fit */
        r->interrupted = par_failed(p, progress_interrupted(), &lowest);
    } else if (rc == 0) {
        rc = train(&t);
    }
    double final_loss = NAN;
    if (rc == 0)
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
    free(r->loss_hist);
    memset(r, 0, sizeof *r);
}
