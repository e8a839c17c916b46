/* SPDX-License-Identifier: MIT */
/*
** The plan of a captured step and its interpreter.  Values are classified
** (one element, a broadcast scalar, element by element over the N points, or
** a whole buffer); records become scalar work, elementwise work fused into
** passes over blocks of g->block points, block-partial reductions, or
** opaque calls of a Function on whole tensors.  A user Function given as span
** kernels is elementwise work too: a pass calls its kernels block by block on
** block arrays of its inputs, so its output never exists as a whole either.
** Levels order it all: a pass
** computes what its reductions and opaque calls need, recomputing elementwise
** values rather than storing them, so no N-sized intermediate exists unless an
** opaque call must read it.  Reductions combine their block partials in a
** fixed pairwise tree: the result depends on N and the data only, so the
** blocks of a pass can run on any thread (each worker has its own scratch).
*/
#include "capture.h"
#include "../kernels/kernels.h"
#include "../kernels/parallel.h"

#include <math.h>
#include <string.h>

static int bits(uint32_t m)
{
    int n = 0;
    for (; m; m &= m - 1)
        n++;
    return n;
}

static bool vector_kind(const tg_graph *g, int v)
{
    const tg__gval *x = &g->val[v];
    return x->kind == V_ELEM || (x->kind == V_BUF && x->numel == g->n);
}
static bool scalar_kind(const tg_graph *g, int v)
{
    return g->val[v].kind == V_SCAL || g->val[v].kind == V_UNIF;
}
static int avail(const tg_graph *g, int v)   /* level at which v exists as a buffer */
{
    return g->val[v].kind == V_ELEM ? g->val[v].level + 1 : g->val[v].level;
}

/* Marks what the loss and the gradients need, walking the records backward. */
static void mark_needed(tg_graph *g)
{
    g->val[g->loss].needed = true;
    for (int i = 0; i < g->n_params; i++)
        g->val[g->pval[i]].needed = g->val[g->gval[i]].needed = true;
    for (int k = g->n_rec - 1; k >= 0; k--) {
        tg__grec *r = &g->rec[k];
        for (int o = 0; o < r->n_out; o++)
            r->needed = r->needed || (r->out[o] >= 0 && g->val[r->out[o]].needed);
        if (!r->needed)
            continue;
        for (int i = 0; i < r->n_in; i++)
            g->val[r->in[i]].needed = true;
        if (r->type == REC_BWD)
            g->rec[r->fwd].needed = g->rec[r->fwd].has_bwd = true;
    }
}

static void set_opaque(tg_graph *g, tg__grec *r)
{
    int level = 0;
    r->run = R_OPAQUE;
    for (int i = 0; i < r->n_in; i++) {
        int v = tg__graph_root(g, r->in[i]);
        g->val[v].opaque_in = true;
        g->val[v].store = g->val[v].kind == V_ELEM;
        level = avail(g, v) > level ? avail(g, v) : level;
    }
    if (r->type == REC_BWD && g->rec[r->fwd].level > level)
        level = g->rec[r->fwd].level;   /* after its forward */
    r->level = level;
    for (int o = 0; o < r->n_out; o++)
        if (r->out[o] >= 0) {
            g->val[r->out[o]].kind = g->val[r->out[o]].numel == 1 ? V_SCAL : V_BUF;
            g->val[r->out[o]].level = level;
        }
}

static int64_t meta_numel(const tg__meta *m)
{
    int64_t n = 1;
    for (int d = 0; d < m->ndim; d++)
        n *= m->shape[d];
    return n;
}

/* Input i of r read through an index map into out's shape (a smaller buffer
** broadcast); false on OOM. */
static bool add_bcast(tg__grec *r, int i, const tg__gval *out)
{
    if (!r->imap && !(r->imap = tg__calloc(TG_MAX_FN_ARITY, sizeof *r->imap)))
        return false;
    r->bcast |= 1u << i;
    return tg__imap_make(r->in_meta[i].ndim, r->in_meta[i].shape, out->ndim, out->shape, &r->imap[i]);
}

/* Elementwise ops (and expand): scalar work when every input is scalar;
** fused into passes when the output has N points and every other input is
** a vector of its size or a smaller buffer broadcast to it (read through an
** index map); small work (R_SMALL) on whole buffers when the output has
** fewer; false: call it opaque. */
static bool plan_elementwise(tg_graph *g, tg__grec *r, int level)
{
    tg__gval *out = &g->val[r->out[0]];
    bool all_scalar = true, small = out->numel != g->n;
    if (out->numel == 0 && g->n > 0) {   /* nothing to compute */
        r->run = R_SMALL;
        out->kind = V_BUF;
        out->level = r->level = level;
        return true;
    }
    for (int i = 0; i < r->n_in; i++) {
        int v = tg__graph_root(g, r->in[i]);
        int64_t n_in = meta_numel(&r->in_meta[i]);
        if (scalar_kind(g, v))
            continue;   /* one value, however it is broadcast */
        all_scalar = false;
        if (!small && vector_kind(g, v) && n_in == out->numel)
            continue;   /* shapes that broadcast with one size are the same points */
        if (g->val[v].kind != V_BUF || (n_in > out->numel && out->numel > 0))
            return false;   /* (an empty output may broadcast a bigger input: nothing is read) */
        if (n_in != out->numel && !add_bcast(r, i, out))
            return false;
        int l = avail(g, v);
        level = l > level ? l : level;
    }
    if (all_scalar && out->numel != 1 && out->numel != g->n)
        all_scalar = false;        /* scalars spread over fewer than N elements: small work */
    r->run = all_scalar ? R_SCALAR : small ? R_SMALL : R_ELEM;
    out->kind = all_scalar ? (out->numel == 1 ? V_SCAL : V_UNIF) : small ? V_BUF : V_ELEM;
    out->level = r->level = level;
    return true;
}

static bool same_shape(const tg__meta *m, int ndim, const int64_t *shape)
{
    return m->ndim == ndim && !memcmp(m->shape, shape, (size_t)ndim * sizeof *shape);
}

/* REC_SPAN, REC_SPAN_BWD: fused when every input is a scalar (of one element, or
** uniform at the full shape) or a vector at the full shape (the output's, or
** grad_out's); false: call it opaque. */
static bool plan_span(tg_graph *g, tg__grec *r, int level)
{
    /* a span backward's out[i] is -1 for an input that needs no gradient */
    const tg__meta *full = r->type == REC_SPAN_BWD ? &r->in_meta[r->n_in - 1] : NULL;
    const tg__gval *out = full ? NULL : &g->val[r->out[0]];
    int ndim = full ? full->ndim : out->ndim;
    const int64_t *shape = full ? full->shape : out->shape;
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++)
        numel *= shape[d];
    bool all_scalar = true;
    for (int i = 0; i < r->n_in; i++) {
        int v = tg__graph_root(g, r->in[i]);
        bool at_full = same_shape(&r->in_meta[i], ndim, shape);
        if (scalar_kind(g, v) ? !at_full && g->val[v].numel != 1
                              : !vector_kind(g, v) || !at_full || numel != g->n)
            return false;
        all_scalar = all_scalar && scalar_kind(g, v);
    }
    if (all_scalar && numel != 1 && numel != g->n)
        return false;
    r->run = all_scalar ? R_SCALAR : R_ELEM;
    r->level = level;
    for (int o = 0; o < r->n_out; o++)
        if (r->out[o] >= 0) {
            tg__gval *x = &g->val[r->out[o]];
            x->kind = all_scalar ? (x->numel == 1 ? V_SCAL : V_UNIF) : V_ELEM;
            x->level = level;
        }
    return true;
}

/* A span Function called opaque: its backward becomes an opaque backward
** (REC_BWD) of grad_out into the gradients at the inputs' shapes. */
static void span_backward_opaque(tg_graph *g, tg__grec *f)
{
    if (f->bwd < 0)
        return;
    tg__grec *b = &g->rec[f->bwd];
    int n_in = b->n_in - 2;
    b->in[0] = b->in[n_in + 1];
    b->in_meta[0] = b->in_meta[n_in + 1];
    b->n_in = 1;
    for (int i = 0; i < b->n_out; i++)
        if (b->red[i] >= 0) {
            g->val[b->out[i]].needed = false;
            b->out[i] = g->rec[b->red[i]].out[0];
            g->rec[b->red[i]].needed = false;
        }
    b->type = REC_BWD;
    f->has_bwd = b->needed;
}

/* A reduction to M elements over one contiguous group of dims (R_ROWRED);
** false when the reduced dims are not one group. */
static bool plan_rowred(tg_graph *g, tg__grec *r, int level)
{
    int v = tg__graph_root(g, r->in[0]);
    tg__gval *out = &g->val[r->out[0]], *in = &g->val[v];
    const tg__meta *m = &r->in_meta[0];
    int64_t kept[TG_MAX_DIMS];
    if (in->kind == V_SCAL || (in->kind == V_UNIF && meta_numel(m) != g->n))
        return false;
    if (r->desc->kept) {
        r->desc->kept(r->args, m->ndim, m->shape, kept);
    } else {
        if (out->ndim > m->ndim)
            return false;
        for (int d = 0; d < m->ndim; d++) {
            int io = out->ndim - m->ndim + d;
            kept[d] = io >= 0 ? out->shape[io] : 1;
        }
    }
    int64_t dims[3] = {1, 1, 1};   /* outer, len, inner */
    int group = 0;                 /* 0: before the reduced dims, 1: in them, 2: after */
    for (int d = 0; d < m->ndim; d++) {
        if (m->shape[d] == 1)
            continue;
        bool red = kept[d] == 1;
        if (!red && kept[d] != m->shape[d])
            return false;
        if (red && group == 2)
            return false;          /* a second group of reduced dims */
        group = red ? 1 : group == 1 ? 2 : group;
        dims[red ? 1 : group == 2 ? 2 : 0] *= m->shape[d];
    }
    if (dims[0] * dims[2] != out->numel)
        return false;
    r->red_outer = dims[0], r->red_len = dims[1], r->red_inner = dims[2];
    r->run = R_ROWRED;
    r->level = level;              /* computed by a pass of its own at `level` */
    out->kind = out->numel == 1 ? V_SCAL : V_BUF;
    out->level = r->level + 1;
    return true;
}

/* A sum, mean, max, min, broadcast or view; false: call it opaque. */
static bool plan_shape_or_reduce(tg_graph *g, tg__grec *r, int level)
{
    int v = tg__graph_root(g, r->in[0]);
    tg__gval *out = &g->val[r->out[0]], *in = &g->val[v];
    int kind = r->desc->kind;
    bool extreme = kind == TG__OPK_MAX || kind == TG__OPK_MIN;
    bool to_one = kind == TG__OPK_MEAN || (kind == TG__OPK_SUM && out->numel == 1);
    if (to_one || ((kind == TG__OPK_EXPAND || extreme) && scalar_kind(g, v) && in->numel == 1)) {
        if (scalar_kind(g, v)) {
            if (out->numel != 1 && out->numel != g->n)
                return kind == TG__OPK_EXPAND && plan_elementwise(g, r, level);
            r->run = R_SCALAR;
            out->kind = out->numel == 1 ? V_SCAL : V_UNIF;
            out->level = r->level = level;
            return true;
        }
        if (in->kind == V_BUF && !vector_kind(g, v))
            return plan_rowred(g, r, level);   /* a smaller buffer summed whole (mean: then divided) */
        if (!to_one || !vector_kind(g, v))
            return false;
        r->run = R_REDUCE;
        r->level = level;          /* computed in pass `level` */
        out->kind = V_SCAL;
        out->level = level + 1;
        return true;
    }
    if (out->numel != in->numel) {
        if (kind == TG__OPK_SUM || extreme)
            return plan_rowred(g, r, level);
        if (kind == TG__OPK_EXPAND)
            return plan_elementwise(g, r, level);   /* a broadcast read */
        return false;
    }
    r->run = R_SKIP;               /* an identity: the output is the input */
    out->alias = v;
    out->kind = in->kind;
    out->level = r->level = in->level;
    return true;
}

static void classify(tg_graph *g)
{
    for (int v = 0; v < g->n_val; v++) {
        tg__gval *x = &g->val[v];
        if (x->needed && x->numel > g->n)
            g->n = x->numel;
        if (x->producer < 0)
            x->kind = x->numel == 1 ? V_SCAL : V_BUF;
    }
    for (int k = 0; k < g->n_rec; k++) {
        tg__grec *r = &g->rec[k];
        if (!r->needed)
            continue;
        int level = 0;
        for (int i = 0; i < r->n_in; i++) {
            int l = g->val[tg__graph_root(g, r->in[i])].level;
            level = l > level ? l : level;
        }
        bool ok = false;
        if (r->type == REC_OP && r->desc->kind == TG__OPK_POINT)
            ok = plan_elementwise(g, r, level);
        else if (r->type == REC_OP)
            ok = plan_shape_or_reduce(g, r, level);
        else if (r->type == REC_SPAN || r->type == REC_SPAN_BWD)
            ok = plan_span(g, r, level);
        /* a fused span forward's backward reads values at the forward's
        ** shapes, and the sums of its gradients are all to one element */
        TG_ASSERT(ok || (r->type != REC_SPAN_BWD && r->fn));
        if (!ok && r->type == REC_SPAN)
            span_backward_opaque(g, r);
        if (!ok)
            set_opaque(g, r);
        /* a scalar expanded keeps its value: the seed's constancy passes on */
        if (r->run == R_SCALAR && r->type == REC_OP && r->desc->kind == TG__OPK_EXPAND && g->val[tg__graph_root(g, r->in[0])].constant) {
            g->val[r->out[0]].constant = true;
            g->val[r->out[0]].cval = g->val[tg__graph_root(g, r->in[0])].cval;
        }
    }
}

/* ----------------------------------------------------------------- passes */

/* Adds v and the V_ELEM values it is computed from to the set (not those an
** earlier pass stores for it: shared). */
static void close_over(const tg_graph *g, int v, bool *in_set)
{
    v = tg__graph_root(g, v);
    if (g->val[v].kind != V_ELEM || in_set[v] || g->val[v].shared)
        return;
    in_set[v] = true;
    const tg__grec *r = &g->rec[g->val[v].producer];
    for (int i = 0; i < r->n_in; i++)
        close_over(g, r->in[i], in_set);
}

static int *list_of(const bool *set, int n, int *count)
{
    int c = 0;
    for (int v = 0; v < n; v++)
        c += set[v];
    int *l = tg__malloc((size_t)(c ? c : 1) * sizeof *l);
    if (l)
        for (int v = 0, j = 0; v < n; v++)
            if (set[v])
                l[j++] = v;
    *count = c;
    return l;
}

/* For an output v of an REC_SPAN_BWD: on the first of its outputs in the
** pass's set, a bit per output in the set (the call computes them all);
** 0 on the others.  Other records: 1. */
static uint32_t span_mask(const tg__grec *r, int v, const bool *set)
{
    if (r->type != REC_SPAN_BWD)
        return 1;
    uint32_t m = 0;
    for (int o = 0; o < r->n_out; o++)
        if (r->out[o] >= 0 && set[r->out[o]]) {
            if (!m && r->out[o] != v)
                return 0;
            m |= 1u << o;
        }
    return m;
}

/* The pass's values: those marked in set, in order, and what each span
** record among them must compute (span_mask). */
static tg_status take_values(const tg_graph *g, tg__pass *ps, const bool *set)
{
    if (!(ps->elem = list_of(set, g->n_val, &ps->n_elem)) ||
        !(ps->span_mask = tg__calloc((size_t)ps->n_elem + 1, sizeof *ps->span_mask)))
        return TG_ERR_NOMEM;
    for (int e = 0; e < ps->n_elem; e++)
        ps->span_mask[e] = span_mask(&g->rec[g->val[ps->elem[e]].producer], ps->elem[e], set);
    return TG_OK;
}

/* Pass p (p == n_levels: the update pass of parameters with elementwise gradients). */
static tg_status build_pass(tg_graph *g, tg__pass *ps, int p, bool last, bool *set)
{
    memset(set, 0, (size_t)g->n_val * sizeof *set);
    int nr = 0, ns = 0, nu = 0;
    int *red = tg__malloc((size_t)(g->n_rec + 1) * sizeof *red);
    int *st = tg__malloc((size_t)(g->n_val + g->n_params + 1) * sizeof *st);
    int *up = tg__malloc((size_t)(g->n_params + 1) * sizeof *up);
    ps->red = red, ps->store = st, ps->upd = up;
    ps->rowred = -1;
    if (!red || !st || !up)
        return TG_ERR_NOMEM;
    for (int k = 0; !last && k < g->n_rec; k++)
        if (g->rec[k].needed && g->rec[k].run == R_REDUCE && g->rec[k].level == p) {
            red[nr++] = k;
            close_over(g, g->rec[k].in[0], set);
        }
    for (int v = 0; !last && v < g->n_val; v++)
        if (g->val[v].needed && g->val[v].store && g->val[v].level == p) {
            st[ns++] = v;
            close_over(g, v, set);
        }
    for (int i = 0; last && !g->grads_only && i < g->n_params; i++) {   /* lazy mode: stored, no update */
        int v = tg__graph_root(g, g->gval[i]);
        if (g->val[v].kind != V_ELEM)
            continue;
        up[nu++] = i;
        close_over(g, v, set);
        if (g->opt && g->grad_in_place[i] && !g->val[v].store)
            st[ns++] = v;   /* into the tensor tg_grad shows, where the update reads it */
    }
    ps->n_red = nr, ps->n_store = ns, ps->n_upd = nu;
    if (take_values(g, ps, set) != TG_OK)
        return TG_ERR_NOMEM;
    int64_t nblocks = (g->n + g->block - 1) / g->block;
    ps->part = tg__calloc((size_t)(nblocks * nr + 1), sizeof(double));
    return ps->part ? TG_OK : TG_ERR_NOMEM;
}

/* The pass of R_ROWRED record k: the elementwise values its input is computed from. */
static tg_status build_rowred_pass(tg_graph *g, tg__pass *ps, int k, bool *set)
{
    memset(set, 0, (size_t)g->n_val * sizeof *set);
    ps->rowred = k;
    if (!(ps->store = tg__malloc(((size_t)g->n_val + 1) * sizeof *ps->store)))   /* share_values' */
        return TG_ERR_NOMEM;
    close_over(g, g->rec[k].in[0], set);
    return take_values(g, ps, set);
}

/* ------------------------------------------- values several passes read */

/* The values pass ps computes for its own work into roots: its sums' inputs,
** its stores, its updates' gradients, its row reduction's input. */
static int pass_roots(const tg_graph *g, const tg__pass *ps, int *roots)
{
    int n = 0;
    for (int r = 0; r < ps->n_red; r++)
        roots[n++] = tg__graph_root(g, g->rec[ps->red[r]].in[0]);
    for (int t = 0; t < ps->n_store; t++)
        roots[n++] = tg__graph_root(g, ps->store[t]);
    for (int u = 0; u < ps->n_upd; u++)
        roots[n++] = tg__graph_root(g, g->gval[ps->upd[u]]);
    if (ps->rowred >= 0)
        roots[n++] = tg__graph_root(g, g->rec[ps->rowred].in[0]);
    return n;
}

/* Pass ps's values again from its roots, stopping at the shared ones. */
static tg_status refill_pass(tg_graph *g, tg__pass *ps, bool *set, int *roots)
{
    int kept = 0;
    for (int t = 0; t < ps->n_store; t++)   /* an earlier pass stores a shared one */
        if (!g->val[ps->store[t]].shared)
            ps->store[kept++] = ps->store[t];
    ps->n_store = kept;
    memset(set, 0, (size_t)g->n_val * sizeof *set);
    int n = pass_roots(g, ps, roots);
    for (int i = 0; i < n; i++)
        close_over(g, roots[i], set);
    tg__free(ps->elem), tg__free(ps->span_mask);
    ps->span_mask = NULL;
    return take_values(g, ps, set);
}

/* A row reduction's pass computes the elementwise chain of its input, and
** the passes after it would compute much of it again (a softmax's exp: once
** for its max, once for its sum, once for the division, once more in the
** backward).  So, pass by pass in step order, the values pass i and a later
** pass j both compute (one of them a row reduction's), where j reads them
** for work i does not do, are stored by i and read back by j: each such
** value is computed once.  (Plans without row reductions recompute, as
** before: for a short chain over N points that is cheaper than a store and
** a load.) */
static tg_status share_values(tg_graph *g, bool *in_i, bool *set)
{
    int *roots = tg__malloc(((size_t)g->n_rec + (size_t)g->n_val + (size_t)g->n_params + 2) * sizeof *roots);
    tg_status st = roots ? TG_OK : TG_ERR_NOMEM;
    for (int i = 0; st == TG_OK && i < g->n_pass; i++) {
        tg__pass *pi = &g->pass[i];
        for (int j = i + 1; st == TG_OK && j < g->n_pass && pi->n_elem; j++) {
            tg__pass *pj = &g->pass[j];
            if (pi->rowred < 0 && pj->rowred < 0)
                continue;
            memset(in_i, 0, (size_t)g->n_val * sizeof *in_i);
            for (int e = 0; e < pi->n_elem; e++)
                in_i[pi->elem[e]] = true;
            int added = 0, n = pass_roots(g, pj, roots);
            for (int k = 0; k < n; k++)   /* j's roots that i computes */
                if (in_i[roots[k]] && !g->val[roots[k]].shared)
                    g->val[roots[k]].shared = true, added++;
            for (int e = 0; e < pj->n_elem; e++) {   /* i's values read by j's other work */
                const tg__grec *r = &g->rec[g->val[pj->elem[e]].producer];
                if (in_i[pj->elem[e]])
                    continue;
                for (int k = 0; k < r->n_in; k++) {
                    int u = tg__graph_root(g, r->in[k]);
                    if (in_i[u] && !g->val[u].shared)
                        g->val[u].shared = true, added++;
                }
            }
            if (!added)
                continue;
            for (int e = 0; e < pi->n_elem; e++) {   /* i stores them */
                int v = pi->elem[e];
                bool listed = false;
                for (int t = 0; t < pi->n_store; t++)
                    listed = listed || pi->store[t] == v;
                if (g->val[v].shared && !listed) {
                    pi->store[pi->n_store++] = v;
                    g->val[v].store = true;
                }
            }
            for (int k = j; st == TG_OK && k < g->n_pass; k++)   /* later passes read them */
                st = refill_pass(g, &g->pass[k], set, roots);
        }
    }
    tg__free(roots);
    return st;
}

static int max_level(const tg_graph *g)
{
    int m = 0;
    for (int k = 0; k < g->n_rec; k++)
        if (g->rec[k].needed && g->rec[k].run != R_SKIP) {
            int l = g->rec[k].run == R_REDUCE || g->rec[k].run == R_ROWRED ? g->rec[k].level + 1 : g->rec[k].level;
            m = l > m ? l : m;
        }
    return m;
}

/* Steps: at each level the scalar, small and opaque records in order, then
** its pass, then the passes of its row reductions. */
static tg_status build_steps(tg_graph *g)
{
    int levels = max_level(g) + 1, n_rowred = 0;
    for (int k = 0; k < g->n_rec; k++)
        n_rowred += g->rec[k].needed && g->rec[k].run == R_ROWRED;
    bool *set = tg__malloc((size_t)g->n_val + 1);
    g->pass = tg__calloc((size_t)levels + (size_t)n_rowred + 1, sizeof *g->pass);
    g->step = tg__malloc(((size_t)g->n_rec + (size_t)levels + 1) * sizeof *g->step);
    tg_status st = set && g->pass && g->step ? TG_OK : TG_ERR_NOMEM;
    for (int l = 0; st == TG_OK && l <= levels; l++) {
        for (int k = 0; l < levels && k < g->n_rec; k++) {
            const tg__grec *r = &g->rec[k];
            if (r->needed && r->level == l && (r->run == R_SCALAR || r->run == R_OPAQUE || r->run == R_SMALL))
                g->step[g->n_step++] = (tg__step){r->run == R_SCALAR ? S_SCALAR : r->run == R_SMALL ? S_SMALL
                                                                                                  : S_OPAQUE, k};
        }
        tg__pass *ps = &g->pass[g->n_pass++];   /* counted first: a half-built pass is freed too */
        if ((st = build_pass(g, ps, l, l == levels, set)) != TG_OK)
            break;
        if (ps->n_red || ps->n_store || ps->n_upd)
            g->step[g->n_step++] = (tg__step){S_PASS, g->n_pass - 1};
        for (int k = 0; st == TG_OK && l < levels && k < g->n_rec; k++)
            if (g->rec[k].needed && g->rec[k].run == R_ROWRED && g->rec[k].level == l) {
                ps = &g->pass[g->n_pass++];
                if ((st = build_rowred_pass(g, ps, k, set)) == TG_OK)
                    g->step[g->n_step++] = (tg__step){S_ROWRED, g->n_pass - 1};
            }
    }
    bool *in_i = st == TG_OK ? tg__malloc((size_t)g->n_val + 1) : NULL;
    if (st == TG_OK)
        st = in_i ? share_values(g, in_i, set) : TG_ERR_NOMEM;
    tg__free(in_i);
    tg__free(set);
    return st;
}

/* ---------------------------------------------------------------- buffers */

static void release_proxy(tg__storage *s) { tg__free(s); }

/* A caller-owned tensor of the given shape over data (not owned). */
static tg_tensor *proxy_of(const tg__meta *m, double *data)
{
    tg__storage *s = tg__calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->data = data;
    s->release = release_proxy;
    tg_tensor *t = tg__tensor_wrap("tg_graph_capture", m->ndim, m->shape, s, data);
    if (!t)
        tg__free(s);
    return t;
}

static tg_status make_buffers(tg_graph *g)
{
    for (int v = 0; v < g->n_val; v++) {
        tg__gval *x = &g->val[v];
        if (!x->needed || x->alias >= 0 || x->buf)
            continue;   /* x->buf: a gradient tensor's data (bind_optimizer) */
        if (x->producer < 0 && x->kind == V_BUF) {
            x->buf = x->ext->data;
        } else if (x->kind == V_BUF || x->store || x->opaque_in) {
            if (!(x->buf = tg__malloc((size_t)(x->numel ? x->numel : 1) * sizeof(double))))
                return TG_ERR_NOMEM;
            x->own_buf = true;
        }
    }
    for (int v = 0; v < g->n_val; v++) {
        int root = tg__graph_root(g, v);
        g->buf[v] = g->val[root].buf;
    }
    for (int k = 0; k < g->n_rec; k++) {
        tg__grec *r = &g->rec[k];
        int n_gather = bits(r->bcast);
        if (r->needed && r->run == R_SMALL && n_gather) {
            /* out[0] is read only here: a span backward's is -1 when its first
            ** input needs no gradient */
            int64_t m = g->val[r->out[0]].numel;
            if (!(r->gtmp = tg__malloc((size_t)(n_gather * (m ? m : 1)) * sizeof(double))))
                return TG_ERR_NOMEM;
        }
        for (int i = 0; r->needed && r->run == R_OPAQUE && i < r->n_in; i++) {
            if (!(r->proxy[i] = proxy_of(&r->in_meta[i], g->buf[r->in[i]])))
                return TG_ERR_NOMEM;
            if (r->has_bwd && (r->needs_grad >> i & 1u))
                r->proxy[i]->requires_grad = true;
        }
    }
    return TG_OK;
}

/* Block arrays a pass needs beside its values': one per scalar input of a span call. */
static int span_fills(const tg_graph *g, const tg__pass *ps)
{
    int n = 0;
    for (int e = 0; e < ps->n_elem; e++) {
        const tg__grec *r = &g->rec[g->val[ps->elem[e]].producer];
        for (int i = 0; (r->type == REC_SPAN || r->type == REC_SPAN_BWD) && ps->span_mask[e] && i < r->n_in; i++)
            n += g->val[tg__graph_root(g, r->in[i])].kind != V_ELEM && g->val[tg__graph_root(g, r->in[i])].kind != V_BUF;
    }
    return n;
}

static tg_status make_scratch(tg_graph *g)
{
    int most = 0;
    int64_t op_need = 1;
    for (int p = 0; p < g->n_pass; p++) {
        int need = g->pass[p].n_elem + span_fills(g, &g->pass[p]);
        most = need > most ? need : most;
    }
    g->kfn = tg__calloc((size_t)g->n_rec + 1, sizeof *g->kfn);
    for (int k = 0; g->kfn && k < g->n_rec; k++)
        if (g->rec[k].type == REC_SPAN)
            g->kfn[k] = (tg__kfn)g->rec[k].fn->forward_span;
        else if (g->rec[k].type == REC_SPAN_BWD)
            g->kfn[k] = (tg__kfn)g->rec[k].fn->backward_span;
    for (int k = 0; k < g->n_rec; k++)
        if (g->rec[k].needed && g->rec[k].type == REC_OP && g->rec[k].desc->scratch) {
            int64_t need = g->rec[k].desc->scratch(g->rec[k].args);
            op_need = need > op_need ? need : op_need;
        }
    int most_gather = 0;
    for (int k = 0; k < g->n_rec; k++)
        if (g->rec[k].needed && g->rec[k].run == R_ELEM && bits(g->rec[k].bcast) > most_gather)
            most_gather = bits(g->rec[k].bcast);
    /* aligned to a cache line: a vector load straddling two lines costs two */
    int w = g->n_workers = tg__par_threads();
    g->gather_off = (most + 1) * g->block;   /* then a fill block of a row reduction and the gathers */
    g->scratch_stride = (most + 2 + most_gather) * g->block;
    g->op_stride = op_need;
    g->scratch_alloc = tg__malloc((size_t)(w * g->scratch_stride) * sizeof(double) + 64);
    g->scratch = g->scratch_alloc ? (double *)(((uintptr_t)g->scratch_alloc + 63) & ~(uintptr_t)63) : NULL;
    g->slot = tg__malloc(((size_t)g->n_val + 1) * sizeof *g->slot);
    for (int v = 0; g->slot && v <= g->n_val; v++)
        g->slot[v] = -1;   /* not computed by the pass running: read from its buffer */
    g->op_scratch = tg__malloc((size_t)(w * g->op_stride) * sizeof(double));
    return g->kfn && g->scratch && g->slot && g->op_scratch ? TG_OK : TG_ERR_NOMEM;
}

static _Thread_local int last_opaque, last_rowred;   /* + 1: 0 before any plan */

void tg__graph_last_plan(int *opaque, int *rowred)
{
    *opaque = last_opaque - 1;
    *rowred = last_rowred - 1;
}

static tg_status bind_optimizer(tg_graph *g);

tg_status tg__graph_plan(tg_graph *g)
{
    mark_needed(g);
    g->block = TG__GRAPH_BLOCK;
    for (int k = 0; k < g->n_rec; k++)
        if (g->rec[k].needed && (g->rec[k].type == REC_SPAN || g->rec[k].type == REC_SPAN_BWD))
            g->block = TG__GRAPH_SPAN_BLOCK;
    classify(g);
    bool rowred = false;   /* its long rows are summed in ROW_CHUNK pieces: whole chunks per block */
    for (int k = 0; k < g->n_rec; k++)
        rowred = rowred || (g->rec[k].needed && g->rec[k].run == R_ROWRED);
    if (g->block == TG__GRAPH_SPAN_BLOCK && g->n >= TG__GRAPH_STREAM_N && !rowred)
        g->block = TG__GRAPH_STREAM_BLOCK;
    for (int i = 0; g->grads_only && i < g->n_params; i++) {   /* whole gradients are read */
        tg__gval *x = &g->val[tg__graph_root(g, g->gval[i])];
        x->store = x->store || x->kind == V_ELEM;
    }
    /* the replay reads its one-element externals from a list, not by walking
    ** every value: at N = 2,000 a whole step takes under a microsecond */
    g->reads = tg__malloc(((size_t)g->n_val + 1) * sizeof *g->reads);
    for (int v = 0; v < g->n_val; v++) {
        tg__gval *x = &g->val[v];
        if (x->producer < 0 && x->needed) {
            tg__tensor_ref(x->ext);
            x->kept = true;
            if (x->kind == V_SCAL && g->reads)
                g->reads[g->n_reads++] = v;
        }
    }
    size_t extra = g->opt ? (size_t)g->n_params : 0;
    g->sc = tg__calloc((size_t)g->n_val + 1 + extra * TG__OPTIM_SCALARS, sizeof *g->sc);
    if (g->sc)
        g->sc[tg__graph_lr_slot(g)] = g->lr;
    g->buf = tg__calloc((size_t)g->n_val + 1 + extra * TG__OPTIM_STATES, sizeof *g->buf);
    tg_status st = g->sc && g->buf && g->reads ? TG_OK : TG_ERR_NOMEM;
    if (st == TG_OK && g->opt && (st = bind_optimizer(g)) != TG_OK)
        return st;   /* its own message */
    if (st == TG_OK)
        st = build_steps(g);
    if (st == TG_OK)
        st = make_buffers(g);
    if (st == TG_OK)
        st = make_scratch(g);
    if (st != TG_OK)
        return tg__error(TG_ERR_NOMEM, "tg_graph_capture: out of memory planning the step");
    last_opaque = tg__graph_opaque_count(g) + 1;
    last_rowred = 1;
    for (int k = 0; k < g->n_rec; k++)
        last_rowred += g->rec[k].needed && g->rec[k].run == R_ROWRED;
    return TG_OK;
}

/* ------------------------------------------------------------ interpreter */

/* A span kernel call over nb points: the inputs in[], the outputs at out
** (REC_SPAN: out[0]; REC_SPAN_BWD: out[o], NULL where not wanted). */
static void call_span(const tg__grec *r, tg__kfn k, int64_t nb, const double *const *in, double *const *out)
{
    if (r->type == REC_SPAN) {
        void (*fwd)(int64_t, const double *const *, double *) = (void (*)(int64_t, const double *const *, double *))k;
        fwd(nb, in, out[0]);
    } else {
        void (*bwd)(int64_t, const double *const *, const double *, const double *, double *const *) =
            (void (*)(int64_t, const double *const *, const double *, const double *, double *const *))k;
        bwd(nb, in, in[r->n_in - 2], in[r->n_in - 1], out);
    }
}

/* A span record on scalars: its kernel on one point. */
static void run_span_scalar(tg_graph *g, const tg__grec *r)
{
    const double *in[TG_MAX_FN_ARITY];
    double *out[TG_MAX_FN_ARITY];
    for (int i = 0; i < r->n_in; i++)
        in[i] = &g->sc[tg__graph_root(g, r->in[i])];
    for (int o = 0; o < r->n_out; o++)
        out[o] = r->out[o] >= 0 ? &g->sc[r->out[o]] : NULL;
    call_span(r, g->kfn[r - g->rec], 1, in, out);
}

/* A record whose inputs are all one element or broadcast scalars. */
static void run_scalar(tg_graph *g, const tg__grec *r)
{
    if (r->type == REC_SPAN || r->type == REC_SPAN_BWD) {
        run_span_scalar(g, r);
        return;
    }
    const tg__gval *in = &g->val[tg__graph_root(g, r->in[0])];
    double a = g->sc[tg__graph_root(g, r->in[0])], y;
    if (r->desc->kind == TG__OPK_POINT) {
        double x[TG_MAX_FN_ARITY];
        for (int i = 0; i < r->n_in; i++)
            x[i] = g->sc[tg__graph_root(g, r->in[i])];
        y = r->desc->point(x, r->args, g->op_scratch);
    } else if (r->desc->kind == TG__OPK_SUM) {
        y = in->kind == V_UNIF ? a * (double)in->numel : a;
    } else {
        y = a;   /* mean, broadcast or view of a scalar */
    }
    g->sc[r->out[0]] = y;
}

static void optimizer_block(tg_graph *g, int i, int64_t lo, int64_t nb, double *p, const double *d);

/* A worker's scratch: block arrays, a fill block and gather blocks, and the ops' own. */
typedef struct work { double *blocks, *fill, *gather, *op; } work;

/* Elementwise record over one block of nb points into out; an input read
** through an index map is gathered into a block array first (expand: into out). */
static void run_elem(tg_graph *g, const work *wk, const tg__grec *r, int64_t lo, int64_t nb, double *out)
{
    const double *x[TG_MAX_FN_ARITY] = {0};
    int64_t inc[TG_MAX_FN_ARITY];
    if (r->desc->kind == TG__OPK_EXPAND) {
        tg__imap_gather(&r->imap[0], g->buf[tg__graph_root(g, r->in[0])], lo, nb, out);
        return;
    }
    double *gb = wk->gather;
    for (int i = 0; i < r->n_in; i++) {
        int v = tg__graph_root(g, r->in[i]);
        const tg__gval *val = &g->val[v];
        inc[i] = 1;
        if (r->bcast >> i & 1u) {
            tg__imap_gather(&r->imap[i], val->buf, lo, nb, gb);
            x[i] = gb;
            gb += g->block;
        } else if (val->kind == V_ELEM && g->slot[v] >= 0) {
            x[i] = wk->blocks + g->slot[v] * g->block;
        } else if (val->kind == V_BUF || val->kind == V_ELEM) {
            x[i] = val->buf + lo;   /* (a V_ELEM an earlier pass stored: shared) */
        } else {
            x[i] = &g->sc[v], inc[i] = 0;
        }
    }
    r->desc->block(nb, x, inc, r->args, out, wk->op);
}

/* R_SMALL: an elementwise record (or expand) on whole buffers of fewer than N elements. */
static void run_small(tg_graph *g, const tg__grec *r)
{
    const double *x[TG_MAX_FN_ARITY] = {0};
    int64_t inc[TG_MAX_FN_ARITY], m = g->val[r->out[0]].numel;
    double *out = g->buf[r->out[0]], *gb = r->gtmp;
    if (m == 0)
        return;
    for (int i = 0; i < r->n_in; i++) {
        int v = tg__graph_root(g, r->in[i]);
        const tg__gval *val = &g->val[v];
        inc[i] = 1;
        if (r->bcast >> i & 1u) {
            tg__imap_gather(&r->imap[i], val->buf, 0, m, gb);
            x[i] = gb;
            gb += m;
        } else if (val->kind == V_BUF) {
            x[i] = val->buf;
        } else {
            x[i] = &g->sc[v], inc[i] = 0;
        }
    }
    if (r->desc->kind == TG__OPK_EXPAND) {
        if (inc[0])
            memcpy(out, x[0], (size_t)m * sizeof *out);
        else
            tg__kern()->fill(m, x[0][0], out);
    } else {
        r->desc->block(m, x, inc, r->args, out, g->op_scratch);
    }
}

static double *block_of(tg_graph *g, const work *wk, int v, int64_t lo)
{
    v = tg__graph_root(g, v);
    return g->val[v].kind == V_ELEM && g->slot[v] >= 0 ? wk->blocks + g->slot[v] * g->block : g->val[v].buf + lo;
}

/* Elem e of the pass, a span record, over one block: scalar inputs filled
** into the block arrays after the pass's values. */
static void run_span_block(tg_graph *g, const work *wk, const tg__pass *ps, int e, int64_t lo, int64_t nb)
{
    const tg__grec *r = &g->rec[g->val[ps->elem[e]].producer];
    const double *in[TG_MAX_FN_ARITY];
    double *out[TG_MAX_FN_ARITY], *fill = wk->blocks + (int64_t)ps->n_elem * g->block;
    uint32_t mask = ps->span_mask[e];
    if (!mask)
        return;   /* computed with an earlier output of the same call */
    for (int i = 0; i < r->n_in; i++) {
        int v = tg__graph_root(g, r->in[i]);
        if (scalar_kind(g, v)) {
            for (int64_t j = 0; j < nb; j++)
                fill[j] = g->sc[v];
            in[i] = fill;
            fill += g->block;
        } else {
            in[i] = block_of(g, wk, v, lo);
        }
    }
    for (int o = 0; o < r->n_out; o++)
        out[o] = mask >> o & 1u ? block_of(g, wk, r->out[o], lo) : NULL;
    call_span(r, g->kfn[r - g->rec], nb, in, out);
}

/* One block of the pass (its values' slots set) with a worker's scratch. */
static void interp_block(tg_graph *g, const work *wk, const tg__pass *ps, double *part, int64_t lo, int64_t hi)
{
    int64_t nb = hi - lo;
    for (int e = 0; e < ps->n_elem; e++) {
        const tg__grec *r = &g->rec[g->val[ps->elem[e]].producer];
        if (r->type == REC_SPAN || r->type == REC_SPAN_BWD)
            run_span_block(g, wk, ps, e, lo, nb);
        else
            run_elem(g, wk, r, lo, nb, wk->blocks + (int64_t)e * g->block);
    }
    for (int r = 0; r < ps->n_red; r++)
        part[r] = tg__kern()->sum(nb, block_of(g, wk, g->rec[ps->red[r]].in[0], lo));
    for (int s = 0; s < ps->n_store; s++)
        memcpy(g->val[ps->store[s]].buf + lo, block_of(g, wk, ps->store[s], lo), (size_t)nb * sizeof(double));
    for (int u = 0; u < ps->n_upd; u++) {
        double *p = g->buf[g->pval[ps->upd[u]]] + lo;
        const double *d = block_of(g, wk, g->gval[ps->upd[u]], lo);
        if (g->opt) {
            optimizer_block(g, ps->upd[u], lo, nb, p, d);
            continue;
        }
        for (int64_t i = 0; i < nb; i++)
            p[i] -= g->lr * d[i];
    }
}

/* Block partials combined in a fixed pairwise tree. */
static double tree(const double *part, int stride, int64_t lo, int64_t hi)
{
    if (hi - lo <= 0)
        return 0.0;
    if (hi - lo == 1)
        return part[lo * stride];
    int64_t mid = lo + (hi - lo) / 2;
    return tree(part, stride, lo, mid) + tree(part, stride, mid, hi);
}

/* The calling worker's scratch: its block arrays, fill block and gathers. */
static work worker_scratch(const tg_graph *g)
{
    int w = tg__par_worker();
    double *base = g->scratch + w * g->scratch_stride;
    return (work){base, base + g->gather_off, base + g->gather_off + g->block, g->op_scratch + w * g->op_stride};
}

/* The interpreter's slots of pass ps's values (on), or none again (off): a
** value without one is read from its buffer (a shared value, share_values). */
static void bind_slots(tg_graph *g, const tg__pass *ps, bool on)
{
    for (int e = 0; e < ps->n_elem; e++)
        g->slot[ps->elem[e]] = on ? e : -1;
}

typedef struct pass_job { tg_graph *g; const tg__pass *ps; } pass_job;

/* Blocks [b0, b1) of a pass on the calling worker, each block's partial sums
** in its own slot: the result is the same whichever thread runs a block. */
static void run_blocks(void *ctx, int64_t b0, int64_t b1)
{
    const pass_job *j = ctx;
    tg_graph *g = j->g;
    const tg__pass *ps = j->ps;
    work wk = worker_scratch(g);
    for (int64_t b = b0; b < b1; b++) {
        int64_t lo = b * g->block, hi = lo + g->block < g->n ? lo + g->block : g->n;
        if (ps->compiled)
            ps->compiled(g->buf, g->sc, ps->part + b * ps->n_red, lo, hi, g->kfn, wk.blocks);
        else
            interp_block(g, &wk, ps, ps->part + b * ps->n_red, lo, hi);
    }
}

/* A pass over all blocks, split over the kernel threads when N is large
** (never more than the workers the plan has scratch for), then its sums. */
static void run_pass(tg_graph *g, const tg__pass *ps)
{
    int64_t n = g->n, nblocks = (n + g->block - 1) / g->block;
    int team = tg__par_team(n);
    team = team < g->n_workers ? team : g->n_workers;
    if (!ps->compiled)
        bind_slots(g, ps, true);
    pass_job job = {g, ps};
    tg__par_run(team, nblocks, 1, run_blocks, &job);
    bind_slots(g, ps, false);
    for (int r = 0; r < ps->n_red; r++) {
        const tg__grec *rec = &g->rec[ps->red[r]];
        double s = tree(ps->part + r, ps->n_red, 0, nblocks);
        if (rec->desc->kind == TG__OPK_MEAN)
            s /= (double)g->val[tg__graph_root(g, rec->in[0])].numel;
        g->sc[rec->out[0]] = s;
    }
}

/* --------------------------------------------------------- row reductions */

/* A row of the last dim longer than this is summed in chunks of this many
** points (sum kernel), folded in order: the chunks do not depend on the
** plan's block (a multiple of it), so neither does the result. */
enum { ROW_CHUNK = TG__GRAPH_SPAN_BLOCK };
_Static_assert(TG__GRAPH_BLOCK % ROW_CHUNK == 0 && TG__GRAPH_SPAN_BLOCK % ROW_CHUNK == 0, "whole chunks");

typedef struct rowred_job {
    tg_graph *g;
    const tg__pass *ps;
    const tg__grec *r;
    int fold;          /* 0 sum, 1 max, 2 min */
    double *out;
    int64_t per;       /* last dim: rows per task (0: one row over several blocks) */
    int64_t ntile;     /* inner > block: tiles of block points per outer index */
} rowred_job;

/* The reduction's input at points [lo, lo + nb): the pass's values computed there. */
static const double *red_input(tg_graph *g, const work *wk, const tg__pass *ps, int v, int64_t lo, int64_t nb)
{
    if (ps->compiled) {   /* the input is computed in the pass: its block into the fill block */
        ps->compiled(g->buf, g->sc, wk->fill, lo, lo + nb, g->kfn, wk->blocks);
        return wk->fill;
    }
    interp_block(g, wk, ps, NULL, lo, lo + nb);
    v = tg__graph_root(g, v);
    const tg__gval *x = &g->val[v];
    if (x->kind == V_ELEM && g->slot[v] >= 0)
        return wk->blocks + g->slot[v] * g->block;
    if (x->kind == V_BUF || x->kind == V_ELEM)
        return x->buf + lo;
    tg__kern()->fill(nb, g->sc[v], wk->fill);
    return wk->fill;
}

/* max (min): NaN wins, then the first of equal values (eager's scan) */
static inline double fold_ext(double m, double v, bool mx)
{
    return isnan(m) ? m : isnan(v) || (mx ? v > m : v < m) ? v : m;
}

/* y[i] = fold(y[i], x[i]) over n points (first: y = x; sums start from 0) */
static void fold_into(int fold, bool first, int64_t n, const double *x, double *y)
{
    if (fold == 0)
        tg__kern()->acc(n, x, y);
    else if (first)
        memcpy(y, x, (size_t)n * sizeof *y);
    else
        for (int64_t i = 0; i < n; i++)
            y[i] = fold_ext(y[i], x[i], fold == 1);
}

/* The fold of n contiguous points into acc (a sum: in chunks of ROW_CHUNK). */
static double fold_run(int fold, bool first, double acc, int64_t n, const double *x)
{
    if (fold == 0) {
        for (int64_t c = 0; c < n; c += ROW_CHUNK)
            acc += tg__kern()->sum(n - c < ROW_CHUNK ? n - c : ROW_CHUNK, x + c);
        return acc;
    }
    for (int64_t i = 0; i < n; i++)
        acc = first && i == 0 ? x[0] : fold_ext(acc, x[i], fold == 1);
    return acc;
}

/* Tasks [t0, t1) of a row reduction: each owns whole output rows and folds
** their points in order, so the result is the same on any thread. */
static void rowred_tasks(void *ctx, int64_t t0, int64_t t1)
{
    const rowred_job *j = ctx;
    tg_graph *g = j->g;
    const tg__grec *r = j->r;
    work wk = worker_scratch(g);
    int64_t len = r->red_len, inner = r->red_inner, B = g->block;
    int v = r->in[0], f = j->fold;
    for (int64_t t = t0; t < t1; t++) {
        if (inner == 1 && j->per > 0) {   /* whole rows of the last dim in one block */
            int64_t r0 = t * j->per, r1 = r0 + j->per < r->red_outer ? r0 + j->per : r->red_outer;
            const double *x = red_input(g, &wk, j->ps, v, r0 * len, (r1 - r0) * len);
            for (int64_t row = r0; row < r1; row++)   /* a sum: one kernel call, eager's order */
                j->out[row] = f == 0 ? 0.0 + tg__kern()->sum(len, x + (row - r0) * len)
                                     : fold_run(f, true, 0.0, len, x + (row - r0) * len);
        } else if (inner == 1) {          /* one long row, block by block */
            int64_t sb = B / ROW_CHUNK * ROW_CHUNK, end = (t + 1) * len;
            double acc = 0.0;
            for (int64_t lo = t * len; lo < end; lo += sb) {
                int64_t nb = end - lo < sb ? end - lo : sb;
                acc = fold_run(f, lo == t * len, acc, nb, red_input(g, &wk, j->ps, v, lo, nb));
            }
            j->out[t] = acc;
        } else if (j->ntile == 0) {       /* outer index t: whole inner runs, several k per block */
            int64_t kb = B / inner;
            double *y = j->out + t * inner;
            if (f == 0)
                memset(y, 0, (size_t)inner * sizeof *y);
            for (int64_t k0 = 0; k0 < len; k0 += kb) {
                int64_t kn = len - k0 < kb ? len - k0 : kb;
                const double *x = red_input(g, &wk, j->ps, v, (t * len + k0) * inner, kn * inner);
                for (int64_t k = 0; k < kn; k++)
                    fold_into(f, k0 + k == 0, inner, x + k * inner, y);
            }
        } else {                          /* a tile of one outer index's inner run */
            int64_t o = t / j->ntile, i0 = t % j->ntile * B, wd = inner - i0 < B ? inner - i0 : B;
            double *y = j->out + o * inner + i0;
            if (f == 0)
                memset(y, 0, (size_t)wd * sizeof *y);
            for (int64_t k = 0; k < len; k++)
                fold_into(f, k == 0, wd, red_input(g, &wk, j->ps, v, (o * len + k) * inner + i0, wd), y);
        }
    }
}

static void run_rowred(tg_graph *g, const tg__pass *ps)
{
    const tg__grec *r = &g->rec[ps->rowred];
    const tg__gval *out = &g->val[r->out[0]];
    int kind = r->desc->kind;
    rowred_job job = {g, ps, r, kind == TG__OPK_MAX ? 1 : kind == TG__OPK_MIN ? 2 : 0,
                      out->kind == V_SCAL ? &g->sc[r->out[0]] : out->buf, 0, 0};
    int64_t outer = r->red_outer, len = r->red_len, inner = r->red_inner, ntask;
    if (len == 0 || outer * inner == 0) {   /* an empty sum is 0, an empty mean NaN */
        tg__kern()->fill(outer * inner, job.fold || kind == TG__OPK_MEAN ? NAN : 0.0, job.out);
        return;
    }
    bind_slots(g, ps, true);
    if (inner == 1) {
        job.per = len <= g->block ? g->block / len : 0;
        ntask = job.per ? (outer + job.per - 1) / job.per : outer;
    } else if (inner <= g->block) {
        ntask = outer;
    } else {
        job.ntile = (inner + g->block - 1) / g->block;
        ntask = outer * job.ntile;
    }
    int team = tg__par_team(outer * len * inner);
    team = team < g->n_workers ? team : g->n_workers;
    tg__par_run(team, ntask, 1, rowred_tasks, &job);
    bind_slots(g, ps, false);
    if (kind == TG__OPK_MEAN)   /* to one element */
        job.out[0] /= (double)len;
}

/* ------------------------------------------------------------ opaque calls */

static tg_status copy_out(tg_graph *g, const tg__grec *r, int o, const tg_tensor *t)
{
    const tg__gval *v = &g->val[r->out[o]];
    if (!v->needed)
        return TG_OK;
    if (!t || t->numel != v->numel)
        return tg__error(TG_ERR_SHAPE, "tg_graph_replay: '%s' returned %s %d with %lld elements on "
                         "replay, %lld when captured", r->fn->name ? r->fn->name : "(unnamed)",
                         r->type == REC_BWD ? "gradient" : "output", o,
                         (long long)(t ? t->numel : 0), (long long)v->numel);
    if (v->kind == V_SCAL)
        g->sc[r->out[o]] = t->data[0];
    else
        memcpy(g->buf[r->out[o]], t->data, (size_t)v->numel * sizeof(double));
    return TG_OK;
}

static void fill_inputs(tg_graph *g, const tg__grec *r)
{
    for (int i = 0; i < r->n_in; i++) {
        int v = tg__graph_root(g, r->in[i]);
        const tg__gval *x = &g->val[v];
        if (x->kind == V_SCAL || x->kind == V_UNIF)
            for (int64_t j = 0; j < x->numel; j++)
                x->buf[j] = g->sc[v];
    }
}

static tg_status run_opaque_now(tg_graph *g, tg__grec *r);

/* An opaque call, its ops run at once: its results are read directly. */
static tg_status run_opaque(tg_graph *g, tg__grec *r)
{
    tg__run_now_depth++;
    tg_status st = run_opaque_now(g, r);
    tg__run_now_depth--;
    return st;
}

static tg_status run_opaque_now(tg_graph *g, tg__grec *r)
{
    tg_tensor *out[TG_MAX_FN_ARITY] = {0};
    tg_status st;
    fill_inputs(g, r);
    tg_scope_begin();
    if (r->type == REC_BWD) {
        tg__grec *f = &g->rec[r->fwd];
        tg__node *n = f->held->node;
        st = tg__node_backward("tg_graph_replay", n, r->proxy, out, false);
        for (int o = 0; st == TG_OK && o < r->n_out; o++)
            if (r->out[o] >= 0)
                st = copy_out(g, r, o, out[o]);
        tg__tensor_unref(f->held);
        f->held = NULL;
    } else {
        bool prev = tg_set_grad_enabled(true);
        st = tg_apply_args(r->fn, r->proxy, out, r->args, r->args_size);
        tg_set_grad_enabled(prev);
        for (int o = 0; st == TG_OK && o < r->n_out; o++)
            if (r->out[o] >= 0)
                st = copy_out(g, r, o, out[o]);
        if (st == TG_OK && r->has_bwd)
            r->held = tg__tensor_ref(out[0]);
    }
    tg_scope_end();
    return st;
}

/* ----------------------------------------------------------------- replay */

/* ---------------------------------------------- an optimizer's update (opt) */

/* Parameter i's update over elements [lo, lo + nb): the gradient at d, the
** state at lo. */
static void optimizer_block(tg_graph *g, int i, int64_t lo, int64_t nb, double *p, const double *d)
{
    double *st[TG__OPTIM_STATES];
    for (int b = 0; b < TG__OPTIM_STATES; b++) {
        double *base = g->buf[tg__graph_opt_state(g, i) + b];
        st[b] = base ? base + lo : NULL;
    }
    g->opt->kind->update->block(g->opt, &g->sc[tg__graph_opt_scalar(g, i)], nb, p, d, st);
}

/* This replay's update begins: every parameter's step count advances and its
** per-step scalars are written (before the pass that updates; after every
** call that may fail, so a failed replay leaves the optimizer as it was). */
static void optimizer_begin(tg_graph *g)
{
    for (int i = 0; i < g->n_params; i++)
        g->opt->kind->update->begin(g->opt, i, &g->sc[tg__graph_opt_scalar(g, i)]);
    g->opt_begun = true;
}

static void update_params(tg_graph *g)
{
    for (int i = 0; i < g->n_params; i++) {
        int gv = tg__graph_root(g, g->gval[i]);
        double *p = tg_data(g->param[i]);
        const tg__gval *x = &g->val[gv];
        if (x->kind == V_SCAL || x->kind == V_UNIF) {
            for (int64_t j = 0; j < g->param[i]->numel; j++)
                p[j] -= g->lr * g->sc[gv];
        } else if (x->kind == V_BUF) {
            for (int64_t j = 0; j < g->param[i]->numel; j++)
                p[j] -= g->lr * x->buf[j];
        }   /* V_ELEM: done by the update pass */
    }
}

/* The rest of the update, after the passes: each gradient made visible as
** the parameter's tg_grad (the graph's tensor, set once; written here when
** the plan holds it as a scalar or elsewhere), then the parameters whose
** gradient is not elementwise in the last pass (one element, a broadcast
** scalar, an opaque call's result) updated from it. */
static void optimizer_finish(tg_graph *g)
{
    if (!g->opt_begun)
        optimizer_begin(g);
    g->opt_begun = false;
    for (int i = 0; i < g->n_params; i++) {
        int gv = tg__graph_root(g, g->gval[i]);
        const tg__gval *x = &g->val[gv];
        tg_tensor *p = g->param[i], *d = g->grad[i];
        bool scalar = x->kind == V_SCAL || x->kind == V_UNIF;
        if (scalar)
            tg__kern()->fill(d->numel, g->sc[gv], d->data);
        else if (!g->grad_in_place[i])
            memcpy(d->data, g->buf[gv], (size_t)d->numel * sizeof(double));
        if (x->kind != V_ELEM)   /* a scalar's gradient from the tensor it was just written to */
            optimizer_block(g, i, 0, p->numel, p->data, scalar ? d->data : g->buf[gv]);
        if (p->grad != d) {
            tg__tensor_unref(p->grad);
            p->grad = tg__tensor_ref(d);
        }
    }
}

/* The optimizer's state as buffers of the plan (made now, so no replay
** allocates), and each gradient's buffer the tensor tg_grad will show where
** the plan makes it (not an outside tensor, not another parameter's). */
static tg_status bind_optimizer(tg_graph *g)
{
    const tg__optim_update *u = g->opt->kind->update;
    if (!(g->grad_in_place = tg__calloc((size_t)g->n_params, sizeof *g->grad_in_place)))
        return tg__error(TG_ERR_NOMEM, "tg_graph_capture_optim: out of memory");
    for (int i = 0; i < g->n_params; i++) {
        double *st[TG__OPTIM_STATES] = {0};
        int n_st = 0;
        if (u->state(g->opt, i, st, &n_st) != TG_OK)
            return tg_last_status();
        for (int b = 0; b < n_st; b++)
            g->buf[tg__graph_opt_state(g, i) + b] = st[b];
        tg__gval *x = &g->val[tg__graph_root(g, g->gval[i])];
        if (x->producer >= 0 && (x->kind == V_ELEM || x->kind == V_BUF) && !x->buf) {
            x->buf = g->grad[i]->data;
            g->grad_in_place[i] = true;
        }
    }
    return TG_OK;
}

tg_status tg__graph_run(tg_graph *g)
{
    for (int i = 0; i < g->n_reads; i++)
        g->sc[g->reads[i]] = g->val[g->reads[i]].ext->data[0];
    tg_status st = TG_OK;
    for (int s = 0; s < g->n_step && st == TG_OK; s++) {
        const tg__step *sp = &g->step[s];
        if (sp->kind == S_SCALAR)
            run_scalar(g, &g->rec[sp->index]);
        else if (sp->kind == S_OPAQUE)
            st = run_opaque(g, &g->rec[sp->index]);
        else if (sp->kind == S_SMALL)
            run_small(g, &g->rec[sp->index]);
        else if (sp->kind == S_ROWRED)
            run_rowred(g, &g->pass[sp->index]);
        else {
            if (g->opt && g->pass[sp->index].n_upd)
                optimizer_begin(g);   /* the last pass updates */
            run_pass(g, &g->pass[sp->index]);
        }
    }
    for (int s = 0; s < g->n_step; s++) {   /* only opaque calls hold a forward's output */
        tg__grec *r = &g->rec[g->step[s].index];
        if (g->step[s].kind == S_OPAQUE && r->held) {
            tg__tensor_unref(r->held);
            r->held = NULL;
        }
    }
    return st;
}

void tg__graph_bind(tg_graph *g, int v, tg_tensor *t)
{
    tg__gval *x = &g->val[v];
    if (x->kept) {
        tg__tensor_unref(x->ext);
        x->kept = false;
    }
    x->ext = t;
    if (x->kind != V_BUF || x->buf == t->data)
        return;
    x->buf = t->data;   /* another tensor's data: every value and proxy reading it follows */
    for (int w = 0; w < g->n_val; w++)
        g->buf[w] = g->val[tg__graph_root(g, w)].buf;
    for (int k = 0; k < g->n_rec; k++)
        for (int i = 0; i < g->rec[k].n_in && g->rec[k].proxy[i]; i++)
            g->rec[k].proxy[i]->data = g->buf[g->rec[k].in[i]];
}

int tg__graph_opaque_count(const tg_graph *g)
{
    int n = 0;
    for (int k = 0; g && k < g->n_rec; k++)
        n += g->rec[k].needed && g->rec[k].run == R_OPAQUE;
    return n;
}

double tg__graph_scalar(const tg_graph *g, int v)
{
    int r = tg__graph_root(g, v);
    const tg__gval *x = &g->val[r];
    return x->kind == V_SCAL || x->kind == V_UNIF ? g->sc[r] : x->constant ? x->cval : g->buf[r][0];
}

const double *tg__graph_buffer(const tg_graph *g, int v) { return g->buf[tg__graph_root(g, v)]; }

tg_status tg_graph_replay(tg_graph *g, double *loss)
{
    if (!g)
        return tg__error(TG_ERR_ARG, "tg_graph_replay: g is NULL");
    tg__lazy_sync();   /* the replay reads inputs and writes parameters */
    tg_status st = tg__graph_run(g);
    if (st != TG_OK)
        return st;
    if (g->opt)
        optimizer_finish(g);
    else
        update_params(g);
    if (loss)
        *loss = g->sc[tg__graph_root(g, g->loss)];
    return TG_OK;
}
