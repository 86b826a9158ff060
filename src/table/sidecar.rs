//! The sidecar `NAME.meta.json` that every table `midnet` writes carries: what kind of table it is,
//! what each column means (which columns count people, for the export gate) and where it came from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::bad_input;
use crate::error::{IoContext, Result};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnRole {
    PersonCount,
    EventCount,
    AtRisk,
    Denominator,
    PersonTime,
    Rate,
    Proportion,
    Ratio,
    IntervalBound,
    PValue,
    Estimate,
    Label,
    AgeBand,
    Sex,
    Site,
    Time,
    Date,
    Other,
    /// A quantile (median, quartile, percentile) of the values of the people counted in its row:
    /// its level is read from the column name (`median`, `q1`, `p90`).
    Quantile,
    /// A minimum or maximum (or any one person's value picked from a group).
    Extreme,
    /// The time at which one person's event or censoring happened: a Kaplan-Meier step time, a time
    /// to onset.
    EventTime,
}

impl ColumnRole {
    /// The roles the small-cell rule applies to.
    pub fn counts_people(self) -> bool {
        matches!(self, ColumnRole::PersonCount | ColumnRole::EventCount | ColumnRole::AtRisk | ColumnRole::Denominator)
    }

    /// The roles of one person's value inside a statistic (the export gate's `individual_value`).
    pub fn is_individual_value(self) -> bool {
        matches!(self, ColumnRole::Quantile | ColumnRole::Extreme | ColumnRole::EventTime)
    }
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
}

impl Sidecar {
    pub fn new(kind: TableKind, columns: Vec<SidecarColumn>, provenance: Provenance) -> Sidecar {
        Sidecar { format: SIDECAR_FORMAT.to_string(), kind, columns, provenance }
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
        super::write_atomically(&Self::path_for(table), self.to_json().as_bytes())
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a sidecar always serialises")
    }
}
