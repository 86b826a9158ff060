#!/bin/sh
# The claims import against `site load` of the same rows (BENCHMARKS.md, issue 21).
#
#   scripts/bench_receipt.sh MIDNET PATIENTS WORKDIR [ROUNDS] [DATA_START]
#
# Synthesises one claims site of PATIENTS patients with its CSV files and its monthly RECEIPTC.UKE
# files (care from DATA_START, 2024-09-30 unless given, to 2025-09-30: a year, the shortest period
# synth takes), then, ROUNDS times (2 unless given), alternating: loads the CSV files' rows the
# claims carry into one fresh site and imports the claims files into another (each with the site's
# masters first), under /usr/bin/time for the wall time and the peak resident memory; then imports
# the files again with nothing changed. Prints one line per step, and what each command's rows became, per table.
#
# The rows the claims carry, as the import makes them: every patient, the CLAIMS observation periods,
# stays, diagnoses and procedures, and the outpatient drug orders the hospital billed (the EHR's, which the claims
# files' IY records are written from; loaded here as CLAIMS rows). The import makes one diagnosis
# row of the SY repeated on each month's receipt, and an outpatient injection an administration.
set -eu
midnet=$1
patients=$2
work=$3
rounds=${4:-2}
data_start=${5:-2024-09-30}
# Seed 21's first site bills claims (a site has claims at random: 70 %).
seed=21
# A site synthesised by an earlier run in WORKDIR is kept and used again; only the sites measured
# are made afresh.
mkdir -p "$work"
cd "$work"
site=net/site01
if [ ! -d claims ]; then
    rm -rf net claims.partial
    "$midnet" synth --site-count 1 --patients "$patients" --seed "$seed" --dir net --format csv,receipt \
        --dirty 0 --data-start "$data_start" --data-end 2025-09-30 --quiet > /dev/null
    if [ ! -d "$site/receipt" ]; then
        echo "$site has no claims files: choose another seed" >&2
        exit 1
    fi
    mkdir claims.partial
    cp "$site/import/patient.csv" claims.partial/
    for table in encounter diagnosis procedure; do
        { head -1 "$site/import/$table.csv"; grep ',CLAIMS$' "$site/import/$table.csv" || true; } \
            > "claims.partial/$table.csv"
    done
    # The source is observation_period's second column, not its last.
    { head -1 "$site/import/observation_period.csv"; grep '^[^,]*,CLAIMS,' "$site/import/observation_period.csv" || true; } \
        > claims.partial/observation_period.csv
    { head -1 "$site/import/drug_order.csv"; grep ',outpatient,EHR$' "$site/import/drug_order.csv" | sed 's/,EHR$/,CLAIMS/' || true; } \
        > claims.partial/drug_order.csv
    mv claims.partial claims
fi
files=$(find "$site/receipt" -name RECEIPTC.UKE | sort)
file_count=$(echo "$files" | wc -l)
# shellcheck disable=SC2086 # the paths have no blanks
uke_bytes=$(cat $files | wc -c)
# shellcheck disable=SC2086
records=$(cat $files | tr -cd '\n' | wc -c)
# shellcheck disable=SC2086
receipts=$(cat $files | grep -c '^RE,')
csv_bytes=$(cat claims/*.csv | wc -c)
csv_rows=$(cat claims/*.csv | wc -l)
echo "patients $patients, care from $data_start to 2025-09-30: $file_count claims files, $uke_bytes bytes, $records records, $receipts receipts; CSV $csv_bytes bytes, $csv_rows lines"
# Run a command with --json under /usr/bin/time: its report in NAME.json; prints the wall time and
# the peak resident memory.
measure() {
    name=$1
    shift
    /usr/bin/time -f '%e %M' -o time.txt "$@" --json > "$name.json"
    cat time.txt
}
# Rows loaded, quarantined and waiting per table, of a report of `site load` (files) or of `site
# import receipt` (tables).
rows() {
    jq -c '[(.files // []) + (.tables // []) | .[] | select(.table != null)] | group_by(.table)
        | map({(.[0].table): [(map(.rows_loaded) | add), (map(.rows_quarantined) | add), (map(.rows_waiting) | add)]})
        | add' "$1.json"
}
fresh() {
    rm -rf "$1"
    "$midnet" site init --site "$1" > /dev/null 2>&1
    "$midnet" site masters import --site "$1" "$site"/masters/* > /dev/null
}
round=1
while [ "$round" -le "$rounds" ]; do
    fresh loaded
    fresh imported
    set -- $(measure load "$midnet" site load --site loaded claims)
    echo "round $round: site load:            $1 s, peak $2 KB, $(echo "$csv_rows / $1" | bc) rows/s, $(echo "scale=1; $csv_bytes / 1048576 / $1" | bc) MB/s"
    # shellcheck disable=SC2086
    set -- $(measure import "$midnet" site import receipt --site imported $files)
    echo "round $round: site import receipt: $1 s, peak $2 KB, $(echo "$records / $1" | bc) records/s, $(echo "$receipts / $1" | bc) receipts/s, $(echo "scale=1; $uke_bytes / 1048576 / $1" | bc) MB/s"
    round=$((round + 1))
done
# shellcheck disable=SC2086
set -- $(measure again "$midnet" site import receipt --site imported $files)
echo "second import (nothing changed): $1 s, peak $2 KB"
echo "site load, rows loaded, quarantined, waiting: $(rows load)"
echo "site import receipt, the same: $(rows import); totals mismatches $(jq '.totals_mismatches | length' import.json), records not taken $(jq .records_not_taken import.json)"
