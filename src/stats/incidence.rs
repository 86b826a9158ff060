//! Incidence rates: events over person-time with exact Poisson intervals, by strata, directly
//! standardised, and compared between two groups.
//!
//! - Rate interval: exact Poisson (Garwood 1936), L = χ²_{0.025}(2d)/2, U = χ²_{0.975}(2d+2)/2
//!   events, divided by the person-time.
//! - Directly standardised rate: Σ w_i d_i with w_i = s_i / (Σ s · T_i) for standard population s
//!   and person-time T in stratum i; gamma interval of Fay & Feuer (1997).
//! - Rate ratio: exact conditional interval (given d_A + d_B events, d_A is binomial; Clopper-Pearson
//!   interval of its proportion π, mapped to π/(1 − π) · T_B/T_A).
//! - Rate difference: Wald interval with variance d_A/T_A² + d_B/T_B².

use rayon::prelude::*;
use serde::Serialize;

use super::special::gamma::{Shape, ln_gamma};
use super::special::normal::Z_975;
use super::special::{beta, quantile};

/// The interval methods, named in every output that carries them.
pub const STANDARDIZED_CI: &str = "gamma (Fay & Feuer 1997)";
pub const RATIO_CI: &str = "exact conditional (Clopper-Pearson on the binomial split of events)";
pub const DIFFERENCE_CI: &str = "Wald";

/// How the interval of a Poisson count (and so of a rate) is computed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub enum PoissonCi {
    /// Exact (Garwood 1936): each tail of the Poisson distribution holds at most 2.5%;
    /// conservative.
    #[default]
    Exact,
    /// Mid-p exact (Lancaster 1961): the observed count's probability counts half in each tail;
    /// closer to the nominal coverage.
    #[serde(rename = "mid-p")]
    MidP,
    /// Byar's approximation to the exact interval (Rothman & Boice 1979): closed form, close to
    /// exact from a few events on.
    Byar,
}

impl PoissonCi {
    pub fn name(self) -> &'static str {
        match self {
            PoissonCi::Exact => "exact Poisson (Garwood)",
            PoissonCi::MidP => "mid-p exact Poisson",
            PoissonCi::Byar => "Byar's approximation to the exact Poisson",
        }
    }
}

/// Patients, events and person-time of a group of rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Tally {
    pub patients: u64,
    pub events: u64,
    pub person_time: f64,
}

impl Tally {
    fn add(mut self, other: Tally) -> Tally {
        self.patients += other.patients;
        self.events += other.events;
        self.person_time += other.person_time;
        self
    }

    /// The rate per `per` units of person-time with its interval.
    pub fn rate(&self, per: f64, ci: PoissonCi) -> Rate {
        rate(self.events, self.person_time, per, ci)
    }
}

/// Tallies of rows by stratum: `strata[i]` (< `n_strata`) is row i's stratum; `events[i]` the
/// events and `person_time[i]` the person-time of row i (one row per patient).
pub fn tally(events: &[u32], person_time: &[f64], strata: &[u32], n_strata: usize) -> Vec<Tally> {
    const CHUNK: usize = 1 << 16;
    events
        .par_chunks(CHUNK)
        .zip(person_time.par_chunks(CHUNK))
        .zip(strata.par_chunks(CHUNK))
        .fold(
            || vec![Tally::default(); n_strata],
            |mut acc, ((e, t), s)| {
                for ((&e, &t), &s) in e.iter().zip(t).zip(s) {
                    let a = &mut acc[s as usize];
                    a.patients += 1;
                    a.events += e as u64;
                    a.person_time += t;
                }
                acc
            },
        )
        .reduce(|| vec![Tally::default(); n_strata], |a, b| a.into_iter().zip(b).map(|(x, y)| x.add(y)).collect())
}

/// The sum of some tallies.
pub fn total(tallies: &[Tally]) -> Tally {
    tallies.iter().fold(Tally::default(), |a, &b| a.add(b))
}

/// A rate with its 95% interval, per `per` units of person-time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rate {
    pub events: u64,
    pub person_time: f64,
    pub per: f64,
    pub rate: f64,
    pub lo: f64,
    pub hi: f64,
}

/// The rate of `events` in `person_time`, per `per` units, with its interval. Undefined (NaN)
/// when there is no person-time.
pub fn rate(events: u64, person_time: f64, per: f64, ci: PoissonCi) -> Rate {
    let (lo, hi) = poisson_interval(events, ci);
    let scale = if person_time > 0.0 { per / person_time } else { f64::NAN };
    Rate { events, person_time, per, rate: events as f64 * scale, lo: lo * scale, hi: hi * scale }
}

/// The 95% interval of a Poisson mean given `count` observed events.
pub fn poisson_interval(count: u64, ci: PoissonCi) -> (f64, f64) {
    match ci {
        PoissonCi::Exact => garwood(count),
        PoissonCi::MidP => mid_p(count, garwood(count)),
        PoissonCi::Byar => byar(count),
    }
}

/// Byar: L = d (1 − 1/(9d) − z/(3√d))³, U = (d+1) (1 − 1/(9(d+1)) + z/(3√(d+1)))³.
fn byar(count: u64) -> (f64, f64) {
    let d = count as f64;
    let lo = if count == 0 { 0.0 } else { d * (1.0 - 1.0 / (9.0 * d) - Z_975 / (3.0 * d.sqrt())).powi(3) };
    let e = d + 1.0;
    (lo, e * (1.0 - 1.0 / (9.0 * e) + Z_975 / (3.0 * e.sqrt())).powi(3))
}

/// Garwood: L = χ²_{0.025}(2x)/2, U = χ²_{0.975}(2x+2)/2, as gamma quantiles.
fn garwood(count: u64) -> (f64, f64) {
    let k = count as f64;
    let lo = if count == 0 { 0.0 } else { gamma_quantile(k, 1.0, 0.025) };
    (lo, gamma_quantile(k + 1.0, 1.0, 0.975))
}

/// Mid-p: the λ with P(X > x) + P(X = x)/2 = 0.025 (lower) and P(X < x) + P(X = x)/2 = 0.025
/// (upper). Both lie inside the exact interval, where the tail sums are monotone in λ, so
/// bisection from the exact bounds finds them to full precision.
fn mid_p(count: u64, (exact_lo, exact_hi): (f64, f64)) -> (f64, f64) {
    let x = count as f64;
    let half_point = |lam: f64| 0.5 * (x * lam.ln() - lam - ln_gamma(x + 1.0)).exp();
    let above = |lam: f64| Shape::new(x + 1.0).pdf_cdf(lam).1 + half_point(lam) - 0.025; // rises with λ
    let below = |lam: f64| (if count == 0 { 0.0 } else { Shape::new(x).sf(lam) }) + half_point(lam) - 0.025; // falls
    let lo = if count == 0 { 0.0 } else { bisect(above, exact_lo, x) };
    let hi = bisect(|lam| -below(lam), x.max(f64::MIN_POSITIVE), exact_hi);
    (lo, hi)
}

/// The root of an increasing `f` between `a` (f ≤ 0) and `b` (f ≥ 0), to the last bit.
fn bisect(f: impl Fn(f64) -> f64, mut a: f64, mut b: f64) -> f64 {
    loop {
        let mid = 0.5 * (a + b);
        if mid <= a || mid >= b {
            return mid;
        }
        if f(mid) < 0.0 { a = mid } else { b = mid }
    }
}

/// The `p` quantile of the gamma distribution with `shape` and `scale`.
fn gamma_quantile(shape: f64, scale: f64, p: f64) -> f64 {
    quantile::gamma_quantile(p, shape, 1.0 / scale)
}

/// A directly standardised rate with its gamma interval, per `per` units.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Standardized {
    pub rate: f64,
    pub lo: f64,
    pub hi: f64,
}

/// Standardise the stratum tallies `strata` to the standard population `standard` (same order,
/// same length). Every stratum with standard population must have person-time: otherwise its
/// weight is infinite and the rate undefined; the error names the stratum by its index.
pub fn standardized(strata: &[Tally], standard: &[f64], per: f64) -> Result<Standardized, usize> {
    debug_assert_eq!(strata.len(), standard.len());
    let total_standard: f64 = standard.iter().sum();
    let mut y = 0.0; // the rate, Σ w d
    let mut v = 0.0; // its variance, Σ w² d
    let mut w_max: f64 = 0.0;
    for (i, (t, &s)) in strata.iter().zip(standard).enumerate() {
        if s == 0.0 {
            continue;
        }
        if t.person_time.is_nan() || t.person_time <= 0.0 {
            return Err(i);
        }
        let w = s / (total_standard * t.person_time);
        let d = t.events as f64;
        y += w * d;
        v += w * w * d;
        w_max = w_max.max(w);
    }
    // Fay & Feuer (1997): gamma with the mean and variance of Y for the lower bound, and of
    // Y + w_max · (one more event in the stratum of largest weight) for the upper bound.
    let lo = if y > 0.0 { gamma_quantile(y * y / v, v / y, 0.025) } else { 0.0 };
    let (y1, v1) = (y + w_max, v + w_max * w_max);
    let hi = gamma_quantile(y1 * y1 / v1, v1 / y1, 0.975);
    Ok(Standardized { rate: y * per, lo: lo * per, hi: hi * per })
}

/// Rate ratio and rate difference of group A against group B (rates per `per`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Comparison {
    pub rate_ratio: f64,
    pub ratio_lo: f64,
    pub ratio_hi: f64,
    pub rate_difference: f64,
    pub difference_lo: f64,
    pub difference_hi: f64,
}

/// Compare the rate of `a` with that of `b`. Bounds that do not exist (a ratio with no events in
/// B) are infinite; what is undefined (a ratio with no events at all, anything without
/// person-time in a group) is NaN.
pub fn compare(a: &Tally, b: &Tally, per: f64) -> Comparison {
    if !(a.person_time > 0.0 && b.person_time > 0.0) {
        let nan = f64::NAN;
        return Comparison {
            rate_ratio: nan,
            ratio_lo: nan,
            ratio_hi: nan,
            rate_difference: nan,
            difference_lo: nan,
            difference_hi: nan,
        };
    }
    let (da, db) = (a.events as f64, b.events as f64);
    let (ta, tb) = (a.person_time, b.person_time);
    let k = da + db;
    let odds = |pi: f64| pi / (1.0 - pi) * tb / ta;
    let (ratio_lo, ratio_hi) = if k == 0.0 {
        (f64::NAN, f64::NAN)
    } else {
        let lo = if da == 0.0 { 0.0 } else { beta_quantile(da, k - da + 1.0, 0.025) };
        let hi = if da == k { 1.0 } else { beta_quantile(da + 1.0, k - da, 0.975) };
        (odds(lo), odds(hi))
    };
    let rate_ratio = if k == 0.0 { f64::NAN } else { (da / ta) / (db / tb) };
    let rate_difference = (da / ta - db / tb) * per;
    let half = Z_975 * (da / (ta * ta) + db / (tb * tb)).sqrt() * per;
    Comparison {
        rate_ratio,
        ratio_lo,
        ratio_hi,
        rate_difference,
        difference_lo: rate_difference - half,
        difference_hi: rate_difference + half,
    }
}

fn beta_quantile(a: f64, b: f64, p: f64) -> f64 {
    beta::quantile(p, a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_stratum_standardises_to_the_crude_rate_and_garwood_interval() {
        let t = Tally { patients: 10, events: 7, person_time: 350.0 };
        let s = standardized(&[t], &[1234.0], 1000.0).unwrap();
        let r = t.rate(1000.0, PoissonCi::Exact);
        assert!((s.rate - r.rate).abs() < 1e-12 * r.rate);
        assert!((s.lo - r.lo).abs() < 1e-9 * r.lo);
        assert!((s.hi - r.hi).abs() < 1e-9 * r.hi);
    }

    #[test]
    fn mid_p_of_zero_is_log_twenty() {
        let (lo, hi) = poisson_interval(0, PoissonCi::MidP);
        assert_eq!(lo, 0.0);
        assert!((hi - 20f64.ln()).abs() < 1e-14);
    }

    #[test]
    fn mid_p_lies_inside_exact() {
        for x in [1, 2, 7, 50, 1000] {
            let (elo, ehi) = poisson_interval(x, PoissonCi::Exact);
            let (mlo, mhi) = poisson_interval(x, PoissonCi::MidP);
            assert!(elo < mlo && mhi < ehi, "{x}");
        }
    }

    #[test]
    fn a_stratum_without_person_time_is_named() {
        let strata = [Tally { patients: 1, events: 0, person_time: 10.0 }, Tally::default()];
        assert_eq!(standardized(&strata, &[1.0, 1.0], 1.0).unwrap_err(), 1);
    }

    #[test]
    fn tallies_add_up_per_stratum() {
        let t = tally(&[1, 0, 2, 1], &[1.0, 2.0, 3.0, 4.0], &[0, 1, 0, 1], 2);
        assert_eq!(t[0], Tally { patients: 2, events: 3, person_time: 4.0 });
        assert_eq!(t[1], Tally { patients: 2, events: 1, person_time: 6.0 });
    }

    #[test]
    fn no_events_in_b_leaves_the_ratio_unbounded() {
        let c = compare(
            &Tally { patients: 5, events: 3, person_time: 10.0 },
            &Tally { patients: 5, events: 0, person_time: 10.0 },
            1.0,
        );
        assert!(c.rate_ratio.is_infinite() && c.ratio_hi.is_infinite() && c.ratio_lo > 0.0);
    }
}
