//! Rows another reader of a hospital's data staged in tables of the database (the SS-MIX2 import,
//! `site::ssmix2::import`), brought in by the load's own checks: one staging table per clinical
//! table, validated by the same SQL as a file of `site load`, its bad rows quarantined at their own
//! source file and line (for SS-MIX2, the segment), its rows with a local code kept waiting for a
//! mapping. The caller holds the transaction.

use super::set_aside::SetAside;
use super::spec::TableSpec;
use super::stage::{self, Numbering, Origin, SourceFile};
use super::{FileLoaded, reasons, waiting};
use crate::error::Result;
use crate::sql::duckdb::{ident, string};

/// The columns of a staging table of `spec`'s table: `rn` (the row's number in the staging), every
/// field as text, the row's `source_file` and its `line` in that file.
pub fn create_sql(spec: &TableSpec, staging: &str) -> String {
    let fields: Vec<String> = spec.fields.iter().map(|f| format!("{} VARCHAR", ident(f.name))).collect();
    format!(
        "CREATE OR REPLACE TEMP TABLE {} (rn BIGINT, {}, source_file VARCHAR NOT NULL, line BIGINT NOT NULL)",
        ident(staging),
        fields.join(", ")
    )
}

/// One staging table to bring in: of `spec`'s table, recorded in `load_file` as `file`.
pub struct Staging<'a> {
    pub spec: &'static TableSpec,
    pub table: &'a str,
    pub file: &'a str,
}

/// What one staging table's rows became, and its `load_file` row.
pub struct StagedLoad {
    pub load_file_id: i64,
    pub loaded: FileLoaded,
}

/// Bring in the staged rows of each table (the patient table first) under `data_version`, each
/// table as one `load_file` row; then the waiting rows whose codes the site has already mapped.
pub fn load_staged(conn: &duckdb::Connection, stagings: &[Staging], data_version: i64) -> Result<Vec<StagedLoad>> {
    let set_aside = SetAside::register(conn)?;
    let mut loaded = Vec::new();
    for staging in stagings {
        let id: i64 = conn.query_row("SELECT coalesce(max(load_file_id), 0) + 1 FROM load_file", [], |r| r.get(0))?;
        let counts = load_one(conn, &set_aside, staging, id, data_version)?;
        loaded.push((id, counts));
    }
    for brought in waiting::bring_in_with(conn, &set_aside, data_version)? {
        if let Some((_, counts)) = loaded.iter_mut().find(|(id, _)| *id == brought.load_file_id) {
            counts.rows_loaded += brought.rows_loaded;
            counts.rows_quarantined += brought.rows_quarantined;
            counts.rows_waiting -= brought.rows_loaded + brought.rows_quarantined;
        }
    }
    for (id, counts) in &loaded {
        conn.execute(
            "UPDATE load_file SET rows_loaded = ?, rows_quarantined = ? WHERE load_file_id = ?",
            duckdb::params![counts.rows_loaded as i64, counts.rows_quarantined as i64, id],
        )?;
    }
    Ok(loaded.into_iter().map(|(load_file_id, loaded)| StagedLoad { load_file_id, loaded }).collect())
}

fn load_one(
    conn: &duckdb::Connection,
    set_aside: &SetAside,
    staging: &Staging,
    load_file_id: i64,
    data_version: i64,
) -> Result<FileLoaded> {
    let spec = staging.spec;
    let scan = ident(staging.table);
    let mut present: Vec<String> = spec.fields.iter().map(|f| f.name.to_string()).collect();
    present.extend(["source_file".to_string(), "line".to_string()]);
    // The staging's own hash would repeat if the same rows were staged again (a file changed and
    // changed back): the load's and table's names make each import's row its own.
    let sha256 = crate::digest::sha256_hex(format!("ss-mix2 staging\n{data_version}\n{}", spec.table).as_bytes());
    conn.execute(
        "INSERT INTO load_file VALUES (?, ?, now()::TIMESTAMP, ?, ?, ?, 0, 0)",
        duckdb::params![load_file_id, data_version, spec.table, staging.file, sha256],
    )?;
    let quarantined = conn.execute(
        &format!(
            "INSERT INTO quarantine SELECT {data_version}, {load_file_id}, {table}, s.source_file, s.line, b.reason \
             FROM ({bad}) b JOIN {scan} s USING (rn)",
            table = string(spec.table),
            bad = stage::bad_rows_sql(spec, &scan, &present),
        ),
        [],
    )?;
    reasons::withhold_stored(conn, "quarantine", Some(load_file_id))?;
    let origin = Origin { source_file: SourceFile::PerRow, load_file_id, mapped: false };
    let inserted = conn.execute(&stage::insert_sql(spec, &scan, &present, Numbering::Numbered, origin), [])?;
    // The insert hands its bad rows to the set-aside function too: quarantined above, with their files.
    set_aside.take();
    let waiting = match spec.local {
        Some(_) => conn
            .execute(&stage::waiting_sql(spec, &scan, &present, (origin, staging.file), "t_line", data_version), [])?,
        None => 0,
    };
    Ok(FileLoaded {
        table: spec.table.to_string(),
        file: staging.file.to_string(),
        rows_loaded: inserted as u64,
        rows_quarantined: quarantined as u64,
        rows_waiting: waiting as u64,
    })
}
