//! A column-oriented result table (one row per pair), written as CSV with its sidecar or as JSON.
//! Large tables are formatted in parallel chunks and streamed to disk.

use std::io::Write;
use std::path::Path;

use rayon::prelude::*;

use crate::error::{Error, IoContext, Result};
use crate::table::{float_cell, write_atomically, write_atomically_with, ColumnRole, Provenance, Sidecar, TableKind};

#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    Text(Vec<String>),
    /// Non-finite values (undefined statistics) are written as empty cells and JSON nulls.
    Number(Vec<f64>),
    Flag(Vec<bool>),
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

    pub fn flag(name: &'static str, values: Vec<bool>) -> Column {
        Column { name, role: ColumnRole::Other, values: Values::Flag(values) }
    }

    fn cell(&self, row: usize) -> String {
        match &self.values {
            Values::Text(v) => v[row].clone(),
            Values::Number(v) => float_cell(v[row]),
            Values::Flag(v) => v[row].to_string(),
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

    /// The CSV text of rows `lo..hi`, without a header.
    fn csv_chunk(&self, lo: usize, hi: usize) -> Result<Vec<u8>> {
        let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
        for row in lo..hi {
            w.write_record(self.columns.iter().map(|c| c.cell(row))).map_err(csv_error)?;
        }
        w.into_inner().map_err(|e| Error::Internal(format!("writing CSV: {e}")))
    }

    /// Write the table as CSV (header first) to `out`.
    pub fn write_csv(&self, out: &mut impl Write) -> std::io::Result<()> {
        let header: Vec<&str> = self.columns.iter().map(|c| c.name).collect();
        writeln!(out, "{}", header.join(","))?;
        let chunks: Vec<Result<Vec<u8>>> = (0..self.rows().div_ceil(ROWS_PER_CHUNK))
            .into_par_iter()
            .map(|c| self.csv_chunk(c * ROWS_PER_CHUNK, ((c + 1) * ROWS_PER_CHUNK).min(self.rows())))
            .collect();
        for chunk in chunks {
            out.write_all(&chunk.map_err(|e| std::io::Error::other(e.to_string()))?)?;
        }
        Ok(())
    }

    /// Write the table to `path` (CSV) with its sidecar, sidecar first, each atomically.
    pub fn save(&self, path: &Path, kind: TableKind, provenance: Provenance) -> Result<()> {
        let columns = self
            .columns
            .iter()
            .map(|c| crate::table::SidecarColumn { name: c.name.to_string(), role: c.role })
            .collect();
        let sidecar = Sidecar::new(kind, columns, provenance);
        write_atomically(&Sidecar::path_for(path), sidecar.to_json().as_bytes())?;
        write_atomically_with(path, |file| self.write_csv(file)).at(path)
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

fn csv_error(e: csv::Error) -> Error {
    Error::Internal(format!("writing CSV: {e}"))
}
