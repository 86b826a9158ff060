#!/usr/bin/env bash
# Network benchmark (BENCHMARKS.md, "Issue 22: extraction through the agents over HTTPS"; docs/network.md).
#
#   scripts/bench_network.sh [PATIENTS] [SITES] [REPEAT] [WORKDIR]
#
# SITES synthetic hospitals of PATIENTS patients each (default 10 x 100,000; `synth --seed 1 --load`),
# registered with one data center whose project BENCH every site approved the example active-comparator
# script for. `center serve` on loopback, and one `site agent` per site running all along (one kept-alive
# HTTPS connection each, long polling), each given its share of the machine (`--share SITES`: the sites
# simulated here share one machine, where local mode runs two at a time with one core each). Then,
# REPEAT times, alternating which goes first:
#   local   `midnet extract` (in process: every site's part run by the center's process, --jobs 2)
#   agents  `midnet extract --agents --wait`: issues the signed requests (each wakes its agent's long
#           poll at once) and waits, woken by the serve's record of each site's progress, until every
#           agent uploaded and the union is made
# each timed from its start to its end, wall clock. Prints one line per run and the ratio of the medians.
# The machine is shared and noisy: read the ratio, not single runs. The network is kept in WORKDIR.
set -euo pipefail
PATIENTS=${1:-100000}
SITES=${2:-10}
REPEAT=${3:-3}
WORK=${4:-$HOME/.cache/midnet-bench/network}
cd "$(dirname "$0")/.."
. scripts/bench-common.sh
NET="$WORK/net-$SITES-$PATIENTS"

machine
if [ ! -f "$NET/ready" ]; then
    rm -rf "$NET"
    mkdir -p "$NET"
    /usr/bin/time -f "  synth and load: %e s" \
        "$MIDNET" synth --quiet --site-count "$SITES" --patients "$PATIENTS" --seed 1 --dir "$NET" --load
    touch "$NET/ready"
fi

export MIDNET_HOME="$WORK/center" HOME="$WORK/center-os"
rm -rf "$MIDNET_HOME" "$HOME"
mkdir -p "$HOME"
echo "$PASSWORD" | "$MIDNET" center init --user rev --name "Bench Reviewer" --simulated-clock "$TODAY" >/dev/null
echo "$PASSWORD" | "$MIDNET" login --user rev >/dev/null
"$MIDNET" center sites add "$NET/sites.toml" >/dev/null
"$MIDNET" project create BENCH --title "Network benchmark" --question "How long do the agents take?" \
    --purpose research --organization bench --contractor rev --start "$TODAY" --end "$(date -d "$TODAY + 11 months" +%F)" \
    --extraction-from 2016-04-01 --extraction-to "$CUTOFF" >/dev/null
"$MIDNET" project grant BENCH rev analyst >/dev/null
sites=$(find "$NET" -maxdepth 1 -type d -name 'site*' | sort)

PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true' EXIT
rm -f "$WORK/serve.out" # a run before left its address there
"$MIDNET" center serve --bind 127.0.0.1:0 > "$WORK/serve.out" 2> "$WORK/serve.err" &
PIDS+=($!)
until [ -s "$WORK/serve.out" ]; do sleep 0.2; done
read -r _ URL _ FINGERPRINT < "$WORK/serve.out"
echo "center: $URL"
for site in $sites; do
    "$MIDNET" site trust-center --site "$site" --key "$MIDNET_HOME/keys/center.pub" \
        --certificate-sha256 "$FINGERPRINT" >/dev/null
    "$MIDNET" site approve --site "$site" --project BENCH --by "Bench site reviewer" "$SCRIPT" >/dev/null
    "$MIDNET" site agent --site "$site" --center "$URL" --poll-seconds 30 --share "$SITES" \
        > /dev/null 2> "$site.agent.err" &
    PIDS+=($!)
done

# Seconds since the epoch, to the millisecond.
now() { date +%s.%N; }

load() { echo "load $(cut -d' ' -f1-3 /proc/loadavg)"; }

local_run() {
    local t0 t1
    t0=$(now)
    "$MIDNET" extract --quiet --project BENCH "$SCRIPT" --cutoff $CUTOFF --jobs 2 --json > "$WORK/local.json"
    t1=$(now)
    echo "local  $(echo "$t1 - $t0" | bc) $(load)"
}

agents_run() {
    local t0 t1
    t0=$(now)
    "$MIDNET" extract --quiet --project BENCH "$SCRIPT" --cutoff $CUTOFF --agents --wait --json > "$WORK/agents.json"
    t1=$(now)
    echo "agents $(echo "$t1 - $t0" | bc) $(load)"
}

: > "$WORK/runs"
for r in $(seq "$REPEAT"); do
    if [ $((r % 2)) -eq 1 ]; then
        local_run | tee -a "$WORK/runs"
        agents_run | tee -a "$WORK/runs"
    else
        agents_run | tee -a "$WORK/runs"
        local_run | tee -a "$WORK/runs"
    fi
done
python3 - "$WORK/runs" "$WORK/local.json" "$WORK/agents.json" <<'EOF'
import json, statistics, sys
runs = [line.split()[:2] for line in open(sys.argv[1])]
local = statistics.median(float(s) for k, s in runs if k == "local")
agents = statistics.median(float(s) for k, s in runs if k == "agents")
rows = lambda path: [(d["name"], d["rows"]) for d in json.load(open(path))["datasets"]]
assert rows(sys.argv[2]) == rows(sys.argv[3]), "the agents' rows differ from local mode's"
print(f"median local {local:.2f} s, agents {agents:.2f} s, agents / local {agents / local:.3f} (same rows: {rows(sys.argv[2])})")
EOF
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
