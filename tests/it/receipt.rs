//! `midnet site import receipt`: monthly claims files (RECEIPTC.UKE, Shift_JIS) imported by the
//! real binary into a real site with the synthetic masters. The synthetic network's claims come in
//! as its CSV files' CLAIMS rows load; one patient has one key across the SS-MIX2 import and the
//! claims; each bad-input class is quarantined at its file and line (or, for a file that cannot be
//! decoded, refuses the import); imports are incremental, idempotent and atomic.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};

use crate::common::{Run, midnet, midnet_with, tempdir};

/// The synthetic masters' first disease (傷病名コード), drug (レセプト電算) and a procedure.
const DISEASE: &str = "8800001";
const DRUG: &str = "620000001";
const VISIT: &str = "112007410";
/// The synthetic masters' 入院基本料, billed on each day of a stay.
const ADMISSION: &str = "190117710";
pub(crate) const CHART: &str = "2000123457";
const NAME: &str = "架空　花子";

/// A record of `count` fields, those given set.
pub(crate) fn rec(count: usize, given: &[&str]) -> String {
    let mut fields: Vec<String> = given.iter().map(|s| s.to_string()).collect();
    fields.resize(count.max(given.len()), String::new());
    fields.join(",")
}

/// An SI or IY record: fields 2-7, then a count on each given day.
fn billed(given: &[&str], days: &[(usize, &str)]) -> String {
    let mut fields: Vec<String> = given.iter().map(|s| s.to_string()).collect();
    fields.resize(44, String::new());
    for (day, count) in days {
        fields[12 + day] = count.to_string();
    }
    fields.join(",")
}

/// One outpatient receipt of the care month `care` (YYYYMM) of patient `CHART`, with `body` after
/// its HO, the HO's and GO's totals `points`, billed the month after.
pub(crate) fn claims(care: &str, points: u64, body: &[String]) -> Vec<String> {
    claims_of_kind(care, "1112", "", points, body)
}

/// One receipt of the kind `kind` (RE-3) and admission `admitted` (RE-9), as `claims`.
fn claims_of_kind(care: &str, kind: &str, admitted: &str, points: u64, body: &[String]) -> Vec<String> {
    let billing = next_month(care);
    let mut records = vec![
        rec(10, &["IR", "1", "13", "1", "1310001", "", "架空記念病院", &billing, "00", "03-0000-0000"]),
        {
            let mut re: Vec<String> =
                rec(38, &["RE", "1", kind, care, NAME, "2", "19800101"]).split(',').map(String::from).collect();
            re[8] = admitted.to_string();
            re[13] = CHART.to_string();
            re.join(",")
        },
        rec(15, &["HO", "06139999", "１２３", "４５６７", "1", &points.to_string()]),
    ];
    records.extend(body.iter().cloned());
    records.push(rec(4, &["GO", "1", &points.to_string(), "99"]));
    records
}

/// The inpatient receipt (1111) of the care month `care` of a stay admitted on `admitted`
/// (YYYYMMDD), its 入院基本料 billed on the days `first..=last` of the month.
fn stay(care: &str, admitted: &str, first: usize, last: usize) -> Vec<String> {
    let days: Vec<(usize, &str)> = (first..=last).map(|day| (day, "1")).collect();
    let fee = billed(&["SI", "90", "1", ADMISSION, "", "1650", &days.len().to_string()], &days);
    claims_of_kind(care, "1111", admitted, 1650 * days.len() as u64, &[fee])
}

fn next_month(care: &str) -> String {
    let (year, month): (u32, u32) = (care[..4].parse().unwrap(), care[4..].parse().unwrap());
    if month == 12 { format!("{}01", year + 1) } else { format!("{year}{:02}", month + 1) }
}

fn sy(start: &str, outcome: &str) -> String {
    rec(8, &["SY", DISEASE, start, outcome, "", "", "01"])
}

pub(crate) fn visit(days: &[(usize, &str)]) -> String {
    let times: u64 = days.iter().map(|(_, n)| n.parse::<u64>().unwrap()).sum();
    billed(&["SI", "12", "1", VISIT, "", "75", &times.to_string()], days)
}

fn encode(records: &[String]) -> Vec<u8> {
    let text = records.join("\r\n") + "\r\n\u{1a}";
    let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(&text);
    assert!(!unmappable, "the fixture is Shift_JIS text");
    bytes.into_owned()
}

/// Write a claims file under `dir/name/RECEIPTC.UKE`; its path relative to `dir`.
pub(crate) fn put(dir: &Path, name: &str, records: &[String]) -> String {
    std::fs::create_dir_all(dir.join(name)).unwrap();
    let path = format!("{name}/RECEIPTC.UKE");
    std::fs::write(dir.join(&path), encode(records)).unwrap();
    path
}

/// A site `site` with the synthetic network's masters.
pub(crate) fn new_site(dir: &Path) {
    midnet(dir, &["synth", "--site-count", "1", "--patients", "1", "--dir", "masters-net", "--quiet"]).ok();
    midnet(dir, &["site", "init", "--site", "site"]).ok();
    import_masters(dir, &dir.join("masters-net/site01"), "site");
}

fn import_masters(dir: &Path, synth_site: &Path, site: &str) {
    let mut masters: Vec<String> = std::fs::read_dir(synth_site.join("masters"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    masters.sort();
    let mut args = vec!["site", "masters", "import", "--site", site];
    args.extend(masters.iter().map(String::as_str));
    midnet(dir, &args).ok();
}

pub(crate) fn import(dir: &Path, files: &[&str]) -> Run {
    midnet(dir, &[&["site", "import", "receipt", "--site", "site", "--json"][..], files].concat())
}

fn open_site(site: &Path) -> duckdb::Connection {
    let config = duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly).unwrap();
    duckdb::Connection::open_with_flags(site.join("site.duckdb"), config).unwrap()
}

fn query_i64(dir: &Path, sql: &str) -> i64 {
    open_site(&dir.join("site")).query_row(sql, [], |r| r.get(0)).unwrap()
}

fn rows_of(site: &Path, sql: &str) -> Vec<String> {
    let conn = open_site(site);
    let mut stmt = conn.prepare(sql).unwrap();
    let mut rows: Vec<String> = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap().map(Result::unwrap).collect();
    rows.sort();
    rows
}

fn rows(dir: &Path, sql: &str) -> Vec<String> {
    rows_of(&dir.join("site"), sql)
}

/// The quarantine as `line reason` rows (the file is the one claims file of the test).
fn quarantine(dir: &Path) -> Vec<String> {
    rows(dir, "SELECT line || ' ' || reason FROM quarantine")
}

fn hmac_key(site: &Path) -> Vec<u8> {
    hex::decode(std::fs::read_to_string(site.join("keys/patient.key")).unwrap().trim()).unwrap()
}

fn patient_key(key: &[u8], id: &str) -> String {
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).unwrap();
    mac.update(id.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[test]
fn a_claims_file_comes_in_with_its_patient_key_codes_through_the_masters_and_one_data_version() {
    let dir = tempdir();
    new_site(dir.path());
    let before = query_i64(dir.path(), "SELECT max(data_version) FROM load_history");
    let drug = billed(&["IY", "21", "1", DRUG, "2", "10", "14"], &[(5, "14")]);
    let file = put(dir.path(), "202404", &claims("202403", 75 + 140, &[sy("20240305", "1"), visit(&[(5, "1")]), drug]));
    let report = import(dir.path(), &[&file]).ok().json();
    assert_eq!(report["data_version"].as_i64(), Some(before + 1), "{report}");
    assert_eq!(report["totals_mismatches"], serde_json::json!([]), "{report}");
    let key = patient_key(&hmac_key(&dir.path().join("site")), CHART);
    assert_eq!(
        rows(dir.path(), "SELECT patient_key || ' ' || sex || ' ' || birth_date FROM patient"),
        [format!("{key} F 1980-01-01")]
    );
    let icd10 = rows(dir.path(), "SELECT icd10 FROM diagnosis WHERE source = 'CLAIMS'");
    assert_eq!(icd10.len(), 1);
    assert_eq!(
        rows(
            dir.path(),
            "SELECT concat_ws(' ', diagnosis_date, disease_outcome, suspected, main_diagnosis, diagnosis_kind) FROM diagnosis"
        ),
        ["2024-03-05 continuing false true billing"]
    );
    assert_eq!(
        rows(dir.path(), "SELECT procedure_code || ' ' || procedure_date FROM procedure"),
        [format!("{VISIT} 2024-03-05")]
    );
    assert_eq!(
        rows(
            dir.path(),
            "SELECT concat_ws(' ', order_date, days_supply, daily_dose, route, setting, source) FROM drug_order"
        ),
        ["2024-03-05 14 2.0 oral outpatient CLAIMS"]
    );
    assert_eq!(quarantine(dir.path()), Vec::<String>::new());
}

/// A file that cannot be decoded refuses the import, naming the file and the byte; nothing is
/// imported, the other files given included.
#[test]
fn an_undecodable_byte_refuses_the_import() {
    let dir = tempdir();
    new_site(dir.path());
    let good = put(dir.path(), "202404", &claims("202403", 75, &[sy("20240305", "1"), visit(&[(5, "1")])]));
    let mut bytes = encode(&claims("202404", 75, &[sy("20240305", "1"), visit(&[(9, "1")])]));
    bytes.insert(2, 0xFF);
    std::fs::create_dir_all(dir.path().join("202405")).unwrap();
    std::fs::write(dir.path().join("202405/RECEIPTC.UKE"), bytes).unwrap();
    let run = midnet(dir.path(), &["site", "import", "receipt", "--site", "site", &good, "202405/RECEIPTC.UKE"]);
    run.fails(2, "202405/RECEIPTC.UKE: byte 2 is not Shift_JIS");
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM receipt_file"), 0);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM procedure"), 0);
}

/// One bad record in an otherwise good file: quarantined at its line with what is wrong, the rest
/// of the file in.
fn bad_record(make: impl FnOnce(&mut Vec<String>)) -> (tempfile::TempDir, Vec<String>) {
    let dir = tempdir();
    new_site(dir.path());
    let mut records = claims("202403", 75, &[sy("20240305", "1"), visit(&[(5, "1")])]);
    make(&mut records);
    let file = put(dir.path(), "202404", &records);
    import(dir.path(), &[&file]).ok();
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM patient"), 1, "the rest of the file comes in");
    let found = quarantine(dir.path());
    (dir, found)
}

#[test]
fn a_record_with_the_wrong_number_of_fields_is_quarantined_at_its_line() {
    let (dir, found) = bad_record(|r| r[3] = format!("SY,{DISEASE},20240305,1,,,01"));
    assert_eq!(found, ["4 SY: 7 fields, where the 記録条件仕様 has 8"]);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM procedure"), 1);
}

#[test]
fn an_unknown_record_is_quarantined_at_its_line() {
    let (_dir, found) = bad_record(|r| r.insert(5, "XX,1,2".to_string()));
    assert_eq!(found, ["6 XX-1: not a record of the 記録条件仕様 (医科用 or DPC用)"]);
}

#[test]
fn an_impossible_date_is_quarantined_at_its_field() {
    let (dir, found) = bad_record(|r| r[3] = sy("20230230", "1"));
    assert_eq!(found, ["4 SY-3: not a date (YYYYMMDD, or GYYMMDD with G the era 1-5)"]);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM diagnosis"), 0);
}

/// An inpatient receipt (kind's last digit odd) without its 入院年月日, or with one after its month
/// of care, makes no stay: quarantined at its RE's field 9, the receipt's records read.
#[test]
fn an_inpatient_receipt_without_a_possible_admission_day_makes_no_stay() {
    let inpatient = |admitted: &'static str| {
        move |r: &mut Vec<String>| {
            let mut re: Vec<String> = r[1].split(',').map(String::from).collect();
            re[2] = "1111".to_string();
            re[8] = admitted.to_string();
            r[1] = re.join(",");
        }
    };
    let (dir, found) = bad_record(inpatient(""));
    assert_eq!(found, ["2 RE-9: an inpatient receipt without 入院年月日: its stay is not made"]);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM encounter"), 0);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM procedure"), 1, "the receipt's records are read");
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM observation_period"), 1, "its month is observed");
    let (dir, found) = bad_record(inpatient("20240401"));
    assert_eq!(found, ["2 RE-9: 入院年月日 after the month of care: its stay is not made"]);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM encounter"), 0);
}

#[test]
fn codes_missing_from_the_masters_are_quarantined_at_their_lines() {
    let (dir, found) = bad_record(|r| {
        r[3] = rec(8, &["SY", "9999999", "20240305", "1", "", "", "01"]);
        r.insert(4, rec(8, &["SY", "0000999", "20240305", "1", "", "架空症候群"]));
        r.insert(5, billed(&["IY", "21", "1", "629999999", "1", "", "7"], &[(5, "7")]));
        r.insert(6, billed(&["SI", "80", "1", "199999999", "", "", "1"], &[(5, "1")]));
    });
    assert_eq!(
        found,
        [
            "4 SY-2: a 傷病名コード the disease master has not",
            "5 SY-2: 0000999, a diagnosis without a code: its name is free text, not read",
            "6 IY-4: a レセプト電算 drug code the drug master has not",
            "7 SI-4: a 診療行為コード the procedure master has not",
        ]
    );
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM procedure"), 1, "the visit");
    let site = std::fs::read(dir.path().join("site/site.duckdb")).unwrap();
    let name = encoding_rs::UTF_8.encode("架空症候群").0.into_owned();
    assert!(!site.windows(name.len()).any(|w| w == name.as_slice()), "the uncoded diagnosis's name is not read");
}

/// Totals that do not add up are reported with their file and line and counted on the file; the
/// rows they concern come in.
#[test]
fn totals_that_do_not_add_up_are_reported_and_quarantine_nothing() {
    let dir = tempdir();
    new_site(dir.path());
    let mut records = claims("202403", 75, &[sy("20240305", "1"), visit(&[(5, "1")])]);
    records[2] = rec(15, &["HO", "06139999", "１２３", "４５６７", "1", "85"]);
    let file = put(dir.path(), "202404", &records);
    let report = import(dir.path(), &[&file]).ok().json();
    let found: Vec<(i64, String, i64)> = report["totals_mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["line"].as_i64().unwrap(), m["record"].as_str().unwrap().to_string(), m["field"].as_i64().unwrap()))
        .collect();
    assert_eq!(found, [(3, "HO".to_string(), 6), (6, "GO".to_string(), 3)], "{report}");
    assert_eq!(query_i64(dir.path(), "SELECT totals_mismatches FROM receipt_file"), 2);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM procedure"), 1);
    assert_eq!(quarantine(dir.path()), Vec::<String>::new());
}

/// A claims-made patient row stays while a row of another source needs it: a month sent again
/// without the patient withdraws the claims' rows, not the patient the hospital's EHR rows name.
#[test]
fn a_month_sent_again_keeps_the_patient_row_another_source_needs() {
    let dir = tempdir();
    new_site(dir.path());
    let march = put(dir.path(), "202404", &claims("202403", 75, &[visit(&[(5, "1")])]));
    import(dir.path(), &[&march]).ok();
    let key = patient_key(&hmac_key(&dir.path().join("site")), CHART);
    let visit_row =
        format!("patient_key,encounter_type,start_date,end_date,source\n{key},outpatient,2024-03-20,2024-03-20,EHR\n");
    std::fs::write(dir.path().join("encounter.csv"), visit_row).unwrap();
    midnet(dir.path(), &["site", "load", "--site", "site", "encounter.csv"]).ok();
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM encounter"), 1);

    let someone_else: Vec<String> =
        claims("202403", 75, &[visit(&[(7, "1")])]).into_iter().map(|r| r.replace(CHART, "2000765431")).collect();
    let march_again = put(dir.path(), "202404-again", &someone_else);
    import(dir.path(), &[&march_again]).ok();
    let orphaned = "SELECT count(*) FROM encounter WHERE patient_key NOT IN (SELECT patient_key FROM patient)";
    assert_eq!(query_i64(dir.path(), orphaned), 0, "the EHR visit keeps its patient");
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM patient"), 2);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM procedure"), 1, "March's first file's visit is withdrawn");
}

/// A month sent again corrects the sex and birth date of a patient whose row its first version
/// made, though another month's rows keep that row.
#[test]
fn a_month_sent_again_corrects_the_sex_and_birth_date_of_the_patient_it_made() {
    let dir = tempdir();
    new_site(dir.path());
    let march = put(dir.path(), "202404", &claims("202403", 75, &[visit(&[(5, "1")])]));
    let april = put(dir.path(), "202405", &claims("202404", 75, &[visit(&[(10, "1")])]));
    import(dir.path(), &[&march]).ok();
    import(dir.path(), &[&april]).ok();
    let patient = "SELECT sex || ' ' || birth_date FROM patient";
    assert_eq!(rows(dir.path(), patient), ["F 1980-01-01"]);

    let corrected: Vec<String> = claims("202403", 75, &[visit(&[(5, "1")])])
        .into_iter()
        .map(|r| r.replace(",2,19800101,", ",1,19800202,"))
        .collect();
    let march_again = put(dir.path(), "202404-again", &corrected);
    import(dir.path(), &[&march_again]).ok();
    assert_eq!(rows(dir.path(), patient), ["M 1980-02-02"], "the corrected file's values win");
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM procedure"), 2);
}

/// A row of the EHR waiting for a mapping keeps its patient's row when the claims month that made
/// the row is sent again without the patient.
#[test]
fn a_month_sent_again_keeps_the_patient_of_a_row_waiting_for_a_mapping() {
    let dir = tempdir();
    new_site(dir.path());
    let march = put(dir.path(), "202404", &claims("202403", 75, &[visit(&[(5, "1")])]));
    import(dir.path(), &[&march]).ok();
    let key = patient_key(&hmac_key(&dir.path().join("site")), CHART);
    let order = format!(
        "patient_key,yj_code,order_date,days_supply,route,setting,source,local_system,local_code\n\
         {key},,2024-03-20,7,oral,outpatient,EHR,99HOSP,99A001\n"
    );
    std::fs::write(dir.path().join("drug_order.csv"), order).unwrap();
    midnet(dir.path(), &["site", "load", "--site", "site", "drug_order.csv"]).ok();
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM local_row WHERE brought_in IS NULL"), 1);

    let someone_else: Vec<String> =
        claims("202403", 75, &[visit(&[(7, "1")])]).into_iter().map(|r| r.replace(CHART, "2000765431")).collect();
    let march_again = put(dir.path(), "202404-again", &someone_else);
    import(dir.path(), &[&march_again]).ok();
    let kept = format!("SELECT count(*) FROM patient WHERE patient_key = '{key}'");
    assert_eq!(query_i64(dir.path(), &kept), 1, "the waiting order keeps its patient");
}

/// The original file sent again after its correction becomes the month again (a new data
/// version); given beside the current file, a file replaced is not read again.
#[test]
fn the_original_sent_again_after_its_correction_becomes_the_month_again() {
    let dir = tempdir();
    new_site(dir.path());
    let march = put(dir.path(), "202404", &claims("202403", 75, &[visit(&[(5, "1")])]));
    let first = import(dir.path(), &[&march]).ok().json();
    let corrected = put(dir.path(), "202404-again", &claims("202403", 150, &[visit(&[(5, "1"), (12, "1")])]));
    let correction = import(dir.path(), &[&corrected]).ok().json();
    let procedures = "SELECT procedure_date::VARCHAR FROM procedure";
    assert_eq!(rows(dir.path(), procedures), ["2024-03-05", "2024-03-12"]);

    let back = import(dir.path(), &[&march]).ok().json();
    assert_eq!(back["files"][0]["outcome"], "read", "{back}");
    assert_eq!(back["files"][0]["replaces"], correction["files"][0]["source_file"], "{back}");
    assert!(back["data_version"].as_i64() > correction["data_version"].as_i64(), "{back}");
    assert_eq!(rows(dir.path(), procedures), ["2024-03-05"]);
    assert_eq!(back["files"][0]["source_file"], first["files"][0]["source_file"]);

    let both = import(dir.path(), &[&march, &corrected]).ok().json();
    assert_eq!(both["data_version"], serde_json::Value::Null, "{both}");
    assert_eq!(rows(dir.path(), procedures), ["2024-03-05"]);
}

/// Two months: the diagnosis repeated on both is one row with the later outcome; the same files
/// again change nothing; a month sent again replaces its first file, whose rows are withdrawn.
#[test]
fn imports_are_incremental_idempotent_and_a_month_sent_again_replaces_its_file() {
    let dir = tempdir();
    new_site(dir.path());
    let march = put(dir.path(), "202404", &claims("202403", 75, &[sy("20240305", "1"), visit(&[(5, "1")])]));
    let april = put(dir.path(), "202405", &claims("202404", 75, &[sy("20240305", "2"), visit(&[(10, "1")])]));
    let first = import(dir.path(), &[&march, &april]).ok().json();
    let diagnoses = "SELECT concat_ws(' ', diagnosis_date, end_date, disease_outcome) FROM diagnosis";
    assert_eq!(rows(dir.path(), diagnoses), ["2024-03-05 2024-04-30 cured"]);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM procedure"), 2);

    let again = import(dir.path(), &[&march, &april]).ok().json();
    assert_eq!(again["data_version"], serde_json::Value::Null, "{again}");
    assert_eq!(again["files"][0]["outcome"], "imported before");
    assert_eq!(
        query_i64(dir.path(), "SELECT max(data_version) FROM load_history"),
        first["data_version"].as_i64().unwrap()
    );

    // March sent again with a second visit: its first file's rows go, the new file's come.
    let resent = claims("202403", 150, &[sy("20240305", "1"), visit(&[(5, "1"), (12, "1")])]);
    let march_again = put(dir.path(), "202404-again", &resent);
    let report = import(dir.path(), &[&march_again]).ok().json();
    assert_eq!(report["files"][0]["replaces"], first["files"][0]["source_file"], "{report}");
    assert_eq!(
        rows(dir.path(), "SELECT procedure_date::VARCHAR FROM procedure"),
        ["2024-03-05", "2024-03-12", "2024-04-10"]
    );
    assert_eq!(rows(dir.path(), diagnoses), ["2024-03-05 2024-04-30 cured"], "April's outcome is still the latest");
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM receipt_file WHERE withdrawn IS NOT NULL"), 1);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM patient"), 1);

    // April sent again with the diagnosis continuing: the one row follows it.
    let april_again =
        put(dir.path(), "202405-again", &claims("202404", 75, &[sy("20240305", "1"), visit(&[(10, "1")])]));
    import(dir.path(), &[&april_again]).ok();
    assert_eq!(rows(dir.path(), diagnoses), ["2024-03-05 continuing"]);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM patient"), 1, "the patient's row stays with their rows");

    // Two new files of one payer and month in one import are refused.
    let a = put(dir.path(), "x", &claims("202406", 75, &[visit(&[(3, "1")])]));
    let b = put(dir.path(), "y", &claims("202406", 75, &[visit(&[(4, "1")])]));
    import(dir.path(), &[&a, &b]).fails(2, "a month is one file");
}

/// A stay billed over two months is one stay, from its admission to the last day billed; the
/// claims observe the months with a receipt. A month sent again rebuilds both: a shorter stay, a
/// stay that ended in the month before (no inpatient receipt in the month sent again), a period
/// that grows with a later month and shrinks when that month is sent again without the patient.
#[test]
fn a_month_sent_again_rebuilds_the_stay_and_the_observation_period() {
    let dir = tempdir();
    new_site(dir.path());
    let march = put(dir.path(), "202404", &stay("202403", "20240320", 20, 31));
    let april = put(dir.path(), "202405", &stay("202404", "20240320", 1, 10));
    import(dir.path(), &[&march, &april]).ok();
    let stays = "SELECT concat_ws(' ', encounter_type, start_date, end_date, source) FROM encounter";
    let periods = "SELECT concat_ws(' ', source, start_date, end_date) FROM observation_period";
    assert_eq!(rows(dir.path(), stays), ["inpatient 2024-03-20 2024-04-10 CLAIMS"]);
    assert_eq!(rows(dir.path(), periods), ["CLAIMS 2024-03-01 2024-04-30"]);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM procedure"), 22, "the 入院基本料 of each day");

    let shorter = put(dir.path(), "202405-shorter", &stay("202404", "20240320", 1, 5));
    import(dir.path(), &[&shorter]).ok();
    assert_eq!(rows(dir.path(), stays), ["inpatient 2024-03-20 2024-04-05 CLAIMS"]);

    let discharged_in_march = put(dir.path(), "202405-outpatient", &claims("202404", 75, &[visit(&[(8, "1")])]));
    import(dir.path(), &[&discharged_in_march]).ok();
    assert_eq!(rows(dir.path(), stays), ["inpatient 2024-03-20 2024-03-31 CLAIMS"]);
    assert_eq!(rows(dir.path(), periods), ["CLAIMS 2024-03-01 2024-04-30"]);

    let june = put(dir.path(), "202407", &claims("202406", 75, &[visit(&[(3, "1")])]));
    import(dir.path(), &[&june]).ok();
    assert_eq!(rows(dir.path(), periods), ["CLAIMS 2024-03-01 2024-06-30"], "one span over May, without a receipt");
    let june_of_another: Vec<String> =
        claims("202406", 75, &[visit(&[(3, "1")])]).into_iter().map(|r| r.replace(CHART, "2000765431")).collect();
    let june_again = put(dir.path(), "202407-again", &june_of_another);
    import(dir.path(), &[&june_again]).ok();
    let key = patient_key(&hmac_key(&dir.path().join("site")), CHART);
    assert_eq!(
        rows(dir.path(), &format!("{periods} WHERE patient_key = '{key}'")),
        ["CLAIMS 2024-03-01 2024-04-30"],
        "June, sent again without the patient, no longer observes them"
    );
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM observation_period"), 2);
    assert_eq!(rows(dir.path(), stays), ["inpatient 2024-03-20 2024-03-31 CLAIMS"]);
}

/// A kill once everything is staged leaves the site as it was; a kill after the commit leaves the
/// new version, and the next import finds nothing new.
#[test]
fn a_kill_during_the_import_leaves_the_old_version_or_the_new() {
    let dir = tempdir();
    new_site(dir.path());
    let before = query_i64(dir.path(), "SELECT max(data_version) FROM load_history");
    let file = put(dir.path(), "202404", &claims("202403", 75, &[sy("20240305", "1"), visit(&[(5, "1")])]));
    let args = ["site", "import", "receipt", "--site", "site", "--json", &file];
    let killed = midnet_with(dir.path(), &args, &[("MIDNET_CRASH_AT", "receipt-staged")], None);
    assert_ne!(killed.code, 0, "{}", killed.stderr);
    assert_eq!(query_i64(dir.path(), "SELECT max(data_version) FROM load_history"), before);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM receipt_file"), 0);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM receipt_diagnosis"), 0);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM receipt_month"), 0);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM patient"), 0);
    let killed = midnet_with(dir.path(), &args, &[("MIDNET_CRASH_AT", "receipt-committed")], None);
    assert_ne!(killed.code, 0, "{}", killed.stderr);
    assert_eq!(query_i64(dir.path(), "SELECT max(data_version) FROM load_history"), before + 1);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM diagnosis"), 1);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM observation_period"), 1);
    let again = import(dir.path(), &[&file]).ok().json();
    assert_eq!(again["data_version"], serde_json::Value::Null, "{again}");
}

/// The claims files of a synthetic site, in billing-month order.
fn claims_files(synth_site: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(synth_site.join("receipt"))
        .unwrap()
        .map(|e| e.unwrap().path().join("RECEIPTC.UKE"))
        .collect();
    files.sort();
    files
}

/// The CSV files' patient key to the importing site's, through the synthetic truth.
fn translation(synth_site: &Path, imported: &Path) -> HashMap<String, String> {
    let key = hmac_key(imported);
    std::fs::read_to_string(synth_site.join("receipt-patients.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| {
            let (hospital, csv_key) = line.split_once(',').unwrap();
            (csv_key.to_string(), patient_key(&key, hospital))
        })
        .collect()
}

/// `key|columns` rows of `sql` (its first column the patient key), the key translated.
fn keyed_rows(site: &Path, sql: &str, translate: &dyn Fn(&str) -> String) -> Vec<String> {
    let conn = open_site(site);
    let mut stmt = conn.prepare(sql).unwrap();
    let mut rows: Vec<String> = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .unwrap()
        .map(|r| {
            let (key, columns) = r.unwrap();
            format!("{}|{columns}", translate(&key))
        })
        .collect();
    rows.sort();
    rows
}

/// What a claim carries of each table: (table, the loaded site's rows, the imported site's CLAIMS
/// rows), the patient key first. The loaded rows are the CSV files' CLAIMS rows, and the outpatient
/// EHR orders the hospital billed: an oral or topical one as an order, an injection as an
/// administration on its day at 00:00 (with the 使用量 in the drug master's unit). A claim knows the
/// month of a diagnosis's outcome, not its day. The claims' stays (admission to the last day billed)
/// and observation periods (first to last month with a receipt) are the CSV files' CLAIMS ones.
/// Not carried: the patient (a claims patient is compared apart, as the site holds one row per
/// patient whatever the source), a stay's department, route, destination and outcome (DPC's 様式1
/// brings them), lab results (a claim bills the test, a procedure, not its result).
const CARRIED: [(&str, &str, &str); 6] = [
    (
        "observation_period",
        "SELECT patient_key, concat_ws('|', start_date, end_date) FROM observation_period WHERE source = 'CLAIMS'",
        "SELECT patient_key, concat_ws('|', start_date, end_date) FROM observation_period WHERE source = 'CLAIMS'",
    ),
    (
        "encounter",
        "SELECT patient_key, concat_ws('|', encounter_type, start_date, end_date, department, admission_route, \
         discharge_destination, discharge_outcome) FROM encounter WHERE source = 'CLAIMS'",
        "SELECT patient_key, concat_ws('|', encounter_type, start_date, end_date, department, admission_route, \
         discharge_destination, discharge_outcome) FROM encounter WHERE source = 'CLAIMS'",
    ),
    (
        "diagnosis",
        "SELECT patient_key, concat_ws('|', icd10, diagnosis_date, strftime(end_date, '%Y-%m'), disease_outcome, \
         suspected, main_diagnosis, diagnosis_kind) FROM diagnosis WHERE source = 'CLAIMS'",
        "SELECT patient_key, concat_ws('|', icd10, diagnosis_date, strftime(end_date, '%Y-%m'), disease_outcome, \
         suspected, main_diagnosis, diagnosis_kind) FROM diagnosis WHERE source = 'CLAIMS'",
    ),
    (
        "procedure",
        "SELECT patient_key, concat_ws('|', procedure_code, procedure_date) FROM procedure WHERE source = 'CLAIMS'",
        "SELECT patient_key, concat_ws('|', procedure_code, procedure_date) FROM procedure WHERE source = 'CLAIMS'",
    ),
    (
        "drug_order",
        "SELECT patient_key, concat_ws('|', yj_code, order_date, days_supply, daily_dose, route, setting) \
         FROM drug_order WHERE source = 'CLAIMS' OR (setting = 'outpatient' AND route <> 'injection')",
        "SELECT patient_key, concat_ws('|', yj_code, order_date, days_supply, daily_dose, route, setting) \
         FROM drug_order WHERE source = 'CLAIMS'",
    ),
    (
        "drug_administration",
        "SELECT patient_key, concat_ws('|', yj_code, start_time, amount, amount_unit, route, setting) \
         FROM drug_administration WHERE source = 'CLAIMS' \
         UNION ALL SELECT patient_key, concat_ws('|', yj_code, order_date::TIMESTAMP, daily_dose, dose_unit, route, \
         setting) FROM drug_order WHERE setting = 'outpatient' AND route = 'injection'",
        "SELECT patient_key, concat_ws('|', yj_code, start_time, amount, amount_unit, route, setting) \
         FROM drug_administration WHERE source = 'CLAIMS'",
    ),
];

/// The round trip: each synthetic claims site's files imported into a site of its own give the
/// CLAIMS rows its CSV files load, table for table (patient keys translated through the truth file
/// and the importing site's key); the one receipt written with a wrong total is reported.
#[test]
fn the_synthetic_claims_come_in_as_their_csv_files_load() {
    let dir = tempdir();
    let synth = ["synth", "--site-count", "3", "--patients", "80", "--seed", "7", "--dir", "net", "--dirty", "0"];
    midnet(dir.path(), &[&synth[..], &["--format", "csv,receipt", "--load", "--quiet"]].concat()).ok();
    let mut sites = 0;
    // Rows compared per table, over the sites: a table no site has rows of would compare nothing.
    let mut compared: HashMap<&str, usize> = HashMap::new();
    for n in 1..=3 {
        let synth_site = dir.path().join(format!("net/site0{n}"));
        if !synth_site.join("receipt").is_dir() {
            continue;
        }
        sites += 1;
        let name = format!("imported0{n}");
        midnet(dir.path(), &["site", "init", "--site", &name]).ok();
        import_masters(dir.path(), &synth_site, &name);
        let files: Vec<String> = claims_files(&synth_site).iter().map(|f| f.display().to_string()).collect();
        let era_coded = files.iter().filter(|f| f.contains("/2018")).count();
        assert!(era_coded > 0, "some files are of the era-coded years");
        let mut args = vec!["site", "import", "receipt", "--site", &name, "--json"];
        args.extend(files.iter().map(String::as_str));
        let report = midnet(dir.path(), &args).ok().json();
        let mismatches = report["totals_mismatches"].as_array().unwrap();
        assert_eq!(mismatches.len(), 1, "{name}: the one wrong total: {mismatches:?}");
        assert_eq!(mismatches[0]["record"], "HO");

        let imported = dir.path().join(&name);
        let keys = translation(&synth_site, &imported);
        let translated = |k: &str| keys.get(k).cloned().unwrap_or_else(|| format!("untranslated {k}"));
        let same = |k: &str| k.to_string();
        for (table, loaded, claims) in CARRIED {
            let expected = keyed_rows(&synth_site, loaded, &translated);
            *compared.entry(table).or_default() += expected.len();
            assert_eq!(keyed_rows(&imported, claims, &same), expected, "{name}: {table}");
        }
        let patients = "SELECT patient_key, concat_ws('|', sex, birth_date) FROM patient";
        let loaded = keyed_rows(&synth_site, patients, &translated);
        for row in keyed_rows(&imported, patients, &same) {
            assert!(loaded.contains(&row), "{name}: a claims patient as loaded: {row}");
        }
        assert_eq!(
            rows_of(&imported, "SELECT count(*)::VARCHAR FROM quarantine"),
            ["0"],
            "{name}: nothing quarantined"
        );
    }
    assert!(sites > 0, "a synthetic site has claims");
    for (table, ..) in CARRIED {
        assert!(compared.get(table).is_some_and(|&n| n > 0), "{table}: no rows compared ({compared:?})");
    }
}

/// One patient, one key: the SS-MIX2 tree and the claims of a synthetic site imported into one
/// site give every claims row a patient the EHR import made, and no patient of the claims' own.
#[test]
fn one_patient_has_one_key_across_the_ehr_and_the_claims() {
    let dir = tempdir();
    let synth = ["synth", "--site-count", "2", "--patients", "60", "--seed", "11", "--dir", "net", "--dirty", "0"];
    midnet(dir.path(), &[&synth[..], &["--format", "csv,ss-mix2,receipt", "--quiet"]].concat()).ok();
    let synth_site = (1..=2)
        .map(|n| dir.path().join(format!("net/site0{n}")))
        .find(|s| s.join("receipt").is_dir())
        .expect("a synthetic site has claims");
    midnet(dir.path(), &["site", "init", "--site", "site"]).ok();
    import_masters(dir.path(), &synth_site, "site");
    let tree = synth_site.join("ss-mix2").display().to_string();
    midnet(dir.path(), &["site", "import", "ss-mix2", "--site", "site", &tree]).ok();
    let patients = query_i64(dir.path(), "SELECT count(*) FROM patient");
    let files: Vec<String> = claims_files(&synth_site).iter().map(|f| f.display().to_string()).collect();
    let mut args = vec!["site", "import", "receipt", "--site", "site", "--json"];
    args.extend(files.iter().map(String::as_str));
    midnet(dir.path(), &args).ok();
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM patient"), patients, "no patient of the claims' own");
    assert!(query_i64(dir.path(), "SELECT count(*) FROM procedure") > 0);
    let unlinked = "SELECT count(*) FROM (SELECT patient_key FROM diagnosis UNION ALL SELECT patient_key FROM procedure) \
                    WHERE patient_key NOT IN (SELECT patient_key FROM patient)";
    assert_eq!(query_i64(dir.path(), unlinked), 0);
}

/// The order of a hospital's imports changes nothing: claims imported before the EHR's SS-MIX2
/// storage leave the same patients as the other way round. The claims import makes a patient's
/// row when the site has none; the EHR's import then takes it over (it carries the death date
/// claims do not), instead of quarantining its own row as "patient_key already loaded".
#[test]
fn claims_imported_before_the_ehr_give_the_patients_of_the_other_order() {
    let dir = tempdir();
    let synth = ["synth", "--site-count", "2", "--patients", "60", "--seed", "11", "--dir", "net", "--dirty", "0"];
    midnet(dir.path(), &[&synth[..], &["--format", "csv,ss-mix2,receipt", "--quiet"]].concat()).ok();
    let synth_site = (1..=2)
        .map(|n| dir.path().join(format!("net/site0{n}")))
        .find(|s| s.join("receipt").is_dir())
        .expect("a synthetic site has claims");
    let tree = synth_site.join("ss-mix2").display().to_string();
    let files: Vec<String> = claims_files(&synth_site).iter().map(|f| f.display().to_string()).collect();
    let patients = |site: &str, ehr_first: bool| {
        midnet(dir.path(), &["site", "init", "--site", site]).ok();
        import_masters(dir.path(), &synth_site, site);
        let ehr = ["site", "import", "ss-mix2", "--site", site, &tree];
        let mut claims = vec!["site", "import", "receipt", "--site", site, "--json"];
        claims.extend(files.iter().map(String::as_str));
        let order: [&[&str]; 2] = if ehr_first { [&ehr, &claims] } else { [&claims, &ehr] };
        for args in order {
            midnet(dir.path(), args).ok();
        }
        let site = dir.path().join(site);
        let held = "SELECT count(*)::VARCHAR FROM quarantine WHERE reason LIKE '%already loaded%'";
        assert_eq!(rows_of(&site, held), ["0"], "ehr first: {ehr_first}");
        // Each site keys its patients under its own key: what is compared is what the rows say.
        rows_of(&site, "SELECT concat_ws('|', sex, birth_date, death_date, source_file LIKE 'receipt/%') FROM patient")
    };
    let expected = patients("ehr-first", true);
    assert!(expected.len() > 1, "{expected:?}");
    assert_eq!(patients("claims-first", false), expected);
}

/// A DPC hospital's receipt of the DPC form (記録条件仕様 DPC用) of March 2024, a stay admitted on
/// 1 March: its kind 4112, its RE (30 fields) and HO (16), one record of each of the DPC form's
/// kinds (BU, SB, KK, SK, GA, HH, GT, CD), and a visit billed 出来高 on the 5th.
fn dpc_form(bu: String) -> Vec<String> {
    let mut re: Vec<String> =
        rec(30, &["RE", "1", "4112", "202403", NAME, "2", "19800101"]).split(',').map(String::from).collect();
    re[8] = "20240301".to_string();
    re[13] = CHART.to_string();
    vec![
        rec(10, &["IR", "1", "13", "1", "1310001", "", "架空記念病院", "202404", "00", ""]),
        re.join(","),
        rec(16, &["HO", "06139999", "１２３", "４５６７", "10", "30937"]),
        bu,
        rec(8, &["SB", DISEASE, "", "", "J189", "01"]),
        rec(14, &["KK", "", "", "1"]),
        rec(7, &["SK", "", "", "20240302"]),
        rec(7, &["GA", "202403", "2", "", "", "1.2345"]),
        rec(9, &["HH", "202403", "2", "1", "1", "1", "2500", "10", "25000"]),
        rec(13, &["GT", "202403", "2", "1", "1", "25000", "30862", "", "30862", "93"]),
        rec(11, &["CD", "20240305", "12", "1", "1", VISIT, "", "", "", "1"]),
        visit(&[(5, "1")]),
        rec(4, &["GO", "1", "30937", "99"]),
    ]
}

fn bu() -> String {
    rec(6, &["BU", "040080xx99x0xx", "20240301", "20240310", "1"])
}

/// The DPC form's records are read, counted as records not taken (the schema has no table for the
/// DPC code, its coefficient, the bundled payment; SB's diagnoses have no start), nothing
/// quarantined; the receipt's stay and its 出来高 visit come in.
#[test]
fn a_receipt_of_the_dpc_form_is_read_its_dpc_records_not_taken() {
    let dir = tempdir();
    new_site(dir.path());
    let file = put(dir.path(), "202404", &dpc_form(bu()));
    let report = import(dir.path(), &[&file]).ok().json();
    assert_eq!(quarantine(dir.path()), Vec::<String>::new());
    assert_eq!(report["records_not_taken"].as_u64(), Some(8), "{report}");
    assert_eq!(report["totals_mismatches"], serde_json::json!([]), "{report}");
    let stays = "SELECT concat_ws(' ', encounter_type, start_date, end_date, source) FROM encounter";
    assert_eq!(rows(dir.path(), stays), ["inpatient 2024-03-01 2024-03-05 CLAIMS"]);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM procedure"), 1);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM diagnosis"), 0, "SB is not a diagnosis");
}

/// A record of the DPC form of the wrong field count, or in a receipt of the 医科 form, is
/// quarantined at its line, naming the record; the rest of the file comes in.
#[test]
fn a_dpc_record_of_the_wrong_field_count_or_in_a_medical_receipt_is_quarantined_at_its_line() {
    let dir = tempdir();
    new_site(dir.path());
    let file = put(dir.path(), "202404", &dpc_form(rec(5, &["BU", "040080xx99x0xx", "20240301"])));
    let report = import(dir.path(), &[&file]).ok().json();
    assert_eq!(quarantine(dir.path()), ["4 BU: 5 fields, where the 記録条件仕様 has 6"]);
    assert_eq!(report["records_not_taken"].as_u64(), Some(7), "{report}");
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM procedure"), 1);

    let (_dir, found) = bad_record(|r| r.insert(3, bu()));
    assert_eq!(
        found,
        [
            "4 BU: a record of the DPC form (記録条件仕様 DPC用) in a receipt of the 医科 form (its レセプト種別 not 4xxx)"
        ]
    );
}
