//! `midnet stats incidence`: events, person-time and rates by strata, with exact intervals,
//! direct standardisation and a two-group comparison.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::bad_input;
use crate::cli::Global;
use crate::cli::named::NamedFile;
use crate::cli::stats::input::{self, InputArgs, Resolved, Source};
use crate::cli::stats::output::{OutputArgs, Writer, grouping_role, human, timing};
use crate::cli::terminal::text_table;
use crate::error::Result;
use crate::schema::ColumnRole;
use crate::stats::incidence::{self, Comparison, PoissonCi, Standardized, Tally};
use crate::stats::strata::Strata;
use crate::table::{Categories, CsvTable, Frame, TableKind, float_cell};

#[derive(Debug, Args)]
pub struct IncidenceArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Column of each patient's number of events (0/1, or a count).
    #[arg(long, value_name = "COL")]
    events: String,
    /// Column of each patient's person-time (its unit is the unit of the rate, e.g. years).
    #[arg(long, value_name = "COL")]
    time: String,
    /// Rates in each stratum of these columns (comma-separated), e.g. age_band,sex,group.
    #[arg(long, value_name = "COLS", value_delimiter = ',')]
    group_by: Vec<String>,
    /// Rates per this many units of person-time.
    #[arg(long, default_value_t = 1000.0)]
    per: f64,
    /// The interval of each rate.
    #[arg(long, value_enum, default_value_t = PoissonCi::Exact)]
    ci: PoissonCi,
    /// Rate ratio and rate difference of level A against level B of column COL (in each
    /// stratum of the other `--group-by` columns).
    #[arg(long, value_name = "COL=A:B")]
    compare: Option<String>,
    /// Directly standardise the rates over this column (e.g. age_band) to `--standard`.
    #[arg(long, value_name = "COL", requires = "standard")]
    standardize: Option<String>,
    /// The standard population: a CSV or Parquet file with the `--standardize` column and a
    /// `population` column (counts or weights; only their proportions matter).
    #[arg(long, value_name = "FILE", requires = "standardize", value_parser = NamedFile::parse)]
    pub(crate) standard: Option<NamedFile>,
    #[command(flatten)]
    output: OutputArgs,
}

/// `--compare COL=A:B`.
#[derive(Debug, Clone)]
struct CompareSpec {
    column: String,
    a: String,
    b: String,
}

impl CompareSpec {
    fn parse(text: &str) -> Result<CompareSpec> {
        let parsed = text.split_once('=').and_then(|(column, levels)| {
            let (a, b) = levels.split_once(':')?;
            Some(CompareSpec { column: column.trim().to_string(), a: a.to_string(), b: b.to_string() })
        });
        match parsed {
            Some(spec) if !spec.column.is_empty() && !spec.a.is_empty() && !spec.b.is_empty() && spec.a != spec.b => {
                Ok(spec)
            }
            _ => Err(bad_input!(
                "--compare `{text}`: expected COL=A:B, two different levels of one column, e.g. group=drug:comparator"
            )),
        }
    }
}

#[derive(Debug, Serialize)]
struct RateRow {
    /// The row's level of each `--group-by` column.
    #[serde(rename = "group")]
    by: Map<String, Value>,
    patients: u64,
    events: u64,
    person_time: f64,
    rate: f64,
    rate_lo: f64,
    rate_hi: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    standardized: Option<Standardized>,
}

#[derive(Debug, Serialize)]
struct ComparisonRow {
    #[serde(rename = "group")]
    by: Map<String, Value>,
    column: String,
    a: String,
    b: String,
    #[serde(flatten)]
    result: Comparison,
    ratio_ci: &'static str,
    difference_ci: &'static str,
}

#[derive(Debug, Serialize)]
struct Report {
    per: f64,
    /// The `--group-by` columns, named as the option names them.
    #[serde(rename = "group_by")]
    by: Vec<String>,
    ci: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    standardized_over: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    standardized_ci: Option<&'static str>,
    rows: Vec<RateRow>,
    total: RateRow,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    comparisons: Vec<ComparisonRow>,
}

pub fn run(global: &Global, args: IncidenceArgs) -> Result<()> {
    args.output.check()?;
    Source::from_args(&args.input).run(global, "stats incidence", |input| analyse(global, &args, input))
}

fn analyse(global: &Global, args: &IncidenceArgs, input: &Resolved) -> Result<()> {
    if !(args.per.is_finite() && args.per > 0.0) {
        return Err(bad_input!("--per {}: give a positive number of person-time units, e.g. 1000", args.per));
    }
    let compare = args.compare.as_deref().map(CompareSpec::parse).transpose()?;
    // The strata reported: --group-by, plus the compared column if --group-by lacks it.
    let mut by = args.group_by.clone();
    if let Some(c) = &compare
        && !by.contains(&c.column)
    {
        by.push(c.column.clone());
    }
    if let Some(s) = &args.standardize
        && by.contains(s)
    {
        return Err(bad_input!(
            "--standardize {s}: `{s}` is also a stratum (--group-by or --compare); standardising over a column averages over it, so leave it out of the strata"
        ));
    }
    // The strata tallied: the reported ones, then the standardisation column.
    let fine: Vec<String> = by.iter().cloned().chain(args.standardize.clone()).collect();

    let out = args.output.target(input, "incidence")?;
    let started = Instant::now();
    let mut columns = vec![args.events.as_str(), args.time.as_str()];
    columns.extend(fine.iter().map(String::as_str));
    let frame = input.read(&columns)?;
    let events = input::counts(&frame, &args.events)?;
    let person_time = input::times(&frame, &args.time)?;
    let categories: Vec<Categories> = fine.iter().map(|c| frame.categories(c)).collect::<Result<_>>()?;
    let standard = match (&args.standardize, &args.standard) {
        (Some(column), Some(file)) => {
            Some(StandardPopulation::read(file, column, categories.last().expect("standardisation column"))?)
        }
        _ => None,
    };
    let read = started.elapsed();
    let strata = Strata::cross(&categories.iter().collect::<Vec<_>>(), frame.rows());
    let tallies = incidence::tally(&events, &person_time, &strata.codes, strata.len());
    let mut rows = Vec::new();
    for (key, members) in group_by_prefix(&strata.keys, by.len()) {
        let crude = incidence::total(&members.iter().map(|&s| tallies[s]).collect::<Vec<_>>());
        let standardized = match &standard {
            Some(standard) => Some(standard.apply(&key, &by, &members, &strata, &tallies, args.per)?),
            None => None,
        };
        rows.push(rate_row(labels(&by, &key), &crude, args.per, args.ci, standardized));
    }
    let total = rate_row(Map::new(), &incidence::total(&tallies), args.per, args.ci, None);

    let comparisons = match &compare {
        Some(spec) => compare_levels(spec, &by, &rows, &categories, &fine, args.per)?,
        None => Vec::new(),
    };
    timing(global.quiet, frame.rows(), read, started.elapsed() - read);
    let report = Report {
        per: args.per,
        by: by.clone(),
        ci: args.ci.name(),
        standardized_over: args.standardize.clone(),
        standardized_ci: args.standardize.as_ref().map(|_| incidence::STANDARDIZED_CI),
        rows,
        total,
        comparisons,
    };
    args.output.print(&report, &render(&report, &args.time));
    if let Some(out) = &out {
        let writer = Writer { params: params(args), quiet: global.quiet };
        writer.write(out, &rate_table(&report), TableKind::Statistics)?;
        if !report.comparisons.is_empty() {
            writer.write(&out.sibling("compare"), &comparison_table(&report), TableKind::Statistics)?;
        }
    }
    Ok(())
}

/// Strata whose keys share their first `len` labels, in order: (shared labels, member strata).
fn group_by_prefix(keys: &[Vec<String>], len: usize) -> Vec<(Vec<String>, Vec<usize>)> {
    let mut groups: Vec<(Vec<String>, Vec<usize>)> = Vec::new();
    for (s, key) in keys.iter().enumerate() {
        let prefix = &key[..len];
        match groups.last_mut() {
            Some((last, members)) if last.as_slice() == prefix => members.push(s),
            _ => groups.push((prefix.to_vec(), vec![s])),
        }
    }
    groups
}

fn labels(columns: &[String], key: &[String]) -> Map<String, Value> {
    columns.iter().zip(key).map(|(c, l)| (c.clone(), Value::String(l.clone()))).collect()
}

fn rate_row(
    by: Map<String, Value>,
    tally: &Tally,
    per: f64,
    ci: PoissonCi,
    standardized: Option<Standardized>,
) -> RateRow {
    let r = tally.rate(per, ci);
    RateRow {
        by,
        patients: tally.patients,
        events: tally.events,
        person_time: tally.person_time,
        rate: r.rate,
        rate_lo: r.lo,
        rate_hi: r.hi,
        standardized,
    }
}

/// A standard population aligned with the levels of the data's standardisation column.
struct StandardPopulation {
    column: String,
    path: PathBuf,
    labels: Vec<String>,
    population: Vec<f64>,
}

impl StandardPopulation {
    /// The standard population of `file`, read (like every file named on a statistics command) by
    /// `cli::main` with the rights of the person who named it.
    fn read(file: &NamedFile, column: &str, data: &Categories) -> Result<StandardPopulation> {
        let path = file.path();
        if file.bytes().is_empty() {
            return Err(bad_input!(
                "{}: the file is empty (0 bytes); give a table with a header row and data",
                path.display()
            ));
        }
        let frame = Frame::read_columns_of(file.bytes(), path, &[column, "population"])?;
        if frame.rows() == 0 {
            return Err(bad_input!(
                "{}: the table has no rows (a header only); give the standard population",
                path.display()
            ));
        }
        let levels = frame.categories(column)?;
        let population = input::numbers(&frame, "population")?;
        if let Some(row) = population.iter().position(|&p| p < 0.0) {
            return Err(frame.bad_row("population", row, "negative population"));
        }
        let mut seen = vec![false; levels.levels()];
        for (row, &code) in levels.codes.iter().enumerate() {
            if std::mem::replace(&mut seen[code as usize], true) {
                return Err(frame.bad_row(
                    column,
                    row,
                    &format!("level `{}` appears twice", levels.labels[code as usize]),
                ));
            }
        }
        let mut by_level = vec![0.0; levels.levels()];
        for (&code, &p) in levels.codes.iter().zip(&population) {
            by_level[code as usize] = p;
        }
        if by_level.iter().sum::<f64>() <= 0.0 {
            return Err(bad_input!("{}: the standard population is all zero", path.display()));
        }
        if let Some(missing) = data.labels.iter().find(|l| levels.code_of(l).is_none()) {
            return Err(bad_input!(
                "{}: `{column}` level `{missing}` is in the data but not in the standard population; its levels are: {}",
                path.display(),
                levels.labels.join(", ")
            ));
        }
        Ok(StandardPopulation {
            column: column.to_string(),
            path: path.to_path_buf(),
            labels: levels.labels,
            population: by_level,
        })
    }

    /// The standardised rate of one reported stratum (`key` over `by`), whose member strata end
    /// in the standardisation column's level.
    fn apply(
        &self,
        key: &[String],
        by: &[String],
        members: &[usize],
        strata: &Strata,
        tallies: &[Tally],
        per: f64,
    ) -> Result<Standardized> {
        let mut aligned = vec![Tally::default(); self.labels.len()];
        for &s in members {
            let level = strata.keys[s].last().expect("standardisation level");
            let index = self
                .labels
                .iter()
                .position(|l| l == level)
                .expect("every data level is in the standard (checked on reading)");
            aligned[index] = tallies[s];
        }
        incidence::standardized(&aligned, &self.population, per).map_err(|i| {
            let stratum: Vec<String> = by.iter().zip(key).map(|(c, l)| format!("{c} = {l}")).collect();
            let within = if stratum.is_empty() { String::new() } else { format!(" in stratum {}", stratum.join(", ")) };
            bad_input!(
                "{}: `{}` level `{}` has standard population but no person-time{within}, so the standardised rate is undefined; \
                 remove the level from the standard population or merge it with a neighbour",
                self.path.display(),
                self.column,
                self.labels[i]
            )
        })
    }
}

/// Rate ratio and difference of level A against B in each stratum of the other reported columns.
fn compare_levels(
    spec: &CompareSpec,
    by: &[String],
    rows: &[RateRow],
    categories: &[Categories],
    fine: &[String],
    per: f64,
) -> Result<Vec<ComparisonRow>> {
    let position = fine.iter().position(|c| c == &spec.column).expect("the compared column is a stratum");
    for level in [&spec.a, &spec.b] {
        if categories[position].code_of(level).is_none() {
            return Err(bad_input!(
                "--compare: column `{}` has no level `{level}`; its levels are: {}",
                spec.column,
                categories[position].labels.join(", ")
            ));
        }
    }
    let others: Vec<&String> = by.iter().filter(|c| *c != &spec.column).collect();
    let rest_of = |row: &RateRow| -> Map<String, Value> {
        others.iter().map(|c| ((*c).clone(), row.by[c.as_str()].clone())).collect()
    };
    let level_of = |row: &RateRow| row.by[spec.column.as_str()].as_str().unwrap_or_default().to_string();
    let mut seen: Vec<Map<String, Value>> = Vec::new();
    for row in rows {
        let rest = rest_of(row);
        if !seen.contains(&rest) {
            seen.push(rest);
        }
    }
    let find = |rest: &Map<String, Value>, level: &str| {
        rows.iter().find(|r| &rest_of(r) == rest && level_of(r) == level).map(row_tally).unwrap_or_default()
    };
    Ok(seen
        .into_iter()
        .map(|rest| {
            let (a, b) = (find(&rest, &spec.a), find(&rest, &spec.b));
            ComparisonRow {
                by: rest,
                column: spec.column.clone(),
                a: spec.a.clone(),
                b: spec.b.clone(),
                result: incidence::compare(&a, &b, per),
                ratio_ci: incidence::RATIO_CI,
                difference_ci: incidence::DIFFERENCE_CI,
            }
        })
        .collect())
}

fn row_tally(row: &RateRow) -> Tally {
    Tally { patients: row.patients, events: row.events, person_time: row.person_time }
}

fn render(report: &Report, time_column: &str) -> String {
    let mut header: Vec<&str> = report.by.iter().map(String::as_str).collect();
    header.extend(["patients", "events", "person_time", "rate", "95% CI"]);
    if report.standardized_over.is_some() {
        header.extend(["std_rate", "std 95% CI"]);
    }
    let mut rows: Vec<Vec<String>> = report.rows.iter().map(|r| text_row(report, r)).collect();
    if !report.by.is_empty() {
        let mut total = text_row(report, &report.total);
        total[0] = "total".to_string();
        rows.push(total);
    }
    let mut out = format!(
        "Incidence per {} units of person-time (`{time_column}`); {} 95% intervals\n",
        human(report.per),
        report.ci
    );
    if let (Some(column), Some(ci)) = (&report.standardized_over, report.standardized_ci) {
        out.push_str(&format!("Directly standardised over `{column}`; {ci} intervals\n"));
    }
    out.push_str(&text_table(&header, &rows, report.by.len()));
    for c in &report.comparisons {
        let within: Vec<String> =
            c.by.iter().map(|(k, v)| format!("{k} = {}", v.as_str().unwrap_or_default())).collect();
        let within = if within.is_empty() { String::new() } else { format!(" ({})", within.join(", ")) };
        out.push_str(&format!(
            "\n{} {} vs {}{within}:\n  rate ratio {} (95% CI {} to {}; {})\n  rate difference {} per {} (95% CI {} to {}; {})\n",
            c.column,
            c.a,
            c.b,
            human(c.result.rate_ratio),
            human(c.result.ratio_lo),
            human(c.result.ratio_hi),
            c.ratio_ci,
            human(c.result.rate_difference),
            human(report.per),
            human(c.result.difference_lo),
            human(c.result.difference_hi),
            c.difference_ci,
        ));
    }
    out
}

fn text_row(report: &Report, r: &RateRow) -> Vec<String> {
    let mut row: Vec<String> =
        report.by.iter().map(|c| r.by.get(c).and_then(Value::as_str).unwrap_or("").to_string()).collect();
    row.extend([
        r.patients.to_string(),
        r.events.to_string(),
        human(r.person_time),
        human(r.rate),
        format!("{} to {}", human(r.rate_lo), human(r.rate_hi)),
    ]);
    if let Some(s) = &r.standardized {
        row.extend([human(s.rate), format!("{} to {}", human(s.lo), human(s.hi))]);
    }
    row
}

fn rate_table(report: &Report) -> CsvTable {
    let mut columns: Vec<(&str, ColumnRole)> = report.by.iter().map(|c| (c.as_str(), grouping_role(c))).collect();
    columns.extend([
        ("patients", ColumnRole::PersonCount),
        ("events", ColumnRole::EventCount),
        ("person_time", ColumnRole::PersonTime),
        ("rate", ColumnRole::Rate),
        ("rate_lo", ColumnRole::IntervalBound),
        ("rate_hi", ColumnRole::IntervalBound),
    ]);
    if report.standardized_over.is_some() {
        columns.extend([
            ("std_rate", ColumnRole::Rate),
            ("std_rate_lo", ColumnRole::IntervalBound),
            ("std_rate_hi", ColumnRole::IntervalBound),
        ]);
    }
    let mut table = CsvTable::new(&columns);
    let rows = if report.by.is_empty() { std::slice::from_ref(&report.total) } else { &report.rows[..] };
    for r in rows {
        let mut cells: Vec<String> =
            report.by.iter().map(|c| r.by.get(c).and_then(Value::as_str).unwrap_or("").to_string()).collect();
        cells.extend([
            r.patients.to_string(),
            r.events.to_string(),
            float_cell(r.person_time),
            float_cell(r.rate),
            float_cell(r.rate_lo),
            float_cell(r.rate_hi),
        ]);
        if let Some(s) = &r.standardized {
            cells.extend([float_cell(s.rate), float_cell(s.lo), float_cell(s.hi)]);
        }
        table.push(cells);
    }
    table
}

fn comparison_table(report: &Report) -> CsvTable {
    let others: Vec<&str> =
        report.comparisons.first().map(|c| c.by.keys().map(String::as_str).collect()).unwrap_or_default();
    let mut columns: Vec<(&str, ColumnRole)> = others.iter().map(|c| (*c, grouping_role(c))).collect();
    columns.extend([
        ("column", ColumnRole::Label),
        ("a", ColumnRole::Label),
        ("b", ColumnRole::Label),
        ("rate_ratio", ColumnRole::Ratio),
        ("ratio_lo", ColumnRole::IntervalBound),
        ("ratio_hi", ColumnRole::IntervalBound),
        ("ratio_ci", ColumnRole::Label),
        ("rate_difference", ColumnRole::Estimate),
        ("difference_lo", ColumnRole::IntervalBound),
        ("difference_hi", ColumnRole::IntervalBound),
        ("difference_ci", ColumnRole::Label),
    ]);
    let mut table = CsvTable::new(&columns);
    for c in &report.comparisons {
        let mut cells: Vec<String> = others.iter().map(|k| c.by[*k].as_str().unwrap_or("").to_string()).collect();
        let r = &c.result;
        cells.extend([
            c.column.clone(),
            c.a.clone(),
            c.b.clone(),
            float_cell(r.rate_ratio),
            float_cell(r.ratio_lo),
            float_cell(r.ratio_hi),
            c.ratio_ci.to_string(),
            float_cell(r.rate_difference),
            float_cell(r.difference_lo),
            float_cell(r.difference_hi),
            c.difference_ci.to_string(),
        ]);
        table.push(cells);
    }
    table
}

fn params(args: &IncidenceArgs) -> Vec<(&'static str, String)> {
    let mut p = vec![
        ("events", args.events.clone()),
        ("time", args.time.clone()),
        ("per", args.per.to_string()),
        ("ci", args.ci.name().to_string()),
    ];
    if !args.group_by.is_empty() {
        p.push(("group_by", args.group_by.join(",")));
    }
    if let Some(c) = &args.compare {
        p.push(("compare", c.clone()));
    }
    if let (Some(s), Some(f)) = (&args.standardize, &args.standard) {
        p.push(("standardize", s.clone()));
        p.push(("standard", f.path().display().to_string()));
    }
    p
}
