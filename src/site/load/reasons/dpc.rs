//! Every reason the DPC import quarantines a line with, in one place: the reader and the import
//! (`site::dpc`) write them, and the quarantine's listing (the parent module) reads them back,
//! showing their text and never a value of the file. A stored reason is `<where>: <reason>`,
//! `<where>` a column of a line: `FF-10` of a 様式1 line, `EF-17` of an EF統合ファイル line (the same
//! form as a claims record's field, so the listing reads both alike).

use super::receipt::Numbered;

pub const NOT_A_FACILITY: &str = "not a 9-digit 施設コード";
pub const NOT_A_DATA_ID: &str = "not a データ識別番号 (digits, at most 10)";
pub const NOT_A_DATE: &str = "not a date (YYYYMMDD)";
pub const NOT_A_NUMBER: &str = "not a whole number";
pub const NOT_AN_AMOUNT: &str = "not an amount";
pub const NOT_A_RECORD_CODE: &str = "not a 様式1 コード (a capital letter, then letters or digits, 7 in all)";
pub const NOT_A_SEX: &str = "not a 性別 of A000010 (1 男, 2 女)";
pub const NOT_A_ROUTE: &str = "not a 入院経路 of A000020 (0, 1, 4, 5, 8, 9)";
pub const NOT_A_DESTINATION: &str = "not a 退院先 of A000030 (0-9, a)";
pub const NOT_AN_OUTCOME: &str = "not a 退院時転帰 of A000030 (1, 3, 4, 5, 6, 7, 9)";
pub const NOT_AN_ICD10: &str = "not an ICD-10 code without its dot (E119)";
pub const NOT_A_DISEASE_CODE: &str = "not a 7-digit 傷病名コード";
pub const NOT_A_DATA_CATEGORY: &str = "not a データ区分 (2 digits, or SY)";
pub const NOT_A_CODE: &str = "not a 9-digit レセプト電算処理システム用コード (1, 6, 7 or 8 first)";
pub const NO_ADMISSION: &str = "the stay's 様式1 has no A000020 (入院情報)";
pub const NO_DISCHARGE: &str = "the stay's 様式1 has no A000030 (退院情報)";
pub const NO_PATIENT: &str = "the stay's 様式1 has no A000010 (患者属性)";
pub const ADMISSION_DIFFERS: &str = "A000020's 入院年月日 is not the line's 入院年月日 (column 3)";
pub const DISCHARGE_BEFORE_ADMISSION: &str = "the 退院年月日 is before the 入院年月日";
pub const OTHER_FACILITY: &str = "a 施設コード other than the file's first line's: a file is one facility's";
pub const UNKNOWN_DISEASE: &str = "a 傷病名コード the disease master has not";
pub const UNKNOWN_DRUG: &str = "a レセプト電算 drug code the drug master has not";
pub const UNKNOWN_PROCEDURE: &str = "a 診療行為コード the procedure master has not";
pub const NOT_A_TABLE_CODE: &str =
    "not a 点数表コード of A007010 (a capital letter, a 3-digit 区分番号, then 枝番, 項番, 細目: K0821)";
pub const UNKNOWN_TABLE_CODE: &str =
    "a 点数表コード no 診療行為コード of the procedure master has (its コード表用番号, 区分番号, 枝番 and 項番)";
pub const SURGERY_OUTSIDE_STAY: &str = "the 手術日 is not within the stay (入院年月日 to 退院年月日)";

/// Every reason without a number in it.
pub const FIXED: [&str; 26] = [
    NOT_A_FACILITY,
    NOT_A_DATA_ID,
    NOT_A_DATE,
    NOT_A_NUMBER,
    NOT_AN_AMOUNT,
    NOT_A_RECORD_CODE,
    NOT_A_SEX,
    NOT_A_ROUTE,
    NOT_A_DESTINATION,
    NOT_AN_OUTCOME,
    NOT_AN_ICD10,
    NOT_A_DISEASE_CODE,
    NOT_A_DATA_CATEGORY,
    NOT_A_CODE,
    NO_ADMISSION,
    NO_DISCHARGE,
    NO_PATIENT,
    ADMISSION_DIFFERS,
    DISCHARGE_BEFORE_ADMISSION,
    OTHER_FACILITY,
    UNKNOWN_DISEASE,
    UNKNOWN_DRUG,
    UNKNOWN_PROCEDURE,
    NOT_A_TABLE_CODE,
    UNKNOWN_TABLE_CODE,
    SURGERY_OUTSIDE_STAY,
];

pub const FIELD_COUNT: Numbered = Numbered(&["", " TAB-separated fields, where the line's kind has ", ""]);
/// Column 17's layout chosen by the survey year (年度) of the line's discharge date.
pub const WRONG_SURVEY_YEAR: Numbered =
    Numbered(&["", " characters of 行為明細区分情報, where the layout of the line's survey year ", " has ", ""]);

/// A 点数表コード that the procedure master's 診療行為コード of several items share: which one was
/// done is not known.
pub const AMBIGUOUS_TABLE_CODE: Numbered = Numbered(&[
    "a 点数表コード that ",
    " 診療行為コード of the procedure master share: which one was done is not known",
]);

/// An EFg line's columns 3-4 chosen by the survey year of its 実施年月日.
pub const WRONG_OUTPATIENT_LAYOUT: Numbered = Numbered(&[
    "columns 3-4 are not those of an outpatient line of the line's survey year ",
    " (up to 2017 退院・入院年月日 00000000, from 2018 生年月日 and 外来受診年月日)",
]);

/// Every reason with numbers in it.
pub const NUMBERED: [Numbered; 4] = [FIELD_COUNT, WRONG_SURVEY_YEAR, AMBIGUOUS_TABLE_CODE, WRONG_OUTPATIENT_LAYOUT];
