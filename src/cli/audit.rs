//! `midnet audit verify|anchor|show|sessions` (reviewer).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use clap::Subcommand;
use serde::Serialize;

use crate::audit::Record;
use crate::cli::Global;
use crate::cli::as_user;
use crate::cli::named::NamedFile;
use crate::cli::terminal::{ALL_TEXT, date_arg, print_json, text_table};
use crate::error::{Error, Result};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the whole chain and its sealed head; name the first bad record (exit 6) if any. A
    /// record left unsealed or torn by a midnet that stopped part way is recovered first, and said.
    Verify {
        /// Also check that the trail reaches this anchor (`midnet audit anchor`) and holds its
        /// record: a trail rolled back or rewritten since fails.
        #[arg(long, value_name = "FILE", value_parser = NamedFile::parse)]
        anchor: Option<NamedFile>,
        /// Print the verification as JSON: {"log", "records", "last_hash", "recovered": null or
        /// {"what", "record"}, "anchor": null or {"file", "time", "record"}}.
        #[arg(long)]
        json: bool,
    },
    /// Print a signed statement of the trail's head (sequence, hash, time) to keep outside the home,
    /// for `audit verify --anchor`.
    Anchor,
    /// The records, filtered by project, user and UTC date.
    Show {
        /// Only the records of this project (its id).
        #[arg(long, value_name = "ID")]
        project: Option<String>,
        /// Only the records of this user (their id).
        #[arg(long, value_name = "ID")]
        user: Option<String>,
        /// From this UTC date (YYYY-MM-DD, inclusive).
        #[arg(long, value_parser = date_arg, value_name = "DATE")]
        from: Option<NaiveDate>,
        /// To this UTC date (YYYY-MM-DD, inclusive).
        #[arg(long, value_parser = date_arg, value_name = "DATE")]
        to: Option<NaiveDate>,
        /// Print the records as JSON, one object per record as the trail holds it.
        #[arg(long)]
        json: bool,
    },
    /// Login time and session length per user, and the commands run in each session.
    Sessions {
        /// Only the sessions of this user (their id).
        #[arg(long, value_name = "ID")]
        user: Option<String>,
        /// Print the sessions as JSON: [{"user", "session", "login", "end", "ended_by", "seconds",
        /// "commands"}].
        #[arg(long)]
        json: bool,
    },
}

pub fn run(global: &Global, command: AuditCommand) -> Result<()> {
    match command {
        AuditCommand::Verify { anchor, json } => as_user(global, "audit verify", None, |actor| {
            actor.require_reviewer("verifying the audit log")?;
            let log = actor.home().audit();
            let anchored = anchor
                .as_ref()
                .map(|file| Ok::<_, Error>((file.path(), crate::audit::Anchor::parse(file.bytes(), file.path())?)))
                .transpose()?;
            let verified = match &anchored {
                Some((file, statement)) => log.check_anchor(statement, file)?,
                None => log.verify()?,
            };
            if json {
                return print_json(&serde_json::json!({
                    "log": log.path(),
                    "records": verified.records,
                    "last_hash": verified.last,
                    "recovered": verified.recovered.as_ref().map(|(what, seq)| {
                        serde_json::json!({"what": what.to_string(), "record": seq})
                    }),
                    "anchor": anchored.as_ref().map(|(file, statement)| {
                        serde_json::json!({"file": file, "time": statement.time, "record": statement.seq})
                    }),
                }));
            }
            if let Some((recovery, seq)) = &verified.recovered {
                println!("recovered: {recovery} (recorded as record {seq})");
            }
            println!(
                "{}: {} records verified: the chain is intact, every seal verifies, and it ends in the sealed head",
                log.path().display(),
                verified.records
            );
            if let Some((file, statement)) = &anchored {
                println!(
                    "it agrees with the anchor of {} in {}: record {} is the one anchored",
                    statement.time,
                    file.display(),
                    statement.seq
                );
            }
            Ok(())
        }),
        AuditCommand::Anchor => as_user(global, "audit anchor", None, |actor| {
            actor.require_reviewer("anchoring the audit log")?;
            print_json(&actor.home().audit().anchor()?)
        }),
        AuditCommand::Show { project, user, from, to, json } => as_user(global, "audit show", None, |actor| {
            actor.require_reviewer("reading the audit log")?;
            let records: Vec<Record> = actor
                .home()
                .audit()
                .records()?
                .into_iter()
                .filter(|r| project.as_ref().is_none_or(|p| r.project.as_ref() == Some(p)))
                .filter(|r| user.as_ref().is_none_or(|u| &r.user == u))
                .filter(|r| {
                    let day = utc_date(&r.time);
                    from.is_none_or(|f| day.is_some_and(|d| d >= f)) && to.is_none_or(|t| day.is_some_and(|d| d <= t))
                })
                .collect();
            if json {
                return print_json(&records);
            }
            let rows: Vec<Vec<String>> = records.iter().map(show_row).collect();
            print!(
                "{}",
                text_table(
                    &["seq", "time (UTC)", "user", "session", "command", "project", "result", "detail"],
                    &rows,
                    ALL_TEXT
                )
            );
            Ok(())
        }),
        AuditCommand::Sessions { user, json } => as_user(global, "audit sessions", None, |actor| {
            actor.require_reviewer("reading the audit log")?;
            let sessions: Vec<SessionSummary> = sessions(&actor.home().audit().records()?)
                .into_iter()
                .filter(|s| user.as_ref().is_none_or(|u| &s.user == u))
                .collect();
            if json {
                return print_json(&sessions);
            }
            let rows: Vec<Vec<String>> = sessions
                .iter()
                .map(|s| {
                    vec![
                        s.user.clone(),
                        s.session.clone(),
                        s.login.clone(),
                        s.end.clone(),
                        s.ended_by.to_string(),
                        format_length(s.seconds),
                        s.commands.to_string(),
                    ]
                })
                .collect();
            print!(
                "{}",
                text_table(
                    &["user", "session", "login (UTC)", "end (UTC)", "ended by", "length", "commands"],
                    &rows,
                    ALL_TEXT
                )
            );
            Ok(())
        }),
    }
}

fn show_row(r: &Record) -> Vec<String> {
    let result = match (r.result.as_str(), &r.rule) {
        ("refused", Some(rule)) => format!("refused ({rule})"),
        (result, _) => result.to_string(),
    };
    let detail = match (&r.file, &r.message) {
        (Some(f), _) => {
            let direction = f.direction.name();
            format!("{direction} {} sha256 {}", f.path, &f.sha256[..f.sha256.len().min(16)])
        }
        (None, Some(m)) => m.clone(),
        (None, None) => String::new(),
    };
    vec![
        r.seq.to_string(),
        r.time.clone(),
        r.user.clone(),
        r.session.clone().unwrap_or_default(),
        r.command.clone(),
        r.project.clone().unwrap_or_default(),
        result,
        detail,
    ]
}

/// One login session as the audit trail shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SessionSummary {
    pub user: String,
    pub session: String,
    pub login: String,
    /// The logout, or the last command of a session never logged out.
    pub end: String,
    pub ended_by: &'static str,
    pub seconds: i64,
    /// Commands run in the session (login and logout excluded).
    pub commands: usize,
}

/// Group the records by session: the successful login opens it, a logout closes it.
pub fn sessions(records: &[Record]) -> Vec<SessionSummary> {
    let mut open: BTreeMap<String, SessionSummary> = BTreeMap::new();
    let mut order = Vec::new();
    for r in records {
        let Some(id) = &r.session else { continue };
        if r.command == "login" {
            if r.result == "ok" {
                order.push(id.clone());
                open.insert(
                    id.clone(),
                    SessionSummary {
                        user: r.user.clone(),
                        session: id.clone(),
                        login: r.time.clone(),
                        end: r.time.clone(),
                        ended_by: "still open",
                        seconds: 0,
                        commands: 0,
                    },
                );
            }
            continue;
        }
        let Some(s) = open.get_mut(id) else { continue };
        s.end = r.time.clone();
        s.seconds = seconds_between(&s.login, &r.time);
        if r.command == "logout" {
            s.ended_by = "logout";
        } else {
            s.ended_by = "last command";
            s.commands += 1;
        }
    }
    order.into_iter().filter_map(|id| open.remove(&id)).collect()
}

fn seconds_between(from: &str, to: &str) -> i64 {
    match (from.parse::<DateTime<Utc>>(), to.parse::<DateTime<Utc>>()) {
        (Ok(a), Ok(b)) => (b - a).num_seconds(),
        _ => 0,
    }
}

fn utc_date(time: &str) -> Option<NaiveDate> {
    time.parse::<DateTime<Utc>>().ok().map(|t| t.date_naive())
}

fn format_length(seconds: i64) -> String {
    format!("{}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60)
}
