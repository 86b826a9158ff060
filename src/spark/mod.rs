//! A Spark Connect client: one session on a Spark Connect server, SQL statements run one at a time,
//! results as Arrow record batches of the arrow version DuckDB uses (so Spark's rows flow into the
//! code that reads DuckDB's).
//!
//! Spark Connect has no authentication of its own: whoever reaches the port runs SQL with the
//! server's rights on every table it can read. So `midnet` connects only to a server on this
//! machine's loopback interface, and refuses any other address, saying why. (A remote server behind
//! TLS with a token is the way Spark Connect is secured; this client does not speak TLS yet, and
//! says so.)
//!
//! The session is released when the [`Session`] is dropped: its temporary views and cached tables
//! go with it.

mod address;
mod grpc;
mod proto;
mod quote;
mod steps;

use std::io::Cursor;

use duckdb::arrow::record_batch::RecordBatch;

pub use address::Address;
use grpc::{Channel, Status};
use proto::*;
pub use quote::{ident, string};

use crate::error::{Error, Result};

/// The client's name in the server's logs and UI.
const CLIENT_TYPE: &str = "midnet";

const EXECUTE_PLAN: &str = "/spark.connect.SparkConnectService/ExecutePlan";
const RELEASE_SESSION: &str = "/spark.connect.SparkConnectService/ReleaseSession";

/// One Spark Connect session (its own temporary views, its own configuration).
pub struct Session {
    runtime: tokio::runtime::Runtime,
    channel: Channel,
    address: Address,
    session_id: String,
}

impl Session {
    /// Connect to the server at `url` (`sc://127.0.0.1:15002`) and open a new session. A server that
    /// is not on loopback is refused before any connection is made.
    pub fn connect(url: &str) -> Result<Session> {
        let address = Address::parse(url)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .map_err(|e| Error::Internal(format!("starting the Spark Connect client's runtime: {e}")))?;
        let channel =
            runtime.block_on(Channel::connect(&address.authority())).map_err(|s| unreachable(&address, &s.message))?;
        let mut session = Session { runtime, channel, address, session_id: new_session_id() };
        // Spark substitutes `${name}` anywhere in a statement's text before parsing it, quoted
        // identifiers included (which have no escape for it): a name holding `${…}` would name
        // another column. Off for this session, before any statement.
        session.sql("SET spark.sql.variable.substitute = false")?;
        Ok(session)
    }

    /// Run one SQL statement and return its result's batches (none for a statement without rows,
    /// e.g. `CREATE TEMPORARY VIEW`). A statement Spark refuses is an error with Spark's message,
    /// which names the error class and the position (`line 1, pos 7`).
    pub fn sql(&mut self, statement: &str) -> Result<Vec<RecordBatch>> {
        let request = ExecutePlanRequest {
            session_id: self.session_id.clone(),
            user_context: Some(user_context()),
            plan: Some(Plan { root: Some(Relation { sql: Some(Sql { query: statement.to_string() }) }) }),
            client_type: Some(CLIENT_TYPE.to_string()),
        };
        let mut batches = Vec::new();
        let call = self.channel.call(EXECUTE_PLAN, &request, |response: ExecutePlanResponse| {
            if let Some(arrow) = response.arrow_batch {
                batches.extend(decode(&arrow.data)?);
            }
            Ok(())
        });
        self.runtime.block_on(call).map_err(|s| refused_by_spark(&self.address, &s))?;
        Ok(batches)
    }

    /// The address this session is connected to.
    pub fn address(&self) -> &Address {
        &self.address
    }
}

impl Drop for Session {
    /// Release the session on the server (its temporary views and cached tables with it). A server
    /// that is gone has released it already; the error is of no use to anyone here.
    fn drop(&mut self) {
        let request = ReleaseSessionRequest {
            session_id: self.session_id.clone(),
            user_context: Some(user_context()),
            client_type: Some(CLIENT_TYPE.to_string()),
        };
        let call = self.channel.call(RELEASE_SESSION, &request, |_: ReleaseSessionResponse| Ok(()));
        let _released = self.runtime.block_on(call);
    }
}

fn user_context() -> UserContext {
    UserContext { user_id: CLIENT_TYPE.to_string(), user_name: CLIENT_TYPE.to_string() }
}

/// A random (version 4) UUID: the server accepts only UUIDs as session ids.
fn new_session_id() -> String {
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// The batches of one Arrow IPC stream.
fn decode(data: &[u8]) -> Result<Vec<RecordBatch>, Status> {
    let bad =
        |e: duckdb::arrow::error::ArrowError| Status { code: 13, message: format!("an Arrow batch from Spark: {e}") };
    let reader = arrow_ipc::reader::StreamReader::try_new(Cursor::new(data), None).map_err(bad)?;
    reader.map(|batch| batch.map_err(bad)).collect()
}

fn unreachable(address: &Address, error: &dyn std::fmt::Display) -> Error {
    Error::Failed(format!(
        "cannot reach the Spark Connect server at {address}: {error} (is it running? scripts/spark.sh starts one on this machine)"
    ))
}

/// A statement Spark did not run: the first line of its message, which names the error class and
/// where the SQL is wrong. The lines after it are for Spark's developers (the statement quoted back,
/// a plan, a Java stack trace) and may quote values of the statement.
fn refused_by_spark(address: &Address, status: &Status) -> Error {
    match status.code {
        grpc::UNAVAILABLE => unreachable(address, &status.message),
        _ => Error::Failed(format!("Spark at {address} did not run the statement: {}", first_line(&status.message))),
    }
}

fn first_line(message: &str) -> &str {
    message.lines().map(str::trim).find(|line| !line.is_empty()).unwrap_or("(no message)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_first_line_of_a_message_is_kept() {
        let message =
            "\n[PARSE_SYNTAX_ERROR] Syntax error at or near 'FROM'. (line 2, pos 0)\n\n== SQL ==\nSELECT 'x'\n";
        assert_eq!(first_line(message), "[PARSE_SYNTAX_ERROR] Syntax error at or near 'FROM'. (line 2, pos 0)");
        assert_eq!(first_line(" \n"), "(no message)");
    }

    #[test]
    fn session_ids_are_version_4_uuids() {
        let id = new_session_id();
        let groups: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{id}");
        assert_eq!(&id[14..15], "4", "{id}");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
        assert_ne!(id, new_session_id());
    }
}
