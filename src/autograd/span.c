/* SPDX-License-Identifier: MIT */
/*
** Elementwise Functions: the forward and backward that tg_apply and the
** executor run for a tg_function given as span kernels (forward_span /
** backward_span).  The node is the user's Function, so errors, anomaly mode
** and graph capture see its name and vtable; this file only supplies what a
** general forward / backward would do by hand: broadcast the inputs, allocate
** the output and the gradients, call the kernels over slices on the kernel
** threads, save the inputs and output, and sum gradients back to broadcast
** inputs.  Autograd layer.
*/
#include "graph.h"
#include "../kernels/parallel.h"

#include <string.h>

typedef struct span_call {
    const tg_function *fn;
    int n_in;
    const double *in[TG_MAX_FN_ARITY];
    const double *out, *gout;
    double *res;                     /* forward: the output */
    double *gin[TG_MAX_FN_ARITY];    /* backward: NULL where not wanted */
} span_call;

static void forward_slice(void *p, int64_t lo, int64_t hi)
{
    const span_call *c = p;
    const double *in[TG_MAX_FN_ARITY];
    for (int i = 0; i < c->n_in; i++)
        in[i] = c->in[i] + lo;
    c->fn->forward_span(hi - lo, in, c->res + lo);
}

static void backward_slice(void *p, int64_t lo, int64_t hi)
{
    const span_call *c = p;
    const double *in[TG_MAX_FN_ARITY];
    double *gin[TG_MAX_FN_ARITY];
    for (int i = 0; i < c->n_in; i++) {
        in[i] = c->in[i] + lo;
        gin[i] = c->gin[i] ? c->gin[i] + lo : NULL;
    }
    c->fn->backward_span(hi - lo, in, c->out + lo, c->gout + lo, gin);
}

/* Runs a slice function over n points, on the kernel threads when large. */
static void run(tg__par_fn fn, span_call *c, int64_t n)
{
    if (n > 0)
        tg__par_run(tg__par_team(n * (c->n_in + 1)), n, 8, fn, c);
}

/* ins[i]'s data at the broadcast shape (an expanded copy when its own shape
** differs); NULL on failure. */
static const double *at_shape(tg_tensor *t, int ndim, const int64_t *shape)
{
    if (t->ndim == ndim && !memcmp(t->shape, shape, (size_t)ndim * sizeof *shape))
        return t->data;
    tg_tensor *e = tg__expand_now("tg_expand", t, ndim, shape);
    return e ? e->data : NULL;
}

tg_status tg__span_forward(tg__node *n, tg_tensor *const *inputs, tg_tensor **outputs)
{
    const char *name = tg__node_name(n);
    int ndim = inputs[0]->ndim;
    int64_t shape[TG_MAX_DIMS];
    memcpy(shape, inputs[0]->shape, (size_t)ndim * sizeof *shape);
    for (int i = 1; i < n->n_inputs; i++) {
        int64_t both[TG_MAX_DIMS];   /* not shape itself: the result must not alias an operand */
        if (!tg__broadcast_shape(name, ndim, shape, inputs[i]->ndim, inputs[i]->shape, &ndim, both))
            return TG_ERR_SHAPE;
        memcpy(shape, both, sizeof both);
    }
    span_call c;   /* only the fields the forward reads: a whole-struct clear costs a rep stos */
    c.fn = n->fn;
    c.n_in = n->n_inputs;
    for (int i = 0; i < c.n_in; i++)
        if (!(c.in[i] = at_shape(inputs[i], ndim, shape)))
            return tg_last_status();
    if (!(outputs[0] = tg_empty(ndim, shape)))
        return tg_last_status();
    c.res = outputs[0]->data;
    run(forward_slice, &c, outputs[0]->numel);
    tg_tensor *saved[TG_MAX_FN_ARITY + 1];
    memcpy(saved, inputs, (size_t)c.n_in * sizeof *saved);
    saved[c.n_in] = outputs[0];
    return tg_save_for_backward(n, c.n_in + 1, saved);
}

tg_status tg__span_backward(tg__node *n, tg_tensor *const *grad_outputs, tg_tensor **grad_inputs)
{
    const tg_tensor *g = grad_outputs[0];
    span_call c;   /* as in the forward: set field by field */
    c.fn = n->fn;
    c.n_in = n->n_inputs;
    c.gout = g->data;
    tg_tensor *full[TG_MAX_FN_ARITY];
    tg_tensor *out = tg_saved_tensor(n, c.n_in);
    if (!out)
        return tg_last_status();
    c.out = out->data;
    for (int i = 0; i < c.n_in; i++) {
        full[i] = NULL;
        c.gin[i] = NULL;
        tg_tensor *x = tg_saved_tensor(n, i);
        if (!x || !(c.in[i] = at_shape(x, g->ndim, g->shape)))
            return tg_last_status();
        if (tg_needs_input_grad(n, i)) {
            if (!(full[i] = tg_empty(g->ndim, g->shape)))
                return tg_last_status();
            c.gin[i] = full[i]->data;
        }
    }
    run(backward_slice, &c, g->numel);
    for (int i = 0; i < c.n_in; i++) {
        if (!full[i])
            continue;
        const tg__meta *m = &n->in_meta[i];
        bool same = m->ndim == g->ndim && !memcmp(m->shape, g->shape, (size_t)g->ndim * sizeof(int64_t));
        if (!(grad_inputs[i] = same ? full[i] : tg__sum_to_now("tg_sum_to", full[i], m->ndim, m->shape)))
            return tg_last_status();
    }
    return TG_OK;
}
