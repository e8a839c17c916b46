# SPDX-License-Identifier: MIT
"""The Python package under an address-space limit (issue 18, row 3).

Each case runs a child interpreter under setrlimit(RLIMIT_AS) with none of
OPENBLAS_NUM_THREADS, GOTO_NUM_THREADS, OMP_NUM_THREADS in its environment; the
child imports tensorgrad (which dlopens libtensorgrad.so and, with it,
libtensorgrad_blasenv.so.0 and OpenBLAS) and multiplies two 300 x 300 matrices.
It must exit 0 within 20 s, having either got the right product or
tensorgrad's OutOfMemoryError.  Before libtensorgrad_blasenv.so.0 the child
hung at exit under 150 MB (OpenBLAS's worker, started under the limit, spins in
blas_memory_alloc and exit joins it).

    python_limits.py            the test (150, 250, 400 MB, tensorgrad alone)
    python_limits.py --report   also numpy imported before tensorgrad ("numpy")
                                and after it ("numpy-after"), printed, not
                                asserted: numpy's import starts OpenBLAS before
                                tensorgrad is loaded, which tensorgrad cannot change
"""
import os
import resource
import subprocess
import sys
import time

CHILD = r"""
import ctypes, sys
if sys.argv[1] == "numpy":
    import numpy
import tensorgrad as tg
if sys.argv[1] == "numpy-after":
    import numpy
getenv = ctypes.CDLL(None).getenv
getenv.restype = ctypes.c_char_p
threads = getenv(b"OPENBLAS_NUM_THREADS")
try:
    a = tg.full((300, 300), 1.0)
    c = tg.matmul(a, tg.full((300, 300), 2.0))
    result = "ran" if all(v == 600.0 for row in c.tolist() for v in row) else "WRONG"
except tg.OutOfMemoryError as e:
    result = "OutOfMemoryError (%s)" % e
print("OPENBLAS_NUM_THREADS=%s, matmul %s" % (threads.decode() if threads else None, result))
sys.exit(1 if result == "WRONG" else 0)
"""


def run(mb, first):
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")}

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (mb << 20, mb << 20))

    start = time.monotonic()
    try:
        p = subprocess.run([sys.executable, "-c", CHILD, first], env=env, preexec_fn=limit,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
        rc, out = p.returncode, p.stdout.decode(errors="replace").strip().splitlines()
        out = out[-1] if out else ""
    except subprocess.TimeoutExpired:
        rc, out = "killed after 20 s (a hang)", ""
    print("%4d MB, %-11s exit %s in %.2f s: %s" % (mb, first, rc, time.monotonic() - start, out), flush=True)
    return rc


def main():
    bad = [mb for mb in (150, 250, 400) if run(mb, "tensorgrad") != 0]
    if "--report" in sys.argv:
        for first in ("numpy", "numpy-after"):
            for mb in (150, 250, 400):
                run(mb, first)
    if bad:
        sys.exit("python_limits: the child did not exit 0 under %s MB" % bad)


if __name__ == "__main__":
    main()
