//! Attacks on `center serve` and `site agent` over real HTTPS on loopback (issue 22, the review's
//! findings): clients that hold connections or flood the center, hostile calls signed by a real
//! site's key, a center killed between two steps, a network that drops out under the agent. Each
//! ends with nothing lost and the extraction completing.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{midnet_bin, midnet_with};
use crate::network_https::{Served, completes, pseudonym, status_of, statuses};

/// How long the tests let `center serve` give a client for each step (`--step-timeout`).
const STEP: &[&str] = &["--step-timeout", "1"];
/// Longer than any step the center gives a client in these tests: waiting this long means the
/// center held the connection.
const PATIENCE: Duration = Duration::from_secs(20);

/// A TLS connection to the center that believes any certificate: an attacker's client, not an agent.
fn tls(url: &str) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let address = url.strip_prefix("https://").unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let connection = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = TcpStream::connect(address).unwrap();
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut stream = rustls::StreamOwned::new(connection, tcp);
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock).unwrap();
    }
    stream
}

#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Send `head` (request line and headers, without the blank line) and `body` on a new
/// connection; the status and body of the answer, read until the center closes or PATIENCE ends.
fn post(url: &str, head: &str, body: &[u8]) -> (u16, String) {
    let mut stream = tls(url);
    stream.write_all(format!("{head}\r\nconnection: close\r\n\r\n").as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    stream.flush().unwrap();
    let mut answer = Vec::new();
    let read = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    assert!(
        read.is_ok() || !text.is_empty(),
        "no answer within {PATIENCE:?}: {read:?} (the center waits for what the client never sends)"
    );
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or(String::new(), |(_, b)| b.to_string());
    (status, body)
}

/// A call signed with site `site`'s own key, about `request`, asking `call` (as `wire::Call`'s
/// JSON), with `body`: what a hostile agent holding a registered key can send. `life`: how long
/// the call says it is valid.
fn signed_call(s: &Served, site: usize, request: &str, call: Value, body: &[u8], life: i64) -> (u16, String) {
    let head = format!("{}\r\ncontent-length: {}", signed_head(s, site, request, call, life), body.len());
    post(&s.url, &head, body)
}

/// The request line and headers of a signed call, without its content length.
fn signed_head(s: &Served, site: usize, request: &str, call: Value, life: i64) -> String {
    let key = midnet::wire::read_signing_key(&s.n.sites[site].join("keys/site.key")).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let mut header = midnet::wire::Header::call(request, now);
    header.expires_at = now + life;
    let envelope = midnet::wire::seal(&key, header, &call);
    let hex = hex::encode(serde_json::to_vec(&envelope).unwrap());
    format!("POST /v1/call HTTP/1.1\r\nhost: localhost\r\nx-midnet-call: {hex}")
}

fn refusals_recorded(s: &Served) -> usize {
    std::fs::read_to_string(s.n.c.audit_log()).unwrap().matches("center serve: an agent refused").count()
}

#[test]
fn a_client_that_sends_nothing_or_trickles_its_header_is_cut_off_and_the_agents_still_get_through() {
    let s = Served::with(STEP, &[]);
    s.n.approve_all();
    s.extract(&[]).ok();
    // A TCP connection that never starts TLS.
    let address = s.url.strip_prefix("https://").unwrap();
    let mut silent = TcpStream::connect(address).unwrap();
    silent.set_read_timeout(Some(PATIENCE)).unwrap();
    let started = Instant::now();
    let read = silent.read(&mut [0u8; 64]);
    assert!(
        matches!(read, Ok(0)) || read.as_ref().is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "a client that never starts TLS is held open ({read:?} after {:?})",
        started.elapsed()
    );
    // TLS, then a header trickled a byte at a time: cut off when the step's time is up, however
    // steadily the bytes come.
    let mut trickle = tls(&s.url);
    let started = Instant::now();
    let header = b"POST /v1/call HTTP/1.1\r\nhost: localhost\r\nx-midnet-call: ".iter().chain([b'a'; 4096].iter());
    let mut cut = false;
    for byte in header {
        if trickle.write_all(&[*byte]).and_then(|()| trickle.flush()).is_err() || started.elapsed() > PATIENCE {
            cut = started.elapsed() <= PATIENCE;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(cut, "a header trickled for {:?} was never cut off", started.elapsed());
    for site in 0..3 {
        s.agent(site).ok();
    }
    let report = s.extract(&[]).ok().json();
    assert_eq!(report["datasets"][0]["sites"].as_array().unwrap().len(), 3, "{report}");
}

#[test]
fn a_large_body_is_not_read_before_the_call_is_believed_and_a_flood_leaves_one_record() {
    let s = Served::new();
    // A call that names no key the center knows, announcing 16 MiB: refused from its header alone.
    let head = "POST /v1/call HTTP/1.1\r\nhost: localhost\r\nx-midnet-call: 00\r\ncontent-length: 16777216";
    let (status, body) = post(&s.url, head, b"");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("cannot be read"), "{body}");
    // Forty more, as fast as they come: counted, not recorded one by one.
    for _ in 0..40 {
        let head = "POST /v1/call HTTP/1.1\r\nhost: localhost\r\nx-midnet-call: 7b7d\r\ncontent-length: 0";
        assert_eq!(post(&s.url, head, b"").0, 403);
    }
    assert_eq!(refusals_recorded(&s), 1, "the first refusal is recorded at once, the next ones counted");
    // A signed call announcing a body its kind may not have is refused before the body is read.
    let head = signed_head(&s, 0, "-", json!({"call": "work", "wait_seconds": 0}), 60);
    let (status, body) = post(&s.url, &format!("{head}\r\ncontent-length: 5242880"), b"");
    assert_eq!(status, 413, "{body}");
}

#[test]
fn a_call_valid_for_longer_than_a_call_may_be_is_refused() {
    let s = Served::new();
    let call = json!({"call": "work", "wait_seconds": 0});
    let (status, body) = signed_call(&s, 0, "-", call, &[], 3600);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("call_lifetime"), "{body}");
}

#[test]
fn a_long_poll_waits_and_offers_only_work_the_agent_has_not_fetched() {
    let s = Served::new();
    s.extract(&[]).ok();
    assert_eq!(Served::held(&s.agent(0).ok())[0]["state"], "waiting_for_approval");
    // The request waits for the site's staff: the center does not offer it again, so the poll
    // waits its time instead of returning at once (a busy loop between agent and center).
    let started = Instant::now();
    let dir = s.site(0);
    let args = ["site", "agent", "--site", &dir, "--center", &s.url, "--once", "--poll-seconds", "1", "--json"];
    let again = midnet_with(&s.n.c.root, &args, &[], None).ok();
    assert!(started.elapsed() >= Duration::from_secs(1), "the poll returned at once: {}", again.stdout);
    let (status, body) = signed_call(&s, 0, "-", json!({"call": "work", "wait_seconds": 0}), &[], 60);
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["requests"], json!([]), "{body}");
    s.n.approve(0, &[]).ok();
    assert_eq!(Served::held(&s.agent(0).ok())[0]["state"], "done");
}

#[test]
fn a_project_id_of_sixty_characters_goes_through_the_agents() {
    let s = Served::new();
    let project = "a-research-project-whose-id-is-sixty-characters-long-abcdefg";
    assert_eq!(project.len(), 60);
    s.n.c.research_project(project);
    s.n.c.run("carol", &["project", "grant", project, "alan", "analyst"]).ok();
    s.n.approve_all_for(project);
    let agents = ["--cutoff", "2025-09-30", "--agents"];
    s.n.extract(project, &agents).ok();
    for site in 0..3 {
        let held = Served::held(&s.agent(site).ok());
        assert_eq!(held[0]["state"], "done", "{held:?}");
        assert!(held[0]["request"].as_str().unwrap().len() <= 64, "{held:?}");
    }
    let done = s.n.extract(project, &agents).ok().json();
    assert_eq!(done["datasets"][0]["sites"].as_array().unwrap().len(), 3, "{done}");
}

#[test]
fn a_center_killed_between_taking_an_answer_and_verifying_it_completes_after_a_restart() {
    let mut s = Served::with(&[], &[("MIDNET_CRASH_AT", "serve-answer-accepted")]);
    s.n.approve_all();
    s.extract(&[]).ok();
    let cut = s.agent(0);
    assert_ne!(cut.code, 0, "the center died under the agent's answer");
    assert!(s.ended_within(30), "center serve was killed at its crash point");
    assert_eq!(s.requests(0)[0]["state"], "uploading", "the agent keeps the answer it could not hand in");
    s.restart("127.0.0.1:0", &[], &[]);
    // The agent hands in the same answer again; the center verifies what it took before dying.
    assert_eq!(Served::held(&s.agent(0).ok())[0]["state"], "done");
    let done = completes(&s);
    assert_eq!(statuses(&done).len(), 3, "{done}");
}

#[test]
fn an_answer_the_center_settled_but_the_agent_did_not_hear_is_not_failed() {
    let mut s = Served::with(&[], &[("MIDNET_CRASH_AT", "serve-answer-settled")]);
    s.n.approve_all();
    s.extract(&[]).ok();
    assert_ne!(s.agent(0).code, 0);
    assert_eq!(s.requests(0)[0]["state"], "uploading", "not failed: the center may have taken it");
    s.restart("127.0.0.1:0", &[], &[]);
    let held = Served::held(&s.agent(0).ok());
    assert_eq!(held[0]["state"], "done", "{held:?}");
    completes(&s);
}

#[test]
fn an_extract_killed_after_taking_the_upload_asks_again_rather_than_stick() {
    let s = Served::new();
    s.n.approve_all();
    s.extract(&[]).ok();
    for site in 0..3 {
        s.agent(site).ok();
    }
    // Killed after the first site's files moved into the project, before they were recorded.
    let killed =
        s.n.extract_env("p1", &["--cutoff", "2025-09-30", "--agents"], &[("MIDNET_CRASH_AT", "extract-received")]);
    assert_ne!(killed.code, 0);
    // Every site's upload was moved before the kill: each is asked again, none is stuck.
    let report = s.extract(&[]).ok().json();
    assert_eq!(statuses(&report), ["queued", "queued", "queued"], "{report}");
    for site in report["sites"].as_array().unwrap() {
        assert!(site["reason"].as_str().unwrap().contains("cannot be taken in"), "{report}");
    }
    completes(&s);
}

#[test]
fn a_site_cannot_declare_its_own_request_done_nor_upload_to_a_settled_one() {
    let s = Served::new();
    s.n.approve_all();
    s.extract(&[]).ok();
    let request = {
        let fetched = signed_call(&s, 0, "-", json!({"call": "work", "wait_seconds": 0}), &[], 60);
        let list: Value = serde_json::from_str(&fetched.1).unwrap();
        let payload: Value = serde_json::from_str(list["requests"][0]["payload"].as_str().unwrap()).unwrap();
        payload["header"]["request"].as_str().unwrap().to_string()
    };
    let done = json!({"call": "state", "state": "done", "detail": "trust me"});
    let (status, body) = signed_call(&s, 0, &request, done, &[], 60);
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("only the data center says"), "{body}");
    let report = s.extract(&[]).ok().json();
    assert_ne!(status_of(&report, &pseudonym(&report, 0))["status"], "done", "{report}");
    // The site says its run failed: the request is settled, its spool goes, and no byte more is taken.
    let bytes = b"late bytes";
    let chunk = json!({"call": "chunk", "file": "x.parquet", "offset": 0, "sha256": sha256(bytes)});
    assert_eq!(signed_call(&s, 0, &request, chunk.clone(), bytes, 60).0, 200, "an open request takes a chunk");
    let failed = json!({"call": "state", "state": "failed", "detail": "the\u{1b}[2J run\nfailed"});
    assert_eq!(signed_call(&s, 0, &request, failed, &[], 60).0, 200);
    assert!(!s.n.c.home.join("network/spool").join(&request).exists(), "the failed request's spool is removed");
    let (status, body) = signed_call(&s, 0, &request, chunk, bytes, 60);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("settled"), "{body}");
    let report = s.extract(&[]).ok().json();
    let reason = status_of(&report, &pseudonym(&report, 0))["reason"].as_str().unwrap().to_string();
    assert!(
        reason.contains("the [2J run failed") && !reason.contains('\u{1b}'),
        "control characters are not kept: {reason:?}"
    );
}

/// A chunk that comes slowly but steadily (longer in all than `--step-timeout`, above the slowest
/// rate the center takes) is taken; one whose body stops for longer than the step is cut off (408).
#[test]
fn a_slow_but_steady_chunk_is_taken_and_a_stalled_one_is_cut_off() {
    let s = Served::with(&["--step-timeout", "1", "--min-body-rate", "4096"], &[]);
    s.n.approve_all();
    s.extract(&[]).ok();
    let fetched = signed_call(&s, 0, "-", json!({"call": "work", "wait_seconds": 0}), &[], 60);
    let list: Value = serde_json::from_str(&fetched.1).unwrap();
    let payload: Value = serde_json::from_str(list["requests"][0]["payload"].as_str().unwrap()).unwrap();
    let request = payload["header"]["request"].as_str().unwrap().to_string();
    let chunk = |offset: usize, bytes: &[u8]| {
        let call = json!({"call": "chunk", "file": "slow.parquet", "offset": offset, "sha256": sha256(bytes)});
        let head = signed_head(&s, 0, &request, call, 60);
        let mut stream = tls(&s.url);
        let head = format!("{head}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", bytes.len());
        stream.write_all(head.as_bytes()).and_then(|()| stream.flush()).unwrap();
        stream
    };
    let answer = |mut stream: rustls::StreamOwned<rustls::ClientConnection, TcpStream>| {
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    };
    // 32 KiB in sixteen pieces, one every 100 ms: 1.6 s in all, beyond the step of 1 s.
    let bytes = [7u8; 32 << 10];
    let mut steady = chunk(0, &bytes);
    for piece in bytes.chunks(2 << 10) {
        std::thread::sleep(Duration::from_millis(100));
        steady.write_all(piece).and_then(|()| steady.flush()).unwrap();
    }
    let steady = answer(steady);
    assert!(steady.starts_with("HTTP/1.1 200"), "{steady}");
    // A body that stops halfway, for longer than the step: cut off, though it is within the rate.
    let bytes = [7u8; 4 << 10];
    let mut stalled = chunk(32 << 10, &bytes);
    stalled.write_all(&bytes[..2 << 10]).and_then(|()| stalled.flush()).unwrap();
    let stalled = answer(stalled);
    assert!(stalled.starts_with("HTTP/1.1 408"), "{stalled}");
    assert!(stalled.contains("stopped for 1 seconds"), "{stalled}");
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[test]
fn an_agent_waits_out_a_center_that_is_down_and_a_half_open_one_does_not_hang_it() {
    let mut s = Served::new();
    s.n.approve_all();
    s.extract(&[]).ok();
    // A server that accepts connections and never says a word.
    let mute = TcpListener::bind("127.0.0.1:0").unwrap();
    let mute_url = format!("https://{}", mute.local_addr().unwrap());
    let started = Instant::now();
    let mut hung = Command::new(midnet_bin())
        .args(["site", "agent", "--site", &s.site(0), "--center", &mute_url, "--once", "--timeout", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while hung.try_wait().unwrap().is_none() && started.elapsed() < PATIENCE {
        std::thread::sleep(Duration::from_millis(100));
    }
    let ended = hung.try_wait().unwrap();
    let _ = hung.kill();
    assert!(ended.is_some_and(|status| !status.success()), "the agent hung on a mute server for {PATIENCE:?}");
    drop(mute);
    // The center goes down; an agent started meanwhile waits for it rather than exit.
    s.stop();
    let mut agent = Command::new(midnet_bin())
        .args(["site", "agent", "--site", &s.site(0), "--center", &s.url, "--poll-seconds", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    assert!(agent.try_wait().unwrap().is_none(), "the agent gave up on a center that was down");
    let address = s.url.strip_prefix("https://").unwrap().to_string();
    s.restart(&address, &[], &[]);
    let started = Instant::now();
    let done = |s: &Served| s.requests(0).first().is_some_and(|held| held["state"] == "done");
    while !done(&s) && started.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(500));
    }
    let _ = agent.kill();
    let mut stderr = String::new();
    agent.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(done(&s), "{stderr}");
    assert!(stderr.contains("trying again"), "{stderr}");
    let _ = agent.wait();
}

#[test]
fn center_serve_answers_no_agent_once_its_reviewers_session_ended() {
    let s = Served::new();
    s.n.approve_all();
    s.extract(&[]).ok();
    s.n.c.run("rev", &["logout"]).ok();
    let refused = s.agent(0);
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    assert!(refused.stderr.contains("reviewer's session ended"), "{}", refused.stderr);
    assert!(s.requests(0).is_empty(), "nothing was served: {:?}", s.requests(0));
}

#[test]
fn an_answer_handed_in_after_its_request_expired_counts_from_when_its_upload_ended() {
    let s = Served::new();
    s.n.approve_all();
    s.extract(&["--valid-for", "15"]).ok();
    // Every byte is up before the request expires; the answer is handed in only after.
    let killed = s.agent_at(0, &s.url, &[("MIDNET_CRASH_AT", "agent-uploaded")]);
    assert_ne!(killed.code, 0, "killed before handing in: {}", killed.stderr);
    let request = s.requests(0)[0]["request"].as_str().unwrap().to_string();
    let kept: Value = serde_json::from_str(
        &std::fs::read_to_string(s.n.c.home.join(format!("network/requests/{request}.json"))).unwrap(),
    )
    .unwrap();
    let payload: Value = serde_json::from_str(kept["request"]["payload"].as_str().unwrap()).unwrap();
    let expires = payload["header"]["expires_at"].as_i64().unwrap();
    while (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64) <= expires {
        std::thread::sleep(Duration::from_millis(200));
    }
    let held = Served::held(&s.agent(0).ok());
    assert_eq!(held[0]["state"], "done", "{held:?}");
}
