/* SPDX-License-Identifier: MIT */
/*
** RMSprop with weight decay, momentum, centering and maximize, as
** torch.optim.RMSprop (PyTorch 1.13, _single_tensor_rmsprop).  Per element,
** in PyTorch's order (addcmul is a + (s * b) * c, addcdiv a + (s * b) / c):
**   g = maximize ? -grad : grad;   g = g + wd * p                  (wd != 0)
**   sq = sq * alpha + ((1 - alpha) * g) * g
**   centered: ga = ga * alpha + (1 - alpha) * g;  avg = sqrt(sq - ga * ga)
**   else avg = sqrt(sq);   avg = avg + eps
**   momentum > 0: buf = buf * momentum + g / avg;  p = p + (-lr) * buf
**   else p = p + ((-lr) * g) / avg
** State per parameter: sq, ga, buf (zeros at the start), n elements each.
*/
#include "optim/optim.h"

#include <math.h>
#include <string.h>

typedef struct rmsprop {
    tg_optim base;
    tg_rmsprop_opts opts;
} rmsprop;

tg_rmsprop_opts tg_rmsprop_defaults(void)
{
    return (tg_rmsprop_opts){.lr = 1e-2, .alpha = 0.99, .eps = 1e-8};
}

/* the per-step scalars */
enum { S_LR, S_ALPHA, S_OMA, S_WD, S_EPS, S_MOMENTUM };

/* sq, ga and buf */
static tg_status rmsprop_state(tg_optim *base, int i, double **st, int *n_st)
{
    bool fresh;
    *n_st = 3;
    return tg__optim_buffers(base, i, 3, st, &fresh) ? TG_OK : TG_ERR_NOMEM;
}

static void rmsprop_begin(tg_optim *base, int i, double *s)
{
    const tg_rmsprop_opts *op = &((rmsprop *)base)->opts;
    s[S_LR] = op->lr, s[S_ALPHA] = op->alpha, s[S_OMA] = 1 - op->alpha;
    s[S_WD] = op->weight_decay, s[S_EPS] = op->eps, s[S_MOMENTUM] = op->momentum;
    base->steps[i]++;
}

static void rmsprop_block(const tg_optim *base, const double *s, int64_t n, double *restrict p,
                          const double *restrict grad, double *const *st)
{
    double c[TG__OPTIM_SCALARS];   /* locals: stores through p cannot change them */
    memcpy(c, s, sizeof c);
    const tg_rmsprop_opts *op = &((const rmsprop *)base)->opts;
    double *restrict sq = st[0], *restrict ga = st[1], *restrict buf = st[2];
    for (int64_t j = 0; j < n; j++) {
        double g = op->maximize ? -grad[j] : grad[j];
        if (op->weight_decay != 0)
            g = g + c[S_WD] * p[j];
        sq[j] = sq[j] * c[S_ALPHA] + c[S_OMA] * g * g;
        double avg;
        if (op->centered) {
            ga[j] = ga[j] * c[S_ALPHA] + c[S_OMA] * g;
            avg = sqrt(sq[j] + -ga[j] * ga[j]);
        } else {
            avg = sqrt(sq[j]);
        }
        avg = avg + c[S_EPS];
        if (op->momentum > 0) {
            buf[j] = buf[j] * c[S_MOMENTUM] + g / avg;
            p[j] = p[j] + -c[S_LR] * buf[j];
        } else {
            p[j] = p[j] + -c[S_LR] * g / avg;
        }
    }
}

static void rmsprop_emit(const tg_optim *base, tg__put_fn *put, void *sink, const char *p, const char *grad,
                         const char *const *st, const char *const *s)
{
    const tg_rmsprop_opts *op = &((const rmsprop *)base)->opts;
    put(sink, "    {\n    double g = %s(%s);\n", op->maximize ? "-" : "", grad);
    if (op->weight_decay != 0)
        put(sink, "    g = g + %s * %s;\n", s[S_WD], p);
    put(sink, "    %s = %s * %s + %s * g * g;\n", st[0], st[0], s[S_ALPHA], s[S_OMA]);
    if (op->centered) {
        put(sink, "    %s = %s * %s + %s * g;\n", st[1], st[1], s[S_ALPHA], s[S_OMA]);
        put(sink, "    double avg = sqrt(%s + -%s * %s);\n", st[0], st[1], st[1]);
    } else {
        put(sink, "    double avg = sqrt(%s);\n", st[0]);
    }
    put(sink, "    avg = avg + %s;\n", s[S_EPS]);
    if (op->momentum > 0) {
        put(sink, "    %s = %s * %s + g / avg;\n", st[2], st[2], s[S_MOMENTUM]);
        put(sink, "    %s = %s + -%s * %s;\n    }\n", p, p, s[S_LR], st[2]);
    } else {
        put(sink, "    %s = %s + -%s * g / avg;\n    }\n", p, p, s[S_LR]);
    }
}

static const tg__optim_update rmsprop_update = {rmsprop_state, rmsprop_begin, rmsprop_block, rmsprop_emit};

static const tg__optim_kind rmsprop_kind = {.name = "RMSprop", .step = tg__optim_step_update,
                                            .lr_offset = offsetof(rmsprop, opts.lr),
                                            .update = &rmsprop_update};

tg_optim *tg_rmsprop_new(const tg_params *params, const tg_rmsprop_opts *opts)
{
    static const char fn[] = "tg_rmsprop_new";
    if (!opts) {
        tg__null_arg(fn, "opts");
        return NULL;
    }
    if (!tg__optim_check(opts->lr >= 0, fn, "lr", opts->lr, ">= 0") ||
        !tg__optim_check(opts->eps >= 0, fn, "eps", opts->eps, ">= 0") ||
        !tg__optim_check(opts->momentum >= 0, fn, "momentum", opts->momentum, ">= 0") ||
        !tg__optim_check(opts->weight_decay >= 0, fn, "weight_decay", opts->weight_decay, ">= 0") ||
        !tg__optim_check(opts->alpha >= 0, fn, "alpha", opts->alpha, ">= 0"))
        return NULL;
    rmsprop *o = (rmsprop *)tg__optim_new(&rmsprop_kind, sizeof(rmsprop), params, fn);
    if (o)
        o->opts = *opts;
    return o ? &o->base : NULL;
}
