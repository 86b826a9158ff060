//! A column-oriented result table (one row per pair), written as CSV or Parquet with its sidecar,
//! or as JSON. CSV is formatted in parallel chunks and streamed to disk.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use duckdb::arrow::array::{ArrayRef, BooleanArray, Float64Array, StringArray};
use duckdb::arrow::buffer::NullBuffer;
use duckdb::arrow::datatypes::{DataType, Field, Schema};
use duckdb::arrow::record_batch::RecordBatch;
use rayon::prelude::*;

use crate::error::{IoContext, Result};
use crate::schema::ColumnRole;
use crate::store::{write_atomically, write_atomically_with};
use crate::table::{Format, Provenance, Sidecar, TableKind, write_parquet};

#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    Text(Vec<String>),
    /// Non-finite values (undefined statistics) are written as empty cells and JSON nulls.
    Number(Vec<f64>),
    /// A signal rule; None (an empty cell, JSON null) where its statistic is undefined.
    Flag(Vec<Option<bool>>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: &'static str,
    pub role: ColumnRole,
    pub values: Values,
}

impl Column {
    pub fn text(name: &'static str, role: ColumnRole, values: Vec<String>) -> Column {
        Column { name, role, values: Values::Text(values) }
    }

    pub fn number(name: &'static str, role: ColumnRole, values: Vec<f64>) -> Column {
        Column { name, role, values: Values::Number(values) }
    }

    pub fn flag(name: &'static str, values: Vec<Option<bool>>) -> Column {
        Column { name, role: ColumnRole::Other, values: Values::Flag(values) }
    }

    /// Append the cell of `row` to `out`: numbers as `table::float_cell` writes them (shortest
    /// representation that reads back exactly, empty when not finite), written in place rather
    /// than through a String per cell.
    fn write_cell(&self, row: usize, out: &mut String) {
        use std::fmt::Write as _;
        match &self.values {
            Values::Text(v) => out.push_str(&v[row]),
            Values::Number(v) if v[row].is_finite() => write!(out, "{}", v[row]).expect("writing to a String"),
            Values::Number(_) => {}
            Values::Flag(v) => out.push_str(match v[row] {
                Some(true) => "true",
                Some(false) => "false",
                None => "",
            }),
        }
    }

    fn json(&self, row: usize) -> serde_json::Value {
        match &self.values {
            Values::Text(v) => v[row].clone().into(),
            Values::Number(v) => serde_json::Number::from_f64(v[row]).map_or(serde_json::Value::Null, Into::into),
            Values::Flag(v) => v[row].into(),
        }
    }

    fn len(&self) -> usize {
        match &self.values {
            Values::Text(v) => v.len(),
            Values::Number(v) => v.len(),
            Values::Flag(v) => v.len(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PairTable {
    pub columns: Vec<Column>,
}

const ROWS_PER_CHUNK: usize = 8192;

impl PairTable {
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, Column::len)
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// A numeric column by name (panics on a name the code itself did not create).
    pub fn numbers(&self, name: &str) -> &[f64] {
        match self.column(name).map(|c| &c.values) {
            Some(Values::Number(v)) => v,
            _ => panic!("no numeric column `{name}`"),
        }
    }

    /// Keep the rows in `order` (a permutation or a subset of row indices).
    pub fn select(&self, order: &[usize]) -> PairTable {
        let columns = self
            .columns
            .iter()
            .map(|c| Column {
                name: c.name,
                role: c.role,
                values: match &c.values {
                    Values::Text(v) => Values::Text(order.iter().map(|&i| v[i].clone()).collect()),
                    Values::Number(v) => Values::Number(order.iter().map(|&i| v[i]).collect()),
                    Values::Flag(v) => Values::Flag(order.iter().map(|&i| v[i]).collect()),
                },
            })
            .collect();
        PairTable { columns }
    }

    /// Append the CSV text of rows `lo..hi` (no header) to `buffer`.
    fn csv_rows(&self, lo: usize, hi: usize, buffer: &mut Vec<u8>) -> std::io::Result<()> {
        let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(buffer);
        let mut cell = String::new();
        for row in lo..hi {
            for column in &self.columns {
                cell.clear();
                column.write_cell(row, &mut cell);
                w.write_field(cell.as_bytes())?;
            }
            w.write_record(None::<&[u8]>)?;
        }
        w.flush()
    }

    /// Write the table as CSV (header first) to `out`: chunks of rows are formatted in parallel,
    /// a few at a time into buffers that are reused, so memory stays small and is not handed back
    /// and forth with the operating system however long the table.
    pub fn write_csv(&self, out: &mut impl Write) -> std::io::Result<()> {
        let header: Vec<&str> = self.columns.iter().map(|c| c.name).collect();
        writeln!(out, "{}", header.join(","))?;
        let rows = self.rows();
        let mut buffers: Vec<Vec<u8>> = vec![Vec::new(); 2 * rayon::current_num_threads()];
        for first in (0..rows).step_by(ROWS_PER_CHUNK * buffers.len()) {
            buffers.par_iter_mut().enumerate().try_for_each(|(j, buffer)| {
                buffer.clear();
                let lo = (first + j * ROWS_PER_CHUNK).min(rows);
                self.csv_rows(lo, (lo + ROWS_PER_CHUNK).min(rows), buffer)
            })?;
            for buffer in &buffers {
                out.write_all(buffer)?;
            }
        }
        Ok(())
    }

    /// Write the table to `path` with its sidecar, sidecar first, each atomically: CSV, or
    /// Parquet for a `.parquet` name (much faster for large tables: no numbers formatted as text).
    pub fn save(self, path: &Path, kind: TableKind, provenance: Provenance) -> Result<()> {
        let columns = self
            .columns
            .iter()
            .map(|c| crate::table::SidecarColumn { name: c.name.to_string(), role: c.role })
            .collect();
        let sidecar = Sidecar::new(kind, columns, provenance);
        if Format::of(path)? == Format::Parquet {
            return write_parquet(path, self.into_record_batch(), &sidecar);
        }
        write_atomically(&Sidecar::path_for(path), sidecar.to_json().as_bytes())?;
        write_atomically_with(path, |file| self.write_csv(file)).at(path)
    }

    /// The table as Arrow arrays: text, float64 (null where not finite, as the CSV's empty
    /// cells), boolean.
    pub fn into_record_batch(self) -> RecordBatch {
        let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = self
            .columns
            .into_iter()
            .map(|c| match c.values {
                Values::Text(v) => {
                    (Field::new(c.name, DataType::Utf8, false), Arc::new(StringArray::from(v)) as ArrayRef)
                }
                Values::Number(v) => {
                    let valid: Vec<bool> = v.iter().map(|x| x.is_finite()).collect();
                    let array = Float64Array::new(v.into(), Some(NullBuffer::from(valid)));
                    (Field::new(c.name, DataType::Float64, true), Arc::new(array) as ArrayRef)
                }
                Values::Flag(v) => {
                    (Field::new(c.name, DataType::Boolean, true), Arc::new(BooleanArray::from(v)) as ArrayRef)
                }
            })
            .unzip();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).expect("columns of equal length")
    }

    /// The rows as JSON objects.
    pub fn json_rows(&self) -> Vec<serde_json::Value> {
        (0..self.rows())
            .map(|row| {
                let object: serde_json::Map<String, serde_json::Value> =
                    self.columns.iter().map(|c| (c.name.to_string(), c.json(row))).collect();
                serde_json::Value::Object(object)
            })
            .collect()
    }
}
