//! Screening patient-level data: the drug × outcome counts behind `signal screen`.
//!
//! The unit is a new-use episode, the analogue of a spontaneous report: each person's first
//! dispensing of each drug starts one, and it "reports" every outcome whose first occurrence in
//! the person's record falls in the risk window (start, start + window] days. An outcome that
//! first occurred on or before the start is prevalent and is not reported for that episode. Then
//! N counts episodes, n_drug the episodes of a drug, n_event the episodes reporting an outcome,
//! and n the episodes of the drug reporting the outcome: every episode falls in exactly one cell
//! of each pair's 2×2 table. The counts are then scored like any other (see [`super::score`]).
//!
//! A project's analysis dataset comes as episode rows instead ([`EpisodeRows`]): the extraction
//! script made one row per person and drug new-use episode with a 0/1 flag per outcome in its risk
//! window (`testdata/scripts/new_use_screen.midnet`), and [`episode_counts`] tallies the same 2×2
//! tables from them.
//!
//! The counting functions take columns, not files or projects.

use std::collections::HashMap;
use std::path::Path;

use super::counts::{CountSource, Margins, PairCounts};
use super::dates::required_days;
use super::pair_table::PairTable;
use crate::bad_input;
use crate::error::Result;
use crate::table::Frame;

/// Drug dispensings (or prescriptions): one row per person, drug and date.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exposures {
    pub person: Vec<String>,
    pub drug: Vec<String>,
    pub day: Vec<i32>,
}

/// Outcome occurrences: one row per person, outcome and date.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcomes {
    pub person: Vec<String>,
    pub outcome: Vec<String>,
    pub day: Vec<i32>,
}

/// Read `person,drug,date` rows.
pub fn read_exposures(path: &Path) -> Result<Exposures> {
    let frame = Frame::read_columns(path, &["person", "drug", "date"])?;
    Ok(Exposures {
        person: frame.strings("person")?,
        drug: frame.strings("drug")?,
        day: required_days(&frame, "date")?,
    })
}

/// Read `person,outcome,date` rows.
pub fn read_outcomes(path: &Path) -> Result<Outcomes> {
    let frame = Frame::read_columns(path, &["person", "outcome", "date"])?;
    Ok(Outcomes {
        person: frame.strings("person")?,
        outcome: frame.strings("outcome")?,
        day: required_days(&frame, "date")?,
    })
}

/// Which columns of a table of episode rows hold what.
#[derive(Debug, Clone)]
pub struct EpisodeColumns {
    /// The drug of each episode.
    pub drug: String,
    /// The columns that together identify a person (`site,person_id` in a project dataset).
    pub person: Vec<String>,
    /// The 0/1 outcome flags; empty means every column named `ID_event` (outcome `ID`).
    pub events: Vec<String>,
    /// Count a flag only when the outcome's `ID_days` is at most this many days.
    pub risk_window_days: Option<i32>,
}

/// Read episode rows. Rows of the same person and drug are one episode (a script's same-day
/// orders of an ingredient): it counts once, and an outcome counts when any of its rows flags it.
pub fn read_episodes(path: &Path, columns: &EpisodeColumns) -> Result<EpisodeRows> {
    let events = match columns.events.is_empty() {
        false => columns.events.clone(),
        true => {
            let header = Frame::read_columns(path, &[])?;
            let found: Vec<String> = header.names().iter().filter(|n| n.ends_with("_event")).cloned().collect();
            if found.is_empty() {
                return Err(bad_input!(
                    "{}: no outcome flag columns (named ID_event); name them with --event-columns COLS; the columns are: {}",
                    path.display(),
                    header.names().join(", ")
                ));
            }
            found
        }
    };
    let days: Vec<String> = match columns.risk_window_days {
        Some(_) => events.iter().map(|e| format!("{}_days", outcome_name(e))).collect(),
        None => Vec::new(),
    };
    let mut wanted: Vec<&str> = Vec::new();
    for c in std::iter::once(&columns.drug).chain(&columns.person).chain(&events).chain(&days) {
        if !wanted.contains(&c.as_str()) {
            wanted.push(c);
        }
    }
    let frame = Frame::read_columns(path, &wanted)?;
    let drug = frame.strings(&columns.drug)?;
    let persons = person_keys(&frame, &columns.person)?;
    // The episode of each row: the first row of its person and drug.
    let mut first_row: HashMap<(&str, &str), usize> = HashMap::new();
    let mut episode_of = Vec::with_capacity(drug.len());
    let mut episode_drug = Vec::new();
    for (person, d) in persons.iter().zip(&drug) {
        let next = episode_drug.len();
        let episode = *first_row.entry((person, d)).or_insert(next);
        if episode == next {
            episode_drug.push(d.clone());
        }
        episode_of.push(episode);
    }
    let mut outcomes = Vec::with_capacity(events.len());
    for (i, column) in events.iter().enumerate() {
        let values = frame.f64s(column)?;
        let row_flags = crate::stats::check::flags(&values).map_err(|bad| frame.bad_row(column, bad.row, &bad.what))?;
        let within: Vec<bool> = match columns.risk_window_days {
            Some(window) => frame.f64s(&days[i])?.iter().map(|&d| d <= window as f64).collect(),
            None => vec![true; frame.rows()],
        };
        let mut flags = vec![false; episode_drug.len()];
        for row in 0..frame.rows() {
            flags[episode_of[row]] |= row_flags[row] && within[row];
        }
        outcomes.push((outcome_name(column).to_string(), flags));
    }
    Ok(EpisodeRows { merged_rows: frame.rows() - episode_drug.len(), drug: episode_drug, outcomes })
}

/// Outcome `ID` of flag column `ID_event`.
fn outcome_name(column: &str) -> &str {
    column.strip_suffix("_event").unwrap_or(column)
}

/// Each row's person, from one or more key columns (joined by a separator no text contains).
pub fn person_keys(frame: &Frame, columns: &[String]) -> Result<Vec<String>> {
    let mut keys = vec![String::new(); frame.rows()];
    for (i, column) in columns.iter().enumerate() {
        for (key, part) in keys.iter_mut().zip(frame.strings(column)?) {
            if i > 0 {
                key.push('\u{1f}');
            }
            key.push_str(&part);
        }
    }
    Ok(keys)
}

fn intern<'a>(ids: &mut HashMap<&'a str, u32>, names: &mut Vec<&'a str>, s: &'a str) -> u32 {
    let next = names.len() as u32;
    *ids.entry(s).or_insert_with(|| {
        names.push(s);
        next
    })
}

/// The first day of each (person, key), sorted by person then key.
fn first_days(person: &[u32], key: &[u32], day: &[i32]) -> Vec<(u32, u32, i32)> {
    let mut rows: Vec<(u32, u32, i32)> = (0..person.len()).map(|i| (person[i], key[i], day[i])).collect();
    rows.sort_unstable();
    rows.dedup_by_key(|r| (r.0, r.1));
    rows
}

/// Drug × outcome counts of new-use episodes with the outcome in the risk window.
pub fn pair_counts(exposures: &Exposures, outcomes: &Outcomes, risk_window_days: i32) -> Result<PairCounts> {
    if risk_window_days < 1 {
        return Err(bad_input!("risk window of {risk_window_days} days: give at least 1 day"));
    }
    if exposures.person.is_empty() {
        return Err(bad_input!("no exposures: there are no new users to screen"));
    }
    let (mut person_ids, mut persons) = (HashMap::new(), Vec::new());
    let (mut drug_ids, mut drugs) = (HashMap::new(), Vec::new());
    let (mut outcome_ids, mut outcome_names) = (HashMap::new(), Vec::new());
    let exposure_person: Vec<u32> = exposures.person.iter().map(|p| intern(&mut person_ids, &mut persons, p)).collect();
    let exposure_drug: Vec<u32> = exposures.drug.iter().map(|d| intern(&mut drug_ids, &mut drugs, d)).collect();
    let outcome_person: Vec<u32> = outcomes.person.iter().map(|p| intern(&mut person_ids, &mut persons, p)).collect();
    let outcome_key: Vec<u32> =
        outcomes.outcome.iter().map(|o| intern(&mut outcome_ids, &mut outcome_names, o)).collect();

    let episodes = first_days(&exposure_person, &exposure_drug, &exposures.day);
    let first_outcomes = first_days(&outcome_person, &outcome_key, &outcomes.day);
    let by_person = {
        let mut ranges: HashMap<u32, (usize, usize)> = HashMap::new();
        for (i, r) in first_outcomes.iter().enumerate() {
            ranges.entry(r.0).and_modify(|range| range.1 = i + 1).or_insert((i, i + 1));
        }
        ranges
    };
    let mut n_drug = vec![0.0; drugs.len()];
    let mut n_event = vec![0.0; outcome_names.len()];
    let mut pairs: HashMap<(u32, u32), f64> = HashMap::new();
    for &(person, drug, start) in &episodes {
        n_drug[drug as usize] += 1.0;
        let Some(&(lo, hi)) = by_person.get(&person) else { continue };
        for &(_, outcome, day) in &first_outcomes[lo..hi] {
            if day > start && day <= start + risk_window_days {
                n_event[outcome as usize] += 1.0;
                *pairs.entry((drug, outcome)).or_default() += 1.0;
            }
        }
    }
    if pairs.is_empty() {
        return Err(bad_input!(
            "no new-use episode has an outcome within {risk_window_days} days after its start; nothing to screen"
        ));
    }
    let tallies = Tallies { drugs, outcomes: outcome_names, n_drug, n_event, pairs, n_total: episodes.len() as f64 };
    Ok(tallies.into_counts(CountSource::NewUseEpisodes { risk_window_days }))
}

/// New-use episodes as the rows of a table (a project's analysis dataset): each row is one
/// person's new use of one drug, and each outcome has a 0/1 flag saying whether it occurred in
/// that episode's risk window. The script that made the table decided the window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EpisodeRows {
    pub drug: Vec<String>,
    /// Rows of a person and drug that were merged into an earlier row's episode.
    pub merged_rows: usize,
    /// (outcome, flag per row).
    pub outcomes: Vec<(String, Vec<bool>)>,
}

/// Drug × outcome counts of episode rows: N counts rows, n_drug the rows of a drug, n_event the
/// rows flagging the outcome, n the rows of the drug flagging it.
pub fn episode_counts(rows: &EpisodeRows, risk_window_days: Option<i32>) -> Result<PairCounts> {
    if rows.drug.is_empty() {
        return Err(bad_input!("no episodes: the table has no rows, so there are no new users to screen"));
    }
    let (mut drug_ids, mut drugs) = (HashMap::new(), Vec::new());
    let drug: Vec<u32> = rows.drug.iter().map(|d| intern(&mut drug_ids, &mut drugs, d)).collect();
    let mut n_drug = vec![0.0; drugs.len()];
    for &d in &drug {
        n_drug[d as usize] += 1.0;
    }
    let mut n_event = vec![0.0; rows.outcomes.len()];
    let mut pairs: HashMap<(u32, u32), f64> = HashMap::new();
    for (o, (_, flags)) in rows.outcomes.iter().enumerate() {
        for (&d, _) in drug.iter().zip(flags).filter(|(_, flagged)| **flagged) {
            n_event[o] += 1.0;
            *pairs.entry((d, o as u32)).or_default() += 1.0;
        }
    }
    if pairs.is_empty() {
        return Err(bad_input!("no episode has any of the {} outcomes; nothing to screen", rows.outcomes.len()));
    }
    let outcomes = rows.outcomes.iter().map(|(name, _)| name.as_str()).collect();
    let tallies = Tallies { drugs, outcomes, n_drug, n_event, pairs, n_total: rows.drug.len() as f64 };
    Ok(tallies.into_counts(CountSource::EpisodeRows { risk_window_days }))
}

/// Episodes tallied by drug, outcome and pair.
struct Tallies<'a> {
    drugs: Vec<&'a str>,
    outcomes: Vec<&'a str>,
    n_drug: Vec<f64>,
    n_event: Vec<f64>,
    pairs: HashMap<(u32, u32), f64>,
    n_total: f64,
}

impl Tallies<'_> {
    /// The pairs with at least one episode, sorted by drug then outcome, with their margins.
    fn into_counts(self, source: CountSource) -> PairCounts {
        let Tallies { drugs, outcomes, n_drug, n_event, pairs, n_total } = self;
        let mut keys: Vec<(u32, u32)> = pairs.keys().copied().collect();
        keys.sort_unstable_by(|x, y| {
            (drugs[x.0 as usize], outcomes[x.1 as usize]).cmp(&(drugs[y.0 as usize], outcomes[y.1 as usize]))
        });
        let margins = Margins {
            n_drug: keys.iter().map(|k| n_drug[k.0 as usize]).collect(),
            n_event: keys.iter().map(|k| n_event[k.1 as usize]).collect(),
            n_total,
        };
        PairCounts {
            drug: keys.iter().map(|k| drugs[k.0 as usize].to_string()).collect(),
            event: keys.iter().map(|k| outcomes[k.1 as usize].to_string()).collect(),
            n: keys.iter().map(|k| pairs[k]).collect(),
            expected: margins.n_drug.iter().zip(&margins.n_event).map(|(i, j)| i * j / n_total).collect(),
            margins: Some(margins),
            source,
        }
    }
}

/// Row order of a scored table from the strongest signal down: by EB05, then IC025, descending; an
/// undefined value (no MGPS prior) ranks below every defined one.
pub fn ranking(table: &PairTable) -> Vec<usize> {
    let (eb05, ic025) = (table.numbers("eb05"), table.numbers("ic025"));
    let key = |v: f64| if v.is_nan() { f64::NEG_INFINITY } else { v };
    let mut order: Vec<usize> = (0..table.rows()).collect();
    order.sort_by(|&i, &j| key(eb05[j]).total_cmp(&key(eb05[i])).then(key(ic025[j]).total_cmp(&key(ic025[i]))));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(drug: &[&str], outcomes: &[(&str, &[bool])]) -> EpisodeRows {
        EpisodeRows {
            drug: drug.iter().map(|d| d.to_string()).collect(),
            merged_rows: 0,
            outcomes: outcomes.iter().map(|(o, f)| (o.to_string(), f.to_vec())).collect(),
        }
    }

    #[test]
    fn every_episode_is_in_one_cell_of_each_pairs_table() {
        let r =
            rows(&["a", "a", "b", "b", "b"], &[("liver", &[true, false, true, true, false]), ("kidney", &[false; 5])]);
        let c = episode_counts(&r, None).unwrap();
        assert_eq!(c.drug, ["a", "b"]);
        assert_eq!(c.event, ["liver", "liver"]);
        assert_eq!(c.n, [1.0, 2.0]);
        let m = c.margins.unwrap();
        assert_eq!((m.n_drug, m.n_event, m.n_total), (vec![2.0, 3.0], vec![3.0, 3.0], 5.0));
        assert_eq!(c.expected, [2.0 * 3.0 / 5.0, 3.0 * 3.0 / 5.0]);
        assert_eq!(c.source, CountSource::EpisodeRows { risk_window_days: None });
    }

    #[test]
    fn nothing_to_screen_is_an_error() {
        assert!(episode_counts(&rows(&[], &[]), None).is_err());
        assert!(episode_counts(&rows(&["a"], &[("liver", &[false])]), None).is_err());
    }

    fn cases() -> u32 {
        std::env::var("MIDNET_PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(cases()))]

        /// Episode rows of distinct persons give the counts of the same episodes as event rows:
        /// each row's drug started on day 0, each flagged outcome on day 1, in a 30-day window.
        #[test]
        fn episode_rows_count_like_event_rows(
            episodes in proptest::collection::vec((0..4usize, proptest::collection::vec(proptest::bool::ANY, 3)), 1..60)
        ) {
            let outcome_names = ["liver", "kidney", "blood"];
            let drug: Vec<String> = episodes.iter().map(|(d, _)| format!("drug{d}")).collect();
            let outcomes: Vec<(String, Vec<bool>)> = outcome_names
                .iter()
                .enumerate()
                .map(|(o, name)| (name.to_string(), episodes.iter().map(|(_, flags)| flags[o]).collect()))
                .collect();
            let from_rows = episode_counts(&EpisodeRows { drug: drug.clone(), merged_rows: 0, outcomes: outcomes.clone() }, None);
            let exposures = Exposures {
                person: (0..drug.len()).map(|p| p.to_string()).collect(),
                drug,
                day: vec![0; episodes.len()],
            };
            let mut events = Outcomes::default();
            for (name, flags) in &outcomes {
                for (person, _) in flags.iter().enumerate().filter(|(_, f)| **f) {
                    events.person.push(person.to_string());
                    events.outcome.push(name.clone());
                    events.day.push(1);
                }
            }
            let from_events = pair_counts(&exposures, &events, 30);
            match (from_rows, from_events) {
                (Ok(rows), Ok(events)) => {
                    proptest::prop_assert_eq!((&rows.drug, &rows.event, &rows.n), (&events.drug, &events.event, &events.n));
                    proptest::prop_assert_eq!(rows.margins, events.margins);
                    proptest::prop_assert_eq!(rows.expected, events.expected);
                }
                (Err(_), Err(_)) => {}
                (rows, events) => proptest::prop_assert!(false, "one failed: {:?} / {:?}", rows.err(), events.err()),
            }
        }
    }

    #[test]
    fn outcome_of_a_flag_column() {
        assert_eq!(outcome_name("alt_gt_3uln_event"), "alt_gt_3uln");
        assert_eq!(outcome_name("liver"), "liver");
    }
}
