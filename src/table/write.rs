//! Writing result tables as CSV (or, for large ones, Parquet) with their sidecar, atomically
//! (temporary name, then rename), so that a reader never sees half a table or a table without its
//! sidecar's current version.

use std::io::Write;
use std::path::Path;

use duckdb::arrow::datatypes::DataType;
use duckdb::arrow::record_batch::RecordBatch;

use super::sidecar::{ColumnRole, Provenance, Sidecar, SidecarColumn, TableKind};
use crate::error::{Error, IoContext, Result};
use crate::sql::duckdb::{ident, string};

/// A small result table: named columns with roles, rows of already formatted cells.
#[derive(Debug, Clone, Default)]
pub struct CsvTable {
    pub columns: Vec<SidecarColumn>,
    pub rows: Vec<Vec<String>>,
}

impl CsvTable {
    pub fn new(columns: &[(&str, ColumnRole)]) -> CsvTable {
        CsvTable {
            columns: columns.iter().map(|(name, role)| SidecarColumn { name: name.to_string(), role: *role }).collect(),
            rows: Vec::new(),
        }
    }

    pub fn push(&mut self, row: Vec<String>) {
        debug_assert_eq!(row.len(), self.columns.len());
        self.rows.push(row);
    }

    /// The CSV text of the table.
    pub fn to_csv(&self) -> Result<String> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let header: Vec<&str> = self.columns.iter().map(|c| c.name.as_str()).collect();
        w.write_record(&header).map_err(csv_error)?;
        for row in &self.rows {
            w.write_record(row).map_err(csv_error)?;
        }
        let bytes = w.into_inner().map_err(|e| Error::Internal(e.to_string()))?;
        String::from_utf8(bytes).map_err(|e| Error::Internal(e.to_string()))
    }
}

/// Write `table` to `path` (CSV) and its sidecar beside it. Both are written to temporary names
/// first and renamed into place, sidecar first, so a table never appears without its sidecar.
pub fn write_csv(path: &Path, table: &CsvTable, kind: TableKind, provenance: Provenance) -> Result<()> {
    Sidecar::new(kind, table.columns.clone(), provenance).write_beside(path)?;
    write_atomically(path, table.to_csv()?.as_bytes())
}

/// As [`write_csv`], as new files: neither the table nor its sidecar may exist. Each is written
/// under a temporary name and linked into place, which fails when the name is taken, so nothing is
/// ever written over (a sidecar placed before a refused table is removed again).
pub fn write_csv_new(path: &Path, table: &CsvTable, kind: TableKind, provenance: Provenance) -> Result<()> {
    let sidecar = Sidecar::path_for(path);
    write_new(&sidecar, Sidecar::new(kind, table.columns.clone(), provenance).to_json().as_bytes())?;
    write_new(path, table.to_csv()?.as_bytes()).inspect_err(|_| {
        let _ = std::fs::remove_file(&sidecar);
    })
}

/// Write a new file under a temporary name, flush it, and link it into place: an error, and
/// nothing written, when `path` exists.
fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temporary_beside(path);
    let written = std::fs::File::create(&tmp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(&tmp, e));
    }
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(crate::bad_input!("{} exists already; nothing was written over it: give a new name", path.display()))
        }
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Write a file under a temporary name in the same directory, flush it to disk, and rename it.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomically_with(path, |out| out.write_all(bytes)).at(path)
}

/// As [`write_atomically`], for content too large to hold in memory: `fill` streams it into a
/// buffered writer on the temporary file.
pub fn write_atomically_with(
    path: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let tmp = temporary_beside(path);
    let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
    fill(&mut out)?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// The temporary name a file is written under before it is renamed into place.
fn temporary_beside(path: &Path) -> std::path::PathBuf {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    dir.join(format!(".{name}.tmp-{}", std::process::id()))
}

/// Write `batch` to `path` as Parquet (DuckDB's writer, snappy) and its sidecar beside it, each
/// under a temporary name first and sidecar first, as [`write_csv`]. For tables too large to
/// format as text quickly; columns keep their Arrow types (nulls for missing values).
pub fn write_parquet(path: &Path, batch: RecordBatch, sidecar: &Sidecar) -> Result<()> {
    write_atomically(&Sidecar::path_for(path), sidecar.to_json().as_bytes())?;
    let conn = duckdb::Connection::open_in_memory()?;
    let columns = batch
        .schema()
        .fields()
        .iter()
        .map(|f| {
            let sql_type = match f.data_type() {
                DataType::Utf8 => "VARCHAR",
                DataType::Float64 => "DOUBLE",
                DataType::Int64 => "BIGINT",
                DataType::Boolean => "BOOLEAN",
                other => return Err(Error::Internal(format!("no Parquet column type for {other}"))),
            };
            Ok(format!("{} {sql_type}", ident(f.name())))
        })
        .collect::<Result<Vec<_>>>()?;
    conn.execute_batch(&format!("CREATE TABLE result ({})", columns.join(", ")))?;
    conn.appender("result")?.append_record_batch(batch)?;
    let tmp = temporary_beside(path);
    conn.execute_batch(&format!(
        "COPY result TO {} (FORMAT parquet, COMPRESSION snappy)",
        string(&tmp.to_string_lossy())
    ))?;
    std::fs::File::open(&tmp).and_then(|f| f.sync_all()).at(&tmp)?;
    std::fs::rename(&tmp, path).at(path)
}

/// Format a float for a result table: shortest representation that reads back to the same value;
/// missing and non-finite values are empty cells.
pub fn float_cell(v: f64) -> String {
    if v.is_finite() { format!("{v}") } else { String::new() }
}

fn csv_error(e: csv::Error) -> Error {
    Error::Internal(format!("writing CSV: {e}"))
}
