//! What one SS-MIX2 message says, in the site's vocabulary, with nothing that identifies a person:
//! the patient's sex and birth date (PID), encounters (ADT-12/22/52), diagnoses (PPR-01), drug
//! orders (OMP-01/02), administrations (OMP-11/12) and lab results (OML-11), field by field as
//! hospital-inputs.md §1 gives them. Codes stay as written, with their code system: turning HOT,
//! MEDIS disease numbers and a hospital's local codes into the schema's standard codes is the
//! importer's work, through the masters and the site's mapping.
//!
//! Names, addresses, phones, insurance, next of kin, practitioners, free text and the hospital's
//! order and specimen numbers are never read. A field that cannot be read is a [`Problem`] naming
//! the segment and field, never quoting the value.

use chrono::{NaiveDate, NaiveDateTime};

use super::hl7::{Field, Message, Segment};
use crate::site::load::reasons::hl7 as problems;

/// A code as the message writes it: the code and its code system (`HOT9`, `JC10`, `MDCDX2`,
/// `I10`, or a hospital's local system, `99…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coded {
    pub code: String,
    pub system: String,
    /// The text beside the code: a drug's or a test's name (not a person's).
    pub text: String,
}

/// A field that could not be read: where, and why (never its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The segment's place in the message (1 = MSH).
    pub segment: usize,
    /// E.g. `PRB-7`.
    pub field: String,
    pub reason: String,
}

/// What a message says.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Patient(Patient),
    Encounter(EncounterEvent),
    Diagnosis(Diagnosis),
    DrugOrder(DrugOrder),
    Administration(Administration),
    LabResult(LabResult),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patient {
    /// `M` or `F`; `None` for HL7's `O` and `U` or an empty field.
    pub sex: Option<char>,
    pub birth_date: Option<NaiveDate>,
    /// PID-29 (Patient Death Date and Time), when given.
    pub death_date: Option<NaiveDate>,
}

/// One event of an encounter: admissions and discharges are paired, and cancellations applied,
/// by the importer over all of a patient's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncounterEvent {
    pub event: EncounterKind,
    pub time: NaiveDateTime,
    /// The department (user table 0069), PV1-10.
    pub department: Option<String>,
    /// For a discharge, PV1-36 in the schema's words: `home`, `died` or `other`.
    pub discharge_destination: Option<&'static str>,
    /// For a discharge, the admission it ends (PV1-44), when given.
    pub admitted: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncounterKind {
    /// ADT^A04: an outpatient visit.
    Visit,
    /// ADT^A01.
    Admission,
    /// ADT^A11: the admission is cancelled.
    AdmissionCancelled,
    /// ADT^A03.
    Discharge,
    /// ADT^A13: the discharge is cancelled.
    DischargeCancelled,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    /// PRB-1: `AD`, `UP`, `DE` (entered in error), …: PPR-01 is a snapshot, so the importer keeps
    /// what the latest file says and drops `DE`.
    pub action: String,
    /// PRB-3: the MEDIS 病名管理番号 (system `MDCDX2`).
    pub disease: Option<Coded>,
    /// PRB-10.1 without a dot, e.g. `K297`, when given.
    pub icd10: Option<String>,
    /// PRB-10.4 (JHSD0004) in the schema's words.
    pub kind: Option<&'static str>,
    /// PRB-7.
    pub established: Option<NaiveDate>,
    /// PRB-9 (resolved), else PRB-15 (the date of the outcome) when PRB-14 says the disease ended
    /// (died, cured, sequelae): "unchanged" or "improving" on a date ends nothing.
    pub end_date: Option<NaiveDate>,
    /// PRB-14 (HL7 0241) in the schema's words.
    pub outcome: Option<&'static str>,
    /// PRB-13 `1` (JHSD0005), or a ZPR suffix modifier `27000001` (の疑い).
    pub suspected: bool,
    /// PRB-18 `1` (主診断).
    pub main: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DrugOrder {
    /// RXE-2 of a prescription; an injection's drugs are its RXC components, one order each.
    pub drug: Coded,
    /// ORC-9, the order's date.
    pub ordered: Option<NaiveDate>,
    /// TQ1-7, or the order's date.
    pub start: Option<NaiveDate>,
    /// TQ1-6 in days (`7^d`); `None` for an injection.
    pub days_supply: Option<i64>,
    /// RXE-19 (total daily dose) for a prescription; RXC-3 for an injection component.
    pub daily_dose: Option<f64>,
    pub dose_unit: Option<String>,
    pub route: &'static str,
    pub setting: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Administration {
    /// RXA-5.
    pub drug: Coded,
    /// RXA-3 and RXA-4.
    pub start: NaiveDateTime,
    pub end: Option<NaiveDateTime>,
    /// RXA-6 and RXA-7.
    pub amount: Option<f64>,
    pub amount_unit: Option<String>,
    /// RXA-12 (administered per time unit), a number and its unit: `100ml/hr`, `100^ml/hr`.
    pub rate: Option<f64>,
    pub rate_unit: Option<String>,
    pub route: &'static str,
    /// RXA-20 (`CP` complete): an administration not completed is not read.
    pub completed: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LabResult {
    /// OBX-3: a 17-character JLAC10 code (`JC10`) or a local code.
    pub test: Coded,
    /// SPM-4, the JLAC10 material code, of the specimen the result belongs to.
    pub specimen: Option<String>,
    /// OBX-14, else SPM-17 (collection).
    pub time: NaiveDateTime,
    pub value: LabValue,
    /// OBX-6.1.
    pub unit: Option<String>,
    /// OBX-7 `low-high`.
    pub ref_low: Option<f64>,
    pub ref_high: Option<f64>,
    /// OBX-8 reduced to `H`, `L` or `N` (`HH` is `H`, `LL` is `L`).
    pub abnormal_flag: Option<&'static str>,
    /// OBX-11 (HL7 0085) in the schema's words.
    pub status: Option<&'static str>,
}

/// A result's value: a number, a number with a comparator (a censored value, `<0.02`), or text.
#[derive(Debug, Clone, PartialEq)]
pub struct LabValue {
    pub number: Option<f64>,
    /// `<`, `<=`, `>` or `>=` for a censored value.
    pub comparator: Option<&'static str>,
    /// The value as written, for a value that is not a plain number (qualitative or censored).
    pub text: Option<String>,
}

/// One record and the segment that says it (its place in the message, 1 = MSH): a check the
/// record fails later is quarantined naming that segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    pub segment: usize,
    pub record: Record,
}

/// Everything a message says, and every field that could not be read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reading {
    pub records: Vec<Placed>,
    pub problems: Vec<Problem>,
}

impl Reading {
    fn push(&mut self, segment: &Segment, record: Record) {
        self.records.push(Placed { segment: segment.number, record });
    }

    fn problem(&mut self, segment: &Segment, field: usize, reason: impl Into<String>) {
        self.problems.push(Problem {
            segment: segment.number,
            field: format!("{}-{field}", segment.name),
            reason: reason.into(),
        });
    }
}

/// Read a message of data kind `kind` (the file name's, e.g. `OMP-01`). Kinds this reader does
/// not take (allergies, radiology, …) give only the patient.
pub fn read(kind: &str, message: &Message) -> Reading {
    let mut reading = Reading::default();
    if let Some(pid) = message.segment("PID") {
        read_patient(message, pid, &mut reading);
    }
    match kind {
        "ADT-12" | "ADT-22" | "ADT-52" => read_encounter(message, &mut reading),
        "PPR-01" => read_diagnoses(message, &mut reading),
        "OMP-01" | "OMP-02" => read_orders(kind, message, &mut reading),
        "OMP-11" | "OMP-12" => read_administrations(message, &mut reading),
        "OML-11" => read_results(message, &mut reading),
        _ => {}
    }
    reading
}

fn read_patient(message: &Message, pid: &Segment, reading: &mut Reading) {
    let sex = match message.field_of(pid, 8).text().as_str() {
        "M" => Some('M'),
        "F" => Some('F'),
        "O" | "U" | "" => None,
        _ => {
            reading.problem(pid, 8, problems::NOT_A_SEX);
            None
        }
    };
    let birth_date = date_field(message, pid, 7, reading);
    let death_date = date_field(message, pid, 29, reading);
    reading.push(pid, Record::Patient(Patient { sex, birth_date, death_date }));
}

fn read_encounter(message: &Message, reading: &mut Reading) {
    let (_, event) = message.message_type();
    let Some(pv1) = message.segment("PV1") else {
        return reading.problems.push(Problem { segment: 1, field: "PV1".into(), reason: problems::NO_PV1.into() });
    };
    let (kind, field) = match event.as_str() {
        "A04" => (EncounterKind::Visit, 44),
        "A01" => (EncounterKind::Admission, 44),
        "A11" => (EncounterKind::AdmissionCancelled, 44),
        "A03" => (EncounterKind::Discharge, 45),
        "A13" => (EncounterKind::DischargeCancelled, 45),
        _ => return,
    };
    let Some(time) = time_field_required(message, pv1, field, reading) else { return };
    let department = non_empty(message.field_of(pv1, 10).text());
    let discharge_destination = (kind == EncounterKind::Discharge)
        .then(|| non_empty(message.field_of(pv1, 36).text()).map(|code| discharge_destination(&code)))
        .flatten();
    let admitted = if kind == EncounterKind::Discharge { time_field(message, pv1, 44, reading) } else { None };
    let event = EncounterEvent { event: kind, time, department, discharge_destination, admitted };
    reading.push(pv1, Record::Encounter(event));
}

/// User table 0112: `01` home; `20`–`29` and `40`–`42` death; anything else (transfers, …)
/// `other`, since the table's other codes are not confirmed (docs/site-inputs.md).
fn discharge_destination(code: &str) -> &'static str {
    match code.parse::<u32>() {
        Ok(1) => "home",
        Ok(20..=29 | 40..=42) => "died",
        _ => "other",
    }
}

fn read_diagnoses(message: &Message, reading: &mut Reading) {
    let segments = message.segments();
    for (i, prb) in segments.iter().enumerate().filter(|(_, s)| s.name == "PRB") {
        let zpr = segments.get(i + 1).filter(|s| s.name == "ZPR");
        let f = |n| message.field_of(prb, n);
        let icd = f(10);
        let suspected_modifier = zpr.is_some_and(|z| message.field_of(z, 3).component(1) == "27000001");
        let outcome = disease_outcome(&f(14).component(1));
        let resolved = date_field(message, prb, 9, reading);
        let ended = matches!(outcome, Some("died" | "cured" | "sequelae"));
        let outcome_date = if ended { date_field(message, prb, 15, reading) } else { None };
        let diagnosis = Diagnosis {
            action: f(1).text(),
            disease: coded(&f(3)),
            icd10: non_empty(icd.component(1).replace('.', "")),
            kind: diagnosis_kind(&icd.component(4)),
            established: date_field(message, prb, 7, reading),
            end_date: resolved.or(outcome_date),
            outcome,
            suspected: (f(13).component(1) == "1" && f(13).component(3) == "JHSD0005") || suspected_modifier,
            main: f(18).component(1) == "1",
        };
        reading.push(prb, Record::Diagnosis(diagnosis));
    }
}

/// JHSD0004.
fn diagnosis_kind(code: &str) -> Option<&'static str> {
    Some(match code {
        "H" => "admission",
        "L" => "discharge",
        "O" => "outpatient",
        "B" => "preoperative",
        "A" => "postoperative",
        "F" => "final",
        _ => return None,
    })
}

/// HL7 table 0241.
fn disease_outcome(code: &str) -> Option<&'static str> {
    Some(match code {
        "D" => "died",
        "F" => "cured",
        "N" => "unchanged",
        "R" => "improving",
        "S" => "sequelae",
        "U" => "unknown",
        "W" => "worsening",
        _ => return None,
    })
}

fn read_orders(kind: &str, message: &Message, reading: &mut Reading) {
    let injection = kind == "OMP-02";
    // One ORC starts each drug line (RXE, TQ1, RXR, RXC…).
    let mut groups: Vec<Vec<&Segment>> = Vec::new();
    for segment in message.segments() {
        match segment.name.as_str() {
            "ORC" => groups.push(vec![segment]),
            "RXE" | "TQ1" | "RXR" | "RXC" => {
                if let Some(group) = groups.last_mut() {
                    group.push(segment);
                }
            }
            _ => {}
        }
    }
    let setting_of_visit = message.segment("PV1").and_then(|pv1| setting(&message.field_of(pv1, 2).text()));
    for group in groups {
        let find = |name: &str| group.iter().copied().find(|s| s.name == name);
        let (Some(orc), Some(rxe)) = (find("ORC"), find("RXE")) else { continue };
        if message.field_of(orc, 1).text() == "CA" {
            continue;
        }
        let ordered = date_field(message, orc, 9, reading);
        let tq1 = find("TQ1");
        let start = tq1.and_then(|tq1| date_field(message, tq1, 7, reading)).or(ordered);
        let route = find("RXR").map_or("other", |rxr| route(&message.field_of(rxr, 1).component(1)));
        let setting = setting(&message.field_of(orc, 29).component(1)).or(setting_of_visit);
        if injection {
            for rxc in group.iter().filter(|s| s.name == "RXC") {
                let Some(drug) = coded(&message.field_of(rxc, 2)) else {
                    reading.problem(rxc, 2, problems::NO_COMPONENT_CODE);
                    continue;
                };
                let amount = number_field(message, rxc, 3, reading);
                let unit = non_empty(message.field_of(rxc, 4).component(1));
                reading.push(
                    rxc,
                    Record::DrugOrder(DrugOrder {
                        drug,
                        ordered,
                        start,
                        days_supply: None,
                        daily_dose: amount,
                        dose_unit: unit,
                        route: if route == "other" { "injection" } else { route },
                        setting,
                    }),
                );
            }
            continue;
        }
        let Some(drug) = coded(&message.field_of(rxe, 2)) else {
            reading.problem(rxe, 2, problems::NO_DRUG_CODE);
            continue;
        };
        let days_supply = tq1.and_then(|tq1| days(message, tq1, reading));
        let daily = message.field_of(rxe, 19);
        let daily_dose = number_text(&daily.component(1)).filter(|_| !daily.is_empty());
        let dose_unit =
            non_empty(daily.subcomponent(2, 1)).or_else(|| non_empty(message.field_of(rxe, 5).component(1)));
        reading.push(
            rxe,
            Record::DrugOrder(DrugOrder { drug, ordered, start, days_supply, daily_dose, dose_unit, route, setting }),
        );
    }
}

/// TQ1-6 as days: `7^d` (HL7 units `d`, `wk`).
fn days(message: &Message, tq1: &Segment, reading: &mut Reading) -> Option<i64> {
    let field = message.field_of(tq1, 6);
    if field.is_empty() {
        return None;
    }
    let count = field.component(1).trim().parse::<i64>().ok().filter(|n| *n > 0);
    let per = match field.component(2).as_str() {
        "d" | "D" | "" => Some(1),
        "wk" | "W" => Some(7),
        _ => None,
    };
    match count.zip(per) {
        Some((n, per)) => Some(n * per),
        None => {
            reading.problem(tq1, 6, problems::NOT_DAYS);
            None
        }
    }
}

/// HL7 table 0162 reduced to the schema's routes: by mouth (and sublingual) `oral`; by needle
/// `injection`; applied to skin, eye, ear, nose, lung, rectum or vagina `topical` (外用).
fn route(code: &str) -> &'static str {
    match code {
        "PO" | "SL" | "BUC" => "oral",
        "IV" | "IM" | "SC" | "ID" | "IA" | "IT" | "EP" | "IO" | "IC" => "injection",
        "TP" | "TD" | "OP" | "OT" | "NS" | "IH" | "RC" | "VG" | "MM" => "topical",
        _ => "other",
    }
}

/// ORC-29 (HL7 0482) or PV1-2 (HL7 0004): `O` outpatient, `I` inpatient.
pub fn setting(code: &str) -> Option<&'static str> {
    match code {
        "O" => Some("outpatient"),
        "I" => Some("inpatient"),
        _ => None,
    }
}

fn read_administrations(message: &Message, reading: &mut Reading) {
    let route_given = message.segment("RXR").map(|rxr| route(&message.field_of(rxr, 1).component(1)));
    for rxa in message.segments().iter().filter(|s| s.name == "RXA") {
        let Some(drug) = coded(&message.field_of(rxa, 5)) else {
            reading.problem(rxa, 5, problems::NO_ADMINISTERED_CODE);
            continue;
        };
        let Some(start) = time_field_required(message, rxa, 3, reading) else { continue };
        let status = message.field_of(rxa, 20).text();
        let (rate, rate_unit) = rate(message, rxa, reading);
        let administration = Administration {
            drug,
            start,
            end: time_field(message, rxa, 4, reading),
            amount: number_field(message, rxa, 6, reading),
            amount_unit: non_empty(message.field_of(rxa, 7).component(1)),
            rate,
            rate_unit,
            route: route_given.unwrap_or("other"),
            completed: status.is_empty() || status == "CP",
        };
        reading.push(rxa, Record::Administration(administration));
    }
}

/// RXA-12: a number with its unit after it, in one component (`100ml/hr`) or two (`100^ml/hr`).
fn rate(message: &Message, rxa: &Segment, reading: &mut Reading) -> (Option<f64>, Option<String>) {
    let field = message.field_of(rxa, 12);
    let first = field.component(1);
    let split = first.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(first.len());
    let (number, unit) = first.split_at(split);
    if first.is_empty() {
        return (None, None);
    }
    match number_text(number) {
        Some(rate) => (Some(rate), non_empty(unit.trim().to_string()).or_else(|| non_empty(field.component(2)))),
        None => {
            reading.problem(rxa, 12, problems::NOT_A_RATE);
            (None, None)
        }
    }
}

fn read_results(message: &Message, reading: &mut Reading) {
    let mut specimen: Option<String> = None;
    let mut collected: Option<NaiveDateTime> = None;
    for segment in message.segments() {
        match segment.name.as_str() {
            "SPM" => {
                let material = message.field_of(segment, 4);
                specimen = (material.component(3) == "JC10").then(|| material.component(1)).and_then(non_empty);
                collected = time_field(message, segment, 17, reading);
            }
            "OBX" => {
                if let Some(result) = read_result(message, segment, specimen.clone(), collected, reading) {
                    reading.push(segment, Record::LabResult(result));
                }
            }
            _ => {}
        }
    }
}

fn read_result(
    message: &Message,
    obx: &Segment,
    specimen: Option<String>,
    collected: Option<NaiveDateTime>,
    reading: &mut Reading,
) -> Option<LabResult> {
    let f = |n| message.field_of(obx, n);
    let Some(test) = coded(&f(3)) else {
        reading.problem(obx, 3, problems::NO_TEST_CODE);
        return None;
    };
    let Some(time) = time_field(message, obx, 14, reading).or(collected) else {
        reading.problem(obx, 14, problems::NO_RESULT_TIME);
        return None;
    };
    let value = match f(2).text().as_str() {
        "NM" => match number_text(&f(5).text()) {
            Some(n) => LabValue { number: Some(n), comparator: None, text: None },
            None => {
                reading.problem(obx, 5, problems::NM_NOT_A_NUMBER);
                return None;
            }
        },
        // A coded result (e.g. an organism) is its code's text.
        "CWE" => LabValue { number: None, comparator: None, text: non_empty(f(5).component(2)) },
        _ => lab_value(&f(5).text()),
    };
    let (ref_low, ref_high) = reference_range(&f(7).text());
    Some(LabResult {
        test,
        specimen,
        time,
        value,
        unit: non_empty(f(6).component(1)),
        ref_low,
        ref_high,
        abnormal_flag: match f(8).text().as_str() {
            "H" | "HH" => Some("H"),
            "L" | "LL" => Some("L"),
            "N" => Some("N"),
            _ => None,
        },
        status: match f(11).text().as_str() {
            "F" => Some("final"),
            "P" => Some("preliminary"),
            "C" => Some("corrected"),
            "X" | "D" => Some("cancelled"),
            _ => None,
        },
    })
}

/// A string result: a number, a censored number (`<0.02`, `>= 200`, `0.5未満`, `＞100`…), or text
/// (a qualitative result such as `+-`, `(-)`, `陰性`).
pub fn lab_value(raw: &str) -> LabValue {
    let text = raw.trim();
    if let Some(n) = number_text(text) {
        return LabValue { number: Some(n), comparator: None, text: None };
    }
    const BEFORE: [(&str, &str); 14] = [
        ("<=", "<="),
        (">=", ">="),
        ("≦", "<="),
        ("≧", ">="),
        ("<", "<"),
        (">", ">"),
        ("＜", "<"),
        ("＞", ">"),
        ("〈", "<"),
        ("〉", ">"),
        ("以下", "<="),
        ("以上", ">="),
        ("未満", "<"),
        ("超過", ">"),
    ];
    const AFTER: [(&str, &str); 4] = [("未満", "<"), ("以下", "<="), ("以上", ">="), ("超過", ">")];
    let censored = BEFORE
        .iter()
        .find_map(|(sign, cmp)| text.strip_prefix(sign).map(|rest| (rest, *cmp)))
        .or_else(|| AFTER.iter().find_map(|(sign, cmp)| text.strip_suffix(sign).map(|rest| (rest, *cmp))));
    match censored.and_then(|(rest, cmp)| number_text(rest.trim()).map(|n| (n, cmp))) {
        Some((n, cmp)) => LabValue { number: Some(n), comparator: Some(cmp), text: Some(text.to_string()) },
        None => LabValue { number: None, comparator: None, text: non_empty(text.to_string()) },
    }
}

/// OBX-7 `low-high` (either side may be missing: `-5.0`, `10-`). A limit may be negative
/// (`-3.8-110.9`, `-3.8--1.0`): the separator is the first `-` after a digit, a point or a space;
/// a text whose only `-` is its first character is a high limit alone.
fn reference_range(text: &str) -> (Option<f64>, Option<f64>) {
    let text = text.trim();
    let separator = text
        .char_indices()
        .skip(1)
        .find(|&(i, c)| c == '-' && text[..i].ends_with(|p: char| p.is_ascii_digit() || p == '.' || p == ' '))
        .map(|(i, _)| i)
        .or_else(|| text.starts_with('-').then_some(0));
    match separator {
        Some(i) => (number_text(text[..i].trim()), number_text(text[i + 1..].trim())),
        None => (None, None),
    }
}

/// A plain decimal number: digits, one point, a leading sign; not `inf`, `nan` or exponents,
/// which Rust's parser would take and no lab writes.
fn number_text(text: &str) -> Option<f64> {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let plain = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && digits.bytes().filter(|b| *b == b'.').count() <= 1
        && digits.bytes().any(|b| b.is_ascii_digit());
    plain.then(|| text.parse().ok()).flatten()
}

fn number_field(message: &Message, segment: &Segment, n: usize, reading: &mut Reading) -> Option<f64> {
    let field = message.field_of(segment, n);
    let text = field.component(1);
    if text.is_empty() {
        return None;
    }
    let number = number_text(text.trim());
    if number.is_none() {
        reading.problem(segment, n, problems::NOT_A_NUMBER);
    }
    number
}

fn coded(field: &Field<'_>) -> Option<Coded> {
    let code = field.component(1);
    (!code.is_empty()).then(|| Coded { code, system: field.component(3), text: field.component(2) })
}

fn non_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

fn date_field(message: &Message, segment: &Segment, n: usize, reading: &mut Reading) -> Option<NaiveDate> {
    time_field(message, segment, n, reading).map(|t| t.date())
}

fn time_field(message: &Message, segment: &Segment, n: usize, reading: &mut Reading) -> Option<NaiveDateTime> {
    let text = message.field_of(segment, n).component(1);
    if text.is_empty() {
        return None;
    }
    let time = parse_time(&text);
    if time.is_none() {
        reading.problem(segment, n, problems::NOT_A_TIME);
    }
    time
}

fn time_field_required(message: &Message, segment: &Segment, n: usize, reading: &mut Reading) -> Option<NaiveDateTime> {
    let time = time_field(message, segment, n, reading);
    if time.is_none() && message.field_of(segment, n).is_empty() {
        reading.problem(segment, n, problems::NO_TIME);
    }
    time
}

/// An HL7 TS, `YYYYMMDD[HH[MM[SS[.S…]]]]`, without a time zone (local time, as SS-MIX2 writes
/// it). An hour from 24 to 47 is the next day's (the "翌日" notation some systems write).
pub fn parse_time(text: &str) -> Option<NaiveDateTime> {
    let whole = text.split(['.', '+']).next().unwrap_or_default();
    if !whole.bytes().all(|b| b.is_ascii_digit()) || ![8, 10, 12, 14].contains(&whole.len()) {
        return None;
    }
    let part = |at: usize| whole.get(at..at + 2).map_or(Some(0), |p| p.parse::<u32>().ok());
    let date = NaiveDate::parse_from_str(&whole[..8], "%Y%m%d").ok()?;
    let (hour, minute, second) = (part(8)?, part(10)?, part(12)?);
    let (days, hour) = match hour {
        0..=23 => (0, hour),
        24..=47 => (1, hour - 24),
        _ => return None,
    };
    date.checked_add_days(chrono::Days::new(days))?.and_hms_opt(hour, minute, second)
}

#[cfg(test)]
mod tests {
    use super::super::hl7::parse;
    use super::*;

    const MSH: &str = "MSH|^~\\&|HIS|SEND|GW|RCV|20240415120000||";

    fn message(kind: &str, body: &str) -> Reading {
        read(kind, &parse(&format!("{MSH}{body}")).unwrap())
    }

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_patient_keeps_sex_and_birth_date_only() {
        let r = message(
            "ADT-00",
            "ADT^A08|1|P|2.5\rPID|0001||0001234567^^^^PI||\u{5c71}\u{7530}^\u{82b1}\u{5b50}^^^^^L^I||19490522|F|||^^^^1000001^JPN^H^\u{6771}\u{4eac}||03-0000-0000\r",
        );
        assert_eq!(
            r.records,
            [Placed {
                segment: 2,
                record: Record::Patient(Patient {
                    sex: Some('F'),
                    birth_date: Some(date("1949-05-22")),
                    death_date: None
                })
            }]
        );
        assert!(r.problems.is_empty());
    }

    #[test]
    fn the_specifications_discharge_reads_with_its_destination() {
        let r = message(
            "ADT-52",
            "ADT^A03|1|P|2.5\rPID|1||1^^^^PI\rPV1|0001|I|05^501^2^^^N||||D001^\u{533b}\u{5e2b}^\u{7532}^^^^^^^L^^^^^I|||01|||||||D001^\u{533b}\u{5e2b}^\u{7532}^^^^^^^L^^^^^I|||||||||||||||||||01||||||||202404151030|202404251000\r",
        );
        let Record::Encounter(e) = &r.records[1].record else { panic!("{r:?}") };
        assert_eq!(e.event, EncounterKind::Discharge);
        assert_eq!(e.time, date("2024-04-25").and_hms_opt(10, 0, 0).unwrap());
        assert_eq!(e.department.as_deref(), Some("01"));
        assert_eq!(e.discharge_destination, Some("home"));
        assert_eq!(e.admitted, date("2024-04-15").and_hms_opt(10, 30, 0));
    }

    #[test]
    fn a_suspected_main_outpatient_diagnosis_with_its_outcome() {
        let r = message(
            "PPR-01",
            "PPR^ZD1|1|P|2.5\rPID|1||1^^^^PI\rPRB|AD|20240415|20054174^\u{80c3}\u{708e}^MDCDX2|000000000000017|||20240415|||K297^^I10^O^\u{5916}\u{6765}\u{6642}^JHSD0004|||1^\u{7591}\u{3044}\u{3042}\u{308a}^JHSD0005|N^\u{56de}\u{5fa9}\u{305b}\u{305a}^HL70241||20240410||1^\u{4e3b}\u{8a3a}\u{65ad}^JHSD0007\rZPR||20054174^\u{80c3}\u{708e}^MDCDX2|27000001^\u{306e}\u{7591}\u{3044}^MDCDX2||TSQF^\u{80c3}\u{708e}^MDCDX2\r",
        );
        let Record::Diagnosis(d) = &r.records[1].record else { panic!("{r:?}") };
        assert_eq!(d.disease.as_ref().map(|c| (c.code.as_str(), c.system.as_str())), Some(("20054174", "MDCDX2")));
        assert_eq!(d.icd10.as_deref(), Some("K297"));
        assert_eq!((d.kind, d.outcome, d.suspected, d.main), (Some("outpatient"), Some("unchanged"), true, true));
        assert_eq!(d.established, Some(date("2024-04-15")));
        assert!(r.problems.is_empty(), "{:?}", r.problems);
    }

    #[test]
    fn a_prescription_line_gives_code_days_dose_route_and_setting() {
        let r = message(
            "OMP-01",
            "RDE^O11|1|P|2.5\rPID|1||1^^^^PI\rORC|NW|000000000012345||1|||||20240415102500|||D001^\u{533b}\u{5e2b}^\u{7532}^^^^^^^L^^^^^I|||||01^\u{5185}\u{79d1}^99XY1||||||||||||O^\u{5916}\u{6765}\u{60a3}\u{8005}\u{30aa}\u{30fc}\u{30c0}^HL70482\rRXE||108665201^\u{30c0}\u{30fc}\u{30bc}\u{30f3}\u{9320}\u{ff08}\u{ff15}mg)^HOT9|1||TAB^\u{9320}^MR9P|||||21|TAB^\u{9320}^MR9P||||2024041500001||||3^TAB&\u{9320}&MR9P||OHP^\u{5916}\u{6765}\u{51e6}\u{65b9}^MR9P~OHI^\u{9662}\u{5185}\u{51e6}\u{65b9}^MR9P\rTQ1|1||1013044400000000&x&JAMISDP01|||7^d|20240415\rRXR|PO^\u{53e3}^HL70162\r",
        );
        let Record::DrugOrder(o) = &r.records[1].record else { panic!("{r:?}") };
        assert_eq!((o.drug.code.as_str(), o.drug.system.as_str()), ("108665201", "HOT9"));
        assert_eq!((o.days_supply, o.daily_dose, o.dose_unit.as_deref()), (Some(7), Some(3.0), Some("TAB")));
        assert_eq!((o.route, o.setting, o.start), ("oral", Some("outpatient"), Some(date("2024-04-15"))));
        assert!(r.problems.is_empty(), "{:?}", r.problems);
    }

    #[test]
    fn an_injections_drugs_are_its_components() {
        let r = message(
            "OMP-02",
            "RDE^O11|1|P|2.5\rPID|1||1^^^^PI\rORC|NW|000000000012346||1|||||20240415102500\rRXE||00^\u{4e00}\u{822c}^99I02|500||ML^x^MR9P|INJ^x^MR9P|||||||||20240415-001||||||IHP^x^MR9P||100|ml/hr^x^ISO+\rTQ1|1||||||202404160900|202404161400\rRXR|IV^\u{9759}\u{8108}\u{5185}^HL70162||IVP^x^HL70164\rRXC|B|620007329^x^HOT9|1|HON^\u{672c}^MR9P\r",
        );
        let orders: Vec<&DrugOrder> = r
            .records
            .iter()
            .filter_map(|x| if let Record::DrugOrder(o) = &x.record { Some(o) } else { None })
            .collect();
        assert_eq!(orders.len(), 1, "{r:?}");
        assert_eq!(
            (orders[0].drug.code.as_str(), orders[0].route, orders[0].days_supply),
            ("620007329", "injection", None)
        );
        assert_eq!(orders[0].start, Some(date("2024-04-16")));
    }

    #[test]
    fn an_administration_gives_times_amount_rate_and_completion() {
        let r = message(
            "OMP-12",
            "RAS^O17|1|P|2.5\rPID|1||1^^^^PI\rORC|RE|000000000012346\rRXA|0|1|202404160900|202404161400|620007329^x^HOT9|500|ML^x^MR9P||^\u{5de6}\u{624b}^99IC2|N001^x||100ml/hr||||||||CP\rRXR|IV^x^HL70162\r",
        );
        let Record::Administration(a) = &r.records[1].record else { panic!("{r:?}") };
        assert_eq!((a.drug.code.as_str(), a.amount, a.amount_unit.as_deref()), ("620007329", Some(500.0), Some("ML")));
        assert_eq!(
            (a.rate, a.rate_unit.as_deref(), a.route, a.completed),
            (Some(100.0), Some("ml/hr"), "injection", true)
        );
        assert_eq!(a.end, date("2024-04-16").and_hms_opt(14, 0, 0));
        assert!(r.problems.is_empty(), "{:?}", r.problems);
    }

    #[test]
    fn lab_results_numeric_censored_and_qualitative_with_their_specimen() {
        let r = message(
            "OML-11",
            "OUL^R22|1|P|2.5\rPID|1||1^^^^PI\rSPM|1|000000000240415||023^\u{8840}\u{6e05}^JC10|||||||||||||202404150845\rOBR|1|000000000054321|000000000240415|E001^x^99O03|||20240415\rOBX|1|NM|3A010000002327101^\u{7dcf}\u{86cb}\u{767d}^JC10||6.2|g/dL^g/dL^ISO+|6.7-8.3|L|||F|||202404150845\rOBX|2|ST|5C070000002306201^CRP^JC10||<0.02|mg/dL^mg/dL^ISO+|0.00-0.14||||F|||202404150845\rOBX|3|ST|1A990000000192053^x^JC10||  +-||||||F|||202404150845\r",
        );
        let results: Vec<&LabResult> = r
            .records
            .iter()
            .filter_map(|x| if let Record::LabResult(l) = &x.record { Some(l) } else { None })
            .collect();
        assert_eq!(results.len(), 3);
        assert_eq!(
            (results[0].value.number, results[0].ref_low, results[0].ref_high),
            (Some(6.2), Some(6.7), Some(8.3))
        );
        assert_eq!(
            (results[0].abnormal_flag, results[0].status, results[0].specimen.as_deref()),
            (Some("L"), Some("final"), Some("023"))
        );
        assert_eq!((results[1].value.number, results[1].value.comparator), (Some(0.02), Some("<")));
        assert_eq!((results[2].value.number, results[2].value.text.as_deref()), (None, Some("+-")));
        assert!(r.problems.is_empty(), "{:?}", r.problems);
    }

    #[test]
    fn a_field_that_cannot_be_read_is_named_without_its_value() {
        let r = message(
            "OML-11",
            "OUL^R22|1|P|2.5\rPID|1||1^^^^PI||||1949-05-22|X\rSPM|1\rOBX|1|NM|3A010000002327101^x^JC10||six|g/dL|||||F|||20240415\r",
        );
        let named: Vec<(&str, &str)> = r.problems.iter().map(|p| (p.field.as_str(), p.reason.as_str())).collect();
        assert_eq!(
            named,
            [
                ("PID-8", "not a sex of HL7 table 0001 (M, F, O, U)"),
                ("PID-7", "not an HL7 time (YYYYMMDD[HH[MM[SS[.S]]]])"),
                ("OBX-5", "a numeric result (NM) that is not a number"),
            ]
        );
        assert!(r.problems.iter().all(|p| !p.reason.contains("six") && !p.reason.contains("1949")));
    }

    #[test]
    fn reference_ranges_with_negative_and_missing_limits() {
        assert_eq!(reference_range("6.7-8.3"), (Some(6.7), Some(8.3)));
        assert_eq!(reference_range("-3.8-110.9"), (Some(-3.8), Some(110.9)));
        assert_eq!(reference_range("-3.8--1.0"), (Some(-3.8), Some(-1.0)));
        assert_eq!(reference_range(" 0.00 - 0.14 "), (Some(0.0), Some(0.14)));
        assert_eq!(reference_range("-5.0"), (None, Some(5.0)));
        assert_eq!(reference_range("10-"), (Some(10.0), None));
        assert_eq!(reference_range("N"), (None, None));
    }

    #[test]
    fn times_with_the_next_day_hours_and_censored_spellings() {
        assert_eq!(parse_time("20240415253000"), date("2024-04-16").and_hms_opt(1, 30, 0));
        assert_eq!(parse_time("20111220224447.3399"), date("2011-12-20").and_hms_opt(22, 44, 47));
        assert_eq!(parse_time("2024041"), None);
        assert_eq!(parse_time("20240415486000"), None);
        assert_eq!(lab_value(">= 200").comparator, Some(">="));
        assert_eq!(lab_value("0.5\u{672a}\u{6e80}").comparator, Some("<"));
        assert_eq!(lab_value("\u{ff1e}100").number, Some(100.0));
        assert_eq!(lab_value("inf").number, None);
    }
}
