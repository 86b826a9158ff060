//! Everything under the data center's home is owner-only (docs/projects.md): after a flow like the
//! demo's (users and sessions, a project, an extraction, statistics and a query result in work/, an
//! export request reviewed and released, a copy fetched out), every file under the home is 0600
//! and every directory 0700, DuckDB's files and the audit log included. The one copy that leaves
//! the home for a person keeps the mode their umask gives.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::network::Network;

/// Every file and directory under `dir` with its permission bits.
fn walk(dir: &Path, found: &mut Vec<(PathBuf, u32)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        found.push((path.clone(), meta.permissions().mode() & 0o777));
        if meta.is_dir() {
            walk(&path, found);
        }
    }
}

/// Assert that every directory under `home` (and itself) is 0700 and every file 0600; the entries.
#[track_caller]
pub fn assert_owner_only(home: &Path) -> Vec<PathBuf> {
    let mut found = vec![(home.to_path_buf(), std::fs::metadata(home).unwrap().permissions().mode() & 0o777)];
    walk(home, &mut found);
    let open: Vec<String> = found
        .iter()
        .filter(|(path, mode)| *mode != if path.is_dir() { 0o700 } else { 0o600 })
        .map(|(path, mode)| format!("{mode:o} {}", path.display()))
        .collect();
    assert!(
        open.is_empty(),
        "{} of {} entries under the home are not owner-only:\n{}",
        open.len(),
        found.len(),
        open.join("\n")
    );
    found.into_iter().map(|(path, _)| path).collect()
}

/// The umask of this test process, which the binary inherits: read from /proc, as umask(2) would
/// change it for every thread while it looks.
fn umask() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find_map(|l| l.strip_prefix("Umask:")).expect("a Umask line");
    u32::from_str_radix(line.trim(), 8).unwrap()
}

#[test]
fn every_file_under_the_home_is_owner_only_and_a_fetched_copy_keeps_the_umask() {
    let n = Network::new();
    n.approve_all();
    n.extract("p1", &["--cutoff", "2025-09-30"]).ok();
    let km = ["stats", "km", "--project", "p1", "--dataset", "cohort", "--time", "alt_gt_3uln_days", "--event"];
    n.c.run("alan", &[&km[..], &["alt_gt_3uln_event", "--group", "group", "--at", "90"]].concat()).ok();
    n.c.run(
        "alan",
        &["work", "sql", "--project", "p1", "--out", "patients.csv", r#"SELECT count(*) AS patients FROM "cohort@1""#],
    )
    .ok();
    n.c.run("carol", &["project", "grant", "p1", "stella", "statistics_user"]).ok();
    let filed =
        n.c.run("alan", &["export", "request", "--project", "p1", "--json", "patients.csv", "--note", "cohort size"])
            .ok()
            .json();
    let id = filed["id"].as_str().unwrap();
    n.c.run("rev", &["export", "review", id, "--project", "p1", "--approve", "--note", "checked every cell"]).ok();
    let desk = n.c.root.join("stella-desk");
    std::fs::create_dir(&desk).unwrap();
    n.c.run("stella", &["export", "fetch", "--project", "p1", "patients.csv", "--into", desk.to_str().unwrap()]).ok();

    let found = assert_owner_only(&n.c.home);
    let area = n.c.area("p1");
    for expected in ["datasets", "work/stats", "review", "released"] {
        assert!(found.iter().any(|p| p.starts_with(area.join(expected))), "the flow made nothing in {expected}");
    }

    let copy = std::fs::metadata(desk.join("patients.csv")).unwrap().permissions().mode() & 0o777;
    assert_eq!(copy, 0o666 & !umask(), "the fetched copy follows the person's umask ({:o})", umask());
}
