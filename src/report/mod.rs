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
                    let flag = unadjusted_flag_column(&table.columns);
                    for needed in ["outcome", "subgroup", "hr", "hr_lo95", "hr_hi95", "status", flag] {
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

/// The column of a results table that holds the per-look unadjusted flag: `flagged_unadjusted`, or
/// `flagged` in tables written before the flag became the sequential one (issue 24), where that was
/// its name.
pub fn unadjusted_flag_column(columns: &[String]) -> &'static str {
    if columns.iter().any(|c| c == "flagged") && !columns.iter().any(|c| c == "flagged_unadjusted") {
        "flagged"
    } else {
        "flagged_unadjusted"
    }
}

/// How a results row is flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flag {
    /// The statistic crossed the sequential boundary at this look or an earlier one.
    Sequential,
    /// Only the per-look unadjusted flag (lower 95% Wald bound above 1 at this look alone).
    UnadjustedOnly,
    None,
}

impl Table {
    pub(crate) fn flag(&self, row: &[String]) -> Flag {
        if self.cell(row, "flagged_sequential") == "yes" {
            Flag::Sequential
        } else if self.cell(row, unadjusted_flag_column(&self.columns)) == "yes" {
            Flag::UnadjustedOnly
        } else {
            Flag::None
        }
    }

    /// The table has the sequential flag (tables written before issue 24 have the unadjusted one only).
    fn sequential(&self) -> bool {
        self.column("flagged_sequential").is_some()
    }
}

fn esc(s: &str) -> String {
    html_escape::encode_text(s).into_owned()
}

/// A statistic as the report shows it: two decimals under 10, one under 100, none under 10,000,
/// then in scientific notation (an interval bound of a sparse outcome can run to millions).
fn number(v: f64) -> String {
    match v.abs() {
        a if a >= 10_000.0 => format!("{v:.1e}"),
        a if a >= 100.0 => format!("{v:.0}"),
        a if a >= 10.0 => format!("{v:.1}"),
        _ => format!("{v:.2}"),
    }
}

/// A cell's text as a [`number`] when it is one, as it is otherwise.
fn number_cell(cell: &str) -> String {
    cell.parse::<f64>().ok().filter(|v| v.is_finite()).map_or_else(|| cell.to_string(), number)
}

/// Why a row has no hazard ratio (its status without the `not estimable: ` prefix), or `None`
/// when it has one.
fn unestimable(r: &Table, row: &[String]) -> Option<String> {
    let status = r.cell(row, "status");
    (status != "estimated").then(|| status.strip_prefix("not estimable: ").unwrap_or(status).to_string())
}

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
    let flagged: Vec<&Vec<String>> = r.rows.iter().filter(|row| r.flag(row) != Flag::None).collect();
    let unadjusted = r.rows.iter().filter(|row| r.cell(row, unadjusted_flag_column(&r.columns)) == "yes").count();
    if r.sequential() {
        let sequential = flagged.iter().filter(|row| r.flag(row) == Flag::Sequential).count();
        let crossed = r.rows.iter().filter(|row| r.cell(row, "crossed") == "yes").count();
        let _ = writeln!(
            h,
            "<p class=\"flags\"><strong>{sequential} flagged</strong> among <strong>{}</strong> outcome &times; subgroup \
             tests: the statistic z of the hazard ratio crossed the sequential boundary of the project's surveillance plan \
             ({crossed} at this look, the others earlier); over all the looks of the plan chance alone flags a \
             no-effect test with the plan's one-sided level.</p>",
            esc(tests)
        );
    }
    let _ = writeln!(
        h,
        "<p class=\"flags\">{unadjusted} <strong>unadjusted per-look flag(s)</strong> (lower 95% Wald bound of the hazard \
         ratio above 1 at this look, as if it were the only one; about {:.1} of {} tests by chance at every look){}.</p>",
        tests.parse::<f64>().unwrap_or(0.0) * 0.025,
        esc(tests),
        if r.sequential() { ", for comparison only: this is not the flag" } else { "" }
    );
    if let Some(row) = first {
        let _ = writeln!(h, "<p class=\"model\">Model: {}</p>", esc(r.cell(row, "model")));
    }
    h.push_str(HOW_TO_READ);
    if !gate.is_empty() {
        h.push_str("<h2>Export gate</h2>\n<p>At the export stage the gate finds the following in these tables; a reviewer must accept each (or the cells be suppressed) before they leave the data center:</p>\n<ul>\n");
        for line in gate {
            let _ = writeln!(h, "<li>{}</li>", esc(line));
        }
        h.push_str("</ul>\n");
    }
    for subgroup in subgroups(r) {
        let rows: Vec<&Vec<String>> = r.rows.iter().filter(|row| r.cell(row, "subgroup") == subgroup).collect();
        let _ = writeln!(h, "<h2>Hazard ratios: {}</h2>", esc(&subgroup));
        match svg::forest(r, &rows) {
            Some(plot) => h.push_str(&plot),
            None => h.push_str("<p>No hazard ratio could be estimated in this subgroup.</p>\n"),
        }
        h.push_str(&unestimable_list(r, &rows));
    }
    if !flagged.is_empty() {
        let _ = writeln!(
            h,
            "<h2>Cumulative incidence of the flagged outcomes (either flag)</h2>\n<p>Read every {} days from the index date while \
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
    h.push_str(&results_section(r));
    h.push_str("</body></html>\n");
    h
}

/// The reader's note: what a flag is, why an effect may go unflagged, and where small counts come
/// from.
const HOW_TO_READ: &str = "<div class=\"howto\"><h2>How to read this report</h2>\n<ul>\n\
<li><strong>Flag.</strong> Each outcome is compared between new users of the drug and of the comparator by a hazard \
ratio (HR; above 1: more events on the drug). The protocol is run again at every data cut-off, so each outcome \
&times; subgroup is monitored as one sequential test over the looks of the project's surveillance plan: it is \
<strong>flagged</strong> when the statistic z of its HR (log HR over its standard error) reaches the look's \
boundary, which spends the plan's one-sided level over the looks, and stays flagged from that look on. The \
<strong>unadjusted per-look flag</strong> (the lower bound of the HR's 95% Wald interval above 1 at one look, as if \
it were the only one) is shown for comparison: repeated at every look it flags a no-effect outcome far more often \
than 2.5%. In a forest plot the square is the HR, the line its 95% interval, the dashed line HR&nbsp;=&nbsp;1; \
flagged rows are red, rows with the unadjusted flag only orange. A flag is a signal to look into, not a finding: \
with many tests, a few are flagged by chance.</li>\n\
<li><strong>A real effect may not be flagged.</strong> With few patients and few events the interval is wide and its \
lower bound stays below 1 even when the drug truly raises the risk, as for the effects planted in the demo's small \
synthetic network; more patients and events narrow it. Not flagged does not mean no effect.</li>\n\
<li><strong>Not estimable.</strong> Where no HR can be estimated (no events, or events in one group only, or events \
in both groups but never in both at one site, which the model, comparing patients within each site, cannot use, or \
too few events to adjust for the model's covariates), the outcome is listed under its plot with why.</li>\n\
<li><strong>Counts of 1-9.</strong> The export gate holds back counts from 1 to 9 (a small cell could identify a \
patient) unless a reviewer accepts them under an exception, such as counts of a signal-detection analysis released \
to the operator for internal monitoring (the guideline's section 11, item 6). Such tables must not be published as they are: \
<code>midnet export fix</code> suppresses those cells.</li>\n</ul></div>\n";

/// The outcomes of `rows` without an estimate, grouped by why.
fn unestimable_list(r: &Table, rows: &[&Vec<String>]) -> String {
    let mut reasons: Vec<(String, Vec<&str>)> = Vec::new();
    for row in rows {
        if let Some(why) = unestimable(r, row) {
            let outcome = r.cell(row, "outcome");
            match reasons.iter_mut().find(|(w, _)| *w == why) {
                Some((_, outcomes)) => outcomes.push(outcome),
                None => reasons.push((why, vec![outcome])),
            }
        }
    }
    if reasons.is_empty() {
        return String::new();
    }
    let mut h = String::from("<p class=\"note\">Not estimable:</p>\n<ul class=\"note\">\n");
    for (why, outcomes) in reasons {
        let _ = writeln!(h, "<li><em>{}</em>: {}</li>", esc(&why), esc(&outcomes.join(", ")));
    }
    h.push_str("</ul>\n");
    h
}

/// The results, one row per outcome and subgroup with each group's counts, person-years and rate
/// in three columns each, then the outcomes' definitions: a screen wide, every value of the
/// results table but the run's model and test count (shown at the top) rounded for reading.
fn results_section(r: &Table) -> String {
    let sequential = r.column("boundary").is_some();
    let mut reasons: Vec<String> = Vec::new();
    let sequential_header = if sequential {
        "<th rowspan=\"2\">z / boundary (alpha spent)</th><th rowspan=\"2\">sequential</th>"
    } else {
        ""
    };
    let mut h = format!(
        "<h2>Results</h2>\n<p class=\"note\">Per group: events / patients, person-years of follow-up, and the incidence \
         rate per 1,000 person-years (95% CI). HR: hazard ratio of the drug vs the comparator (95% Wald CI), p its Wald \
         test; with fewer than 40 events also its 95% profile-likelihood CI (<em>profile</em>), which follows the \
         likelihood where few events make the Wald interval unreliable. Fewer than 5 events: not estimated. Result: FLAGGED when z crossed the sequential boundary (at this look or earlier); unadjusted flag only \
         when the lower Wald bound is above 1 at this look without a crossing. Values are rounded; <code>results.csv</code> holds them in full. \
         Outcomes are defined in the table after this one.</p>\n<div class=\"wide\"><table class=\"results\">\n\
         <tr><th rowspan=\"2\">outcome</th><th rowspan=\"2\">subgroup</th><th colspan=\"3\">drug</th>\
         <th colspan=\"3\">comparator</th><th rowspan=\"2\">HR (95% CI)</th><th rowspan=\"2\">p</th>\
         <th rowspan=\"2\">result</th>{sequential_header}</tr>\n<tr><th>events / patients</th><th>person-years</th><th>rate (95% CI)</th>\
         <th>events / patients</th><th>person-years</th><th>rate (95% CI)</th></tr>\n"
    );
    for row in &r.rows {
        let flag = r.flag(row);
        let _ = write!(
            h,
            "<tr{}><td>{}</td><td>{}</td>",
            match flag {
                Flag::Sequential => " class=\"flagged\"",
                Flag::UnadjustedOnly => " class=\"unadjusted\"",
                Flag::None => "",
            },
            esc(r.cell(row, "outcome")),
            esc(r.cell(row, "subgroup"))
        );
        for group in ["drug", "comparator"] {
            let cell = |c: &str| esc(&number_cell(r.cell(row, &format!("{c}_{group}"))));
            let rate = interval(r, row, &format!("rate_{group}"));
            let _ = write!(
                h,
                "<td class=\"n\">{} / {}</td><td class=\"n\">{}</td><td class=\"n\">{rate}</td>",
                esc(r.cell(row, &format!("events_{group}"))),
                esc(r.cell(row, &format!("patients_{group}"))),
                cell("person_years")
            );
        }
        let result = match unestimable(r, row) {
            Some(why) => {
                let k = reasons.iter().position(|w| *w == why).unwrap_or_else(|| {
                    reasons.push(why);
                    reasons.len() - 1
                });
                format!("not estimable [{}]", k + 1)
            }
            None => match flag {
                Flag::Sequential => "FLAGGED".to_string(),
                Flag::UnadjustedOnly => "unadjusted flag only".to_string(),
                Flag::None => String::new(),
            },
        };
        let _ = write!(
            h,
            "<td class=\"n\">{}{}</td><td class=\"n\">{}</td><td>{result}</td>",
            interval(r, row, "hr"),
            profile_interval(r, row),
            p_value(r.cell(row, "p"))
        );
        if sequential {
            h.push_str(&sequential_cells(r, row));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table></div>\n");
    if !reasons.is_empty() {
        h.push_str("<ol class=\"note\">\n");
        for why in &reasons {
            let _ = writeln!(h, "<li>not estimable: {}</li>", esc(why));
        }
        h.push_str("</ol>\n");
    }
    h.push_str("<h3>Outcomes</h3>\n<div class=\"wide\"><table>\n<tr><th>outcome</th><th>definition</th><th>system</th><th>severity</th></tr>\n");
    let mut seen: Vec<&str> = Vec::new();
    for row in &r.rows {
        let outcome = r.cell(row, "outcome");
        if !seen.contains(&outcome) {
            seen.push(outcome);
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(outcome),
                esc(r.cell(row, "label")),
                esc(r.cell(row, "system")),
                esc(r.cell(row, "severity"))
            );
        }
    }
    h.push_str("</table></div>\n");
    h
}

/// The sequential look of a results row: `z / boundary (alpha spent)`, and crossed with the
/// analysis where the statistic first crossed.
fn sequential_cells(r: &Table, row: &[String]) -> String {
    let rounded = |name: &str, digits: usize| {
        r.cell(row, name).parse::<f64>().map_or("-".to_string(), |v| format!("{v:.digits$}"))
    };
    let look = format!("{} / {} ({})", rounded("z", 2), rounded("boundary", 2), rounded("alpha_spent", 4));
    let state = match (r.cell(row, "crossed"), r.cell(row, "first_crossed")) {
        ("yes", _) => "crossed".to_string(),
        (_, "") => String::new(),
        (_, first) => format!("crossed at analysis {first}"),
    };
    format!("<td class=\"n\">{}</td><td>{}</td>", esc(&look), esc(&state))
}

/// `estimate (lo-hi)` of columns `name`, `name_lo95`, `name_hi95`; empty without an estimate.
fn interval(r: &Table, row: &[String], name: &str) -> String {
    let estimate = r.cell(row, name);
    if estimate.is_empty() {
        return String::new();
    }
    let (lo, hi) = (r.cell(row, &format!("{name}_lo95")), r.cell(row, &format!("{name}_hi95")));
    esc(&format!("{} ({}-{})", number_cell(estimate), number_cell(lo), number_cell(hi)))
}

/// The profile-likelihood interval of the HR, when the results give one (few events), on a line of
/// its own and named.
fn profile_interval(r: &Table, row: &[String]) -> String {
    let (lo, hi) = (r.cell(row, "hr_profile_lo95"), r.cell(row, "hr_profile_hi95"));
    if lo.is_empty() {
        return String::new();
    }
    format!("<br><span class=\"note\">profile {}</span>", esc(&format!("{}-{}", number_cell(lo), number_cell(hi))))
}

/// A p-value to three decimals, `<0.001` below.
fn p_value(cell: &str) -> String {
    match cell.parse::<f64>() {
        Ok(p) if p < 0.001 => "&lt;0.001".to_string(),
        Ok(p) => format!("{p:.3}"),
        Err(_) => esc(cell),
    }
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
    let mut h = String::from("<div class=\"wide\"><table>\n<tr>");
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
    h.push_str("</table></div>\n");
    h
}

const CSS: &str = "body{font-family:sans-serif;margin:2em;color:#222;max-width:1200px}\
table{border-collapse:collapse;font-size:12px;margin-bottom:1em}\
td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}th{background:#f0f0f0}\
td.n{text-align:right;white-space:nowrap}table.results td{white-space:nowrap}tr.flagged td{color:#c0392b;font-weight:bold}\
tr.unadjusted td{color:#b9770e}\
.wide{overflow-x:auto;margin-bottom:1.5em}.flags{font-size:15px}.model{color:#555}\
.note{font-size:13px;color:#444}ul.note,ol.note{margin-top:0}\
.howto{background:#f6f8fa;border:1px solid #dde;padding:0 1em;font-size:14px;margin-bottom:1.5em}\
.howto h2{font-size:16px}svg{display:block;margin-bottom:0.5em}";

#[cfg(test)]
mod tests {
    use super::*;

    fn table(columns: &[&str], rows: &[&[&str]]) -> Table {
        Table {
            columns: columns.iter().map(|s| s.to_string()).collect(),
            rows: rows.iter().map(|r| r.iter().map(|s| s.to_string()).collect()).collect(),
        }
    }

    fn results() -> Table {
        let columns = ["outcome", "subgroup", "hr", "hr_lo95", "hr_hi95", "status", "flagged", "tests", "model"];
        table(
            &columns,
            &[
                &["alt_gt_3uln", "baseline normal", "3.1", "2.0", "4.8", "estimated", "yes", "2", "Cox <model>"],
                &["kl6_gt_500", "baseline normal", "", "", "", "not estimable: no events", "no", "2", "Cox <model>"],
            ],
        )
    }

    #[test]
    fn the_flag_is_the_sequential_one_and_the_unadjusted_flag_is_named_as_such() {
        let columns = [
            "outcome",
            "subgroup",
            "hr",
            "hr_lo95",
            "hr_hi95",
            "status",
            "flagged_unadjusted",
            "tests",
            "model",
            "z",
            "boundary",
            "alpha_spent",
            "crossed",
            "first_crossed",
            "flagged_sequential",
        ];
        let rows: [&[&str]; 3] = [
            &[
                "alt",
                "whole cohort",
                "3",
                "2",
                "4",
                "estimated",
                "yes",
                "3",
                "m",
                "5",
                "2.5",
                "0.01",
                "yes",
                "2",
                "yes",
            ],
            &["ast", "whole cohort", "2", "1.1", "4", "estimated", "yes", "3", "m", "2", "2.5", "0.01", "no", "", "no"],
            &["alp", "whole cohort", "1", "0.5", "2", "estimated", "no", "3", "m", "0", "2.5", "0.01", "no", "", "no"],
        ];
        let html = render(&Tables { results: table(&columns, &rows), ..Tables::default() }, "t", &[]);
        assert!(html.contains("<strong>1 flagged</strong> among <strong>3</strong>"), "{html}");
        assert!(html.contains("2 <strong>unadjusted per-look flag(s)</strong>"), "{html}");
        assert!(html.contains("for comparison only: this is not the flag"));
        let section = &html[html.find("<h2>Results</h2>").unwrap()..];
        let row = |outcome: &str| section.split("<tr").find(|r| r.contains(&format!("<td>{outcome}</td>"))).unwrap();
        assert!(row("alt").contains("class=\"flagged\"") && row("alt").contains(">FLAGGED<"));
        assert!(row("ast").contains("class=\"unadjusted\"") && row("ast").contains(">unadjusted flag only<"));
        assert!(!row("alp").contains("flag"), "{}", row("alp"));
        // A table written before the sequential flag: its `flagged` is the unadjusted one, named so.
        let html = render(&Tables { results: results(), ..Tables::default() }, "t", &[]);
        assert!(
            html.contains("1 <strong>unadjusted per-look flag(s)</strong>") && !html.contains("1 flagged</strong>")
        );
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
        assert!(html.contains("1 <strong>unadjusted per-look flag(s)</strong>"));
        assert!(html.contains("not estimable: no events"));
        assert!(!html.contains("<script"));
        assert!(html.contains("<li>results.csv: 2 finding(s) of `small_cell` (review)</li>"));
    }

    #[test]
    fn the_results_table_fits_a_screen_and_the_note_explains_the_report() {
        let html = render(&Tables { results: results(), ..Tables::default() }, "t", &[]);
        let results = &html[html.find("<h2>Results</h2>").unwrap()..];
        let header = &results[results.find("<table").unwrap()..results.find("</table>").unwrap()];
        let first_header_row = header.split("</tr>").next().unwrap();
        assert!(first_header_row.matches("<th").count() <= 7, "too many column groups: {first_header_row}");
        assert!(header.contains("not estimable [1]") && results.contains("<li>not estimable: no events</li>"));
        assert!(header.contains("3.10 (2.00-4.80)"), "{header}");
        let note = &html[html.find("How to read this report").unwrap()..];
        for needed in ["lower bound of the HR's", "planted", "Counts of 1-9", "exception"] {
            assert!(note.contains(needed), "the reading note lacks `{needed}`");
        }
        // Without an estimate an outcome is listed under its plot, with why, and never drawn in it.
        let listed = &html[html.find("Not estimable:").unwrap()..];
        assert!(listed.contains("<em>no events</em>: kl6_gt_500"), "{listed}");
    }

    #[test]
    fn numbers_are_rounded_for_reading() {
        assert_eq!(number(1.8993457), "1.90");
        assert_eq!(number(29.87), "29.9");
        assert_eq!(number(812.135), "812");
        assert_eq!(number(97531665.67), "9.8e7");
        assert_eq!(number_cell("a"), "a");
        assert_eq!(p_value("0.00001"), "&lt;0.001");
    }
}
