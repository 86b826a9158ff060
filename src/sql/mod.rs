//! SQL: the layer that turns the query model into DuckDB SQL, and the quoting every piece of
//! generated SQL goes through. The language (`crate::script`) never writes SQL itself.

pub mod dialect;
mod generate;
pub mod quote;

pub use generate::{OutputQuery, Queries, QueryColumn, generate, generate_for, sql_type};
