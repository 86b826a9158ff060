//! How the statistics commands hand results over: a text table for people, JSON for programs, and
//! a CSV table with its sidecar for the project's work area and the export gate.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use serde::Serialize;

use crate::bad_input;
use crate::cli::stats::input::Resolved;
use crate::error::Result;
use crate::schema::ColumnRole;
use crate::table::{CsvTable, Provenance, TableKind, write_csv};

#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Print the result as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also write the result table to this CSV file, with its sidecar NAME.meta.json. With
    /// --project, a name inside the project's work/ (default: stats/COMMAND-DATASET.csv).
    #[arg(long, value_name = "FILE.csv")]
    pub out: Option<PathBuf>,
}

impl OutputArgs {
    /// Refuse a bad `--out` before any work is done.
    pub fn check(&self) -> Result<()> {
        match &self.out {
            Some(path)
                if path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() != Some("csv") =>
            {
                Err(bad_input!("{}: `--out` writes a CSV table; give a file name ending in .csv", path.display()))
            }
            _ => Ok(()),
        }
    }

    /// Where the result table goes: `--out` for a file input (if given); for a project dataset,
    /// `--out` or `stats/COMMAND-DATASET.csv` inside the project's `work/`, refused before any
    /// work is done when it exists (unless `--replace`) or leaves `work/`.
    pub fn target(&self, input: &Resolved, command: &str) -> Result<Option<PathBuf>> {
        match input.project {
            None => Ok(self.out.clone()),
            Some(project) => {
                let name = match &self.out {
                    Some(out) => out.to_string_lossy().into_owned(),
                    None => format!("stats/{command}-{}.csv", project.label),
                };
                project.result_path(&name).map(Some)
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

/// Where the commands write tables, and what they record about how each was made.
pub struct Writer<'a> {
    pub input: &'a Resolved<'a>,
    pub params: Vec<(&'static str, String)>,
    pub quiet: bool,
}

impl Writer<'_> {
    /// Write `table` to `path` with its sidecar; into a project, also record both in the audit
    /// trail.
    pub fn write(&self, path: &Path, table: &CsvTable, kind: TableKind) -> Result<()> {
        let mut provenance = match self.input.project {
            Some(project) => {
                project.ensure_new(path)?;
                project.provenance(command_line())
            }
            None => {
                let mut provenance = Provenance::now(command_line());
                provenance.inputs.push(self.input.name.clone());
                provenance
            }
        };
        provenance.params = self.params.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        write_csv(path, table, kind, provenance)?;
        let shown = match self.input.project {
            Some(project) => {
                project.record(path)?;
                project.shown(path)
            }
            None => path,
        };
        if !self.quiet {
            eprintln!("wrote {} ({} rows) and its sidecar", shown.display(), table.rows.len());
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

/// `dir/STEM-suffix.csv` beside `dir/STEM.csv`: a second table of the same command.
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!("{stem}-{suffix}.csv"))
}

/// The command line that made a table, for its provenance.
fn command_line() -> String {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .map(|a| {
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "'\"$`\\".contains(c)) {
                format!("'{}'", a.replace('\'', "'\\''"))
            } else {
                a
            }
        })
        .collect();
    format!("midnet {}", args.join(" "))
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

/// Columns aligned for a terminal: text left, everything else right.
pub fn text_table(header: &[&str], rows: &[Vec<String>], text_columns: usize) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, &w))| if i < text_columns { format!("{c:<w$}") } else { format!("{c:>w$}") })
            .collect();
        let _ = writeln!(out, "{}", parts.join("  ").trim_end());
    };
    line(header.to_vec(), &mut out);
    for row in rows {
        line(row.iter().map(String::as_str).collect(), &mut out);
    }
    out
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

    #[test]
    fn aligned_table() {
        let t = text_table(&["g", "n"], &[vec!["a".into(), "10".into()], vec!["bb".into(), "2".into()]], 1);
        assert_eq!(t, "g    n\na   10\nbb   2\n");
    }
}
