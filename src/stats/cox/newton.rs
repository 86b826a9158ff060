//! Newton-Raphson on the partial likelihood with step halving, and the diagnosis of a fit that
//! cannot converge.
//!
//! Converged: the Newton step is below [`STEP_TOLERANCE`] on the scaled covariates. A monotone
//! likelihood (one coefficient's estimate is infinite) shows as a likelihood that no longer
//! moves while the steps stay large — the check R's `coxph` makes ("Loglik converged before
//! variable …") — or as an information matrix that collapses away from β = 0.

use super::risk::Sorted;
use super::{CoxError, CoxOptions};
use crate::stats::linalg::Cholesky;

/// The largest step (scaled covariates, relative to 1 + |β|) at which the fit has converged.
const STEP_TOLERANCE: f64 = 1e-9;
/// A relative change of the log likelihood this small counts as no change.
const FLAT_LIKELIHOOD: f64 = 1e-10;
/// A step this large on a flat likelihood means the coefficient is running away.
const RUNAWAY_STEP: f64 = 1e-3;
const MAX_HALVINGS: usize = 40;
/// A likelihood lower by this much (relative) than the current one is rounding, not worse.
const ROUNDING: f64 = 1e-13;

/// The maximum of the partial likelihood (scaled covariates).
pub(super) struct Solution {
    pub beta: Vec<f64>,
    pub information: Vec<f64>,
    pub loglik: f64,
    pub loglik_null: f64,
    pub iterations: usize,
}

pub(super) fn maximise(sorted: &Sorted, names: &[String], options: &CoxOptions) -> Result<Solution, CoxError> {
    let p = names.len();
    let mut beta = vec![0.0; p];
    let mut current = sorted.evaluate(&beta, options.ties);
    let loglik_null = current.loglik;
    let mut last_step = f64::INFINITY;
    for iteration in 0..options.max_iterations {
        let step = match Cholesky::new(&current.information, p) {
            Ok(chol) => chol.solve(&current.gradient),
            Err(j) if iteration == 0 => {
                return Err(CoxError::Collinear { name: names[j].clone(), others: names[..j].to_vec() });
            }
            Err(j) => return Err(CoxError::Separation { names: vec![names[j].clone()] }),
        };
        last_step = relative_step(&step, &beta);
        if last_step <= STEP_TOLERANCE {
            return Ok(Solution {
                beta,
                information: current.information,
                loglik: current.loglik,
                loglik_null,
                iterations: iteration,
            });
        }
        // Take the step, halving it while the likelihood gets worse.
        let mut scale = 1.0;
        let (next_beta, next) = loop {
            let candidate: Vec<f64> = beta.iter().zip(&step).map(|(b, s)| b + scale * s).collect();
            let eval = sorted.evaluate(&candidate, options.ties);
            if eval.loglik >= current.loglik - ROUNDING * current.loglik.abs() {
                break (candidate, eval);
            }
            scale /= 2.0;
            if scale < 0.5f64.powi(MAX_HALVINGS as i32) {
                return Err(CoxError::NotConverged { iterations: iteration + 1, step: last_step });
            }
        };
        let flat = (next.loglik - current.loglik).abs() <= FLAT_LIKELIHOOD * current.loglik.abs();
        if flat && last_step > RUNAWAY_STEP {
            let running: Vec<String> = (0..p)
                .filter(|&j| step[j].abs() > RUNAWAY_STEP * (1.0 + beta[j].abs()))
                .map(|j| names[j].clone())
                .collect();
            return Err(CoxError::Separation { names: running });
        }
        beta = next_beta;
        current = next;
    }
    Err(CoxError::NotConverged { iterations: options.max_iterations, step: last_step })
}

/// max_j |step_j| / (1 + |β_j|).
fn relative_step(step: &[f64], beta: &[f64]) -> f64 {
    step.iter().zip(beta).map(|(s, b)| s.abs() / (1.0 + b.abs())).fold(0.0, f64::max)
}
