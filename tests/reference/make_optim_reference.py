#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Regenerates tests/data/optim.txt: PyTorch 1.13 optimizer trajectories.

Run with Debian's interpreter, which has torch:

    /usr/bin/python3 tests/reference/make_optim_reference.py [output-dir]

Every configuration starts from the same parameters (w [3] and B [2,2], values
written as start.w / start.B), minimizes a fixed smooth loss, and records the
parameters after steps 1, 2 and N and the loss each step saw.  The optimizers
run their single-tensor (for-loop) implementations (foreach=False), whose
arithmetic tests/test_optim.c mirrors.  Nothing here is random: two runs on the
same torch build write identical files.  The format is that of
make_reference.py (`key v1 v2 ...`, repr() values, `#` comments).
"""
import math
import os
import sys

import numpy
import torch

torch.set_default_dtype(torch.float64)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from refdata import Writer  # noqa: E402

N_POINTS = 50


def fit_data():
    """x in [-1, 1]; X = (x, x^2, x^3), X2 = (1, x), y = sin(pi x), as [50, 1]."""
    x = torch.linspace(-1.0, 1.0, N_POINTS)
    X = torch.stack([x, x ** 2, x ** 3], 1)
    X2 = torch.stack([torch.ones(N_POINTS), x], 1)
    y = torch.tensor([math.sin(math.pi * float(v)) for v in x]).view(N_POINTS, 1)
    return X, X2, y


def start_params():
    w = torch.tensor([0.3 * math.sin(1 + 0.7 * k) for k in range(3)])
    B = torch.tensor([0.2 * math.cos(0.5 + 1.3 * k) for k in range(4)]).view(2, 2)
    return w.requires_grad_(), B.requires_grad_()


def fit_loss(w, B, data):
    """mean((X w + rowsum(tanh(X2 B)) - y)^2)"""
    X, X2, y = data
    pred = X.matmul(w.view(3, 1)) + torch.tanh(X2.matmul(B)).sum(1, keepdim=True)
    return (pred - y).pow(2).mean()


def rosenbrock(w, B, data):
    """sum_i 100 (z[i+1] - z[i]^2)^2 + (1 - z[i])^2 over z = (w, B flattened),
    summed left to right one term at a time, as the C test does."""
    z = [w[0], w[1], w[2], B[0, 0], B[0, 1], B[1, 0], B[1, 1]]
    total = None
    for i in range(6):
        term = 100.0 * (z[i + 1] - z[i] ** 2) ** 2 + (1.0 - z[i]) ** 2
        total = term if total is None else total + term
    return total


# name, optimizer class, options, loss, steps.  tests/test_optim.c has the same table.
CONFIGS = [
    ("sgd_plain", torch.optim.SGD, dict(lr=0.1), fit_loss, 10),
    ("sgd_momentum", torch.optim.SGD, dict(lr=0.05, momentum=0.9), fit_loss, 10),
    ("sgd_dampening", torch.optim.SGD, dict(lr=0.05, momentum=0.9, dampening=0.3), fit_loss, 10),
    ("sgd_nesterov", torch.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True), fit_loss, 10),
    ("sgd_weight_decay", torch.optim.SGD, dict(lr=0.1, momentum=0.5, weight_decay=0.1), fit_loss, 10),
    ("sgd_maximize", torch.optim.SGD, dict(lr=0.01, momentum=0.5, maximize=True), fit_loss, 10),
    ("rmsprop_plain", torch.optim.RMSprop, dict(lr=0.01), fit_loss, 10),
    ("rmsprop_centered", torch.optim.RMSprop, dict(lr=0.01, centered=True), fit_loss, 10),
    ("rmsprop_momentum", torch.optim.RMSprop, dict(lr=0.01, momentum=0.9), fit_loss, 10),
    ("rmsprop_weight_decay", torch.optim.RMSprop, dict(lr=0.01, alpha=0.9, weight_decay=0.1), fit_loss, 10),
    ("rmsprop_all", torch.optim.RMSprop,
     dict(lr=0.01, alpha=0.95, eps=1e-6, weight_decay=0.05, momentum=0.5, centered=True, maximize=True),
     fit_loss, 10),
    ("adam_plain", torch.optim.Adam, dict(lr=0.05), fit_loss, 10),
    ("adam_amsgrad", torch.optim.Adam, dict(lr=0.05, amsgrad=True), fit_loss, 10),
    ("adam_weight_decay", torch.optim.Adam, dict(lr=0.05, betas=(0.8, 0.99), weight_decay=0.1), fit_loss, 10),
    ("adam_maximize", torch.optim.Adam, dict(lr=0.01, eps=1e-6, maximize=True), fit_loss, 10),
    ("adamw_plain", torch.optim.AdamW, dict(lr=0.05), fit_loss, 10),
    ("adamw_amsgrad", torch.optim.AdamW, dict(lr=0.05, weight_decay=0.1, amsgrad=True), fit_loss, 10),
    ("adagrad_plain", torch.optim.Adagrad, dict(lr=0.1), fit_loss, 10),
    ("adagrad_all", torch.optim.Adagrad,
     dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.2, eps=1e-6, maximize=True),
     fit_loss, 10),
    ("nadam_plain", torch.optim.NAdam, dict(lr=0.05), fit_loss, 10),
    ("nadam_all", torch.optim.NAdam, dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1,
                                          momentum_decay=0.01), fit_loss, 10),
    # schedules: ("step", step_size, gamma) or ("cosine", T_max, eta_min), stepped after each opt.step()
    ("sgd_step_lr", torch.optim.SGD, dict(lr=0.1, momentum=0.5, _sched=("step", 3, 0.5)), fit_loss, 10),
    ("adam_cosine_lr", torch.optim.Adam, dict(lr=0.05, _sched=("cosine", 4, 0.01)), fit_loss, 12),
    ("lbfgs_plain", torch.optim.LBFGS, dict(lr=0.5, max_iter=5), fit_loss, 4),
    ("lbfgs_history", torch.optim.LBFGS, dict(lr=1, max_iter=6, history_size=3, max_eval=20), fit_loss, 3),
    ("lbfgs_wolfe", torch.optim.LBFGS, dict(max_iter=20, line_search_fn="strong_wolfe"), rosenbrock, 4),
    ("lbfgs_wolfe_fit", torch.optim.LBFGS,
     dict(max_iter=5, history_size=3, line_search_fn="strong_wolfe"), fit_loss, 2),
]


def run(cls, opts, loss_fn, steps, data, w=None, B=None):
    if w is None:
        w, B = start_params()
    opts = dict(opts)
    sched_spec = opts.pop("_sched", None)
    if cls is not torch.optim.LBFGS:
        opts = dict(opts, foreach=False)
    opt = cls([w, B], **opts)
    sched = None
    if sched_spec and sched_spec[0] == "step":
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=sched_spec[1], gamma=sched_spec[2])
    elif sched_spec:
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=sched_spec[1], eta_min=sched_spec[2])

    def closure():
        opt.zero_grad()
        loss = loss_fn(w, B, data)
        loss.backward()
        return loss

    snaps, losses = {}, []
    for t in range(1, steps + 1):
        if cls is torch.optim.LBFGS:
            losses.append(float(opt.step(closure)))
        else:
            losses.append(float(closure()))
            opt.step()
            if sched is not None:
                sched.step()
        if t in (1, 2, steps):
            snaps[t] = (w.detach().clone(), B.detach().clone())
    return snaps, losses


def sensitivity(cls, opts, loss_fn, steps, data, snaps):
    """Relative change of the final parameters when the start moves by 1e-13
    (relative): how far the rounding differences of two libraries can grow."""
    w, B = start_params()
    with torch.no_grad():
        w.mul_(1 + 1e-13)
        B.mul_(1 - 1e-13)
    s2, _ = run(cls, opts, loss_fn, steps, data, w, B)
    a = torch.cat([snaps[steps][0], snaps[steps][1].view(-1)])
    b = torch.cat([s2[steps][0], s2[steps][1].view(-1)])
    return float(((a - b).abs() / a.abs()).max())


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "data")
    data = fit_data()
    X, X2, y = data
    w0, B0 = start_params()
    out = Writer(os.path.join(outdir, "optim.txt"), "PyTorch optimizer trajectories from a common start", [
        "fit loss: mean((fit.X @ w.view(3,1) + tanh(fit.X2 @ B).sum(1, keepdim) - fit.y)^2);",
        "rosenbrock: sum_i 100 (z[i+1] - z[i]^2)^2 + (1 - z[i])^2, z = (w, B flattened), i = 0..5.",
        "CFG.loss: the loss each step saw (L-BFGS: its first closure call); CFG.w.T / CFG.B.T:",
        "the parameters after step T (T = 1, 2 and CFG.steps).  Options are in the script's CONFIGS.",
        "lstsq.X (1, x, x^2, x^3) and lstsq.coef, the least-squares fit of fit.y (numpy.linalg.lstsq).",
    ], script="tests/reference/make_optim_reference.py")
    out.put("fit.X.shape", list(X.shape))
    out.put("fit.X", X.reshape(-1).tolist())
    out.put("fit.X2.shape", list(X2.shape))
    out.put("fit.X2", X2.reshape(-1).tolist())
    out.put("fit.y.shape", list(y.shape))
    out.put("fit.y", y.reshape(-1).tolist())
    out.put("start.w", w0.detach().tolist())
    out.put("start.B.shape", [2, 2])
    out.put("start.B", B0.detach().reshape(-1).tolist())
    for name, cls, opts, loss_fn, steps in CONFIGS:
        snaps, losses = run(cls, opts, loss_fn, steps, data)
        sens = sensitivity(cls, opts, loss_fn, steps, data, snaps)
        out.comment(f"{name}: {cls.__name__} {opts} on {loss_fn.__name__}, {steps} steps; "
                    f"start moved by 1e-13 moves the end by {sens:.1e}")
        out.put(f"{name}.steps", [steps])
        out.put(f"{name}.loss", losses)
        for t in sorted(snaps):
            out.put(f"{name}.w.{t}", snaps[t][0].tolist())
            out.put(f"{name}.B.{t}.shape", [2, 2])
            out.put(f"{name}.B.{t}", snaps[t][1].reshape(-1).tolist())
    X4 = torch.cat([torch.ones(N_POINTS, 1), X], 1)
    coef = numpy.linalg.lstsq(X4.numpy(), y.numpy(), rcond=None)[0].reshape(-1)
    out.put("lstsq.X.shape", list(X4.shape))
    out.put("lstsq.X", X4.reshape(-1).tolist())
    out.put("lstsq.coef", coef.tolist())
    out.close()


if __name__ == "__main__":
    main()
