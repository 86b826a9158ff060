//! Bringing a site database of an older schema version to the current one, in place.
//!
//! The schema's version is the one row of `schema_version`; a database without that table is of
//! version 1, the schema before versions were kept. A command that writes to a site (`site load`,
//! `site approve`, `site migrate`) migrates an older one when it opens it; a command that only reads
//! (`extract`, `protocol run`, `site check`, `site quarantine`) refuses it, naming `site migrate`: a
//! read runs read-only, perhaps beside other reads, and a data center's extraction never changes a
//! site's database. A database of a newer version than this midnet's is refused by every command.
//!
//! A migration builds the new database beside the old one (`.site.duckdb.migrate-PID`): the tables
//! of the current schema, every row of the old tables copied in with the columns it has, the new
//! columns filled where the old data say what they hold (a row's `source_file` is the name of the
//! file `site load` read it from; a lab result's `specimen` is its JLAC10 material code) and left
//! empty otherwise (the quarantine's reasons lose the values of their rows, and its raw fields go:
//! schema version 3 keeps none), and one row in `load_history` (`change` = 'migration'): a new data version,
//! so that an extraction says which schema it read. The masters are copied as the site had them.
//! The new file is checked (every table holds as many rows as before), checkpointed and renamed
//! over the old one: a kill before the rename leaves the old database as it was (the next command
//! removes the half-made file and migrates again), after it the new one. The old database stays
//! open for writing throughout, so no other midnet command can change it meanwhile.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::SiteDir;
use crate::error::{Error, IoContext, Result};
use crate::schema::{SCHEMA_SQL, SCHEMA_VERSION};
use crate::sql::duckdb::{ident, string};

/// The alias of the database being built, attached to the old one's connection.
const NEW: &str = "migrated";

/// What a migration did.
#[derive(Debug, Clone, Serialize)]
pub struct Migration {
    pub from_version: i64,
    pub to_version: i64,
    /// The data version the migration made (its `load_history` row).
    pub data_version: i64,
    /// Every table copied, with its rows (the same before and after).
    pub tables: Vec<(String, i64)>,
}

/// The schema version of an open site database.
pub fn version_of(conn: &duckdb::Connection) -> Result<i64> {
    let versioned: bool = conn.query_row(
        "SELECT count(*) > 0 FROM duckdb_tables() WHERE database_name = current_database() \
         AND schema_name = 'main' AND table_name = 'schema_version'",
        [],
        |r| r.get(0),
    )?;
    if !versioned {
        return Ok(1);
    }
    let version: Option<i64> = conn.query_row("SELECT max(version) FROM schema_version", [], |r| r.get(0))?;
    version.ok_or_else(|| Error::Integrity("the site database's schema_version table is empty".to_string()))
}

/// Refuse a database whose schema is newer than this midnet's, naming the midnet that made it.
pub fn refuse_newer(site: &SiteDir, conn: &duckdb::Connection, version: i64) -> Result<()> {
    if version <= SCHEMA_VERSION {
        return Ok(());
    }
    let by: Option<String> = conn
        .query_row(
            "SELECT midnet_version FROM load_history WHERE change = 'migration' ORDER BY data_version DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .ok();
    let by = by.map(|v| format!(" (migrated by midnet {v})")).unwrap_or_default();
    Err(Error::refused(
        "site_schema",
        format!(
            "{}: the site database has schema version {version}{by}, newer than this midnet's ({SCHEMA_VERSION}, \
             midnet {}); use that midnet or a later one: nothing was changed",
            site.root().display(),
            env!("CARGO_PKG_VERSION")
        ),
    ))
}

/// How the quarantine withholds the values in its reasons (`load::reasons::withhold_stored`): given
/// by the caller, since `load` reports the migration it made and so imports this module.
pub type Withhold = fn(&duckdb::Connection, &str, Option<i64>) -> Result<()>;

/// Migrate the site whose database `old` is open for writing (and so locked), of schema version
/// `from`, to the current version; the reasons of its quarantine lose their values by `withhold`.
/// `old` is closed at the end.
pub fn migrate(site: &SiteDir, old: duckdb::Connection, from: i64, withhold: Withhold) -> Result<Migration> {
    // The old file alone must be the database: a write-ahead log left beside it would otherwise
    // outlive the rename and be replayed into the new file.
    old.execute_batch("CHECKPOINT")?;
    remove_half_made(site)?;
    let building = site.root().join(format!(".{}.migrate-{}", SiteDir::DB_FILE, std::process::id()));
    let built = build(&old, &building, from, withhold);
    let migration = match built {
        Ok(m) => m,
        Err(e) => {
            let _ = old.execute_batch(&format!("DETACH DATABASE IF EXISTS {NEW}"));
            remove_with_wal(&building);
            return Err(e);
        }
    };
    keep_permissions(&site.db_path(), &building)?;
    crate::crash::point("migrate-built");
    std::fs::rename(&building, site.db_path()).at(site.db_path())?;
    sync_dir(site.root());
    crate::crash::point("migrate-renamed");
    drop(old);
    Ok(migration)
}

/// Build the migrated database at `path` from the open old one.
fn build(old: &duckdb::Connection, path: &Path, from: i64, withhold: Withhold) -> Result<Migration> {
    {
        let fresh = duckdb::Connection::open(path)?;
        fresh.execute_batch(SCHEMA_SQL)?;
    }
    let old_db: String = old.query_row("SELECT current_database()", [], |r| r.get(0))?;
    old.execute_batch(&format!("ATTACH {} AS {NEW}", string(&path.to_string_lossy())))?;
    let tx = old.unchecked_transaction()?;
    let mut tables = Vec::new();
    for table in tables_of(old, &old_db)? {
        if table == "schema_version" {
            // The new database's own row says its version.
            continue;
        }
        let rows = copy_table(old, &old_db, &table)?;
        let copied: i64 =
            old.query_row(&format!("SELECT count(*) FROM {NEW}.main.{}", ident(&table)), [], |r| r.get(0))?;
        if copied != rows {
            return Err(Error::Integrity(format!(
                "migrating table {table}: {rows} rows before, {copied} after; the site database was not changed"
            )));
        }
        tables.push((table, rows));
    }
    // The quarantine of an older midnet kept values of its rows; the new one keeps none.
    withhold(old, &format!("{NEW}.main.quarantine"), None)?;
    let data_version: i64 = tx.query_row(
        &format!(
            "INSERT INTO {NEW}.load_history (data_version, loaded_at, midnet_version, rows_loaded, rows_quarantined, \
                                             change, note) \
             SELECT coalesce(max(data_version), 0) + 1, now()::TIMESTAMP, ?, 0, 0, 'migration', ? \
             FROM {NEW}.load_history RETURNING data_version"
        ),
        duckdb::params![env!("CARGO_PKG_VERSION"), format!("schema version {from} to {SCHEMA_VERSION}")],
        |r| r.get(0),
    )?;
    tx.commit()?;
    old.execute_batch(&format!("CHECKPOINT {NEW}; DETACH DATABASE {NEW}"))?;
    Ok(Migration { from_version: from, to_version: SCHEMA_VERSION, data_version, tables })
}

/// The tables of the old database, in name order.
fn tables_of(conn: &duckdb::Connection, database: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'main' \
         AND NOT temporary ORDER BY table_name",
    )?;
    let names = stmt.query_map([database], |r| r.get(0))?;
    Ok(names.collect::<std::result::Result<_, _>>()?)
}

fn columns_of(conn: &duckdb::Connection, database: &str, table: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = ? AND schema_name = 'main' \
         AND table_name = ? ORDER BY column_index",
    )?;
    let names = stmt.query_map([database, table], |r| r.get(0))?;
    Ok(names.collect::<std::result::Result<_, _>>()?)
}

/// Copy one table's rows into the new database; returns how many. A table the current schema does
/// not have (`script_approval_unbound`), and the approvals of a midnet whose approvals named no
/// project (which `site approve` sets aside, see `approve.rs`), are kept whole as they were.
fn copy_table(conn: &duckdb::Connection, old_db: &str, table: &str) -> Result<i64> {
    let source = format!("{}.main.{}", ident(old_db), ident(table));
    let target = format!("{NEW}.main.{}", ident(table));
    let old_columns = columns_of(conn, old_db, table)?;
    let new_columns = columns_of(conn, NEW, table)?;
    let kept_whole =
        new_columns.is_empty() || (table == "script_approval" && !old_columns.iter().any(|c| c == "project"));
    if kept_whole {
        conn.execute_batch(&format!("DROP TABLE IF EXISTS {target}; CREATE TABLE {target} AS SELECT * FROM {source}"))?;
    } else {
        let values: Vec<String> = new_columns
            .iter()
            .map(|c| match renamed_from(table, c).filter(|old| old_columns.iter().any(|o| o == old)) {
                Some(old) => format!("o.{}", ident(old)),
                None if old_columns.contains(c) => format!("o.{}", ident(c)),
                None => filled(table, c).to_string(),
            })
            .collect();
        let names: Vec<String> = new_columns.iter().map(|c| ident(c)).collect();
        conn.execute_batch(&format!(
            "INSERT INTO {target} ({}) SELECT {} FROM {source} o",
            names.join(", "),
            values.join(", ")
        ))?;
    }
    Ok(conn.query_row(&format!("SELECT count(*) FROM {source}"), [], |r| r.get(0))?)
}

/// The old name of a column a version renamed: version 3 named the diagnosis's outcome
/// `disease_outcome`, since a script line beginning with `outcome` is the script's outcome statement.
fn renamed_from(table: &str, column: &str) -> Option<&'static str> {
    match (table, column) {
        ("diagnosis", "disease_outcome") => Some("outcome"),
        _ => None,
    }
}

/// The value of a column the old table lacks, over its row `o`: what the old data say, or NULL.
fn filled(table: &str, column: &str) -> &'static str {
    match (table, column) {
        // `site load` read the row from this file; its path is in `load_file`, its name is the
        // row's source file, as a load now records it.
        (_, "source_file") => {
            "(SELECT regexp_extract(f.file, '[^/\\\\]*$') FROM load_file f WHERE f.load_file_id = o.load_file_id)"
        }
        ("lab_result", "specimen") => "substr(o.jlac10, 10, 3)",
        ("load_history", "change") => "'load'",
        _ => "NULL",
    }
}

/// Remove what an interrupted migration left (its half-made database and log). Only a command that
/// holds the site database open for writing calls this, so no other migration is under way.
fn remove_half_made(site: &SiteDir) -> Result<()> {
    let prefix = format!(".{}.migrate-", SiteDir::DB_FILE);
    for entry in std::fs::read_dir(site.root()).at(site.root())? {
        let path = entry.at(site.root())?.path();
        if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&prefix)) {
            std::fs::remove_file(&path).at(&path)?;
        }
    }
    Ok(())
}

fn remove_with_wal(path: &Path) {
    let _ = std::fs::remove_file(path);
    let mut wal = path.as_os_str().to_owned();
    wal.push(".wal");
    let _ = std::fs::remove_file(PathBuf::from(wal));
}

/// The new database gets the old one's permissions (a site may keep it owner-only).
fn keep_permissions(old: &Path, new: &Path) -> Result<()> {
    let permissions = std::fs::metadata(old).at(old)?.permissions();
    std::fs::set_permissions(new, permissions).at(new)
}

/// Make the rename durable (best effort: not every file system syncs a directory).
fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}
