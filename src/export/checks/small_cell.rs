//! `small_cell`: no cell may count 1 to 9 people or events (0 is allowed), in any column that counts
//! (from the sidecar's roles, or every column of whole numbers when there is no sidecar), nor in an
//! `n=7` written into a label or a column name.

use crate::export::findings::{Place, Raw};
use crate::export::rules::{Rule, Rules};
use crate::export::table::{Column, Table, Use};
use crate::export::text::fold;

pub fn check(table: &Table, rules: &Rules) -> Vec<Raw> {
    let min = f64::from(rules.min_count);
    let mut out = Vec::new();
    for col in &table.columns {
        let mut explained = false;
        if let Some(n) = embedded_count(&col.name).filter(|&n| n > 0.0 && n < min) {
            out.push(Raw::new(
                Rule::SmallCell,
                Place::column(&col.name),
                format!(
                    "the column name gives n={n}, below {}: combine groups or leave the number out",
                    rules.min_count
                ),
            ));
        }
        for row in 0..table.rows {
            let place = || Place::cell(row, table.line_of(row), &col.name);
            match col.use_ {
                Use::Count => {
                    if let Some(v) = col.number(row).filter(|&v| v > 0.0 && v < min) {
                        let why = if explained { None } else { Some(why_counted(col)) };
                        explained = true;
                        out.push(Raw::new(Rule::SmallCell, place(), small_count_message(v, why, rules)));
                    }
                }
                Use::Label => {
                    if let Some(n) = embedded_count(&col.raw[row]).filter(|&n| n > 0.0 && n < min) {
                        out.push(Raw::new(
                            Rule::SmallCell,
                            place(),
                            format!(
                                "the label gives n={n}, below {}: combine groups or leave the number out",
                                rules.min_count
                            ),
                        ));
                    }
                }
                Use::Age | Use::Measure => {}
            }
        }
    }
    out
}

/// The first small count of a column says why the column counts people.
fn small_count_message(v: f64, why: Option<String>, rules: &Rules) -> String {
    let why = why.map(|w| format!(" ({w})")).unwrap_or_default();
    format!(
        "{v} is a count of 1 to {} (0 is allowed){why}: suppress it with `midnet export fix` or combine categories",
        rules.min_count - 1
    )
}

fn why_counted(col: &Column) -> String {
    match col.role {
        Some(role) => format!("the sidecar gives this column the role `{}`", role_name(role)),
        None => "a column of whole numbers, counted as people because no sidecar describes it; if it is not a \
                 count, declare it with --not-counts"
            .to_string(),
    }
}

fn role_name(role: crate::schema::ColumnRole) -> String {
    serde_json::to_value(role).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// The number in `n=7`, `N = 7`, `(n=7)` written into a label.
fn embedded_count(text: &str) -> Option<f64> {
    let f = fold(text);
    let bytes = f.as_bytes();
    let mut from = 0;
    while let Some(i) = f[from..].find('n').map(|i| i + from) {
        from = i + 1;
        let before_ok = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        let rest = f[i + 1..].trim_start();
        let Some(rest) = rest.strip_prefix('=') else { continue };
        let digits: String = rest.trim_start().chars().take_while(|c| c.is_ascii_digit() || *c == ',').collect();
        if before_ok && let Ok(v) = digits.replace(',', "").parse::<f64>() {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_written_into_labels() {
        assert_eq!(embedded_count("Drug A (n=7)"), Some(7.0));
        assert_eq!(embedded_count("Total N = 1,250"), Some(1250.0));
        assert_eq!(embedded_count("Ｎ＝８"), Some(8.0));
        assert_eq!(embedded_count("mean=7"), None);
        assert_eq!(embedded_count("Male"), None);
    }
}
