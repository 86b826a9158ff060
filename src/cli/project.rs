//! `midnet project ...`: every subcommand runs as the logged-in user and is audited.

use chrono::NaiveDate;
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::center::Actor;
use crate::cli::Global;
use crate::cli::as_user;
use crate::cli::terminal::{ALL_TEXT, date_arg, print_json, text_table};
use crate::error::Result;
use crate::project::lifecycle::{self, Changes, NewProject};
use crate::project::record::{EndRule, ProjectRecord, Purpose, Role};

#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Create an approved project and its work area (reviewer).
    Create(CreateArgs),
    /// A project's approval, roles, usage period, changes and retention.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// The projects you hold a role in (a reviewer sees all).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Give a user a role in a project (reviewer or contractor; contractors are named by a reviewer).
    Grant { id: String, user: String, role: Role },
    /// Take a role in a project away from a user.
    Revoke { id: String, user: String, role: Role },
    /// Apply a change to an approved project; every change is recorded (contractor or reviewer).
    Change(ChangeArgs),
    /// Extend the usage period: at most 2 years, at most twice, applied for at least 4 months
    /// before the end (contractor or reviewer).
    Extend {
        id: String,
        /// The new end of the usage period.
        #[arg(long, value_parser = date_arg)]
        to: NaiveDate,
        #[arg(long, default_value = "")]
        reason: String,
        /// Accept an extension notified less than 4 months before the end (reviewer).
        #[arg(long)]
        accept_late: bool,
    },
    /// Suspend a project: its work area refuses everyone but the contractor's termination and the reviewer (reviewer).
    Suspend {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Lift a suspension (reviewer).
    Resume { id: String },
    /// End a project: delete the work files, keep datasets and statistics until the retention date (contractor or reviewer).
    Terminate {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete what is past its retention date, and say what was deleted (reviewer).
    Purge {
        /// Only this project (default: every project past its retention date).
        id: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The public register of approved projects (who, what); a signal-refinement drug is withheld until its date.
    Register {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    pub id: String,
    #[arg(long)]
    pub title: String,
    /// The one research question the project answers.
    #[arg(long)]
    pub question: String,
    /// A summary for the public register (default: the research question).
    #[arg(long, default_value = "")]
    pub summary: String,
    #[arg(long, value_enum)]
    pub purpose: Purpose,
    /// The contractor's organization.
    #[arg(long)]
    pub organization: String,
    /// User id of the contractor.
    #[arg(long, value_name = "USER")]
    pub contractor: String,
    #[arg(long, value_parser = date_arg)]
    pub start: NaiveDate,
    /// The last day of the usage period.
    #[arg(long, value_parser = date_arg)]
    pub end: NaiveDate,
    /// Post-marketing studies: reexamination:DATE or rmp-report:DATE.
    #[arg(long, value_parser = end_rule)]
    pub end_rule: Option<EndRule>,
    #[arg(long, value_parser = date_arg)]
    pub extraction_from: NaiveDate,
    #[arg(long, value_parser = date_arg)]
    pub extraction_to: NaiveDate,
    #[arg(long)]
    pub drug: Option<String>,
    /// Signal refinement: the register shows the drug from this day on.
    #[arg(long, value_parser = date_arg)]
    pub disclose_drug_from: Option<NaiveDate>,
}

#[derive(Debug, Args)]
pub struct ChangeArgs {
    pub id: String,
    #[arg(long)]
    pub title: Option<String>,
    /// Post-marketing studies only: the research question of any other project cannot change.
    #[arg(long)]
    pub question: Option<String>,
    #[arg(long)]
    pub summary: Option<String>,
    #[arg(long, value_parser = date_arg)]
    pub extraction_from: Option<NaiveDate>,
    #[arg(long, value_parser = date_arg)]
    pub extraction_to: Option<NaiveDate>,
    #[arg(long)]
    pub drug: Option<String>,
    /// Keep datasets and statistics this many years after the end (5-10), requested at least 6
    /// months before the end.
    #[arg(long)]
    pub retention_years: Option<u32>,
    /// A new end date: an extension, which must come alone.
    #[arg(long, value_parser = date_arg)]
    pub end: Option<NaiveDate>,
    #[arg(long, default_value = "")]
    pub reason: String,
}

pub fn run(global: &Global, command: ProjectCommand) -> Result<()> {
    match command {
        ProjectCommand::Create(a) => as_user(global, "project create", Some(&a.id.clone()), |actor| {
            let new = NewProject {
                id: a.id,
                title: a.title,
                question: a.question,
                summary: a.summary,
                purpose: a.purpose,
                organization: a.organization,
                contractor: a.contractor,
                start: a.start,
                end: a.end,
                end_rule: a.end_rule,
                extraction_from: a.extraction_from,
                extraction_to: a.extraction_to,
                drug: a.drug,
                disclose_drug_from: a.disclose_drug_from,
            };
            let record = lifecycle::create(actor, &new)?;
            println!(
                "created project {} ({}, {} to {}), contractor {}; work area {}",
                record.id,
                record.purpose.name(),
                record.start,
                record.end,
                new.contractor,
                actor.home().areas_dir().join(&record.id).display()
            );
            Ok(())
        }),
        ProjectCommand::Show { id, json } => {
            as_user(global, "project show", Some(&id.clone()), |actor| show(actor, &id, json))
        }
        ProjectCommand::List { json } => as_user(global, "project list", None, |actor| list(actor, json)),
        ProjectCommand::Grant { id, user, role } => as_user(global, "project grant", Some(&id.clone()), |actor| {
            lifecycle::grant(actor, &id, &user, role)?;
            println!("granted {role} in project {id} to {user}");
            Ok(())
        }),
        ProjectCommand::Revoke { id, user, role } => as_user(global, "project revoke", Some(&id.clone()), |actor| {
            lifecycle::revoke(actor, &id, &user, role)?;
            println!("revoked {role} in project {id} from {user}");
            Ok(())
        }),
        ProjectCommand::Change(a) => as_user(global, "project change", Some(&a.id.clone()), |actor| {
            let changes = Changes {
                title: a.title,
                question: a.question,
                summary: a.summary,
                extraction_from: a.extraction_from,
                extraction_to: a.extraction_to,
                drug: a.drug,
                retention_years: a.retention_years,
                end: a.end,
                reason: a.reason,
            };
            let recorded = lifecycle::change(actor, &a.id, &changes)?;
            if let Some(end) = changes.end {
                println!("extended project {} to {end}", a.id);
            }
            for c in recorded {
                println!("changed {} of project {}: {:?} -> {:?}", c.field, a.id, c.from, c.to);
            }
            Ok(())
        }),
        ProjectCommand::Extend { id, to, reason, accept_late } => {
            as_user(global, "project extend", Some(&id.clone()), |actor| {
                let ext = lifecycle::extend(actor, &id, to, &reason, accept_late)?;
                println!(
                    "extended project {id} from {} to {}{}",
                    ext.from,
                    ext.to,
                    if ext.late_accepted { " (late notification accepted)" } else { "" }
                );
                Ok(())
            })
        }
        ProjectCommand::Suspend { id, reason } => as_user(global, "project suspend", Some(&id.clone()), |actor| {
            lifecycle::suspend(actor, &id, &reason)?;
            println!("suspended project {id}");
            Ok(())
        }),
        ProjectCommand::Resume { id } => as_user(global, "project resume", Some(&id.clone()), |actor| {
            lifecycle::resume(actor, &id)?;
            println!("resumed project {id}");
            Ok(())
        }),
        ProjectCommand::Terminate { id, json } => as_user(global, "project terminate", Some(&id.clone()), |actor| {
            let t = lifecycle::terminate(actor, &id)?;
            if json {
                return print_json(&t);
            }
            println!("terminated project {id}: deleted {} work files", t.deleted.len());
            for f in &t.deleted {
                println!("  deleted {}", f.display());
            }
            println!("kept until {} (analysis datasets, the project database, released statistics):", t.retained_until);
            for f in &t.kept {
                println!("  kept {}", f.display());
            }
            if let Some(by) = t.exported_statistics_delete_by {
                println!("statistics exported by this project are marked for deletion by {by} (guideline 第12 4(3))");
            }
            Ok(())
        }),
        ProjectCommand::Purge { id, json } => as_user(global, "project purge", id.as_deref(), |actor| {
            let purged = lifecycle::purge(actor, id.as_deref())?;
            if json {
                return print_json(&purged);
            }
            if purged.is_empty() {
                println!("nothing is past its retention date");
            }
            for p in purged {
                println!(
                    "purged project {} (retained until {}): deleted {} files",
                    p.project,
                    p.retained_until,
                    p.deleted.len()
                );
                for f in p.deleted {
                    println!("  deleted {}", f.display());
                }
            }
            Ok(())
        }),
        ProjectCommand::Register { json } => as_user(global, "project register", None, |actor| {
            let entries = crate::project::register::register(actor.home(), actor.today())?;
            if json {
                return print_json(&entries);
            }
            let rows: Vec<Vec<String>> = entries
                .into_iter()
                .map(|e| {
                    vec![
                        e.project,
                        e.organization,
                        e.contractors.join(", "),
                        e.purpose.to_string(),
                        e.drug,
                        format!("{} to {}", e.start, e.end),
                        e.status.to_string(),
                        e.title,
                    ]
                })
                .collect();
            print!(
                "{}",
                text_table(
                    &["project", "organization", "contractor", "purpose", "drug", "period", "status", "title"],
                    &rows,
                    ALL_TEXT
                )
            );
            Ok(())
        }),
    }
}

/// `project show`: the entry, its state today, and (for a reviewer) the site pseudonyms.
fn show(actor: &Actor, id: &str, json: bool) -> Result<()> {
    let (mut record, role) = actor.project_record(id)?;
    if role != Role::Reviewer {
        record.pseudonyms.clear();
    }
    let state = record.state(actor.today());
    if json {
        #[derive(Serialize)]
        struct Shown<'a> {
            #[serde(flatten)]
            record: &'a ProjectRecord,
            state: crate::project::State,
            retained_until: NaiveDate,
            exported_statistics_delete_by: Option<NaiveDate>,
        }
        return print_json(&Shown {
            record: &record,
            state,
            retained_until: record.retained_until(),
            exported_statistics_delete_by: record.exported_statistics_delete_by(),
        });
    }
    let r = &record;
    println!("project {} ({})", r.id, state);
    println!("  title:        {}", r.title);
    println!("  question:     {}", r.question);
    println!("  purpose:      {}", r.purpose.name());
    println!("  organization: {}", r.organization);
    println!("  usage period: {} to {} (approved to {})", r.start, r.end, r.approved_end);
    if let Some(rule) = r.end_rule {
        println!("  end rule:     {rule}");
    }
    println!("  extraction:   {} to {}", r.extraction_from, r.extraction_to);
    if let Some(drug) = &r.drug {
        println!("  drug:         {drug}");
    }
    let members: Vec<String> = r.members.iter().map(|m| format!("{} ({})", m.user, m.role)).collect();
    println!("  members:      {}", members.join(", "));
    for e in &r.extensions {
        println!(
            "  extension:    {} -> {} filed {} by {}{}",
            e.from,
            e.to,
            e.filed,
            e.by,
            if e.late_accepted { " (late, accepted)" } else { "" }
        );
    }
    for c in &r.changes {
        println!("  change:       {} {} by {}: {:?} -> {:?}", c.date, c.field, c.by, c.from, c.to);
    }
    if let Some(s) = &r.suspended {
        println!("  suspended:    since {} by {}: {}", s.date, s.by, s.reason);
    }
    if let Some(t) = r.terminated {
        println!("  terminated:   {t}");
    }
    println!("  retention:    {} years, until {}", r.retention_years, r.retained_until());
    if let Some(by) = r.exported_statistics_delete_by() {
        println!("  exported statistics to be deleted by {by} (第12 4(3))");
    }
    if let Some(p) = r.purged {
        println!("  purged:       {p}");
    }
    for (site, pseudonym) in &r.pseudonyms {
        println!("  pseudonym:    {site} = {pseudonym}");
    }
    Ok(())
}

fn list(actor: &Actor, json: bool) -> Result<()> {
    let user = &actor.user().id;
    let visible: Vec<ProjectRecord> = crate::project::record::all(actor.home())?
        .into_iter()
        .filter(|r| actor.is_reviewer() || !r.roles_of(user).is_empty())
        .collect();
    let rows: Vec<Vec<String>> = visible
        .iter()
        .map(|r| {
            let roles: Vec<String> = r.roles_of(user).iter().map(Role::to_string).collect();
            vec![
                r.id.clone(),
                r.purpose.name().to_string(),
                r.state(actor.today()).to_string(),
                r.start.to_string(),
                r.end.to_string(),
                roles.join(", "),
                r.title.clone(),
            ]
        })
        .collect();
    if json {
        let list: Vec<_> = visible
            .iter()
            .zip(&rows)
            .map(|(r, row)| serde_json::json!({"id": r.id, "purpose": row[1], "state": row[2], "start": r.start, "end": r.end, "roles": r.roles_of(user), "title": r.title}))
            .collect();
        return print_json(&list);
    }
    print!("{}", text_table(&["project", "purpose", "state", "start", "end", "your roles", "title"], &rows, ALL_TEXT));
    Ok(())
}

fn end_rule(text: &str) -> std::result::Result<EndRule, String> {
    EndRule::parse(text).map_err(|e| e.to_string())
}
