/* SPDX-License-Identifier: MIT */
/*
** The context a Function's forward and backward are given (a tg_ctx is its
** node): the tensors it saves and gets back, which inputs need a gradient,
** its argument block, and the guard nodes that make a second differentiation
** through something that cannot be differentiated again fail instead of
** giving a wrong number; and the saving itself: the aliases that record
** what each saved tensor is, made in forward, or for an op lazy mode
** recorded, when its record is computed (tg__node_save).  Used by tg_apply
** (function.c), span Functions (span.c) and lazy mode (lazy.c).  Autograd
** layer.
*/
#include "graph.h"
#include "../core/opdesc.h"

tg_status tg_save_for_backward(tg_ctx *ctx, int n, tg_tensor *const *tensors)
{
    if (!ctx)
        return tg__error(TG_ERR_ARG, "tg_save_for_backward: ctx is NULL");
    if (!ctx->in_forward)
        return tg__error(TG_ERR_STATE, "tg_save_for_backward: '%s' called it outside forward",
                         tg__node_name(ctx));
    if (n < 0 || n > TG_MAX_FN_ARITY * 2)
        return tg__error(TG_ERR_ARG, "tg_save_for_backward: n is %d, must be 0..%d", n,
                         TG_MAX_FN_ARITY * 2);
    if (n > 0 && !tensors)
        return tg__error(TG_ERR_ARG, "tg_save_for_backward: tensors is NULL");
    for (int i = 0; i < n; i++)
        if (!tensors[i])
            return tg__error(TG_ERR_ARG, "tg_save_for_backward: tensors[%d] is NULL in '%s'", i,
                             tg__node_name(ctx));
    tg_tensor **raw = ctx->pending;
    for (int i = 0; i < ctx->n_saved; i++)
        tg__tensor_unref(raw[i]);
    for (int i = 0; i < n; i++)
        raw[i] = tg__tensor_ref(tensors[i]);
    ctx->n_saved = n;
    return TG_OK;
}

/* ------------------------------------------------ what a node saves */

/* Replaces each saved tensor by an alias that records what it is: a saved
** output keeps no link to its node (that would be a cycle); a saved input
** keeps its graph, so a double backward can differentiate through it. */
static tg_status classify_saved(tg__node *n, tg_tensor *const *inputs, tg_tensor *const *outputs,
                                tg_tensor *const *raw)
{
    for (int s = 0; s < n->n_saved; s++) {
        tg_tensor *t = raw[s];
        tg__saved *sv = &n->saved[s];
        sv->kind = TG__SAVED_OTHER;
        for (int k = 0; k < n->n_outputs && sv->kind == TG__SAVED_OTHER; k++)
            if (outputs[k] == t)
                sv->kind = TG__SAVED_OUTPUT, sv->index = k;
        for (int k = 0; k < n->n_inputs && sv->kind == TG__SAVED_OTHER; k++)
            if (inputs[k] == t)
                sv->kind = TG__SAVED_INPUT, sv->index = k;
        tg_tensor *a = tg__tensor_alias(t, t->ndim, t->shape);
        if (!a)
            return tg__error(TG_ERR_NOMEM, "tg_apply: out of memory saving tensors of '%s'",
                             tg__node_name(n));
        if (sv->kind != TG__SAVED_OUTPUT && t->node) {
            a->node = t->node;
            a->node->refcount++;
            a->out_index = t->out_index;
            a->requires_grad = t->requires_grad;
        } else if (sv->kind == TG__SAVED_INPUT && t->requires_grad) {
            a->requires_grad = true;
            a->node = tg__leaf_node(t);
            if (!a->node) {
                tg__tensor_unref(a);
                return TG_ERR_NOMEM;
            }
            a->node->refcount++;
        }
        sv->t = a;
    }
    return TG_OK;
}

/* Gives node n its k saved slots (in the node up to TG__SAVED_INLINE, else a
** block of their own) and fills them from raw[0..k) (classify_saved). */
tg_status tg__ctx_take_saved(tg__node *n, int k, tg_tensor *const *inputs, tg_tensor *const *outputs,
                            tg_tensor *const *raw)
{
    n->saved = k <= TG__SAVED_INLINE ? n->saved_inline : tg__obj_alloc((size_t)k * sizeof *n->saved);
    if (!n->saved) {
        n->n_saved = 0;
        return tg__error(TG_ERR_NOMEM, "tg_apply: out of memory saving tensors of '%s'", tg__node_name(n));
    }
    n->n_saved = k;
    for (int s = 0; s < k; s++)
        n->saved[s] = (tg__saved){NULL, TG__SAVED_OTHER, 0};
    return classify_saved(n, inputs, outputs, raw);
}

/* Gives the node the saved tensors its descriptor's spec (or a span
** Function's rule: inputs, then output) names, as its forward would. */
static tg_status save_as_forward(tg__node *n, tg_tensor *const *inputs, tg_tensor *const *outputs)
{
    tg_tensor *raw[TG_MAX_FN_ARITY * 2];
    int k = 0;
    const tg_function *fn = n->fn;
    if (fn->forward_span) {
        for (int i = 0; i < fn->n_inputs; i++)
            raw[k++] = inputs[i];
        raw[k++] = outputs[0];
    } else {
        unsigned save = fn->desc->save;
        for (int i = 0; i < fn->n_inputs && i < 4; i++)
            if (save & TG__SAVE_IN(i))
                raw[k++] = inputs[i];
        if (save & TG__SAVE_OUT)
            raw[k++] = outputs[0];
    }
    return k ? tg__ctx_take_saved(n, k, inputs, outputs, raw) : TG_OK;
}

void tg__node_save(tg__node *n, tg_tensor *const *inputs, tg_tensor *const *outputs)
{
    if (!n->save_deferred)
        return;
    n->save_deferred = false;
    if (!n->released && save_as_forward(n, inputs, outputs) != TG_OK) {
        tg__node_release_saved(n);   /* the slots made so far */
        n->save_lost = true;
    }
}

/* ------------------------------------------------ reading them back */

/* A saved output under create_graph: a view that is output k of its node
** again, so ops on it are differentiated through the node. */
static tg_tensor *rebuild_output(const tg_ctx *ctx, const tg__saved *sv)
{
    tg_tensor *t = tg__tensor_alias(sv->t, sv->t->ndim, sv->t->shape);
    if (!t) {
        tg__error(TG_ERR_NOMEM, "tg_saved_tensor: out of memory");
        return NULL;
    }
    t->node = (tg__node *)ctx;
    t->node->refcount++;
    t->out_index = sv->index;
    t->requires_grad = true;
    return tg__adopt(t);
}

tg_tensor *tg_saved_tensor(const tg_ctx *ctx, int i)
{
    if (!ctx) {
        tg__error(TG_ERR_ARG, "tg_saved_tensor: ctx is NULL");
        return NULL;
    }
    if (ctx->released) {
        tg__error(TG_ERR_STATE,
                  "tg_saved_tensor: the saved tensors of '%s' were freed by an earlier backward; "
                  "pass retain_graph to walk a graph twice", tg__node_name(ctx));
        return NULL;
    }
    if (ctx->save_lost) {
        tg__error(TG_ERR_NOMEM, "tg_saved_tensor: '%s' ran out of memory saving its tensors when lazy mode "
                  "computed it", tg__node_name(ctx));
        return NULL;
    }
    TG_ASSERT(!ctx->save_deferred);   /* made when its record is computed, before any backward */
    if (ctx->in_forward || i < 0 || i >= ctx->n_saved) {
        tg__error(TG_ERR_ARG, "tg_saved_tensor: index %d out of range, '%s' saved %d", i,
                  tg__node_name(ctx), ctx->in_forward ? 0 : ctx->n_saved);
        return NULL;
    }
    const tg__saved *sv = &ctx->saved[i];
    if (ctx->create_graph && sv->kind == TG__SAVED_OUTPUT)
        return rebuild_output(ctx, sv);
    if (ctx->create_graph && sv->kind == TG__SAVED_OTHER && !sv->t->node && ctx->needs_grad)
        return tg__intermediate_guard((tg__node *)ctx, sv->t, i);
    return sv->t;
}

/* ------------------------------------- once-differentiable, intermediates */

/* A guard node stands for something the engine cannot differentiate again:
** the gradient a once-differentiable backward returned (slot -1), or a saved
** intermediate computed with recording off (its slot).  It depends on what the
** origin depended on, so a second backward that needs it reaches it and fails. */
typedef struct guard_args { const char *name; int slot; } guard_args;

static tg_status guard_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    (void)ctx, (void)in, (void)out;
    return tg__error(TG_ERR_STATE, "once_differentiable guard: not applied directly");
}

/* forward: none (made by the executor)  =>  differentiating it is an error */
static tg_status guard_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    const guard_args *ga = tg_ctx_args(ctx);
    (void)g, (void)gin;
    if (ga->slot >= 0)
        return tg__error(TG_ERR_STATE,
                         "tg_backward: '%s' saved slot %d is an intermediate computed in forward with "
                         "recording off; its backward used it as a constant, so differentiating that "
                         "gradient again would be silently wrong; return the intermediate as an output "
                         "of '%s' and save the output (or compute it with tg_set_grad_enabled(true) "
                         "inside forward)", ga->name, ga->slot, ga->name);
    return tg__error(TG_ERR_STATE,
                     "tg_backward: '%s' is once_differentiable: the gradient its backward returned "
                     "cannot be differentiated again", ga->name);
}

static const tg_function once_guard = {.name = "once_differentiable", .n_inputs = 1,
                                       .n_outputs = 1, .forward = guard_forward,
                                       .backward = guard_backward};
static const tg_function intermediate_guard = {.name = "saved_intermediate", .n_inputs = 1,
                                               .n_outputs = 1, .forward = guard_forward,
                                               .backward = guard_backward};

/* An alias of t (reference taken when take) that is the output of a new guard
** node with n's edges.  NULL on OOM (recorded). */
static tg_tensor *guarded(const tg_function *fn, tg__node *n, tg_tensor *t, int slot)
{
    guard_args ga = {tg__node_name(n), slot};
    tg__node *gn = tg__node_new(fn, n->n_inputs, 1, &ga, sizeof ga);
    tg_tensor *out = gn ? tg__tensor_alias(t, t->ndim, t->shape) : NULL;
    if (!out) {
        tg__node_unref(gn);
        tg__error(TG_ERR_NOMEM, "tg_backward: out of memory guarding '%s'", tg__node_name(n));
        return NULL;
    }
    for (int i = 0; i < n->n_inputs; i++) {   /* depends on what n depended on */
        gn->edges[i] = n->edges[i];
        gn->in_meta[i] = n->in_meta[i];
        if (gn->edges[i].node)
            gn->edges[i].node->refcount++;
    }
    gn->needs_grad = n->needs_grad;
    tg__set_meta(&gn->out_meta[0], out);
    out->node = gn;   /* the node's own reference passes to the output */
    out->requires_grad = true;
    return out;
}

tg_tensor *tg__once_guard(tg__node *n, tg_tensor *g)
{
    tg_tensor *out = guarded(&once_guard, n, g, -1);
    tg__tensor_unref(g);
    return out;
}

tg_tensor *tg__intermediate_guard(tg__node *n, tg_tensor *t, int slot)
{
    tg_tensor *out = guarded(&intermediate_guard, n, t, slot);
    return out ? tg__adopt(out) : NULL;
}

bool tg_needs_input_grad(const tg_ctx *ctx, int i)
{
    return ctx && i >= 0 && i < ctx->n_inputs && (ctx->needs_grad >> i & 1u);
}

const int64_t *tg__ctx_in_shape(const tg_ctx *ctx, int i, int *ndim)
{
    TG_ASSERT(i >= 0 && i < ctx->n_inputs);
    *ndim = ctx->in_meta[i].ndim;
    return ctx->in_meta[i].shape;
}

void tg__ctx_takes_uniform_grad(tg_ctx *ctx) { ctx->uniform_grad = true; }

int tg__ctx_n_inputs(const tg_ctx *ctx) { return ctx->n_inputs; }

const void *tg_ctx_args(const tg_ctx *ctx)
{
    return ctx ? ctx->args : NULL;
}
