//! What a hospital's file for each clinical table must hold: its columns, their kinds, which are
//! required, and the checks that involve several columns. Validation SQL is generated from this
//! description (see `stage.rs`), so the accepted input format is documented in one place
//! (docs/schema.md, "Loading").

use crate::schema::CodeSystem;

#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// The site-local patient key.
    Key,
    /// Free text (trimmed).
    Text,
    Date,
    Timestamp,
    /// `M`/`F`, also the claims convention `1`/`2`.
    Sex,
    /// true/false, 1/0, y/n, yes/no.
    Bool,
    PositiveInt,
    Number,
    /// One of the listed values (case-sensitive, as the schema stores them).
    OneOf(&'static [&'static str]),
    /// A code of a code system; ICD-10 codes may come with a dot, which is removed.
    Code(CodeSystem),
    /// A lab value: a number, or a censored or qualitative text (see `stage.rs`).
    LabValue,
}

#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
}

const fn req(name: &'static str, kind: Kind) -> Field {
    Field { name, kind, required: true }
}

const fn opt(name: &'static str, kind: Kind) -> Field {
    Field { name, kind, required: false }
}

/// A check across columns of a row: a SQL condition on the converted values (`c_<column>`) that is
/// true when the row is bad, and the reason recorded in the quarantine.
#[derive(Debug, Clone, Copy)]
pub struct RowCheck {
    pub bad_when: &'static str,
    pub reason: &'static str,
}

#[derive(Debug, Clone, Copy)]
pub struct TableSpec {
    pub table: &'static str,
    pub fields: &'static [Field],
    pub row_checks: &'static [RowCheck],
}

pub const SOURCES: &[&str] = &["EHR", "CLAIMS", "DPC"];

pub const SPECS: [TableSpec; 7] = [
    TableSpec {
        table: "patient",
        fields: &[
            req("patient_key", Kind::Key),
            req("sex", Kind::Sex),
            req("birth_date", Kind::Date),
            opt("death_date", Kind::Date),
        ],
        row_checks: &[RowCheck { bad_when: "c_death_date < c_birth_date", reason: "death_date before birth_date" }],
    },
    TableSpec {
        table: "observation_period",
        fields: &[
            req("patient_key", Kind::Key),
            req("source", Kind::OneOf(SOURCES)),
            req("start_date", Kind::Date),
            req("end_date", Kind::Date),
        ],
        row_checks: &[RowCheck { bad_when: "c_end_date < c_start_date", reason: "end_date before start_date" }],
    },
    TableSpec {
        table: "encounter",
        fields: &[
            req("patient_key", Kind::Key),
            req("encounter_type", Kind::OneOf(&["outpatient", "inpatient", "emergency"])),
            req("start_date", Kind::Date),
            opt("end_date", Kind::Date),
            opt("department", Kind::Text),
            req("source", Kind::OneOf(SOURCES)),
        ],
        row_checks: &[RowCheck { bad_when: "c_end_date < c_start_date", reason: "end_date before start_date" }],
    },
    TableSpec {
        table: "diagnosis",
        fields: &[
            req("patient_key", Kind::Key),
            req("icd10", Kind::Code(CodeSystem::Icd10)),
            opt("medis_code", Kind::Code(CodeSystem::Medis)),
            req("diagnosis_date", Kind::Date),
            opt("suspected", Kind::Bool),
            opt("main_diagnosis", Kind::Bool),
            req("source", Kind::OneOf(SOURCES)),
        ],
        row_checks: &[],
    },
    TableSpec {
        table: "drug_order",
        fields: &[
            req("patient_key", Kind::Key),
            req("yj_code", Kind::Code(CodeSystem::Yj)),
            opt("hot_code", Kind::Code(CodeSystem::Hot)),
            req("order_date", Kind::Date),
            opt("start_date", Kind::Date),
            req("days_supply", Kind::PositiveInt),
            opt("daily_dose", Kind::Number),
            opt("dose_unit", Kind::Text),
            req("route", Kind::OneOf(&["oral", "injection", "topical", "other"])),
            req("setting", Kind::OneOf(&["outpatient", "inpatient"])),
            req("source", Kind::OneOf(SOURCES)),
        ],
        row_checks: &[RowCheck { bad_when: "c_start_date < c_order_date", reason: "start_date before order_date" }],
    },
    TableSpec {
        table: "lab_result",
        fields: &[
            req("patient_key", Kind::Key),
            req("jlac10", Kind::Code(CodeSystem::Jlac10)),
            req("result_time", Kind::Timestamp),
            req("value", Kind::LabValue),
            opt("unit", Kind::Text),
            opt("ref_low", Kind::Number),
            opt("ref_high", Kind::Number),
            opt("abnormal_flag", Kind::OneOf(&["H", "L", "N"])),
            req("source", Kind::OneOf(SOURCES)),
        ],
        row_checks: &[RowCheck {
            bad_when: "c_ref_low > c_ref_high",
            reason: "reference range inverted (ref_low > ref_high)",
        }],
    },
    TableSpec {
        table: "procedure",
        fields: &[
            req("patient_key", Kind::Key),
            req("procedure_code", Kind::Code(CodeSystem::Procedure)),
            req("procedure_date", Kind::Date),
            req("source", Kind::OneOf(SOURCES)),
        ],
        row_checks: &[],
    },
];

pub fn spec_for(table: &str) -> Option<&'static TableSpec> {
    SPECS.iter().find(|s| s.table == table)
}

/// Header names that could identify a person. Compared after lower-casing and removing spaces,
/// underscores and hyphens. A file with such a column is refused whole.
pub const IDENTIFYING: &[(&str, &str)] = &[
    ("name", "a name"),
    ("fullname", "a name"),
    ("firstname", "a name"),
    ("lastname", "a name"),
    ("familyname", "a name"),
    ("givenname", "a name"),
    ("kana", "a name"),
    ("kananame", "a name"),
    ("patientname", "a name"),
    ("氏名", "a name"),
    ("名前", "a name"),
    ("カナ", "a name"),
    ("カナ氏名", "a name"),
    ("患者氏名", "a name"),
    ("address", "an address"),
    ("住所", "an address"),
    ("postcode", "a postcode"),
    ("postalcode", "a postcode"),
    ("zip", "a postcode"),
    ("zipcode", "a postcode"),
    ("郵便番号", "a postcode"),
    ("phone", "a phone number"),
    ("phonenumber", "a phone number"),
    ("tel", "a phone number"),
    ("telephone", "a phone number"),
    ("mobile", "a phone number"),
    ("電話", "a phone number"),
    ("電話番号", "a phone number"),
    ("email", "an e-mail address"),
    ("mail", "an e-mail address"),
    ("mrn", "a hospital patient number"),
    ("patientid", "a hospital patient number"),
    ("patientnumber", "a hospital patient number"),
    ("patientno", "a hospital patient number"),
    ("hospitalid", "a hospital patient number"),
    ("患者id", "a hospital patient number"),
    ("患者番号", "a hospital patient number"),
    ("カルテ番号", "a hospital patient number"),
    ("insurancenumber", "an insurance number"),
    ("被保険者番号", "an insurance number"),
    ("mynumber", "an individual number"),
    ("マイナンバー", "an individual number"),
    ("doctor", "a clinician's identity"),
    ("physician", "a clinician's identity"),
    ("clinician", "a clinician's identity"),
    ("prescriber", "a clinician's identity"),
    ("doctorname", "a clinician's identity"),
    ("licence", "a clinician's identity"),
    ("license", "a clinician's identity"),
    ("医師", "a clinician's identity"),
    ("医師名", "a clinician's identity"),
    ("担当医", "a clinician's identity"),
];

/// If a column header could identify a person, what it would identify.
pub fn identifying(header: &str) -> Option<&'static str> {
    let norm: String = header.to_lowercase().chars().filter(|c| !matches!(c, ' ' | '_' | '-' | '　')).collect();
    IDENTIFYING.iter().find(|(n, _)| *n == norm).map(|(_, what)| *what)
}
