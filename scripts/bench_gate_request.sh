#!/usr/bin/env bash
# Export request on the demo's project (BENCHMARKS.md, "Export gate by content").
#
#   [PATIENTS=N] scripts/bench_gate_request.sh MIDNET_BINARY WORKDIR [REPEAT]
#
# Runs `midnet demo` (PATIENTS per site, default the demo's 4000) with MIDNET_BINARY into WORKDIR/run,
# logs in as the demo's analyst, and times
# REPEAT times (default 5) `midnet export request` of the protocol's tables of analysis 1 with its
# program, as the demo files them: every check of the gate, the work log, the copies into review/.
# Give the binary of one commit, then of another, to compare them on the same data (the demo's seed).
set -euo pipefail
MIDNET=$(realpath "$1")
WORK=$2
REPEAT=${3:-5}
rm -rf "$WORK"
mkdir -p "$WORK/os-home"
"$MIDNET" demo --dir "$WORK/run" --patients "${PATIENTS:-4000}" --quiet > "$WORK/demo.log"
export MIDNET_HOME="$WORK/run/center" HOME="$WORK/os-home"
echo demo-correct-horse-2 | "$MIDNET" login --user analyst > /dev/null
PROJECT=P-DEMO-001
cd "$MIDNET_HOME/areas/$PROJECT/work"
mapfile -t TABLES < <(ls protocol/analysis-1/*.csv)
echo "machine: $(nproc) cores; $MIDNET; tables: ${TABLES[*]}"
echo "datasets: $(cd "$MIDNET_HOME/areas/$PROJECT/datasets" && ls ./*.parquet | xargs -n1 basename | tr '\n' ' ')"
"$MIDNET" work sql --project "$PROJECT" \
    "SELECT table_name, estimated_size AS rows FROM duckdb_tables() WHERE table_name LIKE '%@%' ORDER BY 1"
TIMEFORMAT='%R s'
for _ in $(seq "$REPEAT"); do
    time "$MIDNET" export request --project "$PROJECT" "${TABLES[@]}" --program protocol/protocol.midnet \
        --note "benchmark" --exception 'small_cell:*:*:benchmark' --json > /dev/null
done
