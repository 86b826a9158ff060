//! The project lifecycle: create, grant and revoke roles, change, extend, suspend, resume,
//! terminate and purge. Each function checks the role and rules it needs and returns what it did;
//! `project::cli` prints it. All refusals happen before anything is written.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::NaiveDate;

use super::layout::{Area, Layout};
use super::open::{Gate, Project};
use super::record::{
    self, Change, EndRule, Extension, Member, ProjectRecord, Purpose, Role, State, Status, Suspension,
};
use crate::audit::Direction;
use crate::center::Actor;
use crate::center::users::Users;
use crate::error::{Error, IoContext, Result};
use crate::store::{self, require_identifier};

/// What a reviewer approves when creating a project.
#[derive(Debug, Clone)]
pub struct NewProject {
    pub id: String,
    pub title: String,
    pub question: String,
    pub summary: String,
    pub purpose: Purpose,
    pub organization: String,
    pub contractor: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub end_rule: Option<EndRule>,
    pub extraction_from: NaiveDate,
    pub extraction_to: NaiveDate,
    pub drug: Option<String>,
    pub disclose_drug_from: Option<NaiveDate>,
}

/// Create a project (reviewer): its registry entry with a pseudonym for every registered site,
/// and its work area. Nothing is created when a rule refuses it.
pub fn create(actor: &Actor, new: &NewProject) -> Result<ProjectRecord> {
    actor.require_reviewer("creating a project")?;
    let record = approve(actor, new)?;
    let home = actor.home();
    let _lock = home.lock_documents()?;
    if record::entry_path(home, &new.id).exists() || home.areas_dir().join(&new.id).exists() {
        return Err(crate::bad_input!("project {} already exists; choose another id", new.id));
    }
    let staging = Layout::at(home.areas_dir().join(format!(".new-{}-{}", new.id, std::process::id())));
    let built = staging.create().and_then(|()| {
        std::fs::rename(staging.root(), home.areas_dir().join(&new.id)).at(home.areas_dir().join(&new.id))
    });
    if let Err(e) = built {
        let _ = std::fs::remove_dir_all(staging.root());
        return Err(e);
    }
    if let Err(e) = record::save(home, &record) {
        let _ = std::fs::remove_dir_all(home.areas_dir().join(&new.id));
        return Err(e);
    }
    Ok(record)
}

/// Check a new project against the guideline's rules and build its registry entry.
fn approve(actor: &Actor, new: &NewProject) -> Result<ProjectRecord> {
    require_identifier("project id", &new.id)?;
    for (what, value) in [("--title", &new.title), ("--question", &new.question), ("--organization", &new.organization)]
    {
        if value.trim().is_empty() {
            return Err(crate::bad_input!("project {}: {what} is empty", new.id));
        }
    }
    let contractor = Users::load(actor.home())?.get(&new.contractor)?.clone();
    if contractor.disabled {
        return Err(crate::bad_input!("project {}: contractor {} is disabled", new.id, contractor.id));
    }
    if new.end < new.start {
        return Err(crate::bad_input!("project {}: --end {} is before --start {}", new.id, new.end, new.start));
    }
    if new.extraction_to < new.extraction_from {
        return Err(crate::bad_input!(
            "project {}: --extraction-to {} is before --extraction-from {}",
            new.id,
            new.extraction_to,
            new.extraction_from
        ));
    }
    match (new.purpose, new.end_rule) {
        (Purpose::PostMarketing, None) => {
            return Err(Error::refused(
                "end_rule",
                format!(
                    "project {}: a post-marketing study states its end rule: --end-rule reexamination:DATE \
                     (3 months after the expected re-examination result) or rmp-report:DATE (2 years after the \
                     risk-management-plan report)",
                    new.id
                ),
            ));
        }
        (Purpose::PostMarketing, Some(_)) => {}
        (purpose, Some(_)) => {
            return Err(crate::bad_input!(
                "project {}: --end-rule applies to post-marketing studies only, not {}",
                new.id,
                purpose.name()
            ));
        }
        (_, None) => {}
    }
    let latest = record::latest_end(new.purpose, new.start, new.end_rule).expect("end rule checked above");
    if new.end > latest {
        let why = match new.end_rule {
            Some(rule) => format!("its end rule ({rule}) allows {latest} at the latest"),
            None => {
                format!("a {} project's usage period is at most 2 years: {latest} at the latest", new.purpose.name())
            }
        };
        return Err(Error::refused("usage_period", format!("project {}: --end {}: {why}", new.id, new.end)));
    }
    if new.purpose == Purpose::SignalRefinement && (new.drug.is_none() || new.disclose_drug_from.is_none()) {
        return Err(crate::bad_input!(
            "project {}: a signal-refinement project names its --drug-name and the day the register may show it \
             (--disclose-drug-from DATE); until then the register withholds it",
            new.id
        ));
    }
    let sites: Vec<String> = crate::center::sites::registered(actor.home())?.into_iter().map(|s| s.id).collect();
    let mut record = ProjectRecord {
        id: new.id.clone(),
        title: new.title.trim().to_string(),
        question: new.question.trim().to_string(),
        summary: new.summary.trim().to_string(),
        purpose: new.purpose,
        organization: new.organization.trim().to_string(),
        start: new.start,
        end: new.end,
        approved_end: new.end,
        end_rule: new.end_rule,
        extraction_from: new.extraction_from,
        extraction_to: new.extraction_to,
        drug: new.drug.clone(),
        disclose_drug_from: new.disclose_drug_from,
        members: vec![Member { user: contractor.id, role: Role::Contractor }],
        status: Status::Active,
        suspended: None,
        extensions: Vec::new(),
        changes: Vec::new(),
        retention_years: 5,
        terminated: None,
        purged: None,
        pseudonyms: BTreeMap::new(),
        created: actor.today(),
        created_by: actor.user().id.clone(),
    };
    record::assign_pseudonyms(&mut record, &sites);
    Ok(record)
}

/// Give `user` `role` in project `id` (reviewer or contractor; only a reviewer names contractors).
pub fn grant(actor: &Actor, id: &str, user: &str, role: Role) -> Result<()> {
    let mut project = actor.open_project(id, &[Role::Reviewer, Role::Contractor])?;
    check_grantable(&project, role)?;
    let target = Users::load(actor.home())?.get(user)?.clone();
    if target.disabled {
        return Err(crate::bad_input!("user {user} is disabled; a disabled user gets no role"));
    }
    if project.record().roles_of(user).contains(&role) {
        return Err(crate::bad_input!("user {user} already has the {role} role in project {id}"));
    }
    project.update(|r| {
        r.members.push(Member { user: user.to_string(), role });
        Ok(())
    })
}

/// Take `role` in project `id` away from `user`.
pub fn revoke(actor: &Actor, id: &str, user: &str, role: Role) -> Result<()> {
    let mut project = actor.open_project(id, &[Role::Reviewer, Role::Contractor])?;
    check_grantable(&project, role)?;
    if !project.record().roles_of(user).contains(&role) {
        return Err(Error::NotFound(format!("user {user} has no {role} role in project {id}")));
    }
    if role == Role::Contractor && project.record().members.iter().filter(|m| m.role == Role::Contractor).count() == 1 {
        return Err(crate::bad_input!(
            "project {id} keeps at least one contractor; grant another before revoking {user}"
        ));
    }
    project.update(|r| {
        r.members.retain(|m| !(m.user == user && m.role == role));
        Ok(())
    })
}

fn check_grantable(project: &Project, role: Role) -> Result<()> {
    match role {
        Role::Reviewer => Err(crate::bad_input!(
            "the reviewer role is center-wide: a reviewer creates reviewers with `midnet user add ID --reviewer`"
        )),
        Role::Contractor if project.role() != Role::Reviewer => {
            Err(Error::refused("role", format!("only a reviewer names the contractors of project {}", project.id())))
        }
        _ => Ok(()),
    }
}

/// A change application (第7 1): each field given is changed and recorded.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    pub title: Option<String>,
    pub question: Option<String>,
    pub summary: Option<String>,
    pub extraction_from: Option<NaiveDate>,
    pub extraction_to: Option<NaiveDate>,
    pub drug: Option<String>,
    pub retention_years: Option<u32>,
    /// An extension: must come alone (nothing else changes with an extension).
    pub end: Option<NaiveDate>,
    pub reason: String,
}

impl Changes {
    fn others_than_end(&self) -> Vec<&'static str> {
        let given = [
            ("title", self.title.is_some()),
            ("question", self.question.is_some()),
            ("summary", self.summary.is_some()),
            ("extraction-from", self.extraction_from.is_some()),
            ("extraction-to", self.extraction_to.is_some()),
            ("drug", self.drug.is_some()),
            ("retention-years", self.retention_years.is_some()),
        ];
        given.iter().filter(|(_, g)| *g).map(|(name, _)| *name).collect()
    }
}

/// Apply a change (contractor or reviewer). The research question of a project other than a
/// post-marketing study cannot change; an extension (`end`) goes through [`extend`] and must come
/// alone; every change is recorded with its date, author, old and new value.
pub fn change(actor: &Actor, id: &str, changes: &Changes) -> Result<Vec<Change>> {
    let others = changes.others_than_end();
    if let Some(end) = changes.end {
        if !others.is_empty() {
            return Err(Error::refused(
                "extension_alone",
                format!(
                    "project {id}: nothing else may change with an extension (also given: --{})",
                    others.join(", --")
                ),
            ));
        }
        return extend(actor, id, end, &changes.reason, false).map(|_| Vec::new());
    }
    if others.is_empty() {
        return Err(crate::bad_input!("project {id}: nothing to change; give the fields to change (see --help)"));
    }
    let mut project = actor.open_project(id, &[Role::Reviewer, Role::Contractor])?;
    let current = project.record().clone();
    if changes.question.is_some() && current.purpose != Purpose::PostMarketing {
        return Err(Error::refused(
            "research_question",
            format!(
                "project {id}: the research question of a {} project cannot change or be added to; a new question is a new application",
                current.purpose.name()
            ),
        ));
    }
    if let Some(years) = changes.retention_years {
        record::check_retention_request(&current, years, actor.today())?;
    }
    let from = changes.extraction_from.unwrap_or(current.extraction_from);
    let to = changes.extraction_to.unwrap_or(current.extraction_to);
    if to < from {
        return Err(crate::bad_input!(
            "project {id}: the extraction period would end ({to}) before it starts ({from})"
        ));
    }
    let (date, by, reason) = (actor.today(), actor.user().id.clone(), changes.reason.clone());
    let entry = |field: &str, old: String, new: String| Change {
        date,
        by: by.clone(),
        field: field.to_string(),
        from: old,
        to: new,
        reason: reason.clone(),
    };
    let mut recorded = Vec::new();
    let text = |v: &Option<String>| v.as_ref().map(|s| s.trim().to_string());
    if let Some(v) = text(&changes.title) {
        recorded.push(entry("title", current.title.clone(), v));
    }
    if let Some(v) = text(&changes.question) {
        recorded.push(entry("question", current.question.clone(), v));
    }
    if let Some(v) = text(&changes.summary) {
        recorded.push(entry("summary", current.summary.clone(), v));
    }
    if let Some(v) = changes.extraction_from {
        recorded.push(entry("extraction_from", current.extraction_from.to_string(), v.to_string()));
    }
    if let Some(v) = changes.extraction_to {
        recorded.push(entry("extraction_to", current.extraction_to.to_string(), v.to_string()));
    }
    if let Some(v) = text(&changes.drug) {
        recorded.push(entry("drug", current.drug.clone().unwrap_or_default(), v));
    }
    if let Some(v) = changes.retention_years {
        recorded.push(entry("retention_years", current.retention_years.to_string(), v.to_string()));
    }
    project.update(|r| {
        if let Some(v) = text(&changes.title) {
            r.title = v;
        }
        if let Some(v) = text(&changes.question) {
            r.question = v;
        }
        if let Some(v) = text(&changes.summary) {
            r.summary = v;
        }
        if let Some(v) = text(&changes.drug) {
            r.drug = Some(v);
        }
        if let Some(v) = changes.retention_years {
            r.retention_years = v;
        }
        r.extraction_from = from;
        r.extraction_to = to;
        r.changes.extend(recorded.iter().cloned());
        Ok(())
    })?;
    Ok(recorded)
}

/// Extend the usage period to `to` (contractor or reviewer; only a reviewer accepts a late
/// notification). See [`record::check_extension`] for the rules.
pub fn extend(actor: &Actor, id: &str, to: NaiveDate, reason: &str, accept_late: bool) -> Result<Extension> {
    let mut project = actor.open_project(id, &[Role::Reviewer, Role::Contractor])?;
    if accept_late && project.role() != Role::Reviewer {
        return Err(Error::refused("role", "only a reviewer accepts a late extension notification (--accept-late)"));
    }
    record::check_extension(project.record(), to, actor.today(), accept_late)?;
    let extension = Extension {
        filed: actor.today(),
        by: actor.user().id.clone(),
        from: project.record().end,
        to,
        late_accepted: actor.today() > crate::clock::sub_months(project.record().end, 4),
        reason: reason.to_string(),
    };
    project.update(|r| {
        r.end = to;
        r.extensions.push(extension.clone());
        Ok(())
    })?;
    Ok(extension)
}

/// Suspend a project (reviewer, e.g. on a violation, 第14 2): its work area refuses everyone but
/// the contractor's termination and the reviewer.
pub fn suspend(actor: &Actor, id: &str, reason: &str) -> Result<()> {
    let mut project = actor.open_project(id, &[Role::Reviewer])?;
    match project.record().state(actor.today()) {
        State::Terminated | State::Purged => {
            return Err(Error::refused(
                "terminated",
                format!("project {id} is terminated; there is nothing to suspend"),
            ));
        }
        State::Suspended => return Err(crate::bad_input!("project {id} is already suspended")),
        _ => {}
    }
    let suspension = Suspension { date: actor.today(), by: actor.user().id.clone(), reason: reason.to_string() };
    project.update(|r| {
        r.status = Status::Suspended;
        r.suspended = Some(suspension);
        Ok(())
    })
}

/// Lift a suspension (reviewer).
pub fn resume(actor: &Actor, id: &str) -> Result<()> {
    let mut project = actor.open_project(id, &[Role::Reviewer])?;
    if project.record().status != Status::Suspended {
        return Err(crate::bad_input!("project {id} is not suspended"));
    }
    project.update(|r| {
        r.status = Status::Active;
        r.suspended = None;
        Ok(())
    })
}

/// What `terminate` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Termination {
    pub project: String,
    /// Work files deleted (relative to the work area).
    pub deleted: Vec<PathBuf>,
    /// Kept until `retained_until`: analysis datasets, the project database, released statistics.
    pub kept: Vec<PathBuf>,
    pub retained_until: NaiveDate,
    /// Research projects: statistics exported from the center are to be deleted by this day.
    pub exported_statistics_delete_by: Option<NaiveDate>,
}

/// Terminate a project (its contractor, also after the end or while suspended; or a reviewer):
/// delete the work files (`work/`, `review/`), keep the analysis datasets, the project database and
/// the released statistics until the retention date, and mark the statistics exported by a
/// research project for deletion by the end (第12).
pub fn terminate(actor: &Actor, id: &str) -> Result<Termination> {
    let mut project = Project::open(actor, id, &[Role::Reviewer, Role::Contractor], Gate::Terminable)?;
    if matches!(project.record().status, Status::Terminated | Status::Purged) {
        return Err(Error::refused("terminated", format!("project {id} is already terminated")));
    }
    let layout = project.layout().clone();
    let mut deleted = Vec::new();
    for area in [Area::Work, Area::Review] {
        for file in layout.files(Some(area))? {
            record_deletion(actor, &project, &layout, &file)?;
            deleted.push(file);
        }
        let dir = layout.area(area);
        std::fs::remove_dir_all(&dir).at(&dir)?;
        store::create_private_dir(&dir)?;
    }
    let today = actor.today();
    project.update(|r| {
        r.status = Status::Terminated;
        r.terminated = Some(today);
        Ok(())
    })?;
    let record = project.record();
    Ok(Termination {
        project: id.to_string(),
        deleted,
        kept: layout.files(None)?,
        retained_until: record.retained_until(),
        exported_statistics_delete_by: record.exported_statistics_delete_by(),
    })
}

/// What `purge` deleted in one project.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Purged {
    pub project: String,
    pub retained_until: NaiveDate,
    pub deleted: Vec<PathBuf>,
}

/// Delete the work areas of projects past their retention date (reviewer): all projects, or
/// `only` one (refused with rule `retention` if it is still retained). Each deleted file is audited.
pub fn purge(actor: &Actor, only: Option<&str>) -> Result<Vec<Purged>> {
    actor.require_reviewer("purging projects")?;
    let today = actor.today();
    let candidates = match only {
        Some(id) => {
            let record = record::load(actor.home(), id)?;
            if record.status == Status::Purged {
                return Err(crate::bad_input!("project {id} was already purged on {}", record.purged.unwrap_or(today)));
            }
            if today <= record.retained_until() {
                return Err(Error::refused(
                    "retention",
                    format!(
                        "project {id} is retained until {}; nothing of it can be purged before then",
                        record.retained_until()
                    ),
                ));
            }
            vec![record]
        }
        None => record::all(actor.home())?
            .into_iter()
            .filter(|r| r.status != Status::Purged && today > r.retained_until())
            .collect(),
    };
    let mut purged = Vec::new();
    for candidate in candidates {
        let mut project = Project::open(actor, &candidate.id, &[Role::Reviewer], Gate::Terminable)?;
        let layout = project.layout().clone();
        let deleted = layout.files(None)?;
        for file in &deleted {
            record_deletion(actor, &project, &layout, file)?;
        }
        if layout.root().exists() {
            std::fs::remove_dir_all(layout.root()).at(layout.root())?;
        }
        project.update(|r| {
            r.status = Status::Purged;
            r.purged = Some(today);
            Ok(())
        })?;
        purged.push(Purged { project: candidate.id.clone(), retained_until: candidate.retained_until(), deleted });
    }
    Ok(purged)
}

/// Audit the deletion of `file` (relative to the work area) with the SHA-256 of its content; a
/// symbolic link is never followed out of the project: it is recorded by the SHA-256 of the path
/// it points to, and anything else that is not a regular file (a FIFO, a socket) by that of no
/// content.
fn record_deletion(actor: &Actor, project: &Project, layout: &Layout, file: &std::path::Path) -> Result<()> {
    let path = layout.root().join(file);
    let kind = std::fs::symlink_metadata(&path).at(&path)?.file_type();
    let sha = if kind.is_file() {
        crate::digest::sha256_file(&path)?
    } else if kind.is_symlink() {
        let target = std::fs::read_link(&path).at(&path)?;
        crate::digest::sha256_hex(target.as_os_str().as_encoded_bytes())
    } else {
        crate::digest::sha256_hex(b"")
    };
    project.record_file(actor, &path, &sha, Direction::Deleted)
}
