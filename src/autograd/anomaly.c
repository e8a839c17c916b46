/* SPDX-License-Identifier: MIT */
/*
** Anomaly mode: a per-thread switch under which tg_apply checks every output
** of a forward and the executor every gradient a backward returns, failing at
** the first NaN or infinity with a message that says where it came from.
** Autograd layer; knows no op.
*/
#include "graph.h"

#include <math.h>

_Thread_local bool tg__anomaly_on TG_TLS_HOT;
_Thread_local int tg__backward_depth TG_TLS_HOT;   /* ops inside a backward are judged by its result */

bool tg_set_anomaly(bool on)
{
    bool prev = tg__anomaly_on;
    tg__anomaly_on = on;
    return prev;
}

bool tg_is_anomaly_enabled(void) { return tg__anomaly_on; }

static void input_shapes(const tg__node *n, tg_tensor *const *inputs, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < n->n_inputs && len + TG__SHAPE_STR < cap; i++) {
        char one[TG__SHAPE_STR];
        const int64_t *shape = inputs ? inputs[i]->shape : n->in_meta[i].shape;
        int ndim = inputs ? inputs[i]->ndim : n->in_meta[i].ndim;
        len += (size_t)snprintf(buf + len, cap - len, i ? ", %s" : "%s", tg__shape_str(one, ndim, shape));
    }
}

tg_status tg__anomaly_scan(const tg__node *n, bool forward, int count, tg_tensor *const *ts,
                           tg_tensor *const *inputs)
{
    if (!tg__anomaly_on || (forward && tg__backward_depth > 0))
        return TG_OK;
    for (int k = 0; k < count; k++) {
        const tg_tensor *t = ts[k];
        const int64_t len = !t ? 0 : t->uniform ? 1 : t->numel;   /* uniform: data[0] is every element */
        for (int64_t e = 0; e < len; e++) {
            if (isfinite(t->data[e]))
                continue;
            char shapes[4 * TG__SHAPE_STR];
            input_shapes(n, inputs, shapes, sizeof shapes);
            return tg__error(TG_ERR_NUMERIC, "anomaly: %s of '%s' produced %s in %s %d element %lld (inputs %s)",
                             forward ? "forward" : "backward", tg__node_name(n),
                             isnan(t->data[e]) ? "NaN" : "infinity", forward ? "output" : "grad_inputs",
                             k, (long long)e, shapes);
        }
    }
    return TG_OK;
}
