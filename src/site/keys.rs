//! The site's keys, in `SITE/keys/` (owner-only): its own Ed25519 key pair, made at `site init`
//! (the private key `site.key`, 0600, never leaves the directory; `site.pub` is what the data
//! center registers), and the data center's public key `center.pub`, pinned by the site's staff
//! with `site trust-center` from a copy given out of band. The site believes a work request only
//! when the pinned key signed it.

use std::path::PathBuf;

use ed25519_dalek::{SigningKey, VerifyingKey};

use super::SiteDir;
use crate::error::{Error, Result};
use crate::wire;

const PRIVATE: &str = "site.key";
const PUBLIC: &str = "site.pub";
const CENTER: &str = "center.pub";
const CENTER_TLS: &str = "center.tls-sha256";

pub(crate) fn dir(site: &SiteDir) -> PathBuf {
    site.root().join("keys")
}

/// The site's public key file (what its staff give the data center).
pub fn public_path(site: &SiteDir) -> PathBuf {
    dir(site).join(PUBLIC)
}

/// Make the site's key pair; a site that has one keeps it (its key is registered at the center).
/// Returns the public key and whether it is new.
pub fn ensure(site: &SiteDir) -> Result<(VerifyingKey, bool)> {
    let private = dir(site).join(PRIVATE);
    if private.exists() {
        return Ok((signing(site)?.verifying_key(), false));
    }
    if !dir(site).is_dir() {
        crate::store::create_private_dir(&dir(site))?;
    }
    Ok((wire::create_key_pair(&private, &public_path(site))?, true))
}

/// The site's signing key.
pub fn signing(site: &SiteDir) -> Result<SigningKey> {
    let private = dir(site).join(PRIVATE);
    if !private.is_file() {
        return Err(Error::NotFound(format!(
            "{}: the site has no key pair (made by `site init`); make one with `midnet site key --site {}` and \
             give its public key to the data center",
            site.root().display(),
            site.root().display()
        )));
    }
    wire::read_signing_key(&private)
}

/// Pin the data center's public key read from `file` (replacing an earlier one).
pub fn trust_center(site: &SiteDir, file: &std::path::Path) -> Result<VerifyingKey> {
    site.require()?;
    let key = wire::read_public_key(file)?;
    if !dir(site).is_dir() {
        crate::store::create_private_dir(&dir(site))?;
    }
    crate::store::write_atomically(&dir(site).join(CENTER), wire::public_key_text(&key).as_bytes())?;
    Ok(key)
}

/// The data center's pinned key: without one the site believes no request.
pub fn pinned_center(site: &SiteDir) -> Result<VerifyingKey> {
    let path = dir(site).join(CENTER);
    if !path.is_file() {
        return Err(Error::refused(
            "center_key",
            format!(
                "{}: the site has pinned no data-center key, so it believes no work request; pin the key the data \
                 center gave out of band with `midnet site trust-center --site {} --key FILE`",
                site.root().display(),
                site.root().display()
            ),
        ));
    }
    wire::read_public_key(&path)
}

/// Pin the SHA-256 fingerprint of the data center's TLS certificate (as `center serve` prints it,
/// given out of band with its key): the site's agent talks to no other server.
pub fn pin_center_certificate(site: &SiteDir, fingerprint: &str) -> Result<()> {
    site.require()?;
    if !dir(site).is_dir() {
        crate::store::create_private_dir(&dir(site))?;
    }
    crate::store::write_atomically(&dir(site).join(CENTER_TLS), format!("{fingerprint}\n").as_bytes())
}

/// The pinned fingerprint of the data center's TLS certificate.
pub fn pinned_center_certificate(site: &SiteDir) -> Result<String> {
    let path = dir(site).join(CENTER_TLS);
    let text = std::fs::read_to_string(&path).map_err(|_| {
        Error::refused(
            "center_certificate",
            format!(
                "{}: the site has pinned no data-center certificate, so its agent connects nowhere; pin the \
                 fingerprint the data center gave out of band with `midnet site trust-center --site {} --key FILE \
                 --certificate-sha256 HEX`",
                site.root().display(),
                site.root().display()
            ),
        )
    })?;
    crate::https::parse_fingerprint(&text).map_err(|why| Error::Integrity(format!("{}: {why}", path.display())))
}

const PATIENT: &str = "patient.key";

/// The key of the site's patient keys (`keys/patient.key`, 32 random bytes in hex, 0600): an
/// imported hospital's patient id becomes the site's `patient_key` as HMAC-SHA256 of the id under
/// it, so the id never enters the data source and no one without the key can go back from a
/// patient key to the id. Made the first time a site imports a hospital's storage; never the
/// extraction's key (an extraction replaces patient keys with random person ids anyway).
#[derive(Clone)]
pub struct PatientKey(Vec<u8>);

impl PatientKey {
    /// The site's patient key, made if it has none.
    pub fn of(site: &SiteDir) -> Result<PatientKey> {
        use crate::error::IoContext;
        let path = dir(site).join(PATIENT);
        if !path.exists() {
            if !dir(site).is_dir() {
                crate::store::create_private_dir(&dir(site))?;
            }
            let mut key = [0u8; 32];
            rand::fill(&mut key);
            crate::store::write_private_file(&path, hex::encode(key).as_bytes())?;
        }
        let text = std::fs::read_to_string(&path).at(&path)?;
        match hex::decode(text.trim()) {
            Ok(key) if key.len() >= 32 => Ok(PatientKey(key)),
            _ => Err(Error::Integrity(format!(
                "{}: the patient key is not 32 bytes of hex; it was changed outside midnet, and the site's patient \
                 keys depend on it: restore it from the site's backup",
                path.display()
            ))),
        }
    }

    /// HMAC-SHA256 of `text` under the key, in hex: a hospital patient id's patient key, or a
    /// stored file's path key.
    pub fn hash(&self, text: &str) -> String {
        use hmac::{Hmac, KeyInit, Mac};
        let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(text.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}
