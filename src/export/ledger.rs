//! The release ledger (台帳, guideline 別紙 2(3)): every file that left a project's work area
//! through the gate, and its whereabouts since. One JSON event per line of
//! `export/ledger.jsonl`: a file released (request, requester, reviewer, SHA-256), published,
//! fetched (who took it, and where to), lost or deleted (which copy). Every event is also in the
//! audit trail (the command that made it, and the file movement), which is tamper-evident.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::gate;
use crate::audit::Direction;
use crate::center::Actor;
use crate::clock;
use crate::error::{Error, IoContext, Result};
use crate::project::{Area, Layout, Role};

/// What a file of a request is, for the reviewer and the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileRole {
    Table,
    /// A table's sidecar (`NAME.meta.json`): its columns' roles and its provenance.
    Sidecar,
    Figure,
    Text,
    /// A program that produced the statistics.
    Program,
    /// The project's commands from the audit trail.
    WorkLog,
    /// Anything else: never exportable (`file_type`).
    Other,
}

display_as_serialized!(FileRole);

impl FileRole {
    /// The role of a statistics file by its name.
    pub fn of_name(name: &str) -> FileRole {
        let lower = name.to_lowercase();
        let ext = Path::new(&lower).extension().map(|e| e.to_string_lossy().into_owned()).unwrap_or_default();
        if lower.ends_with(".meta.json") {
            return FileRole::Sidecar;
        }
        match ext.as_str() {
            "csv" | "parquet" => FileRole::Table,
            "png" | "svg" => FileRole::Figure,
            "txt" | "md" => FileRole::Text,
            _ => FileRole::Other,
        }
    }

    /// Whether the gate's table, figure and file-type checks apply (programs and the work log are
    /// checked as text, sidecars with their table).
    pub(super) fn checked_as_statistics(self) -> bool {
        matches!(self, FileRole::Table | FileRole::Figure | FileRole::Text | FileRole::Other)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// Approved and copied into `released/`.
    Released,
    /// Approved for publication (第11).
    Published,
    /// Copied out of the data center by a user.
    Fetched,
    /// A copy out of the data center was lost (第14 1(2)).
    Lost,
    /// A copy out of the data center was deleted.
    Deleted,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub seq: u64,
    /// UTC time.
    pub time: String,
    pub event: Event,
    /// The file, as a path under `released/`.
    pub file: String,
    pub sha256: String,
    pub role: FileRole,
    /// Who released, published, fetched, or reported the loss or deletion.
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requester: Option<String>,
    /// Fetched: where the copy went; lost, deleted: which copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

impl Entry {
    /// An event about `file`; `append` numbers and time-stamps it.
    pub fn new(event: Event, file: &str, sha256: &str, role: FileRole, by: &str) -> Entry {
        Entry {
            seq: 0,
            time: String::new(),
            event,
            file: file.to_string(),
            sha256: sha256.to_string(),
            role,
            by: by.to_string(),
            request: None,
            requester: None,
            copy: None,
            note: String::new(),
        }
    }
}

/// The ledger of one project.
#[derive(Debug, Clone)]
pub struct Ledger {
    path: PathBuf,
    pub entries: Vec<Entry>,
}

impl Ledger {
    pub fn read(layout: &Layout) -> Result<Ledger> {
        let path = gate::ledger_path(layout);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(Error::io(&path, e)),
        };
        let entries = text
            .lines()
            .enumerate()
            .map(|(i, line)| {
                serde_json::from_str(line).map_err(|e| {
                    Error::Integrity(format!(
                        "{} line {}: not a ledger entry ({e}); the ledger was changed outside midnet: restore it \
                         from a backup (the audit trail holds every event)",
                        path.display(),
                        i + 1
                    ))
                })
            })
            .collect::<Result<Vec<Entry>>>()?;
        Ok(Ledger { path, entries })
    }

    /// Number, time-stamp and append `events`, and flush them to disk.
    pub fn append(&mut self, events: Vec<Entry>) -> Result<()> {
        let time = clock::format_utc(&clock::now_utc());
        let mut text = String::new();
        for mut e in events {
            e.seq = self.entries.last().map_or(0, |l| l.seq) + 1;
            e.time = time.clone();
            let line = serde_json::to_string(&e).map_err(|err| Error::Internal(format!("ledger entry: {err}")))?;
            text.push_str(&line);
            text.push('\n');
            self.entries.push(e);
        }
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&self.path).at(&self.path)?;
        file.write_all(text.as_bytes()).at(&self.path)?;
        file.sync_data().at(&self.path)
    }

    /// The release of each file, in order.
    pub fn releases(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| e.event == Event::Released)
    }

    /// The paths of the released tables: operands of the differencing check for new requests.
    pub fn released_tables(&self, layout: &Layout) -> Vec<PathBuf> {
        let released = layout.area(Area::Released);
        self.releases().filter(|e| e.role == FileRole::Table).map(|e| released.join(&e.file)).collect()
    }

    /// The paths of the tables approved for publication, each once.
    pub fn published_tables(&self, layout: &Layout) -> Vec<PathBuf> {
        let released = layout.area(Area::Released);
        let mut out: Vec<PathBuf> = Vec::new();
        for e in self.entries.iter().filter(|e| e.event == Event::Published && e.role == FileRole::Table) {
            let path = released.join(&e.file);
            if !out.contains(&path) {
                out.push(path);
            }
        }
        out
    }

    /// Whether anything of request `id` was released.
    pub fn has_request(&self, id: &str) -> bool {
        self.releases().any(|e| e.request.as_deref() == Some(id))
    }

    /// The release of the file a user names: its path under `released/` (`req-1/files/t1.csv`),
    /// or any tail of it that names one file alone (`t1.csv`, `files/t1.csv`).
    pub fn find(&self, project: &str, name: &str) -> Result<&Entry> {
        let wanted = Path::new(name.trim_start_matches("./"));
        let matches: Vec<&Entry> = self.releases().filter(|e| Path::new(&e.file).ends_with(wanted)).collect();
        match matches.as_slice() {
            [one] => Ok(one),
            [] => Err(Error::NotFound(format!(
                "no released file {name} in project {project}; `midnet export ledger --project {project}` lists them"
            ))),
            many => Err(crate::bad_input!(
                "{name} names {} released files: {}; give the whole name",
                many.len(),
                many.iter().map(|e| e.file.as_str()).collect::<Vec<_>>().join(", ")
            )),
        }
    }

    /// Every released file with its history, for `midnet export ledger`.
    pub fn whereabouts(&self) -> Vec<Whereabouts> {
        let mut out: Vec<Whereabouts> = self
            .releases()
            .map(|e| Whereabouts {
                file: e.file.clone(),
                sha256: e.sha256.clone(),
                role: e.role,
                request: e.request.clone().unwrap_or_default(),
                requester: e.requester.clone().unwrap_or_default(),
                reviewer: e.by.clone(),
                released: e.time.clone(),
                published: Vec::new(),
                copies: Vec::new(),
            })
            .collect();
        for e in &self.entries {
            let Some(w) = out.iter_mut().find(|w| w.file == e.file) else { continue };
            match e.event {
                Event::Released => {}
                Event::Published => w.published.push(Publication {
                    request: e.request.clone().unwrap_or_default(),
                    by: e.by.clone(),
                    time: e.time.clone(),
                }),
                Event::Fetched => w.copies.push(Copy {
                    to: e.copy.clone().unwrap_or_default(),
                    by: e.by.clone(),
                    fetched: e.time.clone(),
                    status: CopyStatus::Held,
                    closed: None,
                }),
                Event::Lost | Event::Deleted => {
                    if let Some(c) =
                        w.copies.iter_mut().find(|c| Some(&c.to) == e.copy.as_ref() && c.status == CopyStatus::Held)
                    {
                        c.status = if e.event == Event::Lost { CopyStatus::Lost } else { CopyStatus::Deleted };
                        c.closed = Some(Closed { by: e.by.clone(), time: e.time.clone(), note: e.note.clone() });
                    }
                }
            }
        }
        out
    }
}

/// A released file and where it has been.
#[derive(Debug, Clone, Serialize)]
pub struct Whereabouts {
    pub file: String,
    pub sha256: String,
    pub role: FileRole,
    pub request: String,
    pub requester: String,
    pub reviewer: String,
    pub released: String,
    pub published: Vec<Publication>,
    pub copies: Vec<Copy>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Publication {
    pub request: String,
    pub by: String,
    pub time: String,
}

/// A copy taken out of the data center.
#[derive(Debug, Clone, Serialize)]
pub struct Copy {
    pub to: String,
    pub by: String,
    pub fetched: String,
    pub status: CopyStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed: Option<Closed>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CopyStatus {
    Held,
    Lost,
    Deleted,
}

#[derive(Debug, Clone, Serialize)]
pub struct Closed {
    pub by: String,
    pub time: String,
    pub note: String,
}

/// `midnet export ledger`: the ledger as the project's users see it.
#[derive(Debug, Clone, Serialize)]
pub struct LedgerView {
    pub project: String,
    /// A research project's exported statistics must be deleted by this day (第12 4(3)); none
    /// for post-marketing and administrative projects, which keep them under their own rules.
    pub exported_statistics_delete_by: Option<NaiveDate>,
    /// Copies still held after that day.
    pub overdue_copies: usize,
    pub files: Vec<Whereabouts>,
}

/// The ledger of a project (any role: statistics users see released files only, and this).
pub fn view(actor: &Actor, project: &str) -> Result<LedgerView> {
    let project =
        actor.open_project(project, &[Role::Reviewer, Role::Contractor, Role::Analyst, Role::StatisticsUser])?;
    let files = Ledger::read(project.layout())?.whereabouts();
    let delete_by = project.record().exported_statistics_delete_by();
    let held = files.iter().flat_map(|f| &f.copies).filter(|c| c.status == CopyStatus::Held).count();
    let overdue_copies = if delete_by.is_some_and(|d| actor.today() > d) { held } else { 0 };
    Ok(LedgerView {
        project: project.id().to_string(),
        exported_statistics_delete_by: delete_by,
        overdue_copies,
        files,
    })
}

/// One file copied out by `fetch`.
#[derive(Debug, Clone, Serialize)]
pub struct Fetched {
    pub file: String,
    pub sha256: String,
    pub to: PathBuf,
}

/// `midnet export fetch` (statistics users and analysts): copy a released file, and a table's
/// sidecar with it, out of the data center into `to` (an existing directory outside the home),
/// verified by SHA-256; record who took which file and where in the ledger and the audit trail.
pub fn fetch(actor: &Actor, project: &str, name: &str, to: &Path) -> Result<Vec<Fetched>> {
    let project = actor.open_project(project, &[Role::StatisticsUser, Role::Analyst])?;
    project.resolve(Area::Released, name)?;
    let layout = project.layout();
    let mut ledger = Ledger::read(layout)?;
    let entry = ledger.find(project.id(), name)?.clone();
    let dir = destination(actor, to)?;
    let mut wanted = vec![entry.clone()];
    if entry.role == FileRole::Table {
        let sidecar = crate::table::Sidecar::path_for(Path::new(&entry.file)).display().to_string();
        wanted.extend(ledger.releases().find(|e| e.file == sidecar).cloned());
    }
    let released = layout.area(Area::Released);
    let mut fetched = Vec::new();
    for e in &wanted {
        let target = dir.join(Path::new(&e.file).file_name().expect("a released file has a name"));
        if target.symlink_metadata().is_ok() {
            return Err(crate::bad_input!(
                "{} exists already; fetch never overwrites: choose another --into",
                target.display()
            ));
        }
    }
    let mut events = Vec::new();
    for e in &wanted {
        let source = released.join(&e.file);
        gate::verify(&source, &e.sha256)?;
        let target = dir.join(Path::new(&e.file).file_name().expect("a released file has a name"));
        gate::copy_verified(&source, &target, Some(&e.sha256))?;
        crate::store::hand_over(&target)?;
        project.record_file(actor, &source, &e.sha256, Direction::Out)?;
        let mut event = Entry::new(Event::Fetched, &e.file, &e.sha256, e.role, &actor.user().id);
        event.copy = Some(target.display().to_string());
        events.push(event);
        fetched.push(Fetched { file: e.file.clone(), sha256: e.sha256.clone(), to: target });
    }
    ledger.append(events)?;
    Ok(fetched)
}

/// Where a fetch may copy to: an existing directory outside the data center's home (a copy into
/// another project's work area would bypass the gate).
fn destination(actor: &Actor, to: &Path) -> Result<PathBuf> {
    if !to.is_dir() {
        return Err(crate::bad_input!(
            "--into {}: not a directory; give an existing directory to copy into",
            to.display()
        ));
    }
    let dir = std::fs::canonicalize(to).at(to)?;
    let home = std::fs::canonicalize(actor.home().root()).at(actor.home().root())?;
    if dir.starts_with(&home) {
        return Err(Error::refused(
            "path",
            format!(
                "--into {}: the directory is inside the data center's home; fetch copies files out of it",
                to.display()
            ),
        ));
    }
    Ok(dir)
}

/// What `report-loss` and `delete` recorded.
#[derive(Debug, Clone, Serialize)]
pub struct CopyEvent {
    pub file: String,
    pub copy: String,
    pub event: Event,
    /// Copies of the project's exported statistics still held.
    pub held: usize,
    pub exported_statistics_delete_by: Option<NaiveDate>,
}

/// `midnet export report-loss` and `midnet export delete`: record that a copy taken out of the
/// data center was lost or deleted. `copy` names the copy (the path `fetch` recorded) and may be
/// left out when the file has one copy out (of the user's own, for a statistics user or analyst).
/// A statistics user or analyst reports their own copies only; the contractor and a reviewer any.
/// A deletion is recorded only when nothing is left where the copy was. A loss is audited as a
/// violation (第14 1(2)).
pub fn close_copy(
    actor: &Actor,
    project: &str,
    name: &str,
    copy: Option<&Path>,
    event: Event,
    note: &str,
) -> Result<CopyEvent> {
    debug_assert!(matches!(event, Event::Lost | Event::Deleted));
    let project =
        actor.open_project(project, &[Role::Reviewer, Role::Contractor, Role::StatisticsUser, Role::Analyst])?;
    let own_only = matches!(project.role(), Role::StatisticsUser | Role::Analyst);
    gate::require_note(
        if event == Event::Lost { "say what was lost, where and when" } else { "say how the copy was deleted" },
        note,
    )?;
    let mut ledger = Ledger::read(project.layout())?;
    let entry = ledger.find(project.id(), name)?.clone();
    let whereabouts = ledger.whereabouts();
    let held: Vec<&Copy> = whereabouts
        .iter()
        .filter(|w| w.file == entry.file)
        .flat_map(|w| &w.copies)
        .filter(|c| c.status == CopyStatus::Held)
        .filter(|c| copy.is_some() || !own_only || c.by == actor.user().id)
        .collect();
    let chosen = match copy {
        Some(path) => {
            let path = absolute(path)?;
            let chosen = held.iter().find(|c| Path::new(&c.to) == path).ok_or_else(|| {
                crate::bad_input!(
                    "--copy {}: no copy of {} is held there; the copies out are: {}",
                    path.display(),
                    entry.file,
                    copies_text(&held)
                )
            })?;
            if own_only && chosen.by != actor.user().id {
                return Err(Error::refused(
                    "role",
                    format!(
                        "the copy {} was fetched by {}: a {} reports the loss or deletion of their own copies only; \
                         {} (or the contractor, or a reviewer) reports this one",
                        chosen.to,
                        chosen.by,
                        project.role(),
                        chosen.by
                    ),
                ));
            }
            chosen
        }
        None => match held.as_slice() {
            [one] => one,
            [] if own_only => {
                return Err(crate::bad_input!(
                    "{} holds no copy of {} out of the data center (the ledger records none they fetched still held)",
                    actor.user().id,
                    entry.file
                ));
            }
            [] => {
                return Err(crate::bad_input!(
                    "no copy of {} is out of the data center (the ledger records none held)",
                    entry.file
                ));
            }
            _ => {
                return Err(crate::bad_input!(
                    "{} has {} copies out: {}; name one with --copy",
                    entry.file,
                    held.len(),
                    copies_text(&held)
                ));
            }
        },
    };
    let copy = chosen.to.clone();
    if event == Event::Deleted && Path::new(&copy).symlink_metadata().is_ok() {
        return Err(crate::bad_input!(
            "the copy {copy} is still there: delete it, then record the deletion (a copy is recorded as deleted \
             only when nothing is left where it was fetched to)"
        ));
    }
    let mut e = Entry::new(event, &entry.file, &entry.sha256, entry.role, &actor.user().id);
    e.copy = Some(copy.clone());
    e.note = note.to_string();
    if event == Event::Lost {
        let message = format!(
            "violation (第14 1(2)): {} reported the copy {copy} of exported statistics {} (request {}) lost: {note}",
            actor.user().id,
            entry.file,
            entry.request.as_deref().unwrap_or("?")
        );
        gate::record_violation(actor, project.id(), "lost_statistics", &message)?;
    }
    ledger.append(vec![e])?;
    let held = ledger.whereabouts().iter().flat_map(|w| &w.copies).filter(|c| c.status == CopyStatus::Held).count();
    Ok(CopyEvent {
        file: entry.file,
        copy,
        event,
        held,
        exported_statistics_delete_by: project.record().exported_statistics_delete_by(),
    })
}

/// A path as `fetch` recorded it: absolute, its directory resolved when it still exists.
fn absolute(path: &Path) -> Result<PathBuf> {
    let path = std::path::absolute(path).at(path)?;
    match (path.parent().map(std::fs::canonicalize), path.file_name()) {
        (Some(Ok(dir)), Some(name)) => Ok(dir.join(name)),
        _ => Ok(path),
    }
}

fn copies_text(copies: &[&Copy]) -> String {
    if copies.is_empty() {
        return "none".into();
    }
    copies.iter().map(|c| format!("{} (by {})", c.to, c.by)).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger(files: &[&str]) -> Ledger {
        let entries = files
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let mut e = Entry::new(Event::Released, f, "ab", FileRole::Table, "rev");
                e.seq = i as u64 + 1;
                e
            })
            .collect();
        Ledger { path: PathBuf::from("ledger.jsonl"), entries }
    }

    #[test]
    fn files_are_found_by_any_unique_tail() {
        let l = ledger(&["req-1/files/t1.csv", "req-2/files/t1.csv", "req-2/files/t2.csv"]);
        assert_eq!(l.find("p", "t2.csv").unwrap().file, "req-2/files/t2.csv");
        assert_eq!(l.find("p", "req-1/files/t1.csv").unwrap().file, "req-1/files/t1.csv");
        assert!(l.find("p", "t1.csv").unwrap_err().to_string().contains("names 2 released files"));
        assert!(matches!(l.find("p", "1.csv"), Err(Error::NotFound(_))), "tails are whole components");
    }

    #[test]
    fn copies_are_followed_until_deleted_or_lost() {
        let mut l = ledger(&["req-1/files/t1.csv"]);
        for (event, copy) in
            [(Event::Fetched, "/a/t1.csv"), (Event::Fetched, "/b/t1.csv"), (Event::Deleted, "/a/t1.csv")]
        {
            let mut e = Entry::new(event, "req-1/files/t1.csv", "ab", FileRole::Table, "stella");
            e.copy = Some(copy.into());
            l.entries.push(e);
        }
        let w = &l.whereabouts()[0];
        assert_eq!(w.copies.len(), 2);
        assert_eq!((w.copies[0].status, w.copies[1].status), (CopyStatus::Deleted, CopyStatus::Held));
    }
}
