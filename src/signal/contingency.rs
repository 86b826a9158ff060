//! Disproportionality statistics of one drug-event 2×2 table.
//!
//! ```text
//!               event   other events
//!   drug          a          b          a+b = n_drug
//!   other drugs   c          d
//!                a+c = n_event          N = n_total
//! ```
//!
//! Every statistic is named after its source, because tools disagree: three different "IC"s
//! exist (Norén 2013 shrinkage with gamma quantiles, [`ic_noren`]; the BCPNN beta-prior exact
//! moments of Gould 2003 used by PhViD and vigipy, [`bcpnn_gould`]; and Bate 1998's closed-form
//! approximation, [`bcpnn_bate1998`]), and Yates' correction is capped so that it never moves
//! |ad - bc| past zero (as R's `chisq.test` and scipy's `chi2_contingency` do).

use crate::stats::special::gamma::{digamma, trigamma};
use crate::stats::special::hypergeom::Hypergeometric;
use crate::stats::special::normal::{self, Z_975};
use crate::stats::special::quantile::gamma_quantile;

/// A 2×2 table of counts (as floats: counts up to 2^53 are exact, and the formulas need floats).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Table2x2 {
    pub a: f64,
    pub b: f64,
    pub c: f64,
    pub d: f64,
}

/// A ratio with its standard error on the log scale and its 95% Wald interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RatioCi {
    pub estimate: f64,
    pub se_ln: f64,
    pub lo: f64,
    pub hi: f64,
}

impl RatioCi {
    fn wald(estimate: f64, se_ln: f64) -> RatioCi {
        let ln = estimate.ln();
        RatioCi { estimate, se_ln, lo: (ln - Z_975 * se_ln).exp(), hi: (ln + Z_975 * se_ln).exp() }
    }
}

/// Fisher's exact test p-values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FisherP {
    /// Sum of the probabilities of all tables no more likely than the observed one (R, scipy).
    pub two_sided: f64,
    /// P(A >= a): the one-sided test for more reports of the pair than independence predicts.
    pub greater: f64,
}

/// An information component with its 95% credibility limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ic {
    pub ic: f64,
    pub lo: f64,
    pub hi: f64,
}

/// A BCPNN information component as a posterior mean and variance (log2 scale).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BcpnnIc {
    pub mean: f64,
    pub variance: f64,
}

impl BcpnnIc {
    /// mean ± z·sd with z = Φ⁻¹(0.975), the normal-approximation limits PhViD and vigipy report.
    pub fn limits_95(&self) -> (f64, f64) {
        let sd = self.variance.sqrt();
        (self.mean - Z_975 * sd, self.mean + Z_975 * sd)
    }

    /// Posterior P(IC < 0) under the normal approximation (vigipy's `p_value` with RR0 = 1).
    pub fn p_below_zero(&self) -> f64 {
        normal::cdf(-self.mean / self.variance.sqrt())
    }
}

impl Table2x2 {
    /// The table of a pair from its count and margins.
    pub fn from_margins(n: f64, n_drug: f64, n_event: f64, n_total: f64) -> Table2x2 {
        Table2x2 { a: n, b: n_drug - n, c: n_event - n, d: n_total - n_drug - n_event + n }
    }

    pub fn total(&self) -> f64 {
        self.a + self.b + self.c + self.d
    }

    /// The count expected under independence, (a+b)(a+c)/N.
    pub fn expected(&self) -> f64 {
        (self.a + self.b) * (self.a + self.c) / self.total()
    }

    /// Proportional reporting ratio [a/(a+b)] / [c/(c+d)] with its Wald interval on the log scale,
    /// SE = √(1/a − 1/(a+b) + 1/c − 1/(c+d)) (Evans 2001).
    pub fn prr(&self) -> RatioCi {
        let Table2x2 { a, b, c, d } = *self;
        let estimate = (a / (a + b)) / (c / (c + d));
        RatioCi::wald(estimate, (1.0 / a - 1.0 / (a + b) + 1.0 / c - 1.0 / (c + d)).sqrt())
    }

    /// Reporting odds ratio ad/(bc), SE = √(1/a + 1/b + 1/c + 1/d) (van Puijenbroek 2002).
    pub fn ror(&self) -> RatioCi {
        let Table2x2 { a, b, c, d } = *self;
        RatioCi::wald(a * d / (b * c), (1.0 / a + 1.0 / b + 1.0 / c + 1.0 / d).sqrt())
    }

    fn margin_product(&self) -> f64 {
        let Table2x2 { a, b, c, d } = *self;
        (a + b) * (c + d) * (a + c) * (b + d)
    }

    /// Pearson's chi-square N(ad − bc)² / [(a+b)(c+d)(a+c)(b+d)].
    pub fn chi2(&self) -> f64 {
        let Table2x2 { a, b, c, d } = *self;
        let diff = a * d - b * c;
        self.total() * diff * diff / self.margin_product()
    }

    /// Chi-square with Yates' continuity correction, N(|ad − bc| − N/2)² / [...], with the
    /// correction capped at |ad − bc| so that the statistic is 0 rather than growing again.
    pub fn chi2_yates(&self) -> f64 {
        let Table2x2 { a, b, c, d } = *self;
        let n = self.total();
        let corrected = ((a * d - b * c).abs() - n / 2.0).max(0.0);
        n * corrected * corrected / self.margin_product()
    }

    /// Fisher's exact test, both p-values.
    pub fn fisher(&self) -> FisherP {
        FisherP { two_sided: self.fisher_two_sided(), greater: self.hypergeometric().sf_inclusive(self.a) }
    }

    /// Fisher's exact test, two-sided: the sum of the probabilities of the tables whose
    /// probability is at most the observed one's times (1 + 1e-7), R's allowance for rounding in
    /// probabilities that are equal.
    pub fn fisher_two_sided(&self) -> f64 {
        fisher_two_sided(&self.hypergeometric(), self.a)
    }

    /// The distribution of a given the margins.
    fn hypergeometric(&self) -> Hypergeometric {
        let Table2x2 { a, b, c, .. } = *self;
        Hypergeometric { population: self.total(), successes: a + c, draws: a + b }
    }

    /// Evans et al. (2001): PRR ≥ 2, Yates chi-square ≥ 4 and at least 3 reports.
    pub fn evans(&self) -> bool {
        self.prr().estimate >= 2.0 && self.chi2_yates() >= 4.0 && self.a >= 3.0
    }
}

fn fisher_two_sided(dist: &Hypergeometric, a: f64) -> f64 {
    const RELATIVE_TIE: f64 = 1.0 + 1e-7;
    let mode = dist.mode();
    let p_obs = dist.pmf(a);
    if a == mode || p_obs * RELATIVE_TIE >= dist.pmf(mode) {
        return 1.0;
    }
    let limit = p_obs * RELATIVE_TIE;
    // The tail on the observed side, then the far tail from the first value past the mode whose
    // probability drops to the observed one (found by bisection: the pmf is monotone there).
    let (near, far_end, upward_far) = if a < mode {
        (dist.tail_from_with(a, p_obs, false), dist.max(), true)
    } else {
        (dist.tail_from_with(a, p_obs, true), dist.min(), false)
    };
    if dist.pmf(far_end) > limit {
        return near.min(1.0);
    }
    let (mut inside, mut outside) = (mode, far_end); // pmf(inside) > limit >= pmf(outside)
    while (outside - inside).abs() > 1.0 {
        let mid = ((inside + outside) / 2.0).floor();
        if dist.pmf(mid) > limit {
            inside = mid;
        } else {
            outside = mid;
        }
    }
    (near + dist.tail_from(outside, upward_far)).min(1.0)
}

/// Norén et al. (2013) information component with shrinkage +0.5:
/// IC = log2((O + 0.5)/(E + 0.5)), limits log2 of the 2.5% and 97.5% quantiles of
/// Gamma(O + 0.5, rate E + 0.5).
pub fn ic_noren(observed: f64, expected: f64) -> Ic {
    let (shape, rate) = (observed + 0.5, expected + 0.5);
    Ic {
        ic: (shape / rate).log2(),
        lo: gamma_quantile(0.025, shape, rate).log2(),
        hi: gamma_quantile(0.975, shape, rate).log2(),
    }
}

/// [`ic_noren`] for many pairs. Gamma(O + ½, rate E + ½) is Gamma(O + ½, 1) scaled by 1/(E + ½),
/// so its quantiles are computed once per distinct count and scaled per pair.
pub fn ic_noren_all(observed: &[f64], expected: &[f64]) -> Vec<Ic> {
    let mut distinct: Vec<f64> = observed.to_vec();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    let unit: Vec<(f64, f64)> =
        distinct.iter().map(|&o| (gamma_quantile(0.025, o + 0.5, 1.0), gamma_quantile(0.975, o + 0.5, 1.0))).collect();
    observed
        .iter()
        .zip(expected)
        .map(|(&o, &e)| {
            let (lo, hi) = unit[distinct.partition_point(|&d| d < o)];
            let rate = e + 0.5;
            Ic { ic: ((o + 0.5) / rate).log2(), lo: (lo / rate).log2(), hi: (hi / rate).log2() }
        })
        .collect()
}

/// Norén et al. (2013)'s closed-form approximation of the limits of [`ic_noren`]:
/// IC − 3.3(O+½)^-½ − 2(O+½)^-³ᐟ² and IC + 2.4(O+½)^-½ − 0.5(O+½)^-³ᐟ².
pub fn ic_noren_approx(observed: f64, expected: f64) -> Ic {
    let ic = ((observed + 0.5) / (expected + 0.5)).log2();
    let s = observed + 0.5;
    Ic { ic, lo: ic - 3.3 / s.sqrt() - 2.0 / s.powf(1.5), hi: ic + 2.4 / s.sqrt() - 0.5 / s.powf(1.5) }
}

/// BCPNN information component with beta priors, by its exact posterior moments (Gould 2003; the
/// form PhViD and vigipy compute), in terms of digamma and trigamma functions.
pub fn bcpnn_gould(t: &Table2x2) -> BcpnnIc {
    let n = t.total();
    let (n11, n_drug, n_event) = (t.a, t.a + t.b, t.a + t.c);
    let (p1, p2) = (1.0 + n_drug, 1.0 + n - n_drug);
    let (q1, q2) = (1.0 + n_event, 1.0 + n - n_event);
    let r1 = 1.0 + n11;
    let r2 = n - n11 - 1.0 + (2.0 + n) * (2.0 + n) / (q1 * p1);
    let ln2 = std::f64::consts::LN_2;
    let mean =
        (digamma(r1) - digamma(r1 + r2) - (digamma(p1) - digamma(p1 + p2) + digamma(q1) - digamma(q1 + q2))) / ln2;
    let variance = (trigamma(r1) - trigamma(r1 + r2)
        + (trigamma(p1) - trigamma(p1 + p2) + trigamma(q1) - trigamma(q1 + q2)))
        / (ln2 * ln2);
    BcpnnIc { mean, variance }
}

/// Bate et al. (1998)'s closed-form approximation of the BCPNN information component, with the
/// priors of that paper: α_i = β_j = 1, α = β = 2, γ_ij = 1.
pub fn bcpnn_bate1998(t: &Table2x2) -> BcpnnIc {
    let c = t.total();
    let (cij, ci, cj) = (t.a, t.a + t.b, t.a + t.c);
    let (alpha_i, beta_j, alpha, beta, gamma_ij) = (1.0, 1.0, 2.0, 2.0, 1.0);
    let gamma = gamma_ij * (c + alpha) * (c + beta) / ((ci + alpha_i) * (cj + beta_j));
    let mean = ((cij + gamma_ij) * (c + alpha) * (c + beta) / ((c + gamma) * (ci + alpha_i) * (cj + beta_j))).log2();
    let ln2 = std::f64::consts::LN_2;
    let variance = ((c - cij + gamma - gamma_ij) / ((cij + gamma_ij) * (1.0 + c + gamma))
        + (c - ci + alpha - alpha_i) / ((ci + alpha_i) * (1.0 + c + alpha))
        + (c - cj + beta - beta_j) / ((cj + beta_j) * (1.0 + c + beta)))
        / (ln2 * ln2);
    BcpnnIc { mean, variance }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yates_never_overcorrects() {
        // |ad - bc| = |5·5 - 5·5| = 0 < N/2: the statistic is 0, not N(N/2)²/...
        let t = Table2x2 { a: 5.0, b: 5.0, c: 5.0, d: 5.0 };
        assert_eq!(t.chi2_yates(), 0.0);
        assert_eq!(t.chi2(), 0.0);
    }

    #[test]
    fn fisher_of_a_balanced_table_is_one() {
        let t = Table2x2 { a: 5.0, b: 5.0, c: 5.0, d: 5.0 };
        assert_eq!(t.fisher().two_sided, 1.0);
    }

    #[test]
    fn fisher_small_table_matches_r() {
        // R: fisher.test(matrix(c(3,1,1,3),2))$p.value = 0.4857143; one-sided greater 0.2428571
        let t = Table2x2 { a: 3.0, b: 1.0, c: 1.0, d: 3.0 };
        let p = t.fisher();
        assert!((p.two_sided - 0.485_714_285_714_285_7).abs() < 1e-14, "{p:?}");
        assert!((p.greater - 0.242_857_142_857_142_85).abs() < 1e-14, "{p:?}");
    }
}
