//! How the statistics commands hand results over: a text table for people, JSON for programs, and
//! a table (CSV or Parquet) with its sidecar for the project's work area and the export gate.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use serde::Serialize;

use crate::cli::io::Destination;
use crate::cli::stats::input::Resolved;
use crate::error::Result;
use crate::schema::ColumnRole;
use crate::table::{CsvTable, TableKind};

#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Print the result as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also write the result table to this file (.csv or .parquet), with its sidecar NAME.meta.json.
    /// With --project, a name inside the project's work/ (default: stats/COMMAND-DATASET.csv).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

impl OutputArgs {
    /// Refuse a bad `--out` before any work is done.
    pub fn check(&self) -> Result<()> {
        Destination::check_out(self.out.as_deref())
    }

    /// Where the result table goes: `--out` for a file input (if given); for a project dataset,
    /// `--out` or `stats/COMMAND-DATASET.csv` inside the project's `work/`, refused before any
    /// work is done when it exists (unless `--replace`) or leaves `work/`.
    pub fn target<'a>(&self, input: &Resolved<'a>, command: &str) -> Result<Option<Destination<'a>>> {
        match input.project {
            None => Destination::file(self.out.as_deref(), vec![input.name.clone()]),
            Some(project) => {
                let default = format!("stats/{command}-{}.csv", project.label);
                Destination::project(project, self.out.as_deref(), default).map(Some)
            }
        }
    }

    /// Print `value` as JSON, or `text` for people.
    pub fn print(&self, value: &impl Serialize, text: &str) {
        if self.json {
            println!("{}", serde_json::to_string_pretty(value).expect("results serialise"));
        } else {
            print!("{text}");
        }
    }
}

/// Writes a command's tables, with the parameters it was run with in their provenance.
pub struct Writer {
    pub params: Vec<(&'static str, String)>,
    pub quiet: bool,
}

impl Writer {
    pub fn write(&self, to: &Destination, table: &CsvTable, kind: TableKind) -> Result<()> {
        to.write(table, kind, self.params.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())?;
        if !self.quiet {
            eprintln!("wrote {} ({} rows) and its sidecar", to.shown(), table.rows.len());
        }
        Ok(())
    }
}

/// The split of a command's time between reading the input and computing, on stderr.
pub fn timing(quiet: bool, rows: usize, read: Duration, computed: Duration) {
    if !quiet {
        eprintln!("read {rows} rows in {:.3} s, computed in {:.3} s", read.as_secs_f64(), computed.as_secs_f64());
    }
}

/// The sidecar role of a grouping column, from its name: the export gate checks age bands, sex
/// and sites by role, so the well-known names get theirs; anything else is a label.
pub fn grouping_role(column: &str) -> ColumnRole {
    match column.to_ascii_lowercase().as_str() {
        "age_band" | "ageband" | "age_group" => ColumnRole::AgeBand,
        "sex" | "gender" => ColumnRole::Sex,
        "site" | "site_id" | "site_pseudonym" | "hospital" => ColumnRole::Site,
        _ => ColumnRole::Label,
    }
}

/// A number for people: four significant digits, `NA` when undefined.
pub fn human(v: f64) -> String {
    if v.is_nan() {
        return "NA".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".to_string() } else { "-inf".to_string() };
    }
    let magnitude = v.abs();
    if v.fract() == 0.0 && magnitude < 1e7 {
        return format!("{v:.0}");
    }
    if (1e-3..1e7).contains(&magnitude) {
        let decimals = (3 - magnitude.log10().floor() as i32).clamp(0, 6) as usize;
        format!("{v:.decimals$}")
    } else {
        format!("{v:.3e}")
    }
}

/// A p-value for people.
pub fn human_p(p: f64) -> String {
    if p == 0.0 {
        "<1e-300".to_string() // below the smallest normal double: the Wald z is enormous
    } else if p < 1e-4 {
        format!("{p:.2e}")
    } else {
        format!("{p:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_numbers() {
        assert_eq!(human(0.857142857), "0.8571");
        assert_eq!(human(123.456), "123.5");
        assert_eq!(human(12345.0), "12345");
        assert_eq!(human(0.0), "0");
        assert_eq!(human(f64::NAN), "NA");
        assert_eq!(human(2.5e-5), "2.500e-5");
    }
}
