//! `midnet center serve`: the data center's HTTPS endpoint for the sites' agents. One path,
//! `POST /v1/call`, whose signed envelope (`wire::Call`, in the `x-midnet-call` header as hex) says
//! what the agent asks; the envelope must verify under the key registered for an active site, and
//! the request it names must have been issued to that site. The center serves only what it signed
//! for that site (its work requests) and its own counts of received bytes: nothing patient-level
//! is ever served. What a site uploads goes into the center's spool (`HOME/network/spool/ID/`),
//! outside every work area; its answer is believed and its files verified here, and the analyst's
//! next `extract` takes the verified result into the project (`agents`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::{SigningKey, VerifyingKey};

use super::exchange::{self, Exchange};
use crate::audit::Outcome;
use crate::center::Actor;
use crate::error::{Error, IoContext, Result};
use crate::https::{Request, Response};
use crate::wire::{self, Call, Envelope, Expect, Kind, SiteState};

/// What `center serve` needs to answer the agents.
pub struct Serve {
    actor: Actor,
    center_key: SigningKey,
    /// The longest a long poll waits (the agent asks for less or more; tests ask for little).
    poll_limit: Duration,
}

impl Serve {
    pub fn new(actor: &Actor, poll_limit: Duration) -> Result<Serve> {
        actor.require_reviewer("serving the sites' agents")?;
        let center_key = crate::center::keys::signing(actor)?;
        Ok(Serve { actor: actor.clone(), center_key, poll_limit })
    }

    /// Serve on `listener` until the process ends.
    pub fn run(self, listener: std::net::TcpListener, tls: rustls::ServerConfig) -> Result<()> {
        let serve = Arc::new(self);
        crate::https::serve(listener, tls, Arc::new(move |request: Request| serve.handle(request)))
    }

    fn handle(&self, request: Request) -> Response {
        let result = if request.path == crate::site::agent::CALL_PATH {
            self.call(&request)
        } else {
            Err(Error::NotFound(format!(
                "{}: the center serves agents at {} only",
                request.path,
                crate::site::agent::CALL_PATH
            )))
        };
        match result {
            Ok(value) => Response { status: 200, body: serde_json::to_vec(&value).expect("JSON serialises") },
            Err(e) => {
                let status = match e {
                    Error::Refused { .. } | Error::Integrity(_) => 403,
                    Error::NotFound(_) => 404,
                    Error::BadInput(_) | Error::Busy(_) => 409,
                    _ => 500,
                };
                let body = serde_json::json!({"error": e.to_string(), "exit": e.exit_code()});
                Response { status, body: serde_json::to_vec(&body).expect("JSON serialises") }
            }
        }
    }

    /// Believe the call, then do what it asks. A call that does not verify is recorded in the
    /// center's audit trail.
    fn call(&self, request: &Request) -> Result<serde_json::Value> {
        let (site, opened) = self.believe(request).inspect_err(|e| self.record_refusal("an agent", e))?;
        let asked = opened.header.request.as_str();
        let answer = match opened.body {
            Call::Work { wait_seconds } => self.work(&site, wait_seconds),
            Call::State { state, detail } => self.own(&site, asked).and_then(|_| {
                exchange::set_state(self.actor.home(), asked, state, &detail)?;
                Ok(serde_json::json!({"ok": true}))
            }),
            Call::Received => {
                self.own(&site, asked).map(|_| serde_json::json!({"files": received(&self.spool(asked))}))
            }
            Call::Chunk { file, offset, sha256 } => {
                self.own(&site, asked).and_then(|_| self.chunk(asked, &file, offset, &sha256, &request.body))
            }
            Call::Answer { answer } => self.answer(&site, asked, &answer),
        };
        answer.inspect_err(|e| {
            if matches!(e, Error::Refused { .. } | Error::Integrity(_)) {
                self.record_refusal(&format!("site {}", site.id), e);
            }
        })
    }

    /// The registered active site whose key signed the call, and the call, verified.
    fn believe(&self, request: &Request) -> Result<(Registered, wire::Opened<Call>)> {
        let text =
            request.call.as_deref().ok_or_else(|| Error::Integrity("a call without its signed envelope".into()))?;
        let envelope: Envelope = hex::decode(text)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| Error::Integrity("a call whose envelope cannot be read".into()))?;
        let sites = self.actor.home().sites()?;
        let site = sites
            .iter()
            .filter(|s| s.retired.is_none())
            .filter_map(|s| Some(Registered { id: s.id.clone(), key: s.public_key().ok()? }))
            .find(|s| wire::key_id(&s.key) == envelope.signer)
            .ok_or_else(|| {
                Error::Integrity(format!(
                    "a call signed by key {}, which is the key of no active registered site (a retired site's key is \
                     revoked)",
                    envelope.signer
                ))
            })?;
        let name = format!("site {}", site.id);
        let expect = Expect { kind: Kind::AgentCall, signer: &site.key, signer_name: &name, answers: None };
        let opened = wire::open::<Call>(&envelope, &expect, now())?;
        Ok((site, opened))
    }

    /// The work requests issued to `site`, unanswered, unexpired and not failed; waits up to
    /// `wait_seconds` (at most the poll limit) for one.
    fn work(&self, site: &Registered, wait_seconds: u64) -> Result<serde_json::Value> {
        let until = Instant::now() + Duration::from_secs(wait_seconds).min(self.poll_limit);
        loop {
            let open = exchange::open_requests(self.actor.home(), &site.id, now())?;
            if !open.is_empty() || Instant::now() >= until {
                let requests: Vec<Envelope> = open.into_iter().map(|(_, envelope)| envelope).collect();
                return Ok(serde_json::json!({ "requests": requests }));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Refuse a call about a request not issued to `site`.
    fn own(&self, site: &Registered, request: &str) -> Result<()> {
        match exchange::site_of(self.actor.home(), request)? {
            Some(id) if id == site.id => Ok(()),
            _ => Err(Error::Integrity(format!("site {}: request {request} was not issued to it", site.id))),
        }
    }

    fn spool(&self, request: &str) -> PathBuf {
        self.actor.home().root().join("network").join("spool").join(request)
    }

    /// Append a chunk to a file of the request's result: its bytes must have the SHA-256 signed in
    /// the call and start where the center's copy ends.
    fn chunk(&self, request: &str, file: &str, offset: u64, sha256: &str, bytes: &[u8]) -> Result<serde_json::Value> {
        if !crate::store::is_identifier(file) {
            return Err(Error::Integrity(format!("request {request}: {file:?} is not a plain file name")));
        }
        if exchange::answered(self.actor.home(), request)? {
            return Err(Error::refused("replay", format!("request {request} was answered: no more bytes are taken")));
        }
        let found = crate::digest::sha256_hex(bytes);
        if found != sha256 {
            return Err(Error::Integrity(format!(
                "request {request}: a chunk of {file} at {offset} has SHA-256 {found}, not the signed {sha256}: altered \
                 in transit"
            )));
        }
        let dir = self.spool(request);
        std::fs::create_dir_all(&dir).at(&dir)?;
        let path = dir.join(file);
        let held = std::fs::metadata(&path).map_or(0, |m| m.len());
        if offset != held {
            return Err(Error::BadInput(format!(
                "request {request}: a chunk of {file} at byte {offset}, where the center holds {held}; resume from {held}"
            )));
        }
        let mut out = std::fs::OpenOptions::new().create(true).append(true).open(&path).at(&path)?;
        out.write_all(bytes).at(&path)?;
        out.sync_data().at(&path)?;
        Ok(serde_json::json!({"file": file, "held": held + bytes.len() as u64}))
    }

    /// Believe the site's answer (signed by its key, for that request and nonce, the first one) and
    /// verify the uploaded files against it; the request is then done, or failed with why.
    fn answer(&self, site: &Registered, request: &str, answer: &Envelope) -> Result<serde_json::Value> {
        self.own(site, request)?;
        let (header, label) = exchange::issued(self.actor.home(), request)?;
        let exchange = Exchange {
            home: self.actor.home(),
            center_key: &self.center_key,
            site_id: &site.id,
            site_key: &site.key,
            lifetime: exchange::REQUEST_SECONDS,
        };
        let verified = exchange
            .accept(&header, &label, answer)
            .and_then(|body| super::transfer::verify_received(&self.spool(request), &body.manifest_sha256, &label));
        let (state, detail) = match &verified {
            Ok(_) => (SiteState::Done, "answered; the upload verified against the signed manifest".to_string()),
            Err(e) => (SiteState::Failed, e.to_string()),
        };
        exchange::set_state(self.actor.home(), request, state, &detail)?;
        verified.map(|manifest| serde_json::json!({"verified": true, "rows": manifest.outputs.iter().map(|o| (o.name.clone(), o.rows)).collect::<BTreeMap<_, _>>()}))
    }

    fn record_refusal(&self, who: &str, e: &Error) {
        // The refusal is the answer the agent gets; a failure to record it is shown on the server's
        // terminal, which is all that is left to do.
        if let Err(unrecorded) = self.actor.record(&format!("center serve: {who} refused"), None, Outcome::of_error(e))
        {
            eprintln!("center serve: could not record a refusal ({e}): {unrecorded}");
        }
    }
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

fn now() -> i64 {
    crate::clock::now_utc().timestamp()
}
