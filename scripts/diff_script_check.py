"""Differential check of the script checker between two midnet binaries: same output, byte for byte.

    python3 scripts/diff_script_check.py BEFORE AFTER [MUTANTS_PER_SCRIPT]

Takes every script of testdata/scripts/, of the language reference (docs/script-language.md) and of the
script tests (tests/it/script/), and MUTANTS_PER_SCRIPT mutants of each (seeded: a line deleted or two
swapped, a token replaced by another name of the script, a built-in, a table, a literal, an operator or
a keyword, shortened or deleted); runs `script check --json`, `script check` and `script sql` (with one
of a few sets of --param values, some wrong) and, for every fifth, `script explain` on each with both
binaries, and reports every script where exit code, stdout or stderr differ. Standard library only.
Used for issue 18's split of the checker, which must change no diagnostic.
"""
import concurrent.futures
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
REPLACEMENTS = [
    "index", "age", "entry", "analyte", "sex", "birth_date", "death_date", "study_start", "study_end",
    "observation_start", "observation_end", "patient_key", "drug_order", "lab_result", "diagnosis", "encounter",
    "value", "date", "yj_code", "icd10", "3", "2.5", "-1", '"x"', '"alt"', "2020-01-01", '["a"]', "[1, 2]", "[]",
    'icd10 ["E11"]', 'yj ["3969"]', "true", "all", "outcomes", "cutoff", "first", "last", "exists", "count", "sum",
    "days", "where", "with", "of", "in", "not", "+", "-", "*", "/", "^", "=", "<", "and", "or", "(", ")", ".",
    "earliest(", "age_at(", "prefix(", "year(", "is_missing(", "coalesce(", "highest", "lowest", "all of",
    "within", "between", "if", "then", "else", "no", "min", "max", "by", "every", "end", "from", "column",
]
PARAMETER_SETS = [
    [],
    ["--param", "cutoff=2025-09-30"],
    ["--param", "cutoff=2025-09-30", "--param", "outcomes=alt_3x,nope"],
    ["--param", "cutoff=2025-13-01", "--param", "bogus=1", "--param", "drug=3969,x"],
]
TOKEN = re.compile(r'"[^"\n]*"|\d{4}-\d\d-\d\d|\d+(?:\.\d+)?|[A-Za-z_][A-Za-z0-9_]*|[^\sA-Za-z0-9_"]')


def corpus():
    scripts_dir = os.path.join(ROOT, "testdata", "scripts")
    texts = [open(os.path.join(scripts_dir, f)).read() for f in sorted(os.listdir(scripts_dir)) if f.endswith(".midnet")]
    doc = open(os.path.join(ROOT, "docs", "script-language.md")).read()
    texts += [m.group(1) for m in re.finditer(r"```midnet\n(.*?)```", doc, re.S)]
    for name in sorted(os.listdir(os.path.join(ROOT, "tests", "it", "script"))):
        source = open(os.path.join(ROOT, "tests", "it", "script", name)).read()
        texts += [m.group(1) for m in re.finditer(r'r#"(.*?)"#', source, re.S) if "study" in m.group(1)]
    return texts


def mutants(script, count, rng):
    out = [script]
    lines = script.split("\n")
    tokens = [(m.start(), m.end(), m.group()) for m in TOKEN.finditer(script)]
    names = sorted({t for _, _, t in tokens if re.match(r"[A-Za-z_]", t)})
    for _ in range(count):
        kind = rng.random()
        if kind < 0.15 and len(lines) > 1:
            i = rng.randrange(len(lines))
            out.append("\n".join(lines[:i] + lines[i + 1 :]))
        elif kind < 0.22 and len(lines) > 2:
            i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
            swapped = lines[:]
            swapped[i], swapped[j] = swapped[j], swapped[i]
            out.append("\n".join(swapped))
        elif tokens:
            start, end, text = rng.choice(tokens)
            r = rng.random()
            if r < 0.3 and names:
                new = rng.choice(names)
            elif r < 0.4 and len(text) > 2:
                new = text[:-1]
            elif r < 0.45:
                new = ""
            else:
                new = rng.choice(REPLACEMENTS)
            out.append(script[:start] + new + script[end:])
    return out


def main():
    before, after = sys.argv[1], sys.argv[2]
    per_script = int(sys.argv[3]) if len(sys.argv) > 3 else 150
    work = tempfile.mkdtemp()
    # Codelist files are read relative to the script.
    shutil.copytree(os.path.join(ROOT, "testdata", "scripts", "codelists"), os.path.join(work, "codelists"))
    rng = random.Random(42)
    texts = [m for s in corpus() for m in mutants(s, per_script, rng)]

    def run(binary, args):
        p = subprocess.run([binary, "--quiet"] + args, capture_output=True, cwd=work)
        return p.returncode, p.stdout, p.stderr

    def case(i, text):
        path = os.path.join(work, f"m{i}.midnet")
        with open(path, "w") as f:
            f.write(text)
        params = random.Random(i).choice(PARAMETER_SETS)
        commands = [["script", "check", "--json", path], ["script", "check", path] + params, ["script", "sql", path] + params]
        if i % 5 == 0:
            commands.append(["script", "explain", path] + params)
        differ = [(c, run(before, c), run(after, c)) for c in commands]
        differ = [d for d in differ if d[1] != d[2]]
        valid = run(before, ["script", "check", path])[0] == 0
        os.remove(path)
        return text, differ, valid

    differing = valid = 0
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        for text, differ, ok in pool.map(lambda a: case(*a), enumerate(texts)):
            valid += ok
            if differ:
                differing += 1
                command, a, b = differ[0]
                print(f"DIFFERS: {' '.join(command[:2])}\n{text}\nbefore: {a}\nafter:  {b}\n")
    shutil.rmtree(work)
    print(f"{len(texts)} scripts ({valid} valid), {differing} with different output")
    sys.exit(1 if differing else 0)


if __name__ == "__main__":
    main()
