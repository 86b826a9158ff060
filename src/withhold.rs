//! Messages never quote a value of a project's dataset. A command that reads patient-level data
//! calls [`withhold_values`] first; from then on every message about a cell names its column and
//! row and shows the value as `…` ([`cell`]), and a database error keeps its class alone when its
//! text could quote data ([`db_error`]). What reaches the terminal, a pipe or the audit trail then
//! says what went wrong, never what a person's record holds.

use std::fmt::Display;
use std::sync::atomic::{AtomicBool, Ordering};

static WITHHELD: AtomicBool = AtomicBool::new(false);

/// From now on, in this process, messages withhold the values of cells.
pub fn withhold_values() {
    WITHHELD.store(true, Ordering::Relaxed);
}

pub fn values_withheld() -> bool {
    WITHHELD.load(Ordering::Relaxed)
}

/// A cell's value as a message shows it: as it is, or `…` once values are withheld.
pub fn cell(value: impl Display) -> String {
    if values_withheld() { "…".to_string() } else { value.to_string() }
}

/// A DuckDB error as a message shows it. Errors about the query's own text and names (parser,
/// binder, catalog, permission) keep their text, which quotes only what the user wrote; any other
/// error (a failed cast, `error(…)`, a value out of range) is raised while reading data and may
/// quote a cell, so it keeps its class alone once values are withheld.
pub fn db_error(e: &duckdb::Error) -> String {
    let text = e.to_string();
    let class = text.split_once(": ").map(|(class, _)| class.to_string()).filter(|c| c.ends_with("Error"));
    match class.as_deref() {
        _ if !values_withheld() => text,
        Some("Parser Error" | "Binder Error" | "Catalog Error" | "Permission Error") => text,
        Some(class) => format!("{class} (its message is withheld: it may quote a value of the data)"),
        None => "the database refused it (its message is withheld: it may quote a value of the data)".to_string(),
    }
}
