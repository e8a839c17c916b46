/* SPDX-License-Identifier: MIT */
/*
** PyTorch's tutorial "polynomial_custom_function", in C.
**
** Fits y = sin(x) on 2000 points of [-pi, pi] with y = a + b * P3(c + d x),
** where P3(x) = (5x^3 - 3x) / 2 is the Legendre polynomial of degree 3 written
** as a user-defined Function with its own forward and backward: both run over
** the whole batch in one pass.  Trains 2000 steps of plain gradient descent
** (learning rate 5e-6) and prints the loss every 100 steps, then the fit.
**
** Uses only the public API of tensorgrad.h.
*/
#include <math.h>
#include <stdio.h>
#include <tensorgrad.h>

/* forward: y = (5x^3 - 3x) / 2, one pass over the batch */
static tg_status p3_forward(tg_ctx *ctx, tg_tensor *const *inputs, tg_tensor **outputs)
{
    tg_tensor *x = inputs[0];
    tg_tensor *y = tg_zeros(tg_ndim(x), tg_shape(x));
    if (!y)
        return tg_last_status();
    const double *xd = tg_data(x);
    double *yd = tg_data(y);
    for (int64_t i = 0, n = tg_numel(x); i < n; i++)
        yd[i] = 0.5 * (5 * xd[i] * xd[i] * xd[i] - 3 * xd[i]);
    outputs[0] = y;
    return tg_save_for_backward(ctx, 1, inputs);
}

/* backward: dx = dy * 1.5 * (5x^2 - 1), one pass over the batch */
static tg_status p3_backward(tg_ctx *ctx, tg_tensor *const *grad_outputs, tg_tensor **grad_inputs)
{
    tg_tensor *x = tg_saved_tensor(ctx, 0), *dy = grad_outputs[0];
    tg_tensor *dx = tg_zeros(tg_ndim(x), tg_shape(x));
    if (!x || !dx)
        return tg_last_status();
    const double *xd = tg_data(x), *dyd = tg_data(dy);
    double *dxd = tg_data(dx);
    for (int64_t i = 0, n = tg_numel(x); i < n; i++)
        dxd[i] = dyd[i] * 1.5 * (5 * xd[i] * xd[i] - 1);
    grad_inputs[0] = dx;
    return TG_OK;
}

static const tg_function legendre_p3 = {
    .name = "LegendrePolynomial3", .n_inputs = 1, .n_outputs = 1,
    .forward = p3_forward, .backward = p3_backward,
};

int main(void)
{
    const double pi = 3.14159265358979323846, learning_rate = 5e-6;
    tg_tensor *x = tg_linspace(-pi, pi, 2000);
    tg_tensor *y = tg_sin(x);
    tg_tensor *a = tg_scalar(0.0), *b = tg_scalar(-1.0), *c = tg_scalar(0.0), *d = tg_scalar(0.3);
    tg_tensor *params[4] = {a, b, c, d};
    int status = 0;
    for (int i = 0; i < 4; i++)
        tg_set_requires_grad(params[i], true);

    for (int t = 0; t < 2000 && status == 0; t++) {
        tg_scope_begin();
        tg_tensor *p3 = tg_apply1(&legendre_p3, (tg_tensor *[]){tg_add(c, tg_mul(d, x))});
        tg_tensor *y_pred = tg_add(a, tg_mul(b, p3));
        tg_tensor *loss = tg_sum(tg_pow(tg_sub(y_pred, y), 2.0));
        if (loss && t % 100 == 99)
            printf("%d %.17g\n", t, tg_item(loss));
        if (!loss || tg_backward(loss, NULL) != TG_OK) {
            fprintf(stderr, "training failed: %s\n", tg_last_error());
            status = 1;
        }
        for (int i = 0; i < 4 && status == 0; i++) {   /* gradient descent, then grad = None */
            tg_data(params[i])[0] -= learning_rate * tg_item(tg_grad(params[i]));
            tg_zero_grad(params[i]);
        }
        tg_scope_end();
    }
    if (status == 0)
        printf("Result: y = %.17g + %.17g * P3(%.17g + %.17g x)\n", tg_item(a), tg_item(b),
               tg_item(c), tg_item(d));
    for (int i = 0; i < 4; i++)
        tg_free(params[i]);
    tg_free(x);
    tg_free(y);
    return status;
}
