//! A synthetic DPC site's DPC rows as the survey files its hospital submits (`midnet synth --format
//! dpc`): `dpc/YYYYMM/FF1_<facility>_YYYYMM.txt` (様式1 of the stays discharged that month) and
//! `dpc/YYYYMM/EFn_<facility>_YYYYMM.txt` (the EF統合ファイル lines of the items given that month),
//! TAB-separated, CR LF, Shift_JIS (hospital-inputs.md §3), so that `site import dpc` of the files
//! gives the DPC rows `site load` gives of the CSV files.
//!
//! As the claims files, they are made from the CSV files. Per DPC stay: A000010 (sex, birth date,
//! a postcode never read), A000020 (admission date, route), A000030 (discharge date, destination,
//! outcome), A000040 (department), A006010 (the main diagnosis: the patient's EHR diagnosis begun
//! last before the discharge, main ones first) and A006040 (each other EHR diagnosis current at
//! admission), each with its ICD-10 and the 傷病名コード of the synthetic b master, 8002 when
//! suspected. Per DPC administration an EF detail line on its day (the y master's code, the
//! amount, データ区分 33/21/23 by route), EF-17 in the layout of its survey year. The データ識別番号
//! is the hospital patient id of `ss-mix2-patients.csv`: the same patient in every export. The
//! site's first stay carries one line of each bad kind `site import dpc` must quarantine, beside
//! its good lines: a line cut short, a record code of no 様式1 form, an impossible date, an
//! unknown 入院経路, a 傷病名コード the master has not, a surgery (A007010) on an impossible day and
//! one whose 点数表コード the procedure master has no code for (the CSV files hold no DPC
//! surgery, so no good A007010 is written), and in EF an EF-17 of the wrong survey year's
//! layout and a drug code the master has not. `dpc-planted.csv` lists them, `dpc-patients.csv`
//! maps the データ識別番号 to the CSV files' patient keys (test truth).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use csv::StringRecord;

use super::receipt::date;
use super::ssmix2::{Grouped, hospital_id};
use crate::error::{Error, IoContext, Result};

/// The DPC files' directory, relative to a synthesised site's directory.
pub const DPC_DIR: &str = "dpc";
/// Hospital patient id (the データ識別番号) to the CSV files' patient key (test truth).
pub const PATIENTS_FILE: &str = "dpc-patients.csv";
/// The lines planted bad: file name, line, place (test truth).
pub const PLANTED_FILE: &str = "dpc-planted.csv";
/// A 傷病名コード and a drug code the synthetic masters have not.
const UNKNOWN_DISEASE: &str = "8899999";
/// A surgery's 点数表コード: the synthetic procedure master has no surgery (no item under a 点数表
/// letter), so it names no 診療行為コード.
const SURGERY: &str = "K0821";
const UNKNOWN_DRUG: &str = "629999999";
/// The 様式1 payloads' version column.
const FF1_VERSION: &str = "20140401";

/// What the writer made, for the summary.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct DpcSummary {
    pub files: u64,
    pub stays: u64,
    pub ef_lines: u64,
}

/// Write the DPC files of the site in `site_dir` (the `index`th of the network) from its CSV files
/// in `import`.
/// With `linked_numbers`, the files number patients apart from the EHR (`super::link`).
pub fn write(site_dir: &Path, import: &Path, index: usize, linked_numbers: bool) -> Result<DpcSummary> {
    let codes = Codes { drug: super::masters::receipt_codes()?, disease: super::masters::disease_codes()? };
    let open = |table: &str| Grouped::open(import.join(format!("{table}.csv")));
    let (mut patients, mut encounters) = (open("patient")?, open("encounter")?);
    let (mut diagnoses, mut administrations) = (open("diagnosis")?, open("drug_administration")?);
    let facility = format!("13{:07}", 1_000_000 + index);
    let mut files =
        Files { root: site_dir.join(DPC_DIR), facility, open: BTreeMap::new(), summary: Default::default() };
    let mut planted = String::from("file,line,place\n");
    let mut truth = String::from("hospital_id,patient_key\n");
    let mut idx = 0u64;
    while let Some(patient) = patients.next_row()? {
        let key = patient[0].to_string();
        let ehr_id = hospital_id(idx);
        let id = if linked_numbers { super::link::dpc_number(idx) } else { ehr_id.clone() };
        idx += 1;
        truth.push_str(&format!("{ehr_id},{key}\n"));
        let stays = encounters.take_of(&key, "DPC")?;
        let ehr = diagnoses.take_of(&key, "EHR")?;
        let given = administrations.take_of(&key, "DPC")?;
        for row in &stays {
            let stay = Stay::of(&encounters, row)?;
            let sex = match &patient[patients.column("sex")] {
                "M" | "1" => "1",
                _ => "2",
            };
            let birth = date(&patient[patients.column("birth_date")])
                .ok_or_else(|| Error::Internal(format!("synthetic patient {idx}: no birth date")))?;
            let plant = files.summary.stays == 0;
            let ff1 = files.stay(&id, &stay, sex, birth, &stay_diagnoses(&codes, &diagnoses, &ehr, &stay))?;
            let in_stay = given.iter().filter(|a| {
                day_of(&a[administrations.column("start_time")])
                    .is_some_and(|d| stay.admitted <= d && d <= stay.discharged)
            });
            for row in in_stay {
                files.administration(&codes, &administrations, row, &id, &stay)?;
            }
            if plant {
                planted.push_str(&files.plant(&id, &stay, &ff1)?);
            }
        }
    }
    for (name, text) in [(PATIENTS_FILE, truth), (PLANTED_FILE, planted)] {
        let path = site_dir.join(name);
        std::fs::write(&path, text).at(&path)?;
    }
    files.finish()
}

struct Codes {
    drug: std::collections::HashMap<String, String>,
    disease: std::collections::HashMap<String, String>,
}

/// A DPC stay of the encounter file, its codes as 様式1 writes them.
struct Stay {
    admitted: NaiveDate,
    discharged: NaiveDate,
    department: &'static str,
    route: &'static str,
    destination: &'static str,
    outcome: &'static str,
}

impl Stay {
    fn of(table: &Grouped, row: &StringRecord) -> Result<Stay> {
        let at = |c: &str| row[table.column(c)].to_string();
        let (Some(admitted), Some(discharged)) = (date(&at("start_date")), date(&at("end_date"))) else {
            return Err(Error::Internal(format!("synthetic stay of {} without its dates", &row[0])));
        };
        Ok(Stay {
            admitted,
            discharged,
            department: if at("department") == "internal_medicine" { "010" } else { "" },
            route: match at("admission_route").as_str() {
                "home" => "1",
                "other_hospital" => "4",
                "care_facility" => "5",
                "ward_transfer" => "0",
                _ => "9",
            },
            destination: match at("discharge_destination").as_str() {
                "home" => "1",
                "other_hospital" => "4",
                "care_facility" => "5",
                "died" => "8",
                _ => "9",
            },
            outcome: match at("discharge_outcome").as_str() {
                "improving" | "cured" => "1",
                "remission" => "3",
                "unchanged" => "4",
                "worsening" => "5",
                "died" => "6",
                _ => "9",
            },
        })
    }
}

/// A stay's diagnoses: (様式1 code, ICD-10, 傷病名コード, suspected).
type StayDiagnoses = Vec<(&'static str, String, String, bool)>;

/// The main diagnosis (the EHR diagnosis begun last before the discharge, main ones first) and the
/// others current at admission.
fn stay_diagnoses(codes: &Codes, table: &Grouped, ehr: &[StringRecord], stay: &Stay) -> StayDiagnoses {
    let at = |row: &StringRecord, c: &str| row[table.column(c)].to_string();
    let mut begun: Vec<(bool, NaiveDate, &StringRecord)> = Vec::new();
    for row in ehr {
        if let Some(day) = date(&at(row, "diagnosis_date")).filter(|day| *day <= stay.discharged) {
            begun.push((at(row, "main_diagnosis") == "1", day, row));
        }
    }
    begun.sort_by_key(|&(main, day, _)| (main, day));
    let Some((_, _, main)) = begun.pop() else { return Vec::new() };
    let written = |code: &'static str, row: &StringRecord| {
        let icd10 = at(row, "icd10");
        let disease = codes.disease.get(&icd10).cloned().unwrap_or_default();
        (code, icd10, disease, at(row, "suspected") == "1")
    };
    let mut rows = vec![written("A006010", main)];
    for &(_, day, row) in &begun {
        let current = day <= stay.admitted && date(&at(row, "end_date")).is_none_or(|end| end >= stay.admitted);
        let comorbidity = written("A006040", row);
        if current && !rows.iter().any(|w| (&w.1, w.3) == (&comorbidity.1, comorbidity.3)) {
            rows.push(comorbidity);
        }
    }
    rows
}

/// The day of a date or a time of the CSV files.
fn day_of(text: &str) -> Option<NaiveDate> {
    date(text.get(..10).unwrap_or(text))
}

/// `YYYYMMDD`.
fn ymd(day: NaiveDate) -> String {
    day.format("%Y%m%d").to_string()
}

/// The layout of EF-17 on a day: one character up to survey year 2015, twelve digits after.
fn ef17(day: NaiveDate) -> &'static str {
    let survey_year = if day.month() >= 4 { day.year() } else { day.year() - 1 };
    if survey_year <= 2015 { "0" } else { "000000000000" }
}

/// A file being written.
struct DpcFile {
    out: BufWriter<File>,
    path: PathBuf,
    lines: u64,
}

impl DpcFile {
    fn line(&mut self, fields: &[String]) -> Result<u64> {
        let text = fields.join("\t");
        let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(&text);
        if unmappable {
            return Err(Error::Internal(format!("{}: a line without a Shift_JIS form", self.path.display())));
        }
        self.out.write_all(&bytes).at(&self.path)?;
        self.out.write_all(b"\r\n").at(&self.path)?;
        self.lines += 1;
        Ok(self.lines)
    }
}

/// The files being written, by kind and month.
struct Files {
    root: PathBuf,
    facility: String,
    open: BTreeMap<(&'static str, (i32, u32)), DpcFile>,
    summary: DpcSummary,
}

impl Files {
    fn file(&mut self, kind: &'static str, day: NaiveDate) -> Result<&mut DpcFile> {
        let month = (day.year(), day.month());
        if !self.open.contains_key(&(kind, month)) {
            let yyyymm = format!("{:04}{:02}", month.0, month.1);
            let dir = self.root.join(&yyyymm);
            std::fs::create_dir_all(&dir).at(&dir)?;
            let path = dir.join(format!("{kind}_{}_{yyyymm}.txt", self.facility));
            let out = BufWriter::new(File::create(&path).at(&path)?);
            self.open.insert((kind, month), DpcFile { out, path, lines: 0 });
        }
        Ok(self.open.get_mut(&(kind, month)).expect("opened"))
    }

    /// A 様式1 line of the stay: its record code, 連番 and payloads.
    fn ff1_line(&self, id: &str, stay: &Stay, code: &str, seq: usize, payloads: &[&str]) -> Vec<String> {
        let mut fields = vec![
            self.facility.clone(),
            id.to_string(),
            ymd(stay.admitted),
            "0".to_string(),
            "0".to_string(),
            code.to_string(),
            FF1_VERSION.to_string(),
            seq.to_string(),
        ];
        fields.extend(payloads.iter().map(|p| p.to_string()));
        fields.resize(17, String::new());
        fields
    }

    /// The stay's 様式1 lines; the file's name.
    fn stay(
        &mut self,
        id: &str,
        stay: &Stay,
        sex: &str,
        birth: NaiveDate,
        diagnoses: &StayDiagnoses,
    ) -> Result<PathBuf> {
        self.summary.stays += 1;
        let (admitted, discharged) = (ymd(stay.admitted), ymd(stay.discharged));
        let mut lines = vec![
            self.ff1_line(id, stay, "A000010", 0, &[ymd(birth).as_str(), sex, "1000000"]),
            self.ff1_line(id, stay, "A000020", 0, &[admitted.as_str(), stay.route, "0", "1", "100", "0", "0"]),
            self.ff1_line(id, stay, "A000030", 0, &[discharged.as_str(), stay.destination, stay.outcome, "0", "0"]),
            self.ff1_line(id, stay, "A000040", 0, &["", stay.department, "0"]),
        ];
        let mut seq: BTreeMap<&str, usize> = BTreeMap::new();
        for (code, icd10, disease, suspected) in diagnoses {
            let n = seq.entry(code).or_default();
            let modifier = if *suspected { "8002" } else { "" };
            lines.push(self.ff1_line(id, stay, code, *n, &["", icd10.as_str(), "", disease.as_str(), modifier]));
            *n += 1;
        }
        let file = self.file("FF1", stay.discharged)?;
        for line in &lines {
            file.line(line)?;
        }
        Ok(file.path.clone())
    }

    /// An EF line of an item given on `day`.
    fn ef_line(&self, id: &str, stay: &Stay, category: &str, code: &str, amount: &str, day: NaiveDate) -> Vec<String> {
        let (given, discharged, admitted) = (ymd(day), ymd(stay.discharged), ymd(stay.admitted));
        [
            self.facility.as_str(),
            id,
            discharged.as_str(),
            admitted.as_str(),
            category,
            "0001",
            "001",
            "",
            code,
            "",
            "",
            amount,
            "000",
            "10",
            "0",
            "10",
            ef17(day),
            "10",
            "0",
            "0",
            "1",
            "06139999",
            "1111",
            given.as_str(),
            "01",
            "010",
            "D000001",
            "W5",
            "0",
            "1",
            "",
        ]
        .iter()
        .map(|f| f.to_string())
        .collect()
    }

    /// The EF line of a DPC administration (none for a drug the y master has not).
    fn administration(
        &mut self,
        codes: &Codes,
        table: &Grouped,
        row: &StringRecord,
        id: &str,
        stay: &Stay,
    ) -> Result<()> {
        let at = |c: &str| row[table.column(c)].to_string();
        let (Some(code), Some(day)) = (codes.drug.get(&at("yj_code")), day_of(&at("start_time"))) else {
            return Ok(());
        };
        let category = match at("route").as_str() {
            "oral" => "21",
            "topical" => "23",
            _ => "33",
        };
        let line = self.ef_line(id, stay, category, code, &at("amount"), day);
        self.file("EFn", day)?.line(&line)?;
        self.summary.ef_lines += 1;
        Ok(())
    }

    /// One bad line of each kind beside the stay's good ones: `file,line,place` of each.
    fn plant(&mut self, id: &str, stay: &Stay, ff1: &Path) -> Result<String> {
        let admitted = ymd(stay.admitted);
        let a000020 = |route: &str| self.ff1_line(id, stay, "A000020", 0, &[admitted.as_str(), route]);
        let mut short = a000020("1");
        short.truncate(12);
        let mut no_form = a000020("1");
        no_form[5] = "a000020".to_string();
        let mut impossible = a000020("1");
        impossible[2] = format!("{}0231", stay.admitted.year());
        let bad_route = a000020("7");
        let unknown = self.ff1_line(id, stay, "A006040", 9, &["", "E119", "", UNKNOWN_DISEASE]);
        let surgery = |day: &str| self.ff1_line(id, stay, "A007010", 0, &[day, SURGERY, "", "1", "0", "1"]);
        let surgery_on_no_day = surgery(&format!("{}0230", stay.admitted.year()));
        let unknown_surgery = surgery(&admitted);
        let mut truth = String::new();
        let name = |path: &Path| path.file_name().expect("a file name").to_string_lossy().into_owned();
        let ff1_name = name(ff1);
        let file = self.file("FF1", stay.discharged)?;
        let bad = [
            (short, "FF-1"),
            (no_form, "FF-6"),
            (impossible, "FF-3"),
            (bad_route, "FF-10"),
            (unknown, "FF-12"),
            (surgery_on_no_day, "FF-9"),
            (unknown_surgery, "FF-10"),
        ];
        for (line, place) in bad {
            let n = file.line(&line)?;
            truth.push_str(&format!("{ff1_name},{n},{place}\n"));
        }
        let day = stay.admitted;
        let mut old_layout = self.ef_line(id, stay, "33", UNKNOWN_DRUG, "1", day);
        old_layout[16] = if ef17(day) == "0" { "000000000000" } else { "0" }.to_string();
        let unknown_drug = self.ef_line(id, stay, "33", UNKNOWN_DRUG, "1", day);
        let file = self.file("EFn", day)?;
        let ef_name = name(&file.path);
        for (line, place) in [(old_layout, "EF-17"), (unknown_drug, "EF-9")] {
            let n = file.line(&line)?;
            truth.push_str(&format!("{ef_name},{n},{place}\n"));
        }
        Ok(truth)
    }

    fn finish(mut self) -> Result<DpcSummary> {
        for (_, mut file) in std::mem::take(&mut self.open) {
            file.out.flush().at(&file.path)?;
            self.summary.files += 1;
        }
        Ok(self.summary)
    }
}
