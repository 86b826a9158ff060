"""The bare site queries of an extraction (scripts/bench_extract.sh): the compiled query run at each
site of a network one after another, its result materialised as Arrow, with DuckDB's default
threads. Prints the total wall time."""
import argparse
import pathlib
import time

import duckdb

parser = argparse.ArgumentParser()
parser.add_argument("--network", required=True, type=pathlib.Path)
parser.add_argument("--sql", required=True, type=pathlib.Path)
args = parser.parse_args()
sql = args.sql.read_text()
sites = sorted(p for p in args.network.iterdir() if (p / "site.duckdb").is_file())
rows = 0
start = time.perf_counter()
for site in sites:
    con = duckdb.connect(str(site / "site.duckdb"), read_only=True)
    rows += con.sql(sql).to_arrow_table().num_rows
    con.close()
elapsed = time.perf_counter() - start
print(f"bare:    {elapsed:.2f} s ({len(sites)} sites, {rows} rows, duckdb {duckdb.__version__})")
