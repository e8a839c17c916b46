#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""numpy's side of bench/bench_csv: reads CSV with numpy.loadtxt, checks the
values against the .npy bit for bit, prints the best of REPS times.
Usage: csv_loadtxt.py FILE.csv FILE.npy REPS"""
import sys
import time

import numpy as np

path, npy, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
want = np.load(npy)
best = float("inf")
for _ in range(reps):
    t0 = time.perf_counter()
    got = np.loadtxt(path, delimiter=",", skiprows=1)
    best = min(best, time.perf_counter() - t0)
    if got.shape != want.shape or got.view(np.uint64).tobytes() != want.view(np.uint64).tobytes():
        print("csv_loadtxt.py: numpy.loadtxt's values differ from the .npy", file=sys.stderr)
        sys.exit(1)
print("%.6f %s" % (best, np.__version__))
