//! `midnet site load`: import a hospital's CSV or Parquet files into the site's database.
//!
//! Every row is validated; a row that fails goes to the `quarantine` table with its file, line and
//! every reason found, and nothing is dropped silently. A file with a column that could identify a
//! person, a missing required column or an unknown column is refused whole. All files of one load
//! commit in one transaction: an interrupted load leaves the site as it was. A successful load adds
//! a row to `load_history`, whose `data_version` extraction manifests cite.

mod spec;
mod stage;

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::SiteDir;
use crate::error::{Error, IoContext, Result};
use crate::schema::CLINICAL_TABLES;
use crate::sql::quote::{ident, literal};
use crate::table::Format;

pub use spec::{SPECS, identifying, spec_for};
pub use stage::CENSORED_VALUE;

#[derive(Debug, Clone, Serialize)]
pub struct FileLoaded {
    pub table: String,
    pub file: String,
    pub rows_loaded: u64,
    pub rows_quarantined: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileRefused {
    pub file: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// The data version this load created, if it recorded anything.
    pub data_version: Option<i64>,
    pub files: Vec<FileLoaded>,
    pub refused: Vec<FileRefused>,
    /// The most frequent quarantine reasons of this load, with their counts.
    pub top_reasons: Vec<(String, u64)>,
}

impl LoadReport {
    pub fn rows_loaded(&self) -> u64 {
        self.files.iter().map(|f| f.rows_loaded).sum()
    }

    pub fn rows_quarantined(&self) -> u64 {
        self.files.iter().map(|f| f.rows_quarantined).sum()
    }
}

/// One input file and the table it goes to.
struct Input {
    path: PathBuf,
    table: &'static str,
    format: Format,
}

/// Load `paths` (files, or directories whose files are named after their tables) into the site.
/// `table` forces the table of every file.
///
/// Two phases: every file is first validated into a temporary table of its own (nothing of the
/// site changes), then one transaction moves the good rows into the clinical tables and the bad ones
/// into the quarantine. Staging outside the transaction matters for speed: DuckDB reads a
/// temporary table created inside a transaction as transaction-local data, about twice as slowly
/// (BENCHMARKS.md, "Site load").
pub fn load(site: &SiteDir, paths: &[PathBuf], table: Option<&str>) -> Result<LoadReport> {
    let (mut inputs, mut refused) = resolve_inputs(paths, table)?;
    inputs.sort_by_key(|i| CLINICAL_TABLES.iter().position(|t| *t == i.table));
    let conn = site.open()?;
    // The files' hashes are computed on a thread of their own while DuckDB validates.
    let (staged, hashes) = std::thread::scope(|scope| {
        let hashing = scope.spawn(|| inputs.iter().map(|i| crate::digest::sha256_file(&i.path)).collect::<Vec<_>>());
        let staged = stage_inputs(&conn, &inputs, &mut refused);
        (staged, hashing.join().expect("hashing a file does not panic"))
    });
    let staged = staged?;
    let hashes = hashes.into_iter().collect::<Result<Vec<String>>>()?;
    conn.execute_batch("BEGIN TRANSACTION")?;
    let outcome = record_staged(&conn, &staged, &hashes, refused);
    match outcome {
        Ok(report) if report.data_version.is_some() => {
            conn.execute_batch("COMMIT")?;
            conn.execute_batch("CHECKPOINT")?;
            Ok(report)
        }
        Ok(report) => {
            conn.execute_batch("ROLLBACK")?;
            Ok(report)
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// A file validated into its temporary tables: `staged_N` (every record, converted, with its
/// reasons) and, for CSV, `rejects_N` (the lines the reader could not split).
struct Staged<'a> {
    /// The file's place in the load's inputs.
    n: usize,
    input: &'a Input,
    staged: String,
    rejects: String,
}

/// Phase one: validate every file into its temporary table. A file that cannot be read, or whose
/// header is refused, is reported and left out; the others go on.
fn stage_inputs<'a>(
    conn: &duckdb::Connection,
    inputs: &'a [Input],
    refused: &mut Vec<FileRefused>,
) -> Result<Vec<Staged<'a>>> {
    let mut staged: Vec<Staged> = Vec::new();
    for (n, input) in inputs.iter().enumerate() {
        let file = Staged { n, input, staged: format!("midnet_staged_{n}"), rejects: format!("midnet_rejects_{n}") };
        let patients: Vec<String> =
            staged.iter().filter(|s| s.input.table == "patient").map(|s| s.staged.clone()).collect();
        match stage_file(conn, &file, &stage::known_patients_sql(&patients)) {
            Ok(()) => staged.push(file),
            Err(FileError::Refused(reason)) => {
                refused.push(FileRefused { file: input.path.display().to_string(), reason })
            }
            Err(FileError::Fatal(e)) => return Err(e),
        }
    }
    Ok(staged)
}

/// Phase two, inside the load's transaction: good rows to the clinical tables, bad rows to the
/// quarantine, the files and the load to the history.
fn record_staged(
    conn: &duckdb::Connection,
    staged: &[Staged],
    hashes: &[String],
    refused: Vec<FileRefused>,
) -> Result<LoadReport> {
    let version: i64 =
        conn.query_row("SELECT coalesce(max(data_version), 0) + 1 FROM load_history", [], |r| r.get(0))?;
    let mut files = Vec::new();
    for file in staged {
        files.push(record_file(conn, file, &hashes[file.n], version)?);
    }
    let loaded: u64 = files.iter().map(|f: &FileLoaded| f.rows_loaded).sum();
    let quarantined: u64 = files.iter().map(|f| f.rows_quarantined).sum();
    let recorded = !files.is_empty();
    if recorded {
        conn.execute(
            "INSERT INTO load_history VALUES (?, now()::TIMESTAMP, ?, ?, ?)",
            duckdb::params![version, env!("CARGO_PKG_VERSION"), loaded as i64, quarantined as i64],
        )?;
    }
    let top_reasons = top_reasons(conn, version)?;
    Ok(LoadReport { data_version: recorded.then_some(version), files, refused, top_reasons })
}

enum FileError {
    /// The file is not loaded; the others are.
    Refused(String),
    /// The load stops and rolls back.
    Fatal(Error),
}

impl From<duckdb::Error> for FileError {
    fn from(e: duckdb::Error) -> FileError {
        FileError::Fatal(Error::Db(e))
    }
}

fn stage_file(conn: &duckdb::Connection, file: &Staged, known: &str) -> Result<(), FileError> {
    let input = file.input;
    let spec = spec_for(input.table).expect("inputs resolve to clinical tables");
    if input.format == Format::Csv {
        require_utf8(&input.path)?;
    }
    let scan = scan_sql(input, &file.rejects);
    let header = header_of(conn, &scan, input)?;
    check_header(&header, spec)?;
    conn.execute_batch(&stage::staging_sql(spec, &file.staged, &scan, &header, known))
        .map_err(|e| FileError::Refused(format!("cannot be read: {}", first_line(&e.to_string()))))
}

fn record_file(conn: &duckdb::Connection, file: &Staged, sha: &str, version: i64) -> Result<FileLoaded> {
    let input = file.input;
    let spec = spec_for(input.table).expect("inputs resolve to clinical tables");
    let loaded = conn.execute(&stage::insert_sql(spec, &file.staged), [])? as u64;
    let path = input.path.display().to_string();
    let quarantined = quarantine_rows(conn, file, version, &path)?;
    conn.execute(
        "INSERT INTO load_file VALUES (?, ?, ?, ?, ?, ?)",
        duckdb::params![version, input.table, path, sha, loaded as i64, quarantined as i64],
    )?;
    conn.execute_batch(&format!("DROP TABLE {}", ident(&file.staged)))?;
    Ok(FileLoaded { table: input.table.to_string(), file: path, rows_loaded: loaded, rows_quarantined: quarantined })
}

/// Move the bad rows of the staged file, and the lines the CSV reader could not split into
/// fields, to the quarantine. Returns how many rows were quarantined.
fn quarantine_rows(conn: &duckdb::Connection, staged: &Staged, version: i64, file: &str) -> Result<u64> {
    let file_lit = literal(file);
    let table_lit = literal(staged.input.table);
    let rejects = &staged.rejects;
    let from = ident(&staged.staged);
    let bad = match staged.input.format {
        Format::Csv => {
            // Records are numbered as read; a malformed line the reader skipped shifts the line
            // numbers of the records after it, which the count of earlier rejects restores.
            conn.execute_batch(&format!(
                "CREATE OR REPLACE TEMP TABLE reject_lines AS \
                 SELECT line, line - row_number() OVER (ORDER BY line) AS good_before FROM {}",
                ident(rejects)
            ))?;
            let bad = conn.execute(
                &format!(
                    "INSERT INTO quarantine \
                     SELECT {version}, {table_lit}, {file_lit}, \
                            rn + 1 + (SELECT count(*) FROM reject_lines r WHERE r.good_before <= s.rn), reason, raw \
                     FROM {from} s WHERE reason <> ''"
                ),
                [],
            )? as u64;
            let malformed = conn.execute(
                &format!(
                    "INSERT INTO quarantine \
                     SELECT {version}, {table_lit}, {file_lit}, line, \
                            'malformed CSV line: ' || error_type || coalesce(' (' || column_name || ')', ''), \
                            coalesce(csv_line, '') \
                     FROM {}",
                    ident(rejects)
                ),
                [],
            )? as u64;
            conn.execute_batch(&format!("DROP TABLE reject_lines; DROP TABLE {}", ident(rejects)))?;
            conn.execute_batch(&format!("DROP TABLE IF EXISTS {}", ident(&format!("{rejects}_scan"))))?;
            bad + malformed
        }
        Format::Parquet => conn.execute(
            &format!(
                "INSERT INTO quarantine SELECT {version}, {table_lit}, {file_lit}, rn, reason, raw \
                 FROM {from} WHERE reason <> ''"
            ),
            [],
        )? as u64,
    };
    Ok(bad)
}

/// The table scan of one input file: every column as text, with a record number `rn`.
fn scan_sql(input: &Input, rejects: &str) -> String {
    let path = literal(&input.path.to_string_lossy());
    match input.format {
        // ORDINALITY numbers the records as the reader produces them, in file order.
        Format::Csv => format!(
            "(SELECT COLUMNS(* EXCLUDE (ordinality)), ordinality AS rn FROM read_csv({path}, header = true, \
             all_varchar = true, store_rejects = true, rejects_table = {}, rejects_scan = {}) WITH ORDINALITY)",
            literal(rejects),
            literal(&format!("{rejects}_scan"))
        ),
        Format::Parquet => format!(
            "(SELECT file_row_number + 1 AS rn, COLUMNS(* EXCLUDE (file_row_number))::VARCHAR \
             FROM read_parquet({path}, file_row_number = true))"
        ),
    }
}

fn header_of(conn: &duckdb::Connection, scan: &str, input: &Input) -> Result<Vec<String>, FileError> {
    let sql = format!("SELECT column_name FROM (DESCRIBE SELECT * FROM {scan}) WHERE column_name <> 'rn'");
    let names: std::result::Result<Vec<String>, duckdb::Error> =
        conn.prepare(&sql).and_then(|mut s| s.query_map([], |r| r.get::<_, String>(0))?.collect());
    names.map_err(|e| {
        let text = first_line(&e.to_string());
        FileError::Refused(format!("cannot be read as {:?}: {text}", input.format))
    })
}

/// Refuse a CSV file whose beginning is not UTF-8 (Japanese hospital systems often export
/// Shift_JIS); one clear refusal is better than every row with a kanji quarantined.
fn require_utf8(path: &Path) -> Result<(), FileError> {
    use std::io::Read;
    let mut head = Vec::with_capacity(1 << 16);
    let file = std::fs::File::open(path).map_err(|e| FileError::Fatal(Error::io(path, e)))?;
    file.take(1 << 16).read_to_end(&mut head).map_err(|e| FileError::Fatal(Error::io(path, e)))?;
    match std::str::from_utf8(&head) {
        Ok(_) => Ok(()),
        // A character cut by the 64 KiB window is not an error.
        Err(e) if e.error_len().is_none() => Ok(()),
        Err(e) => Err(FileError::Refused(format!(
            "not UTF-8 text (invalid byte at offset {}); if it is Shift_JIS, convert it with \
             `iconv -f SHIFT_JIS -t UTF-8 FILE > FILE.utf8.csv` and load that",
            e.valid_up_to()
        ))),
    }
}

fn check_header(header: &[String], spec: &spec::TableSpec) -> Result<(), FileError> {
    if let Some((col, what)) = header.iter().find_map(|h| identifying(h).map(|w| (h, w))) {
        return Err(FileError::Refused(format!(
            "column `{col}` could identify a person ({what}); the integrated data source holds no such \
             column: remove it from the file and load again"
        )));
    }
    let expected: Vec<&str> = spec.fields.iter().map(|f| f.name).collect();
    if let Some(unknown) = header.iter().find(|h| !expected.contains(&h.as_str())) {
        return Err(FileError::Refused(format!(
            "column `{unknown}` is not a column of table `{}`; its columns are: {}",
            spec.table,
            expected.join(", ")
        )));
    }
    let missing: Vec<&str> =
        spec.fields.iter().filter(|f| f.required && !header.iter().any(|h| h == f.name)).map(|f| f.name).collect();
    if !missing.is_empty() {
        return Err(FileError::Refused(format!(
            "missing required column(s) {} of table `{}`",
            missing.join(", "),
            spec.table
        )));
    }
    Ok(())
}

/// Expand directories and name the table of each file: `--table`, or the file name up to its first
/// dot (`lab_result.csv`, `lab_result.2024-04.parquet`).
fn resolve_inputs(paths: &[PathBuf], table: Option<&str>) -> Result<(Vec<Input>, Vec<FileRefused>)> {
    if let Some(t) = table
        && spec_for(t).is_none()
    {
        return Err(Error::BadInput(format!(
            "--table {t}: not a clinical table; the tables are: {}",
            CLINICAL_TABLES.join(", ")
        )));
    }
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .at(path)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            entries.sort();
            files.extend(entries);
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            return Err(Error::NotFound(format!("{}: no such file or directory", path.display())));
        }
    }
    let mut inputs = Vec::new();
    let mut refused = Vec::new();
    for path in files {
        let format = match Format::of(&path) {
            Ok(f) => f,
            Err(_) => {
                refused.push(FileRefused {
                    file: path.display().to_string(),
                    reason: "not a .csv or .parquet file".to_string(),
                });
                continue;
            }
        };
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let stem = name.split('.').next().unwrap_or("");
        match table.or_else(|| CLINICAL_TABLES.iter().copied().find(|t| *t == stem)) {
            Some(t) => inputs.push(Input { path, table: spec_for(t).map(|s| s.table).unwrap(), format }),
            None => refused.push(FileRefused {
                file: path.display().to_string(),
                reason: format!(
                    "its name does not say which table it is for: name it after a table ({}) or give --table",
                    CLINICAL_TABLES.join(", ")
                ),
            }),
        }
    }
    Ok((inputs, refused))
}

fn top_reasons(conn: &duckdb::Connection, version: i64) -> Result<Vec<(String, u64)>> {
    // Group by the reason's first clause with quoted values removed, so that one kind of problem
    // counts once however many different values it hit.
    let mut stmt = conn.prepare(
        "SELECT regexp_replace(split_part(reason, '; ', 1), '''[^'']*''', '…', 'g') AS kind, count(*) AS n \
         FROM quarantine WHERE data_version = ? GROUP BY kind ORDER BY n DESC, kind LIMIT 10",
    )?;
    let rows = stmt.query_map([version], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?;
    Ok(rows.collect::<std::result::Result<Vec<_>, _>>()?)
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
}
