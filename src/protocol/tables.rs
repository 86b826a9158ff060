//! The tables of an analysis, written as CSV with their sidecars (column roles for the export
//! gate) into `work/protocol/analysis-K/`: the results per outcome and subgroup, the attrition of
//! the cohort, its baseline table, the cumulative-incidence curves of flagged outcomes, and for
//! signal refinement the time to onset and the incidence by duration of use.

use std::path::Path;

use crate::error::Result;
use crate::schema::ColumnRole as R;
use crate::stats::{individual, km};
use crate::table::{CsvTable, Provenance, TableKind, float_cell, write_csv};

use super::estimate::{Estimate, MODEL};
use super::library::Outcome;
use super::monitor::Monitoring;

pub const RESULTS: &str = "results.csv";
pub const ATTRITION: &str = "attrition.csv";
pub const BASELINE: &str = "baseline.csv";
pub const CURVES: &str = "curves.csv";
pub const ONSET: &str = "onset.csv";
pub const DURATION: &str = "duration.csv";

/// The two subgroups of every outcome.
pub const SUBGROUPS: [&str; 2] = ["whole cohort", "baseline normal"];

/// One outcome in one subgroup.
pub struct ResultRow<'a> {
    pub outcome: &'a Outcome,
    pub subgroup: &'static str,
    pub estimate: Estimate,
    pub monitoring: Monitoring,
}

pub fn results(rows: &[ResultRow], tests: usize) -> CsvTable {
    let mut t = CsvTable::new(&[
        ("outcome", R::Label),
        ("label", R::Label),
        ("system", R::Label),
        ("severity", R::Label),
        ("subgroup", R::Label),
        ("patients_drug", R::PersonCount),
        ("events_drug", R::EventCount),
        ("person_years_drug", R::PersonTime),
        ("rate_drug", R::Rate),
        ("rate_drug_lo95", R::IntervalBound),
        ("rate_drug_hi95", R::IntervalBound),
        ("patients_comparator", R::PersonCount),
        ("events_comparator", R::EventCount),
        ("person_years_comparator", R::PersonTime),
        ("rate_comparator", R::Rate),
        ("rate_comparator_lo95", R::IntervalBound),
        ("rate_comparator_hi95", R::IntervalBound),
        ("hr", R::Ratio),
        ("hr_lo95", R::IntervalBound),
        ("hr_hi95", R::IntervalBound),
        ("hr_profile_lo95", R::IntervalBound),
        ("hr_profile_hi95", R::IntervalBound),
        ("p", R::PValue),
        ("status", R::Label),
        ("flagged_unadjusted", R::Label),
        ("tests", R::Other),
        ("model", R::Label),
        ("z", R::Estimate),
        ("information", R::Estimate),
        ("boundary", R::Estimate),
        ("alpha_spent", R::Other),
        ("crossed", R::Label),
        ("first_crossed", R::Other),
        ("flagged_sequential", R::Label),
    ]);
    for r in rows {
        let (e, m) = (&r.estimate, &r.monitoring);
        let (hr, lo, hi, p, status) = match &e.hazard_ratio {
            Ok(h) => (float_cell(h.hr), float_cell(h.lo), float_cell(h.hi), float_cell(h.p), "estimated".to_string()),
            Err(why) => (String::new(), String::new(), String::new(), String::new(), why.clone()),
        };
        let profile = e.hazard_ratio.as_ref().ok().and_then(|h| h.profile);
        let (profile_lo, profile_hi) =
            profile.map_or((String::new(), String::new()), |(lo, hi)| (bound(lo), bound(hi)));
        t.push(vec![
            r.outcome.id.clone(),
            r.outcome.label.clone(),
            r.outcome.system.clone(),
            r.outcome.severity.clone(),
            r.subgroup.to_string(),
            e.drug.patients.to_string(),
            e.drug.events.to_string(),
            float_cell(round(e.drug.person_years, 2)),
            float_cell(round(e.drug.rate.rate, 3)),
            float_cell(round(e.drug.rate.lo, 3)),
            float_cell(round(e.drug.rate.hi, 3)),
            e.comparator.patients.to_string(),
            e.comparator.events.to_string(),
            float_cell(round(e.comparator.person_years, 2)),
            float_cell(round(e.comparator.rate.rate, 3)),
            float_cell(round(e.comparator.rate.lo, 3)),
            float_cell(round(e.comparator.rate.hi, 3)),
            hr,
            lo,
            hi,
            profile_lo,
            profile_hi,
            p,
            status,
            yes_no(e.flagged_unadjusted()),
            tests.to_string(),
            MODEL.to_string(),
            m.statistic.map_or(String::new(), |(z, _)| float_cell(z)),
            m.statistic.map_or(String::new(), |(_, information)| float_cell(information)),
            m.boundary.as_ref().map_or(String::new(), |&z| float_cell(z)),
            float_cell(m.alpha_spent),
            yes_no(m.crossed),
            m.first_crossed.map_or(String::new(), |k| k.to_string()),
            yes_no(m.flagged()),
        ]);
    }
    t
}

/// An interval bound; an infinite one (the profile likelihood never falls that far) as `inf`.
fn bound(v: f64) -> String {
    if v == f64::INFINITY { "inf".to_string() } else { float_cell(v) }
}

fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_string()
}

/// Attrition summed over the sites (never per site), then the patients without follow-up.
pub struct AttritionRow {
    pub rule: String,
    pub kind: String,
    pub before: i64,
    pub removed: i64,
}

pub fn attrition(rows: &[AttritionRow]) -> CsvTable {
    let mut t = CsvTable::new(&[
        ("step", R::Other),
        ("rule", R::Label),
        ("kind", R::Label),
        ("patients_before", R::PersonCount),
        ("removed", R::PersonCount),
        ("patients_after", R::PersonCount),
    ]);
    for (i, r) in rows.iter().enumerate() {
        t.push(vec![
            i.to_string(),
            r.rule.clone(),
            r.kind.clone(),
            r.before.to_string(),
            r.removed.to_string(),
            (r.before - r.removed).to_string(),
        ]);
    }
    t
}

/// A characteristic's level with its count in each group.
pub struct BaselineRow {
    pub characteristic: String,
    pub level: String,
    pub drug: u64,
    pub comparator: u64,
}

pub fn baseline(rows: &[BaselineRow], totals: (u64, u64)) -> CsvTable {
    let mut t = CsvTable::new(&[
        ("characteristic", R::Label),
        ("level", R::Label),
        ("drug_n", R::PersonCount),
        ("drug_pct", R::Proportion),
        ("comparator_n", R::PersonCount),
        ("comparator_pct", R::Proportion),
    ]);
    let pct = |n: u64, total: u64| {
        if total == 0 { String::new() } else { float_cell(round(100.0 * n as f64 / total as f64, 1)) }
    };
    for r in rows {
        t.push(vec![
            r.characteristic.clone(),
            r.level.clone(),
            r.drug.to_string(),
            pct(r.drug, totals.0),
            r.comparator.to_string(),
            pct(r.comparator, totals.1),
        ]);
    }
    t
}

/// A point of a cumulative-incidence curve (1 - Kaplan-Meier).
pub struct CurvePoint {
    pub outcome: String,
    pub subgroup: &'static str,
    pub group: &'static str,
    pub day: f64,
    pub n_at_risk: u64,
    pub cumulative: f64,
    pub lo: f64,
    pub hi: f64,
}

/// The cumulative incidence (1 − Kaplan-Meier, log-log interval) of one group read on the grid of
/// [`crate::stats::km::CURVE_GRID_DAYS`], from day 0 while at least `min_count` patients are at risk: the tail of a
/// curve on a handful of patients is noise, and would show them.
pub fn curve_points(
    outcome: &str,
    subgroup: &'static str,
    group: &'static str,
    curve: &km::Curve,
    min_count: u64,
) -> Vec<CurvePoint> {
    let mut points = Vec::new();
    let mut day = 0.0;
    loop {
        let p = curve.at(day);
        if p.n_at_risk < min_count.max(1) {
            return points;
        }
        points.push(CurvePoint {
            outcome: outcome.to_string(),
            subgroup,
            group,
            day,
            n_at_risk: p.n_at_risk,
            cumulative: 1.0 - p.survival,
            lo: 1.0 - p.hi,
            hi: 1.0 - p.lo,
        });
        day += crate::stats::km::CURVE_GRID_DAYS;
    }
}

pub fn curves(points: &[CurvePoint]) -> CsvTable {
    let mut t = CsvTable::new(&[
        ("outcome", R::Label),
        ("subgroup", R::Label),
        ("group", R::Label),
        ("day", R::Time),
        ("n_at_risk", R::AtRisk),
        ("cumulative_incidence", R::Proportion),
        ("ci_lo95", R::IntervalBound),
        ("ci_hi95", R::IntervalBound),
    ]);
    for p in points {
        t.push(vec![
            p.outcome.clone(),
            p.subgroup.to_string(),
            p.group.to_string(),
            float_cell(p.day),
            p.n_at_risk.to_string(),
            float_cell(round(p.cumulative, 5)),
            float_cell(round(p.lo, 5)),
            float_cell(round(p.hi, 5)),
        ]);
    }
    t
}

/// Signal refinement: days from index to the event among the patients with one.
pub struct OnsetRow {
    pub outcome: String,
    pub subgroup: &'static str,
    pub group: &'static str,
    pub events: u64,
    /// Median and quartiles of the days to onset; None without events.
    pub quartiles: Option<(f64, f64, f64)>,
}

/// The onset table. A quartile is one or two patients' days to onset: it is given only when at
/// least `min_count` events lie on each side of it (a median needs 21 events, a quartile 41, with
/// the guideline's 10), and left empty otherwise.
pub fn onset(rows: &[OnsetRow], min_count: u64) -> CsvTable {
    let mut t = CsvTable::new(&[
        ("outcome", R::Label),
        ("subgroup", R::Label),
        ("group", R::Label),
        ("events", R::EventCount),
        ("onset_days_q1", R::Quantile),
        ("onset_days_median", R::Quantile),
        ("onset_days_q3", R::Quantile),
    ]);
    for r in rows {
        let cell = |value: f64, level: f64| {
            if individual::quantile_shown(r.events, level, min_count) { float_cell(value) } else { String::new() }
        };
        let (q1, m, q3) = r.quartiles.map_or((String::new(), String::new(), String::new()), |(a, b, c)| {
            (cell(a, 0.25), cell(b, 0.5), cell(c, 0.75))
        });
        t.push(vec![r.outcome.clone(), r.subgroup.to_string(), r.group.to_string(), r.events.to_string(), q1, m, q3]);
    }
    t
}

/// Signal refinement: events and person-years by duration of use (days since index).
pub struct DurationRow {
    pub outcome: String,
    pub subgroup: &'static str,
    pub band: String,
    pub group: &'static str,
    pub at_risk: u64,
    pub events: u64,
    pub person_years: f64,
}

pub fn duration(rows: &[DurationRow]) -> CsvTable {
    let mut t = CsvTable::new(&[
        ("outcome", R::Label),
        ("subgroup", R::Label),
        ("days_of_use", R::Label),
        ("group", R::Label),
        ("patients_at_risk", R::AtRisk),
        ("events", R::EventCount),
        ("person_years", R::PersonTime),
        ("rate", R::Rate),
    ]);
    for r in rows {
        let rate = if r.person_years > 0.0 {
            float_cell(round(r.events as f64 * 1000.0 / r.person_years, 3))
        } else {
            String::new()
        };
        t.push(vec![
            r.outcome.clone(),
            r.subgroup.to_string(),
            r.band.clone(),
            r.group.to_string(),
            r.at_risk.to_string(),
            r.events.to_string(),
            float_cell(round(r.person_years, 2)),
            rate,
        ]);
    }
    t
}

pub fn write(dir: &Path, name: &str, table: &CsvTable, kind: TableKind, provenance: &Provenance) -> Result<()> {
    write_csv(&dir.join(name), table, kind, provenance.clone())
}

fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}
