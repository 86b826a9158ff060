//! What a Spark site asks of its Spark Connect server before it runs anything there: a bounded
//! memory page. Every broadcast join of a query holds at least one page of the driver's heap,
//! outside Spark's memory account, and Spark's default page grows with the driver's memory (32 MiB
//! with 2 GB): one step of the protocol's query, 58 broadcast joins, then needed ~1.9 GB of a 2 GB
//! driver and its tasks spun for ever in `Failed to allocate a page` (docs/spark.md, "The protocol's
//! query on a long-running server"). A site refuses such a server, saying what to set, rather than
//! hang in its first extraction.

use crate::error::{Error, Result};
use crate::spark::Session;

/// The largest page a site's server may use: 58 pages of it are ~232 MiB.
const MAX_PAGE_BYTES: u64 = 4 << 20;

/// A session on the server at `connect` (loopback only), once the server's page is known bounded.
pub(super) fn connect(connect: &str) -> Result<Session> {
    let mut session = Session::connect(connect)?;
    let batches = session.sql("SET spark.buffer.pageSize")?;
    let rows = duckdb::Connection::open_in_memory()?;
    let columns = [("key".to_string(), "VARCHAR"), ("value".to_string(), "VARCHAR")];
    super::extract::store(&rows, "conf", batches, &columns)?;
    let value: Option<String> = rows.query_row("SELECT max(value) FROM conf", [], |r| r.get(0))?;
    let value = value.unwrap_or_default();
    match bytes(&value) {
        Some(page) if page <= MAX_PAGE_BYTES => Ok(session),
        _ => Err(Error::refused(
            "spark_page_size",
            format!(
                "the Spark Connect server at {connect} runs with spark.buffer.pageSize = {value:?}; a site's server \
                 needs a page of at most 4 MiB (start it with --conf spark.buffer.pageSize=1m): every broadcast join \
                 holds at least one page of the driver's memory outside Spark's account, and with Spark's default \
                 page the protocol's query does not fit a driver's memory (docs/spark.md)"
            ),
        )),
    }
}

/// A size in Spark's byte notation (`1m`, `512k`, `4mb`, `1048576`: bytes without a unit), or
/// None when it is not one (Spark answers `<undefined>` for a setting it was not given).
fn bytes(text: &str) -> Option<u64> {
    let text = text.trim().to_ascii_lowercase();
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let scale: u64 = match unit.trim() {
        "" | "b" => 1,
        "k" | "kb" => 1 << 10,
        "m" | "mb" => 1 << 20,
        "g" | "gb" => 1 << 30,
        _ => return None,
    };
    number.parse::<u64>().ok()?.checked_mul(scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_read_as_spark_writes_them() {
        assert_eq!(bytes("1m"), Some(1 << 20));
        assert_eq!(bytes("4MB"), Some(4 << 20));
        assert_eq!(bytes("512k"), Some(512 << 10));
        assert_eq!(bytes("1048576"), Some(1 << 20));
        assert_eq!(bytes(" 2g "), Some(2 << 30));
        for not_a_size in ["<undefined>", "", "m", "1x", "-1m", "99999999999999999999g"] {
            assert_eq!(bytes(not_a_size), None, "{not_a_size}");
        }
    }
}
