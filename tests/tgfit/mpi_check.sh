#!/usr/bin/env bash
# tgfit on 2 MPI ranks against one process: the fitted coefficients and losses
# (and the least-squares reference) agree to a relative 1e-12.
#   mpi_check.sh TGFIT GEN_POINTS CHECK_JSON [MPIEXEC]
# Used by ctest (tgfit_mpi_matches_single_process) and by .ci/run.  Runs as root
# on CI machines, hence --allow-run-as-root; --oversubscribe allows 2 ranks on 1 core.
set -euo pipefail
tgfit=$1 gen=$2 check=$3 mpiexec=${4:-mpirun}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$gen" npy poly 100001 "$tmp/points.npy"     # odd: the ranks' slices differ in size
"$gen" csv poly 30000 "$tmp/points.csv"
runs=(
    "npy sgd:--data $tmp/points.npy --x 0 --y 1 --degree 8 --optimizer sgd --lr 0.5 --steps 500"
    "npy adam:--data $tmp/points.npy --x 0 --y 1 --degree 8 --optimizer adam --lr 0.01 --steps 300"
    "csv lbfgs:--data $tmp/points.csv --x x --y y --degree 6 --optimizer lbfgs --steps 10"
    "csv adam minibatch:--data $tmp/points.csv --x x --y y --degree 4 --optimizer adam --batch 512 --steps 300 --seed 3"
)
for run in "${runs[@]}"; do
    name=${run%%:*} args=${run#*:}
    echo "== $name: tgfit $args"
    # shellcheck disable=SC2086
    "$tgfit" $args --out "$tmp/one.json" >/dev/null 2>&1
    # shellcheck disable=SC2086
    "$mpiexec" --allow-run-as-root --oversubscribe -np 2 "$tgfit" $args --out "$tmp/two.json" >"$tmp/mpi.log" 2>&1 \
        || { cat "$tmp/mpi.log"; echo "FAIL: mpirun -np 2 tgfit failed" >&2; exit 1; }
    [[ $("$check" get "$tmp/two.json" ranks) == 2 ]] || { echo "FAIL: the MPI run did not use 2 ranks" >&2; exit 1; }
    "$check" agree "$tmp/one.json" "$tmp/two.json" 1e-12 coefficients loss lstsq_loss lstsq_coefficients
done
echo "PASS: 2 MPI ranks agree with one process to 1e-12"
