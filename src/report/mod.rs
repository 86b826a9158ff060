//! The HTML report of an early-safety analysis: one self-contained file (inline SVG and CSS, no
//! scripts, nothing fetched) rendered from the analysis tables alone — a forest plot of the hazard
//! ratios with their CIs, cumulative-incidence curves of the flagged outcomes, the attrition and
//! the baseline table, and the results in full. The same renderer serves `midnet protocol run`
//! (inside the work area) and `midnet report FILES…` (outside the data center, on released
//! tables), so a released report shows exactly what the reviewer released.

mod svg;

use std::fmt::Write;
use std::path::{Path, PathBuf};

use crate::bad_input;
use crate::error::Result;
use crate::table::Frame;

pub const REPORT_FILE: &str = "report.html";

/// The tables a report is made from, by their file names.
const NAMES: [&str; 6] = ["results", "attrition", "baseline", "curves", "onset", "duration"];

/// A table as text cells.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    fn read(path: &Path) -> Result<Table> {
        let frame = Frame::read_text_columns(path, &[])?;
        let columns: Vec<String> = frame.names().to_vec();
        let cells: Vec<Vec<Option<String>>> = columns.iter().map(|c| frame.texts(c)).collect::<Result<_>>()?;
        let rows =
            (0..frame.rows()).map(|i| cells.iter().map(|c| c[i].clone().unwrap_or_default()).collect()).collect();
        Ok(Table { columns, rows })
    }

    fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// The cell of `row` in column `name` (empty when the table has no such column).
    pub fn cell<'a>(&'a self, row: &'a [String], name: &str) -> &'a str {
        self.column(name).map_or("", |i| row[i].as_str())
    }
}

#[derive(Debug, Clone, Default)]
pub struct Tables {
    pub results: Table,
    pub attrition: Option<Table>,
    pub baseline: Option<Table>,
    pub curves: Option<Table>,
    /// Signal refinement: time to onset, and incidence by duration of use.
    pub onset: Option<Table>,
    pub duration: Option<Table>,
}

impl Tables {
    /// The tables of an analysis directory.
    pub fn read_dir(dir: &Path) -> Result<Tables> {
        let files: Vec<PathBuf> = NAMES.iter().map(|n| dir.join(format!("{n}.csv"))).filter(|p| p.is_file()).collect();
        Tables::read_files(&files)
    }

    /// Tables named `results.csv` (required), `attrition.csv`, `baseline.csv`, `curves.csv`,
    /// `onset.csv`, `duration.csv` (CSV or Parquet), wherever they are.
    pub fn read_files(files: &[PathBuf]) -> Result<Tables> {
        let mut tables = Tables::default();
        let mut results = None;
        for file in files {
            let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            let table = Table::read(file)?;
            match stem {
                "results" => {
                    for needed in ["outcome", "subgroup", "hr", "hr_lo95", "hr_hi95", "status", "flagged"] {
                        if table.column(needed).is_none() {
                            return Err(bad_input!(
                                "{}: no column `{needed}`; give the results table of `midnet protocol run`",
                                file.display()
                            ));
                        }
                    }
                    results = Some(table);
                }
                "attrition" => tables.attrition = Some(table),
                "baseline" => tables.baseline = Some(table),
                "curves" => tables.curves = Some(table),
                "onset" => tables.onset = Some(table),
                "duration" => tables.duration = Some(table),
                _ => {
                    return Err(bad_input!(
                        "{}: not a table of the protocol report; give results.csv and any of attrition.csv, \
                         baseline.csv, curves.csv, onset.csv, duration.csv",
                        file.display()
                    ));
                }
            }
        }
        tables.results =
            results.ok_or_else(|| bad_input!("no results.csv among the files; the report needs the results table"))?;
        Ok(tables)
    }
}

fn esc(s: &str) -> String {
    html_escape::encode_text(s).into_owned()
}

/// The report as one HTML document.
/// The report as one HTML document; `gate` lists what the export gate finds in the tables (empty
/// outside the data center).
pub fn render(tables: &Tables, title: &str, gate: &[String]) -> String {
    let r = &tables.results;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n<style>{}</style></head><body>\n<h1>{}</h1>\n",
        esc(title),
        CSS,
        esc(title)
    );
    let first = r.rows.first();
    let tests = first.map_or("0", |row| r.cell(row, "tests"));
    let flagged: Vec<&Vec<String>> = r.rows.iter().filter(|row| r.cell(row, "flagged") == "yes").collect();
    let _ = writeln!(
        h,
        "<p class=\"flags\"><strong>{} flagged</strong> (lower 95% bound of the hazard ratio above 1) among <strong>{}</strong> \
         outcome &times; subgroup tests; at a one-sided 2.5% level about {:.1} would be flagged by chance alone.</p>",
        flagged.len(),
        esc(tests),
        tests.parse::<f64>().unwrap_or(0.0) * 0.025
    );
    if let Some(row) = first {
        let _ = writeln!(h, "<p class=\"model\">Model: {}</p>", esc(r.cell(row, "model")));
    }
    if !gate.is_empty() {
        h.push_str("<h2>Export gate</h2>\n<p>At the export stage the gate finds the following in these tables; a reviewer must accept each (or the cells be suppressed) before they leave the data center:</p>\n<ul>\n");
        for line in gate {
            let _ = writeln!(h, "<li>{}</li>", esc(line));
        }
        h.push_str("</ul>\n");
    }
    for subgroup in subgroups(r) {
        let _ = writeln!(h, "<h2>Hazard ratios: {}</h2>", esc(&subgroup));
        h.push_str(&svg::forest(r, &subgroup));
    }
    if !flagged.is_empty() {
        let _ = writeln!(
            h,
            "<h2>Cumulative incidence of the flagged outcomes</h2>\n<p>Read every {} days from the index date while \
             enough patients remain at risk (no point of a curve is one patient's event day).</p>",
            crate::stats::km::CURVE_GRID_DAYS
        );
        match &tables.curves {
            Some(curves) => {
                for row in &flagged {
                    let (outcome, subgroup) = (r.cell(row, "outcome"), r.cell(row, "subgroup"));
                    let _ = writeln!(h, "<h3>{} ({})</h3>", esc(outcome), esc(subgroup));
                    h.push_str(&svg::curves(curves, outcome, subgroup));
                }
            }
            None => h.push_str("<p>(no curves table given)</p>\n"),
        }
    }
    let onset_note = "A day to onset is one patient's value: a quartile is shown only when enough events (the export \
                      gate's small-cell threshold) lie on each side of it, and is empty otherwise.";
    let sections = [
        ("Attrition", &tables.attrition, ""),
        ("Baseline characteristics", &tables.baseline, ""),
        ("Time to onset (signal refinement)", &tables.onset, onset_note),
        ("Incidence by days of use (signal refinement)", &tables.duration, ""),
    ];
    for (heading, table, note) in sections {
        if let Some(t) = table {
            let _ = writeln!(h, "<h2>{heading}</h2>");
            if !note.is_empty() {
                let _ = writeln!(h, "<p>{}</p>", esc(note));
            }
            h.push_str(&html_table(t));
        }
    }
    h.push_str("<h2>Results</h2>\n");
    h.push_str(&html_table(r));
    h.push_str("</body></html>\n");
    h
}

/// The subgroups of the results, in order of appearance.
fn subgroups(r: &Table) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for row in &r.rows {
        let s = r.cell(row, "subgroup").to_string();
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

fn html_table(t: &Table) -> String {
    let mut h = String::from("<table>\n<tr>");
    for c in &t.columns {
        let _ = write!(h, "<th>{}</th>", esc(c));
    }
    h.push_str("</tr>\n");
    for row in &t.rows {
        h.push_str("<tr>");
        for cell in row {
            let _ = write!(h, "<td>{}</td>", esc(cell));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
    h
}

const CSS: &str = "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;font-size:12px;margin-bottom:2em}\
td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}th{background:#f0f0f0}.flags{font-size:15px}\
.model{color:#555}svg{display:block;margin-bottom:1.5em}";

#[cfg(test)]
mod tests {
    use super::*;

    fn results() -> Table {
        let columns = ["outcome", "subgroup", "hr", "hr_lo95", "hr_hi95", "status", "flagged", "tests", "model"];
        Table {
            columns: columns.iter().map(|s| s.to_string()).collect(),
            rows: [
                ["alt_gt_3uln", "baseline normal", "3.1", "2.0", "4.8", "estimated", "yes", "2", "Cox <model>"],
                ["kl6_gt_500", "baseline normal", "", "", "", "not estimable: no events", "no", "2", "Cox <model>"],
            ]
            .iter()
            .map(|r| r.iter().map(|s| s.to_string()).collect())
            .collect(),
        }
    }

    #[test]
    fn text_is_escaped_and_flags_are_counted() {
        let html = render(
            &Tables { results: results(), ..Tables::default() },
            "a <b> title",
            &["results.csv: 2 finding(s) of `small_cell` (review)".into()],
        );
        assert!(html.contains("a &lt;b&gt; title"));
        assert!(html.contains("Cox &lt;model&gt;"));
        assert!(html.contains("<strong>1 flagged</strong>"));
        assert!(html.contains("not estimable: no events"));
        assert!(!html.contains("<script"));
        assert!(html.contains("<li>results.csv: 2 finding(s) of `small_cell` (review)</li>"));
    }
}
