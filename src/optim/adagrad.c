/* SPDX-License-Identifier: MIT */
/*
** Adagrad, as torch.optim.Adagrad (PyTorch 1.13, _single_tensor_adagrad).
** With step the parameter's update count after incrementing it, per element:
**   g = maximize ? -grad : grad;  g = g + wd * p (wd != 0)
**   clr = lr / (1 + (step - 1) * lr_decay)
**   sum = sum + g * g;  p = p + ((-clr) * g) / (sqrt(sum) + eps)
** State per parameter: sum, initial_accumulator_value at the start.
*/
#include "optim/optim.h"

#include <math.h>

typedef struct adagrad {
    tg_optim base;
    tg_adagrad_opts opts;
} adagrad;

tg_adagrad_opts tg_adagrad_defaults(void)
{
    return (tg_adagrad_opts){.lr = 1e-2, .eps = 1e-10};
}

static tg_status adagrad_step(tg_optim *base)
{
    const tg_adagrad_opts *op = &((adagrad *)base)->opts;
    for (int i = 0; i < base->n; i++) {
        tg_tensor *p = base->params[i], *grad = tg_grad(p);
        if (!grad)
            continue;
        bool fresh;
        double *sum = tg__optim_state(base, i, 1, &fresh);
        if (!sum)
            return TG_ERR_NOMEM;
        int64_t n = p->numel, step = ++base->steps[i];
        for (int64_t j = 0; fresh && j < n; j++)
            sum[j] = op->initial_accumulator_value;
        double clr = op->lr / (1 + (double)(step - 1) * op->lr_decay);
        for (int64_t j = 0; j < n; j++) {
            double g = op->maximize ? -grad->data[j] : grad->data[j];
            if (op->weight_decay != 0)
                g = g + op->weight_decay * p->data[j];
            sum[j] = sum[j] + g * g;
            p->data[j] = p->data[j] + -clr * g / (sqrt(sum[j]) + op->eps);
        }
    }
    return TG_OK;
}

static const tg__optim_kind adagrad_kind = {.name = "Adagrad", .step = adagrad_step,
                                            .lr_offset = offsetof(adagrad, opts.lr)};

tg_optim *tg_adagrad_new(const tg_params *params, const tg_adagrad_opts *opts)
{
    const char *fn = "tg_adagrad_new";
    if (!opts) {
        tg__null_arg(fn, "opts");
        return NULL;
    }
    if (!tg__optim_check(opts->lr >= 0, fn, "lr", opts->lr, ">= 0") ||
        !tg__optim_check(opts->lr_decay >= 0, fn, "lr_decay", opts->lr_decay, ">= 0") ||
        !tg__optim_check(opts->weight_decay >= 0, fn, "weight_decay", opts->weight_decay, ">= 0") ||
        !tg__optim_check(opts->initial_accumulator_value >= 0, fn, "initial_accumulator_value",
                         opts->initial_accumulator_value, ">= 0") ||
        !tg__optim_check(opts->eps >= 0, fn, "eps", opts->eps, ">= 0"))
        return NULL;
    adagrad *o = (adagrad *)tg__optim_new(&adagrad_kind, sizeof(adagrad), params, fn);
    if (!o)
        return NULL;
    o->opts = *opts;
    return &o->base;
}
