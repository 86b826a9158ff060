#!/usr/bin/env bash
# Compiling a script to SQL, two builds of midnet side by side: `midnet script sql` of the
# active-comparator example (every output and the attrition query), run alternately RUNS times by
# each binary after one warm-up run of each. Checks that both print the same SQL, byte for byte,
# and prints the best and median wall-clock times and their ratio (B / A).
#
#   scripts/bench_compile.sh A_MIDNET B_MIDNET [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
A="$1"
B="$2"
RUNS="${3:-40}"
SCRIPT=testdata/scripts/active_comparator.midnet
compile() { "$1" script sql "$SCRIPT" --param cutoff=2025-09-30; }

if ! cmp -s <(compile "$A") <(compile "$B"); then
    echo "the two binaries compile the script to different SQL" >&2
    exit 1
fi
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "SQL: $(compile "$A" | wc -c) bytes, identical from both binaries"

micros() {
    local start end
    start=$(date +%s%N)
    compile "$1" > /dev/null
    end=$(date +%s%N)
    echo $(((end - start) / 1000))
}
ms() { printf '%d.%03d ms' $(($1 / 1000)) $(($1 % 1000)); }
a_times=()
b_times=()
for _ in $(seq "$RUNS"); do
    a_times+=("$(micros "$A")")
    b_times+=("$(micros "$B")")
done
stats() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {printf "%d %d\n", v[1], v[int((NR + 1) / 2)]}'; }
read -r a_best a_median < <(stats "${a_times[@]}")
read -r b_best b_median < <(stats "${b_times[@]}")
echo "A ($A): best $(ms "$a_best"), median $(ms "$a_median")"
echo "B ($B): best $(ms "$b_best"), median $(ms "$b_median")"
awk -v ab="$a_best" -v bb="$b_best" -v am="$a_median" -v bm="$b_median" \
    'BEGIN {printf "ratio B / A: best %.3f, median %.3f\n", bb / ab, bm / am}'
