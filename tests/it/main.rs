//! The one integration-test binary (each test binary links all of DuckDB, so there is only one).
//! Every test runs the real `midnet` binary against real files and DuckDB databases in a
//! temporary directory.

mod common;
mod reference;
mod script;
mod site;
