/* SPDX-License-Identifier: MIT */
/*
** Private declarations shared by the optimizers in src/optim: the optimizer
** object, the vtable of optimizer kinds, and helpers for per-parameter state.
** An optimizer sits on top of core: it reads tg_grad and writes tg_data of the
** parameters in place with plain loops (its own kernels), never through ops,
** so nothing it does is recorded.  Each kind embeds tg_optim as its first
** member and mirrors, operation by operation, the single-tensor (for-loop)
** update of PyTorch 1.13's torch/optim, so trajectories agree to rounding.
*/
#ifndef TG_OPTIM_H
#define TG_OPTIM_H

#include "core/internal.h"
#include "core/opdesc.h"

#include <stddef.h>

/* The most per-step scalars and per-element state buffers an update reads. */
#define TG__OPTIM_SCALARS 10
#define TG__OPTIM_STATES 3

/* An elementwise optimizer's update, described once in its kind's file and
** run by both the eager tg_optim_step (tg__optim_step_update) and a captured
** step's plan (src/graph), which calls block inside its last fused pass or
** writes emit into its compiled passes.  Per parameter: state, then begin,
** then block over its elements (in any number of spans, on any thread). */
typedef struct tg__optim_update {
    /* Parameter i's state, made and set to its start values on first use:
    ** *n_st buffers of the parameter's size in st[].  TG_ERR_NOMEM. */
    tg_status (*state)(tg_optim *o, int i, double **st, int *n_st);
    /* Parameter i's next update: its step count (and scalar state) advance
    ** and s[0..TG__OPTIM_SCALARS) gets the per-step scalars (lr from the
    ** optimizer as the schedules left it, bias corrections, ...). */
    void (*begin)(tg_optim *o, int i, double *s);
    /* The update of n elements: p[j], the gradient grad[j], the state
    ** st[b][j]; spans that do not overlap. */
    void (*block)(const tg_optim *o, const double *s, int64_t n, double *restrict p, const double *restrict grad,
                  double *const *st);
    /* C statements updating one element, the operations of block in its
    ** order: p and st[b] are lvalues, g and s[k] expressions.  The flags of
    ** the options (maximize, nesterov, ...) shape the code; numbers are s[k]. */
    void (*emit)(const tg_optim *o, tg__put_fn *put, void *sink, const char *p, const char *g,
                 const char *const *st, const char *const *s);
} tg__optim_update;

typedef struct tg__optim_kind {
    const char *name;                       /* "SGD", ..., for messages */
    /* One update from the current gradients; NULL when the kind needs a closure. */
    tg_status (*step)(tg_optim *o);
    /* The whole closure step; NULL: call the closure once, then step. */
    tg_status (*step_closure)(tg_optim *o, tg_closure closure, void *user, double *loss);
    /* Frees what the kind added to the object (not the object itself); may be NULL. */
    void (*free_state)(tg_optim *o);
    /* Where the learning rate sits in the kind's struct (offsetof; never 0,
    ** tg_optim comes first): tg_optim_lr / tg_optim_set_lr and the schedules. */
    size_t lr_offset;
    /* The elementwise update (step is then tg__optim_step_update); NULL for
    ** L-BFGS, whose step is not elementwise (it keeps its closure path). */
    const tg__optim_update *update;
} tg__optim_kind;

struct tg_optim {
    const tg__optim_kind *kind;
    int n;                  /* parameters */
    tg_tensor **params;     /* one reference each (tg__tensor_ref) */
    double **state;         /* per parameter: NULL until its first update, then zeroed buffers */
    int64_t *steps;         /* per parameter: updates made (Adam's state['step']) */
};

/* A zeroed object of `size` bytes (the kind's struct, tg_optim first) holding a
** reference to every tensor of params.  NULL + TG_ERR_ARG (NULL or empty
** params, fn naming the caller) or TG_ERR_NOMEM. */
tg_optim *tg__optim_new(const tg__optim_kind *kind, size_t size, const tg_params *params,
                        const char *fn);

/* Parameter i's state: n_buf zeroed buffers of numel doubles each, one block,
** made on first use (*fresh is then true).  NULL + TG_ERR_NOMEM. */
double *tg__optim_state(tg_optim *o, int i, int n_buf, bool *fresh);
/* The same block split: st[k] is buffer k (k < n_buf), all NULL on failure. */
double *tg__optim_buffers(tg_optim *o, int i, int n_buf, double **st, bool *fresh);

/* The step of a kind with an update: per parameter with a gradient, its
** state, begin and block over its elements.  TG_ERR_NOMEM. */
tg_status tg__optim_step_update(tg_optim *o);

/* Calls the closure with gradient recording on, inside a scope of its own, and
** stores the loss it returned.  TG_ERR_ARG when the closure fails without
** recording an error or returns no one-element tensor. */
tg_status tg__optim_eval(const char *fn, tg_closure closure, void *user, double *loss);

/* Validation helper: records "<fn>: <what> is <v> (must be <rule>)" and
** returns false unless ok. */
bool tg__optim_check(bool ok, const char *fn, const char *what, double v, const char *rule);
/* The checks the Adam family (Adam, AdamW, NAdam) shares: lr, eps and
** weight_decay >= 0, beta1 and beta2 in [0, 1). */
bool tg__optim_check_adam(const char *fn, double lr, double eps, double beta1, double beta2,
                          double weight_decay);

#endif /* TG_OPTIM_H */
