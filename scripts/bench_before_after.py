#!/usr/bin/env python3
"""Two midnet binaries side by side on the analysis commands, alternating run by run, so that a
change of structure (moved modules, a new adapter) shows any slowdown as a ratio on the same noisy
machine at the same moments. Standard library only: the data are CSV, made with a fixed seed.

    python3 scripts/bench_before_after.py OLD_MIDNET NEW_MIDNET [--rows N] [--repeat R] [--dir DIR]

Prints the median wall time of each command for each binary and the ratio new/old.
"""

import argparse
import csv
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path


def cohort(path: Path, rows: int) -> None:
    """One row per patient: group, sex, follow-up days, an event flag, person-years, covariates."""
    rng = random.Random(20261205)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["group", "sex", "time", "event", "person_years", "x1", "x2", "x3"])
        for _ in range(rows):
            group = rng.choice(["drug", "comparator"])
            x1, x2, x3 = rng.gauss(0, 1), int(rng.random() < 0.4), rng.randint(20, 90)
            hazard = 0.001 * (1.3 if group == "drug" else 1.0) * (1.6 ** x1)
            event_day = rng.expovariate(hazard)
            censor_day = rng.uniform(30, 730)
            time_days = max(1, int(min(event_day, censor_day)))
            w.writerow([group, rng.choice("MF"), time_days, int(event_day <= censor_day),
                        f"{time_days / 365.25:.6f}", f"{x1:.6f}", x2, x3])


COMMANDS = {
    "stats cox": ["stats", "cox", "--time", "time", "--event", "event", "--covariates", "x1,x2,x3"],
    "stats km": ["stats", "km", "--time", "time", "--event", "event", "--group", "group", "--at", "30,90,365"],
    "stats incidence": ["stats", "incidence", "--events", "event", "--time", "person_years", "--group-by", "group"],
}


def run(midnet: str, args: list, out: Path) -> float:
    started = time.perf_counter()
    subprocess.run([midnet, *args, "--out", str(out), "--quiet"], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--dir", type=Path, default=Path.home() / ".cache" / "midnet-bench")
    a = p.parse_args()
    a.dir.mkdir(parents=True, exist_ok=True)
    data = a.dir / f"cohort_{a.rows}.csv"
    if not data.exists():
        cohort(data, a.rows)
    print(f"{a.rows:,} rows, {a.repeat} runs each, alternating old/new; median wall seconds")
    for name, args in COMMANDS.items():
        times = {"old": [], "new": []}
        for i in range(a.repeat):
            order = ["old", "new"] if i % 2 == 0 else ["new", "old"]
            for which in order:
                out = a.dir / f"{which}-{name.replace(' ', '-')}.csv"
                times[which].append(run(getattr(a, which), [*args, "--input", str(data)], out))
        old, new = statistics.median(times["old"]), statistics.median(times["new"])
        print(f"{name:16} old {old:.3f}  new {new:.3f}  new/old {new / old:.3f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
