//! The center's side of one site's part of an extraction, as signed messages: sign the work
//! request, keep it, hand it to the site, and believe the site's answer only when it is signed by
//! the key registered for that site, answers that very request (id and nonce) and has not been
//! answered before. Every request and answer is kept in `HOME/network/requests/ID.json`, outside
//! any work area: a signed answer would name the hospital to anyone holding its public key, and
//! the nonces kept there let the center refuse an answer replayed after a restart.
//!
//! Today the messages travel in process ([`deliver`]), through the same request, verification and
//! records the network transport will use (docs/network.md).

use std::path::PathBuf;

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::center::Home;
use crate::error::{Error, Result};
use crate::site::order::{Answer, SiteRequest, WorkOrder};
use crate::store::FileLock;
use crate::wire::{self, Envelope, Expect, Header, Kind, SiteState};

/// How long a work request is valid unless the analyst says otherwise: a site that has not
/// answered by then is asked again when the analyst resumes the extraction, never run late.
pub const REQUEST_SECONDS: i64 = 3600;

/// What the center keeps of one work request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Kept {
    /// The site's registry id (the request itself names only its pseudonym).
    site: String,
    /// The project, extraction and pseudonym the request is for: the request id says nothing.
    project: String,
    extraction: i64,
    label: String,
    request: Envelope,
    answer: Option<Envelope>,
    /// When it was issued, in nanoseconds: orders two requests issued within one second (a
    /// request issued again at once after one failed). None in requests kept before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    issued_nanos: Option<i64>,
}

fn requests_dir(home: &Home) -> PathBuf {
    home.root().join("network").join("requests")
}

fn kept_path(home: &Home, request: &str) -> PathBuf {
    requests_dir(home).join(format!("{request}.json"))
}

/// The requests issued to a site that its agent has not fetched yet, one empty file each
/// (`HOME/network/queued/SITE/ID`): what a long poll looks at, without reading every request kept.
fn queue_dir(home: &Home, site_id: &str) -> PathBuf {
    home.root().join("network").join("queued").join(site_id)
}

/// Where `center serve` puts what a site uploads for `request`, until the analyst's `extract`
/// takes it into the project or the request settles otherwise.
pub fn spool_dir(home: &Home, request: &str) -> PathBuf {
    home.root().join("network").join("spool").join(request)
}

/// Remove the spool of `request`: nothing of it is taken in any more.
pub fn remove_spool(home: &Home, request: &str) -> Result<()> {
    let dir = spool_dir(home, request);
    match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(&dir, e)),
        _ => Ok(()),
    }
}

/// The lock of one request (`HOME/network/locks/ID`): `center serve` holds it while it serves a
/// call about the request, `extract` while it takes the request's upload in, so that no two calls
/// and no two processes change one request at once. Held briefly: never while verifying an upload.
pub fn lock_request(home: &Home, request: &str) -> Result<FileLock> {
    let dir = network_dir(home).join("locks");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    FileLock::wait(&dir.join(request))
}

/// One `center serve` per home: the lock it holds while it serves, saying which process it is.
pub fn lock_serving(home: &Home) -> Result<FileLock> {
    let dir = network_dir(home);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let mut lock = FileLock::try_take(&dir.join("serve.lock"), |holder| {
        format!("{}: another center serve serves this home ({holder}); a home has one", home.root().display())
    })?;
    lock.describe(&serving_process());
    Ok(lock)
}

/// The `center serve` serving the home now, as it describes itself, if one does.
fn serving(home: &Home) -> Result<Option<String>> {
    let path = network_dir(home).join("serve.lock");
    if !path.exists() {
        return Ok(None);
    }
    match FileLock::try_take(&path, str::to_string) {
        Ok(_free) => Ok(None),
        Err(Error::Busy(holder)) => Ok(Some(holder)),
        Err(e) => Err(e),
    }
}

/// How a `center serve` names itself, in its lock and in the markers of the uploads it verifies.
fn serving_process() -> String {
    format!("process {}", std::process::id())
}

fn verifying_path(home: &Home, request: &str) -> PathBuf {
    network_dir(home).join("verifying").join(request)
}

/// Mark `request`'s upload as being verified by this `center serve` (outside the request's lock,
/// since verifying a large upload takes long): `extract` leaves it alone meanwhile.
pub fn mark_verifying(home: &Home, request: &str) -> Result<()> {
    let path = verifying_path(home, request);
    let dir = path.parent().expect("a marker has a directory");
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    crate::store::write_atomically(&path, serving_process().as_bytes())
}

pub fn unmark_verifying(home: &Home, request: &str) -> Result<()> {
    let path = verifying_path(home, request);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(&path, e)),
        _ => Ok(()),
    }
}

/// Who verifies `request`'s upload now: `Mine` (this process), `Other` (the `center serve` that
/// serves the home, seen from `extract`), or `Nobody` (no marker, or one left by a process that
/// stopped: the upload is verified again by whoever takes it up).
pub fn verifier(home: &Home, request: &str) -> Result<Verifier> {
    let path = verifying_path(home, request);
    let Ok(marker) = std::fs::read_to_string(&path) else { return Ok(Verifier::Nobody) };
    if marker == serving_process() {
        return Ok(Verifier::Mine);
    }
    Ok(if serving(home)?.is_some_and(|serve| serve == marker) { Verifier::Other } else { Verifier::Nobody })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verifier {
    Mine,
    Other,
    Nobody,
}

fn network_dir(home: &Home) -> PathBuf {
    home.root().join("network")
}

/// Changes under a directory of the home's network records, as they happen: what a long poll of
/// the serve (the sites' queues) and `extract --wait` (the requests' states) wait on, so that a
/// request issued or a state recorded by another process wakes them at once instead of at their
/// next look.
pub struct Changes {
    seen: std::sync::Arc<(std::sync::Mutex<u64>, std::sync::Condvar)>,
    _watcher: notify::RecommendedWatcher,
}

impl Changes {
    /// Watch `dir` (made if missing) and everything under it.
    fn watch(dir: &std::path::Path) -> Result<Changes> {
        use notify::Watcher;
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let seen = std::sync::Arc::new((std::sync::Mutex::new(0u64), std::sync::Condvar::new()));
        let told = seen.clone();
        let mut watcher = notify::recommended_watcher(move |_event: notify::Result<notify::Event>| {
            // An error of the watcher is a change too: whoever waits looks again.
            let (count, changed) = &*told;
            *count.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) += 1;
            changed.notify_all();
        })
        .map_err(|e| Error::Internal(format!("{}: cannot watch for changes: {e}", dir.display())))?;
        watcher
            .watch(dir, notify::RecursiveMode::Recursive)
            .map_err(|e| Error::Internal(format!("{}: cannot watch for changes: {e}", dir.display())))?;
        Ok(Changes { seen, _watcher: watcher })
    }

    /// The sites' queues of requests not yet fetched.
    pub fn of_queues(home: &Home) -> Result<Changes> {
        Changes::watch(&network_dir(home).join("queued"))
    }

    /// The requests' states, as `center serve` records them.
    pub fn of_states(home: &Home) -> Result<Changes> {
        Changes::watch(&network_dir(home).join("states"))
    }

    /// How many changes were seen so far: taken before looking, then given to [`Changes::wait`].
    pub fn seen(&self) -> u64 {
        *self.seen.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Wait until a change after the `seen` ones, or `most` passed.
    pub fn wait(&self, seen: u64, most: std::time::Duration) {
        let (count, changed) = &*self.seen;
        let count = count.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let _ = changed.wait_timeout_while(count, most, |count| *count == seen);
    }
}

/// One site's exchange: who it is to the center, and the keys on both ends.
pub struct Exchange<'a> {
    pub home: &'a Home,
    pub center_key: &'a SigningKey,
    /// The site's registry id, and its registered public key.
    pub site_id: &'a str,
    pub site_key: &'a VerifyingKey,
    /// How long a request issued now is valid, in seconds.
    pub lifetime: i64,
}

impl Exchange<'_> {
    /// Sign and keep a new work request for `req`.
    pub fn issue(&self, req: &SiteRequest) -> Result<(Header, Envelope)> {
        let mut tag = [0u8; 16];
        rand::fill(&mut tag);
        let id = format!("r{}", hex::encode(tag));
        let header = Header::request(&id, now(), self.lifetime);
        let envelope = wire::seal(self.center_key, header.clone(), &WorkOrder::of(req)?);
        let dir = requests_dir(self.home);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let kept = Kept {
            site: self.site_id.to_string(),
            project: req.project.to_string(),
            extraction: req.extraction,
            label: req.label.to_string(),
            request: envelope.clone(),
            answer: None,
            issued_nanos: crate::clock::now_utc().timestamp_nanos_opt(),
        };
        crate::store::write_json(&kept_path(self.home, &id), &kept)?;
        let queue = queue_dir(self.home, self.site_id);
        std::fs::create_dir_all(&queue).map_err(|e| Error::io(&queue, e))?;
        crate::store::write_atomically(&queue.join(&id), b"")?;
        Ok((header, envelope))
    }

    /// Believe `answer` to the request `asked` or refuse it: it must be the first answer to that
    /// request, signed by this site's registered key, for that request id and nonce, unexpired at
    /// `at` (unix seconds: when the site's result reached the center). The answer is kept beside
    /// the request before its body is returned.
    pub fn accept(&self, asked: &Header, label: &str, answer: &Envelope, at: i64) -> Result<Answer> {
        let path = kept_path(self.home, &asked.request);
        let mut kept: Kept = crate::store::read_json(&path)?;
        if let Some(earlier) = &kept.answer {
            let same = if earlier == answer { "this very answer" } else { "another answer" };
            return Err(Error::refused(
                "replay",
                format!(
                    "site {label}: request {} was already answered ({same} is kept); a second answer to one \
                     request is never accepted",
                    asked.request
                ),
            ));
        }
        let name = format!("site {label}");
        let expect = Expect {
            kind: Kind::ResultManifest,
            signer: self.site_key,
            signer_name: &name,
            answers: Some((&asked.request, &asked.nonce)),
        };
        let opened = wire::open::<Answer>(answer, &expect, at)?;
        kept.answer = Some(answer.clone());
        crate::store::write_json(&path, &kept)?;
        dequeue(self.home, &kept.site, &asked.request)?;
        Ok(opened.body)
    }

    /// The request issued to this site before `current`, latest first: what a replay would resend.
    fn earlier_request(&self, current: &str) -> Result<Option<Envelope>> {
        let mut earlier: Vec<(i64, Envelope)> = all_kept(self.home)?
            .into_iter()
            .filter(|(header, kept)| kept.site == self.site_id && header.request != current)
            .map(|(header, kept)| (header.issued_at, kept.request))
            .collect();
        earlier.sort_by_key(|(issued, _)| *issued);
        Ok(earlier.pop().map(|(_, e)| e))
    }
}

/// Where a request stands, as the center last heard (`center serve` writes it from the agent's
/// reports and its own checks): `HOME/network/states/ID.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stated {
    pub state: SiteState,
    pub detail: String,
    /// Unix seconds.
    pub at: i64,
    /// The SHA-256 of the signed manifest that `center serve` verified the upload against (every
    /// file's hash and rows) as it recorded the request done: `extract` takes that upload in
    /// without verifying its files again. None otherwise: a serve stopped between verifying and
    /// recording leaves none, and the upload is verified again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_manifest: Option<String>,
}

fn state_path(home: &Home, request: &str) -> PathBuf {
    home.root().join("network").join("states").join(format!("{request}.json"))
}

/// A request id from outside (an agent's call) names a kept request only if it is a plain name.
fn kept(home: &Home, request: &str) -> Result<Option<Kept>> {
    if !crate::store::is_identifier(request) {
        return Err(Error::Integrity(format!("{request:?} is not a request id")));
    }
    let path = kept_path(home, request);
    if !path.is_file() {
        return Ok(None);
    }
    crate::store::read_json(&path).map(Some)
}

/// Record where `request` stands. A done or failed request stays so: a later report (the agent
/// saying what the center already decided) changes nothing.
pub fn set_state(home: &Home, request: &str, state: SiteState, detail: &str) -> Result<()> {
    record_state(home, request, Stated { state, detail: detail.to_string(), at: now(), verified_manifest: None })
}

/// Record `request` done, its upload verified against the signed manifest `manifest_sha256`.
pub fn set_verified(home: &Home, request: &str, manifest_sha256: &str, detail: &str) -> Result<()> {
    let stated = Stated {
        state: SiteState::Done,
        detail: detail.to_string(),
        at: now(),
        verified_manifest: Some(manifest_sha256.to_string()),
    };
    record_state(home, request, stated)
}

fn record_state(home: &Home, request: &str, stated: Stated) -> Result<()> {
    let Some(kept) = kept(home, request)? else {
        return Err(Error::NotFound(format!("request {request}: no such request was issued")));
    };
    dequeue(home, &kept.site, request)?;
    if state_of(home, request)?.is_some_and(|s| s.state.is_final()) {
        return Ok(());
    }
    let path = state_path(home, request);
    let dir = path.parent().expect("a state file has a directory");
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    crate::store::write_json(&path, &stated)
}

pub fn state_of(home: &Home, request: &str) -> Result<Option<Stated>> {
    let path = state_path(home, request);
    if path.is_file() { crate::store::read_json(&path).map(Some) } else { Ok(None) }
}

/// The registry id of the site `request` was issued to, if it was issued.
pub fn site_of(home: &Home, request: &str) -> Result<Option<String>> {
    Ok(kept(home, request)?.map(|k| k.site))
}

/// The answer the center accepted to `request`, if any, as it was signed and as it reads.
pub fn accepted(home: &Home, request: &str) -> Result<Option<(Envelope, Answer)>> {
    let Some(answer) = kept(home, request)?.and_then(|k| k.answer) else { return Ok(None) };
    let body = opened_unchecked::<Answer>(&answer)?.body;
    Ok(Some((answer, body)))
}

/// Take `request` off its site's queue: its agent fetched it, or it was answered.
fn dequeue(home: &Home, site_id: &str, request: &str) -> Result<()> {
    let path = queue_dir(home, site_id).join(request);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(&path, e)),
        _ => Ok(()),
    }
}

/// The header of the issued `request` and the site's pseudonym it names.
pub fn issued(home: &Home, request: &str) -> Result<(Header, String)> {
    let kept = kept(home, request)?.ok_or_else(|| Error::NotFound(format!("request {request}: never issued")))?;
    Ok((header_of(&kept.request)?, kept.label))
}

/// The requests issued to `site_id` that its agent has not fetched yet and may still answer
/// (unanswered, unexpired at `now`, without a state), at most `most` of them. Only the site's
/// queue is read; an entry whose request expired, settled or is gone is taken off it, and so is
/// one that cannot be read (a stray file, a damaged request), said on the server's terminal: one
/// bad entry never keeps the site from its work.
pub fn queued(home: &Home, site_id: &str, now: i64, most: usize) -> Result<Vec<Envelope>> {
    let dir = queue_dir(home, site_id);
    let Ok(entries) = std::fs::read_dir(&dir) else { return Ok(Vec::new()) };
    let mut open = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| Error::io(&dir, e))?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.starts_with('.') {
            continue; // an entry being written
        }
        match fetchable(home, site_id, &name, now) {
            Ok(Some(request)) => open.push(request),
            Ok(None) => unqueue(&path)?,
            Err(e) => {
                eprintln!("center serve: {}: {e}; taken off the site's queue", path.display());
                unqueue(&path)?;
            }
        }
        if open.len() >= most {
            break;
        }
    }
    Ok(open)
}

/// The request the queue entry `name` of `site_id` names, if its agent may still fetch it.
fn fetchable(home: &Home, site_id: &str, name: &str, now: i64) -> Result<Option<Envelope>> {
    let Some(kept) = kept(home, name)? else { return Ok(None) };
    let header = header_of(&kept.request)?;
    let open =
        kept.site == site_id && kept.answer.is_none() && now < header.expires_at && state_of(home, name)?.is_none();
    Ok(open.then_some(kept.request))
}

/// Remove an entry of a site's queue, whatever it is (a stray directory too).
fn unqueue(path: &std::path::Path) -> Result<()> {
    let removed = if path.is_dir() { std::fs::remove_dir_all(path) } else { std::fs::remove_file(path) };
    match removed {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(path, e)),
        _ => Ok(()),
    }
}

/// The latest request of extraction `extraction` of `project` issued to `site_id`, with the
/// SHA-256 of the manifest its accepted answer signed, if any.
pub fn latest(home: &Home, site_id: &str, project: &str, extraction: i64) -> Result<Option<(Header, Option<String>)>> {
    let mut found: Option<Latest> = None;
    for (header, kept) in all_kept(home)? {
        if kept.site != site_id || kept.project != project || kept.extraction != extraction {
            continue;
        }
        let issued = (header.issued_at, kept.issued_nanos);
        if found.as_ref().is_some_and(|latest| latest.issued > issued) {
            continue;
        }
        let manifest_sha256 =
            kept.answer.as_ref().map(opened_unchecked::<Answer>).transpose()?.map(|a| a.body.manifest_sha256);
        found = Some(Latest { issued, header, manifest_sha256 });
    }
    Ok(found.map(|latest| (latest.header, latest.manifest_sha256)))
}

/// The latest request found so far: when it was issued (seconds, and nanoseconds where kept), its
/// header, and the manifest hash its accepted answer signed.
struct Latest {
    issued: (i64, Option<i64>),
    header: Header,
    manifest_sha256: Option<String>,
}

/// Every kept request with its header. One that cannot be read (damaged, or not a request) is
/// named on standard error and left out: it is never believed, and the requests of every other
/// site and extraction go on (a site whose latest request it was is asked afresh).
fn all_kept(home: &Home) -> Result<Vec<(Header, Kept)>> {
    let dir = requests_dir(home);
    let Ok(entries) = std::fs::read_dir(&dir) else { return Ok(Vec::new()) };
    let mut all = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| Error::io(&dir, e))?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.starts_with('.') || !name.ends_with(".json") {
            continue; // a request being written
        }
        let read = crate::store::read_json::<Kept>(&path).and_then(|kept| Ok((header_of(&kept.request)?, kept)));
        match read {
            Ok(kept) => all.push(kept),
            Err(e) => eprintln!("{}: a kept request cannot be read ({e}); it is left out", path.display()),
        }
    }
    Ok(all)
}

/// How long after its expiry an unanswered request's upload and lock are kept: its answer may still
/// be handed in (judged as of when the upload ended) until the analyst issues it again.
const EXPIRED_KEPT_SECONDS: i64 = 86_400;

/// Remove what settled and expired requests left behind in `HOME/network/`, as `center serve`'s
/// housekeeping does at its start and every minute: the spool of a request that failed, was issued
/// again (a later request of its extraction and site) or expired a day ago unanswered, or that
/// names no request; the lock of such a request, or of one settled, once no spool is left; a
/// verification marker of no running verification (a stopped serve's). A spool of a request done
/// stays until `extract` takes it in. Says on standard error what it could not remove.
pub fn tidy(home: &Home, now: i64) -> Result<()> {
    let all = all_kept(home)?;
    let latest = |kept: &Kept, header: &Header| {
        !all.iter().any(|(h, k)| {
            k.site == kept.site
                && k.project == kept.project
                && k.extraction == kept.extraction
                && (h.issued_at, k.issued_nanos) > (header.issued_at, kept.issued_nanos)
        })
    };
    // Whether nothing more will come of the request `id`'s upload, and whether it settled.
    let spent = |id: &str| -> Result<(bool, bool)> {
        let Some((header, kept)) = all.iter().find(|(h, _)| h.request == id) else { return Ok((true, true)) };
        let state = state_of(home, id)?.map(|s| s.state);
        let abandoned =
            kept.answer.is_none() && (!latest(kept, header) || now >= header.expires_at + EXPIRED_KEPT_SECONDS);
        Ok((state == Some(SiteState::Failed) || abandoned, state.is_some_and(|s| s.is_final())))
    };
    let net = network_dir(home);
    for id in entries(&net.join("spool")) {
        if spent(&id)?.0 {
            remove_spool(home, &id)?;
        }
    }
    for id in entries(&net.join("locks")) {
        let (abandoned, settled) = spent(&id)?;
        if (abandoned || settled) && !spool_dir(home, &id).exists() {
            remove_lock(&net.join("locks").join(&id));
        }
    }
    for id in entries(&net.join("verifying")) {
        if verifier(home, &id)? != Verifier::Mine {
            unmark_verifying(home, &id)?;
        }
    }
    Ok(())
}

/// The names in `dir` that may be request ids (none if it does not exist).
fn entries(dir: &std::path::Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| crate::store::is_identifier(name))
        .collect()
}

/// Remove a request's lock file, taken first: one held (a call or an `extract` at work) stays.
fn remove_lock(path: &std::path::Path) {
    if let Ok(_held) = FileLock::try_take(path, str::to_string)
        && let Err(e) = std::fs::remove_file(path)
    {
        eprintln!("{}: a request's lock cannot be removed: {e}", path.display());
    }
}

/// Hand the request to the site and its answer back, in process. The site answers at its own
/// clock's `now`. The fault drills of `MIDNET_FAULT=KIND:SITE_ID` stand for a hostile or slow
/// network between the two, for operators and tests; verification must refuse each:
/// `foreign-request` (a request signed by a key that is not the center's), `replay-request` (the
/// last request sent to that site before, delivered again), `expired-request` (the request
/// delivered only once it has expired), `foreign-answer` (the answer re-signed by another key),
/// `altered-answer` (the answer's signed text changed in transit).
pub fn deliver(
    exchange: &Exchange,
    header: &Header,
    request: Envelope,
    answer_at_site: impl FnOnce(&Envelope, i64) -> Result<Envelope>,
) -> Result<Envelope> {
    let fault = fault_for(exchange.site_id);
    let (request, site_now) = match fault.as_deref() {
        Some("foreign-request") => {
            let order: wire::Opened<WorkOrder> = opened_unchecked(&request)?;
            (wire::seal(&wire::new_signing_key(), order.header, &order.body), now())
        }
        Some("replay-request") => (exchange.earlier_request(&header.request)?.unwrap_or(request), now()),
        Some("expired-request") => (request, header.expires_at),
        _ => (request, now()),
    };
    let mut answer = answer_at_site(&request, site_now)?;
    match fault.as_deref() {
        Some("foreign-answer") => {
            let opened: wire::Opened<Answer> = opened_unchecked(&answer)?;
            answer = wire::seal(&wire::new_signing_key(), opened.header, &opened.body);
        }
        Some("altered-answer") => {
            let opened: wire::Opened<Answer> = opened_unchecked(&answer)?;
            let manifest = &opened.body.manifest_sha256;
            let altered = manifest.chars().rev().collect::<String>();
            answer.payload = answer.payload.replace(manifest.as_str(), &altered);
        }
        _ => {}
    }
    Ok(answer)
}

fn fault_for(site_id: &str) -> Option<String> {
    let fault = std::env::var("MIDNET_FAULT").ok()?;
    let (kind, site) = fault.split_once(':')?;
    (site == site_id).then(|| kind.to_string())
}

/// A kept envelope's header, read without verifying (the center reads its own records).
fn header_of(envelope: &Envelope) -> Result<Header> {
    Ok(opened_unchecked::<serde_json::Value>(envelope)?.header)
}

/// Read an envelope's payload without checking its signature: for the drills and the center's own
/// records only, never for a message received.
fn opened_unchecked<T: serde::de::DeserializeOwned>(envelope: &Envelope) -> Result<wire::Opened<T>> {
    #[derive(Deserialize)]
    struct Payload<T> {
        header: Header,
        body: T,
    }
    let payload: Payload<T> = serde_json::from_str(&envelope.payload)
        .map_err(|e| Error::Integrity(format!("a kept message cannot be read: {e}")))?;
    Ok(wire::Opened { header: payload.header, body: payload.body })
}

fn now() -> i64 {
    crate::clock::now_utc().timestamp()
}
