//! The export gate attacked as a user of the data center would attack it (issue 15): each test is
//! one class of hole, tried through the real binary on a real project, and must stay shut.
//! `content.rs`: what a file contains (person ids, quasi-identifiers, rows per person, sidecars,
//! imports, the work log, `work sql` output and errors, `export fix`).
//! `statistics.rs`: what a statistic gives away (differencing by content, site breakdowns by lineage
//! and by content, hospital names in any spelling, counts by content, one person's value inside a
//! statistic).

mod content;
mod statistics;

use serde_json::Value;

use crate::common::Run;
use crate::network::Network;

/// A network whose project p1 has `cohort@1` (one row per person: site, person_id, group,
/// index_date, age, sex, birth_year_month, baseline values, outcomes) from the active-comparator script.
pub fn cohort() -> Network {
    let n = Network::new();
    n.approve_all();
    n.extract("p1", &["--cutoff", "2025-09-30"]).ok();
    n
}

/// `midnet ARGS` as analyst alan.
pub fn alan(n: &Network, args: &[&str]) -> Run {
    n.c.run("alan", args)
}

/// `work sql --out NAME QUERY` as alan, which must succeed.
pub fn sql_out(n: &Network, name: &str, query: &str) {
    alan(n, &["work", "sql", "--project", "p1", "--out", name, query]).ok();
}

/// `export check --project p1 --stage export --json FILES` as alan.
pub fn check(n: &Network, files: &[&str]) -> Run {
    let mut args = vec!["export", "check", "--project", "p1", "--stage", "export", "--json"];
    args.extend_from_slice(files);
    alan(n, &args)
}

/// The findings of `file` in a check report.
pub fn findings<'a>(report: &'a Value, file: &str) -> Vec<&'a Value> {
    let files = report["files"].as_array().expect("a report lists its files");
    let entry = files.iter().find(|f| f["path"] == file).unwrap_or_else(|| panic!("no {file} in {report}"));
    entry["findings"].as_array().unwrap().iter().collect()
}

/// Whether `file` has a finding of `rule` in a check report.
#[track_caller]
pub fn has_rule(report: &Value, file: &str, rule: &str) -> bool {
    findings(report, file).iter().any(|f| f["rule"] == rule)
}

/// The person ids of `cohort@1`, as the dataset holds them.
pub fn person_ids(n: &Network, limit: usize) -> Vec<String> {
    n.sql("p1", &format!(r#"SELECT person_id FROM "cohort@1" ORDER BY person_id LIMIT {limit}"#))[1..].to_vec()
}

/// The audit trail of the home, one JSON record per line.
pub fn audit_text(n: &Network) -> String {
    std::fs::read_to_string(n.c.audit_log()).unwrap()
}
