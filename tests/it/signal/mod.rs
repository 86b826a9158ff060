//! `midnet signal`: every disproportionality and MGPS row of the shared reference values, the SSA
//! reference values of `scripts/reference_ssa.py`, the input shapes, bad input, and screening.

mod inputs;
mod properties;
mod reference;
mod screen;
mod ssa;

use std::collections::HashMap;
use std::path::Path;

use crate::common::{Run, midnet};

/// A table read back from a CSV the binary wrote: column name → cells, in row order.
pub struct Csv {
    pub columns: HashMap<String, Vec<String>>,
    pub rows: usize,
}

impl Csv {
    pub fn read(path: &Path) -> Csv {
        Csv::parse(&std::fs::read_to_string(path).unwrap())
    }

    pub fn parse(text: &str) -> Csv {
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let names: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
        let mut columns: HashMap<String, Vec<String>> = names.iter().map(|n| (n.clone(), Vec::new())).collect();
        let mut rows = 0;
        for record in reader.records() {
            let record = record.unwrap();
            for (name, cell) in names.iter().zip(record.iter()) {
                columns.get_mut(name).unwrap().push(cell.to_string());
            }
            rows += 1;
        }
        Csv { columns, rows }
    }

    pub fn text(&self, column: &str, row: usize) -> &str {
        &self.columns.get(column).unwrap_or_else(|| panic!("no column {column}"))[row]
    }

    pub fn number(&self, column: &str, row: usize) -> f64 {
        let cell = self.text(column, row);
        if cell.is_empty() { f64::NAN } else { cell.parse().unwrap_or_else(|_| panic!("{column}: `{cell}`")) }
    }

    /// The row whose drug and event are these.
    pub fn row_of(&self, drug: &str, event: &str) -> usize {
        (0..self.rows)
            .find(|&r| self.text("drug", r) == drug && self.text("event", r) == event)
            .unwrap_or_else(|| panic!("no row {drug} / {event}"))
    }
}

/// Run `midnet signal ARGS` in `dir`, expecting success, and parse stdout as JSON.
pub fn signal_json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["signal"];
    all.extend_from_slice(args);
    all.push("--json");
    midnet(dir, &all).ok().json()
}

/// Run `midnet signal ARGS`.
pub fn signal(dir: &Path, args: &[&str]) -> Run {
    let mut all = vec!["signal"];
    all.extend_from_slice(args);
    midnet(dir, &all)
}

#[track_caller]
pub fn assert_rel(got: f64, want: f64, rel: f64, what: &str) {
    assert!(
        (got - want).abs() <= rel * want.abs() || (got == want),
        "{what}: got {got}, want {want} (relative tolerance {rel}, off by {:e})",
        ((got - want) / want).abs()
    );
}

#[track_caller]
pub fn assert_abs(got: f64, want: f64, abs: f64, what: &str) {
    assert!((got - want).abs() <= abs, "{what}: got {got}, want {want} (absolute tolerance {abs})");
}
