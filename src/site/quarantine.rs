//! `midnet site quarantine`: the rows loads set aside, each with its file, line and every reason.
//!
//! A load's reasons quote the offending values (`sex 'X' is not M or F`), and a value may be
//! anything the hospital's file held in that column, a name typed into the wrong one included, or
//! the hospital's own patient number. So the quarantine stores no field of the row and each reason
//! as `load::reasons` reads it (every value replaced by `…`, a reason of no known form withheld
//! whole), and the listing reads them the same way; filters apply to what is shown, so that a
//! filter cannot probe for a value either.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;

use super::SiteDir;
use super::load::reasons::ReasonReader;
use crate::error::Result;

pub use super::load::reasons::{WITHHELD_REASON, WITHHELD_VALUE};

/// Which set-aside rows to list.
#[derive(Debug, Default)]
pub struct Filter {
    /// The file as given to `site load`, or its name.
    pub file: Option<String>,
    /// Text every listed row has in one of its reasons as shown (any case).
    pub reason: Option<String>,
}

/// One set-aside row, as the listing shows it.
#[derive(Debug, Serialize)]
pub struct SetAsideRow {
    pub table: String,
    /// The file as given to `site load`.
    pub file: String,
    /// The line of a CSV file (the header being line 1); the row of a Parquet file.
    pub line: i64,
    /// The data version of its load; none when the load brought no row in.
    pub data_version: Option<i64>,
    pub reasons: Vec<String>,
}

/// The set-aside rows `filter` selects, by file and line.
pub fn list(site: &SiteDir, filter: &Filter) -> Result<Vec<SetAsideRow>> {
    let conn = site.open_read_only()?;
    let files = chosen_files(&conn, site, filter.file.as_deref())?;
    let mut reader = ReasonReader::new(&conn)?;
    let mut stmt = conn
        .prepare("SELECT table_name, file, line, data_version, reason FROM quarantine ORDER BY load_file_id, line")?;
    let stored = stmt.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?, r.get(3)?, r.get::<_, String>(4)?))
    })?;
    let wanted = filter.reason.as_ref().map(|r| r.to_lowercase());
    let mut rows = Vec::new();
    for row in stored {
        let (table, file, line, data_version, reason) = row?;
        if !files.contains(&file) {
            continue;
        }
        let reasons = reader.shown(&table, &reason);
        if wanted.as_ref().is_some_and(|w| !reasons.iter().any(|r| r.to_lowercase().contains(w))) {
            continue;
        }
        rows.push(SetAsideRow { table, file, line, data_version, reasons });
    }
    Ok(rows)
}

/// The loaded files `file` names (every one when `None`); a name no load saw is an error. An
/// import records its reader in `load_file` and each set-aside row's own file (a file of the
/// storage, a claims file) in `quarantine`, so both are files a load saw.
fn chosen_files(conn: &duckdb::Connection, site: &SiteDir, file: Option<&str>) -> Result<BTreeSet<String>> {
    let mut stmt = conn.prepare("SELECT file FROM load_file UNION SELECT file FROM quarantine")?;
    let loaded: BTreeSet<String> = stmt.query_map([], |r| r.get(0))?.collect::<std::result::Result<_, _>>()?;
    let Some(file) = file else { return Ok(loaded) };
    let named_by = |loaded: &str| loaded == file || Path::new(loaded).file_name().is_some_and(|n| n == file);
    let chosen: BTreeSet<String> = loaded.iter().filter(|l| named_by(l)).cloned().collect();
    if chosen.is_empty() {
        return Err(crate::bad_input!(
            "--file {file}: no file of that name was loaded into {} (`midnet site check` lists the loads)",
            site.root().display()
        ));
    }
    Ok(chosen)
}
