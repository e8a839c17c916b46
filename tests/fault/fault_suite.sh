#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The crash-and-fault suite of issue 18 (item 9), run by .ci/run, in the style of
# SQLite's crash tests: every case checks that nothing is lost and nothing hangs.
#
#   bash tests/fault/fault_suite.sh BUILD_DIR [MPIEXEC]
#
#   1. SIGKILL tgfit at 20 random moments: --out is the old file or a complete new one
#   2. writes cut short by ulimit -f: the old --out survives, one `tgfit:` line, exit != 0
#   3. ulimit -v 150, 250, 400 MB on 2*10^6 points: ends in seconds with a fit or one line
#   4. disagreeing MPI ranks (MPMD): one line naming what differs, nothing written, exit != 0
#      (another --degree, another file, files one point apart: mpi_one_point.sh)
#   5. hostile $XDG_CACHE_HOME / $CC / $TG_CC for the JIT: no shell runs, a marker never appears
# Each case prints one line; the script exits 1 at the first failure.  ~1 minute on 2 cores.
set -uo pipefail
build=$(cd "$1" && pwd)
mpiexec=${2:-$(command -v mpirun || true)}
tgfit=$build/tools/tgfit/tgfit
gen=$build/tests/tgfit/tgfit_gen_points
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp"; rm -rf "$tmp"' EXIT
die() { echo "fault_suite: FAILED: $*" >&2; exit 1; }
json_ok() { "$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert "coefficients" in d' "$1" 2>/dev/null; }
one_tgfit_line() {   # stderr file: exactly one line, starting with "tgfit: "
    [[ $(grep -c '' "$1") == 1 ]] && grep -q '^tgfit: ' "$1"
}

"$gen" npy poly 200000 "$tmp/mid.npy" || die "gen_points"
"$gen" npy poly 2000000 "$tmp/big.npy" || die "gen_points"

# 1. SIGKILL at random moments of runs that write --out (and a plot)
"$tgfit" --data "$tmp/mid.npy" --x 0 --y 1 --degree 4 --steps 3 --out "$tmp/fit.json" > /dev/null 2>&1 \
    || die "the first fit"
cp "$tmp/fit.json" "$tmp/old.json"
RANDOM=18
for i in $(seq 20); do
    "$tgfit" --data "$tmp/mid.npy" --x 0 --y 1 --degree 4 --steps 40 --seed "$i" \
        --out "$tmp/fit.json" --plot "$tmp/fit.svg" > /dev/null 2>&1 &
    pid=$!
    sleep "0.$(printf '%03d' $((RANDOM % 600)))"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    cmp -s "$tmp/fit.json" "$tmp/old.json" || json_ok "$tmp/fit.json" \
        || die "after SIGKILL $i --out is neither the old file nor a complete new one"
    cp "$tmp/fit.json" "$tmp/old.json"
done
echo "fault_suite: 1 SIGKILL x20: --out always the old file or a complete new one"

# 2. writes cut short: a file-size limit below the plot's and the JSON's size
cp "$tmp/fit.json" "$tmp/keep.json"
(ulimit -f 1; exec "$tgfit" --data "$tmp/mid.npy" --x 0 --y 1 --degree 4 --steps 3 \
    --out "$tmp/fit.json" --plot "$tmp/fit.svg" -q) > /dev/null 2> "$tmp/err"
rc=$?
((rc != 0)) || die "ulimit -f: exit 0"
cmp -s "$tmp/fit.json" "$tmp/keep.json" || json_ok "$tmp/fit.json" || die "ulimit -f: --out damaged"
[[ -s "$tmp/fit.svg" ]] && { xmllint --noout "$tmp/fit.svg" 2>/dev/null || die "ulimit -f: partial SVG"; }
echo "fault_suite: 2 ulimit -f: exit $rc, the old --out kept ($(head -c 100 "$tmp/err"))"

# 3. address-space limits: a fit or one tgfit: line, within 60 s (before: >10 min in dgelsd)
for mb in 150 250 400; do
    for opt in adam lstsq; do
        start=$SECONDS
        (ulimit -v $((mb * 1024)); exec timeout -s KILL 60 "$tgfit" --data "$tmp/big.npy" --x 0 --y 1 \
            --degree 4 --steps 5 --optimizer "$opt" -q) > "$tmp/out" 2> "$tmp/err"
        rc=$?
        ((rc != 137)) || die "ulimit -v ${mb} MB --optimizer $opt: killed after 60 s (a hang)"
        ((rc == 0)) || one_tgfit_line "$tmp/err" || die "ulimit -v ${mb} MB $opt: exit $rc, stderr: $(cat "$tmp/err")"
        echo "fault_suite: 3 ulimit -v ${mb} MB $opt: exit $rc in $((SECONDS - start)) s $( ((rc)) && head -c 120 "$tmp/err")"
    done
done

# 4. disagreeing MPI ranks: another --degree (was MPI_ERR_TRUNCATE), another file (was a wrong fit)
if [[ -n "$mpiexec" ]] && "$tgfit" --help 2>&1 | grep -q mpirun; then
    mpi=("$mpiexec" --allow-run-as-root --oversubscribe)
    "$gen" csv poly 1000 "$tmp/a.csv" && "$gen" csv poly 1000 "$tmp/b.csv" 0.5
    common=(--x x --y y --steps 5 -q)
    for case in degree file; do
        rm -f "$tmp/mpi.json"
        if [[ $case == degree ]]; then
            second=(--data "$tmp/a.csv" --degree 5)
        else
            second=(--data "$tmp/b.csv" --degree 4)
        fi
        timeout -s KILL 120 "${mpi[@]}" -np 1 "$tgfit" --data "$tmp/a.csv" --degree 4 "${common[@]}" \
            --out "$tmp/mpi.json" : -np 1 "$tgfit" "${second[@]}" "${common[@]}" --out "$tmp/mpi.json" \
            > "$tmp/out" 2> "$tmp/err"
        rc=$?
        ((rc != 0 && rc != 137)) || die "MPI ranks with another $case: exit $rc"
        grep -q '^tgfit: MPI ranks disagree on' "$tmp/err" || die "MPI $case: no disagreement line: $(cat "$tmp/err")"
        [[ ! -e "$tmp/mpi.json" ]] || die "MPI $case: --out written"
        echo "fault_suite: 4 MPI another $case: exit $rc, $(grep '^tgfit:' "$tmp/err")"
    done
    # files one point apart, at a byte a sampled digest would miss (CSV and .npy)
    bash "$(dirname "${BASH_SOURCE[0]}")/mpi_one_point.sh" "$tgfit" "$gen" "$mpiexec" > "$tmp/out" 2>&1 \
        || die "MPI one point: $(tail -3 "$tmp/out")"
    echo "fault_suite: 4 MPI one point apart: $(grep -c 'ranks exit' "$tmp/out") cases stopped on every rank"
else
    echo "fault_suite: 4 MPI: skipped (no mpirun or tgfit built without MPI)"
fi

# 5. hostile values for the compiler path: the JIT tests (they compile captured graphs
#    and check the compiled result) under cache paths a shell would act on; then
#    test_toolchain, whose cases spawn hostile $CC / $TG_CC values themselves.  The
#    marker must never appear.
#    The values hold no '/' (the marker is relative, test_graph runs in $tmp), so
#    the old code's mkdir of $XDG_CACHE_HOME succeeded and its system() ran them.
marker=$tmp/MARKER
for v in "'; touch MARKER; '" "\$(touch MARKER)" "\`touch MARKER\`" "x\"; touch MARKER; \"y" \
         "$(printf 'a\ntouch MARKER')"; do
    (cd "$tmp" && exec env -u CC -u TG_CC XDG_CACHE_HOME="$tmp/c-$v" "$build/tests/test_graph") > "$tmp/out" 2>&1 \
        || die "test_graph under hostile values failed: $(tail -5 "$tmp/out")"
    [[ ! -e "$marker" ]] || die "a shell ran: $marker exists (value: $v)"
done
XDG_CACHE_HOME="$tmp/x" "$build/tests/test_toolchain" > "$tmp/out" 2>&1 || die "test_toolchain: $(tail -5 "$tmp/out")"
echo "fault_suite: 5 hostile XDG_CACHE_HOME / CC / TG_CC: no shell ran"
echo "fault_suite: all cases passed"
