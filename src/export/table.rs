//! A table as the gate sees it: every cell as written and as parsed (number, masked, text), and
//! what each column is for (counts, ages, labels, other measures), from the sidecar when the table
//! has one and conservatively from its content when it has not.

use std::path::{Path, PathBuf};

use super::rules::Rules;
use super::text::{fold, name_says, words};
use crate::bad_input;
use crate::error::Result;
use crate::schema::ColumnRole;
use crate::table::{ColumnLineage, Frame, Lineage, Sidecar, TextColumns, Trust};

/// A cell, parsed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell {
    /// Suppressed: blank, `<10`, `*`, … (see [`Rules::is_masked`]).
    Masked,
    /// A number; for a `12 (3.4%)` cell, the count in front.
    Number(f64),
    Text,
}

/// What a column is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Counts people or events: the small-cell rule applies.
    Count,
    /// Ages or age bands.
    Age,
    /// Labels of the rows (strata, categories, times).
    Label,
    /// Other numbers: rates, proportions, estimates, person-time.
    Measure,
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    /// The role the sidecar gives, if any.
    pub role: Option<ColumnRole>,
    /// Where the column comes from, for a `work sql` result whose sidecar records it.
    pub lineage: Option<ColumnLineage>,
    pub use_: Use,
    /// The cells as written (missing values as empty strings).
    pub raw: Vec<String>,
    pub cells: Vec<Cell>,
}

impl Column {
    /// A column of cells as written, parsed with `rules`.
    pub fn new(name: String, role: Option<ColumnRole>, use_: Use, raw: Vec<String>, rules: &Rules) -> Column {
        let cells = raw.iter().map(|r| parse_cell(r, rules)).collect();
        Column { name, role, lineage: None, use_, raw, cells }
    }

    /// The number in a row, if the cell is one.
    pub fn number(&self, row: usize) -> Option<f64> {
        match self.cells[row] {
            Cell::Number(v) => Some(v),
            _ => None,
        }
    }

    /// Whether this column holds proportions or rates, from which a count in the same row can be
    /// recomputed when the count is masked but the proportion is shown.
    pub fn is_share(&self) -> bool {
        match self.role {
            Some(ColumnRole::Proportion | ColumnRole::Rate) => true,
            Some(_) => false,
            None => {
                self.use_ != Use::Count
                    && (self.name.contains('%')
                        || self.name.contains('％')
                        || name_says(
                            &self.name,
                            &[
                                "pct",
                                "percent",
                                "percentage",
                                "prop",
                                "proportion",
                                "share",
                                "rate",
                                "risk",
                                "incidence",
                            ],
                            &["割合", "率", "構成比"],
                        ))
            }
        }
    }

    /// Whether sums of this column over rows mean something (counts and person-time).
    pub fn is_additive(&self) -> bool {
        match self.role {
            Some(r) => r.counts_people() || r == ColumnRole::PersonTime,
            None => self.use_ == Use::Count || is_person_time_name(&self.name),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Table {
    pub path: PathBuf,
    /// The sidecar whose column roles the gate believes (see `Trust::roles`).
    pub sidecar: Option<Sidecar>,
    /// What the query that made the table grouped, filtered and computed it from, when a sidecar
    /// the gate may believe records it (`work sql --out`), whoever chose the roles.
    pub lineage: Option<Lineage>,
    pub columns: Vec<Column>,
    pub rows: usize,
}

impl Table {
    /// Read a CSV or Parquet table with what may be believed of its sidecar (see `Sidecar::trust`):
    /// the column roles of `trust.roles()` and the query lineage of `trust.lineage()`. `not_counts`
    /// names columns the requester declares are not counts (used only for columns the sidecar does
    /// not describe).
    pub fn read(path: &Path, trust: &Trust, rules: &Rules, not_counts: &[String]) -> Result<Table> {
        let sidecar = trust.roles().cloned();
        let frame = Frame::read_text_columns(path, &[])?;
        if frame.rows() == 0 {
            return Err(bad_input!(
                "{}: the table has no rows; there is nothing to export (remove it from the request)",
                path.display()
            ));
        }
        if let Some(sc) = &sidecar
            && let Some(missing) = sc.columns.iter().find(|c| !frame.has_column(&c.name))
        {
            return Err(bad_input!(
                "{}: its sidecar {} describes a column `{}` that the table does not have; the sidecar \
                 belongs to another version of the table: write the table again with midnet, or fix the sidecar",
                path.display(),
                Sidecar::path_for(path).display(),
                missing.name
            ));
        }
        let mut columns = Vec::with_capacity(frame.names().len());
        for name in frame.names() {
            let raw: Vec<String> = frame.texts(name)?.into_iter().map(Option::unwrap_or_default).collect();
            columns.push((name.clone(), raw));
        }
        let lineage = trust.lineage().cloned();
        Ok(Table::from_columns(path, sidecar, lineage, columns, frame.rows(), rules, not_counts))
    }

    /// A table of `rows` rows from its columns' cells as written (e.g. a query's result), each
    /// column's use decided as [`Table::read`] decides it.
    pub fn from_columns(
        path: &Path,
        sidecar: Option<Sidecar>,
        lineage: Option<Lineage>,
        columns: TextColumns,
        rows: usize,
        rules: &Rules,
        not_counts: &[String],
    ) -> Table {
        let columns = columns
            .into_iter()
            .map(|(name, raw)| {
                let cells: Vec<Cell> = raw.iter().map(|r| parse_cell(r, rules)).collect();
                let role = sidecar.as_ref().and_then(|s| s.role_of(&name));
                let column_lineage = lineage.as_ref().and_then(|l| l.columns.iter().find(|c| c.name == name)).cloned();
                let declared_not_count = not_counts.contains(&name);
                let use_ = match (role, &column_lineage) {
                    (None, Some(l)) if counted_by(l) && whole_numbers(&cells) => Use::Count,
                    _ => column_use(&name, role, &raw, &cells, declared_not_count),
                };
                Column { name, role, lineage: column_lineage, use_, raw, cells }
            })
            .collect();
        Table { path: path.to_path_buf(), sidecar, lineage, columns, rows }
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Indices of the columns used as `use_`.
    pub fn columns_used_as(&self, use_: Use) -> impl Iterator<Item = usize> + '_ {
        self.columns.iter().enumerate().filter(move |(_, c)| c.use_ == use_).map(|(i, _)| i)
    }

    /// Indices of the columns that label rows: labels and ages.
    pub fn label_columns(&self) -> Vec<usize> {
        (0..self.columns.len()).filter(|&i| matches!(self.columns[i].use_, Use::Label | Use::Age)).collect()
    }

    /// "row 3 (line 4)" for a CSV, "row 3" for Parquet: how a finding names a row.
    pub fn line_of(&self, row: usize) -> Option<usize> {
        is_csv(&self.path).then_some(row + 2)
    }
}

pub fn is_csv(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

/// Parse one cell: masked, a number (also `1,234` and the count of `12 (3.4%)`), or text.
pub fn parse_cell(raw: &str, rules: &Rules) -> Cell {
    if rules.is_masked(raw) {
        return Cell::Masked;
    }
    match parse_number(raw) {
        Some(v) => Cell::Number(v),
        None => Cell::Text,
    }
}

fn parse_number(raw: &str) -> Option<f64> {
    let t = raw.trim();
    if let Ok(v) = t.parse::<f64>() {
        return v.is_finite().then_some(v);
    }
    // `12 (3.4%)`: the count of a count-and-percentage cell.
    if let Some((head, tail)) = t.split_once('(')
        && tail.trim_end().ends_with(')')
        && let Ok(v) = head.trim().parse::<u64>()
    {
        return Some(v as f64);
    }
    // `1,234,567`: thousands separators.
    let groups: Vec<&str> = t.split(',').collect();
    let grouped = groups.len() > 1
        && (1..=3).contains(&groups[0].len())
        && groups[1..].iter().all(|g| g.len() == 3)
        && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit()));
    if grouped { t.replace(',', "").parse().ok() } else { None }
}

/// What a column is for. The sidecar decides when it describes the column; otherwise the content
/// does: every column of whole numbers counts people, whatever its name, unless its values are
/// calendar years or dates, it is a sex code column (named so, values 0, 1, 2, 9 only), it is
/// named as ages (the age-band rule judges its values), or the requester declared it is not a count.
/// Names alone never exempt a column: a count renamed `day`, `code` or `person_years` is a count.
fn column_use(name: &str, role: Option<ColumnRole>, raw: &[String], cells: &[Cell], declared_not_count: bool) -> Use {
    if let Some(role) = role {
        return match role {
            r if r.counts_people() => Use::Count,
            ColumnRole::AgeBand => Use::Age,
            ColumnRole::Label | ColumnRole::Other if is_age_name(name) => Use::Age,
            ColumnRole::Label
            | ColumnRole::Sex
            | ColumnRole::Site
            | ColumnRole::Time
            | ColumnRole::EventTime
            | ColumnRole::Date
            | ColumnRole::Other => Use::Label,
            _ => Use::Measure,
        };
    }
    if is_age_name(name) {
        return Use::Age;
    }
    let numbers = cells.iter().filter(|c| matches!(c, Cell::Number(_))).count();
    let texts = cells.iter().filter(|c| **c == Cell::Text).count();
    let mask_marks = raw.iter().zip(cells).filter(|(r, c)| **c == Cell::Masked && !r.trim().is_empty()).count();
    // A few text cells among many numbers (`>100`, `n.a.`) do not make a count column a label; a
    // column of nothing but masks (`<10`, `*`) is a count column masked throughout.
    let numeric = numbers > texts || (texts == 0 && numbers == 0 && mask_marks > 0);
    if !numeric || is_calendar(cells) || is_sex_code(name, cells) {
        return Use::Label;
    }
    if whole_numbers(cells) && !declared_not_count { Use::Count } else { Use::Measure }
}

fn whole_numbers(cells: &[Cell]) -> bool {
    cells.iter().all(|c| match c {
        Cell::Number(v) => v.fract() == 0.0,
        _ => true,
    })
}

/// A `work sql` column computed by counting or summing rows (`count(*)`, `sum(event)`): a count,
/// whatever it is called.
fn counted_by(lineage: &ColumnLineage) -> bool {
    lineage
        .functions
        .iter()
        .any(|f| matches!(f.as_str(), "count" | "count_star" | "sum" | "sum_no_overflow" | "count_if"))
}

/// Every number a calendar year (1900-2100), year-month (`202104`) or date (`20210401`).
fn is_calendar(cells: &[Cell]) -> bool {
    let mut any = false;
    for c in cells {
        if let Cell::Number(v) = *c {
            let calendar = v.fract() == 0.0
                && ((1900.0..=2100.0).contains(&v)
                    || (190001.0..=210012.0).contains(&v) && (1..=12).contains(&((v as u64) % 100))
                    || (19000101.0..=21001231.0).contains(&v) && (1..=12).contains(&((v as u64) / 100 % 100)));
            if !calendar {
                return false;
            }
            any = true;
        }
    }
    any
}

/// A column named as sex whose numbers are the usual codes (0/1, 1/2, 9 unknown).
fn is_sex_code(name: &str, cells: &[Cell]) -> bool {
    name_says(name, &["sex", "gender"], &["性別"])
        && cells.iter().all(|c| match *c {
            Cell::Number(v) => [0.0, 1.0, 2.0, 9.0].contains(&v),
            _ => true,
        })
}

/// Columns named as ages (`age`, `age_group`, `ageBand`, `年齢階級`, `年代`), not statistics of
/// age (`mean_age`) and not words that merely contain "age" (`stage`, `average`).
pub fn is_age_name(name: &str) -> bool {
    const STATISTICS: [&str; 12] =
        ["mean", "median", "sd", "avg", "average", "iqr", "min", "max", "q1", "q3", "std", "平均"];
    let ws = words(name);
    let aged = ws.iter().any(|w| {
        matches!(
            w.as_str(),
            "age" | "ages" | "agegroup" | "ageband" | "agecat" | "agecategory" | "agegrp" | "ageclass" | "agerange"
        )
    }) || name_says(name, &[], &["年齢", "年代"]);
    aged && !ws.iter().any(|w| STATISTICS.contains(&w.as_str())) && !fold(name).contains("平均")
}

fn is_person_time_name(name: &str) -> bool {
    let ws = words(name);
    let joined = ws.concat();
    ws.iter().any(|w| matches!(w.as_str(), "py" | "pyrs" | "pdays" | "pt"))
        || ["personyear", "persontime", "personday", "patientyear"].iter().any(|p| joined.contains(p))
        || name_says(name, &[], &["人年", "観察期間"])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells() {
        let r = Rules::default();
        assert_eq!(parse_cell("12", &r), Cell::Number(12.0));
        assert_eq!(parse_cell("1,234", &r), Cell::Number(1234.0));
        assert_eq!(parse_cell("12 (3.4%)", &r), Cell::Number(12.0));
        assert_eq!(parse_cell("<10", &r), Cell::Masked);
        assert_eq!(parse_cell("", &r), Cell::Masked);
        assert_eq!(parse_cell("40-44", &r), Cell::Text);
        assert_eq!(parse_cell("1,23", &r), Cell::Text);
    }

    #[test]
    fn uses_without_a_sidecar() {
        let r = Rules::default();
        let use_of = |name: &str, cells: &[&str], not_count: bool| {
            let raw: Vec<String> = cells.iter().map(|c| c.to_string()).collect();
            let parsed: Vec<Cell> = raw.iter().map(|c| parse_cell(c, &r)).collect();
            column_use(name, None, &raw, &parsed, not_count)
        };
        assert_eq!(use_of("patients", &["12", "30"], false), Use::Count);
        assert_eq!(use_of("patients", &["12", "<10"], false), Use::Count);
        assert_eq!(use_of("patients", &["<10", "*"], false), Use::Count);
        assert_eq!(use_of("notes", &["", ""], false), Use::Label);
        assert_eq!(use_of("code", &["12", "30"], true), Use::Measure);
        assert_eq!(use_of("score", &["12", "30"], true), Use::Measure);
        assert_eq!(use_of("rate", &["1.5", "3"], false), Use::Measure);
        assert_eq!(use_of("year", &["2019", "2020"], false), Use::Label);
        assert_eq!(use_of("month", &["202104", "202105"], false), Use::Label);
        assert_eq!(use_of("age", &["40", "41"], false), Use::Age);
        assert_eq!(use_of("person_years", &["40.5", "41.25"], false), Use::Measure);
        assert_eq!(use_of("drug", &["A", "B"], false), Use::Label);
        assert_eq!(use_of("sex", &["1", "2"], false), Use::Label);
        // Counts by content, whatever the name says.
        assert_eq!(use_of("person_years", &["4", "41"], false), Use::Count);
        assert_eq!(use_of("day", &["3", "17"], false), Use::Count);
        assert_eq!(use_of("code", &["7", "30"], false), Use::Count);
        assert_eq!(use_of("sex", &["7", "30"], false), Use::Count);
        assert_eq!(use_of("year", &["3", "2020"], false), Use::Count);
        assert_eq!(use_of("therapy", &["1", "2"], false), Use::Count);
        assert_eq!(use_of("patients", &["12", "40", ">100"], false), Use::Count);
    }

    #[test]
    fn age_names() {
        for n in ["age", "age_band", "AgeGroup", "年齢階級", "年代"] {
            assert!(is_age_name(n), "{n}");
        }
        for n in ["mean_age", "average", "stage", "age_sd", "平均年齢"] {
            assert!(!is_age_name(n), "{n}");
        }
    }
}
