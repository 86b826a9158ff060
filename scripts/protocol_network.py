"""The early-safety protocol on a synthetic network, end to end through the `midnet` binary, as the
data center's users would run it (docs/protocol.md): a home with a reviewer and an analyst, the
network's sites registered and loaded, one project per drug pair, every site approving the protocol
script for that pair, then `midnet protocol run`. The home runs on a simulated clock (`center init
--simulated-clock`), and each user acts through the session token `midnet login` printed.

    python3 scripts/protocol_network.py bench  --sites 10 --patients 100000 [--seed 1]
        the full plan (every outcome x 2 subgroups) for novagliptin vs sitagliptin; prints the
        wall time and the split between extraction and statistics (BENCHMARKS.md, issue 9).
    python3 scripts/protocol_network.py false-positives --sites 10 --patients 20000 [--seed 2]
        the full plan for every drug pair without a planted effect; counts how often a no-effect
        (pair, outcome) of truth.json is flagged in the baseline-normal subgroup (VALIDATION.md).
    python3 scripts/protocol_network.py sequential --sites 5 --patients 20000 --seeds 11,12 [--null-pairs 6]
        the simulation study of issue 24: on each seed's network, one signal-detection project per
        drug pair (the planted pairs and --null-pairs pairs without an effect) with a surveillance
        plan of --looks cut-offs (default 8, half a year apart, ending 2025-09-30), run at every
        cut-off; the sequential flag against the per-look unadjusted one, over all looks
        (VALIDATION.md, issue 24).

The network is synthesised once into $MIDNET_BENCH_DIR (default ~/.cache/midnet-bench) and
reused; the data center is made afresh in a temporary directory. Only the standard library.
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

MIDNET = os.environ.get("MIDNET") or os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release", "midnet")
PASSWORD = "bench-correct-horse-7"
TODAY = "2026-06-02"  # the home's simulated clock: the run does not depend on the day it is made
TOKENS = {}  # each user's session token, as `midnet login` prints it


def midnet(args, home, user, stdin=None, check=True):
    env = dict(os.environ, MIDNET_HOME=home, MIDNET_SESSION=TOKENS.get(user, ""))
    p = subprocess.run([MIDNET, *args], input=stdin, capture_output=True, text=True, env=env)
    if check and p.returncode != 0:
        sys.exit(f"midnet {' '.join(args)} failed ({p.returncode}):\n{p.stderr}")
    return p


def login(home, user):
    out = midnet(["login", "--user", user], home, user, PASSWORD + "\n").stdout
    TOKENS[user] = next(line.split("=", 1)[1] for line in out.splitlines() if line.startswith("MIDNET_SESSION="))


def network(sites, patients, seed):
    root = os.environ.get("MIDNET_BENCH_DIR", os.path.expanduser("~/.cache/midnet-bench"))
    out = os.path.join(root, f"protocol-{sites}x{patients}-s{seed}")
    if not os.path.exists(os.path.join(out, ".complete")):
        subprocess.run(["rm", "-rf", out], check=True)
        print(f"synthesising {sites} x {patients} (seed {seed}) into {out} (once)...", file=sys.stderr)
        t = time.time()
        subprocess.run([MIDNET, "synth", "--quiet", "--site-count", str(sites), "--patients", str(patients), "--seed", str(seed),
                        "--dir", out, "--load"], check=True)
        print(f"  {time.time() - t:.0f} s", file=sys.stderr)
        open(os.path.join(out, ".complete"), "w").close()
    return out


def center(net, work):
    home = os.path.join(work, "home")
    midnet(["center", "init", "--user", "rev", "--name", "Rita Reviewer", "--simulated-clock", TODAY], home, "rev",
           PASSWORD + "\n" + PASSWORD + "\n")
    login(home, "rev")
    midnet(["center", "sites", "add", os.path.join(net, "sites.toml")], home, "rev")
    midnet(["user", "add", "alan", "--name", "Alan Analyst"], home, "rev", PASSWORD + "\n" + PASSWORD + "\n")
    login(home, "alan")
    script = os.path.join(work, "protocol.midnet")
    midnet(["protocol", "script", "--out", script], home, "alan")
    return home, script


def monitored_project(home, script, net, project, drug, comparator):
    """A signal-detection project for one pair, approved at every site."""
    midnet(["project", "create", project, "--title", f"Early safety of {drug}", "--question",
            f"Does {drug} raise any lab outcome of the protocol against {comparator}?", "--purpose", "signal_detection",
            "--organization", "PMDA", "--contractor", "rev", "--start", "2026-06-01", "--end", "2027-05-31",
            "--extraction-from", "2016-04-01", "--extraction-to", "2025-12-31"], home, "rev")
    midnet(["project", "grant", project, "alan", "analyst"], home, "rev")
    for site in sorted(d for d in os.listdir(net) if d.startswith("site") and os.path.isdir(os.path.join(net, d))):
        midnet(["site", "approve", "--site", os.path.join(net, site), "--project", project, "--by", "Bench site reviewer",
                script, "--param", f"drug={drug}", "--param", f"comparator={comparator}"], home, "rev")


def run_protocol(home, project, drug, comparator, cutoff):
    t = time.time()
    run = midnet(["protocol", "run", "--project", project, "--drug", drug, "--comparator", comparator,
                  "--cutoff", cutoff, "--json", "--quiet"], home, "alan")
    return json.loads(run.stdout), time.time() - t


def monitor(home, script, net, project, drug, comparator):
    """A signal-detection project for one pair, approved at every site, and its first analysis."""
    monitored_project(home, script, net, project, drug, comparator)
    return run_protocol(home, project, drug, comparator, "2025-09-30")


def bench(args):
    net = network(args.sites, args.patients, args.seed)
    print(f"machine: {os.cpu_count()} cores, " + next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")))
    with tempfile.TemporaryDirectory() as work:
        home, script = center(net, work)
        report, wall = monitor(home, script, net, "P-BENCH", "3969099", "3969010")
    r = report["record"]
    print(f"{args.sites} sites x {args.patients} patients: {r['patients']} patients with follow-up, {r['tests']} outcome x subgroup "
          f"tests, {len(r['flagged'])} flagged")
    print(f"midnet protocol run: {wall:.1f} s wall (extraction {r['extraction_seconds']:.1f} s, statistics and tables "
          f"{r['statistics_seconds']:.1f} s)")
    print("flagged: " + ", ".join(r["flagged"]))
    for x in report["results"]:
        if x["outcome"].startswith("potassium"):
            print(f"  {x['outcome']} {x['subgroup']}: events {x['events_drug']} + {x['events_comparator']}")


def false_positives(args):
    net = network(args.sites, args.patients, args.seed)
    truth = json.load(open(os.path.join(net, "truth.json")))
    nulls = [e for e in truth["effects"] if e["hazard_ratio"] == 1.0]
    pairs = sorted({(e["drug"], e["drug_yj"], e["comparator_yj"]) for e in nulls})
    tested = flagged = not_estimable = 0
    with_10 = flagged_10 = 0  # the tests with at least 10 events in the subgroup
    lines = []
    with tempfile.TemporaryDirectory() as work:
        home, script = center(net, work)
        for k, (name, drug, comparator) in enumerate(pairs):
            report, wall = monitor(home, script, net, f"P-NULL-{k:02d}", drug, comparator)
            results = {(x["outcome"], x["subgroup"]): x for x in report["results"]}
            for e in (e for e in nulls if e["drug_yj"] == drug):
                x = results[(e["outcome"], "baseline normal")]
                if x["hazard_ratio"] is None:
                    not_estimable += 1
                    continue
                tested += 1
                enough = x["events_drug"] + x["events_comparator"] >= 10
                with_10 += enough
                if x["flagged"]:
                    flagged += 1
                    flagged_10 += enough
                    h = x["hazard_ratio"]
                    lines.append(f"  flagged: {name} {e['outcome']} HR {h['hr']:.2f} ({h['lo']:.2f}-{h['hi']:.2f})")
            print(f"{name}: {wall:.0f} s; so far {flagged} flagged of {tested} estimated", file=sys.stderr)
    print(f"network {args.sites} x {args.patients}, seed {args.seed}: {len(pairs)} no-effect drug pairs, {len(nulls)} no-effect "
          f"(pair, outcome) entries in truth.json")
    print(f"baseline-normal subgroup: {tested} estimated, {not_estimable} not estimable (too few events)")
    print(f"flagged (lower 95% bound > 1): {flagged} of {tested} = {100.0 * flagged / max(tested, 1):.2f}% (nominal 2.5%)")
    print(f"  of them with >= 10 events: {flagged_10} of {with_10} = {100.0 * flagged_10 / max(with_10, 1):.2f}%")
    print("\n".join(lines))


def cutoffs(looks, last="2025-09-30", months_apart=6):
    """`looks` cut-offs `months_apart` months apart, the last one `last` (month ends)."""
    year, month = int(last[:4]), int(last[5:7])
    out = []
    for k in range(looks):
        m = year * 12 + month - 1 - k * months_apart
        y, mo = divmod(m, 12)
        mo += 1
        nxt = (y * 12 + mo) % 12 + 1, y + (mo == 12)
        days = (datetime.date(nxt[1], nxt[0], 1) - datetime.timedelta(days=1)).day
        out.append(f"{y:04d}-{mo:02d}-{days:02d}")
    return out[::-1]


def share(clusters):
    """The share of flagged tests over clusters of (flagged, tests), with its Monte-Carlo standard error
    from the spread between clusters (the tests of one drug pair on one network are correlated: nested
    outcome definitions, the two subgroups)."""
    flagged, tests = sum(f for f, _ in clusters), sum(n for _, n in clusters)
    if tests == 0:
        return 0.0, 0.0, 0
    p, k = flagged / tests, len(clusters)
    mean_n = tests / k
    var = sum((f - p * n) ** 2 for f, n in clusters) / (k * max(k - 1, 1) * mean_n ** 2)
    return p, var ** 0.5, tests


def sequential(args):
    """The simulation study of issue 24 (see the module's docstring)."""
    looks = cutoffs(args.looks)
    start = cutoffs(args.looks + 1)[0]  # the plan's calendar origin: one spacing before the first look
    null = {"all": [], "10": []}  # per (seed, pair): {"seq": (flagged, tests), "unadj": (...)}
    planted = []
    started = time.time()
    for seed in args.seeds:
        net = network(args.sites, args.patients, seed)
        truth = json.load(open(os.path.join(net, "truth.json")))
        effects = truth["effects"]
        by_pair = {}
        for e in effects:
            by_pair.setdefault((e["drug"], e["drug_yj"], e["comparator_yj"]), []).append(e)
        planted_pairs = sorted(p for p, es in by_pair.items() if any(e["hazard_ratio"] != 1.0 for e in es))
        null_pairs = sorted(p for p in by_pair if p not in planted_pairs)[: args.null_pairs]
        with tempfile.TemporaryDirectory() as work:
            home, script = center(net, work)
            for k, (name, drug, comparator) in enumerate(planted_pairs + null_pairs):
                project = f"P-SEQ-{k:02d}"
                monitored_project(home, script, net, project, drug, comparator)
                midnet(["protocol", "plan", "--project", project, "--looks", ",".join(looks), "--start", start,
                        "--alpha", str(args.alpha), "--spending", args.spending], home, "alan")
                tests = {}  # (outcome, subgroup) -> per look (flag_seq, flag_unadj, events)
                for cutoff in looks:
                    report, wall = run_protocol(home, project, drug, comparator, cutoff)
                    for x in report["results"]:
                        tests.setdefault((x["outcome"], x["subgroup"]), []).append(
                            (x["flagged_sequential"], x["flagged_unadjusted"], x["events_drug"] + x["events_comparator"]))
                    print(f"seed {seed} {name} cut-off {cutoff}: {wall:.0f} s ({time.time() - started:.0f} s so far)",
                          file=sys.stderr)
                hr = {e["outcome"]: e["hazard_ratio"] for e in by_pair[(name, drug, comparator)]}
                counts = {which: {"seq": [0, 0], "unadj": [0, 0]} for which in ("all", "10")}
                for (outcome, subgroup), series in tests.items():
                    first = {rule: next((j + 1 for j, s in enumerate(series) if s[i]), None)
                             for i, rule in ((0, "seq"), (1, "unadj"))}
                    if outcome not in hr:
                        continue  # touched by a planted effect's process without being listed: neither
                    if hr[outcome] != 1.0:
                        planted.append({"seed": seed, "pair": name, "outcome": outcome, "subgroup": subgroup,
                                        "hr": hr[outcome], "events": series[-1][2], **first})
                        continue
                    for which in ("all", "10") if series[-1][2] >= 10 else ("all",):
                        for rule in ("seq", "unadj"):
                            counts[which][rule][0] += first[rule] is not None
                            counts[which][rule][1] += 1
                for which in ("all", "10"):
                    null[which].append(counts[which])
    print(f"networks: {args.sites} sites x {args.patients} patients, seeds {','.join(map(str, args.seeds))}; "
          f"plan: {args.looks} looks {looks[0]} .. {looks[-1]} (calendar time from {start}), {args.spending}, "
          f"one-sided {args.alpha}; {time.time() - started:.0f} s")
    print("\nno-effect outcome x subgroup tests flagged at least once over all looks (share, Monte-Carlo SE over "
          "(seed, pair) clusters):")
    for which, label in (("all", "all tests"), ("10", "tests with >= 10 events at the last look")):
        for rule, rule_label in (("seq", "sequential (crossed the boundary)"), ("unadj", "per-look unadjusted")):
            p, se, n = share([tuple(c[rule]) for c in null[which]])
            flagged = sum(c[rule][0] for c in null[which])
            print(f"  {label:<42} {rule_label:<36} {flagged:>4} of {n:>5} = {100 * p:5.2f}% (SE {100 * se:.2f}%)")
    print("\nplanted effects (detected: flagged at any look; first: the look of first detection):")
    for rule, rule_label in (("seq", "sequential"), ("unadj", "per-look unadjusted")):
        for subgroup in ("whole cohort", "baseline normal"):
            rows = [r for r in planted if r["subgroup"] == subgroup]
            firsts = sorted(r[rule] for r in rows if r[rule] is not None)
            median = statistics.median(firsts) if firsts else "-"
            print(f"  {rule_label:<20} {subgroup:<16} detected {len(firsts)} of {len(rows)}; median look of first "
                  f"detection {median}")
    print("\nplanted effects, one by one (look of first detection: sequential / unadjusted; events at the last look):")
    for r in planted:
        print(f"  seed {r['seed']} {r['pair']} {r['outcome']} ({r['subgroup']}), HR {r['hr']}: {r['seq'] or '-'} / "
              f"{r['unadj'] or '-'}; {r['events']} events")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["bench", "false-positives", "sequential"])
    ap.add_argument("--sites", type=int, default=10)
    ap.add_argument("--patients", type=int, default=100000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[11, 12],
                    help="sequential: one network per seed")
    ap.add_argument("--null-pairs", type=int, default=6, help="sequential: drug pairs without an effect per network")
    ap.add_argument("--looks", type=int, default=8, help="sequential: planned cut-offs")
    ap.add_argument("--alpha", type=float, default=0.025, help="sequential: the plan's one-sided level")
    ap.add_argument("--spending", default="obrien_fleming", help="sequential: the plan's spending function")
    args = ap.parse_args()
    {"bench": bench, "false-positives": false_positives, "sequential": sequential}[args.what](args)


if __name__ == "__main__":
    main()
