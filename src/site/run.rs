//! One site's part of an extraction, as the site runs it: find the site's approval for this
//! project, script and parameters (`site::approve::covering`), run each output's query on the
//! integrated data source, replace the patient key by a person id drawn afresh for this
//! extraction, write each output as Parquet (zstd) with a manifest that names the approval.
//!
//! The person id is a keyed hash of the patient key under a random key that exists only in this
//! process: the site keeps no table linking the two, and the same patient gets an unrelated id in
//! the next extraction. Rows are written in person-id order so that row order reveals nothing.

use std::path::Path;
use std::time::Instant;

use super::manifest::{ApprovalRef, AttritionStep, MANIFEST_FORMAT, Manifest, OutputColumn, OutputFile};
use super::{SiteDir, approve};
use crate::digest::sha256_file;
use crate::error::{Error, IoContext, Result};
use crate::script::Compiled;
use crate::sql::duckdb::string;

/// What the data center asks of one site.
pub struct SiteRequest<'a> {
    /// The project the datasets are for: the site runs the script only under its approval for it.
    pub project: &'a str,
    pub extraction: i64,
    /// The site's pseudonym in this project: the only name of the site in its result.
    pub label: &'a str,
    pub site: &'a SiteDir,
    pub compiled: &'a Compiled,
    pub script_sha256: &'a str,
    /// DuckDB threads and memory for this site, so that sites run side by side never compete
    /// for the machine's memory.
    pub threads: usize,
    pub memory_limit: &'a str,
}

/// What a site sends back: its result in the outbox, and the SHA-256 of its manifest.
pub struct Sent {
    pub manifest_sha256: String,
}

/// Run the request at the site, writing the result into `outbox` (created fresh). `step` is
/// called with a short description of each step.
pub fn run_at_site(req: &SiteRequest, outbox: &Path, step: &dyn Fn(&str)) -> Result<Sent> {
    let started = Instant::now();
    let conn = open(req)?;
    step("checking approval");
    let params = req.compiled.approval_params();
    let wanted = approve::Wanted { project: req.project, script_sha256: req.script_sha256, params: &params };
    let approval = approve::covering(&conn, req.label, &wanted, approve::site_today())?;
    let data_version: Option<i64> = conn.query_row("SELECT max(data_version) FROM load_history", [], |r| r.get(0))?;
    let data_version = data_version.ok_or_else(|| Error::Failed(format!("site {}: no data loaded yet", req.label)))?;
    if outbox.exists() {
        std::fs::remove_dir_all(outbox).at(outbox)?;
    }
    std::fs::create_dir_all(outbox).at(outbox)?;
    let key = fresh_key();
    let mut outputs = Vec::new();
    for out in &req.compiled.queries.outputs {
        step(&format!("extracting {}", out.name));
        let file = format!("{}.parquet", out.name);
        let path = outbox.join(&file);
        let copy = format!(
            "COPY (SELECT 'P' || substr(sha256({key} || patient_key), 1, 24) AS person_id, * EXCLUDE (patient_key) \
                   FROM ({sql}) ORDER BY person_id) TO {to} (FORMAT parquet, COMPRESSION zstd)",
            key = string(&key),
            sql = out.sql,
            to = string(&path.to_string_lossy())
        );
        let rows = conn.execute(&copy, []).map_err(|e| site_error(req.label, &out.name, e))? as i64;
        let columns = std::iter::once(OutputColumn { name: "person_id".into(), sql_type: "VARCHAR".into() })
            .chain(out.columns.iter().map(|c| OutputColumn { name: c.name.clone(), sql_type: c.sql_type.to_string() }))
            .collect();
        outputs.push(OutputFile {
            name: out.name.clone(),
            file,
            rows,
            sha256: sha256_file(&path)?,
            patient_level: out.patient_level,
            columns,
        });
    }
    step("counting attrition");
    let attrition =
        attrition(&conn, &req.compiled.queries.attrition).map_err(|e| site_error(req.label, "attrition", e))?;
    let manifest = Manifest {
        format: MANIFEST_FORMAT.to_string(),
        extraction: req.extraction,
        project: req.project.to_string(),
        site: req.label.to_string(),
        data_version,
        script_sha256: req.script_sha256.to_string(),
        params: req.compiled.params.clone(),
        cutoff: req.compiled.cutoff.as_ref().and_then(|c| req.compiled.params.get(c).cloned()),
        approval: Some(ApprovalRef {
            id: approval.id,
            approved_at: approval.approved_at,
            until: approval.until.map(|d| d.to_string()),
        }),
        midnet_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        seconds: started.elapsed().as_secs_f64(),
        outputs,
        attrition,
    };
    Ok(Sent { manifest_sha256: manifest.write(outbox)? })
}

fn open(req: &SiteRequest) -> Result<duckdb::Connection> {
    req.site.open_read_only_with(req.threads, req.memory_limit)
}

fn attrition(conn: &duckdb::Connection, sql: &str) -> std::result::Result<Vec<AttritionStep>, duckdb::Error> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([], |r| {
        Ok(AttritionStep {
            step: r.get(0)?,
            rule: r.get(1)?,
            kind: r.get(2)?,
            patients_before: r.get(3)?,
            removed: r.get(4)?,
            patients_after: r.get(5)?,
        })
    })?;
    rows.collect()
}

/// 32 random bytes as hex, from the operating system's generator.
fn fresh_key() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    hex::encode(bytes)
}

fn site_error(site: &str, what: &str, e: duckdb::Error) -> Error {
    Error::Failed(format!("site {site}: {what} failed: {e}"))
}
