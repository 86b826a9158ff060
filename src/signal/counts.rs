//! Drug-event pair counts from the four input shapes of `signal score --counts`, with their margins
//! and expected counts, and the checks that keep bad counts out.
//!
//! | columns | N and the margins |
//! | --- | --- |
//! | `id,drug,event[,stratum]` | count unique ids (openEBGM's convention: a report naming two events counts once per drug) |
//! | `drug,event,n` | margins are sums of n (vigipy's convention: N counts drug-event pairs) |
//! | `drug,event,n,n_drug,n_event,n_total` | given (e.g. the CAERS table, whose margins count unique reports) |
//! | `drug,event,n,e` | expected counts given; margins optional |
//!
//! openEBGM's column names (`var1`, `var2`, `N`, `N_v1`, `N_v2`, `E`) are read as `drug`, `event`,
//! `n`, `n_drug`, `n_event`, `e`. The expected count is n_drug·n_event/n_total, or with strata
//! Σ_s n_drug,s·n_event,s/n_s (DuMouchel 1999), each stratum's margins counting its unique ids.

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

use crate::bad_input;
use crate::error::Result;
use crate::table::Frame;

/// Which input shape the counts came from, and so what N and the margins count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CountSource {
    /// One row per (id, drug, event); N and the margins count unique ids.
    Cases { stratified: bool },
    /// Pair counts; margins are sums of n.
    PairCounts,
    /// Pair counts with margins given.
    PairCountsWithMargins,
    /// Pair counts with expected counts given.
    PairCountsWithExpected,
    /// Counts of new-use episodes with the outcome in a risk window (`signal screen`).
    NewUseEpisodes { risk_window_days: i32 },
    /// Rows of new-use episodes with outcome flags (`signal screen --input` or `--dataset`); the
    /// flags count only up to a risk window when one was given.
    EpisodeRows { risk_window_days: Option<i32> },
}

impl CountSource {
    pub fn describe(&self) -> &'static str {
        match self {
            CountSource::Cases { stratified: false } => "case-level: N and margins count unique ids",
            CountSource::Cases { stratified: true } => {
                "case-level, stratified: N and margins count unique ids; E sums the strata"
            }
            CountSource::PairCounts => "pair counts: margins are sums of n",
            CountSource::PairCountsWithMargins => "pair counts with margins as given",
            CountSource::PairCountsWithExpected => "pair counts with expected counts as given",
            CountSource::NewUseEpisodes { .. } => "new-use episodes: N and margins count episodes",
            CountSource::EpisodeRows { .. } => "rows of new-use episodes: N and margins count rows",
        }
    }
}

/// The margins of every pair's 2×2 table.
#[derive(Debug, Clone, PartialEq)]
pub struct Margins {
    pub n_drug: Vec<f64>,
    pub n_event: Vec<f64>,
    pub n_total: f64,
}

/// One row per drug-event pair.
#[derive(Debug, Clone, PartialEq)]
pub struct PairCounts {
    pub drug: Vec<String>,
    pub event: Vec<String>,
    pub n: Vec<f64>,
    /// Expected count under independence (stratified when the input had strata).
    pub expected: Vec<f64>,
    /// None when only expected counts were given: the 2×2 statistics are then undefined.
    pub margins: Option<Margins>,
    pub source: CountSource,
}

impl PairCounts {
    pub fn len(&self) -> usize {
        self.n.len()
    }

    pub fn is_empty(&self) -> bool {
        self.n.is_empty()
    }

    /// The pairs at `rows`, in that order.
    pub fn select(&self, rows: &[usize]) -> PairCounts {
        let pick = |v: &[f64]| rows.iter().map(|&i| v[i]).collect::<Vec<f64>>();
        PairCounts {
            drug: rows.iter().map(|&i| self.drug[i].clone()).collect(),
            event: rows.iter().map(|&i| self.event[i].clone()).collect(),
            n: pick(&self.n),
            expected: pick(&self.expected),
            margins: self.margins.as_ref().map(|m| Margins {
                n_drug: pick(&m.n_drug),
                n_event: pick(&m.n_event),
                n_total: m.n_total,
            }),
            source: self.source,
        }
    }
}

/// openEBGM's names for our columns.
const ALIASES: [(&str, &str); 6] =
    [("drug", "var1"), ("event", "var2"), ("n", "N"), ("n_drug", "N_v1"), ("n_event", "N_v2"), ("e", "E")];

/// The name a column has in `frame`: ours, or openEBGM's alias of it.
fn column<'a>(frame: &'a Frame, name: &'a str) -> Option<&'a str> {
    if frame.has_column(name) {
        return Some(name);
    }
    ALIASES.iter().find(|(ours, _)| *ours == name).map(|(_, alias)| *alias).filter(|a| frame.has_column(a))
}

fn required<'a>(frame: &'a Frame, name: &'a str, shape: &str) -> Result<&'a str> {
    column(frame, name).ok_or_else(|| {
        bad_input!(
            "{}: no column `{name}` ({shape}); the columns are: {}. Give one of: id,drug,event[,stratum] | \
             drug,event,n | drug,event,n,n_drug,n_event,n_total | drug,event,n,e",
            frame.path().display(),
            frame.names().join(", ")
        )
    })
}

/// Read pair counts from a CSV or Parquet file of any of the four shapes.
pub fn read(path: &Path) -> Result<PairCounts> {
    let frame = Frame::read(path)?;
    if frame.rows() == 0 {
        return Err(bad_input!("{}: the table has no rows; give at least one drug-event pair", path.display()));
    }
    if frame.has_column("id") {
        return from_cases(&frame);
    }
    let shape = "pair counts need drug, event and n";
    let drug = frame.strings(required(&frame, "drug", shape)?)?;
    let event = frame.strings(required(&frame, "event", shape)?)?;
    let n_col = required(&frame, "n", shape)?;
    let n = counts_column(&frame, n_col)?;
    check_unique_pairs(&frame, &drug, &event)?;

    let has = |name: &str| column(&frame, name).is_some();
    let given_expected = match column(&frame, "e") {
        Some(e_col) => Some(expected_column(&frame, e_col)?),
        None => None,
    };
    let (margins, source) = if has("n_drug") || has("n_event") || has("n_total") {
        if !(has("n_drug") && has("n_event") && has("n_total")) {
            if given_expected.is_some() && !has("n_total") {
                (None, CountSource::PairCountsWithExpected)
            } else {
                return Err(bad_input!(
                    "{}: margins need all three columns n_drug, n_event and n_total; the columns are: {}",
                    path.display(),
                    frame.names().join(", ")
                ));
            }
        } else {
            let margins = given_margins(&frame, &drug, &event, &n)?;
            let source = if given_expected.is_some() {
                CountSource::PairCountsWithExpected
            } else {
                CountSource::PairCountsWithMargins
            };
            (Some(margins), source)
        }
    } else if given_expected.is_some() {
        (None, CountSource::PairCountsWithExpected)
    } else {
        (Some(summed_margins(&drug, &event, &n)), CountSource::PairCounts)
    };
    let expected = match given_expected {
        Some(e) => e,
        None => {
            let m = margins.as_ref().expect("margins are known when no expected counts are given");
            m.n_drug.iter().zip(&m.n_event).map(|(i, j)| i * j / m.n_total).collect()
        }
    };
    Ok(PairCounts { drug, event, n, expected, margins, source })
}

/// A column of counts: whole numbers, none negative.
fn counts_column(frame: &Frame, name: &str) -> Result<Vec<f64>> {
    let values = frame.i64s(name)?;
    if let Some(row) = values.iter().position(|&v| v < 0) {
        return Err(frame.bad_row(name, row, &format!("count {} is negative; counts are 0 or more", values[row])));
    }
    Ok(values.into_iter().map(|v| v as f64).collect())
}

fn expected_column(frame: &Frame, name: &str) -> Result<Vec<f64>> {
    let values = frame.f64s(name)?;
    if let Some(row) = values.iter().position(|&v| v <= 0.0) {
        return Err(frame.bad_row(name, row, &format!("expected count {} is not positive", values[row])));
    }
    Ok(values)
}

fn check_unique_pairs(frame: &Frame, drug: &[String], event: &[String]) -> Result<()> {
    let mut seen: HashMap<(&str, &str), usize> = HashMap::with_capacity(drug.len());
    for (row, (d, e)) in drug.iter().zip(event).enumerate() {
        if let Some(first) = seen.insert((d.as_str(), e.as_str()), row) {
            return Err(frame.bad_row(
                column(frame, "event").unwrap_or("event"),
                row,
                &format!(
                    "duplicate pair `{d}` / `{e}` (first at row {}); give each drug-event pair once, or give \
                     case-level rows (id,drug,event) to have them counted",
                    first + 1
                ),
            ));
        }
    }
    Ok(())
}

fn summed_margins(drug: &[String], event: &[String], n: &[f64]) -> Margins {
    let mut by_drug: HashMap<&str, f64> = HashMap::new();
    let mut by_event: HashMap<&str, f64> = HashMap::new();
    for ((d, e), &k) in drug.iter().zip(event).zip(n) {
        *by_drug.entry(d).or_default() += k;
        *by_event.entry(e).or_default() += k;
    }
    Margins {
        n_drug: drug.iter().map(|d| by_drug[d.as_str()]).collect(),
        n_event: event.iter().map(|e| by_event[e.as_str()]).collect(),
        n_total: n.iter().sum(),
    }
}

fn given_margins(frame: &Frame, drug: &[String], event: &[String], n: &[f64]) -> Result<Margins> {
    let (drug_col, event_col) = (required(frame, "n_drug", "")?, required(frame, "n_event", "")?);
    let n_drug = counts_column(frame, drug_col)?;
    let n_event = counts_column(frame, event_col)?;
    let totals = counts_column(frame, "n_total")?;
    let n_total = totals[0];
    for row in 0..n.len() {
        let bad = |col: &str, what: String| Err(frame.bad_row(col, row, &what));
        if totals[row] != n_total {
            return bad("n_total", format!("n_total {} differs from row 1's {n_total}; N is one number", totals[row]));
        }
        if n[row] > n_drug[row] {
            return bad(drug_col, format!("n = {} is more than n_drug = {}", n[row], n_drug[row]));
        }
        if n[row] > n_event[row] {
            return bad(event_col, format!("n = {} is more than n_event = {}", n[row], n_event[row]));
        }
        if n_drug[row] + n_event[row] - n[row] > n_total {
            return bad(
                "n_total",
                format!(
                    "n_drug + n_event - n = {} is more than n_total = {n_total}",
                    n_drug[row] + n_event[row] - n[row]
                ),
            );
        }
    }
    check_consistent(frame, drug_col, drug, &n_drug)?;
    check_consistent(frame, event_col, event, &n_event)?;
    Ok(Margins { n_drug, n_event, n_total })
}

/// A margin belongs to its drug (or event): every row of that drug must give the same value.
fn check_consistent(frame: &Frame, col: &str, keys: &[String], values: &[f64]) -> Result<()> {
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (row, key) in keys.iter().enumerate() {
        let at = *first.entry(key).or_insert(row);
        if values[at] != values[row] {
            return Err(frame.bad_row(
                col,
                row,
                &format!(
                    "{} for `{key}` differs from row {}'s {}; a margin is one number",
                    values[row],
                    at + 1,
                    values[at]
                ),
            ));
        }
    }
    Ok(())
}

/// Small integer ids for strings, in order of first appearance.
#[derive(Default)]
struct Interner<'a> {
    ids: HashMap<&'a str, u32>,
    names: Vec<&'a str>,
}

impl<'a> Interner<'a> {
    fn id(&mut self, s: &'a str) -> u32 {
        let next = self.names.len() as u32;
        *self.ids.entry(s).or_insert_with(|| {
            self.names.push(s);
            next
        })
    }
}

/// Count unique ids per pair, per drug, per event and overall (and per stratum when given).
fn from_cases(frame: &Frame) -> Result<PairCounts> {
    let shape = "case-level rows need id, drug and event";
    let ids = frame.texts("id")?;
    if let Some(row) = ids.iter().position(Option::is_none) {
        return Err(frame.bad_row("id", row, "missing id"));
    }
    let drug = frame.strings(required(frame, "drug", shape)?)?;
    let event = frame.strings(required(frame, "event", shape)?)?;
    let strata = if frame.has_column("stratum") { Some(frame.strings("stratum")?) } else { None };

    let (mut id_of, mut drug_of, mut event_of, mut stratum_of) =
        (Interner::default(), Interner::default(), Interner::default(), Interner::default());
    let mut rows = Vec::with_capacity(ids.len());
    for row in 0..ids.len() {
        let id = id_of.id(ids[row].as_deref().expect("checked above"));
        let s = strata.as_ref().map_or(0, |s| stratum_of.id(&s[row]));
        rows.push((drug_of.id(&drug[row]), event_of.id(&event[row]), id, s));
    }
    if let Some(strata) = &strata {
        check_one_stratum_per_id(frame, &rows, &ids, strata)?;
    }
    let count_unique = |mut keys: Vec<(u32, u32)>| -> HashMap<u32, f64> {
        keys.sort_unstable();
        keys.dedup();
        let mut counts = HashMap::new();
        for (k, _) in keys {
            *counts.entry(k).or_default() += 1.0;
        }
        counts
    };
    let n_drug = count_unique(rows.iter().map(|r| (r.0, r.2)).collect());
    let n_event = count_unique(rows.iter().map(|r| (r.1, r.2)).collect());
    let n_total = id_of.names.len() as f64;

    let mut triples: Vec<(u32, u32, u32)> = rows.iter().map(|r| (r.0, r.1, r.2)).collect();
    triples.sort_unstable();
    triples.dedup();
    let mut pairs: Vec<(u32, u32, f64)> = Vec::new();
    for (d, e, _) in triples {
        match pairs.last_mut() {
            Some(last) if last.0 == d && last.1 == e => last.2 += 1.0,
            _ => pairs.push((d, e, 1.0)),
        }
    }
    // Output in order of drug name, then event name (as openEBGM's processRaw).
    pairs.sort_unstable_by(|x, y| {
        (drug_of.names[x.0 as usize], event_of.names[x.1 as usize])
            .cmp(&(drug_of.names[y.0 as usize], event_of.names[y.1 as usize]))
    });
    let margins = Margins {
        n_drug: pairs.iter().map(|p| n_drug[&p.0]).collect(),
        n_event: pairs.iter().map(|p| n_event[&p.1]).collect(),
        n_total,
    };
    let expected = match strata {
        None => margins.n_drug.iter().zip(&margins.n_event).map(|(i, j)| i * j / n_total).collect(),
        Some(_) => {
            stratified_expected(&rows, &pairs, drug_of.names.len(), event_of.names.len(), stratum_of.names.len())
        }
    };
    Ok(PairCounts {
        drug: pairs.iter().map(|p| drug_of.names[p.0 as usize].to_string()).collect(),
        event: pairs.iter().map(|p| event_of.names[p.1 as usize].to_string()).collect(),
        n: pairs.iter().map(|p| p.2).collect(),
        expected,
        margins: Some(margins),
        source: CountSource::Cases { stratified: strata.is_some() },
    })
}

fn check_one_stratum_per_id(
    frame: &Frame,
    rows: &[(u32, u32, u32, u32)],
    ids: &[Option<String>],
    strata: &[String],
) -> Result<()> {
    let mut stratum_of_id: HashMap<u32, usize> = HashMap::new();
    for (row, r) in rows.iter().enumerate() {
        let first = *stratum_of_id.entry(r.2).or_insert(row);
        if rows[first].3 != r.3 {
            return Err(frame.bad_row(
                "stratum",
                row,
                &format!(
                    "id `{}` is in stratum `{}` here but in `{}` at row {}; each id belongs to one stratum",
                    crate::withhold::cell(ids[row].as_deref().unwrap_or("")),
                    crate::withhold::cell(&strata[row]),
                    crate::withhold::cell(&strata[first]),
                    first + 1
                ),
            ));
        }
    }
    Ok(())
}

/// E_ij = Σ_s n_i,s · n_j,s / n_s with unique-id counts within each stratum.
fn stratified_expected(
    rows: &[(u32, u32, u32, u32)],
    pairs: &[(u32, u32, f64)],
    drugs: usize,
    events: usize,
    strata: usize,
) -> Vec<f64> {
    let mut by_drug = vec![0.0; strata * drugs];
    let mut by_event = vec![0.0; strata * events];
    let mut size = vec![0.0; strata];
    let unique = |keys: Vec<(u32, u32, u32)>, out: &mut [f64], width: usize| {
        let mut keys = keys;
        keys.sort_unstable();
        keys.dedup();
        for (s, k, _) in keys {
            out[s as usize * width + k as usize] += 1.0;
        }
    };
    unique(rows.iter().map(|r| (r.3, r.0, r.2)).collect(), &mut by_drug, drugs);
    unique(rows.iter().map(|r| (r.3, r.1, r.2)).collect(), &mut by_event, events);
    unique(rows.iter().map(|r| (r.3, 0, r.2)).collect(), &mut size, 1);
    pairs
        .iter()
        .map(|&(d, e, _)| {
            (0..strata).map(|s| by_drug[s * drugs + d as usize] * by_event[s * events + e as usize] / size[s]).sum()
        })
        .collect()
}
