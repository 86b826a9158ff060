//! Keys and signed messages inside the real extraction (issue 22): the site's and the center's key
//! pairs, the registry's keys and their revocation, each forged, altered, replayed or expired
//! message refused and recorded on both sides, and the site's own hash-chained log.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::Value;

use crate::center::Center;
use crate::common::{midnet, tempdir};
use crate::network::Network;

const CUTOFF: &[&str] = &["--cutoff", "2025-09-30"];

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

/// The site's log, verified, as JSON records.
fn site_log(n: &Network, site: usize) -> Vec<Value> {
    let dir = n.sites[site].display().to_string();
    let log = n.c.run("rev", &["site", "log", "--site", &dir, "--json"]).ok().json();
    assert_eq!(log["verified"], true);
    log["records"].as_array().unwrap().clone()
}

fn events(records: &[Value]) -> Vec<&str> {
    records.iter().map(|r| r["event"].as_str().unwrap()).collect()
}

/// Run the extraction with `MIDNET_FAULT=FAULT` at site01: only site01 fails, naming `why`; the
/// others are accepted and no dataset is made. Returns site01's failure reason.
fn refused_at_site01(n: &Network, fault: &str, why: &str) -> String {
    let run = n.extract_env("p1", CUTOFF, &[("MIDNET_FAULT", fault)]).fails(1, "incomplete");
    let report = run.json();
    let failed: Vec<&Value> =
        report["sites"].as_array().unwrap().iter().filter(|s| s["status"] != "accepted").collect();
    assert_eq!(failed.len(), 1, "{report}");
    let reason = failed[0]["reason"].as_str().unwrap().to_string();
    assert!(reason.contains(why), "{fault}: {reason}");
    assert!(report["datasets"].as_array().unwrap().is_empty(), "nothing is unioned: {report}");
    let audit = std::fs::read_to_string(n.c.audit_log()).unwrap();
    let site = failed[0]["site"].as_str().unwrap();
    assert!(audit.contains(&format!("extract: site {site} refused")), "the center's audit trail records it");
    reason
}

/// After a refusal, the extraction completes for the refused site alone: nothing was lost.
fn completes(n: &Network) {
    let done = n.extract("p1", &["--cutoff", "2025-09-30", "--sites", "site01"]).ok().json();
    assert_eq!(done["datasets"][0]["sites"].as_array().unwrap().len(), 3, "{done}");
}

#[test]
fn site_init_makes_an_owner_only_key_pair_and_shows_the_public_key() {
    let dir = tempdir();
    let created = midnet(dir.path(), &["site", "init", "--site", "s", "--json"]).ok().json();
    let key = created["public_key"]["key"].as_str().unwrap();
    assert_eq!(key.len(), 64);
    assert!(created["public_key"]["key_id"].as_str().unwrap().starts_with("ed25519:"));
    assert_eq!(mode(&dir.path().join("s/keys/site.key")), 0o600, "the private key is owner-only");
    assert_eq!(mode(&dir.path().join("s/keys")), 0o700);
    assert_eq!(std::fs::read_to_string(dir.path().join("s/keys/site.pub")).unwrap().trim(), key);
    let shown = midnet(dir.path(), &["site", "key", "--site", "s", "--json"]).ok().json();
    assert_eq!((shown["key"].as_str().unwrap(), &shown["made"]), (key, &Value::Bool(false)), "the pair is kept");
}

#[test]
fn the_center_signs_with_its_own_key_and_a_home_without_one_gets_it_at_first_need() {
    let c = Center::new();
    let key = c.run("rev", &["center", "key", "--json"]).ok().json();
    assert_eq!(mode(&c.home.join("keys/center.key")), 0o600);
    let public = std::fs::read_to_string(c.home.join("keys/center.pub")).unwrap();
    assert_eq!(key["key"].as_str().unwrap(), public.trim());
    let audit = std::fs::read_to_string(c.audit_log()).unwrap();
    assert!(!audit.contains("at first need"), "center init made the key");

    // A home made before keys existed.
    std::fs::remove_dir_all(c.home.join("keys")).unwrap();
    let made = c.run("rev", &["center", "key", "--json"]).ok().json();
    assert_ne!(made["key"], key["key"]);
    assert_eq!(mode(&c.home.join("keys/center.key")), 0o600);
    let audit = std::fs::read_to_string(c.audit_log()).unwrap();
    assert!(audit.contains("\"command\":\"center key\"") && audit.contains("at first need"), "{audit}");
    c.run("rev", &["audit", "verify"]).ok();
}

#[test]
fn a_site_registered_without_a_key_is_asked_nothing_until_one_is_registered_and_retiring_revokes_it() {
    let n = Network::new();
    n.approve_all();
    // A registry written before midnet signed results: no keys.
    let registry = n.c.home.join("sites.json");
    let mut sites: Value = serde_json::from_str(&std::fs::read_to_string(&registry).unwrap()).unwrap();
    sites["site"].as_array_mut().unwrap().iter_mut().for_each(|s| {
        s.as_object_mut().unwrap().remove("key");
    });
    std::fs::write(&registry, serde_json::to_string(&sites).unwrap()).unwrap();
    n.extract("p1", CUTOFF).fails(3, "refused (site_key): site site01: no public key is registered for it");
    let run = n.extract("p1", CUTOFF).fails(3, "`midnet center sites key site01 FILE`");
    assert!(run.stdout.is_empty(), "nothing was extracted");

    for (i, id) in ["site01", "site02", "site03"].iter().enumerate() {
        let file = n.sites[i].join("keys/site.pub").display().to_string();
        n.c.run("carol", &["center", "sites", "key", id, &file]).fails(3, "refused (role)");
        let said = n.c.run("rev", &["center", "sites", "key", id, &file]).ok();
        assert!(said.stdout.contains(&format!("{id}: key ed25519:")), "{}", said.stdout);
    }
    n.extract("p1", CUTOFF).ok();

    n.c.run("rev", &["center", "sites", "retire", "site03"]).ok();
    let list = n.c.run("rev", &["center", "sites", "list", "--json"]).ok().json();
    let site03 = list.as_array().unwrap().iter().find(|s| s["id"] == "site03").unwrap();
    assert!(site03.get("key").is_none(), "a retired site has no key: {site03}");
    assert_eq!(site03["retired"]["revoked_key"].as_str().unwrap().len(), 64, "{site03}");
    let file = n.sites[2].join("keys/site.pub").display().to_string();
    n.c.run("rev", &["center", "sites", "key", "site03", &file]).fails(3, "refused (site_retired)");
}

#[test]
fn an_answer_signed_by_a_foreign_key_is_refused() {
    let n = Network::new();
    n.approve_all();
    let reason = refused_at_site01(&n, "foreign-answer:site01", "a foreign key");
    assert!(reason.contains("result manifest from site"), "{reason}");
    completes(&n);
}

#[test]
fn an_answer_altered_after_it_was_signed_is_refused() {
    let n = Network::new();
    n.approve_all();
    refused_at_site01(&n, "altered-answer:site01", "altered after it was signed");
    completes(&n);
}

#[test]
fn a_manifest_altered_in_transfer_is_refused_against_the_signed_hash() {
    let n = Network::new();
    n.approve_all();
    let reason = refused_at_site01(&n, "alter-manifest:site01", "its manifest was altered or truncated in transfer");
    assert!(reason.contains("where the site signed"), "{reason}");
    completes(&n);
}

#[test]
fn a_request_not_signed_by_the_pinned_center_key_is_refused_by_the_site_and_logged() {
    let n = Network::new();
    n.approve_all();
    let reason = refused_at_site01(&n, "foreign-request:site01", "a foreign key");
    assert!(reason.contains("work request from the data center"), "{reason}");
    let log = site_log(&n, 0);
    let last = log.last().unwrap();
    assert_eq!(last["event"], "refused", "{last}");
    assert!(last["detail"].as_str().unwrap().contains("a foreign key"), "{last}");
    assert!(!events(&log).contains(&"asked"), "a forged request is never taken as asked: {log:?}");
    completes(&n);
}

#[test]
fn a_site_that_pinned_no_center_key_believes_no_request() {
    let n = Network::new();
    n.approve_all();
    std::fs::remove_file(n.sites[0].join("keys/center.pub")).unwrap();
    let reason = refused_at_site01(&n, "none", "refused (center_key)");
    assert!(reason.contains("midnet site trust-center --site"), "{reason}");
    n.c.trust_center(&n.sites[0]);
    completes(&n);
}

#[test]
fn an_expired_request_is_refused_by_the_site_and_logged() {
    let n = Network::new();
    n.approve_all();
    let reason = refused_at_site01(&n, "expired-request:site01", "refused (expired): work request r");
    assert!(reason.contains("never run late"), "{reason}");
    let log = site_log(&n, 0);
    assert_eq!(log.last().unwrap()["event"], "refused");
    assert!(!n.sites[0].join("outbox").join("p1-x1").exists(), "nothing ran");
    completes(&n);
}

#[test]
fn a_replayed_request_is_refused_after_a_restart() {
    let n = Network::new();
    n.approve_all();
    // site01 runs request 1 but its answer is refused, so the extraction stays open.
    refused_at_site01(&n, "foreign-answer:site01", "a foreign key");
    let asked: Vec<Value> = site_log(&n, 0).into_iter().filter(|r| r["event"] == "asked").collect();
    assert_eq!(asked.len(), 1);
    // A new process delivers that same request again instead of a fresh one.
    let reason = refused_at_site01(&n, "replay-request:site01", "refused (replay)");
    let nonce = asked[0]["nonce"].as_str().unwrap();
    assert!(reason.contains(&format!("its nonce {nonce} was already received")), "{reason}");
    let log = site_log(&n, 0);
    assert_eq!(events(&log).iter().filter(|e| **e == "asked").count(), 1, "the replay was not run: {log:?}");
    assert_eq!(log.last().unwrap()["event"], "refused");
    completes(&n);
}

#[test]
fn the_site_log_records_what_was_approved_asked_and_sent_and_detects_an_edited_line() {
    let n = Network::new();
    n.approve_all();
    n.extract("p1", CUTOFF).ok();
    let log = site_log(&n, 1);
    assert_eq!(events(&log), ["approved", "asked", "sent"], "{log:?}");
    assert_eq!(log[1]["request"], log[2]["request"]);
    assert!(log[2]["detail"].as_str().unwrap().contains("under approval #1"), "{log:?}");
    let dir = n.sites[1].display().to_string();
    let text = n.c.run("rev", &["site", "log", "--site", &dir]).ok().stdout;
    assert!(text.contains("3 records; the hash chain verifies"), "{text}");

    // Someone edits what the site was asked.
    let file = n.sites[1].join("log.jsonl");
    let edited = std::fs::read_to_string(&file).unwrap().replacen("asked by the data center", "asked by nobody", 1);
    std::fs::write(&file, edited).unwrap();
    n.c.run("rev", &["site", "log", "--site", &dir]).fails(6, "line 2: record 2 was edited");
    // The site then believes no request until its staff have looked.
    let run = n.extract("p1", &["--cutoff", "2025-09-30", "--sites", "site02"]).fails(1, "incomplete");
    let reason = run.json()["sites"][0]["reason"].as_str().unwrap().to_string();
    assert!(reason.contains("was changed outside midnet"), "{reason}");
}
