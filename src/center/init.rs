//! `center init`: a new home created whole or not at all, with every document its modules keep
//! (settings, users and the first reviewer, sessions, the site registry, the audit trail, the
//! center's signing key). It sits above the modules whose documents it creates; [`Home`] below
//! them knows only where each document lives.

use std::path::Path;

use super::home::{Home, SETTINGS_FILE, Settings};
use super::users::{NewUser, Users};
use crate::error::{Error, IoContext, Result};
use crate::store;

/// Create a home at `root` (absent or an empty directory) with its settings and first reviewer,
/// and audit it. Everything is built in a temporary sibling directory and renamed into place, so a
/// failed init leaves nothing behind.
pub fn create_home(root: &Path, settings: &Settings, reviewer: &NewUser, password: &str) -> Result<Home> {
    if root.join(SETTINGS_FILE).exists() {
        return Err(crate::bad_input!("{}: already a midnet home", root.display()));
    }
    if root.is_dir() && std::fs::read_dir(root).at(root)?.next().is_some() {
        return Err(crate::bad_input!(
            "{}: the directory is not empty; a home is created in a new or empty directory",
            root.display()
        ));
    }
    let root = std::path::absolute(root).at(root)?;
    let parent = root.parent().ok_or_else(|| crate::bad_input!("{}: no parent directory", root.display()))?;
    std::fs::create_dir_all(parent).at(parent)?;
    let name = root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let staging = parent.join(format!(".{name}.init-{}", std::process::id()));
    let built = build(&staging, settings, reviewer, password);
    if let Err(e) = built.and_then(|()| std::fs::rename(&staging, &root).at(&root)) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    let home = Home::at(&root)?;
    super::session::audit_as(&home, &reviewer.id, None, "center init", None, crate::audit::Outcome::Ok)?;
    Ok(home)
}

fn build(dir: &Path, settings: &Settings, reviewer: &NewUser, password: &str) -> Result<()> {
    store::create_private_dir(dir)?;
    for sub in ["projects", "areas", "audit", "seal", "locks"] {
        store::create_private_dir(&dir.join(sub))?;
    }
    let text = toml::to_string(settings).map_err(|e| Error::Internal(format!("settings: {e}")))?;
    let header = "# midnet data-center home settings (written by `midnet center init`).\n";
    std::fs::write(dir.join(SETTINGS_FILE), format!("{header}{text}")).at(dir.join(SETTINGS_FILE))?;
    let home = Home::being_built(dir, settings);
    if let Some(today) = settings.simulated_clock {
        super::today::SimulatedClock { today }.save(&home)?;
    }
    let users = Users::first(&home, reviewer, password, super::today::Today::of(&home)?.date)?;
    users.save(&home)?;
    store::write_json(&home.sessions_path(), &super::session::Sessions::default())?;
    store::write_json(&home.sites_path(), &super::sites::SiteRegistry::default())?;
    crate::audit::Log::create(home.root())?;
    super::keys::create(&home)?;
    Ok(())
}
