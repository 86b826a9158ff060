"""Site load vs DuckDB's own read_csv, side by side on the same files (BENCHMARKS.md, "Site load").

For each site directory of a synthesised network: the baseline creates a fresh DuckDB database and
runs CREATE TABLE <t> AS SELECT * FROM read_csv(<file>) for each of its CSV files (DuckDB 1.5.6, the
engine midnet bundles; a file plain read_csv cannot load is timed as loaded with store_rejects); midnet runs `site init` (not timed) and `site load` (timed, the whole command:
validation, conversion, quarantine, bookkeeping, commit). Runs alternate, best of --repeat each.

    PY=$(scripts/python-env.sh)
    $PY scripts/bench_load.py --midnet target/release/midnet --network /tmp/net --repeat 3
"""
import argparse
import glob
import os
import shutil
import subprocess
import tempfile
import time

import duckdb


def baseline(site_dir, scratch):
    db = os.path.join(scratch, "baseline.duckdb")
    if os.path.exists(db):
        os.remove(db)
    start = time.perf_counter()
    con = duckdb.connect(db)
    failed = 0.0
    for path in sorted(glob.glob(os.path.join(site_dir, "import", "*.csv"))):
        table = os.path.basename(path).split(".")[0]
        attempt = time.perf_counter()
        try:
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_csv('{path}')")
        except duckdb.ConversionException:
            # The sniffer typed a column from a sample and a later row does not fit (a lab value
            # `ERR` in a column of numbers): plain read_csv cannot load the file at all. Time the
            # load a user would run next, with the bad rows set aside, and not the failed attempt.
            failed += time.perf_counter() - attempt
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_csv('{path}', store_rejects = true)")
    con.execute("CHECKPOINT")
    con.close()
    return time.perf_counter() - start - failed


def midnet_load(midnet, site_dir, scratch):
    site = os.path.join(scratch, "site")
    shutil.rmtree(site, ignore_errors=True)
    subprocess.run([midnet, "site", "init", "--site", site], check=True, capture_output=True)
    start = time.perf_counter()
    subprocess.run([midnet, "site", "load", "--quiet", "--site", site, os.path.join(site_dir, "import")],
                   check=True, capture_output=True)
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--midnet", required=True)
    ap.add_argument("--network", required=True)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    sites = sorted(d for d in glob.glob(os.path.join(args.network, "site*")) if os.path.isdir(d))
    total_base = total_mid = 0.0
    print(f"duckdb {duckdb.__version__}; {len(sites)} sites; best of {args.repeat}")
    for site_dir in sites:
        with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(args.network))) as scratch:
            # Alternate the two so that a burst of load on a shared machine hits both alike.
            pairs = [(baseline(site_dir, scratch), midnet_load(args.midnet, site_dir, scratch)) for _ in range(args.repeat)]
            base = min(b for b, _ in pairs)
            mid = min(m for _, m in pairs)
        rows = sum(sum(1 for _ in open(f)) - 1 for f in glob.glob(os.path.join(site_dir, "import", "*.csv")))
        print(f"{os.path.basename(site_dir)}: {rows} rows  read_csv {base:.2f} s  midnet load {mid:.2f} s  ratio {mid / base:.2f}")
        total_base += base
        total_mid += mid
    print(f"total: read_csv {total_base:.2f} s  midnet load {total_mid:.2f} s  ratio {total_mid / total_base:.2f}")


if __name__ == "__main__":
    main()
