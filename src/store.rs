//! How midnet keeps its state on disk: files replaced atomically (temporary name, fsync, rename),
//! small JSON documents, private files and directories, and advisory file locks (`flock`) that
//! serialise the commands touching the same document or project.
//!
//! Everything under the data center's home is owner-only: a command on the home makes every file
//! and directory it creates private ([`create_private_from_now_on`], a umask of 077, so DuckDB's
//! files and the audit log too), the home's JSON documents are written 0600 whatever the umask,
//! and the one copy that leaves the home for a person ([`hand_over`]) gets the mode their umask
//! gives.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::OnceLock;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, IoContext, Result};

/// Read a JSON document of the home. A document that does not parse was damaged outside `midnet`.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).at(path)?;
    serde_json::from_str(&text).map_err(|e| {
        Error::Integrity(format!(
            "{}: not a valid midnet document ({e}); it was changed outside midnet, restore it from a backup",
            path.display()
        ))
    })
}

/// Replace a JSON document of the home atomically (temporary name, fsync, rename), owner-only: the
/// home's documents are users, sessions, project records, requests and the audit head.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::Internal(format!("serialising {}: {e}", path.display())))?;
    write_private_atomically(path, format!("{text}\n").as_bytes())
}

/// An exclusive advisory lock on a file, released when dropped (the file is closed).
///
/// A lock file may be removed by its holder (a settled request's, by the serve's housekeeping):
/// a process that opened it before and waited then holds a lock on a file no longer at the path,
/// while a third locks the new file made there. So a lock taken counts only if its file is still
/// the one at the path; otherwise the path is opened and locked again.
#[derive(Debug)]
pub struct FileLock {
    file: File,
}

impl FileLock {
    /// Wait for the lock. For short critical sections (a read-modify-write of one document).
    pub fn wait(path: &Path) -> Result<FileLock> {
        loop {
            let file = open_lock_file(path)?;
            file.lock().at(path)?;
            if still_at(&file, path)? {
                return Ok(FileLock { file });
            }
        }
    }

    /// Take the lock if it is free; otherwise `Error::Busy` with `busy(holder)`, where `holder` is
    /// what the current holder wrote with [`FileLock::describe`].
    pub fn try_take(path: &Path, busy: impl FnOnce(&str) -> String) -> Result<FileLock> {
        loop {
            let mut file = open_lock_file(path)?;
            match file.try_lock() {
                Ok(()) if still_at(&file, path)? => return Ok(FileLock { file }),
                Ok(()) => continue,
                Err(TryLockError::WouldBlock) => {
                    let mut holder = String::new();
                    let _ = file.read_to_string(&mut holder);
                    return Err(Error::Busy(busy(holder.trim())));
                }
                Err(TryLockError::Error(e)) => return Err(Error::io(path, e)),
            }
        }
    }

    /// Say who holds the lock (shown to a command that finds it busy).
    pub fn describe(&mut self, holder: &str) {
        let file = &mut self.file;
        let _ = file.set_len(0).and_then(|_| file.rewind()).and_then(|_| file.write_all(holder.as_bytes()));
    }
}

/// Whether `file` is the file at `path` now (not removed, nor replaced, since it was opened).
fn still_at(file: &File, path: &Path) -> Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let held = file.metadata().at(path)?;
    match std::fs::metadata(path) {
        Ok(now) => Ok((now.dev(), now.ino()) == (held.dev(), held.ino())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(path, e)),
    }
}

fn open_lock_file(path: &Path) -> Result<File> {
    OpenOptions::new().create(true).truncate(false).read(true).write(true).open(path).at(path)
}

/// Create a directory readable by its owner alone.
pub fn create_private_dir(path: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().mode(0o700).create(path).at(path)
}

/// Write a file readable by its owner alone (a key), failing if it exists.
pub fn write_private_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).mode(PRIVATE_FILE).open(path).at(path)?;
    file.write_all(bytes).at(path)?;
    file.sync_all().at(path)
}

/// The umask the process started with, kept when it made what it creates private.
static STARTING_UMASK: OnceLock<u32> = OnceLock::new();

/// From now on, every file and directory this process creates is owner-only (umask 077): called
/// once where a command on the home starts (`cli::main`), so that users, sessions, the audit log,
/// work areas, DuckDB's files and exports are private however they are written.
pub fn create_private_from_now_on() {
    // SAFETY: umask swaps the process's file-creation mask and cannot fail.
    let started_with = unsafe { libc::umask(0o077) };
    let _ = STARTING_UMASK.set(started_with as u32);
}

/// Give a copy written out of the home for a person (`export fetch --to`) the mode their umask
/// gives a new file, instead of the owner-only mode it was copied with.
pub fn hand_over(path: &Path) -> Result<()> {
    let umask = STARTING_UMASK.get().copied().unwrap_or_else(current_umask);
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666 & !umask)).at(path)
}

fn current_umask() -> u32 {
    // SAFETY: umask swaps the process's file-creation mask; the second call puts it back.
    let mask = unsafe { libc::umask(0o077) };
    unsafe { libc::umask(mask) };
    mask as u32
}

/// Whether `name` is a safe identifier for a user, project, site or request: it becomes a file name.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && name.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && !name.contains("..")
}

/// Refuse a name that is not an identifier, saying what `what` (e.g. "project id") may contain.
pub fn require_identifier(what: &str, name: &str) -> Result<()> {
    if is_identifier(name) {
        Ok(())
    } else {
        Err(crate::bad_input!(
            "{what} {name:?} is not valid: use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit"
        ))
    }
}

/// Write a file under a temporary name in the same directory, flush it to disk, and rename it.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomically_with(path, |out| out.write_all(bytes)).at(path)
}

/// As [`write_atomically`], readable by its owner alone whatever the umask (0600).
pub fn write_private_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    write_with_mode(path, PRIVATE_FILE, |out| out.write_all(bytes)).at(path)
}

/// As [`write_atomically`], for content too large to hold in memory: `fill` streams it into a
/// buffered writer on the temporary file.
pub fn write_atomically_with(
    path: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    write_with_mode(path, 0o666, fill)
}

/// The mode of a private file.
const PRIVATE_FILE: u32 = 0o600;

/// The atomic write, creating the temporary file with `mode` (less the umask).
fn write_with_mode(
    path: &Path,
    mode: u32,
    fill: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let tmp = temporary_beside(path);
    let file = OpenOptions::new().write(true).create(true).truncate(true).mode(mode).open(&tmp)?;
    let mut out = std::io::BufWriter::new(file);
    fill(&mut out)?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// The temporary name a file is written under before it is renamed into place.
pub fn temporary_beside(path: &Path) -> std::path::PathBuf {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    dir.join(format!(".{name}.tmp-{}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_waited_for_on_a_file_its_holder_removed_is_taken_on_the_file_at_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("request.lock");
        let first = FileLock::wait(&path).unwrap();
        let waiter = {
            let path = path.clone();
            std::thread::spawn(move || FileLock::wait(&path).unwrap())
        };
        // The waiter has opened the file and waits on it; the holder removes it and lets go.
        std::thread::sleep(std::time::Duration::from_millis(300));
        std::fs::remove_file(&path).unwrap();
        drop(first);
        let second = waiter.join().unwrap();
        let third = FileLock::try_take(&path, |_| "busy".to_string());
        assert!(matches!(third, Err(Error::Busy(_))), "two processes held the lock at once: {third:?}");
        drop(second);
        assert!(FileLock::try_take(&path, |_| "busy".to_string()).is_ok());
    }

    #[test]
    fn identifiers() {
        assert!(is_identifier("p-2026.01_a"));
        assert!(!is_identifier(""));
        assert!(!is_identifier("../x"));
        assert!(!is_identifier(".hidden"));
        assert!(!is_identifier("a/b"));
        assert!(!is_identifier("a..b"));
        assert!(!is_identifier(&"a".repeat(65)));
    }
}
