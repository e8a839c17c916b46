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

typedef struct rmsprop {
    tg_optim base;
    tg_rmsprop_opts opts;
} rmsprop;

tg_rmsprop_opts tg_rmsprop_defaults(void)
{
    return (tg_rmsprop_opts){.lr = 1e-2, .alpha = 0.99, .eps = 1e-8};
}

static void rmsprop_update(const tg_rmsprop_opts *op, int64_t n, double *p, const double *grad,
                           double *sq, double *ga, double *buf)
{
    double one_minus_alpha = 1 - op->alpha;
    for (int64_t j = 0; j < n; j++) {
        double g = op->maximize ? -grad[j] : grad[j];
        if (op->weight_decay != 0)
            g = g + op->weight_decay * p[j];
        sq[j] = sq[j] * op->alpha + one_minus_alpha * g * g;
        double avg;
        if (op->centered) {
            ga[j] = ga[j] * op->alpha + one_minus_alpha * g;
            avg = sqrt(sq[j] + -ga[j] * ga[j]);
        } else {
            avg = sqrt(sq[j]);
        }
        avg = avg + op->eps;
        if (op->momentum > 0) {
            buf[j] = buf[j] * op->momentum + g / avg;
            p[j] = p[j] + -op->lr * buf[j];
        } else {
            p[j] = p[j] + -op->lr * g / avg;
        }
    }
}

static tg_status rmsprop_step(tg_optim *base)
{
    const tg_rmsprop_opts *op = &((rmsprop *)base)->opts;
    for (int i = 0; i < base->n; i++) {
        tg_tensor *p = base->params[i], *g = tg_grad(p);
        if (!g)
            continue;
        bool fresh;
        double *sq = tg__optim_state(base, i, 3, &fresh);
        if (!sq)
            return TG_ERR_NOMEM;
        int64_t n = p->numel;
        rmsprop_update(op, n, p->data, g->data, sq, sq + n, sq + 2 * n);
        base->steps[i]++;
    }
    return TG_OK;
}

static const tg__optim_kind rmsprop_kind = {.name = "RMSprop", .step = rmsprop_step,
                                            .lr_offset = offsetof(rmsprop, opts.lr)};

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
