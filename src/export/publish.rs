//! Publication of results (guideline 第11): the contractor asks the operator before publishing a
//! paper or report; every published table must meet the publication criteria (第11 3), which the
//! gate checks at its strictest stage (`publish`) over released tables and figures, comparing them
//! with the tables already approved for publication. A publication request is reviewed like an
//! export (`review.rs`); approval marks the files published in the ledger.
//!
//! Criterion (1), "matches the approved purpose", is the reviewer's judgement: the request carries
//! the project's purpose and question for it. Results of signal refinement stay unpublished while
//! monitoring continues and are published when a follow-up study starts (第11 6): until a
//! reviewer records that start (`publish follow-up`), publication is refused (`signal_monitoring`).

use std::path::PathBuf;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::exception::Exception;
use super::findings::Report;
use super::gate::{self, Context};
use super::ledger::Ledger;
use super::request::{self, Kind, Request, RequestFile};
use super::rules::Stage;
use crate::center::Actor;
use crate::error::{Error, IoContext, Result};
use crate::project::{Area, Project, Purpose, Role};
use crate::store;

/// The start of a follow-up study for signal evaluation, which ends the embargo of 第11 6.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowUp {
    pub date: NaiveDate,
    pub by: String,
    pub note: String,
}

/// Refuse (`signal_monitoring`) publishing a signal-refinement project's results while monitoring
/// continues.
pub fn require_publishable(project: &Project) -> Result<()> {
    if project.record().purpose != Purpose::SignalRefinement || follow_up(project)?.is_some() {
        return Ok(());
    }
    Err(Error::refused(
        "signal_monitoring",
        format!(
            "project {} is signal refinement: its results stay unpublished while monitoring of the signal continues, \
             and are published when a follow-up study starts (第11 6); a reviewer records that start with \
             `midnet publish follow-up --project {} --note TEXT`",
            project.id(),
            project.id()
        ),
    ))
}

fn follow_up(project: &Project) -> Result<Option<FollowUp>> {
    let path = gate::follow_up_path(project.layout());
    if path.is_file() { store::read_json(&path).map(Some) } else { Ok(None) }
}

/// `midnet publish check`: the publication criteria over released files (any role of the project).
pub fn check_publication(actor: &Actor, project: &str, files: &[String], not_counts: &[String]) -> Result<Report> {
    let project =
        actor.open_project(project, &[Role::Reviewer, Role::Contractor, Role::Analyst, Role::StatisticsUser])?;
    require_publishable(&project)?;
    let (names, _) = released_files(&project, files)?;
    publication_report(actor, &project, &names, not_counts)
}

fn publication_report(actor: &Actor, project: &Project, names: &[String], not_counts: &[String]) -> Result<Report> {
    let layout = project.layout();
    let released = layout.area(Area::Released);
    let mine: Vec<PathBuf> = names.iter().map(|n| released.join(n)).collect();
    let operands = Ledger::read(layout)?.published_tables(layout).into_iter().filter(|p| !mine.contains(p)).collect();
    Context::of(actor, project)?.check(&released, names, Stage::Publish, not_counts, operands)
}

/// What a contractor asks to publish.
#[derive(Debug, Clone, Default)]
pub struct PublishSpec {
    pub project: String,
    /// Released tables and figures, named as the ledger names them (or by a unique tail).
    pub files: Vec<String>,
    pub note: String,
    pub exceptions: Vec<Exception>,
    pub not_counts: Vec<String>,
}

/// `midnet publish request` (contractor, 第11 2): check released files at the publish stage,
/// match the exceptions to the findings, and record the request for review.
pub fn file_publication(actor: &Actor, spec: &PublishSpec) -> Result<Request> {
    let project = actor.open_project(&spec.project, &[Role::Contractor])?;
    gate::require_note("name the paper or report, and where it will be published", &spec.note)?;
    require_publishable(&project)?;
    if spec.files.is_empty() {
        return Err(crate::bad_input!(
            "no files to publish; name released tables and figures (`midnet export ledger`)"
        ));
    }
    let (names, mut files) = released_files(&project, &spec.files)?;
    let report = publication_report(actor, &project, &names, &spec.not_counts)?;
    let findings = request::match_exceptions(&report, &spec.exceptions)?;
    for f in &mut files {
        let checked = report.files.iter().find(|r| r.path == std::path::Path::new(&f.name));
        f.verdict = checked.map(|r| r.verdict);
        f.sidecar = checked.and_then(|r| r.sidecar.clone());
    }
    let layout = project.layout();
    gate::ensure_records(layout)?;
    let id = request::next_id(layout)?;
    let request = Request {
        files,
        provenance: request::provenance_of(
            &layout.area(Area::Released),
            &names,
            &crate::table::TableKey::of_home(actor.home().root())?,
        )?,
        findings,
        skipped: report.skipped,
        ..Request::pending(actor, &project, id, Kind::Publication, &spec.note, &spec.not_counts, &spec.exceptions)
    };
    request::save(layout, &request)?;
    Ok(request)
}

/// The released files a user names, as the ledger names them, with their records; each is
/// verified against its SHA-256. Sidecars travel with their tables and are not named.
fn released_files(project: &Project, files: &[String]) -> Result<(Vec<String>, Vec<RequestFile>)> {
    let layout = project.layout();
    let ledger = Ledger::read(layout)?;
    let released = layout.area(Area::Released);
    let (mut names, mut records) = (Vec::new(), Vec::new());
    for name in files {
        project.resolve(Area::Released, name)?;
        let entry = ledger.find(project.id(), name)?;
        if names.contains(&entry.file) {
            continue;
        }
        let path = released.join(&entry.file);
        gate::verify(&path, &entry.sha256)?;
        names.push(entry.file.clone());
        records.push(RequestFile {
            name: entry.file.clone(),
            path: entry.file.clone(),
            role: entry.role,
            sha256: entry.sha256.clone(),
            bytes: std::fs::metadata(&path).at(&path)?.len(),
            verdict: None,
            sidecar: None,
        });
    }
    Ok((names, records))
}

/// `midnet publish follow-up` (reviewer): record that a follow-up study for the evaluation of a
/// signal-refinement project's signal has started, so its results may be published (第11 6(2)).
pub fn record_follow_up(actor: &Actor, project: &str, note: &str) -> Result<FollowUp> {
    let project = actor.open_project(project, &[Role::Reviewer])?;
    if project.record().purpose != Purpose::SignalRefinement {
        return Err(crate::bad_input!(
            "project {} is {}, not signal refinement: its results need no follow-up study to be published",
            project.id(),
            project.record().purpose.name()
        ));
    }
    if let Some(f) = follow_up(&project)? {
        return Err(crate::bad_input!(
            "the follow-up study of project {} was recorded on {} by {}",
            project.id(),
            f.date,
            f.by
        ));
    }
    gate::require_note("name the follow-up study and when it started", note)?;
    let layout = project.layout();
    gate::ensure_records(layout)?;
    let follow_up = FollowUp { date: actor.today(), by: actor.user().id.clone(), note: note.to_string() };
    store::write_json(&gate::follow_up_path(layout), &follow_up)?;
    Ok(follow_up)
}
