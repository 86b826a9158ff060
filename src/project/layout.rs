//! A project's work area on disk, and the one way to turn a file name given by a user into a
//! path inside it.
//!
//! ```text
//! HOME/areas/ID/            owner-only (0700)
//!   project.duckdb          the project's database (analysis datasets are unioned here)
//!   datasets/               analysis datasets: patient-level, never exportable
//!   work/                   the analysts' files and the statistics they compute
//!   review/REQUEST/         files under an export request (written by the export gate only)
//!   released/               released statistics (written by the export gate only)
//! ```

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, IoContext, Result};
use crate::store;

/// One of the four areas of a work area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    Datasets,
    Work,
    Review,
    Released,
}

impl Area {
    pub const ALL: [Area; 4] = [Area::Datasets, Area::Work, Area::Review, Area::Released];

    pub fn dir_name(self) -> &'static str {
        match self {
            Area::Datasets => "datasets",
            Area::Work => "work",
            Area::Review => "review",
            Area::Released => "released",
        }
    }
}

/// The paths of one project's work area.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    pub const DB_FILE: &'static str = "project.duckdb";

    pub(crate) fn at(root: PathBuf) -> Layout {
        Layout { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The project's DuckDB database.
    pub fn db(&self) -> PathBuf {
        self.root.join(Self::DB_FILE)
    }

    pub fn area(&self, area: Area) -> PathBuf {
        self.root.join(area.dir_name())
    }

    /// The directory of export request `request` under `review/` (not created here).
    pub fn review_request(&self, request: &str) -> Result<PathBuf> {
        store::require_identifier("export request id", request)?;
        Ok(self.area(Area::Review).join(request))
    }

    /// The path of `name`, a file name given by a user, inside `area`. Refused (rule `path`) when
    /// it is empty, absolute, contains `..`, or passes through a symbolic link, so that no name can
    /// reach outside the project. Subdirectories are allowed; the file need not exist yet.
    pub fn resolve(&self, area: Area, name: &str) -> Result<PathBuf> {
        resolve_inside(&self.area(area), name).map_err(|why| {
            Error::refused(
                "path",
                format!(
                    "{name:?} in {}/: {why}; give a file name inside the project's {}/ area",
                    area.dir_name(),
                    area.dir_name()
                ),
            )
        })
    }

    /// Build a new work area at `self.root` (which must not exist): the four areas, owner-only,
    /// and an empty project database.
    pub(crate) fn create(&self) -> Result<()> {
        store::create_private_dir(&self.root)?;
        for area in Area::ALL {
            store::create_private_dir(&self.area(area))?;
        }
        let conn = duckdb::Connection::open(self.db())?;
        conn.execute_batch("CHECKPOINT")?;
        drop(conn);
        let _ = std::fs::remove_file(self.root.join(format!("{}.wal", Self::DB_FILE)));
        Ok(())
    }

    /// Every file under the work area (or one area), as paths relative to the work area root.
    pub fn files(&self, area: Option<Area>) -> Result<Vec<PathBuf>> {
        let start = area.map_or_else(|| self.root.clone(), |a| self.area(a));
        let mut files = Vec::new();
        let mut stack = vec![start];
        while let Some(dir) = stack.pop() {
            if !dir.is_dir() {
                continue;
            }
            for entry in std::fs::read_dir(&dir).at(&dir)? {
                let path = entry.at(&dir)?.path();
                let meta = std::fs::symlink_metadata(&path).at(&path)?;
                if meta.is_dir() {
                    stack.push(path);
                } else {
                    files.push(path.strip_prefix(&self.root).unwrap_or(&path).to_path_buf());
                }
            }
        }
        files.sort();
        Ok(files)
    }
}

/// `base/name` if `name` stays inside `base`; otherwise why not.
fn resolve_inside(base: &Path, name: &str) -> std::result::Result<PathBuf, &'static str> {
    if name.trim().is_empty() {
        return Err("the name is empty");
    }
    if name.contains('\0') {
        return Err("the name contains a NUL byte");
    }
    let relative = Path::new(name);
    let mut path = base.to_path_buf();
    for component in relative.components() {
        match component {
            Component::Normal(part) => {
                path.push(part);
                if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
                    return Err("it passes through a symbolic link, which is never followed out of a project");
                }
            }
            Component::CurDir => {}
            Component::ParentDir => return Err("'..' is not allowed"),
            Component::RootDir | Component::Prefix(_) => return Err("an absolute path is not allowed"),
        }
    }
    if path == base {
        return Err("the name names the area itself, not a file in it");
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_escape() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("work");
        std::fs::create_dir(&base).unwrap();
        assert_eq!(resolve_inside(&base, "a/b.csv").unwrap(), base.join("a/b.csv"));
        assert_eq!(resolve_inside(&base, "./c.csv").unwrap(), base.join("c.csv"));
        for bad in ["", "  ", "../x", "a/../../x", "/etc/passwd", ".", "a\0b"] {
            assert!(resolve_inside(&base, bad).is_err(), "{bad:?} must be refused");
        }
        std::os::unix::fs::symlink("/tmp", base.join("out")).unwrap();
        assert!(resolve_inside(&base, "out/x.csv").is_err());
        assert!(resolve_inside(&base, "out").is_err());
    }

    fn cases() -> u32 {
        std::env::var("MIDNET_PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(cases()))]

        /// Whatever the name, a resolved path lies strictly inside the area and never climbs.
        #[test]
        fn a_resolved_name_stays_inside(name in "[a./\\\\x00-]{0,12}") {
            let dir = tempfile::tempdir().unwrap();
            let base = dir.path().join("work");
            std::fs::create_dir(&base).unwrap();
            if let Ok(path) = resolve_inside(&base, &name) {
                proptest::prop_assert!(path.starts_with(&base) && path != base);
                proptest::prop_assert!(path.components().all(|c| c != Component::ParentDir));
            }
        }
    }
}
