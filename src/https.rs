//! HTTPS between the data center and its sites' agents: the center's TLS certificate (made once
//! with rcgen, kept owner-only), a small HTTP/1.1 server (hyper on tokio, rustls with the ring
//! provider) that hands each request to a blocking handler, and a client that trusts exactly one
//! certificate, pinned by its SHA-256 fingerprint, and refuses `http://`.
//!
//! Pinning replaces certificate authorities on purpose: the center's certificate is self-signed and
//! its fingerprint is given to each hospital out of band with the center's signing key
//! (docs/network.md). What travels inside is authenticated again by signed envelopes (`wire`), so
//! TLS adds confidentiality on the hospital's network and a second check of whom the agent talks to.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The header that carries a request's signed envelope (its body is raw bytes, e.g. a chunk).
pub const CALL_HEADER: &str = "x-midnet-call";

/// What the server holds each connection to: how long a client may take for each step, and how
/// many connections it serves at once. A client that sends nothing, trickles its header or stalls
/// its body is cut off when its step's time is up, so that it cannot hold a connection for long.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The TLS handshake, the request's header (counted from the connection's start, or from the
    /// end of the previous answer: an idle keep-alive connection is closed after it), each; and the
    /// longest pause in a body.
    pub step: Duration,
    /// Connections served at once; the next waits in the system's backlog until one ends.
    pub connections: usize,
    /// The slowest line a body may come on, in bytes a second: a body of `len` bytes may take
    /// `step` plus `len` at this rate ([`body_time`]), and pause for at most `step` at once. A
    /// slow but steady upload is taken; a stalled one is cut off.
    pub min_body_rate: u64,
}

/// The slowest line a body may come on unless the center says otherwise (`Limits::min_body_rate`),
/// in bytes a second (128 kbit/s); the agent waits for an answer to a body as long as this rate
/// takes for it.
pub const MIN_BODY_RATE: u64 = 16 << 10;

/// How long a body of `len` bytes may take to arrive at `rate` bytes a second, after `step`.
pub fn body_time(step: Duration, len: u64, rate: u64) -> Duration {
    step + Duration::from_millis(len.saturating_mul(1000) / rate.max(1))
}

/// How long the accept loop pauses after the system refused a connection (e.g. out of file
/// descriptors): retrying at once would spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What the server asks of whoever answers: admit a request from its head alone (its path and
/// signed call), before any of its body is read, with the largest body it may have; then answer
/// it. Admitting runs on a blocking thread, as answering does (both read files).
pub trait Handler: Send + Sync + 'static {
    type Admitted: Send + 'static;
    fn admit(&self, head: Head) -> std::result::Result<(Self::Admitted, usize), Response>;
    fn respond(&self, admitted: Self::Admitted, body: Vec<u8>) -> Response;
}

/// A request's head as the handler sees it.
pub struct Head {
    pub path: String,
    /// The value of [`CALL_HEADER`], if any.
    pub call: Option<String>,
}

/// What the handler answers: an HTTP status and a JSON body.
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    /// A refusal: `status` and `{"error": message, "exit": exit}`, JSON-escaped.
    pub fn error(status: u16, message: &str, exit: i32) -> Response {
        let body = serde_json::json!({"error": message, "exit": exit});
        Response { status, body: serde_json::to_vec(&body).expect("JSON serialises") }
    }
}

/// The center's TLS identity in `dir` (`cert.pem`, `key.pem`, owner-only): made at first use for
/// `names` (host names or IP addresses the sites connect to), then kept. Returns the server
/// configuration and the certificate's SHA-256 fingerprint.
pub fn center_identity(dir: &Path, names: &[String]) -> Result<(rustls::ServerConfig, String)> {
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    if !cert_path.exists() {
        crate::store::create_private_dir(dir)?;
        let made = rcgen::generate_simple_self_signed(names.to_vec())
            .map_err(|e| Error::Internal(format!("making the center's TLS certificate: {e}")))?;
        crate::store::write_private_atomically(&key_path, made.signing_key.serialize_pem().as_bytes())?;
        crate::store::write_private_atomically(&cert_path, made.cert.pem().as_bytes())?;
    }
    let unreadable = |path: &Path, e: rustls::pki_types::pem::Error| {
        Error::Integrity(format!("{}: not a usable PEM file: {e}", path.display()))
    };
    let cert = CertificateDer::from_pem_file(&cert_path).map_err(|e| unreadable(&cert_path, e))?;
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| unreadable(&key_path, e))?;
    let fingerprint = fingerprint(&cert);
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Internal(format!("TLS versions: {e}")))?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .map_err(|e| Error::Integrity(format!("{}: not a usable TLS key and certificate: {e}", dir.display())))?;
    Ok((config, fingerprint))
}

/// The SHA-256 of a certificate's DER bytes, as lowercase hex: what a site pins.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// A pinned fingerprint as given: 64 hex digits, colons allowed (as `openssl x509 -fingerprint`
/// prints them), any case.
pub fn parse_fingerprint(text: &str) -> std::result::Result<String, String> {
    let hex: String = text.trim().chars().filter(|c| *c != ':').collect::<String>().to_ascii_lowercase();
    if hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(hex)
    } else {
        Err(format!("{:?} is not a SHA-256 fingerprint (64 hex digits, colons allowed)", text.trim()))
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Serve HTTPS on `listener` until the process ends, within `limits`, each request handed to
/// `handler` on a blocking thread (handlers read files and databases, and a long poll waits).
pub fn serve<H: Handler>(
    listener: std::net::TcpListener,
    config: rustls::ServerConfig,
    limits: Limits,
    handler: Arc<H>,
) -> Result<()> {
    listener.set_nonblocking(true).map_err(|e| Error::Internal(format!("listener: {e}")))?;
    let runtime = runtime()?;
    let _entered = runtime.enter();
    let listener =
        tokio::net::TcpListener::from_std(listener).map_err(|e| Error::Internal(format!("listener: {e}")))?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    runtime.block_on(accept(listener, acceptor, limits, handler));
    Ok(())
}

async fn accept<H: Handler>(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    limits: Limits,
    handler: Arc<H>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.connections));
    loop {
        let slot = slots.clone().acquire_owned().await.expect("the connection semaphore is never closed");
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => tcp,
            Err(_) => {
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let (acceptor, handler) = (acceptor.clone(), handler.clone());
        tokio::spawn(async move {
            let _slot = slot;
            // A client that fails the handshake (e.g. an agent that pins another certificate) or
            // does not finish it in time is dropped; it reports the failure on its side.
            let Ok(Ok(tls)) = tokio::time::timeout(limits.step, acceptor.accept(tcp)).await else { return };
            let service = hyper::service::service_fn(move |req| respond(req, handler.clone(), limits));
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(limits.step)
                .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                .await;
        });
    }
}

async fn respond<H: Handler>(
    req: hyper::Request<hyper::body::Incoming>,
    handler: Arc<H>,
    limits: Limits,
) -> std::result::Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    let head = Head {
        path: req.uri().path().to_string(),
        call: req.headers().get(CALL_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string),
    };
    let admitting = handler.clone();
    let (admitted, limit) = match tokio::task::spawn_blocking(move || admitting.admit(head)).await {
        Ok(Ok(admitted)) => admitted,
        Ok(Err(refused)) => return Ok(reply(refused)),
        Err(_) => return Ok(reply(Response::error(500, "the center's handler stopped", 1))),
    };
    let declared = hyper::body::Body::size_hint(req.body()).lower();
    if declared > limit as u64 {
        let why = format!("a body of {declared} bytes, where this call may have at most {limit}");
        return Ok(reply(Response::error(413, &why, 2)));
    }
    let body = match read_body(req.into_body(), limit, limits).await {
        Ok(body) => body,
        Err(refused) => return Ok(reply(refused)),
    };
    Ok(match tokio::task::spawn_blocking(move || handler.respond(admitted, body)).await {
        Ok(response) => reply(response),
        Err(_) => reply(Response::error(500, "the center's handler stopped", 1)),
    })
}

/// Read a body of at most `limit` bytes, within [`body_time`] of its announced length (or of
/// `limit`), no pause longer than the step.
async fn read_body(
    body: hyper::body::Incoming,
    limit: usize,
    limits: Limits,
) -> std::result::Result<Vec<u8>, Response> {
    let (step, rate) = (limits.step, limits.min_body_rate);
    let expected = hyper::body::Body::size_hint(&body).upper().unwrap_or(limit as u64).min(limit as u64);
    let allowed = body_time(step, expected, rate);
    let deadline = tokio::time::Instant::now() + allowed;
    let mut body = Limited::new(body, limit);
    let mut bytes = Vec::new();
    loop {
        let pause_ends = tokio::time::Instant::now() + step;
        match tokio::time::timeout_at(deadline.min(pause_ends), body.frame()).await {
            Ok(None) => return Ok(bytes),
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    bytes.extend_from_slice(&data);
                }
            }
            Ok(Some(Err(e))) => {
                return Err(Response::error(400, &format!("the request's body could not be read: {e}"), 2));
            }
            Err(_) => {
                let why = format!(
                    "the request's body stopped for {} seconds, or came slower than {} bytes a second ({} of {expected} \
                     bytes in {} seconds)",
                    step.as_secs(),
                    rate,
                    bytes.len(),
                    allowed.as_secs()
                );
                return Err(Response::error(408, &why, 1));
            }
        }
    }
}

fn reply(response: Response) -> hyper::Response<Full<Bytes>> {
    let mut reply = hyper::Response::new(Full::new(Bytes::from(response.body)));
    *reply.status_mut() =
        hyper::StatusCode::from_u16(response.status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    reply
        .headers_mut()
        .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    reply
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| Error::Internal(format!("the HTTP runtime: {e}")))
}

/// The largest answer the client reads: the center answers with JSON (a list of work requests at
/// most); anything longer is not read into memory.
const MAX_ANSWER: usize = 64 << 20;

/// An HTTPS client of one center, trusting only the certificate with the pinned fingerprint. It
/// keeps one connection open between calls, and opens another when the center closed it.
pub struct Client {
    url: String,
    host: String,
    port: u16,
    config: Arc<rustls::ClientConfig>,
    /// How long connecting (TCP and TLS) may take, and how long an answer may take beyond the
    /// time the call itself asks the center to wait: a half-open connection fails, never hangs.
    timeout: Duration,
    runtime: tokio::runtime::Runtime,
    connection: Mutex<Option<Sender>>,
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// Why a call got no answer from the center: the network (worth another try later), or a server
/// that is not the pinned center (not worth one).
#[derive(Debug)]
pub enum Unanswered {
    Network(Error),
    NotTheCenter(Error),
}

impl From<Unanswered> for Error {
    fn from(u: Unanswered) -> Error {
        match u {
            Unanswered::Network(e) | Unanswered::NotTheCenter(e) => e,
        }
    }
}

impl Client {
    /// A client of `url` (`https://HOST[:PORT]`, HOST a name, an IPv4 address or an IPv6 one in
    /// brackets; nothing else), pinning `fingerprint`, waiting `timeout` for each step.
    pub fn new(url: &str, fingerprint: &str, timeout: Duration) -> Result<Client> {
        let Some(rest) = url.strip_prefix("https://") else {
            return Err(Error::refused(
                "https_only",
                format!(
                    "--center {url}: the center is reached over https:// only (a plain or other scheme would send \
                     the site's results and requests readable and unauthenticated)"
                ),
            ));
        };
        let authority = rest.trim_end_matches('/');
        let uri: hyper::http::uri::Authority = authority
            .parse()
            .map_err(|_| crate::bad_input!("--center {url}: give the center as https://HOST[:PORT], without a path"))?;
        if authority.contains(['/', '@']) || uri.host().is_empty() {
            return Err(crate::bad_input!("--center {url}: give the center as https://HOST[:PORT], without a path"));
        }
        let host = uri.host().trim_start_matches('[').trim_end_matches(']').to_string();
        let port = uri.port_u16().unwrap_or(443);
        let verifier = Arc::new(Pinned { fingerprint: fingerprint.to_string(), provider: provider() });
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Internal(format!("TLS versions: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(Client {
            url: format!("https://{authority}"),
            host,
            port,
            config: Arc::new(config),
            timeout,
            runtime: runtime()?,
            connection: Mutex::new(None),
        })
    }

    /// POST `body` to `path` with the signed `call` in its header: the response's status and body.
    /// `waits` is how long the call asks the center to wait before answering (a long poll).
    pub fn call(
        &self,
        path: &str,
        call: &str,
        body: Vec<u8>,
        waits: Duration,
    ) -> std::result::Result<(u16, Vec<u8>), Unanswered> {
        let mut kept = self.connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let body_len = body.len() as u64;
        let network =
            |what: String| Unanswered::Network(Error::Failed(format!("the center {}{path}: {what}", self.url)));
        self.runtime.block_on(async {
            let request = hyper::Request::post(path)
                .header(hyper::header::HOST, self.host.as_str())
                .header(CALL_HEADER, call)
                .body(Full::new(Bytes::from(body)))
                .map_err(|e| Unanswered::Network(Error::Internal(format!("an HTTP request: {e}"))))?;
            // A body is sent at the slowest rate the center takes, at worst.
            let limit = waits + body_time(self.timeout, body_len, MIN_BODY_RATE);
            let answered = tokio::time::timeout(limit, async {
                let (sender, response) = self.send(kept.take(), request).await?;
                *kept = Some(sender);
                let response = response.map_err(|e| network(format!("cut off: {e}")))?;
                let status = response.status().as_u16();
                let body = Limited::new(response.into_body(), MAX_ANSWER)
                    .collect()
                    .await
                    .map_err(|e| network(format!("the answer was cut off or too long: {e}")))?
                    .to_bytes()
                    .to_vec();
                Ok((status, body))
            })
            .await;
            let answered = answered.map_err(|_| network(format!("no answer within {} seconds", limit.as_secs())));
            if !matches!(answered, Ok(Ok(_))) {
                *kept = None; // a connection that failed a call is not used again
            }
            answered?
        })
    }

    /// Send `request` on the kept connection if the center has not closed it (it closes one idle
    /// for long), else, or if it turns out closed before the request went out, on a new one.
    async fn send(
        &self,
        kept: Option<Sender>,
        request: hyper::Request<Full<Bytes>>,
    ) -> std::result::Result<(Sender, hyper::Result<hyper::Response<hyper::body::Incoming>>), Unanswered> {
        if let Some(mut sender) = kept {
            // Let the connection's task see a close that arrived while no call was running.
            tokio::task::yield_now().await;
            if sender.ready().await.is_ok() {
                match sender.try_send_request(request).await {
                    Ok(response) => return Ok((sender, Ok(response))),
                    Err(mut unsent) => match unsent.take_message() {
                        Some(request) => return self.send_new(request).await,
                        None => return Ok((sender, Err(unsent.into_error()))),
                    },
                }
            }
        }
        self.send_new(request).await
    }

    async fn send_new(
        &self,
        request: hyper::Request<Full<Bytes>>,
    ) -> std::result::Result<(Sender, hyper::Result<hyper::Response<hyper::body::Incoming>>), Unanswered> {
        let mut sender = self.connect().await?;
        let response = sender.send_request(request).await;
        Ok((sender, response))
    }

    /// A new connection to the center, its certificate checked against the pin.
    async fn connect(&self) -> std::result::Result<Sender, Unanswered> {
        let network = |what: String| Unanswered::Network(Error::Failed(format!("the center {}: {what}", self.url)));
        let late = |what: &str| network(format!("{what} did not complete within {} seconds", self.timeout.as_secs()));
        let tcp = tokio::time::timeout(self.timeout, tokio::net::TcpStream::connect((self.host.as_str(), self.port)))
            .await
            .map_err(|_| late("connecting"))?
            .map_err(|e| network(format!("cannot connect: {e}")))?;
        let name = ServerName::try_from(self.host.clone())
            .map_err(|e| Unanswered::NotTheCenter(crate::bad_input!("--center {}: {e}", self.url)))?;
        let tls = tokio::time::timeout(
            self.timeout,
            tokio_rustls::TlsConnector::from(self.config.clone()).connect(name, tcp),
        )
        .await
        .map_err(|_| late("the TLS handshake"))?
        .map_err(|e| tls_error(&self.url, e))?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake::<_, Full<Bytes>>(hyper_util::rt::TokioIo::new(tls))
                .await
                .map_err(|e| network(format!("HTTP: {e}")))?;
        tokio::spawn(connection);
        Ok(sender)
    }
}

fn tls_error(url: &str, e: std::io::Error) -> Unanswered {
    let text = e.to_string();
    if text.contains("pinned") {
        Unanswered::NotTheCenter(Error::Integrity(format!("the center {url}: {text}; nothing was sent")))
    } else {
        Unanswered::Network(Error::Failed(format!("the center {url}: TLS handshake failed: {text}")))
    }
}

/// Trusts the one certificate whose SHA-256 is the pinned fingerprint, and checks the handshake's
/// signatures with it as usual.
#[derive(Debug)]
struct Pinned {
    fingerprint: String,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let found = fingerprint(end_entity);
        if found == self.fingerprint {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "its TLS certificate has SHA-256 {found}, not the pinned {} (another server, or the center's \
                 certificate was replaced: pin the new one only if the center gave it out of band)",
                self.fingerprint
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}
