//! DuckDB, the engine compiled into `midnet`: the generated queries of every site today, and the
//! SQL that `midnet` runs on its own DuckDB connections (site loads, the project database, reading
//! tables), which quotes through [`ident`] and [`string`].

use super::{Dialect, SortKey};

/// DuckDB's dialect. Its quoting is the SQL standard's (DuckDB's string literals have no
/// backslash escapes, so doubling the quote is the whole escape).
pub struct DuckDb;

/// A name as a DuckDB identifier (see [`Dialect::ident`]).
pub fn ident(name: &str) -> String {
    DuckDb.ident(name)
}

/// A value as a DuckDB string literal (see [`Dialect::string`]).
pub fn string(value: &str) -> String {
    DuckDb.string(value)
}

impl Dialect for DuckDb {
    fn add_days(&self, date: &str, days: &str) -> String {
        format!("({date} + CAST({days} AS INTEGER))")
    }

    fn days_between(&self, a: &str, b: &str) -> String {
        format!("date_diff('day', {b}, {a})")
    }

    fn year_month(&self, date: &str) -> String {
        format!("strftime({date}, '%Y-%m')")
    }

    fn materialized(&self) -> &'static str {
        "AS MATERIALIZED"
    }

    fn first_row_per(&self, select: &str, rest: &str, partition: &str, order: &[SortKey]) -> String {
        format!(
            "{select}\n{rest}\nQUALIFY row_number() OVER (PARTITION BY {partition} ORDER BY {}) = 1",
            self.order_by(order)
        )
    }

    fn first_in_order(&self, value: &str, order: &[SortKey], filter: Option<&str>) -> String {
        let filter = filter.map(|f| format!(" FILTER (WHERE {f})")).unwrap_or_default();
        format!("first({value} ORDER BY {}){filter}", self.order_by(order))
    }

    fn record(&self, fields: &[(String, String)]) -> String {
        let fields: Vec<String> =
            fields.iter().map(|(name, value)| format!("{}: {value}", self.string(name))).collect();
        format!("{{{}}}", fields.join(", "))
    }

    fn record_field(&self, record: &str, field: &str) -> String {
        format!("struct_extract({record}, {})", self.string(field))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_go_through_text() {
        assert_eq!(DuckDb.double(0.739), "CAST('0.739' AS DOUBLE)");
        assert_eq!(DuckDb.double(-1.094), "CAST('-1.094' AS DOUBLE)");
        assert_eq!(DuckDb.double(3.0), "CAST('3.0' AS DOUBLE)");
    }

    #[test]
    fn quotes_are_doubled() {
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(string("it's"), "'it''s'");
        assert_eq!(string("x'); DROP TABLE patient; --"), "'x''); DROP TABLE patient; --'");
    }
}
