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
    ColumnLineage, ColumnRole, Lineage, Provenance, SIDECAR_FORMAT, Sidecar, SidecarColumn, SourceColumn, TableKind,
};
pub use write::{CsvTable, float_cell, write_atomically, write_atomically_with, write_csv, write_parquet};
