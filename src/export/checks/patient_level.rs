//! `patient_level`: rows of persons never leave, whatever they are called. A table is person
//! records when:
//! - a sidecar says it is an analysis dataset (believed whoever wrote it: a claim against interest);
//! - a column is named as a person key, or holds dates of birth;
//! - inside a project ([`Persons`]): a cell holds a person id of one of the project's datasets, or
//!   its SHA-256, MD5 or SHA-1 (in any case, alone or inside a longer text); rows repeat the values
//!   of one person of a dataset (sex, birth year and month, dates, ages, exact measured values)
//!   in a combination that chance would rarely give; or, when midnet did not name its columns'
//!   roles, it has exactly one row per person (or per row) of a dataset;
//! - its rows repeat the same labels (a table of statistics has one row per group; person records
//!   share their groups).
//!
//! Text (plain text files, programs, the work log) is read the same way, line by line: person ids,
//! and lines that repeat one person's values. Findings name rows, lines and the dataset's columns,
//! never a value.

use std::collections::HashMap;

use crate::export::findings::{Place, Raw};
use crate::export::persons::{Link, Persons, WINDOW, tokens};
use crate::export::rules::{Rule, Rules};
use crate::export::table::{Column, Table};
use crate::export::text::{compact, name_says};
use crate::schema::ColumnRole;
use crate::table::Trust;

/// A tie to one person counts alone when chance would give it less often than once in a hundred
/// files of this many rows (Bonferroni over the rows that could tie at all).
const STRONG: f64 = 0.01;
/// A tie chance would give about once in twenty rows: a file counts as person records when at
/// least half its rows (and three) tie that well.
const LOOSE: f64 = 0.05;

pub fn check(table: &Table, trust: &Trust, rules: &Rules, persons: Option<&Persons>) -> Vec<Raw> {
    if trust.says_analysis_dataset() {
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
    if let Some(persons) = persons {
        out.extend(ids_in_columns(table, persons));
        out.extend(linked_rows(table, trust, persons));
        if trust.roles().is_none() {
            out.extend(one_row_per_person(table, persons));
        }
    }
    if out.is_empty()
        && let Some(raw) = repeated_labels(table, rules)
    {
        out.push(raw);
    }
    out
}

/// Person ids and rows of one person's values in a text, line by line.
pub fn in_text(text: &str, persons: &Persons) -> Vec<Raw> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let with_ids: Vec<(usize, &str)> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, line)| persons.id_in(line).map(|hit| (i, hit.form.describe())))
        .collect();
    if let Some(&(first, form)) = with_ids.first() {
        out.push(Raw::new(
            Rule::PatientLevel,
            Place::line(first + 1),
            format!(
                "{} line{} hold{} {form} of the project's datasets (the first here): person records never leave; \
                 remove them",
                with_ids.len(),
                plural(with_ids.len()),
                if with_ids.len() == 1 { "s" } else { "" }
            ),
        ));
    }
    let segments: Vec<(Place, Vec<String>)> = lines
        .iter()
        .enumerate()
        .flat_map(|(i, line)| windows(tokens(line)).into_iter().map(move |t| (Place::line(i + 1), t)))
        .collect();
    out.extend(ties(&segments, lines.len(), persons, "line"));
    out
}

/// Which lines of a text hold a person id, or tie to one person as strongly as [`in_text`] needs of
/// a single line: what the work log withholds.
pub fn lines_of_persons(lines: &[&str], persons: &Persons) -> Vec<bool> {
    let segments: Vec<Vec<Vec<String>>> = lines.iter().map(|line| windows(tokens(line))).collect();
    let testable = segments.iter().flatten().filter(|t| persons.testable(t)).count();
    let strong = STRONG / (testable.max(1) * persons.datasets.len().max(1)) as f64;
    lines
        .iter()
        .zip(&segments)
        .map(|(line, windows)| {
            persons.id_in(line).is_some()
                || windows.iter().any(|t| persons.link(t).is_some_and(|link| link.expected < strong))
        })
        .collect()
}

/// A column whose cells hold person ids: one finding per column, at its first such row.
fn ids_in_columns(table: &Table, persons: &Persons) -> Vec<Raw> {
    let mut out = Vec::new();
    for col in &table.columns {
        let hits: Vec<(usize, &str)> = col
            .raw
            .iter()
            .enumerate()
            .filter_map(|(row, cell)| persons.id_in(cell).map(|hit| (row, hit.form.describe())))
            .collect();
        if let Some(&(row, form)) = hits.first() {
            let dataset = persons.id_in(&col.raw[row]).map(|h| persons.datasets[h.dataset].label.clone());
            out.push(Raw::new(
                Rule::PatientLevel,
                Place::cell(row, table.line_of(row), &col.name),
                format!(
                    "{} cell{} of this column hold{} {form} of dataset {} (the first here): rows are people, whatever \
                     the column is called; export statistics over groups of people instead",
                    hits.len(),
                    plural(hits.len()),
                    if hits.len() == 1 { "s" } else { "" },
                    dataset.unwrap_or_default()
                ),
            ));
        }
    }
    out
}

/// Rows that repeat one person's values. With roles midnet named, only the columns that label
/// rows are read (counts, estimates and times are statistics, not a person's values).
fn linked_rows(table: &Table, trust: &Trust, persons: &Persons) -> Vec<Raw> {
    let read: Vec<&Column> = match trust.roles() {
        Some(_) => table.columns.iter().filter(|c| c.role.is_none_or(labels_a_row)).collect(),
        None => table.columns.iter().collect(),
    };
    if read.is_empty() {
        return Vec::new();
    }
    let segments: Vec<(Place, Vec<String>)> = (0..table.rows)
        .flat_map(|row| {
            let cells: Vec<String> = read.iter().flat_map(|c| tokens(&c.raw[row])).collect();
            let place = Place { row: Some(row + 1), line: table.line_of(row), column: None };
            windows(cells).into_iter().map(move |t| (place.clone(), t))
        })
        .collect();
    ties(&segments, table.rows, persons, "row")
}

fn labels_a_row(role: ColumnRole) -> bool {
    matches!(role, ColumnRole::Label | ColumnRole::Sex | ColumnRole::AgeBand | ColumnRole::Date | ColumnRole::Other)
}

/// A row's tokens as segments of at most [`WINDOW`] tokens (overlapping by half a window).
fn windows(tokens: Vec<String>) -> Vec<Vec<String>> {
    if tokens.len() <= WINDOW {
        return vec![tokens];
    }
    let step = WINDOW / 2;
    (0..tokens.len().saturating_sub(step))
        .step_by(step)
        .map(|at| tokens[at..(at + WINDOW).min(tokens.len())].to_vec())
        .collect()
}

/// The findings of segments (rows or lines) tied to persons: the most improbable tie when chance
/// would almost never give it, and the file when half its `units` tie loosely.
fn ties(segments: &[(Place, Vec<String>)], units: usize, persons: &Persons, unit: &str) -> Vec<Raw> {
    let testable = segments.iter().filter(|(_, t)| persons.testable(t)).count();
    if testable == 0 {
        return Vec::new();
    }
    let mut best: Option<(&Place, Link)> = None;
    let mut loose: Vec<usize> = Vec::new();
    let mut loose_example: Option<(&Place, Link)> = None;
    for (i, (place, t)) in segments.iter().enumerate() {
        let Some(link) = persons.link(t) else { continue };
        let unit_index = place.row.or(place.line).unwrap_or(i);
        if link.expected < LOOSE && loose.last() != Some(&unit_index) {
            loose.push(unit_index);
            loose_example.get_or_insert((place, link.clone()));
        }
        if best.as_ref().is_none_or(|(_, b)| link.expected < b.expected) {
            best = Some((place, link));
        }
    }
    let strong = STRONG / (testable * persons.datasets.len().max(1)) as f64;
    let mut out = Vec::new();
    if let Some((place, link)) = best.filter(|(_, l)| l.expected < strong) {
        out.push(Raw::new(
            Rule::PatientLevel,
            place.clone(),
            format!(
                "this {unit} repeats one person's values of dataset {} ({}): chance would give that about {} times in \
                 a {unit}; person records never leave, whatever their columns are called; export statistics over \
                 groups of people instead",
                persons.datasets[link.dataset].label,
                link.columns.join(", "),
                scientific(link.expected)
            ),
        ));
    } else if loose.len() >= 3
        && loose.len() * 2 >= units
        && let Some((_, link)) = loose_example
    {
        out.push(Raw::new(
            Rule::PatientLevel,
            Place::file(),
            format!(
                "{} of its {units} {unit}s each repeat one person's values of dataset {} (such as {}), as person \
                 records do; export statistics over groups of people instead",
                loose.len(),
                persons.datasets[link.dataset].label,
                link.columns.join(", ")
            ),
        ));
    }
    out
}

/// A table with as many rows as a dataset has persons (or rows), when no sidecar of midnet's
/// statistics says what its rows are: one row per person.
fn one_row_per_person(table: &Table, persons: &Persons) -> Option<Raw> {
    if table.rows < 10 {
        return None;
    }
    let dataset = persons.datasets.iter().find(|d| d.persons == table.rows || d.rows == table.rows)?;
    Some(Raw::new(
        Rule::PatientLevel,
        Place::file(),
        format!(
            "{} rows, one per {} of dataset {} ({} persons, {} rows): person records, whatever their columns; \
             export statistics over groups of people instead",
            table.rows,
            if dataset.persons == table.rows { "person" } else { "row" },
            dataset.label,
            dataset.persons,
            dataset.rows
        ),
    ))
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

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `3e-7`, `0.02`: an expected count for people.
fn scientific(v: f64) -> String {
    if v >= 0.01 { format!("{v:.2}") } else { format!("{v:.0e}") }
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

    #[test]
    fn long_rows_are_read_in_overlapping_windows() {
        let t: Vec<String> = (0..60).map(|i| i.to_string()).collect();
        let w = windows(t);
        assert_eq!(w.len(), 4);
        assert_eq!(w[0].len(), WINDOW);
        assert_eq!(w[3].last().unwrap(), "59");
        assert_eq!(windows(vec!["a".into()]).len(), 1);
    }
}
