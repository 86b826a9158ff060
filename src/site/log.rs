//! The site's own record (`SITE/log.jsonl`): what the site was asked, what it approved, what it
//! refused and what it sent, one hash-chained JSON record per line, kept by the site whatever the
//! data center keeps. `midnet site log` shows it and verifies the chain.
//!
//! Each line is a JSON object ending in `hash`, chained as the center's audit trail is
//! ([`crate::chain`]). An edited, deleted, inserted or reordered line breaks the chain at the first
//! line it touches, and the site then believes no work request until its staff have looked (the log is
//! also the site's record of the nonces it has seen, so a replayed request is refused after a
//! restart too). Unlike the center's audit trail there is no keyed seal: someone who can rewrite
//! the whole file can rebuild the chain, and a cut-off tail is not detected (docs/network.md).

use std::io::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::SiteDir;
use crate::chain::{self, GENESIS};
use crate::error::{Error, IoContext, Result};
use crate::store::FileLock;

/// What a line records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// A work request that verified against the pinned data-center key, with its nonce.
    Asked,
    /// A message the site did not believe or would not run, with why.
    Refused,
    /// A request that was run and failed at the site.
    Failed,
    /// A result the site signed and sent, with the approval that covered it.
    Sent,
    /// A standing approval given by the site's staff (`site approve`).
    Approved,
    /// Approvals ended by the site's staff (`site approve --revoke`).
    Revoked,
    /// The unfinished end of a record that a stopped `midnet` left (a write cut short), cut off.
    Recovered,
}

/// What a caller records; the log adds the number, time and hashes.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    pub request: Option<String>,
    pub nonce: Option<String>,
    pub project: Option<String>,
    pub script_sha256: Option<String>,
    pub detail: String,
}

/// One line of the log.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub seq: u64,
    /// UTC, RFC 3339.
    pub time: String,
    pub event: Event,
    pub request: Option<String>,
    pub nonce: Option<String>,
    pub project: Option<String>,
    pub script_sha256: Option<String>,
    pub detail: String,
    pub prev: String,
    #[serde(skip_serializing)]
    pub hash: String,
}

fn path(site: &SiteDir) -> PathBuf {
    site.root().join("log.jsonl")
}

/// The site's log, held for one read-and-append.
pub struct Held {
    site: SiteDir,
    records: Vec<Record>,
    _lock: FileLock,
}

/// Take the site's log (waiting for another command of the site) and verify its chain; the
/// unfinished end of a record a stopped `midnet` left is cut off and the cut recorded.
pub fn hold(site: &SiteDir) -> Result<Held> {
    let lock = FileLock::wait(&site.root().join("log.lock"))?;
    let (records, torn) = read_with_tail(site)?;
    let mut held = Held { site: site.clone(), records, _lock: lock };
    if let Some(torn) = torn {
        let file = path(site);
        let whole = std::fs::metadata(&file).at(&file)?.len() - torn as u64;
        std::fs::OpenOptions::new().write(true).open(&file).and_then(|f| f.set_len(whole)).at(&file)?;
        let detail =
            format!("{torn} bytes of an unfinished record (a write cut short: midnet was stopped) were cut off");
        held.append(Event::Recovered, Entry { detail, ..Default::default() })?;
    }
    Ok(held)
}

/// Append one record to the site's log.
pub fn append(site: &SiteDir, event: Event, entry: Entry) -> Result<()> {
    hold(site)?.append(event, entry)
}

impl Held {
    /// The verified request the site has already been asked with `nonce`, if any.
    pub fn asked_with(&self, nonce: &str) -> Option<&Record> {
        self.records.iter().find(|r| r.event == Event::Asked && r.nonce.as_deref() == Some(nonce))
    }

    pub fn append(&mut self, event: Event, entry: Entry) -> Result<()> {
        let prev = self.records.last().map_or(GENESIS.to_string(), |r| r.hash.clone());
        let mut record = Record {
            seq: self.records.len() as u64 + 1,
            time: crate::clock::format_utc(&crate::clock::now_utc()),
            event,
            request: entry.request,
            nonce: entry.nonce,
            project: entry.project,
            script_sha256: entry.script_sha256,
            detail: entry.detail,
            prev,
            hash: String::new(),
        };
        let (body, hash) = chain::seal(&record);
        record.hash = hash;
        let line = format!("{body},\"hash\":\"{}\"}}\n", record.hash);
        let file = path(&self.site);
        let mut out = std::fs::OpenOptions::new().create(true).append(true).open(&file).at(&file)?;
        out.write_all(line.as_bytes()).at(&file)?;
        out.sync_all().at(&file)?;
        self.records.push(record);
        Ok(())
    }
}

/// Every record of the site's log, the chain verified; the first broken line is named. The
/// unfinished end of a record a stopped `midnet` left is not a record (the next append cuts it).
pub fn read(site: &SiteDir) -> Result<Vec<Record>> {
    Ok(read_with_tail(site)?.0)
}

/// The records, and the length of an unfinished last line (no newline: its write never finished)
/// if any.
fn read_with_tail(site: &SiteDir) -> Result<(Vec<Record>, Option<usize>)> {
    let file = path(site);
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), None)),
        Err(e) => return Err(e).at(&file),
    };
    let (whole, tail) = match text.rfind('\n') {
        Some(end) => text.split_at(end + 1),
        None => ("", text.as_str()),
    };
    let torn = (!tail.is_empty()).then_some(tail.len());
    let mut records: Vec<Record> = Vec::new();
    for (i, line) in whole.lines().enumerate() {
        let prev = records.last().map_or(GENESIS, |r| r.hash.as_str());
        let record = check_line(line, i as u64 + 1, prev).map_err(|why| {
            Error::Integrity(format!(
                "site log {} line {}: {why}; the log was changed outside midnet, so the site believes no work \
                 request until its staff have looked",
                file.display(),
                i + 1
            ))
        })?;
        records.push(record);
    }
    Ok((records, torn))
}

fn check_line(line: &str, seq: u64, prev: &str) -> std::result::Result<Record, String> {
    let record: Record = serde_json::from_str(line).map_err(|e| format!("not a log record ({e})"))?;
    let body = chain::body_of(line).ok_or("no hash")?;
    chain::check_hash(body, &record.hash, record.seq).map_err(|b| b.to_string())?;
    chain::check_place(record.seq, &record.prev, seq, prev).map_err(|b| b.to_string())?;
    Ok(record)
}
