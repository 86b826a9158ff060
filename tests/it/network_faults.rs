//! Ordinary faults between a site's agent and `center serve` (issue 22, the second review): a
//! reply lost, a refusal of one request, a slow line, a blip at the wrong moment, two processes on
//! one request. Each ends with the agent going on, nothing lost, and a state `extract` explains.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;

use crate::common::{midnet_bin, midnet_with};
use crate::network::Network;
use crate::network_https::{LineFault, Served, completes, proxy, pseudonym, serve_command, status_of};

/// The reply to a handed-in answer is lost (the agent is killed once the center answered), and the
/// analyst's `extract` takes the result in before the agent tries again: the agent hands the same
/// answer in again, hears it was verified, and the request is done at the site too.
#[test]
fn an_answer_whose_reply_was_lost_is_handed_in_again_after_extract_took_it_in() {
    let s = Served::new();
    s.n.approve_all();
    s.extract(&[]).ok();
    let killed = s.agent_at(0, &s.url, &[("MIDNET_CRASH_AT", "agent-answered")]);
    assert_ne!(killed.code, 0, "the agent was killed: {}", killed.stderr);
    assert_eq!(s.requests(0)[0]["state"], "uploading");
    for site in 1..3 {
        s.agent(site).ok();
    }
    let done = s.extract(&[]).ok().json();
    assert_eq!(done["datasets"][0]["sites"].as_array().unwrap().len(), 3, "taken in meanwhile: {done}");
    let retried = Served::held(&s.agent(0).ok());
    assert_eq!(retried[0]["state"], "done", "{retried:?}");
}

/// A request whose upload the center refuses (it expired while the agent was stopped mid-upload)
/// fails alone, recorded in the site's log: the agent goes on and serves the request issued after it.
#[test]
fn a_refused_upload_fails_its_request_only_and_the_agent_serves_the_next() {
    let s = Served::new();
    s.n.approve_all();
    s.extract(&["--valid-for", "6"]).ok();
    let killed = s.agent_at(0, &s.url, &[("MIDNET_CRASH_AT", "agent-chunk-sent:1")]);
    assert_ne!(killed.code, 0, "the agent was killed: {}", killed.stderr);
    let first = s.requests(0)[0]["request"].as_str().unwrap().to_string();
    assert_eq!(s.requests(0)[0]["state"], "uploading", "{:?}", s.requests(0));
    for site in 1..3 {
        s.agent(site).ok();
    }
    std::thread::sleep(Duration::from_secs(7));
    let reissued = s.extract(&[]).ok().json();
    let site01 = status_of(&reissued, &pseudonym(&reissued, 0));
    assert!(site01["reason"].as_str().unwrap().contains("expired"), "{reissued}");
    let held = Served::held(&s.agent(0).ok());
    let state_of = |id: &str| held.iter().find(|h| h["request"] == id).map(|h| h["state"].clone());
    assert_eq!(state_of(&first), Some(Value::from("failed")), "{held:?}");
    assert!(held.iter().any(|h| h["request"] != first.as_str() && h["state"] == "done"), "{held:?}");
    let log = midnet_with(&s.n.c.root, &["site", "log", "--site", &s.site(0), "--json"], &[], None).ok().json();
    let failed = log["records"].as_array().unwrap().iter().find(|r| r["event"] == "failed" && r["request"] == first);
    assert!(failed.is_some_and(|r| r["detail"].as_str().unwrap().contains("expired")), "{log}");
    let states = s.n.c.home.join(format!("network/states/{first}.json"));
    let stated: Value = serde_json::from_str(&std::fs::read_to_string(states).unwrap()).unwrap();
    assert_eq!(stated["state"], "failed", "the center heard it: {stated}");
    let done = s.extract(&[]).ok().json();
    assert_eq!(done["datasets"][0]["sites"].as_array().unwrap().len(), 3, "{done}");
}

/// A blip of the network just as a request starts running (the center did not hear it) does not
/// fail the request: it was not running yet, and the next round runs it.
#[test]
fn a_network_blip_as_a_request_starts_running_does_not_fail_it() {
    let s = Served::new();
    s.n.approve_all();
    s.extract(&[]).ok();
    let blip = s.agent_at(0, &s.url, &[("MIDNET_FAULT", "unheard-running")]);
    assert_ne!(blip.code, 0, "a --once agent ends on a call unheard: {}", blip.stderr);
    assert!(blip.stderr.contains("no answer"), "{}", blip.stderr);
    let again = Served::held(&s.agent(0).ok());
    assert_eq!(again[0]["state"], "done", "{again:?}");
    let log = midnet_with(&s.n.c.root, &["site", "log", "--site", &s.site(0), "--json"], &[], None).ok().json();
    let asked = log["records"].as_array().unwrap().iter().filter(|r| r["event"] == "asked").count();
    assert_eq!(asked, 1, "run once: {log}");
    completes(&s);
}

/// One `center serve` per home: a second is refused, naming the process that serves.
#[test]
fn a_second_center_serve_on_one_home_is_refused_naming_the_first() {
    let s = Served::new();
    let mut second = serve_command(&s.n, "127.0.0.1:0").stderr(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(second.stdout.take().unwrap()).read_line(&mut line).unwrap();
    if !line.is_empty() {
        let _ = second.kill();
    }
    let status = second.wait().unwrap();
    let mut stderr = String::new();
    second.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(line, "", "the second serve must not serve");
    assert_eq!(status.code(), Some(5), "{stderr}");
    assert!(stderr.contains(&format!("process {}", s.pid())), "{stderr}");
}

/// The center stops between believing an answer and replying; the analyst's `extract` takes the
/// upload in (verifying it) before the agent hands the answer in again: the center then says the
/// request is done (extract recorded it before it removed the upload), not failed over an empty upload.
#[test]
fn a_result_taken_in_by_extract_before_the_answer_is_handed_in_again_stays_done() {
    let mut s = Served::with(&[], &[("MIDNET_CRASH_AT", "serve-answer-accepted")]);
    s.n.approve_all();
    s.extract(&[]).ok();
    let cut = s.agent(0);
    assert_ne!(cut.code, 0, "the center stopped before its reply: {}", cut.stderr);
    let request = s.requests(0)[0]["request"].as_str().unwrap().to_string();
    assert_eq!(s.requests(0)[0]["state"], "uploading");
    s.restart("127.0.0.1:0", &[], &[]);
    for site in 1..3 {
        s.agent(site).ok();
    }
    let done = s.extract(&[]).ok().json();
    assert_eq!(done["datasets"][0]["sites"].as_array().unwrap().len(), 3, "{done}");
    let again = Served::held(&s.agent(0).ok());
    assert_eq!(again[0]["state"], "done", "{again:?}");
    let states = s.n.c.home.join(format!("network/states/{request}.json"));
    let stated: Value = serde_json::from_str(&std::fs::read_to_string(states).unwrap()).unwrap();
    assert_eq!(stated["state"], "done", "{stated}");
}

/// At most four calls of one site are served at once: a fifth is answered 503 and its agent tries
/// again later, so one site cannot hold the center's threads.
#[test]
fn a_site_has_at_most_four_calls_served_at_once() {
    let s = Served::with(&["--poll-limit", "30"], &[]);
    let dir = s.site(0);
    let spawn = |poll: &str| {
        Command::new(midnet_bin())
            .args(["site", "agent", "--site", &dir, "--center", &s.url, "--once", "--poll-seconds", poll])
            .current_dir(&s.n.c.root)
            .env_remove("MIDNET_HOME")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut waiting: Vec<Child> = (0..4).map(|_| spawn("30")).collect();
    let mut refused = None;
    let until = std::time::Instant::now() + Duration::from_secs(20);
    while refused.is_none() && std::time::Instant::now() < until {
        let fifth = spawn("0").wait_with_output().unwrap();
        if !fifth.status.success() {
            refused = Some(String::from_utf8_lossy(&fifth.stderr).into_owned());
            break;
        }
    }
    for agent in &mut waiting {
        let _ = agent.kill();
        let _ = agent.wait();
    }
    let refused = refused.expect("a fifth call of the site was served while four were");
    assert!(refused.contains("4 calls of this site are being served"), "{refused}");
}

/// A stray file, a queue entry whose request is gone and one whose request cannot be read, in a
/// site's queue at the center: each is taken off the queue, and the site's work goes on.
#[test]
fn stray_entries_in_a_sites_queue_are_taken_off_and_its_work_goes_on() {
    let s = Served::new();
    s.n.approve_all();
    s.extract(&[]).ok();
    let queue = s.n.c.home.join("network/queued/site01");
    std::fs::write(queue.join("a stray file"), "").unwrap();
    std::fs::write(queue.join("r0123456789abcdef0123456789abcdef"), "").unwrap();
    std::fs::write(queue.join("rdamaged"), "").unwrap();
    std::fs::write(s.n.c.home.join("network/requests/rdamaged.json"), "not json").unwrap();
    let held = Served::held(&s.agent(0).ok());
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0]["state"], "done", "{held:?}");
    let left: Vec<_> = std::fs::read_dir(&queue).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "{left:?}");
}

/// An upload `center serve` verified is taken in by `extract` without its files being read again
/// (the marker in the request's state records what the serve verified): the truncate drill, which
/// damages a file as it is verified, finds nothing to bite on.
#[test]
fn an_upload_the_serve_verified_is_taken_in_without_verifying_it_again() {
    let s = Served::new();
    s.n.approve_all();
    s.extract(&[]).ok();
    for site in 0..3 {
        s.agent(site).ok();
    }
    let done = s.extract_env(&[], &[("MIDNET_FAULT", "truncate:site01")]).ok().json();
    assert_eq!(done["datasets"][0]["sites"].as_array().unwrap().len(), 3, "{done}");
}

/// `center serve` stops after verifying an upload but before recording it: nothing records the
/// verification, so `extract` verifies the upload again as it takes it in (and the truncate drill
/// is caught there), and the site is asked afresh.
#[test]
fn an_upload_verified_but_not_recorded_before_the_serve_stopped_is_verified_again() {
    let mut s = Served::with(&[], &[("MIDNET_CRASH_AT", "serve-answer-verified")]);
    s.n.approve_all();
    s.extract(&[]).ok();
    let cut = s.agent(0);
    assert_ne!(cut.code, 0, "the center stopped before its reply: {}", cut.stderr);
    assert!(s.ended_within(30), "the center was killed at serve-answer-verified");
    s.restart("127.0.0.1:0", &[], &[]);
    for site in 1..3 {
        s.agent(site).ok();
    }
    let report = s.extract_env(&[], &[("MIDNET_FAULT", "truncate:site01")]).ok().json();
    let site01 = status_of(&report, &pseudonym(&report, 0));
    assert_eq!(site01["status"], "queued", "{report}");
    assert!(site01["reason"].as_str().unwrap().contains("altered or truncated in transfer"), "{report}");
    completes(&s);
}

/// A kept request damaged at the center (`HOME/network/requests/ID.json`): `extract --agents`
/// names the file and goes on with every other request; its site is asked afresh.
#[test]
fn a_damaged_kept_request_is_named_and_the_extraction_goes_on() {
    let s = Served::new();
    s.n.approve_all();
    s.extract(&[]).ok();
    let dir = s.n.c.home.join("network/requests");
    let damaged = std::fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
    std::fs::write(&damaged, "not json").unwrap();
    let run = s.extract(&[]).ok();
    let name = damaged.file_name().unwrap().to_string_lossy().into_owned();
    assert!(run.stderr.contains(&name) && run.stderr.contains("left out"), "{}", run.stderr);
    completes(&s);
}

/// A held request's file damaged at the site (`SITE/agent/requests/ID.json` cut short: disk
/// trouble, a writer stopped mid-write, an editor): the agent, running as a service, fails it
/// alone: it says so to the center (`extract` shows why), logs it once, sets it aside in
/// `requests/damaged/` (named by `site requests`), and serves the site's other request to the end.
#[test]
fn a_damaged_held_request_fails_alone_and_the_agent_serves_the_others() {
    let s = Served::new();
    s.extract(&[]).ok();
    let damaged = Served::held(&s.agent(0).ok())[0]["request"].as_str().unwrap().to_string();
    s.n.extract("p1", &["--cutoff", "2025-09-01", "--agents"]).ok();
    assert_eq!(Served::held(&s.agent(0).ok()).len(), 2, "two requests held, waiting for approval");
    let file = s.n.sites[0].join(format!("agent/requests/{damaged}.json"));
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    s.n.approve_all();
    let dir = s.site(0);
    let mut agent = Command::new(midnet_bin())
        .args(["site", "agent", "--site", &dir, "--center", &s.url, "--poll-seconds", "1"])
        .current_dir(&s.n.c.root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let list = |json: &[&str]| {
        let mut args = vec!["site", "requests", "--site", dir.as_str()];
        args.extend_from_slice(json);
        midnet_with(&s.n.c.root, &args, &[], None)
    };
    let served = |run: &crate::common::Run| run.code == 0 && run.json()["requests"][0]["state"] == "done";
    let until = std::time::Instant::now() + Duration::from_secs(60);
    while agent.try_wait().unwrap().is_none() && !served(&list(&["--json"])) && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(500));
    }
    std::thread::sleep(Duration::from_secs(3)); // more rounds: the damaged request is not logged again
    let ended = agent.try_wait().unwrap();
    let _ = agent.kill();
    let _ = agent.wait();
    assert_eq!(ended, None, "the agent stopped serving");
    let listed = list(&["--json"]).ok().json();
    assert_eq!(listed["requests"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["requests"][0]["state"], "done", "{listed}");
    let aside = format!("damaged/{damaged}.json");
    assert!(listed["damaged"][0]["file"].as_str().unwrap().ends_with(&aside), "{listed}");
    let text = list(&[]).ok().stdout;
    assert!(text.contains("damaged, never run") && text.contains(&aside), "{text}");
    let log = midnet_with(&s.n.c.root, &["site", "log", "--site", &dir, "--json"], &[], None).ok().json();
    let failed: Vec<&Value> = log["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["event"] == "failed" && r["request"] == damaged)
        .collect();
    assert_eq!(failed.len(), 1, "logged once: {log}");
    let detail = failed[0]["detail"].as_str().unwrap();
    assert!(detail.contains(&format!("{damaged}.json")) && detail.contains("not a valid midnet document"), "{detail}");
    let report = s.extract(&[]).ok().json();
    let reason = status_of(&report, &pseudonym(&report, 0))["reason"].as_str().unwrap().to_string();
    assert!(reason.contains(&damaged) && reason.contains("damaged"), "{report}");
}

/// A site with more requests queued than one `work` call returns (16): the agent gets 16, and the
/// rest at its next call.
#[test]
fn a_work_call_returns_at_most_sixteen_requests_and_the_rest_at_the_next() {
    let s = Served::new();
    // Seventeen extractions (one per cut-off), none approved: the agent holds what it fetched.
    for day in 1..=17 {
        let cutoff = format!("2025-09-{day:02}");
        s.n.extract("p1", &["--cutoff", &cutoff, "--agents"]).ok();
    }
    assert_eq!(Served::held(&s.agent(0).ok()).len(), 16);
    assert_eq!(Served::held(&s.agent(0).ok()).len(), 17);
}

/// The center's copy of a file ends earlier than the agent thinks (the drill `center-behind`): the
/// chunk is refused (409) naming where to resume, the agent asks the center again and resumes
/// there, and the request is done.
#[test]
fn an_upload_resumes_where_the_centers_copy_ends_when_it_ends_earlier_than_the_agent_thinks() {
    let s = Served::new();
    s.n.approve_all();
    s.extract(&[]).ok();
    let held = Served::held(&s.agent_at(0, &s.url, &[("MIDNET_FAULT", "center-behind")]).ok());
    assert_eq!(held[0]["state"], "done", "{held:?}");
    completes(&s);
}

/// `extract` takes an upload in only under the request's file lock (`HOME/network/locks/ID`):
/// while another process holds it (here `flock`, standing for `center serve` in a call about that
/// request) and shows the upload as being verified by the serve, `extract` waits, and takes the
/// upload in once the lock is free and the marker gone.
#[test]
fn extract_waits_for_the_request_lock_another_process_holds() {
    let s = Served::new();
    s.n.approve_all();
    s.extract(&[]).ok();
    for site in 0..3 {
        s.agent(site).ok();
    }
    let request = s.requests(0)[0]["request"].as_str().unwrap().to_string();
    let home = &s.n.c.home;
    let marker = home.join(format!("network/verifying/{request}"));
    std::fs::create_dir_all(marker.parent().unwrap()).unwrap();
    std::fs::write(&marker, format!("process {}", s.pid())).unwrap();
    let lock = home.join(format!("network/locks/{request}"));
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    let held = s.n.c.root.join("lock-held");
    let script = format!("touch '{}'; sleep 2; rm '{}'", held.display(), marker.display());
    let mut holder = Command::new("flock").arg(&lock).args(["sh", "-c", &script]).spawn().unwrap();
    while !held.exists() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let done = s.extract(&[]).ok().json();
    assert!(holder.wait().unwrap().success());
    assert_eq!(done["datasets"][0]["sites"].as_array().unwrap().len(), 3, "{done}");
}

/// `center serve`'s housekeeping (at its start, then every minute) removes what settled requests
/// left in `HOME/network/`: the locks of requests done and taken in, a verification marker left by a
/// stopped serve, a spool that names no request. A request still uploading keeps its spool and lock.
#[test]
fn the_serves_housekeeping_removes_what_settled_requests_left_and_keeps_what_live_ones_need() {
    let mut s = Served::new();
    s.n.approve_all();
    s.extract(&[]).ok();
    completes(&s);
    let done: Vec<String> = (0..3).map(|site| s.requests(site)[0]["request"].as_str().unwrap().to_string()).collect();
    s.n.extract("p1", &["--cutoff", "2025-09-01", "--agents"]).ok();
    let killed = s.agent_at(0, &s.url, &[("MIDNET_CRASH_AT", "agent-chunk-sent:1")]);
    assert_ne!(killed.code, 0, "the agent was killed mid-upload: {}", killed.stderr);
    let uploading = s.requests(0).iter().find(|r| r["state"] == "uploading").unwrap()["request"].clone();
    let uploading = uploading.as_str().unwrap().to_string();
    let net = s.n.c.home.join("network");
    std::fs::create_dir_all(net.join("verifying")).unwrap();
    std::fs::write(net.join("verifying").join(&done[1]), "process 1").unwrap();
    std::fs::create_dir_all(net.join("spool/r0123456789abcdef0123456789abcdef")).unwrap();
    assert!(done.iter().all(|id| net.join("locks").join(id).exists()), "the calls left their locks");
    s.restart("127.0.0.1:0", &[], &[]);
    let left = |dir: &str| -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(net.join(dir)) else { return Vec::new() };
        entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
    };
    assert_eq!(left("locks"), std::slice::from_ref(&uploading), "only the live request's lock stays");
    assert_eq!(left("spool"), std::slice::from_ref(&uploading), "only the live request's spool stays");
    assert!(left("verifying").is_empty(), "{:?}", left("verifying"));
    let held = Served::held(&s.agent(0).ok());
    assert!(held.iter().any(|h| h["request"] == uploading.as_str() && h["state"] == "done"), "{held:?}");
}

/// A chunk whose body stalls on the line for longer than the center gives it (`--step-timeout 1`)
/// is cut off (408): the agent keeps the request uploading and tries again later, the site's staff
/// and `extract` are told why meanwhile, nothing is failed, and once the line is back the
/// extraction completes with the rows of local mode. The proxy holds the TLS record that follows a
/// full one, so the result must be longer than a record (16 KiB): 10,000 patients a site make it
/// about 20 KB (a body within the record of its header arrives whole, however the line stalls).
#[test]
fn a_chunk_cut_off_as_too_slow_is_sent_again_later_and_the_extraction_completes() {
    let s = Served::serving(Network::of_patients(10_000), &["--step-timeout", "1"], &[]);
    s.n.approve_all();
    let local = s.n.extract("p1", &["--cutoff", "2025-09-30"]).ok().json();
    s.extract(&[]).ok();
    let stalls = Arc::new(AtomicBool::new(true));
    let target = s.url.strip_prefix("https://").unwrap();
    let stall = LineFault::StallMidWrite(Duration::from_secs(3));
    let through = format!("https://{}", proxy(target, stalls.clone(), stall));
    let mut agent = Command::new(midnet_bin())
        .args(["site", "agent", "--site", &s.site(0), "--center", &through, "--poll-seconds", "1"])
        .current_dir(&s.n.c.root)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (said, lines) = std::sync::mpsc::channel();
    let stderr = agent.stderr.take().unwrap();
    std::thread::spawn(move || BufReader::new(stderr).lines().map_while(Result::ok).try_for_each(|l| said.send(l)));
    let until = std::time::Instant::now() + Duration::from_secs(60);
    let retrying =
        std::iter::from_fn(|| lines.recv_timeout(until.saturating_duration_since(std::time::Instant::now())).ok())
            .find(|line| line.contains("trying again"));
    let held = s.requests(0);
    let report = s.extract(&[]).ok().json();
    stalls.store(false, Ordering::SeqCst);
    let retrying = retrying.unwrap_or_else(|| panic!("the agent did not try again: {held:?}"));
    assert!(retrying.contains("stopped for 1 seconds"), "{retrying}");
    assert_eq!(held[0]["state"], "uploading", "{held:?}");
    assert!(held[0]["detail"].as_str().unwrap().contains("cut off as too slow"), "{held:?}");
    let site01 = status_of(&report, &pseudonym(&report, 0));
    assert_eq!(site01["status"], "uploading", "{report}");
    assert!(site01["reason"].as_str().unwrap().contains("cut off as too slow"), "{report}");
    let started = std::time::Instant::now();
    while s.requests(0)[0]["state"] == "uploading" && started.elapsed() < Duration::from_secs(90) {
        std::thread::sleep(Duration::from_millis(500));
    }
    let _ = agent.kill();
    let _ = agent.wait();
    assert_eq!(s.requests(0)[0]["state"], "done", "{:?}", s.requests(0));
    let log = midnet_with(&s.n.c.root, &["site", "log", "--site", &s.site(0), "--json"], &[], None).ok().json();
    let events: Vec<&str> = log["records"].as_array().unwrap().iter().map(|r| r["event"].as_str().unwrap()).collect();
    assert!(!events.contains(&"failed"), "{events:?}");
    let done = completes(&s);
    for (a, b) in local["datasets"].as_array().unwrap().iter().zip(done["datasets"].as_array().unwrap()) {
        assert_eq!((&a["name"], &a["rows"]), (&b["name"], &b["rows"]), "the same rows as local mode");
    }
}

/// A work request the site cannot believe as it fetches it (here the site pinned another key than
/// the center's, as after the center made a new key pair): the agent logs the refusal and says it
/// to the center, which fails the request and offers it no more; `extract` says why. Unsaid, the
/// center would offer it again at once, and every round would fetch it and log it again.
#[test]
fn a_request_the_site_refuses_as_it_fetches_it_is_failed_at_the_center_and_not_fetched_again() {
    let s = Served::new();
    s.n.approve_all();
    s.extract(&[]).ok();
    let other = s.n.sites[1].join("keys/site.pub").display().to_string();
    let pin = ["site", "trust-center", "--site", &s.site(0), "--key", &other, "--certificate-sha256", &s.fingerprint];
    midnet_with(&s.n.c.root, &pin, &[], None).ok();
    for _ in 0..2 {
        assert_eq!(Served::held(&s.agent(0).ok()), Vec::<Value>::new());
    }
    let log = midnet_with(&s.n.c.root, &["site", "log", "--site", &s.site(0), "--json"], &[], None).ok().json();
    let refused = log["records"].as_array().unwrap().iter().filter(|r| r["event"] == "refused").count();
    assert_eq!(refused, 1, "fetched and refused once: {log}");
    let report = s.extract(&[]).ok().json();
    let reason = status_of(&report, &pseudonym(&report, 0))["reason"].as_str().unwrap().to_string();
    assert!(reason.contains("the site refused this request") && reason.contains("a foreign key"), "{report}");
}
