/* SPDX-License-Identifier: MIT */
/*
** Activations and selections with PyTorch's names and rules: tg_sigmoid,
** tg_clamp, tg_maximum, tg_minimum and tg_where (tg_softmax and
** tg_log_softmax, reductions along a dim, are in reduce_dim.c).
** Each Function's backward is written with recorded tensorgrad ops (masks and
** tie weights are constants, as in PyTorch), so every op is differentiable
** twice.  Binary and ternary ops broadcast like tg_add.  The pointwise ones
** (sigmoid, clamp, maximum, minimum, where) carry their fusion descriptor, and
** so do the masks and tie weights their backwards apply (ops of their own, so
** a captured step recomputes them): one scalar function gives the forward,
** the descriptor's point and block, and its C expression the code
** generator's.  Ops layer: public op -> Function.
*/
#include "ops.h"
#include "../core/opdesc.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------- sigmoid */

/* y = 1 / (1 + e^-x), through e^x / (1 + e^x) below 0 (no overflow of e^-x) */
static inline double sigmoid_f(const double *x, const void *args)
{
    (void)args;
    return x[0] >= 0.0 ? 1.0 / (1.0 + exp(-x[0])) : exp(x[0]) / (1.0 + exp(x[0]));
}
TG__POINT_DESC(sigmoid, 1, "(%0 >= 0.0 ? 1.0 / (1.0 + exp(-(%0))) : exp(%0) / (1.0 + exp(%0)))")

/* forward: y = sigmoid(x)  =>  dx = dy * y * (1 - y) */
static tg_status sigmoid_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    const tg_tensor *x = in[0];
    tg_tensor *y = out[0] = tg__out("tg_sigmoid", x->ndim, x->shape);
    if (!y)
        return tg_last_status();
    for (int64_t j = 0; j < x->numel; j++)
        y->data[j] = sigmoid_f(&x->data[j], NULL);
    return tg_save_for_backward(ctx, 1, out);
}
static tg_status sigmoid_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    tg_tensor *y = tg_saved_tensor(ctx, 0);
    gin[0] = tg_mul(g[0], tg_mul(y, tg_affine(y, -1.0, 1.0)));
    return gin[0] ? TG_OK : tg_last_status();
}
static const tg_function sigmoid_fn = {.name = "tg_sigmoid", .n_inputs = 1, .n_outputs = 1,
                                       .forward = sigmoid_forward, .backward = sigmoid_backward,
                                       .desc = &sigmoid_desc};

tg_tensor *tg_sigmoid(tg_tensor *a)
{
    if (tg__check_live("tg_sigmoid", "a", a) != TG_OK)
        return NULL;
    return tg__apply_op(&sigmoid_fn, &a, NULL, 0);
}

/* --------------------------------------------------------------- where */

/* The common broadcast shape of n tensors; false with TG_ERR_SHAPE. */
static bool common_shape(const char *fn, int n, tg_tensor *const *ts, int *nd, int64_t *shape)
{
    *nd = ts[0]->ndim;
    memcpy(shape, ts[0]->shape, (size_t)*nd * sizeof *shape);
    for (int i = 1; i < n; i++) {
        int64_t so_far[TG_MAX_DIMS];   /* not read and written in place: a shorter shape would shift */
        memcpy(so_far, shape, (size_t)*nd * sizeof *shape);
        if (!tg__broadcast_shape(fn, *nd, so_far, ts[i]->ndim, ts[i]->shape, nd, shape))
            return false;
    }
    return true;
}

/* t broadcast to shape: t itself when it has it (forwards run unrecorded). */
static tg_tensor *to_shape(tg_tensor *t, int nd, const int64_t *shape)
{
    bool same = t->ndim == nd;
    for (int i = 0; same && i < nd; i++)
        same = t->shape[i] == shape[i];
    return same ? t : tg_expand(t, nd, shape);
}

/* forward: y = f(x0, x1, ...) at each point of the inputs' broadcast shape
** (n_in <= 3), the forward of every broadcasting op here. */
static tg_status broadcast_forward(const char *fn, int n_in, tg_tensor *const *in, tg_tensor **out,
                                   double (*f)(const double *x, const void *args), const void *args)
{
    int nd;
    int64_t shape[TG_MAX_DIMS];
    if (!common_shape(fn, n_in, in, &nd, shape))
        return tg_last_status();
    tg_tensor *e[3];
    bool ok = true;
    for (int i = 0; i < n_in; i++)
        ok = ok && (e[i] = to_shape(in[i], nd, shape));
    tg_tensor *y = out[0] = ok ? tg__out(fn, nd, shape) : NULL;
    if (!y)
        return tg_last_status();
    for (int64_t j = 0; j < y->numel; j++) {
        double v[3];
        for (int i = 0; i < n_in; i++)
            v[i] = e[i]->data[j];
        y->data[j] = f(v, args);
    }
    return TG_OK;
}

/* The masks and tie weights of the backwards below are ops of their own with
** descriptors (forward: m = f(x...), piecewise constant  =>  no gradient),
** applied to the inputs detached: a constant factor of the gradient (no graph
** from it), but a recorded op on the inputs' data, so a captured step fuses
** it and recomputes it on every replay (a mask made by a raw loop would be
** read as data: the capture's values, stale once the parameters move). */
static tg_status constant_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    (void)ctx, (void)g, (void)gin;   /* gin stays NULL: no gradient flows through a mask */
    return TG_OK;
}

static tg_tensor *constant_factor(const tg_function *fn, int n_in, tg_tensor *const *xs, const void *args,
                                  size_t args_size)
{
    tg_tensor *c[3];
    for (int i = 0; i < n_in; i++)
        if (!(c[i] = xs[i]->requires_grad ? tg_detach(xs[i]) : xs[i]))
            return NULL;
    return tg__apply_op(fn, c, args, args_size);
}

static inline double where_f(const double *x, const void *args)
{
    (void)args;
    return x[0] != 0.0 ? x[1] : x[2];
}
TG__POINT_DESC(where, 3, "(%0 != 0.0 ? %1 : %2)")

/* forward: y = cond != 0 ? a : b  =>  da = where(cond, dy, 0), db = where(cond, 0, dy),
** each summed to its input's shape; cond gets no gradient */
static tg_status where_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    tg_status st = broadcast_forward("tg_where", 3, in, out, where_f, NULL);
    return st == TG_OK ? tg_save_for_backward(ctx, 1, in) : st;
}
static tg_status where_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    tg_tensor *c = tg_saved_tensor(ctx, 0), *zero = tg_scalar(0.0);
    if (tg_needs_input_grad(ctx, 1) && !(gin[1] = tg__grad_to_input(ctx, 1, tg_where(c, g[0], zero))))
        return tg_last_status();
    if (tg_needs_input_grad(ctx, 2) && !(gin[2] = tg__grad_to_input(ctx, 2, tg_where(c, zero, g[0]))))
        return tg_last_status();
    return TG_OK;
}
static const tg_function where_fn = {.name = "tg_where", .n_inputs = 3, .n_outputs = 1,
                                     .forward = where_forward, .backward = where_backward,
                                     .desc = &where_desc};

tg_tensor *tg_where(tg_tensor *cond, tg_tensor *a, tg_tensor *b)
{
    if (tg__check_live("tg_where", "cond", cond) != TG_OK || tg__check_live("tg_where", "a", a) != TG_OK ||
        tg__check_live("tg_where", "b", b) != TG_OK)
        return NULL;
    int nd;
    int64_t shape[TG_MAX_DIMS];
    if (!common_shape("tg_where", 3, (tg_tensor *[]){cond, a, b}, &nd, shape))
        return NULL;
    if (cond->requires_grad && !(cond = tg_detach(cond)))   /* no gradient flows to cond */
        return NULL;
    return tg__apply_op(&where_fn, (tg_tensor *[]){cond, a, b}, NULL, 0);
}

/* ------------------------------------------------------- clamp, maximum */

typedef struct clamp_args { double lo, hi; } clamp_args;   /* the descriptor's %a0 %a1 */

/* NaN stays NaN, as PyTorch */
static inline double clamp_f(const double *x, const void *args)
{
    const clamp_args *ca = args;
    return x[0] < ca->lo ? ca->lo : x[0] > ca->hi ? ca->hi : x[0];
}
TG__POINT_DESC(clamp, 1, "(%0 < %a0 ? %a0 : %0 > %a1 ? %a1 : %0)")

/* clamp's derivative mask: 1 on lo <= x <= hi, 0 elsewhere (NaN: 0) */
static inline double clamp_mask_f(const double *x, const void *args)
{
    const clamp_args *ca = args;
    return x[0] >= ca->lo && x[0] <= ca->hi ? 1.0 : 0.0;
}
TG__POINT_DESC(clamp_mask, 1, "(%0 >= %a0 && %0 <= %a1 ? 1.0 : 0.0)")
static tg_status clamp_mask_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    return broadcast_forward("tg_clamp_mask", 1, in, out, clamp_mask_f, tg_ctx_args(ctx));
}
static const tg_function clamp_mask_fn = {.name = "tg_clamp_mask", .n_inputs = 1, .n_outputs = 1,
                                          .forward = clamp_mask_forward, .backward = constant_backward,
                                          .desc = &clamp_mask_desc};

/* forward: y = min(max(x, lo), hi)  =>  dx = where(lo <= x <= hi, dy, 0) */
static tg_status clamp_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    tg_status st = broadcast_forward("tg_clamp", 1, in, out, clamp_f, tg_ctx_args(ctx));
    return st == TG_OK ? tg_save_for_backward(ctx, 1, in) : st;
}
static tg_status clamp_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    tg_tensor *x = tg_saved_tensor(ctx, 0);
    tg_tensor *mask = x ? constant_factor(&clamp_mask_fn, 1, &x, tg_ctx_args(ctx), sizeof(clamp_args)) : NULL;
    return mask && (gin[0] = tg_where(mask, g[0], tg_scalar(0.0))) ? TG_OK : tg_last_status();
}
static const tg_function clamp_fn = {.name = "tg_clamp", .n_inputs = 1, .n_outputs = 1,
                                     .forward = clamp_forward, .backward = clamp_backward,
                                     .desc = &clamp_desc};

tg_tensor *tg_clamp(tg_tensor *a, double lo, double hi)
{
    if (tg__check_live("tg_clamp", "a", a) != TG_OK)
        return NULL;
    if (isnan(lo) || isnan(hi) || lo > hi) {
        tg__error(TG_ERR_ARG, "tg_clamp: lo %g and hi %g must be numbers with lo <= hi", lo, hi);
        return NULL;
    }
    clamp_args ca = {lo, hi};
    return tg__apply_op(&clamp_fn, &a, &ca, sizeof ca);
}

typedef struct ext_args { bool is_max; } ext_args;

/* NaN from either side propagates (a NaN sum) */
static inline double maximum_f(const double *x, const void *args)
{
    (void)args;
    return isnan(x[0]) || isnan(x[1]) ? x[0] + x[1] : x[0] > x[1] ? x[0] : x[1];
}
static inline double minimum_f(const double *x, const void *args)
{
    (void)args;
    return isnan(x[0]) || isnan(x[1]) ? x[0] + x[1] : x[0] < x[1] ? x[0] : x[1];
}
TG__POINT_DESC(maximum, 2, "(isnan(%0) || isnan(%1) ? %0 + %1 : %0 > %1 ? %0 : %1)")
TG__POINT_DESC(minimum, 2, "(isnan(%0) || isnan(%1) ? %0 + %1 : %0 < %1 ? %0 : %1)")

/* The tie weight of the first operand: 0 where it loses, 1/2 on a tie, 1
** where it wins (or either is NaN: the NaN passes the gradient, as PyTorch) */
static inline double max_weight_f(const double *x, const void *args)
{
    (void)args;
    return x[0] < x[1] ? 0.0 : x[0] == x[1] ? 0.5 : 1.0;
}
static inline double min_weight_f(const double *x, const void *args)
{
    (void)args;
    return x[0] > x[1] ? 0.0 : x[0] == x[1] ? 0.5 : 1.0;
}
TG__POINT_DESC(max_weight, 2, "(%0 < %1 ? 0.0 : %0 == %1 ? 0.5 : 1.0)")
TG__POINT_DESC(min_weight, 2, "(%0 > %1 ? 0.0 : %0 == %1 ? 0.5 : 1.0)")
static tg_status weight_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    bool mx = ((const ext_args *)tg_ctx_args(ctx))->is_max;
    return broadcast_forward(mx ? "tg_maximum_weight" : "tg_minimum_weight", 2, in, out,
                             mx ? max_weight_f : min_weight_f, NULL);
}
static const tg_function max_weight_fn = {.name = "tg_maximum_weight", .n_inputs = 2, .n_outputs = 1,
                                          .forward = weight_forward, .backward = constant_backward,
                                          .desc = &max_weight_desc};
static const tg_function min_weight_fn = {.name = "tg_minimum_weight", .n_inputs = 2, .n_outputs = 1,
                                          .forward = weight_forward, .backward = constant_backward,
                                          .desc = &min_weight_desc};

/* forward: y = max(a, b) (min), NaN from either side propagating
**   =>  da = dy * wa, db = dy * wb with constant weights (PyTorch's rule: 1 on
**       the winning side, 1/2 each on a tie), wa = weight(a, b), wb =
**       weight(b, a), each summed to its input's shape */
static tg_status pair_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    bool mx = ((const ext_args *)tg_ctx_args(ctx))->is_max;
    tg_status st = broadcast_forward(mx ? "tg_maximum" : "tg_minimum", 2, in, out, mx ? maximum_f : minimum_f, NULL);
    return st == TG_OK ? tg_save_for_backward(ctx, 2, in) : st;
}
static tg_status pair_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    const ext_args *ea = tg_ctx_args(ctx);
    const tg_function *wfn = ea->is_max ? &max_weight_fn : &min_weight_fn;
    tg_tensor *a = tg_saved_tensor(ctx, 0), *b = tg_saved_tensor(ctx, 1);
    if (!a || !b)
        return tg_last_status();
    tg_tensor *const operands[2][2] = {{a, b}, {b, a}};
    for (int i = 0; i < 2; i++) {
        if (!tg_needs_input_grad(ctx, i))
            continue;
        tg_tensor *w = constant_factor(wfn, 2, operands[i], ea, sizeof *ea);
        if (!w || !(gin[i] = tg__grad_to_input(ctx, i, tg_mul(g[0], w))))
            return tg_last_status();
    }
    return TG_OK;
}
static const tg_function maximum_fn = {.name = "tg_maximum", .n_inputs = 2, .n_outputs = 1,
                                       .forward = pair_forward, .backward = pair_backward,
                                       .desc = &maximum_desc};
static const tg_function minimum_fn = {.name = "tg_minimum", .n_inputs = 2, .n_outputs = 1,
                                       .forward = pair_forward, .backward = pair_backward,
                                       .desc = &minimum_desc};

static tg_tensor *pair(const char *fn, tg_tensor *a, tg_tensor *b, bool is_max)
{
    if (tg__check_live(fn, "a", a) != TG_OK || tg__check_live(fn, "b", b) != TG_OK)
        return NULL;
    int nd;
    int64_t shape[TG_MAX_DIMS];
    if (!common_shape(fn, 2, (tg_tensor *[]){a, b}, &nd, shape))
        return NULL;
    ext_args ea = {is_max};
    return tg__apply_op(is_max ? &maximum_fn : &minimum_fn, (tg_tensor *[]){a, b}, &ea, sizeof ea);
}

tg_tensor *tg_maximum(tg_tensor *a, tg_tensor *b) { return pair("tg_maximum", a, b, true); }
tg_tensor *tg_minimum(tg_tensor *a, tg_tensor *b) { return pair("tg_minimum", a, b, false); }
