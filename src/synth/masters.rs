//! The synthetic network's official masters: the built-in drug and ICD-10 masters
//! (`sql/masters/`) written as the MEDIS HOT master and the 支払基金's drug (y) and disease (b)
//! masters, with a modifier master (z: の疑い) and a procedure master (s: the procedures the
//! synthetic hospitals bill), in their published layouts and encoding, for each site to import with
//! `site masters import` as a hospital would.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};
use crate::site::masters::layout::{self, MasterKind};

/// The masters' directory of a synthesised site, relative to its site directory.
pub const MASTERS_DIR: &str = "masters";

/// The date the synthetic masters are published on (their 変更年月日, 収載年月日).
const PUBLISHED: &str = "2024-04-01";

/// The master files' names, in the order they are imported: the modifier master's names its
/// publication date, as it carries none in its records.
const MASTER_FILES: [&str; 5] = ["MEDIS20240401.TXT", "y.csv", "b.csv", "z_20240401.csv", "s.csv"];

/// The master files of a synthesised site, in the order they are imported.
pub fn master_files(site: &Path) -> Vec<PathBuf> {
    MASTER_FILES.iter().map(|name| site.join(MASTERS_DIR).join(name)).collect()
}

/// Write the masters into `site`'s masters directory.
pub fn write(site: &Path) -> Result<()> {
    let dir = site.join(MASTERS_DIR);
    std::fs::create_dir_all(&dir).at(&dir)?;
    let texts = [hot_master()?, drug_master()?, disease_master()?, modifier_master(), procedure_master()];
    for (path, text) in master_files(site).iter().zip(texts) {
        let bytes = layout::encode(&text)
            .ok_or_else(|| Error::Internal(format!("{}: a master text without a Shift_JIS form", path.display())))?;
        crate::store::write_atomically(path, &bytes)?;
    }
    Ok(())
}

/// The rows of a built-in master.
pub(super) fn built_in(table: &str) -> Result<Vec<csv::StringRecord>> {
    let text = crate::schema::MASTERS.iter().find(|(t, _)| *t == table).expect("a built-in master").1;
    csv::Reader::from_reader(text.as_bytes())
        .records()
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::Internal(format!("embedded master {table}: {e}")))
}

/// The レセプト電算 drug code of the `i`th drug of the built-in master (y and the HOT master agree).
fn receipt_code(i: usize) -> String {
    format!("62{:07}", i + 1)
}

/// The 傷病名コード of the `i`th disease of the built-in ICD-10 master.
fn disease_code(i: usize) -> String {
    format!("88{:05}", i + 1)
}

/// YJ code to the レセプト電算 drug code, as the synthetic drug master (y) has them.
pub(super) fn receipt_codes() -> Result<HashMap<String, String>> {
    Ok(built_in("drug_master")?.iter().enumerate().map(|(i, drug)| (drug[0].to_string(), receipt_code(i))).collect())
}

/// ICD-10 to the 傷病名コード, as the synthetic disease master (b) has them.
pub(super) fn disease_codes() -> Result<HashMap<String, String>> {
    Ok(built_in("icd10_master")?.iter().enumerate().map(|(i, d)| (d[0].to_string(), disease_code(i))).collect())
}

/// The HOT13 code of the `i`th drug of the built-in master.
fn hot_code(i: usize) -> String {
    format!("{:07}{:06}", 1_000_001 + i, 10_101)
}

/// The 病名管理番号 of the `i`th disease of the built-in ICD-10 master.
fn management_number(i: usize) -> String {
    format!("2{:07}", i + 1)
}

/// YJ code to HOT13, as the synthetic HOT master has them.
pub(super) fn hot_codes() -> Result<HashMap<String, String>> {
    Ok(built_in("drug_master")?.iter().enumerate().map(|(i, drug)| (drug[0].to_string(), hot_code(i))).collect())
}

/// ICD-10 to the 病名管理番号 and name, as the synthetic disease master has them.
pub(super) fn management_numbers() -> Result<HashMap<String, (String, String)>> {
    Ok(built_in("icd10_master")?
        .iter()
        .enumerate()
        .map(|(i, disease)| (disease[0].to_string(), (management_number(i), disease[1].to_string())))
        .collect())
}

/// The MEDIS HOT13 master: one HOT code per YJ code, with its YJ and レセプト電算 codes.
fn hot_master() -> Result<String> {
    let drugs = built_in("drug_master")?;
    let codes: Vec<(String, String)> = (0..drugs.len()).map(|i| (hot_code(i), receipt_code(i))).collect();
    let records: Vec<Vec<(&str, &str)>> = drugs
        .iter()
        .zip(&codes)
        .map(|(drug, (hot, receipt))| {
            vec![
                ("hot_code", hot.as_str()),
                ("hot7", &hot[..7]),
                ("price_listing_code", &drug[0]),
                ("yj_code", &drug[0]),
                ("receipt_code", receipt.as_str()),
                ("notice_name", &drug[1]),
                ("brand_name", &drug[1]),
                ("updated", PUBLISHED),
            ]
        })
        .collect();
    Ok(layout::hot_file(&records))
}

/// The 修飾語マスター: the suffix の疑い (`8002`), which makes a claim's diagnosis a suspected one.
fn modifier_master() -> String {
    let row = [("modifier_code", "8002"), ("name", "の疑い"), ("management_number", "28002000")];
    layout::ssk_record(MasterKind::Modifier, &row)
}

/// The 医科診療行為マスター: the procedures the synthetic hospitals bill.
fn procedure_master() -> String {
    use crate::synth::catalog::{PROCEDURE_ADMISSION, PROCEDURE_LAB_PANEL, PROCEDURE_OUTPATIENT_VISIT};
    [
        (PROCEDURE_OUTPATIENT_VISIT, "再診料"),
        (PROCEDURE_LAB_PANEL, "検体検査判断料"),
        (PROCEDURE_ADMISSION, "入院基本料"),
    ]
    .iter()
    .map(|(code, name)| {
        let row = [("procedure_code", *code), ("name", *name), ("changed", PUBLISHED)];
        layout::ssk_record(MasterKind::Procedure, &row)
    })
    .collect()
}

/// The 医薬品マスター: one レセプト電算 code per YJ code, its 剤形 from the route, its unit the one
/// the synthetic orders' doses are in (the claims' 使用量 of an injection is in it).
fn drug_master() -> Result<String> {
    let mut text = String::new();
    for (i, drug) in built_in("drug_master")?.iter().enumerate() {
        let (yj, ingredient, route) = (&drug[0], &drug[1], &drug[4]);
        let code = receipt_code(i);
        let (_, unit) = super::typical_dose(ingredient);
        let dosage_form = match route {
            "oral" => "1",
            "injection" => "4",
            "topical" => "6",
            _ => "3",
        };
        let row = [
            ("drug_code", code.as_str()),
            ("name", ingredient),
            ("unit_name", unit),
            ("dosage_form", dosage_form),
            ("changed", PUBLISHED),
            ("yj_code", yj),
            ("base_name", ingredient),
        ];
        text.push_str(&layout::ssk_record(MasterKind::Drug, &row));
    }
    Ok(text)
}

/// The 傷病名マスター: one 傷病名コード and 病名管理番号 per ICD-10 code (both editions the same).
fn disease_master() -> Result<String> {
    let mut text = String::new();
    for (i, disease) in built_in("icd10_master")?.iter().enumerate() {
        let (icd10, name) = (&disease[0], &disease[1]);
        let code = disease_code(i);
        let management_number = management_number(i);
        let row = [
            ("disease_code", code.as_str()),
            ("name", name),
            ("management_number", management_number.as_str()),
            ("icd10_2003_1", icd10),
            ("icd10_2013_1", icd10),
            ("listed", PUBLISHED),
            ("changed", PUBLISHED),
        ];
        text.push_str(&layout::ssk_record(MasterKind::Disease, &row));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What synth writes is read back by the import's reader, every built-in code kept.
    #[test]
    fn the_synthetic_masters_read_back_in_their_published_layouts() {
        let drugs = built_in("drug_master").unwrap().len();
        for (text, kind, rows) in [
            (hot_master().unwrap(), MasterKind::Hot13, drugs),
            (drug_master().unwrap(), MasterKind::Drug, drugs),
            (disease_master().unwrap(), MasterKind::Disease, built_in("icd10_master").unwrap().len()),
            (modifier_master(), MasterKind::Modifier, 1),
            (procedure_master(), MasterKind::Procedure, 3),
        ] {
            let bytes = layout::encode(&text).unwrap();
            let read = layout::read("synthetic_20240401.csv", &bytes).unwrap();
            assert_eq!(read.kind, kind);
            assert_eq!(read.published, PUBLISHED);
            assert_eq!(read.rows.len(), rows);
        }
    }
}
