//! `midnet export fix`: rewrite a table so that it passes the checks it can be made to pass:
//! re-band ages, sum over sites (dropping the site columns), and suppress small counts with the
//! complementary cells that keep them from being recomputed. It reports every change, writes the
//! result with a sidecar, and checks the result again. Patient-level files are refused: they need
//! an analysis, not a fix; names in free text and differences between tables are left to the analyst.
//!
//! Two forms: inside a project ([`fix_work`]: the analyst's, audited, from `work/` into `work/`,
//! with the project's checks and a sealed sidecar), and by path ([`fix_file`]: files outside the
//! data center, never a path inside a home, never over an existing file).

mod aggregate;
mod suppress;

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::checks::individual::individual_role;
use super::checks::{CheckOptions, FileKind, check_files, classify};
use super::findings::Report;
use super::gate::{self, Context};
use super::registry::HospitalNames;
use super::rules::{Rule, Rules, Stage};
use super::table::{Table, Use};
use crate::audit::Direction;
use crate::bad_input;
use crate::center::Actor;
use crate::error::{Error, Result};
use crate::project::{Area, Role};
use crate::schema::ColumnRole;
use crate::table::{
    CsvTable, Provenance, Roles, Sidecar, SidecarColumn, TableKind, Trust, seal, write_csv, write_csv_new,
};

#[derive(Debug, Clone, Default)]
pub struct FixOptions {
    pub rules: Rules,
    pub sites: HospitalNames,
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

/// `midnet export fix FILE --out PATH`: fix a table outside the data center. Refused (rule `path`)
/// when the input or the output lies inside a midnet home (symbolic links resolved): inside a
/// project the analyst uses [`fix_work`]. Never writes over an existing file (nor its sidecar).
pub fn fix_file(input: &Path, output: &Path, options: &FixOptions) -> Result<FixReport> {
    refuse_home(input, "the table to fix")?;
    refuse_home(output, "--out")?;
    require_csv_name(output)?;
    if output.exists() && std::fs::canonicalize(output).ok() == std::fs::canonicalize(input).ok() {
        return Err(bad_input!("--out {}: is the input; fix never overwrites its input", output.display()));
    }
    for path in [output.to_path_buf(), Sidecar::path_for(output)] {
        if path.symlink_metadata().is_ok() {
            return Err(bad_input!(
                "--out {}: {} exists already; export fix never writes over a file: give a new name",
                output.display(),
                path.display()
            ));
        }
    }
    let check = CheckOptions {
        stage: Stage::Publish,
        rules: options.rules.clone(),
        sites: options.sites.clone(),
        not_counts: options.not_counts.clone(),
        ..CheckOptions::default()
    };
    let trust = Sidecar::trust(input, None)?;
    let (table, changes) = fix_table(input, &trust, &check)?;
    let (kind, provenance) = output_provenance(&table, &input.display().to_string(), &output.display().to_string());
    write_csv_new(output, &fixed_csv(&table), kind, provenance)?;
    let after = CheckOptions { not_counts: Vec::new(), ..check };
    let check = check_files(&[output.to_path_buf()], &after)?;
    Ok(FixReport { input: input.to_path_buf(), output: output.to_path_buf(), changes, check })
}

/// What an analyst asks `export fix --project` to do.
#[derive(Debug, Clone, Default)]
pub struct WorkFix {
    pub project: String,
    /// The table, named as in `work/`.
    pub file: String,
    /// The fixed table's name in `work/` (default: `NAME-fixed.csv` beside the input).
    pub out: Option<String>,
    /// Write over an existing file of that name.
    pub replace: bool,
    pub not_counts: Vec<String>,
}

/// `midnet export fix --project ID FILE` (analyst): fix a table of the project's `work/` into
/// `work/`, with the checks of the project (its datasets, registry, rules, sealed sidecars). A file
/// brought in with `work import` is refused (rule `imported`); the result gets a sealed sidecar and
/// both files are audited. Reports name files as they are named in `work/`.
pub fn fix_work(actor: &Actor, spec: &WorkFix) -> Result<FixReport> {
    let project = actor.open_project(&spec.project, &[Role::Analyst])?;
    let work = project.layout().area(Area::Work);
    let input = project.resolve(Area::Work, &spec.file)?;
    if !input.is_file() {
        return Err(Error::NotFound(format!("no file {} in project {}'s work/ area", spec.file, project.id())));
    }
    let name_of = |path: &Path| path.strip_prefix(&work).unwrap_or(path).to_path_buf();
    let input_name = name_of(&input).display().to_string();
    let records = actor.home().audit().records()?;
    gate::refuse_imported(&project, std::slice::from_ref(&input_name), &gate::imported(&records, project.id()))?;
    let out = spec.out.clone().unwrap_or_else(|| {
        let stem = Path::new(&input_name).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        Path::new(&input_name).with_file_name(format!("{stem}-fixed.csv")).display().to_string()
    });
    let output = project.resolve(Area::Work, &out)?;
    require_csv_name(&output)?;
    if output == input {
        return Err(bad_input!("--out {out}: is the input; fix never writes over its input"));
    }
    if output.exists() && !spec.replace {
        return Err(bad_input!(
            "project {}: work/{out} exists already; give another name with --out NAME, or --replace to write over it",
            project.id()
        ));
    }
    let context = Context::of(actor, &project)?;
    let check = context.options(Stage::Publish, &spec.not_counts, Vec::new());
    let trust = Sidecar::trust(&input, Some(&context.table_key))?;
    let (table, changes) = fix_table(&input, &trust, &check)?;
    let (kind, mut provenance) = output_provenance(&table, &input_name, &out);
    provenance.project = Some(project.id().to_string());
    if let Some(dir) = output.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    write_csv(&output, &fixed_csv(&table), kind, provenance)?;
    let roles = if trust.roles().is_some() { Roles::Declared } else { Roles::Inferred };
    let sha = seal(&output, &context.table_key, roles)?;
    project.record_file(actor, &output, &sha, Direction::In)?;
    let sidecar = Sidecar::path_for(&output);
    project.record_file(actor, &sidecar, &crate::digest::sha256_file(&sidecar)?, Direction::In)?;
    let after = CheckOptions { not_counts: Vec::new(), ..check };
    let mut report = check_files(std::slice::from_ref(&output), &after)?;
    for file in &mut report.files {
        file.path = name_of(&file.path);
    }
    Ok(FixReport { input: PathBuf::from(input_name), output: PathBuf::from(out), changes, check: report })
}

/// The fixed table and every change made: refused for a file that is not a table, and for
/// patient-level input (by the same checks as `export check` with `check`'s options).
fn fix_table(input: &Path, trust: &Trust, check: &CheckOptions) -> Result<(Table, Vec<Change>)> {
    if !matches!(classify(input)?, FileKind::Table) {
        return Err(bad_input!("{}: export fix works on tables (CSV or Parquet)", input.display()));
    }
    let rules = &check.rules;
    let table = Table::read(input, trust, rules, &check.not_counts)?;
    let before = check_files(&[input.to_path_buf()], check)?;
    if let Some(f) = before.files[0].findings.iter().find(|f| f.rule == Rule::PatientLevel) {
        return Err(Error::refused(
            "patient_level",
            format!("{}: {}; export fix cannot make person records exportable", input.display(), f.message),
        ));
    }
    let mut changes = Vec::new();
    let mut table = aggregate::coarsen(table, &check.sites, rules, &mut changes)?;
    suppress::suppress(&mut table, rules, &mut changes)?;
    Ok((table, changes))
}

fn require_csv_name(output: &Path) -> Result<()> {
    if output.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) {
        Ok(())
    } else {
        Err(bad_input!("--out {}: fix writes a CSV table; give a name ending in .csv", output.display()))
    }
}

/// Refuse (rule `path`) a path inside a midnet home: a directory holding `center.toml` at or
/// above it, symbolic links resolved (for a file not yet written, its directory's). Under the
/// deployment of docs/projects.md the home's permissions keep its files from the user anyway;
/// this says so plainly, and holds when midnet runs with the home's rights.
fn refuse_home(path: &Path, what: &str) -> Result<()> {
    let resolved = match std::fs::canonicalize(path) {
        Ok(p) => p,
        Err(_) => {
            let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            std::fs::canonicalize(parent)
                .map_err(|e| bad_input!("{what} {}: its directory cannot be reached ({e})", path.display()))?
        }
    };
    if let Some(home) = resolved.ancestors().find(|dir| dir.join(crate::center::SETTINGS_FILE).is_file()) {
        return Err(Error::refused(
            "path",
            format!(
                "{what} {} is inside a midnet home ({}): export fix by path works on files outside the data center; \
                 inside a project use `midnet export fix --project ID FILE`",
                path.display(),
                home.display()
            ),
        ));
    }
    Ok(())
}

/// The fixed table as CSV, each column with its role (so that the check of the output does not
/// have to guess).
fn fixed_csv(table: &Table) -> CsvTable {
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
    csv
}

/// The kind and provenance of a fixed table: the input's kind and project kept (from a sidecar
/// the gate believes), the input named.
fn output_provenance(table: &Table, input: &str, output: &str) -> (TableKind, Provenance) {
    let kind = table.sidecar.as_ref().map_or(TableKind::Statistics, |s| s.kind);
    let mut provenance = Provenance::now(format!("midnet export fix {input} --out {output}"));
    if let Some(sc) = &table.sidecar {
        provenance.project = sc.provenance.project.clone();
        provenance.inputs = sc.provenance.inputs.clone();
    }
    // What the query grouped and filtered by still holds of the fixed table.
    provenance.lineage = table.lineage.clone();
    provenance.inputs.push(input.to_string());
    (kind, provenance)
}

/// The roles the gate gives the columns of a table it knows nothing about, from their content
/// (what `work sql --out` writes into its sidecar, sealed as guessed).
pub fn roles_by_content(columns: crate::table::TextColumns, rows: usize) -> Vec<SidecarColumn> {
    let table = Table::from_columns(Path::new(""), None, None, columns, rows, &Rules::default(), &[]);
    table.columns.iter().map(|c| SidecarColumn { name: c.name.clone(), role: inferred_role(&table, c) }).collect()
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
