//! Running every rule over a set of files: [`check_files`], the library entry point that
//! `midnet export check` and the request/review flow call.

mod age_band;
mod differencing;
mod file_type;
pub(crate) mod individual;
pub(crate) mod patient_level;
pub(crate) mod site;
mod small_cell;
pub(crate) mod suppression;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use differencing::Operand;
pub use file_type::{FileKind, classify};

use super::findings::{FileReport, Place, Raw, Report, SidecarNote, Skipped};
use super::persons::Persons;
use super::registry::HospitalNames;
use super::rules::{Rule, Rules, Stage, Verdict};
use super::table::Table;
use crate::bad_input;
use crate::error::{IoContext, Result};
use crate::table::{Sidecar, TableKey, Trust};

/// What a check needs besides the files.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    pub stage: Stage,
    pub rules: Rules,
    /// The hospitals that must not be named or broken down by (empty: `site_name` is skipped and
    /// `site_breakdown` looks only at roles, names and site-like labels).
    pub sites: HospitalNames,
    /// Columns the requester declares are not counts (for tables whose sidecar does not say).
    pub not_counts: Vec<String>,
    /// Tables already released: further operands of the differencing check, never reported on.
    pub released: Vec<PathBuf>,
    /// Inside a project, the home's table key: a sidecar is believed only when midnet sealed it
    /// for exactly its table. None for plain files, whose sidecars are read as declared.
    pub table_key: Option<TableKey>,
    /// Inside a project, its datasets' persons: what `patient_level` looks for by content. None for
    /// plain files (the report says those checks were not made).
    pub persons: Option<Arc<Persons>>,
    /// Inside a project: what its datasets say about sites (for `site_breakdown` by lineage and by
    /// content); empty outside one.
    pub project_sites: site::ProjectSites,
}

/// One file under check, as the check goes along.
struct Entry {
    path: PathBuf,
    kind: FileKind,
    added_for_figure: bool,
    table: Option<Table>,
    /// For a table, what may be believed of its sidecar.
    trust: Option<Trust>,
    findings: Vec<Raw>,
}

/// Check every file and report per-file verdicts. A figure is checked together with the table
/// behind it (added to the report when not listed). Files that cannot be read at all, unknown
/// sidecar versions and empty tables are errors (`BadInput`/`NotFound`), not findings: the
/// requester fixes them before anyone reviews.
pub fn check_files(paths: &[PathBuf], options: &CheckOptions) -> Result<Report> {
    if paths.is_empty() {
        return Err(bad_input!("no files to check; name the tables and figures to export"));
    }
    let mut entries: Vec<Entry> = Vec::new();
    for path in paths {
        add_entry(&mut entries, path, false)?;
    }
    let figure_tables: Vec<PathBuf> = entries
        .iter()
        .filter_map(|e| match &e.kind {
            FileKind::Figure { data: Some(d), .. } => Some(d.clone()),
            _ => None,
        })
        .collect();
    for data in figure_tables {
        add_entry(&mut entries, &data, true)?;
    }

    let rules = &options.rules;
    for entry in &mut entries {
        match &entry.kind {
            FileKind::Table => {
                let trust = Sidecar::trust(&entry.path, options.table_key.as_ref())?;
                let table = Table::read(&entry.path, &trust, rules, &options.not_counts)?;
                entry.findings = check_table(&table, &trust, options)?;
                entry.table = Some(table);
                entry.trust = Some(trust);
            }
            FileKind::Text(text) => entry.findings = check_text(text, options),
            FileKind::Figure { data, text } => {
                if data.is_none() {
                    entry.findings.push(Raw::new(
                        Rule::FileType,
                        Place::file(),
                        "a figure leaves only with the table behind it: put the data it was drawn from beside it \
                         under the same name (fig.png → fig.csv, with its sidecar of kind figure_data)",
                    ));
                }
                if let Some(text) = text {
                    entry.findings.extend(site::names_in_text(text, &options.sites));
                }
            }
            FileKind::Refused(why) => entry.findings.push(Raw::new(Rule::FileType, Place::file(), why.clone())),
        }
    }

    let released = options
        .released
        .iter()
        .map(|p| {
            let trust = Sidecar::trust(p, options.table_key.as_ref())?;
            Table::read(p, &trust, rules, &options.not_counts)
        })
        .collect::<Result<Vec<_>>>()?;
    check_declared_columns(&entries, &released, &options.not_counts)?;
    let with_tables: Vec<usize> = (0..entries.len()).filter(|&i| entries[i].table.is_some()).collect();
    let operands: Vec<Operand> = with_tables
        .iter()
        .map(|&i| Operand { table: entries[i].table.as_ref().expect("filtered"), checked: true })
        .chain(released.iter().map(|table| Operand { table, checked: false }))
        .collect();
    let found = differencing::check(&operands, rules);
    for (&i, raws) in with_tables.iter().zip(found) {
        entries[i].findings.extend(raws);
    }

    Ok(report(entries, options))
}

fn add_entry(entries: &mut Vec<Entry>, path: &Path, added_for_figure: bool) -> Result<()> {
    if entries.iter().any(|e| same_file(&e.path, path)) {
        return Ok(());
    }
    let kind = classify(path)?;
    entries.push(Entry {
        path: path.to_path_buf(),
        kind,
        added_for_figure,
        table: None,
        trust: None,
        findings: Vec::new(),
    });
    Ok(())
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// The checks of one table. A patient-level file gets that finding alone: the rest would be noise.
fn check_table(table: &Table, trust: &Trust, options: &CheckOptions) -> Result<Vec<Raw>> {
    let rules = &options.rules;
    let patient_level = patient_level::check(table, trust, rules, options.persons.as_deref());
    if !patient_level.is_empty() {
        return Ok(patient_level);
    }
    let sidecar_path = Sidecar::path_for(&table.path);
    let sidecar_text = match trust {
        Trust::Absent => None,
        _ => Some(std::fs::read_to_string(&sidecar_path).at(&sidecar_path)?),
    };
    let mut out = small_cell::check(table, rules);
    out.extend(suppression::check(table, rules));
    out.extend(age_band::check(table, rules));
    out.extend(individual::check(table, rules));
    out.extend(site::breakdown(table, &options.sites, &options.project_sites, rules));
    out.extend(site::names(table, &options.sites, sidecar_text.as_deref()));
    Ok(out)
}

/// The checks of a plain text (a `.txt` or `.md` file, a program, the work log): hospital names,
/// and inside a project person ids and lines of one person's values.
pub(crate) fn check_text(text: &str, options: &CheckOptions) -> Vec<Raw> {
    let mut out = site::names_in_text(text, &options.sites);
    if let Some(persons) = &options.persons {
        out.extend(patient_level::in_text(text, persons));
    }
    out
}

/// A column declared not to be a count must exist somewhere: a typo would silently leave it counted.
fn check_declared_columns(entries: &[Entry], released: &[Table], declared: &[String]) -> Result<()> {
    let tables: Vec<&Table> = entries.iter().filter_map(|e| e.table.as_ref()).chain(released).collect();
    for name in declared {
        if !tables.iter().any(|t| t.column(name).is_some()) {
            let columns: Vec<&str> = tables.iter().flat_map(|t| t.columns.iter().map(|c| c.name.as_str())).collect();
            return Err(bad_input!(
                "--not-counts names a column `{name}` that no table checked has; the columns are: {}",
                columns.join(", ")
            ));
        }
    }
    Ok(())
}

fn report(entries: Vec<Entry>, options: &CheckOptions) -> Report {
    let stage = options.stage;
    let mut files: Vec<FileReport> = entries
        .iter()
        .map(|e| {
            let mut findings: Vec<_> = e.findings.iter().cloned().map(|r| r.at_stage(stage)).collect();
            findings.sort_by_key(|f| (f.row, f.rule));
            FileReport {
                path: e.path.clone(),
                verdict: findings.iter().map(|f| f.verdict).max().unwrap_or(Verdict::Pass),
                data_table: match &e.kind {
                    FileKind::Figure { data, .. } => data.clone(),
                    _ => None,
                },
                added_for_figure: e.added_for_figure,
                sidecar: e.trust.as_ref().map(SidecarNote::of),
                findings,
            }
        })
        .collect();
    // A figure is no better than the table behind it.
    let verdict_of = |p: &Path, files: &[FileReport]| files.iter().find(|f| same_file(&f.path, p)).map(|f| f.verdict);
    for i in 0..files.len() {
        if let Some(data) = files[i].data_table.clone()
            && let Some(v) = verdict_of(&data, &files)
        {
            files[i].verdict = files[i].verdict.max(v);
        }
    }
    let mut skipped = Vec::new();
    if !options.sites.has_names() {
        skipped.push(Skipped {
            rule: Rule::SiteName,
            reason:
                "no site registry: give --registry sites.toml (inside a project the data center's registry is used)"
                    .into(),
        });
    }
    if options.persons.is_none() {
        skipped.push(Skipped {
            rule: Rule::PatientLevel,
            reason: "in part: outside a project there are no datasets to compare the files with, so person ids, \
                     rows of one person's values and rows per person are looked for only by `export check --project`; \
                     sidecars are read as declared"
                .into(),
        });
    }
    Report { stage, verdict: files.iter().map(|f| f.verdict).max().unwrap_or(Verdict::Pass), files, skipped }
}
