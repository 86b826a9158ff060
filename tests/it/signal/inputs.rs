//! The four input shapes of `signal score --counts`, the output forms, and every kind of bad input.

use std::path::Path;

use super::{Csv, assert_rel, signal, signal_json};
use crate::common::tempdir;

const PRIOR: &str = "0.2,0.1,2,4,0.3";

fn write(dir: &Path, name: &str, text: &str) -> String {
    std::fs::write(dir.join(name), text).unwrap();
    name.to_string()
}

fn scores(dir: &Path, file: &str) -> Csv {
    let run = signal(dir, &["score", "--counts", file, "--prior", PRIOR]).ok();
    Csv::parse(&run.stdout)
}

#[test]
fn case_level_counts_unique_ids() {
    let dir = tempdir();
    // Report 1 names drug A with two events and lists A twice: it counts once for A's margin.
    let file = write(dir.path(), "cases.csv", "id,drug,event\n1,A,x\n1,A,y\n1,A,x\n2,A,x\n3,B,y\n4,B,x\n5,C,z\n");
    let t = scores(dir.path(), &file);
    let r = t.row_of("A", "x");
    assert_eq!(
        (t.number("n", r), t.number("n_drug", r), t.number("n_event", r), t.number("n_total", r)),
        (2.0, 2.0, 3.0, 5.0)
    );
    assert_rel(t.number("e", r), 2.0 * 3.0 / 5.0, 1e-15, "E = n_drug n_event / N");
    assert_eq!(t.rows, 5);
    // sorted by drug, then event
    assert_eq!((t.text("drug", 0), t.text("event", 0), t.text("drug", 4)), ("A", "x", "C"));
}

#[test]
fn pair_counts_sum_their_margins() {
    let dir = tempdir();
    let file = write(dir.path(), "pairs.csv", "drug,event,n\nA,x,3\nA,y,1\nB,x,2\n");
    let t = scores(dir.path(), &file);
    let r = t.row_of("A", "x");
    assert_eq!((t.number("n_drug", r), t.number("n_event", r), t.number("n_total", r)), (4.0, 5.0, 6.0));
}

#[test]
fn pair_counts_with_margins_and_with_expected_counts() {
    let dir = tempdir();
    let file =
        write(dir.path(), "margins.csv", "drug,event,n,n_drug,n_event,n_total\nA,x,3,10,20,100\nB,x,1,5,20,100\n");
    let t = scores(dir.path(), &file);
    assert_rel(t.number("e", 0), 2.0, 1e-15, "E from the margins");
    assert_rel(t.number("prr", 0), (3.0 / 10.0) / (17.0 / 90.0), 1e-14, "PRR from the margins");

    let file = write(dir.path(), "expected.csv", "drug,event,n,e\nA,x,3,0.5\nB,x,1,2.5\n");
    let run = signal(dir.path(), &["score", "--counts", &file, "--prior", PRIOR]).ok();
    assert!(run.stderr.contains("no margins"), "{}", run.stderr);
    let t = Csv::parse(&run.stdout);
    assert_eq!(t.number("e", 0), 0.5);
    assert!(t.text("prr", 0).is_empty() && t.text("fisher_p", 0).is_empty(), "2x2 statistics need margins");
    assert!(t.number("ebgm", 0) > 1.0 && t.number("ic", 0) > 0.0, "MGPS and IC need only n and E");
}

#[test]
fn parquet_input_reads_like_csv() {
    let dir = tempdir();
    write(dir.path(), "pairs.csv", "drug,event,n\nA,x,3\nA,y,1\nB,x,2\n");
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let (csv, parquet) = (dir.path().join("pairs.csv"), dir.path().join("pairs.parquet"));
    conn.execute_batch(&format!(
        "COPY (SELECT * FROM read_csv('{}')) TO '{}' (FORMAT parquet)",
        csv.display(),
        parquet.display()
    ))
    .unwrap();
    let (a, b) = (scores(dir.path(), "pairs.csv"), scores(dir.path(), "pairs.parquet"));
    assert_eq!(a.columns, b.columns);
}

#[test]
fn min_count_reports_only_the_larger_pairs_with_the_same_prior() {
    let dir = tempdir();
    let caers = crate::common::reference_dir().join("caers_processed.csv");
    let caers = caers.to_str().unwrap();
    let all = signal_json(dir.path(), &["score", "--counts", caers, "--out", "all.csv"]);
    let some = signal_json(dir.path(), &["score", "--counts", caers, "--min-count", "3", "--out", "some.csv"]);
    assert_eq!(all["mgps"]["prior"], some["mgps"]["prior"], "the fit uses every pair either way");
    let (all, some) = (Csv::read(&dir.path().join("all.csv")), Csv::read(&dir.path().join("some.csv")));
    let larger: Vec<usize> = (0..all.rows).filter(|&r| all.number("n", r) >= 3.0).collect();
    assert_eq!(some.rows, larger.len());
    for (k, &r) in larger.iter().enumerate() {
        assert_eq!((some.text("drug", k), some.text("eb05", k)), (all.text("drug", r), all.text("eb05", r)));
    }
}

#[test]
fn json_gives_the_prior_its_likelihood_and_the_rows() {
    let dir = tempdir();
    let file = write(dir.path(), "pairs.csv", "drug,event,n\nA,x,3\nA,y,1\nB,x,2\n");
    let doc = signal_json(dir.path(), &["score", "--counts", &file, "--prior", PRIOR]);
    assert_eq!(doc["mgps"]["prior"]["alpha2"], 2.0);
    assert!(doc["mgps"]["neg_log_likelihood"].as_f64().unwrap() > 0.0);
    assert_eq!(doc["mgps"]["likelihood"]["form"], "per_component");
    assert_eq!(doc["rows"].as_array().unwrap().len(), 3);
    assert_eq!(doc["rows"][0]["drug"], "A");
}

#[test]
fn out_writes_the_table_and_its_sidecar() {
    let dir = tempdir();
    let file = write(dir.path(), "pairs.csv", "drug,event,n\nA,x,3\nA,y,1\nB,x,2\n");
    let run = signal(dir.path(), &["score", "--counts", &file, "--prior", PRIOR, "--out", "scores.csv"]).ok();
    assert!(run.stdout.contains("3 pairs"), "{}", run.stdout);
    let sidecar: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("scores.meta.json")).unwrap()).unwrap();
    assert_eq!(sidecar["kind"], "statistics");
    let role =
        |name: &str| sidecar["columns"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap()["role"].clone();
    assert_eq!(role("n"), "person_count");
    assert_eq!(role("n_total"), "denominator");
    assert_eq!(role("eb05"), "interval_bound");
    assert_eq!(sidecar["provenance"]["params"]["prior"], PRIOR);
    assert_eq!(Csv::read(&dir.path().join("scores.csv")).rows, 3);
}

#[test]
fn out_parquet_writes_the_same_table_with_types_and_nulls() {
    let dir = tempdir();
    let file = write(dir.path(), "pairs.csv", "drug,event,n,e\nA,x,3,0.5\nB,x,1,2.5\n");
    signal(dir.path(), &["score", "--counts", &file, "--prior", PRIOR, "--out", "scores.parquet"]).ok();
    signal(dir.path(), &["score", "--counts", &file, "--prior", PRIOR, "--out", "scores.csv"]).ok();
    assert!(dir.path().join("scores.meta.json").exists());
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let sql = |q: &str| -> String { conn.query_row(q, [], |r| r.get::<_, String>(0)).unwrap() };
    let (pq, csv) = (dir.path().join("scores.parquet"), dir.path().join("scores.csv"));
    // every cell equal, missing statistics (no margins) as nulls in both
    let differing = sql(&format!(
        "SELECT count(*)::VARCHAR FROM (SELECT * FROM read_parquet('{}') EXCEPT SELECT * FROM read_csv('{}'))",
        pq.display(),
        csv.display()
    ));
    assert_eq!(differing, "0");
    assert_eq!(
        sql(&format!("SELECT typeof(eb05) || ',' || typeof(evans) FROM read_parquet('{}') LIMIT 1", pq.display())),
        "DOUBLE,BOOLEAN"
    );
    assert_eq!(sql(&format!("SELECT count(*)::VARCHAR FROM read_parquet('{}') WHERE prr IS NULL", pq.display())), "2");
}

#[track_caller]
fn refused(text: &str, args: &[&str], needle: &str) {
    let dir = tempdir();
    write(dir.path(), "in.csv", text);
    let mut all = vec!["score", "--counts", "in.csv"];
    all.extend_from_slice(args);
    signal(dir.path(), &all).fails(2, needle);
}

#[test]
fn bad_counts_are_refused_with_the_row() {
    refused("drug,event,n\nA,x,3\nB,x,-1\n", &[], "row 2 (line 3): count -1 is negative");
    refused("drug,event,n\nA,x,3\nB,x,1.5\n", &[], "value 1.5 is not a whole number");
    refused("drug,event,n\nA,x,3\nB,x,1\nA,x,2\n", &[], "duplicate pair `A` / `x` (first at row 1)");
    refused("drug,event,n\n", &[], "no rows");
    refused("drug,event\nA,x\n", &[], "no column `n`");
    refused("drug,event,n\nA,,3\n", &[], "missing value");
}

#[test]
fn inconsistent_margins_are_refused() {
    let head = "drug,event,n,n_drug,n_event,n_total\n";
    refused(&format!("{head}A,x,5,4,20,100\n"), &[], "n = 5 is more than n_drug = 4");
    refused(&format!("{head}A,x,5,10,4,100\n"), &[], "n = 5 is more than n_event = 4");
    refused(&format!("{head}A,x,5,60,50,100\n"), &[], "n_drug + n_event - n = 105 is more than n_total = 100");
    refused(&format!("{head}A,x,1,10,20,100\nA,y,1,11,20,100\n"), &[], "11 for `A` differs from row 1's 10");
    refused(&format!("{head}A,x,1,10,20,100\nB,y,1,10,20,90\n"), &[], "n_total 90 differs");
    refused("drug,event,n,n_drug\nA,x,1,3\n", &[], "margins need all three columns");
    refused("drug,event,n,e\nA,x,1,0\n", &[], "expected count 0 is not positive");
}

#[test]
fn bad_case_level_input_is_refused() {
    refused("id,drug,event,stratum\n1,A,x,F\n1,B,y,M\n", &[], "id `1` is in stratum `M` here but in `F` at row 1");
    refused("id,drug,event\n,A,x\n", &[], "missing id");
}

#[test]
fn bad_options_are_refused() {
    let pairs = "drug,event,n\nA,x,3\nB,y,1\n";
    refused(pairs, &["--prior", "1,2,3"], "3 numbers; give five");
    refused(pairs, &["--prior", "1,2,3,4,1.5"], "P between 0 and 1");
    refused(pairs, &["--prior", "a,2,3,4,0.5"], "give five numbers");
    refused(pairs, &["--truncate", "0"], "no pair with n = 0");
    refused(pairs, &["--prior", PRIOR, "--out", "x.txt"], "give a .csv or .parquet file name");
}

#[test]
fn a_prior_fit_that_does_not_settle_leaves_mgps_empty_and_lists_the_estimates() {
    // All counts 1: the likelihood has no interior maximum, every start runs off to a boundary.
    let dir = tempdir();
    write(dir.path(), "ones.csv", "drug,event,n\nA,x,1\nA,y,1\nB,x,1\nB,y,1\n");
    let run = signal(dir.path(), &["score", "--counts", "ones.csv"]).ok();
    assert!(run.stderr.contains("MGPS prior not fitted") && run.stderr.contains("out of bounds"), "{}", run.stderr);
    assert!(run.stderr.contains("--prior"), "{}", run.stderr);
    let t = Csv::parse(&run.stdout);
    assert_eq!(t.rows, 4);
    assert_eq!((t.text("ebgm", 0), t.text("eb05", 0)), ("", ""));
    assert!(!t.text("ic", 0).is_empty(), "what needs no prior is computed");
    // A truncation above every count leaves nothing to fit on: said the same way.
    let run = signal(dir.path(), &["score", "--counts", "ones.csv", "--truncate", "9"]).ok();
    assert!(run.stderr.contains("no pair has a count of at least N* = 9"), "{}", run.stderr);
}

/// A zero cell leaves the statistics that divide by it empty, and the row says which and why.
#[test]
fn a_zero_cell_empties_what_it_divides_and_the_row_says_why() {
    let dir = tempdir();
    // A with x: a = 5, b = 0 (every report of A has x), c = 5, d = 90. C with y: a = 0.
    let file = write(
        dir.path(),
        "zero.csv",
        "drug,event,n,n_drug,n_event,n_total\nA,x,5,5,10,100\nB,x,5,50,10,100\nC,y,0,45,20,100\n",
    );
    let t = scores(dir.path(), &file);
    let ax = t.row_of("A", "x");
    assert_eq!((t.text("ror", ax), t.text("ror_lo", ax), t.text("ror025_gt1", ax)), ("", "", ""));
    assert_rel(t.number("prr", ax), 19.0, 1e-12, "PRR (5/5)/(5/95)");
    assert_eq!(t.text("not_estimable", ax), "ror, ror_lo, ror_hi: a zero cell (b = 0)");
    let cy = t.row_of("C", "y");
    assert_eq!((t.number("prr", cy), t.number("ror", cy)), (0.0, 0.0));
    assert_eq!(t.text("not_estimable", cy), "prr_hi, ror_hi: a zero cell (a = 0)");
    assert_eq!(t.text("not_estimable", t.row_of("B", "x")), "", "nothing undefined, nothing said");
}

#[test]
fn a_missing_file_is_not_found() {
    let dir = tempdir();
    signal(dir.path(), &["score", "--counts", "nope.csv"]).fails(4, "no such file");
}
