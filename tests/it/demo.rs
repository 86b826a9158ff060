//! `midnet demo` runs the main job end to end with no arguments, keeps what it made in a directory
//! it names, and ends with the command that opens its report.

use std::path::{Path, PathBuf};

use crate::common::{midnet, midnet_with, tempdir};

/// The report's path, from the demo's last lines: `xdg-open PATH`, then the path alone.
pub fn printed_report(stdout: &str) -> PathBuf {
    let lines: Vec<&str> = stdout.lines().collect();
    let open = lines.iter().position(|l| l.trim_start().starts_with("xdg-open ")).unwrap_or_else(|| {
        panic!("the demo does not end with the command that opens its report:\n{stdout}");
    });
    let path = lines.get(open + 1).unwrap_or_else(|| panic!("no path after `xdg-open`:\n{stdout}"));
    assert_eq!(open + 2, lines.len(), "the path is not the demo's last line:\n{stdout}");
    assert_eq!(lines[open].trim_start(), format!("xdg-open {path}"), "{stdout}");
    PathBuf::from(path)
}

/// The names in a directory, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn demo_runs_end_to_end_and_keeps_its_report_in_a_new_directory() {
    let dir = tempdir();
    // A user's own `midnet-demo` is neither reused nor touched: the demo takes `midnet-demo-2`.
    std::fs::create_dir(dir.path().join("midnet-demo")).unwrap();
    std::fs::write(dir.path().join("midnet-demo/notes.txt"), "mine").unwrap();
    let run = midnet(dir.path(), &["demo", "--patients", "1500"]).ok();
    for step in [
        "1. synthesise",
        "2. each site",
        "3. data quality",
        "4. the data center",
        "5. every site approves",
        "6. the shared early-safety protocol",
        "7. the analyst requests",
        "8. outside the data center",
    ] {
        assert!(run.stdout.contains(step), "demo output lacks `{step}`:\n{}", run.stdout);
    }
    let root = dir.path().canonicalize().unwrap().join("midnet-demo-2");
    let first = run.stdout.lines().next().unwrap();
    assert!(first.contains(&format!("midnet demo in {}", root.display())), "{first}");
    assert_eq!(names(&dir.path().join("midnet-demo")), ["notes.txt"]);
    assert_eq!(std::fs::read_to_string(dir.path().join("midnet-demo/notes.txt")).unwrap(), "mine");

    let report = printed_report(&run.stdout);
    assert_eq!(report, root.join("outside/report.html"), "{}", run.stdout);
    // The demo's data center keeps its home owner-only, as every home is.
    crate::owner_only::assert_owner_only(&root.join("center"));
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("Hazard ratios: baseline normal") && html.contains("Attrition"));
    assert!(html.contains("How to read this report"), "the report lacks its reading note");
    // The report's legend says "rate per 1,000 person-years": the released rates are.
    let mut results = csv::Reader::from_path(root.join("outside/results.csv")).unwrap();
    let header = results.headers().unwrap().clone();
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (events, years, rate) = (at("events_drug"), at("person_years_drug"), at("rate_drug"));
    let row = results.records().map(Result::unwrap).find(|r| &r[events] != "0").expect("an outcome with events");
    let per_1000 = row[events].parse::<f64>().unwrap() * 1000.0 / row[years].parse::<f64>().unwrap();
    assert!((row[rate].parse::<f64>().unwrap() / per_1000 - 1.0).abs() < 0.01, "{row:?}");
    assert!(root.join("center").is_dir());
    assert!(root.join("network/site01/site.duckdb").is_file());
    assert!(run.stdout.contains("dataset cohort@1:") && run.stdout.contains("from 3 sites"), "{}", run.stdout);
    // The first hospital joined through its own exports: SS-MIX2, then its claims (the demo's seed
    // makes it a claims hospital, not a DPC one), numbered apart and linked: each patient one key
    // across them.
    assert!(run.stdout.contains("site01: joins through its hospital's SS-MIX2 export"), "{}", run.stdout);
    assert!(root.join("network/site01/ss-mix2").is_dir());
    assert!(run.stdout.contains("site01: registers its hospital's link of claims and DPC numbers"), "{}", run.stdout);
    assert!(run.stdout.contains("site01: and its monthly claims files ("), "{}", run.stdout);
    let linked = run.stdout.lines().find(|l| l.contains("patients per source, linked")).expect("the linked patients");
    let claims = linked.split("CLAIMS ").nth(1).expect("CLAIMS patients").split(" linked)").next().unwrap();
    let (patients, linked_to_ehr) = claims.split_once(" (").unwrap();
    assert!(patients.parse::<u64>().unwrap() > 1000 && patients == linked_to_ehr, "{linked}");
    assert!(root.join("center/areas/P-DEMO-001/datasets/cohort@1.parquet").is_file());
    assert!(run.stdout.contains("outcome x subgroup tests"), "{}", run.stdout);
    assert!(run.stdout.contains("released req-1/files/protocol/analysis-1/results.csv"), "{}", run.stdout);
    // The demo's home is a real one: its reviewer can log in and its audit trail verifies.
    let os_home = dir.path().join("os-home");
    let os_home = os_home.to_str().unwrap();
    let env = [("MIDNET_HOME", "midnet-demo-2/center"), ("HOME", os_home)];
    midnet_with(dir.path(), &["login", "--user", "reviewer"], &env, Some("demo-correct-horse-1\n")).ok();
    midnet_with(dir.path(), &["audit", "verify"], &env, None).ok();
}

#[test]
fn demo_clean_leaves_nothing() {
    let dir = tempdir();
    let run = midnet(dir.path(), &["demo", "--clean", "--site-count", "2", "--patients", "1000"]).ok();
    assert!(names(dir.path()).is_empty(), "--clean left {:?}:\n{}", names(dir.path()), run.stdout);
    assert!(run.stdout.contains("removed ") && run.stdout.contains("(--clean)"), "{}", run.stdout);
    assert!(!run.stdout.contains("xdg-open") && !run.stdout.contains("report.html"), "{}", run.stdout);
}

#[test]
fn demo_refuses_a_directory_that_holds_files() {
    let dir = tempdir();
    std::fs::create_dir(dir.path().join("mine")).unwrap();
    std::fs::write(dir.path().join("mine/data.csv"), "a,b\n").unwrap();
    midnet(dir.path(), &["demo", "--dir", "mine", "--clean"]).fails(2, "--dir mine: the directory is not empty");
    assert_eq!(names(&dir.path().join("mine")), ["data.csv"]);
    assert_eq!(std::fs::read_to_string(dir.path().join("mine/data.csv")).unwrap(), "a,b\n");
    midnet(dir.path(), &["demo", "--dir", "mine/data.csv"]).fails(2, "--dir mine/data.csv: not a directory");
    assert_eq!(std::fs::read_to_string(dir.path().join("mine/data.csv")).unwrap(), "a,b\n");
}
