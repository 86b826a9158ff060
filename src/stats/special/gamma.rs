//! The gamma family: log-gamma, digamma and trigamma, the regularized incomplete gamma function,
//! and quantiles of a gamma distribution or of a two-component gamma mixture (the MGPS posterior).

pub use statrs::function::gamma::{digamma, ln_gamma};

/// Trigamma ψ'(x) for x > 0: shift to x >= 20 with ψ'(x) = ψ'(x+1) + 1/x², then the asymptotic
/// series (remainder below 1e-17 there).
pub fn trigamma(x: f64) -> f64 {
    let mut z = x;
    let mut shifted = 0.0;
    while z < 20.0 {
        shifted += 1.0 / (z * z);
        z += 1.0;
    }
    let r = 1.0 / z;
    let r2 = r * r;
    // 1/z + 1/(2z²) + Σ B_2k / z^(2k+1) with B = 1/6, -1/30, 1/42, -1/30, 5/66
    let tail = r2 * r * (1.0 / 6.0 + r2 * (-1.0 / 30.0 + r2 * (1.0 / 42.0 + r2 * (-1.0 / 30.0 + r2 * (5.0 / 66.0)))));
    shifted + r + 0.5 * r2 + tail
}

/// P(χ²_df > x) = Q(df/2, x/2), the p-value of a chi-square statistic, accurate relative to
/// itself far into the upper tail.
pub fn chi2_sf(x: f64, df: f64) -> f64 {
    Shape::new(0.5 * df).sf(0.5 * x)
}

/// A gamma shape with its log-gamma computed once, for repeated CDF evaluations.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub a: f64,
    pub ln_gamma_a: f64,
}

impl Shape {
    pub fn new(a: f64) -> Shape {
        Shape { a, ln_gamma_a: ln_gamma(a) }
    }

    /// The density of Gamma(a, 1) at x > 0 and the regularized lower incomplete gamma P(a, x),
    /// accurate to about 1e-16 in absolute terms (what a quantile needs). The power series is
    /// used through the centre of the distribution, where it needs a few dozen terms that the CPU
    /// pipelines; the continued fraction (whose divisions form one dependent chain) only beyond.
    pub fn pdf_cdf(&self, x: f64) -> (f64, f64) {
        if x <= 0.0 {
            return (0.0, 0.0);
        }
        let pdf = self.pdf(x);
        if x < self.a + 8.0 + 6.0 * (self.a + 1.0).sqrt() {
            (pdf, self.series(x, pdf))
        } else {
            (pdf, 1.0 - self.continued_fraction(x, pdf))
        }
    }

    /// The upper regularized incomplete gamma Q(a, x) = 1 − P(a, x), accurate relative to itself
    /// far into the upper tail: the series below x = a + 1 and the continued fraction above it,
    /// each where it converges fast and without cancellation (Numerical Recipes §6.2).
    pub fn sf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            return 1.0;
        }
        let pdf = self.pdf(x);
        if x < self.a + 1.0 { 1.0 - self.series(x, pdf) } else { self.continued_fraction(x, pdf) }
    }

    /// x^(a-1) e^-x / Γ(a). (Scalar code: libm's table-driven exp and ln have shorter latency
    /// than the long polynomials of [`super::lanes`], which are made for SIMD throughput.)
    fn pdf(&self, x: f64) -> f64 {
        ((self.a - 1.0) * x.ln() - x - self.ln_gamma_a).exp()
    }

    /// P = x^a e^-x / Γ(a+1) · Σ_k x^k / ((a+1)…(a+k)), with x^a e^-x / Γ(a+1) = pdf · x / a.
    fn series(&self, x: f64, pdf: f64) -> f64 {
        let a = self.a;
        // Two terms per step, so that the chain of dependent multiplications is half as long.
        let mut term = 1.0;
        let mut sum = 1.0;
        let mut k = 1.0;
        while term > sum * f64::EPSILON {
            let r1 = x / (a + k);
            let r2 = x / (a + k + 1.0);
            let t1 = term * r1;
            term *= r1 * r2;
            sum += t1 + term;
            k += 2.0;
        }
        (pdf * x / a * sum).min(1.0)
    }

    /// Q = x^a e^-x / Γ(a) · 1/(x+1-a- 1(1-a)/(x+3-a- …)) by the modified Lentz method.
    fn continued_fraction(&self, x: f64, pdf: f64) -> f64 {
        let a = self.a;
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        let mut i = 1.0;
        loop {
            let an = -i * (i - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            i += 1.0;
            if (delta - 1.0).abs() < f64::EPSILON || i > 100_000.0 {
                break;
            }
        }
        (pdf * x * h).min(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gamma_cdf(x: f64, shape: f64, rate: f64) -> f64 {
        Shape::new(shape).pdf_cdf(rate * x).1
    }

    fn assert_rel(got: f64, want: f64, rel: f64) {
        assert!((got - want).abs() <= rel * want.abs(), "got {got}, want {want} (rel {rel})");
    }

    #[test]
    fn trigamma_known_values() {
        // ψ'(1) = π²/6, ψ'(1/2) = π²/2, ψ'(10) from the recurrence
        assert_rel(trigamma(1.0), std::f64::consts::PI.powi(2) / 6.0, 1e-14);
        assert_rel(trigamma(0.5), std::f64::consts::PI.powi(2) / 2.0, 1e-14);
        let psi1_10 = std::f64::consts::PI.powi(2) / 6.0 - (1..10).map(|k| 1.0 / (k * k) as f64).sum::<f64>();
        assert_rel(trigamma(10.0), psi1_10, 1e-13);
    }

    #[test]
    fn incomplete_gamma_known_values() {
        // P(1, x) = 1 - e^-x
        for &x in &[1e-5, 0.1, 1.0, 2.5, 10.0, 40.0] {
            assert_rel(gamma_cdf(x, 1.0, 1.0), -(-x).exp_m1(), 1e-14);
        }
        // P(0.5, x) = erf(√x), Q(0.5, x) = erfc(√x): erf(1) and erfc(5) to 16 digits
        assert_rel(gamma_cdf(1.0, 0.5, 1.0), 0.842_700_792_949_714_9, 1e-15);
        assert_rel(Shape::new(0.5).sf(25.0), 1.537_459_794_428_034_8e-12, 1e-14);
        // P(χ²₁ > 100) = 1.5239706048320995e-23, P(χ²₃ > 7.8) = 0.050331097859853326 (scipy chi2.sf)
        assert_rel(chi2_sf(100.0, 1.0), 1.5239706048320995e-23, 1e-13);
        assert_rel(chi2_sf(7.8, 3.0), 0.050331097859853326, 1e-13);
        // a large shape, both branches
        assert_rel(gamma_cdf(950.0, 1000.0, 1.0), 0.055054686230738045, 1e-10);
        assert_rel(gamma_cdf(1050.0, 1000.0, 1.0), 0.9413288886226819, 1e-10);
    }
}
