//! `midnet work …`: the analysts' workbench inside a project ([`crate::workbench`]).

use crate::cli::named::NamedFile;
use crate::cli::terminal::print_result;
use crate::cli::{Global, as_user};
use crate::error::Result;
use crate::project::Role;
use crate::workbench;

/// `midnet work …`: the analysts' workbench.
#[derive(Debug, clap::Subcommand)]
pub enum WorkCommand {
    /// Read-only SQL over the project's datasets (tables named `NAME@VERSION`).
    Sql {
        /// The project, by its id (you are its analyst).
        #[arg(long, value_name = "ID")]
        project: String,
        /// Write every row to this CSV file in the project's work/ area (a name ending in .csv).
        #[arg(long, value_name = "FILE")]
        out: Option<String>,
        /// With --out: print what was written as JSON: {"file", "rows", "columns"}.
        #[arg(long, requires = "out")]
        json: bool,
        /// The query, e.g. "SELECT grp, count(*) FROM \"cohort@1\" GROUP BY grp".
        query: String,
    },
    /// Bring a codelist or a small reference table (CSV or text) into the project's work/ area.
    Import {
        /// The project, by its id (you are its analyst).
        #[arg(long, value_name = "ID")]
        project: String,
        /// The name in work/ (default: the file's own name).
        #[arg(long = "as", value_name = "NAME")]
        name: Option<String>,
        /// The codelist or reference table to bring in (.csv or .txt).
        #[arg(value_name = "FILE", value_parser = NamedFile::parse)]
        file: NamedFile,
        /// Print what was imported as JSON: {"file", "imported_as"}.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(global: &Global, command: WorkCommand) -> Result<()> {
    match command {
        WorkCommand::Sql { project, out, json, query: sql } => as_user(global, "work sql", Some(&project), |actor| {
            let p = actor.open_project(&project, &[Role::Analyst])?;
            let batches = workbench::query(&p, &sql)?;
            match out {
                Some(name) => {
                    let path = workbench::write_result(actor, &p, &name, &sql, &batches)?;
                    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
                    let columns: Vec<String> = batches
                        .first()
                        .map(|b| b.schema().fields().iter().map(|f| f.name().to_string()).collect())
                        .unwrap_or_default();
                    let file = path.strip_prefix(p.layout().root()).unwrap_or(&path);
                    let written = serde_json::json!({"file": file, "rows": rows, "columns": columns});
                    print_result(json, &written, |_| format!("{rows} rows written to {}", file.display()))
                }
                None => workbench::show(actor, &p, &batches),
            }
        }),
        WorkCommand::Import { project, name, file, json } => as_user(global, "work import", Some(&project), |actor| {
            let p = actor.open_project(&project, &[Role::Analyst])?;
            let path = workbench::import(actor, &p, file.path(), file.bytes(), name.as_deref())?;
            let imported_as = path.strip_prefix(p.layout().root()).unwrap_or(&path);
            let imported = serde_json::json!({"file": file.path(), "imported_as": imported_as});
            print_result(json, &imported, |_| {
                format!("imported {} into {}", file.path().display(), imported_as.display())
            })
        }),
    }
}
