//! `midnet work …`: the analysts' workbench inside a project ([`crate::workbench`]).

use crate::cli::{Global, as_user};
use crate::error::Result;
use crate::project::Role;
use crate::workbench;

/// `midnet work …`: the analysts' workbench.
#[derive(Debug, clap::Subcommand)]
pub enum WorkCommand {
    /// Read-only SQL over the project's datasets (tables named `NAME@VERSION`).
    Sql {
        #[arg(long)]
        project: String,
        /// Write every row to this CSV file in the project's work/ area.
        #[arg(long, value_name = "NAME.csv")]
        out: Option<String>,
        /// The query, e.g. "SELECT grp, count(*) FROM \"cohort@1\" GROUP BY grp".
        query: String,
    },
    /// Bring a codelist or a small reference table (CSV or text) into the project's work/ area.
    Import {
        #[arg(long)]
        project: String,
        /// The name in work/ (default: the file's own name).
        #[arg(long = "as", value_name = "NAME")]
        name: Option<String>,
        file: std::path::PathBuf,
    },
}

pub fn run(global: &Global, command: WorkCommand) -> Result<()> {
    match command {
        WorkCommand::Sql { project, out, query: sql } => as_user(global, "work sql", Some(&project), |actor| {
            let p = actor.open_project(&project, &[Role::Analyst])?;
            let batches = workbench::query(&p, &sql)?;
            match out {
                Some(name) => {
                    let path = workbench::write_result(actor, &p, &name, &sql, &batches)?;
                    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
                    println!(
                        "{rows} rows written to {}",
                        path.strip_prefix(p.layout().root()).unwrap_or(&path).display()
                    );
                    Ok(())
                }
                None => workbench::show(actor, &p, &batches),
            }
        }),
        WorkCommand::Import { project, name, file } => as_user(global, "work import", Some(&project), |actor| {
            let p = actor.open_project(&project, &[Role::Analyst])?;
            let path = workbench::import(actor, &p, &file, name.as_deref())?;
            println!(
                "imported {} into {}",
                file.display(),
                path.strip_prefix(p.layout().root()).unwrap_or(&path).display()
            );
            Ok(())
        }),
    }
}
