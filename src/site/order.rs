//! The messages of one site's part of an extraction: what the data center asks ([`SiteRequest`],
//! signed as a [`WorkOrder`]) and the body of the site's signed [`Answer`]. Below both the site's run
//! (`site::run`), which answers an order, and its manifest (`site::manifest`), which the center
//! checks answers the order it sent.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::SiteDir;
use crate::error::Result;
use crate::script::{Bundle, Compiled, Shipped};

/// What the data center asks of one site.
pub struct SiteRequest<'a> {
    /// The project the datasets are for: the site runs the script only under its approval for it.
    pub project: &'a str,
    pub extraction: i64,
    /// The site's pseudonym in this project: the only name of the site in its result.
    pub label: &'a str,
    pub site: &'a SiteDir,
    /// The script with its codelists, as the site's approval hashes it and the request ships it.
    pub bundle: &'a Bundle,
    pub compiled: &'a Compiled,
    pub script_sha256: &'a str,
    /// DuckDB threads and memory for this site, so that sites run side by side never compete
    /// for the machine's memory.
    pub threads: usize,
    pub memory_limit: &'a str,
}

/// The body of a signed work request: what the data center asks one site to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkOrder {
    pub project: String,
    pub extraction: i64,
    /// The site's pseudonym in the project.
    pub site: String,
    /// The hash of the script's text and codelists (what the site's approval names).
    pub script_sha256: String,
    /// The script's text and codelists: what a site's agent compiles and runs.
    pub script: Shipped,
    /// Every parameter's value, the cut-off included.
    pub params: BTreeMap<String, String>,
    pub cutoff: Option<String>,
}

impl WorkOrder {
    /// The order for `req`: what the center signs and the site checks it is about to run.
    pub fn of(req: &SiteRequest) -> Result<WorkOrder> {
        Ok(WorkOrder {
            project: req.project.to_string(),
            extraction: req.extraction,
            site: req.label.to_string(),
            script_sha256: req.script_sha256.to_string(),
            script: req.bundle.ship()?,
            params: req.compiled.params.clone(),
            cutoff: req.compiled.cutoff.as_ref().and_then(|c| req.compiled.params.get(c).cloned()),
        })
    }
}

/// The body of the site's signed answer: the SHA-256 of the manifest it wrote (which lists every
/// file's SHA-256 and rows), bound by the envelope's header to the request id and nonce.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    pub manifest_sha256: String,
}
