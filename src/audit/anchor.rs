//! Anchors: signed statements of the sealed head (sequence number, hash, time) that the operator
//! keeps outside the home, so that a rollback of the log and its head together (both genuine, an
//! earlier copy of the home) is caught: `midnet audit verify --anchor FILE` fails when the trail is
//! shorter than the anchor says it was, or its record at the anchored number is another.
//!
//! Anchors are signed with an Ed25519 key of the home (`seal/anchor.key`, made by the first
//! `audit anchor`), and carry its public half: an anchor can be checked without any secret, and
//! one signed by another key (another home's, or a replaced key) is refused. docs/projects.md says
//! what an anchor proves and what it cannot.

use std::path::Path;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::{Log, Verified};
use crate::error::{Error, Result};
use crate::store::{self, FileLock};

const FORMAT: &str = "midnet-audit-anchor/1";

/// A signed statement that the trail held `seq` records, the last with hash `hash`, at `time`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Anchor {
    pub format: String,
    pub seq: u64,
    pub hash: String,
    /// UTC, RFC 3339, when the anchor was made.
    pub time: String,
    /// The home's anchor key (Ed25519, hex), whose signature this is.
    pub public_key: String,
    pub signature: String,
}

impl Anchor {
    /// The bytes the signature covers.
    fn message(seq: u64, hash: &str, time: &str) -> String {
        format!("{FORMAT}\n{seq}\n{hash}\n{time}")
    }

    /// An anchor file as `audit anchor` wrote it; anything else is bad input.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Anchor> {
        let not_anchor = |why: String| {
            crate::bad_input!(
                "{}: not an audit anchor ({why}); give a file `midnet audit anchor` wrote",
                path.display()
            )
        };
        let anchor: Anchor = serde_json::from_slice(bytes).map_err(|e| not_anchor(e.to_string()))?;
        if anchor.format != FORMAT {
            return Err(not_anchor(format!("its format is {:?}, not {FORMAT}", anchor.format)));
        }
        Ok(anchor)
    }

    /// Whether the signature is this home's key's, over what the anchor states.
    fn check_signature(&self, home_key: &VerifyingKey, file: &Path) -> Result<()> {
        let home_hex = hex::encode(home_key.as_bytes());
        if self.public_key != home_hex {
            return Err(Error::Integrity(format!(
                "anchor {} was signed by another key ({}…) than this home's anchor key ({}…): it is from another \
                 home, or this home's anchor key was replaced",
                file.display(),
                &self.public_key[..self.public_key.len().min(16)],
                &home_hex[..16]
            )));
        }
        let signature = hex::decode(&self.signature)
            .ok()
            .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
            .map(|bytes| Signature::from_bytes(&bytes));
        let verified = signature.is_some_and(|signature| {
            home_key.verify_strict(Anchor::message(self.seq, &self.hash, &self.time).as_bytes(), &signature).is_ok()
        });
        if !verified {
            return Err(Error::Integrity(format!(
                "anchor {}: its signature does not verify: the file was altered after `midnet audit anchor` wrote it",
                file.display()
            )));
        }
        Ok(())
    }
}

impl Log {
    /// Sign a statement of the sealed head (after recovering an interrupted append), making the
    /// home's anchor key the first time.
    pub fn anchor(&self) -> Result<Anchor> {
        let _lock = FileLock::wait(&self.lock)?;
        let key = self.read_key()?;
        let (sealed, _) = self.settle(&key)?;
        let signing = match self.read_anchor_key()? {
            Some(signing) => signing,
            None => {
                let mut seed = [0u8; 32];
                rand::fill(&mut seed);
                store::write_private_file(&self.anchor_key, hex::encode(seed).as_bytes())?;
                SigningKey::from_bytes(&seed)
            }
        };
        let time = crate::clock::format_utc(&crate::clock::now_utc());
        let signature = signing.sign(Anchor::message(sealed.count, &sealed.last, &time).as_bytes());
        Ok(Anchor {
            format: FORMAT.to_string(),
            seq: sealed.count,
            hash: sealed.last,
            time,
            public_key: hex::encode(signing.verifying_key().as_bytes()),
            signature: hex::encode(signature.to_bytes()),
        })
    }

    /// Verify the trail, then that it reaches `anchor` (read from `file`) and holds the anchored
    /// record: a shorter trail was rolled back, another record there means it was rewritten.
    pub fn check_anchor(&self, anchor: &Anchor, file: &Path) -> Result<Verified> {
        let home_key = self.read_anchor_key()?.ok_or_else(|| {
            Error::Integrity(format!(
                "{}: this home has no anchor key, so anchor {} is not from this home as it is now: the key was \
                 deleted, or the home was replaced by one that never made an anchor",
                self.anchor_key.display(),
                file.display()
            ))
        })?;
        anchor.check_signature(&home_key.verifying_key(), file)?;
        let verified = self.verify()?;
        if verified.records < anchor.seq {
            return Err(Error::Integrity(format!(
                "the audit trail ends at record {} but the anchor of {} states that it held {} records then: it was \
                 rolled back (the log and its sealed head replaced together by an earlier copy), and records {}..{} \
                 are gone",
                verified.records,
                anchor.time,
                anchor.seq,
                verified.records + 1,
                anchor.seq
            )));
        }
        let anchored = anchor.seq.checked_sub(1).map(|i| self.records().map(|r| r[i as usize].hash.clone()));
        let hash = anchored.transpose()?.unwrap_or_else(|| crate::chain::GENESIS.to_string());
        if hash != anchor.hash {
            return Err(Error::Integrity(format!(
                "record {} differs from the anchor of {} (its hash is {}…, the anchor states {}…): the trail was \
                 rewritten since the anchor, by someone holding the key, or rolled back and written anew",
                anchor.seq,
                anchor.time,
                &hash[..16],
                &anchor.hash[..anchor.hash.len().min(16)]
            )));
        }
        Ok(verified)
    }

    fn read_anchor_key(&self) -> Result<Option<SigningKey>> {
        let text = match std::fs::read_to_string(&self.anchor_key) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&self.anchor_key, e)),
        };
        let seed =
            hex::decode(text.trim()).ok().and_then(|bytes| <[u8; 32]>::try_from(bytes).ok()).ok_or_else(|| {
                Error::Integrity(format!(
                    "{}: the anchor key is not 32 bytes of hex; it was changed outside midnet",
                    self.anchor_key.display()
                ))
            })?;
        Ok(Some(SigningKey::from_bytes(&seed)))
    }
}
