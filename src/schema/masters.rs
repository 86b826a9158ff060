//! The masters distributed by the data center: drug (YJ → ingredient, ATC), lab (JLAC10 analyte and
//! specimen → analyte id, canonical unit), unit conversions to the canonical unit, and ICD-10.
//! They are embedded in the binary so that every site of a network uses the same version.

use crate::error::{Error, Result};

/// (table, CSV text) for each master, in load order.
pub const MASTERS: [(&str, &str); 4] = [
    ("drug_master", include_str!("../../sql/masters/drug_master.csv")),
    ("lab_master", include_str!("../../sql/masters/lab_master.csv")),
    ("unit_conversion", include_str!("../../sql/masters/unit_conversion.csv")),
    ("icd10_master", include_str!("../../sql/masters/icd10_master.csv")),
];

/// Insert the embedded masters into their (empty) tables.
pub fn load_masters(conn: &duckdb::Connection) -> Result<()> {
    for (table, text) in MASTERS {
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let mut appender = conn.appender(table)?;
        for record in reader.records() {
            let record = record.map_err(|e| Error::Internal(format!("embedded master {table}: {e}")))?;
            let fields: Vec<Option<&str>> = record.iter().map(|f| (!f.is_empty()).then_some(f)).collect();
            appender.append_row(duckdb::appender_params_from_iter(fields))?;
        }
        appender.flush()?;
    }
    Ok(())
}
