# SPDX-License-Identifier: MIT
"""Legendre: numpy.polynomial.Legendre with fit() and evaluation done by the C library.

tensorgrad.Legendre is a subclass of numpy.polynomial.Legendre, so everything but
fit() and __call__ (arithmetic, convert, deriv, roots, repr, ...) is numpy's own.
fit() maps x from its domain onto the window exactly as numpy does and solves the
least-squares problem in C:

  * tg_legendre_lstsq_points when the library has it: the streaming QR reads x, y
    and w in place from the numpy arrays (no copy, no design matrix), with numpy's
    weights (multiplying the residual) and rcond;
  * otherwise tg_legendre_lstsq (dgelsd on the design matrix, copies of x and y).

What the C path does not cover falls back to numpy's fit, with the same result:
a list of degrees, full=True, complex data, arguments numpy refuses (numpy
then raises its own error, a 2-d y included) or maps to NaN (x of one value), a
rank-deficient design (numpy's minimum-norm solution is that of the design with
its columns scaled to unit norm: another answer than the library's), and on the
older library weights or a given rcond.
"""
import ctypes
import operator

import numpy as np
import numpy.polynomial.polyutils as pu
from numpy.polynomial import legendre as npleg
from numpy.polynomial._polybase import ABCPolyBase

from . import _lib
from ._lib import lib
from ._tensor import _made, from_numpy, tensor

__all__ = ["Legendre"]

_DEFAULT_WINDOW = (-1.0, 1.0)


class _Points(ctypes.Structure):
    _fields_ = [("x", ctypes.c_void_p), ("y", ctypes.c_void_p), ("w", ctypes.c_void_p),
                ("n", ctypes.c_int64), ("first", ctypes.c_int64),
                ("x_stride", ctypes.c_int64), ("y_stride", ctypes.c_int64), ("w_stride", ctypes.c_int64)]


class _LstsqOpts(ctypes.Structure):
    _fields_ = [("stop", ctypes.c_void_p), ("rcond", ctypes.c_double)]


class _LstsqResult(ctypes.Structure):
    _fields_ = [("ncoef", ctypes.c_int), ("rank", ctypes.c_int),
                ("coef", ctypes.POINTER(ctypes.c_double)), ("cov", ctypes.POINTER(ctypes.c_double)),
                ("se", ctypes.POINTER(ctypes.c_double)), ("cond", ctypes.c_double),
                ("rss", ctypes.c_double), ("n", ctypes.c_int64), ("rank_deficient", ctypes.c_bool),
                ("warning", ctypes.c_char * 200)]


HAVE_POINTS = hasattr(lib, "tg_legendre_lstsq_points")
if HAVE_POINTS:
    lib.tg_legendre_lstsq_points.restype = ctypes.c_int
    lib.tg_legendre_lstsq_points.argtypes = [ctypes.POINTER(_Points), ctypes.c_int, ctypes.c_double,
                                             ctypes.c_double, ctypes.POINTER(_LstsqOpts),
                                             ctypes.POINTER(_LstsqResult)]
    lib.tg_lstsq_result_free.restype = None
    lib.tg_lstsq_result_free.argtypes = [ctypes.POINTER(_LstsqResult)]


class _Fallback(Exception):
    """The C path does not cover this call: numpy's fit gives the answer."""


def _real_vector(a, what):
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        raise _Fallback()
    return np.ascontiguousarray(a, dtype=np.float64)


def _fit_points(x, y, w, deg, alpha, beta, rcond):
    """Coefficients [deg + 1] by the streaming QR, reading x, y, w in place."""
    opts = _LstsqOpts(None, 0.0 if rcond is None else float(rcond))
    pts = _Points(x.ctypes.data, y.ctypes.data, w.ctypes.data if w is not None else None,
                  len(x), 0, 1, 1, 1)
    res = _LstsqResult()
    try:
        st = lib.tg_legendre_lstsq_points(ctypes.byref(pts), deg, alpha, beta, ctypes.byref(opts),
                                          ctypes.byref(res))
        if st != _lib.TG_OK:
            raise _lib.error(st)
        coef = np.ctypeslib.as_array(res.coef, (res.ncoef,)).copy()
        deficient = bool(res.rank_deficient)
    finally:
        lib.tg_lstsq_result_free(ctypes.byref(res))
    if deficient:
        # The library's minimum-norm solution minimizes |coef|; numpy's minimizes
        # it after scaling the design's columns to unit norm, a different answer
        # when the design is rank-deficient.  numpy's fit gives its own (and warns).
        raise _Fallback()
    return coef


def _fit_dense(x, y, w, deg, alpha, beta, rcond):
    """Coefficients by tg_legendre_lstsq (the library before the streaming QR)."""
    if w is not None or rcond is not None:
        raise _Fallback()
    tx, ty = from_numpy(x), from_numpy(y)      # no copy: the solve only reads them
    coef = ctypes.c_void_p()
    st = lib.tg_legendre_lstsq(tx._h, ty._h, deg, alpha, beta, ctypes.byref(coef), None)
    if st == _lib.TG_ERR_NUMERIC:          # rank-deficient: numpy gives the minimum-norm fit
        lib.tg_clear_error()
        raise _Fallback()
    if st != _lib.TG_OK:
        raise _lib.error(st)
    return _made(coef.value).numpy().copy()


class Legendre(npleg.Legendre):
    """numpy.polynomial.Legendre whose fit() and evaluation run in the C library."""

    @classmethod
    def fit(cls, x, y, deg, domain=None, rcond=None, full=False, w=None, window=None, symbol="x"):
        """As numpy.polynomial.Legendre.fit: the least-squares series of degree deg
        in the window's variable, for x mapped from domain (default [min(x), max(x)])
        onto window (default [-1, 1])."""
        try:
            return cls._fit_c(x, y, deg, domain, rcond, full, w, window, symbol)
        except _Fallback:
            return super().fit(x, y, deg, domain=domain, rcond=rcond, full=full, w=w, window=window,
                               symbol=symbol)

    @classmethod
    def _fit_c(cls, x, y, deg, domain, rcond, full, w, window, symbol):
        if full:
            raise _Fallback()
        try:
            deg = operator.index(deg)
        except TypeError:
            raise _Fallback() from None        # a list of degrees, or a bad deg: numpy decides
        x = _real_vector(x, "x")
        y = _real_vector(y, "y")
        w = None if w is None else _real_vector(w, "w")
        # What numpy would refuse (or answer with NaN) goes to numpy, which then
        # raises its own error or gives its own result.
        if (deg < 0 or x.ndim != 1 or x.size == 0 or y.ndim != 1 or len(x) != len(y)
                or (w is not None and (w.ndim != 1 or len(w) != len(x)))):
            raise _Fallback()
        if domain is None:
            domain = pu.getdomain(x)
        elif type(domain) is list and len(domain) == 0:
            domain = cls.domain
        if window is None:
            window = cls.window
        beta, alpha = pu.mapparms(domain, window)     # numpy maps x as beta + alpha * x
        if not (np.isfinite(alpha) and np.isfinite(beta)):
            raise _Fallback()        # a domain of one point: numpy's NaN coefficients
        fit = _fit_points if HAVE_POINTS else _fit_dense
        coef = fit(x, y, w, deg, float(alpha), float(beta), rcond)
        return cls(coef, domain=domain, window=window, symbol=symbol)

    def __call__(self, arg):
        """The series at arg (a number or an array of any shape), as numpy's."""
        a = np.asarray(arg)
        c = self.coef
        if (a.dtype.kind not in "biuf" or c.dtype.kind not in "biuf" or c.ndim != 1 or c.size == 0
                or isinstance(arg, ABCPolyBase)):
            return super().__call__(arg)
        if a.size == 0:
            return np.empty(a.shape)
        off, scl = self.mapparms()
        xs = from_numpy(a.reshape(-1))          # no copy when a is float64 and contiguous
        tc = tensor(c)
        y = _made(lib.tg_legendre_series(tc._h, xs._h, float(scl), float(off)))
        out = y.numpy().reshape(a.shape)
        return out[()] if out.ndim == 0 else out
