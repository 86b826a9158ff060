//! Where a site's clinical rows are counted: the engine-neutral reader under `site check` and the
//! quality history, with the DuckDB database as one implementation (`site::spark::check` is the
//! other). Below both users, so that the report and the history each ask it, not each other.

use crate::error::Result;
use crate::sql::{Dialect, DuckDb};

/// Where a report counts a site's clinical rows: the site's DuckDB database, or a Spark site's
/// server (`site::spark::check`). Each engine supplies its SQL dialect and runs the queries; what
/// is asked, and how the answers make the report, is written once, in `site::check` and `site::quality`.
pub trait ClinicalRows {
    fn dialect(&self) -> &dyn Dialect;
    /// An aggregate the generator's dialect has no piece for: the group's distinct values of the
    /// text `expr` in ascending order, joined by `separator`.
    fn distinct_sorted_list(&self, expr: &str, separator: &str) -> String;
    /// Run `sql` (over the clinical tables and the masters, by name) and read its rows with `row`.
    fn query<T>(&mut self, sql: &str, row: impl FnMut(&duckdb::Row) -> duckdb::Result<T>) -> Result<Vec<T>>;
}

/// A DuckDB database whose tables hold the clinical rows.
pub struct Database<'a>(pub &'a duckdb::Connection);

impl ClinicalRows for Database<'_> {
    fn dialect(&self) -> &dyn Dialect {
        &DuckDb
    }

    fn distinct_sorted_list(&self, expr: &str, separator: &str) -> String {
        format!("string_agg(DISTINCT {expr}, {} ORDER BY {expr})", DuckDb.string(separator))
    }

    fn query<T>(&mut self, sql: &str, row: impl FnMut(&duckdb::Row) -> duckdb::Result<T>) -> Result<Vec<T>> {
        Ok(self.0.prepare(sql)?.query_map([], row)?.collect::<std::result::Result<_, _>>()?)
    }
}
