/* SPDX-License-Identifier: MIT */
/*
** The graph node (tg_ctx) shared by the autograd files: what tg_apply records
** and what the executor walks.  A node holds its inputs' nodes and its saved
** tensors, never its outputs, so the graph has no reference cycles.
*/
#ifndef TG_GRAPH_H
#define TG_GRAPH_H

#include "../core/internal.h"

/* Frees what a node holds once its refcount drops to zero. */
void tg__node_unref(tg__node *n);
/* The node accumulating into leaf t (made on first use; NULL on OOM). */
tg__node *tg__leaf_node(tg_tensor *t);
/* True when t was not produced by a recorded operation. */
bool tg__is_leaf(const tg_tensor *t);
const char *tg__node_name(const tg__node *n);
/* Whether the graph from n (NULL: nothing) reaches the node target, a leaf's
** accumulator, walking each node once.  Out of memory (a graph past 256
** nodes needs the heap) it answers true. */
bool tg__node_reaches(tg__node *n, const tg__node *target);
/* Called when a tensor is destroyed: a leaf detaches from its accumulator. */
void tg__leaf_gone(tg_tensor *t);

typedef struct tg__edge {
    tg__node *node;            /* NULL: that input needs no gradient */
    int index;                 /* which output of node the input was */
} tg__edge;

typedef struct tg__meta {
    int ndim;
    int64_t shape[TG_MAX_DIMS];
} tg__meta;

enum { TG__SAVED_INPUT, TG__SAVED_OUTPUT, TG__SAVED_OTHER };

typedef struct tg__saved {
    tg_tensor *t;              /* an alias of the saved tensor (owned) */
    int kind, index;           /* TG__SAVED_INPUT / OUTPUT: which one */
} tg__saved;

/* Saved tensors held in the node itself; more take a block of their own. */
#define TG__SAVED_INLINE 4

struct tg_ctx {
    int64_t refcount;
    size_t alloc_size;         /* bytes of the block holding the node and its arguments */
    const tg_function *fn;     /* NULL: the accumulator of a leaf */
    int n_inputs, n_outputs;
    tg__edge *edges;           /* n_inputs */
    tg__meta *in_meta;         /* n_inputs */
    tg__meta *out_meta;        /* n_outputs */
    int64_t run_id;            /* executor scratch, valid during one backward (-1 outside) */
    /* from here to saved_inline: zero in a new node (tg__node_new clears them at once) */
    tg_tensor *leaf;           /* weak, cleared when it dies: an accumulator's leaf, or the
                                  output whose gradient tg_retain_grad keeps */
    tg__saved *saved;          /* saved_inline, or a block of its own past TG__SAVED_INLINE */
    int n_saved;
    uint32_t needs_grad;       /* bit i: input i requires grad and is recorded */
    tg_tensor **pending;       /* during forward: what tg_save_for_backward was given */
    void *args;
    size_t args_size;
    bool in_forward;           /* tg_save_for_backward allowed */
    bool released;             /* saved tensors freed by a backward */
    bool create_graph;         /* its backward is running under create_graph */
    bool uniform_grad;         /* its unrecorded backward takes uniform gradients */
    bool save_deferred;        /* lazy mode: its saved tensors are made when its record is
                                  computed (tg__node_save), or never if a fused step runs it */
    bool save_lost;            /* making them then ran out of memory: its backward fails */
    int64_t run_pos;           /* executor scratch */
    tg__node *free_next;
    tg__saved saved_inline[TG__SAVED_INLINE];
};

/* Allocates a node with room for its edges and metadata; NULL on OOM. */
tg__node *tg__node_new(const tg_function *fn, int n_inputs, int n_outputs,
                       const void *args, size_t args_size);
/* A gradient g (reference taken) returned by n's once-differentiable backward
** under create_graph, made the output of a guard node that depends on n's
** inputs and refuses to be differentiated.  NULL on OOM (g released). */
tg_tensor *tg__once_guard(tg__node *n, tg_tensor *g);
/* Saved intermediate t (slot of n's saved tensors, computed with recording
** off) under create_graph: an alias, owned by the current scope, that its
** backward uses as a constant, made the output of a guard node that depends on
** n's inputs and fails a second differentiation with TG_ERR_STATE naming n and
** the slot.  NULL on OOM (recorded). */
tg_tensor *tg__intermediate_guard(tg__node *n, tg_tensor *t, int slot);
/* Anomaly mode (anomaly.c), per thread, and the depth of backwards running:
** forwards of the ops a backward runs are not checked on their own, its
** grad_inputs are. */
extern _Thread_local bool tg__anomaly_on TG_TLS_HOT;
extern _Thread_local int tg__backward_depth TG_TLS_HOT;
tg_status tg__anomaly_scan(const tg__node *n, bool forward, int count, tg_tensor *const *ts,
                           tg_tensor *const *inputs);
/* Anomaly mode: TG_ERR_NUMERIC at the first NaN or infinity in ts[0..count)
** (outputs of forward, or grad_inputs of backward); TG_OK when off (one flag
** test).  inputs: the forward's inputs, or NULL to use the recorded shapes. */
static inline tg_status tg__anomaly_check(const tg__node *n, bool forward, int count, tg_tensor *const *ts,
                                          tg_tensor *const *inputs)
{
    return tg__anomaly_on ? tg__anomaly_scan(n, forward, count, ts, inputs) : TG_OK;
}
/* Copies a tensor's shape into node metadata. */
static inline void tg__set_meta(tg__meta *m, const tg_tensor *t)
{
    m->ndim = t->ndim;
    for (int d = 0; d < t->ndim; d++)
        m->shape[d] = t->shape[d];
}
/* The forward and backward of a Function given as span kernels (span.c). */
tg_status tg__span_forward(tg__node *n, tg_tensor *const *inputs, tg_tensor **outputs);
tg_status tg__span_backward(tg__node *n, tg_tensor *const *grad_outputs, tg_tensor **grad_inputs);
/* The one call of a Function's backward (engine.c): n's backward (or its span
** kernels') on gout into gin, recording its ops when record (create_graph),
** with the failure message naming fname and the Function, and anomaly mode's
** check of gin.  The executor calls it for every node; tg_graph_replay for
** the backwards it runs opaque. */
tg_status tg__node_backward(const char *fname, tg__node *n, tg_tensor *const *gout, tg_tensor **gin, bool record);
/* Lazy mode (lazy.c).  tg__lazy_state: this thread's mode (0 until read from
** TG_LAZY, 1 lazy, -1 eager).  tg__run_now_depth: forwards of built-in ops,
** backward executors and replays running on this thread: the ops they apply
** run at once (they read the values directly). */
extern _Thread_local signed char tg__lazy_state TG_TLS_HOT;
extern _Thread_local int tg__run_now_depth TG_TLS_HOT;

/* A record of the lazy trace: an op applied, its value not computed yet. */
/* TG__LR_WHOLE: an op of one input whose descriptor gives shape and whole
** (expand, a view, a sum to a shape, max, min: core/opdesc.h) */
enum { TG__LR_POINT, TG__LR_SUM, TG__LR_MEAN, TG__LR_SPAN, TG__LR_FN, TG__LR_WHOLE };
typedef struct tg__lazy_rec {
    unsigned char kind;        /* TG__LR_*: POINT / SUM / MEAN by the descriptor, SPAN kernels,
                               ** FN: a user Function's apply (its forward's records compute it) */
    bool done;                 /* its outputs hold their values */
    const tg_function *fn;
    int n_in, n_out;
    tg_tensor *in[TG_MAX_FN_ARITY], *out[TG_MAX_FN_ARITY];   /* references */
    double args[10];           /* the argument block (not FN: its node has them); a shape's fits */
    size_t args_size;
} tg__lazy_rec;

/* A thread's trace: its records in apply order, the tensors from outside it
** in the order first read (each held by a record), and its key (the records'
** kinds, Functions, arguments, and where every input comes from: equal keys,
** equal structure). */
typedef struct tg__lazy_trace {
    tg__lazy_rec *rec;
    int n_rec, cap_rec;
    tg_tensor **ext;
    int n_ext, cap_ext;
    uint64_t *key;
    int n_key, cap_key;
    bool grad;                 /* a record has a graph node */
} tg__lazy_trace;

/* tg__lazy_defer: true when fn's apply was recorded to run later (outputs[0]
** set, *st TG_OK; needs_grad: the caller links the node) or failed at apply
** (*st: an argument error, as eager reports it); false: run it now. */
bool tg__lazy_defer(const tg_function *fn, tg_tensor *const *inputs, tg_tensor **outputs, const void *args,
                    size_t args_size, uint32_t needs_grad, tg_status *st);
/* Whether user Function fn's forward runs with its ops recorded; then
** tg__lazy_fn_record adds the record of its apply. */
bool tg__lazy_fn_defers(const tg_function *fn);
tg_status tg__lazy_fn_record(const tg_function *fn, tg_tensor *const *inputs, tg_tensor *const *outputs);
/* Where a record's output k of record r says it comes from (its lazy_idx),
** and the record of an output. */
static inline int32_t tg__lazy_out_idx(int r, int k) { return r * TG_MAX_FN_ARITY * 2 + k; }
static inline int tg__lazy_rec_of(const tg_tensor *t) { return t->lazy_idx / (TG_MAX_FN_ARITY * 2); }
/* The thread's pending trace, NULL when empty. */
tg__lazy_trace *tg__lazy_pending(void);
/* Moves the pending trace to *out (the thread starts an empty one). */
void tg__lazy_detach(tg__lazy_trace *out);
/* Computes the values of t's records not done (never allocates). */
void tg__lazy_trace_compute(tg__lazy_trace *t);
/* Drops a detached trace: its references and roles. */
void tg__lazy_trace_release(tg__lazy_trace *t);
/* Gives the nodes of t's records the saved tensors their forwards would
** have saved at apply (an executor will run their backwards); out of memory
** leaves a node save_lost, and its backward fails naming it. */
void tg__lazy_trace_save(tg__lazy_trace *t);
/* Node n of a lazy record with inputs and outputs: its deferred saved
** tensors made (ctx.c), as its forward would have made them. */
void tg__node_save(tg__node *n, tg_tensor *const *inputs, tg_tensor *const *outputs);
/* Gives node n its k saved slots (inline up to TG__SAVED_INLINE) filled from
** raw[0..k): each an alias that records whether it is an input or output of
** n (ctx.c).  TG_ERR_NOMEM recorded; the slots made so far stay. */
tg_status tg__ctx_take_saved(tg__node *n, int k, tg_tensor *const *inputs, tg_tensor *const *outputs,
                             tg_tensor *const *raw);
/* A detached trace run by the engine, its done records' outputs computed,
** made the thread's dormant trace (see lazy.c). */
void tg__lazy_trace_dormant(tg__lazy_trace *t);
/* The engine's fused backward (src/graph sets it): tg_backward on a pending
** loss asks it first.  Returns true when it ran the backward (*st its
** status), false to leave it to the executor. */
typedef bool tg__lazy_backward_fn(tg_tensor *root, tg_status *st);
extern tg__lazy_backward_fn *tg__lazy_backward;
/* The sum of two gradients of one tensor, differentiable (tg_add: the ops
** layer above sets it when the library loads, so the executor needs no op of
** its own and calls none by name).  A static link keeps that object with
** --undefined=tg_add (CMakeLists.txt, tensorgrad.pc). */
typedef tg_tensor *tg__grad_add_fn(tg_tensor *a, tg_tensor *b);
extern tg__grad_add_fn *tg__grad_add;
/* tg_autograd_grad with the messages naming fname (lazy mode's fused
** tg_backward records its first step through it). */
tg_status tg__autograd_grad_as(const char *fname, int n_outputs, tg_tensor *const *outputs,
                               tg_tensor *const *grad_outputs, int n_inputs, tg_tensor *const *inputs,
                               tg_tensor **grads, const tg_backward_opts *opts);
/* Drops the saved tensors (after a backward without retain_graph). */
void tg__node_release_saved(tg__node *n);
/* The apply hook: a layer above autograd (the engine in src/graph) sets it
** for its thread to be told of every successful apply; tg_apply_args calls it
** after the outputs are made (NULL, the common case: one load).  Autograd
** never includes the layers above it. */
typedef void tg__apply_hook_fn(const tg_function *fn, tg_tensor *const *inputs, tg_tensor *const *outputs,
                               const void *args, size_t args_size);
extern _Thread_local tg__apply_hook_fn *tg__apply_hook TG_TLS_HOT;

#endif /* TG_GRAPH_H */
