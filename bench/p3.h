/* SPDX-License-Identifier: MIT */
/*
** The tutorial's P3 as a user Function, written both ways a user can, shared
** by the benchmark programs (each includes it once; everything here is
** static):
**   p3_fn       forward and backward callbacks, each a single raw loop over
**               the batch (the general form, as in PyTorch's tutorial)
**   p3_span_fn  span kernels: the library allocates, broadcasts, splits
**               the batch over threads and fuses them into captured passes
**   p3_ops_fn   forward and backward written with tensorgrad ops and
**               tg_scalar constants, as a user writes 0.5 * (5 * x**3 - 3 * x)
**               and grad * 1.5 * (5 * x**2 - 1) (what lazy mode fuses)
*/
#ifndef TG_BENCH_P3_H
#define TG_BENCH_P3_H

#include <tensorgrad.h>

#if defined(__GNUC__)
#define P3_MAYBE_UNUSED __attribute__((unused))   /* not every program uses both forms */
#else
#define P3_MAYBE_UNUSED
#endif

/* forward: y = (5x^3 - 3x) / 2 */
static tg_status p3_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    tg_tensor *x = in[0];
    if (!(out[0] = tg_empty(tg_ndim(x), tg_shape(x))))
        return tg_last_status();
    const double *xd = tg_data(x);
    double *yd = tg_data(out[0]);
    for (int64_t i = 0, n = tg_numel(x); i < n; i++)
        yd[i] = 0.5 * (5 * xd[i] * xd[i] * xd[i] - 3 * xd[i]);
    return tg_save_for_backward(ctx, 1, in);
}

/* forward: y = (5x^3 - 3x) / 2  =>  dx = dy * 1.5 (5x^2 - 1) */
static tg_status p3_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    tg_tensor *x = tg_saved_tensor(ctx, 0);
    if (!x || !(gin[0] = tg_empty(tg_ndim(x), tg_shape(x))))
        return tg_last_status();
    const double *xd = tg_data(x), *gd = tg_data(g[0]);
    double *dx = tg_data(gin[0]);
    for (int64_t i = 0, n = tg_numel(x); i < n; i++)
        dx[i] = gd[i] * 1.5 * (5 * xd[i] * xd[i] - 1);
    return TG_OK;
}

P3_MAYBE_UNUSED static const tg_function p3_fn = {.name = "LegendrePolynomial3", .n_inputs = 1, .n_outputs = 1,
                                  .forward = p3_forward, .backward = p3_backward};

/* out = (5x^3 - 3x) / 2 */
static void p3_span_forward(int64_t n, const double *const *in, double *out)
{
    const double *x = in[0];
    for (int64_t i = 0; i < n; i++)
        out[i] = 0.5 * (5 * x[i] * x[i] * x[i] - 3 * x[i]);
}

/* grad_in = grad_out * 1.5 (5x^2 - 1) */
static void p3_span_backward(int64_t n, const double *const *in, const double *out, const double *grad_out,
                             double *const *grad_in)
{
    const double *x = in[0];
    (void)out;
    for (int64_t i = 0; i < n; i++)
        grad_in[0][i] = grad_out[i] * 1.5 * (5 * x[i] * x[i] - 1);
}

P3_MAYBE_UNUSED static const tg_function p3_span_fn = {.name = "LegendrePolynomial3", .n_inputs = 1, .n_outputs = 1,
                                       .forward_span = p3_span_forward, .backward_span = p3_span_backward};

/* forward: y = 0.5 * (5 * x**3 - 3 * x), in tensorgrad ops, the constants
** tg_scalar tensors, evaluated in Python's order. */
static tg_status p3_ops_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    tg_tensor *x = in[0];
    out[0] = tg_mul(tg_scalar(0.5), tg_sub(tg_mul(tg_scalar(5.0), tg_pow(x, 3.0)), tg_mul(tg_scalar(3.0), x)));
    return out[0] ? tg_save_for_backward(ctx, 1, in) : tg_last_status();
}

/* backward: dx = grad * 1.5 * (5 * x**2 - 1), left to right as Python does. */
static tg_status p3_ops_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    tg_tensor *x = tg_saved_tensor(ctx, 0);
    if (!x)
        return tg_last_status();
    gin[0] = tg_mul(tg_mul(g[0], tg_scalar(1.5)), tg_sub(tg_mul(tg_scalar(5.0), tg_pow(x, 2.0)), tg_scalar(1.0)));
    return gin[0] ? TG_OK : tg_last_status();
}

P3_MAYBE_UNUSED static const tg_function p3_ops_fn = {.name = "LegendrePolynomial3", .n_inputs = 1, .n_outputs = 1,
                                      .forward = p3_ops_forward, .backward = p3_ops_backward};

/* The tutorial step's loss sum((a + b P3(c + d x) - y)^2), p = {a, b, c, d},
** with P3 the user Function fn, or tg_legendre(., 3) when fn is NULL. */
P3_MAYBE_UNUSED static tg_tensor *p3_step_loss(tg_tensor *const p[4], tg_tensor *x, tg_tensor *y,
                                               const tg_function *fn)
{
    tg_tensor *u = tg_add(p[2], tg_mul(p[3], x));
    tg_tensor *q = fn ? tg_apply1(fn, &u) : tg_legendre(u, 3);
    return tg_sum(tg_pow(tg_sub(tg_add(p[0], tg_mul(p[1], q)), y), 2.0));
}

/* One eager step in a scope: out = {loss, ga, gb, gc, gd}, then p -= lr *
** grad and the gradients cleared.  1 on success, 0 on failure (recorded). */
P3_MAYBE_UNUSED static int p3_eager_step(tg_tensor *const p[4], tg_tensor *x, tg_tensor *y,
                                         const tg_function *fn, double lr, double out[5])
{
    tg_scope_begin();
    tg_tensor *loss = p3_step_loss(p, x, y, fn);
    int ok = loss && tg_backward(loss, NULL) == TG_OK;
    if (ok) {
        out[0] = tg_item(loss);
        for (int i = 0; i < 4; i++) {
            out[1 + i] = tg_item(tg_grad(p[i]));
            tg_data(p[i])[0] -= lr * out[1 + i];
            tg_zero_grad(p[i]);
        }
    }
    tg_scope_end();
    return ok;
}

#endif /* TG_BENCH_P3_H */
