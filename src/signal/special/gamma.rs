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

/// One component of a gamma mixture: weight, shape and rate.
#[derive(Debug, Clone, Copy)]
pub struct Component {
    pub weight: f64,
    pub shape: Shape,
    pub rate: f64,
}

/// Below this weight a component cannot move the CDF at the precision of the result.
const NEGLIGIBLE_WEIGHT: f64 = 1e-17;

/// CDF, density and derivative of the density of a weighted sum of gamma distributions at λ.
fn mixture_at(components: &[Component; 2], lambda: f64) -> (f64, f64, f64) {
    let (mut cdf, mut pdf, mut dpdf) = (0.0, 0.0, 0.0);
    for c in components {
        if c.weight < NEGLIGIBLE_WEIGHT {
            continue;
        }
        let x = c.rate * lambda;
        let (g, p) = c.shape.pdf_cdf(x);
        cdf += c.weight * p;
        let density = c.weight * c.rate * g;
        pdf += density;
        // d/dλ of rate·g(rate·λ) = rate²·g(x)·((a-1)/x - 1)
        dpdf += density * c.rate * ((c.shape.a - 1.0) / x - 1.0);
    }
    (cdf, pdf, dpdf)
}

/// A starting guess for the `prob` quantile of Gamma(a, rate): Wilson-Hilferty's cube-root normal
/// approximation, or the small-shape lower-tail form (p Γ(a+1))^(1/a) where that one breaks down.
fn initial_guess(prob: f64, z: f64, c: &Component) -> f64 {
    let a = c.shape.a;
    let v = 1.0 / (9.0 * a);
    let wh = a * (1.0 - v + z * v.sqrt()).powi(3);
    let x = if wh > 0.0 && a >= 0.5 {
        wh
    } else {
        (prob.ln() + c.shape.ln_gamma_a + a.ln()).exp().powf(1.0 / a).max(f64::MIN_POSITIVE)
    };
    x / c.rate
}

/// The `prob` quantile of the mixture Σ w_k Gamma(a_k, rate_k) (weights summing to one).
///
/// Halley's method on ln λ, kept inside a bracket that every evaluation narrows (the CDF is
/// increasing), bisecting in ln λ whenever a step would leave it. Converges to a relative
/// precision of about 1e-14 in λ, typically in two or three evaluations from the starting guess.
pub fn mixture_quantile(prob: f64, components: &[Component; 2]) -> f64 {
    ln_mixture_quantile(prob, components, None).exp()
}

/// The logarithm of the `prob` quantile of the mixture, from a starting value of that logarithm
/// if one is known (a nearby problem's answer, say).
pub fn ln_mixture_quantile(prob: f64, components: &[Component; 2], start: Option<f64>) -> f64 {
    let mut t = match start {
        Some(t) if t.is_finite() => t,
        _ => {
            let z = super::normal::approximate_quantile(prob);
            let main = if components[0].weight >= components[1].weight { &components[0] } else { &components[1] };
            let t_main = initial_guess(prob, z, main).ln();
            if components.iter().all(|c| c.weight >= NEGLIGIBLE_WEIGHT) {
                let other = if std::ptr::eq(main, &components[0]) { &components[1] } else { &components[0] };
                main.weight * t_main + other.weight * initial_guess(prob, z, other).ln()
            } else {
                t_main
            }
        }
    };
    // The root lies in [lo, hi] (ln λ); None while that end is still unknown.
    let (mut lo, mut hi): (Option<f64>, Option<f64>) = (None, None);
    for _ in 0..200 {
        let lambda = t.exp();
        let (cdf, pdf, dpdf) = mixture_at(components, lambda);
        let g = cdf - prob;
        // A CDF that cannot be evaluated (λ out of range) counts as overshooting in that direction.
        let below = if g.is_nan() { t < 0.0 } else { g < 0.0 };
        if below {
            lo = Some(t);
        } else {
            hi = Some(t);
        }
        // G(t) = F(e^t) - p;  G' = λ f(λ);  G'' = λ f(λ) + λ² f'(λ)
        let g1 = lambda * pdf;
        let g2 = g1 + lambda * lambda * dpdf;
        let newton = if g1 > 0.0 { g / g1 } else { f64::NAN };
        let halley = newton / (1.0 - 0.5 * newton * g2 / g1).max(0.5);
        let candidate = t - halley;
        let inside = candidate.is_finite() && lo.is_none_or(|l| candidate >= l) && hi.is_none_or(|h| candidate <= h);
        let next = match (inside, lo, hi) {
            (true, _, _) => candidate,
            (false, Some(l), Some(h)) => 0.5 * (l + h),
            (false, Some(_), None) => t + 1.0,
            (false, None, _) => t - 1.0,
        };
        let step = (next - t).abs();
        t = next;
        // Halley's method converges cubically: from a point where the CDF is off by less than
        // 1e-6, the step lands within about 100·(1e-6)³ of the target, whatever the scale of λ.
        let bracket_closed = matches!((lo, hi), (Some(l), Some(h)) if h - l < 1e-15 * t.abs().max(1.0));
        if (inside && g.abs() < 1e-6) || step < 1e-14 * t.abs().max(1.0) || bracket_closed {
            break;
        }
    }
    t
}

/// The `prob` quantile of Gamma(shape, rate).
pub fn gamma_quantile(prob: f64, shape: f64, rate: f64) -> f64 {
    let only = Component { weight: 1.0, shape: Shape::new(shape), rate };
    let none = Component { weight: 0.0, shape: Shape { a: 1.0, ln_gamma_a: 0.0 }, rate: 1.0 };
    mixture_quantile(prob, &[only, none])
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
        // a large shape, both branches
        assert_rel(gamma_cdf(950.0, 1000.0, 1.0), 0.055054686230738045, 1e-10);
        assert_rel(gamma_cdf(1050.0, 1000.0, 1.0), 0.9413288886226819, 1e-10);
    }

    #[test]
    fn quantiles_match_scipy() {
        // scipy.stats.gamma.ppf(p, a, scale=1/rate)
        for &(p, a, rate, want) in &[
            (0.025, 20.5, 1.7, 7.416034893562503),
            (0.975, 20.5, 1.7, 17.81193286318933),
            (0.05, 0.3, 0.01, 0.003211034699722965),
            (0.95, 3000.0, 2.0, 1545.3286327313056),
            (0.5, 1.0, 1.0, 0.6931471805599455),
        ] {
            assert_rel(gamma_quantile(p, a, rate), want, 1e-12);
        }
    }

    #[test]
    fn mixture_quantile_inverts_mixture_cdf() {
        let comps = [
            Component { weight: 0.3, shape: Shape::new(3.25 + 2.0), rate: 0.4 + 0.05 },
            Component { weight: 0.7, shape: Shape::new(2.02 + 2.0), rate: 1.9 + 0.05 },
        ];
        for &p in &[0.05, 0.5, 0.95] {
            let q = mixture_quantile(p, &comps);
            let (cdf, _, _) = mixture_at(&comps, q);
            assert_rel(cdf, p, 1e-12);
        }
    }
}
