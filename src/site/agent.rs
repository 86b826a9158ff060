//! The site's agent (`midnet site agent`): what a hospital runs to take part in the network
//! without opening anything inbound. It calls the data center over HTTPS (pinned certificate,
//! `https`), every call signed with the site's key (`wire::Call`): it asks for work (long
//! polling), keeps each work request that verifies against the pinned center key in
//! `SITE/agent/requests/ID.json`, runs it once the site's staff have approved it (`site approve`;
//! until then it waits, and says so to the center), through the same checks as every extraction
//! (`run::answer`), then uploads the result in chunks (resuming where the center's copy ends) and
//! hands in the signed answer. `midnet site requests` lists what the site was asked and where each
//! request stands.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::log::{self, Event};
use super::order::{SiteRequest, WorkOrder};
use super::run;
use super::{SiteDir, approve, keys};
use crate::error::{Error, IoContext, Result};
use crate::https::{Client, Unanswered};
use crate::script::{Bundle, ParamValues, Script};
use crate::wire::{self, Call, Envelope, Expect, Header, Kind, SiteState};

/// The bytes of one upload chunk.
pub const CHUNK_BYTES: usize = 4 << 20;
/// The path of the center's endpoint for agents.
pub const CALL_PATH: &str = "/v1/call";
/// The longest text chosen by the center (a script's name, a parameter, a refusal) the agent
/// keeps and shows.
const MAX_SHOWN_CHARS: usize = 2000;

/// A work request as the site holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Held {
    pub request: String,
    pub project: String,
    pub extraction: i64,
    /// The site's pseudonym in the project.
    pub site: String,
    pub script: String,
    pub script_sha256: String,
    pub params: BTreeMap<String, String>,
    /// When the request expires (UTC).
    pub expires: String,
    pub state: SiteState,
    /// Why it stands where it stands, in words.
    pub detail: String,
    envelope: Envelope,
    answer: Option<Envelope>,
    /// The center has not heard this state yet (the call saying it got no answer): a failure is
    /// said again next round; a request `running` unheard never started (it starts only once the
    /// center heard it), so the next round runs it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    unreported: bool,
}

/// How the agent runs.
pub struct AgentOptions<'a> {
    pub site: &'a SiteDir,
    /// The center, `https://HOST:PORT`.
    pub center: &'a str,
    /// Serve the work there is, then return.
    pub once: bool,
    /// How long one long poll may wait for work.
    pub poll_seconds: u64,
    /// How long connecting, and an answer beyond what the call asks the center to wait, may take.
    pub timeout: Duration,
    /// The site's share of this machine: a request runs with 1/`share` of its cores and memory.
    pub share: usize,
}

/// How many times one upload asks again where the center's copy ends, when a chunk finds the center
/// holding another length than it said (another agent of the site, or a chunk whose reply was lost).
const MOST_RESUMES: usize = 3;

/// The first pause after the center could not be reached; it doubles up to [`MOST_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MOST_BACKOFF: Duration = Duration::from_secs(60);

struct Agent<'a> {
    site: &'a SiteDir,
    client: Client,
    key: ed25519_dalek::SigningKey,
    center: ed25519_dalek::VerifyingKey,
    /// What the last call heard.
    heard: Cell<Heard>,
    share: usize,
}

/// What a call heard from the center.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Heard {
    /// An answer, with its HTTP status.
    Status(u16),
    /// No answer: the center down, the network cut, nothing heard in time.
    Nothing,
    /// A server that is not the pinned center.
    NotTheCenter,
}

/// Run the agent: fetch work, run what is approved, upload. Returns what it holds.
pub fn run(opts: &AgentOptions) -> Result<Holdings> {
    let site = opts.site;
    site.require()?;
    let agent = Agent {
        site,
        client: Client::new(opts.center, &keys::pinned_center_certificate(site)?, opts.timeout)?,
        key: keys::signing(site)?,
        center: keys::pinned_center(site)?,
        heard: Cell::new(Heard::Nothing),
        share: opts.share,
    };
    let mut backoff = FIRST_BACKOFF;
    loop {
        match agent.round(opts.poll_seconds) {
            Ok(()) if opts.once => return requests(site),
            Ok(()) => backoff = FIRST_BACKOFF,
            Err(e) if !opts.once && agent.unanswered() => {
                eprintln!("site agent: {e}; trying again in {} seconds", backoff.as_secs());
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(MOST_BACKOFF);
            }
            Err(e) => return Err(e),
        }
    }
}

/// A held request's file that cannot be read (cut short or not JSON: disk trouble, a writer
/// stopped mid-write, an editor): never believed nor run.
#[derive(Debug, Clone)]
pub struct Damaged {
    pub file: PathBuf,
    pub detail: String,
}

/// What the site holds: its work requests, oldest first, and the damaged files among them (those
/// the agent has not seen yet, and those it set aside in `requests/damaged/`).
pub struct Holdings {
    pub held: Vec<Held>,
    pub damaged: Vec<Damaged>,
}

/// The work requests the site holds, and the damaged files among them.
pub fn requests(site: &SiteDir) -> Result<Holdings> {
    let (held, mut damaged) = read_held(site)?;
    let why = "set aside by the agent, which failed it: it cannot be read (the site's log says why); remove it once \
               looked at";
    let set_aside = json_files(&damaged_dir(site))?.into_iter().map(|file| Damaged { file, detail: why.into() });
    damaged.extend(set_aside);
    Ok(Holdings { held, damaged })
}

/// The requests in `requests/`, oldest first, and the files there that cannot be read.
fn read_held(site: &SiteDir) -> Result<(Vec<Held>, Vec<Damaged>)> {
    let (mut held, mut damaged): (Vec<Held>, Vec<Damaged>) = (Vec::new(), Vec::new());
    for file in json_files(&requests_dir(site))? {
        match crate::store::read_json(&file) {
            Ok(request) => held.push(request),
            Err(e) => damaged.push(Damaged { file, detail: e.to_string() }),
        }
    }
    held.sort_by(|a, b| (&a.expires, &a.request).cmp(&(&b.expires, &b.request)));
    Ok((held, damaged))
}

/// The `.json` files of `dir` (none when it does not exist), not those being written (a leading dot).
fn json_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(Vec::new()) };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.at(dir)?.path();
        if path.extension().is_some_and(|x| x == "json")
            && !path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The work request `id` the site holds, and what it asks as the center signed it (verified when
/// the agent fetched it, and again before it runs): for the site's staff to read before they approve.
pub fn order(site: &SiteDir, id: &str) -> Result<(Held, WorkOrder)> {
    if !crate::store::is_identifier(id) {
        return Err(crate::bad_input!("{id:?} is not a request id (site requests lists them)"));
    }
    let path = requests_dir(site).join(format!("{id}.json"));
    if !path.is_file() {
        return Err(Error::NotFound(format!("{}: the site holds no request {id}", site.root().display())));
    }
    let held: Held = crate::store::read_json(&path)?;
    #[derive(Deserialize)]
    struct Payload {
        body: WorkOrder,
    }
    let payload: Payload = serde_json::from_str(&held.envelope.payload)
        .map_err(|e| Error::Integrity(format!("{}: the request it holds cannot be read: {e}", path.display())))?;
    Ok((held, payload.body))
}

fn requests_dir(site: &SiteDir) -> PathBuf {
    site.root().join("agent").join("requests")
}

/// Where the agent sets aside the held requests that cannot be read.
fn damaged_dir(site: &SiteDir) -> PathBuf {
    requests_dir(site).join("damaged")
}

fn outbox(site: &SiteDir, request: &str) -> PathBuf {
    site.root().join("outbox").join(request)
}

/// Remove what a failed run left in the outbox: nothing of it is ever sent.
fn discard_outbox(site: &SiteDir, request: &str) -> Result<()> {
    let outbox = outbox(site, request);
    match std::fs::remove_dir_all(&outbox) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).at(&outbox),
        _ => Ok(()),
    }
}

impl Agent<'_> {
    /// Ask for work, keep what is new, and move every request held on as far as it goes.
    fn round(&self, poll_seconds: u64) -> Result<()> {
        let fetched = self.call("-", &Call::Work { wait_seconds: poll_seconds }, Vec::new())?;
        let envelopes: Vec<Envelope> = serde_json::from_value(fetched["requests"].clone())
            .map_err(|e| Error::Integrity(format!("the center's list of work cannot be read: {e}")))?;
        for envelope in envelopes {
            match self.take(envelope) {
                Err(e) if self.unanswered() => return Err(e),
                // Kept unreported, it fails below if the center refuses it again; not kept (a
                // local fault), it is fetched again next round: the center still offers it.
                Err(e) => eprintln!("site agent: {e}"),
                Ok(()) => {}
            }
        }
        let (held, damaged) = read_held(self.site)?;
        for damaged in damaged {
            match self.set_aside(&damaged) {
                Err(e) if self.unanswered() => return Err(e),
                Err(e) => eprintln!("site agent: {e}"),
                Ok(()) => {}
            }
        }
        for held in held {
            let request = held.request.clone();
            let moved = match (held.state.is_final(), held.unreported) {
                (true, true) => self.report_failure(held).map(|_| ()),
                (true, false) => Ok(()),
                (false, _) => self.advance(held),
            };
            match moved {
                // The network: every request stays where it stood, and the round is tried again.
                Err(e) if self.unanswered() => return Err(e),
                Err(e) => self.fail(&request, &e)?,
                Ok(()) => {}
            }
        }
        Ok(())
    }

    /// The last call went unanswered in a way worth trying again later: no answer, the center's
    /// own fault (5xx), or a body the center found too slow (408). What it was about stands.
    fn unanswered(&self) -> bool {
        matches!(self.heard.get(), Heard::Nothing | Heard::Status(408) | Heard::Status(500..))
    }

    /// A request the center refused (or that failed here beyond what [`Agent::try_run`] records):
    /// it fails alone, recorded in the site's log and said to the center, and nothing of it is sent.
    fn fail(&self, request: &str, e: &Error) -> Result<()> {
        let held: Held = crate::store::read_json(&requests_dir(self.site).join(format!("{request}.json")))?;
        discard_outbox(self.site, request)?;
        let detail = format!("the agent stopped this request: {e}");
        let entry = log::Entry {
            request: Some(request.to_string()),
            nonce: header_field(&held.envelope, "nonce"),
            project: Some(held.project.clone()),
            script_sha256: Some(held.script_sha256.clone()),
            detail: detail.clone(),
        };
        log::append(self.site, Event::Failed, entry)?;
        let held = Held { state: SiteState::Failed, detail, unreported: true, ..held };
        self.write(&held)?;
        self.report_failure(held).map(|_| ())
    }

    /// Say to the center that a request failed here. Refused (the center settled or forgot the
    /// request), there is nothing more to say; unheard, it is said again next round.
    fn report_failure(&self, held: Held) -> Result<Held> {
        let call = Call::State { state: held.state, detail: held.detail.clone() };
        match self.call(&held.request, &call, Vec::new()) {
            Err(e) if self.unanswered() => Err(e),
            _ => {
                let held = Held { unreported: false, ..held };
                self.write(&held)?;
                Ok(held)
            }
        }
    }

    /// Keep a request fetched from the center, if it verifies and is new to this site.
    fn take(&self, envelope: Envelope) -> Result<()> {
        let opened = match self.open(&envelope) {
            Ok(opened) => opened,
            Err(e) => {
                self.log_refused(None, &e)?;
                return self.say_refused(&envelope, &e);
            }
        };
        let header = &opened.header;
        if !crate::store::is_identifier(&header.request) {
            let e = Error::Integrity(format!("work request id {:?} is not a plain name", header.request));
            return self.log_refused(Some(header), &e);
        }
        if requests_dir(self.site).join(format!("{}.json", header.request)).exists() {
            return Ok(());
        }
        let order = opened.body;
        let held = Held {
            request: header.request.clone(),
            project: order.project,
            extraction: order.extraction,
            site: order.site,
            script: wire::plain_text(&order.script.name, MAX_SHOWN_CHARS),
            script_sha256: order.script_sha256,
            params: order
                .params
                .iter()
                .map(|(k, v)| (wire::plain_text(k, MAX_SHOWN_CHARS), wire::plain_text(v, MAX_SHOWN_CHARS)))
                .collect(),
            expires: wire::utc(header.expires_at),
            state: SiteState::Fetched,
            detail: "fetched from the data center".into(),
            envelope,
            answer: None,
            unreported: false,
        };
        std::fs::create_dir_all(requests_dir(self.site)).at(requests_dir(self.site))?;
        self.set(held, SiteState::Fetched, "fetched from the data center".into()).map(|_| ())
    }

    /// Say to the center that the site refused a request it fetched (signed by another key than the
    /// pinned one, expired or not yet valid by the site's clock, of another protocol version): the
    /// center fails it and offers it no more, and `extract` says why. Unsaid, the center would offer
    /// it again at once, and every round would fetch it and log its refusal again, without end.
    fn say_refused(&self, envelope: &Envelope, e: &Error) -> Result<()> {
        match header_field(envelope, "request").filter(|id| crate::store::is_identifier(id)) {
            Some(request) => self.say_failed(&request, format!("the site refused this request: {e}")),
            None => Ok(()),
        }
    }

    /// Say to the center that request `request` failed here, and why. Refused (not a request of
    /// this site's, or one settled), there is nothing more to say; unheard, the error goes up.
    fn say_failed(&self, request: &str, detail: String) -> Result<()> {
        match self.call(request, &Call::State { state: SiteState::Failed, detail }, Vec::new()) {
            Err(e) if self.unanswered() => Err(e),
            _ => Ok(()),
        }
    }

    /// A held request's file that cannot be read fails alone: said to the center as failed when its
    /// file name gives its id (the center then offers it no more, and `extract` shows why and issues
    /// it afresh; nothing of it is sent), logged `failed` naming the file and why, and set aside in `requests/damaged/` for
    /// the site's staff, so that the next rounds neither see nor log it again. Said first: unheard,
    /// nothing is done, and the next round tries again.
    fn set_aside(&self, damaged: &Damaged) -> Result<()> {
        let id = damaged.file.file_stem().map(|s| s.to_string_lossy().into_owned());
        let id = id.filter(|id| crate::store::is_identifier(id));
        if let Some(request) = &id {
            // The site's paths stay at the site.
            let why = "the site's copy of this request is damaged (it cannot be read), so it was not run";
            self.say_failed(request, why.into())?;
            discard_outbox(self.site, request)?;
        }
        let aside = damaged_dir(self.site);
        let detail = format!("the agent set this request aside in {}: {}", aside.display(), damaged.detail);
        log::append(self.site, Event::Failed, log::Entry { request: id, detail, ..log::Entry::default() })?;
        std::fs::create_dir_all(&aside).at(&aside)?;
        let name = damaged.file.file_name().expect("a listed file has a name");
        std::fs::rename(&damaged.file, aside.join(name)).at(&damaged.file)
    }

    /// Move a request on as far as it goes now.
    fn advance(&self, held: Held) -> Result<()> {
        let held = match held.state {
            SiteState::Running if !held.unreported => {
                let why = "the agent stopped while running it; the data center issues it again when the analyst \
                           resumes the extraction";
                discard_outbox(self.site, &held.request)?;
                return self.set(held, SiteState::Failed, why.into()).map(|_| ());
            }
            SiteState::Uploading => held,
            _ => match self.try_run(held)? {
                Some(held) => held,
                None => return Ok(()),
            },
        };
        self.upload(held)
    }

    /// Run the request if the site approved it: the held request, answered, or None when it waits
    /// or failed (recorded).
    fn try_run(&self, held: Held) -> Result<Option<Held>> {
        let opened = match self.open(&held.envelope) {
            Ok(opened) => opened,
            Err(e) => {
                self.log_refused(None, &e)?;
                return self.set(held, SiteState::Failed, e.to_string()).map(|_| None);
            }
        };
        let order = opened.body;
        let prepared = Script::from_bundle(Bundle::unship(&order.script)).and_then(|script| {
            let mut values = ParamValues::default();
            for (name, value) in &order.params {
                values.set(name.clone(), value.clone());
            }
            let compiled = script.compile(&values)?;
            Ok((script, compiled))
        });
        let (script, compiled) = match prepared {
            Ok(prepared) => prepared,
            Err(e) => {
                return self
                    .set(held, SiteState::Failed, format!("the script does not compile here: {e}"))
                    .map(|_| None);
            }
        };
        let bundle = Bundle::unship(&order.script);
        let (threads, memory) = run::share_of_machine(self.share);
        let req = SiteRequest {
            project: &order.project,
            extraction: order.extraction,
            label: &order.site,
            site: self.site,
            bundle: &bundle,
            compiled: &compiled,
            script_sha256: script.sha256(),
            threads,
            memory_limit: &memory,
        };
        if let Err(e) = self.approved(&req) {
            return match e {
                Error::Refused { .. } => self.set(held, SiteState::WaitingForApproval, e.to_string()).map(|_| None),
                e => self.set(held, SiteState::Failed, e.to_string()).map(|_| None),
            };
        }
        let held = self.set(held, SiteState::Running, "running at the site".into())?;
        let outbox = outbox(self.site, &held.request);
        match run::answer(&req, &held.envelope, &outbox, &|_: &str| {}, now()) {
            Ok(answer) => {
                let held = Held { answer: Some(answer), ..held };
                self.set(held, SiteState::Uploading, "uploading the result".into()).map(Some)
            }
            Err(e) => {
                discard_outbox(self.site, &held.request)?;
                self.set(held, SiteState::Failed, e.to_string()).map(|_| None)
            }
        }
    }

    /// Whether the site's staff approved what `req` asks (checked again, and logged, when it runs).
    fn approved(&self, req: &SiteRequest) -> Result<()> {
        let conn = self.site.open_read_only()?;
        let params = req.compiled.approval_params();
        let wanted = approve::Wanted { project: req.project, script_sha256: req.script_sha256, params: &params };
        approve::covering(&conn, req.label, &wanted, approve::site_today()).map(|_| ())
    }

    /// Upload every file of the result from where the center's copy ends, then hand in the answer.
    /// An answer the center already holds (its reply was lost) is handed in again without bytes.
    fn upload(&self, held: Held) -> Result<()> {
        let outbox = outbox(self.site, &held.request);
        let mut resumes = 0;
        loop {
            let received = self.call(&held.request, &Call::Received, Vec::new())?;
            if received["answered"] == true {
                break;
            }
            match self.send_files(&held.request, &outbox, &received["files"]) {
                Err(_) if self.heard.get() == Heard::Status(409) && resumes < MOST_RESUMES => resumes += 1,
                Err(e) if self.heard.get() == Heard::Status(408) => return self.cut_off(held, e),
                sent => {
                    sent?;
                    break;
                }
            }
        }
        crate::crash::point("agent-uploaded");
        let answer = held
            .answer
            .clone()
            .ok_or_else(|| Error::Internal(format!("request {}: no answer to hand in", held.request)))?;
        let outcome = self.call(&held.request, &Call::Answer { answer }, Vec::new());
        crate::crash::point("agent-answered");
        if outcome.is_ok() || !self.unanswered() {
            discard_outbox(self.site, &held.request)?;
        }
        match outcome {
            Ok(_) => self.set(held, SiteState::Done, "the data center verified the result".into()).map(|_| ()),
            // No answer: the center may have taken it; the agent hands it in again next round.
            Err(e) if self.unanswered() => Err(e),
            Err(e) => self.set(held, SiteState::Failed, format!("the data center refused the upload: {e}")).map(|_| ()),
        }
    }

    /// A chunk the center cut off as too slow (408, `e`): the request stays uploading, and its
    /// detail says why, at the site (`site requests`) and to the center (`extract`), since the
    /// line may stay slow for long. The error goes up: the agent tries again later.
    fn cut_off(&self, held: Held, e: Error) -> Result<()> {
        let detail = format!("a chunk was cut off as too slow ({e}); the agent sends it again later");
        // Said on the same slow line, it may go unheard (the center keeps the detail it had): it is
        // shown, and the round decides on the 408.
        if let Err(unsaid) = self.set(held, SiteState::Uploading, detail) {
            eprintln!("site agent: {unsaid}");
        }
        self.heard.set(Heard::Status(408));
        Err(e)
    }

    /// Send every file of `outbox` from where the center's copy of it ends (`held`: bytes by name).
    fn send_files(&self, request: &str, outbox: &Path, held: &serde_json::Value) -> Result<()> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(outbox)
            .at(outbox)?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<_>>()
            .at(outbox)?;
        files.sort();
        let tamper = std::env::var("MIDNET_FAULT").is_ok_and(|f| f == "tamper-upload");
        for path in &files {
            let name = path.file_name().expect("directory entries have names").to_string_lossy().into_owned();
            let offset = held[&name].as_u64().unwrap_or(0) + center_behind_drill();
            self.send_file(request, path, &name, offset, tamper && name.ends_with(".parquet"))?;
        }
        Ok(())
    }

    /// Send `path` in chunks from `offset`. With `tamper` (the `tamper-upload` drill), one byte of
    /// the first chunk is changed after the result was signed, as a corrupting network would.
    fn send_file(&self, request: &str, path: &Path, name: &str, mut offset: u64, tamper: bool) -> Result<()> {
        let mut file = std::fs::File::open(path).at(path)?;
        let len = file.metadata().at(path)?.len();
        if offset > len {
            return Err(Error::Integrity(format!(
                "request {request}: the center holds {offset} bytes of {name}, more than its {len}"
            )));
        }
        file.seek(std::io::SeekFrom::Start(offset)).at(path)?;
        let mut first = true;
        while offset < len {
            let mut chunk = vec![0u8; CHUNK_BYTES.min((len - offset) as usize)];
            file.read_exact(&mut chunk).at(path)?;
            if tamper && first {
                let middle = chunk.len() / 2;
                chunk[middle] ^= 0x55;
            }
            first = false;
            let sha256 = crate::digest::sha256_hex(&chunk);
            let sent = chunk.len() as u64;
            self.call(request, &Call::Chunk { file: name.to_string(), offset, sha256 }, chunk)?;
            offset += sent;
            crate::crash::point("agent-chunk-sent");
        }
        Ok(())
    }

    /// Record the request's new state at the site, then tell the center (which decided a done
    /// request done itself); until the center heard it, the state is kept `unreported`.
    fn set(&self, held: Held, state: SiteState, detail: String) -> Result<Held> {
        let held = Held { state, detail, unreported: state != SiteState::Done, ..held };
        self.write(&held)?;
        if state == SiteState::Done {
            return Ok(held);
        }
        let call = Call::State { state, detail: held.detail.clone() };
        self.call(&held.request, &call, Vec::new())?;
        let held = Held { unreported: false, ..held };
        self.write(&held)?;
        Ok(held)
    }

    fn write(&self, held: &Held) -> Result<()> {
        crate::store::write_json(&requests_dir(self.site).join(format!("{}.json", held.request)), held)
    }

    fn open(&self, envelope: &Envelope) -> Result<wire::Opened<WorkOrder>> {
        let expect =
            Expect { kind: Kind::WorkRequest, signer: &self.center, signer_name: "the data center", answers: None };
        wire::open::<WorkOrder>(envelope, &expect, now())
    }

    fn log_refused(&self, header: Option<&Header>, e: &Error) -> Result<()> {
        let entry = log::Entry {
            request: header.map(|h| h.request.clone()),
            nonce: header.map(|h| h.nonce.clone()),
            detail: format!("fetched by the agent: {e}"),
            ..log::Entry::default()
        };
        log::append(self.site, Event::Refused, entry)
    }

    /// One signed call to the center: its JSON answer, or the center's refusal as an error. What it
    /// heard is kept in [`Agent::heard`].
    fn call(&self, request: &str, call: &Call, body: Vec<u8>) -> Result<serde_json::Value> {
        let envelope = wire::seal(&self.key, Header::call(request, now()), call);
        let header = hex::encode(serde_json::to_vec(&envelope).expect("an envelope serialises"));
        let waits = match call {
            Call::Work { wait_seconds } => Duration::from_secs(*wait_seconds),
            _ => Duration::ZERO,
        };
        let answered = if unheard_drill(call) {
            Err(Unanswered::Network(Error::Failed("the center: no answer (the drill unheard-running)".into())))
        } else {
            self.client.call(CALL_PATH, &header, body, waits)
        };
        self.heard.set(match &answered {
            Ok((status, _)) => Heard::Status(*status),
            Err(Unanswered::Network(_)) => Heard::Nothing,
            Err(Unanswered::NotTheCenter(_)) => Heard::NotTheCenter,
        });
        let (status, answer) = answered?;
        let answer: serde_json::Value = serde_json::from_slice(&answer)
            .map_err(|e| Error::Failed(format!("the center answered {status} with what is not JSON: {e}")))?;
        if status == 200 {
            return Ok(answer);
        }
        let why = wire::plain_text(answer["error"].as_str().unwrap_or("no reason given"), MAX_SHOWN_CHARS);
        let message = format!("the data center: {why}");
        Err(match answer["exit"].as_i64() {
            Some(3) => Error::refused("center", message),
            Some(6) => Error::Integrity(message),
            Some(4) => Error::NotFound(message),
            Some(2) => Error::BadInput(message),
            _ => Error::Failed(message),
        })
    }
}

/// A field of a request's header, read without verifying it: from a request the site holds (verified
/// when it was fetched), or naming to the center a request the site refused.
fn header_field(envelope: &Envelope, field: &str) -> Option<String> {
    let payload: serde_json::Value = serde_json::from_str(&envelope.payload).ok()?;
    payload["header"][field].as_str().map(str::to_string)
}

/// The drill `MIDNET_FAULT=unheard-running`: the call saying a request is running gets no answer,
/// as a network blip at that moment would do.
fn unheard_drill(call: &Call) -> bool {
    matches!(call, Call::State { state: SiteState::Running, .. })
        && std::env::var("MIDNET_FAULT").is_ok_and(|f| f == "unheard-running")
}

/// The drill `MIDNET_FAULT=center-behind`: once, the agent takes the center's copy of a file to end
/// one byte further than the center said, as when the center's copy ends earlier than the agent
/// thinks (a center restored from a backup, or two agents of one site): the chunk is refused (409)
/// naming where to resume, and the agent asks the center again.
fn center_behind_drill() -> u64 {
    static SPENT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let armed = std::env::var("MIDNET_FAULT").is_ok_and(|f| f == "center-behind");
    u64::from(armed && !SPENT.swap(true, std::sync::atomic::Ordering::SeqCst))
}

fn now() -> i64 {
    crate::clock::now_utc().timestamp()
}
