//! Where a command's rows come from, resolved in one place, and the column readers that turn a
//! bad value into an error naming the file, column and line.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::bad_input;
use crate::cli::Global;
use crate::cli::io::DatasetArgs;
use crate::error::Result;
use crate::project::inputs::{self, DatasetInput};
use crate::stats::check::{self, BadValue};
use crate::table::Frame;

#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("source").args(["input", "project"]).required(true)))]
pub struct InputArgs {
    /// The patient-level table, one row per patient: a CSV (with a header row) or Parquet file.
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    #[command(flatten)]
    pub dataset: DatasetArgs,
}

/// A source of rows: a file, or a dataset of a project.
#[derive(Debug, Clone)]
pub enum Source {
    File(PathBuf),
    Dataset { project: String, dataset: String, replace: bool },
}

/// A source made concrete: the file to read, how to name it in provenance, and, for a project
/// dataset, the project it belongs to (where results go).
pub struct Resolved<'a> {
    pub path: PathBuf,
    pub name: String,
    pub project: Option<&'a DatasetInput<'a>>,
}

impl Source {
    pub fn from_args(args: &InputArgs) -> Source {
        match (&args.input, args.dataset.given()) {
            (Some(path), _) => Source::File(path.clone()),
            (None, Some((project, dataset))) => Source::Dataset {
                project: project.to_string(),
                dataset: dataset.to_string(),
                replace: args.dataset.replace,
            },
            (None, None) => unreachable!("clap requires --input or --project with --dataset"),
        }
    }

    /// Run `body` on the resolved source. A project dataset is read inside the project's frame:
    /// as the logged-in analyst, audited as `command`, with the project locked until `body` ends.
    pub fn run<T>(&self, global: &Global, command: &str, body: impl FnOnce(&Resolved) -> Result<T>) -> Result<T> {
        match self {
            Source::File(path) => body(&Resolved::file(path)),
            Source::Dataset { project, dataset, replace } => {
                inputs::run(&global.home()?, command, project, dataset, *replace, |d| {
                    body(&Resolved { path: d.path.clone(), name: d.label.clone(), project: Some(d) })
                })
            }
        }
    }
}

impl Resolved<'_> {
    /// A plain file, named in provenance by its path.
    pub fn file(path: &Path) -> Resolved<'static> {
        Resolved { path: path.to_path_buf(), name: path.display().to_string(), project: None }
    }

    /// Read `columns` (duplicates are read once). An empty file or one without data rows is an
    /// error: no statistic is computed from nothing.
    pub fn read(&self, columns: &[&str]) -> Result<Frame> {
        let mut unique: Vec<&str> = Vec::new();
        for c in columns {
            if !unique.contains(c) {
                unique.push(c);
            }
        }
        if std::fs::metadata(&self.path).is_ok_and(|m| m.is_file() && m.len() == 0) {
            return Err(bad_input!(
                "{}: the file is empty (0 bytes); give a table with a header row and data",
                self.path.display()
            ));
        }
        let frame = Frame::read_columns(&self.path, &unique)?;
        if frame.rows() == 0 {
            return Err(bad_input!(
                "{}: the table has no rows (a header only); there is nothing to compute",
                self.path.display()
            ));
        }
        Ok(frame)
    }
}

/// A follow-up or person-time column: numbers ≥ 0, none missing.
pub fn times(frame: &Frame, column: &str) -> Result<Vec<f64>> {
    let values = numbers(frame, column)?;
    at_row(frame, column, check::bad_time(&values))?;
    Ok(values)
}

/// A 0/1 column (an event or a death flag).
pub fn flags(frame: &Frame, column: &str) -> Result<Vec<bool>> {
    let values = numbers(frame, column)?;
    check::flags(&values).map_err(|bad| frame.bad_row(column, bad.row, &bad.what))
}

/// An event-count column: whole numbers ≥ 0.
pub fn counts(frame: &Frame, column: &str) -> Result<Vec<u32>> {
    let values = numbers(frame, column)?;
    at_row(frame, column, check::bad_count(&values))?;
    Ok(values.iter().map(|&v| v as u32).collect())
}

/// A numeric column with every value present and finite.
pub fn numbers(frame: &Frame, column: &str) -> Result<Vec<f64>> {
    frame.f64s(column)
}

fn at_row(frame: &Frame, column: &str, bad: Option<BadValue>) -> Result<()> {
    match bad {
        Some(bad) => Err(frame.bad_row(column, bad.row, &bad.what)),
        None => Ok(()),
    }
}
