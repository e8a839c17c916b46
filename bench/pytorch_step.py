#!/usr/bin/python3
"""The tutorial step (y = a + b * P3(c + d x), loss, backward, update) in PyTorch
1.13 with the tutorial's custom Function, and in NumPy with hand-written
gradients, timed at the batch sizes given on the command line, for comparison
with bench_tutorial's table.  Both paths check their loss and gradients against
each other before timing.  Needs Debian's python3-torch and python3-numpy:
    /usr/bin/python3 bench/pytorch_step.py 2000 100000
"""
import math
import sys
import time

import numpy as np
import torch

torch.set_num_threads(1)


class P3(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return 0.5 * (5 * x ** 3 - 3 * x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * 1.5 * (5 * x ** 2 - 1)


def torch_step(x, y, p, lr):
    a, b, c, d = p
    loss = (a + b * P3.apply(c + d * x) - y).pow(2).sum()
    loss.backward()
    grads = [t.grad.item() for t in p]
    with torch.no_grad():
        for t in p:
            t -= lr * t.grad
            t.grad = None
    return loss.item(), grads


def numpy_step(x, y, p, lr):
    a, b, c, d = p
    u = c + d * x
    p3 = 0.5 * (5 * u ** 3 - 3 * u)
    r = a + b * p3 - y
    g = 2 * r
    gu = g * b * 1.5 * (5 * u ** 2 - 1)
    grads = [g.sum(), (g * p3).sum(), gu.sum(), (gu * x).sum()]
    for i in range(4):
        p[i] -= lr * grads[i]
    return float((r * r).sum()), [float(v) for v in grads]


def best_time(fn, reps=5):
    best = math.inf
    for _ in range(reps):
        n, t0 = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            dt = time.perf_counter() - t0
            if dt > 0.05:
                break
        best = min(best, dt / n)
    return best


def main():
    sizes = [int(s) for s in sys.argv[1:]] or [2000, 100000]
    print(f"| {'tutorial step':20} | {'N':>10} | {'us/step':>12} | {'ns/point':>10} |")
    print("|----------------------|------------|--------------|------------|")
    for n in sizes:
        xt = torch.linspace(-math.pi, math.pi, n, dtype=torch.float64)
        yt = torch.sin(xt)
        pt = [torch.full((), v, dtype=torch.float64, requires_grad=True) for v in (0, -1, 0, 0.3)]
        pn = [0.0, -1.0, 0.0, 0.3]
        lt, gt = torch_step(xt, yt, pt, 0.0)
        ln, gn = numpy_step(xt.numpy(), yt.numpy(), pn, 0.0)
        scale = abs(gt[1]) + abs(gt[3])
        if abs(lt - ln) > 1e-10 * abs(lt) or any(abs(u - v) > 1e-10 * scale for u, v in zip(gt, gn)):
            sys.exit(f"N={n}: PyTorch and NumPy disagree: loss {lt} vs {ln}")
        xn, yn = xt.numpy(), yt.numpy()
        for name, fn in (("PyTorch 1.13 eager", lambda: torch_step(xt, yt, pt, 1e-12)),
                         ("NumPy by hand", lambda: numpy_step(xn, yn, pn, 1e-12))):
            t = best_time(fn)
            print(f"| {name:20} | {n:10d} | {t * 1e6:12.2f} | {t * 1e9 / n:10.3f} |")


if __name__ == "__main__":
    main()
