#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The tutorial step (y = a + b * P3(c + d x), loss, backward, update) in PyTorch
1.13 with the tutorial's custom Function, and in NumPy with hand-written
gradients, timed at the batch sizes given on the command line, for comparison
with tensorgrad's benchmark suite (bench/bench_suite, which runs this script
with --json).  Both paths check their loss and gradients against each other
before timing.  Each size runs in a forked child, so its peak resident memory
(above the process before x and y existed) and page faults are its own.
Needs Debian's python3-torch and python3-numpy:
    /usr/bin/python3 bench/pytorch_step.py 2000 100000
    /usr/bin/python3 bench/pytorch_step.py --json --threads=1 2000    # JSON lines
--json prints one object per line: an "info" line (whether torch and numpy
import, their versions), one "row" per implementation and size (seconds per
step, the loss of the first step, minor page faults per step, peak bytes),
or an "error" line and exit status 1 when a check fails.
"""
import argparse
import json
import math
import os
import resource
import sys
import time


class Failure(Exception):
    pass


def make_p3(torch):
    # The tutorial's P3 in torch ops with Python constants: the same thing as
    # tensorgrad's p3_ops_fn (bench/p3.h), so the PyTorch row is the reference
    # of both the raw-loop and the ops-P3 rows.
    class P3(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return 0.5 * (5 * x ** 3 - 3 * x)

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return g * 1.5 * (5 * x ** 2 - 1)
    return P3


def torch_step(torch, P3, x, y, p, lr):
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


def status_bytes(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return 1024 * int(line.split()[1])
    return 0


def reset_peak():
    """Peak resident size := current (Linux clear_refs 5); returns resident bytes."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    return status_bytes("VmRSS")


def best_time(fn, batches, min_batch):
    """Seconds per call, best of the batches; minor faults per call in the last."""
    best, faults, reps = math.inf, 0.0, 1
    batch = 0
    while batch < batches:
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        dt = time.perf_counter() - t0
        faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / reps
        best = min(best, dt / reps)
        batch += 1
        if batch == 1 and dt < min_batch:   # calibrate, then start over
            reps *= math.ceil(1.2 * min_batch / dt) if dt > 0 else 1024
            batch, best = 0, math.inf
    return best, faults


def first_steps(torch, P3, n):
    """x, y, both parameter sets and both first steps (loss, gradients) at size n."""
    xt = torch.linspace(-math.pi, math.pi, n, dtype=torch.float64)
    yt = torch.sin(xt)
    xn, yn = xt.numpy(), yt.numpy()
    init = (0.0, -1.0, 0.0, 0.3)
    pt = [torch.full((), v, dtype=torch.float64, requires_grad=True) for v in init]
    pn = list(init)
    return xt, yt, xn, yn, pt, pn, torch_step(torch, P3, xt, yt, pt, 0.0), numpy_step(xn, yn, pn, 0.0)


def measure(torch, P3, n, impl, args):
    """One implementation at one size: verify against the other, then time."""
    first_steps(torch, P3, 64)   # the code both run is resident before the idle size is read
    idle = reset_peak()
    xt, yt, xn, yn, pt, pn, (lt, gt), (ln, gn) = first_steps(torch, P3, n)
    scale = abs(gt[1]) + abs(gt[3])
    if abs(lt - ln) > 1e-10 * abs(lt) or any(abs(u - v) > 1e-10 * scale for u, v in zip(gt, gn)):
        raise Failure(f"N={n}: PyTorch and NumPy disagree: loss {lt!r} vs {ln!r}")
    if impl == "torch":
        fn, loss = (lambda: torch_step(torch, P3, xt, yt, pt, 1e-12)), lt
    else:
        fn, loss = (lambda: numpy_step(xn, yn, pn, 1e-12)), ln
    reset_peak()   # the other implementation's step, run to check this one, is not this one's peak
    seconds, faults = best_time(fn, args.batches, args.min_batch)
    return {"kind": "row", "impl": impl, "n": n, "threads": args.threads, "seconds": seconds,
            "loss": loss, "faults": faults, "peak_bytes": status_bytes("VmHWM") - idle}


def in_child(fn):
    """fn() in a forked child; its dict (or Failure) comes back through a pipe."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            out = fn()
        except Failure as e:
            out = {"kind": "error", "message": str(e)}
        except BaseException as e:  # anything else is reported, never lost
            out = {"kind": "error", "message": f"{type(e).__name__}: {e}"}
        with os.fdopen(w, "w") as f:
            f.write(json.dumps(out))
        os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        text = f.read()
    _, status = os.waitpid(pid, 0)
    if status != 0 or not text:
        return {"kind": "error", "message": f"child for a measurement failed (status {status})"}
    return json.loads(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sizes", nargs="*", type=int, default=[2000, 100000])
    ap.add_argument("--json", action="store_true", help="JSON lines for bench_suite")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    ap.add_argument("--batches", type=int, default=5, help="best of this many batches")
    ap.add_argument("--min-batch", type=float, default=0.05, help="seconds per batch at least")
    args = ap.parse_args()
    emit = (lambda d: print(json.dumps(d), flush=True)) if args.json else None
    try:
        import numpy
        import torch
    except ImportError as e:
        if emit:
            emit({"kind": "info", "available": False, "reason": f"not importable: {e}"})
            return 0
        raise
    torch.set_num_threads(args.threads)
    if emit:
        emit({"kind": "info", "available": True, "torch": torch.__version__, "numpy": numpy.__version__})
    else:
        print(f"| {'tutorial step':20} | {'N':>10} | {'us/step':>12} | {'ns/point':>10} |")
        print("|----------------------|------------|--------------|------------|")
    P3 = make_p3(torch)
    for n in args.sizes:
        for impl, name in (("torch", "PyTorch 1.13 eager"), ("numpy", "NumPy by hand")):
            row = in_child(lambda: measure(torch, P3, n, impl, args))
            if row["kind"] == "error":
                if emit:
                    emit(row)
                else:
                    print(row["message"], file=sys.stderr)
                return 1
            if emit:
                emit(row)
            else:
                t = row["seconds"]
                print(f"| {name:20} | {n:10d} | {t * 1e6:12.2f} | {t * 1e9 / n:10.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
