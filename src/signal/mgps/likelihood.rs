//! The negative log-likelihood of the gamma-mixture prior and its gradient, in one pass.
//!
//! This is the hot loop of the fit: every optimizer step evaluates it over all pairs. The work per
//! pair is a few logs and exps (from [`lanes`], branch-free so LLVM vectorises them), written into
//! blocks of per-pair terms that are then summed across SIMD lanes; pairs are sorted by count so
//! the log-gamma and digamma terms are per-count constants; rayon spreads fixed chunks of pairs
//! over the cores and the chunk sums are added in order, so results do not depend on the number
//! of threads. On x86-64 with AVX2 the same code is compiled a second time for 256-bit vectors
//! and chosen at run time.
//!
//! Notation, per component k and pair (n, E): u = ln(1 + E/β) (so the negative-binomial
//! probability β/(β+E) is e^-u), f(n) = Γ(α+n)/(Γ(α) n!) · e^(-αu) · (1 − e^-u)^n, and
//! T = P(N ≥ N*) the mass kept by truncation.

use rayon::prelude::*;

use super::points::{Points, Run};
use super::{Likelihood, Prior};
use crate::stats::special::gamma::{digamma, ln_gamma};
use crate::stats::special::lanes;

/// The negative log-likelihood and its gradient with respect to (α1, β1, α2, β2, P).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    pub neg_ll: f64,
    pub gradient: [f64; 5],
}

/// Pairs per rayon task: large enough to amortise scheduling, small enough to balance two cores.
const CHUNK: usize = 16 * 1024;
/// Pairs per block of per-pair terms (stays in L1).
const BLOCK: usize = 256;
/// Accumulated quantities: log-likelihood and the five gradient components.
const SUMS: usize = 6;
/// Independent partial sums per quantity, so that the summing loop vectorises.
const LANES: usize = 8;

/// ln Γ(α+n) − ln Γ(α) − ln n! and ψ(α+n) − ψ(α) for both components at one count n.
#[derive(Debug, Clone, Copy)]
struct CountTerms {
    c: [f64; 2],
    d: [f64; 2],
}

fn count_terms(alpha: &[f64; 2], n: f64) -> CountTerms {
    if n == 0.0 {
        return CountTerms { c: [0.0; 2], d: [0.0; 2] };
    }
    CountTerms {
        c: alpha.map(|a| ln_gamma(a + n) - ln_gamma(a) - ln_gamma(n + 1.0)),
        d: alpha.map(|a| digamma(a + n) - digamma(a)),
    }
}

/// The prior in the forms the kernel uses.
#[derive(Debug, Clone, Copy)]
struct Params {
    alpha: [f64; 2],
    beta: [f64; 2],
    inv_beta: [f64; 2],
    ln_beta: [f64; 2],
    p: f64,
}

impl Params {
    fn new(prior: &Prior) -> Params {
        let alpha = [prior.alpha1, prior.alpha2];
        let beta = [prior.beta1, prior.beta2];
        Params { alpha, beta, inv_beta: beta.map(|b| 1.0 / b), ln_beta: beta.map(f64::ln), p: prior.p }
    }
}

/// How T and its log-derivatives are computed: not at all, in closed form for N* = 1, or by
/// summing f(0..N*) for larger N*.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Truncation {
    None,
    AboveZero,
    AtLeast,
}

/// Everything one evaluation shares across chunks.
struct Shared<'a> {
    points: &'a Points,
    params: Params,
    /// Count terms of each run of `points`.
    run_terms: Vec<CountTerms>,
    /// Count terms of 0..N*, for the truncation sums.
    below: Vec<CountTerms>,
    truncation: Truncation,
    whole_mixture: bool,
}

/// Evaluate the negative log-likelihood of `prior` over `points` and its gradient.
pub fn evaluate(points: &Points, prior: &Prior, likelihood: Likelihood) -> Evaluation {
    let params = Params::new(prior);
    let n_star = likelihood.n_star();
    let shared = Shared {
        points,
        params,
        run_terms: points.runs.iter().map(|r| count_terms(&params.alpha, r.n)).collect(),
        below: (0..n_star).map(|j| count_terms(&params.alpha, j as f64)).collect(),
        truncation: match n_star {
            0 => Truncation::None,
            1 => Truncation::AboveZero,
            _ => Truncation::AtLeast,
        },
        whole_mixture: matches!(likelihood, Likelihood::WholeMixture { .. }),
    };
    let chunks = points.len().div_ceil(CHUNK);
    let partials: Vec<[f64; SUMS]> = (0..chunks)
        .into_par_iter()
        .map(|c| chunk_sums(&shared, c * CHUNK, ((c + 1) * CHUNK).min(points.len())))
        .collect();
    let mut total = [0.0; SUMS];
    for part in partials {
        for (t, p) in total.iter_mut().zip(part) {
            *t += p;
        }
    }
    Evaluation {
        neg_ll: -(total[0] + points.constant),
        gradient: [-total[1], -total[2], -total[3], -total[4], -total[5]],
    }
}

/// The negative log-likelihood alone.
pub fn neg_log_likelihood(points: &Points, prior: &Prior, likelihood: Likelihood) -> f64 {
    evaluate(points, prior, likelihood).neg_ll
}

fn chunk_sums(shared: &Shared, lo: usize, hi: usize) -> [f64; SUMS] {
    let runs = &shared.points.runs;
    let first = runs.partition_point(|r: &Run| r.end <= lo);
    let mut acc = [[0.0; LANES]; SUMS];
    for (run, terms) in runs[first..].iter().zip(&shared.run_terms[first..]) {
        if run.start >= hi {
            break;
        }
        let (start, end) = (run.start.max(lo), run.end.min(hi));
        for block_start in (start..end).step_by(BLOCK) {
            let block_end = (block_start + BLOCK).min(end);
            segment(shared, run.n, terms, block_start, block_end, &mut acc);
        }
    }
    acc.map(|lanes| lanes.iter().sum())
}

/// One block of pairs sharing a count: per-pair terms, then summed into `acc`.
fn segment(shared: &Shared, n: f64, terms: &CountTerms, start: usize, end: usize, acc: &mut [[f64; LANES]; SUMS]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512dq") {
            // SAFETY: the CPU supports AVX-512F and DQ, checked just above.
            return unsafe { segment_avx512(shared, n, terms, start, end, acc) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { segment_avx2(shared, n, terms, start, end, acc) };
        }
    }
    segment_portable(shared, n, terms, start, end, acc)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq")]
fn segment_avx512(
    shared: &Shared,
    n: f64,
    terms: &CountTerms,
    start: usize,
    end: usize,
    acc: &mut [[f64; LANES]; SUMS],
) {
    segment_body(shared, n, terms, start, end, acc)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn segment_avx2(shared: &Shared, n: f64, terms: &CountTerms, start: usize, end: usize, acc: &mut [[f64; LANES]; SUMS]) {
    segment_body(shared, n, terms, start, end, acc)
}

fn segment_portable(
    shared: &Shared,
    n: f64,
    terms: &CountTerms,
    start: usize,
    end: usize,
    acc: &mut [[f64; LANES]; SUMS],
) {
    segment_body(shared, n, terms, start, end, acc)
}

#[inline(always)]
fn segment_body(shared: &Shared, n: f64, terms: &CountTerms, start: usize, end: usize, acc: &mut [[f64; LANES]; SUMS]) {
    let mut out = [[0.0; BLOCK]; SUMS];
    let len = end - start;
    let (e, w, ln_e) = (&shared.points.e[start..end], &shared.points.w[start..end], &shared.points.ln_e[start..end]);
    match (shared.truncation, shared.whole_mixture) {
        (Truncation::None, _) => pair_terms::<0, false>(shared, n, terms, e, w, ln_e, &mut out),
        (Truncation::AboveZero, false) => pair_terms::<1, false>(shared, n, terms, e, w, ln_e, &mut out),
        (Truncation::AboveZero, true) => pair_terms::<1, true>(shared, n, terms, e, w, ln_e, &mut out),
        (Truncation::AtLeast, false) => pair_terms::<2, false>(shared, n, terms, e, w, ln_e, &mut out),
        (Truncation::AtLeast, true) => pair_terms::<2, true>(shared, n, terms, e, w, ln_e, &mut out),
    }
    for (sum, values) in acc.iter_mut().zip(&out) {
        let values = &values[..len];
        let mut chunks = values.chunks_exact(LANES);
        for c in &mut chunks {
            for lane in 0..LANES {
                sum[lane] += c[lane];
            }
        }
        for (lane, v) in chunks.remainder().iter().enumerate() {
            sum[lane] += v;
        }
    }
}

/// Per-pair log-likelihood and gradient terms (weighted) for one block with count n.
/// `TRUNC`: 0 untruncated, 1 truncated at N* = 1, 2 truncated at N* >= 2.
#[inline(always)]
fn pair_terms<const TRUNC: u8, const WHOLE_MIXTURE: bool>(
    shared: &Shared,
    n: f64,
    terms: &CountTerms,
    e: &[f64],
    w: &[f64],
    ln_e: &[f64],
    out: &mut [[f64; BLOCK]; SUMS],
) {
    let Params { alpha, beta, inv_beta, ln_beta, p } = shared.params;
    let q = 1.0 - p;
    for i in 0..e.len() {
        let (ei, wi) = (e[i], w[i]);
        let mut log_f = [0.0; 2]; // ln f(n) without the common n·ln E
        let mut f_alpha = [0.0; 2]; // ∂ ln f / ∂α
        let mut f_beta = [0.0; 2]; // ∂ ln f / ∂β
        let mut kept = [1.0; 2]; // T
        let mut inv_kept = [1.0; 2]; // 1/T, one division shared by its uses
        let mut t_alpha = [0.0; 2]; // ∂ ln T / ∂α
        let mut t_beta = [0.0; 2]; // ∂ ln T / ∂β
        for k in 0..2 {
            let u = lanes::ln_1p(ei * inv_beta[k]);
            let inv_bbe = 1.0 / (beta[k] * (beta[k] + ei));
            log_f[k] = terms.c[k] - n * ln_beta[k] - (alpha[k] + n) * u;
            f_alpha[k] = terms.d[k] - u;
            f_beta[k] = (alpha[k] * ei - n * beta[k]) * inv_bbe;
            if TRUNC >= 1 {
                // T = 1 − Σ_{j<N*} f(j); the j = 0 term e^(-αu) is taken through expm1 for precision.
                let mut t = -lanes::expm1(-alpha[k] * u);
                let f0 = 1.0 - t;
                let mut dt_alpha = u * f0;
                let mut dt_beta = -alpha[k] * ei * f0 * inv_bbe;
                if TRUNC == 2 {
                    for (j, below) in shared.below.iter().enumerate().skip(1) {
                        let jf = j as f64;
                        let fj = (below.c[k] - jf * ln_beta[k] - (alpha[k] + jf) * u + jf * ln_e[i]).exp();
                        t -= fj;
                        dt_alpha -= fj * (below.d[k] - u);
                        dt_beta -= fj * (alpha[k] * ei - jf * beta[k]) * inv_bbe;
                    }
                }
                let inv_t = 1.0 / t;
                kept[k] = t;
                inv_kept[k] = inv_t;
                t_alpha[k] = dt_alpha * inv_t;
                t_beta[k] = dt_beta * inv_t;
            }
        }
        // Scale by the larger component so the exponentials cannot underflow together.
        let diff = log_f[0] - log_f[1];
        let top = log_f[0].max(log_f[1]);
        let small = lanes::exp(-diff.abs());
        let (h1, h2) = if diff >= 0.0 { (1.0, small) } else { (small, 1.0) };
        let (ll, g) = if WHOLE_MIXTURE {
            let (s1, s2) = (p * h1, q * h2);
            let s = s1 + s2;
            let (k1, k2) = (p * kept[0], q * kept[1]);
            let kept_total = k1 + k2;
            let (inv_s, inv_kept) = (1.0 / s, 1.0 / kept_total);
            let (r1, r2) = (s1 * inv_s, s2 * inv_s);
            let (c1, c2) = (k1 * inv_kept, k2 * inv_kept);
            (
                top + lanes::ln(s * inv_kept),
                [
                    r1 * f_alpha[0] - c1 * t_alpha[0],
                    r1 * f_beta[0] - c1 * t_beta[0],
                    r2 * f_alpha[1] - c2 * t_alpha[1],
                    r2 * f_beta[1] - c2 * t_beta[1],
                    (r1 - c1) / p - (r2 - c2) / q,
                ],
            )
        } else {
            let (s1, s2) = (p * h1 * inv_kept[0], q * h2 * inv_kept[1]);
            let s = s1 + s2;
            let inv_s = 1.0 / s;
            let (r1, r2) = (s1 * inv_s, s2 * inv_s);
            (
                top + lanes::ln(s),
                [
                    r1 * (f_alpha[0] - t_alpha[0]),
                    r1 * (f_beta[0] - t_beta[0]),
                    r2 * (f_alpha[1] - t_alpha[1]),
                    r2 * (f_beta[1] - t_beta[1]),
                    r1 / p - r2 / q,
                ],
            )
        };
        out[0][i] = wi * ll;
        for k in 0..5 {
            out[k + 1][i] = wi * g[k];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points_l1() -> (Vec<f64>, Vec<f64>) {
        // N = c(0x5, 1x4, 2x6, 3x2), E = 1:17 (reference rows L1, L2)
        let n: Vec<f64> = [0.0; 5].iter().chain(&[1.0; 4]).chain(&[2.0; 6]).chain(&[3.0; 2]).copied().collect();
        let e: Vec<f64> = (1..=17).map(f64::from).collect();
        (n, e)
    }

    const THETA: Prior = Prior { alpha1: 0.125874, beta1: 0.13587, alpha2: 1.24578, beta2: 3.01587, p: 0.05 };

    #[test]
    fn gradient_matches_finite_differences_for_every_form() {
        let (n, e) = points_l1();
        for likelihood in [
            Likelihood::Untruncated,
            Likelihood::PerComponent { n_star: 1 },
            Likelihood::WholeMixture { n_star: 1 },
            Likelihood::PerComponent { n_star: 2 },
            Likelihood::WholeMixture { n_star: 3 },
        ] {
            let points = Points::new(&n, &e, None, likelihood.n_star());
            let at = evaluate(&points, &THETA, likelihood);
            let theta = THETA.to_array();
            for k in 0..5 {
                let h = 1e-6 * theta[k];
                let (mut up, mut down) = (theta, theta);
                up[k] += h;
                down[k] -= h;
                let numeric = (neg_log_likelihood(&points, &Prior::from_array(up), likelihood)
                    - neg_log_likelihood(&points, &Prior::from_array(down), likelihood))
                    / (2.0 * h);
                assert!(
                    (at.gradient[k] - numeric).abs() <= 1e-6 * numeric.abs().max(1.0),
                    "{likelihood:?} component {k}: analytic {} vs numeric {numeric}",
                    at.gradient[k]
                );
            }
        }
    }

    #[test]
    fn reference_likelihoods() {
        let (n, e) = points_l1();
        let full = Points::new(&n, &e, None, 0);
        let trunc = Points::new(&n, &e, None, 1);
        let rel = |got: f64, want: f64| assert!((got - want).abs() <= 1e-9 * want.abs(), "{got} vs {want}");
        rel(neg_log_likelihood(&full, &THETA, Likelihood::Untruncated), 28.708778039682567);
        rel(neg_log_likelihood(&trunc, &THETA, Likelihood::PerComponent { n_star: 1 }), 22.498175911514075);
        rel(neg_log_likelihood(&trunc, &THETA, Likelihood::WholeMixture { n_star: 1 }), 22.408239435983948);
    }
}
