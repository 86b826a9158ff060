//! `midnet export request|review|requests|show|ledger|fetch|report-loss|delete`: the gate inside a
//! project. Each runs as the logged-in user and is audited.

use std::fmt::Write;
use std::path::PathBuf;

use clap::Args;

use crate::cli::Global;
use crate::cli::as_user;
use crate::cli::terminal::{ALL_TEXT, print_json, text_table};
use crate::error::Result;
use crate::export::exception::Exception;
use crate::export::findings::SidecarStatus;
use crate::export::ledger::{self, CopyStatus, Event, LedgerView};
use crate::export::request::{self, ExportSpec, Kind, Request};
use crate::export::review::{self as decide, Decide};

#[derive(Debug, Args)]
pub struct ProjectArgs {
    /// The project, by its id.
    #[arg(long, value_name = "ID")]
    project: String,
    /// Print as JSON: `requests`, one object per request (as `export show --json`); `ledger`, the
    /// released files with their copies.
    #[arg(long)]
    json: bool,
}

/// What a request's findings need: exceptions, and columns declared not to be counts.
#[derive(Debug, Args)]
pub struct ExceptionArgs {
    /// A written exception to a finding, for the reviewer: [FILE:]RULE:ROW:COLUMN:TEXT (ROW and
    /// COLUMN empty for a whole file or column, `*` for any). Repeatable.
    #[arg(long = "exception", value_name = "[FILE:]RULE:ROW:COLUMN:TEXT", value_parser = parse_exception)]
    pub exceptions: Vec<Exception>,
    /// Columns that are not counts, for tables whose sidecar does not describe them.
    #[arg(long, value_name = "COL,…", value_delimiter = ',')]
    pub not_counts: Vec<String>,
}

fn parse_exception(text: &str) -> std::result::Result<Exception, String> {
    Exception::parse(text).map_err(|e| e.to_string())
}

#[derive(Debug, Args)]
pub struct RequestArgs {
    /// The project, by its id.
    #[arg(long, value_name = "ID")]
    project: String,
    /// Statistics, figures (with the table behind them) and text, named as in the project's work/.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<String>,
    /// A program that produced them, named as in work/ (repeatable); it travels with them.
    #[arg(long = "program", value_name = "FILE")]
    programs: Vec<String>,
    /// What the statistics are and why they leave.
    #[arg(long)]
    note: String,
    #[command(flatten)]
    exceptions: ExceptionArgs,
    /// Print the filed request as JSON (as `export show --json`).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("decision").required(true).args(["approve", "reject"]))]
pub struct ReviewArgs {
    /// The request (req-1, …).
    request: String,
    /// The project, by its id.
    #[arg(long, value_name = "ID")]
    project: String,
    /// Release the files (export) or allow the publication.
    #[arg(long)]
    approve: bool,
    /// Refuse the request: nothing is released or published.
    #[arg(long)]
    reject: bool,
    /// What was checked, and why the decision.
    #[arg(long)]
    note: String,
    /// Print the decided request as JSON (as `export show --json`).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The request (req-1, …).
    request: String,
    /// The project, by its id.
    #[arg(long, value_name = "ID")]
    project: String,
    /// Print this file of the request (a Parquet table as CSV).
    #[arg(long, value_name = "NAME")]
    file: Option<String>,
    /// Print the request as JSON: its id, kind, files, findings, exceptions and decision.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// The project, by its id.
    #[arg(long, value_name = "ID")]
    project: String,
    /// A released file: its name in the ledger (req-1/files/t1.csv) or a tail naming it alone (t1.csv).
    #[arg(value_name = "FILE")]
    file: String,
    /// An existing directory outside the data center to copy it into.
    #[arg(long, value_name = "DIR")]
    into: PathBuf,
    /// Print the copy as JSON: {"file", "to", "sha256", …} as the ledger records it.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The project, by its id.
    #[arg(long, value_name = "ID")]
    project: String,
    /// The released file whose copy this is.
    #[arg(value_name = "FILE")]
    file: String,
    /// The copy, as `fetch` recorded it (needed when several copies are out).
    #[arg(long, value_name = "PATH")]
    copy: Option<PathBuf>,
    /// What happened: where, when, how.
    #[arg(long)]
    note: String,
    /// Print the recorded event as JSON, as the ledger records it.
    #[arg(long)]
    json: bool,
}

pub fn request(global: &Global, args: RequestArgs) -> Result<()> {
    let spec = ExportSpec {
        project: args.project.clone(),
        files: args.files,
        programs: args.programs,
        note: args.note,
        exceptions: args.exceptions.exceptions,
        not_counts: args.exceptions.not_counts,
    };
    let filed = as_user(global, "export request", Some(&args.project), |actor| request::file_export(actor, &spec))?;
    if !global.quiet && !filed.never_exportable().is_empty() {
        eprintln!(
            "note: request {} holds data that may never leave the data center (patient-level data or files that are \
             not statistics); no reviewer can approve it, and the attempt was recorded as a violation",
            filed.id
        );
    }
    print_request(&filed, args.json)
}

pub fn review(global: &Global, args: ReviewArgs) -> Result<()> {
    let decision = if args.approve { Decide::Approve } else { Decide::Reject };
    let decided = as_user(global, "export review", Some(&args.project), |actor| {
        decide::review(actor, &args.project, &args.request, decision, &args.note)
    })?;
    print_request(&decided, args.json)
}

pub fn list(global: &Global, args: ProjectArgs) -> Result<()> {
    let requests =
        as_user(global, "export requests", Some(&args.project), |actor| request::list(actor, &args.project))?;
    if args.json {
        return print_json(&requests);
    }
    let rows: Vec<Vec<String>> = requests
        .iter()
        .map(|r| {
            let excepted = r.findings.iter().filter(|f| f.exception.is_some()).count();
            vec![
                r.id.clone(),
                r.kind.to_string(),
                r.status.to_string(),
                r.requester.clone(),
                r.filed.clone(),
                r.files.len().to_string(),
                format!("{} ({excepted} excepted)", r.findings.len()),
                r.decision.as_ref().map(|d| d.by.clone()).unwrap_or_default(),
            ]
        })
        .collect();
    print!(
        "{}",
        text_table(
            &["request", "kind", "status", "requester", "filed (UTC)", "files", "findings", "reviewer"],
            &rows,
            ALL_TEXT
        )
    );
    Ok(())
}

pub fn show(global: &Global, args: ShowArgs) -> Result<()> {
    let (shown, text) = as_user(global, "export show", Some(&args.project), |actor| {
        request::show(actor, &args.project, &args.request, args.file.as_deref())
    })?;
    match text {
        Some(text) => {
            print!("{text}");
            Ok(())
        }
        None => print_request(&shown, args.json),
    }
}

pub fn ledger(global: &Global, args: ProjectArgs) -> Result<()> {
    let view = as_user(global, "export ledger", Some(&args.project), |actor| ledger::view(actor, &args.project))?;
    if args.json {
        return print_json(&view);
    }
    print!("{}", render_ledger(&view));
    Ok(())
}

pub fn fetch(global: &Global, args: FetchArgs) -> Result<()> {
    let fetched = as_user(global, "export fetch", Some(&args.project), |actor| {
        ledger::fetch(actor, &args.project, &args.file, &args.into)
    })?;
    if args.json {
        return print_json(&fetched);
    }
    for f in &fetched {
        println!("{} → {} (sha256 {})", f.file, f.to.display(), f.sha256);
    }
    Ok(())
}

pub fn close_copy(global: &Global, args: CopyArgs, event: Event) -> Result<()> {
    let command = if event == Event::Lost { "export report-loss" } else { "export delete" };
    let recorded = as_user(global, command, Some(&args.project), |actor| {
        ledger::close_copy(actor, &args.project, &args.file, args.copy.as_deref(), event, &args.note)
    })?;
    if args.json {
        return print_json(&recorded);
    }
    let what = if event == Event::Lost { "lost (recorded as a violation, 第14 1(2))" } else { "deleted" };
    println!("{}: the copy {} recorded as {what}", recorded.file, recorded.copy);
    let rule = match recorded.exported_statistics_delete_by {
        Some(d) => format!("; they must be deleted by {d} (第12 4(3))"),
        None => String::new(),
    };
    println!(
        "{} cop{} of this project's exported statistics still out{rule}",
        recorded.held,
        if recorded.held == 1 { "y" } else { "ies" }
    );
    Ok(())
}

pub fn print_request(r: &Request, json: bool) -> Result<()> {
    if json {
        return print_json(r);
    }
    print!("{}", render_request(r));
    Ok(())
}

fn render_request(r: &Request) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "request {} ({}) of project {}: {}", r.id, r.kind, r.project, r.status);
    let _ = writeln!(out, "  filed {} by {}: {}", r.filed, r.requester, r.note);
    let _ = writeln!(out, "  project purpose {}: {}", r.purpose.name(), r.question);
    let rows: Vec<Vec<String>> = r
        .files
        .iter()
        .map(|f| {
            vec![
                f.name.clone(),
                f.role.to_string(),
                f.verdict.map(|v| v.to_string()).unwrap_or_default(),
                f.bytes.to_string(),
                f.sha256.clone(),
            ]
        })
        .collect();
    for line in text_table(&["file", "role", "verdict", "bytes", "sha256"], &rows, ALL_TEXT).lines() {
        let _ = writeln!(out, "  {line}");
    }
    for f in &r.files {
        if let Some(note) = f.sidecar.as_ref().filter(|n| n.status != SidecarStatus::Verified) {
            let _ = writeln!(out, "  {}: sidecar {}", f.name, note.note);
        }
    }
    if r.findings.is_empty() {
        let _ = writeln!(out, "  no findings (stage {})", r.stage);
    } else {
        let _ = writeln!(out, "  findings at stage {} (each with the requester's exception):", r.stage);
        for f in &r.findings {
            let _ = writeln!(out, "    {:<6} {}: {}", f.finding.verdict, f.key(), f.finding.message);
            if let Some(e) = &f.exception {
                let _ = writeln!(out, "           exception: {e}");
            }
        }
    }
    for s in &r.skipped {
        let _ = writeln!(out, "  not checked: {}: {}", s.rule, s.reason);
    }
    for refusal in &r.refused_approvals {
        let _ = writeln!(
            out,
            "  approval refused ({}) {} by {}: {}",
            refusal.rule, refusal.time, refusal.by, refusal.message
        );
    }
    match &r.decision {
        Some(d) => {
            let _ = writeln!(
                out,
                "  {} {} by {}: {}",
                if d.approved { "approved" } else { "rejected" },
                d.time,
                d.by,
                d.note
            );
            if d.approved && r.kind == Kind::Export {
                let _ = writeln!(
                    out,
                    "  released under released/{}/; `midnet export ledger --project {}` lists them",
                    r.id, r.project
                );
            }
        }
        None => {
            let _ = writeln!(
                out,
                "  next: a reviewer other than {} runs `midnet export review {} --project {} --approve|--reject --note TEXT`",
                r.requester, r.id, r.project
            );
        }
    }
    out
}

fn render_ledger(view: &LedgerView) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "ledger of project {}: {} released file{}",
        view.project,
        view.files.len(),
        if view.files.len() == 1 { "" } else { "s" }
    );
    match view.exported_statistics_delete_by {
        Some(d) => {
            let _ = writeln!(
                out,
                "exported statistics must be deleted by {d} (第12 4(3)); {} cop{} overdue",
                view.overdue_copies,
                if view.overdue_copies == 1 { "y is" } else { "ies are" }
            );
        }
        None => {
            let _ = writeln!(
                out,
                "exported statistics are kept under the project's own rules (post-marketing or administrative use)"
            );
        }
    }
    for f in &view.files {
        let _ = writeln!(
            out,
            "{}  sha256 {}\n  released {} by {} (request {} by {})",
            f.file, f.sha256, f.released, f.reviewer, f.request, f.requester
        );
        for p in &f.published {
            let _ = writeln!(out, "  published {} by {} (request {})", p.time, p.by, p.request);
        }
        for c in &f.copies {
            let state = match (c.status, &c.closed) {
                (CopyStatus::Held, _) => "held".to_string(),
                (status, Some(closed)) => format!(
                    "{} {} by {}: {}",
                    if status == CopyStatus::Lost { "lost" } else { "deleted" },
                    closed.time,
                    closed.by,
                    closed.note
                ),
                (_, None) => String::new(),
            };
            let _ = writeln!(out, "  copy {} taken {} by {}: {state}", c.to, c.fetched, c.by);
        }
    }
    out
}
