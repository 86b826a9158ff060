//! `midnet stats cox`: Cox regression on the columns of a file.

use std::time::Instant;

use clap::Args;
use duckdb::arrow::datatypes::DataType;
use serde::Serialize;

use crate::bad_input;
use crate::cli::Global;
use crate::cli::stats::input::{self, InputArgs, Resolved, Source};
use crate::cli::stats::output::{OutputArgs, Writer, human, human_p, timing};
use crate::cli::terminal::text_table;
use crate::error::Result;
use crate::schema::ColumnRole;
use crate::stats::cox::{self, Coefficient, CoxInput, CoxOptions, Term, Ties};
use crate::table::{CsvTable, Frame, TableKind, float_cell};

#[derive(Debug, Args)]
pub struct CoxArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Column of follow-up time (≥ 0).
    #[arg(long, value_name = "COL")]
    time: String,
    /// Column that is 1 when the event ended follow-up and 0 when it was censored.
    #[arg(long, value_name = "COL")]
    event: String,
    /// The covariate columns, comma-separated. A text column is categorical (one indicator per level
    /// against a reference level); `COL^2` is the square of a numeric column.
    #[arg(long, value_name = "COLS", value_delimiter = ',', required = true)]
    covariates: Vec<String>,
    /// Reference levels of categorical covariates, e.g. group=comparator,sex=F (default: the
    /// first level in sorted order). Naming a numeric column here makes it categorical.
    #[arg(long, value_name = "COL=LEVEL", value_delimiter = ',')]
    reference: Vec<String>,
    /// How tied event times are handled.
    #[arg(long, value_enum, default_value_t = Ties::Efron)]
    ties: Ties,
    /// A separate baseline hazard for each level of this column (e.g. the site pseudonym).
    #[arg(long, value_name = "COL")]
    strata: Option<String>,
    #[command(flatten)]
    output: OutputArgs,
}

/// One entry of `--covariates`: a column, raised to a power.
#[derive(Debug, Clone, PartialEq)]
struct TermSpec {
    column: String,
    power: i32,
}

impl TermSpec {
    fn parse(text: &str) -> Result<TermSpec> {
        let text = text.trim();
        match text.split_once('^') {
            None if !text.is_empty() => Ok(TermSpec { column: text.to_string(), power: 1 }),
            Some((column, power)) if !column.is_empty() => match power.parse::<i32>() {
                Ok(k) if k >= 2 => Ok(TermSpec { column: column.to_string(), power: k }),
                _ => Err(bad_input!("--covariates `{text}`: the power after ^ must be a whole number ≥ 2, e.g. age^2")),
            },
            _ => Err(bad_input!("--covariates: empty covariate name in the list")),
        }
    }

    fn name(&self) -> String {
        if self.power == 1 { self.column.clone() } else { format!("{}^{}", self.column, self.power) }
    }
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    n: u64,
    events: u64,
    loglik: f64,
    loglik_null: f64,
    ties: Ties,
    #[serde(rename = "strata")]
    strata_column: Option<&'a str>,
    #[serde(rename = "n_strata")]
    strata: usize,
    iterations: usize,
    covariates: &'a [Coefficient],
}

pub fn run(global: &Global, args: CoxArgs) -> Result<()> {
    args.output.check()?;
    Source::from_args(&args.input).run(global, "stats cox", |input| analyse(global, &args, input))
}

fn analyse(global: &Global, args: &CoxArgs, input: &Resolved) -> Result<()> {
    let specs: Vec<TermSpec> = args.covariates.iter().map(|c| TermSpec::parse(c)).collect::<Result<_>>()?;
    let references = parse_references(&args.reference, &specs)?;
    let out = args.output.target(input, "cox")?;
    let started = Instant::now();
    let mut columns = vec![args.time.as_str(), args.event.as_str()];
    columns.extend(specs.iter().map(|s| s.column.as_str()));
    columns.extend(args.strata.as_deref());
    let frame = input.read(&columns)?;
    let time = input::times(&frame, &args.time)?;
    let event = input::flags(&frame, &args.event)?;
    let mut terms = Vec::new();
    for spec in &specs {
        terms.extend(terms_of(&frame, spec, &references, global.quiet)?);
    }
    let strata = args.strata.as_deref().map(|c| frame.categories(c)).transpose()?;
    let read = started.elapsed();
    let data =
        CoxInput { time: &time, event: &event, terms: &terms, strata: strata.as_ref().map(|s| s.codes.as_slice()) };
    let fit = cox::fit(&data, &CoxOptions { ties: args.ties, ..CoxOptions::default() })?;
    timing(global.quiet, frame.rows(), read, started.elapsed() - read);
    let report = Report {
        n: fit.n,
        events: fit.events,
        loglik: fit.loglik,
        loglik_null: fit.loglik_null,
        ties: fit.ties,
        strata_column: args.strata.as_deref(),
        strata: fit.strata,
        iterations: fit.iterations,
        covariates: &fit.coefficients,
    };
    args.output.print(&report, &render(&report));
    if let Some(out) = &out {
        let writer = Writer { params: params(args), quiet: global.quiet };
        writer.write(out, &table(&report), TableKind::Statistics)?;
    }
    Ok(())
}

/// `--reference COL=LEVEL,…` as (column, level), each column one of the covariates.
fn parse_references(entries: &[String], specs: &[TermSpec]) -> Result<Vec<(String, String)>> {
    entries
        .iter()
        .map(|entry| {
            let (column, level) = entry
                .split_once('=')
                .ok_or_else(|| bad_input!("--reference `{entry}`: expected COL=LEVEL, e.g. sex=F"))?;
            if !specs.iter().any(|s| s.column == column && s.power == 1) {
                return Err(bad_input!("--reference `{entry}`: `{column}` is not one of the covariates"));
            }
            Ok((column.to_string(), level.to_string()))
        })
        .collect()
}

/// The model terms of one covariate: itself (or a power), or the indicators of its levels.
fn terms_of(frame: &Frame, spec: &TermSpec, references: &[(String, String)], quiet: bool) -> Result<Vec<Term>> {
    let reference = references.iter().find(|(c, _)| c == &spec.column).map(|(_, level)| level.as_str());
    let data_type = frame.data_type(&spec.column)?;
    let numeric = data_type.is_numeric() || data_type == DataType::Boolean;
    if reference.is_none() && numeric {
        let values = input::numbers(frame, &spec.column)?;
        let values = if spec.power == 1 { values } else { values.iter().map(|v| v.powi(spec.power)).collect() };
        return Ok(vec![Term::numeric(spec.name(), values)]);
    }
    if spec.power != 1 {
        return Err(bad_input!("--covariates {}: `{}` is categorical, so it has no powers", spec.name(), spec.column));
    }
    let levels = frame.categories(&spec.column)?;
    let terms = Term::categorical(&spec.column, &levels, reference)?;
    if reference.is_none() && !quiet {
        eprintln!(
            "note: `{}` is categorical; its reference level is `{}` (choose another with --reference {}=LEVEL)",
            spec.column, levels.labels[0], spec.column
        );
    }
    Ok(terms)
}

fn render(report: &Report) -> String {
    let strata = match report.strata_column {
        Some(column) => format!(", stratified by {column} ({} strata)", report.strata),
        None => String::new(),
    };
    let mut out = format!(
        "Cox proportional hazards, {} ties{strata}\nn = {}, events = {}, log partial likelihood = {} (null model {}), {} iterations\n",
        report.ties.name(),
        report.n,
        report.events,
        human(report.loglik),
        human(report.loglik_null),
        report.iterations
    );
    let rows: Vec<Vec<String>> = report
        .covariates
        .iter()
        .map(|c| {
            let name = match &c.reference {
                Some(r) => format!("{} (vs {r})", c.name),
                None => c.name.clone(),
            };
            vec![
                name,
                human(c.coef),
                human(c.se),
                human(c.hr),
                format!("{} to {}", human(c.hr_lo), human(c.hr_hi)),
                human_p(c.p),
            ]
        })
        .collect();
    out.push_str(&text_table(&["covariate", "coef", "se", "HR", "95% CI", "p"], &rows, 1));
    out
}

fn table(report: &Report) -> CsvTable {
    let mut table = CsvTable::new(&[
        ("covariate", ColumnRole::Label),
        ("reference", ColumnRole::Label),
        ("coef", ColumnRole::Estimate),
        ("se", ColumnRole::Estimate),
        ("hr", ColumnRole::Ratio),
        ("hr_lo", ColumnRole::IntervalBound),
        ("hr_hi", ColumnRole::IntervalBound),
        ("p", ColumnRole::PValue),
        ("n", ColumnRole::PersonCount),
        ("events", ColumnRole::EventCount),
    ]);
    for c in report.covariates {
        table.push(vec![
            c.name.clone(),
            c.reference.clone().unwrap_or_default(),
            float_cell(c.coef),
            float_cell(c.se),
            float_cell(c.hr),
            float_cell(c.hr_lo),
            float_cell(c.hr_hi),
            float_cell(c.p),
            report.n.to_string(),
            report.events.to_string(),
        ]);
    }
    table
}

fn params(args: &CoxArgs) -> Vec<(&'static str, String)> {
    let mut p = vec![
        ("time", args.time.clone()),
        ("event", args.event.clone()),
        ("covariates", args.covariates.join(",")),
        ("ties", args.ties.name().to_string()),
    ];
    if !args.reference.is_empty() {
        p.push(("reference", args.reference.join(",")));
    }
    p.extend(args.strata.clone().map(|s| ("strata", s)));
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn term_specs() {
        assert_eq!(TermSpec::parse("age").unwrap(), TermSpec { column: "age".into(), power: 1 });
        assert_eq!(TermSpec::parse("age^2").unwrap().name(), "age^2");
        assert!(TermSpec::parse("age^1").is_err());
        assert!(TermSpec::parse("^2").is_err());
    }
}
