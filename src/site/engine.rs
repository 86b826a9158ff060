//! Where a site's extraction queries run: on its DuckDB database, or on Spark for a Spark site
//! (`site::spark`). Either way the rows end up readable by a DuckDB connection, where the site's
//! extraction (`site::run`) makes person ids and writes Parquet, the same for both.

use super::SiteDir;
use super::spark::{SparkRun, SparkSite};
use crate::error::Result;
use crate::query::model::Program;
use crate::sql::{OutputQuery, Queries};

pub enum Place<'a> {
    /// The site's own database: the queries compiled for DuckDB run where they are.
    DuckDb {
        conn: &'a duckdb::Connection,
        queries: &'a Queries,
    },
    Spark(Box<SparkRun>),
}

impl<'a> Place<'a> {
    /// Where `site`'s queries of `program` (`queries`: compiled for DuckDB) run; `conn` is the
    /// site's database (a Spark site's catalog), `version` its data version.
    pub fn of(
        site: &SiteDir,
        conn: &'a duckdb::Connection,
        program: &Program,
        queries: &'a Queries,
        version: Option<i64>,
    ) -> Result<Place<'a>> {
        Ok(match SparkSite::of(site)? {
            None => Place::DuckDb { conn, queries },
            Some(spark) => Place::Spark(Box::new(SparkRun::open(&spark, program, version)?)),
        })
    }

    /// Output `index`'s rows: the connection that reads them and a FROM item giving them
    /// (`patient_key`, then the output's columns).
    pub fn output(&mut self, index: usize, out: &OutputQuery) -> Result<(&duckdb::Connection, String)> {
        match self {
            Place::DuckDb { conn, .. } => Ok((conn, format!("({})", out.sql))),
            Place::Spark(run) => run.output(index, out),
        }
    }

    /// The attrition's rows: the connection that reads them and the query giving them.
    pub fn attrition(&mut self) -> Result<(&duckdb::Connection, String)> {
        match self {
            Place::DuckDb { conn, queries } => Ok((conn, queries.attrition.clone())),
            Place::Spark(run) => run.attrition(),
        }
    }
}
