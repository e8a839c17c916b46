/* SPDX-License-Identifier: MIT */
/*
** Captured graphs (tg_graph), private declarations shared by the files of src/graph and
** the apply hook it sets in tg_apply_args.  capture.c records a training step as a list
** of applies over values (tensors identified by their data); plan.c classifies
** the values, orders the work into fused passes over blocks and boundary steps
** and runs it (the interpreter); jit.c writes the passes as C, compiles them
** with the system compiler and loads them.  Sits above autograd: it sees nodes,
** tensors and the ops' descriptors (core/opdesc.h), never an op's name or the
** kernels' callers in src/ops.
*/
#ifndef TG_CAPTURE_H
#define TG_CAPTURE_H

#include "../autograd/graph.h"
#include "../core/opdesc.h"
#include "../optim/optim.h"

typedef struct tg__recorder tg__recorder;

/* The recorder of this thread while tg_graph_capture runs loss_fn and the
** backward (tg__apply_hook is tg__graph_record meanwhile); NULL otherwise. */
extern _Thread_local tg__recorder *tg__graph_recorder;

/* The apply hook (autograd/graph.h) while a recorder is set. */
void tg__graph_record(const tg_function *fn, tg_tensor *const *inputs, tg_tensor *const *outputs,
                      const void *args, size_t args_size);

/* ------------------------------------------------------------ the record */

/* What a record is.  A built-in op is REC_OP and its descriptor (core/opdesc.h)
** says what it computes: the planner, the interpreter and the code generator
** read only that, never an op's name. */
enum {
    REC_OPAQUE,   /* a Function called on whole tensors */
    REC_BWD,      /* an opaque backward */
    REC_OP,       /* a built-in op with a descriptor: desc */
    REC_SPAN,     /* a user Function given as span kernels: out = f(in...) point by point */
    REC_SPAN_BWD  /* its backward: in = {forward's inputs, its output, grad_out}, out = full-shape
                  ** gradients (each summed to its input's shape by a REC_OP sum_to record) */
};

/* A user span kernel as stored for the passes (forward_span or backward_span). */
typedef void (*tg__kfn)(void);

/* how a value is held during replay */
enum {
    V_SCAL,   /* one element, in sc[v] */
    V_UNIF,   /* N elements all equal to sc[v] (a broadcast scalar) */
    V_ELEM,   /* N elements computed element by element inside passes */
    V_BUF     /* a whole buffer buf[v] (external data, an opaque result) */
};

/* how a record runs.  R_ROWRED: a reduction to M elements (a sum, max or
** min over one contiguous group of dims, the input seen as [outer, len, inner]
** and the output as [outer, inner]), computed by a pass of its own whose tasks
** own whole output rows; its output is a V_BUF of M elements (V_SCAL for one).
** R_SMALL: elementwise work on values of fewer than N elements, run on whole
** buffers as a step.  An R_ELEM or R_SMALL record reads an input that is a
** smaller buffer broadcast to its shape through an index map (bcast, imap). */
enum { R_SKIP, R_SCALAR, R_ELEM, R_REDUCE, R_OPAQUE, R_ROWRED, R_SMALL };

typedef struct tg__grec {
    int type;                        /* REC_* */
    const tg__opdesc *desc;          /* REC_OP: what it computes */
    const tg_function *fn;           /* the Function applied (REC_BWD: whose backward); NULL for
                                     ** a sum_to the capture adds */
    int n_in, n_out;
    int in[TG_MAX_FN_ARITY], out[TG_MAX_FN_ARITY];   /* value ids; -1: no gradient */
    tg__meta in_meta[TG_MAX_FN_ARITY];               /* shapes as this record read them */
    void *args;                      /* owned copy */
    size_t args_size;
    uint32_t needs_grad;
    int fwd;                         /* REC_BWD, REC_SPAN_BWD: the record of its forward */
    int bwd;                         /* REC_SPAN: the record of its backward, or -1 */
    int red[TG_MAX_FN_ARITY];        /* REC_SPAN_BWD: the sum_to record of gradient i, or -1 */
    /* plan */
    bool needed, has_bwd;
    int run, level;
    tg_tensor *proxy[TG_MAX_FN_ARITY];   /* R_OPAQUE: inputs as tensors over the buffers */
    tg_tensor *held;                 /* replay: the forward's output, alive until its backward */
    uint32_t bcast;                  /* R_ELEM, R_SMALL: inputs read through imap[i] */
    tg__imap *imap;                  /* per input (owned) when bcast is not 0 (core/internal.h) */
    double *gtmp;                    /* R_SMALL: the gathered inputs, out numel each (owned) */
    int64_t red_outer, red_len, red_inner;   /* R_ROWRED: the input as [outer, len, inner] */
} tg__grec;

typedef struct tg__gval {
    const double *key;               /* data pointer during capture */
    tg_tensor *ext;                  /* an external: the tensor read (a reference) */
    int producer;                    /* record, or -1 for an external */
    int ndim;
    int64_t shape[TG_MAX_DIMS], numel;
    /* plan */
    int kind, level, alias;          /* alias: the value an identity op passes on */
    bool needed, store;              /* store: a V_ELEM written to buf by its pass */
    bool shared;                     /* a V_ELEM a row reduction's pass and another read: stored
                                     ** by the first pass computing it, read from buf by later ones */
    bool kept;                       /* the graph holds a reference to ext */
    bool constant;                   /* fixed at capture (the backward's seed and what only
                                     ** copies it): cval, a literal in the compiled passes */
    double cval;
    bool opaque_in;                  /* read by an opaque call: needs a buffer */
    double *buf;
    bool own_buf;
} tg__gval;

struct tg__recorder {
    tg__grec *rec;
    int n_rec, cap_rec;
    tg__gval *val;
    int n_val, cap_val;
    tg_tensor **held;                /* references taken while capturing */
    int n_held, cap_held;
    struct tg__wrap **wraps;
    int n_wraps, cap_wraps;
    tg_status err;                   /* first failure (TG_ERR_NOMEM) */
};

/* one fused pass over the N points */
typedef struct tg__pass {
    int *elem, n_elem;               /* V_ELEM values computed, in order */
    int *red, n_red;                 /* reduction records */
    int *store, n_store;             /* values written to their buffers */
    int *upd, n_upd;                 /* parameters updated (the last pass) */
    uint32_t *span_mask;             /* per elem of an REC_SPAN_BWD: outputs computed there (a
                                     ** bit per output, on the first of them in elem; 0 after) */
    double *part;                    /* nblocks * n_red block partial sums */
    void (*compiled)(double *const *buf, const double *sc, double *part, int64_t lo, int64_t hi,
                     const tg__kfn *kfn, double *tmp);
    int rowred;                      /* S_ROWRED: the R_ROWRED record this pass computes, else -1 */
} tg__pass;

/* S_ROWRED: a pass computing one R_ROWRED record (always interpreted);
** S_SMALL: an R_SMALL record */
enum { S_SCALAR, S_OPAQUE, S_PASS, S_ROWRED, S_SMALL };
typedef struct tg__step { int kind, index; } tg__step;

/* Points per block of a pass.  A plan calling span kernels takes smaller
** blocks: its block arrays (one per value crossing a kernel call) then stay in
** L1 with x and y, where 2,048-point blocks spill to L2 (the span P3 step at
** N = 2,000: 1.1 us against 1.6 us); plans without them keep the larger
** blocks, where the pass loop's fixed costs weigh less. */
#define TG__GRAPH_BLOCK 2048
#define TG__GRAPH_SPAN_BLOCK 512
/* ... and smaller still once x and y stream from memory (N at least this,
** past the last-level cache): 256-point blocks leave L1 room for the next
** block's lines asked ahead (span P3 at N = 4 * 10^6: 0.87x the time of
** 512-point blocks; at 10^7, 0.86x to 0.92x; at 10^5 and 10^6 no gain). */
#define TG__GRAPH_STREAM_N (INT64_C(1) << 21)
#define TG__GRAPH_STREAM_BLOCK 256
/* whole cache lines: each block array, and each worker's scratch, stays 64-byte aligned */
_Static_assert(TG__GRAPH_BLOCK % 8 == 0 && TG__GRAPH_SPAN_BLOCK % 8 == 0 && TG__GRAPH_STREAM_BLOCK % 8 == 0,
               "blocks of whole cache lines");

struct tg_graph {
    tg__grec *rec;
    int n_rec;
    tg__gval *val;
    int n_val;
    int64_t n;                       /* N: elements of the largest values */
    int64_t block;                   /* points per block of a pass */
    double *sc;
    double **buf;
    tg__pass *pass;
    int n_pass;
    tg__step *step;
    int n_step;
    int *reads, n_reads;             /* the kept one-element externals, read into sc by each replay */
    int n_params, loss;
    tg_tensor **param;               /* references */
    int *pval, *gval;                /* value of each parameter and of its gradient */
    double lr;
    tg_optim *opt;                   /* not NULL: the update is opt's (its kind's update, run
                                     ** inside the last pass or after the reductions), its state
                                     ** in opt, the per-step scalars in sc, the state in buf */
    tg_tensor **grad;                /* opt: per parameter, the gradient tensor tg_grad shows (owned) */
    bool *grad_in_place;             /* opt: per parameter, its gradient's buffer is grad[i]'s data */
    bool opt_begun;                  /* opt: this replay's update has begun (scalars written) */
    bool grads_only;                 /* lazy mode's plan: no update; the gradients are stored for
                                     ** the caller (tg__graph_run), param[i] is leaf leaf_of[i] */
    int *leaf_of;
    tg__kfn *kfn;                    /* per record: its span kernel (REC_SPAN, REC_SPAN_BWD) */
    /* per worker thread w < n_workers: scratch + w * scratch_stride holds the
    ** blocks of the values of a pass, then of span inputs (64-byte aligned),
    ** and op_scratch + w * op_stride the ops' own (desc->scratch) */
    double *scratch;
    void *scratch_alloc;             /* the allocation holding it */
    int64_t scratch_stride, op_stride;   /* doubles per worker */
    int n_workers;                   /* threads a pass may use: the kernels' count at capture */
    int64_t gather_off;              /* in a worker's scratch: a fill block, then the gather blocks */
    int64_t *slot;                   /* interpreter: scratch slot of each V_ELEM value */
    double *op_scratch;
    void *dl;                        /* the compiled passes (dlopen handle) */
    bool compiled;
};

/* Lazy mode (lazystep.c): the plan of a trace's step, not yet compiled
** (tg__graph_compile_passes).  The trace's values are computed; its records
** are recorded, then the backward of root (create graph, recorded) gives
** grads[i] for leaves[i].  NULL with *st TG_OK when the step cannot be
** planned (*never: for structural reasons), with *st set when the backward
** failed. */
tg_graph *tg__graph_capture_trace(const tg__lazy_trace *t, tg_tensor *root, int n_leaf, tg_tensor **leaves,
                                  tg_tensor **grads, tg_status *st, bool *never);
/* Runs g's steps once (no update): the values of a replay. */
tg_status tg__graph_run(tg_graph *g);
/* Makes external value v of g read t (not referenced) from now on. */
void tg__graph_bind(tg_graph *g, int v, tg_tensor *t);
/* The one-element value v after a run; the buffer of value v. */
double tg__graph_scalar(const tg_graph *g, int v);
const double *tg__graph_buffer(const tg_graph *g, int v);
/* Builds the plan of g (records and values filled, loss / params set): classes,
** levels, passes, steps, buffers.  TG_OK or TG_ERR_NOMEM. */
tg_status tg__graph_plan(tg_graph *g);
/* Generates, compiles (cached) and loads the passes; false (nothing changed)
** when no compiler works or the source has an op it cannot write. */
bool tg__graph_compile(tg_graph *g);
/* Compiles g's passes (tg__graph_compile) unless TG_GRAPH_INTERPRET is set:
** the interpreter runs what is not compiled. */
void tg__graph_compile_passes(tg_graph *g);
/* Records of g's plan called opaque (run as whole Functions or backwards): a
** query for the tests. */
int tg__graph_opaque_count(const tg_graph *g);
/* The opaque records and the row reductions of the last plan made on this
** thread (-1 before any): lazy mode's plans are cached out of reach. */
void tg__graph_last_plan(int *opaque, int *rowred);
/* Whether g has a pass the code generator writes (tg__graph_compile then
** compiles it when a compiler works). */
bool tg__graph_writable(const tg_graph *g);
/* Closes what tg__graph_compile loaded (nothing when nothing was). */
void tg__graph_unload(tg_graph *g);
/* The slot of sc holding the learning rate (after the values' slots). */
static inline int tg__graph_lr_slot(const tg_graph *g) { return g->n_val; }
/* opt: the first of parameter i's per-step scalars in sc, and of its state
** buffers in buf (after the values' slots and the learning rate's). */
static inline int tg__graph_opt_scalar(const tg_graph *g, int i) { return g->n_val + 1 + i * TG__OPTIM_SCALARS; }
static inline int tg__graph_opt_state(const tg_graph *g, int i) { return g->n_val + 1 + i * TG__OPTIM_STATES; }
/* The value an identity op chain passes on. */
static inline int tg__graph_root(const tg_graph *g, int v)
{
    while (g->val[v].alias >= 0)
        v = g->val[v].alias;
    return v;
}

#endif /* TG_CAPTURE_H */
