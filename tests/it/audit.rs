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
