//! Posterior summaries of each pair's relative reporting rate λ given its count n and expected
//! count E: λ | n ~ Qn·Gamma(α1+n, β1+E) + (1−Qn)·Gamma(α2+n, β2+E) (DuMouchel 1999 eq. 6–11).
//!
//! EB05 and EB95 are the exact 5% and 95% quantiles of that mixture (to about 1e-14), where
//! openEBGM's `quantBisect` stops at ±0.005 and rounds to two decimals and vigipy's bisection
//! stops at a CDF error of 1e-5.

use rayon::prelude::*;

use super::Prior;
use crate::stats::special::gamma::{Shape, digamma, ln_gamma};
use crate::stats::special::quantile::{Component, ln_mixture_quantile};

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

impl Posterior {
    /// The summaries of `pairs` pairs without a prior: all undefined (empty cells, JSON nulls).
    pub fn undefined(pairs: usize) -> Posterior {
        let nan = || vec![f64::NAN; pairs];
        Posterior { qn: nan(), ebgm: nan(), eb05: nan(), eb95: nan(), p_le1: nan() }
    }
}

/// What depends on the count alone, for one component.
#[derive(Debug, Clone, Copy)]
struct CountTerms {
    /// ln Γ(α+n) − ln Γ(α) − ln n! − n ln β
    log_coef: f64,
    /// ψ(α+n) − ln β
    mean_ln: f64,
    shape: Shape,
}

fn count_terms(alpha: f64, beta: f64, n: f64) -> CountTerms {
    let shape = Shape::new(alpha + n);
    CountTerms {
        log_coef: shape.ln_gamma_a - ln_gamma(alpha) - ln_gamma(n + 1.0) - n * beta.ln(),
        mean_ln: digamma(alpha + n) - beta.ln(),
        shape,
    }
}

/// Pairs per rayon task.
const CHUNK: usize = 4096;

/// Score every pair (n[i], e[i]) under `prior`.
///
/// Pairs are visited in order of (n, E): neighbours then have nearly the same posterior, and
/// each quantile starts from the value extrapolated from the two pairs before it, so that one
/// evaluation of the mixture CDF and a Halley step usually finish it.
pub fn score(prior: &Prior, n: &[f64], e: &[f64]) -> Posterior {
    let mut distinct: Vec<f64> = n.to_vec();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    let terms: Vec<[CountTerms; 2]> = distinct
        .iter()
        .map(|&k| [count_terms(prior.alpha1, prior.beta1, k), count_terms(prior.alpha2, prior.beta2, k)])
        .collect();
    let mut order: Vec<usize> = (0..n.len()).collect();
    order.sort_unstable_by(|&i, &j| n[i].total_cmp(&n[j]).then(e[i].total_cmp(&e[j])));
    let (distinct, terms) = (&distinct, &terms);
    let rows: Vec<[f64; 5]> = order
        .par_chunks(CHUNK)
        .flat_map_iter(|chunk| {
            let mut previous: Option<(Neighbours, [f64; 5])> = None;
            chunk.iter().map(move |&i| {
                if let Some((p, row)) = previous.filter(|(p, _)| p.n == n[i] && p.e[2] == e[i]) {
                    // the same (n, E) as the pair before: the same posterior
                    previous = Some((p, row));
                    return row;
                }
                let at = distinct.partition_point(|&d| d < n[i]);
                let neighbours = previous.map(|(p, _)| p);
                let guess = neighbours.filter(|p| p.n == n[i]).map(|p| p.extrapolate(e[i]));
                let (row, ln_q) = pair(prior, n[i], e[i], &terms[at], guess);
                previous = Some((Neighbours::after(neighbours, n[i], e[i], ln_q), row));
                row
            })
        })
        .collect();
    let mut post = Posterior {
        qn: vec![0.0; n.len()],
        ebgm: vec![0.0; n.len()],
        eb05: vec![0.0; n.len()],
        eb95: vec![0.0; n.len()],
        p_le1: vec![0.0; n.len()],
    };
    for (&i, row) in order.iter().zip(&rows) {
        (post.qn[i], post.ebgm[i], post.eb05[i], post.eb95[i], post.p_le1[i]) =
            (row[0], row[1], row[2], row[3], row[4]);
    }
    post
}

/// The last three pairs with the same count, for extrapolating the quantiles to the next E.
#[derive(Debug, Clone, Copy)]
struct Neighbours {
    n: f64,
    /// How many of the three slots hold pairs (the newest last).
    known: usize,
    e: [f64; 3],
    /// ln EB05 and ln EB95 at each e
    ln_q: [[f64; 2]; 3],
}

impl Neighbours {
    fn after(previous: Option<Neighbours>, n: f64, e: f64, ln_q: [f64; 2]) -> Neighbours {
        match previous.filter(|p| p.n == n) {
            Some(p) => Neighbours {
                n,
                known: (p.known + 1).min(3),
                e: [p.e[1], p.e[2], e],
                ln_q: [p.ln_q[1], p.ln_q[2], ln_q],
            },
            None => Neighbours { n, known: 1, e: [e; 3], ln_q: [ln_q; 3] },
        }
    }

    /// Starting values for ln EB05 and ln EB95 at `e`: extrapolated along E through the last
    /// pairs (a parabola through three, a line through two).
    fn extrapolate(&self, e: f64) -> [f64; 2] {
        let [e0, e1, e2] = self.e;
        let distinct = |a: f64, b: f64| a != b;
        let value = |k: usize| -> f64 {
            let [q0, q1, q2] = [self.ln_q[0][k], self.ln_q[1][k], self.ln_q[2][k]];
            if self.known == 3 && distinct(e0, e1) && distinct(e1, e2) && distinct(e0, e2) {
                q0 * (e - e1) * (e - e2) / ((e0 - e1) * (e0 - e2))
                    + q1 * (e - e0) * (e - e2) / ((e1 - e0) * (e1 - e2))
                    + q2 * (e - e0) * (e - e1) / ((e2 - e0) * (e2 - e1))
            } else if self.known >= 2 && distinct(e1, e2) {
                q2 + (q2 - q1) / (e2 - e1) * (e - e2)
            } else {
                q2
            }
        };
        // A far jump in E makes extrapolation a guess no better than the last value.
        let safe = |k: usize| {
            let v = value(k);
            let last = self.ln_q[2][k];
            if v.is_finite() && (v - last).abs() < 0.5 { v } else { last }
        };
        [safe(0), safe(1)]
    }
}

/// (Qn, EBGM, EB05, EB95, P(λ ≤ 1)) of one pair, and (ln EB05, ln EB95) for its neighbours.
fn pair(prior: &Prior, n: f64, e: f64, terms: &[CountTerms; 2], guess: Option<[f64; 2]>) -> ([f64; 5], [f64; 2]) {
    let alpha = [prior.alpha1, prior.alpha2];
    let beta = [prior.beta1, prior.beta2];
    let u = [(e / beta[0]).ln_1p(), (e / beta[1]).ln_1p()];
    // ln of the negative-binomial probabilities, without the n·ln E they share
    let log_f: [f64; 2] = std::array::from_fn(|k| terms[k].log_coef - (alpha[k] + n) * u[k]);
    let qn = 1.0 / (1.0 + (1.0 - prior.p) / prior.p * (log_f[1] - log_f[0]).exp());
    // E[ln λ] per component: ψ(α+n) − ln(β+E)
    let mean_ln: [f64; 2] = std::array::from_fn(|k| terms[k].mean_ln - u[k]);
    let ebgm = (qn * mean_ln[0] + (1.0 - qn) * mean_ln[1]).exp();
    let components = [
        Component { weight: qn, shape: terms[0].shape, rate: beta[0] + e },
        Component { weight: 1.0 - qn, shape: terms[1].shape, rate: beta[1] + e },
    ];
    let p_le1 = components.iter().filter(|c| c.weight > 0.0).map(|c| c.weight * c.shape.pdf_cdf(c.rate).1).sum::<f64>();
    let ln_q = [
        ln_mixture_quantile(0.05, &components, guess.map(|g| g[0])),
        ln_mixture_quantile(0.95, &components, guess.map(|g| g[1])),
    ];
    ([qn, ebgm, ln_q[0].exp(), ln_q[1].exp(), p_le1], ln_q)
}
