//! `midnet site link`: the hospital's link between the numbers its claims and DPC files give a
//! patient and its EHR patient id. A bad link file is refused naming file and line, and nothing is
//! registered; the site keeps keyed hashes only; claims (by カルテ番号, or by insurance numbers for a
//! receipt without one) and DPC imported through the link get the EHR patient's key, which
//! `site check` counts as linked; the synthetic network numbering its claims and DPC apart gives
//! the keys of the CSV load.

use std::collections::HashMap;
use std::path::Path;

use crate::common::{Run, midnet, tempdir};
use crate::receipt::{CHART, claims, put, rec, visit};

fn hmac_key(site: &Path) -> Vec<u8> {
    hex::decode(std::fs::read_to_string(site.join("keys/patient.key")).unwrap().trim()).unwrap()
}

fn patient_key(site: &Path, id: &str) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&hmac_key(site)).unwrap();
    mac.update(id.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn link(dir: &Path, text: &[u8]) -> Run {
    std::fs::write(dir.join("link.csv"), text).unwrap();
    midnet(dir, &["site", "link", "--site", "site", "link.csv", "--json"])
}

fn rows(dir: &Path, sql: &str) -> Vec<String> {
    let config = duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly).unwrap();
    let conn = duckdb::Connection::open_with_flags(dir.join("site/site.duckdb"), config).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    let mut rows: Vec<String> = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap().map(Result::unwrap).collect();
    rows.sort();
    rows
}

const GOOD: &str = "source,source_id,patient_id\nreceipt,2000123457,P-0001\n";

/// A bad link file is refused naming the file and its line; the link registered before stays.
fn refused(text: &[u8], expected: &str) {
    let dir = tempdir();
    midnet(dir.path(), &["site", "init", "--site", "site"]).ok();
    link(dir.path(), GOOD.as_bytes()).ok();
    let stored = dir.path().join("site/keys/patient-link.json");
    let before = std::fs::read(&stored).unwrap();
    let run = link(dir.path(), text).fails(2, expected);
    assert!(run.stderr.contains("link.csv"), "{}", run.stderr);
    assert!(run.stderr.contains("no link was registered"), "{}", run.stderr);
    assert_eq!(std::fs::read(&stored).unwrap(), before, "the link registered before stays");
}

#[test]
fn a_link_file_that_is_not_utf8_is_refused_at_its_line() {
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("source,source_id,patient_id\nreceipt,１２３,P-0001\n");
    refused(&sjis, "line 2: not UTF-8");
}

#[test]
fn a_link_file_with_the_wrong_header_is_refused() {
    refused(b"source,chart,patient\nreceipt,2000123457,P-0001\n", "line 1: the header is not");
}

#[test]
fn a_number_linked_to_two_patients_is_refused_at_its_line() {
    let text =
        "source,source_id,patient_id\nreceipt,2000123457,P-0001\ndpc,2000123457,P-0002\nreceipt,2000123457,P-0003\n";
    refused(text.as_bytes(), "line 4: the receipt number of line 2 linked to another patient");
}

#[test]
fn an_empty_number_is_refused_at_its_line() {
    refused(b"source,source_id,patient_id\nreceipt,2000123457,P-0001\ndpc,,P-0002\n", "line 3: an empty source_id");
}

#[test]
fn an_unknown_source_is_refused_at_its_line() {
    refused(b"source,source_id,patient_id\nclaims,2000123457,P-0001\n", "line 2: source is not one of");
}

/// Receipts with a カルテ番号 the link lists, without one but with insurance numbers it lists, and
/// without either: the first two get the EHR patients' keys, the third is quarantined saying so;
/// DPC's データ識別番号 links alike; the site keeps no number in clear; `site check` counts the links.
#[test]
fn claims_and_dpc_numbered_apart_come_in_under_the_ehr_patients_keys() {
    let dir = tempdir();
    crate::receipt::new_site(dir.path());
    let registered = link(
        dir.path(),
        "source,source_id,patient_id\nreceipt,2000123457,P-0001\ninsurance,06139999/123/8888,P-0002\n\
         dpc,0000012345,P-0001\n"
            .as_bytes(),
    )
    .ok()
    .json();
    assert_eq!(registered["linked"], serde_json::json!({"dpc": 1, "insurance": 1, "receipt": 1}), "{registered}");
    let stored = std::fs::read_to_string(dir.path().join("site/keys/patient-link.json")).unwrap();
    for clear in ["2000123457", "8888", "８８８８", "P-0001", "0000012345"] {
        assert!(!stored.contains(clear), "{clear} is kept in clear");
    }

    // One file: the receipt of CHART, then two without a カルテ番号 (insured 8888 and 9999).
    let mut records = claims("202403", 75, &[visit(&[(5, "1")])]);
    let go = records.pop().unwrap();
    for (number, day) in [("８８８８", "6"), ("９９９９", "7")] {
        records.push(rec(38, &["RE", "2", "1112", "202403", "架空　次郎", "1", "19700101"]));
        records.push(rec(15, &["HO", "06139999", "１２３", number, "1", "75"]));
        records.push(visit(&[(day.parse().unwrap(), "1")]));
    }
    records.push(go);
    let file = put(dir.path(), "202404", &records);
    crate::receipt::import(dir.path(), &[&file]).ok();
    let site = dir.path().join("site");
    let (p1, p2) = (patient_key(&site, "P-0001"), patient_key(&site, "P-0002"));
    let mut expected = vec![format!("{p1} 2024-03-05"), format!("{p2} 2024-03-06")];
    expected.sort();
    assert_eq!(rows(dir.path(), "SELECT patient_key || ' ' || procedure_date FROM procedure"), expected);
    assert_eq!(
        rows(dir.path(), "SELECT line || ' ' || reason FROM quarantine"),
        ["8 RE-14: no カルテ番号, and the site's link (`site link`) has not the receipt's insurance numbers, so its \
          patient cannot be linked: its records are not read"]
    );
    assert!(!rows(dir.path(), "SELECT patient_key FROM patient").contains(&patient_key(&site, CHART)));

    crate::dpc::put(dir.path(), "FF1.txt", &crate::dpc::stay());
    crate::dpc::import(dir.path(), &["FF1.txt"]).ok();
    assert_eq!(rows(dir.path(), "SELECT patient_key FROM encounter WHERE source = 'DPC'"), std::slice::from_ref(&p1));

    let check = midnet(dir.path(), &["site", "check", "--site", "site", "--json"]).ok().json();
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
    assert_eq!(linked["CLAIMS"], (2, 1), "{check}");
    assert_eq!(linked["DPC"], (1, 1), "{check}");
}

/// A synthetic network whose claims and DPC number patients apart from the EHR, with each
/// hospital's link file: imported through the link, a patient present in all three sources has
/// one key, the key of the CSV load's patient.
#[test]
fn a_network_numbering_its_claims_and_dpc_apart_links_through_the_hospitals_file() {
    let dir = tempdir();
    let synth = ["synth", "--site-count", "3", "--patients", "40", "--seed", "11", "--dir", "net", "--dirty", "0"];
    midnet(dir.path(), &[&synth[..], &["--format", "csv,ss-mix2,receipt,dpc", "--linked-numbers", "--quiet"]].concat())
        .ok();
    let synth_site = (1..=3)
        .map(|n| dir.path().join(format!("net/site0{n}")))
        .find(|s| s.join("receipt").is_dir() && s.join("dpc").is_dir())
        .expect("a synthetic site has claims and DPC");
    let site = dir.path().join("site");
    midnet(dir.path(), &["site", "init", "--site", "site"]).ok();
    let mut masters: Vec<String> = std::fs::read_dir(synth_site.join("masters"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    masters.sort();
    midnet(
        dir.path(),
        &[
            &["site", "masters", "import", "--site", "site"][..],
            &masters.iter().map(String::as_str).collect::<Vec<_>>(),
        ]
        .concat(),
    )
    .ok();
    let link_file = synth_site.join("link.csv").display().to_string();
    midnet(dir.path(), &["site", "link", "--site", "site", &link_file]).ok();
    midnet(
        dir.path(),
        &["site", "import", "ss-mix2", "--site", "site", &synth_site.join("ss-mix2").display().to_string()],
    )
    .ok();
    let mut claims: Vec<String> = std::fs::read_dir(synth_site.join("receipt"))
        .unwrap()
        .map(|e| e.unwrap().path().join("RECEIPTC.UKE").display().to_string())
        .collect();
    claims.sort();
    let receipt = midnet(
        dir.path(),
        &[&["site", "import", "receipt", "--site", "site"][..], &claims.iter().map(String::as_str).collect::<Vec<_>>()]
            .concat(),
    );
    receipt.ok();
    midnet(dir.path(), &["site", "import", "dpc", "--site", "site", &synth_site.join("dpc").display().to_string()])
        .ok();

    assert_eq!(rows(dir.path(), "SELECT count(*)::VARCHAR FROM quarantine WHERE reason LIKE 'RE-14%'"), ["0"]);
    // Every imported patient key is the key of an EHR id of the truth files (the CSV load's patients).
    let truth = std::fs::read_to_string(synth_site.join("receipt-patients.csv")).unwrap();
    let ehr_keys: Vec<String> =
        truth.lines().skip(1).map(|l| patient_key(&site, l.split(',').next().unwrap())).collect();
    let keys = rows(
        dir.path(),
        "SELECT DISTINCT patient_key FROM (SELECT patient_key FROM procedure WHERE source = 'CLAIMS' UNION ALL \
         SELECT patient_key FROM encounter WHERE source = 'DPC')",
    );
    assert!(!keys.is_empty());
    let strays: Vec<&String> = keys.iter().filter(|k| !ehr_keys.contains(k)).collect();
    assert!(strays.is_empty(), "keys that are no EHR patient's: {strays:?}");
    let first = patient_key(&site, truth.lines().nth(1).unwrap().split(',').next().unwrap());
    let of_first =
        format!("SELECT count(*)::VARCHAR FROM procedure WHERE source = 'CLAIMS' AND patient_key = '{first}'");
    assert_ne!(rows(dir.path(), &of_first), ["0"], "the receipts without a カルテ番号 linked by insurance");
    let in_all_three = "SELECT count(*)::VARCHAR FROM patient p WHERE \
         EXISTS (SELECT 1 FROM encounter e WHERE e.patient_key = p.patient_key AND e.source = 'EHR') AND \
         EXISTS (SELECT 1 FROM procedure c WHERE c.patient_key = p.patient_key AND c.source = 'CLAIMS') AND \
         EXISTS (SELECT 1 FROM encounter d WHERE d.patient_key = p.patient_key AND d.source = 'DPC')";
    assert_ne!(rows(dir.path(), in_all_three), ["0"], "a patient of all three sources has one key");
}
