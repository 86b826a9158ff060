//! A Spark Connect address, `sc://HOST:PORT` (port 15002 when left out; parameters after `/;` as
//! Spark's clients write them), accepted only on loopback.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use crate::bad_input;
use crate::error::{Error, Result};

/// Spark Connect's default port.
const DEFAULT_PORT: u16 = 15002;

/// A loopback address of a Spark Connect server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    ip: IpAddr,
    port: u16,
}

impl Address {
    /// Parse `sc://HOST[:PORT][/;name=value…]`. HOST must be loopback: an IP address of 127.0.0.0/8,
    /// `::1` (as `[::1]`) or `localhost` (taken as 127.0.0.1, never looked up). Any other host, and
    /// the parameters that ask for TLS or a token, are refused with the reason.
    pub fn parse(url: &str) -> Result<Address> {
        let rest = url.strip_prefix("sc://").ok_or_else(|| {
            bad_input!("the Spark Connect address `{url}` does not start with sc:// (write sc://127.0.0.1:15002)")
        })?;
        let (authority, params) = match rest.split_once('/') {
            Some((authority, params)) => (authority, params),
            None => (rest, ""),
        };
        refuse_parameters(url, params)?;
        let (host, port) = split_port(url, authority)?;
        let ip = loopback(url, host)?;
        Ok(Address { ip, port })
    }

    /// `IP:PORT`, what the client connects to (plain HTTP/2: the bytes never leave this machine).
    pub fn authority(&self) -> String {
        match self.ip {
            IpAddr::V4(ip) => format!("{ip}:{}", self.port),
            IpAddr::V6(ip) => format!("[{ip}]:{}", self.port),
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip {
            IpAddr::V4(ip) => write!(f, "sc://{ip}:{}", self.port),
            IpAddr::V6(ip) => write!(f, "sc://[{ip}]:{}", self.port),
        }
    }
}

/// Parameters `/;name=value;…`: none is needed on loopback; TLS and tokens are what a remote server
/// needs, and this client does not speak TLS yet.
fn refuse_parameters(url: &str, params: &str) -> Result<()> {
    let params = params.strip_prefix(';').unwrap_or(params);
    let Some(param) = params.split(';').find(|p| !p.is_empty()) else { return Ok(()) };
    let name = param.split_once('=').map_or(param, |(name, _)| name);
    Err(match name {
        "use_ssl" | "token" => Error::refused(
            "spark_tls",
            format!(
                "`{url}` asks for TLS or a token (`{name}`): this midnet speaks to Spark Connect only on loopback, without TLS; run the site's midnet on the Spark cluster's driver machine, or put the server on this machine's loopback"
            ),
        ),
        _ => bad_input!(
            "the Spark Connect address `{url}` has the parameter `{name}`, which midnet does not use (write sc://127.0.0.1:PORT)"
        ),
    })
}

fn split_port<'a>(url: &str, authority: &'a str) -> Result<(&'a str, u16)> {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| bad_input!("the Spark Connect address `{url}` opens `[` without closing it"))?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        None => DEFAULT_PORT,
        Some(text) => text.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| {
            bad_input!("the Spark Connect address `{url}` has the port `{text}`, not a number from 1 to 65535")
        })?,
    };
    if host.is_empty() {
        return Err(bad_input!("the Spark Connect address `{url}` names no host (write sc://127.0.0.1:PORT)"));
    }
    Ok((host, port))
}

fn loopback(url: &str, host: &str) -> Result<IpAddr> {
    let ip = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host.parse::<IpAddr>().map_err(|_| not_loopback(url, host))?
    };
    if ip.is_loopback() { Ok(ip) } else { Err(not_loopback(url, host)) }
}

fn not_loopback(url: &str, host: &str) -> Error {
    Error::refused(
        "spark_loopback",
        format!(
            "`{url}`: the host `{host}` is not this machine's loopback. Spark Connect has no authentication of its own (whoever reaches the port reads every table the server can), so midnet connects only to 127.0.0.1, [::1] or localhost"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(url: &str) -> (&'static str, String) {
        match Address::parse(url) {
            Err(Error::Refused { rule, message }) => (rule, message),
            other => panic!("{url}: {other:?}"),
        }
    }

    #[test]
    fn loopback_addresses_are_accepted() {
        assert_eq!(Address::parse("sc://127.0.0.1:15003").unwrap().to_string(), "sc://127.0.0.1:15003");
        assert_eq!(Address::parse("sc://localhost").unwrap().authority(), "127.0.0.1:15002");
        assert_eq!(Address::parse("sc://[::1]:9/").unwrap().authority(), "[::1]:9");
        assert_eq!(Address::parse("sc://127.8.9.10:1").unwrap().to_string(), "sc://127.8.9.10:1");
    }

    #[test]
    fn other_hosts_are_refused_with_the_reason() {
        for url in [
            "sc://10.0.0.5:15002",
            "sc://spark.example.org",
            "sc://0.0.0.0:15002",
            "sc://[::]:1",
            "sc://localhost.evil:1",
        ] {
            let (rule, message) = refusal(url);
            assert_eq!(rule, "spark_loopback", "{url}");
            assert!(message.contains("no authentication"), "{message}");
        }
    }

    #[test]
    fn tls_and_tokens_are_refused_as_not_spoken() {
        let (rule, message) = refusal("sc://127.0.0.1:443/;use_ssl=true;token=abc");
        assert_eq!(rule, "spark_tls");
        assert!(message.contains("use_ssl"), "{message}");
    }

    #[test]
    fn malformed_addresses_say_what_is_wrong() {
        for (url, says) in [
            ("http://127.0.0.1:15002", "does not start with sc://"),
            ("sc://127.0.0.1:0", "not a number from 1 to 65535"),
            ("sc://127.0.0.1:http", "not a number from 1 to 65535"),
            ("sc://:15002", "names no host"),
            ("sc://[::1:15002", "without closing"),
            ("sc://127.0.0.1/;user_id=x", "parameter `user_id`"),
        ] {
            match Address::parse(url) {
                Err(Error::BadInput(message)) => assert!(message.contains(says), "{url}: {message}"),
                other => panic!("{url}: {other:?}"),
            }
        }
    }
}
