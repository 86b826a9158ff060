//! The SQL that validates and converts one input file in a single pass. The staged table holds,
//! per record, the values exactly as the clinical table stores them (converted, lab values in the
//! canonical unit), a `reason` (empty when the row is good, otherwise every problem found, joined
//! by "; ") and, for bad rows only, the raw fields. Good rows then go to the clinical table by a
//! plain projection, bad rows to the quarantine.
//!
//! The whole pass runs inside DuckDB (vectorised casts and regexes, record numbers from the scan's
//! ordinality), so loading costs little more than DuckDB's own `read_csv` of the same file
//! (BENCHMARKS.md, "Site load").

use super::spec::{Field, Kind, TableSpec};
use crate::schema::CodeSystem;
use crate::sql::quote::{ident, literal};

/// Dates: DuckDB's own cast reads `YYYY-MM-DD` and `YYYY/MM/DD` (fast); `YYYYMMDD` needs a format.
const COMPACT_DATE: &str = "'%Y%m%d'";
/// Date-times: the cast reads ISO and slashed forms with or without seconds, and a bare date.
const COMPACT_TIMESTAMPS: &str = "['%Y%m%d%H%M%S', '%Y%m%d%H%M', '%Y%m%d']";
/// Dates outside this range are implausible for a clinical record.
const EARLIEST: &str = "DATE '1880-01-01'";
const LATEST: &str = "DATE '2100-12-31'";

/// A censored lab value such as `<0.1` or `>=1000`, kept as text with no numeric value.
pub const CENSORED_VALUE: &str = r"(<|>|<=|>=|≦|≧|＜|＞)\s*[0-9]+(\.[0-9]+)?";

/// `CREATE TEMP TABLE staged AS …` for one file read by `scan`: a subquery whose columns are the
/// file's (all VARCHAR) plus a record number `rn`. `present` lists the file's columns.
pub fn staging_sql(spec: &TableSpec, scan: &str, present: &[String]) -> String {
    let has = |f: &Field| present.iter().any(|p| p == f.name);
    let text: Vec<String> = spec
        .fields
        .iter()
        .map(|f| {
            let t = ident(&format!("t_{}", f.name));
            match (has(f), trims(f.kind)) {
                (false, _) => format!("NULL::VARCHAR AS {t}"),
                (true, true) => format!("NULLIF(trim({}), '') AS {t}", ident(f.name)),
                (true, false) => format!("{} AS {t}", ident(f.name)),
            }
        })
        .collect();
    let converted: Vec<String> = spec.fields.iter().map(|f| format!("{} AS c_{}", convert(f), f.name)).collect();
    let mut reasons: Vec<String> = spec.fields.iter().filter_map(field_reason).collect();
    reasons.extend(spec.row_checks.iter().map(|c| format!("CASE WHEN {} THEN {} END", c.bad_when, literal(c.reason))));
    reasons.extend(table_reasons(spec.table));
    let raw: Vec<String> = spec.fields.iter().map(|f| format!("coalesce(t_{}, '')", f.name)).collect();
    let stored: Vec<String> = stored_columns(spec).iter().map(|(col, expr)| format!("{expr} AS {}", ident(col))).collect();
    format!(
        "CREATE OR REPLACE TEMP TABLE staged AS
WITH text AS (
    SELECT rn, {text} FROM {scan}
), converted AS (
    SELECT *, {converted} FROM text
), checked AS (
    SELECT converted.*, {lookups}, concat_ws('; ', {reasons}) AS reason
    FROM converted {joins}
)
SELECT rn, {stored}, reason, CASE WHEN reason <> '' THEN concat_ws('|', {raw}) END AS raw FROM checked",
        text = text.join(", "),
        converted = converted.join(",\n           "),
        lookups = table_lookups(spec.table),
        reasons = reasons.join(",\n        "),
        joins = table_joins(spec.table),
        stored = stored.join(", "),
        raw = raw.join(", "),
    )
}

/// `INSERT` of the good staged rows into the clinical table.
pub fn insert_sql(spec: &TableSpec) -> String {
    let columns: Vec<String> = stored_columns(spec).iter().map(|(c, _)| ident(c)).collect();
    let list = columns.join(", ");
    format!("INSERT INTO {} ({list}) SELECT {list} FROM staged WHERE reason = ''", ident(spec.table))
}

/// Text fields are trimmed; dates and numbers are not (DuckDB's casts skip surrounding spaces).
fn trims(kind: Kind) -> bool {
    !matches!(kind, Kind::Date | Kind::Timestamp | Kind::PositiveInt | Kind::Number | Kind::LabValue)
}

/// The SQL expression converting the text `t_<name>` to a typed value.
fn convert(f: &Field) -> String {
    let t = format!("t_{}", f.name);
    match f.kind {
        Kind::Key | Kind::Text | Kind::OneOf(_) => t,
        Kind::Date => format!("coalesce(TRY_CAST({t} AS DATE), try_strptime({t}, {COMPACT_DATE})::DATE)"),
        Kind::Timestamp => format!("coalesce(TRY_CAST({t} AS TIMESTAMP), try_strptime({t}, {COMPACT_TIMESTAMPS}))"),
        Kind::Sex => format!("CASE upper({t}) WHEN 'M' THEN 'M' WHEN '1' THEN 'M' WHEN 'F' THEN 'F' WHEN '2' THEN 'F' END"),
        Kind::Bool => format!(
            "CASE WHEN lower({t}) IN ('1', 'true', 't', 'y', 'yes') THEN true \
             WHEN lower({t}) IN ('0', 'false', 'f', 'n', 'no') THEN false END"
        ),
        Kind::PositiveInt => format!("TRY_CAST({t} AS INTEGER)"),
        Kind::Number | Kind::LabValue => format!("TRY_CAST({t} AS DOUBLE)"),
        Kind::Code(CodeSystem::Icd10) => format!("upper(replace({t}, '.', ''))"),
        Kind::Code(_) => format!("upper({t})"),
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
        Kind::Key | Kind::Text | Kind::LabValue => String::new(),
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
    };
    if missing.is_empty() && bad.is_empty() {
        return None;
    }
    let guard = if f.required { String::new() } else { format!("WHEN {t} IS NULL THEN NULL ") };
    Some(format!("CASE {missing}{guard}{bad}END"))
}

/// Joins that checks of some tables need: the patient table (every row must belong to a known
/// patient; a patient is loaded once) and, for lab results, the lab master and unit conversions.
fn table_joins(table: &str) -> String {
    let known = "LEFT JOIN patient known ON known.patient_key = converted.c_patient_key";
    match table {
        "patient" => format!(
            "{known} LEFT JOIN (SELECT c_patient_key AS dup_key, min(rn) AS first_rn FROM converted \
                               GROUP BY c_patient_key HAVING count(*) > 1) dup \
                     ON dup.dup_key = converted.c_patient_key AND converted.rn > dup.first_rn"
        ),
        "lab_result" => format!(
            "{known} LEFT JOIN lab_master lm ON lm.analyte_code = substr(converted.c_jlac10, 1, 5) \
                                            AND lm.specimen_code = substr(converted.c_jlac10, 10, 3) \
                     LEFT JOIN unit_conversion uc ON uc.analyte_code = lm.analyte_code AND uc.from_unit = converted.c_unit"
        ),
        _ => known.to_string(),
    }
}

/// Columns the joins contribute to `checked` (so that the final projection needs no join).
fn table_lookups(table: &str) -> &'static str {
    match table {
        // The factor from the reported unit to the canonical one: 1 for the canonical unit itself
        // and for analytes the master does not know (kept as reported); NULL when no conversion
        // exists, which the reasons quarantine.
        "lab_result" => {
            "lm.analyte AS analyte, lm.canonical_unit AS canonical_unit, \
             CASE WHEN lm.analyte IS NULL OR converted.c_unit = lm.canonical_unit THEN 1.0 ELSE uc.factor END AS factor"
        }
        _ => "NULL AS no_lookup",
    }
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
                   AND NOT regexp_full_match(trim(t_value), {censored}) \
                  THEN 'value ''' || t_value || ''' of ' || lm.analyte || ' is not a number' \
                  WHEN c_value IS NOT NULL AND lm.analyte IS NOT NULL AND c_unit IS NULL \
                  THEN 'missing unit for a numeric ' || lm.analyte || ' result' \
                  WHEN c_value IS NOT NULL AND lm.analyte IS NOT NULL AND c_unit <> lm.canonical_unit AND uc.factor IS NULL \
                  THEN 'unit ''' || c_unit || ''' cannot be converted to ' || lm.canonical_unit || ' for ' || lm.analyte END",
            censored = literal(CENSORED_VALUE)
        ));
    }
    reasons
}

/// The stored columns of a table and the expressions (over `checked`) that give them.
fn stored_columns(spec: &TableSpec) -> Vec<(String, String)> {
    if spec.table == "lab_result" {
        return [
            ("patient_key", "c_patient_key"),
            ("jlac10", "c_jlac10"),
            ("result_time", "c_result_time"),
            ("value", "c_value * factor"),
            ("unit", "coalesce(canonical_unit, c_unit)"),
            ("ref_low", "c_ref_low * factor"),
            ("ref_high", "c_ref_high * factor"),
            ("abnormal_flag", "c_abnormal_flag"),
            ("value_text", "CASE WHEN c_value IS NULL THEN trim(t_value) END"),
            ("reported_value", "c_value"),
            ("reported_unit", "c_unit"),
            ("source", "c_source"),
        ]
        .iter()
        .map(|(c, e)| (c.to_string(), e.to_string()))
        .collect();
    }
    spec.fields.iter().map(|f| (f.name.to_string(), stored_value(spec.table, f))).collect()
}

/// The stored value of a field, with the defaults of optional fields that the schema requires.
fn stored_value(table: &str, f: &Field) -> String {
    match (table, f.name) {
        ("encounter", "end_date") => "coalesce(c_end_date, c_start_date)".into(),
        ("drug_order", "start_date") => "coalesce(c_start_date, c_order_date)".into(),
        ("diagnosis", "suspected") | ("diagnosis", "main_diagnosis") => format!("coalesce(c_{}, false)", f.name),
        _ => format!("c_{}", f.name),
    }
}
