//! Who a command runs for, and with whose rights: decided once, before the command opens any path.
//!
//! The deployment (docs/projects.md): a sudo rule lets people run `midnet` as root, and `midnet`
//! leaves root for good before it touches a file:
//! - a command on a home (one that needs a login) switches to the home's owner, the service
//!   account, after resolving the home's path with the rights of the person who named it and
//!   checking that nobody else could swap the directory under it; from then on it uses the
//!   resolved path, so a symbolic link changed later leads nowhere;
//! - a command without a login switches to the person who invoked sudo (`SUDO_UID`, `SUDO_GID`,
//!   supplementary groups cleared), so it reads and writes only what that person could anyway.
//!
//! Run through sudo as an account that is not root (`sudo -u midnet midnet …`), `midnet` cannot
//! switch: a command on a home runs as that account, a command without a login is refused. Outside
//! sudo it runs as whoever runs it. The session of a command is bound to the [`Invoker`].

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::error::{Error, Result};

/// The OS user a command is run for: the person behind sudo (`SUDO_UID`/`SUDO_GID`, which sudo
/// sets itself), or whoever runs `midnet`. Fixed at start-up, before any switch of user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invoker {
    pub uid: u32,
    pub gid: u32,
    pub via_sudo: bool,
}

static INVOKER: OnceLock<Invoker> = OnceLock::new();

/// The invoking OS user of this process.
pub fn invoker() -> Result<Invoker> {
    if let Some(invoker) = INVOKER.get() {
        return Ok(*invoker);
    }
    let invoker = Invoker::from_process()?;
    Ok(*INVOKER.get_or_init(|| invoker))
}

impl Invoker {
    fn from_process() -> Result<Invoker> {
        let id = |var: &str| -> Result<Option<u32>> {
            match std::env::var(var) {
                Ok(text) => text.parse().map(Some).map_err(|_| {
                    crate::bad_input!("{var}={text:?} is not a numeric id (sudo sets it; do not set it by hand)")
                }),
                Err(_) => Ok(None),
            }
        };
        match (id("SUDO_UID")?, id("SUDO_GID")?) {
            (Some(uid), Some(gid)) => Ok(Invoker { uid, gid, via_sudo: true }),
            (None, None) => {
                // SAFETY: getuid and getgid have no preconditions and cannot fail.
                let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
                Ok(Invoker { uid, gid, via_sudo: false })
            }
            _ => Err(crate::bad_input!("SUDO_UID and SUDO_GID come together (sudo sets both); one is missing")),
        }
    }
}

/// What a command needs, which decides whose rights it runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A command on the home or a project: it checks a login and is audited.
    OnHome,
    /// A command that needs no login (synth, site commands, script tools, statistics on files,
    /// `center init`, the demo).
    WithoutLogin,
}

/// Take the rights `class` runs with; see the module documentation. `home` is the home named by
/// `--home` or `MIDNET_HOME`. Returns the home's resolved path when it was resolved (as root): the
/// command must use it instead of the name it was given.
pub fn enter(class: Class, home: Option<&Path>) -> Result<Option<PathBuf>> {
    let invoker = invoker()?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let as_root = unsafe { libc::geteuid() } == 0;
    match class {
        Class::WithoutLogin if as_root && invoker.via_sudo && invoker.uid != 0 => {
            become_user(invoker.uid, invoker.gid)?;
            Ok(None)
        }
        Class::WithoutLogin => {
            require_running_as(invoker)?;
            Ok(None)
        }
        Class::OnHome => match home {
            Some(home) if as_root => serve_home(home, invoker).map(Some),
            // No home named: the command stops at that; until then it has the person's rights.
            None if as_root && invoker.via_sudo && invoker.uid != 0 => {
                become_user(invoker.uid, invoker.gid).map(|()| None)
            }
            _ => Ok(None),
        },
    }
}

/// Run `f` with the rights of the person who invoked `midnet`, before [`enter`] gives a command on
/// the home the service account's: the files a person names on such a command (a script and its
/// codelists, a file to import, an anchor) are read this way, so that the service account, which
/// can read every project of the home and, in local mode, every site, never reads a file for
/// someone who could not. As root through sudo for another person, the effective ids are theirs
/// while `f` runs (supplementary groups cleared); otherwise `midnet` already runs as the person.
pub fn with_invokers_rights<T>(f: impl FnOnce() -> T) -> Result<T> {
    let invoker = invoker()?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let as_root = unsafe { libc::geteuid() } == 0;
    if as_root && invoker.via_sudo && invoker.uid != 0 { as_person(invoker, f) } else { Ok(f()) }
}

/// Refuse a command without a login that runs through sudo as another account than the person's.
fn require_running_as(invoker: Invoker) -> Result<()> {
    // SAFETY: these getters have no preconditions and cannot fail.
    let (uid, euid, gid, egid) = unsafe { (libc::getuid(), libc::geteuid(), libc::getgid(), libc::getegid()) };
    if !invoker.via_sudo || (uid, euid, gid, egid) == (invoker.uid, invoker.uid, invoker.gid, invoker.gid) {
        return Ok(());
    }
    Err(Error::refused(
        "privilege",
        format!(
            "this command needs no login and works with the rights of the person who runs it, but it runs through \
             sudo as uid {euid} for uid {} (SUDO_UID), and uid {euid} cannot switch to uid {}: it would read and \
             write with the rights of another account. Run it without sudo, or have the administrator install the \
             sudo rule of docs/projects.md, which runs midnet as root so that it can switch (an administrator \
             creating a home as the service account clears SUDO_UID and SUDO_GID: `env -u SUDO_UID -u SUDO_GID midnet …`)",
            invoker.uid, invoker.uid
        ),
    ))
}

/// As root: resolve the home with the rights of the person who named it, check that only root or
/// its owner controls the directories above it, and switch to its owner for good.
fn serve_home(home: &Path, invoker: Invoker) -> Result<PathBuf> {
    let resolved = if invoker.via_sudo { as_person(invoker, || resolve_home(home))? } else { resolve_home(home) };
    let (path, owner, group) = resolved?;
    if owner == 0 {
        if invoker.via_sudo {
            return Err(Error::refused(
                "privilege",
                format!(
                    "{} belongs to root; through sudo, midnet serves only a home owned by a service account \
                     (create it as that account, or `chown -R` it to one)",
                    path.display()
                ),
            ));
        }
        return Ok(path);
    }
    become_user(owner, group)?;
    Ok(path)
}

/// Run `f` with the effective ids of `invoker` (supplementary groups cleared), then return to root.
fn as_person<T>(invoker: Invoker, f: impl FnOnce() -> T) -> Result<T> {
    // SAFETY: plain system calls on integers, made before the command starts any thread.
    let switched = unsafe {
        libc::setgroups(0, std::ptr::null()) == 0 && libc::setegid(invoker.gid) == 0 && libc::seteuid(invoker.uid) == 0
    };
    if !switched {
        return Err(os_error(&format!("taking the rights of uid {} gid {}", invoker.uid, invoker.gid)));
    }
    let value = f();
    // SAFETY: as above; the real and saved ids are still root's.
    if unsafe { libc::seteuid(0) != 0 || libc::setegid(0) != 0 } {
        return Err(os_error("returning to root after resolving the home"));
    }
    Ok(value)
}

/// The home's canonical path and its owner's uid and gid. Refused (rule `privilege`) when anyone
/// but root and the owner could replace it: the home or a directory above it is owned by another
/// user, or writable by others (a sticky directory such as /tmp excepted).
fn resolve_home(home: &Path) -> Result<(PathBuf, u32, u32)> {
    let path = std::fs::canonicalize(home).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::NotFound(format!(
            "{}: not a midnet home (no such directory); create one with `midnet center init --home {}`",
            home.display(),
            home.display()
        )),
        _ => Error::io(home, e),
    })?;
    let meta = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
    let untrusted = |dir: &Path, why: String| {
        Error::refused(
            "privilege",
            format!(
                "{}: {} {why}, so another user could put another directory in the home's place; keep a home under \
                 directories that only root and the service account can change",
                path.display(),
                dir.display()
            ),
        )
    };
    if meta.mode() & 0o022 != 0 {
        return Err(untrusted(&path, "is writable by group or others".into()));
    }
    for dir in path.ancestors().skip(1) {
        let above = std::fs::metadata(dir).map_err(|e| Error::io(dir, e))?;
        if above.uid() != 0 && above.uid() != meta.uid() {
            return Err(untrusted(dir, format!("belongs to uid {}", above.uid())));
        }
        if above.mode() & 0o022 != 0 && above.mode() & 0o1000 == 0 {
            return Err(untrusted(dir, "is writable by group or others".into()));
        }
    }
    Ok((path, meta.uid(), meta.gid()))
}

/// Switch for good to `uid` and `gid` with no supplementary groups, and check that root cannot be
/// regained.
fn become_user(uid: u32, gid: u32) -> Result<()> {
    // SAFETY: plain system calls on integers, made before the command starts any thread.
    let switched = unsafe {
        libc::setgroups(0, std::ptr::null()) == 0
            && libc::setresgid(gid, gid, gid) == 0
            && libc::setresuid(uid, uid, uid) == 0
    };
    if !switched {
        return Err(os_error(&format!("switching to uid {uid} gid {gid}")));
    }
    // SAFETY: as above.
    if unsafe { libc::setuid(0) } == 0 {
        return Err(Error::Internal(format!("after switching to uid {uid}, root could be regained")));
    }
    Ok(())
}

fn os_error(what: &str) -> Error {
    Error::Internal(format!("{what}: {}", std::io::Error::last_os_error()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_home_under_a_directory_others_can_write_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let open = dir.path().join("open");
        let home = open.join("home");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
        let (path, ..) = resolve_home(&home).unwrap();
        assert_eq!(path, std::fs::canonicalize(&home).unwrap());
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let refused = resolve_home(&home).unwrap_err().to_string();
        assert!(
            refused.contains("refused (privilege)") && refused.contains("writable by group or others"),
            "{refused}"
        );
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
        assert!(resolve_home(&home).is_ok(), "a sticky directory keeps others from renaming the home");
    }
}
