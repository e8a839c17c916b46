/* SPDX-License-Identifier: MIT */
/*
** A two-layer classifier on two interleaved spirals, trained with
** cross-entropy and Adam: the kind of program the PyTorch-parity ops exist for.
**
**     classifier [steps]      (default 400)
**
** Data, generated (no randomness): for i = 0..99, t = 3 pi (i + 0.5) / 100 and
** r = t / (3 pi); sample 2i is class 0 at (r cos t, r sin t), sample 2i + 1 is
** class 1 at (-r cos t, -r sin t).  Model: Linear(2, 32), tanh, Linear(32, 2),
** the layers initialized in that order from the default generator after
** tg_manual_seed(0).  Loss: tg_cross_entropy (mean) of the logits; Adam, lr
** 0.02, full batch.  Prints `t loss` every 50 steps, then the training
** accuracy.  Uses only the public API of tensorgrad.h.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <tensorgrad.h>

#define N_PER_CLASS 100
#define HIDDEN 32

typedef struct net {
    tg_linear *l1, *l2;
    tg_params *params;
} net;

static tg_tensor *logits_of(const net *m, tg_tensor *x)
{
    return tg_linear_forward(m->l2, tg_tanh(tg_linear_forward(m->l1, x)));
}

/* The share of samples whose larger logit is their class. */
static double accuracy(tg_tensor *logits, tg_tensor *y)
{
    int64_t n = tg_shape(logits)[0], right = 0;
    const double *z = tg_data(logits), *c = tg_data(y);
    for (int64_t i = 0; i < n; i++)
        right += (z[2 * i + 1] > z[2 * i]) == (c[i] == 1.0);
    return (double)right / (double)n;
}

int main(int argc, char **argv)
{
    const long steps = argc > 1 ? strtol(argv[1], NULL, 10) : 400;
    const double pi = 3.14159265358979323846;
    double xs[4 * N_PER_CLASS], ys[2 * N_PER_CLASS];
    for (int i = 0; i < N_PER_CLASS; i++) {
        double t = 3 * pi * (i + 0.5) / N_PER_CLASS, r = t / (3 * pi);
        xs[4 * i] = r * cos(t), xs[4 * i + 1] = r * sin(t), ys[2 * i] = 0;
        xs[4 * i + 2] = -r * cos(t), xs[4 * i + 3] = -r * sin(t), ys[2 * i + 1] = 1;
    }
    tg_tensor *x = tg_from_array(2, (int64_t[]){2 * N_PER_CLASS, 2}, xs);
    tg_tensor *y = tg_from_array(1, (int64_t[]){2 * N_PER_CLASS}, ys);
    tg_manual_seed(0);
    net m = {tg_linear_new(2, HIDDEN, true), tg_linear_new(HIDDEN, 2, true), tg_params_new()};
    tg_optim *opt = NULL;
    int status = 1;
    if (!x || !y || !m.l1 || !m.l2 || !m.params || tg_params_extend(m.params, "l1.", tg_linear_params(m.l1)) ||
        tg_params_extend(m.params, "l2.", tg_linear_params(m.l2)))
        goto done;
    tg_adam_opts opts = tg_adam_defaults();
    opts.lr = 0.02;
    if (!(opt = tg_adam_new(m.params, &opts)))
        goto done;
    for (long t = 0; t < steps; t++) {
        tg_scope_begin();
        tg_tensor *loss = tg_cross_entropy(logits_of(&m, x), y, TG_REDUCTION_MEAN);
        if (loss && t % 50 == 49)
            printf("%ld %.17g\n", t, tg_item(loss));
        tg_optim_zero_grad(opt);
        bool ok = loss && tg_backward(loss, NULL) == TG_OK && tg_optim_step(opt) == TG_OK;
        tg_scope_end();
        if (!ok)
            goto done;
    }
    tg_scope_begin();
    tg_tensor *z = logits_of(&m, x);
    if (z) {
        printf("accuracy %.17g\n", accuracy(z, y));
        status = 0;
    }
    tg_scope_end();
done:
    if (status)
        fprintf(stderr, "classifier: %s\n", tg_last_error());
    tg_optim_free(opt);
    tg_params_free(m.params);
    tg_linear_free(m.l1);
    tg_linear_free(m.l2);
    tg_free(x);
    tg_free(y);
    return status;
}
