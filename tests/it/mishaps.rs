//! What an unlucky operator or a careless user runs into, each with a clear message naming what is
//! wrong and where, and nothing recorded that did not happen: a symbolic link in a work area at
//! termination, a catalog left half made by a killed extraction, an extraction with a failed
//! site, a copy recorded as deleted while it is still there, another user's copy reported lost.

use std::path::PathBuf;

use serde_json::Value;

use crate::center::{Center, write};
use crate::network::Network;

/// Termination deletes a symbolic link in `work/` as a link: the directory or file it points to,
/// outside the project, stays untouched and is never read; the link is audited by its target.
#[test]
fn terminate_deletes_symbolic_links_in_the_work_area_without_following_them() {
    let c = Center::with_users();
    c.set_today("2026-06-15");
    c.research_project("p1");
    let outside = c.root.join("outside");
    write(&outside.join("secret.csv"), "a,b\n");
    let work = c.area("p1").join("work");
    write(&work.join("notes/km.csv"), "time,survival\n");
    std::os::unix::fs::symlink(&outside, work.join("linked-dir")).unwrap();
    std::os::unix::fs::symlink(outside.join("secret.csv"), work.join("notes/linked-file.csv")).unwrap();
    std::os::unix::fs::symlink(c.root.join("nowhere"), work.join("dangling")).unwrap();

    let t = c.run("carol", &["project", "terminate", "p1", "--json"]).ok().json();
    let deleted: Vec<&str> = t["deleted"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    assert_eq!(deleted, ["work/dangling", "work/linked-dir", "work/notes/km.csv", "work/notes/linked-file.csv"]);
    assert!(std::fs::read_dir(&work).unwrap().next().is_none(), "work/ is empty");
    assert_eq!(std::fs::read_to_string(outside.join("secret.csv")).unwrap(), "a,b\n", "the target is untouched");
    let shown = c.run("carol", &["project", "show", "p1", "--json"]).ok().json();
    assert_eq!(shown["state"], "terminated");

    let records = c.run("rev", &["audit", "show", "--project", "p1", "--json"]).ok().json();
    let link = records
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["file"]["path"] == "work/linked-dir")
        .expect("the link's deletion is audited");
    let target_sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(outside.display().to_string().as_bytes()))
    };
    assert_eq!(link["file"]["sha256"], target_sha.as_str(), "a link is recorded by the SHA-256 of its target path");
}

/// An extraction killed while it created the project's catalog left some of its tables (before
/// the catalog was made in one transaction): `datasets` still answers.
#[test]
fn datasets_answers_after_an_extraction_killed_in_its_first_moments() {
    let c = Center::with_users();
    c.set_today("2026-06-15");
    c.research_project("p1");
    c.run("carol", &["project", "grant", "p1", "alan", "analyst"]).ok();
    let conn = duckdb::Connection::open(c.area("p1").join("project.duckdb")).unwrap();
    conn.execute_batch(
        "CREATE TABLE extraction (extraction INTEGER PRIMARY KEY, script_sha256 VARCHAR NOT NULL, study VARCHAR NOT NULL, \
         params_json VARCHAR NOT NULL, cutoff VARCHAR, sites_json VARCHAR NOT NULL, requested_by VARCHAR NOT NULL, \
         started_at TIMESTAMP NOT NULL, completed_at TIMESTAMP, partial BOOLEAN NOT NULL DEFAULT false)",
    )
    .unwrap();
    drop(conn);
    let listing = c.run("alan", &["datasets", "--project", "p1"]).ok().stdout;
    assert!(listing.contains("no extractions yet"), "{listing}");
    let json = c.run("alan", &["datasets", "--project", "p1", "--json"]).ok().json();
    assert_eq!(json["extractions"], serde_json::json!([]));
}

/// An extraction in which a site failed exits 1 and is audited as such, with the reason.
#[test]
fn an_extraction_with_a_failed_site_is_audited_as_failed() {
    let n = Network::new();
    n.approve(0, &[]).ok();
    n.approve(1, &[]).ok();
    n.extract("p1", &["--cutoff", "2025-09-30"]).fails(1, "extraction 1 is incomplete");
    let records = n.c.run("rev", &["audit", "show", "--project", "p1", "--json"]).ok().json();
    let extract = records.as_array().unwrap().iter().rev().find(|r| r["command"] == "extract").unwrap();
    assert_eq!(extract["result"], "error", "{extract}");
    assert!(extract["message"].as_str().unwrap().contains("extraction 1 is incomplete"), "{extract}");
}

/// A project whose table was released, with copies fetched by stella (statistics user) and alan.
fn released_with_copies() -> (Center, PathBuf, PathBuf) {
    let c = Center::with_users();
    c.set_today("2026-06-15");
    c.research_project("p1");
    c.run("carol", &["project", "grant", "p1", "alan", "analyst"]).ok();
    c.run("carol", &["project", "grant", "p1", "stella", "statistics_user"]).ok();
    write(&c.area("p1").join("work/t.csv"), "sex,patients\nM,120\nF,130\n");
    c.run("alan", &["export", "request", "--project", "p1", "t.csv", "--note", "n"]).ok();
    c.run("rev", &["export", "review", "req-1", "--project", "p1", "--approve", "--note", "checked"]).ok();
    let mut copies = Vec::new();
    for user in ["stella", "alan"] {
        let desk = c.root.join(format!("{user}-desk"));
        std::fs::create_dir_all(&desk).unwrap();
        c.run(user, &["export", "fetch", "--project", "p1", "t.csv", "--into", &desk.display().to_string()]).ok();
        copies.push(std::fs::canonicalize(&desk).unwrap().join("t.csv"));
    }
    let alan = copies.pop().unwrap();
    (c, copies.pop().unwrap(), alan)
}

fn copy_status(c: &Center, copy: &std::path::Path) -> Value {
    let ledger = c.run("rev", &["export", "ledger", "--project", "p1", "--json"]).ok().json();
    let copies = ledger["files"][0]["copies"].as_array().unwrap().clone();
    copies.into_iter().find(|k| k["to"] == copy.display().to_string().as_str()).unwrap()["status"].clone()
}

/// `export delete` records a deletion only when the copy is gone from where it was fetched to.
#[test]
fn a_copy_still_in_place_is_not_recorded_as_deleted() {
    let (c, stella, _) = released_with_copies();
    let path = stella.display().to_string();
    let args = ["export", "delete", "--project", "p1", "t.csv", "--copy", &path, "--note", "deleted with shred"];
    c.run("stella", &args).fails(2, &format!("the copy {path} is still there"));
    assert_eq!(copy_status(&c, &stella), "held");
    std::fs::remove_file(&stella).unwrap();
    c.run("stella", &args).ok();
    assert_eq!(copy_status(&c, &stella), "deleted");
}

/// A statistics user or analyst reports the loss or deletion of their own copies; another user's
/// copy is reported by its holder, the contractor or a reviewer.
#[test]
fn a_user_cannot_report_another_users_copy_lost() {
    let (c, stella, alan) = released_with_copies();
    let report = |user: &str, copy: &std::path::Path| {
        let copy = copy.display().to_string();
        c.run(user, &["export", "report-loss", "--project", "p1", "t.csv", "--copy", &copy, "--note", "laptop stolen"])
    };
    let refused = report("stella", &alan).fails(3, "refused (role)");
    assert!(refused.stderr.contains("fetched by alan"), "{}", refused.stderr);
    assert_eq!(copy_status(&c, &alan), "held");
    // Without --copy, a user's own copy is meant.
    c.run("stella", &["export", "report-loss", "--project", "p1", "t.csv", "--note", "laptop stolen"]).ok();
    assert_eq!(copy_status(&c, &stella), "lost");
    assert_eq!(copy_status(&c, &alan), "held");
    report("carol", &alan).ok();
    assert_eq!(copy_status(&c, &alan), "lost");
}
