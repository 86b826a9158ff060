//! `midnet site import dpc --site DIR FILE_OR_DIR…`: a DPC hospital's survey files (様式1, EF統合
//! ファイル) into the site's data source, as DPC rows, incrementally and atomically (docs/claims.md,
//! "DPC").
//!
//! A file is known by its SHA-256: one the site has read before is skipped. A file is of one kind,
//! one facility (施設コード, kept hashed) and one month (様式1: of its stays' discharges; EF: of its
//! items' 実施年月日); a new file of the kind, facility and month of one the site holds replaces it,
//! and the earlier file's rows are withdrawn. Patients come from the データ識別番号 through the
//! hospital's link (`site::link`) and the site's keyed hash (`SITE/keys/patient.key`): without a
//! link, the key the SS-MIX2 and claims imports give the same
//! hospital id; a patient the site has no row of gets one from the A000010 of their latest stay.
//! From 様式1, each stay (encounter), its diagnoses by role, dated on the admission, and its
//! surgeries (procedures on their 手術日, through the procedure master); from EF,
//! each drug given (an administration on its day, through the drug master) and each procedure
//! (through the procedure master); from the outpatients' EF (EFg) the same, an oral or topical
//! drug an order, and an outpatient encounter per visit day.
//!
//! The rows staged go through `site load`'s checks (`load::staged`); a line the reader cannot
//! read, a stay without its admission or discharge record and a code the masters do not hold are
//! quarantined at their file and line. Everything commits in one transaction: one data version.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Serialize;

use super::read::{self, DpcFile, Item, Kind, Stay, Surgery};
use crate::error::{Error, IoContext, Result};
use crate::site::SiteDir;
use crate::site::keys::PatientKey;
use crate::site::link::{Link, Source};
use crate::site::load::reasons::dpc as problems;
use crate::site::load::staged::{self, Known, Problem, Replaced};
use crate::site::load::{FileLoaded, spec_for};
use crate::site::receipt::import::Codes;

/// What an import did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    /// The data version it made: none when every file had been imported before.
    pub data_version: Option<i64>,
    /// Each file given (a directory's files in name order).
    pub files: Vec<FileReport>,
    /// Rows taken out: those of the files replaced.
    pub rows_withdrawn: u64,
    /// Lines read that the data source has no table for: child 様式1, records not taken, EF parent
    /// rows, materials, comments, drugs used in a procedure.
    pub lines_not_taken: u64,
    /// What each table's staged rows became.
    pub tables: Vec<FileLoaded>,
    pub migration: Option<crate::site::migrate::Migration>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    /// The path as given (or found in a directory given).
    pub file: PathBuf,
    /// What its rows record as their `source_file`.
    pub source_file: String,
    pub kind: Kind,
    /// YYYY-MM.
    pub month: String,
    /// `read`, or `imported before` (its SHA-256 is the site's already).
    pub outcome: &'static str,
    pub stays: u64,
    pub items: u64,
    /// The file of the same kind, facility and month it replaced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
}

/// The clinical tables the import stages, patient first.
const TABLES: [&str; 6] = ["patient", "encounter", "diagnosis", "drug_order", "drug_administration", "procedure"];

/// A file given, read.
struct Given {
    path: PathBuf,
    sha256: String,
    bytes: u64,
    dpc: DpcFile,
    /// The facility's keyed hash (set by `identify`), the month: with the kind, what the file is.
    facility: String,
    /// YYYY-MM.
    month: String,
    /// What its rows record (set by `identify`).
    source_file: String,
}

impl Given {
    /// Name the file by its facility's keyed hash (the 施設コード names the hospital) and month.
    fn identify(&mut self, key: &PatientKey) {
        self.facility = key.hash(&self.dpc.facility)[..12].to_string();
        let kind = match self.dpc.kind {
            Kind::Ff1 => "ff1",
            Kind::Ef => "ef",
            Kind::EfOutpatient => "efg",
        };
        let month = self.month.replace('-', "");
        self.source_file = format!("dpc/{kind}/{}/{month}/{}", self.facility, &self.sha256[..16]);
    }

    fn what(&self) -> (Kind, &str, &str) {
        (self.dpc.kind, &self.facility, &self.month)
    }
}

/// Import the DPC files `paths` (files, or directories of them) into `site`.
pub fn import(site: &SiteDir, paths: &[PathBuf]) -> Result<ImportReport> {
    site.refuse_at_spark("spark_dpc", "importing DPC data", "import them into a DuckDB site")?;
    let mut given: Vec<Given> = files_of(paths)?.iter().map(|f| read_given(f)).collect::<Result<_>>()?;
    let (conn, migration) = site.open_migrated()?;
    let key = PatientKey::of(site)?;
    for g in &mut given {
        g.identify(&key);
    }
    let link = Link::of(site)?;
    let known = Known::of(&conn, "dpc_file", &given.iter().map(|g| g.source_file.as_str()).collect::<Vec<_>>())?;
    let mut report = ImportReport {
        data_version: None,
        files: Vec::new(),
        rows_withdrawn: 0,
        lines_not_taken: 0,
        tables: Vec::new(),
        migration,
    };
    let current = current_files(&conn)?;
    let mut new: Vec<&Given> = Vec::new();
    for g in &given {
        let what = (kind_name(g.dpc.kind).to_string(), g.facility.clone(), g.month.clone());
        let fresh = known.is_new(&g.sha256, current.get(&what)) && !new.iter().any(|n| n.sha256 == g.sha256);
        if fresh && let Some(other) = new.iter().find(|n| n.what() == g.what()) {
            return Err(Error::BadInput(format!(
                "{} and {}: both are the {} of one facility for {}; a month is one file of each kind: give the one \
                 to keep (nothing was imported)",
                other.path.display(),
                g.path.display(),
                kind_name(g.dpc.kind),
                g.month
            )));
        }
        let replaces = fresh.then(|| current.get(&what).cloned()).flatten();
        report.files.push(FileReport {
            file: g.path.clone(),
            source_file: g.source_file.clone(),
            kind: g.dpc.kind,
            month: g.month.clone(),
            outcome: if fresh { "read" } else { "imported before" },
            stays: g.dpc.stays.len() as u64,
            items: g.dpc.items.len() as u64,
            replaces,
        });
        if fresh {
            new.push(g);
        }
    }
    if new.is_empty() {
        return Ok(report);
    }
    let replaced: Vec<String> = report.files.iter().filter_map(|f| f.replaces.clone()).collect();
    let codes = Codes::of(&conn)?;
    let surgery_codes = SurgeryCodes::of(&conn)?;

    let (version, tables) = staged::import_as_one_version(site, &conn, "dpc", &TABLES, |version| {
        let tables = &TABLES[1..];
        let replaced = Replaced::register(&conn, &replaced)?;
        report.rows_withdrawn = replaced.withdraw(&conn, "dpc_file", tables, version)?;
        let has_row = replaced.patients_keeping_their_row(&conn)?;
        let mut stage = Stage::create(&conn, &codes, &surgery_codes)?;
        for g in &new {
            stage.file(&link, g)?;
        }
        stage.surgeries()?;
        stage.patients(&has_row)?;
        report.lines_not_taken = stage.not_taken;
        let problems = stage.finish()?;
        report.rows_withdrawn += replaced.take_over_patients(&conn, &staging_name("patient"))?;
        crate::crash::point("dpc-staged");
        record_files(&conn, &new, version)?;
        Ok(problems)
    })?;
    report.data_version = Some(version);
    report.tables = tables;
    Ok(report)
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Ff1 => "様式1",
        Kind::Ef => "EF",
        Kind::EfOutpatient => "EFg",
    }
}

/// The files given: a file as given, a directory's files (all levels) in name order.
fn files_of(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found)?;
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).at(dir)? {
        let path = entry.at(dir)?.path();
        if path.is_dir() {
            walk(&path, found)?;
        } else {
            found.push(path);
        }
    }
    Ok(())
}

/// Read a file given: one that cannot be decoded, is of neither kind or has no line whose month
/// could be read refuses the import.
fn read_given(path: &Path) -> Result<Given> {
    let bytes = std::fs::read(path).at(path)?;
    let refuse = |why: String| Error::BadInput(format!("{}: {why}; nothing was imported", path.display()));
    let dpc = read::read(&bytes).map_err(|why| refuse(why.to_string()))?;
    let Some((year, month)) = dpc.month else {
        return Err(refuse(
            "no line gives the file's month (a discharge or 実施年月日 that could be read)".to_string(),
        ));
    };
    Ok(Given {
        path: path.to_path_buf(),
        sha256: crate::digest::sha256_hex(&bytes),
        bytes: bytes.len() as u64,
        dpc,
        facility: String::new(),
        month: format!("{year:04}-{month:02}"),
        source_file: String::new(),
    })
}

/// The site's current DPC files: (kind, facility, month) to source file.
fn current_files(conn: &duckdb::Connection) -> Result<HashMap<(String, String, String), String>> {
    let mut stmt =
        conn.prepare("SELECT kind, facility_key, month, source_file FROM dpc_file WHERE withdrawn IS NULL")?;
    let rows = stmt.query_map([], |r| Ok(((r.get(0)?, r.get(1)?, r.get(2)?), r.get(3)?)))?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

fn staging_name(table: &str) -> String {
    staged::staging_name("dpc", table)
}

/// A patient's row as their stays give it: the discharge of the stay it comes from.
struct PatientRow {
    discharged: NaiveDate,
    sex: char,
    birth_date: NaiveDate,
    source_file: String,
    line: usize,
}

/// The staging tables being filled, one appender each, the problems found and the patients' rows.
struct Stage<'c> {
    codes: &'c Codes,
    surgery_codes: &'c SurgeryCodes,
    appenders: BTreeMap<&'static str, (duckdb::Appender<'c>, i64)>,
    problems: Vec<Problem>,
    patients: HashMap<String, PatientRow>,
    /// The DPC procedures held, the site's and those staged: (patient, 診療行為コード, day).
    procedures: HashSet<(String, String, NaiveDate)>,
    /// The stays' surgeries, staged once every file's EF procedures are: (patient, surgery, file).
    pending_surgeries: Vec<(String, Surgery, String)>,
    not_taken: u64,
}

impl<'c> Stage<'c> {
    fn create(conn: &'c duckdb::Connection, codes: &'c Codes, surgery_codes: &'c SurgeryCodes) -> Result<Stage<'c>> {
        let mut appenders = BTreeMap::new();
        for table in TABLES {
            appenders.insert(table, (conn.appender(&staging_name(table))?, 0));
        }
        let mut stmt = conn.prepare(
            "SELECT patient_key, procedure_code, procedure_date::VARCHAR FROM procedure WHERE source = 'DPC'",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, day(&r.get::<_, String>(2)?))))?;
        let procedures = rows.collect::<std::result::Result<_, _>>()?;
        Ok(Stage {
            codes,
            surgery_codes,
            appenders,
            problems: Vec::new(),
            patients: HashMap::new(),
            procedures,
            pending_surgeries: Vec::new(),
            not_taken: 0,
        })
    }

    fn finish(mut self) -> Result<Vec<Problem>> {
        for (appender, _) in self.appenders.values_mut() {
            appender.flush()?;
        }
        Ok(self.problems)
    }

    fn row(&mut self, table: &str, row: &[(&str, Option<String>)], source_file: &str, line: usize) -> Result<()> {
        let spec = spec_for(table).expect("the import's tables are clinical tables");
        let (appender, rn) = self.appenders.get_mut(table).expect("a staged table");
        *rn += 1;
        staged::append_row(appender, spec, *rn, row, source_file, line as i64)
    }

    fn problem(&mut self, table: &'static str, source_file: &str, line: usize, place: &str, reason: &str) {
        let reason = format!("{place}: {reason}");
        self.problems.push(Problem { table, source_file: source_file.to_string(), line: line as i64, reason });
    }

    /// Stage what one file gives.
    fn file(&mut self, link: &Link, given: &Given) -> Result<()> {
        let source = given.source_file.as_str();
        self.not_taken += given.dpc.not_taken;
        for p in &given.dpc.problems {
            self.problem(p.table, source, p.line, &p.place, &p.reason);
        }
        for stay in &given.dpc.stays {
            self.stay(&link.patient(Source::Dpc, &stay.data_id), stay, source)?;
        }
        let setting = if given.dpc.kind == Kind::EfOutpatient { "outpatient" } else { "inpatient" };
        for item in &given.dpc.items {
            self.item(&link.patient(Source::Dpc, &item.data_id), item, setting, source)?;
        }
        for (data_id, day, line) in &given.dpc.visits {
            self.visit(&link.patient(Source::Dpc, data_id), *day, source, *line)?;
        }
        Ok(())
    }

    /// An outpatient's visit (EFg): an outpatient encounter of its day.
    fn visit(&mut self, patient: &str, day: NaiveDate, source: &str, line: usize) -> Result<()> {
        let row = [
            ("patient_key", Some(patient.to_string())),
            ("encounter_type", Some("outpatient".to_string())),
            ("start_date", Some(day.to_string())),
            ("end_date", Some(day.to_string())),
            ("source", Some("DPC".to_string())),
        ];
        self.row("encounter", &row, source, line)
    }

    /// A stay's encounter (with its admission and discharge records), its patient's row (when the
    /// site has none) and its diagnoses.
    fn stay(&mut self, patient: &str, stay: &Stay, source: &str) -> Result<()> {
        let place = "FF-6";
        match (stay.patient, stay.discharge) {
            (Some((sex, birth_date, line)), Some((discharged, ..)))
                if self.patients.get(patient).is_none_or(|p| p.discharged < discharged) =>
            {
                let row = PatientRow { discharged, sex, birth_date, source_file: source.to_string(), line };
                self.patients.insert(patient.to_string(), row);
            }
            (None, _) if !stay.unread => self.problem("patient", source, stay.line, place, problems::NO_PATIENT),
            _ => {}
        }
        match (stay.has_admission, stay.discharge) {
            (true, Some((discharged, destination, outcome))) => {
                let row = [
                    ("patient_key", Some(patient.to_string())),
                    ("encounter_type", Some("inpatient".to_string())),
                    ("start_date", Some(stay.admitted.to_string())),
                    ("end_date", Some(discharged.to_string())),
                    ("department", stay.department.clone()),
                    ("admission_route", stay.route.map(str::to_string)),
                    ("discharge_destination", Some(destination.to_string())),
                    ("discharge_outcome", Some(outcome.to_string())),
                    ("source", Some("DPC".to_string())),
                ];
                self.row("encounter", &row, source, stay.line)?;
            }
            _ if stay.unread => {}
            (false, _) => self.problem("encounter", source, stay.line, place, problems::NO_ADMISSION),
            (true, None) => self.problem("encounter", source, stay.line, place, problems::NO_DISCHARGE),
        }
        for d in &stay.diagnoses {
            if d.disease_code.as_ref().is_some_and(|c| !self.codes.disease.contains_key(c)) {
                self.problem("diagnosis", source, d.line, "FF-12", problems::UNKNOWN_DISEASE);
                continue;
            }
            let row = [
                ("patient_key", Some(patient.to_string())),
                ("icd10", Some(d.icd10.clone())),
                ("diagnosis_date", Some(stay.admitted.to_string())),
                ("suspected", Some(d.suspected.to_string())),
                ("main_diagnosis", Some((d.role == "principal").to_string())),
                ("diagnosis_kind", Some(d.role.to_string())),
                ("source", Some("DPC".to_string())),
            ];
            self.row("diagnosis", &row, source, d.line)?;
        }
        for surgery in &stay.surgeries {
            let discharged = stay.discharge.map(|d| d.0);
            if surgery.day < stay.admitted || discharged.is_some_and(|d| surgery.day > d) {
                self.problem("procedure", source, surgery.line, "FF-9", problems::SURGERY_OUTSIDE_STAY);
                continue;
            }
            self.pending_surgeries.push((patient.to_string(), surgery.clone(), source.to_string()));
        }
        Ok(())
    }

    /// The stays' surgeries, each a `procedure` row on its 手術日 through the procedure master;
    /// one whose 診療行為コード a DPC procedure of the patient's has on that day (the EF line that
    /// billed it) is that row, not another.
    fn surgeries(&mut self) -> Result<()> {
        for (patient, surgery, source) in std::mem::take(&mut self.pending_surgeries) {
            let code = match self.surgery_codes.on(&surgery.table_code, surgery.day)[..] {
                [] => Err(problems::UNKNOWN_TABLE_CODE.to_string()),
                [code] => Ok(code.to_string()),
                ref several => Err(problems::AMBIGUOUS_TABLE_CODE.with(&[several.len() as u64])),
            };
            let code = match code {
                Ok(code) => code,
                Err(reason) => {
                    self.problem("procedure", &source, surgery.line, "FF-10", &reason);
                    continue;
                }
            };
            if !self.procedures.insert((patient.clone(), code.clone(), surgery.day)) {
                self.not_taken += 1;
                continue;
            }
            let row = [
                ("patient_key", Some(patient)),
                ("procedure_code", Some(code)),
                ("procedure_date", Some(surgery.day.to_string())),
                ("source", Some("DPC".to_string())),
            ];
            self.row("procedure", &row, &source, surgery.line)?;
        }
        Ok(())
    }

    /// An EF item: a procedure's row per 行為回数; a drug's administration on its day, or for an
    /// outpatient an oral or topical drug's order (as a claim's: days supplied the 行為回数, daily
    /// dose the 使用量).
    fn item(&mut self, patient: &str, item: &Item, setting: &str, source: &str) -> Result<()> {
        if !item.is_drug() {
            if !self.codes.procedure.contains(&item.code) {
                self.problem("procedure", source, item.line, "EF-9", problems::UNKNOWN_PROCEDURE);
                return Ok(());
            }
            self.procedures.insert((patient.to_string(), item.code.clone(), item.day));
            for _ in 0..item.times {
                let row = [
                    ("patient_key", Some(patient.to_string())),
                    ("procedure_code", Some(item.code.clone())),
                    ("procedure_date", Some(item.day.to_string())),
                    ("source", Some("DPC".to_string())),
                ];
                self.row("procedure", &row, source, item.line)?;
            }
            return Ok(());
        }
        let Some(route) = item.route() else {
            self.not_taken += 1;
            return Ok(());
        };
        let Some((yj, unit)) = self.codes.drug.get(&item.code).cloned() else {
            self.problem("drug_administration", source, item.line, "EF-9", problems::UNKNOWN_DRUG);
            return Ok(());
        };
        let mut row = vec![
            ("patient_key", Some(patient.to_string())),
            ("yj_code", Some(yj)),
            ("route", Some(route.to_string())),
            ("setting", Some(setting.to_string())),
            ("source", Some("DPC".to_string())),
        ];
        if setting == "outpatient" && route != "injection" {
            // An outpatient takes an oral or topical medicine home: an order, as a claim makes it.
            let day = Some(item.day.to_string());
            row.extend([("order_date", day.clone()), ("start_date", day)]);
            row.push(("days_supply", Some(item.times.to_string())));
            row.push(("daily_dose", item.amount.map(|a| a.to_string())));
            return self.row("drug_order", &row, source, item.line);
        }
        // An EF line is what was given on its day, with no time: an administration at 00:00, its
        // amount the 使用量 times the 行為回数 when the master gives the unit.
        let amount = item.amount.filter(|_| unit.is_some()).map(|a| (a * item.times as f64).to_string());
        row.push(("start_time", Some(format!("{} 00:00:00", item.day))));
        row.push(("amount_unit", amount.as_ref().and(unit)));
        row.push(("amount", amount));
        self.row("drug_administration", &row, source, item.line)
    }

    /// A row for each patient of the files read whom the site has no row of.
    fn patients(&mut self, has_row: &HashSet<String>) -> Result<()> {
        let mut rows: Vec<(String, PatientRow)> =
            std::mem::take(&mut self.patients).into_iter().filter(|(key, _)| !has_row.contains(key)).collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        for (key, p) in rows {
            let row = [
                ("patient_key", Some(key)),
                ("sex", Some(p.sex.to_string())),
                ("birth_date", Some(p.birth_date.to_string())),
            ];
            self.row("patient", &row, &p.source_file, p.line)?;
        }
        Ok(())
    }
}

/// The procedure master's 診療行為コード by the 点数表コード (様式1 A007010 payload 2) of their item,
/// as its コード表用番号 (column 85), 区分番号 (92), 枝番 (93) and 項番 (94) spell it: `K` `082`
/// `0` `1` is `K0821`, `K` `426` `2` `3` is `K426-23` (hospital-inputs.md §4.3, "Not confirmed" 8).
struct SurgeryCodes(HashMap<String, Vec<(String, Option<NaiveDate>)>>);

impl SurgeryCodes {
    fn of(conn: &duckdb::Connection) -> Result<SurgeryCodes> {
        let mut stmt = conn.prepare(
            "SELECT procedure_code, table_letter, section_number, coalesce(branch, ''), coalesce(item, ''), \
             abolished::VARCHAR FROM current_master_procedure WHERE coalesce(table_letter, '') NOT IN ('', '*') \
             AND coalesce(section_number, '') <> '' ORDER BY procedure_code",
        )?;
        let rows = stmt.query_map([], |r| {
            let parts: [String; 4] = [r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?];
            let abolished = r.get::<_, Option<String>>(5)?.map(|d| day(&d));
            Ok((table_code(&parts), (r.get::<_, String>(0)?, abolished)))
        })?;
        let mut codes: HashMap<String, Vec<(String, Option<NaiveDate>)>> = HashMap::new();
        for row in rows {
            let (table_code, code) = row?;
            codes.entry(table_code).or_default().push(code);
        }
        Ok(SurgeryCodes(codes))
    }

    /// The codes of a 点数表コード not abolished by `day`.
    fn on(&self, table_code: &str, day: NaiveDate) -> Vec<&str> {
        let codes = self.0.get(table_code).map(Vec::as_slice).unwrap_or_default();
        codes.iter().filter(|(_, abolished)| abolished.is_none_or(|a| day < a)).map(|(c, _)| c.as_str()).collect()
    }
}

/// A date the database gives as text (`YYYY-MM-DD`).
fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a DATE column's text")
}

/// A 点数表コード from the master's letter, 区分番号, 枝番 and 項番: the 区分番号 in 3 digits, a 枝番
/// after `-` and a 項番 when they are not 0.
fn table_code([letter, section, branch, item]: &[String; 4]) -> String {
    let number = |text: &str| text.trim().trim_start_matches('0').to_string();
    let mut code = format!("{}{:0>3}", letter.trim(), number(section));
    let branch = number(branch);
    if !branch.is_empty() {
        code.push_str(&format!("-{branch}"));
    }
    code.push_str(&number(item));
    code
}

/// Record the files read, under the import's data version.
fn record_files(conn: &duckdb::Connection, files: &[&Given], version: i64) -> Result<()> {
    let mut appender = conn.appender("dpc_file")?;
    for f in files {
        appender.append_row(duckdb::params![
            f.sha256,
            f.source_file,
            kind_name(f.dpc.kind),
            f.facility,
            f.month,
            f.bytes as i64,
            f.dpc.stays.len() as i64,
            f.dpc.items.len() as i64,
            version,
            None::<i64>
        ])?;
    }
    appender.flush()?;
    Ok(())
}
