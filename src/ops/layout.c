/* SPDX-License-Identifier: MIT */
/*
** Layout ops with PyTorch's names: tg_permute, tg_squeeze, tg_narrow, tg_cat
** and tg_stack.  Tensors are contiguous, so a view is possible only where the
** element order does not change (tg_squeeze, via tg_reshape); the others copy.
** narrow and cat are each other's backward, permute is its inverse's, so all
** are differentiable any number of times.  Ops layer: public op -> Function.
*/
#include "ops.h"

#include <string.h>

/* The number of elements before and after dimension d of shape. */
static void split_at(int ndim, const int64_t *shape, int d, int64_t *outer, int64_t *inner)
{
    *outer = *inner = 1;
    for (int i = 0; i < d; i++)
        *outer *= shape[i];
    for (int i = d + 1; i < ndim; i++)
        *inner *= shape[i];
}

/* ------------------------------------------------------------- permute */

typedef struct perm_args { int ndim; int dims[TG_MAX_DIMS]; } perm_args;

/* forward: y[i_0..i_n) = x[i_dims^-1...], y.shape[k] = x.shape[dims[k]]
**   =>  dx = permute(dy, inverse of dims) */
static tg_status permute_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    const perm_args *pa = tg_ctx_args(ctx);
    const tg_tensor *x = in[0];
    int n = pa->ndim;
    int64_t shape[TG_MAX_DIMS], xstride[TG_MAX_DIMS], stride[TG_MAX_DIMS], idx[TG_MAX_DIMS] = {0};
    int64_t acc = 1;
    for (int i = n - 1; i >= 0; i--) {
        xstride[i] = acc;
        acc *= x->shape[i];
    }
    for (int k = 0; k < n; k++) {
        shape[k] = x->shape[pa->dims[k]];
        stride[k] = xstride[pa->dims[k]];
    }
    tg_tensor *y = out[0] = tg__out("tg_permute", n, shape);
    if (!y)
        return tg_last_status();
    int64_t off = 0;
    for (int64_t j = 0; j < y->numel; j++) {
        y->data[j] = x->data[off];
        for (int k = n - 1; k >= 0; k--) {   /* odometer over y's index, off follows */
            off += stride[k];
            if (++idx[k] < shape[k])
                break;
            off -= stride[k] * shape[k];
            idx[k] = 0;
        }
    }
    return TG_OK;
}
static tg_status permute_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    const perm_args *pa = tg_ctx_args(ctx);
    int inv[TG_MAX_DIMS];
    for (int k = 0; k < pa->ndim; k++)
        inv[pa->dims[k]] = k;
    return (gin[0] = tg_permute(g[0], inv)) ? TG_OK : tg_last_status();
}
static const tg_function permute_fn = {.name = "tg_permute", .n_inputs = 1, .n_outputs = 1,
                                       .forward = permute_forward, .backward = permute_backward};

tg_tensor *tg_permute(tg_tensor *a, const int *dims)
{
    if (tg__check_live("tg_permute", "a", a) != TG_OK)
        return NULL;
    if (!dims) {
        tg__error(TG_ERR_ARG, "tg_permute: dims is NULL");
        return NULL;
    }
    perm_args pa = {.ndim = a->ndim};
    bool seen[TG_MAX_DIMS] = {false};
    for (int k = 0; k < a->ndim; k++) {
        int d = dims[k] < 0 ? dims[k] + a->ndim : dims[k];
        if (d < 0 || d >= a->ndim || seen[d]) {
            tg__error(TG_ERR_ARG, "tg_permute: dims[%d] is %d, %s for a %d-d tensor", k, dims[k],
                      d >= 0 && d < a->ndim ? "a repeat" : "out of range", a->ndim);
            return NULL;
        }
        seen[d] = true;
        pa.dims[k] = d;
    }
    return tg__apply_op(&permute_fn, &a, &pa, sizeof pa);
}

/* ------------------------------------------------------------- squeeze */

tg_tensor *tg_squeeze(tg_tensor *a, int dim)
{
    int d;
    if (tg__check_arg("tg_squeeze", "a", a) != TG_OK || !tg__norm_dim("tg_squeeze", dim, a->ndim, &d))
        return NULL;
    if (a->ndim == 0 || a->shape[d] != 1)   /* PyTorch: a no-op unless the size is 1 */
        return tg_reshape(a, a->ndim, a->shape);
    int64_t shape[TG_MAX_DIMS];
    for (int i = 0, j = 0; i < a->ndim; i++)
        if (i != d)
            shape[j++] = a->shape[i];
    return tg_reshape(a, a->ndim - 1, shape);
}

/* ------------------------------------------------------- narrow and cat */

typedef struct narrow_args { int dim; int64_t start, length; } narrow_args;

/* forward: y = x[..., start:start+length, ...] along dim
**   =>  dx = cat(zeros(start), dy, zeros(rest)) along dim */
static tg_status narrow_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    const narrow_args *na = tg_ctx_args(ctx);
    const tg_tensor *x = in[0];
    int64_t shape[TG_MAX_DIMS], outer, inner;
    memcpy(shape, x->shape, sizeof shape);
    shape[na->dim] = na->length;
    if (!(out[0] = tg__out("tg_narrow", x->ndim, shape)))
        return tg_last_status();
    split_at(x->ndim, x->shape, na->dim, &outer, &inner);
    int64_t len = x->shape[na->dim], run = na->length * inner;
    for (int64_t o = 0; o < outer && run > 0; o++)
        memcpy(out[0]->data + o * run, x->data + (o * len + na->start) * inner,
               (size_t)run * sizeof(double));
    return TG_OK;
}

static tg_tensor *zeros_along(const tg_tensor *like, int ndim, const int64_t *shape, int dim, int64_t n)
{
    int64_t s[TG_MAX_DIMS];
    (void)like;
    memcpy(s, shape, (size_t)ndim * sizeof *s);
    s[dim] = n;
    return tg_zeros(ndim, s);
}

static tg_status narrow_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    const narrow_args *na = tg_ctx_args(ctx);
    int ndim;
    const int64_t *shape = tg__ctx_in_shape(ctx, 0, &ndim);
    int64_t after = shape[na->dim] - na->start - na->length;
    tg_tensor *parts[3];
    int n = 0;
    if (na->start > 0)
        parts[n++] = zeros_along(g[0], ndim, shape, na->dim, na->start);
    parts[n++] = g[0];
    if (after > 0)
        parts[n++] = zeros_along(g[0], ndim, shape, na->dim, after);
    return (gin[0] = n == 1 ? g[0] : tg_cat(n, parts, na->dim)) ? TG_OK : tg_last_status();
}
static const tg_function narrow_fn = {.name = "tg_narrow", .n_inputs = 1, .n_outputs = 1,
                                      .forward = narrow_forward, .backward = narrow_backward};

tg_tensor *tg_narrow(tg_tensor *a, int dim, int64_t start, int64_t length)
{
    int d;
    if (tg__check_live("tg_narrow", "a", a) != TG_OK)
        return NULL;
    if (a->ndim == 0) {
        tg__error(TG_ERR_ARG, "tg_narrow: a is 0-d, it has no dimension to narrow");
        return NULL;
    }
    if (!tg__norm_dim("tg_narrow", dim, a->ndim, &d))
        return NULL;
    int64_t size = a->shape[d];
    if (start < 0 && start >= -size)   /* PyTorch counts a negative start from the end */
        start += size;
    if (start < 0 || start > size || length < 0 || length > size - start) {
        tg__error(TG_ERR_ARG, "tg_narrow: start %lld and length %lld do not fit dim %d of size %lld",
                  (long long)start, (long long)length, dim, (long long)size);
        return NULL;
    }
    narrow_args na = {d, start, length};
    return tg__apply_op(&narrow_fn, &a, &na, sizeof na);
}

typedef struct cat_args { int dim; } cat_args;

/* forward: y = [x_0; x_1; ...] along dim  =>  dx_i = narrow(dy, dim, offset_i, len_i) */
static tg_status cat_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    int d = ((const cat_args *)tg_ctx_args(ctx))->dim, n = tg__ctx_n_inputs(ctx);
    int64_t shape[TG_MAX_DIMS], outer, inner;
    memcpy(shape, in[0]->shape, sizeof shape);
    shape[d] = 0;
    for (int i = 0; i < n; i++)
        shape[d] += in[i]->shape[d];
    tg_tensor *y = out[0] = tg__out("tg_cat", in[0]->ndim, shape);
    if (!y)
        return tg_last_status();
    split_at(in[0]->ndim, shape, d, &outer, &inner);
    double *dst = y->data;
    for (int64_t o = 0; o < outer; o++)
        for (int i = 0; i < n; i++) {
            int64_t run = in[i]->shape[d] * inner;
            if (run > 0)
                memcpy(dst, in[i]->data + o * run, (size_t)run * sizeof(double));
            dst += run;
        }
    return TG_OK;
}
static tg_status cat_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    int d = ((const cat_args *)tg_ctx_args(ctx))->dim, n = tg__ctx_n_inputs(ctx);
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        int ndim;
        int64_t len = tg__ctx_in_shape(ctx, i, &ndim)[d];
        if (tg_needs_input_grad(ctx, i) && !(gin[i] = tg_narrow(g[0], d, off, len)))
            return tg_last_status();
        off += len;
    }
    return TG_OK;
}

#define CAT_FN(k) {.name = "tg_cat", .n_inputs = k, .n_outputs = 1, .forward = cat_forward, \
                   .backward = cat_backward}
static const tg_function cat_fns[TG_MAX_FN_ARITY] = {
    CAT_FN(1), CAT_FN(2), CAT_FN(3), CAT_FN(4), CAT_FN(5), CAT_FN(6), CAT_FN(7), CAT_FN(8),
    CAT_FN(9), CAT_FN(10), CAT_FN(11), CAT_FN(12), CAT_FN(13), CAT_FN(14), CAT_FN(15), CAT_FN(16)};

static bool check_cat(const char *fn, int n, tg_tensor *const *ts, int dim, int *d)
{
    if (n < 1 || !ts) {
        tg__error(TG_ERR_ARG, "%s: needs at least one tensor (n is %d%s)", fn, n, ts ? "" : ", ts NULL");
        return false;
    }
    for (int i = 0; i < n; i++)
        if (tg__check_live(fn, "ts[i]", ts[i]) != TG_OK)
            return false;
    if (ts[0]->ndim == 0) {
        tg__error(TG_ERR_ARG, "%s: ts[0] is 0-d and cannot be concatenated", fn);
        return false;
    }
    if (!tg__norm_dim(fn, dim, ts[0]->ndim, d))
        return false;
    for (int i = 1; i < n; i++) {
        bool ok = ts[i]->ndim == ts[0]->ndim;
        for (int k = 0; ok && k < ts[0]->ndim; k++)
            ok = k == *d || ts[i]->shape[k] == ts[0]->shape[k];
        if (!ok) {
            char b0[TG__SHAPE_STR], bi[TG__SHAPE_STR];
            tg__error(TG_ERR_SHAPE, "%s: ts[0] is %s but ts[%d] is %s (sizes must match except in dim %d)",
                      fn, tg__shape_str(b0, ts[0]->ndim, ts[0]->shape), i,
                      tg__shape_str(bi, ts[i]->ndim, ts[i]->shape), dim);
            return false;
        }
    }
    return true;
}

/* tg_cat on checked arguments: groups of up to TG_MAX_FN_ARITY, then their cat. */
static tg_tensor *cat_checked(int n, tg_tensor *const *ts, int d)
{
    cat_args ca = {d};
    if (n <= TG_MAX_FN_ARITY)
        return tg__apply_op(&cat_fns[n - 1], ts, &ca, sizeof ca);
    tg_tensor *groups[TG_MAX_FN_ARITY];
    int per = (n + TG_MAX_FN_ARITY - 1) / TG_MAX_FN_ARITY, ng = 0;
    for (int i = 0; i < n; i += per) {
        int k = n - i < per ? n - i : per;
        if (!(groups[ng++] = cat_checked(k, ts + i, d)))
            return NULL;
    }
    return cat_checked(ng, groups, d);
}

tg_tensor *tg_cat(int n, tg_tensor *const *ts, int dim)
{
    int d;
    return check_cat("tg_cat", n, ts, dim, &d) ? cat_checked(n, ts, d) : NULL;
}

tg_tensor *tg_stack(int n, tg_tensor *const *ts, int dim)
{
    if (n < 1 || !ts) {
        tg__error(TG_ERR_ARG, "tg_stack: needs at least one tensor (n is %d%s)", n, ts ? "" : ", ts NULL");
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (tg__check_live("tg_stack", "ts[i]", ts[i]) != TG_OK)
            return NULL;
    int nd = ts[0]->ndim + 1, d = dim < 0 ? dim + nd : dim;
    if (d < 0 || d >= nd || nd > TG_MAX_DIMS) {
        tg__error(TG_ERR_ARG, "tg_stack: dim %d out of range for stacking %d-d tensors", dim, nd - 1);
        return NULL;
    }
    for (int i = 1; i < n; i++)
        if (!tg__same_shape(ts[i], ts[0])) {
            char b0[TG__SHAPE_STR], bi[TG__SHAPE_STR];
            tg__error(TG_ERR_SHAPE, "tg_stack: ts[0] is %s but ts[%d] is %s (all must match)",
                      tg__shape_str(b0, ts[0]->ndim, ts[0]->shape), i,
                      tg__shape_str(bi, ts[i]->ndim, ts[i]->shape));
            return NULL;
        }
    tg_tensor **u = tg__malloc((size_t)n * sizeof *u), *out = NULL;
    if (!u) {
        tg__error(TG_ERR_NOMEM, "tg_stack: out of memory");
        return NULL;
    }
    bool ok = true;
    for (int i = 0; ok && i < n; i++)   /* views, owned by the current scope */
        ok = (u[i] = tg_unsqueeze(ts[i], d)) != NULL;
    if (ok)
        out = cat_checked(n, u, d);
    tg__free(u);
    return out;
}
