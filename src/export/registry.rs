//! The cooperating hospitals the gate must not name or break results down by: the data center's
//! site registry (`sites.toml`: `[[site]]` entries with `id`, `name`, `aliases`, `path`), plus the
//! per-project pseudonyms a project's tables may carry instead of ids.

use std::path::Path;

use serde::Deserialize;

use super::text::compact;
use crate::bad_input;
use crate::error::{IoContext, Result};

#[derive(Debug, Clone, Default)]
pub struct SiteRegistry {
    sites: Vec<Site>,
    /// Per-project pseudonyms of the sites (the projects module adds them), compacted.
    pseudonyms: Vec<String>,
}

#[derive(Debug, Clone)]
struct Site {
    id: String,
    /// The name and every alias, compacted (see [`compact`]) for matching.
    spellings: Vec<String>,
}

#[derive(Deserialize)]
struct RegistryFile {
    #[serde(default)]
    site: Vec<SiteEntry>,
}

#[derive(Deserialize)]
struct SiteEntry {
    id: String,
    name: String,
    #[serde(default)]
    aliases: Vec<String>,
}

/// A registered hospital named in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameMatch {
    pub site_id: String,
}

impl SiteRegistry {
    /// Read a `sites.toml`. Fields other than `id`, `name` and `aliases` (such as `path`) are not
    /// the gate's business and are ignored.
    pub fn read(path: &Path) -> Result<SiteRegistry> {
        let text = std::fs::read_to_string(path).at(path)?;
        let file: RegistryFile =
            toml::from_str(&text).map_err(|e| bad_input!("{}: not a valid site registry: {e}", path.display()))?;
        if file.site.is_empty() {
            return Err(bad_input!(
                "{}: no [[site]] entries; a site registry lists each hospital with id, name and aliases",
                path.display()
            ));
        }
        SiteRegistry::from_entries(
            file.site.into_iter().map(|e| (e.id, e.name, e.aliases)),
            &path.display().to_string(),
        )
    }

    /// The registry of the data center's home (inside a project, the gate checks against it).
    pub fn of_home(sites: &[crate::center::Site], home: &Path) -> Result<SiteRegistry> {
        let entries = sites.iter().map(|s| (s.id.clone(), s.name.clone(), s.aliases.clone()));
        SiteRegistry::from_entries(entries, &format!("the site registry of {}", home.display()))
    }

    /// Sites given as (id, name, aliases); `origin` names where they came from, for errors.
    fn from_entries(
        entries: impl IntoIterator<Item = (String, String, Vec<String>)>,
        origin: &str,
    ) -> Result<SiteRegistry> {
        let mut sites = Vec::new();
        for (i, (id, name, aliases)) in entries.into_iter().enumerate() {
            let mut spellings: Vec<String> = std::iter::once(&name).chain(&aliases).map(|s| compact(s)).collect();
            if spellings.iter().any(String::is_empty) || compact(&id).is_empty() {
                return Err(bad_input!(
                    "{origin}: site {} (`{id}`): an id, name or alias has no letters or digits; fix or remove it",
                    i + 1
                ));
            }
            spellings.sort();
            spellings.dedup();
            sites.push(Site { id, spellings });
        }
        Ok(SiteRegistry { sites, pseudonyms: Vec::new() })
    }

    /// Add the pseudonyms under which the sites appear in one project's tables.
    pub fn with_pseudonyms(mut self, pseudonyms: impl IntoIterator<Item = String>) -> SiteRegistry {
        self.pseudonyms.extend(pseudonyms.into_iter().map(|p| compact(&p)));
        self
    }

    pub fn has_names(&self) -> bool {
        !self.sites.is_empty()
    }

    /// The registered hospitals whose name or an alias occurs anywhere in `text`.
    pub fn names_in(&self, text: &str) -> Vec<NameMatch> {
        let hay = compact(text);
        if hay.is_empty() {
            return Vec::new();
        }
        self.sites
            .iter()
            .filter(|s| s.spellings.iter().any(|sp| hay.contains(sp.as_str())))
            .map(|s| NameMatch { site_id: s.id.clone() })
            .collect()
    }

    /// Whether a cell or column name is a site's registered id, one of its pseudonyms, or its whole
    /// name or an alias: a label of a per-site result.
    pub fn is_site_label(&self, text: &str) -> bool {
        let c = compact(text);
        !c.is_empty()
            && (self.pseudonyms.contains(&c)
                || self.sites.iter().any(|s| compact(&s.id) == c || s.spellings.contains(&c)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> SiteRegistry {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sites.toml");
        std::fs::write(
            &path,
            "[[site]]\nid = \"site01\"\nname = \"北山大学病院\"\naliases = [\"Kitayama University Hospital\", \"キタヤマ大学病院\"]\npath = \"site01\"\n",
        )
        .unwrap();
        SiteRegistry::read(&path).unwrap()
    }

    #[test]
    fn names_are_found_whatever_the_width_case_and_spacing() {
        let r = registry();
        for text in [
            "patients at 北山大学病院",
            "ｷﾀﾔﾏ大学病院 only",
            "KITAYAMA  university\u{3000}hospital",
            "ｋｉｔａｙａｍａ ｕｎｉｖｅｒｓｉｔｙ ｈｏｓｐｉｔａｌ",
        ] {
            assert_eq!(r.names_in(text), vec![NameMatch { site_id: "site01".into() }], "{text}");
        }
        assert!(r.names_in("Minamiyama University Hospital").is_empty());
    }

    #[test]
    fn site_labels() {
        let r = registry().with_pseudonyms(["S-7f3a".to_string()]);
        assert!(r.is_site_label("SITE01"));
        assert!(r.is_site_label("s 7f3a"));
        assert!(r.is_site_label("北山大学病院"));
        assert!(!r.is_site_label("site02"));
    }
}
