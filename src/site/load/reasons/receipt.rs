//! Every reason the claims import quarantines a record with, in one place: the reader and the
//! import (`site::receipt`) write them, and the quarantine's listing (the parent module) reads them
//! back (they live here, below the import, as the listing needs them and the import needs the load), showing their text and never a value of the file. A stored reason is `<where>: <reason>`,
//! `<where>` a record (`SY`) or one of its fields (`SY-3`).

pub const NOT_A_RECORD: &str = "not a record of the 記録条件仕様 (医科用 or DPC用)";
/// What `NOT_A_RECORD` said before the DPC form was read: still in the quarantine of sites that
/// imported claims then, and shown as it is.
pub const NOT_A_RECORD_OF_THE_MEDICAL_FORM: &str = "not a record of the 記録条件仕様 (医科)";
pub const DPC_RECORD_OF_MEDICAL_RECEIPT: &str =
    "a record of the DPC form (記録条件仕様 DPC用) in a receipt of the 医科 form (its レセプト種別 not 4xxx)";
pub const BEFORE_FIRST_RECEIPT: &str = "before the first receipt (RE)";
pub const NOT_A_PAYER: &str = "not a 審査支払機関 (1 or 2)";
pub const NOT_A_KIND: &str = "not a 4-digit レセプト種別 (別表5)";
pub const NO_CARE_MONTH: &str = "no 診療年月";
pub const NOT_A_SEX: &str = "not a 男女区分 (1 or 2)";
pub const NOT_A_NUMBER: &str = "not a whole number";
pub const NOT_A_DISEASE_CODE: &str = "not a 7-digit 傷病名コード";
pub const NOT_AN_OUTCOME: &str = "not a 転帰区分 (1-4, 別表18)";
pub const NOT_MODIFIERS: &str = "not a run of 4-digit 修飾語 codes";
pub const NOT_A_PROCEDURE_CODE: &str = "not a 9-digit code starting with 1";
pub const NOT_A_DRUG_CODE: &str = "not a 9-digit code starting with 6";
pub const NOT_A_MATERIAL_CODE: &str = "not a 9-digit code starting with 7";
pub const NOT_AN_AMOUNT: &str = "not an amount";
pub const TEXT_AFTER_EOF: &str = "text after the end-of-file byte 0x1A";
pub const NOT_DATE_DIGITS: &str = "not a date: digits only (YYYYMMDD, or GYYMMDD with G the era 1-5)";
pub const NOT_A_DATE: &str = "not a date (YYYYMMDD, or GYYMMDD with G the era 1-5)";
pub const NOT_MONTH_DIGITS: &str = "not a month: digits only (YYYYMM, or GYYMM with G the era 1-5)";
pub const NOT_A_MONTH: &str = "not a month (YYYYMM, or GYYMM with G the era 1-5)";
pub const NOT_LINKED: &str = "no カルテ番号, and the site's link (`site link`) has not the receipt's insurance numbers, so \
     its patient cannot be linked: its records are not read";
pub const NO_START: &str = "no 診療開始日";
pub const UNCODED_DIAGNOSIS: &str = "0000999, a diagnosis without a code: its name is free text, not read";
pub const UNKNOWN_DISEASE: &str = "a 傷病名コード the disease master has not";
pub const UNKNOWN_DRUG: &str = "a レセプト電算 drug code the drug master has not";
pub const UNKNOWN_PROCEDURE: &str = "a 診療行為コード the procedure master has not";
pub const NO_ADMISSION: &str = "an inpatient receipt without 入院年月日: its stay is not made";
pub const ADMITTED_AFTER_CARE_MONTH: &str = "入院年月日 after the month of care: its stay is not made";

/// Every reason without a number in it.
pub const FIXED: [&str; 29] = [
    NOT_A_RECORD,
    NOT_A_RECORD_OF_THE_MEDICAL_FORM,
    DPC_RECORD_OF_MEDICAL_RECEIPT,
    BEFORE_FIRST_RECEIPT,
    NOT_A_PAYER,
    NOT_A_KIND,
    NO_CARE_MONTH,
    NOT_A_SEX,
    NOT_A_NUMBER,
    NOT_A_DISEASE_CODE,
    NOT_AN_OUTCOME,
    NOT_MODIFIERS,
    NOT_A_PROCEDURE_CODE,
    NOT_A_DRUG_CODE,
    NOT_A_MATERIAL_CODE,
    NOT_AN_AMOUNT,
    TEXT_AFTER_EOF,
    NOT_DATE_DIGITS,
    NOT_A_DATE,
    NOT_MONTH_DIGITS,
    NOT_A_MONTH,
    NOT_LINKED,
    NO_START,
    UNCODED_DIAGNOSIS,
    UNKNOWN_DISEASE,
    UNKNOWN_DRUG,
    UNKNOWN_PROCEDURE,
    NO_ADMISSION,
    ADMITTED_AFTER_CARE_MONTH,
];

/// A reason with numbers in it (counts, days, lines: never a value of a patient): its texts, a
/// number between each two.
#[derive(Debug, Clone, Copy)]
pub struct Numbered(pub &'static [&'static str]);

pub const FIELD_COUNT: Numbered = Numbered(&["", " fields, where the 記録条件仕様 has ", ""]);
pub const OF_UNREADABLE_RECEIPT: Numbered = Numbered(&["of the receipt on line ", ", which could not be read"]);
pub const DAY_NOT_IN_MONTH: Numbered = Numbered(&["a count on day ", ", which the month has not"]);

/// Every reason with numbers in it.
pub const NUMBERED: [Numbered; 3] = [FIELD_COUNT, OF_UNREADABLE_RECEIPT, DAY_NOT_IN_MONTH];

impl Numbered {
    pub fn with(&self, numbers: &[u64]) -> String {
        let mut text = self.0[0].to_string();
        for (number, after) in numbers.iter().zip(&self.0[1..]) {
            text.push_str(&format!("{number}{after}"));
        }
        text
    }
}

/// Whether `text` can be the place of a stored reason: a record id of two capital letters, or
/// one of its fields (`SY-3`).
pub fn is_place(text: &str) -> bool {
    let (record, field) = text.split_once('-').unwrap_or((text, "1"));
    record.len() == 2
        && record.bytes().all(|b| b.is_ascii_uppercase())
        && !field.is_empty()
        && field.len() <= 2
        && field.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_reasons_put_their_numbers_between_their_texts() {
        assert_eq!(FIELD_COUNT.with(&[7, 8]), "7 fields, where the 記録条件仕様 has 8");
        assert_eq!(DAY_NOT_IN_MONTH.with(&[31]), "a count on day 31, which the month has not");
        assert!(is_place("SY-3") && is_place("XX") && !is_place("山田") && !is_place("SY-"));
    }
}
