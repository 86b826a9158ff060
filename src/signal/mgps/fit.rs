//! Maximum-likelihood fit of the prior from several starting points, checked for agreement as
//! openEBGM's `autoHyper` does: the estimate used is the best convergent one within bounds that at
//! least one other convergent estimate confirms (lies close to); without one the prior is not
//! fitted ([`NotFitted`] says why) rather than trusted. The likelihood can have several modes (openEBGM's CAERS table has a second,
//! lower one that only one of the default starts reaches); a lower estimate that no other start
//! confirms is reported, not used.

use serde::Serialize;

use super::likelihood::evaluate;
use super::optimize::{self, minimize};
use super::points::Points;
use super::squash::{Weighted, auto_squash};
use super::{Likelihood, Prior};
use crate::error::Result;

/// The default starting points.
pub const DEFAULT_STARTS: [Prior; 5] = [
    // DuMouchel & Pregibon (2001)'s suggestion, openEBGM's first start
    Prior { alpha1: 0.2, beta1: 0.1, alpha2: 2.0, beta2: 4.0, p: 1.0 / 3.0 },
    // openEBGM's vignette
    Prior { alpha1: 0.1, beta1: 0.2, alpha2: 10.0, beta2: 10.0, p: 0.2 },
    Prior { alpha1: 0.3, beta1: 0.5, alpha2: 6.0, beta2: 6.0, p: 0.5 },
    // DuMouchel (1999)'s FDA estimates, the default start of PhViD and vigipy
    Prior { alpha1: 0.2041, beta1: 0.05816, alpha2: 1.415, beta2: 1.838, p: 0.0969 },
    // openEBGM's hyperEM vignette
    Prior { alpha1: 1.0, beta1: 1.0, alpha2: 2.0, beta2: 2.0, p: 0.3 },
];

#[derive(Debug, Clone)]
pub struct FitOptions {
    pub likelihood: Likelihood,
    pub starts: Vec<Prior>,
    /// How close (absolute, per α1, β1, α2, β2, P) another estimate must be to confirm the best.
    pub tolerance: [f64; 5],
    /// How many other convergent estimates must confirm the best.
    pub min_agreeing: usize,
    /// Estimates with an α or β above this are out of bounds (openEBGM's `param_limit`).
    pub param_limit: f64,
}

impl FitOptions {
    /// openEBGM's `autoHyper` defaults, with the given likelihood.
    pub fn new(likelihood: Likelihood) -> FitOptions {
        FitOptions {
            likelihood,
            starts: DEFAULT_STARTS.to_vec(),
            tolerance: [0.05, 0.05, 0.2, 0.2, 0.025],
            min_agreeing: 1,
            param_limit: 100.0,
        }
    }
}

/// The outcome of the optimisation from one starting point.
#[derive(Debug, Clone, Serialize)]
pub struct StartResult {
    pub start: Prior,
    /// The estimate, labelled with component 1 the one of larger mean.
    pub estimate: Prior,
    pub neg_log_likelihood: f64,
    /// BFGS iterations and likelihood evaluations on the full points.
    pub iterations: usize,
    pub evaluations: usize,
    /// Evaluations on the squashed pilot points first (see [`PILOT_ABOVE`]).
    pub pilot_evaluations: usize,
    pub converged: bool,
    pub in_bounds: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Fit {
    pub prior: Prior,
    pub neg_log_likelihood: f64,
    pub likelihood: Likelihood,
    /// Number of points fitted (after truncation and squashing) and the pairs they stand for.
    pub points: usize,
    pub pairs: f64,
    pub starts: Vec<StartResult>,
    /// How many other convergent estimates lie within tolerance of the chosen one.
    pub agreeing: usize,
    /// Starts (indices into `starts`) that converged to a lower negative log-likelihood than the
    /// chosen estimate, elsewhere, without another start confirming it. As openEBGM's `autoHyper`,
    /// the estimate used must be confirmed; these are reported so that a user can look closer.
    pub unconfirmed_lower: Vec<usize>,
    /// Standard errors of (α1, β1, α2, β2, P) from the observed information (DuMouchel 1999);
    /// None when the information matrix is not positive definite.
    pub standard_errors: Option<[f64; 5]>,
}

/// Why the prior could not be fitted, with the estimate each start reached (none when there was
/// nothing to fit on). The pairs are still scored with everything that does not need the prior.
#[derive(Debug, Clone, Serialize)]
pub struct NotFitted {
    pub reason: String,
    pub starts: Vec<StartResult>,
}

impl NotFitted {
    fn new(reason: String, points: &Points, starts: Vec<StartResult>) -> NotFitted {
        let pairs = points.total_weight();
        let reason = if starts.is_empty() { reason } else { format!("fitting on {pairs} {}, {reason}", plural(pairs)) };
        NotFitted { reason, starts }
    }

    /// The reason and the estimate of each start, one per line, for a note on the terminal.
    pub fn describe(&self) -> String {
        let mut text = self.reason.clone();
        for s in &self.starts {
            let t = s.estimate;
            text.push_str(&format!(
                "
  start ({:.4}, {:.4}, {:.4}, {:.4}, {:.4}) ended at ({:.4}, {:.4}, {:.4}, {:.4}, {:.4}) negLL {:.4}{}{}",
                s.start.alpha1,
                s.start.beta1,
                s.start.alpha2,
                s.start.beta2,
                s.start.p,
                t.alpha1,
                t.beta1,
                t.alpha2,
                t.beta2,
                t.p,
                s.neg_log_likelihood,
                if s.converged { "" } else { ", not converged" },
                if s.in_bounds { "" } else { ", out of bounds" }
            ));
        }
        text
    }
}

fn plural(pairs: f64) -> &'static str {
    if pairs == 1.0 { "pair" } else { "pairs" }
}

/// θ from the unconstrained parameters (ln α1, ln β1, ln α2, ln β2, logit P).
fn prior_of(x: &[f64; 5]) -> Prior {
    Prior {
        alpha1: x[0].exp(),
        beta1: x[1].exp(),
        alpha2: x[2].exp(),
        beta2: x[3].exp(),
        p: 1.0 / (1.0 + (-x[4]).exp()),
    }
}

fn unconstrained(prior: &Prior) -> [f64; 5] {
    [prior.alpha1.ln(), prior.beta1.ln(), prior.alpha2.ln(), prior.beta2.ln(), (prior.p / (1.0 - prior.p)).ln()]
}

/// Above this many unweighted points, each start runs first on a squashed copy of the points
/// (openEBGM's `autoSquash`, a few thousand points), and the minimisation on every point then
/// continues from where that pilot ended, with its curvature: a handful of steps instead of
/// dozens. The estimate is the optimum of the full likelihood either way.
pub const PILOT_ABOVE: usize = 20_000;

/// The result of one start: where it ended on the full points, and the evaluations spent there.
pub struct Run {
    pub minimum: optimize::Minimum<5>,
    /// Evaluations on the pilot (squashed) points before, if there was a pilot.
    pub pilot_evaluations: usize,
}

/// Minimise the negative log-likelihood from one start, through `pilot` points first if given.
pub fn fit_from(points: &Points, pilot: Option<&Points>, likelihood: Likelihood, start: &Prior) -> Run {
    let x0 = unconstrained(start);
    match pilot {
        None => Run { minimum: minimize_on(points, likelihood, x0, None), pilot_evaluations: 0 },
        Some(pilot) => {
            let rough = minimize_on(pilot, likelihood, x0, None);
            let ok = rough.value.is_finite() && rough.x.iter().all(|v| v.is_finite());
            let (x, h) = if ok { (rough.x, Some(rough.inverse_hessian)) } else { (x0, None) };
            Run { minimum: minimize_on(points, likelihood, x, h), pilot_evaluations: rough.evaluations }
        }
    }
}

fn minimize_on(
    points: &Points,
    likelihood: Likelihood,
    x0: [f64; 5],
    h0: Option<[[f64; 5]; 5]>,
) -> optimize::Minimum<5> {
    let objective = |x: &[f64; 5]| {
        let prior = prior_of(x);
        let at = evaluate(points, &prior, likelihood);
        let theta = prior.to_array();
        let mut g = at.gradient;
        for k in 0..4 {
            g[k] *= theta[k];
        }
        g[4] *= prior.p * (1.0 - prior.p);
        (at.neg_ll, g)
    };
    let options = optimize::Options { gradient_tolerance: 1e-9 * points.total_weight().max(1.0), ..Default::default() };
    minimize(objective, x0, h0, &options)
}

/// The squashed copy of `points` a fit starts on, when they are many and not squashed already.
pub fn pilot_points(points: &Points, likelihood: Likelihood) -> Result<Option<Points>> {
    if points.len() <= PILOT_ABOVE || points.w.iter().any(|&w| w != 1.0) {
        return Ok(None);
    }
    let squashed = auto_squash(&Weighted::new(points.counts(), points.e.clone()))?;
    Ok(Some(Points::new(&squashed.n, &squashed.e, Some(&squashed.w), likelihood.n_star())))
}

/// Fit the prior by maximum likelihood from every start and check that the best is confirmed.
pub fn fit(points: &Points, options: &FitOptions) -> std::result::Result<Fit, NotFitted> {
    if points.is_empty() {
        let reason = format!(
            "no pair has a count of at least N* = {}: there is nothing to fit the prior on (lower --truncate or give --prior)",
            options.likelihood.n_star()
        );
        return Err(NotFitted::new(reason, points, Vec::new()));
    }
    // The pilot only speeds the fit up: without one (squashing refused) every start runs on all points.
    let pilot = pilot_points(points, options.likelihood).ok().flatten();
    let starts: Vec<StartResult> = options
        .starts
        .iter()
        .map(|start| {
            let run = fit_from(points, pilot.as_ref(), options.likelihood, start);
            let m = run.minimum;
            let estimate = prior_of(&m.x).canonical();
            let in_bounds = [estimate.alpha1, estimate.beta1, estimate.alpha2, estimate.beta2]
                .iter()
                .all(|v| *v > 0.0 && *v < options.param_limit)
                && estimate.p > 0.0
                && estimate.p < 1.0;
            StartResult {
                start: *start,
                estimate,
                neg_log_likelihood: m.value,
                iterations: m.iterations,
                evaluations: m.evaluations,
                pilot_evaluations: run.pilot_evaluations,
                converged: m.converged && m.value.is_finite(),
                in_bounds,
            }
        })
        .collect();
    let usable: Vec<usize> = (0..starts.len()).filter(|&i| starts[i].converged && starts[i].in_bounds).collect();
    if usable.is_empty() {
        return Err(NotFitted::new("no start converged to an estimate within bounds".to_string(), points, starts));
    }
    let close = |i: usize, j: usize| {
        let (a, b) = (starts[i].estimate.to_array(), starts[j].estimate.to_array());
        (0..5).all(|k| (a[k] - b[k]).abs() < options.tolerance[k])
    };
    let agreeing_with = |i: usize| usable.iter().filter(|&&j| j != i && close(i, j)).count();
    let by_value = |&&i: &&usize, &&j: &&usize| starts[i].neg_log_likelihood.total_cmp(&starts[j].neg_log_likelihood);
    let Some(&best) = usable.iter().filter(|&&i| agreeing_with(i) >= options.min_agreeing).min_by(by_value) else {
        let reason = format!("no estimate was confirmed by {} other convergent start(s)", options.min_agreeing);
        return Err(NotFitted::new(reason, points, starts));
    };
    let unconfirmed_lower: Vec<usize> = usable
        .iter()
        .copied()
        .filter(|&i| starts[i].neg_log_likelihood < starts[best].neg_log_likelihood - 1e-6 && !close(i, best))
        .collect();
    let prior = starts[best].estimate;
    Ok(Fit {
        prior,
        neg_log_likelihood: starts[best].neg_log_likelihood,
        likelihood: options.likelihood,
        points: points.len(),
        pairs: points.total_weight(),
        standard_errors: standard_errors(points, options.likelihood, &prior),
        agreeing: agreeing_with(best),
        unconfirmed_lower,
        starts,
    })
}

/// Standard errors from the inverse of the observed information, the Hessian of the negative
/// log-likelihood, here by central differences of the analytic gradient.
pub fn standard_errors(points: &Points, likelihood: Likelihood, prior: &Prior) -> Option<[f64; 5]> {
    let theta = prior.to_array();
    let mut hessian = [[0.0; 5]; 5];
    for j in 0..5 {
        let h = 1e-5 * theta[j].abs().max(1e-8);
        let (mut up, mut down) = (theta, theta);
        up[j] += h;
        down[j] -= h;
        let g_up = evaluate(points, &Prior::from_array(up), likelihood).gradient;
        let g_down = evaluate(points, &Prior::from_array(down), likelihood).gradient;
        for i in 0..5 {
            hessian[i][j] = (g_up[i] - g_down[i]) / (2.0 * h);
        }
    }
    let symmetric: [[f64; 5]; 5] =
        std::array::from_fn(|i| std::array::from_fn(|j| 0.5 * (hessian[i][j] + hessian[j][i])));
    let inverse = invert(symmetric)?;
    let se: [f64; 5] = std::array::from_fn(|i| inverse[i][i].sqrt());
    se.iter().all(|v| v.is_finite() && *v > 0.0).then_some(se)
}

/// Gauss-Jordan inversion with partial pivoting; None for a singular matrix.
fn invert<const D: usize>(mut m: [[f64; D]; D]) -> Option<[[f64; D]; D]> {
    let mut inv = [[0.0; D]; D];
    for (i, row) in inv.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    for col in 0..D {
        let pivot = (col..D).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        if m[pivot][col].abs() < 1e-300 {
            return None;
        }
        m.swap(col, pivot);
        inv.swap(col, pivot);
        let scale = 1.0 / m[col][col];
        for k in 0..D {
            m[col][k] *= scale;
            inv[col][k] *= scale;
        }
        for row in 0..D {
            if row != col {
                let factor = m[row][col];
                for k in 0..D {
                    m[row][k] -= factor * m[col][k];
                    inv[row][k] -= factor * inv[col][k];
                }
            }
        }
    }
    Some(inv)
}
