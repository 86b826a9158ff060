//! The data center's home directory: where each of its documents lives, and its settings. The
//! documents themselves are their modules' (`center init` creates them all: [`super::init`]).
//!
//! ```text
//! HOME/                     owner-only (0700): the service account's
//!   center.toml             settings (password policy, session length, a simulated clock); marks an initialised home
//!   clock.json              the date of a simulated clock (homes for tests and the demo only)
//!   users.json              users, argon2 password hashes, password history
//!   sessions.json           open sessions (SHA-256 of each token, never the token)
//!   sites.json              the site registry: ids, hospital names and aliases, paths
//!   projects/ID.json        each project's registry entry (incl. its site pseudonyms)
//!   areas/ID/               each project's work area (see `project::Layout`)
//!   audit/log.jsonl         the audit trail, one hash-chained record per line
//!   seal/key, seal/head.json  the HMAC key and the sealed head of the chain, kept apart from the log
//!   keys/center.key, center.pub  the center's Ed25519 signing key (0600) and its public key (`center::keys`)
//!   network/requests/ID.json  each work request sent to a site, signed, and the site's signed answer
//!   locks/                  advisory locks (home documents, the audit log, each project)
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::store::FileLock;

pub const SETTINGS_FILE: &str = "center.toml";

/// The center's settings, fixed at `center init` and kept in `center.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Minimum password length, in characters.
    pub password_min_length: usize,
    /// A password expires this many days after it was set.
    pub password_expiry_days: u32,
    /// A session expires this many minutes after login.
    pub session_minutes: u32,
    /// The date a simulated clock started at: set only on homes for tests and the demo, which
    /// take their dates from `clock.json` instead of the system clock ([`super::today`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulated_clock: Option<chrono::NaiveDate>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings { password_min_length: 12, password_expiry_days: 90, session_minutes: 480, simulated_clock: None }
    }
}

/// An initialised home.
#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
    settings: Settings,
}

impl Home {
    /// The home at `root`, which `center init` must have created.
    pub fn at(root: &Path) -> Result<Home> {
        let settings_path = root.join(SETTINGS_FILE);
        if !settings_path.is_file() {
            return Err(Error::NotFound(format!(
                "{}: not a midnet home (no {SETTINGS_FILE}); create one with `midnet center init --home {}`",
                root.display(),
                root.display()
            )));
        }
        let text = std::fs::read_to_string(&settings_path).at(&settings_path)?;
        let settings =
            toml::from_str(&text).map_err(|e| crate::bad_input!("{}: {}", settings_path.display(), e.message()))?;
        let root = std::path::absolute(root).at(root)?;
        Ok(Home { root, settings })
    }

    /// The home being built in `dir` by [`super::init`], before it is renamed into place.
    pub(super) fn being_built(dir: &Path, settings: &Settings) -> Home {
        Home { root: dir.to_path_buf(), settings: settings.clone() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub(crate) fn users_path(&self) -> PathBuf {
        self.root.join("users.json")
    }

    pub(crate) fn clock_path(&self) -> PathBuf {
        self.root.join("clock.json")
    }

    pub(crate) fn sessions_path(&self) -> PathBuf {
        self.root.join("sessions.json")
    }

    pub(crate) fn sites_path(&self) -> PathBuf {
        self.root.join("sites.json")
    }

    /// The directory of the projects' registry entries.
    pub(crate) fn projects_dir(&self) -> PathBuf {
        self.root.join("projects")
    }

    /// The directory holding every project's work area.
    pub(crate) fn areas_dir(&self) -> PathBuf {
        self.root.join("areas")
    }

    pub(crate) fn locks_dir(&self) -> PathBuf {
        self.root.join("locks")
    }

    /// The audit log of this home.
    pub fn audit(&self) -> crate::audit::Log {
        crate::audit::Log::at(&self.root)
    }

    /// Serialise read-modify-write cycles on the home's documents (users, sessions, sites,
    /// project entries). Held briefly; never while waiting for anything else.
    pub(crate) fn lock_documents(&self) -> Result<FileLock> {
        FileLock::wait(&self.locks_dir().join("documents.lock"))
    }
}
