//! SQL: the layer that turns the query model into SQL for an engine (`generate`, given a
//! [`Dialect`]), and the quoting every piece of SQL goes through: generated SQL through its
//! dialect, the SQL `midnet` runs on its own DuckDB connections through [`duckdb::ident`] and
//! [`duckdb::string`]. The language (`crate::script`) never writes SQL itself.

mod dialect;
mod generate;

pub use dialect::duckdb::{self, DuckDb};
pub use dialect::spark::Spark;
pub use dialect::{Dialect, SortKey, SqlType};
pub use generate::{OutputQuery, Queries, QueryColumn, Steps, generate};
