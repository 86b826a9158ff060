//! The warehouse of a Spark site: the clinical tables as Parquet files, one per table and data
//! version (`data/v000007/lab_result.parquet`), and `current.json`, the manifest that lists them,
//! replaced by one rename.
//!
//! A load ([`publish`], inside the catalog's transaction) writes its rows as new files, replaces
//! the manifest with one that also names them, and only then commits the catalog. Readers take the
//! files of the manifest whose data version the catalog has committed ([`create_views`]), so a kill
//! at any moment leaves the old version or the new one: before the rename, the new files are named
//! by no manifest; after it, the catalog has not committed their version and readers skip them. The
//! next load sweeps both away before it writes.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::SparkSite;
use crate::error::{Error, IoContext, Result};
use crate::schema::{CLINICAL_TABLES, SCHEMA_VERSION};
use crate::site::clinical::Database;
use crate::spark::{Session, ident};
use crate::sql::duckdb::{ident as duck_ident, string};

const MANIFEST: &str = "current.json";
const FORMAT: &str = "midnet-warehouse/1";
const DATA: &str = "data";

/// `current.json`: the files of the site's clinical tables.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Current {
    format: String,
    /// The schema version of the files' columns (`crate::schema::SCHEMA_VERSION` when written).
    schema_version: i64,
    files: Vec<TableFile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TableFile {
    table: String,
    /// Relative to the warehouse.
    file: String,
    /// The data version whose rows the file holds (0: the empty file of each table, which gives
    /// Spark the table's columns before any load).
    data_version: i64,
    rows: i64,
    bytes: u64,
    sha256: String,
}

impl Current {
    fn read(warehouse: &Path) -> Result<Current> {
        let path = warehouse.join(MANIFEST);
        let current: Current = crate::store::read_json(&path)?;
        if current.format != FORMAT {
            return Err(Error::Integrity(format!("{}: format {:?}, not {FORMAT}", path.display(), current.format)));
        }
        if current.schema_version != SCHEMA_VERSION {
            return Err(Error::refused(
                "site_schema",
                format!(
                    "{}: the warehouse's files have schema version {}, this midnet's is {SCHEMA_VERSION}; migrating a \
                     Spark site's warehouse is not built yet (docs/spark.md)",
                    path.display(),
                    current.schema_version
                ),
            ));
        }
        Ok(current)
    }

    fn write(&self, warehouse: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).expect("the manifest serialises");
        crate::store::write_atomically(&warehouse.join(MANIFEST), format!("{text}\n").as_bytes())
    }

    /// The manifest without the files of versions after `version` (which the catalog never committed).
    fn up_to(mut self, version: i64) -> Current {
        self.files.retain(|f| f.data_version <= version);
        self
    }
}

/// Make the warehouse of a new site: each clinical table as an empty file (data version 0) and the
/// manifest naming them.
pub(super) fn create_empty(warehouse: &Path) -> Result<()> {
    let conn = duckdb::Connection::open_in_memory()?;
    conn.execute_batch(crate::schema::SCHEMA_SQL)?;
    let files = write_version(&conn, warehouse, 0, |table| format!("SELECT * FROM {} LIMIT 0", duck_ident(table)))?;
    Current { format: FORMAT.to_string(), schema_version: SCHEMA_VERSION, files }.write(warehouse)
}

/// Publish the rows the open transaction of a load on `conn` (the catalog) brought in as data
/// version `version`: write them as Parquet, remove them from the catalog's clinical tables (the
/// `patient` table stays, for the next loads' validation), and swap in the manifest that names the
/// new files. The caller commits the catalog next; until then readers do not see the new version.
pub fn publish(spark: &SparkSite, conn: &duckdb::Connection, version: i64) -> Result<()> {
    let warehouse = &spark.warehouse;
    let kept = Current::read(warehouse)?.up_to(version - 1);
    sweep(warehouse, &kept)?;
    let rows_of_this_load = |table: &str| {
        format!(
            "SELECT * FROM {} WHERE load_file_id IN (SELECT load_file_id FROM load_file WHERE data_version = {version})",
            duck_ident(table)
        )
    };
    let (written, empty): (Vec<TableFile>, Vec<TableFile>) =
        write_version(conn, warehouse, version, rows_of_this_load)?.into_iter().partition(|f| f.rows > 0);
    for file in empty {
        let path = warehouse.join(&file.file);
        std::fs::remove_file(&path).at(&path)?;
    }
    crate::crash::point("spark-files-written");
    for table in CLINICAL_TABLES.iter().filter(|t| **t != "patient") {
        conn.execute_batch(&format!("DELETE FROM {}", duck_ident(table)))?;
    }
    let current = Current { files: kept.files.into_iter().chain(written).collect(), ..kept };
    record_quality(conn, warehouse, &current, version)?;
    current.write(warehouse)?;
    crate::crash::point("spark-manifest-swapped");
    Ok(())
}

/// Record in the catalog's `quality_history` the counts of `version` over the warehouse's files of
/// `current`. The load recorded them from the catalog's clinical tables, which hold only this
/// load's rows at a Spark site (each load moves its own out), so those counts are replaced. DuckDB
/// counts the files: a load does not need the Spark server.
fn record_quality(conn: &duckdb::Connection, warehouse: &Path, current: &Current, version: i64) -> Result<()> {
    let files = duckdb::Connection::open_in_memory()?;
    for table in CLINICAL_TABLES {
        let paths: Vec<String> = current
            .files
            .iter()
            .filter(|f| f.table == table)
            .map(|f| string(&warehouse.join(&f.file).display().to_string()))
            .collect();
        files.execute_batch(&format!(
            "CREATE VIEW {} AS SELECT * FROM read_parquet([{}])",
            duck_ident(table),
            paths.join(", ")
        ))?;
    }
    conn.execute("DELETE FROM quality_history WHERE data_version = ?", [version])?;
    crate::site::quality::record_counted(conn, version, &mut Database(&files))
}

/// Write each clinical table's rows of `version` (the SELECT `rows` gives for it) as one Parquet
/// file, flushed to disk.
fn write_version(
    conn: &duckdb::Connection,
    warehouse: &Path,
    version: i64,
    rows: impl Fn(&str) -> String,
) -> Result<Vec<TableFile>> {
    let relative_dir = PathBuf::from(DATA).join(format!("v{version:06}"));
    let dir = warehouse.join(&relative_dir);
    std::fs::create_dir_all(&dir).at(&dir)?;
    let mut files = Vec::new();
    for table in CLINICAL_TABLES {
        let relative = relative_dir.join(format!("{table}.parquet"));
        let path = warehouse.join(&relative);
        let copy = format!(
            "COPY ({}) TO {} (FORMAT parquet, COMPRESSION zstd)",
            rows(table),
            string(&path.display().to_string())
        );
        let written = conn.execute(&copy, [])? as i64;
        std::fs::File::open(&path).and_then(|f| f.sync_all()).at(&path)?;
        files.push(TableFile {
            table: table.to_string(),
            file: relative.display().to_string(),
            data_version: version,
            rows: written,
            bytes: std::fs::metadata(&path).at(&path)?.len(),
            sha256: crate::digest::sha256_file(&path)?,
        });
    }
    std::fs::File::open(&dir).and_then(|d| d.sync_all()).at(&dir)?;
    Ok(files)
}

/// Remove what no file of `kept` is: the files of a load killed before its commit, and scratch
/// directories a killed command left.
fn sweep(warehouse: &Path, kept: &Current) -> Result<()> {
    let named: Vec<PathBuf> = kept.files.iter().map(|f| warehouse.join(&f.file)).collect();
    let data = warehouse.join(DATA);
    for version_dir in std::fs::read_dir(&data).at(&data)? {
        let version_dir = version_dir.at(&data)?.path();
        for file in std::fs::read_dir(&version_dir).at(&version_dir)? {
            let file = file.at(&version_dir)?.path();
            if !named.contains(&file) {
                std::fs::remove_file(&file).at(&file)?;
            }
        }
        if std::fs::read_dir(&version_dir).at(&version_dir)?.next().is_none() {
            std::fs::remove_dir(&version_dir).at(&version_dir)?;
        }
    }
    let scratch = warehouse.join("scratch");
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch).at(&scratch)?;
    }
    Ok(())
}

/// In `session`, one temporary view per clinical table over its files of data versions up to
/// `version` (the catalog's). A file that is missing or of another size than the manifest says is
/// an integrity error naming it (files are not hashed again here: a query reads them whole).
pub(super) fn create_views(session: &mut Session, warehouse: &Path, version: i64) -> Result<()> {
    let current = Current::read(warehouse)?.up_to(version);
    for table in CLINICAL_TABLES {
        let mut reads = Vec::new();
        for file in current.files.iter().filter(|f| f.table == table) {
            let path = warehouse.join(&file.file);
            let bytes = std::fs::metadata(&path).map(|m| m.len()).ok();
            if bytes != Some(file.bytes) {
                return Err(Error::Integrity(format!(
                    "{}: the warehouse's manifest names it with {} bytes, but it {}: the site's data were changed \
                     outside midnet",
                    path.display(),
                    file.bytes,
                    bytes.map_or("is missing".to_string(), |b| format!("has {b}"))
                )));
            }
            reads.push(format!("SELECT * FROM parquet.{}", ident(&path.display().to_string())));
        }
        session.sql(&format!(
            "CREATE OR REPLACE TEMPORARY VIEW {} AS\n{}",
            ident(table),
            reads.join("\nUNION ALL\n")
        ))?;
    }
    Ok(())
}
