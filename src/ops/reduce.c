/* SPDX-License-Identifier: MIT */
/*
** Reductions: sum and mean of everything (0-d results) and sum over one
** dimension.  Sums use the deterministic sum kernel, so equal inputs give
** bit-identical results.  Each op's forward, backward and tg_function sit
** together; sum_dim is sum_to followed by a reshape.  A backward run without
** create_graph (recording off) fills its gradient directly with the fill
** kernel, the values expand would give (see elementwise.c).
*/
#include "ops.h"

#include <math.h>

/* forward: y = sum(x)  =>  dx = expand(dy, x.shape) */
static tg_status sum_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    (void)ctx;
    if (!(out[0] = tg__out("tg_sum", 0, NULL)))
        return tg_last_status();
    out[0]->data[0] = tg__kern()->sum(in[0]->numel, in[0]->data);
    return TG_OK;
}
/* A fresh tensor of shape, every element v, recorded nowhere: uniform when
** large (the one value; the executor spreads it for a backward that does not
** take it). */
static tg_tensor *filled_now(const char *fn, int ndim, const int64_t *shape, double v)
{
    return tg__adopt(tg__tensor_uniform(fn, ndim, shape, v));
}

static tg_status sum_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    int ndim;
    const int64_t *shape = tg__ctx_in_shape(ctx, 0, &ndim);
    if (tg__grad_mode())
        gin[0] = tg_expand(g[0], ndim, shape);
    else
        gin[0] = filled_now("tg_sum", ndim, shape, g[0]->data[0]);
    return gin[0] ? TG_OK : tg_last_status();
}
/* descriptor: what the fused engine reads (core/opdesc.h) */
static const tg__opdesc sum_desc = {.kind = TG__OPK_SUM, .save = TG__SAVES};
static const tg_function sum_fn = {.name = "tg_sum", .n_inputs = 1, .n_outputs = 1,
                                   .forward = sum_forward, .backward = sum_backward,
                                   .desc = &sum_desc};

tg_tensor *tg_sum(tg_tensor *a) { return tg__apply_op(&sum_fn, &a, NULL, 0); }

/* forward: y = sum(x) / n  =>  dx = expand(dy / n, x.shape) */
static tg_status mean_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    (void)ctx;
    if (!(out[0] = tg__out("tg_mean", 0, NULL)))
        return tg_last_status();
    int64_t n = in[0]->numel;
    out[0]->data[0] = n ? tg__kern()->sum(n, in[0]->data) / (double)n : NAN;
    return TG_OK;
}
static tg_status mean_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    int ndim;
    const int64_t *shape = tg__ctx_in_shape(ctx, 0, &ndim);
    int64_t n = 1;
    for (int d = 0; d < ndim; d++)
        n *= shape[d];
    if (tg__grad_mode()) {
        gin[0] = tg_expand(tg_affine(g[0], 1.0 / (double)n, 0.0), ndim, shape);
    } else {
        double v;   /* as tg_affine rounds it: (dy * (1/n)) + 0 */
        tg__kern()->affine(1, g[0]->data, 1.0 / (double)n, 0.0, &v);
        gin[0] = filled_now("tg_mean", ndim, shape, v);
    }
    return gin[0] ? TG_OK : tg_last_status();
}
static const tg__opdesc mean_desc = {.kind = TG__OPK_MEAN, .save = TG__SAVES};
static const tg_function mean_fn = {.name = "tg_mean", .n_inputs = 1, .n_outputs = 1,
                                    .forward = mean_forward, .backward = mean_backward,
                                   .desc = &mean_desc};

tg_tensor *tg_mean(tg_tensor *a) { return tg__apply_op(&mean_fn, &a, NULL, 0); }

tg_tensor *tg_sum_dim(tg_tensor *a, int dim, bool keepdim)
{
    if (tg__check_arg("tg_sum_dim", "a", a) != TG_OK)
        return NULL;
    int n = a->ndim, d = dim < 0 ? dim + n : dim;
    if (n == 0 && (dim == 0 || dim == -1))   /* PyTorch: a 0-d tensor has one dim to sum */
        return tg_sum(a);
    if (d < 0 || d >= n) {
        tg__error(TG_ERR_ARG, "tg_sum_dim: dim %d out of range for a %d-d tensor", dim, n);
        return NULL;
    }
    int64_t kept[TG_MAX_DIMS], dropped[TG_MAX_DIMS];
    for (int i = 0, j = 0; i < n; i++) {
        kept[i] = i == d ? 1 : a->shape[i];
        if (i != d)
            dropped[j++] = a->shape[i];
    }
    tg_tensor *s = tg_sum_to(a, n, kept);
    return keepdim ? s : tg_reshape(s, n - 1, dropped);
}
