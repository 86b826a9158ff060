//! The examples of the language reference (`docs/script-language.md`) are the spec tests: each
//! script runs on the tables written under it, through the compiled SQL on DuckDB and on Spark and
//! through the reference evaluator, and all three must give the expected rows; each `error` block
//! must match the message.

use std::collections::BTreeSet;

use midnet::query::tables::{ColumnType, Table};
use midnet::query::value::{Type, Value, parse_date};
use midnet::script::{ParamValues, Script};

use super::support::{self, Rows};
use crate::common::testdata;

const DOC: &str = include_str!("../../../docs/script-language.md");

type Grid = (String, Vec<String>, Vec<Vec<String>>);

#[derive(Default)]
struct Case {
    line: usize,
    script: String,
    tables: Vec<Grid>,
    expects: Vec<Grid>,
    error: Option<String>,
}

fn cases() -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    let mut lines = DOC.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        let Some(info) = line.strip_prefix("```").filter(|i| !i.is_empty()) else { continue };
        let body: Vec<&str> = lines.by_ref().take_while(|(_, l)| !l.starts_with("```")).map(|(_, l)| l).collect();
        let (kind, arg) = info.split_once(' ').unwrap_or((info, ""));
        let grid = || {
            let mut rows = body.iter().map(|l| l.split('|').map(|c| c.trim().to_string()).collect::<Vec<_>>());
            let header = rows.next().unwrap_or_default();
            (arg.to_string(), header, rows.collect())
        };
        match kind {
            "midnet" => cases.push(Case { line: i + 1, script: body.join("\n") + "\n", ..Case::default() }),
            "table" => cases.last_mut().expect("a table follows a script").tables.push(grid()),
            "expect" => cases.last_mut().expect("an expectation follows a script").expects.push(grid()),
            "error" => cases.last_mut().expect("an error follows a script").error = Some(body.join("\n")),
            _ => {}
        }
    }
    cases
}

fn cell(text: &str, ty: ColumnType) -> Value {
    if text.is_empty() {
        return Value::Missing;
    }
    match ty {
        ColumnType::Timestamp => {
            let (day, time) = text.split_once(' ').unwrap_or((text, "00:00"));
            let (h, m) = time.split_once(':').unwrap();
            let micros = (h.parse::<i64>().unwrap() * 60 + m.parse::<i64>().unwrap()) * 60_000_000;
            Value::Timestamp(parse_date(day).unwrap() as i64 * 86_400_000_000 + micros)
        }
        ColumnType::Value(Type::Date) => Value::Date(parse_date(text).unwrap_or_else(|e| panic!("{e}"))),
        ColumnType::Value(Type::Int) => Value::Int(text.parse().unwrap()),
        ColumnType::Value(Type::Float) => Value::Float(text.parse().unwrap()),
        ColumnType::Value(Type::Bool) => Value::Bool(text == "true"),
        ColumnType::Value(Type::Text) => Value::Text(text.to_string()),
    }
}

/// A table of the example, with the defaults of the columns it leaves out.
fn table_rows(name: &str, header: &[String], cells: &[Vec<String>]) -> Rows {
    let table = Table::from_name(name).unwrap_or_else(|| panic!("no table {name}"));
    let mut columns: Vec<String> = Vec::new();
    let mut types = Vec::new();
    for h in header {
        let col = if h == "date" { table.date_column() } else { h.as_str() };
        let ty = if col == "patient_key" {
            ColumnType::Value(Type::Text)
        } else {
            table.column(col).unwrap_or_else(|| panic!("{name} has no column {col}")).ty
        };
        columns.push(col.to_string());
        types.push(ty);
    }
    let mut rows: Vec<Vec<Value>> =
        cells.iter().map(|r| r.iter().zip(&types).map(|(c, t)| cell(c, *t)).collect()).collect();
    let date_of =
        |columns: &[String], row: &[Value]| row[columns.iter().position(|c| c == table.date_column()).unwrap()].clone();
    type Default<'a> = Box<dyn Fn(&[String], &[Value]) -> Value + 'a>;
    let defaults: Vec<(&str, Default<'_>)> = vec![
        ("source", Box::new(|_, _| Value::Text("EHR".into()))),
        ("end_date", Box::new(move |c, r| date_of(c, r))),
        ("encounter_type", Box::new(|_, _| Value::Text("outpatient".into()))),
        ("suspected", Box::new(|_, _| Value::Bool(false))),
        ("main_diagnosis", Box::new(|_, _| Value::Bool(false))),
        ("order_date", Box::new(move |c, r| date_of(c, r))),
        ("days_supply", Box::new(|_, _| Value::Int(30))),
        ("route", Box::new(|_, _| Value::Text("oral".into()))),
        ("setting", Box::new(|_, _| Value::Text("outpatient".into()))),
    ];
    for (col, default) in defaults {
        if table.column(col).is_some() && !columns.iter().any(|c| c == col) {
            for row in rows.iter_mut() {
                let v = default(&columns, row);
                row.push(v);
            }
            columns.push(col.to_string());
        }
    }
    Rows { table: name.to_string(), columns, rows }
}

/// The example's database: its tables, and a patient row for every patient key they name.
fn database(case: &Case) -> duckdb::Connection {
    let mut tables = Vec::new();
    let mut keys = BTreeSet::new();
    let mut patients: Vec<Vec<Value>> = Vec::new();
    for (name, header, cells) in &case.tables {
        if name == "patient" {
            for r in cells {
                let get = |c: &str| header.iter().position(|h| h == c).map(|i| r[i].as_str()).unwrap_or("");
                let date = |c: &str, default: &str| {
                    let t = if get(c).is_empty() { default } else { get(c) };
                    if t.is_empty() { Value::Missing } else { Value::Date(parse_date(t).unwrap()) }
                };
                let sex = if get("sex").is_empty() { "F" } else { get("sex") };
                patients.push(vec![
                    Value::Text(get("patient_key").to_string()),
                    Value::Text(sex.to_string()),
                    date("birth_date", "1960-01-01"),
                    date("death_date", ""),
                ]);
            }
            continue;
        }
        let rows = table_rows(name, header, cells);
        keys.extend(rows.rows.iter().map(|r| r[0].to_string()));
        tables.push(rows);
    }
    for key in keys {
        if !patients.iter().any(|p| p[0].to_string() == key) {
            patients.push(vec![
                Value::Text(key),
                Value::Text("F".into()),
                Value::Date(parse_date("1960-01-01").unwrap()),
                Value::Missing,
            ]);
        }
    }
    let patient_columns = ["patient_key", "sex", "birth_date", "death_date"].map(String::from).to_vec();
    tables.insert(0, Rows { table: "patient".into(), columns: patient_columns, rows: patients });
    support::site(&tables)
}

fn run_case(case: &Case) -> Result<(), String> {
    let dir = testdata("scripts");
    let at = format!("docs/script-language.md, example at line {}", case.line);
    let compiled = Script::from_text("example.midnet", &case.script, &dir).and_then(|s| s.compile(&ParamValues::new()));
    if let Some(expected) = &case.error {
        let message = match compiled {
            Ok(_) => return Err(format!("{at}: expected an error, the script compiled")),
            Err(e) => e.to_string(),
        };
        for line in expected.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
            if !message.contains(line) {
                return Err(format!("{at}: the error does not contain\n{line}\nit is:\n{message}"));
            }
        }
        return Ok(());
    }
    let compiled = compiled.map_err(|e| format!("{at}: {e}"))?;
    let conn = database(case);
    let sql = support::run_sql(&conn, &compiled).map_err(|e| format!("{at}: {e}"))?;
    let reference = support::run_eval(&conn, &compiled);
    support::engines_agree(&sql, &reference).map_err(|e| format!("{at}: {e}"))?;
    super::dialect::other_dialects_agree(&conn, &compiled, &sql).map_err(|e| format!("{at}: {e}"))?;
    support::spark_agrees(&conn, &compiled, &sql).map_err(|e| format!("{at}: {e}"))?;
    for (name, header, cells) in &case.expects {
        let types = support::output_types(&compiled, name).ok_or_else(|| format!("{at}: no output `{name}`"))?;
        let (columns, rows) = if name == "attrition" {
            (support::ATTRITION_COLUMNS.iter().map(|s| s.to_string()).collect::<Vec<_>>(), sql.attrition.clone())
        } else {
            let (_, c, r) = sql.outputs.iter().find(|(n, ..)| n == name).unwrap();
            (c.clone(), r.clone())
        };
        let picks: Vec<usize> = header
            .iter()
            .map(|h| {
                columns
                    .iter()
                    .position(|c| c == h)
                    .ok_or_else(|| format!("{at}: `{name}` has no column `{h}` (it has {columns:?})"))
            })
            .collect::<Result<_, _>>()?;
        let actual = support::sorted(rows.iter().map(|r| picks.iter().map(|&i| r[i].clone()).collect()).collect());
        let expected = support::sorted(
            cells
                .iter()
                .map(|r| r.iter().zip(&picks).map(|(c, &i)| cell(c, ColumnType::Value(types[i]))).collect())
                .collect(),
        );
        if !support::same_rows(&actual, &expected) {
            return Err(format!(
                "{at}: `{name}` is\n{}expected\n{}",
                support::show(header, &actual),
                support::show(header, &expected)
            ));
        }
    }
    Ok(())
}

#[test]
fn every_example_of_the_language_reference_holds() {
    let cases = cases();
    assert!(cases.len() >= 15, "the reference has {} examples", cases.len());
    let failures: Vec<String> = cases.iter().filter_map(|c| run_case(c).err()).collect();
    assert!(failures.is_empty(), "{} of {} examples fail:\n\n{}", failures.len(), cases.len(), failures.join("\n\n"));
}
