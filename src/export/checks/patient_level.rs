//! `patient_level`: one row per person never leaves. An analysis dataset (by its sidecar) is refused
//! whatever its name; otherwise a person key column, a birth date column, or rows that repeat the
//! same labels (a table of statistics has one row per group; person records share their groups)
//! mark a file as person records.

use std::collections::HashMap;

use crate::export::report::{Place, Raw};
use crate::export::rules::{Rule, Rules};
use crate::export::table::Table;
use crate::export::text::{compact, name_says};
use crate::table::TableKind;

pub fn check(table: &Table, rules: &Rules) -> Vec<Raw> {
    if table.sidecar.as_ref().is_some_and(|s| s.kind == TableKind::AnalysisDataset) {
        return vec![Raw::new(
            Rule::PatientLevel,
            Place::file(),
            "its sidecar says it is an analysis dataset (patient-level data): analysis datasets never leave the \
             data center; export statistics computed from it",
        )];
    }
    let mut out = Vec::new();
    for col in &table.columns {
        if is_person_key(&col.name) {
            out.push(Raw::new(
                Rule::PatientLevel,
                Place::column(&col.name),
                "a person key column: rows are people; export statistics over groups of people instead",
            ));
        } else if is_birth_name(&col.name) && col.raw.iter().any(|v| looks_like_date(v)) {
            out.push(Raw::new(
                Rule::PatientLevel,
                Place::column(&col.name),
                "dates of birth: rows are people; show ages in bands instead",
            ));
        }
    }
    if out.is_empty()
        && let Some(raw) = repeated_labels(table, rules)
    {
        out.push(raw);
    }
    out
}

/// Person records share their groups: with at least `min_count` rows, if the label columns take
/// no more distinct combinations than half the rows, the rows are not one per group.
fn repeated_labels(table: &Table, rules: &Rules) -> Option<Raw> {
    let labels = table.label_columns();
    if labels.is_empty() || table.rows < rules.min_count as usize {
        return None;
    }
    let mut first_row: HashMap<Vec<&str>, usize> = HashMap::new();
    let mut repeat = None;
    for row in 0..table.rows {
        let key: Vec<&str> = labels.iter().map(|&c| table.columns[c].raw[row].as_str()).collect();
        let first = *first_row.entry(key).or_insert(row);
        if first != row && repeat.is_none() {
            repeat = Some((first, row));
        }
    }
    let (a, b) = repeat?;
    if first_row.len() * 2 > table.rows {
        return None;
    }
    let names: Vec<&str> = labels.iter().map(|&c| table.columns[c].name.as_str()).collect();
    Some(Raw::new(
        Rule::PatientLevel,
        Place::file(),
        format!(
            "{} rows but only {} distinct combinations of the labels ({}), e.g. rows {} and {} are alike: \
             the rows behave like person records, not one row per group; export counts per group instead",
            table.rows,
            first_row.len(),
            names.join(", "),
            a + 1,
            b + 1
        ),
    ))
}

/// `person_id`, `patient_key`, `PatientID`, `患者ID`, `症例番号`.
fn is_person_key(name: &str) -> bool {
    const KEYS: [&str; 18] = [
        "personid",
        "patientid",
        "patientkey",
        "personkey",
        "subjectid",
        "pid",
        "patid",
        "ptid",
        "caseid",
        "patientno",
        "patientnumber",
        "患者id",
        "患者番号",
        "患者コード",
        "被験者id",
        "症例id",
        "症例番号",
        "個人id",
    ];
    KEYS.contains(&compact(name).as_str())
}

fn is_birth_name(name: &str) -> bool {
    name_says(name, &["birth", "dob", "birthdate", "birthday", "born"], &["生年月", "誕生"])
}

/// `1950-04`, `1950/04/12`, `195004`, `19500412`.
fn looks_like_date(text: &str) -> bool {
    let digits: String = text.chars().filter(|c| c.is_ascii_digit()).collect();
    let seps = text.trim().chars().all(|c| c.is_ascii_digit() || matches!(c, '-' | '/' | '.'));
    seps && (digits.len() == 6 || digits.len() == 8)
        && digits[..4].parse::<u32>().is_ok_and(|y| (1850..2200).contains(&y))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_birth_dates() {
        for n in ["person_id", "PatientID", "patient_key", "患者ID", "ｐｅｒｓｏｎ＿ｉｄ"] {
            assert!(is_person_key(n), "{n}");
        }
        for n in ["id", "n_patients", "patients"] {
            assert!(!is_person_key(n), "{n}");
        }
        assert!(is_birth_name("birth_ym") && is_birth_name("生年月"));
        assert!(
            looks_like_date("1950-04")
                && looks_like_date("19500412")
                && !looks_like_date("1950")
                && !looks_like_date("40-44")
        );
    }
}
