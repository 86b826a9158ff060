//! `midnet center serve`: the data center's HTTPS endpoint for the sites' agents. One path,
//! `POST /v1/call`, whose signed envelope (`wire::Call`, in the `x-midnet-call` header as hex) says
//! what the agent asks; the envelope must verify under the key registered for an active site
//! before any body is read, and the request it names must have been issued to that site. The
//! center serves only what it signed for that site (its work requests) and its own counts of
//! received bytes: nothing patient-level is ever served. What a site uploads goes into the
//! center's spool (`HOME/network/spool/ID/`), outside every work area; its answer is believed and
//! its files verified here, and the analyst's next `extract` takes the verified result into the
//! project (`agents`).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ed25519_dalek::{SigningKey, VerifyingKey};

use super::exchange::{self, Exchange};
use crate::audit::Outcome;
use crate::center::{Actor, Home};
use crate::error::{Error, IoContext, Result};
use crate::https::{Head, Limits, Response};
use crate::wire::{self, Call, Envelope, Expect, Kind, SiteState};

/// The most files one request's upload may have (a script's outputs and the manifest).
const MAX_FILES: usize = 64;
/// The most bytes one request's upload may have, all files together.
const MAX_UPLOAD_BYTES: u64 = 64 << 30;
/// The longest a detail an agent reports is kept.
const MAX_DETAIL_CHARS: usize = 2000;
/// Calls refused before their signature verified are counted, and recorded in the audit trail at
/// most once per this interval: a flood of them cannot grow the trail without bound.
const REFUSAL_WINDOW: Duration = Duration::from_secs(60);
/// The most work requests one `work` call returns (the rest come at the next): a site with many
/// queued never gets an answer too long for its agent to read.
const MAX_WORK_PER_CALL: usize = 16;
/// A long poll looks at the site's queue when it changes (a request issued wakes it at once), and
/// at least this often: a change the watcher missed (a site's first queue entry, written as its
/// directory is made, before the watch on that directory is in place) costs at most this long.
const QUEUE_LOOK: Duration = Duration::from_secs(5);
/// The most calls of one site served at once. An agent makes one call at a time; more are several
/// agents of one site, or calls it gave up on whose work goes on (a handler is not cancelled):
/// a site cannot take more than its share of the center's threads.
const MAX_CALLS_PER_SITE: usize = 4;

/// What `center serve` needs to answer the agents.
pub struct Serve {
    /// The center's home. The reviewer who serves is looked up again for every call (their
    /// session, their role): a session that ended, or a role taken away, stops the serving.
    home: Home,
    center_key: SigningKey,
    /// The longest a long poll waits (the agent asks for less or more; tests ask for little).
    poll_limit: Duration,
    refusals: Mutex<Refusals>,
    /// Changes of the sites' queues, which wake the long polls.
    queues: exchange::Changes,
    /// The calls being served, by site.
    in_flight: Arc<Mutex<HashMap<String, usize>>>,
    /// One `center serve` per home: held while this one serves.
    _serving: crate::store::FileLock,
}

/// The calls refused before their signature verified, since the last audit record of them.
#[derive(Default)]
struct Refusals {
    count: u64,
    /// The last refusal, as the audit trail records it.
    last: Option<Outcome>,
    recorded: Option<Instant>,
}

/// A call whose signature verified: the registered site that made it, what it asks, and its place
/// among the site's calls in flight.
pub struct Admitted {
    site: Registered,
    call: wire::Opened<Call>,
    _slot: Slot,
}

/// A call of a site being served, counted until it is answered (or its body failed to arrive).
struct Slot {
    site: String,
    in_flight: Arc<Mutex<HashMap<String, usize>>>,
}

impl Slot {
    /// A slot for a call of `site`, or None when the site has [`MAX_CALLS_PER_SITE`] in flight.
    fn take(in_flight: &Arc<Mutex<HashMap<String, usize>>>, site: &str) -> Option<Slot> {
        let mut counts = in_flight.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = counts.entry(site.to_string()).or_default();
        if *count >= MAX_CALLS_PER_SITE {
            return None;
        }
        *count += 1;
        Some(Slot { site: site.to_string(), in_flight: in_flight.clone() })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.in_flight.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = counts.get_mut(&self.site) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.site);
            }
        }
    }
}

impl Serve {
    pub fn new(actor: &Actor, poll_limit: Duration) -> Result<Serve> {
        actor.require_reviewer("serving the sites' agents")?;
        let serving = exchange::lock_serving(actor.home())?;
        let center_key = crate::center::keys::signing(actor)?;
        let serve = Serve {
            home: actor.home().clone(),
            center_key,
            poll_limit,
            refusals: Mutex::new(Refusals::default()),
            queues: exchange::Changes::of_queues(actor.home())?,
            in_flight: Arc::new(Mutex::new(HashMap::new())),
            _serving: serving,
        };
        // Before the serve says where it serves: what it finds is tidied before the first call.
        serve.tidy();
        Ok(serve)
    }

    /// Serve on `listener` until the process ends.
    pub fn run(self, listener: std::net::TcpListener, tls: rustls::ServerConfig, limits: Limits) -> Result<()> {
        let serve = Arc::new(self);
        let recorder = serve.clone();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(REFUSAL_WINDOW);
                recorder.record_refusals(false);
                recorder.tidy();
            }
        });
        crate::https::serve(listener, tls, limits, serve)
    }

    /// Remove what settled and expired requests left behind (`exchange::tidy`); a failure is said
    /// on the server's terminal and tried again at the next round.
    fn tidy(&self) {
        if let Err(e) = exchange::tidy(&self.home, now()) {
            eprintln!("center serve: housekeeping: {e}");
        }
    }

    /// Believe the call: the registered active site whose key signed it, and the call, verified.
    fn believe(&self, head: &Head) -> Result<Admitted> {
        if head.path != crate::site::agent::CALL_PATH {
            return Err(Error::NotFound(format!(
                "{}: the center serves agents at {} only",
                head.path,
                crate::site::agent::CALL_PATH
            )));
        }
        let text = head.call.as_deref().ok_or_else(|| Error::Integrity("a call without its signed envelope".into()))?;
        let envelope: Envelope = hex::decode(text)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| Error::Integrity("a call whose envelope cannot be read".into()))?;
        let sites = &crate::center::sites::registered(&self.home)?;
        let site = sites
            .iter()
            .filter(|s| s.retired.is_none())
            .filter_map(|s| Some(Registered { id: s.id.clone(), key: s.public_key().ok()? }))
            .find(|s| wire::key_id(&s.key) == envelope.signer)
            .ok_or_else(|| {
                Error::Integrity(format!(
                    "a call signed by key {}, which is the key of no active registered site (a retired site's key is \
                     revoked)",
                    wire::plain_text(&envelope.signer, 64)
                ))
            })?;
        let name = format!("site {}", site.id);
        let expect = Expect { kind: Kind::AgentCall, signer: &site.key, signer_name: &name, answers: None };
        let call = wire::open::<Call>(&envelope, &expect, now())?;
        check_lifetime(&call.header, &name)?;
        let slot = Slot::take(&self.in_flight, &site.id).ok_or_else(|| {
            Error::Busy(format!(
                "site {}: {MAX_CALLS_PER_SITE} calls of this site are being served; try again later",
                site.id
            ))
        })?;
        Ok(Admitted { site, call, _slot: slot })
    }

    /// Do what a believed call asks.
    fn dispatch(&self, admitted: Admitted, body: &[u8]) -> Result<serde_json::Value> {
        let Admitted { site, call, .. } = admitted;
        let asked = call.header.request.as_str();
        if let Call::Work { wait_seconds } = call.body {
            return self.work(&site, wait_seconds);
        }
        self.own(&site, asked)?;
        if let Call::Answer { answer } = &call.body {
            return self.answer(&site, asked, answer);
        }
        let _one_at_a_time = exchange::lock_request(&self.home, asked)?;
        match call.body {
            Call::Work { .. } | Call::Answer { .. } => unreachable!("answered above"),
            Call::State { state, detail } => self.state(asked, state, &detail),
            Call::Received => self.received(asked),
            Call::Chunk { file, offset, sha256 } => self.chunk(asked, &file, offset, &sha256, body),
        }
    }

    /// The bytes the center holds of each file of the request's upload, and whether it holds its
    /// answer (then the agent hands the answer in again, and sends no bytes: its reply was lost).
    fn received(&self, request: &str) -> Result<serde_json::Value> {
        let answered = exchange::accepted(&self.home, request)?.is_some();
        let files = received(&exchange::spool_dir(&self.home, request));
        Ok(serde_json::json!({"files": files, "answered": answered}))
    }

    /// The work requests issued to `site` that its agent has not fetched, unanswered and
    /// unexpired, at most [`MAX_WORK_PER_CALL`]; waits up to `wait_seconds` (at most the poll
    /// limit) for one, looking at the site's queue again when the queues change.
    fn work(&self, site: &Registered, wait_seconds: u64) -> Result<serde_json::Value> {
        let until = Instant::now() + Duration::from_secs(wait_seconds).min(self.poll_limit);
        loop {
            let seen = self.queues.seen();
            let queued = exchange::queued(&self.home, &site.id, now(), MAX_WORK_PER_CALL)?;
            let left = until.saturating_duration_since(Instant::now());
            if !queued.is_empty() || left.is_zero() {
                return Ok(serde_json::json!({ "requests": queued }));
            }
            self.queues.wait(seen, left.min(QUEUE_LOOK));
        }
    }

    /// Refuse a call about a request not issued to `site`.
    fn own(&self, site: &Registered, request: &str) -> Result<()> {
        match exchange::site_of(&self.home, request)? {
            Some(id) if id == site.id => Ok(()),
            _ => Err(Error::Integrity(format!("site {}: request {request} was not issued to it", site.id))),
        }
    }

    /// Record where the site says `request` stands. Only the center decides that a request is
    /// done (it verified the upload); a site may say it failed, and its upload then goes.
    fn state(&self, request: &str, state: SiteState, detail: &str) -> Result<serde_json::Value> {
        if state == SiteState::Done {
            return Err(Error::BadInput(format!(
                "request {request}: only the data center says a request is done, once it verified the upload"
            )));
        }
        let detail = wire::plain_text(detail, MAX_DETAIL_CHARS);
        exchange::set_state(&self.home, request, state, &detail)?;
        if state == SiteState::Failed && exchange::accepted(&self.home, request)?.is_none() {
            exchange::remove_spool(&self.home, request)?;
        }
        Ok(serde_json::json!({"ok": true}))
    }

    /// Append a chunk to a file of the request's result: the request must still take bytes
    /// (unanswered, unexpired, not settled), the chunk's bytes must have the SHA-256 signed in the
    /// call, start where the center's copy ends, and keep the upload within its caps.
    fn chunk(&self, request: &str, file: &str, offset: u64, sha256: &str, bytes: &[u8]) -> Result<serde_json::Value> {
        let home = &self.home;
        if !crate::store::is_identifier(file) {
            return Err(Error::Integrity(format!("request {request}: {file:?} is not a plain file name")));
        }
        if exchange::accepted(home, request)?.is_some() {
            return Err(Error::refused("replay", format!("request {request} was answered: no more bytes are taken")));
        }
        if let Some(stated) = exchange::state_of(home, request)?.filter(|s| s.state.is_final()) {
            return Err(Error::refused(
                "settled",
                format!("request {request} is {}: no more bytes are taken", stated.state.words()),
            ));
        }
        let (header, _) = exchange::issued(home, request)?;
        if now() >= header.expires_at {
            return Err(Error::refused(
                "expired",
                format!("request {request} expired at {}: no more bytes are taken", wire::utc(header.expires_at)),
            ));
        }
        let found = crate::digest::sha256_hex(bytes);
        if found != sha256 {
            return Err(Error::Integrity(format!(
                "request {request}: a chunk of {file} at {offset} has SHA-256 {found}, not the signed {}: altered in \
                 transit",
                wire::plain_text(sha256, 64)
            )));
        }
        let dir = exchange::spool_dir(home, request);
        let held_files = received(&dir);
        let held = held_files.get(file).copied().unwrap_or(0);
        if offset != held {
            return Err(Error::BadInput(format!(
                "request {request}: a chunk of {file} at byte {offset}, where the center holds {held}; resume from {held}"
            )));
        }
        let total: u64 = held_files.values().sum::<u64>() + bytes.len() as u64;
        if (!held_files.contains_key(file) && held_files.len() >= MAX_FILES) || total > MAX_UPLOAD_BYTES {
            return Err(Error::refused(
                "upload_size",
                format!(
                    "request {request}: an upload may have at most {MAX_FILES} files and {MAX_UPLOAD_BYTES} bytes; this \
                     chunk would go beyond"
                ),
            ));
        }
        std::fs::create_dir_all(&dir).at(&dir)?;
        let path = dir.join(file);
        let mut out = std::fs::OpenOptions::new().create(true).append(true).open(&path).at(&path)?;
        out.write_all(bytes).at(&path)?;
        out.sync_data().at(&path)?;
        Ok(serde_json::json!({"file": file, "held": held + bytes.len() as u64}))
    }

    /// Believe the site's answer (signed by its key, for that request and nonce, the first one) and
    /// verify the uploaded files against it; the request is then done, or failed with why (and its
    /// upload goes). The same answer handed in again (the agent did not hear the center's reply)
    /// gets the same outcome; one the center took but had not yet verified (it stopped) is verified.
    ///
    /// The answer is believed under the request's lock, the upload verified outside it (it may be
    /// large) behind a marker that keeps `extract` from taking it meanwhile, and the outcome
    /// recorded under the lock again.
    fn answer(&self, site: &Registered, request: &str, answer: &Envelope) -> Result<serde_json::Value> {
        let home = &self.home;
        let (body, label) = {
            let _one_at_a_time = exchange::lock_request(home, request)?;
            let Some(believed) = self.believe_answer(site, request, answer)? else {
                return Ok(serde_json::json!({"verified": true}));
            };
            exchange::mark_verifying(home, request)?;
            believed
        };
        crate::crash::point("serve-answer-accepted");
        let spool = exchange::spool_dir(home, request);
        let verified = super::transfer::verify_received(&spool, &body.manifest_sha256, &label);
        crate::crash::point("serve-answer-verified");
        {
            let _one_at_a_time = exchange::lock_request(home, request)?;
            match &verified {
                Ok(_) => {
                    let detail = "answered; the upload verified against the signed manifest";
                    exchange::set_verified(home, request, &body.manifest_sha256, detail)?;
                }
                Err(e) => {
                    exchange::set_state(home, request, SiteState::Failed, &self.for_agents(e))?;
                    exchange::remove_spool(home, request)?;
                }
            }
            exchange::unmark_verifying(home, request)?;
        }
        crate::crash::point("serve-answer-settled");
        let manifest = verified?;
        let rows: BTreeMap<_, _> = manifest.outputs.iter().map(|o| (o.name.clone(), o.rows)).collect();
        Ok(serde_json::json!({"verified": true, "rows": rows}))
    }

    /// Believe the site's answer to `request`, or find it believed before: its body and the site's
    /// pseudonym when its upload is to be verified now, None when it was verified. Under the
    /// request's lock.
    fn believe_answer(
        &self,
        site: &Registered,
        request: &str,
        answer: &Envelope,
    ) -> Result<Option<(crate::site::order::Answer, String)>> {
        let home = &self.home;
        let (header, label) = exchange::issued(home, request)?;
        let body = match exchange::accepted(home, request)? {
            Some((kept, body)) if kept == *answer => match exchange::state_of(home, request)? {
                Some(stated) if stated.state == SiteState::Done => return Ok(None),
                Some(stated) if stated.state == SiteState::Failed => {
                    return Err(Error::Failed(format!("request {request} failed: {}", stated.detail)));
                }
                _ if exchange::verifier(home, request)? == exchange::Verifier::Mine => {
                    return Err(Error::Busy(format!("request {request}: its upload is being verified")));
                }
                _ => body,
            },
            _ => {
                let exchange = Exchange {
                    home,
                    center_key: &self.center_key,
                    site_id: &site.id,
                    site_key: &site.key,
                    lifetime: exchange::REQUEST_SECONDS,
                };
                // Judged when the upload ended (chunks are refused once the request expired): a
                // slow upload does not make the answer after it late.
                let uploaded = uploaded_at(&exchange::spool_dir(home, request)).unwrap_or(i64::MAX);
                exchange.accept(&header, &label, answer, now().min(uploaded))?
            }
        };
        Ok(Some((body, label)))
    }

    /// Count a refusal of a call that did not verify; record the count now if none was recorded
    /// within the window.
    fn refused_unauthenticated(&self, e: &Error) {
        let mut refusals = self.refusals.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        refusals.count += 1;
        refusals.last = Some(Outcome::of_error(e));
        drop(refusals);
        self.record_refusals(true);
    }

    /// Record the refusals counted since the last record, if there are any and (`due_only`) the
    /// window since that record has passed.
    fn record_refusals(&self, due_only: bool) {
        let mut refusals = self.refusals.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let due = refusals.recorded.is_none_or(|at| at.elapsed() >= REFUSAL_WINDOW);
        if refusals.count == 0 || (due_only && !due) {
            return;
        }
        let Some(last) = refusals.last.take() else { return };
        let outcome = match (refusals.count, last) {
            (1, last) => last,
            (n, Outcome::Refused { message, .. } | Outcome::Error { message } | Outcome::Noted { message }) => {
                Outcome::Error {
                    message: format!("{n} calls refused before their signature verified; the last: {message}"),
                }
            }
            (n, Outcome::Ok) => {
                Outcome::Error { message: format!("{n} calls refused before their signature verified") }
            }
        };
        self.record("center serve: an agent refused", outcome);
        refusals.count = 0;
        refusals.recorded = Some(Instant::now());
    }

    fn record(&self, what: &str, outcome: Outcome) {
        // The refusal is the answer the agent gets; a failure to record it is shown on the server's
        // terminal, which is all that is left to do.
        if let Err(unrecorded) = self.reviewer().and_then(|actor| actor.record(what, None, outcome)) {
            eprintln!("center serve: could not record '{what}': {unrecorded}");
        }
    }

    /// The reviewer serving, as of now: their session still open, their role still theirs.
    fn reviewer(&self) -> Result<Actor> {
        let actor = Actor::current(&self.home)?;
        actor.require_reviewer("serving the sites' agents")?;
        Ok(actor)
    }

    /// An error's words as an agent may see them: the center's own paths are not named (the
    /// center's operators see them on its terminal), and a fault of the center's own is not
    /// described at all.
    fn for_agents(&self, e: &Error) -> String {
        match e {
            Error::Io { .. } | Error::Db(_) | Error::Internal(_) => {
                eprintln!("center serve: {e}");
                "the data center could not answer this call (an error of its own, on its operators' screen)".into()
            }
            e => e.to_string().replace(&self.home.root().display().to_string(), "HOME"),
        }
    }

    fn refusal(&self, e: &Error) -> Response {
        let status = match e {
            Error::Refused { .. } | Error::Integrity(_) => 403,
            Error::NotFound(_) => 404,
            // A verdict (a request that failed): the agent fails the request, it does not retry.
            Error::Failed(_) => 422,
            Error::BadInput(_) => 409,
            // Busy now (the site's calls in flight, an upload being verified): the agent tries again.
            Error::Busy(_) => 503,
            _ => 500,
        };
        Response::error(status, &self.for_agents(e), e.exit_code())
    }
}

impl crate::https::Handler for Serve {
    type Admitted = Admitted;

    fn admit(&self, head: Head) -> std::result::Result<(Admitted, usize), Response> {
        if let Err(e) = self.reviewer() {
            eprintln!("center serve: no call is answered until a reviewer serves again: {e}");
            let why = "the data center serves no agent now (its reviewer's session ended); try again later";
            return Err(Response::error(503, why, 1));
        }
        match self.believe(&head) {
            Ok(admitted) => {
                // Only a chunk has a body: no other call makes the center read one.
                let limit =
                    if matches!(admitted.call.body, Call::Chunk { .. }) { crate::site::agent::CHUNK_BYTES } else { 0 };
                Ok((admitted, limit))
            }
            // The site's calls in flight: verified, not a refusal to count.
            Err(e @ Error::Busy(_)) => Err(self.refusal(&e)),
            Err(e) => {
                self.refused_unauthenticated(&e);
                Err(self.refusal(&e))
            }
        }
    }

    fn respond(&self, admitted: Admitted, body: Vec<u8>) -> Response {
        let site = admitted.site.id.clone();
        match self.dispatch(admitted, &body) {
            Ok(value) => Response { status: 200, body: serde_json::to_vec(&value).expect("JSON serialises") },
            Err(e) => {
                if matches!(e, Error::Refused { .. } | Error::Integrity(_)) {
                    self.record(&format!("center serve: site {site} refused"), Outcome::of_error(&e));
                }
                self.refusal(&e)
            }
        }
    }
}

/// A call's envelope may be valid for at most [`wire::CALL_SECONDS`]: a longer life (a site's
/// clock far ahead, or a call signed to be replayed later) is refused.
fn check_lifetime(header: &wire::Header, from: &str) -> Result<()> {
    let life = header.expires_at - header.issued_at;
    if life > wire::CALL_SECONDS {
        return Err(Error::refused(
            "call_lifetime",
            format!(
                "a call from {from} is valid for {life} seconds, more than the {} a call may be",
                wire::CALL_SECONDS
            ),
        ));
    }
    Ok(())
}

/// A registered site and its key.
struct Registered {
    id: String,
    key: VerifyingKey,
}

/// The bytes the center holds of each file in `spool`.
fn received(spool: &std::path::Path) -> BTreeMap<String, u64> {
    let Ok(entries) = std::fs::read_dir(spool) else { return BTreeMap::new() };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_string_lossy().into_owned(), e.metadata().ok()?.len())))
        .collect()
}

/// When the last byte of the upload in `spool` arrived (unix seconds), if any did.
fn uploaded_at(spool: &std::path::Path) -> Option<i64> {
    let entries = std::fs::read_dir(spool).ok()?;
    entries
        .filter_map(|e| e.ok()?.metadata().ok()?.modified().ok())
        .max()
        .map(|t| chrono::DateTime::<chrono::Utc>::from(t).timestamp())
}

fn now() -> i64 {
    crate::clock::now_utc().timestamp()
}
