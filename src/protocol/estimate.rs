//! The statistics of one outcome in one subgroup: patients, events, person-years and incidence
//! per group, and the Cox hazard ratio of the drug against the comparator adjusted for sex, age and
//! age², stratified by site. A model that cannot be estimated says why, never gives a number.

use serde::Serialize;

use crate::stats::cox::{self, CoxError, CoxInput, CoxOptions, Term};
use crate::stats::incidence::{self, PoissonCi, Rate, Tally};

/// The model, as written beside every estimate.
pub const MODEL: &str = "Cox proportional hazards (Efron ties): drug vs comparator, adjusted for sex, age and age^2 \
                         (age as (age - 60)/10), stratified by site pseudonym; Wald 95% CI, and the profile-likelihood \
                         95% CI below 40 events; not estimated below 5 events";
/// The fewest events (both groups together) with which a hazard ratio is called estimable. Below
/// it no HR is given (when the model cannot be fitted, its own reason is given instead): with a
/// handful of events the estimate, its Wald interval and its z rest on one or two patients
/// (VALIDATION.md, issue 9: HR 66 (1.5-2887) flagged).
pub const MIN_EVENTS: u64 = 5;
/// Below this many events (both groups together) the profile-likelihood interval is given beside
/// the Wald one: about 10 events per coefficient of the model (drug, sex, age, age²; Peduzzi et al.
/// 1995), under which the likelihood is too far from the parabola the Wald interval assumes.
pub const FEW_EVENTS: u64 = 40;
/// Incidence rates are per this many person-years.
pub const RATE_PER: f64 = 1000.0;
pub const DAYS_PER_YEAR: f64 = 365.25;

/// The patients of the cohort with follow-up, as the models read them.
#[derive(Debug, Clone)]
pub struct Cohort {
    /// true: the monitored drug; false: the comparator.
    pub treated: Vec<bool>,
    pub male: Vec<f64>,
    pub age: Vec<f64>,
    /// Site pseudonym codes.
    pub site: Vec<u32>,
}

/// One outcome's columns over the cohort's rows.
#[derive(Debug, Clone, Copy)]
pub struct OutcomeColumns<'a> {
    pub event: &'a [bool],
    pub days: &'a [f64],
    /// The rows in the subgroup.
    pub keep: &'a [bool],
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupResult {
    pub patients: u64,
    pub events: u64,
    pub person_years: f64,
    pub rate: Rate,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HazardRatio {
    pub hr: f64,
    pub lo: f64,
    pub hi: f64,
    pub p: f64,
    /// The Wald statistic of the drug coefficient (log HR / its standard error): the statistic
    /// the sequential boundary is applied to.
    pub z: f64,
    /// Its information, 1 / variance of the log HR.
    pub information: f64,
    /// With fewer than [`FEW_EVENTS`] events: the 95% profile-likelihood interval of the HR (an
    /// infinite bound when the likelihood never falls that far), for reading the estimate; the
    /// flags use z and the Wald bound as at every look.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<(f64, f64)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Estimate {
    pub drug: GroupResult,
    pub comparator: GroupResult,
    /// The hazard ratio, or why the model cannot estimate it.
    pub hazard_ratio: Result<HazardRatio, String>,
}

impl Estimate {
    /// The per-look unadjusted flag: the lower 95% Wald bound of the hazard ratio is above 1, as
    /// if this look were the only one (the flag before sequential monitoring, kept for comparison).
    pub fn flagged_unadjusted(&self) -> bool {
        self.hazard_ratio.as_ref().is_ok_and(|h| h.lo > 1.0)
    }
}

pub fn estimate(cohort: &Cohort, outcome: OutcomeColumns) -> Estimate {
    let rows = canonical_rows(cohort, outcome);
    let years: Vec<f64> = rows.iter().map(|&i| outcome.days[i] / DAYS_PER_YEAR).collect();
    let events: Vec<u32> = rows.iter().map(|&i| outcome.event[i] as u32).collect();
    let groups: Vec<u32> = rows.iter().map(|&i| if cohort.treated[i] { 0 } else { 1 }).collect();
    let tallies = incidence::tally(&events, &years, &groups, 2);
    let group = |t: Tally| GroupResult {
        patients: t.patients,
        events: t.events,
        person_years: t.person_time,
        rate: t.rate(RATE_PER, PoissonCi::Exact),
    };
    let hazard_ratio = hazard_ratio(cohort, &rows, outcome);
    Estimate { drug: group(tallies[0]), comparator: group(tallies[1]), hazard_ratio }
}

/// The subgroup's rows in an order that depends on their values only. The rows reach the protocol
/// in whatever order a site's engine returned them (and person ids are drawn afresh at every
/// extraction); the sums over them, and near a monotone likelihood which coefficient is seen to run
/// away first, depend on that order, so the same patients must always be read in the same order.
fn canonical_rows(cohort: &Cohort, outcome: OutcomeColumns) -> Vec<usize> {
    let mut rows: Vec<usize> = (0..cohort.treated.len()).filter(|&i| outcome.keep[i]).collect();
    rows.sort_by(|&a, &b| {
        (cohort.site[a], cohort.treated[a], outcome.event[a])
            .cmp(&(cohort.site[b], cohort.treated[b], outcome.event[b]))
            .then(outcome.days[a].total_cmp(&outcome.days[b]))
            .then(cohort.male[a].total_cmp(&cohort.male[b]))
            .then(cohort.age[a].total_cmp(&cohort.age[b]))
    });
    rows
}

fn hazard_ratio(cohort: &Cohort, rows: &[usize], outcome: OutcomeColumns) -> Result<HazardRatio, String> {
    let pick = |column: &[f64]| rows.iter().map(|&i| column[i]).collect::<Vec<f64>>();
    let age10: Vec<f64> = rows.iter().map(|&i| (cohort.age[i] - 60.0) / 10.0).collect();
    let terms = vec![
        Term::numeric("drug", rows.iter().map(|&i| if cohort.treated[i] { 1.0 } else { 0.0 }).collect()),
        Term::numeric("male", pick(&cohort.male)),
        Term::numeric("age", age10.clone()),
        Term::numeric("age^2", age10.iter().map(|a| a * a).collect()),
    ];
    let time = pick(outcome.days);
    let event: Vec<bool> = rows.iter().map(|&i| outcome.event[i]).collect();
    let strata: Vec<u32> = rows.iter().map(|&i| cohort.site[i]).collect();
    let input = CoxInput { time: &time, event: &event, terms: &terms, strata: Some(&strata) };
    let spread = Spread::of(cohort, rows, outcome);
    // A group without events makes the drug's coefficient run away, but with age and age² beside
    // it which coefficient the fit sees run first is a matter of rounding: the patients' fact is
    // said before any fit.
    match spread.events {
        [0, 0] => return Err("not estimable: no events".into()),
        [0, _] => return Err("not estimable: no events in the drug group".into()),
        [_, 0] => return Err("not estimable: no events in the comparator group".into()),
        _ => {}
    }
    let why = |e| not_estimable(e, &spread);
    let fit = cox::fit(&input, &CoxOptions::default()).map_err(why)?;
    // After the fit: the model's own reasons say what is true of the patients, and come first.
    if fit.events < MIN_EVENTS {
        return Err(format!(
            "not estimable: {} event(s), fewer than the {MIN_EVENTS} a hazard ratio needs (the minimum-events rule)",
            fit.events
        ));
    }
    let c = fit.coefficients.iter().find(|c| c.name == "drug").expect("the drug term is in every fit");
    let profile = if fit.events < FEW_EVENTS {
        let interval = cox::profile_interval(&input, &CoxOptions::default(), "drug").map_err(why)?;
        Some((interval.lo.exp(), interval.hi.exp()))
    } else {
        None
    };
    Ok(HazardRatio { hr: c.hr, lo: c.hr_lo, hi: c.hr_hi, p: c.p, z: c.z, information: 1.0 / (c.se * c.se), profile })
}

/// Where the patients and events of each group are: what a model stratified by site can compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Spread {
    /// Patients and events of the drug and of the comparator group, over every site.
    patients: [u64; 2],
    events: [u64; 2],
    /// Sites with events in both groups.
    sites_with_events_in_both: usize,
}

impl Spread {
    fn of(cohort: &Cohort, rows: &[usize], outcome: OutcomeColumns) -> Spread {
        // Per site: [patients, events] of [drug, comparator].
        let mut sites: std::collections::BTreeMap<u32, [[u64; 2]; 2]> = Default::default();
        for &i in rows {
            let group = if cohort.treated[i] { 0 } else { 1 };
            let site = sites.entry(cohort.site[i]).or_default();
            site[0][group] += 1;
            site[1][group] += outcome.event[i] as u64;
        }
        let total = |k: usize, group: usize| sites.values().map(|s| s[k][group]).sum();
        Spread {
            patients: [total(0, 0), total(0, 1)],
            events: [total(1, 0), total(1, 1)],
            sites_with_events_in_both: sites.values().filter(|s| s[1][0] > 0 && s[1][1] > 0).count(),
        }
    }
}

/// Why a model could not be estimated, in the words of the results table: what is true of these
/// patients, told apart from what is true of the site-stratified model alone.
fn not_estimable(e: CoxError, spread: &Spread) -> String {
    const GROUPS: [&str; 2] = ["drug", "comparator"];
    match e {
        CoxError::NoEvents => "not estimable: no events".into(),
        CoxError::Separation { names } if names.iter().any(|n| n == "drug") => {
            if spread.sites_with_events_in_both == 0 {
                "not estimable: events in both groups, but never in both within one site, so the site-stratified \
                 model cannot compare them (monotone likelihood)"
                    .into()
            } else {
                "not estimable: events in both groups, but within each site the events the model can compare fall \
                 in one group only (monotone likelihood)"
                    .into()
            }
        }
        CoxError::Separation { names } => {
            format!("not estimable: too few events to adjust for {} (monotone likelihood)", names.join(", "))
        }
        CoxError::Constant { name, .. } if name == "drug" => match spread.patients.iter().position(|&n| n == 0) {
            Some(group) => format!("not estimable: one group only (no patients in the {} group)", GROUPS[group]),
            // The drug varies within no site (cox's check of the strata).
            None => "not estimable: patients of both groups, but never of both at one site, so the site-stratified \
                     model cannot compare them"
                .into(),
        },
        CoxError::Constant { name, .. } | CoxError::Collinear { name, .. } => {
            format!("not estimable: too few events to adjust for {name} (it does not vary among them)")
        }
        other => format!("not estimable: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cohort(n: usize) -> Cohort {
        Cohort {
            treated: (0..n).map(|i| i % 2 == 0).collect(),
            male: (0..n).map(|i| ((i / 2) % 2) as f64).collect(),
            age: (0..n).map(|i| 40.0 + (i % 37) as f64).collect(),
            site: (0..n).map(|i| (i % 3) as u32).collect(),
        }
    }

    #[test]
    fn counts_and_person_years_per_group() {
        let c = cohort(8);
        let event = [true, false, false, true, false, false, false, false];
        let days = [365.25; 8];
        let keep = [true, true, true, true, true, true, false, false];
        let e = estimate(&c, OutcomeColumns { event: &event, days: &days, keep: &keep });
        assert_eq!((e.drug.patients, e.drug.events), (3, 1));
        assert_eq!((e.comparator.patients, e.comparator.events), (3, 1));
        assert!((e.drug.person_years - 3.0).abs() < 1e-12);
        assert!((e.drug.rate.rate - 1000.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn no_events_and_one_sided_events_are_not_numbers() {
        let c = cohort(200);
        let days: Vec<f64> = (0..200).map(|i| 30.0 + i as f64).collect();
        let keep = vec![true; 200];
        let none = vec![false; 200];
        let e = estimate(&c, OutcomeColumns { event: &none, days: &days, keep: &keep });
        assert_eq!(e.hazard_ratio.unwrap_err(), "not estimable: no events");
        // Two events in each group, early, with both groups at risk: a model that converges, on
        // four events, one short of the minimum.
        let few: Vec<bool> = (0..200).map(|i| i < 4).collect();
        let e = estimate(&c, OutcomeColumns { event: &few, days: &days, keep: &keep });
        assert_eq!((e.drug.events, e.comparator.events), (2, 2));
        assert_eq!(
            e.hazard_ratio.unwrap_err(),
            "not estimable: 4 event(s), fewer than the 5 a hazard ratio needs (the minimum-events rule)"
        );
        let drug_only: Vec<bool> = (0..200).map(|i| i % 2 == 0 && i % 10 == 0).collect();
        let e = estimate(&c, OutcomeColumns { event: &drug_only, days: &days, keep: &keep });
        assert_eq!(e.hazard_ratio.clone().unwrap_err(), "not estimable: no events in the comparator group");
        assert!(!e.flagged_unadjusted());
    }

    /// The cohort's rows in another order: each column permuted alike.
    fn permuted(c: &Cohort, columns: [&[f64]; 2], order: &[usize]) -> (Cohort, [Vec<f64>; 2]) {
        let pick = |v: &[f64]| order.iter().map(|&i| v[i]).collect::<Vec<f64>>();
        let cohort = Cohort {
            treated: order.iter().map(|&i| c.treated[i]).collect(),
            male: pick(&c.male),
            age: pick(&c.age),
            site: order.iter().map(|&i| c.site[i]).collect(),
        };
        (cohort, columns.map(pick))
    }

    /// The same patients in any order give the same estimate to the last bit: a site's engine
    /// returns rows in an order of its own, and near a monotone likelihood rounding decides which
    /// coefficient runs away first (seen as "adjust for age" against "adjust for age^2" between a
    /// Spark and a DuckDB site).
    #[test]
    fn the_order_of_the_rows_changes_nothing() {
        let n = 300;
        let c = Cohort {
            treated: (0..n).map(|i| i % 3 == 0).collect(),
            male: (0..n).map(|i| ((i / 3) % 2) as f64).collect(),
            age: (0..n).map(|i| 30.0 + ((i * 7919) % 61) as f64 + 0.25).collect(),
            site: (0..n).map(|i| (i % 4) as u32).collect(),
        };
        let days: Vec<f64> = (0..n).map(|i| (10 + (i * 37) % 400) as f64).collect();
        let cases: [Vec<bool>; 3] = [
            (0..n).map(|i| i % 11 == 0 || i % 13 == 1).collect(), // converges
            (0..n).map(|i| i % 3 != 0 && i % 29 == 1).collect(),  // no events in the drug group
            (0..n).map(|i| i % 3 == 0 && i % 31 == 0 || i % 3 != 0 && c.age[i] > 85.0).collect(),
        ];
        // Permutations: 7 and 17 are prime to 300.
        let orders: [Vec<usize>; 3] =
            [(0..n).rev().collect(), (0..n).map(|i| (i * 7) % n).collect(), (0..n).map(|i| (i * 17 + 5) % n).collect()];
        for event in &cases {
            let flags: Vec<f64> = event.iter().map(|&e| e as u8 as f64).collect();
            let keep = vec![true; n];
            let expected = estimate(&c, OutcomeColumns { event, days: &days, keep: &keep });
            for order in &orders {
                let (c2, [days2, flags2]) = permuted(&c, [&days, &flags], order);
                let event2: Vec<bool> = flags2.iter().map(|&f| f == 1.0).collect();
                let got = estimate(&c2, OutcomeColumns { event: &event2, days: &days2, keep: &keep });
                assert_eq!(format!("{got:?}"), format!("{expected:?}"), "order {:?}", &order[..5]);
            }
        }
    }

    #[test]
    fn events_of_each_group_at_different_sites_are_told_from_no_events_in_a_group() {
        // Site 0 has both groups and events among the drug's patients only; site 1 has comparator
        // patients only, some with events: both groups have events, no site compares them.
        let n = 200;
        let c = Cohort {
            treated: (0..n).map(|i| i < 100 && i % 2 == 0).collect(),
            male: (0..n).map(|i| ((i / 2) % 2) as f64).collect(),
            age: (0..n).map(|i| 40.0 + (i % 37) as f64).collect(),
            site: (0..n).map(|i| (i >= 100) as u32).collect(),
        };
        let days: Vec<f64> = (0..n).map(|i| 30.0 + i as f64).collect();
        let event: Vec<bool> = (0..n).map(|i| (i < 100 && i % 10 == 0) || (i >= 100 && i % 10 == 5)).collect();
        let e = estimate(&c, OutcomeColumns { event: &event, days: &days, keep: &vec![true; n] });
        assert!(e.drug.events > 0 && e.comparator.events > 0);
        assert_eq!(
            e.hazard_ratio.unwrap_err(),
            "not estimable: events in both groups, but never in both within one site, so the site-stratified model \
             cannot compare them (monotone likelihood)"
        );
        // Each group at a site of its own: the groups never meet.
        let apart = Cohort { site: (0..n).map(|i| !c.treated[i] as u32).collect(), ..c.clone() };
        let e = estimate(&apart, OutcomeColumns { event: &event, days: &days, keep: &vec![true; n] });
        assert_eq!(
            e.hazard_ratio.unwrap_err(),
            "not estimable: patients of both groups, but never of both at one site, so the site-stratified model \
             cannot compare them"
        );
    }
}
