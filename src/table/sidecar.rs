//! The sidecar `NAME.meta.json` that every table `midnet` writes carries: what kind of table it is,
//! what each column means (which columns count people, for the export gate) and where it came from.
//!
//! Inside a project a sidecar is sealed ([`seal`]): its `binding` holds the SHA-256 of its table and an
//! HMAC-SHA256 of the whole sidecar under the home's table key (`HOME/seal/tables.key`, which only the
//! service account reads). An analyst can bring a file of their own making into `work/` under any
//! name, but cannot make that MAC, so the export gate believes a sidecar only when it verifies for
//! exactly the table beside it ([`Sidecar::trust`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::bad_input;
use crate::error::{Error, IoContext, Result};
use crate::schema::ColumnRole;

/// The versioned format string; a reader refuses any other.
pub const SIDECAR_FORMAT: &str = "midnet-table/1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableKind {
    Statistics,
    FigureData,
    /// Patient-level: never exportable.
    AnalysisDataset,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SidecarColumn {
    pub name: String,
    pub role: ColumnRole,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(default)]
    pub inputs: Vec<String>,
    /// The SHA-256 of each input that is a project dataset, by its label (`cohort@1`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub input_sha256: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script_sha256: Option<String>,
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    pub command: String,
    pub midnet_version: String,
    pub created_at: String,
    /// For a `work sql` result: where each column comes from, read from DuckDB's parse of the query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage: Option<Lineage>,
}

/// Where the columns of a query's result come from (`midnet work sql --out`): for each output
/// column, the dataset columns its values are computed from and the functions applied to them; and
/// the dataset columns by which the rows were grouped, filtered or partitioned anywhere in the
/// query (subqueries and CTEs included). The export gate reads it: a result grouped or filtered by
/// a column that identifies a site is a site breakdown, an `min(...)` is one person's value.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Lineage {
    pub columns: Vec<ColumnLineage>,
    #[serde(default)]
    pub grouped_by: Vec<SourceColumn>,
    #[serde(default)]
    pub filtered_by: Vec<SourceColumn>,
    #[serde(default)]
    pub partitioned_by: Vec<SourceColumn>,
    /// What the lineage could not follow (a query DuckDB cannot serialise, a `COLUMNS(...)`
    /// expression, columns that do not line up with the result): the gate says so.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unresolved: Vec<String>,
}

/// One output column of a query.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ColumnLineage {
    pub name: String,
    /// The dataset columns its values are computed from.
    #[serde(default)]
    pub from: Vec<SourceColumn>,
    /// The functions applied (lower case, as DuckDB names them: `count_star`, `median`, `min`).
    #[serde(default)]
    pub functions: Vec<String>,
    /// The constant levels given to quantile functions (`quantile_cont(x, 0.25)`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub levels: Vec<f64>,
}

/// A column of a table of the project's database (a dataset `cohort@1`, or a catalog table).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SourceColumn {
    pub table: String,
    pub column: String,
}

impl Provenance {
    /// Provenance for a table written now by this version of `midnet`.
    pub fn now(command: impl Into<String>) -> Provenance {
        Provenance {
            project: None,
            inputs: Vec::new(),
            input_sha256: BTreeMap::new(),
            script_sha256: None,
            params: BTreeMap::new(),
            command: command.into(),
            midnet_version: env!("CARGO_PKG_VERSION").to_string(),
            created_at: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            lineage: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sidecar {
    pub format: String,
    pub kind: TableKind,
    pub columns: Vec<SidecarColumn>,
    pub provenance: Provenance,
    /// The seal of a table written inside a project; none outside one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<Binding>,
}

/// Who chose the roles of a sealed table's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Roles {
    /// midnet's statistics code named each column's role (stats, signal, protocol, a fix of such a table).
    Declared,
    /// midnet guessed them from the content (`work sql --out`, a fix of a table of unknown roles): the
    /// export gate judges the columns by their content again.
    Inferred,
}

/// The seal that ties a sidecar to one table: the table's SHA-256, who chose the roles, and the
/// HMAC-SHA256 (hex) under the home's table key of the sidecar's JSON with `mac` empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Binding {
    pub table_sha256: String,
    pub roles: Roles,
    pub mac: String,
}

/// What the export gate may believe of a table's sidecar.
#[derive(Debug, Clone, PartialEq)]
pub enum Trust {
    /// midnet wrote this sidecar, inside this data center, for exactly this table.
    Verified(Sidecar),
    /// A plain file's sidecar: who wrote it cannot be known, so it is read as the requester declares it.
    Declared(Sidecar),
    /// A sidecar lies beside the table but may not be believed (none when it cannot even be read),
    /// and why not. Its roles are ignored.
    Unverified(Option<Sidecar>, String),
    /// No sidecar.
    Absent,
}

impl Trust {
    /// The sidecar whose column roles the gate reads: a verified or declared one whose roles midnet's
    /// statistics code named (not guessed from the content).
    pub fn roles(&self) -> Option<&Sidecar> {
        match self {
            Trust::Verified(s) | Trust::Declared(s)
                if s.binding.as_ref().is_none_or(|b| b.roles == Roles::Declared) =>
            {
                Some(s)
            }
            _ => None,
        }
    }

    /// The lineage of the query that made the table, from a sidecar the gate may believe, whoever
    /// chose its roles (a forged one could only hide what a query grouped by).
    pub fn lineage(&self) -> Option<&Lineage> {
        match self {
            Trust::Verified(s) | Trust::Declared(s) => s.provenance.lineage.as_ref(),
            Trust::Unverified(..) | Trust::Absent => None,
        }
    }

    /// The sidecar, whatever may be believed of it.
    pub fn sidecar(&self) -> Option<&Sidecar> {
        match self {
            Trust::Verified(s) | Trust::Declared(s) | Trust::Unverified(Some(s), _) => Some(s),
            Trust::Unverified(None, _) | Trust::Absent => None,
        }
    }

    /// Whether any sidecar, believed or not, says the table is an analysis dataset: a claim against
    /// the table's interest is believed whoever made it.
    pub fn says_analysis_dataset(&self) -> bool {
        self.sidecar().is_some_and(|s| s.kind == TableKind::AnalysisDataset)
    }
}

/// The home's key for sealing sidecars (`HOME/seal/tables.key`, owner-only, made on first use).
#[derive(Clone)]
pub struct TableKey(Vec<u8>);

impl std::fmt::Debug for TableKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TableKey(…)")
    }
}

impl TableKey {
    /// Where a home keeps its table key, relative to the home.
    pub const FILE: &'static str = "seal/tables.key";

    /// The table key of the home at `home_root`, created (32 random bytes, hex, mode 0600) the first
    /// time a table is sealed there.
    pub fn of_home(home_root: &Path) -> Result<TableKey> {
        let path = home_root.join(Self::FILE);
        if !path.exists() {
            let mut key = [0u8; 32];
            rand::fill(&mut key);
            match crate::store::write_private_file(&path, hex::encode(key).as_bytes()) {
                Ok(()) => {}
                // Another command made it first: use theirs.
                Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        let text = std::fs::read_to_string(&path).at(&path)?;
        let key = hex::decode(text.trim()).map_err(|_| {
            Error::Integrity(format!("{}: the table key is not hex; it was changed outside midnet", path.display()))
        })?;
        Ok(TableKey(key))
    }

    fn mac(&self, message: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(message);
        mac
    }
}

/// Seal the sidecar beside `table` (written by midnet a moment ago, inside a project): bind it to
/// the table's SHA-256 and MAC it under the home's table key. Returns the table's SHA-256.
pub fn seal(table: &Path, key: &TableKey, roles: Roles) -> Result<String> {
    let table_sha256 = crate::digest::sha256_file(table)?;
    let mut sidecar = Sidecar::read_for(table)?
        .ok_or_else(|| Error::Internal(format!("{}: sealing a table that has no sidecar", table.display())))?;
    sidecar.binding = Some(Binding { table_sha256: table_sha256.clone(), roles, mac: String::new() });
    let mac = hex::encode(key.mac(sidecar.to_json().as_bytes()).finalize().into_bytes());
    sidecar.binding.as_mut().expect("just bound").mac = mac;
    sidecar.write_beside(table)?;
    Ok(table_sha256)
}

impl Sidecar {
    pub fn new(kind: TableKind, columns: Vec<SidecarColumn>, provenance: Provenance) -> Sidecar {
        Sidecar { format: SIDECAR_FORMAT.to_string(), kind, columns, provenance, binding: None }
    }

    /// What may be believed of the sidecar beside `table`. With `key` (inside a project) a sidecar
    /// is verified when its MAC holds under the key and it is bound to the table's SHA-256, and is
    /// unverified otherwise (also when it cannot be read: the table is then judged by its content).
    /// Without a key (plain files, whose authorship cannot be known) a sidecar is declared, unless it
    /// is bound to other content.
    pub fn trust(table: &Path, key: Option<&TableKey>) -> Result<Trust> {
        let path = Self::path_for(table);
        if !path.exists() {
            return Ok(Trust::Absent);
        }
        let text = std::fs::read_to_string(&path).at(&path)?;
        let sidecar = match (Self::parse(&text, &path), key) {
            (Ok(sidecar), _) => sidecar,
            (Err(e), Some(_)) => return Ok(Trust::Unverified(None, format!("it cannot be read: {e}"))),
            (Err(e), None) => return Err(e),
        };
        let Some(binding) = sidecar.binding.clone() else {
            return Ok(match key {
                Some(_) => Trust::Unverified(
                    Some(sidecar),
                    "it carries no seal: midnet did not write it inside this data center".into(),
                ),
                None => Trust::Declared(sidecar),
            });
        };
        if crate::digest::sha256_file(table)? != binding.table_sha256 {
            let why = "it does not match the table: it was sealed for other content (the table changed after \
                       midnet wrote it)";
            return Ok(Trust::Unverified(Some(sidecar), why.into()));
        }
        let Some(key) = key else { return Ok(Trust::Declared(sidecar)) };
        let mut unsealed = sidecar.clone();
        unsealed.binding.as_mut().expect("bound").mac = String::new();
        let verifies = hex::decode(&binding.mac)
            .is_ok_and(|mac| key.mac(unsealed.to_json().as_bytes()).verify_slice(&mac).is_ok());
        Ok(if verifies {
            Trust::Verified(sidecar)
        } else {
            Trust::Unverified(
                Some(sidecar),
                "its seal does not verify: midnet did not write it, or it was edited".into(),
            )
        })
    }

    /// Where the sidecar of a table lives: `dir/NAME.meta.json` for `dir/NAME.csv`.
    pub fn path_for(table: &Path) -> PathBuf {
        let stem = table.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        table.with_file_name(format!("{stem}.meta.json"))
    }

    /// The sidecar of a table, if it has one. A sidecar of an unknown format version is refused.
    pub fn read_for(table: &Path) -> Result<Option<Sidecar>> {
        let path = Self::path_for(table);
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).at(&path)?;
        Self::parse(&text, &path).map(Some)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Sidecar> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| bad_input!("{}: not valid JSON: {e}", path.display()))?;
        let format = value.get("format").and_then(|f| f.as_str()).unwrap_or("");
        if format != SIDECAR_FORMAT {
            return Err(bad_input!(
                "{}: sidecar format `{format}` is not one this midnet reads (it reads `{SIDECAR_FORMAT}`)",
                path.display()
            ));
        }
        serde_json::from_value(value).map_err(|e| bad_input!("{}: malformed sidecar: {e}", path.display()))
    }

    pub fn role_of(&self, column: &str) -> Option<ColumnRole> {
        self.columns.iter().find(|c| c.name == column).map(|c| c.role)
    }

    /// Write this sidecar beside `table` (atomically).
    pub fn write_beside(&self, table: &Path) -> Result<()> {
        crate::store::write_atomically(&Self::path_for(table), self.to_json().as_bytes())
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a sidecar always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table and its sidecar in a temporary directory, sealed under a fresh home key.
    fn sealed() -> (tempfile::TempDir, PathBuf, TableKey) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("seal")).unwrap();
        let key = TableKey::of_home(dir.path()).unwrap();
        let table = dir.path().join("t.csv");
        let columns = vec![SidecarColumn { name: "events".into(), role: ColumnRole::EventCount }];
        Sidecar::new(TableKind::Statistics, columns, Provenance::now("midnet stats test"))
            .write_beside(&table)
            .unwrap();
        std::fs::write(&table, "events\n12\n").unwrap();
        seal(&table, &key, Roles::Declared).unwrap();
        (dir, table, key)
    }

    fn why_not(trust: Trust) -> String {
        match trust {
            Trust::Unverified(_, why) => why,
            other => panic!("expected an unverified sidecar, got {other:?}"),
        }
    }

    #[test]
    fn a_sealed_sidecar_verifies_for_its_table_only() {
        let (dir, table, key) = sealed();
        let trust = Sidecar::trust(&table, Some(&key)).unwrap();
        assert!(matches!(&trust, Trust::Verified(_)) && trust.roles().is_some(), "{trust:?}");
        assert_eq!(TableKey::of_home(dir.path()).unwrap().0, key.0, "the key is made once");

        std::fs::write(&table, "events\n3\n").unwrap();
        assert!(why_not(Sidecar::trust(&table, Some(&key)).unwrap()).contains("does not match the table"));
        assert!(why_not(Sidecar::trust(&table, None).unwrap()).contains("does not match the table"));
    }

    #[test]
    fn an_edited_or_unsealed_sidecar_does_not_verify() {
        let (dir, table, key) = sealed();
        let path = Sidecar::path_for(&table);
        let edited = std::fs::read_to_string(&path).unwrap().replace("event_count", "estimate");
        std::fs::write(&path, edited).unwrap();
        let trust = Sidecar::trust(&table, Some(&key)).unwrap();
        assert!(trust.roles().is_none());
        assert!(why_not(trust).contains("seal does not verify"));

        let other = TableKey(vec![7; 32]);
        let (_kept, table, _) = sealed();
        assert!(why_not(Sidecar::trust(&table, Some(&other)).unwrap()).contains("seal does not verify"));

        let plain = dir.path().join("p.csv");
        std::fs::write(&plain, "events\n12\n").unwrap();
        Sidecar::new(TableKind::AnalysisDataset, Vec::new(), Provenance::now("x")).write_beside(&plain).unwrap();
        let trust = Sidecar::trust(&plain, Some(&key)).unwrap();
        assert!(trust.says_analysis_dataset(), "a claim against interest is believed");
        assert!(why_not(trust).contains("no seal"));
        assert!(matches!(Sidecar::trust(&plain, None).unwrap(), Trust::Declared(_)), "plain files: as declared");
        std::fs::write(Sidecar::path_for(&plain), "{not json").unwrap();
        assert!(why_not(Sidecar::trust(&plain, Some(&key)).unwrap()).contains("cannot be read"));
        assert!(Sidecar::trust(&plain, None).is_err());
    }

    #[test]
    fn guessed_roles_are_never_read() {
        let (_dir, table, key) = sealed();
        seal(&table, &key, Roles::Inferred).unwrap();
        let trust = Sidecar::trust(&table, Some(&key)).unwrap();
        assert!(matches!(trust, Trust::Verified(_)) && trust.roles().is_none());
    }
}
