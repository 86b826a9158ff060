//! `midnet export fix`: rewrite a table so that it passes the checks it can be made to pass:
//! re-band ages, sum over sites (dropping the site columns), and suppress small counts with the
//! complementary cells that keep them from being recomputed. It reports every change, writes the
//! result with a sidecar, and checks the result again. Patient-level files are refused: they need
//! an analysis, not a fix; names in free text and differences between tables are left to the analyst.

mod aggregate;
mod suppress;

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::checks::individual::individual_role;
use super::checks::{CheckOptions, FileKind, check_files, classify};
use super::registry::SiteRegistry;
use super::report::Report;
use super::rules::{Rule, Rules, Stage};
use super::table::{Table, Use};
use crate::bad_input;
use crate::error::{Error, Result};
use crate::table::{ColumnRole, CsvTable, Provenance, SidecarColumn, TableKind, write_csv};

#[derive(Debug, Clone, Default)]
pub struct FixOptions {
    pub rules: Rules,
    pub sites: SiteRegistry,
    pub not_counts: Vec<String>,
}

/// One thing `fix` changed. Rows are rows of the output, from 1.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    pub message: String,
}

impl Change {
    fn table(action: &'static str, message: impl Into<String>) -> Change {
        Change { action, row: None, column: None, message: message.into() }
    }

    fn column(action: &'static str, column: &str, message: impl Into<String>) -> Change {
        Change { action, row: None, column: Some(column.to_string()), message: message.into() }
    }

    /// `row` counts from 0 here and from 1 in the report.
    fn cell(action: &'static str, row: usize, column: &str, message: impl Into<String>) -> Change {
        Change { action, row: Some(row + 1), column: Some(column.to_string()), message: message.into() }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FixReport {
    pub input: PathBuf,
    pub output: PathBuf,
    pub changes: Vec<Change>,
    /// The check of the output (stage publish, the strictest).
    pub check: Report,
}

pub fn fix_file(input: &Path, output: &Path, options: &FixOptions) -> Result<FixReport> {
    if !matches!(classify(input)?, FileKind::Table) {
        return Err(bad_input!("{}: export fix works on tables (CSV or Parquet)", input.display()));
    }
    if !output.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) {
        return Err(bad_input!("--out {}: fix writes a CSV table; give a name ending in .csv", output.display()));
    }
    if output.exists() && std::fs::canonicalize(output).ok() == std::fs::canonicalize(input).ok() {
        return Err(bad_input!("--out {}: is the input; fix never overwrites its input", output.display()));
    }
    let rules = &options.rules;
    let table = Table::read(input, rules, &options.not_counts)?;
    let check_options = CheckOptions {
        stage: Stage::Publish,
        rules: rules.clone(),
        sites: options.sites.clone(),
        not_counts: options.not_counts.clone(),
        ..CheckOptions::default()
    };
    let before = check_files(&[input.to_path_buf()], &check_options)?;
    if let Some(f) = before.files[0].findings.iter().find(|f| f.rule == Rule::PatientLevel) {
        return Err(Error::refused(
            "patient_level",
            format!("{}: {}; export fix cannot make person records exportable", input.display(), f.message),
        ));
    }

    let mut changes = Vec::new();
    let mut table = aggregate::coarsen(table, &options.sites, rules, &mut changes)?;
    suppress::suppress(&mut table, rules, &mut changes)?;
    write(&table, input, output)?;

    let after = CheckOptions { not_counts: Vec::new(), ..check_options };
    let check = check_files(&[output.to_path_buf()], &after)?;
    Ok(FixReport { input: input.to_path_buf(), output: output.to_path_buf(), changes, check })
}

/// Write the fixed table and a sidecar that says what each column is (so the check of the output
/// does not have to guess), keeping the input's kind and project.
fn write(table: &Table, input: &Path, output: &Path) -> Result<()> {
    let mut csv = CsvTable {
        columns: table
            .columns
            .iter()
            .map(|c| SidecarColumn { name: c.name.clone(), role: c.role.unwrap_or_else(|| inferred_role(table, c)) })
            .collect(),
        rows: Vec::new(),
    };
    for row in 0..table.rows {
        csv.push(table.columns.iter().map(|c| c.raw[row].clone()).collect());
    }
    let kind = table.sidecar.as_ref().map_or(TableKind::Statistics, |s| s.kind);
    let mut provenance = Provenance::now(format!("midnet export fix {} --out {}", input.display(), output.display()));
    if let Some(sc) = &table.sidecar {
        provenance.project = sc.provenance.project.clone();
        provenance.inputs = sc.provenance.inputs.clone();
        // What the query grouped and filtered by still holds of the fixed table.
        provenance.lineage = sc.provenance.lineage.clone();
    }
    provenance.inputs.push(input.display().to_string());
    write_csv(output, &csv, kind, provenance)
}

fn inferred_role(table: &Table, col: &super::table::Column) -> ColumnRole {
    if let Some(role) = individual_role(table, col) {
        return role;
    }
    match col.use_ {
        Use::Count => ColumnRole::PersonCount,
        Use::Age => ColumnRole::AgeBand,
        Use::Label => ColumnRole::Label,
        Use::Measure if col.is_additive() => ColumnRole::PersonTime,
        Use::Measure if col.is_share() => ColumnRole::Rate,
        Use::Measure => ColumnRole::Estimate,
    }
}
