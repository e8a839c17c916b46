/* SPDX-License-Identifier: MIT */
/*
** tgfit's fixed reduction tree for sums over points (losses and gradients):
** the leaves are the global blocks of TGFIT_BLOCK points, node (l, i) is
** node (l-1, 2i) + node (l-1, 2i+1) (an empty right child leaves the left one
** as it is).  A rank pushes its blocks in order on a binary-counter stack that
** adds only true siblings, so it holds the maximal nodes of its rows;
** sumtree_total gathers every rank's nodes and completes the tree the same
** way on every rank, which makes the sum independent of the rank count.  The
** same scheme as the library's QR tree (src/ops/lstsq.c), with + for dtpqrt.
*/
#include "tgfit.h"

#include <stdlib.h>
#include <string.h>

struct sumtree {
    int m;                      /* doubles per vector */
    int64_t top, cap;
    int64_t *level, *index;
    double *vals;               /* cap * m */
};

sumtree *sumtree_new(int m)
{
    sumtree *t = calloc(1, sizeof *t);
    if (t)
        t->m = m;
    return t;
}

void sumtree_free(sumtree *t)
{
    if (!t)
        return;
    free(t->level);
    free(t->index);
    free(t->vals);
    free(t);
}

static int grow(sumtree *t)
{
    int64_t cap = t->cap ? 2 * t->cap : 64;
    int64_t *l = realloc(t->level, (size_t)cap * sizeof *l);
    if (l)
        t->level = l;
    int64_t *i = realloc(t->index, (size_t)cap * sizeof *i);
    if (i)
        t->index = i;
    double *v = realloc(t->vals, (size_t)cap * (size_t)t->m * sizeof *v);
    if (v)
        t->vals = v;
    if (!l || !i || !v)
        return tgfit_fail("out of memory for the reduction tree");
    t->cap = cap;
    return 0;
}

int sumtree_push(sumtree *t, int64_t leaf, const double *v)
{
    if (t->top == t->cap && grow(t))
        return TGFIT_FAIL;
    const int m = t->m;
    memcpy(t->vals + t->top * m, v, (size_t)m * sizeof *v);
    t->level[t->top] = 0;
    t->index[t->top++] = leaf;
    while (t->top >= 2 && t->level[t->top - 1] == t->level[t->top - 2] && t->index[t->top - 2] % 2 == 0 &&
           t->index[t->top - 1] == t->index[t->top - 2] + 1) {
        double *left = t->vals + (t->top - 2) * m, *right = left + m;
        for (int j = 0; j < m; j++)
            left[j] += right[j];
        t->top--;
        t->level[t->top - 1]++;
        t->index[t->top - 1] /= 2;
    }
    return 0;
}

/* The gathered nodes, each [level, index, m values], sorted by first leaf. */
typedef struct nodes {
    const double *at;
    int64_t count, leaves;
    int m;
    double *scratch;            /* a vector per level */
} nodes;

static int64_t first_leaf(const double *nd) { return (int64_t)nd[1] << (int64_t)nd[0]; }

static const double *find(const nodes *ns, int64_t level, int64_t index)
{
    int64_t lo = 0, hi = ns->count, start = index << level, w = 2 + ns->m;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (first_leaf(ns->at + mid * w) < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    const double *nd = lo < ns->count ? ns->at + lo * w : NULL;
    return nd && first_leaf(nd) == start && (int64_t)nd[0] == level ? nd : NULL;
}

static int build(const nodes *ns, int64_t level, int64_t index, double *out, bool *empty)
{
    *empty = (index << level) >= ns->leaves;
    if (*empty)
        return 0;
    const double *nd = find(ns, level, index);
    if (nd) {
        memcpy(out, nd + 2, (size_t)ns->m * sizeof *out);
        return 0;
    }
    if (level == 0)
        return tgfit_fail("internal error: block %lld is on no rank", (long long)index);
    bool left_empty, right_empty;
    double *right = ns->scratch + level * ns->m;
    if (build(ns, level - 1, 2 * index, out, &left_empty) || build(ns, level - 1, 2 * index + 1, right, &right_empty))
        return TGFIT_FAIL;
    if (!right_empty)
        for (int j = 0; j < ns->m; j++)
            out[j] += right[j];
    return 0;
}

static int by_first_leaf(const void *a, const void *b)
{
    int64_t fa = first_leaf(a), fb = first_leaf(b);
    return fa < fb ? -1 : fa > fb;
}

/* Sorts count records of w doubles by first leaf (insertion: a few per rank and level). */
static void sort_nodes(double *at, int64_t count, int64_t w, double *tmp)
{
    for (int64_t i = 1; i < count; i++) {
        memcpy(tmp, at + i * w, (size_t)w * sizeof *tmp);
        int64_t j = i;
        while (j > 0 && by_first_leaf(at + (j - 1) * w, tmp) > 0) {
            memcpy(at + j * w, at + (j - 1) * w, (size_t)w * sizeof *tmp);
            j--;
        }
        memcpy(at + j * w, tmp, (size_t)w * sizeof *tmp);
    }
}

int sumtree_total(const par *p, sumtree *t, double *out)
{
    const int m = t->m;
    const int64_t w = 2 + m;
    double *mine = malloc((size_t)((t->top ? t->top : 1) * w) * sizeof *mine), *all = NULL;
    int64_t n_all = 0;
    if (!mine)
        return tgfit_fail("out of memory for the reduction tree");
    for (int64_t i = 0; i < t->top; i++) {
        mine[i * w] = (double)t->level[i];
        mine[i * w + 1] = (double)t->index[i];
        memcpy(mine + i * w + 2, t->vals + i * m, (size_t)m * sizeof *mine);
    }
    int rc = par_allgather(p, mine, t->top * w, &all, &n_all);
    free(mine);
    if (rc)
        return rc;
    nodes ns = {.at = all, .count = n_all / w, .m = m};
    double *tmp = malloc((size_t)(w + 64 * m) * sizeof *tmp);
    if (!tmp) {
        free(all);
        return tgfit_fail("out of memory for the reduction tree");
    }
    sort_nodes(all, ns.count, w, tmp);
    ns.scratch = tmp + w;
    if (ns.count > 0) {
        const double *last = all + (ns.count - 1) * w;
        ns.leaves = ((int64_t)last[1] + 1) << (int64_t)last[0];
    }
    int64_t top = 0;
    while (((int64_t)1 << top) < ns.leaves)
        top++;
    bool empty = true;
    memset(out, 0, (size_t)m * sizeof *out);
    rc = ns.count > 0 ? build(&ns, top, 0, out, &empty) : 0;
    free(tmp);
    free(all);
    t->top = 0;                 /* ready for the next sum */
    return rc;
}
