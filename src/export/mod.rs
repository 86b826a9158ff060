//! The export gate: the one door out of a project's work area. Only statistics leave, and only
//! when they meet the guideline's criteria (第9, 第11 3): no count of 1 to 9, ages in bands of at
//! least 5 years with one band from 85, no result per hospital, no hospital named, no person
//! records, only tables and figures backed by tables, no masked cell that the totals give back, no
//! small group revealed by subtracting one table from another. docs/export-gate.md is the user's
//! reference.
//!
//! [`check_files`] is the library entry point (the request/review flow calls it); [`fix_file`]
//! rewrites a table so that it passes. Both work on plain files; the thresholds come from
//! [`Rules`] (`sql/export-rules.toml`).

mod ageband;
mod checks;
pub mod cli;
mod fix;
mod registry;
mod report;
mod rules;
mod solve;
mod structure;
mod table;
mod text;

pub use checks::{CheckOptions, check_files};
pub use fix::{Change, FixOptions, FixReport, fix_file};
pub use registry::SiteRegistry;
pub use report::{FileReport, Finding, Report, Skipped};
pub use rules::{Rule, Rules, Stage, Verdict};
