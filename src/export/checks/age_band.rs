//! `age_band`: ages in bands of at least 5 years, everyone 85 and over in one band. Applies to age
//! columns (by sidecar role or by name), to age bands written into labels (`Age 40-41`,
//! `85歳以上`), and to column names of a wide table with one column per band.

use crate::export::ageband::{Band, parse_band};
use crate::export::findings::{Place, Raw};
use crate::export::rules::{Rule, Rules};
use crate::export::table::{Cell, Table, Use};
use crate::export::text::{fold, words};

pub fn check(table: &Table, rules: &Rules) -> Vec<Raw> {
    let (width, top) = (rules.age_band_width, rules.top_age_band);
    let mut out = Vec::new();
    let bands = format!("write bands such as `40-44` (at least {width} years) and `{top}+`");
    // `export fix` re-bands age columns; bands written into labels are the analysis' to change.
    let advice = format!("{bands}; `midnet export fix` re-bands an age column");
    let label_advice = format!("{bands} in the analysis that made the table");
    for col in &table.columns {
        if let Some(problem) = band_in_name(&col.name).and_then(|b| b.problem(width, top)) {
            out.push(Raw::new(
                Rule::AgeBand,
                Place::column(&col.name),
                format!("the band in the column name {problem}: {label_advice}"),
            ));
        }
        for row in 0..table.rows {
            let raw = &col.raw[row];
            let place = || Place::cell(row, table.line_of(row), &col.name);
            match col.use_ {
                Use::Age => {
                    if col.cells[row] == Cell::Masked || rules.is_total_label(raw) {
                        continue;
                    }
                    match parse_band(raw) {
                        Some(band) => {
                            if let Some(problem) = band.problem(width, top) {
                                out.push(Raw::new(
                                    Rule::AgeBand,
                                    place(),
                                    format!("age band `{raw}` {problem}: {advice}"),
                                ));
                            }
                        }
                        None => out.push(Raw::new(
                            Rule::AgeBand,
                            place(),
                            format!("`{raw}` in an age column is not an age band the gate can read: {advice}"),
                        )),
                    }
                }
                Use::Label if mentions_age(raw) => {
                    if let Some(problem) = parse_band(raw).and_then(|b| b.problem(width, top)) {
                        out.push(Raw::new(
                            Rule::AgeBand,
                            place(),
                            format!("age band `{raw}` {problem}: {label_advice}"),
                        ));
                    }
                }
                _ => {}
            }
        }
    }
    out.extend(table_one_age_levels(table, rules, &label_advice));
    out
}

/// In a "Table 1" layout (`characteristic, level, n`: a row `Age, 40-44` and continuation rows
/// `, 45-46` with the first column blank), the levels under an age heading are age bands.
fn table_one_age_levels(table: &Table, rules: &Rules, advice: &str) -> Vec<Raw> {
    let labels = table.label_columns();
    let Some((&heading_col, level_cols)) = labels.split_first() else { return Vec::new() };
    let mut out = Vec::new();
    let mut heading: Option<&str> = None;
    for row in 0..table.rows {
        let first = &table.columns[heading_col].raw[row];
        if !first.trim().is_empty() {
            heading = (mentions_age(first) && parse_band(first).is_none()).then_some(first.as_str());
        }
        let Some(heading) = heading else { continue };
        for &c in level_cols {
            let col = &table.columns[c];
            let raw = &col.raw[row];
            if col.use_ == Use::Age || mentions_age(raw) || rules.is_total_label(raw) {
                continue; // checked above
            }
            if let Some(problem) = parse_band(raw).and_then(|b| b.problem(rules.age_band_width, rules.top_age_band)) {
                out.push(Raw::new(
                    Rule::AgeBand,
                    Place::cell(row, table.line_of(row), &col.name),
                    format!("age band `{raw}` (under `{heading}`) {problem}: {advice}"),
                ));
            }
        }
    }
    out
}

/// Labels that speak of age: `Age 40-44`, `40-44歳`, `年齢 85以上`.
fn mentions_age(text: &str) -> bool {
    let f = fold(text);
    f.contains('歳')
        || f.contains('才')
        || f.contains("年齢")
        || words(text).iter().any(|w| matches!(w.as_str(), "age" | "aged" | "ages"))
}

/// A column named as a band (`40-44`, `85+`, `Age 42`); a bare number (`2019`, `1y`) is a band only
/// when the name speaks of age.
fn band_in_name(name: &str) -> Option<Band> {
    parse_band(name).filter(|b| b.lo() <= 120).filter(|b| match b {
        Band::Closed { lo, hi } if lo == hi => mentions_age(name),
        _ => true,
    })
}
