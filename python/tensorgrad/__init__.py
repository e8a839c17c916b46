# SPDX-License-Identifier: MIT
"""tensorgrad: float64 tensors with reverse-mode autodiff, and fast Legendre fits,
from Python over the C library libtensorgrad (ctypes; depends on numpy only).

    import numpy as np, tensorgrad as tg
    fit = tg.Legendre.fit(x, y, 20)          # as numpy.polynomial.Legendre.fit
    w = tg.tensor(np.zeros(3), requires_grad=True)
    loss = ((tg.tensor(X) @ w.reshape(3, 1) - tg.tensor(Y)) ** 2).mean()
    loss.backward(); w.grad.numpy()

See docs/python.md for the whole API.  Failures of the C library raise
tensorgrad.TensorgradError (subclasses ShapeError, ArgumentError, ... also derive
from ValueError, MemoryError, RuntimeError, OSError, ArithmeticError) carrying the
library's message, tg_last_error().
"""
from . import _lib
from ._lib import (ArgumentError, FileError, NumericError, OutOfMemoryError, ShapeError, StateError,
                   TensorgradError)
from ._tensor import (Tensor, empty, enable_grad, from_numpy, full, is_grad_enabled, linspace,
                      manual_seed, no_grad, ones, rand, rand_uniform, randn, set_grad_enabled, tensor,
                      zeros)
from ._legendre import Legendre
from ._nn import Linear, mse_loss
from ._optim import LBFGS, SGD, Adam, AdamW, Optimizer, RMSprop
from . import _nn as nn
from . import _optim as optim


__version__ = _lib.lib.tg_version().decode()      # the C library's TG_VERSION_STRING
library_path = _lib.path


def _unary(name, doc):
    cfn = getattr(_lib.lib, "tg_" + name)

    def f(t):
        from ._tensor import _as_tensor, _made
        t = _as_tensor(t)
        return _made(cfn(t._h))
    f.__name__ = name
    f.__doc__ = doc
    return f


neg = _unary("neg", "-t elementwise")
exp = _unary("exp", "e**t elementwise")
log = _unary("log", "natural logarithm elementwise (NaN below 0)")
sin = _unary("sin", "sine elementwise")
cos = _unary("cos", "cosine elementwise")
tanh = _unary("tanh", "hyperbolic tangent elementwise")
sqrt = _unary("sqrt", "square root elementwise")
relu = _unary("relu", "max(t, 0) elementwise (gradient 0 at 0)")
abs = _unary("abs", "|t| elementwise (gradient 0 at 0)")
transpose = _unary("transpose", "[m, n] -> [n, m], copied")


def sum(t, dim=None, keepdim=False):
    from ._tensor import _as_tensor
    return _as_tensor(t).sum(dim, keepdim)


def mean(t):
    from ._tensor import _as_tensor
    return _as_tensor(t).mean()


def matmul(a, b):
    from ._tensor import _as_tensor
    return _as_tensor(a).matmul(b)


def legendre(t, n):
    from ._tensor import _as_tensor
    return _as_tensor(t).legendre(n)


def set_num_threads(n):
    """Threads of the C library's large kernels and of OpenBLAS; returns the previous count."""
    r = _lib.lib.tg_set_num_threads(int(n))
    if r < 0:
        raise _lib.error()
    return r


def get_num_threads():
    return _lib.lib.tg_get_num_threads()


def memory_stats():
    """The C allocator's counters: {'system_allocations', 'live_blocks', 'cached_bytes'}."""
    s = _lib.MemoryStats()
    _lib.lib.tg_get_memory_stats(s)
    return {"system_allocations": s.system_allocations, "live_blocks": s.live_blocks,
            "cached_bytes": s.cached_bytes}


def release_memory():
    """Returns the C library's cached tensor blocks to the system."""
    _lib.lib.tg_release_memory()


__all__ = ["__version__", "Tensor", "tensor", "from_numpy", "zeros", "ones", "full", "empty", "linspace",
           "rand", "rand_uniform", "randn", "manual_seed", "no_grad", "enable_grad", "set_grad_enabled",
           "is_grad_enabled", "Legendre", "Linear", "mse_loss", "SGD", "Adam", "AdamW", "RMSprop", "LBFGS",
           "Optimizer", "TensorgradError", "ArgumentError", "ShapeError", "OutOfMemoryError", "StateError",
           "FileError", "NumericError", "neg", "exp", "log", "sin", "cos", "tanh", "sqrt", "relu", "abs",
           "transpose", "sum", "mean", "matmul", "legendre", "set_num_threads", "get_num_threads",
           "memory_stats", "release_memory"]
