//! The project's catalog of extractions and analysis datasets, kept in the project's DuckDB
//! database beside the dataset tables themselves. Sites appear only by their per-project
//! pseudonym: hospital ids and names never enter the work area.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::Result;
use crate::project::datasets::Dataset;
use crate::site::manifest::{AttritionStep, Manifest};
use crate::sql::duckdb::{ident, string};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS extraction (
    extraction      INTEGER PRIMARY KEY,
    script_sha256   VARCHAR NOT NULL,
    study           VARCHAR NOT NULL,
    params_json     VARCHAR NOT NULL,
    cutoff          VARCHAR,
    sites_json      VARCHAR NOT NULL,   -- the pseudonyms of the sites asked
    requested_by    VARCHAR NOT NULL,
    started_at      TIMESTAMP NOT NULL,
    completed_at    TIMESTAMP,          -- set when its datasets were unioned
    partial         BOOLEAN NOT NULL DEFAULT false
);
CREATE TABLE IF NOT EXISTS extraction_site (
    extraction      INTEGER NOT NULL,
    site            VARCHAR NOT NULL,   -- pseudonym
    status          VARCHAR NOT NULL,   -- accepted | failed
    reason          VARCHAR,
    data_version    INTEGER,
    seconds         DOUBLE,
    manifest_json   VARCHAR,
    recorded_at     TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS attrition (
    extraction      INTEGER NOT NULL,
    site            VARCHAR NOT NULL,
    step            INTEGER NOT NULL,
    rule            VARCHAR NOT NULL,
    kind            VARCHAR NOT NULL,
    patients_before BIGINT NOT NULL,
    removed         BIGINT NOT NULL,
    patients_after  BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS dataset (
    name            VARCHAR NOT NULL,
    version         INTEGER NOT NULL,
    extraction      INTEGER NOT NULL,
    file            VARCHAR NOT NULL,
    sha256          VARCHAR NOT NULL,
    rows            BIGINT NOT NULL,
    patient_level   BOOLEAN NOT NULL,
    sites_json      VARCHAR NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (name, version)
);
";

/// The catalog's tables, as `SCHEMA` creates them.
const TABLES: [&str; 4] = ["extraction", "extraction_site", "attrition", "dataset"];

/// Create the catalog if the project has none, in one transaction: a kill part way leaves none.
pub fn ensure(conn: &duckdb::Connection) -> Result<()> {
    in_transaction(conn, || {
        conn.execute_batch(SCHEMA)?;
        crate::crash::point("extract-catalog");
        Ok(())
    })
}

/// Whether the project has its whole catalog. No extraction was recorded without one; a part of
/// one is what an extraction killed while it made the catalog left before `ensure` made it in one
/// transaction.
pub fn exists(conn: &duckdb::Connection) -> Result<bool> {
    let names: Vec<String> = TABLES.iter().map(|t| string(t)).collect();
    let found: i64 = conn.query_row(
        &format!("SELECT count(*) FROM duckdb_tables() WHERE table_name IN ({})", names.join(", ")),
        [],
        |r| r.get(0),
    )?;
    Ok(found == TABLES.len() as i64)
}

/// An extraction of the project: a script with its parameters, run at a set of sites.
#[derive(Debug, Clone, Serialize)]
pub struct Extraction {
    pub extraction: i64,
    pub script_sha256: String,
    pub study: String,
    pub params: BTreeMap<String, String>,
    pub cutoff: Option<String>,
    pub sites: Vec<String>,
    pub requested_by: String,
    pub started_at: String,
    pub completed_at: Option<String>,
    pub partial: bool,
}

/// The unfinished extraction with this script, parameters and cut-off, if there is one: a rerun
/// for the sites that failed completes it.
pub fn open_extraction(
    conn: &duckdb::Connection,
    script_sha256: &str,
    params: &BTreeMap<String, String>,
) -> Result<Option<Extraction>> {
    let params_json = serde_json::to_string(params).expect("params serialise");
    let found = extractions(conn)?.into_iter().rev().find(|e| {
        e.completed_at.is_none()
            && e.script_sha256 == script_sha256
            && serde_json::to_string(&e.params).ok() == Some(params_json.clone())
    });
    Ok(found)
}

pub fn extractions(conn: &duckdb::Connection) -> Result<Vec<Extraction>> {
    let mut stmt = conn.prepare(
        "SELECT extraction, script_sha256, study, params_json, cutoff, sites_json, requested_by, \
                strftime(started_at, '%Y-%m-%d %H:%M:%S'), strftime(completed_at, '%Y-%m-%d %H:%M:%S'), partial FROM extraction ORDER BY extraction",
    )?;
    let rows = stmt.query_map([], |r| {
        let params: String = r.get(3)?;
        let sites: String = r.get(5)?;
        Ok(Extraction {
            extraction: r.get(0)?,
            script_sha256: r.get(1)?,
            study: r.get(2)?,
            params: serde_json::from_str(&params).unwrap_or_default(),
            cutoff: r.get(4)?,
            sites: serde_json::from_str(&sites).unwrap_or_default(),
            requested_by: r.get(6)?,
            started_at: r.get(7)?,
            completed_at: r.get(8)?,
            partial: r.get(9)?,
        })
    })?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// Record a new extraction and return its number.
pub fn begin_extraction(
    conn: &duckdb::Connection,
    script_sha256: &str,
    study: &str,
    params: &BTreeMap<String, String>,
    cutoff: Option<&str>,
    sites: &[String],
    user: &str,
) -> Result<i64> {
    let next: i64 = conn.query_row("SELECT coalesce(max(extraction), 0) + 1 FROM extraction", [], |r| r.get(0))?;
    conn.execute(
        "INSERT INTO extraction VALUES (?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP, NULL, false)",
        duckdb::params![
            next,
            script_sha256,
            study,
            serde_json::to_string(params).expect("params serialise"),
            cutoff,
            serde_json::to_string(sites).expect("sites serialise"),
            user
        ],
    )?;
    Ok(next)
}

/// The sites whose results this extraction has accepted.
pub fn accepted_sites(conn: &duckdb::Connection, extraction: i64) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT DISTINCT site FROM extraction_site WHERE extraction = ? AND status = 'accepted' ORDER BY site",
    )?;
    let rows = stmt.query_map([extraction], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// Record a site's accepted result (its manifest and attrition) in one transaction.
pub fn record_accepted(conn: &duckdb::Connection, manifest: &Manifest) -> Result<()> {
    in_transaction(conn, || {
        conn.execute(
            "INSERT INTO extraction_site VALUES (?, ?, 'accepted', NULL, ?, ?, ?, now()::TIMESTAMP)",
            duckdb::params![
                manifest.extraction,
                manifest.site,
                manifest.data_version,
                manifest.seconds,
                serde_json::to_string(manifest).expect("manifest serialises")
            ],
        )?;
        for a in &manifest.attrition {
            conn.execute(
                "INSERT INTO attrition VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                duckdb::params![
                    manifest.extraction,
                    manifest.site,
                    a.step,
                    a.rule,
                    a.kind,
                    a.patients_before,
                    a.removed,
                    a.patients_after
                ],
            )?;
        }
        Ok(())
    })
}

pub fn record_failed(conn: &duckdb::Connection, extraction: i64, site: &str, reason: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO extraction_site VALUES (?, ?, 'failed', ?, NULL, NULL, NULL, now()::TIMESTAMP)",
        duckdb::params![extraction, site, reason],
    )?;
    Ok(())
}

/// The next version number of a dataset.
pub fn next_version(conn: &duckdb::Connection, name: &str) -> Result<i64> {
    Ok(conn.query_row("SELECT coalesce(max(version), 0) + 1 FROM dataset WHERE name = ?", [name], |r| r.get(0))?)
}

/// The attrition of an extraction, per site and summed over sites (site `all`).
pub fn attrition(conn: &duckdb::Connection, extraction: i64) -> Result<Vec<(String, AttritionStep)>> {
    let mut stmt = conn.prepare(
        "SELECT * FROM ( \
           SELECT site, step, rule, kind, patients_before, removed, patients_after FROM attrition WHERE extraction = ? \
           UNION ALL \
           SELECT 'all', step, any_value(rule), any_value(kind), sum(patients_before)::BIGINT, sum(removed)::BIGINT, \
                  sum(patients_after)::BIGINT FROM attrition WHERE extraction = ? GROUP BY step) \
         ORDER BY site = 'all', site, step",
    )?;
    let rows = stmt.query_map([extraction, extraction], |r| {
        Ok((
            r.get::<_, String>(0)?,
            AttritionStep {
                step: r.get(1)?,
                rule: r.get(2)?,
                kind: r.get(3)?,
                patients_before: r.get(4)?,
                removed: r.get(5)?,
                patients_after: r.get(6)?,
            },
        ))
    })?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// Record a dataset version and create its table (`"name@version"`) from its Parquet file, in one
/// transaction with marking the extraction complete.
pub fn record_datasets(
    conn: &duckdb::Connection,
    extraction: i64,
    partial: bool,
    made: &[Dataset],
    files: &[std::path::PathBuf],
) -> Result<()> {
    in_transaction(conn, || {
        for (d, path) in made.iter().zip(files) {
            conn.execute(
                "INSERT INTO dataset VALUES (?, ?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP)",
                duckdb::params![
                    d.name,
                    d.version,
                    d.extraction,
                    d.file,
                    d.sha256,
                    d.rows,
                    d.patient_level,
                    serde_json::to_string(&d.sites).expect("sites serialise")
                ],
            )?;
            conn.execute_batch(&format!(
                "CREATE TABLE {} AS SELECT * FROM read_parquet({})",
                ident(&d.label()),
                string(&path.to_string_lossy())
            ))?;
        }
        conn.execute(
            "UPDATE extraction SET completed_at = now()::TIMESTAMP, partial = ? WHERE extraction = ?",
            duckdb::params![partial, extraction],
        )?;
        Ok(())
    })
}

/// Run `f` in one transaction: committed if it succeeds, rolled back if it fails.
fn in_transaction(conn: &duckdb::Connection, f: impl FnOnce() -> Result<()>) -> Result<()> {
    conn.execute_batch("BEGIN TRANSACTION")?;
    match f() {
        Ok(()) => Ok(conn.execute_batch("COMMIT")?),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}
