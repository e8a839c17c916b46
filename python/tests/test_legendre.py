# SPDX-License-Identifier: MIT
"""tensorgrad.Legendre against numpy.polynomial.Legendre: same domain, window and
coefficients (to 1e-9), same evaluation, same argument errors, and the fit really
computed by the C library."""
import numpy as np
import numpy.polynomial.polyutils as pu
import pytest
from numpy.polynomial import Legendre as NpLegendre
from numpy.polynomial._polybase import ABCPolyBase

import tensorgrad as tg


def assert_coef_close(got, want, tol=1e-9):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape
    err = np.abs(got - want)
    i = np.unravel_index(np.argmax(err), err.shape)
    assert err[i] <= tol, "coef%s: tensorgrad %r, numpy %r, |diff| %g" % (i, got[i], want[i], err[i])


def data(n, seed=0, lo=-3.0, hi=7.0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(lo, hi, n)                      # unsorted, like real data
    y = np.sin(x) * np.exp(-0.1 * x) + 0.01 * rng.standard_normal(n)
    return x, y


@pytest.fixture
def numpy_fit_forbidden(monkeypatch):
    """Fails any call of numpy's own fit: the code under test must not use it."""
    def refuse(*a, **k):
        raise AssertionError("numpy's Legendre.fit was called")
    monkeypatch.setattr(ABCPolyBase, "fit", classmethod(refuse))


@pytest.mark.parametrize("n,deg", [(3, 0), (2, 1), (50, 5), (1000, 12), (200_000, 30), (5000, 60)])
def test_fit_matches_numpy_coefficients_domain_and_window(n, deg):
    x, y = data(n, seed=deg)
    want = NpLegendre.fit(x, y, deg)
    got = tg.Legendre.fit(x, y, deg)
    assert isinstance(got, NpLegendre) and type(got) is tg.Legendre
    assert np.array_equal(got.domain, want.domain)
    assert got.domain[0] == x.min() and got.domain[1] == x.max()
    assert np.array_equal(got.window, want.window) and list(got.window) == [-1.0, 1.0]
    assert_coef_close(got.coef, want.coef)


def test_fit_runs_in_the_c_library(numpy_fit_forbidden):
    x, y = data(3000)
    got = tg.Legendre.fit(x, y, 9)
    assert got.coef.shape == (10,)
    assert np.max(np.abs(got(x) - y)) < 0.1


def test_fit_accepts_numpy_integers_lists_and_int_data():
    x = list(range(40))
    y = [v * v - 3 * v for v in x]
    want = NpLegendre.fit(x, y, np.int64(2))
    got = tg.Legendre.fit(x, y, np.int64(2))
    assert_coef_close(got.coef, want.coef)
    assert_coef_close(got.convert(kind=np.polynomial.Polynomial).coef, [0.0, -3.0, 1.0])


def test_fit_with_weights_matches_numpy():
    x, y = data(4000, seed=3)
    w = np.random.default_rng(4).uniform(0.1, 3.0, x.size)
    want = NpLegendre.fit(x, y, 11, w=w)
    got = tg.Legendre.fit(x, y, 11, w=w)
    assert_coef_close(got.coef, want.coef)
    # the weights change the answer (they are not ignored)
    assert np.max(np.abs(got.coef - NpLegendre.fit(x, y, 11).coef)) > 1e-6


def test_fit_with_given_domain_and_window_matches_numpy():
    x, y = data(1500, seed=6)
    for domain, window in [([-5.0, 9.0], None), (None, [0.0, 2.0]), ([], None), ([-4.0, 8.0], [-0.5, 0.5])]:
        want = NpLegendre.fit(x, y, 6, domain=domain, window=window)
        got = tg.Legendre.fit(x, y, 6, domain=domain, window=window)
        assert np.array_equal(got.domain, want.domain) and np.array_equal(got.window, want.window)
        assert_coef_close(got.coef, want.coef)


def test_fit_falls_back_to_numpy_for_what_c_does_not_do():
    x, y = data(300, seed=7)
    got, info = tg.Legendre.fit(x, y, 4, full=True)
    want, winfo = NpLegendre.fit(x, y, 4, full=True)
    assert_coef_close(got.coef, want.coef)
    assert info[1] == winfo[1] == 5                        # rank
    got = tg.Legendre.fit(x, y, [0, 2, 4])                 # a list of degrees
    assert_coef_close(got.coef, NpLegendre.fit(x, y, [0, 2, 4]).coef)
    assert got.coef[1] == 0 and got.coef[3] == 0


def test_rank_deficient_fit_warns_and_gives_numpys_minimum_norm_solution():
    x = np.array([0.0, 1.0, 2.0, 3.0])
    y = np.array([1.0, -1.0, 2.0, 0.5])
    with pytest.warns(pu.RankWarning):
        want = NpLegendre.fit(x, y, 6)
    with pytest.warns(pu.RankWarning):
        got = tg.Legendre.fit(x, y, 6)
    assert_coef_close(got.coef, want.coef)


def test_fit_rejects_what_numpy_rejects_with_numpys_error():
    x, y = data(20)
    cases = [(x.reshape(4, 5), y.reshape(4, 5), 2), (np.array([]), np.array([]), 2), (x, y[:-1], 2),
             (x, y.reshape(1, 2, 10), 2), (x, np.stack([y, y], axis=1), 2), (x, y, -1), (x, y, 2.5),
             (x, y, 3, None, None, False, np.ones(19)),
             (np.full(5, 2.0), y[:5], 1)]                    # one point: no domain to map
    for args in cases:
        with pytest.raises(Exception) as want, np.errstate(all="ignore"):
            NpLegendre.fit(*args)
        with pytest.raises(type(want.value)) as got, np.errstate(all="ignore"):
            tg.Legendre.fit(*args)
        assert str(got.value) == str(want.value)


def test_fit_reports_nan_through_the_library_message():
    x, y = data(100)
    y[17] = np.nan
    with pytest.raises(tg.TensorgradError) as e:
        tg.Legendre.fit(x, y, 3)
    assert isinstance(e.value, ValueError)
    assert e.value.message.startswith("tg_legendre_lstsq")
    assert str(e.value) == e.value.message


def test_evaluation_matches_numpy_for_any_shape():
    x, y = data(800, seed=8)
    got = tg.Legendre.fit(x, y, 15)
    want = NpLegendre(got.coef, got.domain, got.window)
    for arg in [x, x.reshape(16, 50), 2.5, np.float64(-1.0), np.arange(5), np.array([])]:
        g, w = got(arg), want(arg)
        assert np.shape(g) == np.shape(w)
        assert np.allclose(g, w, rtol=1e-12, atol=1e-12)
    assert isinstance(got(2.5), np.float64)
    assert np.array_equal(got(x[:3].tolist()), got(x[:3]))       # a list too (numpy's cannot)
    # composition with another series still works (numpy's path)
    assert np.allclose(got(NpLegendre([0.0, 1.0]))(0.3), want(0.3))


def test_numpy_methods_work_on_the_result():
    x, y = data(500, seed=9)
    got = tg.Legendre.fit(x, y, 5)
    want = NpLegendre.fit(x, y, 5)
    assert_coef_close(got.convert().coef, want.convert().coef, 1e-8)
    assert_coef_close(got.deriv().coef, want.deriv().coef)
    assert repr(got).startswith("Legendre(")
    assert type(got + got) is tg.Legendre
