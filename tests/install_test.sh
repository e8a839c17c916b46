#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Tests of tensorgrad as an outside program sees it: installed into a temporary
# prefix and used through pkg-config or the CMake package, the public header on
# its own (C11 and C++), and the symbol table of the shared library.  Registered
# with ctest by tests/CMakeLists.txt, one mode per test:
#
#   install_test.sh pkgconfig     BUILD_DIR SOURCE_DIR CC CHECK_TUTORIAL [FLAG...]
#   install_test.sh cmake_package BUILD_DIR SOURCE_DIR CC CHECK_TUTORIAL CMAKE VERSION [FLAG...]
#   install_test.sh header        SOURCE_DIR GENERATED_INCLUDE_DIR CC CXX SHARED_LIB [FLAG...]
#   install_test.sh dlopen        BUILD_DIR SOURCE_DIR CC [FLAG...]
#   install_test.sh exports       SHARED_LIB HEADER CC GENERATED_INCLUDE_DIR
#
# FLAGs are added to every compile and link of an outside program: the sanitizer
# flags when the library was built with TG_SANITIZE (its objects then call into
# the sanitizer runtime, which only a -fsanitize link brings in).  Every program
# built here runs examples/polynomial_custom_function.c and pipes its output
# through check_tutorial against PyTorch's numbers in tests/data/tutorial.txt.
set -euo pipefail

die() { echo "FAIL: $*" >&2; exit 1; }
say() { echo "--- $*"; }
run() { echo "+ $*"; "$@"; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tg-install-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Installs BUILD_DIR into $tmp/prefix.
install_into_prefix() {
    prefix=$tmp/prefix
    echo "+ cmake --install $1 --prefix $prefix"
    cmake --install "$1" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; die "cmake --install failed"; }
    cp "$2/examples/polynomial_custom_function.c" "$tmp/prog.c"
}

# Runs an MPI program on 2 ranks with the mpirun found on PATH (Open MPI, as
# tools/setup installs it, refuses root without --allow-run-as-root).
run_mpi() {
    local mpirun
    mpirun=$(command -v mpirun) || die "tensorgrad_mpi is installed but there is no mpirun"
    local opts=(-np 2)
    if "$mpirun" --version 2>&1 | grep -q 'Open MPI'; then
        opts=(--allow-run-as-root --oversubscribe -np 2)
    fi
    run "$mpirun" "${opts[@]}" "$@" || die "mpirun ${opts[*]} $* failed"
}

# Runs program $1 and checks its output against the PyTorch reference.
check_output() {
    local bin=$1
    say "running $bin | check_tutorial"
    "$bin" >"$tmp/out.txt" || die "$bin exited with status $?"
    "$check_tutorial" "$source_dir/tests/data/tutorial.txt" <"$tmp/out.txt" || die "$bin does not reproduce PyTorch's numbers"
    grep '^Result' "$tmp/out.txt"
}

# Program $1 must load libtensorgrad from the install prefix ($2 = yes) or not at all ($2 = no).
check_loads_from_prefix() {
    local needed
    needed=$(readelf -d "$1" | grep 'NEEDED.*libtensorgrad' || true)
    if [[ $2 == no ]]; then
        [[ -z $needed ]] || die "$1 should not need libtensorgrad.so: $needed"
        return
    fi
    [[ -n $needed ]] || die "$1 does not need libtensorgrad.so"
    local resolved
    resolved=$(ldd "$1" | awk '/libtensorgrad\.so/ { print $3 }')
    [[ $(realpath "$resolved") == "$(realpath "$prefix")"/* ]] \
        || die "$1 loads libtensorgrad from '$resolved', not from $prefix"
    echo "$1 loads $resolved"
    # and libtensorgrad_blasenv.so.0 (issue 18) from beside it, through libtensorgrad.so's $ORIGIN runpath
    local shim
    shim=$(ldd "$1" | awk '/libtensorgrad_blasenv\.so/ { print $3 }')
    [[ -n $shim && $(dirname "$(realpath "$shim")") == "$(dirname "$(realpath "$resolved")")" ]] \
        || die "$1 loads libtensorgrad_blasenv.so.0 from '$shim', not from beside $resolved"
    [[ -z $(nm -D --defined-only "$shim") ]] || die "$shim exports symbols: $(nm -D --defined-only "$shim")"
    readelf -d "$shim" | grep -q 'Flags:.*INITFIRST' || die "$shim is not linked with -z initfirst"
}

# ---------------------------------------------------------------- pkgconfig
# `cc prog.c $(pkg-config --cflags --libs tensorgrad)` is all an outside program
# needs; tensorgrad.pc bakes in no rpath, so a program run from a non-system
# prefix adds its own (-Wl,-rpath), as it would for any library there.  The
# libraries below libtensorgrad come from Requires.private (openblas lapacke)
# and Libs.private.  With tensorgrad_mpi installed, a program on
# tensorgrad_mpi.pc runs on 2 ranks.  Then, with the shared library removed from
# the prefix (a static-only install, the case `pkg-config --static` is for), the
# same command with --static links libtensorgrad.a; and, unless sanitizers are
# on (ASan cannot link -static), a fully static executable.
mode_pkgconfig() {
    local build_dir=$1; source_dir=$2; local cc=$3; check_tutorial=$4; shift 4
    local flags=("$@")
    install_into_prefix "$build_dir" "$source_dir"
    local pc
    pc=$(find "$prefix" -name tensorgrad.pc -print -quit)
    [[ -n $pc ]] || die "no tensorgrad.pc under $prefix"
    # nothing but pkg-config may tell the compiler where tensorgrad is
    unset CPATH C_INCLUDE_PATH LIBRARY_PATH LD_LIBRARY_PATH PKG_CONFIG_SYSROOT_DIR
    export PKG_CONFIG_PATH=${pc%/*}
    cd "$tmp"
    run pkg-config --validate tensorgrad
    [[ $(pkg-config --variable=prefix tensorgrad) == "$prefix" ]] \
        || die "tensorgrad.pc has prefix=$(pkg-config --variable=prefix tensorgrad), installed into $prefix"
    local header_version
    header_version=$(sed -n 's/^#define TG_VERSION_STRING "\(.*\)"$/\1/p' "$prefix/include/tensorgrad_version.h")
    [[ -n $header_version && $(pkg-config --modversion tensorgrad) == "$header_version" ]] \
        || die "tensorgrad.pc has version $(pkg-config --modversion tensorgrad), tensorgrad_version.h '$header_version'"
    echo "version $header_version in tensorgrad.pc and tensorgrad_version.h"

    local libdir requires
    libdir=$(pkg-config --variable=libdir tensorgrad)
    [[ $(pkg-config --libs --static tensorgrad) != *rpath* ]] || die "tensorgrad.pc sets an rpath"
    requires=$(pkg-config --print-requires-private tensorgrad | tr '\n' ' ')
    [[ $requires == "openblas lapacke " ]] || die "tensorgrad.pc: Requires.private is '$requires', not 'openblas lapacke'"

    say "shared: cc prog.c \$(pkg-config --cflags --libs tensorgrad) -Wl,-rpath,$libdir"
    # shellcheck disable=SC2046  # word splitting of pkg-config's output is the point
    run "$cc" "${flags[@]}" prog.c $(pkg-config --cflags --libs tensorgrad) -Wl,-rpath,"$libdir" -o prog_shared
    check_loads_from_prefix prog_shared yes
    check_output ./prog_shared

    if [[ -f ${pc%/*}/tensorgrad_mpi.pc ]]; then
        run pkg-config --validate tensorgrad_mpi
        [[ $(pkg-config --modversion tensorgrad_mpi) == "$header_version" ]] \
            || die "tensorgrad_mpi.pc has version $(pkg-config --modversion tensorgrad_mpi), not $header_version"
        [[ -f $prefix/include/tensorgrad_mpi.h && -f $libdir/libtensorgrad_mpi.a ]] \
            || die "tensorgrad_mpi.pc is installed but tensorgrad_mpi.h or libtensorgrad_mpi.a is not"
        say "mpi: cc mpi_prog.c \$(pkg-config --cflags --libs tensorgrad_mpi) -Wl,-rpath,$libdir"
        # shellcheck disable=SC2046
        run "$cc" "${flags[@]}" "$source_dir/tests/consumer/mpi_prog.c" $(pkg-config --cflags --libs tensorgrad_mpi) \
            -Wl,-rpath,"$libdir" -o prog_mpi
        if ((${#flags[@]})); then
            say "mpi run: skipped under sanitizers (Open MPI's own allocations show up as leaks)"
        else
            run_mpi ./prog_mpi
        fi
    else
        say "mpi: tensorgrad_mpi not installed (built without MPI)"
    fi

    [[ -f $libdir/libtensorgrad.a ]] || die "no libtensorgrad.a in $libdir"
    rm -f "$libdir"/libtensorgrad.so*
    say "static libtensorgrad: cc prog.c \$(pkg-config --cflags --libs --static tensorgrad) -static-libgcc"
    # shellcheck disable=SC2046
    run "$cc" "${flags[@]}" prog.c $(pkg-config --cflags --libs --static tensorgrad) -static-libgcc -o prog_static
    check_loads_from_prefix prog_static no
    check_output ./prog_static

    if ((${#flags[@]})); then
        say "fully static link: skipped, the sanitizer runtimes do not support -static"
        return
    fi
    if [[ " $(pkg-config --libs --static tensorgrad) " == *" -fopenmp=libomp "* ]]; then
        say "fully static link: skipped, clang's OpenMP runtime libomp has no static library (libgomp has)"
        return
    fi
    say "fully static: cc -static prog.c \$(pkg-config --cflags --libs --static tensorgrad)"
    # shellcheck disable=SC2046
    run "$cc" -static prog.c $(pkg-config --cflags --libs --static tensorgrad) -o prog_full_static
    if readelf -d prog_full_static | grep -q NEEDED; then
        die "prog_full_static is not static: $(readelf -d prog_full_static | grep NEEDED)"
    fi
    check_output ./prog_full_static
}

# ---------------------------------------------------------------- cmake_package
# find_package(tensorgrad) from a separate project (tests/consumer) finds the
# installed package (exact version), and both exported targets link and run.
mode_cmake_package() {
    local build_dir=$1; source_dir=$2; local cc=$3; check_tutorial=$4 cmake=$5 version=$6; shift 6
    local flags="$*"
    install_into_prefix "$build_dir" "$source_dir"
    # the exported targets name their dependencies as targets (BLAS::BLAS,
    # OpenMP::OpenMP_C, ...) found again by find_dependency, never as paths
    local pkgdir
    pkgdir=$(dirname "$(find "$prefix" -name tensorgradConfig.cmake -print -quit)")
    if grep -h 'INTERFACE_LINK_LIBRARIES' "$pkgdir"/*Targets.cmake | grep '/'; then
        die "the exported targets link libraries by path (above)"
    fi
    grep -q 'find_dependency(BLAS)' "$pkgdir/tensorgradConfig.cmake" || die "tensorgradConfig.cmake has no find_dependency(BLAS)"
    local with_mpi=OFF
    [[ -f $pkgdir/tensorgrad_mpiTargets.cmake ]] && with_mpi=ON
    run "$cmake" -S "$source_dir/tests/consumer" -B "$tmp/consumer" \
        -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" \
        -DCMAKE_PREFIX_PATH="$prefix" -DTG_EXPECTED_PREFIX="$prefix" \
        -DTG_EXPECTED_VERSION="$version" -DTG_EXAMPLE="$tmp/prog.c" -DTG_WITH_MPI=$with_mpi
    run "$cmake" --build "$tmp/consumer"
    check_loads_from_prefix "$tmp/consumer/consumer_shared" yes
    check_output "$tmp/consumer/consumer_shared"
    check_loads_from_prefix "$tmp/consumer/consumer_static" no
    check_output "$tmp/consumer/consumer_static"
    if [[ $with_mpi == OFF ]]; then
        say "mpi: tensorgrad_mpi not installed (built without MPI)"
    elif [[ -n $flags ]]; then
        say "mpi run: skipped under sanitizers (Open MPI's own allocations show up as leaks)"
    else
        run_mpi "$tmp/consumer/consumer_mpi"
    fi
    # The other compiler of the two (gcc <-> clang) consumes the same package:
    # the static target's OpenMP is then that compiler's runtime, found by
    # find_dependency, never the path of the one tensorgrad was built with.
    local other=clang runtime=libgomp
    if "$cc" --version | grep -qi clang; then other=gcc runtime=libomp; fi
    if [[ -n $flags ]] || ! command -v "$other" >/dev/null; then
        say "consumer built with $other: skipped (sanitizer flags, or no $other)"
        return
    fi
    say "the same consumer built with $other"
    run "$cmake" -S "$source_dir/tests/consumer" -B "$tmp/consumer_other" \
        -DCMAKE_C_COMPILER="$other" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_PREFIX_PATH="$prefix" -DTG_EXPECTED_PREFIX="$prefix" \
        -DTG_EXPECTED_VERSION="$version" -DTG_EXAMPLE="$tmp/prog.c" -DTG_WITH_MPI=OFF
    run "$cmake" --build "$tmp/consumer_other"
    if readelf -d "$tmp/consumer_other/consumer_static" | grep "NEEDED.*$runtime\."; then
        die "consumer_static built with $other links $runtime, the OpenMP runtime of tensorgrad's compiler"
    fi
    check_output "$tmp/consumer_other/consumer_shared"
    check_output "$tmp/consumer_other/consumer_static"
}

# ---------------------------------------------------------------- dlopen
# The installed libtensorgrad.so loads with dlopen, as Python's ctypes loads it:
# it has no initial-exec TLS (the STATIC_TLS flag, which makes glibc refuse it
# with "cannot allocate memory in static TLS block"), tests/dlopen/dlopen_check.c
# dlopens it by path and differentiates x*x on two threads, and (when Debian's
# python3 is there and no sanitizer runtime would have to come first) ctypes
# loads it and calls into it.
mode_dlopen() {
    local build_dir=$1; source_dir=$2; local cc=$3; shift 3
    local flags=("$@")
    install_into_prefix "$build_dir" "$source_dir"
    local so
    so=$(find "$prefix" -name 'libtensorgrad.so.[0-9]*' -print | sort | head -n 1)
    [[ -n $so ]] || die "no libtensorgrad.so.N under $prefix"
    say "readelf -d $so: no STATIC_TLS"
    if readelf -d "$so" | grep -q STATIC_TLS; then
        die "$so has initial-exec TLS (FLAGS STATIC_TLS): dlopen may refuse it"
    fi
    unset LD_LIBRARY_PATH LD_PRELOAD
    cd "$tmp"
    run "$cc" -std=c11 -Wall -Wextra -Wpedantic -Werror "${flags[@]}" -I"$prefix/include" \
        "$source_dir/tests/dlopen/dlopen_check.c" -o dlopen_check -ldl -lpthread
    # linked with neither libtensorgrad nor OpenBLAS: everything comes in by dlopen
    if readelf -d dlopen_check | grep -E 'NEEDED.*(tensorgrad|openblas)'; then
        die "dlopen_check must not link the library it loads"
    fi
    run ./dlopen_check "$so" || die "dlopen of $so failed"
    if ((${#flags[@]})); then
        say "ctypes: skipped, a sanitizer build's library needs the sanitizer runtime loaded first"
        return
    fi
    if [[ ! -x /usr/bin/python3 ]]; then
        say "ctypes: skipped, no /usr/bin/python3"
        return
    fi
    say "/usr/bin/python3: ctypes.CDLL($so)"
    run /usr/bin/python3 - "$so" <<'EOF'
import ctypes, sys
try:
    import numpy  # loads its own OpenBLAS first, as in a real session
except ImportError:
    pass
lib = ctypes.CDLL(sys.argv[1])
lib.tg_scalar.restype = ctypes.c_void_p
lib.tg_scalar.argtypes = [ctypes.c_double]
lib.tg_item.restype = ctypes.c_double
lib.tg_item.argtypes = [ctypes.c_void_p]
lib.tg_free.argtypes = [ctypes.c_void_p]
t = lib.tg_scalar(2.5)
assert t and lib.tg_item(t) == 2.5, "tg_scalar/tg_item through ctypes"
lib.tg_free(t)
print("ctypes: loaded and called", sys.argv[1])
EOF
}

# ---------------------------------------------------------------- header
# tensorgrad.h alone compiles warning-free as C11 and as C++11/C++17, and a C++
# program calling into the shared library links (the extern "C" block is there).
mode_header() {
    local source_dir=$1 gen=$2 cc=$3 cxx=$4 shared_lib=$5; shift 5
    local flags=("$@") warn=(-Wall -Wextra -Wpedantic -Werror)
    shared_lib=$(realpath "$shared_lib")
    command -v "$cxx" >/dev/null || die "no C++ compiler '$cxx' (tools/setup installs g++)"
    cd "$tmp"
    printf '#include <tensorgrad.h>\n' >only_header.c
    run "$cc" -std=c11 "${warn[@]}" -Wstrict-prototypes -I"$source_dir/include" -I"$gen" -fsyntax-only only_header.c
    for std in c++11 c++17; do
        run "$cxx" -std=$std -x c++ "${warn[@]}" -I"$source_dir/include" -I"$gen" -fsyntax-only only_header.c
    done
    cat >call.cpp <<'EOF'
#include <tensorgrad.h>
int main()
{
    tg_tensor *x = tg_scalar(1.5);
    tg_tensor *y = tg_mul(x, x);
    int ok = x && y && tg_item(y) == 2.25;
    tg_free(y);
    tg_free(x);
    return ok ? 0 : 1;
}
EOF
    run "$cxx" -std=c++11 "${warn[@]}" "${flags[@]}" -I"$source_dir/include" -I"$gen" call.cpp \
        "$shared_lib" -Wl,-rpath,"$(dirname "$shared_lib")" -o call
    run ./call || die "the C++ program calling tensorgrad failed"
}

# ---------------------------------------------------------------- exports
# The dynamic symbol table holds exactly the functions that tensorgrad.h
# declares: no tg__ internals, no other global names (OpenBLAS's or the
# kernels'), and nothing declared but missing.  The linker-defined markers
# _init _fini _edata _end __bss_start are allowed should a linker export them:
# they come with every ELF shared object and collide with nothing.
mode_exports() {
    local shared_lib=$1 header=$2 cc=$3 gen=$4
    nm -D --defined-only "$shared_lib" | awk '{ print $NF }' | sed 's/@.*//' | sort -u >"$tmp/exported"
    grep -vxE '_init|_fini|_edata|_end|__bss_start' "$tmp/exported" >"$tmp/names" || true
    # functions declared by the header: a tg_ name directly before `(`, comments and macros gone
    "$cc" -E -P -x c -I"$gen" "$header" | grep -oE '(^|[ *])tg_[a-z0-9_]+\(' | sed -E 's/^[ *]//; s/\($//' \
        | sort -u >"$tmp/declared"
    say "$(wc -l <"$tmp/names") exported, $(wc -l <"$tmp/declared") declared in $(basename "$header")"
    (($(wc -l <"$tmp/declared") > 0)) || die "found no function declarations in $header"
    local bad=0
    if grep -n '^tg__' "$tmp/names"; then echo "internal tg__ names exported (above)"; bad=1; fi
    if grep -v '^tg_' "$tmp/names"; then echo "names without the tg_ prefix exported (above)"; bad=1; fi
    if comm -23 "$tmp/names" "$tmp/declared" | grep -v '^tg__' | grep '^tg_'; then
        echo "exported tg_ names that tensorgrad.h does not declare (above): make them static or tg__"; bad=1
    fi
    if comm -13 "$tmp/names" "$tmp/declared" | grep .; then
        echo "functions declared in tensorgrad.h but not exported (above)"; bad=1
    fi
    ((bad == 0)) || die "the exported symbols of $shared_lib are wrong"
    echo "ok: exports are exactly the public API"
}

mode=${1:-}
shift || true
case $mode in
    pkgconfig | cmake_package | dlopen | header | exports) "mode_$mode" "$@" ;;
    *) die "usage: $0 pkgconfig|cmake_package|dlopen|header|exports ARGS... (see the top of this file)" ;;
esac
