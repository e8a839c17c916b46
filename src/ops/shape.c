/* SPDX-License-Identifier: MIT */
/*
** Shape ops: reshape (a view), expand (broadcast a tensor up to a shape) and
** sum_to (sum it back down), the pair every broadcasting backward stands on;
** unsqueeze and flatten (views through reshape); select (a copied slice) and
** its backward, select_backward (the slice scattered into zeros), each the
** other's derivative so both are differentiable to any order.  Each op's
** forward, backward and tg_function sit together.  A backward run without
** create_graph (recording off) computes the same values straight into fresh
** tensors instead of applying the ops (see elementwise.c).
*/
#include "ops.h"

#include <string.h>

typedef struct shape_args { int ndim; int64_t shape[TG_MAX_DIMS]; } shape_args;

static bool make_shape_args(const char *fn, int ndim, const int64_t *shape, shape_args *sa)
{
    if (tg__check_shape(fn, ndim, shape) < 0)
        return false;
    memset(sa, 0, sizeof *sa);   /* the padding too: lazy mode's plan key reads the bytes */
    sa->ndim = ndim;
    if (ndim > 0)
        memcpy(sa->shape, shape, (size_t)ndim * sizeof *shape);
    return true;
}

/* ----------------------------------------------------------- expand */

/* lazy mode (core/opdesc.h): the output's shape is the argument's (-1 with
** the forward's error when x does not broadcast to it) */
static int args_shape(const void *args, const tg_tensor *x, int64_t *shape)
{
    (void)x;
    const shape_args *sa = args;
    memcpy(shape, sa->shape, (size_t)sa->ndim * sizeof *shape);
    return sa->ndim;
}
static int expand_shape(const void *args, const tg_tensor *x, int64_t *shape)
{
    const shape_args *sa = args;
    return tg__broadcast_check("tg_expand", x, sa->ndim, sa->shape, false) == TG_OK ? args_shape(args, x, shape) : -1;
}
static int sum_to_shape(const void *args, const tg_tensor *x, int64_t *shape)
{
    const shape_args *sa = args;
    return tg__broadcast_check("tg_sum_to", x, sa->ndim, sa->shape, true) == TG_OK ? args_shape(args, x, shape) : -1;
}
static void expand_whole(const void *args, const tg_tensor *x, tg_tensor *out)
{
    (void)args;
    tg__expand_into(x, out);
}
static void sum_to_whole(const void *args, const tg_tensor *x, tg_tensor *out)
{
    (void)args;
    tg__sum_to_into(x, out);
}

/* expand's and sum_to's values, recorded nowhere (core/broadcast.c): their
** forwards, and the unrecorded backwards of each other */
static tg_tensor *expand_now(tg_tensor *x, const shape_args *sa)
{
    return tg__expand_now("tg_expand", x, sa->ndim, sa->shape);
}
static tg_tensor *sum_to_now(tg_tensor *x, const shape_args *sa)
{
    return tg__sum_to_now("tg_sum_to", x, sa->ndim, sa->shape);
}

/* The shape_args of input i as the node recorded it. */
static shape_args in_shape_args(const tg_ctx *ctx, int i)
{
    shape_args sa;
    memset(&sa, 0, sizeof sa);
    const int64_t *shape = tg__ctx_in_shape(ctx, i, &sa.ndim);
    if (sa.ndim > 0)
        memcpy(sa.shape, shape, (size_t)sa.ndim * sizeof *shape);
    return sa;
}

/* forward: y = broadcast(x, shape)  =>  dx = sum_to(dy, x.shape) */
static tg_status expand_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    return (out[0] = expand_now(in[0], tg_ctx_args(ctx))) ? TG_OK : tg_last_status();
}
static tg_status expand_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    return (gin[0] = tg__grad_to_input(ctx, 0, g[0])) ? TG_OK : tg_last_status();
}
/* descriptors: what the fused engine reads (core/opdesc.h) */
static const tg__opdesc expand_desc = {.kind = TG__OPK_EXPAND, .save = TG__SAVES, .shape = expand_shape,
                                       .whole = expand_whole};
static const tg_function expand_fn = {.name = "tg_expand", .n_inputs = 1, .n_outputs = 1,
                                      .forward = expand_forward, .backward = expand_backward,
                                      .desc = &expand_desc};

tg_tensor *tg_expand(tg_tensor *a, int ndim, const int64_t *shape)
{
    shape_args sa;
    if (tg__check_arg("tg_expand", "a", a) != TG_OK)
        return NULL;
    if (!make_shape_args("tg_expand", ndim, shape, &sa))
        return NULL;
    return tg__apply_op(&expand_fn, &a, &sa, sizeof sa);
}

/* ----------------------------------------------------------- sum_to */

/* forward: y = sum of x over its broadcast dims down to shape  =>  dx = expand(dy, x.shape) */
static tg_status sum_to_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    return (out[0] = sum_to_now(in[0], tg_ctx_args(ctx))) ? TG_OK : tg_last_status();
}
static tg_status sum_to_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    shape_args sa = in_shape_args(ctx, 0);
    gin[0] = tg__grad_mode() ? tg_expand(g[0], sa.ndim, sa.shape) : expand_now(g[0], &sa);
    return gin[0] ? TG_OK : tg_last_status();
}
const tg__opdesc tg__sum_to_desc = {.kind = TG__OPK_SUM, .save = TG__SAVES, .shape = sum_to_shape,
                                    .whole = sum_to_whole};
static const tg_function sum_to_fn = {.name = "tg_sum_to", .n_inputs = 1, .n_outputs = 1,
                                      .forward = sum_to_forward, .backward = sum_to_backward,
                                      .desc = &tg__sum_to_desc};

tg_tensor *tg_sum_to(tg_tensor *a, int ndim, const int64_t *shape)
{
    shape_args sa;
    if (tg__check_arg("tg_sum_to", "a", a) != TG_OK)
        return NULL;
    if (!make_shape_args("tg_sum_to", ndim, shape, &sa))
        return NULL;
    return tg__apply_op(&sum_to_fn, &a, &sa, sizeof sa);
}

tg_tensor *tg__grad_to_input(const tg_ctx *ctx, int i, tg_tensor *g)
{
    int ndim;
    const int64_t *shape = tg__ctx_in_shape(ctx, i, &ndim);
    if (!g)
        return NULL;
    bool same = g->ndim == ndim;
    for (int d = 0; same && d < ndim; d++)
        same = g->shape[d] == shape[d];
    if (same)
        return g;
    if (tg__grad_mode())
        return tg_sum_to(g, ndim, shape);
    shape_args sa = in_shape_args(ctx, i);
    return sum_to_now(g, &sa);
}

/* ----------------------------------------------------------- reshape */

/* forward: y = x viewed as shape  =>  dx = reshape(dy, x.shape) */
static tg_status reshape_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    const shape_args *sa = tg_ctx_args(ctx);
    out[0] = tg__adopt(tg__tensor_alias(in[0], sa->ndim, sa->shape));
    return out[0] ? TG_OK : tg_last_status();
}
static tg_status reshape_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    int ndim;
    const int64_t *shape = tg__ctx_in_shape(ctx, 0, &ndim);
    if (tg__grad_mode())
        gin[0] = tg_reshape(g[0], ndim, shape);
    else   /* unrecorded: a view, as reshape's forward makes */
        gin[0] = tg__adopt(tg__tensor_alias(g[0], ndim, shape));
    return gin[0] ? TG_OK : tg_last_status();
}
static const tg__opdesc reshape_desc = {.kind = TG__OPK_VIEW, .save = TG__SAVES, .shape = args_shape};
static const tg_function reshape_fn = {.name = "tg_reshape", .n_inputs = 1, .n_outputs = 1,
                                       .forward = reshape_forward, .backward = reshape_backward,
                                      .desc = &reshape_desc};

/* Resolves one -1 and checks the element count. */
static bool reshape_target(tg_tensor *a, int ndim, const int64_t *shape, shape_args *sa)
{
    const char *fn = "tg_reshape";
    if (ndim < 0 || ndim > TG_MAX_DIMS || (ndim > 0 && !shape)) {
        tg__error(TG_ERR_ARG, "%s: ndim is %d with shape %s", fn, ndim, shape ? "given" : "NULL");
        return false;
    }
    int infer = -1;
    int64_t known = 1;
    memset(sa, 0, sizeof *sa);   /* the padding too: lazy mode's plan key reads the bytes */
    sa->ndim = ndim;
    for (int d = 0; d < ndim; d++) {
        sa->shape[d] = shape[d];
        if (shape[d] == -1 && infer < 0) {
            infer = d;
            continue;
        }
        if (tg__check_shape(fn, 1, &shape[d]) < 0)
            return false;
        known *= shape[d];
    }
    if (infer >= 0 && known > 0 && a->numel % known == 0)
        sa->shape[infer] = a->numel / known;
    if ((infer >= 0 && (known == 0 || a->numel % known != 0)) || tg__check_shape(fn, ndim, sa->shape) != a->numel) {
        char b1[TG__SHAPE_STR], b2[TG__SHAPE_STR];
        tg__error(TG_ERR_SHAPE, "%s: cannot view %s (%lld elements) as %s", fn,
                  tg__shape_str(b1, a->ndim, a->shape), (long long)a->numel,
                  tg__shape_str(b2, ndim, shape));
        return false;
    }
    return true;
}

tg_tensor *tg_reshape(tg_tensor *a, int ndim, const int64_t *shape)
{
    shape_args sa;
    if (tg__check_arg("tg_reshape", "a", a) != TG_OK)
        return NULL;
    if (!reshape_target(a, ndim, shape, &sa))
        return NULL;
    return tg__apply_op(&reshape_fn, &a, &sa, sizeof sa);
}

/* ----------------------------------------------------------- unsqueeze, flatten */

tg_tensor *tg_unsqueeze(tg_tensor *a, int dim)
{
    if (tg__check_arg("tg_unsqueeze", "a", a) != TG_OK)
        return NULL;
    int n = a->ndim, d = dim < 0 ? dim + n + 1 : dim;
    if (d < 0 || d > n) {
        tg__error(TG_ERR_ARG, "tg_unsqueeze: dim %d out of range for a %d-d tensor (%d..%d)", dim, n,
                  -n - 1, n);
        return NULL;
    }
    if (n == TG_MAX_DIMS) {
        tg__error(TG_ERR_ARG, "tg_unsqueeze: a is already %d-d, the most a tensor can have", n);
        return NULL;
    }
    int64_t shape[TG_MAX_DIMS];
    for (int i = 0, j = 0; i <= n; i++)
        shape[i] = i == d ? 1 : a->shape[j++];
    return tg_reshape(a, n + 1, shape);
}

tg_tensor *tg_flatten(tg_tensor *a, int start_dim, int end_dim)
{
    if (tg__check_arg("tg_flatten", "a", a) != TG_OK)
        return NULL;
    int n = a->ndim, m = n > 0 ? n : 1;   /* a 0-d tensor flattens as if [1] */
    int s = start_dim < 0 ? start_dim + m : start_dim, e = end_dim < 0 ? end_dim + m : end_dim;
    if (s < 0 || s >= m || e < 0 || e >= m) {
        tg__error(TG_ERR_ARG, "tg_flatten: start_dim %d or end_dim %d out of range for a %d-d tensor (%d..%d)",
                  start_dim, end_dim, n, -m, m - 1);
        return NULL;
    }
    if (s > e) {
        tg__error(TG_ERR_ARG, "tg_flatten: start_dim %d comes after end_dim %d (a is %d-d)", start_dim,
                  end_dim, n);
        return NULL;
    }
    if (n == 0)
        return tg_reshape(a, 1, (int64_t[]){1});
    int64_t shape[TG_MAX_DIMS];
    int k = 0;
    for (int i = 0; i < s; i++)
        shape[k++] = a->shape[i];
    shape[k] = 1;
    for (int i = s; i <= e; i++)
        shape[k] *= a->shape[i];
    k++;
    for (int i = e + 1; i < n; i++)
        shape[k++] = a->shape[i];
    return tg_reshape(a, k, shape);
}

/* ----------------------------------------------------------- select */

/* dim and index normalized (0 <= dim < ndim, 0 <= index < size); shape is the
** input's (of select) or the output's (of select_backward). */
typedef struct select_args { int dim; int64_t index; int ndim; int64_t shape[TG_MAX_DIMS]; } select_args;

/* Copies between x (shape sa->shape) and its slice y at sa->index along
** sa->dim: y = x[..., index, ...] when to_slice, else x[..., index, ...] = y. */
static void slice_copy(const select_args *sa, double *x, double *y, bool to_slice)
{
    int64_t outer = 1, inner = 1, size = sa->shape[sa->dim];
    for (int d = 0; d < sa->dim; d++)
        outer *= sa->shape[d];
    for (int d = sa->dim + 1; d < sa->ndim; d++)
        inner *= sa->shape[d];
    for (int64_t o = 0; o < outer && inner > 0; o++) {
        double *xs = x + (o * size + sa->index) * inner, *ys = y + o * inner;
        memcpy(to_slice ? ys : xs, to_slice ? xs : ys, (size_t)inner * sizeof(double));
    }
}

static void drop_dim(const select_args *sa, int64_t *shape)
{
    for (int i = 0, j = 0; i < sa->ndim; i++)
        if (i != sa->dim)
            shape[j++] = sa->shape[i];
}

static tg_tensor *select_backward_op(tg_tensor *g, const select_args *sa);

/* x[..., index, ...] (x of sa's shape) in a fresh tensor, recorded nowhere */
static tg_tensor *select_now(tg_tensor *x, const select_args *sa)
{
    int64_t shape[TG_MAX_DIMS];
    drop_dim(sa, shape);
    tg_tensor *out = x ? tg__out("tg_select", sa->ndim - 1, shape) : NULL;
    if (out)
        slice_copy(sa, x->data, out->data, true);
    return out;
}

/* zeros of sa's shape with y at [..., index, ...], fresh and recorded nowhere */
static tg_tensor *scatter_now(tg_tensor *y, const select_args *sa)
{
    tg_tensor *out = y ? tg__out("tg_select_backward", sa->ndim, sa->shape) : NULL;
    if (out) {
        memset(out->data, 0, (size_t)out->numel * sizeof(double));
        slice_copy(sa, out->data, y->data, false);
    }
    return out;
}

/* forward: y = x[..., index, ...] (dim removed)  =>  dx = zeros with dy at index */
static tg_status select_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    return (out[0] = select_now(in[0], tg_ctx_args(ctx))) ? TG_OK : tg_last_status();
}
static tg_status select_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    const select_args *sa = tg_ctx_args(ctx);
    gin[0] = tg__grad_mode() ? select_backward_op(g[0], sa) : scatter_now(g[0], sa);
    return gin[0] ? TG_OK : tg_last_status();
}
static const tg_function select_fn = {.name = "tg_select", .n_inputs = 1, .n_outputs = 1,
                                      .forward = select_forward, .backward = select_backward};

/* forward: x = zeros(shape) with x[..., index, ...] = y  =>  dy = select(dx, dim, index) */
static tg_status select_backward_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    return (out[0] = scatter_now(in[0], tg_ctx_args(ctx))) ? TG_OK : tg_last_status();
}
static tg_status select_backward_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    const select_args *sa = tg_ctx_args(ctx);
    gin[0] = tg__grad_mode() ? tg_select(g[0], sa->dim, sa->index) : select_now(g[0], sa);
    return gin[0] ? TG_OK : tg_last_status();
}
static const tg_function select_backward_fn = {.name = "tg_select_backward", .n_inputs = 1,
                                               .n_outputs = 1, .forward = select_backward_forward,
                                               .backward = select_backward_backward};

static tg_tensor *select_backward_op(tg_tensor *g, const select_args *sa)
{
    return tg__apply_op(&select_backward_fn, &g, sa, sizeof *sa);
}

tg_tensor *tg_select(tg_tensor *a, int dim, int64_t index)
{
    if (tg__check_live("tg_select", "a", a) != TG_OK)
        return NULL;
    int n = a->ndim, d = dim < 0 ? dim + n : dim;
    if (n == 0) {
        tg__error(TG_ERR_ARG, "tg_select: dim %d given but a is 0-d: nothing to select from", dim);
        return NULL;
    }
    if (d < 0 || d >= n) {
        tg__error(TG_ERR_ARG, "tg_select: dim %d out of range for a %d-d tensor (%d..%d)", dim, n, -n,
                  n - 1);
        return NULL;
    }
    int64_t size = a->shape[d], i = index < 0 ? index + size : index;
    if (i < 0 || i >= size) {
        tg__error(TG_ERR_ARG, "tg_select: index %lld out of range for dim %d of size %lld",
                  (long long)index, dim, (long long)size);
        return NULL;
    }
    select_args sa = {.dim = d, .index = i, .ndim = n};
    memcpy(sa.shape, a->shape, sizeof sa.shape);
    return tg__apply_op(&select_fn, &a, &sa, sizeof sa);
}
