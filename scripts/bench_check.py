"""Time the script checker of two midnet binaries, alternately (issue 18's split of the checker).

    python3 scripts/bench_check.py BEFORE AFTER [ROUNDS] [EXTRA]

Workloads: `midnet script check` of each example script in testdata/scripts/, and of two scripts
made from the active-comparator example by appending EXTRA definitions of each kind (events,
value, picked event, outcome): one valid, one where every added definition misspells a name
(so every one is reported, with its nearest known name). Each round runs every workload with both
binaries, in alternating order; the medians over rounds and the ratio after / before are printed.
Standard library only.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SCRIPTS = os.path.join(ROOT, "testdata", "scripts")


def large(extra, misspelt):
    base = open(os.path.join(SCRIPTS, "active_comparator.midnet")).read()
    alt = "altt" if misspelt else "alt"
    lines = [base]
    for i in range(extra):
        lines.append(f'events high_{i} = lab_result where analyte = "alt" and value > {i + 1} * ref_high')
        lines.append(f"define count_{i} = count {alt} where value > {i + 1} and date between index - 30 days and index")
        lines.append(f"define last_{i} = last high_{i} where date <= index")
        lines.append(f'outcome o_{i} "ALT > {i + 1} x ULN"\n  event: high_{i}\nend')
    return "\n".join(lines) + "\n"


def run(binary, path, repeat):
    start = time.perf_counter()
    for _ in range(repeat):
        subprocess.run([binary, "--quiet", "script", "check", path], capture_output=True, cwd=SCRIPTS)
    return (time.perf_counter() - start) / repeat


def main():
    before, after = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 7
    extra = int(sys.argv[4]) if len(sys.argv) > 4 else 500
    tmp = tempfile.mkdtemp()
    workloads = [(f, os.path.join(SCRIPTS, f), 20) for f in sorted(os.listdir(SCRIPTS)) if f.endswith(".midnet")]
    for name, misspelt in [(f"large, {extra} x 4 definitions", False), (f"large, {extra} misspelt names", True)]:
        path = os.path.join(tmp, f"large_{int(misspelt)}.midnet")
        with open(path, "w") as f:
            f.write(large(extra, misspelt))
        workloads.append((name, path, 3))
    times = {(w, b): [] for w, _, _ in workloads for b in ("before", "after")}
    for r in range(rounds):
        order = [("before", before), ("after", after)]
        if r % 2:
            order.reverse()
        for name, path, repeat in workloads:
            for label, binary in order:
                times[(name, label)].append(run(binary, path, repeat))
    print(f"{rounds} rounds, medians of the mean time of one `midnet script check`")
    print("| script | before | after | after / before |")
    print("| --- | --- | --- | --- |")
    for name, _, _ in workloads:
        b = statistics.median(times[(name, "before")])
        a = statistics.median(times[(name, "after")])
        print(f"| {name} | {b * 1000:.1f} ms | {a * 1000:.1f} ms | {a / b:.3f} |")


if __name__ == "__main__":
    main()
