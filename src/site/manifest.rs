//! The manifest a site writes beside the analysis datasets it returns, and its verification at the
//! data center: every file's SHA-256, row count and columns must match before the data center
//! accepts a site's result.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::order::WorkOrder;
use crate::digest::sha256_file;
use crate::error::{Error, Result};
use crate::sql::OutputQuery;

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

/// What one output of a result must be: the script's output, in the file named after it, with
/// the person id and then the output's own columns. The site writes it so and the data center
/// accepts nothing else, whatever a manifest says.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    pub name: String,
    pub file: String,
    pub patient_level: bool,
    pub columns: Vec<OutputColumn>,
}

impl Expected {
    pub fn of(out: &OutputQuery) -> Expected {
        let person_id = OutputColumn { name: "person_id".into(), sql_type: "VARCHAR".into() };
        let own = out.columns.iter().map(|c| OutputColumn { name: c.name.clone(), sql_type: c.sql_type.to_string() });
        Expected {
            name: out.name.clone(),
            file: format!("{}.parquet", out.name),
            patient_level: out.patient_level,
            columns: std::iter::once(person_id).chain(own).collect(),
        }
    }
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

    /// Check that this manifest answers `order` with exactly the `expected` outputs, before any
    /// file it names is opened. A manifest is the site's own word, signed by the site: without this
    /// check a hostile site could name a file of the data center's (`../…`, an absolute path) to
    /// learn of it, leave an output out, or claim another site's or extraction's place. What the
    /// site wrote is never quoted (it could hold terminal escapes); what was asked is.
    pub fn answers(&self, order: &WorkOrder, expected: &[Expected]) -> Result<()> {
        let site = &order.site;
        let asked = [
            ("project", self.project == order.project),
            ("extraction", self.extraction == order.extraction),
            ("site", self.site == order.site),
            ("script", self.script_sha256 == order.script_sha256),
            ("set of parameters", self.params == order.params),
            ("cut-off", self.cutoff == order.cutoff),
        ];
        if let Some((what, _)) = asked.iter().find(|(_, same)| !same) {
            return Err(Error::Integrity(format!(
                "site {site}: its manifest answers another {what} than the one asked (project {}, extraction {}); \
                 nothing of its result is accepted",
                order.project, order.extraction
            )));
        }
        if self.outputs.len() != expected.len() {
            return Err(Error::Integrity(format!(
                "site {site}: its manifest lists {} outputs where the script makes {}; nothing of its result is accepted",
                self.outputs.len(),
                expected.len()
            )));
        }
        for (i, (out, want)) in self.outputs.iter().zip(expected).enumerate() {
            let same = out.name == want.name
                && out.file == want.file
                && out.patient_level == want.patient_level
                && out.columns == want.columns;
            if !same {
                return Err(Error::Integrity(format!(
                    "site {site}: its manifest's output {} is not the script's output `{}` (file {}, {} columns); \
                     nothing of its result is accepted",
                    i + 1,
                    want.name,
                    want.file,
                    want.columns.len()
                )));
            }
        }
        Ok(())
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
        // A file is opened only under its own output's name, whatever else the manifest says.
        for (i, out) in self.outputs.iter().enumerate() {
            if !crate::store::is_identifier(&out.name) || out.file != format!("{}.parquet", out.name) {
                return Err(Error::Integrity(format!(
                    "site {}: its manifest's output {} does not name its own file (OUTPUT.parquet, OUTPUT a plain \
                     name); nothing of its result is accepted",
                    self.site,
                    i + 1
                )));
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn order() -> WorkOrder {
        WorkOrder {
            project: "p1".into(),
            extraction: 3,
            site: "site-a1b2c3d4".into(),
            script_sha256: "ab".repeat(32),
            script: crate::script::Shipped { name: "s.midnet".into(), text: String::new(), codelists: vec![] },
            params: BTreeMap::from([("cutoff".into(), "2024-03-31".into())]),
            cutoff: Some("2024-03-31".into()),
        }
    }

    fn expected() -> Vec<Expected> {
        let columns = vec![
            OutputColumn { name: "person_id".into(), sql_type: "VARCHAR".into() },
            OutputColumn { name: "index_date".into(), sql_type: "DATE".into() },
        ];
        vec![Expected { name: "cohort".into(), file: "cohort.parquet".into(), patient_level: true, columns }]
    }

    /// What an honest site writes for `order()`.
    fn honest() -> Manifest {
        let order = order();
        let outputs = expected()
            .into_iter()
            .map(|e| OutputFile {
                name: e.name,
                file: e.file,
                rows: 10,
                sha256: "cd".repeat(32),
                patient_level: e.patient_level,
                columns: e.columns,
            })
            .collect();
        Manifest {
            format: MANIFEST_FORMAT.into(),
            extraction: order.extraction,
            project: order.project,
            site: order.site,
            data_version: 1,
            script_sha256: order.script_sha256,
            params: order.params,
            cutoff: order.cutoff,
            approval: None,
            midnet_version: "0".into(),
            created_at: "2024-04-01T00:00:00Z".into(),
            seconds: 1.0,
            outputs,
            attrition: vec![],
        }
    }

    fn refusal(manifest: &Manifest) -> String {
        manifest.answers(&order(), &expected()).unwrap_err().to_string()
    }

    #[test]
    fn an_honest_manifest_answers_its_order() {
        honest().answers(&order(), &expected()).unwrap();
    }

    #[test]
    fn a_manifest_naming_a_file_of_the_center_is_refused_without_quoting_it() {
        for file in ["../../audit/log.jsonl", "/etc/passwd", "cohort.parquet/../x", "\u{1b}]0;pwned\u{7}"] {
            let mut hostile = honest();
            hostile.outputs[0].file = file.into();
            let why = refusal(&hostile);
            assert!(why.contains("output 1 is not the script's output `cohort` (file cohort.parquet"), "{why}");
            assert!(!why.contains(file), "{why}");
        }
    }

    #[test]
    fn a_manifest_claiming_another_place_or_leaving_an_output_out_is_refused() {
        let mut other_site = honest();
        other_site.site = "site-ffffffff".into();
        assert!(refusal(&other_site).contains("answers another site than the one asked"));
        let mut other_extraction = honest();
        other_extraction.extraction = 2;
        assert!(refusal(&other_extraction).contains("answers another extraction"));
        let mut other_params = honest();
        other_params.params.insert("cutoff".into(), "2030-01-01".into());
        assert!(refusal(&other_params).contains("answers another set of parameters"));
        let mut missing = honest();
        missing.outputs.clear();
        assert!(refusal(&missing).contains("lists 0 outputs where the script makes 1"));
        let mut columns = honest();
        columns.outputs[0].columns.pop();
        assert!(refusal(&columns).contains("output 1 is not the script's output"));
    }
}
