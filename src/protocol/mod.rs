//! The shared early-safety protocol (`midnet protocol`; docs/protocol.md): one common plan for
//! every newly monitored drug — a new-user active-comparator cohort, the lab outcomes of the
//! outcome library (`sql/protocol/outcomes.toml`), incidence and a sex- and age-adjusted hazard
//! ratio per outcome in the whole cohort and the baseline-normal subgroup — run at successive data
//! cut-offs as analyses 1, 2, … of a project.
//!
//! - [`library`]: the outcome library and the protocol script written from it;
//! - [`run`]: extraction across the sites, then the statistics of every outcome and subgroup;
//! - [`estimate`]: the statistics of one outcome in one subgroup;
//! - [`monitor`]: the sequential boundary of each outcome × subgroup at this look;
//! - [`tables`]: the result tables with their sidecars;
//! - [`analyses`]: analysis K of a project, and the history of hazard ratios across analyses;
//! - [`surveillance`]: the plan of the looks; [`project_plan`]: a project's, fixed before its first look.

pub mod analyses;
pub mod estimate;
pub mod library;
pub mod monitor;
pub mod plan;
pub mod project_plan;
pub mod run;
pub mod surveillance;
pub mod tables;

pub use library::Library;
pub use plan::{Plan, RunOptions};
pub use run::{RunReport, run};
