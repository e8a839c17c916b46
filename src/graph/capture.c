/* SPDX-License-Identifier: MIT */
/*
** tg_graph_capture: records one training step while it runs eagerly once.
** While the thread's recorder is set, tg_apply_args reports every apply; those
** made with gradient recording on are the step's own work (loss_fn's ops, and
** the backward, which runs under create_graph so its ops are recorded too),
** while ops nested inside a Function's forward run with recording off and are
** left to that Function.  Tensors are identified by their data: the recorder
** holds a reference to every tensor it sees, so no block is recycled under it.
** A Function the planner cannot fuse has its backward wrapped for the capture:
** if that backward turns out to be made of recorded ops it is kept as ops,
** otherwise it is recorded as one opaque call.  A Function given as span
** kernels is recorded as an elementwise op (REC_SPAN) and its backward as
** another (REC_SPAN_BWD), so the planner can call the kernels inside its passes.
** Sits above autograd.
*/
#include "capture.h"
#include "../optim/optim.h"

#include <math.h>
#include <string.h>

_Thread_local tg__recorder *tg__graph_recorder;

typedef struct tg__wrap {
    tg_function fn;            /* first member: the node's fn points here while capturing */
    const tg_function *orig;
    tg__node *node;            /* a reference */
    int fwd;
    bool inlined;              /* the Function's forward was recorded as its ops (lazy mode) */
} tg__wrap;

static int record_type(const tg_function *fn)
{
    if (fn->forward_span)   /* REC_SPAN_BWD reads the inputs, the output and grad_out */
        return fn->n_inputs + 2 <= TG_MAX_FN_ARITY ? REC_SPAN : REC_OPAQUE;
    return fn->desc ? REC_OP : REC_OPAQUE;
}

static bool grow(void *p, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return true;
    int c = *cap * 2 > need ? *cap * 2 : need + 16;
    void *q = tg__realloc(*(void **)p, (size_t)c * elem);
    if (!q)
        return false;
    *(void **)p = q;
    *cap = c;
    return true;
}

static bool fail(tg__recorder *r)
{
    if (r->err == TG_OK)
        r->err = tg__error(TG_ERR_NOMEM, "tg_graph_capture: out of memory recording the step");
    return false;
}

static bool hold(tg__recorder *r, tg_tensor *t)
{
    if (!grow(&r->held, &r->cap_held, r->n_held + 1, sizeof *r->held))
        return fail(r);
    r->held[r->n_held++] = tg__tensor_ref(t);
    return true;
}

static int find(const tg__gval *val, int n_val, const double *key)
{
    for (int v = n_val - 1; key && v >= 0; v--)
        if (val[v].key == key)
            return v;
    return -1;
}

static int lookup(const tg__recorder *r, const double *key) { return find(r->val, r->n_val, key); }

static int new_value(tg__recorder *r, tg_tensor *t, int producer)
{
    if (!grow(&r->val, &r->cap_val, r->n_val + 1, sizeof *r->val) || !hold(r, t))
        return fail(r) ? -1 : -1;
    tg__gval *v = &r->val[r->n_val];
    memset(v, 0, sizeof *v);
    v->key = t->data;
    v->ext = producer < 0 ? t : NULL;
    v->producer = producer;
    v->ndim = t->ndim;
    memcpy(v->shape, t->shape, sizeof v->shape);
    v->numel = t->numel;
    v->alias = -1;
    return r->n_val++;
}

/* A value no tensor holds during capture (a span backward's full-shape
** gradient, summed to its input's shape before any tensor sees it). */
static int new_synthetic(tg__recorder *r, int ndim, const int64_t *shape, int producer)
{
    if (!grow(&r->val, &r->cap_val, r->n_val + 1, sizeof *r->val))
        return fail(r) ? -1 : -1;
    tg__gval *v = &r->val[r->n_val];
    memset(v, 0, sizeof *v);
    v->producer = producer;
    v->ndim = ndim;
    memcpy(v->shape, shape, (size_t)ndim * sizeof *shape);
    v->numel = 1;
    for (int d = 0; d < ndim; d++)
        v->numel *= shape[d];
    v->alias = -1;
    return r->n_val++;
}

static int value_of(tg__recorder *r, tg_tensor *t)
{
    int v = lookup(r, t->data);
    return v >= 0 ? v : new_value(r, t, -1);
}

/* A new record with its inputs read; NULL on OOM. */
static tg__grec *add_record(tg__recorder *r, int op, const tg_function *fn, int n_in,
                            tg_tensor *const *inputs, const void *args, size_t args_size)
{
    if (r->err || !grow(&r->rec, &r->cap_rec, r->n_rec + 1, sizeof *r->rec))
        return r->err ? NULL : (fail(r), NULL);
    int in[TG_MAX_FN_ARITY];
    for (int i = 0; i < n_in; i++)
        if ((in[i] = value_of(r, inputs[i])) < 0)
            return NULL;
    tg__grec *g = &r->rec[r->n_rec];
    memset(g, 0, sizeof *g);
    g->type = op, g->desc = op == REC_OP ? fn->desc : NULL, g->fn = fn, g->n_in = n_in, g->fwd = -1, g->bwd = -1;
    for (int i = 0; i < n_in; i++) {
        g->in[i] = in[i];
        g->in_meta[i].ndim = inputs[i]->ndim;
        memcpy(g->in_meta[i].shape, inputs[i]->shape, sizeof g->in_meta[i].shape);
    }
    if (args_size > 0) {
        if (!(g->args = tg__malloc(args_size)))
            return fail(r), NULL;
        memcpy(g->args, args, args_size);
        g->args_size = args_size;
    }
    r->n_rec++;
    return g;
}

static tg_status wrap_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin);

/* Swaps the node's Function for one whose backward reports to the recorder. */
static void wrap(tg__recorder *r, tg__node *n, int fwd, bool inlined)
{
    tg__wrap *w = tg__calloc(1, sizeof *w);
    if (!w || !grow(&r->wraps, &r->cap_wraps, r->n_wraps + 1, sizeof *r->wraps)) {
        tg__free(w);
        fail(r);
        return;
    }
    w->fn = *n->fn;
    w->fn.backward = wrap_backward;
    w->fn.once_differentiable = n->fn->once_differentiable || !n->fn->backward;   /* span kernels */
    w->orig = n->fn;
    w->node = n;
    w->fwd = fwd;
    w->inlined = inlined;
    n->refcount++;
    n->fn = &w->fn;
    r->wraps[r->n_wraps++] = w;
}

void tg__graph_record(const tg_function *fn, tg_tensor *const *inputs, tg_tensor *const *outputs,
                      const void *args, size_t args_size)
{
    tg__recorder *r = tg__graph_recorder;
    if (!tg_is_grad_enabled() || r->err)
        return;   /* nested in a forward: that Function's own business */
    int op = record_type(fn), k = r->n_rec;
    tg__grec *g = add_record(r, op, fn, fn->n_inputs, inputs, args, args_size);
    if (!g)
        return;
    tg__node *n = outputs[0]->node;
    g->needs_grad = n && n->fn == fn ? n->needs_grad : 0;
    g->n_out = fn->n_outputs;
    for (int o = 0; o < fn->n_outputs; o++)
        r->rec[k].out[o] = new_value(r, outputs[o], k);
    if ((op == REC_OPAQUE || op == REC_SPAN) && r->rec[k].needs_grad && (fn->backward || fn->backward_span))
        wrap(r, n, k, false);
}

/* True when the backward just run is made of recorded ops: everything they
** and its results read was known before it started (no tensor appeared from
** raw loops or from ops run with recording off). */
/* A value that appeared during the backward and is not a constant (made by
** tg_scalar, never written through tg_data): a raw result. */
static bool raw_new(const tg__recorder *r, int v, int v0)
{
    return v >= v0 && r->val[v].producer < 0 && !(r->val[v].ext && (r->val[v].ext->lazy_role & TG__LZ_CONST));
}

static bool made_of_ops(const tg__recorder *r, const tg_ctx *ctx, tg_tensor *const *gin, int r0, int v0)
{
    for (int k = r0; k < r->n_rec; k++)
        for (int i = 0; i < r->rec[k].n_in; i++)
            if (raw_new(r, r->rec[k].in[i], v0))
                return false;
    for (int i = 0; i < ctx->n_inputs; i++) {
        int v = gin[i] ? lookup(r, gin[i]->data) : 0;
        if (v < 0 || raw_new(r, v, v0))
            return false;
    }
    return true;
}

/* A SUM_TO record from the full-shape gradient full to the value of the
** gradient tensor gin (the input's shape); false on OOM. */
static bool add_sum_to(tg__recorder *r, int full, const tg__meta *full_meta, tg_tensor *gin)
{
    if (!grow(&r->rec, &r->cap_rec, r->n_rec + 1, sizeof *r->rec))
        return fail(r);
    int k = r->n_rec;
    tg__grec *s = &r->rec[k];
    memset(s, 0, sizeof *s);
    s->type = REC_OP, s->desc = &tg__sum_to_desc, s->n_in = 1, s->n_out = 1, s->fwd = -1, s->bwd = -1;
    s->in[0] = full;
    s->in_meta[0] = *full_meta;
    r->n_rec++;
    return (r->rec[k].out[0] = new_value(r, gin, k)) >= 0;
}

/* forward: out = f(in...) by span kernels  =>  REC_SPAN_BWD over {in..., out, grad_out},
** then a sum back to each broadcast input's shape */
static void record_span_backward(tg__recorder *r, const tg__wrap *w, tg_ctx *ctx, tg_tensor *const *g,
                                 tg_tensor *const *gin)
{
    int n_in = ctx->n_inputs, k = r->n_rec;
    tg_tensor *in[TG_MAX_FN_ARITY];
    for (int i = 0; i <= n_in; i++)
        if (!(in[i] = tg_saved_tensor(ctx, i))) {
            fail(r);
            return;
        }
    in[n_in + 1] = g[0];
    tg__grec *b = add_record(r, REC_SPAN_BWD, w->orig, n_in + 2, in, NULL, 0);
    if (!b)
        return;
    b->fwd = w->fwd;
    b->needs_grad = ctx->needs_grad;
    b->n_out = n_in;
    r->rec[w->fwd].bwd = k;
    const tg__meta full = b->in_meta[n_in + 1];
    for (int i = 0; i < n_in; i++) {
        r->rec[k].out[i] = r->rec[k].red[i] = -1;
        if (!gin[i])
            continue;
        bool same = gin[i]->ndim == full.ndim &&
                    !memcmp(gin[i]->shape, full.shape, (size_t)full.ndim * sizeof(int64_t));
        int v = same ? new_value(r, gin[i], k) : new_synthetic(r, full.ndim, full.shape, k);
        if (v < 0)
            return;
        r->rec[k].out[i] = v;
        if (!same) {
            r->rec[k].red[i] = r->n_rec;
            if (!add_sum_to(r, v, &full, gin[i]))
                return;
        }
    }
}

/* forward: whatever the wrapped Function computes  =>  its own backward, recorded */
static tg_status wrap_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    const tg__wrap *w = (const tg__wrap *)ctx->fn;
    tg__recorder *r = tg__graph_recorder;
    int r0 = r ? r->n_rec : 0, v0 = r ? r->n_val : 0;
    unsigned reads = tg__value_reads;
    tg_status st = w->orig->backward ? w->orig->backward(ctx, g, gin) : tg__span_backward(ctx, g, gin);
    if (st == TG_OK && r && !r->err && r->rec[w->fwd].type == REC_SPAN) {
        record_span_backward(r, w, ctx, g, gin);
        return TG_OK;   /* r->err reports a failure */
    }
    bool ops = reads == tg__value_reads && r && !r->err && made_of_ops(r, ctx, gin, r0, v0);
    if (st != TG_OK || !r || r->err || ops)
        return st;
    if (w->inlined) {   /* its forward is ops, its backward is not: no plan holds it */
        r->err = TG_ERR_STATE;
        return st;
    }
    int k = r->n_rec;
    tg__grec *b = add_record(r, REC_BWD, w->orig, ctx->n_outputs, g, NULL, 0);
    if (!b)
        return TG_OK;   /* r->err reports it */
    b->fwd = w->fwd;
    b->needs_grad = ctx->needs_grad;
    b->n_out = ctx->n_inputs;
    for (int i = 0; i < ctx->n_inputs; i++)
        r->rec[k].out[i] = gin[i] ? new_value(r, gin[i], k) : -1;
    return TG_OK;
}

static void recorder_end(tg__recorder *r)
{
    for (int i = 0; i < r->n_wraps; i++) {
        r->wraps[i]->node->fn = r->wraps[i]->orig;
        tg__node_unref(r->wraps[i]->node);
        tg__free(r->wraps[i]);
    }
    tg__free(r->wraps);
    for (int i = 0; i < r->n_held; i++)
        tg__tensor_unref(r->held[i]);
    tg__free(r->held);
}

static tg_status check_capture_args(const char *F, tg_tensor *(*loss_fn)(void *), const tg_params *params,
                                    double lr)
{
    if (!loss_fn || !params)
        return tg__error(TG_ERR_ARG, "%s: %s is NULL", F, loss_fn ? "params" : "loss_fn");
    if (tg_params_count(params) < 1)
        return tg__error(TG_ERR_ARG, "%s: params is empty", F);
    if (!isfinite(lr))
        return tg__error(TG_ERR_ARG, "%s: lr is %g, must be finite", F, lr);
    if (tg__graph_recorder)
        return tg__error(TG_ERR_STATE, "%s: a capture is already running on this thread", F);
    for (int i = 0; i < tg_params_count(params); i++) {
        tg_tensor *p = tg_params_get(params, i);
        if (!p->requires_grad || !tg__is_leaf(p))
            return tg__error(TG_ERR_ARG, "%s: parameter '%s' (index %d) must be a leaf that requires grad",
                             F, tg_params_name(params, i), i);
    }
    return TG_OK;
}

/* Runs loss_fn and the backward under the recorder; *grads gets the gradients. */
static tg_status record_step(const char *F, tg__recorder *r, tg_tensor *(*loss_fn)(void *), void *user,
                             const tg_params *params, tg_tensor **ps, tg_tensor **grads, tg_tensor **loss,
                             tg_tensor **seed)
{
    int np = tg_params_count(params);
    for (int i = 0; i < np; i++)
        ps[i] = tg_params_get(params, i);
    tg__graph_recorder = r;
    tg__apply_hook = tg__graph_record;
    tg_tensor *l = *loss = loss_fn(user);
    tg_status st = TG_OK;
    if (!l) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", tg_last_error());
        st = tg__error(tg_last_status() != TG_OK ? tg_last_status() : TG_ERR_ARG,
                       "%s: loss_fn returned NULL (%s)", F, msg[0] ? msg : "no error recorded");
    } else if (l->numel != 1) {
        char b[TG__SHAPE_STR];
        st = tg__error(TG_ERR_SHAPE, "%s: the loss has shape %s, it must have one element", F,
                       tg__shape_str(b, l->ndim, l->shape));
    } else if (!l->requires_grad) {
        st = tg__error(TG_ERR_ARG, "%s: the loss does not depend on any parameter", F);
    } else if (!(*seed = tg_full(l->ndim, l->shape, 1.0))) {
        st = tg__error(TG_ERR_NOMEM, "%s: out of memory", F);
    } else {   /* the seed torch.autograd.grad implies, made here so the plan knows it is 1 */
        tg_backward_opts o = {.create_graph = true};
        st = tg_autograd_grad(1, &l, seed, np, ps, grads, &o);
    }
    tg__graph_recorder = NULL;
    tg__apply_hook = NULL;
    if (st == TG_OK && r->err)
        st = r->err;
    return st;
}

/* The backward's seed (a 1 made for it) as a constant of the plan. */
static void seed_constant(tg_graph *g, const tg_tensor *seed)
{
    int s = find(g->val, g->n_val, seed->data);
    if (s >= 0 && g->val[s].producer < 0)
        g->val[s].constant = true, g->val[s].cval = 1.0;
}

/* Finds the loss, the parameters and their gradients among g's values. */
static tg_status find_outputs(tg_graph *g, const tg_params *params, tg_tensor *const *ps,
                              tg_tensor *const *grads, tg_tensor *loss, const tg_tensor *seed)
{
    int np = g->n_params;
    g->loss = find(g->val, g->n_val, loss->data);
    seed_constant(g, seed);
    g->param = tg__calloc((size_t)np, sizeof *g->param);
    g->pval = tg__calloc((size_t)np, sizeof *g->pval);
    g->gval = tg__calloc((size_t)np, sizeof *g->gval);
    if (!g->param || !g->pval || !g->gval)
        return tg__error(TG_ERR_NOMEM, "tg_graph_capture: out of memory");
    for (int i = 0; i < np; i++) {
        g->param[i] = tg__tensor_ref(ps[i]);
        g->pval[i] = find(g->val, g->n_val, ps[i]->data);
        g->gval[i] = find(g->val, g->n_val, grads[i]->data);
        bool reached = g->pval[i] >= 0 && g->val[g->pval[i]].producer < 0 &&
                       tg__node_reaches(loss->node, ps[i]->node);
        if (!reached)
            return tg__error(TG_ERR_ARG, "tg_graph_capture: parameter '%s' (index %d) is not reached "
                             "from the loss", tg_params_name(params, i), i);
        if (g->gval[i] < 0)   /* reached, but its gradient is made by no op: tg_pow(p, 0)'s zeros */
            return tg__error(TG_ERR_ARG, "tg_graph_capture: parameter '%s' (index %d) gets a constant "
                             "gradient that no op makes (as tg_pow(p, 0)'s zeros), which a graph cannot "
                             "replay; step it eagerly or in lazy mode", tg_params_name(params, i), i);
    }
    return g->loss >= 0 ? TG_OK : tg__error(TG_ERR_ARG, "tg_graph_capture: the loss was not recorded");
}

static bool interpreter_forced(void)
{
    const char *e = getenv("TG_GRAPH_INTERPRET");
    return e && e[0] && strcmp(e, "0") != 0;
}

void tg__graph_compile_passes(tg_graph *g)
{
    if (!interpreter_forced())
        g->compiled = tg__graph_compile(g);
}

/* opt's parameters must be params, in order; false with TG_ERR_ARG. */
static bool check_optimizer(const tg_optim *opt, const tg_params *params)
{
    const char *F = "tg_graph_capture_optim";
    if (!opt)
        return tg__error(TG_ERR_ARG, "%s: opt is NULL", F), false;
    if (!opt->kind->update)   /* L-BFGS: not elementwise, it keeps its closure path */
        return tg__error(TG_ERR_ARG, "%s: %s steps only through a closure (tg_optim_step_closure)", F,
                         opt->kind->name), false;
    bool same = opt->n == tg_params_count(params);
    for (int i = 0; same && i < opt->n; i++)
        same = opt->params[i] == tg_params_get(params, i);
    if (!same)
        return tg__error(TG_ERR_ARG, "%s: opt was made for other parameters than params", F), false;
    return true;
}

/* The gradient tensors tg_grad shows after a replay, one per parameter. */
static tg_status make_grads(tg_graph *g)
{
    if (!(g->grad = tg__calloc((size_t)g->n_params, sizeof *g->grad)))
        return tg__error(TG_ERR_NOMEM, "tg_graph_capture_optim: out of memory");
    for (int i = 0; i < g->n_params; i++)
        if (!(g->grad[i] = tg__tensor_new("tg_graph_capture_optim", g->param[i]->ndim, g->param[i]->shape)))
            return tg_last_status();
    return TG_OK;
}

static tg_graph *capture(const char *F, tg_tensor *(*loss_fn)(void *user), void *user, const tg_params *params,
                         double lr, tg_optim *opt)
{
    if (check_capture_args(F, loss_fn, params, lr) != TG_OK)
        return NULL;
    int np = tg_params_count(params);
    tg__recorder r = {0};
    tg_graph *g = tg__calloc(1, sizeof *g);
    tg_tensor **ps = tg__calloc((size_t)np * 2, sizeof *ps), *loss = NULL, *seed = NULL;
    if (!g || !ps) {
        tg__free(g);
        tg__free(ps);
        tg__error(TG_ERR_NOMEM, "tg_graph_capture: out of memory");
        return NULL;
    }
    g->n_params = np;
    g->lr = lr;
    g->opt = opt;
    int depth = tg__scope_depth();
    tg_scope_begin();
    bool prev = tg_set_grad_enabled(true);
    tg_status st = record_step(F, &r, loss_fn, user, params, ps, ps + np, &loss, &seed);
    tg_set_grad_enabled(prev);
    g->rec = r.rec, g->n_rec = r.n_rec, g->val = r.val, g->n_val = r.n_val;
    if (st == TG_OK)
        st = find_outputs(g, params, ps, ps + np, loss, seed);
    if (st == TG_OK && opt)
        st = make_grads(g);
    if (st == TG_OK)
        st = tg__graph_plan(g);   /* takes references to the externals it keeps */
    recorder_end(&r);
    tg__scope_end_to(depth);
    tg__free(ps);
    if (st != TG_OK) {
        tg_graph_free(g);
        return NULL;
    }
    tg__graph_compile_passes(g);
    return g;
}

tg_graph *tg_graph_capture(tg_tensor *(*loss_fn)(void *user), void *user, const tg_params *params, double lr)
{
    return capture("tg_graph_capture", loss_fn, user, params, lr, NULL);
}

tg_graph *tg_graph_capture_optim(tg_tensor *(*loss_fn)(void *user), void *user, const tg_params *params,
                                 tg_optim *opt)
{
    if (params && !check_optimizer(opt, params))
        return NULL;
    return capture("tg_graph_capture_optim", loss_fn, user, params, 0.0, opt);
}

const char *tg_graph_executor(const tg_graph *g)
{
    return !g ? NULL : g->compiled ? "compiled" : "interpreted";
}

void tg_graph_free(tg_graph *g)
{
    if (!g)
        return;
    for (int k = 0; k < g->n_rec; k++) {
        tg__free(g->rec[k].args);
        for (int i = 0; i < g->rec[k].n_in; i++)
            if (g->rec[k].proxy[i])
                tg__tensor_unref(g->rec[k].proxy[i]);
        if (g->rec[k].held)
            tg__tensor_unref(g->rec[k].held);
        tg__free(g->rec[k].imap);
        tg__free(g->rec[k].gtmp);
    }
    for (int v = 0; v < g->n_val; v++) {
        if (g->val[v].own_buf)
            tg__free(g->val[v].buf);
        if (g->val[v].kept)
            tg__tensor_unref(g->val[v].ext);
    }
    for (int p = 0; p < g->n_pass; p++) {
        tg__free(g->pass[p].elem);
        tg__free(g->pass[p].red);
        tg__free(g->pass[p].store);
        tg__free(g->pass[p].upd);
        tg__free(g->pass[p].part);
        tg__free(g->pass[p].span_mask);
    }
    for (int i = 0; g->param && i < g->n_params; i++)
        if (g->param[i])
            tg__tensor_unref(g->param[i]);
    for (int i = 0; g->grad && i < g->n_params; i++)
        if (g->grad[i])
            tg__tensor_unref(g->grad[i]);
    tg__free(g->grad);
    tg__free(g->grad_in_place);
    tg__free(g->leaf_of);
    tg__graph_unload(g);
    tg__free(g->rec), tg__free(g->val), tg__free(g->sc), tg__free(g->buf), tg__free(g->pass);
    tg__free(g->step), tg__free(g->param), tg__free(g->pval), tg__free(g->gval), tg__free(g->reads);
    tg__free(g->scratch_alloc), tg__free(g->slot), tg__free(g->op_scratch), tg__free(g->kfn);
    tg__free(g);
}

/* ------------------------------------------------ lazy mode's fused steps */

/* The records of a lazy trace, their values computed, as a capture records
** applies: a user Function whose outputs its forward's records made is
** inlined (its backward wrapped, to be recorded as its ops). */
static void record_trace(tg__recorder *r, const tg__lazy_trace *t)
{
    for (int k = 0; k < t->n_rec && !r->err; k++) {
        const tg__lazy_rec *rec = &t->rec[k];
        if (rec->kind != TG__LR_FN) {
            tg__graph_record(rec->fn, rec->in, rec->out, rec->args, rec->args_size);
            continue;
        }
        tg__node *n = rec->out[0]->node;
        bool own = n && n->fn == rec->fn;
        int fwd = -1;
        for (int o = 0; o < rec->n_out; o++) {
            int v = lookup(r, rec->out[o]->data);
            int p = v >= 0 ? r->val[v].producer : -1;
            fwd = o == 0 || fwd >= 0 ? p : -1;
        }
        if (fwd >= 0 && own && n->needs_grad && n->fn->backward)
            wrap(r, n, fwd, true);
        else if (fwd < 0 && own)
            tg__graph_record(rec->fn, rec->in, rec->out, n->args, n->args_size);
        else if (fwd < 0)
            r->err = TG_ERR_STATE;   /* no node holds its arguments: not planned */
    }
}

tg_graph *tg__graph_capture_trace(const tg__lazy_trace *t, tg_tensor *root, int n_leaf, tg_tensor **leaves,
                                  tg_tensor **grads, tg_status *st, bool *never)
{
    *never = false;
    tg__recorder r = {0};
    tg_graph *g = NULL;
    *st = TG_OK;
    if (tg__graph_recorder) {
        *st = tg__autograd_grad_as("tg_backward", 1, &root, NULL, n_leaf, leaves, grads, NULL);
        return NULL;
    }
    bool prev = tg_set_grad_enabled(true);
    tg__graph_recorder = &r;
    tg__apply_hook = tg__graph_record;
    record_trace(&r, t);
    tg_tensor *seed = tg_full(root->ndim, root->shape, 1.0);
    tg_backward_opts o = {.create_graph = true};
    *st = seed ? tg__autograd_grad_as("tg_backward", 1, &root, &seed, n_leaf, leaves, grads, &o) : tg_last_status();
    tg__graph_recorder = NULL;
    tg__apply_hook = NULL;
    tg_set_grad_enabled(prev);
    *never = r.err == TG_ERR_STATE;
    if (*st == TG_OK && r.err == TG_ERR_NOMEM)
        *st = TG_ERR_NOMEM;   /* recorded by fail(): the step is reported failed, nothing added */
    if (*st == TG_OK && !r.err && !(g = tg__calloc(1, sizeof *g)))
        *st = tg__error(TG_ERR_NOMEM, "tg_backward: out of memory planning the step (lazy mode)");
    if (g) {
        g->rec = r.rec, g->n_rec = r.n_rec, g->val = r.val, g->n_val = r.n_val;
        r.rec = NULL, r.val = NULL, r.n_rec = 0;
        g->grads_only = true;
        g->loss = find(g->val, g->n_val, root->data);
        seed_constant(g, seed);
        g->param = tg__calloc((size_t)n_leaf + 1, sizeof *g->param);
        g->pval = tg__calloc((size_t)n_leaf + 1, sizeof *g->pval);
        g->gval = tg__calloc((size_t)n_leaf + 1, sizeof *g->gval);
        g->leaf_of = tg__calloc((size_t)n_leaf + 1, sizeof *g->leaf_of);
        bool ok = g->param && g->pval && g->gval && g->leaf_of;
        if (!ok) {
            tg_graph_free(g);
            g = NULL;
            *st = tg__error(TG_ERR_NOMEM, "tg_backward: out of memory planning the step (lazy mode)");
        } else if (g->loss < 0) {   /* the loss was not recorded: nothing to plan */
            tg_graph_free(g);
            g = NULL;
            *never = true;
        }
        for (int i = 0; g && ok && i < n_leaf; i++) {
            int pv = find(g->val, g->n_val, leaves[i]->data), gv = find(g->val, g->n_val, grads[i]->data);
            if (pv < 0 || gv < 0 || g->val[pv].producer >= 0)
                continue;   /* no plan value: not reached, or (lazystep.c tells) a constant gradient */
            g->param[g->n_params] = tg__tensor_ref(leaves[i]);
            g->pval[g->n_params] = pv, g->gval[g->n_params] = gv, g->leaf_of[g->n_params] = i;
            g->n_params++;
        }
        if (g && tg__graph_plan(g) != TG_OK) {
            tg_graph_free(g);
            g = NULL;
            *st = tg__error(TG_ERR_NOMEM, "tg_backward: out of memory planning the step (lazy mode)");
        }   /* not compiled yet: the caller may still find the plan unfit (tg__graph_compile_passes) */
    }
    for (int k = 0; k < r.n_rec; k++)
        tg__free(r.rec[k].args);
    tg__free(r.rec), tg__free(r.val);
    recorder_end(&r);
    return g;
}
