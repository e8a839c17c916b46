/* SPDX-License-Identifier: MIT */
/*
** Legendre series: y = sum_j c_j P_j(t), t = alpha x + beta, for one series or
** a batch of them, as fused Functions over the kernels legseries (Clenshaw),
** legproject (Bonnet, per point, into fixed lanes) and legvander.  Three
** Functions form a family closed under differentiation, so gradients of any
** order stay fused (no loop over series or coefficients at this layer):
**
**   S_k(c, x)  = sum_j c_j P_j^(k)(t)            tg_legendre_series at k = 0
**   Q_k(g, x)  = sum_i g_i P_j^(k)(t_i) per j     the coefficient gradient of S_k
**   V(x)       = [P_j(t_i)]                       tg_legendre_vander
**
** S_k's backward is Q_k and S_{k+1}; Q_k's is S_k and S_{k+1}; V's is S_1.
** tg_legendre_lstsq checks its tensors and solves by the streaming QR of lstsq.c.
*/
#include "ops.h"

#include <math.h>

typedef struct series_args {
    double alpha, beta;
    int64_t ncoef;   /* coefficients per series */
    int k;           /* derivative order in t */
} series_args;

/* nb series of n points; x_stride 0 when the series share x */
typedef struct series_geom { int64_t nb, n, x_stride; } series_geom;

/* lead is coef or a gradient of a series: [K] / [N] alone, [B, K] / [B, N] batched. */
static series_geom geometry(const tg_tensor *lead, const tg_tensor *x)
{
    series_geom gm;
    gm.nb = lead->ndim == 2 ? lead->shape[0] : 1;
    gm.n = x->shape[x->ndim - 1];
    gm.x_stride = x->ndim == 2 ? gm.n : 0;
    return gm;
}

static tg_tensor *series_k(tg_tensor *coef, tg_tensor *x, series_args sa, int k);
static tg_tensor *project_k(tg_tensor *g, tg_tensor *x, series_args sa, int k);

/* d/dx of a series op: alpha * g * s elementwise, summed over the series when
** they share x ([B, N] -> [N]). */
static tg_tensor *x_grad(tg_tensor *g, tg_tensor *s, const tg_tensor *x, double alpha)
{
    tg_tensor *prod = tg_mul(g, s);
    if (prod && prod->ndim == 2 && x->ndim == 1)
        prod = tg_sum_dim(prod, 0, false);
    return tg_affine(prod, alpha, 0.0);
}

/* ------------------------------------------------------------ S_k */

static tg_status series_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    const series_args *sa = tg_ctx_args(ctx);
    series_geom gm = geometry(in[0], in[1]);
    int64_t shape[2] = {gm.nb, gm.n}, scratch_n = tg__legseries_scratch(sa->k);
    tg_tensor *scratch = tg__out("tg_legendre_series", 1, &scratch_n);
    int ndim = in[0]->ndim;
    if (!scratch || !(out[0] = tg__out("tg_legendre_series", ndim, ndim == 2 ? shape : shape + 1)))
        return tg_last_status();
    tg__kern()->legseries(gm.nb, gm.n, sa->ncoef, in[0]->data, in[1]->data, gm.x_stride, sa->alpha, sa->beta,
                          sa->k, out[0]->data, scratch->data);
    return tg_save_for_backward(ctx, 2, in);
}

/* forward: y = S_k(c, x) = sum_j c_j P_j^(k)(alpha x + beta)
**   =>  dc = Q_k(dy, x),  dx = alpha dy S_{k+1}(c, x)  (summed over series sharing x) */
static tg_status series_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    const series_args *sa = tg_ctx_args(ctx);
    tg_tensor *coef = tg_saved_tensor(ctx, 0), *x = tg_saved_tensor(ctx, 1);
    if (!coef || !x)
        return tg_last_status();
    if (tg_needs_input_grad(ctx, 0) && !(gin[0] = project_k(g[0], x, *sa, sa->k)))
        return tg_last_status();
    if (tg_needs_input_grad(ctx, 1) &&
        !(gin[1] = x_grad(g[0], series_k(coef, x, *sa, sa->k + 1), x, sa->alpha)))
        return tg_last_status();
    return TG_OK;
}

static const tg_function series_fn = {.name = "tg_legendre_series", .n_inputs = 2, .n_outputs = 1,
                                      .forward = series_forward, .backward = series_backward};

static tg_tensor *series_k(tg_tensor *coef, tg_tensor *x, series_args sa, int k)
{
    sa.k = k;
    return tg__apply_op(&series_fn, (tg_tensor *const[]){coef, x}, &sa, sizeof sa);
}

/* ------------------------------------------------------------ Q_k */

static tg_status project_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    const series_args *sa = tg_ctx_args(ctx);
    series_geom gm = geometry(in[0], in[1]);
    int64_t shape[2] = {gm.nb, sa->ncoef}, scratch_n = tg__legproject_scratch(sa->k, sa->ncoef);
    tg_tensor *scratch = tg__out("tg_legendre_series", 1, &scratch_n);
    int ndim = in[0]->ndim;
    if (!scratch || !(out[0] = tg__out("tg_legendre_series", ndim, ndim == 2 ? shape : shape + 1)))
        return tg_last_status();
    tg__kern()->legproject(gm.nb, gm.n, sa->ncoef, in[0]->data, in[1]->data, gm.x_stride, sa->alpha,
                           sa->beta, sa->k, out[0]->data, scratch->data);
    return tg_save_for_backward(ctx, 2, in);
}

/* forward: z_j = Q_k(g, x)_j = sum_i g_i P_j^(k)(alpha x_i + beta)  (per series)
**   =>  dg = S_k(dz, x),  dx = alpha g S_{k+1}(dz, x)  (summed over series sharing x) */
static tg_status project_backward(tg_ctx *ctx, tg_tensor *const *h, tg_tensor **gin)
{
    const series_args *sa = tg_ctx_args(ctx);
    tg_tensor *g = tg_saved_tensor(ctx, 0), *x = tg_saved_tensor(ctx, 1);
    if (!g || !x)
        return tg_last_status();
    if (tg_needs_input_grad(ctx, 0) && !(gin[0] = series_k(h[0], x, *sa, sa->k)))
        return tg_last_status();
    if (tg_needs_input_grad(ctx, 1) && !(gin[1] = x_grad(g, series_k(h[0], x, *sa, sa->k + 1), x, sa->alpha)))
        return tg_last_status();
    return TG_OK;
}

static const tg_function project_fn = {.name = "tg_legendre_series_project", .n_inputs = 2, .n_outputs = 1,
                                       .forward = project_forward, .backward = project_backward};

static tg_tensor *project_k(tg_tensor *g, tg_tensor *x, series_args sa, int k)
{
    sa.k = k;
    return tg__apply_op(&project_fn, (tg_tensor *const[]){g, x}, &sa, sizeof sa);
}

/* ------------------------------------------------------------ V */

static tg_status vander_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    const series_args *sa = tg_ctx_args(ctx);
    int64_t shape[2] = {in[0]->numel, sa->ncoef}, scratch_n = tg__legvander_scratch();
    tg_tensor *scratch = tg__out("tg_legendre_vander", 1, &scratch_n);
    if (!scratch || !(out[0] = tg__out("tg_legendre_vander", 2, shape)))
        return tg_last_status();
    tg__kern()->legvander(shape[0], shape[1], in[0]->data, sa->alpha, sa->beta, out[0]->data, scratch->data);
    return tg_save_for_backward(ctx, 1, in);
}

/* forward: V[i, j] = P_j(alpha x_i + beta)
**   =>  dx_i = alpha sum_j dV[i, j] P_j'(t_i) = alpha S_1(dV, x as [N, 1])[i] */
static tg_status vander_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    const series_args *sa = tg_ctx_args(ctx);
    tg_tensor *x = tg_saved_tensor(ctx, 0);
    if (!x)
        return tg_last_status();
    int64_t col[2] = {x->numel, 1};
    tg_tensor *d = series_k(g[0], tg_reshape(x, 2, col), *sa, 1);
    gin[0] = tg_affine(tg_reshape(d, 1, col), sa->alpha, 0.0);
    return gin[0] ? TG_OK : tg_last_status();
}

static const tg_function vander_fn = {.name = "tg_legendre_vander", .n_inputs = 1, .n_outputs = 1,
                                      .forward = vander_forward, .backward = vander_backward};

/* ------------------------------------------------------------ E: the squared error of S_0 */

typedef struct sse_args {
    series_args sa;
    double scale;    /* 1 (sum) or 1 / (B N) (mean) */
    bool has_w;
} sse_args;

/* L = scale sum_{b,i} d^2, d = w (S_0(c, x) - y), in one kernel pass that also
** sums G = 2 scale sum_i w d P_j (saved: the coefficient gradient at dL = 1)
** when coef needs grad. */
static tg_status sse_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    const sse_args *ea = tg_ctx_args(ctx);
    const series_args *sa = &ea->sa;
    series_geom gm = geometry(in[0], in[1]);
    const int64_t q = sa->ncoef + 1, rows[2] = {gm.nb, q}, scratch_n = tg__legsse_scratch(gm.nb, gm.n, sa->ncoef);
    const bool grad = tg_needs_input_grad(ctx, 0);
    tg_tensor *scratch = tg__out("tg_legendre_series_mse", 1, &scratch_n);
    tg_tensor *sums = scratch ? tg__out("tg_legendre_series_mse", 2, rows) : NULL;
    tg_tensor *G = sums && grad ? tg__out("tg_legendre_series_mse", in[0]->ndim, in[0]->shape) : NULL;
    if (!sums || (grad && !G) || !(out[0] = tg__out("tg_legendre_series_mse", 0, NULL)))
        return tg_last_status();
    tg__kern()->legsse(gm.nb, gm.n, sa->ncoef, in[0]->data, in[1]->data, gm.x_stride, NULL, in[2]->data,
                       ea->has_w ? in[3]->data : NULL, sa->alpha, sa->beta, grad, sums->data, scratch->data);
    double loss = 0.0;
    for (int64_t b = 0; b < gm.nb; b++) {
        loss += sums->data[b * q];
        for (int64_t j = 0; grad && j < sa->ncoef; j++)
            G->data[b * sa->ncoef + j] = (2.0 * ea->scale) * sums->data[b * q + 1 + j];
    }
    out[0]->data[0] = ea->scale * loss;
    const int nin = ea->has_w ? 4 : 3;
    tg_tensor *save[5] = {in[0], in[1], in[2], in[nin - 1], NULL};
    save[nin] = G;
    return tg_save_for_backward(ctx, nin + (G != NULL), save);
}

/* forward: L = scale sum d^2, d = w (s - y), s = S_0(c, x)  =>  with e = 2 scale dL w d:
**   dc = Q_0(e, x),  dx = alpha e S_1(c, x),  dy = -e,  dw = 2 scale dL d (s - y).
** Without create_graph and with only dc asked for, dc = dL G from the forward's pass. */
static tg_status sse_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    const sse_args *ea = tg_ctx_args(ctx);
    const int nin = ea->has_w ? 4 : 3;
    tg_tensor *coef = tg_saved_tensor(ctx, 0), *x = tg_saved_tensor(ctx, 1), *y = tg_saved_tensor(ctx, 2);
    tg_tensor *w = ea->has_w ? tg_saved_tensor(ctx, 3) : NULL;
    if (!coef || !x || !y || (ea->has_w && !w))
        return tg_last_status();
    bool others = tg_needs_input_grad(ctx, 1) || tg_needs_input_grad(ctx, 2) || (ea->has_w && tg_needs_input_grad(ctx, 3));
    if (!tg__grad_mode() && !others && tg_needs_input_grad(ctx, 0)) {
        gin[0] = tg_mul(g[0], tg_saved_tensor(ctx, nin));   /* G: saved since input 0 needs grad */
        return gin[0] ? TG_OK : tg_last_status();
    }
    tg_tensor *diff = tg_sub(series_k(coef, x, ea->sa, 0), y), *d = w ? tg_mul(w, diff) : diff;
    tg_tensor *gd = tg_mul(g[0], tg_affine(d, 2.0 * ea->scale, 0.0)), *e = w ? tg_mul(w, gd) : gd;
    if (!e)
        return tg_last_status();
    if (tg_needs_input_grad(ctx, 0) && !(gin[0] = project_k(e, x, ea->sa, 0)))
        return tg_last_status();
    if (tg_needs_input_grad(ctx, 1) && !(gin[1] = x_grad(e, series_k(coef, x, ea->sa, 1), x, ea->sa.alpha)))
        return tg_last_status();
    if (tg_needs_input_grad(ctx, 2) && !(gin[2] = tg_neg(e)))
        return tg_last_status();
    if (ea->has_w && tg_needs_input_grad(ctx, 3) && !(gin[3] = tg_mul(gd, diff)))
        return tg_last_status();
    return TG_OK;
}

static const tg_function sse_fn = {.name = "tg_legendre_series_mse", .n_inputs = 3, .n_outputs = 1,
                                   .forward = sse_forward, .backward = sse_backward};
static const tg_function sse_w_fn = {.name = "tg_legendre_series_mse", .n_inputs = 4, .n_outputs = 1,
                                     .forward = sse_forward, .backward = sse_backward};

/* ------------------------------------------------------------ E on points read in place */

/* One series' squared error over caller memory: L = scale sum (w (S_0(c, x) - y))^2
** as sse_fn, the points x, y, w read where they are (strides as tg_points). */
typedef struct pts_args {
    series_args sa;
    double scale;
    const double *x, *y, *w;   /* y NULL: zeros (the Hessian's pass) */
    int64_t n;
    tg__legsse_strides st;
} pts_args;

/* sums[0] = sum d^2 and grad[j] = 2 scale sum w d P_j at coef c (grad NULL: the loss only) */
static tg_status pts_pass(const char *fn, const pts_args *pa, const double *c, double *loss, double *grad)
{
    const int64_t q = pa->sa.ncoef + 1, scratch_n = tg__legsse_scratch(1, pa->n, pa->sa.ncoef);
    tg_tensor *scratch = tg__out(fn, 1, &scratch_n), *sums = scratch ? tg__out(fn, 1, &q) : NULL;
    if (!sums)
        return tg_last_status();
    tg__kern()->legsse(1, pa->n, pa->sa.ncoef, c, pa->x, 0, &pa->st, pa->y, pa->w, pa->sa.alpha, pa->sa.beta,
                       grad != NULL, sums->data, scratch->data);
    *loss = pa->scale * sums->data[0];
    for (int64_t j = 0; grad && j < pa->sa.ncoef; j++)
        grad[j] = (2.0 * pa->scale) * sums->data[1 + j];
    return TG_OK;
}

static tg_tensor *pts_grad(tg_tensor *coef, const pts_args *pa, bool zero_y);

/* forward: G(c) = dL/dc (zero_y: H c, the Hessian 2 scale sum w^2 P P^T times c) */
static tg_status pts_grad_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    const pts_args *pa = tg_ctx_args(ctx);
    double loss;
    if (!(out[0] = tg__out("tg_legendre_series_mse_points", 1, &pa->sa.ncoef)))
        return tg_last_status();
    return pts_pass("tg_legendre_series_mse_points", pa, in[0]->data, &loss, out[0]->data);
}

/* forward: z = G(c) or H c, both with Jacobian H (symmetric)  =>  dc = H dz */
static tg_status pts_grad_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    gin[0] = pts_grad(g[0], tg_ctx_args(ctx), true);
    return gin[0] ? TG_OK : tg_last_status();
}

static const tg_function pts_grad_fn = {.name = "tg_legendre_series_mse_points_grad", .n_inputs = 1,
                                        .n_outputs = 1, .forward = pts_grad_forward,
                                        .backward = pts_grad_backward};

static tg_tensor *pts_grad(tg_tensor *coef, const pts_args *pa, bool zero_y)
{
    pts_args a = *pa;
    if (zero_y)
        a.y = NULL;
    return tg__apply_op(&pts_grad_fn, &coef, &a, sizeof a);
}

/* L in one pass that also sums G (saved) when coef needs grad */
static tg_status pts_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    const pts_args *pa = tg_ctx_args(ctx);
    const bool grad = tg_needs_input_grad(ctx, 0);
    tg_tensor *G = grad ? tg__out("tg_legendre_series_mse_points", 1, &pa->sa.ncoef) : NULL;
    if ((grad && !G) || !(out[0] = tg__out("tg_legendre_series_mse_points", 0, NULL)))
        return tg_last_status();
    tg_status st = pts_pass("tg_legendre_series_mse_points", pa, in[0]->data, out[0]->data, G ? G->data : NULL);
    return st != TG_OK ? st : tg_save_for_backward(ctx, G ? 2 : 1, (tg_tensor *const[]){in[0], G});
}

/* forward: L(c)  =>  dc = dL G(c): G from the forward's pass, or under create_graph
** the Function G (whose backward is the Hessian) */
static tg_status pts_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    const pts_args *pa = tg_ctx_args(ctx);
    tg_tensor *G;
    if (tg__grad_mode()) {
        tg_tensor *coef = tg_saved_tensor(ctx, 0);
        G = coef ? pts_grad(coef, pa, false) : NULL;
    } else {
        G = tg_saved_tensor(ctx, 1);   /* saved: the backward runs only when coef needs grad */
    }
    gin[0] = G ? tg_mul(g[0], G) : NULL;
    return gin[0] ? TG_OK : tg_last_status();
}

static const tg_function pts_fn = {.name = "tg_legendre_series_mse_points", .n_inputs = 1, .n_outputs = 1,
                                   .forward = pts_forward, .backward = pts_backward};

/* ------------------------------------------------------------ public */

static bool map_ok(const char *fn, double alpha, double beta)
{
    if (isfinite(alpha) && isfinite(beta))
        return true;
    tg__error(TG_ERR_ARG, "%s: alpha = %g and beta = %g must be finite", fn, alpha, beta);
    return false;
}

tg_status tg_legendre_range_map(double lo, double hi, double *alpha, double *beta)
{
    if (alpha) *alpha = 1.0;
    if (beta) *beta = 0.0;
    if (!alpha || !beta)
        return tg__error(TG_ERR_ARG, "tg_legendre_range_map: %s is NULL", alpha ? "beta" : "alpha");
    const double len = hi - lo, a = 2.0 / len, b = (-hi - lo) / len;   /* numpy's mapparms */
    if (!isfinite(lo) || !isfinite(hi) || !(lo < hi) || !isfinite(len) || !isfinite(a) || !isfinite(b))
        return tg__error(TG_ERR_ARG, "tg_legendre_range_map: [lo, hi] = [%.17g, %.17g] must be finite with "
                         "lo < hi and a representable map", lo, hi);
    *alpha = a;
    *beta = b;
    return TG_OK;
}

/* coef and x as tg_legendre_series takes them; *ncoef the coefficients per series. */
static bool series_check(const char *fn, tg_tensor *coef, tg_tensor *x, double alpha, double beta, int64_t *ncoef)
{
    if (tg__check_live(fn, "coef", coef) != TG_OK || tg__check_live(fn, "x", x) != TG_OK)
        return false;
    if (!map_ok(fn, alpha, beta))
        return false;
    bool batched_ok = coef->ndim == 2 && (x->ndim == 1 || (x->ndim == 2 && x->shape[0] == coef->shape[0]));
    *ncoef = coef->ndim >= 1 ? coef->shape[coef->ndim - 1] : 0;
    if (!(coef->ndim == 1 && x->ndim == 1) && !batched_ok) {
        char sc[TG__SHAPE_STR], sx[TG__SHAPE_STR];
        tg__error(TG_ERR_SHAPE, "%s: coef is %s and x is %s; expected coef [K] with x [N], or coef [B,K] with "
                  "x [N] or [B,N]", fn, tg__shape_str(sc, coef->ndim, coef->shape),
                  tg__shape_str(sx, x->ndim, x->shape));
        return false;
    }
    if (*ncoef < 1) {
        char sc[TG__SHAPE_STR];
        tg__error(TG_ERR_SHAPE, "%s: coef is %s; a series needs at least one coefficient", fn,
                  tg__shape_str(sc, coef->ndim, coef->shape));
        return false;
    }
    return true;
}

tg_tensor *tg_legendre_series(tg_tensor *coef, tg_tensor *x, double alpha, double beta)
{
    int64_t ncoef;
    if (!series_check("tg_legendre_series", coef, x, alpha, beta, &ncoef))
        return NULL;
    series_args sa = {.alpha = alpha, .beta = beta, .ncoef = ncoef, .k = 0};
    return series_k(coef, x, sa, 0);
}

/* t has the shape of the series of coef at x ([N] or [B, N]); false with TG_ERR_SHAPE naming fn. */
static bool series_shaped(const char *fn, const char *what, const tg_tensor *t, const tg_tensor *coef,
                          const tg_tensor *x)
{
    series_geom gm = geometry(coef, x);
    bool ok = coef->ndim == 1 ? t->ndim == 1 && t->shape[0] == gm.n
                              : t->ndim == 2 && t->shape[0] == gm.nb && t->shape[1] == gm.n;
    if (ok)
        return true;
    char st[TG__SHAPE_STR], sc[TG__SHAPE_STR], sx[TG__SHAPE_STR];
    tg__error(TG_ERR_SHAPE, "%s: %s is %s but the series of coef %s at x %s is [%s%lld]", fn, what,
              tg__shape_str(st, t->ndim, t->shape), tg__shape_str(sc, coef->ndim, coef->shape),
              tg__shape_str(sx, x->ndim, x->shape), coef->ndim == 2 ? "B," : "", (long long)gm.n);
    return false;
}

tg_tensor *tg_legendre_series_mse(tg_tensor *coef, tg_tensor *x, tg_tensor *y, tg_tensor *w, double alpha,
                                  double beta, tg_reduction reduction)
{
    static const char fn[] = "tg_legendre_series_mse";
    int64_t ncoef;
    if (!series_check(fn, coef, x, alpha, beta, &ncoef) || tg__check_live(fn, "y", y) != TG_OK ||
        (w && tg__check_live(fn, "w", w) != TG_OK))
        return NULL;
    if (!series_shaped(fn, "y", y, coef, x) || (w && !series_shaped(fn, "w", w, coef, x)))
        return NULL;
    if (reduction != TG_REDUCTION_MEAN && reduction != TG_REDUCTION_SUM && reduction != TG_REDUCTION_NONE) {
        tg__error(TG_ERR_ARG, "%s: reduction %d is not TG_REDUCTION_MEAN, _SUM or _NONE", fn, (int)reduction);
        return NULL;
    }
    series_args sa = {.alpha = alpha, .beta = beta, .ncoef = ncoef, .k = 0};
    if (reduction == TG_REDUCTION_NONE || ncoef > TG__LEGSSE_MAX_COEF) {   /* the ops one by one */
        tg_scope_begin();
        tg_tensor *d = tg_sub(series_k(coef, x, sa, 0), y);
        tg_tensor *sq = tg_pow(w ? tg_mul(w, d) : d, 2.0);
        tg_tensor *loss = reduction == TG_REDUCTION_MEAN ? tg_mean(sq) : reduction == TG_REDUCTION_SUM ? tg_sum(sq) : sq;
        if (loss)
            loss = tg_keep(loss);
        tg_scope_end();
        return loss;
    }
    sse_args ea = {.sa = sa, .scale = reduction == TG_REDUCTION_MEAN ? 1.0 / (double)y->numel : 1.0,
                   .has_w = w != NULL};
    return tg__apply_op(w ? &sse_w_fn : &sse_fn, (tg_tensor *const[]){coef, x, y, w}, &ea, sizeof ea);
}

tg_tensor *tg_legendre_vander(tg_tensor *x, int degree, double alpha, double beta)
{
    static const char fn[] = "tg_legendre_vander";
    if (tg__check_live(fn, "x", x) != TG_OK)
        return NULL;
    if (degree < 0) {
        tg__error(TG_ERR_ARG, "%s: degree is %d, must be >= 0", fn, degree);
        return NULL;
    }
    if (!map_ok(fn, alpha, beta))
        return NULL;
    if (x->ndim != 1) {
        char sx[TG__SHAPE_STR];
        tg__error(TG_ERR_SHAPE, "%s: x is %s, must be 1-d", fn, tg__shape_str(sx, x->ndim, x->shape));
        return NULL;
    }
    series_args sa = {.alpha = alpha, .beta = beta, .ncoef = (int64_t)degree + 1, .k = 0};
    return tg__apply_op(&vander_fn, &x, &sa, sizeof sa);
}

/* The first non-finite value of t[n] as an error naming it; TG_OK when none. */
static tg_status all_finite(const char *fn, const char *what, const tg_tensor *t)
{
    for (int64_t i = 0; i < t->numel; i++)
        if (!isfinite(t->data[i]))
            return tg__error(TG_ERR_ARG, "%s: %s[%lld] is %g", fn, what, (long long)i, t->data[i]);
    return TG_OK;
}

static tg_status lstsq_check(const char *fn, tg_tensor *x, tg_tensor *y, int degree, double alpha, double beta)
{
    if (tg__check_live(fn, "x", x) != TG_OK || tg__check_live(fn, "y", y) != TG_OK)
        return tg_last_status();
    if (degree < 0)
        return tg__error(TG_ERR_ARG, "%s: degree is %d, must be >= 0", fn, degree);
    if (!map_ok(fn, alpha, beta))
        return tg_last_status();
    if (x->ndim != 1 || y->ndim != 1 || x->numel != y->numel) {
        char sx[TG__SHAPE_STR], sy[TG__SHAPE_STR];
        return tg__error(TG_ERR_SHAPE, "%s: x is %s and y is %s; both must be 1-d of one length", fn,
                         tg__shape_str(sx, x->ndim, x->shape), tg__shape_str(sy, y->ndim, y->shape));
    }
    if (x->numel < (int64_t)degree + 1)
        return tg__error(TG_ERR_NUMERIC, "%s: %lld points cannot determine the %lld coefficients of degree %d "
                         "(rank-deficient)", fn, (long long)x->numel, (long long)degree + 1, degree);
    tg_status st = all_finite(fn, "x", x);
    return st != TG_OK ? st : all_finite(fn, "y", y);
}

tg_status tg_legendre_lstsq(tg_tensor *x, tg_tensor *y, int degree, double alpha, double beta, tg_tensor **coef,
                            double *cond)
{
    static const char fn[] = "tg_legendre_lstsq";
    if (coef) *coef = NULL;
    if (cond) *cond = NAN;
    if (!coef)
        return tg__error(TG_ERR_ARG, "%s: coef is NULL", fn);
    tg_status st = lstsq_check(fn, x, y, degree, alpha, beta);
    if (st != TG_OK)
        return st;
    const int64_t ncoef = (int64_t)degree + 1;
    tg_points pts = {.x = x->data, .y = y->data, .n = x->numel};
    tg_lstsq_result res;
    if ((st = tg_legendre_lstsq_points(&pts, degree, alpha, beta, NULL, &res)) != TG_OK)
        return tg__error(st, "%s: %s", fn, tg_last_error());
    if (cond)
        *cond = res.cond;
    if (res.rank_deficient)
        st = tg__error(TG_ERR_NUMERIC, "%s: the degree-%d design matrix of %lld points is rank-deficient: %s "
                       "(tg_legendre_lstsq_points returns that solution)", fn, degree, (long long)x->numel,
                       res.warning);
    else if (!(*coef = tg_from_array(1, &ncoef, res.coef)))
        st = tg_last_status();
    tg_lstsq_result_free(&res);
    return st;
}

tg_tensor *tg_legendre_series_mse_points(tg_tensor *coef, const tg_points *pts, double alpha, double beta,
                                         tg_reduction reduction)
{
    static const char fn[] = "tg_legendre_series_mse_points";
    if (tg__check_live(fn, "coef", coef) != TG_OK || !map_ok(fn, alpha, beta))
        return NULL;
    if (coef->ndim != 1 || coef->numel < 1 || coef->numel > TG__LEGSSE_MAX_COEF) {
        char sc[TG__SHAPE_STR];
        tg__error(TG_ERR_SHAPE, "%s: coef is %s, must be [K] with 1 <= K <= %d", fn,
                  tg__shape_str(sc, coef->ndim, coef->shape), TG__LEGSSE_MAX_COEF);
        return NULL;
    }
    if (!pts || !pts->x || !pts->y || pts->n < 0 || pts->x_stride < 0 || pts->y_stride < 0 || pts->w_stride < 0) {
        tg__error(TG_ERR_ARG, "%s: %s", fn, !pts ? "pts is NULL" : !pts->x ? "pts->x is NULL" : !pts->y
                  ? "pts->y is NULL" : "pts->n and the strides must be >= 0");
        return NULL;
    }
    if (reduction != TG_REDUCTION_MEAN && reduction != TG_REDUCTION_SUM) {
        tg__error(TG_ERR_ARG, "%s: reduction %d is not TG_REDUCTION_MEAN or _SUM", fn, (int)reduction);
        return NULL;
    }
    pts_args pa = {.sa = {.alpha = alpha, .beta = beta, .ncoef = coef->numel, .k = 0},
                   .scale = reduction == TG_REDUCTION_MEAN ? 1.0 / (double)pts->n : 1.0,
                   .x = pts->x, .y = pts->y, .w = pts->w, .n = pts->n,
                   .st = {pts->x_stride ? pts->x_stride : 1, pts->y_stride ? pts->y_stride : 1,
                          pts->w_stride ? pts->w_stride : 1}};
    return tg__apply_op(&pts_fn, &coef, &pa, sizeof pa);
}
