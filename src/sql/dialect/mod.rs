//! What is particular to DuckDB in the generated SQL: literals, the scalar functions the query
//! model needs, and the clauses that pick one row per group. The generator (`super::generate`)
//! writes everything else in portable SQL and asks the dialect for these pieces, so a second
//! engine is a second implementation of [`Dialect`].

use super::quote;
use crate::query::value::format_date;

pub trait Dialect {
    fn date_literal(&self, days: i32) -> String;
    fn double_literal(&self, x: f64) -> String;
    fn int_literal(&self, i: i64) -> String;
    fn text_literal(&self, s: &str) -> String {
        quote::literal(s)
    }
    /// The date of a timestamp column.
    fn timestamp_date(&self, ts: &str) -> String;
    fn add_days(&self, date: &str, days: &str) -> String;
    /// Whole days from `b` to `a`.
    fn days_between(&self, a: &str, b: &str) -> String;
    /// Completed years from `birth` to `at`.
    fn age_at(&self, birth: &str, at: &str) -> String;
    /// The first day of the date's month, as a date.
    fn first_of_month(&self, date: &str) -> String;
    fn year_month(&self, date: &str) -> String;
    fn year(&self, date: &str) -> String;
    /// The least (greatest) of the present arguments, ignoring missing ones.
    fn least(&self, args: &[String]) -> String;
    fn greatest(&self, args: &[String]) -> String;
    /// The first `n` characters.
    fn left(&self, s: &str, n: usize) -> String;
    /// `n` characters from position `from` (1-based).
    fn substring(&self, s: &str, from: usize, n: usize) -> String;
    fn power(&self, base: &str, exponent: &str) -> String;
    fn cast(&self, expr: &str, sql_type: &str) -> String {
        format!("CAST({expr} AS {sql_type})")
    }
    /// `AS MATERIALIZED` for a CTE that several steps read, so it is computed once.
    fn materialized(&self) -> &'static str;
    /// A clause after `WHERE` that keeps the first row per `partition` in `order`.
    fn first_row_per(&self, partition: &str, order: &str) -> String;
    /// An aggregate: `value` of the group's first row in `order`.
    fn first_in_order(&self, value: &str, order: &str) -> String;
    /// A record of named values, and one value read back from it.
    fn record(&self, fields: &[(String, String)]) -> String;
    fn record_field(&self, record: &str, field: &str) -> String;
}

/// DuckDB, the engine compiled into `midnet`.
pub struct DuckDb;

impl Dialect for DuckDb {
    fn date_literal(&self, days: i32) -> String {
        format!("DATE '{}'", format_date(days))
    }

    /// Through text, so the double is the one the script's decimal rounds to (a bare `0.1` would be a
    /// DECIMAL in DuckDB).
    fn double_literal(&self, x: f64) -> String {
        format!("CAST('{x:?}' AS DOUBLE)")
    }

    fn int_literal(&self, i: i64) -> String {
        if i < 0 { format!("({i})") } else { i.to_string() }
    }

    fn timestamp_date(&self, ts: &str) -> String {
        format!("CAST({ts} AS DATE)")
    }

    fn add_days(&self, date: &str, days: &str) -> String {
        format!("({date} + CAST({days} AS INTEGER))")
    }

    fn days_between(&self, a: &str, b: &str) -> String {
        format!("date_diff('day', {b}, {a})")
    }

    fn age_at(&self, birth: &str, at: &str) -> String {
        format!(
            "(year({at}) - year({birth}) - CASE WHEN month({at}) * 100 + day({at}) < month({birth}) * 100 + day({birth}) THEN 1 ELSE 0 END)"
        )
    }

    fn first_of_month(&self, date: &str) -> String {
        format!("CAST(date_trunc('month', {date}) AS DATE)")
    }

    fn year_month(&self, date: &str) -> String {
        format!("strftime({date}, '%Y-%m')")
    }

    fn year(&self, date: &str) -> String {
        format!("year({date})")
    }

    fn least(&self, args: &[String]) -> String {
        format!("least({})", args.join(", "))
    }

    fn greatest(&self, args: &[String]) -> String {
        format!("greatest({})", args.join(", "))
    }

    fn left(&self, s: &str, n: usize) -> String {
        format!("left({s}, {n})")
    }

    fn substring(&self, s: &str, from: usize, n: usize) -> String {
        format!("substr({s}, {from}, {n})")
    }

    fn power(&self, base: &str, exponent: &str) -> String {
        format!("pow({base}, {exponent})")
    }

    fn materialized(&self) -> &'static str {
        "AS MATERIALIZED"
    }

    fn first_row_per(&self, partition: &str, order: &str) -> String {
        format!("QUALIFY row_number() OVER (PARTITION BY {partition} ORDER BY {order}) = 1")
    }

    fn first_in_order(&self, value: &str, order: &str) -> String {
        format!("first({value} ORDER BY {order})")
    }

    fn record(&self, fields: &[(String, String)]) -> String {
        let fields: Vec<String> =
            fields.iter().map(|(name, value)| format!("{}: {value}", quote::literal(name))).collect();
        format!("{{{}}}", fields.join(", "))
    }

    fn record_field(&self, record: &str, field: &str) -> String {
        format!("struct_extract({record}, {})", quote::literal(field))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_go_through_text() {
        assert_eq!(DuckDb.double_literal(0.739), "CAST('0.739' AS DOUBLE)");
        assert_eq!(DuckDb.double_literal(-1.094), "CAST('-1.094' AS DOUBLE)");
        assert_eq!(DuckDb.double_literal(3.0), "CAST('3.0' AS DOUBLE)");
    }
}
