# SPDX-License-Identifier: MIT
"""Optimizers over the C library's (PyTorch's update formulas and defaults).

Each optimizer takes the parameters (Tensors that require grad) at creation; the C
optimizer keeps references of its own to them and holds its state (moments,
momentum buffers, the L-BFGS history).  step() reads each parameter's .grad and
updates its data in place; step(closure) calls closure() (which clears the
gradients, computes the loss, calls backward and returns the loss) as often as
the method needs (once, or per L-BFGS line-search evaluation) and returns the
first loss as a float.
"""
import ctypes

from . import _lib
from ._lib import lib
from ._tensor import Tensor

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "LBFGS"]


class _Params:
    """A tg_params list of tensors (names "0", "1", ...), holding C references."""

    def __init__(self, tensors):
        self.tensors = list(tensors)
        if not self.tensors:
            raise ValueError("optimizer got an empty parameter list")
        self._h = lib.tg_params_new()
        if not self._h:
            raise _lib.error()
        for i, t in enumerate(self.tensors):
            if not isinstance(t, Tensor):
                raise TypeError("optimizer parameters must be tensorgrad.Tensor, not %s" % type(t).__name__)
            _lib.check(lib.tg_params_add(self._h, str(i).encode(), t._h))

    def __del__(self):
        if getattr(self, "_h", None) and lib is not None:
            lib.tg_params_free(self._h)
        self._h = None


class Optimizer:
    def __init__(self, params, make):
        self._params = _Params(params)
        self._h = make(self._params._h)
        if not self._h:
            raise _lib.error()

    @property
    def params(self):
        return list(self._params.tensors)

    def zero_grad(self):
        lib.tg_optim_zero_grad(self._h)

    def step(self, closure=None):
        if closure is None:
            _lib.check(lib.tg_optim_step(self._h))
            return None
        failure = []

        def call(_user):
            # the C library runs the closure inside a scope of its own
            _lib.enter_callback()
            try:
                loss = closure()
                if not isinstance(loss, Tensor):
                    loss = Tensor(loss)
                keep.append(loss)           # alive until the C library has read it
                return loss._h
            except BaseException as e:     # no exception may cross the C frames
                failure.append(e)
                return None
            finally:
                _lib.leave_callback()

        keep = []
        cb = _lib.CLOSURE(call)
        loss = ctypes.c_double()
        st = lib.tg_optim_step_closure(self._h, cb, None, ctypes.byref(loss))
        if failure:
            lib.tg_clear_error()
            raise failure[0]
        _lib.check(st)
        return loss.value

    def __del__(self):
        if getattr(self, "_h", None) and lib is not None:
            lib.tg_optim_free(self._h)
        self._h = None


class SGD(Optimizer):
    def __init__(self, params, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                 maximize=False):
        o = _lib.SgdOpts(lr, momentum, dampening, weight_decay, nesterov, maximize)
        super().__init__(params, lambda p: lib.tg_sgd_new(p, o))


class RMSprop(Optimizer):
    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, maximize=False):
        o = _lib.RmspropOpts(lr, alpha, eps, weight_decay, momentum, centered, maximize)
        super().__init__(params, lambda p: lib.tg_rmsprop_new(p, o))


class Adam(Optimizer):
    _new = "tg_adam_new"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                 maximize=False):
        o = _lib.AdamOpts(lr, betas[0], betas[1], eps, weight_decay, amsgrad, maximize)
        new = getattr(lib, self._new)
        super().__init__(params, lambda p: new(p, o))


class AdamW(Adam):
    _new = "tg_adamw_new"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
                 maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize)


class LBFGS(Optimizer):
    """step(closure) is required, as in PyTorch."""

    def __init__(self, params, lr=1.0, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None):
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError("LBFGS: line_search_fn must be None or 'strong_wolfe', not %r" % (line_search_fn,))
        o = _lib.LbfgsOpts(lr, max_iter, 0 if max_eval is None else max_eval, tolerance_grad,
                           tolerance_change, history_size, line_search_fn == "strong_wolfe")
        super().__init__(params, lambda p: lib.tg_lbfgs_new(p, o))
