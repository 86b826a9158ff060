//! The home's site registry: each cooperating hospital's id, institution name, the aliases its
//! hospitals are known by, and the path of its integrated data source. Imported from a
//! `sites.toml` (as `midnet synth` writes it) by `midnet center sites add`. Names and aliases stay
//! here; projects see only per-project pseudonyms.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::home::Home;
use crate::error::{IoContext, Result};
use crate::store::{self, require_identifier};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Absolute once imported.
    pub path: PathBuf,
}

/// `sites.json` in the home, and the `sites.toml` import format (`[[site]]` entries).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteRegistry {
    #[serde(default, rename = "site")]
    pub sites: Vec<Site>,
}

impl SiteRegistry {
    pub fn load(home: &Home) -> Result<SiteRegistry> {
        store::read_json(&home.sites_path())
    }

    pub fn save(&self, home: &Home) -> Result<()> {
        store::write_json(&home.sites_path(), self)
    }

    /// Read a `sites.toml`, resolving each relative `path` against the file's directory and
    /// checking every entry; errors name the file and the entry.
    pub fn read_toml(file: &Path) -> Result<SiteRegistry> {
        let text = std::fs::read_to_string(file).at(file)?;
        let mut registry: SiteRegistry =
            toml::from_str(&text).map_err(|e| crate::bad_input!("{}: {}", file.display(), e.to_string().trim_end()))?;
        if registry.sites.is_empty() {
            return Err(crate::bad_input!("{}: no [[site]] entries", file.display()));
        }
        let base = std::path::absolute(file).at(file)?;
        let base = base.parent().unwrap_or(Path::new("/"));
        let mut seen = std::collections::HashSet::new();
        for (i, site) in registry.sites.iter_mut().enumerate() {
            let at = format!("{}: site #{} ({:?})", file.display(), i + 1, site.id);
            require_identifier("site id", &site.id).map_err(|e| crate::bad_input!("{at}: {e}"))?;
            if !seen.insert(site.id.clone()) {
                return Err(crate::bad_input!("{at}: the id appears twice"));
            }
            if site.name.trim().is_empty() {
                return Err(crate::bad_input!("{at}: `name` is empty; give the institution's name"));
            }
            site.path = base.join(&site.path);
            if !site.path.is_dir() {
                return Err(crate::bad_input!(
                    "{at}: path {} is not a directory; give the site's data source directory (relative to the file)",
                    site.path.display()
                ));
            }
        }
        Ok(registry)
    }

    /// Add or replace the entries of `other`; returns the ids that were new.
    pub fn merge(&mut self, other: SiteRegistry) -> Vec<String> {
        let mut added = Vec::new();
        for site in other.sites {
            match self.sites.iter_mut().find(|s| s.id == site.id) {
                Some(existing) => *existing = site,
                None => {
                    added.push(site.id.clone());
                    self.sites.push(site);
                }
            }
        }
        added
    }
}
