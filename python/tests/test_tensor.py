# SPDX-License-Identifier: MIT
"""Tensors from and to numpy, operators against numpy, gradients, gradient mode,
errors carrying tg_last_error(), and tensors freed when their Python object dies."""
import gc
import os

import numpy as np
import pytest

import tensorgrad as tg


def test_version_is_the_librarys_and_the_builds():
    v = tg.__version__
    parts = v.split(".")
    assert len(parts) == 3 and all(p.isdigit() for p in parts), v
    assert v == tg._lib.lib.tg_version().decode()
    want = os.environ.get("TG_EXPECT_VERSION")      # CMake's PROJECT_VERSION, under ctest
    if want:
        assert v == want


def test_tensor_copies_and_numpy_is_a_view():
    a = np.arange(6.0).reshape(2, 3)
    t = tg.tensor(a)
    a[0, 0] = 100.0
    assert t.numpy()[0, 0] == 0.0                  # a copy was taken
    v = t.numpy()
    assert v.shape == (2, 3) and v.dtype == np.float64
    v[1, 2] = -7.0
    assert t.numpy()[1, 2] == -7.0                 # writes through the view reach the tensor
    assert np.shares_memory(t.numpy(), t.numpy())
    assert np.array_equal(np.asarray(t), t.numpy())


def test_from_numpy_shares_float64_arrays_and_keeps_them_alive():
    from tensorgrad import _tensor
    a = np.arange(6.0).reshape(2, 3)
    t = tg.from_numpy(a)
    assert np.shares_memory(t.numpy(), a)
    a[0, 0] = 100.0
    assert t.numpy()[0, 0] == 100.0
    r = t.reshape(6)
    y = t * 2.0
    key = max(_tensor._shared)
    assert _tensor._shared[key] is a
    del a, t
    gc.collect()
    assert key in _tensor._shared                  # r still uses the memory
    assert r.numpy()[0] == 100.0 and y.numpy()[0, 0] == 0.0 + 200.0
    del r
    gc.collect()
    assert key not in _tensor._shared              # released with the last tensor
    # what cannot be shared is copied
    for src in [np.arange(6), np.ones((3, 4))[:, ::2], np.ones(3, dtype=">f8"), [1.0, 2.0]]:
        t = tg.from_numpy(src)
        assert not np.shares_memory(t.numpy(), np.asarray(src))
        assert np.array_equal(t.numpy(), np.asarray(src, dtype=np.float64))
    ro = np.ones(4)
    ro.flags.writeable = False
    assert not np.shares_memory(tg.from_numpy(ro).numpy(), ro)
    # an op's numpy operand is copied, never aliased
    a = np.ones(3)
    s = tg.ones(3) + a
    a[:] = 5.0
    assert np.array_equal(s.numpy(), [2.0, 2.0, 2.0])


def test_numpy_view_keeps_the_tensor_alive():
    t = tg.tensor(np.linspace(0, 1, 100_000))
    v = t.numpy()
    del t
    gc.collect()
    filler = [tg.full((100_000,), 5.0) for _ in range(4)]    # would reuse a freed block
    assert v[0] == 0.0 and v[-1] == 1.0 and np.all(np.diff(v) > 0)
    del filler


def test_conversions_of_dtypes_scalars_and_empty():
    assert tg.tensor(3).shape == () and tg.tensor(3).item() == 3.0
    assert float(tg.tensor([2.5])) == 2.5
    assert tg.tensor(np.arange(4, dtype=np.int32)).numpy().dtype == np.float64
    e = tg.zeros(0, 3)
    assert e.shape == (0, 3) and e.numpy().shape == (0, 3)
    assert tg.tensor(np.ones((3, 4))[:, ::2]).shape == (3, 2)     # non-contiguous input
    with pytest.raises(tg.ShapeError):
        tg.tensor([1.0, 2.0]).item()


def test_operators_match_numpy_with_broadcasting():
    rng = np.random.default_rng(1)
    a = rng.uniform(0.5, 2.0, (3, 4))
    b = rng.uniform(0.5, 2.0, (4,))
    ta, tb = tg.tensor(a), tg.tensor(b)
    cases = [(ta + tb, a + b), (ta - tb, a - b), (ta * tb, a * b), (ta / tb, a / b),
             (ta ** 2, a ** 2), (ta ** 0.5, a ** 0.5), (ta ** tb, a ** b), (2.0 ** ta, 2.0 ** a),
             (-ta, -a), (ta + 1.5, a + 1.5), (1.5 - ta, 1.5 - a), (3 * ta, 3 * a), (ta / 4, a / 4),
             (1 / ta, 1 / a), (a + tb, a + b), (b * ta, b * a), (ta @ tg.tensor(a.T), a @ a.T),
             (a @ tg.tensor(a.T), a @ a.T), (abs(tg.tensor(-a)), a)]
    for got, want in cases:
        assert isinstance(got, tg.Tensor)
        assert got.shape == want.shape
        assert np.allclose(got.numpy(), want, rtol=1e-15, atol=0)


def test_unary_ops_and_reductions_match_numpy():
    x = np.linspace(-2, 2, 41)
    t = tg.tensor(x)
    pos = tg.tensor(x + 3)
    for got, want in [(t.exp(), np.exp(x)), (tg.sin(t), np.sin(x)), (t.cos(), np.cos(x)),
                      (t.tanh(), np.tanh(x)), (pos.log(), np.log(x + 3)), (pos.sqrt(), np.sqrt(x + 3)),
                      (t.relu(), np.maximum(x, 0)), (t.abs(), np.abs(x)), (t.sum(), x.sum()),
                      (t.mean(), x.mean()), (t.legendre(3), 0.5 * (5 * x ** 3 - 3 * x)),
                      (t.affine(2, 1), 2 * x + 1)]:
        assert np.allclose(got.numpy(), want, rtol=1e-14, atol=1e-15)
    m = tg.tensor(np.arange(12.0).reshape(3, 4))
    assert np.array_equal(m.sum(0).numpy(), np.arange(12.0).reshape(3, 4).sum(0))
    assert m.sum(1, keepdim=True).shape == (3, 1)
    assert m.T.shape == (4, 3) and m.reshape(2, 6).shape == (2, 6) and m.reshape(-1).shape == (12,)
    assert np.array_equal(m[1].numpy(), [4.0, 5.0, 6.0, 7.0])
    assert m.unsqueeze(0).shape == (1, 3, 4) and m.flatten().shape == (12,)


def test_reshape_shares_storage():
    t = tg.zeros(2, 3)
    r = t.reshape(6)
    r.numpy()[4] = 9.0
    assert t.numpy()[1, 1] == 9.0


def test_backward_gives_the_analytic_gradients():
    x = np.linspace(-1, 1, 7)
    t = tg.tensor(x, requires_grad=True)
    assert t.requires_grad and t.grad is None
    loss = (t.sin() * t).sum()
    assert loss.requires_grad
    loss.backward()
    assert np.allclose(t.grad.numpy(), np.cos(x) * x + np.sin(x), rtol=1e-14, atol=1e-15)
    # gradients accumulate, and .grad = None / zero_grad() drop them
    (t * 3.0).sum().backward()
    assert np.allclose(t.grad.numpy(), np.cos(x) * x + np.sin(x) + 3.0, rtol=1e-14)
    t.grad = None
    assert t.grad is None


def test_matmul_gradient_and_explicit_output_gradient():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    ta, tb = tg.tensor(a, requires_grad=True), tg.tensor(b, requires_grad=True)
    y = ta @ tb
    g = rng.standard_normal((3, 2))
    y.backward(g)
    assert np.allclose(ta.grad.numpy(), g @ b.T, rtol=1e-13)
    assert np.allclose(tb.grad.numpy(), a.T @ g, rtol=1e-13)


def test_create_graph_gives_second_derivatives():
    t = tg.tensor([0.7], requires_grad=True)
    (t ** 3).sum().backward(create_graph=True)
    g = t.grad                                    # 3 t^2, itself differentiable
    t.grad = None
    g.sum().backward()
    assert np.isclose(t.grad.item(), 6 * 0.7)


def test_no_grad_records_nothing():
    t = tg.tensor([1.0, 2.0], requires_grad=True)
    with tg.no_grad():
        assert not tg.is_grad_enabled()
        y = t * 2.0
    assert tg.is_grad_enabled()
    assert not y.requires_grad

    @tg.no_grad()
    def f(v):
        return v + 1.0
    assert not f(t).requires_grad
    assert (t + 1.0).requires_grad
    prev = tg.set_grad_enabled(False)
    assert prev is True and not (t * t).requires_grad
    tg.set_grad_enabled(True)
    assert not t.detach().requires_grad


def test_errors_raise_with_the_librarys_message():
    with pytest.raises(tg.ShapeError) as e:
        tg.tensor(np.ones((2, 3))) + tg.tensor(np.ones((4,)))
    assert isinstance(e.value, ValueError) and isinstance(e.value, tg.TensorgradError)
    assert e.value.message.startswith("tg_add") and "[2,3]" in e.value.message and "[4]" in e.value.message
    assert e.value.status == 2
    with pytest.raises(tg.ShapeError, match=r"tg_matmul: a is \[2,3\] but b is \[2,3\]"):
        tg.ones(2, 3) @ tg.ones(2, 3)
    y = tg.ones(2, requires_grad=True) * 2.0
    with pytest.raises(tg.StateError, match="tg_set_requires_grad"):
        y.requires_grad = False
    with pytest.raises(tg.ArgumentError):
        tg.ones(3).legendre(-1)
    with pytest.raises(tg.ShapeError):
        tg.ones(3).reshape(4)
    with pytest.raises(tg.StateError):
        tg.ones(3).sum().backward()               # does not require grad
    # the error is cleared once raised: a later failure shows its own message
    with pytest.raises(tg.ShapeError, match="tg_sub"):
        tg.ones(2) - tg.ones(3)


def test_tensors_are_freed_when_their_python_objects_die():
    tg.release_memory()
    gc.collect()
    base = tg.memory_stats()["live_blocks"]
    w = tg.tensor(np.ones(50), requires_grad=True)
    for _ in range(200):
        loss = ((w * 2.0 - 1.0) ** 2).mean()
        loss.backward()
        v = w.grad.numpy()
        w.grad = None
    del loss, v, w
    gc.collect()
    tg.release_memory()
    assert tg.memory_stats()["live_blocks"] <= base


def test_rng_is_seeded():
    tg.manual_seed(7)
    a = tg.rand(5).numpy().copy()
    tg.manual_seed(7)
    assert np.array_equal(tg.rand(5).numpy(), a)
    assert np.all((a >= 0) & (a < 1))
    assert tg.randn(3, 2).shape == (3, 2)
    u = tg.rand_uniform((1000,), -2.0, 3.0).numpy()
    assert u.min() >= -2.0 and u.max() < 3.0
    assert np.array_equal(tg.linspace(0, 1, 5).numpy(), np.linspace(0, 1, 5))
