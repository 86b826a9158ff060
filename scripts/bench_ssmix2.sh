#!/bin/sh
# The SS-MIX2 import against `site load` of the same rows (BENCHMARKS.md, issue 20).
#
#   scripts/bench_ssmix2.sh MIDNET PATIENTS WORKDIR
#
# Synthesises one site of PATIENTS patients with its CSV files and its SS-MIX2 tree, then, in the
# same run, loads the CSV files' EHR rows of the six tables the tree carries into one fresh site and
# imports the tree into another (each with the site's masters first), under /usr/bin/time for the
# wall time and the peak resident memory. Prints one line per step.
set -eu
midnet=$1
patients=$2
work=$3
# A tree synthesised by an earlier run in WORKDIR is kept and used again (the synthesis takes minutes
# at 20,000 patients); only the sites measured are made afresh.
mkdir -p "$work"
cd "$work"
site=net/site01
if [ ! -d ehr ]; then
    rm -rf net ehr.partial
    "$midnet" synth --site-count 1 --patients "$patients" --seed 20 --dir net --format csv,ss-mix2 --dirty 0 --quiet
    mkdir ehr.partial
    for table in patient encounter diagnosis drug_order drug_administration lab_result; do
        if [ "$table" = patient ]; then
            cp "$site/import/$table.csv" ehr.partial/
        else
            { head -1 "$site/import/$table.csv"; grep ',EHR$' "$site/import/$table.csv" || true; } > "ehr.partial/$table.csv"
        fi
    done
    mv ehr.partial ehr
fi
rm -rf loaded imported
files=$(find "$site/ss-mix2" -type f | wc -l)
tree_bytes=$(find "$site/ss-mix2" -type f -printf "%s\n" | awk "{s += \$1} END {print s}")
csv_bytes=$(cat ehr/*.csv | wc -c)
for target in loaded imported; do
    "$midnet" site init --site "$target" > /dev/null
    "$midnet" site masters import --site "$target" "$site"/masters/* > /dev/null
done
measure() {
    /usr/bin/time -f '%e %M' -o time.txt "$@" > /dev/null
    cat time.txt
}
set -- $(measure "$midnet" site load --site loaded ehr)
load_s=$1 load_kb=$2
set -- $(measure "$midnet" site import ss-mix2 --site imported "$site/ss-mix2")
import_s=$1 import_kb=$2
echo "patients $patients: tree $files files, $tree_bytes bytes; EHR CSV $csv_bytes bytes"
echo "site load:          $load_s s, peak $load_kb KB"
echo "site import ss-mix2: $import_s s, peak $import_kb KB, $(echo "$files / $import_s" | bc) messages/s, $(echo "scale=1; $tree_bytes / 1048576 / $import_s" | bc) MB/s"
set -- $(measure "$midnet" site import ss-mix2 --site imported "$site/ss-mix2")
echo "second import (nothing changed): $1 s, peak $2 KB"
