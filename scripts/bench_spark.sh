#!/usr/bin/env bash
# Spark benchmark (BENCHMARKS.md, "Issue 23: a site on Spark"; docs/spark.md).
#
#   scripts/bench_spark.sh [SIZES] [WORKDIR] [REPEAT]
#
# For each size of SIZES (patients; default "100000 1000000"): one synthetic hospital, loaded twice
# from the same files, once into a DuckDB site and once into a Spark site (`site init --engine spark`,
# on the Spark Connect server of scripts/spark.sh: `local[2]`, a driver of MIDNET_SPARK_MEMORY, 6g
# here), each registered with a data center of its own with a project whose site approved the
# example active-comparator script. Then REPEAT rounds, each running every size in turn, and at each
# size `midnet extract` of that script at the DuckDB site, then at the Spark site (the whole site
# run: approval, the cohort and attrition queries, person ids, Parquet, the signed answer, transfer,
# union): sizes and engines alternate, so a busy spell of a shared machine falls on all of them.
# Prints one line per run with the site's own seconds (the report's `sites[0].seconds`), the
# extraction's, and the load average when it ended.
#
# Spark's growth with patients is read from the Spark lines of three sizes, e.g.
#   scripts/bench_spark.sh "10000 100000 1000000"
# The machine is taken for long (synthesis and loads of 1,000,000 patients, Spark on both cores).
# Each size's network is kept in WORKDIR/N between runs.
set -euo pipefail
SIZES=${1:-100000 1000000}
WORK=${2:-$HOME/.cache/midnet-bench/spark}
REPEAT=${3:-3}
cd "$(dirname "$0")/.."
. scripts/bench-common.sh
# MIDNET_SPARK_CONNECT=sc://… uses a server that is already running (and leaves it running).
if [ -n "${MIDNET_SPARK_CONNECT:-}" ]; then
    URL=$MIDNET_SPARK_CONNECT
else
    # A 1,000,000-patient cohort needs more than the tests' 2 GB driver (BENCHMARKS.md, issue 23).
    URL=$(MIDNET_SPARK_MEMORY=${MIDNET_SPARK_MEMORY:-6g} MIDNET_SPARK_STATE="$WORK/spark-server" scripts/spark.sh)
    trap 'MIDNET_SPARK_STATE="$WORK/spark-server" scripts/spark.sh stop' EXIT
fi
REAL_HOME=$HOME

machine
echo "spark: $URL"

# A data center in $1 registering the one site of the registry $2, with project BENCH approved there.
center() {
    local home=$1 registry=$2 site=$3
    export MIDNET_HOME="$home" HOME="$home-os"
    rm -rf "$MIDNET_HOME" "$HOME"
    mkdir -p "$HOME"
    echo "$PASSWORD" | "$MIDNET" center init --user rev --name "Bench Reviewer" --simulated-clock "$TODAY" >/dev/null
    echo "$PASSWORD" | "$MIDNET" login --user rev >/dev/null
    "$MIDNET" center sites add "$registry" >/dev/null
    "$MIDNET" site trust-center --site "$site" --key "$MIDNET_HOME/keys/center.pub" >/dev/null
    "$MIDNET" project create BENCH --title "Spark benchmark" --question "How long does the cohort take?" \
        --purpose research --organization bench --contractor rev --start "$TODAY" --end "$(date -d "$TODAY + 11 months" +%F)" \
        --extraction-from 2016-04-01 --extraction-to "$CUTOFF" >/dev/null
    "$MIDNET" project grant BENCH rev analyst >/dev/null
    "$MIDNET" site approve --site "$site" --project BENCH --by "Bench site reviewer" "$SCRIPT" >/dev/null
}

extract() {
    local engine=$1 size=$2
    export MIDNET_HOME="$WORK/$size/center-$engine" HOME="$WORK/$size/center-$engine-os"
    "$MIDNET" extract --quiet --project BENCH "$SCRIPT" --cutoff $CUTOFF --jobs 1 --json > "$WORK/$size/report-$engine.json"
    python3 -c "import json,sys; r=json.load(open(sys.argv[1])); s=r['sites'][0]; print(f'{sys.argv[2]:>8} {sys.argv[3]:<6} site {s[\"seconds\"]:8.2f} s  extract {r[\"seconds\"]:8.2f} s  ({r[\"datasets\"][0][\"rows\"]} cohort rows)  load {sys.argv[4]}')" \
        "$WORK/$size/report-$engine.json" "$size" "$engine" "$(cut -d' ' -f1-3 /proc/loadavg)"
}

for size in $SIZES; do
    dir="$WORK/$size"
    if [ ! -f "$dir/ready" ]; then
        rm -rf "$dir"
        mkdir -p "$dir"
        "$MIDNET" synth --quiet --site-count 1 --patients "$size" --seed 1 --dir "$dir/net"
        "$MIDNET" site init --site "$dir/net/site01" --quiet
        /usr/bin/time -f "  duckdb load: %e s" "$MIDNET" site load --site "$dir/net/site01" "$dir/net/site01/import" --quiet >/dev/null
        "$MIDNET" site init --site "$dir/net/spark01" --engine spark --connect "$URL" --warehouse "$dir/warehouse" --quiet
        /usr/bin/time -f "  spark load:  %e s" "$MIDNET" site load --site "$dir/net/spark01" "$dir/net/site01/import" --quiet >/dev/null
        sed -e 's/^path = "site01"/path = "spark01"/' -e 's#^key_file = "site01/#key_file = "spark01/#' \
            "$dir/net/sites.toml" > "$dir/net/sites-spark.toml"
        touch "$dir/ready"
    fi
    # The Spark server may be a new one since the site was made: point the site at it.
    sed -i "s#^connect = .*#connect = \"$URL\"#" "$dir/net/spark01/site.toml"
    center "$dir/center-duckdb" "$dir/net/sites.toml" "$dir/net/site01"
    center "$dir/center-spark" "$dir/net/sites-spark.toml" "$dir/net/spark01"
done
for _ in $(seq "$REPEAT"); do
    for size in $SIZES; do
        extract duckdb "$size"
        extract spark "$size"
    done
done
HOME=$REAL_HOME
