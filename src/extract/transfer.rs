//! Moving a site's result from its outbox into the project, verified end to end: files are copied
//! into a temporary directory, every file is checked against the manifest (SHA-256, rows), and
//! only then is the directory renamed into place. The site's outbox is removed once the result is
//! accepted: the site keeps nothing of the extraction.

use std::path::Path;

use crate::error::{Error, IoContext, Result};
use crate::site::manifest::{MANIFEST_FILE, Manifest};
use crate::site::run::Sent;

/// Copy `outbox` into `target`, verify it against what the site sent, and return the verified
/// manifest. `label` is the site's pseudonym; `site_id` names it for the data center's fault drills
/// (`MIDNET_FAULT`, see below).
pub fn receive(outbox: &Path, target: &Path, sent: &Sent, label: &str, site_id: &str) -> Result<Manifest> {
    let parent = target.parent().expect("incoming directories have a parent");
    std::fs::create_dir_all(parent).at(parent)?;
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).at(&tmp)?;
    }
    std::fs::create_dir_all(&tmp).at(&tmp)?;
    for entry in std::fs::read_dir(outbox).at(outbox)? {
        let path = entry.at(outbox)?.path();
        let file = path.file_name().expect("directory entries have names");
        std::fs::copy(&path, tmp.join(file)).at(&path)?;
    }
    let received = verify(&tmp, sent, label, site_id);
    let received = match received {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    if target.exists() {
        std::fs::remove_dir_all(target).at(target)?;
    }
    std::fs::rename(&tmp, target).at(target)?;
    std::fs::remove_dir_all(outbox).at(outbox)?;
    Ok(received)
}

/// The received copy in `dir`: its manifest is the one the site sent (by hash), and every file
/// matches the manifest.
fn verify(dir: &Path, sent: &Sent, label: &str, site_id: &str) -> Result<Manifest> {
    let manifest_file = dir.join(MANIFEST_FILE);
    if crate::digest::sha256_file(&manifest_file)? != sent.manifest_sha256 {
        return Err(Error::Integrity(format!(
            "site {label}: its manifest was altered or truncated in transfer; extract again for this site"
        )));
    }
    let received = Manifest::read(dir, label)?;
    inject_fault(dir, &received, site_id)?;
    received.verify(dir, &duckdb::Connection::open_in_memory()?)?;
    Ok(received)
}

/// Fault drills for operators and tests: `MIDNET_FAULT=truncate:SITE_ID` truncates the first file
/// of that site's result in transfer, as a broken line would; verification must then refuse it.
fn inject_fault(dir: &Path, manifest: &Manifest, site_id: &str) -> Result<()> {
    let Ok(fault) = std::env::var("MIDNET_FAULT") else { return Ok(()) };
    if fault != format!("truncate:{site_id}") {
        return Ok(());
    }
    if let Some(out) = manifest.outputs.first() {
        let path = dir.join(&out.file);
        let len = std::fs::metadata(&path).at(&path)?.len();
        let file = std::fs::OpenOptions::new().write(true).open(&path).at(&path)?;
        file.set_len(len / 2).at(&path)?;
    }
    Ok(())
}
