//! `midnet site import ss-mix2`: hand-written SS-MIX2 storage trees in ISO-2022-JP, imported by
//! the real binary into a real site. Each bad-input class is quarantined at its file (relative,
//! the patient id replaced by the patient key), segment and field; imports are incremental,
//! idempotent and atomic; no identifying value of the storage reaches any file of the site.

use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};

use crate::common::{Run, midnet, midnet_with, tempdir};

const ID: &str = "0123456789";
const OTHER_ID: &str = "9876543210";
const NAME: &str = "山田^太郎";
const KIN: &str = "山田^花子";
const ADDRESS: &str = "東京都千代田区千代田一丁目";
const PHONE: &str = "03-1234-5678";
const KIN_PHONE: &str = "03-9999-8888";
const INSURED: &str = "K98765432";
const INSURER: &str = "06139999";

/// The identifying values a test greps the site for.
const IDENTIFYING: [&str; 9] = [ID, OTHER_ID, "山田", "太郎", "花子", ADDRESS, PHONE, KIN_PHONE, INSURED];

fn jis(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::ISO_2022_JP.encode(text);
    assert!(!unmappable, "the fixture is ISO-2022-JP text");
    bytes.into_owned()
}

fn msh(kind: &str) -> String {
    format!("MSH|^~\\&|HIS|SEND|GW|RCV|20240415120000||{kind}|1|P|2.5||||||~ISO IR87||ISO 2022-1994\r")
}

fn pid(id: &str) -> String {
    format!("PID|0001||{id}^^^^PI||{NAME}^^^^^L^I||19490522|M|||^^^^1000001^JPN^H^{ADDRESS}||{PHONE}\r")
}

/// A PV1 segment with the given fields set.
fn pv1(fields: &[(usize, &str)]) -> String {
    let mut all = vec![String::new(); 46];
    all[0] = "PV1".into();
    all[1] = "0001".into();
    for (n, value) in fields {
        all[*n] = value.to_string();
    }
    all.join("|") + "\r"
}

fn adt00(id: &str) -> String {
    format!(
        "{}EVN||20240401\r{}NK1|1|{KIN}^^^^^L^I|SPO^配偶者^HL70063||{KIN_PHONE}\r{}IN1|1|{INSURER}^^^^^^||||||||||||||||||||||||||||||||||||||||||{INSURED}\r",
        msh("ADT^A08^ADT_A01"),
        pid(id),
        pv1(&[(2, "O")])
    )
}

fn admission(id: &str, at: &str) -> String {
    format!("{}EVN||{at}\r{}{}", msh("ADT^A01^ADT_A01"), pid(id), pv1(&[(2, "I"), (10, "01"), (44, at)]))
}

fn discharge(id: &str, admitted: &str, at: &str) -> String {
    format!(
        "{}EVN||{at}\r{}{}",
        msh("ADT^A03^ADT_A03"),
        pid(id),
        pv1(&[(2, "I"), (10, "01"), (36, "01"), (44, admitted), (45, at)])
    )
}

fn visit(id: &str, at: &str) -> String {
    format!("{}EVN||{at}\r{}{}", msh("ADT^A04^ADT_A01"), pid(id), pv1(&[(2, "O"), (10, "01"), (44, at)]))
}

/// PPR-01 with one diagnosis: 胃炎 by its MEDIS number, established `established`, ICD-10 from
/// PRB-10 when `icd10` is given (else through the disease master).
fn diagnosis(id: &str, established: &str, icd10: &str) -> String {
    format!(
        "{}{}PRB|AD|20240415|20054174^胃炎^MDCDX2|000000000000017|||{established}|||{icd10}^^I10^O^外来時^JHSD0004|||||||20240410\r",
        msh("PPR^ZD1^PPR_ZD1"),
        pid(id)
    )
}

/// OMP-01 with one prescription line of `code` in `system`, ordered on 2024-04-15 for 7 days.
fn prescription(id: &str, code: &str, system: &str) -> String {
    format!(
        "{}{}{}ORC|NW|000000000012345||1|||||20240415102500|||D001^医師^甲^^^^^^^L^^^^^I|||||01^内科^99XY1||||||||||||O^外来患者オーダ^HL70482\rRXE||{code}^ダーゼン錠（５mg)^{system}|1||TAB^錠^MR9P|||||21|TAB^錠^MR9P||||2024041500001||||3^TAB&錠&MR9P\rTQ1|1||1013044400000000&x&JAMISDP01|||7^d|20240415\rRXR|PO^口^HL70162\r",
        msh("RDE^O11^RDE_O11"),
        pid(id),
        pv1(&[(2, "O")])
    )
}

/// OML-11 with one ALT result `value` U/L.
fn alt(id: &str, value: &str) -> String {
    format!(
        "{}{}SPM|1|000000000240415||023^血清^JC10|||||||||||||202404150845\rOBR|1|000000000054321|000000000240415|E001^生化学^99O03|||20240415\rOBX|1|NM|3B045000002327201^ALT^JC10||{value}|U/L^U/L^ISO+|10-42|N|||F|||202404150845\r",
        msh("OUL^R22^OUL_R22"),
        pid(id)
    )
}

/// The order number of the files `Tree::put` writes (one key per patient, date and kind).
const ORDER: &str = "000000000000017";

/// A storage tree being written.
struct Tree {
    root: PathBuf,
}

impl Tree {
    fn new(dir: &Path) -> Tree {
        Tree { root: dir.join("ssmix2") }
    }

    /// Write `bytes` as the file of this key (patient, date, kind, order) stored at `stored` with
    /// `condition`; its path relative to the root.
    fn put_bytes(
        &self,
        (id, date, kind, order): (&str, &str, &str, &str),
        stored: &str,
        condition: &str,
        bytes: &[u8],
    ) -> String {
        let folder = format!("{}/{}/{id}/{date}/{kind}", &id[0..3], &id[3..6]);
        let name = format!("{id}_{date}_{kind}_{order}_{stored}_01_{condition}");
        std::fs::create_dir_all(self.root.join(&folder)).unwrap();
        std::fs::write(self.root.join(&folder).join(&name), bytes).unwrap();
        format!("{folder}/{name}")
    }

    fn put(&self, id: &str, date: &str, kind: &str, stored: &str, message: &str) -> String {
        self.put_bytes((id, date, kind, ORDER), stored, "1", &jis(message))
    }
}

/// A site with the HOT master (HOT9 108665201 → YJ 2171022F1020) and the disease master
/// (病名管理番号 20054174 → K297).
fn new_site(dir: &Path) {
    midnet(dir, &["site", "init", "--site", "site"]).ok();
    let hot = "基準番号（ＨＯＴコード）,処方用番号（ＨＯＴ７）,会社識別用番号,調剤用番号,物流用番号,ＪＡＮコード,\
        薬価基準収載医薬品コード,個別医薬品コード,レセプト電算処理システムコード（１）,レセプト電算処理システムコード（２）,\
        告示名称,販売名,レセプト電算処理システム医薬品名,規格単位,包装形態,包装単位数,包装単位単位,包装総量数,包装総量単位,区分,\
        製造会社,販売会社,更新区分,更新年月日\r\n1086652010101,1086652,01,01,01,,2171022F1020,2171022F1020,620000001,,ダーゼン,ダーゼン錠５ｍｇ,,５ｍｇ１錠,,,,,,,,,,20240930\r\n";
    let mut disease = vec![String::new(); 40];
    for (column, value) in [
        (2, "B"),
        (3, "5350007"),
        (6, "胃炎"),
        (11, "20054174"),
        (13, "TSQF"),
        (14, "K297"),
        (16, "K297"),
        (22, "20020601"),
        (23, "20240401"),
        (24, "99999999"),
    ] {
        disease[column - 1] = value.to_string();
    }
    let disease: Vec<String> = disease.iter().map(|v| format!("\"{v}\"")).collect();
    let sjis = |name: &str, text: &str| {
        std::fs::write(dir.join(name), encoding_rs::SHIFT_JIS.encode(text).0).unwrap();
    };
    sjis("MEDIS20240930.TXT", hot);
    sjis("b.csv", &(disease.join(",") + "\r\n"));
    midnet(dir, &["site", "masters", "import", "--site", "site", "MEDIS20240930.TXT", "b.csv"]).ok();
}

fn import(dir: &Path) -> Run {
    midnet(dir, &["site", "import", "ss-mix2", "--site", "site", "--json", "ssmix2"])
}

/// The database of the site `site`, read-only.
fn open_site(site: &Path) -> duckdb::Connection {
    let config = duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly).unwrap();
    duckdb::Connection::open_with_flags(site.join("site.duckdb"), config).unwrap()
}

/// The test's site, `DIR/site`, read-only.
fn read_only(dir: &Path) -> duckdb::Connection {
    open_site(&dir.join("site"))
}

fn query_i64(dir: &Path, sql: &str) -> i64 {
    read_only(dir).query_row(sql, [], |r| r.get(0)).unwrap()
}

fn rows(dir: &Path, sql: &str) -> Vec<String> {
    let conn = read_only(dir);
    let mut stmt = conn.prepare(sql).unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0)).unwrap().map(Result::unwrap).collect()
}

/// The site's patient key of a hospital id: HMAC-SHA256 under `keys/patient.key`.
fn patient_key(dir: &Path, id: &str) -> String {
    let key = hex::decode(std::fs::read_to_string(dir.join("site/keys/patient.key")).unwrap().trim()).unwrap();
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&key).unwrap();
    mac.update(id.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The quarantine as `file line reason` rows.
fn quarantine(dir: &Path) -> Vec<String> {
    rows(dir, "SELECT file || ' ' || line || ' ' || reason FROM quarantine ORDER BY file, line, reason")
}

/// A patient with one of each kind of message.
fn full_patient(tree: &Tree, id: &str) {
    tree.put(id, "-", "ADT-00", "20240401090000000", &adt00(id));
    tree.put(id, "20240401", "ADT-22", "20240401100000000", &admission(id, "202404011000"));
    tree.put(id, "20240410", "ADT-52", "20240410110000000", &discharge(id, "202404011000", "202404101000"));
    tree.put(id, "20240412", "ADT-12", "20240412090000000", &visit(id, "202404120900"));
    tree.put(id, "-", "PPR-01", "20240415100000000", &diagnosis(id, "20240415", ""));
    tree.put(id, "20240415", "OMP-01", "20240415102500000", &prescription(id, "108665201", "HOT9"));
    tree.put(id, "20240415", "OML-11", "20240415113000000", &alt(id, "35"));
}

#[test]
fn a_storage_comes_in_with_patient_keys_codes_through_the_masters_and_one_data_version() {
    let dir = tempdir();
    new_site(dir.path());
    let tree = Tree::new(dir.path());
    full_patient(&tree, ID);
    let report = import(dir.path()).ok().json();
    assert_eq!(report["data_version"].as_i64(), Some(2), "{report}");
    assert_eq!((report["files_current"].as_u64(), report["files_read"].as_u64()), (Some(7), Some(7)), "{report}");
    let key = patient_key(dir.path(), ID);
    assert_eq!(
        rows(dir.path(), "SELECT patient_key || ' ' || sex || ' ' || birth_date FROM patient"),
        [format!("{key} M 1949-05-22")]
    );
    assert_eq!(
        rows(
            dir.path(),
            "SELECT encounter_type || ' ' || start_date || ' ' || end_date || ' ' || coalesce(discharge_destination, '-') FROM encounter ORDER BY start_date"
        ),
        ["inpatient 2024-04-01 2024-04-10 home", "outpatient 2024-04-12 2024-04-12 -"]
    );
    assert_eq!(
        rows(dir.path(), "SELECT icd10 || ' ' || medis_code || ' ' || diagnosis_date FROM diagnosis"),
        ["K297 TSQF 2024-04-15"]
    );
    assert_eq!(
        rows(
            dir.path(),
            "SELECT yj_code || ' ' || hot_code || ' ' || days_supply || ' ' || route || ' ' || setting FROM drug_order"
        ),
        ["2171022F1020 108665201 7 oral outpatient"]
    );
    assert_eq!(
        rows(dir.path(), "SELECT jlac10 || ' ' || value || ' ' || unit FROM lab_result"),
        ["3B045000002327201 35.0 U/L"]
    );
    // Every row names its file with the id replaced by the patient key.
    let sources = rows(dir.path(), "SELECT source_file FROM drug_order UNION ALL SELECT source_file FROM patient");
    assert!(sources.iter().all(|s| s.contains(&key) && !s.contains(ID)), "{sources:?}");
    assert_eq!(quarantine(dir.path()), Vec::<String>::new());
    let mode = std::fs::metadata(dir.path().join("site/keys/patient.key")).unwrap().permissions();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777, 0o600);
}

#[test]
fn a_second_import_reads_nothing_and_a_changed_file_alone_is_read_again() {
    let dir = tempdir();
    new_site(dir.path());
    let tree = Tree::new(dir.path());
    full_patient(&tree, ID);
    full_patient(&tree, OTHER_ID);
    import(dir.path()).ok();
    let again = import(dir.path()).ok().json();
    assert_eq!((again["data_version"].as_i64(), again["files_read"].as_u64()), (None, Some(0)), "{again}");
    assert_eq!(query_i64(dir.path(), "SELECT max(data_version) FROM load_history"), 2);
    // The lab result is corrected: the old file superseded (_2), the new one current.
    let old = tree
        .root
        .join(format!("012/345/{ID}/20240415/OML-11/{ID}_20240415_OML-11_000000000000017_20240415113000000_01_1"));
    std::fs::rename(&old, old.to_string_lossy().replace("_01_1", "_01_2")).unwrap();
    tree.put(ID, "20240415", "OML-11", "20240416090000000", &alt(ID, "41"));
    let changed = import(dir.path()).ok().json();
    assert_eq!(changed["data_version"].as_i64(), Some(3), "{changed}");
    assert_eq!(
        (changed["files_changed"].as_u64(), changed["files_withdrawn"].as_u64(), changed["files_read"].as_u64()),
        (Some(1), Some(1), Some(1)),
        "{changed}"
    );
    assert_eq!(rows(dir.path(), "SELECT value::VARCHAR FROM lab_result ORDER BY value"), ["35.0", "41.0"]);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM patient"), 2);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM encounter"), 4);
}

/// The second import of a tree changes nothing: no data version, not a row.
#[test]
fn the_same_tree_twice_changes_nothing() {
    let dir = tempdir();
    new_site(dir.path());
    let tree = Tree::new(dir.path());
    full_patient(&tree, ID);
    import(dir.path()).ok();
    let snapshot = |dir: &Path| {
        ["patient", "encounter", "diagnosis", "drug_order", "lab_result", "quarantine", "ssmix2_file", "load_history"]
            .map(|t| {
                rows(dir, &format!("SELECT coalesce(string_agg(t::VARCHAR, '|' ORDER BY t::VARCHAR), '') FROM {t} t"))
            })
    };
    let before = snapshot(dir.path());
    let again = import(dir.path()).ok().json();
    assert_eq!(again["data_version"], serde_json::Value::Null, "{again}");
    assert_eq!(snapshot(dir.path()), before);
}

/// One bad file of each class, beside a good patient: each is quarantined at its file (the id
/// replaced), segment and field, and the good rows come in.
fn bad_input(file: impl FnOnce(&Tree) -> String) -> (tempfile::TempDir, Vec<String>, String) {
    let dir = tempdir();
    new_site(dir.path());
    let tree = Tree::new(dir.path());
    full_patient(&tree, OTHER_ID);
    tree.put(ID, "-", "ADT-00", "20240401090000000", &adt00(ID));
    let path = file(&tree);
    import(dir.path()).ok();
    let key = patient_key(dir.path(), ID);
    let below_prefix = path.split_once('/').unwrap().1.split_once('/').unwrap().1;
    let keyed = format!("{}/{}/{}", &key[0..3], &key[3..6], below_prefix.replace(ID, &key));
    let good = patient_key(dir.path(), OTHER_ID);
    let good_rows = format!("SELECT count(*) FROM lab_result WHERE patient_key = '{good}'");
    assert_eq!(query_i64(dir.path(), &good_rows), 1, "the good patient's rows come in");
    let quarantined = quarantine(dir.path());
    (dir, quarantined, keyed)
}

#[test]
fn an_undecodable_byte_is_quarantined_with_its_offset() {
    let (_dir, quarantined, file) = bad_input(|tree| {
        let mut bytes = jis(&alt(ID, "35"));
        bytes.insert(40, 0xff);
        tree.put_bytes((ID, "20240415", "OML-11", "000000000000001"), "20240415113000000", "1", &bytes)
    });
    assert_eq!(
        quarantined,
        [format!("{file} 0 message: byte 40 is not ISO-2022-JP text (the encoding SS-MIX2 prescribes)")]
    );
}

#[test]
fn a_truncated_message_is_quarantined_at_the_field_it_lacks() {
    // The file ends after the result's value: its unit, range and time are lost.
    let (_dir, quarantined, file) = bad_input(|tree| {
        let whole = alt(ID, "35");
        tree.put(ID, "20240415", "OML-11", "20240415113000000", &whole[..whole.find("|U/L").unwrap()])
    });
    assert_eq!(quarantined, [format!("{file} 5 missing unit for a numeric alt result")]);
}

#[test]
fn site_quarantine_lists_what_an_import_set_aside_by_its_file_in_the_storage() {
    let (dir, _, file) = bad_input(|tree| {
        let whole = alt(ID, "35");
        tree.put(ID, "20240415", "OML-11", "20240415113000000", &whole[..whole.find("|U/L").unwrap()])
    });
    let listed = |extra: &[&str]| {
        let args = [&["site", "quarantine", "--site", "site", "--json"], extra].concat();
        let json = midnet(dir.path(), &args).ok().json();
        let rows = json["rows"].as_array().unwrap().clone();
        rows.iter()
            .map(|r| format!("{} {} {}", r["file"].as_str().unwrap(), r["line"], r["reasons"][0].as_str().unwrap()))
            .collect::<Vec<_>>()
    };
    let expected = [format!("{file} 5 missing unit for a numeric alt result")];
    assert_eq!(listed(&[]), expected);
    let name = file.rsplit('/').next().unwrap();
    assert_eq!(listed(&["--file", name]), expected, "a file of the storage is chosen by its name");
}

#[test]
fn a_segment_that_is_not_a_segment_makes_its_message_quarantined() {
    let (_dir, quarantined, file) = bad_input(|tree| {
        tree.put(ID, "20240415", "OML-11", "20240415113000000", &alt(ID, "35").replace("OBX|", "0bx!|"))
    });
    assert_eq!(
        quarantined,
        [format!("{file} 5 message: a segment name is three letters or digits: the message cannot be split")]
    );
}

#[test]
fn a_bad_date_is_quarantined_at_its_field_and_the_row_without_it() {
    let (_dir, quarantined, file) =
        bad_input(|tree| tree.put(ID, "-", "PPR-01", "20240415100000000", &diagnosis(ID, "2024-04-15", "K297")));
    assert_eq!(
        quarantined,
        [
            format!("{file} 3 PRB-7: not an HL7 time (YYYYMMDD[HH[MM[SS[.S]]]])"),
            format!("{file} 3 missing diagnosis_date"),
        ]
    );
}

#[test]
fn an_unknown_code_system_is_quarantined_without_quoting_it() {
    let (dir, quarantined, file) = bad_input(|tree| {
        tree.put(ID, "20240415", "OMP-01", "20240415102500000", &prescription(ID, "108665201", "Yamada"))
    });
    assert_eq!(quarantined, [format!("{file} 5 RXE-2: code system '…' is not one the import knows")]);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM drug_order"), 1, "the good patient's order only");
}

#[test]
fn a_local_code_waits_for_the_mapping() {
    let (dir, quarantined, _) =
        bad_input(|tree| tree.put(ID, "20240415", "OMP-01", "20240415102500000", &prescription(ID, "A123", "99HOSP")));
    assert_eq!(quarantined, Vec::<String>::new());
    assert_eq!(rows(dir.path(), "SELECT local_system || ' ' || local_code FROM local_row"), ["99HOSP A123"]);
}

/// Two current files of one key (the same order stored twice): the one stored later counts.
#[test]
fn of_a_duplicate_order_the_later_file_counts() {
    let (dir, quarantined, _) = bad_input(|tree| {
        tree.put_bytes((ID, "20240415", "OML-11", "000000000000001"), "20240415113000000", "1", &jis(&alt(ID, "35")));
        tree.put_bytes((ID, "20240415", "OML-11", "000000000000001"), "20240415120000000", "1", &jis(&alt(ID, "77")))
    });
    assert_eq!(quarantined, Vec::<String>::new());
    assert_eq!(rows(dir.path(), "SELECT value::VARCHAR FROM lab_result ORDER BY value"), ["35.0", "77.0"]);
}

#[test]
fn a_deletion_withdraws_the_rows_of_its_key_in_a_new_data_version() {
    let dir = tempdir();
    new_site(dir.path());
    let tree = Tree::new(dir.path());
    full_patient(&tree, ID);
    import(dir.path()).ok();
    let order = ORDER;
    tree.put_bytes((ID, "20240415", "OML-11", order), "20240420090000000", "0", b"");
    let deleted = import(dir.path()).ok().json();
    assert_eq!(
        (deleted["data_version"].as_i64(), deleted["files_withdrawn"].as_u64()),
        (Some(3), Some(1)),
        "{deleted}"
    );
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM lab_result"), 0);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM drug_order"), 1);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM patient"), 1);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM ssmix2_file WHERE withdrawn = 3"), 1);
}

/// A patient's EHR observation period runs from the first to the last day of care (the date folder)
/// of their current files, whatever became of the rows: a prescription waiting for the mapping and
/// a quarantined one count as days the hospital saw the patient; a deleted file takes its day away.
#[test]
fn the_observation_period_spans_the_days_of_care_of_the_current_files() {
    let dir = tempdir();
    new_site(dir.path());
    let tree = Tree::new(dir.path());
    full_patient(&tree, ID);
    full_patient(&tree, OTHER_ID);
    tree.put(ID, "20240320", "OMP-01", "20240320102500000", &prescription(ID, "A123", "99HOSP"));
    tree.put(ID, "20240503", "OMP-01", "20240503102500000", &prescription(ID, "108665201", "Yamada"));
    import(dir.path()).ok();
    let (key, other) = (patient_key(dir.path(), ID), patient_key(dir.path(), OTHER_ID));
    let periods = |dir: &Path| {
        rows(
            dir,
            "SELECT patient_key || ' ' || source || ' ' || start_date || ' ' || end_date FROM observation_period ORDER BY 1",
        )
    };
    let mut expected = [format!("{key} EHR 2024-03-20 2024-05-03"), format!("{other} EHR 2024-04-01 2024-04-15")];
    expected.sort();
    assert_eq!(periods(dir.path()), expected);

    tree.put_bytes((ID, "20240503", "OMP-01", ORDER), "20240504090000000", "0", b"");
    import(dir.path()).ok();
    let mut expected = [format!("{key} EHR 2024-03-20 2024-04-15"), format!("{other} EHR 2024-04-01 2024-04-15")];
    expected.sort();
    assert_eq!(periods(dir.path()), expected);
}

#[test]
fn an_unmatched_discharge_is_quarantined() {
    let (dir, quarantined, file) = bad_input(|tree| {
        tree.put(ID, "20240410", "ADT-52", "20240410110000000", &discharge(ID, "202404011000", "202404101000"))
    });
    assert_eq!(
        quarantined,
        [format!(
            "{file} 4 PV1-45: a discharge (ADT^A03) with no admission (ADT^A01) before it to pair with, among the patient's current ADT messages"
        )]
    );
    let key = patient_key(dir.path(), ID);
    assert_eq!(query_i64(dir.path(), &format!("SELECT count(*) FROM encounter WHERE patient_key = '{key}'")), 0);
}

/// A kill once everything is staged leaves the site as it was; the import run again brings it all
/// in; a kill after the commit leaves the new version, and the next import finds nothing new.
#[test]
fn a_kill_during_the_import_leaves_the_old_version_or_the_new() {
    let dir = tempdir();
    new_site(dir.path());
    let tree = Tree::new(dir.path());
    full_patient(&tree, ID);
    let args = ["site", "import", "ss-mix2", "--site", "site", "--json", "ssmix2"];
    let killed = midnet_with(dir.path(), &args, &[("MIDNET_CRASH_AT", "import-staged")], None);
    assert_ne!(killed.code, 0, "{}", killed.stderr);
    assert_eq!(query_i64(dir.path(), "SELECT max(data_version) FROM load_history"), 1);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM ssmix2_file"), 0);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM patient"), 0);
    let killed = midnet_with(dir.path(), &args, &[("MIDNET_CRASH_AT", "import-committed")], None);
    assert_ne!(killed.code, 0, "{}", killed.stderr);
    assert_eq!(query_i64(dir.path(), "SELECT max(data_version) FROM load_history"), 2);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM lab_result"), 1);
    let again = import(dir.path()).ok().json();
    assert_eq!(again["data_version"], serde_json::Value::Null, "{again}");
}

/// The lab file of `full_patient` for `id`, in the tree.
fn lab_file(tree: &Tree, id: &str) -> PathBuf {
    tree.root.join(format!(
        "{}/{}/{id}/20240415/OML-11/{id}_20240415_OML-11_{ORDER}_20240415113000000_01_1",
        &id[0..3],
        &id[3..6]
    ))
}

/// Set a file's modification time.
fn set_modified(path: &Path, time: std::time::SystemTime) {
    std::fs::File::options().write(true).open(path).unwrap().set_modified(time).unwrap();
}

/// A file whose size and modification time equal its record is taken as unchanged, unread: an
/// edit in place that keeps both is not seen by default, and is with `--verify-all`. A file whose
/// time changed but whose content did not is hashed, makes no data version, and its new time is
/// recorded so that the next import does not hash it again.
#[test]
fn a_file_edited_in_place_keeping_size_and_time_is_read_again_only_when_verified() {
    let dir = tempdir();
    new_site(dir.path());
    let tree = Tree::new(dir.path());
    full_patient(&tree, ID);
    import(dir.path()).ok();
    let lab = lab_file(&tree, ID);
    let modified = std::fs::metadata(&lab).unwrap().modified().unwrap();
    let edited = jis(&alt(ID, "53"));
    assert_eq!(edited.len() as u64, std::fs::metadata(&lab).unwrap().len(), "the edit keeps the size");
    std::fs::write(&lab, &edited).unwrap();
    set_modified(&lab, modified);
    let trusted = import(dir.path()).ok().json();
    assert_eq!((trusted["data_version"].as_i64(), trusted["files_read"].as_u64()), (None, Some(0)), "{trusted}");
    assert_eq!(rows(dir.path(), "SELECT value::VARCHAR FROM lab_result"), ["35.0"]);
    let args = ["site", "import", "ss-mix2", "--site", "site", "--json", "--verify-all", "ssmix2"];
    let verified = midnet(dir.path(), &args).ok().json();
    assert_eq!(
        (verified["data_version"].as_i64(), verified["files_changed"].as_u64(), verified["files_read"].as_u64()),
        (Some(3), Some(1), Some(1)),
        "{verified}"
    );
    assert_eq!(rows(dir.path(), "SELECT value::VARCHAR FROM lab_result"), ["53.0"]);
    // Touched, not changed: hashed once, no data version, the new time kept.
    set_modified(&lab, modified + std::time::Duration::from_secs(3600));
    let touched = import(dir.path()).ok().json();
    assert_eq!(
        (touched["data_version"].as_i64(), touched["files_touched"].as_u64(), touched["files_read"].as_u64()),
        (None, Some(1), Some(0)),
        "{touched}"
    );
    assert_eq!(query_i64(dir.path(), "SELECT max(data_version) FROM load_history"), 3);
    let again = import(dir.path()).ok().json();
    assert_eq!((again["data_version"].as_i64(), again["files_touched"].as_u64()), (None, Some(0)), "{again}");
}

/// The import goes a batch of patient folders at a time in one transaction: a kill between two
/// batches leaves the site as it was, the first import and a later one alike; the import run
/// again brings everything in.
#[test]
fn a_kill_between_batches_leaves_the_old_version() {
    let dir = tempdir();
    new_site(dir.path());
    let tree = Tree::new(dir.path());
    full_patient(&tree, ID);
    full_patient(&tree, OTHER_ID);
    let args = ["site", "import", "ss-mix2", "--site", "site", "--json", "--batch-patients", "1", "ssmix2"];
    let killed = midnet_with(dir.path(), &args, &[("MIDNET_CRASH_AT", "import-batch")], None);
    assert_eq!(killed.code, -1, "killed by a signal after the first batch\n{}", killed.stderr);
    assert_eq!(query_i64(dir.path(), "SELECT max(data_version) FROM load_history"), 1);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM ssmix2_file"), 0);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM patient"), 0);
    let first = midnet(dir.path(), &args).ok().json();
    assert_eq!((first["data_version"].as_i64(), first["files_read"].as_u64()), (Some(2), Some(14)), "{first}");
    // Both patients' lab results corrected: a kill after the second batch keeps neither.
    for (id, value) in [(ID, "41"), (OTHER_ID, "42")] {
        let old = lab_file(&tree, id);
        std::fs::rename(&old, old.to_string_lossy().replace("_01_1", "_01_2")).unwrap();
        tree.put(id, "20240415", "OML-11", "20240416090000000", &alt(id, value));
    }
    let killed = midnet_with(dir.path(), &args, &[("MIDNET_CRASH_AT", "import-batch:2")], None);
    assert_eq!(killed.code, -1, "killed by a signal after the second batch\n{}", killed.stderr);
    assert_eq!(query_i64(dir.path(), "SELECT max(data_version) FROM load_history"), 2);
    assert_eq!(rows(dir.path(), "SELECT value::VARCHAR FROM lab_result ORDER BY value"), ["35.0", "35.0"]);
    let again = midnet(dir.path(), &args).ok().json();
    assert_eq!((again["data_version"].as_i64(), again["files_withdrawn"].as_u64()), (Some(3), Some(2)), "{again}");
    assert_eq!(rows(dir.path(), "SELECT value::VARCHAR FROM lab_result ORDER BY value"), ["41.0", "42.0"]);
}

/// The import stages its rows in a scratch folder of the site, outside the transaction: a kill
/// leaves it (the site's data as it was), the next import removes it, and an import that ends
/// leaves none, with a data version or without.
#[test]
fn the_scratch_staging_is_removed_after_a_kill_and_after_an_import() {
    let dir = tempdir();
    new_site(dir.path());
    let tree = Tree::new(dir.path());
    full_patient(&tree, ID);
    full_patient(&tree, OTHER_ID);
    let scratch = dir.path().join("site/.ssmix2-staging");
    let args = ["site", "import", "ss-mix2", "--site", "site", "--json", "--batch-patients", "1", "ssmix2"];
    let killed = midnet_with(dir.path(), &args, &[("MIDNET_CRASH_AT", "import-batch")], None);
    assert_eq!(killed.code, -1, "killed by a signal after the first batch\n{}", killed.stderr);
    assert!(scratch.is_dir(), "the first batch's rows staged in {}", scratch.display());
    let first = midnet(dir.path(), &args).ok().json();
    assert_eq!(first["data_version"].as_i64(), Some(2), "{first}");
    assert!(!scratch.exists(), "{} left after the import", scratch.display());
    let again = midnet(dir.path(), &args).ok().json();
    assert_eq!(again["data_version"], serde_json::Value::Null, "{again}");
    assert!(!scratch.exists(), "{} left after an import with nothing new", scratch.display());
}

/// No name, address, phone, insurance number or hospital patient id of the storage reaches any
/// file of the site (database, write-ahead log, keys, logs), nor any text cell of its database,
/// bad messages and a quarantine included.
#[test]
fn no_identifying_value_reaches_the_site() {
    let dir = tempdir();
    new_site(dir.path());
    let tree = Tree::new(dir.path());
    full_patient(&tree, ID);
    full_patient(&tree, OTHER_ID);
    tree.put(ID, "20240416", "OMP-01", "20240416102500000", &prescription(ID, "108665201", INSURED));
    tree.put(ID, "20240417", "OML-11", "20240417113000000", &alt(ID, "35").replace("OBX|", "O!X|"));
    tree.put(OTHER_ID, "20240420", "ADT-52", "20240420110000000", &discharge(OTHER_ID, "202404191000", "202404201000"));
    import(dir.path()).ok();
    midnet(dir.path(), &["site", "check", "--site", "site"]).ok();
    assert!(query_i64(dir.path(), "SELECT count(*) FROM quarantine") >= 3);
    assert_nothing_identifying(&dir.path().join("site"), &IDENTIFYING.map(String::from));
}

/// None of `values` is in any file of the site (database, write-ahead log, keys, logs), in UTF-8 or
/// in ISO-2022-JP, nor in any text cell of its database (which compresses its strings).
fn assert_nothing_identifying(site: &Path, values: &[String]) {
    // Each value in both encodings, found by its first four bytes: one pass over each file.
    let mut by_head: std::collections::HashMap<[u8; 4], Vec<(Vec<u8>, &str)>> = Default::default();
    for value in values {
        for form in [value.as_bytes().to_vec(), jis(value)] {
            assert!(form.len() >= 4, "{value:?} is long enough to look for");
            by_head.entry(form[..4].try_into().unwrap()).or_default().push((form, value));
        }
    }
    let mut files = Vec::new();
    collect(site, &mut files);
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        for at in 0..bytes.len().saturating_sub(3) {
            for (form, value) in by_head.get(&bytes[at..at + 4]).into_iter().flatten() {
                assert!(!bytes[at..].starts_with(form), "{value:?} in {}", file.display());
            }
        }
    }
    let conn = open_site(site);
    let columns: Vec<(String, String)> = conn
        .prepare("SELECT table_name, column_name FROM duckdb_columns() WHERE data_type = 'VARCHAR' AND NOT internal")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let listed: Vec<String> = values.iter().map(|v| format!("('{}')", v.replace('\'', "''"))).collect();
    let identifying = format!("(VALUES {}) i(value)", listed.join(", "));
    for (table, column) in columns {
        let sql = format!(
            "SELECT coalesce(min(i.value), '') FROM \"{table}\" t JOIN {identifying} ON contains(t.\"{column}\", i.value)"
        );
        let found: String = conn.query_row(&sql, [], |r| r.get(0)).unwrap();
        assert_eq!(found, "", "an identifying value in {table}.{column}");
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// `site check` reports the storage's current messages by data kind.
#[test]
fn site_check_counts_messages_by_data_kind() {
    let (dir, _, _) = bad_input(|tree| {
        tree.put(ID, "20240415", "OML-11", "20240415113000000", &alt(ID, "35").replace("OBX|", "0bx!|"))
    });
    let check = midnet(dir.path(), &["site", "check", "--site", "site", "--json"]).ok().json();
    let oml: Vec<&serde_json::Value> =
        check["ssmix2_messages"].as_array().unwrap().iter().filter(|k| k["data_kind"] == "OML-11").collect();
    assert_eq!((oml[0]["read"].as_u64(), oml[0]["quarantined"].as_u64()), (Some(1), Some(1)), "{check}");
    let text = midnet(dir.path(), &["site", "check", "--site", "site"]).ok().stdout;
    assert!(text.contains("SS-MIX2 messages (current files) by data kind"), "{text}");
}

/// The columns of each table SS-MIX2 carries, and of the EHR observation periods the import derives
/// from the days of care; a CSV row's department and discharge destination as the storage writes
/// them (user tables 0069, 0112).
const CARRIED: [(&str, &[&str]); 7] = [
    ("patient", &["sex", "birth_date", "death_date"]),
    ("observation_period", &["start_date", "end_date"]),
    (
        "encounter",
        &[
            "encounter_type",
            "start_date",
            "end_date",
            "CASE department WHEN 'internal_medicine' THEN '01' WHEN '01' THEN '01' END",
            "CASE WHEN discharge_destination IN ('home', 'died') THEN discharge_destination \
             WHEN discharge_destination IS NOT NULL THEN 'other' END",
        ],
    ),
    (
        "diagnosis",
        &["icd10", "diagnosis_date", "end_date", "disease_outcome", "suspected", "main_diagnosis", "diagnosis_kind"],
    ),
    (
        "drug_order",
        &["yj_code", "order_date", "start_date", "days_supply", "daily_dose", "dose_unit", "route", "setting"],
    ),
    (
        "drug_administration",
        &["yj_code", "start_time", "end_time", "amount", "amount_unit", "rate", "rate_unit", "route", "setting"],
    ),
    (
        "lab_result",
        &[
            "jlac10",
            "specimen",
            "result_time",
            "value",
            "unit",
            "ref_low",
            "ref_high",
            "abnormal_flag",
            "value_text",
            "result_status",
        ],
    ),
];

/// The EHR rows of `table` of a site (every patient's, for the patient table) meeting `condition`,
/// sorted, each `key|columns`, the key translated by `key`.
fn carried_rows(site: &Path, table: &str, condition: &str, key: &dyn Fn(&str) -> String) -> Vec<String> {
    let columns = CARRIED.iter().find(|(t, _)| *t == table).unwrap().1;
    let source = if table == "patient" { "true" } else { "source = 'EHR'" };
    let texts: Vec<String> = columns.iter().map(|c| format!("coalesce(({c})::VARCHAR, '-')")).collect();
    let sql =
        format!("SELECT patient_key, concat_ws('|', {}) FROM {table} WHERE {source} AND {condition}", texts.join(", "));
    let conn = open_site(site);
    let mut stmt = conn.prepare(&sql).unwrap();
    let mut rows: Vec<String> = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .unwrap()
        .map(|r| {
            let (patient, columns) = r.unwrap();
            format!("{}|{columns}", key(&patient))
        })
        .collect();
    rows.sort();
    rows
}

/// The round trip: each synthetic site's SS-MIX2 tree imported into a site of its own gives, once
/// the tree's mapping is imported, the same rows, table for table, as its CSV files loaded (patient
/// keys translated through the truth file and the importing site's key); before the mapping, the
/// rows missing are exactly those written with a local code, and they wait.
#[test]
fn the_synthetic_storage_comes_in_as_its_csv_files_load() {
    let dir = tempdir();
    let synth = ["synth", "--site-count", "3", "--patients", "120", "--seed", "7", "--dir", "net"];
    midnet(dir.path(), &[&synth[..], &["--format", "csv,ss-mix2", "--dirty", "0", "--load", "--quiet"]].concat()).ok();
    for n in 1..=3 {
        round_trip(dir.path(), &dir.path().join(format!("net/site0{n}")), &format!("imported0{n}"));
    }
}

/// Import the tree of the synthetic site `csv_site` into a new site `name` and compare.
fn round_trip(dir: &Path, csv_site: &Path, name: &str) {
    midnet(dir, &["site", "init", "--site", name]).ok();
    let mut masters: Vec<String> =
        std::fs::read_dir(csv_site.join("masters")).unwrap().map(|e| e.unwrap().path().display().to_string()).collect();
    masters.sort();
    let mut args = vec!["site", "masters", "import", "--site", name];
    args.extend(masters.iter().map(String::as_str));
    midnet(dir, &args).ok();
    let tree = csv_site.join("ss-mix2").display().to_string();
    let report = midnet(dir, &["site", "import", "ss-mix2", "--site", name, "--json", &tree]).ok().json();
    assert!(report["data_version"].as_i64().is_some(), "{report}");

    let imported = dir.join(name);
    let key = hex::decode(std::fs::read_to_string(imported.join("keys/patient.key")).unwrap().trim()).unwrap();
    let truth = std::fs::read_to_string(csv_site.join("ss-mix2-patients.csv")).unwrap();
    let keys: std::collections::HashMap<String, String> = truth
        .lines()
        .skip(1)
        .map(|line| {
            let (hospital, csv_key) = line.split_once(',').unwrap();
            let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&key).unwrap();
            mac.update(hospital.as_bytes());
            (csv_key.to_string(), hex::encode(mac.finalize().into_bytes()))
        })
        .collect();
    let translated = |csv_key: &str| keys.get(csv_key).cloned().unwrap_or_else(|| format!("untranslated {csv_key}"));
    let same = |key: &str| key.to_string();

    // Before the mapping: the rows of the codes the tree writes as local ones wait.
    let mapping = std::fs::read_to_string(csv_site.join("ss-mix2-mapping.csv")).unwrap();
    let standard_codes = |kind: &str| -> String {
        let codes: Vec<String> = mapping
            .lines()
            .skip(1)
            .filter(|l| l.starts_with(&format!("{kind},")))
            .map(|l| format!("'{}'", l.rsplit(',').nth(1).unwrap()))
            .collect();
        if codes.is_empty() { "NULL".to_string() } else { codes.join(", ") }
    };
    for (table, _) in CARRIED {
        let local = match table {
            "drug_order" | "drug_administration" => format!("yj_code IN ({})", standard_codes("drug")),
            "lab_result" => format!("jlac10 IN ({})", standard_codes("lab")),
            "diagnosis" => format!("icd10 IN ({})", standard_codes("disease")),
            _ => "false".to_string(),
        };
        let expected = carried_rows(csv_site, table, &format!("NOT coalesce({local}, false)"), &translated);
        assert_eq!(carried_rows(&imported, table, "true", &same), expected, "{name}: {table} before the mapping");
        let waiting = carried_rows(csv_site, table, &format!("coalesce({local}, false)"), &translated).len() as i64;
        let sql = format!("SELECT count(*) FROM local_row WHERE table_name = '{table}' AND brought_in IS NULL");
        let found: i64 = open_site(&imported).query_row(&sql, [], |r| r.get(0)).unwrap();
        assert_eq!(found, waiting, "{name}: {table}: the rows of local codes wait");
    }

    let identifying: Vec<String> = std::fs::read_to_string(csv_site.join("ss-mix2-identifying.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| line.split_once(',').unwrap().1.to_string())
        .collect();
    assert!(identifying.len() > 100, "{name}: the synthetic storage's identifying values are listed");
    assert_nothing_identifying(&imported, &identifying);

    let mapping_file = csv_site.join("ss-mix2-mapping.csv").display().to_string();
    midnet(dir, &["site", "mapping", "import", "--site", name, "--by", "Sato Hanako", &mapping_file]).ok();
    for (table, _) in CARRIED {
        let expected = carried_rows(csv_site, table, "true", &translated);
        assert!(!expected.is_empty() || table == "drug_administration", "{name}: {table} has rows");
        assert_eq!(carried_rows(&imported, table, "true", &same), expected, "{name}: {table} after the mapping");
    }
}
