//! `midnet site check`: the data-quality report of a site's integrated data source. MID-NET's own
//! experience is that lab coverage and the mapping of local codes to standard ones vary widely
//! between hospitals, so the report shows, per table and per analyte, what is there and how it is
//! coded, for the data center to compare sites before a study relies on them.

use serde::Serialize;

use super::SiteDir;
use super::clinical::{ClinicalRows, Database};
use super::load::reasons::{self, ReasonCount};
use super::quality::{self, Changes, Coverage, UnmappedCode};
use crate::error::Result;
use crate::sql::SqlType;

#[derive(Debug, Serialize)]
pub struct QualityReport {
    pub data_version: Option<i64>,
    pub tables: Vec<TableCounts>,
    pub unknown_codes: Vec<UnknownCodes>,
    pub analytes: Vec<AnalyteQuality>,
    /// How many set-aside rows have each first reason, values withheld (`load::reasons`).
    pub quarantine: Vec<ReasonCount>,
    /// Per table and source: rows with a standard code, those mapped from local codes, rows waiting.
    pub coverage: Vec<Coverage>,
    /// The local codes with the most rows waiting for a mapping (code and count).
    pub unmapped_codes: Vec<UnmappedCode>,
    /// What changed between the two latest data versions that changed clinical rows (None before two).
    pub changes: Option<Changes>,
    /// The SS-MIX2 storage's current files as the site last imported them, by data kind: read,
    /// skipped (a kind the import does not take), quarantined (empty: no storage imported).
    pub ssmix2_messages: Vec<super::ssmix2::import::KindCounts>,
    /// Per source, its patients and how many of them have rows of another source too: how far the
    /// site's key linked a hospital's EHR, claims and DPC (docs/claims.md).
    pub linked_patients: Vec<LinkedPatients>,
}

#[derive(Debug, Serialize)]
pub struct LinkedPatients {
    pub source: String,
    pub patients: i64,
    /// Of them, those with rows of another source.
    pub linked: i64,
}

/// How many unmapped local codes the report lists.
const TOP_UNMAPPED: usize = 10;

#[derive(Debug, Serialize)]
pub struct TableCounts {
    pub table: String,
    pub source: String,
    pub rows: i64,
    pub patients: i64,
    pub first_date: Option<String>,
    pub last_date: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct UnknownCodes {
    pub table: String,
    pub code_system: String,
    pub rows: i64,
    pub unknown_rows: i64,
    pub distinct_unknown: i64,
    pub share_unknown: f64,
}

#[derive(Debug, Serialize)]
pub struct AnalyteQuality {
    pub analyte: String,
    pub unit: String,
    pub results: i64,
    pub patients_tested: i64,
    /// Share of patients with at least one result of this analyte.
    pub coverage: f64,
    /// Share of results without a numeric value.
    pub missing_value: f64,
    /// Share of results without a reference range.
    pub missing_range: f64,
    pub reported_units: String,
    pub ref_low_range: String,
    pub ref_high_range: String,
    /// Share of numeric results outside their own reference range.
    pub abnormal: f64,
}

/// Where the date of each clinical table is.
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

pub fn check(site: &SiteDir) -> Result<QualityReport> {
    let conn = site.open_read_only()?;
    report(&conn, &mut Database(&conn))
}

/// The report of a site whose database (a Spark site's catalog) is `site_db` and whose clinical
/// rows `clinical` counts.
pub(crate) fn report(site_db: &duckdb::Connection, clinical: &mut impl ClinicalRows) -> Result<QualityReport> {
    Ok(QualityReport {
        data_version: site_db.query_row("SELECT max(data_version) FROM load_history", [], |r| r.get(0))?,
        tables: table_counts(clinical)?,
        unknown_codes: unknown_codes(clinical)?,
        analytes: analytes(clinical)?,
        quarantine: reasons::counts(site_db, None)?,
        coverage: quality::coverage(site_db, clinical)?,
        unmapped_codes: quality::top_unmapped(site_db, TOP_UNMAPPED)?,
        changes: quality::changes(site_db)?,
        ssmix2_messages: super::ssmix2::import::current_counts(site_db)?,
        linked_patients: linked_patients(clinical)?,
    })
}

/// Per source, the patients with a row of it (in any table with a source), and how many of them
/// have a row of another source.
fn linked_patients(clinical: &mut impl ClinicalRows) -> Result<Vec<LinkedPatients>> {
    let d = clinical.dialect();
    let of_source: Vec<String> = DATE_COLUMN[1..]
        .iter()
        .map(|(table, _)| format!("SELECT patient_key, source FROM {}", d.ident(table)))
        .collect();
    let sql = format!(
        "WITH s AS ({}), \
         n AS (SELECT patient_key, count(DISTINCT source) AS sources FROM s GROUP BY patient_key) \
         SELECT s.source, count(*) AS patients, sum(CASE WHEN n.sources > 1 THEN 1 ELSE 0 END) AS linked \
         FROM s JOIN n ON s.patient_key = n.patient_key GROUP BY s.source ORDER BY 1",
        of_source.join(" UNION ")
    );
    clinical.query(&sql, |r| Ok(LinkedPatients { source: r.get(0)?, patients: r.get(1)?, linked: r.get(2)? }))
}

/// Rows, patients and the range of dates per table and source. The report is for the data center,
/// so the range of birth dates is shown by year and month only: the oldest and youngest patients'
/// days of birth stay at the site.
fn table_counts(clinical: &mut impl ClinicalRows) -> Result<Vec<TableCounts>> {
    let mut out = Vec::new();
    for (table, date) in DATE_COLUMN {
        let d = clinical.dialect();
        let (source, group) = match table {
            "patient" => (d.string("-"), "HAVING count(*) > 0"),
            _ => ("source".to_string(), "GROUP BY source"),
        };
        let shown = |aggregate: &str| match table {
            "patient" => d.year_month(&format!("{aggregate}({date})")),
            _ => d.cast(&d.cast(&format!("{aggregate}({date})"), SqlType::Date), SqlType::Text),
        };
        let sql = format!(
            "SELECT {source} AS source, count(*) AS n, count(DISTINCT patient_key) AS patients, {} AS first_date, \
             {} AS last_date FROM {} {group} ORDER BY 1",
            shown("min"),
            shown("max"),
            d.ident(table)
        );
        let found = clinical.query(&sql, |r| {
            Ok(TableCounts {
                table: table.to_string(),
                source: r.get(0)?,
                rows: r.get(1)?,
                patients: r.get(2)?,
                first_date: r.get(3)?,
                last_date: r.get(4)?,
            })
        })?;
        if found.is_empty() {
            out.push(TableCounts {
                table: table.to_string(),
                source: "-".into(),
                rows: 0,
                patients: 0,
                first_date: None,
                last_date: None,
            });
        }
        out.extend(found);
    }
    Ok(out)
}

fn unknown_codes(clinical: &mut impl ClinicalRows) -> Result<Vec<UnknownCodes>> {
    // (table, code system, the code, the known codes joined to the row as `m1` (and `m2`)): a join
    // rather than `IN`, which Spark does not take with a row of values.
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
             FROM (SELECT t.{column} AS code, ({known}) AS known FROM {table} t {joins}) coded"
        );
        let found = clinical.query(&sql, |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)))?;
        let (rows, unknown, distinct) = found.first().copied().unwrap_or((0, 0, 0));
        out.push(UnknownCodes {
            table: table.into(),
            code_system: system.into(),
            rows,
            unknown_rows: unknown,
            distinct_unknown: distinct,
            share_unknown: if rows > 0 { unknown as f64 / rows as f64 } else { 0.0 },
        });
    }
    Ok(out)
}

fn analytes(clinical: &mut impl ClinicalRows) -> Result<Vec<AnalyteQuality>> {
    let d = clinical.dialect();
    let (one, zero) = (d.double(1.0), d.double(0.0));
    let text = |expr: &str| d.cast(expr, SqlType::Text);
    let range = |column: &str| {
        format!(
            "coalesce({} || {} || {}, {})",
            text(&format!("min(l.{column})")),
            d.string("–"),
            text(&format!("max(l.{column})")),
            d.string("-")
        )
    };
    let sql = format!(
        "WITH patients AS (SELECT count(*) AS n FROM patient)
        SELECT lm.analyte, lm.canonical_unit, count(*), count(DISTINCT l.patient_key),
               {} / greatest(max(patients.n), 1),
               avg(CASE WHEN l.value IS NULL THEN {one} ELSE {zero} END),
               avg(CASE WHEN l.ref_low IS NULL AND l.ref_high IS NULL THEN {one} ELSE {zero} END),
               {},
               {}, {},
               coalesce(avg(CASE WHEN l.value IS NULL THEN NULL
                                 WHEN l.value > l.ref_high OR l.value < l.ref_low THEN {one} ELSE {zero} END), {zero})
        FROM lab_result l
        JOIN lab_master lm ON lm.analyte_code = substr(l.jlac10, 1, 5) AND lm.specimen_code = substr(l.jlac10, 10, 3)
        CROSS JOIN patients
        GROUP BY lm.analyte, lm.canonical_unit ORDER BY lm.analyte",
        d.cast("count(DISTINCT l.patient_key)", SqlType::Double),
        clinical.distinct_sorted_list(&format!("coalesce(l.reported_unit, {})", d.string("(none)")), ", "),
        range("ref_low"),
        range("ref_high"),
    );
    clinical.query(&sql, |r| {
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

impl QualityReport {
    /// The report as text for the terminal.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let version = self.data_version.map_or("none (nothing loaded yet)".to_string(), |v| v.to_string());
        let _ = writeln!(s, "data version: {version}\n");
        let _ = writeln!(s, "rows per table and source");
        let _ = writeln!(
            s,
            "  {:<20} {:<7} {:>12} {:>10}  {:<10} {:<10}",
            "table", "source", "rows", "patients", "first", "last"
        );
        for t in &self.tables {
            let _ = writeln!(
                s,
                "  {:<20} {:<7} {:>12} {:>10}  {:<10} {:<10}",
                t.table,
                t.source,
                t.rows,
                t.patients,
                t.first_date.as_deref().unwrap_or("-"),
                t.last_date.as_deref().unwrap_or("-")
            );
        }
        let _ = writeln!(s, "\ncodes unknown to the masters");
        for u in &self.unknown_codes {
            let _ = writeln!(
                s,
                "  {:<20} {:<7} {:>6.2}% of {} rows ({} distinct codes)",
                u.table,
                u.code_system,
                100.0 * u.share_unknown,
                u.rows,
                u.distinct_unknown
            );
        }
        let _ = writeln!(s, "\nlab results per analyte (canonical unit; coverage = share of patients tested)");
        let _ = writeln!(
            s,
            "  {:<17} {:<8} {:>9} {:>8} {:>8} {:>8} {:>8}  {:<22} {:<16} {:<16}",
            "analyte",
            "unit",
            "results",
            "coverage",
            "no value",
            "no range",
            "abnormal",
            "reported units",
            "ref low",
            "ref high"
        );
        for a in &self.analytes {
            let _ = writeln!(
                s,
                "  {:<17} {:<8} {:>9} {:>7.1}% {:>7.1}% {:>7.1}% {:>7.1}%  {:<22} {:<16} {:<16}",
                a.analyte,
                a.unit,
                a.results,
                100.0 * a.coverage,
                100.0 * a.missing_value,
                100.0 * a.missing_range,
                100.0 * a.abnormal,
                a.reported_units,
                a.ref_low_range,
                a.ref_high_range
            );
        }
        let _ = writeln!(s, "\nquarantined rows");
        if self.quarantine.is_empty() {
            let _ = writeln!(s, "  none");
        }
        for q in &self.quarantine {
            let _ = writeln!(s, "  {:<20} {:>8}  {}", q.table, q.rows, q.reason);
        }
        s.push_str(&self.render_mapping());
        s.push_str(&self.render_ssmix2());
        s.push_str(&self.render_linked());
        s
    }

    /// Per source, its patients and those linked to another source (nothing for an empty site).
    fn render_linked(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        if self.linked_patients.is_empty() {
            return s;
        }
        let _ = writeln!(s, "\npatients per source, and those with rows of another source too");
        let _ = writeln!(s, "  {:<7} {:>10} {:>10}", "source", "patients", "linked");
        for l in &self.linked_patients {
            let _ = writeln!(s, "  {:<7} {:>10} {:>10}", l.source, l.patients, l.linked);
        }
        s
    }

    /// The SS-MIX2 messages by data kind, as text (nothing when no storage was imported).
    fn render_ssmix2(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        if self.ssmix2_messages.is_empty() {
            return s;
        }
        let _ = writeln!(
            s,
            "
SS-MIX2 messages (current files) by data kind"
        );
        let _ = writeln!(s, "  {:<10} {:>10} {:>10} {:>12}", "data kind", "read", "skipped", "quarantined");
        for k in &self.ssmix2_messages {
            let _ = writeln!(s, "  {:<10} {:>10} {:>10} {:>12}", k.data_kind, k.read, k.skipped, k.quarantined);
        }
        s
    }

    /// The coverage of standard codes, the unmapped local codes and the changes, as text.
    fn render_mapping(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(s, "\nstandard codes per table and source (waiting: rows whose local code is not mapped yet)");
        let _ = writeln!(
            s,
            "  {:<20} {:<7} {:>12} {:>10} {:>10} {:>9}",
            "table", "source", "rows", "mapped", "waiting", "standard"
        );
        for c in &self.coverage {
            let _ = writeln!(
                s,
                "  {:<20} {:<7} {:>12} {:>10} {:>10} {:>8.1}%",
                c.table,
                c.source,
                c.rows,
                c.mapped,
                c.waiting,
                100.0 * c.standard_share
            );
        }
        let _ = writeln!(s, "\nunmapped local codes, most rows first (`midnet site mapping unmapped` writes them all)");
        if self.unmapped_codes.is_empty() {
            let _ = writeln!(s, "  none");
        }
        for u in &self.unmapped_codes {
            let _ = writeln!(s, "  {:<8} {:<12} {:<20} {:>8} rows", u.kind, u.local_system, u.local_code, u.rows);
        }
        match &self.changes {
            None => {
                let _ = writeln!(s, "\nchanges: no earlier data version recorded its counts");
            }
            Some(changes) => {
                let _ = writeln!(
                    s,
                    "\nchanges since data version {} (data version {})",
                    changes.previous_version, changes.data_version
                );
                for c in changes
                    .tables
                    .iter()
                    .filter(|c| c.rows_before != c.rows_after || c.standard_share_before != c.standard_share_after)
                {
                    let _ = writeln!(
                        s,
                        "  {:<20} {:<7} rows {} -> {} ({:+}), standard {:.1}% -> {:.1}%",
                        c.table,
                        c.source,
                        c.rows_before,
                        c.rows_after,
                        c.rows_after - c.rows_before,
                        100.0 * c.standard_share_before,
                        100.0 * c.standard_share_after
                    );
                }
            }
        }
        s
    }
}
