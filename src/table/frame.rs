//! Reading a CSV or Parquet file into Arrow columns, with typed accessors whose errors name the
//! file, the column and the first bad row.

use std::path::{Path, PathBuf};

use duckdb::arrow::array::{Array, ArrayRef, AsArray};
use duckdb::arrow::compute::{cast, concat};
use duckdb::arrow::datatypes::{DataType, Float64Type};
use duckdb::arrow::record_batch::RecordBatch;

use crate::bad_input;
use crate::error::{Error, Result};
use crate::sql::quote::{ident as quote_ident, literal as quote_literal};

/// The file formats `midnet` reads tables from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Parquet,
}

impl Format {
    /// The format of a file, from its extension.
    pub fn of(path: &Path) -> Result<Format> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Ok(Format::Csv),
            "parquet" => Ok(Format::Parquet),
            _ => Err(bad_input!(
                "{}: not a table file; give a .csv or .parquet file",
                path.display()
            )),
        }
    }

    /// The DuckDB table function that reads a file of this format.
    pub fn scan_sql(self, path: &Path) -> String {
        let lit = quote_literal(&path.to_string_lossy());
        match self {
            // all_varchar=false keeps DuckDB's type sniffing; a header row is required.
            Format::Csv => format!("read_csv({lit}, header = true, auto_detect = true)"),
            Format::Parquet => format!("read_parquet({lit})"),
        }
    }
}

/// The columns of a table read from a file, as Arrow arrays (one array per column).
pub struct Frame {
    path: PathBuf,
    names: Vec<String>,
    columns: Vec<ArrayRef>,
    rows: usize,
}

impl Frame {
    /// Read the whole file.
    pub fn read(path: &Path) -> Result<Frame> {
        Self::read_columns(path, &[])
    }

    /// Read only the named columns (all of them when `wanted` is empty). A missing column is an
    /// error that lists the columns the file has.
    pub fn read_columns(path: &Path, wanted: &[&str]) -> Result<Frame> {
        Self::read_with(path, wanted, false)
    }

    /// Read the named columns as text, as written in the file (a CSV column of codes keeps its
    /// leading zeros; Parquet columns keep their types, which [`Frame::texts`] formats).
    pub fn read_text_columns(path: &Path, wanted: &[&str]) -> Result<Frame> {
        Self::read_with(path, wanted, true)
    }

    fn read_with(path: &Path, wanted: &[&str], as_text: bool) -> Result<Frame> {
        if !path.is_file() {
            return Err(Error::NotFound(format!("{}: no such file", path.display())));
        }
        let format = Format::of(path)?;
        let conn = duckdb::Connection::open_in_memory()?;
        let scan = match (format, as_text) {
            (Format::Csv, true) => format!("read_csv({}, header = true, all_varchar = true)", quote_literal(&path.to_string_lossy())),
            _ => format.scan_sql(path),
        };
        let available = column_names(&conn, &scan, path)?;
        for w in wanted {
            if !available.iter().any(|a| a == w) {
                return Err(bad_input!(
                    "{}: no column `{}`; the columns are: {}",
                    path.display(),
                    w,
                    available.join(", ")
                ));
            }
        }
        let select = if wanted.is_empty() {
            "*".to_string()
        } else {
            wanted.iter().map(|c| quote_ident(c)).collect::<Vec<_>>().join(", ")
        };
        let sql = format!("SELECT {select} FROM {scan}");
        let mut stmt = conn.prepare(&sql).map_err(|e| unreadable(path, e))?;
        let batches: Vec<RecordBatch> = stmt.query_arrow([]).map_err(|e| unreadable(path, e))?.collect();
        let names: Vec<String> = if wanted.is_empty() {
            available
        } else {
            wanted.iter().map(|s| s.to_string()).collect()
        };
        let columns = (0..names.len())
            .map(|i| concat_column(&batches, i, &stmt.schema().field(i).data_type().clone()))
            .collect::<Result<Vec<_>>>()?;
        let rows = columns.first().map_or(0, |c| c.len());
        Ok(Frame { path: path.to_path_buf(), names, columns, rows })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn has_column(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    /// The Arrow array of a column.
    pub fn array(&self, name: &str) -> Result<&ArrayRef> {
        match self.names.iter().position(|n| n == name) {
            Some(i) => Ok(&self.columns[i]),
            None => Err(bad_input!(
                "{}: no column `{}`; the columns are: {}",
                self.path.display(),
                name,
                self.names.join(", ")
            )),
        }
    }

    /// The Arrow data type of a column.
    pub fn data_type(&self, name: &str) -> Result<DataType> {
        Ok(self.array(name)?.data_type().clone())
    }

    /// A numeric column with no missing values, as f64.
    pub fn f64s(&self, name: &str) -> Result<Vec<f64>> {
        let array = self.numeric(name, DataType::Float64)?;
        let values = array.as_primitive::<Float64Type>();
        self.first_null(name, &array)?;
        let out: Vec<f64> = values.values().to_vec();
        if let Some(row) = out.iter().position(|v| !v.is_finite()) {
            return Err(self.bad_row(name, row, &format!("value {} is not a finite number", out[row])));
        }
        Ok(out)
    }

    /// A numeric column that may have missing values, as f64 (`None` for missing).
    pub fn opt_f64s(&self, name: &str) -> Result<Vec<Option<f64>>> {
        let array = self.numeric(name, DataType::Float64)?;
        Ok(array.as_primitive::<Float64Type>().iter().collect())
    }

    /// An integer column with no missing values. A fractional value is an error naming its row.
    pub fn i64s(&self, name: &str) -> Result<Vec<i64>> {
        let floats = self.f64s(name)?;
        floats
            .iter()
            .enumerate()
            .map(|(row, &v)| {
                if v.fract() == 0.0 && v.abs() < 9.0e15 {
                    Ok(v as i64)
                } else {
                    Err(self.bad_row(name, row, &format!("value {v} is not a whole number")))
                }
            })
            .collect()
    }

    /// Any column as text (`None` for missing); numbers are formatted as DuckDB prints them.
    pub fn texts(&self, name: &str) -> Result<Vec<Option<String>>> {
        let array = self.array(name)?;
        let as_text = cast(array, &DataType::Utf8).map_err(|e| {
            bad_input!("{}: column `{}` cannot be read as text: {e}", self.path.display(), name)
        })?;
        Ok(as_text.as_string::<i32>().iter().map(|v| v.map(str::to_string)).collect())
    }

    /// A text column with no missing values.
    pub fn strings(&self, name: &str) -> Result<Vec<String>> {
        let texts = self.texts(name)?;
        texts
            .into_iter()
            .enumerate()
            .map(|(row, v)| v.ok_or_else(|| self.bad_row(name, row, "missing value")))
            .collect()
    }

    /// An error about one cell. Rows are numbered from 1 (the first data row); for CSV files the
    /// line number is given too, counting the header as line 1.
    pub fn bad_row(&self, column: &str, row: usize, what: &str) -> Error {
        let line = match Format::of(&self.path) {
            Ok(Format::Csv) => format!(" (line {})", row + 2),
            _ => String::new(),
        };
        bad_input!("{}: column `{}`, row {}{}: {}", self.path.display(), column, row + 1, line, what)
    }

    fn numeric(&self, name: &str, to: DataType) -> Result<ArrayRef> {
        let array = self.array(name)?;
        let ok = array.data_type().is_numeric() || matches!(array.data_type(), DataType::Boolean | DataType::Null);
        if !ok {
            let texts = self.texts(name)?;
            let row = texts
                .iter()
                .position(|t| t.as_deref().is_some_and(|s| s.trim().parse::<f64>().is_err()))
                .unwrap_or(0);
            let shown = texts.get(row).cloned().flatten().unwrap_or_default();
            return Err(self.bad_row(name, row, &format!("`{shown}` is not a number")));
        }
        cast(array, &to).map_err(|e| bad_input!("{}: column `{}`: {e}", self.path.display(), name))
    }

    fn first_null(&self, name: &str, array: &ArrayRef) -> Result<()> {
        if array.null_count() == 0 {
            return Ok(());
        }
        let row = (0..array.len()).find(|&i| array.is_null(i)).unwrap_or(0);
        Err(self.bad_row(name, row, "missing value"))
    }
}

fn column_names(conn: &duckdb::Connection, scan: &str, path: &Path) -> Result<Vec<String>> {
    let sql = format!("SELECT column_name FROM (DESCRIBE SELECT * FROM {scan})");
    let mut stmt = conn.prepare(&sql).map_err(|e| unreadable(path, e))?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(|e| unreadable(path, e))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| unreadable(path, e))?;
    Ok(names)
}

fn concat_column(batches: &[RecordBatch], i: usize, data_type: &DataType) -> Result<ArrayRef> {
    if batches.is_empty() {
        return Ok(duckdb::arrow::array::new_empty_array(data_type));
    }
    let parts: Vec<&dyn Array> = batches.iter().map(|b| b.column(i).as_ref()).collect();
    concat(&parts).map_err(|e| Error::Internal(format!("concatenating column {i}: {e}")))
}

fn unreadable(path: &Path, e: duckdb::Error) -> Error {
    bad_input!("{}: cannot be read as a table: {e}", path.display())
}
