//! A project's analysis dataset as the input of an analysis command (`--project ID --dataset
//! NAME[@VERSION]`), and that command's results written into the project's `work/`.
//!
//! [`run`] is the whole frame of such a command: as the logged-in user, audited, for the analyst
//! role, it opens the project, finds the dataset in the project's catalog, checks that its
//! Parquet file still has the SHA-256 recorded when it was made, and hands the command a
//! [`DatasetInput`]. Results go to names inside `work/` only, are never overwritten unless the user
//! says so, name the project, the dataset and its SHA-256 in their sidecar, and are recorded in
//! the audit trail.

use std::path::{Path, PathBuf};

use super::datasets::{self, Dataset};
use super::{Area, Project, Role};
use crate::audit::Direction;
use crate::center::{Actor, Home};
use crate::error::{Error, Result};
use crate::table::{Provenance, Sidecar};

/// A dataset of an opened project, ready to read, and where the command's results go.
pub struct DatasetInput<'a> {
    actor: &'a Actor,
    project: &'a Project,
    /// `NAME@VERSION`.
    pub label: String,
    /// The dataset's Parquet file.
    pub path: PathBuf,
    pub sha256: String,
    replace: bool,
}

/// Run `body` on dataset `spec` of project `project_id` as the logged-in analyst, audited as
/// `command`. `replace` lets results overwrite files of the same name in `work/`.
pub fn run<T>(
    home: &Home,
    command: &str,
    project_id: &str,
    spec: &str,
    replace: bool,
    body: impl FnOnce(&DatasetInput) -> Result<T>,
) -> Result<T> {
    crate::center::as_user(home, command, Some(project_id), |actor| {
        crate::withhold::withhold_values();
        let project = actor.open_project(project_id, &[Role::Analyst])?;
        let dataset = find(&project, spec)?;
        let path = project.resolve(Area::Datasets, &dataset.file)?;
        if !path.is_file() {
            return Err(Error::Integrity(format!(
                "project {project_id}: the file of dataset {} (datasets/{}) is missing; extract it again",
                dataset.label(),
                dataset.file
            )));
        }
        let sha256 = crate::digest::sha256_file(&path)?;
        if sha256 != dataset.sha256 {
            return Err(Error::Integrity(format!(
                "project {project_id}: dataset {} (datasets/{}) has SHA-256 {sha256}, not the {} recorded when it was made; \
                 the file was changed after extraction: extract it again",
                dataset.label(),
                dataset.file,
                dataset.sha256
            )));
        }
        let input = DatasetInput { actor, project: &project, label: dataset.label(), path, sha256, replace };
        body(&input).map_err(|e| named_by_label(e, &input))
    })
}

/// The readers name a file by its path, which inside a project is a long path into the home; the
/// analyst knows the file as the project's dataset, so a message about it says that instead.
fn named_by_label(error: Error, input: &DatasetInput) -> Error {
    match error {
        Error::BadInput(message) => {
            let path = input.path.display().to_string();
            let name = format!(
                "project {}, dataset {} ({})",
                input.project.id(),
                input.label,
                input.shown(&input.path).display()
            );
            Error::BadInput(message.replace(&path, &name))
        }
        other => other,
    }
}

/// `NAME` (its latest version) or `NAME@VERSION` in the project's catalog.
fn find(project: &Project, spec: &str) -> Result<Dataset> {
    let (name, version) = parse_spec(spec)?;
    let datasets = catalog_datasets(project)?;
    let labels: Vec<String> = datasets.iter().map(Dataset::label).collect();
    let found = datasets
        .into_iter()
        .filter(|d| d.name == name && version.is_none_or(|v| d.version == v))
        .max_by_key(|d| d.version);
    found.ok_or_else(|| {
        let there = if labels.is_empty() {
            "it has no datasets yet (`midnet extract` makes them)".to_string()
        } else {
            format!("its datasets are {}", labels.join(", "))
        };
        Error::NotFound(format!("project {}: no dataset `{spec}`; {there}", project.id()))
    })
}

/// `NAME` or `NAME@VERSION` (a whole number ≥ 1).
fn parse_spec(spec: &str) -> Result<(&str, Option<i64>)> {
    let bad = || {
        Error::BadInput(format!(
            "--dataset `{spec}`: give a dataset name, optionally with a version: NAME or NAME@VERSION (e.g. cohort@1)"
        ))
    };
    match spec.split_once('@') {
        None if !spec.is_empty() => Ok((spec, None)),
        Some((name, version)) if !name.is_empty() => match version.parse::<i64>() {
            Ok(v) if v >= 1 => Ok((name, Some(v))),
            _ => Err(bad()),
        },
        _ => Err(bad()),
    }
}

/// The catalog of the project database; none before the first extraction.
fn catalog_datasets(project: &Project) -> Result<Vec<Dataset>> {
    let config = duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly)?;
    let conn = duckdb::Connection::open_with_flags(project.layout().db(), config)?;
    let has_catalog: i64 =
        conn.query_row("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'dataset'", [], |r| r.get(0))?;
    if has_catalog == 0 {
        return Ok(Vec::new());
    }
    datasets::datasets(&conn)
}

impl DatasetInput<'_> {
    /// The logged-in analyst the command runs as.
    pub fn actor(&self) -> &Actor {
        self.actor
    }

    pub fn project_id(&self) -> &str {
        self.project.id()
    }

    /// Where result `name` (a file name inside `work/`, e.g. `stats/cox.csv`) goes. Refused when
    /// the name leaves `work/`, and when the file exists and replacing was not asked for. Creates
    /// the directories on the way.
    pub fn result_path(&self, name: &str) -> Result<PathBuf> {
        let path = self.project.resolve(Area::Work, name)?;
        self.ensure_new(&path)?;
        Ok(path)
    }

    /// Refuse `path` (inside `work/`) when it exists and replacing was not asked for; create the
    /// directories on the way to it.
    pub fn ensure_new(&self, path: &Path) -> Result<()> {
        if path.exists() && !self.replace {
            return Err(Error::BadInput(format!(
                "project {}: {} exists already; give another name with --out NAME, or --replace to overwrite it",
                self.project.id(),
                self.shown(path).display()
            )));
        }
        match path.parent() {
            Some(dir) => std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e)),
            None => Ok(()),
        }
    }

    /// The provenance of a result made from this dataset: the project, the dataset's label and
    /// its SHA-256.
    pub fn provenance(&self, command: String) -> Provenance {
        let mut provenance = Provenance::now(command);
        provenance.project = Some(self.project.id().to_string());
        provenance.inputs.push(self.label.clone());
        provenance.input_sha256.insert(self.label.clone(), self.sha256.clone());
        provenance
    }

    /// Seal a result table's sidecar (midnet named its columns' roles) and record both files in the
    /// audit trail.
    pub fn record(&self, table: &Path) -> Result<()> {
        let key = crate::table::TableKey::of_home(self.actor.home().root())?;
        crate::table::seal(table, &key, crate::table::Roles::Declared)?;
        for file in [table.to_path_buf(), Sidecar::path_for(table)] {
            let sha = crate::digest::sha256_file(&file)?;
            self.project.record_file(self.actor, &file, &sha, Direction::In)?;
        }
        Ok(())
    }

    /// The path relative to the project's work area root, for messages.
    pub fn shown<'p>(&self, path: &'p Path) -> &'p Path {
        path.strip_prefix(self.project.layout().root()).unwrap_or(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dataset_specs() {
        assert_eq!(parse_spec("cohort").unwrap(), ("cohort", None));
        assert_eq!(parse_spec("cohort@2").unwrap(), ("cohort", Some(2)));
        for bad in ["", "@1", "cohort@", "cohort@0", "cohort@x", "cohort@-1"] {
            assert!(parse_spec(bad).is_err(), "{bad}");
        }
    }
}
