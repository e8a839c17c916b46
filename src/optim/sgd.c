/* SPDX-License-Identifier: MIT */
/*
** SGD with momentum, dampening, Nesterov momentum, weight decay and maximize,
** as torch.optim.SGD (PyTorch 1.13, _single_tensor_sgd).  Per element, in
** PyTorch's order of operations (a.add(b, alpha=s) is a + s * b):
**   d_p = maximize ? -grad : grad;   d_p = d_p + wd * p           (wd != 0)
**   buf = d_p on the first step, else buf * momentum + (1 - dampening) * d_p
**   d_p = nesterov ? d_p + momentum * buf : buf                    (momentum != 0)
**   p = p + (-lr) * d_p
*/
#include "optim/optim.h"

#include <string.h>

typedef struct sgd {
    tg_optim base;
    tg_sgd_opts opts;
} sgd;

tg_sgd_opts tg_sgd_defaults(double lr)
{
    return (tg_sgd_opts){.lr = lr};
}

/* the per-step scalars */
enum { S_LR, S_FIRST, S_MOMENTUM, S_ONE_MINUS_DAMPENING, S_WD };

/* The momentum buffer, when there is momentum. */
static tg_status sgd_state(tg_optim *base, int i, double **st, int *n_st)
{
    bool fresh;
    *n_st = ((sgd *)base)->opts.momentum != 0;
    return !*n_st || (st[0] = tg__optim_state(base, i, 1, &fresh)) ? TG_OK : TG_ERR_NOMEM;
}

/* first: the buffer's first use (no update made yet) */
static void sgd_begin(tg_optim *base, int i, double *s)
{
    const tg_sgd_opts *op = &((sgd *)base)->opts;
    s[S_LR] = op->lr;
    s[S_FIRST] = base->steps[i] == 0;
    s[S_MOMENTUM] = op->momentum;
    s[S_ONE_MINUS_DAMPENING] = 1 - op->dampening;
    s[S_WD] = op->weight_decay;
    base->steps[i]++;
}

/* n elements of one parameter p with gradient grad; st[0] is the momentum
** buffer (without momentum: none). */
static void sgd_block(const tg_optim *base, const double *s, int64_t n, double *restrict p,
                      const double *restrict grad, double *const *st)
{
    double c[TG__OPTIM_SCALARS];   /* locals: stores through p cannot change them */
    memcpy(c, s, sizeof c);
    const tg_sgd_opts *op = &((const sgd *)base)->opts;
    double *restrict buf = op->momentum != 0 ? st[0] : NULL;
    bool first = c[S_FIRST] != 0;
    for (int64_t j = 0; j < n; j++) {
        double d_p = op->maximize ? -grad[j] : grad[j];
        if (op->weight_decay != 0)
            d_p = d_p + c[S_WD] * p[j];
        if (buf) {
            buf[j] = first ? d_p : buf[j] * c[S_MOMENTUM] + c[S_ONE_MINUS_DAMPENING] * d_p;
            d_p = op->nesterov ? d_p + c[S_MOMENTUM] * buf[j] : buf[j];
        }
        p[j] = p[j] + -c[S_LR] * d_p;
    }
}

static void sgd_emit(const tg_optim *base, tg__put_fn *put, void *sink, const char *p, const char *g,
                     const char *const *st, const char *const *s)
{
    const tg_sgd_opts *op = &((const sgd *)base)->opts;
    put(sink, "    {\n    double d_p = %s(%s);\n", op->maximize ? "-" : "", g);
    if (op->weight_decay != 0)
        put(sink, "    d_p = d_p + %s * %s;\n", s[S_WD], p);
    if (op->momentum != 0) {
        put(sink, "    %s = %s != 0 ? d_p : %s * %s + %s * d_p;\n", st[0], s[S_FIRST], st[0], s[S_MOMENTUM],
            s[S_ONE_MINUS_DAMPENING]);
        if (op->nesterov)
            put(sink, "    d_p = d_p + %s * %s;\n", s[S_MOMENTUM], st[0]);
        else
            put(sink, "    d_p = %s;\n", st[0]);
    }
    put(sink, "    %s = %s + -%s * d_p;\n    }\n", p, p, s[S_LR]);
}

static const tg__optim_update sgd_update = {sgd_state, sgd_begin, sgd_block, sgd_emit};

static const tg__optim_kind sgd_kind = {.name = "SGD", .step = tg__optim_step_update,
                                        .lr_offset = offsetof(sgd, opts.lr), .update = &sgd_update};

tg_optim *tg_sgd_new(const tg_params *params, const tg_sgd_opts *opts)
{
    static const char fn[] = "tg_sgd_new";
    if (!opts) {
        tg__null_arg(fn, "opts");
        return NULL;
    }
    if (!tg__optim_check(opts->lr >= 0, fn, "lr", opts->lr, ">= 0") ||
        !tg__optim_check(opts->momentum >= 0, fn, "momentum", opts->momentum, ">= 0") ||
        !tg__optim_check(opts->weight_decay >= 0, fn, "weight_decay", opts->weight_decay, ">= 0") ||
        !tg__optim_check(opts->dampening == opts->dampening, fn, "dampening", opts->dampening, "a number"))
        return NULL;
    if (opts->nesterov && (opts->momentum <= 0 || opts->dampening != 0)) {
        tg__error(TG_ERR_ARG, "%s: nesterov needs momentum > 0 and dampening 0 (momentum is %g, dampening %g)",
                  fn, opts->momentum, opts->dampening);
        return NULL;
    }
    sgd *o = (sgd *)tg__optim_new(&sgd_kind, sizeof(sgd), params, fn);
    if (o)
        o->opts = *opts;
    return o ? &o->base : NULL;
}
