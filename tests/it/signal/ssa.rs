//! `signal ssa` against the values of `scripts/reference_ssa.py` (an independent brute-force
//! computation with scipy's exact binomial intervals), and its bad input.

use super::{assert_rel, signal};
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
    write("none.csv", "person,first_a_date,first_b_date\np1,2020-01-01,\np2,,2020-01-01\np3,2020-01-01,2020-01-01\n");
    signal(dir.path(), &["ssa", "--input", "none.csv"]).fails(2, "no sequence to analyse");
    write("ok.csv", "person,first_a_date,first_b_date\np1,2020-01-01,2020-02-01\np2,2020-03-01,2020-02-01\n");
    signal(dir.path(), &["ssa", "--input", "ok.csv", "--window", "0"]).fails(2, "at least 1 day");
    signal(dir.path(), &["ssa", "--input", "ok.csv", "--level", "95"]).fails(2, "between 0 and 1");
    write("cols.csv", "person,a,b\np1,2020-01-01,2020-02-01\n");
    signal(dir.path(), &["ssa", "--input", "cols.csv"]).fails(2, "no column `first_a_date`");
}
