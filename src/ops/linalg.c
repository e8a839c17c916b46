/*
** Linear algebra: matmul through dgemm (src/blas.c) and the 2-d transpose.
** Each op's forward, backward and tg_function sit together.
*/
#include "ops.h"

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

tg_tensor *tg_matmul(tg_tensor *a, tg_tensor *b)
{
    return tg__apply_op(&matmul_fn, (tg_tensor *[]){a, b}, NULL, 0);
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
