//! `site_breakdown` (no result per cooperating hospital) and `site_name` (no hospital named, in any
//! spelling, anywhere in the file: cells, column names, file name, sidecar).

use crate::export::registry::SiteRegistry;
use crate::export::report::{Place, Raw};
use crate::export::rules::{Rule, Rules};
use crate::export::table::{Column, Table, Use};
use crate::export::text::{compact, words};
use crate::table::ColumnRole;

/// Why a column breaks results down by hospital, if it does. `export fix` aggregates over these.
pub fn site_column_reason(col: &Column, registry: &SiteRegistry, rules: &Rules) -> Option<String> {
    if !matches!(col.use_, Use::Label) {
        return None;
    }
    // A column that only says "all sites" is no breakdown.
    let values: Vec<(usize, &String)> =
        col.raw.iter().enumerate().filter(|(_, v)| !v.trim().is_empty() && !rules.is_total_label(v)).collect();
    if values.is_empty() {
        return None;
    }
    if col.role == Some(ColumnRole::Site) {
        return Some("the sidecar gives it the role `site`".into());
    }
    if col.role.is_none() && is_site_name(&col.name) {
        return Some("its name says it holds hospitals".into());
    }
    let registered: Vec<usize> = values.iter().filter(|(_, v)| registry.is_site_label(v)).map(|(r, _)| r + 1).collect();
    if !registered.is_empty() {
        return Some(format!("rows {} are labelled by a registered site id, pseudonym or name", list(&registered)));
    }
    let mut distinct: Vec<String> = values.iter().map(|(_, v)| compact(v)).collect();
    distinct.sort();
    distinct.dedup();
    if distinct.len() >= 2 && distinct.iter().all(|v| looks_like_site_label(v)) {
        return Some(format!("its values look like site labels (`{}`, …)", values[0].1));
    }
    None
}

/// A column of numbers named after one hospital (`site01`, a pseudonym, a name): a wide table with
/// one column per site.
pub fn is_per_site_column(col: &Column, registry: &SiteRegistry) -> bool {
    col.use_ != Use::Label && (registry.is_site_label(&col.name) || looks_like_site_label(&compact(&col.name)))
}

pub fn breakdown(table: &Table, registry: &SiteRegistry, rules: &Rules) -> Vec<Raw> {
    let mut out = Vec::new();
    for col in &table.columns {
        if let Some(reason) = site_column_reason(col, registry, rules) {
            out.push(Raw::new(
                Rule::SiteBreakdown,
                Place::column(&col.name),
                format!(
                    "results are shown per hospital ({reason}): aggregate over the sites \
                     (`midnet export fix` does) and drop the column"
                ),
            ));
        } else if is_per_site_column(col, registry) {
            out.push(Raw::new(
                Rule::SiteBreakdown,
                Place::column(&col.name),
                "the column holds one hospital's results: sum the per-site columns into one (`midnet export fix` does)",
            ));
        }
    }
    out
}

/// Every place a registered hospital's name or alias occurs. `sidecar_text` is the sidecar's JSON.
pub fn names(table: &Table, registry: &SiteRegistry, sidecar_text: Option<&str>) -> Vec<Raw> {
    let mut out = Vec::new();
    let file_name = table.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    for m in registry.names_in(&file_name) {
        out.push(name_found(Place::file(), &format!("the file name names hospital {}", m.site_id)));
    }
    if let Some(text) = sidecar_text {
        for m in registry.names_in(text) {
            out.push(name_found(Place::file(), &format!("the sidecar names hospital {}", m.site_id)));
        }
    }
    for col in &table.columns {
        for m in registry.names_in(&col.name) {
            out.push(name_found(Place::column(&col.name), &format!("the column name names hospital {}", m.site_id)));
        }
        for (row, raw) in col.raw.iter().enumerate() {
            for m in registry.names_in(raw) {
                out.push(name_found(
                    Place::cell(row, table.line_of(row), &col.name),
                    &format!("`{raw}` names hospital {}", m.site_id),
                ));
            }
        }
    }
    out
}

/// Names in a text file or an SVG, line by line.
pub fn names_in_text(text: &str, registry: &SiteRegistry) -> Vec<Raw> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        for m in registry.names_in(line) {
            out.push(name_found(Place::line(i + 1), &format!("the text names hospital {}", m.site_id)));
        }
    }
    out
}

fn name_found(place: Place, what: &str) -> Raw {
    Raw::new(
        Rule::SiteName,
        place,
        format!("{what} (in one of its registered spellings): remove it; no cooperating hospital may be named"),
    )
}

/// `site`, `site_id`, `hospital_name`, `施設名`: every word of the name is about which site (so
/// `hospital_type` or `n_sites` are not).
fn is_site_name(name: &str) -> bool {
    const SITE: [&str; 9] =
        ["site", "sites", "siteid", "hospital", "hosp", "institution", "facility", "pseudonym", "center"];
    const ID: [&str; 6] = ["id", "name", "code", "no", "number", "label"];
    const CJK: [&str; 12] = [
        "施設",
        "施設名",
        "施設id",
        "施設コード",
        "病院",
        "病院名",
        "医療機関",
        "医療機関名",
        "医療機関コード",
        "参加施設",
        "協力医療機関",
        "拠点",
    ];
    let ws = words(name);
    (ws.iter().any(|w| SITE.contains(&w.as_str()))
        && ws.iter().all(|w| SITE.contains(&w.as_str()) || ID.contains(&w.as_str())))
        || CJK.contains(&compact(name).as_str())
}

/// `site01`, `site_a`, `Hospital B`, `施設3`: a site word and a short code (compacted text).
fn looks_like_site_label(compacted: &str) -> bool {
    ["site", "hospital", "hosp", "institution", "facility", "施設", "病院", "医療機関"]
        .iter()
        .any(|p| compacted.strip_prefix(p).is_some_and(|code| (1..=3).contains(&code.chars().count())))
}

fn list(rows: &[usize]) -> String {
    let shown: Vec<String> = rows.iter().take(5).map(|r| r.to_string()).collect();
    if rows.len() > 5 { format!("{}, … ({} rows)", shown.join(", "), rows.len()) } else { shown.join(", ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_column_names() {
        for n in ["site", "Site ID", "hospital_name", "施設名", "pseudonym"] {
            assert!(is_site_name(n), "{n}");
        }
        for n in ["hospital_type", "n_sites", "施設種別", "situation"] {
            assert!(!is_site_name(n), "{n}");
        }
    }

    #[test]
    fn site_labels() {
        for v in ["site01", "sitea", "hospitalb", "施設3", "病院a"] {
            assert!(looks_like_site_label(v), "{v}");
        }
        for v in ["site", "situation", "hospitalised", "male"] {
            assert!(!looks_like_site_label(v), "{v}");
        }
    }
}
