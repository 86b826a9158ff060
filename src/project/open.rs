//! Opening a project for a role: check the role, the lifecycle and take the project's lock.

use std::collections::BTreeMap;

use super::layout::{Area, Layout};
use super::record::{self, ProjectRecord, Role, State};
use crate::audit::Direction;
use crate::center::{Actor, Home};
use crate::error::{Error, Result};
use crate::store::FileLock;

/// A project opened by [`Actor::open_project`]: its registry entry as of opening, the role the
/// user acts in, its work area, and the project lock, held until this value is dropped.
#[derive(Debug)]
pub struct Project {
    record: ProjectRecord,
    role: Role,
    layout: Layout,
    home: Home,
    _lock: FileLock,
}

/// Which lifecycle states let a command through (the reviewer passes any but purged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gate {
    /// Only an active project (started, not ended, not suspended or terminated).
    Active,
    /// Also ended or suspended projects: the contractor's termination.
    Terminable,
}

impl Actor {
    /// Open project `id` for a command that needs one of `roles` (in order of preference;
    /// `Role::Reviewer` matches a reviewer of the center). Refuses (rule `role`) a user without
    /// such a role; refuses every role but the reviewer's when the project is not active (rules
    /// `usage_period`, `suspended`, `terminated`); takes the project lock, so a second command on
    /// the same project gets `Error::Busy`.
    pub fn open_project(&self, id: &str, roles: &[Role]) -> Result<Project> {
        Project::open(self, id, roles, Gate::Active)
    }

    /// The registry entry of project `id` and the role the user holds in it (any role, or
    /// reviewer), without the lifecycle gate or the lock: for showing a project.
    pub fn project_record(&self, id: &str) -> Result<(ProjectRecord, Role)> {
        let record = record::load(self.home(), id)?;
        let all = [Role::Reviewer, Role::Contractor, Role::Analyst, Role::StatisticsUser];
        let role = role_in(self, &record, &all)?;
        Ok((record, role))
    }
}

impl Project {
    pub(crate) fn open(actor: &Actor, id: &str, roles: &[Role], gate: Gate) -> Result<Project> {
        let home = actor.home();
        record::load(home, id)?;
        let mut lock = FileLock::try_take(&home.locks_dir().join(format!("project-{id}.lock")), |holder| {
            format!(
                "project {id} is busy: another midnet command is working on it ({holder}); run this one again when it has finished"
            )
        })?;
        lock.describe(&format!(
            "user {}, pid {}, since {}",
            actor.user().id,
            std::process::id(),
            crate::clock::format_utc(&crate::clock::now_utc())
        ));
        let record = record::load(home, id)?;
        let role = role_in(actor, &record, roles)?;
        if role != Role::Reviewer || record.state(actor.today()) == State::Purged {
            check_gate(&record, actor.today(), gate)?;
        }
        let layout = Layout::at(home.areas_dir().join(id));
        Ok(Project { record, role, layout, home: home.clone(), _lock: lock })
    }

    pub fn id(&self) -> &str {
        &self.record.id
    }

    pub fn record(&self) -> &ProjectRecord {
        &self.record
    }

    /// The role the user acts in.
    pub fn role(&self) -> Role {
        self.role
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// A user-given file name inside one of the areas; see [`Layout::resolve`].
    pub fn resolve(&self, area: Area, name: &str) -> Result<std::path::PathBuf> {
        self.layout.resolve(area, name)
    }

    /// This project's pseudonym for registered site `site_id` (hospital names never enter a project).
    pub fn pseudonym(&self, site_id: &str) -> Result<&str> {
        self.record.pseudonyms.get(site_id).map(String::as_str).ok_or_else(|| {
            Error::NotFound(format!(
                "site {site_id:?} is not in the home's site registry; a reviewer adds it with `midnet center sites add sites.toml`"
            ))
        })
    }

    /// Record a file entering, leaving or deleted from this project's work area in the audit trail,
    /// as `actor`: its path (relative to the work area when inside it) and SHA-256, which the
    /// caller computed while writing or verifying it ([`crate::digest::sha256_file`]).
    pub fn record_file(&self, actor: &Actor, path: &std::path::Path, sha256: &str, direction: Direction) -> Result<()> {
        actor.record_file(self.id(), self.layout.root(), path, sha256, direction)
    }

    /// Site id → pseudonym, for every registered site.
    pub fn pseudonyms(&self) -> &BTreeMap<String, String> {
        &self.record.pseudonyms
    }

    /// Change the registry entry: re-read it under the home's document lock, apply `change`,
    /// save, and keep the result.
    pub(crate) fn update(&mut self, change: impl FnOnce(&mut ProjectRecord) -> Result<()>) -> Result<()> {
        let _lock = self.home.lock_documents()?;
        let mut record = record::load(&self.home, &self.record.id)?;
        change(&mut record)?;
        record::save(&self.home, &record)?;
        self.record = record;
        Ok(())
    }
}

/// The first of `roles` the actor holds in `record`.
fn role_in(actor: &Actor, record: &ProjectRecord, roles: &[Role]) -> Result<Role> {
    let held = record.roles_of(&actor.user().id);
    roles
        .iter()
        .copied()
        .find(|r| if *r == Role::Reviewer { actor.is_reviewer() } else { held.contains(r) })
        .ok_or_else(|| {
            let need = roles.iter().map(Role::to_string).collect::<Vec<_>>().join(" or ");
            let has = if held.is_empty() {
                "no role".to_string()
            } else {
                held.iter().map(Role::to_string).collect::<Vec<_>>().join(", ")
            };
            Error::refused(
                "role",
                format!("this needs the {need} role in project {}; {} has {has} there", record.id, actor.user().id),
            )
        })
}

fn check_gate(record: &ProjectRecord, today: chrono::NaiveDate, gate: Gate) -> Result<()> {
    let id = &record.id;
    match record.state(today) {
        State::Active => Ok(()),
        State::NotStarted => Err(Error::refused(
            "usage_period",
            format!("project {id}'s usage period starts on {}; its work area opens then", record.start),
        )),
        State::Ended if gate == Gate::Terminable => Ok(()),
        State::Suspended if gate == Gate::Terminable => Ok(()),
        State::Ended => Err(Error::refused(
            "usage_period",
            format!(
                "project {id}'s usage period ended on {}; only the contractor's termination and the reviewer's commands are allowed",
                record.end
            ),
        )),
        State::Suspended => Err(Error::refused(
            "suspended",
            format!(
                "project {id} is suspended ({}); only the contractor's termination and the reviewer's commands are allowed",
                record.suspended.as_ref().map_or(String::new(), |s| format!("since {}: {}", s.date, s.reason))
            ),
        )),
        State::Terminated => Err(Error::refused(
            "terminated",
            format!(
                "project {id} was terminated on {}; its work area is closed",
                record.terminated.map_or(String::new(), |d| d.to_string())
            ),
        )),
        State::Purged => Err(Error::refused(
            "terminated",
            format!(
                "project {id} was purged on {}; its work area no longer exists",
                record.purged.map_or(String::new(), |d| d.to_string())
            ),
        )),
    }
}
