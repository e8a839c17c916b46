/* SPDX-License-Identifier: MIT */
/*
** The graph executor: reverse-mode differentiation over the nodes tg_apply
** recorded.  It orders the nodes (iterative depth-first post-order, so deep
** graphs do not recurse), prunes those that lead to no wanted gradient, calls
** each node's Function backward in reverse topological order inside a scope of
** its own, and sums gradients arriving at the same place.  Leaf gradients and
** retained ones (tg_retain_grad) are added only once every backward
** succeeded.  It holds no op-specific code: gradient sums go through
** tg__grad_add (tg_add, which the ops layer installs) or the acc kernel.
*/
#include "graph.h"
#include "../kernels/kernels.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

tg__grad_add_fn *tg__grad_add;   /* set by src/ops/elementwise.c when the library loads */

/* Run ids: a per-thread counter under a per-thread base, so no two runs share
** an id and starting a backward needs no atomic operation. */
static atomic_llong next_thread_base;
static _Thread_local int64_t run_counter TG_TLS_HOT;

static int64_t next_run_id(void)
{
    if (run_counter == 0)
        run_counter = atomic_fetch_add(&next_thread_base, 1) << 40 | 1;
    return run_counter++;
}

/* Working arrays of one backward, kept per thread and reused so a training
** step in steady state allocates nothing here.  A backward run from inside a
** backward (a Function that differentiates something itself) uses the next
** frame; past MAX_NEST the frame is made and freed for that run alone. */
typedef struct dfs_frame { tg__node *node; int next; } dfs_frame;
typedef struct entry {
    tg__node *node;
    int64_t buf_off;           /* its first gradient slot in bufs */
    bool needed;               /* leads to a wanted gradient */
} entry;
typedef struct scratch {
    entry *order;
    dfs_frame *stack;
    tg_tensor **bufs;          /* NULL beyond the slots of the running backward */
    int64_t order_cap, stack_cap, bufs_cap;
} scratch;

#define MAX_NEST 8
static _Thread_local scratch *frames[MAX_NEST] TG_TLS_HOT;
static _Thread_local int nest TG_TLS_HOT;
static pthread_key_t frames_key;
static pthread_once_t frames_once = PTHREAD_ONCE_INIT;

static void scratch_free(scratch *s)
{
    if (!s)
        return;
    tg__free(s->order);
    tg__free(s->stack);
    tg__free(s->bufs);
    tg__free(s);
}

/* The implied gradient of a one-element root: a tensor of 1.0 kept per
** thread and handed out while nothing but this cache holds it (see unit_seed). */
static _Thread_local tg_tensor *seed_cache TG_TLS_HOT;

static void drop_seed(void)
{
    tg__tensor_unref(seed_cache);
    seed_cache = NULL;
}

static void frames_exit(void *arg)
{
    scratch **f = arg;
    for (int i = 0; i < MAX_NEST; i++) {
        scratch_free(f[i]);
        f[i] = NULL;
    }
    drop_seed();
    tg__obj_flush();   /* the seed's block, should the cache's own exit hook have run first */
}

/* tg_release_memory: the calling thread's frames, unless a backward is running */
static void frames_release(void)
{
    if (nest == 0)
        frames_exit(frames);
}

static void make_frames_key(void)
{
    pthread_key_create(&frames_key, frames_exit);
    tg__on_release_memory(frames_release);
}

static scratch *scratch_acquire(void)
{
    scratch *s;
    if (nest >= MAX_NEST) {
        s = tg__calloc(1, sizeof(scratch));
    } else {
        if (!frames[nest] && (frames[nest] = tg__calloc(1, sizeof(scratch)))) {
            pthread_once(&frames_once, make_frames_key);
            pthread_setspecific(frames_key, frames);
        }
        s = frames[nest];
    }
    if (s)
        nest++;
    return s;
}

static void scratch_release(scratch *s)
{
    if (--nest >= MAX_NEST)
        scratch_free(s);
}

/* Makes *p hold at least need elements of size elem. */
static bool grow_slow(void *p, int64_t *cap, int64_t need, size_t elem)
{
    int64_t c = *cap * 2 > need ? *cap * 2 : need + 16;
    void *q = tg__realloc(*(void **)p, (size_t)c * elem);
    if (!q)
        return false;
    *(void **)p = q;
    *cap = c;
    return true;
}

static inline bool grow(void *p, int64_t *cap, int64_t need, size_t elem)
{
    return need <= *cap || grow_slow(p, cap, need, elem);
}

/* The gradient slots, grown with the new ones NULL. */
static bool grow_bufs(scratch *s, int64_t need)
{
    int64_t old = s->bufs_cap;
    if (need <= old)
        return true;
    if (!grow_slow(&s->bufs, &s->bufs_cap, need, sizeof *s->bufs))
        return false;
    memset(s->bufs + old, 0, (size_t)(s->bufs_cap - old) * sizeof *s->bufs);
    return true;
}

/* A uniform gradient (a sum's or mean's, held as its one value) spread over
** its elements, for anything but a backward that takes it as it is. */
static tg_status spread(tg_tensor *t)
{
    double v;
    if (!t || !t->uniform)
        return TG_OK;
    if (!tg__tensor_spread(t, &v))
        return tg_last_status();
    tg__kern()->fill(t->numel, v, t->data);
    return TG_OK;
}

typedef struct run {
    const char *fname;           /* "tg_backward" or "tg_autograd_grad" */
    int64_t id;
    scratch *s;
    entry *order;                /* post-order: inputs before the nodes using them */
    int64_t n;
    tg_tensor **bufs;            /* per node output: the gradient arrived so far */
    int64_t n_bufs;
    int n_inputs;                /* tg_autograd_grad's inputs (NULL: the leaves) */
    tg_tensor *const *inputs;
    int64_t first_released;      /* a needed node whose saved tensors are gone, or -1 */
    bool create;
    bool retain;
} run;

static bool visited(const run *r, const tg__node *n) { return n->run_id == r->id; }

/* Whether n leads to a wanted gradient: it is a leaf (no inputs given) or
** the node of an input, or one of its inputs' nodes leads to one.  Its
** inputs' nodes are ordered already (post-order). */
static bool leads_to_target(const run *r, const tg__node *n)
{
    if (r->inputs) {
        for (int j = 0; j < r->n_inputs; j++)
            if (r->inputs[j]->node == n)
                return true;
    } else if (!n->fn) {
        return true;
    }
    for (int i = 0; i < n->n_inputs; i++)
        if (n->edges[i].node && r->order[n->edges[i].node->run_pos].needed)
            return true;
    return false;
}

/* Appends n to the order with its gradient slots (empty: finish leaves
** them NULL) and whether it is needed. */
static tg_status push_order(run *r, tg__node *n)
{
    scratch *s = r->s;
    if (!grow(&s->order, &s->order_cap, r->n + 1, sizeof *s->order) ||
        !grow_bufs(s, r->n_bufs + n->n_outputs))
        return tg__error(TG_ERR_NOMEM, "%s: out of memory ordering the graph", r->fname);
    r->order = s->order;
    r->bufs = s->bufs;
    bool need = leads_to_target(r, n);
    if (need && (n->released || n->save_lost) && r->first_released < 0)
        r->first_released = r->n;
    r->order[r->n] = (entry){n, r->n_bufs, need};
    n->run_pos = r->n++;
    r->n_bufs += n->n_outputs;
    return TG_OK;
}

/* Depth-first post-order from root, with an explicit stack of (node, next edge). */
static tg_status collect(run *r, tg__node *root)
{
    if (visited(r, root))
        return TG_OK;
    scratch *s = r->s;
    int64_t top = 0;
    tg_status st = TG_OK;
    root->run_id = r->id;
    if (!grow(&s->stack, &s->stack_cap, 64, sizeof *s->stack))
        return tg__error(TG_ERR_NOMEM, "%s: out of memory ordering the graph", r->fname);
    s->stack[top++] = (dfs_frame){root, 0};
    while (top > 0 && st == TG_OK) {
        dfs_frame *f = &s->stack[top - 1];
        if (f->next == f->node->n_inputs) {
            st = push_order(r, f->node);
            top--;
            continue;
        }
        tg__node *up = f->node->edges[f->next++].node;
        if (!up || visited(r, up))
            continue;
        up->run_id = r->id;
        if (!grow(&s->stack, &s->stack_cap, top + 1, sizeof *s->stack))
            return tg__error(TG_ERR_NOMEM, "%s: out of memory ordering the graph", r->fname);
        s->stack[top++] = (dfs_frame){up, 0};
    }
    return st;
}

static tg_status check_released(const run *r)
{
    if (r->first_released < 0)
        return TG_OK;
    const tg__node *n = r->order[r->first_released].node;
    if (n->save_lost)
        return tg__error(TG_ERR_NOMEM, "%s: '%s' ran out of memory saving its tensors when lazy mode computed it",
                         r->fname, tg__node_name(n));
    return tg__error(TG_ERR_STATE,
                     "%s: the graph through '%s' was already freed by an earlier backward; "
                     "pass retain_graph (or create_graph) to the first backward to walk it twice",
                     r->fname, tg__node_name(r->order[r->first_released].node));
}

/* Adds g into *slot (taking g's reference, even on failure).  Under create_graph the sum is a
** recorded tg_add so it stays differentiable; otherwise it is done in place
** when *slot is exclusively ours. */
static tg_status add_into(run *r, tg_tensor **slot, tg_tensor *g);

static inline tg_status accumulate(run *r, tg_tensor **slot, tg_tensor *g)
{
    if (!*slot) {   /* the first gradient to arrive */
        *slot = g;
        return TG_OK;
    }
    return add_into(r, slot, g);
}

/* accumulate when *slot holds a gradient already. */
static tg_status add_into(run *r, tg_tensor **slot, tg_tensor *g)
{
    tg_tensor *s = *slot;
    tg_status st;
    if ((st = spread(s)) != TG_OK || (st = spread(g)) != TG_OK) {
        tg__tensor_unref(g);
        return st;
    }
    if (!r->create && s->refcount == 1 && s->storage->refcount == 1 && !s->node) {
        tg__kern()->acc(s->numel, g->data, s->data);
        tg__tensor_unref(g);
        return TG_OK;
    }
    int depth = tg__scope_depth();
    tg__scope_enter();
    bool prev_off = tg__grad_off;
    tg__grad_off = !r->create;
    tg_tensor *sum = tg__grad_add ? tg__grad_add(s, g)
                                  : (tg__error(TG_ERR_STATE, "%s: no gradient sum linked (tg_add)", r->fname), NULL);
    tg__grad_off = prev_off;
    if (sum)
        tg__unscope(sum);
    tg__scope_end_to(depth);
    if (!sum) {
        tg__tensor_unref(g);
        return tg_last_status();
    }
    tg__tensor_unref(s);
    tg__tensor_unref(g);
    *slot = sum;
    return TG_OK;
}

static tg_tensor *zeros_like_meta(const tg__meta *m)
{
    tg_tensor *t = tg__tensor_new("tg_backward", m->ndim, m->shape);
    if (t)
        memset(t->data, 0, (size_t)t->numel * sizeof(double));
    return t;
}

/* Takes the tensor a backward returned: fresh ones leave the backward's scope,
** anything else (a grad_output passed through, an outer tensor) gets a reference. */
static tg_tensor *take_grad(tg_tensor *g, int depth)
{
    if (tg__owner_depth(g) > depth) {
        tg__unscope(g);
        return g;
    }
    return tg__tensor_ref(g);
}

static tg_status check_grad_shape(const run *r, const tg__node *n, int i, const tg_tensor *g)
{
    const tg__meta *m = &n->in_meta[i];
    bool ok = g->ndim == m->ndim;
    for (int d = 0; ok && d < m->ndim; d++)
        ok = g->shape[d] == m->shape[d];
    if (ok)
        return TG_OK;
    char bg[TG__SHAPE_STR], bm[TG__SHAPE_STR];
    return tg__error(TG_ERR_SHAPE, "%s: backward of '%s' returned grad_inputs[%d] of shape %s for an input of shape %s",
                     r->fname, tg__node_name(n), i, tg__shape_str(bg, g->ndim, g->shape),
                     tg__shape_str(bm, m->ndim, m->shape));
}

tg_status tg__node_backward(const char *fname, tg__node *n, tg_tensor *const *gout, tg_tensor **gin, bool record)
{
    bool prev_off = tg__grad_off;
    tg__grad_off = !record;
    n->create_graph = record;
    tg__backward_depth++;
    uint64_t errors_before = tg__error_count();
    tg_status st = n->fn->backward ? n->fn->backward(n, gout, gin) : tg__span_backward(n, gout, gin);
    tg__backward_depth--;
    n->create_graph = false;
    tg__grad_off = prev_off;
    if (st != TG_OK && tg_last_status() == TG_OK)
        tg__error(st, "%s: backward of '%s' failed (%s)", fname, tg__node_name(n), tg_status_str(st));
    else if (st == TG_OK && tg__error_count() != errors_before && tg_last_status() != TG_OK)
        /* an op inside failed and the backward returned TG_OK anyway (a NULL
        ** gradient would otherwise read as "no gradient"): never a silent zero */
        st = tg__error(tg_last_status(), "%s: backward of '%s' returned TG_OK after an error: %s",
                       fname, tg__node_name(n), tg_last_error());
    if (st == TG_OK)
        st = tg__anomaly_check(n, false, n->n_inputs, gin, NULL);
    return st;
}

/* Runs one node's backward and routes its input gradients. */
static tg_status run_node(run *r, tg__node *n)
{
    tg_tensor **gout = &r->bufs[r->order[n->run_pos].buf_off];
    tg_tensor *gin[TG_MAX_FN_ARITY];
    bool any = false;
    for (int k = 0; k < n->n_outputs; k++)
        any = any || gout[k];
    if (!any)
        return TG_OK;   /* no gradient reached this node */
    /* a once-differentiable backward (span kernels are) runs unrecorded; its
    ** results are guarded */
    bool once = n->fn->once_differentiable || !n->fn->backward;
    bool guard = r->create && once, record = r->create && !guard;
    for (int k = 0; k < n->n_outputs; k++) {
        if (!gout[k] && !(gout[k] = zeros_like_meta(&n->out_meta[k])))
            return tg_last_status();
        tg_status st = n->uniform_grad && !record ? TG_OK : spread(gout[k]);
        if (st != TG_OK)
            return st;
    }
    if (!n->fn->backward && !n->fn->backward_span)
        return tg__error(TG_ERR_STATE, "%s: '%s' has no backward", r->fname, tg__node_name(n));
    for (int i = 0; i < n->n_inputs; i++)
        gin[i] = NULL;
    int depth = tg__scope_depth();
    tg__scope_enter();
    tg_status st = tg__node_backward(r->fname, n, gout, gin, record);
    for (int i = 0; i < n->n_inputs; i++) {
        tg__node *up = n->edges[i].node;
        if (st != TG_OK || !up || !gin[i] || !r->order[up->run_pos].needed)
            continue;
        if ((st = check_grad_shape(r, n, i, gin[i])) != TG_OK)
            break;
        tg_tensor *g = take_grad(gin[i], depth);
        if (guard && !(g = tg__once_guard(n, g)))
            st = tg_last_status();
        else
            st = accumulate(r, &r->bufs[r->order[up->run_pos].buf_off + n->edges[i].index], g);
    }
    tg__scope_end_to(depth);
    for (int k = 0; k < n->n_outputs; k++) {   /* spent: the rest of the backward reuses their blocks */
        tg__tensor_unref(gout[k]);
        gout[k] = NULL;
    }
    return st;
}

/* A reference to a one-element tensor holding 1.0 shaped as root: the
** thread's cached one when nobody else holds it or its storage (so nothing
** can have kept it, viewed it or be about to write into it), else a new one
** that becomes the cached one.  NULL on OOM (recorded). */
static tg_tensor *unit_seed(const run *r, const tg_tensor *root)
{
    tg_tensor *s = seed_cache;
    if (!s || s->refcount != 1 || s->storage->refcount != 1 || s->node || s->grad || s->requires_grad ||
        s->scope || !tg__same_shape(s, root)) {
        if (!(s = tg__tensor_new(r->fname, root->ndim, root->shape)))
            return NULL;
        drop_seed();
        seed_cache = s;
    }
    s->data[0] = 1.0;
    return tg__tensor_ref(s);
}

static tg_status seed_roots(run *r, int n_roots, tg_tensor *const *roots, tg_tensor *const *grads)
{
    for (int i = 0; i < n_roots; i++) {
        tg_tensor *root = roots[i], *g = grads ? grads[i] : NULL;
        tg_tensor *seed;
        if (g) {
            if (!tg__same_shape(g, root)) {
                char bg[TG__SHAPE_STR], br[TG__SHAPE_STR];
                return tg__error(TG_ERR_SHAPE, "%s: grad is %s but root is %s", r->fname,
                                 tg__shape_str(bg, g->ndim, g->shape),
                                 tg__shape_str(br, root->ndim, root->shape));
            }
            seed = tg__tensor_alias(g, g->ndim, g->shape);
            if (seed && r->create && g->requires_grad) {   /* keep a differentiable seed's graph */
                seed->node = g->node ? g->node : tg__leaf_node(g);
                if (!seed->node) {
                    tg__tensor_unref(seed);
                    return TG_ERR_NOMEM;
                }
                seed->node->refcount++;
                seed->out_index = g->out_index;
                seed->requires_grad = true;
            }
        } else {
            if (root->numel != 1) {
                char br[TG__SHAPE_STR];
                return tg__error(TG_ERR_SHAPE,
                                 "%s: root has shape %s; a gradient can be implied only for one element "
                                 "(pass opts->grad)", r->fname, tg__shape_str(br, root->ndim, root->shape));
            }
            seed = unit_seed(r, root);
        }
        if (!seed)
            return tg_last_status();
        tg__node *n = root->node;
        tg_status st = accumulate(r, &r->bufs[r->order[n->run_pos].buf_off + root->out_index], seed);
        if (st != TG_OK)
            return st;
    }
    return TG_OK;
}

static tg_status check_roots(const char *fname, int n_roots, tg_tensor *const *roots)
{
    if (n_roots < 1 || !roots)
        return tg__error(TG_ERR_ARG, "%s: no outputs to differentiate", fname);
    for (int i = 0; i < n_roots; i++) {
        tg_status st = tg__check_live(fname, "root", roots[i]);
        if (st != TG_OK)
            return st;
        if (!roots[i]->requires_grad)
            return tg__error(TG_ERR_STATE,
                             "%s: the root does not require grad (no input of the ops that made it "
                             "had tg_set_requires_grad, or it was made with grad disabled)", fname);
    }
    return TG_OK;
}

/* Orders the graph under the roots, with each node's gradient slots and
** whether it is needed. */
static tg_status prepare(run *r, int n_roots, tg_tensor *const *roots)
{
    for (int i = 0; i < n_roots; i++) {
        tg__node *n = roots[i]->node ? roots[i]->node : tg__leaf_node(roots[i]);
        if (!n)
            return TG_ERR_NOMEM;
        tg_status st = collect(r, n);
        if (st != TG_OK)
            return st;
    }
    return TG_OK;
}

/* A gradient that may be stored as a leaf's .grad: exclusively ours, or a
** private copy (a grad without create_graph never shares a user's data). */
static tg_tensor *own_grad(run *r, tg_tensor *g)
{
    if (r->create || (g->refcount == 1 && g->storage->refcount == 1 && !g->node))
        return g;
    tg_tensor *c = tg__tensor_new(r->fname, g->ndim, g->shape);
    if (c)
        memcpy(c->data, g->data, (size_t)g->numel * sizeof(double));
    tg__tensor_unref(g);
    return c;
}

static bool adds_in_place(const run *r, const tg_tensor *grad)
{
    return grad && !r->create && grad->refcount == 1 && grad->storage->refcount == 1 && !grad->node;
}

/* The slot whose gradient deposit stores at order position p: a leaf's
** (still requiring grad), or a retained non-leaf output's (tg_retain_grad,
** kept there by execute_nodes); NULL for any other node. */
static tg_tensor **deposit_slot(const run *r, int64_t p)
{
    const tg__node *n = r->order[p].node;
    tg_tensor **slots = &r->bufs[r->order[p].buf_off];
    if (!n->leaf)
        return NULL;
    if (n->fn)
        return &slots[n->leaf->out_index];
    return n->leaf->requires_grad ? slots : NULL;
}

/* Leaf and retained gradients, added only after the whole backward
** succeeded, in two phases: everything that allocates first, then the
** updates, which cannot fail, so a failure leaves every .grad as it was. */
static tg_status deposit(run *r)
{
    tg_status st = TG_OK;
    for (int64_t p = 0; p < r->n && st == TG_OK; p++) {
        tg_tensor **slot = deposit_slot(r, p), *t = r->order[p].node->leaf;
        if (!slot || !*slot) {
            slot = &r->bufs[r->order[p].buf_off];
            tg__tensor_unref(*slot);
            *slot = NULL;
            continue;
        }
        if ((st = spread(*slot)) != TG_OK)
            break;
        if (adds_in_place(r, t->grad))
            continue;   /* added in place below */
        tg_tensor *g = *slot;
        *slot = NULL;
        if (!t->grad) {
            *slot = own_grad(r, g);
        } else {
            tg_tensor *sum = tg__tensor_ref(t->grad);
            st = accumulate(r, &sum, g);   /* a new tensor: sum's refcount was 2 */
            *slot = st == TG_OK ? sum : NULL;
            if (st != TG_OK)
                tg__tensor_unref(sum);
        }
        if (st == TG_OK && !*slot)
            st = tg_last_status();
    }
    for (int64_t p = 0; p < r->n && st == TG_OK; p++) {
        tg_tensor **slot = deposit_slot(r, p), *t = r->order[p].node->leaf;
        if (!slot || !*slot)
            continue;
        if (adds_in_place(r, t->grad) && *slot != t->grad) {
            tg__kern()->acc((*slot)->numel, (*slot)->data, t->grad->data);
            continue;   /* the buffer is freed with the run */
        }
        tg__tensor_unref(t->grad);
        t->grad = *slot;
        *slot = NULL;
    }
    return st;
}

/* tg_retain_grad: the complete gradient g of a non-leaf output (its
** consumers have all run), spread and held (*held, a reference) so that
** execute_nodes puts it back in its slot after the node's backward spent it;
** deposit adds it to the tensor's .grad with the leaves' once all succeeded. */
static tg_status stage_retained(tg_tensor *g, tg_tensor **held)
{
    tg_status st = g ? spread(g) : TG_OK;
    if (g && st == TG_OK)
        *held = tg__tensor_ref(g);
    return st;
}

/* Drops what the run still holds and leaves the slots NULL and the nodes unvisited. */
static void finish(run *r)
{
    for (int64_t p = 0; p < r->n; p++) {
        tg__node *n = r->order[p].node;
        tg_tensor **slot = &r->bufs[r->order[p].buf_off];
        for (int k = 0; k < n->n_outputs; k++) {
            if (slot[k]) {
                tg__tensor_unref(slot[k]);
                slot[k] = NULL;
            }
        }
        n->run_id = -1;
    }
}

/* The whole backward.  capture (inputs != NULL): gradients of inputs returned
** in grads, leaves untouched.  Otherwise accumulated into the leaves. */
static tg_status execute_nodes(run *r, int n_roots, tg_tensor *const *roots, tg_tensor *const *root_grads,
                               int n_inputs, tg_tensor *const *inputs, tg_tensor **grads);

/* The run, with the ops it applies (sums of gradients) run at once. */
static tg_status execute(run *r, int n_roots, tg_tensor *const *roots, tg_tensor *const *root_grads,
                         int n_inputs, tg_tensor *const *inputs, tg_tensor **grads)
{
    tg__run_now_depth++;
    tg_status st = execute_nodes(r, n_roots, roots, root_grads, n_inputs, inputs, grads);
    tg__run_now_depth--;
    return st;
}

static tg_status execute_nodes(run *r, int n_roots, tg_tensor *const *roots, tg_tensor *const *root_grads,
                               int n_inputs, tg_tensor *const *inputs, tg_tensor **grads)
{
    tg_status st = prepare(r, n_roots, roots);
    if (st != TG_OK || (st = check_released(r)) != TG_OK ||
        (st = seed_roots(r, n_roots, roots, root_grads)) != TG_OK)
        return st;
    for (int64_t p = r->n; p-- > 0 && st == TG_OK;) {
        tg__node *n = r->order[p].node;
        if (!r->order[p].needed)
            continue;
        tg_tensor **slots = &r->bufs[r->order[p].buf_off];
        for (int j = 0; inputs && j < n_inputs && st == TG_OK; j++) {
            tg_tensor *g = inputs[j]->node == n && !grads[j] ? slots[inputs[j]->out_index] : NULL;
            if (g && (st = spread(g)) == TG_OK)
                grads[j] = tg__tensor_ref(g);
        }
        tg_tensor *held = NULL;   /* a retained gradient, staged in its slot for deposit */
        if (st == TG_OK && n->fn && n->leaf && !inputs)
            st = stage_retained(slots[n->leaf->out_index], &held);
        if (st != TG_OK)
            break;
        if (!n->fn)
            continue;
        st = run_node(r, n);
        if (held) {   /* run_node spent the slot (or, failing, left it) */
            tg__tensor_unref(slots[n->leaf->out_index]);
            slots[n->leaf->out_index] = held;
        }
        if (!r->retain) {
            tg__node_release_saved(n);
            n->released = true;
        }
    }
    if (st == TG_OK && !inputs)
        st = deposit(r);
    return st;
}

static tg_status backward_common(const char *fname, int n_roots, tg_tensor *const *roots,
                                 tg_tensor *const *root_grads, int n_inputs,
                                 tg_tensor *const *inputs, tg_tensor **grads,
                                 const tg_backward_opts *opts)
{
    run r = {.fname = fname, .n_inputs = n_inputs, .inputs = inputs, .first_released = -1};
    r.id = next_run_id();
    r.create = opts && opts->create_graph;
    r.retain = opts && (opts->retain_graph || opts->create_graph);
    if (!(r.s = scratch_acquire()))
        return tg__error(TG_ERR_NOMEM, "%s: out of memory", fname);
    tg_status st = execute(&r, n_roots, roots, root_grads, n_inputs, inputs, grads);
    finish(&r);
    scratch_release(r.s);
    return st;
}

tg_status tg_backward(tg_tensor *root, const tg_backward_opts *opts)
{
    tg_status fused;
    if (tg__lazy_backward && root && (root->lazy_role & TG__LZ_OUT) && root->magic == TG__LIVE &&
        (!opts || (!opts->grad && !opts->retain_graph && !opts->create_graph)) && tg__lazy_backward(root, &fused))
        return fused;   /* lazy mode: the step ran as one plan of the engine */
    tg__lazy_sync();   /* a backward reads values: a realization point */
    tg_status st = check_roots("tg_backward", 1, &root);
    if (st != TG_OK)
        return st;
    tg_tensor *g = opts ? opts->grad : NULL;
    if (g && (st = tg__check_live("tg_backward", "opts->grad", g)) != TG_OK)
        return st;
    return backward_common("tg_backward", 1, &root, &g, 0, NULL, NULL, opts);
}

static tg_status check_grad_args(const char *fname, int n_outputs, tg_tensor *const *grad_outputs,
                                 int n_inputs, tg_tensor *const *inputs, tg_tensor **grads)
{
    if (n_inputs < 1 || !inputs || !grads)
        return tg__error(TG_ERR_ARG, "%s: n_inputs is %d, inputs and grads must be non-NULL", fname, n_inputs);
    for (int j = 0; j < n_inputs; j++)
        grads[j] = NULL;
    for (int j = 0; j < n_inputs; j++) {
        tg_status st = tg__check_live(fname, "an input", inputs[j]);
        if (st != TG_OK)
            return st;
    }
    for (int i = 0; grad_outputs && i < n_outputs; i++)
        if (grad_outputs[i] && tg__check_live(fname, "a grad_output", grad_outputs[i]) != TG_OK)
            return tg_last_status();
    return TG_OK;
}

tg_status tg_autograd_grad(int n_outputs, tg_tensor *const *outputs, tg_tensor *const *grad_outputs,
                           int n_inputs, tg_tensor *const *inputs, tg_tensor **grads,
                           const tg_backward_opts *opts)
{
    return tg__autograd_grad_as("tg_autograd_grad", n_outputs, outputs, grad_outputs, n_inputs, inputs, grads,
                                opts);
}

tg_status tg__autograd_grad_as(const char *fname, int n_outputs, tg_tensor *const *outputs,
                               tg_tensor *const *grad_outputs, int n_inputs, tg_tensor *const *inputs,
                               tg_tensor **grads, const tg_backward_opts *opts)
{
    tg__lazy_sync();   /* a realization point */
    tg_status st = check_grad_args(fname, n_outputs, grad_outputs, n_inputs, inputs, grads);
    if (n_inputs < 1 || !inputs || !grads)
        return st;   /* grads was not written: nothing to clean up below */
    if (st == TG_OK)
        st = check_roots(fname, n_outputs, outputs);
    for (int j = 0; st == TG_OK && j < n_inputs; j++)
        if (inputs[j]->requires_grad && !inputs[j]->node && !tg__leaf_node(inputs[j]))
            st = TG_ERR_NOMEM;
    if (st == TG_OK)
        st = backward_common(fname, n_outputs, outputs, grad_outputs, n_inputs, inputs, grads, opts);
    for (int j = 0; j < n_inputs; j++) {
        if (st == TG_OK && !grads[j]) {
            grads[j] = tg__tensor_new(fname, inputs[j]->ndim, inputs[j]->shape);
            if (grads[j])
                memset(grads[j]->data, 0, (size_t)grads[j]->numel * sizeof(double));
            else
                st = tg_last_status();
        }
    }
    for (int j = 0; j < n_inputs; j++) {
        if (st != TG_OK) {
            tg__tensor_unref(grads[j]);
            grads[j] = NULL;
        } else if (!tg__adopt(grads[j])) {
            st = TG_ERR_NOMEM;
        }
    }
    return st;
}
