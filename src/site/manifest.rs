//! The manifest a site writes beside the analysis datasets it returns, and its verification at the
//! data center: every file's SHA-256, row count and columns must match before the data center
//! accepts a site's result.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::digest::sha256_file;
use crate::error::{Error, Result};

pub const MANIFEST_FORMAT: &str = "midnet-extraction/1";
pub const MANIFEST_FILE: &str = "manifest.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    /// The project's extraction number this result answers.
    pub extraction: i64,
    pub project: String,
    pub site: String,
    /// The site's data version (its latest load) the result was extracted from.
    pub data_version: i64,
    pub script_sha256: String,
    /// Every parameter's value, the cut-off included.
    pub params: BTreeMap<String, String>,
    pub cutoff: Option<String>,
    /// The site's approval the result was extracted under (absent in manifests of midnet versions
    /// whose approvals named no project). The approver's name stays at the site: it could name the
    /// hospital.
    #[serde(default)]
    pub approval: Option<ApprovalRef>,
    pub midnet_version: String,
    pub created_at: String,
    pub seconds: f64,
    pub outputs: Vec<OutputFile>,
    pub attrition: Vec<AttritionStep>,
}

/// Which of the site's approvals covered a result: its number at the site, when it was given
/// (UTC) and its last day, if it has one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalRef {
    pub id: i64,
    pub approved_at: String,
    pub until: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputFile {
    pub name: String,
    pub file: String,
    pub rows: i64,
    pub sha256: String,
    pub patient_level: bool,
    pub columns: Vec<OutputColumn>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputColumn {
    pub name: String,
    pub sql_type: String,
}

/// One named rule of the cohort and how many patients it removed at one site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttritionStep {
    pub step: i64,
    pub rule: String,
    pub kind: String,
    pub patients_before: i64,
    pub removed: i64,
    pub patients_after: i64,
}

impl Manifest {
    pub fn read(dir: &Path, site: &str) -> Result<Manifest> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Error::Integrity(format!("site {site}: its manifest cannot be read ({}): {e}", path.display()))
        })?;
        let manifest: Manifest = serde_json::from_str(&text)
            .map_err(|e| Error::Integrity(format!("site {site}: its manifest is not valid: {e}")))?;
        if manifest.format != MANIFEST_FORMAT {
            return Err(Error::Integrity(format!(
                "site {site}: manifest format `{}` is not `{MANIFEST_FORMAT}`",
                manifest.format
            )));
        }
        Ok(manifest)
    }

    /// Write `manifest.json` into `dir`; returns the SHA-256 of the bytes written, which the site
    /// reports beside the files so that the center can check the manifest itself arrived whole.
    pub fn write(&self, dir: &Path) -> Result<String> {
        let text = serde_json::to_string_pretty(self).expect("a manifest serialises");
        crate::store::write_atomically(&dir.join(MANIFEST_FILE), text.as_bytes())?;
        Ok(crate::digest::sha256_hex(text.as_bytes()))
    }

    /// Check that every file the manifest lists is in `dir` with the hash, rows and columns it
    /// states. `conn` reads Parquet metadata.
    pub fn verify(&self, dir: &Path, conn: &duckdb::Connection) -> Result<()> {
        for out in &self.outputs {
            let path = dir.join(&out.file);
            if !path.is_file() {
                return Err(Error::Integrity(format!("site {}: {} is missing from its result", self.site, out.file)));
            }
            let sha = sha256_file(&path)?;
            if sha != out.sha256 {
                return Err(Error::Integrity(format!(
                    "site {}: {} does not match its manifest (SHA-256 {} where the manifest says {}): \
                     the file was altered or truncated in transfer; extract again for this site",
                    self.site,
                    out.file,
                    &sha[..12],
                    &out.sha256[..12.min(out.sha256.len())]
                )));
            }
            let scan = format!("read_parquet({})", crate::sql::duckdb::string(&path.to_string_lossy()));
            let rows: i64 = conn.query_row(&format!("SELECT count(*) FROM {scan}"), [], |r| r.get(0)).map_err(|e| {
                Error::Integrity(format!("site {}: {} is not readable Parquet: {e}", self.site, out.file))
            })?;
            if rows != out.rows {
                return Err(Error::Integrity(format!(
                    "site {}: {} has {rows} rows where its manifest says {}",
                    self.site, out.file, out.rows
                )));
            }
        }
        Ok(())
    }
}
