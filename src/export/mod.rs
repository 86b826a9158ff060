//! The export gate: the one door out of a project's work area. Only statistics leave, and only
//! when they meet the guideline's criteria (第9, 第11 3): no count of 1 to 9, ages in bands of at
//! least 5 years with one band from 85, no result per hospital, no hospital named, no person
//! records, only tables and figures backed by tables, no masked cell that the totals give back, no
//! small group revealed by subtracting one table from another. docs/export-gate.md is the user's
//! reference.
//!
//! [`check_files`] is the library entry point on plain files; [`fix_file`] rewrites a table so
//! that it passes; the thresholds come from [`Rules`] (`sql/export-rules.toml`).
//!
//! Inside a project the gate is the one door out of the work area (`gate.rs` has the layout):
//! [`file_export`] copies statistics, programs and the work log into `review/REQ/` and checks
//! them; [`review`] approves (never the requester) or rejects, and approval releases the files
//! into `released/REQ/` with an entry in the [`Ledger`]; [`fetch`] takes a released file out and
//! records who took it where; [`file_publication`] asks to publish released files (第11).
//!
//! ```ignore
//! // The demo ends with a released table: an analyst files, a reviewer approves.
//! let request = analyst.run("export request", Some("p1"), |a| {
//!     export::file_export(a, &export::ExportSpec::new("p1", &["incidence.csv"], "incidence by age band"))
//! })?;
//! reviewer.run("export review", Some("p1"), |a| {
//!     export::review(a, "p1", &request.id, export::Decide::Approve, "checked: no small cells")
//! })?;
//! ```

/// The snake_case names the records use, for people too.
macro_rules! display_as_serialized {
    ($($t:ty),*) => {$(
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let value = serde_json::to_value(self).map_err(|_| std::fmt::Error)?;
                f.write_str(value.as_str().unwrap_or_default())
            }
        }
    )*};
}

mod ageband;
mod checks;
pub mod exception;
pub mod findings;
mod fix;
mod gate;
pub mod ledger;
mod persons;
pub mod publish;
mod registry;
pub mod request;
pub mod review;
mod rules;
mod solve;
mod structure;
mod table;
mod text;
mod worklog;

pub use checks::{CheckOptions, check_files};
pub use exception::Exception;
pub use findings::{FileReport, Finding, Report, Skipped};
pub use fix::{Change, FixOptions, FixReport, WorkFix, fix_file, fix_work, roles_by_content};
pub use gate::refuse_person_records;
pub use ledger::{Event, Ledger, LedgerView, fetch};
pub use persons::Persons;
pub use publish::{PublishSpec, file_publication};
pub use registry::HospitalNames;
pub use request::{ExportSpec, Request, Status, check_work, file_export};
pub use review::{Decide, review};
pub use rules::{Rule, Rules, Stage, Verdict};
