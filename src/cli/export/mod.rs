//! `midnet export …` and `midnet publish …`. `check` and `fix` on plain files need no login:
//! they read only the files named. Everything with `--project` runs as the logged-in user and is
//! audited (`cli/requests.rs`, `cli/publish.rs`).

pub mod publish;
mod requests;

use std::fmt::Write;
use std::path::PathBuf;

use clap::Subcommand;

pub use publish::PublishCommand;

use crate::center::sites::SiteRegistry;
use crate::cli::Global;
use crate::cli::as_user;
use crate::error::{Error, Result};
use crate::export::{
    CheckOptions, FixOptions, FixReport, HospitalNames, Report, Rules, Stage, Verdict, WorkFix, check_files, fix_file,
    fix_work,
};

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Check tables and figures against the export rules; exits 0 only when every file passes.
    Check(CheckArgs),
    /// Rewrite a table so that it passes: re-band ages, sum over sites, suppress small counts and the
    /// cells that would give them back. With --project, a table of the project's work/ into work/.
    Fix(FixArgs),
    /// Ask for statistics of a project's work/ to leave, with their programs and work log (analyst).
    Request(requests::RequestArgs),
    /// Approve or reject a request (reviewer; never the requester). Approval releases the files.
    Review(requests::ReviewArgs),
    /// The export and publication requests of a project.
    Requests(requests::ProjectArgs),
    /// One request: its files, findings, exceptions and decision; `--file` prints a file of it.
    Show(requests::ShowArgs),
    /// The release ledger: every released file, who released it, and where its copies went.
    Ledger(requests::ProjectArgs),
    /// Copy a released file out of the data center; the ledger records who took it and where.
    Fetch(requests::FetchArgs),
    /// Record that a copy of exported statistics was lost (a violation, guideline 第14 1(2)).
    ReportLoss(requests::CopyArgs),
    /// Record that a copy of exported statistics was deleted.
    Delete(requests::CopyArgs),
}

/// What the checks need besides the files.
#[derive(Debug, clap::Args)]
pub struct RuleArgs {
    /// A rules file to use instead of the guideline's (sql/export-rules.toml shows the format).
    #[arg(long, value_name = "FILE")]
    rules: Option<PathBuf>,
    /// The site registry (sites.toml) whose hospital names, aliases and ids must not appear.
    #[arg(long, value_name = "FILE")]
    registry: Option<PathBuf>,
    /// Columns that are not counts, for tables whose sidecar does not describe them.
    #[arg(long, value_name = "COL,…", value_delimiter = ',')]
    not_counts: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Tables (CSV, Parquet), text files, figures (PNG, SVG, with the table of the same name beside them).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// publish: every rule fails a file (第11 3); export: taking statistics out (第9), where all but
    /// patient_level and file_type need the reviewer's acceptance.
    #[arg(long, value_enum, default_value_t = Stage::Publish)]
    stage: Stage,
    /// A table already released; compared with the files by the differencing rule (repeatable).
    #[arg(long, value_name = "FILE")]
    released: Vec<PathBuf>,
    /// Check files of this project's work/ (named as there), with the home's site registry, the
    /// project's pseudonyms and the tables it has released (analyst or reviewer).
    #[arg(long, value_name = "ID", conflicts_with_all = ["released", "registry", "rules"])]
    project: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    rule_args: RuleArgs,
}

#[derive(Debug, clap::Args)]
pub struct FixArgs {
    /// The table to fix (CSV or Parquet): a path outside the data center, or with --project a name
    /// in the project's work/.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Where to write the fixed table (CSV, with its sidecar beside it): a new file outside the data
    /// center, or with --project a name in work/ (default NAME-fixed.csv beside the input).
    #[arg(long, value_name = "FILE", required_unless_present = "project")]
    out: Option<PathBuf>,
    /// Fix a table of this project's work/ into work/, with the project's checks (analyst; audited).
    #[arg(long, value_name = "ID", conflicts_with_all = ["registry", "rules"])]
    project: Option<String>,
    /// With --project: write over a file of the same name in work/ (refused otherwise).
    #[arg(long, requires = "project")]
    replace: bool,
    /// Print what changed, and the check of the result, as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    rule_args: RuleArgs,
}

pub fn run(global: &Global, command: ExportCommand) -> Result<()> {
    match command {
        ExportCommand::Check(args) if args.project.is_some() => {
            let project = args.project.expect("matched");
            let files: Vec<String> = args.files.iter().map(|f| f.display().to_string()).collect();
            let not_counts = args.rule_args.not_counts;
            let report = as_user(global, "export check", Some(&project), |actor| {
                crate::export::request::check_work(actor, &project, &files, args.stage, &not_counts)
            })?;
            conclude(global, &report, args.json)
        }
        ExportCommand::Check(args) => {
            let (rules, sites) = rules_and_sites(&args.rule_args)?;
            let options = CheckOptions {
                stage: args.stage,
                rules,
                sites,
                not_counts: args.rule_args.not_counts,
                released: args.released,
                ..CheckOptions::default()
            };
            let report = check_files(&args.files, &options)?;
            conclude(global, &report, args.json)
        }
        ExportCommand::Fix(args) => {
            let fixed = match &args.project {
                Some(project) => {
                    let spec = WorkFix {
                        project: project.clone(),
                        file: args.file.display().to_string(),
                        out: args.out.as_ref().map(|o| o.display().to_string()),
                        replace: args.replace,
                        not_counts: args.rule_args.not_counts.clone(),
                    };
                    as_user(global, "export fix", Some(project), |actor| fix_work(actor, &spec))?
                }
                None => {
                    let (rules, sites) = rules_and_sites(&args.rule_args)?;
                    let options = FixOptions { rules, sites, not_counts: args.rule_args.not_counts };
                    let out = args.out.as_deref().expect("clap requires --out without --project");
                    fix_file(&args.file, out, &options)?
                }
            };
            if args.json {
                println!("{}", serde_json::to_string_pretty(&fixed).expect("a fix report serialises"));
            } else {
                print!("{}", render_fix(&fixed));
            }
            notes(global, &fixed.check);
            verdict(&fixed.check).map_err(|_| {
                Error::Failed(format!(
                    "{} was written, but it still does not pass: the findings above need the analyst",
                    fixed.output.display()
                ))
            })
        }
        ExportCommand::Request(args) => requests::request(global, args),
        ExportCommand::Review(args) => requests::review(global, args),
        ExportCommand::Requests(args) => requests::list(global, args),
        ExportCommand::Show(args) => requests::show(global, args),
        ExportCommand::Ledger(args) => requests::ledger(global, args),
        ExportCommand::Fetch(args) => requests::fetch(global, args),
        ExportCommand::ReportLoss(args) => requests::close_copy(global, args, crate::export::Event::Lost),
        ExportCommand::Delete(args) => requests::close_copy(global, args, crate::export::Event::Deleted),
    }
}

fn rules_and_sites(args: &RuleArgs) -> Result<(Rules, HospitalNames)> {
    let rules = match &args.rules {
        Some(path) => Rules::read(path)?,
        None => Rules::default(),
    };
    let sites = match &args.registry {
        Some(path) => HospitalNames::of_sites(&SiteRegistry::parse_toml(path)?.sites, &path.display().to_string())?,
        None => HospitalNames::default(),
    };
    Ok((rules, sites))
}

/// Print a check's report (JSON or text), note on stderr what was not checked, and fail unless
/// every file passed.
pub(crate) fn conclude(global: &Global, report: &Report, json: bool) -> Result<()> {
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.render());
    }
    notes(global, report);
    verdict(report)
}

/// What a check skipped, on stderr.
fn notes(global: &Global, report: &Report) {
    if !global.quiet {
        for s in &report.skipped {
            eprintln!("note: {} not checked: {}", s.rule, s.reason);
        }
    }
}

fn verdict(report: &Report) -> Result<()> {
    if report.passed() {
        return Ok(());
    }
    let failing = report.files.iter().filter(|f| f.verdict != Verdict::Pass).count();
    Err(Error::Failed(format!(
        "{failing} of {} file{} did not pass (stage {}; verdict {})",
        report.files.len(),
        if report.files.len() == 1 { "" } else { "s" },
        report.stage,
        report.verdict
    )))
}

fn render_fix(fixed: &FixReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} → {}: {} change{}",
        fixed.input.display(),
        fixed.output.display(),
        fixed.changes.len(),
        if fixed.changes.len() == 1 { "" } else { "s" }
    );
    for c in &fixed.changes {
        let mut place = Vec::new();
        if let Some(r) = c.row {
            place.push(format!("row {r}"));
        }
        if let Some(col) = &c.column {
            place.push(format!("column `{col}`"));
        }
        let place = if place.is_empty() { String::new() } else { format!("{}: ", place.join(", ")) };
        let _ = writeln!(out, "  {:<24} {place}{}", c.action, c.message);
    }
    let _ = writeln!(out, "check of the result:");
    out.push_str(&fixed.check.render());
    out
}
