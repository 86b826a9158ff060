#!/usr/bin/env bash
# Benchmark of issue 3: the compiled SQL of the active-comparator example
# (testdata/scripts/active_comparator.midnet, output `cohort`) against the hand-written DuckDB
# query for the same cohort (benches/active_comparator.sql), on a 1,000,000-patient synthetic site.
#
#   cargo build --release && scripts/bench-script.sh [PATIENTS] [RUNS]
#
# Both queries run in one process, on the same DuckDB version as midnet's (the Python package of
# the venv from scripts/python-env.sh), alternately, RUNS times each; the driver checks that they
# return the same rows and prints the best and median times and their ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
PATIENTS="${1:-1000000}"
RUNS="${2:-5}"
MIDNET="${MIDNET:-${CARGO_TARGET_DIR:-target}/release/midnet}"
DATA="${MIDNET_BENCH_DIR:-$HOME/.cache/midnet-bench}/script-site-$PATIENTS"
PY=$(scripts/python-env.sh)

if [ ! -f "$DATA/.complete" ]; then
    rm -rf "$DATA"
    echo "synthesising one site of $PATIENTS patients into $DATA (once)…" >&2
    "$MIDNET" synth --quiet --site-count 1 --patients "$PATIENTS" --seed 3 --load --dir "$DATA" >&2
    touch "$DATA/.complete"
fi
SITE_DB=$(find "$DATA" -name site.duckdb | head -n 1)

COMPILED=$(mktemp --suffix=.sql)
trap 'rm -f "$COMPILED"' EXIT
"$MIDNET" script sql testdata/scripts/active_comparator.midnet --param cutoff=2025-09-30 --output cohort > "$COMPILED"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
"$PY" scripts/bench_script.py "$SITE_DB" "$COMPILED" benches/active_comparator.sql "$RUNS"
