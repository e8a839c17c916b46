/* SPDX-License-Identifier: MIT */
/*
** PyTorch's tutorial "two_layer_net_custom_function", in C: a ReLU written as
** a user Function.
**
** A fully connected ReLU network with one hidden layer and no biases,
** y_pred = relu(x w1) w2, trained to map x [64, 1000] to y [64, 10] with a
** hidden layer of 100 units, the loss sum (y_pred - y)^2 and gradient descent
** (learning rate 1e-6) for 500 steps; `t loss` is printed every 100 steps.
** The matmuls are tg_matmul (one dgemm each).  x, y, w1, w2 are tg_randn
** tensors drawn in that order after tg_manual_seed(0).  `two_layer_net_custom_relu
** STEPS` stops after STEPS steps instead (the sanitizer build's test runs 100).
**
** Uses only the public API of tensorgrad.h.
*/
#include <stdio.h>
#include <stdlib.h>
#include <tensorgrad.h>

/* forward: y = max(x, 0) elementwise; saves x */
static tg_status relu_forward(tg_ctx *ctx, tg_tensor *const *inputs, tg_tensor **outputs)
{
    tg_tensor *x = inputs[0];
    tg_tensor *y = tg_zeros(tg_ndim(x), tg_shape(x));
    if (!y)
        return tg_last_status();
    const double *xd = tg_data(x);
    double *yd = tg_data(y);
    for (int64_t i = 0, n = tg_numel(x); i < n; i++)
        yd[i] = xd[i] < 0 ? 0 : xd[i];
    outputs[0] = y;
    return tg_save_for_backward(ctx, 1, inputs);
}

/* backward: dx = dy where x >= 0, 0 where x < 0 */
static tg_status relu_backward(tg_ctx *ctx, tg_tensor *const *grad_outputs, tg_tensor **grad_inputs)
{
    tg_tensor *x = tg_saved_tensor(ctx, 0), *dy = grad_outputs[0];
    tg_tensor *dx = x ? tg_zeros(tg_ndim(x), tg_shape(x)) : NULL;
    if (!dx)
        return tg_last_status();
    const double *xd = tg_data(x), *dyd = tg_data(dy);
    double *dxd = tg_data(dx);
    for (int64_t i = 0, n = tg_numel(x); i < n; i++)
        dxd[i] = xd[i] < 0 ? 0 : dyd[i];
    grad_inputs[0] = dx;
    return TG_OK;
}

static const tg_function my_relu = {
    .name = "MyReLU", .n_inputs = 1, .n_outputs = 1,
    .forward = relu_forward, .backward = relu_backward,
    .once_differentiable = true,   /* the backward is a raw loop */
};

int main(int argc, char **argv)
{
    enum { N = 64, D_IN = 1000, H = 100, D_OUT = 10 };
    const double learning_rate = 1e-6;
    const long steps = argc > 1 ? strtol(argv[1], NULL, 10) : 500;
    tg_manual_seed(0);
    tg_tensor *x = tg_randn(2, (int64_t[]){N, D_IN});
    tg_tensor *y = tg_randn(2, (int64_t[]){N, D_OUT});
    tg_tensor *w1 = tg_randn(2, (int64_t[]){D_IN, H});
    tg_tensor *w2 = tg_randn(2, (int64_t[]){H, D_OUT});
    tg_tensor *w[2] = {w1, w2};
    int status = !x || !y || !w1 || !w2;
    for (int i = 0; i < 2 && status == 0; i++)
        tg_set_requires_grad(w[i], true);

    for (long t = 0; t < steps && status == 0; t++) {
        tg_scope_begin();
        tg_tensor *h = tg_apply1(&my_relu, (tg_tensor *[]){tg_matmul(x, w1)});
        tg_tensor *y_pred = tg_matmul(h, w2);
        tg_tensor *loss = tg_sum(tg_pow(tg_sub(y_pred, y), 2));
        if (loss && t % 100 == 99)
            printf("%ld %.17g\n", t, tg_item(loss));
        if (!loss || tg_backward(loss, NULL) != TG_OK)
            status = 1;
        for (int i = 0; i < 2 && status == 0; i++) {   /* w -= lr * grad, then zero the grad */
            double *wd = tg_data(w[i]);
            const double *g = tg_data(tg_grad(w[i]));
            for (int64_t k = 0, n = tg_numel(w[i]); k < n; k++)
                wd[k] -= learning_rate * g[k];
            tg_zero_grad(w[i]);
        }
        tg_scope_end();
    }
    if (status != 0)
        fprintf(stderr, "training failed: %s\n", tg_last_error());
    tg_free(x);
    tg_free(y);
    tg_free(w1);
    tg_free(w2);
    return status;
}
