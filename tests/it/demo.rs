//! `midnet demo` runs the main job end to end with no arguments.

use crate::common::{midnet, midnet_with, tempdir};

#[test]
fn demo_runs_end_to_end() {
    let dir = tempdir();
    let run = midnet(dir.path(), &["demo", "--dir", "run", "--patients", "1500"]).ok();
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
    assert!(dir.path().join("run/center").is_dir());
    assert!(dir.path().join("run/network/site01/site.duckdb").is_file());
    assert!(run.stdout.contains("dataset cohort@1:") && run.stdout.contains("from 3 sites"), "{}", run.stdout);
    assert!(dir.path().join("run/center/areas/P-DEMO-001/datasets/cohort@1.parquet").is_file());
    assert!(run.stdout.contains("outcome x subgroup tests"), "{}", run.stdout);
    assert!(run.stdout.contains("released req-1/files/protocol/analysis-1/results.csv"), "{}", run.stdout);
    let report = std::fs::read_to_string(dir.path().join("run/outside/report.html")).unwrap();
    assert!(report.contains("Hazard ratios: baseline normal") && report.contains("Attrition"));
    // The demo's home is a real one: its reviewer can log in and its audit trail verifies.
    let os_home = dir.path().join("os-home");
    let os_home = os_home.to_str().unwrap();
    let env = [("MIDNET_HOME", "run/center"), ("HOME", os_home)];
    midnet_with(dir.path(), &["login", "--user", "reviewer"], &env, Some("demo-correct-horse-1\n")).ok();
    midnet_with(dir.path(), &["audit", "verify"], &env, None).ok();
}
