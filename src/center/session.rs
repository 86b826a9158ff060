//! Login sessions and running a command as the logged-in user.
//!
//! A session belongs to the person who opened it: `midnet login` checks the password
//! ([`users::authenticate`]: throttled, then locked) and keeps, in the home's `sessions.json`, the
//! SHA-256 of a fresh random token and the OS user who logged in (the [`Invoker`]: `SUDO_UID` under
//! sudo, else the real uid). It prints the token; the home never stores it. A command finds its
//! session by the token in `MIDNET_SESSION` when that is set (set but empty: no session), else as
//! the latest open session of its OS user, provided that OS user's open sessions are all one
//! person's. Either way the session must have been opened by the same OS user: a session never
//! serves another OS user, whatever `HOME` or token they have. A session expires `session_minutes`
//! after login, in wall-clock time (also on a home with a simulated clock).
//!
//! [`as_user`] is the one wrapper every command on the home or a project goes through: it finds
//! the session, runs the command, and appends the audit record with its result (ok, refused with
//! the rule, or error), so refusals are audited too.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::home::Home;
use super::privilege::{Invoker, invoker};
use super::today::Today;
use super::users::{self, User, Users};
use crate::audit::{Direction, Entry, FileEvent, Outcome};
use crate::clock;
use crate::error::{Error, Result};
use crate::store;

pub const SESSION_VAR: &str = "MIDNET_SESSION";

/// One open session, as the home keeps it (never the token itself).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionEntry {
    pub id: String,
    token_sha256: String,
    pub user: String,
    /// The OS user who logged in; the session serves no other. Sessions opened by versions that
    /// did not record it serve nobody: their users log in again.
    #[serde(default = "no_os_user")]
    pub os_uid: u32,
    pub opened: DateTime<Utc>,
    pub expires: DateTime<Utc>,
}

/// `(uid_t) -1`, which no OS user has.
fn no_os_user() -> u32 {
    u32::MAX
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

    /// The session whose token is `token`, opened by `invoker`'s OS user.
    fn by_token(&self, home: &Home, token: &str, invoker: Invoker) -> Result<&SessionEntry> {
        if token.is_empty() {
            return Err(not_logged_in(home, invoker));
        }
        let hash = sha256_hex(token);
        let entry = self.sessions.iter().find(|s| s.token_sha256 == hash).ok_or_else(|| {
            Error::refused(
                "login",
                "the session is closed (logged out, or the user was disabled); run `midnet login --user ID`",
            )
        })?;
        if entry.os_uid != invoker.uid {
            return Err(Error::refused(
                "login",
                format!(
                    "session {} was opened by another OS user; a session serves only the person who logged in: \
                     run `midnet login --user ID` yourself",
                    entry.id
                ),
            ));
        }
        Ok(entry)
    }

    /// The latest session opened by `invoker`'s OS user, when that OS user's open sessions are
    /// all one person's (an OS account shared by several people must name its session).
    fn latest_of(&self, home: &Home, invoker: Invoker) -> Result<&SessionEntry> {
        let now = clock::now_utc();
        let own: Vec<&SessionEntry> = self.sessions.iter().filter(|s| s.os_uid == invoker.uid).collect();
        let mut people: Vec<&str> = own.iter().filter(|s| s.expires > now).map(|s| s.user.as_str()).collect();
        people.sort_unstable();
        people.dedup();
        if people.len() > 1 {
            return Err(Error::refused(
                "login",
                format!(
                    "OS user {} has open sessions of several users ({}); say which is yours with \
                     {SESSION_VAR}=<the token `midnet login` printed>",
                    invoker.uid,
                    people.join(", ")
                ),
            ));
        }
        own.into_iter().max_by_key(|s| s.opened).ok_or_else(|| not_logged_in(home, invoker))
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
    /// Check `password`, open a session for the invoking OS user and audit the login (refused
    /// logins too). Returns the actor and the session token, which the caller keeps (the home
    /// keeps only its hash).
    pub fn login(home: &Home, user_id: &str, password: &str) -> Result<(Actor, String)> {
        let invoker = invoker()?;
        let opened = Actor::open_session(home, user_id, password, invoker);
        let (session, outcome) = match &opened {
            Ok((actor, _)) => (Some(actor.session.as_str()), Outcome::Ok),
            // Who tried: the OS user behind a run of failed attempts is in the audit trail.
            Err(Error::Refused { rule, message }) => {
                let message = format!("{message} [attempt by OS user {}]", invoker.uid);
                (None, Outcome::Refused { rule: rule.to_string(), message })
            }
            Err(e) => (None, Outcome::of_error(e)),
        };
        audit_as(home, user_id, session, "login", None, outcome)?;
        opened
    }

    fn open_session(home: &Home, user_id: &str, password: &str, invoker: Invoker) -> Result<(Actor, String)> {
        let user = users::authenticate(home, user_id, password)?;
        let today = Today::of(home)?;
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
            os_uid: invoker.uid,
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

    /// The actor of the current session (see the module documentation). Refused (rule `login`)
    /// when there is none, or it belongs to another OS user; `session_expired` when it expired.
    pub fn current(home: &Home) -> Result<Actor> {
        let invoker = invoker()?;
        let sessions = Sessions::load(home)?;
        let entry = match std::env::var(SESSION_VAR) {
            Ok(token) => sessions.by_token(home, token.trim(), invoker)?,
            Err(_) => sessions.latest_of(home, invoker)?,
        };
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
        Ok(Actor { home: home.clone(), user, session: entry.id.clone(), today: Today::of(home)? })
    }

    /// Run `command` (on `project`, if any) as this user and append its audit record with the result.
    /// A command that could not be recorded does not run: an audit trail that cannot take a record
    /// (its head or key gone, or altered) refuses every command before it changes anything.
    pub fn run<T>(&self, command: &str, project: Option<&str>, f: impl FnOnce(&Actor) -> Result<T>) -> Result<T> {
        self.home.audit().ready()?;
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

    /// Record a file entering or leaving the work area of project `project` (rooted at `root`): its
    /// path (relative to the work area when inside it) and SHA-256, which the caller computed while
    /// writing or verifying it ([`crate::digest::sha256_file`] computes one).
    pub fn record_file(
        &self,
        project: &str,
        root: &Path,
        path: &Path,
        sha256: &str,
        direction: Direction,
    ) -> Result<()> {
        let shown = path.strip_prefix(root).unwrap_or(path).display().to_string();
        let command = format!("file {}", direction.name());
        let file = FileEvent { path: shown, sha256: sha256.to_string(), direction };
        self.audit(&command, Some(project), Outcome::Ok, Some(file))
    }

    /// Append an audit record of something that happened within this user's command (a key made at
    /// first need, a site's answer refused), beside the command's own record.
    pub fn record(&self, command: &str, project: Option<&str>, outcome: Outcome) -> Result<()> {
        self.audit(command, project, outcome, None)
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
            today: self.today.audited(),
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

    /// Today's date for the rules: the system's, or the home's simulated clock's.
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

/// Run `command` as the logged-in user of `home`, auditing the result; see the module
/// documentation. A missing or expired session is refused and audited as such.
pub fn as_user<T>(home: &Home, command: &str, project: Option<&str>, f: impl FnOnce(&Actor) -> Result<T>) -> Result<T> {
    match Actor::current(home) {
        Ok(actor) => actor.run(command, project, f),
        Err(refusal) => {
            audit_as(home, "-", None, command, project, Outcome::of_error(&refusal))?;
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
    let today = Today::of(home)?.audited();
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

fn not_logged_in(home: &Home, invoker: Invoker) -> Error {
    Error::refused(
        "login",
        format!(
            "not logged in to {} (as OS user {}): run `midnet login --user ID` first",
            home.root().display(),
            invoker.uid
        ),
    )
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
        let home =
            crate::center::create_home(&dir.path().join("h"), &Settings::default(), &reviewer, "plum-orbit-kettle-42")
                .unwrap();
        let verifications = |user: &str| {
            super::super::users::VERIFICATIONS.with(|n| n.set(0));
            assert!(Actor::login(&home, user, "wrong-guess-1234").is_err());
            super::super::users::VERIFICATIONS.with(|n| n.get())
        };
        assert_eq!(verifications("rev"), 1);
        assert_eq!(verifications("ghost"), 1, "an unknown user is answered without verifying any hash");
    }
}
