//! The export gate inside a project: where it keeps its records, what a check inside a project
//! uses (the home's rules and site registry, the project's pseudonyms), and the few file
//! operations every step of the gate shares (copies verified by SHA-256, violations audited).
//!
//! ```text
//! HOME/areas/ID/
//!   review/REQ/                 an export request's files, copied from work/ (the gate alone writes here)
//!     files/NAME                the statistics as named in work/, their sidecars, the tables behind figures
//!     programs/NAME             the programs that produced them
//!     worklog.txt               the project's commands from the audit trail
//!   released/REQ/…              the same files once approved (the gate alone writes here)
//!   export/requests/REQ.json    each request: files with SHA-256, findings, exceptions, decision
//!   export/ledger.jsonl         the release ledger: every released file and its whereabouts
//!   export/follow-up.json       signal refinement: the follow-up study that allows publication
//! ```
//!
//! Termination deletes `work/` and `review/` and keeps `released/` and `export/`, so the ledger
//! and the record of every request outlive the work files.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::checks::site::ProjectSites;
use super::checks::{CheckOptions, check_files};
use super::persons::Persons;
use super::{HospitalNames, Report, Rule, Rules};
use crate::audit::{Outcome, Record};
use crate::center::Actor;
use crate::error::{Error, IoContext, Result};
use crate::project::{Layout, Project};
use crate::store;
use crate::table::TableKey;

/// The gate's records of a project: `export/`.
pub fn records_dir(layout: &Layout) -> PathBuf {
    layout.root().join("export")
}

pub fn requests_dir(layout: &Layout) -> PathBuf {
    records_dir(layout).join("requests")
}

pub fn ledger_path(layout: &Layout) -> PathBuf {
    records_dir(layout).join("ledger.jsonl")
}

pub fn follow_up_path(layout: &Layout) -> PathBuf {
    records_dir(layout).join("follow-up.json")
}

/// Create `export/requests/` (owner-only) the first time the gate writes in a project.
pub fn ensure_records(layout: &Layout) -> Result<()> {
    for dir in [records_dir(layout), requests_dir(layout)] {
        if !dir.is_dir() {
            store::create_private_dir(&dir)?;
        }
    }
    Ok(())
}

/// What the checks inside a project use: the home's rules (its `export-rules.toml`, or the
/// guideline's), the home's site registry with the project's pseudonyms, the home's table key (a
/// sidecar is believed only when midnet sealed it) and the persons of the project's datasets.
pub struct Context {
    pub rules: Rules,
    pub sites: HospitalNames,
    pub table_key: TableKey,
    pub persons: Arc<Persons>,
    /// What the project's datasets say about sites (columns that identify one, rows per site).
    pub project_sites: ProjectSites,
}

impl Context {
    pub fn of(actor: &Actor, project: &Project) -> Result<Context> {
        let home = actor.home();
        let rules = Rules::of_home(home.root())?;
        let sites = HospitalNames::of_sites(
            &crate::center::sites::registered(home)?,
            &format!("the site registry of {}", home.root().display()),
        )?
        .with_pseudonyms(project.pseudonyms().values().cloned());
        let table_key = TableKey::of_home(home.root())?;
        let persons = Arc::new(Persons::of_project(project.layout())?);
        let db = project.layout().db();
        let project_sites =
            if db.is_file() { ProjectSites::of_database(&db, rules.min_count)? } else { ProjectSites::default() };
        Ok(Context { rules, sites, table_key, persons, project_sites })
    }

    /// The options of a check inside the project.
    pub fn options(&self, stage: super::Stage, not_counts: &[String], operands: Vec<PathBuf>) -> CheckOptions {
        CheckOptions {
            stage,
            rules: self.rules.clone(),
            sites: self.sites.clone(),
            not_counts: not_counts.to_vec(),
            released: operands,
            table_key: Some(self.table_key.clone()),
            persons: Some(self.persons.clone()),
            project_sites: self.project_sites.clone(),
        }
    }

    /// Check the files `names` under `root` and report each by its name (its path under
    /// `root`), so that reports speak of `work/` or `released/` names, not paths inside the home.
    pub fn check(
        &self,
        root: &Path,
        names: &[String],
        stage: super::Stage,
        not_counts: &[String],
        operands: Vec<PathBuf>,
    ) -> Result<Report> {
        let options = self.options(stage, not_counts, operands);
        let paths: Vec<PathBuf> = names.iter().map(|n| root.join(n)).collect();
        let mut report = check_files(&paths, &options)?;
        let name_of = |path: &Path| path.strip_prefix(root).unwrap_or(path).to_path_buf();
        for file in &mut report.files {
            file.path = name_of(&file.path);
            file.data_table = file.data_table.as_deref().map(name_of);
        }
        for skipped in report.skipped.iter_mut().filter(|s| s.rule == Rule::SiteName) {
            skipped.reason = "no hospital is registered in the home: a reviewer imports the site registry with \
                              `midnet center sites add sites.toml`"
                .into();
        }
        Ok(report)
    }
}

/// The SHA-256 of every file brought into `project`'s work area with `midnet work import`: the
/// audit trail's `imported` file records. Such files are reference material from outside; the gate
/// refuses them by their content, whatever they are named.
pub fn imported(records: &[Record], project: &str) -> HashSet<String> {
    records
        .iter()
        .filter(|r| r.project.as_deref() == Some(project))
        .filter_map(|r| r.file.as_ref())
        .filter(|f| f.direction == crate::audit::Direction::Imported)
        .map(|f| f.sha256.clone())
        .collect()
}

/// Refuse (rule `imported`) a file of `work/` whose content came in with `work import`.
pub fn refuse_imported(project: &Project, names: &[String], imported: &HashSet<String>) -> Result<()> {
    let work = project.layout().area(crate::project::Area::Work);
    for name in names {
        let path = work.join(name);
        if path.is_file() && imported.contains(&crate::digest::sha256_file(&path)?) {
            return Err(Error::refused(
                "imported",
                format!(
                    "{name} came into work/ with `midnet work import`: files brought in from outside are reference \
                     material and never leave through the gate, whatever they are named; export what midnet computed \
                     from the project's datasets instead"
                ),
            ));
        }
    }
    Ok(())
}

/// Refuse (rule `patient_level`) rows about to leave the work area other than through the gate
/// (`work sql` to a pipe or a file of the user's): rows the `patient_level` rule finds to be
/// person records, by the project's datasets. The refusal names what was found, never a value.
pub fn refuse_person_records(
    actor: &Actor,
    project: &Project,
    columns: crate::table::TextColumns,
    rows: usize,
) -> Result<()> {
    let context = Context::of(actor, project)?;
    let table = super::table::Table::from_columns(
        Path::new("<standard output>"),
        None,
        None,
        columns,
        rows,
        &context.rules,
        &[],
    );
    let found = super::checks::patient_level::check(
        &table,
        &crate::table::Trust::Absent,
        &context.rules,
        Some(&context.persons),
    );
    if found.is_empty() {
        return Ok(());
    }
    let what: Vec<String> = found.iter().map(|raw| raw.message.clone()).collect();
    Err(Error::refused(
        "patient_level",
        format!(
            "the result is person records ({}); standard output is not a terminal, and rows of persons leave the work \
             area only through the export gate: view them on a terminal, or write them into work/ with --out NAME.csv",
            what.join("; ")
        ),
    ))
}

/// Copy `from` to `to` (creating `to`'s directories, owner-only) and return the SHA-256 of the
/// copy, which must equal `expected` when given: a file is moved by its content hash, so what a
/// reviewer approved is what leaves.
pub fn copy_verified(from: &Path, to: &Path, expected: Option<&str>) -> Result<String> {
    if let Some(dir) = to.parent() {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).at(dir)?;
    }
    std::fs::copy(from, to).at(to)?;
    let sha = crate::digest::sha256_file(to)?;
    if let Some(expected) = expected
        && sha != expected
    {
        let _ = std::fs::remove_file(to);
        return Err(Error::Integrity(format!(
            "{}: its SHA-256 is {sha}, not the {expected} recorded for it: the file was altered; \
             nothing was copied, and the request must be filed again",
            from.display()
        )));
    }
    Ok(sha)
}

/// Check that a file still has the SHA-256 recorded for it.
pub fn verify(path: &Path, expected: &str) -> Result<()> {
    let sha = crate::digest::sha256_file(path)?;
    if sha == expected {
        Ok(())
    } else {
        Err(Error::Integrity(format!(
            "{}: its SHA-256 is {sha}, not the {expected} recorded for it: the file was altered after it was \
             recorded; restore it or reject the request",
            path.display()
        )))
    }
}

/// Append a `violation` record to the audit trail (guideline 第14 1): a record of its own, so
/// that `midnet audit show` lists every violation whatever the command that met it.
pub fn record_violation(actor: &Actor, project: &str, rule: &'static str, message: &str) -> Result<()> {
    crate::center::session::audit_as(
        actor.home(),
        &actor.user().id,
        Some(actor.session()),
        "violation",
        Some(project),
        Outcome::Refused { rule: rule.to_string(), message: message.to_string() },
    )
}

/// The text of a user's note; a request, decision or loss report must say something.
pub fn require_note(what: &str, note: &str) -> Result<()> {
    if note.trim().is_empty() { Err(crate::bad_input!("--note is empty: {what}")) } else { Ok(()) }
}
