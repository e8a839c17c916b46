/* SPDX-License-Identifier: MIT */
/*
** PyTorch's tutorial "polynomial_nn", in C: a Linear layer and an MSE loss.
**
** Fits y = sin(x) on x = linspace(-pi, pi, 2000) with a Linear(3, 1) layer
** applied to the features (x, x^2, x^3), xx = x.unsqueeze(-1).pow([1, 2, 3]),
** its [2000, 1] output flattened to [2000], and the loss MSE with reduction
** sum.  The layer is initialized from the default generator after
** tg_manual_seed(0), as tg_linear_new documents.  Trains 2000 steps of
** gradient descent (learning rate 1e-6) written out over the layer's
** parameter list, printing `t loss` every 100 steps, then the fit.
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
    tg_tensor *p = tg_from_array(1, (int64_t[]){3}, (double[]){1, 2, 3});
    tg_scope_begin();
    tg_tensor *xx = tg_keep(tg_pow_tensor(tg_unsqueeze(x, -1), p));   /* [2000, 3]: x, x^2, x^3 */
    tg_scope_end();

    tg_manual_seed(0);
    tg_linear *model = tg_linear_new(3, 1, true);
    const tg_params *params = tg_linear_params(model);
    int status = !xx || !model;

    for (int t = 0; t < 2000 && status == 0; t++) {
        tg_scope_begin();
        tg_tensor *y_pred = tg_flatten(tg_linear_forward(model, xx), 0, 1);
        tg_tensor *loss = tg_mse_loss(y_pred, y, TG_REDUCTION_SUM);
        if (loss && t % 100 == 99)
            printf("%d %.17g\n", t, tg_item(loss));
        tg_params_zero_grad(params);
        if (!loss || tg_backward(loss, NULL) != TG_OK)
            status = 1;
        for (int i = 0; i < tg_params_count(params) && status == 0; i++) {   /* param -= lr * grad */
            tg_tensor *param = tg_params_get(params, i);
            double *w = tg_data(param);
            const double *g = tg_data(tg_grad(param));
            for (int64_t k = 0; k < tg_numel(param); k++)
                w[k] -= learning_rate * g[k];
        }
        tg_scope_end();
    }
    if (status == 0) {
        tg_scope_begin();
        tg_tensor *w = tg_linear_weight(model);   /* [1, 3]; w[:, i] is the coefficient of x^(i+1) */
        printf("Result: y = %.17g + %.17g x + %.17g x^2 + %.17g x^3\n", tg_item(tg_linear_bias(model)),
               tg_item(tg_select(w, 1, 0)), tg_item(tg_select(w, 1, 1)), tg_item(tg_select(w, 1, 2)));
        tg_scope_end();
    } else {
        fprintf(stderr, "training failed: %s\n", tg_last_error());
    }
    tg_linear_free(model);
    tg_free(xx);
    tg_free(p);
    tg_free(x);
    tg_free(y);
    return status;
}
