//! Everything engine-specific in the generated SQL: quoting names and values, literals, type
//! names, the date and text functions the query model needs, the clause that keeps one row per
//! group, materialised steps and records. The generator (`super::generate`) writes everything else
//! in SQL that every engine reads and asks the dialect for these pieces.
//!
//! The trait's default methods write portable SQL; a dialect overrides only what its engine writes
//! differently, and implements the few pieces that have no portable form (date arithmetic, an
//! aggregate that takes the first value in an order, records). An engine is one small file here:
//! [`duckdb`], the engine compiled into `midnet`; [`spark`], Apache Spark SQL through Spark Connect.

pub mod duckdb;
pub mod spark;

use crate::query::value::{Type, format_date};

/// The SQL types that generated queries name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlType {
    /// A 32-bit integer: day counts added to dates, and conditions as 1/0 in results.
    Int32,
    Int64,
    Double,
    Text,
    Date,
}

impl SqlType {
    /// The type of a result column of a script type; a condition is an `Int32` 1/0.
    pub fn of(ty: Type) -> SqlType {
        match ty {
            Type::Bool => SqlType::Int32,
            Type::Int => SqlType::Int64,
            Type::Float => SqlType::Double,
            Type::Text => SqlType::Text,
            Type::Date => SqlType::Date,
        }
    }
}

/// One key of an ORDER BY: ascending with missing values last, or the exact reverse (descending,
/// missing values first). These are the only two orders generated queries sort in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    pub expr: String,
    pub descending: bool,
}

impl SortKey {
    pub fn ascending(expr: impl Into<String>) -> SortKey {
        SortKey { expr: expr.into(), descending: false }
    }

    pub fn descending(expr: impl Into<String>) -> SortKey {
        SortKey { expr: expr.into(), descending: true }
    }
}

/// An engine's SQL, piece by piece, as the generator asks for it (`generate(program, &dialect)`).
pub trait Dialect {
    /// A name (of a table, column or CTE) as an identifier that means exactly that name, whatever
    /// it holds: double quotes, embedded double quotes doubled (SQL standard).
    fn ident(&self, name: &str) -> String {
        format!("\"{}\"", name.replace('"', "\"\""))
    }

    /// A string literal that means exactly `value`, whatever it holds: single quotes, embedded
    /// single quotes doubled (SQL standard: no backslash escapes).
    fn string(&self, value: &str) -> String {
        format!("'{}'", value.replace('\'', "''"))
    }

    /// An integer literal; a negative one in parentheses, so that it follows any operator.
    fn int(&self, i: i64) -> String {
        if i < 0 { format!("({i})") } else { i.to_string() }
    }

    /// A double literal through text, so that the double is the one the script's decimal rounds
    /// to (a bare `0.1` is an exact decimal in several engines).
    fn double(&self, x: f64) -> String {
        self.cast(&self.string(&format!("{x:?}")), SqlType::Double)
    }

    fn date(&self, days: i32) -> String {
        format!("DATE {}", self.string(&format_date(days)))
    }

    fn type_name(&self, ty: SqlType) -> &'static str {
        match ty {
            SqlType::Int32 => "INTEGER",
            SqlType::Int64 => "BIGINT",
            SqlType::Double => "DOUBLE",
            SqlType::Text => "VARCHAR",
            SqlType::Date => "DATE",
        }
    }

    fn cast(&self, expr: &str, ty: SqlType) -> String {
        format!("CAST({expr} AS {})", self.type_name(ty))
    }

    /// The date of a timestamp column.
    fn timestamp_date(&self, ts: &str) -> String {
        self.cast(ts, SqlType::Date)
    }

    /// `days` (an integer expression) days after `date`.
    fn add_days(&self, date: &str, days: &str) -> String;

    /// Whole days from `b` to `a`.
    fn days_between(&self, a: &str, b: &str) -> String;

    /// Completed years from `birth` to `at`.
    fn age_at(&self, birth: &str, at: &str) -> String {
        format!(
            "(year({at}) - year({birth}) - CASE WHEN month({at}) * 100 + day({at}) < month({birth}) * 100 + day({birth}) THEN 1 ELSE 0 END)"
        )
    }

    /// The first day of the date's month, as a date.
    fn first_of_month(&self, date: &str) -> String {
        self.cast(&format!("date_trunc({}, {date})", self.string("month")), SqlType::Date)
    }

    /// The date's year and month as text, `2024-05`.
    fn year_month(&self, date: &str) -> String;

    fn year(&self, date: &str) -> String {
        format!("year({date})")
    }

    /// The least (greatest) of the present arguments, ignoring missing ones.
    fn least(&self, args: &[String]) -> String {
        format!("least({})", args.join(", "))
    }

    fn greatest(&self, args: &[String]) -> String {
        format!("greatest({})", args.join(", "))
    }

    /// The first `n` characters.
    fn left(&self, s: &str, n: usize) -> String {
        format!("left({s}, {n})")
    }

    /// `n` characters from position `from` (1-based).
    fn substring(&self, s: &str, from: usize, n: usize) -> String {
        format!("substr({s}, {from}, {n})")
    }

    fn power(&self, base: &str, exponent: &str) -> String {
        format!("pow({base}, {exponent})")
    }

    /// The keys of an ORDER BY, in SQL (the standard's `NULLS LAST`/`NULLS FIRST`).
    fn order_by(&self, keys: &[SortKey]) -> String {
        let keys: Vec<String> = keys
            .iter()
            .map(|k| {
                if k.descending { format!("{} DESC NULLS FIRST", k.expr) } else { format!("{} ASC NULLS LAST", k.expr) }
            })
            .collect();
        keys.join(", ")
    }

    /// What follows a CTE's name for a CTE that several steps read: a plain `AS` where the engine
    /// has no way to compute it once.
    fn materialized(&self) -> &'static str {
        "AS"
    }

    /// The query `select` (a SELECT list) `rest` (its FROM and WHERE) keeping only the first row
    /// per `partition` in `order`. Portable: a window in a subquery, filtered outside; the
    /// result carries the window's column, `_row_in_group`, beside the SELECT list (no script
    /// name starts with `_`, so it cannot hide one of them).
    fn first_row_per(&self, select: &str, rest: &str, partition: &str, order: &[SortKey]) -> String {
        let row = self.ident("_row_in_group");
        format!(
            "SELECT *\nFROM (\n{select}, row_number() OVER (PARTITION BY {partition} ORDER BY {}) AS {row}\n{rest}\n) AS first_rows\nWHERE {row} = 1",
            self.order_by(order)
        )
    }

    /// An aggregate: `value` of the group's first row in `order`, among the rows where `filter`
    /// (a condition) holds when there is one; missing when no row is left.
    fn first_in_order(&self, value: &str, order: &[SortKey], filter: Option<&str>) -> String;

    /// A record of named values (names are plain lowercase words), and one value read back from it.
    fn record(&self, fields: &[(String, String)]) -> String;
    fn record_field(&self, record: &str, field: &str) -> String;
}
