//! The center and its sites' agents over real HTTPS on loopback (issue 22): `center serve`, three
//! `site agent --once`, `extract --agents`; and a test per fault, each ending with nothing lost,
//! nothing accepted that should not be, and a state `extract` explains.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;

use crate::common::{Run, midnet_bin, midnet_with};
use crate::network::Network;

const CUTOFF: &str = "2025-09-30";

/// A network whose center serves on a port the system chose, every site pinning its certificate.
pub(crate) struct Served {
    pub(crate) n: Network,
    server: Child,
    pub(crate) url: String,
    pub(crate) fingerprint: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

impl Served {
    pub(crate) fn new() -> Served {
        Served::with(&[], &[])
    }

    /// A network whose `center serve` has the extra arguments `args` and environment `env`.
    pub(crate) fn with(args: &[&str], env: &[(&str, &str)]) -> Served {
        Served::serving(Network::new(), args, env)
    }

    /// `n`, its `center serve` with the extra arguments `args` and environment `env`.
    pub(crate) fn serving(n: Network, args: &[&str], env: &[(&str, &str)]) -> Served {
        let (server, url, fingerprint) = serve(&n, "127.0.0.1:0", args, env);
        let served = Served { n, server, url, fingerprint };
        for site in 0..3 {
            served.pin(site, &served.fingerprint.clone());
        }
        served
    }

    /// Stop `center serve` and start it again on `bind` with `args` and `env`: the same home,
    /// keys and certificate.
    pub(crate) fn restart(&mut self, bind: &str, args: &[&str], env: &[(&str, &str)]) {
        self.stop();
        let (server, url, _) = serve(&self.n, bind, args, env);
        (self.server, self.url) = (server, url);
    }

    /// Stop `center serve`: its address answers no more.
    pub(crate) fn stop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }

    /// The process id of `center serve`.
    pub(crate) fn pid(&self) -> u32 {
        self.server.id()
    }

    /// Whether `center serve` is still running.
    /// Whether `center serve` has ended within `seconds`. A killed process closes its sockets
    /// before its parent can see it end, so an agent may hear the connection drop first.
    pub(crate) fn ended_within(&mut self, seconds: u64) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
        while self.server.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        true
    }

    pub(crate) fn site(&self, site: usize) -> String {
        self.n.sites[site].display().to_string()
    }

    fn pin(&self, site: usize, fingerprint: &str) {
        let key = self.n.c.home.join("keys/center.pub").display().to_string();
        let args =
            ["site", "trust-center", "--site", &self.site(site), "--key", &key, "--certificate-sha256", fingerprint];
        midnet_with(&self.n.c.root, &args, &[], None).ok();
    }

    /// `site agent --once` at one site, against `url`.
    pub(crate) fn agent_at(&self, site: usize, url: &str, env: &[(&str, &str)]) -> Run {
        let dir = self.site(site);
        let args = ["site", "agent", "--site", &dir, "--center", url, "--once", "--poll-seconds", "0", "--json"];
        midnet_with(&self.n.c.root, &args, env, None)
    }

    pub(crate) fn agent(&self, site: usize) -> Run {
        self.agent_at(site, &self.url, &[])
    }

    /// The one request a site's agent holds for extraction `x`, as `agent --json` shows it.
    pub(crate) fn held(run: &Run) -> Vec<Value> {
        run.json()["requests"].as_array().unwrap().clone()
    }

    pub(crate) fn extract(&self, extra: &[&str]) -> Run {
        self.extract_env(extra, &[])
    }

    pub(crate) fn extract_env(&self, extra: &[&str], env: &[(&str, &str)]) -> Run {
        let mut args = vec!["--cutoff", CUTOFF, "--agents"];
        args.extend_from_slice(extra);
        self.n.extract_env("p1", &args, env)
    }

    pub(crate) fn requests(&self, site: usize) -> Vec<Value> {
        let run = midnet_with(&self.n.c.root, &["site", "requests", "--site", &self.site(site), "--json"], &[], None);
        run.ok().json()["requests"].as_array().unwrap().clone()
    }
}

pub(crate) fn statuses(report: &Value) -> Vec<String> {
    report["sites"].as_array().unwrap().iter().map(|s| s["status"].as_str().unwrap().to_string()).collect()
}

pub(crate) fn status_of<'a>(report: &'a Value, pseudonym: &str) -> &'a Value {
    report["sites"].as_array().unwrap().iter().find(|s| s["site"] == pseudonym).unwrap()
}

/// The pseudonym of site `site` (registry order) in p1, from an extraction report listing all three.
pub(crate) fn pseudonym(report: &Value, site: usize) -> String {
    Network::pseudonyms(report)[site].clone()
}

/// `center serve` on `bind` for `n`'s home, with `args` and `env`: the process, its URL and the
/// fingerprint of its certificate, as it prints them first.
fn serve(n: &Network, bind: &str, args: &[&str], env: &[(&str, &str)]) -> (Child, String, String) {
    let poll_limit: &[&str] = if args.contains(&"--poll-limit") { &[] } else { &["--poll-limit", "1"] };
    let mut server = serve_command(n, bind)
        .args(poll_limit)
        .args(args)
        .envs(env.iter().copied())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!((words.first(), words.get(2)), (Some(&"serving"), Some(&"certificate-sha256")), "{line}");
    (server, words[1].to_string(), words[3].to_string())
}

/// `center serve --bind BIND` on `n`'s home as its reviewer, its stdout piped (`--poll-limit`
/// is 1 second unless `args` say otherwise).
pub(crate) fn serve_command(n: &Network, bind: &str) -> Command {
    let mut command = Command::new(midnet_bin());
    command
        .args(["center", "serve", "--bind", bind])
        .current_dir(&n.c.root)
        .env("MIDNET_HOME", &n.c.home)
        .env("HOME", n.c.os_home("rev"))
        .env("MIDNET_SESSION", n.c.token("rev"))
        .stdout(Stdio::piped());
    command
}

/// Every agent runs once, then extract --agents completes the extraction with all three sites.
pub(crate) fn completes(s: &Served) -> Value {
    for site in 0..3 {
        s.agent(site).ok();
    }
    let done = s.extract(&[]).ok().json();
    assert_eq!(done["datasets"][0]["sites"].as_array().unwrap().len(), 3, "{done}");
    done
}

#[test]
fn an_extraction_runs_end_to_end_through_three_agents_over_https_with_the_rows_of_local_mode() {
    let s = Served::new();
    s.n.approve_all();
    let local = s.n.extract("p1", &["--cutoff", CUTOFF]).ok().json();
    let queued = s.extract(&[]).ok().json();
    assert_eq!(statuses(&queued), ["queued", "queued", "queued"], "{queued}");
    for site in 0..3 {
        let held = Served::held(&s.agent(site).ok());
        assert_eq!(held.len(), 1);
        assert_eq!(held[0]["state"], "done", "{held:?}");
    }
    assert_eq!(s.requests(0)[0]["state"], "done");
    let done = s.extract(&[]).ok().json();
    assert_eq!(done["extraction"], 2, "a new extraction after the local one: {done}");
    for (a, b) in local["datasets"].as_array().unwrap().iter().zip(done["datasets"].as_array().unwrap()) {
        assert_eq!((&a["name"], &a["rows"]), (&b["name"], &b["rows"]), "the same rows as local mode");
    }
    let outbox = s.n.sites[0].join("outbox");
    assert!(std::fs::read_dir(&outbox).map_or(true, |mut d| d.next().is_none()), "the site keeps nothing sent");
    let spool = s.n.c.home.join("network/spool");
    assert!(std::fs::read_dir(&spool).map_or(true, |mut d| d.next().is_none()), "the center's spool is emptied");
}

#[test]
fn plain_http_a_wrong_certificate_and_an_unregistered_key_are_refused() {
    let s = Served::new();
    s.n.approve_all();
    s.extract(&[]).ok();
    let plain = s.url.replace("https://", "http://");
    s.agent_at(0, &plain, &[]).fails(3, "https:// only");
    s.pin(0, &"ab".repeat(32));
    s.agent(0).fails(6, "not the pinned");
    s.pin(0, &s.fingerprint.clone());
    // The site makes a new key pair that the center never registered.
    std::fs::remove_file(s.n.sites[0].join("keys/site.key")).unwrap();
    midnet_with(&s.n.c.root, &["site", "key", "--site", &s.site(0)], &[], None).ok();
    s.agent(0).fails(6, "the key of no active registered site");
    let audit = std::fs::read_to_string(s.n.c.audit_log()).unwrap();
    assert!(audit.contains("center serve: an agent refused"), "the center records the refusal");
    let report = s.extract(&[]).ok().json();
    assert_eq!(status_of(&report, &pseudonym(&report, 0))["status"], "queued", "nothing reached site01: {report}");
    // Retiring a site revokes its key: its agent is refused from then on.
    s.n.c.run("rev", &["center", "sites", "retire", "site03"]).ok();
    s.agent(2).fails(6, "the key of no active registered site");
}

#[test]
fn an_unapproved_script_waits_for_the_sites_staff_then_runs() {
    let s = Served::new();
    for site in 1..3 {
        s.n.approve(site, &[]).ok();
    }
    s.extract(&[]).ok();
    let held = Served::held(&s.agent(0).ok());
    assert_eq!(held[0]["state"], "waiting_for_approval", "{held:?}");
    for site in 1..3 {
        s.agent(site).ok();
    }
    let report = s.extract(&[]).ok().json();
    let first = pseudonym(&report, 0);
    assert_eq!(status_of(&report, &first)["status"], "waiting_for_approval", "{report}");
    assert!(status_of(&report, &first)["reason"].as_str().unwrap().contains("site_approval"), "{report}");
    assert!(report["datasets"].as_array().unwrap().is_empty(), "nothing is unioned while a site waits");
    assert_eq!(s.requests(0)[0]["state"], "waiting_for_approval");
    s.n.approve(0, &[]).ok();
    completes(&s);
}

#[test]
fn a_tampered_upload_is_refused_recorded_and_asked_again() {
    let s = Served::new();
    s.n.approve_all();
    s.extract(&[]).ok();
    let held = Served::held(&s.agent_at(0, &s.url, &[("MIDNET_FAULT", "tamper-upload")]).ok());
    assert_eq!(held[0]["state"], "failed");
    assert!(held[0]["detail"].as_str().unwrap().contains("altered"), "{held:?}");
    let report = s.extract(&[]).ok().json();
    let first = status_of(&report, &pseudonym(&report, 0));
    assert_eq!(first["status"], "queued", "asked again: {report}");
    assert!(first["reason"].as_str().unwrap().contains("altered"), "{report}");
    let audit = std::fs::read_to_string(s.n.c.audit_log()).unwrap();
    assert!(audit.contains("center serve: site site01 refused"), "the center records the refusal");
    let done = completes(&s);
    assert_eq!(done["already_accepted"].as_array().unwrap().len(), 0, "{done}");
}

#[test]
fn an_agent_killed_mid_upload_resumes_from_its_last_chunk() {
    let s = Served::new();
    s.n.approve_all();
    s.extract(&[]).ok();
    let killed = s.agent_at(0, &s.url, &[("MIDNET_CRASH_AT", "agent-chunk-sent:1")]);
    assert_ne!(killed.code, 0, "the agent was killed");
    assert_eq!(s.requests(0)[0]["state"], "uploading");
    let spool = s.n.c.home.join("network/spool");
    let request = s.requests(0)[0]["request"].as_str().unwrap().to_string();
    let held: Vec<_> = std::fs::read_dir(spool.join(&request)).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(held.len(), 1, "one chunk reached the center: {held:?}");
    let first_len = std::fs::metadata(&held[0]).unwrap().len();
    let resumed = Served::held(&s.agent(0).ok());
    assert_eq!(resumed[0]["state"], "done", "{resumed:?}");
    let report = s.extract(&[]).ok().json();
    assert!(first_len > 0);
    assert_eq!(statuses(&report).iter().filter(|s| *s == "accepted").count(), 1, "{report}");
    completes(&s);
}

#[test]
fn a_connection_cut_by_a_proxy_mid_upload_resumes() {
    let s = Served::new();
    s.n.approve_all();
    s.extract(&[]).ok();
    let target = s.url.strip_prefix("https://").unwrap().to_string();
    let cut = Arc::new(AtomicBool::new(true));
    let proxy = proxy(&target, cut.clone(), LineFault::CutAfter(8 << 10));
    let through = format!("https://{proxy}");
    let broken = s.agent_at(0, &through, &[]);
    assert_ne!(broken.code, 0, "the cut call fails the agent: {}", broken.stderr);
    assert!(broken.stderr.contains("the center"), "{}", broken.stderr);
    let held = s.requests(0);
    assert_eq!(held[0]["state"], "uploading", "nothing is lost at the site: {held:?}\n{}", broken.stderr);
    cut.store(false, Ordering::SeqCst);
    let resumed = Served::held(&s.agent_at(0, &through, &[]).ok());
    assert_eq!(resumed[0]["state"], "done", "{resumed:?}");
    completes(&s);
}

#[test]
fn a_replayed_request_is_refused_by_the_sites_log_even_when_its_agent_forgot_it() {
    let s = Served::new();
    s.n.approve_all();
    s.extract(&[]).ok();
    s.agent(0).ok();
    let request = s.requests(0)[0]["request"].as_str().unwrap().to_string();
    // The center's queue offers the answered request again (a replay), and the agent lost its records.
    let kept_path = s.n.c.home.join(format!("network/requests/{request}.json"));
    let mut kept: Value = serde_json::from_str(&std::fs::read_to_string(&kept_path).unwrap()).unwrap();
    kept["answer"] = Value::Null;
    std::fs::write(&kept_path, kept.to_string()).unwrap();
    std::fs::remove_file(s.n.c.home.join(format!("network/states/{request}.json"))).unwrap();
    std::fs::write(s.n.c.home.join(format!("network/queued/site01/{request}")), "").unwrap();
    std::fs::remove_dir_all(s.n.sites[0].join("agent")).unwrap();
    let held = Served::held(&s.agent(0).ok());
    assert_eq!(held[0]["state"], "failed", "{held:?}");
    assert!(held[0]["detail"].as_str().unwrap().contains("refused (replay)"), "{held:?}");
    let log = midnet_with(&s.n.c.root, &["site", "log", "--site", &s.site(0), "--json"], &[], None).ok().json();
    let events: Vec<&str> = log["records"].as_array().unwrap().iter().map(|r| r["event"].as_str().unwrap()).collect();
    assert_eq!(events.iter().filter(|e| **e == "sent").count(), 1, "run once only: {events:?}");
    assert_eq!(events.last(), Some(&"refused"), "{events:?}");
}

#[test]
fn an_expired_request_is_never_run_late_and_is_issued_again_at_resume() {
    let s = Served::new();
    for site in 1..3 {
        s.n.approve(site, &[]).ok();
    }
    s.extract(&["--valid-for", "3"]).ok();
    assert_eq!(Served::held(&s.agent(0).ok())[0]["state"], "waiting_for_approval");
    std::thread::sleep(std::time::Duration::from_secs(4));
    s.n.approve(0, &[]).ok();
    // Approved after the request expired: the agent does not run it.
    let late = Served::held(&s.agent(0).ok());
    assert_eq!(late[0]["state"], "failed", "{late:?}");
    assert!(late[0]["detail"].as_str().unwrap().contains("expired"), "{late:?}");
    // Sites 2 and 3 were offline until it expired: the center no longer offers theirs.
    assert!(Served::held(&s.agent(1).ok()).is_empty());
    let resumed = s.extract(&[]).ok().json();
    for site in resumed["sites"].as_array().unwrap() {
        assert_eq!(site["status"], "queued", "{resumed}");
        let reason = site["reason"].as_str().unwrap();
        assert!(reason.contains("expired") || reason.contains("issued again"), "{resumed}");
    }
    completes(&s);
}

#[test]
fn a_site_offline_for_the_whole_run_is_waited_for_without_the_projects_lock() {
    let s = Served::new();
    s.n.approve_all();
    let c = &s.n.c;
    let mut waiting = Command::new(midnet_bin())
        .args(["extract", "--project", "p1", &s.n.script, "--json", "--quiet", "--cutoff", CUTOFF])
        .args(["--agents", "--wait", "--every", "1"])
        .current_dir(&c.root)
        .env("MIDNET_HOME", &c.home)
        .env("HOME", c.os_home("alan"))
        .env("MIDNET_SESSION", c.token("alan"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for site in 1..3 {
        while Served::held(&s.agent(site).ok()).is_empty() {}
    }
    // While extract waits for site01, the project is not locked (only during each look).
    let unlocked = (0..20).any(|_| {
        let ran = c.run("alan", &["datasets", "--project", "p1", "--json"]).code == 0;
        if !ran {
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        ran
    });
    assert!(unlocked, "datasets ran while extract waited");
    assert!(waiting.try_wait().unwrap().is_none(), "extract waits for the offline site");
    s.agent(0).ok();
    let status = waiting.wait().unwrap();
    let mut out = String::new();
    waiting.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    assert!(status.success(), "{out}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["datasets"][0]["sites"].as_array().unwrap().len(), 3, "{report}");
}

#[test]
fn a_protocol_run_goes_through_the_agents_end_to_end() {
    let s = Served::new();
    let c = &s.n.c;
    let script = c.root.join("protocol.midnet").display().to_string();
    c.run("alan", &["protocol", "script", "--out", &script]).ok();
    let (drug, comparator) = ("drug=3969099", "comparator=3969010");
    for site in 0..3 {
        s.n.approve_script("p1", site, &script, &["--param", drug, "--param", comparator]).ok();
    }
    let mut run = Command::new(midnet_bin())
        .args(["protocol", "run", "--project", "p1", "--drug", "3969099", "--comparator", "3969010"])
        .args(["--cutoff", CUTOFF, "--agents", "--every", "1", "--json", "--quiet"])
        .current_dir(&c.root)
        .env("MIDNET_HOME", &c.home)
        .env("HOME", c.os_home("alan"))
        .env("MIDNET_SESSION", c.token("alan"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut done = [false; 3];
    while run.try_wait().unwrap().is_none() && !done.iter().all(|d| *d) {
        for (site, finished) in done.iter_mut().enumerate() {
            let held = Served::held(&s.agent(site).ok());
            *finished = held.iter().any(|h| h["state"] == "done");
        }
    }
    let output = run.wait_with_output().unwrap();
    let (out, err) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{out}\n{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["record"]["analysis"], 1, "{report}");
    assert!(!report["results"].as_array().unwrap().is_empty(), "{report}");
    let datasets = s.n.datasets("p1");
    assert_eq!(datasets["datasets"][0]["sites"].as_array().unwrap().len(), 3, "{datasets}");
}

/// What a proxy does to the bytes from the client to the server while its switch is on.
#[derive(Clone, Copy)]
pub(crate) enum LineFault {
    /// Close the connection once this many bytes went through it.
    CutAfter(usize),
    /// Hold for this long the TLS record that follows a full one: the rest of a write longer than a
    /// record, such as a request's body beyond the record that carries its header.
    StallMidWrite(std::time::Duration),
}

/// The most plaintext a TLS record carries (16 KiB): a record this full is followed by the rest of
/// the same write, if it was longer.
const FULL_RECORD: usize = 16 << 10;

/// A TCP proxy to `target` on a port of its own: while `on` holds, it does `fault` to the bytes
/// each client sends.
pub(crate) fn proxy(target: &str, on: Arc<AtomicBool>, fault: LineFault) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let target = target.to_string();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let Ok(server) = TcpStream::connect(&target) else { continue };
            let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let on = on.clone();
            std::thread::spawn(move || pump(s2, c2, None));
            std::thread::spawn(move || pump(client, server, Some((on, fault))));
        }
    });
    address
}

fn pump(mut from: TcpStream, mut to: TcpStream, fault: Option<(Arc<AtomicBool>, LineFault)>) {
    let mut buffer = [0u8; 4096];
    let (mut sent, mut records, mut after_full) = (0, Vec::new(), false);
    loop {
        let n = match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let carried = match &fault {
            Some((on, LineFault::CutAfter(limit))) => {
                if on.load(Ordering::SeqCst) {
                    sent += n;
                    if sent > *limit {
                        break;
                    }
                }
                to.write_all(&buffer[..n])
            }
            Some((on, LineFault::StallMidWrite(pause))) => {
                records.extend_from_slice(&buffer[..n]);
                let pause = on.load(Ordering::SeqCst).then_some(*pause);
                carry_records(&mut records, &mut to, &mut after_full, pause)
            }
            None => to.write_all(&buffer[..n]),
        };
        if carried.is_err() {
            break;
        }
    }
    let _ = from.shutdown(std::net::Shutdown::Both);
    let _ = to.shutdown(std::net::Shutdown::Both);
}

/// Send on each whole TLS record at the start of `records` (a header of 5 bytes: type, version,
/// length), waiting `pause` before one that follows a full record.
fn carry_records(
    records: &mut Vec<u8>,
    to: &mut TcpStream,
    after_full: &mut bool,
    pause: Option<std::time::Duration>,
) -> std::io::Result<()> {
    while records.len() >= 5 {
        let len = 5 + usize::from(u16::from_be_bytes([records[3], records[4]]));
        if records.len() < len {
            break;
        }
        if let Some(pause) = pause
            && *after_full
        {
            std::thread::sleep(pause);
        }
        // A full record's length is its plaintext, its content type and the AEAD tag.
        *after_full = len - 5 > FULL_RECORD;
        to.write_all(&records[..len])?;
        records.drain(..len);
    }
    Ok(())
}

#[test]
fn the_sites_staff_read_the_shipped_script_before_they_approve_it() {
    let s = Served::new();
    s.extract(&[]).ok();
    let held = Served::held(&s.agent(0).ok());
    assert_eq!(held[0]["state"], "waiting_for_approval", "{held:?}");
    let id = held[0]["request"].as_str().unwrap();
    let shown = midnet_with(&s.n.c.root, &["site", "requests", "show", "--site", &s.site(0), id], &[], None).ok();
    // Every shipped line behind "| ": a line of the script cannot pass for a heading of the page.
    for part in ["\n| study \"Novagliptin vs sitagliptin", "--- the script's text ---", "--- in plain words ---"] {
        assert!(shown.stdout.contains(part), "{part:?} is not shown:\n{}", shown.stdout);
    }
    assert!(shown.stdout.contains(held[0]["script_sha256"].as_str().unwrap()), "{}", shown.stdout);
    let unknown = ["site", "requests", "show", "--site", &s.site(0), "r0000"];
    midnet_with(&s.n.c.root, &unknown, &[], None).fails(4, "holds no request r0000");
}
