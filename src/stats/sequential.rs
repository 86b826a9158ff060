//! Group-sequential boundaries for repeated looks at accruing data: Lan-DeMets alpha spending
//! (Lan & DeMets 1983) with an O'Brien-Fleming-type or a Pocock-type spending function, one-sided,
//! efficacy ("harm") boundaries only.
//!
//! A sequence of looks k = 1, 2, … has statistics Z_k (a Wald z) with information I_k. Under no
//! effect, and with the information growing, they follow the canonical joint distribution
//! (Jennison & Turnbull 2000, ch. 3): Z_k = S_k / √I_k with S a Brownian motion in information
//! time, so cov(Z_j, Z_k) = √(I_j / I_k). The boundary c_k of look k is the value for which
//! P(Z_1 < c_1, …, Z_{k−1} < c_{k−1}, Z_k ≥ c_k) equals the alpha this look spends:
//! α(τ_k) minus the alpha already spent, where τ_k is the look's fraction of the plan (of its
//! calendar time or of its planned information). Earlier boundaries are never recomputed: a look
//! is added to the ones before it.
//!
//! The probability is computed by the recursive numerical integration of Armitage, McPherson & Rowe
//! (1969) on the grid of Jennison & Turnbull (2000, ch. 19): Simpson's rule on points dense in the
//! middle of the distribution and spaced logarithmically in its tails. [`GRID_R`] = 64 makes the
//! boundaries agree with R's `rpact` to 1e-6 (`testdata/sequential/`).
//!
//! Rules for looks that do not follow the plan (docs/protocol.md, "The surveillance plan"):
//! - a fraction beyond 1 (the look overruns the plan) spends what is left of α;
//! - a look whose information is not above that of the last look that could cross (data
//!   corrections can shrink it) spends nothing and cannot cross: the alpha it would have spent
//!   stays for the next look whose information is larger, so the level is kept whatever the data do;
//! - a look that the spending function gives nothing more (once α is spent) cannot cross.

use super::special::normal;
use serde::{Deserialize, Serialize};

/// The spending function: how much of the one-sided level α has been spent by fraction τ of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Spending {
    /// O'Brien-Fleming type: α(τ) = 2 − 2Φ(z_{1−α/2} / √τ). Spends almost nothing early, so
    /// the last look keeps nearly the level of a single test.
    #[serde(rename = "obrien_fleming")]
    OBrienFleming,
    /// Pocock type: α(τ) = α ln(1 + (e − 1) τ). Spends evenly, so early looks can cross sooner.
    Pocock,
}

impl Spending {
    pub fn name(self) -> &'static str {
        match self {
            Spending::OBrienFleming => "O'Brien-Fleming type (Lan-DeMets)",
            Spending::Pocock => "Pocock type (Lan-DeMets)",
        }
    }

    /// The cumulative alpha spent at fraction `tau` of a plan of one-sided level `alpha`: 0 at
    /// τ ≤ 0, α at τ ≥ 1.
    pub fn spent(self, alpha: f64, tau: f64) -> f64 {
        if tau <= 0.0 {
            return 0.0;
        }
        if tau >= 1.0 {
            return alpha;
        }
        match self {
            Spending::OBrienFleming => 2.0 * normal::sf(normal::quantile(1.0 - alpha / 2.0) / tau.sqrt()),
            Spending::Pocock => alpha * (1.0 + (std::f64::consts::E - 1.0) * tau).ln(),
        }
    }
}

/// The Jennison-Turnbull grid's size parameter: 12·r − 3 points per look after Simpson's midpoints.
pub const GRID_R: usize = 64;

/// One look of a sequence: its information (the inverse of the variance of the estimate; only
/// ratios between looks matter) and its fraction of the plan (calendar time or information).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Look {
    pub information: f64,
    pub fraction: f64,
}

/// Why a look has no boundary.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum NoBoundary {
    /// Its information is not above `previous`, the information of the last look that could cross.
    InformationNotAbove { previous: f64 },
    /// The spending function gives no more at this look's fraction than earlier looks spent (all
    /// of α once the plan's end is reached).
    NothingToSpend,
}

/// The boundary of one look: the statistic crosses when Z ≥ `z`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Boundary {
    /// The critical value, or why the look cannot cross.
    pub z: Result<f64, NoBoundary>,
    /// The alpha this look spends.
    pub alpha: f64,
    /// The alpha spent through this look.
    pub spent: f64,
}

/// A look already made, as recorded: its information and its boundary (None when it could not
/// cross). A sequence resumes from these, never recomputing them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Made {
    pub information: f64,
    pub z: Option<f64>,
}

/// The monitoring of one statistic across looks at level `alpha` (one-sided).
#[derive(Debug, Clone)]
pub struct Sequence {
    alpha: f64,
    spending: Spending,
    /// The looks that could cross: (information, boundary).
    crossable: Vec<(f64, f64)>,
    spent: f64,
}

impl Sequence {
    /// A sequence before its first look. `alpha` must be in (0, 0.5).
    pub fn new(alpha: f64, spending: Spending) -> Sequence {
        assert!(alpha > 0.0 && alpha < 0.5, "one-sided alpha {alpha} is outside (0, 0.5)");
        Sequence { alpha, spending, crossable: Vec::new(), spent: 0.0 }
    }

    /// A sequence that continues after the recorded looks and the alpha they spent.
    pub fn resume(alpha: f64, spending: Spending, made: &[Made], spent: f64) -> Sequence {
        let mut sequence = Sequence::new(alpha, spending);
        sequence.crossable = made.iter().filter_map(|m| m.z.map(|z| (m.information, z))).collect();
        sequence.spent = spent;
        sequence
    }

    /// The alpha spent so far.
    pub fn spent(&self) -> f64 {
        self.spent
    }

    /// The boundary of the next look, which joins the sequence.
    pub fn look(&mut self, look: Look) -> Boundary {
        let no_boundary = |why, spent| Boundary { z: Err(why), alpha: 0.0, spent };
        if let Some(&(previous, _)) = self.crossable.last()
            && look.information <= previous
        {
            return no_boundary(NoBoundary::InformationNotAbove { previous }, self.spent);
        }
        let target = self.spending.spent(self.alpha, look.fraction) - self.spent;
        if target <= 0.0 {
            return no_boundary(NoBoundary::NothingToSpend, self.spent);
        }
        let z = match self.continuation() {
            None => solve(normal::sf, target),
            Some((previous, nodes)) => {
                let (ratio, scale) = step(previous, look.information);
                solve(|c| nodes.iter().map(|n| n.mass * normal::sf((c - ratio * n.z) * scale)).sum(), target)
            }
        };
        self.crossable.push((look.information, z));
        self.spent += target;
        Boundary { z: Ok(z), alpha: target, spent: self.spent }
    }

    /// The sub-density of the last crossable look's statistic over the region where no look has
    /// crossed, as Simpson nodes with their weights folded in; None before the first look.
    fn continuation(&self) -> Option<(f64, Vec<Node>)> {
        let (&(first_information, first_z), rest) = self.crossable.split_first()?;
        let mut nodes: Vec<Node> =
            simpson(first_z).into_iter().map(|(z, w)| Node { z, mass: w * normal::pdf(z) }).collect();
        let mut information = first_information;
        for &(next_information, next_z) in rest {
            let (ratio, scale) = step(information, next_information);
            nodes = simpson(next_z)
                .into_iter()
                .map(|(z, w)| {
                    let density: f64 = nodes.iter().map(|n| n.mass * normal::pdf((z - ratio * n.z) * scale)).sum();
                    Node { z, mass: w * density * scale }
                })
                .collect();
            information = next_information;
        }
        Some((information, nodes))
    }
}

/// The boundaries of a design fixed in advance at these fractions (information proportional to
/// them), with the rules above for a fraction that does not grow or overruns 1.
pub fn design(alpha: f64, spending: Spending, fractions: &[f64]) -> Vec<Boundary> {
    let mut sequence = Sequence::new(alpha, spending);
    fractions.iter().map(|&t| sequence.look(Look { information: t, fraction: t })).collect()
}

/// A point of the grid with its Simpson weight times the sub-density there.
#[derive(Debug, Clone, Copy)]
struct Node {
    z: f64,
    mass: f64,
}

/// From a look with information `from` to one with `to`: Z_to given Z_from = u is normal with
/// mean u·√(from/to) and variance (to − from)/to. Returns (√(from/to), √(to/(to − from))).
fn step(from: f64, to: f64) -> (f64, f64) {
    ((from / to).sqrt(), (to / (to - from)).sqrt())
}

/// The Jennison-Turnbull grid for a standard normal statistic, cut at the boundary `upper` (which
/// becomes its last point), with Simpson's midpoints: (point, weight).
fn simpson(upper: f64) -> Vec<(f64, f64)> {
    let r = GRID_R as f64;
    let mut points: Vec<f64> = (1..6 * GRID_R)
        .map(|i| {
            let i = i as f64;
            if i < r {
                -3.0 - 4.0 * (r / i).ln()
            } else if i <= 5.0 * r {
                -3.0 + 3.0 * (i - r) / (2.0 * r)
            } else {
                3.0 + 4.0 * (r / (6.0 * r - i)).ln()
            }
        })
        .filter(|&x| x < upper)
        .collect();
    if upper.is_finite() && points.last().is_none_or(|&x| x < upper) {
        points.push(upper);
    }
    let mut nodes = Vec::with_capacity(2 * points.len());
    for pair in points.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let d = b - a;
        match nodes.last_mut() {
            Some((_, w)) => *w += d / 6.0,
            None => nodes.push((a, d / 6.0)),
        }
        nodes.push(((a + b) / 2.0, 4.0 * d / 6.0));
        nodes.push((b, d / 6.0));
    }
    nodes
}

/// The c at which the decreasing `tail(c)` equals `target`, by bisection to the last bit.
fn solve(tail: impl Fn(f64) -> f64, target: f64) -> f64 {
    let (mut lo, mut hi) = (-40.0f64, 40.0f64);
    for _ in 0..200 {
        let mid = (lo + hi) / 2.0;
        if mid <= lo || mid >= hi {
            break;
        }
        if tail(mid) > target { lo = mid } else { hi = mid }
    }
    (lo + hi) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_look_is_the_fixed_test() {
        let b = design(0.025, Spending::OBrienFleming, &[1.0]);
        assert!((b[0].z.unwrap() - 1.959_963_984_540_054).abs() < 1e-9, "{:?}", b[0]);
        assert!((b[0].spent - 0.025).abs() < 1e-15);
    }

    #[test]
    fn spending_functions_end_at_alpha() {
        for s in [Spending::OBrienFleming, Spending::Pocock] {
            assert!((s.spent(0.025, 1.0 - 1e-12) - 0.025).abs() < 1e-9);
            assert_eq!(s.spent(0.025, 0.0), 0.0);
            assert_eq!(s.spent(0.025, 2.0), 0.025);
        }
    }

    #[test]
    fn the_grid_integrates_the_normal_density() {
        let mass: f64 = simpson(f64::INFINITY).iter().map(|(z, w)| w * normal::pdf(*z)).sum();
        assert!((mass - 1.0).abs() < 1e-8, "{mass}");
        let below: f64 = simpson(1.0).iter().map(|(z, w)| w * normal::pdf(*z)).sum();
        assert!((below - normal::cdf(1.0)).abs() < 1e-8, "{below}");
    }

    #[test]
    fn a_look_without_more_information_spends_nothing() {
        let b = design(0.025, Spending::Pocock, &[0.3, 0.6, 0.5, 1.0]);
        assert_eq!(b[2].z, Err(NoBoundary::InformationNotAbove { previous: 0.6 }));
        assert_eq!(b[2].alpha, 0.0);
        assert!((b[3].spent - 0.025).abs() < 1e-15);
    }

    #[test]
    fn after_alpha_is_spent_no_look_crosses() {
        let b = design(0.025, Spending::OBrienFleming, &[0.5, 1.0, 1.2]);
        assert_eq!(b[2].z, Err(NoBoundary::NothingToSpend));
    }
}

/// The boundaries against R's rpact (testdata/sequential/boundaries.csv, written by
/// scripts/reference_sequential.sh, which records each R call).
#[cfg(test)]
mod rpact {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Row {
        case: String,
        spending: Spending,
        alpha: f64,
        fraction: f64,
        critical: Option<f64>,
        alpha_spent: Option<f64>,
    }

    #[test]
    fn boundaries_agree_with_rpact_to_1e_6() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/sequential/boundaries.csv");
        let mut reader = csv::ReaderBuilder::new().comment(Some(b'#')).from_path(path).expect("the reference file");
        let rows: Vec<Row> = reader.deserialize().collect::<Result<_, _>>().expect("reference rows");
        let mut cases: Vec<&str> = rows.iter().map(|r| r.case.as_str()).collect();
        cases.dedup();
        assert_eq!(cases.len(), 28, "designs in the reference");
        let mut worst = 0.0f64;
        for case in cases {
            let looks: Vec<&Row> = rows.iter().filter(|r| r.case == case).collect();
            let fractions: Vec<f64> = looks.iter().map(|r| r.fraction).collect();
            let boundaries = design(looks[0].alpha, looks[0].spending, &fractions);
            for (k, (row, boundary)) in looks.iter().zip(&boundaries).enumerate() {
                match (row.critical, boundary.z) {
                    (Some(expected), Ok(z)) => {
                        worst = worst.max((z - expected).abs());
                        assert!((z - expected).abs() < 1e-6, "{case} look {}: {z} vs rpact {expected}", k + 1);
                        let spent = row.alpha_spent.expect("a spent alpha beside each boundary");
                        assert!((boundary.spent - spent).abs() < 1e-6, "{case} look {}: spent", k + 1);
                    }
                    (None, Err(_)) => {}
                    (expected, got) => panic!("{case} look {}: {got:?} vs rpact {expected:?}", k + 1),
                }
            }
        }
        eprintln!("largest difference from rpact: {worst:.2e}");
    }
}
