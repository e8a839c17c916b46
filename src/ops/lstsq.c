/* SPDX-License-Identifier: MIT */
/*
** Streaming Legendre least squares (tg_legendre_lstsq_points and its parts):
** the design rows of one block of TG_LSTSQ_BLOCK points at a time, [w P_j(t) |
** w y] in column-major, folded by Householder TSQR (dtpqrt through
** src/lapack.c) into a (degree + 2)^2 upper triangular factor.  The blocks are
** the leaves of one fixed binary tree over the global block index: node (l, i)
** is the QR of [node (l-1, 2i); node (l-1, 2i+1)], an empty right child
** leaving the left one as it is.  A worker (thread) walks a run of leaves
** with a binary-counter stack that merges only true siblings, so it holds the
** maximal nodes of its run; a solve completes the tree from whatever nodes it
** has, recomputing the missing ones exactly as a single worker would.  That
** is why results are the same bit for bit for any thread, rank or part split.
** Layering: public API -> this file (validation, allocation, the tree) ->
** kernels (legvander) and src/lapack.c (dtpqrt, dgesvd).
*/
#include "ops.h"
#include "kernels/parallel.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct node {
    int64_t level, index;
    double *r;                       /* kc * kc column-major, upper triangular */
} node;

struct tg_lstsq_part {
    int kc;                          /* degree + 2: the coefficients and y */
    int64_t n;                       /* points */
    int64_t count, cap;
    node *nodes;
};

/* Every array LAPACK sees starts on a cache line and every factor slot is a
** whole number of lines: OpenBLAS's vector kernels peel unaligned heads, so
** the same factor at another alignment could round differently. */
static int64_t padded(int64_t n) { return (n + 7) / 8 * 8; }
static double *lines(int64_t n) { return tg__malloc_lines((size_t)padded(n > 0 ? n : 1) * sizeof(double)); }

/* Householder block size of dtpqrt */
static int64_t block_nb(int64_t kc) { return kc < 32 ? kc : 32; }

static int64_t start_leaf(const node *nd) { return nd->index << nd->level; }

static int by_start(const void *a, const void *b)
{
    int64_t sa = start_leaf(a), sb = start_leaf(b);
    return sa < sb ? -1 : sa > sb;
}

/* Parts keep their nodes sorted by first block, so a solve only reads them. */
static void sort_nodes(tg_lstsq_part *p)
{
    if (p->count > 1)
        qsort(p->nodes, (size_t)p->count, sizeof *p->nodes, by_start);
}

/* [A; B] -> R in a: the tree's one combining step, both upper triangular. */
static tg_status combine(const char *fn, int64_t kc, double *a, double *b, double *t, double *work)
{
    return tg__dtpqrt(fn, kc, kc, kc, block_nb(kc), a, kc, b, kc, t, work);
}

/* ------------------------------------------------------------ part workers */

typedef struct worker {
    double *blk, *vrow, *xb, *t, *work, *stack;   /* vrow: the block's t, xb: its weights */
    int64_t *level, *index;
    int top, depth;
    tg_status st;
    int64_t bad;                     /* first local point with a non-finite value, or -1 */
    char msg[256];                   /* st's message (errors are per thread) */
} worker;

typedef struct part_job {
    const char *fn;
    const tg_points *pts;
    int64_t kc, lead;                /* lead: local points before the first whole leaf (0) */
    double alpha, beta;
    volatile const sig_atomic_t *stop;
    worker *w;
} part_job;

static double at(const double *p, int64_t stride, int64_t i) { return p[i * stride]; }

/* The design block of local points [lo, lo + m) into w->blk, column-major
** [m, kc]: column j is w P_j(t) by Bonnet's recurrence, a pass over the block
** per degree (contiguous, vectorized), column kc - 1 is w y.  False (and
** w->bad) at a non-finite value. */
static bool design_block(const part_job *j, worker *w, int64_t lo, int64_t m)
{
    const tg_points *p = j->pts;
    const int64_t k = j->kc - 1, xs = p->x_stride, ys = p->y_stride, ws = p->w_stride;
    const double *px = p->x + lo * xs, *py = p->y + lo * ys, *pw = p->w ? p->w + lo * ws : NULL;
    double *wt = w->xb, *t = w->vrow, *y = w->blk + k * m;
    bool finite = true;
    for (int64_t i = 0; i < m; i++) {
        double xi = px[i * xs], yi = py[i * ys], wi = pw ? pw[i * ws] : 1.0;
        finite &= isfinite(xi) & isfinite(yi) & isfinite(wi);
        t[i] = j->alpha * xi + j->beta;
        wt[i] = wi;
        y[i] = wi * yi;
    }
    if (!finite) {
        for (int64_t i = 0; i < m; i++)
            if (!isfinite(px[i * xs]) || !isfinite(py[i * ys]) || (pw && !isfinite(pw[i * ws]))) {
                w->bad = lo + i;
                break;
            }
        return false;
    }
    double *c0 = w->blk, *c1 = w->blk + m;
    for (int64_t i = 0; i < m; i++)
        c0[i] = wt[i];
    if (k > 1)
        for (int64_t i = 0; i < m; i++)
            c1[i] = wt[i] * t[i];
    for (int64_t d = 1; d + 1 < k; d++) {   /* (d + 1) P_{d+1} = (2d + 1) t P_d - d P_{d-1} */
        const double a = (double)(2 * d + 1) / (double)(d + 1), b = (double)d / (double)(d + 1);
        const double *pd = w->blk + d * m, *pm = pd - m;
        double *pn = w->blk + (d + 1) * m;
        for (int64_t i = 0; i < m; i++)
            pn[i] = a * t[i] * pd[i] - b * pm[i];
    }
    return true;
}

static tg_status push_leaf(const part_job *j, worker *w, int64_t leaf, int64_t m)
{
    const int64_t kc = j->kc, kk = padded(kc * kc);
    if (w->top == w->depth)
        return tg__error(TG_ERR_STATE, "%s: tree stack overflow", j->fn);   /* sized in make_workers */
    double *r = w->stack + (int64_t)w->top * kk;
    memset(r, 0, (size_t)(kc * kc) * sizeof *r);
    tg_status st;
    if (m >= kc) {               /* a whole block: dgeqrt, then its R */
        st = tg__dgeqrt(j->fn, m, kc, block_nb(kc), w->blk, m, w->t, w->work);
        for (int64_t c = 0; st == TG_OK && c < kc; c++)
            memcpy(r + c * kc, w->blk + c * m, (size_t)(c + 1) * sizeof *r);
    } else {                     /* fewer rows than columns: folded into a zero triangle */
        st = tg__dtpqrt(j->fn, m, kc, 0, block_nb(kc), r, kc, w->blk, m, w->t, w->work);
    }
    if (st != TG_OK)
        return st;
    w->level[w->top] = 0;
    w->index[w->top++] = leaf;
    while (w->top >= 2 && w->level[w->top - 1] == w->level[w->top - 2] && w->index[w->top - 2] % 2 == 0 &&
           w->index[w->top - 1] == w->index[w->top - 2] + 1) {
        double *left = w->stack + (int64_t)(w->top - 2) * kk;   /* its right sibling is the next slot */
        if ((st = combine(j->fn, kc, left, left + kk, w->t, w->work)) != TG_OK)
            return st;
        w->top--;
        w->level[w->top - 1]++;
        w->index[w->top - 1] /= 2;
    }
    return TG_OK;
}

/* fn of tg__par_run over the local leaves [lo, hi). */
static void part_slice(void *ctx, int64_t lo, int64_t hi)
{
    const part_job *j = ctx;
    worker *w = &j->w[tg__par_worker()];
    const int64_t first_leaf = j->pts->first / TG_LSTSQ_BLOCK;
    for (int64_t leaf = lo; leaf < hi && w->st == TG_OK; leaf++) {
        if (j->stop && *j->stop) {
            w->st = TG_ERR_STATE;
            snprintf(w->msg, sizeof w->msg, "%s: interrupted after %lld of its %lld blocks", j->fn,
                     (long long)(leaf - lo), (long long)(hi - lo));
            return;
        }
        int64_t p0 = leaf * TG_LSTSQ_BLOCK, m = j->pts->n - p0 < TG_LSTSQ_BLOCK ? j->pts->n - p0 : TG_LSTSQ_BLOCK;
        if (!design_block(j, w, p0, m)) {
            w->st = TG_ERR_ARG;
            return;
        }
        w->st = push_leaf(j, w, first_leaf + leaf, m);
    }
    if (w->st != TG_OK)
        snprintf(w->msg, sizeof w->msg, "%s", tg_last_error());
}

static void free_workers(worker *w, int nw)
{
    for (int i = 0; w && i < nw; i++) {
        tg__free(w[i].blk);
        tg__free(w[i].vrow);
        tg__free(w[i].xb);
        tg__free(w[i].t);
        tg__free(w[i].work);
        tg__free(w[i].stack);
        tg__free(w[i].level);
        tg__free(w[i].index);
    }
    tg__free(w);
}

static worker *make_workers(int nw, int64_t kc, int64_t leaves)
{
    int bits = 1;
    while (bits < 63 && ((int64_t)1 << bits) <= leaves)
        bits++;
    const int depth = 2 * bits + 2;
    const int64_t b = TG_LSTSQ_BLOCK, nbk = block_nb(kc) * kc;
    worker *w = tg__calloc((size_t)nw, sizeof *w);
    bool ok = w != NULL;
    for (int i = 0; ok && i < nw; i++) {
        w[i].depth = depth;
        w[i].bad = -1;
        w[i].blk = lines(b * kc);
        w[i].vrow = lines(b);
        w[i].xb = lines(b);
        w[i].t = lines(nbk);
        w[i].work = lines(nbk);
        w[i].stack = lines(depth * padded(kc * kc));
        w[i].level = tg__malloc((size_t)depth * sizeof(int64_t));
        w[i].index = tg__malloc((size_t)depth * sizeof(int64_t));
        ok = w[i].blk && w[i].vrow && w[i].xb && w[i].t && w[i].work && w[i].stack &&
             w[i].level && w[i].index;
    }
    if (!ok) {
        free_workers(w, nw);
        return NULL;
    }
    return w;
}

/* ------------------------------------------------------------ parts */

static tg_lstsq_part *part_new(int kc)
{
    tg_lstsq_part *p = tg__calloc(1, sizeof *p);
    if (p)
        p->kc = kc;
    return p;
}

void tg_lstsq_part_free(tg_lstsq_part *p)
{
    if (!p)
        return;
    for (int64_t i = 0; i < p->count; i++)
        tg__free(p->nodes[i].r);
    tg__free(p->nodes);
    tg__free(p);
}

static bool part_add(tg_lstsq_part *p, int64_t level, int64_t index, const double *r)
{
    const size_t kk = (size_t)p->kc * (size_t)p->kc;
    if (p->count == p->cap) {
        int64_t cap = p->cap ? 2 * p->cap : 16;
        node *nodes = tg__malloc((size_t)cap * sizeof *nodes);
        if (!nodes)
            return false;
        if (p->count)
            memcpy(nodes, p->nodes, (size_t)p->count * sizeof *nodes);
        tg__free(p->nodes);
        p->nodes = nodes;
        p->cap = cap;
    }
    double *copy = lines((int64_t)kk);
    if (!copy)
        return false;
    memcpy(copy, r, kk * sizeof *copy);
    p->nodes[p->count++] = (node){.level = level, .index = index, .r = copy};
    return true;
}

static tg_status check_points(const char *fn, const tg_points *pts, int degree, double alpha, double beta)
{
    if (!pts)
        return tg__null_arg(fn, "pts");
    if (degree < 0 || degree > 100000)
        return tg__error(TG_ERR_ARG, "%s: degree is %d, must be in 0..100000", fn, degree);
    if (!isfinite(alpha) || !isfinite(beta))
        return tg__error(TG_ERR_ARG, "%s: alpha = %g and beta = %g must be finite", fn, alpha, beta);
    if (pts->n < 0 || pts->first < 0 || pts->first % TG_LSTSQ_BLOCK != 0)
        return tg__error(TG_ERR_ARG, "%s: n = %lld and first = %lld; both must be >= 0 and first a multiple of "
                         "TG_LSTSQ_BLOCK (%d)", fn, (long long)pts->n, (long long)pts->first, TG_LSTSQ_BLOCK);
    if (pts->x_stride < 0 || pts->y_stride < 0 || pts->w_stride < 0)
        return tg__error(TG_ERR_ARG, "%s: strides x %lld, y %lld, w %lld must be >= 0", fn,
                         (long long)pts->x_stride, (long long)pts->y_stride, (long long)pts->w_stride);
    if (pts->n > 0 && (!pts->x || !pts->y))
        return tg__null_arg(fn, pts->x ? "pts->y" : "pts->x");
    return TG_OK;
}

static tg_status run_workers(const char *fn, const part_job *job, int nw, int64_t leaves, tg_lstsq_part *p)
{
    /* OpenBLAS's own threads change the rounding of dtpqrt's small products:
    ** one BLAS thread while the workers run (tensorgrad's threads split the blocks) */
    tg__blas_set_threads(1);
    if (leaves > 0)
        tg__par_run(nw, leaves, 1, part_slice, (void *)job);
    tg__blas_set_threads(tg__par_threads());
    int64_t bad = -1;
    for (int i = 0; i < nw; i++)
        if (job->w[i].bad >= 0 && (bad < 0 || job->w[i].bad < bad))
            bad = job->w[i].bad;
    if (bad >= 0) {
        const tg_points *q = job->pts;
        double x = at(q->x, q->x_stride, bad), y = at(q->y, q->y_stride, bad);
        const char *what = !isfinite(x) ? "x" : !isfinite(y) ? "y" : "w";
        double v = what[0] == 'x' ? x : what[0] == 'y' ? y : at(q->w, q->w_stride, bad);
        return tg__error(TG_ERR_ARG, "%s: %s[%lld] is %g", fn, what, (long long)bad, v);
    }
    for (int i = 0; i < nw; i++)
        if (job->w[i].st != TG_OK)
            return tg__error(job->w[i].st, "%s", job->w[i].msg);
    const int64_t kk = padded((int64_t)p->kc * p->kc);
    for (int i = 0; i < nw; i++)
        for (int s = 0; s < job->w[i].top; s++)
            if (!part_add(p, job->w[i].level[s], job->w[i].index[s], job->w[i].stack + s * kk))
                return tg__error(TG_ERR_NOMEM, "%s: out of memory for the tree's nodes", fn);
    return TG_OK;
}

tg_status tg_legendre_lstsq_part(const tg_points *pts, int degree, double alpha, double beta,
                                 const tg_lstsq_opts *opts, tg_lstsq_part **out)
{
    static const char fn[] = "tg_legendre_lstsq_part";
    if (!out)
        return tg__null_arg(fn, "out");
    *out = NULL;
    tg_status st = check_points(fn, pts, degree, alpha, beta);
    if (st != TG_OK)
        return st;
    tg_points q = *pts;
    q.x_stride = q.x_stride ? q.x_stride : 1;
    q.y_stride = q.y_stride ? q.y_stride : 1;
    q.w_stride = q.w_stride ? q.w_stride : 1;
    const int64_t kc = (int64_t)degree + 2, leaves = (q.n + TG_LSTSQ_BLOCK - 1) / TG_LSTSQ_BLOCK;
    int nw = tg__par_team(q.n * kc * kc / 8);
    if (nw > leaves)
        nw = leaves > 0 ? (int)leaves : 1;
    worker *w = make_workers(nw, kc, leaves);
    tg_lstsq_part *p = part_new((int)kc);
    if (!w || !p) {
        st = tg__error(TG_ERR_NOMEM, "%s: out of memory for %d workers of degree %d", fn, nw, degree);
        goto cleanup;
    }
    p->n = q.n;
    part_job job = {.fn = fn, .pts = &q, .kc = kc, .alpha = alpha, .beta = beta,
                    .stop = opts ? opts->stop : NULL, .w = w};
    if ((st = run_workers(fn, &job, nw, leaves, p)) != TG_OK)
        goto cleanup;
    sort_nodes(p);
    *out = p;
    p = NULL;
cleanup:
    free_workers(w, nw);
    tg_lstsq_part_free(p);
    return st;
}

/* ------------------------------------------------------------ flat form */

/* [kc, n, count, then per node: level, index, kc * kc values] */
int64_t tg_lstsq_part_size(const tg_lstsq_part *p)
{
    return p ? 3 + p->count * (2 + (int64_t)p->kc * p->kc) : 0;
}

void tg_lstsq_part_pack(const tg_lstsq_part *p, double *buf)
{
    if (!p || !buf)
        return;
    const int64_t kk = (int64_t)p->kc * p->kc;
    buf[0] = p->kc;
    buf[1] = (double)p->n;
    buf[2] = (double)p->count;
    double *at_ = buf + 3;
    for (int64_t i = 0; i < p->count; i++) {
        at_[0] = (double)p->nodes[i].level;
        at_[1] = (double)p->nodes[i].index;
        memcpy(at_ + 2, p->nodes[i].r, (size_t)kk * sizeof *at_);
        at_ += 2 + kk;
    }
}

static bool whole(double v, double lo, double hi) { return v >= lo && v <= hi && v == floor(v); }

static tg_status unpack_one(const char *fn, const double *buf, int64_t n, int64_t *used, tg_lstsq_part **p)
{
    if (n < 3 || !whole(buf[0], 2, 100002) || !whole(buf[1], 0, 9e15) || !whole(buf[2], 0, 1e9))
        return tg__error(TG_ERR_ARG, "%s: not a packed part (header %g %g %g)", fn, n > 0 ? buf[0] : NAN,
                         n > 1 ? buf[1] : NAN, n > 2 ? buf[2] : NAN);
    const int kc = (int)buf[0];
    const int64_t kk = (int64_t)kc * kc, count = (int64_t)buf[2];
    if (*p && (*p)->kc != kc)
        return tg__error(TG_ERR_ARG, "%s: parts of degree %d and %d", fn, (*p)->kc - 2, kc - 2);
    if ((n - 3) / (2 + kk) < count)
        return tg__error(TG_ERR_ARG, "%s: a part of %lld nodes does not fit in %lld doubles", fn,
                         (long long)count, (long long)n);
    if (!*p && !(*p = part_new(kc)))
        return tg__error(TG_ERR_NOMEM, "%s: out of memory", fn);
    (*p)->n += (int64_t)buf[1];
    const double *nd = buf + 3;
    for (int64_t i = 0; i < count; i++, nd += 2 + kk) {
        if (!whole(nd[0], 0, 62) || !whole(nd[1], 0, 9e15) || (int64_t)nd[1] > (INT64_MAX >> (int)nd[0]))
            return tg__error(TG_ERR_ARG, "%s: node %lld is (%g, %g)", fn, (long long)i, nd[0], nd[1]);
        if (!part_add(*p, (int64_t)nd[0], (int64_t)nd[1], nd + 2))
            return tg__error(TG_ERR_NOMEM, "%s: out of memory", fn);
    }
    *used = 3 + count * (2 + kk);
    return TG_OK;
}

tg_status tg_lstsq_part_unpack(const double *buf, int64_t n, tg_lstsq_part **out)
{
    static const char fn[] = "tg_lstsq_part_unpack";
    if (!out)
        return tg__null_arg(fn, "out");
    *out = NULL;
    if (!buf || n < 0)
        return tg__error(TG_ERR_ARG, "%s: buf %s, n = %lld", fn, buf ? "given" : "NULL", (long long)n);
    tg_lstsq_part *p = NULL;
    tg_status st = TG_OK;
    for (int64_t off = 0, used = 0; off < n && st == TG_OK; off += used)
        st = unpack_one(fn, buf + off, n - off, &used, &p);
    if (st == TG_OK && !p)
        st = tg__error(TG_ERR_ARG, "%s: an empty buffer holds no part", fn);
    if (st != TG_OK) {
        tg_lstsq_part_free(p);
        return st;
    }
    sort_nodes(p);
    *out = p;
    return TG_OK;
}

/* ------------------------------------------------------------ the solve */

typedef struct tree {
    const char *fn;
    const tg_lstsq_part *p;
    int64_t leaves, kc;
    double *levels, *t, *work;       /* a buffer per level; dtpqrt's */
} tree;

static const node *find(const tree *tr, int64_t level, int64_t index)
{
    int64_t lo = 0, hi = tr->p->count, start = index << level;
    while (lo < hi) {                /* nodes sorted by start leaf, disjoint */
        int64_t mid = lo + (hi - lo) / 2;
        if (start_leaf(&tr->p->nodes[mid]) < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    const node *nd = lo < tr->p->count ? &tr->p->nodes[lo] : NULL;
    return nd && start_leaf(nd) == start && nd->level == level ? nd : NULL;
}

/* node (level, index) of the fixed tree into out; *empty when it holds no block. */
static tg_status build(const tree *tr, int64_t level, int64_t index, double *out, bool *empty)
{
    const int64_t kk = tr->kc * tr->kc;
    *empty = (index << level) >= tr->leaves;
    if (*empty)
        return TG_OK;
    const node *nd = find(tr, level, index);
    if (nd) {
        memcpy(out, nd->r, (size_t)kk * sizeof *out);
        return TG_OK;
    }
    if (level == 0)
        return tg__error(TG_ERR_ARG, "%s: block %lld (points from %lld) is in no part", tr->fn, (long long)index,
                         (long long)index * TG_LSTSQ_BLOCK);
    bool left_empty, right_empty;
    double *right = tr->levels + level * padded(kk);
    tg_status st = build(tr, level - 1, 2 * index, out, &left_empty);
    if (st == TG_OK)
        st = build(tr, level - 1, 2 * index + 1, right, &right_empty);
    if (st == TG_OK && !right_empty)
        st = combine(tr->fn, tr->kc, out, right, tr->t, tr->work);
    return st;
}

/* The root of the part's tree into r (kc * kc); zeros when it has no points. */
static tg_status root(const char *fn, const tg_lstsq_part *p, double *r)
{
    const int64_t kc = p->kc, kk = kc * kc;
    memset(r, 0, (size_t)kk * sizeof *r);
    if (p->count == 0)
        return TG_OK;
    int64_t leaves = 0;
    for (int64_t i = 0; i < p->count; i++) {
        const node *nd = &p->nodes[i];
        if (i > 0 && start_leaf(nd) < ((p->nodes[i - 1].index + 1) << p->nodes[i - 1].level))
            return tg__error(TG_ERR_ARG, "%s: two parts hold block %lld", fn, (long long)start_leaf(nd));
        leaves = (nd->index + 1) << nd->level;
    }
    int64_t top = 0;
    while (((int64_t)1 << top) < leaves)
        top++;
    tree tr = {.fn = fn, .p = p, .leaves = leaves, .kc = kc};
    tr.levels = lines((top + 1) * padded(kk));
    tr.t = lines(block_nb(kc) * kc);
    tr.work = lines(block_nb(kc) * kc);
    bool empty;
    tg__blas_set_threads(1);
    tg_status st = tr.levels && tr.t && tr.work ? build(&tr, top, 0, r, &empty)
                                                : tg__error(TG_ERR_NOMEM, "%s: out of memory for the tree", fn);
    tg__blas_set_threads(tg__par_threads());
    tg__free(tr.levels);
    tg__free(tr.t);
    tg__free(tr.work);
    return st;
}

void tg_lstsq_result_free(tg_lstsq_result *r)
{
    if (!r)
        return;
    free(r->coef);
    free(r->cov);
    free(r->se);
    r->coef = r->cov = r->se = NULL;
}

/* c = V S^+ U^T z over the rank kept singular values, cov = s2 V S^-2 V^T. */
static void pseudo_solve(tg_lstsq_result *res, int64_t k, const double *s, const double *u, const double *vt,
                         const double *z, double s2)
{
    for (int64_t j = 0; j < k; j++)
        res->coef[j] = 0.0;
    for (int64_t i = 0; i < res->rank; i++) {
        double proj = 0.0;
        for (int64_t r = 0; r < k; r++)
            proj += u[i * k + r] * z[r];
        proj /= s[i];
        for (int64_t j = 0; j < k; j++)
            res->coef[j] += vt[j * k + i] * proj;
    }
    for (int64_t a = 0; a < k; a++)
        for (int64_t b = 0; b < k; b++) {
            double acc = 0.0;
            for (int64_t i = 0; i < res->rank; i++)
                acc += vt[a * k + i] * vt[b * k + i] / (s[i] * s[i]);
            res->cov[a * k + b] = isfinite(s2) ? s2 * acc : INFINITY;
        }
    for (int64_t j = 0; j < k; j++)
        res->se[j] = sqrt(res->cov[j * k + j]);
}

static tg_status solve_root(const char *fn, const double *r, int64_t kc, int64_t n, double rcond,
                            tg_lstsq_result *res)
{
    const int64_t k = kc - 1, kk = k * k;
    const int64_t pk = padded(kk);
    double *a = lines(3 * pk + 2 * padded(k));
    if (!a)
        return tg__error(TG_ERR_NOMEM, "%s: out of memory for the SVD of a %lld x %lld factor", fn, (long long)k,
                         (long long)k);
    memset(a, 0, (size_t)(3 * pk + 2 * padded(k)) * sizeof *a);
    double *u = a + pk, *vt = u + pk, *s = vt + pk, *z = s + padded(k);
    for (int64_t c = 0; c < k; c++) {
        for (int64_t i = 0; i <= c; i++)
            a[c * k + i] = r[c * kc + i];
        z[c] = r[k * kc + c];
    }
    res->rss = r[k * kc + k] * r[k * kc + k];
    tg__blas_set_threads(1);
    tg_status st = tg__dgesvd(fn, k, a, s, u, vt);
    tg__blas_set_threads(tg__par_threads());
    if (st == TG_OK) {
        const double thr = (rcond > 0 ? rcond : (double)(n > 1 ? n : 1) * DBL_EPSILON) * s[0];
        res->rank = 0;
        while (res->rank < k && s[res->rank] > thr)
            res->rank++;
        res->cond = s[k - 1] > 0 ? s[0] / s[k - 1] : INFINITY;
        double s2 = n > k ? res->rss / (double)(n - k) : INFINITY;
        pseudo_solve(res, k, s, u, vt, z, s2);
        res->rank_deficient = res->rank < k;
        if (res->rank_deficient)
            snprintf(res->warning, sizeof res->warning, "rank %d < %lld coefficients: %lld points, singular "
                     "values at or below %.3g of the largest dropped (condition number %.3g); minimum-norm "
                     "solution", res->rank, (long long)k, (long long)n, thr / (s[0] > 0 ? s[0] : 1), res->cond);
    }
    tg__free(a);
    return st;
}

tg_status tg_lstsq_part_solve(const tg_lstsq_part *p, const tg_lstsq_opts *opts, tg_lstsq_result *res)
{
    static const char fn[] = "tg_lstsq_part_solve";
    if (!res)
        return tg__null_arg(fn, "res");
    memset(res, 0, sizeof *res);
    res->cond = res->rss = NAN;
    if (!p)
        return tg__null_arg(fn, "part");
    const int64_t kc = p->kc, k = kc - 1;
    res->ncoef = (int)k;
    res->n = p->n;
    res->coef = malloc((size_t)k * sizeof *res->coef);
    res->cov = malloc((size_t)(k * k) * sizeof *res->cov);
    res->se = malloc((size_t)k * sizeof *res->se);
    double *r = lines(kc * kc);
    tg_status st = TG_OK;
    if (!res->coef || !res->cov || !res->se || !r)
        st = tg__error(TG_ERR_NOMEM, "%s: out of memory for %lld coefficients", fn, (long long)k);
    if (st == TG_OK)
        st = root(fn, p, r);
    if (st == TG_OK)
        st = solve_root(fn, r, kc, p->n, opts && opts->rcond > 0 ? opts->rcond : 0.0, res);
    tg__free(r);
    if (st != TG_OK)
        tg_lstsq_result_free(res);
    return st;
}

tg_status tg_legendre_lstsq_points(const tg_points *pts, int degree, double alpha, double beta,
                                   const tg_lstsq_opts *opts, tg_lstsq_result *res)
{
    static const char fn[] = "tg_legendre_lstsq_points";
    if (!res)
        return tg__null_arg(fn, "res");
    memset(res, 0, sizeof *res);
    res->cond = res->rss = NAN;
    if (pts && pts->first != 0)
        return tg__error(TG_ERR_ARG, "%s: pts->first is %lld; a whole fit starts at 0 (parts: "
                         "tg_legendre_lstsq_part)", fn, (long long)pts->first);
    tg_lstsq_part *p = NULL;
    tg_status st = tg_legendre_lstsq_part(pts, degree, alpha, beta, opts, &p);
    if (st == TG_OK)
        st = tg_lstsq_part_solve(p, opts, res);
    tg_lstsq_part_free(p);
    return st;
}
