//! Every reason the SS-MIX2 import quarantines a message, a segment or a field with, in one place:
//! the reader and the import (`site::ssmix2`) write them, and the quarantine's listing (the parent
//! module) reads them back; they live here, below the import, as the listing needs them and the
//! import needs the load. Shown with their text and never a value of the message. A stored reason is
//! `<where>: <reason>`, `<where>` being an HL7 field (`PRB-7`), a segment (`PV1`) or `message`.

/// A reason with a variable part: the text before it, what it is, and the text after it.
#[derive(Debug, Clone, Copy)]
pub struct Parametrised {
    pub before: &'static str,
    pub part: Part,
    pub after: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// A number (an offset in the file): shown.
    Number,
    /// Something the message wrote (a code system): withheld.
    Value,
}

pub const NOT_A_SEX: &str = "not a sex of HL7 table 0001 (M, F, O, U)";
pub const NOT_A_TIME: &str = "not an HL7 time (YYYYMMDD[HH[MM[SS[.S]]]])";
pub const NO_TIME: &str = "empty, and the record cannot be placed in time without it";
pub const NO_PV1: &str = "no PV1 segment";
pub const NOT_A_NUMBER: &str = "not a number";
pub const NM_NOT_A_NUMBER: &str = "a numeric result (NM) that is not a number";
pub const NOT_DAYS: &str = "not a duration in days or weeks (e.g. 7^d)";
pub const NOT_A_RATE: &str = "not a rate (a number and its unit, e.g. 100ml/hr)";
pub const NO_DRUG_CODE: &str = "a prescription line without a drug code";
pub const NO_COMPONENT_CODE: &str = "an injection component without a drug code";
pub const NO_ADMINISTERED_CODE: &str = "an administration without a drug code";
pub const NO_TEST_CODE: &str = "a result without a test code";
pub const NO_RESULT_TIME: &str = "a result with no observation time (OBX-14) and no collection time (SPM-17)";
pub const NO_HEADER: &str =
    "it does not begin with an MSH segment declaring its delimiters (e.g. MSH|^~\\&|): not an HL7 v2 message";
pub const BAD_SEGMENT_NAME: &str = "a segment name is three letters or digits: the message cannot be split";
pub const UNMATCHED_DISCHARGE: &str = "a discharge (ADT^A03) with no admission (ADT^A01) before it to pair with, among the patient's current ADT messages";
pub const UNDECODABLE: Parametrised = Parametrised {
    before: "byte ",
    part: Part::Number,
    after: " is not ISO-2022-JP text (the encoding SS-MIX2 prescribes)",
};
pub const UNKNOWN_SYSTEM: Parametrised =
    Parametrised { before: "code system '", part: Part::Value, after: "' is not one the import knows" };

/// Every reason without a variable part.
pub const FIXED: [&str; 16] = [
    NOT_A_SEX,
    NOT_A_TIME,
    NO_TIME,
    NO_PV1,
    NOT_A_NUMBER,
    NM_NOT_A_NUMBER,
    NOT_DAYS,
    NOT_A_RATE,
    NO_DRUG_CODE,
    NO_COMPONENT_CODE,
    NO_ADMINISTERED_CODE,
    NO_TEST_CODE,
    NO_RESULT_TIME,
    NO_HEADER,
    BAD_SEGMENT_NAME,
    UNMATCHED_DISCHARGE,
];

/// Every reason with a variable part.
pub const PARAMETRISED: [Parametrised; 2] = [UNDECODABLE, UNKNOWN_SYSTEM];

impl Parametrised {
    pub fn with(&self, part: impl std::fmt::Display) -> String {
        format!("{}{part}{}", self.before, self.after)
    }
}

/// Whether `text` can be the place of a stored reason: an HL7 field (`PRB-7`), a segment (`PV1`),
/// or `message` (the whole file).
pub fn is_place(text: &str) -> bool {
    let (segment, field) = text.split_once('-').unwrap_or((text, "1"));
    text == "message"
        || (segment.len() == 3
            && segment.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            && !field.is_empty()
            && field.len() <= 3
            && field.bytes().all(|b| b.is_ascii_digit()))
}
