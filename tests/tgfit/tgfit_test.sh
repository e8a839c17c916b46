#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tgfit end to end, one case per ctest entry (tests/tgfit/CMakeLists.txt):
#   tgfit_test.sh CASE TGFIT GEN_POINTS CHECK_JSON SOURCE_DIR [MPIEXEC]
# Data files are generated in a temporary directory by gen_points (a known
# polynomial plus deterministic noise, or the tutorial's sin data); the JSON is
# read by check_json; the SVG is checked with xmllint.
set -euo pipefail
case_name=$1 tgfit=$2 gen=$3 check=$4 src=$5 mpiexec=${6:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
die() { echo "FAIL: $*" >&2; exit 1; }

svg_ok() {   # valid XML, an <svg> root, the four series, a sampled data set
    local svg=$1 max_points=$2
    xmllint --noout "$svg" || die "$svg is not well-formed XML"
    [[ $(xmllint --xpath 'name(/*)' "$svg") == svg ]] || die "$svg: the root is not <svg>"
    for id in data fit residuals loss; do
        [[ $(xmllint --xpath "count(//*[@id='$id'])" "$svg") == 1 ]] || die "$svg has no element with id $id"
    done
    local n; n=$(xmllint --xpath "count(//*[@id='data']/*)" "$svg")
    ((n > 0 && n <= max_points)) || die "$svg: $n data points (want 1..$max_points)"
    [[ -n $(xmllint --xpath "string(//*[@id='fit']/@points)" "$svg") ]] || die "$svg: the fit curve is empty"
    echo "$svg: valid SVG, $n data points, series data fit residuals loss"
}

bad_input() {   # one line on stderr starting "tgfit: ", nothing on stdout, nonzero exit
    local expect=$1; shift
    local rc=0
    "$tgfit" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
    ((rc != 0)) || die "tgfit $* exited 0"
    [[ $(wc -l <"$tmp/err") == 1 ]] || { cat "$tmp/err"; die "tgfit $* wrote $(wc -l <"$tmp/err") lines on stderr"; }
    grep -q '^tgfit: ' "$tmp/err" || die "stderr does not start with 'tgfit: '"
    grep -qi -- "$expect" "$tmp/err" || die "stderr '$(cat "$tmp/err")' does not mention '$expect'"
    [[ ! -s $tmp/out ]] || die "tgfit $* wrote on stdout"
    echo "ok (exit $rc): $(cat "$tmp/err")"
}

case $case_name in
csv_fit_agrees_with_lstsq)
    "$gen" csv poly 20000 "$tmp/points.csv"
    "$tgfit" --data "$tmp/points.csv" --x x --y y --degree 4 --optimizer lbfgs --steps 20 \
        --out "$tmp/fit.json" --plot "$tmp/fit.svg" 2>"$tmp/err"
    cat "$tmp/fit.json"
    "$check" lstsq "$tmp/fit.json" 1e-9 1e-6
    # the known polynomial 1 - 2x + 0.5x^2 + 3x^3 - x^4 in Legendre form on [-2, 3] is found
    # to within the noise (amplitude 0.01)
    "$check" near "$tmp/fit.json" lstsq_coefficients 1e-4 \
        -0.083333333333333 10 -7.7380952380952 6.25 -8.9285714285714
    [[ $("$check" get "$tmp/fit.json" interrupted) == false ]] || die "marked interrupted"
    svg_ok "$tmp/fit.svg" 3000
    # not a terminal: plain progress lines, about ten
    n=$(grep -c '^step [0-9]*/20 loss ' "$tmp/err") && ((n >= 5 && n <= 12)) || die "progress lines: $n"
    ;;
adam_and_sgd_reach_lstsq)
    "$gen" csv poly 5000 "$tmp/points.csv"
    "$tgfit" --data "$tmp/points.csv" --x x --y y --degree 6 --optimizer adam --lr 0.05 --steps 3000 --out "$tmp/a.json" 2>/dev/null
    "$check" lstsq "$tmp/a.json" 1e-9 1e-4
    "$tgfit" --data "$tmp/points.csv" --x x --y y --degree 6 --optimizer sgd --lr 0.5 --steps 3000 --out "$tmp/s.json" 2>/dev/null
    "$check" lstsq "$tmp/s.json" 1e-9 1e-4
    # minibatches of 256 points: close, not exact
    "$tgfit" --data "$tmp/points.csv" --x x --y y --degree 4 --optimizer adam --lr 0.02 --batch 256 --steps 2000 \
        --seed 7 --out "$tmp/b.json" 2>/dev/null
    "$check" lstsq "$tmp/b.json" 0.05 0.05
    ;;
lstsq_mode_npy)
    "$gen" npy poly 3000 "$tmp/points.npy"
    "$tgfit" --data "$tmp/points.npy" --x 0 --y 1 --degree 12 --optimizer lstsq --out "$tmp/fit.json" --plot "$tmp/fit.svg"
    "$check" lstsq "$tmp/fit.json" 0 0
    [[ $("$check" get "$tmp/fit.json" steps_done) == 0 ]] || die "lstsq mode took steps"
    [[ $("$check" get "$tmp/fit.json" lstsq_method) == '"tsqr"' ]] || die "lstsq method"
    svg_ok "$tmp/fit.svg" 3000
    ;;
p3_tutorial)
    # PyTorch's tutorial: sum loss, lr 5e-6, 2000 points -> the MSE with lr 5e-6 * 2000
    "$gen" csv sin 2000 "$tmp/sin.csv"
    "$tgfit" --data "$tmp/sin.csv" --x x --y y --model p3 --optimizer sgd --lr 0.01 --steps 2000 \
        --out "$tmp/fit.json" --plot "$tmp/fit.svg" 2>/dev/null
    ref=$src/tests/data/tutorial.txt
    read -r -a abcd < <(awk '$1 == "a" || $1 == "b" || $1 == "c" || $1 == "d" { printf "%s ", $2 }' "$ref") || true
    ((${#abcd[@]} == 4)) || die "no a b c d in $ref"
    "$check" near "$tmp/fit.json" coefficients 1e-9 "${abcd[@]}"
    # a cubic can do no better than the degree-3 least squares
    gap=$("$check" get "$tmp/fit.json" relative_gap)
    awk -v g="$gap" 'BEGIN { exit !(g > -1e-12) }' || die "p3 beat the least squares: gap $gap"
    svg_ok "$tmp/fit.svg" 3000
    ;;
plot_subsamples_large_data)
    "$gen" npy poly 200000 "$tmp/points.npy"
    "$tgfit" --data "$tmp/points.npy" --x 0 --y 1 --degree 3 --steps 50 --plot "$tmp/fit.svg" >/dev/null 2>&1
    svg_ok "$tmp/fit.svg" 3000
    ;;
bad_input)
    "$gen" csv poly 100 "$tmp/p.csv"
    "$gen" npy poly 100 "$tmp/p.npy"
    printf 'x,y\n1,2\n2,nan\n3,4\n' >"$tmp/nan.csv"
    printf 'x,y\n1,2\n2,abc\n3,4\n' >"$tmp/text.csv"
    printf 'x,y\n' >"$tmp/empty.csv"
    bad_input "no such file"   --data "$tmp/missing.csv" --x x --y y --degree 3
    bad_input "no column 'z'"  --data "$tmp/p.csv" --x x --y z --degree 3
    bad_input "data row 2"     --data "$tmp/nan.csv" --x x --y y --degree 1
    bad_input "--degree -1"    --data "$tmp/p.csv" --x x --y y --degree -1
    bad_input "'abc'"          --data "$tmp/text.csv" --x x --y y --degree 1
    bad_input "unknown option" --data "$tmp/p.csv" --x x --y y --degree 3 --colour red
    bad_input "needs a value"  --data "$tmp/p.csv" --x x --y y --degree
    bad_input "2 columns"      --data "$tmp/p.npy" --x 0 --y 2 --degree 3
    bad_input "indices"        --data "$tmp/p.npy" --x x --y 1 --degree 3
    bad_input "not an integer" --data "$tmp/p.csv" --x x --y y --degree three
    bad_input "no data rows"   --data "$tmp/empty.csv" --x x --y y --degree 1
    bad_input "is required"    --data "$tmp/p.csv" --x x --y y
    bad_input "lstsq needs"    --data "$tmp/p.csv" --x x --y y --model p3 --optimizer lstsq
    bad_input "unexpected"     --data "$tmp/p.csv" --x x --y y --degree 3 stray
    # rank-deficient: numpy's RankWarning, not an error: the minimum-norm solution and a warning
    "$tgfit" --data "$tmp/p.csv" --x x --y y --degree 200 --optimizer lstsq --out "$tmp/rank.json" -q \
        || die "a rank-deficient least squares failed"
    grep -q '"lstsq_warning": "rank ' "$tmp/rank.json" || die "no rank warning in the JSON"
    ;;
sigint_writes_best_fit)
    # SIGINT and SIGTERM alike: stop after the current step, write the best fit, exit 130
    "$gen" csv poly 200000 "$tmp/points.csv"
    for sig in INT TERM; do
        "$tgfit" --data "$tmp/points.csv" --x x --y y --degree 8 --steps 100000000 \
            --out "$tmp/fit.json" --plot "$tmp/fit.svg" >"$tmp/out" 2>"$tmp/err" &
        pid=$!
        sleep 1.5     # reading takes ~0.1 s here; a signal during reading stops after the first step
        kill -"$sig" "$pid"
        rc=0; wait "$pid" || rc=$?
        ((rc == 130)) || { cat "$tmp/err"; die "exit status $rc after SIG$sig, want 130"; }
        grep -q "interrupted (SIG$sig) after step" "$tmp/err" || die "no interruption message for SIG$sig"
        [[ $("$check" get "$tmp/fit.json" interrupted) == true ]] || die "JSON not marked interrupted"
        steps=$("$check" get "$tmp/fit.json" steps_done)
        ((steps > 0 && steps < 100000000)) || die "steps_done $steps"
        loss=$("$check" get "$tmp/fit.json" loss)
        awk -v l="$loss" 'BEGIN { exit !(l > 0 && l < 1e3) }' || die "loss $loss"
        svg_ok "$tmp/fit.svg" 3000
        echo "SIG$sig: interrupted after $steps steps, loss $loss"
    done
    ;;
tty_progress_bar)
    "$gen" csv poly 2000 "$tmp/points.csv"
    script -qec "'$tgfit' --data '$tmp/points.csv' --x x --y y --degree 4 --steps 300" /dev/null >"$tmp/tty" </dev/null
    grep -q $'\r\[#' "$tmp/tty" || die "no redrawn bar on the terminal"
    grep -q 'points/s  ETA' "$tmp/tty" || die "no rate / ETA on the bar"
    echo "bar: $(tr '\r' '\n' <"$tmp/tty" | grep -a 'step 300/300' | head -1)"
    ;;
scale_weights_tol_eval)
    # issue 15: weights (numpy's w), cov and standard errors, --tol, tgfit eval of the saved fit
    "$gen" csv poly 20000 "$tmp/p.csv"
    "$tgfit" --data "$tmp/p.csv" --x x --y y --degree 6 --optimizer lstsq -q --out "$tmp/lsq.json" || die "lstsq"
    grep -q '"cov": \[' "$tmp/lsq.json" || die "no cov in the JSON"
    grep -q '"standard_errors": \[' "$tmp/lsq.json" || die "no standard errors in the JSON"
    # a weight of sqrt(2) on a point is the point counted twice (w multiplies the residual)
    awk -F, 'NR == 1 { print $0 ",w"; next } { print $0 "," (NR % 3 ? 1 : "1.4142135623730951") }' "$tmp/p.csv" \
        >"$tmp/w.csv"
    awk -F, 'NR == 1 { print; next } { print } NR % 3 == 0 { print }' "$tmp/p.csv" >"$tmp/twice.csv"
    "$tgfit" --data "$tmp/w.csv" --x x --y y --weights w --degree 6 --optimizer lstsq -q --out "$tmp/w.json" \
        || die "weighted lstsq"
    "$tgfit" --data "$tmp/twice.csv" --x x --y y --degree 6 --optimizer lstsq -q --out "$tmp/twice.json" \
        || die "lstsq of the duplicated points"
    "$check" agree "$tmp/w.json" "$tmp/twice.json" 1e-10 lstsq_coefficients lstsq_rss \
        || die "weights sqrt(2) differ from the points counted twice"
    # constant weights 2 leave the coefficients and the covariance as they are
    awk -F, 'NR == 1 { print $0 ",w"; next } { print $0 ",2" }' "$tmp/p.csv" >"$tmp/w2.csv"
    "$tgfit" --data "$tmp/w2.csv" --x x --y y --weights w --degree 6 --optimizer lstsq -q --out "$tmp/w2.json" \
        || die "weights 2"
    "$check" agree "$tmp/lsq.json" "$tmp/w2.json" 1e-12 lstsq_coefficients standard_errors \
        || die "constant weights changed the fit"
    # --tol stops an optimizer that stopped improving
    "$tgfit" --data "$tmp/p.csv" --x x --y y --degree 4 --optimizer lbfgs --steps 1000 --tol 1e-6 -q \
        --out "$tmp/tol.json" || die "--tol run"
    steps=$("$check" get "$tmp/tol.json" steps_done)
    ((steps < 1000)) || die "--tol did not stop L-BFGS ($steps steps)"
    grep -q '"converged": true' "$tmp/tol.json" || die "--tol: converged is not true"
    # eval: the saved fit on the same points gives its loss back
    "$tgfit" eval --fit "$tmp/lsq.json" --data "$tmp/p.csv" --x x --y y --pred "$tmp/pred.npy" >"$tmp/eval.out" \
        || die "tgfit eval"
    [[ $("$check" get "$tmp/eval.out" points) == 20000 ]] || die "eval: points"
    "$check" near "$tmp/lsq.json" loss 1e-12 "$("$check" get "$tmp/eval.out" mse)" || die "eval's MSE is not the loss"
    [[ -s "$tmp/pred.npy" ]] || die "eval wrote no predictions"
    if "$tgfit" eval --fit "$tmp/p.csv" --data "$tmp/p.csv" --x x 2>"$tmp/err"; then die "eval took a CSV as a fit"; fi
    grep -q "not a fit written by tgfit" "$tmp/err" || die "eval's error: $(cat "$tmp/err")"
    # x and y in two 1-d .npy files: the same fit, bit for bit, as the [N, 2] file
    "$gen" npy poly 20000 "$tmp/p.npy"
    "$gen" npyx poly 20000 "$tmp/px.npy"
    "$gen" npyy poly 20000 "$tmp/py.npy"
    "$tgfit" --data "$tmp/p.npy" --x 0 --y 1 --degree 6 --optimizer lstsq -q --out "$tmp/one.json" || die "npy"
    "$tgfit" --data "$tmp/px.npy" --x 0 --y "$tmp/py.npy" --degree 6 --optimizer lstsq -q --out "$tmp/two.json" \
        || die "separate x and y files"
    "$check" agree "$tmp/one.json" "$tmp/two.json" 0 lstsq_coefficients loss cond || die "separate files differ"
    echo "weights, cov, --tol ($steps steps), eval, separate x / y files: ok"
    ;;
mpi_matches_single_process)
    bash "$src/tests/tgfit/mpi_check.sh" "$tgfit" "$gen" "$check" "$mpiexec" 2 3
    ;;
*)
    die "unknown case $case_name"
    ;;
esac
echo "PASS: $case_name"
