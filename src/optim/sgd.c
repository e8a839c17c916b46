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

typedef struct sgd {
    tg_optim base;
    tg_sgd_opts opts;
} sgd;

tg_sgd_opts tg_sgd_defaults(double lr)
{
    return (tg_sgd_opts){.lr = lr};
}

/* n elements of one parameter p with gradient grad; buf is the momentum
** buffer (NULL without momentum), first on its first use. */
static void sgd_update(const tg_sgd_opts *op, int64_t n, double *p, const double *grad, double *buf,
                       bool first)
{
    double one_minus_dampening = 1 - op->dampening;
    for (int64_t j = 0; j < n; j++) {
        double d_p = op->maximize ? -grad[j] : grad[j];
        if (op->weight_decay != 0)
            d_p = d_p + op->weight_decay * p[j];
        if (buf) {
            buf[j] = first ? d_p : buf[j] * op->momentum + one_minus_dampening * d_p;
            d_p = op->nesterov ? d_p + op->momentum * buf[j] : buf[j];
        }
        p[j] = p[j] + -op->lr * d_p;
    }
}

static tg_status sgd_step(tg_optim *base)
{
    const tg_sgd_opts *op = &((sgd *)base)->opts;
    for (int i = 0; i < base->n; i++) {
        tg_tensor *p = base->params[i], *g = tg_grad(p);
        if (!g)
            continue;
        double *buf = NULL;
        bool first = false;
        if (op->momentum != 0 && !(buf = tg__optim_state(base, i, 1, &first)))
            return TG_ERR_NOMEM;
        sgd_update(op, p->numel, p->data, g->data, buf, first);
        base->steps[i]++;
    }
    return TG_OK;
}

static const tg__optim_kind sgd_kind = {.name = "SGD", .step = sgd_step,
                                        .lr_offset = offsetof(sgd, opts.lr)};

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
