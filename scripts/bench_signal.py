#!/usr/bin/env python3
"""Benchmark `midnet signal score` against vigipy 3.5.1's GPS, side by side in one run.

    PY=$(scripts/python-env.sh)
    "$PY" scripts/bench_signal.py --midnet "$CARGO_TARGET_DIR/release/midnet" [--work DIR] [--skip-large]

1. Generates (fixed seed) a 2,000-drug x 500-event table of pair counts with about 220,000 non-zero
   pairs, and a table with about 1,000,000 non-zero pairs: expected counts from skewed drug and event
   margins, true relative rates from a two-gamma mixture, Poisson counts.
2. Fits the MGPS prior and scores every pair with both tools, on the same pairs with the same
   expected counts (margins are sums of n, vigipy's convention). vigipy runs with min_events=1 so
   that both score every pair; its default fit is Nelder-Mead on the whole-mixture likelihood
   truncated at N*=1, and midnet is timed both with that likelihood and with its default
   (per-component truncation, openEBGM's).
3. Reports in-process times (midnet's own timings from --json; vigipy timed around gps() in this
   process) and whole-process times (each tool started as a separate process; midnet writes its
   table to Parquet), the negative
   log-likelihoods reached, and for the 1M-pair table midnet's fit plus scores under
   /usr/bin/time -v with the peak memory.
"""
import argparse
import json
import os
import pathlib
import platform
import re
import subprocess
import sys
import time

import numpy as np
import pandas as pd

SEED = 20240611


def generate(path, drugs, events, nonzero_target, seed):
    """Pair counts drug,event,n of the non-zero cells of a drugs x events table."""
    rng = np.random.default_rng(seed)
    p = rng.lognormal(0.0, 1.5, drugs)
    q = rng.lognormal(0.0, 1.2, events)
    p /= p.sum()
    q /= q.sum()
    base = np.outer(p, q)
    signal = rng.uniform(size=base.shape) < 0.05
    lam = np.where(signal, rng.gamma(2.0, 1 / 0.5, base.shape), rng.gamma(5.0, 1 / 5.0, base.shape))
    # Total reports such that the expected share of non-zero cells meets the target.
    lo, hi = 1e3, 1e10
    for _ in range(60):
        total = np.sqrt(lo * hi)
        nonzero = np.sum(1.0 - np.exp(-lam * base * total))
        lo, hi = (total, hi) if nonzero < nonzero_target else (lo, total)
    n = rng.poisson(lam * base * total)
    d_idx, e_idx = np.nonzero(n)
    df = pd.DataFrame({
        "drug": np.char.add("D", np.char.zfill(d_idx.astype(str), 5)),
        "event": np.char.add("E", np.char.zfill(e_idx.astype(str), 4)),
        "n": n[d_idx, e_idx],
    })
    df.to_csv(path, index=False)
    return len(df)


def run(cmd, **kw):
    started = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)
    return out, time.perf_counter() - started


def midnet_score(midnet, table, extra, work):
    out = work / "midnet-scores.parquet"
    cmd = [midnet, "signal", "score", "--quiet", "--counts", str(table), "--json", "--out", str(out), *extra]
    out, wall = run(cmd)
    return json.loads(out.stdout), wall


VIGIPY_WHOLE = """
import sys, time, json
import pandas as pd
from vigipy import convert, gps
df = pd.read_csv(sys.argv[1])
container = convert(df, product_label="drug", ae_label="event", count_label="n")
prior = None if sys.argv[2] == "fit" else [float(v) for v in sys.argv[2].split(",")]
result = gps(container, min_events=int(sys.argv[3]), prior_param=prior)
print(json.dumps(list(map(float, result.params["prior_param"]))))
"""


def vigipy_in_process(table, prior):
    from vigipy import convert, gps
    from vigipy.GPS.GPS import truncated_likelihood

    df = pd.read_csv(table)
    container = convert(df, product_label="drug", ae_label="event", count_label="n")
    t0 = time.perf_counter()
    fitted = gps(container, min_events=1)
    t_fit_and_scores = time.perf_counter() - t0
    theta = np.asarray(fitted.params["prior_param"], dtype=float)
    t0 = time.perf_counter()
    gps(container, min_events=1, prior_param=list(prior))
    t_scores = time.perf_counter() - t0
    # vigipy's default scores only the pairs with n >= 3 (min_events=3)
    t0 = time.perf_counter()
    default = gps(container, prior_param=list(prior))
    t_scores_default = time.perf_counter() - t0
    return {
        "scores_default": t_scores_default,
        "pairs_default": len(default.all_signals) if hasattr(default, "all_signals") else None,
        "theta": theta.tolist(),
        "fit_and_scores": t_fit_and_scores,
        "scores": t_scores,
        "fit": t_fit_and_scores - t_scores,
        "pairs": len(container.data),
    }


def vigipy_whole_process(py, table, prior_arg, min_events=1):
    out, wall = run([py, "-c", VIGIPY_WHOLE, str(table), prior_arg, str(min_events)])
    return wall, json.loads(out.stdout.strip().splitlines()[-1])


def prior_arg(theta):
    return ",".join(repr(float(v)) for v in theta)


def timed_v(cmd):
    """Run under /usr/bin/time -v; return (elapsed s, CPU s (user + system), peak RSS MiB, stdout)."""
    out = subprocess.run(["/usr/bin/time", "-v", *cmd], check=True, capture_output=True, text=True)
    field = lambda pattern: re.search(pattern, out.stderr).group(1)
    rss = int(field(r"Maximum resident set size \(kbytes\): (\d+)")) / 1024
    cpu = float(field(r"User time \(seconds\): ([\d.]+)")) + float(field(r"System time \(seconds\): ([\d.]+)"))
    parts = [float(x) for x in field(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)").split(":")]
    seconds = sum(v * 60 ** i for i, v in enumerate(reversed(parts)))
    return seconds, cpu, rss, out.stdout


def load():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--midnet", required=True)
    ap.add_argument("--work", default="/tmp/midnet-bench-signal")
    ap.add_argument("--skip-large", action="store_true")
    args = ap.parse_args()
    work = pathlib.Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    import vigipy

    print(f"machine: nproc {os.cpu_count()}, {platform.processor() or ''}".strip())
    with open("/proc/cpuinfo") as f:
        model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")
    print(f"cpu: {model}; python {platform.python_version()}, numpy {np.__version__}, vigipy {vigipy.__version__}")

    table = work / "pairs_2000x500.csv"
    rows = generate(table, 2000, 500, 220_000, SEED)
    print(f"\ntable: {table} ({rows} non-zero pairs, seed {SEED}); load average {load()}")

    whole, wall_fit_whole = midnet_score(args.midnet, table, ["--truncation", "whole-mixture"], work)
    comp, wall_fit_comp = midnet_score(args.midnet, table, [], work)
    theta_m = [whole["mgps"]["prior"][k] for k in ("alpha1", "beta1", "alpha2", "beta2", "p")]
    fixed, wall_scores = midnet_score(args.midnet, table, ["--prior", prior_arg(theta_m)], work)
    fixed3, wall_scores3 = midnet_score(args.midnet, table, ["--prior", prior_arg(theta_m), "--min-count", "3"], work)

    v = vigipy_in_process(table, theta_m)
    v_wall_fit, v_theta = vigipy_whole_process(sys.executable, table, "fit")
    v_wall_scores, _ = vigipy_whole_process(sys.executable, table, prior_arg(theta_m))
    v_wall_scores3, _ = vigipy_whole_process(sys.executable, table, prior_arg(theta_m), 3)
    # vigipy's estimate under both likelihoods, as midnet evaluates them
    v_whole, _ = midnet_score(args.midnet, table, ["--prior", prior_arg(v["theta"]), "--truncation", "whole-mixture"], work)
    v_comp, _ = midnet_score(args.midnet, table, ["--prior", prior_arg(v["theta"])], work)

    t = lambda doc, k: doc["timings_s"][k]
    print("\n| | midnet | vigipy 3.5.1 | ratio |")
    print("|---|---|---|---|")
    m_fit = t(whole, "fit")
    print(f"| fit, whole-mixture likelihood (vigipy's), in-process | {m_fit:.3f} s | {v['fit']:.2f} s | {v['fit'] / m_fit:.0f}x |")
    print(f"| fit, per-component likelihood (openEBGM's), in-process | {t(comp, 'fit'):.3f} s | | |")
    print(f"| negLL reached, whole-mixture | {whole['mgps']['neg_log_likelihood']:.4f} | {v_whole['mgps']['neg_log_likelihood']:.4f} | |")
    print(f"| negLL reached, per-component | {comp['mgps']['neg_log_likelihood']:.4f} | {v_comp['mgps']['neg_log_likelihood']:.4f} | |")
    m_sc, m_sc3 = t(fixed, "eb_scores"), t(fixed3, "eb_scores")
    print(f"| EB scores at a fixed prior, every pair, in-process | {m_sc:.3f} s | {v['scores']:.3f} s (min_events=1) | {v['scores'] / m_sc:.1f}x |")
    print(f"| EB scores at a fixed prior, pairs with n >= 3 (vigipy's default), in-process | {m_sc3:.3f} s (--min-count 3) | {v['scores_default']:.3f} s (min_events=3) | {v['scores_default'] / m_sc3:.1f}x |")
    print(f"| whole process, fit + all scores | {wall_fit_whole:.2f} s | {v_wall_fit:.2f} s | {v_wall_fit / wall_fit_whole:.1f}x |")
    print(f"| whole process, scores at a fixed prior, every pair | {wall_scores:.2f} s | {v_wall_scores:.2f} s | {v_wall_scores / wall_scores:.1f}x |")
    print(f"| whole process, scores at a fixed prior, n >= 3 | {wall_scores3:.2f} s | {v_wall_scores3:.2f} s | {v_wall_scores3 / wall_scores3:.1f}x |")
    print(f"load average after: {load()}")
    print(f"\nmidnet whole-mixture fit: prior {theta_m}, {len(whole['mgps']['fit']['starts'])} starts, "
          f"{whole['mgps']['fit']['agreeing']} agreeing; timings {whole['timings_s']}")
    print(f"midnet per-component fit: prior {[comp['mgps']['prior'][k] for k in ('alpha1', 'beta1', 'alpha2', 'beta2', 'p')]}")
    print(f"vigipy fit: prior {v['theta']} (whole process run: {v_theta}); vigipy scored {v['pairs']} pairs")
    print("midnet's whole process reads the CSV and writes every statistic of every pair (PRR, ROR, "
          "chi-square, Fisher, IC, BCPNN, EB) to Parquet; vigipy's imports pandas/scipy, reads the CSV "
          "and computes its result in memory (writes nothing).")

    if not args.skip_large:
        big = work / "pairs_1m.csv"
        rows = generate(big, 5000, 1000, 1_000_000, SEED + 1)
        cmd = [args.midnet, "signal", "score", "--quiet", "--counts", str(big), "--json", "--out", str(work / "big-scores.parquet")]
        seconds, cpu, rss, stdout = timed_v(cmd)
        doc = json.loads(stdout)
        print(f"\n1M table: {big} ({rows} non-zero pairs, seed {SEED + 1}); load average {load()}")
        print(f"midnet fit + scores, whole process: {seconds:.2f} s wall, {cpu:.2f} s CPU, peak RSS {rss:.0f} MiB; "
              f"timings {doc['timings_s']}")
        print(f"prior {doc['mgps']['prior']} negLL {doc['mgps']['neg_log_likelihood']:.4f}")


if __name__ == "__main__":
    main()
