//! The analysis datasets of a project as their readers see them: the `dataset` table of the
//! project database, which an extraction writes (`extract::catalog`).

use serde::Serialize;

use crate::error::Result;

/// One version of an analysis dataset.
#[derive(Debug, Clone, Serialize)]
pub struct Dataset {
    pub name: String,
    pub version: i64,
    pub extraction: i64,
    pub file: String,
    pub sha256: String,
    pub rows: i64,
    pub patient_level: bool,
    pub sites: Vec<String>,
    pub created_at: String,
}

impl Dataset {
    /// `name@version`, as the table is named in the project database.
    pub fn label(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

/// Every version of every dataset, by name and version.
pub fn datasets(conn: &duckdb::Connection) -> Result<Vec<Dataset>> {
    let mut stmt = conn.prepare(
        "SELECT name, version, extraction, file, sha256, rows, patient_level, sites_json, strftime(created_at, '%Y-%m-%d %H:%M:%S') \
         FROM dataset ORDER BY name, version",
    )?;
    let rows = stmt.query_map([], |r| {
        let sites: String = r.get(7)?;
        Ok(Dataset {
            name: r.get(0)?,
            version: r.get(1)?,
            extraction: r.get(2)?,
            file: r.get(3)?,
            sha256: r.get(4)?,
            rows: r.get(5)?,
            patient_level: r.get(6)?,
            sites: serde_json::from_str(&sites).unwrap_or_default(),
            created_at: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}
