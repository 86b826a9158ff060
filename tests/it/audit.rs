//! The audit trail: what it records, `audit show` and `audit sessions`, and `audit verify`
//! catching each kind of tampering and naming the first bad record.

use sha2::{Digest, Sha256};

use crate::center::{Center, PASSWORD};

/// A home with some history: logins, a project, a refusal, a logout.
fn center_with_history() -> Center {
    let c = Center::with_users();
    c.set_today("2026-06-15");
    c.research_project("p1");
    c.run("carol", &["project", "grant", "p1", "alan", "analyst"]).ok();
    c.run("alan", &["project", "grant", "p1", "stella", "analyst"]).fails(3, "refused (role)");
    c.run("alan", &["logout"]).ok();
    c
}

#[test]
fn every_command_login_logout_and_refusal_is_recorded() {
    let c = center_with_history();
    let records = c.run("rev", &["audit", "show", "--json"]).ok().json();
    let records = records.as_array().unwrap();
    let find = |command: &str, user: &str| {
        records
            .iter()
            .find(|r| r["command"] == command && r["user"] == user)
            .unwrap_or_else(|| panic!("no {command} by {user}"))
    };
    assert_eq!(find("center init", "rev")["result"], "ok");
    assert_eq!(find("login", "alan")["result"], "ok");
    let refusal = find("project grant", "alan");
    assert_eq!([&refusal["result"], &refusal["rule"], &refusal["project"]], ["refused", "role", "p1"]);
    assert_eq!(refusal["simulated_today"], "2026-06-15", "a record of a simulated home says so");
    let set = find("center clock set", "rev");
    assert_eq!([&set["result"], &set["args"][3]], ["ok", "2026-06-15"], "moving the clock is audited");
    assert!(records.iter().all(|r| r["simulated_today"].is_string()), "every record of a simulated home is marked");
    assert_eq!(refusal["args"][0], "project");
    assert!(refusal["time"].as_str().unwrap().ends_with('Z'));
    let logout = find("logout", "alan");
    assert_eq!(logout["session"], find("login", "alan")["session"]);
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r["seq"], i as u64 + 1);
    }

    // Filters: by project, user and UTC date.
    let p1 = c.run("rev", &["audit", "show", "--project", "p1", "--user", "carol", "--json"]).ok().json();
    assert!(p1.as_array().unwrap().iter().all(|r| r["project"] == "p1" && r["user"] == "carol"));
    assert_eq!(p1.as_array().unwrap().len(), 1, "{p1}");
    let none = c.run("rev", &["audit", "show", "--to", "2000-01-01", "--json"]).ok().json();
    assert!(none.as_array().unwrap().is_empty());
    let text = c.run("rev", &["audit", "show", "--user", "alan"]).ok().stdout;
    assert!(text.contains("refused (role)"), "{text}");
    c.run("carol", &["audit", "show"]).fails(3, "refused (role)");

    // Sessions: login time, length, how it ended, what was done in it.
    let sessions = c.run("rev", &["audit", "sessions", "--user", "alan", "--json"]).ok().json();
    assert_eq!(sessions.as_array().unwrap().len(), 1);
    assert_eq!(sessions[0]["ended_by"], "logout");
    assert_eq!(sessions[0]["commands"], 1);
    let text = c.run("rev", &["audit", "sessions"]).ok().stdout;
    assert!(text.contains("carol") && text.contains("last command"), "{text}");
}

/// Rewrite the log with `tamper` applied to its lines, run `audit verify`, then restore the log
/// and its head as they were.
fn verify_tampered(c: &Center, tamper: impl FnOnce(&mut Vec<String>)) -> crate::common::Run {
    let log = c.audit_log();
    let head = c.home.join("seal/head.json");
    let (original_log, original_head) = (std::fs::read(&log).unwrap(), std::fs::read(&head).unwrap());
    let mut lines: Vec<String> = String::from_utf8(original_log.clone()).unwrap().lines().map(str::to_string).collect();
    tamper(&mut lines);
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    let run = c.run("rev", &["audit", "verify"]);
    std::fs::write(&log, original_log).unwrap();
    std::fs::write(&head, original_head).unwrap();
    run
}

/// Recompute a record's hash over its bytes before `,"hash":` as an attacker would (the mac, which
/// needs the key, stays as it was), and point it at `prev`.
fn rehash(line: &str, prev: &str) -> (String, String) {
    let cut = line.rfind(",\"hash\":\"").unwrap();
    let mut body = line[..cut].to_string();
    let at = body.rfind("\"prev\":\"").unwrap() + "\"prev\":\"".len();
    body.replace_range(at..at + 64, prev);
    let hash = hex::encode(Sha256::digest(body.as_bytes()));
    let tail = &line[cut..];
    let mac_at = tail.find(",\"mac\":").unwrap();
    (format!("{body},\"hash\":\"{hash}\"{}", &tail[mac_at..]), hash)
}

#[test]
fn verify_names_the_first_record_of_each_kind_of_tampering() {
    let c = center_with_history();
    let ok = c.run("rev", &["audit", "verify"]).ok();
    assert!(ok.stdout.contains("records verified"), "{}", ok.stdout);

    let edited = verify_tampered(&c, |lines| lines[2] = lines[2].replace("\"user\":\"", "\"user\":\"x"));
    edited.fails(6, "line 3: record 3 was edited");
    let deleted = verify_tampered(&c, |lines| {
        lines.remove(3);
    });
    deleted.fails(6, "line 4: holds record 5 where record 4 was expected");
    let inserted = verify_tampered(&c, |lines| {
        let copy = lines[1].clone();
        lines.insert(2, copy);
    });
    inserted.fails(6, "line 3: holds record 2 where record 3 was expected");
    let reordered = verify_tampered(&c, |lines| lines.swap(4, 5));
    reordered.fails(6, "line 5: holds record 6 where record 5 was expected");
    let cut = verify_tampered(&c, |lines| lines.truncate(lines.len() - 2));
    let n = std::fs::read_to_string(c.audit_log()).unwrap().lines().count();
    cut.fails(6, &format!("records {}..{} were cut off its tail", n - 1, n));
    let garbage = verify_tampered(&c, |lines| lines.insert(6, "{\"seq\": 7}".to_string()));
    garbage.fails(6, "line 7: not an audit record");

    // A rebuilt chain: record 4 edited and every hash from there recomputed, so every link holds;
    // the seal, which needs the key, does not.
    let rebuilt = verify_tampered(&c, |lines| {
        let mut prev = {
            let l = &lines[2];
            let at = l.rfind(",\"hash\":\"").unwrap() + ",\"hash\":\"".len();
            l[at..at + 64].to_string()
        };
        lines[3] = lines[3].replace("\"result\":\"ok\"", "\"result\":\"refused\"");
        for line in lines.iter_mut().skip(3) {
            let (new, hash) = rehash(line, &prev);
            *line = new;
            prev = hash;
        }
    });
    rebuilt.fails(6, "line 4: record 4: its seal (mac) does not verify: the chain was rebuilt");

    // A rebuilt head without the key, and a log swapped for another home's (valid) log.
    let head = c.home.join("seal/head.json");
    let original_head = std::fs::read_to_string(&head).unwrap();
    let count = serde_json::from_str::<serde_json::Value>(&original_head).unwrap()["count"].as_u64().unwrap();
    std::fs::write(&head, original_head.replace(&format!("\"count\": {count}"), &format!("\"count\": {}", count - 1)))
        .unwrap();
    c.run("rev", &["audit", "verify"]).fails(6, "the sealed head of the audit log does not verify");
    std::fs::write(&head, &original_head).unwrap();
    let other = Center::new();
    let foreign = std::fs::read_to_string(other.audit_log()).unwrap();
    let swapped = verify_tampered(&c, |lines| *lines = foreign.lines().map(str::to_string).collect());
    swapped.fails(6, "line 1: record 1: its seal (mac) does not verify");

    // After all that, restored, the log verifies again (the verify runs were recorded too).
    c.run("rev", &["audit", "verify"]).ok();
    c.login("alan", PASSWORD).ok();
    c.run("alan", &["audit", "verify"]).fails(3, "refused (role)");
}

fn head_count(c: &Center) -> u64 {
    let head: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(c.home.join("seal/head.json")).unwrap()).unwrap();
    head["count"].as_u64().unwrap()
}

fn log_lines(c: &Center) -> Vec<String> {
    std::fs::read_to_string(c.audit_log()).unwrap().lines().map(str::to_string).collect()
}

/// What a kill between the append and the seal leaves: the command's record in the log, the head
/// as it was before. (tests/it/crash.rs kills the real binary at that moment.)
#[test]
fn a_record_the_head_never_sealed_is_sealed_by_the_next_command_and_verify_says_so() {
    let c = center_with_history();
    let head = c.home.join("seal/head.json");
    let before = std::fs::read(&head).unwrap();
    let sealed = head_count(&c);
    c.run("carol", &["project", "show", "p1"]).ok();
    std::fs::write(&head, before).unwrap();
    assert_eq!(log_lines(&c).len() as u64, sealed + 1);

    let verify = c.run("rev", &["audit", "verify"]).ok();
    let unsealed = sealed + 1;
    assert!(
        verify.stdout.contains(&format!("record {unsealed} (project show by carol) was complete but not sealed")),
        "{}",
        verify.stdout
    );
    assert!(verify.stdout.contains("records verified"), "{}", verify.stdout);
    // The recovery is itself a record, and the trail verifies from then on.
    let records = c.run("rev", &["audit", "show", "--json"]).ok().json();
    let recover = records.as_array().unwrap().iter().find(|r| r["command"] == "audit recover").unwrap();
    assert_eq!(recover["seq"], unsealed + 1);
    assert_eq!(recover["result"], "error");
    assert!(recover["message"].as_str().unwrap().contains("not sealed"), "{recover}");
    let again = c.run("rev", &["audit", "verify"]).ok();
    assert!(!again.stdout.contains("recovered"), "{}", again.stdout);
}

/// A partial last line (a write cut short: a power cut, a full disk) is cut from the log and kept
/// aside; verify says so. Bytes after the head that are not the start of the next record are not
/// a torn write: they were put there by something else.
#[test]
fn a_torn_last_line_is_cut_kept_aside_and_reported() {
    let c = center_with_history();
    let sealed = head_count(&c);
    let original = std::fs::read_to_string(c.audit_log()).unwrap();
    let torn = format!("{{\"seq\":{},\"time\":\"2026-06-15T02:03:04.567Z\",\"user\":\"ca", sealed + 1);
    std::fs::write(c.audit_log(), format!("{original}{torn}")).unwrap();

    let verify = c.run("rev", &["audit", "verify"]).ok();
    assert!(
        verify.stdout.contains(&format!("ended in {} bytes of an unfinished record {}", torn.len(), sealed + 1)),
        "{}",
        verify.stdout
    );
    let kept = c.home.join(format!("audit/torn-{}.part", sealed + 1));
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), torn, "the cut bytes are kept");
    let lines = log_lines(&c);
    assert!(lines.iter().all(|l| l.ends_with('}')), "no partial line is left");
    assert!(lines[sealed as usize].contains("\"command\":\"audit recover\""), "{}", lines[sealed as usize]);
    c.run("rev", &["audit", "verify"]).ok();

    // Anything else after the head is tampering, and stops every command until restored.
    let log = std::fs::read_to_string(c.audit_log()).unwrap();
    std::fs::write(c.audit_log(), format!("{log}{{\"seq\": 1")).unwrap();
    c.run("rev", &["audit", "verify"]).fails(6, "not the start of record");
    c.run("carol", &["project", "show", "p1"]).fails(6, "not the start of record");
    std::fs::write(c.audit_log(), log).unwrap();
    c.run("rev", &["audit", "verify"]).ok();
}

/// A whole record appended after the head by someone without the key: its mac does not verify.
#[test]
fn a_record_appended_without_the_key_is_caught() {
    let c = center_with_history();
    let lines = log_lines(&c);
    let last = lines.last().unwrap();
    let prev = {
        let at = last.rfind(",\"hash\":\"").unwrap() + ",\"hash\":\"".len();
        last[at..at + 64].to_string()
    };
    let seq = lines.len();
    let forged = last.replacen(&format!("{{\"seq\":{seq},"), &format!("{{\"seq\":{},", seq + 1), 1);
    let (forged, _) = rehash(&forged, &prev);
    let run = verify_tampered(&c, |lines| lines.push(forged))
        .fails(6, &format!("record {} comes after the sealed head ({seq} records)", seq + 1));
    assert!(run.stderr.contains("appended without the key"), "{}", run.stderr);
}

/// `audit anchor` states the head, signed; `verify --anchor` catches a trail older than the
/// anchor (log and head rolled back together, which plain verify cannot see) and one that
/// diverges from it, and refuses an anchor that was altered or comes from another home.
#[test]
fn a_rollback_of_log_and_head_together_is_caught_by_an_anchor() {
    let c = center_with_history();
    let (log, head) = (c.audit_log(), c.home.join("seal/head.json"));
    let (old_log, old_head) = (std::fs::read(&log).unwrap(), std::fs::read(&head).unwrap());
    for _ in 0..3 {
        c.run("carol", &["project", "show", "p1"]).ok();
    }
    let anchored = head_count(&c);
    let anchor = c.run("rev", &["audit", "anchor"]).ok().stdout;
    let statement: serde_json::Value = serde_json::from_str(&anchor).unwrap();
    assert_eq!(statement["seq"], anchored);
    assert_eq!(statement["format"], "midnet-audit-anchor/1");
    assert_eq!(statement["public_key"].as_str().unwrap().len(), 64, "{statement}");
    let file = c.root.join("anchor.json");
    std::fs::write(&file, &anchor).unwrap();
    let path = file.display().to_string();
    let ok = c.run("rev", &["audit", "verify", "--anchor", &path]).ok();
    assert!(
        ok.stdout.contains(&format!("agrees with the anchor of {}", statement["time"].as_str().unwrap())),
        "{}",
        ok.stdout
    );
    c.run("carol", &["audit", "anchor"]).fails(3, "refused (role)");

    // Rolled back: the log and its head restored together from an earlier copy. Both are genuine,
    // so plain verify passes; the anchor says the trail was longer.
    std::fs::write(&log, &old_log).unwrap();
    std::fs::write(&head, &old_head).unwrap();
    c.run("rev", &["audit", "verify"]).ok();
    let run = c.run("rev", &["audit", "verify", "--anchor", &path]).fails(6, "but the anchor of");
    assert!(run.stderr.contains("rolled back"), "{}", run.stderr);

    // Diverged: past the anchor's length again, but with other records.
    while head_count(&c) < anchored + 2 {
        c.run("carol", &["project", "show", "p1"]).ok();
    }
    c.run("rev", &["audit", "verify", "--anchor", &path])
        .fails(6, &format!("record {anchored} differs from the anchor"));

    // An altered anchor, and one from another home.
    let altered = anchor.replace(&format!("\"seq\": {anchored}"), &format!("\"seq\": {}", anchored - 1));
    assert_ne!(altered, anchor);
    std::fs::write(&file, altered).unwrap();
    c.run("rev", &["audit", "verify", "--anchor", &path]).fails(6, "its signature does not verify");
    let other = Center::new();
    std::fs::write(&file, other.run("rev", &["audit", "anchor"]).ok().stdout).unwrap();
    c.run("rev", &["audit", "verify", "--anchor", &path]).fails(6, "signed by another key");
    std::fs::write(&file, "not an anchor").unwrap();
    c.run("rev", &["audit", "verify", "--anchor", &path]).fails(2, "not an audit anchor");
}

/// Nothing runs that cannot be recorded: with the head or the key gone, a command that would change
/// the home is refused before it changes anything (it fails closed), not after.
#[test]
fn a_command_that_cannot_be_recorded_does_not_run() {
    let c = center_with_history();
    for (file, needle) in
        [("seal/head.json", "the sealed head of the audit log is missing"), ("seal/key", "the audit key is missing")]
    {
        let path = c.home.join(file);
        let kept = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        c.run("carol", &["project", "grant", "p1", "stella", "analyst"]).fails(6, needle);
        std::fs::write(&path, kept).unwrap();
        let shown = c.run("rev", &["project", "show", "p1"]).ok().stdout;
        assert!(!shown.contains("stella"), "the grant ran though it could not be recorded:\n{shown}");
    }
    // Lines written after the head by something other than midnet: refused the same way.
    let log = std::fs::read_to_string(c.audit_log()).unwrap();
    std::fs::write(c.audit_log(), format!("{log}not a record of midnet\n")).unwrap();
    c.run("carol", &["project", "grant", "p1", "stella", "analyst"]).fails(6, "log.jsonl");
    std::fs::write(c.audit_log(), log).unwrap();
    let shown = c.run("rev", &["project", "show", "p1"]).ok().stdout;
    assert!(!shown.contains("stella"), "the grant ran on a tampered trail:\n{shown}");
    c.run("rev", &["audit", "verify"]).ok();
}

/// A missing head or key is named, with what it means; the home refuses to record anything.
#[test]
fn a_deleted_head_or_key_is_named_with_what_it_means() {
    let c = center_with_history();
    for (file, needle) in
        [("seal/head.json", "the sealed head of the audit log is missing"), ("seal/key", "the audit key is missing")]
    {
        let path = c.home.join(file);
        let kept = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let run = c.run("rev", &["audit", "verify"]).fails(6, needle);
        assert!(run.stderr.contains("restore"), "{}", run.stderr);
        c.run("carol", &["project", "show", "p1"]).fails(6, needle);
        std::fs::write(&path, kept).unwrap();
    }
    c.run("rev", &["audit", "verify"]).ok();
}
