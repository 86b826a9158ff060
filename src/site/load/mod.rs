//! `midnet site load`: import a hospital's CSV or Parquet files into the site's database.
//!
//! Every row is validated; a row that fails goes to the `quarantine` table with its file, line and
//! every reason found, and nothing is dropped silently. A file with a column that could identify a
//! person, a missing required column or an unknown column is refused whole. All files of one load
//! commit in one transaction: an interrupted load leaves the site as it was.
//!
//! Loads are idempotent: every file read is recorded in `load_file` with its SHA-256, and every
//! row (loaded or quarantined) names its file by `load_file_id`. A file whose SHA-256 is already
//! there is skipped, naming the load that read it, so loading the same files again, or rerunning a
//! load killed after its commit, adds nothing. A load that brings rows in adds a row to
//! `load_history`, whose `data_version` extraction manifests cite; one that brings in nothing new
//! makes no data version.

mod lines;
pub mod reasons;
mod set_aside;
mod spec;
mod stage;
pub mod staged;
pub mod timings;
mod waiting;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::SiteDir;
use crate::error::{Error, IoContext, Result};
use crate::schema::CLINICAL_TABLES;
use crate::sql::duckdb::{ident, string};
use crate::table::Format;
use lines::AtLine;
use set_aside::{BadRow, BadRows, SetAside};
use stage::{Numbering, Origin, SourceFile};

pub use spec::{DEFAULT_LOCAL_SYSTEM, LocalKind, SPECS, identifying, spec_for};
pub use stage::CENSORED_VALUE;
pub use waiting::{BroughtIn, bring_in, brought_in_with, release};

#[derive(Debug, Clone, Serialize)]
pub struct FileLoaded {
    pub table: String,
    pub file: String,
    pub rows_loaded: u64,
    pub rows_quarantined: u64,
    /// Rows with a local code the site's mapping does not map yet: kept, waiting (`local_row`).
    pub rows_waiting: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileRefused {
    pub file: String,
    pub reason: String,
}

/// A file whose content (SHA-256) an earlier load read: not read again.
#[derive(Debug, Clone, Serialize)]
pub struct FileSkipped {
    pub table: String,
    pub file: String,
    pub sha256: String,
    pub earlier: EarlierFile,
}

/// How an earlier load recorded a file (`load_file`).
#[derive(Debug, Clone, Serialize)]
pub struct EarlierFile {
    pub file: String,
    /// None when that load brought no row in.
    pub data_version: Option<i64>,
    /// UTC, `YYYY-MM-DD HH:MM:SS`.
    pub loaded_at: String,
    pub rows_loaded: u64,
    pub rows_quarantined: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// The data version this load created: None when it brought no row in.
    pub data_version: Option<i64>,
    /// The files read (and recorded in `load_file`).
    pub files: Vec<FileLoaded>,
    pub skipped: Vec<FileSkipped>,
    pub refused: Vec<FileRefused>,
    /// The most frequent quarantine reasons of this load (values withheld), with their counts.
    pub top_reasons: Vec<reasons::ReasonCount>,
    /// The migration of the site's database to the current schema, if this load made one first.
    pub migration: Option<super::migrate::Migration>,
}

impl LoadReport {
    pub fn rows_loaded(&self) -> u64 {
        self.files.iter().map(|f| f.rows_loaded).sum()
    }

    pub fn rows_quarantined(&self) -> u64 {
        self.files.iter().map(|f| f.rows_quarantined).sum()
    }

    pub fn rows_waiting(&self) -> u64 {
        self.files.iter().map(|f| f.rows_waiting).sum()
    }

    /// Whether there was nothing to read: every file was skipped as loaded before.
    pub fn nothing_new(&self) -> bool {
        self.files.is_empty() && self.refused.is_empty() && !self.skipped.is_empty()
    }
}

/// One input file and the table it goes to.
struct Input {
    path: PathBuf,
    table: &'static str,
    format: Format,
    /// The file's size, which the progress bar counts.
    bytes: u64,
}

/// Load `paths` (files, or directories whose files are named after their tables) into the site.
/// `table` forces the table of every file.
///
/// Files whose header is refused are reported and left out before anything changes. The others
/// load in one transaction, each by one statement that inserts its good rows and sets its bad ones
/// aside for the quarantine; the bad rows' line numbers may take a second, light read. A file
/// loaded before (same SHA-256) is skipped. `progress` shows one bar, labelled with the site
/// directory's name, over the bytes of the
/// accepted files, advanced as each file is read whole (one statement reads a file, so a file is
/// the finest step that can be counted honestly).
pub fn load(
    site: &SiteDir,
    paths: &[PathBuf],
    table: Option<&str>,
    progress: &crate::progress::Progress,
) -> Result<LoadReport> {
    let (mut inputs, mut refused) = resolve_inputs(paths, table)?;
    // Patient files first (the others' rows refer to them), then the largest first: the line
    // numbers of a file's bad rows are looked up on another thread while the next files load.
    inputs.sort_by_key(|i| (i.table != "patient", std::cmp::Reverse(i.bytes)));
    let (conn, migration) = site.open_migrated()?;
    let accepted = accept_inputs(&conn, &inputs, &mut refused)?;
    let set_aside = SetAside::register(&conn)?;
    let label = site.root().file_name().map_or("load".into(), |n| n.to_string_lossy());
    let bar = progress.bytes(&label, accepted.iter().map(|a| a.input.bytes).sum());
    // Files are hashed on a thread of their own while DuckDB reads them.
    let report = std::thread::scope(|scope| {
        let (sender, hashes) = std::sync::mpsc::channel();
        let paths: Vec<&Path> = accepted.iter().map(|a| a.input.path.as_path()).collect();
        scope.spawn(move || {
            for path in paths {
                if sender.send(crate::digest::sha256_file(path)).is_err() {
                    break;
                }
            }
        });
        conn.execute_batch("BEGIN TRANSACTION")?;
        let recorded = record_files(scope, &conn, &set_aside, &accepted, &hashes, refused, &bar)
            .and_then(|report| site.keep_loaded_rows(&conn, report.data_version).map(|()| report));
        bar.finish_with_message(if recorded.is_ok() { "done" } else { "failed: nothing loaded" });
        match recorded {
            Ok(report) if !report.files.is_empty() => {
                conn.execute_batch("COMMIT")?;
                crate::crash::point("load-committed");
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
    })?;
    if !report.files.is_empty() {
        conn.execute_batch("CHECKPOINT")?;
    }
    Ok(LoadReport { migration, ..report })
}

/// A file whose header was accepted: its place among the load's files and its columns.
struct Accepted<'a> {
    n: usize,
    input: &'a Input,
    header: Vec<String>,
}

impl Accepted<'_> {
    fn spec(&self) -> &'static spec::TableSpec {
        spec_for(self.input.table).expect("inputs resolve to clinical tables")
    }

    /// The CSV reader's table of lines it could not split into fields.
    fn rejects(&self) -> String {
        format!("midnet_rejects_{}", self.n)
    }
}

/// Check each file's encoding and header; a refused file is reported and left out.
fn accept_inputs<'a>(
    conn: &duckdb::Connection,
    inputs: &'a [Input],
    refused: &mut Vec<FileRefused>,
) -> Result<Vec<Accepted<'a>>> {
    let mut accepted = Vec::new();
    for (n, input) in inputs.iter().enumerate() {
        match accept(conn, input) {
            Ok(header) => accepted.push(Accepted { n, input, header }),
            Err(FileError::Refused(reason)) => {
                refused.push(FileRefused { file: input.path.display().to_string(), reason })
            }
            Err(FileError::Fatal(e)) => return Err(e),
        }
    }
    Ok(accepted)
}

fn accept(conn: &duckdb::Connection, input: &Input) -> Result<Vec<String>, FileError> {
    if input.format == Format::Csv {
        require_text(&input.path)?;
    }
    let header = header_of(conn, &scan_sql(input, Numbering::Unnumbered, &RejectedLines::Skipped), input)?;
    check_header(&header, spec_for(input.table).expect("inputs resolve to clinical tables"))?;
    Ok(header)
}

/// Inside the load's transaction: each new file's rows, then the files and (if rows came in) the
/// load in the history. A file loaded before is skipped; one with the content of another file of
/// this load is refused. `bar` advances by each file's bytes once it is read (or skipped).
fn record_files<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    conn: &duckdb::Connection,
    set_aside: &SetAside,
    accepted: &'scope [Accepted<'scope>],
    hashes: &std::sync::mpsc::Receiver<Result<String>>,
    mut refused: Vec<FileRefused>,
    bar: &indicatif::ProgressBar,
) -> Result<LoadReport> {
    let version: i64 =
        conn.query_row("SELECT coalesce(max(data_version), 0) + 1 FROM load_history", [], |r| r.get(0))?;
    let first_id: i64 = conn.query_row("SELECT coalesce(max(load_file_id), 0) + 1 FROM load_file", [], |r| r.get(0))?;
    let mut inserted = Vec::new();
    let mut skipped = Vec::new();
    let mut read: HashMap<String, &Path> = HashMap::new();
    for file in accepted {
        let path = file.input.path.display().to_string();
        bar.set_message(file.input.path.file_name().unwrap_or_default().to_string_lossy().into_owned());
        let sha256 = hashes.recv().expect("the hashing thread sends one hash per file")?;
        if let Some(earlier) = earlier_file(conn, &sha256)? {
            skipped.push(FileSkipped { table: file.input.table.to_string(), file: path, sha256, earlier });
            bar.inc(file.input.bytes);
            continue;
        }
        if let Some(first) = read.get(&sha256) {
            let reason = format!(
                "the same content (SHA-256) as {}, earlier in this load: it is loaded once, from there",
                first.display()
            );
            refused.push(FileRefused { file: path, reason });
            bar.inc(file.input.bytes);
            continue;
        }
        read.insert(sha256.clone(), &file.input.path);
        let id = first_id + inserted.len() as i64;
        let loaded = insert_rows(conn, file, id)?;
        let waiting = keep_waiting_rows(conn, file, id, version)?;
        bar.inc(file.input.bytes);
        crate::crash::point("load-inserted");
        let counts = Counts { loaded, quarantined: 0, waiting };
        inserted.push((file, id, sha256, counts, Located::start(scope, file, set_aside.take())));
    }
    let rows_in: u64 = inserted.iter().map(|(_, _, _, counts, _)| counts.loaded + counts.waiting).sum();
    let data_version = (rows_in > 0).then_some(version);
    if data_version.is_some() {
        // Waiting rows whose codes the site has mapped before come in at once.
        for brought in waiting::bring_in_with(conn, set_aside, version)? {
            let (_, _, _, counts, _) = inserted
                .iter_mut()
                .find(|(_, id, ..)| *id == brought.load_file_id)
                .expect("only this load's rows were waiting for a code already mapped: a mapping brings in the others");
            counts.loaded += brought.rows_loaded;
            counts.quarantined += brought.rows_quarantined;
            counts.waiting -= brought.rows_loaded + brought.rows_quarantined;
        }
    }
    bar.set_message("quarantine");
    let mut files = Vec::new();
    for (file, id, sha256, counts, located) in inserted {
        let quarantined = counts.quarantined + quarantine_rows(conn, file, located, id, data_version)?;
        files.push(record_file(conn, file, id, &sha256, data_version, Counts { quarantined, ..counts })?);
    }
    files.sort_by_key(|f: &FileLoaded| CLINICAL_TABLES.iter().position(|t| *t == f.table));
    let quarantined: u64 = files.iter().map(|f| f.rows_quarantined).sum();
    let loaded: u64 = files.iter().map(|f| f.rows_loaded).sum();
    if data_version.is_some() {
        conn.execute(
            "INSERT INTO load_history (data_version, loaded_at, midnet_version, rows_loaded, rows_quarantined, change) \
             VALUES (?, now()::TIMESTAMP, ?, ?, ?, 'load')",
            duckdb::params![version, env!("CARGO_PKG_VERSION"), loaded as i64, quarantined as i64],
        )?;
        super::quality::record(conn, version)?;
    }
    let mut top_reasons = reasons::counts(conn, Some(first_id))?;
    top_reasons.truncate(TOP_REASONS);
    Ok(LoadReport { data_version, files, skipped, refused, top_reasons, migration: None })
}

/// How an earlier load recorded the file with this SHA-256, if one did.
fn earlier_file(conn: &duckdb::Connection, sha256: &str) -> Result<Option<EarlierFile>> {
    let mut stmt = conn.prepare(
        "SELECT file, data_version, strftime(loaded_at, '%Y-%m-%d %H:%M:%S'), rows_loaded, rows_quarantined \
         FROM load_file WHERE sha256 = ?",
    )?;
    let mut rows = stmt.query_map([sha256], |r| {
        Ok(EarlierFile {
            file: r.get(0)?,
            data_version: r.get(1)?,
            loaded_at: r.get(2)?,
            rows_loaded: r.get::<_, i64>(3)? as u64,
            rows_quarantined: r.get::<_, i64>(4)? as u64,
        })
    })?;
    Ok(rows.next().transpose()?)
}

/// A lookup hands the rows back with their lines, if it found them all.
type Lookup = (Vec<BadRow>, Result<Option<Vec<AtLine>>>);

/// Where a file's bad rows are in it: being looked up (a CSV file), known by their record numbers
/// (a file read in order), or too many to keep (found again in SQL, numbered).
enum Located<'scope> {
    Looking(std::thread::ScopedJoinHandle<'scope, Lookup>),
    Numbered(Vec<BadRow>),
    FoundAgain(usize),
}

impl<'scope> Located<'scope> {
    /// Look up the lines of a CSV file's bad rows on a thread of their own (`lines.rs`), while the
    /// load's connection goes on with the next files.
    fn start(scope: &'scope std::thread::Scope<'scope, '_>, file: &'scope Accepted<'scope>, bad: BadRows) -> Self {
        if !bad.all_kept() {
            return Located::FoundAgain(bad.count);
        }
        if file.input.format == Format::Csv && !bad.kept.is_empty() {
            let bad = bad.kept;
            return Located::Looking(scope.spawn(move || {
                let lines = look_up_lines(file, &bad);
                (bad, lines)
            }));
        }
        Located::by_number(bad.kept)
    }

    /// Rows that carry their record numbers need no lookup; others are found again in SQL.
    fn by_number(bad: Vec<BadRow>) -> Self {
        if bad.iter().all(|row| row.rn.is_some()) { Located::Numbered(bad) } else { Located::FoundAgain(bad.len()) }
    }

    /// Fill the temporary table `BAD_ROWS` with the file's bad rows: `line` where known, else the
    /// record number `rn`; reason; raw. Returns how many rows were set aside, which the table must
    /// hold.
    fn into_table(self, conn: &duckdb::Connection, file: &Accepted) -> Result<usize> {
        let rows: Vec<(Option<i64>, Option<i64>, String, String)> = match self {
            Located::Looking(lookup) => {
                let (bad, lines) = lookup.join().expect("looking up lines does not panic");
                match lines? {
                    Some(lines) => {
                        lines.into_iter().map(|(line, reason, raw)| (None, Some(line), reason, raw)).collect()
                    }
                    // The two reads of the file disagree (a dialect corner the `csv` crate reads
                    // otherwise): fall back on DuckDB's own numbering.
                    None => return Located::by_number(bad).into_table(conn, file),
                }
            }
            Located::Numbered(bad) => bad.into_iter().map(|row| (row.rn, None, row.reason, row.raw)).collect(),
            Located::FoundAgain(count) => {
                let scan = scan_sql(file.input, Numbering::Numbered, &RejectedLines::Skipped);
                let sql = stage::bad_rows_sql(file.spec(), &scan, &file.header);
                conn.execute_batch(&format!(
                    "CREATE OR REPLACE TEMP TABLE {BAD_ROWS} AS SELECT rn, NULL::BIGINT AS line, reason, raw FROM ({sql})"
                ))?;
                return Ok(count);
            }
        };
        conn.execute_batch(&format!(
            "CREATE OR REPLACE TEMP TABLE {BAD_ROWS} (rn BIGINT, line BIGINT, reason VARCHAR, raw VARCHAR)"
        ))?;
        let mut appender = conn.appender(BAD_ROWS)?;
        for (rn, line, reason, raw) in &rows {
            appender.append_row(duckdb::params![rn, line, reason, raw])?;
        }
        appender.flush()?;
        Ok(rows.len())
    }
}

/// The lines of a CSV file's bad rows, read again in the dialect DuckDB read it in; None if that
/// dialect is one the `csv` crate cannot read, or the two reads disagree.
fn look_up_lines(file: &Accepted, bad: &[BadRow]) -> Result<Option<Vec<AtLine>>> {
    let Some(dialect) = lines::Dialect::sniff(&duckdb::Connection::open_in_memory()?, &file.input.path)? else {
        return Ok(None);
    };
    let fields: Vec<&str> = file.spec().fields.iter().map(|f| f.name).collect();
    let found = lines::find(&file.input.path, &dialect, &file.header, &fields, bad)?;
    Ok(lines::at_lines(bad, &found))
}

enum FileError {
    /// The file is not loaded; the others are.
    Refused(String),
    /// The load stops and rolls back.
    Fatal(Error),
}

/// What became of a file's rows.
#[derive(Debug, Clone, Copy)]
struct Counts {
    loaded: u64,
    quarantined: u64,
    waiting: u64,
}

/// Record a file this load read in `load_file`, under `id`, which its rows carry.
fn record_file(
    conn: &duckdb::Connection,
    file: &Accepted,
    id: i64,
    sha256: &str,
    data_version: Option<i64>,
    counts: Counts,
) -> Result<FileLoaded> {
    let input = file.input;
    let path = input.path.display().to_string();
    let Counts { loaded, quarantined, waiting } = counts;
    conn.execute(
        "INSERT INTO load_file VALUES (?, ?, now()::TIMESTAMP, ?, ?, ?, ?, ?)",
        duckdb::params![id, data_version, input.table, path, sha256, loaded as i64, quarantined as i64],
    )?;
    let rejects = file.rejects();
    conn.execute_batch(&format!(
        "DROP TABLE IF EXISTS {}; DROP TABLE IF EXISTS {}",
        ident(&rejects),
        ident(&format!("{rejects}_scan"))
    ))?;
    Ok(FileLoaded {
        table: input.table.to_string(),
        file: path,
        rows_loaded: loaded,
        rows_quarantined: quarantined,
        rows_waiting: waiting,
    })
}

/// The one full read of a file: good rows in, bad rows set aside, malformed CSV lines stored in
/// the file's rejects table. Returns how many rows went in.
fn insert_rows(conn: &duckdb::Connection, file: &Accepted, load_file_id: i64) -> Result<u64> {
    let spec = file.spec();
    let numbering = if stage::read_in_order(spec) { Numbering::Numbered } else { Numbering::Unnumbered };
    let scan = scan_sql(file.input, numbering, &RejectedLines::Stored(file.rejects()));
    // The row's source file: the name of the file loaded (a path given to `site load` may name the
    // site's own directories, which are not the hospital export's).
    let name = file.input.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let sql = stage::insert_sql(
        spec,
        &scan,
        &file.header,
        numbering,
        Origin { source_file: SourceFile::Named(&name), load_file_id, mapped: false },
    );
    let inserted = conn.execute(&sql, []).map_err(|e| {
        // The header was readable; a file that breaks further on (a truncated Parquet file, say)
        // stops the whole load, which rolls back.
        let path = file.input.path.display();
        Error::BadInput(format!("{path}: cannot be read: {}; nothing was loaded", first_line(&e.to_string())))
    })?;
    Ok(inserted as u64)
}

/// Keep the good rows of a file that have a local code and no standard code in `local_row`, waiting
/// for a mapping, each with its line; how many. A second read of the file, numbered, and only of a
/// file with a `local_code` column (the insert left these rows out).
fn keep_waiting_rows(conn: &duckdb::Connection, file: &Accepted, load_file_id: i64, data_version: i64) -> Result<u64> {
    if file.spec().local.is_none() || !file.header.iter().any(|h| h == "local_code") {
        return Ok(0);
    }
    let scan = scan_sql(file.input, Numbering::Numbered, &RejectedLines::Skipped);
    let name = file.input.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let origin = Origin { source_file: SourceFile::Named(&name), load_file_id, mapped: false };
    let path = file.input.path.display().to_string();
    let sql =
        stage::waiting_sql(file.spec(), &scan, &file.header, (origin, &path), &record_line_sql(file), data_version);
    Ok(conn.execute(&sql, [])? as u64)
}

/// The SQL of the line of a record numbered `rn` of a file, the header being line 1: records are
/// numbered as read, and a malformed line the reader skipped shifts the numbers of the records
/// after it, which the count of earlier rejects restores. Blank lines and quoted line breaks are
/// not counted.
fn record_line_sql(file: &Accepted) -> String {
    match file.input.format {
        Format::Csv => format!(
            "rn + 1 + (SELECT count(*) FROM (SELECT line - row_number() OVER (ORDER BY line) AS good_before \
             FROM {}) r WHERE r.good_before <= rn)",
            ident(&file.rejects())
        ),
        Format::Parquet => "rn".to_string(),
    }
}

/// Put a file's bad rows, and the lines the CSV reader could not split into fields, into the
/// quarantine with their line numbers. Returns how many rows were quarantined.
fn quarantine_rows(
    conn: &duckdb::Connection,
    file: &Accepted,
    located: Located,
    load_file_id: i64,
    data_version: Option<i64>,
) -> Result<u64> {
    let spec = file.spec();
    let version = data_version.map_or("NULL".to_string(), |v| v.to_string());
    let prefix = format!(
        "{version}, {load_file_id}, {}, {}",
        string(spec.table),
        string(&file.input.path.display().to_string())
    );
    let bad = located.into_table(conn, file)?;
    // A row known only by its record number (`Located`).
    let line = format!("coalesce(line, {})", record_line_sql(file));
    let quarantined =
        conn.execute(&format!("INSERT INTO quarantine SELECT {prefix}, {line}, reason FROM {BAD_ROWS}"), [])?;
    conn.execute_batch(&format!("DROP TABLE {BAD_ROWS}"))?;
    if quarantined != bad {
        // The file changed while it was read, or the two reads disagree: better no load than a
        // quarantine that lost rows.
        return Err(Error::Integrity(format!(
            "{}: {bad} bad rows were set aside but {quarantined} found again to quarantine; nothing was loaded",
            file.input.path.display()
        )));
    }
    let malformed = match file.input.format {
        Format::Csv => conn.execute(
            &format!(
                "INSERT INTO quarantine SELECT {prefix}, line, {} FROM {}",
                stage::malformed_line_sql(),
                ident(&file.rejects())
            ),
            [],
        )?,
        Format::Parquet => 0,
    };
    reasons::withhold_stored(conn, "quarantine", Some(load_file_id))?;
    Ok((quarantined + malformed) as u64)
}

/// The temporary table of one file's bad rows, on their way to the quarantine.
const BAD_ROWS: &str = "midnet_bad_rows";

/// What the CSV reader does with lines it cannot split into the file's fields.
enum RejectedLines {
    /// Records them in this table (DuckDB's `store_rejects`; a second read would record them twice).
    Stored(String),
    /// Skips them (an earlier read of the file recorded them).
    Skipped,
}

/// The table scan of one input file: every column as text, with a record number `rn` if numbered.
fn scan_sql(input: &Input, numbering: Numbering, rejected: &RejectedLines) -> String {
    let path = string(&input.path.to_string_lossy());
    match input.format {
        Format::Csv => {
            let rejects = match rejected {
                RejectedLines::Stored(table) => format!(
                    "store_rejects = true, rejects_table = {}, rejects_scan = {}",
                    string(table),
                    string(&format!("{table}_scan"))
                ),
                RejectedLines::Skipped => "ignore_errors = true".to_string(),
            };
            let read = format!("read_csv({path}, header = true, all_varchar = true, {rejects})");
            match numbering {
                // ORDINALITY numbers the records as the reader produces them, in file order.
                Numbering::Numbered => {
                    format!("(SELECT COLUMNS(* EXCLUDE (ordinality)), ordinality AS rn FROM {read} WITH ORDINALITY)")
                }
                Numbering::Unnumbered => read,
            }
        }
        Format::Parquet => match numbering {
            Numbering::Numbered => format!(
                "(SELECT file_row_number + 1 AS rn, COLUMNS(* EXCLUDE (file_row_number))::VARCHAR \
                 FROM read_parquet({path}, file_row_number = true))"
            ),
            Numbering::Unnumbered => format!("(SELECT COLUMNS(*)::VARCHAR FROM read_parquet({path}))"),
        },
    }
}

fn header_of(conn: &duckdb::Connection, scan: &str, input: &Input) -> Result<Vec<String>, FileError> {
    let sql = format!("SELECT column_name FROM (DESCRIBE SELECT * FROM {scan}) WHERE column_name <> 'rn'");
    let names: std::result::Result<Vec<String>, duckdb::Error> =
        conn.prepare(&sql).and_then(|mut s| s.query_map([], |r| r.get::<_, String>(0))?.collect());
    names.map_err(|e| {
        let text = e.to_string();
        FileError::Refused(
            too_long_line(input, &text)
                .unwrap_or_else(|| format!("cannot be read as {:?}: {}", input.format, first_line(&text))),
        )
    })
}

/// The reason for a CSV file whose header read failed on a line longer than the reader takes,
/// naming the line (DuckDB's message names the line of its sample, not of the file).
fn too_long_line(input: &Input, error: &str) -> Option<String> {
    let max: u64 = error.split("Maximum line size of ").nth(1)?.split_whitespace().next()?.parse().ok()?;
    let fix = "a line break is missing there, or the file is damaged: fix that line and load again";
    Some(match lines::first_longer_than(&input.path, max) {
        Ok(Some((line, length))) => {
            format!("line {line} is {length} bytes long, longer than the {max} bytes a CSV line may have: {fix}")
        }
        _ => format!("a record is longer than the {max} bytes a CSV line may have: {fix}"),
    })
}

/// Refuse a CSV file with no header line (empty, or blank lines only), or whose beginning is not
/// UTF-8 (Japanese hospital systems often export Shift_JIS): one clear refusal is better than a
/// header the reader makes up (`column0`) or every row with a kanji quarantined.
fn require_text(path: &Path) -> Result<(), FileError> {
    use std::io::Read;
    let mut head = Vec::with_capacity(1 << 16);
    let file = std::fs::File::open(path).map_err(|e| FileError::Fatal(Error::io(path, e)))?;
    let length = file.metadata().map_err(|e| FileError::Fatal(Error::io(path, e)))?.len();
    file.take(1 << 16).read_to_end(&mut head).map_err(|e| FileError::Fatal(Error::io(path, e)))?;
    if head.len() as u64 == length && head.iter().all(u8::is_ascii_whitespace) {
        return Err(FileError::Refused(
            "the file is empty: it has no header line (the first line names the columns)".to_string(),
        ));
    }
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
    let has = |column: &str| header.iter().any(|h| h == column);
    // A file of the hospital's own codes may have no column for the standard code.
    let local_instead = |name: &str| spec.local.is_some_and(|l| l.code_field == name) && has("local_code");
    let missing: Vec<&str> =
        spec.fields.iter().filter(|f| f.required && !has(f.name) && !local_instead(f.name)).map(|f| f.name).collect();
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
            Some(t) => {
                let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
                inputs.push(Input { path, table: spec_for(t).map(|s| s.table).unwrap(), format, bytes })
            }
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

/// How many of a load's most frequent quarantine reasons its report lists.
const TOP_REASONS: usize = 10;

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
}
