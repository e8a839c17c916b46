/* SPDX-License-Identifier: MIT */
/*
** Lazy mode: applying an op records it instead of running it, and the thread's
** pending records (its trace) are computed together at the next realization
** point (any public function checking a tensor argument: tg_data, tg_item,
** tg_realize, tg_free...; tg_scope_end; a backward, an optimizer step, the
** apply of an op that runs now).
**
** What is recorded (apply-time checks, the output allocated, only the values
** wait):
** - a built-in op with a descriptor (core/opdesc.h) of kind POINT (an input
**   of another size than the output's and not of one element is read
**   through an index map, core/broadcast.c), or a full SUM / MEAN, or an op
**   whose descriptor gives its shape and values (expand, a view, a sum to a
**   shape, amax / amin: TG__LR_WHOLE);
** - a Function given as span kernels whose inputs all have one shape;
** - the apply of a user Function with a forward (TG__LR_FN): its forward runs
**   at apply, its own ops are recorded in turn, and the record marks where
**   its outputs come from.  Its inputs are computed first only when the
**   forward reads them (tg_data inside it is a realization point).
** When an input needs a gradient, the graph node is made at apply, as eager
** mode makes it: function.c links it.  What the descriptor's save spec says
** the forward saves is saved when the record is computed (tg__lazy_trace_save:
** an executor will run the node's backward); a fused step that runs the
** backward itself never saves it.  Outside any backward, anomaly mode and
** capture.
**
** Each record adds to the trace's key: its kind, its Function, its arguments
** and where each input comes from (an earlier record's output, or an outside
** tensor with its shape and gradient flags).  The engine (src/graph) looks the
** key up when tg_backward is called on a pending loss, and runs a whole
** training step as one fused plan; the records it did not need to compute
** then become dormant: their values are computed only if one is read, and an
** outside tensor they read is copied before anyone may write it
** (tg__lazy_touch), so a later read gives what eager mode would have given.
**
** Realization of pending records runs passes of consecutive POINT records of
** one size, block by block over 2048 points, through the descriptors' block
** functions: the kernels eager mode calls on the same points, so the bits are
** eager's; sums and span kernels call eager's kernels on the whole arrays.  It
** cannot fail: the only allocation is of the saved tensors, and a node that
** cannot have them is marked (save_lost) so its backward fails naming it.
** Autograd layer: tg_apply_args asks it first; core reaches it only through
** the pointers it sets (tg__lazy_flush, tg__lazy_touch, tg__lazy_retire); the
** engine above reads the trace.
*/
#include "graph.h"
#include "../core/opdesc.h"
#include "../kernels/kernels.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

enum { LAZY_BLOCK = 2048 };

_Thread_local signed char tg__lazy_state TG_TLS_HOT;   /* 0: default not read yet, 1 on, -1 off */
tg__lazy_backward_fn *tg__lazy_backward;   /* set by the engine (src/graph) when it is linked */
static _Thread_local tg__lazy_trace cur, spare, dormant;
static _Thread_local double *scratch;
static _Thread_local int64_t cap_scratch;
static _Thread_local double *gather;   /* blocks of broadcast operands, LAZY_BLOCK each */
static _Thread_local int cap_gather;
/* The dormant records' outside inputs written since (tg__lazy_touch): the
** copy of each, read in its place if the records are ever computed. */
typedef struct lazy_sub { tg_tensor *orig, *copy; } lazy_sub;
static _Thread_local lazy_sub *subs;
static _Thread_local int n_subs, cap_subs;

static int lazy_default(void)
{
    static atomic_int d;   /* 0 until TG_LAZY is read */
    int v = atomic_load(&d);
    if (!v) {
        const char *e = getenv("TG_LAZY");
        v = e && e[0] && strcmp(e, "0") != 0 ? 1 : -1;
        atomic_store(&d, v);
    }
    return v;
}

bool tg_is_lazy(void)
{
    if (!tg__lazy_state)
        tg__lazy_state = (signed char)lazy_default();
    return tg__lazy_state > 0;
}

static void retire(void);

bool tg_set_lazy(bool on)
{
    bool prev = tg_is_lazy();
    if (!on) {
        tg__lazy_sync();
        retire();
    }
    tg__lazy_state = on ? 1 : -1;
    return prev;
}

tg_status tg_realize(tg_tensor *t)
{
    if (!t)
        return tg__error(TG_ERR_ARG, "tg_realize: t is NULL");
    return tg__check_live("tg_realize", "t", t);   /* realizes all pending work */
}

/* ------------------------------------------------------------ computing */

/* POINT records [r0, r1) of t, all of n points, block by block. */
static void run_pass(const tg__lazy_trace *t, int r0, int r1, int64_t n)
{
    for (int64_t lo = 0; lo < n; lo += LAZY_BLOCK) {
        int64_t nb = n - lo < LAZY_BLOCK ? n - lo : LAZY_BLOCK;
        for (int r = r0; r < r1; r++) {
            const tg__lazy_rec *rec = &t->rec[r];
            const double *x[TG_MAX_FN_ARITY];
            int64_t inc[TG_MAX_FN_ARITY];
            for (int i = 0; i < rec->n_in; i++) {
                const tg_tensor *in = rec->in[i], *out = rec->out[0];
                bool full = in->numel == n;
                x[i] = in->data + (full ? lo : 0);
                inc[i] = full ? 1 : 0;
                if (!full && in->numel != 1) {   /* a smaller operand broadcast: read through its map */
                    tg__imap m;
                    tg__imap_make(in->ndim, in->shape, out->ndim, out->shape, &m);
                    tg__imap_gather(&m, in->data, lo, nb, gather + i * LAZY_BLOCK);
                    x[i] = gather + i * LAZY_BLOCK, inc[i] = 1;
                }
            }
            rec->fn->desc->block(nb, x, inc, rec->args, rec->out[0]->data + lo, scratch);
        }
    }
}

static bool in_pass(const tg__lazy_rec *r, int64_t n)
{
    return r->kind == TG__LR_POINT && !r->done && r->out[0]->numel == n;
}

/* One record that is not a POINT pass: eager's kernel on the whole arrays. */
static void run_one(const tg__lazy_rec *r)
{
    const tg__kernels *k = tg__kern();
    if (r->kind == TG__LR_SUM) {
        r->out[0]->data[0] = k->sum(r->in[0]->numel, r->in[0]->data);
    } else if (r->kind == TG__LR_MEAN) {
        int64_t n = r->in[0]->numel;
        r->out[0]->data[0] = n ? k->sum(n, r->in[0]->data) / (double)n : NAN;
    } else if (r->kind == TG__LR_WHOLE) {
        if (r->fn->desc->whole)   /* (a view's output is its input's storage) */
            r->fn->desc->whole(r->args, r->in[0], r->out[0]);
    } else if (r->kind == TG__LR_SPAN) {
        const double *x[TG_MAX_FN_ARITY];
        for (int i = 0; i < r->n_in; i++)
            x[i] = r->in[i]->data;
        if (r->out[0]->numel > 0)
            r->fn->forward_span(r->out[0]->numel, x, r->out[0]->data);
    }   /* TG__LR_FN: its forward's own records compute its outputs */
}

void tg__lazy_trace_compute(tg__lazy_trace *t)
{
    for (int i = 0; i < t->n_rec;) {
        const tg__lazy_rec *r = &t->rec[i];
        if (r->done || r->kind != TG__LR_POINT) {
            if (!r->done)
                run_one(r);
            i++;
            continue;
        }
        int64_t n = r->out[0]->numel;
        int j = i + 1;
        while (j < t->n_rec && in_pass(&t->rec[j], n))
            j++;
        run_pass(t, i, j, n);
        i = j;
    }
    for (int i = 0; i < t->n_rec; i++)
        t->rec[i].done = true;
}

/* ------------------------------------------------------------ the traces */

static bool grow(void *p, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return true;
    int c = *cap * 2 > need ? *cap * 2 : need + 32;
    void *q = tg__realloc(*(void **)p, (size_t)c * elem);
    if (!q)
        return false;
    *(void **)p = q;
    *cap = c;
    return true;
}

static void free_arrays(tg__lazy_trace *t)
{
    tg__free(t->rec), tg__free(t->ext), tg__free(t->key);
    memset(t, 0, sizeof *t);
}

/* Empties t (its references and the roles it gave) and keeps its arrays as
** the thread's spare, or frees them when there is one. */
void tg__lazy_trace_release(tg__lazy_trace *t)
{
    int n = t->n_rec;
    t->n_rec = 0;   /* before the unrefs: freeing a tensor may realize */
    for (int r = 0; r < n; r++) {
        tg__lazy_rec *rec = &t->rec[r];
        for (int i = 0; i < rec->n_in; i++)
            rec->in[i]->lazy_role &= (unsigned char)TG__LZ_CONST;
        for (int o = 0; o < rec->n_out; o++)
            rec->out[o]->lazy_role &= (unsigned char)TG__LZ_CONST;
    }
    for (int r = 0; r < n; r++) {
        tg__lazy_rec *rec = &t->rec[r];
        for (int i = 0; i < rec->n_in; i++)
            tg__tensor_unref(rec->in[i]);
        for (int o = 0; o < rec->n_out; o++)
            tg__tensor_unref(rec->out[o]);
    }
    t->n_ext = t->n_key = 0;
    t->grad = false;
    if (t == &cur)
        return;
    if (!spare.rec && !spare.ext && !spare.key)
        spare = *t;
    else
        free_arrays(t);
    memset(t, 0, sizeof *t);
}

void tg__lazy_trace_save(tg__lazy_trace *t)
{
    for (int r = 0; r < t->n_rec; r++) {
        tg__lazy_rec *rec = &t->rec[r];
        tg__node *n = rec->n_out ? rec->out[0]->node : NULL;
        if (n && n->fn == rec->fn)   /* the record's own node (not a Function's made around it) */
            tg__node_save(n, rec->in, rec->out);
    }
}

static void flush(void)
{
    tg__lazy_flush = NULL;
    tg__lazy_trace_save(&cur);
    tg__lazy_trace_compute(&cur);
    tg__lazy_trace_release(&cur);
}

tg__lazy_trace *tg__lazy_pending(void) { return cur.n_rec ? &cur : NULL; }

void tg__lazy_detach(tg__lazy_trace *out)
{
    *out = cur;
    cur = spare;
    memset(&spare, 0, sizeof spare);
    tg__lazy_flush = NULL;
}

/* -------------------------------------------------------------- dormant */

static void drop_subs(void)
{
    int n = n_subs;
    n_subs = 0;   /* before the unrefs: freeing a tensor may come back here */
    for (int k = 0; k < n; k++)
        tg__tensor_unref(subs[k].copy);
}

static void drop_dormant(void)
{
    tg__lazy_retire = NULL;
    if (dormant.n_rec || dormant.rec) {
        tg__lazy_trace d = dormant;
        memset(&dormant, 0, sizeof dormant);
        tg__lazy_trace_release(&d);
    }
    drop_subs();
}

/* The records read the copies of the inputs written since they went dormant. */
static void substitute(void)
{
    for (int r = 0; r < dormant.n_rec && n_subs; r++)
        for (int i = 0; i < dormant.rec[r].n_in; i++)
            for (int k = 0; k < n_subs; k++)
                if (dormant.rec[r].in[i] == subs[k].orig) {
                    dormant.rec[r].in[i] = tg__tensor_ref(subs[k].copy);
                    tg__tensor_unref(subs[k].orig);
                    break;
                }
}

static void compute_dormant(void)
{
    substitute();
    tg__lazy_trace_compute(&dormant);
    drop_dormant();
}

/* A dormant record's output or input is used: see the file comment.  An
** input about to be written through tg_data is copied first; the records
** read the copy only if they are computed (substitute), so a fused step
** pays one copy per parameter and no walk of its records. */
static void touch(const tg_tensor *ct)
{
    tg_tensor *t = (tg_tensor *)ct;
    if (!dormant.n_rec) {
        t->lazy_role &= (unsigned char)~(TG__LZ_DOUT | TG__LZ_DIN);
        return;
    }
    if (t->lazy_role & TG__LZ_DOUT) {
        compute_dormant();
        return;
    }
    tg_tensor *c = grow(&subs, &cap_subs, n_subs + 1, sizeof *subs) ? tg__tensor_new("tg_data", t->ndim, t->shape)
                                                                     : NULL;
    if (!c) {   /* recorded; the values are computed instead, so nothing is lost */
        compute_dormant();
        return;
    }
    memcpy(c->data, t->data, (size_t)t->numel * sizeof(double));
    subs[n_subs++] = (lazy_sub){t, c};
    t->lazy_role &= (unsigned char)~TG__LZ_DIN;
}

/* At scope end and before the next trace: dormant values someone still holds
** are computed, the rest dropped. */
static void retire(void)
{
    if (!dormant.n_rec) {
        drop_dormant();
        return;
    }
    for (int r = 0; r < dormant.n_rec; r++)
        for (int o = 0; o < dormant.rec[r].n_out; o++)
            dormant.rec[r].out[o]->lazy_idx = 0;
    for (int r = 0; r < dormant.n_rec; r++) {
        const tg__lazy_rec *rec = &dormant.rec[r];
        for (int o = 0; o < rec->n_out; o++)
            rec->out[o]->lazy_idx++;
        for (int i = 0; i < rec->n_in; i++)
            if (rec->in[i]->lazy_role & TG__LZ_DOUT)
                rec->in[i]->lazy_idx++;
    }
    bool held = false;
    for (int r = 0; r < dormant.n_rec && !held; r++)
        for (int o = 0; o < dormant.rec[r].n_out && !held; o++)
            held = !dormant.rec[r].done && dormant.rec[r].out[o]->refcount > dormant.rec[r].out[o]->lazy_idx;
    if (held)
        compute_dormant();
    else
        drop_dormant();
}

void tg__lazy_trace_dormant(tg__lazy_trace *t)
{
    retire();
    for (int r = 0; r < t->n_rec; r++) {
        tg__lazy_rec *rec = &t->rec[r];
        for (int o = 0; o < rec->n_out; o++)
            rec->out[o]->lazy_role = (unsigned char)((rec->out[o]->lazy_role & TG__LZ_CONST) |
                                                     (rec->done ? 0 : TG__LZ_DOUT));
    }
    for (int r = 0; r < t->n_rec; r++) {
        tg__lazy_rec *rec = &t->rec[r];
        for (int i = 0; i < rec->n_in; i++)
            if (rec->in[i]->lazy_role & TG__LZ_EXT)
                rec->in[i]->lazy_role = (unsigned char)((rec->in[i]->lazy_role & TG__LZ_CONST) | TG__LZ_DIN);
    }
    dormant = *t;
    memset(t, 0, sizeof *t);
    tg__lazy_touch = touch;
    tg__lazy_retire = retire;
}

/* The record list and the scratch stay allocated between realizations (a
** steady loop allocates nothing); tg_release_memory frees the calling
** thread's when nothing is pending, and a thread's go when it exits. */
static pthread_key_t lazy_key;
static pthread_once_t lazy_once = PTHREAD_ONCE_INIT;

static void free_buffers(void)
{
    free_arrays(&cur);
    free_arrays(&spare);
    tg__free(subs);
    subs = NULL;
    cap_subs = 0;
    tg__free(scratch);
    scratch = NULL;
    cap_scratch = 0;
    tg__free(gather);
    gather = NULL;
    cap_gather = 0;
}
static void lazy_exit(void *arg)
{
    (void)arg;
    if (cur.n_rec)
        flush();
    retire();
    free_buffers();
}
static void lazy_release(void)
{
    if (cur.n_rec)
        flush();
    retire();
    if (!cur.n_rec)
        free_buffers();
}
static void make_key(void)
{
    pthread_key_create(&lazy_key, lazy_exit);
    tg__on_release_memory(lazy_release);
}

/* ------------------------------------------------------------ recording */

static bool reserve(const tg_function *fn, const void *args, int n_key, int n_gather)
{
    if (n_gather > cap_gather) {
        double *q = tg__realloc(gather, (size_t)n_gather * LAZY_BLOCK * sizeof *q);
        if (!q)
            return false;
        gather = q, cap_gather = n_gather;
    }
    if (!cur.rec && !scratch) {   /* the first buffer of this thread: free them at its exit */
        pthread_once(&lazy_once, make_key);
        pthread_setspecific(lazy_key, &lazy_key);
    }
    if (!grow(&cur.rec, &cur.cap_rec, cur.n_rec + 1, sizeof *cur.rec) ||
        !grow(&cur.ext, &cur.cap_ext, cur.n_ext + TG_MAX_FN_ARITY, sizeof *cur.ext) ||
        !grow(&cur.key, &cur.cap_key, cur.n_key + n_key, sizeof *cur.key))
        return false;
    int64_t need = fn && fn->desc && fn->desc->scratch ? fn->desc->scratch(args) : 0;
    if (need > cap_scratch) {
        double *q = tg__realloc(scratch, (size_t)need * sizeof *q);
        if (!q)
            return false;
        scratch = q, cap_scratch = need;
    }
    return true;
}

static void key_put(uint64_t w) { cur.key[cur.n_key++] = w; }

/* Where input t comes from, into the key (room reserved). */
static void key_input(tg_tensor *t)
{
    if (t->lazy_role & TG__LZ_OUT) {
        key_put(1ull << 62 | (uint64_t)t->lazy_idx);
        return;
    }
    if (!(t->lazy_role & TG__LZ_EXT)) {
        t->lazy_role |= TG__LZ_EXT;
        t->lazy_idx = cur.n_ext;
        cur.ext[cur.n_ext++] = t;
        bool inner = t->node && t->node->fn;   /* made by a recorded op outside the trace */
        key_put(3ull << 62 | (uint64_t)t->ndim | (uint64_t)t->requires_grad << 8 | (uint64_t)inner << 9);
        for (int d = 0; d < t->ndim; d++)
            key_put((uint64_t)t->shape[d]);
    }
    key_put(2ull << 62 | (uint64_t)t->lazy_idx);
}

/* The key words a record may take: its head, arguments, and per input a
** source and, for a new outside tensor, its flags and shape. */
static int key_room(int n_in, size_t args_size)
{
    return 3 + (int)(args_size / 8) + n_in * (2 + TG_MAX_DIMS) + TG_MAX_FN_ARITY * (2 + TG_MAX_DIMS);
}

static tg__lazy_rec *new_record(int kind, const tg_function *fn, int n_in, tg_tensor *const *inputs,
                                const void *args, size_t args_size)
{
    tg__lazy_rec *r = &cur.rec[cur.n_rec];
    r->kind = (unsigned char)kind;
    r->done = false;
    r->fn = fn;
    r->n_in = n_in;
    r->n_out = 0;
    r->args_size = args_size;
    if (args_size)
        memcpy(r->args, args, args_size);
    key_put((uint64_t)kind | (uint64_t)n_in << 8 | (uint64_t)args_size << 16);
    key_put((uint64_t)(uintptr_t)fn);
    for (size_t w = 0; w < args_size / 8; w++) {
        uint64_t a;
        memcpy(&a, (const char *)args + 8 * w, 8);
        key_put(a);
    }
    for (int i = 0; i < n_in; i++) {
        key_input(inputs[i]);
        r->in[i] = tg__tensor_ref(inputs[i]);
    }
    return r;
}

static void add_output(tg__lazy_rec *r, tg_tensor *out)
{
    out->lazy_role |= TG__LZ_OUT;
    out->lazy_role &= (unsigned char)~TG__LZ_EXT;
    out->lazy_idx = tg__lazy_out_idx(cur.n_rec, r->n_out);
    r->out[r->n_out++] = tg__tensor_ref(out);
}

/* Whether nothing on this thread forbids recording now. */
static bool may_record(void)
{
    return tg_is_lazy() && !tg__run_now_depth && !tg__backward_depth && !tg__anomaly_on && !tg__apply_hook;
}

/* The record kind of fn's apply, or -1: it runs now. */
static int kind_of(const tg_function *fn, tg_tensor *const *inputs, size_t args_size, uint32_t needs_grad)
{
    if (fn->n_outputs != 1 || args_size > sizeof cur.rec->args || args_size % 8)
        return -1;
    for (int i = 0; i < fn->n_inputs; i++)
        if (inputs[i]->uniform)
            return -1;
    if (fn->forward_span) {
        for (int i = 1; i < fn->n_inputs; i++)
            if (inputs[i]->ndim != inputs[0]->ndim ||
                memcmp(inputs[i]->shape, inputs[0]->shape, (size_t)inputs[0]->ndim * sizeof(int64_t)))
                return -1;
        return fn->n_inputs + 1 <= 2 * TG_MAX_FN_ARITY ? TG__LR_SPAN : -1;
    }
    const tg__opdesc *d = fn->desc;
    if (!d || (needs_grad && !(d->save & TG__SAVES)))
        return -1;
    if (d->kind == TG__OPK_POINT)
        return TG__LR_POINT;
    if (d->shape && fn->n_inputs == 1)
        return TG__LR_WHOLE;
    if ((d->kind == TG__OPK_SUM || d->kind == TG__OPK_MEAN) && (d->save & TG__SAVES) && fn->n_inputs == 1)
        return d->kind == TG__OPK_SUM ? TG__LR_SUM : TG__LR_MEAN;
    return -1;
}

bool tg__lazy_defer(const tg_function *fn, tg_tensor *const *inputs, tg_tensor **outputs, const void *args,
                    size_t args_size, uint32_t needs_grad, tg_status *st)
{
    if (!may_record())
        return false;
    int kind = kind_of(fn, inputs, args_size, needs_grad);
    if (kind < 0)
        return false;
    const char *name = fn->name ? fn->name : "tg_apply";
    int ndim = 0, n_gather = 0;
    int64_t shape[TG_MAX_DIMS], numel = 1;
    if (kind == TG__LR_POINT || kind == TG__LR_SPAN) {
        ndim = inputs[0]->ndim;
        memcpy(shape, inputs[0]->shape, (size_t)ndim * sizeof *shape);
        for (int i = 1; i < fn->n_inputs; i++) {
            int64_t both[TG_MAX_DIMS];
            if (!tg__broadcast_shape(name, ndim, shape, inputs[i]->ndim, inputs[i]->shape, &ndim, both)) {
                *st = TG_ERR_SHAPE;   /* the error eager's forward reports, at apply */
                return true;
            }
            memcpy(shape, both, sizeof both);
        }
        for (int d = 0; d < ndim; d++)
            numel *= shape[d];
        for (int i = 0; i < fn->n_inputs; i++)
            if (inputs[i]->numel != numel && inputs[i]->numel != 1) {
                if (kind == TG__LR_SPAN)
                    return false;   /* a real broadcast: run it now */
                n_gather = fn->n_inputs;   /* a POINT op reads it through an index map */
            }
    } else if (kind == TG__LR_WHOLE) {
        if ((ndim = fn->desc->shape(args, inputs[0], shape)) < 0) {
            *st = tg_last_status();   /* the error eager's forward reports, at apply */
            return true;
        }
    }
    if (!cur.n_rec && dormant.n_rec)
        retire();   /* a new trace: the last step's dormant values go, or are computed if held */
    bool view = kind == TG__LR_WHOLE && fn->desc->kind == TG__OPK_VIEW;
    if (view && !(inputs[0]->lazy_role & (TG__LZ_OUT | TG__LZ_DOUT))) {
        /* a view of a computed tensor: made now, nothing to record or compute */
        tg_tensor *v = tg__tensor_alias(inputs[0], ndim, shape);
        *st = v && tg__adopt(v) ? TG_OK : tg_last_status() != TG_OK ? tg_last_status() : TG_ERR_NOMEM;
        outputs[0] = *st == TG_OK ? v : NULL;
        return true;
    }
    if (!reserve(fn, args, key_room(fn->n_inputs, args_size), n_gather)) {
        *st = tg__error(TG_ERR_NOMEM, "%s: out of memory recording the op (lazy mode)", name);
        return true;   /* as eager's apply reports its own allocation failures */
    }
    tg_tensor *out = view ? tg__tensor_alias(inputs[0], ndim, shape) : tg__tensor_new(name, ndim, shape);
    if (!out || !tg__adopt(out)) {
        *st = tg_last_status() != TG_OK ? tg_last_status() : TG_ERR_NOMEM;
        return true;
    }
    tg__lazy_rec *r = new_record(kind, fn, fn->n_inputs, inputs, args, args_size);
    add_output(r, out);
    cur.n_rec++;
    cur.grad = cur.grad || needs_grad;
    tg__lazy_flush = flush;
    outputs[0] = out;
    *st = TG_OK;
    return true;
}

bool tg__lazy_fn_defers(const tg_function *fn)
{
    return fn->forward && !fn->desc && may_record();
}

tg_status tg__lazy_fn_record(const tg_function *fn, tg_tensor *const *inputs, tg_tensor *const *outputs)
{
    bool made = false;   /* by its forward's records; else (a raw loop) its outputs are plain tensors */
    for (int o = 0; o < fn->n_outputs; o++)
        made = made || (outputs[o]->lazy_role & TG__LZ_OUT);
    if (!made)
        return TG_OK;
    if (!reserve(NULL, NULL, key_room(fn->n_inputs, 0) + fn->n_outputs * (2 + TG_MAX_DIMS), 0))
        return tg__error(TG_ERR_NOMEM, "%s: out of memory recording the Function (lazy mode)",
                         fn->name ? fn->name : "tg_apply");
    tg__lazy_rec *r = new_record(TG__LR_FN, fn, fn->n_inputs, inputs, NULL, 0);
    for (int o = 0; o < fn->n_outputs; o++) {
        tg_tensor *t = outputs[o];
        if (t->lazy_role & TG__LZ_OUT) {   /* made by one of its forward's records */
            key_put(1ull << 62 | (uint64_t)t->lazy_idx);
            r->out[r->n_out++] = tg__tensor_ref(t);
        } else {
            key_put(3ull << 61 | (uint64_t)t->ndim);
            for (int d = 0; d < t->ndim; d++)
                key_put((uint64_t)t->shape[d]);
            add_output(r, t);
        }
    }
    cur.n_rec++;
    cur.grad = cur.grad || (outputs[0]->node && outputs[0]->node->fn == fn);
    tg__lazy_flush = flush;
    return TG_OK;
}
