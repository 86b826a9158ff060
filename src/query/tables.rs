//! The tables of the clinical schema (`sql/schema.sql`) as scripts see them: each column's type and
//! code system, each event table's `date`, and the stated order of events. A test holds this
//! catalog and the DDL together.

use crate::schema::CodeSystem;

use super::value::Type;

/// A clinical table scripts select events from. `patient` is not among them: its columns are
/// patient-level values (`sex`, `birth_date`, `death_date`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    ObservationPeriod,
    Encounter,
    Diagnosis,
    DrugOrder,
    DrugAdministration,
    LabResult,
    Procedure,
}

/// The type of a stored column. `Timestamp` columns order events; scripts use their `date`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Value(Type),
    Timestamp,
}

#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColumnType,
    /// The code system of a code column, for codelist matching.
    pub system: Option<CodeSystem>,
}

const fn col(name: &'static str, ty: Type) -> Column {
    Column { name, ty: ColumnType::Value(ty), system: None }
}

const fn code(name: &'static str, system: CodeSystem) -> Column {
    Column { name, ty: ColumnType::Value(Type::Text), system: Some(system) }
}

const fn timestamp(name: &'static str) -> Column {
    Column { name, ty: ColumnType::Timestamp, system: None }
}

use CodeSystem as C;
use Type::*;

const OBSERVATION_PERIOD: &[Column] = &[col("source", Text), col("start_date", Date), col("end_date", Date)];
const ENCOUNTER: &[Column] = &[
    col("encounter_type", Text),
    col("start_date", Date),
    col("end_date", Date),
    col("department", Text),
    col("admission_route", Text),
    col("discharge_destination", Text),
    col("discharge_outcome", Text),
    col("source", Text),
];
const DIAGNOSIS: &[Column] = &[
    code("icd10", C::Icd10),
    code("medis_code", C::Medis),
    col("diagnosis_date", Date),
    col("end_date", Date),
    col("disease_outcome", Text),
    col("suspected", Bool),
    col("main_diagnosis", Bool),
    col("diagnosis_kind", Text),
    col("source", Text),
];
const DRUG_ORDER: &[Column] = &[
    code("yj_code", C::Yj),
    code("hot_code", C::Hot),
    col("order_date", Date),
    col("start_date", Date),
    col("days_supply", Int),
    col("daily_dose", Float),
    col("dose_unit", Text),
    col("route", Text),
    col("setting", Text),
    col("source", Text),
];
const DRUG_ADMINISTRATION: &[Column] = &[
    code("yj_code", C::Yj),
    code("hot_code", C::Hot),
    timestamp("start_time"),
    timestamp("end_time"),
    col("amount", Float),
    col("amount_unit", Text),
    col("rate", Float),
    col("rate_unit", Text),
    col("route", Text),
    col("setting", Text),
    col("source", Text),
];
const LAB_RESULT: &[Column] = &[
    code("jlac10", C::Jlac10),
    col("specimen", Text),
    timestamp("result_time"),
    col("value", Float),
    col("unit", Text),
    col("ref_low", Float),
    col("ref_high", Float),
    col("abnormal_flag", Text),
    col("value_text", Text),
    col("reported_value", Float),
    col("reported_unit", Text),
    col("result_status", Text),
    col("source", Text),
];
const PROCEDURE: &[Column] = &[code("procedure_code", C::Procedure), col("procedure_date", Date), col("source", Text)];

/// The patient table's columns that scripts see as patient-level values.
pub const PATIENT_COLUMNS: [(&str, Type); 3] = [("sex", Text), ("birth_date", Date), ("death_date", Date)];

impl Table {
    pub const ALL: [Table; 7] = [
        Table::ObservationPeriod,
        Table::Encounter,
        Table::Diagnosis,
        Table::DrugOrder,
        Table::DrugAdministration,
        Table::LabResult,
        Table::Procedure,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::ObservationPeriod => "observation_period",
            Table::Encounter => "encounter",
            Table::Diagnosis => "diagnosis",
            Table::DrugOrder => "drug_order",
            Table::DrugAdministration => "drug_administration",
            Table::LabResult => "lab_result",
            Table::Procedure => "procedure",
        }
    }

    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }

    /// "drug orders", for explanations.
    pub fn plural(self) -> &'static str {
        match self {
            Table::ObservationPeriod => "observation periods",
            Table::Encounter => "encounters",
            Table::Diagnosis => "diagnoses",
            Table::DrugOrder => "drug orders",
            Table::DrugAdministration => "drug administrations",
            Table::LabResult => "lab results",
            Table::Procedure => "procedures",
        }
    }

    /// The stored columns other than `patient_key`, in schema order.
    pub fn columns(self) -> &'static [Column] {
        match self {
            Table::ObservationPeriod => OBSERVATION_PERIOD,
            Table::Encounter => ENCOUNTER,
            Table::Diagnosis => DIAGNOSIS,
            Table::DrugOrder => DRUG_ORDER,
            Table::DrugAdministration => DRUG_ADMINISTRATION,
            Table::LabResult => LAB_RESULT,
            Table::Procedure => PROCEDURE,
        }
    }

    pub fn column(self, name: &str) -> Option<&'static Column> {
        self.columns().iter().find(|c| c.name == name)
    }

    /// The column an event's `date` comes from (for `lab_result`, the date of `result_time`; for
    /// `drug_administration`, of `start_time`).
    pub fn date_column(self) -> &'static str {
        match self {
            Table::ObservationPeriod | Table::Encounter | Table::DrugOrder => "start_date",
            Table::DrugAdministration => "start_time",
            Table::Diagnosis => "diagnosis_date",
            Table::LabResult => "result_time",
            Table::Procedure => "procedure_date",
        }
    }

    /// The stated order of a patient's events: by `date`, then by every other column in schema
    /// order, ascending, missing last; for lab results the time of day, the code, the value and
    /// the reference range come first, for drug administrations the time of day. Listed without
    /// `date`, which always comes first.
    pub fn order_columns(self) -> Vec<&'static str> {
        let mut cols: Vec<&'static str> = self.columns().iter().map(|c| c.name).collect();
        let first: &[&'static str] = match self {
            Table::LabResult => &["result_time", "jlac10", "value", "ref_low", "ref_high"],
            Table::DrugAdministration => &["start_time"],
            _ => &[],
        };
        cols.retain(|c| !first.contains(c));
        cols.splice(0..0, first.iter().copied());
        cols
    }
}

/// A JLAC10 analyte of the lab master: the analyte code (characters 1-5) and specimen code
/// (characters 10-12) that scripts name with `analyte = "alt"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analyte {
    pub id: String,
    pub analyte_code: String,
    pub specimen_code: String,
    pub name: String,
    pub unit: String,
}

/// The analytes of the lab master embedded in the binary (`sql/masters/lab_master.csv`).
pub fn analytes() -> &'static [Analyte] {
    static ANALYTES: std::sync::OnceLock<Vec<Analyte>> = std::sync::OnceLock::new();
    ANALYTES.get_or_init(|| {
        let text = crate::schema::MASTERS.iter().find(|(t, _)| *t == "lab_master").map(|(_, text)| *text).unwrap_or("");
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        reader
            .records()
            .filter_map(|r| r.ok())
            .map(|r| Analyte {
                analyte_code: r[0].to_string(),
                specimen_code: r[1].to_string(),
                id: r[2].to_string(),
                name: r[3].to_string(),
                unit: r[4].to_string(),
            })
            .collect()
    })
}

pub fn analyte(id: &str) -> Option<&'static Analyte> {
    analytes().iter().find(|a| a.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lab_master_names_the_protocol_analytes() {
        for id in ["alt", "ast", "alp", "ggt", "tbil", "creatinine", "platelets", "wbc", "hb", "neutrophils"] {
            assert!(analyte(id).is_some(), "{id}");
        }
        let cr = analyte("creatinine").unwrap();
        assert_eq!((cr.analyte_code.as_str(), cr.specimen_code.as_str()), ("3C015", "023"));
    }

    #[test]
    fn lab_results_order_by_time_first() {
        assert_eq!(Table::LabResult.order_columns()[0], "result_time");
        assert_eq!(Table::DrugAdministration.order_columns()[0], "start_time");
        assert_eq!(Table::DrugOrder.order_columns()[0], "yj_code");
    }

    /// Scripts see every stored column of the DDL but the patient key and the row's provenance.
    #[test]
    fn the_catalog_is_the_schemas_tables() {
        let conn = duckdb::Connection::open_in_memory().unwrap();
        conn.execute_batch(crate::schema::SCHEMA_SQL).unwrap();
        for table in Table::ALL {
            let mut stmt = conn
                .prepare(
                    "SELECT column_name FROM duckdb_columns() WHERE table_name = ? \
                     AND column_name NOT IN ('patient_key', 'source_file', 'load_file_id', 'local_system', 'local_code') \
                     ORDER BY column_index",
                )
                .unwrap();
            let ddl: Vec<String> = stmt.query_map([table.name()], |r| r.get(0)).unwrap().map(|c| c.unwrap()).collect();
            let catalog: Vec<&str> = table.columns().iter().map(|c| c.name).collect();
            assert_eq!(ddl, catalog, "{}", table.name());
        }
    }
}
