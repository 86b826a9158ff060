//! `midnet stats km`: Kaplan-Meier curves per group, read at chosen times or in full, the
//! log-rank test between groups, and the cumulative incidence of the event when deaths compete.

use std::time::Instant;

use clap::Args;
use serde::Serialize;

use crate::bad_input;
use crate::cli::Global;
use crate::cli::stats::input::{self, InputArgs, Resolved, Source};
use crate::cli::stats::output::{OutputArgs, Writer, human, human_p, timing};
use crate::cli::terminal::text_table;
use crate::error::Result;
use crate::export::Rules;
use crate::schema::ColumnRole;
use crate::stats::cuminc::{self, statuses};
use crate::stats::logrank::{self, LogRank};
use crate::stats::{Status, Timeline, individual, km};
use crate::table::{Categories, CsvTable, TableKind, float_cell};

#[derive(Debug, Args)]
pub struct KmArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Column of follow-up time (≥ 0).
    #[arg(long, value_name = "COL")]
    time: String,
    /// Column that is 1 when the event ended follow-up and 0 when it was censored.
    #[arg(long, value_name = "COL")]
    event: String,
    /// One curve per level of this column, and the log-rank test between them.
    #[arg(long, value_name = "COL")]
    group: Option<String>,
    /// Read the curves at these times (comma-separated), e.g. 30,90,365.
    #[arg(long, value_name = "TIMES", value_delimiter = ',')]
    at: Vec<f64>,
    /// Column that is 1 when death ended follow-up: death is then a competing risk, and the
    /// cumulative incidence of the event (Aalen-Johansen) is reported beside the curve.
    #[arg(long, value_name = "COL")]
    death: Option<String>,
    #[command(flatten)]
    output: OutputArgs,
}

/// The curve at one time.
#[derive(Debug, Serialize)]
struct AtRow {
    time: f64,
    survival: f64,
    se: f64,
    lo: f64,
    hi: f64,
    n_at_risk: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    cuminc: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cuminc_se: Option<f64>,
}

/// One step of the curve.
#[derive(Debug, Serialize)]
struct StepRow {
    time: f64,
    n_at_risk: u64,
    events: u64,
    censored: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    deaths: Option<u64>,
    survival: f64,
    se: f64,
    lo: f64,
    hi: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    cuminc: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cuminc_se: Option<f64>,
}

#[derive(Debug, Serialize)]
struct GroupReport {
    group: String,
    n: u64,
    events: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    deaths: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    at: Option<Vec<AtRow>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    steps: Option<Vec<StepRow>>,
}

#[derive(Debug, Serialize)]
struct Report {
    groups: Vec<GroupReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    logrank: Option<LogRank>,
}

pub fn run(global: &Global, args: KmArgs) -> Result<()> {
    args.output.check()?;
    Source::from_args(&args.input).run(global, "stats km", |input| analyse(global, &args, input))
}

fn analyse(global: &Global, args: &KmArgs, input: &Resolved) -> Result<()> {
    if let Some(t) = args.at.iter().find(|t| !(t.is_finite() && **t >= 0.0)) {
        return Err(bad_input!("--at {t}: times to read the curve at must be numbers ≥ 0"));
    }
    let out = args.output.target(input, "km")?;
    let started = Instant::now();
    let mut columns = vec![args.time.as_str(), args.event.as_str()];
    columns.extend(args.group.as_deref());
    columns.extend(args.death.as_deref());
    let frame = input.read(&columns)?;
    let time = input::times(&frame, &args.time)?;
    let event = input::flags(&frame, &args.event)?;
    let status: Vec<Status> = match &args.death {
        Some(death_column) => {
            let death = input::flags(&frame, death_column)?;
            statuses(&event, &death).map_err(|bad| frame.bad_row(death_column, bad.row, &bad.what))?
        }
        None => event.iter().map(|&e| Status::of_event(e)).collect(),
    };
    let groups = match &args.group {
        Some(column) => frame.categories(column)?,
        None => Categories::single("all", frame.rows()),
    };
    let read = started.elapsed();
    let lines = Timeline::grouped(&time, &status, Some(&groups.codes), groups.levels());
    let competing = args.death.is_some();
    let min_count = u64::from(
        match input.project {
            Some(dataset) => Rules::of_home(dataset.actor().home().root())?,
            None => Rules::default(),
        }
        .min_count,
    );
    let report = Report {
        groups: lines
            .iter()
            .zip(&groups.labels)
            .map(|(line, label)| group_report(line, label, &args.at, competing, min_count))
            .collect(),
        logrank: if lines.len() > 1 { Some(logrank::from_timelines(&lines, &groups.labels)?) } else { None },
    };
    timing(global.quiet, frame.rows(), read, started.elapsed() - read);
    args.output.print(&report, &render(&report, args));
    if let Some(out) = &out {
        let writer = Writer { params: params(args), quiet: global.quiet };
        let kind = if args.at.is_empty() { TableKind::FigureData } else { TableKind::Statistics };
        writer.write(out, &curve_table(&report, competing), kind)?;
        if let Some(test) = &report.logrank {
            writer.write(&out.sibling("logrank"), &logrank_table(test), TableKind::Statistics)?;
        }
    }
    Ok(())
}

/// A group's curve read at `at`, or in full: from a row at time 0 with everyone at risk, the steps
/// with at least `min_count` people on each side of their time (see [`individual`]); the value of
/// the curve at a step shown includes the steps left out before it.
fn group_report(line: &Timeline, label: &str, at: &[f64], competing: bool, min_count: u64) -> GroupReport {
    let curve = km::Curve::from_timeline(line);
    let incidence = competing.then(|| cuminc::Curve::from_timeline(line));
    let (at_rows, steps) = if at.is_empty() {
        let origin = StepRow {
            time: 0.0,
            n_at_risk: curve.n,
            events: 0,
            censored: 0,
            deaths: competing.then_some(0),
            survival: 1.0,
            se: 0.0,
            lo: 1.0,
            hi: 1.0,
            cuminc: competing.then_some(0.0),
            cuminc_se: competing.then_some(0.0),
        };
        let shown = curve.steps.iter().enumerate().filter(|(_, s)| {
            individual::step_shown(curve.n, s.n_at_risk, s.events + s.censored, min_count) && s.time > 0.0
        });
        let steps = std::iter::once(origin)
            .chain(shown.map(|(i, s)| {
                let ci = incidence.as_ref().map(|c| &c.steps[i]);
                StepRow {
                    time: s.time,
                    n_at_risk: s.n_at_risk,
                    events: s.events,
                    censored: ci.map_or(s.censored, |c| c.censored),
                    deaths: ci.map(|c| c.competing),
                    survival: s.survival,
                    se: s.se,
                    lo: s.lo,
                    hi: s.hi,
                    cuminc: ci.map(|c| c.cuminc),
                    cuminc_se: ci.map(|c| c.se),
                }
            }))
            .collect();
        (None, Some(steps))
    } else {
        let rows = at
            .iter()
            .map(|&t| {
                let p = curve.at(t);
                let c = incidence.as_ref().map(|c| c.at(t));
                AtRow {
                    time: t,
                    survival: p.survival,
                    se: p.se,
                    lo: p.lo,
                    hi: p.hi,
                    n_at_risk: p.n_at_risk,
                    cuminc: c.as_ref().map(|c| c.cuminc),
                    cuminc_se: c.as_ref().map(|c| c.se),
                }
            })
            .collect();
        (Some(rows), None)
    };
    GroupReport {
        group: label.to_string(),
        n: curve.n,
        events: curve.events,
        deaths: competing.then(|| line.total_competing()),
        at: at_rows,
        steps,
    }
}

fn render(report: &Report, args: &KmArgs) -> String {
    let competing = args.death.is_some();
    let mut out = String::from("Kaplan-Meier survival with Greenwood SE and log-log 95% CI");
    if competing {
        out.push_str("; cumulative incidence with death as a competing risk (Aalen-Johansen)");
    }
    out.push('\n');
    for g in &report.groups {
        let deaths = g.deaths.map_or(String::new(), |d| format!(", {d} deaths"));
        out.push_str(&format!(
            "\n{} = {}: {} patients, {} events{deaths}\n",
            args.group.as_deref().unwrap_or("group"),
            g.group,
            g.n,
            g.events
        ));
        let mut header = vec!["time", "n_at_risk"];
        let rows: Vec<Vec<String>> = if let Some(at) = &g.at {
            header.extend(["survival", "se", "95% CI"]);
            at.iter()
                .map(|r| {
                    let mut row = vec![
                        human(r.time),
                        r.n_at_risk.to_string(),
                        human(r.survival),
                        human(r.se),
                        interval(r.lo, r.hi),
                    ];
                    row.extend(r.cuminc.iter().map(|&c| human(c)));
                    row
                })
                .collect()
        } else {
            header.extend(["events", "survival", "se", "95% CI"]);
            // For people, the classic table: the times with events.
            g.steps
                .iter()
                .flatten()
                .filter(|s| s.events > 0)
                .map(|s| {
                    let mut row = vec![
                        human(s.time),
                        s.n_at_risk.to_string(),
                        s.events.to_string(),
                        human(s.survival),
                        human(s.se),
                        interval(s.lo, s.hi),
                    ];
                    row.extend(s.cuminc.iter().map(|&c| human(c)));
                    row
                })
                .collect()
        };
        if competing {
            header.push("cuminc");
        }
        out.push_str(&text_table(&header, &rows, 0));
    }
    if let Some(test) = &report.logrank {
        out.push_str(&format!(
            "\nlog-rank test: chi2 = {} on {} df, p = {}\n",
            human(test.chi2),
            test.df,
            human_p(test.p)
        ));
    }
    out
}

fn interval(lo: f64, hi: f64) -> String {
    format!("{} to {}", human(lo), human(hi))
}

fn curve_table(report: &Report, competing: bool) -> CsvTable {
    let steps = report.groups.iter().any(|g| g.steps.is_some());
    // The times of steps are people's event and censoring times; times given with --at are not.
    let time_role = if steps { ColumnRole::EventTime } else { ColumnRole::Time };
    let mut columns = vec![("group", ColumnRole::Label), ("time", time_role), ("n_at_risk", ColumnRole::AtRisk)];
    if steps {
        columns.extend([("events", ColumnRole::EventCount), ("censored", ColumnRole::PersonCount)]);
        if competing {
            columns.push(("deaths", ColumnRole::EventCount));
        }
    }
    columns.extend([
        ("survival", ColumnRole::Proportion),
        ("se", ColumnRole::Estimate),
        ("lo", ColumnRole::IntervalBound),
        ("hi", ColumnRole::IntervalBound),
    ]);
    if competing {
        columns.extend([("cuminc", ColumnRole::Proportion), ("cuminc_se", ColumnRole::Estimate)]);
    }
    let mut table = CsvTable::new(&columns);
    for g in &report.groups {
        for s in g.steps.iter().flatten() {
            let mut row = vec![
                g.group.clone(),
                float_cell(s.time),
                s.n_at_risk.to_string(),
                s.events.to_string(),
                s.censored.to_string(),
            ];
            row.extend(s.deaths.map(|d| d.to_string()));
            row.extend([float_cell(s.survival), float_cell(s.se), float_cell(s.lo), float_cell(s.hi)]);
            row.extend([s.cuminc, s.cuminc_se].into_iter().flatten().map(float_cell));
            table.push(row);
        }
        for r in g.at.iter().flatten() {
            let mut row = vec![g.group.clone(), float_cell(r.time), r.n_at_risk.to_string()];
            row.extend([float_cell(r.survival), float_cell(r.se), float_cell(r.lo), float_cell(r.hi)]);
            row.extend([r.cuminc, r.cuminc_se].into_iter().flatten().map(float_cell));
            table.push(row);
        }
    }
    table
}

fn logrank_table(test: &LogRank) -> CsvTable {
    let mut table = CsvTable::new(&[
        ("group", ColumnRole::Label),
        ("n", ColumnRole::PersonCount),
        ("observed", ColumnRole::EventCount),
        ("expected", ColumnRole::Estimate),
        ("chi2", ColumnRole::Estimate),
        ("df", ColumnRole::Other),
        ("p", ColumnRole::PValue),
    ]);
    for g in &test.groups {
        table.push(vec![
            g.group.clone(),
            g.n.to_string(),
            g.observed.to_string(),
            float_cell(g.expected),
            float_cell(test.chi2),
            test.df.to_string(),
            float_cell(test.p),
        ]);
    }
    table
}

fn params(args: &KmArgs) -> Vec<(&'static str, String)> {
    let mut p = vec![("time", args.time.clone()), ("event", args.event.clone())];
    p.extend(args.group.clone().map(|g| ("group", g)));
    p.extend(args.death.clone().map(|d| ("death", d)));
    if !args.at.is_empty() {
        p.push(("at", args.at.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(",")));
    }
    p
}
