//! `midnet project ...`: every subcommand runs as the logged-in user and is audited.

use chrono::NaiveDate;
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::center::Actor;
use crate::cli::Global;
use crate::cli::as_user;
use crate::cli::terminal::{ALL_TEXT, date_arg, print_json, print_result, text_table};
use crate::error::Result;
use crate::project::lifecycle::{self, Changes, NewProject};
use crate::project::record::{EndRule, ProjectRecord, Purpose, Role};

#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Create an approved project and its work area (reviewer).
    Create(CreateArgs),
    /// A project's approval, roles, usage period, changes and retention.
    Show {
        /// The project's id.
        id: String,
        /// Print the project's record, its state today and its retention dates as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The projects you hold a role in (a reviewer sees all).
    List {
        /// Print the list as JSON: [{"id", "purpose", "state", "start", "end", "roles", "title"}].
        #[arg(long)]
        json: bool,
    },
    /// Give a user a role in a project (reviewer or contractor; contractors are named by a reviewer).
    Grant(MembershipArgs),
    /// Take a role in a project away from a user.
    Revoke(MembershipArgs),
    /// Apply a change to an approved project; every change is recorded (contractor or reviewer).
    Change(ChangeArgs),
    /// Extend the usage period: at most 2 years, at most twice, applied for at least 4 months
    /// before the end (contractor or reviewer).
    Extend {
        /// The project's id.
        id: String,
        /// The new end of the usage period (YYYY-MM-DD).
        #[arg(long, value_parser = date_arg, value_name = "DATE")]
        to: NaiveDate,
        /// Why the project needs more time (recorded with the extension).
        #[arg(long, default_value = "")]
        reason: String,
        /// Accept an extension notified less than 4 months before the end (reviewer).
        #[arg(long)]
        accept_late: bool,
        /// Print the extension as JSON: {"project", "filed", "by", "from", "to", "late_accepted",
        /// "reason"}.
        #[arg(long)]
        json: bool,
    },
    /// Suspend a project: its work area refuses everyone but the contractor's termination and the reviewer (reviewer).
    Suspend {
        /// The project's id.
        id: String,
        /// Why the project is suspended (recorded, shown by `project show`).
        #[arg(long)]
        reason: String,
        /// Print the project's state afterwards as JSON: {"project", "state"}.
        #[arg(long)]
        json: bool,
    },
    /// Lift a suspension (reviewer).
    Resume {
        /// The project's id.
        id: String,
        /// Print the project's state afterwards as JSON: {"project", "state"}.
        #[arg(long)]
        json: bool,
    },
    /// End a project: delete the work files, keep datasets and statistics until the retention date (contractor or reviewer).
    Terminate {
        /// The project's id.
        id: String,
        /// Print what was deleted and kept as JSON: {"project", "deleted", "kept", "retained_until",
        /// "exported_statistics_delete_by"}.
        #[arg(long)]
        json: bool,
    },
    /// Delete what is past its retention date, and say what was deleted (reviewer).
    Purge {
        /// Only this project (default: every project past its retention date).
        id: Option<String>,
        /// Print what was purged as JSON: [{"project", "retained_until", "deleted"}].
        #[arg(long)]
        json: bool,
    },
    /// The public register of approved projects (who, what); a signal-refinement drug is withheld until its date.
    Register {
        /// Print the register as JSON, one object per project.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct MembershipArgs {
    /// The project's id.
    pub id: String,
    /// The user's id.
    pub user: String,
    /// The role.
    #[arg(value_enum)]
    pub role: Role,
    /// Print the membership as JSON: {"project", "user", "role"}.
    #[arg(long)]
    pub json: bool,
}

/// A role of a user in a project, as `project grant` and `project revoke` report it.
#[derive(Serialize)]
struct Membership<'a> {
    project: &'a str,
    user: &'a str,
    role: Role,
}

/// A project's state after `project suspend` or `project resume`.
#[derive(Serialize)]
struct ProjectState {
    project: String,
    state: crate::project::State,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The new project's id (letters, digits, `-` and `_`).
    pub id: String,
    /// The project's title, as the public register shows it.
    #[arg(long)]
    pub title: String,
    /// The one research question the project answers.
    #[arg(long)]
    pub question: String,
    /// A summary for the public register (default: the research question).
    #[arg(long, default_value = "")]
    pub summary: String,
    /// What the data is used for; it decides the rules the project works under.
    #[arg(long, value_enum)]
    pub purpose: Purpose,
    /// The contractor's organization.
    #[arg(long)]
    pub organization: String,
    /// User id of the contractor.
    #[arg(long, value_name = "ID")]
    pub contractor: String,
    /// The first day of the usage period (YYYY-MM-DD).
    #[arg(long, value_parser = date_arg, value_name = "DATE")]
    pub start: NaiveDate,
    /// The last day of the usage period (YYYY-MM-DD).
    #[arg(long, value_parser = date_arg, value_name = "DATE")]
    pub end: NaiveDate,
    /// Post-marketing studies: reexamination:DATE or rmp-report:DATE (YYYY-MM-DD).
    #[arg(long, value_parser = end_rule, value_name = "RULE:DATE")]
    pub end_rule: Option<EndRule>,
    /// The first day of the data the project may extract (YYYY-MM-DD).
    #[arg(long, value_parser = date_arg, value_name = "DATE")]
    pub extraction_from: NaiveDate,
    /// The last day of the data the project may extract (YYYY-MM-DD).
    #[arg(long, value_parser = date_arg, value_name = "DATE")]
    pub extraction_to: NaiveDate,
    /// The drug the project studies, as the public register names it.
    #[arg(long, value_name = "NAME")]
    pub drug_name: Option<String>,
    /// Signal refinement: the register shows the drug from this day on (YYYY-MM-DD).
    #[arg(long, value_parser = date_arg, value_name = "DATE")]
    pub disclose_drug_from: Option<NaiveDate>,
    /// Print the new project's record as JSON (the fields of `project show --json` but its state).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ChangeArgs {
    /// The project's id.
    pub id: String,
    /// A new title.
    #[arg(long)]
    pub title: Option<String>,
    /// Post-marketing studies only: the research question of any other project cannot change.
    #[arg(long)]
    pub question: Option<String>,
    /// A new summary for the public register.
    #[arg(long)]
    pub summary: Option<String>,
    /// A new first day of the data the project may extract (YYYY-MM-DD).
    #[arg(long, value_parser = date_arg, value_name = "DATE")]
    pub extraction_from: Option<NaiveDate>,
    /// A new last day of the data the project may extract (YYYY-MM-DD).
    #[arg(long, value_parser = date_arg, value_name = "DATE")]
    pub extraction_to: Option<NaiveDate>,
    /// A new drug name for the public register.
    #[arg(long, value_name = "NAME")]
    pub drug_name: Option<String>,
    /// Keep datasets and statistics this many years after the end (5-10), requested at least 6
    /// months before the end.
    #[arg(long, value_name = "YEARS")]
    pub retention_years: Option<u32>,
    /// A new end date (YYYY-MM-DD): an extension, which must come alone.
    #[arg(long, value_parser = date_arg, value_name = "DATE")]
    pub end: Option<NaiveDate>,
    /// Why the project changes (recorded with each change).
    #[arg(long, default_value = "")]
    pub reason: String,
    /// Print the changes as JSON: {"project", "extended_to", "changes": [{"date", "field", "by", "from", "to"}]}.
    #[arg(long)]
    pub json: bool,
}

/// What `project change` recorded.
#[derive(Serialize)]
struct Changed {
    project: String,
    extended_to: Option<NaiveDate>,
    changes: Vec<crate::project::record::Change>,
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
                drug: a.drug_name,
                disclose_drug_from: a.disclose_drug_from,
            };
            let record = lifecycle::create(actor, &new)?;
            print_result(a.json, &record, |record| {
                format!(
                    "created project {} ({}, {} to {}), contractor {}; work area {}",
                    record.id,
                    record.purpose.name(),
                    record.start,
                    record.end,
                    new.contractor,
                    actor.home().areas_dir().join(&record.id).display()
                )
            })
        }),
        ProjectCommand::Show { id, json } => {
            as_user(global, "project show", Some(&id.clone()), |actor| show(actor, &id, json))
        }
        ProjectCommand::List { json } => as_user(global, "project list", None, |actor| list(actor, json)),
        ProjectCommand::Grant(a) => as_user(global, "project grant", Some(&a.id.clone()), |actor| {
            lifecycle::grant(actor, &a.id, &a.user, a.role)?;
            let granted = Membership { project: &a.id, user: &a.user, role: a.role };
            print_result(a.json, &granted, |m| format!("granted {} in project {} to {}", m.role, m.project, m.user))
        }),
        ProjectCommand::Revoke(a) => as_user(global, "project revoke", Some(&a.id.clone()), |actor| {
            lifecycle::revoke(actor, &a.id, &a.user, a.role)?;
            let revoked = Membership { project: &a.id, user: &a.user, role: a.role };
            print_result(a.json, &revoked, |m| format!("revoked {} in project {} from {}", m.role, m.project, m.user))
        }),
        ProjectCommand::Change(a) => as_user(global, "project change", Some(&a.id.clone()), |actor| {
            let changes = Changes {
                title: a.title,
                question: a.question,
                summary: a.summary,
                extraction_from: a.extraction_from,
                extraction_to: a.extraction_to,
                drug: a.drug_name,
                retention_years: a.retention_years,
                end: a.end,
                reason: a.reason,
            };
            let changes = lifecycle::change(actor, &a.id, &changes)?;
            let changed = Changed { project: a.id, extended_to: a.end, changes };
            print_result(a.json, &changed, |c| {
                let extended = c.extended_to.map(|end| format!("extended project {} to {end}", c.project));
                let each = c.changes.iter().map(|change| {
                    format!("changed {} of project {}: {:?} -> {:?}", change.field, c.project, change.from, change.to)
                });
                extended.into_iter().chain(each).collect::<Vec<_>>().join("\n")
            })
        }),
        ProjectCommand::Extend { id, to, reason, accept_late, json } => {
            as_user(global, "project extend", Some(&id.clone()), |actor| {
                let ext = lifecycle::extend(actor, &id, to, &reason, accept_late)?;
                #[derive(Serialize)]
                struct Extended<'a> {
                    project: &'a str,
                    #[serde(flatten)]
                    extension: &'a crate::project::record::Extension,
                }
                print_result(json, &Extended { project: &id, extension: &ext }, |e| {
                    format!(
                        "extended project {} from {} to {}{}",
                        e.project,
                        e.extension.from,
                        e.extension.to,
                        if e.extension.late_accepted { " (late notification accepted)" } else { "" }
                    )
                })
            })
        }
        ProjectCommand::Suspend { id, reason, json } => {
            as_user(global, "project suspend", Some(&id.clone()), |actor| {
                lifecycle::suspend(actor, &id, &reason)?;
                print_result(json, &state_of(actor, &id)?, |s| format!("suspended project {}", s.project))
            })
        }
        ProjectCommand::Resume { id, json } => as_user(global, "project resume", Some(&id.clone()), |actor| {
            lifecycle::resume(actor, &id)?;
            print_result(json, &state_of(actor, &id)?, |s| format!("resumed project {} ({})", s.project, s.state))
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

/// A project's state today, as `actor` reads its record.
fn state_of(actor: &Actor, id: &str) -> Result<ProjectState> {
    let (record, _) = actor.project_record(id)?;
    Ok(ProjectState { project: record.id.clone(), state: record.state(actor.today()) })
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
