//! Union of the accepted site results into the project's datasets: for each output, one
//! immutable Parquet file `datasets/NAME@VERSION.parquet` with a `site` column holding each row's
//! site pseudonym, a sidecar marking it an analysis dataset (never exportable), and a table of the
//! same name in the project database.

use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result};
use crate::project::datasets::Dataset;
use crate::schema::ColumnRole;
use crate::site::manifest::Manifest;
use crate::sql::duckdb::string;
use crate::table::{Provenance, Sidecar, SidecarColumn, TableKind};

/// One output to union: its name and, per accepted site, the directory of that site's result.
pub struct UnionInput<'a> {
    pub name: &'a str,
    pub patient_level: bool,
    pub sites: &'a [(String, PathBuf, Manifest)],
}

/// Write `datasets/NAME@VERSION.parquet` (and its sidecar) for one output; returns the catalog
/// entry and the file. The file appears under its final name only once complete.
pub fn union_output(
    conn: &duckdb::Connection,
    datasets_dir: &Path,
    input: &UnionInput,
    version: i64,
    extraction: i64,
    provenance: Provenance,
) -> Result<(Dataset, PathBuf)> {
    let label = format!("{}@{}", input.name, version);
    let file = datasets_dir.join(format!("{label}.parquet"));
    let tmp = datasets_dir.join(format!(".{label}.parquet.tmp-{}", std::process::id()));
    let parts: Vec<String> = input
        .sites
        .iter()
        .map(|(pseudonym, dir, manifest)| {
            let out =
                manifest.outputs.iter().find(|o| o.name == input.name).expect("verified manifests list every output");
            format!(
                "SELECT {} AS site, * FROM read_parquet({})",
                string(pseudonym),
                string(&dir.join(&out.file).to_string_lossy())
            )
        })
        .collect();
    let copy = format!(
        "COPY ({}) TO {} (FORMAT parquet, COMPRESSION zstd)",
        parts.join(" UNION ALL "),
        string(&tmp.to_string_lossy())
    );
    let rows = conn.execute(&copy, [])? as i64;
    std::fs::rename(&tmp, &file).at(&file)?;
    let sha256 = crate::digest::sha256_file(&file)?;
    let columns = sidecar_columns(&input.sites[0].2, input.name);
    Sidecar::new(TableKind::AnalysisDataset, columns, provenance).write_beside(&file)?;
    let dataset = Dataset {
        name: input.name.to_string(),
        version,
        extraction,
        file: file.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
        sha256,
        rows,
        patient_level: input.patient_level,
        sites: input.sites.iter().map(|(p, _, _)| p.clone()).collect(),
        created_at: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    };
    Ok((dataset, file))
}

/// The sidecar columns of a unioned output: the site pseudonym, then the manifest's columns.
fn sidecar_columns(manifest: &Manifest, output: &str) -> Vec<SidecarColumn> {
    let out = manifest.outputs.iter().find(|o| o.name == output).expect("verified manifests list every output");
    std::iter::once(SidecarColumn { name: "site".into(), role: ColumnRole::Site })
        .chain(out.columns.iter().map(|c| SidecarColumn { name: c.name.clone(), role: ColumnRole::Other }))
        .collect()
}
