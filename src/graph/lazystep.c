/* SPDX-License-Identifier: MIT */
/*
** Lazy mode's fused training steps.  tg_backward on a loss that a pending
** lazy trace makes (autograd/lazy.c) comes here first.  The trace's key (its
** records' descriptors and Functions, their arguments, the shapes, and where
** every input comes from) is looked up in this thread's plan cache:
**   hit   the cached plan runs with the step's own tensors bound to its
**         outside values (parameters, data, the tg_scalar constants, read as
**         arguments, never as literals): the forward, the backward and the
**         gradients in fused passes, compiled or interpreted; the gradients
**         are added to the leaves' tg_grad and the loss gets its value.  The
**         trace's other records become dormant: computed only if read.
**   miss  the trace's values are computed, its records and the backward are
**         recorded as tg_graph_capture records a step (a user Function made
**         of ops is inlined: its forward's ops and its backward's), the
**         gradients are added from that backward, and the plan is made,
**         compiled and cached.
** A trace the engine cannot plan (a user Function whose backward reads values
** or is not made of ops after an inlined forward; an outside tensor that
** requires grad but is not a leaf; retain_grad inside it; a leaf whose
** gradient is a constant no op of the plan makes) is left to the
** executor; its key is remembered so the next step does not try again.  The
** cache holds TG__LAZY_PLANS plans per thread, the oldest dropped first.
** Engine layer: sets autograd's tg__lazy_backward when the library loads.
*/
#include "capture.h"
#include "../kernels/kernels.h"

#include <pthread.h>
#include <string.h>

#define TG__LAZY_PLANS 32

typedef struct plan_entry {
    uint64_t *key;
    int n_key;
    int32_t root;              /* the loss's place in the trace (its lazy_idx) */
    tg_graph *g;               /* NULL: not planned, left to the executor */
    int n_map;
    int *map_val, *map_ext;    /* g's outside value map_val[i] is the trace's outside tensor map_ext[i] */
    int *leaf_ext;             /* per parameter of g: the trace's outside tensor */
    uint64_t used;
} plan_entry;

static _Thread_local plan_entry cache[TG__LAZY_PLANS];
static _Thread_local int n_cache;
static _Thread_local uint64_t clock_;
static _Thread_local unsigned long stats[2];   /* hits, misses (tests read them) */

static void entry_free(plan_entry *e)
{
    tg_graph_free(e->g);
    tg__free(e->key), tg__free(e->map_val), tg__free(e->map_ext), tg__free(e->leaf_ext);
    memset(e, 0, sizeof *e);
}

static void cache_clear(void)
{
    for (int i = 0; i < n_cache; i++)
        entry_free(&cache[i]);
    n_cache = 0;
}

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static void cache_exit(void *arg)
{
    (void)arg;
    cache_clear();
}
static void make_cache_key(void)
{
    pthread_key_create(&cache_key, cache_exit);
    tg__on_release_memory(cache_clear);
}

static plan_entry *lookup(const tg__lazy_trace *t, int32_t root)
{
    for (int i = 0; i < n_cache; i++) {
        plan_entry *e = &cache[i];
        if (e->n_key == t->n_key && e->root == root &&
            !memcmp(e->key, t->key, (size_t)t->n_key * sizeof *t->key)) {
            e->used = ++clock_;
            return e;
        }
    }
    return NULL;
}

static plan_entry *new_entry(const tg__lazy_trace *t, int32_t root)
{
    if (!n_cache) {
        pthread_once(&cache_once, make_cache_key);
        pthread_setspecific(cache_key, &cache_key);
    }
    plan_entry *e = &cache[n_cache < TG__LAZY_PLANS ? n_cache++ : 0];
    if (e->key) {   /* full: the least recently used goes */
        for (int i = 1; i < TG__LAZY_PLANS; i++)
            if (cache[i].used < e->used)
                e = &cache[i];
        entry_free(e);
    }
    if (!(e->key = tg__malloc((size_t)t->n_key * sizeof *e->key + 1)))
        return NULL;
    memcpy(e->key, t->key, (size_t)t->n_key * sizeof *t->key);
    e->n_key = t->n_key;
    e->root = root;
    e->used = ++clock_;
    return e;
}

/* The trace's outside tensors that require grad, if every one is a leaf. */
static int leaves_of(const tg__lazy_trace *t, tg_tensor **leaves, int *idx)
{
    int n = 0;
    for (int e = 0; e < t->n_ext; e++) {
        tg_tensor *x = t->ext[e];
        if (!x->requires_grad)
            continue;
        if (x->node && x->node->fn)
            return -1;   /* made by recorded ops outside the trace: the executor goes on from it */
        leaves[n] = x, idx[n++] = e;
    }
    return n;
}

/* No record node keeps its output's gradient (tg_retain_grad) or is watched
** by anomaly mode: then the plan may stand for the executor. */
static bool plain(const tg__lazy_trace *t)
{
    for (int k = 0; k < t->n_rec; k++)
        for (int o = 0; o < t->rec[k].n_out; o++) {
            const tg__node *n = t->rec[k].out[o]->node;
            if (n && n->fn && n->leaf)
                return false;
        }
    return true;
}

/* A gradient to add to a leaf's tg_grad: n doubles at g (inc 1) or one value. */
typedef struct deposit {
    tg_tensor *leaf;
    const double *g;
    double one;
    int inc;
    tg_tensor *fresh;          /* a new gradient tensor, made before anything is added */
} deposit;

/* Adds every gradient, as the executor's deposit does (in place when the
** gradient is a plain tensor, else into a new one), or none: the tensors
** are all made first, then the additions cannot fail. */
static tg_status deposit_all(deposit *d, int n)
{
    for (int i = 0; i < n; i++) {
        tg_tensor *old = d[i].leaf->grad;
        d[i].fresh = NULL;
        if (old && !old->requires_grad && !old->node)
            continue;
        if (!(d[i].fresh = tg__tensor_new("tg_backward", d[i].leaf->ndim, d[i].leaf->shape))) {
            for (int j = 0; j < i; j++)
                tg__tensor_unref(d[j].fresh);
            return tg_last_status();
        }
    }
    for (int i = 0; i < n; i++) {
        tg_tensor *leaf = d[i].leaf, *old = leaf->grad;
        const double *g = d[i].inc ? d[i].g : &d[i].one;
        int64_t m = leaf->numel;
        if (d[i].fresh) {
            for (int64_t j = 0; j < m; j++)
                d[i].fresh->data[j] = old ? old->data[j] + g[j * d[i].inc] : g[j * d[i].inc];
            tg__tensor_unref(old);
            leaf->grad = d[i].fresh;
        } else if (d[i].inc) {
            tg__kern()->acc(m, g, old->data);
        } else {
            for (int64_t j = 0; j < m; j++)
                old->data[j] += g[0];
        }
    }
    return TG_OK;
}

/* After the step: the graph's saved tensors are freed, as a backward without
** retain_graph frees them. */
static void release_nodes(const tg__lazy_trace *t)
{
    for (int k = 0; k < t->n_rec; k++) {
        tg__node *n = t->rec[k].out[0]->node;
        if (n && n->fn == t->rec[k].fn && !n->released) {
            tg__node_release_saved(n);
            n->released = true;
        }
    }
}

static tg_status run_hit(plan_entry *e, tg__lazy_trace *t, tg_tensor *root)
{
    tg_graph *g = e->g;
    for (int i = 0; i < e->n_map; i++)
        tg__graph_bind(g, e->map_val[i], t->ext[e->map_ext[i]]);
    tg_status st = tg__graph_run(g);
    if (st == TG_OK) {
        root->data[0] = tg__graph_scalar(g, g->loss);
        t->rec[tg__lazy_rec_of(root)].done = true;
        deposit d[TG_MAX_FN_ARITY * 8];
        for (int i = 0; i < g->n_params; i++) {
            const tg__gval *x = &g->val[tg__graph_root(g, g->gval[i])];
            d[i].leaf = t->ext[e->leaf_ext[i]];
            d[i].inc = x->kind == V_BUF || x->store;
            d[i].g = d[i].inc ? tg__graph_buffer(g, g->gval[i]) : NULL;
            d[i].one = d[i].inc ? 0.0 : tg__graph_scalar(g, g->gval[i]);
        }
        st = deposit_all(d, g->n_params);
    }
    for (int i = 0; i < e->n_map; i++)
        g->val[e->map_val[i]].ext = NULL;   /* the step's tensors are not the plan's */
    release_nodes(t);
    tg__lazy_trace_dormant(t);
    return st;
}

/* The plan's outside values, matched with the trace's outside tensors: 1,
** 0 when one comes from nowhere in the trace, -1 out of memory. */
static int map_values(plan_entry *e, const tg__lazy_trace *t, const int *leaf_idx, tg_graph *g)
{
    e->map_val = tg__calloc((size_t)g->n_val + 1, sizeof *e->map_val);
    e->map_ext = tg__calloc((size_t)g->n_val + 1, sizeof *e->map_ext);
    e->leaf_ext = tg__calloc((size_t)g->n_params + 1, sizeof *e->leaf_ext);
    if (!e->map_val || !e->map_ext || !e->leaf_ext)
        return -1;
    for (int v = 0; v < g->n_val; v++) {
        tg__gval *x = &g->val[v];
        if (x->producer >= 0 || !x->needed || x->constant || !x->ext)
            continue;
        int at = -1;
        for (int i = 0; i < t->n_ext && at < 0; i++)
            if (t->ext[i] == x->ext || (t->ext[i]->data == x->key && x->key))
                at = i;
        if (at < 0) {
            if (x->ext->lazy_role & TG__LZ_CONST)
                continue;   /* a constant its backward made: the plan keeps it */
            return 0;
        }
        e->map_val[e->n_map] = v, e->map_ext[e->n_map++] = at;
    }
    for (int i = 0; i < g->n_params; i++) {
        e->leaf_ext[i] = leaf_idx[g->leaf_of[i]];
        tg__tensor_unref(g->param[i]);   /* the step's leaves are bound at each run */
        g->param[i] = NULL;
    }
    for (int i = 0; i < e->n_map; i++) {
        tg__gval *x = &g->val[e->map_val[i]];
        if (x->kept)
            tg__tensor_unref(x->ext);
        x->kept = false;
        x->ext = NULL;
    }
    return 1;
}

/* Whether each leaf the loss reaches through the graph gets its gradient from
** g.  A backward may return a constant that is no value of the plan (tg_pow's
** for exponent 0 is zeros, made by no op), and eager mode still adds it.  A
** leaf no recorded op reads is no value of g and is not reached (every node
** between the loss and the leaves is the trace's: leaves_of). */
static bool plans_every_reached_leaf(const tg_graph *g, tg_tensor *root, int n_leaf, tg_tensor **leaves)
{
    for (int i = 0; i < n_leaf; i++) {
        bool planned = false, read = false;
        for (int p = 0; p < g->n_params && !planned; p++)
            planned = g->leaf_of[p] == i;
        for (int v = 0; v < g->n_val && !planned && !read; v++)
            read = g->val[v].key == leaves[i]->data && g->val[v].producer < 0;
        if (read && tg__node_reaches(root->node, leaves[i]->node))
            return false;
    }
    return true;
}

static tg_status run_miss(tg__lazy_trace *t, tg_tensor *root, int n_leaf, tg_tensor **leaves, const int *leaf_idx)
{
    tg__lazy_trace_save(t);   /* the capture runs the records' backwards */
    tg__lazy_trace_compute(t);
    int depth = tg__scope_depth();
    tg_scope_begin();
    tg_tensor *grads[TG_MAX_FN_ARITY * 8];
    tg_status st;
    bool never;
    tg_graph *g = tg__graph_capture_trace(t, root, n_leaf, leaves, grads, &st, &never);
    if (g && !plans_every_reached_leaf(g, root, n_leaf, leaves)) {
        tg_graph_free(g);   /* a gradient the plan cannot make: the executor's, from now on */
        g = NULL;
        never = true;
    }

    plan_entry *e = st == TG_OK && (g || never) ? new_entry(t, root->lazy_idx) : NULL;
    int mapped = e && g ? map_values(e, t, leaf_idx, g) : 0;
    if (e && g && mapped > 0) {
        tg__graph_compile_passes(g);   /* only a plan that will run is compiled */
        e->g = g;
    } else {
        tg_graph_free(g);
        if (e && g)
            entry_free(e);   /* out of memory (-1), or a value from nowhere in the trace (0) */
        if (mapped == 0 && e && g && (e = new_entry(t, root->lazy_idx)))
            e->g = NULL;     /* not planned, from now on */
        if ((st == TG_OK && (g || never) && !e) || mapped < 0)   /* the step stands; the failure is told */
            tg__error(TG_ERR_NOMEM, "tg_backward: out of memory caching the step's plan (lazy mode)");
    }
    deposit d[TG_MAX_FN_ARITY * 8];
    int n_dep = 0;
    for (int i = 0; st == TG_OK && i < n_leaf; i++) {
        bool reached = false;   /* as eager: only leaves the loss depends on get a gradient */
        if (e && e->g)
            for (int p = 0; p < e->g->n_params; p++)
                reached = reached || e->leaf_ext[p] == leaf_idx[i];
        else
            reached = tg__node_reaches(root->node, leaves[i]->node);
        if (reached)
            d[n_dep++] = (deposit){.leaf = leaves[i], .g = grads[i]->data, .inc = 1};
    }
    if (st == TG_OK)
        st = deposit_all(d, n_dep);
    tg__scope_end_to(depth);
    release_nodes(t);
    tg__lazy_trace_release(t);
    return st;
}

static bool lazy_backward(tg_tensor *root, tg_status *st)
{
    tg__lazy_trace *p = tg__lazy_pending();
    if (!p || !p->grad || root->numel != 1 || !root->requires_grad || !plain(p))
        return false;
    tg_tensor *leaves[TG_MAX_FN_ARITY * 8];
    int idx[TG_MAX_FN_ARITY * 8];
    if (p->n_ext > TG_MAX_FN_ARITY * 8)
        return false;
    int n_leaf = leaves_of(p, leaves, idx);
    if (n_leaf <= 0)
        return false;
    plan_entry *e = lookup(p, root->lazy_idx);
    if (e && !e->g)
        return false;   /* not planned: the executor */
    tg__lazy_trace t;
    tg__lazy_detach(&t);
    stats[e ? 0 : 1]++;
    *st = e ? run_hit(e, &t, root) : run_miss(&t, root, n_leaf, leaves, idx);
    return true;
}

void tg__lazy_step_stats(unsigned long *hits, unsigned long *misses)
{
    *hits = stats[0];
    *misses = stats[1];
}

__attribute__((constructor)) static void install(void) { tg__lazy_backward = lazy_backward; }
