//! `midnet site mapping unmapped|import`: rows that name their code by a hospital's local code wait,
//! kept, until the site maps the code; a reviewed mapping brings them in, in a new data version,
//! where an extraction's query sees them; a changed mapping moves them; every bad mapping file is
//! refused whole, naming file and line; `site check` shows the coverage, the unmapped codes and
//! what changed.

use std::path::{Path, PathBuf};

use crate::common::{midnet, tempdir};

/// A synthetic site with its masters imported and its hospital files loaded (data version 2), and
/// the key of its first patient.
fn synthetic_site(dir: &Path) -> (PathBuf, String) {
    midnet(
        dir,
        &["synth", "--site-count", "1", "--patients", "40", "--seed", "7", "--dir", "net", "--load", "--quiet"],
    )
    .ok();
    let patients = std::fs::read_to_string(dir.join("net/site01/import/patient.csv")).unwrap();
    let key = patients.lines().nth(1).unwrap().split(',').next().unwrap().to_string();
    (dir.join("net/site01"), key)
}

fn query_i64(site: &Path, sql: &str) -> i64 {
    let config = duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly).unwrap();
    let conn = duckdb::Connection::open_with_flags(site.join("site.duckdb"), config).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// The hospital's new files: drug orders and lab results named by local codes. `99A001` (3 rows)
/// and `99B777` (1 row) are local drug codes, the fourth order has both codes, `L-AST` a local lab
/// code whose third result is in a unit AST cannot be converted from.
pub(crate) fn write_local_files(dir: &Path, key: &str) -> PathBuf {
    let files = dir.join("hospital");
    std::fs::create_dir_all(&files).unwrap();
    let orders = format!(
        "patient_key,yj_code,order_date,days_supply,route,setting,source,local_system,local_code,local_text\n\
         {key},,2021-01-05,7,oral,outpatient,EHR,99HOSP,99A001,ノバグリプチン錠\n\
         {key},,2021-02-05,7,oral,outpatient,EHR,99HOSP,99A001,ノバグリプチン錠\n\
         {key},,2021-03-05,14,oral,outpatient,EHR,99HOSP,99A001,ノバグリプチン錠\n\
         {key},3969099F1020,2021-04-05,14,oral,outpatient,EHR,99HOSP,99B777,\n\
         {key},,2021-05-05,14,oral,outpatient,EHR,99HOSP,99B777,謎の薬\n"
    );
    std::fs::write(files.join("drug_order.csv"), orders).unwrap();
    let labs = format!(
        "patient_key,jlac10,result_time,value,unit,source,local_code,local_text\n\
         {key},,2021-01-05 10:00,35,U/L,EHR,L-AST,AST\n\
         {key},,2021-01-06 10:00,31,U/L,EHR,L-AST,AST\n\
         {key},,2021-01-07 10:00,35,mg/dL,EHR,L-AST,AST\n"
    );
    std::fs::write(files.join("lab_result.csv"), labs).unwrap();
    files
}

/// The extraction's query of a script keeping every order of novagliptin (`3969099`) or
/// sitagliptin (`3969010`) of the patients with one, as `midnet script sql` compiles it.
fn orders_sql(dir: &Path) -> String {
    let script = "study \"gliptins\"\n  period: 2016-01-01 to 2025-12-31\nend\n\
                  cohort\n  entry first drug_order where yj_code in yj [\"3969099\", \"3969010\"]\nend\n\
                  table orders = drug_order where yj_code in yj [\"3969099\", \"3969010\"]\n  ingredient = prefix(yj_code, 7)\n  date\nend\n";
    std::fs::write(dir.join("orders.midnet"), script).unwrap();
    midnet(dir, &["script", "sql", "orders.midnet", "--output", "orders"]).ok().stdout
}

/// The rows of the extraction's query by ingredient, on the site database.
fn ingredients(site: &Path, sql: &str, ingredient: &str) -> i64 {
    query_i64(
        site,
        &format!("SELECT count(*) FROM ({}) q WHERE q.ingredient = '{ingredient}'", sql.trim().trim_end_matches(';')),
    )
}

/// Fill in the standard codes of the unmapped CSV: `decisions` maps a local code to its code.
fn reviewed(unmapped: &str, decisions: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (n, line) in unmapped.lines().enumerate() {
        let mut fields: Vec<String> = line.split(',').map(str::to_string).collect();
        if n > 0
            && let Some((_, code)) = decisions.iter().find(|(local, _)| *local == fields[2])
        {
            fields[8] = code.to_string();
            fields[9] = "checked against the package insert".to_string();
        }
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

/// The round trip of issue 19's "Done when": load with local codes -> unmapped CSV -> reviewed CSV
/// -> import -> the waiting rows are in their tables, in a new data version, and the extraction's
/// query sees them; a row that its mapped code makes bad is quarantined at its line.
#[test]
fn a_mapping_round_trip_brings_the_waiting_rows_in_where_an_extraction_sees_them() {
    let dir = tempdir();
    let (site, key) = synthetic_site(dir.path());
    let site_arg = site.display().to_string();
    let files = write_local_files(dir.path(), &key);
    let sql = orders_sql(dir.path());
    let novagliptin_before = ingredients(&site, &sql, "3969099");

    let load =
        midnet(dir.path(), &["site", "load", "--site", &site_arg, files.to_str().unwrap(), "--json"]).ok().json();
    assert_eq!(load["data_version"], 3, "{load}");
    let waiting: Vec<(String, u64, u64)> = load["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["table"].as_str().unwrap().to_string(),
                f["rows_loaded"].as_u64().unwrap(),
                f["rows_waiting"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(waiting, [("drug_order".to_string(), 1, 4), ("lab_result".to_string(), 0, 3)], "{load}");
    assert_eq!(ingredients(&site, &sql, "3969099"), novagliptin_before + 1, "only the order with a standard code");

    // The unmapped codes, once each, with text, unit, rows and months: never a patient's key or day.
    midnet(dir.path(), &["site", "mapping", "unmapped", "--site", &site_arg, "--out", "unmapped.csv"]).ok();
    let unmapped = std::fs::read_to_string(dir.path().join("unmapped.csv")).unwrap();
    assert_eq!(
        unmapped,
        "kind,local_system,local_code,local_text,unit,rows,first_month,last_month,standard_code,reason\n\
         drug,99HOSP,99A001,ノバグリプチン錠,,3,2021-01,2021-03,,\n\
         lab,local,L-AST,AST,U/L,3,2021-01,2021-01,,\n\
         drug,99HOSP,99B777,謎の薬,,1,2021-05,2021-05,,\n"
    );
    assert!(!unmapped.contains(&key) && !unmapped.contains("2021-01-05"));

    // The staff decide two codes and leave the third.
    let decided = reviewed(&unmapped, &[("99A001", "3969099F1020"), ("L-AST", "3B035000002330001")]);
    std::fs::write(dir.path().join("reviewed.csv"), decided).unwrap();
    let args = ["site", "mapping", "import", "--site", &site_arg, "reviewed.csv", "--by", "Sato Hanako", "--json"];
    let imported = midnet(dir.path(), &args).ok().json();
    assert_eq!(imported["data_version"], 4, "{imported}");
    assert_eq!((imported["decisions"].as_u64(), imported["undecided"].as_u64()), (Some(2), Some(1)));
    assert_eq!((imported["rows_loaded"].as_u64(), imported["rows_quarantined"].as_u64()), (Some(5), Some(1)));
    assert_eq!(imported["rows_waiting"], 1, "{imported}");

    assert_eq!(ingredients(&site, &sql, "3969099"), novagliptin_before + 4, "the three waiting orders came in");
    assert_eq!(query_i64(&site, "SELECT count(*) FROM load_history WHERE data_version = 4 AND change = 'mapping'"), 1);
    assert_eq!(
        query_i64(
            &site,
            "SELECT count(*) FROM drug_order WHERE local_system = '99HOSP' AND local_code = '99A001' \
             AND yj_code = '3969099F1020' AND source_file = 'drug_order.csv'"
        ),
        3
    );
    assert_eq!(
        query_i64(&site, "SELECT count(*) FROM lab_result WHERE local_code = 'L-AST' AND jlac10 = '3B035000002330001'"),
        2
    );
    // Who, when and why are kept with each decision.
    assert_eq!(
        query_i64(
            &site,
            "SELECT count(*) FROM local_code_map WHERE mapped_by = 'Sato Hanako' AND data_version = 4 \
             AND reason = 'checked against the package insert' AND file = 'reviewed.csv' AND os_user <> ''"
        ),
        2
    );
    // The AST result in mg/dL cannot be converted: quarantined at its line of the hospital's file.
    let quarantine = midnet(dir.path(), &["site", "quarantine", "--site", &site_arg, "--json"]).ok().json();
    let rows: Vec<(String, i64)> = quarantine["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["file"].as_str().unwrap().ends_with("lab_result.csv") && r["file"].as_str().unwrap().contains("hospital")
        })
        .map(|r| (r["reasons"][0].as_str().unwrap().to_string(), r["line"].as_i64().unwrap()))
        .collect();
    assert_eq!(rows, [("unit '…' cannot be converted to U/L for ast".to_string(), 4)], "{quarantine}");

    // What is left unmapped is the undecided code alone.
    midnet(dir.path(), &["site", "mapping", "unmapped", "--site", &site_arg, "--out", "left.csv"]).ok();
    let left = std::fs::read_to_string(dir.path().join("left.csv")).unwrap();
    assert_eq!(left.lines().skip(1).collect::<Vec<_>>(), ["drug,99HOSP,99B777,謎の薬,,1,2021-05,2021-05,,"]);
}

/// A later decision for a code moves its rows to the new code; the same decision again changes
/// nothing; a file loaded after a code is mapped brings its rows in at once.
#[test]
fn a_changed_mapping_moves_the_rows_and_a_later_load_uses_the_mapping() {
    let dir = tempdir();
    let (site, key) = synthetic_site(dir.path());
    let site_arg = site.display().to_string();
    let files = write_local_files(dir.path(), &key);
    let sql = orders_sql(dir.path());
    let (novagliptin, sitagliptin) = (ingredients(&site, &sql, "3969099"), ingredients(&site, &sql, "3969010"));
    midnet(dir.path(), &["site", "load", "--site", &site_arg, files.to_str().unwrap()]).ok();
    let mapping = "kind,local_system,local_code,standard_code,reason\ndrug,99HOSP,99A001,3969099F1020,first review\n";
    std::fs::write(dir.path().join("first.csv"), mapping).unwrap();
    midnet(dir.path(), &["site", "mapping", "import", "--site", &site_arg, "first.csv", "--by", "Sato Hanako"]).ok();
    assert_eq!(ingredients(&site, &sql, "3969099"), novagliptin + 4);

    let remapping =
        "kind,local_system,local_code,standard_code,reason\ndrug,99HOSP,99A001,3969010F1020,wrong ingredient\n";
    std::fs::write(dir.path().join("second.csv"), remapping).unwrap();
    let args = ["site", "mapping", "import", "--site", &site_arg, "second.csv", "--by", "Kato Ken", "--json"];
    let moved = midnet(dir.path(), &args).ok().json();
    assert_eq!((moved["rows_moved"].as_u64(), moved["rows_loaded"].as_u64()), (Some(3), Some(3)), "{moved}");
    assert_eq!(ingredients(&site, &sql, "3969099"), novagliptin + 1);
    assert_eq!(ingredients(&site, &sql, "3969010"), sitagliptin + 3);
    assert_eq!(
        query_i64(&site, "SELECT count(*) FROM local_code_map WHERE local_code = '99A001'"),
        2,
        "both decisions kept"
    );

    let again = midnet(dir.path(), &args).ok().json();
    assert_eq!((again["data_version"].is_null(), again["unchanged"].as_u64()), (true, Some(1)), "{again}");
    let versions = query_i64(&site, "SELECT max(data_version) FROM load_history");

    let later = dir.path().join("later");
    std::fs::create_dir_all(&later).unwrap();
    std::fs::write(
        later.join("drug_order.csv"),
        format!(
            "patient_key,yj_code,order_date,days_supply,route,setting,source,local_system,local_code\n\
                 {key},,2022-01-05,7,oral,outpatient,EHR,99HOSP,99A001\n"
        ),
    )
    .unwrap();
    let load =
        midnet(dir.path(), &["site", "load", "--site", &site_arg, later.to_str().unwrap(), "--json"]).ok().json();
    assert_eq!(
        (load["files"][0]["rows_loaded"].as_u64(), load["files"][0]["rows_waiting"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(load["data_version"], versions + 1);
    assert_eq!(ingredients(&site, &sql, "3969010"), sitagliptin + 4);
}

/// Every bad mapping file is refused whole, naming the file and the line, and nothing is kept.
#[test]
fn a_bad_mapping_file_is_refused_naming_file_and_line_and_nothing_is_imported() {
    let dir = tempdir();
    let (site, key) = synthetic_site(dir.path());
    let site_arg = site.display().to_string();
    let files = write_local_files(dir.path(), &key);
    midnet(dir.path(), &["site", "load", "--site", &site_arg, files.to_str().unwrap()]).ok();
    let header = "kind,local_system,local_code,standard_code,reason\n";
    let good = "drug,99HOSP,99B777,3969099F1020,\n";
    let cases: [(&str, String, &str); 8] = [
        (
            "not in the masters",
            format!("{header}{good}drug,99HOSP,99A001,1234567F1234,\n"),
            "bad.csv: the mapping is refused, nothing was imported (1 problem):\n  line 3: standard_code \
             1234567F1234 is not a current YJ code of the site's masters (医薬品マスター (y), HOT master)",
        ),
        (
            "never seen",
            format!("{header}{good}drug,99HOSP,99Z999,3969099F1020,\n"),
            "line 3: local code 99Z999 (99HOSP, drug) was never seen",
        ),
        (
            "a local code of another kind",
            format!("{header}disease,99HOSP,99A001,E119,\n"),
            "line 2: local code 99A001 (99HOSP) is a drug code, not a disease code",
        ),
        (
            "a lab code for a drug",
            format!("{header}{good}drug,99HOSP,99A001,3B035000002330001,\n"),
            "line 3: standard_code '3B035000002330001' is a JLAC10 code, a lab's, but local code 99A001 (99HOSP) is a \
             drug's: give its YJ code",
        ),
        (
            "a conflicting duplicate",
            format!("{header}drug,99HOSP,99A001,3969099F1020,\n{good}drug,99HOSP,99A001,3969010F1020,\n"),
            "line 4: local code 99A001 (99HOSP) is mapped to 3969010F1020 here and to 3969099F1020 on line 2",
        ),
        ("a short line", format!("{header}{good}drug,99HOSP,99A001\n"), "line 3: 3 fields, the header has 5"),
        (
            "an unknown kind",
            format!("{header}{good}drugs,99HOSP,99A001,3969099F1020,\n"),
            "line 3: kind 'drugs' is not drug, lab or disease",
        ),
        (
            "an unknown column",
            format!("kind,local_system,local_code,standard_code,patient_key\n{good}"),
            "bad.csv: line 1: column `patient_key` is not a column of a mapping file",
        ),
    ];
    for (case, text, message) in cases {
        std::fs::write(dir.path().join("bad.csv"), text).unwrap();
        let run =
            midnet(dir.path(), &["site", "mapping", "import", "--site", &site_arg, "bad.csv", "--by", "Sato Hanako"]);
        assert_eq!(run.code, 2, "{case}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{case}: expected {message:?} in\n{}", run.stderr);
        assert_eq!(query_i64(&site, "SELECT count(*) FROM local_code_map"), 0, "{case}");
        assert_eq!(query_i64(&site, "SELECT max(data_version) FROM load_history"), 3, "{case}");
        assert_eq!(query_i64(&site, "SELECT count(*) FROM local_row WHERE brought_in IS NULL"), 7, "{case}");
    }
}

/// A row needs a standard code or a local code; a local text or system without a local code is a
/// shifted column. Both are quarantined at their lines, and the load says rows wait.
#[test]
fn a_row_without_any_code_or_with_a_text_but_no_local_code_is_quarantined() {
    let dir = tempdir();
    let (site, key) = synthetic_site(dir.path());
    let site_arg = site.display().to_string();
    std::fs::write(
        dir.path().join("diagnosis.csv"),
        format!(
            "patient_key,icd10,diagnosis_date,source,local_code,local_text\n\
             {key},,2021-01-05,EHR,,\n\
             {key},E119,2021-01-05,EHR,,糖尿病\n\
             {key},,2021-01-05,EHR,D0001,ひどい頭痛\n"
        ),
    )
    .unwrap();
    let run = midnet(dir.path(), &["site", "load", "--site", &site_arg, "diagnosis.csv"]).ok();
    assert!(run.stdout.contains("1 rows name their code by a local code the site has not mapped"), "{}", run.stdout);
    let quarantine =
        midnet(dir.path(), &["site", "quarantine", "--site", &site_arg, "--file", "diagnosis.csv", "--json"])
            .ok()
            .json();
    let rows: Vec<(i64, String)> = quarantine["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_i64().unwrap(), r["reasons"][0].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        rows,
        [
            (2, "missing icd10 and local_code".to_string()),
            (3, "local_system or local_text without local_code".to_string())
        ]
    );
}

/// `site check` shows, per table and source, the share of rows with a standard code (waiting rows
/// count as not), the most frequent unmapped codes with their counts, and the change since the
/// previous data version; never a value of a row.
#[test]
fn the_quality_report_shows_coverage_unmapped_codes_and_changes() {
    let dir = tempdir();
    let (site, key) = synthetic_site(dir.path());
    let site_arg = site.display().to_string();
    let files = write_local_files(dir.path(), &key);
    midnet(dir.path(), &["site", "load", "--site", &site_arg, files.to_str().unwrap()]).ok();
    let orders = query_i64(&site, "SELECT count(*) FROM drug_order WHERE source = 'EHR'");

    let report = midnet(dir.path(), &["site", "check", "--site", &site_arg, "--json"]).ok().json();
    let coverage = report["coverage"].as_array().unwrap();
    let drug = coverage.iter().find(|c| c["table"] == "drug_order" && c["source"] == "EHR").unwrap();
    assert_eq!(
        (drug["rows"].as_i64(), drug["waiting"].as_i64(), drug["mapped"].as_i64()),
        (Some(orders), Some(4), Some(0))
    );
    let share = drug["standard_share"].as_f64().unwrap();
    assert!((share - orders as f64 / (orders + 4) as f64).abs() < 1e-12, "{drug}");
    let top: Vec<(String, i64)> = report["unmapped_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["local_code"].as_str().unwrap().to_string(), u["rows"].as_i64().unwrap()))
        .collect();
    assert_eq!(top, [("99A001".to_string(), 3), ("L-AST".to_string(), 3), ("99B777".to_string(), 1)]);
    let changes = &report["changes"];
    assert_eq!((changes["previous_version"].as_i64(), changes["data_version"].as_i64()), (Some(2), Some(3)));
    let drug_change = changes["tables"].as_array().unwrap().iter().find(|c| c["table"] == "drug_order").unwrap();
    assert_eq!(drug_change["rows_after"].as_i64().unwrap() - drug_change["rows_before"].as_i64().unwrap(), 1);
    assert_eq!(drug_change["standard_share_before"].as_f64(), Some(1.0));

    let text = midnet(dir.path(), &["site", "check", "--site", &site_arg]).ok().stdout;
    assert!(text.contains("standard codes per table and source"), "{text}");
    assert!(text.contains("99A001") && text.contains("changes since data version 2"), "{text}");
    assert!(!text.contains(&key) && !text.contains("ノバグリプチン"), "no value of a row, no local text: {text}");
}
