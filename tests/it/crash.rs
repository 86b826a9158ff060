//! Kill tests: the real binary killed (SIGKILL) at named moments (`MIDNET_CRASH_AT`, see
//! `src/crash.rs`) and after increasing delays, each kill followed by `audit verify` and a rerun
//! that completes. Each test also asserts that its kills landed where they matter.

use std::path::Path;

use serde_json::Value;

use crate::center::{Center, PASSWORD};
use crate::common::{Run, midnet, midnet_with, tempdir};
use crate::network::Network;
use crate::site::table_counts;

const CRASH_AT: &str = "MIDNET_CRASH_AT";

/// Whether `run` was killed at crash point `point` (a run that never got there exits normally).
fn killed_at(run: &Run, point: &str) -> bool {
    let killed = run.code == -1 && run.stderr.contains(&format!("killed at crash point {point}"));
    assert!(killed || run.code != -1, "killed elsewhere than at {point}:\n{}", run.stderr);
    killed
}

fn head_count(c: &Center) -> u64 {
    let head: Value = serde_json::from_str(&std::fs::read_to_string(c.home.join("seal/head.json")).unwrap()).unwrap();
    head["count"].as_u64().unwrap()
}

fn log_records(c: &Center) -> u64 {
    std::fs::read_to_string(c.audit_log()).unwrap().lines().count() as u64
}

/// `audit verify` after a kill: it passes, and says whether it sealed a record the kill left unsealed.
fn verify_after_kill(c: &Center) -> Run {
    let run = c.run("rev", &["audit", "verify"]).ok();
    assert!(run.stdout.contains("records verified"), "{}", run.stdout);
    run
}

/// Each kind of audited command (read, change, refusal, login, logout, the reviewer's own)
/// killed after its record reached the log and before the head sealed it: the trail verifies,
/// saying what it sealed, and the command run again completes.
#[test]
fn audited_commands_killed_between_append_and_seal_leave_a_trail_that_verifies() {
    let c = Center::with_users();
    c.set_today("2026-06-15");
    c.research_project("p1");
    let password = format!("{PASSWORD}\n");
    let commands: [(&str, &[&str], Option<&str>, i32); 6] = [
        ("carol", &["project", "show", "p1"], None, 0),
        ("carol", &["project", "change", "p1", "--summary", "a summary"], None, 0),
        ("alan", &["project", "grant", "p1", "stella", "analyst"], None, 3),
        ("rev", &["audit", "show"], None, 0),
        // Killed after it closed the session: run again, it finds the session closed.
        ("stella", &["logout"], None, 3),
        ("stella", &["login", "--user", "stella"], Some(password.as_str()), 0),
    ];
    for (user, args, stdin, code) in commands {
        let sealed = head_count(&c);
        let run = c.run_env(user, args, &[(CRASH_AT, "audit-appended")], stdin);
        assert!(killed_at(&run, "audit-appended"), "{args:?} was not killed:\n{}", run.stderr);
        assert_eq!(log_records(&c), sealed + 1, "{args:?}: its record is in the log");
        assert_eq!(head_count(&c), sealed, "{args:?}: the head does not seal it: the kill fell between the two");

        let verify = verify_after_kill(&c);
        let command = match args[0] {
            "login" | "logout" => args[0].to_string(),
            _ => args[..2].join(" "),
        };
        assert!(
            verify.stdout.contains(&format!("record {} ({command} by {user}) was complete but not sealed", sealed + 1)),
            "{args:?}: {}",
            verify.stdout
        );
        let rerun = c.run_env(user, args, &[], stdin);
        assert_eq!(rerun.code, code, "{args:?} run again: {}", rerun.stderr);
    }
    c.run("rev", &["audit", "verify"]).ok();
    let records = c.run("rev", &["audit", "show", "--json"]).ok().json();
    let recoveries = records.as_array().unwrap().iter().filter(|r| r["command"] == "audit recover").count();
    assert_eq!(recoveries, commands.len(), "each recovery is recorded");
}

/// The datasets of a project and whether every extraction is complete with its files in place.
fn assert_complete(n: &Network) {
    let listing = n.datasets("p1");
    let extractions = listing["extractions"].as_array().unwrap();
    assert!(!extractions.is_empty());
    for e in extractions {
        assert!(!e["completed_at"].is_null(), "an extraction left incomplete: {listing}");
    }
    for d in listing["datasets"].as_array().unwrap() {
        let file = n.c.area("p1").join("datasets").join(d["file"].as_str().unwrap());
        assert!(file.is_file(), "{} is missing", file.display());
    }
    let incoming = n.c.area("p1").join("datasets/.incoming");
    let left: Vec<_> = std::fs::read_dir(&incoming).map(|d| d.filter_map(|e| e.ok()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "received site results left behind: {left:?}");
}

/// An extraction killed at each of its steps, and after each of its audit records: the trail
/// verifies, `datasets` answers, and running the extraction again completes it.
#[test]
fn an_extraction_killed_at_any_step_is_completed_by_a_rerun() {
    let n = Network::new();
    n.approve_all();
    let cutoff = ["--cutoff", "2025-09-30"];
    let named = ["extract-catalog", "extract-begun", "extract-received", "extract-unioned", "extract-recorded"];
    let mut points: Vec<String> = named.iter().map(|p| p.to_string()).collect();
    points.extend((1..=12).map(|k| format!("audit-appended:{k}")));
    let mut kills = 0;
    let mut finished = false;
    for point in &points {
        let run = n.extract_env("p1", &cutoff, &[(CRASH_AT, point)]);
        let name = point.split(':').next().unwrap();
        if !killed_at(&run, name) {
            assert!(point.starts_with("audit-appended"), "{point} was never reached:\n{}", run.stderr);
            run.ok();
            finished = true;
            break;
        }
        kills += 1;
        verify_after_kill(&n.c);
        n.c.run("alan", &["datasets", "--project", "p1"]).ok();
        n.extract("p1", &cutoff).ok();
        assert_complete(&n);
    }
    assert!(finished, "an extraction makes more audit records than the kills tried");
    assert!(kills >= named.len() + 4, "kills at every step and after several audit records: {kills}");
    n.c.run("rev", &["audit", "verify"]).ok();
}

/// A site's database after a clean load of `import`, for comparing.
fn clean_load(dir: &Path, import: &str) -> Vec<(String, i64)> {
    midnet(dir, &["site", "init", "--site", "reference"]).ok();
    midnet(dir, &["site", "load", "--site", "reference", import]).ok();
    table_counts(&dir.join("reference/site.duckdb"))
}

/// A load killed mid-transaction, right after its commit, and after increasing delays: the
/// rerun completes, and the site then holds exactly what one clean load gives (one data version,
/// no row twice).
#[test]
fn a_load_killed_at_any_moment_is_completed_by_a_rerun_without_duplicates() {
    let dir = tempdir();
    midnet(dir.path(), &["synth", "--site-count", "1", "--patients", "3000", "--seed", "9", "--dir", "net"]).ok();
    let import = "net/site01/import";
    let expected = clean_load(dir.path(), import);
    let versions = |site: &str| {
        let conn = duckdb::Connection::open(dir.path().join(site).join("site.duckdb")).unwrap();
        conn.query_row("SELECT count(*) FROM load_history", [], |r| r.get::<_, i64>(0)).unwrap()
    };
    let rerun_and_compare = |site: &str, what: &str| {
        midnet(dir.path(), &["site", "load", "--site", site, import]).ok();
        assert_eq!(table_counts(&dir.path().join(site).join("site.duckdb")), expected, "after {what}");
    };

    for point in ["load-inserted:1", "load-inserted:4", "load-committed"] {
        let site = format!("at-{}", point.replace(':', "-"));
        midnet(dir.path(), &["site", "init", "--site", &site]).ok();
        let run = midnet_with(dir.path(), &["site", "load", "--site", &site, import], &[(CRASH_AT, point)], None);
        assert!(killed_at(&run, point.split(':').next().unwrap()), "{point}: {}", run.stderr);
        let committed = versions(&site);
        assert_eq!(committed, i64::from(point == "load-committed"), "{point}");
        rerun_and_compare(&site, point);
    }

    // Kills after growing delays: the first ones land before the commit; the delays then double
    // until one lands after it, however slow the machine is today.
    let mut before_commit = 0;
    let mut after_commit = 0;
    let mut delays = vec![0u64, 20, 60, 120, 200, 300, 450, 700];
    let mut n = 0;
    while let Some(delay_ms) = delays.get(n).copied() {
        let site = format!("s{n}");
        midnet(dir.path(), &["site", "init", "--site", &site]).ok();
        let mut child = std::process::Command::new(crate::common::midnet_bin())
            .args(["site", "load", "--site", &site, import])
            .current_dir(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        if versions(&site) == 0 {
            before_commit += 1
        } else {
            after_commit += 1
        }
        rerun_and_compare(&site, &format!("a kill after {delay_ms} ms"));
        n += 1;
        if n == delays.len() && after_commit == 0 && delay_ms < 60_000 {
            delays.push(delay_ms * 2);
        }
    }
    assert!(before_commit > 0, "no kill came before the load committed");
    assert!(
        after_commit > 0,
        "no kill (or end) came after the load committed, even after {} ms",
        delays.last().unwrap()
    );
}
