//! The synthetic network's official masters: the built-in drug and ICD-10 masters
//! (`sql/masters/`) written as the 支払基金's drug (y) and disease (b) masters, in their published
//! layout and encoding, for each site to import with `site masters import` as a hospital would.

use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};
use crate::site::masters::layout::{self, MasterKind};

/// The masters' directory of a synthesised site, relative to its site directory.
pub const MASTERS_DIR: &str = "masters";

/// The date the synthetic masters are published on (their 変更年月日, 収載年月日).
const PUBLISHED: &str = "2024-04-01";

/// The master files of a synthesised site, in the order they are imported.
pub fn master_files(site: &Path) -> Vec<PathBuf> {
    ["y.csv", "b.csv"].iter().map(|name| site.join(MASTERS_DIR).join(name)).collect()
}

/// Write the masters into `site`'s masters directory.
pub fn write(site: &Path) -> Result<()> {
    let dir = site.join(MASTERS_DIR);
    std::fs::create_dir_all(&dir).at(&dir)?;
    let [y, b] = [drug_master()?, disease_master()?];
    for (path, text) in master_files(site).iter().zip([y, b]) {
        let bytes = layout::encode(&text)
            .ok_or_else(|| Error::Internal(format!("{}: a master text without a Shift_JIS form", path.display())))?;
        crate::store::write_atomically(path, &bytes)?;
    }
    Ok(())
}

/// The rows of a built-in master (its header first).
fn built_in(table: &str) -> Result<Vec<csv::StringRecord>> {
    let text = crate::schema::MASTERS.iter().find(|(t, _)| *t == table).expect("a built-in master").1;
    csv::Reader::from_reader(text.as_bytes())
        .records()
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::Internal(format!("embedded master {table}: {e}")))
}

/// The 医薬品マスター: one レセプト電算 code per YJ code, its 剤形 from the route.
fn drug_master() -> Result<String> {
    let mut text = String::new();
    for (i, drug) in built_in("drug_master")?.iter().enumerate() {
        let (yj, ingredient, route) = (&drug[0], &drug[1], &drug[4]);
        let code = format!("62{:07}", i + 1);
        let dosage_form = match route {
            "oral" => "1",
            "injection" => "4",
            "topical" => "6",
            _ => "3",
        };
        let row = [
            ("drug_code", code.as_str()),
            ("name", ingredient),
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
        let code = format!("88{:05}", i + 1);
        let management_number = format!("2{:07}", i + 1);
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
        for (text, kind, built_in_table) in [
            (drug_master().unwrap(), MasterKind::Drug, "drug_master"),
            (disease_master().unwrap(), MasterKind::Disease, "icd10_master"),
        ] {
            let bytes = layout::encode(&text).unwrap();
            let read = layout::read("synthetic.csv", &bytes).unwrap();
            assert_eq!(read.kind, kind);
            assert_eq!(read.published, PUBLISHED);
            assert_eq!(read.rows.len(), built_in(built_in_table).unwrap().len());
        }
    }
}
