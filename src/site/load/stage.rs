//! The SQL that validates and converts one input file. One statement reads the file and inserts
//! its good rows into the clinical table, converted (lab values in the canonical unit); each bad
//! row goes instead to `midnet_set_aside` (see `set_aside.rs`) with every problem found, joined by
//! "; ", and its raw fields, on its way to the quarantine.
//!
//! The checks run inside DuckDB (vectorised casts, regexes and joins in the same pass that reads
//! the file), so loading costs little more than DuckDB's own `read_csv` of the same file
//! (BENCHMARKS.md, "Issue 2").

use super::spec::{DEFAULT_LOCAL_SYSTEM, Field, Kind, TableSpec};
use crate::schema::CodeSystem;
use crate::sql::duckdb::{ident, string};

/// Dates: DuckDB's own cast reads `YYYY-MM-DD` and `YYYY/MM/DD` (fast); `YYYYMMDD` needs a format.
const COMPACT_DATE: &str = "'%Y%m%d'";
/// Date-times: the cast reads ISO and slashed forms with or without seconds, and a bare date.
const COMPACT_TIMESTAMPS: &str = "['%Y%m%d%H%M%S', '%Y%m%d%H%M', '%Y%m%d']";
/// Dates outside this range are implausible for a clinical record.
const EARLIEST: &str = "DATE '1880-01-01'";
const LATEST: &str = "DATE '2100-12-31'";

/// A censored lab value such as `<0.1` or `>=1000`, kept as text with no numeric value.
pub const CENSORED_VALUE: &str = r"(<|>|<=|>=|≦|≧|＜|＞)\s*[0-9]+(\.[0-9]+)?";

/// One validation rule applied to a row: a SQL predicate true when the row breaks it, and the
/// message recorded in the quarantine.
struct Check {
    bad: String,
    message: Vec<Piece>,
}

impl Check {
    fn new(bad: impl Into<String>, message: Vec<Piece>) -> Check {
        Check { bad: bad.into(), message }
    }

    /// A message without a variable part.
    fn fixed(bad: impl Into<String>, message: &str) -> Check {
        Check::new(bad, vec![Piece::Text(message.to_string())])
    }

    /// `NAME 'VALUE' WHAT`: the field's value quoted, then what is wrong with it.
    fn quoting(bad: impl Into<String>, field: &str, value: &str, what: &str) -> Check {
        Check::new(
            bad,
            vec![Piece::Text(format!("{field} '")), Piece::Value(value.to_string()), Piece::Text(format!("' {what}"))],
        )
    }

    /// The SQL expression of the message (its parts are not NULL when the check is true).
    fn message_sql(&self) -> String {
        let parts: Vec<String> = self
            .message
            .iter()
            .map(|piece| match piece {
                Piece::Text(text) => string(text),
                Piece::Value(sql) | Piece::Known(_, sql) => sql.clone(),
            })
            .collect();
        parts.join(" || ")
    }
}

/// A part of a quarantine reason. The listing (`site::quarantine`) shows the text and the known
/// names but never a value of the row: a value may be anything the hospital's file held in that
/// column, a name typed into the wrong one included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    /// A value of the row (its SQL expression), quoted by the surrounding text.
    Value(String),
    /// A name from a list the site holds, not from the row (its SQL expression).
    Known(Known, String),
}

/// The lists a [`Piece::Known`] comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    /// An analyte of the lab master.
    Analyte,
    /// A canonical unit of the lab master.
    Unit,
    /// A data row's number.
    RowNumber,
    /// A kind of error of DuckDB's CSV reader (`CAST`, `TOO MANY COLUMNS`, …).
    ReaderError,
    /// A column of the table.
    Column,
    /// Where in an SS-MIX2 message (`PRB-7`, `PV1`, `message`): the import's reasons begin with it.
    Hl7Place,
    /// Which record of a claims file (`SY`, `SY-3`): the claims import's reasons begin with it.
    ReceiptPlace,
}

/// The messages a file of `spec`'s table can be quarantined with (and those older midnets wrote,
/// which a migrated site's quarantine holds), each one a sequence of pieces; a row's reason is one
/// or more of them joined by "; ".
pub fn messages(spec: &TableSpec) -> Vec<Vec<Piece>> {
    let mut messages: Vec<Vec<Piece>> = checks(spec).into_iter().map(|c| c.message).collect();
    messages.extend([malformed_line(false), malformed_line(true)]);
    if let Some(local) = spec.local {
        // What a midnet before local codes (schema version 3) wrote for a row without its standard code.
        messages.push(vec![Piece::Text(format!("missing {}", local.code_field))]);
    }
    messages
}

/// The message of a line the CSV reader could not split into the file's fields (one of its
/// `store_rejects` rows), with or without the column it names.
fn malformed_line(with_column: bool) -> Vec<Piece> {
    let mut pieces = vec![
        Piece::Text("malformed CSV line: ".to_string()),
        Piece::Known(Known::ReaderError, "error_type".to_string()),
    ];
    if with_column {
        pieces.extend([
            Piece::Text(" (".to_string()),
            Piece::Known(Known::Column, "column_name".to_string()),
            Piece::Text(")".to_string()),
        ]);
    }
    pieces
}

/// The SQL expression of the message of a rejected line (a row of DuckDB's `reject_errors`).
pub fn malformed_line_sql() -> String {
    let with_column = Check::new("true", malformed_line(true)).message_sql();
    let without = Check::new("true", malformed_line(false)).message_sql();
    format!("coalesce({with_column}, {without})")
}

/// What a date field accepts, as its quarantine message says.
const DATE_FORMS: &str = "YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD";
/// What a date-time field accepts.
const DATE_TIME_FORMS: &str = "YYYY-MM-DD[ HH:MM[:SS]] or YYYY/MM/DD[ HH:MM[:SS]] or YYYYMMDD[HHMM[SS]]";

/// How the rows of a file are read: with or without their record numbers. Numbering costs: DuckDB
/// reads a CSV file in parallel, and numbering its records in file order about halves the speed of
/// a pass that writes them (BENCHMARKS.md, "Issue 2").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Numbering {
    /// Every record carries `rn`, its number among the file's data records.
    Numbered,
    Unnumbered,
}

/// The patient file is the one whose rows depend on their order (of two rows with one key, the first
/// is good) and on the table they go into (a key already loaded is bad, so its bad rows must be
/// found before its good rows go in). Its files are small; they are read in order.
pub fn read_in_order(spec: &TableSpec) -> bool {
    spec.table == "patient"
}

/// Where the rows an insert reads come from.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// The rows' `source_file`.
    pub source_file: SourceFile<'a>,
    pub load_file_id: i64,
    /// Whether the rows are waiting rows whose standard code a mapping gave: they keep their local
    /// code (`local_system`, `local_code`); a row of a file keeps none.
    pub mapped: bool,
}

/// The hospital file each row came from.
#[derive(Debug, Clone, Copy)]
pub enum SourceFile<'a> {
    /// One file for all the rows (a file `site load` reads: its name).
    Named(&'a str),
    /// Each row's own, in the scan's column `source_file` (rows staged from many files: an SS-MIX2
    /// storage's messages, or waiting rows brought in).
    PerRow,
}

impl SourceFile<'_> {
    fn sql(&self) -> String {
        match self {
            SourceFile::Named(name) => string(name),
            SourceFile::PerRow => "t_source_file".to_string(),
        }
    }
}

/// Columns a scan may carry beside the table's fields, passed through as `t_<name>`: a row's own
/// source file ([`SourceFile::PerRow`]) and the line (for SS-MIX2, the segment) that says it.
const PASSED_THROUGH: [&str; 2] = ["source_file", "line"];

/// `INSERT` of the good rows of the file read by `scan` into its clinical table, converted, each
/// with the file's name as its `source_file` and the file's `load_file_id`; its bad rows are set
/// aside, and its rows with a local code and no standard code are left for [`waiting_sql`]. `scan`
/// is a subquery whose columns are the file's (all VARCHAR), plus `rn` when `numbering` says so;
/// `present` lists the file's columns.
///
/// Fields are not trimmed: a value with stray spaces fails its check and is quarantined with the
/// value shown in quotes, rather than silently changed (dates and numbers tolerate spaces anyway).
pub fn insert_sql(spec: &TableSpec, scan: &str, present: &[String], numbering: Numbering, origin: Origin) -> String {
    assert!(numbering == Numbering::Numbered || !read_in_order(spec), "the {} file is read in order", spec.table);
    let mut stored_columns = stored_columns(spec);
    if spec.local.is_some() {
        let local = |column: &str| if origin.mapped { format!("c_{column}") } else { "NULL".to_string() };
        stored_columns.push(("local_system".to_string(), local("local_system")));
        stored_columns.push(("local_code".to_string(), local("local_code")));
    }
    stored_columns.push(("source_file".to_string(), origin.source_file.sql()));
    stored_columns.push(("load_file_id".to_string(), origin.load_file_id.to_string()));
    let columns: Vec<String> = stored_columns.iter().map(|(c, _)| ident(c)).collect();
    let stored: Vec<String> = stored_columns.iter().map(|(_, expr)| expr.clone()).collect();
    format!(
        "INSERT INTO {table} ({columns})\nSELECT {stored} FROM ({rows}) WHERE kept",
        table = ident(spec.table),
        columns = columns.join(", "),
        stored = stored.join(", "),
        rows = rows_sql(spec, scan, present, numbering, &format!("{} AS kept", kept_sql(spec, numbering))),
    )
}

/// `INSERT` into `local_row` of the good rows of the file read by the numbered `scan` that have a
/// local code and no standard code: they wait for a mapping. `line` is the SQL of a row's line
/// (from its record number `rn`); `file` the path as given to `site load`; `data_version` the load's.
pub fn waiting_sql(
    spec: &TableSpec,
    scan: &str,
    present: &[String],
    (origin, file): (Origin, &str),
    line: &str,
    data_version: i64,
) -> String {
    let local = spec.local.expect("only a table with local codes has waiting rows");
    let fields: Vec<String> = spec
        .fields
        .iter()
        .filter(|f| f.name != local.code_field)
        .map(|f| format!("{}, t_{}", string(f.name), f.name))
        .collect();
    let unit = local.unit_field.map_or("NULL".to_string(), |u| format!("t_{u}"));
    format!(
        "INSERT INTO local_row (table_name, kind, local_system, local_code, local_text, unit, row_date, fields, \
                                load_file_id, source_file, file, line, data_version)
SELECT {table}, {kind}, coalesce(t_local_system, {default_system}), t_local_code, t_local_text, {unit},
       c_{date}::DATE, json_object({fields}), {load_file_id}, {source_file}, {file}, {line}, {data_version}
FROM ({rows}) WHERE NOT bad AND {waiting}",
        table = string(spec.table),
        kind = string(local.kind.name()),
        default_system = string(DEFAULT_LOCAL_SYSTEM),
        date = local.date_field,
        fields = fields.join(", "),
        load_file_id = origin.load_file_id,
        source_file = origin.source_file.sql(),
        // Rows of many files are each quarantined at their own.
        file = match origin.source_file {
            SourceFile::Named(_) => string(file),
            SourceFile::PerRow => "t_source_file".to_string(),
        },
        // A check about a missing value is NULL, which is not bad (`bad_sql`).
        rows = rows_sql(
            spec,
            scan,
            present,
            Numbering::Numbered,
            &format!("coalesce({}, false) AS bad", bad_sql(&checks(spec)))
        ),
        waiting = waiting(spec),
    )
}

/// True for a row, not bad, that waits for a mapping: it has no standard code (and so a local one).
fn waiting(spec: &TableSpec) -> String {
    spec.local.map_or("false".to_string(), |local| format!("t_{} IS NULL", local.code_field))
}

/// The bad rows of the file read by the numbered `scan`: record number `rn`, `reason`, `raw`. The
/// way to the quarantine for a file with more bad rows than `midnet_set_aside` keeps.
pub fn bad_rows_sql(spec: &TableSpec, scan: &str, present: &[String]) -> String {
    let checks = checks(spec);
    let bad = bad_sql(&checks);
    let with_reasons =
        format!("{bad} AS bad, CASE WHEN {bad} THEN {} END AS reason, {} AS raw", reasons_sql(&checks), raw_sql(spec));
    format!(
        "SELECT rn, reason, raw FROM ({}) WHERE bad",
        rows_sql(spec, scan, present, Numbering::Numbered, &with_reasons)
    )
}

/// The file's rows as text (`t_<name>`) and converted (`c_<name>`), with the columns the joins
/// look up, and `tail`: further columns computed from those.
fn rows_sql(spec: &TableSpec, scan: &str, present: &[String], numbering: Numbering, tail: &str) -> String {
    let converted: Vec<String> = spec.fields.iter().map(|f| format!("{} AS c_{}", convert(f), f.name)).collect();
    format!(
        "WITH text AS (
    SELECT {text} FROM {scan}
), converted AS (
    SELECT *, {converted} FROM text
)
SELECT converted.*, {lookups}, {tail}
FROM converted {joins}",
        text = text_columns(spec, present, numbering).join(", "),
        converted = converted.join(",\n           "),
        lookups = table_lookups(spec.table),
        joins = table_joins(spec.table),
    )
}

/// True for a good row with its standard code; false for one waiting for a mapping; for a bad row,
/// the call that sets it aside (which returns false).
fn kept_sql(spec: &TableSpec, numbering: Numbering) -> String {
    // No argument of the function may be NULL: DuckDB would not call it, and the row would be
    // neither kept nor set aside. Record numbers start at 1; 0 stands for "not numbered".
    let rn = match numbering {
        Numbering::Numbered => "rn",
        Numbering::Unnumbered => "0",
    };
    let checks = checks(spec);
    format!(
        "CASE WHEN {bad}\n    THEN {set_aside}({rn}, coalesce(t_patient_key, ''), {reasons}, {raw})\n    ELSE NOT ({waiting}) END",
        bad = bad_sql(&checks),
        set_aside = super::set_aside::FUNCTION,
        reasons = reasons_sql(&checks),
        raw = raw_sql(spec),
        waiting = waiting(spec),
    )
}

/// True when one of the checks is true. A check that is NULL (about a missing value) does not make
/// a row bad, as `CASE WHEN` and `WHERE` take NULL for false; and a `WHEN` of ORs skips the later
/// checks of a row an earlier one found bad.
fn bad_sql(checks: &[Check]) -> String {
    let bad: Vec<&str> = checks.iter().map(|c| c.bad.as_str()).collect();
    format!("(({}))", bad.join(")\n        OR ("))
}

/// Every message of the checks a row breaks, joined by "; ".
fn reasons_sql(checks: &[Check]) -> String {
    let messages: Vec<String> =
        checks.iter().map(|c| format!("CASE WHEN {} THEN {} END", c.bad, c.message_sql())).collect();
    format!("concat_ws('; ',\n        {})", messages.join(",\n        "))
}

/// The file's fields as `t_<name>` (NULL for a column the file lacks), after `rn` if numbered.
fn text_columns(spec: &TableSpec, present: &[String], numbering: Numbering) -> Vec<String> {
    let fields = spec.fields.iter().map(|f| {
        let t = ident(&format!("t_{}", f.name));
        if present.iter().any(|p| p == f.name) {
            format!("{} AS {t}", ident(f.name))
        } else {
            format!("NULL::VARCHAR AS {t}")
        }
    });
    let rn = (numbering == Numbering::Numbered).then(|| "rn".to_string());
    let passed = PASSED_THROUGH
        .iter()
        .filter(|name| present.iter().any(|p| p == *name))
        .map(|name| format!("{} AS {}", ident(name), ident(&format!("t_{name}"))));
    rn.into_iter().chain(fields).chain(passed).collect()
}

/// A row's fields as the quarantine shows them: joined by `|`, missing ones empty. `lines::find`
/// builds the same from the file's records to find the bad rows again.
fn raw_sql(spec: &TableSpec) -> String {
    let fields: Vec<String> = spec.fields.iter().map(|f| format!("coalesce(t_{}, '')", f.name)).collect();
    format!("concat_ws('|', {})", fields.join(", "))
}

/// Every check of a table's rows: of each field, across its fields, and against other tables.
fn checks(spec: &TableSpec) -> Vec<Check> {
    let mut checks: Vec<Check> = spec.fields.iter().flat_map(|f| field_checks(spec, f)).collect();
    checks.extend(spec.row_checks.iter().map(|c| Check::fixed(c.bad_when, c.reason)));
    checks.extend(table_checks(spec.table));
    checks
}

/// The SQL expression converting the text `t_<name>` to a typed value.
fn convert(f: &Field) -> String {
    let t = format!("t_{}", f.name);
    match f.kind {
        Kind::Key | Kind::Text | Kind::OneOf(_) => t,
        Kind::Date => format!("coalesce(TRY_CAST({t} AS DATE), try_strptime({t}, {COMPACT_DATE})::DATE)"),
        Kind::Timestamp => format!("coalesce(TRY_CAST({t} AS TIMESTAMP), try_strptime({t}, {COMPACT_TIMESTAMPS}))"),
        Kind::Sex => {
            format!("CASE upper({t}) WHEN 'M' THEN 'M' WHEN '1' THEN 'M' WHEN 'F' THEN 'F' WHEN '2' THEN 'F' END")
        }
        Kind::Bool => format!(
            "CASE WHEN lower({t}) IN ('1', 'true', 't', 'y', 'yes') THEN true \
             WHEN lower({t}) IN ('0', 'false', 'f', 'n', 'no') THEN false END"
        ),
        Kind::PositiveInt => format!("TRY_CAST({t} AS INTEGER)"),
        Kind::Number | Kind::PositiveNumber | Kind::LabValue => format!("TRY_CAST({t} AS DOUBLE)"),
        Kind::Vocabulary(vocabulary) => {
            let values = vocabulary.values.iter().map(|v| (*v, *v));
            let whens: Vec<String> = values
                .chain(vocabulary.codes.iter().copied())
                .map(|(text, value)| format!("WHEN {} THEN {}", string(text), string(value)))
                .collect();
            format!("CASE {t} {} END", whens.join(" "))
        }
        Kind::Code(CodeSystem::Icd10) => format!("upper(replace({t}, '.', ''))"),
        Kind::Code(_) => format!("upper({t})"),
    }
}

/// The checks of one field: present if required (a standard code: unless the row has a local
/// code), then well formed for its kind.
fn field_checks(spec: &TableSpec, f: &Field) -> Vec<Check> {
    let t = format!("t_{}", f.name);
    let c = format!("c_{}", f.name);
    let name = f.name;
    let shown = |bad: String, what: &str| Check::quoting(bad, name, &t, what);
    let present = format!("{t} IS NOT NULL");
    let unparsed = format!("{present} AND {c} IS NULL");
    let implausible = format!("{present} AND ({c} < {EARLIEST} OR {c} > {LATEST})");
    let mut checks = Vec::new();
    match spec.local {
        Some(local) if local.code_field == name => checks.push(Check::fixed(
            format!("{t} IS NULL AND t_local_code IS NULL"),
            &format!("missing {name} and local_code"),
        )),
        _ if f.required => checks.push(Check::fixed(format!("{t} IS NULL"), &format!("missing {name}"))),
        _ => {}
    }
    match f.kind {
        Kind::Key | Kind::Text | Kind::LabValue => {}
        Kind::Date => {
            checks.push(shown(unparsed, &format!("is not a date ({DATE_FORMS})")));
            checks.push(shown(implausible, "is not a plausible date"));
        }
        Kind::Timestamp => {
            checks.push(shown(unparsed, &format!("is not a date-time ({DATE_TIME_FORMS})")));
            checks.push(shown(implausible, "is not a plausible date"));
        }
        Kind::Sex => checks.push(shown(unparsed, "is not M or F (or 1 or 2)")),
        Kind::Bool => checks.push(shown(unparsed, "is not true or false")),
        Kind::PositiveInt => {
            checks.push(shown(format!("{present} AND ({c} IS NULL OR {c} <= 0)"), "is not a positive whole number"))
        }
        Kind::Number => checks.push(shown(unparsed, "is not a number")),
        Kind::PositiveNumber => {
            checks.push(shown(format!("{present} AND ({c} IS NULL OR {c} <= 0)"), "is not a positive number"))
        }
        Kind::Vocabulary(vocabulary) => checks.push(shown(
            unparsed,
            &format!("is not one of {} (or {})", vocabulary.values.join(", "), vocabulary.codes_named),
        )),
        Kind::OneOf(values) => {
            let list: Vec<String> = values.iter().map(|v| string(v)).collect();
            checks.push(shown(
                format!("{present} AND {c} NOT IN ({})", list.join(", ")),
                &format!("is not one of {}", values.join(", ")),
            ));
        }
        Kind::Code(system) => checks.push(shown(
            format!("{present} AND NOT regexp_full_match({c}, {})", string(system.full_regex())),
            &format!("is not a valid {} code: {}", system.label(), system.shape()),
        )),
    }
    checks
}

/// The patient keys a row may refer to are those of the patient table: patient files load first,
/// in the same transaction, and a statement reads the table as it was when the statement began.
fn table_joins(table: &str) -> String {
    let known = "LEFT JOIN patient known ON known.patient_key = converted.c_patient_key".to_string();
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
        _ => known,
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
fn table_checks(table: &str) -> Vec<Check> {
    let mut checks = Vec::new();
    let text = |t: &str| Piece::Text(t.to_string());
    let analyte = || Piece::Known(Known::Analyte, "lm.analyte".to_string());
    if table == "patient" {
        checks.push(Check::fixed("known.patient_key IS NOT NULL", "patient_key already loaded"));
        checks.push(Check::new(
            "dup.dup_key IS NOT NULL",
            vec![
                text("duplicate patient_key (first seen in data row "),
                Piece::Known(Known::RowNumber, "dup.first_rn".to_string()),
                text(")"),
            ],
        ));
    } else {
        checks.push(Check::quoting(
            "c_patient_key IS NOT NULL AND known.patient_key IS NULL",
            "patient_key",
            "c_patient_key",
            "is not in the patient table",
        ));
    }
    if table == "lab_result" {
        let known_analyte = "lm.analyte IS NOT NULL";
        checks.push(Check::new(
            format!(
                "t_value IS NOT NULL AND c_value IS NULL AND {known_analyte} \
                 AND NOT regexp_full_match(trim(t_value), {})",
                string(CENSORED_VALUE)
            ),
            vec![text("value '"), Piece::Value("t_value".into()), text("' of "), analyte(), text(" is not a number")],
        ));
        checks.push(Check::new(
            format!("c_value IS NOT NULL AND {known_analyte} AND c_unit IS NULL"),
            vec![text("missing unit for a numeric "), analyte(), text(" result")],
        ));
        checks.push(Check::new(
            format!("c_value IS NOT NULL AND {known_analyte} AND c_unit <> lm.canonical_unit AND uc.factor IS NULL"),
            vec![
                text("unit '"),
                Piece::Value("c_unit".into()),
                text("' cannot be converted to "),
                Piece::Known(Known::Unit, "lm.canonical_unit".into()),
                text(" for "),
                analyte(),
            ],
        ));
    }
    checks
}

fn stored_columns(spec: &TableSpec) -> Vec<(String, String)> {
    if spec.table == "lab_result" {
        return [
            ("patient_key", "c_patient_key"),
            ("jlac10", "c_jlac10"),
            ("specimen", "coalesce(c_specimen, substr(c_jlac10, 10, 3))"),
            ("result_time", "c_result_time"),
            ("value", "c_value * factor"),
            ("unit", "coalesce(canonical_unit, c_unit)"),
            ("ref_low", "c_ref_low * factor"),
            ("ref_high", "c_ref_high * factor"),
            ("abnormal_flag", "c_abnormal_flag"),
            ("value_text", "CASE WHEN c_value IS NULL THEN trim(t_value) END"),
            ("reported_value", "c_value"),
            ("reported_unit", "c_unit"),
            ("result_status", "c_result_status"),
            ("source", "c_source"),
        ]
        .iter()
        .map(|(c, e)| (c.to_string(), e.to_string()))
        .collect();
    }
    // The local code's fields are the rows' only when a mapping gave their standard code (`insert_sql`).
    spec.fields
        .iter()
        .filter(|f| !f.name.starts_with("local_"))
        .map(|f| (f.name.to_string(), stored_value(spec.table, f)))
        .collect()
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
