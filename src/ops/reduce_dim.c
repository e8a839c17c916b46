/* SPDX-License-Identifier: MIT */
/*
** Reductions over one dimension with PyTorch's names and rules: tg_mean_dim,
** tg_amax / tg_amin (the gradient split evenly among ties, as PyTorch),
** tg_var (with a correction), tg_logsumexp, tg_softmax and tg_log_softmax.
** amax and amin are Functions with descriptors (row reductions in the
** engine; their backward is made of ops, its tie mask an op of its own); the
** others are compositions of differentiable ops with descriptors, so all are
** differentiable twice and fuse.  A 0-d tensor has one dimension, 0 or -1, of size 1.
** Ops layer: public op -> Function.
*/
#include "ops.h"

#include <math.h>
#include <string.h>

/* dim checked and normalized for a (0-d: 0 or -1), with the sizes around it. */
static bool split_dim(const char *fn, const tg_tensor *a, int dim, int *d, int64_t *outer,
                      int64_t *len, int64_t *inner)
{
    if (!tg__norm_dim(fn, dim, a->ndim, d))
        return false;
    *outer = *inner = 1;
    *len = a->ndim ? a->shape[*d] : 1;
    for (int i = 0; i < *d; i++)
        *outer *= a->shape[i];
    for (int i = *d + 1; i < a->ndim; i++)
        *inner *= a->shape[i];
    return true;
}

/* a's shape with dim d made 1 (keep) or dropped. */
static int reduced_shape(const tg_tensor *a, int d, bool keep, int64_t *shape)
{
    int m = 0;
    for (int i = 0; i < a->ndim; i++)
        if (i != d || keep)
            shape[m++] = i == d ? 1 : a->shape[i];
    return m;
}

/* ------------------------------------------------------------ amax, amin */

typedef struct ext_args { int dim; bool keepdim, is_max; } ext_args;

/* forward: y = max (min) of x along dim
**   =>  dx = dy * [x == y] / (number of ties), dy broadcast along dim */
/* y (allocated) = the extremes of x along ea's dim */
static void extreme_values(const ext_args *ea, const tg_tensor *x, tg_tensor *y)
{
    int d = 0;
    int64_t outer = 1, len = 1, inner = 1;
    split_dim(ea->is_max ? "tg_amax" : "tg_amin", x, ea->dim, &d, &outer, &len, &inner);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const double *p = x->data + o * len * inner + i;
            double m = p[0];
            for (int64_t k = 1; k < len && !isnan(m); k++) {
                double v = p[k * inner];
                if (isnan(v) || (ea->is_max ? v > m : v < m))   /* NaN wins, as PyTorch */
                    m = v;
            }
            y->data[o * inner + i] = m;
        }
}
static tg_status extreme_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    const ext_args *ea = tg_ctx_args(ctx);
    int64_t shape[TG_MAX_DIMS];
    tg_tensor *y = out[0] = tg__out(ea->is_max ? "tg_amax" : "tg_amin",
                                    reduced_shape(in[0], ea->dim, ea->keepdim, shape), shape);
    if (!y)
        return tg_last_status();
    extreme_values(ea, in[0], y);
    return tg_save_for_backward(ctx, 2, (tg_tensor *[]){in[0], out[0]});
}
/* lazy mode (core/opdesc.h): the output's shape, and its values */
static int extreme_shape(const void *args, const tg_tensor *x, int64_t *shape)
{
    const ext_args *ea = args;
    return reduced_shape(x, ea->dim, ea->keepdim, shape);
}
static void extreme_whole(const void *args, const tg_tensor *x, tg_tensor *out) { extreme_values(args, x, out); }
/* The tie mask of amax's (amin's) backward: 1 where x equals its row's
** extreme y (where x is NaN too when y is NaN), else 0.  An op of its own
** with a descriptor, applied to x and y detached: a constant factor of the
** gradient, recomputed from the data by a captured or fused step (forward:
** m = [x == y], piecewise constant  =>  no gradient). */
static inline double tie_f(const double *x, const void *args)
{
    (void)args;
    return x[0] == x[1] || (isnan(x[0]) && isnan(x[1])) ? 1.0 : 0.0;
}
TG__POINT_DESC(tie, 2, "(%0 == %1 || (isnan(%0) && isnan(%1)) ? 1.0 : 0.0)")
typedef struct tie_args { int64_t dim; } tie_args;   /* x's dim that y has as 1 */
static tg_status tie_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    const tg_tensor *x = in[0], *y = in[1];
    int d = 0;
    int64_t outer = 1, len = 1, inner = 1;
    split_dim("tg_amax", x, (int)((const tie_args *)tg_ctx_args(ctx))->dim, &d, &outer, &len, &inner);
    tg_tensor *m = out[0] = tg__out("tg_amax", x->ndim, x->shape);
    if (!m)
        return tg_last_status();
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < len; k++)
            for (int64_t i = 0; i < inner; i++) {
                int64_t j = (o * len + k) * inner + i;
                m->data[j] = tie_f((const double[]){x->data[j], y->data[o * inner + i]}, NULL);
            }
    return TG_OK;
}
static const tg_function tie_fn = {.name = "tg_amax_ties", .n_inputs = 2, .n_outputs = 1,
                                   .forward = tie_forward, .backward = tg__constant_backward, .desc = &tie_desc};

static tg_tensor *detached(tg_tensor *t) { return t && t->requires_grad ? tg_detach(t) : t; }

/* dx = dy * m / sum(m, dim), m the tie mask: all ops, so a captured or lazy
** step fuses the backward and recomputes the mask from the current data */
static tg_status extreme_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    const ext_args *ea = tg_ctx_args(ctx);
    tg_tensor *x = tg_saved_tensor(ctx, 0), *y = tg_saved_tensor(ctx, 1);
    if (!x || !y)
        return tg_last_status();
    int d = ea->dim;
    bool same = ea->keepdim || x->ndim == 0;
    tie_args ta = {d};
    tg_tensor *xd = detached(x), *yd = detached(same ? y : tg_unsqueeze(y, d));
    tg_tensor *m = xd && yd ? tg__apply_op(&tie_fn, (tg_tensor *[]){xd, yd}, &ta, sizeof ta) : NULL;
    if (!m)
        return tg_last_status();
    tg_tensor *w = tg_div(m, tg_sum_dim(m, d, true));
    tg_tensor *gk = same ? g[0] : tg_unsqueeze(g[0], d);
    return (gin[0] = tg_mul(gk, w)) ? TG_OK : tg_last_status();
}
/* the reduced dim made 1: what the engine's row reduction needs (core/opdesc.h) */
static void extreme_kept(const void *args, int ndim, const int64_t *shape, int64_t *kept)
{
    memcpy(kept, shape, (size_t)ndim * sizeof *shape);
    if (ndim > 0)
        kept[((const ext_args *)args)->dim] = 1;
}
static const tg__opdesc amax_desc = {.kind = TG__OPK_MAX, .kept = extreme_kept, .shape = extreme_shape,
                                     .whole = extreme_whole, .save = TG__SAVES | TG__SAVE_IN(0) | TG__SAVE_OUT};
static const tg__opdesc amin_desc = {.kind = TG__OPK_MIN, .kept = extreme_kept, .shape = extreme_shape,
                                     .whole = extreme_whole, .save = TG__SAVES | TG__SAVE_IN(0) | TG__SAVE_OUT};
static const tg_function amax_fn = {.name = "tg_amax", .n_inputs = 1, .n_outputs = 1,
                                    .forward = extreme_forward, .backward = extreme_backward,
                                    .desc = &amax_desc};
static const tg_function amin_fn = {.name = "tg_amin", .n_inputs = 1, .n_outputs = 1,
                                    .forward = extreme_forward, .backward = extreme_backward,
                                    .desc = &amin_desc};

static tg_tensor *extreme(const char *fn, tg_tensor *a, int dim, bool keepdim, bool is_max)
{
    int d = 0;
    int64_t outer = 1, len = 1, inner = 1;
    if (tg__check_arg(fn, "a", a) != TG_OK || !split_dim(fn, a, dim, &d, &outer, &len, &inner))
        return NULL;
    if (len == 0) {
        tg__error(TG_ERR_SHAPE, "%s: dim %d has size 0, there is no %s", fn, dim, is_max ? "maximum" : "minimum");
        return NULL;
    }
    ext_args ea;
    memset(&ea, 0, sizeof ea);   /* the padding too: lazy mode's plan key reads the bytes */
    ea.dim = d, ea.keepdim = keepdim, ea.is_max = is_max;
    return tg__apply_op(is_max ? &amax_fn : &amin_fn, &a, &ea, sizeof ea);
}

tg_tensor *tg_amax(tg_tensor *a, int dim, bool keepdim) { return extreme("tg_amax", a, dim, keepdim, true); }
tg_tensor *tg_amin(tg_tensor *a, int dim, bool keepdim) { return extreme("tg_amin", a, dim, keepdim, false); }

/* ------------------------------------------------- mean, var, logsumexp */

/* forward: y = sum(x, dim) / n  (n = 0 gives NaN, as PyTorch) */
tg_tensor *tg_mean_dim(tg_tensor *a, int dim, bool keepdim)
{
    int d = 0;
    int64_t outer = 1, len = 1, inner = 1;
    if (tg__check_arg("tg_mean_dim", "a", a) != TG_OK ||
        !split_dim("tg_mean_dim", a, dim, &d, &outer, &len, &inner))
        return NULL;
    return tg_div(tg_sum_dim(a, dim, keepdim), tg_scalar((double)len));
}

/* forward: y = sum((x - mean(x, dim))^2, dim) / max(0, n - correction) */
tg_tensor *tg_var(tg_tensor *a, int dim, int correction, bool keepdim)
{
    int d = 0;
    int64_t outer = 1, len = 1, inner = 1;
    if (tg__check_arg("tg_var", "a", a) != TG_OK || !split_dim("tg_var", a, dim, &d, &outer, &len, &inner))
        return NULL;
    if (correction < 0) {
        tg__error(TG_ERR_ARG, "tg_var: correction is %d, must be >= 0", correction);
        return NULL;
    }
    double dof = (double)len - correction > 0 ? (double)len - correction : 0.0;
    tg_tensor *c = tg_sub(a, tg_mean_dim(a, dim, true));
    return tg_div(tg_sum_dim(tg_mul(c, c), dim, keepdim), tg_scalar(dof));
}

/* The shift of logsumexp, softmax and log_softmax: m = max(x) along dim
** (kept as a size-1 dim), 0 where not finite, held constant: amax of x
** detached, then this op of its own, so the engine fuses both and a captured
** step recomputes m from the data.  (amax lets NaN win where a max ignoring
** NaN would not; a row holding a NaN gives NaN either way.)  Forward:
** m = x if finite, else 0, piecewise  =>  no gradient (its input never
** requires grad). */
static inline double finite_f(const double *x, const void *args)
{
    (void)args;
    return isfinite(x[0]) ? x[0] : 0.0;
}
TG__POINT_DESC(finite, 1, "(isfinite(%0) ? (%0) : 0.0)")
static tg_status shift_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    (void)ctx;
    const tg_tensor *x = in[0];
    tg_tensor *m = out[0] = tg__out("tg_logsumexp", x->ndim, x->shape);
    if (!m)
        return tg_last_status();
    for (int64_t j = 0; j < x->numel; j++)
        m->data[j] = finite_f(&x->data[j], NULL);
    return TG_OK;
}
static const tg_function shift_fn = {.name = "tg_logsumexp_shift", .n_inputs = 1, .n_outputs = 1,
                                     .forward = shift_forward, .backward = tg__constant_backward, .desc = &finite_desc};

/* m for a along dim d (checked), kept as a size-1 dim; an empty dim: 0 */
static tg_tensor *shift_of(tg_tensor *a, int d)
{
    int64_t shape[TG_MAX_DIMS];
    int nd = reduced_shape(a, d, true, shape);
    if (a->ndim && a->shape[d] == 0)
        return tg_zeros(nd, shape);
    tg_tensor *x = detached(a);
    tg_tensor *m = x ? tg_amax(x, d, true) : NULL;
    return m ? tg__apply_op(&shift_fn, &m, NULL, 0) : NULL;
}

/* forward: y = m + log(sum(exp(x - m), dim)), m = max(x, dim) held constant
** (0 where not finite; y's derivatives do not depend on m) */
tg_tensor *tg_logsumexp(tg_tensor *a, int dim, bool keepdim)
{
    int d = 0;
    int64_t outer = 1, len = 1, inner = 1;
    if (tg__check_live("tg_logsumexp", "a", a) != TG_OK ||
        !split_dim("tg_logsumexp", a, dim, &d, &outer, &len, &inner))
        return NULL;
    tg_tensor *m = shift_of(a, d);
    if (!m)
        return NULL;
    tg_tensor *s = tg_add(tg_log(tg_sum_dim(tg_exp(tg_sub(a, m)), dim, true)), m);
    return keepdim || a->ndim == 0 ? s : tg_squeeze(s, d);
}

/* ------------------------------------------------- softmax, log_softmax */

/* forward: softmax(x) = e / sum(e, dim), e = exp(x - m), or log_softmax:
** (x - m) - log(sum(e, dim)), m the shift held constant (their derivatives
** do not depend on it).  Compositions of fused ops: a lazy or captured step
** runs them inside its passes (the max and the sum as row reductions). */
static tg_tensor *soft(const char *fn, tg_tensor *a, int dim, bool log)
{
    int d = 0;
    int64_t outer = 1, len = 1, inner = 1;
    if (tg__check_live(fn, "a", a) != TG_OK || !split_dim(fn, a, dim, &d, &outer, &len, &inner))
        return NULL;
    tg_tensor *m = shift_of(a, d);
    tg_tensor *z = m ? tg_sub(a, m) : NULL;
    tg_tensor *e = z ? tg_exp(z) : NULL;
    if (!e)
        return NULL;
    return log ? tg_sub(z, tg_log(tg_sum_dim(e, d, true))) : tg_div(e, tg_sum_dim(e, d, true));
}

tg_tensor *tg_softmax(tg_tensor *a, int dim) { return soft("tg_softmax", a, dim, false); }
tg_tensor *tg_log_softmax(tg_tensor *a, int dim) { return soft("tg_log_softmax", a, dim, true); }
