/* SPDX-License-Identifier: MIT */
/*
** Micro-benchmarks of the benchmark suite:
**   kernels    every kernel of every kernel table this CPU runs (the active one
**              and the portable reference), in GB/s of the bytes it reads and
**              writes, against memcpy moving the same bytes; the fast tables
**              are first checked bit for bit against the reference
**   dispatch   a one-element user Function applied and differentiated (ns)
**   matmul     tg_matmul against cblas_dgemm on the same square matrices
** Benchmark code, not library code: it reaches the kernel table through
** src/kernels/kernels.h and calls cblas directly.
*/
#define _POSIX_C_SOURCE 200809L
#include "suite.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tensorgrad.h>

#include "kernels/kernels.h"

static const char *const binop_name[TG__N_BINOPS] = {
    [TG__ADD] = "add", [TG__SUB] = "sub", [TG__MUL] = "mul", [TG__DIV] = "div", [TG__POW] = "pow(x, y)",
};
static const char *const unop_name[TG__N_UNOPS] = {
    [TG__NEG] = "neg", [TG__EXP] = "exp", [TG__LOG] = "log", [TG__SIN] = "sin", [TG__COS] = "cos",
    [TG__TANH] = "tanh", [TG__SQRT] = "sqrt", [TG__RELU] = "relu", [TG__STEP] = "step",
    [TG__ABS] = "abs", [TG__SIGN] = "sign",
};

enum kind { BINARY, UNARY, POW, AFFINE, ACC, SUM, LEGENDRE, LEGSERIES, LEGPROJECT, LEGVANDER };
enum { NCOEF = 8 };   /* series kernels: degree 7 */
enum { COPY_MAX = (8 + 8 * NCOEF) / 16 + 1 };   /* half the largest bytes per element, in doubles */

typedef struct kdesc {
    char name[40];
    int kind, op;         /* op: binop, unop, or the derivative order k */
    double param;         /* pow exponent */
    int bytes;            /* per element, read + written */
} kdesc;

typedef struct bufs {
    int64_t n;
    double *x, *y, *t, *z, *scratch, *out;   /* z holds n * NCOEF (legvander) */
    double *csrc, *cdst;                      /* memcpy's, COPY_MAX n doubles each */
    double sum;
} bufs;

/* The kernel list, built from the table's enums so a new op shows up unnamed
** rather than missing. */
static int kernel_list(kdesc *k, int max)
{
    int m = 0;
    for (int op = 0; op < TG__N_BINOPS && m < max; op++, m++) {
        k[m] = (kdesc){.kind = BINARY, .op = op, .bytes = 24};
        snprintf(k[m].name, sizeof k[m].name, "%s", binop_name[op] ? binop_name[op] : "binary ?");
    }
    for (int op = 0; op < TG__N_UNOPS && m < max; op++, m++) {
        k[m] = (kdesc){.kind = UNARY, .op = op, .bytes = 16};
        if (unop_name[op])
            snprintf(k[m].name, sizeof k[m].name, "%s", unop_name[op]);
        else
            snprintf(k[m].name, sizeof k[m].name, "unary op %d", op);
    }
    const double exps[] = {2, 3, 0.5, -1, 2.5};
    for (int i = 0; i < 5 && m < max; i++, m++) {
        k[m] = (kdesc){.kind = POW, .param = exps[i], .bytes = 16};
        snprintf(k[m].name, sizeof k[m].name, "pow(x, %g)", exps[i]);
    }
    const kdesc rest[] = {
        {"affine", AFFINE, 0, 0, 16},  {"acc (y += x)", ACC, 0, 0, 24},
        {"sum", SUM, 0, 0, 8},         {"legendre P3", LEGENDRE, 0, 0, 16},
        {"legendre P3'", LEGENDRE, 1, 0, 16},
        {"legseries deg 7", LEGSERIES, 0, 0, 16},
        {"legproject deg 7", LEGPROJECT, 0, 0, 16},
        {"legvander deg 7", LEGVANDER, 0, 0, 8 + 8 * NCOEF},
    };
    for (size_t i = 0; i < sizeof rest / sizeof rest[0] && m < max; i++)
        k[m++] = rest[i];
    return m;
}

static void run_kernel(const tg__kernels *kt, const kdesc *k, bufs *b)
{
    int64_t n = b->n;
    switch (k->kind) {
    case BINARY: kt->binary[k->op](n, b->x, 1, b->y, 1, b->z); break;
    case UNARY: kt->unary[k->op](n, b->x, b->z); break;
    case POW: kt->pow(n, b->x, k->param, b->z); break;
    case AFFINE: kt->affine(n, b->x, 1.5, -0.25, b->z); break;
    case ACC: kt->acc(n, b->x, b->z); break;
    case SUM: b->sum = kt->sum(n, b->x); break;
    case LEGENDRE: kt->legendre(n, b->t, 3, k->op, b->z, b->scratch); break;
    case LEGSERIES:
        kt->legseries(1, n, NCOEF, b->y, b->t, 0, 0.9, 0.05, 0, b->z, b->scratch);
        break;
    case LEGPROJECT:
        kt->legproject(1, n, NCOEF, b->x, b->t, 0, 0.9, 0.05, 0, b->out, b->scratch);
        break;
    case LEGVANDER: kt->legvander(n, NCOEF, b->t, 0.9, 0.05, b->z, b->scratch); break;
    }
}

/* Runs the kernel from a fixed start and returns what it wrote, as bytes. */
static const void *kernel_result(const tg__kernels *kt, const kdesc *k, bufs *b, size_t *size)
{
    memcpy(b->z, b->y, (size_t)b->n * sizeof(double));   /* acc adds into z */
    run_kernel(kt, k, b);
    switch (k->kind) {
    case SUM: *size = sizeof b->sum; return &b->sum;
    case LEGPROJECT: *size = NCOEF * sizeof(double); return b->out;
    case LEGVANDER: *size = (size_t)(b->n * NCOEF) * sizeof(double); return b->z;
    default: *size = (size_t)b->n * sizeof(double); return b->z;
    }
}

/* Every table's kernels give the reference table's bytes. */
static int verify_tables(const kdesc *ks, int nk, bufs *b, char *err, size_t err_size)
{
    const tg__kernels *const *all = tg__kern_all(), *ref = NULL;
    for (int i = 0; all[i]; i++)
        if (strcmp(all[i]->name, "reference") == 0)
            ref = all[i];
    size_t bytes = (size_t)(b->n * NCOEF) * sizeof(double), size;
    void *want = malloc(bytes);
    int rc = ref && want ? 0 : 1;
    for (int i = 0; all[i] && rc == 0; i++)
        for (int k = 0; k < nk && all[i] != ref && rc == 0; k++) {
            const void *got = kernel_result(ref, &ks[k], b, &size);   /* sets size */
            memcpy(want, got, size);
            got = kernel_result(all[i], &ks[k], b, &size);
            if (memcmp(want, got, size) != 0) {
                snprintf(err, err_size, "kernel %s of table %s differs from the reference", ks[k].name,
                         all[i]->name);
                rc = 1;
            }
        }
    if (rc && err[0] == '\0')
        snprintf(err, err_size, "no reference kernel table, or out of memory");
    free(want);
    return rc;
}

/* ------------------------------------------------------------- timing */

typedef void (*timed_fn)(void *ctx);

/* Seconds per call: best of the batches, repetitions calibrated first. */
static double best_time(timed_fn fn, void *ctx, const suite_timing *t)
{
    long reps = 1;
    double best = INFINITY;
    for (int batch = 0; batch < t->batches; batch++) {
        double t0 = suite_now();
        for (long r = 0; r < reps; r++)
            fn(ctx);
        double dt = suite_now() - t0;
        best = fmin(best, dt / (double)reps);
        if (batch == 0 && dt < t->min_batch) {
            reps *= dt > 0 ? (long)ceil(1.2 * t->min_batch / dt) : 1024;
            batch = -1;
            best = INFINITY;
        }
    }
    return best;
}

typedef struct kernel_ctx { const tg__kernels *kt; const kdesc *k; bufs *b; } kernel_ctx;
static void kernel_once(void *p)
{
    kernel_ctx *c = p;
    run_kernel(c->kt, c->k, c->b);
}

typedef struct copy_ctx { void *dst; const void *src; size_t bytes; } copy_ctx;
static void copy_once(void *p)
{
    copy_ctx *c = p;
    memcpy(c->dst, c->src, c->bytes);
}

/* GB/s of memcpy moving `bytes` in all (half read, half written). */
static double copy_gbs(bufs *b, size_t bytes, const suite_timing *t)
{
    copy_ctx c = {b->cdst, b->csrc, bytes / 2};
    return (double)bytes / best_time(copy_once, &c, t) * 1e-9;
}

/* ------------------------------------------------------------ the rows */

static int kernel_rows(bufs *b, const suite_timing *t, micro_row *rows, int max_rows, char *err,
                       size_t err_size)
{
    kdesc ks[64];
    int nk = kernel_list(ks, 64), m = 0;
    if (verify_tables(ks, nk, b, err, err_size))
        return -1;
    double copy[COPY_MAX * 16 + 1] = {0};   /* GB/s by bytes per element */
    const tg__kernels *const *all = tg__kern_all();
    for (int i = 0; all[i]; i++) {
        if (all[i] != tg__kern() && strcmp(all[i]->name, "reference") != 0)
            continue;   /* the active table and the reference */
        for (int k = 0; k < nk && m < max_rows; k++, m++) {
            int bpe = ks[k].bytes;
            if (copy[bpe] == 0)
                copy[bpe] = copy_gbs(b, (size_t)(bpe * b->n), t);
            kernel_ctx c = {all[i], &ks[k], b};
            memcpy(b->z, b->y, (size_t)b->n * sizeof(double));
            double gbs = (double)(bpe * b->n) / best_time(kernel_once, &c, t) * 1e-9;
            rows[m] = (micro_row){.value = gbs, .reference = copy[bpe], .ratio = gbs / copy[bpe]};
            snprintf(rows[m].name, sizeof rows[m].name, "%.39s", ks[k].name);
            snprintf(rows[m].table, sizeof rows[m].table, "%.15s", all[i]->name);
            snprintf(rows[m].unit, sizeof rows[m].unit, "GB/s");
        }
    }
    return m;
}

/* forward: y = 2x  =>  dx = 2 dy */
static tg_status twice_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    (void)ctx;
    out[0] = tg_scalar(tg_data(in[0])[0] * 2.0);
    return out[0] ? TG_OK : tg_last_status();
}
static tg_status twice_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    (void)ctx;
    gin[0] = tg_scalar(tg_data(g[0])[0] * 2.0);
    return gin[0] ? TG_OK : tg_last_status();
}
static const tg_function twice_fn = {.name = "twice", .n_inputs = 1, .n_outputs = 1,
                                     .forward = twice_forward, .backward = twice_backward};

/* the same as span kernels */
static void twice_span_forward(int64_t n, const double *const *in, double *out)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = in[0][i] * 2.0;
}
static void twice_span_backward(int64_t n, const double *const *in, const double *out, const double *g,
                                double *const *gin)
{
    (void)in, (void)out;
    for (int64_t i = 0; i < n; i++)
        gin[0][i] = g[i] * 2.0;
}
static const tg_function twice_span_fn = {.name = "twice", .n_inputs = 1, .n_outputs = 1,
                                          .forward_span = twice_span_forward,
                                          .backward_span = twice_span_backward};

typedef struct dispatch_ctx { const tg_function *fn; tg_tensor *x; int ok; } dispatch_ctx;
static void dispatch_once(void *p)
{
    dispatch_ctx *c = p;
    tg_scope_begin();
    c->ok &= tg_backward(tg_apply1(c->fn, &c->x), NULL) == TG_OK;
    tg_scope_end();
}

/* ns per apply + backward of fn; every backward must have accumulated 2. */
static int dispatch_row(const tg_function *fn, const char *name, const suite_timing *t, micro_row *row, char *err,
                        size_t err_size)
{
    dispatch_ctx c = {fn, tg_scalar(1.0), 1};
    int ok = c.x && tg_set_requires_grad(c.x, true) == TG_OK;
    for (int r = 0; r < 1000 && ok; r++)
        dispatch_once(&c);
    ok = ok && c.ok && tg_item(tg_grad(c.x)) == 2000.0;
    if (!ok) {
        snprintf(err, err_size, "dispatch: wrong gradient or failure: %s", tg_last_error());
        tg_free(c.x);
        return 1;
    }
    double s = best_time(dispatch_once, &c, t);
    tg_free(c.x);
    if (!c.ok) {
        snprintf(err, err_size, "dispatch failed while timed: %s", tg_last_error());
        return 1;
    }
    *row = (micro_row){.unit = "ns", .value = s * 1e9, .reference = NAN, .ratio = NAN};
    snprintf(row->name, sizeof row->name, "%s", name);
    return 0;
}

typedef struct matmul_ctx { tg_tensor *a, *b; double *c; int m; bool tg; } matmul_ctx;
static void matmul_once(void *p)
{
    matmul_ctx *c = p;
    if (c->tg) {
        tg_scope_begin();
        tg_matmul(c->a, c->b);
        tg_scope_end();
    } else {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->m, c->m, c->m, 1.0, tg_data(c->a), c->m,
                    tg_data(c->b), c->m, 0.0, c->c, c->m);
    }
}

/* Index of the first element where the products differ by more than
** rounding (k-term dot products of values in [0, 1)), or -1. */
static int64_t first_mismatch(const double *x, const double *y, int64_t n, int k)
{
    for (int64_t i = 0; i < n; i++)
        if (!(fabs(x[i] - y[i]) <= 1e-13 * k))
            return i;
    return -1;
}

/* tg_matmul against cblas_dgemm, GFLOP/s; the products must agree first. */
static int matmul_row(int m, const suite_timing *t, micro_row *row, char *err, size_t err_size)
{
    int64_t shape[2] = {m, m}, bad = -1;
    matmul_ctx c = {tg_rand(2, shape), tg_rand(2, shape), malloc((size_t)m * (size_t)m * sizeof(double)), m,
                    false};
    tg_tensor *prod = c.a && c.b && c.c ? tg_matmul(c.a, c.b) : NULL;
    if (prod) {
        matmul_once(&c);
        bad = first_mismatch(tg_data(prod), c.c, (int64_t)m * m, m);
    }
    int rc = !prod || bad >= 0;
    if (!prod)
        snprintf(err, err_size, "matmul setup: %s", tg_last_error());
    else if (bad >= 0)
        snprintf(err, err_size, "tg_matmul differs from cblas_dgemm at %lld: %.17g vs %.17g", (long long)bad,
                 tg_data(prod)[bad], c.c[bad]);
    if (rc == 0) {
        double blas = INFINITY, ours = INFINITY, flops = 2.0 * m * m * m;
        for (int round = 0; round < 2; round++) {   /* alternated: neither goes first only */
            c.tg = false;
            blas = fmin(blas, best_time(matmul_once, &c, t));
            c.tg = true;
            ours = fmin(ours, best_time(matmul_once, &c, t));
        }
        *row = (micro_row){.unit = "GFLOP/s", .value = flops / ours * 1e-9, .reference = flops / blas * 1e-9,
                           .ratio = blas / ours};
        snprintf(row->name, sizeof row->name, "tg_matmul %dx%d x %dx%d", m, m, m, m);
    }
    tg_free(prod);
    tg_free(c.a);
    tg_free(c.b);
    free(c.c);
    return rc;
}

static bufs bufs_new(int64_t n)
{
    bufs b = {.n = n};
    size_t d = sizeof(double);
    b.x = malloc((size_t)n * d), b.y = malloc((size_t)n * d), b.t = malloc((size_t)n * d);
    b.z = malloc((size_t)(n * NCOEF) * d), b.out = malloc(NCOEF * d);
    b.csrc = calloc((size_t)(n * COPY_MAX), d), b.cdst = calloc((size_t)(n * COPY_MAX), d);
    b.scratch = malloc((size_t)tg__legproject_scratch(1, NCOEF) * 4 * d);
    if (b.x && b.y && b.t && b.z && b.out && b.csrc && b.cdst && b.scratch) {
        for (int64_t i = 0; i < n; i++) {
            double u = (double)i / (double)n;
            b.x[i] = 0.1 + u;                 /* in the domain of log, sqrt, pow */
            b.y[i] = 1.5 - 0.5 * u;
            b.t[i] = -0.95 + 1.9 * u;         /* Legendre arguments in [-1, 1] */
        }
        memset(b.z, 0, (size_t)(n * NCOEF) * d);
        memset(b.csrc, 1, (size_t)(n * COPY_MAX) * d);
        memset(b.cdst, 0, (size_t)(n * COPY_MAX) * d);
    }
    return b;
}

static void bufs_free(bufs *b)
{
    free(b->x), free(b->y), free(b->t), free(b->z), free(b->out);
    free(b->csrc), free(b->cdst), free(b->scratch);
}

int micro_run(const micro_config *cfg, micro_row *rows, int max_rows, char *err, size_t err_size)
{
    err[0] = '\0';
#if TG_BENCH_HAVE_THREADS
    tg_set_num_threads(1);   /* one core's kernels, dispatch and dgemm */
#endif
    bufs b = bufs_new(cfg->n);
    int m = b.x && b.y && b.t && b.z && b.out && b.csrc && b.cdst && b.scratch ? 0 : -1;
    if (m < 0)
        snprintf(err, err_size, "micro-benchmarks: out of memory for n = %lld", (long long)cfg->n);
    else
        m = kernel_rows(&b, &cfg->timing, rows, max_rows - 3, err, err_size);
    bufs_free(&b);
    /* the first "ns" row is the one the dispatch target judges */
    if (m >= 0 && dispatch_row(&twice_fn, "user Function apply + backward, 1 element", &cfg->timing, &rows[m],
                               err, err_size) == 0)
        m++;
    else
        m = -1;
    if (m >= 0 && dispatch_row(&twice_span_fn, "user span Function apply + backward, 1 element", &cfg->timing,
                               &rows[m], err, err_size) == 0)
        m++;
    else
        m = -1;
    if (m >= 0 && matmul_row(cfg->matmul_n, &cfg->timing, &rows[m], err, err_size) == 0)
        m++;
    else
        m = -1;
    return m;
}
