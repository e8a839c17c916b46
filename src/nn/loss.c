/* SPDX-License-Identifier: MIT */
/*
** Losses, composed from tensorgrad ops so they are differentiable to any
** order without a backward of their own: mse = reduce((pred - target)^2), as
** PyTorch's mse_loss; cross_entropy through log_softmax and a one-hot mask
** (a forward-only op of its own).  nn layer, on top of the public ops.
*/
#include "core/internal.h"

#include <string.h>

tg_tensor *tg_mse_loss(tg_tensor *pred, tg_tensor *target, tg_reduction reduction)
{
    if (tg__check_live("tg_mse_loss", "pred", pred) != TG_OK ||
        tg__check_live("tg_mse_loss", "target", target) != TG_OK)
        return NULL;
    int n;
    int64_t shape[TG_MAX_DIMS];   /* checked here so that the message names tg_mse_loss */
    if (!tg__broadcast_shape("tg_mse_loss", pred->ndim, pred->shape, target->ndim, target->shape, &n, shape))
        return NULL;
    if (reduction != TG_REDUCTION_MEAN && reduction != TG_REDUCTION_SUM && reduction != TG_REDUCTION_NONE) {
        tg__error(TG_ERR_ARG, "tg_mse_loss: reduction %d is not TG_REDUCTION_MEAN, _SUM or _NONE",
                  (int)reduction);
        return NULL;
    }
    tg_scope_begin();   /* the difference and the squares stay only in the graph */
    tg_tensor *sq = tg_pow(tg_sub(pred, target), 2.0);
    tg_tensor *loss = reduction == TG_REDUCTION_MEAN ? tg_mean(sq)
                      : reduction == TG_REDUCTION_SUM ? tg_sum(sq) : sq;
    if (loss)
        loss = tg_keep(loss);
    tg_scope_end();
    return loss;
}

/* cross_entropy's one-hot mask of target's classes: m[b, target_b] = 1, an
** op of its own (forward only: target is applied detached), so a captured
** step rebuilds it from the target's data at each replay (a new batch written
** into the same tensor) and refuses a target that is no class index. */
static tg_status one_hot_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    const tg_tensor *target = in[0];
    int64_t nb = target->shape[0], nc = *(const int64_t *)tg_ctx_args(ctx), shape[2] = {nb, nc};
    for (int64_t b = 0; b < nb; b++) {
        double t = target->data[b];
        if (!(t >= 0 && t < (double)nc && t == (double)(int64_t)t))
            return tg__error(TG_ERR_ARG, "tg_cross_entropy: target[%lld] is %g, not a class index in 0..%lld",
                             (long long)b, t, (long long)nc - 1);
    }
    tg_tensor *m = out[0] = tg__adopt(tg__tensor_new("tg_cross_entropy", 2, shape));
    if (!m)
        return tg_last_status();
    memset(m->data, 0, (size_t)m->numel * sizeof(double));
    for (int64_t b = 0; b < nb; b++)
        m->data[b * nc + (int64_t)target->data[b]] = 1.0;
    return TG_OK;
}
static tg_status one_hot_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    (void)ctx, (void)g, (void)gin;   /* a constant: no gradient */
    return TG_OK;
}
static const tg_function one_hot_fn = {.name = "tg_cross_entropy_one_hot", .n_inputs = 1, .n_outputs = 1,
                                       .forward = one_hot_forward, .backward = one_hot_backward};

/* forward: loss_b = -log_softmax(logits, 1)[b, target_b], then reduced: the
** picked entries through tg_where with a constant one-hot mask (no 0 * -inf) */
tg_tensor *tg_cross_entropy(tg_tensor *logits, tg_tensor *target, tg_reduction reduction)
{
    const char *fn = "tg_cross_entropy";
    if (tg__check_live(fn, "logits", logits) != TG_OK || tg__check_live(fn, "target", target) != TG_OK)
        return NULL;
    if (logits->ndim != 2 || target->ndim != 1 || target->shape[0] != logits->shape[0]) {
        char bl[TG__SHAPE_STR], bt[TG__SHAPE_STR];
        tg__error(TG_ERR_SHAPE, "%s: logits is %s and target is %s (need [B,C] and [B])", fn,
                  tg__shape_str(bl, logits->ndim, logits->shape), tg__shape_str(bt, target->ndim, target->shape));
        return NULL;
    }
    if (reduction != TG_REDUCTION_MEAN && reduction != TG_REDUCTION_SUM && reduction != TG_REDUCTION_NONE) {
        tg__error(TG_ERR_ARG, "%s: reduction %d is not TG_REDUCTION_MEAN, _SUM or _NONE", fn, (int)reduction);
        return NULL;
    }
    int64_t nc = logits->shape[1];
    tg_scope_begin();   /* the mask and the log-probabilities stay only in the graph */
    tg_tensor *t = target->requires_grad ? tg_detach(target) : target, *mask = NULL, *loss = NULL;
    if (t && tg_apply_args(&one_hot_fn, &t, &mask, &nc, sizeof nc) == TG_OK) {
        tg_tensor *picked = tg_sum_dim(tg_where(mask, tg_log_softmax(logits, 1), tg_scalar(0.0)), 1, false);
        loss = tg_neg(picked);
        loss = reduction == TG_REDUCTION_MEAN ? tg_mean(loss) : reduction == TG_REDUCTION_SUM ? tg_sum(loss) : loss;
    }
    if (loss)
        loss = tg_keep(loss);
    tg_scope_end();
    return loss;
}
