//! Spark, the third engine: one local Spark Connect server for the whole test run (started by
//! `scripts/spark.sh` the first time a test asks for it, stopped when the test binary exits), the
//! client's errors, and site databases copied into a Spark session as Parquet-backed views.
//!
//! `MIDNET_SPARK_CONNECT=sc://…` uses a server that is already running instead (and leaves it
//! running); `MIDNET_SPARK_KEEP=1` leaves the started one running for the next run (the script
//! reuses a server it started that still answers).

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use duckdb::Connection;
use duckdb::arrow::array::{Array, AsArray};
use duckdb::arrow::datatypes::{DataType, Date32Type, Float64Type, Int32Type, Int64Type, TimeUnit};
use duckdb::arrow::record_batch::RecordBatch;
use midnet::query::value::Value;
use midnet::spark::Session;
use midnet::sql::{Dialect, Spark, Steps};
use proptest::prelude::*;

use crate::common::{midnet, proptest_cases, repo_root, tempdir, testdata};
use crate::script::support;

static SERVER: OnceLock<Result<String, String>> = OnceLock::new();

/// The address of the test run's Spark Connect server (started on first use).
pub fn server() -> &'static str {
    match SERVER.get_or_init(start) {
        Ok(url) => url,
        Err(e) => panic!("no Spark Connect server for the Spark tests: {e}"),
    }
}

fn script() -> std::path::PathBuf {
    repo_root().join("scripts/spark.sh")
}

/// A run's own server keeps its state (pid, port, log) here. Other test runs of the same user (in
/// other checkouts, at the same time) must not reuse it: the first of them to end would stop it
/// under the others, whose Spark tests would then fail at random (which lost a random case of
/// `script::props::compiled_sql_on_spark_agrees` once). `MIDNET_SPARK_KEEP` shares the script's
/// default state on purpose, to reuse the server from one run to the next.
fn own_state() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("midnet-spark-test-{}", std::process::id()))
}

fn start() -> Result<String, String> {
    if let Ok(url) = std::env::var("MIDNET_SPARK_CONNECT") {
        return Ok(url);
    }
    let keep = std::env::var_os("MIDNET_SPARK_KEEP").is_some();
    let mut command = Command::new(script());
    command.arg("start");
    if !keep {
        command.env("MIDNET_SPARK_STATE", own_state());
    }
    let out = command.output().map_err(|e| format!("running scripts/spark.sh: {e}"))?;
    if !out.status.success() {
        return Err(format!("scripts/spark.sh failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr)));
    }
    if !keep {
        // SAFETY: registers a plain function without arguments, run once at the process's exit.
        unsafe { libc::atexit(stop) };
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

extern "C" fn stop() {
    let _ = Command::new(script()).arg("stop").env("MIDNET_SPARK_STATE", own_state()).status();
    let _ = std::fs::remove_dir_all(own_state());
}

/// A new session on the test server.
pub fn session() -> Session {
    Session::connect(server()).unwrap_or_else(|e| panic!("connecting to {}: {e}", server()))
}

/// A Spark session that reads the tables of a DuckDB site database: each table written as Parquet
/// into a temporary directory and seen in the session as a temporary view of the same name.
pub struct SparkSite {
    pub session: Session,
    dir: tempfile::TempDir,
}

impl SparkSite {
    pub fn of(conn: &Connection) -> Result<SparkSite, String> {
        let dir = tempdir();
        let mut session = session();
        let tables: Vec<String> = conn
            .prepare("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' ORDER BY table_name")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(|e| e.to_string())?;
        for table in tables {
            let file = dir.path().join(format!("{table}.parquet"));
            copy_to_parquet(conn, &table, &file)?;
            let view = format!(
                "CREATE OR REPLACE TEMPORARY VIEW {} AS SELECT * FROM parquet.{}",
                Spark.ident(&table),
                Spark.ident(&file.display().to_string())
            );
            session.sql(&view).map_err(|e| e.to_string())?;
        }
        Ok(SparkSite { session, dir })
    }

    /// The rows of one query, run as its steps (as a Spark site runs it).
    pub fn query(&mut self, query: &Steps) -> Result<Vec<Vec<Value>>, String> {
        let scratch = self.dir.path().join("scratch");
        let batches = self
            .session
            .query_in_steps(&query.steps, &query.select, &scratch)
            .map_err(|e| format!("{e}\n{query:#?}"))?;
        Ok(rows(&batches))
    }
}

fn copy_to_parquet(conn: &Connection, table: &str, file: &Path) -> Result<(), String> {
    use midnet::sql::duckdb::{ident, string};
    let copy = format!("COPY {} TO {} (FORMAT parquet)", ident(table), string(&file.display().to_string()));
    conn.execute_batch(&copy).map_err(|e| format!("{copy}: {e}"))
}

/// Arrow batches as rows of values (integers of every width as `Int`, timestamps in microseconds).
pub fn rows(batches: &[RecordBatch]) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    for batch in batches {
        for row in 0..batch.num_rows() {
            out.push(batch.columns().iter().map(|c| value(c.as_ref(), row)).collect());
        }
    }
    out
}

fn value(column: &dyn Array, row: usize) -> Value {
    // A column of NULL literals has Arrow's Null type, whose arrays keep no validity bits.
    if column.is_null(row) || column.data_type() == &DataType::Null {
        return Value::Missing;
    }
    match column.data_type() {
        DataType::Boolean => Value::Bool(column.as_boolean().value(row)),
        DataType::Int32 => Value::Int(column.as_primitive::<Int32Type>().value(row) as i64),
        DataType::Int64 => Value::Int(column.as_primitive::<Int64Type>().value(row)),
        DataType::Float64 => Value::Float(column.as_primitive::<Float64Type>().value(row)),
        DataType::Utf8 => Value::Text(column.as_string::<i32>().value(row).to_string()),
        DataType::LargeUtf8 => Value::Text(column.as_string::<i64>().value(row).to_string()),
        DataType::Date32 => Value::Date(column.as_primitive::<Date32Type>().value(row)),
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            Value::Timestamp(column.as_primitive::<duckdb::arrow::datatypes::TimestampMicrosecondType>().value(row))
        }
        other => panic!("a column of type {other} from Spark"),
    }
}

#[test]
fn a_query_gives_its_rows_with_their_types() {
    let mut s = session();
    let batches = s
        .sql("SELECT 1 AS i, CAST(2 AS BIGINT) AS b, 0.5D AS d, 'x' AS t, DATE '2024-02-29' AS day, true AS f, NULL AS n")
        .unwrap();
    assert_eq!(
        format!("{:?}", rows(&batches)),
        format!(
            "{:?}",
            vec![vec![
                Value::Int(1),
                Value::Int(2),
                Value::Float(0.5),
                Value::Text("x".into()),
                Value::Date(midnet::query::value::parse_date("2024-02-29").unwrap()),
                Value::Bool(true),
                Value::Missing
            ]]
        )
    );
    let many = s.sql("SELECT id FROM range(100000)").unwrap();
    assert_eq!(rows(&many).len(), 100_000);
    assert!(s.sql("SELECT 1 WHERE false").unwrap().iter().all(|b| b.num_rows() == 0));
}

#[test]
fn a_statement_spark_refuses_says_why_and_where() {
    let mut s = session();
    let err = s.sql("SELECT (1\nFROM range(1)").unwrap_err().to_string();
    assert!(err.contains("PARSE_SYNTAX_ERROR") && err.contains("line 2"), "{err}");
    let err = s.sql("SELECT no_such_column FROM range(1)").unwrap_err().to_string();
    assert!(err.contains("UNRESOLVED_COLUMN") && err.contains("no_such_column"), "{err}");
}

#[test]
fn a_refusal_keeps_the_first_line_of_sparks_message_and_no_value_of_the_statement() {
    let mut s = session();
    let err = s.sql("SELECT 'a secret value' AS x, (1\nFROM range(1)").unwrap_err().to_string();
    assert!(err.contains("PARSE_SYNTAX_ERROR") && err.contains("line 2"), "{err}");
    assert!(!err.contains('\n') && !err.contains("secret"), "{err}");
}

#[test]
fn a_server_that_is_not_there_is_named() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("sc://127.0.0.1:{port}");
    let err = Session::connect(&url).err().expect("no server listens there").to_string();
    assert!(err.contains(&format!("cannot reach the Spark Connect server at {url}")), "{err}");
}

#[test]
fn sessions_keep_their_views_apart_and_release_them() {
    let mut one = session();
    one.sql("CREATE TEMPORARY VIEW mine AS SELECT 1 AS x").unwrap();
    assert_eq!(rows(&one.sql("SELECT x FROM mine").unwrap()).len(), 1);
    let mut other = session();
    let err = other.sql("SELECT x FROM mine").unwrap_err().to_string();
    assert!(err.contains("TABLE_OR_VIEW_NOT_FOUND"), "{err}");
}

/// The example scripts, the benchmark's active-comparator cohort among them (its outputs are single
/// statements of ~40 CTEs, the protocol's shape), give on Spark the rows they give on DuckDB, on a
/// synthetic site of 1,000 patients.
#[test]
fn the_example_scripts_give_duckdbs_rows_on_a_synthetic_site() {
    use midnet::script::{ParamValues, Script};
    let dir = tempdir();
    let synth =
        ["synth", "--site-count", "1", "--patients", "1000", "--seed", "5", "--dir", "net", "--load", "--quiet"];
    midnet(dir.path(), &synth).ok();
    let conn = Connection::open(dir.path().join("net/site01/site.duckdb")).unwrap();
    for name in ["active_comparator", "drug_utilisation", "incidence", "new_use_screen"] {
        let path = testdata(&format!("scripts/{name}.midnet"));
        let text = std::fs::read_to_string(&path).unwrap();
        let script = Script::from_text(&format!("{name}.midnet"), &text, path.parent().unwrap()).unwrap();
        let mut values = ParamValues::new();
        values.set("cutoff", "2026-06-01");
        let compiled = script.compile(&values).unwrap_or_else(|e| panic!("{name}: {e}"));
        let duckdb = support::run_sql(&conn, &compiled).unwrap_or_else(|e| panic!("{name} on DuckDB: {e}"));
        // Some scripts keep no patient at this size (incidence); their attrition is still compared.
        let entered = duckdb.attrition.first().and_then(|step| step[5].as_int()).unwrap_or(0);
        assert!(entered > 0, "{name}: no patient entered on DuckDB, nothing compared");
        support::spark_agrees(&conn, &compiled, &duckdb).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

/// Text of every kind, weighted towards what breaks Spark's quoting: quotes, backslashes before
/// letters Spark unescapes (`\n`, `\u0041`, `\%`), `${…}` (variable substitution), line breaks.
fn hostile_text(min: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::string::string_regex(&format!("[^\\x00]{{{min},40}}")).unwrap(),
        proptest::string::string_regex(&format!("['\"`\\\\\\n\\r\\t ;\\-/*$%{{}}u0-9a-zA-Z_ßé日本]{{{min},24}}"))
            .unwrap(),
    ]
}

/// `SELECT <literal>` on Spark: the text it gives back.
fn spark_selects(session: &mut Session, literal: &str) -> Result<String, String> {
    let batches = session.sql(&format!("SELECT {literal}")).map_err(|e| e.to_string())?;
    match rows(&batches).pop().and_then(|mut r| r.pop()) {
        Some(Value::Text(text)) => Ok(text),
        other => Err(format!("not one text: {other:?}")),
    }
}

#[test]
fn hostile_string_literals_mean_exactly_their_text_on_spark() {
    let mut s = session();
    for text in
        [r"\", "'", r"\'", "''", "a\nb", "日本語 ß é", "${spark.app.name}", "$${x}", r"\u0041", r"\%_", "--", "*/", "`"]
    {
        assert_eq!(spark_selects(&mut s, &Spark.string(text)), Ok(text.to_string()), "{text:?}");
    }
}

#[test]
fn hostile_identifiers_name_exactly_their_text_on_spark() {
    let mut s = session();
    // `${…}`: Spark substitutes variables in the statement's text, quoted identifiers included
    // (a property test found `a${BN}` coming back as `a`); the session turns that off.
    for name in ["a`b", "``", "x y", "日本", "a'b", "a\\b", "select", "--", "a${BN}", "${spark.app.name}"] {
        let sql = format!("SELECT x AS {} FROM (SELECT 7 AS x)", Spark.ident(name));
        let batches = s.sql(&sql).unwrap_or_else(|e| panic!("{name:?}: {e}"));
        assert_eq!(batches[0].schema().field(0).name(), name, "{name:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: proptest_cases().min(16), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn spark_string_literals_mean_exactly_their_text(texts in proptest::collection::vec(hostile_text(0), 16)) {
        let mut s = session();
        // One statement for many values: the server's round trip is what costs.
        let literals: Vec<String> = texts.iter().map(|t| Spark.string(t)).collect();
        let batches = s.sql(&format!("SELECT {}", literals.join(", "))).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back = rows(&batches).pop().unwrap();
        let texts: Vec<Value> = texts.into_iter().map(Value::Text).collect();
        prop_assert_eq!(format!("{back:?}"), format!("{texts:?}"));
    }

    #[test]
    fn spark_identifiers_name_exactly_their_text(names in proptest::collection::vec(hostile_text(1), 8)) {
        let mut s = session();
        let items: Vec<String> = names.iter().enumerate().map(|(i, n)| format!("{i} AS {}", Spark.ident(n))).collect();
        let batches = s.sql(&format!("SELECT {}", items.join(", "))).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let schema = batches[0].schema();
        let back: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        prop_assert_eq!(back, names.iter().map(String::as_str).collect::<Vec<_>>());
    }
}
