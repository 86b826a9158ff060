//! `midnet site import dpc`: DPC survey files (様式1 and the EF統合ファイル, Shift_JIS, TAB) imported
//! by the real binary into a real site with the synthetic masters. The synthetic network's DPC
//! files come in as its CSV files' DPC rows load; one patient has one key across SS-MIX2, claims
//! and DPC, in either order; each bad-input class is quarantined at its file, line and column (or,
//! for a file that cannot be decoded, refuses the import); imports are incremental, idempotent
//! and atomic; a script selecting by source finds the same cohort in imported and loaded data.

use std::collections::HashMap;
use std::path::Path;

use hmac::{Hmac, KeyInit, Mac};

use crate::common::{Run, midnet, midnet_with, tempdir};

const FACILITY: &str = "131234567";
pub(crate) const DATA_ID: &str = "0000012345";
/// The synthetic masters' first disease (傷病名コード) and drug (レセプト電算).
const DISEASE: &str = "8800001";
const DRUG: &str = "620000001";

/// A 様式1 line of the stay admitted 2024-04-15: its record code, then its payloads.
fn ff1(code: &str, payloads: &[&str]) -> String {
    let mut fields: Vec<String> =
        [FACILITY, DATA_ID, "20240415", "0", "0", code, "20140401", "0"].iter().map(|s| s.to_string()).collect();
    fields.extend(payloads.iter().map(|s| s.to_string()));
    fields.resize(17, String::new());
    fields.join("\t")
}

/// The stay's good 様式1: a woman born 1980-01-01, admitted from home on 2024-04-15, discharged
/// home improving on 2024-04-25, internal medicine, diabetes the main diagnosis.
pub(crate) fn stay() -> Vec<String> {
    vec![
        ff1("A000010", &["19800101", "2", "9876543"]),
        ff1("A000020", &["20240415", "1"]),
        ff1("A000030", &["20240425", "1", "1", "0"]),
        ff1("A000040", &["", "010", "0"]),
        ff1("A006010", &["", "E119", "", DISEASE, "", "", "", "", "２型糖尿病"]),
        ff1("A006040", &["", "I10", "", "", "8002"]),
    ]
}

/// An EF line of the stay: a drug of `category` given on `day`, EF-17 `ef17`.
fn ef(category: &str, code: &str, day: &str, ef17: &str) -> String {
    [
        FACILITY, DATA_ID, "20240425", "20240415", category, "0001", "001", "L1", code, "", "薬", "2.000", "000", "10",
        "0", "10", ef17, "10", "0", "0", "1", "06139999", "1111", day, "01", "010", "D1", "W5", "0", "1", "",
    ]
    .join("\t")
}

fn encode(lines: &[String]) -> Vec<u8> {
    let text = lines.join("\r\n") + "\r\n";
    let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(&text);
    assert!(!unmappable, "the fixture is Shift_JIS text");
    bytes.into_owned()
}

/// Write a DPC file `name` into `dir`; its name.
pub(crate) fn put(dir: &Path, name: &str, lines: &[String]) -> String {
    std::fs::write(dir.join(name), encode(lines)).unwrap();
    name.to_string()
}

/// A site `site` with the synthetic network's masters.
fn new_site(dir: &Path) {
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

fn import_into(dir: &Path, site: &str, files: &[&str]) -> Run {
    midnet(dir, &[&["site", "import", "dpc", "--site", site, "--json"][..], files].concat())
}

pub(crate) fn import(dir: &Path, files: &[&str]) -> Run {
    import_into(dir, "site", files)
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

/// The quarantine as `line reason` rows.
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
fn a_stay_comes_in_with_its_patient_key_diagnoses_by_role_and_drugs_through_the_master() {
    let dir = tempdir();
    new_site(dir.path());
    let before = query_i64(dir.path(), "SELECT max(data_version) FROM load_history");
    let ff1 = put(dir.path(), "FF1.txt", &stay());
    let ef = put(
        dir.path(),
        "EFn.txt",
        &[ef("33", DRUG, "20240416", "000000000000"), ef("60", DRUG, "20240417", "0".repeat(12).as_str())],
    );
    let report = import(dir.path(), &[&ff1, &ef]).ok().json();
    assert_eq!(report["data_version"].as_i64(), Some(before + 1), "{report}");
    assert_eq!(report["lines_not_taken"].as_i64(), Some(1), "the drug of データ区分 60 is used in a test: {report}");
    let key = patient_key(&hmac_key(&dir.path().join("site")), DATA_ID);
    assert_eq!(
        rows(dir.path(), "SELECT concat_ws(' ', patient_key, sex, birth_date) FROM patient"),
        [format!("{key} F 1980-01-01")]
    );
    assert_eq!(
        rows(
            dir.path(),
            "SELECT concat_ws(' ', patient_key, encounter_type, start_date, end_date, department, admission_route, \
             discharge_destination, discharge_outcome, source) FROM encounter"
        ),
        [format!("{key} inpatient 2024-04-15 2024-04-25 internal_medicine home home improving DPC")]
    );
    assert_eq!(
        rows(
            dir.path(),
            "SELECT concat_ws(' ', icd10, diagnosis_date, suspected, main_diagnosis, diagnosis_kind, source) FROM diagnosis"
        ),
        ["E119 2024-04-15 false true principal DPC", "I10 2024-04-15 true false comorbidity_at_admission DPC"]
    );
    assert_eq!(
        rows(dir.path(), "SELECT concat_ws(' ', start_time, route, setting, source) FROM drug_administration"),
        ["2024-04-16 00:00:00 injection inpatient DPC"]
    );
    assert_eq!(quarantine(dir.path()), Vec::<String>::new());
    let site = std::fs::read(dir.path().join("site/site.duckdb")).unwrap();
    for text in ["２型糖尿病", "9876543", "06139999", DATA_ID] {
        let bytes = text.as_bytes();
        assert!(
            !site.windows(bytes.len()).any(|w| w == bytes),
            "{text} (free text, postcode, 保険者番号, id) is not kept"
        );
    }
}

/// A file that cannot be decoded refuses the import, naming the file and the byte; nothing is
/// imported, the other files given included.
#[test]
fn an_undecodable_byte_refuses_the_import() {
    let dir = tempdir();
    new_site(dir.path());
    let good = put(dir.path(), "FF1.txt", &stay());
    let mut bytes = encode(&[ef("33", DRUG, "20240416", "000000000000")]);
    bytes.insert(2, 0xFF);
    std::fs::write(dir.path().join("EFn.txt"), bytes).unwrap();
    import(dir.path(), &[&good, "EFn.txt"]).fails(2, "EFn.txt: byte 2 is not Shift_JIS");
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM dpc_file"), 0);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM encounter"), 0);
}

/// One bad line beside the good stay: quarantined at its line and column with what is wrong, the
/// stay in.
fn bad_line(line: String) -> Vec<String> {
    let dir = tempdir();
    new_site(dir.path());
    let mut lines = stay();
    lines.push(line);
    let ff1 = put(dir.path(), "FF1.txt", &lines);
    import(dir.path(), &[&ff1]).ok();
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM encounter"), 1, "the stay comes in");
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM diagnosis"), 2, "its diagnoses come in");
    quarantine(dir.path())
}

#[test]
fn a_line_with_the_wrong_number_of_fields_is_quarantined_at_its_line() {
    let short = ff1("A006040", &["", "I10"]).split('\t').take(12).collect::<Vec<_>>().join("\t");
    assert_eq!(bad_line(short), ["7 FF-1: 12 TAB-separated fields, where the line's kind has 17"]);
}

#[test]
fn an_unknown_record_code_is_quarantined_at_its_column() {
    assert_eq!(
        bad_line(ff1("a00002x", &["20240415", "1"])),
        ["7 FF-6: not a 様式1 コード (a capital letter, then letters or digits, 7 in all)"]
    );
}

#[test]
fn an_unknown_payload_code_is_quarantined_at_its_column() {
    assert_eq!(bad_line(ff1("A000020", &["20240415", "7"])), ["7 FF-10: not a 入院経路 of A000020 (0, 1, 4, 5, 8, 9)"]);
}

#[test]
fn an_impossible_date_is_quarantined_at_its_column() {
    assert_eq!(bad_line(ff1("A000010", &["19800230", "2"])), ["7 FF-9: not a date (YYYYMMDD)"]);
}

#[test]
fn codes_missing_from_the_masters_are_quarantined_at_their_lines() {
    assert_eq!(
        bad_line(ff1("A006050", &["", "J069", "", "8899999"])),
        ["7 FF-12: a 傷病名コード the disease master has not"]
    );
    let dir = tempdir();
    new_site(dir.path());
    let ef = put(
        dir.path(),
        "EFn.txt",
        &[ef("33", "629999999", "20240416", "000000000000"), ef("50", "199999999", "20240416", "000000000000")],
    );
    import(dir.path(), &[&ef]).ok();
    assert_eq!(
        quarantine(dir.path()),
        [
            "1 EF-9: a レセプト電算 drug code the drug master has not",
            "2 EF-9: a 診療行為コード the procedure master has not"
        ]
    );
}

#[test]
fn an_ef_line_of_the_wrong_survey_years_layout_is_quarantined() {
    let dir = tempdir();
    new_site(dir.path());
    let ff1 = put(dir.path(), "FF1.txt", &stay());
    let lines = [
        ef("33", DRUG, "20240416", "000000000000"),
        ef("33", DRUG, "20240417", "0"),
        ef("33", DRUG, "20150331", "000000000000"),
    ];
    let ef = put(dir.path(), "EFn.txt", &lines);
    import(dir.path(), &[&ff1, &ef]).ok();
    assert_eq!(
        quarantine(dir.path()),
        [
            "2 EF-17: 1 characters of 行為明細区分情報, where the layout of the line's survey year 2024 has 12",
            "3 EF-17: 12 characters of 行為明細区分情報, where the layout of the line's survey year 2014 has 1",
        ]
    );
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM drug_administration"), 1);
}

/// A stay whose 様式1 lacks its discharge record is quarantined at its first line.
#[test]
fn a_stay_without_its_discharge_record_is_quarantined() {
    let dir = tempdir();
    new_site(dir.path());
    let mut lines = stay();
    lines.remove(2);
    let ff1 = put(dir.path(), "FF1.txt", &lines);
    import(dir.path(), &[&ff1]).fails(2, "no line gives the file's month");
    let mut lines = stay();
    lines.remove(2);
    lines.extend(stay().into_iter().map(|l| l.replace("20240415", "20240501").replace("20240425", "20240510")));
    let ff1 = put(dir.path(), "FF1.txt", &lines);
    import(dir.path(), &[&ff1]).ok();
    assert_eq!(quarantine(dir.path()), ["1 FF-6: the stay's 様式1 has no A000030 (退院情報)"]);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM encounter"), 1);
}

/// A 医科診療行為マスター (s), Shift_JIS, of surgeries by (診療行為コード, 区分番号, 枝番, 項番) under
/// 点数表 letter K, published 2024-06-01: written into `dir` and imported into the site.
fn import_surgery_master(dir: &Path, surgeries: &[(&str, &str, &str, &str)]) {
    let lines: Vec<String> = surgeries
        .iter()
        .map(|(code, section, branch, item)| {
            let mut fields = vec![String::new(); 94];
            fields[1] = "S".into();
            fields[2] = code.to_string();
            fields[4] = "手術".into();
            fields[84] = "K".into();
            fields[86] = "20240601".into();
            fields[91] = section.to_string();
            fields[92] = branch.to_string();
            fields[93] = item.to_string();
            fields.iter().map(|f| format!("\"{f}\"")).collect::<Vec<_>>().join(",")
        })
        .collect();
    put(dir, "s_surgery.csv", &lines);
    midnet(dir, &["site", "masters", "import", "--site", "site", "s_surgery.csv"]).ok();
}

/// A stay's surgeries (A007010) are procedures on their 手術日, each through the procedure master
/// from its 点数表コード to the one 診療行為コード of that item; a surgery the month's EF bills on its
/// day is that EF line's row, not a second one; a 点数表コード that several codes share is
/// quarantined at its line.
#[test]
fn a_stays_surgeries_are_procedures_on_their_day_through_the_procedure_master() {
    let dir = tempdir();
    new_site(dir.path());
    import_surgery_master(
        dir.path(),
        &[
            ("150000110", "082", "00", "001"),
            ("150000210", "426", "02", "003"),
            ("150000310", "082", "00", "002"),
            ("150000410", "082", "0", "2"),
        ],
    );
    let mut lines = stay();
    lines.extend([
        ff1("A007010", &["20240416", "K0821", "", "1", "0", "1", "", "", "人工関節置換術"]),
        ff1("A007010", &["20240418", "K426-23", "", "2", "0", "1"]),
        ff1("A007010", &["20240419", "K0822", "", "3", "0", "1"]),
    ]);
    let ff1 = put(dir.path(), "FF1.txt", &lines);
    let ef = put(dir.path(), "EFn.txt", &[ef("50", "150000110", "20240416", "000000000000")]);
    let report = import(dir.path(), &[&ff1, &ef]).ok().json();
    assert_eq!(report["lines_not_taken"].as_i64(), Some(1), "the surgery the EF billed: {report}");
    assert_eq!(
        rows(dir.path(), "SELECT concat_ws(' ', procedure_code, procedure_date, source) FROM procedure"),
        ["150000110 2024-04-16 DPC", "150000210 2024-04-18 DPC"]
    );
    assert_eq!(
        quarantine(dir.path()),
        [
            "9 FF-10: a 点数表コード that 2 診療行為コード of the procedure master share: which one was done is not known"
        ]
    );
    let site = std::fs::read(dir.path().join("site/site.duckdb")).unwrap();
    let name = "人工関節置換術".as_bytes();
    assert!(!site.windows(name.len()).any(|w| w == name), "the 手術名 (free text) is not kept");
}

#[test]
fn a_surgery_of_a_bad_day_or_table_code_is_quarantined_at_its_column() {
    assert_eq!(bad_line(ff1("A007010", &["20240231", "K0821"])), ["7 FF-9: not a date (YYYYMMDD)"]);
    assert_eq!(
        bad_line(ff1("A007010", &["20240501", "K0821"])),
        ["7 FF-9: the 手術日 is not within the stay (入院年月日 to 退院年月日)"]
    );
    assert_eq!(
        bad_line(ff1("A007010", &["20240416", "0821"])),
        ["7 FF-10: not a 点数表コード of A007010 (a capital letter, a 3-digit 区分番号, then 枝番, 項番, 細目: K0821)"]
    );
    assert_eq!(
        bad_line(ff1("A007010", &["20240416", "K0821"])),
        [
            "7 FF-10: a 点数表コード no 診療行為コード of the procedure master has (its コード表用番号, 区分番号, 枝番 and 項番)"
        ]
    );
}

/// An outpatient EF line (EFg): an item of `category` on `day`, its columns 3-4 `born_visit` (from
/// 2018 生年月日 and 外来受診年月日; up to 2017 退院・入院年月日, `00000000`), `times` its 行為回数.
fn efg(category: &str, code: &str, day: &str, born_visit: [&str; 2], times: &str) -> String {
    let mut fields: Vec<String> = ef(category, code, day, "000000000000").split('\t').map(String::from).collect();
    (fields[2], fields[3], fields[20]) = (born_visit[0].into(), born_visit[1].into(), times.into());
    fields.join("\t")
}

/// The synthetic masters' 再診料.
const VISIT_FEE: &str = "112007410";

/// An outpatient EF (EFg, told from the inpatient one by its first line's columns 3-4) gives an
/// outpatient encounter per visit day, an order for an oral drug (days supplied the 行為回数, daily
/// dose the 使用量), an administration for an injection and the procedures, all of setting
/// outpatient; its 傷病 rows are not taken. Lines of the layout up to 2017 (columns 3-4 `00000000`)
/// are visits of their 実施年月日. The EFg and the EFn of one month are two files, neither replacing
/// the other.
#[test]
fn an_outpatient_ef_gives_visits_orders_administrations_and_procedures() {
    let dir = tempdir();
    new_site(dir.path());
    let ff1 = put(dir.path(), "FF1.txt", &stay());
    let efn = put(dir.path(), "EFn.txt", &[ef("33", DRUG, "20240416", "000000000000")]);
    let visit = ["19800101", "20240410"];
    let lines = [
        efg("12", VISIT_FEE, "20240410", visit, "1"),
        efg("21", DRUG, "20240410", visit, "14"),
        efg("31", DRUG, "20240410", visit, "1"),
        efg("SY", "", "20240410", visit, "1"),
        efg("12", VISIT_FEE, "20240428", ["19800101", "20240428"], "1"),
        efg("12", VISIT_FEE, "20170110", ["00000000", "00000000"], "1"),
    ];
    let efg = put(dir.path(), "EFg.txt", &lines);
    let report = import(dir.path(), &[&ff1, &efn, &efg]).ok().json();
    assert_eq!(report["lines_not_taken"].as_i64(), Some(1), "the 傷病 row: {report}");
    let kinds: Vec<&str> = report["files"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["様式1", "EF", "EFg"]);
    assert_eq!(
        rows(dir.path(), "SELECT concat_ws(' ', encounter_type, start_date, end_date) FROM encounter"),
        [
            "inpatient 2024-04-15 2024-04-25",
            "outpatient 2017-01-10 2017-01-10",
            "outpatient 2024-04-10 2024-04-10",
            "outpatient 2024-04-28 2024-04-28"
        ]
    );
    assert_eq!(
        rows(
            dir.path(),
            "SELECT concat_ws(' ', order_date, start_date, days_supply, daily_dose, route, setting, source) FROM drug_order"
        ),
        ["2024-04-10 2024-04-10 14 2.0 oral outpatient DPC"]
    );
    assert_eq!(
        rows(dir.path(), "SELECT concat_ws(' ', start_time, route, setting) FROM drug_administration"),
        ["2024-04-10 00:00:00 injection outpatient", "2024-04-16 00:00:00 injection inpatient"]
    );
    assert_eq!(
        rows(dir.path(), "SELECT concat_ws(' ', procedure_code, procedure_date) FROM procedure"),
        [format!("{VISIT_FEE} 2017-01-10"), format!("{VISIT_FEE} 2024-04-10"), format!("{VISIT_FEE} 2024-04-28")]
    );
    assert_eq!(quarantine(dir.path()), Vec::<String>::new());
    let site = std::fs::read(dir.path().join("site/site.duckdb")).unwrap();
    assert!(!site.windows(8).any(|w| w == b"19800101"), "the EFg 生年月日 is not kept");
}

/// An EFg line whose columns 3-4 are of another survey year's layout is quarantined at its line.
#[test]
fn an_outpatient_ef_line_of_the_wrong_survey_years_layout_is_quarantined() {
    let dir = tempdir();
    new_site(dir.path());
    let ff1 = put(dir.path(), "FF1.txt", &stay());
    let lines = [
        efg("12", VISIT_FEE, "20240410", ["19800101", "20240410"], "1"),
        efg("12", VISIT_FEE, "20240411", ["00000000", "00000000"], "1"),
        efg("12", VISIT_FEE, "20170110", ["19800101", "20170110"], "1"),
    ];
    let efg = put(dir.path(), "EFg.txt", &lines);
    import(dir.path(), &[&ff1, &efg]).ok();
    let layouts = "(up to 2017 退院・入院年月日 00000000, from 2018 生年月日 and 外来受診年月日)";
    assert_eq!(
        quarantine(dir.path()),
        [
            format!("2 EF-4: columns 3-4 are not those of an outpatient line of the line's survey year 2024 {layouts}"),
            format!("3 EF-4: columns 3-4 are not those of an outpatient line of the line's survey year 2016 {layouts}"),
        ]
    );
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM procedure"), 1);
}

/// The same files again change nothing; a month sent again replaces its file, whose rows are
/// withdrawn; two new files of one kind and month in one import are refused.
#[test]
fn imports_are_incremental_idempotent_and_a_month_sent_again_replaces_its_file() {
    let dir = tempdir();
    new_site(dir.path());
    std::fs::create_dir(dir.path().join("april")).unwrap();
    put(dir.path(), "april/FF1.txt", &stay());
    put(dir.path(), "april/EFn.txt", &[ef("33", DRUG, "20240416", "000000000000")]);
    let first = import(dir.path(), &["april"]).ok().json();
    assert_eq!(first["files"].as_array().unwrap().len(), 2, "{first}");
    let again = import(dir.path(), &["april"]).ok().json();
    assert_eq!(again["data_version"], serde_json::Value::Null, "{again}");
    assert_eq!(again["files"][0]["outcome"], "imported before");

    let resent = put(
        dir.path(),
        "EFn-again.txt",
        &[ef("33", DRUG, "20240416", "000000000000"), ef("33", DRUG, "20240418", "000000000000")],
    );
    let report = import(dir.path(), &[&resent]).ok().json();
    assert_eq!(report["files"][0]["replaces"], first["files"][0]["source_file"], "{report}");
    assert_eq!(
        rows(dir.path(), "SELECT start_time::DATE::VARCHAR FROM drug_administration"),
        ["2024-04-16", "2024-04-18"]
    );
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM dpc_file WHERE withdrawn IS NOT NULL"), 1);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM patient"), 1);

    let a = put(dir.path(), "a.txt", &[ef("33", DRUG, "20240516", "000000000000")]);
    let b = put(dir.path(), "b.txt", &[ef("33", DRUG, "20240517", "000000000000")]);
    import(dir.path(), &[&a, &b]).fails(2, "a month is one file of each kind");
}

/// A 様式1 sent again corrects the sex and birth date of a patient whose row its first version
/// made, though a later month's stay keeps that row.
#[test]
fn a_month_sent_again_corrects_the_sex_and_birth_date_of_the_patient_it_made() {
    let dir = tempdir();
    new_site(dir.path());
    let april = put(dir.path(), "FF1-april.txt", &stay());
    let may: Vec<String> =
        stay().into_iter().map(|l| l.replace("20240415", "20240501").replace("20240425", "20240510")).collect();
    let may = put(dir.path(), "FF1-may.txt", &may);
    import(dir.path(), &[&april]).ok();
    import(dir.path(), &[&may]).ok();
    let patient = "SELECT sex || ' ' || birth_date FROM patient";
    assert_eq!(rows(dir.path(), patient), ["F 1980-01-01"]);

    let corrected: Vec<String> = stay().into_iter().map(|l| l.replace("19800101\t2\t", "19800202\t1\t")).collect();
    let april_again = put(dir.path(), "FF1-april-again.txt", &corrected);
    import(dir.path(), &[&april_again]).ok();
    assert_eq!(rows(dir.path(), patient), ["M 1980-02-02"], "the corrected file's values win");
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM encounter"), 2);
}

/// A 様式1 sent again without a patient keeps the patient's row while the claims' month-by-month
/// diagnoses hold them (here a diagnosis the load quarantined: its start is after its month).
#[test]
fn a_month_sent_again_keeps_the_patient_of_the_claims_month_by_month_diagnoses() {
    let dir = tempdir();
    new_site(dir.path());
    let april = put(dir.path(), "FF1-april.txt", &stay());
    import(dir.path(), &[&april]).ok();
    let late_start = crate::receipt::rec(8, &["SY", DISEASE, "20240420", "2", "", "", "01"]);
    let claims: Vec<String> = crate::receipt::claims("202403", 0, &[late_start])
        .into_iter()
        .map(|r| r.replace(crate::receipt::CHART, DATA_ID))
        .collect();
    let claims = crate::receipt::put(dir.path(), "202404", &claims);
    crate::receipt::import(dir.path(), &[&claims]).ok();
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM receipt_diagnosis"), 1);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM diagnosis WHERE source = 'CLAIMS'"), 0);

    let someone_else: Vec<String> = stay().into_iter().map(|l| l.replace(DATA_ID, "0000099999")).collect();
    let april_again = put(dir.path(), "FF1-april-again.txt", &someone_else);
    import(dir.path(), &[&april_again]).ok();
    let key = patient_key(&hmac_key(&dir.path().join("site")), DATA_ID);
    let kept = format!("SELECT count(*) FROM patient WHERE patient_key = '{key}'");
    assert_eq!(query_i64(dir.path(), &kept), 1, "the claims' diagnoses keep their patient");
}

/// A kill once everything is staged leaves the site as it was; a kill after the commit leaves the
/// new version, and the next import finds nothing new.
#[test]
fn a_kill_during_the_import_leaves_the_old_version_or_the_new() {
    let dir = tempdir();
    new_site(dir.path());
    let before = query_i64(dir.path(), "SELECT max(data_version) FROM load_history");
    let file = put(dir.path(), "FF1.txt", &stay());
    let args = ["site", "import", "dpc", "--site", "site", "--json", &file];
    let killed = midnet_with(dir.path(), &args, &[("MIDNET_CRASH_AT", "dpc-staged")], None);
    assert_ne!(killed.code, 0, "{}", killed.stderr);
    assert_eq!(query_i64(dir.path(), "SELECT max(data_version) FROM load_history"), before);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM dpc_file"), 0);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM encounter"), 0);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM patient"), 0);
    let killed = midnet_with(dir.path(), &args, &[("MIDNET_CRASH_AT", "dpc-committed")], None);
    assert_ne!(killed.code, 0, "{}", killed.stderr);
    assert_eq!(query_i64(dir.path(), "SELECT max(data_version) FROM load_history"), before + 1);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM encounter"), 1);
    let again = import(dir.path(), &[&file]).ok().json();
    assert_eq!(again["data_version"], serde_json::Value::Null, "{again}");
}

/// The CSV files' patient key to the importing site's, through the synthetic truth.
fn translation(synth_site: &Path, imported: &Path) -> HashMap<String, String> {
    let key = hmac_key(imported);
    std::fs::read_to_string(synth_site.join("dpc-patients.csv"))
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

/// What DPC files carry of each table: EF has a day, not a time, and the synthetic drug master
/// gives no unit, so an administration is compared by its day.
const CARRIED: [(&str, &str); 2] = [
    (
        "encounter",
        "encounter_type, start_date, end_date, department, admission_route, discharge_destination, discharge_outcome",
    ),
    ("drug_administration", "yj_code, start_time::DATE, route, setting"),
];

/// The synthetic DPC sites, their files imported each into a site of its own.
fn imported_dpc_sites(dir: &Path) -> Vec<(std::path::PathBuf, std::path::PathBuf, serde_json::Value)> {
    let synth = ["synth", "--site-count", "3", "--patients", "80", "--seed", "7", "--dir", "net", "--dirty", "0"];
    midnet(dir, &[&synth[..], &["--format", "csv,dpc", "--load", "--quiet"]].concat()).ok();
    let mut sites = Vec::new();
    for n in 1..=3 {
        let synth_site = dir.join(format!("net/site0{n}"));
        if !synth_site.join("dpc").is_dir() {
            continue;
        }
        let name = format!("imported0{n}");
        midnet(dir, &["site", "init", "--site", &name]).ok();
        import_masters(dir, &synth_site, &name);
        let files = synth_site.join("dpc").display().to_string();
        let report = import_into(dir, &name, &[&files]).ok().json();
        sites.push((synth_site, dir.join(&name), report));
    }
    assert!(!sites.is_empty(), "a synthetic site has DPC");
    sites
}

/// The round trip: each synthetic DPC site's files give the DPC rows its CSV files load (patient
/// keys translated through the truth file and the importing site's key), each stay its main
/// diagnosis among the patient's EHR diagnoses, and the planted bad lines are what is quarantined,
/// each at its file, line and column.
#[test]
fn the_synthetic_dpc_files_come_in_as_their_csv_files_load() {
    let dir = tempdir();
    for (synth_site, imported, report) in imported_dpc_sites(dir.path()) {
        let name = imported.display().to_string();
        let keys = translation(&synth_site, &imported);
        let translated = |k: &str| keys.get(k).cloned().unwrap_or_else(|| format!("untranslated {k}"));
        let same = |k: &str| k.to_string();
        for (table, columns) in CARRIED {
            let sql = format!("SELECT patient_key, concat_ws('|', {columns}) FROM {table} WHERE source = 'DPC'");
            let expected = keyed_rows(&synth_site, &sql, &translated);
            assert!(!expected.is_empty(), "{name}: {table} has rows");
            assert_eq!(keyed_rows(&imported, &sql, &same), expected, "{name}: {table}");
        }
        // A stay has a main diagnosis when its patient has an EHR diagnosis begun by its discharge.
        let diagnosed = "SELECT patient_key, start_date::VARCHAR FROM encounter e WHERE source = 'DPC' AND EXISTS ( \
                         SELECT 1 FROM diagnosis d WHERE d.patient_key = e.patient_key AND d.source = 'EHR' \
                         AND d.diagnosis_date <= e.end_date)";
        let principal = "SELECT patient_key, diagnosis_date::VARCHAR FROM diagnosis WHERE diagnosis_kind = 'principal'";
        let expected = keyed_rows(&synth_site, diagnosed, &translated);
        assert!(!expected.is_empty(), "{name}: stays with a main diagnosis");
        assert_eq!(keyed_rows(&imported, principal, &same), expected, "{name}: a main diagnosis per stay");
        let ehr = keyed_rows(&synth_site, "SELECT patient_key, icd10 FROM diagnosis WHERE source = 'EHR'", &translated);
        for row in keyed_rows(&imported, "SELECT patient_key, icd10 FROM diagnosis", &same) {
            assert!(ehr.contains(&row), "{name}: a DPC diagnosis is one of the patient's: {row}");
        }
        let patients = "SELECT patient_key, concat_ws('|', sex, birth_date) FROM patient";
        let loaded = keyed_rows(&synth_site, patients, &translated);
        for row in keyed_rows(&imported, patients, &same) {
            assert!(loaded.contains(&row), "{name}: a DPC patient as loaded: {row}");
        }
        let source_of: HashMap<String, String> = report["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let file = Path::new(f["file"].as_str().unwrap()).file_name().unwrap().to_string_lossy().into_owned();
                (file, f["source_file"].as_str().unwrap().to_string())
            })
            .collect();
        let planted: Vec<String> = std::fs::read_to_string(synth_site.join("dpc-planted.csv"))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                format!("{} {} {}", source_of[f[0]], f[1], f[2])
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let quarantined =
            rows_of(&imported, "SELECT concat_ws(' ', file, line, split_part(reason, ':', 1)) FROM quarantine");
        assert_eq!(quarantined, planted, "{name}: the planted bad lines, and nothing else");
    }
}

/// A script that selects by source finds the same cohort, and the same stays of it, in the imported
/// DPC data as in the loaded CSV files' DPC rows.
#[test]
fn a_script_selecting_dpc_stays_finds_the_same_cohort_imported_as_loaded() {
    let dir = tempdir();
    let script = "study \"DPC stays\"\n  period: 2016-01-01 to 2025-12-31\nend\n\
                  cohort\n  entry first encounter where encounter_type = \"inpatient\" and source = \"DPC\"\nend\n\
                  table stays = encounter where source = \"DPC\"\n  start_date\n  end_date\n  discharge_outcome\nend\n";
    std::fs::write(dir.path().join("stays.midnet"), script).unwrap();
    let sql = midnet(dir.path(), &["script", "sql", "stays.midnet", "--output", "stays"]).ok().stdout;
    let query = |site: &Path, keys: &HashMap<String, String>| {
        let conn = open_site(site);
        let sql = format!("SELECT CAST(q AS VARCHAR) FROM (\n{}\n) q", sql.trim().trim_end_matches(';'));
        let mut stmt = conn.prepare(&sql).unwrap();
        let mut rows: Vec<String> = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(|r| keys.iter().fold(r.unwrap(), |row, (from, to)| row.replace(from, to)))
            .collect();
        rows.sort();
        rows
    };
    for (synth_site, imported, _) in imported_dpc_sites(dir.path()) {
        let keys = translation(&synth_site, &imported);
        let loaded = query(&synth_site, &keys);
        assert!(!loaded.is_empty(), "the loaded site has DPC stays");
        assert_eq!(query(&imported, &HashMap::new()), loaded);
    }
}

/// One patient, one key across SS-MIX2, claims and DPC, whichever comes first: the DPC rows of a
/// site whose EHR and claims came in first have patients the EHR import made, a patient has rows of
/// all three sources, and DPC imported before the EHR leaves the patients of the other order.
#[test]
fn one_patient_has_one_key_across_the_ehr_the_claims_and_dpc() {
    let dir = tempdir();
    let synth = ["synth", "--site-count", "3", "--patients", "60", "--seed", "11", "--dir", "net", "--dirty", "0"];
    midnet(dir.path(), &[&synth[..], &["--format", "csv,ss-mix2,receipt,dpc", "--quiet"]].concat()).ok();
    let synth_site = (1..=3)
        .map(|n| dir.path().join(format!("net/site0{n}")))
        .find(|s| s.join("receipt").is_dir() && s.join("dpc").is_dir())
        .expect("a synthetic site has claims and DPC");
    let tree = synth_site.join("ss-mix2").display().to_string();
    let dpc = synth_site.join("dpc").display().to_string();
    let mut claims: Vec<String> = std::fs::read_dir(synth_site.join("receipt"))
        .unwrap()
        .map(|e| e.unwrap().path().join("RECEIPTC.UKE").display().to_string())
        .collect();
    claims.sort();
    let patients = |site: &str, ehr_first: bool| {
        midnet(dir.path(), &["site", "init", "--site", site]).ok();
        import_masters(dir.path(), &synth_site, site);
        let ehr = ["site", "import", "ss-mix2", "--site", site, &tree];
        let mut receipt = vec!["site", "import", "receipt", "--site", site];
        receipt.extend(claims.iter().map(String::as_str));
        let dpc = ["site", "import", "dpc", "--site", site, &dpc];
        let order: [&[&str]; 3] = if ehr_first { [&ehr, &receipt, &dpc] } else { [&dpc, &receipt, &ehr] };
        for args in order {
            midnet(dir.path(), args).ok();
        }
        let site = dir.path().join(site);
        let held = "SELECT count(*)::VARCHAR FROM quarantine WHERE reason LIKE '%already loaded%'";
        assert_eq!(rows_of(&site, held), ["0"], "ehr first: {ehr_first}");
        let unlinked = "SELECT count(*)::VARCHAR FROM (SELECT patient_key FROM encounter UNION ALL \
                        SELECT patient_key FROM diagnosis UNION ALL SELECT patient_key FROM procedure) \
                        WHERE patient_key NOT IN (SELECT patient_key FROM patient)";
        assert_eq!(rows_of(&site, unlinked), ["0"], "ehr first: {ehr_first}");
        let in_all_three = "SELECT count(*)::VARCHAR FROM patient p WHERE \
             EXISTS (SELECT 1 FROM encounter e WHERE e.patient_key = p.patient_key AND e.source = 'EHR') AND \
             EXISTS (SELECT 1 FROM procedure c WHERE c.patient_key = p.patient_key AND c.source = 'CLAIMS') AND \
             EXISTS (SELECT 1 FROM encounter d WHERE d.patient_key = p.patient_key AND d.source = 'DPC')";
        assert_ne!(rows_of(&site, in_all_three), ["0"], "a patient of all three sources has one key");
        let check = midnet(dir.path(), &["site", "check", "--site", site.to_str().unwrap(), "--json"]).ok().json();
        let linked: HashMap<String, (i64, i64)> = check["linked_patients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["source"].as_str().unwrap().to_string(),
                    (l["patients"].as_i64().unwrap(), l["linked"].as_i64().unwrap()),
                )
            })
            .collect();
        let (dpc_patients, dpc_linked) = linked["DPC"];
        assert!(dpc_patients > 0 && dpc_linked == dpc_patients, "every DPC patient has EHR rows too: {linked:?}");
        assert!(linked["CLAIMS"].1 > 0 && linked["EHR"].1 > 0, "{linked:?}");
        rows_of(&site, "SELECT concat_ws('|', sex, birth_date, death_date) FROM patient")
    };
    let expected = patients("ehr-first", true);
    assert_eq!(patients("dpc-first", false), expected);
}
