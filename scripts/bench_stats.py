#!/usr/bin/env python3
"""Benchmark of the statistics core (issue 6), run by scripts/bench_stats.sh.

1. Cox (Efron ties, 3 covariates) on 1,000,000 rows: `midnet stats cox` against lifelines'
   CoxPHFitter on the same Parquet file, side by side; the coefficients must agree to 1e-6.
2. Kaplan-Meier and incidence on 10,000,000 rows: `midnet stats km` and `midnet stats incidence`
   against the time DuckDB alone takes to read the same columns into Arrow.

Data are generated with a fixed seed into BENCH_DIR (reused when present). Times are wall-clock
medians of REPEAT runs (default 3), each of a fresh process for midnet.

    scripts/bench_stats.py MIDNET_BINARY BENCH_DIR
"""

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPEAT = int(os.environ.get("REPEAT", "3"))
SEED = 20261124


def cox_data(path: Path, n=1_000_000):
    if path.exists():
        return
    rng = np.random.default_rng(SEED)
    x1 = rng.normal(size=n)
    x2 = (rng.random(n) < 0.4).astype(float)
    x3 = rng.uniform(20, 90, size=n).round()
    lin = 0.5 * x1 - 0.3 * x2 + 0.02 * (x3 - 55)
    t_event = rng.exponential(2000.0 / np.exp(lin))
    t_cens = rng.uniform(30, 730, size=n)
    time_days = np.ceil(np.minimum(t_event, t_cens))
    event = (t_event <= t_cens).astype(np.int64)
    pd.DataFrame({"time": time_days, "event": event, "x1": x1, "x2": x2, "x3": x3}).to_parquet(path, index=False)


def survival_data(path: Path, n=10_000_000):
    if path.exists():
        return
    rng = np.random.default_rng(SEED + 1)
    group = np.where(rng.random(n) < 0.5, "drug", "comparator")
    t_event = rng.exponential(np.where(group == "drug", 1500.0, 2000.0))
    t_cens = rng.uniform(30, 730, size=n)
    time_days = np.ceil(np.minimum(t_event, t_cens))
    event = (t_event <= t_cens).astype(np.int64)
    pd.DataFrame(
        {"time": time_days, "event": event, "group": group, "person_years": time_days / 365.25}
    ).to_parquet(path, index=False)


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def own_cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_midnet(midnet, args):
    """Wall and CPU time of one run, its stdout and its read/compute note."""
    cpu = children_cpu()
    start = time.perf_counter()
    done = subprocess.run([midnet, *args], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    return wall, children_cpu() - cpu, done.stdout, done.stderr.strip()


def median_midnet(midnet, args):
    """Median wall time, median CPU time (user + system, all threads), the last stdout and note."""
    runs = [run_midnet(midnet, args) for _ in range(REPEAT)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs), runs[-1][2], runs[-1][3]


def bench_cox(midnet, path: Path):
    from lifelines import CoxPHFitter
    import lifelines

    args = ["stats", "cox", "--input", str(path), "--time", "time", "--event", "event", "--covariates", "x1,x2,x3", "--json"]
    m_wall, m_cpu, out, note = median_midnet(midnet, args)
    ours = {c["name"]: c["coef"] for c in json.loads(out)["covariates"]}

    reads, fits, cpus, theirs = [], [], [], None
    for _ in range(REPEAT):
        start = time.perf_counter()
        df = pd.read_parquet(path)
        read = time.perf_counter() - start
        cpu = own_cpu()
        start = time.perf_counter()
        cph = CoxPHFitter().fit(df, "time", "event")  # Efron ties, lifelines' default and only method
        fits.append(time.perf_counter() - start)
        cpus.append(own_cpu() - cpu)
        reads.append(read)
        theirs = cph.params_
    l_fit, l_cpu, l_read = statistics.median(fits), statistics.median(cpus), statistics.median(reads)
    worst = max(abs(ours[k] - theirs[k]) for k in ours)
    print(f"## Cox, Efron ties, 3 covariates, {len(df):,} rows ({int(df.event.sum()):,} events, {df.time.nunique()} distinct times)")
    print(f"midnet stats cox (whole command, read included): wall {m_wall:.3f} s, CPU {m_cpu:.3f} s   [{note}]")
    print(f"lifelines {lifelines.__version__} CoxPHFitter.fit: wall {l_fit:.3f} s, CPU {l_cpu:.3f} s (+ {l_read:.3f} s pandas.read_parquet)")
    print(f"ratio lifelines fit / midnet whole command: wall {l_fit / m_wall:.1f}x, CPU {l_cpu / m_cpu:.1f}x; with lifelines' read: wall {(l_fit + l_read) / m_wall:.1f}x")
    print("coefficients (midnet | lifelines):")
    for k in ours:
        print(f"  {k}: {ours[k]:.10f} | {theirs[k]:.10f}")
    print(f"largest coefficient difference: {worst:.2e} ({'within' if worst <= 1e-6 else 'OUTSIDE'} 1e-6)")
    print()


def bench_survival(midnet, path: Path):
    import duckdb

    con = duckdb.connect()

    def duck_read(columns):
        cols = ", ".join(f'"{c}"' for c in columns)
        walls, cpus = [], []
        for _ in range(REPEAT):
            cpu = own_cpu()
            start = time.perf_counter()
            con.execute(f"SELECT {cols} FROM read_parquet(?)", [str(path)]).to_arrow_table()
            walls.append(time.perf_counter() - start)
            cpus.append(own_cpu() - cpu)
        return statistics.median(walls), statistics.median(cpus)

    n = con.execute("SELECT count(*) FROM read_parquet(?)", [str(path)]).fetchone()[0]
    print(f"## Kaplan-Meier and incidence, {n:,} rows, 2 groups (DuckDB {duckdb.__version__} for the read-only baseline)")
    km_read, km_read_cpu = duck_read(["time", "event", "group"])
    km_wall, km_cpu, _, km_note = median_midnet(
        midnet, ["stats", "km", "--input", str(path), "--time", "time", "--event", "event", "--group", "group", "--at", "30,90,365", "--json"]
    )
    print(f"DuckDB alone, read time,event,group into Arrow: wall {km_read:.3f} s, CPU {km_read_cpu:.3f} s")
    print(f"midnet stats km --group --at (whole command): wall {km_wall:.3f} s = {km_wall / km_read:.2f}x the read, CPU {km_cpu:.3f} s   [{km_note}]")
    inc_read, inc_read_cpu = duck_read(["event", "person_years", "group"])
    inc_wall, inc_cpu, _, inc_note = median_midnet(
        midnet, ["stats", "incidence", "--input", str(path), "--events", "event", "--time", "person_years", "--group-by", "group", "--json"]
    )
    print(f"DuckDB alone, read event,person_years,group into Arrow: wall {inc_read:.3f} s, CPU {inc_read_cpu:.3f} s")
    print(f"midnet stats incidence --group-by (whole command): wall {inc_wall:.3f} s = {inc_wall / inc_read:.2f}x the read, CPU {inc_cpu:.3f} s   [{inc_note}]")
    print()


def main():
    midnet, bench_dir = sys.argv[1], Path(sys.argv[2])
    bench_dir.mkdir(parents=True, exist_ok=True)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    load = open("/proc/loadavg").read().split()[0]
    print(f"machine: {os.cpu_count()} cores, {cpu}; load average {load} at start; median of {REPEAT} runs each")
    print()
    cox_path, km_path = bench_dir / "cox_1m.parquet", bench_dir / "survival_10m.parquet"
    cox_data(cox_path)
    survival_data(km_path)
    bench_cox(midnet, cox_path)
    bench_survival(midnet, km_path)


if __name__ == "__main__":
    main()
