//! Moving a site's result from its outbox into the project, verified end to end: files are copied
//! into a temporary directory, every file is checked against the manifest (SHA-256, rows), and
//! only then is the directory renamed into place. The outbox (the site's, or the center's spool) is
//! removed by the caller once the result is accepted: the site keeps nothing of the extraction.

use std::path::Path;

use crate::error::{Error, IoContext, Result};
use crate::site::manifest::{Expected, MANIFEST_FILE, Manifest};
use crate::site::order::{SiteRequest, WorkOrder};

/// The largest manifest read: a manifest lists a few outputs and attrition steps (a few KB); a
/// larger one is not read into memory.
const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// What a site's result must answer: the order it was sent and the outputs the script makes.
pub struct Asked<'a> {
    pub order: WorkOrder,
    pub outputs: Vec<Expected>,
    /// The site's id, for the data center's fault drills (`MIDNET_FAULT`, see below).
    pub site_id: &'a str,
}

impl<'a> Asked<'a> {
    pub fn of(req: &SiteRequest, site_id: &'a str) -> Result<Asked<'a>> {
        Ok(Asked {
            order: WorkOrder::of(req)?,
            outputs: req.compiled.queries.outputs.iter().map(Expected::of).collect(),
            site_id,
        })
    }
}

/// Copy the manifest and the expected output files of `outbox` into `target` (nothing else the
/// outbox holds), verify them against the manifest SHA-256 the site signed and `asked`, and
/// return the verified manifest. The outbox stays: the caller removes it once it recorded the
/// result as received.
pub fn receive(outbox: &Path, target: &Path, manifest_sha256: &str, asked: &Asked) -> Result<Manifest> {
    place(target, |tmp| {
        bring_expected(outbox, tmp, asked, Bring::Copy)?;
        verify(tmp, manifest_sha256, asked)
    })
}

/// Take into `target` an upload in the center's spool whose files `center serve` verified against
/// the manifest with SHA-256 `manifest_sha256` (its marker in the request's state says so; the
/// spool takes no byte once the answer is kept): the files are linked, not read again; the
/// manifest is checked to be that one and to answer what was asked.
pub fn receive_verified(spool: &Path, target: &Path, manifest_sha256: &str, asked: &Asked) -> Result<Manifest> {
    place(target, |tmp| {
        bring_expected(spool, tmp, asked, Bring::Link)?;
        let manifest = signed_manifest(tmp, manifest_sha256, &asked.order.site)?;
        manifest.answers(&asked.order, &asked.outputs)?;
        Ok(manifest)
    })
}

/// Fill a temporary directory beside `target` with `fill`, and only when it succeeds rename it
/// into place (a partial result is never found under the target's name).
fn place(target: &Path, fill: impl FnOnce(&Path) -> Result<Manifest>) -> Result<Manifest> {
    let parent = target.parent().expect("incoming directories have a parent");
    std::fs::create_dir_all(parent).at(parent)?;
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).at(&tmp)?;
    }
    std::fs::create_dir_all(&tmp).at(&tmp)?;
    let received = match fill(&tmp) {
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
    Ok(received)
}

/// How a file of the outbox comes into the project.
#[derive(Clone, Copy)]
enum Bring {
    /// A copy of its own, to be verified.
    Copy,
    /// A hard link to the verified file (a copy where the two are on different file systems).
    Link,
}

/// Bring the manifest and each expected output file from `outbox` into `dir`. Each must be a
/// regular file (a link or a device could make the data center read something else, or block).
fn bring_expected(outbox: &Path, dir: &Path, asked: &Asked, how: Bring) -> Result<()> {
    let label = &asked.order.site;
    let files = std::iter::once(MANIFEST_FILE).chain(asked.outputs.iter().map(|e| e.file.as_str()));
    for file in files {
        let from = outbox.join(file);
        let meta = match std::fs::symlink_metadata(&from) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::Integrity(format!("site {label}: {file} is missing from its result")));
            }
            other => other.at(&from)?,
        };
        if !meta.file_type().is_file() {
            return Err(Error::Integrity(format!("site {label}: {file} of its result is not a regular file")));
        }
        let to = dir.join(file);
        match how {
            Bring::Link if std::fs::hard_link(&from, &to).is_ok() => {}
            Bring::Copy | Bring::Link => {
                std::fs::copy(&from, &to).at(&from)?;
            }
        }
    }
    Ok(())
}

/// The received copy in `dir`: its manifest is the one the site signed (by hash), answers what was
/// asked, and every file matches the manifest.
fn verify(dir: &Path, manifest_sha256: &str, asked: &Asked) -> Result<Manifest> {
    inject_fault(dir, asked.site_id)?;
    let received = verify_received(dir, manifest_sha256, &asked.order.site)?;
    received.answers(&asked.order, &asked.outputs)?;
    Ok(received)
}

/// The files received in `dir` (a copy in the center's hands): the manifest has the SHA-256 the
/// site signed, and every file matches the manifest.
pub(super) fn verify_received(dir: &Path, manifest_sha256: &str, label: &str) -> Result<Manifest> {
    let received = signed_manifest(dir, manifest_sha256, label)?;
    received.verify(dir, &duckdb::Connection::open_in_memory()?)?;
    Ok(received)
}

/// The manifest in `dir`, if it is the one whose SHA-256 the site signed.
fn signed_manifest(dir: &Path, manifest_sha256: &str, label: &str) -> Result<Manifest> {
    let manifest_file = dir.join(MANIFEST_FILE);
    let bytes = std::fs::symlink_metadata(&manifest_file).at(&manifest_file)?.len();
    if bytes > MAX_MANIFEST_BYTES {
        return Err(Error::Integrity(format!(
            "site {label}: its manifest has {bytes} bytes, more than the {MAX_MANIFEST_BYTES} a manifest may have; \
             it is not read"
        )));
    }
    let found = crate::digest::sha256_file(&manifest_file)?;
    if found != manifest_sha256 {
        return Err(Error::Integrity(format!(
            "site {label}: its manifest was altered or truncated in transfer (SHA-256 {} where the site signed {}); \
             extract again for this site",
            &found[..12],
            &manifest_sha256[..12.min(manifest_sha256.len())]
        )));
    }
    Manifest::read(dir, label)
}

/// Fault drills for operators and tests (more in `exchange::deliver`): `MIDNET_FAULT=truncate:SITE_ID`
/// truncates the first file of that site's result in transfer, as a broken line would;
/// `alter-manifest:SITE_ID` changes the rows its manifest states. Verification must refuse both.
fn inject_fault(dir: &Path, site_id: &str) -> Result<()> {
    let Ok(fault) = std::env::var("MIDNET_FAULT") else { return Ok(()) };
    let manifest_file = dir.join(MANIFEST_FILE);
    if fault == format!("alter-manifest:{site_id}") {
        let text = std::fs::read_to_string(&manifest_file).at(&manifest_file)?;
        std::fs::write(&manifest_file, text.replacen("\"rows\": ", "\"rows\": 1", 1)).at(&manifest_file)?;
    } else if fault == format!("truncate:{site_id}") {
        let first = std::fs::read_dir(dir)
            .at(dir)?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "parquet"));
        if let Some(path) = first {
            let len = std::fs::metadata(&path).at(&path)?.len();
            let file = std::fs::OpenOptions::new().write(true).open(&path).at(&path)?;
            file.set_len(len / 2).at(&path)?;
        }
    }
    Ok(())
}
