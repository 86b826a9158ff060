//! `midnet report FILES… --out report.html`: the protocol report from released tables, outside the
//! data center (no home, no login: the tables have already left through the export gate).

use std::path::PathBuf;

use clap::Args;

use crate::cli::Global;
use crate::error::Result;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// results.csv and any of attrition.csv, baseline.csv, curves.csv.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The HTML file to write.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[arg(long, default_value = "Early-safety protocol: released results")]
    pub title: String,
}

pub fn run(global: &Global, args: ReportArgs) -> Result<()> {
    let tables = crate::report::Tables::read_files(&args.files)?;
    let html = crate::report::render(&tables, &args.title, &[]);
    crate::store::write_atomically(&args.out, html.as_bytes())?;
    if !global.quiet {
        eprintln!("wrote {}", args.out.display());
    }
    Ok(())
}
