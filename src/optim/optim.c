/* SPDX-License-Identifier: MIT */
/*
** The optimizer object shared by every kind (src/optim/optim.h): creation with
** references to the parameters, per-parameter state buffers, the public step /
** step_closure / zero_grad / free entry points that dispatch through the
** kind's vtable, and closure evaluation.  The update arithmetic lives in one
** file per kind (sgd.c, rmsprop.c, adam.c, lbfgs.c).
*/
#include "optim/optim.h"
#include "kernels/parallel.h"

#include <math.h>
#include <string.h>

tg_optim *tg__optim_new(const tg__optim_kind *kind, size_t size, const tg_params *params,
                        const char *fn)
{
    if (!params) {
        tg__null_arg(fn, "params");
        return NULL;
    }
    int n = tg_params_count(params);
    if (n <= 0) {
        tg__error(TG_ERR_ARG, "%s: the parameter list is empty", fn);
        return NULL;
    }
    tg_optim *o = tg__calloc(1, size);
    if (!o)
        goto nomem;
    o->kind = kind;
    o->params = tg__calloc((size_t)n, sizeof *o->params);
    o->state = tg__calloc((size_t)n, sizeof *o->state);
    o->steps = tg__calloc((size_t)n, sizeof *o->steps);
    if (!o->params || !o->state || !o->steps)
        goto nomem;
    for (int i = 0; i < n; i++) {
        tg_tensor *t = tg_params_get(params, i);
        TG_ASSERT(t);
        o->params[o->n++] = tg__tensor_ref(t);
    }
    return o;
nomem:
    tg_optim_free(o);
    tg__error(TG_ERR_NOMEM, "%s: out of memory", fn);
    return NULL;
}

double *tg__optim_state(tg_optim *o, int i, int n_buf, bool *fresh)
{
    *fresh = false;
    if (o->state[i])
        return o->state[i];
    int64_t numel = o->params[i]->numel;
    o->state[i] = tg__calloc((size_t)(numel > 0 ? numel : 1) * (size_t)n_buf, sizeof(double));
    if (!o->state[i]) {
        tg__error(TG_ERR_NOMEM, "%s: out of memory for the state of parameter %d", o->kind->name, i);
        return NULL;
    }
    *fresh = true;
    return o->state[i];
}

double *tg__optim_buffers(tg_optim *o, int i, int n_buf, double **st, bool *fresh)
{
    double *b = tg__optim_state(o, i, n_buf, fresh);
    int64_t n = o->params[i]->numel;
    for (int k = 0; k < n_buf; k++)
        st[k] = b ? b + k * n : NULL;
    return b;
}

/* One parameter's update, sliced over the kernel threads: each element is
** updated alone, so the bits do not depend on the slicing. */
typedef struct update_job {
    const tg_optim *o;
    const double *s;
    double *p;
    const double *grad;
    double *const *st;
    int n_st;
} update_job;

static void update_slice(void *ctx, int64_t lo, int64_t hi)
{
    const update_job *j = ctx;
    double *st[TG__OPTIM_STATES] = {0};
    for (int b = 0; b < j->n_st; b++)
        st[b] = j->st[b] + lo;
    j->o->kind->update->block(j->o, j->s, hi - lo, j->p + lo, j->grad + lo, st);
}

tg_status tg__optim_step_update(tg_optim *o)
{
    const tg__optim_update *u = o->kind->update;
    for (int i = 0; i < o->n; i++) {
        tg_tensor *p = o->params[i], *g = tg_grad(p);
        if (!g)
            continue;
        double *st[TG__OPTIM_STATES] = {0}, s[TG__OPTIM_SCALARS];
        int n_st;
        if (u->state(o, i, st, &n_st) != TG_OK)
            return TG_ERR_NOMEM;
        u->begin(o, i, s);
        update_job job = {o, s, p->data, g->data, st, n_st};
        tg__par_run(tg__par_team(4 * p->numel), p->numel, 8, update_slice, &job);
    }
    return TG_OK;
}

tg_status tg__optim_eval(const char *fn, tg_closure closure, void *user, double *loss)
{
    bool prev = tg_set_grad_enabled(true);
    tg_scope_begin();
    tg_status st = TG_OK;
    tg_tensor *l = closure(user);
    if (!l)
        st = tg_last_status() != TG_OK ? tg_last_status()
                                        : tg__error(TG_ERR_ARG, "%s: the closure returned NULL", fn);
    else if (tg_numel(l) != 1)
        st = tg__error(TG_ERR_ARG, "%s: the closure returned %lld elements, not one loss", fn,
                       (long long)tg_numel(l));
    else
        *loss = tg_item(l);
    tg_scope_end();
    tg_set_grad_enabled(prev);
    return st;
}

bool tg__optim_check(bool ok, const char *fn, const char *what, double v, const char *rule)
{
    if (!ok)
        tg__error(TG_ERR_ARG, "%s: %s is %g (must be %s)", fn, what, v, rule);
    return ok;
}

bool tg__optim_check_adam(const char *fn, double lr, double eps, double beta1, double beta2,
                          double weight_decay)
{
    return tg__optim_check(lr >= 0, fn, "lr", lr, ">= 0") && tg__optim_check(eps >= 0, fn, "eps", eps, ">= 0") &&
           tg__optim_check(beta1 >= 0 && beta1 < 1, fn, "beta1", beta1, "in [0, 1)") &&
           tg__optim_check(beta2 >= 0 && beta2 < 1, fn, "beta2", beta2, "in [0, 1)") &&
           tg__optim_check(weight_decay >= 0, fn, "weight_decay", weight_decay, ">= 0");
}

tg_status tg_optim_step(tg_optim *o)
{
    tg__lazy_sync();   /* the update writes parameters pending ops may read */
    if (!o)
        return tg__null_arg("tg_optim_step", "o");
    if (!o->kind->step)
        return tg__error(TG_ERR_STATE, "tg_optim_step: %s needs a closure (tg_optim_step_closure)",
                         o->kind->name);
    return o->kind->step(o);
}

tg_status tg_optim_step_closure(tg_optim *o, tg_closure closure, void *user, double *loss)
{
    tg__lazy_sync();
    if (!o)
        return tg__null_arg("tg_optim_step_closure", "o");
    if (!closure)
        return tg__null_arg("tg_optim_step_closure", "closure");
    double first = NAN;
    tg_status st;
    if (o->kind->step_closure) {
        st = o->kind->step_closure(o, closure, user, &first);
    } else {
        st = tg__optim_eval("tg_optim_step_closure", closure, user, &first);
        if (st == TG_OK)
            st = o->kind->step(o);
    }
    if (loss)
        *loss = first;
    return st;
}

void tg_optim_zero_grad(tg_optim *o)
{
    if (!o)
        return;
    for (int i = 0; i < o->n; i++)
        tg_zero_grad(o->params[i]);
}

void tg_optim_free(tg_optim *o)
{
    if (!o)
        return;
    if (o->kind && o->kind->free_state)
        o->kind->free_state(o);
    for (int i = 0; i < o->n; i++) {
        tg__free(o->state[i]);
        tg__tensor_unref(o->params[i]);
    }
    tg__free(o->params);
    tg__free(o->state);
    tg__free(o->steps);
    tg__free(o);
}
