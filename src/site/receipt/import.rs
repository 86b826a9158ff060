//! `midnet site import receipt --site DIR FILE…`: a hospital's monthly claims files into the
//! site's data source, as CLAIMS rows, incrementally and atomically (docs/claims.md, "The import").
//!
//! A file is known by its SHA-256: one the site has read before is skipped. A claims file is the
//! monthly submission of one 審査支払機関 (IR-2) for one billing month (IR-8); a new file of the
//! payer and billing month of a file the site holds replaces it (a hospital sends a month again to
//! correct it), and the earlier file's rows are withdrawn. Patients come from their receipts'
//! カルテ番号 (or, without one, their insurance numbers) through the hospital's link (`site::link`)
//! and the site's keyed hash (`SITE/keys/patient.key`): without a link, the key the SS-MIX2 import
//! gives the same hospital id; a patient the site has no row of gets one from their latest receipt.
//! Drug orders and procedures come from one file each; a diagnosis is repeated on every monthly
//! receipt while it is current, so the diagnoses (SY) of the current files are kept month by month
//! (`receipt_diagnosis`) and a patient's CLAIMS diagnoses rebuilt from them when a file of theirs
//! comes or goes: one row per diagnosis (傷病名コード, start, の疑い), with its latest month's outcome.
//! Likewise each receipt is kept as a month of care (`receipt_month`), from which a patient's CLAIMS
//! observation period (first to last month with a receipt) and stays (one per admission date of
//! their inpatient receipts, to the last day billed) are rebuilt.
//!
//! The rows staged go through `site load`'s checks (`load::staged`); a record the reader cannot
//! read, a receipt the link cannot give a patient and a code the masters do not hold are quarantined at their
//! file and line; totals that do not add up are reported and counted with their file, and
//! quarantine nothing (the records read are what was billed: the points are the payer's concern,
//! not a study's). Everything commits in one transaction: one data version.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use duckdb::types::Value;
use rayon::prelude::*;
use serde::Serialize;

use super::era::Month;
use super::uke::{self, Claims, ItemKind, Receipt};
use crate::error::{Error, IoContext, Result};
use crate::site::SiteDir;
use crate::site::link::{Link, Source};
use crate::site::load::reasons::receipt as problems;
use crate::site::load::staged::{self, Known, Problem, Replaced};
use crate::site::load::{FileLoaded, spec_for, timings};
use crate::sql::duckdb::ident;

/// What an import did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    /// The data version it made: none when every file had been imported before.
    pub data_version: Option<i64>,
    /// Each file given, in order.
    pub files: Vec<FileReport>,
    /// Rows taken out: those of the files replaced, and the CLAIMS diagnoses, observation periods and
    /// stays rebuilt.
    pub rows_withdrawn: u64,
    /// Totals that do not add up (a receipt's 合計点数, the file's GO, a record's 回数).
    pub totals_mismatches: Vec<Mismatch>,
    /// Records the data source has no table for: 特定器材 (TO), drugs billed under a 診療識別 other
    /// than 投薬 (20s) and 注射 (30s), which are used in a procedure, not ordered, and the records
    /// of the DPC form (BU, SB, KK, SK, GA, HH, GT, CD).
    pub records_not_taken: u64,
    /// What each table's staged rows became.
    pub tables: Vec<FileLoaded>,
    pub migration: Option<crate::site::migrate::Migration>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    /// The path as given.
    pub file: PathBuf,
    /// What its rows record as their `source_file`.
    pub source_file: String,
    pub payer: String,
    pub billing_month: String,
    /// `read`, or `imported before` (its SHA-256 is the site's already).
    pub outcome: &'static str,
    pub receipts: u64,
    /// The file of the same payer and billing month it replaced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Mismatch {
    pub source_file: String,
    pub line: usize,
    pub record: String,
    pub field: Option<usize>,
    pub reason: String,
}

/// The clinical tables the import stages, patient first.
const TABLES: [&str; 7] =
    ["patient", "observation_period", "encounter", "diagnosis", "drug_order", "drug_administration", "procedure"];

/// The tables whose CLAIMS rows are rebuilt from the month-by-month records of the current files
/// (`receipt_diagnosis`, `receipt_month`) rather than staged as a file is read.
const REBUILT: [&str; 3] = ["observation_period", "encounter", "diagnosis"];

/// A file given, read.
struct Given {
    path: PathBuf,
    sha256: String,
    bytes: u64,
    claims: Claims,
    payer: String,
    billing: Month,
    source_file: String,
}

/// Import the claims files `files` into `site`.
pub fn import(site: &SiteDir, files: &[PathBuf]) -> Result<ImportReport> {
    site.refuse_at_spark("spark_receipt", "importing claims", "import them into a DuckDB site")?;
    // The files are read and checked on every core; the first file in the order given that
    // cannot be read is the one named.
    let read_files = || files.par_iter().map(|f| read(f)).collect::<Vec<_>>().into_iter().collect::<Result<_>>();
    let given: Vec<Given> = timings::time("read files", read_files)?;
    let (conn, migration) = site.open_migrated()?;
    let link = Link::of(site)?;
    let known = Known::of(&conn, "receipt_file", &given.iter().map(|g| g.source_file.as_str()).collect::<Vec<_>>())?;
    let mut report = ImportReport {
        data_version: None,
        files: Vec::new(),
        rows_withdrawn: 0,
        totals_mismatches: Vec::new(),
        records_not_taken: 0,
        tables: Vec::new(),
        migration,
    };
    let current = current_files(&conn)?;
    let mut new: Vec<&Given> = Vec::new();
    for g in &given {
        let month = (g.payer.clone(), g.billing.to_string());
        let fresh = known.is_new(&g.sha256, current.get(&month)) && !new.iter().any(|n| n.sha256 == g.sha256);
        if fresh && let Some(other) = new.iter().find(|n| (&n.payer, n.billing) == (&g.payer, g.billing)) {
            return Err(Error::BadInput(format!(
                "{} and {}: both are the claims of payer {} for {}; a month is one file: give the one to keep \
                 (nothing was imported)",
                other.path.display(),
                g.path.display(),
                g.payer,
                g.billing
            )));
        }
        let replaces = fresh.then(|| current.get(&month).cloned()).flatten();
        report.files.push(FileReport {
            file: g.path.clone(),
            source_file: g.source_file.clone(),
            payer: g.payer.clone(),
            billing_month: g.billing.to_string(),
            outcome: if fresh { "read" } else { "imported before" },
            receipts: g.claims.receipts.len() as u64,
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

    let (version, tables) = staged::import_as_one_version(site, &conn, "receipt", &TABLES, |version| {
        let replaced = Replaced::register(&conn, &replaced)?;
        let (withdrawn_rows, mut rebuilt) = timings::time("withdraw", || withdraw(&conn, &replaced, version))?;
        report.rows_withdrawn = withdrawn_rows;
        let has_row = replaced.patients_keeping_their_row(&conn)?;
        let staging_started = std::time::Instant::now();
        let mut stage = Stage::create(&conn, &codes)?;
        for g in &new {
            stage.file(&link, g, &mut rebuilt)?;
        }
        stage.patients(&has_row)?;
        report.records_not_taken = stage.not_taken;
        report.totals_mismatches = std::mem::take(&mut stage.mismatches);
        let problems = stage.finish()?;
        report.rows_withdrawn += replaced.take_over_patients(&conn, &staging_name("patient"))?;
        timings::add_time("stage", staging_started.elapsed());
        report.rows_withdrawn += timings::time("rebuild", || rebuild(&conn, &rebuilt))?;
        crate::crash::point("receipt-staged");
        record_files(&conn, &new, &report.totals_mismatches, version)?;
        Ok(problems)
    })?;
    timings::totals();
    report.data_version = Some(version);
    report.tables = tables;
    Ok(report)
}

/// Read a file given: one that cannot be decoded, is not a claims file or does not say its payer
/// and billing month refuses the import.
fn read(path: &Path) -> Result<Given> {
    let bytes = std::fs::read(path).at(path)?;
    let refuse = |why: String| Error::BadInput(format!("{}: {why}; nothing was imported", path.display()));
    let claims = uke::read(&bytes).map_err(|why| refuse(why.to_string()))?;
    let facility = |field: usize| claims.problems.iter().find(|p| p.record == "IR" && p.field == Some(field));
    let (Some(payer), Some(billing)) = (claims.payer.clone(), claims.billing_month) else {
        let why = [2, 8].iter().find_map(|&f| facility(f)).map_or("empty".to_string(), |p| p.reason.clone());
        return Err(refuse(format!("line 1 (IR): no 審査支払機関 (field 2) or 請求年月 (field 8): {why}")));
    };
    let sha256 = crate::digest::sha256_hex(&bytes);
    let source_file = format!("receipt/{payer}/{:04}{:02}/{}", billing.year, billing.month, &sha256[..16]);
    Ok(Given { path: path.to_path_buf(), sha256, bytes: bytes.len() as u64, claims, payer, billing, source_file })
}

fn strings(conn: &duckdb::Connection, sql: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// The site's current claims files: (payer, billing month) to source file.
fn current_files(conn: &duckdb::Connection) -> Result<HashMap<(String, String), String>> {
    let mut stmt =
        conn.prepare("SELECT payer, billing_month, source_file FROM receipt_file WHERE withdrawn IS NULL")?;
    let rows = stmt.query_map([], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// The masters' crosswalks of claims codes (which DPC's EF lines share), read once per import.
pub(crate) struct Codes {
    /// 傷病名コード to ICD-10 (2013, else 2003), without the dot.
    pub(crate) disease: HashMap<String, String>,
    /// レセプト電算 drug code to YJ and the unit of its 使用量.
    pub(crate) drug: HashMap<String, (String, Option<String>)>,
    /// 診療行為コード of the procedure master.
    pub(crate) procedure: HashSet<String>,
}

impl Codes {
    pub(crate) fn of(conn: &duckdb::Connection) -> Result<Codes> {
        let pairs = |sql: &str| -> Result<HashMap<String, String>> {
            let mut stmt = conn.prepare(sql)?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            Ok(rows.collect::<std::result::Result<_, _>>()?)
        };
        let disease = pairs(
            "SELECT disease_code, replace(coalesce(nullif(icd10_2013_1, ''), icd10_2003_1), '.', '') \
             FROM current_master_disease WHERE coalesce(nullif(icd10_2013_1, ''), icd10_2003_1, '') <> ''",
        )?;
        let mut stmt = conn.prepare(
            "SELECT drug_code, yj_code, nullif(unit_name, '') FROM current_master_drug WHERE coalesce(yj_code, '') <> ''",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, (r.get(1)?, r.get(2)?))))?;
        let drug = rows.collect::<std::result::Result<_, _>>()?;
        let procedure = strings(conn, "SELECT procedure_code FROM current_master_procedure")?.into_iter().collect();
        Ok(Codes { disease, drug, procedure })
    }
}

/// The month-by-month records of the current files the rebuilt rows come from.
const MONTH_BY_MONTH: [&str; 2] = ["receipt_diagnosis", "receipt_month"];

/// Withdraw the files replaced: their rows out, their month-by-month records out, the files
/// marked, and the patient rows they made that no row needs any more. How many rows left the
/// tables, and the patients whose CLAIMS diagnoses, stays and observation periods are rebuilt.
fn withdraw(conn: &duckdb::Connection, files: &Replaced, version: i64) -> Result<(u64, BTreeSet<String>)> {
    let of_replaced = Replaced::OF;
    let mut rebuilt = BTreeSet::new();
    for table in MONTH_BY_MONTH {
        let table = ident(table);
        rebuilt.extend(strings(conn, &format!("SELECT DISTINCT patient_key FROM {table} WHERE {of_replaced}"))?);
        conn.execute(&format!("DELETE FROM {table} WHERE {of_replaced}"), [])?;
    }
    // These patients' rebuilt rows come back from the months still held (which keep a patient's
    // row): out now, so that a row of a month withdrawn keeps no patient row.
    let rebuilt_rows = withdraw_rebuilt(conn, &rebuilt)?;
    let tables = ["drug_order", "drug_administration", "procedure"];
    let rows = files.withdraw(conn, "receipt_file", &tables, version)?;
    Ok((rebuilt_rows + rows, rebuilt))
}

fn staging_name(table: &str) -> String {
    staged::staging_name("receipt", table)
}

/// The table whose quarantine holds a record's problems; the file's own records (IR, GO) and
/// records of no table are filed under the patient table.
fn table_of(record: &str) -> &'static str {
    match record {
        "SY" => "diagnosis",
        "IY" => "drug_order",
        "SI" => "procedure",
        _ => "patient",
    }
}

/// A receipt's patient key: its カルテ番号's through the site's link (docs/claims.md, "One patient
/// across sources"), or without one, the patient the link gives its insurance numbers, if any.
fn patient_of(link: &Link, receipt: &Receipt) -> Option<String> {
    match (&receipt.chart_number, &receipt.insurance) {
        (Some(chart), _) => Some(link.patient(Source::Receipt, chart)),
        (None, Some(insurance)) => link.insured(insurance),
        (None, None) => None,
    }
}

/// A problem of totals that do not add up: a payer's or the file's points and counts, a record's
/// 回数 against its days.
fn is_totals(p: &uke::Problem) -> bool {
    match (p.record.as_str(), p.field) {
        ("HO" | "KO", Some(6)) | ("GO", _) | ("SI" | "IY" | "TO", Some(7)) => true,
        ("RE", None) => p.reason.contains("no insurer"),
        _ => false,
    }
}

/// A patient's row as their receipts give it: (care month, order read) of the receipt it comes from.
struct PatientRow {
    at: (Month, usize),
    sex: char,
    birth_date: NaiveDate,
    source_file: String,
    line: usize,
}

/// The staging tables being filled, one appender each (the diagnoses go to `receipt_diagnosis`,
/// the receipts to `receipt_month`), the problems found and the patients' rows.
struct Stage<'c> {
    codes: &'c Codes,
    appenders: Vec<(&'static str, duckdb::Appender<'c>, i64)>,
    diagnoses: duckdb::Appender<'c>,
    months: duckdb::Appender<'c>,
    problems: Vec<Problem>,
    mismatches: Vec<Mismatch>,
    patients: HashMap<String, PatientRow>,
    receipts_read: usize,
    not_taken: u64,
}

impl<'c> Stage<'c> {
    fn create(conn: &'c duckdb::Connection, codes: &'c Codes) -> Result<Stage<'c>> {
        let mut appenders = Vec::new();
        for table in TABLES.into_iter().filter(|table| !REBUILT.contains(table)) {
            appenders.push((table, conn.appender(&staging_name(table))?, 0));
        }
        Ok(Stage {
            codes,
            appenders,
            diagnoses: conn.appender("receipt_diagnosis")?,
            months: conn.appender("receipt_month")?,
            problems: Vec::new(),
            mismatches: Vec::new(),
            patients: HashMap::new(),
            receipts_read: 0,
            not_taken: 0,
        })
    }

    fn finish(mut self) -> Result<Vec<Problem>> {
        for (_, appender, _) in &mut self.appenders {
            appender.flush()?;
        }
        self.diagnoses.flush()?;
        self.months.flush()?;
        Ok(self.problems)
    }

    fn row(&mut self, table: &str, row: &[(&str, Option<String>)], source_file: &str, line: usize) -> Result<()> {
        let spec = spec_for(table).expect("the import's tables are clinical tables");
        let (_, appender, rn) = self.appenders.iter_mut().find(|(t, ..)| *t == table).expect("a staged table");
        *rn += 1;
        staged::append_row(appender, spec, *rn, row, source_file, line as i64)
    }

    fn problem(&mut self, record: &str, source_file: &str, line: usize, reason: String) {
        let table = table_of(record);
        self.problems.push(Problem { table, source_file: source_file.to_string(), line: line as i64, reason });
    }

    /// Stage what one file gives; its patients' diagnoses, stays and observation periods are rebuilt.
    fn file(&mut self, link: &Link, given: &Given, rebuilt: &mut BTreeSet<String>) -> Result<()> {
        let source = given.source_file.as_str();
        for p in &given.claims.problems {
            let place = match p.field {
                Some(field) => format!("{}-{field}", p.record),
                None => p.record.clone(),
            };
            if is_totals(p) {
                let (record, field) = (p.record.clone(), p.field);
                let mismatch =
                    Mismatch { source_file: source.to_string(), line: p.line, record, field, reason: p.reason.clone() };
                self.mismatches.push(mismatch);
            } else {
                self.problem(&p.record, source, p.line, format!("{place}: {}", p.reason));
            }
        }
        // A start the reader could not read is its problem already.
        let unread_starts: HashSet<usize> =
            given.claims.problems.iter().filter(|p| p.record == "SY" && p.field == Some(3)).map(|p| p.line).collect();
        for receipt in &given.claims.receipts {
            let Some(patient) = patient_of(link, receipt) else {
                self.problem("RE", source, receipt.line, format!("RE-14: {}", problems::NOT_LINKED));
                continue;
            };
            self.receipt(&patient, receipt, source, &unread_starts)?;
            rebuilt.insert(patient);
        }
        Ok(())
    }

    fn receipt(
        &mut self,
        patient: &str,
        receipt: &Receipt,
        source: &str,
        unread_starts: &HashSet<usize>,
    ) -> Result<()> {
        let Some(month) = receipt.month else { return Ok(()) };
        self.receipts_read += 1;
        if let (Some(sex), Some(birth_date)) = (receipt.sex, receipt.birth_date) {
            let at = (month, self.receipts_read);
            if self.patients.get(patient).is_none_or(|p| p.at < at) {
                let row = PatientRow { at, sex, birth_date, source_file: source.to_string(), line: receipt.line };
                self.patients.insert(patient.to_string(), row);
            }
        }
        let first_day = month.day(1).expect("the first of a month");
        let last_billed = receipt.items.iter().flat_map(|i| &i.days).map(|&(day, _)| day).max();
        let care = [
            Value::Text(source.to_string()),
            Value::BigInt(receipt.line as i64),
            Value::Text(patient.to_string()),
            date_value(first_day),
            Value::Boolean(receipt.inpatient),
            receipt.admitted.map_or(Value::Null, date_value),
            last_billed.and_then(|day| month.day(day)).map_or(Value::Null, date_value),
        ];
        self.months.append_row(duckdb::appender_params_from_iter(care))?;
        self.not_taken += receipt.dpc_records;
        for d in &receipt.diagnoses {
            let Some(start) = d.start else {
                if !unread_starts.contains(&d.line) {
                    self.problem("SY", source, d.line, format!("SY-3: {}", problems::NO_START));
                }
                continue;
            };
            let icd10 = match (d.code.as_str(), self.codes.disease.get(&d.code)) {
                ("0000999", _) => {
                    self.problem("SY", source, d.line, format!("SY-2: {}", problems::UNCODED_DIAGNOSIS));
                    continue;
                }
                (_, None) => {
                    self.problem("SY", source, d.line, format!("SY-2: {}", problems::UNKNOWN_DISEASE));
                    continue;
                }
                (_, Some(icd10)) => icd10.clone(),
            };
            let values = [
                Value::Text(source.to_string()),
                Value::BigInt(d.line as i64),
                Value::Text(patient.to_string()),
                Value::Text(d.code.clone()),
                Value::Text(icd10),
                date_value(first_day),
                date_value(start),
                Value::Text(d.outcome.to_string()),
                Value::Boolean(d.suspected),
                Value::Boolean(d.main),
            ];
            self.diagnoses.append_row(duckdb::appender_params_from_iter(values))?;
        }
        for item in &receipt.items {
            self.item(patient, receipt, month, item, source)?;
        }
        Ok(())
    }

    /// A procedure's row per count on each day; a drug of 投薬 an order per day (its count the days
    /// supplied), of 注射 an administration per day.
    fn item(&mut self, patient: &str, receipt: &Receipt, month: Month, item: &uke::Item, source: &str) -> Result<()> {
        let dated = item.days.iter().filter_map(|&(day, count)| Some((month.day(day)?, count)));
        match item.kind {
            ItemKind::Material => self.not_taken += 1,
            ItemKind::Procedure => {
                if !self.codes.procedure.contains(&item.code) {
                    self.problem("SI", source, item.line, format!("SI-4: {}", problems::UNKNOWN_PROCEDURE));
                    return Ok(());
                }
                for (day, count) in dated {
                    for _ in 0..count {
                        let row = [
                            ("patient_key", Some(patient.to_string())),
                            ("procedure_code", Some(item.code.clone())),
                            ("procedure_date", Some(day.to_string())),
                            ("source", Some("CLAIMS".to_string())),
                        ];
                        self.row("procedure", &row, source, item.line)?;
                    }
                }
            }
            ItemKind::Drug => {
                let Some(route) = item.route() else {
                    self.not_taken += 1;
                    return Ok(());
                };
                let Some((yj, unit)) = self.codes.drug.get(&item.code).cloned() else {
                    self.problem("IY", source, item.line, format!("IY-4: {}", problems::UNKNOWN_DRUG));
                    return Ok(());
                };
                let setting = if receipt.inpatient { "inpatient" } else { "outpatient" };
                let common = |day: NaiveDate| {
                    [
                        ("patient_key", Some(patient.to_string())),
                        ("yj_code", Some(yj.clone())),
                        ("route", Some(route.to_string())),
                        ("setting", Some(setting.to_string())),
                        ("source", Some("CLAIMS".to_string())),
                        ("order_date", Some(day.to_string())),
                        ("start_date", Some(day.to_string())),
                    ]
                };
                for (day, count) in dated {
                    let mut row = common(day).to_vec();
                    if route == "injection" {
                        // A claim's injection day is an administration at 00:00 (docs/site-inputs.md).
                        let amount = item.amount.filter(|_| unit.is_some()).map(|a| (a * count as f64).to_string());
                        row.truncate(5);
                        row.push(("start_time", Some(format!("{day} 00:00:00"))));
                        row.push(("amount_unit", amount.as_ref().and(unit.clone())));
                        row.push(("amount", amount));
                        self.row("drug_administration", &row, source, item.line)?;
                    } else {
                        row.push(("days_supply", Some(count.to_string())));
                        row.push(("daily_dose", item.amount.map(|a| a.to_string())));
                        self.row("drug_order", &row, source, item.line)?;
                    }
                }
            }
        }
        Ok(())
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

fn date_value(day: NaiveDate) -> Value {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a calendar day");
    Value::Date32((day - epoch).num_days() as i32)
}

/// Register `patients` (in `midnet_rebuilt`, which `rebuild` reads and drops) and take their
/// claims-made rows of the rebuilt tables out. How many rows left them.
fn withdraw_rebuilt(conn: &duckdb::Connection, patients: &BTreeSet<String>) -> Result<u64> {
    conn.execute_batch("CREATE OR REPLACE TEMP TABLE midnet_rebuilt (patient_key VARCHAR)")?;
    {
        let mut appender = conn.appender("midnet_rebuilt")?;
        for patient in patients {
            appender.append_row([patient])?;
        }
    }
    let mut withdrawn = 0;
    for table in REBUILT {
        withdrawn += conn.execute(
            &format!(
                "DELETE FROM {} WHERE source = 'CLAIMS' AND patient_key IN (SELECT patient_key FROM midnet_rebuilt) \
                 AND source_file IN (SELECT source_file FROM receipt_file)",
                ident(table)
            ),
            [],
        )?;
    }
    Ok(withdrawn as u64)
}

/// Rebuild the CLAIMS diagnoses, observation periods and stays of `patients` from the
/// month-by-month records of the current files: their rows out, and into the stagings rebuilt.
/// How many rows left the tables.
fn rebuild(conn: &duckdb::Connection, patients: &BTreeSet<String>) -> Result<u64> {
    let withdrawn = withdraw_rebuilt(conn, patients)?;
    rebuild_diagnoses(conn)?;
    rebuild_observation(conn)?;
    rebuild_stays(conn)?;
    conn.execute_batch("DROP TABLE midnet_rebuilt")?;
    Ok(withdrawn)
}

/// The diagnoses of the patients in `midnet_rebuilt`: one row per 傷病名コード, start and の疑い, with
/// the outcome (and main flag) of its latest month, ended on that month's last day unless it
/// continues; it records the file and line of that month's SY.
fn rebuild_diagnoses(conn: &duckdb::Connection) -> Result<()> {
    let staging = ident(&staging_name("diagnosis"));
    conn.execute_batch(&format!(
        "INSERT INTO {staging} (rn, patient_key, icd10, diagnosis_date, end_date, disease_outcome, suspected, \
             main_diagnosis, diagnosis_kind, source, source_file, line) \
         SELECT row_number() OVER (ORDER BY patient_key, disease_code, start_date, suspected), patient_key, icd10, \
             start_date::VARCHAR, CASE WHEN outcome <> 'continuing' THEN last_day(care_month)::VARCHAR END, outcome, \
             suspected::VARCHAR, main_diagnosis::VARCHAR, 'billing', 'CLAIMS', source_file, line \
         FROM (SELECT patient_key, disease_code, start_date, suspected, arg_max(icd10, k) AS icd10, \
                   arg_max(outcome, k) AS outcome, arg_max(main_diagnosis, k) AS main_diagnosis, \
                   arg_max(care_month, k) AS care_month, arg_max(source_file, k) AS source_file, \
                   arg_max(line, k) AS line \
               FROM {} \
               GROUP BY patient_key, disease_code, start_date, suspected)",
        in_order("receipt_diagnosis")
    ))?;
    Ok(())
}

/// The rows of the month-by-month records `table` of the patients in `midnet_rebuilt`, each with
/// `k`, by which a later record sorts after: its month of care, then its file and line.
fn in_order(table: &str) -> String {
    format!(
        "(SELECT *, care_month::VARCHAR || source_file || lpad(line::VARCHAR, 12, '0') AS k FROM {} \
         WHERE patient_key IN (SELECT patient_key FROM midnet_rebuilt))",
        ident(table)
    )
}

/// The observation period of each patient in `midnet_rebuilt`: a claim observes a patient in the
/// months it has receipts of them, and the period runs from the first day of the first to the last
/// day of the last, one span whatever months lie between (docs/claims.md); it records the file and
/// line of the latest receipt.
fn rebuild_observation(conn: &duckdb::Connection) -> Result<()> {
    let staging = ident(&staging_name("observation_period"));
    conn.execute_batch(&format!(
        "INSERT INTO {staging} (rn, patient_key, source, start_date, end_date, source_file, line) \
         SELECT row_number() OVER (ORDER BY patient_key), patient_key, 'CLAIMS', min(care_month)::VARCHAR, \
             last_day(max(care_month))::VARCHAR, arg_max(source_file, k), arg_max(line, k) \
         FROM {} GROUP BY patient_key",
        in_order("receipt_month")
    ))?;
    Ok(())
}

/// The stays of the patients in `midnet_rebuilt`: one per admission date (RE-9) of their inpatient
/// receipts, a stay billed month by month having one receipt a month. A claim has no discharge
/// date: the stay ends on the last day billed on its receipts (which the latest month's receipt
/// bills), or on its admission if none bills a day (docs/claims.md); it records the file and line
/// of its latest receipt.
fn rebuild_stays(conn: &duckdb::Connection) -> Result<()> {
    let staging = ident(&staging_name("encounter"));
    conn.execute_batch(&format!(
        "INSERT INTO {staging} (rn, patient_key, encounter_type, start_date, end_date, source, source_file, line) \
         SELECT row_number() OVER (ORDER BY patient_key, admitted), patient_key, 'inpatient', admitted::VARCHAR, \
             greatest(admitted, coalesce(max(last_billed), admitted))::VARCHAR, 'CLAIMS', arg_max(source_file, k), \
             arg_max(line, k) \
         FROM {} WHERE inpatient AND admitted IS NOT NULL GROUP BY patient_key, admitted",
        in_order("receipt_month")
    ))?;
    Ok(())
}

/// Record the files read, under the import's data version.
fn record_files(conn: &duckdb::Connection, files: &[&Given], mismatches: &[Mismatch], version: i64) -> Result<()> {
    let mut appender = conn.appender("receipt_file")?;
    for f in files {
        let mismatched = mismatches.iter().filter(|m| m.source_file == f.source_file).count();
        appender.append_row(duckdb::params![
            f.sha256,
            f.source_file,
            f.payer,
            f.billing.to_string(),
            f.bytes as i64,
            f.claims.receipts.len() as i64,
            mismatched as i64,
            version,
            None::<i64>
        ])?;
    }
    appender.flush()?;
    Ok(())
}
