//! The analysts' workbench inside a project, audited like everything else:
//! `midnet work sql` (read-only SQL over the project's datasets, results to the terminal or to
//! `work/`) and `midnet work import` (bring a codelist or a small reference table into `work/`).
//!
//! The SQL runs on the project's own database opened read-only with DuckDB's external access off,
//! so a query can read the project's dataset tables and nothing else: no file on disk, no other
//! project, no network.
//!
//! Viewing is not leaving (guideline 第8 1): rows of datasets are shown on a terminal, and the
//! audit trail records how many; standard output that is not a terminal (a pipe, a file of the
//! user's) gets only results the export gate's `patient_level` rule does not find to be person
//! records. `--out` writes into `work/`, inside the work area, with a sidecar midnet seals. Errors
//! carry their class, never a value of the data.

use std::io::IsTerminal;
use std::path::Path;

use duckdb::arrow::array::{Array, AsArray};
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::arrow::util::pretty::pretty_format_batches;

use crate::audit::{Direction, Outcome};
use crate::center::Actor;
use crate::error::{Error, Result};
use crate::project::{Area, Project};
use crate::table::{Provenance, Roles, Sidecar, TableKey, TableKind, TextColumns};

/// Largest file `work import` brings in: codelists and small reference tables, not datasets.
pub const IMPORT_LIMIT_BYTES: u64 = 10 * 1024 * 1024;

/// Rows printed on standard output; `--out` writes them all.
pub const SHOWN_ROWS: usize = 50;

/// Run a read-only query over the project's database; returns the result batches. An error that
/// may quote a value of the data keeps its class alone ([`crate::table::db_error`]).
pub fn query(project: &Project, sql: &str) -> Result<Vec<RecordBatch>> {
    crate::withhold::withhold_values();
    let db = project.layout().db();
    let config = duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly)?.enable_external_access(false)?;
    let conn = duckdb::Connection::open_with_flags(&db, config)?;
    let failed =
        |e: duckdb::Error| Error::BadInput(format!("the query does not run: {}", crate::withhold::db_error(&e)));
    let mut stmt = conn.prepare(sql).map_err(failed)?;
    let batches = stmt.query_arrow([]).map_err(failed)?.collect();
    Ok(batches)
}

/// A result's columns, each as its cells' text (missing values empty), and its number of rows.
pub fn text_columns(batches: &[RecordBatch]) -> Result<(TextColumns, usize)> {
    let Some(first) = batches.first() else { return Ok((Vec::new(), 0)) };
    let mut columns: TextColumns = first.schema().fields().iter().map(|f| (f.name().to_string(), Vec::new())).collect();
    for batch in batches {
        for (c, column) in batch.columns().iter().enumerate() {
            let text = duckdb::arrow::compute::cast(column, &duckdb::arrow::datatypes::DataType::Utf8)
                .map_err(|e| Error::Internal(format!("formatting a result: {e}")))?;
            let text = text.as_string::<i32>();
            let cells =
                (0..text.len()).map(|i| if text.is_null(i) { String::new() } else { text.value(i).to_string() });
            columns[c].1.extend(cells);
        }
    }
    let rows = batches.iter().map(|b| b.num_rows()).sum();
    Ok((columns, rows))
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

/// Write the result of `sql` to `work/NAME` as CSV with a sidecar: the columns' roles as the export
/// gate would guess them from the content, sealed as guessed (so the gate judges every column by its
/// content again), and the query's lineage. Both files are recorded in the audit trail.
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
    create_parents(&project.layout().area(Area::Work), &path)?;
    let (columns, rows) = text_columns(batches)?;
    let bytes = csv_bytes(&columns, rows)?;
    let names: Vec<String> = columns.iter().map(|(name, _)| name.clone()).collect();
    let mut provenance = Provenance::now(format!("midnet work sql --out {name}"));
    provenance.project = Some(project.id().to_string());
    provenance.lineage = Some(crate::project::lineage::of_query(project, sql, &names)?);
    Sidecar::new(TableKind::Statistics, crate::export::roles_by_content(columns, rows), provenance)
        .write_beside(&path)?;
    crate::store::write_atomically(&path, &bytes)?;
    let sha = crate::table::seal(&path, &TableKey::of_home(actor.home().root())?, Roles::Inferred)?;
    project.record_file(actor, &path, &sha, Direction::In)?;
    let sidecar = Sidecar::path_for(&path);
    project.record_file(actor, &sidecar, &crate::digest::sha256_file(&sidecar)?, Direction::In)?;
    Ok(path)
}

/// Create the directories of `path` below `work` that do not exist yet, owner-only like the work
/// area. `resolve` refused a name through a symbolic link; one made since is refused here too, as
/// is a file in the way.
fn create_parents(work: &std::path::Path, path: &std::path::Path) -> Result<()> {
    let Some(relative) = path.parent().and_then(|p| p.strip_prefix(work).ok()) else { return Ok(()) };
    let mut dir = work.to_path_buf();
    for part in relative.components() {
        dir.push(part);
        match std::fs::symlink_metadata(&dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(Error::refused(
                    "path",
                    format!(
                        "--out: {} is not a directory; give a name inside the project's work/ area",
                        shown(work, &dir)
                    ),
                ));
            }
            Err(_) => crate::store::create_private_dir(&dir)?,
        }
    }
    Ok(())
}

/// `dir` as the analyst names it: relative to `work/`.
fn shown(work: &std::path::Path, dir: &std::path::Path) -> String {
    dir.strip_prefix(work).unwrap_or(dir).display().to_string()
}

/// A result's columns as CSV with a header row (missing values as empty cells).
fn csv_bytes(columns: &TextColumns, rows: usize) -> Result<Vec<u8>> {
    let csv_error = |e: csv::Error| Error::Internal(format!("writing CSV: {e}"));
    let mut writer = csv::Writer::from_writer(Vec::new());
    if !columns.is_empty() {
        writer.write_record(columns.iter().map(|(name, _)| name.as_str())).map_err(csv_error)?;
    }
    for row in 0..rows {
        writer.write_record(columns.iter().map(|(_, cells)| cells[row].as_str())).map_err(csv_error)?;
    }
    writer.into_inner().map_err(|e| Error::Internal(format!("writing CSV: {e}")))
}

/// Show a result on standard output. On a terminal the analyst views rows of the datasets, and the
/// audit trail records how many were shown; anything else (a pipe, a file) is refused (rule
/// `patient_level`) when the gate finds the rows to be person records.
pub fn show(actor: &Actor, project: &Project, batches: &[RecordBatch]) -> Result<()> {
    let total: usize = batches.iter().map(|b| b.num_rows()).sum();
    if std::io::stdout().is_terminal() {
        let shown = total.min(SHOWN_ROWS);
        crate::center::session::audit_as(
            actor.home(),
            &actor.user().id,
            Some(actor.session()),
            "work sql view",
            Some(project.id()),
            Outcome::Noted { message: format!("{shown} rows of the project's datasets shown on a terminal") },
        )?;
    } else {
        let (columns, rows) = text_columns(batches)?;
        crate::export::refuse_person_records(actor, project, columns, rows)?;
    }
    println!("{}", render(batches, SHOWN_ROWS)?);
    Ok(())
}

/// Copy a codelist or small reference table into `work/` under a new name. Refused: anything but
/// CSV or plain text (by the file's name and by the name in `work/`: a `.meta.json` sidecar is
/// midnet's alone to write), files over the size limit, tables with a column that could identify
/// a person, and a name already taken. What comes in this way is reference material: the export
/// gate never lets it out (the audit trail records it as [`Direction::Imported`]).
/// `bytes` are the file's, read by the caller with the rights of the person who named it.
pub fn import(
    actor: &Actor,
    project: &Project,
    file: &Path,
    bytes: &[u8],
    name: Option<&str>,
) -> Result<std::path::PathBuf> {
    let name = name
        .map(str::to_string)
        .unwrap_or_else(|| file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
    let kinds = [extension(file), extension(Path::new(&name))];
    if kinds.iter().any(|ext| !matches!(ext.as_str(), "csv" | "txt")) || name.to_lowercase().ends_with(".meta.json") {
        return Err(Error::refused(
            "work_import",
            format!(
                "{} as {name}: only codelists and small reference tables (.csv, .txt) come into a work area, under a \
                 name of the same kind; a sidecar (NAME.meta.json) is written by midnet alone, with its table",
                file.display()
            ),
        ));
    }
    if bytes.len() as u64 > IMPORT_LIMIT_BYTES {
        return Err(Error::refused(
            "work_import",
            format!(
                "{}: {} bytes is more than a codelist or reference table ({} bytes at most)",
                file.display(),
                bytes.len(),
                IMPORT_LIMIT_BYTES
            ),
        ));
    }
    if kinds.iter().any(|ext| ext == "csv") {
        refuse_identifying_header(file, bytes)?;
    }
    let target = project.resolve(Area::Work, &name)?;
    if target.symlink_metadata().is_ok() {
        return Err(Error::refused(
            "work_import",
            format!("work/{name} exists already; an import never replaces a file: import under another name with --as"),
        ));
    }
    crate::store::write_atomically(&target, bytes)?;
    let sha = crate::digest::sha256_file(&target)?;
    project.record_file(actor, &target, &sha, Direction::Imported)?;
    Ok(target)
}

fn extension(path: &Path) -> String {
    path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase()
}

/// Refuse a CSV whose header names a column that could identify a person.
fn refuse_identifying_header(file: &Path, bytes: &[u8]) -> Result<()> {
    let text =
        std::str::from_utf8(bytes).map_err(|e| Error::BadInput(format!("{}: not UTF-8 text: {e}", file.display())))?;
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
    Ok(())
}
