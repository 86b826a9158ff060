//! Hash-chained JSON lines: the one way `midnet` makes a log tamper-evident (the center's audit
//! trail, a site's own log).
//!
//! A record is a JSON object with `seq` (1, 2, 3, …) and `prev` (the previous record's hash, or
//! [`GENESIS`] for the first). Its line is the record's *body* (its JSON without the closing brace)
//! followed by `,"hash":"H"`, where `H` is the SHA-256 (hex) of the body's exact bytes, then what the
//! log adds (the audit trail's `mac`) and `}`. An edited line no longer matches its hash; a deleted,
//! inserted or reordered line breaks `seq` or `prev` at the first record it touches. A chain alone
//! does not stop someone who rewrites the whole file: the audit trail adds a keyed seal for that.

use serde::Serialize;

/// The `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The field that follows a record's body; what precedes it is what the hash covers.
const HASH_FIELD: &str = ",\"hash\":\"";

/// A record's body and its hash: the line is `{body},"hash":"{hash}"…}`. The record must serialise
/// neither its hash nor anything else that follows the body.
pub fn seal<T: Serialize>(record: &T) -> (String, String) {
    let json = serde_json::to_string(record).expect("a log record serialises");
    let body = json.strip_suffix('}').expect("a JSON object ends with }").to_string();
    let hash = crate::digest::sha256_hex(body.as_bytes());
    (body, hash)
}

/// The body of a line: the bytes before its hash field, if it has one.
pub fn body_of(line: &str) -> Option<&str> {
    line.rfind(HASH_FIELD).map(|cut| &line[..cut])
}

/// Why a line breaks the chain. Its words name the record and the kind of tampering it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Break {
    /// The line's body does not hash to the hash it carries.
    Edited { seq: u64 },
    /// The line holds another record than the one that belongs there.
    Misplaced { found: u64, expected: u64 },
    /// The record's `prev` is not the hash of the record before it.
    Unlinked { seq: u64 },
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Break::Edited { seq } => write!(f, "record {seq} was edited: its content does not match its hash"),
            Break::Misplaced { found, expected } => write!(
                f,
                "holds record {found} where record {expected} was expected: records were deleted, inserted or \
                 reordered here"
            ),
            Break::Unlinked { seq } => write!(
                f,
                "record {seq} does not follow the record before it (its prev hash differs): a record was deleted, \
                 inserted or reordered here"
            ),
        }
    }
}

/// Check that `body` hashes to `hash`, the hash record `seq`'s line carries.
pub fn check_hash(body: &str, hash: &str, seq: u64) -> Result<(), Break> {
    if crate::digest::sha256_hex(body.as_bytes()) == hash { Ok(()) } else { Err(Break::Edited { seq }) }
}

/// Check that record `seq`, whose `prev` is `prev`, is record `expected` and follows the record
/// whose hash is `last`.
pub fn check_place(seq: u64, prev: &str, expected: u64, last: &str) -> Result<(), Break> {
    if seq != expected {
        return Err(Break::Misplaced { found: seq, expected });
    }
    if prev != last {
        return Err(Break::Unlinked { seq });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Line {
        seq: u64,
        text: &'static str,
        prev: String,
    }

    fn line(seq: u64, text: &'static str, prev: &str) -> (String, String) {
        let (body, hash) = seal(&Line { seq, text, prev: prev.to_string() });
        (format!("{body},\"hash\":\"{hash}\"}}"), hash)
    }

    #[test]
    fn a_sealed_line_checks_and_an_edited_one_does_not() {
        let (first, hash) = line(1, "asked", GENESIS);
        let body = body_of(&first).unwrap();
        assert_eq!(check_hash(body, &hash, 1), Ok(()));
        let edited = first.replace("asked", "asker");
        assert_eq!(check_hash(body_of(&edited).unwrap(), &hash, 1), Err(Break::Edited { seq: 1 }));
    }

    #[test]
    fn a_record_out_of_place_or_unlinked_is_named() {
        let (_, first) = line(1, "asked", GENESIS);
        assert_eq!(check_place(2, &first, 2, &first), Ok(()));
        assert_eq!(check_place(3, &first, 2, &first), Err(Break::Misplaced { found: 3, expected: 2 }));
        assert_eq!(check_place(2, GENESIS, 2, &first), Err(Break::Unlinked { seq: 2 }));
        assert!(Break::Misplaced { found: 3, expected: 2 }.to_string().starts_with("holds record 3 where record 2"));
    }
}
