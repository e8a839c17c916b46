/* SPDX-License-Identifier: MIT */
/*
** Graph nodes: allocation, reference counting and the leaf accumulators.
** Freeing is iterative (a worklist), so dropping a graph millions of nodes
** deep does not recurse.  Autograd layer; knows no operation.
*/
#include "graph.h"

#include <stddef.h>
#include <string.h>

tg__node *tg__node_new(const tg_function *fn, int n_inputs, int n_outputs,
                       const void *args, size_t args_size)
{
    /* one block: the node, its metadata and edges, then its arguments */
    size_t size = sizeof(tg__node) + (size_t)n_inputs * (sizeof(tg__edge) + sizeof(tg__meta)) +
                  (size_t)n_outputs * sizeof(tg__meta);
    size_t args_at = (size + 15) & ~(size_t)15;
    tg__node *n = tg__obj_alloc(args_at + args_size);
    if (!n)
        return NULL;
    n->refcount = 1;
    n->alloc_size = args_at + args_size;
    n->fn = fn;
    n->n_inputs = n_inputs;
    n->n_outputs = n_outputs;
    n->in_meta = (tg__meta *)(void *)(n + 1);
    n->out_meta = n->in_meta + n_inputs;
    n->edges = (tg__edge *)(void *)(n->out_meta + n_outputs);
    for (int i = 0; i < n_inputs; i++)
        n->edges[i] = (tg__edge){NULL, 0};
    n->run_id = -1;
    /* leaf .. free_next in one constant-size clear; the inline saved slots
    ** stay unwritten until used */
    memset(&n->leaf, 0, offsetof(tg__node, saved_inline) - offsetof(tg__node, leaf));
    if (args_size > 0) {
        n->args = (char *)n + args_at;
        memcpy(n->args, args, args_size);
        n->args_size = args_size;
    }
    return n;
}

/* Drops one reference a saved alias holds on a node without recursing:
** a node that reaches zero goes onto the worklist. */
static void drop_saved(tg__saved *s, tg__node **work)
{
    tg_tensor *t = s->t;
    s->t = NULL;
    if (!t)
        return;
    if (t->refcount == 1 && t->node) {
        tg__node *up = t->node;
        t->node = NULL;
        if (--up->refcount == 0) {
            up->free_next = *work;
            *work = up;
        }
    }
    tg__tensor_unref(t);
}

/* The saved array, when it is not the node's inline one. */
static void free_saved(tg__node *n)
{
    if (n->saved != n->saved_inline)
        tg__obj_free(n->saved, (size_t)n->n_saved * sizeof *n->saved);
}

void tg__node_release_saved(tg__node *n)
{
    tg__node *work = NULL;
    for (int i = 0; i < n->n_saved; i++)
        drop_saved(&n->saved[i], &work);
    free_saved(n);
    n->saved = NULL;
    n->n_saved = 0;
    if (work) {
        /* nodes freed here start a worklist of their own */
        while (work) {
            tg__node *next = work->free_next;
            work->refcount = 1;
            tg__node_unref(work);
            work = next;
        }
    }
}

void tg__node_unref(tg__node *n)
{
    if (!n)
        return;
    TG_ASSERT(n->refcount > 0);
    if (--n->refcount > 0)
        return;
    n->free_next = NULL;
    tg__node *work = n;
    while (work) {
        tg__node *cur = work;
        work = cur->free_next;
        for (int i = 0; i < cur->n_inputs; i++) {
            tg__node *up = cur->edges[i].node;
            if (up && --up->refcount == 0) {
                up->free_next = work;
                work = up;
            }
        }
        for (int i = 0; i < cur->n_saved; i++)
            drop_saved(&cur->saved[i], &work);
        free_saved(cur);
        TG_ASSERT(!cur->leaf);
        tg__obj_free(cur, cur->alloc_size);
    }
}

tg__node *tg__leaf_node(tg_tensor *t)
{
    if (t->node)
        return t->node;
    tg__node *n = tg__node_new(NULL, 0, 1, NULL, 0);
    if (!n) {
        tg__error(TG_ERR_NOMEM, "out of memory for a gradient accumulator");
        return NULL;
    }
    n->leaf = t;
    n->out_meta[0].ndim = t->ndim;
    memcpy(n->out_meta[0].shape, t->shape, sizeof t->shape);
    t->node = n;
    t->out_index = 0;
    return n;
}

void tg__leaf_gone(tg_tensor *t)
{
    if (t->node && t->node->leaf == t)   /* a leaf's accumulator, or a retained output */
        t->node->leaf = NULL;
}

bool tg__is_leaf(const tg_tensor *t)
{
    return !t->node || !t->node->fn;
}

const char *tg__node_name(const tg__node *n)
{
    if (!n->fn)
        return "leaf";
    return n->fn->name ? n->fn->name : "(unnamed Function)";
}

/* The nodes a walk has met: open addressing over the pointers, a power of 2
** slots kept at most half full. */
typedef struct node_set {
    const tg__node **slot;
    size_t cap, n;
} node_set;

static size_t slot_of(const node_set *s, const tg__node *m)
{
    size_t h = (size_t)(((uintptr_t)m >> 4) * 0x9E3779B97F4A7C15ull) & (s->cap - 1);
    while (s->slot[h] && s->slot[h] != m)
        h = (h + 1) & (s->cap - 1);
    return h;
}

/* Adds m: 1 when new, 0 when met before, -1 out of memory.  The set starts in
** the caller's array and moves to the heap when it would pass half full. */
static int set_add(node_set *s, const tg__node **few, const tg__node *m)
{
    size_t h = slot_of(s, m);
    if (s->slot[h])
        return 0;
    if (2 * (s->n + 1) > s->cap) {
        node_set b = {tg__calloc(2 * s->cap, sizeof *b.slot), 2 * s->cap, s->n};
        if (!b.slot)
            return -1;
        for (size_t i = 0; i < s->cap; i++)
            if (s->slot[i])
                b.slot[slot_of(&b, s->slot[i])] = s->slot[i];
        if (s->slot != few)
            tg__free((void *)s->slot);
        *s = b;
        h = slot_of(s, m);
    }
    s->slot[h] = m;
    s->n++;
    return 1;
}

/* Depth-first over the edges, each node once; the stack and the set start on
** the C stack and grow on the heap, so a graph of any size is walked exactly
** (only an allocation failure answers true unseen). */
bool tg__node_reaches(tg__node *n, const tg__node *target)
{
    enum { FEW = 256 };
    tg__node *few_stack[FEW], **stack = few_stack;
    const tg__node *few_seen[2 * FEW] = {0};
    node_set seen = {few_seen, 2 * FEW, 0};
    int top = 0, cap = FEW;
    bool found = false, oom = false;
    if (n)
        stack[top++] = n;
    while (top > 0 && !found && !oom) {
        tg__node *m = stack[--top];
        int fresh = set_add(&seen, few_seen, m);
        oom = fresh < 0;
        if (fresh <= 0)
            continue;
        found = m == target;
        for (int i = 0; i < m->n_inputs && !found && !oom; i++) {
            if (!m->edges[i].node)
                continue;
            if (top == cap) {
                tg__node **b = tg__malloc((size_t)cap * 2 * sizeof *b);
                if (!(oom = !b)) {
                    memcpy(b, stack, (size_t)top * sizeof *b);
                    if (stack != few_stack)
                        tg__free(stack);
                    stack = b, cap *= 2;
                }
            }
            if (!oom)
                stack[top++] = m->edges[i].node;
        }
    }
    if (stack != few_stack)
        tg__free(stack);
    if (seen.slot != few_seen)
        tg__free((void *)seen.slot);
    return found || oom;
}

/* A tensor being destroyed lets go of its node (core calls it through tg__node_drop). */
static void drop(tg_tensor *t)
{
    tg__leaf_gone(t);
    tg__node_unref(t->node);
}

__attribute__((constructor)) static void install(void) { tg__node_drop = drop; }

tg_status tg_set_requires_grad(tg_tensor *t, bool on)
{
    tg_status st = tg__check_live("tg_set_requires_grad", "t", t);
    if (st != TG_OK)
        return st;
    if (!tg__is_leaf(t))
        return tg__error(TG_ERR_STATE,
                         "tg_set_requires_grad: tensor is the result of '%s', not a leaf; use tg_detach",
                         tg__node_name(t->node));
    t->requires_grad = on;
    return TG_OK;
}

tg_status tg_retain_grad(tg_tensor *t)
{
    tg_status st = tg__check_live("tg_retain_grad", "t", t);
    if (st != TG_OK)
        return st;
    if (!t->requires_grad)
        return tg__error(TG_ERR_STATE, "tg_retain_grad: t does not require grad, so it gets no gradient");
    if (tg__is_leaf(t) || t->node->leaf == t)
        return TG_OK;   /* a leaf keeps its gradient anyway; retaining twice is retaining */
    if (t->node->leaf)
        return tg__error(TG_ERR_STATE, "tg_retain_grad: another tensor made by the same '%s' retains "
                         "its gradient already", tg__node_name(t->node));
    t->node->leaf = t;   /* weak, as a leaf's: cleared by tg__leaf_gone */
    return TG_OK;
}
