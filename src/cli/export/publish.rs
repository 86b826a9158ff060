//! `midnet publish check|request|follow-up`: publishing released results (guideline 第11).
//! Publication requests are reviewed with `midnet export review`, like exports.

use clap::{Args, Subcommand};

use crate::cli::Global;
use crate::cli::as_user;
use crate::cli::export::requests::ExceptionArgs;
use crate::cli::terminal::print_result;
use crate::error::Result;
use crate::export::publish::{self, PublishSpec};

#[derive(Debug, Subcommand)]
pub enum PublishCommand {
    /// Check released tables and figures against the publication criteria (第11 3); exits 0 only
    /// when every file passes.
    Check(CheckArgs),
    /// Ask to publish released tables and figures in a paper or report (contractor); reviewed with
    /// `midnet export review`.
    Request(RequestArgs),
    /// Record that a follow-up study of a signal-refinement project has started, so that its
    /// results may be published (reviewer, 第11 6).
    FollowUp {
        /// The project, by its id.
        #[arg(long, value_name = "ID")]
        project: String,
        /// The follow-up study and when it started.
        #[arg(long)]
        note: String,
        /// Print the record as JSON: {"date", "by", "note"}.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The project, by its id.
    #[arg(long, value_name = "ID")]
    project: String,
    /// Released files, named as in the ledger or by a tail naming one alone.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<String>,
    /// Columns that are not counts, for tables whose sidecar does not describe them.
    #[arg(long, value_name = "COL,…", value_delimiter = ',')]
    not_counts: Vec<String>,
    /// Print the report as JSON, as `export check --json` does.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct RequestArgs {
    /// The project, by its id.
    #[arg(long, value_name = "ID")]
    project: String,
    /// Released files, named as in the ledger or by a tail naming one alone.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<String>,
    /// The paper or report, and where it will be published.
    #[arg(long)]
    note: String,
    #[command(flatten)]
    exceptions: ExceptionArgs,
    /// Print the filed request as JSON (as `export show --json`).
    #[arg(long)]
    json: bool,
}

pub fn run(global: &Global, command: PublishCommand) -> Result<()> {
    match command {
        PublishCommand::Check(args) => {
            let report = as_user(global, "publish check", Some(&args.project), |actor| {
                publish::check_publication(actor, &args.project, &args.files, &args.not_counts)
            })?;
            crate::cli::export::conclude(global, &report, args.json)
        }
        PublishCommand::Request(args) => {
            let spec = PublishSpec {
                project: args.project.clone(),
                files: args.files,
                note: args.note,
                exceptions: args.exceptions.exceptions,
                not_counts: args.exceptions.not_counts,
            };
            let filed = as_user(global, "publish request", Some(&args.project), |actor| {
                publish::file_publication(actor, &spec)
            })?;
            crate::cli::export::requests::print_request(&filed, args.json)
        }
        PublishCommand::FollowUp { project, note, json } => {
            let recorded = as_user(global, "publish follow-up", Some(&project), |actor| {
                publish::record_follow_up(actor, &project, &note)
            })?;
            print_result(json, &recorded, |r| {
                format!(
                    "project {project}: follow-up study recorded on {} by {}; its results may now be published",
                    r.date, r.by
                )
            })
        }
    }
}
