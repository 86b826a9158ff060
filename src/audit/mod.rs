//! The tamper-evident audit trail of a home: every command, login, logout, refusal and file that
//! enters or leaves a work area, one JSON record per line of `HOME/audit/log.jsonl`.
//!
//! Each line is a JSON object whose last two fields are `hash` and `mac`:
//! - `hash` is the SHA-256 (hex) of the line's exact bytes before `,"hash":`, which include `seq`
//!   (1, 2, 3, ...) and `prev`, the previous record's hash (64 zeros for the first): any edit,
//!   deletion, insertion or reordering breaks the chain at the first record it touches;
//! - `mac` is HMAC-SHA256 of `hash` under the key `HOME/seal/key` (readable by the service account
//!   alone), so a chain rebuilt by someone without the key fails at the first rebuilt record;
//! - `HOME/seal/head.json` keeps the record count and last hash, sealed with the same key, apart
//!   from the log, so a cut-off tail is detected too.
//!
//! Appends are serialised by a lock (`HOME/locks/audit.lock`); `verify` proves all of the above
//! and names the first bad record.

pub mod cli;
mod verify;

use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::center::store::{self, FileLock};
use crate::error::{Error, IoContext, Result};

pub use verify::Verified;

/// The `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Whether a file entered or left a work area, or was deleted from it (termination, purge).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    In,
    Out,
    Deleted,
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
    /// The `MIDNET_TODAY` override in force, if any.
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
    pub today: Option<chrono::NaiveDate>,
    pub prev: String,
    #[serde(skip_serializing)]
    pub hash: String,
    #[serde(skip_serializing)]
    pub mac: String,
}

impl Record {
    /// The line's text before `,"hash":`: what `hash` covers.
    fn body(&self) -> Result<String> {
        let json = serde_json::to_string(self).map_err(|e| Error::Internal(format!("audit record: {e}")))?;
        Ok(json.strip_suffix('}').expect("a JSON object ends with }").to_string())
    }
}

/// The sealed head of the chain (`seal/head.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Head {
    count: u64,
    last: String,
    mac: String,
}

/// The audit log of one home.
#[derive(Debug, Clone)]
pub struct Log {
    log: PathBuf,
    key: PathBuf,
    head: PathBuf,
    lock: PathBuf,
}

impl Log {
    pub fn at(home_root: &Path) -> Log {
        Log {
            log: home_root.join("audit/log.jsonl"),
            key: home_root.join("seal/key"),
            head: home_root.join("seal/head.json"),
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
        log.write_head(&key, 0, GENESIS)
    }

    pub fn path(&self) -> &Path {
        &self.log
    }

    /// Append one record and reseal the head.
    pub fn append(&self, entry: Entry) -> Result<Record> {
        let _lock = FileLock::wait(&self.lock)?;
        let key = self.read_key()?;
        let head = self.read_head(&key)?;
        let (result, rule, message) = match entry.outcome {
            Outcome::Ok => ("ok", None, None),
            Outcome::Noted { message } => ("ok", None, Some(message)),
            Outcome::Refused { rule, message } => ("refused", Some(rule), Some(message)),
            Outcome::Error { message } => ("error", None, Some(message)),
        };
        let mut record = Record {
            seq: head.count + 1,
            time: crate::center::clock::format_utc(&crate::center::clock::now_utc()),
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
            prev: head.last,
            hash: String::new(),
            mac: String::new(),
        };
        let body = record.body()?;
        record.hash = crate::digest::sha256_hex(body.as_bytes());
        record.mac = mac(&key, record.hash.as_bytes());
        let line = format!("{body},\"hash\":\"{}\",\"mac\":\"{}\"}}\n", record.hash, record.mac);
        let mut file = std::fs::OpenOptions::new().append(true).open(&self.log).at(&self.log)?;
        file.write_all(line.as_bytes()).at(&self.log)?;
        file.sync_data().at(&self.log)?;
        self.write_head(&key, record.seq, &record.hash)?;
        Ok(record)
    }

    /// Every record, in order. A line that does not parse is an integrity error (run `verify`).
    pub fn records(&self) -> Result<Vec<Record>> {
        let text = self.read_text()?;
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

    /// Check the whole chain and the sealed head; see [`verify`](verify::verify).
    pub fn verify(&self) -> Result<Verified> {
        let key = self.read_key()?;
        verify::verify(self, &key)
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
        let text = std::fs::read_to_string(&self.key).at(&self.key)?;
        hex::decode(text.trim()).map_err(|_| {
            Error::Integrity(format!("{}: the audit key is not hex; it was changed outside midnet", self.key.display()))
        })
    }

    fn read_head(&self, key: &[u8]) -> Result<Head> {
        let head: Head = store::read_json(&self.head)?;
        if head.mac != mac(key, head_message(head.count, &head.last).as_bytes()) {
            return Err(Error::Integrity(format!(
                "{}: the sealed head of the audit log does not verify (its HMAC is wrong): it was altered; \
                 run `midnet audit verify` and restore the home from a backup",
                self.head.display()
            )));
        }
        Ok(head)
    }

    fn write_head(&self, key: &[u8], count: u64, last: &str) -> Result<()> {
        let head = Head { count, last: last.to_string(), mac: mac(key, head_message(count, last).as_bytes()) };
        store::write_json(&self.head, &head)
    }
}

fn head_message(count: u64, last: &str) -> String {
    format!("midnet-audit-head/1\n{count}\n{last}")
}

fn mac(key: &[u8], message: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

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
