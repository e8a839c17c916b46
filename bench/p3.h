/*
** The tutorial's P3 as a user Function, with forward and backward as single
** raw loops over the batch, shared by the benchmark programs (each includes it
** once; everything here is static).
*/
#ifndef TG_BENCH_P3_H
#define TG_BENCH_P3_H

#include <tensorgrad.h>

/* forward: y = (5x^3 - 3x) / 2 */
static tg_status p3_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    tg_tensor *x = in[0];
    if (!(out[0] = tg_zeros(tg_ndim(x), tg_shape(x))))
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
    if (!x || !(gin[0] = tg_zeros(tg_ndim(x), tg_shape(x))))
        return tg_last_status();
    const double *xd = tg_data(x), *gd = tg_data(g[0]);
    double *dx = tg_data(gin[0]);
    for (int64_t i = 0, n = tg_numel(x); i < n; i++)
        dx[i] = gd[i] * 1.5 * (5 * xd[i] * xd[i] - 1);
    return TG_OK;
}

static const tg_function p3_fn = {.name = "LegendrePolynomial3", .n_inputs = 1, .n_outputs = 1,
                                  .forward = p3_forward, .backward = p3_backward};

#endif /* TG_BENCH_P3_H */
