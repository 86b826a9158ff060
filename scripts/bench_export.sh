#!/usr/bin/env bash
# Export gate benchmark (BENCHMARKS.md, "Export gate").
#
#   scripts/bench_export.sh [WORKDIR]
#
# For crosstabs of ROWS x COLS counts with a total column and a total row (a third of the cells
# below 10, seed 1), times `midnet export check` on the raw table and `midnet export fix`
# (primary + complementary suppression), and counts the cells fix masked.
set -euo pipefail
WORK=${1:-$(mktemp -d /tmp/midnet-bench-export-XXXX)}
mkdir -p "$WORK"
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/midnet-target}"
cargo build --release --quiet
MIDNET="$CARGO_TARGET_DIR/release/midnet"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
for size in 50x6 300x6 1000x10; do
    rows=${size%x*}
    cols=${size#*x}
    table="$WORK/crosstab_$size.csv"
    python3 - "$rows" "$cols" "$table" <<'PY'
import random, sys
rows, cols, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
random.seed(1)
cells = [[random.randint(1, 9) if random.random() < 1 / 3 else random.randint(10, 300) for _ in range(cols)] for _ in range(rows)]
with open(path, "w") as f:
    f.write("group," + ",".join(f"c{j}" for j in range(cols)) + ",total\n")
    for i, r in enumerate(cells):
        f.write(f"g{i}," + ",".join(map(str, r)) + f",{sum(r)}\n")
    col_sums = [sum(r[j] for r in cells) for j in range(cols)]
    f.write("Total," + ",".join(map(str, col_sums)) + f",{sum(col_sums)}\n")
PY
    start=$(date +%s.%N)
    "$MIDNET" export check --quiet "$table" --json > "$WORK/check_$size.json" || true
    mid=$(date +%s.%N)
    "$MIDNET" export fix --quiet "$table" --out "$WORK/fixed_$size.csv" --json > "$WORK/fix_$size.json"
    end=$(date +%s.%N)
    python3 - "$WORK/check_$size.json" "$WORK/fix_$size.json" "$size" "$start" "$mid" "$end" <<'PY'
import json, sys
check, fix = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
size, start, mid, end = sys.argv[3], *map(float, sys.argv[4:])
findings = sum(len(f["findings"]) for f in check["files"])
actions = [c["action"] for c in fix["changes"]]
print(f"{size}: check {mid - start:.2f} s ({findings} findings); fix {end - mid:.2f} s: "
      f"{actions.count('suppressed')} primary, {actions.count('suppressed_complementary')} complementary; "
      f"result {fix['check']['verdict']}")
PY
done
echo "work directory: $WORK (remove it when done)"
