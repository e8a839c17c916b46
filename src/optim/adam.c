/* SPDX-License-Identifier: MIT */
/*
** Adam and AdamW with amsgrad, weight decay and maximize, as torch.optim.Adam
** and torch.optim.AdamW (PyTorch 1.13, _single_tensor_adam / _adamw).  With
** step the parameter's update count after incrementing it, per element, in
** PyTorch's order (addcmul is a + (s * b) * c, addcdiv a + (s * b) / c):
**   g = maximize ? -grad : grad
**   Adam:  g = g + wd * p (wd != 0);   AdamW:  p = p * (1 - lr * wd)
**   m = m * beta1 + (1 - beta1) * g;   v = v * beta2 + ((1 - beta2) * g) * g
**   step_size = lr / (1 - beta1^step);  bc2_sqrt = sqrt(1 - beta2^step)
**   amsgrad: vmax = maximum(vmax, v) and vmax replaces v below
**   denom = sqrt(v) / bc2_sqrt + eps;   p = p + ((-step_size) * m) / denom
** State per parameter: m, v, vmax (zeros at the start), n elements each.
*/
#include "optim/optim.h"

#include <math.h>

typedef struct adam {
    tg_optim base;
    tg_adam_opts opts;
    bool decoupled;          /* AdamW */
} adam;

tg_adam_opts tg_adam_defaults(void)
{
    return (tg_adam_opts){.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
}

tg_adam_opts tg_adamw_defaults(void)
{
    tg_adam_opts o = tg_adam_defaults();
    o.weight_decay = 1e-2;
    return o;
}

/* torch.maximum: NaN when either is NaN */
static double maximum(double a, double b)
{
    return isnan(a) || a > b ? a : b;
}

static void adam_update(const adam *o, int64_t step, int64_t n, double *p, const double *grad,
                        double *m, double *v, double *vmax)
{
    const tg_adam_opts *op = &o->opts;
    double decay = 1 - op->lr * op->weight_decay;
    double one_minus_beta1 = 1 - op->beta1, one_minus_beta2 = 1 - op->beta2;
    double step_size = op->lr / (1 - pow(op->beta1, (double)step));
    double bc2_sqrt = sqrt(1 - pow(op->beta2, (double)step));
    for (int64_t j = 0; j < n; j++) {
        double g = op->maximize ? -grad[j] : grad[j];
        if (o->decoupled)
            p[j] = p[j] * decay;
        else if (op->weight_decay != 0)
            g = g + op->weight_decay * p[j];
        m[j] = m[j] * op->beta1 + one_minus_beta1 * g;
        v[j] = v[j] * op->beta2 + one_minus_beta2 * g * g;
        double denom;
        if (op->amsgrad) {
            vmax[j] = maximum(vmax[j], v[j]);
            denom = sqrt(vmax[j]) / bc2_sqrt + op->eps;
        } else {
            denom = sqrt(v[j]) / bc2_sqrt + op->eps;
        }
        p[j] = p[j] + -step_size * m[j] / denom;
    }
}

static tg_status adam_step(tg_optim *base)
{
    for (int i = 0; i < base->n; i++) {
        tg_tensor *p = base->params[i], *g = tg_grad(p);
        if (!g)
            continue;
        bool fresh;
        double *m = tg__optim_state(base, i, 3, &fresh);
        if (!m)
            return TG_ERR_NOMEM;
        int64_t n = p->numel;
        adam_update((adam *)base, ++base->steps[i], n, p->data, g->data, m, m + n, m + 2 * n);
    }
    return TG_OK;
}

static const tg__optim_kind adam_kind = {.name = "Adam", .step = adam_step,
                                         .lr_offset = offsetof(adam, opts.lr)};
static const tg__optim_kind adamw_kind = {.name = "AdamW", .step = adam_step,
                                          .lr_offset = offsetof(adam, opts.lr)};

static tg_optim *adam_new(const tg__optim_kind *kind, const tg_params *params, const tg_adam_opts *opts,
                          const char *fn)
{
    if (!opts) {
        tg__null_arg(fn, "opts");
        return NULL;
    }
    if (!tg__optim_check_adam(fn, opts->lr, opts->eps, opts->beta1, opts->beta2, opts->weight_decay))
        return NULL;
    adam *o = (adam *)tg__optim_new(kind, sizeof(adam), params, fn);
    if (!o)
        return NULL;
    o->opts = *opts;
    o->decoupled = kind == &adamw_kind;
    return &o->base;
}

tg_optim *tg_adam_new(const tg_params *params, const tg_adam_opts *opts)
{
    return adam_new(&adam_kind, params, opts, "tg_adam_new");
}

tg_optim *tg_adamw_new(const tg_params *params, const tg_adam_opts *opts)
{
    return adam_new(&adamw_kind, params, opts, "tg_adamw_new");
}
