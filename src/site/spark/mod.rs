//! A site whose clinical data live in Spark (docs/spark.md): `site init --engine spark --connect
//! sc://127.0.0.1:PORT --warehouse DIR`.
//!
//! The site directory is the same as a DuckDB site's (keys, log, `site.duckdb`), plus `site.toml`,
//! which says the engine, the Spark Connect server and the warehouse. `site.duckdb` is the site's
//! catalog: it keeps what a DuckDB site keeps besides its clinical rows (masters, load files and
//! data versions, the quarantine, approvals, the schema version) and the `patient` table, which
//! every load's validation reads (known patients, duplicates). The clinical rows themselves live in
//! the warehouse as Parquet (`warehouse`): a load writes them there and leaves none of the other
//! clinical tables in the catalog.
//!
//! What a session on the site sees is the catalog's data version: every Spark query of the site
//! (`site check`, the extraction) reads the tables through temporary views over the files of that
//! version, so a load in progress, or one killed half-way, is never seen.

mod check;
mod extract;
mod server;
mod warehouse;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::SiteDir;
use crate::bad_input;
use crate::error::{Error, IoContext, Result};
use crate::spark::{Address, Session};

pub use check::check;
pub use extract::SparkRun;
pub use warehouse::{Withdrawal, migrate as migrate_warehouse, publish};

/// What `site.toml` of a Spark site says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SparkSite {
    /// Always `spark` (a DuckDB site has no `site.toml`).
    pub engine: String,
    /// The Spark Connect server, on loopback (`sc://127.0.0.1:PORT`).
    pub connect: String,
    /// The absolute path of the warehouse directory, which the Spark server reads and writes.
    pub warehouse: PathBuf,
}

const CONFIG_FILE: &str = "site.toml";
const ENGINE: &str = "spark";

impl SparkSite {
    /// The Spark site `site` is, or None for a DuckDB site (no `site.toml`).
    pub fn of(site: &SiteDir) -> Result<Option<SparkSite>> {
        let path = site.root().join(CONFIG_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, e)),
        };
        let spark: SparkSite = toml::from_str(&text).map_err(|e| {
            Error::Integrity(format!("{}: not a site configuration midnet wrote ({e}); restore it", path.display()))
        })?;
        if spark.engine != ENGINE {
            return Err(Error::Integrity(format!(
                "{}: engine = {:?}; midnet knows only \"spark\" there (a DuckDB site has no site.toml)",
                path.display(),
                spark.engine
            )));
        }
        Address::parse(&spark.connect)?;
        Ok(Some(spark))
    }

    /// A new session on the site's Spark Connect server, with a temporary view per clinical table
    /// over the files of the catalog's data version `version` (None: nothing loaded yet).
    pub fn session(&self, version: Option<i64>) -> Result<Session> {
        let mut session = server::connect(&self.connect)?;
        warehouse::create_views(&mut session, &self.warehouse, version.unwrap_or(0))?;
        Ok(session)
    }

    /// A directory of the warehouse for one command's intermediate files (a step staged as
    /// Parquet), which the Spark server can write: removed when the value is dropped.
    fn scratch(&self) -> Result<Scratch> {
        let mut bytes = [0u8; 8];
        rand::fill(&mut bytes);
        let dir = self.warehouse.join("scratch").join(hex::encode(bytes));
        std::fs::create_dir_all(&dir).at(&dir)?;
        Ok(Scratch(dir))
    }
}

/// A scratch directory, removed with its content when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        // Left behind only if removing fails; the next `site load` sweeps the scratch directory.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Create a Spark site at `site`: check the server's address (loopback only) and that the server
/// answers with a bounded memory page (`server`), make the warehouse (a new or empty directory) with an empty data version, write
/// `site.toml`, then the catalog and keys as `SiteDir::init` makes a DuckDB site's.
pub fn init(site: &SiteDir, connect: &str, warehouse: &Path) -> Result<super::Created> {
    if site.exists() {
        return site.init();
    }
    Address::parse(connect)?;
    let warehouse = std::path::absolute(warehouse).at(warehouse)?;
    let root = std::path::absolute(site.root()).at(site.root())?;
    if warehouse.starts_with(&root) || root.starts_with(&warehouse) {
        return Err(bad_input!(
            "--warehouse {}: the warehouse and the site directory {} must not lie inside each other (the Spark \
             cluster reads the warehouse; the site directory holds the site's keys)",
            warehouse.display(),
            root.display()
        ));
    }
    server::connect(connect)?;
    claim_empty(&warehouse)?;
    let spark = SparkSite { engine: ENGINE.to_string(), connect: connect.to_string(), warehouse };
    warehouse::create_empty(&spark.warehouse)?;
    std::fs::create_dir_all(site.root()).at(site.root())?;
    let text = format!(
        "# This site's clinical tables live in Spark (docs/spark.md); written by `midnet site init`.\n{}",
        toml::to_string(&spark).map_err(|e| Error::Internal(format!("writing site.toml: {e}")))?
    );
    let config = site.root().join(CONFIG_FILE);
    crate::store::write_atomically(&config, text.as_bytes())?;
    // A site.toml without its database would make a later `site init` of a DuckDB site a Spark one.
    site.init().inspect_err(|_| {
        let _ = std::fs::remove_file(&config);
    })
}

/// A warehouse directory must be new or empty: midnet never writes among other files.
fn claim_empty(dir: &Path) -> Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => match entries.next() {
            None => Ok(()),
            Some(_) => Err(bad_input!(
                "--warehouse {}: the directory is not empty; give a new or empty directory (midnet keeps the \
                 site's tables there and never writes among other files)",
                dir.display()
            )),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir_all(dir).at(dir),
        Err(e) => Err(Error::io(dir, e)),
    }
}

/// A Spark error as the site passes it on: once values are withheld, only its class (`[CLASS]`)
/// unless it is about the statement's text, since the first line of Spark's message may quote a
/// value it could not cast.
fn withheld(e: Error) -> Error {
    match e {
        Error::Failed(message) if crate::withhold::values_withheld() => {
            let class = message.split_once('[').and_then(|(_, rest)| rest.split_once(']')).map(|(class, _)| class);
            match class {
                Some(c) if c.starts_with("PARSE_") || c.starts_with("UNRESOLVED_") => Error::Failed(message),
                Some(c) => Error::Failed(format!(
                    "Spark refused it: [{c}] (its message is withheld: it may quote a value of the data)"
                )),
                None => Error::Failed(
                    "Spark refused it (its message is withheld: it may quote a value of the data)".to_string(),
                ),
            }
        }
        other => other,
    }
}
