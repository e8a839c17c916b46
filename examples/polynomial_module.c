/* SPDX-License-Identifier: MIT */
/*
** PyTorch's tutorial "polynomial_module", in C: a user-defined module.
**
** The polynomial y = a + b x + c x^2 + d x^3 as a module: a struct holding its
** parameters (and a tg_params list naming them, which the optimizer takes), a
** forward function and a string rendering of the fit.  Fits y = sin(x) on
** x = linspace(-pi, pi, 2000) with MSE (reduction sum) and SGD (learning rate
** 1e-6) for 2000 steps, printing `t loss` every 100 steps, then the fit.
** a, b, c, d are 0-d tg_randn tensors drawn in that order after
** tg_manual_seed(0) (the tutorial's torch.nn.Parameter(torch.randn(()))).
**
** Uses only the public API of tensorgrad.h.
*/
#include <stdio.h>
#include <tensorgrad.h>

typedef struct polynomial3 {
    tg_tensor *a, *b, *c, *d;   /* borrowed from params, which owns them */
    tg_params *params;
} polynomial3;

/* Four parameters drawn from the default generator; false (error recorded) on failure. */
static bool polynomial3_init(polynomial3 *m)
{
    const char *names[4] = {"a", "b", "c", "d"};
    tg_tensor **slots[4] = {&m->a, &m->b, &m->c, &m->d};
    if (!(m->params = tg_params_new()))
        return false;
    for (int i = 0; i < 4; i++) {
        tg_tensor *t = tg_randn(0, NULL);
        bool ok = t && tg_set_requires_grad(t, true) == TG_OK && tg_params_add(m->params, names[i], t) == TG_OK;
        tg_free(t);   /* the list holds its own reference */
        if (!ok)
            return false;
        *slots[i] = tg_params_get(m->params, i);
    }
    return true;
}

static tg_tensor *polynomial3_forward(const polynomial3 *m, tg_tensor *x)
{
    return tg_add(tg_add(tg_add(m->a, tg_mul(m->b, x)), tg_mul(m->c, tg_pow(x, 2))),
                  tg_mul(m->d, tg_pow(x, 3)));
}

/* "y = a + b x + c x^2 + d x^3" with the current values, into buf. */
static const char *polynomial3_string(const polynomial3 *m, char *buf, size_t size)
{
    snprintf(buf, size, "y = %.17g + %.17g x + %.17g x^2 + %.17g x^3", tg_item(m->a),
             tg_item(m->b), tg_item(m->c), tg_item(m->d));
    return buf;
}

int main(void)
{
    const double pi = 3.14159265358979323846;
    tg_tensor *x = tg_linspace(-pi, pi, 2000);
    tg_tensor *y = tg_sin(x);

    tg_manual_seed(0);
    polynomial3 model = {0};
    tg_sgd_opts opts = tg_sgd_defaults(1e-6);
    tg_optim *optimizer = polynomial3_init(&model) ? tg_sgd_new(model.params, &opts) : NULL;
    int status = !x || !y || !optimizer;

    for (int t = 0; t < 2000 && status == 0; t++) {
        tg_scope_begin();
        tg_tensor *loss = tg_mse_loss(polynomial3_forward(&model, x), y, TG_REDUCTION_SUM);
        if (loss && t % 100 == 99)
            printf("%d %.17g\n", t, tg_item(loss));
        tg_optim_zero_grad(optimizer);
        if (!loss || tg_backward(loss, NULL) != TG_OK || tg_optim_step(optimizer) != TG_OK)
            status = 1;
        tg_scope_end();
    }
    char text[256];
    if (status == 0)
        printf("Result: %s\n", polynomial3_string(&model, text, sizeof text));
    else
        fprintf(stderr, "training failed: %s\n", tg_last_error());
    tg_optim_free(optimizer);
    tg_params_free(model.params);
    tg_free(x);
    tg_free(y);
    return status;
}
