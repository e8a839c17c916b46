/* SPDX-License-Identifier: MIT */
/*
** Optimizers: SGD, RMSprop, Adam, AdamW and L-BFGS against the trajectories
** PyTorch 1.13 takes from the same start (tests/data/optim.txt, written by
** tests/reference/make_optim_reference.py: the configuration table below is
** that script's CONFIGS), option validation, skipped parameters, zero_grad,
** closures, references kept to the parameters, and L-BFGS reaching a
** least-squares optimum far sooner than SGD.
*/
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define DATA "optim.txt"
#define RTOL 1e-10

/* ------------------------------------------------------------ the problems */

typedef struct problem {
    tg_tensor *X, *X2, *y;     /* fit data, or NULL for Rosenbrock */
    tg_tensor *w, *B;          /* the parameters, [3] and [2,2] */
    tg_params *params;         /* w, B */
    int calls;                 /* closure evaluations */
} problem;

/* mean((X w + rowsum(tanh(X2 B)) - y)^2) */
static tg_tensor *fit_loss(const problem *p)
{
    tg_tensor *lin = tg_matmul(p->X, tg_reshape(p->w, 2, (int64_t[]){3, 1}));
    tg_tensor *pred = tg_add(lin, tg_sum_dim(tg_tanh(tg_matmul(p->X2, p->B)), 1, true));
    return tg_mean(tg_pow(tg_sub(pred, p->y), 2.0));
}

/* sum_i 100 (z[i+1] - z[i]^2)^2 + (1 - z[i])^2, z = (w, B flattened), left to right */
static tg_tensor *rosenbrock(const problem *p)
{
    tg_tensor *z[7], *total = NULL;
    for (int k = 0; k < 3; k++)
        z[k] = tg_select(p->w, 0, k);
    for (int k = 0; k < 4; k++)
        z[3 + k] = tg_select(tg_select(p->B, 0, k / 2), 0, k % 2);
    for (int i = 0; i < 6; i++) {
        tg_tensor *a = tg_affine(tg_pow(tg_sub(z[i + 1], tg_pow(z[i], 2.0)), 2.0), 100.0, 0.0);
        tg_tensor *term = tg_add(a, tg_pow(tg_affine(z[i], -1.0, 1.0), 2.0));
        total = total ? tg_add(total, term) : term;
    }
    return total;
}

static tg_tensor *closure(void *user)
{
    problem *p = user;
    p->calls++;
    tg_params_zero_grad(p->params);
    tg_tensor *loss = p->X ? fit_loss(p) : rosenbrock(p);
    return tg_backward(loss, NULL) == TG_OK ? loss : NULL;
}

/* The common start; the data tensors only when fit. */
static void problem_init(problem *p, bool fit)
{
    memset(p, 0, sizeof *p);
    if (fit) {
        p->X = tgt_ref_tensor(DATA, "fit.X");
        p->X2 = tgt_ref_tensor(DATA, "fit.X2");
        p->y = tgt_ref_tensor(DATA, "fit.y");
    }
    p->w = tgt_ref_tensor(DATA, "start.w");
    p->B = tgt_ref_tensor(DATA, "start.B");
    tg_set_requires_grad(p->w, true);
    tg_set_requires_grad(p->B, true);
    p->params = tg_params_new();
    assert_status(TG_OK, tg_params_add(p->params, "w", p->w));
    assert_status(TG_OK, tg_params_add(p->params, "B", p->B));
}

/* ------------------------------------------------- PyTorch's trajectories */

typedef enum kind { SGD, RMSPROP, ADAM, ADAMW, LBFGS, ADAGRAD, NADAM } kind;

typedef struct config {
    const char *name;
    kind kind;
    bool rosenbrock;
    tg_sgd_opts sgd;
    tg_rmsprop_opts rms;
    tg_adam_opts adam;
    tg_lbfgs_opts lbfgs;
    tg_adagrad_opts adagrad;
    tg_nadam_opts nadam;
    char sched;                /* 's' StepLR, 'c' CosineAnnealingLR, after each step */
    int64_t sched_n;           /* step_size / T_max */
    double sched_x;            /* gamma / eta_min */
} config;

#define RMS(...) .kind = RMSPROP, .rms = {.alpha = 0.99, .eps = 1e-8, __VA_ARGS__}
#define ADAM_(k, ...) .kind = k, .adam = {.beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, __VA_ARGS__}
#define LBFGS_(...) .kind = LBFGS, .lbfgs = {.tolerance_grad = 1e-7, .tolerance_change = 1e-9, \
                                             __VA_ARGS__}

static const config configs[] = {
    {"sgd_plain", .kind = SGD, .sgd = {.lr = 0.1}},
    {"sgd_momentum", .kind = SGD, .sgd = {.lr = 0.05, .momentum = 0.9}},
    {"sgd_dampening", .kind = SGD, .sgd = {.lr = 0.05, .momentum = 0.9, .dampening = 0.3}},
    {"sgd_nesterov", .kind = SGD, .sgd = {.lr = 0.05, .momentum = 0.9, .nesterov = true}},
    {"sgd_weight_decay", .kind = SGD, .sgd = {.lr = 0.1, .momentum = 0.5, .weight_decay = 0.1}},
    {"sgd_maximize", .kind = SGD, .sgd = {.lr = 0.01, .momentum = 0.5, .maximize = true}},
    {"rmsprop_plain", RMS(.lr = 0.01)},
    {"rmsprop_centered", RMS(.lr = 0.01, .centered = true)},
    {"rmsprop_momentum", RMS(.lr = 0.01, .momentum = 0.9)},
    {"rmsprop_weight_decay", .kind = RMSPROP, .rms = {.lr = 0.01, .alpha = 0.9, .eps = 1e-8, .weight_decay = 0.1}},
    {"rmsprop_all", .kind = RMSPROP, .rms = {.lr = 0.01, .alpha = 0.95, .eps = 1e-6, .weight_decay = 0.05,
                                             .momentum = 0.5, .centered = true, .maximize = true}},
    {"adam_plain", ADAM_(ADAM, .lr = 0.05)},
    {"adam_amsgrad", ADAM_(ADAM, .lr = 0.05, .amsgrad = true)},
    {"adam_weight_decay", .kind = ADAM, .adam = {.lr = 0.05, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-8,
                                                 .weight_decay = 0.1}},
    {"adam_maximize", .kind = ADAM, .adam = {.lr = 0.01, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-6,
                                             .maximize = true}},
    {"adamw_plain", ADAM_(ADAMW, .lr = 0.05, .weight_decay = 1e-2)},
    {"adamw_amsgrad", ADAM_(ADAMW, .lr = 0.05, .weight_decay = 0.1, .amsgrad = true)},
    {"adagrad_plain", .kind = ADAGRAD, .adagrad = {.lr = 0.1, .eps = 1e-10}},
    {"adagrad_all", .kind = ADAGRAD, .adagrad = {.lr = 0.1, .lr_decay = 0.05, .weight_decay = 0.1,
                                                 .initial_accumulator_value = 0.2, .eps = 1e-6, .maximize = true}},
    {"nadam_plain", .kind = NADAM, .nadam = {.lr = 0.05, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
                                             .momentum_decay = 4e-3}},
    {"nadam_all", .kind = NADAM, .nadam = {.lr = 0.05, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6,
                                           .weight_decay = 0.1, .momentum_decay = 0.01}},
    {"sgd_step_lr", .kind = SGD, .sgd = {.lr = 0.1, .momentum = 0.5}, .sched = 's', .sched_n = 3, .sched_x = 0.5},
    {"adam_cosine_lr", ADAM_(ADAM, .lr = 0.05), .sched = 'c', .sched_n = 4, .sched_x = 0.01},
    {"lbfgs_plain", LBFGS_(.lr = 0.5, .max_iter = 5, .history_size = 100)},
    {"lbfgs_history", LBFGS_(.lr = 1, .max_iter = 6, .max_eval = 20, .history_size = 3)},
    {"lbfgs_wolfe", .rosenbrock = true, LBFGS_(.lr = 1, .max_iter = 20, .history_size = 100, .strong_wolfe = true)},
    {"lbfgs_wolfe_fit", LBFGS_(.lr = 1, .max_iter = 5, .history_size = 3, .strong_wolfe = true)},
};

static tg_optim *make(const config *c, const tg_params *params)
{
    switch (c->kind) {
    case SGD: return tg_sgd_new(params, &c->sgd);
    case RMSPROP: return tg_rmsprop_new(params, &c->rms);
    case ADAM: return tg_adam_new(params, &c->adam);
    case ADAMW: return tg_adamw_new(params, &c->adam);
    case LBFGS: return tg_lbfgs_new(params, &c->lbfgs);
    case ADAGRAD: return tg_adagrad_new(params, &c->adagrad);
    case NADAM: return tg_nadam_new(params, &c->nadam);
    }
    return NULL;
}

/* Largest |actual - expected| / |expected| over n values (0 / 0 counts 0). */
static double rel_diff(int64_t n, const double *actual, const double *expected)
{
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs(actual[i] - expected[i]);
        worst = fmax(worst, d == 0 ? 0 : d / fabs(expected[i]));
    }
    return worst;
}

static double check_params(const config *c, const problem *p, int t)
{
    char key[64];
    double worst = 0;
    tg_tensor *ts[2] = {p->w, p->B};
    for (int k = 0; k < 2; k++) {
        snprintf(key, sizeof key, "%s.%s.%d", c->name, k ? "B" : "w", t);
        tgt_assert_tensor_close(key, ts[k], DATA, key, RTOL, 0);
        double expected[4];
        assert_int_equal(tgt_ref(DATA, key, expected, 4), tg_numel(ts[k]));
        worst = fmax(worst, rel_diff(tg_numel(ts[k]), tg_data(ts[k]), expected));
    }
    return worst;
}

/* Runs configuration c from the common start; returns the worst relative
** difference from PyTorch over the checked parameters and the losses. */
static double run_config(const config *c)
{
    char key[64];
    double ref[16], loss[16], worst = 0;
    snprintf(key, sizeof key, "%s.steps", c->name);
    tgt_ref(DATA, key, ref, 1);
    int steps = (int)ref[0];
    tg_scope_begin();
    problem p;
    problem_init(&p, !c->rosenbrock);
    tg_optim *o = make(c, p.params);
    if (!o)
        fail_msg("%s: %s", c->name, tg_last_error());
    tg_lr_schedule *sched = c->sched == 's' ? tg_step_lr_new(o, c->sched_n, c->sched_x)
                            : c->sched == 'c' ? tg_cosine_lr_new(o, c->sched_n, c->sched_x) : NULL;
    if (c->sched && !sched)
        fail_msg("%s: %s", c->name, tg_last_error());
    for (int t = 1; t <= steps; t++) {
        tg_scope_begin();
        if (c->kind == LBFGS) {
            assert_status(TG_OK, tg_optim_step_closure(o, closure, &p, &loss[t - 1]));
        } else {
            loss[t - 1] = tg_item(closure(&p));
            assert_status(TG_OK, tg_optim_step(o));
            if (sched)
                assert_status(TG_OK, tg_lr_schedule_step(sched));
        }
        tg_scope_end();
        if (t == 1 || t == 2 || t == steps)
            worst = fmax(worst, check_params(c, &p, t));
    }
    snprintf(key, sizeof key, "%s.loss", c->name);
    assert_int_equal(tgt_ref(DATA, key, ref, 16), steps);
    /* a loss near its minimum is mostly rounding: relative to the first one */
    assert_allclose(key, steps, loss, ref, RTOL, RTOL * fabs(ref[0]));
    for (int t = 0; t < steps; t++)
        worst = fmax(worst, fabs(loss[t] - ref[t]) / fmax(fabs(ref[t]), fabs(ref[0])));
    tg_lr_schedule_free(sched);
    tg_optim_free(o);
    tg_params_free(p.params);
    tg_scope_end();
    return worst;
}

/* Every configuration whose name starts with prefix; prints the worst difference. */
static void run_family(const char *prefix)
{
    double worst = 0;
    int n = 0;
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        if (strncmp(configs[i].name, prefix, strlen(prefix)) != 0)
            continue;
        worst = fmax(worst, run_config(&configs[i]));
        n++;
    }
    assert_true(n > 0);
    printf("%s: %d configurations, worst relative difference from PyTorch %.2e\n", prefix, n, worst);
}

static void test_sgd_matches_pytorch_trajectories(void **state) { (void)state; run_family("sgd_"); }
static void test_rmsprop_matches_pytorch_trajectories(void **state) { (void)state; run_family("rmsprop_"); }
static void test_adam_matches_pytorch_trajectories(void **state) { (void)state; run_family("adam_"); }
static void test_adamw_matches_pytorch_trajectories(void **state) { (void)state; run_family("adamw_"); }
static void test_lbfgs_matches_pytorch_trajectories(void **state) { (void)state; run_family("lbfgs_"); }
static void test_adagrad_matches_pytorch_trajectories(void **state) { (void)state; run_family("adagrad_"); }
static void test_nadam_matches_pytorch_trajectories(void **state) { (void)state; run_family("nadam_"); }

/* StepLR and CosineAnnealingLR set the rates PyTorch's recursive forms give */
static void test_lr_schedules_set_the_optimizer_rate(void **state)
{
    (void)state;
    tg_scope_begin();
    problem p;
    problem_init(&p, false);
    tg_optim *o = tg_nadam_new(p.params, &(tg_nadam_opts){.lr = 0.1, .beta1 = 0.9, .beta2 = 0.999});
    tg_lr_schedule *st = tg_step_lr_new(o, 2, 0.5);
    assert_non_null(st);
    const double want[5] = {0.1, 0.05, 0.05, 0.025, 0.025};
    for (int e = 0; e < 5; e++) {
        assert_status(TG_OK, tg_lr_schedule_step(st));
        assert_true(tg_optim_lr(o) == want[e]);
    }
    tg_lr_schedule_free(st);
    assert_status(TG_OK, tg_optim_set_lr(o, 0.1));
    tg_lr_schedule *cs = tg_cosine_lr_new(o, 4, 0.0);
    double lr[8];
    for (int e = 0; e < 8; e++) {
        assert_status(TG_OK, tg_lr_schedule_step(cs));
        lr[e] = tg_optim_lr(o);
    }
    /* down to eta_min at T_max, back up to the base rate at 2 T_max */
    assert_allclose("cosine", 8, lr,
                    ((double[]){0.1 * (1 + cos(M_PI / 4)) / 2, 0.05, 0.1 * (1 + cos(3 * M_PI / 4)) / 2, 0.0,
                                0.1 * (1 - cos(M_PI / 4)) / 2, 0.05, 0.1 * (1 - cos(3 * M_PI / 4)) / 2, 0.1}),
                    1e-14, 1e-17);
    tg_lr_schedule_free(cs);
    tg_lr_schedule_free(NULL);
    tg_optim_free(o);
    tg_params_free(p.params);
    tg_scope_end();
}

/* ------------------------------------------------------------ behaviour */

static void test_defaults_are_pytorchs(void **state)
{
    (void)state;
    tg_sgd_opts s = tg_sgd_defaults(0.1);
    assert_true(s.lr == 0.1 && s.momentum == 0 && s.dampening == 0 && s.weight_decay == 0 && !s.nesterov &&
                !s.maximize);
    tg_rmsprop_opts r = tg_rmsprop_defaults();
    assert_true(r.lr == 1e-2 && r.alpha == 0.99 && r.eps == 1e-8 && r.weight_decay == 0 && r.momentum == 0 &&
                !r.centered && !r.maximize);
    tg_adam_opts a = tg_adam_defaults(), w = tg_adamw_defaults();
    assert_true(a.lr == 1e-3 && a.beta1 == 0.9 && a.beta2 == 0.999 && a.eps == 1e-8 && a.weight_decay == 0 &&
                !a.amsgrad && !a.maximize);
    assert_true(w.lr == 1e-3 && w.beta1 == 0.9 && w.beta2 == 0.999 && w.eps == 1e-8 && w.weight_decay == 1e-2);
    tg_lbfgs_opts l = tg_lbfgs_defaults();
    assert_true(l.lr == 1 && l.max_iter == 20 && l.max_eval == 0 && l.tolerance_grad == 1e-7 &&
                l.tolerance_change == 1e-9 && l.history_size == 100 && !l.strong_wolfe);
    tg_adagrad_opts g = tg_adagrad_defaults();
    assert_true(g.lr == 1e-2 && g.lr_decay == 0 && g.weight_decay == 0 && g.initial_accumulator_value == 0 &&
                g.eps == 1e-10 && !g.maximize);
    tg_nadam_opts n = tg_nadam_defaults();
    assert_true(n.lr == 2e-3 && n.beta1 == 0.9 && n.beta2 == 0.999 && n.eps == 1e-8 && n.weight_decay == 0 &&
                n.momentum_decay == 4e-3);
}

static void test_invalid_options_are_rejected_naming_function_and_value(void **state)
{
    (void)state;
    tg_scope_begin();
    problem p;
    problem_init(&p, false);
    tg_sgd_opts s = tg_sgd_defaults(-0.5);
    assert_null(tg_sgd_new(p.params, &s));
    assert_error(TG_ERR_ARG, "tg_sgd_new: lr is -0.5");
    s = (tg_sgd_opts){.lr = 0.1, .nesterov = true};
    assert_null(tg_sgd_new(p.params, &s));
    assert_error(TG_ERR_ARG, "nesterov needs momentum > 0");
    s = (tg_sgd_opts){.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true};
    assert_null(tg_sgd_new(p.params, &s));
    assert_error(TG_ERR_ARG, "dampening 0.1");
    s = (tg_sgd_opts){.lr = 0.1, .momentum = -1};
    assert_null(tg_sgd_new(p.params, &s));
    assert_error(TG_ERR_ARG, "momentum is -1");
    tg_rmsprop_opts r = tg_rmsprop_defaults();
    r.alpha = -0.25;
    assert_null(tg_rmsprop_new(p.params, &r));
    assert_error(TG_ERR_ARG, "tg_rmsprop_new: alpha is -0.25");
    r = tg_rmsprop_defaults();
    r.eps = -1e-8;
    assert_null(tg_rmsprop_new(p.params, &r));
    assert_error(TG_ERR_ARG, "eps is -1e-08");
    tg_adam_opts a = tg_adam_defaults();
    a.beta1 = 1.0;
    assert_null(tg_adam_new(p.params, &a));
    assert_error(TG_ERR_ARG, "tg_adam_new: beta1 is 1 (must be in [0, 1))");
    a = tg_adamw_defaults();
    a.beta2 = -0.1;
    assert_null(tg_adamw_new(p.params, &a));
    assert_error(TG_ERR_ARG, "tg_adamw_new: beta2 is -0.1");
    a = tg_adamw_defaults();
    a.weight_decay = NAN;
    assert_null(tg_adamw_new(p.params, &a));
    assert_error(TG_ERR_ARG, "weight_decay is nan");
    tg_lbfgs_opts l = tg_lbfgs_defaults();
    l.history_size = 0;
    assert_null(tg_lbfgs_new(p.params, &l));
    assert_error(TG_ERR_ARG, "tg_lbfgs_new: history_size is 0");
    tg_params_free(p.params);
    tg_scope_end();
}

static void test_null_or_empty_params_are_rejected(void **state)
{
    (void)state;
    tg_sgd_opts s = tg_sgd_defaults(0.1);
    assert_null(tg_sgd_new(NULL, &s));
    assert_error(TG_ERR_ARG, "tg_sgd_new: params is NULL");
    tg_params *empty = tg_params_new();
    assert_null(tg_adam_new(empty, &(tg_adam_opts){.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999}));
    assert_error(TG_ERR_ARG, "tg_adam_new: the parameter list is empty");
    assert_null(tg_lbfgs_new(empty, NULL));
    assert_error(TG_ERR_ARG, "tg_lbfgs_new: opts is NULL");
    tg_params_free(empty);
    tg_optim_free(NULL);
    tg_optim_zero_grad(NULL);
    assert_status(TG_ERR_ARG, tg_optim_step(NULL));
    tg_clear_error();
}

/* b only enters the loss from the third step on: until then Adam skips it
** (no state, no step count), then its first update is Adam's first step. */
static void test_parameter_without_grad_is_skipped(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *a = tg_scalar(1.5), *b = tg_scalar(-0.75);
    tg_set_requires_grad(a, true);
    tg_set_requires_grad(b, true);
    tg_params *ps = tg_params_new();
    tg_params_add(ps, "a", a);
    tg_params_add(ps, "b", b);
    tg_adam_opts opts = tg_adam_defaults();
    opts.lr = 0.1;
    tg_optim *o = tg_adam_new(ps, &opts);
    for (int t = 1; t <= 3; t++) {
        tg_optim_zero_grad(o);
        tg_scope_begin();
        tg_tensor *loss = tg_mul(a, a);
        if (t == 3)
            loss = tg_add(loss, tg_pow(b, 3.0));
        assert_status(TG_OK, tg_backward(loss, NULL));
        if (t < 3)
            assert_null(tg_grad(b));
        assert_status(TG_OK, tg_optim_step(o));
        if (t < 3)
            assert_true(tg_item(b) == -0.75);
        tg_scope_end();
    }
    /* first step from zero moments: g = 3 b^2; m = 0.1 g, v = 0.001 g g */
    double g = 3 * 0.75 * 0.75, m = (1 - 0.9) * g, v = (1 - 0.999) * g * g;
    double denom = sqrt(v) / sqrt(1 - 0.999) + 1e-8;
    double expect = -0.75 + -(0.1 / (1 - 0.9)) * m / denom;
    assert_allclose("b after its first update", 1, tg_data(b), &expect, 1e-15, 0);
    tg_optim_free(o);
    tg_params_free(ps);
    tg_scope_end();
}

static void test_zero_grad_drops_every_gradient(void **state)
{
    (void)state;
    tg_scope_begin();
    problem p;
    problem_init(&p, true);
    tg_optim *o = tg_sgd_new(p.params, &(tg_sgd_opts){.lr = 0.1});
    tg_scope_begin();
    closure(&p);
    tg_scope_end();
    assert_non_null(tg_grad(p.w));
    assert_non_null(tg_grad(p.B));
    tg_optim_zero_grad(o);
    assert_null(tg_grad(p.w));
    assert_null(tg_grad(p.B));
    assert_status(TG_OK, tg_optim_step(o));   /* nothing to do */
    double w0[3];
    tgt_ref(DATA, "start.w", w0, 3);
    assert_allclose("w unchanged", 3, tg_data(p.w), w0, 0, 0);
    tg_optim_free(o);
    tg_params_free(p.params);
    tg_scope_end();
}

static void test_step_closure_returns_the_first_loss(void **state)
{
    (void)state;
    tg_scope_begin();
    problem p;
    problem_init(&p, true);
    tg_optim *sgd = tg_sgd_new(p.params, &(tg_sgd_opts){.lr = 0.1});
    double loss = 0, ref[2];
    tgt_ref(DATA, "sgd_plain.loss", ref, 2);
    assert_status(TG_OK, tg_optim_step_closure(sgd, closure, &p, &loss));
    assert_int_equal(p.calls, 1);
    assert_allclose("SGD closure loss", 1, &loss, &ref[0], RTOL, 0);
    tgt_assert_tensor_close("w after one closure step", p.w, DATA, "sgd_plain.w.1", RTOL, 0);
    tg_optim_free(sgd);
    tg_lbfgs_opts l = tg_lbfgs_defaults();
    l.strong_wolfe = true;
    tg_optim *lbfgs = tg_lbfgs_new(p.params, &l);
    p.calls = 0;
    double first = tg_item(closure(&p));
    p.calls = 0;
    assert_status(TG_OK, tg_optim_step_closure(lbfgs, closure, &p, &loss));
    assert_true(p.calls > 1);
    assert_true(loss == first);
    tg_optim_free(lbfgs);
    tg_params_free(p.params);
    tg_scope_end();
}

static tg_tensor *failing_closure(void *user)
{
    (void)user;
    tg_set_error(TG_ERR_SHAPE, "my_model: bad shapes");
    return NULL;
}

static void test_lbfgs_needs_a_closure_and_closure_errors_propagate(void **state)
{
    (void)state;
    tg_scope_begin();
    problem p;
    problem_init(&p, false);
    tg_lbfgs_opts l = tg_lbfgs_defaults();
    tg_optim *o = tg_lbfgs_new(p.params, &l);
    assert_status(TG_ERR_STATE, tg_optim_step(o));
    assert_error(TG_ERR_STATE, "needs a closure");
    assert_status(TG_ERR_SHAPE, tg_optim_step_closure(o, failing_closure, NULL, NULL));
    assert_error(TG_ERR_SHAPE, "my_model");
    assert_status(TG_ERR_ARG, tg_optim_step_closure(o, NULL, NULL, NULL));
    assert_error(TG_ERR_ARG, "closure is NULL");
    tg_optim_free(o);
    tg_params_free(p.params);
    tg_scope_end();
}

/* The list and the scope that made the tensors are gone; the optimizer's own
** references keep them alive and updated. */
static void test_optimizer_keeps_its_parameters_alive(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = tg_scalar(2.0);
    tg_set_requires_grad(x, true);
    tg_params *ps = tg_params_new();
    tg_params_add(ps, "x", x);
    tg_optim *o = tg_sgd_new(ps, &(tg_sgd_opts){.lr = 0.25});
    tg_params_free(ps);
    tg_scope_end();
    tg_scope_begin();
    assert_status(TG_OK, tg_backward(tg_mul(x, x), NULL));   /* x is still valid: dx = 4 */
    assert_status(TG_OK, tg_optim_step(o));
    assert_true(tg_item(x) == 1.0);
    tg_scope_end();
    tg_optim_free(o);
}

typedef struct lsq {
    tg_tensor *X, *y, *c;
    int calls;
} lsq;

static tg_tensor *lsq_closure(void *user)
{
    lsq *q = user;
    q->calls++;
    tg_zero_grad(q->c);
    tg_tensor *loss = tg_mean(tg_pow(tg_sub(tg_matmul(q->X, tg_reshape(q->c, 2, (int64_t[]){4, 1})), q->y), 2.0));
    return tg_backward(loss, NULL) == TG_OK ? loss : NULL;
}

/* Fits c (1, x, x^2, x^3) to sin(pi x) from zeros with L-BFGS (strong Wolfe)
** or SGD for `steps` steps; returns the largest error from the least-squares
** coefficients relative to the largest of them, and the closure calls in *calls. */
static double fit_to_optimum(bool use_lbfgs, int steps, int *calls)
{
    tg_scope_begin();
    lsq q = {tgt_ref_tensor(DATA, "lstsq.X"), tgt_ref_tensor(DATA, "fit.y"), tg_zeros(1, (int64_t[]){4}), 0};
    tg_set_requires_grad(q.c, true);
    tg_params *ps = tg_params_new();
    tg_params_add(ps, "c", q.c);
    tg_lbfgs_opts l = tg_lbfgs_defaults();
    l.strong_wolfe = true;
    l.tolerance_grad = 1e-12;
    l.tolerance_change = 1e-15;
    tg_optim *o = use_lbfgs ? tg_lbfgs_new(ps, &l) : tg_sgd_new(ps, &(tg_sgd_opts){.lr = 0.5});
    for (int t = 0; t < steps; t++) {
        tg_scope_begin();
        assert_status(TG_OK, tg_optim_step_closure(o, lsq_closure, &q, NULL));
        tg_scope_end();
    }
    double coef[4];
    assert_int_equal(tgt_ref(DATA, "lstsq.coef", coef, 4), 4);
    double err = 0, scale = 0;   /* relative to the largest coefficient: the even ones are ~0 */
    for (int i = 0; i < 4; i++) {
        err = fmax(err, fabs(tg_data(q.c)[i] - coef[i]));
        scale = fmax(scale, fabs(coef[i]));
    }
    err /= scale;
    *calls = q.calls;
    tg_optim_free(o);
    tg_params_free(ps);
    tg_scope_end();
    return err;
}

static void test_lbfgs_reaches_least_squares_optimum_far_sooner_than_sgd(void **state)
{
    (void)state;
    int lbfgs_calls, sgd_calls;
    double lbfgs_err = fit_to_optimum(true, 3, &lbfgs_calls);
    double sgd_err = fit_to_optimum(false, 2 * lbfgs_calls, &sgd_calls);   /* twice the evaluations */
    printf("least squares: L-BFGS %d evaluations, error %.1e; SGD %d evaluations, error %.1e\n", lbfgs_calls,
           lbfgs_err, sgd_calls, sgd_err);
    assert_true(lbfgs_err < 1e-6);
    assert_true(lbfgs_calls <= 60);
    assert_true(sgd_err > 1e-2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd_matches_pytorch_trajectories),
        cmocka_unit_test(test_rmsprop_matches_pytorch_trajectories),
        cmocka_unit_test(test_adam_matches_pytorch_trajectories),
        cmocka_unit_test(test_adamw_matches_pytorch_trajectories),
        cmocka_unit_test(test_lbfgs_matches_pytorch_trajectories),
        cmocka_unit_test(test_adagrad_matches_pytorch_trajectories),
        cmocka_unit_test(test_nadam_matches_pytorch_trajectories),
        cmocka_unit_test(test_lr_schedules_set_the_optimizer_rate),
        cmocka_unit_test(test_defaults_are_pytorchs),
        cmocka_unit_test(test_invalid_options_are_rejected_naming_function_and_value),
        cmocka_unit_test(test_null_or_empty_params_are_rejected),
        cmocka_unit_test(test_parameter_without_grad_is_skipped),
        cmocka_unit_test(test_zero_grad_drops_every_gradient),
        cmocka_unit_test(test_step_closure_returns_the_first_loss),
        cmocka_unit_test(test_lbfgs_needs_a_closure_and_closure_errors_propagate),
        cmocka_unit_test(test_optimizer_keeps_its_parameters_alive),
        cmocka_unit_test(test_lbfgs_reaches_least_squares_optimum_far_sooner_than_sgd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
