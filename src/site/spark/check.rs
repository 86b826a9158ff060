//! `site check` at a Spark site: the report of a DuckDB site (`site::check`, which writes the
//! queries once), its clinical rows counted by Spark over the warehouse's tables of the catalog's
//! data version. The masters the checks compare codes with live in the catalog: they go to Spark as
//! Parquet in a scratch directory. The quarantine, the rows waiting for a mapping and the counts of
//! earlier versions are the catalog's own.

use super::{SparkSite, withheld};
use crate::error::Result;
use crate::site::SiteDir;
use crate::site::check::QualityReport;
use crate::site::clinical::ClinicalRows;
use crate::spark::{Session, ident};
use crate::sql::duckdb::{ident as duck_ident, string};
use crate::sql::{Dialect, Spark};

/// The masters the checks read, staged for Spark.
const MASTERS: [&str; 3] = ["drug_master", "lab_master", "icd10_master"];

pub fn check(site: &SiteDir, spark: &SparkSite) -> Result<QualityReport> {
    let catalog = site.open_read_only()?;
    let data_version: Option<i64> =
        catalog.query_row("SELECT max(data_version) FROM load_history", [], |r| r.get(0))?;
    let mut session = spark.session(data_version)?;
    let scratch = spark.scratch()?;
    for master in MASTERS {
        let file = scratch.0.join(format!("{master}.parquet"));
        catalog.execute_batch(&format!(
            "COPY {} TO {} (FORMAT parquet)",
            duck_ident(master),
            string(&file.display().to_string())
        ))?;
        session.sql(&format!(
            "CREATE OR REPLACE TEMPORARY VIEW {} AS SELECT * FROM parquet.{}",
            ident(master),
            ident(&file.display().to_string())
        ))?;
    }
    let rows = duckdb::Connection::open_in_memory()?;
    crate::site::check::report(&catalog, &mut SparkRows { session: &mut session, rows: &rows })
}

/// Clinical rows counted by Spark, its answers read through a table of the in-memory `rows`.
struct SparkRows<'a> {
    session: &'a mut Session,
    rows: &'a duckdb::Connection,
}

impl ClinicalRows for SparkRows<'_> {
    fn dialect(&self) -> &dyn Dialect {
        &Spark
    }

    fn distinct_sorted_list(&self, expr: &str, separator: &str) -> String {
        format!("array_join(array_sort(collect_set({expr})), {})", Spark.string(separator))
    }

    fn query<T>(&mut self, sql: &str, row: impl FnMut(&duckdb::Row) -> duckdb::Result<T>) -> Result<Vec<T>> {
        let batches = self.session.sql(sql).map_err(withheld)?;
        if batches.is_empty() {
            return Ok(Vec::new());
        }
        super::extract::store(self.rows, "spark_rows", batches, &[])?;
        let found =
            self.rows.prepare("SELECT * FROM spark_rows")?.query_map([], row)?.collect::<std::result::Result<_, _>>();
        self.rows.execute_batch("DROP TABLE spark_rows")?;
        Ok(found?)
    }
}
