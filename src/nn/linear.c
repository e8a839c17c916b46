/* SPDX-License-Identifier: MIT */
/*
** The Linear layer: y = x W^T + b as one built-in Function "tg_linear" (a
** single dgemm with B transposed, then the bias added row by row), its
** backward written with tensorgrad ops so it is differentiable again, and the
** module holding weight and bias with PyTorch's initialization bounds.  nn
** layer: module -> Function -> tg__dgemm / kernels.
*/
#include "ops/ops.h"

#include <math.h>

struct tg_linear {
    int64_t in, out;
    tg_tensor *weight, *bias;   /* owned (one reference each); bias NULL when absent */
    tg_params *params;
};

/* ----------------------------------------------------------- the Function */

typedef struct linear_args { bool bias; } linear_args;

static tg_status check_shapes(const tg_tensor *x, const tg_tensor *w)
{
    if ((x->ndim == 1 || x->ndim == 2) && x->shape[x->ndim - 1] == w->shape[1])
        return TG_OK;
    char bx[TG__SHAPE_STR], bw[TG__SHAPE_STR];
    return tg__error(TG_ERR_SHAPE, "tg_linear_forward: x is %s but weight is %s (need [%lld] or [n,%lld])",
                     tg__shape_str(bx, x->ndim, x->shape), tg__shape_str(bw, w->ndim, w->shape),
                     (long long)w->shape[1], (long long)w->shape[1]);
}

/* y = x W^T + b: x [n,in] or [in], W [out,in], b [out]  ->  y [n,out] or [out] */
static tg_status linear_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    const linear_args *la = tg_ctx_args(ctx);
    const tg_tensor *x = in[0], *w = in[1];
    tg_status st = check_shapes(x, w);
    if (st != TG_OK)
        return st;
    int64_t k = w->shape[1], m = w->shape[0], rows = x->ndim == 2 ? x->shape[0] : 1;
    int64_t shape[2] = {rows, m};
    bool one_d = x->ndim == 1;
    if (!(out[0] = tg__out("tg_linear", one_d ? 1 : 2, one_d ? shape + 1 : shape)))
        return tg_last_status();
    double *y = out[0]->data;
    st = tg__dgemm("tg_linear", false, true, rows, m, k, 1.0, x->data, k, w->data, k, 0.0, y, m);
    if (st != TG_OK)
        return st;
    for (int64_t r = 0; la->bias && r < rows; r++)
        tg__kern()->acc(m, in[2]->data, y + r * m);
    return tg_save_for_backward(ctx, 2, in);
}

/* forward: y = x W^T + b  =>  dx = dy W, dW = dy^T x, db = sum of dy over rows
** (a 1-d x and dy taken as one row) */
static tg_status linear_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    const linear_args *la = tg_ctx_args(ctx);
    tg_tensor *x = tg_saved_tensor(ctx, 0), *w = tg_saved_tensor(ctx, 1), *dy = g[0];
    if (!x || !w)
        return tg_last_status();
    bool one_d = x->ndim == 1;
    tg_tensor *dy2 = one_d ? tg_reshape(dy, 2, (int64_t[]){1, w->shape[0]}) : dy;
    tg_tensor *x2 = one_d ? tg_reshape(x, 2, (int64_t[]){1, w->shape[1]}) : x;
    if (tg_needs_input_grad(ctx, 0)) {
        tg_tensor *dx = tg_matmul(dy2, w);
        if (!(gin[0] = one_d ? tg_reshape(dx, 1, &w->shape[1]) : dx))
            return tg_last_status();
    }
    if (tg_needs_input_grad(ctx, 1) && !(gin[1] = tg_matmul(tg_transpose(dy2), x2)))
        return tg_last_status();
    if (la->bias && tg_needs_input_grad(ctx, 2) && !(gin[2] = one_d ? dy : tg_sum_dim(dy2, 0, false)))
        return tg_last_status();
    return TG_OK;
}

static const tg_function linear_fn = {.name = "tg_linear", .n_inputs = 3, .n_outputs = 1,
                                      .forward = linear_forward, .backward = linear_backward};
static const tg_function linear_nobias_fn = {.name = "tg_linear", .n_inputs = 2, .n_outputs = 1,
                                             .forward = linear_forward, .backward = linear_backward};

tg_tensor *tg_linear_forward(tg_linear *m, tg_tensor *x)
{
    if (!m) {
        tg__null_arg("tg_linear_forward", "m");
        return NULL;
    }
    if (tg__check_live("tg_linear_forward", "x", x) != TG_OK)
        return NULL;
    linear_args la = {.bias = m->bias != NULL};
    tg_tensor *in[3] = {x, m->weight, m->bias};
    return tg__apply_op(la.bias ? &linear_fn : &linear_nobias_fn, in, &la, sizeof la);
}

/* ----------------------------------------------------------- the module */

/* A caller-owned leaf [rows, cols] (cols 0: 1-d [rows]) uniform on [-bound, bound)
** from the default generator, requiring grad. */
static tg_tensor *init_param(int64_t rows, int64_t cols, double bound)
{
    int64_t shape[2] = {rows, cols};
    tg_tensor *t = tg__tensor_new("tg_linear_new", cols ? 2 : 1, shape);
    if (!t)
        return NULL;
    tg_rng *r = tg_default_rng();
    for (int64_t i = 0; i < t->numel; i++)
        t->data[i] = -bound + (bound - -bound) * tg_rng_uniform(r);
    t->requires_grad = true;
    return t;
}

tg_linear *tg_linear_new(int64_t in_features, int64_t out_features, bool bias)
{
    if (in_features < 1 || out_features < 1) {
        tg__error(TG_ERR_ARG, "tg_linear_new: in_features %lld and out_features %lld must be >= 1",
                  (long long)in_features, (long long)out_features);
        return NULL;
    }
    tg_linear *m = tg__calloc(1, sizeof *m);
    if (!m) {
        tg__error(TG_ERR_NOMEM, "tg_linear_new: out of memory");
        return NULL;
    }
    m->in = in_features;
    m->out = out_features;
    double bound = 1.0 / sqrt((double)in_features);
    tg_status st = (m->weight = init_param(out_features, in_features, bound)) ? TG_OK : tg_last_status();
    if (st == TG_OK && bias && !(m->bias = init_param(out_features, 0, bound)))
        st = tg_last_status();
    if (st == TG_OK && !(m->params = tg_params_new()))
        st = tg_last_status();
    if (st == TG_OK)
        st = tg_params_add(m->params, "weight", m->weight);
    if (st == TG_OK && bias)
        st = tg_params_add(m->params, "bias", m->bias);
    if (st != TG_OK) {
        tg_linear_free(m);
        return NULL;
    }
    return m;
}

tg_tensor *tg_linear_weight(const tg_linear *m) { return m ? m->weight : NULL; }
tg_tensor *tg_linear_bias(const tg_linear *m) { return m ? m->bias : NULL; }
const tg_params *tg_linear_params(const tg_linear *m) { return m ? m->params : NULL; }

void tg_linear_free(tg_linear *m)
{
    if (!m)
        return;
    tg_params_free(m->params);
    tg__tensor_unref(m->weight);
    tg__tensor_unref(m->bias);
    tg__free(m);
}
