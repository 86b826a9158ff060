//! Reading a quarantine reason back as the load's own messages, with every value of the row
//! replaced by `…`: the one way a reason is shown (`site quarantine`, the top reasons of `site load`
//! and `site check`).
//!
//! A stored reason quotes the offending values (`sex 'X' is not M or F`), and a value may be
//! anything the hospital's file held in that column, quotes and "; " included (`O'Brien's`). So a
//! reason is never cut by a pattern: it is matched against the messages a load writes
//! ([`messages`]) and shown with only their text and the names the site holds; a reason that
//! matches none is withheld whole.

pub mod dpc;
pub mod hl7;
pub mod receipt;

use std::collections::{BTreeSet, HashMap};

use super::spec::spec_for;
use super::stage::{self, Known, Piece};
use crate::error::Result;

/// What replaces a value of the row in a reason.
pub const WITHHELD_VALUE: &str = "…";
/// What is shown of a reason that matches none of the messages this midnet writes.
pub const WITHHELD_REASON: &str = "(reason withheld: not in a form this midnet writes)";

/// The messages a row of `table` can be quarantined with (none for a table midnet does not load):
/// a load's, and those of the SS-MIX2 import, which names the message's field.
pub fn messages(table: &str) -> Vec<Vec<Piece>> {
    let Some(spec) = spec_for(table) else { return Vec::new() };
    let mut messages = stage::messages(spec);
    messages.extend(ssmix2_messages());
    messages.extend(receipt_messages());
    messages.extend(dpc_messages());
    messages
}

/// `<record or field>: <reason>` of each reason the claims import writes ([`receipt`]).
fn receipt_messages() -> Vec<Vec<Piece>> {
    placed_messages(&receipt::FIXED, &receipt::NUMBERED)
}

/// `<column>: <reason>` of each reason the DPC import writes ([`dpc`]): its places have the form of
/// a claims record's field (`EF-17`, `FF-10`).
fn dpc_messages() -> Vec<Vec<Piece>> {
    placed_messages(&dpc::FIXED, &dpc::NUMBERED)
}

/// `<place>: <reason>` of each reason given, its place read as a claims record or field.
fn placed_messages(fixed: &[&str], numbered: &[receipt::Numbered]) -> Vec<Vec<Piece>> {
    let place = || [Piece::Known(Known::ReceiptPlace, String::new()), Piece::Text(": ".to_string())];
    let fixed = fixed.iter().map(|text| place().into_iter().chain([Piece::Text(text.to_string())]).collect());
    let numbered = numbered.iter().map(|n| {
        let mut pieces: Vec<Piece> = place().into();
        for (i, text) in n.0.iter().enumerate() {
            if i > 0 {
                pieces.push(Piece::Known(Known::RowNumber, String::new()));
            }
            if !text.is_empty() {
                pieces.push(Piece::Text(text.to_string()));
            }
        }
        pieces
    });
    fixed.chain(numbered).collect()
}

/// `<field>: <reason>` of each reason the SS-MIX2 import writes ([`hl7`]).
fn ssmix2_messages() -> Vec<Vec<Piece>> {
    use hl7::{FIXED, PARAMETRISED, Part};
    let place = || [Piece::Known(Known::Hl7Place, String::new()), Piece::Text(": ".to_string())];
    let fixed = FIXED.iter().map(|text| place().into_iter().chain([Piece::Text(text.to_string())]).collect());
    let parametrised = PARAMETRISED.iter().map(|p| {
        let part = match p.part {
            Part::Number => Piece::Known(Known::RowNumber, String::new()),
            Part::Value => Piece::Value(String::new()),
        };
        place().into_iter().chain([Piece::Text(p.before.to_string()), part, Piece::Text(p.after.to_string())]).collect()
    });
    fixed.chain(parametrised).collect()
}

/// The columns of `table` a quarantine reason may name.
pub fn columns(table: &str) -> Vec<&'static str> {
    spec_for(table).map(|s| s.fields.iter().map(|f| f.name).collect()).unwrap_or_default()
}

/// Shows the reasons of one site's quarantine, reading each table's messages once.
pub struct ReasonReader {
    names: KnownNames,
    messages: HashMap<String, Vec<Vec<Piece>>>,
}

impl ReasonReader {
    pub fn new(conn: &duckdb::Connection) -> Result<ReasonReader> {
        Ok(ReasonReader { names: KnownNames::of(conn)?, messages: HashMap::new() })
    }

    /// The reasons of a row of `table` (messages joined by "; "), each with its values replaced.
    pub fn shown(&mut self, table: &str, reason: &str) -> Vec<String> {
        let messages = self.messages.entry(table.to_string()).or_insert_with(|| messages(table));
        shown_reasons(reason, messages, &self.names, table)
    }
}

/// Replace every value in the reasons stored in `quarantine` (the rows of one loaded file, or all)
/// by `…`, as they are shown: the quarantine keeps what a site's staff need to fix a row (file,
/// line, the field, what is wrong), never a value of it. Showing a reason stored so gives it back
/// unchanged. Each distinct reason is read once.
pub fn withhold_stored(conn: &duckdb::Connection, quarantine: &str, load_file_id: Option<i64>) -> Result<()> {
    const WITHHELD: &str = "midnet_withheld_reasons";
    let of_file = load_file_id.map_or(String::new(), |id| format!(" AND q.load_file_id = {id}"));
    let mut stmt =
        conn.prepare(&format!("SELECT DISTINCT table_name, reason FROM {quarantine} q WHERE true{of_file}"))?;
    let stored: Vec<(String, String)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<std::result::Result<_, _>>()?;
    let mut reader = ReasonReader::new(conn)?;
    conn.execute_batch(&format!(
        "CREATE OR REPLACE TEMP TABLE {WITHHELD} (table_name VARCHAR, reason VARCHAR, shown VARCHAR)"
    ))?;
    {
        let mut appender = conn.appender(WITHHELD)?;
        for (table, reason) in &stored {
            appender.append_row(duckdb::params![table, reason, reader.shown(table, reason).join("; ")])?;
        }
        appender.flush()?;
    }
    conn.execute(
        &format!(
            "UPDATE {quarantine} q SET reason = w.shown FROM {WITHHELD} w \
             WHERE q.table_name = w.table_name AND q.reason = w.reason AND w.shown <> w.reason{of_file}"
        ),
        [],
    )?;
    conn.execute_batch(&format!("DROP TABLE {WITHHELD}"))?;
    Ok(())
}

/// One kind of problem and how many set-aside rows have it first.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReasonCount {
    pub table: String,
    /// The row's first reason as shown (values replaced).
    pub reason: String,
    pub rows: u64,
}

/// How many set-aside rows (of the files from `first_load_file_id` on, or all) have each first
/// reason as shown, most frequent first: one kind of problem counts once however many different
/// values it hit.
pub fn counts(conn: &duckdb::Connection, first_load_file_id: Option<i64>) -> Result<Vec<ReasonCount>> {
    let mut stmt = conn.prepare(
        "SELECT table_name, reason, count(*) FROM quarantine WHERE load_file_id >= ? GROUP BY ALL ORDER BY ALL",
    )?;
    let stored = stmt.query_map([first_load_file_id.unwrap_or(0)], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)? as u64))
    })?;
    let mut reader = ReasonReader::new(conn)?;
    let mut by_kind: HashMap<(String, String), u64> = HashMap::new();
    for row in stored {
        let (table, reason, rows) = row?;
        let first = reader.shown(&table, &reason).into_iter().next().expect("a reason is shown, or withheld whole");
        *by_kind.entry((table, first)).or_default() += rows;
    }
    let mut counts: Vec<ReasonCount> =
        by_kind.into_iter().map(|((table, reason), rows)| ReasonCount { table, reason, rows }).collect();
    counts.sort_by(|a, b| b.rows.cmp(&a.rows).then_with(|| (&a.table, &a.reason).cmp(&(&b.table, &b.reason))));
    Ok(counts)
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
            Known::Column => columns(table).contains(&text),
            Known::Hl7Place => hl7::is_place(text),
            Known::ReceiptPlace => receipt::is_place(text),
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
        shown_reasons(reason, &messages(table), &names, table)
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
