#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Ranks agree or stop (issue 18, item 5), on the points: two MPI ranks given
# files that differ in ONE point in the middle of the file, at a byte that the
# old sampled digest (64 blocks of 4 KB spread over the file) never read.
#
#   bash tests/fault/mpi_one_point.sh TGFIT GEN_POINTS MPIEXEC
#
# For a CSV (parsed whole by every rank) and a float64 .npy (mapped; rank 1
# reads only its own rows): `mpirun -np 1 tgfit A : -np 1 tgfit B` must print
# one `tgfit:` line naming the points, write no --out, and exit non-zero; rank 0
# alone (no mismatch possible) still fits.  The changed point lies in rank 1's
# rows: with 600000 points and blocks of 262144, rank 0 reads rows 1..262144
# and rank 1 the rest, so the fit really used the changed value.
set -uo pipefail
tgfit=$1 gen=$2 mpiexec=$3
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
die() { echo "mpi_one_point: FAILED: $*" >&2; exit 1; }

"$gen" csv poly 600000 "$tmp/a.csv" > /dev/null || die "gen_points csv"
"$gen" npy poly 600000 "$tmp/a.npy" > /dev/null || die "gen_points npy"

# b = a with one value changed in place (same size, same header), outside
# every block the old digest sampled; prints the changed row (1-based).
"$py" - "$tmp" <<'EOF' || die "making b"
import sys
tmp = sys.argv[1]
def sampled(size):
    step = (size - 4096) // 63 if size > 4096 else 0
    return [(step * i, step * i + 4096) for i in range(64)]
def outside(lo, hi, blocks):
    return all(hi <= b0 or lo >= b1 for b0, b1 in blocks)
# CSV: the last digit of y on a row from 300000 on whose whole line misses every block
data = bytearray(open(tmp + "/a.csv", "rb").read())
blocks = sampled(len(data))
starts = [0]
for i, c in enumerate(data):
    if c == 10:
        starts.append(i + 1)
row = 300000                      # data row (line 0 is the header)
while not outside(starts[row], starts[row + 1], blocks):
    row += 1
end = starts[row + 1] - 2         # the last digit before the newline
data[end] = ord('0') + (data[end] - ord('0') + 1) % 10
open(tmp + "/b.csv", "wb").write(data)
print("csv row", row)
# .npy: the lowest mantissa bit of y in a row from 300000 on, outside every block
data = bytearray(open(tmp + "/a.npy", "rb").read())
blocks = sampled(len(data))
head = 10 + data[8] + 256 * data[9]
row = 300000
while not outside(head + 16 * row, head + 16 * row + 16, blocks):
    row += 1
data[head + 16 * row + 8] ^= 1
open(tmp + "/b.npy", "wb").write(data)
print("npy row", row + 1)
EOF
cmp -s "$tmp/a.csv" "$tmp/b.csv" && die "b.csv is a.csv"
[[ $(stat -c %s "$tmp/a.csv") == $(stat -c %s "$tmp/b.csv") ]] || die "b.csv has another size"

mpi=("$mpiexec" --allow-run-as-root --oversubscribe)
for kind in csv npy; do
    if [[ $kind == csv ]]; then cols=(--x x --y y); else cols=(--x 0 --y 1); fi
    common=("${cols[@]}" --degree 4 --steps 3 --no-lstsq -q)
    rm -f "$tmp/out.json" "$tmp/rc0" "$tmp/rc1"
    # Each rank through a shell that records its own exit status (rc0, rc1).
    timeout -s KILL 120 "${mpi[@]}" \
        -np 1 bash -c '"$@"; echo $? > "$0"' "$tmp/rc0" "$tgfit" --data "$tmp/a.$kind" "${common[@]}" \
        --out "$tmp/out.json" \
        : -np 1 bash -c '"$@"; echo $? > "$0"' "$tmp/rc1" "$tgfit" --data "$tmp/b.$kind" "${common[@]}" \
        --out "$tmp/out.json" > "$tmp/stdout" 2> "$tmp/err"
    rc=$?
    ((rc != 137)) || die "$kind: killed after 120 s (a hang)"
    [[ -s "$tmp/rc0" && -s "$tmp/rc1" ]] || die "$kind: a rank did not finish (mpirun exit $rc): $(cat "$tmp/err")"
    for r in 0 1; do
        (($(cat "$tmp/rc$r") != 0)) || die "$kind: rank $r exit 0 (the ranks fitted different points silently)"
    done
    [[ $(grep -c '^tgfit: ' "$tmp/err") == 1 ]] || die "$kind: not one tgfit: line: $(cat "$tmp/err")"
    grep -q "^tgfit: MPI ranks disagree on the points of the data file" "$tmp/err" \
        || die "$kind: the line does not name the points: $(cat "$tmp/err")"
    [[ ! -e "$tmp/out.json" ]] || die "$kind: --out written"
    echo "mpi_one_point: $kind: ranks exit $(cat "$tmp/rc0") and $(cat "$tmp/rc1"), $(grep '^tgfit: ' "$tmp/err")"
    # Both ranks on one file still agree and fit.
    timeout -s KILL 120 "${mpi[@]}" -np 1 "$tgfit" --data "$tmp/a.$kind" "${common[@]}" --out "$tmp/out.json" \
        : -np 1 "$tgfit" --data "$tmp/a.$kind" "${common[@]}" --out "$tmp/out.json" > "$tmp/stdout" 2> "$tmp/err" \
        || die "$kind: two ranks on one file failed: $(cat "$tmp/err")"
    [[ -s "$tmp/out.json" ]] || die "$kind: two ranks on one file wrote no --out"
done
echo "mpi_one_point: passed"
