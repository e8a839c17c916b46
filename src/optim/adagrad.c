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
#include <string.h>

typedef struct adagrad {
    tg_optim base;
    tg_adagrad_opts opts;
} adagrad;

tg_adagrad_opts tg_adagrad_defaults(void)
{
    return (tg_adagrad_opts){.lr = 1e-2, .eps = 1e-10};
}

/* the per-step scalars */
enum { S_CLR, S_WD, S_EPS };

/* sum, initial_accumulator_value at the start */
static tg_status adagrad_state(tg_optim *base, int i, double **st, int *n_st)
{
    bool fresh;
    double *sum = tg__optim_state(base, i, 1, &fresh);
    int64_t n = base->params[i]->numel;
    for (int64_t j = 0; sum && fresh && j < n; j++)
        sum[j] = ((adagrad *)base)->opts.initial_accumulator_value;
    *n_st = 1;
    st[0] = sum;
    return sum ? TG_OK : TG_ERR_NOMEM;
}

static void adagrad_begin(tg_optim *base, int i, double *s)
{
    const tg_adagrad_opts *op = &((adagrad *)base)->opts;
    int64_t step = ++base->steps[i];
    s[S_CLR] = op->lr / (1 + (double)(step - 1) * op->lr_decay);
    s[S_WD] = op->weight_decay, s[S_EPS] = op->eps;
}

static void adagrad_block(const tg_optim *base, const double *s, int64_t n, double *restrict p,
                          const double *restrict grad, double *const *st)
{
    double c[TG__OPTIM_SCALARS];   /* locals: stores through p cannot change them */
    memcpy(c, s, sizeof c);
    const tg_adagrad_opts *op = &((const adagrad *)base)->opts;
    double *restrict sum = st[0];
    for (int64_t j = 0; j < n; j++) {
        double g = op->maximize ? -grad[j] : grad[j];
        if (op->weight_decay != 0)
            g = g + c[S_WD] * p[j];
        sum[j] = sum[j] + g * g;
        p[j] = p[j] + -c[S_CLR] * g / (sqrt(sum[j]) + c[S_EPS]);
    }
}

static void adagrad_emit(const tg_optim *base, tg__put_fn *put, void *sink, const char *p, const char *grad,
                         const char *const *st, const char *const *s)
{
    const tg_adagrad_opts *op = &((const adagrad *)base)->opts;
    put(sink, "    {\n    double g = %s(%s);\n", op->maximize ? "-" : "", grad);
    if (op->weight_decay != 0)
        put(sink, "    g = g + %s * %s;\n", s[S_WD], p);
    put(sink, "    %s = %s + g * g;\n", st[0], st[0]);
    put(sink, "    %s = %s + -%s * g / (sqrt(%s) + %s);\n    }\n", p, p, s[S_CLR], st[0], s[S_EPS]);
}

static const tg__optim_update adagrad_update = {adagrad_state, adagrad_begin, adagrad_block, adagrad_emit};

static const tg__optim_kind adagrad_kind = {.name = "Adagrad", .step = tg__optim_step_update,
                                            .lr_offset = offsetof(adagrad, opts.lr),
                                            .update = &adagrad_update};

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
