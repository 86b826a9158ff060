//! Kaplan-Meier survival curves (Kaplan & Meier 1958) with Greenwood standard errors (Greenwood
//! 1926) and log-log ("exponential Greenwood") 95% confidence intervals (Kalbfleisch & Prentice
//! 1980, the default of Stata and of lifelines; R's `conf.type = "log-log"`).
//!
//! Conventions, as in R's `survfit` and lifelines: the curve has a step at every distinct time,
//! censored times included; a censored patient is still at risk at their censoring time; the
//! number at risk at time t counts patients whose follow-up time is ≥ t.

use rayon::prelude::*;
use serde::Serialize;

use super::check;
use super::special::normal::Z_975;
use super::timeline::{Status, Timeline};
use crate::error::Result;
use crate::table::Categories;

/// Curves are read every this many days from the index date: a coarse grid, so that no point of a
/// curve is the day of one person's event (a step of the curve would be).
pub const CURVE_GRID_DAYS: f64 = 30.0;

/// One step of the curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub time: f64,
    pub n_at_risk: u64,
    pub events: u64,
    pub censored: u64,
    /// S(t): the probability of being event-free after `time`.
    pub survival: f64,
    /// Greenwood standard error of S(t); undefined (NaN) once S(t) = 0.
    pub se: f64,
    /// Log-log 95% interval; [1, 1] before the first event, undefined once S(t) = 0.
    pub lo: f64,
    pub hi: f64,
}

/// The curve read at one time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    pub time: f64,
    pub survival: f64,
    pub se: f64,
    pub lo: f64,
    pub hi: f64,
    pub n_at_risk: u64,
}

/// A Kaplan-Meier curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Curve {
    pub n: u64,
    pub events: u64,
    pub steps: Vec<Step>,
}

impl Curve {
    /// The curve of a summarised sample (competing events, if any, count as censoring).
    pub fn from_timeline(line: &Timeline) -> Curve {
        let mut survival = 1.0;
        let mut greenwood = 0.0; // Σ d / (n (n - d))
        let mut steps = Vec::with_capacity(line.times.len());
        for i in 0..line.times.len() {
            let (n, d) = (line.at_risk[i] as f64, line.events[i] as f64);
            if d > 0.0 {
                survival *= 1.0 - d / n;
                greenwood += d / (n * (n - d));
            }
            let (se, lo, hi) = interval(survival, greenwood);
            steps.push(Step {
                time: line.times[i],
                n_at_risk: line.at_risk[i],
                events: line.events[i],
                censored: line.censored[i] + line.competing[i],
                survival,
                se,
                lo,
                hi,
            });
        }
        Curve { n: line.n(), events: line.total_events(), steps }
    }

    /// The curve at time `t`: the last step at or before `t`, and the patients at risk at `t`.
    pub fn at(&self, t: f64) -> Point {
        let after = self.steps.partition_point(|s| s.time <= t);
        let n_at_risk = self.steps.get(self.steps.partition_point(|s| s.time < t)).map_or(0, |s| s.n_at_risk);
        let (survival, se, lo, hi) = match after.checked_sub(1).map(|i| &self.steps[i]) {
            Some(s) => (s.survival, s.se, s.lo, s.hi),
            None => (1.0, 0.0, 1.0, 1.0),
        };
        Point { time: t, survival, se, lo, hi, n_at_risk }
    }
}

/// Greenwood SE and log-log interval of S from the Greenwood sum.
fn interval(survival: f64, greenwood: f64) -> (f64, f64, f64) {
    if survival <= 0.0 {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let se = survival * greenwood.sqrt();
    if greenwood == 0.0 {
        return (se, survival, survival);
    }
    // log(-log S) ± z σ with σ = sqrt(greenwood) / |log S|, mapped back to S.
    let sigma = greenwood.sqrt() / survival.ln().abs();
    let lo = survival.powf((Z_975 * sigma).exp());
    let hi = survival.powf((-Z_975 * sigma).exp());
    (se, lo, hi)
}

/// The Kaplan-Meier curve of one sample. `time` ≥ 0, `event[i]` true for an event, false for
/// censoring.
pub fn fit(time: &[f64], event: &[bool]) -> Result<Curve> {
    check::same_length(("time", time.len()), ("event", event.len()))?;
    check::times(time)?;
    let status: Vec<Status> = event.iter().map(|&e| Status::of_event(e)).collect();
    Ok(Curve::from_timeline(&Timeline::new(time, &status)))
}

/// One curve per group, in the order of `groups.labels`.
pub fn fit_groups(time: &[f64], event: &[bool], groups: &Categories) -> Result<Vec<Curve>> {
    check::same_length(("time", time.len()), ("event", event.len()))?;
    check::same_length(("time", time.len()), ("group", groups.codes.len()))?;
    check::times(time)?;
    let status: Vec<Status> = event.iter().map(|&e| Status::of_event(e)).collect();
    let lines = Timeline::grouped(time, &status, Some(&groups.codes), groups.levels());
    Ok(lines.par_iter().map(Curve::from_timeline).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn textbook_steps() {
        // 1, 2+, 3, 3, 4+: S(1) = 4/5, S(3) = 4/5 · 1/3
        let curve = fit(&[1.0, 2.0, 3.0, 3.0, 4.0], &[true, false, true, true, false]).unwrap();
        let times: Vec<f64> = curve.steps.iter().map(|s| s.time).collect();
        assert_eq!(times, [1.0, 2.0, 3.0, 4.0]);
        assert!((curve.at(3.0).survival - 0.8 / 3.0).abs() < 1e-15);
        assert_eq!(curve.at(2.5).n_at_risk, 3);
        assert_eq!(curve.at(0.5).survival, 1.0);
        assert_eq!(curve.at(0.5).n_at_risk, 5);
        assert_eq!(curve.at(9.0).n_at_risk, 0);
    }

    #[test]
    fn interval_brackets_survival() {
        let curve = fit(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[true, false, true, false, true, false]).unwrap();
        for s in &curve.steps {
            assert!(s.lo <= s.survival && s.survival <= s.hi, "{s:?}");
        }
    }

    #[test]
    fn everyone_failing_leaves_undefined_errors() {
        let curve = fit(&[1.0, 2.0], &[true, true]).unwrap();
        let last = curve.steps.last().unwrap();
        assert_eq!(last.survival, 0.0);
        assert!(last.se.is_nan());
    }

    #[test]
    fn bad_time_is_named() {
        let err = fit(&[1.0, -1.0], &[true, true]).unwrap_err().to_string();
        assert!(err.contains("`time`, row 2"), "{err}");
    }
}
