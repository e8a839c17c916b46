/* SPDX-License-Identifier: MIT */
/*
** Losses, composed from tensorgrad ops so they are differentiable to any
** order without a backward of their own: mse = reduce((pred - target)^2), as
** PyTorch's mse_loss.  nn layer, on top of the public ops.
*/
#include "core/internal.h"

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
    int64_t nb = logits->shape[0], nc = logits->shape[1];
    for (int64_t b = 0; b < nb; b++) {
        double t = target->data[b];
        if (!(t >= 0 && t < (double)nc && t == (double)(int64_t)t)) {
            tg__error(TG_ERR_ARG, "%s: target[%lld] is %g, not a class index in 0..%lld", fn,
                      (long long)b, t, (long long)nc - 1);
            return NULL;
        }
    }
    tg_scope_begin();   /* the mask and the log-probabilities stay only in the graph */
    tg_tensor *mask = tg_zeros(2, logits->shape), *loss = NULL;
    if (mask) {
        for (int64_t b = 0; b < nb; b++)
            mask->data[b * nc + (int64_t)target->data[b]] = 1.0;
        tg_tensor *picked = tg_sum_dim(tg_where(mask, tg_log_softmax(logits, 1), tg_scalar(0.0)), 1, false);
        loss = tg_neg(picked);
        loss = reduction == TG_REDUCTION_MEAN ? tg_mean(loss) : reduction == TG_REDUCTION_SUM ? tg_sum(loss) : loss;
    }
    if (loss)
        loss = tg_keep(loss);
    tg_scope_end();
    return loss;
}
