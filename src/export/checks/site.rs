//! `site_breakdown` (no result per cooperating hospital) and `site_name` (no hospital named, in any
//! spelling, anywhere in the file: cells, column names, file name, sidecar).
//!
//! A result is per hospital when a column says so (its role, its name, values that are registered
//! site ids, pseudonyms or names, or look like site labels), and also, however the sites were
//! relabelled:
//! - by lineage: a `work sql` result whose sidecar records that its rows were grouped, filtered or
//!   partitioned by, or its columns computed from, the site column or a column that identifies a
//!   site ([`ProjectSites`]: a site's lab reference range does);
//! - by content: a label column whose groups count as many rows as the sites of a dataset of the
//!   project do (the sites relabelled `A`, `B`, `C`).

use std::collections::BTreeSet;
use std::path::Path;

use crate::error::Result;
use crate::export::findings::{Place, Raw};
use crate::export::registry::HospitalNames;
use crate::export::rules::{Rule, Rules};
use crate::export::table::{Column, Table, Use};
use crate::export::text::{compact, words};
use crate::schema::ColumnRole;
use crate::sql::duckdb::ident;
use crate::table::SourceColumn;

/// What the gate knows of a project's datasets (inside a project it may read them): the columns
/// that identify a site besides `site` itself, and how many rows each site has in each dataset.
#[derive(Debug, Clone, Default)]
pub struct ProjectSites {
    /// Columns whose values tell the site, with why.
    pub identifying: Vec<(SourceColumn, String)>,
    /// Each dataset (`cohort@1`) with its rows per site.
    pub rows_per_site: Vec<(String, Vec<u64>)>,
}

impl ProjectSites {
    /// Read the datasets of the project database `db` (tables named `NAME@VERSION` with a `site`
    /// column). A column identifies a site when, at two sites or more, at least half of a site's
    /// rows carry values found at that site only, each on at least `min_count` rows: a label that
    /// partitions rows by site, such as a site's reference range (`baseline_alt_uln`), a site's
    /// local code or unit, or dates when sites cover different periods.
    pub fn of_database(db: &Path, min_count: u32) -> Result<ProjectSites> {
        let config = duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly)?;
        let conn = duckdb::Connection::open_with_flags(db, config)?;
        let tables: Vec<String> = {
            let mut stmt = conn.prepare(
                "SELECT table_name FROM duckdb_columns() WHERE column_name = 'site' AND table_name LIKE '%@%' \
                 ORDER BY table_name",
            )?;
            stmt.query_map([], |r| r.get(0))?.collect::<std::result::Result<_, _>>()?
        };
        let mut out = ProjectSites::default();
        for table in tables {
            let t = ident(&table);
            let mut stmt = conn.prepare(&format!("SELECT count(*) FROM {t} GROUP BY site ORDER BY 1"))?;
            let rows: Vec<u64> = stmt
                .query_map([], |r| r.get::<_, i64>(0))?
                .map(|r| r.map(|n| n as u64))
                .collect::<std::result::Result<_, _>>()?;
            if rows.len() < 2 {
                continue; // one site: nothing to break down
            }
            out.identifying.extend(identifying_columns(&conn, &table, min_count)?);
            out.rows_per_site.push((table, rows));
        }
        Ok(out)
    }

    /// Whether a column of the project's database tells the site (`site` always does).
    fn identifies(&self, c: &SourceColumn) -> Option<String> {
        if c.column.eq_ignore_ascii_case("site") {
            return Some(format!("`{}` of {} is the site", c.column, c.table));
        }
        self.identifying.iter().find(|(i, _)| i == c).map(|(_, why)| why.clone())
    }
}

/// The columns of `table` that identify a site (see [`ProjectSites::of_database`]), in one pass.
fn identifying_columns(conn: &duckdb::Connection, table: &str, min_count: u32) -> Result<Vec<(SourceColumn, String)>> {
    let columns: Vec<String> = {
        let mut stmt = conn.prepare(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = ? AND column_name NOT IN ('site', 'person_id') \
             ORDER BY column_index",
        )?;
        stmt.query_map([table], |r| r.get(0))?.collect::<std::result::Result<_, _>>()?
    };
    if columns.is_empty() {
        return Ok(Vec::new());
    }
    let cells: Vec<String> = columns.iter().map(|c| format!("CAST({0} AS VARCHAR) AS {0}", ident(c))).collect();
    let sql = format!(
        "WITH cells AS (UNPIVOT (SELECT site, {} FROM {}) ON COLUMNS(* EXCLUDE (site)) INTO NAME col VALUE v),
              per_value AS (SELECT col, v, count(DISTINCT site) AS sites, count(*) AS n, min(site) AS only_site
                            FROM cells GROUP BY col, v),
              exclusive AS (SELECT col, only_site AS site, sum(n) AS covered FROM per_value
                            WHERE sites = 1 AND n >= {min_count} GROUP BY col, only_site),
              totals AS (SELECT col, site, count(*) AS n FROM cells GROUP BY col, site)
         SELECT t.col, count(*) FROM totals t JOIN exclusive e ON e.col = t.col AND e.site = t.site
         WHERE 2 * e.covered >= t.n GROUP BY t.col ORDER BY t.col",
        cells.join(", "),
        ident(table)
    );
    let mut stmt = conn.prepare(&sql)?;
    let found = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(found
        .into_iter()
        .map(|(column, sites)| {
            let why = format!(
                "`{column}` of {table} tells the site: at {sites} site(s), most rows carry values no other site has"
            );
            (SourceColumn { table: table.to_string(), column }, why)
        })
        .collect())
}

/// Why a column breaks results down by hospital, if it does. `export fix` aggregates over these.
pub fn site_column_reason(col: &Column, registry: &HospitalNames, rules: &Rules) -> Option<String> {
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
pub fn is_per_site_column(col: &Column, registry: &HospitalNames) -> bool {
    col.use_ != Use::Label && (registry.is_site_label(&col.name) || looks_like_site_label(&compact(&col.name)))
}

pub fn breakdown(table: &Table, registry: &HospitalNames, project: &ProjectSites, rules: &Rules) -> Vec<Raw> {
    let mut out = by_column(table, registry, rules);
    let named: BTreeSet<String> = out.iter().filter_map(|r| r.place.column.clone()).collect();
    out.extend(by_lineage(table, project).into_iter().filter(|r| {
        r.place.column.as_ref().is_none_or(|c| !named.contains(c)) && (r.place.column.is_some() || named.is_empty())
    }));
    if out.is_empty() {
        out.extend(by_partition(table, project, rules));
    }
    out
}

/// Columns that are per-site by their role, name or values.
fn by_column(table: &Table, registry: &HospitalNames, rules: &Rules) -> Vec<Raw> {
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

/// A `work sql` result grouped, filtered or partitioned by a column that tells the site, or with
/// columns computed from one, by the lineage its sidecar records; and what the lineage could not
/// follow, for the reviewer to read in the query.
fn by_lineage(table: &Table, project: &ProjectSites) -> Vec<Raw> {
    let Some(lineage) = &table.lineage else { return Vec::new() };
    let mut out = Vec::new();
    for col in &lineage.columns {
        if let Some(why) = col.from.iter().find_map(|c| project.identifies(c)) {
            out.push(Raw::new(
                Rule::SiteBreakdown,
                Place::column(&col.name),
                format!(
                    "its values are computed from a column that tells the site ({why}), however they are labelled: \
                     a result per hospital; compute it over all sites"
                ),
            ));
        }
    }
    // A column shown per site says it all; otherwise the rows may still be one site's, or split by site.
    let split: Vec<(&str, String)> = [
        ("grouped", &lineage.grouped_by),
        ("filtered", &lineage.filtered_by),
        ("partitioned", &lineage.partitioned_by),
    ]
    .into_iter()
    .filter_map(|(how, columns)| columns.iter().find_map(|c| project.identifies(c)).map(|why| (how, why)))
    .collect();
    if out.is_empty()
        && let Some((_, why)) = split.first()
    {
        let how: Vec<&str> = split.iter().map(|(how, _)| *how).collect();
        out.push(Raw::new(
            Rule::SiteBreakdown,
            Place::file(),
            format!(
                "the query that made it {} the rows by a column that tells the site ({why}): a result per hospital, \
                 however it is labelled; compute it over all sites",
                how.join(" and ")
            ),
        ));
    }
    for what in &lineage.unresolved {
        out.push(Raw::new(
            Rule::SiteBreakdown,
            Place::file(),
            format!(
                "the gate could not follow where the columns of the query come from ({what}): the reviewer reads the \
                 query in the work log to see that it is not a result per hospital"
            ),
        ));
    }
    out
}

/// A label column of three groups or more whose groups add up to the rows of the sites of a dataset:
/// the sites, relabelled. Rows of totals are left out; every count of a group must be shown.
fn by_partition(table: &Table, project: &ProjectSites, rules: &Rules) -> Vec<Raw> {
    let min = f64::from(rules.min_count);
    let labels = table.label_columns();
    let total_row = |row: usize| labels.iter().any(|&l| rules.is_total_label(&table.columns[l].raw[row]));
    let mut out = Vec::new();
    for &l in &labels {
        let label = &table.columns[l];
        let mut groups: Vec<&str> = (0..table.rows).filter(|&r| !total_row(r)).map(|r| label.raw[r].as_str()).collect();
        groups.sort();
        groups.dedup();
        // Two groups matching two sites' counts happens by chance too often (a table by sex in a
        // two-site project); from three on it does not.
        if groups.len() < 3 {
            continue;
        }
        for c in table.columns_used_as(Use::Count) {
            let sums: Option<Vec<f64>> = groups
                .iter()
                .map(|g| {
                    (0..table.rows)
                        .filter(|&r| !total_row(r) && label.raw[r] == *g)
                        .map(|r| table.columns[c].number(r))
                        .sum::<Option<f64>>()
                })
                .collect();
            let Some(sums) = sums.filter(|s| s.iter().all(|&v| v >= min)) else { continue };
            if let Some((dataset, _)) = project.rows_per_site.iter().find(|(_, sites)| each_a_site(&sums, sites)) {
                out.push(Raw::new(
                    Rule::SiteBreakdown,
                    Place::column(&label.name),
                    format!(
                        "its {} groups count exactly as many as {} sites of dataset {dataset} have rows (column `{}`): \
                         the sites, relabelled; compute the result over all sites",
                        groups.len(),
                        sums.len(),
                        table.columns[c].name
                    ),
                ));
                break;
            }
        }
    }
    out
}

/// Whether every value of `sums` is the row count of a different site.
fn each_a_site(sums: &[f64], sites: &[u64]) -> bool {
    let mut left: Vec<u64> = sites.to_vec();
    sums.iter().all(|&v| match left.iter().position(|&n| n as f64 == v) {
        Some(i) => {
            left.swap_remove(i);
            true
        }
        None => false,
    })
}

/// Every place a registered hospital's name or alias occurs. `sidecar_text` is the sidecar's JSON.
pub fn names(table: &Table, registry: &HospitalNames, sidecar_text: Option<&str>) -> Vec<Raw> {
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
pub fn names_in_text(text: &str, registry: &HospitalNames) -> Vec<Raw> {
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
