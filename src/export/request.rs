//! Export requests (統計情報等移動申請, guideline 第9): an analyst asks for statistics to leave the
//! data center, together with the programs and the work log that produced them. The files are
//! copied from `work/` into `review/REQ/` and identified by their SHA-256, so that what the
//! reviewer approves is byte for byte what leaves; the gate's checks run at the export stage, and
//! every finding needs the requester's written exception for the reviewer to consider.
//!
//! A request is a JSON record in `export/requests/REQ.json` (see [`Request`]); publication
//! requests (`publish.rs`) share the record and the review.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::checks::check_text;
use super::exception::Exception;
use super::findings::{FileReport, Finding, Report, SidecarNote, Skipped};
use super::gate::{self, Context};
use super::ledger::{FileRole, Ledger};
use super::rules::{Stage, Verdict};
use super::worklog;
use crate::audit::Direction;
use crate::center::Actor;
use crate::error::{Error, IoContext, Result};
use crate::project::{Area, Layout, Project, Purpose, Role};
use crate::table::{Provenance, Sidecar, TableKey, Trust};
use crate::{clock, store};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Statistics leaving the data center (第9).
    Export,
    /// Released statistics to be published in a paper or report (第11).
    Publication,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Approved,
    Rejected,
}

display_as_serialized!(Kind, Status);

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestFile {
    /// The name people and exceptions use: the path in `work/` for statistics and programs,
    /// `worklog.txt`, or for a publication the path under `released/`.
    pub name: String,
    /// Where the file lies, under `review/REQ/` for an export, under `released/` for a publication.
    pub path: String,
    pub role: FileRole,
    pub sha256: String,
    pub bytes: u64,
    /// The check's verdict on the file (none for sidecars, checked with their table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// For a table: whether its sidecar verified (midnet wrote it for exactly this table) or its
    /// columns were judged by content, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sidecar: Option<SidecarNote>,
}

/// A finding of the check on a request's file, with the requester's exception.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestFinding {
    pub file: String,
    #[serde(flatten)]
    pub finding: Finding,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception: Option<String>,
}

impl RequestFinding {
    /// How an exception names this finding: `FILE:RULE:ROW:COLUMN`.
    pub fn key(&self) -> String {
        let f = &self.finding;
        let row = f.row.map(|r| r.to_string()).unwrap_or_default();
        format!("{}:{}:{row}:{}", self.file, f.rule, f.column.as_deref().unwrap_or(""))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    pub by: String,
    /// UTC time.
    pub time: String,
    pub approved: bool,
    pub note: String,
}

/// An approval the gate refused (a violation, or findings that appeared since the request).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refusal {
    pub by: String,
    pub time: String,
    pub rule: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub id: String,
    pub project: String,
    pub kind: Kind,
    /// The stage the files were checked at: `export` (第9) or `publish` (第11 3).
    pub stage: Stage,
    pub status: Status,
    pub requester: String,
    /// UTC time of filing.
    pub filed: String,
    pub note: String,
    /// The approved purpose and question, against which the reviewer judges the request (第11 3(1)).
    pub purpose: Purpose,
    pub question: String,
    pub files: Vec<RequestFile>,
    /// The provenance of each table whose sidecar verified (command, inputs, script hash), by name.
    pub provenance: BTreeMap<String, Provenance>,
    /// Columns the requester declared are not counts.
    pub not_counts: Vec<String>,
    pub exceptions: Vec<Exception>,
    pub findings: Vec<RequestFinding>,
    pub skipped: Vec<Skipped>,
    pub refused_approvals: Vec<Refusal>,
    pub decision: Option<Decision>,
}

impl Request {
    /// A request filed now by `actor` in `project`, pending review, with no files yet: the caller
    /// fills in what it checked. An export is checked at the export stage, a publication at the
    /// publish stage.
    pub fn pending(
        actor: &Actor,
        project: &Project,
        id: String,
        kind: Kind,
        note: &str,
        not_counts: &[String],
        exceptions: &[Exception],
    ) -> Request {
        let record = project.record();
        Request {
            id,
            project: project.id().to_string(),
            kind,
            stage: match kind {
                Kind::Export => Stage::Export,
                Kind::Publication => Stage::Publish,
            },
            status: Status::Pending,
            requester: actor.user().id.clone(),
            filed: clock::format_utc(&clock::now_utc()),
            note: note.to_string(),
            purpose: record.purpose,
            question: record.question.clone(),
            files: Vec::new(),
            provenance: BTreeMap::new(),
            not_counts: not_counts.to_vec(),
            exceptions: exceptions.to_vec(),
            findings: Vec::new(),
            skipped: Vec::new(),
            refused_approvals: Vec::new(),
            decision: None,
        }
    }

    /// The directory the request's `path`s are relative to.
    pub fn root(&self, layout: &Layout) -> Result<PathBuf> {
        match self.kind {
            Kind::Export => layout.review_request(&self.id),
            Kind::Publication => Ok(layout.area(Area::Released)),
        }
    }

    /// Findings no reviewer may accept: patient-level data and files that are not statistics.
    pub fn never_exportable(&self) -> Vec<&RequestFinding> {
        self.findings.iter().filter(|f| !f.finding.rule.may_be_accepted()).collect()
    }

    /// The names of the files the statistics checks run on.
    pub(crate) fn checked_names(&self) -> Vec<String> {
        self.files.iter().filter(|f| f.role.checked_as_statistics()).map(|f| f.name.clone()).collect()
    }
}

/// What an analyst asks to export.
#[derive(Debug, Clone, Default)]
pub struct ExportSpec {
    pub project: String,
    /// Statistics, figures and text, named as in the project's `work/`.
    pub files: Vec<String>,
    /// The programs that produced them, named as in `work/`.
    pub programs: Vec<String>,
    pub note: String,
    pub exceptions: Vec<Exception>,
    pub not_counts: Vec<String>,
}

impl ExportSpec {
    /// A request for `files` of `project` with no programs, exceptions or declarations.
    pub fn new(project: &str, files: &[&str], note: &str) -> ExportSpec {
        ExportSpec {
            project: project.to_string(),
            files: files.iter().map(|f| f.to_string()).collect(),
            note: note.to_string(),
            ..ExportSpec::default()
        }
    }
}

/// `midnet export check --project`: check files of `work/` as a request would (analyst or
/// reviewer), with the home's registry, the project's pseudonyms and the released tables.
pub fn check_work(
    actor: &Actor,
    project: &str,
    files: &[String],
    stage: Stage,
    not_counts: &[String],
) -> Result<Report> {
    let project = actor.open_project(project, &[Role::Analyst, Role::Reviewer])?;
    let names = work_names(&project, files)?;
    gate::refuse_imported(&project, &names, &gate::imported(&actor.home().audit().records()?, project.id()))?;
    let context = Context::of(actor, &project)?;
    let layout = project.layout();
    context.check(&layout.area(Area::Work), &names, stage, not_counts, Ledger::read(layout)?.released_tables(layout))
}

/// File an export request (analyst): copy the files, their sidecars and the tables behind figures,
/// the programs and the work log into `review/REQ/`, check them at the export stage, match the
/// exceptions to the findings, audit every file that entered review and record the request.
///
/// Refused (`exception_required`) when a finding has no exception; a bad input when an exception
/// covers no finding. A file that may never leave (`patient_level`, `file_type`) is filed with
/// its exception so that the reviewer sees the attempt, and the attempt is audited as a violation
/// (第14 1(3)); no approval can release it.
pub fn file_export(actor: &Actor, spec: &ExportSpec) -> Result<Request> {
    let project = actor.open_project(&spec.project, &[Role::Analyst])?;
    gate::require_note("say what the statistics are and why they leave the data center", &spec.note)?;
    if spec.files.is_empty() {
        return Err(crate::bad_input!("no files to export; name the statistics in work/ to request"));
    }
    let statistics = work_names(&project, &spec.files)?;
    if let Some(sidecar) = statistics.iter().find(|n| FileRole::of_name(n) == FileRole::Sidecar) {
        return Err(crate::bad_input!(
            "{sidecar} is a sidecar: it travels with its table; list the table (NAME.csv or NAME.parquet) instead"
        ));
    }
    let names = Names {
        carried: with_companions(&project, &statistics)?,
        programs: work_names(&project, &spec.programs)?,
        statistics,
    };
    let records = actor.home().audit().records()?;
    gate::refuse_imported(&project, &names.carried, &gate::imported(&records, project.id()))?;
    let layout = project.layout();
    gate::ensure_records(layout)?;
    let id = next_id(layout)?;
    let dir = layout.review_request(&id)?;
    if dir.exists() {
        // Left by a request interrupted before its record was written: it was never filed.
        std::fs::remove_dir_all(&dir).at(&dir)?;
    }
    let filed = file_into(actor, &project, spec, &id, &dir, &names, &records);
    if filed.is_err() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    filed
}

/// The files of a request by their names in `work/`.
struct Names {
    /// The statistics listed.
    statistics: Vec<String>,
    /// Those and what travels with them (sidecars, the tables behind figures).
    carried: Vec<String>,
    programs: Vec<String>,
}

fn file_into(
    actor: &Actor,
    project: &Project,
    spec: &ExportSpec,
    id: &str,
    dir: &Path,
    names: &Names,
    records: &[crate::audit::Record],
) -> Result<Request> {
    let Names { statistics, carried, programs } = names;
    let layout = project.layout();
    let work = layout.area(Area::Work);
    store::create_private_dir(dir)?;
    let mut files = Vec::new();
    for name in carried {
        files.push(copy_in(&work.join(name), dir, &format!("files/{name}"), name, FileRole::of_name(name))?);
    }
    let mut texts = Vec::new();
    for name in programs {
        let copy = copy_in(&work.join(name), dir, &format!("programs/{name}"), name, FileRole::Program)?;
        let bytes = std::fs::read(dir.join(&copy.path)).at(dir.join(&copy.path))?;
        let text = String::from_utf8(bytes).map_err(|_| {
            crate::bad_input!("program {name} is not UTF-8 text; only the text of programs travels with statistics")
        })?;
        files.push(copy);
        texts.push((name.clone(), text));
    }
    let context = Context::of(actor, project)?;
    let log = worklog::render(project.id(), records, &context.persons);
    let log_name = "worklog.txt".to_string();
    crate::store::write_atomically(&dir.join(&log_name), log.as_bytes())?;
    files.push(RequestFile {
        name: log_name.clone(),
        path: log_name.clone(),
        role: FileRole::WorkLog,
        sha256: crate::digest::sha256_file(&dir.join(&log_name))?,
        bytes: log.len() as u64,
        verdict: None,
        sidecar: None,
    });
    texts.push((log_name, log));

    let operands = Ledger::read(layout)?.released_tables(layout);
    let report =
        check_all(&context, &dir.join("files"), statistics, &texts, Stage::Export, &spec.not_counts, operands)?;
    let findings = match_exceptions(&report, &spec.exceptions)?;
    set_verdicts(&mut files, &report);
    let request = Request {
        files,
        provenance: provenance_of(&dir.join("files"), carried, &context.table_key)?,
        findings,
        skipped: report.skipped,
        ..Request::pending(actor, project, id.to_string(), Kind::Export, &spec.note, &spec.not_counts, &spec.exceptions)
    };
    for f in &request.files {
        project.record_file(actor, &dir.join(&f.path), &f.sha256, Direction::In)?;
    }
    save(layout, &request)?;
    let never = request.never_exportable();
    if !never.is_empty() {
        let message = format!(
            "violation (第14 1(3)): {} asked in export request {} for data that may never leave the data center: {}",
            request.requester,
            request.id,
            describe(&never)
        );
        gate::record_violation(actor, project.id(), "non_exportable", &message)?;
    }
    Ok(request)
}

/// The statistics checks over `statistics` (under `root`) and the hospital-name check over
/// `texts` (programs, the work log), as one report.
pub(crate) fn check_all(
    context: &Context,
    root: &Path,
    statistics: &[String],
    texts: &[(String, String)],
    stage: Stage,
    not_counts: &[String],
    operands: Vec<PathBuf>,
) -> Result<Report> {
    let mut report = context.check(root, statistics, stage, not_counts, operands)?;
    let options = context.options(stage, not_counts, Vec::new());
    for (name, text) in texts {
        let findings: Vec<Finding> = check_text(text, &options).into_iter().map(|raw| raw.at_stage(stage)).collect();
        report.files.push(FileReport {
            path: PathBuf::from(name),
            verdict: findings.iter().map(|f| f.verdict).max().unwrap_or(Verdict::Pass),
            data_table: None,
            added_for_figure: false,
            sidecar: None,
            findings,
        });
    }
    report.verdict = report.files.iter().map(|f| f.verdict).max().unwrap_or(Verdict::Pass);
    Ok(report)
}

/// Each finding with the exception that covers it. An exception that covers nothing is a bad
/// input (a typo would leave a finding unexplained); a finding without one is refused.
pub(crate) fn match_exceptions(report: &Report, exceptions: &[Exception]) -> Result<Vec<RequestFinding>> {
    let findings = covered(report, exceptions);
    let names: Vec<String> = report.files.iter().map(|f| f.path.display().to_string()).collect();
    for e in exceptions {
        if let Some(file) = &e.file
            && !names.contains(file)
        {
            return Err(crate::bad_input!(
                "--exception {e}: no file {file} in this request; its files are {}",
                names.join(", ")
            ));
        }
        if !findings.iter().any(|f| e.covers(&f.file, &f.finding)) {
            let keys: Vec<String> = findings.iter().map(RequestFinding::key).collect();
            return Err(crate::bad_input!(
                "--exception {e} covers no finding; {}",
                if keys.is_empty() {
                    "the files have no findings".to_string()
                } else {
                    format!("the findings are {}", keys.join(", "))
                }
            ));
        }
    }
    let missing: Vec<&RequestFinding> = findings.iter().filter(|f| f.exception.is_none()).collect();
    if !missing.is_empty() {
        return Err(Error::refused(
            "exception_required",
            format!(
                "{} finding{} need{} a written exception for the reviewer to consider; fix the files (`midnet export fix`) \
                 or add --exception FILE:RULE:ROW:COLUMN:REASON for each: {}",
                missing.len(),
                if missing.len() == 1 { "" } else { "s" },
                if missing.len() == 1 { "s" } else { "" },
                describe(&missing)
            ),
        ));
    }
    Ok(findings)
}

/// The findings of `report`, each with the first exception that covers it.
pub(crate) fn covered(report: &Report, exceptions: &[Exception]) -> Vec<RequestFinding> {
    let mut out = Vec::new();
    for file in &report.files {
        let name = file.path.display().to_string();
        for finding in &file.findings {
            let exception = exceptions.iter().find(|e| e.covers(&name, finding)).map(|e| e.text.clone());
            out.push(RequestFinding { file: name.clone(), finding: finding.clone(), exception });
        }
    }
    out
}

/// `FILE:RULE:ROW:COLUMN (message)` for each finding, at most 20.
pub(crate) fn describe(findings: &[&RequestFinding]) -> String {
    const SHOWN: usize = 20;
    let mut out = String::new();
    for (i, f) in findings.iter().take(SHOWN).enumerate() {
        if i > 0 {
            out.push_str("; ");
        }
        let _ = write!(out, "{} ({})", f.key(), f.finding.message);
    }
    if findings.len() > SHOWN {
        let _ = write!(out, "; … and {} more", findings.len() - SHOWN);
    }
    out
}

fn set_verdicts(files: &mut [RequestFile], report: &Report) {
    for file in files {
        let checked = report.files.iter().find(|r| r.path == Path::new(&file.name));
        file.verdict = checked.map(|r| r.verdict);
        file.sidecar = checked.and_then(|r| r.sidecar.clone());
    }
}

/// The provenance of every table among `names` (under `root`) whose sidecar verifies: what midnet
/// recorded, never what a file of unknown origin claims.
pub(crate) fn provenance_of(root: &Path, names: &[String], key: &TableKey) -> Result<BTreeMap<String, Provenance>> {
    let mut out = BTreeMap::new();
    for name in names.iter().filter(|n| FileRole::of_name(n) == FileRole::Table) {
        if let Trust::Verified(sidecar) = Sidecar::trust(&root.join(name), Some(key))? {
            out.insert(name.clone(), sidecar.provenance);
        }
    }
    Ok(out)
}

/// Copy `source` to `dir/path`, verified by its SHA-256 taken before the copy.
fn copy_in(source: &Path, dir: &Path, path: &str, name: &str, role: FileRole) -> Result<RequestFile> {
    let sha = crate::digest::sha256_file(source)?;
    gate::copy_verified(source, &dir.join(path), Some(&sha)).map_err(|e| match e {
        Error::Integrity(_) => {
            crate::bad_input!("{name} changed while it was being copied into review; file the request again")
        }
        e => e,
    })?;
    let bytes = std::fs::metadata(dir.join(path)).at(dir.join(path))?.len();
    Ok(RequestFile {
        name: name.to_string(),
        path: path.to_string(),
        role,
        sha256: sha,
        bytes,
        verdict: None,
        sidecar: None,
    })
}

/// The names of `files` in `work/`, normalised (`./a.csv` → `a.csv`), each an existing file
/// reached without leaving the area (refused with rule `path` otherwise).
fn work_names(project: &Project, files: &[String]) -> Result<Vec<String>> {
    let work = project.layout().area(Area::Work);
    let mut names = Vec::new();
    for file in files {
        let path = project.resolve(Area::Work, file)?;
        if path.is_dir() {
            return Err(crate::bad_input!("{file} in work/ is a directory; name the files in it"));
        }
        if !path.is_file() {
            return Err(Error::NotFound(format!(
                "no file {file} in project {}'s work/ area; the statistics to export must be there",
                project.id()
            )));
        }
        let name = path.strip_prefix(&work).expect("resolved inside work/").display().to_string();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Ok(names)
}

/// `names` and what travels with them: each table's sidecar, and the table behind each figure
/// (with its sidecar). Companions pass the same path check as the files named.
fn with_companions(project: &Project, names: &[String]) -> Result<Vec<String>> {
    let work = project.layout().area(Area::Work);
    let mut out: Vec<String> = Vec::new();
    let add = |name: String, out: &mut Vec<String>| -> Result<()> {
        if !out.contains(&name) && work.join(&name).symlink_metadata().is_ok() {
            project.resolve(Area::Work, &name)?;
            out.push(name);
        }
        Ok(())
    };
    for name in names {
        out.push(name.clone());
        let mut tables = vec![name.clone()];
        if FileRole::of_name(name) == FileRole::Figure {
            for ext in ["csv", "parquet"] {
                let table = Path::new(name).with_extension(ext).display().to_string();
                if work.join(&table).is_file() {
                    add(table.clone(), &mut out)?;
                    tables.push(table);
                    break;
                }
            }
        }
        for table in tables.iter().filter(|t| FileRole::of_name(t) == FileRole::Table) {
            add(Sidecar::path_for(Path::new(table)).display().to_string(), &mut out)?;
        }
    }
    Ok(out)
}

/// The next request id of a project: `req-1`, `req-2`, … (never reused: records outlive review/).
pub(crate) fn next_id(layout: &Layout) -> Result<String> {
    let last = all(layout)?.iter().filter_map(|r| number(&r.id)).max().unwrap_or(0);
    Ok(format!("req-{}", last + 1))
}

fn number(id: &str) -> Option<u64> {
    id.strip_prefix("req-")?.parse().ok()
}

fn record_path(layout: &Layout, id: &str) -> Result<PathBuf> {
    store::require_identifier("request id", id)?;
    Ok(gate::requests_dir(layout).join(format!("{id}.json")))
}

pub fn load(layout: &Layout, project: &str, id: &str) -> Result<Request> {
    let path = record_path(layout, id)?;
    if !path.is_file() {
        return Err(Error::NotFound(format!(
            "no request {id} in project {project}; `midnet export requests --project {project}` lists them"
        )));
    }
    store::read_json(&path)
}

pub fn save(layout: &Layout, request: &Request) -> Result<()> {
    gate::ensure_records(layout)?;
    store::write_json(&record_path(layout, &request.id)?, request)
}

/// Every request of a project, in the order filed.
pub fn all(layout: &Layout) -> Result<Vec<Request>> {
    let dir = gate::requests_dir(layout);
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut requests = Vec::new();
    for entry in std::fs::read_dir(&dir).at(&dir)? {
        let path = entry.at(&dir)?.path();
        if path.extension().is_some_and(|e| e == "json") {
            requests.push(store::read_json::<Request>(&path)?);
        }
    }
    requests.sort_by_key(|r| number(&r.id));
    Ok(requests)
}

/// `midnet export requests`: the requests of a project (analyst, contractor, reviewer).
pub fn list(actor: &Actor, project: &str) -> Result<Vec<Request>> {
    let project = actor.open_project(project, &[Role::Reviewer, Role::Contractor, Role::Analyst])?;
    all(project.layout())
}

/// `midnet export show`: one request, and optionally the text of one of its files (analyst,
/// contractor, reviewer; statistics users see released files only). A file with a finding no
/// reviewer may accept (patient-level data, a file that is not statistics) is printed to reviewers
/// only: to anyone else it would be a way out of the work area around the gate.
pub fn show(actor: &Actor, project: &str, id: &str, file: Option<&str>) -> Result<(Request, Option<String>)> {
    let project = actor.open_project(project, &[Role::Reviewer, Role::Contractor, Role::Analyst])?;
    let layout = project.layout();
    let request = load(layout, project.id(), id)?;
    let Some(name) = file else { return Ok((request, None)) };
    let entry = request.files.iter().find(|f| f.name == name || f.path == name).ok_or_else(|| {
        let names: Vec<&str> = request.files.iter().map(|f| f.name.as_str()).collect();
        Error::NotFound(format!("request {id} has no file {name}; its files are {}", names.join(", ")))
    })?;
    let never = request.never_exportable();
    if !actor.is_reviewer() && never.iter().any(|f| f.file == entry.name) {
        return Err(Error::refused(
            "non_exportable",
            format!(
                "{name} of request {id} holds what may never leave the data center ({}); only a reviewer reads it",
                describe(&never)
            ),
        ));
    }
    let path = request.root(layout)?.join(&entry.path);
    if !path.is_file() {
        return Err(Error::NotFound(format!(
            "{name} of request {id} is no longer in the work area (review/ is emptied when a project is terminated)"
        )));
    }
    gate::verify(&path, &entry.sha256)?;
    Ok((request, Some(file_text(&path, name)?)))
}

/// A file as a reviewer reads it: text as it is, a Parquet table as CSV.
fn file_text(path: &Path, name: &str) -> Result<String> {
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("parquet")) {
        let frame = crate::table::Frame::read_text_columns(path, &[])?;
        let mut out = csv::Writer::from_writer(Vec::new());
        let internal = |e: csv::Error| Error::Internal(format!("rendering {name}: {e}"));
        out.write_record(frame.names()).map_err(internal)?;
        let columns = frame.names().iter().map(|n| frame.texts(n)).collect::<Result<Vec<_>>>()?;
        for row in 0..frame.rows() {
            out.write_record(columns.iter().map(|c| c[row].clone().unwrap_or_default())).map_err(internal)?;
        }
        let bytes = out.into_inner().map_err(|e| Error::Internal(e.to_string()))?;
        return String::from_utf8(bytes).map_err(|e| Error::Internal(e.to_string()));
    }
    let bytes = std::fs::read(path).at(path)?;
    String::from_utf8(bytes).map_err(|_| {
        crate::bad_input!("{name} is not text (an image?); read the table behind it, which travels in the same request")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_by_name() {
        assert_eq!(FileRole::of_name("a/t1.csv"), FileRole::Table);
        assert_eq!(FileRole::of_name("T1.PARQUET"), FileRole::Table);
        assert_eq!(FileRole::of_name("t1.meta.json"), FileRole::Sidecar);
        assert_eq!(FileRole::of_name("km.png"), FileRole::Figure);
        assert_eq!(FileRole::of_name("notes.md"), FileRole::Text);
        assert_eq!(FileRole::of_name("book.xlsx"), FileRole::Other);
        assert_eq!(FileRole::of_name("x.json"), FileRole::Other);
    }

    #[test]
    fn request_ids_count_up() {
        assert_eq!(number("req-12"), Some(12));
        assert_eq!(number("req-x"), None);
        assert_eq!(number("r-1"), None);
    }
}
