//! The one way an analysis command names what it reads and writes: a file, or a dataset of a
//! project (`--project ID --dataset NAME[@VERSION]`, read through [`crate::project::inputs`]), and
//! a result table written as CSV or Parquet to a file or into the project's `work/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::bad_input;
use crate::error::Result;
use crate::project::inputs::DatasetInput;
use crate::signal::pair_table::PairTable;
use crate::table::{CsvTable, Format, Provenance, TableKind};

/// The options that name a project's dataset as a command's input, shared by every command that
/// reads one. The command makes `--project` one of its alternative sources (a clap group).
#[derive(Debug, Clone, clap::Args)]
pub struct DatasetArgs {
    /// Read a dataset of this project (with --dataset); results go into its work/.
    #[arg(long, value_name = "ID", requires = "dataset")]
    pub project: Option<String>,
    /// The project's analysis dataset: NAME (its latest version) or NAME@VERSION.
    #[arg(long, value_name = "NAME[@VERSION]", requires = "project")]
    pub dataset: Option<String>,
    /// With --project: overwrite a result of the same name in work/ (refused otherwise).
    #[arg(long, requires = "project")]
    pub replace: bool,
}

impl DatasetArgs {
    /// The project and the dataset, when they were given.
    pub fn given(&self) -> Option<(&str, &str)> {
        self.project.as_deref().zip(self.dataset.as_deref())
    }
}

/// Where an analysis command writes a result table: a file the user named, or, for a project's
/// dataset, a name inside the project's `work/`. Either is CSV or Parquet by its extension, with
/// its sidecar beside it; in a project the sidecar is sealed and both files are recorded in the
/// audit trail.
pub struct Destination<'a> {
    path: PathBuf,
    /// The project dataset the table was computed from; `None` for a file input.
    dataset: Option<&'a DatasetInput<'a>>,
    /// What a file's provenance names as its inputs.
    inputs: Vec<String>,
}

impl<'a> Destination<'a> {
    /// Refuse an `--out` that is neither CSV nor Parquet, before any work is done.
    pub fn check_out(out: Option<&Path>) -> Result<()> {
        match out {
            Some(path) => Format::of(path).map(drop).map_err(|_| {
                bad_input!(
                    "--out {}: give a .csv or .parquet file name (a sidecar .meta.json is written beside it)",
                    path.display()
                )
            }),
            None => Ok(()),
        }
    }

    /// For a file input: `out`, when given.
    pub fn file(out: Option<&Path>, inputs: Vec<String>) -> Result<Option<Destination<'a>>> {
        Destination::check_out(out)?;
        Ok(out.map(|path| Destination { path: path.to_path_buf(), dataset: None, inputs }))
    }

    /// For a project dataset: `out` (a name inside `work/`) or `default`, refused before any work
    /// when it exists (unless `--replace`) or leaves `work/`.
    pub fn project(dataset: &'a DatasetInput<'a>, out: Option<&Path>, default: String) -> Result<Destination<'a>> {
        Destination::check_out(out)?;
        let name = out.map_or(default, |out| out.to_string_lossy().into_owned());
        Ok(Destination { path: dataset.result_path(&name)?, dataset: Some(dataset), inputs: Vec::new() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `dir/STEM-suffix.EXT` beside `dir/STEM.EXT`: a second table of the same command.
    pub fn sibling(&self, suffix: &str) -> Destination<'a> {
        let stem = self.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let extension = self.path.extension().map(|e| e.to_string_lossy().into_owned()).unwrap_or_default();
        let path = self.path.with_file_name(format!("{stem}-{suffix}.{extension}"));
        Destination { path, dataset: self.dataset, inputs: self.inputs.clone() }
    }

    /// The table's name for people: its path, or inside a project its path there.
    pub fn shown(&self) -> String {
        match self.dataset {
            Some(dataset) => dataset.shown(&self.path).display().to_string(),
            None => self.path.display().to_string(),
        }
    }

    /// Write `table` with its sidecar, whose provenance names the inputs, `params` and this
    /// command line; in a project, seal the sidecar and record both files.
    pub fn write(&self, table: impl ResultTable, kind: TableKind, params: BTreeMap<String, String>) -> Result<()> {
        let mut provenance = match self.dataset {
            Some(dataset) => {
                dataset.ensure_new(&self.path)?;
                dataset.provenance(command_line())
            }
            None => {
                let mut provenance = Provenance::now(command_line());
                provenance.inputs = self.inputs.clone();
                provenance
            }
        };
        provenance.params = params;
        table.save(&self.path, kind, provenance)?;
        match self.dataset {
            Some(dataset) => dataset.record(&self.path),
            None => Ok(()),
        }
    }
}

/// A result table a [`Destination`] can write.
pub trait ResultTable {
    fn save(self, path: &Path, kind: TableKind, provenance: Provenance) -> Result<()>;
}

impl ResultTable for &CsvTable {
    fn save(self, path: &Path, kind: TableKind, provenance: Provenance) -> Result<()> {
        crate::table::write_table(path, self, kind, provenance)
    }
}

impl ResultTable for PairTable {
    fn save(self, path: &Path, kind: TableKind, provenance: Provenance) -> Result<()> {
        PairTable::save(self, path, kind, provenance)
    }
}

/// The command line that made a table, for its provenance, quoted as a shell would need it.
pub fn command_line() -> String {
    crate::audit::command_line(&std::env::args().skip(1).collect::<Vec<_>>())
}
