//! The SS-MIX2 standardized storage as a tree of files: which files there are, what each one's
//! name says (patient, date of care, data kind, order, when it was stored, condition), and which
//! are current.
//!
//! `ROOT/<PID[0:3]>/<PID[3:6]>/<PID>/<date | ->/<kind>/<PID>_<date>_<kind>_<order>_<stored>_<dept>_<condition>`
//! (docs/site-inputs.md; hospital-inputs.md §1.1). The condition is `1` for the current version,
//! `2` for one a newer version superseded, `0` for one deleted. The tree is walked, never an index
//! database, and never through a symbolic link: a link could lead the reader out of the storage.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::{Error, IoContext, Result};

/// What a file's name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileName {
    /// The hospital's patient id: identifying, never stored as it is.
    pub patient: String,
    /// The date of care (`YYYYMMDD`), or `None` for patient-level data (the name's `-`).
    pub date: Option<String>,
    /// The data kind, e.g. `OMP-01`.
    pub kind: String,
    /// The order number (15 characters; all 9s when there is no order).
    pub order: String,
    /// When the message was stored, `YYYYMMDDHHMMSS[fff]`: versions of one key are ordered by it.
    pub stored: String,
    /// The department code, or `None` for `-`.
    pub department: Option<String>,
    pub condition: Condition,
}

/// The condition flag at the end of a file's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Condition {
    /// `0`: deleted.
    Deleted,
    /// `1`: the current version.
    Current,
    /// `2`: superseded by a newer version.
    Superseded,
}

/// One file of the storage that fits the layout.
#[derive(Debug, Clone)]
pub struct StoredFile {
    /// Relative to the storage's root, with `/` between parts.
    pub path: String,
    pub name: FileName,
    pub bytes: u64,
    /// Its modification time, in nanoseconds since 1970 (what the import trusts, with the size, to
    /// say that a recorded file did not change).
    pub modified_ns: i64,
}

/// Something in the tree that does not fit the layout, and why: reported, never read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misplaced {
    /// Relative to the storage's root.
    pub path: String,
    pub reason: String,
}

/// The storage as walked.
#[derive(Debug, Clone, Default)]
pub struct Storage {
    /// Every file that fits the layout, in path order.
    pub files: Vec<StoredFile>,
    pub misplaced: Vec<Misplaced>,
}

/// The depth of a file below the root: three levels of patient, the date, the kind.
const FILE_DEPTH: usize = 6;

/// Walk the storage under `root`. An unreadable directory is an error; a file or directory that
/// does not fit the layout is listed in `misplaced` with why.
pub fn walk(root: &Path) -> Result<Storage> {
    let mut storage = Storage::default();
    walk_dir(root, root, 0, &mut storage, &mut |storage, folder| {
        let patient = walk_patient(root, folder)?;
        storage.files.extend(patient.files);
        storage.misplaced.extend(patient.misplaced);
        Ok(())
    })?;
    storage.sort();
    Ok(storage)
}

/// Walk the storage under `root` a few patients at a time: `each` is given the files of at most
/// `patients` patient folders (and what did not fit the layout on the way), in path order, so
/// that whoever reads the storage holds no more of it at once.
pub fn walk_by_patient(root: &Path, patients: usize, each: &mut dyn FnMut(Storage) -> Result<()>) -> Result<()> {
    let mut batch = Storage::default();
    let mut folders = Vec::new();
    walk_dir(root, root, 0, &mut batch, &mut |batch, folder| {
        folders.push(folder.to_path_buf());
        if folders.len() < patients.max(1) {
            return Ok(());
        }
        each(with_folders(root, std::mem::take(batch), &mut folders)?)
    })?;
    let last = with_folders(root, batch, &mut folders)?;
    if !last.files.is_empty() || !last.misplaced.is_empty() {
        each(last)?;
    }
    Ok(())
}

/// `batch` with what the patient folders `folders` hold, sorted; `folders` emptied. The folders
/// are walked in parallel: a walk is a `stat` of every file, most of an import with little to read.
fn with_folders(root: &Path, mut batch: Storage, folders: &mut Vec<PathBuf>) -> Result<Storage> {
    let walked: Vec<Storage> = folders.par_iter().map(|folder| walk_patient(root, folder)).collect::<Result<_>>()?;
    folders.clear();
    for patient in walked {
        batch.files.extend(patient.files);
        batch.misplaced.extend(patient.misplaced);
    }
    batch.sort();
    Ok(batch)
}

/// Walk one patient's folder.
fn walk_patient(root: &Path, folder: &Path) -> Result<Storage> {
    let mut storage = Storage::default();
    // Below a patient's folder there is no other patient's.
    walk_dir(root, folder, PATIENT_DEPTH, &mut storage, &mut |_, _| Ok(()))?;
    Ok(storage)
}

/// The depth of a patient's folder below the root (`ROOT/pid/pid/PID`).
const PATIENT_DEPTH: usize = 3;

/// Walk `dir`, at `depth` below the root, in name order; a patient's folder is given to `patient`
/// to walk (`walk_patient`) rather than walked. An entry's type comes from the directory listing,
/// so only files are `stat`ed, each relative to its open folder (the tree has more folders than
/// files, and a whole path's lookup costs a lookup per level).
fn walk_dir(
    root: &Path,
    dir: &Path,
    depth: usize,
    storage: &mut Storage,
    patient: &mut dyn FnMut(&mut Storage, &Path) -> Result<()>,
) -> Result<()> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).at(dir)? {
        entries.push(entry.at(dir)?);
    }
    entries.sort_by_key(|e| e.file_name());
    let folder = relative(root, dir);
    for entry in entries {
        let name = entry.file_name();
        let relative = match folder.as_str() {
            "" => name.to_string_lossy().into_owned(),
            folder => format!("{folder}/{}", name.to_string_lossy()),
        };
        // The error's path is made only on an error: not an allocation per entry.
        let kind = entry.file_type().map_err(|e| Error::io(entry.path(), e))?;
        let misplaced = |reason: &str| Misplaced { path: relative.clone(), reason: reason.to_string() };
        if kind.is_symlink() {
            storage.misplaced.push(misplaced("a symbolic link: not followed, it could lead out of the storage"));
        } else if kind.is_dir() && depth + 1 == PATIENT_DEPTH {
            patient(storage, &entry.path())?;
        } else if kind.is_dir() && depth + 1 < FILE_DEPTH {
            walk_dir(root, &entry.path(), depth + 1, storage, patient)?;
        } else if kind.is_file() && depth + 1 == FILE_DEPTH {
            match check_place(&relative) {
                Ok(name) => {
                    let meta = entry.metadata().map_err(|e| Error::io(entry.path(), e))?;
                    let modified_ns = modified_ns(&meta);
                    storage.files.push(StoredFile { path: relative, name, bytes: meta.len(), modified_ns })
                }
                Err(reason) => storage.misplaced.push(Misplaced { path: relative, reason }),
            }
        } else if kind.is_dir() {
            storage
                .misplaced
                .push(misplaced("a directory where the layout has files (ROOT/pid/pid/PID/date/kind/file)"));
        } else if kind.is_file() {
            storage
                .misplaced
                .push(misplaced("a file outside the layout's place for files (ROOT/pid/pid/PID/date/kind/file)"));
        } else {
            storage.misplaced.push(misplaced("neither a file nor a directory"));
        }
    }
    Ok(())
}

/// A file's modification time in nanoseconds since 1970 (0 where the file system keeps none).
fn modified_ns(meta: &std::fs::Metadata) -> i64 {
    let since = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
    since.map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

fn relative(root: &Path, path: &Path) -> String {
    let parts: Vec<String> = path
        .strip_prefix(root)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

/// Parse a file's name and check that its folders agree with it.
fn check_place(relative: &str) -> std::result::Result<FileName, String> {
    let parts: Vec<&str> = relative.split('/').collect();
    let [first, second, patient_dir, date_dir, kind_dir, file] = parts[..] else {
        return Err("not six levels below the root".to_string());
    };
    let name = parse_name(file)?;
    let date = name.date.as_deref().unwrap_or("-");
    let disagree = |what: &str, folder: &str, named: &str| {
        Err(format!("its {what} folder is {folder:?} but its name says {named:?}: the file was moved or renamed"))
    };
    if patient_dir != name.patient {
        return disagree("patient", patient_dir, &name.patient);
    }
    if date_dir != date {
        return disagree("date", date_dir, date);
    }
    if kind_dir != name.kind {
        return disagree("data kind", kind_dir, &name.kind);
    }
    // How ids shorter than six characters are foldered is not confirmed (hospital-inputs.md, Not
    // confirmed 3): their first two levels are taken as they are.
    if let (Some(head), Some(next)) = (name.patient.get(0..3), name.patient.get(3..6))
        && (first != head || second != next)
    {
        return disagree("patient prefix", &format!("{first}/{second}"), &format!("{head}/{next}"));
    }
    Ok(name)
}

/// Parse `<PID>_<date>_<kind>_<order>_<stored>_<dept>_<condition>`. The parts are taken from the
/// right, so that an id holding `_` is still read whole.
pub fn parse_name(file: &str) -> std::result::Result<FileName, String> {
    let mut parts = file.rsplitn(7, '_');
    let mut next = || parts.next().filter(|p| !p.is_empty());
    let (Some(condition), Some(department), Some(stored), Some(order), Some(kind), Some(date), Some(patient)) =
        (next(), next(), next(), next(), next(), next(), next())
    else {
        return Err("its name is not PID_date_kind_order_stored_department_condition".to_string());
    };
    let condition = match condition {
        "1" => Condition::Current,
        "2" => Condition::Superseded,
        "0" => Condition::Deleted,
        other => return Err(format!("its condition is {other:?}: 1 (current), 2 (superseded) or 0 (deleted)")),
    };
    let date = match date {
        "-" => None,
        d if d.len() == 8 && d.bytes().all(|b| b.is_ascii_digit()) => Some(d.to_string()),
        d => return Err(format!("its date of care is {d:?}: YYYYMMDD, or - for patient-level data")),
    };
    // Both 15 and 17 digits are seen (hospital-inputs.md §1.1): 14 to 17 are accepted.
    if !(14..=17).contains(&stored.len()) || !stored.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("its stored time is {stored:?}: YYYYMMDDHHMMSS and up to 3 digits of a second"));
    }
    Ok(FileName {
        patient: patient.to_string(),
        date,
        kind: kind.to_string(),
        order: order.to_string(),
        stored: stored.to_string(),
        department: (department != "-").then(|| department.to_string()),
        condition,
    })
}

/// The key one message's versions share: patient, date of care, data kind, order.
pub type Key = (String, Option<String>, String, String);

impl FileName {
    pub fn key(&self) -> Key {
        (self.patient.clone(), self.date.clone(), self.kind.clone(), self.order.clone())
    }
}

impl Storage {
    fn sort(&mut self) {
        self.files.sort_by(|a, b| a.path.cmp(&b.path));
        self.misplaced.sort_by(|a, b| a.path.cmp(&b.path));
    }

    /// The file that holds each key's current content: its latest `_1` file, unless a `_0` file
    /// stored at the same time or later deleted it (then the key has none). Superseded files never
    /// count.
    pub fn current(&self) -> Vec<&StoredFile> {
        let mut latest: BTreeMap<Key, &StoredFile> = BTreeMap::new();
        for file in self.files.iter().filter(|f| f.name.condition != Condition::Superseded) {
            let later = |kept: &&StoredFile| {
                // Padded so that 15- and 17-digit times compare as times.
                let (a, b) = (pad(&file.name.stored), pad(&kept.name.stored));
                a > b || (a == b && file.name.condition < kept.name.condition)
            };
            match latest.get(&file.name.key()) {
                Some(kept) if !later(kept) => {}
                _ => {
                    latest.insert(file.name.key(), file);
                }
            }
        }
        latest.into_values().filter(|f| f.name.condition == Condition::Current).collect()
    }
}

fn pad(stored: &str) -> String {
    format!("{stored:0<17}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "0123456789_20080126_OML-11_081251234567800_200802031630123_01_1";

    #[test]
    fn the_specifications_sample_name_reads() {
        let name = parse_name(SAMPLE).unwrap();
        assert_eq!(name.patient, "0123456789");
        assert_eq!(name.date.as_deref(), Some("20080126"));
        assert_eq!(name.kind, "OML-11");
        assert_eq!(name.order, "081251234567800");
        assert_eq!(name.department.as_deref(), Some("01"));
        assert_eq!(name.condition, Condition::Current);
        let level = parse_name("9999013_-_PPR-01_999999999999999_20240415103000123_-_1").unwrap();
        assert_eq!((level.date, level.department), (None, None));
    }

    #[test]
    fn names_that_do_not_fit_say_which_part() {
        assert!(parse_name("0123456789_20080126_OML-11").unwrap_err().contains("is not PID_date"));
        let flag = parse_name(&SAMPLE.replace("_01_1", "_01_7")).unwrap_err();
        assert!(flag.contains("condition is \"7\""), "{flag}");
        let date = parse_name(&SAMPLE.replace("20080126", "2008-01-26")).unwrap_err();
        assert!(date.contains("date of care"), "{date}");
        let stored = parse_name(&SAMPLE.replace("200802031630123", "2008")).unwrap_err();
        assert!(stored.contains("stored time"), "{stored}");
    }

    #[test]
    fn folders_must_agree_with_the_name() {
        assert!(check_place(&format!("012/345/0123456789/20080126/OML-11/{SAMPLE}")).is_ok());
        let moved = check_place(&format!("012/345/0123456789/20080127/OML-11/{SAMPLE}")).unwrap_err();
        assert!(moved.contains("date folder is \"20080127\""), "{moved}");
        let prefix = check_place(&format!("012/999/0123456789/20080126/OML-11/{SAMPLE}")).unwrap_err();
        assert!(prefix.contains("patient prefix"), "{prefix}");
    }

    #[test]
    fn walking_a_tree_lists_what_does_not_fit_and_never_follows_a_link() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("012/345/0123456789/20080126/OML-11");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(SAMPLE), "MSH|^~\\&|").unwrap();
        std::fs::write(dir.join("notes.txt"), "").unwrap();
        std::fs::write(root.path().join("012/README"), "").unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("012/345/0123456789/20080127")).unwrap();
        let storage = walk(root.path()).unwrap();
        let files: Vec<&str> = storage.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(files, [format!("012/345/0123456789/20080126/OML-11/{SAMPLE}")]);
        let misplaced: Vec<(&str, &str)> =
            storage.misplaced.iter().map(|m| (m.path.as_str(), m.reason.split(':').next().unwrap())).collect();
        assert_eq!(
            misplaced,
            [
                (
                    "012/345/0123456789/20080126/OML-11/notes.txt",
                    "its name is not PID_date_kind_order_stored_department_condition"
                ),
                ("012/345/0123456789/20080127", "a symbolic link"),
                ("012/README", "a file outside the layout's place for files (ROOT/pid/pid/PID/date/kind/file)"),
            ]
        );
    }

    fn file(stored: &str, condition: Condition) -> StoredFile {
        let name = FileName {
            patient: "0123456789".into(),
            date: Some("20240415".into()),
            kind: "OMP-01".into(),
            order: "000000000012345".into(),
            stored: stored.into(),
            department: None,
            condition,
        };
        StoredFile { path: format!("{stored}-{condition:?}"), name, bytes: 1, modified_ns: 0 }
    }

    #[test]
    fn the_latest_current_version_counts_and_a_deletion_removes_the_key() {
        let storage = Storage {
            files: vec![
                file("20240415100000000", Condition::Superseded),
                file("202404151100000", Condition::Current),
                file("20240415090000000", Condition::Current),
            ],
            misplaced: vec![],
        };
        let current: Vec<&str> = storage.current().iter().map(|f| f.path.as_str()).collect();
        assert_eq!(current, ["202404151100000-Current"]);
        let deleted = Storage {
            files: vec![file("20240415100000000", Condition::Current), file("20240415100000000", Condition::Deleted)],
            misplaced: vec![],
        };
        assert!(deleted.current().is_empty());
    }
}
