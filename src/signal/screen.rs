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
//! The functions take columns, not files or projects: `signal screen` reads them from files here,
//! and a project's extraction results can be handed over the same way.

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
    let mut keys: Vec<(u32, u32)> = pairs.keys().copied().collect();
    keys.sort_unstable_by(|x, y| {
        (drugs[x.0 as usize], outcome_names[x.1 as usize]).cmp(&(drugs[y.0 as usize], outcome_names[y.1 as usize]))
    });
    let n_total = episodes.len() as f64;
    let margins = Margins {
        n_drug: keys.iter().map(|k| n_drug[k.0 as usize]).collect(),
        n_event: keys.iter().map(|k| n_event[k.1 as usize]).collect(),
        n_total,
    };
    Ok(PairCounts {
        drug: keys.iter().map(|k| drugs[k.0 as usize].to_string()).collect(),
        event: keys.iter().map(|k| outcome_names[k.1 as usize].to_string()).collect(),
        n: keys.iter().map(|k| pairs[k]).collect(),
        expected: margins.n_drug.iter().zip(&margins.n_event).map(|(i, j)| i * j / n_total).collect(),
        margins: Some(margins),
        source: CountSource::NewUseEpisodes { risk_window_days },
    })
}

/// Row order of a scored table from the strongest signal down: by EB05, then IC025, descending.
pub fn ranking(table: &PairTable) -> Vec<usize> {
    let (eb05, ic025) = (table.numbers("eb05"), table.numbers("ic025"));
    let mut order: Vec<usize> = (0..table.rows()).collect();
    order.sort_by(|&i, &j| eb05[j].total_cmp(&eb05[i]).then(ic025[j].total_cmp(&ic025[i])));
    order
}
