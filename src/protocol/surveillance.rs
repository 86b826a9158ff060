//! The surveillance plan of a project (docs/protocol.md, "The surveillance plan"): the looks planned
//! by data cut-off, the overall one-sided level, the alpha-spending function and the time scale it
//! spends over, and the rules for a look that overruns the plan or brings less information than the
//! one before. It is data (`work/protocol/surveillance.json`), set with `midnet protocol plan`
//! before the first analysis (`project_plan`), fixed from then on, and copied into the record of
//! every analysis.

use std::path::Path;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::bad_input;
use crate::error::{Error, IoContext, Result};
use crate::stats::sequential::Spending;

pub const PLAN_FILE: &str = "surveillance.json";
pub const FORMAT: &str = "midnet-surveillance/1";
/// The protocol script's default study start (`start` in sql/protocol/protocol.midnet.in): the
/// day from which data accrue, the origin of calendar time.
pub const STUDY_START: &str = "2019-04-01";
/// The plan's one-sided level when none is given.
pub const DEFAULT_ALPHA: f64 = 0.025;
/// The default plan's looks: quarterly over the two-year usage period.
pub const DEFAULT_LOOKS: u32 = 8;
const DEFAULT_MONTHS_APART: u32 = 3;

/// What the alpha is spent over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Timescale {
    /// The fraction of a look is the share of the plan's calendar time (from the study start to the
    /// last planned cut-off) that its cut-off has reached: the same for every outcome × subgroup.
    Calendar,
    /// The fraction of a look is the test's information over the plan's `max_information`, for each
    /// outcome × subgroup; a look at or after the last planned cut-off has fraction 1 (it spends
    /// what is left), and one reaching `max_information` before it overruns the plan.
    Information,
}

impl Timescale {
    pub fn name(self) -> &'static str {
        match self {
            Timescale::Calendar => "calendar time",
            Timescale::Information => "information",
        }
    }
}

/// A look whose cut-off is after the last planned one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overrun {
    /// It spends whatever alpha is left; looks after it cannot cross.
    SpendRemaining,
}

/// A look whose information is not above that of the last look that could cross.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShortLook {
    /// It spends nothing and cannot cross; the alpha it would have spent waits for the next look
    /// with more information.
    SpendNothing,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurveillancePlan {
    pub format: String,
    /// The planned data cut-offs (YYYY-MM-DD), increasing.
    pub looks: Vec<String>,
    /// The overall one-sided level over every look of one outcome × subgroup.
    pub alpha: f64,
    pub spending: Spending,
    pub timescale: Timescale,
    /// Over information: the information (1 / variance of the log HR) at which a test has spent
    /// all of alpha; none over calendar time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_information: Option<f64>,
    /// The origin of calendar time (YYYY-MM-DD).
    pub start: String,
    pub overrun: Overrun,
    pub short_look: ShortLook,
    /// Who set it (`protocol plan`), or `default` when the first analysis took the default plan.
    pub set_by: String,
}

/// What `protocol plan` is given.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    pub looks: Vec<String>,
    pub alpha: f64,
    pub spending: Spending,
    pub timescale: Timescale,
    pub max_information: Option<f64>,
    pub start: String,
}

impl SurveillancePlan {
    /// A plan from its options, checked: real dates, increasing, after the start; a level in (0, 0.5).
    pub fn new(opts: &PlanOptions, set_by: &str) -> Result<SurveillancePlan> {
        if !(opts.alpha > 0.0 && opts.alpha < 0.5) {
            return Err(bad_input!(
                "--alpha {}: the one-sided level must be above 0 and below 0.5 (e.g. 0.025)",
                opts.alpha
            ));
        }
        match (opts.timescale, opts.max_information) {
            (Timescale::Information, Some(i)) if i.is_finite() && i > 0.0 => {}
            (Timescale::Information, Some(i)) => {
                return Err(bad_input!(
                    "--max-information {i}: the information at the plan's end must be a number above 0 (e.g. 25 for \
                     about 100 events split evenly between the groups)"
                ));
            }
            (Timescale::Information, None) => {
                return Err(bad_input!(
                    "--timescale information needs --max-information: the information (1 / variance of the log HR) at \
                     which a test has spent all of alpha"
                ));
            }
            (Timescale::Calendar, Some(_)) => {
                return Err(bad_input!(
                    "--max-information applies to --timescale information only; calendar time needs none"
                ));
            }
            (Timescale::Calendar, None) => {}
        }
        let start = crate::clock::parse_date("--start", &opts.start)?;
        if opts.looks.is_empty() {
            return Err(bad_input!("--looks: name the planned cut-offs, e.g. --looks 2026-03-31,2026-06-30"));
        }
        let mut previous = start;
        for (k, text) in opts.looks.iter().enumerate() {
            let date = crate::clock::parse_date(&format!("--looks (look {})", k + 1), text)?;
            if date <= previous {
                let what = if k == 0 { format!("the start {start}") } else { format!("look {k} ({previous})") };
                return Err(bad_input!(
                    "--looks: look {} ({date}) is not after {what}; list the cut-offs in increasing order, after --start",
                    k + 1
                ));
            }
            previous = date;
        }
        Ok(SurveillancePlan {
            format: FORMAT.to_string(),
            looks: opts.looks.iter().map(|l| l.trim().to_string()).collect(),
            alpha: opts.alpha,
            spending: opts.spending,
            timescale: opts.timescale,
            max_information: opts.max_information,
            start: start.to_string(),
            overrun: Overrun::SpendRemaining,
            short_look: ShortLook::SpendNothing,
            set_by: set_by.to_string(),
        })
    }

    /// The plan a project gets when its first analysis runs without one: eight quarterly looks from
    /// that analysis's cut-off (the two-year usage period), O'Brien-Fleming-type spending at
    /// one-sided 2.5% over calendar time from the study start.
    pub fn default_from(first_cutoff: NaiveDate) -> SurveillancePlan {
        let looks = (0..DEFAULT_LOOKS)
            .map(|k| crate::clock::add_months(first_cutoff, k * DEFAULT_MONTHS_APART).to_string())
            .collect();
        let opts = PlanOptions {
            looks,
            alpha: DEFAULT_ALPHA,
            spending: Spending::OBrienFleming,
            timescale: Timescale::Calendar,
            max_information: None,
            start: STUDY_START.into(),
        };
        SurveillancePlan::new(&opts, "default").expect("the default plan is valid")
    }

    /// The fraction of the plan that a look at `cutoff` of a test with this `information` has
    /// reached (above 1 for a look that overruns). Calendar time: days from the start to the
    /// cut-off over those to the last planned look. Information: the information over the plan's
    /// maximum, and 1 at or after the last planned cut-off, the plan's end.
    pub fn fraction(&self, cutoff: NaiveDate, information: f64) -> f64 {
        let day = |text: &str| crate::clock::parse_ymd(text).expect("a checked plan's dates");
        let end = day(self.looks.last().expect("a plan has looks"));
        match self.timescale {
            Timescale::Information => {
                let max = self.max_information.expect("a checked plan over information has its maximum");
                if cutoff < end { information / max } else { (information / max).max(1.0) }
            }
            Timescale::Calendar => {
                let start = day(&self.start);
                (cutoff - start).num_days() as f64 / (end - start).num_days() as f64
            }
        }
    }
}

/// The project's plan, if one was set.
pub fn read(protocol: &Path) -> Result<Option<SurveillancePlan>> {
    let path = protocol.join(PLAN_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).at(&path)?;
    let plan: SurveillancePlan = serde_json::from_str(&text).map_err(|e| {
        Error::Integrity(format!("{}: not a surveillance plan ({e}); it was changed by hand", path.display()))
    })?;
    if plan.format != FORMAT {
        return Err(Error::Integrity(format!("{}: format `{}`, expected `{FORMAT}`", path.display(), plan.format)));
    }
    // A plan changed by hand must still be one `protocol plan` would have written.
    let opts = PlanOptions {
        looks: plan.looks.clone(),
        alpha: plan.alpha,
        spending: plan.spending,
        timescale: plan.timescale,
        max_information: plan.max_information,
        start: plan.start.clone(),
    };
    SurveillancePlan::new(&opts, &plan.set_by)
        .map_err(|e| Error::Integrity(format!("{}: not a valid plan ({e}); it was changed by hand", path.display())))?;
    Ok(Some(plan))
}

pub(super) fn write(protocol: &Path, plan: &SurveillancePlan) -> Result<std::path::PathBuf> {
    std::fs::create_dir_all(protocol).at(protocol)?;
    let path = protocol.join(PLAN_FILE);
    let text = serde_json::to_string_pretty(plan).expect("a plan serialises");
    crate::store::write_atomically(&path, text.as_bytes())?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(looks: &[&str]) -> PlanOptions {
        PlanOptions {
            looks: looks.iter().map(|s| s.to_string()).collect(),
            alpha: 0.025,
            spending: Spending::Pocock,
            timescale: Timescale::Calendar,
            max_information: None,
            start: "2024-01-01".into(),
        }
    }

    #[test]
    fn calendar_fraction_runs_from_the_start_to_the_last_look() {
        let plan = SurveillancePlan::new(&opts(&["2024-07-01", "2025-01-01"]), "ana").unwrap();
        let at = |d: &str| plan.fraction(crate::clock::parse_ymd(d).unwrap(), 3.0);
        assert!((at("2024-07-01") - 182.0 / 366.0).abs() < 1e-12);
        assert_eq!(at("2025-01-01"), 1.0);
        assert!(at("2025-04-01") > 1.0);
    }

    #[test]
    fn information_fraction_is_the_test_s_over_the_plan_s_and_the_last_planned_look_ends_the_plan() {
        let information = PlanOptions {
            timescale: Timescale::Information,
            max_information: Some(20.0),
            ..opts(&["2024-07-01", "2025-01-01"])
        };
        let plan = SurveillancePlan::new(&information, "ana").unwrap();
        let at = |d: &str, i: f64| plan.fraction(crate::clock::parse_ymd(d).unwrap(), i);
        assert_eq!(at("2024-07-01", 5.0), 0.25);
        assert_eq!(at("2024-07-01", 30.0), 1.5, "more information than planned before the end overruns");
        assert_eq!(at("2025-01-01", 5.0), 1.0, "the last planned look spends what is left");
        assert_eq!(at("2025-04-01", 30.0), 1.5);
        let e =
            SurveillancePlan::new(&PlanOptions { max_information: None, ..information.clone() }, "ana").unwrap_err();
        assert!(e.to_string().contains("--timescale information needs --max-information"), "{e}");
        let e = SurveillancePlan::new(&PlanOptions { max_information: Some(-1.0), ..information.clone() }, "ana");
        assert!(e.unwrap_err().to_string().contains("--max-information -1: "));
        let e = SurveillancePlan::new(&PlanOptions { max_information: Some(9.0), ..opts(&["2024-07-01"]) }, "ana");
        assert!(e.unwrap_err().to_string().contains("--max-information applies to --timescale information only"));
    }

    #[test]
    fn bad_plans_are_refused_with_where() {
        let e = SurveillancePlan::new(&opts(&["2024-07-01", "2024-06-30"]), "ana").unwrap_err().to_string();
        assert!(e.contains("look 2 (2024-06-30) is not after look 1 (2024-07-01)"), "{e}");
        let e = SurveillancePlan::new(&opts(&["2023-12-31"]), "ana").unwrap_err().to_string();
        assert!(e.contains("not after the start 2024-01-01"), "{e}");
        let e = SurveillancePlan::new(&opts(&["2024-02-30"]), "ana").unwrap_err().to_string();
        assert!(e.contains("--looks (look 1)") && e.contains("February 2024 has 29 days"), "{e}");
        let e = SurveillancePlan::new(&PlanOptions { alpha: 0.5, ..opts(&["2024-07-01"]) }, "ana").unwrap_err();
        assert!(e.to_string().contains("--alpha 0.5"), "{e}");
        assert!(SurveillancePlan::new(&opts(&[]), "ana").is_err());
    }

    #[test]
    fn the_default_plan_is_eight_quarterly_looks() {
        let plan = SurveillancePlan::default_from(crate::clock::parse_ymd("2025-09-30").unwrap());
        assert_eq!(plan.looks.len(), 8);
        assert_eq!(plan.looks[1], "2025-12-30");
        assert_eq!(plan.spending, Spending::OBrienFleming);
    }
}
