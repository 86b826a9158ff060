//! The data center's signing key, in `HOME/keys/` (owner-only like the whole home): `center.key`
//! (0600) signs every work request the center sends; `center.pub` is what each site pins, given to
//! it out of band (`midnet center key` prints it; the site runs `midnet site trust-center`). It is
//! not the TLS key of a network endpoint. `center init` makes it; a home made before keys existed
//! gets it at first need, and the audit trail says so.

use std::path::PathBuf;

use ed25519_dalek::{SigningKey, VerifyingKey};

use super::Actor;
use super::home::Home;
use crate::audit::Outcome;
use crate::error::Result;
use crate::wire;

fn dir(home: &Home) -> PathBuf {
    home.root().join("keys")
}

fn private_path(home: &Home) -> PathBuf {
    dir(home).join("center.key")
}

/// The center's public key file.
pub fn public_path(home: &Home) -> PathBuf {
    dir(home).join("center.pub")
}

/// Make the key pair of a home being built (`center init`).
pub(super) fn create(home: &Home) -> Result<VerifyingKey> {
    crate::store::create_private_dir(&dir(home))?;
    wire::create_key_pair(&private_path(home), &public_path(home))
}

/// The center's signing key, made now if the home has none (audited as `center key`).
pub fn signing(actor: &Actor) -> Result<SigningKey> {
    let home = actor.home();
    let _lock = home.lock_documents()?;
    if !private_path(home).is_file() {
        if !dir(home).is_dir() {
            crate::store::create_private_dir(&dir(home))?;
        }
        let key = wire::create_key_pair(&private_path(home), &public_path(home))?;
        let message = format!(
            "the home had no signing key (made before midnet signed its requests); made {} ({}) at first need; give \
             its public key {} to every site (`midnet site trust-center`)",
            private_path(home).display(),
            wire::key_id(&key),
            public_path(home).display()
        );
        actor.record("center key", None, Outcome::Noted { message })?;
    }
    wire::read_signing_key(&private_path(home))
}
