//! `midnet site quarantine`: the rows loads set aside, each with its file, line and every reason.
//!
//! The quarantine keeps each bad row whole (`raw`: its fields as read, the site-local patient key
//! first) and reasons that quote the offending values (`sex 'X' is not M or F`). A value may be
//! anything the hospital's file held in that column, a name typed into the wrong one included, and
//! the patient key is the hospital's own number. So the listing shows no `raw` and no value: each
//! reason is matched against the messages a load writes (`load::reason_messages`) and shown with
//! every value replaced by `…`. A reason that matches none is withheld whole, and filters apply
//! to what is shown, so that a filter cannot probe for a value either.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use serde::Serialize;

use super::SiteDir;
use super::load::{Known, Piece, reason_messages};
use crate::error::Result;

/// What replaces a value of the row in a reason.
pub const WITHHELD_VALUE: &str = "…";
/// What is shown of a reason that matches none of the messages this midnet writes.
pub const WITHHELD_REASON: &str = "(reason withheld: not in a form this midnet writes)";

/// Which set-aside rows to list.
#[derive(Debug, Default)]
pub struct Filter {
    /// The file as given to `site load`, or its name.
    pub file: Option<String>,
    /// Text every listed row has in one of its reasons as shown (any case).
    pub reason: Option<String>,
}

/// One set-aside row, as the listing shows it.
#[derive(Debug, Serialize)]
pub struct SetAsideRow {
    pub table: String,
    /// The file as given to `site load`.
    pub file: String,
    /// The line of a CSV file (the header being line 1); the row of a Parquet file.
    pub line: i64,
    /// The data version of its load; none when the load brought no row in.
    pub data_version: Option<i64>,
    pub reasons: Vec<String>,
}

/// The set-aside rows `filter` selects, by file and line.
pub fn list(site: &SiteDir, filter: &Filter) -> Result<Vec<SetAsideRow>> {
    let conn = site.open_read_only()?;
    let files = chosen_files(&conn, site, filter.file.as_deref())?;
    let names = KnownNames::of(&conn)?;
    let mut stmt = conn
        .prepare("SELECT table_name, file, line, data_version, reason FROM quarantine ORDER BY load_file_id, line")?;
    let stored = stmt.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?, r.get(3)?, r.get::<_, String>(4)?))
    })?;
    let wanted = filter.reason.as_ref().map(|r| r.to_lowercase());
    let mut messages: HashMap<String, Vec<Vec<Piece>>> = HashMap::new();
    let mut rows = Vec::new();
    for row in stored {
        let (table, file, line, data_version, reason) = row?;
        if !files.contains(&file) {
            continue;
        }
        let messages = messages.entry(table.clone()).or_insert_with(|| reason_messages(&table));
        let reasons = shown_reasons(&reason, messages, &names, &table);
        if wanted.as_ref().is_some_and(|w| !reasons.iter().any(|r| r.to_lowercase().contains(w))) {
            continue;
        }
        rows.push(SetAsideRow { table, file, line, data_version, reasons });
    }
    Ok(rows)
}

/// The loaded files `file` names (every one when `None`); a name no load saw is an error.
fn chosen_files(conn: &duckdb::Connection, site: &SiteDir, file: Option<&str>) -> Result<BTreeSet<String>> {
    let mut stmt = conn.prepare("SELECT DISTINCT file FROM load_file")?;
    let loaded: BTreeSet<String> = stmt.query_map([], |r| r.get(0))?.collect::<std::result::Result<_, _>>()?;
    let Some(file) = file else { return Ok(loaded) };
    let named_by = |loaded: &str| loaded == file || Path::new(loaded).file_name().is_some_and(|n| n == file);
    let chosen: BTreeSet<String> = loaded.iter().filter(|l| named_by(l)).cloned().collect();
    if chosen.is_empty() {
        return Err(crate::bad_input!(
            "--file {file}: no file of that name was loaded into {} (`midnet site check` lists the loads)",
            site.root().display()
        ));
    }
    Ok(chosen)
}

/// The names a [`Piece::Known`] may take on this site.
struct KnownNames {
    analytes: BTreeSet<String>,
    units: BTreeSet<String>,
}

/// The kinds of error DuckDB's CSV reader records for a line it rejects.
const READER_ERRORS: &[&str] = &[
    "CAST",
    "MISSING COLUMNS",
    "TOO MANY COLUMNS",
    "UNQUOTED VALUE",
    "LINE SIZE OVER MAXIMUM",
    "INVALID UNICODE",
    "INVALID STATE",
];

impl KnownNames {
    fn of(conn: &duckdb::Connection) -> Result<KnownNames> {
        let column = |sql: &str| -> Result<BTreeSet<String>> {
            let mut stmt = conn.prepare(sql)?;
            Ok(stmt.query_map([], |r| r.get(0))?.collect::<std::result::Result<_, _>>()?)
        };
        Ok(KnownNames {
            analytes: column("SELECT DISTINCT analyte FROM lab_master")?,
            units: column("SELECT DISTINCT canonical_unit FROM lab_master")?,
        })
    }

    fn holds(&self, known: Known, table: &str, text: &str) -> bool {
        match known {
            Known::Analyte => self.analytes.contains(text),
            Known::Unit => self.units.contains(text),
            Known::RowNumber => !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()),
            Known::ReaderError => READER_ERRORS.contains(&text),
            Known::Column => crate::site::load::reason_columns(table).contains(&text),
        }
    }
}

/// The reasons of a row (messages joined by "; "), each with its values replaced.
fn shown_reasons(reason: &str, messages: &[Vec<Piece>], names: &KnownNames, table: &str) -> Vec<String> {
    let matcher = Matcher { reason, messages, names, table, memo: HashMap::new() };
    matcher.reasons_from(0).unwrap_or_else(|| vec![WITHHELD_REASON.to_string()])
}

/// Reads a stored reason as a sequence of known messages. A value may contain anything, "; " and
/// quotes included, so every way of reading it is tried; whichever reading succeeds shows only the
/// messages' text and known names, never a character of a value.
struct Matcher<'a> {
    reason: &'a str,
    messages: &'a [Vec<Piece>],
    names: &'a KnownNames,
    table: &'a str,
    /// Readings of the rest of the reason from a message's start.
    memo: HashMap<usize, Option<Vec<String>>>,
}

impl Matcher<'_> {
    /// The messages from byte `start` to the end, shown; `None` if the rest reads as none.
    fn reasons_from(mut self, start: usize) -> Option<Vec<String>> {
        self.from(start)
    }

    fn from(&mut self, start: usize) -> Option<Vec<String>> {
        if let Some(done) = self.memo.get(&start) {
            return done.clone();
        }
        let mut found = None;
        'messages: for message in self.messages {
            for (end, shown) in self.ends(message, start) {
                if end == self.reason.len() {
                    found = Some(vec![shown]);
                    break 'messages;
                }
                if self.reason[end..].starts_with("; ")
                    && let Some(mut rest) = self.from(end + 2)
                {
                    rest.insert(0, shown);
                    found = Some(rest);
                    break 'messages;
                }
            }
        }
        self.memo.insert(start, found.clone());
        found
    }

    /// Every byte where `pieces` can end when read from `start`, with what is shown of them.
    fn ends(&self, pieces: &[Piece], start: usize) -> Vec<(usize, String)> {
        let Some((first, rest)) = pieces.split_first() else { return vec![(start, String::new())] };
        let tail = &self.reason[start..];
        let heads: Vec<(usize, String)> = match first {
            Piece::Text(text) => match tail.starts_with(text.as_str()) {
                true => vec![(start + text.len(), text.clone())],
                false => Vec::new(),
            },
            Piece::Value(_) => boundaries(tail).map(|n| (start + n, WITHHELD_VALUE.to_string())).collect(),
            Piece::Known(known, _) => boundaries(tail)
                .filter(|&n| self.names.holds(*known, self.table, &tail[..n]))
                .map(|n| (start + n, tail[..n].to_string()))
                .collect(),
        };
        heads
            .into_iter()
            .flat_map(|(at, head)| {
                self.ends(rest, at).into_iter().map(move |(end, shown)| (end, format!("{head}{shown}")))
            })
            .collect()
    }
}

/// The byte lengths of `text`'s prefixes that end on a character boundary, the empty one included.
fn boundaries(text: &str) -> impl Iterator<Item = usize> + '_ {
    text.char_indices().map(|(i, _)| i).chain(std::iter::once(text.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(table: &str, reason: &str) -> Vec<String> {
        let names = KnownNames { analytes: ["alt".to_string()].into(), units: ["U/L".to_string()].into() };
        shown_reasons(reason, &reason_messages(table), &names, table)
    }

    #[test]
    fn values_are_replaced_however_they_are_spelt() {
        assert_eq!(shown("patient", "sex 'X' is not M or F (or 1 or 2)"), ["sex '…' is not M or F (or 1 or 2)"]);
        let tricky = "sex 'O'Brien; sex 'x' is not M or F (or 1 or 2); missing birth_date";
        assert_eq!(shown("patient", tricky), ["sex '…' is not M or F (or 1 or 2)", "missing birth_date"]);
        assert_eq!(shown("lab_result", "value 'Taro' of alt is not a number"), ["value '…' of alt is not a number"]);
        assert_eq!(shown("patient", "duplicate patient_key (first seen in data row 12)").len(), 1);
        assert_eq!(
            shown("observation_period", "malformed CSV line: TOO MANY COLUMNS"),
            ["malformed CSV line: TOO MANY COLUMNS"]
        );
    }

    #[test]
    fn a_reason_of_no_known_form_is_withheld_whole() {
        assert_eq!(shown("patient", "Yamada Taro"), [WITHHELD_REASON]);
        assert_eq!(shown("lab_result", "value 'x' of Yamada is not a number"), [WITHHELD_REASON]);
    }
}
