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
    /// A number greater than zero (an amount, a rate).
    PositiveNumber,
    /// One of the listed values (case-sensitive, as the schema stores them).
    OneOf(&'static [&'static str]),
    /// A value of one of the schema's vocabularies, or a source's code for one.
    Vocabulary(&'static Vocabulary),
    /// A code of a code system; ICD-10 codes may come with a dot, which is removed.
    Code(CodeSystem),
    /// A lab value: a number, or a censored or qualitative text (see `stage.rs`).
    LabValue,
}

/// A vocabulary of the schema (a diagnosis's outcome, a lab result's status, …): the values it
/// stores, and the codes of the hospital formats a file may give instead, each standing for one
/// of them (docs/site-inputs.md). Values and codes are case-sensitive.
#[derive(Debug)]
pub struct Vocabulary {
    pub values: &'static [&'static str],
    pub codes: &'static [(&'static str, &'static str)],
    /// The codes as a quarantine message names them.
    pub codes_named: &'static str,
}

/// 転帰, of a diagnosis and of an inpatient stay: HL7 table 0241 (SS-MIX2 PRB-14) and the claims'
/// 転帰区分 (UKE SY-4, 別表18; DPC EF-17). DPC 様式1's 退院時転帰 codes are not confirmed; an
/// importer maps them to these words.
pub const OUTCOMES: Vocabulary = Vocabulary {
    values: &[
        "continuing",
        "cured",
        "improving",
        "remission",
        "unchanged",
        "worsening",
        "sequelae",
        "died",
        "discontinued",
        "unknown",
    ],
    codes: &[
        ("F", "cured"),
        ("R", "improving"),
        ("N", "unchanged"),
        ("W", "worsening"),
        ("S", "sequelae"),
        ("D", "died"),
        ("U", "unknown"),
        ("1", "continuing"),
        ("2", "cured"),
        ("3", "died"),
        ("4", "discontinued"),
    ],
    codes_named: "HL7 0241 D, F, N, R, S, U, W or claims 転帰区分 1-4",
};

/// What kind of diagnosis a record is: SS-MIX2 診断種別 (JHSD0004, PRB-10.4), a claim's diagnosis,
/// or one of the diagnoses of a DPC discharge abstract (様式1 A006010-A006050).
pub const DIAGNOSIS_KINDS: Vocabulary = Vocabulary {
    values: &[
        "admission",
        "discharge",
        "outpatient",
        "preoperative",
        "postoperative",
        "final",
        "billing",
        "principal",
        "admission_trigger",
        "most_resources",
        "second_most_resources",
        "comorbidity_at_admission",
        "onset_after_admission",
    ],
    codes: &[
        ("H", "admission"),
        ("L", "discharge"),
        ("O", "outpatient"),
        ("B", "preoperative"),
        ("A", "postoperative"),
        ("F", "final"),
        ("A006010", "principal"),
        ("A006020", "admission_trigger"),
        ("A006030", "most_resources"),
        ("A006031", "second_most_resources"),
        ("A006040", "comorbidity_at_admission"),
        ("A006050", "onset_after_admission"),
    ],
    codes_named: "JHSD0004 H, L, O, B, A, F or DPC 様式1 A006010-A006050",
};

/// A lab result's status: HL7 table 0085 (SS-MIX2 OBX-11).
pub const RESULT_STATUSES: Vocabulary = Vocabulary {
    values: &["final", "preliminary", "corrected", "cancelled"],
    codes: &[
        ("F", "final"),
        ("C", "corrected"),
        ("P", "preliminary"),
        ("R", "preliminary"),
        ("S", "preliminary"),
        ("I", "preliminary"),
        ("X", "cancelled"),
        ("D", "cancelled"),
        ("W", "cancelled"),
    ],
    codes_named: "HL7 0085 F, C, P, R, S, I, X, D, W",
};

/// Where an inpatient came from (DPC 様式1 入院経路; its codes are not confirmed: an importer maps them).
pub const ADMISSION_ROUTES: &[&str] = &["home", "other_hospital", "care_facility", "ward_transfer", "other"];
/// Where an inpatient went (DPC 様式1 退院先, SS-MIX2 PV1-36 退院区分).
pub const DISCHARGE_DESTINATIONS: &[&str] = &["home", "other_hospital", "care_facility", "died", "other"];

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
    /// How a row may name its code by the hospital's own code instead (None: it may not).
    pub local: Option<LocalCodes>,
}

/// The hospital's own codes a table's rows may carry (`local_system`, `local_code`, `local_text`),
/// in place of or beside the standard code: a row with a local code and no standard code waits for
/// a mapping (`local_row`, docs/site-inputs.md §3).
#[derive(Debug, Clone, Copy)]
pub struct LocalCodes {
    /// What the local codes name, which says the standard code they map to.
    pub kind: LocalKind,
    /// The standard code's field: required unless the row has a local code.
    pub code_field: &'static str,
    /// The field whose date is the row's (converted: `c_<name>`).
    pub date_field: &'static str,
    /// The field holding the row's unit, if the table has one.
    pub unit_field: Option<&'static str>,
}

/// What a local code names: a drug (mapped to YJ), a lab test (JLAC10) or a disease (ICD-10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LocalKind {
    Drug,
    Lab,
    Disease,
}

impl LocalKind {
    pub const ALL: [LocalKind; 3] = [LocalKind::Drug, LocalKind::Lab, LocalKind::Disease];

    /// The name stored in `local_row.kind` and `local_code_map.kind`, and written in a mapping file.
    pub fn name(self) -> &'static str {
        match self {
            LocalKind::Drug => "drug",
            LocalKind::Lab => "lab",
            LocalKind::Disease => "disease",
        }
    }

    pub fn named(name: &str) -> Option<LocalKind> {
        LocalKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The code system its local codes map to.
    pub fn standard(self) -> CodeSystem {
        match self {
            LocalKind::Drug => CodeSystem::Yj,
            LocalKind::Lab => CodeSystem::Jlac10,
            LocalKind::Disease => CodeSystem::Icd10,
        }
    }

    /// The clinical tables whose rows carry codes of this kind.
    pub fn tables(self) -> impl Iterator<Item = &'static TableSpec> {
        SPECS.iter().filter(move |s| s.local.is_some_and(|l| l.kind == self))
    }
}

/// The local system of a row whose file names none.
pub const DEFAULT_LOCAL_SYSTEM: &str = "local";

/// A local system or text without a local code says nothing: a column was likely shifted.
const LOCAL_WITHOUT_CODE: RowCheck = RowCheck {
    bad_when: "t_local_code IS NULL AND (t_local_system IS NOT NULL OR t_local_text IS NOT NULL)",
    reason: "local_system or local_text without local_code",
};

pub const SOURCES: &[&str] = &["EHR", "CLAIMS", "DPC"];

const ROUTES: &[&str] = &["oral", "injection", "topical", "other"];
const SETTINGS: &[&str] = &["outpatient", "inpatient"];

pub const SPECS: [TableSpec; 8] = [
    TableSpec {
        table: "patient",
        fields: &[
            req("patient_key", Kind::Key),
            req("sex", Kind::Sex),
            req("birth_date", Kind::Date),
            opt("death_date", Kind::Date),
        ],
        row_checks: &[RowCheck { bad_when: "c_death_date < c_birth_date", reason: "death_date before birth_date" }],
        local: None,
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
        local: None,
    },
    TableSpec {
        table: "encounter",
        fields: &[
            req("patient_key", Kind::Key),
            req("encounter_type", Kind::OneOf(&["outpatient", "inpatient", "emergency"])),
            req("start_date", Kind::Date),
            opt("end_date", Kind::Date),
            opt("department", Kind::Text),
            opt("admission_route", Kind::OneOf(ADMISSION_ROUTES)),
            opt("discharge_destination", Kind::OneOf(DISCHARGE_DESTINATIONS)),
            opt("discharge_outcome", Kind::Vocabulary(&OUTCOMES)),
            req("source", Kind::OneOf(SOURCES)),
        ],
        row_checks: &[
            RowCheck { bad_when: "c_end_date < c_start_date", reason: "end_date before start_date" },
            RowCheck {
                bad_when: "c_encounter_type <> 'inpatient' AND (c_admission_route IS NOT NULL \
                           OR c_discharge_destination IS NOT NULL OR c_discharge_outcome IS NOT NULL)",
                reason: "admission_route, discharge_destination and discharge_outcome are for inpatient stays only",
            },
            RowCheck {
                bad_when: "(c_discharge_destination = 'died') <> (c_discharge_outcome = 'died')",
                reason: "discharge_destination and discharge_outcome disagree on whether the patient died",
            },
        ],
        local: None,
    },
    TableSpec {
        table: "diagnosis",
        fields: &[
            req("patient_key", Kind::Key),
            req("icd10", Kind::Code(CodeSystem::Icd10)),
            opt("medis_code", Kind::Code(CodeSystem::Medis)),
            req("diagnosis_date", Kind::Date),
            opt("end_date", Kind::Date),
            opt("disease_outcome", Kind::Vocabulary(&OUTCOMES)),
            opt("suspected", Kind::Bool),
            opt("main_diagnosis", Kind::Bool),
            opt("diagnosis_kind", Kind::Vocabulary(&DIAGNOSIS_KINDS)),
            opt("local_system", Kind::Text),
            opt("local_code", Kind::Text),
            opt("local_text", Kind::Text),
            req("source", Kind::OneOf(SOURCES)),
        ],
        row_checks: &[
            RowCheck { bad_when: "c_end_date < c_diagnosis_date", reason: "end_date before diagnosis_date" },
            LOCAL_WITHOUT_CODE,
        ],
        local: Some(LocalCodes {
            kind: LocalKind::Disease,
            code_field: "icd10",
            date_field: "diagnosis_date",
            unit_field: None,
        }),
    },
    TableSpec {
        table: "drug_order",
        fields: &[
            req("patient_key", Kind::Key),
            req("yj_code", Kind::Code(CodeSystem::Yj)),
            opt("hot_code", Kind::Code(CodeSystem::Hot)),
            req("order_date", Kind::Date),
            opt("start_date", Kind::Date),
            opt("days_supply", Kind::PositiveInt),
            opt("daily_dose", Kind::Number),
            opt("dose_unit", Kind::Text),
            req("route", Kind::OneOf(ROUTES)),
            req("setting", Kind::OneOf(SETTINGS)),
            opt("local_system", Kind::Text),
            opt("local_code", Kind::Text),
            opt("local_text", Kind::Text),
            req("source", Kind::OneOf(SOURCES)),
        ],
        row_checks: &[
            RowCheck { bad_when: "c_start_date < c_order_date", reason: "start_date before order_date" },
            RowCheck {
                bad_when: "t_days_supply IS NULL AND c_route <> 'injection'",
                reason: "missing days_supply (only an injection order may have none)",
            },
            LOCAL_WITHOUT_CODE,
        ],
        local: Some(LocalCodes {
            kind: LocalKind::Drug,
            code_field: "yj_code",
            date_field: "order_date",
            unit_field: Some("dose_unit"),
        }),
    },
    TableSpec {
        table: "drug_administration",
        fields: &[
            req("patient_key", Kind::Key),
            req("yj_code", Kind::Code(CodeSystem::Yj)),
            opt("hot_code", Kind::Code(CodeSystem::Hot)),
            req("start_time", Kind::Timestamp),
            opt("end_time", Kind::Timestamp),
            opt("amount", Kind::PositiveNumber),
            opt("amount_unit", Kind::Text),
            opt("rate", Kind::PositiveNumber),
            opt("rate_unit", Kind::Text),
            req("route", Kind::OneOf(ROUTES)),
            req("setting", Kind::OneOf(SETTINGS)),
            opt("local_system", Kind::Text),
            opt("local_code", Kind::Text),
            opt("local_text", Kind::Text),
            req("source", Kind::OneOf(SOURCES)),
        ],
        row_checks: &[
            RowCheck { bad_when: "c_end_time < c_start_time", reason: "end_time before start_time" },
            RowCheck {
                bad_when: "c_amount IS NOT NULL AND c_amount_unit IS NULL",
                reason: "amount without amount_unit",
            },
            RowCheck { bad_when: "c_rate IS NOT NULL AND c_rate_unit IS NULL", reason: "rate without rate_unit" },
            LOCAL_WITHOUT_CODE,
        ],
        local: Some(LocalCodes {
            kind: LocalKind::Drug,
            code_field: "yj_code",
            date_field: "start_time",
            unit_field: Some("amount_unit"),
        }),
    },
    TableSpec {
        table: "lab_result",
        fields: &[
            req("patient_key", Kind::Key),
            req("jlac10", Kind::Code(CodeSystem::Jlac10)),
            opt("specimen", Kind::Text),
            req("result_time", Kind::Timestamp),
            req("value", Kind::LabValue),
            opt("unit", Kind::Text),
            opt("ref_low", Kind::Number),
            opt("ref_high", Kind::Number),
            opt("abnormal_flag", Kind::OneOf(&["H", "L", "N"])),
            opt("result_status", Kind::Vocabulary(&RESULT_STATUSES)),
            opt("local_system", Kind::Text),
            opt("local_code", Kind::Text),
            opt("local_text", Kind::Text),
            req("source", Kind::OneOf(SOURCES)),
        ],
        row_checks: &[
            RowCheck { bad_when: "c_ref_low > c_ref_high", reason: "reference range inverted (ref_low > ref_high)" },
            RowCheck {
                bad_when: "c_specimen <> substr(c_jlac10, 10, 3)",
                reason: "specimen is not the material code of jlac10 (its characters 10-12)",
            },
            LOCAL_WITHOUT_CODE,
        ],
        local: Some(LocalCodes {
            kind: LocalKind::Lab,
            code_field: "jlac10",
            date_field: "result_time",
            unit_field: Some("unit"),
        }),
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
        local: None,
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
