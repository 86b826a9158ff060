//! Cumulative incidence of an event with death as a competing risk: the Aalen-Johansen estimator
//! (Aalen & Johansen 1978), I(t) = Σ_{tj ≤ t} S(tj−) d_j / n_j, where S is the Kaplan-Meier curve
//! of leaving follow-up by either cause. Its standard error is the delta-method estimate of
//! Marubini & Valsecchi (1995, ch. 10), the one statsmodels' `CumIncidenceRight` reports.
//!
//! Without competing events I(t) = 1 − S(t) of the Kaplan-Meier curve of the event.

use rayon::prelude::*;
use serde::Serialize;

use super::check::{self, BadValue};
use super::timeline::{Status, Timeline};
use crate::error::Result;
use crate::table::Categories;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub time: f64,
    pub n_at_risk: u64,
    pub events: u64,
    pub competing: u64,
    pub censored: u64,
    /// I(t): the probability of having had the event by `time`.
    pub cuminc: f64,
    pub se: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    pub time: f64,
    pub cuminc: f64,
    pub se: f64,
    pub n_at_risk: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Curve {
    pub n: u64,
    pub events: u64,
    pub competing: u64,
    pub steps: Vec<Step>,
}

impl Curve {
    pub fn from_timeline(line: &Timeline) -> Curve {
        let mut survival = 1.0; // all-cause S(t−)
        let mut cuminc = 0.0;
        // Running sums of the variance: with r = d_all / (n (n − d_all)),
        // var I(t) = Σ (I(t) − I_j)² r_j + Σ S_j² (n_j − d_j) d_j / n_j³ − 2 Σ (I(t) − I_j) S_j d_j / n_j²,
        // expanded in powers of I(t) so that each step adds to the sums once.
        let (mut r, mut ir, mut iir, mut binomial, mut s, mut is) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
        let mut steps = Vec::with_capacity(line.times.len());
        for i in 0..line.times.len() {
            let n = line.at_risk[i] as f64;
            let d = line.events[i] as f64;
            let d_all = d + line.competing[i] as f64;
            cuminc += survival * d / n;
            if d_all > 0.0 {
                let rj = d_all / (n * (n - d_all));
                r += rj;
                ir += cuminc * rj;
                iir += cuminc * cuminc * rj;
                binomial += survival * survival * (n - d) * d / (n * n * n);
                s += survival * d / (n * n);
                is += cuminc * survival * d / (n * n);
                survival *= 1.0 - d_all / n;
            }
            let var = cuminc * cuminc * r - 2.0 * cuminc * ir + iir + binomial - 2.0 * cuminc * s + 2.0 * is;
            steps.push(Step {
                time: line.times[i],
                n_at_risk: line.at_risk[i],
                events: line.events[i],
                competing: line.competing[i],
                censored: line.censored[i],
                cuminc,
                se: if var < 0.0 { 0.0 } else { var.sqrt() }, // rounding can leave −0.0…; NaN stays NaN
            });
        }
        Curve { n: line.n(), events: line.total_events(), competing: line.total_competing(), steps }
    }

    /// The curve at time `t` and the patients at risk at `t`.
    pub fn at(&self, t: f64) -> Point {
        let after = self.steps.partition_point(|s| s.time <= t);
        let n_at_risk = self.steps.get(self.steps.partition_point(|s| s.time < t)).map_or(0, |s| s.n_at_risk);
        let (cuminc, se) = after.checked_sub(1).map_or((0.0, 0.0), |i| (self.steps[i].cuminc, self.steps[i].se));
        Point { time: t, cuminc, se, n_at_risk }
    }
}

/// Each patient's status from an event flag and a competing-event (death) flag. A patient with
/// both is an error: follow-up ends at the first of the two, so only one can be recorded.
pub fn statuses(event: &[bool], competing: &[bool]) -> Result<Vec<Status>, BadValue> {
    event
        .iter()
        .zip(competing)
        .enumerate()
        .map(|(row, (&e, &c))| match (e, c) {
            (true, true) => Err(BadValue {
                row,
                what: "both the event and the competing event (death) are marked; follow-up ends at the first, \
                       so mark only that one"
                    .to_string(),
            }),
            (true, false) => Ok(Status::Event),
            (false, true) => Ok(Status::Competing),
            (false, false) => Ok(Status::Censored),
        })
        .collect()
}

fn checked(time: &[f64], event: &[bool], competing: &[bool]) -> Result<Vec<Status>> {
    check::same_length(("time", time.len()), ("event", event.len()))?;
    check::same_length(("time", time.len()), ("competing", competing.len()))?;
    check::times(time)?;
    statuses(event, competing).map_err(|bad| bad.into_error("event"))
}

/// The cumulative incidence of the event of one sample.
pub fn fit(time: &[f64], event: &[bool], competing: &[bool]) -> Result<Curve> {
    let status = checked(time, event, competing)?;
    Ok(Curve::from_timeline(&Timeline::new(time, &status)))
}

/// One curve per group, in the order of `groups.labels`.
pub fn fit_groups(time: &[f64], event: &[bool], competing: &[bool], groups: &Categories) -> Result<Vec<Curve>> {
    check::same_length(("time", time.len()), ("group", groups.codes.len()))?;
    let status = checked(time, event, competing)?;
    let lines = Timeline::grouped(time, &status, Some(&groups.codes), groups.levels());
    Ok(lines.par_iter().map(Curve::from_timeline).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_competing_events_it_is_one_minus_km() {
        let time = [1.0, 2.0, 2.0, 3.0, 5.0, 5.0, 8.0];
        let event = [true, false, true, true, true, false, true];
        let ci = fit(&time, &event, &[false; 7]).unwrap();
        let km = super::super::km::fit(&time, &event).unwrap();
        for (a, b) in ci.steps.iter().zip(&km.steps) {
            assert!((a.cuminc - (1.0 - b.survival)).abs() < 1e-15);
        }
    }

    #[test]
    fn competing_events_lower_the_incidence() {
        let time = [1.0, 2.0, 3.0, 4.0];
        let with = fit(&time, &[true, false, true, false], &[false, true, false, false]).unwrap();
        // S(2−)=3/4 after the first event; death at 2; event at 3 with 2 at risk and S(3−)=1/2.
        assert!((with.at(3.0).cuminc - (0.25 + 0.5 / 2.0)).abs() < 1e-15);
    }

    #[test]
    fn both_flags_on_one_row_is_an_error() {
        let err = fit(&[1.0, 2.0], &[false, true], &[false, true]).unwrap_err().to_string();
        assert!(err.contains("row 2"), "{err}");
    }
}
