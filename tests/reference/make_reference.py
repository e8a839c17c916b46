#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Regenerates the reference data in tests/data/ from PyTorch and exact arithmetic.

Run with Debian's interpreter, which has torch and numpy:

    /usr/bin/python3 tests/reference/make_reference.py [output-dir]

The output directory defaults to tests/data next to this script.  Nothing here is
random, so two runs on the same torch build write identical files.

Format read by tests/support/support.c and tests/check_tutorial.c: text lines
`key v1 v2 ...`, values printed with repr() (shortest round-trip form, at most 17
significant digits), `#` comment lines, keys unique within a file.  A key with no
values is an empty list (the shape of a 0-d tensor).
"""
import math
import os
import sys
from fractions import Fraction
from math import comb

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from refdata import Writer, positive0, positive1, put_case, signed0, signed1, values  # noqa: E402

torch.set_default_dtype(torch.float64)
F64 = torch.float64


# ------------------------------------------------------------------ tutorial


class LegendrePolynomial3(torch.autograd.Function):
    """As in PyTorch's tutorial polynomial_custom_function."""

    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return 0.5 * (5 * input ** 3 - 3 * input)

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        return grad_output * 1.5 * (5 * input ** 2 - 1)


def tutorial(outdir):
    """The tutorial verbatim, with dtype float64 on the CPU."""
    x = torch.linspace(-math.pi, math.pi, 2000, dtype=F64)
    y = torch.sin(x)
    a = torch.full((), 0.0, dtype=F64, requires_grad=True)
    b = torch.full((), -1.0, dtype=F64, requires_grad=True)
    c = torch.full((), 0.0, dtype=F64, requires_grad=True)
    d = torch.full((), 0.3, dtype=F64, requires_grad=True)
    learning_rate = 5e-6
    steps, losses = [], []
    loss_0 = grad_0 = None
    for t in range(2000):
        P3 = LegendrePolynomial3.apply
        y_pred = a + b * P3(c + d * x)
        loss = (y_pred - y).pow(2).sum()
        if t % 100 == 99:
            steps.append(t)
            losses.append(loss.item())
        if t == 0:
            loss_0 = loss.item()
        loss.backward()
        if t == 0:
            grad_0 = [p.grad.item() for p in (a, b, c, d)]
        with torch.no_grad():
            a -= learning_rate * a.grad
            b -= learning_rate * b.grad
            c -= learning_rate * c.grad
            d -= learning_rate * d.grad
            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None

    w = Writer(os.path.join(outdir, "tutorial.txt"),
               "PyTorch tutorial polynomial_custom_function in float64 (x = linspace(-pi, pi, 2000), "
               "y = sin(x), a b c d = 0 -1 0 0.3, lr 5e-6, 2000 steps)",
               ["steps: t where t % 100 == 99; loss: loss at those t; a b c d: values after the last step",
                "loss_0: loss at t = 0; grad_0: a.grad b.grad c.grad d.grad at t = 0",
                "x: torch.linspace(-pi, pi, 2000) itself"])
    w.put("x", x.tolist())
    w.put("steps", steps)
    w.put("loss", losses)
    for name, p in zip("abcd", (a, b, c, d)):
        w.put(name, [p.item()])
    w.put("loss_0", [loss_0])
    w.put("grad_0", grad_0)
    w.close()
    return dict(zip(steps, losses)), [p.item() for p in (a, b, c, d)]


# ------------------------------------------------------------------ legendre


def legendre_exact(n, x):
    """P_n, P_n', P_n'' at the rational x from the explicit coefficient formula
    P_n(x) = 2^-n sum_k (-1)^k C(n,k) C(2n-2k,n) x^(n-2k), in exact arithmetic."""
    p = dp = d2p = Fraction(0)
    for k in range(n // 2 + 1):
        m = n - 2 * k
        coef = Fraction((-1) ** k * comb(n, k) * comb(2 * n - 2 * k, n), 2 ** n)
        p += coef * x ** m
        if m >= 1:
            dp += coef * m * x ** (m - 1)
        if m >= 2:
            d2p += coef * m * (m - 1) * x ** (m - 2)
    return p, dp, d2p


def legendre(outdir):
    xs = [-1.05] + [(i - 20) / 20 for i in range(41)] + [1.05]
    assert -1.0 in xs and 0.0 in xs and 1.0 in xs
    w = Writer(os.path.join(outdir, "legendre.txt"),
               "Legendre polynomials P_n and their first and second derivatives, n = 0..64",
               ["x: -1.05, the 41 points (i - 20) / 20 for i = 0..40, 1.05",
                "computed without Bonnet's recurrence: exact rationals (Fraction of each float64 x) on",
                "P_n(x) = 2^-n sum_k (-1)^k C(n,k) C(2n-2k,n) x^(n-2k), differentiated term by term,",
                "each value rounded to the nearest float64 at the end"])
    w.put("x", xs)
    fx = [Fraction(x) for x in xs]
    for n in range(65):
        vals = [legendre_exact(n, x) for x in fx]
        w.put(f"P{n}", [float(v[0]) for v in vals])
        w.put(f"dP{n}", [float(v[1]) for v in vals])
        w.put(f"d2P{n}", [float(v[2]) for v in vals])
    w.close()


# ------------------------------------------------------------------ ops


INPUT_NOTES = [
    "ops: for each case NAME, NAME.in<i>.shape / NAME.in<i> are the inputs (row-major), NAME.out.shape /",
    "NAME.out the forward value, NAME.w fixed weights of out's shape, NAME.grad<i> = d sum(out * w) / d in<i>,",
    "NAME.args the non-tensor arguments (pow: exponent; sum_dim: dim keepdim; reshape: target shape).",
    "A .shape key with no values is a 0-d tensor.  Element k (row-major) of the inputs is:",
    "  signed:   in0 = sin(1 + 0.7 k), in1 = cos(0.5 + 1.3 k)",
    "  positive: in0 = 1.5 + sin(1 + 0.7 k), in1 = 1.5 + cos(0.5 + 1.3 k)   (log, sqrt, pow, divisors)",
    "  relu:     in0 = 0.25 (k - 5)   (negatives, an exact zero, positives)",
    "and the weights are w = cos(0.2 + 0.45 k).",
]


def tutorial_step(a, b, c, d, x, y):
    y_pred = a + b * LegendrePolynomial3.apply(c + d * x)
    return (y_pred - y).pow(2).sum()


def ops(outdir):
    w = Writer(os.path.join(outdir, "ops.txt"),
               "PyTorch float64 forward values and first-order gradients of single ops",
               INPUT_NOTES)

    binary = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div}
    layouts = [("bcast_row", [2, 3], [3]), ("outer", [4, 1], [1, 5]), ("scalar", [2, 3], [])]
    for op, fn in binary.items():
        for suffix, s0, s1 in layouts:
            second = positive1 if op == "div" else signed1
            put_case(w, f"{op}_{suffix}", [values(s0, signed0), values(s1, second)], fn)

    unary = {"neg": (torch.neg, signed0), "exp": (torch.exp, signed0),
             "log": (torch.log, positive0), "sin": (torch.sin, signed0),
             "cos": (torch.cos, signed0), "tanh": (torch.tanh, signed0),
             "sqrt": (torch.sqrt, positive0), "relu": (torch.relu, lambda k: 0.25 * (k - 5))}
    for op, (fn, f) in unary.items():
        put_case(w, op, [values([3, 4], f)], fn)

    for p in (2.0, 3.0, 0.5, -1.5, 2.7):
        name = "pow_" + repr(p).replace("-", "m").replace(".", "_").removesuffix("_0")
        base = signed0 if p == int(p) and p > 0 else positive0
        put_case(w, name, [values([3, 4], base)], lambda t, p=p: torch.pow(t, p), args=[p])

    put_case(w, "sum", [values([3, 4], signed0)], torch.sum)
    put_case(w, "mean", [values([3, 4], signed0)], torch.mean)
    for dim in (0, 1, -1):
        for keep in (False, True):
            name = f"sum_dim{'m' if dim < 0 else ''}{abs(dim)}{'_keep' if keep else ''}"
            put_case(w, name, [values([3, 4], signed0)],
                     lambda t, dim=dim, keep=keep: torch.sum(t, dim=dim, keepdim=keep), args=[dim, keep])

    put_case(w, "matmul", [values([3, 4], signed0), values([4, 2], signed1)], torch.matmul)
    put_case(w, "transpose", [values([3, 4], signed0)], lambda t: t.transpose(0, 1))
    put_case(w, "reshape", [values([3, 4], signed0)], lambda t: t.reshape(2, 6), args=[2, 6])

    w.comment("tutorial_step: the tutorial's loss at N = 7 points, inputs a b c d (0-d) = 0 -1 0 0.3,")
    w.comment("x = linspace(-pi, pi, 7), y = sin(x); out = sum((a + b * P3(c + d x) - y)^2) with the")
    w.comment("tutorial's LegendrePolynomial3 Function; w as for every case (one element, cos(0.2))")
    xs = torch.linspace(-math.pi, math.pi, 7, dtype=F64)
    params = [torch.full((), v, dtype=F64) for v in (0.0, -1.0, 0.0, 0.3)]
    put_case(w, "tutorial_step", params + [xs, torch.sin(xs)], tutorial_step)
    w.close()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "data")
    outdir = os.path.normpath(outdir)
    os.makedirs(outdir, exist_ok=True)
    torch.manual_seed(0)           # nothing draws random numbers; pinned all the same

    losses, (a, b, c, d) = tutorial(outdir)
    expect = {99: 209.95838531757312, 1999: 8.943643355960496}
    for t, v in expect.items():
        if losses[t] != v:
            print(f"warning: tutorial loss at {t} is {losses[t]!r}, expected {v!r}", file=sys.stderr)
    if b != -2.20852641519011 or d != 0.2554861125088658:
        print(f"warning: tutorial b, d = {b!r}, {d!r}, expected -2.20852641519011, 0.2554861125088658",
              file=sys.stderr)
    legendre(outdir)
    ops(outdir)


if __name__ == "__main__":
    main()
