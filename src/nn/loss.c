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
