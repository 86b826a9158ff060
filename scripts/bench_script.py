"""Time the compiled SQL of a script against a hand-written query on one site database.

    python scripts/bench_script.py SITE.duckdb COMPILED.sql HAND.sql RUNS

Runs the two queries alternately RUNS times each (after one warm-up run of each), checks that
they return the same rows (as sorted lists), and prints best and median seconds and the ratio
compiled / hand-written.
"""
import statistics
import sys
import time

import duckdb


def run(con, sql):
    start = time.perf_counter()
    rows = con.execute(sql).fetchall()
    return time.perf_counter() - start, rows


def main():
    site, compiled_path, hand_path, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    compiled = open(compiled_path).read().strip().rstrip(";")
    hand = open(hand_path).read().strip().rstrip(";")
    con = duckdb.connect(site, read_only=True)
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    print(f"duckdb {duckdb.__version__}, {threads} threads")
    patients = con.execute("SELECT count(*) FROM patient").fetchone()[0]
    _, a = run(con, compiled)
    _, b = run(con, hand)
    key = lambda r: tuple((x is None, x) for x in r)
    if sorted(a, key=key) != sorted(b, key=key):
        diff = set(map(tuple, a)) ^ set(map(tuple, b))
        sys.exit(f"the two queries disagree: {len(a)} vs {len(b)} rows; {len(diff)} differing, e.g. {sorted(diff, key=key)[:3]}")
    times = {"compiled": [], "hand": []}
    for _ in range(runs):
        times["compiled"].append(run(con, compiled)[0])
        times["hand"].append(run(con, hand)[0])
    best = {k: min(v) for k, v in times.items()}
    median = {k: statistics.median(v) for k, v in times.items()}
    print(f"site: {patients} patients; cohort: {len(a)} rows, identical from both queries")
    print(f"compiled script SQL: best {best['compiled']:.3f} s, median {median['compiled']:.3f} s")
    print(f"hand-written SQL:    best {best['hand']:.3f} s, median {median['hand']:.3f} s")
    print(f"ratio compiled / hand-written: best {best['compiled'] / best['hand']:.2f}, median {median['compiled'] / median['hand']:.2f}")


if __name__ == "__main__":
    main()
