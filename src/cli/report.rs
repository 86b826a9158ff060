//! `midnet report FILES… --out report.html`: the protocol report from released tables, outside the
//! data center (no home, no login: the tables have already left through the export gate).

use std::path::PathBuf;

use clap::Args;

use crate::cli::Global;
use crate::cli::terminal::print_json;
use crate::error::Result;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// results.csv and any of attrition.csv, baseline.csv, curves.csv.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The HTML file to write.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// The report's title.
    #[arg(long, default_value = "Early-safety protocol: released results")]
    pub title: String,
    /// Print where the report was written as JSON: {"report"}.
    #[arg(long)]
    pub json: bool,
}

pub fn run(global: &Global, args: ReportArgs) -> Result<()> {
    let tables = crate::report::Tables::read_files(&args.files)?;
    let html = crate::report::render(&tables, &args.title, &[]);
    crate::store::write_atomically(&args.out, html.as_bytes())?;
    if args.json {
        return print_json(&serde_json::json!({ "report": args.out }));
    }
    if !global.quiet {
        eprintln!("wrote {}", args.out.display());
    }
    Ok(())
}
