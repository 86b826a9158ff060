//! `midnet site approve`: a site records its approval of one exact script (by the hash of the
//! script and its codelist files) with its parameter values other than the cut-off. A site runs
//! only approved scripts; a changed script or parameter needs a new approval, a later cut-off
//! does not.

use std::collections::BTreeMap;

use super::SiteDir;
use crate::error::{Error, Result};
use crate::script::{ParamValues, Script};

/// What an approval covers.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Approval {
    pub script_sha256: String,
    pub study: String,
    pub params: BTreeMap<String, String>,
}

/// The parameters a site approves: every one but the cut-off, as the compiler canonicalises them.
/// A script with a cut-off is compiled with a stand-in cut-off (the last representable day, which
/// no study period can end after) only to canonicalise the others.
pub fn approval_params(script: &Script, values: &ParamValues) -> Result<BTreeMap<String, String>> {
    let mut values = values.clone();
    if let Some(cutoff) = script.cutoff()
        && values.get(&cutoff.name).is_none()
    {
        values.set(cutoff.name.clone(), "9999-12-31");
    }
    Ok(script.compile(&values)?.approval_params())
}

pub fn approve(site: &SiteDir, script: &Script, values: &ParamValues) -> Result<Approval> {
    let params = approval_params(script, values)?;
    let conn = site.open()?;
    conn.execute(
        "INSERT INTO script_approval VALUES (?, ?, ?, now()::TIMESTAMP) ON CONFLICT DO NOTHING",
        duckdb::params![script.sha256(), canonical_json(&params), env!("CARGO_PKG_VERSION")],
    )?;
    Ok(Approval { script_sha256: script.sha256().to_string(), study: script.study().to_string(), params })
}

/// Has the site approved this script with these parameters?
pub fn is_approved(conn: &duckdb::Connection, script_sha256: &str, params: &BTreeMap<String, String>) -> Result<bool> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM script_approval WHERE script_sha256 = ? AND params_json = ?",
        duckdb::params![script_sha256, canonical_json(params)],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

/// Parameters as JSON with sorted keys, so that equal parameters give equal text.
pub fn canonical_json(params: &BTreeMap<String, String>) -> String {
    serde_json::to_string(params).expect("string maps serialise")
}

/// The refusal a site gives to a script it has not approved.
pub fn not_approved(site: &str, script_sha256: &str) -> Error {
    Error::refused(
        "site_approval",
        format!(
            "site {site} has not approved script {} with these parameters; the site approves it with \
             `midnet site approve --site DIR SCRIPT --param NAME=VALUE …`",
            &script_sha256[..12]
        ),
    )
}
