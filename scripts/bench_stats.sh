#!/usr/bin/env bash
# Benchmark of the statistics core (issue 6; figures in BENCHMARKS.md, "Statistics core I"):
# Cox on 1,000,000 rows against lifelines, Kaplan-Meier and incidence on 10,000,000 rows against
# DuckDB's own read of the same columns. Data are generated with a fixed seed into BENCH_DIR.
#
#   scripts/bench_stats.sh            (REPEAT=3 runs each, BENCH_DIR=$HOME/.cache/midnet-bench)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(scripts/python-env.sh)
# DuckDB's Python package times the read-only baseline.
"$PY" -c "import duckdb" 2>/dev/null || "$PY" -m pip install --quiet duckdb >&2
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/midnet-target}"
cargo build --release --quiet
exec "$PY" scripts/bench_stats.py "$CARGO_TARGET_DIR/release/midnet" "${BENCH_DIR:-$HOME/.cache/midnet-bench}"
