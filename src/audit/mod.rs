//! The tamper-evident audit trail of a home: every command, login, logout, refusal and file that
//! enters or leaves a work area, one JSON record per line of `HOME/audit/log.jsonl`.
//!
//! Each line is a JSON object whose last two fields are `hash` and `mac`:
//! - `hash` chains the records ([`crate::chain`]): the SHA-256 of the line's bytes before it, which
//!   include `seq` and `prev`, so any edit, deletion, insertion or reordering breaks the chain at the
//!   first record it touches;
//! - `mac` is HMAC-SHA256 of `hash` under the key `HOME/seal/key` (readable by the service account
//!   alone), so a chain rebuilt by someone without the key fails at the first rebuilt record;
//! - `HOME/seal/head.json` keeps the record count and last hash, sealed with the same key, apart
//!   from the log, so a cut-off tail is detected too.
//!
//! Appends are serialised by a lock (`HOME/locks/audit.lock`); `verify` proves all of the above
//! and names the first bad record.

mod anchor;
mod verify;

use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::{Error, IoContext, Result};
use crate::store::{self, FileLock};

pub use anchor::Anchor;
pub use verify::Verified;

/// Whether a file entered or left a work area, or was deleted from it (termination, purge).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Made inside the work area (an extraction, a statistic, a fix).
    In,
    Out,
    Deleted,
    /// Brought in from outside (`work import`): reference material, which the export gate never
    /// lets out, whatever it is named.
    Imported,
}

impl Direction {
    /// The word the audit trail and its listings use.
    pub fn name(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
            Direction::Deleted => "deleted",
            Direction::Imported => "imported",
        }
    }
}

/// A file that entered or left a work area: its path (relative to the project's work area when
/// inside it) and the SHA-256 of its content.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEvent {
    pub path: String,
    pub sha256: String,
    pub direction: Direction,
}

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// Ok, with what happened (e.g. how many rows of datasets were shown on a terminal).
    Noted {
        message: String,
    },
    Refused {
        rule: String,
        message: String,
    },
    Error {
        message: String,
    },
}

impl Outcome {
    pub fn of<T>(result: &Result<T>) -> Outcome {
        match result {
            Ok(_) => Outcome::Ok,
            Err(e) => Outcome::of_error(e),
        }
    }

    pub fn of_error(e: &Error) -> Outcome {
        match e {
            Error::Refused { rule, message } => Outcome::Refused { rule: rule.to_string(), message: message.clone() },
            e => Outcome::Error { message: e.to_string() },
        }
    }
}

/// What a caller hands to [`Log::append`]; the log adds the sequence number, time and hashes.
#[derive(Debug, Clone)]
pub struct Entry {
    pub user: String,
    pub session: Option<String>,
    pub command: String,
    pub project: Option<String>,
    pub args: Vec<String>,
    pub outcome: Outcome,
    pub file: Option<FileEvent>,
    /// The date of the home's simulated clock (homes made with `--simulated-clock` for tests and
    /// the demo); `None` on a production home, whose dates are the system's.
    pub today: Option<chrono::NaiveDate>,
}

/// One line of the log. `hash` and `mac` are read but never serialised with the rest: they are
/// computed over the serialised rest and appended to it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub seq: u64,
    /// UTC, RFC 3339 with milliseconds.
    pub time: String,
    pub user: String,
    pub session: Option<String>,
    pub command: String,
    pub project: Option<String>,
    pub args: Vec<String>,
    /// `ok`, `refused` or `error`.
    pub result: String,
    pub rule: Option<String>,
    pub message: Option<String>,
    pub file: Option<FileEvent>,
    /// The simulated clock's date: every record of a home with a simulated clock says so. (Logs
    /// written before it was named so call it `today`.)
    #[serde(rename = "simulated_today", alias = "today")]
    pub today: Option<chrono::NaiveDate>,
    pub prev: String,
    #[serde(skip_serializing)]
    pub hash: String,
    #[serde(skip_serializing)]
    pub mac: String,
}

/// The sealed head of the chain (`seal/head.json`): how many records the log holds, the hash of
/// the last, and how many bytes they take. What lies past `bytes` is not sealed: the next append
/// (or verify) recovers it ([`Log::settle`]) or refuses it as tampering.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Head {
    count: u64,
    last: String,
    /// Absent in heads written before the length was sealed; the next append adds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bytes: Option<u64>,
    mac: String,
}

/// The head as the log matches it: every byte of the log is sealed.
#[derive(Debug, Clone)]
struct SealedHead {
    count: u64,
    last: String,
    bytes: u64,
}

/// What the next command found after the sealed head, left by a `midnet` that stopped part way
/// through an append, and what it did about it.
#[derive(Debug, Clone)]
pub enum Recovery {
    /// A whole record, sealed by the key (so written by `midnet`), that the head did not count yet:
    /// `midnet` stopped between writing it and sealing it. The head now seals it.
    Sealed { seq: u64, command: String, user: String },
    /// The start of a record with no end (a write cut short: `midnet` stopped, or the disk was
    /// full). Cut from the log and kept in `kept`.
    Torn { seq: u64, bytes: usize, kept: PathBuf },
}

impl std::fmt::Display for Recovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Recovery::Sealed { seq, command, user } => write!(
                f,
                "record {seq} ({command} by {user}) was complete but not sealed: midnet stopped between writing it \
                 and sealing the head; it is sealed now"
            ),
            Recovery::Torn { seq, bytes, kept } => write!(
                f,
                "the log ended in {bytes} bytes of an unfinished record {seq} (a write midnet did not finish: it \
                 was stopped, or the disk was full); they were cut from the log and kept in {}",
                kept.display()
            ),
        }
    }
}

/// The audit log of one home.
#[derive(Debug, Clone)]
pub struct Log {
    log: PathBuf,
    key: PathBuf,
    head: PathBuf,
    anchor_key: PathBuf,
    lock: PathBuf,
}

impl Log {
    pub fn at(home_root: &Path) -> Log {
        Log {
            log: home_root.join("audit/log.jsonl"),
            key: home_root.join("seal/key"),
            head: home_root.join("seal/head.json"),
            anchor_key: home_root.join("seal/anchor.key"),
            lock: home_root.join("locks/audit.lock"),
        }
    }

    /// Create the key, an empty log and its head (during `center init`).
    pub(crate) fn create(home_root: &Path) -> Result<()> {
        let log = Log::at(home_root);
        let mut key = [0u8; 32];
        rand::fill(&mut key);
        store::write_private_file(&log.key, hex::encode(key).as_bytes())?;
        std::fs::File::create(&log.log).at(&log.log)?;
        let key = log.read_key()?;
        log.write_head(&key, &SealedHead { count: 0, last: crate::chain::GENESIS.to_string(), bytes: 0 })
    }

    pub fn path(&self) -> &Path {
        &self.log
    }

    /// Append one record and reseal the head, after recovering what an interrupted append left.
    pub fn append(&self, entry: Entry) -> Result<Record> {
        let _lock = FileLock::wait(&self.lock)?;
        let key = self.read_key()?;
        let (sealed, _) = self.settle(&key)?;
        Ok(self.write_record(&key, &sealed, entry)?.0)
    }

    /// Whether a record can be appended now: the key and the sealed head are there and verify, and
    /// the log agrees with the head, or ends in what an interrupted append leaves (which the next
    /// append recovers; this only reads). A command asks before it changes anything, so that
    /// nothing runs that cannot be recorded (it fails closed).
    pub fn ready(&self) -> Result<()> {
        let _lock = FileLock::wait(&self.lock)?;
        let key = self.read_key()?;
        let head = self.read_head(&key)?;
        if head.bytes == Some(std::fs::metadata(&self.log).at(&self.log)?.len()) {
            return Ok(());
        }
        verify::walk(self, &key, &self.read_text()?, &head).map(drop)
    }

    /// Write `entry` as the record after `sealed`, then seal it. A kill between the two leaves a
    /// whole record past the head, which [`Log::settle`] seals.
    fn write_record(&self, key: &[u8], sealed: &SealedHead, entry: Entry) -> Result<(Record, SealedHead)> {
        let (result, rule, message) = match entry.outcome {
            Outcome::Ok => ("ok", None, None),
            Outcome::Noted { message } => ("ok", None, Some(message)),
            Outcome::Refused { rule, message } => ("refused", Some(rule), Some(message)),
            Outcome::Error { message } => ("error", None, Some(message)),
        };
        let mut record = Record {
            seq: sealed.count + 1,
            time: crate::clock::format_utc(&crate::clock::now_utc()),
            user: entry.user,
            session: entry.session,
            command: entry.command,
            project: entry.project,
            args: entry.args,
            result: result.to_string(),
            rule,
            message,
            file: entry.file,
            today: entry.today,
            prev: sealed.last.clone(),
            hash: String::new(),
            mac: String::new(),
        };
        let (body, hash) = crate::chain::seal(&record);
        record.hash = hash;
        record.mac = mac(key, record.hash.as_bytes());
        let line = format!("{body},\"hash\":\"{}\",\"mac\":\"{}\"}}\n", record.hash, record.mac);
        let mut file = std::fs::OpenOptions::new().append(true).open(&self.log).at(&self.log)?;
        file.write_all(line.as_bytes()).at(&self.log)?;
        file.sync_data().at(&self.log)?;
        crate::crash::point("audit-appended");
        let sealed =
            SealedHead { count: record.seq, last: record.hash.clone(), bytes: sealed.bytes + line.len() as u64 };
        self.write_head(key, &sealed)?;
        Ok((record, sealed))
    }

    /// Bring the log and its head into agreement, under the audit lock: when the log is longer
    /// than the head seals, what follows is a record `midnet` wrote and did not seal (sealed now)
    /// or a torn write (cut and kept aside); either is recorded as an `audit recover` record.
    /// Anything else there, or a log shorter than the head, is tampering: an integrity error, and
    /// nothing more is recorded until the home is restored.
    fn settle(&self, key: &[u8]) -> Result<(SealedHead, Option<(Recovery, u64)>)> {
        let head = self.read_head(key)?;
        let len = std::fs::metadata(&self.log).at(&self.log)?.len();
        if head.bytes == Some(len) {
            return Ok((SealedHead { count: head.count, last: head.last, bytes: len }, None));
        }
        let text = self.read_text()?;
        let walk = verify::walk(self, key, &text, &head)?;
        let sealed = SealedHead { count: walk.records, last: walk.last, bytes: walk.sealed_bytes };
        let (recovery, sealed) = match walk.tail {
            verify::Tail::None => {
                // A head written before heads sealed the log's length.
                self.write_head(key, &sealed)?;
                return Ok((sealed, None));
            }
            verify::Tail::Unsealed(record) => {
                let record = *record;
                let recovery = Recovery::Sealed { seq: record.seq, command: record.command, user: record.user };
                let sealed = SealedHead { count: record.seq, last: record.hash, bytes: len };
                self.write_head(key, &sealed)?;
                (recovery, sealed)
            }
            verify::Tail::Torn(fragment) => {
                let kept = self.log.with_file_name(format!("torn-{}.part", sealed.count + 1));
                crate::store::write_atomically(&kept, fragment.as_bytes())?;
                let file = std::fs::OpenOptions::new().write(true).open(&self.log).at(&self.log)?;
                file.set_len(sealed.bytes).at(&self.log)?;
                file.sync_all().at(&self.log)?;
                self.write_head(key, &sealed)?;
                (Recovery::Torn { seq: sealed.count + 1, bytes: fragment.len(), kept }, sealed)
            }
        };
        let (record, sealed) = self.write_record(key, &sealed, recovery_entry(&recovery))?;
        Ok((sealed, Some((recovery, record.seq))))
    }

    /// Every record, in order (after recovering an interrupted append).
    pub fn records(&self) -> Result<Vec<Record>> {
        let text = {
            let _lock = FileLock::wait(&self.lock)?;
            self.settle(&self.read_key()?)?;
            self.read_text()?
        };
        text.split_terminator('\n')
            .enumerate()
            .map(|(i, line)| {
                serde_json::from_str(line).map_err(|e| {
                    Error::Integrity(format!(
                        "{} line {}: not an audit record ({e}); `midnet audit verify` checks the whole log",
                        self.log.display(),
                        i + 1
                    ))
                })
            })
            .collect()
    }

    /// Recover an interrupted append, then check the whole chain against the sealed head; see
    /// [`verify::walk`].
    pub fn verify(&self) -> Result<Verified> {
        let _lock = FileLock::wait(&self.lock)?;
        let key = self.read_key()?;
        let (_, recovered) = self.settle(&key)?;
        let head = self.read_head(&key)?;
        let walk = verify::walk(self, &key, &self.read_text()?, &head)?;
        if !matches!(walk.tail, verify::Tail::None) {
            return Err(Error::Internal(format!("{}: unsealed bytes remain after recovery", self.log.display())));
        }
        Ok(Verified { records: walk.records, last: walk.last, recovered })
    }

    /// The log's text; bytes that are not UTF-8 were written by something other than `midnet`.
    fn read_text(&self) -> Result<String> {
        let bytes = std::fs::read(&self.log).at(&self.log)?;
        String::from_utf8(bytes).map_err(|e| {
            let line = e.as_bytes()[..e.utf8_error().valid_up_to()].iter().filter(|b| **b == b'\n').count() + 1;
            Error::Integrity(format!(
                "audit log {} line {line}: not UTF-8 text: the line was altered",
                self.log.display()
            ))
        })
    }

    fn read_key(&self) -> Result<Vec<u8>> {
        let text = read_seal(
            &self.key,
            "the audit key",
            "without it no record can be sealed or checked, so nothing more can be recorded until it is restored \
             from a backup of the home",
        )?;
        hex::decode(text.trim()).map_err(|_| {
            Error::Integrity(format!("{}: the audit key is not hex; it was changed outside midnet", self.key.display()))
        })
    }

    fn read_head(&self, key: &[u8]) -> Result<Head> {
        let text = read_seal(
            &self.head,
            "the sealed head of the audit log",
            "without it a log cut short cannot be told from a whole one, so nothing more can be recorded until it \
             is restored from a backup of the home; `midnet audit verify --anchor FILE` then shows whether the \
             restored trail reaches your latest anchor",
        )?;
        let head: Head = serde_json::from_str(&text).map_err(|e| {
            Error::Integrity(format!(
                "{}: not a sealed head ({e}); it was changed outside midnet, restore it from a backup",
                self.head.display()
            ))
        })?;
        if head.mac != mac(key, head_message(head.count, &head.last, head.bytes).as_bytes()) {
            return Err(Error::Integrity(format!(
                "{}: the sealed head of the audit log does not verify (its HMAC is wrong): it was altered; \
                 run `midnet audit verify` and restore the home from a backup",
                self.head.display()
            )));
        }
        Ok(head)
    }

    fn write_head(&self, key: &[u8], sealed: &SealedHead) -> Result<()> {
        let bytes = Some(sealed.bytes);
        let head = Head {
            count: sealed.count,
            last: sealed.last.clone(),
            bytes,
            mac: mac(key, head_message(sealed.count, &sealed.last, bytes).as_bytes()),
        };
        store::write_json(&self.head, &head)
    }
}

/// A file of `seal/`, `what`; a missing one is an integrity error saying what its absence means
/// (`consequence`): midnet never removes these files.
fn read_seal(path: &Path, what: &str, consequence: &str) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::Integrity(format!(
            "{}: {what} is missing: it was deleted or moved outside midnet, which never removes it; {consequence}",
            path.display()
        )),
        _ => Error::io(path, e),
    })
}

/// The record of a recovery: by no user, with what was found and done as its message.
fn recovery_entry(recovery: &Recovery) -> Entry {
    Entry {
        user: "-".to_string(),
        session: None,
        command: "audit recover".to_string(),
        project: None,
        args: Vec::new(),
        outcome: Outcome::Error { message: recovery.to_string() },
        file: None,
        today: None,
    }
}

/// What the head's mac covers; `bytes` (the log's sealed length) since version 2.
fn head_message(count: u64, last: &str, bytes: Option<u64>) -> String {
    match bytes {
        Some(bytes) => format!("midnet-audit-head/2\n{count}\n{last}\n{bytes}"),
        None => format!("midnet-audit-head/1\n{count}\n{last}"),
    }
}

fn mac(key: &[u8], message: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// A command line (`midnet` and the arguments an audit record holds) as a POSIX shell reads it
/// back: each argument bare when it is plain, single-quoted otherwise.
pub fn command_line(args: &[String]) -> String {
    std::iter::once("midnet".to_string()).chain(args.iter().map(|a| quoted(a))).collect::<Vec<_>>().join(" ")
}

fn quoted(arg: &str) -> String {
    let plain = !arg.is_empty() && arg.chars().all(|c| c.is_alphanumeric() || "-_./=:,@+%".contains(c));
    if plain { arg.to_string() } else { format!("'{}'", arg.replace('\'', r"'\''")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_quoted_only_when_needed() {
        assert_eq!(quoted("--project"), "--project");
        assert_eq!(quoted("t1.csv"), "t1.csv");
        assert_eq!(quoted("two words"), "'two words'");
        assert_eq!(quoted("it's"), r"'it'\''s'");
        assert_eq!(quoted(""), "''");
        assert_eq!(command_line(&["work".into(), "sql".into(), "a b".into()]), "midnet work sql 'a b'");
    }

    fn cases() -> u32 {
        std::env::var("MIDNET_PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48)
    }

    /// A home-like directory with a log of `n` records.
    fn log_with(n: usize) -> (tempfile::TempDir, Log) {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["audit", "seal", "locks"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        Log::create(dir.path()).unwrap();
        let log = Log::at(dir.path());
        for i in 0..n {
            let outcome =
                if i % 3 == 2 { Outcome::Refused { rule: "role".into(), message: "no".into() } } else { Outcome::Ok };
            let entry = Entry {
                user: format!("user{i}"),
                session: Some("s".into()),
                command: "project show".into(),
                project: Some("p1".into()),
                args: vec!["project".into(), "show".into(), "p1".into()],
                outcome,
                file: None,
                today: None,
            };
            log.append(entry).unwrap();
        }
        (dir, log)
    }

    #[test]
    fn an_untouched_log_verifies_and_a_stray_carriage_return_does_not() {
        let (_dir, log) = log_with(5);
        assert_eq!(log.verify().unwrap().records, 5);
        let text = std::fs::read_to_string(log.path()).unwrap();
        std::fs::write(log.path(), text.replacen('\n', "\r\n", 1)).unwrap();
        assert!(matches!(log.verify(), Err(Error::Integrity(m)) if m.contains("line 1: not an audit record")));
    }

    /// A head written before heads sealed the log's length still verifies, and from then on the
    /// head seals the length too.
    #[test]
    fn a_head_without_the_length_verifies_and_gets_it() {
        let (_dir, log) = log_with(3);
        let key = log.read_key().unwrap();
        let head = log.read_head(&key).unwrap();
        let old = Head { bytes: None, mac: mac(&key, head_message(head.count, &head.last, None).as_bytes()), ..head };
        store::write_json(&log.head, &old).unwrap();
        assert_eq!(log.verify().unwrap().records, 3);
        let entry = Entry {
            user: "u".into(),
            session: None,
            command: "project show".into(),
            project: None,
            args: Vec::new(),
            outcome: Outcome::Ok,
            file: None,
            today: None,
        };
        log.append(entry).unwrap();
        let head = log.read_head(&key).unwrap();
        assert_eq!((head.count, head.bytes), (4, Some(std::fs::metadata(log.path()).unwrap().len())));
        assert!(log.verify().unwrap().recovered.is_none());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(cases()))]

        /// Changing any one byte of the log is detected.
        #[test]
        fn any_changed_byte_is_detected(position in 0.0f64..1.0, replacement in 0u8..=255) {
            let (_dir, log) = log_with(4);
            let mut bytes = std::fs::read(log.path()).unwrap();
            let at = ((bytes.len() - 1) as f64 * position) as usize;
            proptest::prop_assume!(bytes[at] != replacement);
            bytes[at] = replacement;
            std::fs::write(log.path(), &bytes).unwrap();
            let detected = matches!(log.verify(), Err(Error::Integrity(_)));
            proptest::prop_assert!(detected);
        }
    }
}
