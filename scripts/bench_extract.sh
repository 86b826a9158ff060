#!/usr/bin/env bash
# Extraction benchmark (BENCHMARKS.md, "Extraction").
#
#   scripts/bench_extract.sh [SITES] [PATIENTS_PER_SITE] [WORKDIR] [REPEAT]
#
# A network of SITES synthetic hospitals (loaded), a data center with a project, and the example
# active-comparator script approved at every site. Then, alternating, REPEAT times each:
#   bare:    the compiled queries of the script run at each site one after another, results
#            materialised (DuckDB 1.5.6 from the venv: the engine midnet bundles; scripts/bench_extract.py);
#   extract: `midnet extract` of the same script at every site (compile, site runs with --jobs,
#            Parquet + manifest, transfer, verification, union), its union time from its report.
# The network is kept in WORKDIR/net between runs (remove WORKDIR to rebuild it).
set -euo pipefail
SITES=${1:-10}
PATIENTS=${2:-100000}
WORK=${3:-$HOME/.cache/midnet-bench/extract-$SITES-$PATIENTS}
REPEAT=${4:-3}
cd "$(dirname "$0")/.."
. scripts/bench-common.sh
PY=$(scripts/python-env.sh)

machine
mkdir -p "$WORK"
if [ ! -f "$WORK/net/sites.toml" ]; then
    rm -rf "$WORK/net"
    "$MIDNET" synth --quiet --site-count "$SITES" --patients "$PATIENTS" --seed 1 --dir "$WORK/net" --load
fi
export MIDNET_HOME="$WORK/center" HOME="$WORK/os-home"
rm -rf "$MIDNET_HOME" "$HOME"
mkdir -p "$HOME"
echo "$PASSWORD" | "$MIDNET" center init --user rev --name "Bench Reviewer" --simulated-clock "$TODAY"
echo "$PASSWORD" | "$MIDNET" login --user rev >/dev/null
"$MIDNET" center sites add "$WORK/net/sites.toml"
END=$(date -d "$TODAY + 11 months" +%F)
"$MIDNET" project create BENCH --title "Extraction benchmark" --question "How long does an extraction take?" \
    --purpose research --organization bench --contractor rev --start "$TODAY" --end "$END" \
    --extraction-from 2016-04-01 --extraction-to 2025-09-30
"$MIDNET" project grant BENCH rev analyst
for site in "$WORK"/net/site*/; do
    "$MIDNET" site approve --site "$site" --project BENCH --by "Bench site reviewer" "$SCRIPT" >/dev/null
done
"$MIDNET" script sql "$SCRIPT" --param cutoff=$CUTOFF --output cohort > "$WORK/queries.sql"

for i in $(seq "$REPEAT"); do
    "$PY" scripts/bench_extract.py --network "$WORK/net" --sql "$WORK/queries.sql"
    "$MIDNET" extract --quiet --project BENCH "$SCRIPT" --cutoff $CUTOFF --jobs "${JOBS:-2}" --json > "$WORK/report.json"
    "$PY" -c "import json,sys; r=json.load(open(sys.argv[1])); print(f'extract: {r[\"seconds\"]:.2f} s (union {r[\"union_seconds\"]:.2f} s, {r[\"datasets\"][0][\"rows\"]} rows)')" "$WORK/report.json"
done
