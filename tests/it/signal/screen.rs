//! `signal screen` on file inputs: new-use episodes, the risk window, ranking and flags.

use super::{Csv, signal};
use crate::common::tempdir;

#[test]
fn counts_new_use_episodes_with_outcomes_in_the_window() {
    let dir = tempdir();
    // p1 starts A on day 0 (and again later: not a new use), has x on day 10 and y on day 40;
    // p2 starts A and B, x after B only; p3 had x before starting B (prevalent: not counted).
    std::fs::write(
        dir.path().join("exposures.csv"),
        "person,drug,date\np1,A,2020-01-01\np1,A,2020-03-01\np2,A,2020-01-01\np2,B,2020-06-01\np3,B,2020-05-01\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("outcomes.csv"),
        "person,outcome,date\np1,x,2020-01-11\np1,y,2020-02-10\np2,x,2020-06-20\np3,x,2020-04-01\np3,x,2020-05-10\n",
    )
    .unwrap();
    let run = signal(
        dir.path(),
        &[
            "screen",
            "--exposures",
            "exposures.csv",
            "--outcomes",
            "outcomes.csv",
            "--risk-window",
            "30",
            "--prior",
            "0.2,0.1,2,4,0.3",
        ],
    )
    .ok();
    let t = Csv::parse(&run.stdout);
    assert_eq!(t.rows, 2, "{}", run.stdout); // (A, x) and (B, x); y came 40 days after A
    let ax = t.row_of("A", "x");
    assert_eq!(
        (t.number("n", ax), t.number("n_drug", ax), t.number("n_event", ax), t.number("n_total", ax)),
        (1.0, 2.0, 2.0, 4.0)
    );
    let bx = t.row_of("B", "x");
    assert_eq!((t.number("n", bx), t.number("n_drug", bx)), (1.0, 2.0));
    assert_eq!(t.text("rank", 0), "1");
    assert!(t.number("eb05", 0) >= t.number("eb05", 1), "ranked by EB05");
}

#[test]
fn a_planted_signal_ranks_first_and_is_flagged() {
    let dir = tempdir();
    let (mut exposures, mut outcomes) = (String::from("person,drug,date\n"), String::from("person,outcome,date\n"));
    // 400 persons over 8 drugs; most users of D0 get outcome o0 within a week, others rarely.
    for p in 0..400 {
        let drug = p % 8;
        exposures.push_str(&format!("p{p},D{drug},2021-01-01\n"));
        let outcome = match drug {
            0 if p % 40 == 0 => continue,
            0 => 0,
            _ if p % 5 == 0 => p % 3,
            _ => continue,
        };
        outcomes.push_str(&format!("p{p},o{outcome},2021-01-0{}\n", 2 + p % 5));
    }
    std::fs::write(dir.path().join("e.csv"), exposures).unwrap();
    std::fs::write(dir.path().join("o.csv"), outcomes).unwrap();
    let run =
        signal(dir.path(), &["screen", "--exposures", "e.csv", "--outcomes", "o.csv", "--prior", "0.2,0.1,2,4,0.3"])
            .ok();
    let t = Csv::parse(&run.stdout);
    assert_eq!((t.text("drug", 0), t.text("event", 0)), ("D0", "o0"));
    for flag in ["evans", "ror025_gt1", "ic025_gt0", "eb05_ge2"] {
        assert_eq!(t.text(flag, 0), "true", "{flag}");
    }
}

#[test]
fn bad_screen_input_is_refused() {
    let dir = tempdir();
    std::fs::write(dir.path().join("e.csv"), "person,drug,date\np1,A,2020-01-01\n").unwrap();
    std::fs::write(dir.path().join("o.csv"), "person,outcome,date\np1,x,2021-01-01\n").unwrap();
    std::fs::write(dir.path().join("bad.csv"), "person,drug,date\np1,A,\n").unwrap();
    signal(dir.path(), &["screen", "--exposures", "e.csv", "--outcomes", "o.csv"])
        .fails(2, "no new-use episode has an outcome");
    signal(dir.path(), &["screen", "--exposures", "bad.csv", "--outcomes", "o.csv"]).fails(2, "missing date");
    signal(dir.path(), &["screen", "--exposures", "e.csv", "--outcomes", "o.csv", "--risk-window", "0"])
        .fails(2, "at least 1 day");
}

/// Four episodes cannot fit an MGPS prior: the pairs are still scored, ranked by IC025, with the
/// MGPS columns empty and why on each row (it used to print nothing and fail).
#[test]
fn a_tiny_screen_is_ranked_without_mgps() {
    let dir = tempdir();
    std::fs::write(
        dir.path().join("exposures.csv"),
        "person,drug,date\np1,A,2020-01-01\np2,A,2020-01-01\np3,B,2020-05-01\np4,B,2020-05-01\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("outcomes.csv"), "person,outcome,date\np1,x,2020-01-11\np3,y,2020-05-10\n").unwrap();
    let run = signal(dir.path(), &["screen", "--exposures", "exposures.csv", "--outcomes", "outcomes.csv"]).ok();
    assert!(run.stderr.contains("MGPS prior not fitted"), "{}", run.stderr);
    let t = Csv::parse(&run.stdout);
    assert_eq!(t.rows, 2, "{}", run.stdout);
    for r in 0..t.rows {
        assert_eq!((t.text("eb05", r), t.text("eb05_ge2", r)), ("", ""));
        assert!(t.text("not_estimable", r).contains("the MGPS prior was not fitted"), "{}", run.stdout);
        assert!(!t.text("ic025", r).is_empty() && !t.text("fisher_p", r).is_empty());
    }
    assert!(t.number("ic025", 0) >= t.number("ic025", 1), "ranked by IC025 without EB05");
}
