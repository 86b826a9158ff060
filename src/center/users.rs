//! Users of the data center, their argon2 password hashes and the password policy.
//!
//! Passwords are stored only as argon2id PHC strings (salted, slow): no administrator can read one
//! back. The policy: at least `password_min_length` characters, not containing the user id, not
//! one of the user's last 5 passwords, and expiring `password_expiry_days` after it was set.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::home::{Home, Settings};
use super::store::{self, require_identifier};
use crate::error::{Error, Result};

/// How many past passwords (the current one included) a new password may not repeat.
const HISTORY: usize = 5;

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

    /// The day the current password expires (it is refused from that day on).
    pub fn password_expires(&self, settings: &Settings) -> NaiveDate {
        self.password_set + chrono::Days::new(u64::from(settings.password_expiry_days))
    }

    fn set_password(&mut self, settings: &Settings, password: &str, today: NaiveDate) -> Result<()> {
        check_policy(settings, &self.id, password, &self.password_hashes)?;
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
/// expired, when the user cannot log in).
pub fn change_password(home: &Home, id: &str, current: &str, new: &str, today: NaiveDate) -> Result<()> {
    let _lock = home.lock_documents()?;
    let mut users = Users::load(home)?;
    let refused = || Error::refused("login", format!("user {id:?} or its current password is wrong"));
    let user = users.get(id).map_err(|_| refused())?;
    if !user.password_matches(current) {
        return Err(refused());
    }
    if user.disabled {
        return Err(Error::refused("user_disabled", format!("user {id} is disabled; ask a reviewer")));
    }
    users.set_password(home.settings(), id, new, today)?;
    users.save(home)
}

/// Refuse a password the policy forbids (rule `password_policy`). `history` holds the hashes of the
/// user's recent passwords, the current one first.
pub fn check_policy(settings: &Settings, user_id: &str, password: &str, history: &[String]) -> Result<()> {
    let refuse = |why: String| Err(Error::refused("password_policy", format!("password for {user_id}: {why}")));
    if password.chars().count() < settings.password_min_length {
        return refuse(format!("use at least {} characters", settings.password_min_length));
    }
    if password.to_lowercase().contains(&user_id.to_lowercase()) {
        return refuse("it contains the user id; choose one that does not".to_string());
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
        assert_eq!(rule(check_policy(&settings, "alice", "short", &[])), "password_policy");
        assert_eq!(rule(check_policy(&settings, "alice", "xxALICE-secret", &[])), "password_policy");
        let old = hash("correct horse battery").unwrap();
        assert_eq!(rule(check_policy(&settings, "alice", "correct horse battery", &[old])), "password_policy");
        assert!(check_policy(&settings, "alice", "correct horse staple", &[]).is_ok());
    }

    #[test]
    fn history_keeps_the_last_five() {
        let settings = Settings { password_min_length: 4, ..Settings::default() };
        let day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let mut users = Users::default();
        let new = NewUser { id: "bob".into(), name: "Bob".into(), reviewer: false };
        users.add(&settings, &new, "pass-0", day).unwrap();
        for i in 1..=5 {
            users.set_password(&settings, "bob", &format!("pass-{i}"), day).unwrap();
        }
        // pass-0 is now the sixth most recent: allowed again; pass-1 is not.
        assert!(users.set_password(&settings, "bob", "pass-1", day).is_err());
        users.set_password(&settings, "bob", "pass-0", day).unwrap();
        assert!(users.get("bob").unwrap().password_matches("pass-0"));
    }
}
