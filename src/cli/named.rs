//! Files a person names on a command on the home, read with that person's rights before the
//! command takes the service account's (`center::privilege::with_invokers_rights`, called by
//! `cli::main` before `center::privilege::enter`). The service account can read every project of
//! the home and, in local mode, every site: a path given on the command line must never make it
//! read a file for someone who could not read it themselves.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The most a named file may hold: scripts, codelists, registries, anchors and reference tables
/// are small, and reading stops here rather than filling memory.
const LIMIT_BYTES: u64 = 64 * 1024 * 1024;

/// A file named on the command line: its path, and its bytes once `cli::main` has read them.
#[derive(Debug, Clone)]
pub struct NamedFile {
    path: PathBuf,
    bytes: Option<Vec<u8>>,
}

impl NamedFile {
    /// The value parser of a named file's argument (reading comes later, in `cli::main`).
    pub fn parse(text: &str) -> std::result::Result<NamedFile, std::convert::Infallible> {
        Ok(NamedFile { path: PathBuf::from(text), bytes: None })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Read the file with the rights the process has now (`cli::main` calls this with the
    /// person's).
    pub fn read(&mut self) -> Result<()> {
        let file = std::fs::File::open(&self.path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound(format!("{}: no such file", self.path.display())),
            _ => Error::io(&self.path, e),
        })?;
        let mut bytes = Vec::new();
        file.take(LIMIT_BYTES + 1).read_to_end(&mut bytes).map_err(|e| Error::io(&self.path, e))?;
        if bytes.len() as u64 > LIMIT_BYTES {
            return Err(crate::bad_input!(
                "{}: more than {} MiB; the files named on a command on the home (scripts, codelists, registries, \
                 anchors, reference tables) are small",
                self.path.display(),
                LIMIT_BYTES / (1024 * 1024)
            ));
        }
        self.bytes = Some(bytes);
        Ok(())
    }

    /// The bytes read.
    pub fn bytes(&self) -> &[u8] {
        self.bytes.as_deref().expect("cli::main reads every named file before the command runs")
    }
}

/// A script named on the command line: its path, and, once `cli::main` has read them, its text
/// and the codelist files it names.
#[derive(Debug, Clone)]
pub struct NamedScript {
    path: PathBuf,
    bundle: Option<crate::script::Bundle>,
}

impl NamedScript {
    /// The value parser of a script's argument (reading comes later, in `cli::main`).
    pub fn parse(text: &str) -> std::result::Result<NamedScript, std::convert::Infallible> {
        Ok(NamedScript { path: PathBuf::from(text), bundle: None })
    }

    /// Read the script and its codelist files with the rights the process has now.
    pub fn read(&mut self) -> Result<()> {
        self.bundle = Some(crate::script::Bundle::read(&self.path)?);
        Ok(())
    }

    /// The script and its codelist files as read.
    pub fn bundle(&self) -> &crate::script::Bundle {
        self.bundle.as_ref().expect("cli::main reads every named script before the command runs")
    }
}

/// A site registry named on the command line (`center sites add`): its path, and, once
/// `cli::main` has read them, its entries with their paths checked and their key files read.
#[derive(Debug, Clone)]
pub struct NamedRegistry {
    path: PathBuf,
    registry: Option<crate::center::sites::SiteRegistry>,
}

impl NamedRegistry {
    /// The value parser of a registry's argument (reading comes later, in `cli::main`).
    pub fn parse(text: &str) -> std::result::Result<NamedRegistry, std::convert::Infallible> {
        Ok(NamedRegistry { path: PathBuf::from(text), registry: None })
    }

    /// Read the registry and the key files it names with the rights the process has now.
    pub fn read(&mut self) -> Result<()> {
        self.registry = Some(crate::center::sites::SiteRegistry::read_toml(&self.path)?);
        Ok(())
    }

    /// The registry as read.
    pub fn registry(&self) -> &crate::center::sites::SiteRegistry {
        self.registry.as_ref().expect("cli::main reads every named registry before the command runs")
    }
}
