//! A synthetic site's electronic records as the SS-MIX2 standardized storage a hospital exports
//! (`midnet synth --format ss-mix2`): the EHR rows of the site's CSV files, patient by patient,
//! written as the HL7 v2.5 messages `site import ss-mix2` reads, in ISO-2022-JP, in the tree of
//! hospital-inputs.md §1, so that importing the tree and loading the CSV files give the same rows.
//!
//! The tree is made from the CSV files rather than from the patient model so that the two cannot
//! disagree: every EHR row of patient, encounter, diagnosis, drug_order, drug_administration and
//! lab_result is in exactly one message. Around those rows the tree carries what a real export
//! carries and the import must get past: names, addresses, phones, insurance numbers, next of kin
//! and doctors (all fake; listed in `ss-mix2-identifying.csv` so a test can look for each), a
//! share of local codes (their mapping in `ss-mix2-mapping.csv`, in `site mapping import`'s
//! layout), drugs coded by HOT9 or YJ, diagnoses coded only by their MEDIS number, superseded
//! (`_2`) versions, a deleted (`_0`) order, cancelled admissions, entries made in error, and an
//! occasional file that cannot be read. `ss-mix2-patients.csv` maps the hospital's patient ids to
//! the CSV files' patient keys: the synthetic truth a test needs, never read by the import.
//!
//! What the CSV rows hold that SS-MIX2 does not carry: the observation period (an importer derives
//! its own), the CLAIMS and DPC rows (issue 21's files), procedures (SS-MIX2's 36 data kinds have
//! none). Every other EHR field has its place below.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use csv::StringRecord;

use super::site::mix;
use crate::error::{Error, IoContext, Result};

/// The storage's root, relative to a synthesised site's directory.
pub const TREE_DIR: &str = "ss-mix2";
/// The mapping of the tree's local codes, relative to the site's directory.
pub const MAPPING_FILE: &str = "ss-mix2-mapping.csv";
/// Hospital patient id to the CSV files' patient key (test truth).
pub const PATIENTS_FILE: &str = "ss-mix2-patients.csv";
/// Every identifying value written into the tree, by kind (test truth).
pub const IDENTIFYING_FILE: &str = "ss-mix2-identifying.csv";

/// The local code systems of the synthetic hospital.
const LOCAL_DRUGS: &str = "99HOSP";
const LOCAL_LABS: &str = "99LAB";
/// Drug lines per injection category (OMP-02's RXE-2 names a category, its RXC lines the drugs).
const INJECTION_CATEGORY: &str = "00^一般^99I02";
const MSH_TAIL: &str = "P|2.5||||||~ISO IR87||ISO 2022-1994|SS-MIX2_1.20^SS-MIX2^1.2.392.200250.2.1.100.1.2.120^ISO";

/// What the writer made, for the summary.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct TreeSummary {
    pub files: u64,
    pub bytes: u64,
}

/// Write the SS-MIX2 tree of the site in `site_dir` from its CSV files in `import`.
pub fn write(site_dir: &Path, import: &Path, seed: u64, site_index: usize) -> Result<TreeSummary> {
    let codes = Codes::load()?;
    let mut tables = Tables::open(import)?;
    let mut writer = Writer {
        root: site_dir.join(TREE_DIR),
        seed,
        site: site_index as u64,
        summary: TreeSummary::default(),
        mapping: HashMap::new(),
        identifying: Vec::new(),
    };
    let mut patients = String::from("hospital_id,patient_key\n");
    let mut idx = 0u64;
    while let Some(patient) = tables.patient.next_row()? {
        let key = patient[0].to_string();
        let chart = Chart {
            patient,
            encounters: tables.encounter.take(&key)?,
            diagnoses: tables.diagnosis.take(&key)?,
            orders: tables.drug_order.take(&key)?,
            administrations: tables.drug_administration.take(&key)?,
            labs: tables.lab_result.take(&key)?,
        };
        let hospital_id = hospital_id(idx);
        patients.push_str(&format!("{hospital_id},{key}\n"));
        writer.patient(&codes, &tables, &hospital_id, idx, &chart)?;
        idx += 1;
    }
    let path = site_dir.join(PATIENTS_FILE);
    std::fs::write(&path, patients).at(&path)?;
    tables.all_read()?;
    writer.finish(site_dir)?;
    Ok(writer.summary)
}

/// A 10-digit hospital patient id, unique in the site (7,919 is prime to 10⁹) and unlike the CSV
/// files' keys; no round number, so that a test looking for it in a site's files finds it only
/// where it was written.
pub(super) fn hospital_id(idx: u64) -> String {
    format!("{:010}", 2_000_000_000 + (123_457 + idx * 7_919) % 1_000_000_000)
}

/// A CSV file read patient by patient: the rows of one patient are together, in the order of the
/// patient file (synthesis writes a patient's rows before the next patient's).
pub(super) struct Grouped {
    path: PathBuf,
    columns: HashMap<String, usize>,
    rows: csv::StringRecordsIntoIter<File>,
    next: Option<StringRecord>,
}

impl Grouped {
    pub(super) fn open(path: PathBuf) -> Result<Grouped> {
        let mut reader = csv::Reader::from_reader(File::open(&path).at(&path)?);
        let columns = reader
            .headers()
            .map_err(|e| unreadable_csv(&path, e))?
            .iter()
            .enumerate()
            .map(|(i, h)| (h.to_string(), i))
            .collect();
        let mut grouped = Grouped { path, columns, rows: reader.into_records(), next: None };
        grouped.advance()?;
        Ok(grouped)
    }

    fn advance(&mut self) -> Result<()> {
        self.next = self.rows.next().transpose().map_err(|e| unreadable_csv(&self.path, e))?;
        Ok(())
    }

    pub(super) fn next_row(&mut self) -> Result<Option<StringRecord>> {
        let row = self.next.take();
        self.advance()?;
        Ok(row)
    }

    /// The EHR rows of patient `key` (the rows of other sources are skipped).
    fn take(&mut self, key: &str) -> Result<Vec<StringRecord>> {
        self.take_of(key, "EHR")
    }

    /// The rows of `source` of patient `key` (the rows of other sources are skipped).
    pub(super) fn take_of(&mut self, key: &str, source: &str) -> Result<Vec<StringRecord>> {
        let source_column = self.column("source");
        let mut rows = Vec::new();
        while self.next.as_ref().is_some_and(|r| &r[0] == key) {
            let row = self.next_row()?.expect("a row was peeked");
            if &row[source_column] == source {
                rows.push(row);
            }
        }
        Ok(rows)
    }

    pub(super) fn column(&self, name: &str) -> usize {
        self.columns[name]
    }
}

/// Synthesis reads back the CSV files it has just written: one it cannot read is its own fault.
fn unreadable_csv(path: &Path, e: csv::Error) -> Error {
    Error::Internal(format!("{}: {e}", path.display()))
}

struct Tables {
    patient: Grouped,
    encounter: Grouped,
    diagnosis: Grouped,
    drug_order: Grouped,
    drug_administration: Grouped,
    lab_result: Grouped,
}

impl Tables {
    fn open(import: &Path) -> Result<Tables> {
        let open = |table: &str| Grouped::open(import.join(format!("{table}.csv")));
        Ok(Tables {
            patient: open("patient")?,
            encounter: open("encounter")?,
            diagnosis: open("diagnosis")?,
            drug_order: open("drug_order")?,
            drug_administration: open("drug_administration")?,
            lab_result: open("lab_result")?,
        })
    }

    /// Every row was some patient's: a row left over means the files are not in patient order.
    fn all_read(&self) -> Result<()> {
        for table in [&self.encounter, &self.diagnosis, &self.drug_order, &self.drug_administration, &self.lab_result] {
            if let Some(row) = &table.next {
                return Err(Error::Internal(format!(
                    "{}: the rows of patient {} are not in the order of patient.csv",
                    table.path.display(),
                    &row[0]
                )));
            }
        }
        Ok(())
    }
}

/// One patient's EHR rows.
struct Chart {
    patient: StringRecord,
    encounters: Vec<StringRecord>,
    diagnoses: Vec<StringRecord>,
    orders: Vec<StringRecord>,
    administrations: Vec<StringRecord>,
    labs: Vec<StringRecord>,
}

/// A segment built by field number, so that no field lands one place off.
struct Segment(Vec<String>);

impl Segment {
    fn new(name: &str) -> Segment {
        Segment(vec![name.to_string()])
    }

    fn set(mut self, n: usize, value: impl Into<String>) -> Segment {
        if self.0.len() <= n {
            self.0.resize(n + 1, String::new());
        }
        self.0[n] = value.into();
        self
    }

    fn text(&self) -> String {
        self.0.join("|")
    }
}

/// The official codes the tree names drugs and diagnoses by.
struct Codes {
    /// YJ code to HOT13 (the synthetic HOT master's).
    hot: HashMap<String, String>,
    /// YJ code to the drug's name.
    drug_name: HashMap<String, String>,
    /// ICD-10 to the disease's MEDIS 病名管理番号 and name (the synthetic disease master's).
    disease: HashMap<String, (String, String)>,
}

impl Codes {
    fn load() -> Result<Codes> {
        let hot = super::masters::hot_codes()?;
        let drug_name = super::masters::built_in("drug_master")?.iter().map(|r| (r[0].into(), r[1].into())).collect();
        let disease = super::masters::management_numbers()?;
        Ok(Codes { hot, drug_name, disease })
    }
}

struct Writer {
    root: PathBuf,
    seed: u64,
    site: u64,
    summary: TreeSummary,
    /// Local code to (kind, local system, standard code, text).
    mapping: HashMap<String, (&'static str, &'static str, String, String)>,
    /// (kind, value) of every identifying value written.
    identifying: Vec<(&'static str, String)>,
}

/// A file of the tree: its key's parts and its message.
struct Stored {
    /// 診療日, or none for patient-level data (ADT-00, PPR-01).
    date: Option<String>,
    kind: &'static str,
    order: u64,
    /// 発生日時, 17 digits.
    stored: String,
    condition: u8,
    text: String,
    /// A byte ISO-2022-JP has not, put at this offset of the encoded message (a broken file).
    bad_byte_at: Option<usize>,
}

impl Stored {
    fn new(date: Option<&str>, kind: &'static str, order: u64, stored: String, text: String) -> Stored {
        Stored { date: date.map(str::to_string), kind, order, stored, condition: 1, text, bad_byte_at: None }
    }
}

impl Writer {
    /// A draw in [0, 1) for (patient, item, purpose): the same seed gives the same tree.
    fn chance(&self, idx: u64, item: u64, purpose: u64) -> f64 {
        let z = mix(self.seed ^ purpose.wrapping_mul(0xA24B_AED4_963E_E407), self.site, idx ^ (item << 32));
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    fn patient(&mut self, codes: &Codes, tables: &Tables, id: &str, idx: u64, chart: &Chart) -> Result<()> {
        let person = Person::fake(id, idx, &chart.patient, self);
        let mut files = Files { list: vec![person.demographics()], order: 1 };
        self.encounters(&person, &tables.encounter, &chart.encounters, idx, &mut files);
        self.diagnoses(&person, codes, &tables.diagnosis, &chart.diagnoses, idx, &mut files);
        self.orders(&person, codes, &tables.drug_order, &chart.orders, idx, &mut files);
        let a = &tables.drug_administration;
        for (i, row) in chart.administrations.iter().enumerate() {
            let rxa = self.administration(codes, a, row);
            let day = digits(&row[a.column("start_time")]);
            let order = files.next_order();
            files.list.push(person.administration(&day[..8.min(day.len())], order, &rxa, i));
        }
        self.labs(&person, &tables.lab_result, &chart.labs, &mut files);
        if self.chance(idx, 0, 5) < 0.01 {
            // On the patient's first day of care, so that it changes no observation period.
            let e = &tables.encounter;
            let first_day = chart.encounters.iter().map(|row| digits(&row[e.column("start_date")])).min();
            let order = files.next_order();
            files.list.push(unreadable(&person, idx, order, first_day.as_deref().unwrap_or("20200101")));
        }
        for file in files.list {
            self.store(&person.id, file)?;
        }
        Ok(())
    }

    /// Outpatient visits as ADT-12; a stay as its admission (ADT-22) and discharge (ADT-52); now and
    /// then an admission entered and cancelled the day before a stay (its A01 superseded by an A11).
    fn encounters(&self, person: &Person, e: &Grouped, rows: &[StringRecord], idx: u64, files: &mut Files) {
        // No cancelled entry before the patient's first day of care: the import's observation
        // period starts at the first message, as the CSV files' starts at the first visit.
        let first_day = rows.iter().map(|row| digits(&row[e.column("start_date")])).min().unwrap_or_default();
        for (i, row) in rows.iter().enumerate() {
            let at = |c: &str| row[e.column(c)].to_string();
            let start = digits(&at("start_date"));
            let department = department_code(&at("department"));
            let visit =
                |kind, event, date: &str, class| Visit { kind, event, date: date.to_string(), class, department };
            match at("encounter_type").as_str() {
                "inpatient" => {
                    let end = digits(&at("end_date"));
                    let admitted = format!("{start}1000");
                    files.list.push(person.adt(&visit("ADT-22", "A01", &start, "I"), &admitted, "", ""));
                    let destination = match at("discharge_destination").as_str() {
                        "" => "",
                        "home" => "01",
                        "died" => "20",
                        _ => "02",
                    };
                    let discharged = format!("{end}1100");
                    files.list.push(person.adt(
                        &visit("ADT-52", "A03", &end, "I"),
                        &admitted,
                        &discharged,
                        destination,
                    ));
                    let day = day_before(&start);
                    if self.chance(idx, i as u64, 1) < 0.1 && day >= first_day {
                        let admitted = format!("{day}1000");
                        let mut entered = person.adt(&visit("ADT-22", "A01", &day, "I"), &admitted, "", "");
                        entered.condition = 2;
                        files.list.push(entered);
                        let mut cancelled = person.adt(&visit("ADT-22", "A11", &day, "I"), &admitted, "", "");
                        cancelled.stored = format!("{day}180000000");
                        files.list.push(cancelled);
                    }
                }
                kind => {
                    let class = if kind == "emergency" { "E" } else { "O" };
                    files.list.push(person.adt(
                        &visit("ADT-12", "A04", &start, class),
                        &format!("{start}0900"),
                        "",
                        "",
                    ));
                }
            }
        }
    }

    /// The patient's diagnoses as one PPR-01 snapshot; for some an earlier snapshot superseded by
    /// it, and a diagnosis since entered in error (`DE`).
    fn diagnoses(
        &self,
        person: &Person,
        codes: &Codes,
        d: &Grouped,
        rows: &[StringRecord],
        idx: u64,
        files: &mut Files,
    ) {
        if rows.is_empty() {
            return;
        }
        let current: Vec<String> =
            rows.iter().enumerate().map(|(i, row)| self.problem(codes, d, row, idx, i as u64)).collect();
        let order = files.next_order();
        if self.chance(idx, 0, 2) < 0.2 {
            let mut earlier = current[..current.len().div_ceil(2)].to_vec();
            earlier.push(stale_problem("AD"));
            let mut superseded = person.diagnoses(&earlier, order, "080000000");
            superseded.condition = 2;
            files.list.push(superseded);
        }
        let mut now = current;
        if self.chance(idx, 1, 2) < 0.1 {
            now.push(stale_problem("DE"));
        }
        files.list.push(person.diagnoses(&now, order, "200000000"));
    }

    /// One order a file (OMP-01 for prescriptions, OMP-02 for injections given in hospital); some
    /// first written with other days supplied and superseded the same day; now and then an order
    /// the hospital deleted (its `_1` renamed `_0`).
    fn orders(
        &mut self,
        person: &Person,
        codes: &Codes,
        o: &Grouped,
        rows: &[StringRecord],
        idx: u64,
        files: &mut Files,
    ) {
        for (i, row) in rows.iter().enumerate() {
            let at = |c: &str| row[o.column(c)].to_string();
            let injection = at("route") == "injection" && at("days_supply").is_empty();
            let kind = if injection { "OMP-02" } else { "OMP-01" };
            let day = digits(&at("order_date"));
            let inpatient = at("setting") == "inpatient";
            let order = files.next_order();
            if !injection && self.chance(idx, i as u64, 3) < 0.03 {
                let first = self.order_segments(codes, o, row, Some("1"));
                let mut superseded = person.order(kind, &day, order, &first, inpatient);
                superseded.stored = format!("{day}080000000");
                superseded.condition = 2;
                files.list.push(superseded);
            }
            let segments = self.order_segments(codes, o, row, None);
            files.list.push(person.order(kind, &day, order, &segments, inpatient));
        }
        if let Some(first) = rows.first()
            && !first[o.column("days_supply")].is_empty()
            && self.chance(idx, 0, 4) < 0.05
        {
            let segments = self.order_segments(codes, o, first, Some("2"));
            let day = digits(&first[o.column("order_date")]);
            let mut deleted = person.order("OMP-01", &day, files.next_order(), &segments, false);
            deleted.condition = 0;
            files.list.push(deleted);
        }
    }

    /// The specimens of the patient's lab results, each with its results, one OML-11 each.
    fn labs(&mut self, person: &Person, l: &Grouped, rows: &[StringRecord], files: &mut Files) {
        let mut specimens: Vec<(String, String, Vec<String>)> = Vec::new();
        for row in rows {
            let time = digits(&row[l.column("result_time")]);
            let specimen = row[l.column("specimen")].to_string();
            match specimens.last_mut() {
                Some((t, s, results)) if *t == time && *s == specimen => {
                    let obx = self.observation(l, row, results.len() + 1);
                    results.push(obx);
                }
                _ => {
                    let obx = self.observation(l, row, 1);
                    specimens.push((time, specimen, vec![obx]));
                }
            }
        }
        for (time, specimen, results) in specimens {
            let order = files.next_order();
            files.list.push(person.results(&time, &specimen, order, &results));
        }
    }

    /// A PRB and its ZPR for a diagnosis row.
    fn problem(&self, codes: &Codes, d: &Grouped, row: &StringRecord, idx: u64, i: u64) -> String {
        let at = |c: &str| row[d.column(c)].to_string();
        let icd10 = at("icd10");
        let (number, name) = codes.disease.get(&icd10).cloned().unwrap_or_else(unknown_disease);
        let established = digits(&at("diagnosis_date"));
        // A share of the diagnoses carry only their MEDIS number: ICD-10 through the master.
        let by_number_only = codes.disease.contains_key(&icd10) && self.chance(idx, i, 6) < 0.2;
        let icd10 = if by_number_only { String::new() } else { escape(&icd10) };
        let outcome = at("disease_outcome");
        let end = digits(&at("end_date"));
        let mut prb = Segment::new("PRB")
            .set(1, "AD")
            .set(2, format!("{established}120000"))
            .set(3, format!("{number}^{}^MDCDX2", escape(&name)))
            .set(4, format!("{:015}", i + 1))
            .set(7, established)
            .set(9, end.clone())
            .set(10, format!("{icd10}^^I10^{}^^JHSD0004", at("diagnosis_kind")));
        let mut zpr = Segment::new("ZPR").set(2, format!("{number}^{}^MDCDX2", escape(&name)));
        if at("suspected") == "1" {
            // Vendors say it either way: the confirmation status, or the suffix modifier の疑い.
            if self.chance(idx, i, 7) < 0.5 {
                prb = prb.set(13, "1^疑いあり^JHSD0005");
            } else {
                zpr = zpr.set(3, "27000001^の疑い^MDCDX2");
            }
        }
        if !outcome.is_empty() {
            prb = prb.set(14, format!("{outcome}^^HL70241"));
            if matches!(outcome.as_str(), "D" | "F" | "S") {
                prb = prb.set(15, end);
            }
        }
        if at("main_diagnosis") == "1" {
            prb = prb.set(18, "1^主診断^JHSD0007");
        }
        format!("{}\r{}", prb.text(), zpr.text())
    }

    /// The ORC, RXE, TQ1, RXR (and RXC) of a drug order row; `days` in place of its days supplied.
    fn order_segments(&mut self, codes: &Codes, o: &Grouped, row: &StringRecord, days: Option<&str>) -> String {
        let at = |c: &str| row[o.column(c)].to_string();
        let drug = self.drug_code(codes, &at("yj_code"));
        let start = digits(&at("start_date"));
        let (dose, unit) = (at("daily_dose"), escape(&at("dose_unit")));
        let setting = if at("setting") == "inpatient" {
            "I^入院患者オーダ^HL70482"
        } else {
            "O^外来患者オーダ^HL70482"
        };
        let orc = Segment::new("ORC")
            .set(1, "NW")
            .set(2, "{ORDER}")
            .set(4, "{ORDER}_01_001")
            .set(9, format!("{}1030", digits(&at("order_date"))))
            .set(12, "D0042^医師^一郎^^^^^^^L^^^^^I")
            .set(17, "01^内科^99XY1")
            .set(29, setting);
        let days = days.map_or_else(|| at("days_supply"), str::to_string);
        if at("route") == "injection" && days.is_empty() {
            let rxe = Segment::new("RXE").set(2, INJECTION_CATEGORY).set(3, "1").set(5, "AMP^アンプル^MR9P");
            let tq1 = Segment::new("TQ1").set(1, "1").set(7, format!("{start}0900"));
            let rxc = Segment::new("RXC").set(1, "B").set(2, drug).set(3, dose).set(4, format!("{unit}^{unit}^MR9P"));
            return [orc, rxe, tq1, Segment::new("RXR").set(1, "IV^静脈内^HL70162"), rxc].map(|s| s.text()).join("\r");
        }
        let route = if at("route") == "injection" { "SC^皮下^HL70162" } else { "PO^口^HL70162" };
        let rxe = Segment::new("RXE")
            .set(2, drug)
            .set(3, "1")
            .set(5, "TAB^錠^MR9P")
            .set(19, format!("{dose}^{unit}&{unit}&MR9P"))
            .set(21, "OHP^外来処方^MR9P");
        let tq1 = Segment::new("TQ1")
            .set(1, "1")
            .set(3, "1013044400000000&内服・経口・１日３回朝昼夕食後&JAMISDP01")
            .set(6, if days.is_empty() { String::new() } else { format!("{days}^d") })
            .set(7, start);
        [orc, rxe, tq1, Segment::new("RXR").set(1, route)].map(|s| s.text()).join("\r")
    }

    /// The RXA and RXR of an administration row.
    fn administration(&mut self, codes: &Codes, a: &Grouped, row: &StringRecord) -> String {
        let at = |c: &str| row[a.column(c)].to_string();
        let unit = escape(&at("amount_unit"));
        let rate = match at("rate").as_str() {
            "" => String::new(),
            rate => format!("{rate}^{}", escape(&at("rate_unit"))),
        };
        let rxa = Segment::new("RXA")
            .set(1, "0")
            .set(2, "1")
            .set(3, digits(&at("start_time")))
            .set(4, digits(&at("end_time")))
            .set(5, self.drug_code(codes, &at("yj_code")))
            .set(6, at("amount"))
            .set(7, format!("{unit}^{unit}^MR9P"))
            .set(9, "^左手に実施^99IC2")
            .set(10, "N0042^看護師^花子")
            .set(12, rate)
            .set(20, "CP");
        let route = if at("route") == "injection" { "IV^静脈内^HL70162" } else { "PO^口^HL70162" };
        format!("{}\r{}", rxa.text(), Segment::new("RXR").set(1, route).text())
    }

    /// The OBX of a lab result row, the `n`th of its specimen.
    fn observation(&mut self, l: &Grouped, row: &StringRecord, n: usize) -> String {
        let at = |c: &str| row[l.column(c)].to_string();
        let jlac10 = at("jlac10");
        let test = if self.local_lab(&jlac10) {
            let local = format!("L{}", &jlac10[..5]);
            let text = format!("検査{}", &jlac10[..5]);
            let coded = format!("{local}^{text}^{LOCAL_LABS}");
            self.mapping.insert(local, ("lab", LOCAL_LABS, jlac10, text));
            coded
        } else {
            format!("{}^^JC10", escape(&jlac10))
        };
        let value = at("value");
        let unit = escape(&at("unit"));
        let range = match (at("ref_low").as_str(), at("ref_high").as_str()) {
            ("", "") => String::new(),
            (low, high) => format!("{low}-{high}"),
        };
        Segment::new("OBX")
            .set(1, n.to_string())
            .set(2, if value.parse::<f64>().is_ok() { "NM" } else { "ST" })
            .set(3, test)
            .set(5, escape(&value))
            .set(6, if unit.is_empty() { unit } else { format!("{unit}^{unit}^99XYZ") })
            .set(7, range)
            .set(8, at("abnormal_flag"))
            .set(11, at("result_status"))
            .set(14, digits(&at("result_time")))
            .text()
    }

    /// Whether the site reports this analyte by a local code of its own (a quarter of them).
    fn local_lab(&self, jlac10: &str) -> bool {
        jlac10.len() == 17 && mix(self.seed, self.site, hash(&jlac10[..5])).is_multiple_of(4)
    }

    /// A drug's code as this hospital writes it: HOT9 mostly, YJ for some, a local code for a fifth
    /// of its drugs (the same drug always the same way).
    fn drug_code(&mut self, codes: &Codes, yj: &str) -> String {
        let name = escape(codes.drug_name.get(yj).map_or("", String::as_str));
        match (mix(self.seed, self.site, hash(yj)) % 10, codes.hot.get(yj)) {
            (0 | 1, _) if yj.len() == 12 => {
                let local = format!("99{yj}");
                self.mapping.insert(local.clone(), ("drug", LOCAL_DRUGS, yj.to_string(), name.clone()));
                format!("{local}^{name}^{LOCAL_DRUGS}")
            }
            (2, _) | (_, None) => format!("{}^{name}^YJ", escape(yj)),
            (_, Some(hot13)) => format!("{}^{name}^HOT9", &hot13[..9]),
        }
    }

    fn store(&mut self, id: &str, file: Stored) -> Result<()> {
        let date = file.date.as_deref().unwrap_or("-");
        let dir = self.root.join(&id[..3]).join(&id[3..6]).join(id).join(date).join(file.kind);
        let name = format!("{id}_{date}_{}_{:015}_{}_01_{}", file.kind, file.order, file.stored, file.condition);
        std::fs::create_dir_all(&dir).at(&dir)?;
        let mut bytes = encode(&file.text)?;
        if let Some(at) = file.bad_byte_at {
            bytes.insert(at.min(bytes.len()), 0x80);
        }
        let path = dir.join(name);
        std::fs::write(&path, &bytes).at(&path)?;
        self.summary.files += 1;
        self.summary.bytes += bytes.len() as u64;
        Ok(())
    }

    fn finish(&mut self, site_dir: &Path) -> Result<()> {
        let mut mapped: Vec<_> = self.mapping.iter().collect();
        mapped.sort();
        let mut mapping = csv::Writer::from_writer(Vec::new());
        let mut records =
            vec![["kind", "local_system", "local_code", "local_text", "standard_code", "reason"].map(String::from)];
        for (local, (kind, system, standard, text)) in mapped {
            let reason = "the synthetic hospital's code list";
            records.push([*kind, *system, local, text, standard, reason].map(String::from));
        }
        for record in &records {
            mapping.write_record(record).expect("a CSV record into memory");
        }
        let path = site_dir.join(MAPPING_FILE);
        std::fs::write(&path, mapping.into_inner().expect("a CSV writer into memory")).at(&path)?;
        self.identifying.sort();
        self.identifying.dedup();
        let mut identifying = csv::Writer::from_writer(Vec::new());
        identifying.write_record(["kind", "value"]).expect("a CSV record into memory");
        for (kind, value) in &self.identifying {
            identifying.write_record([*kind, value.as_str()]).expect("a CSV record into memory");
        }
        let path = site_dir.join(IDENTIFYING_FILE);
        std::fs::write(&path, identifying.into_inner().expect("a CSV writer into memory")).at(&path)
    }
}

/// A patient's files, and the order numbers their keys take.
struct Files {
    list: Vec<Stored>,
    order: u64,
}

impl Files {
    fn next_order(&mut self) -> u64 {
        self.order += 1;
        self.order
    }
}

/// An ADT message's kind, event, 診療日, patient class and department.
struct Visit {
    kind: &'static str,
    event: &'static str,
    date: String,
    class: &'static str,
    department: &'static str,
}

/// User table 0069 (診療科) for the schema's departments the synthetic sites use.
fn department_code(department: &str) -> &'static str {
    match department {
        "internal_medicine" => "01",
        _ => "",
    }
}

fn unknown_disease() -> (String, String) {
    ("20084317".into(), "未コード化傷病名".into())
}

fn hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

/// A diagnosis no row holds: in an earlier snapshot (`AD`), or since entered in error (`DE`).
fn stale_problem(action: &str) -> String {
    let (number, name) = unknown_disease();
    let prb = Segment::new("PRB")
        .set(1, action)
        .set(2, "20100101120000")
        .set(3, format!("{number}^{name}^MDCDX2"))
        .set(4, "999999999999999")
        .set(7, "20100101")
        .set(10, "R69^^I10^O^^JHSD0004");
    format!("{}\r{}", prb.text(), Segment::new("ZPR").set(2, format!("{number}^{name}^MDCDX2")).text())
}

/// A date or a time as HL7 writes it: the CSV's digits (a date that does not exist stays one, for
/// the import to refuse as the load does).
fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

fn day_before(date: &str) -> String {
    chrono::NaiveDate::parse_from_str(date, "%Y%m%d")
        .map(|d| (d - chrono::Duration::days(1)).format("%Y%m%d").to_string())
        .unwrap_or_else(|_| date.to_string())
}

/// HL7's escapes for the delimiters inside a value.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\E\\"),
            '|' => out.push_str("\\F\\"),
            '^' => out.push_str("\\S\\"),
            '&' => out.push_str("\\T\\"),
            '~' => out.push_str("\\R\\"),
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn encode(text: &str) -> Result<Vec<u8>> {
    let (bytes, _, unmappable) = encoding_rs::ISO_2022_JP.encode(text);
    if unmappable {
        return Err(Error::Internal("a synthetic SS-MIX2 message holds a character ISO-2022-JP has not".into()));
    }
    Ok(bytes.into_owned())
}

/// A lab result file that cannot be read, one of three ways: a byte ISO-2022-JP has not, a message
/// cut short inside a segment, a segment whose name is not one. It holds no row of the CSV files.
fn unreadable(person: &Person, idx: u64, order: u64, day: &str) -> Stored {
    let obx = Segment::new("OBX").set(1, "1").set(2, "NM").set(3, "3B045000002327101^^JC10").set(5, "30").set(6, "U/L");
    let mut file = person.results(&format!("{day}0900"), "023", order, &[obx.text()]);
    match idx % 3 {
        0 => file.bad_byte_at = Some(file.text.find("\rOBX").unwrap_or(0) + 5),
        1 => file.text.truncate(file.text.find("\rOBX").map_or(40, |at| at + 12)),
        _ => file.text = file.text.replacen("\rOBX|", "\rob-x|", 1),
    }
    file
}

/// The patient as the hospital knows them: the id, and the fake identifying data every message
/// carries.
struct Person {
    id: String,
    /// The PID segment.
    pid: String,
    /// IN1's insurer and the insured's 記号・番号, after IN1-2.
    insurance: String,
    /// MSH-4, the sending facility.
    facility: String,
}

const FAMILY: [(&str, &str); 6] = [
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    ("田中", "タナカ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
];
const GIVEN: [(&str, &str); 6] = [
    ("太郎", "タロウ"),
    ("花子", "ハナコ"),
    ("一郎", "イチロウ"),
    ("陽子", "ヨウコ"),
    ("健", "ケン"),
    ("美咲", "ミサキ"),
];
const WARDS: [&str; 4] = ["千代田区", "港区", "新宿区", "文京区"];

impl Person {
    fn fake(id: &str, idx: u64, patient: &StringRecord, writer: &mut Writer) -> Person {
        let (family, family_kana) = FAMILY[(idx % 6) as usize];
        let (given, given_kana) = GIVEN[(idx / 6 % 6) as usize];
        // A number in the family name makes each name the patient's own, for a test to look for.
        let family = format!("{family}{}", fullwidth(idx));
        let address = format!("東京都{}{}丁目{}番{}号", WARDS[(idx % 4) as usize], idx % 9 + 1, idx % 17 + 1, idx + 1);
        let postcode = format!("1{:02}-{:04}", idx % 100, idx % 10_000);
        let phone = format!("03-{:04}-{:04}", 1000 + idx % 9000, idx % 10_000);
        let insurer = format!("06{:06}", 130_000 + idx % 870_000);
        let policy = format!("記号{}・番号{}", fullwidth(idx % 97), fullwidth(idx + 10_000));
        let sex = match &patient[1] {
            "1" | "M" => "M",
            "2" | "F" => "F",
            other => other,
        };
        let death = digits(&patient[3]);
        let pid = Segment::new("PID")
            .set(1, "0001")
            .set(3, format!("{id}^^^^PI"))
            .set(5, format!("{family}^{given}^^^^^L^I~{family_kana}^{given_kana}^^^^^L^P"))
            .set(7, digits(&patient[2]))
            .set(8, sex)
            .set(11, format!("^^^^{postcode}^JPN^H^{address}"))
            .set(13, format!("^PRN^PH^^^^^^^^^{phone}"))
            .set(29, death.clone())
            .set(30, if death.is_empty() { "" } else { "Y" });
        let insurance = Segment::new("IN1").set(3, insurer.clone()).set(36, policy.clone()).0[3..].join("|");
        writer.identifying.extend([
            ("hospital_id", id.to_string()),
            ("name", family),
            ("address", address),
            ("postcode", postcode),
            ("phone", phone),
            ("insurer_number", insurer),
            ("insurance_number", policy),
        ]);
        Person { id: id.to_string(), pid: pid.text(), insurance, facility: format!("HOSP{:03}", writer.site + 1) }
    }

    fn msh(&self, stored: &str, message_type: &str, order: u64) -> String {
        let control = format!("{}{order:06}", &stored[..8]);
        format!("MSH|^~\\&|HIS|{}|GW|RCV|{}||{message_type}|{control}|{MSH_TAIL}", self.facility, &stored[..14])
    }

    /// ADT-00: the patient's demographics, with the next of kin and insurance the import drops.
    fn demographics(&self) -> Stored {
        let stored = "20160401090000000".to_string();
        let nk1 = "NK1|1|山本^次郎^^^^^L^I|SPO^配偶者^HL70063|^^^^100-0001^JPN^H^東京都千代田区一丁目一番一号|^PRN^PH^^^^^^^^^03-0000-0000";
        let in1 = format!("IN1|1|06^組合管掌健康保険^JHSD0001|{}", self.insurance);
        let text = format!("{}\r{}\r{nk1}\r{in1}\r", self.msh(&stored, "ADT^A08^ADT_A01", 1), self.pid);
        Stored::new(None, "ADT-00", 1, stored, text)
    }

    /// An ADT message: admitted at PV1-44, discharged at PV1-45 with PV1-36 its destination.
    fn adt(&self, visit: &Visit, admitted: &str, discharged: &str, destination: &str) -> Stored {
        let stored = format!("{}120000000", visit.date);
        let pv1 = Segment::new("PV1")
            .set(1, "0001")
            .set(2, visit.class)
            .set(7, "D0042^医師^一郎^^^^^^^L^^^^^I")
            .set(10, visit.department)
            .set(36, destination)
            .set(44, admitted)
            .set(45, discharged);
        let structure = match visit.event {
            "A03" => "ADT_A03",
            "A11" => "ADT_A09",
            _ => "ADT_A01",
        };
        let message_type = format!("ADT^{}^{structure}", visit.event);
        let text =
            format!("{}\rEVN||{}\r{}\r{}\r", self.msh(&stored, &message_type, 0), &stored[..12], self.pid, pv1.text());
        Stored::new(Some(&visit.date), visit.kind, 999_999_999_999_999, stored, text)
    }

    fn diagnoses(&self, problems: &[String], order: u64, time: &str) -> Stored {
        let stored = format!("20251001{time}");
        let zi1 = format!("ZI1|1|{}", self.insurance);
        let text =
            format!("{}\r{}\r{zi1}\r{}\r", self.msh(&stored, "PPR^ZD1^PPR_ZD1", order), self.pid, problems.join("\r"));
        Stored::new(None, "PPR-01", order, stored, text)
    }

    fn order(&self, kind: &'static str, day: &str, order: u64, segments: &str, inpatient: bool) -> Stored {
        let stored = format!("{day}120000000");
        let pv1 = Segment::new("PV1").set(1, "0001").set(2, if inpatient { "I" } else { "O" });
        let segments = segments.replace("{ORDER}", &format!("{order:015}"));
        let text =
            format!("{}\r{}\r{}\r{segments}\r", self.msh(&stored, "RDE^O11^RDE_O11", order), self.pid, pv1.text());
        Stored::new(Some(day), kind, order, stored, text)
    }

    fn administration(&self, day: &str, order: u64, segments: &str, i: usize) -> Stored {
        let stored = format!("{day}20{:02}00000", i % 60);
        let orc =
            Segment::new("ORC").set(1, "RE").set(2, format!("{order:015}")).set(5, "CM").set(9, format!("{day}1000"));
        let text = format!(
            "{}\r{}\rPV1|0001|I\r{}\r{segments}\r",
            self.msh(&stored, "RAS^O17^RAS_O17", order),
            self.pid,
            orc.text()
        );
        Stored::new(Some(day), "OMP-12", order, stored, text)
    }

    fn results(&self, time: &str, specimen: &str, order: u64, results: &[String]) -> Stored {
        let day = &time[..8.min(time.len())];
        let stored = format!("{day}180000000");
        let spm = Segment::new("SPM")
            .set(1, "1")
            .set(2, format!("{order:015}"))
            .set(4, format!("{specimen}^^JC10"))
            .set(17, time);
        let obr =
            Segment::new("OBR").set(1, "1").set(2, format!("{order:015}")).set(4, "E001^生化学^99O03").set(7, day);
        let text = format!(
            "{}\r{}\r{}\r{}\r{}\r",
            self.msh(&stored, "OUL^R22^OUL_R22", order),
            self.pid,
            spm.text(),
            obr.text(),
            results.join("\r")
        );
        Stored::new(Some(day), "OML-11", order, stored, text)
    }
}

/// A number in full-width digits (as names and insurance numbers are often written).
fn fullwidth(n: u64) -> String {
    n.to_string().chars().map(|c| char::from_u32(c as u32 - '0' as u32 + '０' as u32).unwrap_or(c)).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::site::ssmix2::{hl7, read, storage};

    /// Every EHR row of the CSV files is in exactly one current message, read back by the import's
    /// reader with no problem; the files that are not current, and the broken ones, hold none.
    #[test]
    fn the_reader_finds_every_ehr_row_in_the_current_files() {
        let dir = tempfile::tempdir().unwrap();
        let opts = crate::synth::SynthOptions {
            sites: 1,
            patients: 150,
            seed: 3,
            out: dir.path().join("net"),
            data_start: crate::query::value::parse_date("2016-04-01").unwrap(),
            data_end: crate::query::value::parse_date("2025-09-30").unwrap(),
            dirty: 0.0,
            ss_mix2: true,
            receipt: false,
            dpc: false,
            linked_numbers: false,
        };
        let summary = crate::synth::synthesize(&opts, &crate::progress::Progress::new(true)).unwrap();
        let site = &summary.sites[0].path;
        let ehr_rows = |table: &str| {
            let text = std::fs::read_to_string(site.join("import").join(format!("{table}.csv"))).unwrap();
            text.lines().skip(1).filter(|l| table == "patient" || l.ends_with(",EHR")).count()
        };
        let tree = storage::walk(&site.join(TREE_DIR)).unwrap();
        assert!(tree.misplaced.is_empty(), "{:?}", tree.misplaced);
        let mut found: BTreeMap<&str, usize> = BTreeMap::new();
        let mut broken = 0;
        for file in tree.current() {
            let bytes = std::fs::read(site.join(TREE_DIR).join(&file.path)).unwrap();
            let message = match hl7::decode(&bytes).and_then(|text| hl7::parse(&text)) {
                Ok(message) if message.segment("PID").is_some() => message,
                _ => {
                    broken += 1;
                    continue;
                }
            };
            let reading = read::read(&file.name.kind, &message);
            assert!(reading.problems.is_empty(), "{}: {:?}", file.path, reading.problems);
            for placed in reading.records {
                let table = match placed.record {
                    read::Record::Patient(_) if file.name.kind == "ADT-00" => "patient",
                    read::Record::Patient(_) => continue,
                    read::Record::Encounter(e) => match e.event {
                        read::EncounterKind::Visit | read::EncounterKind::Admission => "encounter",
                        _ => continue,
                    },
                    read::Record::Diagnosis(d) if d.action == "DE" => continue,
                    read::Record::Diagnosis(_) => "diagnosis",
                    read::Record::DrugOrder(_) => "drug_order",
                    read::Record::Administration(_) => "drug_administration",
                    read::Record::LabResult(_) => "lab_result",
                };
                *found.entry(table).or_default() += 1;
            }
        }
        for table in ["patient", "encounter", "diagnosis", "drug_order", "drug_administration", "lab_result"] {
            assert_eq!(found.get(table).copied().unwrap_or(0), ehr_rows(table), "{table}");
        }
        assert!(tree.files.len() > tree.current().len(), "superseded and deleted files are written");
        assert!(broken <= 5, "{broken} broken files");
        let mapping = std::fs::read_to_string(site.join(MAPPING_FILE)).unwrap();
        assert!(mapping.lines().count() > 1, "a share of the codes are local");
    }
}
