//! Properties of the statistics library on random data (in-process, through the public API the
//! early-safety protocol calls).

use midnet::stats::cox::{self, CoxError, CoxFit, CoxInput, CoxOptions, Term, Ties};
use midnet::stats::{cuminc, incidence, km};
use midnet::table::Categories;
use proptest::prelude::*;

use crate::common::proptest_cases;

/// A patient: follow-up in whole days (so times tie), event, a numeric covariate, a group.
type Row = (u8, bool, f64, bool);

fn rows() -> impl Strategy<Value = Vec<Row>> {
    prop::collection::vec((1u8..40, any::<bool>(), -3.0f64..3.0, any::<bool>()), 25..150)
}

fn rows_and_order() -> impl Strategy<Value = (Vec<Row>, Vec<usize>)> {
    rows().prop_flat_map(|rows| {
        let n = rows.len();
        (Just(rows), Just((0..n).collect::<Vec<usize>>()).prop_shuffle())
    })
}

fn fit(rows: &[Row], shift: f64, ties: Ties, strata: Option<&[u32]>) -> Result<CoxFit, CoxError> {
    let time: Vec<f64> = rows.iter().map(|r| r.0 as f64).collect();
    let event: Vec<bool> = rows.iter().map(|r| r.1).collect();
    let terms = vec![
        Term::numeric("x", rows.iter().map(|r| r.2 + shift).collect()),
        Term::numeric("g", rows.iter().map(|r| r.3 as u8 as f64).collect()),
    ];
    cox::fit(
        &CoxInput { time: &time, event: &event, terms: &terms, strata },
        &CoxOptions { ties, ..CoxOptions::default() },
    )
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

/// Two fits agree: same coefficients, errors and likelihood, or the same failure.
fn same(a: &Result<CoxFit, CoxError>, b: &Result<CoxFit, CoxError>, compare_loglik: bool) -> Result<(), TestCaseError> {
    match (a, b) {
        (Ok(a), Ok(b)) => {
            for (x, y) in a.coefficients.iter().zip(&b.coefficients) {
                prop_assert!(close(x.coef, y.coef, 1e-7), "coef {} vs {}", x.coef, y.coef);
                prop_assert!(close(x.se, y.se, 1e-7), "se {} vs {}", x.se, y.se);
            }
            if compare_loglik {
                prop_assert!(close(a.loglik, b.loglik, 1e-9), "loglik {} vs {}", a.loglik, b.loglik);
            }
        }
        (Err(a), Err(b)) => prop_assert_eq!(std::mem::discriminant(a), std::mem::discriminant(b)),
        (a, b) => prop_assert!(false, "one fit failed: {:?} vs {:?}", a.as_ref().err(), b.as_ref().err()),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(proptest_cases()))]

    #[test]
    fn cox_does_not_depend_on_row_order((rows, order) in rows_and_order(), breslow in any::<bool>()) {
        let ties = if breslow { Ties::Breslow } else { Ties::Efron };
        let shuffled: Vec<Row> = order.iter().map(|&i| rows[i]).collect();
        same(&fit(&rows, 0.0, ties, None), &fit(&shuffled, 0.0, ties, None), true)?;
        // strata follow their rows
        let strata: Vec<u32> = rows.iter().map(|r| r.0 as u32 % 3).collect();
        let shuffled_strata: Vec<u32> = order.iter().map(|&i| strata[i]).collect();
        same(&fit(&rows, 0.0, ties, Some(&strata)), &fit(&shuffled, 0.0, ties, Some(&shuffled_strata)), true)?;
    }

    #[test]
    fn cox_does_not_depend_on_shifting_a_covariate(rows in rows(), shift in -1000.0f64..1000.0) {
        same(&fit(&rows, 0.0, Ties::Efron, None), &fit(&rows, shift, Ties::Efron, None), true)?;
    }

    #[test]
    fn without_ties_efron_is_breslow(rows in rows()) {
        // each row its own time
        let time: Vec<f64> = (0..rows.len()).map(|i| i as f64 + 1.0).collect();
        let event: Vec<bool> = rows.iter().map(|r| r.1).collect();
        let terms = vec![Term::numeric("x", rows.iter().map(|r| r.2).collect())];
        let run = |ties| cox::fit(&CoxInput { time: &time, event: &event, terms: &terms, strata: None }, &CoxOptions { ties, ..CoxOptions::default() });
        same(&run(Ties::Efron), &run(Ties::Breslow), true)?;
    }

    #[test]
    fn km_is_one_minus_cumulative_incidence_without_competing_events(rows in rows()) {
        let time: Vec<f64> = rows.iter().map(|r| r.0 as f64).collect();
        let event: Vec<bool> = rows.iter().map(|r| r.1).collect();
        let curve = km::fit(&time, &event).unwrap();
        let incidence = cuminc::fit(&time, &event, &vec![false; rows.len()]).unwrap();
        prop_assert_eq!(curve.steps.len(), incidence.steps.len());
        for (s, c) in curve.steps.iter().zip(&incidence.steps) {
            prop_assert!((s.survival - (1.0 - c.cuminc)).abs() < 1e-12);
            // and the delta-method SE of I is Greenwood's SE of S
            if s.se.is_finite() {
                prop_assert!((s.se - c.se).abs() < 1e-9, "{} vs {}", s.se, c.se);
            }
        }
    }

    #[test]
    fn km_groups_are_the_curves_of_each_group_alone(rows in rows()) {
        let time: Vec<f64> = rows.iter().map(|r| r.0 as f64).collect();
        let event: Vec<bool> = rows.iter().map(|r| r.1).collect();
        let labels: Vec<&str> = rows.iter().map(|r| if r.3 { "b" } else { "a" }).collect();
        let groups = Categories::from_labels(&labels);
        let curves = km::fit_groups(&time, &event, &groups).unwrap();
        for (code, curve) in curves.iter().enumerate() {
            let (t, e): (Vec<f64>, Vec<bool>) = rows.iter().zip(&groups.codes).filter(|(_, c)| **c == code as u32).map(|(r, _)| (r.0 as f64, r.1)).unzip();
            // as JSON, where an undefined (NaN) SE is null and so equal to itself
            let alone = km::fit(&t, &e).unwrap();
            prop_assert_eq!(serde_json::to_string(curve).unwrap(), serde_json::to_string(&alone).unwrap());
        }
    }

    #[test]
    fn rates_of_strata_add_up_to_the_total(rows in rows()) {
        let events: Vec<u32> = rows.iter().map(|r| r.1 as u32).collect();
        let time: Vec<f64> = rows.iter().map(|r| r.0 as f64 / 10.0).collect();
        let strata: Vec<u32> = rows.iter().map(|r| r.3 as u32).collect();
        let tallies = incidence::tally(&events, &time, &strata, 2);
        let total = incidence::total(&tallies);
        prop_assert_eq!(total.patients, rows.len() as u64);
        prop_assert_eq!(total.events, events.iter().map(|&e| e as u64).sum::<u64>());
        prop_assert!((total.person_time - time.iter().sum::<f64>()).abs() < 1e-9);
    }

    #[test]
    fn standardising_one_stratum_gives_the_garwood_interval(events in 0u64..500, person_time in 0.5f64..1e5) {
        let t = incidence::Tally { patients: 1, events, person_time };
        let s = incidence::standardized(&[t], &[1.0], 1000.0).unwrap();
        let r = t.rate(1000.0, incidence::PoissonCi::Exact);
        prop_assert!(close(s.rate, r.rate, 1e-12));
        prop_assert!(close(s.lo, r.lo, 1e-9), "{} vs {}", s.lo, r.lo);
        prop_assert!(close(s.hi, r.hi, 1e-9), "{} vs {}", s.hi, r.hi);
    }
}
