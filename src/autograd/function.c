/* SPDX-License-Identifier: MIT */
/*
** tg_apply: the one path every operation takes, built-in or user-defined.  It
** runs a Function's forward in a scope of its own with recording off, takes
** the outputs, and, when an input requires grad, records a node that links the
** outputs to the inputs' nodes.  Also the thread's gradient mode.  The
** context calls a Function makes are in ctx.c.  Autograd layer.
*/
#include "graph.h"
#include "../core/opdesc.h"

#include <string.h>

_Thread_local bool tg__grad_off TG_TLS_HOT;   /* zero-initialized: recording on */
_Thread_local tg__apply_hook_fn *tg__apply_hook TG_TLS_HOT;
_Thread_local int tg__run_now_depth TG_TLS_HOT;

bool tg_set_grad_enabled(bool on)
{
    bool prev = !tg__grad_off;
    tg__grad_off = !on;
    return prev;
}

bool tg_is_grad_enabled(void) { return !tg__grad_off; }

static const char *fn_name(const tg_function *fn)
{
    return fn->name ? fn->name : "(unnamed Function)";
}

static tg_status check_apply(const tg_function *fn, tg_tensor *const *inputs, tg_tensor **outputs)
{
    if (!fn)
        return tg__error(TG_ERR_ARG, "tg_apply: fn is NULL");
    if (fn->forward_span && (fn->forward || fn->backward || fn->n_outputs != 1))
        return tg__error(TG_ERR_ARG, "tg_apply: '%s' gives span kernels, so it must have one output "
                         "and no forward or backward", fn_name(fn));
    if (!fn->forward && !fn->forward_span)
        return tg__error(TG_ERR_ARG, "tg_apply: '%s' has no forward", fn_name(fn));
    if (fn->n_inputs < 1 || fn->n_inputs > TG_MAX_FN_ARITY || fn->n_outputs < 1 ||
        fn->n_outputs > TG_MAX_FN_ARITY)
        return tg__error(TG_ERR_ARG, "tg_apply: '%s' has %d inputs and %d outputs, each must be 1..%d",
                         fn_name(fn), fn->n_inputs, fn->n_outputs, TG_MAX_FN_ARITY);
    if (!outputs)
        return tg__error(TG_ERR_ARG, "tg_apply: outputs is NULL for '%s'", fn_name(fn));
    for (int i = 0; i < fn->n_outputs; i++)
        outputs[i] = NULL;
    if (!inputs)
        return tg__error(TG_ERR_ARG, "tg_apply: inputs is NULL for '%s'", fn_name(fn));
    for (int i = 0; i < fn->n_inputs; i++) {
        if (!inputs[i]) {
            if (tg_last_status() != TG_OK)
                return tg_last_status();
            return tg__error(TG_ERR_ARG, "%s: input %d is NULL", fn_name(fn), i);
        }
        if (inputs[i]->magic != TG__LIVE)
            return tg__error(TG_ERR_STATE, "%s: input %d was already freed (its scope ended or "
                             "tg_free was called)", fn_name(fn), i);
    }
    return TG_OK;
}

/* Takes ownership of output i after forward: it must be a fresh tensor made
** inside forward; anything else (an input, an outer tensor, a repeat) is
** replaced by a view sharing its storage. */
static tg_status take_output(tg__node *n, int depth, tg_tensor **outputs, int i)
{
    tg_tensor *t = outputs[i];
    bool fresh = tg__owner_depth(t) > depth && !t->node;
    for (int j = 0; j < i && fresh; j++)
        fresh = outputs[j] != t;
    if (fresh) {
        tg__unscope(t);
        return TG_OK;
    }
    tg_tensor *v = tg__tensor_alias(t, t->ndim, t->shape);
    if (!v)
        return tg__error(TG_ERR_NOMEM, "tg_apply: out of memory taking the outputs of '%s'",
                         fn_name(n->fn));
    outputs[i] = v;
    return TG_OK;
}

/* Links a node into the graph: edges to the inputs' nodes, outputs to it. */
static tg_status record(tg__node *n, tg_tensor *const *inputs, tg_tensor **outputs)
{
    for (int i = 0; i < n->n_inputs; i++) {
        tg_tensor *in = inputs[i];
        tg__set_meta(&n->in_meta[i], in);
        if (!in->requires_grad)
            continue;
        tg__node *up = in->node ? in->node : tg__leaf_node(in);
        if (!up)
            return TG_ERR_NOMEM;
        up->refcount++;
        n->edges[i].node = up;
        n->edges[i].index = in->out_index;
    }
    for (int k = 0; k < n->n_outputs; k++) {
        tg__set_meta(&n->out_meta[k], outputs[k]);
        outputs[k]->node = n;
        outputs[k]->out_index = k;
        outputs[k]->requires_grad = true;
        n->refcount++;
    }
    return TG_OK;
}

/* Bit i set when input i requires grad and recording is on. */
static uint32_t grad_mask(const tg_function *fn, tg_tensor *const *inputs)
{
    uint32_t mask = 0;
    for (int i = 0; !tg__grad_off && i < fn->n_inputs; i++)
        if (inputs[i]->requires_grad)
            mask |= 1u << i;
    return mask;
}

/* lazy: a user Function's forward in lazy mode, its ops recorded (lazy.c):
** its scope's end is then no realization point. */
static tg_status run_forward(tg__node *n, tg_tensor *const *inputs, tg_tensor **outputs, bool lazy)
{
    int depth = tg__scope_depth();
    tg__scope_enter();
    bool prev_off = tg__grad_off;
    tg__grad_off = true;
    tg_tensor *raw_saved[TG_MAX_FN_ARITY * 2];   /* the first n->n_saved are set */
    n->in_forward = true;
    n->pending = raw_saved;   /* raw pointers until classified */
    tg__run_now_depth += !lazy;
    tg_status st = n->fn->forward ? n->fn->forward(n, inputs, outputs)
                                  : tg__span_forward(n, inputs, outputs);
    tg__run_now_depth -= !lazy;
    n->in_forward = false;
    n->pending = NULL;
    tg__grad_off = prev_off;
    if (st != TG_OK && tg_last_status() == TG_OK)
        tg__error(st, "%s: forward failed (%s)", fn_name(n->fn), tg_status_str(st));
    int taken = 0;
    for (int i = 0; st == TG_OK && i < n->n_outputs; i++) {
        if (!outputs[i])
            st = tg__error(TG_ERR_ARG, "%s: forward returned TG_OK but left output %d NULL",
                           fn_name(n->fn), i);
        else if ((st = take_output(n, depth, outputs, i)) == TG_OK)
            taken++;
    }
    if (st == TG_OK)
        st = tg__anomaly_check(n, true, n->n_outputs, outputs, inputs);
    int n_saved = n->n_saved;
    if (st == TG_OK && n_saved > 0)
        st = tg__ctx_take_saved(n, n_saved, inputs, outputs, raw_saved);
    else
        n->n_saved = 0;
    for (int s = 0; s < n_saved; s++)
        tg__tensor_unref(raw_saved[s]);
    for (int i = 0; st != TG_OK && i < n->n_outputs; i++) {
        if (i < taken)   /* ours now; the rest still belong to the forward's scope */
            tg__tensor_unref(outputs[i]);
        outputs[i] = NULL;
    }
    tg__scope_quiet += lazy;
    tg__scope_end_to(depth);
    tg__scope_quiet -= lazy;
    return st;
}

/* The node of an op lazy mode recorded (its value waits): made and linked
** at apply, as eager mode would, without running the forward.  What its
** forward would save is saved when the record is computed (tg__node_save,
** ctx.c): a fused step that runs the record's backward itself never makes it. */
static tg_status lazy_node(const tg_function *fn, tg_tensor *const *inputs, tg_tensor **outputs,
                           const void *args, size_t args_size, uint32_t mask)
{
    tg__node *n = tg__node_new(fn, fn->n_inputs, 1, args, args_size);
    tg_status st = n ? TG_OK : tg__error(TG_ERR_NOMEM, "tg_apply: out of memory for '%s'", fn_name(fn));
    if (st == TG_OK) {
        n->needs_grad = mask;
        n->uniform_grad = !fn->forward_span && (fn->desc->save & TG__SAVE_UNIFORM) != 0;
        n->save_deferred = true;
    }
    if (st == TG_OK)
        st = record(n, inputs, outputs);
    if (st != TG_OK && n && outputs[0]->node == n) {
        outputs[0]->node = NULL;
        outputs[0]->requires_grad = false;
        n->refcount--;
    }
    tg__node_unref(n);
    if (st != TG_OK)
        outputs[0] = NULL;   /* the scope and the pending record hold it */
    return st;
}

tg_status tg_apply_args(const tg_function *fn, tg_tensor *const *inputs, tg_tensor **outputs,
                        const void *args, size_t args_size)
{
    tg_status st = check_apply(fn, inputs, outputs);
    if (st != TG_OK)
        return st;
    if (args_size > 0 && !args)
        return tg__error(TG_ERR_ARG, "tg_apply: args is NULL with args_size %zu", args_size);
    bool lazy_fn = false;
    if (tg__lazy_state >= 0) {
        uint32_t mask = grad_mask(fn, inputs);
        if (tg__lazy_defer(fn, inputs, outputs, args, args_size, mask, &st))
            return st == TG_OK && mask ? lazy_node(fn, inputs, outputs, args, args_size, mask) : st;
        lazy_fn = tg__lazy_fn_defers(fn);
    }
    if (!lazy_fn)
        tg__lazy_sync();   /* this op runs now: what it reads must exist */
    tg__node *n = tg__node_new(fn, fn->n_inputs, fn->n_outputs, args, args_size);
    if (!n)
        return tg__error(TG_ERR_NOMEM, "tg_apply: out of memory for '%s'", fn_name(fn));
    n->needs_grad = grad_mask(fn, inputs);
    st = run_forward(n, inputs, outputs, lazy_fn);
    if (st == TG_OK && n->needs_grad)
        st = record(n, inputs, outputs);
    if (st == TG_OK && lazy_fn)
        st = tg__lazy_fn_record(fn, inputs, outputs);
    if (st != TG_OK) {
        for (int k = 0; k < fn->n_outputs; k++) {
            if (outputs[k] && outputs[k]->node == n) {
                outputs[k]->node = NULL;
                n->refcount--;
            }
            tg__tensor_unref(outputs[k]);
            outputs[k] = NULL;
        }
    }
    tg__node_unref(n);   /* the outputs hold it if it was recorded */
    for (int k = 0; st == TG_OK && k < fn->n_outputs; k++) {
        if (!tg__adopt(outputs[k])) {
            for (int j = k + 1; j < fn->n_outputs; j++)
                tg__tensor_unref(outputs[j]);
            for (int j = 0; j < fn->n_outputs; j++)
                outputs[j] = NULL;   /* the adopted ones are the scope's to free */
            st = TG_ERR_NOMEM;
        }
    }
    if (st == TG_OK && tg__apply_hook)   /* a layer above (tg_graph_capture) listens on this thread */
        tg__apply_hook(fn, inputs, outputs, args, args_size);
    return st;
}

tg_status tg_apply(const tg_function *fn, tg_tensor *const *inputs, tg_tensor **outputs)
{
    return tg_apply_args(fn, inputs, outputs, NULL, 0);
}

tg_tensor *tg_apply1(const tg_function *fn, tg_tensor *const *inputs)
{
    tg_tensor *out[TG_MAX_FN_ARITY];
    if (fn && fn->n_outputs != 1) {
        tg__error(TG_ERR_ARG, "tg_apply1: '%s' has %d outputs, not 1", fn_name(fn), fn->n_outputs);
        return NULL;
    }
    return tg_apply(fn, inputs, out) == TG_OK ? out[0] : NULL;
}
