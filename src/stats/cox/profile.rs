//! Profile-likelihood confidence intervals of one coefficient (Venzon & Moolgavkar 1988): the
//! values b whose profile log likelihood — the maximum over the other coefficients with this one
//! held at b — is within χ²₁(0.95) / 2 of the maximum. Unlike the Wald interval it follows the
//! shape of the likelihood, which with few events is far from the parabola the Wald interval
//! assumes (R: `survival::coxph` with the coefficient held fixed through an offset; checked against
//! it in `testdata/cox_profile/`, written by `scripts/reference_profile.sh`).
//!
//! How: from the estimate, each side steps out by doubling multiples of the standard error until
//! the profile falls below the level (or the coefficient passes [`FAR`]: the bound is infinite),
//! then the crossing is found by the Illinois variant of regula falsi. Each profile value is a
//! Newton-Raphson fit of the other coefficients, started from the previous one.

use super::design::Design;
use super::risk::Sorted;
use super::{CoxError, CoxInput, CoxOptions, newton};
use crate::stats::linalg::Cholesky;

/// The 0.95 quantile of χ² with one degree of freedom: twice the drop of the log likelihood at the
/// ends of a 95% interval.
pub const CHI2_1_95: f64 = 3.841_458_820_694_124;
/// A coefficient beyond ±FAR (a hazard ratio beyond e^±20, about 5·10^8) is taken as infinite: a
/// profile that has not fallen to the level by then gives an infinite bound.
const FAR: f64 = 20.0;
/// The profile fit of the other coefficients has converged at this relative step.
const STEP_TOLERANCE: f64 = 1e-11;
/// The crossing is found to this relative width.
const ROOT_TOLERANCE: f64 = 1e-12;
const MAX_HALVINGS: usize = 40;

/// A 95% profile-likelihood interval of a coefficient (log hazard ratio), with the estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProfileInterval {
    pub coef: f64,
    /// −∞ or +∞ when the profile does not fall to the level on that side.
    pub lo: f64,
    pub hi: f64,
}

/// The 95% profile-likelihood interval of the coefficient of term `name`.
pub fn profile_interval(input: &CoxInput, options: &CoxOptions, name: &str) -> Result<ProfileInterval, CoxError> {
    let design = Design::new(input)?;
    let j = design
        .names
        .iter()
        .position(|n| n == name)
        .ok_or_else(|| CoxError::Input(format!("no covariate `{name}` in the model")))?;
    let sorted = Sorted::new(input, &design);
    sorted.check_within_strata(&design)?;
    let solution = newton::maximise(&sorted, &design.names, options)?;
    let p = design.p();
    let inverse = Cholesky::new(&solution.information, p)
        .map_err(|k| CoxError::Separation { names: vec![design.names[k].clone()] })?
        .inverse();
    let (estimate, se) = (solution.beta[j], inverse[j * p + j].sqrt());
    let scale = design.scale[j];
    let mut profile = Profile { sorted: &sorted, design: &design, options, j, beta: solution.beta.clone() };
    let level = solution.loglik - CHI2_1_95 / 2.0;
    let mut above = |b: f64| profile.loglik(b).map(|l| l - level);
    let lo = bound(&mut above, estimate, -se, scale)?;
    let hi = bound(&mut above, estimate, se, scale)?;
    Ok(ProfileInterval { coef: estimate / scale, lo: lo / scale, hi: hi / scale })
}

/// The profile log likelihood of coefficient `j` (scaled covariates).
struct Profile<'a> {
    sorted: &'a Sorted,
    design: &'a Design,
    options: &'a CoxOptions,
    j: usize,
    /// The last profile fit: the starting point of the next.
    beta: Vec<f64>,
}

impl Profile<'_> {
    fn loglik(&mut self, b: f64) -> Result<f64, CoxError> {
        let (p, j, ties) = (self.design.p(), self.j, self.options.ties);
        let free: Vec<usize> = (0..p).filter(|&k| k != j).collect();
        self.beta[j] = b;
        let mut current = self.sorted.evaluate(&self.beta, ties);
        for iteration in 0..self.options.max_iterations {
            if free.is_empty() {
                return Ok(current.loglik);
            }
            let information: Vec<f64> = free
                .iter()
                .flat_map(|&r| free.iter().map(move |&c| (r, c)))
                .map(|(r, c)| current.information[r * p + c])
                .collect();
            let gradient: Vec<f64> = free.iter().map(|&r| current.gradient[r]).collect();
            let step = Cholesky::new(&information, free.len())
                .map_err(|k| CoxError::Separation { names: vec![self.design.names[free[k]].clone()] })?
                .solve(&gradient);
            let relative =
                free.iter().zip(&step).map(|(&k, s)| s.abs() / (1.0 + self.beta[k].abs())).fold(0.0, f64::max);
            if relative <= STEP_TOLERANCE {
                return Ok(current.loglik);
            }
            let mut fraction = 1.0;
            loop {
                let mut candidate = self.beta.clone();
                free.iter().zip(&step).for_each(|(&k, s)| candidate[k] += fraction * s);
                let next = self.sorted.evaluate(&candidate, ties);
                if next.loglik >= current.loglik - 1e-13 * current.loglik.abs() {
                    self.beta = candidate;
                    current = next;
                    break;
                }
                fraction /= 2.0;
                if fraction < 0.5f64.powi(MAX_HALVINGS as i32) {
                    return Err(CoxError::NotConverged { iterations: iteration + 1, step: relative });
                }
            }
        }
        Err(CoxError::NotConverged { iterations: self.options.max_iterations, step: f64::NAN })
    }
}

/// The end of the interval on the side of `step` (scaled): where `above` (positive inside the
/// interval) changes sign, or ±∞ when it has not by ±[`FAR`] on the original scale.
fn bound(
    above: &mut impl FnMut(f64) -> Result<f64, CoxError>,
    estimate: f64,
    step: f64,
    scale: f64,
) -> Result<f64, CoxError> {
    let far = step.signum() * FAR * scale;
    let (mut inside, mut inside_value) = (estimate, above(estimate)?);
    let mut distance = step;
    let (outside, outside_value) = loop {
        let b = if ((estimate + distance) / scale).abs() >= FAR { far } else { estimate + distance };
        let value = above(b)?;
        if value < 0.0 {
            break (b, value);
        }
        if b == far {
            return Ok(step.signum() * f64::INFINITY);
        }
        (inside, inside_value) = (b, value);
        distance *= 2.0;
    };
    illinois(above, (inside, inside_value), (outside, outside_value))
}

/// The root of `f` between `a` (f > 0) and `b` (f < 0) by the Illinois method.
fn illinois(
    f: &mut impl FnMut(f64) -> Result<f64, CoxError>,
    (mut a, mut fa): (f64, f64),
    (mut b, mut fb): (f64, f64),
) -> Result<f64, CoxError> {
    let mut side = 0;
    for _ in 0..200 {
        if (b - a).abs() <= ROOT_TOLERANCE * (1.0 + a.abs()) {
            break;
        }
        let c = (a * fb - b * fa) / (fb - fa);
        let fc = f(c)?;
        if fc == 0.0 {
            return Ok(c);
        }
        if fc > 0.0 {
            (a, fa) = (c, fc);
            if side == 1 {
                fb /= 2.0;
            }
            side = 1;
        } else {
            (b, fb) = (c, fc);
            if side == -1 {
                fa /= 2.0;
            }
            side = -1;
        }
    }
    Ok((a * fb - b * fa) / (fb - fa))
}

/// The intervals against R's survival (testdata/cox_profile/, written by
/// scripts/reference_profile.sh, which records each R call).
#[cfg(test)]
mod survival {
    use super::*;
    use crate::stats::cox::Term;

    #[derive(serde::Deserialize)]
    struct Reference {
        dataset: String,
        events: u64,
        coef: f64,
        profile_lo: f64,
        profile_hi: f64,
    }

    #[derive(serde::Deserialize)]
    struct Patient {
        time: f64,
        event: u8,
        drug: f64,
        male: f64,
        age: f64,
        site: u32,
    }

    fn read<T: serde::de::DeserializeOwned>(name: &str) -> Vec<T> {
        let path = format!("{}/testdata/cox_profile/{name}", env!("CARGO_MANIFEST_DIR"));
        let mut reader = csv::ReaderBuilder::new().comment(Some(b'#')).from_path(&path).expect("the reference file");
        reader.deserialize().collect::<Result<_, _>>().expect("reference rows")
    }

    #[test]
    fn profile_intervals_agree_with_r_survival_to_1e_6() {
        let references: Vec<Reference> = read("intervals.csv");
        assert_eq!(references.iter().map(|r| r.dataset.as_str()).collect::<Vec<_>>(), ["few", "many"]);
        for r in &references {
            let patients: Vec<Patient> = read(&format!("{}.csv", r.dataset));
            let age10: Vec<f64> = patients.iter().map(|p| (p.age - 60.0) / 10.0).collect();
            let terms = vec![
                Term::numeric("drug", patients.iter().map(|p| p.drug).collect()),
                Term::numeric("male", patients.iter().map(|p| p.male).collect()),
                Term::numeric("age10", age10.clone()),
                Term::numeric("age10sq", age10.iter().map(|a| a * a).collect()),
            ];
            let time: Vec<f64> = patients.iter().map(|p| p.time).collect();
            let event: Vec<bool> = patients.iter().map(|p| p.event == 1).collect();
            let strata: Vec<u32> = patients.iter().map(|p| p.site).collect();
            assert_eq!(event.iter().filter(|&&e| e).count() as u64, r.events);
            let input = CoxInput { time: &time, event: &event, terms: &terms, strata: Some(&strata) };
            let interval = profile_interval(&input, &CoxOptions::default(), "drug").unwrap();
            let name = &r.dataset;
            assert!((interval.coef - r.coef).abs() < 1e-6, "{name}: estimate {} vs R {}", interval.coef, r.coef);
            assert!((interval.lo - r.profile_lo).abs() < 1e-6, "{name}: lower {} vs R {}", interval.lo, r.profile_lo);
            assert!((interval.hi - r.profile_hi).abs() < 1e-6, "{name}: upper {} vs R {}", interval.hi, r.profile_hi);
            eprintln!(
                "{name}: differences from R {:.1e}, {:.1e}",
                (interval.lo - r.profile_lo).abs(),
                (interval.hi - r.profile_hi).abs()
            );
        }
    }
}
