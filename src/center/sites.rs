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
    /// Absolute once imported; a registry read only for the hospitals' names may leave it out.
    #[serde(default)]
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

    /// Read a `sites.toml` for its hospitals: each entry's id (unique), name and aliases are
    /// checked, its `path` kept as written. Errors name the file and the entry.
    pub fn parse_toml(file: &Path) -> Result<SiteRegistry> {
        let text = std::fs::read_to_string(file).at(file)?;
        let registry: SiteRegistry = toml::from_str(&text).map_err(|e| {
            crate::bad_input!("{}: not a valid site registry: {}", file.display(), e.to_string().trim_end())
        })?;
        if registry.sites.is_empty() {
            return Err(crate::bad_input!(
                "{}: no [[site]] entries; a site registry lists each hospital with id, name, aliases and path",
                file.display()
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, site) in registry.sites.iter().enumerate() {
            let at = entry(file, i, site);
            require_identifier("site id", &site.id).map_err(|e| crate::bad_input!("{at}: {e}"))?;
            if !seen.insert(site.id.clone()) {
                return Err(crate::bad_input!("{at}: the id appears twice"));
            }
            if site.name.trim().is_empty() {
                return Err(crate::bad_input!("{at}: `name` is empty; give the institution's name"));
            }
        }
        Ok(registry)
    }

    /// Read a `sites.toml` to import it: as [`SiteRegistry::parse_toml`], and each `path` made
    /// absolute (relative to the file's directory) and required to be a directory.
    pub fn read_toml(file: &Path) -> Result<SiteRegistry> {
        let mut registry = SiteRegistry::parse_toml(file)?;
        let base = std::path::absolute(file).at(file)?;
        let base = base.parent().unwrap_or(Path::new("/"));
        for (i, site) in registry.sites.iter_mut().enumerate() {
            let at = entry(file, i, site);
            if site.path.as_os_str().is_empty() {
                return Err(crate::bad_input!("{at}: `path` is missing; give the site's data source directory"));
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

/// How messages name entry `i` of a registry file.
fn entry(file: &Path, i: usize, site: &Site) -> String {
    format!("{}: site #{} ({:?})", file.display(), i + 1, site.id)
}
