/* SPDX-License-Identifier: MIT */
/*
** Lazy mode: applying an op that needs no graph node records it instead of
** running it, and the thread's pending ops are computed together at the next
** realization point (any public function checking a tensor argument:
** tg_data, tg_item, tg_realize, tg_free...; tg_scope_end; a backward, an
** optimizer step, the apply of an op that runs now).  What is deferred: a
** pointwise op with a descriptor (core/opdesc.h) applied outside any forward
** or backward, with no input needing a gradient (recording off, or none
** requires grad), and inputs of the output's size or of one element.  Its
** shapes and arguments are checked, and its output allocated, at apply;
** only the values wait.  Realization runs the pending ops as passes over
** blocks of points, every op of a pass (the consecutive ops of one size) on
** one block before the next block, through the descriptors' block functions:
** the kernels eager mode calls on the same points, so the bits are eager's.
** It never allocates (apply reserves what it needs) and cannot fail.  Autograd
** layer: tg_apply_args asks it first; core reaches it only through the
** tg__lazy_flush pointer it sets.
*/
#include "graph.h"
#include "../core/opdesc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

enum { LAZY_ARGS = 4, LAZY_BLOCK = 2048 };   /* LAZY_ARGS: doubles of an op's argument block */

typedef struct lazy_rec {
    const tg__opdesc *desc;
    int n_in;
    tg_tensor *in[TG_MAX_FN_ARITY], *out;    /* references */
    double args[LAZY_ARGS];
} lazy_rec;

_Thread_local signed char tg__lazy_state TG_TLS_HOT;   /* 0: default not read yet, 1 on, -1 off */
static _Thread_local lazy_rec *recs;
static _Thread_local int n_recs, cap_recs;
static _Thread_local double *scratch;
static _Thread_local int64_t cap_scratch;

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

bool tg_set_lazy(bool on)
{
    bool prev = tg_is_lazy();
    if (!on)
        tg__lazy_sync();
    tg__lazy_state = on ? 1 : -1;
    return prev;
}

tg_status tg_realize(tg_tensor *t)
{
    if (!t)
        return tg__error(TG_ERR_ARG, "tg_realize: t is NULL");
    return tg__check_live("tg_realize", "t", t);   /* realizes all pending work */
}

/* Records [r0, r1), all of n points, block by block. */
static void run_pass(int r0, int r1, int64_t n)
{
    for (int64_t lo = 0; lo < n; lo += LAZY_BLOCK) {
        int64_t nb = n - lo < LAZY_BLOCK ? n - lo : LAZY_BLOCK;
        for (int r = r0; r < r1; r++) {
            const lazy_rec *rec = &recs[r];
            const double *x[TG_MAX_FN_ARITY];
            int64_t inc[TG_MAX_FN_ARITY];
            for (int i = 0; i < rec->n_in; i++) {
                bool full = rec->in[i]->numel == n;
                x[i] = rec->in[i]->data + (full ? lo : 0);
                inc[i] = full ? 1 : 0;
            }
            rec->desc->block(nb, x, inc, rec->args, rec->out->data + lo, scratch);
        }
    }
}

static void flush(void)
{
    tg__lazy_flush = NULL;
    for (int i = 0; i < n_recs;) {
        int64_t n = recs[i].out->numel;
        int j = i + 1;
        while (j < n_recs && recs[j].out->numel == n)
            j++;
        run_pass(i, j, n);
        i = j;
    }
    int n = n_recs;
    n_recs = 0;   /* before the unrefs: freeing a tensor may realize */
    for (int r = 0; r < n; r++) {
        for (int i = 0; i < recs[r].n_in; i++)
            tg__tensor_unref(recs[r].in[i]);
        tg__tensor_unref(recs[r].out);
    }
}

/* The record list and the scratch stay allocated between realizations (a
** steady loop allocates nothing); tg_release_memory frees the calling
** thread's when nothing is pending, and a thread's go when it exits. */
static pthread_key_t lazy_key;
static pthread_once_t lazy_once = PTHREAD_ONCE_INIT;

static void free_buffers(void)
{
    tg__free(recs);
    tg__free(scratch);
    recs = NULL, scratch = NULL;
    cap_recs = 0, cap_scratch = 0;
}
static void lazy_exit(void *arg)
{
    (void)arg;
    if (n_recs)
        flush();
    free_buffers();
}
static void lazy_release(void)
{
    if (!n_recs)
        free_buffers();
}
static void make_key(void)
{
    pthread_key_create(&lazy_key, lazy_exit);
    tg__on_release_memory(lazy_release);
}

static bool reserve(const tg__opdesc *d, const void *args)
{
    if (!recs && !scratch) {   /* the first buffer of this thread: free them at its exit */
        pthread_once(&lazy_once, make_key);
        pthread_setspecific(lazy_key, &lazy_key);
    }
    if (n_recs == cap_recs) {
        int cap = cap_recs ? 2 * cap_recs : 64;
        lazy_rec *q = tg__realloc(recs, (size_t)cap * sizeof *q);
        if (!q)
            return false;
        recs = q, cap_recs = cap;
    }
    int64_t need = d->scratch ? d->scratch(args) : 0;
    if (need > cap_scratch) {
        double *q = tg__realloc(scratch, (size_t)need * sizeof *q);
        if (!q)
            return false;
        scratch = q, cap_scratch = need;
    }
    return true;
}

/* Whether fn's apply can wait: see the file comment. */
static bool deferrable(const tg_function *fn, tg_tensor *const *inputs, size_t args_size)
{
    if (!fn->desc || fn->desc->kind != TG__OPK_POINT || fn->n_outputs != 1 || args_size > sizeof recs->args ||
        tg__run_now_depth || tg__backward_depth || tg__anomaly_on || tg__apply_hook)
        return false;
    for (int i = 0; i < fn->n_inputs; i++)
        if (inputs[i]->uniform || (!tg__grad_off && inputs[i]->requires_grad))
            return false;
    return true;
}

bool tg__lazy_defer(const tg_function *fn, tg_tensor *const *inputs, tg_tensor **outputs, const void *args,
                    size_t args_size, tg_status *st)
{
    if (!tg_is_lazy() || !deferrable(fn, inputs, args_size))
        return false;
    int ndim = inputs[0]->ndim;
    int64_t shape[TG_MAX_DIMS], numel = 1;
    memcpy(shape, inputs[0]->shape, (size_t)ndim * sizeof *shape);
    for (int i = 1; i < fn->n_inputs; i++) {
        int64_t both[TG_MAX_DIMS];
        if (!tg__broadcast_shape(fn->name ? fn->name : "tg_apply", ndim, shape, inputs[i]->ndim,
                                 inputs[i]->shape, &ndim, both)) {
            *st = TG_ERR_SHAPE;   /* the error eager's forward reports, at apply */
            return true;
        }
        memcpy(shape, both, sizeof both);
    }
    for (int d = 0; d < ndim; d++)
        numel *= shape[d];
    for (int i = 0; i < fn->n_inputs; i++)
        if (inputs[i]->numel != numel && inputs[i]->numel != 1)
            return false;   /* a real broadcast: run it now */
    if (!reserve(fn->desc, args))
        return false;   /* no room to wait: run it now */
    tg_tensor *out = tg__tensor_new(fn->name ? fn->name : "tg_apply", ndim, shape);
    if (!out || !tg__adopt(out)) {
        *st = tg_last_status() != TG_OK ? tg_last_status() : TG_ERR_NOMEM;
        return true;
    }
    lazy_rec *r = &recs[n_recs++];
    r->desc = fn->desc;
    r->n_in = fn->n_inputs;
    for (int i = 0; i < fn->n_inputs; i++)
        r->in[i] = tg__tensor_ref(inputs[i]);
    r->out = tg__tensor_ref(out);
    if (args_size)
        memcpy(r->args, args, args_size);
    tg__lazy_flush = flush;
    outputs[0] = out;
    *st = TG_OK;
    return true;
}
