//! Writing result tables as CSV or Parquet with their sidecar, atomically
//! (temporary name, then rename), so that a reader never sees half a table or a table without its
//! sidecar's current version.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use duckdb::arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
use duckdb::arrow::datatypes::{DataType, Field, Schema};
use duckdb::arrow::record_batch::RecordBatch;

use super::sidecar::{Provenance, Sidecar, SidecarColumn, TableKind};
use crate::error::{Error, IoContext, Result};
use crate::schema::ColumnRole;
use crate::sql::duckdb::{ident, string};
use crate::store::{temporary_beside, write_atomically};

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

    /// The table as Arrow arrays, each column typed by its cells: whole numbers, numbers, or text
    /// (empty cells are missing values).
    pub fn to_record_batch(&self) -> RecordBatch {
        let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = self
            .columns
            .iter()
            .enumerate()
            .map(|(c, column)| {
                let cells: Vec<Option<&str>> =
                    self.rows.iter().map(|row| Some(row[c].as_str()).filter(|v| !v.is_empty())).collect();
                let parsed = |f: fn(&str) -> bool| cells.iter().flatten().all(|v| f(v));
                let array: ArrayRef = if parsed(|v| v.parse::<i64>().is_ok()) {
                    Arc::new(
                        cells.iter().map(|v| v.map(|v| v.parse::<i64>().expect("checked"))).collect::<Int64Array>(),
                    )
                } else if parsed(|v| v.parse::<f64>().is_ok()) {
                    Arc::new(
                        cells.iter().map(|v| v.map(|v| v.parse::<f64>().expect("checked"))).collect::<Float64Array>(),
                    )
                } else {
                    Arc::new(cells.iter().copied().collect::<StringArray>())
                };
                (Field::new(column.name.clone(), array.data_type().clone(), true), array)
            })
            .unzip();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).expect("columns of equal length")
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

/// Write `table` to `path` as CSV or Parquet, by the path's extension, with its sidecar (as
/// [`write_csv`] and [`write_parquet`]).
pub fn write_table(path: &Path, table: &CsvTable, kind: TableKind, provenance: Provenance) -> Result<()> {
    match super::Format::of(path)? {
        super::Format::Csv => write_csv(path, table, kind, provenance),
        super::Format::Parquet => {
            write_parquet(path, table.to_record_batch(), &Sidecar::new(kind, table.columns.clone(), provenance))
        }
    }
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
