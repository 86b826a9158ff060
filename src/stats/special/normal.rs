//! The standard normal distribution, with tails accurate far below 1e-300: through the incomplete
//! gamma function, Φ(−x) = Q(½, x²/2)/2.

use super::gamma::Shape;

/// z such that Φ(z) = 0.975, as scipy's `norm.ppf(0.975)`: the multiplier of every 95% Wald interval.
pub const Z_975: f64 = 1.959_963_984_540_054;

/// ln Γ(½) = ln √π.
const HALF: Shape = Shape { a: 0.5, ln_gamma_a: 0.572_364_942_924_700_1 };

/// Φ(x) = P(Z <= x).
pub fn cdf(x: f64) -> f64 {
    let tail = 0.5 * HALF.sf(0.5 * x * x);
    if x < 0.0 { tail } else { 1.0 - tail }
}

/// Acklam's rational approximation of the p quantile (relative error below 1.2e-9): a starting
/// point for iterative solvers.
pub fn approximate_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.383_577_518_672_69e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] =
        [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
    let tail = |q: f64| {
        let q = (-2.0 * q.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail(p)
    } else if p > 1.0 - 0.02425 {
        -tail(1.0 - p)
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// Φ(-x) = P(Z > x), accurate relative to itself in the upper tail.
pub fn sf(x: f64) -> f64 {
    cdf(-x)
}

/// The standard normal density φ(x).
pub fn pdf(x: f64) -> f64 {
    const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
    INV_SQRT_2PI * (-0.5 * x * x).exp()
}

/// The two-sided p-value of a standard normal statistic, 2 Φ(−|z|).
pub fn two_sided_p(z: f64) -> f64 {
    2.0 * sf(z.abs())
}

/// The p quantile of the standard normal distribution: Acklam's approximation refined by one
/// Halley step on [`cdf`], which brings it to the precision of [`cdf`] itself (about 1e-15
/// relative). Solved in the lower half, where the CDF is accurate relative to itself: for p above
/// one half, 1 − p is exact (Sterbenz) and quantile(p) = −quantile(1 − p).
pub fn quantile(p: f64) -> f64 {
    if p > 0.5 {
        return -quantile(1.0 - p);
    }
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    let x = approximate_quantile(p);
    let u = (cdf(x) - p) / pdf(x);
    x - u / (1.0 + 0.5 * x * u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wald_multiplier_and_the_approximate_quantile() {
        assert!((cdf(Z_975) - 0.975).abs() < 2e-16);
        for &(p, z) in &[(0.975, Z_975), (1e-10, -6.361340902404056), (0.3, -0.5244005127080407)] {
            assert!((approximate_quantile(p) - z).abs() < 1.2e-9 * z.abs(), "{p}");
        }
    }

    #[test]
    fn far_tails() {
        // Φ(-20) = 2.7536241186061556e-89 (scipy)
        assert!((cdf(-20.0) / 2.7536241186061556e-89 - 1.0).abs() < 1e-13);
        assert!((sf(20.0) / 2.7536241186061556e-89 - 1.0).abs() < 1e-13);
    }

    #[test]
    fn quantiles_and_p_values_match_scipy() {
        // scipy.stats.norm.ppf and 2 * norm.sf
        for &(p, z) in &[(0.975, Z_975), (1e-10, -6.361340902404056), (0.3, -0.5244005127080409), (0.5, 0.0)] {
            assert!((quantile(p) - z).abs() <= 1e-15 * z.abs().max(1.0), "{p}: {}", quantile(p));
        }
        assert!((two_sided_p(1.5) / 0.13361440253771614 - 1.0).abs() < 1e-14);
        assert!((pdf(1.0) - 0.24197072451914337).abs() < 1e-17);
    }
}
