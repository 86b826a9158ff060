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

pub mod datasets;
pub mod inputs;
mod layout;
pub mod lifecycle;
pub mod lineage;
mod open;
pub mod record;
pub mod register;

pub use layout::{Area, Layout};
pub use open::Project;
pub use record::{ProjectRecord, Purpose, Role, State};

use crate::center::sites::SiteRegistry;
use crate::center::{Actor, Home};
use crate::error::Result;

/// Import the site registry in `file` into the home (reviewer): add or replace its sites, and give
/// each new site a pseudonym in every project. Returns the number of registered sites and the new
/// ids.
/// `incoming` is a registry file as [`SiteRegistry::read_toml`] read it (for `center sites add`,
/// with the rights of the person who named it).
pub fn import_sites(actor: &Actor, incoming: SiteRegistry) -> Result<(usize, Vec<String>)> {
    actor.require_reviewer("importing sites")?;
    let home = actor.home();
    let _lock = home.lock_documents()?;
    let mut registry = SiteRegistry::load(home)?;
    let added = registry.merge(incoming);
    registry.save(home)?;
    let ids: Vec<String> = registry.sites.iter().map(|s| s.id.clone()).collect();
    assign_site_pseudonyms(home, &ids)?;
    Ok((ids.len(), added))
}

/// Give every project a pseudonym for each of `site_ids` it has none for (after a site import).
fn assign_site_pseudonyms(home: &Home, site_ids: &[String]) -> Result<()> {
    for mut entry in record::all(home)? {
        let before = entry.pseudonyms.len();
        record::assign_pseudonyms(&mut entry, site_ids);
        if entry.pseudonyms.len() != before {
            record::save(home, &entry)?;
        }
    }
    Ok(())
}
