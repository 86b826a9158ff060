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
use crate::schema::ColumnRole;

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

/// Score every pair (taking the counts: their columns become the table's).
pub fn score(counts: PairCounts, options: &ScoreOptions) -> Result<Scored> {
    let mut timings = Timings::default();
    let started = Instant::now();
    let mgps = prior_for(&counts, options)?;
    timings.fit = started.elapsed().as_secs_f64();

    let counts = if options.min_count > 1 {
        let keep: Vec<usize> = (0..counts.len()).filter(|&i| counts.n[i] >= options.min_count as f64).collect();
        counts.select(&keep)
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

/// The 2×2 statistics of one pair, in the order of [`STAT_COLUMNS`]; NaN where undefined (no
/// margins, or a zero cell in a denominator).
fn pair_stats(t: Option<Table2x2>) -> [f64; STATS] {
    let Some(t) = t else {
        return [f64::NAN; STATS];
    };
    let (prr, ror) = (t.prr(), t.ror());
    let (chi2, chi2_yates) = (t.chi2(), t.chi2_yates());
    let p = |x: f64| if x.is_finite() { super::special::normal::chi2_1_sf(x) } else { f64::NAN };
    let bcpnn = bcpnn_gould(&t);
    let (lo, hi) = bcpnn.limits_95();
    let evans = if t.evans() { 1.0 } else { 0.0 };
    [
        prr.estimate,
        prr.lo,
        prr.hi,
        ror.estimate,
        ror.lo,
        ror.hi,
        chi2,
        p(chi2),
        chi2_yates,
        p(chi2_yates),
        t.fisher_two_sided(),
        bcpnn.mean,
        lo,
        hi,
        evans,
    ]
}

const STATS: usize = 15;
/// The columns of [`pair_stats`] (the Evans flag, last, becomes a flag column).
const STAT_COLUMNS: [(&str, ColumnRole); STATS - 1] = [
    ("prr", ColumnRole::Ratio),
    ("prr_lo", ColumnRole::IntervalBound),
    ("prr_hi", ColumnRole::IntervalBound),
    ("ror", ColumnRole::Ratio),
    ("ror_lo", ColumnRole::IntervalBound),
    ("ror_hi", ColumnRole::IntervalBound),
    ("chi2", ColumnRole::Estimate),
    ("chi2_p", ColumnRole::PValue),
    ("chi2_yates", ColumnRole::Estimate),
    ("chi2_yates_p", ColumnRole::PValue),
    ("fisher_p", ColumnRole::PValue),
    ("bcpnn_ic", ColumnRole::Estimate),
    ("bcpnn_ic025", ColumnRole::IntervalBound),
    ("bcpnn_ic975", ColumnRole::IntervalBound),
];

/// Rows per rayon task when computing columns.
const ROWS_PER_TASK: usize = 8192;

/// K numbers per row, computed in parallel and laid out as K columns (each task fills short
/// columns for its rows, which are then joined: two passes over the data, none over rows of K).
fn columns<const K: usize>(rows: usize, row: impl Fn(usize) -> [f64; K] + Sync) -> [Vec<f64>; K] {
    let parts: Vec<[Vec<f64>; K]> = (0..rows.div_ceil(ROWS_PER_TASK))
        .into_par_iter()
        .map(|task| {
            let range = task * ROWS_PER_TASK..((task + 1) * ROWS_PER_TASK).min(rows);
            let mut part: [Vec<f64>; K] = std::array::from_fn(|_| Vec::with_capacity(range.len()));
            for i in range {
                for (column, value) in part.iter_mut().zip(row(i)) {
                    column.push(value);
                }
            }
            part
        })
        .collect();
    std::array::from_fn(|k| {
        let mut column = Vec::with_capacity(rows);
        for part in &parts {
            column.extend_from_slice(&part[k]);
        }
        column
    })
}

fn pair_table(counts: PairCounts, post: posterior::Posterior) -> PairTable {
    let rows = counts.len();
    let table = |i: usize| {
        counts.margins.as_ref().map(|m| Table2x2::from_margins(counts.n[i], m.n_drug[i], m.n_event[i], m.n_total))
    };
    let stats = columns(rows, |i| pair_stats(table(i)));
    let [ic, ic025, ic975] = {
        let ics = ic_noren_all(&counts.n, &counts.expected);
        columns(rows, |i| [ics[i].ic, ics[i].lo, ics[i].hi])
    };
    let flags = |values: &[f64], rule: fn(f64) -> bool| values.iter().map(|&v| rule(v)).collect::<Vec<bool>>();
    let ror_lo = &stats[4];
    let (ror025_gt1, ic025_gt0, eb05_ge2) =
        (flags(ror_lo, |v| v > 1.0), flags(&ic025, |v| v > 0.0), flags(&post.eb05, |v| v >= 2.0));
    let mut stats = stats.into_iter();
    let (n_drug, n_event, n_total) = match counts.margins {
        Some(m) => (m.n_drug, m.n_event, vec![m.n_total; rows]),
        None => (vec![f64::NAN; rows], vec![f64::NAN; rows], vec![f64::NAN; rows]),
    };
    use ColumnRole::*;
    let mut all = vec![
        Column::text("drug", Label, counts.drug),
        Column::text("event", Label, counts.event),
        Column::number("n", PersonCount, counts.n),
        Column::number("n_drug", PersonCount, n_drug),
        Column::number("n_event", PersonCount, n_event),
        Column::number("n_total", Denominator, n_total),
        Column::number("e", Estimate, counts.expected),
    ];
    all.extend(
        STAT_COLUMNS[..11].iter().map(|&(name, role)| Column::number(name, role, stats.next().expect("a column"))),
    );
    all.extend([
        Column::number("ic", Estimate, ic),
        Column::number("ic025", IntervalBound, ic025),
        Column::number("ic975", IntervalBound, ic975),
    ]);
    all.extend(
        STAT_COLUMNS[11..].iter().map(|&(name, role)| Column::number(name, role, stats.next().expect("a column"))),
    );
    let evans = stats.next().expect("the Evans column").iter().map(|&v| v == 1.0).collect();
    all.extend([
        Column::number("qn", Proportion, post.qn),
        Column::number("ebgm", Ratio, post.ebgm),
        Column::number("eb05", IntervalBound, post.eb05),
        Column::number("eb95", IntervalBound, post.eb95),
        Column::number("p_le1", Proportion, post.p_le1),
        Column::flag("evans", evans),
        Column::flag("ror025_gt1", ror025_gt1),
        Column::flag("ic025_gt0", ic025_gt0),
        Column::flag("eb05_ge2", eb05_ge2),
    ]);
    PairTable { columns: all }
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
