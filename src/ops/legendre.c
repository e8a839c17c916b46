/*
** Legendre polynomials: tg_legendre(x, n) is one fused Function computing the
** k-th derivative of P_n over the whole batch in one kernel pass (k = 0 for
** the values).  Its backward is the same Function at order k + 1, so every
** derivative is itself differentiable.
*/
#include "ops.h"

typedef struct legendre_args { int n, k; } legendre_args;

static tg_tensor *legendre_k(tg_tensor *x, int n, int k);

/* forward: y = P_n^(k)(x)  =>  dx = dy * P_n^(k+1)(x) */
static tg_status legendre_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    const legendre_args *la = tg_ctx_args(ctx);
    int64_t scratch_n = tg__legendre_scratch(la->k);
    tg_tensor *scratch = tg__out("tg_legendre", 1, &scratch_n);
    if (!scratch || !(out[0] = tg__out("tg_legendre", in[0]->ndim, in[0]->shape)))
        return tg_last_status();
    tg__kern()->legendre(in[0]->numel, in[0]->data, la->n, la->k, out[0]->data, scratch->data);
    return tg_save_for_backward(ctx, 1, in);
}
static tg_status legendre_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    const legendre_args *la = tg_ctx_args(ctx);
    gin[0] = tg_mul(g[0], legendre_k(tg_saved_tensor(ctx, 0), la->n, la->k + 1));
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
