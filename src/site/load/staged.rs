//! Rows another reader of a hospital's data staged in tables of the database (the SS-MIX2 import,
//! `site::ssmix2::import`), brought in by the load's own checks: one staging table per clinical
//! table, validated by the same SQL as a file of `site load`, its bad rows quarantined at their own
//! source file and line (for SS-MIX2, the segment), its rows with a local code kept waiting for a
//! mapping. The caller holds the transaction; `StagedLoads::finish` ends the reading the same way
//! for every importer: the stagings dropped, the load in `load_history`, its quality recorded.
//!
//! The readers of files a hospital sends by the month (claims, DPC) share more: the transaction
//! their reading is one data version in (`import_as_one_version`), and the withdrawal of the files
//! a month sent again replaces (`Replaced`).

use super::set_aside::SetAside;
use super::spec::TableSpec;
use super::stage::{self, Numbering, Origin, SourceFile};
use super::{FileLoaded, reasons, spec_for, timings, waiting};
use crate::error::Result;
use crate::site::SiteDir;
use crate::sql::duckdb::{ident, string};
use duckdb::types::{ToSqlOutput, ValueRef};

/// The staging table of `table` of the reader `reader` (`midnet_receipt_diagnosis`).
pub fn staging_name(reader: &str, table: &str) -> String {
    format!("midnet_{reader}_{table}")
}

/// Bring a reading of the files of `reader` (`receipt`, `dpc`) into `site` as one data version, in
/// one transaction on `conn`: the staging tables of `tables` (patient first; named by
/// `staging_name`) are created, then `stage`, given the version, withdraws what the files replace,
/// fills the stagings and records the files, and says what it could not stage. The staged rows come
/// in through the load's checks, the problems go to the quarantine, the load is recorded; the
/// transaction commits (the crash point `READER-committed` after it) and the database is
/// checkpointed. On an error the transaction rolls back: nothing of the reading stays. Returns the
/// version and what each table's rows became.
pub fn import_as_one_version(
    site: &SiteDir,
    conn: &duckdb::Connection,
    reader: &'static str,
    tables: &[&'static str],
    stage: impl FnOnce(i64) -> Result<Vec<Problem>>,
) -> Result<(i64, Vec<FileLoaded>)> {
    let names: Vec<String> = tables.iter().map(|table| staging_name(reader, table)).collect();
    let specs: Vec<&'static TableSpec> =
        tables.iter().map(|table| spec_for(table).expect("an importer's tables are clinical tables")).collect();
    conn.execute_batch("BEGIN TRANSACTION")?;
    let imported = (|| -> Result<(i64, Vec<FileLoaded>)> {
        let version: i64 =
            conn.query_row("SELECT coalesce(max(data_version), 0) + 1 FROM load_history", [], |r| r.get(0))?;
        for (spec, name) in specs.iter().zip(&names) {
            conn.execute_batch(&create_sql(spec, name))?;
        }
        let problems = stage(version)?;
        let stagings: Vec<Staging> = specs
            .iter()
            .zip(&names)
            .map(|(&spec, name)| Staging { spec, table: name, file: reader, kind: StagingKind::Table })
            .collect();
        let mut loads = StagedLoads::begin(conn, stagings, version)?;
        loads.load(conn)?;
        loads.quarantine(conn, &problems)?;
        let loaded = timings::time("finish the load", || loads.finish(conn, reader))?;
        site.keep_loaded_rows(conn, Some(version))?;
        Ok((version, loaded))
    })();
    let (version, loaded) = match imported {
        Ok(done) => done,
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(e);
        }
    };
    timings::time("commit", || conn.execute_batch("COMMIT"))?;
    crate::crash::point(&format!("{reader}-committed"));
    timings::time("checkpoint", || conn.execute_batch("CHECKPOINT"))?;
    Ok((version, loaded))
}

/// The files a reader's table of files `file_table` records, for telling which files given are new.
/// A file the site holds as current is skipped; a file a later one replaced comes back as new (a
/// hospital withdrawing its correction sends the original again), unless the current file of its
/// month is given beside it (the same folder given again changes nothing).
pub struct Known {
    current: std::collections::HashSet<String>,
    replaced: std::collections::HashSet<String>,
    given: std::collections::HashSet<String>,
}

impl Known {
    /// The files of `file_table`, and the `source_file` of each file given.
    pub fn of(conn: &duckdb::Connection, file_table: &str, given: &[&str]) -> Result<Known> {
        let sha256s = |current: bool| -> Result<std::collections::HashSet<String>> {
            let condition = if current { "IS NULL" } else { "IS NOT NULL" };
            let sql = format!("SELECT sha256 FROM {} WHERE withdrawn {condition}", ident(file_table));
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<std::result::Result<_, _>>()?)
        };
        let current = sha256s(true)?;
        let replaced = sha256s(false)?.into_iter().filter(|sha| !current.contains(sha)).collect();
        Ok(Known { current, replaced, given: given.iter().map(|s| s.to_string()).collect() })
    }

    /// Whether the file of SHA-256 `sha256` is new, its month's current file being `current_of_month`.
    pub fn is_new(&self, sha256: &str, current_of_month: Option<&String>) -> bool {
        if self.current.contains(sha256) {
            return false;
        }
        // A replaced file given beside its month's current file: the same folder given again.
        let current_given = current_of_month.is_some_and(|f| self.given.contains(f));
        !(self.replaced.contains(sha256) && current_given)
    }
}

/// The files of a reader that new files replace (a month a hospital sent again), registered in a
/// temporary table for the statements that withdraw them; `take_over_patients` drops it.
pub struct Replaced {
    any: bool,
}

/// The patient keys of rows beside the clinical tables that need their patient row: the claims'
/// month-by-month diagnoses and receipts, and the rows waiting for a mapping (their patient is
/// checked when they come in).
const KEPT_BY: [&str; 3] = [
    "SELECT patient_key FROM receipt_diagnosis",
    "SELECT patient_key FROM receipt_month",
    "SELECT json_extract_string(fields, '$.patient_key') FROM local_row WHERE brought_in IS NULL",
];

impl Replaced {
    /// The condition on a row's `source_file` that it is of a file replaced.
    pub const OF: &'static str = "source_file IN (SELECT source_file FROM midnet_replaced)";

    /// Register the files `source_files` (their rows' `source_file`).
    pub fn register(conn: &duckdb::Connection, source_files: &[String]) -> Result<Replaced> {
        conn.execute_batch("CREATE OR REPLACE TEMP TABLE midnet_replaced (source_file VARCHAR)")?;
        let mut appender = conn.appender("midnet_replaced")?;
        for file in source_files {
            appender.append_row([file])?;
        }
        appender.flush()?;
        Ok(Replaced { any: !source_files.is_empty() })
    }

    /// Withdraw the files: their rows out of `tables`, each marked withdrawn under `data_version`
    /// in the reader's table of files `file_table`, and their patient rows out unless a row of the
    /// patient remains, in a clinical table (of any source), in the claims' month-by-month
    /// records or waiting for a mapping: no row is left without its patient. How many rows left
    /// the clinical tables.
    pub fn withdraw(
        &self,
        conn: &duckdb::Connection,
        file_table: &str,
        tables: &[&str],
        data_version: i64,
    ) -> Result<u64> {
        if !self.any {
            return Ok(0);
        }
        let mut rows = 0;
        let of = Self::OF;
        for table in tables {
            rows += conn.execute(&format!("DELETE FROM {} WHERE {of}", ident(table)), [])?;
        }
        conn.execute(
            &format!("UPDATE {} SET withdrawn = ? WHERE withdrawn IS NULL AND {of}", ident(file_table)),
            [data_version],
        )?;
        let remaining: Vec<String> = crate::schema::CLINICAL_TABLES[1..]
            .iter()
            .map(|table| format!("SELECT patient_key FROM {}", ident(table)))
            .chain(KEPT_BY.iter().map(|sql| sql.to_string()))
            .collect();
        rows += conn.execute(
            &format!(
                "DELETE FROM patient WHERE {of} AND patient_key NOT IN (SELECT * FROM ({}) WHERE patient_key IS NOT NULL)",
                remaining.join(" UNION ALL ")
            ),
            [],
        )?;
        Ok(rows as u64)
    }

    /// The patients whose row the import leaves as it is: every patient with a row, but those whose
    /// row a replaced file made and a row still needs (the new files' row takes its place,
    /// `take_over_patients`: a month sent again corrects a birth date or sex). A row another file
    /// made (the EHR's, another month's) stays.
    pub fn patients_keeping_their_row(&self, conn: &duckdb::Connection) -> Result<std::collections::HashSet<String>> {
        let sql = format!("SELECT patient_key FROM patient WHERE NOT coalesce({}, false)", Self::OF);
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Take out the patient rows of the replaced files whose patient the new files staged a row of
    /// in `patient_staging` (the corrected file's values win), and drop the registration. How many
    /// rows left the patient table.
    pub fn take_over_patients(self, conn: &duckdb::Connection, patient_staging: &str) -> Result<u64> {
        let rows = if self.any {
            conn.execute(
                &format!(
                    "DELETE FROM patient WHERE {} AND patient_key IN (SELECT patient_key FROM {})",
                    Self::OF,
                    ident(patient_staging)
                ),
                [],
            )?
        } else {
            0
        };
        conn.execute_batch("DROP TABLE midnet_replaced")?;
        Ok(rows as u64)
    }
}

/// The columns of a staging table of `spec`'s table: `rn` (the row's number in the staging), every
/// field as text, the row's `source_file` and its `line` in that file.
pub fn create_sql(spec: &TableSpec, staging: &str) -> String {
    let fields: Vec<String> = spec.fields.iter().map(|f| format!("{} VARCHAR", ident(f.name))).collect();
    format!(
        "CREATE OR REPLACE TEMP TABLE {} (rn BIGINT, {}, source_file VARCHAR NOT NULL, line BIGINT NOT NULL)",
        ident(staging),
        fields.join(", ")
    )
}

/// Append one row to a staging table of `spec`'s table: numbered `rn`, each field of `spec` its
/// value in `row` (a field `row` does not name is NULL), placed at `line` of `source_file`. The
/// values are borrowed, not copied: a row's text goes to DuckDB once.
pub fn append_row(
    appender: &mut duckdb::Appender,
    spec: &TableSpec,
    rn: i64,
    row: &[(&str, Option<String>)],
    source_file: &str,
    line: i64,
) -> Result<()> {
    let mut values = Vec::with_capacity(spec.fields.len() + 3);
    values.push(ToSqlOutput::Borrowed(ValueRef::BigInt(rn)));
    for field in spec.fields {
        let value = row.iter().find(|(name, _)| *name == field.name).and_then(|(_, v)| v.as_deref());
        values.push(value.map_or(ToSqlOutput::Borrowed(ValueRef::Null), text));
    }
    values.push(text(source_file));
    values.push(ToSqlOutput::Borrowed(ValueRef::BigInt(line)));
    appender.append_row(duckdb::appender_params_from_iter(values))?;
    Ok(())
}

/// `s` as a text value, borrowed.
fn text(s: &str) -> ToSqlOutput<'_> {
    ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes()))
}

/// One staging table to bring in: of `spec`'s table, recorded in `load_file` as `file` (the
/// reader's name: `ss-mix2`, `receipt`, `dpc`).
pub struct Staging<'a> {
    pub spec: &'static TableSpec,
    pub table: &'a str,
    pub file: &'a str,
    pub kind: StagingKind,
}

/// What a staging is in the site's database, which decides how it is dropped at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StagingKind {
    /// A temporary table the reader appends to (claims, DPC).
    Table,
    /// A temporary view over files the reader wrote outside the transaction (SS-MIX2).
    View,
}

impl StagingKind {
    fn drop_sql(self, name: &str) -> String {
        match self {
            StagingKind::Table => format!("DROP TABLE {}", ident(name)),
            StagingKind::View => format!("DROP VIEW {}", ident(name)),
        }
    }
}

/// What a reader could not stage, quarantined at its place in the hospital's file: `line` is the
/// file's line (claims) or the message's segment (SS-MIX2), `reason` names the field.
pub struct Problem {
    pub table: &'static str,
    pub source_file: String,
    pub line: i64,
    pub reason: String,
}

/// What one staging table's rows became, and its `load_file` row.
pub struct StagedLoad {
    pub load_file_id: i64,
    pub loaded: FileLoaded,
}

/// The staging tables of one reading of a hospital's data, brought in batch by batch under
/// `data_version`, each table as one `load_file` row however many batches fill it.
pub struct StagedLoads<'a> {
    set_aside: SetAside,
    data_version: i64,
    loads: Vec<(Staging<'a>, StagedLoad)>,
}

impl<'a> StagedLoads<'a> {
    /// Record a `load_file` row for each staging table (the patient table first).
    pub fn begin(conn: &duckdb::Connection, stagings: Vec<Staging<'a>>, data_version: i64) -> Result<StagedLoads<'a>> {
        let set_aside = SetAside::register(conn)?;
        let mut loads = Vec::new();
        for staging in stagings {
            let id: i64 =
                conn.query_row("SELECT coalesce(max(load_file_id), 0) + 1 FROM load_file", [], |r| r.get(0))?;
            // The staging's own hash would repeat if the same rows were staged again (a file changed
            // and changed back): the reader's, load's and table's names make each import's row its own.
            let sha256 = crate::digest::sha256_hex(
                format!("{} staging\n{data_version}\n{}", staging.file, staging.spec.table).as_bytes(),
            );
            conn.execute(
                "INSERT INTO load_file VALUES (?, ?, now()::TIMESTAMP, ?, ?, ?, 0, 0)",
                duckdb::params![id, data_version, staging.spec.table, staging.file, sha256],
            )?;
            let loaded = FileLoaded {
                table: staging.spec.table.to_string(),
                file: staging.file.to_string(),
                rows_loaded: 0,
                rows_quarantined: 0,
                rows_waiting: 0,
            };
            loads.push((staging, StagedLoad { load_file_id: id, loaded }));
        }
        Ok(StagedLoads { set_aside, data_version, loads })
    }

    /// Bring in the rows of the stagings, table by table, leaving them as they are: for stagings
    /// read once (the SS-MIX2 import's views over the files it staged, the claims' and DPC's
    /// tables).
    pub fn load(&mut self, conn: &duckdb::Connection) -> Result<()> {
        for (staging, load) in &mut self.loads {
            load_one(conn, &self.set_aside, staging, load, self.data_version)?;
        }
        Ok(())
    }

    /// What each table's rows became so far.
    pub fn loads_mut(&mut self) -> impl Iterator<Item = &mut StagedLoad> {
        self.loads.iter_mut().map(|(_, load)| load)
    }

    /// Put what the reader could not stage into the quarantine, each under its table's
    /// `load_file` row, with whatever a reason quotes withheld.
    pub fn quarantine(&mut self, conn: &duckdb::Connection, problems: &[Problem]) -> Result<()> {
        let version = self.data_version;
        for load in self.loads_mut() {
            let of_table: Vec<&Problem> = problems.iter().filter(|p| p.table == load.loaded.table).collect();
            if of_table.is_empty() {
                continue;
            }
            for p in &of_table {
                conn.execute(
                    "INSERT INTO quarantine VALUES (?, ?, ?, ?, ?, ?)",
                    duckdb::params![version, load.load_file_id, p.table, p.source_file, p.line, p.reason],
                )?;
            }
            reasons::withhold_stored(conn, "quarantine", Some(load.load_file_id))?;
            load.loaded.rows_quarantined += of_table.len() as u64;
        }
        Ok(())
    }

    /// End the reading: bring in the waiting rows whose codes the site has already mapped, record
    /// each table's counts in its `load_file` row, drop the stagings, and record the load in
    /// `load_history` (its `note` names the reader) and its quality. What each table's rows became.
    pub fn finish(mut self, conn: &duckdb::Connection, note: &str) -> Result<Vec<FileLoaded>> {
        for brought in waiting::bring_in_with(conn, &self.set_aside, self.data_version)? {
            if let Some(load) = self.loads_mut().find(|l| l.load_file_id == brought.load_file_id) {
                load.loaded.rows_loaded += brought.rows_loaded;
                load.loaded.rows_quarantined += brought.rows_quarantined;
                load.loaded.rows_waiting -= brought.rows_loaded + brought.rows_quarantined;
            }
        }
        for (staging, load) in &self.loads {
            conn.execute(
                "UPDATE load_file SET rows_loaded = ?, rows_quarantined = ? WHERE load_file_id = ?",
                duckdb::params![load.loaded.rows_loaded as i64, load.loaded.rows_quarantined as i64, load.load_file_id],
            )?;
            conn.execute_batch(&staging.kind.drop_sql(staging.table))?;
        }
        let tables: Vec<FileLoaded> = self.loads.into_iter().map(|(_, load)| load.loaded).collect();
        let rows_loaded: u64 = tables.iter().map(|t| t.rows_loaded).sum();
        let rows_quarantined: u64 = tables.iter().map(|t| t.rows_quarantined).sum();
        conn.execute(
            "INSERT INTO load_history (data_version, loaded_at, midnet_version, rows_loaded, rows_quarantined, change, note) \
             VALUES (?, now()::TIMESTAMP, ?, ?, ?, 'load', ?)",
            duckdb::params![self.data_version, env!("CARGO_PKG_VERSION"), rows_loaded as i64, rows_quarantined as i64, note],
        )?;
        crate::site::quality::record(conn, self.data_version)?;
        Ok(tables)
    }
}

/// The set-aside rows of an insert, by their number in the staging, on their way to the quarantine.
const SET_ASIDE_ROWS: &str = "midnet_staged_set_aside";

/// Insert one staging table's good rows, quarantine the bad ones the insert set aside (at their
/// own source file and line), and keep the waiting ones.
fn load_one(
    conn: &duckdb::Connection,
    set_aside: &SetAside,
    staging: &Staging,
    load: &mut StagedLoad,
    data_version: i64,
) -> Result<()> {
    let spec = staging.spec;
    let scan = ident(staging.table);
    let load_file_id = load.load_file_id;
    let mut present: Vec<String> = spec.fields.iter().map(|f| f.name.to_string()).collect();
    present.extend(["source_file".to_string(), "line".to_string()]);
    let origin = Origin { source_file: SourceFile::PerRow, load_file_id, mapped: false };
    let inserted = timings::time(&format!("insert {}", spec.table), || {
        conn.execute(&stage::insert_sql(spec, &scan, &present, Numbering::Numbered, origin), [])
    })?;
    let set_aside_started = std::time::Instant::now();
    let bad = set_aside.take();
    debug_assert!(bad.all_kept(), "a staging's rows are numbered: every bad row is kept");
    conn.execute_batch(&format!("CREATE OR REPLACE TEMP TABLE {SET_ASIDE_ROWS} (rn BIGINT, reason VARCHAR)"))?;
    {
        let mut appender = conn.appender(SET_ASIDE_ROWS)?;
        for row in &bad.kept {
            appender.append_row(duckdb::params![row.rn, row.reason])?;
        }
        appender.flush()?;
    }
    let quarantined = conn.execute(
        &format!(
            "INSERT INTO quarantine SELECT {data_version}, {load_file_id}, {table}, s.source_file, s.line, b.reason \
             FROM {SET_ASIDE_ROWS} b JOIN {scan} s USING (rn)",
            table = string(spec.table),
        ),
        [],
    )?;
    conn.execute_batch(&format!("DROP TABLE {SET_ASIDE_ROWS}"))?;
    if quarantined > 0 {
        reasons::withhold_stored(conn, "quarantine", Some(load_file_id))?;
    }
    timings::add_time("quarantine set aside", set_aside_started.elapsed());
    let waiting_started = std::time::Instant::now();
    let waiting = match spec.local {
        Some(_) => conn
            .execute(&stage::waiting_sql(spec, &scan, &present, (origin, staging.file), "t_line", data_version), [])?,
        None => 0,
    };
    timings::add_time("waiting", waiting_started.elapsed());
    load.loaded.rows_loaded += inserted as u64;
    load.loaded.rows_quarantined += quarantined as u64;
    load.loaded.rows_waiting += waiting as u64;
    Ok(())
}
