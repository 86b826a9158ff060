//! `midnet protocol script | run | history | report`.

use std::fmt::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::cli::Global;
use crate::cli::terminal::print_result;
use crate::error::{IoContext, Result};
use crate::project::Role;
use crate::protocol::analyses::{self, protocol_dir};
use crate::protocol::library::Library;
use crate::protocol::monitor::Monitoring;
use crate::protocol::plan::{self, RunOptions};
use crate::protocol::project_plan;
use crate::protocol::run::{self, RunReport};
use crate::protocol::surveillance::{self, PlanOptions, Timescale};
use crate::stats::sequential::Spending;

#[derive(Debug, Subcommand)]
pub enum ProtocolCommand {
    /// Write the protocol script (from the outcome library) for sites to approve.
    Script(ScriptArgs),
    /// Set the project's surveillance plan (looks, level, alpha spending) before its first analysis.
    Plan(PlanArgs),
    /// Extract across all sites and estimate every outcome: analysis K of the project.
    Run(RunArgs),
    /// Each outcome's hazard ratio across the project's analyses.
    History(HistoryArgs),
    /// Render the HTML report of an analysis again (into its directory in work/).
    Report(ReportArgs),
}

#[derive(Debug, Args)]
pub struct ScriptArgs {
    /// Where to write the script (stdout when not given).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The project, by its id (before its first `protocol run`; the plan is fixed from then on).
    #[arg(long, value_name = "ID")]
    pub project: String,
    /// The planned data cut-offs (YYYY-MM-DD), comma-separated, in increasing order.
    #[arg(long, value_name = "DATE,…", value_delimiter = ',', required = true)]
    pub looks: Vec<String>,
    /// The alpha-spending function (Lan-DeMets).
    #[arg(long, value_name = "FUNCTION", default_value = "obrien_fleming")]
    pub spending: Spending,
    /// The overall one-sided level of each outcome x subgroup over all looks.
    #[arg(long, value_name = "LEVEL", default_value_t = surveillance::DEFAULT_ALPHA)]
    pub alpha: f64,
    /// What alpha is spent over: `calendar` time (the same fraction for every test) or each test's
    /// `information` (needs --max-information).
    #[arg(long, value_name = "SCALE", default_value = "calendar")]
    pub timescale: Timescale,
    /// Over information: the information (1 / variance of the log HR; about events / 4 with groups
    /// of equal size) at which a test has spent all of alpha.
    #[arg(long, value_name = "I")]
    pub max_information: Option<f64>,
    /// The day data start to accrue (YYYY-MM-DD; the protocol's study start): calendar time's origin.
    #[arg(long, value_name = "DATE", default_value = surveillance::STUDY_START)]
    pub start: String,
    /// Print the plan as JSON: {"format", "looks", "alpha", "spending", "timescale", "max_information" (over
    /// information), "start", "overrun", "short_look", "set_by"}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The project, by its id (a signal-detection or signal-refinement project).
    #[arg(long, value_name = "ID")]
    pub project: String,
    /// YJ codes (or 4-, 7- or 9-character prefixes) of the monitored drug, comma-separated.
    #[arg(long, value_name = "YJ,…", value_delimiter = ',', required = true)]
    pub drug: Vec<String>,
    /// YJ codes (or prefixes) of the active comparator, comma-separated.
    #[arg(long, value_name = "YJ,…", value_delimiter = ',', required = true)]
    pub comparator: Vec<String>,
    /// The data cut-off date (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub cutoff: String,
    /// Signal refinement: the outcome ids to run (the project's purpose decides whether allowed).
    #[arg(long, value_name = "ID,…", value_delimiter = ',')]
    pub outcome_ids: Vec<String>,
    /// How many sites extract at the same time.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub jobs: usize,
    /// Reach the sites through their agents and `center serve` (as `extract --agents --wait`):
    /// the run waits until every site is done.
    #[arg(long)]
    pub agents: bool,
    /// With --agents: seconds between looks at the sites' states.
    #[arg(long, value_name = "SECONDS", default_value_t = 5, requires = "agents")]
    pub every: u64,
    /// Print the analysis as JSON: its number, cut-off, sites, and each outcome's estimates.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The project, by its id.
    #[arg(long, value_name = "ID")]
    pub project: String,
    /// Print the history as JSON: {"analyses", "rows": [{"outcome", "subgroup", "analyses", "flagged_unadjusted",
    /// "looks": [{"z", "information", "boundary", "alpha_spent", "crossed", "first_crossed", "flagged_sequential"}],
    /// "first_crossed", "flagged_sequential"}]}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The project, by its id.
    #[arg(long, value_name = "ID")]
    pub project: String,
    /// The analysis number (the latest when not given).
    #[arg(long, value_name = "K")]
    pub analysis: Option<u32>,
    /// Print where the report was written as JSON: {"report"}.
    #[arg(long)]
    pub json: bool,
}

pub fn run(global: &Global, command: ProtocolCommand) -> Result<()> {
    match command {
        ProtocolCommand::Script(args) => script(args),
        ProtocolCommand::Plan(args) => set_plan(global, args),
        ProtocolCommand::Run(args) => run_protocol(global, args),
        ProtocolCommand::History(args) => history(global, args),
        ProtocolCommand::Report(args) => report(global, args),
    }
}

fn script(args: ScriptArgs) -> Result<()> {
    let text = Library::builtin().script();
    match args.out {
        Some(path) => std::fs::write(&path, text).at(&path),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

fn set_plan(global: &Global, args: PlanArgs) -> Result<()> {
    let opts = PlanOptions {
        looks: args.looks.clone(),
        alpha: args.alpha,
        spending: args.spending,
        timescale: args.timescale,
        max_information: args.max_information,
        start: args.start.clone(),
    };
    let plan = crate::cli::as_user(global, "protocol plan", Some(&args.project), |actor| {
        project_plan::set(actor, &args.project, &opts)
    })?;
    print_result(args.json, &plan, |p| {
        format!(
            "surveillance plan of project {}: {} looks ({} to {}), one-sided level {} per outcome x subgroup, {} \
             spending over {}",
            args.project,
            p.looks.len(),
            p.looks[0],
            p.looks[p.looks.len() - 1],
            p.alpha,
            p.spending.name(),
            match p.max_information {
                Some(max) => format!("information up to {max} (the last planned look spends what is left)"),
                None => format!("calendar time from {}", p.start),
            }
        )
    })
}

fn run_protocol(global: &Global, args: RunArgs) -> Result<()> {
    let opts = RunOptions {
        drug: args.drug.clone(),
        comparator: args.comparator.clone(),
        cutoff: args.cutoff.clone(),
        outcomes: args.outcome_ids.clone(),
        jobs: args.jobs,
        agents: args.agents.then(|| std::time::Duration::from_secs(args.every)),
    };
    let progress = crate::progress::Progress::new(global.quiet);
    let report = crate::cli::as_user(global, "protocol run", Some(&args.project), |actor| {
        run::run(actor, &args.project, &opts, &progress)
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).expect("report serialises"));
    } else {
        print!("{}", render(&report));
    }
    Ok(())
}

pub fn render(report: &RunReport) -> String {
    let r = &report.record;
    let mut s = String::new();
    let _ = writeln!(s, "{}", r.title());
    let _ = writeln!(
        s,
        "{} patients with follow-up; {} (dataset {}); tables in work/{}",
        r.patients,
        plan_name(r.plan),
        r.dataset,
        report.dir
    );
    let _ = writeln!(s, "model: {}", r.model);
    let _ =
        writeln!(s, "{:<24} {:<16} {:>7} {:>7}  {:<22} ", "outcome", "subgroup", "ev drug", "ev comp", "HR (95% CI)");
    for line in &report.results {
        let hr = match &line.hazard_ratio {
            Some(h) => format!("{:.2} ({:.2}-{:.2})", h.hr, h.lo, h.hi),
            None => line.status.clone(),
        };
        let _ = writeln!(
            s,
            "{:<24} {:<16} {:>7} {:>7}  {hr}{}{}",
            line.outcome,
            line.subgroup,
            line.events_drug,
            line.events_comparator,
            match (line.flagged_sequential, line.crossed) {
                (true, true) => "  FLAGGED (crossed the sequential boundary now)".to_string(),
                (true, false) => format!("  FLAGGED (crossed at analysis {})", line.first_crossed.unwrap_or_default()),
                (false, _) => String::new(),
            },
            if line.flagged_unadjusted { "  [unadjusted per-look flag]" } else { "" }
        );
    }
    let plan = r.surveillance.as_ref().map_or("none".to_string(), |p| {
        format!("{} at one-sided {} over {} planned looks", p.spending.name(), p.alpha, p.looks.len())
    });
    let _ = writeln!(
        s,
        "{} FLAGGED of {} outcome x subgroup tests: the statistic crossed the sequential boundary at this look or an \
         earlier one ({} at this look); surveillance plan: {plan}",
        r.flagged_sequential.len(),
        r.tests,
        r.crossed.len()
    );
    let _ = writeln!(
        s,
        "{} unadjusted per-look flags, for comparison only (lower 95% Wald bound > 1 at this look alone; about {:.1} \
         expected by chance at every look)",
        r.flagged_unadjusted.len(),
        r.tests as f64 * 0.025
    );
    if !r.export_review.is_empty() {
        let _ = writeln!(s, "export gate (export stage), for the reviewer to accept before the tables leave:");
        for line in &r.export_review {
            let _ = writeln!(s, "  {line}");
        }
    }
    s
}

fn plan_name(plan: plan::Plan) -> &'static str {
    match plan {
        plan::Plan::Detection => "signal detection (every outcome)",
        plan::Plan::Refinement => "signal refinement (chosen outcomes, time to onset, duration of use)",
    }
}

fn history(global: &Global, args: HistoryArgs) -> Result<()> {
    let history = crate::cli::as_user(global, "protocol history", Some(&args.project), |actor| {
        let project = actor.open_project(&args.project, &[Role::Analyst])?;
        analyses::history(&protocol_dir(&project))
    })?;
    if args.json {
        let rows: Vec<serde_json::Value> = history
            .rows
            .iter()
            .map(|r| {
                let looks: Vec<serde_json::Value> = r.looks.iter().map(look_json).collect();
                serde_json::json!({"outcome": r.outcome, "subgroup": r.subgroup, "analyses": r.cells,
                    "flagged_unadjusted": r.flagged_unadjusted, "looks": looks,
                    "first_crossed": first_crossed(r),
                    "flagged_sequential": first_crossed(r).is_some()})
            })
            .collect();
        let value = serde_json::json!({"analyses": history.analyses, "rows": rows});
        println!("{}", serde_json::to_string_pretty(&value).expect("history serialises"));
        return Ok(());
    }
    if history.analyses.is_empty() {
        println!("no analyses yet; run `midnet protocol run --project {}`", args.project);
        return Ok(());
    }
    let mut s = String::new();
    let _ = write!(s, "{:<24} {:<16}", "outcome", "subgroup");
    for a in &history.analyses {
        let _ = write!(s, " {:<44}", format!("{} (cut-off {})", a.analysis, a.cutoff));
    }
    s.push('\n');
    for r in &history.rows {
        let _ = write!(s, "{:<24} {:<16}", r.outcome, r.subgroup);
        for (cell, flagged) in r.cells.iter().zip(&r.flagged_unadjusted) {
            let _ = write!(s, " {:<44}", format!("{cell}{}", if *flagged { " u" } else { "" }));
        }
        s.push('\n');
    }
    s.push_str("HR (95% Wald CI), with [profile lo-hi], the 95% profile-likelihood CI, below 40 events\n");
    s.push_str(
        "u: unadjusted per-look flag (lower 95% Wald bound above 1 at that look, as if it were the only one), for \
         comparison only; it is not the flag\n\n",
    );
    s.push_str(
        "the flag: z / boundary (alpha spent) per look; CROSSED when z reaches the boundary; FLAGGED from the first \
         crossing on\n",
    );
    let _ = write!(s, "{:<24} {:<16}", "outcome", "subgroup");
    for a in &history.analyses {
        let _ = write!(s, " {:<28}", format!("{} (cut-off {})", a.analysis, a.cutoff));
    }
    let _ = writeln!(s, " flag");
    for r in &history.rows {
        let _ = write!(s, "{:<24} {:<16}", r.outcome, r.subgroup);
        for look in &r.looks {
            let _ = write!(s, " {:<28}", look.as_ref().map_or(String::new(), look_cell));
        }
        let flag = first_crossed(r).map_or("-".to_string(), |k| format!("FLAGGED (first crossed at analysis {k})"));
        let _ = writeln!(s, " {flag}");
    }
    print!("{s}");
    Ok(())
}

/// The analysis at which the row's statistic first crossed its boundary: the flag.
fn first_crossed(r: &analyses::HistoryRow) -> Option<u32> {
    r.looks.iter().flatten().find_map(|m| m.first_crossed)
}

/// One look in the history's text: `z / boundary (alpha spent)`, CROSSED when it did.
fn look_cell(m: &Monitoring) -> String {
    let z = m.statistic.map_or("-".to_string(), |(z, _)| format!("{z:.2}"));
    let boundary = m.boundary.as_ref().map_or("none".to_string(), |b| format!("{b:.2}"));
    format!("{z} / {boundary} ({:.4}){}", m.alpha_spent, if m.crossed { " CROSSED" } else { "" })
}

fn look_json(look: &Option<Monitoring>) -> serde_json::Value {
    let Some(m) = look else { return serde_json::Value::Null };
    serde_json::json!({
        "z": m.statistic.map(|(z, _)| z),
        "information": m.statistic.map(|(_, i)| i),
        "boundary": m.boundary.as_ref().ok(),
        "alpha_spent": m.alpha_spent,
        "crossed": m.crossed,
        "first_crossed": m.first_crossed,
        "flagged_sequential": m.flagged(),
    })
}

fn report(global: &Global, args: ReportArgs) -> Result<()> {
    let path = crate::cli::as_user(global, "protocol report", Some(&args.project), |actor| {
        let project = actor.open_project(&args.project, &[Role::Analyst])?;
        let dir = protocol_dir(&project);
        let analyses = analyses::list(&dir)?;
        let record = match args.analysis {
            Some(k) => analyses.into_iter().find(|a| a.analysis == k).ok_or_else(|| {
                crate::Error::NotFound(format!("--analysis {k}: project {} has no analysis {k}", args.project))
            })?,
            None => analyses.into_iter().last().ok_or_else(|| {
                crate::Error::NotFound(format!(
                    "project {} has no analyses yet; run `midnet protocol run`",
                    args.project
                ))
            })?,
        };
        let adir = dir.join(analyses::dir_name(record.analysis));
        let html =
            crate::report::render(&crate::report::Tables::read_dir(&adir)?, &record.title(), &record.export_review);
        let path = adir.join(crate::report::REPORT_FILE);
        crate::store::write_atomically(&path, html.as_bytes())?;
        project.record_file(actor, &path, &crate::digest::sha256_file(&path)?, crate::audit::Direction::In)?;
        Ok(path)
    })?;
    print_result(args.json, &serde_json::json!({ "report": path }), |_| path.display().to_string())
}
