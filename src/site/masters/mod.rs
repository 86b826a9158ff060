//! `midnet site masters import`: the official code masters, in their published layouts, into the
//! site's `master_*` tables (docs/site-inputs.md §2).
//!
//! Every file given is read and checked whole before anything changes (`layout`): one bad file and
//! nothing is imported, the error naming the file and line. Each file's rows are kept beside those
//! of earlier imports, never replaced: a row names its file (`master_file_id`), and `master_file`
//! holds the file's kind, name, SHA-256 and publication date, so that an old code stays with its
//! successor and its dates. A file imported before (same SHA-256) is skipped. An import that
//! brings a file in is a data version (`load_history.change` = 'masters').

pub mod layout;

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::SiteDir;
use crate::error::{Error, IoContext, Result};
use crate::sql::duckdb::ident;
use layout::{MasterFile, MasterKind};

/// What an import did.
#[derive(Debug, Serialize)]
pub struct Imported {
    /// The data version it made; none when every file had been imported before.
    pub data_version: Option<i64>,
    pub files: Vec<FileImported>,
    pub skipped: Vec<FileSkipped>,
    /// The migration the import's opening of the site made, if it was of an older schema.
    pub migration: Option<super::migrate::Migration>,
}

#[derive(Debug, Serialize)]
pub struct FileImported {
    pub file: String,
    pub kind: MasterKind,
    pub published: String,
    pub rows: u64,
}

/// A file whose content (SHA-256) was imported before, or earlier in the same import.
#[derive(Debug, Serialize)]
pub struct FileSkipped {
    pub file: String,
    pub kind: MasterKind,
    /// The file as first imported.
    pub imported_as: String,
}

/// One file read and checked.
struct Read {
    path: PathBuf,
    sha256: String,
    master: MasterFile,
}

/// Import the master files into the site, all or none.
pub fn import(site: &SiteDir, files: &[PathBuf]) -> Result<Imported> {
    let read: Vec<Read> = files.iter().map(|p| read_file(p)).collect::<Result<_>>()?;
    let (conn, migration) = site.open_migrated()?;
    conn.execute_batch("BEGIN TRANSACTION")?;
    let imported = record(&conn, &read);
    match imported {
        Ok((data_version, files, skipped)) => {
            conn.execute_batch("COMMIT")?;
            Ok(Imported { data_version, files, skipped, migration })
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

fn read_file(path: &Path) -> Result<Read> {
    let bytes = std::fs::read(path).at(path)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let master =
        layout::read(&name, &bytes).map_err(|e| crate::bad_input!("{}: {e}; nothing was imported", path.display()))?;
    Ok(Read { path: path.to_path_buf(), sha256: crate::digest::sha256_hex(&bytes), master })
}

type Recorded = (Option<i64>, Vec<FileImported>, Vec<FileSkipped>);

/// Inside the import's transaction: each new file and its rows, then the data version.
fn record(conn: &duckdb::Connection, read: &[Read]) -> Result<Recorded> {
    let data_version: i64 =
        conn.query_row("SELECT coalesce(max(data_version), 0) + 1 FROM load_history", [], |r| r.get(0))?;
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for (i, file) in read.iter().enumerate() {
        let shown = file.path.display().to_string();
        let earlier = read[..i].iter().find(|r| r.sha256 == file.sha256).map(|r| r.path.display().to_string());
        if let Some(imported_as) = earlier.or(imported_before(conn, &file.sha256)?) {
            skipped.push(FileSkipped { file: shown, kind: file.master.kind, imported_as });
            continue;
        }
        insert_file(conn, file, data_version)?;
        files.push(FileImported {
            file: shown,
            kind: file.master.kind,
            published: file.master.published.clone(),
            rows: file.master.rows.len() as u64,
        });
    }
    if files.is_empty() {
        return Ok((None, files, skipped));
    }
    let rows: u64 = files.iter().map(|f| f.rows).sum();
    let note: Vec<String> = files.iter().map(|f| format!("{} {} ({})", f.kind.as_str(), f.published, f.file)).collect();
    conn.execute(
        "INSERT INTO load_history (data_version, loaded_at, midnet_version, rows_loaded, rows_quarantined, change, \
                                   note) VALUES (?, now()::TIMESTAMP, ?, ?, 0, 'masters', ?)",
        duckdb::params![data_version, env!("CARGO_PKG_VERSION"), rows as i64, note.join("; ")],
    )?;
    Ok((Some(data_version), files, skipped))
}

fn imported_before(conn: &duckdb::Connection, sha256: &str) -> Result<Option<String>> {
    let mut stmt = conn.prepare("SELECT file FROM master_file WHERE sha256 = ?")?;
    let mut rows = stmt.query_map([sha256], |r| r.get(0))?;
    Ok(rows.next().transpose()?)
}

/// The scratch table of one master file's rows, as text.
const MASTER_ROWS: &str = "midnet_master_rows";

/// The file's `master_file` row and its rows in its kind's table.
fn insert_file(conn: &duckdb::Connection, file: &Read, data_version: i64) -> Result<()> {
    let master = &file.master;
    let id: i64 = conn.query_row(
        "INSERT INTO master_file (master_file_id, data_version, imported_at, kind, file, sha256, published, rows) \
         SELECT coalesce(max(master_file_id), 0) + 1, ?, now()::TIMESTAMP, ?, ?, ?, ?::DATE, ? FROM master_file \
         RETURNING master_file_id",
        duckdb::params![
            data_version,
            master.kind.as_str(),
            file.path.display().to_string(),
            file.sha256,
            master.published,
            master.rows.len() as i64
        ],
        |r| r.get(0),
    )?;
    // The rows go in through DuckDB's appender, as text into a scratch table, and from there into
    // the master's table in one statement that casts its dates: an insert per row took most of an
    // import's time.
    let columns: Vec<String> = master.kind.columns().iter().map(|c| ident(c)).collect();
    let text_columns: Vec<String> = columns.iter().map(|c| format!("{c} VARCHAR")).collect();
    conn.execute_batch(&format!("CREATE OR REPLACE TEMP TABLE {MASTER_ROWS} ({})", text_columns.join(", ")))?;
    {
        let mut appender = conn.appender(MASTER_ROWS)?;
        for row in &master.rows {
            appender.append_row(duckdb::appender_params_from_iter(row.iter().map(|v| v.as_deref())))?;
        }
        appender.flush()?;
    }
    conn.execute(
        &format!(
            "INSERT INTO {table} (master_file_id, {columns}) SELECT ?, {columns} FROM {MASTER_ROWS}",
            table = ident(master.kind.table()),
            columns = columns.join(", ")
        ),
        [id],
    )
    .map_err(|e| {
        Error::Internal(format!("{}: a checked master row was refused by the database: {e}", file.path.display()))
    })?;
    conn.execute_batch(&format!("DROP TABLE {MASTER_ROWS}"))?;
    Ok(())
}
