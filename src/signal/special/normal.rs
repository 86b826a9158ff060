//! The standard normal distribution, with tails accurate far below 1e-300 (through erfc).

use statrs::function::erf::{erfc, erfc_inv};

/// z such that Φ(z) = 0.975, as scipy's `norm.ppf(0.975)`: the multiplier of every 95% Wald interval.
pub const Z_975: f64 = 1.959_963_984_540_054;

/// Φ(x) = P(Z <= x).
pub fn cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// The p quantile of the standard normal.
pub fn quantile(p: f64) -> f64 {
    -std::f64::consts::SQRT_2 * erfc_inv(2.0 * p)
}

/// P(χ²₁ > x) = P(|Z| > √x), the p-value of a 1-degree-of-freedom chi-square statistic.
pub fn chi2_1_sf(x: f64) -> f64 {
    if x <= 0.0 { 1.0 } else { erfc((x / 2.0).sqrt()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_of_0975_is_the_wald_multiplier() {
        assert!((quantile(0.975) - Z_975).abs() < 1e-15);
        assert!((cdf(Z_975) - 0.975).abs() < 1e-16);
    }
}
