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

The network is synthesised once into $MIDNET_BENCH_DIR (default ~/.cache/midnet-bench) and
reused; the data center is made afresh in a temporary directory. Only the standard library.
"""
import argparse
import json
import os
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


def monitor(home, script, net, project, drug, comparator):
    """A signal-detection project for one pair, approved at every site, and its first analysis."""
    midnet(["project", "create", project, "--title", f"Early safety of {drug}", "--question",
            f"Does {drug} raise any lab outcome of the protocol against {comparator}?", "--purpose", "signal_detection",
            "--organization", "PMDA", "--contractor", "rev", "--start", "2026-06-01", "--end", "2027-05-31",
            "--extraction-from", "2016-04-01", "--extraction-to", "2025-12-31"], home, "rev")
    midnet(["project", "grant", project, "alan", "analyst"], home, "rev")
    for site in sorted(d for d in os.listdir(net) if d.startswith("site") and os.path.isdir(os.path.join(net, d))):
        midnet(["site", "approve", "--site", os.path.join(net, site), "--project", project, "--by", "Bench site reviewer",
                script, "--param", f"drug={drug}", "--param", f"comparator={comparator}"], home, "rev")
    t = time.time()
    run = midnet(["protocol", "run", "--project", project, "--drug", drug, "--comparator", comparator,
                  "--cutoff", "2025-09-30", "--json", "--quiet"], home, "alan")
    return json.loads(run.stdout), time.time() - t


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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["bench", "false-positives"])
    ap.add_argument("--sites", type=int, default=10)
    ap.add_argument("--patients", type=int, default=100000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    (bench if args.what == "bench" else false_positives)(args)


if __name__ == "__main__":
    main()
