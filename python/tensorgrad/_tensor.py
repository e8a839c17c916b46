# SPDX-License-Identifier: MIT
"""Tensor: a Python handle on one tg_tensor, with numpy conversion and operators.

Ownership: Python never opens a C scope, so every tensor the library returns to it
is owned by the caller; the Tensor object owns it and tg_free()s it when the object
is collected.  Tensors the C library still needs (saved for backward, held by an
optimizer or a tg_params list) keep their own references in C, so freeing the
Python object early is always safe.  A Tensor made by borrowing (a module's weight)
keeps its owner alive instead and frees nothing.
"""
import numbers

import numpy as np

from . import _lib
from ._lib import lib

__all__ = ["Tensor", "tensor", "from_numpy", "zeros", "ones", "full", "empty", "linspace", "rand",
           "randn", "rand_uniform", "manual_seed", "no_grad", "enable_grad", "set_grad_enabled",
           "is_grad_enabled"]


def _made(h):
    """Wraps a freshly returned tg_tensor *, raising the recorded error for NULL."""
    if not h:
        raise _lib.error()
    for _ in range(_lib.open_scopes()):
        h = lib.tg_keep(h)
    t = Tensor.__new__(Tensor)
    t._h = h
    t._owner = None
    return t


class _ArrayView:
    """Exposes a tensor's data to numpy through the array interface; the numpy array
    keeps this object, and so the tensor, alive."""
    __slots__ = ("__array_interface__", "_tensor")

    def __init__(self, t, ptr, shape):
        self._tensor = t
        self.__array_interface__ = {"data": (ptr, False), "shape": shape, "typestr": "<f8",
                                    "version": 3}


def _as_tensor(v):
    """v itself when a Tensor, else a copy (an op's operand never aliases numpy memory)."""
    if isinstance(v, Tensor):
        return v
    return tensor(v)


def _binary(fn, a, b):
    """fn(a, b) on tensors; a and b (converted from numpy if need be) are held here, so
    a temporary is not collected (and freed) before the C call has read it."""
    a = _as_tensor(a)
    b = _as_tensor(b)
    return _made(fn(a._h, b._h))


class Tensor:
    """A contiguous float64 tensor (0 to 8 dimensions) of the C library."""
    __slots__ = ("_h", "_owner", "__weakref__")
    __array_ufunc__ = None         # `ndarray op Tensor` calls Tensor's reflected op (a Tensor)

    def __init__(self, data, requires_grad=False):
        src = tensor(data)
        self._h, src._h = src._h, None
        self._owner = None
        if requires_grad:
            self.requires_grad = True

    def __del__(self):
        h = getattr(self, "_h", None)
        if h and self._owner is None and lib is not None:
            lib.tg_free(h)
        self._h = None

    @classmethod
    def _borrow(cls, h, owner):
        t = cls.__new__(cls)
        t._h = h
        t._owner = owner
        return t

    # ---------------------------------------------------------------- metadata
    @property
    def shape(self):
        n = lib.tg_ndim(self._h)
        s = lib.tg_shape(self._h)
        return tuple(s[i] for i in range(n))

    @property
    def ndim(self):
        return lib.tg_ndim(self._h)

    def numel(self):
        return lib.tg_numel(self._h)

    @property
    def size(self):
        return lib.tg_numel(self._h)

    def __len__(self):
        s = self.shape
        if not s:
            raise TypeError("len() of a 0-d tensor")
        return s[0]

    def __repr__(self):
        body = np.array2string(self.numpy(), separator=", ", prefix="tensor(")
        return "tensor(%s%s)" % (body, ", requires_grad=True" if self.requires_grad else "")

    # ---------------------------------------------------------------- numpy
    def numpy(self):
        """The data as a numpy array viewing the tensor's memory (no copy): writes
        through it change the tensor.  The array keeps the tensor alive."""
        shape = self.shape
        if self.numel() == 0:
            return np.empty(shape)
        return np.asarray(_ArrayView(self, lib.tg_data(self._h), shape))

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def tolist(self):
        return self.numpy().tolist()

    def item(self):
        v = lib.tg_item(self._h)
        if self.numel() != 1:
            raise _lib.error()
        return v

    def __float__(self):
        return self.item()

    # ---------------------------------------------------------------- autograd
    @property
    def requires_grad(self):
        return lib.tg_requires_grad(self._h)

    @requires_grad.setter
    def requires_grad(self, on):
        _lib.check(lib.tg_set_requires_grad(self._h, bool(on)))

    def requires_grad_(self, on=True):
        self.requires_grad = on
        return self

    @property
    def grad(self):
        """The accumulated gradient as a new Tensor sharing its memory, or None.  After
        backward(create_graph=True) it carries its graph, so it can be differentiated."""
        g = lib.tg_grad(self._h)
        if not g:
            return None
        n = lib.tg_ndim(g)
        return _made(lib.tg_reshape(g, n, lib.tg_shape(g)))   # a new handle, not the borrowed one

    @grad.setter
    def grad(self, value):
        if value is not None:
            raise ValueError("Tensor.grad can only be set to None (use zero_grad)")
        lib.tg_zero_grad(self._h)

    def zero_grad(self):
        lib.tg_zero_grad(self._h)

    def backward(self, gradient=None, retain_graph=False, create_graph=False):
        """Accumulates d(self)/d(leaf) into leaf.grad for every leaf requiring grad."""
        g = None if gradient is None else tensor(gradient)      # a copy: backward may accumulate into it
        opts = _lib.BackwardOpts(g._h if g is not None else None, bool(retain_graph), bool(create_graph))
        _lib.check(lib.tg_backward(self._h, opts))

    def detach(self):
        return _made(lib.tg_detach(self._h))

    # ---------------------------------------------------------------- shape ops
    def reshape(self, *shape):
        if len(shape) == 1 and not isinstance(shape[0], numbers.Integral):
            shape = tuple(shape[0])
        n, arr = _lib.shape_array(shape)
        return _made(lib.tg_reshape(self._h, n, arr))

    view = reshape

    def expand(self, *shape):
        if len(shape) == 1 and not isinstance(shape[0], numbers.Integral):
            shape = tuple(shape[0])
        n, arr = _lib.shape_array(shape)
        return _made(lib.tg_expand(self._h, n, arr))

    def unsqueeze(self, dim):
        return _made(lib.tg_unsqueeze(self._h, int(dim)))

    def flatten(self, start_dim=0, end_dim=-1):
        return _made(lib.tg_flatten(self._h, int(start_dim), int(end_dim)))

    def transpose(self):
        return _made(lib.tg_transpose(self._h))

    @property
    def T(self):
        return self.transpose()

    def select(self, dim, index):
        return _made(lib.tg_select(self._h, int(dim), int(index)))

    def __getitem__(self, index):
        if isinstance(index, numbers.Integral):
            return self.select(0, index)
        raise TypeError("Tensor indexing takes one integer (select along dim 0); use .numpy() for more")

    # ---------------------------------------------------------------- reductions
    def sum(self, dim=None, keepdim=False):
        if dim is None:
            return _made(lib.tg_sum(self._h))
        return _made(lib.tg_sum_dim(self._h, int(dim), bool(keepdim)))

    def mean(self):
        return _made(lib.tg_mean(self._h))

    # ---------------------------------------------------------------- elementwise
    def exp(self): return _made(lib.tg_exp(self._h))
    def log(self): return _made(lib.tg_log(self._h))
    def sin(self): return _made(lib.tg_sin(self._h))
    def cos(self): return _made(lib.tg_cos(self._h))
    def tanh(self): return _made(lib.tg_tanh(self._h))
    def sqrt(self): return _made(lib.tg_sqrt(self._h))
    def relu(self): return _made(lib.tg_relu(self._h))
    def abs(self): return _made(lib.tg_abs(self._h))

    def legendre(self, n):
        """P_n(self) elementwise."""
        return _made(lib.tg_legendre(self._h, int(n)))

    def affine(self, s, t):
        """self * s + t in one pass."""
        return _made(lib.tg_affine(self._h, float(s), float(t)))

    def pow(self, p):
        if isinstance(p, numbers.Real) and not isinstance(p, bool):
            return _made(lib.tg_pow(self._h, float(p)))
        return _binary(lib.tg_pow_tensor, self, p)

    def matmul(self, other):
        return _binary(lib.tg_matmul, self, other)

    # ---------------------------------------------------------------- operators
    def __neg__(self): return _made(lib.tg_neg(self._h))
    def __pos__(self): return self
    def __abs__(self): return self.abs()

    def __add__(self, o):
        if _is_scalar(o):
            return _made(lib.tg_affine(self._h, 1.0, float(o)))
        return _binary(lib.tg_add, self, o)

    def __radd__(self, o):
        if _is_scalar(o):
            return _made(lib.tg_affine(self._h, 1.0, float(o)))
        return _binary(lib.tg_add, o, self)

    def __sub__(self, o):
        if _is_scalar(o):
            return _made(lib.tg_affine(self._h, 1.0, -float(o)))
        return _binary(lib.tg_sub, self, o)

    def __rsub__(self, o):
        if _is_scalar(o):
            return _made(lib.tg_affine(self._h, -1.0, float(o)))
        return _binary(lib.tg_sub, o, self)

    def __mul__(self, o):
        if _is_scalar(o):
            return _made(lib.tg_affine(self._h, float(o), 0.0))
        return _binary(lib.tg_mul, self, o)

    def __rmul__(self, o):
        if _is_scalar(o):
            return _made(lib.tg_affine(self._h, float(o), 0.0))
        return _binary(lib.tg_mul, o, self)

    def __truediv__(self, o):
        return _binary(lib.tg_div, self, o)

    def __rtruediv__(self, o):
        return _binary(lib.tg_div, o, self)

    def __pow__(self, p):
        return self.pow(p)

    def __rpow__(self, base):
        return _binary(lib.tg_pow_tensor, base, self)

    def __matmul__(self, o):
        return self.matmul(o)

    def __rmatmul__(self, o):
        return _binary(lib.tg_matmul, o, self)


def _is_scalar(v):
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and not isinstance(v, np.ndarray)


# -------------------------------------------------------------------- creation

# numpy arrays whose memory tensors use (from_numpy), by key, until the C library
# releases the last tensor on them
_shared = {}
_next_key = [0]


def _release(key):
    try:
        _shared.pop(key, None)
    except Exception:       # interpreter shutdown: the dict may be gone already
        pass


_release_cb = _lib.RELEASE(_release)


def from_numpy(a, requires_grad=False):
    """As torch.from_numpy: a tensor using a's memory, without a copy, when a is a
    C-contiguous, aligned, writeable float64 ndarray of at least one element (writes
    through either are seen by both; the array is kept alive as long as any tensor
    uses it); a float64 copy of anything else (other dtypes, views with strides,
    lists, numbers)."""
    if (isinstance(a, np.ndarray) and a.dtype == np.float64 and a.dtype.isnative and a.size
            and a.flags.c_contiguous and a.flags.aligned and a.flags.writeable):
        n, shape = _lib.shape_array(a.shape)
        key = _next_key[0] = _next_key[0] + 1
        _shared[key] = a
        h = lib.tg_from_buffer(n, shape, a.ctypes.data, _release_cb, key)
        if not h:
            del _shared[key]
        t = _made(h)
    else:
        t = tensor(a)
    if requires_grad:
        t.requires_grad = True
    return t


def tensor(data, requires_grad=False):
    """As torch.tensor: a new tensor holding a float64 copy of data (an array, a
    nested list or a number)."""
    arr = np.asarray(data, dtype=np.float64, order="C")
    n, shape = _lib.shape_array(arr.shape)
    t = _made(lib.tg_from_array(n, shape, arr.ctypes.data if arr.size else None))
    if requires_grad:
        t.requires_grad = True
    return t


def _shape_args(shape):
    if len(shape) == 1 and not isinstance(shape[0], numbers.Integral):
        return tuple(shape[0])
    return shape


def _filled(fn, shape, requires_grad, *extra):
    n, arr = _lib.shape_array(_shape_args(shape))
    t = _made(fn(n, arr, *extra))
    if requires_grad:
        t.requires_grad = True
    return t


def zeros(*shape, requires_grad=False):
    return _filled(lib.tg_zeros, shape, requires_grad)


def empty(*shape, requires_grad=False):
    return _filled(lib.tg_empty, shape, requires_grad)


def ones(*shape, requires_grad=False):
    return _filled(lib.tg_full, shape, requires_grad, 1.0)


def full(shape, value, requires_grad=False):
    return _filled(lib.tg_full, (tuple(shape),), requires_grad, float(value))


def linspace(start, end, steps):
    return _made(lib.tg_linspace(float(start), float(end), int(steps)))


def rand(*shape, requires_grad=False):
    """Uniform on [0, 1) from this thread's default generator (manual_seed)."""
    return _filled(lib.tg_rand, shape, requires_grad)


def rand_uniform(shape, lo, hi, requires_grad=False):
    return _filled(lib.tg_rand_uniform, (tuple(shape),), requires_grad, float(lo), float(hi))


def randn(*shape, requires_grad=False):
    return _filled(lib.tg_randn, shape, requires_grad)


def manual_seed(seed):
    """Seeds this thread's default generator (xoshiro256**, the same stream as the C library's)."""
    lib.tg_manual_seed(int(seed) & (2**64 - 1))


# -------------------------------------------------------------------- gradient mode

def set_grad_enabled(on):
    """Turns gradient recording on this thread on or off; returns the previous mode."""
    return lib.tg_set_grad_enabled(bool(on))


def is_grad_enabled():
    return lib.tg_is_grad_enabled()


class _GradMode:
    def __init__(self, on):
        self._on = on
        self._prev = []

    def __enter__(self):
        self._prev.append(lib.tg_set_grad_enabled(self._on))
        return self

    def __exit__(self, *exc):
        lib.tg_set_grad_enabled(self._prev.pop())
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*a, **k):
            with _GradMode(self._on):
                return fn(*a, **k)
        return wrapper


def no_grad():
    """`with tensorgrad.no_grad():` (or `@tensorgrad.no_grad()`) records no graph inside."""
    return _GradMode(False)


def enable_grad():
    return _GradMode(True)
