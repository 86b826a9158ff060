//! `midnet site import ss-mix2 --site DIR ROOT`: a hospital's SS-MIX2 standardized storage into
//! the site's data source, incrementally and atomically (docs/ss-mix2.md, "The import").
//!
//! The tree is walked a batch of patient folders at a time; each batch's current files are compared
//! with their records (`ssmix2_file`), its rows staged and brought in, and the batch forgotten
//! before the next, so that memory holds one batch whatever the storage's size. A file whose size
//! and modification time equal its record is taken as unchanged without being read (unless
//! `verify_all`); any other is hashed, and one whose path, size or SHA-256 the site has not
//! recorded changed. Rows are withdrawn and rebuilt by what they depend on:
//! - a drug order, an administration or a lab result comes from one file: the rows of a file that
//!   changed or is no longer current are taken out, and a changed file's rows staged again;
//! - a patient's diagnoses are the snapshot of their latest PPR-01; their encounters are paired
//!   over all of their ADT messages; their sex and birth date are those of their latest ADT-00
//!   (else of their latest message): when any such file of a patient changes, those rows of the
//!   patient are rebuilt from the patient's current files (all in the patient's folder, so in one
//!   batch).
//!
//! The rows staged go through `site load`'s checks (`load::staged`), and everything (withdrawals,
//! rows, quarantine, the files recorded) of every batch commits in one transaction: one data
//! version.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;

use super::encounters;
use super::hl7;
use super::observation;
use super::read::{self, EncounterEvent, Record};
use super::rows::{self, Codes, Row};
use super::scratch::Scratch;
use super::storage::{self, Storage, StoredFile};
use crate::error::{Error, IoContext, Result};
use crate::site::SiteDir;
use crate::site::keys::PatientKey;
use crate::site::load::reasons::hl7 as problems;
use crate::site::load::staged::{self, StagedLoads, Staging, StagingKind};
use crate::site::load::timings;
use crate::site::load::{FileLoaded, spec_for};
use crate::sql::duckdb::ident;

/// How an import runs.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Hash every current file, even one whose size and modification time equal its record: for a
    /// storage that may have been edited in place keeping both.
    pub verify_all: bool,
    /// Patient folders read, staged and forgotten at a time.
    pub batch_patients: usize,
}

/// Patient folders a batch holds unless told otherwise: a few tens of thousands of files.
pub const BATCH_PATIENTS: u64 = 1000;

impl Default for Options {
    fn default() -> Options {
        Options { verify_all: false, batch_patients: BATCH_PATIENTS as usize }
    }
}

/// DuckDB's memory for an import, whatever the storage's size. Without a limit the rows the
/// transaction inserts stay in DuckDB's buffer pool (80 % of the machine by default) until the
/// commit, and the peak grows with the storage (BENCHMARKS.md, issue 20); under it DuckDB evicts
/// the blocks it has written to the database file and spills the rest to its temporary folder.
/// DuckDB needs some memory for each of its threads (its documentation asks 125 MB a thread), so
/// the cap grows with them: on a many-core site server a fixed cap would fail the import "Out of
/// Memory" where a small machine's passes.
fn memory_limit(threads: u64) -> String {
    const FLOOR_MB: u64 = 512;
    const PER_THREAD_MB: u64 = 128;
    format!("{}MB", (threads * PER_THREAD_MB).max(FLOOR_MB))
}

/// What an import did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    /// The data version it made: none when nothing had changed since the last import.
    pub data_version: Option<i64>,
    /// The storage's current files (`_1`, not deleted).
    pub files_current: u64,
    /// Current files new or changed since the last import.
    pub files_changed: u64,
    /// Files whose rows were withdrawn: superseded, deleted or gone since the last import.
    pub files_withdrawn: u64,
    /// Files read: the changed ones, and those a changed file's patient-level rows are rebuilt from.
    pub files_read: u64,
    /// Recorded files hashed because their size or modification time differed from their record
    /// (or `verify_all`), found unchanged: their new modification time is recorded.
    pub files_touched: u64,
    /// Entries of the tree that do not fit the layout: not read (their paths hold patient ids, so
    /// only their number is reported).
    pub misplaced: u64,
    /// Rows taken out: those of files no longer current, and the patient-level rows rebuilt.
    pub rows_withdrawn: u64,
    /// The changed files by data kind: read, skipped (a kind the import does not take), quarantined.
    pub messages: Vec<KindCounts>,
    /// What each table's staged rows became.
    pub tables: Vec<FileLoaded>,
    pub migration: Option<crate::site::migrate::Migration>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct KindCounts {
    pub data_kind: String,
    pub read: u64,
    pub skipped: u64,
    pub quarantined: u64,
}

/// The clinical tables the import stages, patient first (the others' rows refer to it).
const TABLES: [&str; 6] = ["patient", "encounter", "diagnosis", "drug_order", "drug_administration", "lab_result"];

/// The data kinds the import reads; the others (allergies, radiology, …) are recorded as skipped.
const TAKEN: [&str; 10] =
    ["ADT-00", "ADT-12", "ADT-22", "ADT-52", "PPR-01", "OMP-01", "OMP-02", "OMP-11", "OMP-12", "OML-11"];
const ADT: [&str; 3] = ["ADT-12", "ADT-22", "ADT-52"];
/// Kinds whose rows each come from one file.
const EVENTS: [&str; 5] = ["OMP-01", "OMP-02", "OMP-11", "OMP-12", "OML-11"];

/// A current file of the storage, known by its keys.
struct Current<'a> {
    stored: &'a StoredFile,
    path_key: String,
    patient_key: String,
    /// The relative path with the patient id replaced by the patient key.
    source_file: String,
    /// Its SHA-256 when known before it is read: from its record, or hashed to compare with it.
    sha256: Option<String>,
}

/// A file an earlier import read (`ssmix2_file`), still current then.
struct Recorded {
    bytes: i64,
    modified_ns: Option<i64>,
    sha256: String,
    source_file: String,
    patient_key: String,
    data_kind: String,
}

/// What is taken from a file read.
#[derive(Debug, Clone, Copy, Default)]
struct Take {
    changed: bool,
    patient: bool,
    encounters: bool,
    diagnoses: bool,
    events: bool,
}

/// What is rebuilt of a patient with a file changed or withdrawn: their row when the file it comes
/// from changed, their encounters and diagnoses when an ADT or PPR-01 file of theirs did.
#[derive(Debug, Clone, Copy, Default)]
struct Rebuild {
    patient: bool,
    encounters: bool,
    diagnoses: bool,
}

/// The patient keys of the batch being imported, and of every batch so far.
const BATCH: &str = "midnet_ssmix2_batch";
const SEEN: &str = "midnet_ssmix2_seen";

/// Import the storage under `root` into `site`.
pub fn import(site: &SiteDir, root: &Path, options: Options) -> Result<ImportReport> {
    if !root.is_dir() {
        return Err(Error::NotFound(format!("{}: no such directory (the SS-MIX2 storage's root)", root.display())));
    }
    site.refuse_at_spark("spark_ssmix2", "importing an SS-MIX2 storage", "import it into a DuckDB site")?;
    let (conn, migration) = site.open_migrated()?;
    let threads: i64 = conn.query_row("SELECT current_setting('threads')", [], |r| r.get(0))?;
    conn.execute_batch(&format!("SET memory_limit = '{}'", memory_limit(threads.max(1) as u64)))?;
    let key = PatientKey::of(site)?;
    let codes = Codes::of(&conn)?;
    let mut scratch = Scratch::create(site)?;
    let mut report = ImportReport {
        data_version: None,
        files_current: 0,
        files_changed: 0,
        files_withdrawn: 0,
        files_read: 0,
        files_touched: 0,
        misplaced: 0,
        rows_withdrawn: 0,
        messages: Vec::new(),
        tables: Vec::new(),
        migration,
    };
    conn.execute_batch("BEGIN TRANSACTION")?;
    let imported = (|| -> Result<Option<(i64, Vec<FileLoaded>)>> {
        let version: i64 =
            conn.query_row("SELECT coalesce(max(data_version), 0) + 1 FROM load_history", [], |r| r.get(0))?;
        let any_recorded: bool =
            conn.query_row("SELECT count(*) > 0 FROM ssmix2_file WHERE withdrawn IS NULL", [], |r| r.get(0))?;
        let any_claims: bool = conn.query_row(
            "SELECT (SELECT count(*) FROM receipt_file WHERE withdrawn IS NULL) \
             + (SELECT count(*) FROM dpc_file WHERE withdrawn IS NULL) > 0",
            [],
            |r| r.get(0),
        )?;
        let mut import = Import {
            conn: &conn,
            root,
            key: &key,
            codes: &codes,
            options,
            version,
            any_recorded,
            any_claims,
            loads: None,
            scratch: &mut scratch,
            staged_rows: [0; TABLES.len()],
        };
        conn.execute_batch(&format!("CREATE OR REPLACE TEMP TABLE {SEEN} (patient_key VARCHAR)"))?;
        let mut walked = std::time::Instant::now();
        storage::walk_by_patient(root, options.batch_patients, &mut |batch| {
            timings::add_time("walk", walked.elapsed());
            import.batch(&batch, &[], &mut report)?;
            crate::crash::point("import-batch");
            timings::lap("batch");
            walked = std::time::Instant::now();
            Ok(())
        })?;
        import.unseen(&mut report)?;
        conn.execute_batch(&format!("DROP TABLE {SEEN}"))?;
        crate::crash::point("import-staged");
        let finished = import.finish()?;
        if let Some((version, _)) = &finished {
            timings::time("keep loaded rows", || site.keep_loaded_rows(&conn, Some(*version)))?;
        }
        Ok(finished)
    })();
    match imported {
        Ok(Some((version, tables))) => {
            timings::time("commit", || conn.execute_batch("COMMIT"))?;
            report.data_version = Some(version);
            report.tables = tables;
        }
        // No data changed: only the new modification times of files found unchanged are kept.
        Ok(None) if report.files_touched > 0 => conn.execute_batch("COMMIT")?,
        Ok(None) => conn.execute_batch("ROLLBACK")?,
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(e);
        }
    }
    let Some(version) = report.data_version else {
        return Ok(report);
    };
    crate::crash::point("import-committed");
    timings::time("checkpoint", || conn.execute_batch("CHECKPOINT"))?;
    report.messages = kind_counts(&conn, version)?;
    timings::lap("finish");
    timings::totals();
    Ok(report)
}

/// An import under way, inside its transaction.
struct Import<'c> {
    conn: &'c duckdb::Connection,
    root: &'c Path,
    key: &'c PatientKey,
    codes: &'c Codes,
    options: Options,
    version: i64,
    /// Whether the site had recorded any current file before this import.
    any_recorded: bool,
    /// Whether the site holds claims: a claims import makes a patient's row when the site has
    /// none, and the EHR's row (with the death date claims do not carry) takes it over.
    any_claims: bool,
    /// The stagings and their `load_file` rows, from the first batch with anything changed.
    loads: Option<StagedLoads<'static>>,
    /// Where the batches' rows are staged until the end.
    scratch: &'c mut Scratch,
    /// The rows staged so far in each table (of `TABLES`): a row's number in its staging follows.
    staged_rows: [i64; TABLES.len()],
}

/// The names of the staging tables, one per table the import fills.
static STAGING_NAMES: std::sync::LazyLock<[String; 6]> =
    std::sync::LazyLock::new(|| TABLES.map(|table| staged::staging_name("ssmix2", table)));

impl Import<'_> {
    /// Compare one batch of the storage with its records, withdraw what went, stage and bring in
    /// what changed. `unseen`: recorded patients of the batch who have no file in the tree.
    fn batch(&mut self, storage: &Storage, unseen: &[String], report: &mut ImportReport) -> Result<()> {
        report.misplaced += storage.misplaced.len() as u64;
        let mut patient_keys: HashMap<&str, String> = HashMap::new();
        for file in &storage.files {
            patient_keys.entry(file.name.patient.as_str()).or_insert_with(|| self.key.hash(&file.name.patient));
        }
        let batch_keys: BTreeSet<&str> =
            patient_keys.values().map(String::as_str).chain(unseen.iter().map(String::as_str)).collect();
        timings::time("mark batch", || self.mark_batch(&batch_keys))?;
        // A site that had recorded nothing before this import (its first) has nothing to compare.
        let recorded =
            if self.any_recorded { timings::time("recorded", || recorded(self.conn))? } else { HashMap::new() };
        let mut current: Vec<Current> =
            storage.current().into_iter().map(|f| known(self.key, &patient_keys[f.name.patient.as_str()], f)).collect();
        let touched = timings::time("hash recorded", || self.hash_unless_unchanged(&mut current, &recorded))?;
        report.files_current += current.len() as u64;
        report.files_touched += touched.len() as u64;
        let changed: Vec<usize> = (0..current.len())
            .filter(|&i| {
                let c = &current[i];
                recorded
                    .get(&c.path_key)
                    .is_none_or(|r| r.bytes != c.stored.bytes as i64 || c.sha256.as_deref() != Some(r.sha256.as_str()))
            })
            .collect();
        let current_keys: BTreeSet<&str> = current.iter().map(|c| c.path_key.as_str()).collect();
        let gone: Vec<(&String, &Recorded)> =
            recorded.iter().filter(|(path_key, _)| !current_keys.contains(path_key.as_str())).collect();
        timings::time("touch", || touch(self.conn, &touched))?;
        report.files_changed += changed.len() as u64;
        report.files_withdrawn += gone.len() as u64;
        if changed.is_empty() && gone.is_empty() {
            return Ok(());
        }
        // Files superseded in place (same path, new content) and files gone both lose their rows.
        let withdrawn: Vec<&Recorded> = changed
            .iter()
            .filter_map(|&i| recorded.get(&current[i].path_key))
            .chain(gone.iter().map(|(_, r)| *r))
            .collect();
        let withdrawn_keys: Vec<&str> = changed
            .iter()
            .map(|&i| current[i].path_key.as_str())
            .filter(|k| recorded.contains_key(*k))
            .chain(gone.iter().map(|(k, _)| k.as_str()))
            .collect();
        let mut rebuilt = rebuilt_patients(&current, &changed, &withdrawn);
        // Patients with no file recorded have no row of an earlier import to find or take out.
        let patient_rows = if recorded.is_empty() {
            HashMap::new()
        } else {
            timings::time("patient rows", || patient_rows(self.conn))?
        };
        let plan = plan(&current, &changed, &mut rebuilt, &patient_rows);
        report.files_read += plan.len() as u64;
        if !recorded.is_empty() || self.any_claims {
            report.rows_withdrawn +=
                timings::time("withdraw", || withdraw(self.conn, &withdrawn, &withdrawn_keys, &rebuilt, self.version))?;
        }
        let patients: Vec<&[(usize, Take)]> =
            plan.chunk_by(|a, b| current[a.0].patient_key == current[b.0].patient_key).collect();
        let reads: Vec<PatientRead> = timings::time("read+parse", || {
            patients
                .par_iter()
                .map(|planned| read_patient(self.root, self.codes, &current, planned))
                .collect::<Result<Vec<_>>>()
        })?;
        let (conn, version) = (self.conn, self.version);
        self.loads()?;
        timings::time("stage", || stage(self.scratch, &current, &reads, &mut self.staged_rows))?;
        let files: Vec<&FileRead> = reads.iter().flat_map(|r| &r.files).collect();
        timings::time("record files", || record_files(conn, &current, &files, version))?;
        let loads = self.loads()?;
        let problems: Vec<staged::Problem> = (reads.iter().flat_map(|r| &r.problems))
            .map(|p| staged::Problem {
                table: p.table,
                source_file: current[p.file].source_file.clone(),
                line: p.segment as i64,
                reason: p.reason.clone(),
            })
            .collect();
        timings::time("quarantine problems", || loads.quarantine(conn, &problems))
    }

    /// The stagings with their `load_file` rows, made the first time a batch has changes (the
    /// stagings are read at the end, as views over the scratch files).
    fn loads(&mut self) -> Result<&mut StagedLoads<'static>> {
        if self.loads.is_none() {
            let mut stagings = Vec::new();
            for (table, name) in TABLES.iter().zip(STAGING_NAMES.iter()) {
                let spec = spec_for(table).expect("the import's tables are clinical tables");
                stagings.push(Staging { spec, table: name, file: "ss-mix2", kind: StagingKind::View });
            }
            self.loads = Some(StagedLoads::begin(self.conn, stagings, self.version)?);
        }
        Ok(self.loads.as_mut().expect("created above"))
    }

    /// Put the batch's patient keys in the batch table, and among those seen.
    fn mark_batch(&self, keys: &BTreeSet<&str>) -> Result<()> {
        self.conn.execute_batch(&format!("CREATE OR REPLACE TEMP TABLE {BATCH} (patient_key VARCHAR)"))?;
        let mut batch = self.conn.appender(BATCH)?;
        let mut seen = self.conn.appender(SEEN)?;
        for key in keys {
            batch.append_row([key])?;
            seen.append_row([key])?;
        }
        batch.flush()?;
        seen.flush()?;
        Ok(())
    }

    /// Fill in the SHA-256 of each current file: its record's when its size and modification time
    /// are those recorded (and not `verify_all`), else hashed, unless it has no record (it is
    /// hashed as it is read). The files hashed that proved unchanged, with their new times.
    fn hash_unless_unchanged(
        &self,
        current: &mut [Current],
        recorded: &HashMap<String, Recorded>,
    ) -> Result<Vec<(String, i64)>> {
        let verify_all = self.options.verify_all;
        let root = self.root;
        current.par_iter_mut().try_for_each(|c| -> Result<()> {
            let Some(r) = recorded.get(&c.path_key) else { return Ok(()) };
            let same_stamp = r.bytes == c.stored.bytes as i64 && r.modified_ns == Some(c.stored.modified_ns);
            c.sha256 = Some(if same_stamp && !verify_all {
                r.sha256.clone()
            } else {
                crate::digest::sha256_file(&root.join(&c.stored.path))?
            });
            Ok(())
        })?;
        Ok(current
            .iter()
            .filter_map(|c| {
                let r = recorded.get(&c.path_key)?;
                let unchanged = r.bytes == c.stored.bytes as i64 && c.sha256.as_ref() == Some(&r.sha256);
                (unchanged && r.modified_ns != Some(c.stored.modified_ns))
                    .then(|| (c.path_key.clone(), c.stored.modified_ns))
            })
            .collect())
    }

    /// The patients recorded with current files who have no folder in the tree any more: their
    /// files are withdrawn, a batch at a time.
    fn unseen(&mut self, report: &mut ImportReport) -> Result<()> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT DISTINCT patient_key FROM ssmix2_file WHERE withdrawn IS NULL \
             AND patient_key NOT IN (SELECT patient_key FROM {SEEN}) ORDER BY 1"
        ))?;
        let unseen: Vec<String> = stmt.query_map([], |r| r.get(0))?.collect::<std::result::Result<_, _>>()?;
        for keys in unseen.chunks(self.options.batch_patients.max(1)) {
            self.batch(&Storage::default(), keys, report)?;
        }
        Ok(())
    }

    /// After the last batch: the staged rows brought in through the load's checks, the files
    /// whose rows were quarantined marked so, the waiting rows already mapped brought in, the load
    /// in the history. None when no data changed.
    fn finish(self) -> Result<Option<(i64, Vec<FileLoaded>)>> {
        let conn = self.conn;
        let Some(mut loads) = self.loads else {
            return Ok(None);
        };
        let version = self.version;
        self.scratch.create_views(conn)?;
        loads.load(conn)?;
        timings::time("mark quarantined files", || {
            conn.execute(
                "UPDATE ssmix2_file SET outcome = 'quarantined' WHERE data_version = ? AND outcome = 'read' \
                 AND source_file IN (SELECT file FROM quarantine WHERE data_version = ?)",
                duckdb::params![version, version],
            )
        })?;
        timings::time("observation", || observation::derive(conn))?;
        let tables = timings::time("finish loads", || loads.finish(conn, "ss-mix2"))?;
        Ok(Some((version, tables)))
    }
}

/// A current file's keys (its patient's key given).
fn known<'a>(key: &PatientKey, patient_key: &str, stored: &'a StoredFile) -> Current<'a> {
    let name = &stored.name;
    let date = name.date.as_deref().unwrap_or("-");
    let department = name.department.as_deref().unwrap_or("-");
    let condition = match name.condition {
        storage::Condition::Current => "1",
        storage::Condition::Superseded => "2",
        storage::Condition::Deleted => "0",
    };
    // The layout's first two levels are the id's first characters: the key's stand in for them.
    let source_file = format!(
        "{}/{}/{patient_key}/{date}/{kind}/{patient_key}_{date}_{kind}_{order}_{stored}_{department}_{condition}",
        &patient_key[..3],
        &patient_key[3..6],
        kind = name.kind,
        order = name.order,
        stored = name.stored,
    );
    Current {
        stored,
        path_key: key.hash(&stored.path),
        patient_key: patient_key.to_string(),
        source_file,
        sha256: None,
    }
}

/// Record the new modification times of files hashed and found unchanged.
fn touch(conn: &duckdb::Connection, touched: &[(String, i64)]) -> Result<()> {
    if touched.is_empty() {
        return Ok(());
    }
    conn.execute_batch("CREATE OR REPLACE TEMP TABLE midnet_touched (path_key VARCHAR, modified_ns BIGINT)")?;
    {
        let mut appender = conn.appender("midnet_touched")?;
        for (path_key, modified_ns) in touched {
            appender.append_row(duckdb::params![path_key, modified_ns])?;
        }
        appender.flush()?;
    }
    conn.execute(
        "UPDATE ssmix2_file f SET modified_ns = t.modified_ns FROM midnet_touched t \
         WHERE f.path_key = t.path_key AND f.withdrawn IS NULL",
        [],
    )?;
    conn.execute_batch("DROP TABLE midnet_touched")?;
    Ok(())
}

/// The current files recorded of the batch's patients.
fn recorded(conn: &duckdb::Connection) -> Result<HashMap<String, Recorded>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT path_key, bytes, modified_ns, sha256, source_file, patient_key, data_kind FROM ssmix2_file \
         WHERE withdrawn IS NULL AND patient_key IN (SELECT patient_key FROM {BATCH})"
    ))?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            Recorded {
                bytes: r.get(1)?,
                modified_ns: r.get(2)?,
                sha256: r.get(3)?,
                source_file: r.get(4)?,
                patient_key: r.get(5)?,
                data_kind: r.get(6)?,
            },
        ))
    })?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// The patients whose patient-level rows are rebuilt: those with a file changed or withdrawn.
fn rebuilt_patients(current: &[Current], changed: &[usize], withdrawn: &[&Recorded]) -> BTreeMap<String, Rebuild> {
    let mut rebuilt: BTreeMap<String, Rebuild> = BTreeMap::new();
    let kinds = changed
        .iter()
        .map(|&i| (&current[i].patient_key, current[i].stored.name.kind.as_str()))
        .chain(withdrawn.iter().map(|r| (&r.patient_key, r.data_kind.as_str())));
    for (patient, kind) in kinds {
        let rebuild = rebuilt.entry(patient.clone()).or_default();
        rebuild.encounters |= ADT.contains(&kind);
        rebuild.diagnoses |= kind == "PPR-01";
    }
    rebuilt
}

/// The source file of each patient row an earlier import made of the batch's patients.
fn patient_rows(conn: &duckdb::Connection) -> Result<HashMap<String, String>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT patient_key, source_file FROM patient WHERE patient_key IN (SELECT patient_key FROM {BATCH}) \
         AND source_file IN (SELECT source_file FROM ssmix2_file WHERE withdrawn IS NULL)"
    ))?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// The files to read, in path order (a patient's files together), and what to take from each. A
/// patient's row is rebuilt when the file it comes from (their latest ADT-00, else their latest
/// message of a kind the import takes) is not the one their row came from, or changed.
fn plan(
    current: &[Current],
    changed: &[usize],
    rebuilt: &mut BTreeMap<String, Rebuild>,
    patient_rows: &HashMap<String, String>,
) -> Vec<(usize, Take)> {
    let mut takes: BTreeMap<usize, Take> = BTreeMap::new();
    for &i in changed {
        let kind = current[i].stored.name.kind.as_str();
        *takes.entry(i).or_default() = Take { changed: true, events: EVENTS.contains(&kind), ..Take::default() };
    }
    let mut by_patient: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, c) in current.iter().enumerate() {
        if rebuilt.contains_key(&c.patient_key) {
            by_patient.entry(c.patient_key.as_str()).or_default().push(i);
        }
    }
    let latest = |files: &mut dyn Iterator<Item = usize>| {
        files.max_by_key(|&i| (format!("{:0<17}", current[i].stored.name.stored), current[i].stored.path.clone()))
    };
    for (patient, rebuild) in rebuilt.iter_mut() {
        let files = by_patient.get(patient.as_str()).map_or(&[][..], Vec::as_slice);
        let kind = |i: &usize| current[*i].stored.name.kind.clone();
        let attributes = latest(&mut files.iter().copied().filter(|i| kind(i) == "ADT-00"))
            .or_else(|| latest(&mut files.iter().copied().filter(|i| TAKEN.contains(&kind(i).as_str()))));
        rebuild.patient = attributes.is_none_or(|i| {
            takes.get(&i).is_some_and(|t| t.changed) || patient_rows.get(patient) != Some(&current[i].source_file)
        });
        if let (true, Some(i)) = (rebuild.patient, attributes) {
            takes.entry(i).or_default().patient = true;
        }
        if rebuild.encounters {
            for &i in files.iter().filter(|i| ADT.contains(&kind(i).as_str())) {
                takes.entry(i).or_default().encounters = true;
            }
        }
        if rebuild.diagnoses
            && let Some(i) = latest(&mut files.iter().copied().filter(|i| kind(i) == "PPR-01"))
        {
            takes.entry(i).or_default().diagnoses = true;
        }
    }
    let mut plan: Vec<(usize, Take)> = takes.into_iter().collect();
    plan.sort_by(|a, b| current[a.0].stored.path.cmp(&current[b.0].stored.path));
    plan
}

/// Take out the rows of the files withdrawn, and the patient-level rows of the patients rebuilt;
/// mark the files withdrawn. How many rows left the tables.
fn withdraw(
    conn: &duckdb::Connection,
    withdrawn: &[&Recorded],
    withdrawn_keys: &[&str],
    rebuilt: &BTreeMap<String, Rebuild>,
    version: i64,
) -> Result<u64> {
    conn.execute_batch(
        "CREATE OR REPLACE TEMP TABLE midnet_withdrawn (path_key VARCHAR, source_file VARCHAR); \
         CREATE OR REPLACE TEMP TABLE midnet_rebuilt (patient_key VARCHAR, table_name VARCHAR)",
    )?;
    {
        let mut files = conn.appender("midnet_withdrawn")?;
        for (path_key, r) in withdrawn_keys.iter().zip(withdrawn) {
            files.append_row(duckdb::params![path_key, r.source_file])?;
        }
        let mut patients = conn.appender("midnet_rebuilt")?;
        for (patient, rebuild) in rebuilt {
            if rebuild.patient {
                patients.append_row(duckdb::params![patient, "patient"])?;
            }
            if rebuild.encounters {
                patients.append_row(duckdb::params![patient, "encounter"])?;
            }
            if rebuild.diagnoses {
                patients.append_row(duckdb::params![patient, "diagnosis"])?;
            }
        }
        files.flush()?;
        patients.flush()?;
    }
    let mut rows = 0;
    for table in EVENT_TABLES {
        rows += conn.execute(
            &format!("DELETE FROM {} WHERE source_file IN (SELECT source_file FROM midnet_withdrawn)", ident(table)),
            [],
        )?;
    }
    for table in ["patient", "encounter", "diagnosis"] {
        // A patient's row made by a claims or DPC import before the storage was first imported is taken
        // over by the EHR's (which carries the death date claims do not), so that the order of a
        // hospital's imports changes nothing.
        let sources = match table {
            "patient" => {
                "SELECT source_file FROM ssmix2_file UNION ALL SELECT source_file FROM receipt_file \
                 UNION ALL SELECT source_file FROM dpc_file"
            }
            _ => "SELECT source_file FROM ssmix2_file",
        };
        rows += conn.execute(
            &format!(
                "DELETE FROM {} t WHERE t.patient_key IN (SELECT patient_key FROM midnet_rebuilt WHERE table_name = ?) \
                 AND t.source_file IN ({sources})",
                ident(table)
            ),
            [table],
        )?;
    }
    // Waiting rows go with their files, and a rebuilt patient's diagnoses with the patient.
    conn.execute(
        "DELETE FROM local_row WHERE source_file IN (SELECT source_file FROM midnet_withdrawn) \
         OR (table_name = 'diagnosis' AND source_file IN (SELECT source_file FROM ssmix2_file) \
             AND json_extract_string(fields, '$.patient_key') IN \
                 (SELECT patient_key FROM midnet_rebuilt WHERE table_name = 'diagnosis'))",
        [],
    )?;
    conn.execute(
        "UPDATE ssmix2_file SET withdrawn = ? WHERE withdrawn IS NULL AND path_key IN (SELECT path_key FROM midnet_withdrawn)",
        [version],
    )?;
    conn.execute_batch("DROP TABLE midnet_withdrawn; DROP TABLE midnet_rebuilt")?;
    Ok(rows as u64)
}

/// The tables whose rows each come from one file.
const EVENT_TABLES: [&str; 3] = ["drug_order", "drug_administration", "lab_result"];

/// A problem of a file read, on its way to the quarantine: the table its data kind feeds.
struct Problem {
    table: &'static str,
    /// The index of its file among the batch's current files.
    file: usize,
    segment: usize,
    reason: String,
}

/// A changed file read and what it was: recorded in `ssmix2_file`.
struct FileRead {
    /// The index of the file among the batch's current files.
    file: usize,
    sha256: String,
    outcome: &'static str,
}

/// A row a record became: its table, its file (an index among the batch's current files) and the
/// segment that says it.
struct StagedRow {
    table: &'static str,
    row: Row,
    file: usize,
    segment: usize,
}

/// What one patient's planned files gave.
#[derive(Default)]
struct PatientRead {
    rows: Vec<StagedRow>,
    problems: Vec<Problem>,
    files: Vec<FileRead>,
}

impl PatientRead {
    fn problem(&mut self, table: &'static str, file: usize, segment: usize, place: &str, reason: &str) {
        self.problems.push(Problem { table, file, segment, reason: format!("{place}: {reason}") });
    }
}

/// Read one patient's planned files: the rows each gives, its encounters paired, the problems of
/// the changed files, and each changed file with its SHA-256 and outcome.
fn read_patient(root: &Path, codes: &Codes, current: &[Current], planned: &[(usize, Take)]) -> Result<PatientRead> {
    let mut read = PatientRead::default();
    let mut events: Vec<(EncounterEvent, usize, usize)> = Vec::new();
    for &(i, take) in planned {
        let file = &current[i];
        let bytes = timings::time("read [threads]", || std::fs::read(root.join(&file.stored.path)))
            .at(root.join(&file.stored.path))?;
        let outcome =
            timings::time("parse [threads]", || read_file(codes, current, i, take, &bytes, &mut events, &mut read));
        if take.changed {
            let sha256 = file
                .sha256
                .clone()
                .unwrap_or_else(|| timings::time("hash [threads]", || crate::digest::sha256_hex(&bytes)));
            read.files.push(FileRead { file: i, sha256, outcome });
        }
    }
    let placed = events
        .iter()
        .map(|(event, file, segment)| encounters::Placed { event, file: *file, segment: *segment })
        .collect();
    let (paired, unmatched) = encounters::pair(placed);
    for encounter in paired {
        let start = &current[encounter.start.file];
        let row =
            rows::encounter(&start.patient_key, encounter.start.event, encounter.discharge.as_ref().map(|d| d.event));
        read.rows.push(StagedRow {
            table: "encounter",
            row,
            file: encounter.start.file,
            segment: encounter.start.segment,
        });
    }
    for discharge in unmatched {
        if planned.iter().any(|(i, take)| *i == discharge.file && take.changed) {
            read.problem("encounter", discharge.file, discharge.segment, "PV1-45", problems::UNMATCHED_DISCHARGE);
        }
    }
    Ok(read)
}

/// Take from the file `current[i]`, whose content is `bytes`, what `take` says; its encounter
/// events are collected for pairing. Its outcome: read, skipped (a kind not taken), or quarantined
/// (the file cannot be read as a message; a field's problem marks it later, from the quarantine).
fn read_file(
    codes: &Codes,
    current: &[Current],
    i: usize,
    take: Take,
    bytes: &[u8],
    events: &mut Vec<(EncounterEvent, usize, usize)>,
    read: &mut PatientRead,
) -> &'static str {
    let file = &current[i];
    let kind = file.stored.name.kind.as_str();
    if !TAKEN.contains(&kind) {
        return "skipped";
    }
    let message = match hl7::decode(bytes).and_then(|text| hl7::parse(&text)) {
        Ok(message) => message,
        Err(unreadable) => {
            if take.changed {
                let (segment, place, reason) = match unreadable {
                    hl7::Unreadable::Undecodable { offset } => {
                        (0, "message".to_string(), problems::UNDECODABLE.with(offset))
                    }
                    hl7::Unreadable::NoHeader => (1, "MSH".to_string(), problems::NO_HEADER.to_string()),
                    hl7::Unreadable::BadSegmentName { segment, .. } => {
                        (segment, "message".to_string(), problems::BAD_SEGMENT_NAME.to_string())
                    }
                };
                read.problem(table_of(kind), i, segment, &place, &reason);
            }
            return "quarantined";
        }
    };
    let reading = read::read(kind, &message);
    if take.changed {
        for p in &reading.problems {
            // The patient's attributes are taken from one file: another's PID is not read.
            if take.patient || !p.field.starts_with("PID") {
                let table = if p.field.starts_with("PID") { "patient" } else { table_of(kind) };
                read.problem(table, i, p.segment, &p.field, &p.reason);
            }
        }
    }
    let setting = message.segment("PV1").and_then(|pv1| read::setting(&message.field_of(pv1, 2).text()));
    let key = file.patient_key.as_str();
    for placed in reading.records {
        let segment = placed.segment;
        let row = match placed.record {
            Record::Patient(p) if take.patient => Ok(("patient", rows::patient(key, &p))),
            Record::Encounter(e) if take.encounters => {
                events.push((e, i, segment));
                continue;
            }
            Record::Diagnosis(d) if take.diagnoses && d.action != "DE" => {
                rows::diagnosis(codes, key, &d).map(|r| ("diagnosis", r)).map_err(|e| (e, "PRB-3"))
            }
            Record::DrugOrder(o) if take.events => {
                let place = if kind == "OMP-02" { "RXC-2" } else { "RXE-2" };
                rows::drug_order(codes, key, &o).map(|r| ("drug_order", r)).map_err(|e| (e, place))
            }
            Record::Administration(a) if take.events && a.completed => rows::administration(codes, key, &a, setting)
                .map(|r| ("drug_administration", r))
                .map_err(|e| (e, "RXA-5")),
            Record::LabResult(l) if take.events => {
                rows::lab_result(key, &l).map(|r| ("lab_result", r)).map_err(|e| (e, "OBX-3"))
            }
            _ => continue,
        };
        match row {
            Ok((table, row)) => read.rows.push(StagedRow { table, row, file: i, segment }),
            Err((reason, place)) if take.changed => read.problem(table_of(kind), i, segment, place, &reason),
            Err(_) => {}
        }
    }
    "read"
}

/// Stage the rows the batch's patients gave, a file of each table in the scratch folder; each
/// table's rows are numbered on from `staged_rows`, its rows staged so far.
fn stage(
    scratch: &mut Scratch,
    current: &[Current],
    reads: &[PatientRead],
    staged_rows: &mut [i64; TABLES.len()],
) -> Result<()> {
    for ((table, name), staged_so_far) in TABLES.iter().zip(STAGING_NAMES.iter()).zip(staged_rows.iter_mut()) {
        let spec = spec_for(table).expect("the import's tables are clinical tables");
        scratch.db().execute_batch(&staged::create_sql(spec, name))?;
        let mut appender = scratch.db().appender(name)?;
        let staged = reads.iter().flat_map(|r| &r.rows).filter(|r| r.table == *table);
        for (rn, staged) in (*staged_so_far + 1..).zip(staged) {
            *staged_so_far = rn;
            let source_file = &current[staged.file].source_file;
            staged::append_row(&mut appender, spec, rn, &staged.row, source_file, staged.segment as i64)?;
        }
        appender.flush()?;
        drop(appender);
        timings::time("stage parquet", || scratch.write(name))?;
    }
    Ok(())
}

/// The table a data kind's problems belong to.
fn table_of(kind: &str) -> &'static str {
    match kind {
        "ADT-12" | "ADT-22" | "ADT-52" => "encounter",
        "PPR-01" => "diagnosis",
        "OMP-01" | "OMP-02" => "drug_order",
        "OMP-11" | "OMP-12" => "drug_administration",
        "OML-11" => "lab_result",
        _ => "patient",
    }
}

/// Record the changed files read, under the import's data version.
fn record_files(conn: &duckdb::Connection, current: &[Current], files: &[&FileRead], version: i64) -> Result<()> {
    let mut appender = conn.appender("ssmix2_file")?;
    for f in files {
        let file = &current[f.file];
        appender.append_row(duckdb::params![
            file.path_key,
            file.source_file,
            file.patient_key,
            file.stored.name.kind,
            file.stored.bytes as i64,
            f.sha256,
            version,
            f.outcome,
            None::<i64>,
            file.stored.modified_ns,
        ])?;
    }
    appender.flush()?;
    Ok(())
}

/// The files this import read, by data kind.
fn kind_counts(conn: &duckdb::Connection, version: i64) -> Result<Vec<KindCounts>> {
    counts(conn, &format!("data_version = {version}"))
}

/// The current files of the storage as the site last imported them, by data kind: what `site
/// check` reports.
pub fn current_counts(conn: &duckdb::Connection) -> Result<Vec<KindCounts>> {
    counts(conn, "withdrawn IS NULL")
}

fn counts(conn: &duckdb::Connection, condition: &str) -> Result<Vec<KindCounts>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT data_kind, count(*) FILTER (outcome = 'read'), count(*) FILTER (outcome = 'skipped'), \
         count(*) FILTER (outcome = 'quarantined') FROM ssmix2_file WHERE {condition} GROUP BY 1 ORDER BY 1"
    ))?;
    let rows = stmt.query_map([], |r| {
        Ok(KindCounts {
            data_kind: r.get(0)?,
            read: r.get::<_, i64>(1)? as u64,
            skipped: r.get::<_, i64>(2)? as u64,
            quarantined: r.get::<_, i64>(3)? as u64,
        })
    })?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_imports_memory_cap_grows_with_duckdbs_threads() {
        assert_eq!(super::memory_limit(1), "512MB");
        assert_eq!(super::memory_limit(4), "512MB");
        assert_eq!(super::memory_limit(64), "8192MB");
    }
}
