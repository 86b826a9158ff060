//! The part of gRPC a Spark Connect client uses, over one HTTP/2 connection (h2): a call sends one
//! message and reads a stream of messages, then the call's status from the trailers. Messages are
//! length-prefixed protobuf, uncompressed (no other encoding is offered to the server).
//! <https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md> is the wire format.

use bytes::{Buf, Bytes, BytesMut};
use h2::client::SendRequest;
use http::{HeaderMap, Request};
use tokio::net::TcpStream;

/// A call that did not succeed: the gRPC status code and message, or an HTTP/2 or connection
/// failure (code [`UNAVAILABLE`]).
#[derive(Debug)]
pub struct Status {
    pub code: u32,
    pub message: String,
}

/// gRPC's code for a server that cannot be reached or went away.
pub const UNAVAILABLE: u32 = 14;

fn unavailable(e: impl std::fmt::Display) -> Status {
    Status { code: UNAVAILABLE, message: e.to_string() }
}

fn malformed(what: &str) -> Status {
    Status { code: 13, message: format!("a malformed gRPC response: {what}") }
}

const WINDOW: u32 = 4 << 20;

/// One HTTP/2 connection to a gRPC server.
pub struct Channel {
    send: SendRequest<Bytes>,
    authority: String,
}

impl Channel {
    /// Connect to `authority` (`127.0.0.1:15002`) over plain TCP. The connection's task runs on the
    /// runtime that awaits this; it ends when the channel is dropped.
    pub async fn connect(authority: &str) -> Result<Channel, Status> {
        let tcp = TcpStream::connect(authority).await.map_err(unavailable)?;
        tcp.set_nodelay(true).map_err(unavailable)?;
        // Windows of 4 MiB: a result streams in batches of up to 4 MiB (Spark's default
        // `spark.connect.grpc.arrow.maxBatchSize`), not 64 KiB at a time.
        let (send, connection) = h2::client::Builder::new()
            .initial_window_size(WINDOW)
            .initial_connection_window_size(WINDOW)
            .handshake(tcp)
            .await
            .map_err(unavailable)?;
        tokio::spawn(async move {
            // Errors of the connection reach the calls that are under way; none is left to report.
            let _ = connection.await;
        });
        Ok(Channel { send, authority: authority.to_string() })
    }

    /// Call `path` with `request`; `each` receives the response's messages in order.
    pub async fn call<Req: prost::Message, Resp: prost::Message + Default>(
        &mut self,
        path: &str,
        request: &Req,
        mut each: impl FnMut(Resp) -> Result<(), Status>,
    ) -> Result<(), Status> {
        let head = Request::builder()
            .method("POST")
            .uri(format!("http://{}{path}", self.authority))
            .header("content-type", "application/grpc+proto")
            .header("te", "trailers")
            .body(())
            .map_err(|e| malformed(&e.to_string()))?;
        let mut send = self.send.clone().ready().await.map_err(unavailable)?;
        let (response, mut body_out) = send.send_request(head, false).map_err(unavailable)?;
        body_out.send_data(frame(request), true).map_err(unavailable)?;
        let response = response.await.map_err(unavailable)?;
        if response.status() != http::StatusCode::OK {
            return Err(unavailable(format!(
                "the server answered HTTP {} (is this a Spark Connect port?)",
                response.status()
            )));
        }
        let (parts, mut body) = response.into_parts();
        // A call that fails at once answers with the status in its headers ("trailers-only").
        check(&parts.headers)?;
        let mut buffer = BytesMut::new();
        while let Some(chunk) = body.data().await {
            let chunk = chunk.map_err(unavailable)?;
            body.flow_control().release_capacity(chunk.len()).map_err(unavailable)?;
            buffer.extend_from_slice(&chunk);
            while let Some(message) = next_message(&mut buffer)? {
                each(Resp::decode(message).map_err(|e| malformed(&e.to_string()))?)?;
            }
        }
        if !buffer.is_empty() {
            return Err(malformed("the stream ended inside a message"));
        }
        match body.trailers().await.map_err(unavailable)? {
            Some(trailers) => check(&trailers),
            None if parts.headers.contains_key("grpc-status") => Ok(()),
            None => Err(malformed("no grpc-status")),
        }
    }
}

/// A message with gRPC's prefix: not compressed, its length as 4 bytes big-endian.
fn frame(message: &impl prost::Message) -> Bytes {
    let body = message.encode_to_vec();
    let mut out = Vec::with_capacity(body.len() + 5);
    out.push(0);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    Bytes::from(out)
}

/// The next whole message in `buffer`, taken out of it; `None` until one has arrived whole.
fn next_message(buffer: &mut BytesMut) -> Result<Option<Bytes>, Status> {
    if buffer.len() < 5 {
        return Ok(None);
    }
    if buffer[0] != 0 {
        return Err(malformed("a compressed message (none was asked for)"));
    }
    let length = u32::from_be_bytes([buffer[1], buffer[2], buffer[3], buffer[4]]) as usize;
    if buffer.len() < 5 + length {
        return Ok(None);
    }
    buffer.advance(5);
    Ok(Some(buffer.split_to(length).freeze()))
}

/// The status in `headers` (headers or trailers): an error unless absent or 0.
fn check(headers: &HeaderMap) -> Result<(), Status> {
    let Some(code) = headers.get("grpc-status") else { return Ok(()) };
    let code: u32 = code.to_str().ok().and_then(|c| c.parse().ok()).ok_or_else(|| malformed("grpc-status"))?;
    if code == 0 {
        return Ok(());
    }
    let message = headers.get("grpc-message").map(|m| percent_decode(m.as_bytes())).unwrap_or_default();
    Err(Status { code, message })
}

/// `grpc-message` is percent-encoded UTF-8.
fn percent_decode(text: &[u8]) -> String {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let hex = text
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (text[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_cut_at_their_lengths() {
        let mut buffer = BytesMut::from(&[0u8, 0, 0, 0, 2, 7, 8, 0, 0, 0, 0, 3, 1][..]);
        assert_eq!(next_message(&mut buffer).unwrap().unwrap().as_ref(), [7, 8]);
        assert!(next_message(&mut buffer).unwrap().is_none(), "the second message has not arrived whole");
        buffer.extend_from_slice(&[2, 3]);
        assert_eq!(next_message(&mut buffer).unwrap().unwrap().as_ref(), [1, 2, 3]);
        assert!(buffer.is_empty());
    }

    #[test]
    fn statuses_are_read_and_their_messages_decoded() {
        let mut headers = HeaderMap::new();
        headers.insert("grpc-status", "3".parse().unwrap());
        headers.insert("grpc-message", "%5BPARSE_SYNTAX_ERROR%5D at 'x' (line 1, pos 7) %E6%97%A5".parse().unwrap());
        let status = check(&headers).unwrap_err();
        assert_eq!(status.code, 3);
        assert_eq!(status.message, "[PARSE_SYNTAX_ERROR] at 'x' (line 1, pos 7) 日");
        headers.insert("grpc-status", "0".parse().unwrap());
        assert!(check(&headers).is_ok());
    }
}
