//! The home's site registry: each cooperating hospital's id, institution name, the aliases its
//! hospitals are known by, and the path of its integrated data source. Imported from a
//! `sites.toml` (as `midnet synth` writes it) by `midnet center sites add`. Names and aliases stay
//! here; projects see only per-project pseudonyms. A site that leaves the network is retired
//! (`midnet center sites retire`): it stays in the registry, so that every record naming it still
//! resolves, and is no longer asked by extractions.

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
    /// The site's Ed25519 public key (64 hex digits): the only key whose signature the center
    /// accepts on the site's results. None for a site registered before keys existed (extractions
    /// refuse it until `midnet center sites key` gives it one) and for a retired site (revoked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// In `sites.toml` only: the file holding the site's public key, relative to the file (the
    /// site's `keys/site.pub`, given by the hospital); read into `key` when imported.
    #[serde(default, skip_serializing)]
    pub key_file: Option<PathBuf>,
    /// When and by whom the site was retired; none while it is active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired: Option<Retirement>,
}

/// The retirement of a site from the network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retirement {
    /// The home's date when it was retired.
    pub on: chrono::NaiveDate,
    /// The reviewer who retired it.
    pub by: String,
    /// The site's public key, revoked by the retirement: no result signed with it is accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_key: Option<String>,
}

/// `sites.json` in the home, and the `sites.toml` import format (`[[site]]` entries).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteRegistry {
    #[serde(default, rename = "site")]
    pub sites: Vec<Site>,
}

/// The registered sites (names and aliases stay here, never in a project).
pub fn registered(home: &Home) -> Result<Vec<Site>> {
    Ok(SiteRegistry::load(home)?.sites)
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
            if site.retired.is_some() {
                return Err(crate::bad_input!(
                    "{at}: `retired` cannot be imported; retire a site with `midnet center sites retire ID` (audited)"
                ));
            }
            if site.key.is_some() {
                return Err(crate::bad_input!(
                    "{at}: `key` cannot be imported; give `key_file`, the site's public key file (its keys/site.pub)"
                ));
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
            if let Some(file) = site.key_file.take() {
                let key = crate::wire::read_public_key(&base.join(file)).map_err(|e| crate::bad_input!("{at}: {e}"))?;
                site.key = Some(hex::encode(key.as_bytes()));
            }
            if !site.path.is_dir() {
                return Err(crate::bad_input!(
                    "{at}: path {} is not a directory; give the site's data source directory (relative to the file)",
                    site.path.display()
                ));
            }
        }
        Ok(registry)
    }

    /// Add or replace the entries of `other`; returns the ids that were new. A retired site
    /// stays retired, its key revoked; an entry without a key keeps the key registered before.
    pub fn merge(&mut self, other: SiteRegistry) -> Vec<String> {
        let mut added = Vec::new();
        for site in other.sites {
            match self.sites.iter_mut().find(|s| s.id == site.id) {
                Some(existing) => {
                    let key = if existing.retired.is_some() { None } else { site.key.or(existing.key.take()) };
                    *existing = Site { retired: existing.retired.take(), key, ..site }
                }
                None => {
                    added.push(site.id.clone());
                    self.sites.push(site);
                }
            }
        }
        added
    }
}

/// Retire site `id` (reviewer) on the home's today: it stays in the registry, marked, and is no
/// longer asked by extractions.
pub fn retire(actor: &super::Actor, id: &str) -> Result<Retirement> {
    actor.require_reviewer("retiring a site")?;
    let home = actor.home();
    let on = super::today::Today::of(home)?.date;
    let _lock = home.lock_documents()?;
    let mut registry = SiteRegistry::load(home)?;
    let site = registry.sites.iter_mut().find(|s| s.id == id).ok_or_else(|| {
        crate::error::Error::NotFound(format!("{id}: not a registered site; `midnet center sites list` shows them"))
    })?;
    if let Some(earlier) = &site.retired {
        return Err(crate::bad_input!("{id}: already retired on {} by {}", earlier.on, earlier.by));
    }
    let retirement = Retirement { on, by: actor.user().id.clone(), revoked_key: site.key.take() };
    site.retired = Some(retirement.clone());
    registry.save(home)?;
    Ok(retirement)
}

/// Register `file`'s public key as site `id`'s (reviewer), replacing the one it had: for a site
/// registered before keys existed, or a site that made a new key pair. Returns the key's id and
/// the id of the key it replaced.
pub fn set_key(actor: &super::Actor, id: &str, key: &ed25519_dalek::VerifyingKey) -> Result<(String, Option<String>)> {
    actor.require_reviewer("registering a site's key")?;
    let home = actor.home();
    let _lock = home.lock_documents()?;
    let mut registry = SiteRegistry::load(home)?;
    let site = registry.sites.iter_mut().find(|s| s.id == id).ok_or_else(|| {
        crate::error::Error::NotFound(format!("{id}: not a registered site; `midnet center sites list` shows them"))
    })?;
    if let Some(retired) = &site.retired {
        return Err(crate::error::Error::refused(
            "site_retired",
            format!("{id}: retired on {} by {}, its key revoked; a retired site gets no key", retired.on, retired.by),
        ));
    }
    let replaced = site.key.replace(hex::encode(key.as_bytes()));
    registry.save(home)?;
    let shown =
        |hex: &str| crate::wire::parse_public_key(hex).map_or_else(|_| hex.to_string(), |k| crate::wire::key_id(&k));
    Ok((crate::wire::key_id(key), replaced.as_deref().map(shown)))
}

impl Site {
    /// The site's registered public key: refused when it has none (registered before keys existed).
    pub fn public_key(&self) -> Result<ed25519_dalek::VerifyingKey> {
        let hex = self.key.as_deref().ok_or_else(|| {
            crate::error::Error::refused(
                "site_key",
                format!(
                    "site {}: no public key is registered for it (it was registered before midnet signed results), so \
                     no result of it can be believed; register the key the site gives (its keys/site.pub) with \
                     `midnet center sites key {} FILE`",
                    self.id, self.id
                ),
            )
        })?;
        crate::wire::parse_public_key(hex).map_err(|why| {
            crate::error::Error::Integrity(format!("site {}: its registered key is not a public key ({why})", self.id))
        })
    }
}

/// How messages name entry `i` of a registry file.
fn entry(file: &Path, i: usize, site: &Site) -> String {
    format!("{}: site #{} ({:?})", file.display(), i + 1, site.id)
}
