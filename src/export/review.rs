//! The reviewer's decision on a request (guideline 第9: the operator checks that nothing that may
//! not leave is in it, then provides it; 第11 2 for publication). Never the requester: two people
//! see every file that leaves. Approval verifies every file by its SHA-256, runs the checks again
//! (a table released since the request may now give a small group away by differencing), refuses
//! anything a reviewer may never accept and audits that attempt as a violation, then releases the
//! files into `released/REQ/` (export) or marks them published (publication) in the ledger.

use std::path::PathBuf;

use super::gate::{self, Context};
use super::ledger::FileRole;
use super::ledger::{Entry, Event, Ledger};
use super::publish;
use super::request::{self, Kind, Refusal, Request, RequestFinding, Status};
use crate::audit::Direction;
use crate::center::Actor;
use crate::clock;
use crate::error::{Error, IoContext, Result};
use crate::project::{Area, Project, Role};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decide {
    Approve,
    Reject,
}

/// Approve or reject request `id` of `project` (reviewer, not the requester), with a note saying
/// what was checked. Returns the request as decided.
pub fn review(actor: &Actor, project: &str, id: &str, decide: Decide, note: &str) -> Result<Request> {
    let project = actor.open_project(project, &[Role::Reviewer])?;
    let layout = project.layout();
    let mut request = request::load(layout, project.id(), id)?;
    if let Some(d) = &request.decision {
        return Err(crate::bad_input!(
            "request {id} was already {} by {} at {}; a decision is final (file a new request)",
            if d.approved { "approved" } else { "rejected" },
            d.by,
            d.time
        ));
    }
    if request.requester == actor.user().id {
        return Err(Error::refused(
            "two_person",
            format!("{} filed request {id}; another reviewer must review it (two-person rule)", request.requester),
        ));
    }
    gate::require_note("say what was checked and why the request is approved or rejected", note)?;
    let approved = decide == Decide::Approve;
    if approved {
        approve(actor, &project, &mut request)?;
    }
    request.status = if approved { Status::Approved } else { Status::Rejected };
    request.decision = Some(request::Decision {
        by: actor.user().id.clone(),
        time: clock::format_utc(&clock::now_utc()),
        approved,
        note: note.to_string(),
    });
    request::save(layout, &request)?;
    Ok(request)
}

fn approve(actor: &Actor, project: &Project, request: &mut Request) -> Result<()> {
    let layout = project.layout();
    let root = request.root(layout)?;
    for f in &request.files {
        let path = root.join(&f.path);
        if !path.is_file() {
            return Err(Error::NotFound(format!(
                "{} of request {} is no longer in the work area (review/ is emptied when a project is terminated); \
                 reject the request",
                f.name, request.id
            )));
        }
        gate::verify(&path, &f.sha256)?;
    }
    if request.kind == Kind::Publication {
        publish::require_publishable(project)?;
    }
    let now = recheck(actor, project, request)?;

    let mut never: Vec<&RequestFinding> = request.never_exportable();
    for f in now.iter().filter(|f| !f.finding.rule.may_be_accepted()) {
        if !never.iter().any(|n| n.key() == f.key()) {
            never.push(f);
        }
    }
    if !never.is_empty() {
        let message = format!(
            "violation (第14 1(3)): request {} by {} holds data that may never leave the data center, whatever the \
             exception: {}; reject it (`midnet export review {} --project {} --reject --note …`); the project may be \
             suspended (`midnet project suspend {} --reason …`)",
            request.id,
            request.requester,
            request::describe(&never),
            request.id,
            project.id(),
            project.id()
        );
        gate::record_violation(actor, project.id(), "non_exportable", &message)?;
        return Err(refuse(actor, project, request, "non_exportable", message));
    }
    let new: Vec<&RequestFinding> = now.iter().filter(|f| f.exception.is_none()).collect();
    if !new.is_empty() {
        let message = format!(
            "since request {} was filed the checks find what no exception of it covers: {}; reject it, and the \
             requester files a new request",
            request.id,
            request::describe(&new)
        );
        return Err(refuse(actor, project, request, "new_findings", message));
    }
    let mut ledger = Ledger::read(layout)?;
    match request.kind {
        Kind::Export => release(actor, project, request, &mut ledger),
        Kind::Publication => {
            let events = request
                .files
                .iter()
                .map(|f| {
                    let mut e = Entry::new(Event::Published, &f.name, &f.sha256, f.role, &actor.user().id);
                    e.request = Some(request.id.clone());
                    e.requester = Some(request.requester.clone());
                    e
                })
                .collect();
            ledger.append(events)
        }
    }
}

/// The checks of the request's files as they lie now, against what is released (export) or
/// published (publication) now, each finding with the request's exception for it.
fn recheck(actor: &Actor, project: &Project, request: &Request) -> Result<Vec<RequestFinding>> {
    let layout = project.layout();
    let root = request.root(layout)?;
    let ledger = Ledger::read(layout)?;
    let context = Context::of(actor, project)?;
    let names = request.checked_names();
    let (check_root, operands) = match request.kind {
        Kind::Export => (root.join("files"), ledger.released_tables(layout)),
        Kind::Publication => {
            let mine: Vec<PathBuf> = names.iter().map(|n| root.join(n)).collect();
            (root.clone(), ledger.published_tables(layout).into_iter().filter(|p| !mine.contains(p)).collect())
        }
    };
    let mut texts = Vec::new();
    for f in request.files.iter().filter(|f| matches!(f.role, FileRole::Program | FileRole::WorkLog)) {
        let path = root.join(&f.path);
        texts.push((f.name.clone(), std::fs::read_to_string(&path).at(&path)?));
    }
    let report =
        request::check_all(&context, &check_root, &names, &texts, request.stage, &request.not_counts, operands)?;
    Ok(request::covered(&report, &request.exceptions))
}

/// Record a refused approval in the request and return the refusal.
fn refuse(actor: &Actor, project: &Project, request: &mut Request, rule: &'static str, message: String) -> Error {
    request.refused_approvals.push(Refusal {
        by: actor.user().id.clone(),
        time: clock::format_utc(&clock::now_utc()),
        rule: rule.to_string(),
        message: message.clone(),
    });
    match request::save(project.layout(), request) {
        Ok(()) => Error::refused(rule, message),
        Err(e) => e,
    }
}

/// Copy the request's files into `released/REQ/` (under a temporary name, then renamed), audit
/// each, and write their ledger entries.
fn release(actor: &Actor, project: &Project, request: &Request, ledger: &mut Ledger) -> Result<()> {
    let layout = project.layout();
    if ledger.has_request(&request.id) {
        return Err(Error::Internal(format!(
            "request {} is pending but the ledger records its release: its record was not saved after the release",
            request.id
        )));
    }
    let released = layout.area(Area::Released);
    let target = released.join(&request.id);
    let staging = released.join(format!(".{}.partial", request.id));
    // Either is left by an approval interrupted before its ledger entries: nothing was released.
    for dir in [&staging, &target] {
        if dir.exists() {
            std::fs::remove_dir_all(dir).at(dir)?;
        }
    }
    let from = request.root(layout)?;
    for f in &request.files {
        gate::copy_verified(&from.join(&f.path), &staging.join(&f.path), Some(&f.sha256))?;
    }
    std::fs::rename(&staging, &target).at(&target)?;
    let mut events = Vec::new();
    for f in &request.files {
        project.record_file(actor, &target.join(&f.path), &f.sha256, Direction::In)?;
        let mut e =
            Entry::new(Event::Released, &format!("{}/{}", request.id, f.path), &f.sha256, f.role, &actor.user().id);
        e.request = Some(request.id.clone());
        e.requester = Some(request.requester.clone());
        events.push(e);
    }
    ledger.append(events)
}
