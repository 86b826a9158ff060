//! What the records of SS-MIX2 messages become in the site's tables: one row of text fields per
//! record, named as the columns of `site load`'s files, so that the load's own checks validate them
//! (`load::staged`). Codes go through the masters here: HOT9 and HOT13 to YJ (the HOT master), a
//! MEDIS disease number to ICD-10 (the disease master) when PRB-10 gives none, JLAC10 as written;
//! a local code (`99…` systems) or a standard code the masters do not hold is kept as the row's
//! local code, waiting for the site's mapping. A code of a system the import does not know is a
//! problem of its field.

use std::collections::HashMap;

use super::read::{Administration, Coded, Diagnosis, DrugOrder, EncounterEvent, EncounterKind, LabResult, Patient};
use crate::error::Result;

/// One row for a clinical table: `(column, value)` of the columns it fills.
pub type Row = Vec<(&'static str, Option<String>)>;

/// The masters' crosswalks the import reads codes through, read once per import.
#[derive(Debug, Default)]
pub struct Codes {
    /// HOT13 and HOT9 codes to YJ (a HOT13 code's first nine digits are its HOT9).
    hot: HashMap<String, String>,
    /// A MEDIS 病名管理番号 to its ICD-10 (2013, else 2003) and 病名交換用コード.
    disease: HashMap<String, (String, Option<String>)>,
}

impl Codes {
    pub fn of(conn: &duckdb::Connection) -> Result<Codes> {
        let mut codes = Codes::default();
        let mut hot = conn.prepare(
            "SELECT hot_code, yj_code FROM current_master_hot WHERE coalesce(yj_code, '') <> '' ORDER BY hot_code",
        )?;
        for row in hot.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
            let (code, yj) = row?;
            if code.len() == 13 {
                codes.hot.entry(code[..9].to_string()).or_insert_with(|| yj.clone());
            }
            codes.hot.insert(code, yj);
        }
        let mut disease = conn.prepare(
            "SELECT management_number, coalesce(nullif(icd10_2013_1, ''), icd10_2003_1), nullif(exchange_code, '') \
             FROM current_master_disease WHERE coalesce(management_number, '') <> '' \
             AND coalesce(nullif(icd10_2013_1, ''), icd10_2003_1, '') <> '' ORDER BY disease_code",
        )?;
        let rows = disease
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<String>>(2)?)))?;
        for row in rows {
            let (number, icd10, exchange) = row?;
            codes.disease.entry(number).or_insert((icd10.replace('.', ""), exchange));
        }
        Ok(codes)
    }
}

/// Why a record's code cannot be taken: its field's problem.
pub type CodeProblem = String;

/// A hospital's own code system: `99` and a name of its choosing (JAHIS).
fn is_local(system: &str) -> bool {
    system.starts_with("99")
}

/// The standard code a row gets, or the local code it waits with.
enum Resolved {
    Standard(String),
    Local,
}

fn local_fields(row: &mut Row, coded: &Coded) {
    row.push(("local_system", Some(coded.system.clone())));
    row.push(("local_code", Some(coded.code.clone())));
    row.push(("local_text", non_empty(&coded.text)));
}

fn drug_code(codes: &Codes, drug: &Coded) -> std::result::Result<Resolved, CodeProblem> {
    match drug.system.as_str() {
        "HOT9" | "HOT13" | "HOT" => {
            Ok(codes.hot.get(&drug.code).map_or(Resolved::Local, |yj| Resolved::Standard(yj.clone())))
        }
        "YJ" => Ok(Resolved::Standard(drug.code.clone())),
        // HOT7 and HOT11 name a product without its package or company: the site's mapping decides.
        "HOT7" | "HOT11" => Ok(Resolved::Local),
        system if is_local(system) => Ok(Resolved::Local),
        _ => Err(unknown_system(&drug.system)),
    }
}

/// The systems each kind of code may be written in are those of `drug_code`, `diagnosis` and
/// `lab_result` (docs/ss-mix2.md); the reason quotes the system, which the quarantine withholds.
fn unknown_system(system: &str) -> CodeProblem {
    crate::site::load::reasons::hl7::UNKNOWN_SYSTEM.with(system)
}

/// The drug columns of a row: the YJ code and the HOT code, or the local code.
fn drug_fields(codes: &Codes, drug: &Coded, row: &mut Row) -> std::result::Result<(), CodeProblem> {
    match drug_code(codes, drug)? {
        Resolved::Standard(yj) => {
            row.push(("yj_code", Some(yj)));
            let hot = drug.system.starts_with("HOT").then(|| drug.code.clone());
            row.push(("hot_code", hot));
        }
        Resolved::Local => local_fields(row, drug),
    }
    Ok(())
}

pub fn patient(key: &str, patient: &Patient) -> Row {
    vec![
        ("patient_key", Some(key.to_string())),
        ("sex", patient.sex.map(String::from)),
        ("birth_date", patient.birth_date.map(|d| d.to_string())),
        ("death_date", patient.death_date.map(|d| d.to_string())),
    ]
}

/// One encounter: an outpatient visit, or an inpatient stay from its admission to its discharge
/// (none yet: the stay's end is its start until the discharge comes).
pub fn encounter(key: &str, start: &EncounterEvent, discharge: Option<&EncounterEvent>) -> Row {
    let inpatient = start.event == EncounterKind::Admission;
    let destination = discharge.and_then(|d| d.discharge_destination);
    vec![
        ("patient_key", Some(key.to_string())),
        ("encounter_type", Some(if inpatient { "inpatient" } else { "outpatient" }.to_string())),
        ("start_date", Some(start.time.date().to_string())),
        ("end_date", discharge.map(|d| d.time.date().to_string())),
        ("department", start.department.clone()),
        ("discharge_destination", destination.map(String::from)),
        // The schema ties a death at discharge to the stay's outcome.
        ("discharge_outcome", (destination == Some("died")).then(|| "died".to_string())),
        ("source", Some("EHR".to_string())),
    ]
}

pub fn diagnosis(codes: &Codes, key: &str, d: &Diagnosis) -> std::result::Result<Row, CodeProblem> {
    let mut row: Row = vec![
        ("patient_key", Some(key.to_string())),
        ("diagnosis_date", d.established.map(|t| t.to_string())),
        ("end_date", d.end_date.map(|t| t.to_string())),
        ("disease_outcome", d.outcome.map(String::from)),
        ("suspected", Some(d.suspected.to_string())),
        ("main_diagnosis", Some(d.main.to_string())),
        ("diagnosis_kind", d.kind.map(String::from)),
        ("source", Some("EHR".to_string())),
    ];
    let from_master = d.disease.as_ref().filter(|c| c.system == "MDCDX2").and_then(|c| codes.disease.get(&c.code));
    row.push(("medis_code", from_master.and_then(|(_, exchange)| exchange.clone())));
    match (&d.icd10, from_master, &d.disease) {
        (Some(icd10), _, _) => row.push(("icd10", Some(icd10.clone()))),
        (None, Some((icd10, _)), _) => row.push(("icd10", Some(icd10.clone()))),
        (None, None, Some(disease)) if disease.system == "MDCDX2" || is_local(&disease.system) => {
            local_fields(&mut row, disease)
        }
        (None, None, Some(disease)) => {
            return Err(unknown_system(&disease.system));
        }
        // Neither code: the load's check names the missing icd10.
        (None, None, None) => {}
    }
    Ok(row)
}

pub fn drug_order(codes: &Codes, key: &str, o: &DrugOrder) -> std::result::Result<Row, CodeProblem> {
    let mut row: Row = vec![
        ("patient_key", Some(key.to_string())),
        ("order_date", o.ordered.or(o.start).map(|d| d.to_string())),
        ("start_date", o.start.map(|d| d.to_string())),
        ("days_supply", o.days_supply.map(|n| n.to_string())),
        ("daily_dose", o.daily_dose.map(|n| n.to_string())),
        ("dose_unit", o.dose_unit.clone()),
        ("route", Some(o.route.to_string())),
        ("setting", o.setting.map(String::from)),
        ("source", Some("EHR".to_string())),
    ];
    drug_fields(codes, &o.drug, &mut row)?;
    Ok(row)
}

pub fn administration(
    codes: &Codes,
    key: &str,
    a: &Administration,
    setting: Option<&str>,
) -> std::result::Result<Row, CodeProblem> {
    let mut row: Row = vec![
        ("patient_key", Some(key.to_string())),
        ("start_time", Some(a.start.to_string())),
        ("end_time", a.end.map(|t| t.to_string())),
        ("amount", a.amount.map(|n| n.to_string())),
        ("amount_unit", a.amount_unit.clone()),
        ("rate", a.rate.map(|n| n.to_string())),
        ("rate_unit", a.rate_unit.clone()),
        ("route", Some(a.route.to_string())),
        ("setting", setting.map(String::from)),
        ("source", Some("EHR".to_string())),
    ];
    drug_fields(codes, &a.drug, &mut row)?;
    Ok(row)
}

pub fn lab_result(key: &str, l: &LabResult) -> std::result::Result<Row, CodeProblem> {
    // A censored value is written as `site load` takes it (`<0.02`), whatever its spelling (`0.02未満`).
    let value = match (&l.value.comparator, l.value.number, &l.value.text) {
        (Some(comparator), Some(number), _) => Some(format!("{comparator}{number}")),
        (None, Some(number), _) => Some(number.to_string()),
        (_, None, text) => text.clone(),
    };
    let mut row: Row = vec![
        ("patient_key", Some(key.to_string())),
        ("specimen", l.specimen.clone()),
        ("result_time", Some(l.time.to_string())),
        ("value", value),
        ("unit", l.unit.clone()),
        ("ref_low", l.ref_low.map(|n| n.to_string())),
        ("ref_high", l.ref_high.map(|n| n.to_string())),
        ("abnormal_flag", l.abnormal_flag.map(String::from)),
        ("result_status", l.status.map(String::from)),
        ("source", Some("EHR".to_string())),
    ];
    match l.test.system.as_str() {
        "JC10" => row.push(("jlac10", Some(l.test.code.clone()))),
        system if is_local(system) => local_fields(&mut row, &l.test),
        system => return Err(unknown_system(system)),
    }
    Ok(row)
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_string())
}
