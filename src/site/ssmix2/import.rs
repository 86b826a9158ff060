//! `midnet site import ss-mix2 --site DIR ROOT`: a hospital's SS-MIX2 standardized storage into
//! the site's data source, incrementally and atomically (docs/ss-mix2.md, "The import").
//!
//! Every current file is hashed; one whose path, size or SHA-256 the site has not recorded
//! (`ssmix2_file`) changed. Rows are withdrawn and rebuilt by what they depend on:
//! - a drug order, an administration or a lab result comes from one file: the rows of a file that
//!   changed or is no longer current are taken out, and a changed file's rows staged again;
//! - a patient's diagnoses are the snapshot of their latest PPR-01; their encounters are paired
//!   over all of their ADT messages; their sex and birth date are those of their latest ADT-00
//!   (else of their latest message): when any such file of a patient changes, those rows of the
//!   patient are rebuilt from the patient's current files.
//!
//! The rows staged go through `site load`'s checks (`load::staged`), and everything (withdrawals,
//! rows, quarantine, the files recorded) commits in one transaction: one data version.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use duckdb::types::Value;
use serde::Serialize;

use super::encounters;
use super::hl7;
use super::observation;
use super::problems;
use super::read::{self, EncounterEvent, Record};
use super::rows::{self, Codes, Row};
use super::storage::{self, StoredFile};
use crate::error::{Error, IoContext, Result};
use crate::site::SiteDir;
use crate::site::keys::PatientKey;
use crate::site::load::staged::{self, Staging};
use crate::site::load::{FileLoaded, spec_for};
use crate::sql::duckdb::ident;

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
    sha256: String,
}

/// A file an earlier import read (`ssmix2_file`), still current then.
struct Recorded {
    bytes: i64,
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

/// Import the storage under `root` into `site`.
pub fn import(site: &SiteDir, root: &Path) -> Result<ImportReport> {
    if !root.is_dir() {
        return Err(Error::NotFound(format!("{}: no such directory (the SS-MIX2 storage's root)", root.display())));
    }
    site.refuse_at_spark("spark_ssmix2", "importing an SS-MIX2 storage", "import it into a DuckDB site")?;
    let (conn, migration) = site.open_migrated()?;
    let key = PatientKey::of(site)?;
    let storage = storage::walk(root)?;
    let current: Vec<Current> = storage.current().into_iter().map(|f| known(root, &key, f)).collect::<Result<_>>()?;
    let recorded = recorded(&conn)?;
    let changed: Vec<usize> = (0..current.len())
        .filter(|&i| {
            let c = &current[i];
            recorded.get(&c.path_key).is_none_or(|r| r.bytes != c.stored.bytes as i64 || r.sha256 != c.sha256)
        })
        .collect();
    let current_keys: HashMap<&str, usize> =
        current.iter().enumerate().map(|(i, c)| (c.path_key.as_str(), i)).collect();
    let gone: Vec<(&String, &Recorded)> =
        recorded.iter().filter(|(path_key, _)| !current_keys.contains_key(path_key.as_str())).collect();
    let mut report = ImportReport {
        data_version: None,
        files_current: current.len() as u64,
        files_changed: changed.len() as u64,
        files_withdrawn: 0,
        files_read: 0,
        misplaced: storage.misplaced.len() as u64,
        rows_withdrawn: 0,
        messages: Vec::new(),
        tables: Vec::new(),
        migration,
    };
    if changed.is_empty() && gone.is_empty() {
        return Ok(report);
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
    report.files_withdrawn = gone.len() as u64;
    let mut rebuilt = rebuilt_patients(&current, &changed, &withdrawn);
    let plan = plan(&current, &changed, &mut rebuilt, &patient_rows(&conn)?);
    report.files_read = plan.len() as u64;
    let codes = Codes::of(&conn)?;

    let staging_names = TABLES.map(staging_name);
    conn.execute_batch("BEGIN TRANSACTION")?;
    let imported = (|| -> Result<(i64, Vec<FileLoaded>)> {
        let version: i64 =
            conn.query_row("SELECT coalesce(max(data_version), 0) + 1 FROM load_history", [], |r| r.get(0))?;
        report.rows_withdrawn = withdraw(&conn, &withdrawn, &withdrawn_keys, &rebuilt, version)?;
        let mut stage = Stage::create(&conn, root, &codes)?;
        let mut files = Vec::new();
        for patient in plan.chunk_by(|a, b| current[a.0].patient_key == current[b.0].patient_key) {
            stage.patient(&current, patient, &mut files)?;
        }
        let problems = stage.finish()?;
        crate::crash::point("import-staged");
        record_files(&conn, &files, version)?;
        let stagings: Vec<Staging> = TABLES
            .iter()
            .zip(&staging_names)
            .map(|(t, name)| Staging {
                spec: spec_for(t).expect("the import's tables are clinical tables"),
                table: name,
                file: "ss-mix2",
            })
            .collect();
        let mut loaded = staged::load_staged(&conn, &stagings, version)?;
        quarantine_problems(&conn, &problems, &mut loaded, version)?;
        conn.execute(
            "UPDATE ssmix2_file SET outcome = 'quarantined' WHERE data_version = ? AND outcome = 'read' \
             AND source_file IN (SELECT file FROM quarantine WHERE data_version = ?)",
            duckdb::params![version, version],
        )?;
        observation::derive(&conn)?;
        for name in &staging_names {
            conn.execute_batch(&format!("DROP TABLE {}", ident(name)))?;
        }
        let tables: Vec<FileLoaded> = loaded.into_iter().map(|l| l.loaded).collect();
        let rows_loaded: u64 = tables.iter().map(|t| t.rows_loaded).sum();
        let rows_quarantined: u64 = tables.iter().map(|t| t.rows_quarantined).sum();
        conn.execute(
            "INSERT INTO load_history (data_version, loaded_at, midnet_version, rows_loaded, rows_quarantined, change, note) \
             VALUES (?, now()::TIMESTAMP, ?, ?, ?, 'load', 'ss-mix2')",
            duckdb::params![version, env!("CARGO_PKG_VERSION"), rows_loaded as i64, rows_quarantined as i64],
        )?;
        crate::site::quality::record(&conn, version)?;
        site.keep_loaded_rows(&conn, Some(version))?;
        Ok((version, tables))
    })();
    let (version, tables) = match imported {
        Ok(done) => done,
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(e);
        }
    };
    conn.execute_batch("COMMIT")?;
    crate::crash::point("import-committed");
    conn.execute_batch("CHECKPOINT")?;
    report.data_version = Some(version);
    report.tables = tables;
    report.messages = kind_counts(&conn, version)?;
    Ok(report)
}

/// A current file's keys, and its SHA-256.
fn known<'a>(root: &Path, key: &PatientKey, stored: &'a StoredFile) -> Result<Current<'a>> {
    let name = &stored.name;
    let patient_key = key.hash(&name.patient);
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
    Ok(Current {
        stored,
        path_key: key.hash(&stored.path),
        patient_key,
        source_file,
        sha256: crate::digest::sha256_file(&root.join(&stored.path))?,
    })
}

fn recorded(conn: &duckdb::Connection) -> Result<HashMap<String, Recorded>> {
    let mut stmt = conn.prepare(
        "SELECT path_key, bytes, sha256, source_file, patient_key, data_kind FROM ssmix2_file WHERE withdrawn IS NULL",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            Recorded {
                bytes: r.get(1)?,
                sha256: r.get(2)?,
                source_file: r.get(3)?,
                patient_key: r.get(4)?,
                data_kind: r.get(5)?,
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

/// The source file of each patient row an earlier import made.
fn patient_rows(conn: &duckdb::Connection) -> Result<HashMap<String, String>> {
    let mut stmt = conn.prepare(
        "SELECT patient_key, source_file FROM patient \
         WHERE source_file IN (SELECT source_file FROM ssmix2_file WHERE withdrawn IS NULL)",
    )?;
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
        rows += conn.execute(
            &format!(
                "DELETE FROM {} t WHERE t.patient_key IN (SELECT patient_key FROM midnet_rebuilt WHERE table_name = ?) \
                 AND t.source_file IN (SELECT source_file FROM ssmix2_file)",
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

fn staging_name(table: &str) -> String {
    format!("midnet_ssmix2_{table}")
}

/// A problem of a file read, on its way to the quarantine: the table its data kind feeds.
struct Problem {
    table: &'static str,
    source_file: String,
    segment: usize,
    reason: String,
}

/// A file read and what it was: recorded in `ssmix2_file` if it changed.
struct FileRead {
    path_key: String,
    source_file: String,
    patient_key: String,
    data_kind: String,
    bytes: u64,
    sha256: String,
    outcome: &'static str,
}

/// The staging tables being filled, one appender each, and the problems found.
struct Stage<'c> {
    root: &'c Path,
    codes: &'c Codes,
    appenders: Vec<(&'static str, duckdb::Appender<'c>, i64)>,
    problems: Vec<Problem>,
}

impl<'c> Stage<'c> {
    fn create(conn: &'c duckdb::Connection, root: &'c Path, codes: &'c Codes) -> Result<Stage<'c>> {
        let mut appenders = Vec::new();
        for table in TABLES {
            let spec = spec_for(table).expect("the import's tables are clinical tables");
            conn.execute_batch(&staged::create_sql(spec, &staging_name(table)))?;
            appenders.push((table, conn.appender(&staging_name(table))?, 0));
        }
        Ok(Stage { root, codes, appenders, problems: Vec::new() })
    }

    fn finish(self) -> Result<Vec<Problem>> {
        for (_, mut appender, _) in self.appenders {
            appender.flush()?;
        }
        Ok(self.problems)
    }

    fn row(&mut self, table: &str, row: Row, source_file: &str, segment: usize) -> Result<()> {
        let spec = spec_for(table).expect("the import's tables are clinical tables");
        let (_, appender, rn) = self.appenders.iter_mut().find(|(t, ..)| *t == table).expect("a staged table");
        *rn += 1;
        let mut values = vec![Value::BigInt(*rn)];
        for field in spec.fields {
            let value = row.iter().find(|(name, _)| *name == field.name).and_then(|(_, v)| v.clone());
            values.push(value.map_or(Value::Null, Value::Text));
        }
        values.push(Value::Text(source_file.to_string()));
        values.push(Value::BigInt(segment as i64));
        appender.append_row(duckdb::appender_params_from_iter(values))?;
        Ok(())
    }

    fn problem(&mut self, table: &'static str, source_file: &str, segment: usize, place: &str, reason: &str) {
        self.problems.push(Problem {
            table,
            source_file: source_file.to_string(),
            segment,
            reason: format!("{place}: {reason}"),
        });
    }

    /// Read one patient's planned files and stage what each gives.
    fn patient(&mut self, current: &[Current], planned: &[(usize, Take)], files: &mut Vec<FileRead>) -> Result<()> {
        let mut events: Vec<(EncounterEvent, usize, usize)> = Vec::new();
        for &(i, take) in planned {
            let file = &current[i];
            let outcome = self.file(current, i, take, &mut events)?;
            if take.changed {
                files.push(FileRead {
                    path_key: file.path_key.clone(),
                    source_file: file.source_file.clone(),
                    patient_key: file.patient_key.clone(),
                    data_kind: file.stored.name.kind.clone(),
                    bytes: file.stored.bytes,
                    sha256: file.sha256.clone(),
                    outcome,
                });
            }
        }
        let placed = events
            .iter()
            .map(|(event, file, segment)| encounters::Placed { event, file: *file, segment: *segment })
            .collect();
        let (paired, unmatched) = encounters::pair(placed);
        for encounter in paired {
            let start = &current[encounter.start.file];
            let row = rows::encounter(
                &start.patient_key,
                encounter.start.event,
                encounter.discharge.as_ref().map(|d| d.event),
            );
            self.row("encounter", row, &start.source_file, encounter.start.segment)?;
        }
        for discharge in unmatched {
            let file = &current[discharge.file];
            if planned.iter().any(|(i, take)| *i == discharge.file && take.changed) {
                let (segment, source) = (discharge.segment, &file.source_file);
                self.problem("encounter", source, segment, "PV1-45", problems::UNMATCHED_DISCHARGE);
            }
        }
        Ok(())
    }

    /// Read the file `current[i]` and stage what `take` says of it; its encounter events are
    /// collected for pairing. Its outcome: read, skipped (a kind not taken), or quarantined (the
    /// file cannot be read as a message; a field's problem marks it later, from the quarantine).
    fn file(
        &mut self,
        current: &[Current],
        i: usize,
        take: Take,
        events: &mut Vec<(EncounterEvent, usize, usize)>,
    ) -> Result<&'static str> {
        let file = &current[i];
        let kind = file.stored.name.kind.as_str();
        if !TAKEN.contains(&kind) {
            return Ok("skipped");
        }
        let path = self.root.join(&file.stored.path);
        let bytes = std::fs::read(&path).at(&path)?;
        let message = match hl7::decode(&bytes).and_then(|text| hl7::parse(&text)) {
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
                    self.problem(table_of(kind), &file.source_file, segment, &place, &reason);
                }
                return Ok("quarantined");
            }
        };
        let reading = read::read(kind, &message);
        if take.changed {
            for p in &reading.problems {
                // The patient's attributes are taken from one file: another's PID is not read.
                if take.patient || !p.field.starts_with("PID") {
                    let table = if p.field.starts_with("PID") { "patient" } else { table_of(kind) };
                    self.problem(table, &file.source_file, p.segment, &p.field, &p.reason);
                }
            }
        }
        let setting = message.segment("PV1").and_then(|pv1| read::setting(&message.field_of(pv1, 2).text()));
        let (key, source) = (file.patient_key.as_str(), file.source_file.as_str());
        for placed in reading.records {
            let segment = placed.segment;
            let row = match placed.record {
                Record::Patient(p) if take.patient => Ok(("patient", rows::patient(key, &p))),
                Record::Encounter(e) if take.encounters => {
                    events.push((e, i, segment));
                    continue;
                }
                Record::Diagnosis(d) if take.diagnoses && d.action != "DE" => {
                    rows::diagnosis(self.codes, key, &d).map(|r| ("diagnosis", r)).map_err(|e| (e, "PRB-3"))
                }
                Record::DrugOrder(o) if take.events => {
                    let place = if kind == "OMP-02" { "RXC-2" } else { "RXE-2" };
                    rows::drug_order(self.codes, key, &o).map(|r| ("drug_order", r)).map_err(|e| (e, place))
                }
                Record::Administration(a) if take.events && a.completed => {
                    rows::administration(self.codes, key, &a, setting)
                        .map(|r| ("drug_administration", r))
                        .map_err(|e| (e, "RXA-5"))
                }
                Record::LabResult(l) if take.events => {
                    rows::lab_result(key, &l).map(|r| ("lab_result", r)).map_err(|e| (e, "OBX-3"))
                }
                _ => continue,
            };
            match row {
                Ok((table, row)) => self.row(table, row, source, segment)?,
                Err((reason, place)) if take.changed => self.problem(table_of(kind), source, segment, place, &reason),
                Err(_) => {}
            }
        }
        Ok("read")
    }
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
fn record_files(conn: &duckdb::Connection, files: &[FileRead], version: i64) -> Result<()> {
    let mut appender = conn.appender("ssmix2_file")?;
    for f in files {
        appender.append_row(duckdb::params![
            f.path_key,
            f.source_file,
            f.patient_key,
            f.data_kind,
            f.bytes as i64,
            f.sha256,
            version,
            f.outcome,
            None::<i64>
        ])?;
    }
    appender.flush()?;
    Ok(())
}

/// Put the problems of the files read into the quarantine, under their tables' `load_file` rows,
/// with whatever a reason quotes withheld.
fn quarantine_problems(
    conn: &duckdb::Connection,
    problems: &[Problem],
    loaded: &mut [staged::StagedLoad],
    version: i64,
) -> Result<()> {
    for staged in loaded.iter_mut() {
        let of_table: Vec<&Problem> = problems.iter().filter(|p| p.table == staged.loaded.table).collect();
        if of_table.is_empty() {
            continue;
        }
        for p in &of_table {
            conn.execute(
                "INSERT INTO quarantine VALUES (?, ?, ?, ?, ?, ?)",
                duckdb::params![version, staged.load_file_id, p.table, p.source_file, p.segment as i64, p.reason],
            )?;
        }
        crate::site::load::reasons::withhold_stored(conn, "quarantine", Some(staged.load_file_id))?;
        staged.loaded.rows_quarantined += of_table.len() as u64;
        conn.execute(
            "UPDATE load_file SET rows_quarantined = ? WHERE load_file_id = ?",
            duckdb::params![staged.loaded.rows_quarantined as i64, staged.load_file_id],
        )?;
    }
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
