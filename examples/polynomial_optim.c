/* SPDX-License-Identifier: MIT */
/*
** PyTorch's tutorial "polynomial_optim", in C: optimizers.
**
**     polynomial_optim [rmsprop | sgd | lbfgs]      (no argument: rmsprop)
**
** The model of polynomial_nn: Linear(3, 1) on (x, x^2, x^3) flattened, MSE with
** reduction sum, fitting y = sin(x) on x = linspace(-pi, pi, 2000), the layer
** initialized from the default generator after tg_manual_seed(0).  Trained by
**   rmsprop  RMSprop, learning rate 1e-3, 2000 steps (the tutorial);
**   sgd      SGD, learning rate 1e-6, 2000 steps;
** printing `t loss` every 100 steps, or by
**   lbfgs    L-BFGS with the strong-Wolfe line search (PyTorch's defaults
**            otherwise: up to 20 iterations a step), printing `t loss` after
**            every step until the loss stops changing, which happens at the
**            least-squares optimum after a handful of steps, not thousands.
** Then the fit.  Uses only the public API of tensorgrad.h.
*/
#include <stdio.h>
#include <string.h>
#include <tensorgrad.h>

typedef struct problem {
    tg_linear *model;
    tg_tensor *xx, *y;
} problem;

/* sum (Linear(xx) - y)^2, a 0-d tensor of the current scope */
static tg_tensor *loss_of(const problem *pb)
{
    tg_tensor *y_pred = tg_flatten(tg_linear_forward(pb->model, pb->xx), 0, 1);
    return tg_mse_loss(y_pred, pb->y, TG_REDUCTION_SUM);
}

/* The closure L-BFGS re-evaluates: clear the gradients, loss, backward. */
static tg_tensor *closure(void *user)
{
    const problem *pb = user;
    tg_params_zero_grad(tg_linear_params(pb->model));
    tg_tensor *loss = loss_of(pb);
    return loss && tg_backward(loss, NULL) == TG_OK ? loss : NULL;
}

/* The tutorial's loop: 2000 steps, `t loss` every 100. */
static int train(const problem *pb, tg_optim *optimizer)
{
    for (int t = 0; t < 2000; t++) {
        tg_scope_begin();
        tg_tensor *loss = loss_of(pb);
        if (loss && t % 100 == 99)
            printf("%d %.17g\n", t, tg_item(loss));
        tg_optim_zero_grad(optimizer);
        bool ok = loss && tg_backward(loss, NULL) == TG_OK && tg_optim_step(optimizer) == TG_OK;
        tg_scope_end();
        if (!ok)
            return 1;
    }
    return 0;
}

/* L-BFGS steps until the loss a step starts from equals the previous one. */
static int train_lbfgs(problem *pb, tg_optim *optimizer)
{
    double loss, previous = -1;
    for (int t = 0; t < 100; t++) {
        tg_scope_begin();
        tg_status st = tg_optim_step_closure(optimizer, closure, pb, &loss);
        tg_scope_end();
        if (st != TG_OK)
            return 1;
        printf("%d %.17g\n", t, loss);
        if (loss == previous)
            return 0;
        previous = loss;
    }
    fprintf(stderr, "L-BFGS did not settle in 100 steps\n");
    return 1;
}

int main(int argc, char **argv)
{
    const char *method = argc >= 2 ? argv[1] : "rmsprop";   /* the tutorial's optimizer */
    if (argc > 2 || (strcmp(method, "rmsprop") != 0 && strcmp(method, "sgd") != 0 &&
                     strcmp(method, "lbfgs") != 0)) {
        fprintf(stderr, "usage: %s [rmsprop | sgd | lbfgs]\n", argv[0]);
        return 2;
    }
    const double pi = 3.14159265358979323846;
    tg_tensor *x = tg_linspace(-pi, pi, 2000);
    tg_tensor *p = tg_from_array(1, (int64_t[]){3}, (double[]){1, 2, 3});
    problem pb = {.y = tg_sin(x)};
    tg_scope_begin();
    pb.xx = tg_keep(tg_pow_tensor(tg_unsqueeze(x, -1), p));   /* [2000, 3]: x, x^2, x^3 */
    tg_scope_end();
    tg_manual_seed(0);
    pb.model = tg_linear_new(3, 1, true);

    tg_optim *optimizer = NULL;
    const tg_params *params = tg_linear_params(pb.model);
    if (strcmp(method, "rmsprop") == 0) {
        tg_rmsprop_opts opts = tg_rmsprop_defaults();
        opts.lr = 1e-3;
        optimizer = tg_rmsprop_new(params, &opts);
    } else if (strcmp(method, "sgd") == 0) {
        tg_sgd_opts opts = tg_sgd_defaults(1e-6);
        optimizer = tg_sgd_new(params, &opts);
    } else {
        tg_lbfgs_opts opts = tg_lbfgs_defaults();
        opts.strong_wolfe = true;
        optimizer = tg_lbfgs_new(params, &opts);
    }
    int status = 1;
    if (pb.xx && pb.y && optimizer)
        status = strcmp(method, "lbfgs") == 0 ? train_lbfgs(&pb, optimizer) : train(&pb, optimizer);
    if (status == 0) {
        tg_scope_begin();
        tg_tensor *w = tg_linear_weight(pb.model);   /* [1, 3]; w[:, i] multiplies x^(i+1) */
        printf("Result: y = %.17g + %.17g x + %.17g x^2 + %.17g x^3\n", tg_item(tg_linear_bias(pb.model)),
               tg_item(tg_select(w, 1, 0)), tg_item(tg_select(w, 1, 1)), tg_item(tg_select(w, 1, 2)));
        tg_scope_end();
    } else {
        fprintf(stderr, "training failed: %s\n", tg_last_error());
    }
    tg_optim_free(optimizer);
    tg_linear_free(pb.model);
    tg_free(pb.xx);
    tg_free(pb.y);
    tg_free(p);
    tg_free(x);
    return status;
}
