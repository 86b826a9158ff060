#!/usr/bin/env python3
"""Reference values for `midnet signal ssa`, computed independently of midnet's Rust code.

For fixed-seed synthetic cohorts it writes each input (person,first_a_date,first_b_date) to
testdata/reference-extra/ssa/<case>.csv and the expected results to
testdata/reference-extra/ssa_reference.csv.

Independence: midnet computes the null-effect probability with prefix sums over days; here it is a
brute-force count over every (A starter, B starter) pair of persons, P_A = #{0 < b - a <= d} /
#{0 < |b - a| <= d}, which is the same quantity as Tsiropoulos et al. (2009)'s
sum_t a_t B(t+1..t+d) / sum_t a_t [B(t-d..t-1) + B(t+1..t+d)]. Exact intervals come from
scipy.stats.binomtest(...).proportion_ci(method="exact") (Clopper-Pearson).

Run:  PY=$(scripts/python-env.sh) && "$PY" scripts/reference_ssa.py
"""
import csv
import datetime as dt
import pathlib
import platform

import numpy as np
import scipy
from scipy.stats import binomtest

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "testdata" / "reference-extra"
EPOCH = dt.date(2015, 1, 1)


def cohort_trend(rng):
    """3,000 persons; use of A grows over five years; a fifth of A users start B within 90 days."""
    rows = []
    for person in range(3000):
        a = int(1825 * np.sqrt(rng.uniform())) if rng.uniform() < 0.8 else None
        b = None
        if a is not None and rng.uniform() < 0.2:
            b = a + int(rng.integers(1, 91))
        elif rng.uniform() < 0.5:
            b = int(rng.integers(0, 1826))
        rows.append((f"P{person:05d}", a, b))
    return rows


def cohort_small(rng):
    """60 persons with same-day starts, missing dates and long gaps."""
    rows = []
    for person in range(60):
        a = int(rng.integers(0, 1000)) if rng.uniform() < 0.9 else None
        b = int(rng.integers(0, 1000)) if rng.uniform() < 0.8 else None
        if a is not None and b is not None and person % 11 == 0:
            b = a
        rows.append((f"S{person:03d}", a, b))
    return rows


def day_text(day):
    return "" if day is None else (EPOCH + dt.timedelta(days=int(day))).isoformat()


def ssa(rows, window, level):
    a = np.array([r[1] for r in rows if r[1] is not None], dtype=np.int64)
    b = np.array([r[2] for r in rows if r[2] is not None], dtype=np.int64)
    both = [(r[1], r[2]) for r in rows if r[1] is not None and r[2] is not None]
    gaps = np.array([y - x for x, y in both], dtype=np.int64)
    a_then_b = int(np.sum((gaps > 0) & (gaps <= window)))
    b_then_a = int(np.sum((gaps < 0) & (gaps >= -window)))
    same_day = int(np.sum(gaps == 0))
    outside = int(np.sum(np.abs(gaps) > window))
    diff = b[None, :] - a[:, None]
    after = np.sum((diff > 0) & (diff <= window))
    around = np.sum((diff != 0) & (np.abs(diff) <= window))
    p_a = after / around
    nsr = p_a / (1 - p_a)
    n = a_then_b + b_then_a
    ci = binomtest(a_then_b, n).proportion_ci(confidence_level=level, method="exact")
    odds = lambda p: p / (1 - p)
    crude = a_then_b / b_then_a
    return {
        "a_then_b": a_then_b,
        "b_then_a": b_then_a,
        "same_day": same_day,
        "outside_window": outside,
        "crude": crude,
        "crude_lo": odds(ci.low),
        "crude_hi": odds(ci.high),
        "p_a_first": p_a,
        "null_effect": nsr,
        "adjusted": crude / nsr,
        "adjusted_lo": odds(ci.low) / nsr,
        "adjusted_hi": odds(ci.high) / nsr,
    }


def main():
    rng = np.random.default_rng(20240607)
    cases = {"trend": cohort_trend(rng), "small": cohort_small(rng)}
    runs = [("trend", 365, 0.95), ("trend", 90, 0.95), ("trend", 30, 0.9), ("small", 180, 0.95), ("small", 730, 0.95)]
    (OUT / "ssa").mkdir(parents=True, exist_ok=True)
    for name, rows in cases.items():
        with open(OUT / "ssa" / f"{name}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["person", "first_a_date", "first_b_date"])
            for person, a, b in rows:
                w.writerow([person, day_text(a), day_text(b)])
    source = f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__} (scripts/reference_ssa.py)"
    with open(OUT / "ssa_reference.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["case_id", "input", "window_days", "level", "output", "value", "source", "tolerance"])
        for name, window, level in runs:
            result = ssa(cases[name], window, level)
            for output, value in result.items():
                tolerance = "exact" if isinstance(value, int) else "rel 1e-9"
                w.writerow([f"{name}_w{window}", f"ssa/{name}.csv", window, level, output, repr(float(value)) if tolerance != "exact" else value, source, tolerance])
    print(f"wrote {OUT / 'ssa_reference.csv'}")


if __name__ == "__main__":
    main()
