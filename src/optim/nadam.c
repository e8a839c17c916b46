/* SPDX-License-Identifier: MIT */
/*
** NAdam, as torch.optim.NAdam (PyTorch 1.13, _single_tensor_nadam, including
** its mu_product_next = mu_product * mu * mu_next after mu_product was already
** multiplied by mu).  With step the update count after incrementing it:
**   g = g + wd * p (wd != 0)
**   mu = beta1 (1 - 0.5 * 0.96^(step * momentum_decay)), mu_next the same at step + 1
**   mu_product = mu_product * mu;  mu_product_next = mu_product * mu * mu_next
**   m = m * beta1 + (1 - beta1) * g;  v = v * beta2 + ((1 - beta2) * g) * g
**   denom = sqrt(v / (1 - beta2^step)) + eps
**   p = p + (-lr (1 - mu) / (1 - mu_product)) * g / denom
**   p = p + (-lr mu_next / (1 - mu_product_next)) * m / denom
** State per parameter: m, v (zeros) and mu_product (1), a step count.
*/
#include "optim/optim.h"

#include <math.h>

typedef struct nadam {
    tg_optim base;
    tg_nadam_opts opts;
} nadam;

tg_nadam_opts tg_nadam_defaults(void)
{
    return (tg_nadam_opts){.lr = 2e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .momentum_decay = 4e-3};
}

static void nadam_update(const tg_nadam_opts *op, int64_t step, int64_t n, double *p, const double *grad,
                         double *m, double *v, double *mu_product)
{
    double bias_correction2 = 1 - pow(op->beta2, (double)step);
    double mu = op->beta1 * (1. - 0.5 * pow(0.96, (double)step * op->momentum_decay));
    double mu_next = op->beta1 * (1. - 0.5 * pow(0.96, (double)(step + 1) * op->momentum_decay));
    *mu_product *= mu;
    double mu_product_next = *mu_product * mu * mu_next;
    double c1 = -op->lr * (1. - mu) / (1. - *mu_product), c2 = -op->lr * mu_next / (1. - mu_product_next);
    for (int64_t j = 0; j < n; j++) {
        double g = op->weight_decay != 0 ? grad[j] + op->weight_decay * p[j] : grad[j];
        m[j] = m[j] * op->beta1 + (1 - op->beta1) * g;
        v[j] = v[j] * op->beta2 + (1 - op->beta2) * g * g;
        double denom = sqrt(v[j] / bias_correction2) + op->eps;
        p[j] = p[j] + c1 * g / denom;
        p[j] = p[j] + c2 * m[j] / denom;
    }
}

static tg_status nadam_step(tg_optim *base)
{
    for (int i = 0; i < base->n; i++) {
        tg_tensor *p = base->params[i], *g = tg_grad(p);
        if (!g)
            continue;
        bool fresh;
        int64_t n = p->numel;
        double *s = tg__optim_state(base, i, 3, &fresh);   /* m, v, then mu_product in the third */
        if (!s)
            return TG_ERR_NOMEM;
        if (fresh)
            s[2 * (n > 0 ? n : 1)] = 1.0;
        nadam_update(&((nadam *)base)->opts, ++base->steps[i], n, p->data, g->data, s, s + n,
                     &s[2 * (n > 0 ? n : 1)]);
    }
    return TG_OK;
}

static const tg__optim_kind nadam_kind = {.name = "NAdam", .step = nadam_step,
                                          .lr_offset = offsetof(nadam, opts.lr)};

tg_optim *tg_nadam_new(const tg_params *params, const tg_nadam_opts *opts)
{
    const char *fn = "tg_nadam_new";
    if (!opts) {
        tg__null_arg(fn, "opts");
        return NULL;
    }
    if (!tg__optim_check_adam(fn, opts->lr, opts->eps, opts->beta1, opts->beta2, opts->weight_decay) ||
        !tg__optim_check(opts->momentum_decay >= 0, fn, "momentum_decay", opts->momentum_decay, ">= 0"))
        return NULL;
    nadam *o = (nadam *)tg__optim_new(&nadam_kind, sizeof(nadam), params, fn);
    if (!o)
        return NULL;
    o->opts = *opts;
    return &o->base;
}
