//! One error type for the whole crate, with the exit code each kind maps to.
//!
//! Every message names what is wrong and where (file, line, column, row, project, rule), so that a
//! user can act on it without reading the source. The kinds are coarse on purpose: scripts that
//! drive `midnet` test the exit code, people read the message.

use std::path::{Path, PathBuf};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input (a file, an argument, a script) is wrong; the message says where and how to fix it.
    #[error("{0}")]
    BadInput(String),

    /// A rule of the guideline or of a role refused the command. `rule` names the rule
    /// (e.g. `role`, `usage_period`, `extension_limit`) so that scripts and auditors can tell refusals apart.
    #[error("refused ({rule}): {message}")]
    Refused { rule: &'static str, message: String },

    /// Something named on the command line does not exist.
    #[error("{0}")]
    NotFound(String),

    /// Another `midnet` command holds the lock of this project or site.
    #[error("{0}")]
    Busy(String),

    /// A hash, a seal or a chain does not verify: data were altered, truncated or forged.
    #[error("{0}")]
    Integrity(String),

    /// The command ran and its verdict is negative (a check found problems); the report was printed.
    #[error("{0}")]
    Failed(String),

    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },

    /// Shown through `table::db_error`: once a command has read patient-level data, an error that
    /// may quote a value keeps its class alone.
    #[error("database error: {}", crate::withhold::db_error(.0))]
    Db(#[from] duckdb::Error),

    /// A bug: an invariant of `midnet` itself did not hold.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The process exit code for this error. Documented in README.md ("Exit codes").
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Failed(_) => 1,
            Error::BadInput(_) => 2,
            Error::Refused { .. } => 3,
            Error::NotFound(_) => 4,
            Error::Busy(_) => 5,
            Error::Integrity(_) => 6,
            Error::Io { .. } | Error::Db(_) | Error::Internal(_) => 70,
        }
    }

    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Error {
        Error::Io { path: path.as_ref().to_path_buf(), source }
    }

    pub fn refused(rule: &'static str, message: impl Into<String>) -> Error {
        Error::Refused { rule, message: message.into() }
    }
}

/// `bad_input!("...{}", x)` builds an [`Error::BadInput`] with a formatted message.
#[macro_export]
macro_rules! bad_input {
    ($($arg:tt)*) => { $crate::error::Error::BadInput(format!($($arg)*)) };
}

/// Attach the path of the file being read or written to an I/O error.
pub trait IoContext<T> {
    fn at(self, path: impl AsRef<Path>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: impl AsRef<Path>) -> Result<T> {
        self.map_err(|e| Error::io(path, e))
    }
}
