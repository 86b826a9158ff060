//! How much of a site's data is standard-coded, and how that changed: per clinical table and
//! source, the rows in the table, those of them whose standard code a mapping of local codes gave,
//! and the rows still waiting for a mapping (`local_row`). Each data version that changes clinical
//! rows (a load, a mapping) records these counts in `quality_history`; `site check` shows them now,
//! the most frequent unmapped local codes (code and count, never a value of a row), and what
//! changed between the last two versions recorded.

use std::collections::BTreeMap;

use serde::Serialize;

use super::clinical::{ClinicalRows, Database};
use crate::error::Result;
use crate::schema::CLINICAL_TABLES;
use crate::sql::duckdb::string;
use crate::sql::{Dialect, SqlType};

/// One table and source: its rows and how they are coded.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Coverage {
    pub table: String,
    pub source: String,
    /// Rows in the table (each has a standard code).
    pub rows: i64,
    /// Of those, rows whose standard code a mapping of local codes gave.
    pub mapped: i64,
    /// Rows with a local code no decision maps yet: kept, not in the table.
    pub waiting: i64,
    /// rows / (rows + waiting): the share of the source's rows that scripts see with a standard code.
    pub standard_share: f64,
}

/// An unmapped local code and how many rows wait for it.
#[derive(Debug, Clone, Serialize)]
pub struct UnmappedCode {
    pub kind: String,
    pub local_system: String,
    pub local_code: String,
    pub rows: i64,
}

/// What changed between the two latest data versions that changed clinical rows.
#[derive(Debug, Clone, Serialize)]
pub struct Changes {
    pub previous_version: i64,
    pub data_version: i64,
    /// Every table and source of either version, with both versions' counts (0 where absent).
    pub tables: Vec<Change>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub table: String,
    pub source: String,
    pub rows_before: i64,
    pub rows_after: i64,
    pub standard_share_before: f64,
    pub standard_share_after: f64,
}

/// The clinical rows per table and source, as SQL of `d`'s dialect: table_name, source, n, mapped.
fn stored_sql(d: &dyn Dialect) -> String {
    let tables: Vec<String> = CLINICAL_TABLES
        .iter()
        .map(|table| {
            let (source, group) = match *table {
                "patient" => (d.string("-"), "HAVING count(*) > 0"),
                _ => ("source".to_string(), "GROUP BY source"),
            };
            let mapped = match *table {
                "diagnosis" | "drug_order" | "drug_administration" | "lab_result" => "count(local_code)".to_string(),
                _ => d.cast("0", SqlType::Int64),
            };
            format!(
                "SELECT {} AS table_name, {source} AS source, count(*) AS n, {mapped} AS mapped FROM {} {group}",
                d.string(table),
                d.ident(table)
            )
        })
        .collect();
    tables.join(" UNION ALL ")
}

/// The counts per table and source now, in the order of the clinical tables, then by source: the
/// rows that `clinical` counts, and those waiting for a mapping in the site's database `site_db`.
pub fn coverage(site_db: &duckdb::Connection, clinical: &mut impl ClinicalRows) -> Result<Vec<Coverage>> {
    let mut counts: BTreeMap<(usize, String, String), (i64, i64, i64)> = BTreeMap::new();
    let key = |table: String, source: String| {
        (CLINICAL_TABLES.iter().position(|t| *t == table).unwrap_or(usize::MAX), table, source)
    };
    let sql = stored_sql(clinical.dialect());
    let stored = clinical.query(&sql, |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?))
    })?;
    for (table, source, rows, mapped) in stored {
        let entry = counts.entry(key(table, source)).or_default();
        (entry.0, entry.1) = (rows, mapped);
    }
    let waiting = site_db
        .prepare(
            "SELECT table_name, fields->>'$.source' AS source, count(*) FROM local_row WHERE brought_in IS NULL \
             GROUP BY ALL",
        )?
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    for (table, source, waiting) in waiting {
        counts.entry(key(table, source)).or_default().2 = waiting;
    }
    Ok(counts
        .into_iter()
        .map(|((_, table, source), (rows, mapped, waiting))| Coverage {
            table,
            source,
            rows,
            mapped,
            waiting,
            standard_share: share(rows, waiting),
        })
        .collect())
}

/// Record the counts of `data_version` in `quality_history`, the clinical rows as `site_db` holds
/// them (a DuckDB site's).
pub fn record(site_db: &duckdb::Connection, data_version: i64) -> Result<()> {
    record_counted(site_db, data_version, &mut Database(site_db))
}

/// Record the counts of `data_version` in `quality_history`, the clinical rows as `clinical` counts
/// them (a Spark site's warehouse), those waiting as `site_db` holds them.
pub fn record_counted(site_db: &duckdb::Connection, data_version: i64, clinical: &mut impl ClinicalRows) -> Result<()> {
    let mut insert = site_db.prepare("INSERT INTO quality_history VALUES (?, ?, ?, ?, ?, ?)")?;
    for c in coverage(site_db, clinical)? {
        insert.execute(duckdb::params![data_version, c.table, c.source, c.rows, c.mapped, c.waiting])?;
    }
    Ok(())
}

/// The `most` local codes with the most waiting rows.
pub fn top_unmapped(conn: &duckdb::Connection, most: usize) -> Result<Vec<UnmappedCode>> {
    let mut stmt = conn.prepare(
        "SELECT kind, local_system, local_code, count(*) AS rows FROM local_row WHERE brought_in IS NULL \
         GROUP BY ALL ORDER BY rows DESC, kind, local_system, local_code LIMIT ?",
    )?;
    let rows = stmt.query_map([most as i64], |r| {
        Ok(UnmappedCode { kind: r.get(0)?, local_system: r.get(1)?, local_code: r.get(2)?, rows: r.get(3)? })
    })?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// The change between the two latest versions recorded; None before there are two.
pub fn changes(conn: &duckdb::Connection) -> Result<Option<Changes>> {
    let versions: Vec<i64> = conn
        .prepare("SELECT DISTINCT data_version FROM quality_history ORDER BY data_version DESC LIMIT 2")?
        .query_map([], |r| r.get(0))?
        .collect::<std::result::Result<_, _>>()?;
    let [after, before] = versions[..] else { return Ok(None) };
    let mut stmt = conn.prepare(&format!(
        "SELECT table_name, source, coalesce(b.rows, 0), coalesce(b.waiting, 0), coalesce(a.rows, 0), \
                coalesce(a.waiting, 0) \
         FROM (SELECT * FROM quality_history WHERE data_version = ?) b \
         FULL JOIN (SELECT * FROM quality_history WHERE data_version = ?) a USING (table_name, source) \
         ORDER BY {}, source",
        table_order()
    ))?;
    let tables = stmt.query_map([before, after], |r| {
        let (rows_before, waiting_before, rows_after, waiting_after): (i64, i64, i64, i64) =
            (r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?);
        Ok(Change {
            table: r.get(0)?,
            source: r.get(1)?,
            rows_before,
            rows_after,
            standard_share_before: share(rows_before, waiting_before),
            standard_share_after: share(rows_after, waiting_after),
        })
    })?;
    Ok(Some(Changes {
        previous_version: before,
        data_version: after,
        tables: tables.collect::<std::result::Result<_, _>>()?,
    }))
}

/// The position of `table_name` among the clinical tables, as SQL.
fn table_order() -> String {
    let names: Vec<String> = CLINICAL_TABLES.iter().map(|t| string(t)).collect();
    format!("list_position([{}], table_name)", names.join(", "))
}

/// The share of rows in their table: 1 for a table and source with nothing at all.
fn share(rows: i64, waiting: i64) -> f64 {
    if rows + waiting == 0 { 1.0 } else { rows as f64 / (rows + waiting) as f64 }
}
