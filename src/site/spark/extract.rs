//! The queries of an extraction at a Spark site: compiled with the Spark dialect, run through
//! Spark Connect as their steps, and their rows kept in an in-memory DuckDB database, from which the
//! site's extraction (`site::run`) goes on exactly as at a DuckDB site. The key that makes person
//! ids never enters Spark SQL (Spark logs its plans): person ids are made in that DuckDB database.

use duckdb::arrow::datatypes::DataType;
use duckdb::arrow::record_batch::RecordBatch;

use super::{Scratch, SparkSite, withheld};
use crate::error::{Error, Result};
use crate::query::model::Program;
use crate::spark::Session;
use crate::sql::duckdb::ident;
use crate::sql::{OutputQuery, Queries, Spark, Steps};

/// One extraction's session on the site's Spark server and the rows it returned.
pub struct SparkRun {
    session: Session,
    /// The program compiled with the Spark dialect (the same outputs, in the same order).
    queries: Queries,
    rows: duckdb::Connection,
    scratch: Scratch,
}

impl SparkRun {
    /// A session over the tables of the catalog's data version `version`, for `program`.
    pub fn open(spark: &SparkSite, program: &Program, version: Option<i64>) -> Result<SparkRun> {
        Ok(SparkRun {
            session: spark.session(version)?,
            queries: crate::sql::generate(program, &Spark),
            rows: duckdb::Connection::open_in_memory()?,
            scratch: spark.scratch()?,
        })
    }

    /// Run output `index` on Spark and keep its rows: the DuckDB connection holding them and a
    /// FROM item that gives them as the DuckDB query `declared` does (`patient_key`, then each
    /// column cast to the type DuckDB's compilation declares).
    pub fn output(&mut self, index: usize, declared: &OutputQuery) -> Result<(&duckdb::Connection, String)> {
        let table = format!("spark_output_{index}");
        let steps = self.queries.outputs[index].steps.clone();
        let mut columns = vec![("patient_key".to_string(), "VARCHAR")];
        columns.extend(declared.columns.iter().map(|c| (c.name.clone(), c.sql_type)));
        self.keep(&table, &steps, &columns)?;
        let items: Vec<String> =
            columns.iter().map(|(name, ty)| format!("CAST({} AS {ty}) AS {}", ident(name), ident(name))).collect();
        Ok((&self.rows, format!("(SELECT {} FROM {})", items.join(", "), ident(&table))))
    }

    /// Run the attrition query on Spark and keep its rows: the DuckDB connection holding them and
    /// a query giving them in the columns and order of the DuckDB attrition query.
    pub fn attrition(&mut self) -> Result<(&duckdb::Connection, String)> {
        let columns = [
            ("step", "INTEGER"),
            ("rule", "VARCHAR"),
            ("kind", "VARCHAR"),
            ("patients_before", "BIGINT"),
            ("removed", "BIGINT"),
            ("patients_after", "BIGINT"),
        ]
        .map(|(name, ty)| (name.to_string(), ty));
        let steps = self.queries.attrition_steps.clone();
        self.keep("spark_attrition", &steps, &columns)?;
        let items: Vec<String> = columns.iter().map(|(name, ty)| format!("CAST({name} AS {ty}) AS {name}")).collect();
        Ok((&self.rows, format!("SELECT {} FROM spark_attrition ORDER BY step", items.join(", "))))
    }

    /// Run `query` as its steps and keep its rows as the new table `table` of the in-memory
    /// database.
    fn keep(&mut self, table: &str, query: &Steps, declared: &[(String, &str)]) -> Result<()> {
        let batches = self.session.query_in_steps(&query.steps, &query.select, &self.scratch.0).map_err(withheld)?;
        store(&self.rows, table, batches, declared)
    }
}

/// Append `batches` to a new table `table` of `rows`, with the batches' columns (or `declared`,
/// when Spark sent no batch).
pub(super) fn store(
    rows: &duckdb::Connection,
    table: &str,
    batches: Vec<RecordBatch>,
    declared: &[(String, &str)],
) -> Result<()> {
    let columns = match batches.first() {
        Some(batch) => columns_of(batch)?,
        None => declared.iter().map(|(name, ty)| (name.clone(), ty.to_string())).collect(),
    };
    let list: Vec<String> = columns.iter().map(|(name, ty)| format!("{} {ty}", ident(name))).collect();
    rows.execute_batch(&format!("CREATE TABLE {} ({})", ident(table), list.join(", ")))?;
    let mut appender = rows.appender(table)?;
    for batch in batches {
        appender.append_record_batch(batch)?;
    }
    appender.flush()?;
    Ok(())
}

/// The DuckDB columns of a batch Spark returned (the types the generated queries produce).
fn columns_of(batch: &RecordBatch) -> Result<Vec<(String, String)>> {
    batch
        .schema()
        .fields()
        .iter()
        .map(|field| {
            let ty = match field.data_type() {
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "VARCHAR",
                DataType::Int8 => "TINYINT",
                DataType::Int16 => "SMALLINT",
                DataType::Int32 => "INTEGER",
                DataType::Int64 => "BIGINT",
                DataType::Float32 => "FLOAT",
                DataType::Float64 => "DOUBLE",
                DataType::Boolean => "BOOLEAN",
                DataType::Date32 => "DATE",
                other => {
                    return Err(Error::Internal(format!(
                        "Spark returned the column {} as {other}, a type no compiled query produces",
                        field.name()
                    )));
                }
            };
            Ok((field.name().clone(), ty.to_string()))
        })
        .collect()
}
