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
#include <string.h>

typedef struct nadam {
    tg_optim base;
    tg_nadam_opts opts;
} nadam;

tg_nadam_opts tg_nadam_defaults(void)
{
    return (tg_nadam_opts){.lr = 2e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .momentum_decay = 4e-3};
}

/* the per-step scalars */
enum { S_BETA1, S_OMB1, S_BETA2, S_OMB2, S_BC2, S_EPS, S_WD, S_C1, S_C2 };

/* m, v, then mu_product (1 at the start) in the third buffer */
static tg_status nadam_state(tg_optim *base, int i, double **st, int *n_st)
{
    bool fresh;
    int64_t n = base->params[i]->numel;
    double *s = tg__optim_state(base, i, 3, &fresh);
    if (s && fresh)
        s[2 * (n > 0 ? n : 1)] = 1.0;
    *n_st = 2;
    st[0] = s, st[1] = s ? s + n : NULL;
    return s ? TG_OK : TG_ERR_NOMEM;
}

static void nadam_begin(tg_optim *base, int i, double *s)
{
    const tg_nadam_opts *op = &((nadam *)base)->opts;
    int64_t n = base->params[i]->numel, step = ++base->steps[i];
    double *mu_product = &base->state[i][2 * (n > 0 ? n : 1)];
    double mu = op->beta1 * (1. - 0.5 * pow(0.96, (double)step * op->momentum_decay));
    double mu_next = op->beta1 * (1. - 0.5 * pow(0.96, (double)(step + 1) * op->momentum_decay));
    *mu_product *= mu;
    double mu_product_next = *mu_product * mu * mu_next;
    s[S_BETA1] = op->beta1, s[S_OMB1] = 1 - op->beta1, s[S_BETA2] = op->beta2, s[S_OMB2] = 1 - op->beta2;
    s[S_BC2] = 1 - pow(op->beta2, (double)step);
    s[S_EPS] = op->eps, s[S_WD] = op->weight_decay;
    s[S_C1] = -op->lr * (1. - mu) / (1. - *mu_product);
    s[S_C2] = -op->lr * mu_next / (1. - mu_product_next);
}

static void nadam_block(const tg_optim *base, const double *s, int64_t n, double *restrict p,
                        const double *restrict grad, double *const *st)
{
    double c[TG__OPTIM_SCALARS];   /* locals: stores through p cannot change them */
    memcpy(c, s, sizeof c);
    const tg_nadam_opts *op = &((const nadam *)base)->opts;
    double *restrict m = st[0], *restrict v = st[1];
    for (int64_t j = 0; j < n; j++) {
        double g = op->weight_decay != 0 ? grad[j] + c[S_WD] * p[j] : grad[j];
        m[j] = m[j] * c[S_BETA1] + c[S_OMB1] * g;
        v[j] = v[j] * c[S_BETA2] + c[S_OMB2] * g * g;
        double denom = sqrt(v[j] / c[S_BC2]) + c[S_EPS];
        p[j] = p[j] + c[S_C1] * g / denom;
        p[j] = p[j] + c[S_C2] * m[j] / denom;
    }
}

static void nadam_emit(const tg_optim *base, tg__put_fn *put, void *sink, const char *p, const char *grad,
                       const char *const *st, const char *const *s)
{
    const tg_nadam_opts *op = &((const nadam *)base)->opts;
    if (op->weight_decay != 0)
        put(sink, "    {\n    const double g = %s + %s * %s;\n", grad, s[S_WD], p);
    else
        put(sink, "    {\n    const double g = %s;\n", grad);
    put(sink, "    %s = %s * %s + %s * g;\n", st[0], st[0], s[S_BETA1], s[S_OMB1]);
    put(sink, "    %s = %s * %s + %s * g * g;\n", st[1], st[1], s[S_BETA2], s[S_OMB2]);
    put(sink, "    const double denom = sqrt(%s / %s) + %s;\n", st[1], s[S_BC2], s[S_EPS]);
    put(sink, "    %s = %s + %s * g / denom;\n", p, p, s[S_C1]);
    put(sink, "    %s = %s + %s * %s / denom;\n    }\n", p, p, s[S_C2], st[0]);
}

static const tg__optim_update nadam_update = {nadam_state, nadam_begin, nadam_block, nadam_emit};

static const tg__optim_kind nadam_kind = {.name = "NAdam", .step = tg__optim_step_update,
                                          .lr_offset = offsetof(nadam, opts.lr), .update = &nadam_update};

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
