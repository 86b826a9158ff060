//! `site check` at a Spark site: the same report as a DuckDB site's (`site::check`), its counts
//! computed by Spark over the warehouse's tables of the catalog's data version. The masters the
//! checks compare codes with live in the catalog: they go to Spark as Parquet in a scratch directory.
//! The quarantine is the catalog's own.

use super::{SparkSite, withheld};
use crate::error::Result;
use crate::site::SiteDir;
use crate::site::check::{AnalyteQuality, QualityReport, TableCounts, UnknownCodes};
use crate::site::load::reasons;
use crate::spark::{Session, ident};
use crate::sql::duckdb::{ident as duck_ident, string};

/// Where the date of each clinical table is (as `site::check` reads them).
const DATE_COLUMN: [(&str, &str); 8] = [
    ("patient", "birth_date"),
    ("observation_period", "start_date"),
    ("encounter", "start_date"),
    ("diagnosis", "diagnosis_date"),
    ("drug_order", "start_date"),
    ("drug_administration", "start_time"),
    ("lab_result", "result_time"),
    ("procedure", "procedure_date"),
];

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
    Ok(QualityReport {
        data_version,
        tables: table_counts(&mut session, &rows)?,
        unknown_codes: unknown_codes(&mut session, &rows)?,
        analytes: analytes(&mut session, &rows)?,
        quarantine: reasons::counts(&catalog, None)?,
        // Rows waiting for a mapping stay in the catalog, so their codes are known; coverage and
        // the changes between versions are computed from the clinical tables, which are Spark's:
        // not built for a Spark site yet (docs/spark.md).
        coverage: Vec::new(),
        unmapped_codes: crate::site::quality::top_unmapped(&catalog, 10)?,
        changes: None,
        // The storage's files are recorded in the catalog.
        ssmix2_messages: crate::site::ssmix2::import::current_counts(&catalog)?,
    })
}

/// Run `sql` on Spark and read its rows with `row` through a table of the in-memory `rows`.
fn query<T>(
    session: &mut Session,
    rows: &duckdb::Connection,
    sql: &str,
    row: impl FnMut(&duckdb::Row) -> duckdb::Result<T>,
) -> Result<Vec<T>> {
    let batches = session.sql(sql).map_err(withheld)?;
    if batches.is_empty() {
        return Ok(Vec::new());
    }
    super::extract::store(rows, "spark_rows", batches, &[])?;
    let found = rows.prepare("SELECT * FROM spark_rows")?.query_map([], row)?.collect::<std::result::Result<_, _>>();
    rows.execute_batch("DROP TABLE spark_rows")?;
    Ok(found?)
}

fn table_counts(session: &mut Session, rows: &duckdb::Connection) -> Result<Vec<TableCounts>> {
    let mut out = Vec::new();
    for (table, date) in DATE_COLUMN {
        // Birth dates by year and month only, as at a DuckDB site.
        let (source, group, shown): (&str, &str, fn(&str, &str) -> String) = if table == "patient" {
            ("'-'", "", |aggregate, date| format!("date_format({aggregate}({date}), 'yyyy-MM')"))
        } else {
            ("source", "GROUP BY source", |aggregate, date| {
                format!("CAST(CAST({aggregate}({date}) AS DATE) AS STRING)")
            })
        };
        let sql = format!(
            "SELECT {source} AS source, count(*) AS n, count(DISTINCT patient_key) AS patients, {} AS first_date, \
             {} AS last_date FROM {table} {group} ORDER BY 1",
            shown("min", date),
            shown("max", date)
        );
        let found = query(session, rows, &sql, |r| {
            Ok(TableCounts {
                table: table.to_string(),
                source: r.get(0)?,
                rows: r.get(1)?,
                patients: r.get(2)?,
                first_date: r.get(3)?,
                last_date: r.get(4)?,
            })
        })?;
        let empty = TableCounts {
            table: table.to_string(),
            source: "-".into(),
            rows: 0,
            patients: 0,
            first_date: None,
            last_date: None,
        };
        let found: Vec<TableCounts> = found.into_iter().filter(|t| t.rows > 0).collect();
        if found.is_empty() {
            out.push(empty);
        }
        out.extend(found);
    }
    Ok(out)
}

fn unknown_codes(session: &mut Session, rows: &duckdb::Connection) -> Result<Vec<UnknownCodes>> {
    // (table, code system, the code, the known codes joined to the row as `m1`/`m2`)
    let checks = [
        (
            "drug_order",
            "yj",
            "yj_code",
            "LEFT JOIN (SELECT DISTINCT yj_code AS k FROM drug_master) m1 ON m1.k = t.yj_code",
        ),
        (
            "drug_administration",
            "yj",
            "yj_code",
            "LEFT JOIN (SELECT DISTINCT yj_code AS k FROM drug_master) m1 ON m1.k = t.yj_code",
        ),
        (
            "lab_result",
            "jlac10",
            "jlac10",
            "LEFT JOIN (SELECT DISTINCT concat(analyte_code, '/', specimen_code) AS k FROM lab_master) m1 \
             ON m1.k = concat(substr(t.jlac10, 1, 5), '/', substr(t.jlac10, 10, 3))",
        ),
        (
            "diagnosis",
            "icd10",
            "icd10",
            "LEFT JOIN (SELECT DISTINCT code AS k FROM icd10_master) m1 ON m1.k = t.icd10 \
             LEFT JOIN (SELECT DISTINCT code AS k FROM icd10_master) m2 ON m2.k = left(t.icd10, 3)",
        ),
    ];
    let mut out = Vec::new();
    for (table, system, column, joins) in checks {
        let known = if table == "diagnosis" { "m1.k IS NOT NULL OR m2.k IS NOT NULL" } else { "m1.k IS NOT NULL" };
        let sql = format!(
            "SELECT count(*), count(CASE WHEN NOT known THEN 1 END), count(DISTINCT CASE WHEN NOT known THEN code END) \
             FROM (SELECT t.{column} AS code, ({known}) AS known FROM {table} t {joins})"
        );
        let found =
            query(session, rows, &sql, |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)))?;
        let (count, unknown, distinct) = found.first().copied().unwrap_or((0, 0, 0));
        out.push(UnknownCodes {
            table: table.into(),
            code_system: system.into(),
            rows: count,
            unknown_rows: unknown,
            distinct_unknown: distinct,
            share_unknown: if count > 0 { unknown as f64 / count as f64 } else { 0.0 },
        });
    }
    Ok(out)
}

fn analytes(session: &mut Session, rows: &duckdb::Connection) -> Result<Vec<AnalyteQuality>> {
    let sql = "
        WITH patients AS (SELECT count(*) AS n FROM patient)
        SELECT lm.analyte, lm.canonical_unit, count(*), count(DISTINCT l.patient_key),
               CAST(count(DISTINCT l.patient_key) AS DOUBLE) / greatest(first(patients.n), 1),
               avg(CASE WHEN l.value IS NULL THEN 1.0D ELSE 0.0D END),
               avg(CASE WHEN l.ref_low IS NULL AND l.ref_high IS NULL THEN 1.0D ELSE 0.0D END),
               array_join(array_sort(collect_set(coalesce(l.reported_unit, '(none)'))), ', '),
               coalesce(CAST(min(l.ref_low) AS STRING) || '–' || CAST(max(l.ref_low) AS STRING), '-'),
               coalesce(CAST(min(l.ref_high) AS STRING) || '–' || CAST(max(l.ref_high) AS STRING), '-'),
               coalesce(avg(CASE WHEN l.value IS NULL THEN NULL
                                 WHEN l.value > l.ref_high OR l.value < l.ref_low THEN 1.0D ELSE 0.0D END), 0.0D)
        FROM lab_result l
        JOIN lab_master lm ON lm.analyte_code = substr(l.jlac10, 1, 5) AND lm.specimen_code = substr(l.jlac10, 10, 3)
        CROSS JOIN patients
        GROUP BY lm.analyte, lm.canonical_unit ORDER BY lm.analyte";
    query(session, rows, sql, |r| {
        Ok(AnalyteQuality {
            analyte: r.get(0)?,
            unit: r.get(1)?,
            results: r.get(2)?,
            patients_tested: r.get(3)?,
            coverage: r.get(4)?,
            missing_value: r.get(5)?,
            missing_range: r.get(6)?,
            reported_units: r.get(7)?,
            ref_low_range: r.get(8)?,
            ref_high_range: r.get(9)?,
            abnormal: r.get(10)?,
        })
    })
}
