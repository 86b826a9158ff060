//! `midnet site mapping`: the mapping of a hospital's local codes to standard ones
//! (docs/site-inputs.md §3).
//!
//! Rows that name their drug, lab test or disease by a local code only wait in `local_row`.
//! `unmapped` lists each local code they wait for, once, with its text, unit, row count and months
//! (never a value of a row), as a CSV for the hospital's staff; they fill in `standard_code` (and
//! `reason`) and `import` keeps each line as a decision of `local_code_map`, by whom, when and why.
//! The file is checked whole first, and one bad line refuses it all, naming the file and each bad
//! line. A decision that changes a code's mapping takes the rows that came in with the code's
//! earlier mapping out again, and brings every row waiting for the code in with the new one
//! (`load::bring_in`): one data version (`change` = 'mapping'). At a Spark site the rows moved
//! and brought in are written to the warehouse as that version (`SiteDir::keep_changed_rows`).

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

use super::SiteDir;
use super::approve::Approver;
use super::load::{self, LocalKind};
use super::spark::Withdrawal;
use crate::error::{Error, IoContext, Result};
use crate::schema::CodeSystem;

/// The columns of the CSV `unmapped` writes and `import` reads, in order. `import` needs
/// `kind`, `local_system`, `local_code` and `standard_code`; the others say what the code is.
pub const COLUMNS: [&str; 10] = [
    "kind",
    "local_system",
    "local_code",
    "local_text",
    "unit",
    "rows",
    "first_month",
    "last_month",
    "standard_code",
    "reason",
];

/// The columns a mapping file must have.
const REQUIRED: [&str; 4] = ["kind", "local_system", "local_code", "standard_code"];

/// One unmapped local code: what `unmapped` writes on its line.
#[derive(Debug, Clone, Serialize)]
pub struct Unmapped {
    pub kind: String,
    pub local_system: String,
    pub local_code: String,
    /// The code's most frequent text and unit among its rows.
    pub local_text: Option<String>,
    pub unit: Option<String>,
    pub rows: i64,
    /// The months (YYYY-MM) of its first and last rows: a day would be a patient's.
    pub first_month: String,
    pub last_month: String,
}

/// Every local code rows wait for, the most rows first.
pub fn unmapped(site: &SiteDir) -> Result<Vec<Unmapped>> {
    let conn = site.open_read_only()?;
    let mut stmt = conn.prepare(
        "SELECT kind, local_system, local_code, mode(local_text), mode(unit), count(*) AS rows, \
                strftime(min(row_date), '%Y-%m'), strftime(max(row_date), '%Y-%m') \
         FROM local_row WHERE brought_in IS NULL GROUP BY kind, local_system, local_code \
         ORDER BY rows DESC, kind, local_system, local_code",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Unmapped {
            kind: r.get(0)?,
            local_system: r.get(1)?,
            local_code: r.get(2)?,
            local_text: r.get(3)?,
            unit: r.get(4)?,
            rows: r.get(5)?,
            first_month: r.get(6)?,
            last_month: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// The CSV of `codes`, with `standard_code` and `reason` empty for the staff to fill in.
pub fn unmapped_csv(codes: &[Unmapped]) -> Result<Vec<u8>> {
    let mut csv = csv::Writer::from_writer(Vec::new());
    let written = (|| {
        csv.write_record(COLUMNS)?;
        for c in codes {
            let rows = c.rows.to_string();
            csv.write_record([
                c.kind.as_str(),
                &c.local_system,
                &c.local_code,
                c.local_text.as_deref().unwrap_or(""),
                c.unit.as_deref().unwrap_or(""),
                &rows,
                &c.first_month,
                &c.last_month,
                "",
                "",
            ])?;
        }
        csv.into_inner().map_err(|e| e.into_error().into())
    })();
    written.map_err(|e: csv::Error| Error::Internal(format!("CSV output: {e}")))
}

/// What an import did.
#[derive(Debug, Clone, Serialize)]
pub struct Imported {
    pub file: String,
    /// The data version it made: None when every decision was already the site's.
    pub data_version: Option<i64>,
    /// Decisions kept: codes newly mapped or mapped to another code.
    pub decisions: usize,
    /// Lines that repeat the site's current decision for their code.
    pub unchanged: usize,
    /// Lines with no standard code yet (left undecided).
    pub undecided: usize,
    /// Rows that came into their tables, and rows that the mapped code made bad (quarantined).
    pub rows_loaded: u64,
    pub rows_quarantined: u64,
    /// Rows taken out of their tables because their code's mapping changed (then brought in again).
    pub rows_moved: u64,
    /// Rows still waiting for a mapping after the import.
    pub rows_waiting: i64,
}

/// One line of a mapping file with a standard code.
#[derive(Debug, Clone)]
struct Decision {
    line: u64,
    kind: LocalKind,
    local_system: String,
    local_code: String,
    standard_code: String,
    reason: Option<String>,
}

/// Import the reviewed mapping `file`, decided by `by`: all its decisions or none.
pub fn import(site: &SiteDir, file: &Path, by: &Approver) -> Result<Imported> {
    let bytes = std::fs::read(file).at(file)?;
    let (decisions, undecided) = read(file, &bytes)?;
    let conn = site.open()?;
    conn.execute_batch(&format!(
        "CREATE OR REPLACE TEMP TABLE {DECISIONS} (line BIGINT, kind VARCHAR, local_system VARCHAR, \
         local_code VARCHAR, standard_code VARCHAR, reason VARCHAR)"
    ))?;
    {
        let mut appender = conn.appender(DECISIONS)?;
        for d in &decisions {
            appender.append_row(duckdb::params![
                d.line as i64,
                d.kind.name(),
                d.local_system,
                d.local_code,
                d.standard_code,
                d.reason
            ])?;
        }
        appender.flush()?;
    }
    let problems = check_against_site(&conn)?;
    refuse_if_any(file, problems)?;
    let tx = conn.unchecked_transaction()?;
    let version: i64 = tx.query_row("SELECT coalesce(max(data_version), 0) + 1 FROM load_history", [], |r| r.get(0))?;
    let changed = keep_changed(&tx, file, by, version)?;
    let mut imported = Imported {
        file: file.display().to_string(),
        data_version: None,
        decisions: changed,
        unchanged: decisions.len() - changed,
        undecided,
        rows_loaded: 0,
        rows_quarantined: 0,
        rows_moved: 0,
        rows_waiting: 0,
    };
    if changed > 0 {
        imported.rows_moved = load::release(&tx, CHANGED)?;
        for brought in load::bring_in(&tx, version)? {
            imported.rows_loaded += brought.rows_loaded;
            imported.rows_quarantined += brought.rows_quarantined;
        }
        tx.execute(
            "INSERT INTO load_history (data_version, loaded_at, midnet_version, rows_loaded, rows_quarantined, \
                                       change, note) VALUES (?, now()::TIMESTAMP, ?, ?, ?, 'mapping', ?)",
            duckdb::params![
                version,
                env!("CARGO_PKG_VERSION"),
                imported.rows_loaded as i64,
                imported.rows_quarantined as i64,
                format!("{}: {changed} decisions by {}", file.display(), by.name)
            ],
        )?;
        super::quality::record(&tx, version)?;
        // At a Spark site the rows moved and brought in are in the warehouse and the catalog.
        let withdrawals: Vec<Withdrawal> = load::brought_in_with(CHANGED)
            .into_iter()
            .map(|(table, condition)| Withdrawal { table, condition })
            .collect();
        imported.rows_moved += site.keep_changed_rows(&tx, version, &withdrawals)?;
        imported.data_version = Some(version);
    }
    imported.rows_waiting =
        tx.query_row("SELECT count(*) FROM local_row WHERE brought_in IS NULL", [], |r| r.get(0))?;
    if changed > 0 {
        tx.commit()?;
        crate::crash::point("mapping-committed");
        conn.execute_batch("CHECKPOINT")?;
    }
    Ok(imported)
}

/// The temporary table of the file's decisions.
const DECISIONS: &str = "midnet_mapping_decisions";
/// The temporary table of the codes whose mapping the import changes.
const CHANGED: &str = "midnet_mapping_changed";

/// Keep the decisions that change a code's mapping (a new code, or another standard code), each a
/// row of `local_code_map` (the same decision on two lines once), and list their codes in
/// `CHANGED`; how many.
fn keep_changed(conn: &duckdb::Connection, file: &Path, by: &Approver, version: i64) -> Result<usize> {
    conn.execute_batch(&format!(
        "CREATE OR REPLACE TEMP TABLE {CHANGED} AS \
         SELECT d.* FROM {DECISIONS} d LEFT JOIN current_local_code_map m \
           ON m.kind = d.kind AND m.local_system = d.local_system AND m.local_code = d.local_code \
         WHERE m.standard_code IS DISTINCT FROM d.standard_code \
         QUALIFY row_number() OVER (PARTITION BY d.kind, d.local_system, d.local_code ORDER BY d.line) = 1"
    ))?;
    let kept = conn.execute(
        &format!(
            "INSERT INTO local_code_map (decision_id, kind, local_system, local_code, standard_code, reason, mapped_by, \
                                         os_user, mapped_at, file, line, data_version) \
             SELECT (SELECT coalesce(max(decision_id), 0) FROM local_code_map) + row_number() OVER (ORDER BY line), \
                    kind, local_system, local_code, standard_code, reason, ?, ?, now()::TIMESTAMP, ?, line, ? \
             FROM {CHANGED}"
        ),
        duckdb::params![by.name, by.os_user, file.display().to_string(), version],
    )?;
    Ok(kept)
}

/// Read the file's lines: its decisions, and how many lines have no standard code yet. Refuses the
/// whole file for a bad header or any bad line, naming each.
fn read(file: &Path, bytes: &[u8]) -> Result<(Vec<Decision>, usize)> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        Error::BadInput(format!(
            "{}: not UTF-8 text (invalid byte at offset {}); save the mapping as UTF-8 CSV: nothing was imported",
            file.display(),
            e.valid_up_to()
        ))
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| Error::BadInput(format!("{}: line 1: {e}: nothing was imported", file.display())))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    check_header(file, &header)?;
    let mut problems = Vec::new();
    let mut decisions = Vec::new();
    let mut undecided = 0;
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                problems.push((line, format!("not a CSV record: {e}")));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != header.len() {
            problems.push((line, format!("{} fields, the header has {}", record.len(), header.len())));
            continue;
        }
        match decision(line, &Fields { header: &header, record: &record }) {
            Ok(Some(d)) => decisions.push(d),
            Ok(None) => undecided += 1,
            Err(problem) => problems.push((line, problem)),
        }
    }
    problems.extend(duplicates(&decisions));
    refuse_if_any(file, problems)?;
    Ok((decisions, undecided))
}

fn check_header(file: &Path, header: &[String]) -> Result<()> {
    let refuse = |what: String| {
        Error::BadInput(format!(
            "{}: line 1: {what}; a mapping file has the columns {} (as `site mapping unmapped` writes them): \
             nothing was imported",
            file.display(),
            COLUMNS.join(", ")
        ))
    };
    if let Some(unknown) = header.iter().find(|h| !COLUMNS.contains(&h.as_str())) {
        return Err(refuse(format!("column `{unknown}` is not a column of a mapping file")));
    }
    if let Some(twice) = header.iter().enumerate().find(|(i, h)| header[..*i].contains(h)).map(|(_, h)| h) {
        return Err(refuse(format!("column `{twice}` is there twice")));
    }
    let missing: Vec<&str> = REQUIRED.into_iter().filter(|r| !header.iter().any(|h| h == r)).collect();
    if !missing.is_empty() {
        return Err(refuse(format!("missing column(s) {}", missing.join(", "))));
    }
    Ok(())
}

/// A record of a mapping file, its fields by column name.
struct Fields<'a> {
    header: &'a [String],
    record: &'a csv::StringRecord,
}

impl Fields<'_> {
    /// The field of `column`, trimmed; None if the file lacks the column or the field is empty.
    fn get(&self, column: &str) -> Option<&str> {
        let i = self.header.iter().position(|h| h == column)?;
        Some(self.record[i].trim()).filter(|v| !v.is_empty())
    }
}

/// The decision of one line (None: no standard code yet), or what is wrong with it.
fn decision(line: u64, fields: &Fields) -> std::result::Result<Option<Decision>, String> {
    let field = |column: &str| fields.get(column);
    let Some(kind_name) = field("kind") else { return Err("no kind (drug, lab or disease)".to_string()) };
    let kind = LocalKind::named(kind_name).ok_or_else(|| format!("kind '{kind_name}' is not drug, lab or disease"))?;
    let local_system = field("local_system").ok_or("no local_system")?.to_string();
    let local_code = field("local_code").ok_or("no local_code")?.to_string();
    let Some(given) = field("standard_code") else { return Ok(None) };
    let standard = kind.standard();
    let standard_code = match standard {
        CodeSystem::Icd10 => given.replace('.', "").to_uppercase(),
        _ => given.to_uppercase(),
    };
    if !standard.is_code(&standard_code) {
        let what =
            match LocalKind::ALL.into_iter().find(|other| *other != kind && other.standard().is_code(&standard_code)) {
                Some(other) => format!(
                    "is a {} code, a {}'s, but local code {local_code} ({local_system}) is a {}'s: give its {} code",
                    other.standard().label(),
                    other.name(),
                    kind.name(),
                    standard.label()
                ),
                None => format!("is not a valid {} code: {}", standard.label(), standard.shape()),
            };
        return Err(format!("standard_code '{given}' {what}"));
    }
    let reason = field("reason").map(str::to_string);
    Ok(Some(Decision { line, kind, local_system, local_code, standard_code, reason }))
}

/// Lines that map one code twice to different standard codes; the same decision twice is kept once.
fn duplicates(decisions: &[Decision]) -> Vec<(u64, String)> {
    let mut first: HashMap<(LocalKind, &str, &str), &Decision> = HashMap::new();
    let mut problems = Vec::new();
    for d in decisions {
        let key = (d.kind, d.local_system.as_str(), d.local_code.as_str());
        match first.get(&key) {
            Some(earlier) if earlier.standard_code != d.standard_code => problems.push((
                d.line,
                format!(
                    "local code {} ({}) is mapped to {} here and to {} on line {}: one decision per code",
                    d.local_code, d.local_system, d.standard_code, earlier.standard_code, earlier.line
                ),
            )),
            Some(_) => {}
            None => {
                first.insert(key, d);
            }
        }
    }
    problems
}

/// The lines whose decision the site's data and masters refuse: a local code no row and no earlier
/// decision has, or a standard code that is not a current code of the site's masters.
fn check_against_site(conn: &duckdb::Connection) -> Result<Vec<(u64, String)>> {
    let mut problems = Vec::new();
    let mut stmt = conn.prepare(&format!(
        "SELECT d.line, d.kind, d.local_system, d.local_code, \
                (SELECT string_agg(DISTINCT r.kind, ', ') FROM local_row r \
                 WHERE r.local_system = d.local_system AND r.local_code = d.local_code) AS seen_as \
         FROM {DECISIONS} d \
         WHERE NOT EXISTS (SELECT 1 FROM local_row r WHERE r.kind = d.kind AND r.local_system = d.local_system \
                                                        AND r.local_code = d.local_code) \
           AND NOT EXISTS (SELECT 1 FROM local_code_map m WHERE m.kind = d.kind AND m.local_system = d.local_system \
                                                            AND m.local_code = d.local_code) \
         ORDER BY d.line"
    ))?;
    let unseen = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, Option<String>>(4)?,
        ))
    })?;
    for row in unseen {
        let (line, kind, system, code, seen_as) = row?;
        let problem = match seen_as {
            Some(other) => {
                format!("local code {code} ({system}) is a {other} code, not a {kind} code: its rows are {other} rows")
            }
            None => format!(
                "local code {code} ({system}, {kind}) was never seen: no loaded row has it and no decision maps it"
            ),
        };
        problems.push((line as u64, problem));
    }
    for kind in LocalKind::ALL {
        problems.extend(not_in_masters(conn, kind)?);
    }
    Ok(problems)
}

/// The lines of `kind` whose standard code is not a current code of the site's masters.
fn not_in_masters(conn: &duckdb::Connection, kind: LocalKind) -> Result<Vec<(u64, String)>> {
    let (current, masters) = match kind {
        LocalKind::Drug => (
            "d.standard_code IN (SELECT yj_code FROM current_master_drug WHERE abolished IS NULL) \
             OR d.standard_code IN (SELECT yj_code FROM current_master_hot)",
            "医薬品マスター (y), HOT master",
        ),
        LocalKind::Lab => (
            "(substr(d.standard_code, 1, 5), substr(d.standard_code, 10, 3)) IN \
             (SELECT (analyte_code, specimen_code) FROM lab_master)",
            "lab master, by analyte and specimen",
        ),
        LocalKind::Disease => (
            "d.standard_code IN (SELECT unnest([icd10_2013_1, icd10_2013_2, icd10_2003_1, icd10_2003_2]) \
             FROM current_master_disease WHERE abolished IS NULL)",
            "傷病名マスター (b)",
        ),
    };
    let mut stmt = conn.prepare(&format!(
        "SELECT line, standard_code FROM {DECISIONS} d WHERE kind = ? AND NOT ({current}) ORDER BY line"
    ))?;
    let rows = stmt.query_map([kind.name()], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
    let mut problems = Vec::new();
    for row in rows {
        let (line, code) = row?;
        problems.push((
            line as u64,
            format!(
                "standard_code {code} is not a current {} code of the site's masters ({masters})",
                kind.standard().label()
            ),
        ));
    }
    Ok(problems)
}

/// How many of a refused file's problems the message lists.
const PROBLEMS_SHOWN: usize = 20;

/// Refuse the file if any line is bad, naming the file and each line (the first few).
fn refuse_if_any(file: &Path, mut problems: Vec<(u64, String)>) -> Result<()> {
    if problems.is_empty() {
        return Ok(());
    }
    problems.sort();
    let count = problems.len();
    let noun = if count == 1 { "problem" } else { "problems" };
    let mut message = format!("{}: the mapping is refused, nothing was imported ({count} {noun}):", file.display());
    for (line, problem) in problems.iter().take(PROBLEMS_SHOWN) {
        message.push_str(&format!("\n  line {line}: {problem}"));
    }
    if count > PROBLEMS_SHOWN {
        message.push_str(&format!("\n  … and {} more", count - PROBLEMS_SHOWN));
    }
    Err(Error::BadInput(message))
}
