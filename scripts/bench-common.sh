# Sourced by the extraction benchmarks (bench_extract.sh, bench_network.sh, bench_spark.sh), from the
# repository's root: the binary they run, the example script and its cut-off, the reviewer's password
# and the simulated day of their data centers, and the machine line every result starts with.

# MIDNET=path/to/midnet uses that binary instead of building one.
if [ -z "${MIDNET:-}" ]; then
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/midnet-target}"
    cargo build --release --quiet
    MIDNET="$CARGO_TARGET_DIR/release/midnet"
fi
SCRIPT=$PWD/testdata/scripts/active_comparator.midnet
CUTOFF=2025-09-30
PASSWORD=bench-correct-horse-1
# A home on a simulated clock, as for every test and script: the run does not depend on the day.
TODAY=2026-06-02

# The machine a result was measured on, and how busy it was.
machine() {
    echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GB; load $(cut -d' ' -f1-3 /proc/loadavg)"
}
