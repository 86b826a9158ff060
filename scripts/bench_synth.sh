#!/usr/bin/env bash
# Synthesis and site-load benchmark (BENCHMARKS.md, "Synthesis" and "Site load").
#
#   scripts/bench_synth.sh [SITES] [PATIENTS_PER_SITE] [WORKDIR]
#
# 1. `midnet synth` of SITES x PATIENTS_PER_SITE patients: wall time and peak memory (/usr/bin/time).
# 2. `midnet site load` of every site vs DuckDB's own read_csv of the same files, side by side
#    (scripts/bench_load.py, DuckDB 1.5.6 from the venv: the engine midnet bundles).
set -euo pipefail
SITES=${1:-10}
PATIENTS=${2:-100000}
WORK=${3:-$(mktemp -d /tmp/midnet-bench-XXXX)}
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/midnet-target}"
cargo build --release --quiet
MIDNET="$CARGO_TARGET_DIR/release/midnet"
PY=$(scripts/python-env.sh)

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
rm -rf "$WORK/net"
/usr/bin/time -f "synth: %e s wall, %M KB peak RSS" \
    "$MIDNET" synth --quiet --site-count "$SITES" --patients "$PATIENTS" --seed 1 --dir "$WORK/net"
echo "rows: $(cat "$WORK"/net/site*/import/*.csv | wc -l) lines (incl. headers), $(du -sh "$WORK/net" | cut -f1) on disk"
"$PY" scripts/bench_load.py --midnet "$MIDNET" --network "$WORK/net" --repeat "${REPEAT:-1}"
echo "work directory: $WORK (remove it when done)"
