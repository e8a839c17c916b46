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
#include <string.h>

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

/* the per-step scalars */
enum { S_BETA1, S_BETA2, S_OMB1, S_OMB2, S_STEP_SIZE, S_BC2_SQRT, S_EPS, S_WD, S_DECAY };

/* m, v and vmax */
static tg_status adam_state(tg_optim *base, int i, double **st, int *n_st)
{
    bool fresh;
    *n_st = 3;
    return tg__optim_buffers(base, i, 3, st, &fresh) ? TG_OK : TG_ERR_NOMEM;
}

static void adam_begin(tg_optim *base, int i, double *s)
{
    const tg_adam_opts *op = &((adam *)base)->opts;
    int64_t step = ++base->steps[i];
    s[S_BETA1] = op->beta1, s[S_BETA2] = op->beta2;
    s[S_OMB1] = 1 - op->beta1, s[S_OMB2] = 1 - op->beta2;
    s[S_STEP_SIZE] = op->lr / (1 - pow(op->beta1, (double)step));
    s[S_BC2_SQRT] = sqrt(1 - pow(op->beta2, (double)step));
    s[S_EPS] = op->eps, s[S_WD] = op->weight_decay;
    s[S_DECAY] = 1 - op->lr * op->weight_decay;
}

static void adam_block(const tg_optim *base, const double *s, int64_t n, double *restrict p,
                       const double *restrict grad, double *const *st)
{
    double c[TG__OPTIM_SCALARS];   /* locals: stores through p cannot change them */
    memcpy(c, s, sizeof c);
    const adam *o = (const adam *)base;
    const tg_adam_opts *op = &o->opts;
    double *restrict m = st[0], *restrict v = st[1], *restrict vmax = st[2];
    for (int64_t j = 0; j < n; j++) {
        double g = op->maximize ? -grad[j] : grad[j];
        if (o->decoupled)
            p[j] = p[j] * c[S_DECAY];
        else if (op->weight_decay != 0)
            g = g + c[S_WD] * p[j];
        m[j] = m[j] * c[S_BETA1] + c[S_OMB1] * g;
        v[j] = v[j] * c[S_BETA2] + c[S_OMB2] * g * g;
        double denom;
        if (op->amsgrad) {
            vmax[j] = maximum(vmax[j], v[j]);
            denom = sqrt(vmax[j]) / c[S_BC2_SQRT] + c[S_EPS];
        } else {
            denom = sqrt(v[j]) / c[S_BC2_SQRT] + c[S_EPS];
        }
        p[j] = p[j] + -c[S_STEP_SIZE] * m[j] / denom;
    }
}

static void adam_emit(const tg_optim *base, tg__put_fn *put, void *sink, const char *p, const char *grad,
                      const char *const *st, const char *const *s)
{
    const adam *o = (const adam *)base;
    const tg_adam_opts *op = &o->opts;
    put(sink, "    {\n    double g = %s(%s);\n", op->maximize ? "-" : "", grad);
    if (o->decoupled)
        put(sink, "    %s = %s * %s;\n", p, p, s[S_DECAY]);
    else if (op->weight_decay != 0)
        put(sink, "    g = g + %s * %s;\n", s[S_WD], p);
    put(sink, "    %s = %s * %s + %s * g;\n", st[0], st[0], s[S_BETA1], s[S_OMB1]);
    put(sink, "    %s = %s * %s + %s * g * g;\n", st[1], st[1], s[S_BETA2], s[S_OMB2]);
    const char *v = st[1];
    if (op->amsgrad) {   /* maximum: NaN when either is NaN */
        put(sink, "    %s = isnan(%s) || %s > %s ? %s : %s;\n", st[2], st[2], st[2], st[1], st[2], st[1]);
        v = st[2];
    }
    put(sink, "    const double denom = sqrt(%s) / %s + %s;\n", v, s[S_BC2_SQRT], s[S_EPS]);
    put(sink, "    %s = %s + -%s * %s / denom;\n    }\n", p, p, s[S_STEP_SIZE], st[0]);
}

static const tg__optim_update adam_update = {adam_state, adam_begin, adam_block, adam_emit};

static const tg__optim_kind adam_kind = {.name = "Adam", .step = tg__optim_step_update,
                                         .lr_offset = offsetof(adam, opts.lr), .update = &adam_update};
static const tg__optim_kind adamw_kind = {.name = "AdamW", .step = tg__optim_step_update,
                                          .lr_offset = offsetof(adam, opts.lr), .update = &adam_update};

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
