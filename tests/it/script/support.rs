//! Site databases built from rows held in memory, and the three engines (the compiled SQL on
//! DuckDB, the same program compiled for Spark and run on the test run's Spark Connect server, the
//! reference evaluator) run on them, for the spec and property tests of the script language.

use duckdb::Connection;
use duckdb::types::{TimeUnit, Value as Db};
use midnet::query::eval;
use midnet::query::value::{Type, Value};
use midnet::script::Compiled;
use midnet::sql::Spark;
use midnet::sql::duckdb::ident;

use crate::spark::SparkSite;

/// Rows of one table of the schema.
#[derive(Debug, Clone)]
pub struct Rows {
    pub table: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

/// An in-memory site database with the schema and these rows.
pub fn site(tables: &[Rows]) -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(midnet::schema::SCHEMA_SQL).unwrap();
    for t in tables {
        if t.rows.is_empty() {
            continue;
        }
        let cols: Vec<String> = t.columns.iter().map(|c| ident(c)).collect();
        let marks = vec!["?"; cols.len()].join(", ");
        let sql = format!("INSERT INTO {} ({}) VALUES ({marks})", ident(&t.table), cols.join(", "));
        let mut stmt = conn.prepare(&sql).unwrap();
        for row in &t.rows {
            let values: Vec<Db> = row.iter().map(to_duckdb).collect();
            stmt.execute(duckdb::params_from_iter(values))
                .unwrap_or_else(|e| panic!("inserting {row:?} into {}: {e}", t.table));
        }
    }
    conn
}

fn to_duckdb(v: &Value) -> Db {
    match v {
        Value::Missing => Db::Null,
        Value::Bool(b) => Db::Boolean(*b),
        Value::Int(i) => Db::BigInt(*i),
        Value::Float(x) => Db::Double(*x),
        Value::Text(s) => Db::Text(s.clone()),
        Value::Date(d) => Db::Date32(*d),
        Value::Timestamp(t) => Db::Timestamp(TimeUnit::Microsecond, *t),
    }
}

/// What a compiled script gave: each output (name, columns with `patient_key` first, rows) and
/// the attrition table (step, rule, kind, patients_before, removed, patients_after).
#[derive(Debug, Clone)]
pub struct Results {
    pub outputs: Vec<(String, Vec<String>, Vec<Vec<Value>>)>,
    pub attrition: Vec<Vec<Value>>,
}

pub const ATTRITION_COLUMNS: [&str; 6] = ["step", "rule", "kind", "patients_before", "removed", "patients_after"];

fn query(conn: &Connection, sql: &str) -> Result<Vec<Vec<Value>>, String> {
    let mut stmt = conn.prepare(sql).map_err(|e| format!("{e}\n{sql}"))?;
    let mut rows = stmt.query([]).map_err(|e| format!("{e}\n{sql}"))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(|e| e.to_string())? {
        let n = row.as_ref().column_count();
        let values = (0..n).map(|i| Value::from_duckdb(row.get(i).unwrap()).unwrap()).collect();
        out.push(values);
    }
    Ok(out)
}

/// Run the compiled SQL.
pub fn run_sql(conn: &Connection, compiled: &Compiled) -> Result<Results, String> {
    let mut outputs = Vec::new();
    for o in &compiled.queries.outputs {
        let columns =
            std::iter::once("patient_key".to_string()).chain(o.columns.iter().map(|c| c.name.clone())).collect();
        outputs.push((o.name.clone(), columns, query(conn, &o.sql)?));
    }
    Ok(Results { outputs, attrition: query(conn, &compiled.queries.attrition)? })
}

/// The program compiled for Spark, run on a Spark session that reads the same database's tables.
pub fn run_spark(conn: &Connection, compiled: &Compiled) -> Result<Results, String> {
    let queries = midnet::sql::generate(&compiled.program, &Spark);
    let mut site = SparkSite::of(conn)?;
    let mut outputs = Vec::new();
    for o in &queries.outputs {
        let columns =
            std::iter::once("patient_key".to_string()).chain(o.columns.iter().map(|c| c.name.clone())).collect();
        outputs.push((o.name.clone(), columns, site.query(&o.steps)?));
    }
    Ok(Results { outputs, attrition: site.query(&queries.attrition_steps)? })
}

/// Spark gives DuckDB's rows (`duckdb`, which the reference evaluator has already matched), doubles
/// within [`SPARK_DOUBLE_TOLERANCE`]: Spark adds a group's doubles in another order than DuckDB
/// (partial sums per partition), which may change the last bits.
pub fn spark_agrees(conn: &Connection, compiled: &Compiled, duckdb: &Results) -> Result<(), String> {
    let spark = run_spark(conn, compiled).map_err(|e| format!("Spark failed: {e}"))?;
    compare_results((duckdb, "DuckDB"), (&spark, "Spark"), close)
}

/// The relative difference two engines' doubles may have (and an absolute one near zero).
pub const SPARK_DOUBLE_TOLERANCE: f64 = 1e-12;

fn close(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => {
            a.same(b) || (x - y).abs() <= SPARK_DOUBLE_TOLERANCE * x.abs().max(y.abs()).max(1.0)
        }
        _ => a.same(b),
    }
}

/// Run the reference evaluator on the same database's rows.
pub fn run_eval(conn: &Connection, compiled: &Compiled) -> Results {
    let data = eval::SiteData::read(conn).unwrap();
    let results = eval::run(&compiled.program, &data);
    let outputs = results
        .outputs
        .into_iter()
        .zip(&compiled.queries.outputs)
        .map(|((name, rows), q)| {
            let columns =
                std::iter::once("patient_key".to_string()).chain(q.columns.iter().map(|c| c.name.clone())).collect();
            (name, columns, rows)
        })
        .collect();
    let attrition = results
        .attrition
        .into_iter()
        .map(|a| {
            vec![
                Value::Int(a.step),
                Value::Text(a.rule),
                Value::Text(a.kind),
                Value::Int(a.before),
                Value::Int(a.removed),
                Value::Int(a.after),
            ]
        })
        .collect();
    Results { outputs, attrition }
}

/// The types of an output's columns (`patient_key` first); conditions are written as 1/0.
pub fn output_types(compiled: &Compiled, name: &str) -> Option<Vec<Type>> {
    if name == "attrition" {
        return Some(vec![Type::Int, Type::Text, Type::Text, Type::Int, Type::Int, Type::Int]);
    }
    let q = compiled.queries.outputs.iter().find(|o| o.name == name)?;
    Some(
        std::iter::once(Type::Text)
            .chain(q.columns.iter().map(|c| if c.ty == Type::Bool { Type::Int } else { c.ty }))
            .collect(),
    )
}

pub fn sorted(mut rows: Vec<Vec<Value>>) -> Vec<Vec<Value>> {
    rows.sort_by(|a, b| {
        a.iter().zip(b).map(|(x, y)| x.order(y)).find(|o| o.is_ne()).unwrap_or(std::cmp::Ordering::Equal)
    });
    rows
}

pub fn same_rows(a: &[Vec<Value>], b: &[Vec<Value>]) -> bool {
    rows_match(a, b, Value::same)
}

fn rows_match(a: &[Vec<Value>], b: &[Vec<Value>], equal: impl Fn(&Value, &Value) -> bool) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.len() == y.len() && x.iter().zip(y).all(|(u, v)| equal(u, v)))
}

pub fn show(columns: &[String], rows: &[Vec<Value>]) -> String {
    let mut out = columns.join(" | ") + "\n";
    for r in rows {
        let cells: Vec<String> = r
            .iter()
            .map(|v| match v {
                Value::Float(x) => format!("{x:?}"),
                other => other.to_string(),
            })
            .collect();
        out += &cells.join(" | ");
        out.push('\n');
    }
    out
}

/// Both engines agree on every output and the attrition table; the message says where not.
pub fn engines_agree(sql: &Results, reference: &Results) -> Result<(), String> {
    same_results((sql, "SQL"), (reference, "reference"))
}

/// Two results are the same, output for output and in the attrition table; the message shows both
/// under their labels where they differ.
pub fn same_results(a: (&Results, &str), b: (&Results, &str)) -> Result<(), String> {
    compare_results(a, b, Value::same)
}

fn compare_results(
    (a, a_label): (&Results, &str),
    (b, b_label): (&Results, &str),
    equal: impl Fn(&Value, &Value) -> bool + Copy,
) -> Result<(), String> {
    for ((name, columns, x), (_, _, y)) in a.outputs.iter().zip(&b.outputs) {
        let (x, y) = (sorted(x.clone()), sorted(y.clone()));
        if !rows_match(&x, &y, equal) {
            return Err(format!(
                "output `{name}` differs\n{a_label}:\n{}\n{b_label}:\n{}",
                show(columns, &x),
                show(columns, &y)
            ));
        }
    }
    if !rows_match(&a.attrition, &b.attrition, equal) {
        let cols: Vec<String> = ATTRITION_COLUMNS.iter().map(|s| s.to_string()).collect();
        return Err(format!(
            "attrition differs\n{a_label}:\n{}\n{b_label}:\n{}",
            show(&cols, &a.attrition),
            show(&cols, &b.attrition)
        ));
    }
    Ok(())
}
