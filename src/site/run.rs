//! One site's part of an extraction, as the site runs it ([`answer`]): verify the work request
//! against the data center's pinned key (`site::keys`), refuse a nonce already seen (`site::log`),
//! check the request is what is to be run, find the site's approval for this
//! project, script and parameters (`site::approve::covering`), run each output's query on the
//! integrated data source, replace the patient key by a person id drawn afresh for this
//! extraction, write each output as Parquet (zstd) with a manifest that names the approval, and
//! sign the answer over the request id, its nonce and the manifest's SHA-256. Each step is in the
//! site's log: asked, refused, failed or sent.
//!
//! The person id is a keyed hash of the patient key under a random key that exists only in this
//! process: the site keeps no table linking the two, and the same patient gets an unrelated id in
//! the next extraction. Rows are written in person-id order so that row order reveals nothing.

use std::path::Path;
use std::time::Instant;

use super::log::{self, Event};
use super::manifest::{ApprovalRef, AttritionStep, Expected, MANIFEST_FORMAT, Manifest, OutputFile};
use super::order::{Answer, SiteRequest, WorkOrder};
use super::{approve, engine, keys};
use crate::digest::sha256_file;
use crate::error::{Error, IoContext, Result};
use crate::sql::duckdb::string;
use crate::wire::{self, Envelope, Expect, Kind};

/// Answer the signed work request `request` at time `now` (unix seconds): verify it, run `req`
/// into `outbox` and return the signed answer. Every outcome goes into the site's log; nothing
/// runs unless the request verified, is new, is exactly `req`, and the site approved it.
pub fn answer(req: &SiteRequest, request: &Envelope, outbox: &Path, step: &dyn Fn(&str), now: i64) -> Result<Envelope> {
    let site = req.site;
    let refused = |e: Error, header: Option<&wire::Header>| {
        let entry = log::Entry {
            request: header.map(|h| h.request.clone()),
            nonce: header.map(|h| h.nonce.clone()),
            project: Some(req.project.to_string()),
            script_sha256: Some(req.script_sha256.to_string()),
            detail: e.to_string(),
        };
        let event =
            if matches!(e, Error::Refused { .. } | Error::Integrity(_)) { Event::Refused } else { Event::Failed };
        match log::append(site, event, entry) {
            Ok(()) => e,
            Err(unlogged) => Error::Integrity(format!("{e}; and the site's log could not record it: {unlogged}")),
        }
    };
    let center = keys::pinned_center(site).map_err(|e| refused(e, None))?;
    let expect = Expect { kind: Kind::WorkRequest, signer: &center, signer_name: "the data center", answers: None };
    let opened = wire::open::<WorkOrder>(request, &expect, now).map_err(|e| refused(e, None))?;
    let header = &opened.header;
    admit(req, &opened).map_err(|e| refused(e, Some(header)))?;
    let sent = run_at_site(req, outbox, step).map_err(|e| refused(e, Some(header)))?;
    let key = keys::signing(site).map_err(|e| refused(e, Some(header)))?;
    let answer = wire::seal(
        &key,
        wire::Header::answer(header, Kind::ResultManifest, now),
        &Answer { manifest_sha256: sent.manifest_sha256.clone() },
    );
    let entry = log::Entry {
        request: Some(header.request.clone()),
        nonce: Some(header.nonce.clone()),
        project: Some(req.project.to_string()),
        script_sha256: Some(req.script_sha256.to_string()),
        detail: format!(
            "sent the result under approval #{} ({} rows; manifest SHA-256 {})",
            sent.approval, sent.rows, sent.manifest_sha256
        ),
    };
    log::append(site, Event::Sent, entry)?;
    Ok(answer)
}

/// Admit a verified request: its nonce is new to the site (recorded as asked, under the log's
/// lock), and it asks exactly what `req` is about to run.
fn admit(req: &SiteRequest, opened: &wire::Opened<WorkOrder>) -> Result<()> {
    let header = &opened.header;
    let mut held = log::hold(req.site)?;
    if let Some(earlier) = held.asked_with(&header.nonce) {
        return Err(Error::refused(
            "replay",
            format!(
                "work request {} from the data center: its nonce {} was already received at {} (request {}, log \
                 record {}): a replayed request is never run again",
                header.request,
                header.nonce,
                earlier.time,
                earlier.request.as_deref().unwrap_or("?"),
                earlier.seq
            ),
        ));
    }
    let to_run = WorkOrder::of(req)?;
    if opened.body != to_run {
        return Err(Error::Integrity(format!(
            "work request {}: it asks {} with {:?}, not what is to be run ({} with {:?})",
            header.request, opened.body.script_sha256, opened.body.params, to_run.script_sha256, to_run.params
        )));
    }
    held.append(
        Event::Asked,
        log::Entry {
            request: Some(header.request.clone()),
            nonce: Some(header.nonce.clone()),
            project: Some(opened.body.project.clone()),
            script_sha256: Some(opened.body.script_sha256.clone()),
            detail: format!(
                "asked by the data center: extraction {} as site {}, parameters {:?}, valid until {}",
                opened.body.extraction,
                opened.body.site,
                opened.body.params,
                wire::utc(header.expires_at)
            ),
        },
    )
}

/// What the site wrote: the SHA-256 of its manifest, the approval that covered it, its rows.
struct Sent {
    manifest_sha256: String,
    approval: i64,
    rows: i64,
}

/// Run the request at the site, writing the result into `outbox` (created fresh). `step` is
/// called with a short description of each step.
fn run_at_site(req: &SiteRequest, outbox: &Path, step: &dyn Fn(&str)) -> Result<Sent> {
    let started = Instant::now();
    let conn = open(req)?;
    step("checking approval");
    let params = req.compiled.approval_params();
    let wanted = approve::Wanted { project: req.project, script_sha256: req.script_sha256, params: &params };
    let approval = approve::covering(&conn, req.label, &wanted, approve::site_today())?;
    let data_version: Option<i64> = conn.query_row("SELECT max(data_version) FROM load_history", [], |r| r.get(0))?;
    let data_version = data_version.ok_or_else(|| Error::Failed(format!("site {}: no data loaded yet", req.label)))?;
    if outbox.exists() {
        std::fs::remove_dir_all(outbox).at(outbox)?;
    }
    std::fs::create_dir_all(outbox).at(outbox)?;
    let key = fresh_key();
    let queries = &req.compiled.queries;
    let mut place = engine::Place::of(req.site, &conn, &req.compiled.program, queries, Some(data_version))?;
    let mut outputs = Vec::new();
    for (index, out) in queries.outputs.iter().enumerate() {
        step(&format!("extracting {}", out.name));
        let expected = Expected::of(out);
        let path = outbox.join(&expected.file);
        let (db, from) = place.output(index, out).map_err(|e| site_error(req.label, &out.name, e))?;
        let copy = format!(
            "COPY (SELECT 'P' || substr(sha256({key} || patient_key), 1, 24) AS person_id, * EXCLUDE (patient_key) \
                   FROM {from} ORDER BY person_id) TO {to} (FORMAT parquet, COMPRESSION zstd)",
            key = string(&key),
            to = string(&path.to_string_lossy())
        );
        let rows = db.execute(&copy, []).map_err(|e| site_error(req.label, &out.name, e))? as i64;
        outputs.push(OutputFile {
            sha256: sha256_file(&path)?,
            name: expected.name,
            file: expected.file,
            rows,
            patient_level: expected.patient_level,
            columns: expected.columns,
        });
    }
    step("counting attrition");
    let (db, sql) = place.attrition().map_err(|e| site_error(req.label, "attrition", e))?;
    let attrition = attrition(db, &sql).map_err(|e| site_error(req.label, "attrition", e))?;
    let manifest = Manifest {
        format: MANIFEST_FORMAT.to_string(),
        extraction: req.extraction,
        project: req.project.to_string(),
        site: req.label.to_string(),
        data_version,
        script_sha256: req.script_sha256.to_string(),
        params: req.compiled.params.clone(),
        cutoff: req.compiled.cutoff.as_ref().and_then(|c| req.compiled.params.get(c).cloned()),
        approval: Some(ApprovalRef {
            id: approval.id,
            approved_at: approval.approved_at,
            until: approval.until.map(|d| d.to_string()),
        }),
        midnet_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        seconds: started.elapsed().as_secs_f64(),
        outputs,
        attrition,
    };
    let rows = manifest.outputs.iter().map(|o| o.rows).sum();
    Ok(Sent { manifest_sha256: manifest.write(outbox)?, approval: approval.id, rows })
}

/// Threads and memory for each of `jobs` site databases run side by side: the machine's cores
/// and 60% of its memory, shared out.
pub fn share_of_machine(jobs: usize) -> (usize, String) {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let threads = (cores / jobs).max(1);
    let total_mb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(4096, |kb| kb / 1024);
    (threads, format!("{}MB", (total_mb * 6 / 10 / jobs as u64).max(256)))
}

fn open(req: &SiteRequest) -> Result<duckdb::Connection> {
    req.site.open_read_only_with(req.threads, req.memory_limit)
}

fn attrition(conn: &duckdb::Connection, sql: &str) -> std::result::Result<Vec<AttritionStep>, duckdb::Error> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([], |r| {
        Ok(AttritionStep {
            step: r.get(0)?,
            rule: r.get(1)?,
            kind: r.get(2)?,
            patients_before: r.get(3)?,
            removed: r.get(4)?,
            patients_after: r.get(5)?,
        })
    })?;
    rows.collect()
}

/// 32 random bytes as hex, from the operating system's generator.
fn fresh_key() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    hex::encode(bytes)
}

fn site_error(site: &str, what: &str, e: impl std::fmt::Display) -> Error {
    Error::Failed(format!("site {site}: {what} failed: {e}"))
}
