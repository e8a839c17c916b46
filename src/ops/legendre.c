/*
** Legendre polynomials: tg_legendre(x, n) is one fused Function computing the
** k-th derivative of P_n over the whole batch in one kernel pass (k = 0 for
** the values).  Its backward is the same Function at order k + 1, so every
** derivative is itself differentiable.
*/
#include "ops.h"

typedef struct legendre_args { int n, k; } legendre_args;

static tg_tensor *legendre_k(tg_tensor *x, int n, int k);

/* P_n^(k)(x) in a fresh tensor of the scope, recorded nowhere: the forward,
** and the unrecorded backward's derivative. */
static tg_tensor *legendre_now(tg_tensor *x, int n, int k)
{
    int64_t scratch_n = tg__legendre_scratch(k);
    tg_tensor *scratch = x ? tg__out("tg_legendre", 1, &scratch_n) : NULL;
    tg_tensor *out = scratch ? tg__out("tg_legendre", x->ndim, x->shape) : NULL;
    if (out)
        tg__kern()->legendre(x->numel, x->data, n, k, out->data, scratch->data);
    return out;
}

/* forward: y = P_n^(k)(x)  =>  dx = dy * P_n^(k+1)(x); unrecorded, the
** derivative is made in the gradient's own tensor and multiplied by dy there,
** with the mul kernel the op would call (the same bits, one op apply fewer
** and no second tensor) */
static tg_status legendre_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    const legendre_args *la = tg_ctx_args(ctx);
    if (!(out[0] = legendre_now(in[0], la->n, la->k)))
        return tg_last_status();
    return tg_save_for_backward(ctx, 1, in);
}
static tg_status legendre_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    const legendre_args *la = tg_ctx_args(ctx);
    tg_tensor *x = tg_saved_tensor(ctx, 0);
    if (tg__grad_mode()) {
        gin[0] = tg_mul(g[0], legendre_k(x, la->n, la->k + 1));
    } else if ((gin[0] = legendre_now(x, la->n, la->k + 1))) {
        TG_ASSERT(tg__same_shape(g[0], gin[0]));
        tg__kern()->binary[TG__MUL](gin[0]->numel, g[0]->data, 1, gin[0]->data, 1, gin[0]->data);
    }
    return gin[0] ? TG_OK : tg_last_status();
}
static const tg_function legendre_fn = {.name = "tg_legendre", .n_inputs = 1, .n_outputs = 1,
                                        .forward = legendre_forward, .backward = legendre_backward};

static tg_tensor *legendre_k(tg_tensor *x, int n, int k)
{
    legendre_args la = {n, k};
    return tg__apply_op(&legendre_fn, &x, &la, sizeof la);
}

tg_tensor *tg_legendre(tg_tensor *x, int n)
{
    if (n < 0) {
        tg__error(TG_ERR_ARG, "tg_legendre: n is %d, must be >= 0", n);
        return NULL;
    }
    return legendre_k(x, n, 0);
}
