# SPDX-License-Identifier: MIT
"""nn: Linear (the C library's tg_linear) and mse_loss."""
from . import _lib
from ._lib import lib
from ._tensor import Tensor, _as_tensor, _made

__all__ = ["Linear", "mse_loss"]

_REDUCTIONS = {"mean": 0, "sum": 1, "none": 2}


def mse_loss(pred, target, reduction="mean"):
    """(pred - target)**2 reduced by 'mean' (default), 'sum' or 'none'."""
    if reduction not in _REDUCTIONS:
        raise ValueError("mse_loss: reduction must be 'mean', 'sum' or 'none', not %r" % (reduction,))
    pred, target = _as_tensor(pred), _as_tensor(target)
    return _made(lib.tg_mse_loss(pred._h, target._h, _REDUCTIONS[reduction]))


class Linear:
    """y = x W^T + b, initialized as PyTorch's nn.Linear from this thread's default
    generator (tensorgrad.manual_seed).  .weight and .bias are the module's own
    tensors (they keep the module alive); parameters() lists them for an optimizer."""

    def __init__(self, in_features, out_features, bias=True):
        self._h = lib.tg_linear_new(int(in_features), int(out_features), bool(bias))
        if not self._h:
            raise _lib.error()
        self.weight = Tensor._borrow(lib.tg_linear_weight(self._h), self)
        b = lib.tg_linear_bias(self._h)
        self.bias = Tensor._borrow(b, self) if b else None

    def parameters(self):
        return [self.weight] + ([self.bias] if self.bias is not None else [])

    def __call__(self, x):
        x = _as_tensor(x)
        return _made(lib.tg_linear_forward(self._h, x._h))

    forward = __call__

    def __del__(self):
        if getattr(self, "_h", None) and lib is not None:
            lib.tg_linear_free(self._h)
        self._h = None
