# SPDX-License-Identifier: MIT
"""The C library, loaded with ctypes, and the prototypes of the calls the package makes.

The library is found, in this order, at $TENSORGRAD_LIBRARY (a path to the .so), then
where the generated module tensorgrad._paths says (the build tree's library when the
package is run from build/python, the install prefix's libdir when it is installed;
a relative directory there is taken relative to this package), then by the dynamic
linker's own search (ctypes.util.find_library).  Nothing here is public: the
Python classes of the package wrap these calls.
"""
import ctypes
import ctypes.util
import os
import threading
from ctypes import POINTER, c_bool, c_char_p, c_double, c_int, c_int64, c_size_t, c_void_p

_here = os.path.dirname(os.path.abspath(__file__))


def _candidates():
    env = os.environ.get("TENSORGRAD_LIBRARY")
    if env:
        yield env
        return
    try:
        from . import _paths
    except ImportError:
        _paths = None
    if _paths is not None:
        libdir = _paths.LIBDIR
        if not os.path.isabs(libdir):
            libdir = os.path.normpath(os.path.join(_here, libdir))
        yield os.path.join(libdir, _paths.LIBRARY)
    found = ctypes.util.find_library("tensorgrad")
    if found:
        yield found


def _load():
    tried = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
    raise ImportError("tensorgrad: cannot load the C library libtensorgrad; tried: " +
                      ("; ".join(tried) if tried else "nothing (no _paths module, not on the linker's path)") +
                      ". Set TENSORGRAD_LIBRARY to the path of libtensorgrad.so.")


lib, path = _load()

T = c_void_p                      # tg_tensor *, opaque
P_int64 = POINTER(c_int64)


class BackwardOpts(ctypes.Structure):
    _fields_ = [("grad", c_void_p), ("retain_graph", c_bool), ("create_graph", c_bool)]


class SgdOpts(ctypes.Structure):
    _fields_ = [("lr", c_double), ("momentum", c_double), ("dampening", c_double),
                ("weight_decay", c_double), ("nesterov", c_bool), ("maximize", c_bool)]


class RmspropOpts(ctypes.Structure):
    _fields_ = [("lr", c_double), ("alpha", c_double), ("eps", c_double), ("weight_decay", c_double),
                ("momentum", c_double), ("centered", c_bool), ("maximize", c_bool)]


class AdamOpts(ctypes.Structure):
    _fields_ = [("lr", c_double), ("beta1", c_double), ("beta2", c_double), ("eps", c_double),
                ("weight_decay", c_double), ("amsgrad", c_bool), ("maximize", c_bool)]


class LbfgsOpts(ctypes.Structure):
    _fields_ = [("lr", c_double), ("max_iter", c_int), ("max_eval", c_int),
                ("tolerance_grad", c_double), ("tolerance_change", c_double),
                ("history_size", c_int), ("strong_wolfe", c_bool)]


class MemoryStats(ctypes.Structure):
    _fields_ = [("system_allocations", c_int64), ("live_blocks", c_int64), ("cached_bytes", c_size_t)]


CLOSURE = ctypes.CFUNCTYPE(c_void_p, c_void_p)
RELEASE = ctypes.CFUNCTYPE(None, c_void_p)

_PROTOTYPES = {
    "tg_version": (c_char_p, []),
    # errors
    "tg_last_status": (c_int, []),
    "tg_last_error": (c_char_p, []),
    "tg_status_str": (c_char_p, [c_int]),
    "tg_clear_error": (None, []),
    # tensors
    "tg_zeros": (T, [c_int, P_int64]),
    "tg_empty": (T, [c_int, P_int64]),
    "tg_full": (T, [c_int, P_int64, c_double]),
    "tg_scalar": (T, [c_double]),
    "tg_from_array": (T, [c_int, P_int64, c_void_p]),
    "tg_from_buffer": (T, [c_int, P_int64, c_void_p, RELEASE, c_void_p]),
    "tg_linspace": (T, [c_double, c_double, c_int64]),
    "tg_ndim": (c_int, [T]),
    "tg_shape": (P_int64, [T]),
    "tg_numel": (c_int64, [T]),
    "tg_data": (c_void_p, [T]),
    "tg_item": (c_double, [T]),
    "tg_free": (None, [T]),
    "tg_keep": (T, [T]),
    # autograd
    "tg_set_requires_grad": (c_int, [T, c_bool]),
    "tg_requires_grad": (c_bool, [T]),
    "tg_grad": (T, [T]),
    "tg_zero_grad": (None, [T]),
    "tg_backward": (c_int, [T, POINTER(BackwardOpts)]),
    "tg_set_grad_enabled": (c_bool, [c_bool]),
    "tg_is_grad_enabled": (c_bool, []),
    "tg_detach": (T, [T]),
    # ops
    "tg_pow": (T, [T, c_double]),
    "tg_affine": (T, [T, c_double, c_double]),
    "tg_sum_dim": (T, [T, c_int, c_bool]),
    "tg_reshape": (T, [T, c_int, P_int64]),
    "tg_expand": (T, [T, c_int, P_int64]),
    "tg_legendre": (T, [T, c_int]),
    "tg_unsqueeze": (T, [T, c_int]),
    "tg_flatten": (T, [T, c_int, c_int]),
    "tg_select": (T, [T, c_int, c_int64]),
    "tg_legendre_series": (T, [T, T, c_double, c_double]),
    "tg_legendre_range_map": (c_int, [c_double, c_double, POINTER(c_double), POINTER(c_double)]),
    "tg_legendre_lstsq": (c_int, [T, T, c_int, c_double, c_double, POINTER(T), POINTER(c_double)]),
    # random numbers
    "tg_manual_seed": (c_void_p, [ctypes.c_uint64]),
    "tg_rand": (T, [c_int, P_int64]),
    "tg_rand_uniform": (T, [c_int, P_int64, c_double, c_double]),
    "tg_randn": (T, [c_int, P_int64]),
    # parameters, nn
    "tg_params_new": (c_void_p, []),
    "tg_params_free": (None, [c_void_p]),
    "tg_params_add": (c_int, [c_void_p, c_char_p, T]),
    "tg_mse_loss": (T, [T, T, c_int]),
    "tg_linear_new": (c_void_p, [c_int64, c_int64, c_bool]),
    "tg_linear_forward": (T, [c_void_p, T]),
    "tg_linear_weight": (T, [c_void_p]),
    "tg_linear_bias": (T, [c_void_p]),
    "tg_linear_free": (None, [c_void_p]),
    # optimizers
    "tg_sgd_new": (c_void_p, [c_void_p, POINTER(SgdOpts)]),
    "tg_rmsprop_new": (c_void_p, [c_void_p, POINTER(RmspropOpts)]),
    "tg_adam_new": (c_void_p, [c_void_p, POINTER(AdamOpts)]),
    "tg_adamw_new": (c_void_p, [c_void_p, POINTER(AdamOpts)]),
    "tg_lbfgs_new": (c_void_p, [c_void_p, POINTER(LbfgsOpts)]),
    "tg_optim_step": (c_int, [c_void_p]),
    "tg_optim_step_closure": (c_int, [c_void_p, CLOSURE, c_void_p, POINTER(c_double)]),
    "tg_optim_zero_grad": (None, [c_void_p]),
    "tg_optim_free": (None, [c_void_p]),
    # memory, threads
    "tg_get_memory_stats": (None, [POINTER(MemoryStats)]),
    "tg_release_memory": (None, []),
    "tg_set_num_threads": (c_int, [c_int]),
    "tg_get_num_threads": (c_int, []),
}
for _name in ("tg_add", "tg_sub", "tg_mul", "tg_div", "tg_matmul", "tg_pow_tensor"):
    _PROTOTYPES[_name] = (T, [T, T])
for _name in ("tg_neg", "tg_exp", "tg_log", "tg_sin", "tg_cos", "tg_tanh", "tg_sqrt", "tg_relu",
              "tg_abs", "tg_sum", "tg_mean", "tg_transpose"):
    _PROTOTYPES[_name] = (T, [T])
for _name, (_res, _args) in _PROTOTYPES.items():
    _f = getattr(lib, _name)
    _f.restype = _res
    _f.argtypes = _args


# ---------------------------------------------------------------- errors

TG_OK, TG_ERR_ARG, TG_ERR_SHAPE, TG_ERR_NOMEM, TG_ERR_STATE, TG_ERR_IO, TG_ERR_NUMERIC = range(7)


class TensorgradError(Exception):
    """A failure reported by the C library: .status is the tg_status code, .message
    (and str()) the library's tg_last_error() text naming the function and values."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class ArgumentError(TensorgradError, ValueError):
    """TG_ERR_ARG: an argument out of range."""


class ShapeError(TensorgradError, ValueError):
    """TG_ERR_SHAPE: shapes that do not fit together."""


class OutOfMemoryError(TensorgradError, MemoryError):
    """TG_ERR_NOMEM: an allocation failed."""


class StateError(TensorgradError, RuntimeError):
    """TG_ERR_STATE: the call is not valid now (graph freed, not a leaf, ...)."""


class FileError(TensorgradError, OSError):
    """TG_ERR_IO: a file could not be read or written."""


class NumericError(TensorgradError, ArithmeticError):
    """TG_ERR_NUMERIC: a numerical check failed (rank-deficient fit, gradcheck)."""


_CLASSES = {TG_ERR_ARG: ArgumentError, TG_ERR_SHAPE: ShapeError, TG_ERR_NOMEM: OutOfMemoryError,
            TG_ERR_STATE: StateError, TG_ERR_IO: FileError, TG_ERR_NUMERIC: NumericError}


def error(status=None):
    """The exception for the failure recorded on this thread, which is then cleared
    (so a later failure never shows a stale message)."""
    if status is None or status == TG_OK:
        status = lib.tg_last_status()
    msg = (lib.tg_last_error() or b"").decode("utf-8", "replace")
    if not msg:
        msg = "tensorgrad: %s" % lib.tg_status_str(status).decode()
    lib.tg_clear_error()
    return _CLASSES.get(status, TensorgradError)(status, msg)


def check(status):
    """Raises unless a tg_status is TG_OK."""
    if status != TG_OK:
        raise error(status)


def shape_array(shape):
    shape = tuple(int(s) for s in shape)
    return len(shape), (c_int64 * max(len(shape), 1))(*shape)


# Scopes the C library opens around Python code it calls back (an optimizer's
# closure): the tensors made in there are handed outward with tg_keep, so that
# every tensor a Python object holds is owned by that object alone.
_tls = threading.local()


def open_scopes():
    return getattr(_tls, "scopes", 0)


def enter_callback():
    _tls.scopes = open_scopes() + 1


def leave_callback():
    _tls.scopes = open_scopes() - 1
