//! The sequential monitoring of each outcome × subgroup across the analyses (docs/protocol.md,
//! "Repeated looks"): this look's statistic (the Wald z of the drug coefficient of the stratified
//! Cox model) and its information (1 / variance), the boundary given the alpha the earlier looks
//! spent as recorded in their results (never recomputed), and whether the statistic crossed it.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::estimate::Estimate;
use super::surveillance::SurveillancePlan;
use crate::error::Result;
use crate::stats::sequential::{Look, Made, NoBoundary, Sequence};

/// One look of one outcome × subgroup, as its results row records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Monitoring {
    /// The Wald z and the information, when the hazard ratio was estimated.
    pub statistic: Option<(f64, f64)>,
    /// The critical value of z, or why this look has none.
    pub boundary: Result<f64, String>,
    /// The alpha spent through this look.
    pub alpha_spent: f64,
    pub crossed: bool,
    /// The first analysis at which the statistic crossed, this one included.
    pub first_crossed: Option<u32>,
}

impl Monitoring {
    /// The flag: the statistic crossed the sequential boundary at this look or an earlier one. Over
    /// all the looks of the plan a no-effect outcome x subgroup gets it with probability alpha.
    pub fn flagged(&self) -> bool {
        self.first_crossed.is_some()
    }
}

/// The earlier looks of every (outcome, subgroup), in order.
pub type Earlier = HashMap<(String, String), Vec<Monitoring>>;

/// This look at `cutoff` of one outcome × subgroup, after its earlier looks.
pub fn look(
    plan: &SurveillancePlan,
    cutoff: NaiveDate,
    analysis: u32,
    earlier: &[Monitoring],
    e: &Estimate,
) -> Monitoring {
    let made: Vec<Made> = earlier
        .iter()
        .filter_map(|m| m.statistic.map(|(_, information)| Made { information, z: m.boundary.as_ref().ok().copied() }))
        .collect();
    let spent = earlier.last().map_or(0.0, |m| m.alpha_spent);
    let first_earlier = earlier.iter().find_map(|m| m.first_crossed);
    let Ok(hr) = &e.hazard_ratio else {
        let why = "no statistic: the hazard ratio was not estimated".to_string();
        return Monitoring {
            statistic: None,
            boundary: Err(why),
            alpha_spent: spent,
            crossed: false,
            first_crossed: first_earlier,
        };
    };
    let mut sequence = Sequence::resume(plan.alpha, plan.spending, &made, spent);
    let fraction = plan.fraction(cutoff, hr.information);
    let boundary = sequence.look(Look { information: hr.information, fraction });
    let crossed = boundary.z.is_ok_and(|z| hr.z >= z);
    Monitoring {
        statistic: Some((hr.z, hr.information)),
        boundary: boundary.z.map_err(no_boundary),
        alpha_spent: boundary.spent,
        crossed,
        first_crossed: first_earlier.or(crossed.then_some(analysis)),
    }
}

fn no_boundary(why: NoBoundary) -> String {
    match why {
        NoBoundary::InformationNotAbove { previous } => {
            format!("no boundary: information not above the earlier look's {previous:.4}")
        }
        NoBoundary::NothingToSpend => "no boundary: no alpha left to spend".into(),
    }
}
