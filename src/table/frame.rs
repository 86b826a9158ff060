//! Reading a CSV or Parquet file into Arrow columns, with typed accessors whose errors name the
//! file, the column and the first bad row.

use std::path::{Path, PathBuf};

use duckdb::arrow::array::{Array, ArrayRef, AsArray};
use duckdb::arrow::compute::cast;
use duckdb::arrow::datatypes::{DataType, Float64Type};
use duckdb::arrow::record_batch::RecordBatch;

use crate::bad_input;
use crate::error::{Error, Result};
use crate::sql::duckdb::{ident, string};

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
            _ => Err(bad_input!("{}: not a table file; give a .csv or .parquet file", path.display())),
        }
    }

    /// The DuckDB table function that reads a file of this format.
    pub fn scan_sql(self, path: &Path) -> String {
        let lit = string(&path.to_string_lossy());
        match self {
            // all_varchar=false keeps DuckDB's type sniffing; a header row is required.
            Format::Csv => format!("read_csv({lit}, header = true, auto_detect = true)"),
            Format::Parquet => format!("read_parquet({lit})"),
        }
    }
}

/// The columns of a table read from a file, each as the Arrow chunks DuckDB produced. Typed
/// accessors convert chunk by chunk straight into their result, so a column of ten million numbers
/// is copied once.
pub struct Frame {
    path: PathBuf,
    names: Vec<String>,
    types: Vec<DataType>,
    /// Per column, its chunks in row order.
    chunks: Vec<Vec<ArrayRef>>,
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
        Self::read_scan(path, wanted, false)
    }

    /// Read the named columns (all when `wanted` is empty) with every CSV cell as the text
    /// written: no type sniffing, so codes keep their leading zeros, a `<10` on line 30 000 of a
    /// column of numbers is read like any other cell, and `2000` stays `2000`. Parquet columns
    /// keep their types (read them with [`Frame::texts`]).
    pub fn read_text_columns(path: &Path, wanted: &[&str]) -> Result<Frame> {
        Self::read_scan(path, wanted, true)
    }

    /// Like [`Frame::read_text_columns`], from the bytes of a file read earlier: `name` (the file
    /// they were read from) gives the format by its extension and names the file in every message.
    /// The bytes are scanned from an anonymous in-memory file, so nothing is written to disk and
    /// nobody can change them between the read and the scan.
    pub fn read_text_columns_of(bytes: &[u8], name: &Path, wanted: &[&str]) -> Result<Frame> {
        Self::scan_bytes(bytes, name, wanted, true)
    }

    /// Like [`Frame::read_columns`], from the bytes of a file read earlier (see
    /// [`Frame::read_text_columns_of`]).
    pub fn read_columns_of(bytes: &[u8], name: &Path, wanted: &[&str]) -> Result<Frame> {
        Self::scan_bytes(bytes, name, wanted, false)
    }

    fn scan_bytes(bytes: &[u8], name: &Path, wanted: &[&str], as_text: bool) -> Result<Frame> {
        let format = Format::of(name)?;
        let memory = in_memory_file(bytes).map_err(|e| Error::io(name, e))?;
        let source = PathBuf::from(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&memory)));
        Self::scan(&source, name, format, wanted, as_text)
    }

    fn read_scan(path: &Path, wanted: &[&str], as_text: bool) -> Result<Frame> {
        if !path.is_file() {
            return Err(Error::NotFound(format!("{}: no such file", path.display())));
        }
        Self::scan(path, path, Format::of(path)?, wanted, as_text)
    }

    /// Scan the file at `source` (in `format`), named `path` in messages and in the frame.
    fn scan(source: &Path, path: &Path, format: Format, wanted: &[&str], as_text: bool) -> Result<Frame> {
        let conn = duckdb::Connection::open_in_memory()?;
        let scan = match format {
            Format::Csv if as_text => {
                format!(
                    "read_csv({}, header = true, auto_detect = true, all_varchar = true)",
                    string(&source.to_string_lossy())
                )
            }
            _ => format.scan_sql(source),
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
            wanted.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ")
        };
        let sql = format!("SELECT {select} FROM {scan}");
        let mut stmt = conn.prepare(&sql).map_err(|e| unreadable(path, e))?;
        let batches: Vec<RecordBatch> = stmt.query_arrow([]).map_err(|e| unreadable(path, e))?.collect();
        let names: Vec<String> =
            if wanted.is_empty() { available } else { wanted.iter().map(|s| s.to_string()).collect() };
        let schema = stmt.schema();
        let types: Vec<DataType> = (0..names.len()).map(|i| schema.field(i).data_type().clone()).collect();
        let chunks: Vec<Vec<ArrayRef>> =
            (0..names.len()).map(|i| batches.iter().map(|b| b.column(i).clone()).collect()).collect();
        let rows = batches.iter().map(|b| b.num_rows()).sum();
        Ok(Frame { path: path.to_path_buf(), names, types, chunks, rows })
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

    /// The Arrow chunks of a column, in row order.
    pub fn chunks(&self, name: &str) -> Result<&[ArrayRef]> {
        Ok(&self.chunks[self.index(name)?])
    }

    /// The Arrow data type of a column.
    pub fn data_type(&self, name: &str) -> Result<DataType> {
        Ok(self.types[self.index(name)?].clone())
    }

    /// A numeric column with no missing values, as f64.
    pub fn f64s(&self, name: &str) -> Result<Vec<f64>> {
        let mut out = Vec::with_capacity(self.rows);
        let mut offset = 0;
        for chunk in self.numeric_chunks(name)? {
            let values = chunk.as_primitive::<Float64Type>();
            if values.null_count() > 0 {
                let row = (0..values.len()).find(|&i| values.is_null(i)).unwrap_or(0);
                return Err(self.bad_row(name, offset + row, "missing value"));
            }
            out.extend_from_slice(values.values());
            offset += values.len();
        }
        if let Some(row) = out.iter().position(|v| !v.is_finite()) {
            return Err(self.bad_row(
                name,
                row,
                &format!("value {} is not a finite number", crate::withhold::cell(out[row])),
            ));
        }
        Ok(out)
    }

    /// A numeric column that may have missing values, as f64 (`None` for missing).
    pub fn opt_f64s(&self, name: &str) -> Result<Vec<Option<f64>>> {
        let mut out = Vec::with_capacity(self.rows);
        for chunk in self.numeric_chunks(name)? {
            out.extend(chunk.as_primitive::<Float64Type>().iter());
        }
        Ok(out)
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
                    Err(self.bad_row(name, row, &format!("value {} is not a whole number", crate::withhold::cell(v))))
                }
            })
            .collect()
    }

    /// Any column as text (`None` for missing); numbers are formatted as DuckDB prints them.
    pub fn texts(&self, name: &str) -> Result<Vec<Option<String>>> {
        let mut out = Vec::with_capacity(self.rows);
        for chunk in self.text_chunks(name)? {
            out.extend(chunk.as_string::<i32>().iter().map(|v| v.map(str::to_string)));
        }
        Ok(out)
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

    /// The chunks of a column cast to UTF-8 text.
    pub fn text_chunks(&self, name: &str) -> Result<Vec<ArrayRef>> {
        self.chunks(name)?
            .iter()
            .map(|chunk| {
                cast(chunk, &DataType::Utf8).map_err(|e| {
                    bad_input!(
                        "{}: column `{}` cannot be read as text: {}",
                        self.path.display(),
                        name,
                        crate::withhold::cell(e)
                    )
                })
            })
            .collect()
    }

    /// An error about one cell. Rows are numbered from 1 (the first data row); for CSV files the
    /// line number is given too, counting the header as line 1. `what` shows the cell's value
    /// through [`super::cell`], so that it is withheld when the file is a project's dataset.
    pub fn bad_row(&self, column: &str, row: usize, what: &str) -> Error {
        let line = match Format::of(&self.path) {
            Ok(Format::Csv) => format!(" (line {})", row + 2),
            _ => String::new(),
        };
        let withheld =
            if crate::withhold::values_withheld() { " (values of a project's dataset are never shown)" } else { "" };
        bad_input!("{}: column `{}`, row {}{}: {}{withheld}", self.path.display(), column, row + 1, line, what)
    }

    fn index(&self, name: &str) -> Result<usize> {
        self.names.iter().position(|n| n == name).ok_or_else(|| {
            bad_input!("{}: no column `{}`; the columns are: {}", self.path.display(), name, self.names.join(", "))
        })
    }

    /// The chunks of a numeric column as Float64 (cast only when they are not already); a column
    /// DuckDB read as text is an error naming its first value that is not a number.
    fn numeric_chunks(&self, name: &str) -> Result<Vec<ArrayRef>> {
        let data_type = self.data_type(name)?;
        let ok = data_type.is_numeric() || matches!(data_type, DataType::Boolean | DataType::Null);
        if !ok {
            let texts = self.texts(name)?;
            let row =
                texts.iter().position(|t| t.as_deref().is_some_and(|s| s.trim().parse::<f64>().is_err())).unwrap_or(0);
            let shown = texts.get(row).cloned().flatten().unwrap_or_default();
            return Err(self.bad_row(name, row, &format!("`{}` is not a number", crate::withhold::cell(shown))));
        }
        self.chunks(name)?
            .iter()
            .map(|chunk| {
                if chunk.data_type() == &DataType::Float64 {
                    Ok(chunk.clone())
                } else {
                    cast(chunk, &DataType::Float64).map_err(|e| {
                        bad_input!("{}: column `{}`: {}", self.path.display(), name, crate::withhold::cell(e))
                    })
                }
            })
            .collect()
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

/// An anonymous file in memory holding `bytes` (Linux `memfd_create`), closed with the process.
fn in_memory_file(bytes: &[u8]) -> std::io::Result<std::fs::File> {
    use std::io::Write;
    use std::os::fd::FromRawFd;
    // SAFETY: the name is a NUL-terminated literal; the descriptor returned is new and ours alone.
    let fd = unsafe { libc::memfd_create(c"midnet-named-file".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` is a valid descriptor owned by nothing else.
    let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
    file.write_all(bytes)?;
    Ok(file)
}

fn unreadable(path: &Path, e: duckdb::Error) -> Error {
    bad_input!("{}: cannot be read as a table: {}", path.display(), crate::withhold::db_error(&e))
}
