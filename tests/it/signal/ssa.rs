//! `signal ssa` against the values of `scripts/reference_ssa.py` (an independent brute-force
//! computation with scipy's exact binomial intervals), and its bad input.

use serde_json::Value;

use super::{Csv, assert_rel, signal};
use crate::common::{tempdir, testdata};

#[test]
fn matches_the_independent_reference() {
    let dir = tempdir();
    let mut reader = csv::Reader::from_path(testdata("reference-extra/ssa_reference.csv")).unwrap();
    // (case, input, window, level) -> [(output, value, tolerance)]
    type Run = (String, String, String, String);
    let mut runs: std::collections::BTreeMap<Run, Vec<(String, String, String)>> = Default::default();
    for r in reader.records() {
        let r = r.unwrap();
        runs.entry((r[0].to_string(), r[1].to_string(), r[2].to_string(), r[3].to_string())).or_default().push((
            r[4].to_string(),
            r[5].to_string(),
            r[7].to_string(),
        ));
    }
    assert_eq!(runs.len(), 5);
    for ((case, input, window, level), expected) in runs {
        let input = testdata(&format!("reference-extra/{input}"));
        let run = signal(
            dir.path(),
            &["ssa", "--input", input.to_str().unwrap(), "--window", &window, "--level", &level, "--json"],
        )
        .ok();
        let got = run.json();
        assert_eq!(expected.len(), 12, "{case}");
        for (output, value, tolerance) in expected {
            let ours = got[&output].as_f64().unwrap_or_else(|| panic!("{case}: no {output}"));
            let want: f64 = value.parse().unwrap();
            match tolerance.as_str() {
                "exact" => assert_eq!(ours, want, "{case} {output}"),
                "rel 1e-9" => assert_rel(ours, want, 1e-9, &format!("{case} {output}")),
                _ => panic!("tolerance {tolerance}"),
            }
        }
    }
}

#[test]
fn human_output_and_out_file() {
    let dir = tempdir();
    let input = testdata("reference-extra/ssa/trend.csv");
    let run = signal(dir.path(), &["ssa", "--input", input.to_str().unwrap(), "--out", "ssa.csv"]).ok();
    assert!(run.stdout.contains("crude sequence ratio        3.5351"), "{}", run.stdout);
    assert!(run.stdout.contains("adjusted sequence ratio"), "{}", run.stdout);
    let table = std::fs::read_to_string(dir.path().join("ssa.csv")).unwrap();
    assert!(table.starts_with("window_days,a_then_b,b_then_a"), "{table}");
    assert!(dir.path().join("ssa.meta.json").exists());
}

#[test]
fn bad_input_is_refused() {
    let dir = tempdir();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write("dup.csv", "person,first_a_date,first_b_date\np1,2020-01-01,2020-02-01\np1,2020-01-05,\n");
    signal(dir.path(), &["ssa", "--input", "dup.csv"]).fails(2, "person `p1` appears again (first at row 1)");
    write("date.csv", "person,first_a_date,first_b_date\np1,2020-13-01,2020-02-01\n");
    signal(dir.path(), &["ssa", "--input", "date.csv"]).fails(2, "is not a date");
    write("ok.csv", "person,first_a_date,first_b_date\np1,2020-01-01,2020-02-01\np2,2020-03-01,2020-02-01\n");
    signal(dir.path(), &["ssa", "--input", "ok.csv", "--window", "0"]).fails(2, "at least 1 day");
    signal(dir.path(), &["ssa", "--input", "ok.csv", "--level", "95"]).fails(2, "between 0 and 1");
    write("cols.csv", "person,a,b\np1,2020-01-01,2020-02-01\n");
    signal(dir.path(), &["ssa", "--input", "cols.csv"]).fails(2, "no column `first_a_date`");
}

/// Without a sequence, or without one of the two orders, the counts are still given and each ratio
/// that cannot be estimated is left empty with why, in text, JSON and the table.
#[test]
fn ratios_that_cannot_be_estimated_are_empty_with_why() {
    let dir = tempdir();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write("none.csv", "person,first_a_date,first_b_date\np1,2020-01-01,\np2,,2020-01-01\np3,2020-01-01,2020-01-01\n");
    let run = signal(dir.path(), &["ssa", "--input", "none.csv"]).ok();
    assert!(run.stdout.contains("A then B 0, B then A 0 (same day 1"), "{}", run.stdout);
    assert!(run.stdout.contains("crude sequence ratio        not estimable"), "{}", run.stdout);
    assert!(
        run.stdout.contains(
            "not estimable: crude, crude_lo, crude_hi: no person starts both A and B on different days within 365 days"
        ),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("NaN") && !run.stdout.contains("inf"), "{}", run.stdout);

    // Two persons, both A then B: the crude ratio is infinite, its lower limit is not.
    write("ab.csv", "person,first_a_date,first_b_date\np1,2020-01-01,2020-02-01\np2,2020-03-01,2020-04-01\n");
    let got = signal(dir.path(), &["ssa", "--input", "ab.csv", "--json"]).ok().json();
    assert_eq!((&got["a_then_b"], &got["b_then_a"]), (&2.into(), &0.into()));
    assert_eq!((&got["crude"], &got["crude_hi"], &got["adjusted"]), (&Value::Null, &Value::Null, &Value::Null));
    assert!(got["crude_lo"].as_f64().unwrap() > 0.0);
    let why = got["not_estimable"][0].as_str().unwrap();
    assert_eq!(
        why,
        "crude, crude_hi: no person starts B before A within the window (b_then_a = 0): the ratio is infinite"
    );
    signal(dir.path(), &["ssa", "--input", "ab.csv", "--out", "ab-ssa.csv"]).ok();
    let table = Csv::read(&dir.path().join("ab-ssa.csv"));
    assert_eq!((table.text("crude", 0), table.text("crude_hi", 0)), ("", ""));
    assert!(table.text("not_estimable", 0).starts_with("crude, crude_hi: no person starts B before A"));
}
