//! The SQL dialects: each dialect's quoting against its engine (injection tests: any string,
//! quoted as a string literal or an identifier, means exactly that string), and two dialects that
//! exist only for the tests of the generator (`spec`, `props`): [`PortableOnDuckDb`], which runs the
//! trait's portable defaults on DuckDB, and [`Marked`], whose quoting cannot be mistaken for
//! anyone else's, to show that no name or value reaches generated SQL but through the dialect.

use duckdb::Connection;
use midnet::script::Compiled;
use midnet::sql::{Dialect, DuckDb, SortKey};
use proptest::prelude::*;

use super::support::{self, Results};
use crate::common::proptest_cases;

/// DuckDB's own pieces where there is no portable form, the trait's defaults for the rest (no
/// `QUALIFY`, no materialised CTEs): the generated SQL must give the same rows as DuckDB's dialect.
pub struct PortableOnDuckDb;

impl Dialect for PortableOnDuckDb {
    fn add_days(&self, date: &str, days: &str) -> String {
        DuckDb.add_days(date, days)
    }
    fn days_between(&self, a: &str, b: &str) -> String {
        DuckDb.days_between(a, b)
    }
    fn year_month(&self, date: &str) -> String {
        DuckDb.year_month(date)
    }
    fn first_in_order(&self, value: &str, order: &[SortKey], filter: Option<&str>) -> String {
        DuckDb.first_in_order(value, order, filter)
    }
    fn record(&self, fields: &[(String, String)]) -> String {
        DuckDb.record(fields)
    }
    fn record_field(&self, record: &str, field: &str) -> String {
        DuckDb.record_field(record, field)
    }
}

/// Identifiers in backticks, strings as `TEXT_<hex>`, and no quote of either kind in any piece it
/// writes: SQL generated with it holds a quote only where the generator quoted by hand.
pub struct Marked;

impl Dialect for Marked {
    fn ident(&self, name: &str) -> String {
        format!("`{}`", name.replace('`', "``"))
    }
    fn string(&self, value: &str) -> String {
        format!("TEXT_{}", hex::encode(value))
    }
    fn add_days(&self, date: &str, days: &str) -> String {
        format!("plus_days({date}, {days})")
    }
    fn days_between(&self, a: &str, b: &str) -> String {
        format!("days_from_to({b}, {a})")
    }
    fn year_month(&self, date: &str) -> String {
        format!("year_month({date})")
    }
    fn first_in_order(&self, value: &str, order: &[SortKey], filter: Option<&str>) -> String {
        let filter = filter.map(|f| format!(" FILTER (WHERE {f})")).unwrap_or_default();
        format!("first_by({value}, {}){filter}", self.order_by(order))
    }
    fn record(&self, fields: &[(String, String)]) -> String {
        let fields: Vec<String> = fields.iter().map(|(n, v)| format!("{}, {v}", self.string(n))).collect();
        format!("record({})", fields.join(", "))
    }
    fn record_field(&self, record: &str, field: &str) -> String {
        format!("field({record}, {})", self.string(field))
    }
}

/// The hand-made quotes in SQL written with [`Marked`] (comment lines aside), if any.
pub fn hand_quoted(sql: &str) -> Option<String> {
    sql.lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .find(|l| l.contains('\'') || l.contains('"'))
        .map(|l| format!("a quote the dialect did not write: {}", l.trim()))
}

/// Text of every kind, weighted towards what breaks quoting: both quotes, backticks,
/// backslashes, line breaks, comment marks, semicolons and non-ASCII letters; never NUL (no engine
/// stores it in text).
fn any_text(min: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::string::string_regex(&format!("[^\\x00]{{{min},40}}")).unwrap(),
        proptest::string::string_regex(&format!("['\"`\\\\\\n\\r\\t ;\\-/*a-zA-Z0-9_ßé日本]{{{min},20}}")).unwrap(),
    ]
}

fn config() -> ProptestConfig {
    ProptestConfig { cases: proptest_cases(), failure_persistence: None, ..ProptestConfig::default() }
}

/// `SELECT <literal>` on DuckDB: the text it gives back.
fn duckdb_selects(conn: &Connection, literal: &str) -> Result<String, String> {
    conn.query_row(&format!("SELECT {literal}"), [], |r| r.get(0)).map_err(|e| format!("SELECT {literal}: {e}"))
}

/// The names DuckDB holds for a table created as `CREATE TABLE <table> (<column> INTEGER)`, after
/// a row is written and read back under the same identifiers.
fn duckdb_creates(conn: &Connection, table: &str, column: &str) -> Result<(String, String), String> {
    let sql = format!(
        "CREATE TABLE {table} ({column} INTEGER); INSERT INTO {table} ({column}) VALUES (7); \
         CREATE TEMP TABLE read_back AS SELECT {column} FROM {table}"
    );
    conn.execute_batch(&sql).map_err(|e| format!("{sql}: {e}"))?;
    let names = conn
        .query_row(
            "SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = 'memory' AND schema_name = 'main'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(|e| e.to_string())?;
    let read: i32 = conn.query_row("SELECT * FROM read_back", [], |r| r.get(0)).map_err(|e| e.to_string())?;
    conn.execute_batch(&format!("DROP TABLE {table}; DROP TABLE read_back")).map_err(|e| e.to_string())?;
    if read != 7 {
        return Err(format!("the row read back under {column} is {read}, not 7"));
    }
    Ok(names)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn duckdb_string_literals_mean_exactly_their_text(text in any_text(0)) {
        let conn = Connection::open_in_memory().unwrap();
        let back = duckdb_selects(&conn, &DuckDb.string(&text));
        prop_assert_eq!(back, Ok(text));
    }

    #[test]
    fn duckdb_identifiers_name_exactly_their_text(table in any_text(1), column in any_text(1)) {
        let conn = Connection::open_in_memory().unwrap();
        let names = duckdb_creates(&conn, &DuckDb.ident(&table), &DuckDb.ident(&column));
        prop_assert_eq!(names, Ok((table, column)));
    }
}

/// An empty name is no identifier in DuckDB: quoting it gives an error, never some other name.
#[test]
fn an_empty_duckdb_identifier_is_refused() {
    let conn = Connection::open_in_memory().unwrap();
    let err = duckdb_creates(&conn, &DuckDb.ident("t"), &DuckDb.ident("")).unwrap_err();
    assert!(err.contains("zero-length"), "{err}");
}

/// The program of `compiled` through the other dialects: written with [`Marked`], its SQL holds no
/// quote the dialect did not write; written with [`PortableOnDuckDb`], it gives on `conn` the rows
/// that DuckDB's dialect gave (`duckdb`).
pub fn other_dialects_agree(conn: &Connection, compiled: &Compiled, duckdb: &Results) -> Result<(), String> {
    let marked = midnet::sql::generate(&compiled.program, &Marked);
    let queries = marked.outputs.iter().map(|o| &o.sql).chain([&marked.attrition]);
    if let Some(quote) = queries.filter_map(|sql| hand_quoted(sql)).next() {
        return Err(quote);
    }
    let portable =
        Compiled { queries: midnet::sql::generate(&compiled.program, &PortableOnDuckDb), ..compiled.clone() };
    let rows = support::run_sql(conn, &portable).map_err(|e| format!("the portable SQL failed: {e}"))?;
    support::same_results((duckdb, "DuckDB's dialect"), (&rows, "the portable defaults"))
}
