//! `audit verify`: walk the chain from the first record, then compare its end with the sealed head.
//! The first failing check names the line and record, and says which kind of tampering it shows.
//! What may follow the sealed records is what an interrupted append leaves ([`Tail`]); the caller
//! recovers it ([`Log::settle`](super::Log)).

use super::{Head, Log, Record, Recovery, mac};
use crate::chain::{self, GENESIS};
use crate::error::{Error, Result};

/// A log that verified: how many records, the hash they end in, and what was recovered first (if
/// an append had been interrupted), with the number of the record that says so.
#[derive(Debug, Clone)]
pub struct Verified {
    pub records: u64,
    pub last: String,
    pub recovered: Option<(Recovery, u64)>,
}

/// What follows the records the head seals.
pub(super) enum Tail {
    None,
    /// One whole record sealed by the key and chained to the last sealed one: written by `midnet`,
    /// which stopped before sealing the head.
    Unsealed(Box<Record>),
    /// The start of the next record without its end: a write cut short.
    Torn(String),
}

/// The chain as far as the head seals it, and what follows.
pub(super) struct Walk {
    pub records: u64,
    pub last: String,
    /// The length of the sealed records, in bytes.
    pub sealed_bytes: u64,
    pub tail: Tail,
}

pub(super) fn walk(log: &Log, key: &[u8], text: &str, head: &Head) -> Result<Walk> {
    let at = |line: usize, why: String| Error::Integrity(format!("audit log {} line {line}: {why}", log.log.display()));
    let mut prev = GENESIS.to_string();
    let mut count = 0u64;
    let mut offset = 0usize;
    let mut rest = text;
    while let Some(end) = rest.find('\n') {
        let (line, n) = (&rest[..end], count as usize + 1);
        let record = check_line(line, count + 1, &prev, key, head.count).map_err(|why| at(n, why))?;
        rest = &rest[end + 1..];
        if record.seq > head.count {
            if !rest.is_empty() {
                return Err(at(
                    n + 1,
                    format!(
                        "more follows record {} past the sealed head ({} records): midnet leaves at most one \
                         record unsealed, so these were appended by something else",
                        record.seq, head.count
                    ),
                ));
            }
            return Ok(Walk {
                records: count,
                last: prev,
                sealed_bytes: offset as u64,
                tail: Tail::Unsealed(Box::new(record)),
            });
        }
        prev = record.hash;
        count += 1;
        offset += end + 1;
    }
    if count < head.count {
        return Err(Error::Integrity(format!(
            "audit log {}: it ends at record {count} but the sealed head counts {} records: \
             records {}..{} were cut off its tail",
            log.log.display(),
            head.count,
            count + 1,
            head.count
        )));
    }
    if prev != head.last {
        return Err(Error::Integrity(format!(
            "audit log {}: its {count} records chain correctly but end in a hash other than the sealed head's: \
             the whole log was replaced",
            log.log.display()
        )));
    }
    let tail = if rest.is_empty() {
        Tail::None
    } else if rest.starts_with(&format!("{{\"seq\":{},", count + 1)) {
        Tail::Torn(rest.to_string())
    } else {
        return Err(at(
            count as usize + 1,
            format!(
                "{} bytes after record {count} that are not the start of record {}: they were written by \
                 something other than midnet",
                rest.len(),
                count + 1
            ),
        ));
    };
    Ok(Walk { records: count, last: prev, sealed_bytes: offset as u64, tail })
}

/// Check one line as record `expected` after the record whose hash is `prev`; the head seals
/// `sealed` records. Returns the record, or why the line is not what `append` wrote there.
fn check_line(line: &str, expected: u64, prev: &str, key: &[u8], sealed: u64) -> Result<Record, String> {
    let parsed = chain::body_of(line).zip(serde_json::from_str::<Record>(line).ok());
    // The line must be exactly what `append` writes: the body, then the hash and the mac.
    let Some((body, record)) =
        parsed.filter(|(body, r)| line == format!("{body},\"hash\":\"{}\",\"mac\":\"{}\"}}", r.hash, r.mac))
    else {
        return Err(format!("not an audit record (record {expected} expected): the line was altered or inserted"));
    };
    chain::check_hash(body, &record.hash, record.seq).map_err(|b| b.to_string())?;
    if record.mac != mac(key, record.hash.as_bytes()) {
        if expected > sealed {
            return Err(format!(
                "record {expected} comes after the sealed head ({sealed} records) and its seal (mac) does not verify: \
                 it was appended without the key"
            ));
        }
        return Err(format!(
            "record {}: its seal (mac) does not verify: the chain was rebuilt from here without the key",
            record.seq
        ));
    }
    chain::check_place(record.seq, &record.prev, expected, prev).map_err(|b| b.to_string())?;
    Ok(record)
}
