/* SPDX-License-Identifier: MIT */
/*
** Glue shared by the op files: applying a built-in Function and making its
** output.  Ops sit on top: public op -> Function (this layer: shapes,
** broadcasting, allocation, status) -> kernel (raw spans).
*/
#ifndef TG_OPS_H
#define TG_OPS_H

#include "../core/internal.h"
#include "../core/opdesc.h"
#include "../kernels/kernels.h"

/* Applies a one-output built-in Function with optional arguments.  One
** without a descriptor reads its inputs' data in its forward: lazy mode's
** pending work is computed first (tg_apply_args would run a forward of a
** Function without one with its ops recorded, as a user Function's, whose
** tg_data calls realize). */
static inline tg_tensor *tg__apply_op(const tg_function *fn, tg_tensor *const *inputs,
                                      const void *args, size_t args_size)
{
    tg_tensor *out;
    if (!fn->desc)
        tg__lazy_sync();
    return tg_apply_args(fn, inputs, &out, args, args_size) == TG_OK ? out : NULL;
}

/* A pointwise op's descriptor (core/opdesc.h): point and block from one
** scalar function fname_f(x, args), the scalar inputs (inc 0) broadcast, and
** cexpr its C expression for the code generator. */
#define TG__POINT_DESC(fname, n_in, cexpr)                                                          \
    static double fname##_point(const double *x, const void *args, double *scratch)                 \
    {                                                                                               \
        (void)scratch;                                                                              \
        return fname##_f(x, args);                                                                  \
    }                                                                                               \
    static void fname##_block(int64_t n, const double *const *x, const int64_t *inc,                \
                              const void *args, double *y, double *scratch)                         \
    {                                                                                               \
        (void)scratch;                                                                              \
        for (int64_t j = 0; j < n; j++) {                                                           \
            double v[n_in];                                                                         \
            for (int i = 0; i < n_in; i++)                                                          \
                v[i] = x[i][j * inc[i]];                                                            \
            y[j] = fname##_f(v, args);                                                              \
        }                                                                                           \
    }                                                                                               \
    static const tg__opdesc fname##_desc = {.kind = TG__OPK_POINT, .point = fname##_point,          \
                                            .block = fname##_block, .expr = cexpr};

/* The backward of an op whose output is a constant factor (a mask, a weight,
** a shift), applied to inputs that never require grad: no gradient. */
static inline tg_status tg__constant_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    (void)ctx, (void)g, (void)gin;
    return TG_OK;
}

/* dim normalized for an ndim-d tensor into *d (-ndim..ndim-1; a 0-d tensor
** has the one dim 0 / -1, as in PyTorch); false with TG_ERR_ARG naming fn. */
static inline bool tg__norm_dim(const char *fn, int dim, int ndim, int *d)
{
    int n = ndim > 0 ? ndim : 1;
    *d = dim < 0 ? dim + n : dim;
    if (*d >= 0 && *d < n)
        return true;
    tg__error(TG_ERR_ARG, "%s: dim %d out of range for a %d-d tensor", fn, dim, ndim);
    return false;
}

/* A new uninitialized output tensor for a forward, in the current scope. */
static inline tg_tensor *tg__out(const char *fn, int ndim, const int64_t *shape)
{
    return tg__adopt(tg__tensor_new(fn, ndim, shape));
}

/* The gradient of an input broadcast into an output: g summed back down to
** input i's recorded shape (g itself when nothing was broadcast). */
tg_tensor *tg__grad_to_input(const tg_ctx *ctx, int i, tg_tensor *g);
/* Batched matrix product [B,m,k] x [B,k,n] -> [B,m,n] (linalg.c), shapes
** already checked: what tg_matmul runs for batched operands. */
tg_tensor *tg__bmm(tg_tensor *a, tg_tensor *b);

#endif /* TG_OPS_H */
