/* SPDX-License-Identifier: MIT */
/*
** Learning rates: tg_optim_lr / tg_optim_set_lr for every optimizer kind, and
** the schedules torch.optim.lr_scheduler.StepLR and CosineAnnealingLR, in
** PyTorch 1.13's recursive (chainable) form so the rates agree bit for bit:
**   StepLR:   at epoch e > 0 with e % step_size == 0, lr = lr * gamma
**   Cosine:   e == 0: base_lr;  (e - 1 - T_max) mod 2 T_max == 0:
**               lr + (base_lr - eta_min) * (1 - cos(pi / T_max)) / 2
**             else: (1 + cos(pi e / T_max)) / (1 + cos(pi (e - 1) / T_max))
**                     * (lr - eta_min) + eta_min
** A schedule holds no reference to its optimizer: free it first.
*/
#include "optim/optim.h"

#include <math.h>

static double *lr_slot(tg_optim *o)
{
    return (double *)(void *)((char *)o + o->kind->lr_offset);
}

double tg_optim_lr(const tg_optim *o)
{
    if (!o) {
        tg__null_arg("tg_optim_lr", "o");
        return NAN;
    }
    return *lr_slot((tg_optim *)o);
}

tg_status tg_optim_set_lr(tg_optim *o, double lr)
{
    if (!o)
        return tg__null_arg("tg_optim_set_lr", "o");
    if (!tg__optim_check(lr >= 0, "tg_optim_set_lr", "lr", lr, ">= 0"))
        return TG_ERR_ARG;
    *lr_slot(o) = lr;
    return TG_OK;
}

struct tg_lr_schedule {
    tg_optim *o;
    bool cosine;
    int64_t epoch, period;     /* step_size or T_max */
    double factor;             /* gamma or eta_min */
    double base_lr;
};

static tg_lr_schedule *schedule_new(const char *fn, tg_optim *o, int64_t period, double factor, bool cosine)
{
    if (!o) {
        tg__null_arg(fn, "o");
        return NULL;
    }
    if (period < 1) {
        tg__error(TG_ERR_ARG, "%s: %s is %lld (must be >= 1)", fn, cosine ? "t_max" : "step_size",
                  (long long)period);
        return NULL;
    }
    if (!tg__optim_check(cosine ? factor >= 0 : factor > 0, fn, cosine ? "eta_min" : "gamma", factor,
                         cosine ? ">= 0" : "> 0"))
        return NULL;
    tg_lr_schedule *s = tg__calloc(1, sizeof *s);
    if (!s) {
        tg__error(TG_ERR_NOMEM, "%s: out of memory", fn);
        return NULL;
    }
    *s = (tg_lr_schedule){o, cosine, 0, period, factor, tg_optim_lr(o)};
    return s;
}

tg_lr_schedule *tg_step_lr_new(tg_optim *o, int64_t step_size, double gamma)
{
    return schedule_new("tg_step_lr_new", o, step_size, gamma, false);
}

tg_lr_schedule *tg_cosine_lr_new(tg_optim *o, int64_t t_max, double eta_min)
{
    return schedule_new("tg_cosine_lr_new", o, t_max, eta_min, true);
}

tg_status tg_lr_schedule_step(tg_lr_schedule *s)
{
    if (!s)
        return tg__null_arg("tg_lr_schedule_step", "s");
    int64_t e = ++s->epoch, t = s->period;
    double lr = tg_optim_lr(s->o), pi = 3.14159265358979323846;
    if (!s->cosine) {
        if (e % t == 0)
            lr = lr * s->factor;
    } else if ((((e - 1 - t) % (2 * t)) + 2 * t) % (2 * t) == 0) {   /* Python's % */
        lr = lr + (s->base_lr - s->factor) * (1 - cos(pi / (double)t)) / 2;
    } else {
        lr = (1 + cos(pi * (double)e / (double)t)) / (1 + cos(pi * (double)(e - 1) / (double)t)) *
                 (lr - s->factor) + s->factor;
    }
    return tg_optim_set_lr(s->o, lr);
}

void tg_lr_schedule_free(tg_lr_schedule *s)
{
    tg__free(s);
}
