#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""tensorgrad.Legendre.fit against numpy.polynomial.Legendre.fit, in one run.

    PYTHONPATH=build/python /usr/bin/python3 bench/python_legendre_fit.py [--n 10000000] [--deg 20]

Both fits run on the same data (uniform x, a smooth y plus noise, fixed seed); the
coefficients are compared first (max |difference| <= --tol, default 1e-9; the
script exits 1 otherwise), then each fit is timed --repeat times (best kept) in
this process, numpy first: wall-clock seconds and the CPU seconds of the
process (all threads).  Both use the same OpenBLAS, whose thread count --threads
sets for both (tensorgrad.set_num_threads).  Prints one line per measure and the
ratios numpy / tensorgrad.  The machine's other load moves both timings (on a
loaded machine the CPU ratio is the steadier one): compare ratios of one run,
not seconds across runs.
"""
import argparse
import sys
import time

import numpy as np

import tensorgrad as tg
from tensorgrad import _legendre


def best_of(fn, repeat):
    """(best wall seconds, best process CPU seconds, result) of repeat calls."""
    wall = cpu = float("inf")
    out = None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10_000_000, help="points (default 1e7)")
    ap.add_argument("--deg", type=int, default=20, help="degree (default 20)")
    ap.add_argument("--repeat", type=int, default=1, help="timed runs of each fit, best kept (default 1)")
    ap.add_argument("--threads", type=int, default=0,
                    help="threads of tensorgrad's kernels and of OpenBLAS, for both (default: as configured)")
    ap.add_argument("--tol", type=float, default=1e-9, help="max |coef difference| allowed (default 1e-9)")
    a = ap.parse_args()
    if a.threads > 0:
        tg.set_num_threads(a.threads)

    rng = np.random.default_rng(12345)
    x = rng.uniform(-4.0, 9.0, a.n)
    y = np.sin(x) * np.exp(-0.05 * x) + 0.05 * rng.standard_normal(a.n)

    # warm both paths (imports, first-call costs) on a small slice
    np.polynomial.Legendre.fit(x[:1000], y[:1000], a.deg)
    tg.Legendre.fit(x[:1000], y[:1000], a.deg)

    t_np, c_np, ref = best_of(lambda: np.polynomial.Legendre.fit(x, y, a.deg), a.repeat)
    t_tg, c_tg, got = best_of(lambda: tg.Legendre.fit(x, y, a.deg), a.repeat)
    err = float(np.max(np.abs(got.coef - ref.coef)))
    same_map = np.array_equal(got.domain, ref.domain) and np.array_equal(got.window, ref.window)
    path = "tg_legendre_lstsq_points (streaming QR)" if _legendre.HAVE_POINTS else "tg_legendre_lstsq (dgelsd)"
    print("legendre_fit n=%d deg=%d  C path: %s  library %s %s  kernel threads %d"
          % (a.n, a.deg, path, tg.__version__, tg.library_path, tg.get_num_threads()))
    print("  max |coef tensorgrad - coef numpy| = %.3g (tolerance %.3g), same domain and window: %s"
          % (err, a.tol, same_map))
    if not (err <= a.tol and same_map):
        print("FAIL: the fits differ", file=sys.stderr)
        return 1
    print("                                  wall s     CPU s")
    print("  numpy.polynomial.Legendre.fit  %9.4f %9.4f" % (t_np, c_np))
    print("  tensorgrad.Legendre.fit        %9.4f %9.4f" % (t_tg, c_tg))
    print("  ratio numpy / tensorgrad       %8.2fx %8.2fx" % (t_np / t_tg, c_np / max(c_tg, 1e-9)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
