#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tgfit as a command-line program (issue 16 items 6-7, issue 18 items 1, 2, 6,
# 11), one case per ctest entry (tests/tgfit/CMakeLists.txt):
#   cli_test.sh CASE TGFIT GEN_POINTS CHECK_JSON SOURCE_DIR [MPIEXEC]
# JSON is checked with Debian's /usr/bin/python3 (json module) and check_json,
# the SVG with xmllint.  Exit 77 means skipped (ctest SKIP_RETURN_CODE).
set -euo pipefail
case_name=$1 tgfit=$2 gen=$3 check=$4 src=$5 mpiexec=${6:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Whether process $1 is tgfit and catches SIGINT and SIGTERM (bits 1 and 14 of
# SigCgt).  The name matters: a child forked by bash or mpirun catches both
# too until it execs, and a signal sent then kills it before its redirections
# are made (the test read a missing stderr file).
tgfit_catches() {
    local m
    [[ $(cat "/proc/$1/comm" 2>/dev/null) == tgfit ]] || return 1
    m=$(awk '/^SigCgt/ { print $2 }' "/proc/$1/status" 2>/dev/null) || m=0
    (( (16#${m:-0} >> 1 & 1) && (16#${m:-0} >> 14 & 1) ))
}
die() { echo "FAIL: $*" >&2; exit 1; }
py=/usr/bin/python3

json_ok() { "$py" -c 'import json, sys; json.load(open(sys.argv[1], encoding="utf-8"))' "$1" || die "$1 is not valid JSON"; }

# one line on stderr starting "tgfit: " and mentioning $2, exit $1, nothing on stdout
refused() {
    local want=$1 expect=$2; shift 2
    local rc=0
    "$tgfit" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
    ((rc == want)) || { cat "$tmp/err"; die "tgfit $* exited $rc, want $want"; }
    [[ $(wc -l <"$tmp/err") == 1 ]] || { cat "$tmp/err"; die "tgfit $* wrote $(wc -l <"$tmp/err") lines on stderr"; }
    grep -q '^tgfit: ' "$tmp/err" || die "stderr does not start with 'tgfit: '"
    grep -qi -- "$expect" "$tmp/err" || die "stderr '$(cat "$tmp/err")' does not mention '$expect'"
    [[ ! -s $tmp/out ]] || die "tgfit $* wrote on stdout"
    echo "ok (exit $rc): $(cat "$tmp/err")"
}

case $case_name in
standard_conventions)
    "$gen" csv poly 500 "$tmp/p.csv"
    v=$("$tgfit" --version) && [[ $v =~ ^tgfit\ \(tensorgrad\)\ [0-9]+\.[0-9]+\.[0-9]+ ]] || die "--version: '$v'"
    [[ $("$tgfit" -V) == "$v" ]] || die "-V differs from --version"
    project=$(sed -n 's/^project(tensorgrad VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
    [[ $v == "tgfit (tensorgrad) $project" ]] || die "--version '$v' is not the project's $project"
    "$tgfit" --help | grep -q -- '--quiet' || die "--help does not list --quiet"
    # getopt_long: --name=value, -h, abbreviations, errors
    "$tgfit" --data="$tmp/p.csv" --x=x --y=y --degree=3 --steps=5 -q --out="$tmp/eq.json"
    "$tgfit" --data "$tmp/p.csv" --x x --y y --deg 3 --steps 5 --quiet --out "$tmp/sp.json"
    "$check" agree "$tmp/eq.json" "$tmp/sp.json" 0 coefficients loss
    refused 2 "unknown option '--colour'" --data "$tmp/p.csv" --x x --y y --degree 3 --colour=red
    refused 2 "unknown option '-z'" --data "$tmp/p.csv" --x x --y y --degree 3 -z
    refused 2 "--steps needs a value" --data "$tmp/p.csv" --x x --y y --degree 3 --steps
    refused 2 "unexpected argument 'stray'" --data "$tmp/p.csv" --x x --y y --degree 3 stray
    # --quiet: nothing at all on stdout and stderr
    "$tgfit" --data "$tmp/p.csv" --x x --y y --degree 3 --steps 50 -q --out "$tmp/q.json" >"$tmp/out" 2>"$tmp/err"
    [[ ! -s $tmp/out && ! -s $tmp/err ]] || die "--quiet printed something"
    # - for standard input (CSV) and standard output (JSON, in place of the summary)
    "$tgfit" --data - --x x --y y --degree 3 --steps 50 --out - <"$tmp/p.csv" >"$tmp/stdout.json" 2>"$tmp/err"
    json_ok "$tmp/stdout.json"
    "$check" agree "$tmp/q.json" "$tmp/stdout.json" 0 coefficients loss lstsq_coefficients
    [[ $("$check" get "$tmp/stdout.json" data) == '"-"' ]] || die "data is not \"-\""
    cat "$tmp/p.csv" | "$tgfit" --data - --x x --y y --degree 3 --steps 50 -q --plot - >"$tmp/stdout.svg"
    xmllint --noout "$tmp/stdout.svg" || die "--plot - is not XML"
    refused 2 "both name standard output" --data "$tmp/p.csv" --x x --y y --degree 3 --out - --plot -
    # .npz: refused by name, and a zip file under another name too
    printf 'PK\003\004rest' >"$tmp/a.npz"
    cp "$tmp/a.npz" "$tmp/zip.csv"
    refused 2 "a.npz: a .npz (zip) archive is not read" --data "$tmp/a.npz" --x 0 --y 1 --degree 3
    refused 2 "zip.csv: a .npz (zip) archive" --data "$tmp/zip.csv" --x x --y y --degree 3
    ;;
progress_shows_reported_loss)
    # the progress lines show the best loss so far; the last one the loss the result reports
    "$gen" csv poly 2000 "$tmp/p.csv"
    for opt in adam lbfgs sgd; do
        "$tgfit" --data "$tmp/p.csv" --x x --y y --degree 5 --optimizer "$opt" --steps 200 --out "$tmp/f.json" \
            2>"$tmp/err" >/dev/null
        last=$(grep '^step ' "$tmp/err" | tail -1 | awk '{ print $4 }')
        want=$(awk -v l="$("$check" get "$tmp/f.json" loss)" 'BEGIN { printf "%.6e", l }')
        [[ $last == "$want" ]] || die "$opt: last progress loss $last, result loss $want"
        grep '^step ' "$tmp/err" | awk '{ if (NR > 1 && $4 + 0 > prev + 0) exit 1; prev = $4 }' \
            || die "$opt: the progress loss went up: $(grep '^step ' "$tmp/err" | awk '{ print $4 }' | tr '\n' ' ')"
        echo "$opt: last progress line shows $last = the result's loss"
    done
    ;;
json_any_file_name)
    # names with quotes, backslashes, control characters and invalid UTF-8 stay valid JSON and XML
    "$gen" csv poly 300 "$tmp/p.csv"
    for name in 'q"uote\back.csv' $'tab\tnl\nctl\001.csv' $'bad\xff\xfeutf8.csv' $'over\xc0\xaflong.csv' \
                $'surr\xed\xa0\x80.csv' 'ünï€😀.csv' '<&>.csv'; do
        cp "$tmp/p.csv" "$tmp/$name"
        "$tgfit" --data "$tmp/$name" --x x --y y --degree 2 --steps 3 -q --out "$tmp/f.json" --plot "$tmp/f.svg"
        json_ok "$tmp/f.json"
        xmllint --noout "$tmp/f.svg" || die "the SVG for $(printf %q "$name") is not XML"
        "$py" - "$tmp/f.json" "$tmp/$name" <<'PY' || die "the data name in the JSON is not the file name"
import json, os, sys
got = json.load(open(sys.argv[1], encoding="utf-8"))["data"]
want = os.fsencode(sys.argv[2]).decode("utf-8", errors="replace")
sys.exit(0 if got == want else 1)
PY
        echo "ok: $(printf %q "$name")"
    done
    ;;
extreme_sizes)
    # every numeric flag and argument at 0, -1, 2^31, 2^53, 2^61+1, 2^63-1 (and 2^64): a run
    # or one "tgfit:" line, exit 2 for a size; never a crash (ASan catches overflows)
    "$gen" csv poly 200 "$tmp/p.csv"
    "$gen" npy poly 200 "$tmp/p.npy"
    values=(0 -1 2147483648 9007199254740992 2305843009213693953 9223372036854775807 18446744073709551616)
    run_one() {   # expected-exit-codes args...
        local ok=$1; shift
        local rc=0
        timeout 120 "$tgfit" "$@" -q >"$tmp/out" 2>"$tmp/err" || rc=$?
        [[ " $ok " == *" $rc "* ]] || { cat "$tmp/err"; die "tgfit $* exited $rc (want one of $ok)"; }
        ((rc == 0)) || [[ $(wc -l <"$tmp/err") == 1 && $(head -c 7 "$tmp/err") == "tgfit: " ]] \
            || { cat "$tmp/err"; die "tgfit $* did not fail with one tgfit: line"; }
        echo "$* -> $rc $(cat "$tmp/err")"
    }
    base=(--data "$tmp/p.csv" --x x --y y)
    for v in "${values[@]}"; do
        if [[ $v == 0 ]]; then ok=0; else ok=2; fi
        run_one "$ok" "${base[@]}" --degree 3 --steps "$v"
        run_one "$ok" "${base[@]}" --degree 3 --steps 3 --batch "$v"
        run_one "$ok" "${base[@]}" --degree "$v" --steps 3
        run_one "$ok" "${base[@]}" --model p3 --steps "$v"
        # the seed takes any value of 0..2^63-1
        if [[ $v == -1 || $v == 18446744073709551616 ]]; then ok=2; else ok=0; fi
        run_one "$ok" "${base[@]}" --degree 3 --steps 3 --batch 10 --seed "$v"
        # the learning rate: positive; a huge one diverges (exit 3) or not
        if [[ $v == 0 || $v == -1 ]]; then ok=2; else ok="0 3"; fi
        run_one "$ok" "${base[@]}" --degree 3 --steps 3 --lr "$v"
        # column indices of a .npy: 0 and 1 exist, the rest are bad data (exit 1)
        if [[ $v == 0 ]]; then ok=0; else ok=1; fi
        run_one "$ok" --data "$tmp/p.npy" --x "$v" --y 1 --degree 2 --steps 3
    done
    # the largest accepted sizes still fail cleanly, before the fit, when memory cannot hold them
    # (ASan reserves terabytes of shadow memory, so it cannot start under ulimit -v)
    if [[ -z ${TGFIT_SANITIZED:-} ]]; then
        (ulimit -v 2000000; refused 2 "--batch 100000000: a minibatch needs" "${base[@]}" --degree 3 --batch 100000000)
    else
        echo "skipped under the sanitizers: --batch under ulimit -v"
    fi
    run_one 2 "${base[@]}" --degree 100001
    ;;
outputs_replaced_whole)
    "$gen" csv poly 300 "$tmp/p.csv"
    run=(--data "$tmp/p.csv" --x x --y y --degree 3 --steps 5 -q)
    # a full device: written in place, fails with one line, and the device stays (the
    # machine's /dev/full may have been replaced by another program's failed save: then skip)
    if [[ -c /dev/full ]]; then
        refused 1 "cannot write /dev/full: No space left" "${run[@]}" --out /dev/full
        refused 1 "cannot write /dev/full" "${run[@]}" --plot /dev/full
        [[ -c /dev/full ]] || die "/dev/full is gone"
    else
        echo "WARNING: /dev/full is not a character device here; its part is skipped"
    fi
    "$tgfit" "${run[@]}" --out /dev/null --plot /dev/null || die "writing /dev/null failed"
    [[ -c /dev/null ]] || die "/dev/null is gone"
    # a write cut short by ulimit -f: the old file survives whole, no temporary is left
    mkdir "$tmp/dir"
    echo old-json >"$tmp/dir/fit.json"
    echo old-svg >"$tmp/dir/fit.svg"
    chmod 640 "$tmp/dir/fit.json"
    (ulimit -f 1; refused 1 "fit.json: File too large" "${run[@]}" --out "$tmp/dir/fit.json")
    (ulimit -f 8; refused 1 "fit.svg: File too large" "${run[@]}" --plot "$tmp/dir/fit.svg")
    [[ $(cat "$tmp/dir/fit.json") == old-json && $(cat "$tmp/dir/fit.svg") == old-svg ]] || die "an old file changed"
    [[ $(ls -A "$tmp/dir" | wc -l) == 2 ]] || die "temporaries left: $(ls -A "$tmp/dir")"
    # a complete write replaces the file and keeps its mode
    "$tgfit" "${run[@]}" --out "$tmp/dir/fit.json" --plot "$tmp/dir/fit.svg"
    json_ok "$tmp/dir/fit.json"
    xmllint --noout "$tmp/dir/fit.svg"
    [[ $(stat -c %a "$tmp/dir/fit.json") == 640 ]] || die "the mode changed to $(stat -c %a "$tmp/dir/fit.json")"
    [[ $(ls -A "$tmp/dir" | wc -l) == 2 ]] || die "temporaries left: $(ls -A "$tmp/dir")"
    # SIGKILL at 12 moments of a run that writes a 1 MB plot: the plot is always the old file
    # or a complete new one (a killed run may leave its temporary: nothing can remove it)
    "$gen" npy poly 100000 "$tmp/big.npy"
    for i in $(seq 12); do
        "$tgfit" --data "$tmp/big.npy" --x 0 --y 1 --degree 3 --steps 2 -q --plot "$tmp/dir/fit.svg" \
            --out "$tmp/dir/fit.json" &
        pid=$!
        sleep "0.$((RANDOM % 40))"
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        [[ $(cat "$tmp/dir/fit.svg") == old-svg ]] || xmllint --noout "$tmp/dir/fit.svg" \
            || die "after SIGKILL $i the plot is neither the old file nor valid XML"
        [[ $(cat "$tmp/dir/fit.json") == old-json ]] || json_ok "$tmp/dir/fit.json"
        rm -f "$tmp"/dir/.fit.*.tgfit-*
    done
    echo "12 SIGKILLs: the outputs were always whole"
    # a symbolic link: the file it names is replaced, the link stays
    ln -s fit.json "$tmp/dir/link.json"
    "$tgfit" "${run[@]}" --steps 6 --out "$tmp/dir/link.json"
    [[ -L $tmp/dir/link.json && $("$check" get "$tmp/dir/fit.json" steps_done) == 6 ]] || die "symlink target not replaced"
    # the input named as an output (directly, by a link, by a hard link): refused, input intact
    sum=$(md5sum <"$tmp/p.csv")
    ln -s "$tmp/p.csv" "$tmp/sym.csv"
    ln "$tmp/p.csv" "$tmp/hard.csv"
    for o in "$tmp/p.csv" "$tmp/sym.csv" "$tmp/hard.csv"; do
        refused 2 "names the input file" "${run[@]}" --out "$o"
        refused 2 "names the input file" "${run[@]}" --plot "$o"
    done
    [[ $(md5sum <"$tmp/p.csv") == "$sum" ]] || die "the input changed"
    # checked before the fit: no progress line, no time spent (a fit of 10^9 steps would not end)
    big=(--data "$tmp/p.csv" --x x --y y --degree 3 --steps 1000000000)
    refused 2 "--out '': an empty file name" "${big[@]}" --out ""
    refused 2 "--plot '': an empty file name" "${big[@]}" --plot ""
    refused 2 "is a directory" "${big[@]}" --out "$tmp/dir"
    refused 2 "no such file or directory" "${big[@]}" --plot "$tmp/missing/fit.svg"
    refused 2 "--out and --plot both name" "${big[@]}" --out "$tmp/x" --plot "$tmp/x"
    refused 2 "--batch 2147483648: must be between" "${big[@]}" --batch 2147483648
    refused 2 "--optimizer lstsq takes no minibatches" "${big[@]}" --optimizer lstsq --batch 10
    ;;
plot_ticks_are_round)
    # every axis: tick labels at multiples of one step 1, 2, 2.5 or 5 x 10^k, 3 to 9 of them; the
    # log axis: 10^k at evenly spaced integer k; a legend in each panel; axis labels
    "$gen" csv poly 3000 "$tmp/poly.csv"
    "$gen" csv sin 2000 "$tmp/sin.csv"
    awk -F, 'NR == 1 { print "t,v"; next } { printf "%.17g,%.17g\n", 1e6 + ($1 + 2) / 5, 1e-7 * $2 }' \
        "$tmp/poly.csv" >"$tmp/offset.csv"
    awk -F, 'NR == 1 { print "t,v"; next } { printf "%.17g,%.17g\n", 1e-6 * $1, 3e8 + 1e9 * $2 }' \
        "$tmp/poly.csv" >"$tmp/scaled.csv"
    awk -F, 'NR == 1 { print "t,v"; next } { printf "%.17g,%.17g\n", 1e-6 * $1, 3e17 + 1e18 * $2 }' \
        "$tmp/poly.csv" >"$tmp/huge.csv"
    "$tgfit" --data "$tmp/poly.csv" --x x --y y --degree 4 --optimizer lbfgs --steps 20 -q --plot "$tmp/a.svg"
    "$tgfit" --data "$tmp/sin.csv" --x x --y y --model p3 --optimizer sgd --lr 0.01 --steps 500 -q --plot "$tmp/b.svg"
    "$tgfit" --data "$tmp/offset.csv" --x t --y v --degree 3 --steps 300 -q --plot "$tmp/c.svg"
    "$tgfit" --data "$tmp/scaled.csv" --x t --y v --degree 2 --steps 1 -q --plot "$tmp/d.svg"
    "$tgfit" --data "$tmp/poly.csv" --x x --y y --degree 3 --optimizer lstsq -q --plot "$tmp/e.svg"
    "$tgfit" --data "$tmp/huge.csv" --x t --y v --degree 2 --steps 3 -q --plot "$tmp/f.svg"
    for svg in "$tmp"/[a-f].svg; do
        xmllint --noout "$svg" || die "$svg is not XML"
        for axis in xticks-data yticks-data xticks-residuals yticks-residuals xticks-loss; do
            xmllint --xpath "//*[@id='$axis']/*/text()" "$svg" | "$py" -c '
import math, sys
labels = sys.stdin.read().split()
v = [float(s) for s in labels]
if not 3 <= len(v) <= 9: sys.exit("%s: %d ticks: %s" % (sys.argv[1], len(v), labels))
steps = [b - a for a, b in zip(v, v[1:])]
step = steps[0]
mant = step / 10 ** math.floor(math.log10(step))
if min(abs(mant - m) for m in (1, 2, 2.5, 5, 10)) > 1e-9: sys.exit("%s: step %r is not 1, 2, 2.5 or 5 x 10^k" % (sys.argv[1], step))
for x in v:
    k = x / step
    if abs(k - round(k)) > 1e-6 * max(1, abs(k)): sys.exit("%s: %r is not a multiple of %r" % (sys.argv[1], x, step))
if max(abs(s - step) for s in steps) > 1e-6 * step: sys.exit("%s: uneven ticks %s" % (sys.argv[1], labels))
print("%s: %s" % (sys.argv[1], " ".join(labels)))
' "$(basename "$svg") $axis" || die "$(basename "$svg") $axis"
        done
        log=$(xmllint --xpath "//*[@id='yticks-loss']/*" "$svg" | sed 's/<[^>]*>/ /g' | tr -s ' \n' ' ')
        echo "$(basename "$svg") yticks-loss (log): $log"
        [[ $(xmllint --xpath "string(//*[@id='yticks-loss']/@class)" "$svg") == log ]] || die "loss axis not log"
        xmllint --xpath "//*[@id='yticks-loss']/*" "$svg" | "$py" -c '
import re, sys
ks = [int(k) for k in re.findall(r">10<tspan[^>]*>(-?\d+)</tspan>", sys.stdin.read())]
if len(ks) < 2 and not (len(ks) == 1): sys.exit("log ticks: %s" % ks)
d = [b - a for a, b in zip(ks, ks[1:])]
if d and (min(d) <= 0 or max(d) != min(d)): sys.exit("log ticks not evenly spaced decades: %s" % ks)
' || die "$(basename "$svg") log axis"
        [[ $(xmllint --xpath "count(//*[@class='legend'])" "$svg") == 3 ]] || die "$svg: not 3 legends"
        grep -q '>step</text>' "$svg" && grep -q '>loss (MSE)</text>' "$svg" || die "$svg: axis labels missing"
        ! grep -Eq '1e-?[0-9]+\.[0-9]' "$svg" || die "$svg has a fractional exponent label"
    done
    ;;
plot_renders_in_chromium)
    # the SVG as a browser draws it: headless Chromium renders a PNG that is mostly white with
    # a few per cent of drawn pixels.  Skipped (77) without chromium.
    chromium=$(command -v chromium || command -v chromium-browser || true)
    [[ -n $chromium ]] || { echo "SKIP: no chromium"; exit 77; }
    "$gen" csv poly 2000 "$tmp/p.csv"
    "$tgfit" --data "$tmp/p.csv" --x x --y y --degree 4 --optimizer lbfgs --steps 20 -q --plot "$tmp/fit.svg"
    timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run \
        --disable-component-update --disable-sync --user-data-dir="$tmp/profile" --screenshot="$tmp/fit.png" \
        --window-size=1000,1000 "file://$tmp/fit.svg" >"$tmp/chromium.log" 2>&1 || { cat "$tmp/chromium.log"; die "chromium failed"; }
    "$py" - "$tmp/fit.png" <<'PY' || die "the rendering looks wrong"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n"
pos, idat, w = 8, b"", 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, color = struct.unpack(">IIBB", body[:10])
        assert depth == 8 and color in (2, 6), (depth, color)
        bpp = 3 if color == 2 else 4
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
raw, stride, prev, rows = zlib.decompress(idat), w * bpp, bytearray(w * bpp), []
for y in range(h):
    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b, c = prev[i], prev[i - bpp] if i >= bpp else 0
        p = a + b - c
        pred = [0, a, b, (a + b) // 2, a if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - c) else b if abs(p - b) <= abs(p - c) else c][f]
        line[i] = (line[i] + pred) & 255
    rows.append(line)
    prev = line
ink = sum(1 for line in rows for i in range(0, stride, bpp) if min(line[i:i + 3]) < 200)
frac = ink / (w * h)
print("%dx%d, %.1f%% drawn pixels" % (w, h, 100 * frac))
sys.exit(0 if 0.01 < frac < 0.5 else 1)
PY
    ;;
mpi_signals)
    # under mpirun: a SIGINT reaching one rank stops every rank at the same step (else their
    # collectives would hang: the ctest timeout catches it) and rank 0 writes the best fit; Ctrl-C
    # on mpirun (it sends SIGTERM to the ranks, SIGKILL a second later) writes it too
    [[ -n $mpiexec ]] || die "no mpiexec"
    "$gen" csv poly 100000 "$tmp/p.csv"
    for target in rank0 rank1 mpirun; do
        rm -f "$tmp/fit.json"
        "$mpiexec" --allow-run-as-root --oversubscribe -np 2 "$tgfit" --data "$tmp/p.csv" --x x --y y \
            --degree 6 --steps 100000000 --out "$tmp/fit.json" >"$tmp/out" 2>"$tmp/err" &
        mp=$!
        # the ranks are mpirun's children, started in rank order; wait until both catch SIGINT
        # and SIGTERM (bits 1 and 14 of SigCgt), then a little for training to start
        ranks=()
        for _ in $(seq 300); do
            ranks=($(ps -o pid= --ppid "$mp" --sort=start_time,pid || true))
            ready=0
            for r in "${ranks[@]}"; do
                if tgfit_catches "$r"; then ready=$((ready + 1)); fi
            done
            if ((${#ranks[@]} == 2 && ready == 2)); then break; fi
            sleep 0.2
        done
        ((${#ranks[@]} == 2 && ready == 2)) || die "found ${#ranks[@]} ranks under mpirun, $ready with handlers"
        sleep 1
        case $target in
        rank0) kill -INT "${ranks[0]}" ;;
        rank1) kill -INT "${ranks[1]}" ;;
        mpirun) kill -INT "$mp" ;;
        esac
        rc=0; wait "$mp" || rc=$?
        ((rc != 0)) || { cat "$tmp/err"; die "$target: mpirun exited $rc"; }
        [[ -s $tmp/fit.json ]] || { cat "$tmp/err"; die "$target: no JSON written"; }
        [[ $("$check" get "$tmp/fit.json" interrupted) == true ]] || die "$target: JSON not marked interrupted"
        steps=$("$check" get "$tmp/fit.json" steps_done)
        ((steps > 0)) || die "$target: steps_done $steps"
        [[ $("$check" get "$tmp/fit.json" ranks) == 2 ]] || die "$target: not 2 ranks"
        n=$(grep -c 'interrupted (.*) after step' "$tmp/err") || true
        ((n == 1)) || { cat "$tmp/err"; die "$target: $n interruption messages (want rank 0's only)"; }
        echo "$target: exit $rc, $(grep 'interrupted (' "$tmp/err")"
    done
    ;;
signal_during_lstsq)
    # --optimizer lstsq used to ignore SIGINT and exit 0; now the run is marked interrupted
    # (exit 130): the streaming QR stops between blocks and the starting point is written
    # (after the QR, its solution).  The signal is sent as soon as the handlers are installed
    # (SigCgt), during reading or least squares.
    "$gen" npy poly 400000 "$tmp/p.npy"
    for sig in INT TERM; do
        rm -f "$tmp/fit.json"
        "$tgfit" --data "$tmp/p.npy" --x 0 --y 1 --degree 60 --optimizer lstsq --out "$tmp/fit.json" \
            >"$tmp/out" 2>"$tmp/err" &
        pid=$!
        for _ in $(seq 500); do
            if tgfit_catches "$pid"; then break; fi
            sleep 0.01
        done
        kill -"$sig" "$pid"
        rc=0; wait "$pid" || rc=$?
        ((rc == 130)) || { cat "$tmp/err"; die "SIG$sig during lstsq: exit $rc, want 130"; }
        grep -q "interrupted (SIG$sig)" "$tmp/err" || die "no interruption message"
        [[ $("$check" get "$tmp/fit.json" interrupted) == true ]] || die "JSON not marked interrupted"
        json_ok "$tmp/fit.json"
        echo "SIG$sig during lstsq: exit 130, $(cat "$tmp/err")"
    done
    ;;
man_page)
    man=$src/build-man-missing
    [[ -n ${TGFIT_MAN:-} ]] && man=$TGFIT_MAN
    [[ -s $man ]] || die "no man page at $man"
    grep -q '^\.TH TGFIT "1"' "$man" || die "$man has no .TH TGFIT 1"
    grep -q "$("$tgfit" --version | awk '{ print $3 }')" "$man" || die "$man does not carry the version"
    for opt in $("$tgfit" --help | grep -o -- '--[a-z-]*' | sort -u); do
        esc=$(printf '%s' "$opt" | sed 's/-/\\-/g')
        grep -qF -- "$esc" "$man" || die "$man does not document $opt"
    done
    ! command -v man >/dev/null || man -l "$man" >/dev/null 2>&1 || die "man cannot format $man"
    echo "$man documents every option of tgfit --help"
    ;;
*)
    die "unknown case $case_name"
    ;;
esac
echo "PASS: $case_name"
