//! The analysts' workbench inside a project, audited like everything else:
//! `midnet work sql` (read-only SQL over the project's datasets, results to the terminal or to
//! `work/`) and `midnet work import` (bring a codelist or a small reference table into `work/`).
//!
//! The SQL runs on the project's own database opened read-only with DuckDB's external access off,
//! so a query can read the project's dataset tables and nothing else: no file on disk, no other
//! project, no network.

use std::path::Path;

use duckdb::arrow::record_batch::RecordBatch;
use duckdb::arrow::util::pretty::pretty_format_batches;

use super::{Area, Project};
use crate::center::{Actor, Direction};
use crate::error::{Error, IoContext, Result};
use crate::table::{Provenance, Sidecar, TableKind};

/// Largest file `work import` brings in: codelists and small reference tables, not datasets.
pub const IMPORT_LIMIT_BYTES: u64 = 10 * 1024 * 1024;

/// Rows printed on the terminal; `--out` writes them all.
pub const SHOWN_ROWS: usize = 50;

/// Run a read-only query over the project's database; returns the result batches.
pub fn query(project: &Project, sql: &str) -> Result<Vec<RecordBatch>> {
    let db = project.layout().db();
    let config = duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly)?.enable_external_access(false)?;
    let conn = duckdb::Connection::open_with_flags(&db, config)?;
    let mut stmt = conn.prepare(sql).map_err(|e| Error::BadInput(format!("the query does not run: {e}")))?;
    let batches = stmt.query_arrow([]).map_err(|e| Error::BadInput(format!("the query does not run: {e}")))?.collect();
    Ok(batches)
}

/// The result as a text table, at most `limit` rows, with a note when rows were left out.
pub fn render(batches: &[RecordBatch], limit: usize) -> Result<String> {
    let total: usize = batches.iter().map(|b| b.num_rows()).sum();
    let mut shown = Vec::new();
    let mut left = limit;
    for b in batches {
        if left == 0 {
            break;
        }
        let take = b.num_rows().min(left);
        shown.push(b.slice(0, take));
        left -= take;
    }
    let table = pretty_format_batches(&shown).map_err(|e| Error::Internal(format!("formatting a result: {e}")))?;
    let mut text = table.to_string();
    if total > limit {
        text.push_str(&format!("\n({total} rows; the first {limit} shown; --out NAME.csv writes them all to work/)"));
    }
    Ok(text)
}

/// Write the result of `sql` to `work/NAME` as CSV, with a sidecar that gives no column roles (the
/// export gate judges every column by content) and records the query's lineage, and record both
/// files in the audit trail.
pub fn write_result(
    actor: &Actor,
    project: &Project,
    name: &str,
    sql: &str,
    batches: &[RecordBatch],
) -> Result<std::path::PathBuf> {
    if !name.ends_with(".csv") {
        return Err(Error::BadInput(format!("--out {name}: give a file name ending in .csv")));
    }
    let path = project.resolve(Area::Work, name)?;
    let columns: Vec<String> =
        batches.first().map(|b| b.schema().fields().iter().map(|f| f.name().clone()).collect()).unwrap_or_default();
    let mut provenance = Provenance::now("midnet work sql");
    provenance.project = Some(project.id().to_string());
    provenance.lineage = Some(super::lineage::of_query(project, sql, &columns)?);
    Sidecar::new(TableKind::Statistics, Vec::new(), provenance).write_beside(&path)?;
    crate::table::write_atomically(&path, &csv_bytes(batches)?)?;
    for file in [path.clone(), Sidecar::path_for(&path)] {
        actor.record_file(project, &file, &crate::digest::sha256_file(&file)?, Direction::In)?;
    }
    Ok(path)
}

/// The batches as CSV with a header row (missing values as empty cells).
fn csv_bytes(batches: &[RecordBatch]) -> Result<Vec<u8>> {
    use duckdb::arrow::array::{Array, AsArray};
    let csv_error = |e: csv::Error| Error::Internal(format!("writing CSV: {e}"));
    let mut writer = csv::Writer::from_writer(Vec::new());
    if let Some(first) = batches.first() {
        writer.write_record(first.schema().fields().iter().map(|f| f.name().as_str())).map_err(csv_error)?;
    }
    for batch in batches {
        let columns = batch
            .columns()
            .iter()
            .map(|c| duckdb::arrow::compute::cast(c, &duckdb::arrow::datatypes::DataType::Utf8))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::Internal(format!("formatting a result: {e}")))?;
        for row in 0..batch.num_rows() {
            let cells = columns.iter().map(|c| if c.is_null(row) { "" } else { c.as_string::<i32>().value(row) });
            writer.write_record(cells).map_err(csv_error)?;
        }
    }
    writer.into_inner().map_err(|e| Error::Internal(format!("writing CSV: {e}")))
}

/// Copy a codelist or small reference table into `work/`. Refused: anything but CSV or plain
/// text, files over the size limit, and tables with a column that could identify a person.
pub fn import(actor: &Actor, project: &Project, file: &Path, name: Option<&str>) -> Result<std::path::PathBuf> {
    let meta = std::fs::metadata(file).map_err(|_| Error::NotFound(format!("{}: no such file", file.display())))?;
    let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    if !matches!(ext.as_str(), "csv" | "txt") {
        return Err(Error::refused(
            "work_import",
            format!("{}: only codelists and small reference tables (.csv, .txt) come into a work area", file.display()),
        ));
    }
    if meta.len() > IMPORT_LIMIT_BYTES {
        return Err(Error::refused(
            "work_import",
            format!(
                "{}: {} bytes is more than a codelist or reference table ({} bytes at most)",
                file.display(),
                meta.len(),
                IMPORT_LIMIT_BYTES
            ),
        ));
    }
    if ext == "csv" {
        let text = std::fs::read_to_string(file)
            .map_err(|e| Error::BadInput(format!("{}: not UTF-8 text: {e}", file.display())))?;
        let header = text.lines().next().unwrap_or("");
        for column in header.split(',').map(|c| c.trim().trim_matches('"')) {
            let person = matches!(column.to_lowercase().as_str(), "person_id" | "patient_key" | "patient_id");
            if let Some(what) = crate::site::load::identifying(column).or(person.then_some("a person key")) {
                return Err(Error::refused(
                    "work_import",
                    format!(
                        "{}: column `{column}` could identify a person ({what}); codelists hold codes, not people",
                        file.display()
                    ),
                ));
            }
        }
    }
    let name = name
        .map(str::to_string)
        .unwrap_or_else(|| file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
    let target = project.resolve(Area::Work, &name)?;
    let bytes = std::fs::read(file).at(file)?;
    crate::table::write_atomically(&target, &bytes)?;
    let sha = crate::digest::sha256_file(&target)?;
    actor.record_file(project, &target, &sha, Direction::In)?;
    Ok(target)
}

/// `midnet work …`: the analysts' workbench.
#[derive(Debug, clap::Subcommand)]
pub enum WorkCommand {
    /// Read-only SQL over the project's datasets (tables named `NAME@VERSION`).
    Sql {
        #[arg(long)]
        project: String,
        /// Write every row to this CSV file in the project's work/ area.
        #[arg(long, value_name = "NAME.csv")]
        out: Option<String>,
        /// The query, e.g. "SELECT grp, count(*) FROM \"cohort@1\" GROUP BY grp".
        query: String,
    },
    /// Bring a codelist or a small reference table (CSV or text) into the project's work/ area.
    Import {
        #[arg(long)]
        project: String,
        /// The name in work/ (default: the file's own name).
        #[arg(long = "as", value_name = "NAME")]
        name: Option<String>,
        file: std::path::PathBuf,
    },
}

pub fn run(global: &crate::cli::Global, command: WorkCommand) -> Result<()> {
    use super::Role;
    match command {
        WorkCommand::Sql { project, out, query: sql } => {
            crate::center::as_user(global, "work sql", Some(&project), |actor| {
                let p = actor.open_project(&project, &[Role::Analyst])?;
                let batches = query(&p, &sql)?;
                match out {
                    Some(name) => {
                        let path = write_result(actor, &p, &name, &sql, &batches)?;
                        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
                        println!(
                            "{rows} rows written to {}",
                            path.strip_prefix(p.layout().root()).unwrap_or(&path).display()
                        );
                    }
                    None => println!("{}", render(&batches, SHOWN_ROWS)?),
                }
                Ok(())
            })
        }
        WorkCommand::Import { project, name, file } => {
            crate::center::as_user(global, "work import", Some(&project), |actor| {
                let p = actor.open_project(&project, &[Role::Analyst])?;
                let path = import(actor, &p, &file, name.as_deref())?;
                println!(
                    "imported {} into {}",
                    file.display(),
                    path.strip_prefix(p.layout().root()).unwrap_or(&path).display()
                );
                Ok(())
            })
        }
    }
}
