//! The SQL that validates and converts one input file in a single pass: every row gets its
//! converted values and a `reason` (empty when the row is good, otherwise every problem found,
//! joined by "; "). Good rows then go to the clinical table, bad rows to the quarantine.
//!
//! The whole pass runs inside DuckDB (vectorised casts and regexes), so loading costs little more
//! than DuckDB's own `read_csv` of the same file (BENCHMARKS.md, "Site load").

use super::spec::{Field, Kind, TableSpec};
use crate::sql::quote::{ident, literal};

/// Date formats accepted in input files.
const DATE_FORMATS: &str = "['%Y-%m-%d', '%Y/%m/%d', '%Y%m%d']";
/// Date-time formats accepted for lab result times; a bare date means midnight.
const TIMESTAMP_FORMATS: &str = "['%Y-%m-%d %H:%M:%S', '%Y-%m-%dT%H:%M:%S', '%Y-%m-%d %H:%M', '%Y-%m-%dT%H:%M', \
     '%Y/%m/%d %H:%M:%S', '%Y/%m/%d %H:%M', '%Y%m%d%H%M%S', '%Y-%m-%d', '%Y/%m/%d', '%Y%m%d']";
/// Dates outside this range are implausible for a clinical record.
const EARLIEST: &str = "DATE '1880-01-01'";
const LATEST: &str = "DATE '2100-12-31'";

/// `CREATE TEMP TABLE staged AS …` for one file read by `scan` (a `read_csv`/`read_parquet` call
/// whose columns are all VARCHAR and which has a record number `rn`).
pub fn staging_sql(spec: &TableSpec, scan: &str, present: &[String]) -> String {
    let has = |f: &Field| present.iter().any(|p| p == f.name);
    let trimmed: Vec<String> = spec
        .fields
        .iter()
        .map(|f| {
            if has(f) {
                format!("NULLIF(trim({}), '') AS {}", ident(f.name), ident(&format!("t_{}", f.name)))
            } else {
                format!("NULL::VARCHAR AS {}", ident(&format!("t_{}", f.name)))
            }
        })
        .collect();
    let converted: Vec<String> = spec.fields.iter().map(|f| format!("{} AS c_{}", convert(f), f.name)).collect();
    let mut reasons: Vec<String> = spec.fields.iter().filter_map(field_reason).collect();
    reasons.extend(
        spec.row_checks.iter().map(|c| format!("CASE WHEN {} THEN {} END", c.bad_when, literal(c.reason))),
    );
    reasons.extend(table_reasons(spec.table));
    let raw_fields: Vec<String> =
        spec.fields.iter().map(|f| format!("coalesce(t_{}, '')", f.name)).collect();
    let extra_joins = table_joins(spec.table);
    format!(
        "CREATE OR REPLACE TEMP TABLE staged AS
WITH trimmed AS (
    SELECT rn, {trimmed} FROM {scan}
), converted AS (
    SELECT *, {converted} FROM trimmed
), checked AS (
    SELECT converted.*, concat_ws('; ', {reasons}) AS reason
    FROM converted {extra_joins}
)
SELECT *, CASE WHEN reason <> '' THEN concat_ws('|', {raw}) END AS raw FROM checked",
        trimmed = trimmed.join(", "),
        converted = converted.join(",\n           "),
        reasons = reasons.join(",\n        "),
        raw = raw_fields.join(", "),
    )
}

/// The SQL expression converting the trimmed text `t_<name>` to the stored value.
fn convert(f: &Field) -> String {
    let t = format!("t_{}", f.name);
    match f.kind {
        Kind::Key | Kind::Text => t,
        Kind::Date => format!("try_strptime({t}, {DATE_FORMATS})::DATE"),
        Kind::Timestamp => format!("try_strptime({t}, {TIMESTAMP_FORMATS})"),
        Kind::Sex => format!("CASE upper({t}) WHEN 'M' THEN 'M' WHEN '1' THEN 'M' WHEN 'F' THEN 'F' WHEN '2' THEN 'F' END"),
        Kind::Bool => format!(
            "CASE WHEN lower({t}) IN ('1', 'true', 't', 'y', 'yes') THEN true \
             WHEN lower({t}) IN ('0', 'false', 'f', 'n', 'no') THEN false END"
        ),
        Kind::PositiveInt => format!("TRY_CAST({t} AS INTEGER)"),
        Kind::Number | Kind::LabValue => format!("TRY_CAST({t} AS DOUBLE)"),
        Kind::OneOf(_) => t,
        Kind::Code(system) => match system {
            crate::schema::CodeSystem::Icd10 => format!("upper(replace({t}, '.', ''))"),
            _ => format!("upper({t})"),
        },
    }
}

/// The SQL expression giving the problem with one field (NULL when there is none).
fn field_reason(f: &Field) -> Option<String> {
    let t = format!("t_{}", f.name);
    let c = format!("c_{}", f.name);
    let name = f.name;
    let missing = if f.required {
        format!("WHEN {t} IS NULL THEN {} ", literal(&format!("missing {name}")))
    } else {
        String::new()
    };
    let shown = format!("'''' || {t} || ''''");
    let bad = match f.kind {
        Kind::Key | Kind::Text => String::new(),
        Kind::Date => format!(
            "WHEN {c} IS NULL THEN '{name} ' || {shown} || ' is not a date (YYYY-MM-DD)' \
             WHEN {c} < {EARLIEST} OR {c} > {LATEST} THEN '{name} ' || {shown} || ' is not a plausible date' "
        ),
        Kind::Timestamp => format!(
            "WHEN {c} IS NULL THEN '{name} ' || {shown} || ' is not a date-time (YYYY-MM-DD HH:MM:SS)' \
             WHEN {c} < {EARLIEST} OR {c} > {LATEST} THEN '{name} ' || {shown} || ' is not a plausible date' "
        ),
        Kind::Sex => format!("WHEN {c} IS NULL THEN 'sex ' || {shown} || ' is not M or F (or 1 or 2)' "),
        Kind::Bool => format!("WHEN {c} IS NULL THEN '{name} ' || {shown} || ' is not true or false' "),
        Kind::PositiveInt => {
            format!("WHEN {c} IS NULL OR {c} <= 0 THEN '{name} ' || {shown} || ' is not a positive whole number' ")
        }
        Kind::Number => format!("WHEN {c} IS NULL THEN '{name} ' || {shown} || ' is not a number' "),
        Kind::OneOf(values) => {
            let list: Vec<String> = values.iter().map(|v| literal(v)).collect();
            format!(
                "WHEN {c} NOT IN ({}) THEN '{name} ' || {shown} || ' is not one of {}' ",
                list.join(", "),
                values.join(", ")
            )
        }
        Kind::Code(system) => format!(
            "WHEN NOT regexp_full_match({c}, {}) THEN '{name} ' || {shown} || {} ",
            literal(system.full_regex()),
            literal(&format!(" is not a valid {} code: {}", system.label(), system.shape()))
        ),
        // Whether a lab value parses depends on its analyte: see `table_reasons`.
        Kind::LabValue => String::new(),
    };
    if missing.is_empty() && bad.is_empty() {
        return None;
    }
    let guard = if f.required { String::new() } else { format!("WHEN {t} IS NULL THEN NULL ") };
    Some(format!("CASE {missing}{guard}{bad}END"))
}

/// Joins that checks of some tables need: the patient table (every row must belong to a known
/// patient) and, for lab results, the lab master and unit conversions.
fn table_joins(table: &str) -> String {
    let mut joins = String::new();
    if table == "patient" {
        joins.push_str(
            "LEFT JOIN patient known ON known.patient_key = converted.c_patient_key \
             LEFT JOIN (SELECT c_patient_key AS dup_key, min(rn) AS first_rn FROM converted \
                        GROUP BY c_patient_key HAVING count(*) > 1) dup \
                   ON dup.dup_key = converted.c_patient_key AND converted.rn > dup.first_rn",
        );
    } else {
        joins.push_str("LEFT JOIN patient known ON known.patient_key = converted.c_patient_key");
    }
    if table == "lab_result" {
        joins.push_str(
            " LEFT JOIN lab_master lm ON lm.analyte_code = substr(converted.c_jlac10, 1, 5) \
                                       AND lm.specimen_code = substr(converted.c_jlac10, 10, 3) \
              LEFT JOIN unit_conversion uc ON uc.analyte_code = lm.analyte_code AND uc.from_unit = converted.t_unit",
        );
    }
    joins
}

/// Checks of some tables that need the joins above.
fn table_reasons(table: &str) -> Vec<String> {
    let mut reasons = Vec::new();
    if table == "patient" {
        reasons.push("CASE WHEN known.patient_key IS NOT NULL THEN 'patient_key already loaded' END".to_string());
        reasons.push(
            "CASE WHEN dup.dup_key IS NOT NULL THEN 'duplicate patient_key (first seen in data row ' || dup.first_rn || ')' END"
                .to_string(),
        );
    } else {
        reasons.push(
            "CASE WHEN c_patient_key IS NOT NULL AND known.patient_key IS NULL \
             THEN 'patient_key ''' || c_patient_key || ''' is not in the patient table' END"
                .to_string(),
        );
    }
    if table == "lab_result" {
        reasons.push(format!(
            "CASE WHEN t_value IS NOT NULL AND c_value IS NULL AND lm.analyte IS NOT NULL \
                   AND NOT regexp_full_match(t_value, {censored}) \
                  THEN 'value ''' || t_value || ''' of ' || lm.analyte || ' is not a number' \
                  WHEN c_value IS NOT NULL AND lm.analyte IS NOT NULL AND t_unit IS NULL \
                  THEN 'missing unit for a numeric ' || lm.analyte || ' result' \
                  WHEN c_value IS NOT NULL AND lm.analyte IS NOT NULL AND t_unit <> lm.canonical_unit AND uc.factor IS NULL \
                  THEN 'unit ''' || t_unit || ''' cannot be converted to ' || lm.canonical_unit || ' for ' || lm.analyte END",
            censored = literal(CENSORED_VALUE)
        ));
    }
    reasons
}

/// A censored lab value such as `<0.1` or `>=1000`, kept as text with no numeric value.
pub const CENSORED_VALUE: &str = r"(<|>|<=|>=|≦|≧|＜|＞)\s*[0-9]+(\.[0-9]+)?";

/// The SELECT list that inserts good staged rows into each table, converting lab values to the
/// canonical unit.
pub fn insert_sql(spec: &TableSpec) -> String {
    let columns: Vec<String>;
    let values: Vec<String>;
    match spec.table {
        "lab_result" => {
            let factor = "CASE WHEN s.t_unit = lm.canonical_unit OR lm.analyte IS NULL THEN 1.0 ELSE uc.factor END";
            columns = [
                "patient_key", "jlac10", "result_time", "value", "unit", "ref_low", "ref_high", "abnormal_flag",
                "value_text", "reported_value", "reported_unit", "source",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            values = vec![
                "s.c_patient_key".into(),
                "s.c_jlac10".into(),
                "s.c_result_time".into(),
                format!("s.c_value * ({factor})"),
                "coalesce(lm.canonical_unit, s.t_unit)".into(),
                format!("s.c_ref_low * ({factor})"),
                format!("s.c_ref_high * ({factor})"),
                "s.c_abnormal_flag".into(),
                "CASE WHEN s.c_value IS NULL THEN s.t_value END".into(),
                "s.c_value".into(),
                "s.t_unit".into(),
                "s.c_source".into(),
            ];
            return format!(
                "INSERT INTO lab_result ({}) SELECT {} FROM staged s \
                 LEFT JOIN lab_master lm ON lm.analyte_code = substr(s.c_jlac10, 1, 5) \
                                          AND lm.specimen_code = substr(s.c_jlac10, 10, 3) \
                 LEFT JOIN unit_conversion uc ON uc.analyte_code = lm.analyte_code AND uc.from_unit = s.t_unit \
                 WHERE s.reason = ''",
                columns.join(", "),
                values.join(", ")
            );
        }
        _ => {
            columns = spec.fields.iter().map(|f| f.name.to_string()).collect();
            values = spec.fields.iter().map(|f| default_for(spec.table, f)).collect();
        }
    }
    format!(
        "INSERT INTO {} ({}) SELECT {} FROM staged WHERE reason = ''",
        ident(spec.table),
        columns.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", "),
        values.join(", ")
    )
}

/// The stored value of a field, with the defaults of optional fields that the schema requires.
fn default_for(table: &str, f: &Field) -> String {
    match (table, f.name) {
        ("encounter", "end_date") => "coalesce(c_end_date, c_start_date)".into(),
        ("drug_order", "start_date") => "coalesce(c_start_date, c_order_date)".into(),
        ("diagnosis", "suspected") | ("diagnosis", "main_diagnosis") => format!("coalesce(c_{}, false)", f.name),
        _ => format!("c_{}", f.name),
    }
}
