//! `midnet site masters import`: the official masters in their published layouts (Shift_JIS, the
//! 支払基金's quoted CSV with the record kind in column 2, the MEDIS HOT master with its header row),
//! each file recognised by its content and kept with its publication date; every hostile file is
//! refused naming file and line, and nothing of the import is kept.

use std::path::Path;

use crate::common::{Run, midnet, tempdir};

/// A 支払基金 master record: `fields` quoted values, those of `values` (1-based column, value) set,
/// the record kind in column 2.
fn ssk(kind: &str, fields: usize, values: &[(usize, &str)]) -> String {
    let mut record = vec![String::new(); fields];
    record[1] = kind.to_string();
    for (column, value) in values {
        record[column - 1] = value.to_string();
    }
    let quoted: Vec<String> = record.iter().map(|v| format!("\"{v}\"")).collect();
    quoted.join(",") + "\r\n"
}

fn drug(code: &str, name: &str, changed: &str, abolished: &str, yj: &str) -> String {
    ssk("Y", 42, &[(1, "0"), (3, code), (5, name), (28, "1"), (30, changed), (31, abolished), (32, yj), (35, name)])
}

fn disease(code: &str, name: &str, icd10: &str, abolished: &str, successor: &str) -> String {
    let values = [
        (3, code),
        (4, successor),
        (6, name),
        (11, "20054174"),
        (13, "TSQF"),
        (14, icd10),
        (16, icd10),
        (22, "20020601"),
        (23, "20240401"),
        (24, abolished),
    ];
    ssk("B", 40, &values)
}

fn modifier(code: &str, name: &str) -> String {
    ssk("Z", 19, &[(3, code), (7, name), (17, "27000001"), (18, "5395"), (19, "A8000000")])
}

fn procedure(code: &str, name: &str) -> String {
    ssk("S", 113, &[(3, code), (5, name), (11, "3"), (12, "6000"), (85, "K"), (87, "20240601"), (92, "546")])
}

const HOT_HEADER: &str = "基準番号（ＨＯＴコード）,処方用番号（ＨＯＴ７）,会社識別用番号,調剤用番号,物流用番号,ＪＡＮコード,\
    薬価基準収載医薬品コード,個別医薬品コード,レセプト電算処理システムコード（１）,レセプト電算処理システムコード（２）,\
    告示名称,販売名,レセプト電算処理システム医薬品名,規格単位,包装形態,包装単位数,包装単位単位,包装総量数,包装総量単位,区分,\
    製造会社,販売会社,更新区分,更新年月日\r\n";

fn hot13(code: &str, yj: &str, receipt: &str, updated: &str) -> String {
    let mut fields = vec![""; 24];
    fields[0] = code;
    fields[1] = &code[..7];
    fields[6] = yj;
    fields[7] = yj;
    fields[8] = receipt;
    fields[10] = "アムロジピンベシル酸塩";
    fields[11] = "ノルバスク錠５ｍｇ";
    fields[13] = "５ｍｇ１錠";
    fields[23] = updated;
    fields.join(",") + "\r\n"
}

/// Write `text` in Shift_JIS, as the masters are published.
fn write_sjis(dir: &Path, name: &str, text: &str) -> String {
    let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(text);
    assert!(!unmappable, "the fixture is Shift_JIS text");
    std::fs::write(dir.join(name), &bytes).unwrap();
    name.to_string()
}

fn new_site(dir: &Path) {
    midnet(dir, &["site", "init", "--site", "site"]).ok();
}

fn import(dir: &Path, files: &[&str]) -> Run {
    let mut args = vec!["site", "masters", "import", "--site", "site", "--json"];
    args.extend_from_slice(files);
    midnet(dir, &args)
}

fn query_i64(dir: &Path, sql: &str) -> i64 {
    let config = duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly).unwrap();
    let conn = duckdb::Connection::open_with_flags(dir.join("site/site.duckdb"), config).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn query_text(dir: &Path, sql: &str) -> String {
    let config = duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly).unwrap();
    let conn = duckdb::Connection::open_with_flags(dir.join("site/site.duckdb"), config).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// The five published layouts, one file each.
fn official_files(dir: &Path) -> Vec<String> {
    let y = drug("620000001", "アムロジピン錠５ｍｇ", "20240401", "99999999", "2171022F1020")
        + &drug("620000002", "旧薬錠１０ｍｇ", "20230401", "20240331", "2171022F2026");
    let b = disease("5350007", "胃炎", "K297", "99999999", "")
        + &disease("8830052", "急性胃炎", "K291", "99999999", "")
        + &disease("2500013", "旧病名", "E119", "20230331", "2500014");
    vec![
        write_sjis(dir, "y.csv", &y),
        write_sjis(dir, "b.csv", &b),
        write_sjis(dir, "z_20240401.csv", &modifier("8002", "の疑い")),
        write_sjis(dir, "s.csv", &procedure("150000110", "胃切除術")),
        write_sjis(
            dir,
            "MEDIS20240930.TXT",
            &(HOT_HEADER.to_string() + &hot13("1000000010101", "2171022F1020", "620000001", "20240930")),
        ),
    ]
}

/// Each layout is recognised by its content and imported with its publication date; an abolished
/// code keeps its dates and successor; the import is a data version, a second import of the same
/// files none, and a later publication is kept beside the earlier one.
#[test]
fn masters_in_their_published_layouts_import_with_their_dates() {
    let dir = tempdir();
    new_site(dir.path());
    let files = official_files(dir.path());
    let names: Vec<&str> = files.iter().map(String::as_str).collect();
    let imported = import(dir.path(), &names).ok().json();
    assert_eq!(imported["data_version"].as_i64(), Some(1), "{imported}");
    let kinds: Vec<(String, String, u64)> = imported["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (f["kind"].as_str().unwrap().into(), f["published"].as_str().unwrap().into(), f["rows"].as_u64().unwrap())
        })
        .collect();
    let expected = [
        ("drug", "2024-04-01", 2),
        ("disease", "2024-04-01", 3),
        ("modifier", "2024-04-01", 1),
        ("procedure", "2024-06-01", 1),
        ("hot13", "2024-09-30", 1),
    ];
    let expected: Vec<(String, String, u64)> =
        expected.iter().map(|(k, p, n)| (k.to_string(), p.to_string(), *n)).collect();
    assert_eq!(kinds, expected);

    assert_eq!(query_text(dir.path(), "SELECT name FROM master_disease WHERE disease_code = '5350007'"), "胃炎");
    assert_eq!(
        query_text(
            dir.path(),
            "SELECT successor_code || ' ' || strftime(abolished, '%Y-%m-%d') FROM master_disease \
             WHERE disease_code = '2500013'"
        ),
        "2500014 2023-03-31"
    );
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM master_drug WHERE abolished IS NULL"), 1);
    assert_eq!(
        query_text(dir.path(), "SELECT yj_code FROM master_hot WHERE hot_code = '1000000010101'"),
        "2171022F1020"
    );
    assert_eq!(query_text(dir.path(), "SELECT table_letter || section_number FROM master_procedure"), "K546");
    assert_eq!(query_text(dir.path(), "SELECT name FROM master_modifier WHERE modifier_code = '8002'"), "の疑い");
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM load_history WHERE change = 'masters'"), 1);

    let again = import(dir.path(), &names).ok().json();
    assert!(again["data_version"].is_null(), "{again}");
    assert_eq!(again["skipped"].as_array().unwrap().len(), 5);

    // The next publication: one code changed its name; both publications are kept.
    let later = disease("5350007", "胃炎（新）", "K297", "99999999", "").replace("20240401", "20250401");
    let later = write_sjis(dir.path(), "b2.csv", &later);
    let next = import(dir.path(), &[later.as_str()]).ok().json();
    assert_eq!(next["data_version"].as_i64(), Some(2));
    assert_eq!(next["files"][0]["published"], "2025-04-01");
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM master_disease WHERE disease_code = '5350007'"), 2);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM master_file"), 6);
    // The latest publication holds; a code it does not list keeps its last row.
    assert_eq!(
        query_text(dir.path(), "SELECT name FROM current_master_disease WHERE disease_code = '5350007'"),
        "胃炎（新）"
    );
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM current_master_disease"), 3);
}

/// Each hostile file is refused with what is wrong and where, and nothing of the import is kept
/// (a good file given beside it included).
#[test]
fn hostile_master_files_are_refused_naming_file_and_line() {
    let dir = tempdir();
    new_site(dir.path());
    let good = write_sjis(
        dir.path(),
        "good_y.csv",
        &drug("620000001", "アムロジピン錠", "20240401", "99999999", "2171022F1020"),
    );
    let d = dir.path();
    let ok_disease = disease("5350007", "胃炎", "K297", "99999999", "");
    let cases: Vec<(String, String)> = vec![
        (
            write_sjis(d, "patient.csv", "patient_key,sex,birth_date\r\nK1,M,1950-01-01\r\n"),
            "patient.csv: line 1: not a master of a known layout: expected the MEDIS HOT master".into(),
        ),
        (
            write_sjis(d, "short_b.csv", &(ok_disease.clone() + &ssk("B", 20, &[(3, "8830052")]))),
            "short_b.csv: line 2: a truncated record: 20 fields, the 支払基金 disease master (傷病名マスター, record kind B) has 38"
                .into(),
        ),
        (
            write_sjis(d, "mixed.csv", &(ok_disease.clone() + &drug("620000001", "薬", "20240401", "99999999", "2171022F1020"))),
            "mixed.csv: line 2: record kind \"Y\" (a record of the 支払基金 drug master".into(),
        ),
        (
            write_sjis(d, "procedure_as_drug.csv", &drug("150000110", "胃切除術", "20240401", "99999999", "")),
            "procedure_as_drug.csv: line 1: column 3 (drug_code): \"150000110\" is not a code of 9 digits beginning with 6".into(),
        ),
        (
            write_sjis(d, "twice.csv", &(ok_disease.clone() + &disease("5350007", "胃炎", "K299", "99999999", ""))),
            "twice.csv: line 2: code 5350007 is on line 1 too, with another icd10_2003_1 (column 14)".into(),
        ),
        (write_sjis(d, "empty.csv", ""), "empty.csv: empty: no record".into()),
        (
            write_sjis(d, "bad_date.csv", &drug("620000001", "薬", "2024-04-01", "99999999", "2171022F1020")),
            "bad_date.csv: line 1: column 30 (changed): \"2024-04-01\" is not a date (YYYYMMDD)".into(),
        ),
        (write_sjis(d, "z.csv", &modifier("8002", "の疑い")), "z.csv: no publication date".into()),
        (write_sjis(d, "header_only.TXT", HOT_HEADER), "header_only.TXT: no record after the header".into()),
    ];
    // Bytes that are not Shift_JIS on line 2; and the same master converted to UTF-8.
    let mut bad = encoding_rs::SHIFT_JIS.encode(&ok_disease).0.into_owned();
    bad.extend_from_slice(b"\"0\",\"B\",\"\x82\xff\"\r\n");
    std::fs::write(d.join("bad_bytes.csv"), bad).unwrap();
    std::fs::write(d.join("utf8.csv"), ok_disease.clone()).unwrap();
    let cases = cases.into_iter().chain([
        ("bad_bytes.csv".to_string(), "bad_bytes.csv: line 2: bytes that are not Shift_JIS".to_string()),
        ("utf8.csv".to_string(), "utf8.csv: line 1: bytes that are not Shift_JIS (the file is UTF-8".to_string()),
    ]);
    for (file, message) in cases {
        import(d, &[good.as_str(), file.as_str()]).fails(2, &message);
        let kept = query_i64(d, "SELECT (SELECT count(*) FROM master_file) + (SELECT count(*) FROM master_drug)");
        assert_eq!(kept, 0, "{file}: nothing of the import is kept");
    }
    assert_eq!(query_i64(d, "SELECT count(*) FROM load_history"), 0);
    import(d, &[good.as_str()]).ok();
}
