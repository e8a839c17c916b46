/* SPDX-License-Identifier: MIT */
/*
** Linear algebra: matmul through dgemm (src/blas.c) and the 2-d transpose.
** Each op's forward, backward and tg_function sit together.
*/
#include "ops.h"

#include <string.h>

/* forward: C = A B, A [m,k], B [k,n]  =>  dA = dC B^T, dB = A^T dC */
static tg_status matmul_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    const tg_tensor *a = in[0], *b = in[1];
    if (a->ndim != 2 || b->ndim != 2 || a->shape[1] != b->shape[0]) {
        char ba[TG__SHAPE_STR], bb[TG__SHAPE_STR];
        return tg__error(TG_ERR_SHAPE, "tg_matmul: a is %s but b is %s (need [m,k] and [k,n])",
                         tg__shape_str(ba, a->ndim, a->shape), tg__shape_str(bb, b->ndim, b->shape));
    }
    int64_t m = a->shape[0], k = a->shape[1], n = b->shape[1];
    if (!(out[0] = tg__out("tg_matmul", 2, (int64_t[]){m, n})))
        return tg_last_status();
    tg_status st = tg__dgemm("tg_matmul", false, false, m, n, k, 1.0, a->data, k, b->data, n, 0.0,
                             out[0]->data, n);
    return st == TG_OK ? tg_save_for_backward(ctx, 2, in) : st;
}
static tg_status matmul_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    tg_tensor *a = tg_saved_tensor(ctx, 0), *b = tg_saved_tensor(ctx, 1);
    if (tg_needs_input_grad(ctx, 0) && !(gin[0] = tg_matmul(g[0], tg_transpose(b))))
        return tg_last_status();
    if (tg_needs_input_grad(ctx, 1) && !(gin[1] = tg_matmul(tg_transpose(a), g[0])))
        return tg_last_status();
    return TG_OK;
}
static const tg_function matmul_fn = {.name = "tg_matmul", .n_inputs = 2, .n_outputs = 1,
                                      .forward = matmul_forward, .backward = matmul_backward};

/* [B,m,k] and [B,k,n] -> [B,m,n] transposing the last two dims: the batch's
** transposes for the batched backward */
static tg_tensor *transpose_last(tg_tensor *x)
{
    return tg_permute(x, (const int[]){0, 2, 1});
}

/* forward: C_i = A_i B_i, A [B,m,k], B [B,k,n], one dgemm per batch entry
**   =>  dA = dC B^T, dB = A^T dC (batched) */
static tg_status bmm_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    const tg_tensor *a = in[0], *b = in[1];
    int64_t nb = a->shape[0], m = a->shape[1], k = a->shape[2], n = b->shape[2];
    if (!(out[0] = tg__out("tg_matmul", 3, (int64_t[]){nb, m, n})))
        return tg_last_status();
    if (k == 0)
        memset(out[0]->data, 0, (size_t)out[0]->numel * sizeof(double));
    for (int64_t i = 0; i < nb && k > 0 && m > 0 && n > 0; i++) {
        tg_status st = tg__dgemm("tg_matmul", false, false, m, n, k, 1.0, a->data + i * m * k, k,
                                 b->data + i * k * n, n, 0.0, out[0]->data + i * m * n, n);
        if (st != TG_OK)
            return st;
    }
    return tg_save_for_backward(ctx, 2, in);
}
static tg_status bmm_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    tg_tensor *a = tg_saved_tensor(ctx, 0), *b = tg_saved_tensor(ctx, 1);
    if (tg_needs_input_grad(ctx, 0) && !(gin[0] = tg__bmm(g[0], transpose_last(b))))
        return tg_last_status();
    if (tg_needs_input_grad(ctx, 1) && !(gin[1] = tg__bmm(transpose_last(a), g[0])))
        return tg_last_status();
    return TG_OK;
}
static const tg_function bmm_fn = {.name = "tg_matmul", .n_inputs = 2, .n_outputs = 1,
                                   .forward = bmm_forward, .backward = bmm_backward};

tg_tensor *tg__bmm(tg_tensor *a, tg_tensor *b)
{
    return tg__apply_op(&bmm_fn, (tg_tensor *[]){a, b}, NULL, 0);
}

static tg_tensor *matmul_shape_error(const tg_tensor *a, const tg_tensor *b)
{
    char ba[TG__SHAPE_STR], bb[TG__SHAPE_STR];
    tg__error(TG_ERR_SHAPE, "tg_matmul: a is %s but b is %s (need [...,m,k] and [...,k,n], "
              "1-d a vector)", tg__shape_str(ba, a->ndim, a->shape), tg__shape_str(bb, b->ndim, b->shape));
    return NULL;
}

/* torch.matmul on batched operands (either ndim > 2): 1-d operands become
** [1,k] / [k,1], batch dims broadcast, one tg__bmm, then the added dims go. */
static tg_tensor *matmul_batched(tg_tensor *a, tg_tensor *b)
{
    tg_tensor *a2 = a->ndim == 1 ? tg_unsqueeze(a, 0) : a, *b2 = b->ndim == 1 ? tg_unsqueeze(b, 1) : b;
    if (!a2 || !b2)
        return NULL;
    int na = a2->ndim - 2, nbd = b2->ndim - 2, nd;
    int64_t m = a2->shape[na], k = a2->shape[na + 1], n = b2->shape[nbd + 1], batch[TG_MAX_DIMS];
    if (b2->shape[nbd] != k)
        return matmul_shape_error(a, b);
    if (!tg__broadcast_shape("tg_matmul", na, a2->shape, nbd, b2->shape, &nd, batch))
        return NULL;
    if (nd + 2 > TG_MAX_DIMS) {
        tg__error(TG_ERR_SHAPE, "tg_matmul: the result would have %d dims (at most %d)", nd + 2, TG_MAX_DIMS);
        return NULL;
    }
    int64_t nbatch = 1, sa[TG_MAX_DIMS], sb[TG_MAX_DIMS], sy[TG_MAX_DIMS];
    for (int i = 0; i < nd; i++)
        nbatch *= batch[i];
    memcpy(sa, batch, sizeof batch);
    memcpy(sb, batch, sizeof batch);
    memcpy(sy, batch, sizeof batch);
    sa[nd] = m, sa[nd + 1] = k, sb[nd] = k, sb[nd + 1] = n, sy[nd] = m, sy[nd + 1] = n;
    tg_tensor *ea = a2->ndim == nd + 2 && !memcmp(a2->shape, sa, (size_t)(nd + 2) * sizeof *sa)
                        ? a2 : tg_expand(a2, nd + 2, sa);
    tg_tensor *eb = b2->ndim == nd + 2 && !memcmp(b2->shape, sb, (size_t)(nd + 2) * sizeof *sb)
                        ? b2 : tg_expand(b2, nd + 2, sb);
    tg_tensor *y = tg__bmm(tg_reshape(ea, 3, (int64_t[]){nbatch, m, k}),
                           tg_reshape(eb, 3, (int64_t[]){nbatch, k, n}));
    int ny = nd + 2;
    if (b->ndim == 1)   /* drop the n = 1 column */
        ny--;
    else if (a->ndim == 1)   /* drop the m = 1 row */
        sy[nd] = n, ny--;
    return tg_reshape(y, ny, sy);
}

tg_tensor *tg_matmul(tg_tensor *a, tg_tensor *b)
{
    if (tg__check_live("tg_matmul", "a", a) != TG_OK || tg__check_live("tg_matmul", "b", b) != TG_OK)
        return NULL;
    if (a->ndim == 0 || b->ndim == 0)
        return matmul_shape_error(a, b);
    if (a->ndim == 2 && b->ndim == 2)
        return tg__apply_op(&matmul_fn, (tg_tensor *[]){a, b}, NULL, 0);
    if (a->ndim > 2 || b->ndim > 2)
        return matmul_batched(a, b);
    int64_t k = a->shape[a->ndim - 1];
    if (b->shape[0] != k)
        return matmul_shape_error(a, b);
    /* vectors as [1,k] rows and [k,1] columns through the 2-d (dgemm) path */
    tg_tensor *a2 = a->ndim == 1 ? tg_reshape(a, 2, (int64_t[]){1, k}) : a;
    tg_tensor *b2 = b->ndim == 1 ? tg_reshape(b, 2, (int64_t[]){k, 1}) : b;
    tg_tensor *y = a2 && b2 ? tg__apply_op(&matmul_fn, (tg_tensor *[]){a2, b2}, NULL, 0) : NULL;
    if (a->ndim == 1 && b->ndim == 1)
        return tg_reshape(y, 0, (int64_t[]){1});
    return tg_reshape(y, 1, (int64_t[]){a->ndim == 1 ? b->shape[1] : a->shape[0]});
}

/* forward: y = x^T, x [m,n]  =>  dx = dy^T */
static tg_status transpose_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    (void)ctx;
    const tg_tensor *x = in[0];
    if (x->ndim != 2) {
        char bx[TG__SHAPE_STR];
        return tg__error(TG_ERR_SHAPE, "tg_transpose: x is %s, must be 2-d",
                         tg__shape_str(bx, x->ndim, x->shape));
    }
    int64_t m = x->shape[0], n = x->shape[1];
    if (!(out[0] = tg__out("tg_transpose", 2, (int64_t[]){n, m})))
        return tg_last_status();
    /* blocked so both sides stay in cache */
    for (int64_t i0 = 0; i0 < m; i0 += 32)
        for (int64_t j0 = 0; j0 < n; j0 += 32)
            for (int64_t i = i0; i < m && i < i0 + 32; i++)
                for (int64_t j = j0; j < n && j < j0 + 32; j++)
                    out[0]->data[j * m + i] = x->data[i * n + j];
    return TG_OK;
}
static tg_status transpose_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    (void)ctx;
    return (gin[0] = tg_transpose(g[0])) ? TG_OK : tg_last_status();
}
static const tg_function transpose_fn = {.name = "tg_transpose", .n_inputs = 1, .n_outputs = 1,
                                         .forward = transpose_forward, .backward = transpose_backward};

tg_tensor *tg_transpose(tg_tensor *a) { return tg__apply_op(&transpose_fn, &a, NULL, 0); }
