#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tgfit's JSON is the same bit for bit on 1, 2, 3 and 7 MPI ranks and on 1 or 2
# threads: every number but the timings (and the rank count in "settings") is
# compared with cmp, not a tolerance.  The rows are split in whole blocks of the
# fixed reduction trees (losses, gradients, the least-squares QR), so the split
# cannot change a bit.
#   mpi_check.sh TGFIT GEN_POINTS CHECK_JSON [MPIEXEC] [RANKS...]
# Used by ctest (tgfit_mpi_matches_single_process) and by .ci/run.  Runs as root
# on CI machines, hence --allow-run-as-root; --oversubscribe allows 7 ranks on 2 cores.
set -euo pipefail
tgfit=$1 gen=$2 check=$3 mpiexec=${4:-mpirun}
shift 4 || shift $#
ranks=("$@")
((${#ranks[@]})) || ranks=(2 3 7)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$gen" npy poly 1000001 "$tmp/points.npy"    # 4 blocks of 262144 points: ranks own 0 to 2 of them
"$gen" csv poly 300000 "$tmp/points.csv"     # 2 blocks
runs=(
    "npy lstsq:--data $tmp/points.npy --x 0 --y 1 --degree 12 --optimizer lstsq"
    "npy sgd:--data $tmp/points.npy --x 0 --y 1 --degree 8 --optimizer sgd --lr 0.5 --steps 60"
    "npy adam:--data $tmp/points.npy --x 0 --y 1 --degree 8 --optimizer adam --lr 0.01 --steps 60"
    "csv lbfgs:--data $tmp/points.csv --x x --y y --degree 6 --optimizer lbfgs --steps 5"
    "csv adam minibatch:--data $tmp/points.csv --x x --y y --degree 4 --optimizer adam --batch 512 --steps 60 --seed 3"
)
# the JSON without its timing block and rank count
strip() { sed -e '/"timing": {/,$d' -e '/"ranks":/d' "$1"; }
for run in "${runs[@]}"; do
    name=${run%%:*} args=${run#*:}
    echo "== $name: tgfit $args"
    # shellcheck disable=SC2086
    OMP_NUM_THREADS=1 "$tgfit" $args -q --out "$tmp/one.json" || { echo "FAIL: tgfit failed" >&2; exit 1; }
    strip "$tmp/one.json" >"$tmp/one.cmp"
    # shellcheck disable=SC2086
    OMP_NUM_THREADS=2 "$tgfit" $args -q --out "$tmp/t2.json" || { echo "FAIL: tgfit on 2 threads failed" >&2; exit 1; }
    strip "$tmp/t2.json" >"$tmp/t2.cmp"
    cmp "$tmp/one.cmp" "$tmp/t2.cmp" || { diff "$tmp/one.cmp" "$tmp/t2.cmp" | head; echo "FAIL: 2 threads differ" >&2; exit 1; }
    for np in "${ranks[@]}"; do
        # shellcheck disable=SC2086
        OMP_NUM_THREADS=1 "$mpiexec" --allow-run-as-root --oversubscribe -np "$np" "$tgfit" $args -q \
            --out "$tmp/mpi.json" >"$tmp/mpi.log" 2>&1 \
            || { cat "$tmp/mpi.log"; echo "FAIL: mpirun -np $np tgfit failed" >&2; exit 1; }
        [[ $("$check" get "$tmp/mpi.json" ranks) == "$np" ]] || { echo "FAIL: the MPI run did not use $np ranks" >&2; exit 1; }
        strip "$tmp/mpi.json" >"$tmp/mpi.cmp"
        cmp "$tmp/one.cmp" "$tmp/mpi.cmp" \
            || { diff "$tmp/one.cmp" "$tmp/mpi.cmp" | head; echo "FAIL: $np ranks differ from one process" >&2; exit 1; }
        echo "   $np ranks: identical"
    done
done
echo "PASS: tgfit's JSON is bit-identical on 1 and 2 threads and on 1, ${ranks[*]} MPI ranks"
