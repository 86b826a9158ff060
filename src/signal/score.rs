//! Scoring every pair: the MGPS prior (fitted or given), then per pair the 2×2 statistics, the
//! information components and the MGPS posterior, and the usual signal rules as flags.

use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use super::contingency::{Table2x2, bcpnn_gould, ic_noren_all};
use super::counts::PairCounts;
use super::mgps::fit::{Fit, FitOptions, fit};
use super::mgps::likelihood::neg_log_likelihood;
use super::mgps::points::Points;
use super::mgps::posterior;
use super::mgps::squash::{Weighted, auto_squash};
use super::mgps::{Likelihood, Prior};
use super::pair_table::{Column, PairTable};
use crate::error::Result;
use crate::table::ColumnRole;

#[derive(Debug, Clone)]
pub struct ScoreOptions {
    /// The prior to score with; fitted when None.
    pub prior: Option<Prior>,
    pub likelihood: Likelihood,
    /// Fit on squashed data (openEBGM's `autoSquash` defaults).
    pub squash: bool,
    /// Score and report only the pairs with at least this count (vigipy's `min_events`); the
    /// prior is still fitted on every pair with n >= N*.
    pub min_count: u32,
}

/// The prior used and where it came from.
#[derive(Debug, Clone, Serialize)]
pub struct MgpsSummary {
    pub prior: Prior,
    /// The negative log-likelihood of the prior over the fitted points (given priors too).
    pub neg_log_likelihood: f64,
    pub likelihood: Likelihood,
    pub likelihood_description: String,
    pub fitted: bool,
    pub squashed: bool,
    /// Points the likelihood was evaluated on, and the pairs they stand for.
    pub points: usize,
    pub pairs: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fit: Option<Fit>,
}

/// Wall-clock seconds of each stage, for the benchmark and for the curious.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Timings {
    pub fit: f64,
    pub eb_scores: f64,
    pub disproportionality: f64,
}

#[derive(Debug, Clone)]
pub struct Scored {
    pub table: PairTable,
    pub mgps: MgpsSummary,
    pub timings: Timings,
}

/// The points the likelihood is evaluated on: pairs with n >= N*, squashed if asked.
pub fn fit_points(counts: &PairCounts, likelihood: Likelihood, squash: bool) -> Result<Points> {
    let n_star = likelihood.n_star();
    if !squash {
        return Ok(Points::new(&counts.n, &counts.expected, None, n_star));
    }
    let kept: Vec<usize> = (0..counts.len()).filter(|&i| counts.n[i] >= n_star as f64).collect();
    let data =
        Weighted::new(kept.iter().map(|&i| counts.n[i]).collect(), kept.iter().map(|&i| counts.expected[i]).collect());
    let squashed = auto_squash(&data)?;
    Ok(Points::new(&squashed.n, &squashed.e, Some(&squashed.w), n_star))
}

/// The MGPS prior for these counts: fitted, or the given one with its likelihood.
pub fn prior_for(counts: &PairCounts, options: &ScoreOptions) -> Result<MgpsSummary> {
    if options.likelihood == Likelihood::Untruncated && !counts.n.contains(&0.0) {
        return Err(crate::bad_input!(
            "--truncate 0 fits the prior on every pair including those never reported together, but the \
             counts have no pair with n = 0; add the zero-count pairs or truncate at 1"
        ));
    }
    let points = fit_points(counts, options.likelihood, options.squash)?;
    let (prior, neg_ll, fit) = match options.prior {
        Some(prior) => (prior, neg_log_likelihood(&points, &prior, options.likelihood), None),
        None => {
            let fit = fit(&points, &FitOptions::new(options.likelihood))?;
            (fit.prior, fit.neg_log_likelihood, Some(fit))
        }
    };
    Ok(MgpsSummary {
        prior,
        neg_log_likelihood: neg_ll,
        likelihood: options.likelihood,
        likelihood_description: options.likelihood.describe(),
        fitted: fit.is_some(),
        squashed: options.squash,
        points: points.len(),
        pairs: points.total_weight(),
        fit,
    })
}

/// Score every pair.
pub fn score(counts: &PairCounts, options: &ScoreOptions) -> Result<Scored> {
    let mut timings = Timings::default();
    let started = Instant::now();
    let mgps = prior_for(counts, options)?;
    timings.fit = started.elapsed().as_secs_f64();

    let kept;
    let counts = if options.min_count > 1 {
        let keep: Vec<usize> = (0..counts.len()).filter(|&i| counts.n[i] >= options.min_count as f64).collect();
        kept = counts.select(&keep);
        &kept
    } else {
        counts
    };

    let started = Instant::now();
    let post = posterior::score(&mgps.prior, &counts.n, &counts.expected);
    timings.eb_scores = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let table = pair_table(counts, post);
    timings.disproportionality = started.elapsed().as_secs_f64();
    Ok(Scored { table, mgps, timings })
}

/// The 2×2 statistics of one pair, NaN where undefined (no margins, or a zero cell).
struct PairStats {
    prr: [f64; 3],
    ror: [f64; 3],
    chi2: [f64; 4],
    fisher_p: f64,
    bcpnn: [f64; 3],
    evans: bool,
}

fn pair_stats(t: Option<Table2x2>) -> PairStats {
    let Some(t) = t else {
        return PairStats {
            prr: [f64::NAN; 3],
            ror: [f64::NAN; 3],
            chi2: [f64::NAN; 4],
            fisher_p: f64::NAN,
            bcpnn: [f64::NAN; 3],
            evans: false,
        };
    };
    let (prr, ror) = (t.prr(), t.ror());
    let (chi2, chi2_yates) = (t.chi2(), t.chi2_yates());
    let p = |x: f64| if x.is_finite() { super::special::normal::chi2_1_sf(x) } else { f64::NAN };
    let bcpnn = bcpnn_gould(&t);
    let (lo, hi) = bcpnn.limits_95();
    PairStats {
        prr: [prr.estimate, prr.lo, prr.hi],
        ror: [ror.estimate, ror.lo, ror.hi],
        chi2: [chi2, p(chi2), chi2_yates, p(chi2_yates)],
        fisher_p: t.fisher_two_sided(),
        bcpnn: [bcpnn.mean, lo, hi],
        evans: t.evans(),
    }
}

fn pair_table(counts: &PairCounts, post: posterior::Posterior) -> PairTable {
    let rows = counts.len();
    let table = |i: usize| {
        counts.margins.as_ref().map(|m| Table2x2::from_margins(counts.n[i], m.n_drug[i], m.n_event[i], m.n_total))
    };
    let stats: Vec<PairStats> = (0..rows).into_par_iter().with_min_len(256).map(|i| pair_stats(table(i))).collect();
    let ics: Vec<[f64; 3]> =
        ic_noren_all(&counts.n, &counts.expected).into_iter().map(|ic| [ic.ic, ic.lo, ic.hi]).collect();
    let margin = |pick: fn(&super::counts::Margins, usize) -> f64| -> Vec<f64> {
        (0..rows).map(|i| counts.margins.as_ref().map_or(f64::NAN, |m| pick(m, i))).collect()
    };
    let of = |f: &dyn Fn(&PairStats) -> f64| stats.iter().map(f).collect::<Vec<f64>>();
    let ic_of = |k: usize| ics.iter().map(|v| v[k]).collect::<Vec<f64>>();
    use ColumnRole::*;
    let columns = vec![
        Column::text("drug", Label, counts.drug.clone()),
        Column::text("event", Label, counts.event.clone()),
        Column::number("n", PersonCount, counts.n.clone()),
        Column::number("n_drug", PersonCount, margin(|m, i| m.n_drug[i])),
        Column::number("n_event", PersonCount, margin(|m, i| m.n_event[i])),
        Column::number("n_total", Denominator, margin(|m, _| m.n_total)),
        Column::number("e", Estimate, counts.expected.clone()),
        Column::number("prr", Ratio, of(&|s| s.prr[0])),
        Column::number("prr_lo", IntervalBound, of(&|s| s.prr[1])),
        Column::number("prr_hi", IntervalBound, of(&|s| s.prr[2])),
        Column::number("ror", Ratio, of(&|s| s.ror[0])),
        Column::number("ror_lo", IntervalBound, of(&|s| s.ror[1])),
        Column::number("ror_hi", IntervalBound, of(&|s| s.ror[2])),
        Column::number("chi2", Estimate, of(&|s| s.chi2[0])),
        Column::number("chi2_p", PValue, of(&|s| s.chi2[1])),
        Column::number("chi2_yates", Estimate, of(&|s| s.chi2[2])),
        Column::number("chi2_yates_p", PValue, of(&|s| s.chi2[3])),
        Column::number("fisher_p", PValue, of(&|s| s.fisher_p)),
        Column::number("ic", Estimate, ic_of(0)),
        Column::number("ic025", IntervalBound, ic_of(1)),
        Column::number("ic975", IntervalBound, ic_of(2)),
        Column::number("bcpnn_ic", Estimate, of(&|s| s.bcpnn[0])),
        Column::number("bcpnn_ic025", IntervalBound, of(&|s| s.bcpnn[1])),
        Column::number("bcpnn_ic975", IntervalBound, of(&|s| s.bcpnn[2])),
        Column::number("qn", Proportion, post.qn.clone()),
        Column::number("ebgm", Ratio, post.ebgm.clone()),
        Column::number("eb05", IntervalBound, post.eb05.clone()),
        Column::number("eb95", IntervalBound, post.eb95.clone()),
        Column::number("p_le1", Proportion, post.p_le1.clone()),
        Column::flag("evans", stats.iter().map(|s| s.evans).collect()),
        Column::flag("ror025_gt1", stats.iter().map(|s| s.ror[1] > 1.0).collect()),
        Column::flag("ic025_gt0", ics.iter().map(|v| v[1] > 0.0).collect()),
        Column::flag("eb05_ge2", post.eb05.iter().map(|&v| v >= 2.0).collect()),
    ];
    PairTable { columns }
}

/// How many pairs each signal rule flags.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct FlagCounts {
    pub evans: usize,
    pub ror025_gt1: usize,
    pub ic025_gt0: usize,
    pub eb05_ge2: usize,
}

pub fn flag_counts(table: &PairTable) -> FlagCounts {
    let count = |name: &str| match table.column(name).map(|c| &c.values) {
        Some(super::pair_table::Values::Flag(v)) => v.iter().filter(|&&b| b).count(),
        _ => 0,
    };
    FlagCounts {
        evans: count("evans"),
        ror025_gt1: count("ror025_gt1"),
        ic025_gt0: count("ic025_gt0"),
        eb05_ge2: count("eb05_ge2"),
    }
}
