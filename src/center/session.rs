//! Login sessions and running a command as the logged-in user.
//!
//! `midnet login` checks the password, stores the SHA-256 of a fresh random token in the home
//! (`sessions.json`) and the token itself for the invoking OS user in
//! `~/.midnet/sessions/<home-key>` (owner-only); `MIDNET_SESSION=<token>` overrides that file. A
//! session expires `session_minutes` after login (wall-clock time, never `MIDNET_TODAY`).
//!
//! [`as_user`] is the one wrapper every command on the home or a project goes through: it finds
//! the session, runs the command, and appends the audit record with its result (ok, refused with
//! the rule, or error), so refusals are audited too.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::clock::{self, Today};
use super::home::Home;
use super::store;
use super::users::{User, Users};
use crate::audit::{Direction, Entry, FileEvent, Outcome};
use crate::cli::Global;
use crate::error::{Error, IoContext, Result};

pub const SESSION_VAR: &str = "MIDNET_SESSION";

/// One open session, as the home keeps it (never the token itself).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionEntry {
    pub id: String,
    token_sha256: String,
    pub user: String,
    pub opened: DateTime<Utc>,
    pub expires: DateTime<Utc>,
}

/// `sessions.json`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sessions {
    sessions: Vec<SessionEntry>,
}

impl Sessions {
    fn load(home: &Home) -> Result<Sessions> {
        store::read_json(&home.sessions_path())
    }

    fn save(&self, home: &Home) -> Result<()> {
        store::write_json(&home.sessions_path(), self)
    }

    /// Close every session of `user` (when the user is disabled).
    pub(crate) fn close_all_of(home: &Home, user: &str) -> Result<()> {
        let _lock = home.lock_documents()?;
        let mut sessions = Sessions::load(home)?;
        sessions.sessions.retain(|s| s.user != user);
        sessions.save(home)
    }
}

/// The logged-in user acting on a home: who, in which session, on which day.
#[derive(Debug, Clone)]
pub struct Actor {
    home: Home,
    user: User,
    session: String,
    today: Today,
}

impl Actor {
    /// Check `password`, open a session and audit the login (refused logins too). Returns the actor
    /// and the session token, which the caller keeps (the home keeps only its hash).
    pub fn login(home: &Home, user_id: &str, password: &str) -> Result<(Actor, String)> {
        let today = Today::from_env()?;
        let opened = Actor::open_session(home, user_id, password, today);
        let (session, outcome) = match &opened {
            Ok((actor, _)) => (Some(actor.session.as_str()), Outcome::Ok),
            Err(e) => (None, Outcome::of_error(e)),
        };
        audit_as(home, user_id, session, "login", None, outcome)?;
        opened
    }

    fn open_session(home: &Home, user_id: &str, password: &str, today: Today) -> Result<(Actor, String)> {
        let refused = || Error::refused("login", format!("user {user_id:?} or its password is wrong"));
        let users = Users::load(home)?;
        let user = users.get(user_id).map_err(|_| refused())?.clone();
        if !user.password_matches(password) {
            return Err(refused());
        }
        if user.disabled {
            return Err(Error::refused("user_disabled", format!("user {user_id} is disabled; ask a reviewer")));
        }
        let expires = user.password_expires(home.settings());
        if today.date >= expires {
            return Err(Error::refused(
                "password_expired",
                format!(
                    "the password of {user_id} expired on {expires}; set a new one with `midnet user passwd {user_id}`"
                ),
            ));
        }
        let mut token = [0u8; 32];
        rand::fill(&mut token);
        let token = hex::encode(token);
        let mut id = [0u8; 6];
        rand::fill(&mut id);
        let now = clock::now_utc();
        let entry = SessionEntry {
            id: hex::encode(id),
            token_sha256: sha256_hex(&token),
            user: user.id.clone(),
            opened: now,
            expires: now + chrono::Duration::minutes(i64::from(home.settings().session_minutes)),
        };
        let session = entry.id.clone();
        {
            let _lock = home.lock_documents()?;
            let mut sessions = Sessions::load(home)?;
            sessions.sessions.retain(|s| s.expires > now);
            sessions.sessions.push(entry);
            sessions.save(home)?;
        }
        Ok((Actor { home: home.clone(), user, session, today }, token))
    }

    /// The actor of the current session: the token in `MIDNET_SESSION`, or the one `midnet login`
    /// stored for this OS user and home. Refused (rule `login`) when there is none or it expired.
    pub fn current(home: &Home) -> Result<Actor> {
        let token = match std::env::var(SESSION_VAR) {
            Ok(token) => token,
            Err(_) => {
                let file = token_file(home)?;
                match std::fs::read_to_string(&file) {
                    Ok(token) => token,
                    Err(_) => {
                        return Err(Error::refused(
                            "login",
                            format!("not logged in to {}: run `midnet login --user ID` first", home.root().display()),
                        ));
                    }
                }
            }
        };
        let hash = sha256_hex(token.trim());
        let sessions = Sessions::load(home)?;
        let entry = sessions.sessions.iter().find(|s| s.token_sha256 == hash).ok_or_else(|| {
            Error::refused(
                "login",
                "the session is closed (logged out, or the user was disabled); run `midnet login --user ID`",
            )
        })?;
        if clock::now_utc() >= entry.expires {
            return Err(Error::refused(
                "session_expired",
                format!(
                    "the session of {} expired at {}; run `midnet login --user {}`",
                    entry.user,
                    clock::format_utc(&entry.expires),
                    entry.user
                ),
            ));
        }
        let user = Users::load(home)?.get(&entry.user)?.clone();
        if user.disabled {
            return Err(Error::refused("user_disabled", format!("user {} is disabled; ask a reviewer", user.id)));
        }
        Ok(Actor { home: home.clone(), user, session: entry.id.clone(), today: Today::from_env()? })
    }

    /// Run `command` (on `project`, if any) as this user and append its audit record with the result.
    pub fn run<T>(&self, command: &str, project: Option<&str>, f: impl FnOnce(&Actor) -> Result<T>) -> Result<T> {
        let result = f(self);
        let audited = self.audit(command, project, Outcome::of(&result), None);
        match (result, audited) {
            (Ok(value), Ok(())) => Ok(value),
            (Ok(_), Err(audit)) => Err(audit),
            (Err(e), Ok(())) => Err(e),
            (Err(e), Err(audit)) => {
                eprintln!("midnet: the audit record of this command could not be written: {audit}");
                Err(e)
            }
        }
    }

    /// Record a file entering or leaving `project`'s work area: its path (relative to the work
    /// area when inside it) and SHA-256, which the caller computed while writing or verifying it
    /// ([`store::sha256_file`] computes one).
    pub fn record_file(
        &self,
        project: &crate::project::Project,
        path: &Path,
        sha256: &str,
        direction: Direction,
    ) -> Result<()> {
        let root = project.layout().root();
        let shown = path.strip_prefix(root).unwrap_or(path).display().to_string();
        let command = match direction {
            Direction::In => "file in",
            Direction::Out => "file out",
            Direction::Deleted => "file deleted",
        };
        let file = FileEvent { path: shown, sha256: sha256.to_string(), direction };
        self.audit(command, Some(project.id()), Outcome::Ok, Some(file))
    }

    fn audit(&self, command: &str, project: Option<&str>, outcome: Outcome, file: Option<FileEvent>) -> Result<()> {
        self.home.audit().append(Entry {
            user: self.user.id.clone(),
            session: Some(self.session.clone()),
            command: command.to_string(),
            project: project.map(str::to_string),
            args: invocation(),
            outcome,
            file,
            today: self.today.overridden.then_some(self.today.date),
        })?;
        Ok(())
    }

    /// Close this session (logout).
    pub fn close(&self) -> Result<()> {
        let _lock = self.home.lock_documents()?;
        let mut sessions = Sessions::load(&self.home)?;
        sessions.sessions.retain(|s| s.id != self.session);
        sessions.save(&self.home)
    }

    pub fn home(&self) -> &Home {
        &self.home
    }

    pub fn user(&self) -> &User {
        &self.user
    }

    pub fn session(&self) -> &str {
        &self.session
    }

    /// Today's date for the rules (`MIDNET_TODAY` when set).
    pub fn today(&self) -> chrono::NaiveDate {
        self.today.date
    }

    pub fn is_reviewer(&self) -> bool {
        self.user.reviewer
    }

    /// Refuse (rule `role`) unless this user is a reviewer; `action` says what was attempted.
    pub fn require_reviewer(&self, action: &str) -> Result<()> {
        if self.is_reviewer() {
            Ok(())
        } else {
            Err(Error::refused("role", format!("{action} needs the reviewer role; {} is not a reviewer", self.user.id)))
        }
    }
}

/// Run `command` as the logged-in user of the home named by `global`, auditing the result; see
/// the module documentation. A missing or expired session is refused and audited as such.
pub fn as_user<T>(
    global: &Global,
    command: &str,
    project: Option<&str>,
    f: impl FnOnce(&Actor) -> Result<T>,
) -> Result<T> {
    let home = Home::open(global)?;
    match Actor::current(&home) {
        Ok(actor) => actor.run(command, project, f),
        Err(refusal) => {
            audit_as(&home, "-", None, command, project, Outcome::of_error(&refusal))?;
            Err(refusal)
        }
    }
}

/// Append the audit record of a command run without a session (`center init`, `login`, a
/// password change authenticated by the old password, a refusal for want of a session).
pub fn audit_as(
    home: &Home,
    user: &str,
    session: Option<&str>,
    command: &str,
    project: Option<&str>,
    outcome: Outcome,
) -> Result<()> {
    let today = Today::from_env().ok().filter(|t| t.overridden).map(|t| t.date);
    home.audit().append(Entry {
        user: user.to_string(),
        session: session.map(str::to_string),
        command: command.to_string(),
        project: project.map(str::to_string),
        args: invocation(),
        outcome,
        file: None,
        today,
    })?;
    Ok(())
}

/// Where `midnet login` keeps the token of the invoking OS user for `home`.
pub fn token_file(home: &Home) -> Result<PathBuf> {
    let dir = std::env::home_dir().filter(|d| !d.as_os_str().is_empty()).ok_or_else(|| {
        crate::bad_input!("no home directory for the session token: set HOME, or pass the token in {SESSION_VAR}")
    })?;
    let key = &sha256_hex(&home.root().display().to_string())[..16];
    Ok(dir.join(".midnet/sessions").join(key))
}

/// Keep the token of a new session for the invoking OS user (owner-only file).
pub fn store_token(home: &Home, token: &str) -> Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let file = token_file(home)?;
    let dir = file.parent().expect("token file has a parent");
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).at(dir)?;
    let _ = std::fs::remove_file(&file);
    let mut out = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&file).at(&file)?;
    std::io::Write::write_all(&mut out, token.as_bytes()).at(&file)?;
    Ok(file)
}

/// Forget the stored token (after logout).
pub fn forget_token(home: &Home) -> Result<()> {
    let file = token_file(home)?;
    match std::fs::remove_file(&file) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(&file, e)),
    }
}

fn sha256_hex(text: &str) -> String {
    crate::digest::sha256_hex(text.as_bytes())
}

/// The command line as typed, for the audit record (passwords are never on it).
fn invocation() -> Vec<String> {
    std::env::args().skip(1).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::center::{NewUser, Settings};

    /// An unknown user costs what a known one does: one argon2 verification, so that the answer's
    /// timing does not say which user ids exist. (Counted rather than timed: a timed test flakes.)
    #[test]
    fn an_unknown_user_costs_one_password_verification_like_a_known_one() {
        let dir = tempfile::tempdir().unwrap();
        let reviewer = NewUser { id: "rev".into(), name: "Rita".into(), reviewer: true };
        let home = Home::init(&dir.path().join("h"), &Settings::default(), &reviewer, "plum-orbit-kettle-42").unwrap();
        let verifications = |user: &str| {
            super::super::users::VERIFICATIONS.with(|n| n.set(0));
            assert!(Actor::login(&home, user, "wrong-guess-1234").is_err());
            super::super::users::VERIFICATIONS.with(|n| n.get())
        };
        assert_eq!(verifications("rev"), 1);
        assert_eq!(verifications("ghost"), 1, "an unknown user is answered without verifying any hash");
    }
}
