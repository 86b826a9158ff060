//! `midnet stats incidence|km|cox`: read the columns a method needs, call the library, print the
//! result (a table for people, `--json` for programs) and optionally write it as a CSV table with
//! its sidecar (`--out`).

mod cox;
mod incidence;
mod input;
mod km;
mod output;

use clap::Subcommand;

use crate::cli::Global;
use crate::error::Result;

#[derive(Debug, Subcommand)]
pub enum StatsCommand {
    /// Incidence rates with exact Poisson intervals, by strata, standardised, compared.
    Incidence(incidence::IncidenceArgs),
    /// Kaplan-Meier curves, numbers at risk, log-rank test, cumulative incidence with death as a
    /// competing risk.
    Km(km::KmArgs),
    /// Cox proportional-hazards regression.
    Cox(cox::CoxArgs),
}

pub fn run(global: &Global, command: StatsCommand) -> Result<()> {
    match command {
        StatsCommand::Incidence(args) => incidence::run(global, args),
        StatsCommand::Km(args) => km::run(global, args),
        StatsCommand::Cox(args) => cox::run(global, args),
    }
}
