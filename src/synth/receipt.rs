//! A synthetic claims site's CLAIMS rows as the monthly レセプト電算 files its hospital submits
//! (`midnet synth --format receipt`): `receipt/YYYYMM/RECEIPTC.UKE`, one file per billing month
//! (the month after the month of care), in Shift_JIS with CR LF and the EOF byte, so that
//! `site import receipt` of the files gives the CLAIMS rows `site load` gives of the CSV files.
//!
//! As the SS-MIX2 tree, the files are made from the CSV files rather than from the patient model.
//! Per patient and month of care with anything billed or a diagnosis current: an outpatient
//! receipt (1112) when something outpatient was billed or no stay was, and an inpatient one (1111)
//! for each CLAIMS stay billed that month (RE-9 its admission day), each with the
//! patient's sex, birth date and カルテ番号 (the hospital patient id of `ss-mix2-patients.csv`:
//! the same patient in both exports), a fake name and insurance numbers (never read), its HO with
//! the receipt's 合計点数, an SY for every CLAIMS diagnosis current that month (the 傷病名コード of
//! the synthetic b master; 8002 の疑い when suspected; the 転帰 on the month of the outcome,
//! 継続 before it; a code the master has not as the uncoded 0000999 with its name), an SI per
//! CLAIMS procedure code with its days (on the receipt of the stay a day falls in: the stay's
//! 入院基本料 on each of its days), and an IY per outpatient EHR drug order (the y master's
//! code; for 内服 the days supplied on the prescribing day). Files of care months before 令和
//! (2019-05) write era-coded dates, as files of that time did. One receipt of the site's first
//! patient declares a 合計点数 10 points more than its records add up to.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use csv::StringRecord;

use super::catalog::{PROCEDURE_ADMISSION, PROCEDURE_LAB_PANEL, PROCEDURE_OUTPATIENT_VISIT};
use super::ssmix2::{Grouped, hospital_id};
use crate::error::{Error, IoContext, Result};

/// The claims files' directory, relative to a synthesised site's directory.
pub const RECEIPT_DIR: &str = "receipt";
/// Hospital patient id (the receipts' カルテ番号) to the CSV files' patient key (test truth).
pub const PATIENTS_FILE: &str = "receipt-patients.csv";
/// The name every monthly claims file has.
pub const FILE_NAME: &str = "RECEIPTC.UKE";
/// The 傷病名コード of a diagnosis without a code (its name is written instead).
const UNCODED: &str = "0000999";
/// Care months before this one are written with era-coded dates.
const GREGORIAN_FROM: (i32, u32) = (2019, 5);

/// What the writer made, for the summary.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct ClaimsSummary {
    pub files: u64,
    pub receipts: u64,
}

/// Write the claims files of the site in `site_dir` from its CSV files in `import`.
/// With `linked_numbers`, the receipts number patients apart from the EHR (`super::link`).
pub fn write(site_dir: &Path, import: &Path, linked_numbers: bool) -> Result<ClaimsSummary> {
    let codes = Codes::load()?;
    let open = |table: &str| Grouped::open(import.join(format!("{table}.csv")));
    let (mut patients, mut periods, mut encounters) =
        (open("patient")?, open("observation_period")?, open("encounter")?);
    let (mut diagnoses, mut procedures, mut orders) = (open("diagnosis")?, open("procedure")?, open("drug_order")?);
    let mut files = Files { root: site_dir.join(RECEIPT_DIR), open: BTreeMap::new(), summary: Default::default() };
    let mut truth = String::from("hospital_id,patient_key\n");
    let mut idx = 0u64;
    while let Some(patient) = patients.next_row()? {
        let key = patient[0].to_string();
        truth.push_str(&format!("{},{key}\n", hospital_id(idx)));
        let claims_end =
            periods.take_of(&key, "CLAIMS")?.iter().filter_map(|r| date(&r[periods.column("end_date")])).max();
        let mut months: BTreeMap<(i32, u32), Month> = BTreeMap::new();
        let person = Person::of(&patients, &patient, idx, linked_numbers)?;
        for row in diagnoses.take_of(&key, "CLAIMS")? {
            add_diagnosis(&codes, &diagnoses, &row, claims_end, &mut months);
        }
        let stays = encounters.take_of(&key, "CLAIMS")?;
        let stays = add_stays(&encounters, &stays, &mut months);
        for row in procedures.take_of(&key, "CLAIMS")? {
            let (code, Some(day)) =
                (&row[procedures.column("procedure_code")], date(&row[procedures.column("procedure_date")]))
            else {
                continue;
            };
            let month = months.entry(month_of(day)).or_default();
            let receipt = match stays.iter().find(|(from, to)| (*from..=*to).contains(&day)) {
                Some((from, _)) => month.stays.entry(*from).or_default(),
                None => &mut month.outpatient,
            };
            let category = match code {
                PROCEDURE_OUTPATIENT_VISIT => "12",
                PROCEDURE_LAB_PANEL => "60",
                PROCEDURE_ADMISSION => "90",
                _ => "80",
            };
            receipt.entry(("SI", category, code.to_string(), String::new(), 0)).or_default().push((day.day(), 1));
        }
        for row in orders.take_of(&key, "EHR")? {
            add_order(&codes, &orders, &row, &mut months);
        }
        for (i, (month, care)) in months.iter().enumerate() {
            files.receipts(&person, *month, care, idx == 0 && i == 0)?;
        }
        idx += 1;
    }
    let path = site_dir.join(PATIENTS_FILE);
    std::fs::write(&path, truth).at(&path)?;
    files.finish()
}

/// The codes of the synthetic masters the files use.
struct Codes {
    /// YJ to the レセプト電算 drug code (y).
    drug: HashMap<String, String>,
    /// ICD-10 to the 傷病名コード (b).
    disease: HashMap<String, String>,
}

impl Codes {
    fn load() -> Result<Codes> {
        Ok(Codes { drug: super::masters::receipt_codes()?, disease: super::masters::disease_codes()? })
    }
}

/// A date of the CSV files (either style).
pub(super) fn date(text: &str) -> Option<NaiveDate> {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    NaiveDate::parse_from_str(&digits, "%Y%m%d").ok()
}

fn month_of(day: NaiveDate) -> (i32, u32) {
    (day.year(), day.month())
}

fn next_month((year, month): (i32, u32)) -> (i32, u32) {
    if month == 12 { (year + 1, 1) } else { (year, month + 1) }
}

/// The billed items of a receipt: (record, 診療識別, code, amount, its record among those of the
/// same drug and amount) to each (day, count).
type Items = BTreeMap<(&'static str, &'static str, String, String, u32), Vec<(u32, u64)>>;

/// One month of care of a patient.
#[derive(Default)]
struct Month {
    /// SY fields 2-7 of each diagnosis current.
    diagnoses: Vec<[String; 6]>,
    outpatient: Items,
    /// The items of each stay billed this month, by its admission day.
    stays: BTreeMap<NaiveDate, Items>,
}

/// The CLAIMS stays (first and last day) of a patient, each with an inpatient receipt in every
/// month it spans.
fn add_stays(
    table: &Grouped,
    rows: &[StringRecord],
    months: &mut BTreeMap<(i32, u32), Month>,
) -> Vec<(NaiveDate, NaiveDate)> {
    let at = |row: &StringRecord, c: &str| date(&row[table.column(c)]);
    let stays: Vec<(NaiveDate, NaiveDate)> =
        rows.iter().filter_map(|row| Some((at(row, "start_date")?, at(row, "end_date")?))).collect();
    for &(from, to) in &stays {
        let mut month = month_of(from);
        while month <= month_of(to) {
            months.entry(month).or_default().stays.entry(from).or_default();
            month = next_month(month);
        }
    }
    stays
}

/// An SY on every month from the diagnosis's start to its outcome (or to the end of the claims'
/// observation, while it continues).
fn add_diagnosis(
    codes: &Codes,
    table: &Grouped,
    row: &StringRecord,
    claims_end: Option<NaiveDate>,
    months: &mut BTreeMap<(i32, u32), Month>,
) {
    let at = |c: &str| row[table.column(c)].to_string();
    let Some(start) = date(&at("diagnosis_date")) else { return };
    let outcome = at("disease_outcome");
    let ended = (outcome != "1").then(|| date(&at("end_date"))).flatten();
    let Some(last) = ended.or(claims_end) else { return };
    let (code, name) = match codes.disease.get(&at("icd10")) {
        Some(code) => (code.clone(), String::new()),
        None => (UNCODED.to_string(), "架空症候群".to_string()),
    };
    let modifier = if at("suspected") == "1" { "8002" } else { "" };
    let main = if at("main_diagnosis") == "1" { "01" } else { "" };
    let mut month = month_of(start);
    while month <= month_of(last) {
        let outcome = if ended.is_some() && month == month_of(last) { outcome.as_str() } else { "1" };
        let sy = [code.clone(), ymd(start), outcome.to_string(), modifier.to_string(), name.clone(), main.to_string()];
        months.entry(month).or_default().diagnoses.push(sy);
        month = next_month(month);
    }
}

/// An IY for an outpatient order whose dates are dates: 内服 (21), 外用 (23) or an injection (33),
/// the daily amount, and on the prescribing day the days supplied (1 for an injection without).
fn add_order(codes: &Codes, table: &Grouped, row: &StringRecord, months: &mut BTreeMap<(i32, u32), Month>) {
    let at = |c: &str| row[table.column(c)].to_string();
    let (Some(day), Some(_)) = (date(&at("order_date")), date(&at("start_date"))) else { return };
    let Some(code) = codes.drug.get(&at("yj_code")) else { return };
    if at("setting") != "outpatient" {
        return;
    }
    let category = match at("route").as_str() {
        "oral" => "21",
        "topical" => "23",
        _ => "33",
    };
    let days = if category == "33" { 1 } else { at("days_supply").parse::<u64>().unwrap_or(1) };
    let items = &mut months.entry(month_of(day)).or_default().outpatient;
    // A second order of a drug on a day is a record of its own: a day's count is one order's days.
    let mut n = 0;
    while items
        .get(&("IY", category, code.clone(), at("daily_dose"), n))
        .is_some_and(|d| d.iter().any(|x| x.0 == day.day()))
    {
        n += 1;
    }
    items.entry(("IY", category, code.clone(), at("daily_dose"), n)).or_default().push((day.day(), days));
}

/// `YYYYMMDD`.
fn ymd(day: NaiveDate) -> String {
    day.format("%Y%m%d").to_string()
}

/// The era and its year's offset of a day (明治 1 … 令和 5).
fn era(day: NaiveDate) -> (u8, i32) {
    let from = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("a calendar day");
    match day {
        d if d >= from(2019, 5, 1) => (5, 2018),
        d if d >= from(1989, 1, 8) => (4, 1988),
        d if d >= from(1926, 12, 25) => (3, 1925),
        d if d >= from(1912, 7, 30) => (2, 1911),
        _ => (1, 1867),
    }
}

/// A date of a file: `YYYYMMDD`, or `GYYMMDD` in an era-coded file.
fn written(text: &str, era_coded: bool) -> String {
    match (era_coded, NaiveDate::parse_from_str(text, "%Y%m%d")) {
        (true, Ok(day)) => {
            let (g, offset) = era(day);
            format!("{g}{:02}{:02}{:02}", day.year() - offset, day.month(), day.day())
        }
        _ => text.to_string(),
    }
}

fn written_month((year, month): (i32, u32), era_coded: bool) -> String {
    let text = format!("{year:04}{month:02}01");
    let day = written(&text, era_coded);
    day[..day.len() - 2].to_string()
}

/// What a receipt says of its patient.
struct Person {
    /// RE-14 カルテ番号: the EHR's patient id, or the claims' own number (none for the first
    /// patient of a site numbering apart).
    id: Option<String>,
    /// HO-2, HO-3, HO-4.
    insurance: [String; 3],
    sex: &'static str,
    birth: String,
}

impl Person {
    fn of(table: &Grouped, row: &StringRecord, idx: u64, linked_numbers: bool) -> Result<Person> {
        let sex = match &row[table.column("sex")] {
            "M" | "1" => "1",
            "F" | "2" => "2",
            other => return Err(Error::Internal(format!("synthetic patient {idx}: sex {other}"))),
        };
        let birth = date(&row[table.column("birth_date")])
            .ok_or_else(|| Error::Internal(format!("synthetic patient {idx}: no birth date")))?;
        let id = if linked_numbers { super::link::claims_number(idx) } else { Some(hospital_id(idx)) };
        Ok(Person { id, insurance: super::link::insurance(idx), sex, birth: ymd(birth) })
    }
}

/// The points the synthetic hospitals bill for each procedure, and for a drug per day's count.
fn points(record: &str, code: &str) -> u64 {
    match (record, code) {
        (_, PROCEDURE_OUTPATIENT_VISIT) => 75,
        (_, PROCEDURE_LAB_PANEL) => 144,
        (_, PROCEDURE_ADMISSION) => 1_650,
        _ => 10,
    }
}

/// A file being written: its receipts so far and their 合計点数.
struct MonthFile {
    out: BufWriter<File>,
    path: PathBuf,
    era_coded: bool,
    receipts: u64,
    points: u64,
}

impl MonthFile {
    fn line(&mut self, fields: &[String]) -> Result<()> {
        let text = fields.join(",");
        let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(&text);
        if unmappable {
            return Err(Error::Internal(format!("{}: a record without a Shift_JIS form", self.path.display())));
        }
        self.out.write_all(&bytes).at(&self.path)?;
        self.out.write_all(b"\r\n").at(&self.path)
    }
}

/// A record of `count` fields, those given set.
fn record(count: usize, given: &[&str]) -> Vec<String> {
    let mut fields: Vec<String> = given.iter().map(|s| s.to_string()).collect();
    fields.resize(count, String::new());
    fields
}

/// The files being written, by month of care.
struct Files {
    root: PathBuf,
    open: BTreeMap<(i32, u32), MonthFile>,
    summary: ClaimsSummary,
}

impl Files {
    fn file(&mut self, month: (i32, u32)) -> Result<&mut MonthFile> {
        if !self.open.contains_key(&month) {
            let billing = next_month(month);
            let dir = self.root.join(format!("{:04}{:02}", billing.0, billing.1));
            std::fs::create_dir_all(&dir).at(&dir)?;
            let path = dir.join(FILE_NAME);
            let out = BufWriter::new(File::create(&path).at(&path)?);
            let era_coded = month < GREGORIAN_FROM;
            let mut file = MonthFile { out, path, era_coded, receipts: 0, points: 0 };
            let billed = written_month(billing, era_coded);
            file.line(&record(
                10,
                &["IR", "1", "13", "1", "1310001", "", "架空記念病院", &billed, "00", "03-0000-0000"],
            ))?;
            self.open.insert(month, file);
        }
        Ok(self.open.get_mut(&month).expect("opened"))
    }

    /// The month's receipts of one patient: outpatient when something outpatient was billed or no
    /// stay was (a month of diagnoses alone), and one per stay billed.
    fn receipts(&mut self, person: &Person, month: (i32, u32), care: &Month, wrong_total: bool) -> Result<()> {
        let file = self.file(month)?;
        let mut first = true;
        let outpatient = (!care.outpatient.is_empty() || care.stays.is_empty()).then_some((None, &care.outpatient));
        let stays = care.stays.iter().map(|(admitted, items)| (Some(*admitted), items));
        for (admitted, items) in outpatient.into_iter().chain(stays) {
            file.receipts += 1;
            let era = file.era_coded;
            let kind = if admitted.is_some() { "1111" } else { "1112" };
            let admitted = admitted.map(|d| written(&ymd(d), era)).unwrap_or_default();
            let number = file.receipts.to_string();
            let mut re = record(38, &["RE", &number, kind, &written_month(month, era), "架空　太郎", person.sex]);
            re[6] = written(&person.birth, era);
            re[8] = admitted;
            re[13] = person.id.clone().unwrap_or_default();
            re[36] = "カクウ　タロウ".to_string();
            file.line(&re)?;
            let billed: u64 = items
                .iter()
                .map(|((record, _, code, ..), days)| points(record, code) * days.iter().map(|(_, n)| n).sum::<u64>())
                .sum();
            let declared = billed + if wrong_total && first { 10 } else { 0 };
            first = false;
            file.points += declared;
            let [insurer, symbol, number] = &person.insurance;
            file.line(&record(15, &["HO", insurer, symbol, number, "1", &declared.to_string()]))?;
            for sy in &care.diagnoses {
                let mut fields = record(8, &["SY"]);
                fields[1..7].clone_from_slice(sy);
                fields[2] = written(&sy[1], era);
                file.line(&fields)?;
            }
            for ((id, category, code, amount, _), days) in items {
                let times: u64 = days.iter().map(|(_, n)| n).sum();
                let point = points(id, code).to_string();
                let mut fields = record(44, &[id, category, "1", code, amount, &point, &times.to_string()]);
                let mut by_day: BTreeMap<u32, u64> = BTreeMap::new();
                for (day, n) in days {
                    *by_day.entry(*day).or_default() += n;
                }
                for (day, n) in by_day {
                    fields[12 + day as usize] = n.to_string();
                }
                file.line(&fields)?;
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Result<ClaimsSummary> {
        for (_, mut file) in std::mem::take(&mut self.open) {
            file.line(&record(4, &["GO", &file.receipts.to_string(), &file.points.to_string(), "99"]))?;
            file.out.write_all(b"\x1a").at(&file.path)?;
            file.out.flush().at(&file.path)?;
            self.summary.files += 1;
            self.summary.receipts += file.receipts;
        }
        Ok(self.summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::receipt::uke;

    /// Every file is read back by the import's reader with no problem but the one wrong total, and
    /// holds every CLAIMS procedure of the CSV files, each on its day.
    #[test]
    fn the_reader_reads_every_file_and_finds_every_claims_procedure() {
        let dir = tempfile::tempdir().unwrap();
        let opts = crate::synth::SynthOptions {
            sites: 3,
            patients: 60,
            seed: 3,
            out: dir.path().join("net"),
            data_start: crate::query::value::parse_date("2016-04-01").unwrap(),
            data_end: crate::query::value::parse_date("2025-09-30").unwrap(),
            dirty: 0.0,
            ss_mix2: false,
            receipt: true,
            dpc: false,
            linked_numbers: false,
        };
        let summary = crate::synth::synthesize(&opts, &crate::progress::Progress::new(true)).unwrap();
        let mut sites = 0;
        for site in summary.sites.iter().filter(|s| s.receipt.is_some()) {
            sites += 1;
            let (mut procedures, mut problems, mut era_coded) = (0u64, Vec::new(), 0);
            for entry in std::fs::read_dir(site.path.join(RECEIPT_DIR)).unwrap() {
                let bytes = std::fs::read(entry.unwrap().path().join(FILE_NAME)).unwrap();
                let claims = uke::read(&bytes).unwrap();
                let text = encoding_rs::SHIFT_JIS.decode(&bytes).0.into_owned();
                let billed = text.lines().next().unwrap().split(',').nth(7).unwrap().to_string();
                era_coded += usize::from(billed.len() == 5);
                problems.extend(claims.problems.into_iter().map(|p| (p.record, p.field)));
                for item in claims.receipts.iter().flat_map(|r| &r.items).filter(|i| i.kind == uke::ItemKind::Procedure)
                {
                    procedures += item.days.iter().map(|(_, n)| n).sum::<u64>();
                }
            }
            assert_eq!(problems, [("HO".to_string(), Some(6))], "{}", site.id);
            let csv = std::fs::read_to_string(site.path.join("import/procedure.csv")).unwrap();
            assert_eq!(procedures, csv.lines().filter(|l| l.ends_with(",CLAIMS")).count() as u64, "{}", site.id);
            assert!(era_coded > 0, "{}: files of 平成 write era-coded dates", site.id);
        }
        assert!(sites > 0);
    }

    #[test]
    fn dates_are_era_coded_by_the_era_of_the_day() {
        assert_eq!(written("19490522", true), "3240522");
        assert_eq!(written("20190430", true), "4310430");
        assert_eq!(written("20190501", true), "5010501");
        assert_eq!(written("20190501", false), "20190501");
        assert_eq!(written_month((2010, 3), true), "42203");
        assert_eq!(written_month((2024, 3), false), "202403");
    }
}
