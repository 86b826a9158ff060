//! The hypergeometric distribution, accurate for tables of millions of reports.
//!
//! ln Γ differences of numbers near 10^7 lose eight digits, so the probability mass is computed
//! with Loader's saddle-point form (Loader 2000, "Fast and accurate computation of binomial
//! probabilities"; the method of R's `dbinom`/`dhyper`): Stirling-series remainders and the
//! deviance `bd0`, which have no cancellation. Tail sums then walk away from the mode with the
//! exact term ratio, so each costs a few dozen steps however large the table.

use super::gamma::ln_gamma;

const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;
const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// ln n! - [(n + 1/2) ln n - n + ln √(2π)]: the remainder of Stirling's formula, n >= 1.
fn stirling_remainder(n: f64) -> f64 {
    if n <= 15.0 {
        ln_gamma(n + 1.0) - (n + 0.5) * n.ln() + n - LN_SQRT_2PI
    } else {
        let nn = n * n;
        (1.0 / 12.0 - (1.0 / 360.0 - (1.0 / 1260.0 - (1.0 / 1680.0 - 1.0 / 1188.0 / nn) / nn) / nn) / nn) / n
    }
}

/// x ln(x/m) + m - x without cancellation when x is close to m.
fn deviance(x: f64, m: f64) -> f64 {
    if (x - m).abs() < 0.1 * (x + m) {
        let v = (x - m) / (x + m);
        let mut s = (x - m) * v;
        let mut ej = 2.0 * x * v;
        let v2 = v * v;
        let mut j = 1.0;
        loop {
            ej *= v2;
            let next = s + ej / (2.0 * j + 1.0);
            if next == s {
                return next;
            }
            s = next;
            j += 1.0;
        }
    }
    x * (x / m).ln() + m - x
}

/// ln P(X = x) for X ~ Binomial(n, p), q = 1 - p given separately to keep its precision.
fn ln_binom_pmf(x: f64, n: f64, p: f64, q: f64) -> f64 {
    if x == 0.0 {
        if n == 0.0 {
            return 0.0;
        }
        return if p < 0.1 { -deviance(n, n * q) - n * p } else { n * q.ln() };
    }
    if x == n {
        return if q < 0.1 { -deviance(n, n * p) - n * q } else { n * p.ln() };
    }
    let lc = stirling_remainder(n)
        - stirling_remainder(x)
        - stirling_remainder(n - x)
        - deviance(x, n * p)
        - deviance(n - x, n * q);
    let lf = LN_2PI + x.ln() + (-x / n).ln_1p();
    lc - 0.5 * lf
}

/// The number of successes among `draws` taken without replacement from `population` items of
/// which `successes` are successes.
#[derive(Debug, Clone, Copy)]
pub struct Hypergeometric {
    pub population: f64,
    pub successes: f64,
    pub draws: f64,
}

impl Hypergeometric {
    pub fn min(&self) -> f64 {
        (self.draws - (self.population - self.successes)).max(0.0)
    }

    pub fn max(&self) -> f64 {
        self.draws.min(self.successes)
    }

    /// The most likely value.
    pub fn mode(&self) -> f64 {
        ((self.draws + 1.0) * (self.successes + 1.0) / (self.population + 2.0)).floor()
    }

    /// ln P(X = k), written as a ratio of binomial probabilities at p = draws / population.
    pub fn ln_pmf(&self, k: f64) -> f64 {
        if k < self.min() || k > self.max() {
            return f64::NEG_INFINITY;
        }
        let (r, b, n) = (self.successes, self.population - self.successes, self.draws);
        if n == 0.0 {
            return 0.0;
        }
        let p = n / (r + b);
        let q = (r + b - n) / (r + b);
        ln_binom_pmf(k, r, p, q) + ln_binom_pmf(n - k, b, p, q) - ln_binom_pmf(n, r + b, p, q)
    }

    pub fn pmf(&self, k: f64) -> f64 {
        self.ln_pmf(k).exp()
    }

    /// P(X = k+1) / P(X = k).
    fn ratio_up(&self, k: f64) -> f64 {
        let (big_k, n, big_n) = (self.successes, self.draws, self.population);
        (big_k - k) * (n - k) / ((k + 1.0) * (big_n - big_k - n + k + 1.0))
    }

    /// Σ P(X = j) for j from `k` away from the mode to the end of the support (`upward` says
    /// which way). Terms only shrink in that direction, so the walk stops once they are negligible.
    pub fn tail_from(&self, k: f64, upward: bool) -> f64 {
        self.tail_from_with(k, self.pmf(k), upward)
    }

    /// As [`Hypergeometric::tail_from`], given P(X = k) already computed.
    pub fn tail_from_with(&self, k: f64, pmf_k: f64, upward: bool) -> f64 {
        let mut term = pmf_k;
        let mut sum = term;
        let mut j = k;
        let (lo, hi) = (self.min(), self.max());
        while term > sum * 1e-17 {
            if upward {
                if j >= hi {
                    break;
                }
                term *= self.ratio_up(j);
                j += 1.0;
            } else {
                if j <= lo {
                    break;
                }
                term /= self.ratio_up(j - 1.0);
                j -= 1.0;
            }
            sum += term;
        }
        sum
    }

    /// P(X >= k).
    pub fn sf_inclusive(&self, k: f64) -> f64 {
        if k <= self.min() {
            1.0
        } else if k > self.mode() {
            self.tail_from(k, true)
        } else {
            (1.0 - self.tail_from(k - 1.0, false)).max(0.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pmf_matches_direct_sum_on_a_small_table() {
        // N = 20, K = 7, n = 12: P(X = k) = C(7,k) C(13,12-k) / C(20,12)
        let h = Hypergeometric { population: 20.0, successes: 7.0, draws: 12.0 };
        let choose = |n: f64, k: f64| (ln_gamma(n + 1.0) - ln_gamma(k + 1.0) - ln_gamma(n - k + 1.0)).exp();
        let mut total = 0.0;
        for k in 0..=7 {
            let k = k as f64;
            let want = choose(7.0, k) * choose(13.0, 12.0 - k) / choose(20.0, 12.0);
            let got = h.pmf(k);
            assert!((got - want).abs() <= 1e-12 * want.max(1e-300), "k={k}: {got} vs {want}");
            total += got;
        }
        assert!((total - 1.0).abs() < 1e-13);
        // P(X >= 6) above the mode (4) and P(X >= 2) below it, against the direct sums
        let direct = |from: u32| {
            (from..=7).map(|k| choose(7.0, k as f64) * choose(13.0, 12.0 - k as f64)).sum::<f64>() / choose(20.0, 12.0)
        };
        assert!((h.sf_inclusive(6.0) - direct(6)).abs() < 1e-13 * direct(6));
        assert!((h.sf_inclusive(2.0) - direct(2)).abs() < 1e-13);
    }
}
