//! `midnet synth` and `midnet site init|load|check`, run as a hospital's operator would.

use std::path::Path;

use crate::common::{midnet, tempdir};

fn query_i64(db: &Path, sql: &str) -> i64 {
    let conn = duckdb::Connection::open(db).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Rows loaded and quarantined of one file of a `site load --json` report.
fn counts(file: &serde_json::Value) -> (u64, u64) {
    (file["rows_loaded"].as_u64().unwrap(), file["rows_quarantined"].as_u64().unwrap())
}

fn quarantine_reasons(db: &Path) -> Vec<(String, i64, String)> {
    quarantine_by(db, "table_name")
}

/// The quarantine's rows as (`column`, line, reason), in that order; `column` names the place.
fn quarantine_by(db: &Path, column: &str) -> Vec<(String, i64, String)> {
    let conn = duckdb::Connection::open(db).unwrap();
    let sql = format!("SELECT {column}, line, reason FROM quarantine ORDER BY {column}, line");
    let mut stmt = conn.prepare(&sql).unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(|r| r.unwrap()).collect()
}

const PATIENTS: &str =
    "patient_key,sex,birth_date,death_date\nA1,F,1950-03-04,\nA2,M,1961/12/01,2024-01-02\nA3,2,19700505,\n";

fn site_with_patients(dir: &Path) -> std::path::PathBuf {
    let site = dir.join("site");
    midnet(dir, &["site", "init", "--site", site.to_str().unwrap()]).ok();
    std::fs::write(dir.join("patient.csv"), PATIENTS).unwrap();
    midnet(dir, &["site", "load", "--site", "site", "patient.csv"]).ok();
    site
}

#[test]
fn synth_is_deterministic_and_writes_registry_and_truth() {
    let dir = tempdir();
    let run = |out: &str, seed: &str| {
        midnet(dir.path(), &["synth", "--site-count", "2", "--patients", "300", "--seed", seed, "--dir", out]).ok()
    };
    run("a", "5");
    run("b", "5");
    run("c", "6");
    let files = [
        "truth.json",
        "sites.toml",
        "site01/import/lab_result.csv",
        "site02/import/drug_order.csv",
        "site02/import/patient.csv",
    ];
    for f in files {
        let a = std::fs::read(dir.path().join("a").join(f)).unwrap();
        let b = std::fs::read(dir.path().join("b").join(f)).unwrap();
        assert!(a == b, "{f} differs between two runs with the same seed");
    }
    let a = std::fs::read(dir.path().join("a/site01/import/lab_result.csv")).unwrap();
    let c = std::fs::read(dir.path().join("c/site01/import/lab_result.csv")).unwrap();
    assert!(a != c, "another seed gives other data");

    let registry: toml::Value =
        toml::from_str(&std::fs::read_to_string(dir.path().join("a/sites.toml")).unwrap()).unwrap();
    let sites = registry["site"].as_array().unwrap();
    assert_eq!(sites.len(), 2);
    for s in sites {
        assert!(!s["name"].as_str().unwrap().is_ascii(), "a Japanese institution name");
        assert!(s["aliases"].as_array().unwrap().len() >= 2);
        assert!(dir.path().join("a").join(s["path"].as_str().unwrap()).is_dir());
    }

    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("a/truth.json")).unwrap()).unwrap();
    let effects = truth["effects"].as_array().unwrap();
    let planted: Vec<_> = effects.iter().filter(|e| e["hazard_ratio"].as_f64().unwrap() > 1.0).collect();
    let outcomes: Vec<&str> = planted.iter().map(|e| e["outcome"].as_str().unwrap()).collect();
    for needed in ["alt_gt_3uln", "egfr_lt_60", "platelets_lt_75k"] {
        assert!(outcomes.contains(&needed), "a planted effect on {needed}");
    }
    let null_pairs: std::collections::BTreeSet<(&str, &str)> = effects
        .iter()
        .filter(|e| e["hazard_ratio"].as_f64().unwrap() == 1.0)
        .map(|e| (e["drug_yj"].as_str().unwrap(), e["comparator_yj"].as_str().unwrap()))
        .collect();
    assert!(null_pairs.len() >= 20, "at least 20 no-effect drug pairs, got {}", null_pairs.len());
    let null_tests = effects.iter().filter(|e| e["hazard_ratio"].as_f64().unwrap() == 1.0).count();
    assert!(null_tests >= 200, "at least 200 no-effect drug-outcome pairs, got {null_tests}");
    for e in effects {
        let yj = e["drug_yj"].as_str().unwrap();
        assert_eq!(yj.len(), 7, "drug_yj is the 7-character ingredient prefix");
    }
}

#[test]
fn synthesised_network_loads_and_checks() {
    let dir = tempdir();
    midnet(
        dir.path(),
        &["synth", "--site-count", "1", "--patients", "400", "--seed", "3", "--dir", "net", "--dirty", "0.002"],
    )
    .ok();
    midnet(dir.path(), &["site", "init", "--site", "net/site01"]).ok();
    let load = midnet(dir.path(), &["site", "load", "--site", "net/site01", "--json", "net/site01/import"]).ok();
    let report = load.json();
    assert_eq!(report["data_version"], 1);
    assert_eq!(report["files"].as_array().unwrap().len(), 8, "one file per clinical table");
    let db = dir.path().join("net/site01/site.duckdb");
    assert_eq!(query_i64(&db, "SELECT count(*) FROM patient"), 400);
    assert!(query_i64(&db, "SELECT count(*) FROM quarantine") > 0, "planted faults are quarantined");
    for file in report["files"].as_array().unwrap() {
        let path = dir.path().join(file["file"].as_str().unwrap());
        let records = std::fs::read_to_string(&path).unwrap().lines().count() as u64 - 1;
        let (loaded, quarantined) = counts(file);
        assert_eq!(loaded + quarantined, records, "{}: every record is loaded or quarantined", path.display());
    }
    // Platelets reported in 10^4/uL are stored in 10^3/uL, keeping what was reported.
    let converted = query_i64(
        &db,
        "SELECT count(*) FROM lab_result WHERE reported_unit <> unit AND value IS NOT NULL AND abs(value - reported_value) < 1e-9",
    );
    assert_eq!(converted, 0, "converted values differ from reported ones");
    let check = midnet(dir.path(), &["site", "check", "--site", "net/site01"]).ok();
    for section in
        ["rows per table and source", "codes unknown to the masters", "lab results per analyte", "quarantined rows"]
    {
        assert!(check.stdout.contains(section), "check report has `{section}`:\n{}", check.stdout);
    }
    let json = midnet(dir.path(), &["site", "check", "--site", "net/site01", "--json"]).ok().json();
    assert!(json["analytes"].as_array().unwrap().iter().any(|a| a["analyte"] == "alt"));
}

#[test]
fn init_refuses_an_existing_site_and_commands_refuse_a_missing_one() {
    let dir = tempdir();
    midnet(dir.path(), &["site", "init", "--site", "s"]).ok();
    midnet(dir.path(), &["site", "init", "--site", "s"]).fails(2, "already a site data source");
    midnet(dir.path(), &["site", "check", "--site", "nowhere"]).fails(4, "midnet site init --site nowhere");
}

/// Each kind of bad row goes to the quarantine with its line and a reason naming the problem.
#[test]
fn bad_rows_are_quarantined_with_line_and_reason() {
    let dir = tempdir();
    let site = site_with_patients(dir.path());
    let cases: &[(&str, &str)] = &[
        (
            "drug_order",
            "patient_key,yj_code,order_date,days_supply,route,setting,source\n\
             A1,3969010F1020,2023-02-30,28,oral,outpatient,EHR\n\
             A1,3969010F1020,2023-02-01,0,oral,outpatient,EHR\n\
             A1,39690-10F1020,2023-02-01,28,oral,outpatient,EHR\n\
             A1,3969010F1020,2023-02-01,28,by mouth,outpatient,EHR\n\
             ZZ,3969010F1020,2023-02-01,28,oral,outpatient,EHR\n\
             A1,3969010F1020,2023-02-01,28,oral,outpatient,EHR\n",
        ),
        (
            "lab_result",
            "patient_key,jlac10,result_time,value,unit,ref_low,ref_high,abnormal_flag,source\n\
             A1,3B045000002327101,2023-01-01 09:00,abc,U/L,10,42,N,EHR\n\
             A1,3C015000002327101,2023-01-01 09:00,1.1,mg/L,0.6,1.1,N,EHR\n\
             A1,3B045000002327101,2023-01-01 09:00,30,U/L,42,10,N,EHR\n\
             A1,3B045000002327101,2023-01-01 09:00,30,,10,42,N,EHR\n\
             A1,3B04500000232710,2023-01-01 09:00,30,U/L,10,42,N,EHR\n\
             A1,2A050000001927101,2023-01-01 09:00,23.4,10^4/uL,15.8,34.8,N,EHR\n\
             A1,3B045000002327101,2023-01-01 09:00,<5,U/L,10,42,L,EHR\n\
             A1,3B045000002327101,2023-13-01 09:00,30,U/L,10,42,N,EHR\n",
        ),
        (
            "diagnosis",
            "patient_key,icd10,diagnosis_date,source\nA1,E11.9,2022-01-01,EHR\nA1,X,2022-01-01,EHR\nA1,E119,2022-01-01,LAB\n",
        ),
        (
            "patient",
            "patient_key,sex,birth_date\nA1,F,1950-01-01\nB1,X,1950-01-01\nB2,F,1950-01-01\nB2,M,1950-01-01\nB3,F,1890-02-01\n",
        ),
        (
            "observation_period",
            "patient_key,source,start_date,end_date\nA1,EHR,2020-01-01,2019-01-01\nA1,EHR,2020-01-01,\"2021-01-01\",extra\n",
        ),
    ];
    for (table, text) in cases {
        std::fs::write(dir.path().join(format!("{table}.csv")), text).unwrap();
        // A file whose every row is bad loads nothing and exits 1; its rows are still quarantined.
        let run = midnet(dir.path(), &["site", "load", "--site", "site", &format!("{table}.csv")]);
        assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
    }
    let db = site.join("site.duckdb");
    let q = quarantine_reasons(&db);
    let has = |table: &str, line: i64, needle: &str| {
        assert!(
            q.iter().any(|(t, l, r)| t == table && *l == line && r.contains(needle)),
            "expected {table} line {line} quarantined for `{needle}`; quarantine: {q:#?}"
        )
    };
    // The reason names every form a date may take (YYYY/MM/DD is accepted too).
    has("drug_order", 2, "order_date '…' is not a date (YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD)");
    has("drug_order", 3, "days_supply '…' is not a positive whole number");
    has("drug_order", 4, "is not a valid YJ code");
    has("drug_order", 5, "route '…' is not one of oral, injection, topical, other");
    has("drug_order", 6, "patient_key '…' is not in the patient table");
    has("lab_result", 2, "value '…' of alt is not a number");
    has("lab_result", 3, "unit '…' cannot be converted to mg/dL for creatinine");
    has("lab_result", 4, "reference range inverted");
    has("lab_result", 5, "missing unit for a numeric alt result");
    has("lab_result", 6, "is not a valid JLAC10 code");
    has("lab_result", 9, "is not a date-time");
    has("diagnosis", 3, "icd10 '…' is not a valid ICD-10 code");
    has("diagnosis", 4, "source '…' is not one of EHR, CLAIMS, DPC");
    has("patient", 2, "patient_key already loaded");
    has("patient", 3, "sex '…' is not M or F");
    has("patient", 5, "duplicate patient_key");
    has("observation_period", 2, "end_date before start_date");
    has("observation_period", 3, "malformed CSV line");
    // Good rows went in, converted.
    assert_eq!(query_i64(&db, "SELECT count(*) FROM drug_order"), 1);
    assert_eq!(query_i64(&db, "SELECT count(*) FROM diagnosis WHERE icd10 = 'E119'"), 1);
    assert_eq!(query_i64(&db, "SELECT CAST(value AS BIGINT) FROM lab_result WHERE jlac10 LIKE '2A050%'"), 234);
    assert_eq!(query_i64(&db, "SELECT count(*) FROM lab_result WHERE value_text = '<5' AND value IS NULL"), 1);
    assert_eq!(query_i64(&db, "SELECT count(*) FROM patient WHERE patient_key = 'A3' AND sex = 'F'"), 1);
    // 1890 is old but plausible (implausible dates are before 1880): B3 loads.
    assert_eq!(query_i64(&db, "SELECT count(*) FROM patient WHERE patient_key = 'B3'"), 1);
}

#[test]
fn a_file_with_an_identifying_column_is_refused_whole_and_the_others_load() {
    let dir = tempdir();
    let site = site_with_patients(dir.path());
    std::fs::write(
        dir.path().join("diagnosis.csv"),
        "patient_key,icd10,diagnosis_date,source,氏名\nA1,E119,2022-01-01,EHR,山田太郎\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("procedure.csv"),
        "patient_key,procedure_code,procedure_date,source\nA1,160000310,2022-01-01,CLAIMS\n",
    )
    .unwrap();
    let run = midnet(dir.path(), &["site", "load", "--site", "site", "diagnosis.csv", "procedure.csv"]).ok();
    assert!(run.stdout.contains("column `氏名` could identify a person (a name)"), "{}", run.stdout);
    let db = site.join("site.duckdb");
    assert_eq!(query_i64(&db, "SELECT count(*) FROM diagnosis"), 0);
    assert_eq!(query_i64(&db, "SELECT count(*) FROM procedure"), 1);
}

#[test]
fn files_with_wrong_columns_names_or_encoding_are_refused() {
    let dir = tempdir();
    site_with_patients(dir.path());
    std::fs::write(dir.path().join("procedure.csv"), "patient_key,procedure_date,source\nA1,2022-01-01,CLAIMS\n")
        .unwrap();
    std::fs::write(
        dir.path().join("encounter.csv"),
        "patient_key,encounter_type,start_date,source,colour\nA1,outpatient,2022-01-01,EHR,red\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("visits.csv"), "patient_key\nA1\n").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "hello").unwrap();
    let run = midnet(
        dir.path(),
        &["site", "load", "--site", "site", "procedure.csv", "encounter.csv", "visits.csv", "notes.txt"],
    );
    run.fails(1, "nothing could be loaded");
    // (the report is on stdout even when nothing loads)
    let out = midnet(
        dir.path(),
        &["site", "load", "--site", "site", "procedure.csv", "encounter.csv", "visits.csv", "notes.txt"],
    )
    .stdout;
    assert!(out.contains("missing required column(s) procedure_code"), "{out}");
    assert!(out.contains("column `colour` is not a column of table `encounter`"), "{out}");
    assert!(out.contains("its name does not say which table it is for"), "{out}");
    assert!(out.contains("not a .csv or .parquet file"), "{out}");
    // Shift_JIS bytes are not UTF-8.
    let mut bytes = b"patient_key,icd10,diagnosis_date,source\nA1,E119,2022-01-01,".to_vec();
    bytes.extend_from_slice(&[0x83, 0x65, 0x83, 0x58, 0x83, 0x67, b'\n']);
    std::fs::write(dir.path().join("diagnosis.csv"), bytes).unwrap();
    let out = midnet(dir.path(), &["site", "load", "--site", "site", "diagnosis.csv"]).stdout;
    assert!(out.contains("not UTF-8 text") && out.contains("iconv -f SHIFT_JIS"), "{out}");
    midnet(dir.path(), &["site", "load", "--site", "site", "--table", "visits", "visits.csv"])
        .fails(2, "not a clinical table");
    midnet(dir.path(), &["site", "load", "--site", "site", "missing.csv"]).fails(4, "no such file");
}

#[test]
fn parquet_files_load_like_csv() {
    let dir = tempdir();
    let site = site_with_patients(dir.path());
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let out = dir.path().join("procedure.parquet");
    conn.execute_batch(&format!(
        "COPY (SELECT 'A1' AS patient_key, '160000310' AS procedure_code, DATE '2022-01-01' AS procedure_date, 'CLAIMS' AS source \
         UNION ALL SELECT 'A2', '12', DATE '2022-01-01', 'CLAIMS') TO '{}' (FORMAT parquet)",
        out.display()
    ))
    .unwrap();
    midnet(dir.path(), &["site", "load", "--site", "site", "procedure.parquet"]).ok();
    let db = site.join("site.duckdb");
    assert_eq!(query_i64(&db, "SELECT count(*) FROM procedure"), 1);
    assert_eq!(query_i64(&db, "SELECT line FROM quarantine WHERE table_name = 'procedure'"), 2);
}

/// A load killed part way leaves the site exactly as before, or (if it had finished) fully loaded.
#[test]
fn an_interrupted_load_leaves_the_site_as_it_was() {
    let dir = tempdir();
    midnet(dir.path(), &["synth", "--site-count", "1", "--patients", "3000", "--seed", "9", "--dir", "net"]).ok();
    let mut interrupted = 0;
    for (n, delay_ms) in [20, 60, 120, 200, 300, 450].into_iter().enumerate() {
        let site = format!("s{n}");
        midnet(dir.path(), &["site", "init", "--site", &site]).ok();
        let mut child = std::process::Command::new(crate::common::midnet_bin())
            .args(["site", "load", "--site", &site, "net/site01/import"])
            .current_dir(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let db = dir.path().join(&site).join("site.duckdb");
        let versions = query_i64(&db, "SELECT count(*) FROM load_history");
        let counts = query_i64(
            &db,
            "SELECT (SELECT count(*) FROM patient) + (SELECT count(*) FROM lab_result) + (SELECT count(*) FROM quarantine)",
        );
        if versions == 0 {
            interrupted += 1;
            assert_eq!(counts, 0, "a load killed after {delay_ms} ms left rows behind");
        } else {
            assert_eq!(query_i64(&db, "SELECT count(*) FROM patient"), 3000, "a finished load is complete");
        }
        // The site still works.
        midnet(dir.path(), &["site", "check", "--site", &site]).ok();
    }
    assert!(interrupted > 0, "no kill came before the load finished");
}

/// A file large enough for DuckDB to read in parallel, with bad rows scattered through it (two of
/// them identical, one after a malformed line): every record is loaded or quarantined, and every
/// quarantined row names the line it is on.
#[test]
fn bad_rows_of_a_large_file_are_quarantined_at_their_lines() {
    let dir = tempdir();
    let site = site_with_patients(dir.path());
    let good = "A1,3969010F1020,2023-02-01,28,oral,outpatient,EHR";
    let mut lines = vec!["patient_key,yj_code,order_date,days_supply,route,setting,source".to_string()];
    let mut expected_bad = Vec::new();
    for n in 0..60_000usize {
        let line = match n {
            1_000 => "A1,3969010F1020,2023-02-01,28,oral,outpatient,EHR,extra".to_string(),
            n if n % 7_919 == 0 => format!("A2,3969010F1020,2023-02-01,-{},oral,outpatient,EHR", n % 3),
            17_000 | 45_000 => "ZZ,3969010F1020,2023-02-01,28,oral,outpatient,EHR".to_string(),
            33_333 => "A3,3969010F1020,2023-02-31,28,oral,outpatient,EHR".to_string(),
            _ => good.to_string(),
        };
        if line != good && !line.ends_with("extra") {
            expected_bad.push(lines.len() as i64 + 1);
        }
        lines.push(line);
    }
    std::fs::write(dir.path().join("drug_order.csv"), lines.join("\n") + "\n").unwrap();
    let report = midnet(dir.path(), &["site", "load", "--site", "site", "--json", "drug_order.csv"]).ok().json();
    let file = &report["files"][0];
    let (loaded, quarantined) = counts(file);
    assert_eq!(quarantined as usize, expected_bad.len() + 1, "the bad rows and the malformed line");
    assert_eq!(loaded + quarantined, 60_000, "every record is loaded or quarantined");
    let conn = duckdb::Connection::open(site.join("site.duckdb")).unwrap();
    let mut stmt = conn
        .prepare("SELECT line FROM quarantine WHERE table_name = 'drug_order' AND reason NOT LIKE 'malformed%' ORDER BY line")
        .unwrap();
    let found: Vec<i64> = stmt.query_map([], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect();
    assert_eq!(found, expected_bad);
    assert_eq!(
        query_i64(&site.join("site.duckdb"), "SELECT line FROM quarantine WHERE reason LIKE 'malformed%'"),
        1_002
    );
}

/// Two patient files in one load: a key of the first is already loaded for the second, and a key
/// twice in one file is loaded once (its first row).
#[test]
fn patient_files_check_keys_against_each_other() {
    let dir = tempdir();
    let site = dir.path().join("site");
    midnet(dir.path(), &["site", "init", "--site", "site"]).ok();
    std::fs::create_dir(dir.path().join("more")).unwrap();
    std::fs::write(
        dir.path().join("patient.csv"),
        "patient_key,sex,birth_date\nP1,F,1950-01-01\nP2,M,1960-01-01\nP2,F,1961-01-01\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("more/patient.csv"),
        "patient_key,sex,birth_date\nP3,F,1970-01-01\nP1,M,1950-01-01\n",
    )
    .unwrap();
    midnet(dir.path(), &["site", "load", "--site", "site", "patient.csv", "more/patient.csv"]).ok();
    let db = site.join("site.duckdb");
    assert_eq!(query_i64(&db, "SELECT count(*) FROM patient"), 3);
    assert_eq!(
        query_i64(&db, "SELECT count(*) FROM patient WHERE patient_key = 'P2' AND sex = 'M'"),
        1,
        "the first row of P2"
    );
    let q = quarantine_reasons(&db);
    assert_eq!(q.len(), 2, "{q:#?}");
    assert!(
        q.iter().any(|(_, line, r)| *line == 4 && r.contains("duplicate patient_key (first seen in data row 2)")),
        "{q:#?}"
    );
    assert!(q.iter().any(|(_, line, r)| *line == 3 && r.contains("patient_key already loaded")), "{q:#?}");
}

/// More bad rows than the load keeps in memory (a whole export with dates written day first, but
/// for every tenth row): they are found again by SQL, each at its line, and the good rows load.
#[test]
fn a_file_with_more_bad_rows_than_kept_in_memory_is_quarantined_whole() {
    let dir = tempdir();
    let site = site_with_patients(dir.path());
    let mut text = String::from("patient_key,yj_code,order_date,days_supply,route,setting,source\n");
    for n in 0..150_000usize {
        let date = if n % 10 == 0 { "2023-03-01".to_string() } else { format!("{:02}/03/2023", n % 28 + 1) };
        text.push_str(&format!("A1,3969010F1020,{date},28,oral,outpatient,EHR\n"));
    }
    std::fs::write(dir.path().join("drug_order.csv"), text).unwrap();
    let report = midnet(dir.path(), &["site", "load", "--site", "site", "--json", "drug_order.csv"]).ok().json();
    assert_eq!(counts(&report["files"][0]), (15_000, 135_000));
    let db = site.join("site.duckdb");
    assert_eq!(query_i64(&db, "SELECT count(DISTINCT line) FROM quarantine WHERE table_name = 'drug_order'"), 135_000);
    // Data row n is on line n + 2; rows 1 and 149,999 are bad, row 0 is good.
    for line in [3, 150_001] {
        let sql = format!("SELECT count(*) FROM quarantine WHERE line = {line} AND reason LIKE 'order_date%'");
        assert_eq!(query_i64(&db, &sql), 1, "line {line}");
    }
    assert_eq!(query_i64(&db, "SELECT count(*) FROM quarantine WHERE line = 2"), 0);
}

/// A file whose header reads but whose body does not (a Parquet file damaged in the middle) stops
/// the load, naming the file, and the site keeps what it had.
#[test]
fn a_file_damaged_after_its_header_stops_the_load_and_changes_nothing() {
    let dir = tempdir();
    let site = site_with_patients(dir.path());
    let out = dir.path().join("procedure.parquet");
    let conn = duckdb::Connection::open_in_memory().unwrap();
    conn.execute_batch(&format!(
        "COPY (SELECT 'A1' AS patient_key, '160000310' AS procedure_code, DATE '2022-01-01' + (i % 300)::INT AS procedure_date, \
         'CLAIMS' AS source FROM range(200000) t(i)) TO '{}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 50000)",
        out.display()
    ))
    .unwrap();
    let mut bytes = std::fs::read(&out).unwrap();
    let third = bytes.len() / 3;
    bytes[third..third + 200].fill(0x5A);
    std::fs::write(&out, bytes).unwrap();
    std::fs::write(
        dir.path().join("diagnosis.csv"),
        "patient_key,icd10,diagnosis_date,source\nA1,E119,2022-01-01,EHR\n",
    )
    .unwrap();
    midnet(dir.path(), &["site", "load", "--site", "site", "diagnosis.csv", "procedure.parquet"])
        .fails(2, "procedure.parquet: cannot be read");
    let db = site.join("site.duckdb");
    assert_eq!(query_i64(&db, "SELECT count(*) FROM load_history"), 1, "only the patients' load");
    assert_eq!(query_i64(&db, "SELECT count(*) FROM diagnosis") + query_i64(&db, "SELECT count(*) FROM procedure"), 0);
}

/// A file in another dialect (semicolons, quoted fields): sniffed once, every read of it splits the
/// same records, and a bad row is quarantined at its line.
#[test]
fn a_semicolon_file_with_quotes_loads_and_quarantines_at_the_right_line() {
    let dir = tempdir();
    let site = site_with_patients(dir.path());
    std::fs::write(
        dir.path().join("encounter.csv"),
        "patient_key;encounter_type;start_date;department;source\n\
         A1;outpatient;2022-01-01;\"Internal medicine; diabetes\";EHR\n\
         A1;outpatient;2022-01-02;\"Surgery\";LAB\n\
         A2;inpatient;2022-02-01;\"Cardiology\";EHR\n",
    )
    .unwrap();
    let report = midnet(dir.path(), &["site", "load", "--site", "site", "--json", "encounter.csv"]).ok().json();
    assert_eq!(counts(&report["files"][0]), (2, 1));
    let db = site.join("site.duckdb");
    assert_eq!(query_i64(&db, "SELECT count(*) FROM encounter WHERE department = 'Internal medicine; diabetes'"), 1);
    let q = quarantine_reasons(&db);
    assert!(q.iter().any(|(t, line, r)| t == "encounter" && *line == 3 && r.contains("source '…'")), "{q:#?}");
}

/// A bad row's line is the line it is on, as an editor shows it: blank lines, comment lines, a
/// quoted field that spans two lines, a malformed line and `\r\n` line ends before it all count.
#[test]
fn bad_rows_are_quarantined_at_the_line_an_editor_shows() {
    let dir = tempdir();
    let site = site_with_patients(dir.path());
    let encounters = [
        "patient_key,encounter_type,start_date,department,source",
        "A2,inpatient,2022-02-01,Cardiology,EHR,extra",
        "A1,outpatient,2022-01-01,\"Internal medicine",
        "ward 3\",EHR",
        "",
        "A1,outpatient,2022-01-02,Surgery,LAB",
        "A2,inpatient,2022-13-01,Cardiology,EHR",
        "A1,outpatient,2022-01-02,Surgery,LAB",
    ];
    std::fs::write(dir.path().join("encounter.csv"), encounters.join("\n") + "\n").unwrap();
    std::fs::create_dir(dir.path().join("more")).unwrap();
    let commented = [
        "# exported 2024-04-01",
        "patient_key,encounter_type,start_date,department,source",
        "",
        "A1,outpatient,2022-01-01,Surgery,EHR",
        "# checked",
        "A3,outpatient,2022-01-05,Surgery,EHR",
        "A3,outpatient,2022-01-06,Surgery,XX",
    ];
    std::fs::write(dir.path().join("more/encounter.csv"), commented.join("\r\n") + "\r\n").unwrap();
    let patients = ["patient_key,sex,birth_date", "", "P7,F,1950-01-01", "P7,F,1950-01-01", "A1,F,1950-03-04"];
    std::fs::write(dir.path().join("more/patient.csv"), patients.join("\n") + "\n").unwrap();
    let files = ["more/patient.csv", "encounter.csv", "more/encounter.csv"];
    let report = midnet(dir.path(), &[&["site", "load", "--site", "site", "--json"][..], &files].concat()).ok().json();
    let counted: Vec<(String, (u64, u64))> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["file"].as_str().unwrap().to_string(), counts(f)))
        .collect();
    let expected = [("more/patient.csv", (1, 2)), ("encounter.csv", (1, 4)), ("more/encounter.csv", (2, 1))];
    assert_eq!(counted, expected.map(|(f, c)| (f.to_string(), c)), "{report:#}");
    let db = site.join("site.duckdb");
    assert_eq!(query_i64(&db, "SELECT count(*) FROM encounter WHERE department = 'Internal medicine\nward 3'"), 1);
    let q = quarantine_by(&db, "file");
    let at: Vec<(&str, i64, &str)> = q.iter().map(|(f, line, r)| (f.as_str(), *line, r.as_str())).collect();
    assert!(
        matches!(at[..], [
            ("encounter.csv", 2, r2), ("encounter.csv", 6, r6), ("encounter.csv", 7, r7), ("encounter.csv", 8, r8),
            ("more/encounter.csv", 7, r7b), ("more/patient.csv", 4, r4), ("more/patient.csv", 5, r5),
        ] if r2.contains("malformed CSV line") && r6.contains("source '…'") && r7.contains("start_date '…'")
            && r8 == r6 && r7b.contains("source '…'") && r4.contains("duplicate patient_key")
            && r5.contains("already loaded")),
        "{q:#?}"
    );
}

/// When the second read of a file cannot find a bad row as the first read saw it (here DuckDB ends
/// the row's fields at a comment mark, which the `csv` crate does not), the row is found again by
/// DuckDB itself and quarantined at its record's number + 1 (docs/schema.md): nothing is lost.
#[test]
fn a_bad_row_the_second_read_cannot_find_is_still_quarantined() {
    let dir = tempdir();
    let site = site_with_patients(dir.path());
    std::fs::write(
        dir.path().join("encounter.csv"),
        "# exported 2024-04-01\npatient_key,encounter_type,start_date,department,source\n\
         A1,outpatient,2022-01-01,Surgery,EHR\nA1,outpatient,2022-01-02,Surgery,LAB # to check\n",
    )
    .unwrap();
    let report = midnet(dir.path(), &["site", "load", "--site", "site", "--json", "encounter.csv"]).ok().json();
    assert_eq!(counts(&report["files"][0]), (1, 1));
    let q = quarantine_reasons(&site.join("site.duckdb"));
    assert!(matches!(&q[..], [(t, 3, r)] if t == "encounter" && r.contains("source '…'")), "{q:#?}");
}

/// Rows of every clinical table and of the quarantine, and the data versions, of a site database.
pub fn table_counts(db: &Path) -> Vec<(String, i64)> {
    let tables = [
        "patient",
        "observation_period",
        "encounter",
        "diagnosis",
        "drug_order",
        "lab_result",
        "procedure",
        "quarantine",
        "load_history",
    ];
    tables.iter().map(|t| (t.to_string(), query_i64(db, &format!("SELECT count(*) FROM {t}")))).collect()
}

/// Loading the same files again adds nothing and makes no data version: each is skipped, naming
/// the load that brought it in. The same content under another name is the same file.
#[test]
fn a_second_load_of_the_same_files_changes_nothing_and_names_the_earlier_load() {
    let dir = tempdir();
    midnet(
        dir.path(),
        &["synth", "--site-count", "1", "--patients", "400", "--seed", "3", "--dir", "net", "--dirty", "0.002"],
    )
    .ok();
    midnet(dir.path(), &["site", "init", "--site", "net/site01"]).ok();
    midnet(dir.path(), &["site", "load", "--site", "net/site01", "net/site01/import"]).ok();
    let db = dir.path().join("net/site01/site.duckdb");
    let loaded = table_counts(&db);

    let again =
        midnet(dir.path(), &["site", "load", "--site", "net/site01", "--json", "net/site01/import"]).ok().json();
    assert!(again["data_version"].is_null(), "{again}");
    assert!(again["files"].as_array().unwrap().is_empty(), "{again}");
    let skipped = again["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 8, "{again}");
    for s in skipped {
        assert_eq!(s["earlier"]["data_version"], 1, "{s}");
        assert_eq!(s["earlier"]["file"], s["file"], "{s}");
    }
    assert_eq!(table_counts(&db), loaded, "nothing was added");

    std::fs::copy(dir.path().join("net/site01/import/diagnosis.csv"), dir.path().join("diagnosis.copy.csv")).unwrap();
    let text = midnet(dir.path(), &["site", "load", "--site", "net/site01", "diagnosis.copy.csv"]).ok().stdout;
    assert!(
        text.contains("skipped diagnosis.copy.csv: already loaded")
            && text.contains("as net/site01/import/diagnosis.csv")
            && text.contains("data version 1"),
        "{text}"
    );
    assert!(text.contains("no new data version"), "{text}");
    assert_eq!(table_counts(&db), loaded, "nothing was added");
}

/// A load in which no row goes in (every row bad) makes no data version: extraction manifests
/// cite the same data as before. Its bad rows are still quarantined, with their file.
#[test]
fn a_load_that_brings_in_nothing_new_makes_no_data_version() {
    let dir = tempdir();
    let site = site_with_patients(dir.path());
    std::fs::write(
        dir.path().join("observation_period.csv"),
        "patient_key,source,start_date,end_date\nA1,EHR,2020-01-01,2019-01-01\nZZ,EHR,2020-01-01,2021-01-01\n",
    )
    .unwrap();
    let run = midnet(dir.path(), &["site", "load", "--site", "site", "observation_period.csv"])
        .fails(1, "nothing could be loaded");
    assert!(run.stdout.contains("no new data version"), "{}", run.stdout);
    let db = site.join("site.duckdb");
    assert_eq!(query_i64(&db, "SELECT count(*) FROM load_history"), 1, "only the patients' load");
    assert_eq!(
        query_i64(
            &db,
            "SELECT count(*) FROM quarantine q JOIN load_file f USING (load_file_id) \
             WHERE f.file = 'observation_period.csv' AND q.data_version IS NULL AND f.data_version IS NULL"
        ),
        2
    );
    // The same file again is the same file: skipped, and it says what came of it.
    let again = midnet(dir.path(), &["site", "load", "--site", "site", "observation_period.csv"]).ok();
    assert!(again.stdout.contains("no row loaded, 2 quarantined"), "{}", again.stdout);
    assert_eq!(query_i64(&db, "SELECT count(*) FROM quarantine"), 2);
}

/// Every row, loaded or quarantined, names the file it came from (`load_file_id`).
#[test]
fn every_row_records_the_file_it_came_from() {
    let dir = tempdir();
    let site = site_with_patients(dir.path());
    std::fs::write(
        dir.path().join("diagnosis.csv"),
        "patient_key,icd10,diagnosis_date,source\nA1,E119,2022-01-01,EHR\nA2,K716,2022-02-01,EHR\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("diagnosis.2024.csv"),
        "patient_key,icd10,diagnosis_date,source\nA3,I10,2024-01-01,CLAIMS\nA3,X,2024-01-01,CLAIMS\n",
    )
    .unwrap();
    midnet(dir.path(), &["site", "load", "--site", "site", "diagnosis.csv", "diagnosis.2024.csv"]).ok();
    let db = site.join("site.duckdb");
    let from = |table: &str, file: &str| {
        query_i64(
            &db,
            &format!("SELECT count(*) FROM {table} t JOIN load_file f USING (load_file_id) WHERE f.file = '{file}'"),
        )
    };
    assert_eq!(from("patient", "patient.csv"), 3);
    assert_eq!(from("diagnosis", "diagnosis.csv"), 2);
    assert_eq!(from("diagnosis", "diagnosis.2024.csv"), 1);
    assert_eq!(from("quarantine", "diagnosis.2024.csv"), 1);
    for table in ["patient", "diagnosis", "quarantine"] {
        assert_eq!(query_i64(&db, &format!("SELECT count(*) FROM {table} WHERE load_file_id IS NULL")), 0, "{table}");
    }
    let sha = query_i64(&db, "SELECT count(DISTINCT sha256) FROM load_file WHERE length(sha256) = 64");
    assert_eq!(sha, 3);
}

/// An empty file, and a line too long for the CSV reader, are refused with a message naming the
/// file and the line. A too-long line past the reader's sample is a malformed line, quarantined
/// at its line.
#[test]
fn an_empty_file_and_a_very_long_line_are_refused_naming_file_and_line() {
    let dir = tempdir();
    let site = dir.path().join("site");
    midnet(dir.path(), &["site", "init", "--site", "site"]).ok();
    for empty in ["", "\n\n"] {
        std::fs::write(dir.path().join("patient.csv"), empty).unwrap();
        let run =
            midnet(dir.path(), &["site", "load", "--site", "site", "patient.csv"]).fails(1, "nothing could be loaded");
        assert!(run.stdout.contains("refused patient.csv: the file is empty: it has no header line"), "{}", run.stdout);
    }

    let mut text = String::from("patient_key,sex,birth_date,death_date\n");
    for i in 0..5 {
        text.push_str(&format!("P{i},F,1950-01-01,\n"));
    }
    text.push_str(&format!("P9,F,1950-01-01,{}\n", "x".repeat(3_000_000)));
    text.push_str("P10,M,1960-01-01,\n");
    std::fs::write(dir.path().join("patient.csv"), &text).unwrap();
    let run =
        midnet(dir.path(), &["site", "load", "--site", "site", "patient.csv"]).fails(1, "nothing could be loaded");
    assert!(
        run.stdout.contains("refused patient.csv: line 7 is 3000016 bytes long"),
        "the message names the line: {}",
        run.stdout
    );
    assert!(!run.stdout.contains("Line: 1"), "{}", run.stdout);

    let mut text = String::from("patient_key,sex,birth_date,death_date\n");
    for i in 0..30_000 {
        text.push_str(&format!("P{i},F,1950-01-01,\n"));
    }
    text.push_str(&format!("Q1,F,1950-01-01,{}\n", "x".repeat(3_000_000)));
    text.push_str("Q2,M,1960-01-01,\n");
    std::fs::write(dir.path().join("patient.csv"), &text).unwrap();
    midnet(dir.path(), &["site", "load", "--site", "site", "patient.csv"]).ok();
    let db = site.join("site.duckdb");
    assert_eq!(query_i64(&db, "SELECT count(*) FROM patient"), 30_001);
    assert_eq!(query_i64(&db, "SELECT line FROM quarantine WHERE reason LIKE 'malformed CSV line%'"), 30_002);
}

/// The data-quality report is for the data center: of the birth dates it shows the range by year
/// and month, never the oldest and youngest patients' days of birth.
#[test]
fn the_quality_report_shows_birth_dates_by_month_only() {
    let dir = tempdir();
    site_with_patients(dir.path());
    let json = midnet(dir.path(), &["site", "check", "--site", "site", "--json"]).ok().json();
    let patient = json["tables"].as_array().unwrap().iter().find(|t| t["table"] == "patient").unwrap().clone();
    assert_eq!((patient["first_date"].as_str(), patient["last_date"].as_str()), (Some("1950-03"), Some("1970-05")));
    let text = midnet(dir.path(), &["site", "check", "--site", "site"]).ok().stdout;
    assert!(!text.contains("1950-03-04") && !text.contains("1970-05-05"), "{text}");
}

/// `site quarantine` lists each set-aside row with its file, line and every reason, but never a
/// value of the row: the reasons quote values (a name typed into the sex column, an unknown
/// patient key), and a listing that reaches the data center must show neither.
#[test]
fn the_quarantine_lists_file_line_and_reasons_without_any_value() {
    let dir = tempdir();
    site_with_patients(dir.path());
    std::fs::write(
        dir.path().join("patient.2.csv"),
        "patient_key,sex,birth_date\nB1,O'Brien Taro; sex 'x,1950/13/01\nB2,F,1950-01-01\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("diagnosis.csv"),
        "patient_key,icd10,diagnosis_date,source\nA1,E11.9,2022-01-01,EHR\nMRN-0042,E11.9,2022-01-01,EHR\n",
    )
    .unwrap();
    midnet(dir.path(), &["site", "load", "--site", "site", "--table", "patient", "patient.2.csv"]).ok();
    midnet(dir.path(), &["site", "load", "--site", "site", "diagnosis.csv"]).ok();
    let secrets = ["Brien", "Taro", "MRN-0042", "0042", "1950/13/01"];
    let shows_nothing = |text: &str| {
        for secret in secrets {
            assert!(!text.contains(secret), "the listing shows `{secret}`:\n{text}");
        }
    };

    let text = midnet(dir.path(), &["site", "quarantine", "--site", "site"]).ok().stdout;
    shows_nothing(&text);
    assert!(text.contains("patient.2.csv") && text.contains("diagnosis.csv"), "{text}");
    assert!(text.contains("sex '…' is not M or F"), "{text}");
    assert!(text.contains("patient_key '…' is not in the patient table"), "{text}");

    let json = midnet(dir.path(), &["site", "quarantine", "--site", "site", "--json"]).ok();
    shows_nothing(&json.stdout);
    let rows = json.json()["rows"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 2, "{rows:#?}");
    let patient = rows.iter().find(|r| r["table"] == "patient").unwrap();
    assert_eq!(patient["file"], "patient.2.csv");
    assert_eq!(patient["line"], 2);
    let reasons: Vec<&str> = patient["reasons"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    assert_eq!(reasons.len(), 2, "every reason of the row: {reasons:?}");
    assert!(reasons.iter().any(|r| r.starts_with("birth_date '…' is not a date")), "{reasons:?}");

    // Filters: by file (as given to the load, or its name) and by reason, never by a value.
    let by_file = midnet(dir.path(), &["site", "quarantine", "--site", "site", "--file", "diagnosis.csv", "--json"]);
    let by_file = by_file.ok().json()["rows"].as_array().unwrap().clone();
    assert_eq!(by_file.len(), 1);
    assert_eq!(by_file[0]["line"], 3);
    let by_reason =
        midnet(dir.path(), &["site", "quarantine", "--site", "site", "--reason-contains", "NOT A DATE", "--json"]);
    assert_eq!(by_reason.ok().json()["rows"].as_array().unwrap().len(), 1);
    let probe =
        midnet(dir.path(), &["site", "quarantine", "--site", "site", "--reason-contains", "MRN-0042", "--json"]);
    assert_eq!(probe.ok().json()["rows"].as_array().unwrap().len(), 0, "a reason filter must not match values");
    midnet(dir.path(), &["site", "quarantine", "--site", "site", "--file", "lab.csv"])
        .fails(2, "--file lab.csv: no file of that name was loaded into site");

    // CSV out: the same rows; an existing file is not overwritten.
    midnet(dir.path(), &["site", "quarantine", "--site", "site", "--out", "q.csv"]).ok();
    let csv = std::fs::read_to_string(dir.path().join("q.csv")).unwrap();
    shows_nothing(&csv);
    assert!(csv.starts_with("table,file,line,reasons\n"), "{csv}");
    assert_eq!(csv.lines().count(), 3, "{csv}");
    // Quarantined rows are the site's private data: the listing is written owner-only.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("q.csv")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "q.csv is written {mode:o}");
    midnet(dir.path(), &["site", "quarantine", "--site", "site", "--out", "q.csv"]).fails(2, "q.csv: exists");
    midnet(dir.path(), &["site", "quarantine", "--site", "site", "--out", "q.txt"]).fails(2, "--out q.txt");
}

/// The quarantine itself keeps no value of a bad row: neither the row's fields nor a reason quoting
/// one, so that a name typed into the wrong column, a phone number or the hospital's patient id never
/// stays in the database; file, line, table and every reason (its field named) do.
#[test]
fn the_quarantine_keeps_file_line_and_reasons_but_no_value_of_the_row() {
    let dir = tempdir();
    let site = site_with_patients(dir.path());
    std::fs::write(
        dir.path().join("patient.2.csv"),
        "patient_key,sex,birth_date\nB1,山田太郎,03-1234-5678\nB2,F,1950-01-01\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("diagnosis.csv"),
        "patient_key,icd10,diagnosis_date,source\nA1,E11.9,2022-01-01,EHR\nMRN-0042,E11.9,2022-01-01,EHR\n",
    )
    .unwrap();
    midnet(dir.path(), &["site", "load", "--site", "site", "--table", "patient", "patient.2.csv"]).ok();
    midnet(dir.path(), &["site", "load", "--site", "site", "diagnosis.csv"]).ok();
    let kept: String = duckdb::Connection::open(site.join("site.duckdb"))
        .unwrap()
        .query_row("SELECT string_agg(CAST(q AS VARCHAR), '\n' ORDER BY line) FROM quarantine q", [], |r| r.get(0))
        .unwrap();
    for secret in ["山田", "太郎", "1234-5678", "MRN-0042", "0042"] {
        assert!(!kept.contains(secret), "the quarantine keeps `{secret}`:\n{kept}");
    }
    let rows = quarantine_by(&site.join("site.duckdb"), "file");
    let at: Vec<(&str, i64)> = rows.iter().map(|(f, l, _)| (f.as_str(), *l)).collect();
    assert_eq!(at, [("diagnosis.csv", 3), ("patient.2.csv", 2)], "{kept}");
    assert_eq!(rows[0].2, "patient_key '…' is not in the patient table");
    assert!(
        rows[1].2.starts_with("sex '…' is not M or F") && rows[1].2.contains("; birth_date '…' is not a date"),
        "{kept}"
    );
}

/// `site load` and `site check` count the quarantine's reasons by kind with every value withheld,
/// read as the listing reads them: a pattern that cut quoted values left the middle of a value with
/// apostrophes (`O'Brien's`) in both outputs.
#[test]
fn load_and_check_show_no_part_of_a_value_with_apostrophes() {
    let dir = tempdir();
    site_with_patients(dir.path());
    let patients = |bad: &str, good: &str| {
        format!("patient_key,sex,birth_date\n{bad},O'Brien's,1950-01-01\n{good},F,1950-01-01\n")
    };
    std::fs::write(dir.path().join("patient.2.csv"), patients("B1", "B2")).unwrap();
    std::fs::write(dir.path().join("patient.3.csv"), patients("B3", "B4")).unwrap();
    let load = |file: &str, extra: &[&str]| {
        let mut args = vec!["site", "load", "--site", "site", "--table", "patient", file];
        args.extend_from_slice(extra);
        midnet(dir.path(), &args).ok().stdout
    };
    let outputs = [
        load("patient.2.csv", &[]),
        load("patient.3.csv", &["--json"]),
        midnet(dir.path(), &["site", "check", "--site", "site"]).ok().stdout,
        midnet(dir.path(), &["site", "check", "--site", "site", "--json"]).ok().stdout,
    ];
    for text in &outputs {
        for part in ["Brien", "O'", "'s'"] {
            assert!(!text.contains(part), "`{part}` of the value is shown:\n{text}");
        }
        assert!(text.contains("sex '…' is not M or F"), "the kind of problem is shown:\n{text}");
    }
}

/// The schema's new fields load (source codes mapped to the schema's words, defaults filled in),
/// and each kind of nonsense in them is quarantined with its reason; every row records its file.
#[test]
fn new_fields_load_and_each_kind_of_bad_value_is_quarantined() {
    let dir = tempdir();
    let site = site_with_patients(dir.path());
    let files: &[(&str, &str)] = &[
        (
            "diagnosis",
            "patient_key,icd10,diagnosis_date,end_date,disease_outcome,suspected,diagnosis_kind,source\n\
             A1,K297,2024-04-15,2024-05-01,F,1,O,EHR\n\
             A1,K297,2024-04-15,2024-04-01,cured,0,outpatient,EHR\n\
             A1,K297,2024-04-15,,healed,0,outpatient,EHR\n\
             A1,E119,2024-04-15,,1,0,billing,CLAIMS\n\
             A1,E119,2024-04-15,,,0,resource,DPC\n",
        ),
        (
            "drug_order",
            "patient_key,yj_code,order_date,days_supply,route,setting,source\n\
             A1,6132419A1020,2024-04-16,,injection,inpatient,EHR\n\
             A1,3969010F1020,2024-04-16,,oral,outpatient,EHR\n",
        ),
        (
            "drug_administration",
            "patient_key,yj_code,start_time,end_time,amount,amount_unit,rate,rate_unit,route,setting,source\n\
             A1,6132419A1020,2024-04-16 09:00,2024-04-16 10:00,1,g,100,mL/h,injection,inpatient,EHR\n\
             A1,6132419A1020,2024-04-16 09:00,2024-04-16 08:00,1,g,,,injection,inpatient,EHR\n\
             A1,6132419A1020,2024-04-16 09:00,,1,,,,injection,inpatient,EHR\n\
             A1,6132419A1020,2024-04-16 09:00,,1,g,-5,mL/h,injection,inpatient,EHR\n\
             A1,6132419A1020,2024-04-16 09:00,,0,g,100,,injection,inpatient,EHR\n\
             ZZ,6132419A1020,2024-04-16 09:00,,1,g,,,drip,inpatient,EHR\n",
        ),
        (
            "lab_result",
            "patient_key,jlac10,specimen,result_time,value,unit,result_status,source\n\
             A1,3B045000002327101,023,2024-04-15 08:45,30,U/L,F,EHR\n\
             A1,3B045000002327101,,2024-04-15 08:45,31,U/L,corrected,EHR\n\
             A1,3B045000002327101,001,2024-04-15 08:45,32,U/L,F,EHR\n\
             A1,3B045000002327101,023,2024-04-15 08:45,33,U/L,Q,EHR\n",
        ),
        (
            "encounter",
            "patient_key,encounter_type,start_date,end_date,admission_route,discharge_destination,discharge_outcome,source\n\
             A1,inpatient,2024-04-15,2024-04-25,home,home,R,DPC\n\
             A2,inpatient,2023-12-20,2024-01-02,other_hospital,died,D,DPC\n\
             A1,outpatient,2024-05-01,2024-05-01,home,,,EHR\n\
             A1,inpatient,2024-06-01,2024-06-10,home,died,improving,DPC\n\
             A1,inpatient,2024-06-01,2024-06-10,ambulance,home,cured,DPC\n",
        ),
    ];
    for (table, text) in files {
        std::fs::write(dir.path().join(format!("{table}.csv")), text).unwrap();
        midnet(dir.path(), &["site", "load", "--site", "site", &format!("{table}.csv")]).ok();
    }
    let db = site.join("site.duckdb");
    let q = quarantine_reasons(&db);
    let has = |table: &str, line: i64, needle: &str| {
        assert!(
            q.iter().any(|(t, l, r)| t == table && *l == line && r.contains(needle)),
            "expected {table} line {line} quarantined for `{needle}`; quarantine: {q:#?}"
        )
    };
    has("diagnosis", 3, "end_date before diagnosis_date");
    has("diagnosis", 4, "disease_outcome '…' is not one of continuing, cured, improving");
    has("diagnosis", 6, "diagnosis_kind '…' is not one of admission, discharge");
    has("drug_order", 3, "missing days_supply (only an injection order may have none)");
    has("drug_administration", 3, "end_time before start_time");
    has("drug_administration", 4, "amount without amount_unit");
    has("drug_administration", 5, "rate '…' is not a positive number");
    has("drug_administration", 6, "amount '…' is not a positive number");
    has("drug_administration", 6, "rate without rate_unit");
    has("drug_administration", 7, "route '…' is not one of oral, injection, topical, other");
    has("drug_administration", 7, "patient_key '…' is not in the patient table");
    has("lab_result", 4, "specimen is not the material code of jlac10");
    has("lab_result", 5, "result_status '…' is not one of final, preliminary, corrected, cancelled");
    has("encounter", 4, "for inpatient stays only");
    has("encounter", 5, "disagree on whether the patient died");
    has("encounter", 6, "admission_route '…' is not one of home, other_hospital");
    assert_eq!(q.len(), 14, "no other row set aside: {q:#?}");
    // Source codes become the schema's words; what a file leaves out is filled in.
    let one = |sql: &str| query_i64(&db, sql);
    assert_eq!(
        one(
            "SELECT count(*) FROM diagnosis WHERE disease_outcome = 'cured' AND suspected AND diagnosis_kind = 'outpatient'"
        ),
        1
    );
    assert_eq!(
        one("SELECT count(*) FROM diagnosis WHERE disease_outcome = 'continuing' AND diagnosis_kind = 'billing'"),
        1
    );
    assert_eq!(one("SELECT count(*) FROM drug_order WHERE days_supply IS NULL AND route = 'injection'"), 1);
    assert_eq!(one("SELECT count(*) FROM drug_administration WHERE rate = 100 AND rate_unit = 'mL/h'"), 1);
    assert_eq!(
        one("SELECT count(*) FROM lab_result WHERE specimen = '023' AND result_status IN ('final', 'corrected')"),
        2
    );
    assert_eq!(
        one("SELECT count(*) FROM encounter WHERE discharge_outcome = 'died' AND discharge_destination = 'died'"),
        1
    );
    assert_eq!(one("SELECT count(*) FROM encounter WHERE discharge_outcome = 'improving'"), 1);
    for table in ["patient", "diagnosis", "drug_order", "drug_administration", "lab_result", "encounter"] {
        let sql = format!("SELECT count(*) FROM {table} WHERE source_file IS DISTINCT FROM '{table}.csv'");
        assert_eq!(one(&sql), 0, "{table}");
    }
}
