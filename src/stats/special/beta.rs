//! Beta quantiles, for exact (Clopper-Pearson) binomial confidence limits.

use statrs::function::beta::beta_reg;

/// The `prob` quantile of Beta(a, b), by bisection on the regularized incomplete beta function
/// down to a relative width of 1e-15 (used a handful of times per analysis, so simplicity wins).
pub fn quantile(prob: f64, a: f64, b: f64) -> f64 {
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    for _ in 0..2000 {
        let mid = if lo > 0.0 && hi / lo > 4.0 { (lo * hi).sqrt() } else { 0.5 * (lo + hi) };
        let mid = if mid == 0.0 { hi * 1e-3 } else { mid };
        if beta_reg(a, b, mid) < prob {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-15 * hi || hi < 1e-300 {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// Exact two-sided `level` confidence limits for a binomial proportion with `k` successes out of
/// `n` (Clopper & Pearson 1934): the lower limit is 0 when k = 0 and the upper 1 when k = n.
pub fn clopper_pearson(k: f64, n: f64, level: f64) -> (f64, f64) {
    let alpha = 1.0 - level;
    let lower = if k <= 0.0 { 0.0 } else { quantile(alpha / 2.0, k, n - k + 1.0) };
    let upper = if k >= n { 1.0 } else { quantile(1.0 - alpha / 2.0, k + 1.0, n - k) };
    (lower, upper)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clopper_pearson_known_interval() {
        // scipy.stats.binomtest(7, 20).proportion_ci(0.95, 'exact')
        let (lo, hi) = clopper_pearson(7.0, 20.0, 0.95);
        assert!((lo - 0.1539092047845412).abs() < 1e-12, "{lo}");
        assert!((hi - 0.5921885345328283).abs() < 1e-12, "{hi}");
    }
}
