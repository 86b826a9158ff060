//! Posterior summaries of each pair's relative reporting rate λ given its count n and expected
//! count E: λ | n ~ Qn·Gamma(α1+n, β1+E) + (1−Qn)·Gamma(α2+n, β2+E) (DuMouchel 1999 eq. 6–11).
//!
//! EB05 and EB95 are the exact 5% and 95% quantiles of that mixture (to about 1e-14), where
//! openEBGM's `quantBisect` stops at ±0.005 and rounds to two decimals and vigipy's bisection
//! stops at a CDF error of 1e-5.

use rayon::prelude::*;

use super::Prior;
use crate::signal::special::gamma::{digamma, ln_gamma, mixture_quantile, Component, Shape};
use crate::signal::special::lanes;

/// Per-pair posterior summaries, in the order of the pairs given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Posterior {
    /// Qn: the posterior probability that λ comes from component 1.
    pub qn: Vec<f64>,
    /// exp(E[ln λ]): the empirical Bayes geometric mean.
    pub ebgm: Vec<f64>,
    pub eb05: Vec<f64>,
    pub eb95: Vec<f64>,
    /// P(λ ≤ 1 | n).
    pub p_le1: Vec<f64>,
}

/// What depends on the count alone, for one component.
#[derive(Debug, Clone, Copy)]
struct CountTerms {
    /// ln Γ(α+n) − ln Γ(α) − ln n!
    log_coef: f64,
    digamma: f64,
    shape: Shape,
}

fn count_terms(alpha: f64, n: f64) -> CountTerms {
    let shape = Shape::new(alpha + n);
    CountTerms { log_coef: shape.ln_gamma_a - ln_gamma(alpha) - ln_gamma(n + 1.0), digamma: digamma(alpha + n), shape }
}

/// Score every pair (n[i], e[i]) under `prior`.
pub fn score(prior: &Prior, n: &[f64], e: &[f64]) -> Posterior {
    let mut distinct: Vec<f64> = n.to_vec();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    let terms: Vec<[CountTerms; 2]> =
        distinct.iter().map(|&k| [count_terms(prior.alpha1, k), count_terms(prior.alpha2, k)]).collect();
    let rows: Vec<[f64; 5]> = n
        .par_iter()
        .zip(e)
        .with_min_len(512)
        .map(|(&k, &ek)| {
            let at = distinct.partition_point(|&d| d < k);
            pair(prior, k, ek, &terms[at])
        })
        .collect();
    let column = |j: usize| rows.iter().map(|r| r[j]).collect();
    Posterior { qn: column(0), ebgm: column(1), eb05: column(2), eb95: column(3), p_le1: column(4) }
}

/// (Qn, EBGM, EB05, EB95, P(λ ≤ 1)) of one pair.
fn pair(prior: &Prior, n: f64, e: f64, terms: &[CountTerms; 2]) -> [f64; 5] {
    let alpha = [prior.alpha1, prior.alpha2];
    let beta = [prior.beta1, prior.beta2];
    let u = [lanes::ln_1p(e / beta[0]), lanes::ln_1p(e / beta[1])];
    // ln of the negative-binomial probabilities, without the n·ln E they share
    let log_f: [f64; 2] = std::array::from_fn(|k| terms[k].log_coef - n * beta[k].ln() - (alpha[k] + n) * u[k]);
    let qn = 1.0 / (1.0 + (1.0 - prior.p) / prior.p * (log_f[1] - log_f[0]).exp());
    let mean_ln: [f64; 2] = std::array::from_fn(|k| terms[k].digamma - (beta[k].ln() + u[k]));
    let ebgm = (qn * mean_ln[0] + (1.0 - qn) * mean_ln[1]).exp();
    let components = [
        Component { weight: qn, shape: terms[0].shape, rate: beta[0] + e },
        Component { weight: 1.0 - qn, shape: terms[1].shape, rate: beta[1] + e },
    ];
    let p_le1 = components
        .iter()
        .filter(|c| c.weight > 0.0)
        .map(|c| c.weight * c.shape.pdf_cdf(c.rate).1)
        .sum::<f64>();
    [qn, ebgm, mixture_quantile(0.05, &components), mixture_quantile(0.95, &components), p_le1]
}
