# SPDX-License-Identifier: MIT
"""Optimizers and nn: one step of each against its update formula (numpy), small
models trained to their answers, and closures (L-BFGS) with tensors made inside."""
import gc

import numpy as np
import pytest

import tensorgrad as tg


def grads_of(w, fn):
    w.grad = None
    loss = fn(w)
    loss.backward()
    return loss.item(), w.grad.numpy().copy()


def quad(w):
    return ((w * w * 0.5 + w * 3.0).sum())       # gradient w + 3


def test_sgd_step_is_p_minus_lr_grad():
    p0 = np.array([1.0, -2.0, 0.25])
    w = tg.tensor(p0, requires_grad=True)
    opt = tg.SGD([w], lr=0.1)
    _, g = grads_of(w, quad)
    opt.step()
    assert np.array_equal(w.numpy(), p0 - 0.1 * g)


def test_sgd_momentum_follows_pytorchs_formula():
    p = np.array([1.0, -2.0])
    w = tg.tensor(p, requires_grad=True)
    opt = tg.SGD([w], lr=0.1, momentum=0.9, weight_decay=0.01)
    buf = None
    for _ in range(3):
        _, g = grads_of(w, quad)
        g = g + 0.01 * p
        buf = g if buf is None else 0.9 * buf + g
        p = p - 0.1 * buf
        opt.step()
        assert np.allclose(w.numpy(), p, rtol=1e-15, atol=1e-16)


@pytest.mark.parametrize("cls,wd", [(tg.Adam, 0.0), (tg.AdamW, 1e-2)])
def test_adam_steps_follow_pytorchs_formula(cls, wd):
    p = np.array([0.5, -1.5, 2.0])
    w = tg.tensor(p, requires_grad=True)
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    opt = cls([w], lr=lr)
    m = v = 0.0
    for t in range(1, 4):
        _, g = grads_of(w, quad)
        if cls is tg.AdamW:
            p = p * (1 - lr * wd)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mhat, vhat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        p = p - lr * mhat / (np.sqrt(vhat) + eps)
        opt.step()
        assert np.allclose(w.numpy(), p, rtol=1e-13, atol=1e-15)


def test_rmsprop_step_follows_pytorchs_formula():
    p = np.array([0.5, -1.5])
    w = tg.tensor(p, requires_grad=True)
    opt = tg.RMSprop([w], lr=0.01)
    sq = 0.0
    for _ in range(3):
        _, g = grads_of(w, quad)
        sq = 0.99 * sq + 0.01 * g * g
        p = p - 0.01 * g / (np.sqrt(sq) + 1e-8)
        opt.step()
        assert np.allclose(w.numpy(), p, rtol=1e-13, atol=1e-15)


def test_a_linear_model_trains_to_the_generating_weights():
    tg.manual_seed(0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((256, 3))
    W = np.array([[1.5, -2.0, 0.5]])
    Y = X @ W.T + 0.25
    model = tg.Linear(3, 1)
    assert model.weight.shape == (1, 3) and model.bias.shape == (1,)
    opt = tg.Adam(model.parameters(), lr=0.05)
    x, y = tg.tensor(X), tg.tensor(Y)
    for _ in range(400):
        opt.zero_grad()
        loss = tg.mse_loss(model(x), y)
        loss.backward()
        opt.step()
    assert loss.item() < 1e-6
    assert np.allclose(model.weight.numpy(), W, atol=1e-3)
    assert np.allclose(model.bias.numpy(), [0.25], atol=1e-3)


def test_lbfgs_with_a_closure_solves_least_squares():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((50, 4))
    b = rng.standard_normal((50, 1))
    w = tg.zeros(4, 1, requires_grad=True)
    ta, tb = tg.tensor(A), tg.tensor(b)
    opt = tg.LBFGS([w], lr=1.0, max_iter=50, line_search_fn="strong_wolfe")
    made = []

    def closure():
        opt.zero_grad()
        loss = ((ta @ w - tb) ** 2).sum()
        loss.backward()
        made.append(loss)                         # tensors made inside outlive the step
        return loss
    first = opt.step(closure)
    assert first == pytest.approx(float((b ** 2).sum()))
    want = np.linalg.lstsq(A, b, rcond=None)[0]
    assert np.allclose(w.numpy(), want, atol=1e-6)
    assert len(made) > 1 and all(np.isfinite(t.item()) for t in made)
    del made
    gc.collect()


def test_closure_exceptions_propagate_and_step_without_closure_fails_for_lbfgs():
    w = tg.zeros(2, requires_grad=True)
    opt = tg.LBFGS([w])
    with pytest.raises(tg.StateError, match="closure"):
        opt.step()

    def bad():
        raise KeyError("from the closure")
    with pytest.raises(KeyError, match="from the closure"):
        opt.step(bad)
    sgd = tg.SGD([w], lr=0.1)
    loss = sgd.step(lambda: (w * w + 1.0).sum())
    assert loss == 2.0


def test_optimizer_arguments_are_checked():
    w = tg.zeros(2, requires_grad=True)
    with pytest.raises(tg.ArgumentError):
        tg.SGD([w], lr=-1.0)
    with pytest.raises(tg.ArgumentError):
        tg.Adam([w], betas=(1.5, 0.9))
    with pytest.raises(ValueError):
        tg.SGD([], lr=0.1)
    with pytest.raises(ValueError):
        tg.LBFGS([w], line_search_fn="armijo")
