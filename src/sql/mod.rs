//! SQL: the layer that turns the query model into DuckDB SQL, and the quoting every piece of
//! generated SQL goes through.

pub mod quote;
