//! A site's integrated data source: a directory holding one DuckDB database with the standardized
//! schema (`sql/schema.sql`). `init` creates it, `load` imports a hospital's files into it
//! (validating every row, quarantining what fails), `check` reports its data quality, `quarantine` lists the rows loads set aside.
//! `run` is the site's half of an extraction (the signed request verified, approval, query,
//! Parquet, the signed answer) and `manifest` what the site sends beside its result; `keys` holds
//! the site's key pair and the data center's pinned key, `log` the site's own hash-chained record:
//! all live here so that a site's agent depends on nothing of the center.
//! `mapping` maps the hospital's local codes to standard ones (the rows waiting for a mapping come
//! in once mapped), `quality` counts how much of the data is standard-coded.
//! `migrate` brings a database of an older schema version to the current one: every command that
//! writes opens the database through [`SiteDir::open`], which migrates it; those that only read
//! refuse it, naming `midnet site migrate`.

pub mod agent;
pub mod approve;
pub mod check;
pub mod clinical;
pub mod decode;
pub mod dpc;
pub mod engine;
pub mod keys;
pub mod link;
pub mod load;
pub mod log;
pub mod manifest;
pub mod mapping;
pub mod masters;
pub mod migrate;
pub mod order;
pub mod quality;
pub mod quarantine;
pub mod receipt;
pub mod run;
pub mod spark;
pub mod ssmix2;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, IoContext, Result};
use crate::sql::duckdb::ident;

/// What [`SiteDir::init`] made.
#[derive(Debug, Clone, Serialize)]
pub struct Created {
    /// The database file.
    pub database: PathBuf,
    /// Every table of the schema, in its order, with its rows: the masters come filled, the
    /// clinical and bookkeeping tables empty.
    pub tables: Vec<TableRows>,
    /// The site's new public key (its private key stays in `keys/site.key`).
    #[serde(skip)]
    pub key: ed25519_dalek::VerifyingKey,
}

#[derive(Debug, Clone, Serialize)]
pub struct TableRows {
    pub table: String,
    pub rows: u64,
}

/// Each table of the database with its rows, in the order the schema creates them.
fn table_rows(conn: &duckdb::Connection) -> Result<Vec<TableRows>> {
    let names: Vec<String> = conn
        .prepare("SELECT table_name FROM duckdb_tables() ORDER BY table_oid")?
        .query_map([], |r| r.get(0))?
        .collect::<std::result::Result<_, _>>()?;
    names
        .into_iter()
        .map(|table| {
            let rows: i64 = conn.query_row(&format!("SELECT count(*) FROM {}", ident(&table)), [], |r| r.get(0))?;
            Ok(TableRows { table, rows: rows as u64 })
        })
        .collect()
}

/// The directory of one site's integrated data source.
#[derive(Debug, Clone)]
pub struct SiteDir {
    root: PathBuf,
}

impl SiteDir {
    const DB_FILE: &'static str = "site.duckdb";

    pub fn at(root: impl Into<PathBuf>) -> SiteDir {
        SiteDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn db_path(&self) -> PathBuf {
        self.root.join(Self::DB_FILE)
    }

    pub fn exists(&self) -> bool {
        self.db_path().is_file()
    }

    /// Create the directory and its database with the schema and the masters.
    pub fn init(&self) -> Result<Created> {
        if self.exists() {
            return Err(Error::BadInput(format!(
                "{}: already a site data source; `midnet site load` adds data to it",
                self.root.display()
            )));
        }
        std::fs::create_dir_all(&self.root).at(&self.root)?;
        // Build under a temporary name so that an interrupted init leaves no half-made database.
        let tmp = self.root.join(format!(".{}.init-{}", Self::DB_FILE, std::process::id()));
        let built = (|| {
            let conn = duckdb::Connection::open(&tmp)?;
            crate::schema::create_site_tables(&conn)?;
            conn.execute_batch("CHECKPOINT")?;
            table_rows(&conn)
        })();
        let tables = built.inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })?;
        std::fs::rename(&tmp, self.db_path()).at(self.db_path())?;
        let (key, _) = keys::ensure(self)?;
        Ok(Created { database: self.db_path(), tables, key })
    }

    /// Open the database for reading and writing, migrated to the current schema version first if
    /// it is older (see `migrate`). A database locked by another process is `Busy`.
    pub fn open(&self) -> Result<duckdb::Connection> {
        Ok(self.open_migrated()?.0)
    }

    /// Open the database for writing and migrate it if it is of an older schema version: the
    /// connection, and the migration if one was made.
    pub fn open_migrated(&self) -> Result<(duckdb::Connection, Option<migrate::Migration>)> {
        self.require()?;
        let conn = duckdb::Connection::open(self.db_path()).map_err(|e| self.open_error(e))?;
        let version = migrate::version_of(&conn)?;
        migrate::refuse_newer(self, &conn, version)?;
        if let Some(spark) = spark::SparkSite::of(self)? {
            spark::migrate_warehouse(&spark)?;
        }
        if version == crate::schema::SCHEMA_VERSION {
            return Ok((conn, None));
        }
        let migration = migrate::migrate(self, conn, version, load::reasons::withhold_stored)?;
        let conn = duckdb::Connection::open(self.db_path()).map_err(|e| self.open_error(e))?;
        Ok((conn, Some(migration)))
    }

    /// Open the database read-only (several readers may share it).
    pub fn open_read_only(&self) -> Result<duckdb::Connection> {
        self.require()?;
        let config = duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly)?;
        let conn = duckdb::Connection::open_with_flags(self.db_path(), config).map_err(|e| self.open_error(e))?;
        self.require_current(conn)
    }

    /// Open read-only with a share of the machine: `threads` DuckDB threads and at most
    /// `memory_limit` (e.g. `"4GB"`), so that sites run side by side never compete for memory.
    pub fn open_read_only_with(&self, threads: usize, memory_limit: &str) -> Result<duckdb::Connection> {
        self.require()?;
        let config = duckdb::Config::default()
            .access_mode(duckdb::AccessMode::ReadOnly)?
            .threads(threads as i64)?
            .max_memory(memory_limit)?;
        let conn = duckdb::Connection::open_with_flags(self.db_path(), config).map_err(|e| self.open_error(e))?;
        self.require_current(conn)
    }

    /// A read-only connection, if its database has the current schema version: an older one is
    /// migrated by a command of the site's (a read never changes the database), a newer one refused.
    fn require_current(&self, conn: duckdb::Connection) -> Result<duckdb::Connection> {
        let version = migrate::version_of(&conn)?;
        migrate::refuse_newer(self, &conn, version)?;
        if version < crate::schema::SCHEMA_VERSION {
            return Err(Error::refused(
                "site_schema",
                format!(
                    "{}: the site database has schema version {version}, older than this midnet's ({}); the site \
                     migrates it in place, keeping every row, with `midnet site migrate --site {}` (a `site load` or \
                     `site approve` does it too)",
                    self.root.display(),
                    crate::schema::SCHEMA_VERSION,
                    self.root.display()
                ),
            ));
        }
        Ok(conn)
    }

    /// Keep the rows that the open transaction of a load on `conn` brought in as `version`, before
    /// it commits: a DuckDB site keeps them where they are; a Spark site writes them to its
    /// warehouse (`spark::publish`).
    pub(crate) fn keep_loaded_rows(&self, conn: &duckdb::Connection, version: Option<i64>) -> Result<()> {
        match version {
            Some(version) => self.keep_changed_rows(conn, version, &[]).map(|_| ()),
            None => Ok(()),
        }
    }

    /// Keep the change that the open transaction on `conn` makes as `version`, before it commits:
    /// the rows it brought into the clinical tables, and the rows of `withdrawals` taken out. A
    /// DuckDB site's transaction has done both in place; a Spark site writes the change to its
    /// warehouse (`spark::publish`). Returns how many rows left the warehouse (0 at a DuckDB site).
    pub(crate) fn keep_changed_rows(
        &self,
        conn: &duckdb::Connection,
        version: i64,
        withdrawals: &[spark::Withdrawal],
    ) -> Result<u64> {
        match spark::SparkSite::of(self)? {
            Some(spark) => spark::publish(&spark, conn, version, withdrawals),
            None => Ok(0),
        }
    }

    /// Refuse `what` (under the rule `rule`) at a Spark site, where it is not built yet
    /// (docs/spark.md): the SS-MIX2 and claims imports write rows and withdrawals in one
    /// transaction of the site's database, which at a Spark site is the catalog, where no reader
    /// looks. `meanwhile` says what the site's staff can do instead.
    pub(crate) fn refuse_at_spark(&self, rule: &'static str, what: &str, meanwhile: &str) -> Result<()> {
        match spark::SparkSite::of(self)? {
            None => Ok(()),
            Some(_) => Err(Error::refused(
                rule,
                format!(
                    "{}: {what} into a Spark site is not built yet (docs/spark.md); {meanwhile}",
                    self.root.display()
                ),
            )),
        }
    }

    pub(crate) fn require(&self) -> Result<()> {
        if self.exists() {
            Ok(())
        } else {
            Err(Error::NotFound(format!(
                "{}: not a site data source (no {}); create it with `midnet site init --site {}`",
                self.root.display(),
                Self::DB_FILE,
                self.root.display()
            )))
        }
    }

    fn open_error(&self, e: duckdb::Error) -> Error {
        let text = e.to_string();
        if text.contains("lock") {
            Error::Busy(format!(
                "{}: the site database is in use by another midnet command; try again when it has finished",
                self.root.display()
            ))
        } else {
            Error::Db(e)
        }
    }
}
