//! Statistics and signal detection on a project's analysis datasets (`--project ID --dataset
//! NAME[@VERSION]`): the same numbers as the command on the dataset's Parquet file, results in
//! `work/` with their sidecar and audit records, the export gate reading their roles, and every
//! bad input refused with a message that says what to do.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::Run;
use crate::network::Network;

/// A network whose project p1 has `cohort@1` from the active-comparator script.
/// `stats cox` on the project's latest cohort: time to ALT > 3 × ULN by age.
const COX_ON_COHORT: [&str; 12] = [
    "stats",
    "cox",
    "--project",
    "p1",
    "--dataset",
    "cohort",
    "--time",
    "alt_gt_3uln_days",
    "--event",
    "alt_gt_3uln_event",
    "--covariates",
    "age",
];

fn with_cohort() -> Network {
    let n = Network::new();
    n.approve_all();
    n.extract("p1", &["--cutoff", "2025-09-30"]).ok();
    n
}

fn alan(n: &Network, args: &[&str]) -> Run {
    n.c.run("alan", args)
}

fn work(n: &Network, name: &str) -> PathBuf {
    n.c.area("p1").join("work").join(name)
}

fn dataset_file(n: &Network) -> String {
    n.c.area("p1").join("datasets/cohort@1.parquet").display().to_string()
}

fn sidecar(table: &Path) -> Value {
    let stem = table.file_stem().unwrap().to_string_lossy();
    let path = table.with_file_name(format!("{stem}.meta.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

/// The audit records of project p1.
fn audit(n: &Network) -> Vec<Value> {
    let log = std::fs::read_to_string(n.c.audit_log()).unwrap();
    log.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).filter(|r| r["project"] == "p1").collect()
}

fn recorded_files(n: &Network) -> Vec<String> {
    audit(n).iter().filter_map(|r| r["file"]["path"].as_str().map(str::to_string)).collect()
}

/// `ARGS` with `--project p1 --dataset DATASET` and with `--input` the dataset's file print the
/// same JSON; the project run writes `work/OUT`.
#[track_caller]
fn same_as_file(n: &Network, args: &[&str], dataset: &str, out: &str) -> Value {
    let mut on_project = args.to_vec();
    on_project.extend(["--project", "p1", "--dataset", dataset, "--json"]);
    let project = alan(n, &on_project).ok();
    let file = dataset_file(n);
    let mut on_file = args.to_vec();
    on_file.extend(["--input", file.as_str(), "--json"]);
    let plain = alan(n, &on_file).ok();
    let (a, b) = (project.json(), plain.json());
    assert_eq!(a, b, "{args:?}: the project dataset and its file give different results");
    assert!(work(n, out).is_file(), "{args:?}: no work/{out}\nstderr:\n{}", project.stderr);
    a
}

#[test]
fn statistics_on_a_project_dataset_equal_those_on_its_file_and_are_kept_in_work() {
    let n = with_cohort();
    let time = ["--time", "alt_gt_3uln_days"];
    let cox = same_as_file(
        &n,
        &["stats", "cox", time[0], time[1], "--event", "alt_gt_3uln_event", "--covariates", "group,age,sex"],
        "cohort",
        "stats/cox-cohort@1.csv",
    );
    assert!(cox["n"].as_u64().unwrap() > 50 && cox["events"].as_u64().unwrap() > 0, "{cox}");
    let incidence = same_as_file(
        &n,
        &[
            "stats",
            "incidence",
            "--events",
            "alt_gt_3uln_event",
            time[0],
            time[1],
            "--group-by",
            "group",
            "--per",
            "365",
        ],
        "cohort@1",
        "stats/incidence-cohort@1.csv",
    );
    assert_eq!(incidence["rows"].as_array().unwrap().len(), 2, "{incidence}");
    same_as_file(
        &n,
        &["stats", "km", time[0], time[1], "--event", "alt_gt_3uln_event", "--group", "group", "--at", "30,90"],
        "cohort",
        "stats/km-cohort@1.csv",
    );
    assert!(work(&n, "stats/km-cohort@1-logrank.csv").is_file(), "the second table of km goes beside the first");

    // The sidecar names the project, the dataset and its SHA-256, and the columns' roles.
    let listing = n.datasets("p1");
    let sha = listing["datasets"][0]["sha256"].as_str().unwrap();
    let meta = sidecar(&work(&n, "stats/cox-cohort@1.csv"));
    assert_eq!(meta["kind"], "statistics");
    assert_eq!(meta["provenance"]["project"], "p1");
    assert_eq!(meta["provenance"]["inputs"], serde_json::json!(["cohort@1"]));
    assert_eq!(meta["provenance"]["input_sha256"]["cohort@1"], sha);
    assert_eq!(meta["provenance"]["params"]["covariates"], "group,age,sex");
    let roles: Vec<(&str, &str)> = meta["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["role"].as_str().unwrap()))
        .collect();
    assert!(roles.contains(&("n", "person_count")) && roles.contains(&("events", "event_count")), "{roles:?}");

    // The audit trail has the commands and every file they wrote, table and sidecar.
    let records = audit(&n);
    for command in ["stats cox", "stats incidence", "stats km"] {
        assert!(records.iter().any(|r| r["command"] == command && r["user"] == "alan"), "no audit record of {command}");
    }
    let files = recorded_files(&n);
    for file in
        ["work/stats/cox-cohort@1.csv", "work/stats/cox-cohort@1.meta.json", "work/stats/km-cohort@1-logrank.csv"]
    {
        assert!(files.iter().any(|f| f == file), "{file} is not in the audit trail: {files:?}");
    }

    // A result is never overwritten silently; --replace says to; --out names another file in work/.
    alan(&n, &COX_ON_COHORT)
        .fails(2, "work/stats/cox-cohort@1.csv exists already; give another name with --out NAME, or --replace");
    let mut replace = COX_ON_COHORT.to_vec();
    replace.push("--replace");
    alan(&n, &replace).ok();
    assert_eq!(sidecar(&work(&n, "stats/cox-cohort@1.csv"))["provenance"]["params"]["covariates"], "age");
    let mut named = COX_ON_COHORT.to_vec();
    named.extend(["--out", "stats/age-only.csv"]);
    alan(&n, &named).ok();
    assert!(work(&n, "stats/age-only.csv").is_file());

    // The export gate reads the roles: a finding of the small-cell rule is always on a column
    // the sidecar calls a count, never on an estimate, ratio or p-value.
    let count_findings = |file: &str, counts: &[&str]| {
        let run = alan(&n, &["export", "check", "--project", "p1", "--json", file]);
        let report = run.json();
        let findings = report["files"][0]["findings"].as_array().unwrap().clone();
        for finding in &findings {
            assert_eq!(finding["rule"], "small_cell", "{file}: {finding}");
            assert!(counts.contains(&finding["column"].as_str().unwrap()), "{file}: {finding}");
        }
        assert_eq!(run.code, if findings.is_empty() { 0 } else { 1 });
        findings.len()
    };
    let events = cox["events"].as_u64().unwrap();
    let cox_findings = count_findings("stats/age-only.csv", &["n", "events"]);
    assert_eq!(cox_findings > 0, (1..10).contains(&events), "{events} events");
    count_findings("stats/km-cohort@1.csv", &["n_at_risk", "events", "censored", "deaths"]);
    count_findings("stats/incidence-cohort@1.csv", &["patients", "events"]);
    // Rates by site: the column of site pseudonyms has the role `site`, so the gate finds a
    // breakdown by hospital there, besides any small counts.
    alan(
        &n,
        &[
            "stats",
            "incidence",
            "--project",
            "p1",
            "--dataset",
            "cohort",
            "--events",
            "alt_gt_3uln_event",
            "--time",
            "alt_gt_3uln_days",
            "--group-by",
            "site",
            "--out",
            "stats/by-site.csv",
        ],
    )
    .ok();
    let meta = sidecar(&work(&n, "stats/by-site.csv"));
    assert_eq!(meta["columns"][0], serde_json::json!({"name": "site", "role": "site"}));
    let report = alan(&n, &["export", "check", "--project", "p1", "--json", "stats/by-site.csv"]).fails(1, "").json();
    let findings = report["files"][0]["findings"].as_array().unwrap().clone();
    assert!(findings.iter().any(|f| f["rule"] == "site_breakdown" && f["column"] == "site"), "{report}");
    for f in findings.iter().filter(|f| f["rule"] != "site_breakdown") {
        assert!(f["rule"] == "small_cell" && ["patients", "events"].contains(&f["column"].as_str().unwrap()), "{f}");
    }
}

#[test]
fn signal_screen_and_ssa_on_a_project_dataset() {
    let n = with_cohort();
    // The active-comparator cohort is one new-use episode per person: its drug is `group`. The
    // project run writes work/signal/screen-cohort@1.csv; the run on the file writes beside it.
    let args = [
        "signal",
        "screen",
        "--drug-column",
        "group",
        "--person",
        "site,person_id",
        "--prior",
        "0.2,0.1,2,4,0.3",
        "--json",
    ];
    let mut on_project = args.to_vec();
    on_project.extend(["--project", "p1", "--dataset", "cohort"]);
    let screen = alan(&n, &on_project).ok().json();
    let (file, copy) = (dataset_file(&n), n.c.root.join("screen-file.csv").display().to_string());
    let mut on_file = args.to_vec();
    on_file.extend(["--input", file.as_str(), "--out", copy.as_str()]);
    let plain = alan(&n, &on_file).ok().json();
    for part in ["counts", "mgps", "flags"] {
        assert_eq!(screen[part], plain[part], "{part}");
    }
    assert_eq!(screen["out"], "work/signal/screen-cohort@1.csv");
    let rows = std::fs::read_to_string(work(&n, "signal/screen-cohort@1.csv")).unwrap();
    assert_eq!(rows, std::fs::read_to_string(&copy).unwrap(), "the project's table and the file's differ");
    assert_eq!(screen["counts"]["source"]["episode_rows"]["risk_window_days"], Value::Null, "{screen}");
    let header: Vec<&str> = rows.lines().next().unwrap().split(',').collect();
    assert_eq!(&header[..4], &["rank", "drug", "event", "n"], "{header:?}");
    let total: i64 = n.count("p1", r#"SELECT count(*) FROM "cohort@1""#);
    assert_eq!(screen["counts"]["n_total"].as_f64().unwrap() as i64, total);
    // Pair counts equal the dataset's flags, counted in SQL.
    let alt_drug = n.count("p1", r#"SELECT count(*) FROM "cohort@1" WHERE "group" = 'drug' AND alt_gt_3uln_event = 1"#);
    let line = rows.lines().find(|l| l.contains(",drug,alt_gt_3uln,")).expect("the drug × ALT pair");
    assert_eq!(line.split(',').nth(3).unwrap().parse::<f64>().unwrap() as i64, alt_drug, "{line}");
    let meta = sidecar(&work(&n, "signal/screen-cohort@1.csv"));
    assert_eq!(meta["provenance"]["project"], "p1");
    assert_eq!(meta["provenance"]["inputs"], serde_json::json!(["cohort@1"]));
    assert!(recorded_files(&n).iter().any(|f| f == "work/signal/screen-cohort@1.csv"));

    // A risk window counts only flags with ID_days within it.
    alan(
        &n,
        &[
            "signal",
            "screen",
            "--project",
            "p1",
            "--dataset",
            "cohort",
            "--drug-column",
            "group",
            "--risk-window",
            "60",
            "--out",
            "signal/w60.csv",
            "--prior",
            "0.2,0.1,2,4,0.3",
        ],
    )
    .ok();
    let within = n.count("p1", r#"SELECT count(*) FROM "cohort@1" WHERE "group" = 'drug' AND alt_gt_3uln_event = 1 AND alt_gt_3uln_days <= 60"#);
    let w60 = std::fs::read_to_string(work(&n, "signal/w60.csv")).unwrap();
    let n60 = w60
        .lines()
        .find(|l| l.contains(",drug,alt_gt_3uln,"))
        .map_or(0, |l| l.split(',').nth(3).unwrap().parse::<f64>().unwrap() as i64);
    assert_eq!(n60, within);

    // The gate: the pair counts are counts (small ones are findings), the rank and scores are not.
    let check = alan(&n, &["export", "check", "--project", "p1", "--json", "signal/screen-cohort@1.csv"]);
    for finding in check.json()["files"][0]["findings"].as_array().unwrap() {
        if finding["rule"] == "small_cell" {
            let column = finding["column"].as_str().unwrap();
            assert!(["n", "n_drug", "n_event"].contains(&column), "{finding}");
        }
    }

    // SSA of the index date against the end of exposure: same numbers as on the file.
    let ssa = same_as_file(
        &n,
        &[
            "signal",
            "ssa",
            "--first-a",
            "index_date",
            "--first-b",
            "exposure_end",
            "--window",
            "730",
            "--person",
            "site,person_id",
        ],
        "cohort",
        "signal/ssa-cohort@1.csv",
    );
    assert!(ssa["a_then_b"].as_u64().unwrap() > 0, "{ssa}");
    let meta = sidecar(&work(&n, "signal/ssa-cohort@1.csv"));
    assert_eq!(meta["provenance"]["params"]["first_b"], "exposure_end");
}

#[test]
fn bad_project_inputs_are_refused_with_what_to_do() {
    let n = with_cohort();
    let base = ["--time", "alt_gt_3uln_days", "--event", "alt_gt_3uln_event", "--covariates", "age"];
    let cox = |extra: &[&str]| {
        let mut args = vec!["stats", "cox"];
        args.extend_from_slice(&base);
        args.extend_from_slice(extra);
        alan(&n, &args)
    };
    // Unknown dataset or version: the message lists the datasets there are.
    cox(&["--project", "p1", "--dataset", "cohrot"])
        .fails(4, "project p1: no dataset `cohrot`; its datasets are cohort@1");
    cox(&["--project", "p1", "--dataset", "cohort@2"]).fails(4, "its datasets are cohort@1");
    cox(&["--project", "p1", "--dataset", "cohort@x"]).fails(2, "NAME or NAME@VERSION");
    // Unknown column: named, with the columns there are.
    alan(&n, &["stats", "cox", "--project", "p1", "--dataset", "cohort", "--time", "no_such", "--event", "alt_gt_3uln_event", "--covariates", "age"])
        .fails(2, "project p1, dataset cohort@1 (datasets/cohort@1.parquet): no column `no_such`; the columns are: site, person_id");
    // Both sources, or neither.
    let file = dataset_file(&n);
    cox(&["--input", &file, "--project", "p1", "--dataset", "cohort"]).fails(2, "cannot be used with");
    cox(&[]).fails(2, "<--input <FILE>|--project <ID>>");
    cox(&["--project", "p1"]).fails(2, "--dataset");
    // A name escaping work/, and one that is not a table.
    cox(&["--project", "p1", "--dataset", "cohort", "--out", "../datasets/x.csv"]).fails(3, "refused (path)");
    cox(&["--project", "p1", "--dataset", "cohort", "--out", "/tmp/x.csv"]).fails(3, "refused (path)");
    cox(&["--project", "p1", "--dataset", "cohort", "--out", "x.txt"]).fails(2, "give a .csv or .parquet file name");
    // --replace only means something in a project.
    cox(&["--input", &file, "--replace"]).fails(2, "--project");
    // Another user's project: the analyst role is required, and the refusal is audited.
    n.c.run("stella", &COX_ON_COHORT).fails(3, "refused (role)");
    assert!(audit(&n).iter().any(|r| r["command"] == "stats cox" && r["user"] == "stella"));
    // A dataset whose file changed after extraction is not read.
    let parquet = n.c.area("p1").join("datasets/cohort@1.parquet");
    let original = std::fs::read(&parquet).unwrap();
    let mut altered = original.clone();
    let last = altered.len() - 20;
    altered[last] ^= 1;
    std::fs::write(&parquet, &altered).unwrap();
    cox(&["--project", "p1", "--dataset", "cohort"]).fails(6, "the file was changed after extraction");
    std::fs::remove_file(&parquet).unwrap();
    cox(&["--project", "p1", "--dataset", "cohort"])
        .fails(6, "the file of dataset cohort@1 (datasets/cohort@1.parquet) is missing");
    std::fs::write(&parquet, &original).unwrap();

    // Signal commands: the same checks, and their own columns.
    let screen = |extra: &[&str]| {
        let mut args = vec!["signal", "screen", "--project", "p1", "--prior", "0.2,0.1,2,4,0.3"];
        args.extend_from_slice(extra);
        alan(&n, &args)
    };
    screen(&["--dataset", "nope"]).fails(4, "its datasets are cohort@1");
    screen(&["--dataset", "cohort"]).fails(2, "no column `drug`");
    screen(&["--dataset", "cohort", "--drug-column", "group", "--event-columns", "age"])
        .fails(2, "dataset cohort@1 (datasets/cohort@1.parquet): column `age`, row 1: value");
    screen(&["--dataset", "cohort", "--drug-column", "group", "--out", "../escape.csv"]).fails(3, "refused (path)");
    screen(&["--dataset", "cohort", "--drug-column", "group", "--risk-window", "30", "--event-columns", "age"])
        .fails(2, "no column `age_days`");
    alan(&n, &["signal", "screen", "--input", &file, "--exposures", &file, "--outcomes", &file])
        .fails(2, "cannot be used with");
    alan(&n, &["signal", "ssa", "--project", "p1", "--dataset", "cohort"]).fails(2, "no column `first_a_date`");
    alan(
        &n,
        &[
            "signal",
            "ssa",
            "--project",
            "p1",
            "--dataset",
            "cohort",
            "--first-a",
            "index_date",
            "--first-b",
            "exposure_end",
            "--person",
            "sex",
        ],
    )
    .fails(2, "appears again");
}

#[test]
fn the_screening_script_extracts_episodes_that_signal_screen_scores() {
    let n = Network::new();
    let script = crate::common::testdata("scripts/new_use_screen.midnet").display().to_string();
    for site in 0..n.sites.len() {
        n.approve_script("p1", site, &script, &[]).ok();
    }
    let report =
        alan(&n, &["extract", "--project", "p1", &script, "--cutoff", "2025-09-30", "--json", "--quiet"]).ok().json();
    assert_eq!(report["datasets"][0]["name"], "episodes", "{report}");
    // A few hundred episodes are too few to fit the MGPS prior; screening uses a given one.
    let run = alan(
        &n,
        &["signal", "screen", "--project", "p1", "--dataset", "episodes", "--prior", "0.2,0.1,2,4,0.3", "--json"],
    )
    .ok();
    let summary = run.json();
    let episodes = n.count("p1", r#"SELECT count(*) FROM (SELECT DISTINCT site, person_id, drug FROM "episodes@1")"#);
    assert_eq!(summary["counts"]["n_total"].as_f64().unwrap() as i64, episodes, "{summary}");
    let table = std::fs::read_to_string(work(&n, "signal/screen-episodes@1.csv")).unwrap();
    assert!(table.lines().count() > 2, "{table}");
    for flag in ["evans", "eb05"] {
        assert!(table.lines().next().unwrap().contains(flag), "{table}");
    }
}

/// (drug, event) → n of a screen's CSV on stdout.
fn pair_counts(csv: &str) -> std::collections::BTreeMap<(String, String), f64> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (drug, event, n) = (at("drug"), at("event"), at("n"));
    lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            ((cells[drug].to_string(), cells[event].to_string()), cells[n].parse().unwrap())
        })
        .collect()
}

#[test]
fn episode_rows_merge_a_person_and_drug_and_a_risk_window_reads_the_days() {
    let dir = crate::common::tempdir();
    let file = dir.path().join("episodes.csv");
    std::fs::write(
        &file,
        "person,drug,liver_event,liver_days,kidney_event,kidney_days\n\
         1,A,1,5,0,30\n1,A,0,30,0,30\n2,A,0,30,1,40\n3,B,1,20,0,30\n4,B,0,30,0,30\n5,B,1,45,1,10\n",
    )
    .unwrap();
    let screen = |extra: &[&str]| {
        let mut args = vec!["signal", "screen", "--input", "episodes.csv", "--prior", "0.2,0.1,2,4,0.3"];
        args.extend_from_slice(extra);
        crate::common::midnet(dir.path(), &args)
    };
    let all = screen(&[]).ok();
    assert!(all.stderr.contains("1 row repeats a person and drug"), "{}", all.stderr);
    let pair = |d: &str, e: &str| (d.to_string(), e.to_string());
    let counts = pair_counts(&all.stdout);
    let expected =
        [(pair("A", "kidney"), 1.0), (pair("A", "liver"), 1.0), (pair("B", "kidney"), 1.0), (pair("B", "liver"), 2.0)];
    assert_eq!(counts, expected.into_iter().collect());
    let summary = screen(&["--json"]).ok().json();
    assert_eq!(summary["counts"]["n_total"], 5.0);

    let within = pair_counts(&screen(&["--risk-window", "30"]).ok().stdout);
    let expected = [(pair("A", "liver"), 1.0), (pair("B", "kidney"), 1.0), (pair("B", "liver"), 1.0)];
    assert_eq!(within, expected.into_iter().collect());
    // Only some outcomes, by name; a person key that is not there.
    let liver = pair_counts(&screen(&["--event-columns", "liver_event"]).ok().stdout);
    assert_eq!(liver.len(), 2);
    screen(&["--person", "patient"]).fails(2, "no column `patient`; the columns are: person, drug");
}
