//! Users of the data center, their argon2 password hashes, the password policy, and checking a
//! password ([`authenticate`]): throttled, then locked, after failed attempts.
//!
//! Passwords are stored only as argon2id PHC strings (salted, slow): no administrator can read one
//! back. The policy: at least `password_min_length` characters, not containing the user id, not
//! one of the user's last 5 passwords, hard to guess by the zxcvbn estimate (score 3 of 4 or
//! more), and expiring `password_expiry_days` after it was set.
//!
//! Failed attempts on a user (wall-clock time, also on a simulated home): from the second in a row,
//! the next attempt waits 1, 2, 4 s; the fifth locks the account for 15 minutes, each later lock
//! (until a successful login) twice as long as the one before, at most 24 hours. A reviewer
//! unlocks it at once (`user unlock`). The lock of a reviewer whom no other reviewer could unlock
//! (none is active and unlocked) always lasts 15 minutes: a lockout never shuts the center out of
//! its last reviewer for good. An unknown user id costs one argon2 verification like a known one.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::home::{Home, Settings};
use crate::error::{Error, Result};
use crate::store::{self, require_identifier};

/// How many past passwords (the current one included) a new password may not repeat.
const HISTORY: usize = 5;
/// The lowest zxcvbn score (0-4) a new password may have: 3 is "safely unguessable" online.
const MIN_SCORE: zxcvbn::Score = zxcvbn::Score::Three;
/// From this many failed attempts in a row, the next one waits (1 s, then twice as long each time).
const THROTTLE_FROM: u32 = 2;
/// This many failed attempts in a row lock the account.
const LOCK_AFTER: u32 = 5;
/// The first lock's length; each later one (until a successful login) is twice as long.
const FIRST_LOCK_MINUTES: i64 = 15;
const MAX_LOCK_MINUTES: i64 = 24 * 60;
/// An argon2id hash (default parameters, as [`hash`] makes) of a random password nobody knows: an
/// unknown user id is verified against it, so that it answers as slowly as a known one.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$m/Pd19RWLV2oMWQezYpjtA$X8EMODwCzKzF84iu0TrQ8GOg92a6OmcWSoEq0ZDtATc";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub id: String,
    pub name: String,
    /// Holds the center-wide reviewer role (the operator: provisions projects, reviews exports).
    pub reviewer: bool,
    pub disabled: bool,
    pub created: NaiveDate,
    pub password_set: NaiveDate,
    /// The current hash first, then up to `HISTORY - 1` earlier ones.
    password_hashes: Vec<String>,
    /// Failed password attempts in a row (reset by a successful one and by `user unlock`).
    #[serde(default)]
    pub failed_logins: u32,
    /// No attempt is accepted before this time (after repeated failures).
    #[serde(default)]
    pub throttled_until: Option<DateTime<Utc>>,
    /// Locked until this time, or until a reviewer unlocks the account.
    #[serde(default)]
    pub locked_until: Option<DateTime<Utc>>,
    /// Locks since the last successful login: each lasts twice as long as the one before.
    #[serde(default)]
    pub lockouts: u32,
}

/// What `user add` and `center init` are given.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: String,
    pub name: String,
    pub reviewer: bool,
}

impl User {
    /// Whether `password` is this user's current password.
    pub fn password_matches(&self, password: &str) -> bool {
        self.password_hashes.first().is_some_and(|hash| verify(hash, password))
    }

    /// Whether the account is locked at `now`.
    pub fn is_locked(&self, now: DateTime<Utc>) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }

    /// The day the current password expires (it is refused from that day on).
    pub fn password_expires(&self, settings: &Settings) -> NaiveDate {
        self.password_set + chrono::Days::new(u64::from(settings.password_expiry_days))
    }

    fn set_password(&mut self, settings: &Settings, password: &str, today: NaiveDate) -> Result<()> {
        check_policy(settings, &self.id, &self.name, password, &self.password_hashes)?;
        self.password_hashes.insert(0, hash(password)?);
        self.password_hashes.truncate(HISTORY);
        self.password_set = today;
        Ok(())
    }
}

/// The user registry (`users.json`).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Users {
    users: Vec<User>,
}

impl Users {
    pub fn load(home: &Home) -> Result<Users> {
        store::read_json(&home.users_path())
    }

    pub fn save(&self, home: &Home) -> Result<()> {
        store::write_json(&home.users_path(), self)
    }

    /// The registry of a new home: its first reviewer alone.
    pub(crate) fn first(home: &Home, reviewer: &NewUser, password: &str, today: NaiveDate) -> Result<Users> {
        let mut users = Users::default();
        users.add(home.settings(), reviewer, password, today)?;
        Ok(users)
    }

    pub fn get(&self, id: &str) -> Result<&User> {
        self.users
            .iter()
            .find(|u| u.id == id)
            .ok_or_else(|| Error::NotFound(format!("no user {id:?} in this home; `midnet user list` shows the users")))
    }

    fn get_mut(&mut self, id: &str) -> Result<&mut User> {
        self.get(id)?;
        Ok(self.users.iter_mut().find(|u| u.id == id).expect("found above"))
    }

    pub fn all(&self) -> &[User] {
        &self.users
    }

    pub fn add(&mut self, settings: &Settings, new: &NewUser, password: &str, today: NaiveDate) -> Result<()> {
        require_identifier("user id", &new.id)?;
        if new.name.trim().is_empty() {
            return Err(crate::bad_input!("user {}: give the person's name with --name", new.id));
        }
        if self.users.iter().any(|u| u.id == new.id) {
            return Err(crate::bad_input!("user {} already exists; `midnet user passwd` changes a password", new.id));
        }
        let mut user = User {
            id: new.id.clone(),
            name: new.name.trim().to_string(),
            reviewer: new.reviewer,
            disabled: false,
            created: today,
            password_set: today,
            password_hashes: Vec::new(),
            failed_logins: 0,
            throttled_until: None,
            locked_until: None,
            lockouts: 0,
        };
        user.set_password(settings, password, today)?;
        self.users.push(user);
        Ok(())
    }

    pub fn disable(&mut self, id: &str) -> Result<()> {
        self.get_mut(id)?.disabled = true;
        Ok(())
    }

    pub fn set_password(&mut self, settings: &Settings, id: &str, password: &str, today: NaiveDate) -> Result<()> {
        self.get_mut(id)?.set_password(settings, password, today)
    }
}

/// Add a user (reviewer) with an initial password.
pub fn create(actor: &super::Actor, new: &NewUser, password: &str) -> Result<()> {
    actor.require_reviewer("adding users")?;
    let home = actor.home();
    let _lock = home.lock_documents()?;
    let mut users = Users::load(home)?;
    users.add(home.settings(), new, password, actor.today())?;
    users.save(home)
}

/// Change `id`'s password, authenticated by the current one (so it works after the password
/// expired, when the user cannot log in); throttled and locked like a login.
pub fn change_password(home: &Home, id: &str, current: &str, new: &str, today: NaiveDate) -> Result<()> {
    authenticate(home, id, current)?;
    let _lock = home.lock_documents()?;
    let mut users = Users::load(home)?;
    users.set_password(home.settings(), id, new, today)?;
    users.save(home)
}

/// Check `password` for user `id` and return the user; see the module documentation for the
/// throttling and locks. Refused (rules `login`, `login_throttled`, `login_locked`,
/// `user_disabled`). An unknown id and a known one do the same work: one argon2 verification.
pub fn authenticate(home: &Home, id: &str, password: &str) -> Result<User> {
    let _lock = home.lock_documents()?;
    let mut users = Users::load(home)?;
    let known = users.get(id).ok().cloned();
    let hash = known.as_ref().and_then(|u| u.password_hashes.first()).map_or(DUMMY_HASH, String::as_str);
    let matches = verify(hash, password);
    let wrong = || Error::refused("login", format!("user {id:?} or its password is wrong"));
    let Some(user) = known else {
        // Written back unchanged: a known user's failed attempt writes the document too.
        users.save(home)?;
        return Err(wrong());
    };
    let now = crate::clock::now_utc();
    if let Some(until) = user.locked_until.filter(|until| *until > now) {
        return Err(locked(id, until));
    }
    let throttled = user.throttled_until.filter(|until| *until > now);
    if matches && throttled.is_none() {
        if user.failed_logins > 0 || user.lockouts > 0 {
            let entry = users.get_mut(id)?;
            (entry.failed_logins, entry.lockouts, entry.throttled_until, entry.locked_until) = (0, 0, None, None);
            users.save(home)?;
        }
        if user.disabled {
            return Err(Error::refused("user_disabled", format!("user {id} is disabled; ask a reviewer")));
        }
        return Ok(user);
    }
    let refusal = users.record_failure(id, now, throttled)?;
    users.save(home)?;
    Err(refusal.unwrap_or_else(wrong))
}

fn locked(id: &str, until: DateTime<Utc>) -> Error {
    Error::refused(
        "login_locked",
        format!(
            "{id} is locked after {LOCK_AFTER} failed logins in a row, until {}; a reviewer can unlock it now \
             (`midnet user unlock {id}`)",
            crate::clock::format_utc(&until)
        ),
    )
}

impl Users {
    /// Count a failed attempt on `id` (one made while throttled counts too) and throttle or lock
    /// the account. Returns the refusal to give when it is not the plain `login` one.
    fn record_failure(
        &mut self,
        id: &str,
        now: DateTime<Utc>,
        throttled: Option<DateTime<Utc>>,
    ) -> Result<Option<Error>> {
        let rescuers =
            self.users.iter().filter(|u| u.reviewer && !u.disabled && u.id != id && !u.is_locked(now)).count();
        let user = self.get_mut(id)?;
        user.failed_logins += 1;
        if user.failed_logins >= LOCK_AFTER {
            let minutes = if user.reviewer && rescuers == 0 {
                FIRST_LOCK_MINUTES
            } else {
                (FIRST_LOCK_MINUTES << user.lockouts.min(10)).min(MAX_LOCK_MINUTES)
            };
            let until = now + chrono::Duration::minutes(minutes);
            (user.failed_logins, user.lockouts, user.throttled_until, user.locked_until) =
                (0, user.lockouts + 1, None, Some(until));
            return Ok(Some(locked(id, until)));
        }
        if user.failed_logins >= THROTTLE_FROM {
            user.throttled_until = Some(now + chrono::Duration::seconds(1 << (user.failed_logins - THROTTLE_FROM)));
        }
        Ok(throttled.map(|until| {
            Error::refused(
                "login_throttled",
                format!(
                    "{} failed logins in a row for {id}: no attempt is accepted before {}; this one was not",
                    user.failed_logins - 1,
                    crate::clock::format_utc(&until)
                ),
            )
        }))
    }

    /// Lift the lock and the throttle on `id` (a reviewer's `user unlock`); later locks still
    /// grow until the user logs in.
    pub fn unlock(&mut self, id: &str) -> Result<()> {
        let user = self.get_mut(id)?;
        (user.failed_logins, user.throttled_until, user.locked_until) = (0, None, None);
        Ok(())
    }
}

/// Refuse a password the policy forbids (rule `password_policy`). `history` holds the hashes of the
/// user's recent passwords, the current one first; `name` is the person's, which a guesser tries.
pub fn check_policy(settings: &Settings, user_id: &str, name: &str, password: &str, history: &[String]) -> Result<()> {
    let refuse = |why: String| Err(Error::refused("password_policy", format!("password for {user_id}: {why}")));
    if password.chars().count() < settings.password_min_length {
        return refuse(format!("use at least {} characters", settings.password_min_length));
    }
    if password.to_lowercase().contains(&user_id.to_lowercase()) {
        return refuse("it contains the user id; choose one that does not".to_string());
    }
    let mut known_to_guessers = vec![user_id];
    known_to_guessers.extend(name.split_whitespace());
    let estimate = zxcvbn::zxcvbn(password, &known_to_guessers);
    if estimate.score() < MIN_SCORE {
        let why = estimate.feedback().and_then(|f| f.warning()).map(|w| format!(" ({w})")).unwrap_or_default();
        return refuse(format!(
            "it is too easy to guess{why}: about 10^{:.0} guesses would find it. Use a longer passphrase of \
             unrelated words, e.g. four random words with a digit",
            estimate.guesses_log10()
        ));
    }
    if history.iter().take(HISTORY).any(|hash| verify(hash, password)) {
        return refuse(format!("it is one of the last {HISTORY} passwords of this user; choose a new one"));
    }
    Ok(())
}

fn hash(password: &str) -> Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("hashing a password: {e}")))
}

fn verify(hash: &str, password: &str) -> bool {
    #[cfg(test)]
    VERIFICATIONS.with(|n| n.set(n.get() + 1));
    Argon2::default().verify_password(password.as_bytes(), hash).is_ok()
}

#[cfg(test)]
thread_local! {
    /// How many argon2 verifications this thread has run (tests count the work a login does).
    pub(crate) static VERIFICATIONS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Read a password: prompted on a terminal, otherwise one line of standard input.
pub fn read_password(prompt: &str) -> Result<String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password(prompt).map_err(|e| crate::bad_input!("reading the password: {e}"));
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| crate::bad_input!("reading the password from standard input: {e}"))?;
    let password = line.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        return Err(crate::bad_input!("no password on standard input ({})", prompt.trim_end_matches([':', ' '])));
    }
    Ok(password)
}

/// Read a new password: on a terminal, asked twice and compared; otherwise one line of standard input.
pub fn read_new_password(prompt: &str) -> Result<String> {
    use std::io::IsTerminal;
    let password = read_password(prompt)?;
    if std::io::stdin().is_terminal() && read_password("again: ")? != password {
        return Err(crate::bad_input!("the two passwords differ; nothing was changed"));
    }
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_refuses_short_id_and_reused_passwords() {
        let settings = Settings { password_min_length: 10, ..Settings::default() };
        let rule = |r: Result<()>| match r {
            Err(Error::Refused { rule, .. }) => rule,
            other => panic!("expected a refusal, got {other:?}"),
        };
        let check =
            |password: &str, history: &[String]| check_policy(&settings, "alice", "Alice Liddell", password, history);
        assert_eq!(rule(check("short", &[])), "password_policy");
        assert_eq!(rule(check("xxALICE-secret", &[])), "password_policy");
        assert_eq!(rule(check("            ", &[])), "password_policy");
        assert_eq!(rule(check("liddell-1234", &[])), "password_policy");
        let old = hash("correct horse battery").unwrap();
        assert_eq!(rule(check("correct horse battery", &[old])), "password_policy");
        assert!(check("correct horse staple", &[]).is_ok());
    }

    #[test]
    fn history_keeps_the_last_five() {
        let settings = Settings::default();
        let day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let mut users = Users::default();
        let new = NewUser { id: "bob".into(), name: "Bob".into(), reviewer: false };
        let password = |i: usize| format!("plum-orbit-kettle-{i}");
        users.add(&settings, &new, &password(0), day).unwrap();
        for i in 1..=5 {
            users.set_password(&settings, "bob", &password(i), day).unwrap();
        }
        // The first is now the sixth most recent: allowed again; the second is not.
        assert!(users.set_password(&settings, "bob", &password(1), day).is_err());
        users.set_password(&settings, "bob", &password(0), day).unwrap();
        assert!(users.get("bob").unwrap().password_matches(&password(0)));
    }

    /// The dummy hash costs what a real one does: the same algorithm and parameters.
    #[test]
    fn the_dummy_hash_has_the_parameters_of_real_ones() {
        let real = hash("plum-orbit-kettle-42").unwrap();
        let (real, dummy) = (argon2::PasswordHash::new(&real).unwrap(), argon2::PasswordHash::new(DUMMY_HASH).unwrap());
        assert_eq!(real.algorithm.to_string(), dummy.algorithm.to_string());
        assert_eq!(real.version, dummy.version);
        assert_eq!(real.params.to_string(), dummy.params.to_string());
        assert_eq!(real.hash.map(|h| h.len()), dummy.hash.map(|h| h.len()));
    }
}
