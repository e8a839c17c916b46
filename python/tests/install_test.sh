#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Python package as a user gets it: `cmake --install BUILD_DIR --prefix P`,
# then, with nothing but PYTHONPATH=P/PYDIR, `import tensorgrad` loads the package
# and the C library from P (found relative to the package), also after the whole
# prefix has been moved; then the pytest suite runs against that installed copy.
#
#   install_test.sh BUILD_DIR PYTHON PYDIR TESTS_DIR
set -euo pipefail
build_dir=$1 python=$2 pydir=$3 tests_dir=$4
die() { echo "FAIL: $*" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tg-python-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "+ cmake --install $build_dir --prefix $tmp/first"
cmake --install "$build_dir" --prefix "$tmp/first" >"$tmp/install.log" || { cat "$tmp/install.log"; die "cmake --install failed"; }
[[ -f $tmp/first/$pydir/tensorgrad/__init__.py ]] || die "no package at $tmp/first/$pydir/tensorgrad"
[[ -f $tmp/first/$pydir/tensorgrad/_paths.py ]] || die "no generated _paths.py in the installed package"
if grep -q "$(realpath "$build_dir")" "$tmp/first/$pydir/tensorgrad/_paths.py"; then
    die "the installed _paths.py names the build tree: $(cat "$tmp/first/$pydir/tensorgrad/_paths.py")"
fi
# the installed tree is relocatable: the library is found relative to the package
mv "$tmp/first" "$tmp/prefix"
prefix=$tmp/prefix
pkg=$prefix/$pydir/tensorgrad

unset LD_LIBRARY_PATH TENSORGRAD_LIBRARY
export PYTHONPATH=$prefix/$pydir
cd "$tmp"
echo "+ PYTHONPATH=$PYTHONPATH $python -c 'import tensorgrad'"
"$python" - "$pkg" "$prefix" <<'PY'
import os, sys
import tensorgrad
pkg, prefix = (os.path.realpath(p) for p in sys.argv[1:])
here = os.path.realpath(os.path.dirname(tensorgrad.__file__))
lib = os.path.realpath(tensorgrad.library_path)
print("tensorgrad", tensorgrad.__version__, "from", here, "library", lib)
assert here == pkg, "imported %s, not the installed %s" % (here, pkg)
assert lib.startswith(prefix + os.sep), "library %s is not under the prefix %s" % (lib, prefix)
with open("/proc/self/maps") as maps:
    mapped = {line.split()[-1] for line in maps if "libtensorgrad" in line}
loaded = {m for m in mapped if "libtensorgrad.so" in m}
assert loaded == {lib}, "mapped libtensorgrad: %s" % loaded
# its helper libtensorgrad_blasenv.so.0 (issue 18) comes from beside it
assert {os.path.dirname(m) for m in mapped} == {os.path.dirname(lib)}, "mapped: %s" % mapped
import numpy as np
x = np.linspace(-2, 5, 1000)
fit = tensorgrad.Legendre.fit(x, np.exp(-x), 6)
ref = np.polynomial.Legendre.fit(x, np.exp(-x), 6)
assert np.allclose(fit.coef, ref.coef, rtol=0, atol=1e-9), (fit.coef, ref.coef)
PY
echo "+ pytest $tests_dir (against the installed package)"
TG_EXPECT_PACKAGE=$pkg "$python" -m pytest -q -p no:cacheprovider "$tests_dir"
echo "ok: the installed package imports from $prefix and passes its tests"
