//! `audit verify`: walk the chain from the first record, then compare its end with the sealed head.
//! The first failing check names the line and record, and says which kind of tampering it shows.

use super::{GENESIS, Log, Record, mac};
use crate::error::{Error, Result};

/// A log that verified: how many records, and the hash they end in.
#[derive(Debug, Clone)]
pub struct Verified {
    pub records: u64,
    pub last: String,
}

pub(super) fn verify(log: &Log, key: &[u8]) -> Result<Verified> {
    let text = log.read_text()?;
    let at = |line: usize, why: String| Error::Integrity(format!("audit log {} line {line}: {why}", log.log.display()));
    let mut prev = GENESIS.to_string();
    let mut count = 0u64;
    for (i, line) in text.split_terminator('\n').enumerate() {
        let n = i + 1;
        let expected = count + 1;
        let parsed = line.rfind(",\"hash\":\"").zip(serde_json::from_str::<Record>(line).ok());
        // The line must be exactly what `append` writes: the body, then the hash and the mac.
        let Some((body, record)) = parsed
            .map(|(cut, record)| (&line[..cut], record))
            .filter(|(body, r)| line == format!("{body},\"hash\":\"{}\",\"mac\":\"{}\"}}", r.hash, r.mac))
        else {
            return Err(at(
                n,
                format!("not an audit record (record {expected} expected): the line was altered or inserted"),
            ));
        };
        let hash = crate::digest::sha256_hex(body.as_bytes());
        if hash != record.hash {
            return Err(at(n, format!("record {} was edited: its content does not match its hash", record.seq)));
        }
        if record.mac != mac(key, hash.as_bytes()) {
            return Err(at(
                n,
                format!(
                    "record {}: its seal (mac) does not verify: the chain was rebuilt from here without the key",
                    record.seq
                ),
            ));
        }
        if record.seq != expected {
            return Err(at(
                n,
                format!(
                    "holds record {} where record {expected} was expected: records were deleted, inserted or reordered here",
                    record.seq
                ),
            ));
        }
        if record.prev != prev {
            return Err(at(
                n,
                format!(
                    "record {} does not follow the record before it (its prev hash differs): \
                     a record was deleted, inserted or reordered here",
                    record.seq
                ),
            ));
        }
        prev = hash;
        count = expected;
    }
    let head = log.read_head(key)?;
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
    if count > head.count {
        return Err(at(
            usize::try_from(head.count + 1).unwrap_or(usize::MAX),
            format!(
                "record {} comes after the sealed head ({} records): it was appended without the key",
                head.count + 1,
                head.count
            ),
        ));
    }
    if prev != head.last {
        return Err(Error::Integrity(format!(
            "audit log {}: its {count} records chain correctly but end in a hash other than the sealed head's: \
             the whole log was replaced",
            log.log.display()
        )));
    }
    Ok(Verified { records: count, last: prev })
}
