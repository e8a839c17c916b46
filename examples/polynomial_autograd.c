/* SPDX-License-Identifier: MIT */
/*
** PyTorch's tutorial "polynomial_autograd", in C: tensors and autograd.
**
** Fits y = sin(x) on x = linspace(-pi, pi, 2000) with y = a + b x + c x^2 + d x^3;
** the forward pass is recorded and tg_backward computes the gradients of the
** loss.  a, b, c, d are 0-d tg_randn tensors drawn in that order after
** tg_manual_seed(0) (the tutorial's torch.randn((), requires_grad=True)).
** Trains 2000 steps of gradient descent (learning rate 1e-6), printing
** `t loss` every 100 steps, then the fit.
**
** Uses only the public API of tensorgrad.h.
*/
#include <stdio.h>
#include <tensorgrad.h>

int main(void)
{
    const double pi = 3.14159265358979323846, learning_rate = 1e-6;
    tg_tensor *x = tg_linspace(-pi, pi, 2000);
    tg_tensor *y = tg_sin(x);

    tg_manual_seed(0);
    tg_tensor *a = tg_randn(0, NULL), *b = tg_randn(0, NULL);
    tg_tensor *c = tg_randn(0, NULL), *d = tg_randn(0, NULL);
    tg_tensor *params[4] = {a, b, c, d};
    int status = 0;
    for (int i = 0; i < 4; i++)
        tg_set_requires_grad(params[i], true);

    for (int t = 0; t < 2000 && status == 0; t++) {
        tg_scope_begin();
        tg_tensor *y_pred = tg_add(tg_add(tg_add(a, tg_mul(b, x)), tg_mul(c, tg_pow(x, 2))),
                                   tg_mul(d, tg_pow(x, 3)));
        tg_tensor *loss = tg_sum(tg_pow(tg_sub(y_pred, y), 2));
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
        printf("Result: y = %.17g + %.17g x + %.17g x^2 + %.17g x^3\n", tg_item(a), tg_item(b),
               tg_item(c), tg_item(d));
    for (int i = 0; i < 4; i++)
        tg_free(params[i]);
    tg_free(x);
    tg_free(y);
    return status;
}
