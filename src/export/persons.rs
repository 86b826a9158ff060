//! The persons of a project, as the export gate looks for them in what would leave: every person
//! id of the project's datasets (also as its SHA-256, MD5 and SHA-1), and every dataset's rows as
//! sets of values, so that a row of a file, or a line of a text, can be tied to the one person whose
//! values it repeats (sex, birth year and month, dates, ages, exact measured values).
//!
//! A project's datasets are the tables of `project.duckdb` that have a `person_id` column (what
//! `work sql` reads) and any Parquet file of `datasets/` that has no table there. They are read
//! through DuckDB, once per command.
//!
//! Values are compared after one normalisation ([`normalise`]): lower case; numbers in their
//! shortest form (`23.50` and `23.5` are one value, `072` is 72); dates as `YYYY-MM-DD` (also
//! `YYYY/MM/DD`, and the date of a timestamp). A dataset's date is also indexed as its year-month
//! and its year, and a year-month as its year, so that a birth year cut from a birth month still
//! matches.

use std::collections::HashMap;
use std::path::Path;

use duckdb::arrow::array::{Array, AsArray};
use duckdb::arrow::datatypes::DataType;

use crate::error::{Error, IoContext, Result};
use crate::project::{Area, Layout};
use crate::sql::duckdb::{ident, string};

/// Columns of a dataset that are not compared as values: the person id (looked for as such) and
/// the site pseudonym (the site rules' business).
const NOT_VALUES: [&str; 2] = ["person_id", "site"];

/// At most this many tokens of a line are taken as one row of values; longer lines are read in
/// overlapping windows of this length.
pub const WINDOW: usize = 24;

/// What a person id was found as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdForm {
    Id,
    Sha256,
    Md5,
    Sha1,
}

impl IdForm {
    pub fn describe(self) -> &'static str {
        match self {
            IdForm::Id => "a person id",
            IdForm::Sha256 => "the SHA-256 of a person id",
            IdForm::Md5 => "the MD5 of a person id",
            IdForm::Sha1 => "the SHA-1 of a person id",
        }
    }
}

/// A person id found in a text: of which dataset, in what form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdHit {
    pub dataset: usize,
    pub form: IdForm,
}

/// The persons of a project's datasets (none by default).
#[derive(Default)]
pub struct Persons {
    /// Lower-case ids (whole, and the hex part of a `P…` id) and hex digests of ids.
    ids: HashMap<String, IdHit>,
    /// The lengths of the hexadecimal keys of `ids`, looked for inside longer runs of hex digits.
    hex_lengths: Vec<usize>,
    pub datasets: Vec<Dataset>,
}

impl std::fmt::Debug for Persons {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let labels: Vec<&str> = self.datasets.iter().map(|d| d.label.as_str()).collect();
        write!(f, "Persons({} keys of ids; datasets {})", self.ids.len(), labels.join(", "))
    }
}

/// One dataset's rows as values.
pub struct Dataset {
    /// `NAME@VERSION`.
    pub label: String,
    /// Distinct person ids.
    pub persons: usize,
    pub rows: usize,
    columns: Vec<String>,
    values: HashMap<String, u32>,
    /// Per value, the rows that have it (ascending, each once).
    postings: Vec<Vec<u32>>,
    /// Per row, its values with their column, sorted by value.
    row_values: Vec<Vec<(u32, u16)>>,
}

/// The person of a dataset a row of tokens most improbably repeats.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub dataset: usize,
    /// The dataset's columns whose values the row repeats.
    pub columns: Vec<String>,
    /// How many of the dataset's rows would share all those values if the columns were
    /// independent: a tie to one person that chance would rarely make is tiny.
    pub expected: f64,
}

impl Persons {
    /// Read the datasets of the project at `layout`.
    pub fn of_project(layout: &Layout) -> Result<Persons> {
        let conn = duckdb::Connection::open_in_memory()?;
        conn.execute_batch(&format!("ATTACH {} AS p (READ_ONLY)", string(&layout.db().to_string_lossy())))?;
        let mut sources: Vec<(String, String)> = Vec::new();
        let mut stmt = conn.prepare(
            "SELECT DISTINCT table_name FROM duckdb_columns() \
             WHERE database_name = 'p' AND schema_name = 'main' AND column_name = 'person_id' ORDER BY 1",
        )?;
        let tables: Vec<String> = stmt.query_map([], |r| r.get(0))?.collect::<std::result::Result<_, _>>()?;
        for table in &tables {
            sources.push((table.clone(), format!("p.main.{}", ident(table))));
        }
        for file in parquet_files(&layout.area(Area::Datasets))? {
            let label = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            if !tables.contains(&label) {
                sources.push((label, format!("read_parquet({})", string(&file.to_string_lossy()))));
            }
        }
        let mut persons = Persons { ids: HashMap::new(), hex_lengths: Vec::new(), datasets: Vec::new() };
        for (label, scan) in sources {
            if !has_column(&conn, &scan, "person_id")? {
                continue;
            }
            let index = persons.datasets.len();
            let count = persons.add_ids(&conn, &scan, index)?;
            let mut dataset = Dataset::read(&conn, &scan, label)?;
            dataset.persons = count;
            persons.datasets.push(dataset);
        }
        persons.hex_lengths.sort_unstable();
        persons.hex_lengths.dedup();
        Ok(persons)
    }

    /// Index the ids of one dataset and their digests; returns the number of distinct ids.
    fn add_ids(&mut self, conn: &duckdb::Connection, scan: &str, dataset: usize) -> Result<usize> {
        let sql = format!(
            "WITH ids AS (SELECT DISTINCT CAST(person_id AS VARCHAR) AS id FROM {scan} WHERE person_id IS NOT NULL), \
                  forms AS (SELECT id, unnest([id, lower(id), upper(id)]) AS f FROM ids) \
             SELECT id, sha256(f), md5(f), sha1(f) FROM forms"
        );
        let mut stmt = conn.prepare(&sql)?;
        let mut rows = stmt.query([])?;
        let mut count = std::collections::HashSet::new();
        while let Some(row) = rows.next()? {
            let id: String = row.get(0)?;
            let lower = id.to_lowercase();
            if let Some(hex) = lower.strip_prefix('p').filter(|h| h.len() >= 16 && is_hex(h)) {
                self.insert_id(hex.to_string(), IdHit { dataset, form: IdForm::Id });
            }
            self.insert_id(lower, IdHit { dataset, form: IdForm::Id });
            for (column, form) in [(1, IdForm::Sha256), (2, IdForm::Md5), (3, IdForm::Sha1)] {
                let digest: String = row.get(column)?;
                self.insert_id(digest.to_lowercase(), IdHit { dataset, form });
            }
            count.insert(id);
        }
        Ok(count.len())
    }

    fn insert_id(&mut self, key: String, hit: IdHit) {
        if is_hex(&key) {
            self.hex_lengths.push(key.len());
        }
        self.ids.entry(key).or_insert(hit);
    }

    /// The first person id (or digest of one) in `text`: a whole token, or a run of hex digits of
    /// an id's or a digest's length inside a longer token (`case-P1a2b…/x`, digests glued together).
    pub fn id_in(&self, text: &str) -> Option<IdHit> {
        if self.ids.is_empty() {
            return None;
        }
        for token in text.split(|c: char| !c.is_alphanumeric()).filter(|t| !t.is_empty()) {
            let lower = token.to_lowercase();
            if let Some(hit) = self.ids.get(&lower) {
                return Some(*hit);
            }
            if let Some(hit) = self.id_in_hex_runs(&lower) {
                return Some(hit);
            }
        }
        None
    }

    /// Hex runs of a token: every window of a key's length, at every offset in a run of up to 512
    /// digits, at the key length's multiples from the run's start in longer runs (digests glued
    /// end to end).
    fn id_in_hex_runs(&self, token: &str) -> Option<IdHit> {
        let bytes = token.as_bytes();
        let mut start = 0;
        while start < bytes.len() {
            if !bytes[start].is_ascii_hexdigit() {
                start += 1;
                continue;
            }
            let end = start + bytes[start..].iter().take_while(|b| b.is_ascii_hexdigit()).count();
            let run = &token[start..end];
            for &len in self.hex_lengths.iter().filter(|&&len| len <= run.len()) {
                let step = if run.len() <= 512 { 1 } else { len };
                for at in (0..=run.len() - len).step_by(step) {
                    if let Some(hit) = self.ids.get(&run[at..at + len]) {
                        return Some(*hit);
                    }
                }
            }
            start = end;
        }
        None
    }

    /// The person a row of (normalised) tokens most improbably repeats, over every dataset.
    pub fn link(&self, tokens: &[String]) -> Option<Link> {
        self.datasets
            .iter()
            .enumerate()
            .filter_map(|(i, d)| d.link(tokens, i))
            .min_by(|a, b| a.expected.total_cmp(&b.expected))
    }

    /// Whether a row of tokens holds at least two distinct values of some dataset: whether
    /// [`Persons::link`] had anything to go on.
    pub fn testable(&self, tokens: &[String]) -> bool {
        self.datasets.iter().any(|d| d.present(tokens).len() >= 2)
    }
}

impl Dataset {
    fn read(conn: &duckdb::Connection, scan: &str, label: String) -> Result<Dataset> {
        let mut stmt = conn.prepare(&format!("SELECT * FROM {scan}"))?;
        let batches: Vec<_> = stmt.query_arrow([])?.collect();
        let schema = stmt.schema();
        let columns: Vec<String> = schema.fields().iter().map(|f| f.name().to_string()).collect();
        let mut dataset = Dataset {
            label,
            persons: 0,
            rows: 0,
            columns,
            values: HashMap::new(),
            postings: Vec::new(),
            row_values: Vec::new(),
        };
        for batch in &batches {
            let first = dataset.row_values.len();
            dataset.row_values.resize(first + batch.num_rows(), Vec::new());
            for (c, name) in dataset.columns.clone().iter().enumerate() {
                if NOT_VALUES.contains(&name.as_str()) {
                    continue;
                }
                let text = duckdb::arrow::compute::cast(batch.column(c), &DataType::Utf8)
                    .map_err(|e| Error::Internal(format!("dataset {}: column {name} as text: {e}", dataset.label)))?;
                let text = text.as_string::<i32>();
                for i in 0..text.len() {
                    if !text.is_null(i) {
                        for value in cell_values(text.value(i)) {
                            dataset.add((first + i) as u32, c as u16, value);
                        }
                    }
                }
            }
        }
        dataset.rows = dataset.row_values.len();
        for values in &mut dataset.row_values {
            values.sort_unstable();
        }
        Ok(dataset)
    }

    fn add(&mut self, row: u32, column: u16, value: String) {
        let next = self.postings.len() as u32;
        let id = *self.values.entry(value).or_insert(next);
        if id == next {
            self.postings.push(Vec::new());
        }
        let posting = &mut self.postings[id as usize];
        if posting.last() != Some(&row) {
            posting.push(row);
        }
        self.row_values[row as usize].push((id, column));
    }

    /// The distinct values of this dataset among `tokens`.
    fn present(&self, tokens: &[String]) -> Vec<u32> {
        let mut present: Vec<u32> = tokens.iter().filter_map(|t| self.values.get(t).copied()).collect();
        present.sort_unstable();
        present.dedup();
        present
    }

    /// The row of this dataset that `tokens` tie to most improbably, by two values or more in
    /// distinct columns. Candidates come from the three rarest values (each held by few rows);
    /// each candidate's values are then matched rarest first, one column per value.
    fn link(&self, tokens: &[String], index: usize) -> Option<Link> {
        let mut present = self.present(tokens);
        if present.len() < 2 || self.rows == 0 {
            return None;
        }
        present.sort_by_key(|&v| self.postings[v as usize].len());
        let cap = (self.rows / 100).max(10);
        let mut candidates: Vec<u32> = present
            .iter()
            .take(3)
            .filter(|&&v| self.postings[v as usize].len() <= cap)
            .flat_map(|&v| self.postings[v as usize].iter().copied())
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        let n = self.rows as f64;
        let mut best: Option<(f64, Vec<u16>)> = None;
        for row in candidates {
            let values = &self.row_values[row as usize];
            let mut used: Vec<u16> = Vec::new();
            let mut expected = n;
            for &v in &present {
                let from = values.partition_point(|&(id, _)| id < v);
                let column =
                    values[from..].iter().take_while(|&&(id, _)| id == v).map(|&(_, c)| c).find(|c| !used.contains(c));
                if let Some(column) = column {
                    used.push(column);
                    expected *= self.postings[v as usize].len() as f64 / n;
                }
            }
            if used.len() >= 2 && best.as_ref().is_none_or(|(e, _)| expected < *e) {
                best = Some((expected, used));
            }
        }
        best.map(|(expected, mut used)| {
            used.sort_unstable();
            Link { dataset: index, columns: used.iter().map(|&c| self.columns[c as usize].clone()).collect(), expected }
        })
    }
}

fn parquet_files(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).at(dir)? {
        let path = entry.at(dir)?.path();
        if path.extension().is_some_and(|e| e == "parquet") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn has_column(conn: &duckdb::Connection, scan: &str, column: &str) -> Result<bool> {
    let sql = format!("SELECT count(*) FROM (DESCRIBE SELECT * FROM {scan}) WHERE column_name = {}", string(column));
    let n: i64 = conn.query_row(&sql, [], |r| r.get(0))?;
    Ok(n > 0)
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The tokens of a text, normalised: runs of letters, digits and `. - / :`.
pub fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || matches!(c, '.' | '-' | '/' | ':'))).filter_map(normalise).collect()
}

/// A token as it is compared: see the module documentation. `None` for a token with nothing in it.
pub fn normalise(token: &str) -> Option<String> {
    let token = token.trim_matches(|c: char| matches!(c, '.' | '/' | ':'));
    let token = token.strip_suffix('-').unwrap_or(token);
    if token.is_empty() {
        return None;
    }
    let lower = token.to_lowercase();
    if let Some(date) = date_of(&lower) {
        return Some(date);
    }
    if let Some(month) = year_month_of(&lower) {
        return Some(month);
    }
    if lower.bytes().any(|b| b.is_ascii_digit())
        && let Ok(v) = lower.parse::<f64>()
        && v.is_finite()
    {
        return Some(if v.fract() == 0.0 && v.abs() < 1e15 { format!("{}", v as i64) } else { format!("{v}") });
    }
    Some(lower)
}

/// `YYYY-MM-DD` of `2022-03-04`, `2022/3/4`, `2022-03-04t00:00:00`.
fn date_of(text: &str) -> Option<String> {
    let head: String = text.chars().take_while(|c| c.is_ascii_digit() || *c == '-' || *c == '/').collect();
    let rest = &text[head.len()..];
    if !(rest.is_empty() || rest.starts_with('t')) {
        return None;
    }
    let parts: Vec<&str> = head.split(['-', '/']).collect();
    if parts.len() != 3
        || parts[0].len() != 4
        || !(1..=2).contains(&parts[1].len())
        || !(1..=2).contains(&parts[2].len())
    {
        return None;
    }
    let (y, m, d) = (parts[0].parse::<u32>().ok()?, parts[1].parse::<u32>().ok()?, parts[2].parse::<u32>().ok()?);
    ((1..=12).contains(&m) && (1..=31).contains(&d)).then(|| format!("{y:04}-{m:02}-{d:02}"))
}

/// `YYYY-MM` of `1950-04`, `1950/4`.
fn year_month_of(text: &str) -> Option<String> {
    let (y, m) = text.split_once(['-', '/'])?;
    if y.len() != 4 || !(1..=2).contains(&m.len()) || !y.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let m: u32 = m.parse().ok()?;
    (1..=12).contains(&m).then(|| format!("{y}-{m:02}"))
}

/// The values a dataset cell is indexed under: the value, and for a date its year-month and year,
/// for a year-month its year. A cell of several words is not a value a token could equal.
fn cell_values(cell: &str) -> Vec<String> {
    let cell = cell.trim();
    let date_first = cell.split([' ', 'T']).next().unwrap_or(cell);
    let value = match date_of(&date_first.to_lowercase()) {
        Some(date) => date,
        None if cell.contains(char::is_whitespace) => return Vec::new(),
        None => match normalise(cell) {
            Some(v) => v,
            None => return Vec::new(),
        },
    };
    let mut out = vec![value.clone()];
    if value.len() == 10 && date_of(&value).is_some() {
        out.push(value[..7].to_string());
        out.push(value[..4].to_string());
    } else if value.len() == 7 && year_month_of(&value).is_some() {
        out.push(value[..4].to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_normalised() {
        assert_eq!(tokens("F,1950-04,2022/3/4,23.50;072 P1a2B"), ["f", "1950-04", "2022-03-04", "23.5", "72", "p1a2b"]);
        assert_eq!(tokens("2026-06-15T02:03:04.567Z alan"), ["2026-06-15", "alan"]);
        assert_eq!(tokens("-1.5 40-44 x."), ["-1.5", "40-44", "x"]);
        assert_eq!(normalise("1e3"), Some("1000".into()));
        assert_eq!(normalise("..."), None);
    }

    #[test]
    fn dates_are_also_their_month_and_year() {
        assert_eq!(cell_values("2022-03-04"), ["2022-03-04", "2022-03", "2022"]);
        assert_eq!(cell_values("2022-03-04 00:00:00"), ["2022-03-04", "2022-03", "2022"]);
        assert_eq!(cell_values("1950-04"), ["1950-04", "1950"]);
        assert_eq!(cell_values("23.0"), ["23"]);
        assert!(cell_values("whole cohort").is_empty());
    }

    fn dataset(rows: &[&[&str]]) -> Dataset {
        let mut d = Dataset {
            label: "cohort@1".into(),
            persons: rows.len(),
            rows: 0,
            columns: vec!["sex".into(), "born".into(), "index_date".into(), "alt".into()],
            values: HashMap::new(),
            postings: Vec::new(),
            row_values: vec![Vec::new(); rows.len()],
        };
        for (r, row) in rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                for v in cell_values(cell) {
                    d.add(r as u32, c as u16, v);
                }
            }
        }
        d.rows = rows.len();
        for v in &mut d.row_values {
            v.sort_unstable();
        }
        d
    }

    #[test]
    fn a_row_of_one_persons_values_links_to_that_person() {
        let rows: Vec<Vec<String>> = (0..200)
            .map(|i| {
                vec![
                    if i % 2 == 0 { "M" } else { "F" }.to_string(),
                    format!("19{:02}-{:02}", 30 + i % 60, 1 + i % 12),
                    format!("2022-{:02}-{:02}", 1 + i % 12, 1 + i % 28),
                    format!("{}.{}", 10 + i, i % 10),
                ]
            })
            .collect();
        let refs: Vec<Vec<&str>> = rows.iter().map(|r| r.iter().map(String::as_str).collect()).collect();
        let slices: Vec<&[&str]> = refs.iter().map(Vec::as_slice).collect();
        let d = dataset(&slices);
        let link = d.link(&tokens("F 1931 2022-02-02 11.1"), 0).expect("person 1");
        assert_eq!(link.columns, ["sex", "born", "index_date", "alt"]);
        assert!(link.expected < 1e-3, "{link:?}");
        // Values of several persons mixed together tie to no one strongly.
        let mixed = d.link(&tokens("M 1931 2022-05-05"), 0);
        assert!(mixed.as_ref().is_none_or(|l| l.expected > 1e-3), "{mixed:?}");
        assert!(d.link(&tokens("F"), 0).is_none());
    }
}
