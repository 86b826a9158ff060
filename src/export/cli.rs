//! `midnet export …`: the gate's commands on plain files. They need no login: they read only the
//! files named.

use std::fmt::Write;
use std::path::PathBuf;

use clap::Subcommand;

use super::{CheckOptions, FixOptions, FixReport, Report, Rules, SiteRegistry, Stage, Verdict, check_files, fix_file};
use crate::cli::Global;
use crate::error::{Error, Result};

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Check tables and figures against the export rules; exits 0 only when every file passes.
    Check(CheckArgs),
    /// Rewrite a table so that it passes: re-band ages, sum over sites, suppress small counts and the
    /// cells that would give them back.
    Fix(FixArgs),
}

/// What the checks need besides the files.
#[derive(Debug, clap::Args)]
pub struct RuleArgs {
    /// A rules file to use instead of the guideline's (sql/export-rules.toml shows the format).
    #[arg(long, value_name = "FILE")]
    rules: Option<PathBuf>,
    /// The site registry (sites.toml) whose hospital names, aliases and ids must not appear.
    #[arg(long, value_name = "FILE")]
    sites: Option<PathBuf>,
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
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    rule_args: RuleArgs,
}

#[derive(Debug, clap::Args)]
pub struct FixArgs {
    /// The table to fix (CSV or Parquet).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Where to write the fixed table (CSV, with its sidecar beside it).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Print what changed, and the check of the result, as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    rule_args: RuleArgs,
}

pub fn run(global: &Global, command: ExportCommand) -> Result<()> {
    match command {
        ExportCommand::Check(args) => {
            let (rules, sites) = rules_and_sites(&args.rule_args)?;
            let options = CheckOptions {
                stage: args.stage,
                rules,
                sites,
                not_counts: args.rule_args.not_counts,
                released: args.released,
            };
            let report = check_files(&args.files, &options)?;
            if args.json {
                println!("{}", report.to_json());
            } else {
                print!("{}", report.render());
            }
            notes(global, &report);
            verdict(&report)
        }
        ExportCommand::Fix(args) => {
            let (rules, sites) = rules_and_sites(&args.rule_args)?;
            let options = FixOptions { rules, sites, not_counts: args.rule_args.not_counts };
            let fixed = fix_file(&args.file, &args.out, &options)?;
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
    }
}

fn rules_and_sites(args: &RuleArgs) -> Result<(Rules, SiteRegistry)> {
    let rules = match &args.rules {
        Some(path) => Rules::read(path)?,
        None => Rules::default(),
    };
    let sites = match &args.sites {
        Some(path) => SiteRegistry::read(path)?,
        None => SiteRegistry::default(),
    };
    Ok((rules, sites))
}

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
