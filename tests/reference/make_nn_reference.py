#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Regenerates tests/data/rng.txt, shape_ops.txt and nn.txt: tensorgrad's random
stream from its Python twin (tg_rng.py) and PyTorch values for the shape ops,
pow(Tensor, Tensor), Linear and mse_loss.

Run with Debian's interpreter, which has torch and numpy:

    /usr/bin/python3 tests/reference/make_nn_reference.py [output-dir]

The output directory defaults to tests/data next to this script.  The "random"
inputs come from tg_rng.py with fixed seeds, so two runs write identical files.

Format read by tests/support/support.c: text lines `key v1 v2 ...`, values
printed with repr() (shortest round-trip form), `#` comment lines, keys unique
within a file.  A key with no values is an empty list (the shape of a 0-d tensor).
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tg_rng  # noqa: E402
from refdata import Writer as _Writer, positive0, put_case, signed0, signed1, values  # noqa: E402,F401

torch.set_default_dtype(torch.float64)
F64 = torch.float64
SCRIPT = "tests/reference/make_nn_reference.py"


def Writer(path, title, notes=()):
    return _Writer(path, title, notes, script=SCRIPT)


def halves(words):
    """uint64 values as hi, lo 32-bit halves (exact as doubles)."""
    hi = [w >> 32 for w in words]
    lo = [w & 0xFFFFFFFF for w in words]
    return hi, lo


# ------------------------------------------------------------------ rng.txt

RNG_SEEDS = [0, 1, 42, (1 << 64) - 1]


def rng(outdir):
    w = Writer(os.path.join(outdir, "rng.txt"),
               "tensorgrad's generator (xoshiro256** seeded by splitmix64) from its Python twin tg_rng.py",
               ["uint64 values are split into .hi / .lo 32-bit halves; seeds are given the same way.",
                "seed<i>: after tg_rng_seed(seed): .state the four words, .next the first 8 tg_rng_next,",
                "then (same generator, continuing) .uniform 8 tg_rng_uniform, .normal 8 tg_rng_normal,",
                ".randint 20 tg_rng_randint(-3, 10)."])
    for i, seed in enumerate(RNG_SEEDS):
        r = tg_rng.Rng(seed)
        hi, lo = halves([seed])
        w.put(f"seed{i}.seed.hi", hi)
        w.put(f"seed{i}.seed.lo", lo)
        hi, lo = halves(r.s)
        w.put(f"seed{i}.state.hi", hi)
        w.put(f"seed{i}.state.lo", lo)
        hi, lo = halves([r.next() for _ in range(8)])
        w.put(f"seed{i}.next.hi", hi)
        w.put(f"seed{i}.next.lo", lo)
        w.put(f"seed{i}.uniform", [r.uniform() for _ in range(8)])
        w.put(f"seed{i}.normal", [r.normal() for _ in range(8)])
        w.put(f"seed{i}.randint", [r.randint(-3, 10) for _ in range(20)])

    w.comment("fills: tg_manual_seed(5), then in order tg_rand([2,3]), tg_randn([7]) (odd: the last")
    w.comment("value is a draw's cosine alone), tg_randn([2,2]), tg_rand_uniform([4], -2, 3)")
    tg_rng.manual_seed(5)
    w.put("fill.rand", tg_rng.rand(6))
    w.put("fill.randn7", tg_rng.randn(7))
    w.put("fill.randn4", tg_rng.randn(4))
    w.put("fill.uniform", tg_rng.rand_uniform(4, -2.0, 3.0))

    w.comment("linear: tg_manual_seed(3), tg_linear_new(3, 2, true) (weight [2,3] then bias [2]), then")
    w.comment("tg_linear_new(4, 1, false) (weight [1,4]), uniform on [-1/sqrt(in), 1/sqrt(in))")
    tg_rng.manual_seed(3)
    w1, b1 = tg_rng.linear_init(3, 2, True)
    w2, _ = tg_rng.linear_init(4, 1, False)
    w.put("linear.a.weight", w1)
    w.put("linear.a.bias", b1)
    w.put("linear.b.weight", w2)
    w.close()


# ------------------------------------------------------------------ shape_ops.txt


CASE_NOTES = [
    "for each case NAME, NAME.in<i>.shape / NAME.in<i> are the inputs (row-major), NAME.out.shape /",
    "NAME.out the forward value, NAME.w fixed weights of out's shape, NAME.grad<i> = d sum(out * w) / d in<i>.",
    "Element k (row-major) of generated inputs: signed0 = sin(1 + 0.7 k), signed1 = cos(0.5 + 1.3 k),",
    "positive0 = 1.5 + sin(1 + 0.7 k); weights w = cos(0.2 + 0.45 k).",
]


def shape_ops(outdir):
    w = Writer(os.path.join(outdir, "shape_ops.txt"),
               "PyTorch float64 values and first-order gradients of unsqueeze, flatten, select, pow(Tensor, Tensor)",
               CASE_NOTES)
    w.comment("powers: x.unsqueeze(-1).pow(p), x = linspace(-1.5, 1.5, 7) (an exact 0), p = [1, 2, 3]")
    put_case(w, "powers", [torch.linspace(-1.5, 1.5, 7, dtype=F64), torch.tensor([1.0, 2.0, 3.0])],
             lambda x, p: x.unsqueeze(-1).pow(p))
    w.comment("pow_bcast: a [2,3] positive0 ** b [3] signed1")
    put_case(w, "pow_bcast", [values([2, 3], positive0), values([3], signed1)], torch.pow)
    w.comment("pow_zero: PyTorch's conventions at base 0 (and a negative base): elementwise a ** b")
    a = torch.tensor([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.5, 2.0, 0.7])
    b = torch.tensor([0.0, 1.0, 2.0, 0.5, 3.0, -1.0, 2.0, -0.5, 0.0])
    put_case(w, "pow_zero", [a, b], torch.pow)
    w.comment("select_<dim>_<index>: x [2,3,4] signed0, x.select(dim, index)")
    for dim, index in ((0, 1), (1, -1), (2, 2), (-1, 0)):
        name = f"select_{'m' if dim < 0 else ''}{abs(dim)}_{'m' if index < 0 else ''}{abs(index)}"
        put_case(w, name, [values([2, 3, 4], signed0)], lambda x, d=dim, i=index: x.select(d, i))
    w.comment("flatten_<start>_<end> and unsqueeze_<dim>: x [2,3,4] signed0 (the values are x's)")
    for s, e in ((0, -1), (1, 2), (0, 1), (1, 1), (-2, -1)):
        name = f"flatten_{'m' if s < 0 else ''}{abs(s)}_{'m' if e < 0 else ''}{abs(e)}"
        put_case(w, name, [values([2, 3, 4], signed0)], lambda x, s=s, e=e: x.flatten(s, e))
    for d in (0, 1, 3, -1, -4):
        name = f"unsqueeze_{'m' if d < 0 else ''}{abs(d)}"
        put_case(w, name, [values([2, 3, 4], signed0)], lambda x, d=d: x.unsqueeze(d))
    w.comment("cases.count: how many cases this file holds (the test's table must name them all)")
    w.put("cases.count", [w.cases])
    w.close()


# ------------------------------------------------------------------ nn.txt


def nn(outdir):
    w = Writer(os.path.join(outdir, "nn.txt"),
               "PyTorch float64 values and first-order gradients of Linear and mse_loss",
               CASE_NOTES)
    w.comment("linear: tg_manual_seed(11); tg_linear_new(4, 3, true); x = tg_randn([5,4]) (the stream")
    w.comment("continuing after the init); inputs x, weight, bias; out = F.linear(x, weight, bias)")
    tg_rng.manual_seed(11)
    wt, bs = tg_rng.linear_init(4, 3, True)
    x = torch.tensor(tg_rng.randn(20)).reshape(5, 4)
    weight_t = torch.tensor(wt).reshape(3, 4)
    bias_t = torch.tensor(bs)
    put_case(w, "linear", [x, weight_t, bias_t], torch.nn.functional.linear)
    w.comment("linear_1d: the same weight and bias, x = the first row of linear's x")
    put_case(w, "linear_1d", [x[0].clone(), weight_t, bias_t], torch.nn.functional.linear)
    w.comment("linear_nobias: the same x and weight, no bias")
    put_case(w, "linear_nobias", [x, weight_t], torch.nn.functional.linear)
    w.comment("mse_<reduction>: pred [2,3] signed0, target [3] signed1 (broadcast), F.mse_loss")
    for red in ("mean", "sum", "none"):
        put_case(w, f"mse_{red}", [values([2, 3], signed0), values([3], signed1)],
                 lambda p, t, red=red: torch.nn.functional.mse_loss(
                     p, t.expand(2, 3), reduction=red))
    w.close()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "data")
    outdir = os.path.normpath(outdir)
    os.makedirs(outdir, exist_ok=True)
    rng(outdir)
    shape_ops(outdir)
    nn(outdir)


if __name__ == "__main__":
    main()
