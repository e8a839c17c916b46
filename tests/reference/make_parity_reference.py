#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Regenerates tests/data/parity.txt: PyTorch float64 values and gradients of
sum(out * w) for the PyTorch-parity ops of issue 17 (matmul's torch.matmul
cases, permute, squeeze, cat, stack, narrow, mean/amax/amin/var/logsumexp over
a dim, sigmoid, softmax, log_softmax, clamp, maximum, minimum, where,
cross_entropy), with 0-d, empty, broadcast and negative-dim shapes.  Each case's
C call (tests/test_parity.c) uses the same name and arguments.
Run with Debian's python: /usr/bin/python3 tests/reference/make_parity_reference.py"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from refdata import Writer, put_case, values, signed0, signed1, positive0  # noqa: E402


def ties(k):
    """Values with repeats (for the tie rules of amax, amin, maximum, minimum)."""
    return round(2 * signed0(k)) / 2


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "data")
    w = Writer(os.path.join(outdir, "parity.txt"),
               "PyTorch float64 values and gradients of sum(out * w) for the parity ops (issue 17)",
               ["inputs: in<i> as listed; w[k] = cos(0.2 + 0.45 k); ties(k) = round(2 sin(1 + 0.7k)) / 2"],
               script="tests/reference/make_parity_reference.py")
    v = values
    # matmul: torch.matmul's cases
    put_case(w, "matmul_vv", [v([3], signed0), v([3], signed1)], torch.matmul)
    put_case(w, "matmul_mv", [v([2, 3], signed0), v([3], signed1)], torch.matmul)
    put_case(w, "matmul_vm", [v([3], signed0), v([3, 2], signed1)], torch.matmul)
    put_case(w, "matmul_mm", [v([2, 3], signed0), v([3, 4], signed1)], torch.matmul)
    put_case(w, "matmul_bcast", [v([2, 1, 2, 3], signed0), v([3, 3, 4], signed1)], torch.matmul)
    put_case(w, "matmul_bv", [v([2, 2, 3], signed0), v([3], signed1)], torch.matmul)
    put_case(w, "matmul_vb", [v([3], signed0), v([2, 3, 4], signed1)], torch.matmul)
    put_case(w, "matmul_empty", [v([0, 3], signed0), v([2, 3, 2], signed1)], torch.matmul)
    # layout
    put_case(w, "permute", [v([2, 3, 4], signed0)], lambda t: t.permute(2, 0, 1))
    put_case(w, "permute_neg", [v([2, 3, 4], signed0)], lambda t: t.permute(-1, -3, -2))
    put_case(w, "permute_0d", [v([], signed0)], lambda t: t.permute(()))
    put_case(w, "squeeze", [v([2, 1, 3], signed0)], lambda t: t.squeeze(1))
    put_case(w, "squeeze_neg", [v([2, 1, 3], signed0)], lambda t: t.squeeze(-2))
    put_case(w, "squeeze_noop", [v([2, 1, 3], signed0)], lambda t: t.squeeze(0))
    put_case(w, "squeeze_0d", [v([], signed0)], lambda t: t.squeeze(0))
    put_case(w, "cat", [v([2, 3], signed0), v([1, 3], signed1), v([0, 3], signed0)],
             lambda a, b, c: torch.cat([a, b, c], 0))
    put_case(w, "cat_neg", [v([2, 1], signed0), v([2, 3], signed1)], lambda a, b: torch.cat([a, b], -1))
    put_case(w, "stack", [v([2, 3], signed0), v([2, 3], signed1), v([2, 3], positive0)],
             lambda a, b, c: torch.stack([a, b, c], 1))
    put_case(w, "stack_neg", [v([2, 3], signed0), v([2, 3], signed1)], lambda a, b: torch.stack([a, b], -1))
    put_case(w, "stack_0d", [v([], signed0), v([], signed1)], lambda a, b: torch.stack([a, b], 0))
    put_case(w, "narrow", [v([4, 3], signed0)], lambda t: t.narrow(0, 1, 2))
    put_case(w, "narrow_neg", [v([4, 3], signed0)], lambda t: t.narrow(-1, -2, 2))
    put_case(w, "narrow_empty", [v([4, 3], signed0)], lambda t: t.narrow(1, 3, 0))
    # reductions over one dim
    put_case(w, "mean_dim", [v([3, 4], signed0)], lambda t: t.mean(1))
    put_case(w, "mean_dim_neg_keep", [v([3, 4], signed0)], lambda t: t.mean(-2, keepdim=True))
    put_case(w, "mean_dim_0d", [v([], signed0)], lambda t: t.mean(0))
    put_case(w, "mean_dim_empty", [v([0, 3], signed0)], lambda t: t.mean(1))
    put_case(w, "amax_ties", [v([3, 4], ties)], lambda t: t.amax(1))
    put_case(w, "amax_neg_keep", [v([3, 4], ties)], lambda t: t.amax(-2, keepdim=True))
    put_case(w, "amax_0d", [v([], signed0)], lambda t: t.amax(0))
    put_case(w, "amin_ties", [v([3, 4], ties)], lambda t: t.amin(1))
    put_case(w, "amin_neg_keep", [v([2, 3, 2], ties)], lambda t: t.amin(-1, keepdim=True))
    put_case(w, "amax_empty", [v([0, 3], signed0)], lambda t: t.amax(1))
    put_case(w, "amin_0d", [v([], signed0)], lambda t: t.amin(-1))
    put_case(w, "var", [v([3, 4], signed0)], lambda t: t.var(1, correction=1))
    put_case(w, "var_corr0_neg_keep", [v([3, 4], signed0)], lambda t: t.var(-2, correction=0, keepdim=True))
    put_case(w, "var_0d", [v([], signed0)], lambda t: t.var(0, correction=0))
    put_case(w, "logsumexp", [v([3, 4], signed0)], lambda t: t.logsumexp(1))
    put_case(w, "logsumexp_neg_keep", [v([3, 4], signed0)], lambda t: t.logsumexp(-2, keepdim=True))
    put_case(w, "logsumexp_0d", [v([], signed0)], lambda t: t.logsumexp(0))
    put_case(w, "logsumexp_empty", [v([3, 0], signed0)], lambda t: t.logsumexp(1))
    # elementwise and activations
    put_case(w, "sigmoid", [v([3, 4], lambda k: 8 * signed0(k))], torch.sigmoid)
    put_case(w, "sigmoid_0d", [v([], signed0)], torch.sigmoid)
    put_case(w, "sigmoid_empty", [v([0], signed0)], torch.sigmoid)
    put_case(w, "softmax", [v([3, 4], signed0)], lambda t: torch.softmax(t, 1))
    put_case(w, "softmax_neg", [v([3, 4], signed0)], lambda t: torch.softmax(t, -2))
    put_case(w, "softmax_0d", [v([], signed0)], lambda t: torch.softmax(t, 0))
    put_case(w, "softmax_empty", [v([0, 3], signed0)], lambda t: torch.softmax(t, 1))
    put_case(w, "log_softmax", [v([3, 4], signed0)], lambda t: torch.log_softmax(t, 1))
    put_case(w, "log_softmax_neg", [v([2, 3, 2], signed0)], lambda t: torch.log_softmax(t, -2))
    put_case(w, "log_softmax_0d", [v([], signed0)], lambda t: torch.log_softmax(t, 0))
    put_case(w, "log_softmax_empty", [v([3, 0], signed0)], lambda t: torch.log_softmax(t, 1))
    put_case(w, "clamp", [v([3, 4], signed0)], lambda t: torch.clamp(t, -0.5, 0.5))
    put_case(w, "clamp_0d", [v([], signed0)], lambda t: torch.clamp(t, -0.5, 0.5))
    put_case(w, "clamp_empty", [v([0], signed0)], lambda t: torch.clamp(t, -0.5, 0.5))
    put_case(w, "maximum_ties", [v([2, 3], ties), v([3], lambda k: ties(k + 1))], torch.maximum)
    put_case(w, "maximum_0d", [v([], signed0), v([2], signed1)], torch.maximum)
    put_case(w, "maximum_bcast_short_first", [v([3], signed1), v([2, 3], signed0)], torch.maximum)
    put_case(w, "minimum_ties", [v([2, 3], ties), v([3], lambda k: ties(k + 1))], torch.minimum)
    put_case(w, "minimum_empty", [v([0, 3], signed0), v([3], signed1)], torch.minimum)
    put_case(w, "minimum_0d", [v([2, 2], signed0), v([], signed1)], torch.minimum)
    cond = lambda k: float(k % 3 == 1)  # noqa: E731
    put_case(w, "where", [v([2, 3], cond), v([2, 3], signed0), v([3], signed1)],
             lambda c, a, b: torch.where(c != 0, a, b))
    put_case(w, "where_0d", [v([], lambda k: 1.0), v([2], signed0), v([], signed1)],
             lambda c, a, b: torch.where(c != 0, a, b))
    put_case(w, "where_bcast_short_first", [v([3], cond), v([1], signed0), v([2, 3], signed1)],
             lambda c, a, b: torch.where(c != 0, a, b))
    # losses
    target = lambda k: float((2 * k + 1) % 3)  # noqa: E731
    for red in ("mean", "sum", "none"):
        put_case(w, f"cross_entropy_{red}", [v([4, 3], lambda k: 3 * signed0(k)), v([4], target)],
                 lambda x, t, red=red: F.cross_entropy(x, t.long(), reduction=red))
    put_case(w, "cross_entropy_empty_sum", [v([0, 3], signed0), v([0], target)],
             lambda x, t: F.cross_entropy(x, t.long(), reduction="sum"))
    w.put("cases.count", [w.cases])
    w.close()


if __name__ == "__main__":
    main()
