//! The warehouse of a Spark site: the clinical tables as Parquet files, one per table and data
//! version (`data/v000007/lab_result.parquet`), and `current.json`, the manifest that lists them,
//! replaced by one rename.
//!
//! A change of the data (a load, a mapping: [`publish`], inside the catalog's transaction) writes
//! its rows as new files, replaces the manifest with one that also names them, and only then commits
//! the catalog. Files never change: a change that takes rows out of a table (a mapping that moves
//! rows to another code) writes the table's remaining rows and its new ones as one new file, and the
//! manifest marks the table's earlier files replaced from that version on. Readers take the files of
//! the manifest that make up the data version the catalog has committed ([`create_views`]), so a
//! kill at any moment leaves the old version or the new one: before the rename, the new files are
//! named by no manifest; after it, the catalog has not committed their version, so readers skip them
//! and still read the files they replace. The next change sweeps away both the uncommitted files and
//! the replaced ones before it writes (no reader is left: every reader holds the catalog open, which
//! a change cannot open meanwhile).

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
    /// The data version from which the file's rows are no longer the table's (a file of that
    /// version holds the ones that stay); None while they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    replaced_in: Option<i64>,
    rows: i64,
    bytes: u64,
    sha256: String,
}

/// Rows a change takes out of a clinical table of the warehouse: those of `table` for which the
/// SQL condition `condition` holds, over the table's columns with the row as `t`, on the catalog's
/// connection (so it may read the change's temporary tables).
#[derive(Debug, Clone)]
pub struct Withdrawal {
    pub table: &'static str,
    pub condition: String,
}

impl Current {
    /// The manifest, of this midnet's schema version: an older one is migrated by a command that
    /// writes to the site ([`migrate`]), a newer one refused.
    fn read(warehouse: &Path) -> Result<Current> {
        let current = Current::read_any_version(warehouse)?;
        let path = warehouse.join(MANIFEST);
        let version = current.schema_version;
        match version {
            SCHEMA_VERSION => Ok(current),
            older if older < SCHEMA_VERSION => Err(Error::refused(
                "site_schema",
                format!(
                    "{}: the warehouse's files have schema version {older}, older than this midnet's \
                     ({SCHEMA_VERSION}); the site migrates them with `midnet site migrate` (a `site load` does it too)",
                    path.display()
                ),
            )),
            newer => Err(newer_refused(&path, newer)),
        }
    }

    fn read_any_version(warehouse: &Path) -> Result<Current> {
        let path = warehouse.join(MANIFEST);
        let current: Current = crate::store::read_json(&path)?;
        if current.format != FORMAT {
            return Err(Error::Integrity(format!("{}: format {:?}, not {FORMAT}", path.display(), current.format)));
        }
        Ok(current)
    }

    fn write(&self, warehouse: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).expect("the manifest serialises");
        crate::store::write_atomically(&warehouse.join(MANIFEST), format!("{text}\n").as_bytes())
    }

    /// The manifest of data version `version`: the files that make it up, without the files of
    /// later versions (which the catalog never committed, or which are not its data yet), those
    /// replaced by `version`, and any replacement after it.
    fn up_to(mut self, version: i64) -> Current {
        self.files.retain(|f| f.data_version <= version && f.replaced_in.is_none_or(|r| r > version));
        for file in &mut self.files {
            file.replaced_in = None;
        }
        self
    }

    /// The files of `table`, as paths DuckDB reads.
    fn paths_of(&self, warehouse: &Path, table: &str) -> Vec<String> {
        self.files
            .iter()
            .filter(|f| f.table == table)
            .map(|f| string(&warehouse.join(&f.file).display().to_string()))
            .collect()
    }
}

fn newer_refused(manifest: &Path, version: i64) -> Error {
    Error::refused(
        "site_schema",
        format!(
            "{}: the warehouse's files have schema version {version}, newer than this midnet's ({SCHEMA_VERSION}, \
             midnet {}); use that midnet or a later one: nothing was changed",
            manifest.display(),
            env!("CARGO_PKG_VERSION")
        ),
    )
}

/// Bring the warehouse of a site that an older midnet wrote to this midnet's schema version, in
/// place: called by every command that opens the site for writing, before its catalog is migrated
/// (so a kill in between leaves a catalog that the next such command migrates). The files are
/// kept as they are when each table's columns (names and types, as Parquet gives them) are this
/// schema's, and a clinical table the older schema lacked gets its empty file (data version 0);
/// then the manifest says the current version (one rename). A warehouse whose columns changed is
/// refused, naming the versions and the columns: rewriting its files is not built.
pub fn migrate(spark: &SparkSite) -> Result<()> {
    let warehouse = &spark.warehouse;
    let mut current = Current::read_any_version(warehouse)?;
    let manifest = warehouse.join(MANIFEST);
    let from = current.schema_version;
    if from > SCHEMA_VERSION {
        return Err(newer_refused(&manifest, from));
    }
    if from == SCHEMA_VERSION {
        return Ok(());
    }
    let conn = duckdb::Connection::open_in_memory()?;
    conn.execute_batch(crate::schema::SCHEMA_SQL)?;
    let scratch = spark.scratch()?;
    let mut added = Vec::new();
    for table in CLINICAL_TABLES {
        let expected = scratch.0.join(format!("{table}.parquet"));
        conn.execute_batch(&format!(
            "COPY (SELECT * FROM {} LIMIT 0) TO {} (FORMAT parquet)",
            duck_ident(table),
            string(&expected.display().to_string())
        ))?;
        let expected = parquet_columns(&conn, &expected)?;
        let files: Vec<&TableFile> = current.files.iter().filter(|f| f.table == table).collect();
        for file in &files {
            let found = parquet_columns(&conn, &warehouse.join(&file.file))?;
            if found != expected {
                return Err(columns_changed(&manifest, from, table, &file.file, &found, &expected));
            }
        }
        if files.is_empty() {
            added.push(write_table(
                &conn,
                warehouse,
                0,
                table,
                &format!("SELECT * FROM {} LIMIT 0", duck_ident(table)),
            )?);
        }
    }
    current.files.extend(added);
    current.schema_version = SCHEMA_VERSION;
    current.write(warehouse)
}

/// The columns of a Parquet file, each as `name TYPE`.
fn parquet_columns(conn: &duckdb::Connection, file: &Path) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT column_name || ' ' || column_type FROM (DESCRIBE SELECT * FROM read_parquet({}))",
        string(&file.display().to_string())
    ))?;
    let columns = stmt.query_map([], |r| r.get(0))?;
    Ok(columns.collect::<std::result::Result<_, _>>()?)
}

fn columns_changed(
    manifest: &Path,
    from: i64,
    table: &str,
    file: &str,
    found: &[String],
    expected: &[String],
) -> Error {
    let only = |these: &[String], those: &[String]| {
        let only: Vec<&str> = these.iter().filter(|c| !those.contains(c)).map(String::as_str).collect();
        if only.is_empty() { "none (the order differs)".to_string() } else { only.join(", ") }
    };
    Error::refused(
        "site_schema",
        format!(
            "{}: the warehouse's files have schema version {from}, this midnet's is {SCHEMA_VERSION}, and table \
             {table}'s columns differ ({file} has {}; version {SCHEMA_VERSION} has {} instead): migrating a warehouse \
             whose columns changed is not built (docs/spark.md), so keep the site on a midnet of schema version \
             {from}: nothing was changed",
            manifest.display(),
            only(found, expected),
            only(expected, found)
        ),
    )
}

/// Make the warehouse of a new site: each clinical table as an empty file (data version 0) and the
/// manifest naming them.
pub(super) fn create_empty(warehouse: &Path) -> Result<()> {
    let conn = duckdb::Connection::open_in_memory()?;
    conn.execute_batch(crate::schema::SCHEMA_SQL)?;
    let files = write_version(&conn, warehouse, 0, |table| format!("SELECT * FROM {} LIMIT 0", duck_ident(table)))?;
    Current { format: FORMAT.to_string(), schema_version: SCHEMA_VERSION, files }.write(warehouse)
}

/// Publish the change the open transaction on `conn` (the catalog) makes as data version
/// `version`: the rows it brought into the catalog's clinical tables written as Parquet and
/// removed from the catalog (the `patient` table stays, for the next loads' validation), and the
/// rows of `withdrawals` taken out of the warehouse; then swap in the manifest that names the new
/// files. Returns how many rows left the warehouse. The caller commits the catalog next; until then
/// readers do not see the new version.
///
/// The catalog's clinical tables other than `patient` hold only this change's rows (each change
/// moves its own out); its `patient` table holds every patient, of which this change's are those
/// of its load files.
pub fn publish(spark: &SparkSite, conn: &duckdb::Connection, version: i64, withdrawals: &[Withdrawal]) -> Result<u64> {
    let warehouse = &spark.warehouse;
    let kept = Current::read(warehouse)?.up_to(version - 1);
    sweep(warehouse, &kept)?;
    let (rewritten, withdrawn) = rewritten_tables(conn, warehouse, &kept, withdrawals)?;
    let rows_of_this_change = |table: &str| {
        let new_rows = match table {
            "patient" => format!(
                "SELECT * FROM patient WHERE load_file_id IN (SELECT load_file_id FROM load_file WHERE data_version = \
                 {version})"
            ),
            _ => format!("SELECT * FROM {}", duck_ident(table)),
        };
        match rewritten.iter().find(|w| w.table == table) {
            Some(w) => format!(
                "SELECT * FROM read_parquet([{}]) t WHERE NOT coalesce({}, false) UNION ALL BY NAME {new_rows}",
                kept.paths_of(warehouse, table).join(", "),
                w.condition
            ),
            None => new_rows,
        }
    };
    let (written, empty): (Vec<TableFile>, Vec<TableFile>) =
        write_version(conn, warehouse, version, rows_of_this_change)?
            .into_iter()
            .partition(|f| f.rows > 0 || rewritten.iter().any(|w| w.table == f.table));
    for file in empty {
        let path = warehouse.join(&file.file);
        std::fs::remove_file(&path).at(&path)?;
    }
    crate::crash::point("spark-files-written");
    for table in CLINICAL_TABLES.iter().filter(|t| **t != "patient") {
        conn.execute_batch(&format!("DELETE FROM {}", duck_ident(table)))?;
    }
    let mut files = kept.files;
    for file in files.iter_mut().filter(|f| rewritten.iter().any(|w| w.table == f.table)) {
        file.replaced_in = Some(version);
    }
    let current = Current { files: files.into_iter().chain(written).collect(), ..kept };
    record_quality(conn, warehouse, &current.clone().up_to(version), version)?;
    current.write(warehouse)?;
    crate::crash::point("spark-manifest-swapped");
    Ok(withdrawn)
}

/// The withdrawals that take rows out of the warehouse's files of `kept` (the others would write
/// the same rows again for nothing), and how many rows they take.
fn rewritten_tables<'a>(
    conn: &duckdb::Connection,
    warehouse: &Path,
    kept: &Current,
    withdrawals: &'a [Withdrawal],
) -> Result<(Vec<&'a Withdrawal>, u64)> {
    let mut rewritten = Vec::new();
    let mut withdrawn = 0;
    for w in withdrawals {
        let rows: i64 = conn.query_row(
            &format!(
                "SELECT count(*) FROM read_parquet([{}]) t WHERE coalesce({}, false)",
                kept.paths_of(warehouse, w.table).join(", "),
                w.condition
            ),
            [],
            |r| r.get(0),
        )?;
        if rows > 0 {
            rewritten.push(w);
            withdrawn += rows as u64;
        }
    }
    Ok((rewritten, withdrawn))
}

/// Record in the catalog's `quality_history` the counts of `version` over the warehouse's files of
/// `current` (the manifest of that version). The change recorded them from the catalog's clinical
/// tables, which hold only its own rows at a Spark site (each change moves its own out), so those
/// counts are replaced. DuckDB counts the files: a change does not need the Spark server.
fn record_quality(conn: &duckdb::Connection, warehouse: &Path, current: &Current, version: i64) -> Result<()> {
    let files = duckdb::Connection::open_in_memory()?;
    for table in CLINICAL_TABLES {
        files.execute_batch(&format!(
            "CREATE VIEW {} AS SELECT * FROM read_parquet([{}])",
            duck_ident(table),
            current.paths_of(warehouse, table).join(", ")
        ))?;
    }
    conn.execute("DELETE FROM quality_history WHERE data_version = ?", [version])?;
    crate::site::quality::record_counted(conn, version, &mut Database(&files))
}

/// Write each clinical table's rows of `version` (the SELECT `rows` gives for it) as one Parquet
/// file.
fn write_version(
    conn: &duckdb::Connection,
    warehouse: &Path,
    version: i64,
    rows: impl Fn(&str) -> String,
) -> Result<Vec<TableFile>> {
    CLINICAL_TABLES.iter().map(|table| write_table(conn, warehouse, version, table, &rows(table))).collect()
}

/// Write the rows of the SELECT `rows` as the Parquet file of `table` and `version`, flushed to
/// disk with its directory.
fn write_table(
    conn: &duckdb::Connection,
    warehouse: &Path,
    version: i64,
    table: &str,
    rows: &str,
) -> Result<TableFile> {
    let relative_dir = PathBuf::from(DATA).join(format!("v{version:06}"));
    let dir = warehouse.join(&relative_dir);
    std::fs::create_dir_all(&dir).at(&dir)?;
    let relative = relative_dir.join(format!("{table}.parquet"));
    let path = warehouse.join(&relative);
    let copy = format!("COPY ({rows}) TO {} (FORMAT parquet, COMPRESSION zstd)", string(&path.display().to_string()));
    let written = conn.execute(&copy, [])? as i64;
    std::fs::File::open(&path).and_then(|f| f.sync_all()).at(&path)?;
    std::fs::File::open(&dir).and_then(|d| d.sync_all()).at(&dir)?;
    Ok(TableFile {
        table: table.to_string(),
        file: relative.display().to_string(),
        data_version: version,
        replaced_in: None,
        rows: written,
        bytes: std::fs::metadata(&path).at(&path)?.len(),
        sha256: crate::digest::sha256_file(&path)?,
    })
}

/// Remove what no file of `kept` is: the files of a change killed before its commit, the files a
/// committed change replaced, and scratch directories a killed command left.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn file(table: &str, data_version: i64, replaced_in: Option<i64>) -> TableFile {
        TableFile {
            table: table.to_string(),
            file: format!("data/v{data_version:06}/{table}.parquet"),
            data_version,
            replaced_in,
            rows: 1,
            bytes: 1,
            sha256: String::new(),
        }
    }

    fn versions(current: &Current) -> Vec<(String, i64, Option<i64>)> {
        current.files.iter().map(|f| (f.table.clone(), f.data_version, f.replaced_in)).collect()
    }

    /// Version 3 rewrote `drug_order` (its files of versions 0 and 1 replaced by version 3's);
    /// version 4 is not committed. Each version reads the files it was made of, and a replacement
    /// after the version read is no replacement for it.
    #[test]
    fn a_data_version_reads_the_files_it_was_made_of() {
        let current = Current {
            format: FORMAT.to_string(),
            schema_version: SCHEMA_VERSION,
            files: vec![
                file("drug_order", 0, Some(3)),
                file("drug_order", 1, Some(3)),
                file("lab_result", 2, None),
                file("drug_order", 3, None),
                file("lab_result", 4, None),
            ],
        };
        let of = |version| versions(&current.clone().up_to(version));
        let at = |table: &str, version| (table.to_string(), version, None);
        assert_eq!(of(2), [at("drug_order", 0), at("drug_order", 1), at("lab_result", 2)]);
        assert_eq!(of(3), [at("lab_result", 2), at("drug_order", 3)]);
        assert_eq!(of(4), [at("lab_result", 2), at("drug_order", 3), at("lab_result", 4)]);
    }
}
