//! Projects (利活用): what was approved, who may do what, the usage period and its end, and the
//! isolated work area each project gets under the home.
//!
//! - [`record`]: the registry entry in the home (`HOME/projects/ID.json`) and the guideline's rules
//!   on dates (usage period, extensions, retention), as pure functions.
//! - [`Layout`]: the work area (`datasets/ work/ review/<request>/ released/` and the project
//!   database) and [`Layout::resolve`], the one way to turn a user-given file name into a path.
//! - [`Project`]: a project opened for a role by [`crate::center::Actor::open_project`], holding
//!   the project lock.
//! - [`lifecycle`]: create, grant, revoke, change, extend, suspend, resume, terminate, purge.
//!
//! Roles: `contractor` (responsible; files changes, extensions, termination), `analyst` (works in
//! the work area), `statistics_user` (exported statistics only), and the center-wide `reviewer`
//! (provisions, suspends and closes projects; reviews). After the end date, or while suspended, a
//! project refuses every command but the contractor's termination and the reviewer's.

pub mod cli;
pub mod inputs;
mod layout;
pub mod lifecycle;
mod lineage;
mod open;
pub mod record;
mod register;
pub mod workbench;

pub use layout::{Area, Layout};
pub use open::Project;
pub use record::{ProjectRecord, Purpose, Role, State};

use crate::center::Home;
use crate::error::Result;

/// Give every project a pseudonym for each of `site_ids` it has none for (after a site import).
pub(crate) fn assign_site_pseudonyms(home: &Home, site_ids: &[String]) -> Result<()> {
    for mut entry in record::all(home)? {
        let before = entry.pseudonyms.len();
        record::assign_pseudonyms(&mut entry, site_ids);
        if entry.pseudonyms.len() != before {
            record::save(home, &entry)?;
        }
    }
    Ok(())
}
