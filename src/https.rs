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
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The header that carries a request's signed envelope (its body is raw bytes, e.g. a chunk).
pub const CALL_HEADER: &str = "x-midnet-call";
/// The largest request body the server reads: a chunk and some slack.
pub const MAX_BODY: usize = 16 << 20;

/// One request as the handler sees it.
pub struct Request {
    pub path: String,
    /// The value of [`CALL_HEADER`], if any.
    pub call: Option<String>,
    pub body: Vec<u8>,
}

/// What the handler answers: an HTTP status and a JSON body.
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
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

/// Serve HTTPS on `listener` until the process ends, each request handed to `handler` on a
/// blocking thread (handlers read files and databases, and a long poll waits).
pub fn serve(
    listener: std::net::TcpListener,
    config: rustls::ServerConfig,
    handler: Arc<dyn Fn(Request) -> Response + Send + Sync>,
) -> Result<()> {
    listener.set_nonblocking(true).map_err(|e| Error::Internal(format!("listener: {e}")))?;
    let runtime = runtime()?;
    let _entered = runtime.enter();
    let listener =
        tokio::net::TcpListener::from_std(listener).map_err(|e| Error::Internal(format!("listener: {e}")))?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    runtime.block_on(accept(listener, acceptor, handler));
    Ok(())
}

async fn accept(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    handler: Arc<dyn Fn(Request) -> Response + Send + Sync>,
) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else { continue };
        let (acceptor, handler) = (acceptor.clone(), handler.clone());
        tokio::spawn(async move {
            // A client that fails the handshake (e.g. an agent that pins another certificate) is
            // dropped; it reports the failure on its side.
            let Ok(tls) = acceptor.accept(tcp).await else { return };
            let service = hyper::service::service_fn(move |req| respond(req, handler.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                .await;
        });
    }
}

async fn respond(
    req: hyper::Request<hyper::body::Incoming>,
    handler: Arc<dyn Fn(Request) -> Response + Send + Sync>,
) -> std::result::Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    let path = req.uri().path().to_string();
    let call = req.headers().get(CALL_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(e) => return Ok(reply(400, format!("{{\"error\":\"the request's body could not be read: {e}\"}}"))),
    };
    let answered = tokio::task::spawn_blocking(move || handler(Request { path, call, body })).await;
    Ok(match answered {
        Ok(response) => reply(response.status, response.body),
        Err(_) => reply(500, "{\"error\":\"the center's handler stopped\"}"),
    })
}

fn reply(status: u16, body: impl Into<Bytes>) -> hyper::Response<Full<Bytes>> {
    let mut response = hyper::Response::new(Full::new(body.into()));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    response
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| Error::Internal(format!("the HTTP runtime: {e}")))
}

/// An HTTPS client of one center, trusting only the certificate with the pinned fingerprint.
pub struct Client {
    url: String,
    host: String,
    port: u16,
    config: Arc<rustls::ClientConfig>,
    runtime: tokio::runtime::Runtime,
}

impl Client {
    /// A client of `url` (`https://HOST[:PORT]`, nothing else), pinning `fingerprint`.
    pub fn new(url: &str, fingerprint: &str) -> Result<Client> {
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
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => {
                let port = port.parse().map_err(|_| crate::bad_input!("--center {url}: {port:?} is not a port"))?;
                (host.to_string(), port)
            }
            None => (authority.to_string(), 443),
        };
        if host.is_empty() || authority.contains('/') {
            return Err(crate::bad_input!("--center {url}: give the center as https://HOST[:PORT], without a path"));
        }
        let verifier = Arc::new(Pinned { fingerprint: fingerprint.to_string(), provider: provider() });
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Internal(format!("TLS versions: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(Client { url: format!("https://{authority}"), host, port, config: Arc::new(config), runtime: runtime()? })
    }

    /// POST `body` to `path` with the signed `call` in its header: the response's status and body.
    pub fn call(&self, path: &str, call: &str, body: Vec<u8>) -> Result<(u16, Vec<u8>)> {
        let unreachable = |what: String| Error::Failed(format!("the center {}{path}: {what}", self.url));
        self.runtime.block_on(async {
            let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
                .await
                .map_err(|e| unreachable(format!("cannot connect: {e}")))?;
            let name =
                ServerName::try_from(self.host.clone()).map_err(|e| crate::bad_input!("--center {}: {e}", self.url))?;
            let tls = tokio_rustls::TlsConnector::from(self.config.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| tls_error(&self.url, e))?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake::<_, Full<Bytes>>(hyper_util::rt::TokioIo::new(tls))
                    .await
                    .map_err(|e| unreachable(format!("HTTP: {e}")))?;
            tokio::spawn(connection);
            let request = hyper::Request::post(path)
                .header(hyper::header::HOST, self.host.as_str())
                .header(CALL_HEADER, call)
                .body(Full::new(Bytes::from(body)))
                .map_err(|e| Error::Internal(format!("an HTTP request: {e}")))?;
            let response = sender.send_request(request).await.map_err(|e| unreachable(format!("cut off: {e}")))?;
            let status = response.status().as_u16();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| unreachable(format!("the answer was cut off: {e}")))?
                .to_bytes()
                .to_vec();
            Ok((status, body))
        })
    }
}

fn tls_error(url: &str, e: std::io::Error) -> Error {
    let text = e.to_string();
    if text.contains("pinned") {
        Error::Integrity(format!("the center {url}: {text}; nothing was sent"))
    } else {
        Error::Failed(format!("the center {url}: TLS handshake failed: {text}"))
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
