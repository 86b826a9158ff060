//! Properties that must hold for any input: orderings of the statistics, invariance of the
//! scores to the order of the pairs, and a large fit (through the squashed pilot) landing on the
//! optimum a direct fit reaches.

use proptest::prelude::*;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Gamma, Poisson, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

use midnet::signal::contingency::{Table2x2, bcpnn_gould, ic_noren};
use midnet::signal::counts::{CountSource, Margins, PairCounts};
use midnet::signal::mgps::fit::{DEFAULT_STARTS, FitOptions, fit, fit_from};
use midnet::signal::mgps::points::Points;
use midnet::signal::mgps::posterior;
use midnet::signal::mgps::{Likelihood, Prior};
use midnet::signal::score::{ScoreOptions, score};

use crate::common::proptest_cases;

fn config() -> ProptestConfig {
    ProptestConfig { cases: proptest_cases(), ..ProptestConfig::default() }
}

const PRIOR: Prior = Prior { alpha1: 3.25, beta1: 0.4, alpha2: 2.02, beta2: 1.9, p: 0.065 };

proptest! {
    #![proptest_config(config())]

    #[test]
    fn two_by_two_statistics_are_ordered(a in 1u32..200, b in 1u32..5000, c in 1u32..5000, d in 1u32..200_000) {
        let t = Table2x2 { a: a as f64, b: b as f64, c: c as f64, d: d as f64 };
        let (prr, ror) = (t.prr(), t.ror());
        prop_assert!(prr.lo <= prr.estimate && prr.estimate <= prr.hi);
        prop_assert!(ror.lo <= ror.estimate && ror.estimate <= ror.hi);
        prop_assert!(0.0 <= t.chi2_yates() && t.chi2_yates() <= t.chi2());
        let f = t.fisher();
        // (far-tail p-values may underflow to 0)
        prop_assert!((0.0..=1.0).contains(&f.two_sided) && (0.0..=1.0).contains(&f.greater));
        let ic = ic_noren(t.a, t.expected());
        prop_assert!(ic.lo < ic.ic && ic.ic < ic.hi);
        let (lo, hi) = bcpnn_gould(&t).limits_95();
        prop_assert!(lo < hi && bcpnn_gould(&t).variance > 0.0);
    }

    #[test]
    fn posterior_summaries_are_ordered(n in 0u32..500, e in 1e-6f64..1e3) {
        let post = posterior::score(&PRIOR, &[n as f64], &[e]);
        prop_assert!(post.eb05[0] < post.ebgm[0] && post.ebgm[0] < post.eb95[0], "{post:?}");
        prop_assert!((0.0..=1.0).contains(&post.qn[0]) && (0.0..=1.0).contains(&post.p_le1[0]));
    }

    #[test]
    fn scores_do_not_depend_on_the_order_of_the_pairs(seed in any::<u64>()) {
        let counts = synthetic(300, seed);
        let mut order: Vec<usize> = (0..counts.len()).collect();
        let mut state = seed | 1;
        for i in (1..order.len()).rev() {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            order.swap(i, (state >> 33) as usize % (i + 1));
        }
        let shuffled = reorder(&counts, &order);
        let options =
            ScoreOptions { prior: Some(PRIOR), likelihood: Likelihood::PerComponent { n_star: 1 }, squash: false, min_count: 1 };
        let (a, b) = (score(counts, &options).unwrap(), score(shuffled, &options).unwrap());
        for name in ["eb05", "eb95", "ebgm", "ic025", "fisher_p", "prr_lo"] {
            let (x, y) = (a.table.numbers(name), b.table.numbers(name));
            for (pos, &i) in order.iter().enumerate() {
                prop_assert!(x[i] == y[pos] || (x[i].is_nan() && y[pos].is_nan()), "{name} row {i}");
            }
        }
    }
}

/// Pair counts drawn as MGPS assumes them: E from a skewed distribution, λ from a two-gamma
/// mixture, n ~ Poisson(λE), pairs with n = 0 dropped.
fn synthetic(pairs: usize, seed: u64) -> PairCounts {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let (background, signal) = (Gamma::new(5.0, 0.2).unwrap(), Gamma::new(2.0, 2.0).unwrap());
    let (mut drug, mut event, mut n, mut expected) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut i = 0;
    while n.len() < pairs {
        let e: f64 = (rng.sample::<f64, _>(StandardNormal) * 1.5 - 0.5).exp();
        let lambda = if rng.random::<f64>() < 0.05 { signal.sample(&mut rng) } else { background.sample(&mut rng) };
        let k = Poisson::new(lambda * e).unwrap().sample(&mut rng);
        i += 1;
        if k >= 1.0 {
            drug.push(format!("D{}", i % 997));
            event.push(format!("E{i}"));
            n.push(k);
            expected.push(e);
        }
    }
    // margins consistent with the pairs (for the 2x2 statistics; E above is what MGPS uses)
    let total: f64 = n.iter().sum::<f64>() * 50.0;
    let n_drug = n.iter().map(|k| k * 20.0).collect();
    let n_event = n.iter().map(|k| k * 2.0).collect();
    PairCounts {
        drug,
        event,
        n,
        expected,
        margins: Some(Margins { n_drug, n_event, n_total: total }),
        source: CountSource::PairCounts,
    }
}

fn reorder(c: &PairCounts, order: &[usize]) -> PairCounts {
    let pick = |v: &[f64]| order.iter().map(|&i| v[i]).collect::<Vec<f64>>();
    let m = c.margins.as_ref().unwrap();
    PairCounts {
        drug: order.iter().map(|&i| c.drug[i].clone()).collect(),
        event: order.iter().map(|&i| c.event[i].clone()).collect(),
        n: pick(&c.n),
        expected: pick(&c.expected),
        margins: Some(Margins { n_drug: pick(&m.n_drug), n_event: pick(&m.n_event), n_total: m.n_total }),
        source: c.source,
    }
}

#[test]
fn a_large_fit_through_the_pilot_reaches_the_direct_optimum() {
    // More points than the pilot threshold, so fit() runs each start on squashed points first.
    let counts = synthetic(30_000, 7);
    let lik = Likelihood::PerComponent { n_star: 1 };
    let points = Points::new(&counts.n, &counts.expected, None, 1);
    assert!(points.len() > midnet::signal::mgps::fit::PILOT_ABOVE);
    let fitted = fit(&points, &FitOptions::new(lik)).unwrap();
    assert!(fitted.starts.iter().all(|s| s.pilot_evaluations > 0));
    let direct = fit_from(&points, None, lik, &DEFAULT_STARTS[0]).minimum;
    assert!(
        (fitted.neg_log_likelihood - direct.value).abs() < 1e-6 * direct.value.abs(),
        "through the pilot {} vs directly {}",
        fitted.neg_log_likelihood,
        direct.value
    );
}
