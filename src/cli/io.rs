//! The one way an analysis command names what it reads and writes: a file, or a dataset of a
//! project (`--project ID --dataset NAME[@VERSION]`, read through [`crate::project::inputs`]).

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
