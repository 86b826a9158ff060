//! Rows waiting for a mapping of their local code (`local_row`), brought into their tables once a
//! decision of `local_code_map` gives their standard code.
//!
//! A waiting row is brought in as a load brings a row of a file in (`stage::insert_sql` over the
//! waiting rows, with the mapped code in the standard code's column): the same checks, the same
//! conversions (a lab value into its analyte's canonical unit), so a row that a mapping makes bad
//! (a unit the mapped analyte cannot be converted from) goes to the quarantine with its file and
//! line. Either way it is marked `brought_in` with the data version, and stays in `local_row`: a
//! later decision for its code takes it out of its table (or the quarantine) and brings it in again
//! with the new code ([`release`]).

use serde::Serialize;

use super::set_aside::SetAside;
use super::spec::{LocalKind, TableSpec, spec_for};
use super::stage::{self, Numbering, Origin, SourceFile};
use crate::error::Result;
use crate::sql::duckdb::{ident, string};

/// The rows of one loaded file that a mapping brought in.
#[derive(Debug, Clone, Serialize)]
pub struct BroughtIn {
    pub table: String,
    pub load_file_id: i64,
    pub rows_loaded: u64,
    pub rows_quarantined: u64,
}

/// Bring in every waiting row whose code the current mapping maps, under `data_version`; on a
/// connection on which no load registered the set-aside function.
pub fn bring_in(conn: &duckdb::Connection, data_version: i64) -> Result<Vec<BroughtIn>> {
    let set_aside = SetAside::register(conn)?;
    bring_in_with(conn, &set_aside, data_version)
}

/// [`bring_in`], the set-aside function registered as `set_aside`.
pub(super) fn bring_in_with(
    conn: &duckdb::Connection,
    set_aside: &SetAside,
    data_version: i64,
) -> Result<Vec<BroughtIn>> {
    let mut stmt =
        conn.prepare(&format!("SELECT DISTINCT r.table_name, r.load_file_id FROM {MAPPED} ORDER BY 1, 2"))?;
    let groups: Vec<(String, i64)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<std::result::Result<_, _>>()?;
    let mut brought = Vec::new();
    for (table, load_file_id) in groups {
        let spec = spec_for(&table).expect("waiting rows are of clinical tables");
        let origin = Origin { source_file: SourceFile::PerRow, load_file_id, mapped: true };
        let mut present: Vec<String> = spec.fields.iter().map(|f| f.name.to_string()).collect();
        present.push("source_file".to_string());
        let of_file = format!("r.table_name = {} AND r.load_file_id = {load_file_id}", string(&table));
        let scan = waiting_scan(spec, &of_file);
        let loaded = conn.execute(&stage::insert_sql(spec, &scan, &present, Numbering::Numbered, origin), [])?;
        let quarantined = quarantine(conn, set_aside, load_file_id, data_version)?;
        conn.execute(
            "UPDATE local_row SET brought_in = ? FROM current_local_code_map m \
             WHERE local_row.brought_in IS NULL AND local_row.table_name = ? AND local_row.load_file_id = ? \
             AND m.kind = local_row.kind AND m.local_system = local_row.local_system \
             AND m.local_code = local_row.local_code",
            duckdb::params![data_version, table, load_file_id],
        )?;
        brought.push(BroughtIn {
            table,
            load_file_id,
            rows_loaded: loaded as u64,
            rows_quarantined: quarantined as u64,
        });
    }
    Ok(brought)
}

/// The waiting rows (alias `r`) whose code the current mapping (alias `m`) maps.
const MAPPED: &str = "local_row r JOIN current_local_code_map m \
     ON m.kind = r.kind AND m.local_system = r.local_system AND m.local_code = r.local_code \
     AND r.brought_in IS NULL";

/// The waiting rows of `condition` as a file's scan: every field as text, the standard code the
/// mapping's, each row's own `source_file`, and `rn` the row's place in `local_row` (so that a bad
/// row is quarantined at its file and line, which rows staged from many files do not share).
fn waiting_scan(spec: &TableSpec, condition: &str) -> String {
    let local = spec.local.expect("only a table with local codes has waiting rows");
    let fields: Vec<String> = spec
        .fields
        .iter()
        .map(|f| {
            let value = match f.name {
                name if name == local.code_field => "m.standard_code".to_string(),
                "local_system" => "r.local_system".to_string(),
                name => format!("json_extract_string(r.fields, {})", string(&format!("$.{name}"))),
            };
            format!("{value} AS {}", ident(f.name))
        })
        .collect();
    format!(
        "(SELECT r.rowid AS rn, {}, r.source_file AS source_file FROM {MAPPED} WHERE {condition})",
        fields.join(", ")
    )
}

/// Put the rows the insert set aside into the quarantine at their files and lines (their waiting
/// row's, by its place `rn`); how many.
fn quarantine(conn: &duckdb::Connection, set_aside: &SetAside, load_file_id: i64, data_version: i64) -> Result<usize> {
    let bad = set_aside.take();
    for row in &bad.kept {
        conn.execute(
            "INSERT INTO quarantine SELECT ?, load_file_id, table_name, file, line, ? FROM local_row WHERE rowid = ?",
            duckdb::params![data_version, row.reason, row.rn],
        )?;
    }
    super::reasons::withhold_stored(conn, "quarantine", Some(load_file_id))?;
    Ok(bad.kept.len())
}

/// The rows of the clinical tables that came in with the codes `keys` (a table of `kind`,
/// `local_system`, `local_code`): per table, the condition over its row `t`.
pub fn brought_in_with(keys: &str) -> Vec<(&'static str, String)> {
    LocalKind::ALL
        .into_iter()
        .flat_map(|kind| {
            kind.tables().map(move |spec| {
                let condition = format!(
                    "EXISTS (SELECT 1 FROM {keys} k WHERE k.kind = {} AND t.local_system = k.local_system \
                     AND t.local_code = k.local_code)",
                    string(kind.name())
                );
                (spec.table, condition)
            })
        })
        .collect()
}

/// Take the rows brought in with the codes `keys` (a table of `kind`, `local_system`, `local_code`)
/// out of their tables and the quarantine, and let them wait again: a new decision for their codes
/// brings them in again. Returns how many rows left the tables.
pub fn release(conn: &duckdb::Connection, keys: &str) -> Result<u64> {
    let mut released = 0;
    for (table, condition) in brought_in_with(keys) {
        released += conn.execute(&format!("DELETE FROM {} t WHERE {condition}", ident(table)), [])? as u64;
    }
    conn.execute(
        &format!(
            "DELETE FROM quarantine q USING local_row r, {keys} k \
             WHERE r.kind = k.kind AND r.local_system = k.local_system AND r.local_code = k.local_code \
             AND r.brought_in IS NOT NULL AND q.load_file_id = r.load_file_id AND q.line = r.line \
             AND q.file = r.file AND q.table_name = r.table_name"
        ),
        [],
    )?;
    conn.execute(
        &format!(
            "UPDATE local_row SET brought_in = NULL FROM {keys} k WHERE local_row.kind = k.kind \
             AND local_row.local_system = k.local_system AND local_row.local_code = k.local_code"
        ),
        [],
    )?;
    Ok(released)
}
