/* SPDX-License-Identifier: MIT */
/*
** Kernels: loops over raw contiguous double spans.  They know nothing of
** tensors, graphs, scopes or errors, never allocate, and never fail.  Each
** exists as a portable reference (kernels_ref.c) and as vectorized builds of
** the same source for AVX2 and AVX-512 (kernels_avx2.c, kernels_avx512.c);
** tg__kern() returns the table for this CPU, chosen once at start-up.  The
** fast tables give bit-identical results to the reference (same operation
** order; no FMA contraction), which tests/test_kernels.c checks.
**
** Conventions: n elements; x, y inputs; z or out the output, which may alias
** an input exactly (in-place) but not partially.  incx / incy are 0 (the
** operand is one scalar, read n times) or 1.
*/
#ifndef TG_KERNELS_H
#define TG_KERNELS_H

#include <stdint.h>

typedef enum tg__binop {
    TG__ADD, TG__SUB, TG__MUL, TG__DIV,
    TG__POW,    /* the C pow(x, y) per element, no special exponents (torch.pow(Tensor, Tensor)) */
    TG__N_BINOPS
} tg__binop;

typedef enum tg__unop {
    TG__NEG, TG__EXP, TG__LOG, TG__SIN, TG__COS, TG__TANH, TG__SQRT, TG__RELU,
    TG__STEP,   /* x > 0 ? 1 : 0 (the relu derivative) */
    TG__ABS,    /* |x| */
    TG__SIGN,   /* -1, 0 or 1 (NaN gives 0; the abs derivative, sign(0) = 0) */
    TG__N_UNOPS
} tg__unop;

/* point strides of legsse's x, y, w (in doubles) */
typedef struct tg__legsse_strides { int64_t x, y, w; } tg__legsse_strides;

typedef struct tg__kernels {
    const char *name;   /* "reference", "avx2", "avx512" */
    /* z[i] = x[i*incx] op y[i*incy] */
    void (*binary[TG__N_BINOPS])(int64_t n, const double *x, int64_t incx, const double *y,
                                 int64_t incy, double *z);
    /* z[i] = f(x[i]) */
    void (*unary[TG__N_UNOPS])(int64_t n, const double *x, double *z);
    /* z[i] = x[i] ** p as torch.pow (p = 2, 3, 0.5, -0.5, -1, -2 computed directly) */
    void (*pow)(int64_t n, const double *x, double p, double *z);
    /* z[i] = x[i] * s + t */
    void (*affine)(int64_t n, const double *x, double s, double t, double *z);
    /* y[i] += x[i] */
    void (*acc)(int64_t n, const double *x, double *y);
    /* z[i] = v */
    void (*fill)(int64_t n, double v, double *z);
    /* z[i] = g[i * gs] * (x[i] ** (p-1) * p + 0), gs 1 or 0 (one g for all):
    ** the pow backward, rounded step by step exactly as the pow, affine (s =
    ** p, t = 0) and mul kernels */
    void (*powgrad)(int64_t n, const double *g, int64_t gs, const double *x, double p, double *z);
    /* sum of x[0..n): fixed blocks of TG__SUM_BLOCK elements, each summed in
    ** 16 lanes (element i in lane i % 16) folded to 8 and combined pairwise,
    ** block sums combined in a fixed pairwise tree: the result depends on n
    ** and the values only */
    double (*sum)(int64_t n, const double *x);
    /* sum of the products x[i] * y[i] (each rounded), in sum's order: bit for
    ** bit sum() of the mul kernel's output */
    double (*dot)(int64_t n, const double *x, const double *y);
    /* y[i] = d^k/dx^k P_deg(x[i]) for the Legendre polynomial P_deg (k = 0: the
    ** value).  Up to degree TG__LEG_HORNER_MAX: the polynomial's exact monomial
    ** coefficients (tg__legendre_monomial) by Horner in x^2, times x when odd:
    ** ((c[top] x^2 + c[top-2]) x^2 + ...) [x], top = deg - k.  Above it, Bonnet's
    ** recurrence (m+1) P_{m+1} = (2m+1) x P_m - m P_{m-1}, differentiated k
    ** times: P_{m+1}^(j) = ((2m+1)(x P_m^(j) + j P_m^(j-1)) - m P_{m-1}^(j))
    ** / (m+1).  Both give P_n^(k)(+-1) exactly for k <= 2 (the division keeps
    ** the recurrence's (2m+1 - m) / (m+1) = 1 exact).  The captured passes
    ** write the Horner form the same way.  scratch holds
    ** tg__legendre_scratch(k) doubles. */
    void (*legendre)(int64_t n, const double *x, int deg, int k, double *y, double *scratch);
    /* Legendre series, nb series of n points, t = x * alpha + beta (rounded
    ** twice, as affine); series b reads coef[b*ncoef ..] and its points at
    ** x + b*x_stride (x_stride 0: every series shares x[n]).
    ** legseries: y[b, i] = d^k/dt^k sum_c coef[b, c] P_c(t[b, i]), by Clenshaw's
    ** recurrence b_c = coef_c + (2c+1)/(c+1) t b_{c+1} - (c+1)/(c+2) b_{c+2},
    ** y = b_0, differentiated k times.  scratch: tg__legseries_scratch(k). */
    void (*legseries)(int64_t nb, int64_t n, int64_t ncoef, const double *coef, const double *x,
                      int64_t x_stride, double alpha, double beta, int k, double *y, double *scratch);
    /* legproject: out[b, c] = sum_i g[b, i] P_c^(k)(t[b, i]) for c < ncoef, P_c^(k)
    ** by Bonnet's recurrence (differentiated k times) per point; point i adds
    ** into lane i % 8 in increasing i, the lanes combine as ((l0+l1)+(l2+l3)) +
    ** ((l4+l5)+(l6+l7)).
    ** scratch: tg__legproject_scratch(k, ncoef). */
    void (*legproject)(int64_t nb, int64_t n, int64_t ncoef, const double *g, const double *x,
                       int64_t x_stride, double alpha, double beta, int k, double *out, double *scratch);
    /* legvander: out[i, c] = P_c(t[i]), out [n, ncoef] row-major, Bonnet's
    ** recurrence as legproject.  scratch: tg__legvander_scratch(). */
    void (*legvander)(int64_t n, int64_t ncoef, const double *x, double alpha, double beta, double *out,
                      double *scratch);
    /* legsse: the squared error of nb series against y[nb, n] (weights w[nb, n]
    ** or NULL; y NULL: zeros) and its coefficient gradient, one pass over the
    ** points: d = w (legseries - y); out[b, 0] = sum_i d_i^2 and, when grad,
    ** out[b, 1 + c] = sum_i w_i d_i P_c(t_i) (out [nb, ncoef + 1]).  ps NULL:
    ** the points of a series are contiguous; else point i is x[b x_stride +
    ** i ps->x], y[(b n + i) ps->y], w[(b n + i) ps->w].  The points are summed
    ** in chunks of TG__LEGSSE_CHUNK at fixed boundaries (lanes as legproject
    ** inside a chunk), the chunks in order: any thread count gives the same
    ** bits.  ncoef <= TG__LEGSSE_MAX_COEF; scratch: tg__legsse_scratch(nb, n, ncoef). */
    void (*legsse)(int64_t nb, int64_t n, int64_t ncoef, const double *coef, const double *x, int64_t x_stride,
                   const struct tg__legsse_strides *ps, const double *y, const double *w, double alpha,
                   double beta, int grad, double *out, double *scratch);
} tg__kernels;

#define TG__SUM_BLOCK 4096
#define TG__LEG_BLOCK 64
/* Degrees up to this are evaluated as their polynomial in x^2: P_3 and P_3'
** cost 4 and 3 operations instead of 16 and 30, and their coefficients
** (dyadic rationals below 2^8) are exact in double. */
#define TG__LEG_HORNER_MAX 4

/* The monomial coefficients c[0..deg] of d^k/dx^k P_deg (deg, k <=
** TG__LEG_HORNER_MAX), exactly; c[i] = 0 for i > deg - k.  Computed once per
** process, then copied. */
void tg__legendre_monomial(int deg, int k, double c[TG__LEG_HORNER_MAX + 1]);

/* Doubles of scratch the legendre kernel needs for derivative order k. */
static inline int64_t tg__legendre_scratch(int k) { return 3 * (int64_t)(k + 1) * TG__LEG_BLOCK; }
/* Doubles of scratch for legseries / legproject at derivative order k, and legvander. */
static inline int64_t tg__legseries_scratch(int k) { return (3 * (int64_t)(k + 1) + 1) * TG__LEG_BLOCK; }
static inline int64_t tg__legproject_scratch(int k, int64_t ncoef)
{
    return (3 * (int64_t)(k + 1) + 1) * TG__LEG_BLOCK + 8 * ncoef;
}
static inline int64_t tg__legvander_scratch(void) { return 4 * (int64_t)TG__LEG_BLOCK; }
#define TG__LEGSSE_CHUNK 4096
/* a worker's block scratch, two rows of points and the lanes fit its stack (TG__PAR_SCRATCH) */
#define TG__LEGSSE_MAX_COEF 400
/* up to this many coefficients a block's P_c table ([c][TG__LEG_BLOCK], 32 KiB) sits on the stack */
#define TG__LEGSSE_TABLE_COEF 64
static inline int64_t tg__legsse_scratch(int64_t nb, int64_t n, int64_t ncoef)
{
    return nb * ((n + TG__LEGSSE_CHUNK - 1) / TG__LEGSSE_CHUNK) * (ncoef + 1);
}

/* The table for this CPU (environment TG_KERNELS=reference|avx2|avx512 forces
** one, when the CPU supports it). */
const tg__kernels *tg__kern(void);

/* Every table this build has and this CPU can run, for tests and benchmarks;
** NULL-terminated. */
const tg__kernels *const *tg__kern_all(void);

#endif /* TG_KERNELS_H */
