/* SPDX-License-Identifier: MIT */
/*
** PyTorch's tutorial "dynamic_net", in C: control flow and weight sharing.
**
** A third to fifth order polynomial whose forward pass draws a number between
** 4 and 6 each time and, for each order from 4 up to below it, adds e x^order:
** the same parameter e serves the fourth and the fifth order.  The graph is
** rebuilt at every step, so it may differ from one step to the next.  Fits
** y = sin(x) on x = linspace(-pi, pi, 2000) with MSE (reduction sum) and SGD
** with momentum 0.9 (learning rate 1e-8) for 30000 steps, printing `t loss`
** every 2000 steps, then the fit.  `dynamic_net STEPS` stops after STEPS steps
** instead (the sanitizer build's test runs 2000).
**
** Random numbers, in order from the default generator after tg_manual_seed(0):
** a, b, c, d, e as 0-d tg_randn tensors, then one tg_rng_randint(4, 7) per
** forward pass (the tutorial's random.randint(4, 6), which includes 6).
**
** Uses only the public API of tensorgrad.h.
*/
#include <stdio.h>
#include <stdlib.h>
#include <tensorgrad.h>

typedef struct dynamic_net {
    tg_tensor *p[5];            /* a, b, c, d, e; borrowed from params, which owns them */
    tg_params *params;
} dynamic_net;

static bool dynamic_net_init(dynamic_net *m)
{
    const char *names[5] = {"a", "b", "c", "d", "e"};
    if (!(m->params = tg_params_new()))
        return false;
    for (int i = 0; i < 5; i++) {
        tg_tensor *t = tg_randn(0, NULL);
        bool ok = t && tg_set_requires_grad(t, true) == TG_OK && tg_params_add(m->params, names[i], t) == TG_OK;
        tg_free(t);   /* the list holds its own reference */
        if (!ok)
            return false;
        m->p[i] = tg_params_get(m->params, i);
    }
    return true;
}

/* y = a + b x + c x^2 + d x^3, then + e x^order for order = 4 .. randint(4, 6) - 1 */
static tg_tensor *dynamic_net_forward(const dynamic_net *m, tg_tensor *x)
{
    tg_tensor *const *p = m->p;
    tg_tensor *y = tg_add(tg_add(tg_add(p[0], tg_mul(p[1], x)), tg_mul(p[2], tg_pow(x, 2))),
                          tg_mul(p[3], tg_pow(x, 3)));
    int64_t top = tg_rng_randint(tg_default_rng(), 4, 7);
    for (int64_t order = 4; order < top; order++)
        y = tg_add(y, tg_mul(p[4], tg_pow(x, (double)order)));
    return y;
}

static const char *dynamic_net_string(const dynamic_net *m, char *buf, size_t size)
{
    double v[5];
    for (int i = 0; i < 5; i++)
        v[i] = tg_item(m->p[i]);
    snprintf(buf, size, "y = %.17g + %.17g x + %.17g x^2 + %.17g x^3 + %.17g x^4 ? + %.17g x^5 ?",
             v[0], v[1], v[2], v[3], v[4], v[4]);
    return buf;
}

int main(int argc, char **argv)
{
    const double pi = 3.14159265358979323846;
    const long steps = argc > 1 ? strtol(argv[1], NULL, 10) : 30000;
    tg_tensor *x = tg_linspace(-pi, pi, 2000);
    tg_tensor *y = tg_sin(x);

    tg_manual_seed(0);
    dynamic_net model = {0};
    tg_sgd_opts opts = tg_sgd_defaults(1e-8);
    opts.momentum = 0.9;
    tg_optim *optimizer = dynamic_net_init(&model) ? tg_sgd_new(model.params, &opts) : NULL;
    int status = !x || !y || !optimizer;

    for (long t = 0; t < steps && status == 0; t++) {
        tg_scope_begin();
        tg_tensor *loss = tg_mse_loss(dynamic_net_forward(&model, x), y, TG_REDUCTION_SUM);
        if (loss && t % 2000 == 1999)
            printf("%ld %.17g\n", t, tg_item(loss));
        tg_optim_zero_grad(optimizer);
        if (!loss || tg_backward(loss, NULL) != TG_OK || tg_optim_step(optimizer) != TG_OK)
            status = 1;
        tg_scope_end();
    }
    char text[256];
    if (status == 0)
        printf("Result: %s\n", dynamic_net_string(&model, text, sizeof text));
    else
        fprintf(stderr, "training failed: %s\n", tg_last_error());
    tg_optim_free(optimizer);
    tg_params_free(model.params);
    tg_free(x);
    tg_free(y);
    return status;
}
