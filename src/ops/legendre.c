/* SPDX-License-Identifier: MIT */
/*
** Legendre polynomials: tg_legendre(x, n) is one fused Function computing the
** k-th derivative of P_n over the whole batch in one kernel pass (k = 0 for
** the values).  Its backward is the same Function at order k + 1, so every
** derivative is itself differentiable.  Its descriptor gives the fused
** engine the kernel at a point and over a span, and the code generator the
** polynomial written out (Horner for low degrees, else the recurrence).
*/
#include "ops.h"

#include <stdio.h>

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
/* ---------------------------------------------------------- descriptor */

static double legendre_point(const double *x, const void *args, double *scratch)
{
    const legendre_args *la = args;
    double y;
    tg__kern()->legendre(1, x, la->n, la->k, &y, scratch);
    return y;
}
static void legendre_block(int64_t n, const double *const *x, const int64_t *inc, const void *args, double *y,
                           double *scratch)
{
    const legendre_args *la = args;
    (void)inc;
    tg__kern()->legendre(n, x[0], la->n, la->k, y, scratch);
}
static int64_t legendre_scratch(const void *args) { return tg__legendre_scratch(((const legendre_args *)args)->k); }

/* P_m^(j)(x) as the recurrence reads it: "" when it is 0 (j > m), "1" when
** it is 1 (m == j <= 1), else the local v<v>_<m>_<j>. */
static const char *leg_term(char *b, int v, int m, int j)
{
    if (j > m)
        return "";
    if (m == j && j <= 1)
        return "1";
    snprintf(b, 40, "v%d_%d_%d", v, m, j);
    return b;
}

/* d^k/dx^k P_deg(x) for deg <= TG__LEG_HORNER_MAX: Horner in x^2, times x when
** odd, as the kernel computes it. */
static void emit_horner(tg__put_fn *put, void *s, int v, const char *x, int deg, int k)
{
    double c[TG__LEG_HORNER_MAX + 1];
    char b[40];
    int top = deg - k, odd = top % 2;
    tg__legendre_monomial(deg, k, c);
    put(s, "    const double v%d_x2 = %s * %s;\n    const double v%d = (", v, x, x, v);
    for (int i = odd; i < top; i += 2)
        put(s, "(");
    put(s, "%s", tg__c_double(b, c[top]));
    for (int i = top - 2; i >= odd; i -= 2)
        put(s, " * v%d_x2 + %s)", v, tg__c_double(b, c[i]));
    put(s, odd ? ") * %s;\n" : ");\n", x);
}

/* P_deg^(k)(x) unrolled into straight-line locals v<v>_<m>_<j> = P_m^(j)(x), so the
** loop body stays one basic block the compiler can vectorize; the terms that
** are 0 or 1 are left out or not multiplied (the kernel's arithmetic except
** for infinities and the sign of zero). */
static void legendre_emit(tg__put_fn *put, void *s, int v, const char *const *in, const void *args)
{
    const legendre_args *la = args;
    const char *x = in[0];
    int deg = la->n, k = la->k;
    char b[40], p[40], q[40], r[40];
    if (k > deg || deg == 0) {
        put(s, "    const double v%d = %s;\n", v, k == 0 ? "1.0" : "0.0");
        return;
    }
    if (deg <= TG__LEG_HORNER_MAX) {
        emit_horner(put, s, v, x, deg, k);
        return;
    }
    put(s, "    const double v%d_1_0 = %s;\n", v, x);
    /* P_{m+1}^(j) = ((2m+1)(x P_m^(j) + j P_m^(j-1)) - m P_{m-1}^(j)) / (m+1), as the kernel */
    for (int m = 1; m < deg; m++) {
        tg__c_double(b, 1.0 / (m + 1.0));
        for (int j = 0; j <= k && j <= m + 1; j++) {
            const char *pm = leg_term(p, v, m, j), *pj = j > 0 ? leg_term(q, v, m, j - 1) : "";
            const char *pl = leg_term(r, v, m - 1, j);
            put(s, "    const double v%d_%d_%d = (%d.0 * (", v, m + 1, j, 2 * m + 1);
            if (pm[0])
                put(s, pm[0] == '1' && !pm[1] ? "%s" : "%s * %s", x, pm);
            if (pj[0])
                put(s, pj[0] == '1' && !pj[1] ? "%s%d.0" : "%s%d.0 * %s", pm[0] ? " + " : "", j, pj);
            put(s, ")");
            if (pl[0])
                put(s, pl[0] == '1' && !pl[1] ? " - %d.0" : " - %d.0 * %s", m, pl);
            put(s, ") * %s;\n", b);
        }
    }
    put(s, "    const double v%d = %s;\n", v, leg_term(p, v, deg, k)[0] ? leg_term(p, v, deg, k) : "0.0");
}

static const tg__opdesc legendre_desc = {.kind = TG__OPK_POINT, .point = legendre_point, .block = legendre_block,
                                         .emit = legendre_emit, .scratch = legendre_scratch,
                                         .save = TG__SAVES | TG__SAVE_IN(0)};
static const tg_function legendre_fn = {.name = "tg_legendre", .n_inputs = 1, .n_outputs = 1,
                                        .forward = legendre_forward, .backward = legendre_backward,
                                        .desc = &legendre_desc};

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
