//! `midnet site …`: the commands a cooperating hospital runs on its own integrated data source.
//! They need no login: they touch no data-center home.

use std::path::PathBuf;

use clap::Subcommand;

use super::SiteDir;
use crate::cli::Global;
use crate::error::{Error, Result};

#[derive(Debug, Subcommand)]
pub enum SiteCommand {
    /// Create a site's integrated data source (a directory holding one DuckDB database).
    Init {
        /// The site's directory.
        #[arg(long, value_name = "DIR")]
        site: PathBuf,
    },
    /// Load a hospital's CSV or Parquet files; rows that fail validation are quarantined.
    Load {
        #[arg(long, value_name = "DIR")]
        site: PathBuf,
        /// The table every file is for (default: each file's name up to its first dot).
        #[arg(long)]
        table: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Files, or directories of files named after their tables (patient.csv, lab_result.parquet, …).
        #[arg(required = true, value_name = "FILE|DIR")]
        files: Vec<PathBuf>,
    },
    /// Approve a script (by the hash of its text and codelist files) with its parameter values
    /// other than the cut-off: the site runs only scripts it has approved.
    Approve {
        #[arg(long, value_name = "DIR")]
        site: PathBuf,
        /// The extraction script.
        script: PathBuf,
        /// A parameter value, NAME=VALUE (repeat for each parameter).
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Print the data-quality report of a site.
    Check {
        #[arg(long, value_name = "DIR")]
        site: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(global: &Global, command: SiteCommand) -> Result<()> {
    match command {
        SiteCommand::Init { site } => {
            SiteDir::at(&site).init()?;
            if !global.quiet {
                eprintln!("created site data source {}", site.display());
            }
            Ok(())
        }
        SiteCommand::Load { site, table, json, files } => {
            let report = super::load::load(&SiteDir::at(&site), &files, table.as_deref())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report).expect("report serialises"));
            } else {
                print!("{}", render_load(&report));
            }
            if report.rows_loaded() == 0 && !report.nothing_new() {
                return Err(Error::Failed(format!(
                    "{}: nothing could be loaded ({} files refused, {} rows quarantined)",
                    site.display(),
                    report.refused.len(),
                    report.rows_quarantined()
                )));
            }
            Ok(())
        }
        SiteCommand::Approve { site, script, params, json } => {
            let script = crate::script::Script::load(&script)?;
            let values = crate::script::ParamValues::parse_args(&params)?;
            let approval = super::approve::approve(&SiteDir::at(&site), &script, &values)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&approval).expect("approval serialises"));
            } else {
                println!("approved {} (script {})", approval.study, &approval.script_sha256[..12]);
                for (name, value) in &approval.params {
                    println!("  {name} = {value}");
                }
            }
            Ok(())
        }
        SiteCommand::Check { site, json } => {
            let report = super::check::check(&SiteDir::at(&site))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report).expect("report serialises"));
            } else {
                print!("{}", report.render());
            }
            Ok(())
        }
    }
}

fn render_load(report: &super::load::LoadReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = match (report.data_version, report.files.is_empty()) {
        (Some(v), _) => writeln!(s, "data version {v}"),
        (None, true) => writeln!(s, "no new data version: nothing new to load"),
        (None, false) => writeln!(s, "no new data version: no row could be loaded"),
    };
    let _ = writeln!(s, "  {:<20} {:>12} {:>12}  file", "table", "loaded", "quarantined");
    for f in &report.files {
        let _ = writeln!(s, "  {:<20} {:>12} {:>12}  {}", f.table, f.rows_loaded, f.rows_quarantined, f.file);
    }
    let _ = writeln!(s, "  {:<20} {:>12} {:>12}", "total", report.rows_loaded(), report.rows_quarantined());
    for k in &report.skipped {
        let e = &k.earlier;
        let what = match e.data_version {
            Some(v) => {
                format!("in data version {v} ({} rows loaded, {} quarantined)", e.rows_loaded, e.rows_quarantined)
            }
            None => format!("which made no data version (no row loaded, {} quarantined)", e.rows_quarantined),
        };
        let _ =
            writeln!(s, "skipped {}: already loaded (same SHA-256) on {} as {}, {what}", k.file, e.loaded_at, e.file);
    }
    for r in &report.refused {
        let _ = writeln!(s, "refused {}: {}", r.file, r.reason);
    }
    if !report.top_reasons.is_empty() {
        let _ = writeln!(s, "quarantine reasons (the rows are in the site's `quarantine` table, with file and line):");
        for (reason, n) in &report.top_reasons {
            let _ = writeln!(s, "  {n:>10}  {reason}");
        }
    }
    s
}
