//! Signed messages between the data center and its sites: the one envelope that both the in-process
//! transport and the network will carry (docs/network.md).
//!
//! An envelope holds the payload's JSON text exactly as it was signed, the signer's key id and an
//! Ed25519 signature over a fixed domain prefix and those bytes. The receiver checks the signature
//! over the bytes it received before it parses anything but the protocol version, so no
//! canonical re-encoding of JSON is needed on either side (key order, number and escape spellings
//! can differ between encoders; signed bytes cannot). The payload carries, inside what is signed:
//! the protocol version, the message's kind, the request it belongs to, a nonce, and when it was
//! issued and expires. A version below [`MIN_VERSION`] is refused, and there is no older way of
//! verifying to fall back to: an attacker cannot downgrade a message by editing its version, as the
//! version is signed.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The protocol version this binary speaks.
pub const VERSION: u32 = 1;
/// The oldest version accepted: messages below it are refused, whoever signed them.
pub const MIN_VERSION: u32 = 1;
/// Prefixed to the payload before signing, so that a signature made for a midnet message can never
/// be passed off as one over anything else signed with the same key (e.g. an audit anchor).
const DOMAIN: &[u8] = b"midnet-wire\n";
/// How far ahead of the receiver's clock a message may say it was issued (clocks differ).
pub const CLOCK_SKEW_SECONDS: i64 = 300;

/// How long an agent's call is valid: long enough for a slow upload of one chunk, short enough that
/// a recorded call is of no use later.
pub const CALL_SECONDS: i64 = 120;

/// What a message is; a message of one kind is never accepted as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The center asks a site to run a script (center → site).
    WorkRequest,
    /// A site's manifest of the result it returns (site → center).
    ResultManifest,
    /// A site's agent calling the center's HTTPS endpoint (site → center): asking for work,
    /// reporting a request's state, uploading a chunk, handing in its answer.
    AgentCall,
}

impl Kind {
    fn words(self) -> &'static str {
        match self {
            Kind::WorkRequest => "work request",
            Kind::ResultManifest => "result manifest",
            Kind::AgentCall => "agent call",
        }
    }
}

/// A signed message as it travels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// [`key_id`] of the key that signed: which key to check is the receiver's decision, this only
    /// lets it say whose key was used when it is not the one expected.
    pub signer: String,
    /// The payload's JSON text, byte for byte as signed.
    pub payload: String,
    /// Ed25519 over [`DOMAIN`] followed by the payload's bytes, as hex.
    pub signature: String,
}

/// The body of an agent's call (`Kind::AgentCall`): what a site's agent asks of the center's
/// HTTPS endpoint. The request it concerns is the header's `request` (`-` for [`Call::Work`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "snake_case")]
pub enum Call {
    /// The work requests for this site not yet answered; the center waits up to `wait_seconds`
    /// (at most its own limit) for one to come (long polling).
    Work { wait_seconds: u64 },
    /// The request's state as the site sees it, in words.
    State { state: SiteState, detail: String },
    /// How many bytes of each file of the request's result the center holds: where an upload
    /// cut off resumes.
    Received,
    /// Bytes of `file` from `offset`: the HTTP body, whose SHA-256 is `sha256`.
    Chunk { file: String, offset: u64, sha256: String },
    /// The site's signed answer, once every file is uploaded.
    Answer { answer: Envelope },
}

/// Where a site's part of an extraction stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteState {
    /// Issued, not yet fetched by the site's agent.
    Queued,
    Fetched,
    /// The site's staff have not approved this project, script and parameters (`site approve`).
    WaitingForApproval,
    Running,
    Uploading,
    /// Answered, and the center verified the upload.
    Done,
    Failed,
}

impl SiteState {
    pub fn words(self) -> &'static str {
        match self {
            SiteState::Queued => "queued",
            SiteState::Fetched => "fetched",
            SiteState::WaitingForApproval => "waiting_for_approval",
            SiteState::Running => "running",
            SiteState::Uploading => "uploading",
            SiteState::Done => "done",
            SiteState::Failed => "failed",
        }
    }

    /// Done or failed: nothing more happens to that request.
    pub fn is_final(self) -> bool {
        matches!(self, SiteState::Done | SiteState::Failed)
    }
}

/// Everything signed beside the body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub version: u32,
    pub kind: Kind,
    /// The id of the work request this message is, or answers.
    pub request: String,
    /// Fresh for each work request; an answer repeats its request's nonce, binding it to that request.
    pub nonce: String,
    /// Unix seconds, UTC.
    pub issued_at: i64,
    pub expires_at: i64,
}

impl Header {
    /// A header for a new work request: a fresh nonce, issued `now`, valid for `lifetime_seconds`.
    pub fn request(request: &str, now: i64, lifetime_seconds: i64) -> Header {
        let mut nonce = [0u8; 16];
        rand::fill(&mut nonce);
        Header {
            version: VERSION,
            kind: Kind::WorkRequest,
            request: request.to_string(),
            nonce: hex::encode(nonce),
            issued_at: now,
            expires_at: now + lifetime_seconds,
        }
    }

    /// The header of an agent's call about `request` (or `-` for none), issued `now`: valid for
    /// [`CALL_SECONDS`], with a fresh nonce.
    pub fn call(request: &str, now: i64) -> Header {
        Header { kind: Kind::AgentCall, ..Header::request(request, now, CALL_SECONDS) }
    }

    /// The header of the answer of `kind` to the work request `to`, issued `now` and valid as long
    /// as the request is.
    pub fn answer(to: &Header, kind: Kind, now: i64) -> Header {
        Header {
            version: VERSION,
            kind,
            request: to.request.clone(),
            nonce: to.nonce.clone(),
            issued_at: now,
            expires_at: to.expires_at,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload<T> {
    header: Header,
    body: T,
}

/// Only the version, read before anything else so that a message of another version is refused
/// for its version, whatever shape the rest has.
#[derive(Deserialize)]
struct VersionOnly {
    header: VersionField,
}

#[derive(Deserialize)]
struct VersionField {
    version: u32,
}

/// What the receiver expects of a message before it believes it.
pub struct Expect<'a> {
    pub kind: Kind,
    /// The only key whose signature is accepted, and who holds it in words ("site S01", "the data
    /// center"), for the messages.
    pub signer: &'a VerifyingKey,
    pub signer_name: &'a str,
    /// For an answer: the id and nonce of the work request it must answer.
    pub answers: Option<(&'a str, &'a str)>,
}

/// A verified message.
#[derive(Debug, Clone, PartialEq)]
pub struct Opened<T> {
    pub header: Header,
    pub body: T,
}

/// The short id of a public key: the first 16 hex digits of the SHA-256 of its bytes.
pub fn key_id(key: &VerifyingKey) -> String {
    format!("ed25519:{}", &crate::digest::sha256_hex(key.as_bytes())[..16])
}

/// Sign `body` under `header` with `key`.
pub fn seal<T: Serialize>(key: &SigningKey, header: Header, body: &T) -> Envelope {
    let payload = serde_json::to_string(&Payload { header, body }).expect("a message serialises");
    let signature = key.sign(&signed_bytes(&payload));
    Envelope { signer: key_id(&key.verifying_key()), payload, signature: hex::encode(signature.to_bytes()) }
}

/// Verify `envelope` as `expect` says at time `now` (unix seconds) and return its header and body.
/// The checks, in order: the version (nothing else is read from a message of another version),
/// the signer's key, the signature over the bytes received, the kind, the request answered, the
/// times.
pub fn open<T: DeserializeOwned>(envelope: &Envelope, expect: &Expect, now: i64) -> Result<Opened<T>> {
    let what = expect.kind.words();
    let from = expect.signer_name;
    let version = serde_json::from_str::<VersionOnly>(&envelope.payload)
        .map_err(|e| Error::Integrity(format!("{what} from {from}: no protocol version can be read in it: {e}")))?
        .header
        .version;
    if version < MIN_VERSION {
        return Err(Error::refused(
            "protocol_version",
            format!(
                "{what} from {from}: protocol version {version} is below the minimum {MIN_VERSION} this center and its \
                 sites accept; the sender must upgrade midnet"
            ),
        ));
    }
    if version > VERSION {
        return Err(Error::refused(
            "protocol_version",
            format!("{what} from {from}: protocol version {version} is newer than this midnet's {VERSION}; upgrade it"),
        ));
    }
    let expected_id = key_id(expect.signer);
    if envelope.signer != expected_id {
        return Err(Error::Integrity(format!(
            "{what} from {from}: signed by key {}, not by {from}'s key {expected_id}: a foreign key",
            plain_text(&envelope.signer, 64)
        )));
    }
    let signature = hex::decode(&envelope.signature)
        .ok()
        .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
        .map(|bytes| Signature::from_bytes(&bytes));
    let verified = signature.is_some_and(|s| expect.signer.verify_strict(&signed_bytes(&envelope.payload), &s).is_ok());
    if !verified {
        return Err(Error::Integrity(format!(
            "{what} from {from}: its signature does not verify under {from}'s key {expected_id}: the message was \
             altered after it was signed, or signed by another key under this key's name"
        )));
    }
    let payload: Payload<T> = serde_json::from_str(&envelope.payload)
        .map_err(|e| Error::Integrity(format!("{what} from {from}: signed, but not a {what}: {e}")))?;
    check_header(&payload.header, expect, now)?;
    Ok(Opened { header: payload.header, body: payload.body })
}

fn check_header(header: &Header, expect: &Expect, now: i64) -> Result<()> {
    let what = expect.kind.words();
    let from = expect.signer_name;
    // The peer chose these: shown plain and cut, as they may reach the audit trail and a terminal.
    let (request, nonce) = (plain_text(&header.request, 64), plain_text(&header.nonce, 64));
    if header.kind != expect.kind {
        return Err(Error::Integrity(format!(
            "{what} from {from}: the message is a {}, not a {what}",
            header.kind.words()
        )));
    }
    if let Some((asked, asked_nonce)) = expect.answers
        && (header.request != asked || header.nonce != asked_nonce)
    {
        return Err(Error::Integrity(format!(
            "{what} from {from}: it answers request {request} (nonce {nonce}), not request {asked} (nonce {asked_nonce})"
        )));
    }
    if header.issued_at > now + CLOCK_SKEW_SECONDS {
        return Err(Error::refused(
            "not_yet_valid",
            format!(
                "{what} {request} from {from}: issued at {}, {} seconds ahead of this clock ({}); check both clocks",
                utc(header.issued_at),
                header.issued_at - now,
                utc(now)
            ),
        ));
    }
    if now >= header.expires_at && header.kind == Kind::AgentCall {
        // A call is signed as it is sent and valid for minutes: expired on arrival, it was signed by
        // a clock behind this one (or held back), not a request to issue again.
        return Err(Error::refused(
            "expired",
            format!(
                "{what} from {from}: signed to be valid until {}, and it is {} here: the clock of {from} is \
                 behind by {} seconds or more (or the call was held back); check its clock",
                utc(header.expires_at),
                utc(now),
                now - header.expires_at
            ),
        ));
    }
    if now >= header.expires_at {
        return Err(Error::refused(
            "expired",
            format!(
                "{what} {request} from {from}: expired at {} (it is {}); an expired request is issued again when the \
                 analyst resumes the extraction, never run late",
                utc(header.expires_at),
                utc(now)
            ),
        ));
    }
    Ok(())
}

fn signed_bytes(payload: &str) -> Vec<u8> {
    [DOMAIN, payload.as_bytes()].concat()
}

/// Text the other side chose (a detail, a script's name), fit to store and show: each control
/// character (a terminal's escape, a line break that would forge a line) becomes a space, and
/// the text is cut to `max` characters.
pub fn plain_text(text: &str, max: usize) -> String {
    let mut plain: String = text.chars().take(max).map(|c| if unseen(c) { ' ' } else { c }).collect();
    if text.chars().nth(max).is_some() {
        plain.push('…');
    }
    plain
}

/// Text of many lines the other side chose (a script, a codelist), fit to show: line breaks and
/// tabs are kept, every other control character becomes a space.
pub fn plain_lines(text: &str) -> String {
    text.chars().map(|c| if unseen(c) && c != '\n' && c != '\t' { ' ' } else { c }).collect()
}

/// A character that is not shown as itself: a control character, or a format character (Unicode
/// category Cf: the bidirectional controls that reorder what a reader sees, zero-width characters,
/// tags), which could make text read otherwise than it is.
fn unseen(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{ad}'
                | '\u{600}'..='\u{605}'
                | '\u{61c}'
                | '\u{6dd}'
                | '\u{70f}'
                | '\u{8e2}'
                | '\u{180e}'
                | '\u{200b}'..='\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206f}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
                | '\u{110bd}'
                | '\u{110cd}'
                | '\u{13430}'..='\u{1343f}'
                | '\u{1bca0}'..='\u{1bca3}'
                | '\u{1d173}'..='\u{1d17a}'
                | '\u{e0001}'
                | '\u{e0020}'..='\u{e007f}'
        )
}

pub(crate) fn utc(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .map_or_else(|| format!("{seconds} (unix seconds)"), |t| crate::clock::format_utc(&t))
}

/// A signing key from 32 bytes of the operating system's generator.
pub fn new_signing_key() -> SigningKey {
    let mut seed = [0u8; 32];
    rand::fill(&mut seed);
    SigningKey::from_bytes(&seed)
}

/// A public key as its file holds it: 64 hex digits and a newline (`site.pub`, `center.pub`).
pub fn public_key_text(key: &VerifyingKey) -> String {
    format!("{}\n", hex::encode(key.as_bytes()))
}

/// Read a public key file written by [`public_key_text`]; errors name the file and what it holds.
pub fn read_public_key(path: &std::path::Path) -> Result<VerifyingKey> {
    use crate::error::IoContext;
    public_key_of(&std::fs::read(path).at(path)?, path)
}

/// The public key in the bytes of a key file read from `path` (named in messages).
pub fn public_key_of(bytes: &[u8], path: &std::path::Path) -> Result<VerifyingKey> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not text".to_string());
    text.and_then(|t| parse_public_key(t.trim()))
        .map_err(|why| crate::bad_input!("{}: not an Ed25519 public key of midnet ({why})", path.display()))
}

/// A public key from its 64 hex digits.
pub fn parse_public_key(text: &str) -> std::result::Result<VerifyingKey, String> {
    let bytes = hex::decode(text).map_err(|_| "expected 64 hex digits".to_string())?;
    let bytes = <[u8; 32]>::try_from(bytes).map_err(|b| format!("{} bytes where a key has 32", b.len()))?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| "not a point of the curve".to_string())
}

/// Create the private key file `path` (owner-only, 0600; refused if it exists) holding a new
/// signing key's seed as hex, and its public key beside it as `public`.
pub fn create_key_pair(path: &std::path::Path, public: &std::path::Path) -> Result<VerifyingKey> {
    let key = new_signing_key();
    crate::store::write_private_file(path, format!("{}\n", hex::encode(key.to_bytes())).as_bytes())?;
    crate::store::write_atomically(public, public_key_text(&key.verifying_key()).as_bytes())?;
    Ok(key.verifying_key())
}

/// Read a private key file written by [`create_key_pair`].
pub fn read_signing_key(path: &std::path::Path) -> Result<SigningKey> {
    use crate::error::IoContext;
    let text = std::fs::read_to_string(path).at(path)?;
    let seed = hex::decode(text.trim()).ok().and_then(|b| <[u8; 32]>::try_from(b).ok()).ok_or_else(|| {
        Error::Integrity(format!("{}: not a midnet signing key (64 hex digits); was it edited?", path.display()))
    })?;
    Ok(SigningKey::from_bytes(&seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_780_000_000;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Body {
        script_sha256: String,
        rows: i64,
    }

    fn body() -> Body {
        Body { script_sha256: "ab".repeat(32), rows: 120 }
    }

    fn expect(key: &VerifyingKey) -> Expect<'_> {
        Expect { kind: Kind::WorkRequest, signer: key, signer_name: "the data center", answers: None }
    }

    /// What the center expects of site S01's answer to `asked`.
    fn answer_to<'a>(asked: &'a Header, key: &'a VerifyingKey) -> Expect<'a> {
        Expect {
            kind: Kind::ResultManifest,
            signer: key,
            signer_name: "site S01",
            answers: Some((&asked.request, &asked.nonce)),
        }
    }

    fn sealed(key: &SigningKey) -> Envelope {
        seal(key, Header::request("p1-x1-S01", NOW, 3600), &body())
    }

    fn refusal(envelope: &Envelope, expect: &Expect, now: i64) -> String {
        open::<Body>(envelope, expect, now).expect_err("the message must be refused").to_string()
    }

    #[test]
    fn a_sealed_message_opens_with_its_header_and_body() {
        let key = new_signing_key();
        let opened = open::<Body>(&sealed(&key), &expect(&key.verifying_key()), NOW + 10).unwrap();
        assert_eq!(opened.body, body());
        assert_eq!((opened.header.version, opened.header.kind), (VERSION, Kind::WorkRequest));
        assert_eq!(opened.header.request, "p1-x1-S01");
        assert_eq!(opened.header.nonce.len(), 32);
    }

    #[test]
    fn a_tampered_body_is_refused() {
        let key = new_signing_key();
        let mut envelope = sealed(&key);
        envelope.payload = envelope.payload.replace("\"rows\":120", "\"rows\":121");
        assert!(envelope.payload.contains("121"), "the test altered the body");
        let m = refusal(&envelope, &expect(&key.verifying_key()), NOW);
        assert!(m.contains("work request from the data center: its signature does not verify"), "{m}");
        assert!(m.contains("altered"), "{m}");
    }

    #[test]
    fn a_tampered_signature_is_refused() {
        let key = new_signing_key();
        let mut envelope = sealed(&key);
        let flipped = if envelope.signature.starts_with('0') { "1" } else { "0" };
        envelope.signature.replace_range(0..1, flipped);
        let m = refusal(&envelope, &expect(&key.verifying_key()), NOW);
        assert!(m.contains("its signature does not verify"), "{m}");
    }

    #[test]
    fn a_message_signed_by_a_foreign_key_is_refused() {
        let (ours, foreign) = (new_signing_key(), new_signing_key());
        let envelope = sealed(&foreign);
        let m = refusal(&envelope, &expect(&ours.verifying_key()), NOW);
        assert!(m.contains(&format!("signed by key {}", key_id(&foreign.verifying_key()))), "{m}");
        assert!(m.contains(&format!("the data center's key {}", key_id(&ours.verifying_key()))), "{m}");
        assert!(m.contains("a foreign key"), "{m}");
    }

    #[test]
    fn a_foreign_signers_name_is_shown_plain() {
        let key = new_signing_key();
        let mut envelope = sealed(&key);
        envelope.signer = "k\u{1b}[2J\n\u{202e}".into();
        let m = refusal(&envelope, &expect(&key.verifying_key()), NOW);
        assert!(m.contains("a foreign key"), "{m}");
        assert!(!m.contains('\u{1b}') && !m.contains('\n') && !m.contains('\u{202e}'), "{m:?}");
    }

    #[test]
    fn a_foreign_signature_under_our_key_id_is_refused() {
        let (ours, foreign) = (new_signing_key(), new_signing_key());
        let mut envelope = sealed(&foreign);
        envelope.signer = key_id(&ours.verifying_key());
        let m = refusal(&envelope, &expect(&ours.verifying_key()), NOW);
        assert!(m.contains("its signature does not verify"), "{m}");
    }

    #[test]
    fn an_old_version_is_refused_even_when_signed_by_the_right_key() {
        let key = new_signing_key();
        let mut header = Header::request("p1-x1-S01", NOW, 3600);
        header.version = MIN_VERSION - 1;
        let envelope = seal(&key, header, &body());
        let m = refusal(&envelope, &expect(&key.verifying_key()), NOW);
        assert!(m.starts_with("refused (protocol_version)"), "{m}");
        assert!(m.contains(&format!("protocol version {} is below the minimum {MIN_VERSION}", MIN_VERSION - 1)), "{m}");
    }

    #[test]
    fn a_newer_version_is_refused() {
        let key = new_signing_key();
        let mut header = Header::request("p1-x1-S01", NOW, 3600);
        header.version = VERSION + 1;
        let m = refusal(&seal(&key, header, &body()), &expect(&key.verifying_key()), NOW);
        assert!(m.contains(&format!("protocol version {} is newer than this midnet's {VERSION}", VERSION + 1)), "{m}");
    }

    #[test]
    fn an_expired_message_is_refused() {
        let key = new_signing_key();
        let envelope = sealed(&key);
        assert!(open::<Body>(&envelope, &expect(&key.verifying_key()), NOW + 3599).is_ok());
        let m = refusal(&envelope, &expect(&key.verifying_key()), NOW + 3600);
        assert!(m.starts_with("refused (expired): work request p1-x1-S01 from the data center: expired at"), "{m}");
    }

    #[test]
    fn a_call_expired_on_arrival_says_the_callers_clock_is_behind() {
        let key = new_signing_key();
        let call = seal(&key, Header::call("r1", NOW - 200), &body());
        let verifying = key.verifying_key();
        let expect = Expect { kind: Kind::AgentCall, signer: &verifying, signer_name: "site S01", answers: None };
        let m = refusal(&call, &expect, NOW);
        assert!(m.starts_with("refused (expired): agent call from site S01: signed to be valid until"), "{m}");
        assert!(m.contains("the clock of site S01 is behind by 80 seconds or more"), "{m}");
        assert!(!m.contains("issued again"), "{m}");
    }

    #[test]
    fn a_peers_request_id_is_shown_plain() {
        let key = new_signing_key();
        let (asked, mut other) = (Header::request("r1", NOW, 3600), Header::request("r1", NOW, 3600));
        other.request = "r1\u{1b}[2J\u{202e}".into();
        let answer = seal(&key, Header::answer(&other, Kind::ResultManifest, NOW), &body());
        let m = refusal(&answer, &answer_to(&asked, &key.verifying_key()), NOW);
        assert!(!m.contains('\u{1b}') && !m.contains('\u{202e}'), "{m:?}");
    }

    #[test]
    fn a_message_from_the_future_is_refused() {
        let key = new_signing_key();
        let envelope = seal(&key, Header::request("p1-x1-S01", NOW + CLOCK_SKEW_SECONDS + 1, 3600), &body());
        let m = refusal(&envelope, &expect(&key.verifying_key()), NOW);
        assert!(m.starts_with("refused (not_yet_valid)"), "{m}");
    }

    #[test]
    fn a_message_of_another_kind_is_refused() {
        let key = new_signing_key();
        let request = Header::request("p1-x1-S01", NOW, 3600);
        let answer = seal(&key, Header::answer(&request, Kind::ResultManifest, NOW), &body());
        let m = refusal(&answer, &expect(&key.verifying_key()), NOW);
        assert!(m.contains("the message is a result manifest, not a work request"), "{m}");
    }

    #[test]
    fn an_answer_to_another_request_is_refused() {
        let key = new_signing_key();
        let (asked, other) = (Header::request("p1-x1-S01", NOW, 3600), Header::request("p1-x1-S01", NOW, 3600));
        let answer = seal(&key, Header::answer(&other, Kind::ResultManifest, NOW), &body());
        let verifying = key.verifying_key();
        let expect = answer_to(&asked, &verifying);
        let m = refusal(&answer, &expect, NOW);
        assert!(m.contains(&format!("not request p1-x1-S01 (nonce {})", asked.nonce)), "{m}");
        let expect = Expect { answers: Some((&other.request, &other.nonce)), ..expect };
        assert!(open::<Body>(&answer, &expect, NOW).is_ok());
    }
}
