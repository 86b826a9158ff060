//! A synthetic hospital whose claims and DPC number patients apart from its EHR (`midnet synth
//! --linked-numbers`): the claims' カルテ番号 and DPC's データ識別番号 of each patient are numbers of
//! their own, and the hospital's link file (`link.csv`, for `site link`) ties them to the EHR's
//! patient id. The site's first patient has no カルテ番号 on their receipts: the link ties their
//! insurance numbers instead, as a hospital whose claims leave RE-14 empty would.

use std::path::Path;

use super::ssmix2::hospital_id;
use crate::error::{IoContext, Result};

/// The link file, in a synthesised site's directory.
pub const LINK_FILE: &str = "link.csv";

/// A patient's カルテ番号 on the claims of a site numbering them apart: none for the first patient.
pub fn claims_number(idx: u64) -> Option<String> {
    (idx > 0).then(|| format!("R{:09}", idx + 1))
}

/// A patient's データ識別番号 in the DPC files of a site numbering them apart.
pub fn dpc_number(idx: u64) -> String {
    format!("{:010}", 7_000_000_000 + idx)
}

/// A patient's insurance numbers on their receipts' HO: 保険者番号, 記号 and 番号 (full-width, as
/// a hospital's system may write them).
pub fn insurance(idx: u64) -> [String; 3] {
    let number: String = format!("{}", 1_000 + idx)
        .chars()
        .map(|c| char::from_u32(c as u32 + 0xfee0).expect("a full-width digit"))
        .collect();
    ["06139999".to_string(), "１２３".to_string(), number]
}

/// Write the link of the site in `site_dir`, with `patients` patients, for its claims and DPC.
pub fn write(site_dir: &Path, patients: u64, claims: bool, dpc: bool) -> Result<()> {
    let mut text = String::from("source,source_id,patient_id\n");
    for idx in 0..patients {
        let ehr = hospital_id(idx);
        if claims {
            match claims_number(idx) {
                Some(number) => text.push_str(&format!("receipt,{number},{ehr}\n")),
                None => text.push_str(&format!("insurance,{},{ehr}\n", insurance(idx).join("/"))),
            }
        }
        if dpc {
            text.push_str(&format!("dpc,{},{ehr}\n", dpc_number(idx)));
        }
    }
    let path = site_dir.join(LINK_FILE);
    std::fs::write(&path, text).at(&path)
}
