//! Scoring every pair: the MGPS prior (fitted or given), then per pair the 2×2 statistics, the
//! information components and the MGPS posterior, and the usual signal rules as flags.

use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use super::contingency::{Table2x2, bcpnn_gould, ic_noren_all};
use super::counts::PairCounts;
use super::mgps::fit::{Fit, FitOptions, NotFitted, fit};
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

/// The prior used and where it came from, or why there is none.
#[derive(Debug, Clone, Serialize)]
pub struct MgpsSummary {
    /// The prior the pairs were scored with; None when it could not be fitted (see `not_fitted`):
    /// the MGPS columns are then empty and every other statistic is computed as usual.
    pub prior: Option<Prior>,
    /// The negative log-likelihood of the prior over the fitted points (given priors too).
    pub neg_log_likelihood: Option<f64>,
    pub likelihood: Likelihood,
    pub likelihood_description: String,
    pub fitted: bool,
    pub squashed: bool,
    /// Points the likelihood was evaluated on, and the pairs they stand for.
    pub points: usize,
    pub pairs: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fit: Option<Fit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_fitted: Option<NotFitted>,
}

impl MgpsSummary {
    /// How the prior came about, in one line: the sidecar's `mgps_prior` and the notes.
    pub fn describe(&self) -> String {
        match (&self.prior, &self.not_fitted) {
            (Some(t), _) => format!(
                "{} ({}, {}, {}, {}, {})",
                if self.fitted { "fitted" } else { "given" },
                t.alpha1,
                t.beta1,
                t.alpha2,
                t.beta2,
                t.p
            ),
            (None, Some(why)) => format!("not fitted: {}", why.reason),
            (None, None) => unreachable!("a summary without a prior says why"),
        }
    }
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
    let (prior, neg_ll, fit, not_fitted) = match options.prior {
        Some(prior) => (Some(prior), Some(neg_log_likelihood(&points, &prior, options.likelihood)), None, None),
        None => match fit(&points, &FitOptions::new(options.likelihood)) {
            Ok(fit) => (Some(fit.prior), Some(fit.neg_log_likelihood), Some(fit), None),
            Err(why) => (None, None, None, Some(why)),
        },
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
        not_fitted,
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
    let post = match &mgps.prior {
        Some(prior) => posterior::score(prior, &counts.n, &counts.expected),
        None => posterior::Posterior::undefined(counts.len()),
    };
    timings.eb_scores = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let table = pair_table(counts, post, mgps.prior.is_some());
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
    let p = |x: f64| if x.is_finite() { crate::stats::special::gamma::chi2_sf(x, 1.0) } else { f64::NAN };
    let bcpnn = bcpnn_gould(&t);
    let (lo, hi) = bcpnn.limits_95();
    let evans = match (prr.estimate.is_nan() || chi2_yates.is_nan(), t.evans()) {
        (true, _) => f64::NAN,
        (false, flagged) => flagged as u8 as f64,
    };
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

/// The MGPS posterior columns, empty when there is no prior.
const MGPS_COLUMNS: [&str; 5] = ["qn", "ebgm", "eb05", "eb95", "p_le1"];
const IC_COLUMNS: [&str; 3] = ["ic", "ic025", "ic975"];

fn pair_table(counts: PairCounts, post: posterior::Posterior, prior: bool) -> PairTable {
    let rows = counts.len();
    let table = |i: usize| {
        counts.margins.as_ref().map(|m| Table2x2::from_margins(counts.n[i], m.n_drug[i], m.n_event[i], m.n_total))
    };
    let stats = columns(rows, |i| pair_stats(table(i)));
    let [ic, ic025, ic975] = {
        let ics = ic_noren_all(&counts.n, &counts.expected);
        columns(rows, |i| [ics[i].ic, ics[i].lo, ics[i].hi])
    };
    let flags = |values: &[f64], rule: fn(f64) -> bool| {
        values.iter().map(|&v| (!v.is_nan()).then(|| rule(v))).collect::<Vec<Option<bool>>>()
    };
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
        Column::number(IC_COLUMNS[0], Estimate, ic),
        Column::number(IC_COLUMNS[1], IntervalBound, ic025),
        Column::number(IC_COLUMNS[2], IntervalBound, ic975),
    ]);
    all.extend(
        STAT_COLUMNS[11..].iter().map(|&(name, role)| Column::number(name, role, stats.next().expect("a column"))),
    );
    let evans = stats.next().expect("the Evans column").iter().map(|&v| (!v.is_nan()).then_some(v == 1.0)).collect();
    all.extend([
        Column::number(MGPS_COLUMNS[0], Proportion, post.qn),
        Column::number(MGPS_COLUMNS[1], Ratio, post.ebgm),
        Column::number(MGPS_COLUMNS[2], IntervalBound, post.eb05),
        Column::number(MGPS_COLUMNS[3], IntervalBound, post.eb95),
        Column::number(MGPS_COLUMNS[4], Proportion, post.p_le1),
        Column::flag("evans", evans),
        Column::flag("ror025_gt1", ror025_gt1),
        Column::flag("ic025_gt0", ic025_gt0),
        Column::flag("eb05_ge2", eb05_ge2),
    ]);
    let mut table = PairTable { columns: all };
    let why = not_estimable(&table, prior);
    table.columns.push(Column::text("not_estimable", Other, why));
    table
}

/// Per row, why the statistics left empty could not be estimated, as `names: reason` joined by
/// `; ` (empty when every statistic is defined). With every cell of the 2×2 table positive all of
/// them are; a zero cell leaves some undefined (ROR with b = 0, PRR with c = 0, a chi-square with
/// an empty margin), and without a prior the MGPS posterior is undefined for every pair.
fn not_estimable(table: &PairTable, prior: bool) -> Vec<String> {
    let group = |names: &[&'static str]| -> Vec<(&'static str, &[f64])> {
        names.iter().map(|&name| (name, table.numbers(name))).collect()
    };
    let groups = [group(&STAT_COLUMNS.map(|(name, _)| name)), group(&IC_COLUMNS), group(&MGPS_COLUMNS)];
    let [n, n_drug, n_event, n_total] = ["n", "n_drug", "n_event", "n_total"].map(|name| table.numbers(name));
    let why = |group: usize, row: usize| match group {
        0 => cells_reason(
            (!n_drug[row].is_nan()).then(|| Table2x2::from_margins(n[row], n_drug[row], n_event[row], n_total[row])),
        ),
        1 => "not computable from n and e".to_string(),
        _ if prior => "not computable under the prior".to_string(),
        _ => "the MGPS prior was not fitted".to_string(),
    };
    (0..table.rows())
        .into_par_iter()
        .map(|row| {
            let said: Vec<String> = groups
                .iter()
                .enumerate()
                .filter_map(|(k, statistics)| {
                    let names: Vec<&str> = statistics
                        .iter()
                        .filter(|(_, values)| !values[row].is_finite())
                        .map(|&(name, _)| name)
                        .collect();
                    (!names.is_empty()).then(|| format!("{}: {}", names.join(", "), why(k, row)))
                })
                .collect();
            said.join("; ")
        })
        .collect()
}

/// Why a 2×2 statistic of this table is undefined: no table, or its zero cells.
fn cells_reason(cells: Option<Table2x2>) -> String {
    let Some(t) = cells else {
        return "no margins (n_drug, n_event, n_total) to build the 2x2 table".to_string();
    };
    let zero: Vec<String> = [("a", t.a), ("b", t.b), ("c", t.c), ("d", t.d)]
        .iter()
        .filter(|(_, v)| *v == 0.0)
        .map(|(c, _)| format!("{c} = 0"))
        .collect();
    match zero.len() {
        0 => "not computable from this 2x2 table".to_string(),
        1 => format!("a zero cell ({})", zero[0]),
        _ => format!("zero cells ({})", zero.join(", ")),
    }
}

/// How many pairs each signal rule flags; None for a rule undefined for every pair (EB05 without a
/// prior, the 2×2 rules without margins), which flags nothing because it was not applied.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct FlagCounts {
    pub evans: Option<usize>,
    pub ror025_gt1: Option<usize>,
    pub ic025_gt0: Option<usize>,
    pub eb05_ge2: Option<usize>,
}

pub fn flag_counts(table: &PairTable) -> FlagCounts {
    let count = |name: &str| match table.column(name).map(|c| &c.values) {
        Some(super::pair_table::Values::Flag(v)) if v.iter().any(Option::is_some) => {
            Some(v.iter().filter(|&&b| b == Some(true)).count())
        }
        _ => None,
    };
    FlagCounts {
        evans: count("evans"),
        ror025_gt1: count("ror025_gt1"),
        ic025_gt0: count("ic025_gt0"),
        eb05_ge2: count("eb05_ge2"),
    }
}
