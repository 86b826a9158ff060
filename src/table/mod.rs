//! Tables in and out of `midnet`: reading the columns of a CSV or Parquet file, writing result tables,
//! and the sidecar (`NAME.meta.json`) that every table `midnet` writes carries
//! (see `../shared/spec/tables.md`, mirrored in `docs/tables.md`).
//!
//! Reading goes through DuckDB's own CSV and Parquet readers (one way to parse a file across the
//! binary) and hands the columns over as Arrow arrays, so numeric columns reach the statistics as
//! plain `Vec<f64>` without per-row boxing.

mod categories;
mod frame;
mod sidecar;
mod write;

pub use categories::Categories;
pub use frame::{Format, Frame};
pub use sidecar::{
    Binding, ColumnLineage, Lineage, Provenance, Roles, SIDECAR_FORMAT, Sidecar, SidecarColumn, SourceColumn, TableKey,
    TableKind, Trust, seal,
};
pub use write::{CsvTable, float_cell, write_csv, write_csv_new, write_parquet, write_table};

/// A table's columns as text: each column's name and its cells as written (missing values empty).
pub type TextColumns = Vec<(String, Vec<String>)>;
